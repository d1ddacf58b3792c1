/*
 * benchutil.h - helpers shared by the benchmarks in bench/: a monotonic
 * timer, medians, page-fault counts, argument/environment parsing and
 * one-line JSON output.
 *
 * Benchmarks follow STYLE.md habit 18: gcheap and its peers run in one
 * process, each configuration is repeated (first repetition discarded as
 * warm-up), medians and ratios to the peer are reported as one JSON line
 * per configuration on stdout, with the git revision and build flags, and
 * a readable table goes to stderr.  scripts/bench_compare.py diffs two
 * such outputs.  Benchmarks verify only a checksum; assertions belong to
 * tests/.
 *
 * Header-only and `static` throughout, so each benchmark is one .c file.
 * Needs POSIX.1-2008 and the Linux RUSAGE_THREAD: define _GNU_SOURCE
 * before including anything (bench/CMakeLists.txt does).
 *
 * BENCH_GIT_REV and BENCH_BUILD come from bench/CMakeLists.txt, computed
 * at configure time (re-run cmake after committing to refresh them).
 */
#ifndef GCHEAP_BENCH_BENCHUTIL_H
#define GCHEAP_BENCH_BENCHUTIL_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifndef BENCH_GIT_REV
#define BENCH_GIT_REV "unknown"
#endif
#ifndef BENCH_BUILD
#define BENCH_BUILD "unknown"
#endif

/* bench_escape: make the compiler assume p (and what it points to) is
 * read and written here, so stores to it are not optimised away. */
static inline void bench_escape(const void *p)
{
    __asm__ __volatile__("" : : "g"(p) : "memory");
}

/* ------------------------------------------------------------------ */
/* Time and page faults                                                */
/* ------------------------------------------------------------------ */

/* bench_now_ns: CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* bench_thread_cpu_ns: CPU time (user + system) used so far by the
 * calling thread (CLOCK_THREAD_CPUTIME_ID), in nanoseconds.  Unlike wall
 * time it does not grow when another process takes the CPU, so it is the
 * stable measure on a loaded machine. */
static inline uint64_t bench_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* bench_thread_minflt: minor page faults taken so far by the calling
 * thread (Linux RUSAGE_THREAD). */
static inline uint64_t bench_thread_minflt(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_minflt;
}

/* bench_thread_sys_ns: the system (kernel) part of the calling thread's
 * CPU time so far (RUSAGE_THREAD ru_stime, microsecond resolution), ns:
 * page faults and the calls they make, apart from user-space work. */
static inline uint64_t bench_thread_sys_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_stime.tv_sec * 1000000000u + (uint64_t)ru.ru_stime.tv_usec * 1000u;
}

/* bench_thread_nvcsw: voluntary context switches of the calling thread
 * so far (RUSAGE_THREAD): each is a sleep, on a lock held by another
 * thread (a futex) or in the kernel. */
static inline uint64_t bench_thread_nvcsw(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_nvcsw;
}

/* ------------------------------------------------------------------ */
/* Statistics over repetitions                                         */
/* ------------------------------------------------------------------ */

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* bench_median: the median of v[0..n) (mean of the middle two for even
 * n); sorts v in place.  0 for n == 0. */
static inline double bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof v[0], bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* bench_min, bench_max: extremes of v[0..n); 0 for n == 0. */
static inline double bench_min(const double *v, size_t n)
{
    double m = n ? v[0] : 0.0;
    for (size_t i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static inline double bench_max(const double *v, size_t n)
{
    double m = n ? v[0] : 0.0;
    for (size_t i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */
/* ------------------------------------------------------------------ */

/* bench_parse_long: s as a decimal integer in [lo, hi], or exit(2) with a
 * message naming what (an option or variable name). */
static inline long bench_parse_long(const char *what, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench: %s: '%s' is not an integer in [%ld, %ld]\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

/* bench_env_long: the environment variable name as an integer in
 * [lo, hi], or def when unset or empty. */
static inline long bench_env_long(const char *name, long def, long lo, long hi)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    return bench_parse_long(name, s, lo, hi);
}

/* ------------------------------------------------------------------ */
/* JSON lines                                                          */
/* ------------------------------------------------------------------ */

/*
 * struct bench_json: one JSON object built field by field, then printed
 * as one line.  Usage:
 *     struct bench_json j;
 *     bench_json_begin(&j, "alloc");
 *     bench_json_str(&j, "alloc", "malloc");
 *     bench_json_u64(&j, "size", 16);
 *     bench_json_num(&j, "median_ns_per_alloc", 12.3);
 *     bench_json_end(&j, stdout);   (adds "git" and "build")
 * A line that would not fit in buf is printed truncated to a valid
 * "error" object instead of invalid JSON.
 */
struct bench_json {
    char buf[2048];
    size_t len;
    bool first;
    bool overflow;
};

static inline void bench_json_raw(struct bench_json *j, const char *s)
{
    size_t n = strlen(s);
    if (j->overflow || j->len + n + 1 > sizeof j->buf) {
        j->overflow = true;
        return;
    }
    memcpy(j->buf + j->len, s, n + 1);
    j->len += n;
}

/* bench_json_quoted: s as a JSON string (quotes, backslashes and control
 * characters escaped). */
static inline void bench_json_quoted(struct bench_json *j, const char *s)
{
    char tmp[8];
    bench_json_raw(j, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            tmp[2] = '\0';
        } else if (c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
        } else {
            tmp[0] = (char)c;
            tmp[1] = '\0';
        }
        bench_json_raw(j, tmp);
    }
    bench_json_raw(j, "\"");
}

static inline void bench_json_key(struct bench_json *j, const char *key)
{
    if (!j->first)
        bench_json_raw(j, ", ");
    j->first = false;
    bench_json_quoted(j, key);
    bench_json_raw(j, ": ");
}

/* bench_json_begin: start an object whose first field is "bench". */
static inline void bench_json_begin(struct bench_json *j, const char *bench)
{
    j->len = 0;
    j->buf[0] = '\0';
    j->first = true;
    j->overflow = false;
    bench_json_raw(j, "{");
    bench_json_key(j, "bench");
    bench_json_quoted(j, bench);
}

static inline void bench_json_str(struct bench_json *j, const char *key, const char *val)
{
    bench_json_key(j, key);
    bench_json_quoted(j, val);
}

static inline void bench_json_u64(struct bench_json *j, const char *key, uint64_t val)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%" PRIu64, val);
    bench_json_key(j, key);
    bench_json_raw(j, tmp);
}

/* bench_json_num: a double with 4 significant decimals after the point;
 * NaN and infinities (no peer measured) become null. */
static inline void bench_json_num(struct bench_json *j, const char *key, double val)
{
    char tmp[64];
    bench_json_key(j, key);
    if (val != val || val > 1e300 || val < -1e300) {
        bench_json_raw(j, "null");
        return;
    }
    snprintf(tmp, sizeof tmp, "%.4f", val);
    bench_json_raw(j, tmp);
}

static inline void bench_json_bool(struct bench_json *j, const char *key, bool val)
{
    bench_json_key(j, key);
    bench_json_raw(j, val ? "true" : "false");
}

/* bench_json_end: add "git" and "build", close the object and print it
 * as one line on out (flushed, so a crash later keeps earlier lines). */
static inline void bench_json_end(struct bench_json *j, FILE *out)
{
    bench_json_str(j, "git", BENCH_GIT_REV);
    bench_json_str(j, "build", BENCH_BUILD);
    bench_json_raw(j, "}");
    if (j->overflow)
        fputs("{\"bench\": \"error\", \"error\": \"JSON line too long\"}\n", out);
    else
        fprintf(out, "%s\n", j->buf);
    fflush(out);
}

#endif /* GCHEAP_BENCH_BENCHUTIL_H */
