/*
 * sys.h - OS memory: Go's four states and the calls that move between them.
 * Go counterpart: runtime/mem.go (+ mem_linux.go).  Overview: alloc/malloc.c.
 *
 * A range of address space is in exactly one state:
 *
 *   state     | address space | accessible | physical memory | counted in
 *   ----------+---------------+------------+-----------------+------------
 *   None      | not ours      | no         | none            | -
 *   Reserved  | ours          | no (fault)*| none            | reserved
 *   Prepared  | ours          | yes        | none/reclaimable| prepared
 *   Ready     | ours          | yes        | may be resident | ready
 *
 * Legal transitions (the only ones the sys_* calls perform):
 *   sys_reserve  None -> Reserved          sys_alloc   None -> Ready
 *   sys_map      Reserved -> Prepared      sys_free    any -> None
 *   sys_used     Prepared -> Ready         sys_fault   Prepared|Ready -> Reserved
 *   sys_unused   Ready -> Prepared (MADV_DONTNEED, or MADV_FREE when configured;
 *                with hard_decommit also made inaccessible, PROT_NONE, until
 *                sys_used makes it accessible again: Go's harddecommit)
 *   sys_map_ahead      Reserved -> Reserved, accessible (the OS call of a
 *                      later sys_map, made early for a larger range)
 *   sys_map_premapped  Reserved (mapped ahead) -> Prepared, no OS call
 * (*) Reserved memory that sys_map_ahead made accessible stays counted
 * as Reserved, untouched, until sys_map_premapped counts it Prepared:
 * mheap.c makes the rest of an arena accessible with its first growth
 * step, because every mprotect that extends the heap's mapping waits for
 * the page faults in flight in it (the kernel write-locks the VMA it
 * merges into), and the caller holds the heap lock meanwhile.  Such
 * memory does not fault when touched (a stray write lands silently), and
 * the OS charges it at once (VmData, RLIMIT_DATA, strict overcommit):
 * mheap.c maps nothing ahead under harddecommit and nothing past
 * heap_limit.
 *
 * Invariant S1: reserved + prepared + ready == bytes of address space the
 * heap holds; each counter changes only in the call making the transition.
 * The counters are atomic because metadata allocation (sys_alloc) happens
 * under several different locks.
 *
 * The OS calls go through struct sys_ops so tests can fail the Nth reserve
 * or map (tests/test_sys.c); production uses sys_linux_ops.
 */
#ifndef GCHEAP_ALLOC_SYS_H
#define GCHEAP_ALLOC_SYS_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "atomic.h"

/* sys_nanotime: the monotonic clock, ns (a vDSO call, ~20 ns). */
static inline int64_t sys_nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* sys_time_add: add the ns since t0 to a counter that only the calling
 * thread writes (a load and a store: no locked instruction); other
 * threads may read it relaxed. */
static inline void sys_time_add(struct atomic_u64 *c, int64_t t0)
{
    atomic_u64_store_relaxed(c, atomic_u64_load_relaxed(c) + (uint64_t)(sys_nanotime() - t0));
}

/* The raw OS operations.  ctx is passed back unchanged.  Failures return
 * NULL / false; no operation is allowed to fail half-way. */
struct sys_ops {
    void *(*reserve)(void *ctx, void *hint, size_t n); /* PROT_NONE mapping */
    bool (*map)(void *ctx, void *v, size_t n);          /* make accessible */
    void (*used)(void *ctx, void *v, size_t n);         /* about to be touched */
    bool (*unused)(void *ctx, void *v, size_t n, bool madv_free); /* false: the OS
                                * refused (the range stays Ready, unchanged) */
    void (*release)(void *ctx, void *v, size_t n);      /* unmap */
    void (*fault)(void *ctx, void *v, size_t n);        /* back to PROT_NONE */
    void *ctx;
    /* Transparent huge page advice for a range (MADV_HUGEPAGE when huge,
     * else MADV_NOHUGEPAGE); last, so positional initialisers that stop
     * at ctx leave it NULL: no advice. */
    void (*huge)(void *ctx, void *v, size_t n, bool huge);
};

extern const struct sys_ops sys_linux_ops;

struct sysmem {
    struct sys_ops ops;        /* [immutable] */
    bool madv_free;            /* [immutable] sys_unused uses MADV_FREE */
    bool hard_decommit;        /* [immutable after heap creation] Prepared pages are
                                * PROT_NONE (GODEBUG=harddecommit=1) */
    struct atomic_u64 reserved;/* [atomic] bytes in state Reserved */
    struct atomic_u64 prepared;/* [atomic] bytes in state Prepared */
    struct atomic_u64 ready;   /* [atomic] bytes in state Ready */
    struct atomic_u64 unused_calls; /* [atomic] sys_unused calls (tests, scavtrace) */
};

void sysmem_init(struct sysmem *m, const struct sys_ops *ops, bool madv_free);

/* The OS page size, read once (sysconf). */
size_t sys_phys_page_size(void);

void *sys_reserve(struct sysmem *m, void *hint, size_t n);
bool sys_map(struct sysmem *m, void *v, size_t n);
/* sys_map_ahead: make Reserved [v, v + n) accessible, counters unchanged
 * (it stays Reserved, untouched); false if the OS refused (nothing
 * changed).  sys_map_premapped: Reserved -> Prepared in the counters for
 * a range sys_map_ahead made accessible; no OS call. */
bool sys_map_ahead(struct sysmem *m, void *v, size_t n);
void sys_map_premapped(struct sysmem *m, size_t n);
void sys_used(struct sysmem *m, void *v, size_t n);
/* sys_used_fresh: sys_used for a range that sys_map made Prepared and no
 * sys_unused touched since: it is accessible already, so harddecommit
 * has nothing to undo (no second mprotect). */
void sys_used_fresh(struct sysmem *m, void *v, size_t n);
/* sys_unused: false when the OS refused the advice (madvise failed: an
 * mlock'd range, say); then nothing changed, the range is still Ready. */
bool sys_unused(struct sysmem *m, void *v, size_t n);
void *sys_alloc(struct sysmem *m, size_t n);
/* sys_free: from_state says which counter the range leaves. */
enum sys_state { SYS_NONE, SYS_RESERVED, SYS_PREPARED, SYS_READY };
void sys_free(struct sysmem *m, void *v, size_t n, enum sys_state from_state);
void sys_fault(struct sysmem *m, void *v, size_t n, enum sys_state from_state);

#endif /* GCHEAP_ALLOC_SYS_H */
