/*
 * extract.c — an entry's bytes, decompressed (see fatbin_extract in fatbin.h).
 *
 * nvcc 13.0 compresses with zstd (FATBIN_FLAG_ZSTD: one zstd frame; the
 * default, and --compress-mode=default|size|balance) or LZ4 (FATBIN_FLAG_LZ4:
 * one raw LZ4 block, no frame header; --compress-mode=speed). PTX is
 * compressed by default, cubins with -Xfatbin -compress-all or
 * --compress-mode=size. The entry header gives the exact compressed byte count
 * and the uncompressed size; a PTX image's uncompressed size counts its NUL.
 *
 * The declared size is checked before anything is allocated: at most
 * FATBIN_MAX_SIZE, and for LZ4 no more than the format can expand the input to
 * (a forged size cannot make us allocate a gigabyte for ten bytes). The
 * decompressor must then produce exactly the declared size.
 */
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <zstd.h>

#include "internal.h"

/* LZ4 emits at most 255 output bytes per input byte of a match length, plus
 * a few for the first sequence. */
#define LZ4_MAX_RATIO 256
#define LZ4_SLACK 64

static int decompress(const struct fatbin_entry *e, uint8_t *out, size_t n, char *err,
                      size_t errlen)
{
    if (e->compression == FATBIN_COMPRESS_ZSTD) {
        size_t r = ZSTD_decompress(out, n, e->payload, e->payload_size);
        if (ZSTD_isError(r))
            return fb_fail(err, errlen, "zstd: %s", ZSTD_getErrorName(r));
        if (r != n)
            return fb_fail(err, errlen, "zstd produced %zu bytes, the entry declares %zu", r, n);
        return 0;
    }
    /* LZ4: both sizes are below FATBIN_MAX_SIZE < INT_MAX, checked by the caller. */
    int r = LZ4_decompress_safe(e->payload, (char *)out, (int)e->payload_size, (int)n);
    if (r < 0)
        return fb_fail(err, errlen, "LZ4: corrupt block (error at input byte %d)", -r - 1);
    if ((size_t)r != n)
        return fb_fail(err, errlen, "LZ4 produced %d bytes, the entry declares %zu", r, n);
    return 0;
}

int fatbin_extract(const struct fatbin_entry *e, void **out, size_t *out_len, char *err,
                   size_t errlen)
{
    size_t n;
    uint8_t *buf;
    *out = NULL;
    *out_len = 0;
    if (!e->payload && e->payload_size)
        return fb_fail(err, errlen, "entry has no payload");
    switch (e->compression) {
    case FATBIN_COMPRESS_NONE:
        n = e->payload_size;
        if (n > FATBIN_MAX_SIZE)
            return fb_fail(err, errlen, "entry of %zu bytes exceeds the %zu-byte limit", n,
                           (size_t)FATBIN_MAX_SIZE);
        if (e->kind == FATBIN_KIND_PTX) {
            const uint8_t *nul = memchr(e->payload, 0, n);
            if (nul)
                n = (size_t)(nul - (const uint8_t *)e->payload);
        }
        if (!(buf = malloc(n + 1)))
            return fb_fail(err, errlen, "out of memory for a %zu-byte entry", n);
        if (n)
            memcpy(buf, e->payload, n);
        break;
    case FATBIN_COMPRESS_ZSTD:
    case FATBIN_COMPRESS_LZ4:
        if (e->size == 0 || e->size > FATBIN_MAX_SIZE)
            return fb_fail(err, errlen, "declared uncompressed size %llu outside (0, %zu]",
                           (unsigned long long)e->size, (size_t)FATBIN_MAX_SIZE);
        if (e->payload_size == 0 || e->payload_size > FATBIN_MAX_SIZE)
            return fb_fail(err, errlen, "compressed size %zu outside (0, %zu]", e->payload_size,
                           (size_t)FATBIN_MAX_SIZE);
        n = (size_t)e->size;
        if (e->compression == FATBIN_COMPRESS_LZ4 &&
            n > e->payload_size * LZ4_MAX_RATIO + LZ4_SLACK)
            return fb_fail(err, errlen, "declared size %zu is more than LZ4 can expand %zu bytes to",
                           n, e->payload_size);
        if (e->compression == FATBIN_COMPRESS_ZSTD) {
            unsigned long long fsz = ZSTD_getFrameContentSize(e->payload, e->payload_size);
            if (fsz == ZSTD_CONTENTSIZE_ERROR)
                return fb_fail(err, errlen, "payload is not a zstd frame");
            if (fsz != ZSTD_CONTENTSIZE_UNKNOWN && fsz > n)
                return fb_fail(err, errlen, "zstd frame holds %llu bytes, the entry declares %zu",
                               fsz, n);
        }
        if (!(buf = malloc(n + 1)))
            return fb_fail(err, errlen, "out of memory for a %zu-byte entry", n);
        if (decompress(e, buf, n, err, errlen) < 0) {
            free(buf);
            return -1;
        }
        if (e->kind == FATBIN_KIND_PTX) {
            const uint8_t *nul = memchr(buf, 0, n);
            if (nul)
                n = (size_t)(nul - buf);
        }
        break;
    default:
        return fb_fail(err, errlen, "unknown compression %d", (int)e->compression);
    }
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return 0;
}
