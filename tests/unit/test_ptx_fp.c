/*
 * test_ptx_fp.c — the fast f16 and bf16 conversions of ptx/fp.c against the
 * general ones. f16 -> f32 is checked for all 65536 codes against a decode from the
 * bit layout (ldexp); double -> f16 round-to-nearest-even (the path half
 * arithmetic, mma and cvt.rn take) against fp_round_fmt(), the
 * format-generic rounding every other mode uses: every float of the f16
 * range, random doubles with their low bits cleared (exact ties), and the
 * edges (largest finite, the overflow tie 65520, subnormals, 2^-25); the
 * same for double -> bf16 over bf16's range.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd64(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }

static void test_f16_to_f32_all(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t e = h >> 10 & 0x1f, m = h & 0x3ff;
        uint32_t got = (uint32_t)f32_bits(f16_to_f32((uint16_t)h));
        if (e == 0x1f && m) { /* quiet NaN, payload and sign kept */
            assert_int_equal(got, (h & 0x8000u) << 16 | 0x7fc00000u | m << 13);
            continue;
        }
        double v = e == 0x1f ? INFINITY : e ? ldexp(1024 + m, (int)e - 25) : ldexp(m, -24);
        float want = (float)((h & 0x8000) ? -v : v);
        assert_int_equal(got, (uint32_t)f32_bits(want));
    }
}

static void check(double v)
{
    uint16_t fast = f64_to_f16(v, RND_RN, false);
    uint16_t general = (uint16_t)fp_round_fmt(v, 5, 10, RND_RN);
    if (fast != general) fail_msg("f16 %a: fast %04x general %04x", v, fast, general);
    fast = f64_to_bf16(v, RND_RN);
    general = (uint16_t)fp_round_fmt(v, 8, 7, RND_RN);
    if (fast != general) fail_msg("bf16 %a: fast %04x general %04x", v, fast, general);
}

/* bf16's range: floats around its smallest subnormal and its overflow */
static void check_bf16_edges(void)
{
    static const double edges[] = {0x1p-133, 0x1p-134, 0x1.0000000000001p-134, 0x1p-126, 0x1.fep127, 0x1.ffp127,
                                   0x1.fefffffffffffp127, 0x1p128, 0x1.8p-133};
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++) { check(edges[k]); check(-edges[k]); }
    for (int n = 0; n < 2000000; n++) {
        uint64_t u = rnd64();
        uint64_t ex = 1023 - 140 + rnd64() % 272; /* 2^-140 .. 2^131 */
        u = (u & 0x800fffffffffffffull) | ex << 52;
        if (n & 1) u &= ~((1ull << (rnd64() % 52)) - 1);
        double d;
        memcpy(&d, &u, 8);
        check(d);
    }
}

static void test_f64_to_f16_rn(void **state)
{
    (void)state;
    static const double edges[] = {0.0, -0.0, 65504.0, 65519.99, 65520.0, -65520.0, 65536.0, 1e300, -1e300,
                                   0x1p-14, 0x1p-24, 0x1p-25, 0x1.0000000000001p-25, 0x1.8p-24, 0x1.ffcp-15,
                                   0x1.ffep-15, 4.9e-324, 1.0, 1.0009765625, 1.00048828125, 1.00146484375};
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++) { check(edges[k]); check(-edges[k]); }
    check(INFINITY);
    check(-INFINITY);
    assert_int_equal(f64_to_f16(NAN, RND_RN, false), 0x7fff);
    assert_int_equal(f64_to_bf16(NAN, RND_RN), 0x7fff);
    check_bf16_edges();
    /* every float with an exponent around the f16 range, a stride elsewhere */
    for (uint64_t u = 0; u < (1ull << 32);) {
        check((double)bits_f32(u));
        uint32_t ex = (uint32_t)(u >> 23 & 0xff);
        u += ex >= 100 && ex <= 145 ? 7 : 65537;
    }
    for (int n = 0; n < 4000000; n++) {
        uint64_t u = rnd64();
        uint64_t ex = 1023 - 30 + rnd64() % 50;
        u = (u & 0x800fffffffffffffull) | ex << 52;
        if (n & 1) u &= ~((1ull << (rnd64() % 52)) - 1); /* trailing zeros: exact ties */
        double d;
        memcpy(&d, &u, 8);
        check(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_f16_to_f32_all), cmocka_unit_test(test_f64_to_f16_rn)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
