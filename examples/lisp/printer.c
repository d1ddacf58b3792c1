/*
 * printer.c - display and write.  Prints without allocating (a printer
 * that allocated would need every value it walks rooted), so it is safe
 * to call on any value a thread holds.  Lists are walked along their cdr
 * iteratively; nesting in the car direction recurses (a datum that deep
 * came from a program building it on purpose).
 */
#include "lisp.h"

#include <inttypes.h>

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

static void print_list(FILE *f, val v, bool write)
{
    fputc('(', f);
    print_value(f, car(v), write);
    for (v = cdr(v); is_pair(v); v = cdr(v)) {
        fputc(' ', f);
        print_value(f, car(v), write);
    }
    if (v != V_NIL) {
        fputs(" . ", f);
        print_value(f, v, write);
    }
    fputc(')', f);
}

static void print_object(FILE *f, val v, bool write)
{
    switch (HDR_TYPE(hdr_of(v))) {
    case OT_STRING: print_string(f, v, write); break;
    case OT_SYMBOL: print_string(f, (val)OBJ(lsymbol, v)->name, false); break;
    case OT_VECTOR:
        fputs("#(", f);
        for (size_t i = 0; i < obj_len(v); i++) {
            if (i > 0)
                fputc(' ', f);
            print_value(f, (val)OBJ(lvector, v)->items[i], write);
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

void print_value(FILE *f, val v, bool write)
{
    if (is_fixnum(v))
        fprintf(f, "%" PRIdPTR, fixnum_value(v));
    else if (is_pair(v))
        print_list(f, v, write);
    else if (is_char(v))
        print_char(f, (unsigned)IMM_PAYLOAD(v), write);
    else if (is_prim(v))
        fprintf(f, "#<procedure %s>", builtin_get(v)->name);
    else if (is_imm(v))
        print_special(f, v);
    else if (v == V_NONE)
        fputs("#<unassigned>", f);
    else
        print_object(f, v, write);
}
