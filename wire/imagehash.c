/*
 * imagehash.c — see imagehash.h.
 */
#include "imagehash.h"

#include <openssl/evp.h>
#include <string.h>

#include "log.h"

struct rgpu_image_ref rgpu_image_ref_of(const void *p, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    struct rgpu_image_ref r = {{0, 0}, n};
    if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len < sizeof r.hash) {
        /* no digest: a name no image has (a load by name then misses, and the
         * image's bytes, sent along, fail the server's check) */
        rgpu_warn("SHA-256 of a %zu-byte module image failed", n);
        return r;
    }
    memcpy(r.hash, md, sizeof r.hash); /* little-endian words, as they travel */
    return r;
}
