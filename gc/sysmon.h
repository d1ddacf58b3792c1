/*
 * sysmon.h - the heap's monitor thread: the periodic (forced) GC, the
 * idle-span scavenger and the background scavenger.  Go counterpart: runtime/proc.go sysmon and
 * forcegchelper, and the Go <= 1.12 sysmon scavenger (mheap.scavenge).
 * Implementation and sleep policy: gc/sysmon.c.  Overview: gc/mgc.c.
 *
 * Invariants:
 *   SM1 the thread exists from the first kick (the end of the first
 *       cycle, or a setter) until gch_heap_free joins it, like the
 *       background sweeper: a heap that never collected has no thread, so
 *       a process may still fork safely then; it is not attached and touches
 *       the heap only through the collector's entry points (a cycle
 *       start) and mheap_scavenge;
 *   SM2 it never polls: every sleep is a timed wait to the next deadline
 *       of a job that is on, or an untimed one when none is, and quit or
 *       kick (set under lock, with a signal) ends any sleep at once.
 * Locking: sysmon.lock (rank SYSMON) is a leaf: held only around quit,
 *   kick and the condition wait; the thread holds nothing while it works.
 */
#ifndef GCHEAP_GC_SYSMON_H
#define GCHEAP_GC_SYSMON_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "atomic.h"
#include "lock.h"
#include "sysmonstate.h"

struct gch_heap;

/* sysmon_init: its lock and state (gch_heap_new); the thread starts at
 * the first kick.  If the OS refuses a thread the heap works without
 * one: no periodic GC, idle or background release (gch_free_os_memory
 * and the release on allocation over the limit still work). */
void sysmon_init(struct gch_heap *h);
/* sysmon_stop: make the thread quit and join it (gch_heap_free); kicks
 * (a cycle still ending) stay harmless until sysmon_destroy. */
void sysmon_stop(struct gch_heap *h);
/* sysmon_destroy: free its lock and condition variable, once nothing can
 * kick it (every heap thread joined). */
void sysmon_destroy(struct gch_heap *h);
/* sysmon_kick (the kick that wakes it, and starts it the first time) is
 * gc/gcbase.h's, so that the collector and the pacer can kick it without
 * depending on this file. */

#endif
