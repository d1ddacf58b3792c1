/*
 * testhooks.h - test-only entry points (tests/testhooks.c), linked only
 * into the tests and fuzzers, never into libgcheap (Go keeps the same in
 * export_test.go).  They set the per-heap test fields of struct gcstate
 * (gc/gcstate.h), which the library only reads, or reach internal functions
 * in ways no embedder may.
 *
 * gchi_test_gc_start: start a forced cycle; with concurrent marking it
 *   returns once the mark began and the world restarted (false if a
 *   cycle was running already);
 * gchi_test_gc_wait: wait until no cycle runs;
 * gchi_test_hold_mark: while held, the workers and assists do no mark
 *   work at all, so the mark cannot end: the test arranges its stores at
 *   a known point of the mark, then releases;
 * gchi_test_no_workers: worker threads fail to start (the cycle falls
 *   back to marking with the world stopped);
 * gchi_test_set_root_edit_hook: every global root edit calls fn between
 *   gc_shade_begin and taking the roots lock (a test holds an edit there);
 * gchi_test_set_term_hook: mark termination calls fn as soon as the
 *   world is stopped (a test plants grey work there);
 * gchi_test_set_grey_hook: a marker about to grey the unmarked object at
 *   target calls fn between loading its mark byte and its alloc bit (a
 *   test stalls a marker there, as a preemption would); false when the
 *   library was built below GCH_DEBUG 2, where the hook is not compiled;
 * gchi_test_set_idle_hook: an idle worker calls fn before each nap,
 *   holding no lock (a test holds a worker asleep there).
 *   NULL removes a hook.  Setting any hook or flag also turns on the MW4
 *   probe (gcstate.test_work_in_term) for that heap.
 * gchi_free: free the object at p (its start) explicitly, bypassing the
 *   collector; the object's span must not be cached by another thread
 *   (fatal).  Allocator tests use it to make free slots on demand.
 */
#ifndef GCHEAP_TESTHOOKS_H
#define GCHEAP_TESTHOOKS_H

#include <stdbool.h>
#include <stdint.h>
#include "gcheap.h"

struct gch_heap;
typedef void (*gchi_test_hook_fn)(struct gch_heap *h);

bool gchi_test_gc_start(struct gch_heap *h);
void gchi_test_gc_wait(struct gch_heap *h);
void gchi_test_hold_mark(struct gch_heap *h, bool hold);
void gchi_test_no_workers(struct gch_heap *h, bool fail);
void gchi_test_set_root_edit_hook(struct gch_heap *h, gchi_test_hook_fn fn);
void gchi_test_set_term_hook(struct gch_heap *h, gchi_test_hook_fn fn);
void gchi_test_set_idle_hook(struct gch_heap *h, gchi_test_hook_fn fn);
bool gchi_test_set_grey_hook(struct gch_heap *h, uintptr_t target, gchi_test_hook_fn fn);
void gchi_free(gch_thread *t, void *p);

#endif
