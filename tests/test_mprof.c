/*
 * test_mprof.c - sampled heap profiling (alloc/mprof.c, gc/pprof.c):
 * the sampling rate, stack capture, the cycle-delayed publication of
 * allocations and frees, and the pprof file gch_write_heap_profile
 * writes (read back by this file's own gunzip and protobuf decoder, and
 * by `go tool pprof -top` when Go is installed).
 */
#include "testutil.h"

#include <math.h>
#include <pthread.h>

/* heap_with_rate: a heap (automatic collection off, environment ignored)
 * sampling one object per `rate` bytes on average. */
static gch_heap *heap_with_rate(int rate)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.read_env = 0;
    cfg.mem_profile_rate = rate;
    return gch_heap_new(&cfg);
}

static uint64_t nsamples(gch_heap *h) { return atomic_u64_load_relaxed(&h->mheap.prof.nsamples); }

/* An allocation of s bytes is sampled with probability 1 - exp(-s/rate),
 * independently of the others (exponential distances, mprof.h): over
 * 10^6 allocations of 64 bytes at rate 4096 the count of samples is
 * binomial, mean 15504, sigma 124.  Five sigma either side. */
static void test_sampling_rate_statistics(void **state)
{
    (void)state;
    const double n = 1e6, size = 64, rate = 4096;
    gch_heap *h = heap_with_rate((int)rate);
    gch_thread *t = gch_thread_attach(h);
    for (int i = 0; i < (int)n; i++) {
        void *p = gch_alloc_noscan(t, (size_t)size);
        assert_non_null(p);
        if (i % 100000 == 0) /* keep the heap small: a collection frees them all */
            gch_collect(h);
    }
    double p = 1 - exp(-size / rate);
    double mean = n * p, sigma = sqrt(n * p * (1 - p));
    double got = (double)nsamples(h);
    print_message("samples %.0f, expected %.0f +- %.0f (5 sigma)\n", got, mean, 5 * sigma);
    assert_true(fabs(got - mean) <= 5 * sigma);
    gch_thread_detach(t);
    heap_free_checked(h);
}

/* The distances themselves: their mean is the rate (within 5 sigma of
 * the mean of 10^5 exponential draws), 0 turns sampling off, 1 samples
 * every object. */
static void test_sampling_intervals(void **state)
{
    (void)state;
    uint64_t rng = 12345;
    const int n = 100000;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)mprof_next_interval(524288, &rng);
    double mean = sum / n, sigma = 524288 / sqrt(n);
    assert_true(fabs(mean - 524288) <= 5 * sigma);
    assert_true(mprof_next_interval(0, &rng) == INT64_MAX);
    assert_true(mprof_next_interval(1, &rng) == 0);
}

/* Rate 0: a million allocations, not one sample, no bucket; rate 1:
 * every allocation is sampled. */
static void test_rate_zero_and_one(void **state)
{
    (void)state;
    gch_heap *h = heap_with_rate(0);
    gch_thread *t = gch_thread_attach(h);
    for (int i = 0; i < 1000000; i++) {
        assert_non_null(gch_alloc_noscan(t, 128));
        if (i % 100000 == 0)
            gch_collect(h);
    }
    assert_int_equal(nsamples(h), 0);
    assert_int_equal(atomic_u64_load_relaxed(&h->mheap.prof.nbuckets), 0);
    gch_thread_detach(t);
    heap_free_checked(h);

    h = heap_with_rate(1);
    t = gch_thread_attach(h);
    for (int i = 0; i < 1000; i++)
        assert_non_null(gch_alloc_noscan(t, 24));
    assert_non_null(gch_alloc_noscan(t, 100000)); /* large */
    assert_int_equal(nsamples(h), 1001);
    gch_thread_detach(t);
    heap_free_checked(h);
}

/* ---- reading a profile back: gunzip of stored blocks, protobuf ------ */

struct blob {
    uint8_t *p;
    size_t n;
};

static uint32_t test_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ ((c & 1) ? 0xedb88320u : 0);
    }
    return ~c;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* gunzip_stored: the data of a gzip member made of stored deflate
 * blocks, its header, CRC and length checked. */
static struct blob gunzip_stored(const uint8_t *z, size_t zn)
{
    assert_true(zn >= 18);
    assert_int_equal(z[0], 0x1f);
    assert_int_equal(z[1], 0x8b);
    assert_int_equal(z[2], 8);
    assert_int_equal(z[3], 0); /* no optional header fields */
    struct blob out = {malloc(zn), 0};
    size_t i = 10;
    for (bool final = false; !final;) {
        assert_true(i + 5 <= zn);
        final = z[i] & 1;
        assert_int_equal(z[i] >> 1 & 3, 0); /* stored */
        size_t len = z[i + 1] | z[i + 2] << 8, nlen = z[i + 3] | z[i + 4] << 8;
        assert_int_equal(len ^ nlen, 0xffff);
        i += 5;
        assert_true(i + len <= zn);
        memcpy(out.p + out.n, z + i, len);
        out.n += len;
        i += len;
    }
    assert_int_equal(i + 8, zn);
    assert_int_equal(le32(z + i), test_crc32(out.p, out.n));
    assert_int_equal(le32(z + i + 4), (uint32_t)out.n);
    return out;
}

static uint64_t rd_varint(const uint8_t *p, size_t n, size_t *i)
{
    uint64_t v = 0;
    for (int sh = 0; *i < n; sh += 7) {
        uint8_t c = p[(*i)++];
        v |= (uint64_t)(c & 0x7f) << sh;
        if (c < 0x80)
            return v;
    }
    fail_msg("truncated varint");
    return 0;
}

/* A protobuf field: its number, and either a varint or bytes. */
struct field {
    unsigned num;
    uint64_t v;
    const uint8_t *p;
    size_t n;
};

/* next_field: read the field at *i of p[0..n); false at the end. */
static bool next_field(const uint8_t *p, size_t n, size_t *i, struct field *f)
{
    if (*i >= n)
        return false;
    uint64_t key = rd_varint(p, n, i);
    f->num = (unsigned)(key >> 3);
    f->p = NULL;
    if ((key & 7) == 0) {
        f->v = rd_varint(p, n, i);
    } else {
        assert_int_equal(key & 7, 2);
        f->n = rd_varint(p, n, i);
        assert_true(*i + f->n <= n);
        f->p = p + *i;
        *i += f->n;
    }
    return true;
}

#define MAXN 4096
struct profile {
    char *str[MAXN];
    size_t nstr;
    uint64_t sample_type[8][2]; /* string indices: type, unit */
    size_t ntypes;
    struct { uint64_t loc[64]; size_t nloc; int64_t v[4]; } sample[MAXN];
    size_t nsamples;
    uint64_t loc_func[MAXN];  /* location id -> function id (first line) */
    uint64_t func_name[MAXN]; /* function id -> string index */
    int64_t period;
};

/* packed: the varints of a packed field (or one unpacked varint). */
static size_t packed(const struct field *f, uint64_t *out, size_t max)
{
    if (f->p == NULL) {
        out[0] = f->v;
        return 1;
    }
    size_t i = 0, k = 0;
    while (i < f->n && k < max)
        out[k++] = rd_varint(f->p, f->n, &i);
    return k;
}

static void parse_sample(struct profile *pr, const struct field *top)
{
    assert_true(pr->nsamples < MAXN);
    size_t i = 0;
    struct field f;
    uint64_t v[8];
    while (next_field(top->p, top->n, &i, &f)) {
        if (f.num == 1)
            pr->sample[pr->nsamples].nloc = packed(&f, pr->sample[pr->nsamples].loc, 64);
        if (f.num == 2) {
            assert_int_equal(packed(&f, v, 8), 4);
            for (int k = 0; k < 4; k++)
                pr->sample[pr->nsamples].v[k] = (int64_t)v[k];
        }
    }
    pr->nsamples++;
}

/* sub_varint: the varint field `num` of an embedded message (0 absent). */
static uint64_t sub_varint(const struct field *top, unsigned num)
{
    size_t i = 0;
    struct field f;
    while (next_field(top->p, top->n, &i, &f))
        if (f.num == num && f.p == NULL)
            return f.v;
    return 0;
}

static void parse_location(struct profile *pr, const struct field *top)
{
    uint64_t id = sub_varint(top, 1);
    assert_true(id > 0 && id < MAXN);
    size_t i = 0;
    struct field f;
    while (next_field(top->p, top->n, &i, &f))
        if (f.num == 4 && f.p != NULL) /* Line: function_id = 1 */
            pr->loc_func[id] = sub_varint(&f, 1);
}

static void parse_profile(struct profile *pr, const struct blob *b)
{
    memset(pr, 0, sizeof *pr);
    size_t i = 0;
    struct field f;
    while (next_field(b->p, b->n, &i, &f)) {
        switch (f.num) {
        case 1: pr->sample_type[pr->ntypes][0] = sub_varint(&f, 1);
                pr->sample_type[pr->ntypes++][1] = sub_varint(&f, 2); break;
        case 2: parse_sample(pr, &f); break;
        case 4: parse_location(pr, &f); break;
        case 5: {
            uint64_t id = sub_varint(&f, 1);
            assert_true(id > 0 && id < MAXN);
            pr->func_name[id] = sub_varint(&f, 2);
            break;
        }
        case 6:
            assert_true(pr->nstr < MAXN);
            pr->str[pr->nstr] = strndup((const char *)f.p, f.n);
            pr->nstr++;
            break;
        case 12: pr->period = (int64_t)f.v; break;
        default: break;
        }
    }
    assert_true(pr->nstr > 0);
    assert_string_equal(pr->str[0], "");
}

static void profile_free(struct profile *pr)
{
    for (size_t i = 0; i < pr->nstr; i++)
        free(pr->str[i]);
    free(pr);
}

static const char *loc_name(const struct profile *pr, uint64_t loc)
{
    uint64_t fn = pr->loc_func[loc];
    return fn == 0 ? "" : pr->str[pr->func_name[fn]];
}

/* read_profile: gch_write_heap_profile into memory, decoded. */
static struct profile *read_profile(gch_heap *h)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(gch_write_heap_profile(h, f), GCH_OK);
    fclose(f);
    struct blob b = gunzip_stored((const uint8_t *)buf, len);
    struct profile *pr = malloc(sizeof *pr);
    parse_profile(pr, &b);
    free(b.p);
    free(buf);
    return pr;
}

/* site_totals: the four values summed over the samples whose stack
 * holds function `name`; *innermost counts those whose first frame is
 * it (the heap's own frames cut off). */
static void site_totals(const struct profile *pr, const char *name, int64_t v[4], int *innermost)
{
    memset(v, 0, 4 * sizeof *v);
    *innermost = 0;
    for (size_t s = 0; s < pr->nsamples; s++)
        for (size_t k = 0; k < pr->sample[s].nloc; k++)
            if (strcmp(loc_name(pr, pr->sample[s].loc[k]), name) == 0) {
                for (int j = 0; j < 4; j++)
                    v[j] += pr->sample[s].v[j];
                *innermost += k == 0;
                break;
            }
}

/* The allocating site the profile must name. */
__attribute__((noinline)) void *mprof_test_alloc_site(gch_thread *t, size_t size)
{
    void *p = gch_alloc_noscan(t, size);
    __asm__ volatile("" ::: "memory"); /* not a tail call: this frame stays */
    return p;
}

/* Rate 1 (every object sampled, no scaling): the sample types are Go's,
 * the allocating function is named, innermost, with exact counts; after
 * the objects die, inuse drops to zero once two cycles have passed (the
 * first one's frees are published when its sweep ends), while the
 * alloc counts stay. */
static void test_profile_roundtrip(void **state)
{
    (void)state;
    enum { N = 300 };
    gch_heap *h = heap_with_rate(1);
    gch_thread *t = gch_thread_attach(h);
    static void *keep[N];
    assert_int_equal(gch_root_range_add(h, keep, N), GCH_OK);
    for (int i = 0; i < N; i++)
        gch_write(t, &keep[i], mprof_test_alloc_site(t, 100)); /* 112-byte class */
    struct profile *pr = read_profile(h);
    const char *types[4][2] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                               {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    assert_int_equal(pr->ntypes, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(pr->str[pr->sample_type[i][0]], types[i][0]);
        assert_string_equal(pr->str[pr->sample_type[i][1]], types[i][1]);
    }
    assert_int_equal(pr->period, 1);
    int64_t v[4];
    int inner;
    site_totals(pr, "mprof_test_alloc_site", v, &inner);
    assert_int_equal(v[0], N);
    assert_int_equal(v[1], N * 112);
    assert_int_equal(v[2], N);
    assert_int_equal(v[3], N * 112);
    assert_true(inner > 0);
    site_totals(pr, "test_profile_roundtrip", v, &inner); /* the caller's frame too */
    assert_int_equal(v[0], N);
    assert_int_equal(inner, 0);
    site_totals(pr, "mprof_sample", v, &inner); /* the heap's frames are cut */
    assert_int_equal(v[0], 0);
    profile_free(pr);

    gch_collect(h); /* still live: nothing changes */
    pr = read_profile(h);
    site_totals(pr, "mprof_test_alloc_site", v, &inner);
    assert_int_equal(v[2], N);
    profile_free(pr);

    for (int i = 0; i < N; i++)
        gch_write(t, &keep[i], NULL);
    gch_collect(h);
    gch_collect(h);
    pr = read_profile(h);
    site_totals(pr, "mprof_test_alloc_site", v, &inner);
    assert_int_equal(v[0], N);
    assert_int_equal(v[1], N * 112);
    assert_int_equal(v[2], 0);
    assert_int_equal(v[3], 0);
    profile_free(pr);
    assert_int_equal(gch_root_range_remove(h, keep), GCH_OK);
    gch_thread_detach(t);
    heap_free_checked(h);
}

/* Go's cycle delay: frees found by a cycle's sweep show only once the
 * sweep ended, and allocations made after the last cycle only after
 * the next one. */
static void test_profile_cycle_delay(void **state)
{
    (void)state;
    gch_heap *h = heap_with_rate(1);
    gch_thread *t = gch_thread_attach(h);
    /* Before anything is published a profile shows every sample (Go's
     * MemProfile does the same): publish some, from another site. */
    for (int i = 0; i < 10; i++)
        assert_non_null(gch_alloc_noscan(t, 64));
    gch_collect(h);
    gch_collect(h);
    for (int i = 0; i < 50; i++)
        mprof_test_alloc_site(t, 200);
    int64_t v[4];
    int inner;
    struct profile *pr = read_profile(h);
    site_totals(pr, "mprof_test_alloc_site", v, &inner);
    assert_int_equal(v[0], 0); /* allocated after the last mark termination */
    profile_free(pr);
    gch_collect(h); /* they die in this cycle; its sweep publishes the frees */
    pr = read_profile(h);
    site_totals(pr, "mprof_test_alloc_site", v, &inner);
    assert_int_equal(v[0], 50);
    assert_int_equal(v[2], 0);
    profile_free(pr);
    gch_thread_detach(t);
    heap_free_checked(h);
}

/* At the default rate the scaled estimate is plausible: 128 MiB in
 * 4 KiB objects is about 256 samples; the estimate of the bytes lies
 * within 35% (over 5 sigma) of the truth. */
static void test_profile_default_rate(void **state)
{
    (void)state;
    gch_heap *h = heap_with_rate(GCH_UNSET);
    assert_int_equal(h->mheap.prof.rate, 512 * 1024);
    gch_thread *t = gch_thread_attach(h);
    const size_t total = (size_t)128 << 20, size = 4096;
    for (size_t done = 0; done < total; done += size) {
        assert_non_null(mprof_test_alloc_site(t, size));
        if (done % ((size_t)16 << 20) == 0)
            gch_collect(h);
    }
    gch_collect(h); /* publishes every allocation made before it (and its frees) */
    struct profile *pr = read_profile(h);
    int64_t v[4];
    int inner;
    site_totals(pr, "mprof_test_alloc_site", v, &inner);
    print_message("alloc_space estimate %lld of %zu bytes\n", (long long)v[1], total);
    assert_true(v[1] > (int64_t)(total * 0.65) && v[1] < (int64_t)(total * 1.35));
    assert_int_equal(v[3], 0); /* none was kept: every sampled object's free was seen */
    assert_int_equal(pr->period, 512 * 1024);
    profile_free(pr);
    gch_thread_detach(t);
    heap_free_checked(h);
}

/* `go tool pprof -top` reads the file and names the allocating site
 * (skipped when Go is not installed). */
static void test_go_tool_pprof(void **state)
{
    (void)state;
    if (system("command -v go >/dev/null 2>&1") != 0) {
        skip();
        return;
    }
    gch_heap *h = heap_with_rate(4096);
    gch_thread *t = gch_thread_attach(h);
    for (int i = 0; i < 20000; i++)
        mprof_test_alloc_site(t, 1000);
    char path[] = "/tmp/gch_mprof_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_int_equal(gch_write_heap_profile(h, f), GCH_OK);
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "go tool pprof -top -sample_index=alloc_space %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[16384] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    unlink(path);
    print_message("%s", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "Type: alloc_space"));
    assert_non_null(strstr(out, "mprof_test_alloc_site"));
    gch_thread_detach(t);
    heap_free_checked(h);
}

struct racer {
    gch_heap *h;
    int n;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    gch_thread *t = gch_thread_attach(r->h);
    for (int i = 0; i < r->n; i++)
        assert_non_null(mprof_test_alloc_site(t, 16 + 16 * (size_t)(i % 4))); /* 4 buckets */
    gch_thread_detach(t);
    return NULL;
}

/* Four threads sample every object (rate 1) into the same buckets while
 * cycles run and the background sweeper frees them: every allocation
 * is counted once, and once all are dead and two cycles have passed
 * none shows in use (lock-free bucket lookup against insertion, frees
 * from any sweeper, the post-sweep publication). */
static void test_concurrent_sampling(void **state)
{
    (void)state;
    enum { THREADS = 4, PER = 20000 };
    gch_heap *h = heap_with_rate(1);
    pthread_t th[THREADS];
    struct racer r = {h, PER};
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r), 0);
    for (int i = 0; i < 20; i++)
        gch_collect(h);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(nsamples(h), THREADS * PER);
    gch_collect(h);
    gch_collect(h);
    struct profile *pr = read_profile(h);
    int64_t v[4];
    int inner;
    site_totals(pr, "mprof_test_alloc_site", v, &inner);
    assert_int_equal(v[0], THREADS * PER);
    assert_int_equal(v[1], THREADS * PER / 4 * (16 + 32 + 48 + 64));
    assert_int_equal(v[2], 0);
    assert_int_equal(v[3], 0);
    profile_free(pr);
    heap_free_checked(h);
}

/* Argument checks. */
static void test_write_bad_args(void **state)
{
    (void)state;
    gch_heap *h = heap_with_rate(0);
    assert_int_equal(gch_write_heap_profile(NULL, stdout), GCH_EINVAL);
    assert_int_equal(gch_write_heap_profile(h, NULL), GCH_EINVAL);
    FILE *ro = fopen("/dev/null", "r"); /* writes to it fail */
    assert_non_null(ro);
    assert_int_equal(gch_write_heap_profile(h, ro), GCH_EINVAL);
    fclose(ro);
    struct profile *pr = read_profile(h); /* profiling off: a valid, empty profile */
    assert_int_equal(pr->nsamples, 0);
    assert_int_equal(pr->ntypes, 4);
    profile_free(pr);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampling_intervals),
        cmocka_unit_test(test_sampling_rate_statistics),
        cmocka_unit_test(test_rate_zero_and_one),
        cmocka_unit_test(test_profile_roundtrip),
        cmocka_unit_test(test_profile_cycle_delay),
        cmocka_unit_test(test_profile_default_rate),
        cmocka_unit_test(test_concurrent_sampling),
        cmocka_unit_test(test_go_tool_pprof),
        cmocka_unit_test(test_write_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
