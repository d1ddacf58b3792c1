/*
 * debugvars.h - the environment knobs of one heap: GOGC, GOMEMLIMIT,
 * GOMAXPROCS and the collector's GODEBUG keys (STYLE.md habit 11, tier 2).
 * Go counterpart: runtime/runtime1.go (dbgvars, parsedebugvars) and
 * runtime/mgcpacer.go (readGOGC, readGOMEMLIMIT, parseByteCount).
 *
 * Owns: struct gcdebug, struct gcenv and the GODEBUG key table
 * GCH_GODEBUG_KEYS, which generates the struct here and the parser, the
 * range checks, the defaults and the help text in debugvars.c.
 * Invariants:
 *   E1 every field holds a legal value: gc_percent >= -1, memory_limit
 *      >= 0, gomaxprocs >= 1, each gcdebug field within [min, max] of its
 *      row (given a legal starting value, nothing here breaks it);
 *   E2 a malformed or out-of-range setting changes nothing: the previous
 *      value stays, and one line on errstream names the variable, the bad
 *      value and the value kept;
 *   E3 no global state: the environment is read into a struct the caller
 *      owns, once, by gch_heap_new (DESIGN.md decision 1).
 * Locking: none; a struct gcenv belongs to whoever is building a heap.
 */
#ifndef GCHEAP_GC_DEBUGVARS_H
#define GCHEAP_GC_DEBUGVARS_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * One row per GODEBUG key the collector reads:
 *   X(name, default, min, max, "one-line meaning")
 * name is both the GODEBUG key and the struct gcdebug field.  Defaults
 * are Go's (spec/go-runtime.md section 3).  A value outside [min, max] is
 * rejected, not clamped (E2).  Keep the meanings free of braces: they are
 * printed verbatim by gcenv_help.
 */
#define GCH_GODEBUG_KEYS(X)                                                                   \
    X(gctrace, 0, 0, 2, "1: one line per GC cycle on stderr, in Go's gctrace format")        \
    X(gcpacertrace, 0, 0, 1, "1: the pacer's internal state after each cycle")               \
    X(scavtrace, 0, 0, 1, "1: one scavenger summary line per GC cycle")                      \
    X(gcstoptheworld, 0, 0, 2, "1: mark with the world stopped; 2: also sweep at once")      \
    X(gccheckmark, 0, 0, 1, "1: re-mark with the world stopped and check nothing was missed") \
    X(invalidptr, 1, 0, 1, "1: a heap word pointing at no allocated object is fatal")        \
    X(clobberfree, 0, 0, 1, "1: the sweeper fills freed objects with 0xdeadbeef")            \
    X(madvdontneed, 1, 0, 1, "1: release pages with MADV_DONTNEED; 0: MADV_FREE")            \
    X(harddecommit, 0, 0, 1, "1: released pages are also mapped PROT_NONE until reused")    \
    X(gcstress, 0, 0, 1000000000, "N: a full collection every N allocations; sets clobberfree") \
    X(disablethp, 0, 0, 1, "1: never advise huge pages (new arenas, arenas wholly in use)") \
    X(forcegcms, 120000, 0, 2147483647, "ms without a cycle before sysmon starts one; 0: never") \
    X(scavengeidlems, 300000, 0, 2147483647, "ms a free page stays unused before its release; 0: never") \
    X(memprofilerate, 524288, 0, 2147483647, "heap profile: one sample per N bytes allocated on average; 0: off") \
    X(gctracelegacy, 0, 0, 1, "1: gctrace lines without the stacks and globals fields, as Go < 1.18")

/* Go counterpart: runtime.debug (the GC's share of it). */
#define GCHI_GODEBUG_FIELD_DECL(name, def, min, max, meaning) int name;
struct gcdebug {
    GCH_GODEBUG_KEYS(GCHI_GODEBUG_FIELD_DECL)
};
#undef GCHI_GODEBUG_FIELD_DECL

/* The settings of one heap that come from the environment (or from the
 * embedder's config, which the environment then overrides). */
struct gcenv {
    int gc_percent;       /* GOGC; -1 = off */
    int64_t memory_limit; /* GOMEMLIMIT, bytes; INT64_MAX = no limit */
    int gomaxprocs;       /* GOMAXPROCS, >= 1: sizes the mark workers */
    struct gcdebug debug; /* GODEBUG */
};

/* The longest embedder prefix gcenv_read accepts (heap.h keeps 31). */
#define GCENV_PREFIX_MAX 64

/* gcdebug_defaults: every key at its table default. */
void gcdebug_defaults(struct gcdebug *d);

/* gcenv_defaults: Go's defaults: GOGC 100, no memory limit, GOMAXPROCS =
 * the number of online CPUs (sysconf), GODEBUG keys at their defaults. */
void gcenv_defaults(struct gcenv *e);

/* A getenv with a context, injected so that tests never touch the
 * process environment.  Returns NULL when name is unset. */
typedef const char *(*gcenv_getenv_fn)(void *ctx, const char *name);

/* gcenv_read: override e from <prefix>GOGC, <prefix>GOMEMLIMIT,
 * <prefix>GOMAXPROCS and <prefix>GODEBUG.  prefix may be NULL or "".
 * getenv_fn NULL reads the process environment; errstream NULL is stderr.
 * Unset or empty variables change nothing and print nothing; a bad value
 * prints one line naming the full variable (MYVM_GOGC) and the value
 * kept, and keeps it (E2).  Precondition: e holds legal values (E1),
 * e.g. from gcenv_defaults. */
void gcenv_read(struct gcenv *e, const char *prefix, gcenv_getenv_fn getenv_fn, void *ctx,
                FILE *errstream);

/* gcenv_parse_gogc: "off" -> -1; a base-10 32-bit integer (optional sign,
 * as Go's strconv.ParseInt); negative -> -1.  False on anything else, and
 * *out is untouched. */
bool gcenv_parse_gogc(const char *s, int *out);

/* gcenv_parse_bytes: Go's GOMEMLIMIT syntax: decimal digits, optionally
 * followed by B, KiB, MiB, GiB or TiB (case-sensitive, powers of 1024);
 * "off" -> INT64_MAX.  No sign, space, fraction or other unit.  False when
 * malformed or above INT64_MAX, and *out is untouched. */
bool gcenv_parse_bytes(const char *s, int64_t *out);

/* gcenv_parse_godebug: apply s, comma-separated key=value items, to d;
 * a later item wins.  Empty items are skipped.  An item without '=', an
 * unknown key, a non-numeric value or one outside the key's range prints
 * one line on errstream (NULL: stderr) naming varname (NULL: "GODEBUG")
 * and is otherwise ignored. */
void gcenv_parse_godebug(struct gcdebug *d, const char *s, const char *varname, FILE *errstream);

/* gcenv_help: the variables and the GODEBUG table as help text, one line
 * per key with its default, range and meaning. */
void gcenv_help(FILE *f);

#endif
