/*
 * msize.h - request size -> size class.
 * Go counterpart: runtime/msize.go and the lookup in mallocgc.
 * Tables: alloc/sizeclasses.c (generated).  Overview: alloc/malloc.c.
 */
#ifndef GCHEAP_ALLOC_MSIZE_H
#define GCHEAP_ALLOC_MSIZE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stddef.h>
#include "sizeclasses.h"

/* size_to_class: the smallest size class holding size bytes, for
 * 1 <= size <= MAX_SMALL_SIZE.  Sizes 1017..1024 take the second table
 * with an index that wraps to 0 (class 32, 1024 B) in size_t arithmetic,
 * exactly as in Go. */
static inline unsigned size_to_class(size_t size)
{
    if (size <= SMALL_SIZE_MAX - 8)
        return gchi_size_to_class8[(size + SMALL_SIZE_DIV - 1) / SMALL_SIZE_DIV];
    return gchi_size_to_class128[(size - SMALL_SIZE_MAX + LARGE_SIZE_DIV - 1) / LARGE_SIZE_DIV];
}

#endif
