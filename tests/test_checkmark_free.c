/*
 * test_checkmark_free.c - GODEBUG=gccheckmark=1 reports a reachable slot
 * that has neither a mark nor an alloc bit (gc/mcheckmark.c).  Regression
 * test for issue 16 item 5: such a slot is what an object handed out
 * during the mark without its mark bit looks like (its span cached, so
 * its alloc bit not yet committed: mspan.h M4), and the pass used to
 * skip it as free, so the sweep freed a reachable object unreported.
 *
 * The child simulates exactly that: during a held mark, after its own
 * frames were scanned, it allocates an object (black), clears the mark
 * bit, and keeps the object only in its (already scanned) frame; the
 * real mark never sees it, and the checkmark pass must stop the process
 * naming the slot and its path from the frame.
 */
#include "testutil.h"
#include "mheap.h"
#include "mspan.h"

struct node {
    void *next;
    uint64_t magic;
};
static const uint8_t node_mask[] = {0x01};
static const gch_type node_type = {"node", sizeof(struct node), node_mask, NULL};

static void white_during_mark(void *arg)
{
    (void)arg;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "CMFREE_";
    cfg.gc_percent = -1;
    setenv("CMFREE_GODEBUG", "gccheckmark=1", 1);
    gch_heap *h = gch_heap_new(&cfg);
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, loc, 1);
    gchi_test_hold_mark(h, true);
    gchi_test_gc_start(h);
    gch_safepoint(t); /* our frames: scanned, black from here on */
    struct node *n = gch_alloc(t, &node_type);
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)n);
    uint32_t idx = span_object_index(s, (uintptr_t)n);
    mem_u8_store_relaxed(&s->gcmarks[idx], 0); /* the mark lost */
    loc[0] = n; /* a frame slot: no barrier */
    gchi_test_hold_mark(h, false);
    gchi_test_gc_wait(h); /* the checkmark pass at termination */
    GCH_LOCALS_END(t, loc);
}

static void test_checkmark_reports_slot_without_bits(void **state)
{
    (void)state;
    expect_fatal(white_during_mark, NULL, "has neither a mark nor an alloc bit");
}

/* The report's path finder walks breadth-first from the roots; a noscan
 * object met on the way must not be scanned (it used to be, reading a
 * type header it does not have: a crash instead of the report). */
static void white_behind_noscan(void *arg)
{
    (void)arg;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "CMFREE_";
    cfg.gc_percent = -1;
    setenv("CMFREE_GODEBUG", "gccheckmark=1", 1);
    gch_heap *h = gch_heap_new(&cfg);
    gch_thread *t = gch_thread_attach(h);
    static void *g[2];
    gch_root_range_add(h, g, 2);
    gchi_test_hold_mark(h, true);
    gchi_test_gc_start(h);
    gch_safepoint(t);
    uint64_t *noscan = gch_alloc_noscan(t, 48);
    noscan[0] = ~(uint64_t)0; /* not a type header */
    gch_write(t, &g[0], noscan); /* the first root: met first */
    struct node *a = gch_alloc(t, &node_type); /* black, never scanned */
    struct node *lost = gch_alloc(t, &node_type);
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)lost);
    uint32_t idx = span_object_index(s, (uintptr_t)lost);
    mem_u8_store_relaxed(&s->gcmarks[idx], 0); /* the mark lost */
    __atomic_store_n(&a->next, lost, __ATOMIC_RELEASE); /* no barrier */
    gch_write(t, &g[1], a);
    gchi_test_hold_mark(h, false);
    gchi_test_gc_wait(h);
}

static void test_checkmark_path_skips_noscan(void **state)
{
    (void)state;
    expect_fatal(white_behind_noscan, NULL, "path: root slot");
}

/* A stale word into a free slot of a span some cache took during the
 * mark (allocate black, mcache.h K5): the pass runs before the caches are
 * released, so that slot's mark bit is only its colour.  It must be
 * taken for free, as before colouring: ignored with invalidptr=0,
 * reported with invalidptr=1; it used to be scanned as an object, and its
 * zero type header crashed the pass (review F1 of K5). */
struct big {
    void *p[128];
};
static const uint8_t big_mask[16] = {0x01};
static const gch_type big_type = {"big", sizeof(struct big), big_mask, NULL};

static void small_trace(gch_visitor *v, void *obj, size_t size)
{
    (void)size;
    gch_visit(v, (void *const *)obj);
}
static const gch_type small_traced = {"small_traced", 64, NULL, small_trace};

struct stale_case {
    const gch_type *type;
    const char *godebug;
};

static void stale_into_coloured(void *arg)
{
    const struct stale_case *c = arg;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "CMFREE_";
    cfg.gc_percent = -1;
    setenv("CMFREE_GODEBUG", c->godebug, 1);
    gch_heap *h = gch_heap_new(&cfg);
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, loc, 2);
    gchi_test_hold_mark(h, true);
    gchi_test_gc_start(h);
    gch_safepoint(t);
    char *a = gch_alloc(t, c->type); /* from a span cached now: coloured */
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)a);
    uint32_t idx = span_object_index(s, (uintptr_t)a);
    if (!s->black || idx + 1 >= s->nelems || bit_load(s->alloc_bits, idx + 1) ||
        !mark_load(s->gcmarks, idx + 1))
        _exit(3); /* the setup did not give a coloured free neighbour */
    loc[0] = a;
    loc[1] = a + s->elemsize; /* the next slot: free, its mark bit the colour */
    gchi_test_hold_mark(h, false);
    gchi_test_gc_wait(h); /* the checkmark pass at termination */
    if (gch_collect(h) != GCH_OK) /* a whole cycle with the slot uncoloured */
        _exit(4);
    GCH_LOCALS_END(t, loc);
    gch_thread_detach(t);
    gch_heap_free(h);
}

static void test_checkmark_stale_into_coloured_slot(void **state)
{
    (void)state;
    const gch_type *types[] = {&big_type, &small_traced};
    for (size_t i = 0; i < 2; i++) {
        const char *dbg[] = {"gccheckmark=1,invalidptr=0", "gccheckmark=1,invalidptr=0,clobberfree=1"};
        for (size_t d = 0; d < 2; d++) {
            struct stale_case c = {types[i], dbg[d]};
            char buf[8192];
            int status = child_stderr(stale_into_coloured, &c, buf, sizeof buf);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("%s, %s: child status %d, stderr:\n%s", types[i]->name, dbg[d], status,
                         buf);
        }
        struct stale_case c = {types[i], "gccheckmark=1"};
        expect_fatal(stale_into_coloured, &c, "has neither a mark nor an alloc bit");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkmark_reports_slot_without_bits),
        cmocka_unit_test(test_checkmark_path_skips_noscan),
        cmocka_unit_test(test_checkmark_stale_into_coloured_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
