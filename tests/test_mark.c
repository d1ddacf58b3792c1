/*
 * test_mark.c - the stop-the-world mark-sweep collector behind
 * gch_collect: what survives (everything reachable from every kind of
 * root, through masks, trace callbacks, arrays, large objects, interior
 * pointers and a tagged-value decoder), what is freed (unreachable
 * objects, cycles included; noscan words that look like pointers keep
 * nothing alive), that freed slots are reused, a randomized model of an
 * object graph checked after every collection, collections while four
 * attached threads allocate (and one sits in a blocking section), and
 * the GODEBUG invalidptr and clobberfree checks.
 *
 * Counting: right after gch_collect every thread's cache has been
 * flushed, so HeapObjects is exact when no other thread allocates.  Most
 * heaps here run with GOGC off (only gch_collect collects) so that
 * garbage stays put until the test asks for a cycle; the code keeps
 * everything it still uses in registered roots at every safepoint all
 * the same (the embedder contract), and the model and thread tests also
 * run with automatic cycles on.
 *
 * Write barrier: every store of a reference into a heap object, a global
 * root or a heap scanner's table goes through gch_write (barrier.h);
 * stores into handle frames and thread scanners' tables are plain.  The
 * few plain stores of addresses into heap objects left here are marked:
 * words that are not references (noscan data, non-mask words, trace
 * words outside the reported count) and the bad pointers the invalidptr
 * test plants on purpose.
 */
#include "testutil.h"
#include "mgcmark.h"

#include <pthread.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static gch_heap *new_heap(int gc_percent, void *(*decode)(uintptr_t), int read_env)
{
    gch_config c;
    gch_config_init(&c);
    c.read_env = read_env;
    c.gc_percent = gc_percent;
    c.decode = decode;
    gch_heap *h = gch_heap_new(&c);
    assert_non_null(h);
    return h;
}

static void free_heap(gch_heap *h)
{
    heap_free_checked(h);
}

/* gc_setup: a heap with GOGC off (collections only by gch_collect) and
 * the environment ignored, and one attached thread. */
static int gc_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->h = new_heap(-1, NULL, 0);
    f->t = gch_thread_attach(f->h);
    if (f->t == NULL)
        return -1;
    *state = f;
    return 0;
}

/* gc_teardown: heap_teardown, after dropping any handle frames a failed
 * assertion left pushed (so that one failure does not abort the rest). */
static int gc_teardown(void **state)
{
    struct fixture *f = *state;
    if (f->t != NULL)
        gchi_head(f->t)->frames = NULL;
    return heap_teardown(state);
}

static void collect(gch_heap *h)
{
    assert_int_equal(gch_collect(h), GCH_OK);
}

static gch_stats *stats(gch_heap *h)
{
    static gch_stats st; /* large (the pause ring): not on the stack */
    gch_read_stats(h, &st);
    return &st;
}

/* live_after_collect: run a cycle and return HeapObjects (exact then). */
static uint64_t live_after_collect(gch_heap *h)
{
    collect(h);
    return stats(h)->heap_objects;
}

/* heap_with_godebug: build a heap with GODEBUG=value read from the
 * environment, then restore the variable. */
static gch_heap *heap_with_godebug(const char *value, int gc_percent)
{
    const char *old = getenv("GODEBUG");
    char *saved = old ? strdup(old) : NULL;
    assert_int_equal(setenv("GODEBUG", value, 1), 0);
    gch_heap *h = new_heap(gc_percent, NULL, 1);
    if (saved) {
        setenv("GODEBUG", saved, 1);
        free(saved);
    } else {
        unsetenv("GODEBUG");
    }
    return h;
}

/* cnode: a checksummed node with two reference fields. */
struct cnode {
    struct cnode *next;
    struct cnode *other;
    uint64_t id;
    uint64_t sum;
};
static const uint8_t cnode_mask[] = {0x3};
static const gch_type cnode_type = {"cnode", sizeof(struct cnode), cnode_mask, NULL};

static struct cnode *new_cnode(gch_thread *t, uint64_t id)
{
    struct cnode *n = gch_alloc(t, &cnode_type);
    assert_non_null(n);
    n->id = id;
    n->sum = mix(id);
    return n;
}

static bool cnode_ok(const struct cnode *n, uint64_t id)
{
    return n != NULL && n->id == id && n->sum == mix(id);
}

/* Where a root slot lives: a handle frame or a thread scanner's table
 * (written without a barrier), or a global root or a heap scanner's
 * table (written through gch_write). */
enum root_kind { ROOT_LOCAL, ROOT_GLOBAL };

/* set_root: *slot = v for a root slot of the given kind. */
static void set_root(gch_thread *t, void **slot, enum root_kind kind, void *v)
{
    if (kind == ROOT_GLOBAL)
        gch_write(t, slot, v);
    else
        *slot = v;
}

/* push_chain: push n checksummed nodes (ids tag+0 .. tag+n-1) onto the
 * list whose head is in *slot, a registered root of the given kind. */
static void push_chain(gch_thread *t, void **slot, enum root_kind kind, int n, uint64_t tag)
{
    for (int k = 0; k < n; k++) {
        struct cnode *c = new_cnode(t, tag + (uint64_t)k);
        gch_write(t, (void **)&c->next, *slot);
        set_root(t, slot, kind, c); /* rooted before the next allocation */
    }
}

/* chain_ok: the list at head holds exactly ids tag+n-1 .. tag+0. */
static bool chain_ok(const void *head, int n, uint64_t tag)
{
    const struct cnode *c = head;
    for (int k = n - 1; k >= 0; k--, c = c->next)
        if (!cnode_ok(c, tag + (uint64_t)k))
            return false;
    return c == NULL;
}

/* pair: two references, for rings and self-references. */
struct pair {
    void *car, *cdr;
};
static const uint8_t pair_mask[] = {0x3};
static const gch_type pair_type = {"pair", sizeof(struct pair), pair_mask, NULL};

/* ------------------------------------------------------------------ */
/* 1. Every kind of root; garbage, cycles and self-references freed     */
/* ------------------------------------------------------------------ */

static void *g_slot;
static void *g_range[4];

struct table {
    void *slots[3];
    int calls;
};

static void scan_table(gch_visitor *v, void *ctx)
{
    struct table *tb = ctx;
    tb->calls++;
    for (int i = 0; i < 3; i++)
        gch_visit(v, &tb->slots[i]);
}

/* make_garbage: allocate objects reachable from nothing:
 * unlinked nodes, a ring of pairs whose cars point at themselves,
 * self-referencing nodes, and nodes pointing into live data.  Returns
 * the number of objects. */
static uint64_t make_garbage(gch_thread *t, void *live_target)
{
    uint64_t n = 0;
    GCH_LOCALS(t, tmp, 2);
    for (int i = 0; i < 300; i++, n++)
        new_cnode(t, 1000000 + (uint64_t)i);
    /* a ring of 1000 pairs, each car pointing at its own pair */
    tmp[0] = gch_alloc(t, &pair_type);
    assert_non_null(tmp[0]);
    tmp[1] = tmp[0];
    n++;
    for (int i = 1; i < 1000; i++, n++) {
        struct pair *p = gch_alloc(t, &pair_type);
        assert_non_null(p);
        gch_write(t, &p->car, p);
        gch_write(t, &((struct pair *)tmp[1])->cdr, p);
        tmp[1] = p;
    }
    gch_write(t, &((struct pair *)tmp[1])->cdr, tmp[0]);
    gch_write(t, &((struct pair *)tmp[0])->car, tmp[0]);
    tmp[0] = tmp[1] = NULL;
    for (int i = 0; i < 100; i++, n++) { /* self-loops through both fields */
        struct cnode *c = new_cnode(t, 2000000 + (uint64_t)i);
        gch_write(t, (void **)&c->next, c);
        gch_write(t, (void **)&c->other, c);
    }
    for (int i = 0; i < 100; i++, n++) { /* garbage pointing at live data */
        struct cnode *c = new_cnode(t, 3000000 + (uint64_t)i);
        gch_write(t, (void **)&c->next, live_target);
    }
    GCH_LOCALS_END(t, tmp);
    return n;
}

static void test_every_root_kind(void **state)
{
    struct fixture *f = *state;
    gch_heap *h = f->h;
    assert_int_equal(gch_collect(NULL), GCH_EINVAL);
    assert_int_equal(live_after_collect(h), 0); /* an empty heap stays empty */
    uint32_t forced0 = stats(h)->num_forced_gc, num0 = stats(h)->num_gc;

    struct table heapt = {{0}, 0}, thrt = {{0}, 0};
    g_slot = NULL;
    memset(g_range, 0, sizeof g_range);
    assert_int_equal(gch_root_add(h, &g_slot), GCH_OK);
    assert_int_equal(gch_root_range_add(h, g_range, 4), GCH_OK);
    assert_int_equal(gch_heap_scanner_add(h, scan_table, &heapt), GCH_OK);
    assert_int_equal(gch_thread_scanner_add(f->t, scan_table, &thrt), GCH_OK);
    GCH_LOCALS(f->t, fr, 3);

    push_chain(f->t, &g_slot, ROOT_GLOBAL, 10, 100);
    push_chain(f->t, &g_range[2], ROOT_GLOBAL, 10, 200);
    push_chain(f->t, &fr[1], ROOT_LOCAL, 10, 300);
    push_chain(f->t, &heapt.slots[0], ROOT_GLOBAL, 10, 400); /* heap scanner: like a global */
    push_chain(f->t, &thrt.slots[2], ROOT_LOCAL, 10, 500);   /* thread scanner: no barrier */
    uint64_t garbage = make_garbage(f->t, g_slot);
    uint64_t frees0 = stats(h)->frees;

    assert_int_equal(live_after_collect(h), 50);
    gch_stats *st = stats(h);
    assert_int_equal(st->frees - frees0, garbage);
    assert_int_equal(st->heap_alloc, 50 * 32);
    assert_int_equal(st->num_forced_gc, forced0 + 1);
    assert_int_equal(st->num_gc, num0 + 1);
    assert_true(heapt.calls >= 1 && thrt.calls >= 1);
    assert_true(chain_ok(g_slot, 10, 100));
    assert_true(chain_ok(g_range[2], 10, 200));
    assert_true(chain_ok(fr[1], 10, 300));
    assert_true(chain_ok(heapt.slots[0], 10, 400));
    assert_true(chain_ok(thrt.slots[2], 10, 500));

    /* A second cycle frees nothing more (mark bits were reset). */
    assert_int_equal(live_after_collect(h), 50);
    assert_int_equal(stats(h)->num_forced_gc, forced0 + 2);

    /* Drop one kind of root at a time: exactly its chain goes. */
    assert_int_equal(gch_root_remove(h, &g_slot), GCH_OK);
    assert_int_equal(live_after_collect(h), 40);
    assert_int_equal(gch_root_range_remove(h, g_range), GCH_OK);
    assert_int_equal(live_after_collect(h), 30);
    assert_true(chain_ok(fr[1], 10, 300));
    fr[1] = NULL;
    assert_int_equal(live_after_collect(h), 20);
    assert_int_equal(gch_heap_scanner_remove(h, scan_table, &heapt), GCH_OK);
    assert_int_equal(live_after_collect(h), 10);
    assert_true(chain_ok(thrt.slots[2], 10, 500));
    assert_int_equal(gch_thread_scanner_remove(f->t, scan_table, &thrt), GCH_OK);
    assert_int_equal(live_after_collect(h), 0);
    assert_int_equal(stats(h)->heap_alloc, 0);
    GCH_LOCALS_END(f->t, fr);
}

/* gch_collect from an unattached thread while the attached owner of the
 * roots sits in a blocking section: the owner's frames and scanners
 * are still roots. */
struct remote_arg {
    gch_heap *h;
    gch_error rc;
};

static void *remote_collect(void *arg)
{
    struct remote_arg *a = arg;
    a->rc = gch_collect(a->h);
    return NULL;
}

static void test_collect_from_other_thread(void **state)
{
    struct fixture *f = *state;
    struct table thrt = {{0}, 0};
    assert_int_equal(gch_thread_scanner_add(f->t, scan_table, &thrt), GCH_OK);
    GCH_LOCALS(f->t, fr, 2);
    push_chain(f->t, &fr[0], ROOT_LOCAL, 100, 0);
    push_chain(f->t, &thrt.slots[1], ROOT_LOCAL, 100, 1000);
    make_garbage(f->t, NULL);
    struct remote_arg a = {f->h, GCH_EINVAL};
    pthread_t th;
    gch_blocking_enter(f->t);
    assert_int_equal(pthread_create(&th, NULL, remote_collect, &a), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    gch_blocking_leave(f->t);
    assert_int_equal(a.rc, GCH_OK);
    assert_int_equal(stats(f->h)->heap_objects, 200);
    assert_true(chain_ok(fr[0], 100, 0));
    assert_true(chain_ok(thrt.slots[1], 100, 1000));
    GCH_LOCALS_END(f->t, fr);
    assert_int_equal(gch_thread_scanner_remove(f->t, scan_table, &thrt), GCH_OK);
    assert_int_equal(live_after_collect(f->h), 0);
}

/* Cycle statistics: NumGC, NumForcedGC, PauseNs, PauseTotalNs, LastGC,
 * NextGC. */
static void test_cycle_stats(void **state)
{
    (void)state;
    gch_heap *h = new_heap(100, NULL, 0);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    static gch_stats before;
    gch_read_stats(h, &before);
    struct timespec t0, t1;
    for (int i = 0; i < 3; i++) {
        clock_gettime(CLOCK_REALTIME, &t0);
        collect(h);
        clock_gettime(CLOCK_REALTIME, &t1);
        gch_stats *st = stats(h);
        assert_int_equal(st->num_gc, before.num_gc + (uint32_t)i + 1);
        assert_int_equal(st->num_forced_gc, before.num_forced_gc + (uint32_t)i + 1);
        uint64_t lo = (uint64_t)t0.tv_sec * 1000000000ULL + (uint64_t)t0.tv_nsec;
        uint64_t hi = (uint64_t)t1.tv_sec * 1000000000ULL + (uint64_t)t1.tv_nsec;
        /* LastGC is wall-clock time; allow for a clock derived from a
         * monotonic offset. */
        assert_true(st->last_gc + 50000000ULL >= lo && st->last_gc <= hi + 50000000ULL);
        uint64_t latest = st->pause_ns[(st->num_gc + 255) % 256];
        assert_true(latest > 0);
        assert_true(st->pause_total_ns >= latest);
        assert_true(st->next_gc >= 4u << 20); /* Go's minimum heap goal */
    }
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

/* ------------------------------------------------------------------ */
/* 2. A million-element list: marking must not recurse                  */
/* ------------------------------------------------------------------ */

#if SLOW_SAN
#define LONG_LIST 100000
#else
#define LONG_LIST 1000000
#endif

struct lnode {
    struct lnode *next;
    uint64_t val;
};
static const uint8_t lnode_mask[] = {0x1};
static const gch_type lnode_type = {"lnode", sizeof(struct lnode), lnode_mask, NULL};

static void test_million_list(void **state)
{
    struct fixture *f = *state;
    GCH_LOCALS(f->t, r, 2);
    /* r[0]: the head; r[1]: the tail while appending (so the list is
     * built in allocation order and marked head to tail). */
    for (uint64_t i = 0; i < LONG_LIST; i++) {
        struct lnode *n = gch_alloc(f->t, &lnode_type);
        assert_non_null(n);
        n->val = mix(i);
        if (r[1] == NULL)
            r[0] = n;
        else
            gch_write(f->t, (void **)&((struct lnode *)r[1])->next, n);
        r[1] = n;
    }
    r[1] = NULL; /* only the head is a root now */
    assert_int_equal(live_after_collect(f->h), LONG_LIST);
    uint64_t i = 0;
    for (struct lnode *n = r[0]; n != NULL; n = n->next, i++)
        if (n->val != mix(i))
            fail_msg("list element %llu damaged", (unsigned long long)i);
    assert_int_equal(i, LONG_LIST);
    r[0] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    assert_int_equal(stats(f->h)->heap_alloc, 0);
    GCH_LOCALS_END(f->t, r);
}

/* ------------------------------------------------------------------ */
/* 3. Interior pointers                                                 */
/* ------------------------------------------------------------------ */

/* A > 512-byte masked object: word 0 references another node. */
#define MID_WORDS 128
static uint8_t mid_mask[MID_WORDS / 8]; /* odd words are references */
static const gch_type mid_type = {"mid", MID_WORDS * 8, mid_mask, NULL};

static void init_masks(void);

static void test_interior_pointers(void **state)
{
    struct fixture *f = *state;
    init_masks();
    GCH_LOCALS(f->t, r, 8);
    struct cnode *a = new_cnode(f->t, 1);
    r[0] = (char *)a + 13;                       /* middle of a 32-byte node */
    struct cnode *b = new_cnode(f->t, 2);
    r[1] = (char *)b + sizeof *b - 1;            /* its last byte */
    char *c = gch_alloc_noscan(f->t, 40);         /* 48-byte slot */
    assert_non_null(c);
    size_t cu = gch_usable_size(f->h, c);
    assert_true(cu >= 40);
    memset(c, 0x5a, cu);
    r[2] = c + cu - 1;                           /* the slot's last byte */
    char *big = gch_alloc_noscan(f->t, 100000); /* a large object */
    assert_non_null(big);
    memset(big, 0x33, 100000);
    r[3] = big + 50000;
    char *big2 = gch_alloc_noscan(f->t, 70000);
    assert_non_null(big2);
    memset(big2, 0x44, 70000);
    r[4] = big2 + 70000 - 1;
    /* An object reached only through an interior pointer is scanned from
     * its base: what it references survives too. */
    uint64_t *mid = gch_alloc(f->t, &mid_type);
    assert_non_null(mid);
    r[5] = (char *)mid + 8 * 100 + 3;
    gch_write(f->t, (void **)&mid[1], new_cnode(f->t, 3));             /* odd words: references */
    gch_write(f->t, (void **)&mid[MID_WORDS - 1], new_cnode(f->t, 4));
    struct cnode *ln = new_cnode(f->t, 5);
    gch_write(f->t, (void **)&ln->other, (char *)new_cnode(f->t, 6) + 16); /* interior in a heap slot */
    r[6] = ln;
    new_cnode(f->t, 99); /* garbage */
    gch_alloc_noscan(f->t, 50000);

    assert_int_equal(live_after_collect(f->h), 10);
    assert_true(cnode_ok(a, 1) && cnode_ok(b, 2));
    assert_true(mem_all(c, 0x5a, cu));
    assert_true(mem_all(big, 0x33, 100000));
    assert_true(mem_all(big2, 0x44, 70000));
    assert_true(cnode_ok((struct cnode *)(uintptr_t)mid[1], 3));
    assert_true(cnode_ok((struct cnode *)(uintptr_t)mid[MID_WORDS - 1], 4));
    assert_true(cnode_ok((struct cnode *)((char *)ln->other - 16), 6));
    for (int i = 0; i < 7; i++)
        r[i] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

/* ------------------------------------------------------------------ */
/* 4. Noscan data that looks like pointers keeps nothing alive          */
/* ------------------------------------------------------------------ */

/* A masked type with a non-reference word that holds an address. */
struct half {
    void *ref;
    uintptr_t hidden;
};
static const uint8_t half_mask[] = {0x1};
static const gch_type half_type = {"half", sizeof(struct half), half_mask, NULL};
/* A typed object with neither mask nor callback: noscan. */
static const gch_type blob_type = {"blob", 64, NULL, NULL};

static void test_noscan_keeps_nothing(void **state)
{
    struct fixture *f = *state;
    GCH_LOCALS(f->t, r, 4);
    uintptr_t *buf = gch_alloc_noscan(f->t, 100 * sizeof(uintptr_t));
    assert_non_null(buf);
    r[0] = buf;
    uintptr_t *lbuf = gch_alloc_noscan(f->t, 64 * 1024); /* large noscan */
    assert_non_null(lbuf);
    r[1] = lbuf;
    uintptr_t *blob = gch_alloc(f->t, &blob_type);
    assert_non_null(blob);
    r[2] = blob;
    struct half *hf = gch_alloc(f->t, &half_type);
    assert_non_null(hf);
    r[3] = hf;
    for (int i = 0; i < 100; i++) {
        struct cnode *c = new_cnode(f->t, (uint64_t)i);
        /* plain stores: noscan words and hf->hidden are data, not references */
        buf[i] = (uintptr_t)c + (uintptr_t)(i % 4) * 8; /* base and interior */
        lbuf[i * 7] = (uintptr_t)c;
        if (i < 8)
            blob[i] = (uintptr_t)c;
        if (i == 0)
            hf->hidden = (uintptr_t)c;
    }
    gch_write(f->t, &hf->ref, new_cnode(f->t, 777));
    /* buf, lbuf, blob, hf and the one node hf->ref holds */
    assert_int_equal(live_after_collect(f->h), 5);
    assert_true(cnode_ok(hf->ref, 777));
    /* The noscan words were not touched. */
    assert_int_equal(lbuf[7], buf[1] - 8);
    for (int i = 0; i < 4; i++)
        r[i] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

/* ------------------------------------------------------------------ */
/* 5. Trace callbacks, arrays, large and > 512-byte objects             */
/* ------------------------------------------------------------------ */

/* vnode: word 0 counts the children that follow; only those are
 * references (the rest may hold stale addresses). */
#define VKIDS 15
struct vnode {
    uint64_t n;
    void *kid[VKIDS];
};

static void trace_vnode(gch_visitor *v, void *obj, size_t size)
{
    (void)size;
    struct vnode *o = obj;
    uint64_t n = o->n < VKIDS ? o->n : VKIDS;
    for (uint64_t i = 0; i < n; i++)
        gch_visit(v, &o->kid[i]);
}
static const gch_type vnode_type = {"vnode", sizeof(struct vnode), NULL, trace_vnode};

/* array element: words 0 and 2 are references, word 1 is not */
struct elem {
    void *p;
    uintptr_t x;
    void *q;
};
static const uint8_t elem_mask[] = {0x5};
static const gch_type elem_type = {"elem", sizeof(struct elem), elem_mask, NULL};

/* A large (> 32 KiB) masked object: words w % 10 == 0 and the last word
 * are references. */
#define BIG_WORDS 5000
static uint8_t big_mask[BIG_WORDS / 8];
static const gch_type big_type = {"big", BIG_WORDS * 8, big_mask, NULL};

/* A large trace-callback object: word 0 counts references in 1..n. */
#define LTRACE_WORDS (48 * 1024 / 8)
static void trace_counted(gch_visitor *v, void *obj, size_t size)
{
    uint64_t *w = obj;
    uint64_t n = w[0];
    if (n > size / 8 - 1)
        n = size / 8 - 1;
    for (uint64_t i = 1; i <= n; i++)
        gch_visit(v, (void *const *)&w[i]);
}
static const gch_type ltrace_type = {"ltrace", LTRACE_WORDS * 8, NULL, trace_counted};

static void init_masks(void)
{
    memset(mid_mask, 0xAA, sizeof mid_mask);
    memset(big_mask, 0, sizeof big_mask);
    for (int w = 0; w < BIG_WORDS; w += 10)
        big_mask[w / 8] |= (uint8_t)(1u << (w % 8));
    big_mask[(BIG_WORDS - 1) / 8] |= (uint8_t)(1u << ((BIG_WORDS - 1) % 8));
}

/* fill_vnode: n children (checksummed nodes, ids tag+i), then stale
 * addresses of garbage nodes in the unused kid words. */
static void fill_vnode(gch_thread *t, struct vnode *vn, uint64_t n, uint64_t tag)
{
    for (uint64_t i = 0; i < n; i++) {
        gch_write(t, &vn->kid[i], new_cnode(t, tag + i));
        vn->n = i + 1; /* reported before the next allocation */
    }
    /* Past the count the words are not references (the callback does not
     * report them): plain stores of stale addresses, on purpose. */
    for (uint64_t i = n; i < VKIDS; i++)
        vn->kid[i] = new_cnode(t, 0xdead); /* not reported: garbage */
}

static bool vnode_ok(const struct vnode *vn, uint64_t n, uint64_t tag)
{
    if (vn->n != n)
        return false;
    for (uint64_t i = 0; i < n; i++)
        if (!cnode_ok(vn->kid[i], tag + i))
            return false;
    return true;
}

static void test_trace_callbacks(void **state)
{
    struct fixture *f = *state;
    GCH_LOCALS(f->t, r, 2);
    struct vnode *vn = gch_alloc(f->t, &vnode_type);
    assert_non_null(vn);
    r[0] = vn;
    fill_vnode(f->t, vn, 4, 100); /* 4 kids + 11 garbage */
    struct vnode *inner = gch_alloc(f->t, &vnode_type);
    assert_non_null(inner);
    gch_write(f->t, &vn->kid[4], inner); /* a reference once n covers it */
    vn->n = 5;
    fill_vnode(f->t, inner, VKIDS, 200);
    struct vnode *empty = gch_alloc(f->t, &vnode_type); /* n = 0 */
    assert_non_null(empty);
    r[1] = empty;
    empty->kid[0] = new_cnode(f->t, 0xdead); /* past n = 0: not a reference, plain */
    /* vn, 4 kids, inner, 15 kids, empty */
    assert_int_equal(live_after_collect(f->h), 22);
    assert_true(vnode_ok(inner, VKIDS, 200));
    assert_int_equal(vn->n, 5);
    for (uint64_t i = 0; i < 4; i++)
        assert_true(cnode_ok(vn->kid[i], 100 + i));
    r[0] = r[1] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

/* fill_elems: n elements, p -> node tag+i, q -> node tag+1000+i for odd
 * i, x the address of a garbage node (not a reference). */
static void fill_elems(gch_thread *t, struct elem *e, size_t n, uint64_t tag)
{
    for (size_t i = 0; i < n; i++) {
        e[i].x = (uintptr_t)new_cnode(t, 0xdead); /* not a reference: garbage, plain */
        gch_write(t, &e[i].p, new_cnode(t, tag + i));
        if (i % 2)
            gch_write(t, &e[i].q, new_cnode(t, tag + 1000 + i));
    }
}

static bool elems_ok(const struct elem *e, size_t n, uint64_t tag)
{
    for (size_t i = 0; i < n; i++) {
        if (!cnode_ok(e[i].p, tag + i))
            return false;
        if (i % 2 ? !cnode_ok(e[i].q, tag + 1000 + i) : e[i].q != NULL)
            return false;
    }
    return true;
}

static void test_arrays(void **state)
{
    struct fixture *f = *state;
    GCH_LOCALS(f->t, r, 4);
    struct elem *small = gch_alloc_array(f->t, &elem_type, 3); /* 72 bytes */
    assert_non_null(small);
    r[0] = small;
    fill_elems(f->t, small, 3, 0);
    struct elem *mid = gch_alloc_array(f->t, &elem_type, 100); /* 2400 bytes */
    assert_non_null(mid);
    r[1] = mid;
    fill_elems(f->t, mid, 100, 10000);
    struct elem *large = gch_alloc_array(f->t, &elem_type, 2000); /* 48000 bytes */
    assert_non_null(large);
    r[2] = large;
    fill_elems(f->t, large, 2000, 20000);
    /* 3 arrays + (3 + 1) + (100 + 50) + (2000 + 1000) referenced nodes */
    assert_int_equal(live_after_collect(f->h), 3 + 4 + 150 + 3000);
    assert_true(elems_ok(small, 3, 0));
    assert_true(elems_ok(mid, 100, 10000));
    assert_true(elems_ok(large, 2000, 20000));
    r[0] = r[1] = r[2] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

/* gch_alloc_array of a trace-callback type: the callback applies to each
 * element (gcheap.h, gch_alloc_array). */
static void test_array_of_traced(void **state)
{
    struct fixture *f = *state;
    GCH_LOCALS(f->t, r, 1);
    struct vnode *arr = gch_alloc_array(f->t, &vnode_type, 4);
    assert_non_null(arr);
    r[0] = arr;
    for (uint64_t e = 0; e < 4; e++)
        fill_vnode(f->t, &arr[e], e + 1, 100 * e);
    /* the array + 1 + 2 + 3 + 4 children */
    assert_int_equal(live_after_collect(f->h), 11);
    for (uint64_t e = 0; e < 4; e++)
        assert_true(vnode_ok(&arr[e], e + 1, 100 * e));
    r[0] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

static void test_large_and_mid_objects(void **state)
{
    struct fixture *f = *state;
    init_masks();
    GCH_LOCALS(f->t, r, 3);
    uint64_t *big = gch_alloc(f->t, &big_type);
    assert_non_null(big);
    r[0] = big;
    for (int w = 0; w < BIG_WORDS; w++) {
        if (w % 10 == 0 || w == BIG_WORDS - 1)
            gch_write(f->t, (void **)&big[w], new_cnode(f->t, (uint64_t)w));
        else if (w % 10 == 5)
            big[w] = (uintptr_t)new_cnode(f->t, 0xdead); /* not a reference: plain */
    }
    uint64_t *lt = gch_alloc(f->t, &ltrace_type);
    assert_non_null(lt);
    r[1] = lt;
    for (int i = 1; i <= 300; i++) {
        gch_write(f->t, (void **)&lt[i], new_cnode(f->t, 50000 + (uint64_t)i));
        lt[0] = (uint64_t)i;
    }
    for (int i = 301; i < 400; i++)
        lt[i] = (uintptr_t)new_cnode(f->t, 0xdead); /* past the count: not a reference, plain */
    uint64_t *mid = gch_alloc(f->t, &mid_type);
    assert_non_null(mid);
    r[2] = mid;
    for (int w = 0; w < MID_WORDS; w++) {
        if (w % 2)
            gch_write(f->t, (void **)&mid[w], new_cnode(f->t, 70000 + (uint64_t)w));
        else
            mid[w] = (uintptr_t)new_cnode(f->t, 0xdead); /* even words: not references, plain */
    }
    /* big + 501, lt + 300, mid + 64 */
    assert_int_equal(live_after_collect(f->h), 1 + 501 + 1 + 300 + 1 + 64);
    for (int w = 0; w < BIG_WORDS; w++)
        if (w % 10 == 0 || w == BIG_WORDS - 1)
            assert_true(cnode_ok((struct cnode *)(uintptr_t)big[w], (uint64_t)w));
    for (int i = 1; i <= 300; i++)
        assert_true(cnode_ok((struct cnode *)(uintptr_t)lt[i], 50000 + (uint64_t)i));
    for (int w = 1; w < MID_WORDS; w += 2)
        assert_true(cnode_ok((struct cnode *)(uintptr_t)mid[w], 70000 + (uint64_t)w));
    r[0] = r[1] = r[2] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

/* Oblets: a large array is scanned in GC_OBLET_BYTES parts.  An array of
 * masked elements (struct elem, 24 bytes: elements straddle the part
 * boundaries) and an array of callback elements (vnode, 128 bytes); every
 * reference is found exactly once, wherever its element starts. */
#define OBLET_ELEMS 60000 /* 1.4 MB of struct elem: 11 oblets */
#define OBLET_VNODES 3000 /* 384 KB of vnode: 3 oblets */
static void test_large_arrays_in_oblets(void **state)
{
    struct fixture *f = *state;
    GCH_LOCALS(f->t, r, 2);
    struct elem *arr = gch_alloc_array(f->t, &elem_type, OBLET_ELEMS);
    assert_non_null(arr);
    r[0] = arr;
    uint64_t kids = 0;
    for (uint64_t e = 0; e < OBLET_ELEMS; e++) {
        if (e % 7 == 0) {
            gch_write(f->t, &arr[e].p, new_cnode(f->t, 10 * e));
            kids++;
        }
        if (e % 11 == 0) {
            gch_write(f->t, &arr[e].q, new_cnode(f->t, 10 * e + 1));
            kids++;
        }
    }
    struct vnode *va = gch_alloc_array(f->t, &vnode_type, OBLET_VNODES);
    assert_non_null(va);
    r[1] = va;
    for (uint64_t e = 0; e < OBLET_VNODES; e += 5) {
        fill_vnode(f->t, &va[e], 2, 1000000 + 10 * e);
        kids += 2;
    }
    assert_int_equal(live_after_collect(f->h), 2 + kids);
    for (uint64_t e = 0; e < OBLET_ELEMS; e++) {
        if (e % 7 == 0)
            assert_true(cnode_ok(arr[e].p, 10 * e));
        if (e % 11 == 0)
            assert_true(cnode_ok(arr[e].q, 10 * e + 1));
    }
    for (uint64_t e = 0; e < OBLET_VNODES; e += 5)
        assert_true(vnode_ok(&va[e], 2, 1000000 + 10 * e));
    r[0] = r[1] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

/* Arrays of plain references (a one-word type whose word is a
 * reference: a VM's vector or a pointer table) take scan_typed_range's
 * direct path: a headered one (1000 words) and a large one in oblets
 * (200,000 words, 1.6 MB); every third slot holds a child, the rest NULL
 * or a non-heap word, and each child is found. */
static const uint8_t ref_mask[] = {0x1};
static const gch_type ref_type = {"ref", sizeof(void *), ref_mask, NULL};
static void test_reference_arrays(void **state)
{
    struct fixture *f = *state;
    static const size_t lens[] = {1000, 200000};
    GCH_LOCALS(f->t, r, 1);
    for (size_t k = 0; k < 2; k++) {
        void **arr = gch_alloc_array(f->t, &ref_type, lens[k]);
        assert_non_null(arr);
        r[0] = arr;
        uint64_t kids = 0;
        static int not_heap;
        for (size_t e = 0; e < lens[k]; e++) {
            if (e % 3 == 0) {
                gch_write(f->t, &arr[e], new_cnode(f->t, 7 * e + k));
                kids++;
            } else if (e % 3 == 1) {
                gch_write(f->t, &arr[e], &not_heap);
            }
        }
        assert_int_equal(live_after_collect(f->h), 1 + kids);
        for (size_t e = 0; e < lens[k]; e += 3)
            assert_true(cnode_ok(arr[e], 7 * e + k));
        r[0] = NULL;
        assert_int_equal(live_after_collect(f->h), 0);
    }
    GCH_LOCALS_END(f->t, r);
}

/* held_mark_begin: start a cycle whose workers keep off, let our own
 * root scan queue our frame's objects on our marker, publish them, and
 * open *mine, a fresh marker, to take them back by draining. */
static void held_mark_begin(struct fixture *f, struct gcmarker *mine)
{
    gchi_test_hold_mark(f->h, true);
    assert_true(gchi_test_gc_start(f->h));
    gch_safepoint(f->t);
    gcmarker_flush(&f->t->marker);
    gcmarker_init(mine, f->h);
}

/* One drain step scans one oblet of a large object, not the object: the
 * rest stays queued for any marker (so assists and stops wait for at most
 * one part). */
static void test_oblet_is_the_unit_of_work(void **state)
{
    struct fixture *f = *state;
    GCH_LOCALS(f->t, r, 1);
    size_t n = 4 * GC_OBLET_BYTES / sizeof(struct elem) + 5;
    r[0] = gch_alloc_array(f->t, &elem_type, n);
    assert_non_null(r[0]);
    struct gcmarker mine;
    held_mark_begin(f, &mine);
    int64_t first = gcmarker_drain(&mine, 1);
    assert_int_equal(first, (int64_t)GC_OBLET_BYTES);
    assert_false(gcwork_is_empty(&mine.work)); /* the other oblets */
    int64_t rest = gcmarker_drain(&mine, -1);
    struct mspan *s = mheap_span_of_heap(&f->h->mheap, (uintptr_t)r[0]);
    assert_int_equal(first + rest, (int64_t)s->largesize); /* Y3: not the slack */
    assert_int_equal(s->largesize, n * sizeof(struct elem));
    gcmarker_flush(&mine);
    gchi_test_hold_mark(f->h, false);
    gchi_test_gc_wait(f->h);
    r[0] = NULL;
    GCH_LOCALS_END(f->t, r);
}

/* MK1: a drain that hops between spans of several classes (a list of
 * cnodes, each pointing at an array of 1..8 elems) marks everything it
 * reaches, and leaves its one-entry span cache empty and unfillable, so
 * no entry outlives the call (the next cycle may free that span). */
static void test_drain_span_cache(void **state)
{
    struct fixture *f = *state;
    enum { N = 3000 };
    GCH_LOCALS(f->t, r, 1);
    for (uint64_t i = 0; i < N; i++) {
        struct cnode *n = new_cnode(f->t, i);
        gch_write(f->t, (void **)&n->next, r[0]);
        r[0] = n;
        struct elem *a = gch_alloc_array(f->t, &elem_type, 1 + i % 8);
        assert_non_null(a);
        gch_write(f->t, (void **)&n->other, a);
    }
    struct gcmarker mine;
    held_mark_begin(f, &mine);
    int64_t done = gcmarker_drain(&mine, -1);
    assert_true(done >= (int64_t)(N * sizeof(struct cnode)));
    assert_false(mine.draining);
    assert_int_equal(mine.cached_len, 0);
    assert_null(mine.cached_span);
    gcmarker_flush(&mine);
    gchi_test_hold_mark(f->h, false);
    gchi_test_gc_wait(f->h);
    assert_int_equal(live_after_collect(f->h), 2 * N);
    uint64_t i = N;
    for (struct cnode *n = r[0]; n != NULL; n = n->next)
        assert_true(cnode_ok(n, --i));
    assert_int_equal(i, 0);
    r[0] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

/* cnode_tree: a complete binary tree of cnodes (next, other = left,
 * right) of the given depth, ids in preorder from *id. */
static struct cnode *cnode_tree(gch_thread *t, int depth, uint64_t *id)
{
    GCH_LOCALS(t, loc, 1);
    loc[0] = new_cnode(t, (*id)++);
    if (depth > 0) {
        struct cnode *l = cnode_tree(t, depth - 1, id);
        gch_write(t, (void **)&((struct cnode *)loc[0])->next, l);
        struct cnode *r = cnode_tree(t, depth - 1, id);
        gch_write(t, (void **)&((struct cnode *)loc[0])->other, r);
    }
    struct cnode *n = loc[0];
    GCH_LOCALS_END(t, loc);
    return n;
}

/* cnode_tree_ok: the tree cnode_tree built, ids in preorder from *id. */
static bool cnode_tree_ok(const struct cnode *n, int depth, uint64_t *id)
{
    if (!cnode_ok(n, (*id)++))
        return false;
    if (depth == 0)
        return n->next == NULL && n->other == NULL;
    return cnode_tree_ok(n->next, depth - 1, id) && cnode_tree_ok(n->other, depth - 1, id);
}

/* G6 through the fast drain's prefetch ring: a drain that stops at its
 * budget holds grey objects taken from its queue but not yet scanned and
 * must put them back, so a tree marked by hundreds of drains of a few
 * objects each, with only our marker working, is marked whole. */
static void test_drain_budget_keeps_ring(void **state)
{
    struct fixture *f = *state;
    enum { DEPTH = 11 };
    uint64_t id = 0;
    GCH_LOCALS(f->t, r, 1);
    r[0] = cnode_tree(f->t, DEPTH, &id);
    const uint64_t n = id;
    struct gcmarker mine;
    held_mark_begin(f, &mine);
    int64_t total = 0, calls = 0;
    for (int64_t d; (d = gcmarker_drain(&mine, 3 * (int64_t)sizeof(struct cnode))) > 0; calls++)
        total += d;
    assert_true(gcwork_is_empty(&mine.work));
    assert_true(calls > (int64_t)n / 8); /* each call stopped at its budget */
    assert_int_equal(total, (int64_t)(n * sizeof(struct cnode)));
    gcmarker_flush(&mine);
    gchi_test_hold_mark(f->h, false);
    gchi_test_gc_wait(f->h);
    assert_int_equal(live_after_collect(f->h), n);
    id = 0;
    assert_true(cnode_tree_ok(r[0], DEPTH, &id));
    r[0] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

/* is_marked: p's mark byte (the cycle's, while it marks). */
static bool is_marked(gch_heap *h, const void *p)
{
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)p);
    assert_non_null(s);
    return mark_load(s->gcmarks, span_object_index(s, (uintptr_t)p));
}

/* A drain that stops at its budget leaves nothing it found unshaded:
 * the references a fast drain holds back for prefetching (its shade
 * queue: each array here lies in another span than its cnode, so each
 * misses the span cache) are greyed before the call returns, as the
 * prefetch ring's objects go back to the queue.  Drained one object per
 * call, in shuffled order (the list links a random permutation of the
 * cnodes), the mark still reaches every object. */
static void test_drain_budget_greys_held(void **state)
{
    struct fixture *f = *state;
    enum { N = 3000 };
    GCH_LOCALS(f->t, r, 2);
    r[1] = gch_alloc_array(f->t, &ref_type, N);
    assert_non_null(r[1]);
    for (uint64_t i = 0; i < N; i++) {
        struct cnode *n = new_cnode(f->t, i);
        gch_write(f->t, &((void **)r[1])[i], n);
        struct elem *a = gch_alloc_array(f->t, &elem_type, 1 + i % 8);
        assert_non_null(a);
        gch_write(f->t, (void **)&n->other, a);
    }
    void **nodes = r[1];
    uint64_t seed = 12345;
    for (size_t i = N - 1; i > 0; i--) { /* shuffle, then link in that order */
        size_t j = (size_t)((seed = mix(seed)) % (i + 1));
        void *x = nodes[i];
        gch_write(f->t, &nodes[i], nodes[j]);
        gch_write(f->t, &nodes[j], x);
    }
    for (size_t i = 0; i + 1 < N; i++)
        gch_write(f->t, (void **)&((struct cnode *)nodes[i])->next, nodes[i + 1]);
    r[0] = nodes[0];
    r[1] = NULL;
    struct gcmarker mine;
    held_mark_begin(f, &mine);
    int64_t total = 0, calls = 0;
    for (int64_t d; (d = gcmarker_drain(&mine, 1)) > 0; calls++)
        total += d;
    assert_true(gcwork_is_empty(&mine.work));
    assert_int_equal(calls, 2 * N); /* one object per call */
    uint64_t seen = 0;
    for (struct cnode *n = r[0]; n != NULL; n = n->next, seen++) {
        assert_true(is_marked(f->h, n));
        assert_true(is_marked(f->h, n->other));
    }
    assert_int_equal(seen, N);
    gcmarker_flush(&mine);
    gchi_test_hold_mark(f->h, false);
    gchi_test_gc_wait(f->h);
    assert_int_equal(live_after_collect(f->h), 2 * N);
    seen = 0;
    for (struct cnode *n = r[0]; n != NULL; n = n->next, seen++)
        assert_true(n->other != NULL && n->id < N);
    r[0] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
}

/* tnode: a trace-callback object whose one reference is its word 2; with
 * its header it takes a 32-byte slot, the class of a cnode. */
struct tnode {
    uint64_t a, b;
    void *kid;
};

static void trace_tnode(gch_visitor *v, void *obj, size_t size)
{
    (void)size;
    gch_visit(v, (void *const *)&((struct tnode *)obj)->kid);
}
static const gch_type tnode_type = {"tnode", sizeof(struct tnode), NULL, trace_tnode};

static int cmp_uptr(const void *a, const void *b);

/* Y1 as the fast drain reads it: a headered object in a slot that held a
 * masked one is scanned by its trace callback, not by the old object's
 * word bits (which marked words 0 and 1 and would leave its word-2 child
 * unmarked, so freed).  Every other old object stays live, so that their
 * spans (and typebits records, with the freed slots' old bits) stay. */
static void test_headered_slot_after_mask(void **state)
{
    struct fixture *f = *state;
    enum { K = 600 };
    static void *roots[K], *keep[K];
    uintptr_t *old = calloc(K, sizeof *old);
    assert_non_null(old);
    assert_int_equal(gch_root_range_add(f->h, keep, K), GCH_OK);
    for (size_t i = 0; i < 2 * K; i++) {
        struct cnode *n = new_cnode(f->t, i);
        if (i % 2)
            gch_write(f->t, &keep[i / 2], n);
        else
            old[i / 2] = (uintptr_t)n; /* garbage */
    }
    qsort(old, K, sizeof *old, cmp_uptr);
    assert_int_equal(live_after_collect(f->h), K);
    assert_int_equal(gch_root_range_add(f->h, roots, K), GCH_OK);
    size_t reused = 0;
    for (size_t i = 0; i < K; i++) {
        struct tnode *tn = gch_alloc(f->t, &tnode_type);
        assert_non_null(tn);
        reused += bsearch(&(uintptr_t){(uintptr_t)tn}, old, K, sizeof *old, cmp_uptr) != NULL;
        gch_write(f->t, &roots[i], tn);
        struct cnode *kid = new_cnode(f->t, i);
        gch_write(f->t, &((struct tnode *)roots[i])->kid, kid);
    }
    assert_true(reused > 0); /* else the test shows nothing */
    assert_int_equal(live_after_collect(f->h), 3 * K);
    for (size_t i = 0; i < K; i++)
        assert_true(cnode_ok(((struct tnode *)roots[i])->kid, i));
    assert_int_equal(gch_root_range_remove(f->h, roots), GCH_OK);
    assert_int_equal(gch_root_range_remove(f->h, keep), GCH_OK);
    assert_int_equal(live_after_collect(f->h), 0);
    free(old);
}

/* A masked object's word bits are cut to its slot's words by the span's
 * wordmask: for every masked size of 1..64 words (every heap-bitmap slot
 * up to HEAPBITS_MAX_SIZE), objects whose one reference is their last
 * word keep their child alive, and one of 64 words all references keeps
 * all 64.  The objects of a size are interleaved with the other sizes'
 * allocations and lie side by side in their spans, so a mask one word
 * short loses the children and one too wide would visit a neighbour. */
static void test_last_word_of_each_size(void **state)
{
    struct fixture *f = *state;
    enum { NW = 64, PER = 3 };
    static uint8_t masks[NW][NW / 8], full[NW / 8];
    static gch_type types[NW], full_type;
    static void *roots[NW * PER + 1];
    for (int n = 1; n <= NW; n++) {
        masks[n - 1][(n - 1) / 8] = (uint8_t)(1u << ((n - 1) % 8));
        types[n - 1] = (gch_type){"lastword", (size_t)n * 8, masks[n - 1], NULL};
    }
    memset(full, 0xff, sizeof full);
    full_type = (gch_type){"allwords", NW * 8, full, NULL};
    assert_int_equal(gch_root_range_add(f->h, roots, NW * PER + 1), GCH_OK);
    for (int k = 0; k < PER; k++) {
        for (int n = 1; n <= NW; n++) {
            void **o = gch_alloc(f->t, &types[n - 1]);
            assert_non_null(o);
            gch_write(f->t, &roots[k * NW + n - 1], o);
            gch_write(f->t, &((void **)roots[k * NW + n - 1])[n - 1], new_cnode(f->t, (uint64_t)(k * NW + n)));
        }
    }
    void **all = gch_alloc(f->t, &full_type);
    assert_non_null(all);
    gch_write(f->t, &roots[NW * PER], all);
    for (int w = 0; w < NW; w++)
        gch_write(f->t, &((void **)roots[NW * PER])[w], new_cnode(f->t, 100000 + (uint64_t)w));
    assert_int_equal(live_after_collect(f->h), 2 * NW * PER + 1 + NW);
    for (int k = 0; k < PER; k++)
        for (int n = 1; n <= NW; n++)
            assert_true(cnode_ok(((struct cnode **)roots[k * NW + n - 1])[n - 1], (uint64_t)(k * NW + n)));
    for (int w = 0; w < NW; w++)
        assert_true(cnode_ok(((struct cnode **)roots[NW * PER])[w], 100000 + (uint64_t)w));
    assert_int_equal(gch_root_range_remove(f->h, roots), GCH_OK);
    assert_int_equal(live_after_collect(f->h), 0);
}

/* ------------------------------------------------------------------ */
/* 6. Tagged values through the decoder                                 */
/* ------------------------------------------------------------------ */

/* Low two bits: 01 a pointer (ptr | 1), 11 a small integer, 00 not a
 * value the VM uses as a reference (ignored). */
static void *tag_decode(uintptr_t w)
{
    return (w & 3) == 1 ? (void *)(w - 1) : NULL;
}
#define TAG(p) ((void *)((uintptr_t)(p) | 1))
#define UNTAG(w) ((void *)((uintptr_t)(w) & ~(uintptr_t)3))
#define SMALLINT(n) ((void *)(((uintptr_t)(n) << 2) | 3))

static void *dec_global, *dec_int_global, *dec_raw_global;

static void test_decoder(void **state)
{
    (void)state;
    gch_heap *h = new_heap(-1, tag_decode, 0);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    struct table heapt = {{0}, 0}, thrt = {{0}, 0};
    dec_global = dec_int_global = dec_raw_global = NULL;
    assert_int_equal(gch_root_add(h, &dec_global), GCH_OK);
    assert_int_equal(gch_root_add(h, &dec_int_global), GCH_OK);
    assert_int_equal(gch_root_add(h, &dec_raw_global), GCH_OK);
    assert_int_equal(gch_heap_scanner_add(h, scan_table, &heapt), GCH_OK);
    assert_int_equal(gch_thread_scanner_add(t, scan_table, &thrt), GCH_OK);
    GCH_LOCALS(t, r, 4);
    int on_stack = 0;

    struct cnode *a = new_cnode(t, 1);
    r[0] = TAG(a);                                     /* frame: tagged */
    struct cnode *b = new_cnode(t, 2);
    /* Every word stored into a reference slot goes through the barrier,
     * whatever its tag: the barrier shades through the decoder as the
     * marker does, so words it decodes to nothing are ignored there too. */
    gch_write(t, (void **)&a->next, TAG(b));                    /* mask slot: tagged */
    gch_write(t, (void **)&a->other, new_cnode(t, 0xdead));     /* raw: ignored */
    gch_write(t, (void **)&b->next, SMALLINT(12345));
    gch_write(t, (void **)&b->other, TAG(&on_stack));           /* outside the heap */
    gch_write(t, &dec_global, TAG(new_cnode(t, 3)));            /* global slot */
    gch_write(t, &dec_int_global, (void *)((uintptr_t)new_cnode(t, 0xdead) | 3)); /* an int tag */
    gch_write(t, &dec_raw_global, new_cnode(t, 0xdead));        /* raw pointer */
    gch_write(t, &heapt.slots[0], TAG(new_cnode(t, 4)));        /* heap scanner */
    gch_write(t, &heapt.slots[1], SMALLINT(-1));
    thrt.slots[0] = TAG(new_cnode(t, 5));              /* thread scanner: no barrier */
    thrt.slots[2] = new_cnode(t, 0xdead);              /* raw: ignored */
    struct vnode *vn = gch_alloc(t, &vnode_type);      /* callback slots */
    assert_non_null(vn);
    r[1] = TAG(vn);
    gch_write(t, &vn->kid[0], TAG(new_cnode(t, 6)));
    gch_write(t, &vn->kid[1], SMALLINT(7));
    gch_write(t, &vn->kid[2], TAG((char *)new_cnode(t, 7) + 8)); /* tagged interior pointer */
    gch_write(t, &vn->kid[3], new_cnode(t, 0xdead));
    vn->n = 4;
    r[2] = (void *)(uintptr_t)0x12345679; /* odd, far outside the heap */

    /* a, b, 3, 4, 5, vn, 6, 7 */
    assert_int_equal(live_after_collect(h), 8);
    assert_true(cnode_ok(a, 1) && cnode_ok(UNTAG(a->next), 2));
    assert_true(cnode_ok(UNTAG(dec_global), 3));
    assert_true(cnode_ok(UNTAG(heapt.slots[0]), 4));
    assert_true(cnode_ok(UNTAG(thrt.slots[0]), 5));
    assert_true(cnode_ok(UNTAG(vn->kid[0]), 6));
    assert_true(cnode_ok((struct cnode *)((char *)UNTAG(vn->kid[2]) - 8), 7));
    assert_ptr_equal(b->next, SMALLINT(12345));

    r[0] = r[1] = r[2] = NULL;
    gch_write(t, &dec_global, NULL);
    gch_write(t, &dec_int_global, NULL);
    gch_write(t, &dec_raw_global, NULL);
    thrt.slots[0] = thrt.slots[2] = NULL;
    gch_write(t, &heapt.slots[0], NULL);
    assert_int_equal(live_after_collect(h), 0);
    GCH_LOCALS_END(t, r);
    assert_int_equal(gch_root_remove(h, &dec_global), GCH_OK);
    assert_int_equal(gch_root_remove(h, &dec_int_global), GCH_OK);
    assert_int_equal(gch_root_remove(h, &dec_raw_global), GCH_OK);
    assert_int_equal(gch_heap_scanner_remove(h, scan_table, &heapt), GCH_OK);
    assert_int_equal(gch_thread_scanner_remove(t, scan_table, &thrt), GCH_OK);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

/* ------------------------------------------------------------------ */
/* 7. Freed slots are reused; memory does not grow                      */
/* ------------------------------------------------------------------ */

/* tag_tree: a complete binary tree of cnodes linked by tagged words
 * (next, other = TAG(left), TAG(right)), ids in preorder from *id; the
 * leaves' links are small integers. */
static struct cnode *tag_tree(gch_thread *t, int depth, uint64_t *id)
{
    GCH_LOCALS(t, loc, 1);
    loc[0] = TAG(new_cnode(t, (*id)++));
    if (depth > 0) {
        struct cnode *l = tag_tree(t, depth - 1, id);
        gch_write(t, (void **)&((struct cnode *)UNTAG(loc[0]))->next, TAG(l));
        struct cnode *r = tag_tree(t, depth - 1, id);
        gch_write(t, (void **)&((struct cnode *)UNTAG(loc[0]))->other, TAG(r));
    } else {
        gch_write(t, (void **)&((struct cnode *)UNTAG(loc[0]))->next, SMALLINT(*id));
    }
    struct cnode *n = UNTAG(loc[0]);
    GCH_LOCALS_END(t, loc);
    return n;
}

static bool tag_tree_ok(const struct cnode *n, int depth, uint64_t *id)
{
    if (!cnode_ok(n, (*id)++))
        return false;
    if (depth == 0)
        return n->next == SMALLINT(*id) && n->other == NULL;
    return tag_tree_ok(UNTAG(n->next), depth - 1, id) && tag_tree_ok(UNTAG(n->other), depth - 1, id);
}

/* The fast drain with a decoder: a tree and a list linked only by
 * tagged words are marked whole, and nothing a raw word points at, by
 * the workers' drains and, with the workers held off, by hundreds of
 * budgeted drains of our own marker (the prefetch ring's objects go back
 * to the queue, G6). */
static void test_decoder_drain(void **state)
{
    (void)state;
    enum { DEPTH = 10, LIST = 3000 };
    gch_heap *h = new_heap(-1, tag_decode, 0);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    GCH_LOCALS(t, r, 2);
    uint64_t id = 0;
    r[0] = TAG(tag_tree(t, DEPTH, &id));
    const uint64_t n = id;
    for (uint64_t i = 0; i < LIST; i++) {
        struct cnode *c = new_cnode(t, i);
        gch_write(t, (void **)&c->next, r[1]);
        r[1] = TAG(c);
        /* a raw word, which the decoder says holds no reference: the
         * node it points at is garbage (if the drain skipped the decoder,
         * it would see an address and keep it) */
        gch_write(t, (void **)&c->other, new_cnode(t, 0xdead));
    }
    assert_int_equal(live_after_collect(h), n + LIST);
    gchi_test_hold_mark(h, true); /* the workers keep off */
    assert_true(gchi_test_gc_start(h));
    gch_safepoint(t); /* our frame: the roots are queued on our marker */
    gcmarker_flush(&t->marker);
    struct gcmarker mine;
    gcmarker_init(&mine, h);
    int64_t total = 0, calls = 0;
    for (int64_t d; (d = gcmarker_drain(&mine, 3 * (int64_t)sizeof(struct cnode))) > 0; calls++)
        total += d;
    assert_true(calls > (int64_t)(n + LIST) / 8);
    assert_int_equal(total, (int64_t)((n + LIST) * sizeof(struct cnode)));
    gcmarker_flush(&mine);
    gchi_test_hold_mark(h, false);
    gchi_test_gc_wait(h);
    assert_int_equal(live_after_collect(h), n + LIST);
    id = 0;
    assert_true(tag_tree_ok(UNTAG(r[0]), DEPTH, &id));
    uint64_t i = LIST;
    for (struct cnode *c = UNTAG(r[1]); c != NULL; c = UNTAG(c->next))
        assert_true(cnode_ok(c, --i));
    assert_int_equal(i, 0);
    r[0] = r[1] = NULL;
    assert_int_equal(live_after_collect(h), 0);
    GCH_LOCALS_END(t, r);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void test_slots_reused(void **state)
{
    struct fixture *f = *state;
    enum { N = 4096, KEEP_EVERY = 64 };
    uintptr_t *addrs = malloc(N * sizeof *addrs);
    assert_non_null(addrs);
    GCH_LOCALS(f->t, r, 1);
    /* Keep every 64th node (on one list) so no span empties entirely:
     * the freed slots must be what the next allocations get. */
    struct cnode *prev_kept = NULL;
    for (int i = 0; i < N; i++) {
        struct cnode *c = new_cnode(f->t, (uint64_t)i);
        addrs[i] = (uintptr_t)c;
        if (i % KEEP_EVERY == 0) {
            if (prev_kept == NULL)
                r[0] = c;
            else
                gch_write(f->t, (void **)&prev_kept->next, c);
            prev_kept = c;
        }
    }
    int kept = N / KEEP_EVERY;
    assert_int_equal(live_after_collect(f->h), kept);
    uint64_t inuse = stats(f->h)->heap_inuse;
    qsort(addrs, N, sizeof *addrs, cmp_uptr);
    int reused = 0;
    for (int i = 0; i < N - kept; i++) {
        uintptr_t p = (uintptr_t)new_cnode(f->t, 0);
        reused += bsearch(&p, addrs, N, sizeof *addrs, cmp_uptr) != NULL;
    }
    assert_int_equal(reused, N - kept);
    assert_int_equal(stats(f->h)->heap_inuse, inuse); /* no new span */
    r[0] = NULL;
    assert_int_equal(live_after_collect(f->h), 0);
    GCH_LOCALS_END(f->t, r);
    free(addrs);
}

static struct cnode *churn_live[100];

static void test_memory_stable(void **state)
{
    struct fixture *f = *state;
    memset(churn_live, 0, sizeof churn_live);
    assert_int_equal(gch_root_range_add(f->h, (void **)churn_live, 100), GCH_OK);
    uint64_t rng = 42, sys_first = 0;
    int cycles = SLOW_SAN ? 20 : 50;
    for (int cyc = 0; cyc < cycles; cyc++) {
        for (int i = 0; i < 20000; i++) {
            struct cnode *c = new_cnode(f->t, (uint64_t)cyc);
            if (rng_next(&rng) % 400 == 0)
                gch_write(f->t, (void **)&churn_live[rng_next(&rng) % 100], c); /* replaces a live one */
        }
        for (int i = 0; i < 2000; i++)
            assert_non_null(gch_alloc_noscan(f->t, 200));
        for (int i = 0; i < 5; i++)
            assert_non_null(gch_alloc_noscan(f->t, 100000));
        for (int i = 0; i < 20; i++)
            assert_non_null(gch_alloc(f->t, &mid_type));
        uint64_t live = 0;
        for (int i = 0; i < 100; i++)
            live += churn_live[i] != NULL;
        assert_int_equal(live_after_collect(f->h), live);
        gch_stats *st = stats(f->h);
        assert_int_equal(st->heap_alloc, live * 32);
        if (cyc == 1)
            sys_first = st->heap_sys;
        else if (cyc > 1)
            assert_int_equal(st->heap_sys, sys_first);
    }
    for (int i = 0; i < 100; i++)
        assert_true(churn_live[i] == NULL || churn_live[i]->sum == mix(churn_live[i]->id));
    assert_int_equal(gch_root_range_remove(f->h, (void **)churn_live), GCH_OK);
    assert_int_equal(live_after_collect(f->h), 0);
}

/* ------------------------------------------------------------------ */
/* 8. Randomized model of an object graph                               */
/* ------------------------------------------------------------------ */

#define MK 4              /* reference fields per node */
#define MROOTS 32         /* 16 frame slots + 16 global range slots */
#define M_LARGE_WORDS 5006
struct mnode {
    uint64_t id;
    uint64_t sum;
    void *f[MK];
    uint64_t pay[]; /* payload words: words of the type after the header */
};
static const uint8_t mnode_mask[(M_LARGE_WORDS + 7) / 8] = {0x3c}; /* words 2..5 */

static void trace_mnode(gch_visitor *v, void *obj, size_t size)
{
    (void)size;
    struct mnode *n = obj;
    for (int k = 0; k < MK; k++)
        gch_visit(v, &n->f[k]);
}

static const gch_type mtypes[4] = {
    {"m-small", 8 * (2 + MK + 2), mnode_mask, NULL},
    {"m-trace", 8 * (2 + MK + 3), NULL, trace_mnode},
    {"m-mid", 8 * (2 + MK + 70), mnode_mask, NULL},   /* > 512 bytes: header */
    {"m-large", 8 * M_LARGE_WORDS, mnode_mask, NULL}, /* > 32 KiB */
};

struct model {
    gch_heap *h;
    gch_thread *t;
    void **frame;   /* MROOTS/2 slots */
    void **globals; /* MROOTS/2 slots */
    void **tmp;     /* one frame slot for a node being built */
    size_t cap, n;  /* ids allocated */
    struct mnode **addr;
    uint8_t *type;
    int32_t (*edge)[MK];
    int32_t root[MROOTS];
    uint32_t *seen;
    uint32_t epoch;
    int32_t *live;
    size_t nlive;
    bool dirty;
    uint64_t rng;
};

static size_t payload_words(uint8_t ty)
{
    return mtypes[ty].size / 8 - 2 - MK;
}

static void **root_slot(struct model *m, int r)
{
    return r < MROOTS / 2 ? &m->frame[r] : &m->globals[r - MROOTS / 2];
}

/* set_model_root: the frame half is written plainly, the global half
 * through the barrier. */
static void set_model_root(struct model *m, int r, void *v)
{
    set_root(m->t, root_slot(m, r), r < MROOTS / 2 ? ROOT_LOCAL : ROOT_GLOBAL, v);
}

/* recompute: the live list = nodes reachable from the model's roots. */
static void recompute(struct model *m)
{
    m->epoch++;
    m->nlive = 0;
    for (int r = 0; r < MROOTS; r++) {
        int32_t id = m->root[r];
        if (id >= 0 && m->seen[id] != m->epoch) {
            m->seen[id] = m->epoch;
            m->live[m->nlive++] = id;
        }
    }
    for (size_t i = 0; i < m->nlive; i++) {
        int32_t id = m->live[i];
        for (int k = 0; k < MK; k++) {
            int32_t to = m->edge[id][k];
            if (to >= 0 && m->seen[to] != m->epoch) {
                m->seen[to] = m->epoch;
                m->live[m->nlive++] = to;
            }
        }
    }
    m->dirty = false;
}

static int32_t pick_live(struct model *m)
{
    if (m->dirty)
        recompute(m);
    return m->nlive ? m->live[rng_next(&m->rng) % m->nlive] : -1;
}

static void *addr_of(struct model *m, int32_t id)
{
    return id < 0 ? NULL : m->addr[id];
}

static uint64_t pay_word(uint64_t id, size_t j)
{
    return mix(id * 0x10000 + j);
}

static void model_alloc(struct model *m)
{
    if (m->n == m->cap)
        return;
    uint64_t x = rng_next(&m->rng) % 100;
    uint8_t ty = x < 60 ? 0 : x < 85 ? 1 : x < 98 ? 2 : 3;
    struct mnode *p = gch_alloc(m->t, &mtypes[ty]);
    assert_non_null(p);
    *m->tmp = p; /* rooted until linked */
    int32_t id = (int32_t)m->n++;
    m->addr[id] = p;
    m->type[id] = ty;
    for (int k = 0; k < MK; k++)
        m->edge[id][k] = -1;
    p->id = (uint64_t)id;
    uint64_t sum = mix((uint64_t)id);
    for (size_t j = 0; j < payload_words(ty); j++) {
        p->pay[j] = pay_word((uint64_t)id, j);
        sum ^= p->pay[j];
    }
    p->sum = sum;
    int32_t from = rng_next(&m->rng) % 2 ? pick_live(m) : -1;
    if (from < 0) {
        int r = (int)(rng_next(&m->rng) % MROOTS);
        if (m->root[r] >= 0)
            m->dirty = true;
        m->root[r] = id;
        set_model_root(m, r, p);
    } else {
        int k = (int)(rng_next(&m->rng) % MK);
        if (m->edge[from][k] >= 0)
            m->dirty = true;
        m->edge[from][k] = id;
        gch_write(m->t, &m->addr[from]->f[k], p);
    }
    if (!m->dirty)
        m->live[m->nlive++] = id, m->seen[id] = m->epoch;
    *m->tmp = NULL;
}

/* model_garbage: objects nothing will reference, some pointing at live
 * nodes. */
static void model_garbage(struct model *m)
{
    if (rng_next(&m->rng) % 2) {
        assert_non_null(gch_alloc_noscan(m->t, 16 + rng_next(&m->rng) % 2000));
        return;
    }
    struct mnode *g = gch_alloc(m->t, &mtypes[rng_next(&m->rng) % 2]);
    assert_non_null(g);
    for (int k = 0; k < MK; k++)
        gch_write(m->t, &g->f[k], addr_of(m, pick_live(m)));
}

/* model_step: one random mutation.  The graph alternates between
 * growing (few references dropped) and shrinking (many dropped, so whole
 * subgraphs and cycles die at once) every 2000 steps. */
static void model_step(struct model *m, int step)
{
    unsigned drop = (step / 2000) % 2 ? 40 : 3; /* percent of stores that drop */
    uint64_t op = rng_next(&m->rng) % 100;
    if (op < 30) {
        model_alloc(m);
    } else if (op < 70) {
        int32_t a = pick_live(m);
        if (a < 0)
            return;
        int k = (int)(rng_next(&m->rng) % MK);
        int32_t b = rng_next(&m->rng) % 100 < drop ? -1 : pick_live(m);
        m->edge[a][k] = b;
        gch_write(m->t, &m->addr[a]->f[k], addr_of(m, b));
        m->dirty = true;
    } else if (op < 75) {
        int r = (int)(rng_next(&m->rng) % MROOTS);
        int32_t b = rng_next(&m->rng) % 100 < drop ? -1 : pick_live(m);
        m->root[r] = b;
        set_model_root(m, r, addr_of(m, b));
        m->dirty = true;
    } else if (op < 95) {
        model_garbage(m);
    } else {
        gch_safepoint(m->t);
    }
}

/* model_check: every reachable node intact and where the model says;
 * the heap holds exactly the reachable nodes. */
static void model_check(struct model *m)
{
    collect(m->h);
    recompute(m);
    uint64_t objects = stats(m->h)->heap_objects;
    for (size_t i = 0; i < m->nlive; i++) {
        int32_t id = m->live[i];
        const struct mnode *p = m->addr[id];
        uint64_t sum = mix((uint64_t)id);
        for (size_t j = 0; j < payload_words(m->type[id]); j++) {
            if (p->pay[j] != pay_word((uint64_t)id, j))
                fail_msg("node %d (%s) payload word %zu damaged", id, mtypes[m->type[id]].name, j);
            sum ^= p->pay[j];
        }
        if (p->id != (uint64_t)id || p->sum != sum)
            fail_msg("node %d (%s at %p) damaged: id %llu", id, mtypes[m->type[id]].name,
                     (const void *)p, (unsigned long long)p->id);
        for (int k = 0; k < MK; k++)
            if (p->f[k] != addr_of(m, m->edge[id][k]))
                fail_msg("node %d field %d changed", id, k);
    }
    for (int r = 0; r < MROOTS; r++)
        assert_ptr_equal(*root_slot(m, r), addr_of(m, m->root[r]));
    if (objects != m->nlive)
        fail_msg("HeapObjects %llu after a collection, %zu nodes reachable",
                 (unsigned long long)objects, m->nlive);
}

static void *model_globals[MROOTS / 2];

static void run_model(int gc_percent, uint64_t seed, int steps, int every)
{
    struct model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->h = new_heap(gc_percent, NULL, 0);
    m->t = gch_thread_attach(m->h);
    assert_non_null(m->t);
    m->cap = (size_t)steps;
    m->addr = calloc(m->cap, sizeof *m->addr);
    m->type = calloc(m->cap, 1);
    m->edge = calloc(m->cap, sizeof *m->edge);
    m->seen = calloc(m->cap, sizeof *m->seen);
    m->live = calloc(m->cap, sizeof *m->live);
    assert_true(m->addr && m->type && m->edge && m->seen && m->live);
    m->rng = seed;
    for (int r = 0; r < MROOTS; r++)
        m->root[r] = -1;
    memset(model_globals, 0, sizeof model_globals);
    m->globals = model_globals;
    assert_int_equal(gch_root_range_add(m->h, model_globals, MROOTS / 2), GCH_OK);
    GCH_LOCALS(m->t, frame, MROOTS / 2);
    GCH_LOCALS(m->t, tmp, 1);
    m->frame = frame;
    m->tmp = tmp;
    int checks = 0;
    for (int s = 1; s <= steps; s++) {
        model_step(m, s);
        if (s % every == 0) {
            model_check(m);
            checks++;
        }
    }
    assert_true(checks > 0);
    gch_stats *st = stats(m->h);
    assert_true(st->num_forced_gc >= (uint32_t)checks);
    if (gc_percent > 0 && gc_percent <= 20 && st->num_gc <= st->num_forced_gc)
        fail_msg("GOGC=%d: %zu nodes and garbage allocated, yet no cycle was triggered "
                 "by allocation (NumGC %u, NumForcedGC %u)",
                 gc_percent, m->n, st->num_gc, st->num_forced_gc);
    for (int r = 0; r < MROOTS; r++)
        set_model_root(m, r, NULL);
    assert_int_equal(live_after_collect(m->h), 0);
    GCH_LOCALS_END(m->t, tmp);
    GCH_LOCALS_END(m->t, frame);
    assert_int_equal(gch_root_range_remove(m->h, model_globals), GCH_OK);
    assert_int_equal(gch_thread_detach(m->t), GCH_OK);
    free_heap(m->h);
    free(m->addr);
    free(m->type);
    free(m->edge);
    free(m->seen);
    free(m->live);
    free(m);
}

static void test_model_gogc_off(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= (SLOW_SAN ? 1 : 3); seed++)
        run_model(-1, 0x1234567 * seed, SLOW_SAN ? 20000 : 100000, 500);
}

static void test_model_auto_cycles(void **state)
{
    (void)state;
    /* GOGC=10: allocation starts cycles between the explicit ones. */
    for (uint64_t seed = 1; seed <= (SLOW_SAN ? 1 : 3); seed++)
        run_model(10, 0xfeedface * seed, SLOW_SAN ? 20000 : 100000, 1500);
}

/* ------------------------------------------------------------------ */
/* 9. Attached threads allocating while gch_collect runs                */
/* ------------------------------------------------------------------ */

#define NLISTS 8
#if SLOW_SAN
#define WORKER_ITERS 10000 /* at least; workers run until told to stop */
#define MAIN_COLLECTS 30
#else
#define WORKER_ITERS 20000
#define MAIN_COLLECTS 100
#endif

struct wstate {
    gch_heap *h;
    int idx;
    _Atomic int done;
    _Atomic int stop;
    uint64_t collects, iters;
    void *groot; /* a global root this worker registers and removes */
};

struct slot_table {
    void *slots[NLISTS];
};

static void scan_slots(gch_visitor *v, void *ctx)
{
    struct slot_table *s = ctx;
    for (int i = 0; i < NLISTS; i++)
        gch_visit(v, &s->slots[i]);
}

static uint64_t wid(int w, int list, uint64_t k)
{
    return ((uint64_t)w << 48) | ((uint64_t)list << 40) | k;
}

/* verify_lists: list i holds ids k = top[i]-1 down to base[i]; each
 * node's `other` is NULL or an intact node. */
static void verify_lists(void **L, int w, const uint64_t *top, const uint64_t *base)
{
    for (int i = 0; i < NLISTS; i++) {
        const struct cnode *c = L[i];
        for (uint64_t k = top[i]; k > base[i]; k--, c = c->next) {
            if (!cnode_ok(c, wid(w, i, k - 1)))
                fail_msg("thread %d list %d node %llu damaged", w, i, (unsigned long long)(k - 1));
            if (c->other != NULL && (c->other->sum != mix(c->other->id) ||
                                     c->other->next != NULL || (c->other->id >> 40 & 0xff) < NLISTS))
                fail_msg("thread %d list %d node %llu: cross link damaged", w, i,
                         (unsigned long long)(k - 1));
        }
        if (c != NULL)
            fail_msg("thread %d list %d too long", w, i);
    }
}

static void *mark_worker(void *arg)
{
    struct wstate *ws = arg;
    gch_thread *t = gch_thread_attach(ws->h);
    assert_non_null(t);
    uint64_t rng = 0x9e37 + (uint64_t)ws->idx;
    uint64_t top[NLISTS] = {0}, base[NLISTS] = {0};
    /* Even workers keep their lists in a handle frame, odd ones in a
     * thread scanner's table. */
    struct slot_table tab = {{0}};
    GCH_LOCALS(t, fr, NLISTS);
    /* anchors: nodes the list nodes cross-link to; replaced now and then,
     * the old ones staying alive while some list node references them */
    GCH_LOCALS(t, anchor, NLISTS);
    uint64_t nanchors = 0;
    void **L = fr;
    if (ws->idx % 2) {
        assert_int_equal(gch_thread_scanner_add(t, scan_slots, &tab), GCH_OK);
        L = tab.slots;
    }
    int it;
    for (it = 0; it < WORKER_ITERS || !ws->stop; it++) {
        int i = (int)(rng_next(&rng) % NLISTS);
        uint64_t r = rng_next(&rng) % 100;
        if (r < 70) {
            struct cnode *c = new_cnode(t, wid(ws->idx, i, top[i]++));
            gch_write(t, (void **)&c->next, L[i]);
            gch_write(t, (void **)&c->other, anchor[rng_next(&rng) % NLISTS]); /* cross link */
            L[i] = c; /* a frame or a thread scanner's table: no barrier */
        } else if (r < 80 && top[i] - base[i] > 1) {
            uint64_t keep = (top[i] - base[i]) / 2;
            struct cnode *c = L[i];
            for (uint64_t k = 1; k < keep; k++)
                c = c->next;
            gch_write(t, (void **)&c->next, NULL); /* the tail becomes garbage (unless cross-linked) */
            base[i] = top[i] - keep;
        } else if (r < 82) {
            L[i] = NULL;
            base[i] = top[i];
        } else if (r < 85) {
            anchor[i] = new_cnode(t, wid(ws->idx, NLISTS + i, nanchors++));
        } else if (r < 86) { /* roots registered and removed between cycles */
            if (ws->groot == NULL) {
                assert_int_equal(gch_root_add(ws->h, &ws->groot), GCH_OK);
                push_chain(t, &ws->groot, ROOT_GLOBAL, 5, wid(ws->idx, 2 * NLISTS, 0));
            } else {
                if (!chain_ok(ws->groot, 5, wid(ws->idx, 2 * NLISTS, 0)))
                    fail_msg("thread %d: chain under a global root damaged", ws->idx);
                assert_int_equal(gch_root_remove(ws->h, &ws->groot), GCH_OK);
                ws->groot = NULL; /* no longer a root: a plain store */
            }
        } else if (r < 95) {
            assert_non_null(gch_alloc_noscan(t, 16 + rng_next(&rng) % 500));
        } else {
            gch_safepoint(t);
        }
        if (it % 5000 == 4999)
            verify_lists(L, ws->idx, top, base);
        if (ws->idx == 0 && it % 10000 == 9999) {
            assert_int_equal(gch_collect(ws->h), GCH_OK); /* an attached collector */
            ws->collects++;
        }
    }
    verify_lists(L, ws->idx, top, base);
    ws->iters = (uint64_t)it;
    if (ws->groot != NULL) {
        assert_true(chain_ok(ws->groot, 5, wid(ws->idx, 2 * NLISTS, 0)));
        assert_int_equal(gch_root_remove(ws->h, &ws->groot), GCH_OK);
    }
    if (ws->idx % 2)
        assert_int_equal(gch_thread_scanner_remove(t, scan_slots, &tab), GCH_OK);
    GCH_LOCALS_END(t, anchor);
    GCH_LOCALS_END(t, fr);
    ws->done = 1;
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

struct blocked {
    gch_heap *h;
    _Atomic int in_blocking;
    _Atomic int release;
};

static void *blocked_worker(void *arg)
{
    struct blocked *b = arg;
    gch_thread *t = gch_thread_attach(b->h);
    assert_non_null(t);
    GCH_LOCALS(t, fr, 1);
    push_chain(t, &fr[0], ROOT_LOCAL, 1000, 77000);
    gch_blocking_enter(t);
    b->in_blocking = 1;
    while (!b->release)
        sleep_ms(1);
    gch_blocking_leave(t);
    assert_true(chain_ok(fr[0], 1000, 77000)); /* its frame was a root throughout */
    GCH_LOCALS_END(t, fr);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

/* churn_worker: attach, build and check a little, detach, again, while
 * cycles run (a detaching thread's cache goes back to the heap). */
struct churn {
    gch_heap *h;
    _Atomic int stop;
    uint64_t rounds;
};

static void *churn_worker(void *arg)
{
    struct churn *c = arg;
    for (uint64_t round = 0; round < 20 || !c->stop; round++) {
        gch_thread *t = gch_thread_attach(c->h);
        assert_non_null(t);
        GCH_LOCALS(t, fr, 1);
        push_chain(t, &fr[0], ROOT_LOCAL, 50, round << 8);
        for (int i = 0; i < 200; i++)
            assert_non_null(gch_alloc_noscan(t, 48));
        gch_safepoint(t);
        if (!chain_ok(fr[0], 50, round << 8))
            fail_msg("churn round %llu: chain damaged", (unsigned long long)round);
        GCH_LOCALS_END(t, fr);
        assert_int_equal(gch_thread_detach(t), GCH_OK);
        c->rounds = round + 1;
    }
    return NULL;
}

static void run_threads(int gc_percent)
{
    gch_heap *h = new_heap(gc_percent, NULL, 0);
    struct blocked b = {h, 0, 0};
    pthread_t bt, th[4];
    assert_int_equal(pthread_create(&bt, NULL, blocked_worker, &b), 0);
    while (!b.in_blocking)
        sleep_ms(1);
    struct churn ch = {h, 0, 0};
    pthread_t cht;
    assert_int_equal(pthread_create(&cht, NULL, churn_worker, &ch), 0);
    struct wstate ws[4];
    for (int i = 0; i < 4; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].h = h;
        ws[i].idx = i;
        assert_int_equal(pthread_create(&th[i], NULL, mark_worker, &ws[i]), 0);
    }
    /* The main thread is not attached: it collects while the workers run
     * (a blocked thread that held the world up would hang here). */
    int n;
    for (n = 0; n < MAIN_COLLECTS; n++) {
        collect(h);
        sleep_ms(1); /* let the workers run between cycles */
    }
    int done = 0;
    for (int i = 0; i < 4; i++)
        done += ws[i].done;
    for (int i = 0; i < 4; i++)
        ws[i].stop = 1;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    ch.stop = 1;
    assert_int_equal(pthread_join(cht, NULL), 0);
    assert_true(ws[0].collects > 0);
    if (done == 4)
        print_message("note: the workers finished before the main thread's cycles did\n");
    /* Only the blocked thread's chain is left. */
    assert_int_equal(live_after_collect(h), 1000);
    b.release = 1;
    assert_int_equal(pthread_join(bt, NULL), 0);
    assert_int_equal(live_after_collect(h), 0);
    assert_true(stats(h)->num_forced_gc >= (uint32_t)n + 2);
    free_heap(h);
}

static void test_threads_gogc_off(void **state)
{
    (void)state;
    run_threads(-1);
}

static void test_threads_auto_cycles(void **state)
{
    (void)state;
    run_threads(25);
}

/* ------------------------------------------------------------------ */
/* 10. GODEBUG=invalidptr                                               */
/* ------------------------------------------------------------------ */

static void *bad_root, *keep_root;

enum bad_kind { BAD_ROOT_FREE_SLOT, BAD_HEAP_FREE_SLOT, BAD_ROOT_FREE_PAGE, BAD_PAST_LIMIT };

/* make_bad: a heap where keep_root holds a live node b and *bad points at
 * memory the heap does not consider allocated; returns the heap. */
static gch_heap *make_bad(gch_heap *h, gch_thread *t, enum bad_kind kind)
{
    bad_root = keep_root = NULL; /* neither is registered yet */
    assert_int_equal(gch_root_add(h, &keep_root), GCH_OK);
    struct cnode *a = new_cnode(t, 1); /* same span as b */
    struct cnode *b = new_cnode(t, 2);
    gch_write(t, &keep_root, b);
    void *large = gch_alloc_noscan(t, 100000);
    assert_non_null(large);
    collect(h); /* frees a and large */
    assert_int_equal(stats(h)->heap_objects, 1);
    /* The bad words are planted with plain stores on purpose: bad_root is
     * not registered until after the switch, and b->next = a puts a
     * dangling pointer into a heap object, which the barrier must not see
     * (it would shade a freed object; no cycle is marking here anyway). */
    switch (kind) {
    case BAD_ROOT_FREE_SLOT:
        bad_root = a;
        break;
    case BAD_HEAP_FREE_SLOT:
        b->next = a; /* deliberate: a dangling pointer, plain store */
        break;
    case BAD_ROOT_FREE_PAGE:
        bad_root = (char *)large + 4096;
        break;
    case BAD_PAST_LIMIT:
        /* a 48-byte class span is one 8 KiB page of 170 slots (8160
         * bytes): its last 32 bytes are past the last slot. */
        {
            void *c = gch_alloc_noscan(t, 48);
            assert_non_null(c);
            gch_write(t, &keep_root, c);
            gch_write(t, (void **)&b->next, NULL);
            bad_root = (void *)(((uintptr_t)c & ~(uintptr_t)8191) + 8190);
        }
        break;
    }
    assert_int_equal(gch_root_add(h, &bad_root), GCH_OK);
    return h;
}

static void bad_child(void *arg)
{
    gch_heap *h = new_heap(-1, NULL, 0); /* invalidptr=1 is the default */
    gch_thread *t = gch_thread_attach(h);
    make_bad(h, t, *(enum bad_kind *)arg);
    gch_collect(h); /* must die */
}

static void test_invalidptr(void **state)
{
    (void)state;
    enum bad_kind kinds[] = {BAD_ROOT_FREE_SLOT, BAD_HEAP_FREE_SLOT, BAD_ROOT_FREE_PAGE,
                             BAD_PAST_LIMIT};
    /* The report names the slot's holder: the dangling word in b is
     * found by a fast drain, which finds b from the slot. */
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        expect_fatal(bad_child, &kinds[i],
                     kinds[i] == BAD_HEAP_FREE_SLOT ? "points to a free object: value 0x" : "bad pointer");
    expect_fatal(bad_child, &kinds[1], "of object 0x");
    expect_fatal(bad_child, &kinds[0], "of root 0 (");
    /* With invalidptr=0 the same words are ignored and resurrect nothing. */
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        gch_heap *h = heap_with_godebug("invalidptr=0", -1);
        gch_thread *t = gch_thread_attach(h);
        assert_non_null(t);
        make_bad(h, t, kinds[i]);
        assert_int_equal(live_after_collect(h), 1);
        assert_int_equal(live_after_collect(h), 1);
        assert_int_equal(gch_root_remove(h, &bad_root), GCH_OK);
        assert_int_equal(gch_root_remove(h, &keep_root), GCH_OK);
        assert_int_equal(live_after_collect(h), 0);
        assert_int_equal(gch_thread_detach(t), GCH_OK);
        free_heap(h);
    }
}

/* ------------------------------------------------------------------ */
/* 11. GODEBUG=clobberfree                                              */
/* ------------------------------------------------------------------ */

static bool all_deadbeef(const void *p, size_t n)
{
    for (size_t i = 0; i < n / 4; i++) {
        uint32_t w;
        peek_freed(&w, (const char *)p + 4 * i, 4);
        if (w != 0xdeadbeefu)
            return false;
    }
    return true;
}

static void test_clobberfree(void **state)
{
    (void)state;
    gch_heap *h = heap_with_godebug("clobberfree=1", -1);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    GCH_LOCALS(t, r, 4);
    char *o[6];
    for (int i = 0; i < 6; i++) { /* consecutive slots of one span */
        o[i] = gch_alloc_noscan(t, 64);
        assert_non_null(o[i]);
        memset(o[i], 0x11, 64);
        if (i % 2 == 0)
            r[i / 2] = o[i];
    }
    struct cnode *keep = new_cnode(t, 1);
    r[3] = keep;
    struct cnode *drop = new_cnode(t, 2);
    gch_write(t, (void **)&keep->next, NULL);
    (void)drop;
    assert_int_equal(live_after_collect(h), 4);
    for (int i = 0; i < 6; i++) {
        if (i % 2 == 0)
            assert_true(mem_all(o[i], 0x11, 64));
        else if (!all_deadbeef(o[i], 64))
            fail_msg("freed object %d not clobbered", i);
    }
    assert_true(cnode_ok(keep, 1));
    assert_true(all_deadbeef(drop, sizeof *drop));
    for (int i = 0; i < 4; i++)
        r[i] = NULL;
    GCH_LOCALS_END(t, r);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

int main(void)
{
    init_masks();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_root_kind, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_collect_from_other_thread, gc_setup, gc_teardown),
        cmocka_unit_test(test_cycle_stats),
        cmocka_unit_test_setup_teardown(test_million_list, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_interior_pointers, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_noscan_keeps_nothing, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_trace_callbacks, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_arrays, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_array_of_traced, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_large_and_mid_objects, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_large_arrays_in_oblets, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_reference_arrays, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_oblet_is_the_unit_of_work, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_drain_span_cache, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_drain_budget_keeps_ring, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_drain_budget_greys_held, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_headered_slot_after_mask, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_last_word_of_each_size, gc_setup, gc_teardown),
        cmocka_unit_test(test_decoder),
        cmocka_unit_test(test_decoder_drain),
        cmocka_unit_test_setup_teardown(test_slots_reused, gc_setup, gc_teardown),
        cmocka_unit_test_setup_teardown(test_memory_stable, gc_setup, gc_teardown),
        cmocka_unit_test(test_model_gogc_off),
        cmocka_unit_test(test_model_auto_cycles),
        cmocka_unit_test(test_threads_gogc_off),
        cmocka_unit_test(test_threads_auto_cycles),
        cmocka_unit_test(test_invalidptr),
        cmocka_unit_test(test_clobberfree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
