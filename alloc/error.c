/*
 * error.c - per-OS-thread last-error slot (see error.h).
 * Thread-local storage is the one piece of non-heap mutable state in the
 * library, chosen for the same reason as errno: errors must be reportable
 * before a heap exists (gch_heap_new) and for bogus handles.
 */
#define GCHI_BUILDING 1
#include "error.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

struct error_slot {
    gch_error code;
    char msg[256];
};

static _Thread_local struct error_slot tls_error;
/* Depth of collector scanning on this OS thread (gchi_scan_enter). */
static _Thread_local int tls_scan_depth;

void gchi_scan_enter(void) { tls_scan_depth++; }
void gchi_scan_leave(void) { tls_scan_depth--; }
bool gchi_in_scan(void) { return tls_scan_depth > 0; }

/* Depth of trace-sink calls on this OS thread (gchi_sink_enter). */
static _Thread_local int tls_sink_depth;

void gchi_sink_enter(void) { tls_sink_depth++; }
void gchi_sink_leave(void) { tls_sink_depth--; }
bool gchi_in_sink(void) { return tls_sink_depth > 0; }

void *gchi_set_error(gch_error e, const char *fmt, ...)
{
    va_list ap;
    tls_error.code = e;
    va_start(ap, fmt);
    vsnprintf(tls_error.msg, sizeof tls_error.msg, fmt, ap);
    va_end(ap);
    return NULL;
}

/* short_path: the last two components of a __FILE__ ("gc/proc.c"). */
static const char *short_path(const char *file)
{
    const char *last = NULL, *prev = NULL;
    for (const char *p = file; *p != '\0'; p++) {
        if (*p == '/') {
            prev = last;
            last = p;
        }
    }
    return prev != NULL ? prev + 1 : file;
}

void gchi_check_failed(const char *name, const char *expr, const char *file, int line,
                       uint64_t a, uint64_t b, bool values)
{
    if (values)
        gchi_set_error(GCH_ESTATE, "invariant %s failed: %s at %s:%d (%" PRIu64 " vs %" PRIu64 ")",
                       name, expr, short_path(file), line, a, b);
    else
        gchi_set_error(GCH_ESTATE, "invariant %s failed: %s at %s:%d", name, expr,
                       short_path(file), line);
}

gch_error gch_last_error(void) { return tls_error.code; }

const char *gch_last_error_message(void)
{
    return tls_error.code == GCH_OK ? "no error" : tls_error.msg;
}

void gch_clear_error(void)
{
    tls_error.code = GCH_OK;
    tls_error.msg[0] = '\0';
}

const char *gch_strerror(gch_error e)
{
    switch (e) {
    case GCH_OK: return "no error";
    case GCH_EINVAL: return "invalid argument";
    case GCH_EOVERFLOW: return "size overflow";
    case GCH_ENOMEM: return "out of memory";
    case GCH_EDETACHED: return "thread not attached";
    case GCH_EWRONGTHREAD: return "gch_thread used from another OS thread";
    case GCH_EBUSY: return "heap has attached threads";
    case GCH_ESTATE: return "call not legal in this state";
    }
    return "unknown error";
}
