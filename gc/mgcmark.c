/*
 * mgcmark.c - marking: grey objects, scanning by type, draining (the
 * roots: gc/markroot.c).  Go counterpart: runtime/mgcmark.go
 * (scanobject, greyobject, gcDrain) and mbitmap.go (findObject).
 * Invariants X2, X3: gc/mgc.h.
 * Overview: gc/mgc.c.
 *
 * Marking never recurses: a newly marked object of a scan span goes on
 * the gcwork queue and is scanned when drained, so a million-long list
 * needs a few work buffers, not a million stack frames.
 *
 * Mark, alloc and heap bits are read and set with the relaxed atomics of
 * alloc/mspan.h, and slots are loaded atomically, so that several markers
 * can run at once and alongside allocating and writing mutators.
 *
 * Invariant:
 *   MK1 a gcmarker's span cache (cached_start/len/span) is non-empty only
 *       inside one gcmarker_drain call, and then names a span that was in
 *       use with [cached_start, cached_start + cached_len) == [start,
 *       limit) when a lookup in that call found it.  The drain runs while
 *       spans are pinned (mheap.h H5: no span is freed while marking;
 *       gcstoptheworld's stopped mark pins them too, gc_set_phase), and
 *       a drain call finishes before mark termination: the owner is not
 *       stopped mid-call, mgcwork.h), so the span stays in use with the
 *       same layout for the whole call and a hit may skip the page map,
 *       the state and the limit checks.  The cache is emptied on entry and
 *       exit, so no entry survives into a later phase or cycle.  A fast
 *       drain's own cache (struct span_cache, in locals)
 *       holds an entry under the same terms and dies with the call, and
 *       so does gcmarker_shade_buf's, filled outside any drain: a
 *       buffer fills only while the barrier is on (mbarrier.c B1), the
 *       stopped flush at mark termination empties every buffer before
 *       gc_set_phase unpins the spans (B2), and a worker flushes a
 *       blocked thread's buffer only inside a handshake that mark
 *       termination waits for (HS1, MW4); asserted on entry.
 */
#define GCHI_BUILDING 1
#include "mgcmark.h"
#include "gcbase.h"
#include "heap.h"
#include "error.h"

/* scanned_object: the object holding slot, a slot of an object a fast
 * drain is scanning (which leaves m->scanning 0: one store per object
 * saved), found through the page map as marking_span does; 0 when slot
 * is in no span (a trace callback visiting memory outside its object),
 * so that the fatal report itself cannot fault. */
static uintptr_t scanned_object(const struct gcmarker *m, const void *slot)
{
    const struct mspan *s = arena_span_of(&m->h->mheap.index, (uintptr_t)slot);
    if (s == NULL || (uintptr_t)slot < s->start || (uintptr_t)slot >= s->limit)
        return 0; /* not a heap slot after all: report it as a root's */
    return s->start + (uintptr_t)span_object_index(s, (uintptr_t)slot) * s->elemsize;
}

/* bad_pointer: GODEBUG=invalidptr=1 found a reference into the heap that
 * points at no allocated object. */
static GCH_NOINLINE GCH_COLD void bad_pointer(const struct gcmarker *m, const char *why, uintptr_t p,
                                                 const void *slot, const struct mspan *s)
{
    uintptr_t obj = m->scanning;
    if (obj == 0 && m->draining && slot != NULL) /* inside a drain every slot is an object's */
        obj = scanned_object(m, slot);
    gch_fatalf("bad pointer in heap: %s: value %#lx in slot %p of %s %#lx (span %p); "
               "the object was freed or never allocated (set GODEBUG=invalidptr=0 to ignore)",
               why, (unsigned long)p, slot, obj ? "object" : "root", (unsigned long)obj,
               (const void *)s);
}

/* span_cache_fill: inside a drain, remember s, an in-use span (MK1). */
static inline void span_cache_fill(struct gcmarker *m, struct mspan *s)
{
    if (m->draining) {
        m->cached_start = s->start;
        m->cached_len = s->limit - s->start;
        m->cached_span = s;
    }
}

/* shade_lookup: the in-use span whose objects cover p, through the page
 * map, or NULL when p is outside the heap or points at no slot (reported
 * when GODEBUG=invalidptr=1).  Fills the span cache inside a drain (MK1). */
static GCH_NOINLINE struct mspan *shade_lookup(struct gcmarker *m, uintptr_t p, const void *slot)
{
    struct heaparena *a = arena_of(&m->h->mheap.index, p);
    if (a == NULL)
        return NULL; /* not this heap's address space */
    /* No span is freed while marking (H5), so an in-use span's fields
     * are stable; acquire pairs with the span's publication. */
    struct mspan *s = atomic_ptr_load_acquire(&a->spans[(p - a->base) >> PAGE_SHIFT]);
    if (s == NULL || atomic_u8_load_acquire(&s->state) != MSPAN_IN_USE) {
        if (m->invalidptr)
            bad_pointer(m, "points to a free page", p, slot, s);
        return NULL;
    }
    if (p >= s->limit) {
        if (m->invalidptr)
            bad_pointer(m, "points past the last object of its span", p, slot, s);
        return NULL;
    }
    span_cache_fill(m, s);
    return s;
}

/* map_bit: bit i of an alloc bitmap, read as part of its 64-bit word
 * when the machine is little-endian (the maps are whole words, so bit i
 * is bit i % 64 of word i / 64).  Acquire: pairs with the release that
 * publishes an alloc bit (span_commit_alloc_bits, malloc_large), after
 * the object's black mark. */
static GCH_ALWAYS_INLINE bool map_bit(const uint8_t *bits, uint32_t i)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (mem_u64_load_acquire((const uint64_t *)(const void *)bits + i / 64) >> (i % 64)) & 1;
#else
    return (mem_u8_load_acquire(&bits[i / 8]) >> (i % 8)) & 1;
#endif
}

/* grey: mark slot idx of s (start: s->start, which the caller may hold
 * in a register), which holds p (X3), and queue the object if it has
 * references, through the open cursor q if not NULL; its bytes are added
 * to *marked.  The common tail of every shade.  The mark is a plain byte
 * store (mspan.h MB1-MB3): a marker racing for the same object may mark
 * and queue it too.  Go counterpart: greyobject. */
static GCH_ALWAYS_INLINE void grey(struct gcmarker *m, struct mspan *s, uintptr_t start, uint32_t idx,
                                   uintptr_t p, const void *slot, uint64_t *marked, struct gcwork_cursor *q)
{
    uint8_t *mark = s->gcmarks + idx;
    if (mem_u8_load_relaxed(mark) != 0)
        return; /* marked already, or allocated black */
#if GCH_DEBUG >= 2
    if (GCH_UNLIKELY(atomic_uptr_load_relaxed(&m->h->gc.test_grey_target) == p))
        gc_test_hook(m->h, &m->h->gc.test_grey_hook); /* a test stalls here */
#endif
    if (!map_bit(s->alloc_bits, idx)) { /* exact by X2 */
        if (m->invalidptr)
            bad_pointer(m, "points to a free object", p, slot, s);
        return;
    }
    /* Allocated black since the first load: the allocator stores the
     * mark before it publishes the alloc bit (K5's colouring, then the
     * commit; malloc_large), so a set alloc bit shows the mark too.  The
     * object may still be under construction: it must not be counted,
     * queued or scanned. */
    if (mem_u8_load_relaxed(mark) != 0)
        return;
    mem_u8_store_relaxed(mark, 1); /* mark_store */
    *marked += s->elemsize;
    if (spanclass_noscan(s->spanclass))
        return;
    uintptr_t obj = start + (uintptr_t)idx * s->elemsize;
    if (!(q != NULL ? gcwork_cursor_put(&m->work, q, obj) : gcwork_put(&m->work, obj)))
        gch_fatal("out of memory for mark work buffers", p, (uintptr_t)s, 0);
}

/* shade: mark the object holding address p (X3), queueing it for
 * scanning if it has references.  Addresses outside the heap are ignored.
 * The general path (roots, barrier buffers, gccheckmark, the marker's
 * own span cache); a drain without gccheckmark uses shade_fast.  Go
 * counterpart: greyobject. */
static GCH_ALWAYS_INLINE void shade(struct gcmarker *m, uintptr_t p, const void *slot)
{
    if (m->decode != NULL && p != 0)
        p = (uintptr_t)m->decode(p);
    if (p == 0)
        return;
    struct mspan *s;
    if (p - m->cached_start < m->cached_len) {
        s = m->cached_span; /* MK1 */
    } else {
        s = shade_lookup(m, p, slot);
        if (s == NULL)
            return;
    }
    uint32_t idx = span_object_index(s, p); /* 0 in a large object's span: divmagic is 0 */
    if (GCH_UNLIKELY(m->checkmark != NULL)) {
        m->checkmark_shade(m, s, idx, slot);
        return;
    }
    grey(m, s, s->start, idx, p, slot, &m->marked, NULL);
}

/* struct span_cache: a fast drain's span cache, in locals (stores to
 * work buffers cannot alias them, and no call takes its address, so it
 * stays in registers).  [start, start + len) == [start, limit) of span,
 * an in-use span found by a lookup in this drain call (len 0: empty),
 * under MK1's terms.  The prefetch ring interleaves the objects of
 * several subtrees, so a scanned object's span is often not the last
 * one: it is read from the page map and becomes the cached span, which
 * then serves most of the object's own references. */
struct span_cache {
    uintptr_t start, len;
    struct mspan *span;
};

/* struct arena_window: the arena of a fast drain's last page-map lookup,
 * whose page map later lookups read directly (arenas live as long as the
 * heap): base is arena->base, or ARENA_NONE before the first lookup. */
struct arena_window {
    struct heaparena *arena;
    uintptr_t base;
};

/* ARENA_NONE: the base of a window that has no arena yet.  Values in the
 * last ARENA_SIZE bytes of the address space (say (void *)-1 in a
 * reference slot) lie within ARENA_SIZE of it, so window_misses tests
 * the arena too: such a value goes to the arena index, which knows no
 * arena there, like any address outside the heap. */
#define ARENA_NONE ((uintptr_t)0 - ARENA_SIZE)

/* window_misses: p does not lie in w's arena (or w has none): the page
 * map to read is found through the arena index. */
static GCH_ALWAYS_INLINE bool window_misses(const struct arena_window *w, uintptr_t p)
{
    return p - w->base >= ARENA_SIZE || w->arena == NULL;
}

/* window_move: point w at p's arena, found through the arena index;
 * false (w unchanged) when p lies in none of this heap's arenas. */
static GCH_ALWAYS_INLINE bool window_move(struct gcmarker *m, struct arena_window *w, uintptr_t p)
{
    struct heaparena *a = arena_of(&m->h->mheap.index, p);
    if (a == NULL)
        return false;
    w->arena = a;
    w->base = a->base;
    return true;
}

static GCH_ALWAYS_INLINE void cache_enter(struct span_cache *c, struct mspan *s)
{
    c->start = s->start;
    c->len = s->limit - s->start;
    c->span = s;
}

/* cache_span: the span covering p through the page map: shade_lookup's
 * answer, read from the page map of p's arena, which w then names (one
 * arena-index walk when p lies outside w's), when the entry is a plain
 * hit; anything else, including every bad pointer, goes through
 * shade_lookup.  NULL as shade_lookup. */
static GCH_NOINLINE struct mspan *cache_span(struct gcmarker *m, struct arena_window *w, uintptr_t p,
                                            const void *slot)
{
    if (window_misses(w, p) && !window_move(m, w, p))
        return NULL; /* not this heap's address space */
    /* Acquire pairs with the span's publication, as in shade_lookup. */
    struct mspan *s = atomic_ptr_load_acquire(&w->arena->spans[(p - w->base) >> PAGE_SHIFT]);
    if (s != NULL && atomic_u8_load_acquire(&s->state) == MSPAN_IN_USE && p < s->limit)
        return s;
    return shade_lookup(m, p, slot); /* NULL, after the report of a bad pointer */
}

/* grey_cached: grey p in s, the span of cache entry c (c->start ==
 * s->start: the index as span_object_index, one load fewer). */
static GCH_ALWAYS_INLINE void grey_cached(struct gcmarker *m, struct mspan *s, const struct span_cache *c,
                                          uintptr_t p, const void *slot, uint64_t *marked,
                                          struct gcwork_cursor *q)
{
    grey(m, s, c->start, (uint32_t)(((uint64_t)(p - c->start) * s->divmagic) >> 32), p, slot, marked, q);
}

/* decode_fn: a heap's tag decoder (gch_config.decode). */
typedef void *(*decode_fn)(uintptr_t);

/* Lookahead of a scan over an array of references (a pointer table's
 * oblet), whose targets lie anywhere in the heap: the span of the slot
 * SPAN_AHEAD words on is prefetched, and the mark byte and alloc bit of
 * the slot MARK_AHEAD words on, whose span has arrived by then, so that
 * the shade of each slot finds its three lines in cache instead of
 * missing on each in turn.  Prefetches only: the shade itself rereads
 * the slot and decides as before. */
#define SPAN_AHEAD 16
#define MARK_AHEAD 8

/* ahead_span: the span the page map records for p when p lies in w's
 * arena (moving w there through the arena index otherwise), or NULL.
 * Not checked (state, limit): a lookahead only prefetches through it;
 * ring_enter reads through it because its p is grey, so the span is in
 * use and pinned (H5, X3). */
static GCH_ALWAYS_INLINE struct mspan *ahead_span(struct gcmarker *m, struct arena_window *w, uintptr_t p)
{
    if (GCH_UNLIKELY(window_misses(w, p)) && (p == 0 || !window_move(m, w, p)))
        return NULL;
    /* Acquire pairs with the span's publication, as in shade_lookup. */
    return atomic_ptr_load_acquire(&w->arena->spans[(p - w->base) >> PAGE_SHIFT]);
}

/* prefetch_span_lines: start loading the fields of s (if not NULL) a
 * shade or a scan reads (two lines: start .. wordmask straddle them). */
static GCH_ALWAYS_INLINE void prefetch_span_lines(const struct mspan *s)
{
    __builtin_prefetch(s); /* NULL is harmless: a prefetch never faults */
    __builtin_prefetch((const void *)((uintptr_t)s + 64));
}

/* prefetch_span: prefetch_span_lines for the span the page map gives p. */
static GCH_ALWAYS_INLINE void prefetch_span(struct gcmarker *m, struct arena_window *w, uintptr_t p)
{
    prefetch_span_lines(ahead_span(m, w, p));
}

/* prefetch_typebits: start loading the heap-bitmap word of obj, a grey
 * object of s (not NULL), the word obj_bits reads first.  The address is
 * computed as an integer: typebits is NULL in some spans, and a
 * prefetch of a bad address never faults. */
static GCH_ALWAYS_INLINE void prefetch_typebits(const struct mspan *s, uintptr_t obj)
{
    __builtin_prefetch((const void *)((uintptr_t)s->typebits + (obj - s->start) / 8 / 64 * 8));
}

/* prefetch_mark: start loading p's mark byte and alloc-bit word, when p
 * lies in an in-use span (whose layout is then stable: H5, MK1). */
static GCH_ALWAYS_INLINE void prefetch_mark(struct gcmarker *m, struct arena_window *w, uintptr_t p)
{
    struct mspan *s = ahead_span(m, w, p);
    if (s == NULL || atomic_u8_load_acquire(&s->state) != MSPAN_IN_USE || p >= s->limit)
        return;
    uint32_t idx = span_object_index(s, p);
    __builtin_prefetch(s->gcmarks + idx);
    __builtin_prefetch(s->alloc_bits + idx / 8);
}

/* shade_miss: shade for a drain without gccheckmark: p, a decoded
 * address read from slot, through the span cache c and else the page
 * map (from the arena window w). */
static GCH_ALWAYS_INLINE void shade_miss(struct gcmarker *m, struct span_cache *c, struct arena_window *w,
                                         uintptr_t p, const void *slot, uint64_t *marked,
                                         struct gcwork_cursor *q)
{
    struct mspan *s = c->span;
    if (GCH_UNLIKELY(p - c->start >= c->len)) { /* else a hit (MK1), never NULL */
        s = cache_span(m, w, p, slot);
        if (s == NULL)
            return;
        cache_enter(c, s);
    }
    grey_cached(m, s, c, p, slot, marked, q);
}

/* SHADE_AHEAD: references a fast drain holds before it greys them when
 * they miss its span cache (a power of two).  Such a reference points
 * anywhere in the heap: its span is prefetched when it is queued, its
 * mark byte and alloc bit SHADE_AHEAD / 2 queued references later, and
 * it is greyed SHADE_AHEAD / 2 after that, so the three misses of a
 * shade overlap those of its neighbours instead of following each other
 * (churn's leaves, each in another span than its head). */
#define SHADE_AHEAD 8

/* struct shade_queue: a fast drain's held references (in locals):
 * entries [head, tail) of p (decoded, not 0) and slot, indexed modulo
 * SHADE_AHEAD.  Not grey yet: every exit from the drain greys them first. */
struct shade_queue {
    uintptr_t p[SHADE_AHEAD];
    const void *slot[SHADE_AHEAD];
    size_t head, tail;
};

/* shade_queue_grey_oldest: take the oldest held reference (sq not
 * empty) and grey it. */
static GCH_ALWAYS_INLINE void shade_queue_grey_oldest(struct gcmarker *m, struct shade_queue *sq,
                                                      struct span_cache *c, struct arena_window *w,
                                                      uint64_t *marked, struct gcwork_cursor *q)
{
    size_t k = sq->head++ % SHADE_AHEAD;
    shade_miss(m, c, w, sq->p[k], sq->slot[k], marked, q);
}

/* shade_queue_flush: grey every held reference, oldest first. */
static GCH_ALWAYS_INLINE void shade_queue_flush(struct gcmarker *m, struct shade_queue *sq, struct span_cache *c,
                                                struct arena_window *w, uint64_t *marked, struct gcwork_cursor *q)
{
    while (sq->head != sq->tail)
        shade_queue_grey_oldest(m, sq, c, w, marked, q);
}

/* shade_fast: shade for a drain without gccheckmark: the word p read from
 * slot, decoded first when decode (the heap's decoder) is not NULL.  A
 * hit in the span cache is greyed at once; a miss goes through sq.  One
 * drain serves both kinds of heap: the test costs a plain heap about 1
 * instruction per node (bench_mark_ir), and a copy of the drain per kind
 * came out slower for both (the register allocation of the copies). */
static GCH_ALWAYS_INLINE void shade_fast(struct gcmarker *m, struct span_cache *c, struct arena_window *w,
                                         uintptr_t p, const void *slot, uint64_t *marked,
                                         struct gcwork_cursor *q, decode_fn decode, struct shade_queue *sq)
{
    if (p == 0)
        return;
    if (GCH_UNLIKELY(decode != NULL) && (p = (uintptr_t)decode(p)) == 0)
        return;
    if (GCH_LIKELY(p - c->start < c->len)) {
        grey_cached(m, c->span, c, p, slot, marked, q); /* MK1 */
        return;
    }
    if (sq->tail - sq->head == SHADE_AHEAD) /* full: grey the oldest */
        shade_queue_grey_oldest(m, sq, c, w, marked, q);
    prefetch_span(m, w, p);
    size_t k = sq->tail++ % SHADE_AHEAD;
    sq->p[k] = p;
    sq->slot[k] = slot;
    if (sq->tail - sq->head > SHADE_AHEAD / 2)
        prefetch_mark(m, w, sq->p[(sq->tail - 1 - SHADE_AHEAD / 2) % SHADE_AHEAD]);
}

void gcmarker_shade(struct gcmarker *m, uintptr_t p, const void *slot) { shade(m, p, slot); }

/* Ways of gcmarker_shade_buf's span cache.  A barrier buffer holds, per
 * store, the value overwritten (anywhere in the heap) and the value
 * stored (often just allocated, from one of the few spans the thread's
 * cache holds): churn's three entries per replacement (leaf, old head,
 * new head) hit 2 ways and miss once. */
#define SHADE_BUF_WAYS 4

/* struct shade_buf_cache: gcmarker_shade_buf's span cache, in locals:
 * way[k] as struct span_cache (len 0: empty) under MK1's terms for the
 * one call that owns it (spans are pinned while anything marks).  A miss
 * replaces the first way from `hand` on not used since the hand last
 * passed it (the clock rule), so the spans that keep hitting stay while
 * the overwritten values' spans come and go in the others. */
struct shade_buf_cache {
    struct span_cache way[SHADE_BUF_WAYS];
    bool used[SHADE_BUF_WAYS];
    unsigned hand;
};

/* shade_buf_span: the way of c covering p, else p's span through the
 * page map (cache_span, with w) entered in a way; NULL as shade_lookup. */
static GCH_ALWAYS_INLINE struct span_cache *shade_buf_span(struct gcmarker *m, struct shade_buf_cache *c,
                                                           struct arena_window *w, uintptr_t p)
{
    for (unsigned k = 0; k < SHADE_BUF_WAYS; k++) {
        if (p - c->way[k].start < c->way[k].len) {
            c->used[k] = true;
            return &c->way[k];
        }
    }
    struct mspan *s = cache_span(m, w, p, NULL);
    if (s == NULL)
        return NULL;
    unsigned h = c->hand;
    while (c->used[h]) {
        c->used[h] = false;
        h = (h + 1) % SHADE_BUF_WAYS;
    }
    cache_enter(&c->way[h], s);
    c->hand = (h + 1) % SHADE_BUF_WAYS;
    return &c->way[h];
}

void gcmarker_shade_buf(struct gcmarker *m, const uintptr_t *v, size_t n)
{
    /* Every buffer is empty before gccheckmark runs, and its marker
     * flushes none: the checkmark bits are never set from here. */
    GCH_ASSERT_INTERNAL(m->checkmark == NULL);
    GCH_ASSERT(n == 0 || mheap_spans_pinned(&m->h->mheap)); /* MK1 */
    decode_fn decode = m->decode;
    struct shade_buf_cache c = {0};
    struct arena_window w = {NULL, ARENA_NONE};
    uint64_t marked = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t p = v[i];
        if (decode != NULL && p != 0)
            p = (uintptr_t)decode(p);
        if (p == 0)
            continue;
        struct span_cache *e = shade_buf_span(m, &c, &w, p);
        if (e == NULL)
            continue;
        grey_cached(m, e->span, e, p, NULL, &marked, NULL);
    }
    m->marked += marked;
}

void gcmarker_shade_raw(struct gcmarker *m, uintptr_t p)
{
    void *(*decode)(uintptr_t) = m->decode;
    m->decode = NULL; /* the marker is its owner's alone */
    shade(m, p, NULL);
    m->decode = decode;
}

static void visit_slot(struct gch_visitor *v, void *const *slot)
{
    /* Heap and global slots may be written meanwhile through gch_write.
     * Acquire pairs with its release store: an object allocated black
     * and then stored is seen with its mark bit set (else invalidptr
     * would take it for a free slot). */
    shade((struct gcmarker *)v, slot_load_acquire(slot), slot);
}

/* scan_refs: shade the references in [slot, end) (an array of them:
 * a pointer table's oblet) for a drain without gccheckmark on a heap
 * without a decoder, with the lookahead above and a span cache and arena
 * window of its own, in locals: MK1's terms, for this call (it runs
 * inside a drain call, while spans are pinned).  Greys through m->work
 * (the drain's cursor is closed). */
static GCH_NOINLINE void scan_refs(struct gcmarker *m, void *const *slot, void *const *end)
{
    struct span_cache c = {0, 0, NULL};
    struct arena_window aw = {NULL, ARENA_NONE};
    uint64_t marked = 0;
    for (; slot < end; slot++) {
        if (GCH_LIKELY(end - slot > SPAN_AHEAD))
            prefetch_span(m, &aw, slot_load_relaxed(slot + SPAN_AHEAD));
        if (GCH_LIKELY(end - slot > MARK_AHEAD))
            prefetch_mark(m, &aw, slot_load_relaxed(slot + MARK_AHEAD));
        uintptr_t p = slot_load_acquire(slot); /* acquire: see visit_slot */
        if (p != 0)
            shade_miss(m, &c, &aw, p, slot, &marked, NULL);
    }
    m->marked += marked;
}

/* scan_typed_range: the part [off, off + len) of an object of `size`
 * bytes made of elements of type ty: the elements of a trace callback
 * type that start in it, or the words of whole elements in it whose mask
 * bit is set.  `size` is what the object was allocated with (Y3), so no
 * element past those asked for is visited (gcheap.h, gch_trace_fn).
 * Each reference is reported by exactly one of the parts that tile the
 * object. */
static void scan_typed_range(struct gcmarker *m, uintptr_t obj, size_t size, const gch_type *ty, size_t off,
                             size_t len)
{
    size_t elem = ty->size, end = off + len;
    if (ty->trace != NULL) {
        size_t count = size / elem ? size / elem : 1;
        for (size_t e = (off + elem - 1) / elem; e < count && e * elem < end; e++)
            ty->trace(&m->v, (void *)(obj + e * elem), elem);
        return;
    }
    size_t ewords = elem / 8, count = elem % 8 == 0 ? size / elem : 1;
    if (ewords == 0)
        return; /* an element smaller than a word holds no aligned reference */
    size_t w = off / 8, wend = end / 8 < count * ewords ? end / 8 : count * ewords;
    size_t ew = w % ewords; /* the word's place in its element, stepped without division */
    if (ewords == 1 && (ty->ptrmask[0] & 1) && m->v.visit == visit_slot) {
        /* An array of references (a VM's vector, a pointer table): every
         * word shaded directly, as scan_bits does, without the visitor's
         * indirect call per word (not gccheckmark's path finder). */
        if (GCH_LIKELY(m->draining && m->decode == NULL && m->checkmark == NULL)) {
            scan_refs(m, (void *const *)(obj + w * 8), (void *const *)(obj + wend * 8));
            return;
        }
        for (; w < wend; w++) {
            void *const *slot = (void *const *)(obj + w * 8);
            shade(m, slot_load_acquire(slot), slot); /* acquire: see visit_slot */
        }
        return;
    }
    for (; w < wend; w++) {
        if ((ty->ptrmask[ew / 8] >> (ew % 8)) & 1)
            gch_visit(&m->v, (void *const *)(obj + w * 8));
        if (++ew == ewords)
            ew = 0;
    }
}

/* scan_typed: the whole object (scan_typed_range over all of it). */
static void scan_typed(struct gcmarker *m, uintptr_t obj, size_t size, const gch_type *ty)
{
    scan_typed_range(m, obj, size, ty, 0, size);
}

/* obj_bits: the heap-bitmap bits of the object at obj in a heap-bitmap
 * span, bit k for its word k: its (at most 64) word bits gathered into
 * one mask, without branches.  The span is one page (struct
 * span_typebits), so an object that straddles two bitmap words never
 * starts in the last one: the index of the second word wraps there, and
 * the bits it brings in lie past the object and are masked off.  The two
 * words are shifted as one 128-bit value (x86-64: one shrd, which also
 * gives the right answer for a shift of 0), and the span's wordmask
 * keeps the object's n words. */
static GCH_ALWAYS_INLINE uint64_t obj_bits(const struct mspan *s, uintptr_t start, uintptr_t obj)
{
    enum { NWORDS = sizeof(s->typebits->words) / sizeof(s->typebits->words[0]) };
    _Static_assert((NWORDS & (NWORDS - 1)) == 0, "the index wrap needs a power of two");
    _Static_assert(HEAPBITS_MAX_SIZE <= 64 * 8, "an object's word bits fit one mask");
    size_t w0 = (obj - start) / 8, i = w0 / 64; /* start: s->start */
    const uint64_t *words = s->typebits->words;
    uint64_t lo = word_load(&words[i]), hi = word_load(&words[(i + 1) % NWORDS]);
#ifdef __SIZEOF_INT128__
    uint64_t bits = (uint64_t)(((unsigned __int128)hi << 64 | lo) >> (w0 % 64));
#else /* (hi << 1) << (63 - sh) is hi << (64 - sh), and 0 when sh == 0 */
    uint64_t bits = (lo >> (w0 % 64)) | ((hi << 1) << (63 - w0 % 64));
#endif
    return bits & s->wordmask; /* its n words: 1 <= n <= 64 */
}

/* scan_bits: the references of the object at obj in a heap-bitmap span,
 * each set bit's slot shaded directly (the visitor's indirect call is for
 * trace callbacks and gccheckmark's path finder). */
static GCH_ALWAYS_INLINE void scan_bits(struct gcmarker *m, const struct mspan *s, uintptr_t obj)
{
    uint64_t bits = obj_bits(s, s->start, obj);
    bool direct = m->v.visit == visit_slot; /* not gccheckmark's path finder */
    while (bits != 0) {
        void *const *slot = (void *const *)(obj + 8 * (size_t)__builtin_ctzll(bits));
        bits &= bits - 1;
        if (GCH_LIKELY(direct))
            shade(m, slot_load_acquire(slot), slot); /* acquire: see visit_slot */
        else
            gch_visit(&m->v, slot);
    }
}

/* marking_span: the span of an object being scanned.  While anything
 * marks, no span is freed (H5, or the world is stopped), so the arena
 * entry is current and needs no seqlock check. */
static inline struct mspan *marking_span(struct gcmarker *m, uintptr_t obj)
{
    if (obj - m->cached_start < m->cached_len)
        return m->cached_span; /* MK1 */
    struct mspan *s = arena_span_of(&m->h->mheap.index, obj);
    span_cache_fill(m, s);
    return s;
}

/* span_cache_reset: empty the span cache and set whether it may fill (MK1). */
static inline void span_cache_reset(struct gcmarker *m, bool draining)
{
    m->draining = draining;
    m->cached_start = 0;
    m->cached_len = 0;
    m->cached_span = NULL;
}

/* scan_in_span: scan obj, an allocated object of span s (mspan.h Y1,
 * Y2).  Go counterpart: scanobject. */
static GCH_ALWAYS_INLINE void scan_in_span(struct gcmarker *m, const struct mspan *s, uintptr_t obj)
{
    m->scanning = obj;
    if (GCH_LIKELY(s->typebits != NULL && !span_typebits_has_header(s, obj))) {
        scan_bits(m, s, obj); /* the common case: small masked objects */
    } else if (spanclass_sizeclass(s->spanclass) == 0) {
        if (s->largetype != NULL)
            scan_typed(m, obj, s->largesize, s->largetype);
    } else { /* a header: trace-callback types, or slots over HEAPBITS_MAX_SIZE */
        uintptr_t word = header_load(s, obj);
        scan_typed(m, obj, header_object_size(s, obj, word), header_type(word));
    }
    m->scanning = 0;
}

void gcmarker_scan_object(struct gcmarker *m, uintptr_t obj) { scan_in_span(m, marking_span(m, obj), obj); }

/* scan_oblet: a large object is scanned in oblets of GC_OBLET_BYTES (Go's
 * maxObletBytes), so that no marker, assist or stop waits on one object
 * for long: the queue entry for its start (what shade queues) queues
 * every later oblet's address, and an entry b scans [b, b + oblet).
 * Returns the bytes covered.  Only for spans with a type to split. */
static size_t scan_oblet(struct gcmarker *m, const struct mspan *s, uintptr_t b)
{
    size_t off = b - s->start, size = s->largesize; /* Y3: not the slack after it */
    if (off == 0)
        for (size_t o = GC_OBLET_BYTES; o < size; o += GC_OBLET_BYTES)
            if (!gcwork_put(&m->work, s->start + o))
                gch_fatal("out of memory for mark work buffers", b, (uintptr_t)s, 0);
    size_t len = size - off < GC_OBLET_BYTES ? size - off : GC_OBLET_BYTES;
    m->scanning = s->start;
    scan_typed_range(m, s->start, size, s->largetype, off, len);
    m->scanning = 0;
    return len;
}

/* splits: s holds one large object scanned in oblets (its type is a mask
 * or an array of callback elements; one callback element cannot split). */
static inline bool splits(const struct mspan *s)
{
    const gch_type *ty = s->largetype;
    return spanclass_sizeclass(s->spanclass) == 0 && s->largesize > GC_OBLET_BYTES && ty != NULL &&
           (ty->trace == NULL || s->largesize / ty->size > 1);
}

void gcmarker_init(struct gcmarker *m, struct gch_heap *h)
{
    m->v.visit = visit_slot;
    m->v.slots = 0;
    gcwork_init(&m->work, &h->gc.workbufs);
    m->h = h;
    m->decode = h->decode;
    m->invalidptr = h->env.debug.invalidptr != 0;
    m->scanning = 0;
    m->marked = 0;
    m->checkmark = NULL;
    m->checkmark_shade = NULL;
    span_cache_reset(m, false);
}

/* Grey objects a fast drain holds between taking them from its queue
 * (and prefetching them) and scanning them: the scan of one object
 * overlaps the cache misses of the next PREFETCH_RING - 1 (Boehm's
 * mark_from prefetches a few candidates ahead in the same spirit).
 * bench_markscale, 48 MiB of 24-byte nodes: mark CPU about 57 ms with a
 * prefetch of each object as it was queued (LIFO, so scanned at once),
 * 50 with a ring of 4, 47 with 8, 50 with 16. */
#define PREFETCH_RING 8

/* scan_other: scan_fast's path for an object that is not masked (a
 * header, a large object: scan_in_span, or an oblet), called with the
 * cursor closed, since these shade through m->work.  Returns the work
 * done beyond the slot scan_fast counted (an oblet's bytes less the
 * slot's).  Out of line, so that the masked objects' loop keeps its
 * registers (bench_mark_ir). */
static GCH_NOINLINE int64_t scan_other(struct gcmarker *m, const struct mspan *s, uintptr_t obj)
{
    if (GCH_UNLIKELY(splits(s)))
        return (int64_t)scan_oblet(m, s, obj) - (int64_t)s->elemsize; /* an oblet, not the slot */
    scan_in_span(m, s, obj);
    return 0;
}

/* scan_fast: scan obj, a grey object of s (read from the page map: an
 * in-use span, H5), for drain_fast, whose span cache, arena window, shade
 * queue, marked bytes, open cursor, decoder (or NULL) and budget left are
 * c, w, sq, *marked, q, decode and *left; s becomes c's entry (MK1: a
 * lookup in this drain found it).  The bytes of work done
 * (the slot, or an oblet) come off *left (first, so the slot size need
 * not be kept across the scan).  An object of a heap-bitmap span is
 * scanned inline with shade_fast; anything else goes through
 * scan_in_span (or scan_oblet) and the marker's own cache (MK1), with
 * the cursor closed. */
static GCH_ALWAYS_INLINE void scan_fast(struct gcmarker *m, struct span_cache *c, struct arena_window *w,
                                        struct shade_queue *sq, uintptr_t obj, struct mspan *s,
                                        uint64_t *marked, struct gcwork_cursor *q, decode_fn decode,
                                        int64_t *left)
{
    cache_enter(c, s);
    *left -= (int64_t)s->elemsize;
    uint64_t bits;
    /* A headered slot's word bits are clear (Y1), so an object with
     * word bits is masked and its header bit needs no test. */
    if (GCH_LIKELY(s->typebits != NULL && (bits = obj_bits(s, c->start, obj)) != 0)) {
        do {
            void *const *slot = (void *const *)(obj + 8 * (size_t)(unsigned)__builtin_ctzll(bits));
            shade_fast(m, c, w, slot_load_acquire(slot), slot, marked, q, decode, sq); /* acquire: see visit_slot */
        } while ((bits &= bits - 1) != 0);
    } else if (s->typebits == NULL || span_typebits_has_header(s, obj)) { /* else no reference */
        gcwork_cursor_close(&m->work, q); /* these shade through m->work */
        *left -= scan_other(m, s, obj);
        gcwork_cursor_open(&m->work, q);
    }
}

/* ring_enter: obj, a grey object, enters drain_fast's prefetch ring:
 * prefetch it and its span's lines, and return the span (from w's page
 * map: in use while anything marks, H5, and not NULL, X3). */
static GCH_ALWAYS_INLINE struct mspan *ring_enter(struct gcmarker *m, struct arena_window *w, uintptr_t obj)
{
    __builtin_prefetch((const void *)obj);
    struct mspan *s = ahead_span(m, w, obj);
    GCH_ASSERT_INTERNAL(s != NULL && obj - s->start < s->npages * PAGE_SIZE);
    prefetch_span_lines(s);
    return s;
}

/* drain_fast: gcmarker_drain's loop for a marker without gccheckmark
 * and with the plain visitor, the state of every background worker and
 * assist, with or without a decoder: the span cache, arena window, shade
 * queue, marked bytes, work cursor and decoder live in locals, and
 * objects pass through the prefetch ring (with their spans, prefetched
 * on entry, and their heap-bitmap words, halfway) before scan_fast scans
 * them.  The ring's objects are grey and counted by no queue, so every
 * exit puts them back (G6), and the shade queue's references, found in
 * objects already scanned, are greyed first: nothing outside a drain
 * call ever sees them missing (X4). */
static int64_t drain_fast(struct gcmarker *m, int64_t budget)
{
    decode_fn decode = m->decode;
    struct span_cache c = {0, 0, NULL};
    struct arena_window w = {NULL, ARENA_NONE};
    struct gcwork_cursor q;
    struct shade_queue sq = {.head = 0, .tail = 0};
    const struct workbuf_pool *pool = m->work.pool;
    uintptr_t ring[PREFETCH_RING]; /* held objects: ring[(at + k) % PREFETCH_RING], k < held */
    struct mspan *spans[PREFETCH_RING]; /* their spans, from the page map */
    size_t at = 0, held = 0;
    uint64_t marked = 0;
    int64_t left = budget;
    gcwork_cursor_open(&m->work, &q);
    while (left > 0) {
        /* Swap the next queued object (prefetched) for the oldest one
         * held; while the ring fills, only hold it; with the queue empty,
         * scan the oldest held (a list's objects pass straight through). */
        uintptr_t obj, next = gcwork_cursor_tryget(&m->work, &q);
        struct mspan *s;
        if (GCH_LIKELY(next != 0)) {
            struct mspan *ns = ring_enter(m, &w, next);
            if (held < PREFETCH_RING) {
                size_t k = (at + held++) % PREFETCH_RING;
                ring[k] = next;
                spans[k] = ns;
                continue;
            }
            obj = ring[at];
            s = spans[at];
            ring[at] = next;
            spans[at] = ns;
        } else {
            if (held == 0 && sq.head == sq.tail)
                break;
            if (held == 0) { /* the held references may hold more work */
                shade_queue_flush(m, &sq, &c, &w, &marked, &q);
                continue;
            }
            held--;
            obj = ring[at];
            s = spans[at];
        }
        if (held > PREFETCH_RING / 2) /* halfway: its span has arrived, fetch its word bits */
            prefetch_typebits(spans[(at + PREFETCH_RING / 2) % PREFETCH_RING], ring[(at + PREFETCH_RING / 2) % PREFETCH_RING]);
        at = (at + 1) % PREFETCH_RING;
        scan_fast(m, &c, &w, &sq, obj, s, &marked, &q, decode, &left);
        /* Keep idle markers fed (looked at once per PREFETCH_RING objects). */
        if (at == 0 && !workbuf_pool_has_work(pool)) {
            gcwork_cursor_close(&m->work, &q);
            gcwork_balance(&m->work);
            gcwork_cursor_open(&m->work, &q);
        }
    }
    shade_queue_flush(m, &sq, &c, &w, &marked, &q); /* before the ring: they may queue work */
    gcwork_cursor_close(&m->work, &q);
    for (; held > 0; held--, at = (at + 1) % PREFETCH_RING) /* grey objects go back (G6) */
        if (!gcwork_put(&m->work, ring[at]))
            gch_fatal("out of memory for mark work buffers", ring[at], 0, 0);
    m->scanning = 0;
    m->marked += marked;
    return budget - left;
}

/* drain_general: gcmarker_drain's loop for every other marker. */
static int64_t drain_general(struct gcmarker *m, int64_t budget)
{
    int64_t done = 0;
    uintptr_t obj;
    while (done < budget && (obj = gcwork_tryget(&m->work)) != 0) {
        const struct mspan *s = marking_span(m, obj);
        if (GCH_UNLIKELY(splits(s))) {
            done += (int64_t)scan_oblet(m, s, obj);
        } else {
            scan_in_span(m, s, obj);
            done += (int64_t)s->elemsize;
        }
        if (!workbuf_pool_has_work(m->work.pool))
            gcwork_balance(&m->work);
    }
    return done;
}

int64_t gcmarker_drain(struct gcmarker *m, int64_t budget)
{
    if (budget < 0)
        budget = INT64_MAX;
    gchi_scan_enter();
    span_cache_reset(m, true);
    int64_t done;
    if (m->checkmark != NULL || m->v.visit != visit_slot)
        done = drain_general(m, budget);
    else
        done = drain_fast(m, budget);
    span_cache_reset(m, false);
    gchi_scan_leave();
    if (m->checkmark == NULL && done > 0)
        atomic_u64_add_relaxed(&m->h->gc.pacer.heap_scan_work, (uint64_t)done);
    return done;
}

void gcmarker_flush(struct gcmarker *m)
{
    gcwork_dispose(&m->work);
    if (m->marked != 0) {
        atomic_u64_add_relaxed(&m->h->gc.marked_bytes, m->marked);
        m->marked = 0;
    }
}
