/*
 * internal.h — helpers shared by the fatbin library's files: bounded
 * little-endian reads (every one checks offset + width against the bytes
 * available, without overflow; unaligned images are fine) and error
 * formatting into the caller's buffer.
 */
#ifndef RGPU_FATBIN_INTERNAL_H
#define RGPU_FATBIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fatbin.h"

/* True if [off, off+n) lies within len bytes. */
static inline bool fb_within(size_t len, size_t off, size_t n)
{
    return off <= len && n <= len - off;
}

static inline bool fb_u16(const uint8_t *p, size_t len, size_t off, uint16_t *v)
{
    if (!fb_within(len, off, 2))
        return false;
    *v = (uint16_t)(p[off] | p[off + 1] << 8);
    return true;
}

static inline bool fb_u32(const uint8_t *p, size_t len, size_t off, uint32_t *v)
{
    if (!fb_within(len, off, 4))
        return false;
    *v = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
         (uint32_t)p[off + 3] << 24;
    return true;
}

static inline bool fb_u64(const uint8_t *p, size_t len, size_t off, uint64_t *v)
{
    uint32_t lo, hi;
    if (!fb_u32(p, len, off, &lo) || !fb_u32(p, len, off + 4, &hi))
        return false;
    *v = (uint64_t)hi << 32 | lo;
    return true;
}

/* Format into err (if any) and return -1. */
int fb_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* image.c: bare cubins and PTX text. */
bool fb_is_ptx(const uint8_t *p, size_t max_len);
int fb_elf_span(const uint8_t *p, size_t max_len, size_t *len, char *err, size_t errlen);
int fb_ptx_span(const uint8_t *p, size_t max_len, size_t *len, char *err, size_t errlen);
int fb_elf_entry(const uint8_t *p, size_t len, struct fatbin_entry *e, char *err, size_t errlen);
int fb_ptx_entry(const uint8_t *p, size_t len, struct fatbin_entry *e, char *err, size_t errlen);

#endif
