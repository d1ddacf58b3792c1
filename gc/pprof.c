/*
 * pprof.c - gch_write_heap_profile: the sampled heap profile as a gzipped
 * profile.proto message that `go tool pprof` reads.
 * Go counterpart: runtime/pprof/protomem.go (writeHeapProto, scaling),
 * proto.go (profileBuilder: locations, functions, mappings).  The data:
 * alloc/mprof.h.  The encodings: gc/pprofenc.h.
 *
 * The file holds, as Go's heap profiles do: four sample types
 * (alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes), period_type space/bytes with period = the sampling
 * rate, one sample per bucket (its stack's location ids, innermost
 * first, the four values scaled by 1 / (1 - exp(-avg / rate)) and a
 * "bytes" label with the object size), one location per distinct
 * return address (the address of the call: return address - 1), one
 * function per distinct name, and the executable mappings of
 * /proc/self/maps.  Names are resolved here, when the profile is
 * written, so sampling never touches symbol tables: libunwind's
 * unw_get_proc_name (reads .symtab, so static functions get their
 * names), then dladdr (the dynamic symbol table); a location left
 * unresolved has no line and pprof shows its address.  No source file
 * or line numbers (no DWARF reader here).
 *
 * Owns nothing beyond one call: every table below is malloc'd and freed
 * before gch_write_heap_profile returns.  Locking: mprof_snapshot takes
 * the profile lock briefly; the rest runs on the caller's copy.
 */
#define GCHI_BUILDING 1
#include "heap.h"
#include "error.h"
#include "pprofenc.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>

/* profile.proto field numbers. */
enum {
    PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3, PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
    PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12,
    VALUETYPE_TYPE = 1, VALUETYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
    LABEL_KEY = 1, LABEL_NUM = 3,
    MAPPING_ID = 1, MAPPING_START = 2, MAPPING_LIMIT = 3, MAPPING_OFFSET = 4,
    MAPPING_FILENAME = 5, MAPPING_HAS_FUNCTIONS = 7,
    LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1,
    FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3,
};

/* An open-addressing map from a 64-bit key to an index (stored + 1). */
struct idmap {
    uint64_t *keys;
    uint32_t *vals; /* 0 = empty slot */
    size_t cap;     /* a power of two, at least twice the entries */
};

static uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdu;
    return k ^ (k >> 33);
}

static bool idmap_init(struct idmap *m, size_t entries)
{
    m->cap = 16;
    while (m->cap < 2 * entries + 2)
        m->cap *= 2;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->vals = calloc(m->cap, sizeof *m->vals);
    return m->keys != NULL && m->vals != NULL;
}

static void idmap_free(struct idmap *m)
{
    free(m->keys);
    free(m->vals);
}

/* idmap_slot: the slot of key, or the empty slot where it would go. */
static size_t idmap_slot(const struct idmap *m, uint64_t key)
{
    size_t i = mix64(key) & (m->cap - 1);
    while (m->vals[i] != 0 && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* The strings of the profile (index 0 is ""), interned by a hash of
 * their text (colliding hashes only cost a duplicate entry). */
struct strtab {
    char **s;
    size_t n, cap;
    struct idmap map;
    bool failed;
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3u;
    return h;
}

/* str_index: the index of s in the table, added if new. */
static uint64_t str_index(struct strtab *t, const char *s)
{
    uint64_t h = str_hash(s);
    size_t slot = idmap_slot(&t->map, h);
    if (t->map.vals[slot] != 0 && strcmp(t->s[t->map.vals[slot] - 1], s) == 0)
        return t->map.vals[slot] - 1;
    if (t->n == t->cap || 2 * (t->n + 1) >= t->map.cap) { /* the table is sized at start */
        t->failed = true;
        return 0;
    }
    char *copy = strdup(s);
    if (copy == NULL) {
        t->failed = true;
        return 0;
    }
    t->s[t->n] = copy;
    if (t->map.vals[slot] == 0) {
        t->map.keys[slot] = h;
        t->map.vals[slot] = (uint32_t)t->n + 1;
    }
    return t->n++;
}

static void strtab_free(struct strtab *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    idmap_free(&t->map);
}

/* One executable mapping of the process. */
struct mapping {
    uintptr_t start, limit, offset;
    uint64_t file; /* string index */
};

/* One location: a distinct call address, its mapping and function. */
struct location {
    uintptr_t pc;      /* return address - 1 */
    uint64_t mapping;  /* id, 0 = none */
    uint64_t function; /* id, 0 = unresolved */
};

struct builder {
    struct strtab str;
    struct mapping *maps;
    size_t nmaps;
    struct location *locs;
    size_t nlocs;
    struct idmap locmap;     /* pc -> location index */
    uint64_t *funcname;      /* function id - 1 -> name string index */
    size_t nfuncs;
    struct idmap funcmap;    /* name string index -> function index */
    unw_cursor_t cursor;     /* for unw_get_proc_name by address */
    bool have_cursor;
};

/* read_maps: the executable file mappings of /proc/self/maps. */
static void read_maps(struct builder *b)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return;
    char line[4096];
    size_t cap = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long start, end, off;
        char perms[8], path[4096] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095s", &start, &end, perms, &off, path) < 4)
            continue;
        if (perms[2] != 'x' || path[0] != '/')
            continue;
        if (b->nmaps == cap) {
            cap = cap ? 2 * cap : 32;
            struct mapping *m = realloc(b->maps, cap * sizeof *m);
            if (m == NULL)
                break;
            b->maps = m;
        }
        b->maps[b->nmaps++] = (struct mapping){start, end, off, str_index(&b->str, path)};
    }
    fclose(f);
}

static uint64_t mapping_of(const struct builder *b, uintptr_t pc)
{
    for (size_t i = 0; i < b->nmaps; i++)
        if (pc >= b->maps[i].start && pc < b->maps[i].limit)
            return i + 1;
    return 0;
}

/* symbolize: the name of the function holding pc into buf; false when
 * neither libunwind nor the dynamic linker knows one. */
static bool symbolize(struct builder *b, uintptr_t pc, char *buf, size_t len)
{
    unw_word_t off;
    if (b->have_cursor && unw_set_reg(&b->cursor, UNW_REG_IP, pc) == 0) {
        int r = unw_get_proc_name(&b->cursor, buf, len, &off);
        if ((r == 0 || r == -UNW_ENOMEM) && buf[0] != '\0')
            return true; /* ENOMEM: truncated, still the name */
    }
    Dl_info info;
    if (dladdr((void *)pc, &info) != 0 && info.dli_sname != NULL) {
        snprintf(buf, len, "%s", info.dli_sname);
        return true;
    }
    return false;
}

/* function_id: the function named by string index name, made if new. */
static uint64_t function_id(struct builder *b, uint64_t name)
{
    size_t slot = idmap_slot(&b->funcmap, name);
    if (b->funcmap.vals[slot] == 0) {
        b->funcname[b->nfuncs++] = name;
        b->funcmap.keys[slot] = name;
        b->funcmap.vals[slot] = (uint32_t)b->nfuncs;
    }
    return b->funcmap.vals[slot];
}

/* location_id: the location of return address ra, made (and resolved)
 * if new. */
static uint64_t location_id(struct builder *b, uintptr_t ra)
{
    uintptr_t pc = ra - 1; /* inside the call instruction */
    size_t slot = idmap_slot(&b->locmap, pc);
    if (b->locmap.vals[slot] != 0)
        return b->locmap.vals[slot];
    struct location *l = &b->locs[b->nlocs];
    l->pc = pc;
    l->mapping = mapping_of(b, pc);
    char name[512];
    l->function = symbolize(b, pc, name, sizeof name) ? function_id(b, str_index(&b->str, name)) : 0;
    b->locmap.keys[slot] = pc;
    b->locmap.vals[slot] = (uint32_t)++b->nlocs;
    return b->nlocs;
}

/* builder_init: tables sized for nframes locations (and as many
 * functions and strings, plus the mappings' and fixed ones). */
static bool builder_init(struct builder *b, size_t nframes)
{
    memset(b, 0, sizeof *b);
    size_t nstr = 2 * nframes + 1024;
    b->str.cap = nstr;
    b->str.s = calloc(nstr, sizeof *b->str.s);
    b->locs = calloc(nframes + 1, sizeof *b->locs);
    b->funcname = calloc(nframes + 1, sizeof *b->funcname);
    if (b->str.s == NULL || b->locs == NULL || b->funcname == NULL ||
        !idmap_init(&b->str.map, nstr) || !idmap_init(&b->locmap, nframes) ||
        !idmap_init(&b->funcmap, nframes))
        return false;
    str_index(&b->str, "");
    unw_context_t ctx;
    b->have_cursor = unw_getcontext(&ctx) == 0 && unw_init_local(&b->cursor, &ctx) == 0;
    return true;
}

static void builder_free(struct builder *b)
{
    strtab_free(&b->str);
    free(b->maps);
    free(b->locs);
    free(b->funcname);
    idmap_free(&b->locmap);
    idmap_free(&b->funcmap);
}

/* one_minus_exp_neg: 1 - exp(-x) for x >= 0, without libm (its series for small
 * x, repeated squaring of exp(-x/2^k) otherwise). */
static double one_minus_exp_neg(double x)
{
    if (x < 1e-3)
        return x * (1 - x / 2 * (1 - x / 3 * (1 - x / 4)));
    int k = 0;
    while (x > 1e-3 && k < 60) {
        x /= 2;
        k++;
    }
    double e = 1 - x * (1 - x / 2 * (1 - x / 3 * (1 - x / 4))); /* exp(-x) */
    while (k-- > 0)
        e *= e;
    return 1 - e;
}

/* scale: Go's scaleHeapSample: counts of objects sampled with
 * probability 1 - exp(-size / rate) back to estimates of all of them. */
static void scale(uint64_t count, uint64_t bytes, int64_t rate, uint64_t *out_count,
                  uint64_t *out_bytes)
{
    if (count == 0 || bytes == 0 || rate <= 1) {
        *out_count = count;
        *out_bytes = bytes;
        return;
    }
    double avg = (double)bytes / (double)count;
    double s = 1 / one_minus_exp_neg(avg / (double)rate);
    *out_count = (uint64_t)((double)count * s);
    *out_bytes = (uint64_t)((double)bytes * s);
}

static void value_type(struct pbuf *out, unsigned field, struct builder *b, const char *type,
                       const char *unit, struct pbuf *msg)
{
    pb_uint(msg, VALUETYPE_TYPE, str_index(&b->str, type));
    pb_uint(msg, VALUETYPE_UNIT, str_index(&b->str, unit));
    pb_message(out, field, msg);
}

/* put_sample: one record as a Sample message. */
static void put_sample(struct pbuf *out, struct builder *b, const struct mprof_record *r,
                       int64_t rate, struct pbuf *msg, struct pbuf *scratch)
{
    uint64_t ids[MPROF_MAX_STACK], v[4];
    for (uint32_t i = 0; i < r->nstk; i++)
        ids[i] = location_id(b, r->stk[i]);
    scale(r->c.allocs, r->c.allocs * r->size, rate, &v[0], &v[1]); /* one size per bucket */
    /* MP3 keeps frees <= allocs; an explicit free (gchi_free, tests
     * only) is accounted like a sweep's, one cycle early: clamp. */
    uint64_t live = r->c.allocs > r->c.frees ? r->c.allocs - r->c.frees : 0;
    scale(live, live * r->size, rate, &v[2], &v[3]);
    pb_packed(msg, SAMPLE_LOCATION_ID, ids, r->nstk, scratch);
    pb_packed(msg, SAMPLE_VALUE, v, 4, scratch);
    scratch->len = 0;
    pb_uint(scratch, LABEL_KEY, str_index(&b->str, "bytes"));
    pb_uint(scratch, LABEL_NUM, r->size);
    pb_message(msg, SAMPLE_LABEL, scratch);
    pb_message(out, PROFILE_SAMPLE, msg);
}

/* put_tables: mappings, locations, functions and the string table. */
static void put_tables(struct pbuf *out, struct builder *b, struct pbuf *msg, struct pbuf *sub)
{
    for (size_t i = 0; i < b->nmaps; i++) {
        const struct mapping *m = &b->maps[i];
        pb_uint(msg, MAPPING_ID, i + 1);
        pb_uint(msg, MAPPING_START, m->start);
        pb_uint(msg, MAPPING_LIMIT, m->limit);
        pb_uint(msg, MAPPING_OFFSET, m->offset);
        pb_uint(msg, MAPPING_FILENAME, m->file);
        pb_uint(msg, MAPPING_HAS_FUNCTIONS, 1); /* pprof need not symbolize again */
        pb_message(out, PROFILE_MAPPING, msg);
    }
    for (size_t i = 0; i < b->nlocs; i++) {
        const struct location *l = &b->locs[i];
        pb_uint(msg, LOCATION_ID, i + 1);
        pb_uint(msg, LOCATION_MAPPING_ID, l->mapping);
        pb_uint(msg, LOCATION_ADDRESS, l->pc);
        if (l->function != 0) {
            pb_uint(sub, LINE_FUNCTION_ID, l->function);
            pb_message(msg, LOCATION_LINE, sub);
        }
        pb_message(out, PROFILE_LOCATION, msg);
    }
    for (size_t i = 0; i < b->nfuncs; i++) {
        pb_uint(msg, FUNCTION_ID, i + 1);
        pb_uint(msg, FUNCTION_NAME, b->funcname[i]);
        pb_uint(msg, FUNCTION_SYSTEM_NAME, b->funcname[i]);
        pb_message(out, PROFILE_FUNCTION, msg);
    }
    for (size_t i = 0; i < b->str.n; i++)
        pb_string(out, PROFILE_STRING_TABLE, b->str.s[i]);
}

/* encode: the whole Profile message for records r[0..n) into out. */
static void encode(struct pbuf *out, struct builder *b, const struct mprof_record *r, size_t n,
                   int64_t rate)
{
    struct pbuf msg = {0}, sub = {0};
    value_type(out, PROFILE_SAMPLE_TYPE, b, "alloc_objects", "count", &msg);
    value_type(out, PROFILE_SAMPLE_TYPE, b, "alloc_space", "bytes", &msg);
    value_type(out, PROFILE_SAMPLE_TYPE, b, "inuse_objects", "count", &msg);
    value_type(out, PROFILE_SAMPLE_TYPE, b, "inuse_space", "bytes", &msg);
    for (size_t i = 0; i < n; i++)
        put_sample(out, b, &r[i], rate, &msg, &sub);
    read_maps(b);
    for (size_t i = 0; i < b->nlocs; i++) /* mappings were read after the samples */
        b->locs[i].mapping = mapping_of(b, b->locs[i].pc);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pb_uint(out, PROFILE_TIME_NANOS, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    value_type(out, PROFILE_PERIOD_TYPE, b, "space", "bytes", &msg);
    pb_uint(out, PROFILE_PERIOD, (uint64_t)rate);
    put_tables(out, b, &msg, &sub); /* last: every string is interned by now */
    if (msg.failed || sub.failed || b->str.failed)
        out->failed = true;
    pbuf_free(&msg);
    pbuf_free(&sub);
}

gch_error gch_write_heap_profile(gch_heap *h, FILE *f)
{
    if (h == NULL || f == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_write_heap_profile: %s is NULL", h == NULL ? "heap" : "file");
        return GCH_EINVAL;
    }
    size_t n;
    struct mprof_record *r = mprof_snapshot(&h->mheap.prof, &n);
    size_t nframes = 0;
    for (size_t i = 0; i < n; i++)
        nframes += r[i].nstk;
    struct builder b;
    struct pbuf out = {0};
    bool built = builder_init(&b, nframes);
    if (built)
        encode(&out, &b, r, n, h->mheap.prof.rate);
    builder_free(&b);
    free(r);
    if (!built || out.failed) {
        pbuf_free(&out);
        gchi_set_error(GCH_ENOMEM, "gch_write_heap_profile: out of memory");
        return GCH_ENOMEM;
    }
    bool ok = gzip_write(f, out.data, out.len) && fflush(f) == 0;
    pbuf_free(&out);
    if (!ok) {
        gchi_set_error(GCH_EINVAL, "gch_write_heap_profile: write error");
        return GCH_EINVAL;
    }
    return GCH_OK;
}
