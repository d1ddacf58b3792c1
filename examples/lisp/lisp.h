/*
 * lisp.h - gchlisp: a small multi-threaded Scheme whose every value lives
 * in a gcheap heap.  Shared declarations of every file of the interpreter.
 *
 * Files (one concept each):
 *   heap.c      the glue to gcheap: object types, the tag decoder, the
 *               per-thread value stack and its scanner, allocation with
 *               errors, the symbol table and its heap scanner;
 *   reader.c    text -> data, with a side table of source lines;
 *   printer.c   display / write;
 *   compile.c   data -> tree of nodes (desugaring, lexical addresses);
 *   eval.c      the evaluator: one loop, proper tail calls, errors;
 *   prims_*.c   builtins (lists and numbers, strings and vectors, hash
 *               tables and the heap); builtins.c is their table;
 *   threads.c   spawn / join / mutexes;
 *   main.c      command line, REPL, running a file.
 *
 * Values (a `val` is one machine word):
 *   ...xxx1  fixnum, 63-bit, (n << 1) | 1
 *   ...x010  immediate: #t #f '() chars, builtins, object headers
 *   ...x100  pair: address of a 16-byte {car, cdr} object | 4
 *   ...x000  any other heap object (non-zero): its first word is a header
 *   0        "no value": an unbound global, a letrec variable not yet set
 * gch_config.decode (heap.c) maps a word to the address it holds, so the
 * collector scans tagged words at mask speed: tag 000 and 100 are
 * addresses, the rest are not.
 *
 * Invariants the whole interpreter keeps:
 *   V1 every value a C function still uses after a safepoint (any
 *      allocation, gch_safepoint, a blocking section) sits on its thread's
 *      value stack below sp, or is reachable from something that does (the
 *      heap is non-moving, so a C local copy stays valid: only liveness
 *      needs the stack);
 *   V2 every store of a value into a heap object, a symbol's global value
 *      or the symbol table goes through gch_write (vm_set);
 *   V3 a header is an immediate, so a header word scanned as a reference
 *      (a vector's first element) decodes to NULL.
 */
#ifndef GCHLISP_H
#define GCHLISP_H

#include <gcheap.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef uintptr_t val;

/* ---- tags ------------------------------------------------------------ */
#define TAG_MASK 7u
#define TAG_PTR 0u
#define TAG_IMM 2u
#define TAG_PAIR 4u

enum imm_kind { IMM_SPECIAL, IMM_CHAR, IMM_PRIM, IMM_HDR };
#define MK_IMM(kind, payload) (((val)(payload) << 8) | ((val)(kind) << 3) | TAG_IMM)
#define IMM_KIND(v) (((v) >> 3) & 31u)
#define IMM_PAYLOAD(v) ((v) >> 8)

#define V_FALSE MK_IMM(IMM_SPECIAL, 0)
#define V_TRUE MK_IMM(IMM_SPECIAL, 1)
#define V_NIL MK_IMM(IMM_SPECIAL, 2)
#define V_UNSPEC MK_IMM(IMM_SPECIAL, 3)
#define V_EOF MK_IMM(IMM_SPECIAL, 4)
#define V_NONE ((val)0)

#define FIX_MAX (INTPTR_MAX >> 1)
#define FIX_MIN (INTPTR_MIN >> 1)

static inline bool is_fixnum(val v) { return (v & 1u) != 0; }
static inline val mk_fixnum(intptr_t n) { return ((val)n << 1) | 1u; }
static inline intptr_t fixnum_value(val v) { return (intptr_t)v >> 1; }
static inline bool is_imm(val v) { return (v & TAG_MASK) == TAG_IMM; }
static inline bool is_pair(val v) { return (v & TAG_MASK) == TAG_PAIR; }
static inline bool is_ptr(val v) { return (v & TAG_MASK) == TAG_PTR && v != 0; }
static inline bool is_char(val v) { return is_imm(v) && IMM_KIND(v) == IMM_CHAR; }
static inline bool is_prim(val v) { return is_imm(v) && IMM_KIND(v) == IMM_PRIM; }
static inline val mk_char(unsigned c) { return MK_IMM(IMM_CHAR, c); }
static inline val mk_bool(bool b) { return b ? V_TRUE : V_FALSE; }
static inline bool truthy(val v) { return v != V_FALSE; }

/* ---- objects --------------------------------------------------------- */
/* Object types: the low byte of a header's payload; the rest is `aux`. */
enum otype {
    OT_STRING = 1, OT_SYMBOL, OT_CLOSURE, OT_NODE, OT_VECTOR, OT_FRAME,
    OT_HASH, OT_THREAD, OT_MUTEX, OT_BYTEVECTOR
};
#define MK_HDR(ot, aux) MK_IMM(IMM_HDR, ((uintptr_t)(aux) << 8) | (ot))
#define HDR_TYPE(h) (IMM_PAYLOAD(h) & 0xffu)
#define HDR_AUX(h) (IMM_PAYLOAD(h) >> 8)

struct lpair { void *car, *cdr; };                   /* mask 11 */
struct lstring { uintptr_t hdr; char data[]; };       /* noscan; aux = length */
struct lsymbol { uintptr_t hdr; void *name, *value; uint64_t hash; }; /* mask 0110 */
struct lclosure { uintptr_t hdr; void *lambda, *env; };               /* mask 110 */
struct lnode { uintptr_t hdr; void *a, *b, *c; };                     /* mask 1110 */
struct lvector { uintptr_t hdr; void *items[]; };  /* gch_alloc_array of words */
struct lframe { uintptr_t hdr; void *parent; void *slots[]; };        /* trace callback */
struct lhash { uintptr_t hdr; void *count, *buckets; };               /* mask 110 */
struct lbytes { uintptr_t hdr; uint8_t data[]; };                     /* noscan */
struct lthread;
struct lthreadobj { uintptr_t hdr; void *thunk, *result; struct lthread *ts; }; /* mask 0110 */
struct mutexrec;
struct lmutex { uintptr_t hdr; struct mutexrec *rec; };              /* noscan */

static inline void *ptr_of(val v) { return (void *)(v & ~(val)TAG_MASK); }
static inline struct lpair *pair_of(val v) { return (struct lpair *)ptr_of(v); }
static inline uintptr_t hdr_of(val v) { return *(const uintptr_t *)(const void *)v; }
static inline bool is_type(val v, enum otype ot) { return is_ptr(v) && HDR_TYPE(hdr_of(v)) == ot; }
static inline val car(val v) { return (val)pair_of(v)->car; }
static inline val cdr(val v) { return (val)pair_of(v)->cdr; }
#define OBJ(T, v) ((struct T *)(void *)(v))
static inline size_t obj_len(val v) { return (size_t)HDR_AUX(hdr_of(v)); }

/* ---- nodes (compile.c builds them, eval.c runs them) ------------------ */
enum node_kind {
    N_CONST, N_LREF, N_GREF, N_LSET, N_GSET, N_GDEF, N_IF, N_LAMBDA, N_SEQ,
    N_CALL, N_AND, N_OR, N_LET, N_LETREC
};
/* node aux = (line << 8) | kind */
static inline enum node_kind node_kind(val n) { return (enum node_kind)(HDR_AUX(hdr_of(n)) & 0xffu); }
static inline long node_line(val n) { return (long)(HDR_AUX(hdr_of(n)) >> 8); }
/* lambda info in a fixnum: nparams | rest << 8 | nslots << 9 */
#define LAMBDA_INFO(np, rest, ns) mk_fixnum((intptr_t)(np) | ((intptr_t)(rest) << 8) | ((intptr_t)(ns) << 9))
#define MAX_FRAME_SLOTS 255

/* ---- the interpreter and its threads ---------------------------------- */
#define KEYWORDS(X) \
    X(quote, "quote") X(quasiquote, "quasiquote") X(unquote, "unquote") \
    X(unquote_splicing, "unquote-splicing") X(define, "define") X(lambda, "lambda") \
    X(if, "if") X(set, "set!") X(begin, "begin") X(let, "let") X(let_star, "let*") \
    X(letrec, "letrec") X(letrec_star, "letrec*") X(cond, "cond") X(case, "case") \
    X(and, "and") X(or, "or") X(when, "when") X(unless, "unless") X(do, "do") \
    X(else, "else") X(arrow, "=>")
#define KW_ENUM(n, s) KW_##n,
enum keyword { KEYWORDS(KW_ENUM) KW_COUNT };

/* struct symtab: interned symbols, open addressing by name hash.  Off
 * the heap; the collector sees it through a heap scanner (heap.c).
 * Weak: entry i is slots[2i], the symbol's gch_weak handle, and
 * slots[2i + 1], the symbol itself once it has a global value (a bound
 * symbol must not be forgotten: its value lives in it), else NULL.  An
 * unbound symbol nothing else references is collected; its entry reads
 * dead (handle NULL) until a rebuild drops it.
 * Mutators hold mu while they probe or insert; the scanner never takes
 * it: it loads `arr` with acquire and reads each slot (gch_write stores
 * with release).  A rebuilt table's old array is kept until the end
 * (retired), since a scanner may still be reading it. */
struct symarr { size_t cap; struct symarr *retired; void *slots[]; /* 2 x cap */ };
struct symtab {
    pthread_mutex_t mu;
    struct symarr *arr; /* [write under mu with release; scanner reads acquire] */
    size_t count;       /* [mu] */
};

struct interp {
    gch_heap *heap;
    struct symtab symtab;
    const char *file;            /* [immutable after start] for error lines */
    val kw[KW_COUNT];            /* [immutable; a root range, written with gch_write] */
    pthread_mutex_t mu;          /* guards threads and mutexes below */
    struct lthread *threads;     /* [mu] every spawned thread, joined at exit */
    struct mutexrec *mutexes;    /* [mu] every mutex made, destroyed at exit */
    size_t max_depth;            /* [immutable] non-tail recursion limit */
    int argc;                    /* [immutable] (command-line) */
    char **argv;
    int exit_code;               /* set by (exit n) before it unwinds */
};
/* A handler's setjmp returns ERR_RAISED after an error was reported and
 * ERR_EXIT when (exit) unwinds. */
enum { ERR_RAISED = 1, ERR_EXIT = 2 };

/* struct vm: one interpreter thread: its gch_thread, value stack and
 * error state.  [owner thread; the value stack is also read by the
 * collector while the owner is at a safepoint or blocking] */
struct vm {
    struct interp *I;
    gch_thread *t;
    val *stack;
    size_t sp, cap;
    size_t depth;            /* nested evaluations (non-tail) */
    const char *stack_floor; /* C stack address below which we refuse to go */
    jmp_buf *on_error;
    long line;               /* source line of the call being applied */
};

/* heap.c */
bool interp_init(struct interp *I, size_t heap_limit);
void interp_free(struct interp *I);
bool vm_init(struct vm *vm, struct interp *I, size_t c_stack_size);
void vm_free(struct vm *vm);
_Noreturn void vm_stack_overflow(struct vm *vm);
static inline void vm_push(struct vm *vm, val v)
{
    if (vm->sp == vm->cap)
        vm_stack_overflow(vm);
    vm->stack[vm->sp++] = v;
}
static inline void vm_set(struct vm *vm, void **slot, val v) { gch_write(vm->t, slot, (void *)v); }
val mk_pair(struct vm *vm, val a, val d);
val mk_string(struct vm *vm, const char *s, size_t len);
val mk_vector(struct vm *vm, size_t n, val fill);
val mk_bytes(struct vm *vm, size_t n);
val mk_node(struct vm *vm, enum node_kind k, long line, val a, val b, val c);
val mk_frame(struct vm *vm, size_t n, val parent);
val mk_obj(struct vm *vm, const gch_type *ty, enum otype ot, uintptr_t aux);
void *vm_alloc_noscan(struct vm *vm, size_t size);
val intern(struct vm *vm, const char *name, size_t len);
val mk_gensym(struct vm *vm, const char *name);
/* symtab_bind: sym got a global value: the symbol table keeps it (ST3). */
void symtab_bind(struct vm *vm, val sym);
extern const gch_type closure_type, hash_type, thread_type, symbol_type;

/* reader.c */
struct reader {
    const char *src, *p, *end;
    long line;
    long form_line;        /* where the last datum read starts */
    struct linetab *lines; /* pair address -> line, for the forms being read */
};
enum read_status { READ_OK, READ_EOF, READ_INCOMPLETE };
void reader_init(struct reader *r, const char *src, size_t len, long line);
void reader_free(struct reader *r);
enum read_status reader_read(struct vm *vm, struct reader *r, val *out);
long reader_line_of(const struct reader *r, val pair);
void reader_forget(struct reader *r);

/* printer.c */
void print_value(FILE *f, val v, bool write);

/* compile.c */
val compile_toplevel(struct vm *vm, struct reader *r, val form);

/* eval.c */
val eval(struct vm *vm, val node, val env);
val vm_apply(struct vm *vm, int argc); /* callee and args on top of the stack */
_Noreturn void vm_error(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void vm_error_at(struct vm *vm, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vm_report(struct vm *vm, long line, const char *msg);
const char *type_name(val v);

/* builtins.c */
typedef val (*prim_fn)(struct vm *vm, int argc, val *argv);
struct builtin { const char *name; prim_fn fn; short min, max; /* max -1: any */ };
const struct builtin *builtin_get(val prim);
void builtins_install(struct vm *vm);
val builtin_value(const char *name);
bool is_apply_prim(val v);
intptr_t arg_fixnum(struct vm *vm, val v, const char *who);
void arg_check(struct vm *vm, bool ok, const char *who, const char *want, val got);
bool eqv(val a, val b);
bool equal(struct vm *vm, val a, val b);

/* threads.c */
void threads_join_all(struct interp *I, gch_thread *t);
void mutexes_free(struct interp *I);
int run_with_stack(void *(*fn)(void *), void *arg, size_t stack_size, void **ret);

#endif /* GCHLISP_H */
