/*
 * gcheap/config.h - compile-time knobs.
 *
 * Each knob has a default here and a CMake cache variable of the same name
 * that overrides it (CMakeLists.txt passes -DGCH_X=value).  Impossible
 * combinations stop the build with #error.
 */
#ifndef GCHEAP_CONFIG_H
#define GCHEAP_CONFIG_H

/* GCH_DEBUG: assertion level compiled in.
 *   0: none (only gch_fatal for states that would corrupt the heap);
 *   1: cheap checks of API misuse (GCH_ASSERT);
 *   2: internal invariants (GCH_ASSERT_INTERNAL), lock-rank checking;
 *   3: O(n) structure walks (GCH_ASSERT_EXPENSIVE). */
#ifndef GCH_DEBUG
#define GCH_DEBUG 1
#endif

#if GCH_DEBUG < 0 || GCH_DEBUG > 3
#error "GCH_DEBUG must be 0, 1, 2 or 3"
#endif

#endif /* GCHEAP_CONFIG_H */
