/*
 * reader.c - text to data: lists, vectors, strings, characters, fixnums,
 * symbols, booleans, quote forms and comments.
 *
 * Data are built on the heap as they are read; the partial list lives on
 * the value stack across every allocation (V1).  The reader records the
 * source line of each list it builds in a side table keyed by the pair's
 * address (the heap never moves objects, so an address is a stable key
 * while the form is alive: the compiler reads the table before the form
 * can die; reader_forget clears it after each top-level form).
 *
 * Errors are Scheme errors ("syntax error: ...").  At the end of the text
 * inside a datum, reader_read returns READ_INCOMPLETE (the REPL then
 * reads another line).
 */
#include "lisp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NESTING 10000

/* struct linetab: pair address -> line, open addressing. */
struct linetab { size_t cap, count; uintptr_t *keys; long *lines; };

struct rstate {
    struct reader *r;
    jmp_buf incomplete;
    int depth;
};

static void linetab_put(struct vm *vm, struct linetab *t, val key, long line)
{
    if ((t->count + 1) * 2 > t->cap) {
        struct linetab n = {t->cap ? t->cap * 2 : 256, 0, NULL, NULL};
        n.keys = calloc(n.cap, sizeof *n.keys);
        n.lines = calloc(n.cap, sizeof *n.lines);
        if (n.keys == NULL || n.lines == NULL)
            vm_error(vm, "out of memory in the reader");
        for (size_t i = 0; i < t->cap; i++)
            if (t->keys[i] != 0)
                linetab_put(vm, &n, t->keys[i], t->lines[i]);
        free(t->keys);
        free(t->lines);
        *t = n;
    }
    size_t i = (size_t)(key >> 4) * 0x9e3779b97f4a7c15ull & (t->cap - 1);
    while (t->keys[i] != 0 && t->keys[i] != key)
        i = (i + 1) & (t->cap - 1);
    if (t->keys[i] == 0)
        t->count++;
    t->keys[i] = key;
    t->lines[i] = line;
}

long reader_line_of(const struct reader *r, val pair)
{
    const struct linetab *t = r->lines;
    if (t == NULL || t->cap == 0)
        return 0;
    size_t i = (size_t)(pair >> 4) * 0x9e3779b97f4a7c15ull & (t->cap - 1);
    for (; t->keys[i] != 0; i = (i + 1) & (t->cap - 1))
        if (t->keys[i] == pair)
            return t->lines[i];
    return 0;
}

void reader_forget(struct reader *r)
{
    struct linetab *t = r->lines;
    if (t != NULL && t->count != 0) {
        memset(t->keys, 0, t->cap * sizeof *t->keys);
        t->count = 0;
    }
}

void reader_init(struct reader *r, const char *src, size_t len, long line)
{
    r->src = r->p = src;
    r->end = src + len;
    r->line = line;
    r->lines = calloc(1, sizeof *r->lines);
}

void reader_free(struct reader *r)
{
    if (r->lines != NULL) {
        free(r->lines->keys);
        free(r->lines->lines);
        free(r->lines);
    }
}

/* ---- characters ------------------------------------------------------ */

static int peekc(struct rstate *s) { return s->r->p < s->r->end ? (unsigned char)*s->r->p : -1; }

static int nextc(struct rstate *s)
{
    if (s->r->p >= s->r->end)
        longjmp(s->incomplete, 1);
    int c = (unsigned char)*s->r->p++;
    if (c == '\n')
        s->r->line++;
    return c;
}

static bool is_delim(int c)
{
    return c == -1 || isspace(c) || c == '(' || c == ')' || c == '[' || c == ']' || c == '"' || c == ';';
}

static _Noreturn void syntax_error(struct vm *vm, struct rstate *s, const char *what)
{
    vm_error_at(vm, s->r->line, "syntax error: %s", what);
}

static val read_datum(struct vm *vm, struct rstate *s);

/* skip_ws: skip blanks and comments (; #| |# #;datum). */
static void skip_ws(struct vm *vm, struct rstate *s)
{
    for (;;) {
        int c = peekc(s);
        if (c != -1 && isspace(c)) {
            nextc(s);
        } else if (c == ';') {
            while (peekc(s) != -1 && peekc(s) != '\n')
                nextc(s);
        } else if (c == '#' && s->r->p + 1 < s->r->end && s->r->p[1] == '|') {
            nextc(s);
            nextc(s);
            while (!(nextc(s) == '|' && peekc(s) == '#'))
                ;
            nextc(s);
        } else if (c == '#' && s->r->p + 1 < s->r->end && s->r->p[1] == ';') {
            nextc(s);
            nextc(s);
            size_t sp = vm->sp;
            read_datum(vm, s);
            vm->sp = sp;
        } else {
            return;
        }
    }
}

/* ---- atoms ----------------------------------------------------------- */

static val read_string(struct vm *vm, struct rstate *s)
{
    /* The text is copied out first (escapes make it shorter), so a string
     * needs no buffer of its own: its bytes are at most the source's. */
    const char *start = s->r->p;
    size_t n = 0;
    for (int c; (c = nextc(s)) != '"';) {
        if (c == '\\')
            nextc(s);
        n++;
    }
    val v = mk_string(vm, NULL, n);
    char *out = OBJ(lstring, v)->data;
    for (const char *p = start; n > 0; n--) {
        int c = (unsigned char)*p++;
        if (c == '\\') {
            c = (unsigned char)*p++;
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == '0' ? 0 : c;
        }
        *out++ = (char)c;
    }
    return v;
}

static size_t read_token(struct rstate *s, char *buf, size_t cap)
{
    size_t n = 0;
    while (!is_delim(peekc(s))) {
        int c = nextc(s);
        if (n + 1 < cap)
            buf[n++] = (char)c;
    }
    buf[n] = 0;
    return n;
}

static val read_char(struct vm *vm, struct rstate *s)
{
    char tok[32];
    tok[0] = (char)nextc(s); /* at least one character, delimiter or not */
    size_t n = 1 + read_token(s, tok + 1, sizeof tok - 1);
    if (n == 1)
        return mk_char((unsigned char)tok[0]);
    static const struct { const char *name; unsigned c; } names[] = {
        {"space", ' '}, {"newline", '\n'}, {"tab", '\t'}, {"nul", 0}, {"null", 0},
        {"return", '\r'}, {"linefeed", '\n'}, {"alarm", 7}, {"backspace", 8},
        {"delete", 127}, {"escape", 27}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(tok, names[i].name) == 0)
            return mk_char(names[i].c);
    if (tok[0] == 'x' && n <= 7) {
        char *end;
        long c = strtol(tok + 1, &end, 16);
        if (*end == 0 && c >= 0 && c < 256)
            return mk_char((unsigned)c);
    }
    syntax_error(vm, s, "unknown character name");
}

/* parse_fixnum: true when tok is a decimal integer; overflow is an error. */
static bool parse_fixnum(struct vm *vm, struct rstate *s, const char *tok, val *out)
{
    const char *p = tok;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    if (*p == 0)
        return false;
    intptr_t n = 0;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *p - '0', &n))
            syntax_error(vm, s, "integer too large");
    }
    if (neg)
        n = -n;
    if (n > FIX_MAX || n < FIX_MIN)
        syntax_error(vm, s, "integer too large (fixnums are 63-bit)");
    *out = mk_fixnum(n);
    return true;
}

static val read_atom(struct vm *vm, struct rstate *s)
{
    char tok[256];
    size_t n = read_token(s, tok, sizeof tok);
    if (n == 0)
        syntax_error(vm, s, "unexpected character");
    if (n >= sizeof tok - 1)
        syntax_error(vm, s, "token too long");
    val v;
    if (parse_fixnum(vm, s, tok, &v))
        return v;
    if (strcmp(tok, ".") == 0)
        syntax_error(vm, s, "unexpected '.'");
    return intern(vm, tok, n);
}

static val read_hash(struct vm *vm, struct rstate *s)
{
    nextc(s); /* '#' */
    int c = peekc(s);
    if (c == '\\') {
        nextc(s);
        return read_char(vm, s);
    }
    if (c == '(') {
        val lst = read_datum(vm, s);
        vm_push(vm, lst);
        val vec = builtin_get(builtin_value("list->vector"))->fn(vm, 1, &vm->stack[vm->sp - 1]);
        vm->sp--;
        return vec;
    }
    char tok[16];
    read_token(s, tok, sizeof tok);
    if (strcmp(tok, "t") == 0 || strcmp(tok, "true") == 0)
        return V_TRUE;
    if (strcmp(tok, "f") == 0 || strcmp(tok, "false") == 0)
        return V_FALSE;
    syntax_error(vm, s, "unknown # syntax");
}

/* ---- lists ----------------------------------------------------------- */

/* list_append: add d to the list whose first and last pairs are at
 * stack[base] and stack[base+1]. */
static void list_append(struct vm *vm, struct rstate *s, size_t base, val d, long line)
{
    vm_push(vm, d); /* V1: a fresh datum (or a symbol: the table is weak) */
    val p = mk_pair(vm, d, V_NIL);
    vm->stack[vm->sp - 1] = p;
    linetab_put(vm, s->r->lines, p, line);
    vm->sp--;
    if (vm->stack[base] == V_NIL)
        vm->stack[base] = p;
    else
        vm_set(vm, &pair_of(vm->stack[base + 1])->cdr, p);
    vm->stack[base + 1] = p;
}

static val read_list(struct vm *vm, struct rstate *s, int close)
{
    long line0 = s->r->line;
    size_t base = vm->sp;
    vm_push(vm, V_NIL);
    vm_push(vm, V_NIL);
    for (bool first = true;; first = false) {
        skip_ws(vm, s);
        int c = peekc(s);
        if (c == -1)
            longjmp(s->incomplete, 1);
        if (c == ')' || c == ']') {
            nextc(s);
            if (c != close)
                syntax_error(vm, s, "mismatched close bracket");
            break;
        }
        if (c == '.' && s->r->p + 1 < s->r->end && is_delim((unsigned char)s->r->p[1])) {
            nextc(s);
            if (first)
                syntax_error(vm, s, "'.' at the start of a list");
            val d = read_datum(vm, s);
            vm_set(vm, &pair_of(vm->stack[base + 1])->cdr, d);
            skip_ws(vm, s);
            if (nextc(s) != close)
                syntax_error(vm, s, "expected one datum after '.'");
            break;
        }
        long line = first ? line0 : s->r->line;
        list_append(vm, s, base, read_datum(vm, s), line);
    }
    val lst = vm->stack[base];
    vm->sp = base;
    return lst;
}

static val read_quote(struct vm *vm, struct rstate *s, enum keyword kw)
{
    long line = s->r->line;
    val d = read_datum(vm, s);
    vm_push(vm, d); /* V1 */
    val p = mk_pair(vm, d, V_NIL);
    vm->stack[vm->sp - 1] = p;
    p = mk_pair(vm, vm->I->kw[kw], p);
    vm->stack[vm->sp - 1] = p;
    linetab_put(vm, s->r->lines, p, line);
    vm->sp--;
    return p;
}

static val read_datum(struct vm *vm, struct rstate *s)
{
    skip_ws(vm, s);
    int c = peekc(s);
    if (c == -1)
        longjmp(s->incomplete, 1);
    if (++s->depth > MAX_NESTING)
        syntax_error(vm, s, "nesting too deep");
    val v;
    switch (c) {
    case '(': case '[': nextc(s); v = read_list(vm, s, c == '(' ? ')' : ']'); break;
    case ')': case ']': nextc(s); syntax_error(vm, s, "unexpected ')'");
    case '\'': nextc(s); v = read_quote(vm, s, KW_quote); break;
    case '`': nextc(s); v = read_quote(vm, s, KW_quasiquote); break;
    case ',':
        nextc(s);
        if (peekc(s) == '@') {
            nextc(s);
            v = read_quote(vm, s, KW_unquote_splicing);
        } else {
            v = read_quote(vm, s, KW_unquote);
        }
        break;
    case '"': nextc(s); v = read_string(vm, s); break;
    case '#': v = read_hash(vm, s); break;
    default: v = read_atom(vm, s); break;
    }
    s->depth--;
    return v;
}

/* reader_read: the next datum of r into *out.  The position is kept on
 * READ_INCOMPLETE only at a datum's start (the caller re-reads the whole
 * text with more lines). */
enum read_status reader_read(struct vm *vm, struct reader *r, val *out)
{
    struct rstate s = {.r = r, .depth = 0};
    size_t sp = vm->sp;
    const char *start = r->p;
    long line = r->line;
    if (setjmp(s.incomplete)) {
        vm->sp = sp;
        r->p = start;
        r->line = line;
        return READ_INCOMPLETE;
    }
    skip_ws(vm, &s);
    if (peekc(&s) == -1)
        return READ_EOF;
    r->form_line = r->line;
    *out = read_datum(vm, &s);
    return READ_OK;
}
