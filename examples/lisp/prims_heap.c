/*
 * prims_heap.c - hash tables (SRFI-69 names) and the collector's builtins
 * (gc, gc-stats).
 *
 * A hash table is {header, count, buckets}: a vector of chains, each a
 * list of (key . value) pairs.  Every link and value store is a
 * gch_write (V2).  Keys hash by content for strings, pairs and vectors
 * (equal? tables, the default) and by address otherwise: the heap never
 * moves an object, so an address is a hash that stays valid for the
 * object's life, and no rehash is ever needed after a collection.
 * (make-hash-table eq?) hashes everything by address.  A table shared
 * between threads must be guarded by a mutex, as in any Scheme.
 */
#include "builtins.h"

#include <string.h>

#define HASH_EQ_FLAG 1u
#define HASH_MIN_BUCKETS 8

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_equal(val v, int budget)
{
    if (is_pair(v) && budget > 0)
        return mix(hash_equal(car(v), budget / 2) * 31 + hash_equal(cdr(v), budget / 2));
    if (is_type(v, OT_STRING)) {
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < obj_len(v); i++)
            h = (h ^ (uint8_t)OBJ(lstring, v)->data[i]) * 1099511628211ull;
        return h;
    }
    if (is_type(v, OT_VECTOR) && budget > 0) {
        uint64_t h = obj_len(v);
        for (size_t i = 0; i < obj_len(v) && i < 8; i++)
            h = mix(h * 31 + hash_equal((val)OBJ(lvector, v)->items[i], budget / 2));
        return h;
    }
    if (is_pair(v) || is_type(v, OT_VECTOR))
        return 7;
    return mix(v); /* immediates and other objects: by value / address */
}

static bool hash_is_eq(val ht) { return (HDR_AUX(hdr_of(ht)) & HASH_EQ_FLAG) != 0; }

static size_t bucket_of(val ht, val key)
{
    uint64_t h = hash_is_eq(ht) ? mix(key) : hash_equal(key, 16);
    val buckets = (val)OBJ(lhash, ht)->buckets;
    return (size_t)(h & (obj_len(buckets) - 1));
}

static bool same_key(struct vm *vm, val ht, val a, val b) { return hash_is_eq(ht) ? a == b : equal(vm, a, b); }

/* find_entry: the (key . value) pair of key, or 0. */
static val find_entry(struct vm *vm, val ht, val key)
{
    val buckets = (val)OBJ(lhash, ht)->buckets;
    for (val l = (val)OBJ(lvector, buckets)->items[bucket_of(ht, key)]; is_pair(l); l = cdr(l))
        if (same_key(vm, ht, car(car(l)), key))
            return car(l);
    return 0;
}

static val hash_arg(struct vm *vm, val v, const char *who)
{
    arg_check(vm, is_type(v, OT_HASH), who, "a hash table", v);
    return v;
}

val p_make_hash_table(struct vm *vm, int argc, val *argv)
{
    uintptr_t flags = 0;
    if (argc > 0) {
        arg_check(vm, is_prim(argv[0]), "make-hash-table", "eq?, eqv? or equal?", argv[0]);
        const char *n = builtin_get(argv[0])->name;
        flags = strcmp(n, "eq?") == 0 || strcmp(n, "eqv?") == 0 ? HASH_EQ_FLAG : 0;
    }
    val buckets = mk_vector(vm, HASH_MIN_BUCKETS, V_NIL);
    vm_push(vm, buckets);
    val ht = mk_obj(vm, &hash_type, OT_HASH, flags);
    vm->sp--;
    vm_set(vm, &OBJ(lhash, ht)->count, mk_fixnum(0));
    vm_set(vm, &OBJ(lhash, ht)->buckets, buckets);
    return ht;
}

/* rehash: move every entry of ht (on the stack) into twice the buckets. */
static void rehash(struct vm *vm, val ht)
{
    val old = (val)OBJ(lhash, ht)->buckets;
    val nb = mk_vector(vm, obj_len(old) * 2, V_NIL);
    vm_push(vm, nb);
    vm_push(vm, old);
    vm_set(vm, &OBJ(lhash, ht)->buckets, nb);
    for (size_t i = 0; i < obj_len(old); i++)
        for (val l = (val)OBJ(lvector, old)->items[i]; is_pair(l); l = cdr(l)) {
            size_t j = bucket_of(ht, car(car(l)));
            val cell = mk_pair(vm, car(l), (val)OBJ(lvector, nb)->items[j]);
            vm_set(vm, &OBJ(lvector, nb)->items[j], cell);
        }
    vm->sp -= 2;
}

val p_hash_tablep(struct vm *vm, int argc, val *argv) { return mk_bool(is_type(argv[0], OT_HASH)); }

val p_hash_set(struct vm *vm, int argc, val *argv)
{
    val ht = hash_arg(vm, argv[0], "hash-table-set!");
    val e = find_entry(vm, ht, argv[1]);
    if (e != 0) {
        vm_set(vm, &pair_of(e)->cdr, argv[2]);
        return V_UNSPEC;
    }
    e = mk_pair(vm, argv[1], argv[2]);
    size_t i = bucket_of(ht, argv[1]);
    val buckets = (val)OBJ(lhash, ht)->buckets;
    val cell = mk_pair(vm, e, (val)OBJ(lvector, buckets)->items[i]);
    vm_set(vm, &OBJ(lvector, buckets)->items[i], cell);
    intptr_t n = fixnum_value((val)OBJ(lhash, ht)->count) + 1;
    vm_set(vm, &OBJ(lhash, ht)->count, mk_fixnum(n));
    if ((size_t)n > 2 * obj_len(buckets))
        rehash(vm, ht);
    return V_UNSPEC;
}

val p_hash_ref_default(struct vm *vm, int argc, val *argv)
{
    val e = find_entry(vm, hash_arg(vm, argv[0], "hash-table-ref/default"), argv[1]);
    return e != 0 ? cdr(e) : argv[2];
}

val p_hash_ref(struct vm *vm, int argc, val *argv)
{
    val e = find_entry(vm, hash_arg(vm, argv[0], "hash-table-ref"), argv[1]);
    if (e != 0)
        return cdr(e);
    if (argc < 3)
        vm_error(vm, "hash-table-ref: key not found");
    vm_push(vm, argv[2]);
    return vm_apply(vm, 0);
}

val p_hash_contains(struct vm *vm, int argc, val *argv)
{
    return mk_bool(find_entry(vm, hash_arg(vm, argv[0], "hash-table-contains?"), argv[1]) != 0);
}

val p_hash_update_default(struct vm *vm, int argc, val *argv)
{
    val e = find_entry(vm, hash_arg(vm, argv[0], "hash-table-update!/default"), argv[1]);
    vm_push(vm, argv[2]);
    vm_push(vm, e != 0 ? cdr(e) : argv[3]);
    val v = vm_apply(vm, 1);
    vm_push(vm, v);
    val args[3] = {argv[0], argv[1], v}; /* all three on the stack */
    p_hash_set(vm, 3, args);
    vm->sp--;
    return V_UNSPEC;
}

val p_hash_delete(struct vm *vm, int argc, val *argv)
{
    val ht = hash_arg(vm, argv[0], "hash-table-delete!");
    val buckets = (val)OBJ(lhash, ht)->buckets;
    size_t i = bucket_of(ht, argv[1]);
    void **link = &OBJ(lvector, buckets)->items[i];
    for (val l = (val)*link; is_pair(l); link = &pair_of(l)->cdr, l = (val)*link)
        if (same_key(vm, ht, car(car(l)), argv[1])) {
            vm_set(vm, link, cdr(l));
            intptr_t n = fixnum_value((val)OBJ(lhash, ht)->count) - 1;
            vm_set(vm, &OBJ(lhash, ht)->count, mk_fixnum(n));
            break;
        }
    return V_UNSPEC;
}

val p_hash_count(struct vm *vm, int argc, val *argv)
{
    return (val)OBJ(lhash, hash_arg(vm, argv[0], "hash-table-count"))->count;
}

/* hash_list: the keys (or the entries) of ht as a fresh list. */
static val hash_list(struct vm *vm, val ht, bool entries)
{
    size_t base = vm->sp;
    vm_push(vm, V_NIL);
    val buckets = (val)OBJ(lhash, ht)->buckets;
    for (size_t i = 0; i < obj_len(buckets); i++)
        for (val l = (val)OBJ(lvector, buckets)->items[i]; is_pair(l); l = cdr(l)) {
            val e = car(l);
            vm->stack[base] = mk_pair(vm, entries ? mk_pair(vm, car(e), cdr(e)) : car(e), vm->stack[base]);
        }
    vm->sp = base;
    return vm->stack[base];
}

val p_hash_keys(struct vm *vm, int argc, val *argv)
{
    return hash_list(vm, hash_arg(vm, argv[0], "hash-table-keys"), false);
}

val p_hash_to_alist(struct vm *vm, int argc, val *argv)
{
    return hash_list(vm, hash_arg(vm, argv[0], "hash-table->alist"), true);
}

/* ---- the collector ---------------------------------------------------- */

val p_gc(struct vm *vm, int argc, val *argv)
{
    gch_collect(vm->I->heap); /* our roots are on the value stack */
    return V_UNSPEC;
}

static void alist_add(struct vm *vm, size_t base, const char *name, uint64_t v)
{
    val key = intern(vm, name, strlen(name));
    vm_push(vm, key); /* V1: the symbol table is weak */
    val e = mk_pair(vm, key, mk_fixnum((intptr_t)(v > (uint64_t)FIX_MAX ? (uint64_t)FIX_MAX : v)));
    vm->sp--;
    vm_push(vm, e);
    vm->stack[base] = mk_pair(vm, e, vm->stack[base]);
    vm->sp--;
}

/* gc-stats: an alist of gch_read_stats fields (after publishing this
 * thread's counts with gch_thread_flush). */
val p_gc_stats(struct vm *vm, int argc, val *argv)
{
    gch_stats st;
    gch_thread_flush(vm->t);
    gch_read_stats(vm->I->heap, &st);
    uint64_t max_pause = 0;
    for (uint32_t i = 0; i < st.num_gc && i < GCH_PAUSE_RING; i++)
        max_pause = st.pause_ns[i] > max_pause ? st.pause_ns[i] : max_pause;
    size_t base = vm->sp;
    vm_push(vm, V_NIL);
    alist_add(vm, base, "max-pause-ns", max_pause);
    alist_add(vm, base, "pause-total-ns", st.pause_total_ns);
    alist_add(vm, base, "next-gc", st.next_gc);
    alist_add(vm, base, "heap-sys", st.heap_sys);
    alist_add(vm, base, "heap-objects", st.heap_objects);
    alist_add(vm, base, "total-alloc", st.total_alloc);
    alist_add(vm, base, "heap-alloc", st.heap_alloc);
    alist_add(vm, base, "num-forced-gc", st.num_forced_gc);
    alist_add(vm, base, "num-gc", st.num_gc);
    vm->sp = base;
    return vm->stack[base];
}
