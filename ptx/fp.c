/*
 * fp.c — conversions between double/float and the narrow floating formats
 * (f16, bf16, fp8 e4m3/e5m2, fp4 e2m1) with every PTX rounding mode, bit-exact.
 *
 * One routine, round_small(), rounds a double to a format with E exponent
 * and M mantissa bits: scale by a power of two so the kept bits are the
 * integer part (exact in double for every format here, M <= 23), round that
 * integer by the mode, and let a carry ripple into the exponent field. A
 * double holds every f32, so f32 sources convert without double rounding.
 * NaN becomes the canonical NaN of the format (0x7fff for f16/bf16, as the
 * GPU produces); overflow follows IEEE (rn -> inf, rz -> max finite, rm/rp by
 * sign), or saturates to the largest finite value with .satfinite.
 */
#include "internal.h"

#include <math.h>

/* returns the unsigned encoding (without sign), sign separately */
static uint32_t round_small(double v, int ebits, int mbits, int rnd, bool satfinite, bool has_inf,
                            uint32_t maxfin, uint32_t nanbits, uint32_t *sign_out)
{
    uint32_t sign = signbit(v) ? 1u : 0u;
    *sign_out = sign;
    if (isnan(v)) { *sign_out = 0; return nanbits; }
    double a = fabs(v);
    uint32_t inf = ((1u << ebits) - 1) << mbits;
    if (isinf(a)) return (satfinite || !has_inf) ? maxfin : inf;
    if (a == 0) return 0;
    int bias = (1 << (ebits - 1)) - 1;
    int e;
    frexp(a, &e);
    e -= 1; /* a in [2^e, 2^(e+1)) */
    if (e < 1 - bias) e = 1 - bias;
    double q = ldexp(a, mbits - e);
    double ip = floor(q), frac = q - ip;
    bool up = false;
    switch (rnd) {
    case RND_RZ: case RND_RZI: break;
    case RND_RM: case RND_RMI: up = sign && frac > 0; break;
    case RND_RP: case RND_RPI: up = !sign && frac > 0; break;
    case RND_RNA: up = frac >= 0.5; break;
    default: up = frac > 0.5 || (frac == 0.5 && fmod(ip, 2.0) != 0); break;
    }
    if (up) ip += 1;
    if (e + bias > (1 << ebits) + 2) goto overflow; /* far beyond range */
    {
        uint64_t enc = ((uint64_t)(e + bias) << mbits) + (uint64_t)ip - (1ull << mbits);
        if (enc > maxfin) goto overflow;
        return (uint32_t)enc;
    }
overflow:
    if (satfinite || !has_inf) return maxfin;
    switch (rnd) {
    case RND_RZ: case RND_RZI: return maxfin;
    case RND_RM: case RND_RMI: return sign ? inf : maxfin;
    case RND_RP: case RND_RPI: return sign ? maxfin : inf;
    default: return inf;
    }
}

/* Round to nearest even straight from the double's bits, for a format with
 * infinities (f16: 5/10, bf16: 8/7): half arithmetic, mma with f16 results,
 * cvt.rn to f16/bf16 all land here, and the general path (frexp/ldexp)
 * dominated flash-attention kernels. */
static uint16_t f64_to_small_rn(double v, int ebits, int mbits)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    uint16_t sign = (uint16_t)(u >> 63 << (ebits + mbits));
    int exp = (int)(u >> 52 & 0x7ff);
    uint64_t mant = u & ((1ull << 52) - 1);
    uint16_t inf = (uint16_t)(((1u << ebits) - 1) << mbits);
    if (exp == 0x7ff) return mant ? (uint16_t)((1u << (ebits + mbits)) - 1) : (uint16_t)(sign | inf);
    int bias = (1 << (ebits - 1)) - 1, emin = 1 - bias, e = exp - 1023;
    if (e > bias) return (uint16_t)(sign | inf);
    if (e < emin - mbits - 1) return sign; /* below half the smallest subnormal (and double subnormals) */
    uint64_t fm = mant | 1ull << 52;
    /* kept bits: mbits fraction bits of a normal, or units of the smallest subnormal */
    int shift = e >= emin ? 52 - mbits : 52 + emin - mbits - e;
    uint64_t q = fm >> shift, rem = fm & ((1ull << shift) - 1), half = 1ull << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    /* a normal's implicit bit is part of q: adding (e + bias - 1) << mbits
     * puts the exponent field at e + bias; a carry out of the fraction
     * ripples into it (up to infinity, which is round-to-nearest's overflow) */
    uint64_t enc = e >= emin ? ((uint64_t)(e + bias - 1) << mbits) + q : q;
    return (uint16_t)(sign | enc);
}

uint16_t f64_to_f16(double v, int rnd, bool satfinite)
{
    if (rnd == RND_RN && !satfinite) return f64_to_small_rn(v, 5, 10);
    uint32_t s, e = round_small(v, 5, 10, rnd, satfinite, true, 0x7bff, 0x7fff, &s);
    return (uint16_t)(s << 15 | e);
}
uint16_t f32_to_f16(float v, int rnd) { return f64_to_f16((double)v, rnd, false); }

uint16_t f64_to_bf16(double v, int rnd)
{
    if (rnd == RND_RN) return f64_to_small_rn(v, 8, 7);
    uint32_t s, e = round_small(v, 8, 7, rnd, false, true, 0x7f7f, 0x7fff, &s);
    return (uint16_t)(s << 15 | e);
}
uint16_t f32_to_bf16(float v, int rnd) { return f64_to_bf16((double)v, rnd); }

uint8_t f32_to_e4m3(float v, bool satfinite)
{
    /* e4m3 ("fn"): no infinities; 0x7f is NaN, 448 (0x7e) the largest value */
    uint32_t s, e = round_small((double)v, 4, 3, RND_RN, satfinite, false, 0x7e, 0x7f, &s);
    if (isinf(v) && !satfinite) e = 0x7f;
    return (uint8_t)(s << 7 | e);
}
uint8_t f32_to_e5m2(float v, bool satfinite)
{
    uint32_t s, e = round_small((double)v, 5, 2, RND_RN, satfinite, true, 0x7b, 0x7f, &s);
    return (uint8_t)(s << 7 | e);
}

uint8_t f32_to_e2m1(float v)
{
    /* e2m1: no infinities nor NaN, 6.0 (0x7) the largest value; the only
     * PTX form is .satfinite, where NaN gives +6.0 (as cuda_fp4.hpp's
     * emulation of the instruction does) */
    uint32_t s, e = round_small((double)v, 2, 1, RND_RN, true, false, 0x7, 0x7, &s);
    return (uint8_t)(s << 3 | e);
}

static double small_to_double(uint32_t bits, int ebits, int mbits, bool has_inf)
{
    uint32_t sign = bits >> (ebits + mbits) & 1;
    uint32_t e = bits >> mbits & ((1u << ebits) - 1);
    uint32_t m = bits & ((1u << mbits) - 1);
    int bias = (1 << (ebits - 1)) - 1;
    double r;
    if (e == (1u << ebits) - 1 && has_inf) r = m ? NAN : INFINITY;
    else if (e == 0) r = ldexp((double)m, 1 - bias - mbits);
    else r = ldexp((double)(m | 1u << mbits), (int)e - bias - mbits);
    return sign ? -r : r;
}

float f16_to_f32(uint16_t h)
{
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) { /* NaN: keep payload like the GPU (quiet) */
        uint32_t u = (uint32_t)(h & 0x8000) << 16 | 0x7f800000u | (uint32_t)(h & 0x3ff) << 13 | 0x400000u;
        return bits_f32(u);
    }
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = h >> 10 & 0x1f, m = h & 0x3ff;
    if (e == 0x1f) return bits_f32(sign | 0x7f800000u);
    if (e == 0) { /* zero or subnormal: m * 2^-24, exact in float */
        float f = (float)m * 0x1p-24f;
        return sign ? -f : f;
    }
    return bits_f32(sign | (e + 112) << 23 | m << 13);
}
float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }
float e4m3_to_f32(uint8_t v)
{
    if ((v & 0x7f) == 0x7f) return NAN;
    return (float)small_to_double(v, 4, 3, false);
}
float e5m2_to_f32(uint8_t v) { return (float)small_to_double(v, 5, 2, true); }
float e2m1_to_f32(uint8_t v) { return (float)small_to_double(v & 0xf, 2, 1, false); }

uint32_t fp_round_fmt(double v, int ebits, int mbits, int rnd)
{
    uint32_t s, e = round_small(v, ebits, mbits, rnd, false, true, (((1u << ebits) - 1) << mbits) - 1,
                                (1u << (ebits + mbits)) - 1, &s);
    return s << (ebits + mbits) | e;
}
