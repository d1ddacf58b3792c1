/*
 * builtins.c - the table of builtins (from builtins.h) and the helpers
 * every builtin uses: argument checks and the equivalence predicates.
 *
 * A builtin value is an immediate (IMM_PRIM, its index here): builtins
 * take no heap space and need no root.  builtins_install binds each name
 * as a global (a store into a symbol: gch_write, V2).
 */
#include "builtins.h"

#include <string.h>

#define BUILTIN_ROW(name, fn, min, max) {name, fn, min, max},
static const struct builtin builtins[] = {BUILTINS(BUILTIN_ROW)};
#define NBUILTINS (sizeof builtins / sizeof builtins[0])

const struct builtin *builtin_get(val prim) { return &builtins[IMM_PAYLOAD(prim)]; }

bool is_apply_prim(val v) { return is_prim(v) && builtins[IMM_PAYLOAD(v)].fn == p_apply; }

/* builtin_value: the builtin named name (compile.c's rewrites). */
val builtin_value(const char *name)
{
    for (size_t i = 0; i < NBUILTINS; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return MK_IMM(IMM_PRIM, i);
    return V_FALSE; /* a typo in the interpreter; the call reports it */
}

#define KW_NAME(n, s) s,
static const char *const keyword_names[] = {KEYWORDS(KW_NAME)};

/* builtins_install: intern the keywords and bind every builtin. */
void builtins_install(struct vm *vm)
{
    for (int k = 0; k < KW_COUNT; k++)
        gch_write(vm->t, (void **)&vm->I->kw[k],
                  (void *)intern(vm, keyword_names[k], strlen(keyword_names[k])));
    for (size_t i = 0; i < NBUILTINS; i++) {
        val sym = intern(vm, builtins[i].name, strlen(builtins[i].name));
        vm_set(vm, &OBJ(lsymbol, sym)->value, MK_IMM(IMM_PRIM, i));
        symtab_bind(vm, sym); /* bound: the weak table keeps it */
    }
}

void arg_check(struct vm *vm, bool ok, const char *who, const char *want, val got)
{
    if (!ok)
        vm_error(vm, "%s: expected %s, got %s", who, want, type_name(got));
}

intptr_t arg_fixnum(struct vm *vm, val v, const char *who)
{
    arg_check(vm, is_fixnum(v), who, "an integer", v);
    return fixnum_value(v);
}

/* Fixnums, characters, booleans and () are immediates: eqv? is eq?. */
bool eqv(val a, val b) { return a == b; }

static bool string_equal(val a, val b)
{
    return obj_len(a) == obj_len(b) &&
           memcmp(OBJ(lstring, a)->data, OBJ(lstring, b)->data, obj_len(a)) == 0;
}

#define MAX_EQUAL_DEPTH 1000000

/* equal_rec: structural equality; recursion follows cars (and vector
 * elements), the cdr is a loop.  Nesting past MAX_EQUAL_DEPTH is an
 * error rather than a C stack overflow. */
static bool equal_rec(struct vm *vm, val a, val b, size_t depth)
{
    if (depth > MAX_EQUAL_DEPTH)
        vm_error(vm, "equal?: structure nested too deeply");
    for (;;) {
        if (a == b)
            return true;
        if (is_pair(a) && is_pair(b)) {
            if (!equal_rec(vm, car(a), car(b), depth + 1))
                return false;
            a = cdr(a);
            b = cdr(b);
            continue;
        }
        if (!is_ptr(a) || !is_ptr(b) || HDR_TYPE(hdr_of(a)) != HDR_TYPE(hdr_of(b)))
            return false;
        if (is_type(a, OT_STRING))
            return string_equal(a, b);
        if (is_type(a, OT_VECTOR)) {
            if (obj_len(a) != obj_len(b))
                return false;
            for (size_t i = 0; i < obj_len(a); i++)
                if (!equal_rec(vm, (val)OBJ(lvector, a)->items[i], (val)OBJ(lvector, b)->items[i], depth + 1))
                    return false;
            return true;
        }
        if (is_type(a, OT_BYTEVECTOR))
            return obj_len(a) == obj_len(b) &&
                   memcmp(OBJ(lbytes, a)->data, OBJ(lbytes, b)->data, obj_len(a)) == 0;
        return false;
    }
}

bool equal(struct vm *vm, val a, val b) { return equal_rec(vm, a, b, 0); }
