/*
 * mbarrier.c - the write barrier: slow paths, bulk forms, and the
 * per-thread barrier buffer.
 * Go counterpart: runtime/mbarrier.go (the essay on the hybrid barrier),
 * mwbbuf.go (wbBuf and its flush).  The inline fast path is
 * include/gcheap/barrier.h.  Overview of the cycle: gc/mgc.c.
 *
 * ==== Why the collector needs a barrier (read this first) ====
 *
 * While the collector marks, the mutators keep changing the object graph.
 * Tri-colour marking loses an object when a mutator hides a white object
 * behind a black one: it stores a reference to W into an object (or root)
 * already scanned, and removes the last reference to W from everywhere the
 * marker has yet to look.  gcheap uses Go's hybrid barrier, which breaks
 * both halves of that pattern at every store made while marking:
 *   - the old value of the slot is shaded (Yuasa's deletion barrier): a
 *     reference removed from an unscanned place cannot vanish unseen;
 *   - the new value is shaded (Dijkstra's insertion barrier): a reference
 *     stored into a scanned place is marked anyway.
 * Handle frames and thread scanners have no barrier.  They are scanned
 * once per cycle, each by its own thread at a safepoint, and are black
 * afterwards; the deletion half is what makes that enough: a reference a
 * thread loads into its frames came from the heap or a global, and if it
 * is later removed from there, that store shades it.  Objects allocated
 * while marking are black from birth (alloc/mcache.h, allocate black).
 *
 * Shading goes through a buffer: a barriered store appends the old and new
 * values to the thread's wbuf and does the store; a full buffer (and every
 * handshake flush and mark termination) greys its entries into the
 * thread's marker and publishes the work for the mark workers.
 *
 * Memory order.  Slots are stored with release (also on the inline path)
 * and loaded with acquire, both by the marker (gc/mgcmark.c: visit_slot,
 * the bitmap loop) and by the barrier itself (the old value of a slot,
 * gch_write_range's sources, gch_write_clear's old values; the CAS is
 * sequentially consistent).  A concurrent scan therefore reads either
 * value, never a torn one, and whoever loads a reference X synchronises
 * with the store that published X, which the allocating thread made after
 * setting X's mark bit (allocate black) and X's span metadata.  So when
 * the buffer entry is later shaded, the shading thread (the owner, in
 * program order after the load) sees X's span in use and, for an object
 * allocated black, its mark bit set: it never reads X's slot as free.
 *
 * gch_write_cas shades what the slot actually held (the value the CAS
 * read, whether or not it succeeded) and the desired value only when the
 * CAS succeeded.  Shading the caller's comparand instead would shade a
 * pointer the caller may have kept across a whole cycle, an object long
 * freed.  Recording the entries after the CAS rather than before is safe
 * because the buffer is drained only by its owner at a safepoint (or by
 * a worker while the owner blocks, which a barrier call cannot be in),
 * so nothing observes the buffer between the CAS and the record; the
 * value the CAS replaced cannot be freed before then, since freeing
 * needs mark termination, which needs this thread at a safepoint.
 *
 * Invariants:
 *   B1 while the phase is MARK every attached thread has its barrier on
 *      (head.wb_enabled, set by gc_set_phase with the world stopped, or at
 *      attach during a mark);
 *   B2 a buffered barrier entry is shaded before mark termination drains
 *      for the last time (handshake flush, then the STW flush of every
 *      thread).
 */
#define GCHI_BUILDING 1
#include "mbarrier.h"
#include "heap.h"
#include "error.h"
#include "gcbase.h"
#include "mgcmark.h"

#include <string.h>

void gc_wbuf_flush(struct gch_thread *t, struct gcmarker *m)
{
    gcmarker_shade_buf(m, t->wbuf, t->wbuf_n);
    t->wbuf_n = 0;
}

void gc_thread_flush(struct gch_thread *t)
{
    gc_wbuf_flush(t, &t->marker);
    gcmarker_flush(&t->marker);
}

/* wbuf_put: record two values for shading (0 entries are skipped). */
static inline void wbuf_put(struct gch_thread *t, uintptr_t a, uintptr_t b)
{
    if (GCH_UNLIKELY(t->wbuf_n + 2 > WBUF_ENTRIES)) {
        gc_thread_flush(t);
    }
    if (a != 0)
        t->wbuf[t->wbuf_n++] = a;
    if (b != 0)
        t->wbuf[t->wbuf_n++] = b;
}

/* barrier_thread: t, checked once per slow path: a barrier used from the
 * wrong OS thread would corrupt another thread's buffer. */
static struct gch_thread *barrier_thread(gch_thread *t, const char *what)
{
    if (t == NULL || gchi_check_thread(&t->mcache) != GCH_OK)
        gch_fatalf("%s: thread not attached to this OS thread", what);
    stw_check_not_blocking(t, what); /* a worker may be flushing its buffer */
    return t;
}

/* gch_write_check_slow: the out-of-line half of debug builds' inline
 * thread check (gcheap/barrier.h): fatal unless t is attached and owned
 * by the calling OS thread.  Returns only when t is fine (the non-GNU
 * fallback calls it for every write). */
void gch_write_check_slow(gch_thread *t)
{
    barrier_thread(t, "gch_write");
}

void gch_write_slow(gch_thread *t, void **slot, void *value)
{
    barrier_thread(t, "gch_write");
    uintptr_t old = slot_load_acquire(slot); /* see the essay */
    wbuf_put(t, old, (uintptr_t)value);
    slot_store_release(slot, value);
}

static bool barrier_on(const gch_thread *t)
{
    return mem_u32_load_relaxed(&t->head.wb_enabled) != 0;
}

/* copy_slots: memmove of n slots, one atomic word at a time: acquire
 * loads and release stores, so a racing reader or marker never sees a
 * torn pointer, and a thread that acquires a copied slot sees the object
 * as its first publisher wrote it (the chain of release and acquire
 * carries it through the copy). */
static void copy_slots(void **dst, void *const *src, size_t n)
{
    if (dst <= (void **)src) {
        for (size_t i = 0; i < n; i++)
            slot_store_release(&dst[i], (void *)slot_load_acquire(&src[i]));
    } else {
        for (size_t i = n; i-- > 0;)
            slot_store_release(&dst[i], (void *)slot_load_acquire(&src[i]));
    }
}

void gch_write_range(gch_thread *t, void **dst, void *const *src, size_t n)
{
    /* While marking, shade every value overwritten and every value copied
     * first.  A src slot another thread changes between the shading and
     * the copy holds a value that thread's own barrier shaded. */
    if (barrier_on(barrier_thread(t, "gch_write_range"))) {
        for (size_t i = 0; i < n; i++)
            wbuf_put(t, slot_load_acquire(&dst[i]), slot_load_acquire(&src[i]));
    }
    copy_slots(dst, src, n);
}

void gch_write_clear(gch_thread *t, void **dst, size_t n)
{
    bool on = barrier_on(barrier_thread(t, "gch_write_clear"));
    for (size_t i = 0; i < n; i++) {
        if (on)
            wbuf_put(t, slot_load_acquire(&dst[i]), 0);
        slot_store_release(&dst[i], NULL);
    }
}

/* gch_write_cas: the barrier records the slot's actual value (on failure
 * the CAS writes it back into `seen`) and, only when the CAS succeeded,
 * the desired one: see the essay above for why after the CAS is soon
 * enough.  Go counterpart: atomicwb (Go shades the new value always). */
int gch_write_cas(gch_thread *t, void **slot, void *expected, void *desired)
{
    bool on = barrier_on(barrier_thread(t, "gch_write_cas"));
    void *seen = expected;
    bool ok = slot_cas_seq_cst(slot, &seen, desired);
    if (on)
        wbuf_put(t, (uintptr_t)seen, ok ? (uintptr_t)desired : 0);
    return ok;
}
