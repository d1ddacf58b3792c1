/*
 * fuzz_heap.c - libFuzzer harness: random operation sequences against
 * the public API, checked against a reference model of the object graph.
 *
 * Every input builds a fresh heap with GODEBUG=gccheckmark=1 and
 * clobberfree=1 (invalidptr=1 is the default), a GOGC, gcstress and
 * gcstoptheworld chosen by the first byte, and runs up to MAX_OPS
 * operations of 4 bytes each (op, a, b, c):
 *   allocate a node (two reference fields), a vector (1..8 elements of
 *   {id, reference}) or a pointer-free blob; store a reference into a
 *   field with gch_write, gch_write_cas (with a right or a stale
 *   comparand), gch_write_range (overlapping too) or gch_write_clear;
 *   load a field into a root; clear a root; gch_collect; add/remove the
 *   global root range, the heap scanner, a second handle frame; a
 *   blocking section; a second thread that attaches, allocates a chain
 *   and links it into a global or scanner slot, then detaches; safepoints
 *   and garbage; holding the mark (tests/testhooks.h; workers and
 *   assists stall after the roots are scanned), so that stores race an
 *   unfinished mark as they would on a loaded machine.
 * The model keeps, per object id, its kind and the ids its fields hold,
 * and per root slot the id it holds; no raw pointer.  After each
 * collection and at the end, every object reachable from the roots must
 * hold its id (not clobbered, so not freed) and fields whose targets
 * match the model exactly.  A lost object traps here or is a fatal error
 * from the heap (gccheckmark, invalidptr) first.
 */
#include <gcheap.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) ((c) ? (void)0 : __builtin_trap())

/* tests/testhooks.h: while the mark is held, workers and assists do no
 * mark work, so the stores that follow race a mark that has only the
 * roots scanned. */
#include "testhooks.h"

#define MAX_OPS 300
#define MAXOBJ 600
#define NF 6 /* the base frame */
#define NG 6 /* the global root range */
#define NS 4 /* the heap scanner's table */
#define NX 4 /* the second frame */
#define NROOTS (NF + NG + NS + NX)
#define MAXFIELDS 8

enum kind { K_NODE = 1, K_VEC, K_PVEC, K_BLOB };

struct node {
    uint64_t id;
    void *f[2];
};
struct velem {
    uint64_t id;
    void *p;
};

static const uint8_t node_mask[] = {0x06};
static const gch_type node_type = {"node", sizeof(struct node), node_mask, NULL};
static const uint8_t velem_mask[] = {0x02};
static const gch_type velem_type = {"velem", sizeof(struct velem), velem_mask, NULL};
/* pvec_types[n]: an id word then n contiguous references (1 <= n <= 8). */
static const uint8_t pvec_masks[MAXFIELDS + 1][2] = {
    {0, 0}, {0x02, 0}, {0x06, 0}, {0x0e, 0}, {0x1e, 0}, {0x3e, 0}, {0x7e, 0}, {0xfe, 0}, {0xfe, 0x01}};
#define PVEC(n) {"pvec", 8 * ((n) + 1), pvec_masks[n], NULL}
static const gch_type pvec_types[MAXFIELDS + 1] = {PVEC(0), PVEC(1), PVEC(2), PVEC(3), PVEC(4),
                                                   PVEC(5), PVEC(6), PVEC(7), PVEC(8)};

struct mobj {
    uint8_t kind, nfields;
    uint32_t size; /* blobs */
    int32_t field[MAXFIELDS];
};

struct ctx {
    gch_heap *h;
    gch_thread *t;
    void *F[NF], *G[NG], *S[NS], *X[NX]; /* the real roots */
    gch_frame ff, xf;
    bool g_on, s_on, x_on;
    bool stressed; /* gcstress on: collections inside allocations */
    bool held;     /* the mark is held (test hook) */
    int32_t root[NROOTS]; /* model: id per root slot, -1 = NULL */
    void *stale;          /* a reference last loaded, kept across everything: a CAS
                           * comparand that may be long freed (never read) */
    struct mobj obj[MAXOBJ];
    int32_t nobj;
    void *seen[MAXOBJ];   /* verify: the address of each id reached */
};

static void scan_table(gch_visitor *v, void *arg)
{
    struct ctx *c = arg;
    for (int i = 0; i < NS; i++)
        gch_visit(v, &c->S[i]);
}

/* ---- roots ----------------------------------------------------------------- */

/* root_slot: the real slot of root r, or NULL when r is not a root now. */
static void **root_slot(struct ctx *c, unsigned r)
{
    r %= NROOTS;
    if (r < NF)
        return &c->F[r];
    r -= NF;
    if (r < NG)
        return c->g_on ? &c->G[r] : NULL;
    r -= NG;
    if (r < NS)
        return c->s_on ? &c->S[r] : NULL;
    r -= NS;
    return c->x_on ? &c->X[r] : NULL;
}

static bool root_barriered(unsigned r)
{
    r %= NROOTS;
    return r >= NF && r < NF + NG + NS; /* globals and scanner slots */
}

static void root_set(struct ctx *c, unsigned r, void *p, int32_t id)
{
    void **slot = root_slot(c, r);
    if (slot == NULL)
        return;
    if (root_barriered(r))
        gch_write(c->t, slot, p);
    else
        *slot = p;
    c->root[r % NROOTS] = id;
}

/* ---- objects --------------------------------------------------------------- */

static int32_t id_of(const void *p, enum kind k)
{
    if (k == K_NODE)
        return (int32_t)((const struct node *)p)->id;
    if (k == K_VEC)
        return (int32_t)((const struct velem *)p)[0].id;
    uint64_t id; /* K_PVEC and K_BLOB: the first word */
    memcpy(&id, p, sizeof id);
    return (int32_t)id;
}

/* field_slot: the address of field k of object p (kind kd). */
static void **field_slot(void *p, enum kind kd, unsigned k)
{
    if (kd == K_NODE)
        return &((struct node *)p)->f[k];
    if (kd == K_PVEC)
        return &((void **)p)[1 + k];
    return &((struct velem *)p)[k].p;
}

static int32_t new_object(struct ctx *c, gch_thread *t, enum kind kd, unsigned arg, void **out)
{
    if (c->nobj >= MAXOBJ)
        return -1;
    int32_t id = c->nobj;
    struct mobj *m = &c->obj[id];
    memset(m, 0, sizeof *m);
    m->kind = (uint8_t)kd;
    void *p = NULL;
    if (kd == K_NODE) {
        struct node *n = gch_alloc(t, &node_type);
        CHECK(n != NULL && n->id == 0 && n->f[0] == NULL && n->f[1] == NULL);
        n->id = (uint64_t)id;
        m->nfields = 2;
        p = n;
    } else if (kd == K_VEC) {
        unsigned len = 1 + arg % MAXFIELDS;
        struct velem *v = gch_alloc_array(t, &velem_type, len);
        CHECK(v != NULL);
        for (unsigned i = 0; i < len; i++) {
            CHECK(v[i].id == 0 && v[i].p == NULL);
            v[i].id = (uint64_t)id;
        }
        m->nfields = (uint8_t)len;
        p = v;
    } else if (kd == K_PVEC) {
        unsigned len = 1 + arg % MAXFIELDS;
        void **w = gch_alloc(t, &pvec_types[len]);
        CHECK(w != NULL);
        for (unsigned i = 0; i <= len; i++)
            CHECK(w[i] == NULL);
        uint64_t v64 = (uint64_t)id;
        memcpy(w, &v64, 8);
        m->nfields = (uint8_t)len;
        p = w;
    } else {
        m->size = 8 + arg % 120;
        unsigned char *b = gch_alloc_noscan(t, m->size);
        CHECK(b != NULL && ((uintptr_t)b & 7) == 0);
        for (uint32_t i = 0; i < m->size; i++)
            CHECK(b[i] == 0);
        uint64_t v64 = (uint64_t)id;
        memcpy(b, &v64, 8);
        memset(b + 8, (int)(id & 0xff), m->size - 8);
        p = b;
    }
    for (int i = 0; i < MAXFIELDS; i++)
        m->field[i] = -1;
    c->nobj++;
    *out = p;
    return id;
}

/* ---- verification ---------------------------------------------------------- */

static void verify_obj(struct ctx *c, void *p, int32_t id);

static void verify_ref(struct ctx *c, void *p, int32_t id)
{
    if (id < 0) {
        CHECK(p == NULL);
        return;
    }
    CHECK(p != NULL);
    if (c->seen[id] != NULL) {
        CHECK(c->seen[id] == p); /* one object, one address */
        return;
    }
    c->seen[id] = p;
    verify_obj(c, p, id);
}

static void verify_obj(struct ctx *c, void *p, int32_t id)
{
    const struct mobj *m = &c->obj[id];
    CHECK(id_of(p, (enum kind)m->kind) == id); /* clobbered or reused: lost */
    if (m->kind == K_BLOB) {
        const unsigned char *b = p;
        for (uint32_t i = 8; i < m->size; i++)
            CHECK(b[i] == (unsigned char)(id & 0xff));
        return;
    }
    if (m->kind == K_VEC)
        for (unsigned i = 0; i < m->nfields; i++)
            CHECK(((struct velem *)p)[i].id == (uint64_t)id);
    for (unsigned k = 0; k < m->nfields; k++)
        verify_ref(c, *field_slot(p, (enum kind)m->kind, k), m->field[k]);
}

static void verify(struct ctx *c)
{
    memset(c->seen, 0, sizeof c->seen);
    for (unsigned r = 0; r < NROOTS; r++) {
        void **slot = root_slot(c, r);
        if (slot != NULL)
            verify_ref(c, *slot, c->root[r]);
        else
            CHECK(c->root[r] == -1);
    }
}

/* ---- the second thread ------------------------------------------------------ */

struct helper {
    struct ctx *c;
    void **slot;   /* a global or scanner slot (written with gch_write) */
    unsigned len;  /* chain length */
    int32_t head;  /* model id of the chain's head, or -1 */
};

static void *helper_main(void *arg)
{
    struct helper *hp = arg;
    struct ctx *c = hp->c;
    gch_thread *t = gch_thread_attach(c->h);
    CHECK(t != NULL);
    /* The chain is built tail first, each node in a frame slot. */
    void *locals[1] = {NULL};
    gch_frame f;
    gch_frame_push(t, &f, locals, 1);
    int32_t next = -1;
    for (unsigned i = 0; i < hp->len; i++) {
        void *p;
        int32_t id = new_object(c, t, K_NODE, 0, &p);
        if (id < 0)
            break;
        gch_write(t, &((struct node *)p)->f[0], locals[0]);
        c->obj[id].field[0] = next;
        locals[0] = p;
        next = id;
    }
    if (hp->slot != NULL)
        gch_write(t, hp->slot, locals[0]);
    hp->head = next;
    gch_frame_pop(t, &f);
    CHECK(gch_thread_detach(t) == GCH_OK);
    return NULL;
}

static void op_thread(struct ctx *c, unsigned a, unsigned b)
{
    struct helper hp = {c, NULL, 1 + b % 6, -1};
    unsigned r = NF + a % (NG + NS); /* a global or scanner slot */
    hp.slot = root_slot(c, r);
    pthread_t th;
    /* The main thread waits in a blocking section: a cycle the helper
     * starts must not wait for it. */
    gch_blocking_enter(c->t);
    CHECK(pthread_create(&th, NULL, helper_main, &hp) == 0);
    pthread_join(th, NULL);
    gch_blocking_leave(c->t);
    if (hp.slot != NULL)
        c->root[r] = hp.head;
}

/* ---- operations -------------------------------------------------------------- */

/* obj_at: the object at root r and its model id, or NULL. */
static void *obj_at(struct ctx *c, unsigned r, int32_t *id)
{
    void **slot = root_slot(c, r);
    if (slot == NULL || *slot == NULL)
        return NULL;
    *id = c->root[r % NROOTS];
    return *slot;
}

static void op_link(struct ctx *c, unsigned a, unsigned b, unsigned k, bool use_cas)
{
    int32_t oid, vid = -1;
    void *o = obj_at(c, a, &oid);
    if (o == NULL || c->obj[oid].nfields == 0)
        return;
    void *v = obj_at(c, b, &vid);
    if (v == NULL)
        vid = -1;
    struct mobj *m = &c->obj[oid];
    k %= m->nfields;
    void **slot = field_slot(o, (enum kind)m->kind, k);
    if (!use_cas) {
        gch_write(c->t, slot, v);
        m->field[k] = vid;
        return;
    }
    /* The comparand: the field's value (succeeds), or a reference kept
     * since some earlier load, maybe freed since (issue 13: the barrier
     * must not shade it).  Single-threaded here, so the outcome is known. */
    void *expected = (b & 0x40) ? *slot : c->stale;
    bool want = *slot == expected;
    int ok = gch_write_cas(c->t, slot, expected, v);
    CHECK((ok != 0) == want);
    if (ok)
        m->field[k] = vid;
}

static void op_load(struct ctx *c, unsigned a, unsigned b, unsigned k)
{
    int32_t oid;
    void *o = obj_at(c, b, &oid);
    if (o == NULL || c->obj[oid].nfields == 0 || root_slot(c, a) == NULL)
        return;
    struct mobj *m = &c->obj[oid];
    k %= m->nfields;
    void *v = *field_slot(o, (enum kind)m->kind, k);
    root_set(c, a, v, m->field[k]);
    c->stale = v;
}

/* op_range: copy n references between (or within) pointer vectors with
 * gch_write_range, overlapping when both are the same object. */
static void op_range(struct ctx *c, unsigned a, unsigned b, unsigned k)
{
    int32_t did, sid;
    void **d = obj_at(c, a, &did), **s = obj_at(c, b, &sid);
    if (d == NULL || s == NULL || c->obj[did].kind != K_PVEC || c->obj[sid].kind != K_PVEC)
        return;
    unsigned nd = c->obj[did].nfields, ns = c->obj[sid].nfields;
    unsigned n = 1 + k % (nd < ns ? nd : ns);
    unsigned di = (k >> 3) % (nd - n + 1), si = (k >> 5) % (ns - n + 1);
    int32_t tmp[MAXFIELDS];
    for (unsigned i = 0; i < n; i++)
        tmp[i] = c->obj[sid].field[si + i];
    gch_write_range(c->t, &d[1 + di], (void *const *)&s[1 + si], n);
    for (unsigned i = 0; i < n; i++)
        c->obj[did].field[di + i] = tmp[i];
}

static void op_clear(struct ctx *c, unsigned a, unsigned k)
{
    int32_t oid;
    void *o = obj_at(c, a, &oid);
    if (o == NULL || c->obj[oid].nfields == 0)
        return;
    struct mobj *m = &c->obj[oid];
    unsigned i = k % m->nfields;
    /* pointer vectors: a run of slots; others: one */
    unsigned n = m->kind == K_PVEC ? 1 + (k >> 4) % (m->nfields - i) : 1;
    gch_write_clear(c->t, field_slot(o, (enum kind)m->kind, i), n);
    for (unsigned j = 0; j < n; j++)
        m->field[i + j] = -1;
}

static void toggle_globals(struct ctx *c)
{
    if (c->g_on) {
        for (int i = 0; i < NG; i++) {
            gch_write(c->t, &c->G[i], NULL);
            c->root[NF + i] = -1;
        }
        CHECK(gch_root_range_remove(c->h, c->G) == GCH_OK);
    } else {
        CHECK(gch_root_range_add(c->h, c->G, NG) == GCH_OK);
    }
    c->g_on = !c->g_on;
}

static void toggle_scanner(struct ctx *c)
{
    if (c->s_on) {
        for (int i = 0; i < NS; i++) {
            gch_write(c->t, &c->S[i], NULL);
            c->root[NF + NG + i] = -1;
        }
        CHECK(gch_heap_scanner_remove(c->h, scan_table, c) == GCH_OK);
    } else {
        CHECK(gch_heap_scanner_add(c->h, scan_table, c) == GCH_OK);
    }
    c->s_on = !c->s_on;
}

static void toggle_frame(struct ctx *c)
{
    if (c->x_on) {
        gch_frame_pop(c->t, &c->xf);
        for (int i = 0; i < NX; i++) {
            c->X[i] = NULL;
            c->root[NF + NG + NS + i] = -1;
        }
    } else {
        gch_frame_push(c->t, &c->xf, c->X, NX);
    }
    c->x_on = !c->x_on;
}

/* hold: hold or release the mark (tests/testhooks.h; not under
 * gcstress, whose collections would wait for a held mark forever). */
static void hold(struct ctx *c, bool on)
{
    if (on && c->stressed)
        return;
    if (on != c->held)
        gchi_test_hold_mark(c->h, on);
    c->held = on;
}

static void op_new(struct ctx *c, enum kind kd, unsigned a, unsigned arg)
{
    if (root_slot(c, a) == NULL)
        return;
    void *p;
    int32_t id = new_object(c, c->t, kd, arg, &p);
    if (id >= 0)
        root_set(c, a, p, id);
}

static void run_op(struct ctx *c, const uint8_t *q)
{
    unsigned op = q[0] % 19, a = q[1], b = q[2], k = q[3];
    switch (op) {
    case 0: op_new(c, K_NODE, a, k); break;
    case 1: op_new(c, K_VEC, a, k); break;
    case 2: op_new(c, K_BLOB, a, k); break;
    case 17: op_new(c, K_PVEC, a, k); break;
    case 3: case 4: op_link(c, a, b, k, false); break;
    case 5: op_link(c, a, b, k, true); break;
    case 6: op_load(c, a, b, k); break;
    case 7: op_range(c, a, b, k); break;
    case 8: op_clear(c, a, k); break;
    case 9: if (root_slot(c, a) != NULL) root_set(c, a, NULL, -1); break;
    case 10: hold(c, false); CHECK(gch_collect(c->h) == GCH_OK); verify(c); break;
    case 18: hold(c, !c->held); break;
    case 11: toggle_globals(c); break;
    case 12: toggle_scanner(c); break;
    case 13: toggle_frame(c); break;
    case 14: gch_blocking_enter(c->t); gch_blocking_leave(c->t); break;
    case 15: op_thread(c, a, b); break;
    default: /* garbage and a safepoint: automatic cycles start here */
        for (unsigned i = 0; i < 1 + k % 8; i++)
            CHECK(gch_alloc_noscan(c->t, 64 + 512 * (a % 8)) != NULL);
        gch_safepoint(c->t);
        break;
    }
}

static gch_heap *new_heap(uint8_t conf)
{
    static const int gogc[4] = {1, 5, 100, -1};
    static const int stress[4] = {0, 0, 1, 5};
    char godebug[128];
    snprintf(godebug, sizeof godebug, "gccheckmark=1,clobberfree=1,gcstress=%d,gcstoptheworld=%d",
             stress[(conf >> 2) & 3], (conf >> 4) & 1);
    setenv("GCHFUZZ_GODEBUG", godebug, 1);
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "GCHFUZZ_";
    cfg.gc_percent = gogc[conf & 3];
    cfg.gomaxprocs = 2;
    return gch_heap_new(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct ctx *c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    c->h = new_heap(data[0]);
    c->stressed = ((data[0] >> 2) & 3) >= 2; /* new_heap's stress table */
    CHECK(c->h != NULL);
    c->t = gch_thread_attach(c->h);
    CHECK(c->t != NULL);
    for (int i = 0; i < NROOTS; i++)
        c->root[i] = -1;
    gch_frame_push(c->t, &c->ff, c->F, NF);
    size_t nops = (size - 1) / 4;
    for (size_t i = 0; i < nops && i < MAX_OPS; i++)
        run_op(c, data + 1 + 4 * i);
    hold(c, false);
    CHECK(gch_collect(c->h) == GCH_OK);
    verify(c);
    if (c->x_on)
        toggle_frame(c);
    if (c->g_on)
        toggle_globals(c);
    if (c->s_on)
        toggle_scanner(c);
    gch_frame_pop(c->t, &c->ff);
    CHECK(gch_thread_detach(c->t) == GCH_OK);
    CHECK(gch_heap_free(c->h) == GCH_OK);
    free(c);
    return 0;
}
