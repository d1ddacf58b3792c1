/*
 * prims_list.c - builtins on pairs and lists, and the higher-order ones
 * (map, for-each) that call back into the evaluator.
 *
 * A list is built front to back with its first and last pairs in two
 * value-stack slots (V1); the last pair's cdr is set with gch_write
 * (V2).  Loops over long lists poll gch_safepoint: a builtin walking a
 * million pairs must not hold up a stop of the world.
 */
#include "builtins.h"

static val pair_arg(struct vm *vm, val v, const char *who)
{
    arg_check(vm, is_pair(v), who, "a pair", v);
    return v;
}

val p_cons(struct vm *vm, int argc, val *argv) { return mk_pair(vm, argv[0], argv[1]); }
val p_car(struct vm *vm, int argc, val *argv) { return car(pair_arg(vm, argv[0], "car")); }
val p_cdr(struct vm *vm, int argc, val *argv) { return cdr(pair_arg(vm, argv[0], "cdr")); }
val p_cadr(struct vm *vm, int argc, val *argv)
{
    return car(pair_arg(vm, cdr(pair_arg(vm, argv[0], "cadr")), "cadr"));
}
val p_cddr(struct vm *vm, int argc, val *argv)
{
    return cdr(pair_arg(vm, cdr(pair_arg(vm, argv[0], "cddr")), "cddr"));
}
val p_caar(struct vm *vm, int argc, val *argv)
{
    return car(pair_arg(vm, car(pair_arg(vm, argv[0], "caar")), "caar"));
}
val p_cdar(struct vm *vm, int argc, val *argv)
{
    return cdr(pair_arg(vm, car(pair_arg(vm, argv[0], "cdar")), "cdar"));
}
val p_caddr(struct vm *vm, int argc, val *argv)
{
    val d = cdr(pair_arg(vm, argv[0], "caddr"));
    return car(pair_arg(vm, cdr(pair_arg(vm, d, "caddr")), "caddr"));
}
val p_set_car(struct vm *vm, int argc, val *argv)
{
    vm_set(vm, &pair_of(pair_arg(vm, argv[0], "set-car!"))->car, argv[1]);
    return V_UNSPEC;
}
val p_set_cdr(struct vm *vm, int argc, val *argv)
{
    vm_set(vm, &pair_of(pair_arg(vm, argv[0], "set-cdr!"))->cdr, argv[1]);
    return V_UNSPEC;
}

/* builder: a list under construction in stack[base] (first) and
 * stack[base+1] (last pair). */
static size_t builder_open(struct vm *vm)
{
    size_t base = vm->sp;
    vm_push(vm, V_NIL);
    vm_push(vm, V_NIL);
    return base;
}

static void builder_add(struct vm *vm, size_t base, val v)
{
    val p = mk_pair(vm, v, V_NIL);
    if (vm->stack[base] == V_NIL)
        vm->stack[base] = p;
    else
        vm_set(vm, &pair_of(vm->stack[base + 1])->cdr, p);
    vm->stack[base + 1] = p;
}

static val builder_close(struct vm *vm, size_t base, val tail)
{
    val first = vm->stack[base];
    if (first == V_NIL)
        first = tail;
    else
        vm_set(vm, &pair_of(vm->stack[base + 1])->cdr, tail);
    vm->sp = base;
    return first;
}

val p_list(struct vm *vm, int argc, val *argv)
{
    size_t b = builder_open(vm);
    for (int i = 0; i < argc; i++)
        builder_add(vm, b, argv[i]);
    return builder_close(vm, b, V_NIL);
}

static size_t length_of(struct vm *vm, val l, const char *who)
{
    size_t n = 0;
    val start = l;
    for (; is_pair(l); l = cdr(l), n++)
        gch_safepoint(vm->t);
    arg_check(vm, l == V_NIL, who, "a proper list", start);
    return n;
}

val p_length(struct vm *vm, int argc, val *argv)
{
    return mk_fixnum((intptr_t)length_of(vm, argv[0], "length"));
}

val p_append(struct vm *vm, int argc, val *argv)
{
    if (argc == 0)
        return V_NIL;
    size_t b = builder_open(vm);
    for (int i = 0; i + 1 < argc; i++) {
        length_of(vm, argv[i], "append");
        for (val l = argv[i]; is_pair(l); l = cdr(l))
            builder_add(vm, b, car(l)); /* l stays reachable from argv[i] */
    }
    return builder_close(vm, b, argv[argc - 1]);
}

val p_reverse(struct vm *vm, int argc, val *argv)
{
    length_of(vm, argv[0], "reverse");
    size_t base = vm->sp;
    vm_push(vm, V_NIL);
    for (val l = argv[0]; is_pair(l); l = cdr(l))
        vm->stack[base] = mk_pair(vm, car(l), vm->stack[base]);
    vm->sp = base;
    return vm->stack[base];
}

val p_list_copy(struct vm *vm, int argc, val *argv)
{
    size_t b = builder_open(vm);
    val l = argv[0];
    for (; is_pair(l); l = cdr(l))
        builder_add(vm, b, car(l));
    return builder_close(vm, b, l);
}

static val tail_at(struct vm *vm, val l, val k, const char *who)
{
    intptr_t n = arg_fixnum(vm, k, who);
    arg_check(vm, n >= 0, who, "a non-negative index", k);
    for (; n > 0; n--) {
        if (!is_pair(l))
            vm_error(vm, "%s: index out of range", who);
        l = cdr(l);
    }
    return l;
}

val p_list_tail(struct vm *vm, int argc, val *argv) { return tail_at(vm, argv[0], argv[1], "list-tail"); }
val p_list_ref(struct vm *vm, int argc, val *argv)
{
    val l = tail_at(vm, argv[0], argv[1], "list-ref");
    if (!is_pair(l))
        vm_error(vm, "list-ref: index out of range");
    return car(l);
}

val p_memq(struct vm *vm, int argc, val *argv)
{
    for (val l = argv[1]; is_pair(l); l = cdr(l))
        if (car(l) == argv[0])
            return l;
    return V_FALSE;
}

val p_member(struct vm *vm, int argc, val *argv)
{
    for (val l = argv[1]; is_pair(l); l = cdr(l))
        if (equal(vm, car(l), argv[0]))
            return l;
    return V_FALSE;
}

val p_assq(struct vm *vm, int argc, val *argv)
{
    for (val l = argv[1]; is_pair(l); l = cdr(l))
        if (is_pair(car(l)) && car(car(l)) == argv[0])
            return car(l);
    return V_FALSE;
}

val p_assoc(struct vm *vm, int argc, val *argv)
{
    for (val l = argv[1]; is_pair(l); l = cdr(l))
        if (is_pair(car(l)) && equal(vm, car(car(l)), argv[0]))
            return car(l);
    return V_FALSE;
}

/* map_step: push f and the cars of the cursors at stack[cur..cur+n),
 * advancing them; false when a list ran out. */
static bool map_step(struct vm *vm, val f, size_t cur, int n)
{
    for (int i = 0; i < n; i++)
        if (!is_pair(vm->stack[cur + i]))
            return false;
    vm_push(vm, f);
    for (int i = 0; i < n; i++) {
        val l = vm->stack[cur + i];
        vm_push(vm, car(l));
        vm->stack[cur + i] = cdr(l);
    }
    return true;
}

static val map_common(struct vm *vm, int argc, val *argv, bool collect)
{
    size_t b = builder_open(vm), cur = vm->sp;
    for (int i = 1; i < argc; i++)
        vm_push(vm, argv[i]);
    while (map_step(vm, argv[0], cur, argc - 1)) {
        val v = vm_apply(vm, argc - 1);
        if (collect)
            builder_add(vm, b, v);
    }
    vm->sp = cur;
    return collect ? builder_close(vm, b, V_NIL) : (vm->sp = b, V_UNSPEC);
}

val p_map(struct vm *vm, int argc, val *argv) { return map_common(vm, argc, argv, true); }
val p_for_each(struct vm *vm, int argc, val *argv) { return map_common(vm, argc, argv, false); }
