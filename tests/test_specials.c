/*
 * test_specials.c - the specials core: per-object records on span lists.
 * Subject: alloc/mspecial.c (invariants SP1-SP5 in mspecial.h) and its
 * calls from the sweep (alloc/msweep.c), mheap_free_span and gchi_free.
 * Go counterpart: runtime/mheap.go (addspecial, removespecial),
 * mgcsweep.go (the specials passes).
 *
 * What it proves:
 *   1. records of several objects and kinds are kept in (offset, kind)
 *      order, a second record of a SPECIAL_UNIQUE kind is refused, equal
 *      non-unique records keep their order, find and remove return the
 *      right record, and the arena bit follows "list non-empty" (SP1-SP3);
 *      the bitmap walk finds exactly the spans with records;
 *   2. a sweep hands the records of unmarked objects to their hooks with
 *      the object's address and slot size, keeps those of marked ones; an
 *      object with a REVIVES record survives with its mark bit set, only
 *      its ON_UNREACHABLE records handed over, and its other records
 *      wait for the sweep that frees it (SP4, SP5);
 *   3. a large object's records are handed over when the sweep frees its
 *      span, and the span's arena bit is cleared (SP3, SP4);
 *   4. gchi_free hands over the freed object's records only;
 *   5. a record a hook keeps is not freed by the sweep.
 *
 * How: GC-off heaps; the test plays the collector as test_sweep.c does
 * (release the cache, set mark bits by hand, flip, sweep everything) and
 * registers test hooks for three kinds, with the kinds' real flags.
 */
#include "testutil.h"

#define SC64 6 /* 64-byte class */

struct seen {
    uintptr_t obj[64];
    size_t size[64];
    uint8_t kind[64];
    int n;
    bool keep; /* the hook keeps the record (test 5) */
    struct special *kept[64];
    int nkept;
};

static bool hook(void *ctx, struct mheap *h, struct special *sp, uintptr_t obj, size_t size)
{
    (void)h;
    struct seen *s = ctx;
    assert_true(s->n < 64);
    assert_null(sp->next);
    s->obj[s->n] = obj;
    s->size[s->n] = size;
    s->kind[s->n] = sp->kind;
    s->n++;
    if (s->keep)
        s->kept[s->nkept++] = sp;
    return s->keep;
}

static struct mheap *mh(gch_heap *h) { return &h->mheap; }
static struct mspan *span_of(gch_heap *h, const void *p) { return mheap_span_of_heap(mh(h), (uintptr_t)p); }

static void register_test_kinds(gch_heap *h, struct seen *seen)
{
    specials_register(mh(h), SPECIAL_FINALIZER, sizeof(struct special),
                      SPECIAL_UNIQUE | SPECIAL_REVIVES | SPECIAL_ON_UNREACHABLE, hook, seen);
    specials_register(mh(h), SPECIAL_WEAK, sizeof(struct special),
                      SPECIAL_UNIQUE | SPECIAL_ON_UNREACHABLE, hook, seen);
    specials_register(mh(h), SPECIAL_CLEANUP, sizeof(struct special) + 16, 0, hook, seen);
}

/* attach: a record of kind for the object at p. */
static struct special *attach(gch_heap *h, void *p, enum special_kind kind, bool expect_ok)
{
    struct mspan *s = span_of(h, p);
    assert_non_null(s);
    struct special *sp = special_alloc(mh(h), kind);
    assert_non_null(sp);
    sp->offset = (uintptr_t)p - s->start;
    bool ok = special_add(mh(h), s, sp);
    assert_int_equal(ok, expect_ok);
    if (!ok)
        special_free(mh(h), sp);
    return ok ? sp : NULL;
}

static bool arena_bit(gch_heap *h, const struct mspan *s)
{
    struct heaparena *a = arena_of(&mh(h)->index, s->start);
    size_t page = (s->start - a->base) >> PAGE_SHIFT;
    return (atomic_u64_load_relaxed(&a->special_bits[page / 64]) >> (page % 64)) & 1;
}

/* check_list: SP1's order and tail hint hold for s. */
static void check_list(gch_heap *h, struct mspan *s)
{
    lock_acquire(span_specials_lock(mh(h), s));
    struct special *last = NULL;
    for (struct special *c = atomic_ptr_load_relaxed(&s->specials); c != NULL; c = c->next) {
        if (last != NULL)
            assert_true(last->offset < c->offset || (last->offset == c->offset && last->kind <= c->kind));
        last = c;
    }
    assert_ptr_equal(s->specials_tail, last);
    lock_release(span_specials_lock(mh(h), s));
}

static void set_mark(gch_heap *h, const void *p)
{
    struct mspan *s = span_of(h, p);
    mark_store(s->gcmarks, span_object_index(s, (uintptr_t)p));
}

static bool alloc_bit(gch_heap *h, const void *p)
{
    struct mspan *s = span_of(h, p);
    return s != NULL && bit_is_set(s->alloc_bits, span_object_index(s, (uintptr_t)p));
}

/* cycle: flip and sweep everything, the marks set by the caller since
 * the last call being the cycle's (the cache was released before). */
static void cycle(gch_heap *h)
{
    mheap_sweep_flip(mh(h));
    mheap_sweep_finish(mh(h));
}

struct walk {
    struct mspan *found[8];
    int n;
};

static void walk_fn(void *ctx, struct mspan *s)
{
    struct walk *w = ctx;
    assert_true(w->n < 8);
    w->found[w->n++] = s;
}

static void test_list_order(void **state)
{
    struct fixture *f = *state;
    struct seen seen = {0};
    register_test_kinds(f->h, &seen);
    void *a = gch_alloc_noscan(f->t, 64), *b = gch_alloc_noscan(f->t, 64);
    assert_ptr_equal(span_of(f->h, a), span_of(f->h, b));
    struct mspan *s = span_of(f->h, a);
    assert_false(span_has_specials(s));
    assert_false(arena_bit(f->h, s));
    /* b before a in address order; add out of order. */
    void *lo = a < b ? a : b, *hi = a < b ? b : a;
    struct special *c1 = attach(f->h, hi, SPECIAL_CLEANUP, true);
    struct special *w = attach(f->h, hi, SPECIAL_WEAK, true);
    struct special *c2 = attach(f->h, hi, SPECIAL_CLEANUP, true);
    struct special *fin = attach(f->h, lo, SPECIAL_FINALIZER, true);
    attach(f->h, lo, SPECIAL_FINALIZER, false); /* unique */
    attach(f->h, hi, SPECIAL_WEAK, false);
    check_list(f->h, s);
    struct special *c3 = attach(f->h, hi, SPECIAL_CLEANUP, true); /* appended at the tail */
    assert_ptr_equal(s->specials_tail, c3);
    assert_ptr_equal(special_remove(mh(f->h), s, (uintptr_t)hi - s->start, SPECIAL_CLEANUP), c1);
    check_list(f->h, s);
    assert_ptr_equal(special_remove(mh(f->h), s, (uintptr_t)hi - s->start, SPECIAL_CLEANUP), c2);
    assert_ptr_equal(special_remove(mh(f->h), s, (uintptr_t)hi - s->start, SPECIAL_CLEANUP), c3);
    check_list(f->h, s);
    assert_ptr_equal(s->specials_tail, w);
    special_free(mh(f->h), c1);
    special_free(mh(f->h), c2);
    special_free(mh(f->h), c3);
    c1 = attach(f->h, hi, SPECIAL_CLEANUP, true);
    c2 = attach(f->h, hi, SPECIAL_CLEANUP, true);
    check_list(f->h, s);
    assert_true(span_has_specials(s));
    assert_true(arena_bit(f->h, s));
    struct special *want[] = {fin, w, c1, c2};
    struct special *c = atomic_ptr_load_relaxed(&s->specials);
    for (size_t i = 0; i < 4; i++, c = c->next)
        assert_ptr_equal(c, want[i]);
    assert_null(c);
    struct walk wk = {0};
    specials_for_each_span(mh(f->h), walk_fn, &wk);
    assert_int_equal(wk.n, 1);
    assert_ptr_equal(wk.found[0], s);
    lock_acquire(span_specials_lock(mh(f->h), s));
    assert_ptr_equal(special_find_locked(s, (uintptr_t)hi - s->start, SPECIAL_CLEANUP), c1);
    assert_null(special_find_locked(s, (uintptr_t)lo - s->start, SPECIAL_CLEANUP));
    lock_release(span_specials_lock(mh(f->h), s));
    assert_ptr_equal(special_remove(mh(f->h), s, (uintptr_t)hi - s->start, SPECIAL_CLEANUP), c1);
    assert_ptr_equal(special_remove(mh(f->h), s, (uintptr_t)hi - s->start, SPECIAL_CLEANUP), c2);
    assert_null(special_remove(mh(f->h), s, (uintptr_t)hi - s->start, SPECIAL_CLEANUP));
    assert_ptr_equal(special_remove(mh(f->h), s, (uintptr_t)lo - s->start, SPECIAL_FINALIZER), fin);
    assert_true(arena_bit(f->h, s));
    assert_ptr_equal(special_remove(mh(f->h), s, (uintptr_t)hi - s->start, SPECIAL_WEAK), w);
    assert_false(span_has_specials(s));
    assert_false(arena_bit(f->h, s));
    wk.n = 0;
    specials_for_each_span(mh(f->h), walk_fn, &wk);
    assert_int_equal(wk.n, 0);
    special_free(mh(f->h), c1);
    special_free(mh(f->h), c2);
    special_free(mh(f->h), fin);
    special_free(mh(f->h), w);
    assert_int_equal(atomic_u64_load_relaxed(&mh(f->h)->specials.nrecords), 0);
    assert_int_equal(seen.n, 0);
}

static void test_sweep_dead_and_revived(void **state)
{
    struct fixture *f = *state;
    struct seen seen = {0};
    register_test_kinds(f->h, &seen);
    void *live = gch_alloc_noscan(f->t, 64);
    void *dead = gch_alloc_noscan(f->t, 64);
    void *fin = gch_alloc_noscan(f->t, 64);
    assert_ptr_equal(span_of(f->h, live), span_of(f->h, fin));
    attach(f->h, live, SPECIAL_CLEANUP, true);
    attach(f->h, dead, SPECIAL_WEAK, true);
    attach(f->h, dead, SPECIAL_CLEANUP, true);
    attach(f->h, fin, SPECIAL_FINALIZER, true);
    attach(f->h, fin, SPECIAL_WEAK, true);
    attach(f->h, fin, SPECIAL_CLEANUP, true);
    mcache_release_all(gchi_thread_cache(f->t));
    set_mark(f->h, live);
    cycle(f->h);
    /* dead: both records handed over, in list order; fin: revived, its
     * finalizer and weak records handed over, the cleanup kept. */
    assert_int_equal(seen.n, 4);
    int idead = seen.obj[0] == (uintptr_t)dead ? 0 : 2;
    int ifin = 2 - idead;
    assert_int_equal(seen.obj[idead], (uintptr_t)dead);
    assert_int_equal(seen.kind[idead], SPECIAL_WEAK);
    assert_int_equal(seen.kind[idead + 1], SPECIAL_CLEANUP);
    assert_int_equal(seen.obj[ifin], (uintptr_t)fin);
    assert_int_equal(seen.obj[ifin + 1], (uintptr_t)fin);
    assert_int_equal(seen.kind[ifin], SPECIAL_FINALIZER);
    assert_int_equal(seen.kind[ifin + 1], SPECIAL_WEAK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(seen.size[i], 64);
    assert_true(alloc_bit(f->h, live));
    assert_true(alloc_bit(f->h, fin)); /* SP5 */
    assert_false(alloc_bit(f->h, dead));
    struct mspan *s = span_of(f->h, live);
    lock_acquire(span_specials_lock(mh(f->h), s));
    assert_non_null(special_find_locked(s, (uintptr_t)fin - s->start, SPECIAL_CLEANUP));
    assert_null(special_find_locked(s, (uintptr_t)fin - s->start, SPECIAL_FINALIZER));
    assert_non_null(special_find_locked(s, (uintptr_t)live - s->start, SPECIAL_CLEANUP));
    lock_release(span_specials_lock(mh(f->h), s));
    assert_int_equal(atomic_u64_load_relaxed(&mh(f->h)->specials.nrecords), 2);
    check_list(f->h, s);
    /* Next cycle: only live marked; fin is freed now, its cleanup runs. */
    seen.n = 0;
    set_mark(f->h, live);
    cycle(f->h);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.obj[0], (uintptr_t)fin);
    assert_int_equal(seen.kind[0], SPECIAL_CLEANUP);
    assert_false(alloc_bit(f->h, fin));
    /* And a cycle with no mark frees live, the span, and its record. */
    seen.n = 0;
    cycle(f->h);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.obj[0], (uintptr_t)live);
    assert_null(span_of(f->h, live));
    assert_int_equal(atomic_u64_load_relaxed(&mh(f->h)->specials.nrecords), 0);
}

static void test_large_span_freed(void **state)
{
    struct fixture *f = *state;
    struct seen seen = {0};
    register_test_kinds(f->h, &seen);
    void *big = gch_alloc_noscan(f->t, 100000);
    struct mspan *s = span_of(f->h, big);
    size_t size = s->elemsize;
    assert_true(size >= 100000);
    attach(f->h, big, SPECIAL_CLEANUP, true);
    struct heaparena *a = arena_of(&mh(f->h)->index, s->start);
    size_t page = (s->start - a->base) >> PAGE_SHIFT;
    assert_true(arena_bit(f->h, s));
    mcache_release_all(gchi_thread_cache(f->t));
    cycle(f->h);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.obj[0], (uintptr_t)big);
    assert_int_equal(seen.size[0], size);
    assert_null(span_of(f->h, big));
    assert_false((atomic_u64_load_relaxed(&a->special_bits[page / 64]) >> (page % 64)) & 1);
}

static void test_explicit_free(void **state)
{
    struct fixture *f = *state;
    struct seen seen = {0};
    register_test_kinds(f->h, &seen);
    void *a = gch_alloc_noscan(f->t, 64), *b = gch_alloc_noscan(f->t, 64);
    attach(f->h, a, SPECIAL_CLEANUP, true);
    attach(f->h, b, SPECIAL_CLEANUP, true);
    mcache_release_all(gchi_thread_cache(f->t));
    gchi_free(f->t, a);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.obj[0], (uintptr_t)a);
    assert_true(span_has_specials(span_of(f->h, b)));
    gchi_free(f->t, b);
    assert_int_equal(seen.n, 2);
    assert_int_equal(atomic_u64_load_relaxed(&mh(f->h)->specials.nrecords), 0);
}

static void test_hook_keeps_record(void **state)
{
    struct fixture *f = *state;
    struct seen seen = {0};
    seen.keep = true;
    register_test_kinds(f->h, &seen);
    void *a = gch_alloc_noscan(f->t, 64);
    attach(f->h, a, SPECIAL_CLEANUP, true);
    mcache_release_all(gchi_thread_cache(f->t));
    cycle(f->h);
    assert_int_equal(seen.nkept, 1);
    assert_int_equal(atomic_u64_load_relaxed(&mh(f->h)->specials.nrecords), 1);
    special_free(mh(f->h), seen.kept[0]);
    assert_int_equal(atomic_u64_load_relaxed(&mh(f->h)->specials.nrecords), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_order, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_dead_and_revived, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_large_span_freed, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_explicit_free, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_hook_keeps_record, heap_setup, heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
