/*
 * imagehash.h — the content hash that names a module image on the wire and
 * in rgpud's image cache, which every client of a server shares.
 *
 * SHA-256, its first 128 bits (what matters is that nobody can make a second
 * image with a given image's name: 128 bits of a cryptographic hash). Clients
 * may be hostile to each other: with a fast non-cryptographic hash (XXH3,
 * until protocol 4) one could upload an image crafted to carry the name of
 * another's — a public fatbin's, ggml's or cuBLAS's — and have it run in
 * their context the next time they offer that name. OpenSSL's libcrypto
 * (SHA extensions where the CPU has them: ~1.4 GB/s on the test machine).
 */
#ifndef RGPU_WIRE_IMAGEHASH_H
#define RGPU_WIRE_IMAGEHASH_H

#include <stdbool.h>
#include <stddef.h>

#include "proto.h"

/* The name of the n bytes at p into *out; false (and nothing to name them
 * by) only if libcrypto fails, e.g. out of memory. */
bool rgpu_image_ref_of(const void *p, size_t n, struct rgpu_image_ref *out);

#endif
