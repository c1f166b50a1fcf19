/*
 * cvt.c — cvt between every pair of integer and floating types, with the
 * PTX rounding modifiers (.rn .rz .rm .rp .rna for float results, .rni .rzi
 * .rmi .rpi for integer-valued results), .sat, .satfinite, .relu and .ftz;
 * the packing forms cvt.rn.{f16x2,bf16x2}.f32,
 * cvt.rn.satfinite.{e4m3x2,e5m2x2,e2m1x2}.f32 (first source in the upper half),
 * the unpacking forms cvt.rn.f16x2.{e4m3x2,e5m2x2,e2m1x2} and
 * cvt.rn.bf16x2.ue8m0x2 (MX block scales), and cvt.{rn,rna,rz}.tf32.f32.
 *
 * Float to integer always saturates to the destination range, NaN gives 0
 * (PTX semantics). Integer to integer truncates (or clamps with .sat).
 * Narrow floats go through fp.c's exact rounding; f32/f64 results from wider
 * values use the host rounding mode (compiled with -frounding-math).
 */
#include "internal.h"

#include <fenv.h>
#include <math.h>

static int set_mode(int rnd)
{
    switch (rnd) {
    case RND_RZ: return fesetround(FE_TOWARDZERO), 1;
    case RND_RM: return fesetround(FE_DOWNWARD), 1;
    case RND_RP: return fesetround(FE_UPWARD), 1;
    }
    return 0;
}

static inline bool is_int(int t) { return (t >= T_B8 && t <= T_S64); }
static inline float ftz32(float v) { return fpclassify(v) == FP_SUBNORMAL ? copysignf(0.0f, v) : v; }

/* a source value of float type t as a double (exact) */
static inline double fsrc(int t, uint64_t b, bool ftz)
{
    switch (t) {
    case T_F16: return (double)f16_to_f32((uint16_t)b);
    case T_BF16: return (double)bf16_to_f32((uint16_t)b);
    case T_F32: { float f = bits_f32(b); return (double)(ftz ? ftz32(f) : f); }
    default: return bits_f64(b);
    }
}

static inline uint64_t int_of(int t, uint64_t v, bool *neg)
{
    int bits = t_bits(t);
    if (t_signed(t)) {
        int64_t s = bits == 64 ? (int64_t)v : (int64_t)(v << (64 - bits)) >> (64 - bits);
        *neg = s < 0;
        return (uint64_t)s;
    }
    *neg = false;
    return bits == 64 ? v : v & ((1ull << bits) - 1);
}

/* clamp an integer value (as int128) into type t */
static inline uint64_t int_store(int t, __int128 v, bool sat)
{
    int bits = t_bits(t);
    if (sat) {
        __int128 lo, hi;
        if (t_signed(t)) { hi = ((__int128)1 << (bits - 1)) - 1; lo = -hi - 1; }
        else { lo = 0; hi = bits == 64 ? (__int128)UINT64_MAX : ((__int128)1 << bits) - 1; }
        if (v < lo) v = lo;
        if (v > hi) v = hi;
    }
    uint64_t u = (uint64_t)v;
    if (bits < 64) {
        u &= (1ull << bits) - 1;
        if (t_signed(t)) u = (uint64_t)((int64_t)(u << (64 - bits)) >> (64 - bits));
    }
    return u;
}

static inline double round_int(double v, int rnd)
{
    switch (rnd) {
    case RND_RZI: return trunc(v);
    case RND_RMI: return floor(v);
    case RND_RPI: return ceil(v);
    default: return nearbyint(v); /* ties to even in the default mode */
    }
}

/* float value (double) to integer type t: round, saturate, NaN -> 0 */
static inline uint64_t f2i(int t, double v, int rnd)
{
    if (isnan(v)) return 0;
    v = round_int(v, rnd);
    int bits = t_bits(t);
    if (t_signed(t)) {
        double hi = ldexp(1.0, bits - 1);
        if (v >= hi) return int_store(t, ((__int128)1 << (bits - 1)) - 1, false);
        if (v < -hi) return int_store(t, -((__int128)1 << (bits - 1)), false);
        return int_store(t, (__int128)(int64_t)v, false);
    }
    if (v <= 0) return 0;
    if (v >= ldexp(1.0, bits)) return bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
    return (uint64_t)v;
}

/* double to float type t with rounding rnd (float results) */
static inline uint64_t f2f(int t, double v, int rnd, uint16_t fl)
{
    if (fl & F_RELU) { if (isnan(v)) return t == T_F16 || t == T_BF16 ? 0x7fff : 0x7fffffff; if (v < 0) v = 0; }
    if (fl & F_SAT && t != T_E4M3X2 && t != T_E5M2X2) v = isnan(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
    int r = rnd ? rnd : RND_RN;
    if (r >= RND_RNI && r <= RND_RPI) { v = round_int(v, r); r = RND_RN; }
    switch (t) {
    case T_F16: return f64_to_f16(v, r, (fl & F_SAT) != 0);
    case T_BF16: return f64_to_bf16(v, r);
    case T_F32: {
        /* C's conversion rounds to nearest even (the mode is only changed
         * around integer conversions): exact and fast */
        uint32_t b = r == RND_RN ? (uint32_t)f32_bits((float)v) : fp_round_fmt(v, 8, 23, r);
        float f = bits_f32(b);
        if (fl & F_FTZ) f = ftz32(f);
        if (isnan(f)) return 0x7fffffffu;
        return f32_bits(f);
    }
    case T_TF32: {
        if (isnan(v)) return 0x7fffffffu;
        uint32_t b = fp_round_fmt(v, 8, 10, r);
        return (uint64_t)b << 13;
    }
    default:
        if (isnan(v)) return 0x7fffffffffffffffull;
        return f64_bits(v);
    }
}

int x_cvt(struct xctx *x, const struct ins *i, uint32_t m)
{
    uint64_t *d = DST(x, i->o[0]);
    const uint64_t *a = SRC(x, i->o[1]);
    int dt = i->t, st = i->t2;
    bool ftz = (i->fl & F_FTZ) != 0, sat = (i->fl & F_SAT) != 0;
    if (dt == T_F16X2 && (st == T_E4M3X2 || st == T_E5M2X2 || st == T_E2M1X2)) {
        /* fp8 / fp4 pair -> f16 pair: exact; element k from bits [w*k, w*k + w) */
        bool relu = (i->fl & F_RELU) != 0;
        int w = st == T_E2M1X2 ? 4 : 8;
        FOR_LANES(m, {
            uint64_t r = 0;
            for (int k = 0; k < 2; k++) {
                uint8_t v = (uint8_t)(a[l] >> (w * k));
                float f = st == T_E4M3X2 ? e4m3_to_f32(v) : st == T_E5M2X2 ? e5m2_to_f32(v) : e2m1_to_f32(v);
                if (relu && f < 0) f = 0;
                r |= (uint64_t)f32_to_f16(f, RND_RN) << (16 * k);
            }
            d[l] = r;
        });
        return 0;
    }
    if (dt == T_BF16X2 && st == T_UE8M0X2) {
        /* an MX scale 2^(e-127) is a bf16 with exponent field e, except
         * e = 0 (2^-127: the bf16 subnormal 0x0040) and e = 0xff (NaN) */
        FOR_LANES(m, {
            uint64_t r = 0;
            for (int k = 0; k < 2; k++) {
                uint32_t e = (uint32_t)(a[l] >> (8 * k)) & 0xff;
                uint32_t h = e == 0xff ? 0x7fff : e == 0 ? 0x0040 : e << 7;
                r |= (uint64_t)h << (16 * k);
            }
            d[l] = r;
        });
        return 0;
    }
    if (dt == T_E2M1X2) {
        if (st != T_F32 || (i->fl & F_RELU)) goto unsupported;
        const uint64_t *b = SRC(x, i->o[2]);
        FOR_LANES(m, d[l] = (uint64_t)f32_to_e2m1(bits_f32(a[l])) << 4 | f32_to_e2m1(bits_f32(b[l])));
        return 0;
    }
    if (dt == T_UE8M0X2 || st == T_E2M1X2 || st == T_UE8M0X2) goto unsupported;
    if (dt == T_F16X2 || dt == T_BF16X2 || dt == T_E4M3X2 || dt == T_E5M2X2) {
        if (st != T_F32) goto unsupported;
        const uint64_t *b = SRC(x, i->o[2]);
        FOR_LANES(m, {
            float fa = bits_f32(a[l]), fb = bits_f32(b[l]);
            if (i->fl & F_RELU) { if (!isnan(fa) && fa < 0) fa = 0; if (!isnan(fb) && fb < 0) fb = 0; }
            uint64_t r;
            switch (dt) {
            case T_F16X2: r = (uint64_t)f64_to_f16(fa, i->rnd ? i->rnd : RND_RN, sat) << 16 | f64_to_f16(fb, i->rnd ? i->rnd : RND_RN, sat); break;
            case T_BF16X2: r = (uint64_t)f64_to_bf16(fa, i->rnd ? i->rnd : RND_RN) << 16 | f64_to_bf16(fb, i->rnd ? i->rnd : RND_RN); break;
            case T_E4M3X2: r = (uint64_t)f32_to_e4m3(fa, sat) << 8 | f32_to_e4m3(fb, sat); break;
            default: r = (uint64_t)f32_to_e5m2(fa, sat) << 8 | f32_to_e5m2(fb, sat); break;
            }
            d[l] = r;
        });
        return 0;
    }
    if (st == T_F16X2 || st == T_BF16X2 || st == T_E4M3X2 || st == T_E5M2X2 || st == T_TF32) goto unsupported;
    if (is_int(dt) && is_int(st)) {
        FOR_LANES(m, {
            bool neg;
            uint64_t v = int_of(st, a[l], &neg);
            __int128 w = t_signed(st) ? (__int128)(int64_t)v : (__int128)v;
            d[l] = int_store(dt, w, sat);
        });
        return 0;
    }
    if (is_int(dt)) { /* float -> int */
        int r = i->rnd ? i->rnd : RND_RZI;
        if (r == RND_RN) r = RND_RNI;
        if (r == RND_RZ) r = RND_RZI;
        if (r == RND_RM) r = RND_RMI;
        if (r == RND_RP) r = RND_RPI;
        FOR_LANES(m, d[l] = f2i(dt, fsrc(st, a[l], ftz), r));
        return 0;
    }
    if (is_int(st)) { /* int -> float */
        int r = i->rnd ? i->rnd : RND_RN;
        bool s = t_signed(st);
        if (dt == T_F32 || dt == T_F64) {
            int ch = set_mode(r);
            if (dt == T_F32) {
                FOR_LANES(m, {
                    bool neg;
                    uint64_t v = int_of(st, a[l], &neg);
                    float f = s ? (float)(int64_t)v : (float)v;
                    if (sat) f = f < 0 ? 0 : f > 1 ? 1 : f;
                    d[l] = f32_bits(f);
                });
            } else {
                FOR_LANES(m, {
                    bool neg;
                    uint64_t v = int_of(st, a[l], &neg);
                    double f = s ? (double)(int64_t)v : (double)v;
                    if (sat) f = f < 0 ? 0 : f > 1 ? 1 : f;
                    d[l] = f64_bits(f);
                });
            }
            if (ch) fesetround(FE_TONEAREST);
            return 0;
        }
        FOR_LANES(m, {
            bool neg;
            uint64_t v = int_of(st, a[l], &neg);
            double f = s ? (double)(int64_t)v : (double)v; /* exact below 2^53; larger overflows f16/bf16 anyway */
            d[l] = f2f(dt, f, r, i->fl);
        });
        return 0;
    }
    /* float -> float */
    if (dt == T_F64 && !(i->rnd >= RND_RNI && i->rnd <= RND_RPI)) {
        FOR_LANES(m, {
            double v = fsrc(st, a[l], ftz);
            if (sat) v = isnan(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
            d[l] = isnan(v) ? 0x7fffffffffffffffull : f64_bits(v);
        });
        return 0;
    }
    FOR_LANES(m, d[l] = f2f(dt, fsrc(st, a[l], ftz), i->rnd, i->fl));
    return 0;
unsupported:
    xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "this cvt form is not supported");
    return -1;
}
