/*
 * integrity.c — the INTEGRITY_CHECK answer (see integrity.h).
 *
 * The keyed hash is HMAC-MD2 (RFC 2104 over RFC 1319) with a fixed 16-byte
 * key, over the input record followed by the device records; the two 64-bit
 * result words are the 16 digest bytes in memory order. The reference found
 * this by matching the reverse-engineered routine (ZLUDA's) against an
 * independent HMAC-MD2, and NVIDIA's runtime accepts it on rgpu (the cudart
 * integration tests fail with error 103 otherwise).
 */
#include "integrity.h"

#include <string.h>

#include "md2.h"

static const uint8_t key[16] = {0x14, 0x6A, 0xDD, 0xAE, 0x53, 0xA9, 0xA7, 0x52,
                                0xAA, 0x08, 0x41, 0x36, 0x0B, 0xF5, 0x5A, 0x9F};

void rgpu_integrity_result(const struct rgpu_integrity_input *in, const struct rgpu_integrity_device *devs,
                           int ndev, uint64_t result[2])
{
    /* The runtime's own first two checks expect these words whatever the
     * inputs (observed with CUDA 13.0; ZLUDA has the same). */
    switch (in->version % 10) {
    case 0:
        result[0] = 0x3341181C03CB675CULL;
        result[1] = 0x8ED383AA1F4CD1E8ULL;
        return;
    case 1:
        result[0] = 0x1841181C03CB675CULL;
        result[1] = 0x8ED383AA1F4CD1E8ULL;
        return;
    default:
        break;
    }
    struct rgpu_hmac_md2 h;
    uint8_t digest[RGPU_MD2_DIGEST];
    rgpu_hmac_md2_init(&h, key, sizeof key);
    rgpu_hmac_md2_update(&h, in, sizeof *in);
    for (int i = 0; i < ndev; i++)
        rgpu_hmac_md2_update(&h, &devs[i], sizeof devs[i]);
    rgpu_hmac_md2_final(&h, digest);
    memcpy(result, digest, sizeof digest);
}
