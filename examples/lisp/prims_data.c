/*
 * prims_data.c - builtins on characters, strings, symbols, vectors and
 * bytevectors, and output.
 *
 * Strings and bytevectors are noscan objects (no references: the
 * collector never reads them); vectors are gch_alloc_array blocks whose
 * elements are all values, so vector-set! is a gch_write (V2) and
 * vector-fill! one gch_write per element.  display and write print to
 * stdout without allocating.
 */
#include "builtins.h"

#include <string.h>

static val string_arg(struct vm *vm, val v, const char *who)
{
    arg_check(vm, is_type(v, OT_STRING), who, "a string", v);
    return v;
}

static size_t index_arg(struct vm *vm, val v, size_t len, const char *who)
{
    intptr_t i = arg_fixnum(vm, v, who);
    if (i < 0 || (size_t)i >= len)
        vm_error(vm, "%s: index %ld out of range", who, (long)i);
    return (size_t)i;
}

static size_t count_arg(struct vm *vm, val v, const char *who)
{
    intptr_t n = arg_fixnum(vm, v, who);
    arg_check(vm, n >= 0, who, "a non-negative count", v);
    return (size_t)n;
}

val p_char_to_integer(struct vm *vm, int argc, val *argv)
{
    arg_check(vm, is_char(argv[0]), "char->integer", "a character", argv[0]);
    return mk_fixnum((intptr_t)IMM_PAYLOAD(argv[0]));
}

val p_integer_to_char(struct vm *vm, int argc, val *argv)
{
    intptr_t c = arg_fixnum(vm, argv[0], "integer->char");
    if (c < 0 || c > 255)
        vm_error(vm, "integer->char: %ld is not a character (bytes only)", (long)c);
    return mk_char((unsigned)c);
}

/* ---- strings ---------------------------------------------------------- */

val p_string_length(struct vm *vm, int argc, val *argv)
{
    return mk_fixnum((intptr_t)obj_len(string_arg(vm, argv[0], "string-length")));
}

val p_string_ref(struct vm *vm, int argc, val *argv)
{
    val s = string_arg(vm, argv[0], "string-ref");
    size_t i = index_arg(vm, argv[1], obj_len(s), "string-ref");
    return mk_char((unsigned char)OBJ(lstring, s)->data[i]);
}

val p_substring(struct vm *vm, int argc, val *argv)
{
    val s = string_arg(vm, argv[0], "substring");
    size_t len = obj_len(s);
    size_t start = index_arg(vm, argv[1], len + 1, "substring");
    size_t end = argc > 2 ? index_arg(vm, argv[2], len + 1, "substring") : len;
    if (end < start)
        vm_error(vm, "substring: end before start");
    return mk_string(vm, OBJ(lstring, s)->data + start, end - start);
}

val p_string_append(struct vm *vm, int argc, val *argv)
{
    size_t total = 0;
    for (int i = 0; i < argc; i++)
        total += obj_len(string_arg(vm, argv[i], "string-append"));
    val r = mk_string(vm, NULL, total);
    char *p = OBJ(lstring, r)->data;
    for (int i = 0; i < argc; i++) {
        memcpy(p, OBJ(lstring, argv[i])->data, obj_len(argv[i]));
        p += obj_len(argv[i]);
    }
    return r;
}

static int string_cmp(val a, val b)
{
    size_t la = obj_len(a), lb = obj_len(b);
    int c = memcmp(OBJ(lstring, a)->data, OBJ(lstring, b)->data, la < lb ? la : lb);
    return c != 0 ? c : (la > lb) - (la < lb);
}

static val string_compare(struct vm *vm, int argc, val *argv, bool lt, const char *who)
{
    for (int i = 0; i < argc; i++)
        string_arg(vm, argv[i], who);
    for (int i = 0; i + 1 < argc; i++) {
        int c = string_cmp(argv[i], argv[i + 1]);
        if (lt ? c >= 0 : c != 0)
            return V_FALSE;
    }
    return V_TRUE;
}

val p_string_eq(struct vm *vm, int argc, val *argv) { return string_compare(vm, argc, argv, false, "string=?"); }
val p_string_lt(struct vm *vm, int argc, val *argv) { return string_compare(vm, argc, argv, true, "string<?"); }

val p_symbol_to_string(struct vm *vm, int argc, val *argv)
{
    arg_check(vm, is_type(argv[0], OT_SYMBOL), "symbol->string", "a symbol", argv[0]);
    val name = (val)OBJ(lsymbol, argv[0])->name;
    return mk_string(vm, OBJ(lstring, name)->data, obj_len(name));
}

val p_string_to_symbol(struct vm *vm, int argc, val *argv)
{
    val s = string_arg(vm, argv[0], "string->symbol");
    return intern(vm, OBJ(lstring, s)->data, obj_len(s));
}

val p_string_to_list(struct vm *vm, int argc, val *argv)
{
    val s = string_arg(vm, argv[0], "string->list");
    size_t base = vm->sp;
    vm_push(vm, V_NIL);
    for (size_t i = obj_len(s); i-- > 0;)
        vm->stack[base] = mk_pair(vm, mk_char((unsigned char)OBJ(lstring, s)->data[i]), vm->stack[base]);
    vm->sp = base;
    return vm->stack[base];
}

val p_list_to_string(struct vm *vm, int argc, val *argv)
{
    size_t n = 0;
    val l = argv[0];
    for (; is_pair(l); l = cdr(l), n++)
        arg_check(vm, is_char(car(l)), "list->string", "a list of characters", car(l));
    arg_check(vm, l == V_NIL, "list->string", "a proper list", argv[0]);
    val s = mk_string(vm, NULL, n);
    n = 0;
    for (l = argv[0]; is_pair(l); l = cdr(l))
        OBJ(lstring, s)->data[n++] = (char)IMM_PAYLOAD(car(l));
    return s;
}

val p_make_string(struct vm *vm, int argc, val *argv)
{
    size_t n = count_arg(vm, argv[0], "make-string");
    unsigned c = ' ';
    if (argc > 1) {
        arg_check(vm, is_char(argv[1]), "make-string", "a character", argv[1]);
        c = (unsigned)IMM_PAYLOAD(argv[1]);
    }
    val s = mk_string(vm, NULL, n);
    memset(OBJ(lstring, s)->data, (int)c, n);
    return s;
}

val p_string_copy(struct vm *vm, int argc, val *argv)
{
    val s = string_arg(vm, argv[0], "string-copy");
    return mk_string(vm, OBJ(lstring, s)->data, obj_len(s));
}

/* ---- vectors ---------------------------------------------------------- */

static val vector_arg(struct vm *vm, val v, const char *who)
{
    arg_check(vm, is_type(v, OT_VECTOR), who, "a vector", v);
    return v;
}

val p_make_vector(struct vm *vm, int argc, val *argv)
{
    size_t n = count_arg(vm, argv[0], "make-vector");
    return mk_vector(vm, n, argc > 1 ? argv[1] : V_FALSE);
}

val p_vector(struct vm *vm, int argc, val *argv)
{
    val v = mk_vector(vm, (size_t)argc, V_NONE);
    gch_write_range(vm->t, OBJ(lvector, v)->items, (void *const *)argv, (size_t)argc);
    return v;
}

val p_vector_ref(struct vm *vm, int argc, val *argv)
{
    val v = vector_arg(vm, argv[0], "vector-ref");
    return (val)OBJ(lvector, v)->items[index_arg(vm, argv[1], obj_len(v), "vector-ref")];
}

val p_vector_set(struct vm *vm, int argc, val *argv)
{
    val v = vector_arg(vm, argv[0], "vector-set!");
    size_t i = index_arg(vm, argv[1], obj_len(v), "vector-set!");
    vm_set(vm, &OBJ(lvector, v)->items[i], argv[2]);
    return V_UNSPEC;
}

val p_vector_length(struct vm *vm, int argc, val *argv)
{
    return mk_fixnum((intptr_t)obj_len(vector_arg(vm, argv[0], "vector-length")));
}

val p_vector_to_list(struct vm *vm, int argc, val *argv)
{
    val v = vector_arg(vm, argv[0], "vector->list");
    size_t base = vm->sp;
    vm_push(vm, V_NIL);
    for (size_t i = obj_len(v); i-- > 0;)
        vm->stack[base] = mk_pair(vm, (val)OBJ(lvector, v)->items[i], vm->stack[base]);
    vm->sp = base;
    return vm->stack[base];
}

val p_list_to_vector(struct vm *vm, int argc, val *argv)
{
    size_t n = 0;
    val l = argv[0];
    for (; is_pair(l); l = cdr(l))
        n++;
    arg_check(vm, l == V_NIL, "list->vector", "a proper list", argv[0]);
    val v = mk_vector(vm, n, V_NONE);
    n = 0;
    for (l = argv[0]; is_pair(l); l = cdr(l))
        vm_set(vm, &OBJ(lvector, v)->items[n++], car(l));
    return v;
}

val p_vector_fill(struct vm *vm, int argc, val *argv)
{
    val v = vector_arg(vm, argv[0], "vector-fill!");
    for (size_t i = 0; i < obj_len(v); i++)
        vm_set(vm, &OBJ(lvector, v)->items[i], argv[1]);
    return V_UNSPEC;
}

/* ---- bytevectors ------------------------------------------------------ */

static val bytes_arg(struct vm *vm, val v, const char *who)
{
    arg_check(vm, is_type(v, OT_BYTEVECTOR), who, "a bytevector", v);
    return v;
}

static uint8_t byte_arg(struct vm *vm, val v, const char *who)
{
    intptr_t b = arg_fixnum(vm, v, who);
    if (b < 0 || b > 255)
        vm_error(vm, "%s: %ld is not a byte", who, (long)b);
    return (uint8_t)b;
}

val p_make_bytevector(struct vm *vm, int argc, val *argv)
{
    size_t n = count_arg(vm, argv[0], "make-bytevector");
    uint8_t fill = argc > 1 ? byte_arg(vm, argv[1], "make-bytevector") : 0;
    val b = mk_bytes(vm, n);
    memset(OBJ(lbytes, b)->data, fill, n);
    return b;
}

val p_bytevectorp(struct vm *vm, int argc, val *argv) { return mk_bool(is_type(argv[0], OT_BYTEVECTOR)); }
val p_bytevector_length(struct vm *vm, int argc, val *argv)
{
    return mk_fixnum((intptr_t)obj_len(bytes_arg(vm, argv[0], "bytevector-length")));
}

val p_bytevector_ref(struct vm *vm, int argc, val *argv)
{
    val b = bytes_arg(vm, argv[0], "bytevector-u8-ref");
    return mk_fixnum(OBJ(lbytes, b)->data[index_arg(vm, argv[1], obj_len(b), "bytevector-u8-ref")]);
}

val p_bytevector_set(struct vm *vm, int argc, val *argv)
{
    val b = bytes_arg(vm, argv[0], "bytevector-u8-set!");
    size_t i = index_arg(vm, argv[1], obj_len(b), "bytevector-u8-set!");
    OBJ(lbytes, b)->data[i] = byte_arg(vm, argv[2], "bytevector-u8-set!");
    return V_UNSPEC;
}

/* ---- output ----------------------------------------------------------- */

val p_display(struct vm *vm, int argc, val *argv)
{
    print_value(stdout, argv[0], false);
    return V_UNSPEC;
}

val p_write(struct vm *vm, int argc, val *argv)
{
    print_value(stdout, argv[0], true);
    return V_UNSPEC;
}

val p_newline(struct vm *vm, int argc, val *argv)
{
    fputc('\n', stdout);
    return V_UNSPEC;
}
