/*
 * roottable.h - struct root_table: a heap's global root ranges and
 * heap-wide scanners.  Types only: the functions and invariants R1-R3 are
 * gc/roots.h's.  Go counterpart: none (Go finds its globals in the
 * binary's data and BSS).
 */
#ifndef GCHEAP_GC_ROOTTABLE_H
#define GCHEAP_GC_ROOTTABLE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stddef.h>
#include "gcheap.h"
#include "lock.h"

struct root_range { void **start; size_t count; };
struct root_scanner { gch_scan_fn fn; void *ctx; };

struct root_table {
    struct lock lock;               /* rank ROOTS */
    struct root_range *ranges;      /* [lock] sorted by start (R1) */
    size_t nranges, capranges;      /* [lock] */
    struct root_scanner *scanners;  /* [lock] */
    size_t nscanners, capscanners;  /* [lock] */
};

#endif
