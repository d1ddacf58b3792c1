/*
 * test_trace.c - the trace line formatters (gc/trace.h) against golden
 * strings and against the third-party gctrace parsers.
 *
 * Golden strings: every real line quoted in shared/spec/go-runtime.md
 * section 1 is rebuilt from a record chosen to produce it, together with
 * each fmtNSAsMS and itoaDiv case the spec names, the scavtrace suffixes
 * and Go's float print form.  The buffer contract TB1-TB3 is checked for
 * every formatter at every buffer size around the line length.
 *
 * Parsers: the regular expressions of shared/spec/gctrace-parsers.md,
 * translated to POSIX ERE (\d -> [0-9], named and non-capturing groups
 * become plain groups, Java matches() and Python re.match become
 * anchors), run over lines from many random records.  Where a parser
 * captures a field we parse it back and compare it with the record.
 * gcvis and released GCViewer only know the pre-1.18 shape (the spec's
 * table marks them as failing on Go's own current lines); for them we
 * pin that our line does not match, as Go's does not, and check the
 * pre-1.18 projection of the line (stacks and globals removed) instead.
 */
#include "testutil.h"
#include "trace.h"

#include <errno.h>
#include <math.h>
#include <regex.h>

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void expect_ms(int64_t ns, const char *want)
{
    char buf[64];
    size_t len = gc_fmt_ns_as_ms(buf, sizeof buf, ns);
    if (strcmp(buf, want) != 0)
        fail_msg("fmt_ns_as_ms(%lld) = \"%s\", want \"%s\"", (long long)ns, buf, want);
    assert_int_equal(len, strlen(want));
}

static void expect_itoa_div(uint64_t v, int dec, const char *want)
{
    char buf[80];
    size_t len = gc_itoa_div(buf, sizeof buf, v, dec);
    if (strcmp(buf, want) != 0)
        fail_msg("itoa_div(%llu, %d) = \"%s\", want \"%s\"", (unsigned long long)v, dec, buf,
                 want);
    assert_int_equal(len, strlen(want));
}

static void expect_float(double x, const char *want)
{
    char buf[64];
    size_t len = gc_format_float(buf, sizeof buf, x);
    if (strcmp(buf, want) != 0)
        fail_msg("format_float(%.17g) = \"%s\", want \"%s\"", x, buf, want);
    assert_int_equal(len, strlen(want));
}

static void expect_gctrace(const struct gccycle_record *r, const char *want)
{
    char buf[GC_TRACE_LINE_MAX];
    size_t len = gc_format_gctrace(buf, sizeof buf, r);
    if (strcmp(buf, want) != 0)
        fail_msg("gctrace line\n got: %s want: %s", buf, want);
    assert_int_equal(len, strlen(want));
}

static void expect_scavtrace(const struct scav_record *r, const char *want)
{
    char buf[GC_TRACE_LINE_MAX];
    size_t len = gc_format_scavtrace(buf, sizeof buf, r);
    if (strcmp(buf, want) != 0)
        fail_msg("scavtrace line\n got: %s want: %s", buf, want);
    assert_int_equal(len, strlen(want));
}

#define MIB(x) ((uint64_t)((x) * 1048576.0))
#define KIB(x) ((uint64_t)(x) << 10)

/* ------------------------------------------------------------------ */
/* fmtNSAsMS, itoaDiv, float                                           */

static void test_fmt_ns_as_ms_spec_examples(void **state)
{
    (void)state;
    expect_ms(47000, "0.047");      /* 47 us */
    expect_ms(350000, "0.35");      /* 350 us */
    expect_ms(1000000, "1.0");      /* 1.0 ms */
    expect_ms(2540000, "2.5");      /* 2.54 ms */
    expect_ms(9990000, "9.9");      /* 9.99 ms */
    expect_ms(18700000, "18");      /* 18.7 ms */
    expect_ms(0, "0");
    expect_ms(999, "0");            /* below 1 us */
    expect_ms(1, "0");
    expect_ms(10000000, "10");      /* exactly 10 ms: whole ms */
    expect_ms(100000, "0.10");      /* 100 us keeps its trailing zero */
}

static void test_fmt_ns_as_ms_edges(void **state)
{
    (void)state;
    expect_ms(1000, "0.001");
    expect_ms(1999, "0.001");       /* truncated, never rounded */
    expect_ms(9999, "0.009");
    expect_ms(10000, "0.010");
    expect_ms(99999, "0.099");
    expect_ms(999999, "0.99");
    expect_ms(1099999, "1.0");
    expect_ms(9999999, "9.9");
    expect_ms(10999999, "10");
    expect_ms(99999999, "99");
    expect_ms(100000000, "100");
    expect_ms(2192000000LL, "2192");
    expect_ms(INT64_MAX, "9223372036854");
    expect_ms(-1, "0");             /* negative clamps to 0 */
    expect_ms(-20000000, "0");
    expect_ms(INT64_MIN, "0");
}

static void test_itoa_div(void **state)
{
    (void)state;
    expect_itoa_div(5, 3, "0.005");
    expect_itoa_div(0, 3, "0.000");
    expect_itoa_div(224, 3, "0.224");
    expect_itoa_div(1036, 3, "1.036");
    expect_itoa_div(256195, 3, "256.195");
    expect_itoa_div(77536239, 3, "77536.239");
    expect_itoa_div(47, 3, "0.047");
    expect_itoa_div(35, 2, "0.35");
    expect_itoa_div(10, 1, "1.0");
    expect_itoa_div(7, 5, "0.00007");
    expect_itoa_div(18, 0, "18");
    expect_itoa_div(123, 0, "123");
    expect_itoa_div(UINT64_MAX, 0, "18446744073709551615");
    expect_itoa_div(UINT64_MAX, 3, "18446744073709551.615");
    expect_itoa_div(UINT64_MAX, 19, "1.8446744073709551615");
    expect_itoa_div(UINT64_MAX, 20, "0.18446744073709551615");
    /* Go's loop writes one digit before it can stop, then one more. */
    expect_itoa_div(5, 0, "05");
    expect_itoa_div(0, 0, "00");
    /* A negative dec never reaches the point: plain digits. */
    expect_itoa_div(5, -1, "5");
    expect_itoa_div(1234, -3, "1234");
    /* dec beyond GC_ITOA_DIV_MAX_DEC is clamped to it. */
    char want[64] = "0.";
    for (int i = 0; i < GC_ITOA_DIV_MAX_DEC - 1; i++)
        strcat(want, "0");
    strcat(want, "1");
    expect_itoa_div(1, 1000, want);
    expect_itoa_div(1, GC_ITOA_DIV_MAX_DEC, want);
}

static void test_float_golden(void **state)
{
    (void)state;
    expect_float(1.2984561, "+1.298456e+000");
    expect_float(1.1820131, "+1.182013e+000");
    expect_float(-0.25, "-2.500000e-001");
    expect_float(0.25, "+2.500000e-001");
    expect_float(0.0, "+0.000000e+000");
    expect_float(-0.0, "-0.000000e+000");
    expect_float(1.0, "+1.000000e+000");
    expect_float(10.0, "+1.000000e+001");
    expect_float(9.9999999, "+1.000000e+001"); /* rounding carries into the exponent */
    expect_float(123456789.0, "+1.234568e+008");
    expect_float(-1e-5, "-1.000000e-005");
    expect_float(1e100, "+1.000000e+100");
    expect_float(NAN, "NaN");
    expect_float(INFINITY, "+Inf");
    expect_float(-INFINITY, "-Inf");
}

/* Random doubles: Go's shape, and a value within half a unit of the
 * seventh significant digit (plus the drift of Go's scaling loop). */
static void test_float_random(void **state)
{
    (void)state;
    regex_t shape;
    assert_int_equal(regcomp(&shape, "^[+-][0-9]\\.[0-9]{6}e[+-][0-9]{3}$", REG_EXTENDED), 0);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rng_next(&seed);
        double x;
        memcpy(&x, &bits, sizeof x);
        if (isnan(x) || isinf(x))
            continue;
        char buf[64];
        size_t len = gc_format_float(buf, sizeof buf, x);
        assert_int_equal(len, 14);
        if (regexec(&shape, buf, 0, NULL, 0) != 0)
            fail_msg("float %.17g printed as \"%s\"", x, buf);
        double back = strtod(buf, NULL);
        double tol = fabs(x) * 1.2e-6;
        if (x != 0 && fabs(x) < 1e-300)
            tol = fabs(x) * 1e-3; /* subnormals carry few significant bits */
        if (!(fabs(back - x) <= tol))
            fail_msg("float %.17g printed as \"%s\" (reads back %.17g)", x, buf, back);
    }
    regfree(&shape);
}

/* ------------------------------------------------------------------ */
/* gctrace golden lines                                                */

static struct gccycle_record example_line1(void)
{
    struct gccycle_record r = {
        .num = 1, .start_ns = 5400000, .gc_cpu_fraction = 0.035,
        .clock_sweepterm_ns = 47500, .clock_mark_ns = 1049000, .clock_markterm_ns = 2300,
        .cpu_sweepterm_ns = 94000, .cpu_assist_ns = 350900, .cpu_background_ns = 55200,
        .cpu_idle_ns = 120000, .cpu_markterm_ns = 5000,
        .heap_start = MIB(3.5), .heap_end_mark = MIB(4.2), .heap_marked = MIB(1.9),
        .heap_goal = MIB(4.4), .stack_scan = KIB(200), .globals_scan = KIB(64), .procs = 2,
    };
    return r;
}

static void test_gctrace_spec_examples(void **state)
{
    (void)state;
    struct gccycle_record r1 = example_line1();
    expect_gctrace(&r1, "gc 1 @0.005s 3%: 0.047+1.0+0.002 ms clock, "
                        "0.094+0.35/0.055/0.12+0.005 ms cpu, 3->4->1 MB, 4 MB goal, "
                        "0 MB stacks, 0 MB globals, 2 P\n");

    struct gccycle_record r2 = {
        .num = 11, .start_ns = 224999999, .gc_cpu_fraction = 0.2399,
        .clock_sweepterm_ns = 12345, .clock_mark_ns = 67890000, .clock_markterm_ns = 3999,
        .cpu_sweepterm_ns = 25000, .cpu_assist_ns = 16500000, .cpu_background_ns = 37100000,
        .cpu_idle_ns = 100999, .cpu_markterm_ns = 7000,
        .heap_start = (58ull << 20) + 123, .heap_end_mark = 73ull << 20,
        .heap_marked = (47ull << 20) - 1, .heap_goal = 68ull << 20, .stack_scan = 0,
        .globals_scan = (1ull << 20) - 1, .procs = 2,
    };
    expect_gctrace(&r2, "gc 11 @0.224s 23%: 0.012+67+0.003 ms clock, "
                        "0.025+16/37/0.10+0.007 ms cpu, 58->73->46 MB, 68 MB goal, "
                        "0 MB stacks, 0 MB globals, 2 P\n");

    struct gccycle_record r3 = {
        .num = 23, .start_ns = 1036500000, .gc_cpu_fraction = 0.22,
        .clock_sweepterm_ns = 52000, .clock_mark_ns = 3499999, .clock_markterm_ns = 5999,
        .cpu_sweepterm_ns = 104000, .cpu_assist_ns = 999, .cpu_background_ns = 1100000,
        .cpu_idle_ns = 1299000, .cpu_markterm_ns = 10000,
        .heap_start = 20ull << 20, .heap_end_mark = MIB(20.5), .heap_marked = 11ull << 20,
        .heap_goal = 42ull << 20, .procs = 2, .forced = true,
    };
    expect_gctrace(&r3, "gc 23 @1.036s 22%: 0.052+3.4+0.005 ms clock, "
                        "0.10+0/1.1/1.2+0.010 ms cpu, 20->20->11 MB, 42 MB goal, "
                        "0 MB stacks, 0 MB globals, 2 P (forced)\n");
}

/* The gc line quoted beside the gcpacertrace examples (GOMAXPROCS=4). */
static void test_gctrace_pacer_example(void **state)
{
    (void)state;
    struct gccycle_record r = {
        .num = 1, .start_ns = 5999999, .gc_cpu_fraction = 0.0399,
        .clock_sweepterm_ns = 97000, .clock_mark_ns = 1100000, .clock_markterm_ns = 180000,
        .cpu_sweepterm_ns = 194000, .cpu_assist_ns = 540000, .cpu_background_ns = 0,
        .cpu_idle_ns = 0, .cpu_markterm_ns = 370000,
        .heap_start = MIB(3.99), .heap_end_mark = MIB(4.01), .heap_marked = MIB(1.5),
        .heap_goal = MIB(4.0), .procs = 4,
    };
    expect_gctrace(&r, "gc 1 @0.005s 3%: 0.097+1.1+0.18 ms clock, "
                       "0.19+0.54/0/0+0.37 ms cpu, 3->4->1 MB, 4 MB goal, "
                       "0 MB stacks, 0 MB globals, 4 P\n");
}

static void test_gctrace_fields(void **state)
{
    (void)state;
    struct gccycle_record r = example_line1();
    r.forced = true;
    r.stack_scan = (5ull << 20) + 1;
    r.globals_scan = (7ull << 20) - 1;
    r.procs = 64;
    r.num = UINT32_MAX;
    r.gc_cpu_fraction = 0.29; /* 0.29 * 100 is 28.999999999999996: Go prints 28 */
    expect_gctrace(&r, "gc 4294967295 @0.005s 28%: 0.047+1.0+0.002 ms clock, "
                       "0.094+0.35/0.055/0.12+0.005 ms cpu, 3->4->1 MB, 4 MB goal, "
                       "5 MB stacks, 6 MB globals, 64 P (forced)\n");

    struct gccycle_record z = {.start_ns = 256195999999LL, .gc_cpu_fraction = 1.0};
    expect_gctrace(&z, "gc 0 @256.195s 100%: 0+0+0 ms clock, 0+0/0/0+0 ms cpu, "
                       "0->0->0 MB, 0 MB goal, 0 MB stacks, 0 MB globals, 0 P\n");

    /* Negative inputs print as 0; NaN and negative fractions as 0%. */
    struct gccycle_record neg = {
        .num = 2, .start_ns = -5, .gc_cpu_fraction = -0.5,
        .clock_sweepterm_ns = -1, .clock_mark_ns = INT64_MIN, .clock_markterm_ns = -10000000,
        .cpu_sweepterm_ns = -1, .cpu_assist_ns = -2, .cpu_background_ns = -3,
        .cpu_idle_ns = -4, .cpu_markterm_ns = -5, .procs = -3,
    };
    const char *zeros = "gc 2 @0.000s 0%: 0+0+0 ms clock, 0+0/0/0+0 ms cpu, "
                        "0->0->0 MB, 0 MB goal, 0 MB stacks, 0 MB globals, 0 P\n";
    expect_gctrace(&neg, zeros);
    neg.gc_cpu_fraction = NAN;
    expect_gctrace(&neg, zeros);

    struct gccycle_record big = {
        .num = 3, .start_ns = INT64_MAX, .gc_cpu_fraction = 0.999999,
        .clock_sweepterm_ns = INT64_MAX, .clock_mark_ns = INT64_MAX,
        .clock_markterm_ns = INT64_MAX, .cpu_sweepterm_ns = INT64_MAX,
        .cpu_assist_ns = INT64_MAX, .cpu_background_ns = INT64_MAX,
        .cpu_idle_ns = INT64_MAX, .cpu_markterm_ns = INT64_MAX,
        .heap_start = UINT64_MAX, .heap_end_mark = UINT64_MAX, .heap_marked = UINT64_MAX,
        .heap_goal = UINT64_MAX, .stack_scan = UINT64_MAX, .globals_scan = UINT64_MAX,
        .procs = INT32_MAX, .forced = true,
    };
    expect_gctrace(&big, "gc 3 @9223372036.854s 99%: 9223372036854+9223372036854+9223372036854"
                         " ms clock, 9223372036854+9223372036854/9223372036854/9223372036854"
                         "+9223372036854 ms cpu, 17592186044415->17592186044415->17592186044415"
                         " MB, 17592186044415 MB goal, 17592186044415 MB stacks, "
                         "17592186044415 MB globals, 2147483647 P (forced)\n");
    char buf[GC_TRACE_LINE_MAX];
    assert_true(gc_format_gctrace(buf, sizeof buf, &big) < GC_TRACE_LINE_MAX);
}

/* ------------------------------------------------------------------ */
/* scavtrace and gcpacertrace                                          */

static void test_scavtrace(void **state)
{
    (void)state;
    struct scav_record a = {
        .released_bg = 1023, .released_eager = 0, .heap_released = KIB(3664) + 1023,
        .heap_inuse = 98ull << 20, .heap_free = 2ull << 20,
    };
    expect_scavtrace(&a, "scav 0 KiB work (bg), 0 KiB work (eager), 3664 KiB now, 98% util\n");

    struct scav_record b = {
        .released_bg = KIB(4992) + 512, .released_eager = KIB(128), .heap_released = KIB(7800),
        .heap_inuse = 2, .heap_free = 1, .controller_reset = true,
    };
    expect_scavtrace(&b, "scav 4992 KiB work (bg), 128 KiB work (eager), 7800 KiB now, "
                         "66% util [controller reset]\n");

    /* forced wins over controller reset, as in Go. */
    struct scav_record c = {
        .released_eager = KIB(37448), .heap_released = KIB(122752), .heap_inuse = 1ull << 30,
        .forced = true, .controller_reset = true,
    };
    expect_scavtrace(&c, "scav 0 KiB work (bg), 37448 KiB work (eager), 122752 KiB now, "
                         "100% util (forced)\n");
    c.controller_reset = false;
    expect_scavtrace(&c, "scav 0 KiB work (bg), 37448 KiB work (eager), 122752 KiB now, "
                         "100% util (forced)\n");

    struct scav_record empty = {0};
    expect_scavtrace(&empty, "scav 0 KiB work (bg), 0 KiB work (eager), 0 KiB now, 0% util\n");

    struct scav_record huge = {
        .released_bg = UINT64_MAX, .released_eager = UINT64_MAX, .heap_released = UINT64_MAX,
        .heap_inuse = UINT64_MAX / 2, .heap_free = UINT64_MAX / 2,
    };
    expect_scavtrace(&huge, "scav 18014398509481983 KiB work (bg), 18014398509481983 KiB work "
                            "(eager), 18014398509481983 KiB now, 50% util\n");
    huge.heap_inuse = UINT64_MAX;
    huge.heap_free = 0;
    expect_scavtrace(&huge, "scav 18014398509481983 KiB work (bg), 18014398509481983 KiB work "
                            "(eager), 18014398509481983 KiB now, 100% util\n");
}

static void test_pacer_start(void **state)
{
    (void)state;
    char buf[GC_TRACE_LINE_MAX];
    const char *want1 = "pacer: assist ratio=+1.298456e+000 (scan 0 MB in 3->4 MB) "
                        "workers=1++0.000000e+000\n";
    size_t len = gc_format_pacer_start(buf, sizeof buf, 1.2984561, MIB(0.5), MIB(3.8), MIB(4.3),
                                       1, 0.0);
    assert_string_equal(buf, want1);
    assert_int_equal(len, strlen(want1));
    const char *want2 = "pacer: assist ratio=+1.182013e+000 (scan 0 MB in 3->4 MB) "
                        "workers=0++2.500000e-001\n";
    gc_format_pacer_start(buf, sizeof buf, 1.1820131, 1000, MIB(3.99), MIB(4.0), 0, 0.25);
    assert_string_equal(buf, want2);
    gc_format_pacer_start(buf, sizeof buf, -2.5, UINT64_MAX, 0, 1ull << 20, -1, 1.0);
    assert_string_equal(buf, "pacer: assist ratio=-2.500000e+000 (scan 17592186044415 MB in "
                             "0->1 MB) workers=-1++1.000000e+000\n");
}

/* ------------------------------------------------------------------ */
/* Buffer contract TB1-TB3                                               */

/* check_contract: whole is the full text fmt produces; format it into
 * every buffer size from 0 to beyond its length and check the stored
 * prefix, the NUL, the return value and the untouched guard bytes. */
static void check_contract(const char *whole, size_t (*fmt)(char *, size_t, const void *),
                           const void *arg)
{
    size_t full = strlen(whole);
    assert_int_equal(fmt(NULL, 0, arg), full);
    for (size_t n = 0; n <= full + 2; n++) {
        char buf[GC_TRACE_LINE_MAX + 16];
        memset(buf, 0x5a, sizeof buf);
        assert_int_equal(fmt(buf, n, arg), full);
        for (size_t i = n; i < sizeof buf; i++)
            assert_int_equal((unsigned char)buf[i], 0x5a);
        if (n == 0)
            continue;
        size_t stored = full < n - 1 ? full : n - 1;
        assert_int_equal(buf[stored], '\0');
        assert_memory_equal(buf, whole, stored);
    }
}

static size_t fmt_gctrace_v(char *b, size_t n, const void *a) { return gc_format_gctrace(b, n, a); }
static size_t fmt_scav_v(char *b, size_t n, const void *a) { return gc_format_scavtrace(b, n, a); }
static size_t fmt_ms_v(char *b, size_t n, const void *a) { return gc_fmt_ns_as_ms(b, n, *(const int64_t *)a); }
static size_t fmt_float_v(char *b, size_t n, const void *a) { return gc_format_float(b, n, *(const double *)a); }
static size_t fmt_div_v(char *b, size_t n, const void *a) { return gc_itoa_div(b, n, *(const uint64_t *)a, 3); }
static size_t fmt_pacer_v(char *b, size_t n, const void *a)
{
    (void)a;
    return gc_format_pacer_start(b, n, 1.5, 1ull << 20, 3ull << 20, 4ull << 20, 2, 0.25);
}

static void test_buffer_contract(void **state)
{
    (void)state;
    char whole[GC_TRACE_LINE_MAX];
    struct gccycle_record r = example_line1();
    r.forced = true;
    gc_format_gctrace(whole, sizeof whole, &r);
    check_contract(whole, fmt_gctrace_v, &r);
    struct scav_record s = {.released_bg = 1ull << 20, .heap_inuse = 1, .controller_reset = true};
    gc_format_scavtrace(whole, sizeof whole, &s);
    check_contract(whole, fmt_scav_v, &s);
    int64_t ns = 2540000;
    check_contract("2.5", fmt_ms_v, &ns);
    double x = -0.25;
    check_contract("-2.500000e-001", fmt_float_v, &x);
    uint64_t v = 256195;
    check_contract("256.195", fmt_div_v, &v);
    check_contract("pacer: assist ratio=+1.500000e+000 (scan 1 MB in 3->4 MB) "
                   "workers=2++2.500000e-001\n", fmt_pacer_v, NULL);
}

/* ------------------------------------------------------------------ */
/* Third-party parsers (shared/spec/gctrace-parsers.md section 6.2)    */

/* One number in GCViewer's time fields: (\d+(?:\.\d+)?), two groups. */
#define GV_NUM "([0-9]+(\\.[0-9]+)?)"
#define GV_HEAD                                                                              \
    "^gc ([0-9]+) @([0-9]+\\.[0-9]+)s ([0-9]+)%: " GV_NUM "\\+" GV_NUM "\\+" GV_NUM            \
    " ms clock, " GV_NUM "\\+" GV_NUM "/" GV_NUM "/" GV_NUM "\\+" GV_NUM                       \
    " ms cpu, ([0-9]+)->([0-9]+)->([0-9]+) MB, ([0-9]+) MB goal, "
/* Group numbers shared by both GCViewer patterns. */
enum { GV_N = 1, GV_ELAPSED = 2, GV_PCT = 3, GV_TIME0 = 4, GV_H0 = 20, GV_GOAL = 23 };

/* chewiebug/GCViewer#272 (unmerged): optional stacks/globals, forced. */
static const char RE_GCVIEWER_PR272[] =
    GV_HEAD "(([0-9]+) MB stacks, ([0-9]+) MB globals, )?([0-9]+) P( \\(forced\\))?$";
enum { GV272_STACKS = 25, GV272_GLOBALS = 26, GV272_P = 27, GV272_FORCED = 28 };
/* chewiebug/GCViewer develop: pre-1.18 shape only. */
static const char RE_GCVIEWER_DEVELOP[] = GV_HEAD "([0-9]+) P$";
enum { GVDEV_P = 24 };

/* tebeka/gctrace.  Its lazy ".*?(?P<cores>\d+) P" becomes
 * "(.*[^0-9])?([0-9]+) P": the core count starts after a non-digit, so
 * it is the whole number, as the lazy match makes it. */
static const char RE_TEBEKA[] =
    "gc ([0-9]+) @([0-9]+\\.([0-9]+)?s) ([^%]+)%: ([^ ]+) ms clock, ([^ ]+) ms cpu, "
    "([0-9]+)->([0-9]+)->([0-9]+) MB, ([0-9]+) MB goal,(.*[^0-9])?([0-9]+) P";
enum { TB_NUM = 1, TB_START = 2, TB_PREC = 4, TB_CLOCK = 5, TB_CPU = 6, TB_BEFORE = 7,
       TB_GOAL = 10, TB_CORES = 12 };

/* davecheney/gcvis and golangFame/gcvis (unanchored). */
static const char RE_GCVIS16[] =
    "gc #?[0-9]+ @([0-9.]+)s [0-9]+%: ([^+]+)\\+([^+]+)\\+([^+]+) ms clock, "
    "([^+]+)\\+([^+]+)/([^+]+)/([^+]+)\\+([^+]+) ms cpu, [0-9]+->[0-9]+->[0-9]+ MB, "
    "([0-9]+) MB goal, [0-9]+ P";
enum { GV16_ELAPSED = 1, GV16_TIME0 = 2, GV16_HEAP1 = 10 };
static const char RE_GCVIS15[] =
    "gc #?[0-9]+ @([0-9.]+)s [0-9]+%: [0-9.+/]+ ms clock, [0-9.+/]+ ms cpu, "
    "[0-9]+->[0-9]+->[0-9]+ MB, ([0-9]+) MB goal, [0-9]+ P";

/* aclements/go-gcstats cmd/plot-gctrace: a header (re.match), then
 * each comma-separated part is tried against these in order. */
static const char RE_PLOT_HEAD[] = "^gc #?([0-9]+) @([0-9.]+)s ([0-9]+)%: (.*)";
static const char *const RE_PLOT_PARTS[] = {
    "^([+0-9.]+) ms clock", "^([+/0-9.]+) ms cpu",
    "^([0-9]+)->([0-9]+)->([0-9]+) MB", "^([0-9]+) MB goal", "^([0-9]+) P",
};
enum { PLOT_CLOCK, PLOT_CPU, PLOT_HEAP, PLOT_GOAL, PLOT_P, PLOT_NPARTS, PLOT_UNEXPECTED = -1 };

/* Our own statement of fmtNSAsMS's possible outputs: 0; whole ms from
 * 10; else two significant digits with up to three decimals. */
static const char RE_MS_SHAPE[] =
    "^(0|[1-9][0-9]+|0\\.00[1-9]|0\\.0[1-9][0-9]|0\\.[1-9][0-9]|[1-9]\\.[0-9])$";
static const char RE_EXPONENT[] = "[0-9.][eE][-+]?[0-9]";

struct parsers {
    regex_t gv272, gvdev, tebeka, gcvis16, gcvis15, plot_head, ms_shape, exponent;
    regex_t plot_parts[PLOT_NPARTS];
};

static void compile(regex_t *re, const char *pattern, size_t nsub)
{
    int rc = regcomp(re, pattern, REG_EXTENDED);
    if (rc != 0) {
        char msg[256];
        regerror(rc, re, msg, sizeof msg);
        fail_msg("regcomp(%s): %s", pattern, msg);
    }
    assert_int_equal(re->re_nsub, nsub);
}

static int parsers_setup(void **state)
{
    struct parsers *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    compile(&p->gv272, RE_GCVIEWER_PR272, 28);
    compile(&p->gvdev, RE_GCVIEWER_DEVELOP, 24);
    compile(&p->tebeka, RE_TEBEKA, 12);
    compile(&p->gcvis16, RE_GCVIS16, 10);
    compile(&p->gcvis15, RE_GCVIS15, 2);
    compile(&p->plot_head, RE_PLOT_HEAD, 4);
    compile(&p->ms_shape, RE_MS_SHAPE, 1);
    compile(&p->exponent, RE_EXPONENT, 0);
    static const size_t part_groups[PLOT_NPARTS] = {1, 1, 3, 1, 1};
    for (int i = 0; i < PLOT_NPARTS; i++)
        compile(&p->plot_parts[i], RE_PLOT_PARTS[i], part_groups[i]);
    *state = p;
    return 0;
}

static int parsers_teardown(void **state)
{
    struct parsers *p = *state;
    regex_t *all[] = {&p->gv272, &p->gvdev, &p->tebeka, &p->gcvis16, &p->gcvis15,
                      &p->plot_head, &p->ms_shape, &p->exponent};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        regfree(all[i]);
    for (int i = 0; i < PLOT_NPARTS; i++)
        regfree(&p->plot_parts[i]);
    free(p);
    return 0;
}

/* The text of group g of a successful match, copied into a static-size
 * buffer (fields are short). */
struct field {
    char s[GC_TRACE_LINE_MAX];
};

static struct field group(const char *line, const regmatch_t *m, int g)
{
    struct field f;
    assert_true(m[g].rm_so >= 0);
    size_t len = (size_t)(m[g].rm_eo - m[g].rm_so);
    assert_true(len < sizeof f.s);
    memcpy(f.s, line + m[g].rm_so, len);
    f.s[len] = '\0';
    return f;
}

static uint64_t parse_u64(const char *s)
{
    char *end;
    assert_true(s[0] >= '0' && s[0] <= '9');
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    assert_int_equal(errno, 0);
    assert_true(*end == '\0');
    return v;
}

/* parse_seconds3: "S.mmm" (exactly three decimals, optional trailing
 * 's') as whole milliseconds, without going through a double. */
static uint64_t parse_seconds3(const char *s)
{
    char digits[GC_TRACE_LINE_MAX];
    const char *dot = strchr(s, '.');
    assert_non_null(dot);
    size_t ip = (size_t)(dot - s);
    size_t frac = strspn(dot + 1, "0123456789");
    assert_int_equal(frac, 3);
    assert_true(dot[4] == '\0' || (dot[4] == 's' && dot[5] == '\0'));
    memcpy(digits, s, ip);
    memcpy(digits + ip, dot + 1, 3);
    digits[ip + 3] = '\0';
    return parse_u64(digits);
}

/* check_ms_text: s is one time field; it must have fmtNSAsMS's shape
 * and read back as ns/1e6 truncated to whole ms (from 10 ms) or to two
 * significant digits of whole microseconds (below). */
static void check_ms_text(const struct parsers *p, const char *s, int64_t ns)
{
    if (regexec(&p->ms_shape, s, 0, NULL, 0) != 0)
        fail_msg("time field \"%s\" (ns %lld) has the wrong shape", s, (long long)ns);
    uint64_t u = ns < 0 ? 0 : (uint64_t)ns;
    if (u >= 10000000) {
        assert_int_equal(parse_u64(s), u / 1000000);
        return;
    }
    double got = strtod(s, NULL);
    double us = (double)(u / 1000);
    double err = us / 1000 - got;
    if (!(err > -1e-9 && err < us / 1000 * 0.1 + 1e-9))
        fail_msg("time field \"%s\" is not %lld ns cut to two digits", s, (long long)ns);
}

/* split: cut s in place at any character of seps; returns the number
 * of fields, empty ones included. */
static int split(char *s, const char *seps, char **out, int max)
{
    int n = 0;
    for (;;) {
        size_t len = strcspn(s, seps);
        if (n < max)
            out[n] = s;
        n++;
        if (s[len] == '\0')
            return n;
        s[len] = '\0';
        s += len + 1;
    }
}

static void record_times(const struct gccycle_record *r, int64_t t[8])
{
    t[0] = r->clock_sweepterm_ns;
    t[1] = r->clock_mark_ns;
    t[2] = r->clock_markterm_ns;
    t[3] = r->cpu_sweepterm_ns;
    t[4] = r->cpu_assist_ns;
    t[5] = r->cpu_background_ns;
    t[6] = r->cpu_idle_ns;
    t[7] = r->cpu_markterm_ns;
}

static uint64_t expect_percent(double f)
{
    return f * 100 >= 1 ? (uint64_t)(f * 100) : 0;
}

/* tebeka/gctrace: match, then its own checks: clock has exactly three
 * '+' fields and cpu exactly five '+'/'/' fields, each a duration. */
static void check_tebeka(const struct parsers *p, const char *line,
                         const struct gccycle_record *r)
{
    regmatch_t m[13];
    if (regexec(&p->tebeka, line, 13, m, 0) != 0)
        fail_msg("tebeka/gctrace rejects: %s", line);
    assert_int_equal(parse_u64(group(line, m, TB_NUM).s), r->num);
    assert_int_equal(parse_seconds3(group(line, m, TB_START).s),
                     r->start_ns < 0 ? 0 : (uint64_t)r->start_ns / 1000000);
    assert_int_equal(parse_u64(group(line, m, TB_PREC).s), expect_percent(r->gc_cpu_fraction));
    assert_int_equal(parse_u64(group(line, m, TB_BEFORE).s), r->heap_start >> 20);
    assert_int_equal(parse_u64(group(line, m, TB_BEFORE + 1).s), r->heap_end_mark >> 20);
    assert_int_equal(parse_u64(group(line, m, TB_BEFORE + 2).s), r->heap_marked >> 20);
    assert_int_equal(parse_u64(group(line, m, TB_GOAL).s), r->heap_goal >> 20);
    assert_int_equal(parse_u64(group(line, m, TB_CORES).s), r->procs < 0 ? 0 : r->procs);
    int64_t t[8];
    record_times(r, t);
    char *f[8];
    struct field clock = group(line, m, TB_CLOCK), cpu = group(line, m, TB_CPU);
    assert_int_equal(split(clock.s, "+", f, 8), 3);
    for (int i = 0; i < 3; i++)
        check_ms_text(p, f[i], t[i]);
    assert_int_equal(split(cpu.s, "+/", f, 8), 5);
    for (int i = 0; i < 5; i++)
        check_ms_text(p, f[i], t[3 + i]);
}

/* GCViewer PR #272: whole-line match of the current shape. */
static void check_gcviewer_pr272(const struct parsers *p, const char *line,
                                 const struct gccycle_record *r)
{
    regmatch_t m[29];
    if (regexec(&p->gv272, line, 29, m, 0) != 0)
        fail_msg("GCViewer#272 rejects: %s", line);
    assert_int_equal(parse_u64(group(line, m, GV_N).s), r->num);
    assert_int_equal(parse_seconds3(group(line, m, GV_ELAPSED).s),
                     r->start_ns < 0 ? 0 : (uint64_t)r->start_ns / 1000000);
    assert_int_equal(parse_u64(group(line, m, GV_PCT).s), expect_percent(r->gc_cpu_fraction));
    int64_t t[8];
    record_times(r, t);
    for (int i = 0; i < 8; i++)
        check_ms_text(p, group(line, m, GV_TIME0 + 2 * i).s, t[i]);
    assert_int_equal(parse_u64(group(line, m, GV_H0).s), r->heap_start >> 20);
    assert_int_equal(parse_u64(group(line, m, GV_H0 + 1).s), r->heap_end_mark >> 20);
    assert_int_equal(parse_u64(group(line, m, GV_H0 + 2).s), r->heap_marked >> 20);
    assert_int_equal(parse_u64(group(line, m, GV_GOAL).s), r->heap_goal >> 20);
    assert_int_equal(parse_u64(group(line, m, GV272_STACKS).s), r->stack_scan >> 20);
    assert_int_equal(parse_u64(group(line, m, GV272_GLOBALS).s), r->globals_scan >> 20);
    assert_int_equal(parse_u64(group(line, m, GV272_P).s), r->procs < 0 ? 0 : r->procs);
    assert_int_equal(m[GV272_FORCED].rm_so >= 0, r->forced);
}

/* plot-gctrace: header, then every part is one of the five it knows in
 * the order Go prints them; stacks and globals are the two "unexpected
 * part" warnings it prints and skips. */
static int plot_classify(const struct parsers *p, const char *part)
{
    for (int i = 0; i < PLOT_NPARTS; i++)
        if (regexec(&p->plot_parts[i], part, 0, NULL, 0) == 0)
            return i;
    return PLOT_UNEXPECTED;
}

static void check_plot_gctrace(const struct parsers *p, const char *line,
                               const struct gccycle_record *r)
{
    regmatch_t m[5];
    if (regexec(&p->plot_head, line, 5, m, 0) != 0)
        fail_msg("plot-gctrace rejects: %s", line);
    assert_int_equal(parse_seconds3(group(line, m, 2).s),
                     r->start_ns < 0 ? 0 : (uint64_t)r->start_ns / 1000000);
    struct field parts = group(line, m, 4);
    char *part[8];
    assert_int_equal(split(parts.s, ",", part, 8), 7);
    static const int want[7] = {PLOT_CLOCK, PLOT_CPU, PLOT_HEAP, PLOT_GOAL,
                                PLOT_UNEXPECTED, PLOT_UNEXPECTED, PLOT_P};
    for (int i = 0; i < 7; i++) {
        char *s = part[i] + strspn(part[i], " ");
        if (plot_classify(p, s) != want[i])
            fail_msg("plot-gctrace reads part %d \"%s\" of: %s", i, s, line);
    }
    /* It splits cpu on '+' into three phases, the middle one on '/'. */
    char *ph[8], *mk[8];
    assert_int_equal(split(part[0], "+", ph, 8), 3);
    assert_int_equal(split(part[1] + 1, "+", ph, 8), 3);
    assert_int_equal(split(ph[1], "/", mk, 8), 3);
    assert_int_equal(strstr(line, "(forced)") != NULL, r->forced);
}

/* legacy_projection: the line as Go < 1.18 printed it (the stacks and
 * globals parts removed); what gcvis and released GCViewer parse. */
static void legacy_projection(char *line)
{
    char *p = strstr(line, " MB goal, ");
    assert_non_null(p);
    p += strlen(" MB goal, ");
    char *q = strstr(p, " MB globals, ");
    assert_non_null(q);
    q += strlen(" MB globals, ");
    memmove(p, q, strlen(q) + 1);
}

/* The pre-1.18-only parsers: no match on our line (nor on Go's own, per
 * the spec's table), a match with the right fields on its projection. */
static void check_legacy_parsers(const struct parsers *p, const char *line,
                                 const struct gccycle_record *r)
{
    regmatch_t m[25];
    assert_int_not_equal(regexec(&p->gcvis16, line, 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&p->gcvis15, line, 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&p->gvdev, line, 0, NULL, 0), 0);
    char old[GC_TRACE_LINE_MAX];
    strcpy(old, line);
    legacy_projection(old);
    int64_t t[8];
    record_times(r, t);
    if (regexec(&p->gcvis16, old, 11, m, 0) != 0)
        fail_msg("gcvis (Go16) rejects the pre-1.18 form: %s", old);
    assert_int_equal(parse_seconds3(group(old, m, GV16_ELAPSED).s),
                     r->start_ns < 0 ? 0 : (uint64_t)r->start_ns / 1000000);
    for (int i = 0; i < 8; i++)
        check_ms_text(p, group(old, m, GV16_TIME0 + i).s, t[i]);
    assert_int_equal(parse_u64(group(old, m, GV16_HEAP1).s), r->heap_goal >> 20);
    if (regexec(&p->gcvis15, old, 3, m, 0) != 0)
        fail_msg("gcvis (Go15) rejects the pre-1.18 form: %s", old);
    assert_int_equal(parse_seconds3(group(old, m, 1).s),
                     r->start_ns < 0 ? 0 : (uint64_t)r->start_ns / 1000000);
    assert_int_equal(parse_u64(group(old, m, 2).s), r->heap_goal >> 20);
    bool forced = strstr(old, " (forced)") != NULL;
    if (forced)
        *strstr(old, " (forced)") = '\0';
    if (regexec(&p->gvdev, old, 25, m, 0) != 0)
        fail_msg("GCViewer (develop) rejects the pre-1.18 form: %s", old);
    assert_int_equal(parse_u64(group(old, m, GV_GOAL).s), r->heap_goal >> 20);
    assert_int_equal(parse_u64(group(old, m, GVDEV_P).s), r->procs < 0 ? 0 : r->procs);
}

/* check_number_forms: no exponent, no NaN/Inf, and every '.' sits
 * between two digits (so no leading or trailing point). */
static void check_number_forms(const struct parsers *p, const char *line)
{
    assert_int_not_equal(regexec(&p->exponent, line, 0, NULL, 0), 0);
    assert_null(strstr(line, "NaN"));
    assert_null(strstr(line, "Inf"));
    for (const char *d = strchr(line, '.'); d != NULL; d = strchr(d + 1, '.'))
        if (d == line || !(d[-1] >= '0' && d[-1] <= '9') || !(d[1] >= '0' && d[1] <= '9'))
            fail_msg("bad decimal point at offset %d of: %s", (int)(d - line), line);
}

/* check_all_parsers: line is one formatted gctrace line of r. */
static void check_all_parsers(const struct parsers *p, const char *line,
                              const struct gccycle_record *r)
{
    size_t len = strlen(line);
    assert_true(len > 0 && len < GC_TRACE_LINE_MAX);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));
    char bare[GC_TRACE_LINE_MAX];
    memcpy(bare, line, len - 1);
    bare[len - 1] = '\0';
    check_number_forms(p, bare);
    check_tebeka(p, line, r); /* unanchored: the newline does not matter */
    check_tebeka(p, bare, r);
    check_gcviewer_pr272(p, bare, r);
    check_plot_gctrace(p, bare, r);
    check_legacy_parsers(p, bare, r);
}

/* Random inputs biased toward the interesting places: 0, negatives,
 * the 1 us and 10 ms steps, MiB boundaries and the type limits. */
static int64_t rand_ns(uint64_t *s)
{
    uint64_t x = rng_next(s);
    switch (x % 10) {
    case 0: return 0;
    case 1: return -(int64_t)(rng_next(s) >> (rng_next(s) % 63 + 1)) - 1;
    case 2: return (int64_t)(rng_next(s) % 2000);
    case 3: return 10000000 + (int64_t)(rng_next(s) % 3) - 1;
    case 4: return (int64_t)(rng_next(s) % 10000000);
    case 5: return INT64_MAX - (int64_t)(rng_next(s) % 3);
    case 6: return (int64_t)(rng_next(s) % 1000) * 1000;
    default: return (int64_t)(rng_next(s) >> (rng_next(s) % 63 + 1));
    }
}

static uint64_t rand_bytes(uint64_t *s)
{
    uint64_t x = rng_next(s);
    switch (x % 8) {
    case 0: return 0;
    case 1: return rng_next(s) % (1ull << 20);
    case 2: return ((rng_next(s) % 100000) << 20) - (rng_next(s) % 2);
    case 3: return UINT64_MAX - rng_next(s) % 2;
    default: return rng_next(s) >> (rng_next(s) % 64);
    }
}

static double rand_fraction(uint64_t *s)
{
    uint64_t x = rng_next(s);
    switch (x % 8) {
    case 0: return 0;
    case 1: return 1;
    case 2: return -(double)(rng_next(s) % 1000) / 100;
    case 3: return (double)(rng_next(s) % 101) / 100; /* k/100 hits the truncation cases */
    default: return (double)(rng_next(s) >> 11) / 9007199254740992.0;
    }
}

static void rand_record(uint64_t *s, struct gccycle_record *r)
{
    r->num = (uint32_t)rng_next(s) >> (rng_next(s) % 32);
    r->start_ns = rand_ns(s);
    r->clock_sweepterm_ns = rand_ns(s);
    r->clock_mark_ns = rand_ns(s);
    r->clock_markterm_ns = rand_ns(s);
    r->cpu_sweepterm_ns = rand_ns(s);
    r->cpu_assist_ns = rand_ns(s);
    r->cpu_background_ns = rand_ns(s);
    r->cpu_idle_ns = rand_ns(s);
    r->cpu_markterm_ns = rand_ns(s);
    r->heap_start = rand_bytes(s);
    r->heap_end_mark = rand_bytes(s);
    r->heap_marked = rand_bytes(s);
    r->heap_goal = rand_bytes(s);
    r->stack_scan = rand_bytes(s);
    r->globals_scan = rand_bytes(s);
    uint64_t pr = rng_next(s);
    r->procs = pr % 4 == 0 ? -(int)(pr >> 40) : (int)((pr >> 33) >> (pr % 31));
    r->forced = (rng_next(s) & 1) != 0;
    r->gc_cpu_fraction = rand_fraction(s);
}

static void test_parsers_golden(void **state)
{
    struct parsers *p = *state;
    char line[GC_TRACE_LINE_MAX];
    struct gccycle_record r = example_line1();
    gc_format_gctrace(line, sizeof line, &r);
    check_all_parsers(p, line, &r);
    r.forced = true;
    gc_format_gctrace(line, sizeof line, &r);
    check_all_parsers(p, line, &r);
}

/* gcvis's own test vector (parsers spec 6.3), rebuilt from a record and
 * read back through gcvis's Go16 expression in the pre-1.18 form. */
static void test_parsers_gcvis_vector(void **state)
{
    struct parsers *p = *state;
    struct gccycle_record r = {
        .num = 763, .start_ns = 77536239000000LL, .gc_cpu_fraction = 0.015,
        .clock_sweepterm_ns = 110000, .clock_mark_ns = 2192000000LL, .clock_markterm_ns = 750000,
        .cpu_sweepterm_ns = 920000, .cpu_assist_ns = 9269000000LL,
        .cpu_background_ns = 4379000000LL, .cpu_idle_ns = 3243000000LL,
        .cpu_markterm_ns = 6000000,
        .heap_start = 6370ull << 20, .heap_end_mark = 6390ull << 20, .heap_marked = 3298ull << 20,
        .heap_goal = 6533ull << 20, .procs = 8,
    };
    char line[GC_TRACE_LINE_MAX];
    gc_format_gctrace(line, sizeof line, &r);
    check_all_parsers(p, line, &r);
    line[strlen(line) - 1] = '\0';
    legacy_projection(line);
    assert_string_equal(line, "gc 763 @77536.239s 1%: 0.11+2192+0.75 ms clock, "
                              "0.92+9269/4379/3243+6.0 ms cpu, 6370->6390->3298 MB, "
                              "6533 MB goal, 8 P");
    regmatch_t m[11];
    assert_int_equal(regexec(&p->gcvis16, line, 11, m, 0), 0);
    static const char *const want[11] = {NULL, "77536.239", "0.11", "2192", "0.75", "0.92",
                                         "9269", "4379", "3243", "6.0", "6533"};
    for (int g = 1; g <= 10; g++)
        assert_string_equal(group(line, m, g).s, want[g]);
}

/* expect_legacy_shape: the legacy line of r is exactly the current line
 * with ", S MB stacks, L MB globals" removed (nothing else changes), its
 * length is returned, and the pre-1.18-only parsers read it as it is. */
static void expect_legacy_shape(const struct parsers *p, const struct gccycle_record *r)
{
    char cur[GC_TRACE_LINE_MAX], old[GC_TRACE_LINE_MAX];
    gc_format_gctrace(cur, sizeof cur, r);
    size_t len = gc_format_gctrace_shape(old, sizeof old, r, true);
    assert_int_equal(len, strlen(old));
    assert_null(strstr(old, " MB stacks"));
    assert_null(strstr(old, " MB globals"));
    legacy_projection(cur);
    assert_string_equal(old, cur);
    old[len - 1] = '\0'; /* the patterns are matched per line */
    assert_int_equal(regexec(&p->gcvis16, old, 0, NULL, 0), 0);
    assert_int_equal(regexec(&p->gcvis15, old, 0, NULL, 0), 0);
    char *forced = strstr(old, " (forced)");
    if (forced != NULL)
        *forced = '\0';
    assert_int_equal(regexec(&p->gvdev, old, 0, NULL, 0), 0);
}

/* GODEBUG=gctracelegacy=1: the golden lines and random records. */
static void test_gctrace_legacy_shape(void **state)
{
    struct parsers *p = *state;
    struct gccycle_record r = example_line1();
    char line[GC_TRACE_LINE_MAX];
    gc_format_gctrace_shape(line, sizeof line, &r, true);
    assert_string_equal(line, "gc 1 @0.005s 3%: 0.047+1.0+0.002 ms clock, "
                              "0.094+0.35/0.055/0.12+0.005 ms cpu, 3->4->1 MB, 4 MB goal, 2 P\n");
    gc_format_gctrace_shape(line, sizeof line, &r, false);
    assert_non_null(strstr(line, ", 0 MB stacks, 0 MB globals, 2 P\n"));
    r.forced = true;
    r.stack_scan = 5ull << 20;
    r.globals_scan = 6ull << 20;
    expect_legacy_shape(p, &r);
    uint64_t seed = 0x13198a2e03707344ULL;
    for (int i = 0; i < 5000; i++) {
        memset(&r, 0, sizeof r);
        rand_record(&seed, &r);
        expect_legacy_shape(p, &r);
    }
}

static void test_parsers_random(void **state)
{
    struct parsers *p = *state;
    uint64_t seed = 0x243f6a8885a308d3ULL;
    char line[GC_TRACE_LINE_MAX];
    for (int i = 0; i < 20000; i++) {
        struct gccycle_record r;
        memset(&r, 0, sizeof r);
        rand_record(&seed, &r);
        size_t len = gc_format_gctrace(line, sizeof line, &r);
        assert_int_equal(len, strlen(line));
        check_all_parsers(p, line, &r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_ns_as_ms_spec_examples),
        cmocka_unit_test(test_fmt_ns_as_ms_edges),
        cmocka_unit_test(test_itoa_div),
        cmocka_unit_test(test_float_golden),
        cmocka_unit_test(test_float_random),
        cmocka_unit_test(test_gctrace_spec_examples),
        cmocka_unit_test(test_gctrace_pacer_example),
        cmocka_unit_test(test_gctrace_fields),
        cmocka_unit_test(test_scavtrace),
        cmocka_unit_test(test_pacer_start),
        cmocka_unit_test(test_buffer_contract),
        cmocka_unit_test_setup_teardown(test_parsers_golden, parsers_setup, parsers_teardown),
        cmocka_unit_test_setup_teardown(test_parsers_gcvis_vector, parsers_setup,
                                        parsers_teardown),
        cmocka_unit_test_setup_teardown(test_parsers_random, parsers_setup, parsers_teardown),
        cmocka_unit_test_setup_teardown(test_gctrace_legacy_shape, parsers_setup,
                                        parsers_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
