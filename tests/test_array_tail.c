/*
 * test_array_tail.c - the collector scans exactly the elements an object
 * was allocated with, never the slack after them that gch_usable_size
 * reports (alloc/mspan.h Y3; gcheap.h, gch_usable_size and gch_trace_fn).
 * Regression tests for issue 16 item 2 (../shared/repro/usable_tail.c).
 *
 * What it proves, for arrays in each kind of slot: heap-bitmap (<= 512
 * bytes), headered small (a type header at the end of the slot) and
 * large (own span, oblets past 128 KiB):
 *   - a plain integer in the slack equal to the address of a freed slot
 *     is not taken for a reference (GODEBUG invalidptr=1, the default,
 *     would abort the process);
 *   - a reference stored in the slack does not keep its object alive;
 *   - a trace callback is called once per element allocated, never for
 *     an "extra element" in the slack (which here holds 0xFF bytes).
 */
#include "testutil.h"
#include "mheap.h"
#include "mspan.h"

#include <stdatomic.h>

struct elem {
    void *p;
    uint64_t x;
};
static const uint8_t elem_mask[] = {0x01};
static const gch_type elem_type = {"elem", sizeof(struct elem), elem_mask, NULL};

/* Arrays of each kind: 17 elements (272 bytes, a 288-byte heap-bitmap
 * slot), 40 (640 bytes, a headered 704-byte slot), 3000 (48000 bytes, a
 * 6-page large object) and 10000 (160000 bytes: two oblets). */
static const size_t lengths[] = {17, 40, 3000, 10000};
#define NLENGTHS (sizeof lengths / sizeof lengths[0])

/* alloc_bit: the alloc bit of the slot holding p (its span uncached and
 * swept, as after gch_collect); false when the span was freed. */
static bool alloc_bit(gch_heap *h, const void *p)
{
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)p);
    if (s == NULL)
        return false;
    uint32_t idx = s->divmagic == 0 ? 0 : span_object_index(s, (uintptr_t)p);
    return bit_is_set(s->alloc_bits, idx);
}

/* slack_word: the first 8-byte word after n elements of arr, which must
 * lie within the usable size. */
static void *slack_word(gch_heap *h, void *arr, size_t n)
{
    size_t used = n * sizeof(struct elem);
    assert_true(gch_usable_size(h, arr) >= used + 8);
    return (char *)arr + used;
}

/* A reference in the slack keeps nothing alive. */
static void test_slack_reference_is_not_scanned(void **state)
{
    struct fixture *f = *state;
    static void *root[1];
    assert_int_equal(gch_root_range_add(f->h, root, 1), GCH_OK);
    for (size_t i = 0; i < NLENGTHS; i++) {
        struct elem *arr = gch_alloc_array(f->t, &elem_type, lengths[i]);
        assert_non_null(arr);
        gch_write(f->t, &root[0], arr);
        void *victim = gch_alloc_noscan(f->t, 48);
        assert_non_null(victim);
        memcpy(slack_word(f->h, arr, lengths[i]), &victim, 8);
        assert_int_equal(gch_collect(f->h), GCH_OK);
        assert_true(alloc_bit(f->h, arr));
        assert_false(alloc_bit(f->h, victim)); /* freed: the slack was not scanned */
    }
    gch_write(f->t, &root[0], NULL);
    assert_int_equal(gch_root_range_remove(f->h, root), GCH_OK);
}

/* child_integer_in_slack: usable_tail.c's program for one length: an
 * integer equal to a freed slot's address in the slack, then a cycle
 * with invalidptr on.  Exits 0 if the process survives. */
static void child_integer_in_slack(size_t n)
{
    gch_heap *h = test_heap_new_nogc();
    gch_thread *t = gch_thread_attach(h);
    static void *root[2];
    gch_root_range_add(h, root, 2);
    gch_write(t, &root[1], gch_alloc_noscan(t, 32));
    uintptr_t dead = (uintptr_t)gch_alloc_noscan(t, 32);
    gch_collect(h); /* dead's slot is free now */
    if (alloc_bit(h, (void *)dead))
        _exit(3);
    struct elem *arr = gch_alloc_array(t, &elem_type, n);
    gch_write(t, &root[0], arr);
    memcpy(slack_word(h, arr, n), &dead, 8);
    gch_collect(h);
    _exit(0);
}

static void test_slack_integer_is_not_a_bad_pointer(void **state)
{
    (void)state;
    for (size_t i = 0; i < NLENGTHS; i++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child_integer_in_slack(lengths[i]);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("%zu elements: the child died (status %#x): the slack was scanned", lengths[i],
                     status);
    }
}

/* ---- trace callbacks ------------------------------------------------------ */

static struct {
    _Atomic(uintptr_t) base, end; /* the array being watched */
    atomic_size_t calls, past_end, bad_size;
} watch;

static void trace_elem(gch_visitor *v, void *obj, size_t size)
{
    uintptr_t o = (uintptr_t)obj;
    if (size != sizeof(struct elem))
        atomic_fetch_add(&watch.bad_size, 1);
    if (o >= atomic_load(&watch.base) && o < atomic_load(&watch.base) + (1u << 20)) {
        atomic_fetch_add(&watch.calls, 1);
        if (o >= atomic_load(&watch.end))
            atomic_fetch_add(&watch.past_end, 1);
    }
    gch_visit(v, (void *const *)&((struct elem *)obj)->p);
}
static const gch_type traced_elem = {"traced elem", sizeof(struct elem), NULL, trace_elem};

/* A trace callback sees each element allocated once, and nothing else,
 * even with the slack full of non-zero bytes. */
static void test_trace_called_once_per_element(void **state)
{
    struct fixture *f = *state;
    static void *root[1];
    assert_int_equal(gch_root_range_add(f->h, root, 1), GCH_OK);
    /* 20 elements: 320 bytes in a 352-byte slot with a header bit */
    static const size_t traced_lengths[] = {20, 40, 3000, 10000};
    for (size_t i = 0; i < sizeof traced_lengths / sizeof traced_lengths[0]; i++) {
        size_t n = traced_lengths[i], used = n * sizeof(struct elem);
        struct elem *arr = gch_alloc_array(f->t, &traced_elem, n);
        assert_non_null(arr);
        size_t usable = gch_usable_size(f->h, arr);
        assert_true(usable >= used + sizeof(struct elem)); /* room for an "extra element" */
        memset((char *)arr + used, 0xFF, usable - used);
        gch_write(f->t, &root[0], arr);
        atomic_store(&watch.base, (uintptr_t)arr);
        atomic_store(&watch.end, (uintptr_t)arr + used);
        atomic_store(&watch.calls, 0);
        atomic_store(&watch.past_end, 0);
        assert_int_equal(gch_collect(f->h), GCH_OK);
        assert_int_equal(atomic_load(&watch.calls), n);
        assert_int_equal(atomic_load(&watch.past_end), 0);
    }
    assert_int_equal(atomic_load(&watch.bad_size), 0);
    gch_write(f->t, &root[0], NULL);
    assert_int_equal(gch_root_range_remove(f->h, root), GCH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slack_reference_is_not_scanned, heap_setup, heap_teardown),
        cmocka_unit_test(test_slack_integer_is_not_a_bad_pointer),
        cmocka_unit_test_setup_teardown(test_trace_called_once_per_element, heap_setup, heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
