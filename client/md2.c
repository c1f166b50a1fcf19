/*
 * md2.c — MD2 (RFC 1319) and HMAC-MD2 (RFC 2104); see md2.h for why.
 *
 * Written from the RFCs. RFC 1319's text of step 3.2 reads "Set C[j] to
 * S[c xor L]", which is its published erratum: the reference code in its
 * appendix (and every MD2 in use) sets C[j] to C[j] xor S[c xor L]. That is
 * what is implemented, and what the RFC's test vectors confirm
 * (tests/unit/test_client_exports.c).
 */
#include "md2.h"

#include <string.h>

/* RFC 1319's substitution table S: a permutation of 0..255 built from the
 * digits of pi. libcudart carries the same 256 bytes next to its export-table
 * UUIDs. */
static const uint8_t S[256] = {
    41,  46,  67,  201, 162, 216, 124, 1,   61,  54,  84,  161, 236, 240, 6,   19,  98,  167, 5,   243,
    192, 199, 115, 140, 152, 147, 43,  217, 188, 76,  130, 202, 30,  155, 87,  60,  253, 212, 224, 22,
    103, 66,  111, 24,  138, 23,  229, 18,  190, 78,  196, 214, 218, 158, 222, 73,  160, 251, 245, 142,
    187, 47,  238, 122, 169, 104, 121, 145, 21,  178, 7,   63,  148, 194, 16,  137, 11,  34,  95,  33,
    128, 127, 93,  154, 90,  144, 50,  39,  53,  62,  204, 231, 191, 247, 151, 3,   255, 25,  48,  179,
    72,  165, 181, 209, 215, 94,  146, 42,  172, 86,  170, 198, 79,  184, 56,  210, 150, 164, 125, 182,
    118, 252, 107, 226, 156, 116, 4,   241, 69,  157, 112, 89,  100, 113, 135, 32,  134, 91,  207, 101,
    230, 45,  168, 2,   27,  96,  37,  173, 174, 176, 185, 246, 28,  70,  97,  105, 52,  64,  126, 15,
    85,  71,  163, 35,  221, 81,  175, 58,  195, 92,  249, 206, 186, 197, 234, 38,  44,  83,  13,  110,
    133, 40,  132, 9,   211, 223, 205, 244, 65,  129, 77,  82,  106, 220, 55,  200, 108, 193, 171, 250,
    36,  225, 123, 8,   12,  189, 177, 74,  120, 136, 149, 139, 227, 99,  232, 109, 233, 203, 213, 254,
    59,  0,   29,  57,  242, 239, 183, 14,  102, 88,  208, 228, 166, 119, 114, 248, 235, 117, 75,  10,
    49,  68,  80,  180, 143, 237, 31,  26,  219, 153, 141, 51,  159, 17,  131, 20,
};

/* Step 3.2 for one block: fold it into the running checksum. */
static void checksum(struct rgpu_md2 *s, const uint8_t m[16])
{
    for (int j = 0; j < 16; j++) {
        s->checksum[j] ^= S[m[j] ^ s->l];
        s->l = s->checksum[j];
    }
}

/* Step 3.4 for one block: 18 rounds over the 48-byte buffer X. */
static void compress(struct rgpu_md2 *s, const uint8_t m[16])
{
    for (int j = 0; j < 16; j++) {
        s->x[16 + j] = m[j];
        s->x[32 + j] = (uint8_t)(m[j] ^ s->x[j]);
    }
    unsigned t = 0;
    for (unsigned j = 0; j < 18; j++) {
        for (int k = 0; k < 48; k++)
            t = s->x[k] ^= S[t];
        t = (t + j) & 0xff;
    }
}

/* A message block goes into both; the appended checksum (step 3.3) only
 * into the digest. */
static void block(struct rgpu_md2 *s, const uint8_t m[16])
{
    checksum(s, m);
    compress(s, m);
}

void rgpu_md2_init(struct rgpu_md2 *s) { memset(s, 0, sizeof *s); }

void rgpu_md2_update(struct rgpu_md2 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        size_t k = RGPU_MD2_BLOCK - s->nbuf;
        if (k > len)
            k = len;
        memcpy(s->buf + s->nbuf, p, k);
        s->nbuf += k;
        p += k;
        len -= k;
        if (s->nbuf == RGPU_MD2_BLOCK) {
            block(s, s->buf);
            s->nbuf = 0;
        }
    }
}

void rgpu_md2_final(struct rgpu_md2 *s, uint8_t out[RGPU_MD2_DIGEST])
{
    /* Step 3.1: pad with i bytes of value i, 1 <= i <= 16. */
    uint8_t pad = (uint8_t)(RGPU_MD2_BLOCK - s->nbuf);
    memset(s->buf + s->nbuf, pad, pad);
    block(s, s->buf);
    s->nbuf = 0;
    /* Step 3.3: append the checksum as a last block. */
    uint8_t c[16];
    memcpy(c, s->checksum, 16);
    compress(s, c);
    memcpy(out, s->x, RGPU_MD2_DIGEST);
    memset(s, 0, sizeof *s);
}

void rgpu_md2(const void *data, size_t len, uint8_t out[RGPU_MD2_DIGEST])
{
    struct rgpu_md2 s;
    rgpu_md2_init(&s);
    rgpu_md2_update(&s, data, len);
    rgpu_md2_final(&s, out);
}

/* RFC 2104 with B = 16: a longer key is hashed first, a shorter one padded
 * with zeros; inner = H(K xor ipad || text), result = H(K xor opad || inner). */
void rgpu_hmac_md2_init(struct rgpu_hmac_md2 *h, const void *key, size_t keylen)
{
    uint8_t k[RGPU_MD2_BLOCK] = {0}, ipad[RGPU_MD2_BLOCK];
    if (keylen > RGPU_MD2_BLOCK)
        rgpu_md2(key, keylen, k); /* the digest is exactly B bytes */
    else if (keylen)
        memcpy(k, key, keylen);
    for (int i = 0; i < RGPU_MD2_BLOCK; i++) {
        ipad[i] = k[i] ^ 0x36;
        h->opad_key[i] = k[i] ^ 0x5c;
    }
    rgpu_md2_init(&h->inner);
    rgpu_md2_update(&h->inner, ipad, sizeof ipad);
}

void rgpu_hmac_md2_update(struct rgpu_hmac_md2 *h, const void *data, size_t len)
{
    rgpu_md2_update(&h->inner, data, len);
}

void rgpu_hmac_md2_final(struct rgpu_hmac_md2 *h, uint8_t out[RGPU_MD2_DIGEST])
{
    uint8_t inner[RGPU_MD2_DIGEST];
    struct rgpu_md2 outer;
    rgpu_md2_final(&h->inner, inner);
    rgpu_md2_init(&outer);
    rgpu_md2_update(&outer, h->opad_key, sizeof h->opad_key);
    rgpu_md2_update(&outer, inner, sizeof inner);
    rgpu_md2_final(&outer, out);
    memset(h, 0, sizeof *h);
}
