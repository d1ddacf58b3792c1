/*
 * valgrind_uaf.c - run under Valgrind's memcheck against a library built
 * with GCH_VALGRIND=1 (alloc/track.h); tests/CMakeLists.txt runs it.
 *
 *   valgrind_uaf clean   a correct program: allocation, collections with
 *                        concurrent marking, reuse of freed slots, large
 *                        objects: memcheck must report no error (the
 *                        annotations cause no false report);
 *   valgrind_uaf uaf     reads a node after the collection that freed it:
 *                        memcheck must report an invalid read inside a
 *                        block free'd by the sweeper.
 */
#include <gcheap.h>
#include <stdio.h>
#include <string.h>

struct node {
    unsigned long tag;
    void *next;
};

static const unsigned char node_mask[] = {0x02};
static const gch_type node_type = {"node", sizeof(struct node), node_mask, NULL};

static int clean(gch_heap *h, gch_thread *t)
{
    GCH_LOCALS(t, keep, 1);
    unsigned long sum = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 2000; i++) {
            struct node *n = gch_alloc(t, &node_type);
            n->tag = (unsigned long)i;
            gch_write(t, &n->next, keep[0]);
            if (i % 3 == 0)
                keep[0] = n; /* a chain: a third of the nodes live */
            char *s = gch_alloc_noscan(t, 1 + (size_t)i % 40);
            memset(s, 'x', 1 + (size_t)i % 40);
        }
        char *big = gch_alloc_noscan(t, 100000);
        memset(big, 1, 100000);
        gch_collect(h);
        for (struct node *n = keep[0]; n != NULL; n = n->next)
            sum += n->tag;
        keep[0] = NULL;
    }
    GCH_LOCALS_END(t, keep);
    printf("sum %lu\n", sum);
    return 0;
}

static int uaf(gch_heap *h, gch_thread *t)
{
    GCH_LOCALS(t, keep, 1);
    keep[0] = gch_alloc(t, &node_type);
    for (int i = 0; i < 4; i++) /* garbage: n is not beside a live block */
        gch_alloc(t, &node_type);
    struct node *n = gch_alloc(t, &node_type); /* not a root: the bug */
    n->tag = 5;
    gch_collect(h);
    printf("read %lu\n", ((volatile struct node *)n)->tag);
    GCH_LOCALS_END(t, keep);
    return 0;
}

int main(int argc, char **argv)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.read_env = 0;
    /* No heap profile samples: libunwind probes stack memory with a
     * write(2), which memcheck reports as uninitialised bytes. */
    cfg.mem_profile_rate = 0;
    gch_heap *h = gch_heap_new(&cfg);
    gch_thread *t = gch_thread_attach(h);
    int rc = argc > 1 && strcmp(argv[1], "uaf") == 0 ? uaf(h, t) : clean(h, t);
    gch_thread_detach(t);
    gch_heap_free(h);
    return rc;
}
