/*
 * compile.c - data to a tree of nodes (struct lnode, lisp.h) that eval.c
 * runs.  Variables get lexical addresses (frame depth, slot); derived
 * forms are rewritten into core ones:
 *   core:    quote if define set! lambda begin let letrec and or, calls
 *   derived: let* named-let do cond case when unless quasiquote letrec*
 * A rewrite builds new lists, which go on the value stack while they are
 * compiled (V1); a rewrite that needs a builtin (memv, cons, append ...)
 * puts the builtin's value itself in operator position, so a program
 * that rebinds `cons` does not change what quasiquote means.
 *
 * Scopes: each lambda, let and letrec is one runtime frame.  The symbols
 * of the scopes being compiled live on the value stack (struct scope
 * names where), which keeps uninterned temporaries alive and needs no
 * cleanup when an error unwinds the compiler.  A body's internal defines
 * are found before its forms are compiled and get slots in its frame.
 * Keywords are recognised by name, even where a local shadows them.
 */
#include "lisp.h"

#include <string.h>

struct cc { struct vm *vm; struct reader *r; };
struct scope { struct scope *up; size_t base, n; };

static val comp(struct cc *c, struct scope *sc, val x, long line);

#define S(c) ((c)->vm->stack)
#define PUSH(c, v) vm_push((c)->vm, (v))

static long line_of(struct cc *c, val x, long line)
{
    long l = is_pair(x) ? reader_line_of(c->r, x) : 0;
    return l != 0 ? l : line;
}

static _Noreturn void bad(struct cc *c, long line, const char *what)
{
    vm_error_at(c->vm, line, "syntax error: bad %s", what);
}

/* list_len: the length of a proper list, -1 otherwise. */
static long list_len(val x)
{
    long n = 0;
    for (; is_pair(x); x = cdr(x))
        n++;
    return x == V_NIL ? n : -1;
}

static bool is_kw(struct cc *c, val x, enum keyword k) { return x == c->vm->I->kw[k]; }
static bool is_form(struct cc *c, val x, enum keyword k) { return is_pair(x) && is_kw(c, car(x), k); }
static val list2(struct cc *c, val a, val b) { PUSH(c, a); val l = mk_pair(c->vm, b, V_NIL); c->vm->sp--; return mk_pair(c->vm, a, l); }
static val cons(struct cc *c, val a, val d) { return mk_pair(c->vm, a, d); }

/* vec_from_stack: a vector of the values at stack[base..sp); pops them. */
static val vec_from_stack(struct cc *c, size_t base)
{
    size_t n = c->vm->sp - base;
    val v = mk_vector(c->vm, n, V_NONE);
    for (size_t i = 0; i < n; i++)
        vm_set(c->vm, &OBJ(lvector, v)->items[i], S(c)[base + i]);
    c->vm->sp = base;
    return v;
}

static val node(struct cc *c, enum node_kind k, long line, val a, val b, val d)
{
    return mk_node(c->vm, k, line, a, b, d);
}

/* ---- scopes ---------------------------------------------------------- */

static bool lookup(struct cc *c, struct scope *sc, val sym, int *depth, int *idx)
{
    for (int d = 0; sc != NULL; sc = sc->up, d++)
        for (size_t i = sc->n; i-- > 0;)
            if (S(c)[sc->base + i] == sym) {
                *depth = d;
                *idx = (int)i;
                return true;
            }
    return false;
}

/* scope_add: the slot of sym in sc, adding it.  sc's symbols are the top
 * of the value stack whenever a symbol is added. */
static int scope_add(struct cc *c, struct scope *sc, val sym, long line)
{
    for (size_t i = 0; i < sc->n; i++)
        if (S(c)[sc->base + i] == sym)
            return (int)i;
    if (sc->n >= MAX_FRAME_SLOTS)
        vm_error_at(c->vm, line, "too many local variables (limit %d)", MAX_FRAME_SLOTS);
    if (c->vm->sp != sc->base + sc->n)
        vm_error_at(c->vm, line, "internal error: scope not on top of the stack");
    PUSH(c, sym);
    return (int)sc->n++;
}

static val var_node(struct cc *c, struct scope *sc, val sym, long line, bool set, val value)
{
    int depth, idx;
    if (lookup(c, sc, sym, &depth, &idx))
        return node(c, set ? N_LSET : N_LREF, line, mk_fixnum(depth), mk_fixnum(idx),
                    set ? value : sym);
    return node(c, set ? N_GSET : N_GREF, line, sym, value, V_NONE);
}

/* ---- bodies ---------------------------------------------------------- */

/* define_parts: for (define name e) or (define (name . params) body...),
 * the name, and in *value the expression (a lambda for the second). */
static val define_parts(struct cc *c, val x, long line, val *value)
{
    if (list_len(x) < 2)
        bad(c, line, "define");
    val target = car(cdr(x));
    if (is_pair(target)) { /* (define (f . params) body...) */
        val name = car(target);
        if (!is_type(name, OT_SYMBOL) || cdr(cdr(x)) == V_NIL)
            bad(c, line, "define");
        val lam = cons(c, cdr(target), cdr(cdr(x)));
        *value = cons(c, c->vm->I->kw[KW_lambda], lam);
        return name;
    }
    if (!is_type(target, OT_SYMBOL) || list_len(x) > 3)
        bad(c, line, "define");
    *value = cdr(cdr(x)) == V_NIL ? V_UNSPEC : car(cdr(cdr(x)));
    return target;
}

/* scan_defines: give every internal define of body a slot in sc. */
static void scan_defines(struct cc *c, struct scope *sc, val body, long line)
{
    for (; is_pair(body); body = cdr(body)) {
        val x = car(body);
        if (is_form(c, x, KW_define) && list_len(x) >= 2) {
            val t = car(cdr(x));
            val name = is_pair(t) ? car(t) : t;
            if (!is_type(name, OT_SYMBOL))
                bad(c, line_of(c, x, line), "define");
            scope_add(c, sc, name, line_of(c, x, line));
        }
    }
}

static val comp_lambda_named(struct cc *c, struct scope *sc, val x, long line, val name);

/* comp_define: a define inside a body (sc != NULL), or a global one. */
static val comp_define(struct cc *c, struct scope *sc, val x, long line)
{
    val value;
    val name = define_parts(c, x, line, &value);
    PUSH(c, value);
    val vn = is_form(c, value, KW_lambda) ? comp_lambda_named(c, sc, value, line, name)
                                          : comp(c, sc, value, line);
    c->vm->sp--;
    if (sc == NULL)
        return node(c, N_GDEF, line, name, vn, V_NONE);
    int depth, idx;
    if (!lookup(c, sc, name, &depth, &idx) || depth != 0)
        vm_error_at(c->vm, line, "syntax error: define not at the start of a body");
    return var_node(c, sc, name, line, true, vn);
}

/* comp_seq: the forms of body as one node (a SEQ of several). */
static val comp_seq(struct cc *c, struct scope *sc, val body, long line)
{
    if (body == V_NIL)
        return node(c, N_CONST, line, V_UNSPEC, V_NONE, V_NONE);
    if (list_len(body) < 0)
        bad(c, line, "body");
    if (cdr(body) == V_NIL)
        return comp(c, sc, car(body), line);
    size_t base = c->vm->sp;
    for (val b = body; b != V_NIL; b = cdr(b))
        PUSH(c, comp(c, sc, car(b), line));
    val v = vec_from_stack(c, base);
    return node(c, N_SEQ, line, V_NONE, v, V_NONE);
}

/* ---- lambda, let, letrec --------------------------------------------- */

static val comp_lambda_named(struct cc *c, struct scope *sc, val x, long line, val name)
{
    if (list_len(x) < 3)
        bad(c, line, "lambda");
    struct scope inner = {sc, c->vm->sp, 0};
    val p = car(cdr(x));
    int np = 0, rest = 0;
    for (; is_pair(p); p = cdr(p), np++) {
        if (!is_type(car(p), OT_SYMBOL))
            bad(c, line, "lambda parameter");
        scope_add(c, &inner, car(p), line);
    }
    if (p != V_NIL) {
        if (!is_type(p, OT_SYMBOL))
            bad(c, line, "lambda parameter");
        scope_add(c, &inner, p, line);
        rest = 1;
    }
    if ((size_t)(np + rest) != inner.n)
        bad(c, line, "lambda (duplicate parameter)");
    val body = cdr(cdr(x));
    scan_defines(c, &inner, body, line);
    val b = comp_seq(c, &inner, body, line);
    c->vm->sp = inner.base;
    return node(c, N_LAMBDA, line, b, name, LAMBDA_INFO(np, rest, inner.n));
}

/* check_bindings: ((name init) ...) */
static void check_bindings(struct cc *c, val bs, long line, const char *what)
{
    if (list_len(bs) < 0)
        bad(c, line, what);
    for (; bs != V_NIL; bs = cdr(bs))
        if (list_len(car(bs)) != 2 || !is_type(car(car(bs)), OT_SYMBOL))
            bad(c, line, what);
}

static val comp_let(struct cc *c, struct scope *sc, val x, long line)
{
    val bs = car(cdr(x));
    check_bindings(c, bs, line, "let");
    size_t base = c->vm->sp;
    for (val b = bs; b != V_NIL; b = cdr(b))
        PUSH(c, comp(c, sc, car(cdr(car(b))), line));
    PUSH(c, vec_from_stack(c, base)); /* the inits, at stack[base] */
    struct scope inner = {sc, c->vm->sp, 0};
    for (val b = bs; b != V_NIL; b = cdr(b))
        scope_add(c, &inner, car(car(b)), line);
    if (inner.n != (size_t)list_len(bs))
        bad(c, line, "let (duplicate variable)");
    scan_defines(c, &inner, cdr(cdr(x)), line);
    val body = comp_seq(c, &inner, cdr(cdr(x)), line);
    val r = node(c, N_LET, line, S(c)[base], body, mk_fixnum((intptr_t)inner.n));
    c->vm->sp = base;
    return r;
}

static val comp_letrec(struct cc *c, struct scope *sc, val x, long line)
{
    val bs = car(cdr(x));
    check_bindings(c, bs, line, "letrec");
    struct scope inner = {sc, c->vm->sp, 0};
    for (val b = bs; b != V_NIL; b = cdr(b))
        scope_add(c, &inner, car(car(b)), line);
    scan_defines(c, &inner, cdr(cdr(x)), line);
    size_t base = c->vm->sp;
    for (val b = bs; b != V_NIL; b = cdr(b)) {
        val init = car(cdr(car(b)));
        PUSH(c, is_form(c, init, KW_lambda) ? comp_lambda_named(c, &inner, init, line, car(car(b)))
                                            : comp(c, &inner, init, line));
    }
    PUSH(c, vec_from_stack(c, base)); /* the inits, at stack[base] */
    val body = comp_seq(c, &inner, cdr(cdr(x)), line);
    val r = node(c, N_LETREC, line, S(c)[base], body, mk_fixnum((intptr_t)inner.n));
    c->vm->sp = inner.base;
    return r;
}

/* comp_named_let: (let name ((v i) ...) body...) =>
 * ((letrec ((name (lambda (v ...) body...))) name) i ...) */
static val comp_named_let(struct cc *c, struct scope *sc, val x, long line)
{
    if (list_len(x) < 4)
        bad(c, line, "named let");
    val name = car(cdr(x)), bs = car(cdr(cdr(x)));
    check_bindings(c, bs, line, "named let");
    size_t base = c->vm->sp;
    PUSH(c, V_NIL); /* vars, reversed then fixed below */
    PUSH(c, V_NIL); /* inits */
    for (val b = bs; b != V_NIL; b = cdr(b)) {
        S(c)[base] = cons(c, car(car(b)), S(c)[base]);
        S(c)[base + 1] = cons(c, car(cdr(car(b))), S(c)[base + 1]);
    }
    val rev = builtin_value("reverse");
    S(c)[base] = builtin_get(rev)->fn(c->vm, 1, &S(c)[base]);
    S(c)[base + 1] = builtin_get(rev)->fn(c->vm, 1, &S(c)[base + 1]);
    val lam = cons(c, c->vm->I->kw[KW_lambda], cons(c, S(c)[base], cdr(cdr(cdr(x)))));
    val binding = list2(c, name, lam);
    val letrec = cons(c, c->vm->I->kw[KW_letrec], list2(c, cons(c, binding, V_NIL), name));
    val call = cons(c, letrec, S(c)[base + 1]);
    S(c)[base] = call;
    val n = comp(c, sc, call, line);
    c->vm->sp = base;
    return n;
}

/* ---- conditionals ---------------------------------------------------- */

static val comp_if(struct cc *c, struct scope *sc, val x, long line)
{
    long n = list_len(x);
    if (n != 3 && n != 4)
        bad(c, line, "if");
    size_t base = c->vm->sp;
    PUSH(c, comp(c, sc, car(cdr(x)), line));
    PUSH(c, comp(c, sc, car(cdr(cdr(x))), line));
    val e = n == 4 ? comp(c, sc, car(cdr(cdr(cdr(x)))), line) : node(c, N_CONST, line, V_UNSPEC, V_NONE, V_NONE);
    val r = node(c, N_IF, line, S(c)[base], S(c)[base + 1], e);
    c->vm->sp = base;
    return r;
}

static val comp_andor(struct cc *c, struct scope *sc, val x, long line, enum node_kind k)
{
    if (list_len(x) < 0)
        bad(c, line, k == N_AND ? "and" : "or");
    if (cdr(x) == V_NIL)
        return node(c, N_CONST, line, k == N_AND ? V_TRUE : V_FALSE, V_NONE, V_NONE);
    if (cdr(cdr(x)) == V_NIL)
        return comp(c, sc, car(cdr(x)), line);
    size_t base = c->vm->sp;
    for (val b = cdr(x); b != V_NIL; b = cdr(b))
        PUSH(c, comp(c, sc, car(b), line));
    return node(c, k, line, V_NONE, vec_from_stack(c, base), V_NONE);
}

/* comp_cond_arrow: (test => f) rest  =>  (let ((g test)) (if g (f g) (cond . rest))) */
static val comp_cond_arrow(struct cc *c, struct scope *sc, val cl, val rest, long line)
{
    if (list_len(cl) != 3)
        bad(c, line, "cond clause");
    size_t base = c->vm->sp;
    val g = mk_gensym(c->vm, "cond-value");
    PUSH(c, g);
    PUSH(c, cons(c, c->vm->I->kw[KW_cond], rest));
    val call = list2(c, car(cdr(cdr(cl))), g);
    val iff = cons(c, c->vm->I->kw[KW_if], cons(c, g, list2(c, call, S(c)[base + 1])));
    PUSH(c, iff);
    val bind = cons(c, list2(c, g, car(cl)), V_NIL);
    val let = cons(c, c->vm->I->kw[KW_let], list2(c, bind, S(c)[base + 2]));
    S(c)[base + 1] = let;
    val n = comp(c, sc, let, line);
    c->vm->sp = base;
    return n;
}

static val comp_cond(struct cc *c, struct scope *sc, val clauses, long line)
{
    if (clauses == V_NIL)
        return node(c, N_CONST, line, V_UNSPEC, V_NONE, V_NONE);
    val cl = car(clauses);
    if (list_len(cl) < 1)
        bad(c, line, "cond clause");
    line = line_of(c, cl, line);
    if (is_kw(c, car(cl), KW_else))
        return comp_seq(c, sc, cdr(cl), line);
    if (cdr(cl) != V_NIL && is_kw(c, car(cdr(cl)), KW_arrow))
        return comp_cond_arrow(c, sc, cl, cdr(clauses), line);
    size_t base = c->vm->sp;
    if (cdr(cl) == V_NIL) { /* (test): its value if true */
        PUSH(c, comp(c, sc, car(cl), line));
        PUSH(c, comp_cond(c, sc, cdr(clauses), line));
        return node(c, N_OR, line, V_NONE, vec_from_stack(c, base), V_NONE);
    }
    PUSH(c, comp(c, sc, car(cl), line));
    PUSH(c, comp_seq(c, sc, cdr(cl), line));
    val e = comp_cond(c, sc, cdr(clauses), line);
    val r = node(c, N_IF, line, S(c)[base], S(c)[base + 1], e);
    c->vm->sp = base;
    return r;
}

/* comp_case: (case key ((d ...) e ...) ... (else e ...)) =>
 * (let ((g key)) (cond ((memv g '(d ...)) e ...) ... (else e ...))) */
static val comp_case(struct cc *c, struct scope *sc, val x, long line)
{
    if (list_len(x) < 2)
        bad(c, line, "case");
    size_t base = c->vm->sp;
    val g = mk_gensym(c->vm, "case-key");
    PUSH(c, g);
    PUSH(c, V_NIL); /* cond clauses, reversed */
    for (val cls = cdr(cdr(x)); is_pair(cls); cls = cdr(cls)) {
        val cl = car(cls);
        if (list_len(cl) < 1)
            bad(c, line, "case clause");
        val test = car(cl);
        if (!is_kw(c, test, KW_else)) {
            val q = list2(c, c->vm->I->kw[KW_quote], test);
            test = cons(c, builtin_value("memv"), list2(c, g, q));
        }
        S(c)[base + 1] = cons(c, cons(c, test, cdr(cl)), S(c)[base + 1]);
    }
    S(c)[base + 1] = builtin_get(builtin_value("reverse"))->fn(c->vm, 1, &S(c)[base + 1]);
    S(c)[base + 1] = cons(c, c->vm->I->kw[KW_cond], S(c)[base + 1]);
    val bind = cons(c, list2(c, g, car(cdr(x))), V_NIL);
    val let = cons(c, c->vm->I->kw[KW_let], list2(c, bind, S(c)[base + 1]));
    S(c)[base + 1] = let;
    val n = comp(c, sc, let, line);
    c->vm->sp = base;
    return n;
}

static val comp_when(struct cc *c, struct scope *sc, val x, long line, bool when)
{
    if (list_len(x) < 2)
        bad(c, line, when ? "when" : "unless");
    size_t base = c->vm->sp;
    PUSH(c, comp(c, sc, car(cdr(x)), line));
    PUSH(c, comp_seq(c, sc, cdr(cdr(x)), line));
    val none = node(c, N_CONST, line, V_UNSPEC, V_NONE, V_NONE);
    val r = when ? node(c, N_IF, line, S(c)[base], S(c)[base + 1], none)
                 : node(c, N_IF, line, S(c)[base], none, S(c)[base + 1]);
    c->vm->sp = base;
    return r;
}

/* ---- let*, do, quasiquote -------------------------------------------- */

/* comp_let_star: (let* (b . bs) body...) => (let (b) (let* bs body...)) */
static val comp_let_star(struct cc *c, struct scope *sc, val x, long line)
{
    if (list_len(x) < 3)
        bad(c, line, "let*");
    val bs = car(cdr(x));
    check_bindings(c, bs, line, "let*");
    if (bs == V_NIL || cdr(bs) == V_NIL)
        return comp_let(c, sc, x, line);
    size_t base = c->vm->sp;
    val inner = cons(c, c->vm->I->kw[KW_let_star], cons(c, cdr(bs), cdr(cdr(x))));
    PUSH(c, inner);
    val outer = cons(c, c->vm->I->kw[KW_let], list2(c, cons(c, car(bs), V_NIL), inner));
    PUSH(c, outer);
    val n = comp_let(c, sc, outer, line);
    c->vm->sp = base;
    return n;
}

/* comp_do: (do ((v init step) ...) (test res ...) cmd ...) =>
 * (let loop ((v init) ...) (if test (begin res ...) (begin cmd ... (loop step ...)))) */
static val comp_do(struct cc *c, struct scope *sc, val x, long line)
{
    if (list_len(x) < 3 || list_len(car(cdr(x))) < 0 || list_len(car(cdr(cdr(x)))) < 1)
        bad(c, line, "do");
    size_t base = c->vm->sp;
    val loop = mk_gensym(c->vm, "do-loop");
    PUSH(c, loop);
    PUSH(c, V_NIL); /* bindings, reversed */
    PUSH(c, V_NIL); /* steps, reversed */
    for (val b = car(cdr(x)); b != V_NIL; b = cdr(b)) {
        val s = car(b);
        long n = list_len(s);
        if ((n != 2 && n != 3) || !is_type(car(s), OT_SYMBOL))
            bad(c, line, "do binding");
        S(c)[base + 1] = cons(c, list2(c, car(s), car(cdr(s))), S(c)[base + 1]);
        S(c)[base + 2] = cons(c, n == 3 ? car(cdr(cdr(s))) : car(s), S(c)[base + 2]);
    }
    prim_fn rev = builtin_get(builtin_value("reverse"))->fn;
    S(c)[base + 1] = rev(c->vm, 1, &S(c)[base + 1]);
    S(c)[base + 2] = rev(c->vm, 1, &S(c)[base + 2]);
    val again = cons(c, cons(c, loop, S(c)[base + 2]), V_NIL);
    S(c)[base + 2] = again;
    val cmds = builtin_get(builtin_value("append"))->fn(c->vm, 2, (val[]){cdr(cdr(cdr(x))), again});
    PUSH(c, cmds); /* stack: loop binds again cmds */
    val test = car(cdr(cdr(x)));
    val res = cons(c, c->vm->I->kw[KW_begin], cdr(test));
    PUSH(c, res);
    val els = cons(c, c->vm->I->kw[KW_begin], S(c)[base + 3]);
    PUSH(c, els);
    val iff = cons(c, c->vm->I->kw[KW_if], cons(c, car(test), list2(c, S(c)[base + 4], els)));
    PUSH(c, iff);
    val form = cons(c, c->vm->I->kw[KW_let], cons(c, loop, list2(c, S(c)[base + 1], iff)));
    PUSH(c, form);
    val n = comp_named_let(c, sc, form, line);
    c->vm->sp = base;
    return n;
}

static val qq(struct cc *c, val x, int depth, long line);

static val qq_list(struct cc *c, val x, int depth, long line)
{
    val head = car(x);
    size_t base = c->vm->sp;
    if (is_form(c, head, KW_unquote_splicing) && depth == 1) {
        if (list_len(head) != 2)
            bad(c, line, "unquote-splicing");
        PUSH(c, qq(c, cdr(x), depth, line));
        val r = cons(c, builtin_value("append"), list2(c, car(cdr(head)), S(c)[base]));
        c->vm->sp = base;
        return r;
    }
    PUSH(c, qq(c, head, depth, line));
    PUSH(c, qq(c, cdr(x), depth, line));
    val r = cons(c, builtin_value("cons"), list2(c, S(c)[base], S(c)[base + 1]));
    c->vm->sp = base;
    return r;
}

/* qq: the expression that builds quasiquoted x at nesting depth. */
static val qq(struct cc *c, val x, int depth, long line)
{
    struct interp *I = c->vm->I;
    if (is_form(c, x, KW_unquote) || is_form(c, x, KW_quasiquote)) {
        if (list_len(x) != 2)
            bad(c, line, "quasiquote");
        bool unq = is_kw(c, car(x), KW_unquote);
        if (unq && depth == 1)
            return car(cdr(x));
        val inner = qq(c, car(cdr(x)), unq ? depth - 1 : depth + 1, line);
        PUSH(c, inner);
        val tag = list2(c, I->kw[KW_quote], car(x));
        val r = cons(c, builtin_value("list"), list2(c, tag, inner));
        c->vm->sp--;
        return r;
    }
    if (is_pair(x))
        return qq_list(c, x, depth, line);
    if (is_type(x, OT_VECTOR)) {
        PUSH(c, x);
        val l = builtin_get(builtin_value("vector->list"))->fn(c->vm, 1, &S(c)[c->vm->sp - 1]);
        S(c)[c->vm->sp - 1] = l;
        val r = list2(c, builtin_value("list->vector"), qq(c, l, depth, line));
        c->vm->sp--;
        return r;
    }
    if (is_type(x, OT_SYMBOL) || x == V_NIL)
        return list2(c, I->kw[KW_quote], x);
    return x;
}

/* ---- dispatch -------------------------------------------------------- */

static val comp_call(struct cc *c, struct scope *sc, val x, long line)
{
    if (list_len(x) < 0)
        bad(c, line, "call (improper list)");
    size_t base = c->vm->sp;
    PUSH(c, comp(c, sc, car(x), line));
    for (val a = cdr(x); a != V_NIL; a = cdr(a))
        PUSH(c, comp(c, sc, car(a), line));
    val fn = S(c)[base];
    val args = vec_from_stack(c, base + 1);
    val r = node(c, N_CALL, line, fn, args, V_NONE);
    c->vm->sp = base;
    return r;
}

static val comp_set(struct cc *c, struct scope *sc, val x, long line)
{
    if (list_len(x) != 3 || !is_type(car(cdr(x)), OT_SYMBOL))
        bad(c, line, "set!");
    val v = comp(c, sc, car(cdr(cdr(x))), line);
    PUSH(c, v);
    val r = var_node(c, sc, car(cdr(x)), line, true, v);
    c->vm->sp--;
    return r;
}

/* comp_special: x is a form whose head is a keyword; its node, or 0 when
 * the keyword does not start a form here (else, =>, unquote ...). */
static val comp_special(struct cc *c, struct scope *sc, val x, long line)
{
    val h = car(x);
    val *kw = c->vm->I->kw;
    if (h == kw[KW_quote]) {
        if (list_len(x) != 2)
            bad(c, line, "quote");
        return node(c, N_CONST, line, car(cdr(x)), V_NONE, V_NONE);
    }
    if (h == kw[KW_quasiquote]) {
        if (list_len(x) != 2)
            bad(c, line, "quasiquote");
        val e = qq(c, car(cdr(x)), 1, line);
        PUSH(c, e);
        val r = comp(c, sc, e, line);
        c->vm->sp--;
        return r;
    }
    if (h == kw[KW_if]) return comp_if(c, sc, x, line);
    if (h == kw[KW_define]) return comp_define(c, sc, x, line);
    if (h == kw[KW_set]) return comp_set(c, sc, x, line);
    if (h == kw[KW_lambda]) return comp_lambda_named(c, sc, x, line, V_FALSE);
    if (h == kw[KW_begin]) {
        if (list_len(x) < 1)
            bad(c, line, "begin");
        return comp_seq(c, sc, cdr(x), line);
    }
    if (h == kw[KW_let]) {
        if (list_len(x) < 3)
            bad(c, line, "let");
        return is_type(car(cdr(x)), OT_SYMBOL) ? comp_named_let(c, sc, x, line) : comp_let(c, sc, x, line);
    }
    if (h == kw[KW_let_star]) return comp_let_star(c, sc, x, line);
    if (h == kw[KW_letrec] || h == kw[KW_letrec_star]) {
        if (list_len(x) < 3)
            bad(c, line, "letrec");
        return comp_letrec(c, sc, x, line);
    }
    if (h == kw[KW_cond]) return comp_cond(c, sc, cdr(x), line);
    if (h == kw[KW_case]) return comp_case(c, sc, x, line);
    if (h == kw[KW_and]) return comp_andor(c, sc, x, line, N_AND);
    if (h == kw[KW_or]) return comp_andor(c, sc, x, line, N_OR);
    if (h == kw[KW_when]) return comp_when(c, sc, x, line, true);
    if (h == kw[KW_unless]) return comp_when(c, sc, x, line, false);
    if (h == kw[KW_do]) return comp_do(c, sc, x, line);
    return 0;
}

static val comp(struct cc *c, struct scope *sc, val x, long line)
{
    gch_safepoint(c->vm->t);
    line = line_of(c, x, line);
    if (is_type(x, OT_SYMBOL))
        return var_node(c, sc, x, line, false, V_NONE);
    if (!is_pair(x))
        return node(c, N_CONST, line, x, V_NONE, V_NONE);
    if (++c->vm->depth > c->vm->I->max_depth)
        vm_error_at(c->vm, line, "expression nested too deeply");
    val r = is_type(car(x), OT_SYMBOL) ? comp_special(c, sc, x, line) : 0;
    if (r == 0)
        r = comp_call(c, sc, x, line);
    c->vm->depth--;
    return r;
}

/* compile_toplevel: form (on the caller's value stack) as a node. */
val compile_toplevel(struct vm *vm, struct reader *r, val form)
{
    struct cc c = {vm, r};
    return comp(&c, NULL, form, r->form_line);
}
