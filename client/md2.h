/*
 * md2.h — the MD2 message digest (RFC 1319) and HMAC-MD2 (RFC 2104).
 *
 * Why a 1989 digest: NVIDIA's runtime checks that the driver answers the
 * INTEGRITY_CHECK export table with an HMAC-MD2 of the driver version,
 * process, thread, table addresses and devices (exports.c). OpenSSL 3 only
 * offers MD2 where it was built with it (Debian's libcrypto is not), and a
 * few dozen lines here avoid a new runtime dependency of libcuda.so.1.
 * Not for anything that needs security: MD2 is broken as a hash.
 */
#ifndef RGPU_CLIENT_MD2_H
#define RGPU_CLIENT_MD2_H

#include <stddef.h>
#include <stdint.h>

#define RGPU_MD2_BLOCK 16  /* block size, also HMAC's B */
#define RGPU_MD2_DIGEST 16 /* digest size */

struct rgpu_md2 {
    uint8_t x[48];                 /* the digest buffer X; the digest is x[0..16) */
    uint8_t checksum[16];          /* running checksum C */
    uint8_t l;                     /* the checksum's carried byte L */
    uint8_t buf[RGPU_MD2_BLOCK];   /* a partial block */
    size_t nbuf;                   /* bytes in buf, < 16 */
};

void rgpu_md2_init(struct rgpu_md2 *s);
void rgpu_md2_update(struct rgpu_md2 *s, const void *data, size_t len);
void rgpu_md2_final(struct rgpu_md2 *s, uint8_t out[RGPU_MD2_DIGEST]);
void rgpu_md2(const void *data, size_t len, uint8_t out[RGPU_MD2_DIGEST]);

/* HMAC-MD2 in steps, for a message given in pieces. */
struct rgpu_hmac_md2 {
    struct rgpu_md2 inner;
    uint8_t opad_key[RGPU_MD2_BLOCK]; /* K xor opad, for the outer hash */
};

void rgpu_hmac_md2_init(struct rgpu_hmac_md2 *h, const void *key, size_t keylen);
void rgpu_hmac_md2_update(struct rgpu_hmac_md2 *h, const void *data, size_t len);
void rgpu_hmac_md2_final(struct rgpu_hmac_md2 *h, uint8_t out[RGPU_MD2_DIGEST]);

#endif
