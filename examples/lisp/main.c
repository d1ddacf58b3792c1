/*
 * main.c - gchlisp's command line: run a file, evaluate -e EXPR, or read
 * a REPL on stdin.
 *
 *   gchlisp [-m BYTES] FILE [ARG...]   run FILE; (command-line) is (FILE ARG...)
 *   gchlisp [-m BYTES] -e EXPR          evaluate EXPR, print its value
 *   gchlisp [-m BYTES]                  REPL on stdin
 * -m caps the heap (gch_config.heap_limit; K, M, G suffixes); -d sets the
 * limit on nested (non-tail) calls, 100000 by default; -s prints a summary
 * of the heap's statistics (gch_read_stats, gch_thread_read_gc_time) on
 * stderr at exit.
 *
 * The interpreter runs on a thread of its own with a 256 MiB C stack
 * (mapped lazily), so the recursion limit, not the platform's default
 * stack, decides how deep a program may recurse.  An error prints one
 * line; the REPL goes on, a program stops and gchlisp exits 1.  The REPL
 * reads stdin inside a blocking section: while it waits for a line, the
 * collector (other Scheme threads may be allocating) does not wait for it.
 */
#include "lisp.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAIN_C_STACK ((size_t)256 << 20)

struct job {
    struct interp I;
    const char *file;    /* a program to run, or NULL */
    const char *expr;    /* -e, or NULL */
    size_t heap_limit;
    size_t max_depth;    /* -d, or 0 for the default */
    bool stats;          /* -s: print the heap's statistics at exit */
    struct timespec start;
    int status;
};

/* run_forms: read, compile and evaluate every form of src.  Returns 0, or
 * 1 after an error (reported already).  With print, each value is
 * written as the REPL does.  *incomplete (if not NULL) receives the
 * offset (and *incomplete_line the line) of an unfinished last form
 * instead of an error. */
static int run_forms(struct vm *vm, const char *src, size_t len, long line, bool print, size_t *incomplete,
                     long *incomplete_line)
{
    struct reader r;
    reader_init(&r, src, len, line);
    jmp_buf jb;
    volatile int status = 0;
    vm->on_error = &jb;
    size_t sp0 = vm->sp;
    int why = setjmp(jb);
    if (why != 0) {
        vm->sp = sp0;
        vm->depth = 0;
        status = why == ERR_EXIT ? 2 : 1;
    }
    while (status == 0) {
        val form;
        enum read_status st = reader_read(vm, &r, &form);
        if (st == READ_EOF)
            break;
        if (st == READ_INCOMPLETE) {
            if (incomplete != NULL) {
                *incomplete = (size_t)(r.p - src);
                *incomplete_line = r.line;
                break;
            }
            vm_error_at(vm, r.line, "syntax error: unexpected end of input");
        }
        vm_push(vm, form);
        vm->line = r.form_line;
        val node = compile_toplevel(vm, &r, form);
        reader_forget(&r);
        val v = eval(vm, node, V_NONE); /* eval roots node before it allocates */
        vm->sp = sp0;
        if (print && v != V_UNSPEC) {
            print_value(stdout, v, true);
            fputc('\n', stdout);
        }
    }
    fflush(stdout);
    reader_free(&r);
    return status;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* read_line: one line of stdin appended to *buf, in a blocking section. */
static bool read_line(struct vm *vm, char **buf, size_t *len, size_t *cap)
{
    char chunk[4096];
    bool got = false;
    gch_blocking_enter(vm->t);
    while (fgets(chunk, sizeof chunk, stdin) != NULL) {
        size_t n = strlen(chunk);
        if (*len + n + 1 > *cap) {
            char *bigger = realloc(*buf, (*len + n + 1) * 2);
            if (bigger == NULL)
                break; /* the line is cut short; the reader reports what it sees */
            *buf = bigger;
            *cap = (*len + n + 1) * 2;
        }
        memcpy(*buf + *len, chunk, n + 1);
        *len += n;
        got = true;
        if (n > 0 && chunk[n - 1] == '\n')
            break;
    }
    gch_blocking_leave(vm->t);
    return got;
}

static int repl(struct vm *vm)
{
    bool tty = isatty(0);
    size_t len = 0, cap = 4096;
    char *buf = calloc(1, cap);
    long line = 1, buf_line = 1;
    int status = 0;
    for (;;) {
        if (tty)
            fputs(len == 0 ? "> " : "  ", stdout), fflush(stdout);
        if (!read_line(vm, &buf, &len, &cap))
            break;
        line++;
        size_t rest = SIZE_MAX;
        status = run_forms(vm, buf, len, buf_line, true, &rest, &buf_line);
        if (status == 2)
            break;
        if (status == 0 && rest != SIZE_MAX) { /* keep the unfinished form */
            memmove(buf, buf + rest, len - rest);
            len -= rest;
            continue;
        }
        len = 0; /* done, or an error: the rest of the input is dropped */
        buf_line = line;
    }
    free(buf);
    return status == 2 ? vm->I->exit_code : 0;
}

static int run_job(struct job *j, struct vm *vm)
{
    if (j->expr != NULL) {
        int st = run_forms(vm, j->expr, strlen(j->expr), 1, true, NULL, NULL);
        return st == 2 ? j->I.exit_code : st;
    }
    if (j->file == NULL)
        return repl(vm);
    size_t len;
    char *src = slurp(j->file, &len);
    if (src == NULL) {
        fprintf(stderr, "error: cannot read %s\n", j->file);
        return 1;
    }
    int st = run_forms(vm, src, len, 1, false, NULL, NULL);
    free(src);
    return st == 2 ? j->I.exit_code : st;
}

static double secs(uint64_t ns) { return (double)ns / 1e9; }

static double since(const struct timespec *t0, clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* print_stats: -s.  The interpreter thread's collector time comes from
 * gch_thread_read_gc_time; the process CPU includes the mark workers and
 * the background sweeper. */
static void print_stats(struct job *j, struct vm *vm)
{
    gch_stats st;
    gch_gc_time gt;
    gch_thread_flush(vm->t);
    gch_read_stats(j->I.heap, &st);
    gch_thread_read_gc_time(vm->t, &gt);
    uint64_t longest = 0;
    for (uint32_t i = 0; i < st.num_gc && i < GCH_PAUSE_RING; i++)
        longest = st.pause_ns[i] > longest ? st.pause_ns[i] : longest;
    double wall = since(&j->start, CLOCK_MONOTONIC);
    struct timespec zero = {0, 0};
    double cpu = since(&zero, CLOCK_PROCESS_CPUTIME_ID);
    uint64_t in_gc = gt.stop_ns + gt.scan_ns + gt.assist_ns + gt.sweep_ns;
    fprintf(stderr,
            "gchlisp: heap statistics (gch_read_stats)\n"
            "  collections      %u (%u forced)\n"
            "  stop-the-world   %.3f ms in total, longest %.3f ms\n"
            "  allocated        %.1f MiB in %llu objects\n"
            "  heap             %.1f MiB in use, %.1f MiB from the OS, next goal %.1f MiB\n"
            "  wall %.2f s, process CPU %.2f s (includes the mark workers and sweeper)\n"
            "  interpreter thread on the collector's behalf: %.1f%% of wall time\n"
            "    (stopped %.1f ms, own root scans %.1f ms, assists %.1f ms, sweeping %.1f ms)\n",
            st.num_gc, st.num_forced_gc, secs(st.pause_total_ns) * 1e3, secs(longest) * 1e3,
            (double)st.total_alloc / 1048576.0, (unsigned long long)st.mallocs,
            (double)st.heap_inuse / 1048576.0, (double)st.heap_sys / 1048576.0,
            (double)st.next_gc / 1048576.0, wall, cpu, 100.0 * secs(in_gc) / wall,
            secs(gt.stop_ns) * 1e3, secs(gt.scan_ns) * 1e3, secs(gt.assist_ns) * 1e3, secs(gt.sweep_ns) * 1e3);
}

static void *interp_main(void *arg)
{
    struct job *j = arg;
    struct vm vm;
    if (!vm_init(&vm, &j->I, MAIN_C_STACK)) {
        fprintf(stderr, "error: cannot attach to the heap: %s\n", gch_last_error_message());
        j->status = 1;
        return NULL;
    }
    jmp_buf jb;
    vm.on_error = &jb;
    if (setjmp(jb) == 0) {
        builtins_install(&vm);
        j->status = run_job(j, &vm);
    } else {
        j->status = 1;
    }
    fflush(stdout);
    threads_join_all(&j->I, vm.t);
    if (j->stats)
        print_stats(j, &vm);
    vm_free(&vm);
    return NULL;
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (*end == 'K' || *end == 'k') n <<= 10;
    else if (*end == 'M' || *end == 'm') n <<= 20;
    else if (*end == 'G' || *end == 'g') n <<= 30;
    return (size_t)n;
}

static int usage(void)
{
    fprintf(stderr, "usage: gchlisp [-s] [-m BYTES] [-d DEPTH] [FILE [ARG...] | -e EXPR]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct job job;
    memset(&job, 0, sizeof job);
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != 0; i++) {
        if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
            job.heap_limit = parse_size(argv[++i]);
        else if (strcmp(argv[i], "-s") == 0)
            job.stats = true;
        else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
            job.max_depth = parse_size(argv[++i]);
        else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc)
            job.expr = argv[++i];
        else
            return usage();
    }
    if (i < argc && job.expr == NULL)
        job.file = argv[i];
    clock_gettime(CLOCK_MONOTONIC, &job.start);
    if (!interp_init(&job.I, job.heap_limit)) {
        fprintf(stderr, "error: cannot create the heap: %s\n", gch_last_error_message());
        return 1;
    }
    if (job.max_depth != 0)
        job.I.max_depth = job.max_depth;
    job.I.file = job.expr != NULL ? "<-e>" : job.file != NULL ? job.file : "<stdin>";
    job.I.argc = argc - i;
    job.I.argv = argv + i;
    if (run_with_stack(interp_main, &job, MAIN_C_STACK, NULL) != 0) {
        fprintf(stderr, "error: cannot start the interpreter thread\n");
        return 1;
    }
    mutexes_free(&job.I);
    interp_free(&job.I);
    return job.status;
}
