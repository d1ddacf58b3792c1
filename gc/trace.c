/*
 * trace.c - pure formatters for the gctrace, scavtrace and gcpacertrace
 * lines: a finished record in, Go's exact bytes out.
 * Go counterparts: gcMarkTermination's trace printing, fmtNSAsMS
 * (runtime/mgc.go), itoaDiv (runtime/proc.go), printScavTrace
 * (runtime/mgcscavenge.go), startCycle's pacer line (runtime/mgcpacer.go)
 * and printfloat (runtime/print.go).  Contract TB1-TB3: gc/trace.h.
 *
 * Everything goes through struct tracebuf, a bounded writer that counts
 * the full length but stores only what fits, so no caller can overflow
 * its buffer and every formatter returns the snprintf-style length.
 * Where Go's arithmetic would wrap or trap (negative durations made
 * unsigned, a zero divisor, an out-of-range float conversion) we print
 * 0 or saturate instead; in-range inputs give Go's bytes exactly.
 */
#define GCHI_BUILDING 1
#include "trace.h"

#include <math.h>

/* A bounded output cursor: len counts every byte of the text, but
 * bytes are stored only while len < cap - 1, leaving room for the NUL. */
struct tracebuf {
    char *buf;
    size_t cap;
    size_t len;
};

static void tb_init(struct tracebuf *tb, char *buf, size_t n)
{
    tb->buf = buf;
    tb->cap = buf == NULL ? 0 : n;
    tb->len = 0;
}

static void tb_putc(struct tracebuf *tb, char c)
{
    if (tb->len + 1 < tb->cap)
        tb->buf[tb->len] = c;
    tb->len++;
}

static void tb_puts(struct tracebuf *tb, const char *s)
{
    while (*s != '\0')
        tb_putc(tb, *s++);
}

/* tb_finish: NUL-terminate what was stored (TB1) and return the full
 * length (TB2). */
static size_t tb_finish(struct tracebuf *tb)
{
    if (tb->cap > 0)
        tb->buf[tb->len < tb->cap ? tb->len : tb->cap - 1] = '\0';
    return tb->len;
}

/* tb_itoa_div: v / 10^dec with dec decimals.  Go's loop emits one digit
 * per step while digits remain or the point is still ahead, then one
 * final digit; the width that produces is max(digits, dec + 1) for
 * dec > 0, max(digits, 2) for dec == 0 and just the digits otherwise.
 * Go counterpart: itoaDiv. */
static void tb_itoa_div(struct tracebuf *tb, uint64_t v, int dec)
{
    char digits[20]; /* least significant first; 2^64 has 20 digits */
    int nd = 0;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (dec > GC_ITOA_DIV_MAX_DEC)
        dec = GC_ITOA_DIV_MAX_DEC;
    int width = nd;
    if (dec >= 0 && width < dec + 1)
        width = dec + 1;
    if (dec == 0 && width < 2)
        width = 2;
    for (int i = width - 1; i >= 0; i--) {
        tb_putc(tb, i < nd ? digits[i] : '0');
        if (dec > 0 && i == dec)
            tb_putc(tb, '.');
    }
}

static void tb_u64(struct tracebuf *tb, uint64_t v)
{
    tb_itoa_div(tb, v, -1);
}

static void tb_i64(struct tracebuf *tb, int64_t v)
{
    if (v < 0) {
        tb_putc(tb, '-');
        tb_u64(tb, (uint64_t)0 - (uint64_t)v);
        return;
    }
    tb_u64(tb, (uint64_t)v);
}

/* tb_ns_as_ms: see gc_fmt_ns_as_ms.  From 10 ms up the value is whole
 * ms; below that it is whole us cut to two significant digits, each cut
 * digit moving the point one place right (three decimals for 10-99 us,
 * one for 1000-9999 us). */
static void tb_ns_as_ms(struct tracebuf *tb, int64_t ns)
{
    uint64_t u = ns < 0 ? 0 : (uint64_t)ns;
    if (u >= 10000000) {
        tb_itoa_div(tb, u / 1000000, 0);
        return;
    }
    uint64_t us = u / 1000;
    if (us == 0) {
        tb_putc(tb, '0');
        return;
    }
    int decimals = 3;
    for (; us >= 100; us /= 10)
        decimals--;
    tb_itoa_div(tb, us, decimals);
}

/* float_scale: bring m (> 0) into [1, 10) by repeated exact steps of 10,
 * then add half a unit of the seventh digit, Go's way (5 divided by 10
 * seven times, not the literal 5e-7), renormalising if that carried.
 * Returns the decimal exponent. */
static int float_scale(double *m)
{
    int e = 0;
    double v = *m;
    while (v >= 10) {
        v /= 10;
        e++;
    }
    while (v < 1) {
        v *= 10;
        e--;
    }
    double half = 5.0;
    for (int i = 0; i < 7; i++)
        half /= 10;
    v += half;
    if (v >= 10) {
        v /= 10;
        e++;
    }
    *m = v;
    return e;
}

/* tb_float: see gc_format_float.  Digits come from peeling the integer
 * part off and multiplying the rest by 10, seven times, as Go does; the
 * result can differ in the last digit from a correctly rounded %e.
 * Go counterpart: printfloat. */
static void tb_float(struct tracebuf *tb, double x)
{
    if (isnan(x)) {
        tb_puts(tb, "NaN");
        return;
    }
    if (isinf(x)) {
        tb_puts(tb, x > 0 ? "+Inf" : "-Inf");
        return;
    }
    tb_putc(tb, signbit(x) ? '-' : '+');
    int e = 0;
    if (x != 0) {
        if (x < 0)
            x = -x;
        e = float_scale(&x);
    }
    for (int i = 0; i < 7; i++) {
        int d = (int)x;
        tb_putc(tb, (char)('0' + d));
        if (i == 0)
            tb_putc(tb, '.');
        x = (x - d) * 10;
    }
    tb_putc(tb, 'e');
    tb_putc(tb, e < 0 ? '-' : '+');
    if (e < 0)
        e = -e;
    tb_putc(tb, (char)('0' + e / 100));
    tb_putc(tb, (char)('0' + e / 10 % 10));
    tb_putc(tb, (char)('0' + e % 10));
}

size_t gc_fmt_ns_as_ms(char *buf, size_t n, int64_t ns)
{
    struct tracebuf tb;
    tb_init(&tb, buf, n);
    tb_ns_as_ms(&tb, ns);
    return tb_finish(&tb);
}

size_t gc_itoa_div(char *buf, size_t n, uint64_t v, int dec)
{
    struct tracebuf tb;
    tb_init(&tb, buf, n);
    tb_itoa_div(&tb, v, dec);
    return tb_finish(&tb);
}

size_t gc_format_float(char *buf, size_t n, double x)
{
    struct tracebuf tb;
    tb_init(&tb, buf, n);
    tb_float(&tb, x);
    return tb_finish(&tb);
}

/* cpu_percent: Go truncates gc_cpu_fraction x 100 to an int.  NaN and
 * negatives give 0, and absurd values saturate rather than overflow
 * the conversion (undefined in C). */
static uint64_t cpu_percent(double fraction)
{
    double p = fraction * 100;
    if (!(p >= 1))
        return 0;
    if (p >= 1e18)
        return 1000000000000000000u;
    return (uint64_t)p;
}

/* gctrace_head: "gc N @T.TTTs U%: " - the cycle number, the start time
 * in whole ms shown as seconds, and the cumulative CPU share. */
static void gctrace_head(struct tracebuf *tb, const struct gccycle_record *r)
{
    uint64_t start_ms = r->start_ns < 0 ? 0 : (uint64_t)r->start_ns / 1000000;
    tb_puts(tb, "gc ");
    tb_u64(tb, r->num);
    tb_puts(tb, " @");
    tb_itoa_div(tb, start_ms, 3);
    tb_puts(tb, "s ");
    tb_u64(tb, cpu_percent(r->gc_cpu_fraction));
    tb_puts(tb, "%: ");
}

/* gctrace_times: the three wall-clock phases joined by '+', then the
 * five CPU components as sweepterm+assist/background/idle+markterm. */
static void gctrace_times(struct tracebuf *tb, const struct gccycle_record *r)
{
    tb_ns_as_ms(tb, r->clock_sweepterm_ns);
    tb_putc(tb, '+');
    tb_ns_as_ms(tb, r->clock_mark_ns);
    tb_putc(tb, '+');
    tb_ns_as_ms(tb, r->clock_markterm_ns);
    tb_puts(tb, " ms clock, ");
    tb_ns_as_ms(tb, r->cpu_sweepterm_ns);
    tb_putc(tb, '+');
    tb_ns_as_ms(tb, r->cpu_assist_ns);
    tb_putc(tb, '/');
    tb_ns_as_ms(tb, r->cpu_background_ns);
    tb_putc(tb, '/');
    tb_ns_as_ms(tb, r->cpu_idle_ns);
    tb_putc(tb, '+');
    tb_ns_as_ms(tb, r->cpu_markterm_ns);
    tb_puts(tb, " ms cpu, ");
}

/* gctrace_sizes: heap sizes, goal and root sizes in truncated MiB (no
 * root sizes in the legacy shape), the thread-context count and the
 * forced marker. */
static void gctrace_sizes(struct tracebuf *tb, const struct gccycle_record *r, bool legacy)
{
    tb_u64(tb, r->heap_start >> 20);
    tb_puts(tb, "->");
    tb_u64(tb, r->heap_end_mark >> 20);
    tb_puts(tb, "->");
    tb_u64(tb, r->heap_marked >> 20);
    tb_puts(tb, " MB, ");
    tb_u64(tb, r->heap_goal >> 20);
    tb_puts(tb, " MB goal, ");
    if (!legacy) {
        tb_u64(tb, r->stack_scan >> 20);
        tb_puts(tb, " MB stacks, ");
        tb_u64(tb, r->globals_scan >> 20);
        tb_puts(tb, " MB globals, ");
    }
    tb_u64(tb, r->procs < 0 ? 0 : (uint64_t)r->procs);
    tb_puts(tb, " P");
    if (r->forced)
        tb_puts(tb, " (forced)");
}

size_t gc_format_gctrace_shape(char *buf, size_t n, const struct gccycle_record *r, bool legacy)
{
    struct tracebuf tb;
    tb_init(&tb, buf, n);
    gctrace_head(&tb, r);
    gctrace_times(&tb, r);
    gctrace_sizes(&tb, r, legacy);
    tb_putc(&tb, '\n');
    return tb_finish(&tb);
}

size_t gc_format_gctrace(char *buf, size_t n, const struct gccycle_record *r)
{
    return gc_format_gctrace_shape(buf, n, r, false);
}

/* scav_util_percent: in-use bytes as a truncated percentage of in-use +
 * free.  Go computes inuse*100/(inuse+free) in 64 bits; we halve both
 * operands until neither the product nor the sum can wrap (only
 * reachable with exabyte-sized inputs) and print 0 for an empty heap,
 * where Go would divide by zero. */
static uint64_t scav_util_percent(uint64_t inuse, uint64_t free_bytes)
{
    while (inuse > UINT64_MAX / 100 || free_bytes > UINT64_MAX - inuse) {
        inuse >>= 1;
        free_bytes >>= 1;
    }
    uint64_t retained = inuse + free_bytes;
    return retained == 0 ? 0 : inuse * 100 / retained;
}

size_t gc_format_scavtrace(char *buf, size_t n, const struct scav_record *r)
{
    struct tracebuf tb;
    tb_init(&tb, buf, n);
    tb_puts(&tb, "scav ");
    tb_u64(&tb, r->released_bg >> 10);
    tb_puts(&tb, " KiB work (bg), ");
    tb_u64(&tb, r->released_eager >> 10);
    tb_puts(&tb, " KiB work (eager), ");
    tb_u64(&tb, r->heap_released >> 10);
    tb_puts(&tb, " KiB now, ");
    tb_u64(&tb, scav_util_percent(r->heap_inuse, r->heap_free));
    tb_puts(&tb, "% util");
    if (r->forced)
        tb_puts(&tb, " (forced)");
    else if (r->controller_reset)
        tb_puts(&tb, " [controller reset]");
    tb_putc(&tb, '\n');
    return tb_finish(&tb);
}

size_t gc_format_pacer_start(char *buf, size_t n, double assist_ratio, uint64_t heap_scan,
                             uint64_t heap_live, uint64_t heap_goal, int dedicated,
                             double fractional)
{
    struct tracebuf tb;
    tb_init(&tb, buf, n);
    tb_puts(&tb, "pacer: assist ratio=");
    tb_float(&tb, assist_ratio);
    tb_puts(&tb, " (scan ");
    tb_u64(&tb, heap_scan >> 20);
    tb_puts(&tb, " MB in ");
    tb_u64(&tb, heap_live >> 20);
    tb_puts(&tb, "->");
    tb_u64(&tb, heap_goal >> 20);
    tb_puts(&tb, " MB) workers=");
    tb_i64(&tb, dedicated);
    tb_putc(&tb, '+');
    tb_float(&tb, fractional);
    tb_putc(&tb, '\n');
    return tb_finish(&tb);
}

size_t gc_format_pacer_end(char *buf, size_t n, const struct pacer_end_record *r)
{
    struct tracebuf tb;
    tb_init(&tb, buf, n);
    tb_puts(&tb, "pacer: ");
    tb_i64(&tb, r->util_percent);
    tb_puts(&tb, "% CPU (25 exp.) for ");
    tb_u64(&tb, r->heap_work);
    tb_putc(&tb, '+');
    tb_u64(&tb, r->stack_work);
    tb_putc(&tb, '+');
    tb_u64(&tb, r->globals_work);
    tb_puts(&tb, " B work (");
    tb_u64(&tb, r->expected_work);
    tb_puts(&tb, " B exp.) in ");
    tb_u64(&tb, r->triggered);
    tb_puts(&tb, " B -> ");
    tb_u64(&tb, r->live);
    tb_puts(&tb, " B (\xe2\x88\x86goal ");
    tb_i64(&tb, r->goal_delta);
    tb_puts(&tb, ", cons/mark ");
    tb_float(&tb, r->cons_mark);
    tb_puts(&tb, ")\n");
    return tb_finish(&tb);
}
