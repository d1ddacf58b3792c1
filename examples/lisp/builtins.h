/*
 * builtins.h - the list of builtins: X(scheme-name, C function, min args,
 * max args or -1).  builtins.c turns it into the table a builtin value
 * indexes (a builtin is the immediate MK_IMM(IMM_PRIM, index)); the
 * prims_*.c files define the functions.  `apply` is run by the evaluator
 * itself (a tail call through apply stays a tail call).
 */
#ifndef GCHLISP_BUILTINS_H
#define GCHLISP_BUILTINS_H

#include "lisp.h"

#define BUILTINS(X) \
    /* prims_core.c: equivalence, predicates, numbers, control */ \
    X("eq?", p_eq, 2, 2) X("eqv?", p_eqv, 2, 2) X("equal?", p_equal, 2, 2) X("not", p_not, 1, 1) \
    X("null?", p_nullp, 1, 1) X("pair?", p_pairp, 1, 1) X("list?", p_listp, 1, 1) \
    X("number?", p_numberp, 1, 1) X("integer?", p_numberp, 1, 1) X("symbol?", p_symbolp, 1, 1) \
    X("string?", p_stringp, 1, 1) X("vector?", p_vectorp, 1, 1) X("procedure?", p_procedurep, 1, 1) \
    X("boolean?", p_booleanp, 1, 1) X("char?", p_charp, 1, 1) \
    X("+", p_add, 0, -1) X("-", p_sub, 1, -1) X("*", p_mul, 0, -1) \
    X("quotient", p_quotient, 2, 2) X("remainder", p_remainder, 2, 2) X("modulo", p_modulo, 2, 2) \
    X("=", p_num_eq, 1, -1) X("<", p_lt, 1, -1) X(">", p_gt, 1, -1) X("<=", p_le, 1, -1) \
    X(">=", p_ge, 1, -1) X("zero?", p_zerop, 1, 1) X("positive?", p_positivep, 1, 1) \
    X("negative?", p_negativep, 1, 1) X("even?", p_evenp, 1, 1) X("odd?", p_oddp, 1, 1) \
    X("abs", p_abs, 1, 1) X("min", p_min, 1, -1) X("max", p_max, 1, -1) \
    X("number->string", p_number_to_string, 1, 2) X("string->number", p_string_to_number, 1, 2) \
    X("apply", p_apply, 2, -1) X("error", p_error, 1, -1) X("exit", p_exit, 0, 1) \
    X("command-line", p_command_line, 0, 0) \
    /* prims_list.c: pairs and lists */ \
    X("cons", p_cons, 2, 2) X("car", p_car, 1, 1) X("cdr", p_cdr, 1, 1) X("cadr", p_cadr, 1, 1) \
    X("cddr", p_cddr, 1, 1) X("caar", p_caar, 1, 1) X("cdar", p_cdar, 1, 1) X("caddr", p_caddr, 1, 1) \
    X("set-car!", p_set_car, 2, 2) X("set-cdr!", p_set_cdr, 2, 2) X("list", p_list, 0, -1) \
    X("length", p_length, 1, 1) X("append", p_append, 0, -1) X("reverse", p_reverse, 1, 1) \
    X("list-tail", p_list_tail, 2, 2) X("list-ref", p_list_ref, 2, 2) X("memq", p_memq, 2, 2) \
    X("memv", p_memq, 2, 2) X("member", p_member, 2, 2) X("assq", p_assq, 2, 2) \
    X("assv", p_assq, 2, 2) X("assoc", p_assoc, 2, 2) X("map", p_map, 2, -1) \
    X("for-each", p_for_each, 2, -1) X("list-copy", p_list_copy, 1, 1) \
    /* prims_data.c: characters, strings, symbols, vectors, bytevectors, output */ \
    X("char->integer", p_char_to_integer, 1, 1) X("integer->char", p_integer_to_char, 1, 1) \
    X("string-length", p_string_length, 1, 1) X("string-ref", p_string_ref, 2, 2) \
    X("substring", p_substring, 2, 3) X("string-append", p_string_append, 0, -1) \
    X("string=?", p_string_eq, 2, -1) X("string<?", p_string_lt, 2, -1) \
    X("symbol->string", p_symbol_to_string, 1, 1) X("string->symbol", p_string_to_symbol, 1, 1) \
    X("string->list", p_string_to_list, 1, 1) X("list->string", p_list_to_string, 1, 1) \
    X("make-string", p_make_string, 1, 2) X("string-copy", p_string_copy, 1, 1) \
    X("make-vector", p_make_vector, 1, 2) X("vector", p_vector, 0, -1) \
    X("vector-ref", p_vector_ref, 2, 2) X("vector-set!", p_vector_set, 3, 3) \
    X("vector-length", p_vector_length, 1, 1) X("vector->list", p_vector_to_list, 1, 1) \
    X("list->vector", p_list_to_vector, 1, 1) X("vector-fill!", p_vector_fill, 2, 2) \
    X("make-bytevector", p_make_bytevector, 1, 2) X("bytevector?", p_bytevectorp, 1, 1) \
    X("bytevector-length", p_bytevector_length, 1, 1) \
    X("bytevector-u8-ref", p_bytevector_ref, 2, 2) X("bytevector-u8-set!", p_bytevector_set, 3, 3) \
    X("display", p_display, 1, 1) X("write", p_write, 1, 1) X("newline", p_newline, 0, 0) \
    /* prims_heap.c: hash tables, the collector */ \
    X("make-hash-table", p_make_hash_table, 0, 1) X("hash-table?", p_hash_tablep, 1, 1) \
    X("hash-table-set!", p_hash_set, 3, 3) X("hash-table-ref/default", p_hash_ref_default, 3, 3) \
    X("hash-table-ref", p_hash_ref, 2, 3) X("hash-table-delete!", p_hash_delete, 2, 2) \
    X("hash-table-count", p_hash_count, 1, 1) X("hash-table-contains?", p_hash_contains, 2, 2) \
    X("hash-table-update!/default", p_hash_update_default, 4, 4) \
    X("hash-table-keys", p_hash_keys, 1, 1) X("hash-table->alist", p_hash_to_alist, 1, 1) \
    X("gc", p_gc, 0, 0) X("gc-stats", p_gc_stats, 0, 0) \
    /* threads.c */ \
    X("spawn", p_spawn, 1, 1) X("join", p_join, 1, 1) X("thread?", p_threadp, 1, 1) \
    X("make-mutex", p_make_mutex, 0, 0) X("mutex-lock!", p_mutex_lock, 1, 1) \
    X("mutex-unlock!", p_mutex_unlock, 1, 1)

#define BUILTIN_DECL(name, fn, min, max) val fn(struct vm *vm, int argc, val *argv);
BUILTINS(BUILTIN_DECL)

#endif /* GCHLISP_BUILTINS_H */
