/*
 * test_finalizer.c - finalizers and cleanups.  Subject: gc/mfinal.c
 * (FQ1-FQ2 in gc/mfinal.h), the sweep's revival (alloc/mspecial.h SP5)
 * and the contract of gch_set_finalizer / gch_add_cleanup /
 * gch_run_finalizers in gcheap.h.  Go counterpart: runtime/mfinal.go,
 * mcleanup.go (and their tests).
 *
 * What it proves:
 *   1. once only: an unreachable finalizable object is kept, intact with
 *      what it references, until its finalizer has run (once, with obj
 *      and arg); it is freed by the first cycle after that;
 *   2. ordering: A -> B, both finalizable: A's finalizer runs at the
 *      first cycle, B's only at a later one (B is kept for A's); a
 *      self-referencing finalizable object and a two-object cycle are
 *      never finalized (the documented rule);
 *   3. resurrection: a finalizer storing obj in a root keeps it alive and
 *      intact for good, and runs once; a finalizer set again runs again;
 *   4. a finalizer that allocates and collects, on the heap's finalizer
 *      thread (not manual), with other objects' finalizers queued;
 *   5. fn NULL removes a finalizer; setting twice replaces it;
 *   6. cleanups: several per object, run after the object was freed in
 *      the same cycle (not kept), with arg kept alive until then; with a
 *      finalizer too, the cleanup runs only once the object is freed;
 *   7. misuse: a pointer that is not an object's start, arg == obj, and
 *      (GCH_DEBUG >= 2) an arg that reaches obj give GCH_EINVAL, but a
 *      path through a free slot's old contents does not;
 *   8. a finalizer set during a mark keeps its arg alive (FQ2);
 *   9. a finalizer on an ephemeron whose key and value died with it
 *      reads NULL for both, during its run and after a resurrection;
 *  10. gchi_free of a finalizable object drops the finalizer (not queued);
 *  11. a finalizable object's trace callback runs with no specials stripe
 *      lock held.
 *
 * How: heaps with GOGC off and the environment ignored; cycles by
 * gch_collect from the attached test thread, whose handle frame holds
 * what must stay reachable.  Finalizers run by gch_run_finalizers
 * (manual_finalizers) except in test 4.
 */
#define SPX_MAGIC 0x5eed5eedULL
#include "specials_fixture.h"
#include "mgc.h"
#include "mweak.h"
#include "stw.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>


struct calls {
    int n;
    void *obj[16];
    void *arg[16];
    bool intact[16];    /* obj (and its next, if any) still held their magic */
    void **resurrect;   /* test 3: where to store obj */
    gch_thread *t;      /* test 4: the finalizer thread's handle, seen from fn */
};


static gch_heap *heap_new(bool manual)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.read_env = 0;
    cfg.manual_finalizers = manual;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

static int setup_manual(void **state)
{
    *state = spx_attach(calloc(1, sizeof(struct fx)), heap_new(true));
    return 0;
}

static int setup_thread(void **state)
{
    *state = spx_attach(calloc(1, sizeof(struct fx)), heap_new(false));
    return 0;
}




static void record(void *obj, void *arg)
{
    struct calls *c = arg;
    struct node *n = obj;
    c->obj[c->n] = obj;
    c->arg[c->n] = arg;
    c->intact[c->n] = n->magic == SPX_MAGIC && (n->next == NULL || n->next->magic == SPX_MAGIC);
    if (c->resurrect != NULL)
        *c->resurrect = obj;
    c->n++;
}

static uint64_t nqueued(gch_heap *h) { return atomic_u64_load_relaxed(&h->fin.nqueued); }

static void test_once_only(void **state)
{
    struct fx *f = *state;
    struct calls c = {0};
    struct node *child = spx_new_node(f->t, NULL);
    struct node *obj = spx_new_node(f->t, child);
    assert_int_equal(gch_set_finalizer(f->t, obj, record, &c), GCH_OK);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_int_equal(nqueued(f->h), 1);
    assert_true(spx_allocated(f->h, obj));   /* revived (SP5) */
    assert_true(spx_allocated(f->h, child)); /* kept by obj's record */
    assert_int_equal(gch_collect(f->h), GCH_OK); /* still queued: a root (FQ1) */
    assert_true(spx_allocated(f->h, obj));
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_int_equal(c.n, 1);
    assert_ptr_equal(c.obj[0], obj);
    assert_ptr_equal(c.arg[0], &c);
    assert_true(c.intact[0]);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_false(spx_allocated(f->h, obj));
    assert_int_equal(gch_run_finalizers(f->t, -1), 0);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_int_equal(gch_run_finalizers(f->t, -1), 0);
    assert_int_equal(c.n, 1);
}

static void test_ordering_and_cycles(void **state)
{
    struct fx *f = *state;
    struct calls ca = {0}, cb = {0}, cself = {0}, cyc = {0};
    struct node *b = spx_new_node(f->t, NULL);
    struct node *a = spx_new_node(f->t, b);
    assert_int_equal(gch_set_finalizer(f->t, a, record, &ca), GCH_OK);
    assert_int_equal(gch_set_finalizer(f->t, b, record, &cb), GCH_OK);
    struct node *self = spx_new_node(f->t, NULL);
    self->next = self;
    assert_int_equal(gch_set_finalizer(f->t, self, record, &cself), GCH_OK);
    struct node *x = spx_new_node(f->t, NULL), *y = spx_new_node(f->t, x);
    x->next = y;
    assert_int_equal(gch_set_finalizer(f->t, x, record, &cyc), GCH_OK);
    assert_int_equal(gch_set_finalizer(f->t, y, record, &cyc), GCH_OK);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    gch_run_finalizers(f->t, -1);
    assert_int_equal(ca.n, 1);
    assert_true(ca.intact[0]);
    assert_int_equal(cb.n, 0); /* kept for a's finalizer */
    assert_int_equal(gch_collect(f->h), GCH_OK);
    gch_run_finalizers(f->t, -1);
    assert_int_equal(cb.n, 1);
    assert_true(cb.intact[0]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gch_collect(f->h), GCH_OK);
        gch_run_finalizers(f->t, -1);
    }
    assert_false(spx_allocated(f->h, a));
    assert_false(spx_allocated(f->h, b));
    assert_int_equal(cself.n, 0); /* leaked, as gcheap.h says */
    assert_int_equal(cyc.n, 0);
    assert_true(spx_allocated(f->h, self) && spx_allocated(f->h, x) && spx_allocated(f->h, y));
}

static void test_resurrection(void **state)
{
    struct fx *f = *state;
    struct calls c = {0};
    c.resurrect = &f->slots[0]; /* a root: a plain store is fine outside a mark */
    struct node *obj = spx_new_node(f->t, spx_new_node(f->t, NULL));
    assert_int_equal(gch_set_finalizer(f->t, obj, record, &c), GCH_OK);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_ptr_equal(f->slots[0], obj);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gch_collect(f->h), GCH_OK);
        assert_int_equal(gch_run_finalizers(f->t, -1), 0);
    }
    assert_true(spx_allocated(f->h, obj) && spx_allocated(f->h, obj->next));
    assert_int_equal(obj->magic, SPX_MAGIC);
    assert_int_equal(obj->next->magic, SPX_MAGIC);
    /* Set again and drop: it runs a second time. */
    c.resurrect = NULL;
    assert_int_equal(gch_set_finalizer(f->t, obj, record, &c), GCH_OK);
    f->slots[0] = NULL;
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_int_equal(c.n, 2);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_false(spx_allocated(f->h, obj));
}

/* alloc_fin: allocates a list on the finalizer thread and collects. */
struct allocating {
    int ran;
    int ok;
    gch_heap *h;
};

static void alloc_fin(void *obj, void *arg)
{
    struct allocating *a = arg;
    gch_thread *t = gchi_heap_self(a->h);
    struct node *list = NULL;
    GCH_LOCALS(t, keep, 1);
    for (int i = 0; i < 1000; i++)
        keep[0] = list = spx_new_node(t, list);
    bool ok = ((struct node *)obj)->magic == SPX_MAGIC;
    if (a->ran == 0)
        ok = ok && gch_collect(a->h) == GCH_OK;
    int n = 0;
    for (struct node *p = list; p != NULL; p = p->next)
        n += p->magic == SPX_MAGIC;
    GCH_LOCALS_END(t, keep);
    __atomic_store_n(&a->ok, a->ok + (ok && n == 1000), __ATOMIC_RELEASE);
    __atomic_store_n(&a->ran, a->ran + 1, __ATOMIC_RELEASE);
}

static void test_allocating_finalizer_thread(void **state)
{
    struct fx *f = *state;
    struct allocating a = {0, 0, f->h};
    for (int i = 0; i < 8; i++)
        assert_int_equal(gch_set_finalizer(f->t, spx_new_node(f->t, NULL), alloc_fin, &a), GCH_OK);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    for (int i = 0; i < 20000 && __atomic_load_n(&a.ran, __ATOMIC_ACQUIRE) < 8; i++) {
        struct timespec ts = {0, 1000000};
        gch_blocking_enter(f->t);
        nanosleep(&ts, NULL);
        gch_blocking_leave(f->t);
    }
    assert_int_equal(__atomic_load_n(&a.ran, __ATOMIC_ACQUIRE), 8);
    assert_int_equal(__atomic_load_n(&a.ok, __ATOMIC_ACQUIRE), 8);
    assert_int_equal(gch_run_finalizers(f->t, -1), 0); /* the thread took them all */
}

static void test_remove_and_replace(void **state)
{
    struct fx *f = *state;
    struct calls c1 = {0}, c2 = {0};
    struct node *a = spx_new_node(f->t, NULL), *b = spx_new_node(f->t, NULL);
    assert_int_equal(gch_set_finalizer(f->t, a, record, &c1), GCH_OK);
    assert_int_equal(gch_set_finalizer(f->t, a, NULL, NULL), GCH_OK);
    assert_int_equal(gch_set_finalizer(f->t, b, record, &c1), GCH_OK);
    assert_int_equal(gch_set_finalizer(f->t, b, record, &c2), GCH_OK);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_false(spx_allocated(f->h, a)); /* no finalizer: freed at once */
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_int_equal(c1.n, 0);
    assert_int_equal(c2.n, 1);
}

/* cleanup_fn: counts, checks its arg (a node) is intact. */
struct cleanups {
    int n;
    int intact;
    gch_heap *h;
    void *obj;
    bool obj_was_freed;
};

static struct cleanups *g_cl; /* the test's record, for cleanup_fn (arg is a heap node) */

static void cleanup_fn(void *arg)
{
    struct node *n = arg;
    g_cl->n++;
    g_cl->intact += n->magic == SPX_MAGIC;
    g_cl->obj_was_freed = !spx_allocated(g_cl->h, g_cl->obj);
}

static void test_cleanups(void **state)
{
    struct fx *f = *state;
    struct cleanups cl = {0};
    cl.h = f->h;
    g_cl = &cl;
    struct node *obj = spx_new_node(f->t, NULL);
    cl.obj = obj;
    struct node *arg1 = spx_new_node(f->t, NULL), *arg2 = spx_new_node(f->t, NULL);
    assert_int_equal(gch_add_cleanup(f->t, obj, cleanup_fn, arg1), GCH_OK);
    assert_int_equal(gch_add_cleanup(f->t, obj, cleanup_fn, arg2), GCH_OK);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_false(spx_allocated(f->h, obj)); /* not kept by its cleanups */
    assert_true(spx_allocated(f->h, arg1) && spx_allocated(f->h, arg2));
    assert_int_equal(gch_collect(f->h), GCH_OK); /* queued args are roots */
    assert_int_equal(gch_run_finalizers(f->t, -1), 2);
    assert_int_equal(cl.n, 2);
    assert_int_equal(cl.intact, 2);
    assert_true(cl.obj_was_freed);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_false(spx_allocated(f->h, arg1));
    /* With a finalizer: the cleanup waits until the object is freed. */
    struct calls c = {0};
    cl.n = 0;
    obj = spx_new_node(f->t, NULL);
    cl.obj = obj;
    assert_int_equal(gch_add_cleanup(f->t, obj, cleanup_fn, spx_new_node(f->t, NULL)), GCH_OK);
    assert_int_equal(gch_set_finalizer(f->t, obj, record, &c), GCH_OK);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_int_equal(c.n, 1);
    assert_int_equal(cl.n, 0);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_int_equal(cl.n, 1);
    assert_true(cl.obj_was_freed);
}

static void nop_cleanup(void *arg) { (void)arg; }
static void nop_fin(void *obj, void *arg) { (void)obj, (void)arg; }

static void test_misuse(void **state)
{
    struct fx *f = *state;
    struct node *obj = spx_new_node(f->t, NULL);
    int stack_var = 0;
    assert_int_equal(gch_set_finalizer(f->t, &obj->magic, nop_fin, NULL), GCH_EINVAL);
    assert_int_equal(gch_set_finalizer(f->t, &stack_var, nop_fin, NULL), GCH_EINVAL);
    assert_int_equal(gch_add_cleanup(f->t, obj, nop_cleanup, obj), GCH_EINVAL);
    assert_int_equal(gch_add_cleanup(f->t, obj, NULL, NULL), GCH_EINVAL);
    struct node *c = spx_new_node(f->t, spx_new_node(f->t, obj)); /* c -> x -> obj */
#if GCH_DEBUG >= 2
    assert_int_equal(gch_add_cleanup(f->t, obj, nop_cleanup, c), GCH_EINVAL);
#endif
    (void)c;
    assert_int_equal(gch_add_cleanup(f->t, obj, nop_cleanup, &stack_var), GCH_OK); /* not heap */
    assert_null(gch_weak_new(f->t, &obj->magic));
    assert_int_equal(gch_last_error(), GCH_EINVAL);
    assert_int_equal(gch_run_finalizers(NULL, -1), GCH_EINVAL);
    assert_int_equal(gch_set_finalizer(NULL, obj, nop_fin, NULL), GCH_EINVAL);
    expect_error(gch_weak_get(f->t, NULL), GCH_EINVAL);
    expect_error(gch_ephemeron_value(f->t, NULL), GCH_EINVAL);
    expect_error(gch_ephemeron_new(f->t, NULL, obj), GCH_EINVAL);
}

static void test_set_during_mark(void **state)
{
    struct fx *f = *state;
    struct calls c = {0};
    struct node *obj = spx_new_node(f->t, NULL);
    f->slots[0] = obj;
    GCH_LOCALS(f->t, keep, 1);
    keep[0] = spx_new_node(f->t, NULL); /* white at mark start, held only here */
    struct node *argnode = keep[0];
    gchi_test_hold_mark(f->h, true); /* no worker marks anything meanwhile */
    assert_true(gchi_test_gc_start(f->h));
    assert_int_equal(atomic_u32_load_relaxed(&f->h->gc.phase), GCPHASE_MARK);
    assert_false(gc_is_marked(f->h, (uintptr_t)argnode));
    /* Our root scan is owed (next safepoint) and nobody scanned the
     * specials: only FQ2 marks the arg now. */
    assert_int_equal(gch_set_finalizer(f->t, obj, record, argnode), GCH_OK);
    assert_true(gc_is_marked(f->h, (uintptr_t)argnode));
    keep[0] = NULL;
    GCH_LOCALS_END(f->t, keep);
    gch_safepoint(f->t);
    gchi_test_hold_mark(f->h, false);
    gchi_test_gc_wait(f->h);
    assert_int_equal(gch_collect(f->h), GCH_OK); /* the record keeps argnode */
    assert_true(spx_allocated(f->h, argnode));
    assert_int_equal(argnode->magic, SPX_MAGIC);
    (void)c;
}

/* eph_fin: a finalizer on an ephemeron reads both fields (finding 1). */
struct eph_seen {
    gch_thread *t;
    int n;
    void *key, *value;
    void **resurrect;
};

static void eph_fin(void *obj, void *arg)
{
    struct eph_seen *c = arg;
    c->key = gch_ephemeron_key(c->t, obj);
    c->value = gch_ephemeron_value(c->t, obj);
    if (c->resurrect != NULL)
        *c->resurrect = obj;
    c->n++;
}

/* An unreachable ephemeron with a finalizer, its key and value unrooted:
 * the sweep revives the ephemeron but frees key and value, so its
 * finalizer must read NULL for both, and so must anyone after a
 * resurrection (EP2: cleared at the mark termination that drops it). */
static void test_ephemeron_finalizer(void **state)
{
    struct fx *f = *state;
    struct eph_seen c = {.t = f->t, .resurrect = &f->slots[0]};
    GCH_LOCALS(f->t, keep, 2);
    keep[0] = spx_new_node(f->t, NULL);
    keep[1] = spx_new_node(f->t, NULL);
    gch_ephemeron *e = gch_ephemeron_new(f->t, keep[0], keep[1]);
    assert_non_null(e);
    void *k = keep[0], *v = keep[1];
    keep[0] = keep[1] = NULL;
    GCH_LOCALS_END(f->t, keep);
    assert_int_equal(gch_set_finalizer(f->t, e, eph_fin, &c), GCH_OK);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_false(spx_allocated(f->h, k));
    assert_false(spx_allocated(f->h, v));
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_int_equal(c.n, 1);
    assert_null(c.key);
    assert_null(c.value);
    assert_ptr_equal(f->slots[0], e); /* resurrected */
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_true(spx_allocated(f->h, e));
    assert_null(gch_ephemeron_key(f->t, e));
    assert_null(gch_ephemeron_value(f->t, e));
    f->slots[0] = NULL;
}

/* gchi_free (tests only) of a finalizable object drops its finalizer
 * (gcheap.h): nothing is queued, so no later mark shades the freed slot;
 * a cleanup of the same object still runs. */
static void count_cleanup(void *arg) { (*(int *)arg)++; }

static void test_free_drops_finalizer(void **state)
{
    struct fx *f = *state;
    struct calls c = {0};
    int cleaned = 0;
    struct node *obj = spx_new_node(f->t, NULL);
    assert_int_equal(gch_set_finalizer(f->t, obj, record, &c), GCH_OK);
    assert_int_equal(gch_add_cleanup(f->t, obj, count_cleanup, &cleaned), GCH_OK);
    uint64_t q = nqueued(f->h);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK); /* gchi_free needs an uncached span */
    gchi_free(f->t, obj);
    assert_int_equal(nqueued(f->h), q + 1); /* the cleanup only */
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_int_equal(c.n, 0);
    assert_int_equal(cleaned, 1);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_int_equal(gch_run_finalizers(f->t, -1), 0);
    assert_int_equal(c.n, 0);
}

/* The embedder's trace callback of a finalizable object runs with no
 * specials stripe lock held (finding 4): it may take a lock whose holder
 * waits for that stripe.  Only this heap's one span has records, and no
 * sweep overlaps the mark, so a busy stripe means the scanner holds it. */
struct traced {
    struct traced *next;
};
static struct lock *g_stripe;    /* the finalizable object's stripe */
static int g_traced, g_stripe_busy;

static void traced_trace(gch_visitor *v, void *obj, size_t size)
{
    (void)size;
    if (g_stripe != NULL) {
        g_traced++;
        if (pthread_mutex_trylock(&g_stripe->mu) == 0)
            pthread_mutex_unlock(&g_stripe->mu);
        else
            g_stripe_busy++;
    }
    gch_visit(v, (void *const *)&((struct traced *)obj)->next);
}
static const gch_type traced_type = {"traced", sizeof(struct traced), NULL, traced_trace};

static void test_trace_outside_stripe_lock(void **state)
{
    struct fx *f = *state;
    struct calls c = {0};
    struct traced *obj = gch_alloc(f->t, &traced_type);
    assert_non_null(obj);
    f->slots[0] = obj;
    assert_int_equal(gch_set_finalizer(f->t, obj, record, &c), GCH_OK);
    struct mspan *s = mheap_span_of_heap(&f->h->mheap, (uintptr_t)obj);
    g_stripe = span_specials_lock(&f->h->mheap, s);
    g_traced = g_stripe_busy = 0;
    assert_int_equal(gch_collect(f->h), GCH_OK);
    g_stripe = NULL;
    assert_true(g_traced >= 2); /* from the root and from its record */
    assert_int_equal(g_stripe_busy, 0);
    f->slots[0] = NULL;
    assert_int_equal(gch_set_finalizer(f->t, obj, NULL, NULL), GCH_OK);
    /* More finalizable objects in one span than one batch of the scan
     * (resumed by offset): every one's referent is kept. */
    enum { N = 100 };
    struct node *kids[N];
    for (int i = 0; i < N; i++) {
        struct node *o = spx_new_node(f->t, spx_new_node(f->t, NULL));
        kids[i] = o->next;
        assert_int_equal(gch_set_finalizer(f->t, o, nop_fin, NULL), GCH_OK);
    }
    assert_int_equal(gch_collect(f->h), GCH_OK);
    for (int i = 0; i < N; i++)
        assert_true(spx_allocated(f->h, kids[i]));
    gch_run_finalizers(f->t, -1);
}

/* The cleanup debug check never scans a free slot (finding 3): arg ->
 * x, x freed (its old contents still point at obj): not a path. */
static void test_cleanup_check_skips_free_slot(void **state)
{
    struct fx *f = *state;
#if GCH_DEBUG >= 2
    struct node *obj = spx_new_node(f->t, NULL);
    struct node *x = spx_new_node(f->t, obj);
    struct node *arg = spx_new_node(f->t, x);
    f->slots[0] = obj;
    f->slots[1] = arg;
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gchi_free(f->t, x);
    /* x's old contents still name obj (no clobberfree; ASan poisons the
     * slot, so the test does not read it). */
    assert_int_equal(gch_add_cleanup(f->t, obj, nop_cleanup, arg), GCH_OK);
    arg->next = NULL; /* no mark running: a plain store */
    f->slots[0] = f->slots[1] = NULL;
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
#else
    (void)f;
#endif
}

/* gch_add_cleanup's debug check (GCH_DEBUG >= 2, mweak.c reach_add) reads
 * the alloc bits of the spans it walks while sweeps rewrite them: the
 * pointer is published with release and read with acquire (a data race
 * for TSan before).  A mutator keeps cycles and sweeps coming meanwhile. */
struct sweeping {
    gch_heap *h;
    atomic_int stop;
};

static void *allocate_until_stopped(void *arg)
{
    struct sweeping *w = arg;
    gch_thread *t = gch_thread_attach(w->h);
    assert_non_null(t);
    while (!atomic_load(&w->stop))
        for (int i = 0; i < 1000; i++)
            assert_non_null(gch_alloc(t, &node_type));
    gch_thread_detach(t);
    return NULL;
}

static void nothing(void *arg) { (void)arg; }

static void test_cleanup_check_during_sweeps(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "FINSWEEP_";
    struct sweeping w = {gch_heap_new(&cfg), 0};
    assert_non_null(w.h);
    gch_set_gc_percent(w.h, 20);
    gch_thread *t = gch_thread_attach(w.h);
    static void *list;
    assert_int_equal(gch_root_add(w.h, &list), GCH_OK);
    for (int i = 0; i < 20000; i++)
        gch_write(t, &list, spx_new_node(t, list));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, allocate_until_stopped, &w), 0);
    gch_stats st;
    gch_read_stats(w.h, &st);
    uint32_t gc0 = st.num_gc;
    /* At least 300 checks, and on until two cycles have ended beside
     * them (the other thread's allocation starts them: on a fast, idle
     * machine 300 checks can end before the first; 20 s at most). */
    time_t deadline = time(NULL) + 20;
    for (int i = 0; i < 300 || (st.num_gc < gc0 + 2 && time(NULL) < deadline); i++) {
        void *obj = gch_alloc(t, &node_type);
        assert_non_null(obj);
        assert_int_equal(gch_add_cleanup(t, obj, nothing, list), GCH_OK);
        gch_run_finalizers(t, 1000);
        if (i >= 300 && i % 50 == 0)
            gch_read_stats(w.h, &st);
    }
    atomic_store(&w.stop, 1);
    gch_blocking_enter(t);
    assert_int_equal(pthread_join(th, NULL), 0);
    gch_blocking_leave(t);
    gch_read_stats(w.h, &st);
    assert_true(st.num_gc >= gc0 + 2); /* the checks ran beside sweeps */
    assert_int_equal(gch_root_remove(w.h, &list), GCH_OK);
    gch_thread_detach(t);
    gch_heap_free(w.h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_once_only, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_ordering_and_cycles, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_resurrection, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_allocating_finalizer_thread, setup_thread, spx_teardown),
        cmocka_unit_test_setup_teardown(test_remove_and_replace, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_cleanups, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_misuse, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_set_during_mark, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_ephemeron_finalizer, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_free_drops_finalizer, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_trace_outside_stripe_lock, setup_manual, spx_teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_check_skips_free_slot, setup_manual, spx_teardown),
        cmocka_unit_test(test_cleanup_check_during_sweeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
