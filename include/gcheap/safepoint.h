/*
 * gcheap/safepoint.h - inline safepoint poll and handle frames.
 * Included by gcheap.h (inside its extern "C" block, after GCH_API); the slow halves live in gc/stw.c and gc/roots.c.
 *
 * gch_safepoint: one relaxed load of the thread's preempt flag and a
 * predictable branch.  Call it at loop back-edges and calls of the
 * interpreter; allocation and gch_blocking_enter/leave are safepoints too.
 *
 * Handle frames: a frame names an array of local reference slots on the
 * C stack; frames form a stack per thread.  Push costs four stores, pop
 * one compare and one store.  The slots are written without a barrier
 * and scanned at safepoints (DESIGN.md decision 3).
 */
#ifndef GCHEAP_SAFEPOINT_H
#define GCHEAP_SAFEPOINT_H

#include <stddef.h>
#include "gcheap/config.h"
#include "gcheap/attrs.h"

typedef struct gch_thread gch_thread;

typedef struct gch_frame {
    struct gch_frame *prev;  /* the frame below */
    void **slots;            /* n reference slots (NULL or heap pointers) */
    size_t n;
} gch_frame;

GCH_API void gch_safepoint_slow(gch_thread *t);
/* gch_frame_pop_fatal: gch_frame_pop's report of a frame that is not the
 * top of t's handle stack (fatal).  gch_safepoint_check: fatal unless t
 * is the calling OS thread's attached thread and the caller is not a scan
 * or trace callback; the slow path always checks, and the inline poll
 * does too when compiled with GCH_DEBUG >= 2.  Both are entry points of
 * the inline code below (ABI, not API: see gcheap.h); not to be called
 * directly. */
GCH_API void gch_frame_pop_fatal(gch_thread *t, gch_frame *f);
GCH_API void gch_safepoint_check(gch_thread *t);

static inline gchi_thread_head *gchi_head(gch_thread *t) { return (gchi_thread_head *)(void *)t; }

/* gch_safepoint: let the collector stop the thread or run its handshake
 * here.  Inside a blocking section it does nothing (the section is a
 * safepoint for its whole length); from a scan or trace callback, or
 * with a thread that is not the caller's, it is a fatal error (checked
 * on the slow path, and on every call when GCH_DEBUG >= 2). */
static inline void gch_safepoint(gch_thread *t)
{
#if GCH_DEBUG >= 2
    gch_safepoint_check(t);
#endif
    if (GCHI_UNLIKELY(GCHI_LOAD_RELAXED(&gchi_head(t)->preempt) != 0))
        gch_safepoint_slow(t);
}

/* gch_frame_push: make slots[0..n) roots of t until the matching pop.
 * The slots must hold NULL or heap references whenever t is at a
 * safepoint. */
static inline void gch_frame_push(gch_thread *t, gch_frame *f, void **slots, size_t n)
{
    gchi_thread_head *hd = gchi_head(t);
    f->prev = hd->frames;
    f->slots = slots;
    f->n = n;
    hd->frames = f;
}

/* gch_frame_pop: pop f, which must be the top frame (fatal otherwise:
 * a frame popped out of order would leave dangling roots). */
static inline void gch_frame_pop(gch_thread *t, gch_frame *f)
{
    gchi_thread_head *hd = gchi_head(t);
    if (GCHI_UNLIKELY(hd->frames != f))
        gch_frame_pop_fatal(t, f);
    hd->frames = f->prev;
}

/* GCH_LOCALS: declare `void *name[n]` zeroed and push it as a frame;
 * pair with GCH_LOCALS_END(t, name) before the scope ends. */
#define GCH_LOCALS(t, name, n)                                                  \
    void *name[n] = {0};                                                        \
    gch_frame name##_gch_frame;                                                 \
    gch_frame_push((t), &name##_gch_frame, name, (n))
#define GCH_LOCALS_END(t, name) gch_frame_pop((t), &name##_gch_frame)

#endif /* GCHEAP_SAFEPOINT_H */
