/*
 * exec_float.c — f32 and f64 arithmetic: add sub mul fma/mad div rcp sqrt
 * rsqrt sin cos lg2 ex2 tanh abs neg min max copysign testp, setp/set on
 * floats and selp.f32/f64.
 *
 * Rounding. .rn (and no modifier) is the host default; .rz/.rm/.rp switch
 * the host rounding mode around the lane loop (this file is compiled with
 * -frounding-math so the compiler keeps the mode-dependent operations in
 * place). f32 results are computed in f32, so they are correctly rounded in
 * the chosen mode, bit-exact with the GPU's IEEE operations.
 * .ftz flushes f32 subnormal inputs and results to sign-preserving zero;
 * .sat clamps to [0, 1] (NaN -> +0). NaN results are the canonical NaN
 * (0x7fffffff / 0x7fffffffffffffff), as the GPU produces them.
 * Approximations (.approx: div, rcp, sqrt, rsqrt, sin, cos, lg2, ex2, tanh)
 * use the host's libm, which is at least as accurate as PTX documents
 * (div.approx is a * (1/b), the GPU's definition, so it flushes for huge b).
 * min/max: NaN operands are ignored unless both are NaN (or .NaN is given),
 * and -0 < +0.
 */
#include "internal.h"

#include <fenv.h>
#include <math.h>

#define CNAN32 0x7fffffffu
#define CNAN64 0x7fffffffffffffffull

static inline float ftz32(float v) { return fpclassify(v) == FP_SUBNORMAL ? copysignf(0.0f, v) : v; }
static inline float fin32(uint64_t b, bool ftz) { float v = bits_f32(b); return ftz ? ftz32(v) : v; }
static inline uint64_t fout32(float v, uint16_t fl)
{
    if (fl & F_SAT) v = isnan(v) ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    if (fl & F_FTZ) v = ftz32(v);
    if (isnan(v)) return CNAN32;
    return f32_bits(v);
}
static inline uint64_t fout64(double v, uint16_t fl)
{
    if (fl & F_SAT) v = isnan(v) ? 0.0 : v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
    if (isnan(v)) return CNAN64;
    return f64_bits(v);
}

static int set_mode(int rnd)
{
    switch (rnd) {
    case RND_RZ: return fesetround(FE_TOWARDZERO), 1;
    case RND_RM: return fesetround(FE_DOWNWARD), 1;
    case RND_RP: return fesetround(FE_UPWARD), 1;
    }
    return 0;
}
static void restore_mode(int changed) { if (changed) fesetround(FE_TONEAREST); }

static inline float fmin_ptx(float a, float b)
{
    if (isnan(a)) return b;
    if (isnan(b)) return a;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline float fmax_ptx(float a, float b)
{
    if (isnan(a)) return b;
    if (isnan(b)) return a;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline double dmin_ptx(double a, double b)
{
    if (isnan(a)) return b;
    if (isnan(b)) return a;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline double dmax_ptx(double a, double b)
{
    if (isnan(a)) return b;
    if (isnan(b)) return a;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}

bool fcmp_ptx(int cmp, double a, double b);
bool fcmp_ptx(int cmp, double a, double b)
{
    bool un = isnan(a) || isnan(b);
    switch (cmp) {
    case CMP_EQ: return !un && a == b;
    case CMP_NE: return !un && a != b;
    case CMP_LT: return !un && a < b;
    case CMP_LE: return !un && a <= b;
    case CMP_GT: return !un && a > b;
    case CMP_GE: return !un && a >= b;
    case CMP_EQU: return un || a == b;
    case CMP_NEU: return un || a != b;
    case CMP_LTU: return un || a < b;
    case CMP_LEU: return un || a <= b;
    case CMP_GTU: return un || a > b;
    case CMP_GEU: return un || a >= b;
    case CMP_NUM: return !un;
    case CMP_NAN: return un;
    }
    return false;
}

static inline bool combine(int bop, bool r, bool c)
{
    switch (bop) {
    case BOP_AND: return r && c;
    case BOP_OR: return r || c;
    case BOP_XOR: return r != c;
    }
    return r;
}

static int setp_float(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint64_t *a = SRC(x, i->o[2]), *b = SRC(x, i->o[3]);
    const uint64_t *c = i->bop ? xsrc(x->w, x->pool, i->o[4] & ~REF_NEGBIT) : NULL;
    bool cneg = (i->o[4] & REF_NEGBIT) != 0 && i->bop;
    bool ftz = (i->fl & F_FTZ) != 0, f64 = i->t == T_F64;
    uint64_t *p = DST(x, i->o[0]);
    uint64_t *q = i->o[1] != REF_NONE && i->op == OP_SETP ? DST(x, i->o[1]) : NULL;
    uint64_t one = i->t2 == T_F32 ? 0x3f800000u : 0xffffffffu;
    FOR_LANES(m, {
        double av = f64 ? bits_f64(a[l]) : (double)fin32(a[l], ftz);
        double bv = f64 ? bits_f64(b[l]) : (double)fin32(b[l], ftz);
        bool r = fcmp_ptx(i->sub, av, bv);
        bool cv = c ? ((c[l] & 1) ^ cneg) : false;
        if (i->op == OP_SET) {
            p[l] = combine(i->bop, r, cv) ? one : 0;
        } else {
            p[l] = combine(i->bop, r, cv);
            if (q) q[l] = combine(i->bop, !r, cv);
        }
    });
    return 0;
}

static int testp(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint64_t *a = SRC(x, i->o[1]);
    uint64_t *d = DST(x, i->o[0]);
    bool f64 = i->t == T_F64;
    FOR_LANES(m, {
        int c = f64 ? fpclassify(bits_f64(a[l])) : fpclassify(bits_f32(a[l]));
        bool r = false;
        switch (i->sub) {
        case TP_FINITE: r = c != FP_INFINITE && c != FP_NAN; break;
        case TP_INFINITE: r = c == FP_INFINITE; break;
        case TP_NUMBER: r = c != FP_NAN; break;
        case TP_NOTANUMBER: r = c == FP_NAN; break;
        case TP_NORMAL: r = c == FP_NORMAL; break;
        case TP_SUBNORMAL: r = c == FP_SUBNORMAL; break;
        }
        d[l] = r;
    });
    return 0;
}

static int f32_ops(struct xctx *x, const struct ins *i, uint32_t m)
{
    uint64_t *d = DST(x, i->o[0]);
    const uint64_t *A = SRC(x, i->o[1]);
    const uint64_t *B = i->o[2] != REF_NONE ? SRC(x, i->o[2]) : A;
    const uint64_t *C = i->o[3] != REF_NONE ? SRC(x, i->o[3]) : A;
    bool ftz = (i->fl & F_FTZ) != 0;
    uint16_t fl = i->fl;
    int ch = set_mode(i->rnd);
#define L1(expr) FOR_LANES(m, { float a = fin32(A[l], ftz); (void)a; d[l] = fout32((expr), fl); })
#define L2(expr) FOR_LANES(m, { float a = fin32(A[l], ftz), b = fin32(B[l], ftz); d[l] = fout32((expr), fl); })
#define L3(expr) FOR_LANES(m, { float a = fin32(A[l], ftz), b = fin32(B[l], ftz), c = fin32(C[l], ftz); d[l] = fout32((expr), fl); })
    switch (i->op) {
    case OP_ADD: L2(a + b); break;
    case OP_SUB: L2(a - b); break;
    case OP_MUL: L2(a * b); break;
    case OP_FMA: case OP_MAD: L3(fmaf(a, b, c)); break;
    case OP_DIV:
        if (fl & F_APPROX) L2(ftz ? a * ftz32(1.0f / b) : a * (1.0f / b));
        else L2(a / b);
        break;
    case OP_RCP: L1(1.0f / a); break;
    case OP_SQRT: L1(sqrtf(a)); break;
    case OP_RSQRT: L1((float)(1.0 / sqrt((double)a))); break;
    case OP_SIN: L1(sinf(a)); break;
    case OP_COS: L1(cosf(a)); break;
    case OP_LG2: L1(log2f(a)); break;
    case OP_EX2: L1(exp2f(a)); break;
    case OP_TANH: L1(tanhf(a)); break;
    case OP_ABS: FOR_LANES(m, { float a = fin32(A[l], ftz); d[l] = f32_bits(fabsf(a)); }); break;
    case OP_NEG: FOR_LANES(m, { float a = fin32(A[l], ftz); d[l] = f32_bits(-a); }); break;
    case OP_MIN: case OP_MAX: {
        bool mx = i->op == OP_MAX, nanp = (fl & F_NAN) != 0, three = i->o[3] != REF_NONE;
        FOR_LANES(m, {
            float a = fin32(A[l], ftz), b = fin32(B[l], ftz);
            float r = mx ? fmax_ptx(a, b) : fmin_ptx(a, b);
            if (three) { float c = fin32(C[l], ftz); r = mx ? fmax_ptx(r, c) : fmin_ptx(r, c); if (isnan(c) && nanp) r = NAN; }
            if (nanp && (isnan(a) || isnan(b))) r = NAN;
            if ((fl & F_RELU) && !isnan(r) && r < 0) r = 0.0f;
            d[l] = isnan(r) ? CNAN32 : f32_bits(r);
        });
        break;
    }
    case OP_COPYSIGN: FOR_LANES(m, d[l] = (B[l] & 0x7fffffffu) | (A[l] & 0x80000000u)); break;
    case OP_SELP: {
        const uint64_t *p = xsrc(x->w, x->pool, i->o[3] & ~REF_NEGBIT);
        bool neg = (i->o[3] & REF_NEGBIT) != 0;
        FOR_LANES(m, d[l] = ((p[l] & 1) ^ neg) ? (uint32_t)A[l] : (uint32_t)B[l]);
        break;
    }
    default:
        restore_mode(ch);
        xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "not supported for .f32");
        return -1;
    }
#undef L1
#undef L2
#undef L3
    restore_mode(ch);
    return 0;
}

static int f64_ops(struct xctx *x, const struct ins *i, uint32_t m)
{
    uint64_t *d = DST(x, i->o[0]);
    const uint64_t *A = SRC(x, i->o[1]);
    const uint64_t *B = i->o[2] != REF_NONE ? SRC(x, i->o[2]) : A;
    const uint64_t *C = i->o[3] != REF_NONE ? SRC(x, i->o[3]) : A;
    uint16_t fl = i->fl & (uint16_t)~F_FTZ;
    int ch = set_mode(i->rnd);
#define L1(expr) FOR_LANES(m, { double a = bits_f64(A[l]); d[l] = fout64((expr), fl); })
#define L2(expr) FOR_LANES(m, { double a = bits_f64(A[l]), b = bits_f64(B[l]); d[l] = fout64((expr), fl); })
#define L3(expr) FOR_LANES(m, { double a = bits_f64(A[l]), b = bits_f64(B[l]), c = bits_f64(C[l]); d[l] = fout64((expr), fl); })
    switch (i->op) {
    case OP_ADD: L2(a + b); break;
    case OP_SUB: L2(a - b); break;
    case OP_MUL: L2(a * b); break;
    case OP_FMA: case OP_MAD: L3(fma(a, b, c)); break;
    case OP_DIV: L2(a / b); break;
    case OP_RCP:
        if ((i->fl & F_APPROX) && (i->fl & F_FTZ))
            FOR_LANES(m, {
                double a = bits_f64(A[l]);
                double r = fpclassify(a) == FP_SUBNORMAL ? copysign(INFINITY, a) : 1.0 / a;
                d[l] = fout64(fpclassify(r) == FP_SUBNORMAL ? copysign(0.0, r) : r, fl);
            });
        else L1(1.0 / a);
        break;
    case OP_SQRT: L1(sqrt(a)); break;
    case OP_RSQRT: L1(1.0 / sqrt(a)); break;
    case OP_ABS: FOR_LANES(m, d[l] = A[l] & CNAN64); break;
    case OP_NEG: FOR_LANES(m, d[l] = A[l] ^ 0x8000000000000000ull); break;
    case OP_MIN: case OP_MAX: {
        bool mx = i->op == OP_MAX, nanp = (i->fl & F_NAN) != 0;
        FOR_LANES(m, {
            double a = bits_f64(A[l]), b = bits_f64(B[l]);
            double r = mx ? dmax_ptx(a, b) : dmin_ptx(a, b);
            if (nanp && (isnan(a) || isnan(b))) r = NAN;
            d[l] = isnan(r) ? CNAN64 : f64_bits(r);
        });
        break;
    }
    case OP_COPYSIGN: FOR_LANES(m, d[l] = (B[l] & CNAN64) | (A[l] & 0x8000000000000000ull)); break;
    case OP_SELP: {
        const uint64_t *p = xsrc(x->w, x->pool, i->o[3] & ~REF_NEGBIT);
        bool neg = (i->o[3] & REF_NEGBIT) != 0;
        FOR_LANES(m, d[l] = ((p[l] & 1) ^ neg) ? A[l] : B[l]);
        break;
    }
    case OP_SIN: L1(sin(a)); break;
    case OP_COS: L1(cos(a)); break;
    case OP_LG2: L1(log2(a)); break;
    case OP_EX2: L1(exp2(a)); break;
    case OP_TANH: L1(tanh(a)); break;
    default:
        restore_mode(ch);
        xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "not supported for .f64");
        return -1;
    }
#undef L1
#undef L2
#undef L3
    restore_mode(ch);
    return 0;
}

int x_float(struct xctx *x, const struct ins *i, uint32_t m)
{
    if (i->op == OP_SETP || i->op == OP_SET) return setp_float(x, i, m);
    if (i->op == OP_TESTP) return testp(x, i, m);
    if (i->t == T_F64) return f64_ops(x, i, m);
    return f32_ops(x, i, m);
}
