/*
 * mgcscavenge.c - the scavenger's policy: gch_free_os_memory and the
 * scavtrace records.  (The idle rule runs on sysmon, gc/sysmon.c; the
 * mechanism, releasing pages without holding the heap lock, is
 * alloc/mscavenge.c.)
 * Go counterpart: runtime/mgcscavenge.go (printScavTrace), mheap.go
 * (scavengeAll) and runtime/debug FreeOSMemory.  Overview: gc/mgc.c.
 *
 * The scavtrace counters: every release is counted by kind in
 * mheap.released_bytes; a line reports what each kind released since the
 * last line (scav_reported, under trace_mu like every trace line).  Go's
 * "bg" column gets the idle and background scavengers, "eager" the
 * releases made on allocation, and the forced line what
 * gch_free_os_memory released.
 */
#define GCHI_BUILDING 1
#include "heap.h"
#include "trace.h"
#include "error.h"

/* scav_fill: the gauges of a scavtrace record, read now. */
static void scav_fill(struct gch_heap *h, struct scav_record *r)
{
    struct mheap *m = &h->mheap;
    lock_acquire(&m->lock); /* one snapshot of the page counters (H1) */
    r->heap_inuse = atomic_u64_load_relaxed(&m->pages_inuse) * PAGE_SIZE;
    r->heap_free = atomic_u64_load_relaxed(&m->pages_free) * PAGE_SIZE;
    r->heap_released = atomic_u64_load_relaxed(&m->pages_released) * PAGE_SIZE;
    lock_release(&m->lock);
}

void gc_scavtrace_forced(struct gch_heap *h, uint64_t released)
{
    struct scav_record r = {0};
    scav_fill(h, &r);
    r.released_eager = released;
    r.forced = true;
    char line[GC_TRACE_LINE_MAX];
    size_t n = gc_format_scavtrace(line, sizeof line, &r);
    gc_trace_emit(h, line, n < sizeof line ? n : sizeof line - 1);
}

gch_error gch_free_os_memory(gch_heap *h)
{
    if (h == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_free_os_memory: heap is NULL");
        return GCH_EINVAL;
    }
    gch_error e = gch_collect(h); /* also checks the caller's context */
    if (e != GCH_OK)
        return e;
    /* Releasing everything may take a while (madvise of every free page):
     * an attached caller is in a blocking section meanwhile, so a stop of
     * the world need not wait for it.  It touches no object. */
    struct gch_thread *self = gchi_heap_self(h);
    if (self != NULL)
        gch_blocking_enter(self);
    size_t got = mheap_scavenge(&h->mheap, SIZE_MAX, 0, SCAV_FORCED, NULL);
    if (self != NULL)
        gch_blocking_leave(self);
    if (h->env.debug.scavtrace > 0)
        gc_scavtrace_forced(h, got);
    return GCH_OK;
}
