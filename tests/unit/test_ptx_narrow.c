/*
 * test_ptx_narrow.c — the narrow float conversions of the MX formats:
 * f32 pair -> fp4 e2m1 pair (.rn.satfinite), fp4 pair -> f16 pair, e8m0
 * scale(s) -> bf16 pair, and the fp8 e4m3 pair both ways, bit-exact.
 * Kernels: ptx_kernels/narrow.cu built for compute_120a (cuda_fp4.h and
 * cuda_fp8.h emit these cvt forms only for arch-specific targets).
 * References: every finite code of the format decoded from its bit layout,
 * the nearest one searched (ties to the even code), saturation to the
 * largest finite value, NaN as cuda_fp4.hpp / cuda_fp8.hpp's host
 * emulation of the instructions gives it (e2m1: +6.0; e4m3: 0x7f; f16:
 * 0x7fff); an e8m0 scale 2^(e-127) through C's ldexpf.
 * The block-scaled mma (m16n8k64, e2m1 with ue8m0 / ue4m3 scales) against
 * the matrices rebuilt from the fragment layout of the PTX ISA (the 4-bit
 * m16n8k64 layout; scales with selectors {0, 0}: row r from lane
 * 4(r % 8) + r / 8, column c from lane 4c, byte j for the j-th block of K);
 * the reference sums exactly (double) and rounds once to f32, the numerics
 * mma.c documents; scales near 1 keep the sums small.
 */
#include <math.h>

#include "ptx_kernels/harness.h"

#define NT 512
#define NN 6

static uint32_t rng = 777;
static uint32_t rnd32(void) { rng = rng * 1664525u + 1013904223u; return rng ^ (rng >> 13); }
static uint32_t fb(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static uint16_t hq(_Float16 h) { uint16_t u; memcpy(&u, &h, 2); return u; }

/* value of a code with e exponent bits, m mantissa bits, bias 2^(e-1)-1, no inf/NaN */
static double small_value(unsigned code, int e, int m)
{
    unsigned s = code >> (e + m) & 1, ex = code >> m & ((1u << e) - 1), mm = code & ((1u << m) - 1);
    int bias = (1 << (e - 1)) - 1;
    double v = ex ? ldexp(1.0 + mm / (double)(1u << m), (int)ex - bias) : ldexp(mm / (double)(1u << m), 1 - bias);
    return s ? -v : v;
}

/* nearest of the positive codes [0, maxcode] (ties to the even code), sign kept */
static unsigned encode(float f, int e, int m, unsigned maxcode, unsigned nan)
{
    if (isnan(f)) return nan;
    double a = fabs((double)f);
    unsigned best = 0;
    for (unsigned c = 1; c <= maxcode; c++) {
        double dc = fabs(small_value(c, e, m) - a), db = fabs(small_value(best, e, m) - a);
        if (dc < db || (dc == db && !(c & 1))) best = c;
    }
    if (a > small_value(maxcode, e, m)) best = maxcode; /* satfinite (and +-inf) */
    return (signbit(f) ? 1u << (e + m) : 0) | best;
}
static unsigned e2m1(float f) { return encode(f, 2, 1, 0x7, 0x7); }
static unsigned e4m3(float f) { return encode(f, 4, 3, 0x7e, 0x7f); }
static uint16_t e2m1_f16(unsigned c) { return hq((_Float16)small_value(c & 0xf, 2, 1)); }
static uint16_t e4m3_f16(unsigned c)
{
    if ((c & 0x7f) == 0x7f) return 0x7fff;
    return hq((_Float16)small_value(c & 0xff, 4, 3));
}
static uint16_t e8m0_bf16(unsigned e)
{
    if (e == 0xff) return 0x7fff;
    return (uint16_t)(fb(ldexpf(1.0f, (int)e - 127)) >> 16);
}

static void test_narrow(void **state)
{
    (void)state;
    struct ptx_module *m = h_load("narrow_120a.ptx");
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "narrow_ops");
    float *A = h_dev(NT * 4), *B = h_dev(NT * 4);
    uint16_t *E = h_dev(NT * 2);
    unsigned *out = h_dev(NT * NN * 4);
    /* the fp4 values, their midpoints and neighbours, saturation, specials */
    static const float sp[] = {0.0f, -0.0f, 0.25f, 0.2500001f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 4.9999f,
                               6.0f, 7.0f, -5.0f, -0.75f, NAN, INFINITY, -INFINITY, 1e-40f, 448.0f, 464.0f, -1e6f};
    const int nsp = (int)(sizeof sp / sizeof sp[0]);
    for (int t = 0; t < NT; t++) {
        A[t] = t < nsp * nsp ? sp[t % nsp] : (float)((int)(rnd32() % 20001) - 10000) / 1000.0f;
        B[t] = t < nsp * nsp ? sp[t / nsp] : (float)((int)(rnd32() % 2001) - 1000) / 64.0f;
        E[t] = t < 256 ? (uint16_t)(t | (255 - t) << 8) : (uint16_t)rnd32();
    }
    struct h_params p;
    H_P(k, &p, 0, A);
    H_P(k, &p, 1, B);
    H_P(k, &p, 2, E);
    H_P(k, &p, 3, out);
    h_launch(m, "narrow_ops", NT / 64, 64, &p);
    for (int t = 0; t < NT; t++) {
        unsigned e = E[t], lo = e & 0xff, hi = e >> 8;
        unsigned want[NN];
        want[0] = e2m1(B[t]) << 4 | e2m1(A[t]);
        want[1] = (unsigned)e2m1_f16(lo >> 4) << 16 | e2m1_f16(lo);
        want[2] = e8m0_bf16(lo);
        want[3] = (unsigned)e8m0_bf16(hi) << 16 | e8m0_bf16(lo);
        want[4] = e4m3(B[t]) << 8 | e4m3(A[t]);
        want[5] = (unsigned)e4m3_f16(hi) << 16 | e4m3_f16(lo);
        for (int j = 0; j < NN; j++)
            if (out[t * NN + j] != want[j])
                fail_msg("narrow_ops t=%d a=%a b=%a e=0x%04x op %d: got 0x%x want 0x%x", t, A[t], B[t], e, j,
                         out[t * NN + j], want[j]);
    }
    ptx_module_free(m);
    h_dev_free_all();
}

static double e4m3_value(unsigned c) { return small_value(c & 0x7f, 4, 3); }

static void test_mma_mxf4(void **state)
{
    (void)state;
    struct ptx_module *m = h_load("narrow_120a.ptx");
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "mma_mxf4");
    uint32_t *A = h_dev(32 * 4 * 4), *B = h_dev(32 * 2 * 4), *S = h_dev(32 * 4 * 4);
    float *C = h_dev(32 * 4 * 4), *out = h_dev(32 * 8 * 4);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 32 * 4; i++) A[i] = rnd32();
        for (int i = 0; i < 32 * 2; i++) B[i] = rnd32();
        for (int i = 0; i < 32 * 4; i++) C[i] = (float)((int)(rnd32() % 64) - 32) / 4.0f;
        for (int l = 0; l < 32; l++) {
            /* ue8m0 scales near 2^0 (exponents 124..130), ue4m3 scales 0.25..4 with 3 mantissa bits */
            S[4 * l] = (124 + rnd32() % 7) | (124 + rnd32() % 7) << 8 | rnd32() << 16;
            S[4 * l + 1] = (124 + rnd32() % 7) | (124 + rnd32() % 7) << 8 | rnd32() << 16;
            uint32_t a4 = 0, b4 = 0;
            for (int j = 0; j < 4; j++) {
                a4 |= (uint32_t)(0x28 + rnd32() % 32) << (8 * j);
                b4 |= (uint32_t)(0x28 + rnd32() % 32) << (8 * j);
            }
            S[4 * l + 2] = a4;
            S[4 * l + 3] = b4;
        }
        if (round == 3) S[0] = 0xff; /* a NaN scale (ue8m0 0xff) for row 0, block 0 */
        struct h_params p;
        H_P(k, &p, 0, A);
        H_P(k, &p, 1, B);
        H_P(k, &p, 2, C);
        H_P(k, &p, 3, S);
        H_P(k, &p, 4, out);
        h_launch(m, "mma_mxf4", 1, 32, &p);
        /* the matrices, from the fragment layout */
        unsigned Am[16][64], Bm[64][8];
        float Cm[16][8];
        for (int l = 0; l < 32; l++) {
            int g = l >> 2, t = l & 3;
            for (int i = 0; i < 32; i++)
                Am[g + 8 * ((i >> 3) & 1)][8 * t + (i & 7) + 32 * (i >> 4)] = A[4 * l + i / 8] >> (4 * (i % 8)) & 0xf;
            for (int i = 0; i < 16; i++) Bm[8 * t + (i & 7) + 32 * (i >> 3)][g] = B[2 * l + i / 8] >> (4 * (i % 8)) & 0xf;
            for (int i = 0; i < 4; i++) Cm[g + 8 * (i >> 1)][2 * t + (i & 1)] = C[4 * l + i];
        }
        for (int kind = 0; kind < 2; kind++) {
            int nsc = kind ? 4 : 2;
            for (int l = 0; l < 32; l++)
                for (int i = 0; i < 4; i++) {
                    int r = (l >> 2) + 8 * (i >> 1), c = 2 * (l & 3) + (i & 1);
                    double sum = Cm[r][c];
                    for (int j = 0; j < nsc; j++) {
                        unsigned sa = S[4 * (4 * (r % 8) + r / 8) + 2 * kind] >> (8 * j) & 0xff;
                        unsigned sb = S[4 * (4 * c) + 1 + 2 * kind] >> (8 * j) & 0xff;
                        double fa = kind ? e4m3_value(sa) : sa == 0xff ? NAN : ldexp(1.0, (int)sa - 127);
                        double fb = kind ? e4m3_value(sb) : sb == 0xff ? NAN : ldexp(1.0, (int)sb - 127);
                        for (int kk = j * 64 / nsc; kk < (j + 1) * 64 / nsc; kk++)
                            sum += small_value(Am[r][kk], 2, 1) * fa * small_value(Bm[kk][c], 2, 1) * fb;
                    }
                    float got = out[8 * l + 4 * kind + i];
                    uint32_t want = isnan(sum) ? 0x7fffffffu : fb((float)sum);
                    if (fb(got) != want)
                        fail_msg("mma_mxf4 round %d kind %d lane %d d%d (row %d col %d): got %a want %a", round, kind, l,
                                 i, r, c, got, (double)sum);
                }
        }
    }
    ptx_module_free(m);
    h_dev_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_narrow), cmocka_unit_test(test_mma_mxf4)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
