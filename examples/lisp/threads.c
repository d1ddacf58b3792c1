/*
 * threads.c - Scheme threads on one shared heap: spawn, join, mutexes.
 *
 * (spawn thunk) starts an OS thread that attaches to the heap
 * (gch_thread_attach, in vm_init), gets its own value stack and runs the
 * thunk; (join t) waits for it and returns the thunk's value.  A thread
 * object is {header, thunk, result, struct lthread *}: the last word is a
 * C pointer, outside the pointer mask.  While the thread runs, its
 * struct lthread's `obj` slot is a global root (gch_root_add), so the
 * thread object and the thunk stay alive even if the spawner drops them.
 *
 * Waiting is done in blocking sections (gch_blocking_enter/leave): a
 * thread waiting in join or for a mutex touches no heap object, so the
 * collector may stop the world and scan its value stack without it.  A
 * mutex is a noscan heap object holding a pointer to a pthread mutex
 * allocated off the heap (a blocking section must not touch heap memory,
 * and gcheap has no finalizers yet to free it: the interpreter keeps a
 * list and destroys them at exit).
 *
 * Invariants: TH1 a struct lthread is on I->threads from spawn to exit;
 * TH2 `joined` is set once, under I->mu, by the one thread that calls
 * pthread_join.
 */
#include "builtins.h"

#include <stdlib.h>
#include <string.h>

#define THREAD_C_STACK ((size_t)64 << 20)

struct lthread {
    struct lthread *next; /* [I->mu] TH1 */
    struct interp *I;     /* [immutable] */
    pthread_t tid;        /* [immutable after spawn] */
    void *obj;            /* global root while the thread runs; gch_write only */
    int joined;           /* [I->mu] TH2 */
    int failed;           /* [thread; read after pthread_join] */
};

/* owner: the struct vm holding mu, or NULL; written by the holder only
 * (after locking, before unlocking), read atomically by any thread, so a
 * thread sees its own vm there exactly when it holds the mutex. */
struct mutexrec { struct mutexrec *next; pthread_mutex_t mu; struct vm *owner; };

/* run_with_stack: run fn(arg) on a new thread with a C stack of
 * stack_size bytes and wait for it. */
int run_with_stack(void *(*fn)(void *), void *arg, size_t stack_size, void **ret)
{
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_size);
    int rc = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        rc = pthread_join(tid, ret);
    return rc;
}

/* thread_body: run the thunk of ts's thread object; store the result. */
static void thread_body(struct vm *vm, struct lthread *ts)
{
    jmp_buf jb;
    size_t base = vm->sp;
    vm->on_error = &jb;
    vm_push(vm, (val)ts->obj); /* the thread object, on our stack too */
    if (setjmp(jb) != 0) {
        ts->failed = 1;
        vm->sp = base;
        vm->depth = 0;
        return;
    }
    vm_push(vm, (val)OBJ(lthreadobj, (val)ts->obj)->thunk);
    val r = vm_apply(vm, 0);
    vm_set(vm, &OBJ(lthreadobj, vm->stack[base])->result, r);
    vm->sp = base;
}

static void *thread_main(void *arg)
{
    struct lthread *ts = arg;
    struct vm vm;
    if (!vm_init(&vm, ts->I, THREAD_C_STACK)) {
        fprintf(stderr, "error: cannot attach a thread to the heap: %s\n", gch_last_error_message());
        ts->failed = 1;
        return NULL;
    }
    thread_body(&vm, ts);
    gch_root_remove(ts->I->heap, &ts->obj);
    vm_free(&vm);
    return NULL;
}

static struct lthread *thread_arg(struct vm *vm, val v, const char *who)
{
    arg_check(vm, is_type(v, OT_THREAD), who, "a thread", v);
    return OBJ(lthreadobj, v)->ts;
}

val p_threadp(struct vm *vm, int argc, val *argv) { return mk_bool(is_type(argv[0], OT_THREAD)); }

val p_spawn(struct vm *vm, int argc, val *argv)
{
    arg_check(vm, is_prim(argv[0]) || is_type(argv[0], OT_CLOSURE), "spawn", "a procedure", argv[0]);
    struct interp *I = vm->I;
    struct lthread *ts = calloc(1, sizeof *ts);
    if (ts == NULL)
        vm_error(vm, "spawn: out of memory");
    ts->I = I;
    pthread_mutex_lock(&I->mu);
    ts->next = I->threads; /* TH1: freed at exit even if never started */
    I->threads = ts;
    ts->joined = 1;        /* until it starts: nothing to join */
    pthread_mutex_unlock(&I->mu);
    val obj = mk_obj(vm, &thread_type, OT_THREAD, 0);
    OBJ(lthreadobj, obj)->ts = ts;
    vm_set(vm, &OBJ(lthreadobj, obj)->thunk, argv[0]);
    vm_push(vm, obj);
    gch_root_add(I->heap, &ts->obj); /* may wait out a stopped world: obj is on the stack */
    gch_write(vm->t, &ts->obj, (void *)obj);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_C_STACK);
    int rc = pthread_create(&ts->tid, &attr, thread_main, ts);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        gch_root_remove(I->heap, &ts->obj);
        vm_error(vm, "spawn: cannot create a thread: %s", strerror(rc));
    }
    pthread_mutex_lock(&I->mu);
    ts->joined = 0;
    pthread_mutex_unlock(&I->mu);
    vm->sp--;
    return obj;
}

val p_join(struct vm *vm, int argc, val *argv)
{
    struct lthread *ts = thread_arg(vm, argv[0], "join");
    pthread_mutex_lock(&vm->I->mu);
    int already = ts->joined;
    ts->joined = 1; /* TH2 */
    pthread_mutex_unlock(&vm->I->mu);
    if (already)
        vm_error(vm, "join: thread already joined");
    gch_blocking_enter(vm->t); /* the wait touches no heap object */
    pthread_join(ts->tid, NULL);
    gch_blocking_leave(vm->t);
    if (ts->failed)
        vm_error(vm, "join: the thread failed");
    return (val)OBJ(lthreadobj, argv[0])->result;
}

/* threads_join_all: at exit, wait for threads nobody joined, then free
 * every record.  t (the caller's, or NULL if it is not attached) waits in
 * a blocking section. */
void threads_join_all(struct interp *I, gch_thread *t)
{
    pthread_mutex_lock(&I->mu);
    struct lthread *all = I->threads;
    I->threads = NULL;
    pthread_mutex_unlock(&I->mu);
    if (t != NULL)
        gch_blocking_enter(t);
    for (struct lthread *ts = all; ts != NULL; ts = ts->next)
        if (!ts->joined)
            pthread_join(ts->tid, NULL);
    if (t != NULL)
        gch_blocking_leave(t);
    while (all != NULL) {
        struct lthread *next = all->next;
        free(all);
        all = next;
    }
}

/* ---- mutexes ---------------------------------------------------------- */

static struct mutexrec *mutex_arg(struct vm *vm, val v, const char *who)
{
    arg_check(vm, is_type(v, OT_MUTEX), who, "a mutex", v);
    return OBJ(lmutex, v)->rec;
}

val p_make_mutex(struct vm *vm, int argc, val *argv)
{
    struct mutexrec *m = calloc(1, sizeof *m);
    if (m == NULL)
        vm_error(vm, "make-mutex: out of memory");
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_lock(&vm->I->mu);
    m->next = vm->I->mutexes;
    vm->I->mutexes = m;
    pthread_mutex_unlock(&vm->I->mu);
    struct lmutex *o = vm_alloc_noscan(vm, sizeof *o);
    o->hdr = MK_HDR(OT_MUTEX, 0);
    o->rec = m;
    return (val)o;
}

val p_mutex_lock(struct vm *vm, int argc, val *argv)
{
    struct mutexrec *m = mutex_arg(vm, argv[0], "mutex-lock!");
    if (__atomic_load_n(&m->owner, __ATOMIC_RELAXED) == vm)
        vm_error(vm, "mutex-lock!: already locked by this thread");
    if (pthread_mutex_trylock(&m->mu) != 0) { /* wait where the collector need not wait for us */
        gch_blocking_enter(vm->t);
        pthread_mutex_lock(&m->mu);
        gch_blocking_leave(vm->t);
    }
    __atomic_store_n(&m->owner, vm, __ATOMIC_RELAXED);
    return V_TRUE;
}

val p_mutex_unlock(struct vm *vm, int argc, val *argv)
{
    struct mutexrec *m = mutex_arg(vm, argv[0], "mutex-unlock!");
    if (__atomic_load_n(&m->owner, __ATOMIC_RELAXED) != vm)
        vm_error(vm, "mutex-unlock!: not locked by this thread");
    __atomic_store_n(&m->owner, NULL, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&m->mu);
    return V_TRUE;
}

void mutexes_free(struct interp *I)
{
    for (struct mutexrec *m = I->mutexes, *next; m != NULL; m = next) {
        next = m->next;
        pthread_mutex_destroy(&m->mu);
        free(m);
    }
    I->mutexes = NULL;
}
