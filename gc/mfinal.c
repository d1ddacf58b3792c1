/*
 * mfinal.c - finalizers and cleanups: their records, the queue, the
 * finalizer thread, and the specials' part of the mark's roots.
 * Go counterpart: runtime/mfinal.go (SetFinalizer, queuefinalizer,
 * runfinq), mcleanup.go (AddCleanup), mgcmark.go (markrootSpans).
 * Overview and invariants FQ1-FQ2: gc/mfinal.h.  Weak handles and
 * ephemerons: gc/mweak.c.
 */
#define GCHI_BUILDING 1
#include "mfinal.h"
#include "mweak.h"
#include "heap.h"
#include "error.h"
#include "gcbase.h"
#include "mgcmark.h"

#include <signal.h>
#include <stdlib.h>

/* ---- the queue (FQ1) ------------------------------------------------------ */

/* queue_push: a record whose function is due.  Any thread; no lock. */
static void queue_push(struct finstate *f, struct special *sp)
{
    sp->next = NULL;
    lock_acquire(&f->lock);
    if (f->tail != NULL)
        f->tail->next = sp;
    else
        f->head = sp;
    f->tail = sp;
    atomic_u64_add_relaxed(&f->nqueued, 1);
    pthread_cond_broadcast(&f->cond); /* the thread, or a start_thread waiter */
    lock_release(&f->lock);
}

/* queue_pop_locked: the oldest queued record, now on `running`, or NULL.
 * fin.lock held. */
static struct special *queue_pop_locked(struct finstate *f)
{
    struct special *sp = f->head;
    if (sp == NULL)
        return NULL;
    f->head = sp->next;
    if (f->head == NULL)
        f->tail = NULL;
    sp->next = f->running;
    f->running = sp;
    return sp;
}

/* running_remove: sp's function returned: off `running` (FQ1). */
static void running_remove(struct finstate *f, struct special *sp)
{
    lock_acquire(&f->lock);
    struct special **pp = &f->running;
    while (*pp != sp)
        pp = &(*pp)->next;
    *pp = sp->next;
    lock_release(&f->lock);
    sp->next = NULL;
}

/* run_one: call the record's function; t is attached and running. */
static void run_one(struct gch_heap *h, struct special *sp)
{
    struct special_fin *r = (struct special_fin *)sp;
    if (sp->kind == SPECIAL_FINALIZER)
        ((gch_finalizer_fn)r->fn)((void *)r->obj, r->arg);
    else
        ((gch_cleanup_fn)r->fn)(r->arg);
    running_remove(&h->fin, sp);
    atomic_u64_add_relaxed(&h->fin.nrun, 1);
    special_free(&h->mheap, sp);
}

int gch_run_finalizers(gch_thread *t, int max)
{
    if (t == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_run_finalizers: thread is NULL");
        return GCH_EINVAL;
    }
    gch_error e = gchi_check_thread(&t->mcache);
    if (e != GCH_OK)
        return e;
    stw_check_not_blocking(t, "gch_run_finalizers");
    gc_check_not_in_cycle(t->heap, "gch_run_finalizers");
    struct finstate *f = &t->heap->fin;
    int n = 0;
    while (max < 0 || n < max) {
        lock_acquire(&f->lock);
        struct special *sp = queue_pop_locked(f);
        lock_release(&f->lock);
        if (sp == NULL)
            break;
        run_one(t->heap, sp);
        n++;
    }
    return n;
}

/* ---- the finalizer thread ------------------------------------------------- */

/* wait_work: the next record to run, or NULL at quit.  Sleeps in a
 * blocking section, so that the world never waits for this thread. */
static struct special *wait_work(struct gch_heap *h, gch_thread *t)
{
    struct finstate *f = &h->fin;
    gch_blocking_enter(t);
    lock_acquire(&f->lock);
    struct special *sp = NULL;
    while (!f->quit && (sp = queue_pop_locked(f)) == NULL)
        lock_wait(&f->lock, &f->cond);
    lock_release(&f->lock);
    gch_blocking_leave(t);
    return sp;
}

static void *finalizer_main(void *arg)
{
    struct gch_heap *h = arg;
    gch_thread *t = gch_thread_attach(h);
    if (t == NULL)
        gch_fatal("finalizer thread: cannot attach to its heap", (uintptr_t)h, 0, 0);
    lock_acquire(&h->fin.lock);
    h->fin.fthread = t;
    pthread_cond_broadcast(&h->fin.cond); /* start_thread waits for this */
    lock_release(&h->fin.lock);
    struct special *sp;
    while ((sp = wait_work(h, t)) != NULL) {
        run_one(h, sp);
        gch_safepoint(t);
    }
    lock_acquire(&h->fin.lock);
    h->fin.fthread = NULL;
    lock_release(&h->fin.lock);
    gch_thread_detach(t);
    return NULL;
}

/* start_thread: the finalizer thread, once, unless finalizers are
 * manual; returns once it is attached (so gch_heap_free counts it), the
 * caller t waiting in a blocking section (the attach may wait for a
 * stopped world).  Holding no lock. */
static void start_thread(struct gch_heap *h, gch_thread *t)
{
    struct finstate *f = &h->fin;
    if (f->manual)
        return;
    lock_acquire(&f->lock);
    bool wait = false;
    if (!f->started && !f->quit) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        f->started = pthread_create(&f->thread, NULL, finalizer_main, h) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!f->started)
            gch_fatal("cannot start the finalizer thread", (uintptr_t)h, 0, 0);
        wait = true;
    }
    lock_release(&f->lock);
    if (!wait)
        return;
    gch_blocking_enter(t);
    lock_acquire(&f->lock);
    while (f->fthread == NULL)
        lock_wait(&f->lock, &f->cond);
    lock_release(&f->lock);
    gch_blocking_leave(t);
}

size_t gc_final_nthreads(struct gch_heap *h)
{
    lock_acquire(&h->fin.lock);
    size_t n = h->fin.fthread != NULL;
    lock_release(&h->fin.lock);
    return n;
}

void gc_final_stop(struct gch_heap *h)
{
    struct finstate *f = &h->fin;
    lock_acquire(&f->lock);
    f->quit = true;
    bool started = f->started;
    pthread_cond_broadcast(&f->cond);
    lock_release(&f->lock);
    if (started)
        pthread_join(f->thread, NULL);
}

/* ---- the sweep's hooks ------------------------------------------------------ */

/* fin_dead: the sweep found a finalizable object unreachable (and
 * revived it, SP5): queue its finalizer. */
static bool fin_dead(void *ctx, struct mheap *mh, struct special *sp, uintptr_t obj, size_t size)
{
    (void)mh, (void)size;
    ((struct special_fin *)sp)->obj = obj;
    queue_push(ctx, sp);
    return true;
}

/* cleanup_dead: the object was freed: queue the cleanup (no object). */
static bool cleanup_dead(void *ctx, struct mheap *mh, struct special *sp, uintptr_t obj, size_t size)
{
    (void)mh, (void)obj, (void)size;
    ((struct special_fin *)sp)->obj = 0;
    queue_push(ctx, sp);
    return true;
}

/* weak_dead: normally cleared at mark termination (FW2) already; a
 * record left (an object freed explicitly) clears its handle here. */
static bool weak_dead(void *ctx, struct mheap *mh, struct special *sp, uintptr_t obj, size_t size)
{
    (void)mh, (void)obj, (void)size;
    struct gch_heap *h = ctx;
    atomic_uptr_store_release((struct atomic_uptr *)((struct special_weak *)sp)->handle, 0);
    atomic_u64_sub_relaxed(&h->fin.nweak, 1);
    return false;
}

void gc_final_init(struct gch_heap *h, bool manual)
{
    struct finstate *f = &h->fin;
    lock_init(&f->lock, LOCKRANK_FINQ);
    pthread_cond_init(&f->cond, NULL);
    f->manual = manual;
    lock_init(&h->eph.lock, LOCKRANK_EPHEMERONS);
    struct mheap *mh = &h->mheap;
    specials_register(mh, SPECIAL_FINALIZER, sizeof(struct special_fin),
                      SPECIAL_UNIQUE | SPECIAL_REVIVES | SPECIAL_ON_UNREACHABLE, fin_dead, f);
    specials_register(mh, SPECIAL_CLEANUP, sizeof(struct special_fin), 0, cleanup_dead, f);
    specials_register(mh, SPECIAL_WEAK, sizeof(struct special_weak),
                      SPECIAL_UNIQUE | SPECIAL_ON_UNREACHABLE, weak_dead, h);
}

void gc_final_destroy(struct gch_heap *h)
{
    pthread_cond_destroy(&h->fin.cond);
    lock_destroy(&h->fin.lock);
    free(h->eph.v);
    lock_destroy(&h->eph.lock);
}

/* ---- the mark's roots (FQ1) ------------------------------------------------ */

#define SCAN_BATCH 32

/* collect_span_roots: under s's stripe lock, from the first record at
 * offset >= *resume: shade the args and handles, and copy into objs the
 * finalizable objects whose referents need a scan, stopping at an
 * object boundary once objs is full.  Returns how many were copied;
 * *resume is the offset to continue from, or UINTPTR_MAX when done. */
static size_t collect_span_roots(struct gcmarker *m, struct mspan *s, uintptr_t *resume,
                                 uintptr_t objs[SCAN_BATCH])
{
    bool scan = !spanclass_noscan(s->spanclass);
    size_t n = 0;
    uintptr_t start = *resume;
    *resume = UINTPTR_MAX;
    struct lock *l = span_specials_lock(&m->h->mheap, s);
    lock_acquire(l);
    for (struct special *sp = atomic_ptr_load_relaxed(&s->specials); sp != NULL; sp = sp->next) {
        if (sp->offset < start)
            continue;
        if (n == SCAN_BATCH && sp->offset != start) {
            *resume = sp->offset; /* SP1: every record before it was seen */
            break;
        }
        start = sp->offset;
        if (sp->kind == SPECIAL_FINALIZER && scan)
            objs[n++] = s->start + sp->offset; /* its referents, not itself */
        if (sp->kind == SPECIAL_FINALIZER || sp->kind == SPECIAL_CLEANUP)
            gcmarker_shade_raw(m, (uintptr_t)((struct special_fin *)sp)->arg);
        else if (sp->kind == SPECIAL_WEAK)
            gcmarker_shade_raw(m, ((struct special_weak *)sp)->handle);
        m->v.slots++;
    }
    lock_release(l);
    return n;
}

/* scan_span_specials: the roots that s's records hold.  The embedder's
 * trace and decode callbacks run with no stripe lock held (a callback
 * may take a lock whose holder waits for the stripe): the objects are
 * copied out first and scanned after.  They stay allocated (no sweep
 * during the mark, X1) and their span pinned (H5); a record added
 * meanwhile at an offset already passed is covered by FQ2. */
static void scan_span_specials(void *ctx, struct mspan *s)
{
    struct gcmarker *m = ctx;
    uintptr_t objs[SCAN_BATCH];
    uintptr_t resume = 0;
    do {
        size_t n = collect_span_roots(m, s, &resume, objs);
        for (size_t i = 0; i < n; i++)
            gcmarker_scan_object(m, objs[i]);
    } while (resume != UINTPTR_MAX);
}

/* scan_queue: queued and running records: object and arg. */
static void scan_queue(struct gcmarker *m, struct special *sp)
{
    for (; sp != NULL; sp = sp->next) {
        struct special_fin *r = (struct special_fin *)sp;
        gcmarker_shade_raw(m, r->obj);
        gcmarker_shade_raw(m, (uintptr_t)r->arg);
        m->v.slots += 2;
    }
}

uint64_t gc_final_scan_roots(struct gcmarker *m)
{
    struct gch_heap *h = m->h;
    uint64_t before = m->v.slots;
    specials_for_each_span(&h->mheap, scan_span_specials, m);
    lock_acquire(&h->fin.lock);
    scan_queue(m, h->fin.head);
    scan_queue(m, h->fin.running);
    lock_release(&h->fin.lock);
    return (m->v.slots - before) * sizeof(void *);
}

/* ---- the API ------------------------------------------------------------------ */

/* object_of: the span of obj, the start of an allocated object of t's
 * heap, or NULL with GCH_EINVAL set.  Checks t too (*err). */
static struct mspan *object_of(gch_thread *t, const void *obj, const char *what, gch_error *err)
{
    *err = GCH_EINVAL;
    if (t == NULL || obj == NULL) {
        gchi_set_error(GCH_EINVAL, "%s: thread or object is NULL", what);
        return NULL;
    }
    if ((*err = gchi_check_thread(&t->mcache)) != GCH_OK)
        return NULL;
    stw_check_not_blocking(t, what);
    gc_check_not_in_cycle(t->heap, what);
    struct mspan *s = NULL;
    uintptr_t base = mheap_object_base(&t->heap->mheap, (uintptr_t)obj, &s);
    if (base == 0 || base != (uintptr_t)obj) {
        *err = GCH_EINVAL;
        gchi_set_error(GCH_EINVAL, "%s: %p is not the start of an object of this heap", what, obj);
        return NULL;
    }
    return s;
}

/* marking: the phase is MARK.  Stable for t, which is running (the phase
 * changes only with the world stopped). */
static bool marking(const struct gch_heap *h)
{
    return atomic_u32_load_relaxed(&h->gc.phase) == GCPHASE_MARK;
}

/* fin_record: a new finalizer or cleanup record for obj in s. */
static struct special_fin *fin_record(struct mheap *mh, enum special_kind kind, struct mspan *s,
                                      const void *obj, void (*fn)(void), void *arg)
{
    struct special_fin *r = (struct special_fin *)special_alloc(mh, kind);
    if (r == NULL)
        return NULL;
    r->sp.offset = (uintptr_t)obj - s->start;
    r->fn = fn;
    r->arg = arg;
    return r;
}

gch_error gch_set_finalizer(gch_thread *t, void *obj, gch_finalizer_fn fn, void *arg)
{
    gch_error e;
    struct mspan *s = object_of(t, obj, "gch_set_finalizer", &e);
    if (s == NULL)
        return e;
    struct gch_heap *h = t->heap;
    struct mheap *mh = &h->mheap;
    if (fn == NULL) {
        struct special *old = special_remove(mh, s, (uintptr_t)obj - s->start, SPECIAL_FINALIZER);
        if (old != NULL)
            special_free(mh, old);
        return GCH_OK;
    }
    struct special_fin *r = fin_record(mh, SPECIAL_FINALIZER, s, obj, (void (*)(void))fn, arg);
    if (r == NULL)
        return GCH_ENOMEM;
    struct lock *l = span_specials_lock(mh, s);
    lock_acquire(l);
    struct special_fin *old = (struct special_fin *)special_find_locked(s, r->sp.offset, SPECIAL_FINALIZER);
    if (old != NULL) { /* replace: the record stays where it is */
        old->fn = r->fn;
        old->arg = arg;
    } else {
        special_add_locked(mh, s, &r->sp);
    }
    lock_release(l);
    if (old != NULL)
        special_free(mh, &r->sp);
    if (marking(h)) { /* FQ2 */
        gcmarker_shade_raw(&t->marker, (uintptr_t)obj);
        gcmarker_shade_raw(&t->marker, (uintptr_t)arg);
    }
    start_thread(h, t);
    return GCH_OK;
}

gch_error gch_add_cleanup(gch_thread *t, void *obj, gch_cleanup_fn fn, void *arg)
{
    gch_error e;
    struct mspan *s = object_of(t, obj, "gch_add_cleanup", &e);
    if (s == NULL)
        return e;
    if (fn == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_add_cleanup: function is NULL");
        return GCH_EINVAL;
    }
    struct gch_heap *h = t->heap;
    if (gc_cleanup_arg_reaches(t, arg, (uintptr_t)obj)) {
        gchi_set_error(GCH_EINVAL, "gch_add_cleanup: arg %p reaches the object %p: it would "
                       "never be freed", arg, obj);
        return GCH_EINVAL;
    }
    struct special_fin *r = fin_record(&h->mheap, SPECIAL_CLEANUP, s, obj, (void (*)(void))fn, arg);
    if (r == NULL)
        return GCH_ENOMEM;
    special_add(&h->mheap, s, &r->sp);
    if (marking(h)) /* FQ2 */
        gcmarker_shade_raw(&t->marker, (uintptr_t)arg);
    start_thread(h, t);
    return GCH_OK;
}
