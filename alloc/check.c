/*
 * check.c - the fatal-error path: details, a backtrace, abort().
 * Overview: alloc/malloc.c.  Interface: alloc/check.h.
 *
 * Invariant CK1: nothing here allocates from malloc or from a heap; the
 * report is formatted into stack buffers and written with write(2), so it
 * works with any lock held and with a corrupted heap.
 * Backtraces come from libunwind's local unwinder (no allocation either).
 */
#define GCHI_BUILDING 1
#define UNW_LOCAL_ONLY
#include "check.h"

#include <libunwind.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* write_all: write the whole buffer to stderr, ignoring errors (there is
 * nothing better to do with them on the way to abort). */
static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void write_str(const char *s) { write_all(s, strlen(s)); }

/* print_backtrace: one line per frame, innermost first, skipping the
 * frames of this file. */
static void print_backtrace(void)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    char line[320], name[256];
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0) {
        write_str("gcheap: (no backtrace available)\n");
        return;
    }
    write_str("gcheap: backtrace:\n");
    for (int depth = 0; depth < 64 && unw_step(&cur) > 0; depth++) {
        unw_word_t ip = 0, off = 0;
        unw_get_reg(&cur, UNW_REG_IP, &ip);
        if (unw_get_proc_name(&cur, name, sizeof name, &off) != 0)
            strcpy(name, "??");
        int n = snprintf(line, sizeof line, "  #%-2d 0x%016lx %s+0x%lx\n", depth,
                         (unsigned long)ip, name, (unsigned long)off);
        if (n > 0)
            write_all(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

static GCH_NORETURN void die(void)
{
    print_backtrace();
    write_str("gcheap: fatal error\n");
    abort();
}

void gch_fatal(const char *msg, uintptr_t a, uintptr_t b, uintptr_t c)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "gcheap: fatal: %s", msg);
    const uintptr_t v[3] = {a, b, c};
    for (int i = 0; i < 3 && n > 0 && (size_t)n < sizeof buf; i++)
        if (v[i] != 0)
            n += snprintf(buf + n, sizeof buf - (size_t)n, " [0x%lx]", (unsigned long)v[i]);
    if (n > 0)
        write_all(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    write_str("\n");
    die();
}

void gch_fatalf(const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    write_str("gcheap: fatal: ");
    if (n > 0)
        write_all(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    write_str("\n");
    die();
}

void gch_assert_fail(const char *expr, const char *file, int line)
{
    gch_fatalf("assertion failed: %s (%s:%d)", expr, file, line);
}
