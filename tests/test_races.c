/*
 * test_races.c - the classic lost-object races of a concurrent mark, each
 * arranged at a known point of the mark, and gccheckmark catching a mark
 * that loses an object.
 *
 * A test freezes the mark with gchi_test_hold_mark (workers and assists
 * do no mark work), starts a cycle, runs its own root-scan handshake at a
 * safepoint (its handle frame is then black), makes its stores, and lets
 * the mark go on.  Every heap is tests/mark_fixture.h's (shared with
 * test_barrier.c): gccheckmark=1, which re-marks with the world stopped
 * at the end of each mark and aborts on a lost object, and clobberfree=1,
 * so a freed object fails its magic check.
 *
 * What it checks:
 *   1. a reference moved from the heap into a scanned handle frame and
 *      deleted from the heap survives (the barrier's old-value half);
 *   2. a reference moved from an unscanned object into a black one and
 *      deleted from the first survives (gch_write, gch_write_range with
 *      gch_write_clear, gch_write_cas);
 *   3. objects allocated during the mark (tiny ones too), linked only from
 *      a black object, survive;
 *   4. a global root removed during the mark, whose object was copied
 *      into a scanned frame, survives;
 *   5. a thread leaving its blocking section while a worker may be
 *      scanning its frames keeps what they hold;
 *   6. the same moves made with plain stores (no barrier) are lost, and
 *      gccheckmark stops the process naming the object and its path;
 *   7. root edits during the mark (R3): an unattached thread removing a
 *      heap scanner holds mark termination until its shading is
 *      published; a root range added after the globals were scanned is
 *      shaded; a scanner table written with gch_write loses nothing;
 *   8. with no worker thread the cycle falls back to stopping the world;
 *      gch_write inside a blocking section is fatal;
 *   9. a root edit in flight when a cycle stops the world ends before the
 *      phase changes; idle workers do not spin while an edit holds the
 *      mark open; gcpacertrace lines reach the sink with the world
 *      running; grey work planted at mark termination restarts the mark
 *      (and after 32 restarts is drained stopped), losing nothing; a root
 *      edit from a scan callback is fatal.
 */
#include "mark_fixture.h"
#include "error.h"
#include "mgc.h"

#include <pthread.h>
#include <time.h>

/* ---- 1. heap -> black frame ----------------------------------------------- */

static void heap_to_frame(bool barrier)
{
    struct env e;
    env_open(&e);
    GCH_LOCALS(e.t, locals, 1);
    struct obj *a = new_obj(e.t);
    gch_write(e.t, &a->f[0], new_obj(e.t));
    gch_write(e.t, &e.g[0], a);
    a = NULL;
    mark_frozen(&e);
    struct obj *ga = e.g[0];
    locals[0] = ga->f[0];
    if (barrier)
        gch_write(e.t, &ga->f[0], NULL);
    else
        ga->f[0] = NULL; /* the bug the barrier prevents */
    mark_finish(&e);
    assert_int_equal(gch_collect(e.h), GCH_OK); /* and one more cycle */
    check_obj(locals[0]);
    GCH_LOCALS_END(e.t, locals);
    env_close(&e);
}

static void test_heap_to_frame(void **state) { (void)state; heap_to_frame(true); }

/* ---- 2. unscanned object -> black object ------------------------------ */

enum move_kind { MOVE_WRITE, MOVE_RANGE, MOVE_CAS, MOVE_PLAIN };

static void white_to_black(enum move_kind how)
{
    struct env e;
    env_open(&e);
    struct obj *c = new_obj(e.t);
    for (int i = 0; i < 3; i++)
        gch_write(e.t, &c->f[i], new_obj(e.t));
    gch_write(e.t, &e.g[0], c);
    c = NULL;
    mark_frozen(&e);
    struct obj *gc = e.g[0];
    struct obj *black = new_obj(e.t); /* allocated during the mark: black */
    gch_write(e.t, &e.g[1], black);
    void *moved[3] = {gc->f[0], gc->f[1], gc->f[2]};
    switch (how) {
    case MOVE_WRITE:
        for (int i = 0; i < 3; i++) {
            gch_write(e.t, &black->f[i], gc->f[i]);
            gch_write(e.t, &gc->f[i], NULL);
        }
        break;
    case MOVE_RANGE:
        gch_write_range(e.t, black->f, gc->f, 3);
        gch_write_clear(e.t, gc->f, 3);
        break;
    case MOVE_CAS:
        for (int i = 0; i < 3; i++) {
            assert_true(gch_write_cas(e.t, &black->f[i], NULL, moved[i]));
            assert_false(gch_write_cas(e.t, &gc->f[i], black, NULL)); /* fails: unchanged */
            assert_true(gch_write_cas(e.t, &gc->f[i], moved[i], NULL));
        }
        break;
    case MOVE_PLAIN:
        for (int i = 0; i < 3; i++) {
            black->f[i] = gc->f[i];
            gc->f[i] = NULL;
        }
        break;
    }
    black = NULL;
    gc = NULL;
    mark_finish(&e);
    assert_int_equal(gch_collect(e.h), GCH_OK);
    struct obj *b = e.g[1];
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(b->f[i], moved[i]);
        check_obj(b->f[i]);
        assert_null(((struct obj *)e.g[0])->f[i]);
    }
    env_close(&e);
}

static void test_white_to_black_write(void **state) { (void)state; white_to_black(MOVE_WRITE); }
static void test_white_to_black_range(void **state) { (void)state; white_to_black(MOVE_RANGE); }
static void test_white_to_black_cas(void **state) { (void)state; white_to_black(MOVE_CAS); }

/* ---- 3. allocated during the mark, linked only from a black object ------- */

static void test_new_object_under_black(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    struct obj *old = new_obj(e.t);
    gch_write(e.t, &e.g[0], old);
    old = NULL;
    mark_frozen(&e);
    struct obj *black = new_obj(e.t);
    gch_write(e.t, &e.g[1], black);
    struct obj *fresh = new_obj(e.t);
    char *tiny = gch_alloc_noscan(e.t, 8); /* a tiny block made during the mark */
    assert_non_null(tiny);
    memcpy(tiny, "tinyblk", 8);
    gch_write(e.t, &black->f[0], fresh);
    gch_write(e.t, &black->f[1], tiny);
    /* and under an object the mark has not scanned yet */
    gch_write(e.t, &((struct obj *)e.g[0])->f[0], new_obj(e.t));
    black = NULL;
    fresh = NULL;
    tiny = NULL;
    mark_finish(&e);
    assert_int_equal(gch_collect(e.h), GCH_OK);
    struct obj *b = e.g[1];
    check_obj(b->f[0]);
    assert_memory_equal(b->f[1], "tinyblk", 8);
    check_obj(((struct obj *)e.g[0])->f[0]);
    env_close(&e);
}

/* ---- 4. a root removed during the mark ------------------------------------ */

static void test_root_removed_during_mark(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    GCH_LOCALS(e.t, locals, 1);
    gch_write(e.t, &e.g[2], new_obj(e.t));
    mark_frozen(&e);
    locals[0] = e.g[2]; /* into a black frame... */
    assert_int_equal(gch_root_range_remove(e.h, e.g), GCH_OK); /* ...and the root is gone */
    mark_finish(&e);
    assert_int_equal(gch_collect(e.h), GCH_OK);
    check_obj(locals[0]);
    GCH_LOCALS_END(e.t, locals);
    assert_int_equal(gch_thread_detach(e.t), GCH_OK);
    heap_free_checked(e.h);
}

/* ---- 5. leaving a blocking section mid-mark ------------------------------- */

struct blocker {
    struct env *e;
    int state; /* __atomic: 0 start, 1 blocking, 2 may leave, 3 done */
    int spin;  /* delay before leaving, in loop turns */
};

static void wait_state(int *s, int want)
{
    while (__atomic_load_n(s, __ATOMIC_ACQUIRE) != want) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

static void *blocker_main(void *arg)
{
    struct blocker *b = arg;
    gch_thread *t = gch_thread_attach(b->e->h);
    assert_non_null(t);
    GCH_LOCALS(t, locals, 1);
    locals[0] = new_obj(t); /* held only by this frame */
    gch_blocking_enter(t);
    __atomic_store_n(&b->state, 1, __ATOMIC_RELEASE);
    wait_state(&b->state, 2);
    for (volatile int i = 0; i < b->spin; i++) {
    }
    gch_blocking_leave(t); /* maybe while a worker scans this frame */
    gch_write(t, &b->e->g[3], locals[0]);
    locals[0] = NULL;
    gch_safepoint(t);
    GCH_LOCALS_END(t, locals);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    __atomic_store_n(&b->state, 3, __ATOMIC_RELEASE);
    return NULL;
}

static void test_leave_blocking_mid_mark(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    for (int round = 0; round < 60; round++) {
        gch_write(e.t, &e.g[3], NULL);
        struct blocker b = {&e, 0, (round % 6) * 2000};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, blocker_main, &b), 0);
        wait_state(&b.state, 1);
        gchi_test_hold_mark(e.h, true);
        assert_true(gchi_test_gc_start(e.h));
        gch_safepoint(e.t);
        __atomic_store_n(&b.state, 2, __ATOMIC_RELEASE);
        gchi_test_hold_mark(e.h, false); /* workers race the thread's leave */
        gch_blocking_enter(e.t);
        assert_int_equal(pthread_join(th, NULL), 0);
        gch_blocking_leave(e.t);
        gchi_test_gc_wait(e.h);
        assert_int_equal(gch_collect(e.h), GCH_OK);
        check_obj(e.g[3]);
    }
    env_close(&e);
}

/* ---- 7. root edits from other threads during the mark ----------------- */

static void *tbl[1];    /* an embedder table reported by tbl_scanner */
static int scans;       /* __atomic: tbl_scanner calls */
static int pause_state; /* __atomic: 0 off, 1 armed, 2 paused in the scanner, 3 go on */

static void nap(void)
{
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
}

static void tbl_scanner(gch_visitor *v, void *ctx)
{
    (void)ctx;
    gch_visit(v, &tbl[0]);
    int armed = 1;
    if (__atomic_compare_exchange_n(&pause_state, &armed, 2, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&pause_state, __ATOMIC_ACQUIRE) != 3)
            nap();
    }
    __atomic_add_fetch(&scans, 1, __ATOMIC_ACQ_REL);
}

/* scanned_once: start a mark and wait until a worker ran tbl_scanner
 * (the globals job), without reaching a safepoint: our frames stay
 * unscanned. */
static void scanned_once(struct env *e)
{
    __atomic_store_n(&tbl[0], NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&scans, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pause_state, 0, __ATOMIC_RELAXED);
    assert_int_equal(gch_heap_scanner_add(e->h, tbl_scanner, NULL), GCH_OK);
    assert_true(gchi_test_gc_start(e->h));
    while (__atomic_load_n(&scans, __ATOMIC_ACQUIRE) < 1)
        nap();
}

static void *remover_main(void *arg)
{
    gch_heap *h = arg; /* this thread is not attached */
    __atomic_store_n(&pause_state, 1, __ATOMIC_RELEASE);
    assert_int_equal(gch_heap_scanner_remove(h, tbl_scanner, NULL), GCH_OK);
    return NULL;
}

/* An unattached thread removes a heap scanner mid-mark; its last call
 * marks P, which nothing else marked yet.  The mark must not end before
 * that shading is published (else P's child is swept). */
static void test_unattached_remove_holds_termination(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    GCH_LOCALS(e.t, locals, 1);
    struct obj *p = new_obj(e.t);
    gch_write(e.t, &p->f[0], new_obj(e.t)); /* C, reachable only through P */
    locals[0] = p;
    scanned_once(&e);
    /* A plain store, white-box: it stands for any way the removal is the
     * first to mark P (gch_write would have marked it already). */
    __atomic_store_n(&tbl[0], p, __ATOMIC_RELEASE);
    p = NULL;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, remover_main, e.h), 0);
    while (__atomic_load_n(&pause_state, __ATOMIC_ACQUIRE) != 2)
        nap(); /* the remover marked P and holds it, unpublished */
    gch_safepoint(e.t); /* our root scan: P is marked already, not queued */
    /* Blocking, so nothing of ours holds the mark up: only the remover. */
    gch_blocking_enter(e.t);
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    gch_blocking_leave(e.t);
    uint32_t phase = atomic_u32_load_relaxed(&e.h->gc.phase);
    __atomic_store_n(&pause_state, 3, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(phase, GCPHASE_MARK); /* R3, X4: the mark waited for the remover */
    gchi_test_gc_wait(e.h);
    assert_false(workbuf_pool_has_work(&e.h->gc.workbufs));
    assert_int_equal(gch_collect(e.h), GCH_OK);
    check_obj(((struct obj *)locals[0])->f[0]);
    GCH_LOCALS_END(e.t, locals);
    env_close(&e);
}

/* A root range registered after the globals were scanned, holding the
 * only reference once our frame lets go of it. */
static void test_root_added_mid_mark(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    static void *late[1];
    GCH_LOCALS(e.t, locals, 1);
    locals[0] = new_obj(e.t);
    scanned_once(&e);
    late[0] = locals[0]; /* not a root yet: no barrier */
    assert_int_equal(gch_root_range_add(e.h, late, 1), GCH_OK); /* R3: shaded here */
    locals[0] = NULL;
    gch_safepoint(e.t); /* our frame scan finds nothing */
    gchi_test_gc_wait(e.h);
    assert_int_equal(gch_collect(e.h), GCH_OK);
    check_obj(late[0]);
    GCH_LOCALS_END(e.t, locals);
    assert_int_equal(gch_root_range_remove(e.h, late), GCH_OK);
    assert_int_equal(gch_heap_scanner_remove(e.h, tbl_scanner, NULL), GCH_OK);
    env_close(&e);
}

/* A heap scanner's table written after its one scan of the mark: the
 * contract (gcheap.h) is gch_write, and then nothing is lost. */
static void test_scanner_table_written_with_barrier(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    GCH_LOCALS(e.t, locals, 1);
    locals[0] = new_obj(e.t);
    scanned_once(&e);
    gch_write(e.t, &tbl[0], locals[0]);
    locals[0] = NULL;
    gch_safepoint(e.t);
    gchi_test_gc_wait(e.h);
    assert_int_equal(gch_collect(e.h), GCH_OK);
    check_obj(tbl[0]);
    GCH_LOCALS_END(e.t, locals);
    assert_int_equal(gch_heap_scanner_remove(e.h, tbl_scanner, NULL), GCH_OK);
    env_close(&e);
}

/* ---- 8. no worker thread can be made: the cycle stops the world ---------- */

static void test_no_workers_falls_back(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    gchi_test_no_workers(e.h, true);
    gch_write(e.t, &e.g[0], new_obj(e.t));
    gch_stats st;
    gch_read_stats(e.h, &st);
    uint32_t n0 = st.num_gc;
    assert_int_equal(gch_collect(e.h), GCH_OK); /* returns: no mark waits for a worker */
    gch_read_stats(e.h, &st);
    assert_int_equal(st.num_gc, n0 + 1);
    assert_int_equal(e.h->gc.workers.nworkers, 0);
    check_obj(e.g[0]);
    gchi_test_no_workers(e.h, false);
    assert_int_equal(gch_collect(e.h), GCH_OK); /* and later cycles are concurrent */
    assert_true(e.h->gc.workers.nworkers > 0);
    env_close(&e);
}

/* ---- 6. without the barrier the object is lost, and checkmark says so ---- */

static void lost_frame(void *arg) { (void)arg; heap_to_frame(false); }
static void lost_black(void *arg) { (void)arg; white_to_black(MOVE_PLAIN); }

static void test_checkmark_catches_frame_move(void **state)
{
    (void)state;
    expect_fatal(lost_frame, NULL, "gccheckmark: reachable object");
}

static void test_checkmark_catches_heap_move(void **state)
{
    (void)state;
    expect_fatal(lost_black, NULL, "path: root slot");
}

/* gch_write inside a blocking section while marking: a worker may be
 * flushing this thread's buffer, so it is refused. */
static void write_while_blocking(void *arg)
{
    (void)arg;
    struct env e;
    env_open(&e);
    struct obj *o = new_obj(e.t);
    gch_write(e.t, &e.g[0], o);
    mark_frozen(&e);
    gch_blocking_enter(e.t);
    gch_write(e.t, &o->f[0], o);
}

static void test_barrier_in_blocking_section_is_fatal(void **state)
{
    (void)state;
    expect_fatal(write_while_blocking, NULL, "inside a blocking section");
}

/* ---- 9. review findings: root edits racing a stop, pacer lines, the
 * termination restart ------------------------------------------------------ */

static int edit_state; /* __atomic: 0 idle, 1 an edit is held in its bracket, 2 let it go */

static void hold_edit(struct gch_heap *h)
{
    (void)h;
    __atomic_store_n(&edit_state, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&edit_state, __ATOMIC_ACQUIRE) != 2)
        nap();
}

struct edit_arg {
    gch_heap *h;
    void **slots;
    uint32_t phase_seen; /* the phase while the edit was held */
};

static void *range_remover_main(void *arg)
{
    struct edit_arg *a = arg; /* not attached: no stop waits for it */
    assert_int_equal(gch_root_range_remove(a->h, a->slots), GCH_OK);
    return NULL;
}

static void *edit_releaser_main(void *arg)
{
    struct edit_arg *a = arg;
    struct timespec ts = {0, 60 * 1000 * 1000};
    nanosleep(&ts, NULL); /* long enough for a cycle to start, if it could */
    a->phase_seen = atomic_u32_load_relaxed(&a->h->gc.phase);
    __atomic_store_n(&edit_state, 2, __ATOMIC_RELEASE);
    return NULL;
}

/* R3: a root edit that began before a cycle's stop ends before the phase
 * changes.  Otherwise an edit that saw no mark could remove a global
 * after a thread copied its object into an already scanned frame, and
 * the workers would then find the global gone. */
static void test_root_edit_in_flight_at_cycle_start(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    static void *late[1];
    assert_int_equal(gch_root_range_add(e.h, late, 1), GCH_OK);
    gch_write(e.t, &late[0], new_obj(e.t));
    __atomic_store_n(&edit_state, 0, __ATOMIC_RELAXED);
    gchi_test_set_root_edit_hook(e.h, hold_edit);
    struct edit_arg a = {e.h, late, 99};
    pthread_t rm, rel;
    assert_int_equal(pthread_create(&rm, NULL, range_remover_main, &a), 0);
    while (__atomic_load_n(&edit_state, __ATOMIC_ACQUIRE) != 1)
        nap();
    gchi_test_set_root_edit_hook(e.h, NULL);
    assert_int_equal(pthread_create(&rel, NULL, edit_releaser_main, &a), 0);
    gchi_test_hold_mark(e.h, true);
    assert_true(gchi_test_gc_start(e.h)); /* waits for the held edit */
    assert_int_equal(pthread_join(rel, NULL), 0);
    assert_int_equal(pthread_join(rm, NULL), 0);
    assert_int_equal(a.phase_seen, GCPHASE_OFF); /* the mark did not begin under the edit */
    assert_int_equal(atomic_u32_load_relaxed(&e.h->gc.phase), GCPHASE_MARK);
    gch_safepoint(e.t);
    mark_finish(&e);
    env_close(&e);
}

/* F3: while a root edit shades mid-mark and nothing else is left, idle
 * workers wait; they do not spin on the mark that cannot end yet. */
static void *scanner_remover_main(void *arg)
{
    gch_heap *h = arg; /* unattached */
    assert_int_equal(gch_heap_scanner_remove(h, tbl_scanner, NULL), GCH_OK);
    return NULL;
}

static double cpu_seconds(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_idle_workers_wait_out_a_root_edit(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    scanned_once(&e); /* a forced mark: the fractional worker is not throttled */
    gch_safepoint(e.t); /* our roots: nothing is left but the edit below */
    __atomic_store_n(&edit_state, 0, __ATOMIC_RELAXED);
    gchi_test_set_root_edit_hook(e.h, hold_edit);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, scanner_remover_main, e.h), 0);
    while (__atomic_load_n(&edit_state, __ATOMIC_ACQUIRE) != 1)
        nap();
    gchi_test_set_root_edit_hook(e.h, NULL);
    gch_blocking_enter(e.t);
    double wall0 = cpu_seconds(CLOCK_MONOTONIC), cpu0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double wall = cpu_seconds(CLOCK_MONOTONIC) - wall0, cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    uint32_t phase = atomic_u32_load_relaxed(&e.h->gc.phase);
    __atomic_store_n(&edit_state, 2, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(th, NULL), 0);
    gch_blocking_leave(e.t);
    assert_int_equal(phase, GCPHASE_MARK); /* the edit held the mark open */
    if (cpu > 0.6 * wall) /* a spinning worker burns a whole CPU */
        fail_msg("%.0f ms CPU in %.0f ms while the mark waited on a root edit", cpu * 1e3, wall * 1e3);
    gchi_test_gc_wait(e.h);
    env_close(&e);
}

/* F2: gcpacertrace lines reach the sink after the world restarts (the
 * sink may take a lock that a stopped thread holds). */
static gch_heap *sink_heap;
static int sink_lines, sink_stopped;

static void pacer_sink(const char *line, void *ctx)
{
    (void)ctx;
    if (strncmp(line, "pacer:", 6) == 0)
        sink_lines++;
    /* The stopper marks itself the collector for as long as it holds the
     * world stopped. */
    if (atomic_uptr_load_relaxed(&sink_heap->gc.collector) == gchi_thread_tag())
        sink_stopped++;
}

static void test_pacer_trace_after_restart(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "TRACES_";
    cfg.gc_percent = -1;
    cfg.trace = pacer_sink;
    setenv("TRACES_GODEBUG", "gcpacertrace=1,gctrace=1", 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("TRACES_GODEBUG");
    assert_non_null(h);
    sink_heap = h;
    sink_lines = sink_stopped = 0;
    for (int i = 0; i < 4; i++)
        assert_int_equal(gch_collect(h), GCH_OK); /* unattached caller */
    /* A start line per mark; no end line, as in Go, because nothing was
     * allocated during the marks (heap_live never passed the trigger). */
    assert_int_equal(sink_lines, 4);
    assert_int_equal(sink_stopped, 0);
    heap_free_checked(h);
}

/* F4: grey work found with the world stopped at mark termination sends
 * the world back to marking (up to TERM_MAX_RESTARTS times), after which
 * it is drained stopped.  The hook whitens a reachable chain P -> C and
 * leaves P in our barrier buffer, as a store after our flush would. */
static struct env *term_env;
static int term_plants; /* __atomic: times left to plant */

static void whiten(struct gch_heap *h, const void *p)
{
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)p);
    assert_non_null(s);
    uint32_t idx = span_object_index(s, (uintptr_t)p);
    mem_u8_store_relaxed(&s->gcmarks[idx], 0);
}

static void plant_grey(struct gch_heap *h)
{
    if (__atomic_load_n(&term_plants, __ATOMIC_ACQUIRE) <= 0)
        return;
    __atomic_sub_fetch(&term_plants, 1, __ATOMIC_ACQ_REL);
    struct obj *p = term_env->g[0];
    whiten(h, p);
    whiten(h, p->f[0]);
    gch_thread *t = term_env->t; /* blocking in gch_collect: W3 lets the stopper at it */
    t->wbuf[t->wbuf_n++] = (uintptr_t)p;
}

static void term_restart(int plants, bool expect_drained)
{
    struct env e;
    env_open(&e);
    struct obj *p = new_obj(e.t);
    gch_write(e.t, &p->f[0], new_obj(e.t));
    gch_write(e.t, &e.g[0], p);
    p = NULL;
    term_env = &e;
    uint64_t restarts0 = atomic_u64_load_relaxed(&e.h->gc.term_restarts_total);
    uint64_t drained0 = atomic_u64_load_relaxed(&e.h->gc.stw_drained_bytes);
    __atomic_store_n(&term_plants, plants, __ATOMIC_RELEASE);
    gchi_test_set_term_hook(e.h, plant_grey);
    assert_int_equal(gch_collect(e.h), GCH_OK); /* checkmark runs at its end */
    gchi_test_set_term_hook(e.h, NULL);
    assert_int_equal(__atomic_load_n(&term_plants, __ATOMIC_ACQUIRE), 0);
    uint64_t restarts = atomic_u64_load_relaxed(&e.h->gc.term_restarts_total) - restarts0;
    uint64_t drained = atomic_u64_load_relaxed(&e.h->gc.stw_drained_bytes) - drained0;
    assert_int_equal(restarts, plants < 32 ? plants : 32);
    if (expect_drained)
        assert_true(drained > 0);
    else
        assert_int_equal(drained, 0);
    assert_int_equal(gch_collect(e.h), GCH_OK);
    check_obj(e.g[0]);
    check_obj(((struct obj *)e.g[0])->f[0]);
    env_close(&e);
}

static void test_termination_restarts(void **state) { (void)state; term_restart(3, false); }
static void test_termination_drains_after_restarts(void **state) { (void)state; term_restart(33, true); }

/* A root edit from a scan callback would wait out the stop its own
 * collector holds: refused by name. */
static void edit_scanner(gch_visitor *v, void *ctx)
{
    (void)v;
    static void *slot[1];
    gch_root_range_add(ctx, slot, 1);
}

static void edit_from_scanner(void *arg)
{
    (void)arg;
    struct env e;
    env_open(&e);
    assert_int_equal(gch_heap_scanner_add(e.h, edit_scanner, e.h), GCH_OK);
    gch_collect(e.h);
}

static void test_root_edit_from_scanner_is_fatal(void **state)
{
    (void)state;
    expect_fatal(edit_from_scanner, NULL, "gch_root_range_add inside a collection");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_to_frame),
        cmocka_unit_test(test_white_to_black_write),
        cmocka_unit_test(test_white_to_black_range),
        cmocka_unit_test(test_white_to_black_cas),
        cmocka_unit_test(test_new_object_under_black),
        cmocka_unit_test(test_root_removed_during_mark),
        cmocka_unit_test(test_leave_blocking_mid_mark),
        cmocka_unit_test(test_unattached_remove_holds_termination),
        cmocka_unit_test(test_root_added_mid_mark),
        cmocka_unit_test(test_scanner_table_written_with_barrier),
        cmocka_unit_test(test_no_workers_falls_back),
        cmocka_unit_test(test_barrier_in_blocking_section_is_fatal),
        cmocka_unit_test(test_checkmark_catches_frame_move),
        cmocka_unit_test(test_checkmark_catches_heap_move),
        cmocka_unit_test(test_root_edit_in_flight_at_cycle_start),
        cmocka_unit_test(test_idle_workers_wait_out_a_root_edit),
        cmocka_unit_test(test_pacer_trace_after_restart),
        cmocka_unit_test(test_termination_restarts),
        cmocka_unit_test(test_termination_drains_after_restarts),
        cmocka_unit_test(test_root_edit_from_scanner_is_fatal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
