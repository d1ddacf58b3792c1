/*
 * heap.c - gchlisp's glue to gcheap: everything the interpreter tells the
 * heap, in one place.
 *
 *   - the tag decoder (gch_config.decode): a word whose low two bits are
 *     00 holds an address (tag 000: an object, tag 100: a pair), any
 *     other word holds none (lisp.h lists the tags);
 *   - the object types: pointer masks for fixed layouts (pairs,
 *     closures, nodes, symbols, hash tables, thread objects), a one-word
 *     element type for vectors (gch_alloc_array), noscan strings and
 *     bytevectors, and a trace callback for environment frames, whose
 *     live slot count is in their header (one type per size step);
 *   - each thread's value stack, reported by a thread scanner;
 *   - the symbol table, weak: a heap scanner reports its gch_weak
 *     handles and only the symbols that have a global value;
 *   - allocation that turns a NULL from gcheap into a Scheme error.
 *
 * Invariants: V1-V3 (lisp.h).  ST1 a symbol is in the table's current
 * array at most once; ST2 the scanner needs no lock: every slot of the
 * current and retired arrays holds NULL, a handle or a symbol; ST3 a
 * symbol with a global value is held strongly (symtab_bind).
 */
#include "lisp.h"

#include <stdlib.h>
#include <string.h>

/* ---- types ----------------------------------------------------------- */

static const uint8_t pair_mask[] = {0x3};
static const uint8_t closure_mask[] = {0x6};
static const uint8_t node_mask[] = {0xe};
static const uint8_t word_mask[] = {0x1};

static const gch_type pair_type = {"pair", sizeof(struct lpair), pair_mask, NULL};
const gch_type closure_type = {"closure", sizeof(struct lclosure), closure_mask, NULL};
static const gch_type node_type = {"node", sizeof(struct lnode), node_mask, NULL};
const gch_type symbol_type = {"symbol", sizeof(struct lsymbol), closure_mask, NULL};
const gch_type hash_type = {"hash-table", sizeof(struct lhash), closure_mask, NULL};
const gch_type thread_type = {"thread", sizeof(struct lthreadobj), closure_mask, NULL};
/* A vector is an array of these: every word a value (its header too:
 * headers are immediates, V3). */
static const gch_type word_type = {"vector-word", sizeof(void *), word_mask, NULL};

/* frame_trace: report a frame's parent and its live slots.  The count
 * sits in the header, so frames of several sizes share a type of the
 * next size step, and the all-zero tail element gcheap may pass (gcheap.h)
 * has count 0. */
static void frame_trace(gch_visitor *v, void *obj, size_t size)
{
    struct lframe *f = obj;
    size_t n = (size_t)HDR_AUX(f->hdr);
    size_t room = size / sizeof(void *) - 2;
    if (n > room)
        n = room;
    gch_visit(v, &f->parent);
    for (size_t i = 0; i < n; i++)
        gch_visit(v, &f->slots[i]);
}

#if GCHLISP_FRAMES_BY_MASK
/* For comparison (scripts/bench_lisp.sh): frames described by a mask
 * instead, every word but the header (unused slots are zero). */
static const uint8_t frame_mask[33] = {
    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
#define FRAME_TYPE(n) {"frame", sizeof(struct lframe) + (n) * sizeof(void *), frame_mask, NULL}
#else
#define FRAME_TYPE(n) {"frame", sizeof(struct lframe) + (n) * sizeof(void *), NULL, frame_trace}
#endif
static const size_t frame_steps[] = {0, 1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 128, 256};
static const gch_type frame_types[] = {
    FRAME_TYPE(0), FRAME_TYPE(1), FRAME_TYPE(2), FRAME_TYPE(3), FRAME_TYPE(4),
    FRAME_TYPE(6), FRAME_TYPE(8), FRAME_TYPE(12), FRAME_TYPE(16), FRAME_TYPE(32),
    FRAME_TYPE(64), FRAME_TYPE(128), FRAME_TYPE(256)};

/* decode: the heap address a tagged word holds, or NULL. */
static void *decode(uintptr_t w)
{
    if ((w & 3u) != 0)
        return NULL;
    return (void *)(w & ~(uintptr_t)TAG_MASK);
}

/* ---- allocation ------------------------------------------------------ */

/* alloc_failed: a NULL from gcheap becomes a Scheme error (the
 * interpreter goes on; the heap is unchanged, gcheap.h). */
static _Noreturn void alloc_failed(struct vm *vm, const char *what)
{
    gch_error e = gch_last_error();
    if (e == GCH_ENOMEM)
        vm_error(vm, "out of memory allocating %s", what);
    vm_error(vm, "cannot allocate %s: %s", what, gch_last_error_message());
}

/* ALLOC: evaluate the allocation expr; NULL becomes a Scheme error.  At
 * heap_limit gcheap collects before it fails (our roots are all on the
 * value stack), so a failure here means live data fills the heap. */
#define ALLOC(vm, expr, what)                                   \
    ({                                                          \
        void *p_ = (expr);                                      \
        if (p_ == NULL)                                         \
            alloc_failed((vm), (what));                         \
        p_;                                                     \
    })

val mk_obj(struct vm *vm, const gch_type *ty, enum otype ot, uintptr_t aux)
{
    uintptr_t *o = ALLOC(vm, gch_alloc(vm->t, ty), ty->name);
    *o = MK_HDR(ot, aux); /* not a reference: a plain store (the object is unpublished) */
    return (val)o;
}

/* vm_alloc_noscan: size bytes without references.  gcheap returns every
 * object 8-byte aligned, so the three low bits stay free for tags. */
void *vm_alloc_noscan(struct vm *vm, size_t size)
{
    return ALLOC(vm, gch_alloc_noscan(vm->t, size), "bytes");
}

val mk_pair(struct vm *vm, val a, val d)
{
    vm_push(vm, a);
    vm_push(vm, d);
    struct lpair *p = ALLOC(vm, gch_alloc(vm->t, &pair_type), "pair");
    vm->sp -= 2;
    vm_set(vm, &p->car, a);
    vm_set(vm, &p->cdr, d);
    return (val)p | TAG_PAIR;
}

val mk_string(struct vm *vm, const char *s, size_t len)
{
    if (len >= ((size_t)1 << 40))
        vm_error(vm, "string too long");
    struct lstring *o = vm_alloc_noscan(vm, sizeof *o + len + 1);
    o->hdr = MK_HDR(OT_STRING, len);
    if (s != NULL)
        memcpy(o->data, s, len);
    o->data[len] = 0;
    return (val)o;
}

val mk_bytes(struct vm *vm, size_t n)
{
    if (n >= ((size_t)1 << 40))
        vm_error(vm, "bytevector too long");
    struct lbytes *o = vm_alloc_noscan(vm, sizeof *o + n);
    o->hdr = MK_HDR(OT_BYTEVECTOR, n);
    return (val)o;
}

val mk_vector(struct vm *vm, size_t n, val fill)
{
    if (n >= ((size_t)1 << 40))
        vm_error(vm, "vector too long");
    vm_push(vm, fill);
    struct lvector *o = ALLOC(vm, gch_alloc_array(vm->t, &word_type, n + 1), "vector");
    vm->sp--;
    o->hdr = MK_HDR(OT_VECTOR, n);
    if (fill != V_NONE)
        for (size_t i = 0; i < n; i++)
            vm_set(vm, &o->items[i], fill);
    return (val)o;
}

val mk_node(struct vm *vm, enum node_kind k, long line, val a, val b, val c)
{
    vm_push(vm, a);
    vm_push(vm, b);
    vm_push(vm, c);
    struct lnode *n = (void *)mk_obj(vm, &node_type, OT_NODE, ((uintptr_t)line << 8) | k);
    vm->sp -= 3;
    vm_set(vm, &n->a, a);
    vm_set(vm, &n->b, b);
    vm_set(vm, &n->c, c);
    return (val)n;
}

/* mk_frame: an environment frame of n slots (all V_NONE) under parent. */
val mk_frame(struct vm *vm, size_t n, val parent)
{
    size_t i = 0;
    while (frame_steps[i] < n)
        i++; /* n <= MAX_FRAME_SLOTS < 256, the last step */
    vm_push(vm, parent);
    struct lframe *f = (void *)mk_obj(vm, &frame_types[i], OT_FRAME, n);
    vm->sp--;
    vm_set(vm, &f->parent, parent);
    return (val)f;
}

/* ---- value stack ----------------------------------------------------- */

/* stack_scan: thread scanner.  Runs on the owner at a safepoint, or on a
 * mark worker while the owner blocks: either way sp is still. */
static void stack_scan(gch_visitor *v, void *ctx)
{
    struct vm *vm = ctx;
    for (size_t i = 0; i < vm->sp; i++)
        gch_visit(v, (void *const *)&vm->stack[i]);
}

void vm_stack_overflow(struct vm *vm)
{
    vm_error(vm, "value stack overflow (%zu values)", vm->cap);
}

#define VM_STACK_VALUES ((size_t)1 << 20)

/* vm_init: attach the calling OS thread to I's heap and give it a value
 * stack; c_stack_size bounds the C stack the evaluator may use. */
bool vm_init(struct vm *vm, struct interp *I, size_t c_stack_size)
{
    memset(vm, 0, sizeof *vm);
    vm->I = I;
    vm->cap = VM_STACK_VALUES;
    vm->stack = calloc(vm->cap, sizeof(val)); /* large: mapped lazily */
    if (vm->stack == NULL)
        return false;
    vm->t = gch_thread_attach(I->heap);
    if (vm->t == NULL) {
        free(vm->stack);
        return false;
    }
    char here;
    vm->stack_floor = &here - (c_stack_size - c_stack_size / 8);
    gch_thread_scanner_add(vm->t, stack_scan, vm);
    return true;
}

void vm_free(struct vm *vm)
{
    gch_thread_scanner_remove(vm->t, stack_scan, vm);
    gch_thread_detach(vm->t);
    free(vm->stack);
}

/* ---- symbols --------------------------------------------------------- */

static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* symtab_scan: heap scanner; lock-free (ST2): every handle and every
 * bound symbol of the current array.  The retired arrays hold only
 * handles that were in the current one when the scan loaded it, so they
 * need no scan. */
static void symtab_scan(gch_visitor *v, void *ctx)
{
    struct symtab *st = ctx;
    struct symarr *a = __atomic_load_n(&st->arr, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < 2 * a->cap; i++)
        gch_visit(v, &a->slots[i]);
}

static struct symarr *symarr_new(size_t cap)
{
    struct symarr *a = calloc(1, sizeof *a + 2 * cap * sizeof(void *));
    if (a != NULL)
        a->cap = cap;
    return a;
}

/* entry_symbol: the live symbol of entry i, or 0 (empty or dead). */
static val entry_symbol(struct vm *vm, struct symarr *a, size_t i)
{
    return a->slots[2 * i] == NULL ? 0 : (val)gch_weak_get(vm->t, a->slots[2 * i]);
}

/* symtab_probe: the entry holding the live symbol named s, or the empty
 * entry where it would go (dead entries are passed over: they keep the
 * probe chains intact until a rebuild).  Caller holds st->mu. */
static size_t symtab_probe(struct vm *vm, struct symarr *a, const char *s, size_t len, uint64_t h)
{
    size_t i = (size_t)h & (a->cap - 1);
    for (;; i = (i + 1) & (a->cap - 1)) {
        if (a->slots[2 * i] == NULL)
            return i;
        struct lsymbol *sym = (void *)entry_symbol(vm, a, i);
        if (sym == NULL)
            continue;
        struct lstring *name = sym->name;
        if (sym->hash == h && HDR_AUX(name->hdr) == len && memcmp(name->data, s, len) == 0)
            return i;
    }
}

/* symtab_rebuild: copy the live entries into a new array (twice the size
 * if they fill a third of this one), dropping dead ones.  Caller holds
 * st->mu.  The copies go through gch_write (V2) before the new array is
 * published. */
static bool symtab_rebuild(struct vm *vm, struct symtab *st)
{
    struct symarr *old = st->arr;
    size_t live = 0;
    for (size_t i = 0; i < old->cap; i++)
        live += entry_symbol(vm, old, i) != 0;
    struct symarr *a = symarr_new(live * 3 >= old->cap ? old->cap * 2 : old->cap);
    if (a == NULL)
        return false;
    for (size_t i = 0; i < old->cap; i++) {
        struct lsymbol *sym = (void *)entry_symbol(vm, old, i);
        if (sym == NULL)
            continue;
        struct lstring *name = sym->name;
        size_t j = symtab_probe(vm, a, name->data, HDR_AUX(name->hdr), sym->hash);
        gch_write(vm->t, &a->slots[2 * j], old->slots[2 * i]);
        gch_write(vm->t, &a->slots[2 * j + 1], old->slots[2 * i + 1]);
    }
    a->retired = old;
    st->count = live;
    __atomic_store_n(&st->arr, a, __ATOMIC_RELEASE);
    return true;
}

static val symtab_lookup(struct vm *vm, struct symtab *st, const char *s, size_t len, uint64_t h)
{
    pthread_mutex_lock(&st->mu);
    val found = entry_symbol(vm, st->arr, symtab_probe(vm, st->arr, s, len, h));
    pthread_mutex_unlock(&st->mu);
    return found;
}

static val new_symbol(struct vm *vm, const char *s, size_t len, uint64_t h)
{
    val name = mk_string(vm, s, len);
    vm_push(vm, name);
    struct lsymbol *sym = (void *)mk_obj(vm, &symbol_type, OT_SYMBOL, 0);
    vm->sp--;
    vm_set(vm, &sym->name, name);
    sym->hash = h;
    return (val)sym;
}

/* intern: the symbol named s.  The symbol and its weak handle are
 * allocated outside the lock (an allocation is a safepoint, and a thread
 * parked there must not hold a lock another thread needs to reach its
 * own safepoint). */
val intern(struct vm *vm, const char *s, size_t len)
{
    struct symtab *st = &vm->I->symtab;
    uint64_t h = name_hash(s, len);
    val found = symtab_lookup(vm, st, s, len, h);
    if (found != 0)
        return found;
    val sym = new_symbol(vm, s, len, h);
    vm_push(vm, sym);
    gch_weak *w = gch_weak_new(vm->t, (void *)sym);
    vm->sp--;
    if (w == NULL)
        vm_error(vm, "out of memory interning a symbol");
    pthread_mutex_lock(&st->mu);
    if ((st->count + 1) * 3 > st->arr->cap * 2 && !symtab_rebuild(vm, st)) {
        pthread_mutex_unlock(&st->mu);
        vm_error(vm, "out of memory growing the symbol table");
    }
    size_t i = symtab_probe(vm, st->arr, s, len, h);
    if (st->arr->slots[2 * i] == NULL) { /* ST1: another thread may have won */
        gch_write(vm->t, &st->arr->slots[2 * i], w);
        st->count++;
    } else {
        sym = entry_symbol(vm, st->arr, i);
    }
    pthread_mutex_unlock(&st->mu);
    return sym;
}

void symtab_bind(struct vm *vm, val sym)
{
    struct symtab *st = &vm->I->symtab;
    struct lsymbol *y = OBJ(lsymbol, sym);
    struct lstring *name = y->name;
    pthread_mutex_lock(&st->mu);
    size_t i = symtab_probe(vm, st->arr, name->data, HDR_AUX(name->hdr), y->hash);
    if (entry_symbol(vm, st->arr, i) == sym) /* not a gensym */
        gch_write(vm->t, &st->arr->slots[2 * i + 1], (void *)sym);
    pthread_mutex_unlock(&st->mu);
}

/* mk_gensym: an uninterned symbol (the compiler's temporaries). */
val mk_gensym(struct vm *vm, const char *name)
{
    return new_symbol(vm, name, strlen(name), name_hash(name, strlen(name)));
}

/* ---- the interpreter ------------------------------------------------- */

bool interp_init(struct interp *I, size_t heap_limit)
{
    memset(I, 0, sizeof *I);
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.decode = decode;
    cfg.heap_limit = heap_limit;
    I->heap = gch_heap_new(&cfg);
    if (I->heap == NULL)
        return false;
    pthread_mutex_init(&I->symtab.mu, NULL);
    pthread_mutex_init(&I->mu, NULL);
    I->symtab.arr = symarr_new(1024);
    I->max_depth = 100000;
    if (I->symtab.arr == NULL)
        return false;
    gch_heap_scanner_add(I->heap, symtab_scan, &I->symtab);
    gch_root_range_add(I->heap, (void **)I->kw, KW_COUNT);
    return true;
}

void interp_free(struct interp *I)
{
    gch_root_range_remove(I->heap, (void **)I->kw);
    gch_heap_scanner_remove(I->heap, symtab_scan, &I->symtab);
    gch_heap_free(I->heap);
    for (struct symarr *a = I->symtab.arr, *next; a != NULL; a = next) {
        next = a->retired;
        free(a);
    }
    pthread_mutex_destroy(&I->symtab.mu);
    pthread_mutex_destroy(&I->mu);
}
