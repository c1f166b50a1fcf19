/*
 * imagecache.h — module images kept by content hash, shared by all workers
 * of one rgpud, so an image crosses the wire once per server rather than
 * once per client (cuBLAS alone brings hundreds of MB of fatbins).
 *
 * Images are files in a private directory that rgpud creates at start and
 * removes at exit; a worker writes a new image under a temporary name and
 * renames it into place, so readers never see a partial file. The directory
 * is bounded: past its limit the least recently used images go.
 */
#ifndef RGPU_SERVER_IMAGECACHE_H
#define RGPU_SERVER_IMAGECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Parent: create the directory (limit in bytes). */
bool imagecache_init(uint64_t limit, char *err, size_t errlen);
/* Parent: remove it. */
void imagecache_cleanup(void);
/* Worker: the image's bytes (malloc'd, *len set), or NULL if not cached. */
void *imagecache_get(const struct rgpu_image_ref *ref, size_t *len);
/* Worker: keep a copy of an image whose hash was verified. */
void imagecache_put(const struct rgpu_image_ref *ref, const void *data, size_t len);

#endif
