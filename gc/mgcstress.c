/*
 * mgcstress.c - GODEBUG=gcstress=N: a whole collection every N
 * allocations of each thread (1: before every allocation).
 * No Go counterpart as such (Go's GODEBUG=gcstoptheworld and the
 * runtime's own "GC every malloc" debugging); the idea is Lua's
 * HARDMEMTESTS and STYLE.md habit 15's stress build, made a run-time knob.
 * Overview of the cycle: gc/mgc.c.
 *
 * What it is for: an embedder's missing root or missing barrier fails at
 * once and close to the bug.  An object reachable only from a C local
 * across an allocation is freed by that allocation's collection and
 * clobbered (gcstress sets clobberfree=1, gc/proc.c), so a later read
 * sees 0xdeadbeef, and a later store of it into a live object makes the
 * next collection's mark stop on it (invalidptr, the default), naming
 * the slot and the object that hold it (gc/mgcmark.c: bad_pointer).
 *
 * Owns: nothing but the per-cache countdown (alloc/mcache.h:
 * gcstress_left, owner thread).  The poll sits at the top of the three
 * allocation calls (alloc/malloc.c: alloc_stressed), before anything of
 * the allocation is chosen, so the collection runs where an allocation
 * slow path may start a cycle anyway: a safepoint of the calling thread.
 */
#define GCHI_BUILDING 1
#include "heap.h"
#include "gchooks.h"
#include "error.h"
#include "gcbase.h"

void gchi_hook_gcstress(struct mcache *c)
{
    /* A foreign or detached handle: the allocation reports it. */
    if (gchi_check_thread(c) != GCH_OK)
        return;
    /* A trace sink that allocates may run before its cycle is published
     * as ended: a collection there would wait for that cycle, forever.
     * The collection is owed to the thread's next allocation instead. */
    if (gchi_in_sink()) {
        c->gcstress_left = 1;
        return;
    }
    gch_thread *t = (gch_thread *)(void *)((char *)c - THREAD_MCACHE_OFFSET);
    /* The same misuse checks an allocation slow path makes, on every
     * allocation (not only every Nth): a collection from inside a
     * blocking section or a scan callback would deadlock instead of
     * reporting. */
    stw_check_not_blocking(t, "allocation");
    gc_check_not_in_cycle(t->heap, "allocation");
    if (c->gcstress_left > 1) {
        c->gcstress_left--;
        return;
    }
    c->gcstress_left = atomic_u32_load_relaxed(&c->gcstress);
    gch_collect(t->heap);
}
