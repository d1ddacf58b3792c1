/* test_env.c - gc/debugvars.c: GOGC, GOMEMLIMIT, GOMAXPROCS and GODEBUG
 * parsing, the embedder prefix, the messages for bad values (E2: they name
 * the variable and the value kept, and nothing changes) and the help text.
 * The environment is a small array of name/value pairs behind the injected
 * getenv: no test reads or changes the process environment. */
#include "testutil.h"
#include "debugvars.h"

#include <limits.h>

/* ---- fixtures -------------------------------------------------------- */

struct envpair {
    const char *name, *value;
};

struct fakeenv {
    const struct envpair *pairs;
    size_t n;
};

static const char *fake_getenv(void *ctx, const char *name)
{
    const struct fakeenv *env = ctx;
    for (size_t i = 0; i < env->n; i++)
        if (strcmp(env->pairs[i].name, name) == 0)
            return env->pairs[i].value;
    return NULL;
}

/* An errstream whose text the test can read. */
struct capture {
    FILE *f;
    char *buf;
    size_t len;
};

static void cap_open(struct capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

/* cap_close: the captured text; the caller frees it. */
static char *cap_close(struct capture *c)
{
    assert_int_equal(fclose(c->f), 0);
    return c->buf;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/* read_env: gcenv_read with pairs[0..n) as the environment; returns what
 * it printed (caller frees). */
static char *read_env(struct gcenv *e, const char *prefix, const struct envpair *pairs, size_t n)
{
    struct fakeenv env = {pairs, n};
    struct capture c;
    cap_open(&c);
    gcenv_read(e, prefix, fake_getenv, &env, c.f);
    return cap_close(&c);
}

/* godebug: gcenv_parse_godebug of s on d; returns the messages. */
static char *godebug(struct gcdebug *d, const char *s)
{
    struct capture c;
    cap_open(&c);
    gcenv_parse_godebug(d, s, "GODEBUG", c.f);
    return cap_close(&c);
}

#define assert_contains(hay, needle)                                                          \
    do {                                                                                      \
        if (strstr((hay), (needle)) == NULL)                                                  \
            fail_msg("expected \"%s\" in:\n%s", (needle), (hay));                             \
    } while (0)

#define NPAIRS(a) (sizeof(a) / sizeof((a)[0]))

static struct gcenv defaults(void)
{
    struct gcenv e;
    memset(&e, 0, sizeof e); /* padding too, so whole structs compare */
    gcenv_defaults(&e);
    return e;
}

static void assert_env_equal(const struct gcenv *a, const struct gcenv *b)
{
    assert_int_equal(a->gc_percent, b->gc_percent);
    assert_true(a->memory_limit == b->memory_limit);
    assert_int_equal(a->gomaxprocs, b->gomaxprocs);
    assert_memory_equal(&a->debug, &b->debug, sizeof a->debug);
}

/* ---- defaults ---------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    struct gcenv e = defaults();
    assert_int_equal(e.gc_percent, 100);
    assert_true(e.memory_limit == INT64_MAX);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(e.gomaxprocs, ncpu < 1 ? 1 : ncpu);
    assert_int_equal(e.debug.gctrace, 0);
    assert_int_equal(e.debug.gcpacertrace, 0);
    assert_int_equal(e.debug.scavtrace, 0);
    assert_int_equal(e.debug.gcstoptheworld, 0);
    assert_int_equal(e.debug.gccheckmark, 0);
    assert_int_equal(e.debug.invalidptr, 1);
    assert_int_equal(e.debug.clobberfree, 0);
    assert_int_equal(e.debug.madvdontneed, 1);
    assert_int_equal(e.debug.harddecommit, 0);
    assert_int_equal(e.debug.gcstress, 0);
}

/* ---- GOGC -------------------------------------------------------------- */

static void test_gogc_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int want;
    } ok[] = {
        {"off", -1},       {"0", 0},     {"50", 50},   {"100", 100},         {"-5", -1},
        {"-1", -1},        {"+50", 50},  {"007", 7},   {"2147483647", INT_MAX}, {"-2147483648", -1},
    };
    for (size_t i = 0; i < NPAIRS(ok); i++) {
        int v = 12345;
        assert_true(gcenv_parse_gogc(ok[i].s, &v));
        assert_int_equal(v, ok[i].want);
    }
    static const char *const bad[] = {"abc", "", "2147483648", "-2147483649", " 50", "50 ", "OFF",
                                      "Off", "5e2", "-", "+", "0x10", "1.5", "50%",
                                      "99999999999999999999999"};
    for (size_t i = 0; i < NPAIRS(bad); i++) {
        int v = 12345;
        assert_false(gcenv_parse_gogc(bad[i], &v));
        assert_int_equal(v, 12345);
    }
}

static void test_gogc_read(void **state)
{
    (void)state;
    struct gcenv e = defaults();
    const struct envpair p50[] = {{"GOGC", "50"}};
    char *msg = read_env(&e, NULL, p50, 1);
    assert_string_equal(msg, "");
    assert_int_equal(e.gc_percent, 50);
    free(msg);

    const struct envpair poff[] = {{"GOGC", "off"}};
    free(read_env(&e, NULL, poff, 1));
    assert_int_equal(e.gc_percent, -1);

    const struct envpair p0[] = {{"GOGC", "0"}};
    free(read_env(&e, NULL, p0, 1));
    assert_int_equal(e.gc_percent, 0);

    const struct envpair pneg[] = {{"GOGC", "-5"}};
    msg = read_env(&e, NULL, pneg, 1);
    assert_string_equal(msg, "");
    assert_int_equal(e.gc_percent, -1);
    free(msg);
}

static void test_gogc_bad(void **state)
{
    (void)state;
    struct gcenv e = defaults();
    const struct envpair abc[] = {{"GOGC", "abc"}};
    char *msg = read_env(&e, NULL, abc, 1);
    assert_string_equal(msg, "gcheap: GOGC=\"abc\" is not a number or \"off\"; keeping 100\n");
    assert_int_equal(e.gc_percent, 100);
    free(msg);

    const struct envpair big[] = {{"GOGC", "2147483648"}};
    msg = read_env(&e, NULL, big, 1);
    assert_contains(msg, "GOGC=\"2147483648\"");
    assert_contains(msg, "keeping 100\n");
    assert_int_equal(count_lines(msg), 1);
    assert_int_equal(e.gc_percent, 100);
    free(msg);

    /* the kept value is the previous one, e.g. from the embedder's config */
    e.gc_percent = 70;
    msg = read_env(&e, NULL, abc, 1);
    assert_contains(msg, "keeping 70\n");
    assert_int_equal(e.gc_percent, 70);
    free(msg);
    e.gc_percent = -1;
    msg = read_env(&e, NULL, abc, 1);
    assert_contains(msg, "keeping off\n");
    assert_int_equal(e.gc_percent, -1);
    free(msg);
}

/* ---- GOMEMLIMIT ---------------------------------------------------------- */

static void test_bytes_parse_good(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t want;
    } ok[] = {
        {"0", 0},
        {"12345", 12345},
        {"12345B", 12345},
        {"0B", 0},
        {"1KiB", 1024},
        {"100MiB", 100 << 20},
        {"2GiB", INT64_C(2) << 30},
        {"3TiB", INT64_C(3) << 40},
        {"0TiB", 0},
        {"off", INT64_MAX},
        {"9223372036854775807", INT64_MAX},
        {"9223372036854775807B", INT64_MAX},
        {"8388607TiB", INT64_C(8388607) << 40},
        {"9007199254740991KiB", INT64_C(9007199254740991) << 10},
        {"000512MiB", INT64_C(512) << 20},
    };
    for (size_t i = 0; i < NPAIRS(ok); i++) {
        int64_t v = 42;
        if (!gcenv_parse_bytes(ok[i].s, &v))
            fail_msg("\"%s\" should parse", ok[i].s);
        assert_true(v == ok[i].want);
    }
}

static void test_bytes_parse_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "100MB", "1.5GiB", "-1", " 5", "5 ", "1kib", "KiB", "B", "", "iB", "1iB",
        "9223372036854775808", "9223372036854775808B", "8589934592TiB", "8388608TiB",
        "9007199254740992KiB", "1KB", "1k", "1K", "1Ki", "1 KiB", "1PiB", "1EiB", "-0", "-0B",
        "-KiB", "+5", "OFF", "0x10", "1_000", "MiB", "5b", "5kiB", "5KIB",
    };
    for (size_t i = 0; i < NPAIRS(bad); i++) {
        int64_t v = 42;
        if (gcenv_parse_bytes(bad[i], &v))
            fail_msg("\"%s\" should be malformed", bad[i]);
        assert_true(v == 42);
    }
}

static void test_memlimit_read(void **state)
{
    (void)state;
    struct gcenv e = defaults();
    const struct envpair mib[] = {{"GOMEMLIMIT", "512MiB"}};
    char *msg = read_env(&e, NULL, mib, 1);
    assert_string_equal(msg, "");
    assert_true(e.memory_limit == INT64_C(512) << 20);
    free(msg);

    const struct envpair bad[] = {{"GOMEMLIMIT", "100MB"}};
    msg = read_env(&e, NULL, bad, 1);
    assert_string_equal(msg, "gcheap: GOMEMLIMIT=\"100MB\" is malformed (use B, KiB, MiB, GiB, "
                             "TiB); keeping 512MiB\n");
    assert_true(e.memory_limit == INT64_C(512) << 20);
    free(msg);

    const struct envpair off[] = {{"GOMEMLIMIT", "off"}};
    free(read_env(&e, NULL, off, 1));
    assert_true(e.memory_limit == INT64_MAX);

    msg = read_env(&e, NULL, bad, 1);
    assert_contains(msg, "keeping no limit\n");
    free(msg);

    const struct envpair over[] = {{"GOMEMLIMIT", "9223372036854775808"}};
    msg = read_env(&e, NULL, over, 1);
    assert_contains(msg, "GOMEMLIMIT=\"9223372036854775808\" is too large");
    assert_contains(msg, "keeping no limit\n");
    assert_int_equal(count_lines(msg), 1);
    assert_true(e.memory_limit == INT64_MAX);
    free(msg);

    /* a kept value that is no whole number of KiB is printed in bytes */
    e.memory_limit = 1000;
    msg = read_env(&e, NULL, bad, 1);
    assert_contains(msg, "keeping 1000\n");
    assert_true(e.memory_limit == 1000);
    free(msg);
}

/* ---- GOMAXPROCS ----------------------------------------------------------- */

static void test_gomaxprocs(void **state)
{
    (void)state;
    struct gcenv e = defaults();
    e.gomaxprocs = 2;
    const struct envpair four[] = {{"GOMAXPROCS", "4"}};
    char *msg = read_env(&e, NULL, four, 1);
    assert_string_equal(msg, "");
    assert_int_equal(e.gomaxprocs, 4);
    free(msg);

    e.gomaxprocs = 2;
    const struct envpair zero[] = {{"GOMAXPROCS", "0"}};
    msg = read_env(&e, NULL, zero, 1);
    assert_string_equal(msg, "gcheap: GOMAXPROCS=\"0\" must be >= 1; keeping 2\n");
    assert_int_equal(e.gomaxprocs, 2);
    free(msg);

    static const char *const bad[] = {"-3", "abc", "99999999999", "1.5", " 4", "+4", "-",
                                      "-99999999999999999999"};
    for (size_t i = 0; i < NPAIRS(bad); i++) {
        const struct envpair p[] = {{"GOMAXPROCS", bad[i]}};
        msg = read_env(&e, NULL, p, 1);
        assert_contains(msg, "GOMAXPROCS=\"");
        assert_contains(msg, bad[i]);
        assert_contains(msg, "keeping 2\n");
        assert_int_equal(count_lines(msg), 1);
        assert_int_equal(e.gomaxprocs, 2);
        free(msg);
    }
    const struct envpair one[] = {{"GOMAXPROCS", "1"}};
    free(read_env(&e, NULL, one, 1));
    assert_int_equal(e.gomaxprocs, 1);
}

/* ---- GODEBUG ------------------------------------------------------------- */

static void test_godebug_keys(void **state)
{
    (void)state;
    struct gcdebug d;
    gcdebug_defaults(&d);
    char *msg = godebug(&d, "gctrace=1,scavtrace=1,gcpacertrace=1,invalidptr=0,madvdontneed=0");
    assert_string_equal(msg, "");
    free(msg);
    assert_int_equal(d.gctrace, 1);
    assert_int_equal(d.scavtrace, 1);
    assert_int_equal(d.gcpacertrace, 1);
    assert_int_equal(d.invalidptr, 0);
    assert_int_equal(d.madvdontneed, 0);
    assert_int_equal(d.gcstoptheworld, 0);
    assert_int_equal(d.clobberfree, 0);
}

/* Every row of the table is reachable by name, accepts its min and max,
 * and rejects max + 1 keeping the value. */
static void test_godebug_every_key(void **state)
{
    (void)state;
#define TRY_ROW(name, def, min, max, meaning)                                                 \
    do {                                                                                      \
        struct gcdebug d;                                                                     \
        gcdebug_defaults(&d);                                                                 \
        assert_int_equal(d.name, def);                                                        \
        char s[64];                                                                           \
        snprintf(s, sizeof s, "%s=%d", #name, max);                                           \
        free(godebug(&d, s));                                                                 \
        assert_int_equal(d.name, max);                                                        \
        snprintf(s, sizeof s, "%s=%d", #name, min);                                           \
        free(godebug(&d, s));                                                                 \
        assert_int_equal(d.name, min);                                                        \
        snprintf(s, sizeof s, "%s=%lld", #name, (long long)(max) + 1);                        \
        char *m = godebug(&d, s);                                                             \
        assert_contains(m, #name);                                                            \
        assert_int_equal(count_lines(m), 1);                                                  \
        free(m);                                                                              \
        assert_int_equal(d.name, min);                                                        \
    } while (0);
    GCH_GODEBUG_KEYS(TRY_ROW)
#undef TRY_ROW
}

static void test_godebug_repeats(void **state)
{
    (void)state;
    struct gcdebug d;
    gcdebug_defaults(&d);
    free(godebug(&d, "gctrace=1,gctrace=2"));
    assert_int_equal(d.gctrace, 2);
    free(godebug(&d, "gctrace=2,gctrace=0"));
    assert_int_equal(d.gctrace, 0);
    char *msg = godebug(&d, "gctrace=1,gctrace=abc");
    assert_string_equal(msg, "gcheap: GODEBUG gctrace=\"abc\" is not a number; keeping 1\n");
    assert_int_equal(d.gctrace, 1);
    free(msg);
}

static void test_godebug_unknown(void **state)
{
    (void)state;
    struct gcdebug d, want;
    gcdebug_defaults(&d);
    gcdebug_defaults(&want);
    want.gctrace = 1;
    char *msg = godebug(&d, "foo=1,gctrace=1,efence=1");
    assert_contains(msg, "\"foo\"");
    assert_contains(msg, "\"efence\"");
    assert_contains(msg, "unknown");
    assert_int_equal(count_lines(msg), 2);
    assert_memory_equal(&d, &want, sizeof d);
    free(msg);
    /* near misses are unknown too: keys are exact and case-sensitive */
    msg = godebug(&d, "GCTRACE=2,gctrace2=2, gctrace=2,=2");
    assert_int_equal(count_lines(msg), 4);
    assert_memory_equal(&d, &want, sizeof d);
    free(msg);
}

static void test_godebug_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *item, *key, *shown;
    } cases[] = {
        {"gctrace=abc", "gctrace", "\"abc\""},
        {"gctrace=", "gctrace", "\"\""},
        {"gctrace=1 ", "gctrace", "\"1 \""},
        {"gctrace=+1", "gctrace", "\"+1\""},
        {"gctrace=-", "gctrace", "\"-\""},
        {"gctrace=1=2", "gctrace", "\"1=2\""},
        {"gctrace=3", "gctrace", "\"3\""},
        {"gctrace=99999999999999999999", "gctrace", "\"99999999999999999999\""},
        {"invalidptr=2", "invalidptr", "\"2\""},
        {"gcstoptheworld=3", "gcstoptheworld", "\"3\""},
        {"madvdontneed=-1", "madvdontneed", "\"-1\""},
        {"scavtrace=0x1", "scavtrace", "\"0x1\""},
    };
    struct gcdebug want;
    gcdebug_defaults(&want);
    for (size_t i = 0; i < NPAIRS(cases); i++) {
        struct gcdebug d;
        gcdebug_defaults(&d);
        char *msg = godebug(&d, cases[i].item);
        assert_contains(msg, "GODEBUG");
        assert_contains(msg, cases[i].key);
        assert_contains(msg, cases[i].shown);
        assert_contains(msg, "keeping ");
        assert_int_equal(count_lines(msg), 1);
        assert_memory_equal(&d, &want, sizeof d);
        free(msg);
    }
    struct gcdebug d;
    gcdebug_defaults(&d);
    char *msg = godebug(&d, "invalidptr=2");
    assert_string_equal(msg, "gcheap: GODEBUG invalidptr=\"2\" is outside 0..1; keeping 1\n");
    free(msg);
}

static void test_godebug_empty_items(void **state)
{
    (void)state;
    struct gcdebug d, want;
    gcdebug_defaults(&d);
    gcdebug_defaults(&want);
    static const char *const quiet[] = {"", ",", ",,", ",,,,"};
    for (size_t i = 0; i < NPAIRS(quiet); i++) {
        char *msg = godebug(&d, quiet[i]);
        assert_string_equal(msg, "");
        assert_memory_equal(&d, &want, sizeof d);
        free(msg);
    }
    char *msg = godebug(&d, ",,gctrace=1,,scavtrace=1,");
    assert_string_equal(msg, "");
    assert_int_equal(d.gctrace, 1);
    assert_int_equal(d.scavtrace, 1);
    free(msg);
}

static void test_godebug_no_equals(void **state)
{
    (void)state;
    struct gcdebug d, want;
    gcdebug_defaults(&d);
    gcdebug_defaults(&want);
    char *msg = godebug(&d, "gctrace");
    assert_string_equal(msg, "gcheap: GODEBUG item \"gctrace\" has no \"=value\"; ignored\n");
    assert_memory_equal(&d, &want, sizeof d);
    free(msg);
    msg = godebug(&d, "gctrace,scavtrace=1");
    assert_int_equal(count_lines(msg), 1);
    assert_int_equal(d.gctrace, 0);
    assert_int_equal(d.scavtrace, 1);
    free(msg);
}

static void test_godebug_read(void **state)
{
    (void)state;
    struct gcenv e = defaults();
    const struct envpair p[] = {{"GODEBUG", "gctrace=1,gcstoptheworld=2,bogus=1"}};
    char *msg = read_env(&e, NULL, p, 1);
    assert_int_equal(e.debug.gctrace, 1);
    assert_int_equal(e.debug.gcstoptheworld, 2);
    assert_contains(msg, "GODEBUG key \"bogus\"");
    assert_int_equal(count_lines(msg), 1);
    free(msg);
}

/* ---- prefix, unset, empty, everything bad --------------------------------- */

static const struct envpair mixed[] = {
    {"GOGC", "10"},           {"GOMEMLIMIT", "1GiB"},   {"GOMAXPROCS", "3"},
    {"GODEBUG", "gctrace=1"}, {"MYVM_GOGC", "20"},      {"MYVM_GOMEMLIMIT", "2GiB"},
    {"MYVM_GOMAXPROCS", "5"}, {"MYVM_GODEBUG", "scavtrace=1"},
};

static void test_prefix(void **state)
{
    (void)state;
    struct gcenv e = defaults();
    free(read_env(&e, "MYVM_", mixed, NPAIRS(mixed)));
    assert_int_equal(e.gc_percent, 20);
    assert_true(e.memory_limit == INT64_C(2) << 30);
    assert_int_equal(e.gomaxprocs, 5);
    assert_int_equal(e.debug.scavtrace, 1);
    assert_int_equal(e.debug.gctrace, 0); /* plain GODEBUG ignored */

    /* only the plain names set: a prefixed heap sees none of them */
    struct gcenv want = defaults();
    e = defaults();
    char *msg = read_env(&e, "MYVM_", mixed, 4);
    assert_string_equal(msg, "");
    assert_env_equal(&e, &want);
    free(msg);

    /* NULL and "" both mean the plain names */
    static const char *const plain[] = {NULL, ""};
    for (size_t i = 0; i < NPAIRS(plain); i++) {
        e = defaults();
        free(read_env(&e, plain[i], mixed, NPAIRS(mixed)));
        assert_int_equal(e.gc_percent, 10);
        assert_true(e.memory_limit == INT64_C(1) << 30);
        assert_int_equal(e.gomaxprocs, 3);
        assert_int_equal(e.debug.gctrace, 1);
        assert_int_equal(e.debug.scavtrace, 0);
    }
}

static void test_prefix_messages(void **state)
{
    (void)state;
    const struct envpair bad[] = {
        {"MYVM_GOGC", "abc"},          {"MYVM_GOMEMLIMIT", "1.5GiB"},
        {"MYVM_GOMAXPROCS", "0"},      {"MYVM_GODEBUG", "gctrace=9"},
    };
    struct gcenv e = defaults(), want = defaults();
    char *msg = read_env(&e, "MYVM_", bad, NPAIRS(bad));
    assert_contains(msg, "gcheap: MYVM_GOGC=\"abc\"");
    assert_contains(msg, "gcheap: MYVM_GOMEMLIMIT=\"1.5GiB\"");
    assert_contains(msg, "gcheap: MYVM_GOMAXPROCS=\"0\"");
    assert_contains(msg, "gcheap: MYVM_GODEBUG gctrace=\"9\"");
    assert_int_equal(count_lines(msg), 4);
    assert_env_equal(&e, &want);
    free(msg);
}

static void test_unset_and_empty(void **state)
{
    (void)state;
    struct gcenv e = defaults(), want = defaults();
    char *msg = read_env(&e, NULL, NULL, 0);
    assert_string_equal(msg, "");
    assert_env_equal(&e, &want);
    free(msg);
    const struct envpair empty[] = {
        {"GOGC", ""}, {"GOMEMLIMIT", ""}, {"GOMAXPROCS", ""}, {"GODEBUG", ""}};
    e.gc_percent = 70; /* an embedder's value survives an empty variable */
    msg = read_env(&e, NULL, empty, NPAIRS(empty));
    assert_string_equal(msg, "");
    assert_int_equal(e.gc_percent, 70);
    e.gc_percent = want.gc_percent;
    assert_env_equal(&e, &want);
    free(msg);
}

static void test_all_bad_keeps_defaults(void **state)
{
    (void)state;
    static const char *const gogc[] = {"abc", "2147483648", " 1", "OFF"};
    static const char *const mem[] = {"100MB", "-1", "8589934592TiB", "1kib"};
    static const char *const procs[] = {"0", "x", "-1", "1e3"};
    static const char *const dbg[] = {"gctrace", "nope=1", "invalidptr=7", "madvdontneed=x"};
    for (size_t i = 0; i < 4; i++) {
        const struct envpair p[] = {
            {"GOGC", gogc[i]}, {"GOMEMLIMIT", mem[i]}, {"GOMAXPROCS", procs[i]}, {"GODEBUG", dbg[i]}};
        struct gcenv e = defaults(), want = defaults();
        char *msg = read_env(&e, NULL, p, NPAIRS(p));
        assert_int_equal(count_lines(msg), 4);
        assert_env_equal(&e, &want);
        free(msg);
    }
}

static void test_long_prefix(void **state)
{
    (void)state;
    char prefix[GCENV_PREFIX_MAX + 2];
    memset(prefix, 'P', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    struct gcenv e = defaults(), want = defaults();
    char *msg = read_env(&e, prefix, mixed, NPAIRS(mixed));
    assert_contains(msg, "prefix");
    assert_int_equal(count_lines(msg), 1);
    assert_env_equal(&e, &want);
    free(msg);

    /* the longest accepted prefix still finds its variables */
    char name[GCENV_PREFIX_MAX + 16];
    prefix[GCENV_PREFIX_MAX] = '\0';
    snprintf(name, sizeof name, "%sGOMEMLIMIT", prefix);
    const struct envpair p[] = {{name, "3KiB"}};
    msg = read_env(&e, prefix, p, 1);
    assert_string_equal(msg, "");
    assert_true(e.memory_limit == 3072);
    free(msg);
}

/* ---- help -------------------------------------------------------------- */

static void test_help(void **state)
{
    (void)state;
    struct capture c;
    cap_open(&c);
    gcenv_help(c.f);
    char *text = cap_close(&c);
    assert_contains(text, "GOGC");
    assert_contains(text, "GOMEMLIMIT");
    assert_contains(text, "GOMAXPROCS");
    assert_contains(text, "GODEBUG");
    size_t keys = 0;
#define CHECK_ROW(name, def, min, max, meaning)                                               \
    do {                                                                                      \
        char line[256];                                                                       \
        snprintf(line, sizeof line, "    %-16s default %d, range %d..%d: %s\n", #name, def,   \
                 min, max, meaning);                                                          \
        assert_contains(text, line);                                                          \
        keys++;                                                                               \
    } while (0);
    GCH_GODEBUG_KEYS(CHECK_ROW)
#undef CHECK_ROW
    assert_int_equal(keys, 15);
    assert_true(count_lines(text) >= keys);
    free(text);
}

/* gch_heap_new: Go's defaults, then the config, then the environment
 * under the embedder's prefix; a bad variable keeps the config's value. */
static void test_heap_new_precedence(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "GCHTEST_";
    cfg.gc_percent = 50;
    cfg.gomaxprocs = 3;
    setenv("GCHTEST_GOMEMLIMIT", "64MiB", 1);
    setenv("GCHTEST_GOGC", "not-a-number", 1);
    setenv("GCHTEST_GODEBUG", "gctrace=1,madvdontneed=0", 1);
    setenv("GOGC", "off", 1); /* unprefixed: ignored */
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    assert_int_equal(h->env.gc_percent, 50);             /* bad env keeps config */
    assert_int_equal(h->env.memory_limit, 64 << 20);     /* env wins */
    assert_int_equal(h->env.gomaxprocs, 3);              /* config */
    assert_int_equal(h->env.debug.gctrace, 1);
    assert_true(h->mheap.sys.madv_free);                 /* madvdontneed=0 */
    heap_free_checked(h);
    cfg.read_env = 0;                                    /* environment ignored */
    h = gch_heap_new(&cfg);
    assert_non_null(h);
    assert_int_equal(h->env.memory_limit, INT64_MAX);
    assert_int_equal(h->env.debug.gctrace, 0);
    assert_false(h->mheap.sys.madv_free);
    heap_free_checked(h);
    unsetenv("GCHTEST_GOMEMLIMIT");
    unsetenv("GCHTEST_GOGC");
    unsetenv("GCHTEST_GODEBUG");
    unsetenv("GOGC");
}

/* Issue 10's settings reach the heap they configure: GOMEMLIMIT (and its
 * config field) becomes the pacer's and the page heap's limit, the
 * setter reads it back; harddecommit makes released pages PROT_NONE and
 * zero on reuse even with MADV_FREE; disablethp and scavtrace are kept;
 * "off" and a config limit below it. */
static void test_issue10_keys_reach_heap(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "GCHTEST_";
    cfg.memory_limit = 32 << 20;
    setenv("GCHTEST_GOMEMLIMIT", "3GiB", 1);
    setenv("GCHTEST_GODEBUG", "harddecommit=1,madvdontneed=0,disablethp=1,scavtrace=1", 1);
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    assert_true(h->env.memory_limit == INT64_C(3) << 30);
    assert_true(gch_set_memory_limit(h, -1) == INT64_C(3) << 30);
    assert_true(atomic_u64_load_relaxed(&h->mheap.memory_limit) == UINT64_C(3) << 30);
    assert_true(h->mheap.sys.hard_decommit);
    assert_true(h->mheap.sys.madv_free);
    assert_true(h->mheap.released_zeroed); /* PROT_NONE pages come back zero */
    assert_int_equal(h->env.debug.disablethp, 1);
    assert_int_equal(h->env.debug.scavtrace, 1);
    assert_int_equal(gch_heap_free(h), GCH_OK);
    setenv("GCHTEST_GOMEMLIMIT", "off", 1);
    setenv("GCHTEST_GODEBUG", "harddecommit=2,disablethp=x", 1); /* bad: defaults kept */
    h = gch_heap_new(&cfg);
    assert_non_null(h);
    assert_true(h->env.memory_limit == INT64_MAX); /* env "off" wins over the config */
    assert_true(gch_set_memory_limit(h, -1) == INT64_MAX);
    assert_false(h->mheap.sys.hard_decommit);
    assert_int_equal(h->env.debug.disablethp, 0);
    assert_int_equal(gch_heap_free(h), GCH_OK);
    unsetenv("GCHTEST_GOMEMLIMIT");
    unsetenv("GCHTEST_GODEBUG");
    h = gch_heap_new(&cfg);
    assert_non_null(h);
    assert_true(gch_set_memory_limit(h, -1) == 32 << 20); /* the config's */
    assert_int_equal(gch_heap_free(h), GCH_OK);
}

/* The monitor thread's periods: Go's defaults (2 and 5 minutes), the
 * config's values (0 turns a job off, values past INT32_MAX ms clamp),
 * then GODEBUG forcegcms / scavengeidlems; a bad GODEBUG value keeps
 * the config's. */
static void test_sysmon_periods(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    assert_int_equal(cfg.force_gc_ms, GCH_UNSET);
    cfg.read_env = 0;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    assert_int_equal(h->env.debug.forcegcms, 120000);
    assert_int_equal(h->env.debug.scavengeidlems, 300000);
    heap_free_checked(h);
    cfg.force_gc_ms = 0;
    cfg.scavenge_idle_ms = (int64_t)1 << 40;
    h = gch_heap_new(&cfg);
    assert_int_equal(h->env.debug.forcegcms, 0);
    assert_int_equal(h->env.debug.scavengeidlems, INT32_MAX);
    heap_free_checked(h);
    cfg.read_env = 1;
    cfg.env_prefix = "GCHTEST_";
    cfg.force_gc_ms = 700;
    cfg.scavenge_idle_ms = 50;
    setenv("GCHTEST_GODEBUG", "forcegcms=250,scavengeidlems=-1", 1);
    h = gch_heap_new(&cfg);
    assert_non_null(h);
    assert_int_equal(h->env.debug.forcegcms, 250);     /* env wins */
    assert_int_equal(h->env.debug.scavengeidlems, 50); /* bad env keeps config */
    heap_free_checked(h);
    unsetenv("GCHTEST_GODEBUG");
}

/* The heap profile's rate: Go's 512 KiB default, the config's value (0
 * turns sampling off), then GODEBUG memprofilerate; a bad GODEBUG value
 * keeps the config's.  The heap's profiler and a new thread's sampling
 * count follow the setting. */
static void test_memprofilerate(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    assert_int_equal(cfg.mem_profile_rate, GCH_UNSET);
    cfg.read_env = 0;
    gch_heap *h = gch_heap_new(&cfg);
    assert_int_equal(h->env.debug.memprofilerate, 512 * 1024);
    assert_int_equal(h->mheap.prof.rate, 512 * 1024);
    assert_int_equal(gch_heap_free(h), GCH_OK);
    cfg.mem_profile_rate = 0;
    h = gch_heap_new(&cfg);
    assert_int_equal(h->mheap.prof.rate, 0);
    gch_thread *t = gch_thread_attach(h);
    assert_true(gchi_thread_cache(t)->next_sample == INT64_MAX); /* off: never counts out */
    gch_thread_detach(t);
    assert_int_equal(gch_heap_free(h), GCH_OK);
    cfg.read_env = 1;
    cfg.env_prefix = "GCHTEST_";
    cfg.mem_profile_rate = 4096;
    setenv("GCHTEST_GODEBUG", "memprofilerate=1", 1);
    h = gch_heap_new(&cfg);
    assert_int_equal(h->mheap.prof.rate, 1); /* env wins */
    assert_int_equal(gch_heap_free(h), GCH_OK);
    setenv("GCHTEST_GODEBUG", "memprofilerate=-5", 1);
    h = gch_heap_new(&cfg);
    assert_int_equal(h->mheap.prof.rate, 4096); /* bad env keeps config */
    assert_int_equal(gch_heap_free(h), GCH_OK);
    unsetenv("GCHTEST_GODEBUG");
}

/* Collects the gctrace lines a heap prints (one heap, one thread at a
 * time: gch_collect runs the cycle and returns after its line). */
struct trace_lines {
    char text[4096];
    size_t len;
};

static void trace_sink(const char *line, void *ctx)
{
    struct trace_lines *tl = ctx;
    size_t n = strlen(line);
    if (tl->len + n < sizeof tl->text) {
        memcpy(tl->text + tl->len, line, n + 1);
        tl->len += n;
    }
}

/* collect_line: one forced cycle of a fresh heap built from cfg with
 * gctrace on (GCHTEST_GODEBUG = godebug); its gctrace line in tl. */
static void collect_line(gch_config *cfg, const char *godebug, struct trace_lines *tl)
{
    tl->len = 0;
    tl->text[0] = '\0';
    cfg->env_prefix = "GCHTEST_";
    cfg->trace = trace_sink;
    cfg->trace_ctx = tl;
    setenv("GCHTEST_GODEBUG", godebug, 1);
    gch_heap *h = gch_heap_new(cfg);
    unsetenv("GCHTEST_GODEBUG");
    assert_non_null(h);
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_int_equal(gch_heap_free(h), GCH_OK);
    assert_non_null(strstr(tl->text, "gc 1 @"));
    assert_non_null(strstr(tl->text, " MB goal, "));
    assert_non_null(strstr(tl->text, " P (forced)\n"));
}

/* gctracelegacy: off by default; gch_config.gctrace_legacy or
 * GODEBUG=gctracelegacy=1 drops the stacks and globals fields of the
 * heap's real gctrace line; the environment overrides the config. */
static void test_gctrace_legacy(void **state)
{
    (void)state;
    struct gcdebug d;
    gcdebug_defaults(&d);
    assert_int_equal(d.gctracelegacy, 0);
    gch_config cfg;
    gch_config_init(&cfg);
    assert_int_equal(cfg.gctrace_legacy, 0);
    struct trace_lines tl;
    collect_line(&cfg, "gctrace=1", &tl);
    assert_non_null(strstr(tl.text, " MB stacks, "));
    assert_non_null(strstr(tl.text, " MB globals, "));
    collect_line(&cfg, "gctrace=1,gctracelegacy=1", &tl);
    assert_null(strstr(tl.text, " MB stacks"));
    assert_null(strstr(tl.text, " MB globals"));
    assert_non_null(strstr(tl.text, " MB goal, "));
    cfg.gctrace_legacy = 1;
    collect_line(&cfg, "gctrace=1", &tl);
    assert_null(strstr(tl.text, " MB stacks"));
    collect_line(&cfg, "gctrace=1,gctracelegacy=0", &tl); /* env wins */
    assert_non_null(strstr(tl.text, " MB stacks, "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_gogc_parse),
        cmocka_unit_test(test_gogc_read),
        cmocka_unit_test(test_gogc_bad),
        cmocka_unit_test(test_bytes_parse_good),
        cmocka_unit_test(test_bytes_parse_bad),
        cmocka_unit_test(test_memlimit_read),
        cmocka_unit_test(test_gomaxprocs),
        cmocka_unit_test(test_godebug_keys),
        cmocka_unit_test(test_godebug_every_key),
        cmocka_unit_test(test_godebug_repeats),
        cmocka_unit_test(test_godebug_unknown),
        cmocka_unit_test(test_godebug_bad_values),
        cmocka_unit_test(test_godebug_empty_items),
        cmocka_unit_test(test_godebug_no_equals),
        cmocka_unit_test(test_godebug_read),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_prefix_messages),
        cmocka_unit_test(test_unset_and_empty),
        cmocka_unit_test(test_all_bad_keeps_defaults),
        cmocka_unit_test(test_long_prefix),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_heap_new_precedence),
        cmocka_unit_test(test_sysmon_periods),
        cmocka_unit_test(test_memprofilerate),
        cmocka_unit_test(test_gctrace_legacy),
        cmocka_unit_test(test_issue10_keys_reach_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
