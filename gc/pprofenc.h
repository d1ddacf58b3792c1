/*
 * pprofenc.h - the encodings a pprof file needs: a growable byte buffer,
 * protocol-buffer fields (varints, length-delimited fields, packed
 * repeated varints) and a gzip member of stored deflate blocks with its
 * CRC-32.  Our own small encoder: no protobuf or zlib dependency.
 * Go counterpart: runtime/pprof/protobuf.go (protobuf), compress/gzip.
 * The profile itself: gc/pprof.c.
 *
 * Invariants:
 *   PE1 a pbuf's failed flag is sticky: once an allocation fails every
 *       later append does nothing, and the caller checks the flag once;
 *   PE2 gzip_write emits a valid member for any input: header, stored
 *       blocks of at most 65535 bytes (the last flagged final, an empty
 *       input one empty final block), CRC-32 and length of the input.
 * Locking: none; a pbuf belongs to its caller.
 */
#ifndef GCHEAP_GC_PPROFENC_H
#define GCHEAP_GC_PPROFENC_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pbuf {
    uint8_t *data;   /* malloc'd */
    size_t len, cap;
    bool failed;     /* PE1 */
};

void pbuf_free(struct pbuf *b);
void pbuf_append(struct pbuf *b, const void *p, size_t n);

/* Protocol-buffer wire format: wire type 0 (varint) and 2 (bytes). */
void pb_varint(struct pbuf *b, uint64_t v);
void pb_uint(struct pbuf *b, unsigned field, uint64_t v);            /* skipped when 0 */
void pb_bytes(struct pbuf *b, unsigned field, const void *p, size_t n); /* always written */
void pb_string(struct pbuf *b, unsigned field, const char *s);
/* pb_message: field as a length-delimited embedded message whose bytes
 * are msg's (then emptied for reuse). */
void pb_message(struct pbuf *b, unsigned field, struct pbuf *msg);
/* pb_packed: a packed repeated varint field (nothing when n == 0). */
void pb_packed(struct pbuf *b, unsigned field, const uint64_t *v, size_t n, struct pbuf *scratch);

/* crc32_ieee: the gzip CRC-32 of p[0..n), continuing from crc (0 to
 * start). */
uint32_t crc32_ieee(uint32_t crc, const uint8_t *p, size_t n);
/* gzip_write: p[0..n) as one gzip member (PE2).  False on a write error. */
bool gzip_write(FILE *f, const uint8_t *p, size_t n);

#endif /* GCHEAP_GC_PPROFENC_H */
