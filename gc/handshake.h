/*
 * handshake.h - handshakes: operations each attached thread runs once, at
 * its next safepoint, without stopping the world (Go's forEachP).  For a
 * thread in a blocking section a mark worker runs them (hs_busy keeps
 * the thread in its section meanwhile).  Code and invariants HS1-HS2:
 * gc/handshake.c.
 */
#ifndef GCHEAP_GC_HANDSHAKE_H
#define GCHEAP_GC_HANDSHAKE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stdint.h>

struct gch_heap;
struct gch_thread;
struct gcmarker;

/* Handshake operations (a thread's hs_ops). */
enum { HS_SCAN_ROOTS = 1u, HS_FLUSH = 2u };

/* gc_handshake_request: ask every attached thread for ops (stw.lock held);
 * gc_handshake_pending: some attached thread still owes one of ops
 *   (stw.lock held);
 * gc_handshake_help: run the handshakes of blocking threads with marker m
 *   (stw.lock held, released around each); true if it ran any;
 * gc_handshake_helpable: gc_handshake_help would find a thread to run
 *   (stw.lock held);
 * gc_handshake_self: t, at its own safepoint, runs what it owes (stw.lock
 *   held, released while running); true if it ran anything;
 * gc_handshake_all: request ops of every thread and wait until all ran,
 *   running blocking threads' with m meanwhile (stw.lock held, released
 *   while waiting and running);
 * gc_handshake_wait_done: wait until nobody runs t's handshake (t leaving
 *   a blocking section or detaching; stw.lock held). */
void gc_handshake_request(struct gch_heap *h, uint32_t ops);
bool gc_handshake_pending(struct gch_heap *h, uint32_t ops);
bool gc_handshake_help(struct gch_heap *h, struct gcmarker *m);
bool gc_handshake_helpable(struct gch_heap *h);
bool gc_handshake_self(struct gch_heap *h, struct gch_thread *t);
void gc_handshake_all(struct gch_heap *h, uint32_t ops, struct gcmarker *m);
void gc_handshake_wait_done(struct gch_thread *t);

#endif
