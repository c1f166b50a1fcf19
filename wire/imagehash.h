/*
 * imagehash.h — the content hash that names a module image on the wire
 * (XXH3-128: fast enough for 100 MB fatbins, collisions negligible). Header-only
 * xxhash (XXH_INLINE_ALL): no run-time dependency for the client.
 */
#ifndef RGPU_WIRE_IMAGEHASH_H
#define RGPU_WIRE_IMAGEHASH_H

#include <stddef.h>

#include "proto.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline struct rgpu_image_ref rgpu_image_ref_of(const void *p, size_t n)
{
    XXH128_hash_t h = XXH3_128bits(p, n);
    struct rgpu_image_ref r = {{h.low64, h.high64}, n};
    return r;
}

#endif
