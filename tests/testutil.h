/*
 * testutil.h - shared pieces of gcheap's cmocka tests.
 *
 * Tests are white-box: they are compiled with GCHI_BUILDING and the alloc/
 * and gc/ include paths, so they may call internal functions (mheap_*,
 * span_*, ...) as well as the public API.
 *
 *   test_heap_new_nogc  a heap with automatic collection off.
 *   struct fixture      a heap (GC off) and one attached thread (heap_setup /
 *                       heap_teardown); teardown detaches, asserts
 *                       gchi_heap_verify(h) == 0 and frees the heap.
 *   assert_heap_valid(h), heap_free_checked(h)   gchi_heap_verify naming
 *                       the failed invariant; the latter then frees h
 *                       (every test file frees its heaps through it).
 *   rng_next()          deterministic xorshift64* generator.
 *   mem_all(), mem_is_zero(), addr_is_zero()   byte-range checks.
 *   peek_freed()        read a freed object (poisoned in ASan builds).
 *   expect_error(call, e)  call returns NULL leaving error e and a message.
 *   expect_fatal()      runs a function in a forked child and asserts it
 *                       died by abort() with a message containing a
 *                       given substring on stderr (gch_fatal's path).
 *
 * A failed assertion aborts the test program at once, printing its
 * message (CMOCKA_TEST_ABORT=1, set below unless the environment says
 * otherwise).  cmocka's default longjmps back to its runner, which is
 * wrong for us twice over: from a thread other than the runner's the
 * jump lands on another thread's stack, and a test that fails while it
 * holds the mark (gchi_test_hold_mark), a hook thread or a stopped world
 * leaves the heap frozen, so the teardown's heap_free_checked waits for
 * the cycle forever, and cmocka, which keeps the message until the
 * teardown returns, never prints it: a CI run then ends in ctest's
 * timeout with no reason given (tests/test_harness.c).
 */
#ifndef GCHEAP_TESTUTIL_H
#define GCHEAP_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef GCHI_BUILDING
#define GCHI_BUILDING 1
#endif
#include "gcheap.h"
#include "heap.h"
#include "mgc.h"
#include "mfinal.h"
#include "proc.h"
#include "roots.h"
#include "stw.h"
#include "sysmon.h"
#include "testhooks.h"

/* SLOW_SAN: 1 in a ThreadSanitizer build, whose marking and thread
 * switches are an order of magnitude slower: tests scale their work or
 * drop a rate bound with it. */
#if defined(__SANITIZE_THREAD__)
#define SLOW_SAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLOW_SAN 1
#endif
#endif
#ifndef SLOW_SAN
#define SLOW_SAN 0
#endif

/* abort_on_failure: run before main (one per test program, the one
 * file that includes us).  setenv with overwrite 0: CMOCKA_TEST_ABORT=0
 * in the environment brings back cmocka's run-every-test behaviour for a
 * developer chasing several single-threaded failures. */
__attribute__((constructor)) static void abort_on_failure(void)
{
    setenv("CMOCKA_TEST_ABORT", "1", 0);
}

/* ld: a counter's value (relaxed: the tests read it when the writers are
 * quiet or only compare it against a bound). */
static inline uint64_t ld(const struct atomic_u64 *a) { return atomic_u64_load_relaxed(a); }

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct fixture {
    gch_heap *h;
    gch_thread *t;
};

/* test_heap_new_nogc: a heap whose collector never starts by itself
 * (GOGC off, environment ignored): for tests of the allocator, which keep
 * objects in C variables that are not roots. */
static inline gch_heap *test_heap_new_nogc(void)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.read_env = 0;
    return gch_heap_new(&cfg);
}

static inline int heap_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->h = test_heap_new_nogc();
    f->t = f->h ? gch_thread_attach(f->h) : NULL;
    if (f->t == NULL)
        return -1;
    *state = f;
    return 0;
}

/* assert_valid(call): a validator (span_is_valid, mheap_is_valid,
 * workbuf_pool_is_valid, ...) returned true; else fail with the message
 * of the GCH_CHECK that broke. */
#define assert_valid(call)                                                      \
    do {                                                                        \
        if (!(call))                                                            \
            fail_msg("%s: %s", #call, gch_last_error_message());                \
    } while (0)

/* assert_invalid(call, name): a validator returned false, and its
 * message names invariant `name` ("invariant C2 failed: ..."). */
#define assert_invalid(call, name)                                              \
    do {                                                                        \
        gch_clear_error();                                                      \
        assert_false(call);                                                     \
        const char *msg_ = gch_last_error_message();                            \
        if (strstr(msg_, "invariant " name " failed") == NULL)                  \
            fail_msg("%s: expected invariant %s, got: %s", #call, name, msg_);  \
    } while (0)

/* assert_heap_valid: gchi_heap_verify(h) == 0, else fail naming the part
 * and the invariant that broke (GCH_CHECK's message). */
static inline void assert_heap_valid(gch_heap *h)
{
    int v = gchi_heap_verify(h);
    if (v != 0)
        fail_msg("gchi_heap_verify: part %d: %s", v, gch_last_error_message());
}

/* heap_free_checked: every test file's teardown of a heap: wait out a
 * cycle in flight, verify the heap (assert_heap_valid) and free it. */
static inline void heap_free_checked(gch_heap *h)
{
    gchi_test_gc_wait(h);
    assert_heap_valid(h);
    assert_int_equal(gch_heap_free(h), GCH_OK);
}

static inline int heap_teardown(void **state)
{
    struct fixture *f = *state;
    if (f->t != NULL)
        assert_int_equal(gch_thread_detach(f->t), GCH_OK);
    heap_free_checked(f->h);
    free(f);
    return 0;
}

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* mem_all: every one of the n bytes at p equals byte (memcmp of the range
 * against itself shifted by one: fast, also under sanitizers). */
static inline bool mem_all(const void *p, int byte, size_t n)
{
    const unsigned char *b = p;
    return n == 0 || (b[0] == (unsigned char)byte && memcmp(b, b + 1, n - 1) == 0);
}

static inline bool mem_is_zero(const void *p, size_t n) { return mem_all(p, 0, n); }
static inline bool addr_is_zero(uintptr_t p, size_t n) { return mem_all((const void *)p, 0, n); }

/* peek_freed: copy n bytes of a freed heap object for a test to inspect
 * (a clobberfree pattern, a stale magic word).  In ASan builds freed
 * objects are poisoned (alloc/track.h), so the copy is made by an
 * uninstrumented byte loop. */
#if defined(__SANITIZE_ADDRESS__)
__attribute__((no_sanitize_address))
#endif
static inline void peek_freed(void *dst, const void *src, size_t n)
{
    const volatile unsigned char *s = src;
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

/* expect_error: the call returned NULL and left code e with a message. */
#define expect_error(call, e)                                           \
    do {                                                                \
        gch_clear_error();                                              \
        assert_null(call);                                              \
        assert_int_equal(gch_last_error(), (e));                        \
        const char *msg_ = gch_last_error_message();                    \
        assert_non_null(msg_);                                          \
        assert_true(msg_[0] != '\0');                                   \
        assert_string_not_equal(msg_, "no error");                      \
    } while (0)

/* child_stderr: run fn(arg) in a forked child (SIGABRT at its default,
 * _exit(0) if fn returns), collect what it writes to stderr into buf
 * (NUL-terminated, at most n - 1 bytes) and return its wait status. */
static inline int child_stderr(void (*fn)(void *), void *arg, char *buf, size_t n)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], 2);
        signal(SIGABRT, SIG_DFL);
        fn(arg);
        _exit(0);
    }
    close(pipefd[1]);
    size_t got = 0;
    ssize_t r;
    while (got < n - 1 && (r = read(pipefd[0], buf + got, n - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* expect_fatal: fn(arg) must abort with `needle` in its stderr output
 * (returning from fn means no fatal error: the parent fails). */
static inline void expect_fatal(void (*fn)(void *), void *arg, const char *needle)
{
    char buf[8192];
    int status = child_stderr(fn, arg, buf, sizeof buf);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) || strstr(buf, needle) == NULL)
        fail_msg("expected a fatal error containing \"%s\"; child status %d, stderr:\n%s", needle,
                 status, buf);
}

#endif
