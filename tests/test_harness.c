/*
 * test_harness.c - the test harness itself (tests/testutil.h): a failed
 * assertion ends the test program at once with its message, wherever
 * it happens, instead of hanging.
 *
 * Each test runs this same program again (/proc/self/exe) with the name
 * of a planted failure and CMOCKA_TEST_ABORT unset, so what is checked
 * is what every test program does by itself, and asserts that the child
 * died by SIGABRT with the planted message on stderr:
 *   held    an assertion fails while the test holds the mark of its
 *           fixture heap; with cmocka's longjmp the teardown waited for
 *           that cycle forever and the message was never printed;
 *   thread  an assertion fails in a thread the test started, while the
 *           test waits to join it; cmocka's longjmp from that thread
 *           lands on the runner's stack.
 * A child that hangs all the same is ended by SIGALRM (set before the
 * exec): a guard that turns the old hang into a failure here, not a
 * bound on anything's speed (the child has milliseconds of work).
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>

#define HANG_GUARD_S 120

/* ---- the planted failures (run in the child) --------------------------- */

static void planted_held(void **state)
{
    struct fixture *f = *state;
    gchi_test_hold_mark(f->h, true);
    assert_true(gchi_test_gc_start(f->h));
    gch_safepoint(f->t); /* our roots scanned: the mark now waits on the hold alone */
    /* an assert_* failure (cmocka keeps its message until the teardown
     * returns; fail_msg would print part of it at once) */
    assert_string_equal("planted failure: mark held", "");
}

static void *failing_thread(void *arg)
{
    (void)arg;
    assert_string_equal("planted failure: in a thread", "");
    return NULL;
}

static void planted_thread(void **state)
{
    struct fixture *f = *state;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, failing_thread, NULL), 0);
    gch_blocking_enter(f->t);
    pthread_join(th, NULL);
    gch_blocking_leave(f->t);
}

static int run_planted(const char *name)
{
    const struct CMUnitTest held[] = {
        cmocka_unit_test_setup_teardown(planted_held, heap_setup, heap_teardown),
    };
    const struct CMUnitTest thread[] = {
        cmocka_unit_test_setup_teardown(planted_thread, heap_setup, heap_teardown),
    };
    if (strcmp(name, "held") == 0)
        return cmocka_run_group_tests(held, NULL, NULL);
    if (strcmp(name, "thread") == 0)
        return cmocka_run_group_tests(thread, NULL, NULL);
    fprintf(stderr, "test_harness: no planted failure '%s'\n", name);
    return 2;
}

/* ---- the checks (run in the parent) ------------------------------------ */

static void exec_planted(void *arg)
{
    unsetenv("CMOCKA_TEST_ABORT"); /* the program must set it itself */
    alarm(HANG_GUARD_S);
    execl("/proc/self/exe", "test_harness", (const char *)arg, (char *)NULL);
    fprintf(stderr, "execl: %s\n", strerror(errno));
    _exit(3);
}

static void expect_abort_with(const char *name, const char *needle)
{
    char buf[16384];
    int status = child_stderr(exec_planted, (void *)name, buf, sizeof buf);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) || strstr(buf, needle) == NULL)
        fail_msg("planted failure '%s': expected SIGABRT and \"%s\"; status %#x (signal %d), "
                 "stderr:\n%s",
                 name, needle, status, WIFSIGNALED(status) ? WTERMSIG(status) : 0, buf);
}

static void test_failure_while_mark_held_aborts(void **state)
{
    (void)state;
    expect_abort_with("held", "planted failure: mark held");
}

static void test_failure_in_other_thread_aborts(void **state)
{
    (void)state;
    expect_abort_with("thread", "planted failure: in a thread");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return run_planted(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_while_mark_held_aborts),
        cmocka_unit_test(test_failure_in_other_thread_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
