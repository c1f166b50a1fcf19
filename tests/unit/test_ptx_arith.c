/*
 * test_ptx_arith.c — integer, bit-manipulation, f32/f64 (with every rounding
 * mode the CUDA intrinsics reach), float<->int conversions and f16/bf16
 * conversions and arithmetic, bit-exact against results computed here.
 * Kernels: ptx_kernels/arith.cu (compute_75 and compute_90 PTX).
 * References: C arithmetic in the matching host rounding mode (volatile
 * operands so nothing is folded at compile time), GCC's _Float16 for f16,
 * and the PTX ISA's definitions written out independently for bit ops.
 */
#include <fenv.h>
#include <float.h>
#include <math.h>

#include "ptx_kernels/harness.h"

#define NT 256
static const char *arch = "75";

static uint32_t rng = 12345;
static uint32_t rnd32(void) { rng = rng * 1664525u + 1013904223u; return rng ^ (rng >> 13); }

static struct ptx_module *load(void)
{
    char name[64];
    snprintf(name, sizeof name, "arith_%s.ptx", arch);
    return h_load(name);
}

/* ---------------- integers ---------------- */
static void test_int(void **state)
{
    (void)state;
    struct ptx_module *m = load();
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "int_ops");
    int *A = h_dev(NT * 4), *B = h_dev(NT * 4);
    unsigned *out = h_dev(NT * 24 * 4);
    static const int sp[] = {0, 1, -1, 2, -2, 7, -7, 0x7fffffff, (int)0x80000000, 12345, -99999, 65536, 3};
    for (int t = 0; t < NT; t++) {
        A[t] = t < 13 * 13 ? sp[t % 13] : (int)rnd32();
        B[t] = t < 13 * 13 ? sp[t / 13] : (t & 3) ? (int)rnd32() : (int)(rnd32() % 100) - 50;
    }
    struct h_params p;
    H_P(k, &p, 0, A);
    H_P(k, &p, 1, B);
    H_P(k, &p, 2, out);
    h_launch(m, "int_ops", NT / 64, 64, &p);
    for (int t = 0; t < NT; t++) {
        int a = A[t], b = B[t];
        unsigned ua = (unsigned)a, ub = (unsigned)b, e[24];
        e[0] = ua + ub;
        e[1] = ua - ub;
        e[2] = ua * ub;
        e[3] = (unsigned)(((long long)a * b) >> 32);
        e[4] = (unsigned)(((unsigned long long)ua * ub) >> 32);
        long long w = (long long)a * b;
        e[5] = (unsigned)w; e[6] = (unsigned)(w >> 32);
        e[7] = b ? (b == -1 ? 0u - ua : (unsigned)(a / b)) : 7;
        e[8] = b ? (b == -1 ? 0 : (unsigned)(a % b)) : 8;
        e[9] = ub ? ua / ub : 9;
        e[10] = ub ? ua % ub : 10;
        e[11] = a < 0 ? 0u - ua : ua;
        e[12] = (unsigned)(a < b ? a : b);
        e[13] = ua > ub ? ua : ub;
        e[14] = (unsigned)(a >> (b & 31));
        e[15] = ua >> (ub & 31);
        e[16] = ua << (ub & 31);
        e[17] = (unsigned)(a > b ? (long long)a - b : (long long)b - a) + 5u;
        e[18] = (unsigned)((long long)((int)(ua << 8) >> 8) * (long long)((int)(ub << 8) >> 8));
        e[19] = (ua & 0xffffff) * (ub & 0xffffff);
        e[20] = (unsigned)(((unsigned long long)ua * ub) >> 32);
        e[21] = (unsigned)((a < b) + 2 * (ua < ub) + 4 * (a == b));
        long long la = (long long)((unsigned long long)(long long)a << 20), lb = (long long)b | 1;
        e[22] = (unsigned)(la / lb);
        e[23] = (unsigned)(la % lb);
        for (int j = 0; j < 24; j++)
            if (out[t * 24 + j] != e[j]) fail_msg("int_ops t=%d a=%d b=%d op %d: got 0x%x want 0x%x", t, a, b, j, out[t * 24 + j], e[j]);
    }
    ptx_module_free(m);
    h_dev_free_all();
}

/* ---------------- bits (PTX ISA definitions) ---------------- */
static unsigned r_bfe(unsigned a, unsigned pos, unsigned len, int sg)
{
    unsigned sbit = sg && len ? (a >> (pos + len - 1 > 31 ? 31 : pos + len - 1)) & 1 : 0, r = 0;
    for (unsigned i = 0; i < 32; i++) r |= ((i < len && pos + i <= 31) ? (a >> (pos + i)) & 1 : sbit) << i;
    return r;
}
static unsigned r_prmt(unsigned a, unsigned b, unsigned c)
{
    unsigned long long x = (unsigned long long)b << 32 | a;
    unsigned r = 0;
    for (int i = 0; i < 4; i++) {
        unsigned s = (c >> (4 * i)) & 15, v = (unsigned)(x >> (8 * (s & 7))) & 0xff;
        if (s & 8) v = (v & 0x80) ? 0xff : 0;
        r |= v << (8 * i);
    }
    return r;
}
static void test_bits(void **state)
{
    (void)state;
    struct ptx_module *m = load();
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "bit_ops");
    unsigned *A = h_dev(NT * 4), *B = h_dev(NT * 4), *C = h_dev(NT * 4), *out = h_dev(NT * 20 * 4);
    for (int t = 0; t < NT; t++) {
        A[t] = t < 8 ? (unsigned[]){0, 1, 0x80000000u, 0xffffffffu, 0x7fffffffu, 0x10, 0xf0f0f0f0u, 0xfffffffeu}[t] : rnd32();
        B[t] = rnd32();
        C[t] = t % 5 == 0 ? (unsigned)(t % 70) : rnd32();
    }
    struct h_params p;
    H_P(k, &p, 0, A);
    H_P(k, &p, 1, B);
    H_P(k, &p, 2, C);
    H_P(k, &p, 3, out);
    h_launch(m, "bit_ops", NT / 32, 32, &p);
    for (int t = 0; t < NT; t++) {
        unsigned a = A[t], b = B[t], c = C[t], e[20];
        unsigned rv = 0;
        for (int i = 0; i < 32; i++) rv |= ((a >> i) & 1) << (31 - i);
        e[0] = rv;
        e[1] = a ? (unsigned)__builtin_clz(a) : 32;
        e[2] = (unsigned)__builtin_popcount(a);
        e[3] = (unsigned)__builtin_ffs((int)a);
        e[4] = r_prmt(a, b, c & 0x7777) ; /* __byte_perm uses selector bits 0..2 only */
        unsigned long long f = (unsigned long long)b << 32 | a;
        e[5] = (unsigned)((f << (c & 31)) >> 32);
        e[6] = (unsigned)(f >> (c & 31));
        unsigned cc = c > 32 ? 32 : c;
        e[7] = (unsigned)((f << cc) >> 32);
        e[8] = cc == 32 ? b : (unsigned)(f >> cc);
        e[9] = r_bfe(a, b & 0x3f, c & 0x3f, 0);
        e[10] = r_bfe(a, b & 0x3f, c & 0x3f, 1);
        unsigned pos = c & 0x3f, len = (c >> 8) & 0x3f, r = b;
        for (unsigned i = 0; i < len && pos + i < 32; i++) r = (r & ~(1u << (pos + i))) | ((a >> i) & 1) << (pos + i);
        e[11] = r;
        unsigned s0 = b & 0x3f, w0 = c & 0x3f;
        if (s0 > 32) s0 = 32;
        if (w0 > 32) w0 = 32;
        e[12] = s0 >= 32 ? 0 : (unsigned)((w0 >= 32 ? 0xffffffffull : (1ull << w0) - 1) << s0);
        e[13] = a ^ b ^ c;
        e[14] = (a & b) | (a & c) | (b & c);
        e[15] = a ? 31u - (unsigned)__builtin_clz(a) : 0xffffffffu;
        unsigned sa = (a & 0x80000000u) ? ~a : a;
        e[16] = sa ? 31u - (unsigned)__builtin_clz(sa) : 0xffffffffu;
        e[17] = a ? (unsigned)__builtin_clz(a) : 0xffffffffu;
        int s = (int)c, su = 0;
        for (int i = 0; i < 4; i++) s += (int)(signed char)(a >> (8 * i)) * (int)(signed char)(b >> (8 * i));
        for (int i = 0; i < 4; i++) su += (int)((a >> (8 * i)) & 0xff) * (int)((b >> (8 * i)) & 0xff);
        e[18] = (unsigned)s;
        e[19] = (unsigned)su + c;
        if (e[4] != r_prmt(a, b, c & 0x7777)) e[4] = 0;
        for (int j = 0; j < 20; j++) {
            if (j == 4) { if (out[t * 20 + 4] != r_prmt(a, b, c & 0x7777) && out[t * 20 + 4] != r_prmt(a, b, c)) fail_msg("prmt t=%d", t); continue; }
            if (out[t * 20 + j] != e[j]) fail_msg("bit_ops t=%d a=0x%x b=0x%x c=0x%x op %d: got 0x%x want 0x%x", t, a, b, c, j, out[t * 20 + j], e[j]);
        }
    }
    ptx_module_free(m);
    h_dev_free_all();
}

/* ---------------- f32 ---------------- */
/* not static: the compiler must assume fesetround() reads and writes them, so
 * the arithmetic stays between the mode switches (GCC bug 34678) */
volatile float va, vb, vc, vr;
static float fop(int op, int mode, float a, float b, float c)
{
    fesetround(mode);
    va = a; vb = b; vc = c;
    switch (op) {
    case 0: vr = va + vb; break;
    case 1: vr = va * vb; break;
    case 2: vr = fmaf(va, vb, vc); break;
    case 3: vr = va / vb; break;
    case 4: vr = sqrtf(va); break;
    }
    fesetround(FE_TONEAREST);
    return vr;
}
static unsigned fb(float f) { unsigned u; memcpy(&u, &f, 4); return isnan(f) ? 0x7fffffffu : u; }
static float bf(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
static unsigned f2i(double v, double lo, double hi, int is_signed)
{
    if (isnan(v)) return 0;
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return is_signed ? (unsigned)(int)v : (unsigned)v;
}

static void test_float(void **state)
{
    (void)state;
    struct ptx_module *m = load();
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "float_ops");
    float *A = h_dev(NT * 4), *B = h_dev(NT * 4), *C = h_dev(NT * 4);
    unsigned *out = h_dev(NT * 32 * 4);
    static const float sp[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1.5f, 2.5f, -2.5f, 3.0f, NAN, INFINITY, -INFINITY,
                               FLT_MIN, 1e-40f, -1e-40f, FLT_MAX, 1e30f, 123.456f, -3.7f, 2147483648.0f};
    for (int t = 0; t < NT; t++) {
        A[t] = t < 200 ? sp[t % 20] : bf(rnd32());
        B[t] = t < 200 ? sp[(t / 20 + t) % 20] : (float)(int)rnd32() / 1000.0f;
        C[t] = t % 3 ? bf(rnd32() & 0x8fffffff) : 1e-3f * (float)t;
    }
    struct h_params p;
    H_P(k, &p, 0, A);
    H_P(k, &p, 1, B);
    H_P(k, &p, 2, C);
    H_P(k, &p, 3, out);
    h_launch(m, "float_ops", NT / 64, 64, &p);
    /* the references below really run in the directed modes */
    assert_true(fop(0, FE_UPWARD, 1.0f, 1e-30f, 0) > 1.0f);
    assert_true(fop(0, FE_TOWARDZERO, 1.0f, 1e-30f, 0) == 1.0f);
    for (int t = 0; t < NT; t++) {
        float a = A[t], b = B[t], c = C[t];
        unsigned e[32];
        e[0] = fb(fop(0, FE_TONEAREST, a, b, 0));
        e[1] = fb(fop(1, FE_TONEAREST, a, b, 0));
        e[2] = fb(fop(2, FE_TONEAREST, a, b, c));
        e[3] = fb(fop(3, FE_TONEAREST, a, b, 0));
        e[4] = fb(fop(4, FE_TONEAREST, fabsf(a), 0, 0));
        e[5] = fb(fop(0, FE_TOWARDZERO, a, b, 0));
        e[6] = fb(fop(0, FE_DOWNWARD, a, b, 0));
        e[7] = fb(fop(0, FE_UPWARD, a, b, 0));
        e[8] = fb(fop(1, FE_TOWARDZERO, a, b, 0));
        e[9] = fb(fop(1, FE_DOWNWARD, a, b, 0));
        e[10] = fb(fop(1, FE_UPWARD, a, b, 0));
        e[11] = fb(fop(2, FE_TOWARDZERO, a, b, c));
        e[12] = fb(fop(3, FE_TOWARDZERO, a, b, 0));
        e[13] = fb(fop(3, FE_UPWARD, a, b, 0));
        e[14] = fb(fop(4, FE_DOWNWARD, fabsf(a), 0, 0));
        e[15] = fb(fop(3, FE_TONEAREST, 1.0f, a, 0));
        e[16] = fb(isnan(a) ? b : isnan(b) ? a : a < b ? a : b);
        e[17] = fb(isnan(a) ? b : isnan(b) ? a : a > b ? a : b);
        e[18] = fb(isnan(a) ? 0.0f : a < 0 ? 0.0f : a > 1 ? 1.0f : a);
        e[19] = (fb(b) & 0x80000000u) | (fb(a) & 0x7fffffffu);
        if (isnan(a)) e[19] = out[t * 32 + 19];
        e[20] = fb(truncf(a));
        e[21] = fb(floorf(a));
        e[22] = fb(ceilf(a));
        e[23] = fb(rintf(a));
        e[24] = f2i(rint(a), -2147483648.0, 2147483647.0, 1);
        e[25] = f2i(trunc(a), -2147483648.0, 2147483647.0, 1);
        e[26] = f2i(floor(a), -2147483648.0, 2147483647.0, 1);
        e[27] = f2i(ceil(a), 0, 4294967295.0, 0);
        {
            float s = a * 1e10f;
            double v = trunc((double)s);
            long long r = isnan(s) ? 0 : v >= 9223372036854775807.0 ? INT64_MAX : v <= -9223372036854775808.0 ? INT64_MIN : (long long)v;
            e[28] = (unsigned)r;
        }
        { double dv = (double)(int)fb(b); float f = (float)dv; if (fabs((double)f) > fabs(dv)) f = nextafterf(f, 0); e[29] = fb(f); }
        { double dv = (double)fb(c); float f = (float)dv; if ((double)f < dv) f = nextafterf(f, INFINITY); e[30] = fb(f); }
        fesetround(FE_TONEAREST);
        e[29] = fb(b) == 0x7fffffffu ? out[t * 32 + 29] : e[29];
        e[30] = fb(c) == 0x7fffffffu ? out[t * 32 + 30] : e[30];
        e[31] = (unsigned)((a < b) | (a <= b) << 1 | (a > b) << 2 | (a >= b) << 3 | (a == b) << 4 | (a != b) << 5 |
                           (!(a < b)) << 6 | (!(a >= b)) << 7 | (isnan(a) != 0) << 8 | (isinf(a) != 0) << 9);
        for (int j = 0; j < 32; j++) {
            unsigned g = out[t * 32 + j];
            if ((j == 16 || j == 17) && a == 0 && b == 0 && (g & 0x7fffffff) == 0) continue; /* min/max of +-0 */
            if (g != e[j]) fail_msg("float_ops t=%d a=%a b=%a c=%a op %d: got 0x%08x want 0x%08x", t, a, b, c, j, g, e[j]);
        }
    }
    ptx_module_free(m);
    h_dev_free_all();
}

/* ---------------- f64 ---------------- */
volatile double da, db, dr;
static uint64_t dbits(double d) { uint64_t u; memcpy(&u, &d, 8); return isnan(d) ? 0x7fffffffffffffffull : u; }
static double dfrom(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static void test_double(void **state)
{
    (void)state;
    struct ptx_module *m = load();
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "double_ops");
    double *A = h_dev(NT * 8), *B = h_dev(NT * 8);
    uint64_t *out = h_dev(NT * 16 * 8);
    static const double sp[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -2.5, 1e300, -1e-310, NAN, INFINITY, 3.4028235677973366e38,
                                1.00000005960464477539, 1e-45, 123456789.123, -9.3e18};
    for (int t = 0; t < NT; t++) {
        A[t] = t < 160 ? sp[t % 16] : dfrom((uint64_t)rnd32() << 32 | rnd32()) ;
        if (t >= 160 && t % 2) A[t] = (double)(int)rnd32() * 1.1e-3;
        B[t] = t < 160 ? sp[(t / 16 + 3 * t) % 16] : (double)(int)rnd32() / 7.0;
    }
    struct h_params p;
    H_P(k, &p, 0, A);
    H_P(k, &p, 1, B);
    H_P(k, &p, 2, out);
    h_launch(m, "double_ops", NT / 64, 64, &p);
    for (int t = 0; t < NT; t++) {
        double a = A[t], b = B[t];
        uint64_t e[16];
        da = a; db = b;
        e[0] = dbits(da + db);
        e[1] = dbits(da * db);
        e[2] = dbits(fma(da, db, da));
        e[3] = dbits(da / db);
        e[4] = dbits(sqrt(fabs(da)));
        fesetround(FE_TOWARDZERO); dr = da + db; e[5] = dbits(dr);
        fesetround(FE_UPWARD); dr = da * db; e[6] = dbits(dr);
        fesetround(FE_DOWNWARD); dr = da / db; e[7] = dbits(dr);
        fesetround(FE_TONEAREST); vr = (float)da; e[8] = fb(vr);
        fesetround(FE_TOWARDZERO); vr = (float)da; e[9] = fb(vr);
        fesetround(FE_DOWNWARD); vr = (float)da; e[10] = fb(vr);
        fesetround(FE_UPWARD); vr = (float)da; e[11] = fb(vr);
        fesetround(FE_TONEAREST);
        double r = rint(a);
        e[12] = isnan(a) ? 0 : r >= 9223372036854775807.0 ? (uint64_t)INT64_MAX : r <= -9223372036854775808.0 ? (uint64_t)INT64_MIN : (uint64_t)(long long)r;
        double z = trunc(a);
        e[13] = isnan(a) || z <= 0 ? 0 : z >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)z;
        e[14] = dbits((double)(long long)dbits(b));
        if (isnan(b)) e[14] = out[t * 16 + 14];
        e[15] = dbits(isnan(a) ? b : isnan(b) ? a : a < b ? a : b);
        for (int j = 0; j < 16; j++) {
            uint64_t g = out[t * 16 + j];
            if (j == 15 && a == 0 && b == 0) continue;
            if (g != e[j]) fail_msg("double_ops t=%d a=%a b=%a op %d: got 0x%016llx want 0x%016llx", t, a, b, j,
                                   (unsigned long long)g, (unsigned long long)e[j]);
        }
    }
    ptx_module_free(m);
    h_dev_free_all();
}

/* ---------------- f16 / bf16 ---------------- */
static unsigned short h16(_Float16 h) { unsigned short u; memcpy(&u, &h, 2); return u; }
static _Float16 fromh(unsigned short u) { _Float16 h; memcpy(&h, &u, 2); return h; }
static unsigned short hq(_Float16 h) { unsigned short u = h16(h); return ((u & 0x7c00) == 0x7c00 && (u & 0x3ff)) ? 0x7fff : u; }
static unsigned short bf16_rn(float f)
{
    unsigned u = fb(f);
    if (isnan(f)) return 0x7fff;
    return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}
static void test_half(void **state)
{
    (void)state;
    struct ptx_module *m = load();
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "half_ops");
    float *A = h_dev(NT * 4), *B = h_dev(NT * 4);
    unsigned *out = h_dev(NT * 12 * 4);
    static const float sp[] = {0.0f, -0.0f, 1.0f, 65504.0f, 65520.0f, 1e-7f, 6e-8f, 2.98e-8f, 0.33333f, NAN, -INFINITY,
                               1.0009765625f, 1.00048828125f, 1.000732421875f, -2049.0f, 3.0e5f};
    for (int t = 0; t < NT; t++) {
        A[t] = t < 160 ? sp[t % 16] : (float)(int)(rnd32() % 200000) / 37.0f - 1000.0f;
        B[t] = t < 160 ? sp[(t / 16 + 5 * t) % 16] : (float)(int)(rnd32() % 2000) / 3.0f - 300.0f;
    }
    struct h_params p;
    H_P(k, &p, 0, A);
    H_P(k, &p, 1, B);
    H_P(k, &p, 2, out);
    h_launch(m, "half_ops", NT / 64, 64, &p);
    for (int t = 0; t < NT; t++) {
        float a = A[t], b = B[t];
        _Float16 ha = (_Float16)a, hb = (_Float16)b;
        unsigned e[12];
        e[0] = hq(ha);
        e[1] = fb((float)ha);
        e[2] = hq((_Float16)((double)ha + (double)hb));
        e[3] = hq((_Float16)((double)ha * (double)hb));
        e[4] = hq((_Float16)fma((double)ha, (double)hb, (double)ha));
        e[5] = hq((_Float16)((double)ha - (double)hb));
        e[6] = (unsigned)hq((_Float16)b) << 16 | hq((_Float16)a);
        e[7] = bf16_rn(a);
        e[8] = (unsigned)bf16_rn(a) << 16; /* a bit shift: NaN stays 0x7fff0000 */
        e[9] = (unsigned)bf16_rn(b) << 16 | bf16_rn(a);
        e[10] = hq((_Float16)(fb(a) == 0x7fffffffu ? 0x7fffffff >> 16 : (int)fb(a) >> 16));
        { int iv = (int)fb(a) >> 16; if (isnan(a)) iv = (int)(0x7fc00000 >> 16); e[10] = hq((_Float16)iv); }
        e[11] = (unsigned)((ha < hb) | (ha >= hb) << 1);
        for (int j = 0; j < 12; j++) {
            unsigned g = out[t * 12 + j];
            if (j == 10 && isnan(a)) continue;
            if ((j == 1 || j == 8) && isnan(a)) { if (!isnan(bf(g))) fail_msg("f16->f32 NaN"); continue; }
            if (g != e[j]) fail_msg("half_ops t=%d a=%a b=%a op %d: got 0x%x want 0x%x", t, a, b, j, g, e[j]);
        }
    }
    (void)fromh;
    ptx_module_free(m);
    h_dev_free_all();
}

/* every family again from another PTX target */
static void run_all(const char *a, void **state)
{
    arch = a;
    test_int(state);
    test_bits(state);
    test_float(state);
    test_double(state);
    test_half(state);
    arch = "75";
}

static void test_arch90(void **state) { run_all("90", state); }
/* compute_120 PTX, what NVIDIA's current libraries ship */
static void test_arch120(void **state) { run_all("120", state); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int),   cmocka_unit_test(test_bits), cmocka_unit_test(test_float),
        cmocka_unit_test(test_double), cmocka_unit_test(test_half), cmocka_unit_test(test_arch90),
        cmocka_unit_test(test_arch120),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
