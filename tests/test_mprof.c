/*
 * test_mprof.c - sampled heap profiling (alloc/mprof.c, gc/pprof.c):
 * the sampling rate, stack capture, the cycle-delayed publication of
 * allocations and frees, and the pprof file gch_write_heap_profile
 * writes (read back by this file's own gunzip and protobuf decoder, and
 * by `go tool pprof -top` when Go is installed).
 */
#include "testutil.h"

#include <math.h>

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
    assert_int_equal(gch_heap_free(h), GCH_OK);
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
    assert_int_equal(gch_heap_free(h), GCH_OK);

    h = heap_with_rate(1);
    t = gch_thread_attach(h);
    for (int i = 0; i < 1000; i++)
        assert_non_null(gch_alloc_noscan(t, 24));
    assert_non_null(gch_alloc_noscan(t, 100000)); /* large */
    assert_int_equal(nsamples(h), 1001);
    gch_thread_detach(t);
    assert_int_equal(gch_heap_free(h), GCH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampling_intervals),
        cmocka_unit_test(test_sampling_rate_statistics),
        cmocka_unit_test(test_rate_zero_and_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
