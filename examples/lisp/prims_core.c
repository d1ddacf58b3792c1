/*
 * prims_core.c - builtins: equivalence, type predicates, fixnum
 * arithmetic and control (error, exit, command-line).
 *
 * Arithmetic is on 63-bit fixnums only; a result out of range is an
 * error ("integer overflow"), never a wrap: each operation is done in
 * intptr_t with __builtin_*_overflow, then range-checked.  Builtins
 * allocate only where they build a result, with their arguments on the
 * value stack (argv points into it).
 */
#include "builtins.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

val p_eq(struct vm *vm, int argc, val *argv) { return mk_bool(argv[0] == argv[1]); }
val p_eqv(struct vm *vm, int argc, val *argv) { return mk_bool(eqv(argv[0], argv[1])); }
val p_equal(struct vm *vm, int argc, val *argv) { return mk_bool(equal(vm, argv[0], argv[1])); }
val p_not(struct vm *vm, int argc, val *argv) { return mk_bool(argv[0] == V_FALSE); }
val p_nullp(struct vm *vm, int argc, val *argv) { return mk_bool(argv[0] == V_NIL); }
val p_pairp(struct vm *vm, int argc, val *argv) { return mk_bool(is_pair(argv[0])); }
val p_numberp(struct vm *vm, int argc, val *argv) { return mk_bool(is_fixnum(argv[0])); }
val p_symbolp(struct vm *vm, int argc, val *argv) { return mk_bool(is_type(argv[0], OT_SYMBOL)); }
val p_stringp(struct vm *vm, int argc, val *argv) { return mk_bool(is_type(argv[0], OT_STRING)); }
val p_vectorp(struct vm *vm, int argc, val *argv) { return mk_bool(is_type(argv[0], OT_VECTOR)); }
val p_charp(struct vm *vm, int argc, val *argv) { return mk_bool(is_char(argv[0])); }
val p_booleanp(struct vm *vm, int argc, val *argv)
{
    return mk_bool(argv[0] == V_TRUE || argv[0] == V_FALSE);
}
val p_procedurep(struct vm *vm, int argc, val *argv)
{
    return mk_bool(is_prim(argv[0]) || is_type(argv[0], OT_CLOSURE));
}

/* list?: a proper list (tortoise and hare, so a cycle is not one). */
val p_listp(struct vm *vm, int argc, val *argv)
{
    val slow = argv[0], fast = argv[0];
    for (;;) {
        gch_safepoint(vm->t);
        if (fast == V_NIL)
            return V_TRUE;
        if (!is_pair(fast) || !is_pair(cdr(fast)))
            return mk_bool(is_pair(fast) && cdr(fast) == V_NIL);
        fast = cdr(cdr(fast));
        slow = cdr(slow);
        if (fast == slow)
            return V_FALSE;
    }
}

/* ---- arithmetic ------------------------------------------------------ */

static _Noreturn void overflow(struct vm *vm, const char *op)
{
    vm_error(vm, "integer overflow in %s", op);
}

static val fix_result(struct vm *vm, intptr_t r, const char *op)
{
    if (r > FIX_MAX || r < FIX_MIN)
        overflow(vm, op);
    return mk_fixnum(r);
}

val p_add(struct vm *vm, int argc, val *argv)
{
    intptr_t acc = 0;
    for (int i = 0; i < argc; i++)
        if (__builtin_add_overflow(acc, arg_fixnum(vm, argv[i], "+"), &acc))
            overflow(vm, "+");
    return fix_result(vm, acc, "+");
}

val p_sub(struct vm *vm, int argc, val *argv)
{
    intptr_t acc = arg_fixnum(vm, argv[0], "-");
    if (argc == 1)
        return fix_result(vm, -acc, "-");
    for (int i = 1; i < argc; i++)
        if (__builtin_sub_overflow(acc, arg_fixnum(vm, argv[i], "-"), &acc))
            overflow(vm, "-");
    return fix_result(vm, acc, "-");
}

val p_mul(struct vm *vm, int argc, val *argv)
{
    intptr_t acc = 1;
    for (int i = 0; i < argc; i++)
        if (__builtin_mul_overflow(acc, arg_fixnum(vm, argv[i], "*"), &acc))
            overflow(vm, "*");
    return fix_result(vm, acc, "*");
}

static intptr_t divisor(struct vm *vm, val v, const char *who)
{
    intptr_t d = arg_fixnum(vm, v, who);
    if (d == 0)
        vm_error(vm, "%s: division by zero", who);
    return d;
}

val p_quotient(struct vm *vm, int argc, val *argv)
{
    intptr_t a = arg_fixnum(vm, argv[0], "quotient"), b = divisor(vm, argv[1], "quotient");
    return fix_result(vm, a / b, "quotient"); /* FIX_MIN / -1 is in intptr_t range, not fixnum */
}

val p_remainder(struct vm *vm, int argc, val *argv)
{
    intptr_t a = arg_fixnum(vm, argv[0], "remainder"), b = divisor(vm, argv[1], "remainder");
    return mk_fixnum(a % b);
}

val p_modulo(struct vm *vm, int argc, val *argv)
{
    intptr_t a = arg_fixnum(vm, argv[0], "modulo"), b = divisor(vm, argv[1], "modulo");
    intptr_t m = a % b;
    if (m != 0 && (m < 0) != (b < 0))
        m += b;
    return mk_fixnum(m);
}

enum cmp { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE };

static val compare(struct vm *vm, int argc, val *argv, enum cmp op, const char *who)
{
    bool ok = true;
    for (int i = 0; i < argc; i++)
        arg_fixnum(vm, argv[i], who);
    for (int i = 0; i + 1 < argc && ok; i++) {
        intptr_t a = fixnum_value(argv[i]), b = fixnum_value(argv[i + 1]);
        ok = op == CMP_EQ ? a == b : op == CMP_LT ? a < b : op == CMP_GT ? a > b
           : op == CMP_LE ? a <= b : a >= b;
    }
    return mk_bool(ok);
}

val p_num_eq(struct vm *vm, int argc, val *argv) { return compare(vm, argc, argv, CMP_EQ, "="); }
val p_lt(struct vm *vm, int argc, val *argv) { return compare(vm, argc, argv, CMP_LT, "<"); }
val p_gt(struct vm *vm, int argc, val *argv) { return compare(vm, argc, argv, CMP_GT, ">"); }
val p_le(struct vm *vm, int argc, val *argv) { return compare(vm, argc, argv, CMP_LE, "<="); }
val p_ge(struct vm *vm, int argc, val *argv) { return compare(vm, argc, argv, CMP_GE, ">="); }
val p_zerop(struct vm *vm, int argc, val *argv) { return mk_bool(arg_fixnum(vm, argv[0], "zero?") == 0); }
val p_positivep(struct vm *vm, int argc, val *argv) { return mk_bool(arg_fixnum(vm, argv[0], "positive?") > 0); }
val p_negativep(struct vm *vm, int argc, val *argv) { return mk_bool(arg_fixnum(vm, argv[0], "negative?") < 0); }
val p_evenp(struct vm *vm, int argc, val *argv) { return mk_bool(arg_fixnum(vm, argv[0], "even?") % 2 == 0); }
val p_oddp(struct vm *vm, int argc, val *argv) { return mk_bool(arg_fixnum(vm, argv[0], "odd?") % 2 != 0); }
val p_abs(struct vm *vm, int argc, val *argv)
{
    intptr_t a = arg_fixnum(vm, argv[0], "abs");
    return fix_result(vm, a < 0 ? -a : a, "abs");
}

static val extremum(struct vm *vm, int argc, val *argv, bool want_max, const char *who)
{
    intptr_t best = arg_fixnum(vm, argv[0], who);
    for (int i = 1; i < argc; i++) {
        intptr_t x = arg_fixnum(vm, argv[i], who);
        if (want_max ? x > best : x < best)
            best = x;
    }
    return mk_fixnum(best);
}

val p_min(struct vm *vm, int argc, val *argv) { return extremum(vm, argc, argv, false, "min"); }
val p_max(struct vm *vm, int argc, val *argv) { return extremum(vm, argc, argv, true, "max"); }

static int radix_arg(struct vm *vm, int argc, val *argv, const char *who)
{
    intptr_t r = argc > 1 ? arg_fixnum(vm, argv[1], who) : 10;
    if (r < 2 || r > 36)
        vm_error(vm, "%s: bad radix %" PRIdPTR, who, r);
    return (int)r;
}

val p_number_to_string(struct vm *vm, int argc, val *argv)
{
    intptr_t n = arg_fixnum(vm, argv[0], "number->string");
    int radix = radix_arg(vm, argc, argv, "number->string");
    char buf[80], *p = buf + sizeof buf;
    uintptr_t u = n < 0 ? -(uintptr_t)n : (uintptr_t)n;
    do {
        *--p = "0123456789abcdefghijklmnopqrstuvwxyz"[u % (uintptr_t)radix];
        u /= (uintptr_t)radix;
    } while (u != 0);
    if (n < 0)
        *--p = '-';
    return mk_string(vm, p, (size_t)(buf + sizeof buf - p));
}

val p_string_to_number(struct vm *vm, int argc, val *argv)
{
    arg_check(vm, is_type(argv[0], OT_STRING), "string->number", "a string", argv[0]);
    int radix = radix_arg(vm, argc, argv, "string->number");
    const char *s = OBJ(lstring, argv[0])->data, *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    if (*p == 0)
        return V_FALSE;
    intptr_t n = 0;
    for (; *p; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'z' ? *p - 'a' + 10
              : *p >= 'A' && *p <= 'Z' ? *p - 'A' + 10 : 99;
        if (d >= radix)
            return V_FALSE;
        if (__builtin_mul_overflow(n, radix, &n) || __builtin_add_overflow(n, d, &n))
            overflow(vm, "string->number");
    }
    return fix_result(vm, neg ? -n : n, "string->number");
}

/* ---- control ---------------------------------------------------------- */

/* apply: never called (the evaluator spreads its arguments, eval.c). */
val p_apply(struct vm *vm, int argc, val *argv) { return V_UNSPEC; }

val p_error(struct vm *vm, int argc, val *argv)
{
    char msg[400];
    FILE *f = fmemopen(msg, sizeof msg, "w");
    if (f == NULL)
        vm_error(vm, "error");
    print_value(f, argv[0], false);
    for (int i = 1; i < argc; i++) {
        fputc(' ', f);
        print_value(f, argv[i], true);
    }
    fclose(f);
    msg[sizeof msg - 1] = 0;
    vm_error(vm, "%s", msg);
}

val p_exit(struct vm *vm, int argc, val *argv)
{
    vm->I->exit_code = argc > 0 ? (int)arg_fixnum(vm, argv[0], "exit") : 0;
    fflush(stdout);
    longjmp(*vm->on_error, ERR_EXIT);
}

val p_command_line(struct vm *vm, int argc, val *argv)
{
    size_t base = vm->sp;
    vm_push(vm, V_NIL);
    for (int i = vm->I->argc; i-- > 0;) {
        val s = mk_string(vm, vm->I->argv[i], strlen(vm->I->argv[i]));
        vm->stack[base] = mk_pair(vm, s, vm->stack[base]);
    }
    val r = vm->stack[base];
    vm->sp = base;
    return r;
}
