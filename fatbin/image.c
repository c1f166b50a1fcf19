/*
 * image.c — bare images handed to the driver without a fatbin around them:
 * cubins (64-bit little-endian ELF, e_machine EM_CUDA) and PTX text. Each is
 * measured (its span: the bytes a client must ship) and described as a single
 * fatbin_entry.
 *
 * An ELF's span is the furthest byte that its ELF header, program header
 * table, section header table, segments and (non-NOBITS) sections reach. Each
 * table is checked against the bytes available before it is read, so a forged
 * offset or count fails instead of reading past the end. PTX text ends at its
 * NUL; scanning never passes a NUL or the bytes available.
 */
#include <stdbool.h>
#include <string.h>

#include "internal.h"

#define EM_CUDA 190
#define SHT_NOBITS 8

/* ---- PTX -------------------------------------------------------------------------------- */

static bool ptx_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Skip whitespace and comments from i; stop at a NUL or len. */
static size_t skip_blank(const uint8_t *p, size_t len, size_t i)
{
    while (i < len && p[i]) {
        if (ptx_space(p[i])) {
            i++;
        } else if (p[i] == '/' && i + 1 < len && p[i + 1] == '/') {
            while (i < len && p[i] && p[i] != '\n')
                i++;
        } else if (p[i] == '/' && i + 1 < len && p[i + 1] == '*') {
            i += 2;
            while (i < len && p[i] && !(p[i] == '*' && i + 1 < len && p[i + 1] == '/'))
                i++;
            if (i < len && p[i] == '*')
                i += 2;
        } else {
            break;
        }
    }
    return i;
}

/* Match word at i, followed by whitespace; return the index after it or 0. */
static size_t match_directive(const uint8_t *p, size_t len, size_t i, const char *word)
{
    size_t n = strlen(word);
    if (!fb_within(len, i, n + 1) || memcmp(p + i, word, n) != 0 || !ptx_space(p[i + n]))
        return 0;
    i += n;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i;
}

/* Parse up to 5 decimal digits at *i. */
static bool parse_uint(const uint8_t *p, size_t len, size_t *i, unsigned *v)
{
    size_t start = *i;
    unsigned x = 0;
    while (*i < len && p[*i] >= '0' && p[*i] <= '9' && *i - start < 5)
        x = x * 10 + (unsigned)(p[(*i)++] - '0');
    if (*i == start)
        return false;
    *v = x;
    return true;
}

bool fb_is_ptx(const uint8_t *p, size_t max_len)
{
    size_t i = skip_blank(p, max_len, 0);
    return match_directive(p, max_len, i, ".version") != 0;
}

int fatbin_ptx_target(const char *ptx, size_t len, unsigned *major, unsigned *minor,
                      unsigned *arch, char *variant)
{
    const uint8_t *p = (const uint8_t *)ptx;
    unsigned maj, min, sm;
    char var = 0;
    size_t i;
    if (!p)
        return -1;
    i = skip_blank(p, len, 0);
    if (!(i = match_directive(p, len, i, ".version")) || !parse_uint(p, len, &i, &maj) ||
        i >= len || p[i++] != '.' || !parse_uint(p, len, &i, &min))
        return -1;
    i = skip_blank(p, len, i);
    if (!(i = match_directive(p, len, i, ".target")) || !fb_within(len, i, 3) ||
        memcmp(p + i, "sm_", 3) != 0)
        return -1;
    i += 3;
    if (!parse_uint(p, len, &i, &sm))
        return -1;
    if (i < len && (p[i] == 'a' || p[i] == 'f'))
        var = (char)p[i++];
    if (i < len && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z') || p[i] == '_'))
        return -1; /* sm_90x, sm_100ab... */
    if (major)
        *major = maj;
    if (minor)
        *minor = min;
    if (arch)
        *arch = sm;
    if (variant)
        *variant = var;
    return 0;
}

int fb_ptx_span(const uint8_t *p, size_t max_len, size_t *len, char *err, size_t errlen)
{
    size_t limit = max_len < FATBIN_MAX_SIZE ? max_len : FATBIN_MAX_SIZE;
    const uint8_t *nul = memchr(p, 0, limit);
    if (!nul)
        return fb_fail(err, errlen, "PTX text has no NUL within %zu bytes", limit);
    *len = (size_t)(nul - p) + 1;
    return 0;
}

int fb_ptx_entry(const uint8_t *p, size_t len, struct fatbin_entry *e, char *err, size_t errlen)
{
    const uint8_t *nul = memchr(p, 0, len);
    size_t text = nul ? (size_t)(nul - p) : len;
    memset(e, 0, sizeof *e);
    if (fatbin_ptx_target((const char *)p, text, &e->major, &e->minor, &e->arch, &e->variant) < 0)
        return fb_fail(err, errlen, "PTX text does not open with .version and .target sm_XY");
    e->kind = FATBIN_KIND_PTX;
    if (e->variant == 'a')
        e->flags = FATBIN_FLAG_ARCH_SPECIFIC;
    else if (e->variant == 'f')
        e->flags = FATBIN_FLAG_FAMILY_SPECIFIC;
    e->payload = p;
    e->payload_size = text;
    e->size = text;
    return 0;
}

/* ---- ELF -------------------------------------------------------------------------------- */

/* Extend *end to off + n, both checked against limit. */
static bool reach(size_t limit, uint64_t off, uint64_t n, size_t *end)
{
    if (off > limit || n > limit - off)
        return false;
    if (off + n > *end)
        *end = (size_t)(off + n);
    return true;
}

int fb_elf_span(const uint8_t *p, size_t max_len, size_t *len, char *err, size_t errlen)
{
    size_t limit = max_len < FATBIN_MAX_SIZE ? max_len : FATBIN_MAX_SIZE;
    uint16_t machine, ehsize, phentsize, phnum, shentsize, shnum;
    uint64_t phoff, shoff, shcount;
    size_t end = 0;
    if (!fb_within(limit, 0, 64))
        return fb_fail(err, errlen, "ELF header truncated: %zu of 64 bytes", limit);
    if (p[4] != 2 || p[5] != 1)
        return fb_fail(err, errlen, "ELF class %u data %u: only 64-bit little-endian cubins",
                       (unsigned)p[4], (unsigned)p[5]);
    if (!fb_u16(p, limit, 18, &machine) || !fb_u64(p, limit, 32, &phoff) ||
        !fb_u64(p, limit, 40, &shoff) || !fb_u16(p, limit, 52, &ehsize) ||
        !fb_u16(p, limit, 54, &phentsize) || !fb_u16(p, limit, 56, &phnum) ||
        !fb_u16(p, limit, 58, &shentsize) || !fb_u16(p, limit, 60, &shnum))
        return fb_fail(err, errlen, "ELF header truncated"); /* cannot happen: 64 bytes checked */
    if (machine != EM_CUDA)
        return fb_fail(err, errlen, "ELF machine %u is not CUDA (%d)", (unsigned)machine, EM_CUDA);
    if (!reach(limit, 0, ehsize > 64 ? ehsize : 64, &end))
        return fb_fail(err, errlen, "ELF header size %u beyond %zu bytes", (unsigned)ehsize, limit);

    if (phnum) {
        if (phentsize < 56 || !reach(limit, phoff, (uint64_t)phnum * phentsize, &end))
            return fb_fail(err, errlen, "ELF program headers (%u x %u at %llu) beyond %zu bytes",
                           (unsigned)phnum, (unsigned)phentsize, (unsigned long long)phoff, limit);
        for (size_t i = 0; i < phnum; i++) {
            uint64_t off, filesz;
            size_t ph = (size_t)phoff + i * phentsize;
            if (!fb_u64(p, limit, ph + 8, &off) || !fb_u64(p, limit, ph + 32, &filesz) ||
                (filesz && !reach(limit, off, filesz, &end)))
                return fb_fail(err, errlen, "ELF program header %zu: segment beyond %zu bytes", i,
                               limit);
        }
    }

    if (shoff) {
        if (shentsize < 64 || !reach(limit, shoff, 64, &end))
            return fb_fail(err, errlen, "ELF section headers (%u bytes each at %llu) beyond %zu bytes",
                           (unsigned)shentsize, (unsigned long long)shoff, limit);
        shcount = shnum;
        if (shcount == 0 && !fb_u64(p, limit, (size_t)shoff + 32, &shcount))
            shcount = 0; /* extended numbering: the count is section 0's sh_size (in bounds) */
        if (shcount > (limit - shoff) / shentsize || !reach(limit, shoff, shcount * shentsize, &end))
            return fb_fail(err, errlen, "ELF section headers (%llu x %u at %llu) beyond %zu bytes",
                           (unsigned long long)shcount, (unsigned)shentsize,
                           (unsigned long long)shoff, limit);
        for (size_t i = 0; i < shcount; i++) {
            uint32_t type;
            uint64_t off, size;
            size_t sh = (size_t)shoff + i * shentsize;
            if (!fb_u32(p, limit, sh + 4, &type) || !fb_u64(p, limit, sh + 24, &off) ||
                !fb_u64(p, limit, sh + 32, &size) ||
                (type != 0 && type != SHT_NOBITS && size && !reach(limit, off, size, &end)))
                return fb_fail(err, errlen, "ELF section header %zu: section beyond %zu bytes", i,
                               limit);
        }
    }
    *len = end;
    return 0;
}

int fb_elf_entry(const uint8_t *p, size_t len, struct fatbin_entry *e, char *err, size_t errlen)
{
    size_t span;
    uint32_t flags;
    if (fb_elf_span(p, len, &span, err, errlen) < 0)
        return -1;
    if (!fb_u32(p, span, 48, &flags)) /* cannot fail: the span covers the 64-byte header */
        return fb_fail(err, errlen, "ELF header truncated");
    memset(e, 0, sizeof *e);
    e->kind = FATBIN_KIND_ELF;
    /* e_flags: the SM is bits 8..15 from ELF ABI version 8 (CUDA 12.8+), bits
     * 0..7 before (EF_CUDA_SM35 = 0x23 ...). */
    e->arch = p[8] >= 8 ? (flags >> 8) & 0xff : flags & 0xff;
    e->payload = p;
    e->payload_size = span;
    e->size = span;
    return 0;
}
