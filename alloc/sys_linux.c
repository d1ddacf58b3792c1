/*
 * sys_linux.c - the OS memory states on Linux (mmap / madvise / munmap).
 * Go counterpart: runtime/mem_linux.go and mem.go.  Contract and state
 * table: alloc/sys.h.
 *
 * Invariant S1 (sys.h) is kept by the sys_* wrappers below; the raw
 * operations in sys_linux_ops know nothing about counters, so a test can
 * replace them without touching the accounting.
 */
#define GCHI_BUILDING 1
#include "track.h"
#include "sys.h"
#include "check.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_FREE
#define MADV_FREE 8
#endif

static void *linux_reserve(void *ctx, void *hint, size_t n)
{
    (void)ctx;
    void *p = mmap(hint, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static bool linux_map(void *ctx, void *v, size_t n)
{
    (void)ctx;
    /* mprotect keeps the reservation's single mapping; an ENOMEM here
     * means the kernel's map count or commit limit was hit. */
    return mprotect(v, n, PROT_READ | PROT_WRITE) == 0;
}

static void linux_used(void *ctx, void *v, size_t n)
{
    (void)ctx;
    (void)v;
    (void)n; /* Linux repopulates discarded pages on touch */
}

static bool linux_unused(void *ctx, void *v, size_t n, bool madv_free)
{
    (void)ctx;
    if (madv_free && madvise(v, n, MADV_FREE) == 0)
        return true;
    /* MADV_DONTNEED: the next touch sees zero pages and RSS drops now.
     * It fails on mlock'd memory (mlockall: EINVAL); the caller keeps
     * the range as it was, as Go ignores the error. */
    return madvise(v, n, MADV_DONTNEED) == 0;
}

static void linux_release(void *ctx, void *v, size_t n)
{
    (void)ctx;
    if (munmap(v, n) != 0)
        gch_fatal("munmap failed", (uintptr_t)v, n, (uintptr_t)errno);
}

static void linux_fault(void *ctx, void *v, size_t n)
{
    (void)ctx;
    void *p = mmap(v, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (p != v)
        gch_fatal("mmap(PROT_NONE, MAP_FIXED) failed", (uintptr_t)v, n, (uintptr_t)errno);
}

static void linux_huge(void *ctx, void *v, size_t n, bool huge)
{
    (void)ctx;
    /* Advice only: a kernel without THP says EINVAL, which changes nothing. */
    (void)madvise(v, n, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

const struct sys_ops sys_linux_ops = {
    .reserve = linux_reserve,
    .map = linux_map,
    .used = linux_used,
    .unused = linux_unused,
    .release = linux_release,
    .fault = linux_fault,
    .ctx = NULL,
    .huge = linux_huge,
};

size_t sys_phys_page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

void sysmem_init(struct sysmem *m, const struct sys_ops *ops, bool madv_free)
{
    m->ops = *ops;
    m->madv_free = madv_free;
    m->hard_decommit = false;
    atomic_u64_store_relaxed(&m->reserved, 0);
    atomic_u64_store_relaxed(&m->prepared, 0);
    atomic_u64_store_relaxed(&m->ready, 0);
    atomic_u64_store_relaxed(&m->unused_calls, 0);
}

static struct atomic_u64 *counter(struct sysmem *m, enum sys_state s)
{
    switch (s) {
    case SYS_RESERVED: return &m->reserved;
    case SYS_PREPARED: return &m->prepared;
    case SYS_READY: return &m->ready;
    case SYS_NONE: break;
    }
    gch_fatal("sys: no counter for state None", (uintptr_t)s, 0, 0);
}

void *sys_reserve(struct sysmem *m, void *hint, size_t n)
{
    void *p = m->ops.reserve(m->ops.ctx, hint, n);
    if (p != NULL)
        atomic_u64_add_relaxed(&m->reserved, n);
    return p;
}

bool sys_map(struct sysmem *m, void *v, size_t n)
{
    if (!m->ops.map(m->ops.ctx, v, n))
        return false;
    sys_map_premapped(m, n);
    return true;
}

bool sys_map_ahead(struct sysmem *m, void *v, size_t n) { return m->ops.map(m->ops.ctx, v, n); }

void sys_map_premapped(struct sysmem *m, size_t n)
{
    atomic_u64_sub_relaxed(&m->reserved, n);
    atomic_u64_add_relaxed(&m->prepared, n);
}

void sys_used_fresh(struct sysmem *m, void *v, size_t n)
{
    m->ops.used(m->ops.ctx, v, n);
    atomic_u64_sub_relaxed(&m->prepared, n);
    atomic_u64_add_relaxed(&m->ready, n);
}

void sys_used(struct sysmem *m, void *v, size_t n)
{
    /* harddecommit: the range was made inaccessible when released. */
    if (m->hard_decommit && !m->ops.map(m->ops.ctx, v, n))
        gch_fatal("harddecommit: making released memory accessible again failed", (uintptr_t)v, n,
                  (uintptr_t)errno);
    sys_used_fresh(m, v, n);
}

bool sys_unused(struct sysmem *m, void *v, size_t n)
{
    if (!m->ops.unused(m->ops.ctx, v, n, m->madv_free))
        return false;
    if (m->hard_decommit)
        m->ops.fault(m->ops.ctx, v, n); /* also inaccessible, as Go's harddecommit */
    atomic_u64_sub_relaxed(&m->ready, n);
    atomic_u64_add_relaxed(&m->prepared, n);
    atomic_u64_add_relaxed(&m->unused_calls, 1);
    return true;
}

/* sys_alloc: None -> Ready in one step, for off-heap metadata. */
void *sys_alloc(struct sysmem *m, size_t n)
{
    void *p = m->ops.reserve(m->ops.ctx, NULL, n);
    if (p == NULL)
        return NULL;
    if (!m->ops.map(m->ops.ctx, p, n)) {
        m->ops.release(m->ops.ctx, p, n);
        return NULL;
    }
    m->ops.used(m->ops.ctx, p, n);
    atomic_u64_add_relaxed(&m->ready, n);
    return p;
}

void sys_free(struct sysmem *m, void *v, size_t n, enum sys_state from_state)
{
    track_unmap((uintptr_t)v, n); /* a later mapping here starts unpoisoned */
    m->ops.release(m->ops.ctx, v, n);
    atomic_u64_sub_relaxed(counter(m, from_state), n);
}

void sys_fault(struct sysmem *m, void *v, size_t n, enum sys_state from_state)
{
    GCH_ASSERT(from_state == SYS_PREPARED || from_state == SYS_READY);
    m->ops.fault(m->ops.ctx, v, n);
    atomic_u64_sub_relaxed(counter(m, from_state), n);
    atomic_u64_add_relaxed(&m->reserved, n);
}
