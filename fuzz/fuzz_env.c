/*
 * fuzz_env.c - libFuzzer harness for the environment parsers
 * (gc/debugvars.c): GOGC, GOMEMLIMIT, GODEBUG, and gcenv_read over all
 * four variables through an injected getenv.
 *
 * Input: up to four strings separated by '\n' (GOGC, GOMEMLIMIT,
 * GODEBUG, GOMAXPROCS).  Checked on every input (a violation traps):
 *   - gcenv_parse_gogc accepts only values >= -1 and leaves *out alone on
 *     failure; an accepted value prints back ("off" or %d) to itself;
 *   - gcenv_parse_bytes accepts only values >= 0 and leaves *out alone on
 *     failure; a plain decimal it accepts prints back to itself;
 *   - gcenv_parse_godebug keeps every key within its row's range (E1),
 *     and applying the same string twice changes nothing more (items are
 *     "last wins");
 *   - gcenv_read from legal defaults leaves legal values (E1).
 */
#define GCHI_BUILDING 1
#include "debugvars.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) ((c) ? (void)0 : __builtin_trap())

struct vars {
    char s[4][256];
};

static const char *fake_getenv(void *ctx, const char *name)
{
    const struct vars *v = ctx;
    const char *names[4] = {"GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return v->s[i][0] != '\0' ? v->s[i] : NULL;
    return NULL;
}

static void check_debug(const struct gcdebug *d)
{
#define GCHI_FUZZ_RANGE(name, def, min, max, meaning) CHECK(d->name >= (min) && d->name <= (max));
    GCH_GODEBUG_KEYS(GCHI_FUZZ_RANGE)
#undef GCHI_FUZZ_RANGE
}

static void split(const uint8_t *data, size_t size, struct vars *v)
{
    memset(v, 0, sizeof *v);
    size_t k = 0, n = 0;
    for (size_t i = 0; i < size && k < 4; i++) {
        if (data[i] == '\n') {
            k++;
            n = 0;
        } else if (n < sizeof v->s[0] - 1) {
            v->s[k][n++] = (char)data[i]; /* a NUL byte ends the C string early */
        }
    }
}

static void fuzz_gogc(const char *s)
{
    int g = 12345;
    if (!gcenv_parse_gogc(s, &g)) {
        CHECK(g == 12345);
        return;
    }
    CHECK(g >= -1);
    char t[32];
    if (g == -1)
        snprintf(t, sizeof t, "off");
    else
        snprintf(t, sizeof t, "%d", g);
    int g2 = 0;
    CHECK(gcenv_parse_gogc(t, &g2) && g2 == g);
}

static void fuzz_bytes(const char *s)
{
    int64_t b = 777;
    if (!gcenv_parse_bytes(s, &b)) {
        CHECK(b == 777);
        return;
    }
    CHECK(b >= 0);
    char t[32];
    snprintf(t, sizeof t, "%" PRId64, b);
    int64_t b2 = -1;
    CHECK(gcenv_parse_bytes(t, &b2) && b2 == b);
}

static void fuzz_godebug(const char *s, FILE *sink)
{
    struct gcdebug d, twice;
    gcdebug_defaults(&d);
    gcenv_parse_godebug(&d, s, "GODEBUG", sink);
    check_debug(&d);
    twice = d;
    gcenv_parse_godebug(&twice, s, "GODEBUG", sink);
    CHECK(memcmp(&d, &twice, sizeof d) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink; /* error lines go nowhere */
    if (sink == NULL)
        sink = fopen("/dev/null", "w");
    struct vars v;
    split(data, size, &v);
    fuzz_gogc(v.s[0]);
    fuzz_bytes(v.s[1]);
    fuzz_godebug(v.s[2], sink);
    struct gcenv e;
    gcenv_defaults(&e);
    gcenv_read(&e, NULL, fake_getenv, &v, sink);
    CHECK(e.gc_percent >= -1);
    CHECK(e.memory_limit >= 0);
    CHECK(e.gomaxprocs >= 1);
    check_debug(&e.debug);
    return 0;
}
