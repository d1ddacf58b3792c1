/*
 * pprofenc.c - byte buffer, protocol-buffer fields and stored-block gzip
 * for the heap profile writer.  Contract and invariants PE1-PE2:
 * gc/pprofenc.h.  The profile: gc/pprof.c.
 *
 * gzip without compression: a deflate stream may consist of "stored"
 * blocks (RFC 1951 3.2.4), each a 3-bit header padded to a byte, then
 * LEN and its one's complement, then LEN raw bytes.  Every gzip reader
 * (Go's compress/gzip, which pprof uses, included) accepts them; the
 * file is a little larger than the data, which for a profile of a few
 * thousand stacks does not matter, and no zlib is needed.
 */
#define GCHI_BUILDING 1
#include "pprofenc.h"

#include <stdlib.h>
#include <string.h>

/* The largest stored block (LEN is 16 bits). */
#define STORED_MAX 65535u

void pbuf_free(struct pbuf *b)
{
    free(b->data);
    *b = (struct pbuf){0};
}

void pbuf_append(struct pbuf *b, const void *p, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap < 256 ? 256 : b->cap;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL) {
            b->failed = true; /* PE1 */
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void pb_varint(struct pbuf *b, uint64_t v)
{
    uint8_t out[10];
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    pbuf_append(b, out, n);
}

static void pb_key(struct pbuf *b, unsigned field, unsigned wiretype)
{
    pb_varint(b, (uint64_t)field << 3 | wiretype);
}

void pb_uint(struct pbuf *b, unsigned field, uint64_t v)
{
    if (v == 0)
        return; /* proto3: a zero scalar is the default, left out */
    pb_key(b, field, 0);
    pb_varint(b, v);
}

void pb_bytes(struct pbuf *b, unsigned field, const void *p, size_t n)
{
    pb_key(b, field, 2);
    pb_varint(b, n);
    pbuf_append(b, p, n);
}

void pb_string(struct pbuf *b, unsigned field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

void pb_message(struct pbuf *b, unsigned field, struct pbuf *msg)
{
    if (msg->failed)
        b->failed = true;
    pb_bytes(b, field, msg->data, msg->len);
    msg->len = 0;
}

void pb_packed(struct pbuf *b, unsigned field, const uint64_t *v, size_t n, struct pbuf *scratch)
{
    if (n == 0)
        return;
    scratch->len = 0;
    for (size_t i = 0; i < n; i++)
        pb_varint(scratch, v[i]);
    pb_message(b, field, scratch);
}

uint32_t crc32_ieee(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) /* reflected polynomial 0x04c11db7 */
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void put_le32(uint8_t *out, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

bool gzip_write(FILE *f, const uint8_t *p, size_t n)
{
    /* Magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
    static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    bool ok = fwrite(header, 1, sizeof header, f) == sizeof header;
    size_t off = 0;
    do {
        size_t len = n - off > STORED_MAX ? STORED_MAX : n - off;
        bool final = off + len == n;
        uint8_t bh[5] = {final ? 1 : 0, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)~len,
                         (uint8_t)(~len >> 8)};
        ok = ok && fwrite(bh, 1, sizeof bh, f) == sizeof bh;
        ok = ok && (len == 0 || fwrite(p + off, 1, len, f) == len);
        off += len;
    } while (off < n && ok);
    uint8_t trailer[8];
    put_le32(trailer, crc32_ieee(0, p, n));
    put_le32(trailer + 4, (uint32_t)n);
    ok = ok && fwrite(trailer, 1, sizeof trailer, f) == sizeof trailer;
    return ok;
}
