/*
 * proc.c - gch_heap_new/free, thread attach/detach, statistics, and the
 * heap-wide queries of the public API: the top of gc/, which builds and
 * tears down every other part (it was heap.c; struct gch_heap is
 * gc/heap.h's, a types header every file includes).
 * Go counterpart: the parts of runtime/proc.go that create Ps and of
 * mstats.go that read MemStats.  Invariants T1-T3: gc/heap.h.
 * Overview: alloc/malloc.c.
 */
#define GCHI_BUILDING 1
#include "heap.h"
#include "proc.h"
#include "stw.h"
#include "roots.h"
#include "sysmon.h"
#include "mfinal.h"
#include "mgc.h"
#include "error.h"
#include "gcbase.h"
#include "mgcmark.h"
#include "mbarrier.h"
#include "mgcsweep.h"
#include "mgcworker.h"
#include "mcheckmark.h"
#include "mgcscavenge.h"
#include "mgclimit.h"
#include "handshake.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(offsetof(struct gch_thread, head) == 0, "gcheap/attrs.h: head comes first");
_Static_assert(offsetof(struct gch_thread, mcache) == THREAD_MCACHE_OFFSET,
               "alloc/malloc.h: THREAD_MCACHE_OFFSET");
_Static_assert(offsetof(struct gch_thread, mcache) + offsetof(struct mcache, owner_tag) ==
                   GCHI_THREAD_OWNER_TAG_OFFSET,
               "gcheap/attrs.h: the owner tag's offset");
_Static_assert(GCH_NUM_SIZE_CLASSES == NUM_SIZE_CLASSES, "public stats array size");

static void config_defaults(gch_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->gc_percent = GCH_UNSET;
    cfg->memory_limit = GCH_UNSET;
    cfg->gomaxprocs = GCH_UNSET;
    cfg->read_env = 1;
    cfg->force_gc_ms = GCH_UNSET;
    cfg->scavenge_idle_ms = GCH_UNSET;
    cfg->mem_profile_rate = GCH_UNSET;
}

void gch_config_init_size(gch_config *cfg, size_t size)
{
    if (cfg == NULL || size < sizeof cfg->size)
        return;
    gch_config d;
    config_defaults(&d);
    size_t known = size < sizeof d ? size : sizeof d;
    memcpy(cfg, &d, known);
    if (size > known)
        memset((char *)cfg + known, 0, size - known);
    cfg->size = size;
}

/* config_read: *out = the defaults overlaid with the caller's first
 * cfg->size bytes (gcheap.h: gch_config.size). */
static bool config_read(const gch_config *cfg, gch_config *out)
{
    config_defaults(out);
    if (cfg == NULL)
        return true;
    if (cfg->size < sizeof cfg->size) {
        gchi_set_error(GCH_EINVAL, "gch_heap_new: cfg->size is %zu: initialise the config "
                       "with gch_config_init", cfg->size);
        return false;
    }
    size_t known = cfg->size < sizeof *out ? cfg->size : sizeof *out;
    for (size_t i = known; i < cfg->size; i++) {
        if (((const unsigned char *)cfg)[i] != 0) {
            gchi_set_error(GCH_EINVAL, "gch_heap_new: cfg sets a field at byte %zu, which this "
                           "library (gch_config of %zu bytes) does not know", i, sizeof *out);
            return false;
        }
    }
    memcpy(out, cfg, known);
    out->size = sizeof *out;
    return true;
}

/* settings: Go's defaults, then the embedder's config, then the
 * environment (read once, here: DESIGN.md decision 1). */
static void settings(const gch_config *cfg, struct gcenv *env)
{
    gcenv_defaults(env);
    if (cfg->gc_percent != GCH_UNSET)
        env->gc_percent = cfg->gc_percent < 0 ? -1 : cfg->gc_percent;
    if (cfg->memory_limit != GCH_UNSET && cfg->memory_limit >= 0)
        env->memory_limit = cfg->memory_limit;
    if (cfg->gomaxprocs != GCH_UNSET && cfg->gomaxprocs >= 1)
        env->gomaxprocs = cfg->gomaxprocs;
    if (cfg->madv_free)
        env->debug.madvdontneed = 0;
    if (cfg->force_gc_ms != GCH_UNSET && cfg->force_gc_ms >= 0)
        env->debug.forcegcms = cfg->force_gc_ms > INT32_MAX ? INT32_MAX : (int)cfg->force_gc_ms;
    if (cfg->scavenge_idle_ms != GCH_UNSET && cfg->scavenge_idle_ms >= 0)
        env->debug.scavengeidlems =
            cfg->scavenge_idle_ms > INT32_MAX ? INT32_MAX : (int)cfg->scavenge_idle_ms;
    if (cfg->mem_profile_rate != GCH_UNSET && cfg->mem_profile_rate >= 0)
        env->debug.memprofilerate = cfg->mem_profile_rate;
    if (cfg->gctrace_legacy)
        env->debug.gctracelegacy = 1;
    if (cfg->read_env)
        gcenv_read(env, cfg->env_prefix, NULL, NULL, stderr);
    if (env->debug.gcstress > 0) /* a freed object must look freed at once */
        env->debug.clobberfree = 1;
}

gch_heap *gchi_heap_new_with_ops(const gch_config *user_cfg, const struct sys_ops *ops)
{
    gch_config copy;
    if (!config_read(user_cfg, &copy))
        return NULL;
    const gch_config *cfg = &copy;
    if (cfg->env_prefix != NULL && strlen(cfg->env_prefix) >= sizeof(((gch_heap *)0)->env_prefix))
        return gchi_set_error(GCH_EINVAL, "gch_heap_new: env_prefix \"%s\" is longer than %zu bytes",
                              cfg->env_prefix, sizeof(((gch_heap *)0)->env_prefix) - 1);
    if (cfg->heap_limit != 0 && cfg->heap_limit < HEAP_GROW_PAGES * PAGE_SIZE)
        return gchi_set_error(GCH_EINVAL, "gch_heap_new: heap_limit %zu is below the minimum %zu",
                              cfg->heap_limit, HEAP_GROW_PAGES * PAGE_SIZE);
    struct gcenv env;
    settings(cfg, &env);
    gch_heap *h = calloc(1, sizeof *h);
    if (h == NULL)
        return gchi_set_error(GCH_ENOMEM, "gch_heap_new: out of memory");
    h->env = env;
    if (!mheap_init(&h->mheap, ops, env.debug.madvdontneed == 0, cfg->heap_limit)) {
        free(h);
        return gchi_set_error(GCH_ENOMEM, "gch_heap_new: out of memory for heap metadata");
    }
    h->mheap.sweep.clobberfree = env.debug.clobberfree != 0;
    h->mheap.prof.rate = env.debug.memprofilerate; /* before any thread attaches */
    h->mheap.sys.hard_decommit = env.debug.harddecommit != 0;
    atomic_u64_store_relaxed(&h->mheap.memory_limit, (uint64_t)env.memory_limit);
    h->mheap.released_zeroed = env.debug.madvdontneed != 0 || env.debug.harddecommit != 0;
    h->mheap.huge_fresh = env.debug.disablethp == 0 && ops->huge != NULL;
    stw_init(&h->stw);
    roots_init(&h->roots);
    h->decode = cfg->decode;
    h->trace = cfg->trace;
    h->trace_ctx = cfg->trace_ctx;
    sysmon_init(h); /* before gc_init: a cycle's end kicks it */
    gc_init(h);
    gc_final_init(h, cfg->manual_finalizers != 0);
    lock_init(&h->threads_lock, LOCKRANK_THREADS);
    fixalloc_init(&h->threadalloc, sizeof(struct gch_thread), &h->mheap.pa, false);
    if (cfg->env_prefix != NULL)
        strcpy(h->env_prefix, cfg->env_prefix);
    return h;
}

gch_heap *gch_heap_new(const gch_config *cfg) { return gchi_heap_new_with_ops(cfg, &sys_linux_ops); }

gch_error gch_heap_free(gch_heap *h)
{
    if (h == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_heap_free: heap is NULL");
        return GCH_EINVAL;
    }
    lock_acquire(&h->threads_lock);
    size_t n = h->nattached;
    lock_release(&h->threads_lock);
    size_t own = gc_final_nthreads(h); /* the finalizer thread detaches itself */
    if (n > own) {
        gchi_set_error(GCH_EBUSY, "gch_heap_free: %zu thread(s) still attached", n - own);
        return GCH_EBUSY;
    }
    gc_final_stop(h);
    sysmon_stop(h);      /* first: it may start a cycle */
    gc_wait_idle(h, NULL); /* a cycle in flight ends (its workers run it) */
    gc_workers_stop(h);  /* join the mark workers and the sweeper: they read the heap */
    gc_sweep_destroy(h);
    sysmon_destroy(h);
    gc_limiter_destroy(h);
    pthread_cond_destroy(&h->gc.mark_cond);
    pthread_cond_destroy(&h->gc.trace.cv);
    pthread_mutex_destroy(&h->gc.trace.mu);
    lock_destroy(&h->threads_lock);
    stw_destroy(&h->stw);
    roots_destroy(&h->roots);
    workbuf_pool_destroy(&h->gc.workbufs);
    gc_checkmark_release(h);
    gc_final_destroy(h);
    mheap_destroy(&h->mheap); /* thread records live in its metadata */
    free(h);
    return GCH_OK;
}

gch_thread *gch_thread_attach(gch_heap *h)
{
    if (h == NULL)
        return gchi_set_error(GCH_EINVAL, "gch_thread_attach: heap is NULL");
    /* A thread may not join a stopped world: wait for the restart. */
    lock_acquire(&h->stw.lock);
    stw_wait_running(h, NULL);
    lock_acquire(&h->threads_lock);
    if (stw_find_attached(h) != NULL) {
        lock_release(&h->threads_lock);
        lock_release(&h->stw.lock);
        return gchi_set_error(GCH_ESTATE, "gch_thread_attach: this OS thread is already attached");
    }
    struct gch_thread *t = h->detached;
    if (t != NULL)
        h->detached = t->next;
    else
        t = fixalloc_alloc(&h->threadalloc);
    if (t == NULL) {
        lock_release(&h->threads_lock);
        lock_release(&h->stw.lock);
        return gchi_set_error(GCH_ENOMEM, "gch_thread_attach: out of memory");
    }
    mcache_init(&t->mcache, &h->mheap);
    atomic_uptr_store_relaxed(&t->mcache.owner_tag, gchi_thread_tag());
    t->heap = h;
    mem_u32_store_relaxed(&t->head.preempt, 0);
    t->head.frames = NULL;
    t->run = RUN_RUNNING;
    t->scanners = (struct thread_scanners){NULL, 0, 0};
    /* Attached during a mark: its roots start empty, so they count as
     * scanned (black), and its stores and allocations join the cycle. */
    gc_phase_apply_thread(t, (enum gcphase)atomic_u32_load_relaxed(&h->gc.phase));
    atomic_u32_store_relaxed(&t->mcache.gcstress, (uint32_t)h->env.debug.gcstress);
    t->mcache.gcstress_left = (uint32_t)h->env.debug.gcstress;
    if (h->env.debug.gcstress > 0) /* K4: each allocation is counted by the library */
        t->mcache.inline_off |= MCACHE_INLINE_STRESS;
    else
        t->mcache.inline_off &= (uint8_t)~MCACHE_INLINE_STRESS;
    t->hs_ops = 0;
    t->hs_busy = false;
    t->wbuf_n = 0;
    gcmarker_init(&t->marker, h);
    t->assist_debt = 0;
    atomic_u64_store_relaxed(&t->stop_ns, 0);
    atomic_u64_store_relaxed(&t->scan_ns, 0);
    atomic_u64_store_relaxed(&t->assist_ns, 0);
    atomic_u32_store_relaxed(&t->mcache.attached, 1);
    t->next = h->attached;
    h->attached = t;
    h->nattached++;
    lock_release(&h->threads_lock);
    lock_release(&h->stw.lock);
    return t;
}

/* unlink_attached: remove t from h->attached.  Caller holds threads_lock. */
static void unlink_attached(gch_heap *h, struct gch_thread *t)
{
    struct gch_thread **pp = &h->attached;
    while (*pp != NULL && *pp != t)
        pp = &(*pp)->next;
    if (*pp == NULL)
        gch_fatal("gch_thread_detach: thread record not in the registry", (uintptr_t)t, 0, 0);
    *pp = t->next;
}

gch_error gch_thread_detach(gch_thread *t)
{
    if (t == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_thread_detach: thread is NULL");
        return GCH_EINVAL;
    }
    gch_error e = gchi_check_thread(&t->mcache);
    if (e != GCH_OK)
        return e;
    gch_heap *h = t->heap;
    /* Detaching touches the heap (cache release): not while the world is
     * stopped.  stw.lock stays held so no stop can begin meanwhile. */
    lock_acquire(&h->stw.lock);
    stw_wait_running(h, t);
    if (t->head.frames != NULL) {
        lock_release(&h->stw.lock);
        gch_fatal("gch_thread_detach: handle frames still pushed", (uintptr_t)t,
                  (uintptr_t)t->head.frames, 0);
    }
    gc_handshake_wait_done(t); /* the collector may be finishing a handshake for t */
    t->hs_ops = 0; /* its roots leave with it; its buffers go below */
    gc_thread_flush(t);
    /* G7: it will not answer the flush handshake that would report what
     * it published since the last termination check: report it now. */
    if (t->marker.work.flushed_since_check)
        atomic_u32_store_relaxed(&h->gc.hs_flushed, 1);
    t->marker.work.flushed_since_check = false;
    mcache_release_all(&t->mcache);
    thread_scanners_free(&t->scanners);
    lock_acquire(&h->threads_lock);
    unlink_attached(h, t);
    atomic_u32_store_relaxed(&t->mcache.attached, 0);
    atomic_uptr_store_relaxed(&t->mcache.owner_tag, 0); /* K3 */
    t->next = h->detached;
    h->detached = t;
    h->nattached--;
    lock_release(&h->threads_lock);
    pthread_cond_broadcast(&h->stw.changed); /* a stopper may wait on t */
    lock_release(&h->stw.lock);
    return GCH_OK;
}

gch_heap *gch_thread_heap(const gch_thread *t) { return t == NULL ? NULL : t->heap; }

gch_error gch_thread_flush(gch_thread *t)
{
    if (t == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_thread_flush: thread is NULL");
        return GCH_EINVAL;
    }
    gch_error e = gchi_check_thread(&t->mcache);
    if (e == GCH_OK) {
        stw_check_not_blocking(t, "gch_thread_flush");
        mcache_release_all(&t->mcache);
    }
    return e;
}

/* ---- queries ------------------------------------------------------------ */

gch_error gch_thread_read_gc_time(const gch_thread *t, gch_gc_time *out)
{
    if (t == NULL || out == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_thread_read_gc_time: thread or output is NULL");
        return GCH_EINVAL;
    }
    out->stop_ns = atomic_u64_load_relaxed(&t->stop_ns);
    out->scan_ns = atomic_u64_load_relaxed(&t->scan_ns);
    out->assist_ns = atomic_u64_load_relaxed(&t->assist_ns);
    out->sweep_ns = atomic_u64_load_relaxed(&t->mcache.sweep_ns);
    return GCH_OK;
}

void *gch_object_base(gch_heap *h, const void *p)
{
    if (h == NULL)
        return NULL;
    return (void *)mheap_object_base(&h->mheap, (uintptr_t)p, NULL);
}

int gch_is_heap_pointer(gch_heap *h, const void *p) { return gch_object_base(h, p) != NULL; }

size_t gch_usable_size(gch_heap *h, const void *p)
{
    struct span_layout l;
    struct mspan *s = NULL;
    /* mheap_object_lookup answers 0 for "no object": p == NULL must not
     * compare equal to it.  The size comes from the validated copy; the
     * header check reads the span itself, which is safe because the
     * caller owns p (gcheap.h), so its span cannot be reused. */
    if (h == NULL || p == NULL || mheap_object_lookup(&h->mheap, (uintptr_t)p, &s, &l) != (uintptr_t)p)
        return 0;
    return l.elemsize - span_slot_header_bytes(s, (uintptr_t)p);
}

/* sub_floor0: a - b, or 0 when a counter pair was read mid-update (the
 * two loads are not one snapshot; a flush may land between them). */
static uint64_t sub_floor0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* read_cycle_stats: the fields the cycles and the scavengers keep. */
static void read_cycle_stats(gch_heap *h, gch_stats *out)
{
    lock_acquire(&h->stw.lock); /* cycle statistics (gc/gcstate.h) */
    out->num_gc = h->gc.num_gc;
    out->num_forced_gc = h->gc.num_forced_gc;
    out->pause_total_ns = h->gc.pause_total_ns;
    memcpy(out->pause_ns, h->gc.pause_ns, sizeof out->pause_ns);
    out->last_gc = h->gc.last_gc_unix_ns;
    out->gc_cpu_fraction = h->gc.gc_cpu_fraction;
    out->released_last_cycle = h->gc.scav.released_last_cycle;
    lock_release(&h->stw.lock);
    out->released_total = gc_released_total(h);
    out->scavenge_ns = atomic_u64_load_relaxed(&h->gc.scav.cpu_ns);
    out->next_gc = atomic_u64_load_relaxed(&h->gc.next_gc);
}

void gch_read_stats(gch_heap *h, gch_stats *out)
{
    memset(out, 0, sizeof *out);
    if (h == NULL)
        return;
    struct mheap *m = &h->mheap;
    struct heap_counters *k = &m->counters;
    uint64_t lm = atomic_u64_load_relaxed(&k->large_mallocs);
    uint64_t lf = atomic_u64_load_relaxed(&k->large_frees);
    uint64_t lab = atomic_u64_load_relaxed(&k->large_alloc_bytes);
    uint64_t lfb = atomic_u64_load_relaxed(&k->large_free_bytes);
    /* A free counter is read after its malloc counter; a flush and frees
     * may land in between.  Report no more frees than the mallocs read,
     * so Frees <= Mallocs in every class of every snapshot. */
    lf = min_u64(lf, lm);
    lfb = min_u64(lfb, lab);
    out->by_size[0].mallocs = lm;
    out->by_size[0].frees = lf;
    out->mallocs = lm;
    out->frees = lf;
    out->total_alloc = lab;
    out->heap_alloc = sub_floor0(lab, lfb);
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES; sc++) {
        uint64_t ma = atomic_u64_load_relaxed(&k->small_mallocs[sc]);
        uint64_t fr = min_u64(atomic_u64_load_relaxed(&k->small_frees[sc]), ma);
        uint64_t size = gchi_class_to_size[sc];
        out->by_size[sc].size = (uint32_t)size;
        out->by_size[sc].mallocs = ma;
        out->by_size[sc].frees = fr;
        out->mallocs += ma;
        out->frees += fr;
        out->total_alloc += ma * size;
        out->heap_alloc += sub_floor0(ma, fr) * size;
    }
    out->tiny_allocs = 0; /* no tiny allocator (alloc/malloc.c) */
    out->heap_objects = sub_floor0(out->mallocs, out->frees);
    /* The page counters change together under the heap lock: read them
     * under it so HeapSys == HeapInuse + HeapIdle holds exactly (H1). */
    lock_acquire(&m->lock);
    uint64_t inuse = atomic_u64_load_relaxed(&m->pages_inuse);
    uint64_t free = atomic_u64_load_relaxed(&m->pages_free);
    uint64_t released = atomic_u64_load_relaxed(&m->pages_released);
    lock_release(&m->lock);
    out->heap_inuse = inuse * PAGE_SIZE;
    out->heap_idle = (free + released) * PAGE_SIZE;
    out->heap_released = released * PAGE_SIZE;
    out->heap_sys = out->heap_inuse + out->heap_idle;
    read_cycle_stats(h, out);
    out->metadata_sys = atomic_u64_load_relaxed(&m->pa.sys_bytes) + atomic_u64_load_relaxed(&m->pa_rel.sys_bytes) +
                        atomic_u64_load_relaxed(&m->gcbits.sys_bytes);
    out->sys = out->heap_sys + out->metadata_sys;
}

/* thread_grey_is_valid: t's marker queue (G5, G2; G8 when idle) and,
 * when idle, its barrier buffer is empty (B2: flushed by the last mark
 * termination). */
static bool thread_grey_is_valid(const struct gch_thread *t, bool idle)
{
    if (!gcwork_is_valid(&t->marker.work, idle))
        return false;
    if (idle)
        GCH_CHECK_CMP("B2", t->wbuf_n, ==, 0);
    return true;
}

/* threads_are_valid: T1, T3 and the count over both lists, and every
 * record's grey queues.  Caller holds h->threads_lock. */
static bool threads_are_valid(gch_heap *h, bool idle)
{
    size_t n = 0;
    for (struct gch_thread *t = h->attached; t != NULL; t = t->next, n++) {
        GCH_CHECK_CMP("T1", atomic_u32_load_relaxed(&t->mcache.attached), ==, 1);
        if (!thread_grey_is_valid(t, idle))
            return false;
    }
    for (struct gch_thread *t = h->detached; t != NULL; t = t->next) {
        GCH_CHECK_CMP("T3", atomic_u32_load_relaxed(&t->mcache.attached), ==, 0);
        if (!thread_grey_is_valid(t, idle))
            return false;
    }
    GCH_CHECK_CMP("T1", n, ==, h->nattached);
    return true;
}

int gchi_heap_verify(gch_heap *h)
{
    if (!mheap_is_valid(&h->mheap))
        return 1;
    lock_acquire(&h->stw.lock);
    bool idle = !h->gc.cycle_running;
    lock_release(&h->stw.lock);
    lock_acquire(&h->threads_lock);
    bool ok = threads_are_valid(h, idle);
    lock_release(&h->threads_lock);
    if (!ok)
        return 2;
    if (!workbuf_pool_is_valid(&h->gc.workbufs) || (idle && !workbuf_pool_is_idle(&h->gc.workbufs)))
        return 3;
    return 0;
}
