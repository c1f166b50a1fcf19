/*
 * test_client_exports.c — the client driver's private export tables
 * (client/exports.c) and the hash behind cudart's integrity check
 * (client/md2.c, client/integrity.c).
 *
 * Three independent sources agree here, because a wrong hash only shows as
 * cudart refusing to run (error 103):
 *  - RFC 1319's test vectors for MD2 itself;
 *  - a second MD2/HMAC written below in a different shape (the 66-byte state
 *    of the reverse-engineered routine the reference describes: input bytes
 *    go straight into the digest buffer, checksum and count live beside it);
 *  - known answers for HMAC-MD2 and for the integrity result computed by a
 *    separate Python MD2 (checked against the same RFC vectors).
 * The export tables are then checked the way cudart sees them: dlopen() the
 * built libcuda.so.1 (RGPU_CUDA_LIB), cuGetExportTable by UUID, sizes and
 * the slots that need no server.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "integrity.h"
#include "md2.h"

#ifndef RGPU_CUDA_LIB
#error "RGPU_CUDA_LIB must name the built libcuda.so.1"
#endif

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void assert_digest(const uint8_t d[16], const char *want)
{
    char got[33];
    hex(d, 16, got);
    assert_string_equal(got, want);
}

/* ---- the second implementation ---- */

static const uint8_t S2[256] = {
    0x29, 0x2E, 0x43, 0xC9, 0xA2, 0xD8, 0x7C, 0x01, 0x3D, 0x36, 0x54, 0xA1, 0xEC, 0xF0, 0x06, 0x13, 0x62, 0xA7, 0x05,
    0xF3, 0xC0, 0xC7, 0x73, 0x8C, 0x98, 0x93, 0x2B, 0xD9, 0xBC, 0x4C, 0x82, 0xCA, 0x1E, 0x9B, 0x57, 0x3C, 0xFD, 0xD4,
    0xE0, 0x16, 0x67, 0x42, 0x6F, 0x18, 0x8A, 0x17, 0xE5, 0x12, 0xBE, 0x4E, 0xC4, 0xD6, 0xDA, 0x9E, 0xDE, 0x49, 0xA0,
    0xFB, 0xF5, 0x8E, 0xBB, 0x2F, 0xEE, 0x7A, 0xA9, 0x68, 0x79, 0x91, 0x15, 0xB2, 0x07, 0x3F, 0x94, 0xC2, 0x10, 0x89,
    0x0B, 0x22, 0x5F, 0x21, 0x80, 0x7F, 0x5D, 0x9A, 0x5A, 0x90, 0x32, 0x27, 0x35, 0x3E, 0xCC, 0xE7, 0xBF, 0xF7, 0x97,
    0x03, 0xFF, 0x19, 0x30, 0xB3, 0x48, 0xA5, 0xB5, 0xD1, 0xD7, 0x5E, 0x92, 0x2A, 0xAC, 0x56, 0xAA, 0xC6, 0x4F, 0xB8,
    0x38, 0xD2, 0x96, 0xA4, 0x7D, 0xB6, 0x76, 0xFC, 0x6B, 0xE2, 0x9C, 0x74, 0x04, 0xF1, 0x45, 0x9D, 0x70, 0x59, 0x64,
    0x71, 0x87, 0x20, 0x86, 0x5B, 0xCF, 0x65, 0xE6, 0x2D, 0xA8, 0x02, 0x1B, 0x60, 0x25, 0xAD, 0xAE, 0xB0, 0xB9, 0xF6,
    0x1C, 0x46, 0x61, 0x69, 0x34, 0x40, 0x7E, 0x0F, 0x55, 0x47, 0xA3, 0x23, 0xDD, 0x51, 0xAF, 0x3A, 0xC3, 0x5C, 0xF9,
    0xCE, 0xBA, 0xC5, 0xEA, 0x26, 0x2C, 0x53, 0x0D, 0x6E, 0x85, 0x28, 0x84, 0x09, 0xD3, 0xDF, 0xCD, 0xF4, 0x41, 0x81,
    0x4D, 0x52, 0x6A, 0xDC, 0x37, 0xC8, 0x6C, 0xC1, 0xAB, 0xFA, 0x24, 0xE1, 0x7B, 0x08, 0x0C, 0xBD, 0xB1, 0x4A, 0x78,
    0x88, 0x95, 0x8B, 0xE3, 0x63, 0xE8, 0x6D, 0xE9, 0xCB, 0xD5, 0xFE, 0x3B, 0x00, 0x1D, 0x39, 0xF2, 0xEF, 0xB7, 0x0E,
    0x66, 0x58, 0xD0, 0xE4, 0xA6, 0x77, 0x72, 0xF8, 0xEB, 0x75, 0x4B, 0x0A, 0x31, 0x44, 0x50, 0xB4, 0x8F, 0xED, 0x1F,
    0x1A, 0xDB, 0x99, 0x8D, 0x33, 0x9F, 0x11, 0x83, 0x14,
};

/* st[0..48): the digest buffer X, whose [16..32) doubles as the input
 * buffer; st[48..64): the checksum; st[64]: bytes in the block; st[65]: L. */
struct alt {
    uint8_t st[66];
};

static void alt_absorb(struct alt *a, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint8_t *st = a->st;
    for (size_t i = 0; i < len; i++) {
        uint8_t n = st[64], b = p[i];
        st[16 + n] = b;
        st[32 + n] = b ^ st[n];
        st[48 + n] ^= S2[b ^ st[65]]; /* reads checksum byte n before it changes */
        st[65] = st[48 + n];
        if (++n == 16) {
            uint8_t t = 0;
            for (int r = 0; r < 18; r++) {
                for (int k = 0; k < 48; k++)
                    t = st[k] ^= S2[t];
                t = (uint8_t)(t + r);
            }
            n = 0;
        }
        st[64] = n;
    }
}

static void alt_finish(struct alt *a, uint8_t out[16])
{
    uint8_t pad[16], c[16];
    memset(pad, 16 - a->st[64], sizeof pad);
    alt_absorb(a, pad, 16 - a->st[64]);
    /* absorbing the checksum also updates it, which no longer matters */
    memcpy(c, a->st + 48, 16);
    alt_absorb(a, c, 16);
    memcpy(out, a->st, 16);
}

/* HMAC exactly as the reference's steps 1-6 (key is one block). */
static void alt_hmac(const uint8_t key[16], const void *m1, size_t n1, const void *m2, size_t n2, uint8_t out[16])
{
    uint8_t pad[16], h1[16];
    struct alt a = {{0}};
    for (int i = 0; i < 16; i++)
        pad[i] = key[i] ^ 0x36;
    alt_absorb(&a, pad, 16);
    alt_absorb(&a, m1, n1);
    alt_absorb(&a, m2, n2);
    alt_finish(&a, h1);
    memset(&a, 0, sizeof a);
    for (int i = 0; i < 16; i++)
        pad[i] = key[i] ^ 0x5c;
    alt_absorb(&a, pad, 16);
    alt_absorb(&a, h1, 16);
    alt_finish(&a, out);
}

/* ---- MD2 ---- */

static const struct {
    const char *msg, *digest;
} rfc1319[] = {
    {"", "8350e5a3e24c153df2275c9f80692773"},
    {"a", "32ec01ec4a6dac72c0ab96fb34c0b5d1"},
    {"abc", "da853b0d3f88d99b30283a69e6ded6bb"},
    {"message digest", "ab4f496bfb2a530b219ff33031fe06b0"},
    {"abcdefghijklmnopqrstuvwxyz", "4e8ddff3650292ab5a4108c3aa47940b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "da33def2a42df13975352846c30338cd"},
    {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
     "d5976f79d83d3a0dc9806c3c66f3efd8"},
};

static void test_md2_rfc1319(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc1319 / sizeof rfc1319[0]; i++) {
        uint8_t d[16];
        rgpu_md2(rfc1319[i].msg, strlen(rfc1319[i].msg), d);
        assert_digest(d, rfc1319[i].digest);
        struct alt a = {{0}};
        alt_absorb(&a, rfc1319[i].msg, strlen(rfc1319[i].msg));
        alt_finish(&a, d);
        assert_digest(d, rfc1319[i].digest);
    }
}

/* The same digest whatever the pieces the message comes in. */
static void test_md2_pieces(void **state)
{
    (void)state;
    uint8_t msg[300], whole[16], parts[16];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof msg; len += 7) {
        rgpu_md2(msg, len, whole);
        for (size_t step = 1; step <= 33; step += 4) {
            struct rgpu_md2 s;
            rgpu_md2_init(&s);
            for (size_t off = 0; off < len; off += step)
                rgpu_md2_update(&s, msg + off, len - off < step ? len - off : step);
            rgpu_md2_final(&s, parts);
            assert_memory_equal(whole, parts, 16);
        }
        struct alt a = {{0}};
        alt_absorb(&a, msg, len);
        alt_finish(&a, parts);
        assert_memory_equal(whole, parts, 16);
    }
}

/* ---- HMAC-MD2 ---- */

static void test_hmac_known_answers(void **state)
{
    (void)state;
    uint8_t d[16], key40[40];
    struct rgpu_hmac_md2 h;
    const char *fox = "The quick brown fox jumps over the lazy dog";
    rgpu_hmac_md2_init(&h, "key", 3); /* short key: zero-padded */
    rgpu_hmac_md2_update(&h, fox, strlen(fox));
    rgpu_hmac_md2_final(&h, d);
    assert_digest(d, "13758b9534bfb38d850457814613b0c1");

    for (int i = 0; i < 40; i++)
        key40[i] = (uint8_t)i;
    rgpu_hmac_md2_init(&h, key40, sizeof key40); /* long key: hashed first */
    for (int i = 0; i < 50; i++)
        rgpu_hmac_md2_update(&h, "rgpu", 4);
    rgpu_hmac_md2_final(&h, d);
    assert_digest(d, "21392c2ed27ea6cd6d30e56d5bdb99ec");
}

/* ---- the integrity result ---- */

static const uint8_t integrity_key[16] = {0x14, 0x6A, 0xDD, 0xAE, 0x53, 0xA9, 0xA7, 0x52,
                                          0xAA, 0x08, 0x41, 0x36, 0x0B, 0xF5, 0x5A, 0x9F};

static struct rgpu_integrity_input known_input(void)
{
    struct rgpu_integrity_input in = {
        .driver_version = 13000,
        .version = 13002,
        .pid = 4242,
        .thread = 0x9abcdef0u,
        .cudart_table = (const void *)(uintptr_t)0x7f0000001000ULL,
        .integrity_table = (const void *)(uintptr_t)0x7f0000002000ULL,
        .fn = (const void *)(uintptr_t)0x7f0000003000ULL,
        .unix_seconds = 1700000000,
    };
    return in;
}

static void known_devices(struct rgpu_integrity_device d[2])
{
    memset(d, 0, 2 * sizeof d[0]);
    for (int i = 0; i < 16; i++) {
        d[0].uuid[i] = (uint8_t)(0x10 + i);
        d[1].uuid[i] = (uint8_t)(0xa0 + i);
    }
    d[0].pci_bus = 0x41;
    d[1].pci_domain = 1, d[1].pci_bus = 0x82, d[1].pci_device = 3;
}

static void test_integrity_known_answers(void **state)
{
    (void)state;
    _Static_assert(sizeof(void *) == 8, "the known answers assume 64-bit pointers");
    struct rgpu_integrity_input in = known_input();
    struct rgpu_integrity_device devs[2];
    known_devices(devs);
    uint64_t r[2];

    rgpu_integrity_result(&in, devs, 1, r);
    assert_int_equal(r[0], 0xa9d8fb198748e69cULL);
    assert_int_equal(r[1], 0x3b0279d77418a98dULL);
    rgpu_integrity_result(&in, devs, 2, r);
    assert_int_equal(r[0], 0xeaa3dd2a010eb5bcULL);
    assert_int_equal(r[1], 0x6908872c88166e3fULL);

    /* the second implementation, on the same bytes */
    uint8_t d[16];
    alt_hmac(integrity_key, &in, sizeof in, devs, 2 * sizeof devs[0], d);
    assert_memory_equal(d, r, 16);

    /* every input counts */
    uint64_t r2[2];
    in.thread ^= 1;
    rgpu_integrity_result(&in, devs, 2, r2);
    assert_true(r2[0] != r[0] || r2[1] != r[1]);
}

static void test_integrity_fixed_versions(void **state)
{
    (void)state;
    struct rgpu_integrity_input in = known_input();
    uint64_t r[2];
    for (uint32_t base = 12000; base <= 13010; base += 10) {
        in.version = base;
        rgpu_integrity_result(&in, NULL, 0, r);
        assert_int_equal(r[0], 0x3341181C03CB675CULL);
        assert_int_equal(r[1], 0x8ED383AA1F4CD1E8ULL);
        in.version = base + 1;
        rgpu_integrity_result(&in, NULL, 0, r);
        assert_int_equal(r[0], 0x1841181C03CB675CULL);
        assert_int_equal(r[1], 0x8ED383AA1F4CD1E8ULL);
    }
}

/* ---- the tables, through the built library ---- */

typedef CUresult (*export_fn)(const void **, const CUuuid *);

static void *lib;
static export_fn get_export;

static int setup_lib(void **state)
{
    (void)state;
    lib = dlopen(RGPU_CUDA_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen(%s): %s\n", RGPU_CUDA_LIB, dlerror());
        return -1;
    }
    get_export = (export_fn)dlsym(lib, "cuGetExportTable");
    return get_export ? 0 : -1;
}

static int teardown_lib(void **state)
{
    (void)state;
    if (lib)
        dlclose(lib);
    return 0;
}

static const void *const *table(const char *uuid_hex)
{
    CUuuid id;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        assert_int_equal(sscanf(uuid_hex + 2 * i, "%2x", &v), 1);
        id.bytes[i] = (char)v;
    }
    const void *t = (const void *)1;
    assert_int_equal(get_export(&t, &id), CUDA_SUCCESS);
    assert_non_null(t);
    const void *again = NULL;
    assert_int_equal(get_export(&again, &id), CUDA_SUCCESS);
    assert_ptr_equal(t, again); /* stable: the integrity hash covers the address */
    return t;
}

#define SIZE_OF(t) ((uintptr_t)(t)[0])

static void test_table_layouts(void **state)
{
    (void)state;
    const void *const *cudart = table("6bd5fb6c5bf4e74a8987d93912fd9df9");
    assert_int_equal(SIZE_OF(cudart), 13 * 8);
    for (int i = 1; i < 13; i++)
        assert_non_null(cudart[i]);

    const void *const *hooks = table("a094798c2e742e7493f20800200c0a66");
    assert_true(SIZE_OF(hooks) > 0x30); /* cudart: cmpq $0x30 */
    assert_int_equal(SIZE_OF(hooks), 7 * 8);
    void *buf = NULL;
    size_t size = 0;
    ((void (*)(void **, size_t *))hooks[2])(&buf, &size);
    assert_non_null(buf);
    assert_true(size >= 523);
    for (size_t i = 0; i < size; i++)
        assert_int_equal(((const uint8_t *)buf)[i], 0);
    ((void (*)(void **, size_t *))hooks[6])(&buf, &size);
    assert_non_null(buf);
    assert_true(size >= 14);

    const void *const *tls = table("42d85a8123f6cb478298f6e78a3aecdc");
    assert_int_equal(SIZE_OF(tls), 4 * 8);
    CUcontext ctx = (CUcontext)1;
    assert_int_equal(((CUresult(*)(CUcontext *))tls[2])(&ctx), CUDA_SUCCESS);
    assert_null(ctx); /* no current context on this thread */

    const void *const *cls = table("c693336e1121df11a8c368f355d89593");
    assert_non_null(cls[0]); /* no size header: slot 0 is put */
    assert_true(SIZE_OF(cls) > 0x10000);
    assert_non_null(cls[1]);
    assert_non_null(cls[2]);
    assert_null(cls[3]);
    void *value = NULL;
    /* no cuInit yet: nothing to look in */
    assert_int_not_equal(((CUresult(*)(void **, CUcontext, void *))cls[2])(&value, NULL, &value), CUDA_SUCCESS);

    const void *const *checks = table("263e88607cd2614392f6bbd5006dfa7e");
    assert_int_equal(SIZE_OF(checks), 4 * 8);
    uint32_t r1 = 7;
    const void *r2 = NULL;
    assert_int_equal(((CUresult(*)(CUcontext, uint32_t *, const void **))checks[2])(NULL, &r1, &r2), 0);
    assert_int_equal(r1, 0);
    assert_int_equal(((uint32_t(*)(void))checks[3])(), 0);

    const void *const *integrity = table("d4082055bde6704b8d34ba123c66e1f2");
    assert_int_equal(SIZE_OF(integrity), 3 * 8);
    uint64_t res[2] = {0, 0};
    typedef CUresult (*check_fn)(uint32_t, uint64_t, uint64_t *);
    assert_int_equal(((check_fn)integrity[1])(13000, 1700000000, res), CUDA_SUCCESS);
    assert_int_equal(res[0], 0x3341181C03CB675CULL);
    assert_int_equal(((check_fn)integrity[1])(13001, 1700000000, res), CUDA_SUCCESS);
    assert_int_equal(res[0], 0x1841181C03CB675CULL);
    assert_int_equal(res[1], 0x8ED383AA1F4CD1E8ULL);

    const void *const *ctxid = table("21318c60971432488ca641ff7324c8f2");
    assert_true(SIZE_OF(ctxid) >= 52 * 8); /* cuBLASLt reaches slot 51 */
    for (uintptr_t i = 1; i < SIZE_OF(ctxid) / 8; i++)
        assert_non_null(ctxid[i]);

    const void *const *errlog = table("f8cff95121468b4eb9e2fb469e7c0dd9");
    assert_true(SIZE_OF(errlog) >= 2 * 8);
    assert_non_null(errlog[1]);
}

static void test_unknown_table(void **state)
{
    (void)state;
    CUuuid id;
    memset(&id, 0x5a, sizeof id);
    const void *t = (const void *)1;
    assert_int_equal(get_export(&t, &id), CUDA_ERROR_INVALID_VALUE);
    assert_null(t);
    /* PhysX's CTX_CREATE_BYPASS: known to exist, not served */
    static const unsigned char bypass[16] = {0x0c, 0xa5, 0x0b, 0x8c, 0x10, 0x04, 0x92, 0x9a,
                                             0x89, 0xa7, 0xd0, 0xdf, 0x10, 0xe7, 0x72, 0x86};
    memcpy(id.bytes, bypass, 16);
    t = (const void *)1;
    assert_int_equal(get_export(&t, &id), CUDA_ERROR_INVALID_VALUE);
    assert_null(t);
    assert_int_equal(get_export(NULL, &id), CUDA_ERROR_INVALID_VALUE);
    t = (const void *)1;
    assert_int_equal(get_export(&t, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest hash_tests[] = {
        cmocka_unit_test(test_md2_rfc1319),
        cmocka_unit_test(test_md2_pieces),
        cmocka_unit_test(test_hmac_known_answers),
        cmocka_unit_test(test_integrity_known_answers),
        cmocka_unit_test(test_integrity_fixed_versions),
    };
    const struct CMUnitTest table_tests[] = {
        cmocka_unit_test(test_table_layouts),
        cmocka_unit_test(test_unknown_table),
    };
    int failed = cmocka_run_group_tests_name("md2/hmac/integrity", hash_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("export tables", table_tests, setup_lib, teardown_lib);
    return failed ? 1 : 0;
}
