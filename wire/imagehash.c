/*
 * imagehash.c — see imagehash.h.
 */
#include "imagehash.h"

#include <openssl/evp.h>
#include <string.h>

#include "log.h"

bool rgpu_image_ref_of(const void *p, size_t n, struct rgpu_image_ref *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len < sizeof out->hash) {
        rgpu_warn("SHA-256 of a %zu-byte module image failed", n);
        return false;
    }
    memcpy(out->hash, md, sizeof out->hash); /* little-endian words, as they travel */
    out->size = n;
    return true;
}
