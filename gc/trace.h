/*
 * trace.h - formatters for the gctrace, scavtrace and gcpacertrace lines.
 * Go counterparts: the trace printing at the end of runtime/mgc.go
 * gcMarkTermination, fmtNSAsMS (mgc.go), itoaDiv (proc.go),
 * printScavTrace (mgcscavenge.go), the startCycle pacer line
 * (mgcpacer.go) and printfloat (print.go).
 * Record types: gc/mstats.h.  Format reference: shared/spec/go-runtime.md
 * section 1 and shared/spec/gctrace-parsers.md.
 *
 * Owns: nothing but code.  Every function here is pure: it reads its
 *   arguments and writes only the caller's buffer, so tests compare the
 *   output with golden strings and callers may format from any thread.
 * Buffer contract (all functions, like snprintf):
 *   TB1 at most n bytes are written, and when n > 0 the result is always
 *      NUL-terminated (truncated if it does not fit);
 *   TB2 the return value is the length of the whole text, without the
 *      NUL, whether or not it fit; buf may be NULL when n == 0;
 *   TB3 the text written is a prefix of the whole text.
 * Locking: none.  Writing the line to stderr under one lock (Go's
 *   printlock) is the caller's business.
 */
#ifndef GCHEAP_GC_TRACE_H
#define GCHEAP_GC_TRACE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mstats.h"

/* Bytes that always hold any line these functions produce, NUL
 * included (the longest gctrace line is about 300 bytes). */
#define GC_TRACE_LINE_MAX 512

/* Largest dec gc_itoa_div honours; a larger one is treated as this. */
#define GC_ITOA_DIV_MAX_DEC 32

/* gc_fmt_ns_as_ms: a duration in ns as milliseconds, Go's way: whole ms
 * (truncated, no point) from 10 ms up; otherwise two significant digits
 * of the truncated microseconds with at most three decimals ("0.047",
 * "0.35", "2.5"), and "0" below 1 us.  Negative ns prints "0".
 * Go counterpart: fmtNSAsMS. */
size_t gc_fmt_ns_as_ms(char *buf, size_t n, int64_t ns);

/* gc_itoa_div: v / 10^dec in decimal with exactly dec decimals and a
 * digit before the point (v=5, dec=3 gives "0.005").  Reproduces Go's
 * edge cases: dec == 0 always prints at least two digits (v=5 gives
 * "05"; fmtNSAsMS never asks for that), a negative dec prints v
 * unchanged.  Go counterpart: itoaDiv. */
size_t gc_itoa_div(char *buf, size_t n, uint64_t v, int dec);

/* gc_format_float: x the way Go's builtin print shows a float64: sign,
 * one digit, '.', six digits, 'e', sign, three exponent digits
 * ("+1.298456e+000", "-2.500000e-001"), with Go's own rounding
 * arithmetic; "NaN", "+Inf", "-Inf"; -0.0 prints "-0.000000e+000".
 * Go counterpart: printfloat. */
size_t gc_format_float(char *buf, size_t n, double x);

/* gc_format_gctrace: the GODEBUG=gctrace=1 line for one cycle, in the
 * Go >= 1.18 shape, trailing '\n' included:
 *   gc N @T.TTTs U%: c+c+c ms clock, c+c/c/c+c ms cpu, H->H->H MB,
 *   G MB goal, S MB stacks, L MB globals, P P[ (forced)]
 * Byte values are MiB truncated (>> 20); @T is start_ns in whole ms as
 * seconds with three decimals; U is gc_cpu_fraction x 100 truncated.
 * Negative inputs (times, procs, fraction, NaN) print as 0.
 * Go counterpart: the gctrace block of gcMarkTermination. */
size_t gc_format_gctrace(char *buf, size_t n, const struct gccycle_record *r);

/* gc_format_gctrace_shape: gc_format_gctrace when legacy is false; when
 * true, the same line without its ", S MB stacks, L MB globals" part
 * (the Go < 1.18 shape that gcvis and GCViewer's patterns expect;
 * GODEBUG=gctracelegacy=1), every other byte unchanged. */
size_t gc_format_gctrace_shape(char *buf, size_t n, const struct gccycle_record *r, bool legacy);

/* gc_format_scavtrace: the GODEBUG=scavtrace=1 line, current Go shape:
 *   scav B KiB work (bg), E KiB work (eager), R KiB now, U% util
 * then " (forced)", or else " [controller reset]" when that flag is
 * set, then '\n'.  KiB are truncated (>> 10); U is in-use bytes as an
 * integer percent of in-use + free (0 when both are 0, where Go would
 * divide by zero).  Go counterpart: printScavTrace. */
size_t gc_format_scavtrace(char *buf, size_t n, const struct scav_record *r);

/* gc_format_pacer_start: gcpacertrace line kind 1, printed as a mark
 * phase starts:
 *   pacer: assist ratio=F (scan S MB in H->G MB) workers=D+f
 * with F and f in gc_format_float's form (so "workers=1++0.000000e+000")
 * and byte values in MiB truncated; '\n' included.
 * Go counterpart: the gcpacertrace print in (*gcControllerState).startCycle. */
size_t gc_format_pacer_start(char *buf, size_t n, double assist_ratio, uint64_t heap_scan,
                             uint64_t heap_live, uint64_t heap_goal, int dedicated,
                             double fractional);

/* struct pacer_end_record: what gcpacertrace prints as a mark ends. */
struct pacer_end_record {
    int util_percent;              /* measured utilisation: 25% + assists */
    uint64_t heap_work, stack_work, globals_work; /* scan work done, bytes */
    uint64_t expected_work;
    uint64_t triggered, live;      /* heap_live at the trigger and now */
    int64_t goal_delta;            /* live - goal */
    double cons_mark;              /* the estimate before this cycle */
};

/* gc_format_pacer_end: gcpacertrace line kind 2, printed as a mark ends:
 *   pacer: U% CPU (25 exp.) for H+S+G B work (E B exp.) in T B -> L B
 *   (\u2206goal D, cons/mark C)
 * on one line, C in gc_format_float's form; '\n' included.
 * Go counterpart: the gcpacertrace print in (*gcControllerState).endCycle. */
size_t gc_format_pacer_end(char *buf, size_t n, const struct pacer_end_record *r);

#endif
