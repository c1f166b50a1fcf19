/*
 * test_fatbin.c — the fatbin parser (fatbin/) on real nvcc output written at
 * build time into RGPU_FB_DATA (see fatbin.cmake for what each file holds):
 * entry lists, decompression of both algorithms, PTX choice, bare PTX and ELF
 * images, hand-built wrappers; then truncated, forged and randomly corrupted
 * inputs, which must fail with a message and never read out of bounds (every
 * input is copied into a buffer of exactly its size, so ASan sees overreads).
 * Where cuobjdump is known (RGPU_FB_CUOBJDUMP), lists and extracted PTX and
 * cubins are compared with its own.
 */
#define _GNU_SOURCE /* mkdtemp, popen */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fatbin.h"

#define ERRLEN 256

/* ---- helpers ---------------------------------------------------------------------------- */

static uint8_t *read_data(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", RGPU_FB_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (built by fatbin.cmake)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n > 0);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

struct parsed {
    uint8_t *buf;
    size_t len;
    struct fatbin_entry *e;
    size_t n;
};

static struct parsed parse_file(const char *name)
{
    struct parsed p;
    char err[ERRLEN] = "";
    p.buf = read_data(name, &p.len);
    if (fatbin_parse(p.buf, p.len, &p.e, &p.n, err, sizeof err) < 0)
        fail_msg("%s: %s", name, err);
    return p;
}

static void parsed_free(struct parsed *p)
{
    free(p->e);
    free(p->buf);
}

/* The only entry of this kind and arch (failing if there is not exactly one). */
static const struct fatbin_entry *find(const struct parsed *p, unsigned kind, unsigned arch)
{
    const struct fatbin_entry *hit = NULL;
    for (size_t i = 0; i < p->n; i++)
        if (p->e[i].kind == kind && p->e[i].arch == arch) {
            if (hit)
                fail_msg("two %s entries for arch %u", fatbin_kind_name(kind), arch);
            hit = &p->e[i];
        }
    if (!hit)
        fail_msg("no %s entry for arch %u", fatbin_kind_name(kind), arch);
    return hit;
}

static char *extract_ok(const struct fatbin_entry *e, size_t *len)
{
    char err[ERRLEN] = "";
    void *out;
    if (fatbin_extract(e, &out, len, err, sizeof err) < 0)
        fail_msg("extract %s sm_%u: %s", fatbin_kind_name(e->kind), e->arch, err);
    assert_int_equal(((char *)out)[*len], 0);
    return out;
}

/* Parse must fail with a message; if `want` is set, the message contains it. */
static void parse_fails(const uint8_t *img, size_t len, const char *want)
{
    char err[ERRLEN] = "";
    struct fatbin_entry *e = (void *)1;
    size_t n = 99;
    uint8_t *copy = dup_bytes(img, len);
    assert_int_equal(fatbin_parse(copy, len, &e, &n, err, sizeof err), -1);
    assert_null(e);
    assert_int_equal(n, 0);
    assert_true(err[0] != 0);
    if (want && !strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
    free(copy);
}

/* Parse a copy; on success extract every entry. Either may fail, cleanly. */
static int parse_and_extract_all(const uint8_t *img, size_t len)
{
    char err[ERRLEN] = "";
    struct fatbin_entry *e;
    size_t n;
    uint8_t *copy = dup_bytes(img, len);
    int rc = fatbin_parse(copy, len, &e, &n, err, sizeof err);
    if (rc < 0) {
        assert_true(err[0] != 0);
    } else {
        for (size_t i = 0; i < n; i++) {
            void *out = (void *)1;
            size_t olen = 7;
            err[0] = 0;
            if (fatbin_extract(&e[i], &out, &olen, err, sizeof err) == 0) {
                assert_int_equal(((char *)out)[olen], 0);
                free(out);
            } else {
                assert_null(out);
                assert_true(err[0] != 0);
            }
        }
        (void)fatbin_pick_ptx(e, n, 120);
        free(e);
    }
    free(copy);
    return rc;
}

static const char *const PLAIN_FILES[] = {"multi.fatbin", "zstd.fatbin", "lz4.fatbin", "raw.fatbin"};

/* ---- entry lists ------------------------------------------------------------------------ */

static void entries_match_gencodes(void **state)
{
    const enum fatbin_compression ptxc[] = {FATBIN_COMPRESS_ZSTD, FATBIN_COMPRESS_ZSTD,
                                            FATBIN_COMPRESS_LZ4, FATBIN_COMPRESS_NONE};
    const enum fatbin_compression elfc[] = {FATBIN_COMPRESS_NONE, FATBIN_COMPRESS_ZSTD,
                                            FATBIN_COMPRESS_LZ4, FATBIN_COMPRESS_NONE};
    for (int f = 0; f < 4; f++) {
        struct parsed p = parse_file(PLAIN_FILES[f]);
        assert_int_equal(fatbin_classify(p.buf, p.len), FATBIN_IMAGE_FATBIN);
        assert_int_equal(p.n, 4);
        const struct fatbin_entry *ptx[] = {find(&p, FATBIN_KIND_PTX, 75),
                                            find(&p, FATBIN_KIND_PTX, 90),
                                            find(&p, FATBIN_KIND_PTX, 120)};
        const struct fatbin_entry *elf = find(&p, FATBIN_KIND_ELF, 90);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(ptx[i]->compression, ptxc[f]);
            assert_int_equal(ptx[i]->variant, 0);
            assert_int_equal(ptx[i]->major, 9); /* PTX ISA 9.0 from nvcc 13.0 */
            assert_true(ptx[i]->flags & FATBIN_FLAG_64BIT);
            assert_true(ptx[i]->flags & FATBIN_FLAG_LINUX);
            assert_false(ptx[i]->flags & FATBIN_FLAG_DEBUG);
            assert_null(ptx[i]->name);
            assert_int_equal(ptx[i]->options_len, 0); /* "ptxasOptions = " */
        }
        assert_int_equal(elf->compression, elfc[f]);
        assert_int_equal(elf->major, 1);
        assert_int_equal(elf->variant, 0);
        if (elf->compression == FATBIN_COMPRESS_NONE)
            assert_memory_equal(elf->payload, "\x7f" "ELF", 4);
        for (size_t i = 0; i < p.n; i++) {
            assert_true(p.e[i].payload_size > 0);
            assert_true((const uint8_t *)p.e[i].payload >= p.buf + p.e[i].offset);
            assert_true((const uint8_t *)p.e[i].payload + p.e[i].payload_size <= p.buf + p.len);
        }
        parsed_free(&p);
    }
}

/* Every compression of the same build decompresses to the same bytes: the
 * uncompressed fatbin stores them verbatim. PTX .target agrees with the entry. */
static void extract_matches_uncompressed(void **state)
{
    struct parsed raw = parse_file("raw.fatbin");
    for (int f = 0; f < 3; f++) {
        struct parsed p = parse_file(PLAIN_FILES[f]);
        for (size_t i = 0; i < raw.n; i++) {
            const struct fatbin_entry *r = &raw.e[i], *c = find(&p, r->kind, r->arch);
            size_t rlen, clen;
            char *rt = extract_ok(r, &rlen), *ct = extract_ok(c, &clen);
            if (r->kind == FATBIN_KIND_PTX) {
                assert_int_equal(rlen, clen);
                assert_int_equal(strlen(rt), rlen);
                if (c->compression)
                    assert_int_equal(c->size, clen + 1); /* the declared size counts the NUL */
                unsigned arch, major, minor;
                char variant = 'x';
                assert_int_equal(fatbin_ptx_target(ct, clen, &major, &minor, &arch, &variant), 0);
                assert_int_equal(arch, c->arch);
                assert_int_equal(variant, 0);
                assert_int_equal(major, c->major);
                assert_int_equal(minor, c->minor);
            } else {
                /* Stored payloads are padded to 8 bytes; the declared size is exact. */
                assert_true(rlen >= clen && rlen - clen < 8);
                for (size_t k = clen; k < rlen; k++)
                    assert_int_equal(rt[k], 0);
            }
            assert_memory_equal(rt, ct, clen);
            free(rt);
            free(ct);
        }
        parsed_free(&p);
    }
    parsed_free(&raw);
}

/* sm_90a / compute_90a / compute_100f: marked in the entry flags and in the
 * PTX .target line; -G marks debug, names the source and passes ptxas -g. */
static void arch_specific_entries(void **state)
{
    struct parsed p = parse_file("arch.fatbin");
    assert_int_equal(p.n, 4);
    const struct fatbin_entry *p89 = find(&p, FATBIN_KIND_PTX, 89),
                              *p90 = find(&p, FATBIN_KIND_PTX, 90),
                              *p100 = find(&p, FATBIN_KIND_PTX, 100),
                              *e90 = find(&p, FATBIN_KIND_ELF, 90);
    assert_int_equal(p89->variant, 0);
    assert_int_equal(p90->variant, 'a');
    assert_true(p90->flags & FATBIN_FLAG_ARCH_SPECIFIC);
    assert_int_equal(p100->variant, 'f');
    assert_true(p100->flags & FATBIN_FLAG_FAMILY_SPECIFIC);
    assert_int_equal(e90->variant, 'a');
    const struct fatbin_entry *ptx[] = {p89, p90, p100};
    for (int i = 0; i < 3; i++) {
        size_t len;
        unsigned arch;
        char variant = 'x';
        char *t = extract_ok(ptx[i], &len);
        assert_int_equal(fatbin_ptx_target(t, len, NULL, NULL, &arch, &variant), 0);
        assert_int_equal(arch, ptx[i]->arch);
        assert_int_equal(variant, ptx[i]->variant);
        free(t);
    }
    for (size_t i = 0; i < p.n; i++) {
        assert_true(p.e[i].flags & FATBIN_FLAG_DEBUG);
        assert_int_equal(p.e[i].name_len, strlen("kernel.cu"));
        assert_memory_equal(p.e[i].name, "kernel.cu", p.e[i].name_len);
    }
    assert_non_null(p89->options);
    char opts[128] = "";
    memcpy(opts, p89->options, p89->options_len < 127 ? p89->options_len : 127);
    assert_non_null(strstr(opts, "-g"));
    parsed_free(&p);
}

/* ---- choosing PTX ----------------------------------------------------------------------- */

static void pick_ptx_choices(void **state)
{
    struct parsed p = parse_file("multi.fatbin");
    const struct {
        unsigned cc, want; /* 0: none */
    } cases[] = {{75, 75}, {80, 75}, {89, 75}, {90, 90}, {100, 90}, {120, 120}, {121, 120},
                 {70, 0},  {61, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct fatbin_entry *e = fatbin_pick_ptx(p.e, p.n, cases[i].cc);
        if (!cases[i].want) {
            assert_null(e);
            continue;
        }
        assert_non_null(e);
        assert_int_equal(e->kind, FATBIN_KIND_PTX);
        assert_int_equal(e->arch, cases[i].want);
    }
    parsed_free(&p);

    /* compute_90a and compute_100f are never chosen: compute_89 stands in. */
    p = parse_file("arch.fatbin");
    assert_int_equal(fatbin_pick_ptx(p.e, p.n, 90)->arch, 89);
    assert_int_equal(fatbin_pick_ptx(p.e, p.n, 100)->arch, 89);
    assert_int_equal(fatbin_pick_ptx(p.e, p.n, 120)->arch, 89);
    assert_null(fatbin_pick_ptx(p.e, p.n, 86));
    assert_null(fatbin_pick_ptx(p.e, p.n, 75));
    parsed_free(&p);
}

static void pick_ptx_rules(void **state)
{
    struct fatbin_entry e[6];
    memset(e, 0, sizeof e);
    e[0] = (struct fatbin_entry){.kind = FATBIN_KIND_ELF, .arch = 86};
    e[1] = (struct fatbin_entry){.kind = FATBIN_KIND_PTX, .arch = 80};
    e[2] = (struct fatbin_entry){.kind = FATBIN_KIND_PTX, .arch = 80};
    e[3] = (struct fatbin_entry){.kind = FATBIN_KIND_PTX, .arch = 86, .variant = 'a'};
    e[4] = (struct fatbin_entry){.kind = FATBIN_KIND_NVVM, .arch = 86};
    e[5] = (struct fatbin_entry){.kind = FATBIN_KIND_PTX, .arch = 0};
    assert_ptr_equal(fatbin_pick_ptx(e, 6, 86), &e[1]); /* first of equals; ELF/NVVM/a ignored */
    assert_null(fatbin_pick_ptx(e, 6, 75));
    assert_null(fatbin_pick_ptx(e, 0, 120));
    assert_null(fatbin_pick_ptx(NULL, 0, 120));
}

/* The CPU device's policy: plain PTX as the driver picks it, else the
 * highest family PTX not above the capability, else the highest
 * arch-specific PTX not above it. */
static void pick_ptx_emulated_rules(void **state)
{
    (void)state;
    struct fatbin_entry e[5];
    memset(e, 0, sizeof e);
    e[0] = (struct fatbin_entry){.kind = FATBIN_KIND_ELF, .arch = 120};
    e[1] = (struct fatbin_entry){.kind = FATBIN_KIND_PTX, .arch = 100, .variant = 'f'};
    e[2] = (struct fatbin_entry){.kind = FATBIN_KIND_PTX, .arch = 120, .variant = 'f'};
    e[3] = (struct fatbin_entry){.kind = FATBIN_KIND_PTX, .arch = 90, .variant = 'a'};
    e[4] = (struct fatbin_entry){.kind = FATBIN_KIND_PTX, .arch = 75};
    assert_ptr_equal(fatbin_pick_ptx_emulated(e, 5, 130), &e[4]); /* plain PTX first */
    assert_ptr_equal(fatbin_pick_ptx_emulated(e, 4, 130), &e[2]); /* then the highest family PTX */
    assert_ptr_equal(fatbin_pick_ptx_emulated(e, 4, 120), &e[2]);
    assert_ptr_equal(fatbin_pick_ptx_emulated(e, 4, 110), &e[1]);
    assert_ptr_equal(fatbin_pick_ptx_emulated(e, 4, 90), &e[3]); /* 90a, the last resort */
    assert_null(fatbin_pick_ptx_emulated(e, 4, 89));
    assert_null(fatbin_pick_ptx(e, 4, 130));                     /* the driver's rule is unchanged */
    assert_null(fatbin_pick_ptx_emulated(NULL, 0, 120));
}

/* ---- bare images ------------------------------------------------------------------------ */

static void classify_forms(void **state)
{
    size_t len;
    uint8_t *ptx = read_data("kernel.ptx", &len);
    uint8_t *fb = read_data("multi.fatbin", &len);
    assert_int_equal(fatbin_classify(fb, 16), FATBIN_IMAGE_FATBIN);
    assert_int_equal(fatbin_classify(fb, 3), FATBIN_IMAGE_UNKNOWN);
    assert_int_equal(fatbin_classify(fb, 0), FATBIN_IMAGE_UNKNOWN);
    assert_int_equal(fatbin_classify(NULL, 100), FATBIN_IMAGE_UNKNOWN);
    assert_int_equal(fatbin_classify("!<arch>\nxxxx", 12), FATBIN_IMAGE_ARCHIVE);
    assert_int_equal(fatbin_classify("\x7f" "ELF", 4), FATBIN_IMAGE_ELF);
    uint8_t w[24] = {0xb1, 0x43, 0x62, 0x46, 1};
    assert_int_equal(fatbin_classify(w, sizeof w), FATBIN_IMAGE_WRAPPER);
    const char *yes[] = {".version 9.0\n.target sm_75\n", "\n\t .version 8.0",
                         "// Generated\n//\n\n.version 9.0\n", "/* a\n * b */ .version 7.8\n",
                         "/**/// x\n.version\t1.0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_int_equal(fatbin_classify(yes[i], strlen(yes[i]) + 1), FATBIN_IMAGE_PTX);
    const char *no[] = {"", "hello", ".versionx 9.0", "// only a comment", "/* open .version 9.0",
                        ".target sm_75\n.version 9.0\n", "\0.version 9.0"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_int_equal(fatbin_classify(no[i], strlen(no[i]) + 1), FATBIN_IMAGE_UNKNOWN);
    /* Bounded: the directive must lie within max_len. */
    assert_int_equal(fatbin_classify(".version 9.0", 8), FATBIN_IMAGE_UNKNOWN);
    assert_int_equal(fatbin_classify(ptx, len), FATBIN_IMAGE_PTX);
    free(ptx);
    free(fb);
}

static void ptx_target_parsing(void **state)
{
    unsigned maj = 0, min = 0, arch = 0;
    char v = 'x';
    const char *t = "//\n// c\n.version 8.7\n.target sm_100f, debug\n";
    assert_int_equal(fatbin_ptx_target(t, strlen(t), &maj, &min, &arch, &v), 0);
    assert_int_equal(maj, 8);
    assert_int_equal(min, 7);
    assert_int_equal(arch, 100);
    assert_int_equal(v, 'f');
    t = ".version 9.0 /* x */\n.target sm_90a\n";
    assert_int_equal(fatbin_ptx_target(t, strlen(t), NULL, NULL, &arch, &v), 0);
    assert_int_equal(arch, 90);
    assert_int_equal(v, 'a');
    const char *bad[] = {".version 9.0\n.target compute_90\n", ".version 9.0\n.target sm_90x\n",
                         ".version 9.0\n.target sm_\n", ".version 9.0\n.address_size 64\n",
                         ".version 9\n.target sm_90\n", ".target sm_90\n",
                         ".version 9.0\n.target sm_99999999999\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fatbin_ptx_target(bad[i], strlen(bad[i]), NULL, NULL, &arch, &v), -1);
    /* The length bounds the scan. */
    t = ".version 9.0\n.target sm_75\n";
    assert_int_equal(fatbin_ptx_target(t, 20, NULL, NULL, &arch, &v), -1);
    assert_int_equal(fatbin_ptx_target(NULL, 10, NULL, NULL, NULL, NULL), -1);
}

static void bare_ptx_image(void **state)
{
    size_t flen, len;
    char err[ERRLEN] = "";
    uint8_t *file = read_data("kernel.ptx", &flen);
    uint8_t *ptx = malloc(flen + 1); /* as a driver gets it: NUL-terminated */
    memcpy(ptx, file, flen);
    ptx[flen] = 0;
    const void *data;
    assert_int_equal(fatbin_span(ptx, FATBIN_LEN_UNKNOWN, &data, &len, err, sizeof err), 0);
    assert_ptr_equal(data, ptx);
    assert_int_equal(len, flen + 1);
    assert_int_equal(fatbin_span(ptx, flen + 1, &data, &len, err, sizeof err), 0);
    assert_int_equal(len, flen + 1);
    /* Without its NUL inside the bytes given, the span is unknown. */
    assert_int_equal(fatbin_span(file, flen, &data, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));

    struct fatbin_entry *e;
    size_t n;
    for (int pass = 0; pass < 2; pass++) {
        size_t plen = pass ? FATBIN_LEN_UNKNOWN : flen + 1;
        assert_int_equal(fatbin_parse(ptx, plen, &e, &n, err, sizeof err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(e[0].kind, FATBIN_KIND_PTX);
        assert_int_equal(e[0].arch, 75);
        assert_int_equal(e[0].variant, 0);
        assert_int_equal(e[0].major, 9);
        assert_int_equal(e[0].compression, FATBIN_COMPRESS_NONE);
        assert_int_equal(e[0].payload_size, flen);
        assert_ptr_equal(fatbin_pick_ptx(e, n, 75), &e[0]);
        size_t olen;
        char *t = extract_ok(&e[0], &olen);
        assert_int_equal(olen, flen);
        assert_memory_equal(t, file, flen);
        free(t);
        free(e);
    }
    /* An arch-specific bare PTX is marked as the fatbin would mark it. */
    const char *a = ".version 9.0\n.target sm_90a\n.address_size 64\n";
    assert_int_equal(fatbin_parse(a, strlen(a) + 1, &e, &n, err, sizeof err), 0);
    assert_int_equal(e[0].variant, 'a');
    assert_true(e[0].flags & FATBIN_FLAG_ARCH_SPECIFIC);
    assert_null(fatbin_pick_ptx(e, n, 90));
    free(e);
    /* PTX with no .target is refused. */
    a = ".version 9.0\n.address_size 64\n";
    parse_fails((const uint8_t *)a, strlen(a) + 1, ".target");
    free(file);
    free(ptx);
}

/* The sm_90 cubin, as cuModuleLoadData would get it: its span is exactly its
 * size; every prefix of it is refused; forged header tables are refused. */
static void bare_elf_image(void **state)
{
    struct parsed p = parse_file("lz4.fatbin");
    size_t len, span;
    char err[ERRLEN] = "";
    char *elf = extract_ok(find(&p, FATBIN_KIND_ELF, 90), &len);
    const void *data;
    uint8_t *img = dup_bytes(elf, len);
    assert_int_equal(fatbin_classify(img, len), FATBIN_IMAGE_ELF);
    assert_int_equal(fatbin_span(img, len, &data, &span, err, sizeof err), 0);
    assert_int_equal(span, len);
    assert_int_equal(fatbin_span(img, FATBIN_LEN_UNKNOWN, &data, &span, err, sizeof err), 0);
    assert_int_equal(span, len);
    struct fatbin_entry *e;
    size_t n;
    assert_int_equal(fatbin_parse(img, len, &e, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].kind, FATBIN_KIND_ELF);
    assert_int_equal(e[0].arch, 90);
    assert_int_equal(e[0].payload_size, len);
    assert_null(fatbin_pick_ptx(e, n, 90));
    free(e);
    free(img);

    for (size_t l = 4; l < len; l++) {
        uint8_t *c = dup_bytes(elf, l);
        assert_int_equal(fatbin_span(c, l, &data, &span, err, sizeof err), -1);
        free(c);
        parse_fails((const uint8_t *)elf, l, NULL);
    }

    struct {
        size_t off, width;
        uint64_t value;
        const char *msg;
    } forge[] = {
        {4, 1, 1, "64-bit"},                /* ELFCLASS32 */
        {18, 2, 62, "not CUDA"},            /* x86-64 */
        {40, 8, UINT64_MAX - 8, "section"}, /* e_shoff */
        {40, 8, 1ull << 40, "section"},
        {60, 2, 0, "section"},              /* e_shnum 0: count from sh[0], which is 0 → ok? */
        {58, 2, 8, "section"},              /* e_shentsize too small */
        {32, 8, UINT64_MAX, "program"},     /* e_phoff */
        {56, 2, 0xffff, "program"},         /* e_phnum */
    };
    for (size_t i = 0; i < sizeof forge / sizeof forge[0]; i++) {
        uint8_t *c = dup_bytes(elf, len);
        for (size_t k = 0; k < forge[i].width; k++)
            c[forge[i].off + k] = (uint8_t)(forge[i].value >> (8 * k));
        int rc = fatbin_span(c, len, &data, &span, err, sizeof err);
        if (forge[i].off == 60) {
            /* Extended numbering with sh[0].sh_size == 0 means no sections: a valid,
             * shorter span. Forge the count instead. */
            assert_int_equal(rc, 0);
            put64(c + get64(c + 40) + 32, 1ull << 40);
            rc = fatbin_span(c, len, &data, &span, err, sizeof err);
        }
        assert_int_equal(rc, -1);
        if (!strstr(err, forge[i].msg))
            fail_msg("forge %zu: '%s' lacks '%s'", i, err, forge[i].msg);
        free(c);
    }
    /* A section or segment reaching past the end. */
    for (int table = 0; table < 2; table++) {
        uint8_t *c = dup_bytes(elf, len);
        uint64_t at = table ? get64(c + 40) + 64 + 24 /* sh[1].sh_offset */
                            : get64(c + 32) + 8;      /* ph[0].p_offset */
        assert_true(table || c[56] || c[57]);         /* a cubin has program headers */
        put64(c + at, len);
        assert_int_equal(fatbin_span(c, len, &data, &span, err, sizeof err), -1);
        assert_non_null(strstr(err, table ? "section" : "segment"));
        free(c);
    }
    free(elf);
    parsed_free(&p);
}

/* ---- wrappers --------------------------------------------------------------------------- */

struct wrapper {
    uint32_t magic, version;
    const void *data;
    const void *filename_or_fatbins;
};

static void hand_built_wrapper(void **state)
{
    struct parsed p = parse_file("multi.fatbin");
    char err[ERRLEN] = "";
    const void *prelinked[] = {p.buf, NULL};
    struct wrapper w = {FATBIN_WRAPPER_MAGIC, 1, p.buf, NULL};
    const void *data;
    size_t len, n;
    struct fatbin_entry *e;
    for (uint32_t v = 1; v <= 2; v++) {
        w.version = v;
        w.filename_or_fatbins = v == 2 ? (const void *)prelinked : NULL;
        assert_int_equal(fatbin_classify(&w, sizeof w), FATBIN_IMAGE_WRAPPER);
        assert_int_equal(fatbin_span(&w, FATBIN_LEN_UNKNOWN, &data, &len, err, sizeof err), 0);
        assert_ptr_equal(data, p.buf);
        assert_int_equal(len, p.len);
        assert_int_equal(fatbin_parse(&w, FATBIN_LEN_UNKNOWN, &e, &n, err, sizeof err), 0);
        assert_int_equal(n, p.n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(e[i].offset, p.e[i].offset);
            assert_int_equal(e[i].arch, p.e[i].arch);
            assert_ptr_equal(e[i].payload, p.e[i].payload);
        }
        free(e);
    }
    /* With a known length the pointer is never followed (it could come from a peer). */
    assert_int_equal(fatbin_span(&w, sizeof w, &data, &len, err, sizeof err), -1);
    assert_int_equal(fatbin_parse(&w, sizeof w, &e, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "pointer"));
    w.version = 3;
    assert_int_equal(fatbin_parse(&w, FATBIN_LEN_UNKNOWN, &e, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "version"));
    w.version = 1;
    w.data = NULL;
    assert_int_equal(fatbin_parse(&w, FATBIN_LEN_UNKNOWN, &e, &n, err, sizeof err), -1);
    w.data = "not a fatbin, just text";
    assert_int_equal(fatbin_parse(&w, FATBIN_LEN_UNKNOWN, &e, &n, err, sizeof err), -1);
    w.data = &w; /* a wrapper pointing at a wrapper */
    assert_int_equal(fatbin_parse(&w, FATBIN_LEN_UNKNOWN, &e, &n, err, sizeof err), -1);
    parsed_free(&p);
}

/* With no length, the fatbin header bounds the parse: same result. */
static void unknown_length_uses_header(void **state)
{
    struct parsed p = parse_file("zstd.fatbin");
    char err[ERRLEN] = "";
    struct fatbin_entry *e;
    size_t n;
    assert_int_equal(fatbin_parse(p.buf, FATBIN_LEN_UNKNOWN, &e, &n, err, sizeof err), 0);
    assert_int_equal(n, p.n);
    assert_memory_equal(e, p.e, n * sizeof *e);
    free(e);
    const void *data;
    size_t len;
    assert_int_equal(fatbin_span(p.buf, FATBIN_LEN_UNKNOWN, &data, &len, err, sizeof err), 0);
    assert_int_equal(len, p.len);
    assert_int_equal(16 + get64(p.buf + 8), p.len);
    parsed_free(&p);
}

/* ---- hostile input ---------------------------------------------------------------------- */

static void truncated_prefixes(void **state)
{
    const char *files[] = {"multi.fatbin", "lz4.fatbin", "arch.fatbin"};
    for (size_t f = 0; f < 3; f++) {
        size_t len;
        uint8_t *img = read_data(files[f], &len);
        for (size_t l = 0; l < len; l++) {
            parse_fails(img, l, NULL);
            /* The same prefix with fat_size forged to fit: the entries themselves are cut. */
            if (l >= 16) {
                uint8_t *c = dup_bytes(img, l);
                put64(c + 8, l - 16);
                parse_and_extract_all(c, l);
                free(c);
            }
        }
        free(img);
    }
}

static void forged_container(void **state)
{
    struct parsed p = parse_file("zstd.fatbin");
    uint8_t *c = dup_bytes(p.buf, p.len);
    char err[ERRLEN];
    struct fatbin_entry *e;
    size_t n;
#define RESET() memcpy(c, p.buf, p.len)
    RESET(); put64(c + 8, UINT64_MAX);
    parse_fails(c, p.len, "fatbin");
    RESET(); put64(c + 8, p.len - 16 + 1);
    parse_fails(c, p.len, "truncated");
    RESET(); put64(c + 8, UINT64_MAX - 15);
    parse_fails(c, p.len, NULL);
    RESET(); c[4] = 2;
    parse_fails(c, p.len, "version");
    RESET(); c[6] = 8;
    parse_fails(c, p.len, "header_size");
    RESET(); c[6] = 0xff; c[7] = 0xff;
    parse_fails(c, p.len, NULL);
    RESET(); c[0] ^= 1;
    parse_fails(c, p.len, "unrecognised");
    /* An empty fatbin is valid and holds nothing. */
    RESET(); put64(c + 8, 0);
    assert_int_equal(fatbin_parse(c, 16, &e, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_null(e);
    assert_null(fatbin_pick_ptx(e, n, 120));
    free(c);

    /* Zero padding after the last entry is tolerated, anything else is not; bytes
     * beyond fat_size are not the fatbin's. */
    c = calloc(1, p.len + 64);
    memcpy(c, p.buf, p.len);
    assert_int_equal(fatbin_parse(c, p.len + 64, &e, &n, err, sizeof err), 0);
    assert_int_equal(n, p.n);
    free(e);
    put64(c + 8, p.len - 16 + 24);
    assert_int_equal(fatbin_parse(c, p.len + 64, &e, &n, err, sizeof err), 0);
    assert_int_equal(n, p.n);
    free(e);
    c[p.len + 5] = 1;
    parse_fails(c, p.len + 64, "truncated");
    put64(c + 8, p.len - 16 + 64);
    parse_fails(c, p.len + 64, "header_size");
    free(c);
#undef RESET
    parsed_free(&p);
}

/* Entry fields forged one at a time, on every entry of a zstd and an LZ4 build. */
static void forged_entries(void **state)
{
    const char *files[] = {"zstd.fatbin", "lz4.fatbin"};
    for (int f = 0; f < 2; f++) {
        struct parsed p = parse_file(files[f]);
        for (size_t i = 0; i < p.n; i++) {
            uint8_t *c = malloc(p.len);
            size_t o = p.e[i].offset;
            uint32_t hsize = (uint32_t)((const uint8_t *)p.e[i].payload - (p.buf + o));
            uint64_t psize = get64(p.buf + o + 8);
            size_t left = p.len - o;
#define RESET() memcpy(c, p.buf, p.len)
            const struct {
                size_t off, width;
                uint64_t value;
                const char *msg;
            } bad[] = {
                {4, 4, 0, "header_size"},
                {4, 4, 63, "header_size"},
                {4, 4, UINT32_MAX, "header_size"},
                {4, 4, left + 1, "header_size"},
                {8, 8, UINT64_MAX, "overruns"},
                {8, 8, 1ull << 63, "overruns"},
                {8, 8, left - hsize + 1, "overruns"},
                {16, 4, 0, "compressed size"},
                {16, 4, psize + 1, "compressed size"},
                {16, 4, UINT32_MAX, "compressed size"},
                {40, 8, p.e[i].flags | FATBIN_FLAG_LZ4 | FATBIN_FLAG_ZSTD, "both"},
                {32, 4, UINT32_MAX - 1, "identifier"}, /* with length 4 below: wraps */
                {36, 4, UINT32_MAX, "identifier"},
                {20, 4, hsize - 4, "options descriptor"},
                {20, 4, UINT32_MAX - 3, "options descriptor"},
            };
            for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
                RESET();
                for (size_t b = 0; b < bad[k].width; b++)
                    c[o + bad[k].off + b] = (uint8_t)(bad[k].value >> (8 * b));
                if (bad[k].off == 32)
                    put32(c + o + 36, 4);
                parse_fails(c, p.len, bad[k].msg);
            }
            /* Options text pointing outside the entry. */
            if (p.e[i].kind == FATBIN_KIND_PTX) {
                RESET();
                uint32_t desc = c[o + 20] | (uint32_t)c[o + 21] << 8;
                assert_true(desc >= 64 && desc + 8 <= hsize);
                put32(c + o + desc, (uint32_t)(hsize + psize));
                put32(c + o + desc + 4, 1);
                parse_fails(c, p.len, "options");
            }
#undef RESET
            free(c);
        }
        parsed_free(&p);
    }
}

/* Sizes that decompression must refuse before or after allocating. */
static void forged_sizes_refused_by_extract(void **state)
{
    const char *files[] = {"zstd.fatbin", "lz4.fatbin"};
    for (int f = 0; f < 2; f++) {
        struct parsed p = parse_file(files[f]);
        for (size_t i = 0; i < p.n; i++) {
            struct fatbin_entry e = p.e[i];
            char err[ERRLEN] = "";
            void *out;
            size_t olen;
            const uint64_t sizes[] = {0, e.size - 1, e.size + 1, FATBIN_MAX_SIZE + 1ull,
                                      1ull << 40, UINT64_MAX, e.payload_size * 300 + 100};
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                e.size = sizes[k];
                err[0] = 0;
                assert_int_equal(fatbin_extract(&e, &out, &olen, err, sizeof err), -1);
                assert_null(out);
                assert_true(err[0] != 0);
            }
            if (e.compression == FATBIN_COMPRESS_LZ4) /* refused before allocating */
                assert_non_null(strstr(err, "more than LZ4 can expand"));
            e = p.e[i];
            /* Corrupt compressed bytes (a copy of the payload). */
            uint8_t *bytes = dup_bytes(e.payload, e.payload_size);
            e.payload = bytes;
            memset(bytes, 0xff, e.payload_size);
            assert_int_equal(fatbin_extract(&e, &out, &olen, err, sizeof err), -1);
            /* Truncated compressed bytes. */
            memcpy(bytes, p.e[i].payload, e.payload_size);
            e.payload_size /= 2;
            assert_int_equal(fatbin_extract(&e, &out, &olen, err, sizeof err), -1);
            /* The other algorithm's decoder on these bytes. */
            e = p.e[i];
            e.payload = bytes;
            e.compression = e.compression == FATBIN_COMPRESS_ZSTD ? FATBIN_COMPRESS_LZ4
                                                                  : FATBIN_COMPRESS_ZSTD;
            assert_int_equal(fatbin_extract(&e, &out, &olen, err, sizeof err), -1);
            free(bytes);
            e = p.e[i];
            e.payload_size = FATBIN_MAX_SIZE + 1;
            assert_int_equal(fatbin_extract(&e, &out, &olen, err, sizeof err), -1);
        }
        parsed_free(&p);
    }
    /* A stored entry claiming a compressor after the fact. */
    struct parsed raw = parse_file("raw.fatbin");
    struct fatbin_entry e = raw.e[0];
    char err[ERRLEN] = "";
    void *out;
    size_t olen;
    e.compression = FATBIN_COMPRESS_ZSTD;
    assert_int_equal(fatbin_extract(&e, &out, &olen, err, sizeof err), -1);
    assert_non_null(strstr(err, "zstd"));
    e.compression = FATBIN_COMPRESS_LZ4;
    assert_int_equal(fatbin_extract(&e, &out, &olen, err, sizeof err), -1);
    e = raw.e[0];
    e.payload_size = FATBIN_MAX_SIZE + 1;
    assert_int_equal(fatbin_extract(&e, &out, &olen, err, sizeof err), -1);
    parsed_free(&raw);
}

/* Unknown entry kinds are listed, never chosen. */
static void unknown_kind_listed(void **state)
{
    struct parsed p = parse_file("multi.fatbin");
    uint8_t *c = dup_bytes(p.buf, p.len);
    const struct fatbin_entry *ptx = find(&p, FATBIN_KIND_PTX, 120);
    c[ptx->offset] = 0x40;
    struct fatbin_entry *e;
    size_t n;
    char err[ERRLEN];
    assert_int_equal(fatbin_parse(c, p.len, &e, &n, err, sizeof err), 0);
    assert_int_equal(n, p.n);
    assert_int_equal(fatbin_pick_ptx(e, n, 120)->arch, 90);
    free(e);
    free(c);
    parsed_free(&p);
}

/* Deterministic random corruption: 1 to 4 bytes, mostly in headers. */
static void random_mutations(void **state)
{
    const char *files[] = {"zstd.fatbin", "lz4.fatbin", "arch.fatbin", "multi.fatbin"};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int ok = 0, failed = 0;
    for (size_t f = 0; f < 4; f++) {
        struct parsed p = parse_file(files[f]);
        uint8_t *c = malloc(p.len);
        for (int it = 0; it < 1500; it++) {
            memcpy(c, p.buf, p.len);
            int nmut = 1 + (int)(x % 4);
            for (int m = 0; m < nmut; m++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t pos;
                if (x & 1) { /* an entry header field */
                    const struct fatbin_entry *e = &p.e[(x >> 1) % p.n];
                    pos = e->offset + (x >> 8) % 64;
                } else if (x & 2) {
                    pos = (x >> 8) % 16; /* the container header */
                } else {
                    pos = (x >> 8) % p.len;
                }
                c[pos] = (uint8_t)(x >> 32);
            }
            if (parse_and_extract_all(c, p.len) == 0)
                ok++;
            else
                failed++;
        }
        free(c);
        parsed_free(&p);
    }
    assert_true(ok > 0 && failed > 0);
}

/* ---- against cuobjdump ------------------------------------------------------------------ */

static int read_path(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(*buf, 1, n > 0 ? (size_t)n : 0, f);
    fclose(f);
    return 0;
}

/* `cuobjdump -lelf -lptx` lists ELF and PTX entries in container order, named
 * <file>.<k>.sm_<arch>[a|f].{cubin,ptx}; -xelf/-xptx write those files. */
static void cuobjdump_agrees(void **state)
{
    if (!RGPU_FB_CUOBJDUMP[0])
        skip();
    const char *files[] = {"multi", "zstd", "lz4", "raw", "arch"};
    char tmpl[] = "/tmp/rgpu_fatbin_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char name[64], cmd[4096], line[512];
        snprintf(name, sizeof name, "%s.fatbin", files[f]);
        struct parsed p = parse_file(name);
        snprintf(cmd, sizeof cmd, "cd '%s' && '%s' -xelf all -xptx all '%s/%s' >/dev/null", dir,
                 RGPU_FB_CUOBJDUMP, RGPU_FB_DATA, name);
        assert_int_equal(system(cmd), 0);
        snprintf(cmd, sizeof cmd, "'%s' -lelf -lptx '%s/%s'", RGPU_FB_CUOBJDUMP, RGPU_FB_DATA, name);
        FILE *l = popen(cmd, "r");
        assert_non_null(l);
        size_t next = 0, listed = 0;
        while (fgets(line, sizeof line, l)) {
            char kind[8], file[256];
            int k;
            if (sscanf(line, "%7s file %d: %255s", kind, &k, file) != 3)
                continue;
            while (next < p.n && p.e[next].kind != FATBIN_KIND_PTX &&
                   p.e[next].kind != FATBIN_KIND_ELF)
                next++;
            assert_true(next < p.n);
            const struct fatbin_entry *e = &p.e[next++];
            listed++;
            assert_string_equal(kind, e->kind == FATBIN_KIND_PTX ? "PTX" : "ELF");
            const char *sm = strstr(file, ".sm_");
            assert_non_null(sm);
            char *endp;
            assert_int_equal(strtoul(sm + 4, &endp, 10), e->arch);
            if (e->kind == FATBIN_KIND_PTX) /* cuobjdump names an sm_100f cubin sm_100 */
                assert_int_equal(*endp == '.' ? 0 : *endp, e->variant);

            char path[1024];
            uint8_t *theirs = NULL;
            size_t tlen = 0, olen;
            snprintf(path, sizeof path, "%s/%s", dir, file);
            assert_int_equal(read_path(path, &theirs, &tlen), 0);
            char *ours = extract_ok(e, &olen);
            if (e->kind == FATBIN_KIND_PTX) {
                assert_int_equal(olen, tlen);
            } else { /* a stored cubin keeps its padding */
                assert_true(olen >= tlen && olen - tlen < 8);
            }
            assert_memory_equal(ours, theirs, tlen);
            free(ours);
            free(theirs);
            remove(path);
        }
        pclose(l);
        assert_true(listed > 0);
        while (next < p.n && p.e[next].kind != FATBIN_KIND_PTX && p.e[next].kind != FATBIN_KIND_ELF)
            next++;
        assert_int_equal(next, p.n); /* no entry cuobjdump did not list */
        parsed_free(&p);
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entries_match_gencodes),
        cmocka_unit_test(extract_matches_uncompressed),
        cmocka_unit_test(arch_specific_entries),
        cmocka_unit_test(pick_ptx_choices),
        cmocka_unit_test(pick_ptx_rules),
        cmocka_unit_test(pick_ptx_emulated_rules),
        cmocka_unit_test(classify_forms),
        cmocka_unit_test(ptx_target_parsing),
        cmocka_unit_test(bare_ptx_image),
        cmocka_unit_test(bare_elf_image),
        cmocka_unit_test(hand_built_wrapper),
        cmocka_unit_test(unknown_length_uses_header),
        cmocka_unit_test(truncated_prefixes),
        cmocka_unit_test(forged_container),
        cmocka_unit_test(forged_entries),
        cmocka_unit_test(forged_sizes_refused_by_extract),
        cmocka_unit_test(unknown_kind_listed),
        cmocka_unit_test(random_mutations),
        cmocka_unit_test(cuobjdump_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
