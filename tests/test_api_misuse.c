/*
 * test_api_misuse.c - every bad input of the public API gets its
 * documented result (include/gcheap.h, README.md error table), and heap-
 * corrupting misuse of the internal free is fatal.
 * Subject: alloc/malloc.c (argument and thread checks), gc/proc.c
 * (lifecycle, attach/detach), alloc/error.c (the per-thread error slot),
 * alloc/mcentral.c (gchi_free's fatal checks).
 *
 * What it proves:
 *   - NULL type / NULL thread / size 0 / mask+trace -> NULL, GCH_EINVAL;
 *     n * size overflow -> GCH_EOVERFLOW; absurd sizes and an exhausted
 *     heap_limit -> GCH_ENOMEM with the heap unchanged and still usable;
 *   - a detached handle -> GCH_EDETACHED on every path; another OS
 *     thread's handle -> GCH_EWRONGTHREAD on refill, large, flush, detach,
 *     and on the fast paths too (cached spans with free slots), leaving the owner's cache untouched; a record
 *     reused by another thread's attach (LIFO) gives GCH_EWRONGTHREAD to
 *     any third thread holding the old value;
 *     attaching twice -> GCH_ESTATE; gch_heap_free with threads attached
 *     -> GCH_EBUSY; bad gch_config -> gch_heap_new NULL + GCH_EINVAL;
 *   - every failure leaves a non-empty message, the slot is per OS thread,
 *     and gch_clear_error / gch_strerror behave as documented;
 *   - fatal (abort with a message): gchi_free of a non-object address,
 *     double free, free of an object whose span is cached (by this thread
 *     or another).
 */
#include "testutil.h"
#include <pthread.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t pair_mask[1] = {0x3};
static const gch_type pair_type = {"pair", 16, pair_mask, NULL};
static const gch_type obj48_type = {"obj48", 48, pair_mask, NULL};

#define expect_code(call, e)                                            \
    do {                                                                \
        gch_clear_error();                                              \
        assert_int_equal((call), (e));                                  \
        assert_int_equal(gch_last_error(), (e));                        \
        assert_true(gch_last_error_message()[0] != '\0');               \
    } while (0)

static void trace_nothing(gch_visitor *v, void *obj, size_t size)
{
    (void)v;
    (void)obj;
    (void)size;
}

/* heap_works: the heap still allocates on every path. */
static void heap_works(gch_thread *t)
{
    gch_clear_error();
    char *a = gch_alloc_noscan(t, 5);
    void **b = gch_alloc(t, &pair_type);
    char *c = gch_alloc_noscan(t, 200000);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_null(b[0]);
    c[199999] = 1;
    assert_int_equal(gch_last_error(), GCH_OK);
}

/* ---- arguments ---------------------------------------------------------- */

static void test_null_and_zero_arguments(void **state)
{
    struct fixture *f = *state;
    const gch_type zero_noscan = {"zero", 0, NULL, NULL};
    const gch_type zero_scan = {"zero", 0, pair_mask, NULL};
    expect_error(gch_alloc(f->t, NULL), GCH_EINVAL);
    expect_error(gch_alloc(NULL, &pair_type), GCH_EINVAL);
    expect_error(gch_alloc(NULL, NULL), GCH_EINVAL);
    expect_error(gch_alloc(f->t, &zero_noscan), GCH_EINVAL);
    expect_error(gch_alloc(f->t, &zero_scan), GCH_EINVAL);
    expect_error(gch_alloc_noscan(f->t, 0), GCH_EINVAL);
    expect_error(gch_alloc_noscan(NULL, 8), GCH_EINVAL);
    expect_error(gch_alloc_array(NULL, &pair_type, 1), GCH_EINVAL);
    expect_error(gch_alloc_array(f->t, NULL, 1), GCH_EINVAL);
    expect_error(gch_alloc_array(f->t, &pair_type, 0), GCH_EINVAL);
    expect_error(gch_alloc_array(f->t, &zero_scan, 10), GCH_EINVAL);
    expect_error(gch_thread_attach(NULL), GCH_EINVAL);
    expect_code(gch_thread_detach(NULL), GCH_EINVAL);
    expect_code(gch_thread_flush(NULL), GCH_EINVAL);
    expect_code(gch_heap_free(NULL), GCH_EINVAL);
    /* queries on NULL answer "nothing" without failing */
    assert_null(gch_thread_heap(NULL));
    assert_ptr_equal(gch_thread_heap(f->t), f->h);
    assert_null(gch_object_base(NULL, f));
    assert_false(gch_is_heap_pointer(NULL, f));
    assert_int_equal(gch_usable_size(NULL, f), 0);
    gch_stats st;
    memset(&st, 0xff, sizeof st);
    gch_read_stats(NULL, &st);
    assert_int_equal(st.mallocs, 0);
    assert_int_equal(st.heap_sys, 0);
    heap_works(f->t);
}

static void test_mask_and_trace_is_einval(void **state)
{
    struct fixture *f = *state;
    const gch_type both = {"both", 32, pair_mask, trace_nothing};
    expect_error(gch_alloc(f->t, &both), GCH_EINVAL);
    assert_non_null(strstr(gch_last_error_message(), "both"));
    /* the array path applies the same layout rule per element */
    expect_error(gch_alloc_array(f->t, &both, 4), GCH_EINVAL);
    heap_works(f->t);
}

static void test_array_overflow(void **state)
{
    struct fixture *f = *state;
    expect_error(gch_alloc_array(f->t, &pair_type, SIZE_MAX / 2), GCH_EOVERFLOW);
    expect_error(gch_alloc_array(f->t, &pair_type, SIZE_MAX), GCH_EOVERFLOW);
    expect_error(gch_alloc_array(f->t, &pair_type, SIZE_MAX / 16 + 1), GCH_EOVERFLOW);
    const gch_type huge = {"huge", SIZE_MAX / 3, NULL, NULL};
    expect_error(gch_alloc_array(f->t, &huge, 4), GCH_EOVERFLOW);
    /* no overflow, but far too big: ENOMEM, not EOVERFLOW */
    expect_error(gch_alloc_array(f->t, &pair_type, SIZE_MAX / 16), GCH_ENOMEM);
    heap_works(f->t);
}

static void test_absurd_sizes_enomem_heap_unchanged(void **state)
{
    struct fixture *f = *state;
    heap_works(f->t);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gch_stats before, after;
    gch_read_stats(f->h, &before);
    const size_t sizes[] = {SIZE_MAX, SIZE_MAX - PAGE_SIZE, SIZE_MAX / 2, (size_t)1 << 50,
                            ((size_t)1 << 48) + 1, (size_t)1 << 48, (size_t)1 << 47};
    for (size_t i = 0; i < COUNT_OF(sizes); i++) {
        const gch_type big = {"big", sizes[i], pair_mask, NULL};
        expect_error(gch_alloc_noscan(f->t, sizes[i]), GCH_ENOMEM);
        expect_error(gch_alloc(f->t, &big), GCH_ENOMEM);
        expect_error(gch_alloc_array(f->t, &big, 1), GCH_ENOMEM);
    }
    gch_read_stats(f->h, &after);
    assert_int_equal(after.mallocs, before.mallocs);
    assert_int_equal(after.heap_alloc, before.heap_alloc);
    assert_int_equal(after.heap_inuse, before.heap_inuse);
    assert_int_equal(after.heap_sys, before.heap_sys);
    assert_int_equal(gchi_heap_verify(f->h), 0);
    heap_works(f->t);
}

/* heap_limit caps HeapSys: allocation past it fails with ENOMEM, nothing
 * changes, and freed memory can be allocated again. */
static void test_heap_limit_enomem(void **state)
{
    (void)state;
    const size_t limit = (size_t)16 << 20;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.heap_limit = limit;
    cfg.gc_percent = -1; /* the chunks live in C variables: no cycle at the limit */
    cfg.read_env = 0;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    expect_error(gch_alloc_noscan(t, limit + 1), GCH_ENOMEM);
    expect_error(gch_alloc_noscan(t, (size_t)32 << 20), GCH_ENOMEM);
    void *chunks[64];
    size_t n = 0;
    gch_stats st, st2;
    for (;;) {
        gch_read_stats(h, &st);
        void *p = gch_alloc_noscan(t, (size_t)1 << 20);
        if (p == NULL)
            break;
        assert_true(n < COUNT_OF(chunks));
        chunks[n++] = p;
    }
    assert_int_equal(gch_last_error(), GCH_ENOMEM);
    assert_true(n >= 8 && n <= 16);
    gch_read_stats(h, &st2);
    assert_int_equal(st2.heap_sys, st.heap_sys);
    assert_int_equal(st2.heap_alloc, st.heap_alloc);
    assert_int_equal(st2.mallocs, st.mallocs);
    assert_true(st2.heap_sys <= limit);
    /* small objects also hit the limit, one refill at a time */
    size_t small = 0;
    while (gch_alloc_noscan(t, 4096) != NULL)
        small++;
    assert_int_equal(gch_last_error(), GCH_ENOMEM);
    gch_read_stats(h, &st2);
    assert_true(st2.heap_sys <= limit);
    assert_int_equal(gchi_heap_verify(h), 0);
    /* free a chunk: room again */
    gchi_free(t, chunks[0]);
    gch_clear_error();
    assert_non_null(gch_alloc_noscan(t, (size_t)1 << 20));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

static void test_config_errors(void **state)
{
    (void)state;
    gch_config cfg;
    memset(&cfg, 0x5a, sizeof cfg);
    gch_config_init(&cfg);
    assert_null(cfg.env_prefix);
    assert_int_equal(cfg.heap_limit, 0);
    assert_int_equal(cfg.madv_free, 0);

    const size_t min = HEAP_GROW_PAGES * PAGE_SIZE;
    const size_t bad_limits[] = {1, 4096, (size_t)1 << 20, min - 1};
    for (size_t i = 0; i < COUNT_OF(bad_limits); i++) {
        cfg.heap_limit = bad_limits[i];
        expect_error(gch_heap_new(&cfg), GCH_EINVAL);
    }
    cfg.heap_limit = min; /* the minimum itself is fine */
    gch_clear_error();
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    heap_free_checked(h);

    gch_config_init(&cfg);
    char prefix[64];
    memset(prefix, 'P', sizeof prefix);
    prefix[32] = '\0'; /* 32 characters: one too many */
    cfg.env_prefix = prefix;
    expect_error(gch_heap_new(&cfg), GCH_EINVAL);
    prefix[63] = '\0';
    memset(prefix, 'Q', 63);
    expect_error(gch_heap_new(&cfg), GCH_EINVAL);
    prefix[31] = '\0'; /* 31: fits */
    h = gch_heap_new(&cfg);
    assert_non_null(h);
    heap_free_checked(h);
}

/* ---- the error slot --------------------------------------------------- */

static void test_error_slot(void **state)
{
    struct fixture *f = *state;
    gch_clear_error();
    assert_int_equal(gch_last_error(), GCH_OK);
    assert_non_null(gch_last_error_message());
    /* a failure sticks across later successes, like errno */
    assert_null(gch_alloc_noscan(f->t, 0));
    assert_non_null(gch_alloc_noscan(f->t, 32));
    assert_int_equal(gch_last_error(), GCH_EINVAL);
    gch_clear_error();
    assert_int_equal(gch_last_error(), GCH_OK);
    assert_non_null(gch_last_error_message());

    const gch_error codes[] = {GCH_OK,        GCH_EINVAL, GCH_EOVERFLOW, GCH_ENOMEM,
                               GCH_EDETACHED, GCH_EWRONGTHREAD, GCH_EBUSY, GCH_ESTATE};
    for (size_t i = 0; i < COUNT_OF(codes); i++) {
        const char *s = gch_strerror(codes[i]);
        assert_non_null(s);
        assert_true(s[0] != '\0');
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, gch_strerror(codes[j]));
    }
    assert_non_null(gch_strerror((gch_error)-100));
    assert_non_null(gch_strerror((gch_error)42));
    assert_string_equal(gch_strerror((gch_error)-100), gch_strerror((gch_error)42));
}

struct failer {
    gch_error seen_before, seen_after, seen_cleared;
    char msg[256];
};

static void *failer_main(void *arg)
{
    struct failer *x = arg;
    x->seen_before = gch_last_error(); /* a new thread starts clean */
    gch_alloc_array(NULL, NULL, 0);
    x->seen_after = gch_last_error();
    snprintf(x->msg, sizeof x->msg, "%s", gch_last_error_message());
    gch_clear_error();
    x->seen_cleared = gch_last_error();
    return NULL;
}

/* The error slot is per OS thread: another thread's failure and clear do
 * not touch this thread's slot. */
static void test_error_slot_is_per_thread(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.heap_limit = 1;
    expect_error(gch_heap_new(&cfg), GCH_EINVAL);
    char msg[256];
    snprintf(msg, sizeof msg, "%s", gch_last_error_message());
    assert_non_null(strstr(msg, "heap_limit"));
    struct failer x = {-100, -100, -100, ""};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, failer_main, &x), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(x.seen_before, GCH_OK);
    assert_int_equal(x.seen_after, GCH_EINVAL);
    assert_non_null(strstr(x.msg, "gch_alloc_array"));
    assert_int_equal(x.seen_cleared, GCH_OK);
    assert_int_equal(gch_last_error(), GCH_EINVAL); /* untouched here */
    assert_string_equal(gch_last_error_message(), msg);
}

/* ---- detached handles ---------------------------------------------------- */

static void test_detached_thread(void **state)
{
    struct fixture *f = *state;
    gch_thread *t = f->t;
    /* warm every path so the caches hold spans */
    heap_works(t);
    assert_non_null(gch_alloc(t, &obj48_type));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    f->t = NULL; /* teardown must not detach again */
    expect_error(gch_alloc_noscan(t, 3), GCH_EDETACHED);      /* 8-byte slot */
    expect_error(gch_alloc_noscan(t, 64), GCH_EDETACHED);     /* small noscan */
    expect_error(gch_alloc(t, &pair_type), GCH_EDETACHED);    /* small scan */
    expect_error(gch_alloc(t, &obj48_type), GCH_EDETACHED);
    expect_error(gch_alloc_noscan(t, 100000), GCH_EDETACHED); /* large */
    expect_error(gch_alloc_array(t, &pair_type, 3), GCH_EDETACHED);
    expect_code(gch_thread_flush(t), GCH_EDETACHED);
    expect_code(gch_thread_detach(t), GCH_EDETACHED);         /* twice */
    assert_int_equal(gchi_heap_verify(f->h), 0);
    /* the OS thread may attach again */
    gch_thread *again = gch_thread_attach(f->h);
    assert_non_null(again);
    heap_works(again);
    f->t = again;
}

/* ---- attach state --------------------------------------------------------- */

static void test_attach_twice_estate(void **state)
{
    struct fixture *f = *state;
    expect_error(gch_thread_attach(f->h), GCH_ESTATE);
    expect_error(gch_thread_attach(f->h), GCH_ESTATE);
    heap_works(f->t);
    /* one OS thread may be attached to several heaps */
    gch_heap *h2 = gch_heap_new(NULL);
    assert_non_null(h2);
    gch_thread *t2 = gch_thread_attach(h2);
    assert_non_null(t2);
    expect_error(gch_thread_attach(h2), GCH_ESTATE);
    heap_works(t2);
    assert_int_equal(gch_thread_detach(t2), GCH_OK);
    heap_free_checked(h2);
    heap_works(f->t);
}

static void test_heap_free_while_attached_ebusy(void **state)
{
    struct fixture *f = *state;
    heap_works(f->t);
    expect_code(gch_heap_free(f->h), GCH_EBUSY);
    expect_code(gch_heap_free(f->h), GCH_EBUSY);
    assert_int_equal(gchi_heap_verify(f->h), 0);
    heap_works(f->t);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gch_stats st;
    gch_read_stats(f->h, &st);
    assert_int_equal(st.mallocs, 6); /* two heap_works */
}

/* ---- another OS thread's handle ------------------------------------------ */

struct owner {
    gch_heap *h;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gch_thread *t;  /* [mu] published once attached */
    int go;         /* [mu] set by main when it is done with t */
    int prealloc;   /* allocate one object before parking */
    int pretiny;    /* and a 5-byte noscan object (its 8-byte span has room left) */
    void *obj;      /* that object; its span stays in t's cache */
    char *tiny;     /* that small noscan object */
    void *obj_after;  /* the owner's first allocation after main is done */
    char *tiny_after; /* its first 5-byte allocation after that (pretiny) */
    gch_error alloc_after, detach;
    gch_error use_after_detach; /* the owner's own gch_alloc on t after detaching */
};

static void *owner_main(void *arg)
{
    struct owner *o = arg;
    gch_thread *t = gch_thread_attach(o->h);
    void *obj = t != NULL && o->prealloc ? gch_alloc(t, &obj48_type) : NULL;
    char *tiny = t != NULL && o->pretiny ? gch_alloc_noscan(t, 5) : NULL;
    pthread_mutex_lock(&o->mu);
    o->obj = obj;
    o->tiny = tiny;
    o->t = t;
    pthread_cond_broadcast(&o->cv);
    while (!o->go)
        pthread_cond_wait(&o->cv, &o->mu);
    pthread_mutex_unlock(&o->mu);
    if (t != NULL) {
        gch_clear_error();
        void *p = gch_alloc(t, &obj48_type);
        o->obj_after = p;
        o->alloc_after = p != NULL ? gch_last_error() : GCH_ENOMEM;
        if (o->pretiny)
            o->tiny_after = gch_alloc_noscan(t, 5);
        o->detach = gch_thread_detach(t);
        gch_clear_error();
        o->use_after_detach = gch_alloc(t, &obj48_type) == NULL ? gch_last_error() : GCH_OK;
    }
    return NULL;
}

enum { PRE_OBJ = 1, PRE_TINY = 2 }; /* owner_start's prealloc flags */

static void owner_start(struct owner *o, gch_heap *h, int prealloc, pthread_t *th)
{
    memset(o, 0, sizeof *o);
    o->h = h;
    o->prealloc = (prealloc & PRE_OBJ) != 0;
    o->pretiny = (prealloc & PRE_TINY) != 0;
    o->alloc_after = o->detach = o->use_after_detach = -100;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    assert_int_equal(pthread_create(th, NULL, owner_main, o), 0);
    pthread_mutex_lock(&o->mu);
    while (o->t == NULL)
        pthread_cond_wait(&o->cv, &o->mu);
    pthread_mutex_unlock(&o->mu);
}

static void owner_finish(struct owner *o, pthread_t th)
{
    pthread_mutex_lock(&o->mu);
    o->go = 1;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
}

static void test_wrong_thread(void **state)
{
    struct fixture *f = *state;
    struct owner o;
    pthread_t th;
    owner_start(&o, f->h, 0, &th);
    gch_thread *other = o.t;
    /* its caches are empty: every small request needs a refill */
    expect_error(gch_alloc(other, &obj48_type), GCH_EWRONGTHREAD);
    expect_error(gch_alloc(other, &pair_type), GCH_EWRONGTHREAD);
    expect_error(gch_alloc_noscan(other, 7), GCH_EWRONGTHREAD);       /* 8-byte slot */
    expect_error(gch_alloc_noscan(other, 1000), GCH_EWRONGTHREAD);
    expect_error(gch_alloc_noscan(other, 100000), GCH_EWRONGTHREAD);  /* large */
    expect_error(gch_alloc_noscan(other, (size_t)100 << 20), GCH_EWRONGTHREAD);
    expect_error(gch_alloc_array(other, &pair_type, 5000), GCH_EWRONGTHREAD);
    expect_code(gch_thread_flush(other), GCH_EWRONGTHREAD);
    expect_code(gch_thread_detach(other), GCH_EWRONGTHREAD); /* stays attached */
    expect_code(gch_heap_free(f->h), GCH_EBUSY);
    heap_works(f->t); /* this thread's own handle is unaffected */
    owner_finish(&o, th);
    assert_int_equal(o.alloc_after, GCH_OK); /* the owner can still use it */
    assert_int_equal(o.detach, GCH_OK);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gch_stats st;
    gch_read_stats(f->h, &st);
    assert_int_equal(st.mallocs, 4); /* heap_works' three + the owner's one */
}

/* What the allocation fast path of a cache looks at: the span of one of
 * the owner's objects (still cached). */
struct span_snapshot {
    struct mspan *span;
    uint64_t alloc_cache;
    uint32_t freeindex, alloc_count;
};

/* The owner's object's span and, when obj2 is not NULL, a second one's
 * (the 5-byte object's 8-byte class). */
struct cache_snapshot {
    struct span_snapshot a, b;
};

static void snapshot_span(gch_heap *h, gch_thread *t, const void *obj, struct span_snapshot *ss)
{
    struct mcache *c = gchi_thread_cache(t);
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)obj);
    assert_non_null(s);
    assert_ptr_equal(c->alloc[s->spanclass], s); /* cached: the fast path would serve it */
    ss->span = s;
    ss->alloc_cache = s->alloc_cache;
    ss->freeindex = s->freeindex;
    ss->alloc_count = s->alloc_count;
}

static void snapshot_cache(gch_heap *h, gch_thread *t, const void *obj, const void *obj2,
                           struct cache_snapshot *cs)
{
    memset(cs, 0, sizeof *cs); /* padding too: compared with memcmp */
    snapshot_span(h, t, obj, &cs->a);
    if (obj2 != NULL)
        snapshot_span(h, t, obj2, &cs->b);
}

struct stale_use {
    gch_thread *t;
    void *small, *tiny, *large;
    gch_error e_small, e_tiny, e_large;
};

/* stale_main: an OS thread that never attached uses a handle value. */
static void *stale_main(void *arg)
{
    struct stale_use *u = arg;
    gch_clear_error();
    u->small = gch_alloc(u->t, &obj48_type);
    u->e_small = gch_last_error();
    gch_clear_error();
    u->tiny = gch_alloc_noscan(u->t, 5);
    u->e_tiny = gch_last_error();
    gch_clear_error();
    u->large = gch_alloc_noscan(u->t, 100 * 1024);
    u->e_large = gch_last_error();
    return NULL;
}

/* The owner Y parks with a warm cache: its 48-byte and 8-byte noscan
 * spans have free slots, so none of the requests below needs a
 * refill.  The owner check must still come first on every path
 * (malloc_gc compares mcache.owner_tag with the caller's tag) and refuse
 * without touching Y's cache.  Then Y detaches, Z attaches from another
 * OS thread and gets the same record back (the detached list is LIFO):
 * the old handle value now names Z's live record, so a third thread using
 * it gets GCH_EWRONGTHREAD, while Y using it after its detach got
 * GCH_EDETACHED. */
static void test_wrong_thread_warm_cache_and_reused_record(void **state)
{
    struct fixture *f = *state;
    struct owner y;
    pthread_t th;
    owner_start(&y, f->h, PRE_OBJ | PRE_TINY, &th);
    gch_thread *ty = y.t;
    assert_non_null(y.obj);
    assert_non_null(y.tiny);
    struct cache_snapshot before, after;
    snapshot_cache(f->h, ty, y.obj, y.tiny, &before);
    assert_int_not_equal(before.a.alloc_cache, 0); /* a free slot right in the window */
    assert_int_not_equal(before.b.alloc_cache, 0);

    expect_error(gch_alloc(ty, &obj48_type), GCH_EWRONGTHREAD);         /* small, cached */
    expect_error(gch_alloc_array(ty, &pair_type, 3), GCH_EWRONGTHREAD); /* 48 B: same span */
    expect_error(gch_alloc_noscan(ty, 5), GCH_EWRONGTHREAD);            /* 8-byte span, cached */
    expect_error(gch_alloc_noscan(ty, 100 * 1024), GCH_EWRONGTHREAD);   /* large */
    snapshot_cache(f->h, ty, y.obj, y.tiny, &after);
    assert_memory_equal(&before, &after, sizeof before);
    heap_works(f->t);

    owner_finish(&y, th);
    assert_int_equal(y.alloc_after, GCH_OK);
    assert_ptr_equal(y.obj_after, (char *)y.obj + 48); /* the slot right after */
    assert_ptr_equal(y.tiny_after, y.tiny + 8);        /* the next 8-byte slot */
    assert_int_equal(y.detach, GCH_OK);
    assert_int_equal(y.use_after_detach, GCH_EDETACHED);
    expect_error(gch_alloc(ty, &obj48_type), GCH_EDETACHED);

    struct owner z;
    owner_start(&z, f->h, PRE_OBJ, &th);
    assert_ptr_equal(z.t, ty); /* Y's record, reused */
    assert_non_null(z.obj);
    snapshot_cache(f->h, z.t, z.obj, NULL, &before);
    expect_error(gch_alloc(ty, &obj48_type), GCH_EWRONGTHREAD); /* from this thread */
    struct stale_use u = {.t = ty};
    pthread_t th2;
    assert_int_equal(pthread_create(&th2, NULL, stale_main, &u), 0);
    assert_int_equal(pthread_join(th2, NULL), 0);
    assert_null(u.small);
    assert_null(u.tiny);
    assert_null(u.large);
    assert_int_equal(u.e_small, GCH_EWRONGTHREAD);
    assert_int_equal(u.e_tiny, GCH_EWRONGTHREAD);
    assert_int_equal(u.e_large, GCH_EWRONGTHREAD);
    snapshot_cache(f->h, z.t, z.obj, NULL, &after);
    assert_memory_equal(&before, &after, sizeof before);
    owner_finish(&z, th);
    assert_int_equal(z.alloc_after, GCH_OK);
    assert_ptr_equal(z.obj_after, (char *)z.obj + 48);
    assert_int_equal(z.detach, GCH_OK);
    assert_int_equal(z.use_after_detach, GCH_EDETACHED);

    /* The refused calls counted nothing: heap_works' three; Y's two
     * objects and two 5-byte ones; Z's two. */
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gch_stats st;
    gch_read_stats(f->h, &st);
    assert_int_equal(st.mallocs, 3 + 4 + 2);
    assert_int_equal(st.tiny_allocs, 0);
}

/* The owner detached: its handle is stale for everyone. */
static void test_heap_free_busy_with_other_thread(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(gch_thread_detach(f->t), GCH_OK);
    f->t = NULL;
    struct owner o;
    pthread_t th;
    owner_start(&o, f->h, 0, &th);
    expect_code(gch_heap_free(f->h), GCH_EBUSY);
    owner_finish(&o, th);
    assert_int_equal(o.detach, GCH_OK);
    expect_error(gch_alloc(o.t, &obj48_type), GCH_EDETACHED);
}

/* ---- fatal misuse of the internal free ---------------------------------- */

static void free_interior(void *arg)
{
    struct fixture *f = arg;
    char *p = gch_alloc_noscan(f->t, 64);
    gch_thread_flush(f->t);
    gchi_free(f->t, p + 8);
}

static void free_stack(void *arg)
{
    struct fixture *f = arg;
    int local = 0;
    gchi_free(f->t, &local);
}

static void free_null(void *arg)
{
    struct fixture *f = arg;
    gchi_free(f->t, NULL);
}

static void free_small_inner(void *arg)
{
    struct fixture *f = arg;
    char *p = gch_alloc_noscan(f->t, 12);
    gch_thread_flush(f->t);
    gchi_free(f->t, p + 4);
}

static void free_large_interior(void *arg)
{
    struct fixture *f = arg;
    char *p = gch_alloc_noscan(f->t, 100000);
    gchi_free(f->t, p + PAGE_SIZE);
}

static void free_from_freed_span(void *arg)
{
    struct fixture *f = arg;
    char *p = gch_alloc_noscan(f->t, 100000);
    gchi_free(f->t, p);
    gchi_free(f->t, p); /* its span is gone: not an object any more */
}

static void double_free(void *arg)
{
    struct fixture *f = arg;
    void *a = gch_alloc_noscan(f->t, 64);
    void *b = gch_alloc_noscan(f->t, 64); /* keeps the span alive */
    (void)b;
    gch_thread_flush(f->t);
    gchi_free(f->t, a);
    gchi_free(f->t, a);
}

static void free_cached(void *arg)
{
    struct fixture *f = arg;
    void *a = gch_alloc_noscan(f->t, 64);
    gchi_free(f->t, a); /* no flush: the span is in this thread's cache */
}

static void free_cached_large_neighbour_ok_then_cached(void *arg)
{
    /* a large object may be freed without a flush; a small one may not */
    struct fixture *f = arg;
    void *big = gch_alloc_noscan(f->t, 100000);
    void *small = gch_alloc(f->t, &obj48_type);
    gchi_free(f->t, big);
    gchi_free(f->t, small);
}

static void test_fatal_not_an_object(void **state)
{
    struct fixture *f = *state;
    expect_fatal(free_interior, f, "not the start of a heap object");
    expect_fatal(free_stack, f, "not the start of a heap object");
    expect_fatal(free_null, f, "not the start of a heap object");
    expect_fatal(free_small_inner, f, "not the start of a heap object");
    expect_fatal(free_large_interior, f, "not the start of a heap object");
    expect_fatal(free_from_freed_span, f, "not the start of a heap object");
}

static void test_fatal_double_free(void **state)
{
    struct fixture *f = *state;
    expect_fatal(double_free, f, "double free");
}

static void test_fatal_free_cached(void **state)
{
    struct fixture *f = *state;
    expect_fatal(free_cached, f, "cached");
    expect_fatal(free_cached_large_neighbour_ok_then_cached, f, "cached");
}

/* The span is in another thread's cache: that thread is parked while
 * this one (in the forked child) frees its object. */
struct cacher {
    struct fixture *f;
    void *obj;
};

static void free_other_threads_object(void *arg)
{
    struct cacher *k = arg;
    gch_thread_flush(k->f->t); /* this thread's own cache is not the issue */
    gchi_free(k->f->t, k->obj);
}

static void test_fatal_free_cached_by_other_thread(void **state)
{
    struct fixture *f = *state;
    struct owner o;
    pthread_t th;
    owner_start(&o, f->h, 1, &th);
    assert_non_null(o.obj);
    struct cacher k = {f, o.obj};
    expect_fatal(free_other_threads_object, &k, "cached");
    owner_finish(&o, th);
    assert_int_equal(o.detach, GCH_OK);
    /* once the owner released its cache, the same free is legal */
    gch_stats before, after;
    gch_read_stats(f->h, &before);
    gchi_free(f->t, o.obj);
    gch_read_stats(f->h, &after);
    assert_int_equal(after.frees, before.frees + 1);
    assert_int_equal(after.heap_alloc, before.heap_alloc - 48);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_null_and_zero_arguments, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_mask_and_trace_is_einval, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_array_overflow, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_absurd_sizes_enomem_heap_unchanged, heap_setup,
                                        heap_teardown),
        cmocka_unit_test(test_heap_limit_enomem),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test_setup_teardown(test_error_slot, heap_setup, heap_teardown),
        cmocka_unit_test(test_error_slot_is_per_thread),
        cmocka_unit_test_setup_teardown(test_detached_thread, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_attach_twice_estate, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_heap_free_while_attached_ebusy, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_thread, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_thread_warm_cache_and_reused_record, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_heap_free_busy_with_other_thread, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_fatal_not_an_object, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_fatal_double_free, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_fatal_free_cached, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_fatal_free_cached_by_other_thread, heap_setup,
                                        heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
