/*
 * fatbin.c — image classification, spans, the fat binary container and the
 * choice of PTX (see fatbin.h). Bare cubins and PTX text are in image.c,
 * decompression in extract.c.
 *
 * Fatbin entry header, little endian, verified on nvcc 13.0 output (and
 * against cuobjdump's reading of it):
 *
 *   off size  field
 *     0  u16  kind: 1 PTX, 2 ELF, 8 NVVM (LTO IR)
 *     2  u16  0x0101
 *     4  u32  header_size: 64 + optional parts (72, 80, 96, 104, 112, 120, 128 seen);
 *             the payload starts at entry + header_size
 *     8  u64  payload_size: stored bytes, padded to 8; the next entry is at
 *             entry + header_size + payload_size
 *    16  u32  compressed_size: exact compressed byte count (0 if stored)
 *    20  u32  options descriptor: offset (in the entry) of a {u32 offset, u32
 *             length} pair locating the options text, 0 if none (PTX: ptxas
 *             options; an sm_100f cubin: 36 opaque bytes)
 *    24  u16  minor, u16 major: PTX ISA version (9.0) / ELF code version (1.8)
 *    28  u32  arch: SM number, 75, 90, 120
 *    32  u32  identifier offset, u32 length (in the entry; 0 if none)
 *    40  u64  flags: FATBIN_FLAG_* (fatbin.h); also seen, meaning unknown and
 *             ignored: 0x10000 (obfuscated NVVM), 0x1000000 (sm_100f cubin)
 *    48  u64  0 (nonzero for obfuscated NVVM)
 *    56  u64  uncompressed size (0 if stored)
 *
 * Inside the fatbin every entry is bounded twice: its header and payload must
 * lie within header_size + fat_size, and that within the bytes available.
 * Bytes after the last entry are tolerated only if they are all zero.
 */
#include "fatbin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ENTRY_MIN 64 /* fixed part of an entry header */

int fb_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *fatbin_image_name(int image)
{
    switch (image) {
    case FATBIN_IMAGE_WRAPPER: return "fatbin wrapper";
    case FATBIN_IMAGE_FATBIN: return "fatbin";
    case FATBIN_IMAGE_ELF: return "ELF cubin";
    case FATBIN_IMAGE_PTX: return "PTX";
    case FATBIN_IMAGE_ARCHIVE: return "archive";
    default: return "unknown image";
    }
}

const char *fatbin_kind_name(unsigned kind)
{
    switch (kind) {
    case FATBIN_KIND_PTX: return "PTX";
    case FATBIN_KIND_ELF: return "ELF";
    case FATBIN_KIND_NVVM: return "NVVM";
    default: return "kind?";
    }
}

int fatbin_classify(const void *image, size_t max_len)
{
    const uint8_t *p = image;
    uint32_t magic;
    if (!p)
        return FATBIN_IMAGE_UNKNOWN;
    if (fb_u32(p, max_len, 0, &magic)) {
        if (magic == FATBIN_WRAPPER_MAGIC)
            return FATBIN_IMAGE_WRAPPER;
        if (magic == FATBIN_MAGIC)
            return FATBIN_IMAGE_FATBIN;
        if (memcmp(p, "\x7f" "ELF", 4) == 0)
            return FATBIN_IMAGE_ELF;
    }
    if (fb_within(max_len, 0, 8) && memcmp(p, "!<arch>\n", 8) == 0)
        return FATBIN_IMAGE_ARCHIVE;
    if (fb_is_ptx(p, max_len))
        return FATBIN_IMAGE_PTX;
    return FATBIN_IMAGE_UNKNOWN;
}

/* ---- the container header -------------------------------------------------------------- */

/* Validate the 16-byte header at p and return the container's extent
 * (header_size + fat_size) and where the entries start. */
static int fatbin_extent(const uint8_t *p, size_t max_len, size_t *extent, size_t *first,
                         char *err, size_t errlen)
{
    uint32_t magic;
    uint16_t version, hsize;
    uint64_t fat_size;
    if (!fb_u32(p, max_len, 0, &magic) || !fb_u16(p, max_len, 4, &version) ||
        !fb_u16(p, max_len, 6, &hsize) || !fb_u64(p, max_len, 8, &fat_size))
        return fb_fail(err, errlen, "fatbin header truncated: %zu of 16 bytes", max_len);
    if (magic != FATBIN_MAGIC)
        return fb_fail(err, errlen, "not a fatbin: magic 0x%08x", (unsigned)magic);
    if (version != 1)
        return fb_fail(err, errlen, "unsupported fatbin version %u", (unsigned)version);
    if (hsize < 16)
        return fb_fail(err, errlen, "fatbin header_size %u is below 16", (unsigned)hsize);
    size_t cap = max_len < FATBIN_MAX_SIZE ? max_len : FATBIN_MAX_SIZE;
    if (hsize > cap || fat_size > cap - hsize) {
        if (max_len == FATBIN_LEN_UNKNOWN || max_len > FATBIN_MAX_SIZE)
            return fb_fail(err, errlen, "fatbin size %u + %llu exceeds the %zu-byte limit",
                           (unsigned)hsize, (unsigned long long)fat_size, (size_t)FATBIN_MAX_SIZE);
        return fb_fail(err, errlen, "fatbin truncated: header says %u + %llu bytes, %zu available",
                       (unsigned)hsize, (unsigned long long)fat_size, max_len);
    }
    *extent = hsize + (size_t)fat_size;
    *first = hsize;
    return 0;
}

/* ---- spans ------------------------------------------------------------------------------ */

/* A wrapper's data pointer, checked for shape; the caller vouches that the
 * wrapper is in this process. */
static int wrapper_target(const uint8_t *p, size_t max_len, const uint8_t **fatbin, char *err,
                          size_t errlen)
{
    uint32_t version;
    const void *data;
    if (!fb_u32(p, max_len, 4, &version) || !fb_within(max_len, 8, sizeof data))
        return fb_fail(err, errlen, "fatbin wrapper truncated: %zu bytes", max_len);
    if (version != 1 && version != 2)
        return fb_fail(err, errlen, "unsupported fatbin wrapper version %u", (unsigned)version);
    memcpy(&data, p + 8, sizeof data);
    if (!data)
        return fb_fail(err, errlen, "fatbin wrapper has no data pointer");
    *fatbin = data;
    return 0;
}

int fatbin_span(const void *image, size_t max_len, const void **data, size_t *len, char *err,
                size_t errlen)
{
    const uint8_t *p = image;
    size_t extent, first;
    *data = NULL;
    *len = 0;
    switch (fatbin_classify(p, max_len)) {
    case FATBIN_IMAGE_WRAPPER:
        if (max_len != FATBIN_LEN_UNKNOWN)
            return fb_fail(err, errlen, "a fatbin wrapper holds a pointer: it can only be "
                                        "resolved in the process that built it");
        if (wrapper_target(p, max_len, &p, err, errlen) < 0)
            return -1;
        if (fatbin_classify(p, FATBIN_LEN_UNKNOWN) != FATBIN_IMAGE_FATBIN)
            return fb_fail(err, errlen, "fatbin wrapper data does not point at a fatbin");
        /* fall through */
    case FATBIN_IMAGE_FATBIN:
        if (fatbin_extent(p, max_len, &extent, &first, err, errlen) < 0)
            return -1;
        *data = p;
        *len = extent;
        return 0;
    case FATBIN_IMAGE_ELF:
        if (fb_elf_span(p, max_len, len, err, errlen) < 0)
            return -1;
        *data = p;
        return 0;
    case FATBIN_IMAGE_PTX:
        if (fb_ptx_span(p, max_len, len, err, errlen) < 0)
            return -1;
        *data = p;
        return 0;
    case FATBIN_IMAGE_ARCHIVE:
        return fb_fail(err, errlen, "archives (!<arch>) are not supported as module images");
    default:
        return fb_fail(err, errlen, "unrecognised image (not a fatbin, wrapper, cubin or PTX)");
    }
}

/* ---- entries ---------------------------------------------------------------------------- */

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Locate a {offset, length} string relative to the entry at e (span bytes):
 * both must stay within the entry. Length 0 gives NULL. */
static int entry_string(const uint8_t *e, size_t span, uint32_t off, uint32_t n, const char **s,
                        size_t *slen)
{
    *s = NULL;
    *slen = 0;
    if (n == 0)
        return 0;
    if (!fb_within(span, off, n))
        return -1;
    *s = (const char *)e + off;
    *slen = n;
    return 0;
}

/* Decode the entry at p + off; `left` bytes remain in the container. */
static int decode_entry(const uint8_t *p, size_t off, size_t left, struct fatbin_entry *out,
                        size_t *advance, char *err, size_t errlen)
{
    const uint8_t *e = p + off;
    uint16_t kind, minor, major;
    uint32_t hsize, csize, optdesc, arch, name_off, name_len;
    uint64_t psize, flags, usize;
    /* The caller guarantees ENTRY_MIN bytes: these reads cannot fail. */
    if (!fb_u16(e, left, 0, &kind) || !fb_u32(e, left, 4, &hsize) ||
        !fb_u64(e, left, 8, &psize) || !fb_u32(e, left, 16, &csize) ||
        !fb_u32(e, left, 20, &optdesc) || !fb_u16(e, left, 24, &minor) ||
        !fb_u16(e, left, 26, &major) || !fb_u32(e, left, 28, &arch) ||
        !fb_u32(e, left, 32, &name_off) || !fb_u32(e, left, 36, &name_len) ||
        !fb_u64(e, left, 40, &flags) || !fb_u64(e, left, 56, &usize))
        return fb_fail(err, errlen, "entry at offset %zu: header truncated", off);
    if (hsize < ENTRY_MIN || hsize > left)
        return fb_fail(err, errlen, "entry at offset %zu: header_size %u outside [%d, %zu]", off,
                       (unsigned)hsize, ENTRY_MIN, left);
    if (psize > left - hsize)
        return fb_fail(err, errlen,
                       "entry at offset %zu: payload of %llu bytes overruns the fatbin (%zu left)",
                       off, (unsigned long long)psize, left - hsize);
    size_t span = hsize + (size_t)psize;

    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->arch = arch;
    out->flags = flags;
    out->major = major;
    out->minor = minor;
    out->offset = off;
    out->payload = e + hsize;
    out->payload_size = (size_t)psize;
    out->size = psize;
    if (flags & FATBIN_FLAG_ARCH_SPECIFIC)
        out->variant = 'a';
    else if (flags & FATBIN_FLAG_FAMILY_SPECIFIC)
        out->variant = 'f';

    if ((flags & FATBIN_FLAG_LZ4) && (flags & FATBIN_FLAG_ZSTD))
        return fb_fail(err, errlen, "entry at offset %zu: flags 0x%llx claim both LZ4 and zstd",
                       off, (unsigned long long)flags);
    if (flags & (FATBIN_FLAG_LZ4 | FATBIN_FLAG_ZSTD)) {
        out->compression = (flags & FATBIN_FLAG_LZ4) ? FATBIN_COMPRESS_LZ4 : FATBIN_COMPRESS_ZSTD;
        if (csize == 0 || csize > psize)
            return fb_fail(err, errlen,
                           "entry at offset %zu: compressed size %u outside the %llu-byte payload",
                           off, (unsigned)csize, (unsigned long long)psize);
        out->payload_size = csize;
        out->size = usize;
    }

    if (entry_string(e, span, name_off, name_len, &out->name, &out->name_len) < 0)
        return fb_fail(err, errlen, "entry at offset %zu: identifier (%u, %u) outside the entry",
                       off, (unsigned)name_off, (unsigned)name_len);
    if (optdesc) {
        uint32_t opt_off, opt_len;
        if (!fb_u32(e, hsize, optdesc, &opt_off) || !fb_u32(e, hsize, (size_t)optdesc + 4, &opt_len))
            return fb_fail(err, errlen,
                           "entry at offset %zu: options descriptor at %u outside the %u-byte header",
                           off, (unsigned)optdesc, (unsigned)hsize);
        if (entry_string(e, span, opt_off, opt_len, &out->options, &out->options_len) < 0)
            return fb_fail(err, errlen, "entry at offset %zu: options (%u, %u) outside the entry",
                           off, (unsigned)opt_off, (unsigned)opt_len);
    }
    *advance = span;
    return 0;
}

static int push(struct fatbin_entry **v, size_t *n, size_t *cap, const struct fatbin_entry *e,
                char *err, size_t errlen)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct fatbin_entry *nv = ncap < SIZE_MAX / sizeof *nv ? realloc(*v, ncap * sizeof *nv)
                                                               : NULL;
        if (!nv)
            return fb_fail(err, errlen, "out of memory listing fatbin entries");
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = *e;
    return 0;
}

static int parse_fatbin(const uint8_t *p, size_t len, struct fatbin_entry **entries, size_t *n,
                        char *err, size_t errlen)
{
    size_t end, off, cap = 0;
    if (fatbin_extent(p, len, &end, &off, err, errlen) < 0)
        return -1;
    while (off < end) {
        size_t left = end - off, advance = 0;
        struct fatbin_entry e;
        uint32_t hsize = 0;
        if (left < ENTRY_MIN || (fb_u32(p + off, left, 4, &hsize) && hsize == 0)) {
            if (all_zero(p + off, left))
                break; /* padding */
            if (left < ENTRY_MIN)
                return fb_fail(err, errlen, "entry at offset %zu: header truncated (%zu of %d bytes)",
                               off, left, ENTRY_MIN);
        }
        if (decode_entry(p, off, left, &e, &advance, err, errlen) < 0 ||
            push(entries, n, &cap, &e, err, errlen) < 0)
            return -1;
        off += advance;
    }
    return 0;
}

int fatbin_parse(const void *image, size_t len, struct fatbin_entry **entries, size_t *n,
                 char *err, size_t errlen)
{
    const uint8_t *p = image;
    struct fatbin_entry e;
    *entries = NULL;
    *n = 0;
    if (!p)
        return fb_fail(err, errlen, "no image");
    if (len == FATBIN_LEN_UNKNOWN) {
        const void *data;
        if (fatbin_span(p, len, &data, &len, err, errlen) < 0)
            return -1;
        p = data; /* a wrapper's fatbin */
    }
    int rc;
    switch (fatbin_classify(p, len)) {
    case FATBIN_IMAGE_FATBIN:
        rc = parse_fatbin(p, len, entries, n, err, errlen);
        break;
    case FATBIN_IMAGE_ELF:
        rc = fb_elf_entry(p, len, &e, err, errlen);
        if (rc == 0)
            rc = push(entries, n, &(size_t){0}, &e, err, errlen);
        break;
    case FATBIN_IMAGE_PTX:
        rc = fb_ptx_entry(p, len, &e, err, errlen);
        if (rc == 0)
            rc = push(entries, n, &(size_t){0}, &e, err, errlen);
        break;
    case FATBIN_IMAGE_WRAPPER:
        return fb_fail(err, errlen, "a fatbin wrapper holds a pointer: resolve it with fatbin_span "
                                    "in the process that built it");
    case FATBIN_IMAGE_ARCHIVE:
        return fb_fail(err, errlen, "archives (!<arch>) are not supported as module images");
    default:
        return fb_fail(err, errlen, "unrecognised image (not a fatbin, wrapper, cubin or PTX)");
    }
    if (rc < 0) {
        free(*entries);
        *entries = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- choosing code --------------------------------------------------------------------- */

const struct fatbin_entry *fatbin_pick_ptx(const struct fatbin_entry *entries, size_t n,
                                           unsigned cc)
{
    const struct fatbin_entry *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct fatbin_entry *e = &entries[i];
        if (e->kind != FATBIN_KIND_PTX || e->variant || e->arch == 0 || e->arch > cc)
            continue; /* a/f PTX uses features only that exact arch or family has */
        if (!best || e->arch > best->arch)
            best = e;
    }
    return best;
}

const struct fatbin_entry *fatbin_pick_ptx_emulated(const struct fatbin_entry *entries, size_t n,
                                                    unsigned cc)
{
    const struct fatbin_entry *best = fatbin_pick_ptx(entries, n, cc);
    if (best)
        return best;
    static const char tiers[] = {'f', 'a'};
    for (size_t t = 0; t < sizeof tiers && !best; t++)
        for (size_t i = 0; i < n; i++) {
            const struct fatbin_entry *e = &entries[i];
            if (e->kind != FATBIN_KIND_PTX || e->variant != tiers[t] || e->arch == 0 || e->arch > cc)
                continue;
            if (!best || e->arch > best->arch)
                best = e;
        }
    return best;
}
