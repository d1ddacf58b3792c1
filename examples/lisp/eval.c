/*
 * eval.c - the evaluator: runs the node trees of compile.c.
 *
 * eval(node, env) is one loop.  Every tail position (the branches of if,
 * the last form of a body, and, or, let bodies, and the callee of a call
 * whose operator is a closure) replaces node and env and goes round the
 * loop again, so tail calls take no C stack: a loop of ten million
 * iterations runs in one C frame.  Only the operands of a call, tests,
 * and initialisers recurse (eval calls eval), and each recursion is
 * counted: past interp.max_depth, or near the end of the thread's C
 * stack, it is a Scheme error, never a crash.
 *
 * The current node and environment sit in two value-stack slots of the
 * eval frame (V1): the loop rewrites them before its next safepoint.  A
 * call's callee and arguments are pushed above them; a builtin reads its
 * arguments where they lie on the stack (the stack never moves).
 *
 * gch_safepoint is polled at the top of the loop: at every call and
 * every loop back-edge of the interpreted program.
 *
 * Errors: vm_error prints one line "error: <what> at <file>:<line>" and
 * longjmps to the thread's handler (main.c, threads.c), which restores
 * the value stack and the depth counter.
 */
#include "lisp.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---------------------------------------------------------- */

void vm_report(struct vm *vm, long line, const char *msg)
{
    fflush(stdout);
    fprintf(stderr, "error: %s at %s:%ld\n", msg, vm->I->file, line);
    fflush(stderr);
}

static _Noreturn void vm_verror(struct vm *vm, long line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static _Noreturn void vm_verror(struct vm *vm, long line, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    vm_report(vm, line, msg);
    longjmp(*vm->on_error, 1);
}

void vm_error(struct vm *vm, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vm_verror(vm, vm->line, fmt, ap);
}

void vm_error_at(struct vm *vm, long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vm_verror(vm, line, fmt, ap);
}

const char *type_name(val v)
{
    if (is_fixnum(v)) return "integer";
    if (is_pair(v)) return "pair";
    if (is_char(v)) return "character";
    if (is_prim(v)) return "procedure";
    if (v == V_NIL) return "()";
    if (v == V_TRUE || v == V_FALSE) return "boolean";
    if (is_imm(v) || v == V_NONE) return "unspecified";
    switch (HDR_TYPE(hdr_of(v))) {
    case OT_STRING: return "string";
    case OT_SYMBOL: return "symbol";
    case OT_CLOSURE: return "procedure";
    case OT_VECTOR: return "vector";
    case OT_HASH: return "hash-table";
    case OT_THREAD: return "thread";
    case OT_MUTEX: return "mutex";
    case OT_BYTEVECTOR: return "bytevector";
    default: return "object";
    }
}

static const char *sym_name(val sym) { return OBJ(lstring, (val)OBJ(lsymbol, sym)->name)->data; }

/* ---- variables ------------------------------------------------------- */

static void **frame_slot(val env, val depth, val idx)
{
    for (intptr_t d = fixnum_value(depth); d > 0; d--)
        env = (val)OBJ(lframe, env)->parent;
    return &OBJ(lframe, env)->slots[fixnum_value(idx)];
}

static val local_ref(struct vm *vm, val node, val env)
{
    struct lnode *n = OBJ(lnode, node);
    val v = (val)*frame_slot(env, (val)n->a, (val)n->b);
    if (v == V_NONE)
        vm_error_at(vm, node_line(node), "variable %s used before its definition", sym_name((val)n->c));
    return v;
}

static val global_ref(struct vm *vm, val node)
{
    val sym = (val)OBJ(lnode, node)->a;
    val v = (val)OBJ(lsymbol, sym)->value;
    if (v == V_NONE)
        vm_error_at(vm, node_line(node), "unbound variable: %s", sym_name(sym));
    return v;
}

/* ev: eval without a new eval frame for the leaves (constants and
 * variables): most operands are leaves. */
static inline val ev(struct vm *vm, val node, val env)
{
    switch (node_kind(node)) {
    case N_CONST: return (val)OBJ(lnode, node)->a;
    case N_LREF: return local_ref(vm, node, env);
    case N_GREF: return global_ref(vm, node);
    default: return eval(vm, node, env);
    }
}

/* assign: set!, define, and the slots of letrec and internal defines.
 * The value is computed first (it may allocate); the store is V2's. */
static val assign(struct vm *vm, val node, val env)
{
    struct lnode *n = OBJ(lnode, node);
    enum node_kind k = node_kind(node);
    val v = ev(vm, k == N_LSET ? (val)n->c : (val)n->b, env);
    if (k == N_LSET) {
        vm_set(vm, frame_slot(env, (val)n->a, (val)n->b), v);
        return V_UNSPEC;
    }
    struct lsymbol *sym = OBJ(lsymbol, (val)n->a);
    if (k == N_GSET && sym->value == NULL)
        vm_error_at(vm, node_line(node), "unbound variable: %s", sym_name((val)n->a));
    bool was_unbound = sym->value == NULL;
    vm_set(vm, &sym->value, v);
    if (was_unbound)
        symtab_bind(vm, (val)n->a); /* the weak table keeps bound symbols */
    return V_UNSPEC;
}

/* ---- calls ----------------------------------------------------------- */

static _Noreturn void arity_error(struct vm *vm, val f, int argc)
{
    char name[128] = "procedure";
    if (is_prim(f)) {
        snprintf(name, sizeof name, "%s", builtin_get(f)->name);
    } else {
        val s = (val)OBJ(lnode, (val)OBJ(lclosure, f)->lambda)->b;
        if (is_type(s, OT_SYMBOL))
            snprintf(name, sizeof name, "%s", sym_name(s));
    }
    vm_error(vm, "wrong number of arguments to %s (%d given)", name, argc);
}

/* spread_apply: (apply f a ... lst) at stack[fbase]: becomes (f a ... x ...).
 * Nothing here allocates, so lst needs no slot while it is spread. */
static void spread_apply(struct vm *vm, size_t fbase)
{
    int argc = (int)(vm->sp - fbase - 1);
    if (argc < 2)
        arity_error(vm, vm->stack[fbase], argc);
    val lst = vm->stack[vm->sp - 1];
    memmove(&vm->stack[fbase], &vm->stack[fbase + 1], (size_t)(argc - 1) * sizeof(val));
    vm->sp = fbase + (size_t)argc - 1;
    for (; is_pair(lst); lst = cdr(lst))
        vm_push(vm, car(lst));
    if (lst != V_NIL)
        vm_error(vm, "apply: last argument is not a list");
}

/* closure_frame: the frame for calling closure f with the argc values
 * above stack[fbase]; checks the arity. */
static val closure_frame(struct vm *vm, val f, size_t fbase, int argc)
{
    intptr_t info = fixnum_value((val)OBJ(lnode, (val)OBJ(lclosure, f)->lambda)->c);
    int np = (int)(info & 0xff), rest = (int)((info >> 8) & 1);
    size_t nslots = (size_t)(info >> 9);
    if (argc < np || (!rest && argc > np))
        arity_error(vm, f, argc);
    val frame = mk_frame(vm, nslots, (val)OBJ(lclosure, f)->env);
    struct lframe *fr = OBJ(lframe, frame);
    for (int i = 0; i < np; i++)
        vm_set(vm, &fr->slots[i], vm->stack[fbase + 1 + i]);
    if (rest) {
        vm_push(vm, frame);
        vm_push(vm, V_NIL);
        for (int i = argc; i-- > np;)
            vm->stack[vm->sp - 1] = mk_pair(vm, vm->stack[fbase + 1 + i], vm->stack[vm->sp - 1]);
        vm_set(vm, &fr->slots[np], vm->stack[vm->sp - 1]);
    }
    return frame;
}

/* prepare_call: run the call whose callee is at stack[fbase] and whose
 * arguments are above it.  A builtin runs here: false, result in *res.
 * A closure gets its frame: true, with *node and *env to continue with.
 * Either way the stack is popped to fbase. */
static bool prepare_call(struct vm *vm, size_t fbase, val *node, val *env, val *res)
{
    for (;;) {
        val f = vm->stack[fbase];
        int argc = (int)(vm->sp - fbase - 1);
        if (is_apply_prim(f)) {
            spread_apply(vm, fbase);
            continue;
        }
        if (is_prim(f)) {
            const struct builtin *b = builtin_get(f);
            if (argc < b->min || (b->max >= 0 && argc > b->max))
                arity_error(vm, f, argc);
            *res = b->fn(vm, argc, &vm->stack[fbase + 1]);
            vm->sp = fbase;
            return false;
        }
        if (!is_type(f, OT_CLOSURE))
            vm_error(vm, "not a procedure: %s", type_name(f));
        *env = closure_frame(vm, f, fbase, argc);
        *node = (val)OBJ(lnode, (val)OBJ(lclosure, f)->lambda)->a;
        vm->sp = fbase;
        return true;
    }
}

val vm_apply(struct vm *vm, int argc)
{
    size_t fbase = vm->sp - (size_t)argc - 1;
    val node, env, res;
    if (prepare_call(vm, fbase, &node, &env, &res))
        res = eval(vm, node, env); /* eval roots node and env before it allocates */
    return res;
}

static val mk_closure(struct vm *vm, val lambda, val env)
{
    struct lclosure *c = (void *)mk_obj(vm, &closure_type, OT_CLOSURE, 0);
    vm_set(vm, &c->lambda, lambda);
    vm_set(vm, &c->env, env);
    return (val)c;
}

/* ---- the loop -------------------------------------------------------- */

static void enter(struct vm *vm, val node)
{
    char probe;
    if (++vm->depth > vm->I->max_depth || &probe < vm->stack_floor) {
        vm->depth--;
        vm_error_at(vm, node_line(node), "recursion too deep (limit %zu nested calls)",
                    vm->I->max_depth);
    }
}

/* eval_let: a let's frame from its inits' values (or letrec's empty one). */
static val eval_let(struct vm *vm, val node, val env)
{
    struct lnode *n = OBJ(lnode, node);
    val inits = (val)n->a;
    size_t ninit = obj_len(inits), base = vm->sp;
    if (node_kind(node) == N_LET)
        for (size_t i = 0; i < ninit; i++)
            vm_push(vm, ev(vm, (val)OBJ(lvector, inits)->items[i], env));
    val frame = mk_frame(vm, (size_t)fixnum_value((val)n->c), env);
    if (node_kind(node) == N_LET)
        for (size_t i = 0; i < ninit; i++)
            vm_set(vm, &OBJ(lframe, frame)->slots[i], vm->stack[base + i]);
    vm->sp = base;
    return frame;
}

static void eval_letrec_inits(struct vm *vm, val node, val frame)
{
    val inits = (val)OBJ(lnode, node)->a;
    for (size_t i = 0; i < obj_len(inits); i++) {
        val v = ev(vm, (val)OBJ(lvector, inits)->items[i], frame);
        vm_set(vm, &OBJ(lframe, frame)->slots[i], v);
    }
}

/* eval_call: push the callee and the arguments of a call node. */
static void eval_operands(struct vm *vm, val node, val env)
{
    struct lnode *n = OBJ(lnode, node);
    vm_push(vm, ev(vm, (val)n->a, env));
    val args = (val)n->b;
    for (size_t i = 0; i < obj_len(args); i++)
        vm_push(vm, ev(vm, (val)OBJ(lvector, args)->items[i], env));
    vm->line = node_line(node);
}

/* eval_items: all but the last of a seq/and/or; returns the last node to
 * continue with, or 0 with *res set when and/or stopped early. */
static val eval_items(struct vm *vm, val node, val env, val *res)
{
    enum node_kind k = node_kind(node);
    val items = (val)OBJ(lnode, node)->b;
    size_t n = obj_len(items);
    for (size_t i = 0; i + 1 < n; i++) {
        val v = ev(vm, (val)OBJ(lvector, items)->items[i], env);
        if ((k == N_AND && !truthy(v)) || (k == N_OR && truthy(v))) {
            *res = v;
            return 0;
        }
    }
    return (val)OBJ(lvector, items)->items[n - 1];
}

val eval(struct vm *vm, val node, val env)
{
    enter(vm, node);
    size_t base = vm->sp;
    vm_push(vm, node);
    vm_push(vm, env);
    val res;
    for (;;) {
        gch_safepoint(vm->t);
        struct lnode *n = OBJ(lnode, node);
        switch (node_kind(node)) {
        case N_CONST: res = (val)n->a; goto done;
        case N_LREF: res = local_ref(vm, node, env); goto done;
        case N_GREF: res = global_ref(vm, node); goto done;
        case N_LSET: case N_GSET: case N_GDEF: res = assign(vm, node, env); goto done;
        case N_LAMBDA: res = mk_closure(vm, node, env); goto done;
        case N_IF: node = truthy(ev(vm, (val)n->a, env)) ? (val)n->b : (val)n->c; break;
        case N_SEQ: case N_AND: case N_OR:
            node = eval_items(vm, node, env, &res);
            if (node == 0)
                goto done;
            break;
        case N_LET: case N_LETREC: {
            val body = (val)n->b;
            env = eval_let(vm, node, env);
            vm->stack[base + 1] = env;
            if (node_kind(node) == N_LETREC)
                eval_letrec_inits(vm, node, env);
            node = body;
            break;
        }
        case N_CALL: {
            size_t fbase = vm->sp;
            eval_operands(vm, node, env);
            if (!prepare_call(vm, fbase, &node, &env, &res))
                goto done;
            break;
        }
        }
        vm->stack[base] = node;
        vm->stack[base + 1] = env;
    }
done:
    vm->sp = base;
    vm->depth--;
    return res;
}
