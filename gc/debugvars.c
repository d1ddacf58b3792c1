/*
 * debugvars.c - reading GOGC, GOMEMLIMIT, GOMAXPROCS and GODEBUG.
 * Go counterpart: runtime/runtime1.go (parsedebugvars) and
 * runtime/mgcpacer.go (readGOGC, readGOMEMLIMIT, parseByteCount).
 * Invariants E1-E3: gc/debugvars.h.  Overview: alloc/malloc.c.
 *
 * The accepted syntax is Go's.  The reaction to bad input is not (STYLE.md
 * habit 11): Go silently uses 100 for a malformed GOGC, ignores a bad
 * GOMAXPROCS or GODEBUG value, and dies on a malformed GOMEMLIMIT; we
 * print one line that names the variable and the value kept, and keep it.
 * The GODEBUG parser, range checks, defaults and help text are all
 * generated from the one row table GCH_GODEBUG_KEYS (debugvars.h).
 */
#define GCHI_BUILDING 1
#include "debugvars.h"
#include "check.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One row of GCH_GODEBUG_KEYS as data. */
struct godebug_row {
    const char *name;
    int def, min, max;
    const char *meaning;
};

#define GCHI_GODEBUG_ROW(name, def, min, max, meaning) {#name, def, min, max, meaning},
static const struct godebug_row godebug_rows[] = {GCH_GODEBUG_KEYS(GCHI_GODEBUG_ROW)};
#undef GCHI_GODEBUG_ROW
#define NUM_GODEBUG_ROWS (sizeof godebug_rows / sizeof godebug_rows[0])

_Static_assert(sizeof(struct gcdebug) == NUM_GODEBUG_ROWS * sizeof(int),
               "struct gcdebug is exactly the table's int fields");

/* godebug_field: the field of d that row i of the table describes. */
static int *godebug_field(struct gcdebug *d, size_t i)
{
#define GCHI_GODEBUG_ADDR(name, def, min, max, meaning) &d->name,
    int *const fields[] = {GCH_GODEBUG_KEYS(GCHI_GODEBUG_ADDR)};
#undef GCHI_GODEBUG_ADDR
    GCH_ASSERT_INTERNAL(i < NUM_GODEBUG_ROWS);
    return fields[i];
}

void gcdebug_defaults(struct gcdebug *d)
{
    for (size_t i = 0; i < NUM_GODEBUG_ROWS; i++)
        *godebug_field(d, i) = godebug_rows[i].def;
}

void gcenv_defaults(struct gcenv *e)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    e->gc_percent = 100;
    e->memory_limit = INT64_MAX;
    e->gomaxprocs = ncpu < 1 ? 1 : ncpu > INT32_MAX ? INT32_MAX : (int)ncpu;
    gcdebug_defaults(&e->debug);
}

/* ---- numbers ---------------------------------------------------------- */

/* Why a parse failed, so that the messages can say more than "bad". */
enum numparse {
    NUMPARSE_OK,
    NUMPARSE_SYNTAX, /* not a decimal integer */
    NUMPARSE_RANGE,  /* a decimal integer outside the allowed range */
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* parse_int64: s[0..n) as base-10 digits after an optional '-' (and '+'
 * when plus_ok), nothing else, at least one digit.  Like Go's atoi64 and
 * strconv.ParseInt.  On NUMPARSE_RANGE *out is saturated to INT64_MIN or
 * INT64_MAX so that callers can tell too small from too large. */
static enum numparse parse_int64(const char *s, size_t n, bool plus_ok, int64_t *out)
{
    size_t i = 0;
    bool neg = n > 0 && s[0] == '-';
    if (neg || (plus_ok && n > 0 && s[0] == '+'))
        i = 1;
    if (i == n)
        return NUMPARSE_SYNTAX;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    bool over = false;
    for (; i < n; i++) {
        if (!is_digit(s[i]))
            return NUMPARSE_SYNTAX; /* even after an overflow: syntax first */
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (over) {
        *out = neg ? INT64_MIN : INT64_MAX;
        return NUMPARSE_RANGE;
    }
    *out = !neg ? (int64_t)v : v == lim ? INT64_MIN : -(int64_t)v;
    return NUMPARSE_OK;
}

/* parse_int_in: parse_int64 restricted to [lo, hi]; saturates *out to
 * the side it missed on NUMPARSE_RANGE. */
static enum numparse parse_int_in(const char *s, size_t n, bool plus_ok, int64_t lo, int64_t hi,
                                  int64_t *out)
{
    enum numparse r = parse_int64(s, n, plus_ok, out);
    if (r == NUMPARSE_OK && (*out < lo || *out > hi))
        r = NUMPARSE_RANGE;
    return r;
}

/* ---- GOGC --------------------------------------------------------------- */

static enum numparse gogc_parse(const char *s, int *out)
{
    if (strcmp(s, "off") == 0) {
        *out = -1;
        return NUMPARSE_OK;
    }
    int64_t v;
    enum numparse r = parse_int_in(s, strlen(s), true, INT32_MIN, INT32_MAX, &v);
    if (r == NUMPARSE_OK)
        *out = v < 0 ? -1 : (int)v; /* Go's setGCPercent: any negative means off */
    return r;
}

bool gcenv_parse_gogc(const char *s, int *out) { return gogc_parse(s, out) == NUMPARSE_OK; }

/* ---- GOMEMLIMIT ----------------------------------------------------------- */

/* unit_shift: log2 of the multiplier for a 'K' 'M' 'G' 'T' before "iB". */
static int unit_shift(char c)
{
    switch (c) {
    case 'K': return 10;
    case 'M': return 20;
    case 'G': return 30;
    case 'T': return 40;
    default: return -1;
    }
}

/* bytes_parse: the rules of Go's parseByteCount (spec section 2.2), with
 * one deliberate difference: Go's atoi64 lets a '-' through, so Go takes
 * "-0" and even "-KiB" as 0; we refuse any sign. */
static enum numparse bytes_parse(const char *s, int64_t *out)
{
    size_t n = strlen(s), ndigits = n;
    int shift = 0;
    if (strcmp(s, "off") == 0) {
        *out = INT64_MAX;
        return NUMPARSE_OK;
    }
    if (n == 0)
        return NUMPARSE_SYNTAX;
    if (!is_digit(s[n - 1])) {
        if (s[n - 1] != 'B' || n < 2)
            return NUMPARSE_SYNTAX;
        if (is_digit(s[n - 2])) {
            ndigits = n - 1;
        } else {
            if (s[n - 2] != 'i' || n < 4 || (shift = unit_shift(s[n - 3])) < 0)
                return NUMPARSE_SYNTAX;
            ndigits = n - 3;
        }
    }
    if (s[0] == '-')
        return NUMPARSE_SYNTAX;
    int64_t v;
    enum numparse r = parse_int_in(s, ndigits, false, 0, INT64_MAX >> shift, &v);
    if (r == NUMPARSE_OK)
        *out = (int64_t)((uint64_t)v << shift);
    return r;
}

bool gcenv_parse_bytes(const char *s, int64_t *out) { return bytes_parse(s, out) == NUMPARSE_OK; }

/* format_limit: a memory limit as GOMEMLIMIT would spell it, in the
 * largest unit that divides it exactly, so a message can be pasted back. */
static const char *format_limit(int64_t v, char *buf, size_t size)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    if (v == INT64_MAX)
        return "no limit";
    for (int i = 0; i < 4 && v != 0; i++) {
        int shift = 40 - 10 * i;
        if ((v & (((int64_t)1 << shift) - 1)) == 0) {
            snprintf(buf, size, "%lld%s", (long long)(v >> shift), units[i]);
            return buf;
        }
    }
    snprintf(buf, size, "%lld", (long long)v);
    return buf;
}

/* ---- reading the environment -------------------------------------------- */

/* The arguments of one gcenv_read call, passed to each variable's reader. */
struct envreader {
    const char *prefix;
    gcenv_getenv_fn getenv_fn;
    void *ctx;
    FILE *err;
};

/* Room for a full variable name: the prefix and the longest base name. */
#define ENVNAME_SIZE (GCENV_PREFIX_MAX + sizeof "GOMEMLIMIT")

static const char *process_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

/* env_lookup: the value of <prefix><base>, its full name left in name;
 * NULL when unset or empty (both mean "change nothing"). */
static const char *env_lookup(const struct envreader *r, const char *base,
                              char name[ENVNAME_SIZE])
{
    snprintf(name, ENVNAME_SIZE, "%s%s", r->prefix, base);
    const char *v = r->getenv_fn(r->ctx, name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static void read_gogc(const struct envreader *r, int *gc_percent)
{
    char name[ENVNAME_SIZE];
    const char *v = env_lookup(r, "GOGC", name);
    if (v == NULL)
        return;
    char kept[16] = "off";
    if (*gc_percent >= 0)
        snprintf(kept, sizeof kept, "%d", *gc_percent);
    switch (gogc_parse(v, gc_percent)) {
    case NUMPARSE_OK: break;
    case NUMPARSE_SYNTAX:
        fprintf(r->err, "gcheap: %s=\"%s\" is not a number or \"off\"; keeping %s\n", name, v, kept);
        break;
    case NUMPARSE_RANGE:
        fprintf(r->err, "gcheap: %s=\"%s\" is out of range (a 32-bit integer or \"off\"); keeping %s\n",
                name, v, kept);
        break;
    }
}

static void read_memlimit(const struct envreader *r, int64_t *limit)
{
    char name[ENVNAME_SIZE];
    const char *v = env_lookup(r, "GOMEMLIMIT", name);
    if (v == NULL)
        return;
    char buf[32];
    const char *kept = format_limit(*limit, buf, sizeof buf);
    switch (bytes_parse(v, limit)) {
    case NUMPARSE_OK: break;
    case NUMPARSE_SYNTAX:
        fprintf(r->err, "gcheap: %s=\"%s\" is malformed (use B, KiB, MiB, GiB, TiB); keeping %s\n",
                name, v, kept);
        break;
    case NUMPARSE_RANGE:
        fprintf(r->err, "gcheap: %s=\"%s\" is too large (at most %lld bytes, or \"off\"); keeping %s\n",
                name, v, (long long)INT64_MAX, kept);
        break;
    }
}

static void read_gomaxprocs(const struct envreader *r, int *procs)
{
    char name[ENVNAME_SIZE];
    const char *v = env_lookup(r, "GOMAXPROCS", name);
    if (v == NULL)
        return;
    int64_t n;
    switch (parse_int_in(v, strlen(v), false, 1, INT32_MAX, &n)) {
    case NUMPARSE_OK: *procs = (int)n; break;
    case NUMPARSE_SYNTAX:
        fprintf(r->err, "gcheap: %s=\"%s\" is not a number; keeping %d\n", name, v, *procs);
        break;
    case NUMPARSE_RANGE:
        if (n < 1)
            fprintf(r->err, "gcheap: %s=\"%s\" must be >= 1; keeping %d\n", name, v, *procs);
        else
            fprintf(r->err, "gcheap: %s=\"%s\" must be <= %d; keeping %d\n", name, v, INT32_MAX,
                    *procs);
        break;
    }
}

void gcenv_read(struct gcenv *e, const char *prefix, gcenv_getenv_fn getenv_fn, void *ctx,
                FILE *errstream)
{
    GCH_ASSERT(e != NULL);
    struct envreader r = {prefix != NULL ? prefix : "", getenv_fn != NULL ? getenv_fn : process_getenv,
                          ctx, errstream != NULL ? errstream : stderr};
    if (strlen(r.prefix) > GCENV_PREFIX_MAX) {
        fprintf(r.err, "gcheap: environment prefix \"%s\" is longer than %d bytes; reading nothing\n",
                r.prefix, GCENV_PREFIX_MAX);
        return;
    }
    read_gogc(&r, &e->gc_percent);
    read_memlimit(&r, &e->memory_limit);
    read_gomaxprocs(&r, &e->gomaxprocs);
    char name[ENVNAME_SIZE];
    const char *v = env_lookup(&r, "GODEBUG", name);
    if (v != NULL)
        gcenv_parse_godebug(&e->debug, v, name, r.err);
}

/* ---- GODEBUG ---------------------------------------------------------------- */

/* godebug_find: the table index of key[0..n), or -1. */
static int godebug_find(const char *key, size_t n)
{
    for (size_t i = 0; i < NUM_GODEBUG_ROWS; i++)
        if (strlen(godebug_rows[i].name) == n && memcmp(godebug_rows[i].name, key, n) == 0)
            return (int)i;
    return -1;
}

/* A length as a printf precision ("%.*s"). */
static int prec(size_t n) { return n > INT_MAX ? INT_MAX : (int)n; }

/* godebug_item: apply one non-empty item[0..n) of a GODEBUG list. */
static void godebug_item(struct gcdebug *d, const char *item, size_t n, const char *var, FILE *err)
{
    const char *eq = memchr(item, '=', n);
    if (eq == NULL) {
        fprintf(err, "gcheap: %s item \"%.*s\" has no \"=value\"; ignored\n", var, prec(n), item);
        return;
    }
    size_t klen = (size_t)(eq - item), vlen = n - klen - 1;
    int i = godebug_find(item, klen);
    if (i < 0) {
        fprintf(err, "gcheap: %s key \"%.*s\" is unknown; ignored\n", var, prec(klen), item);
        return;
    }
    const struct godebug_row *row = &godebug_rows[i];
    int *field = godebug_field(d, (size_t)i);
    int64_t v;
    switch (parse_int_in(eq + 1, vlen, false, row->min, row->max, &v)) {
    case NUMPARSE_OK: *field = (int)v; break;
    case NUMPARSE_SYNTAX:
        fprintf(err, "gcheap: %s %s=\"%.*s\" is not a number; keeping %d\n", var, row->name,
                prec(vlen), eq + 1, *field);
        break;
    case NUMPARSE_RANGE:
        fprintf(err, "gcheap: %s %s=\"%.*s\" is outside %d..%d; keeping %d\n", var, row->name,
                prec(vlen), eq + 1, row->min, row->max, *field);
        break;
    }
}

void gcenv_parse_godebug(struct gcdebug *d, const char *s, const char *varname, FILE *errstream)
{
    const char *var = varname != NULL ? varname : "GODEBUG";
    FILE *err = errstream != NULL ? errstream : stderr;
    while (*s != '\0') {
        const char *comma = strchr(s, ',');
        size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);
        if (n > 0) /* ",," and a trailing ',' are harmless, as in Go */
            godebug_item(d, s, n, var, err);
        s += n + (comma != NULL);
    }
}

void gcenv_help(FILE *f)
{
    fprintf(f, "gcheap reads these once, when a heap is created; an embedder's prefix "
               "(MYVM_) goes before each name:\n"
               "  GOGC=N|off              default 100: grow the heap N%% over live data "
               "before the next GC; off: never\n"
               "  GOMEMLIMIT=N[unit]|off  default off: soft limit on mapped memory; "
               "unit B, KiB, MiB, GiB or TiB\n"
               "  GOMAXPROCS=N            default: online CPUs: sizes the background mark "
               "workers (25%% rule)\n"
               "  GODEBUG=key=N,...       the later of repeated keys wins; keys:\n");
    for (size_t i = 0; i < NUM_GODEBUG_ROWS; i++) {
        const struct godebug_row *row = &godebug_rows[i];
        fprintf(f, "    %-16s default %d, range %d..%d: %s\n", row->name, row->def, row->min,
                row->max, row->meaning);
    }
}
