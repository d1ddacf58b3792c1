/*
 * printer.c - display and write.  Prints without allocating (a printer
 * that allocated would need every value it walks rooted), so it is safe
 * to call on any value a thread holds.  Lists are walked along their cdr
 * iteratively, and a cycle through the cdrs prints as "..." (tortoise and
 * hare); nesting in the car direction recurses, cut off with "..." past
 * MAX_PRINT_DEPTH levels, so a circular structure never hangs or
 * overflows the printer.
 */
#include "lisp.h"

#include <inttypes.h>

#define MAX_PRINT_DEPTH 1000

static void print_rec(FILE *f, val v, bool write, int depth);

static void print_char(FILE *f, unsigned c, bool write)
{
    if (!write) {
        fputc((int)c, f);
        return;
    }
    switch (c) {
    case ' ': fputs("#\\space", f); break;
    case '\n': fputs("#\\newline", f); break;
    case '\t': fputs("#\\tab", f); break;
    case 0: fputs("#\\nul", f); break;
    default: fprintf(f, "#\\%c", (int)c); break;
    }
}

static void print_string(FILE *f, val v, bool write)
{
    const struct lstring *s = OBJ(lstring, v);
    size_t n = obj_len(v);
    if (!write) {
        fwrite(s->data, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        char c = s->data[i];
        if (c == '"' || c == '\\')
            fputc('\\', f);
        if (c == '\n')
            fputs("\\n", f);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void print_special(FILE *f, val v)
{
    switch (v) {
    case V_TRUE: fputs("#t", f); break;
    case V_FALSE: fputs("#f", f); break;
    case V_NIL: fputs("()", f); break;
    case V_EOF: fputs("#<eof>", f); break;
    default: break; /* unspecified prints nothing */
    }
}

static void print_list(FILE *f, val v, bool write, int depth)
{
    val slow = v;
    fputc('(', f);
    print_rec(f, car(v), write, depth + 1);
    unsigned long i = 0;
    for (v = cdr(v); is_pair(v); v = cdr(v), i++) {
        if ((i & 1) != 0) {
            slow = cdr(slow); /* half speed: meets v only on a cycle */
            if (v == slow) {
                fputs(" ...", f);
                v = V_NIL;
                break;
            }
        }
        fputc(' ', f);
        print_rec(f, car(v), write, depth + 1);
    }
    if (v != V_NIL) {
        fputs(" . ", f);
        print_rec(f, v, write, depth + 1);
    }
    fputc(')', f);
}

static void print_object(FILE *f, val v, bool write, int depth)
{
    switch (HDR_TYPE(hdr_of(v))) {
    case OT_STRING: print_string(f, v, write); break;
    case OT_SYMBOL: print_string(f, (val)OBJ(lsymbol, v)->name, false); break;
    case OT_VECTOR:
        fputs("#(", f);
        for (size_t i = 0; i < obj_len(v); i++) {
            if (i > 0)
                fputc(' ', f);
            print_rec(f, (val)OBJ(lvector, v)->items[i], write, depth + 1);
        }
        fputc(')', f);
        break;
    case OT_BYTEVECTOR:
        fputs("#u8(", f);
        for (size_t i = 0; i < obj_len(v); i++)
            fprintf(f, i ? " %u" : "%u", OBJ(lbytes, v)->data[i]);
        fputc(')', f);
        break;
    case OT_CLOSURE: {
        val name = (val)OBJ(lnode, (val)OBJ(lclosure, v)->lambda)->b;
        fputs("#<procedure", f);
        if (is_type(name, OT_SYMBOL)) {
            fputc(' ', f);
            print_value(f, name, false);
        }
        fputc('>', f);
        break;
    }
    case OT_HASH: fputs("#<hash-table>", f); break;
    case OT_THREAD: fputs("#<thread>", f); break;
    case OT_MUTEX: fputs("#<mutex>", f); break;
    default: fputs("#<object>", f); break;
    }
}

void print_value(FILE *f, val v, bool write) { print_rec(f, v, write, 0); }

static void print_rec(FILE *f, val v, bool write, int depth)
{
    if (depth > MAX_PRINT_DEPTH)
        fputs("...", f);
    else if (is_fixnum(v))
        fprintf(f, "%" PRIdPTR, fixnum_value(v));
    else if (is_pair(v))
        print_list(f, v, write, depth);
    else if (is_char(v))
        print_char(f, (unsigned)IMM_PAYLOAD(v), write);
    else if (is_prim(v))
        fprintf(f, "#<procedure %s>", builtin_get(v)->name);
    else if (is_imm(v))
        print_special(f, v);
    else if (v == V_NONE)
        fputs("#<unassigned>", f);
    else
        print_object(f, v, write, depth);
}
