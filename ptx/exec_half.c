/*
 * exec_half.c — f16, f16x2, bf16 and bf16x2 arithmetic: add sub mul fma
 * neg abs min max, ex2/tanh .approx, setp, and selp on halves.
 *
 * Each half is widened to double (exact), the operation done in double and
 * the result rounded once to the 16-bit format with the instruction's
 * rounding (.rn default) by fp.c: for add, sub and mul the double result is
 * exact or correctly rounded at 53 bits, so rounding it again to 11 (8) bits
 * gives the correctly rounded half (53 >= 2*11+2). .ftz flushes f16
 * subnormals; .sat clamps to [0, 1]; NaN results are canonical (0x7fff).
 * The x2 forms apply the same to the low and high halves independently.
 */
#include "internal.h"

#include <math.h>

static inline double hin(uint16_t h, bool bf, bool ftz)
{
    if (ftz && !bf && (h & 0x7c00) == 0 && (h & 0x3ff)) h &= 0x8000;
    return bf ? (double)bf16_to_f32(h) : (double)f16_to_f32(h);
}
static inline uint16_t hout(double v, bool bf, int rnd, uint16_t fl)
{
    if (fl & F_SAT) v = isnan(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
    if (isnan(v)) return 0x7fff;
    uint16_t h = bf ? f64_to_bf16(v, rnd ? rnd : RND_RN) : f64_to_f16(v, rnd ? rnd : RND_RN, false);
    if ((fl & F_FTZ) && !bf && (h & 0x7c00) == 0 && (h & 0x3ff)) h &= 0x8000;
    if ((fl & F_RELU) && (h & 0x8000) && (h & 0x7fff) <= 0x7c00) h = 0;
    return h;
}

bool fcmp_ptx(int cmp, double a, double b);

static inline double hmin(double a, double b, bool mx)
{
    if (isnan(a)) return b;
    if (isnan(b)) return a;
    if (a == b) return (signbit(a) != mx) ? a : b;
    return mx ? (a > b ? a : b) : (a < b ? a : b);
}

static uint16_t one(const struct ins *i, uint16_t a, uint16_t b, uint16_t c, bool bf)
{
    bool ftz = (i->fl & F_FTZ) != 0;
    double x = hin(a, bf, ftz), y = hin(b, bf, ftz), z = hin(c, bf, ftz);
    switch (i->op) {
    case OP_ADD: return hout(x + y, bf, i->rnd, i->fl);
    case OP_SUB: return hout(x - y, bf, i->rnd, i->fl);
    case OP_MUL: return hout(x * y, bf, i->rnd, i->fl);
    case OP_FMA: case OP_MAD: return hout(fma(x, y, z), bf, i->rnd, i->fl);
    case OP_NEG: return (uint16_t)(a ^ 0x8000);
    case OP_ABS: return (uint16_t)(a & 0x7fff);
    case OP_MIN: case OP_MAX: {
        if ((i->fl & F_NAN) && (isnan(x) || isnan(y))) return 0x7fff;
        double r = hmin(x, y, i->op == OP_MAX);
        return hout(r, bf, RND_RN, i->fl & F_RELU);
    }
    case OP_EX2: return hout(exp2(x), bf, RND_RN, i->fl);
    case OP_TANH: return hout(tanh(x), bf, RND_RN, i->fl);
    }
    return 0;
}

int x_half(struct xctx *x, const struct ins *i, uint32_t m)
{
    bool bf = i->t == T_BF16 || i->t == T_BF16X2;
    int k = (i->t == T_F16X2 || i->t == T_BF16X2) ? 2 : 1;
    if (i->op == OP_SETP) {
        const uint64_t *A = SRC(x, i->o[2]), *B = SRC(x, i->o[3]);
        const uint64_t *C = i->bop ? xsrc(x->w, x->pool, i->o[4] & ~REF_NEGBIT) : NULL;
        bool cneg = i->bop && (i->o[4] & REF_NEGBIT);
        uint64_t *p = DST(x, i->o[0]);
        uint64_t *q = i->o[1] != REF_NONE ? DST(x, i->o[1]) : NULL;
        bool ftz = (i->fl & F_FTZ) != 0;
        FOR_LANES(m, {
            bool cv = C ? ((C[l] & 1) ^ cneg) : false;
            bool r0 = fcmp_ptx(i->sub, hin((uint16_t)A[l], bf, ftz), hin((uint16_t)B[l], bf, ftz));
            if (k == 1) {
                bool pv = r0, qv = !r0;
                if (i->bop == BOP_AND) { pv = pv && cv; qv = qv && cv; }
                else if (i->bop == BOP_OR) { pv = pv || cv; qv = qv || cv; }
                else if (i->bop == BOP_XOR) { pv = pv != cv; qv = qv != cv; }
                p[l] = pv;
                if (q) q[l] = qv;
            } else {
                bool r1 = fcmp_ptx(i->sub, hin((uint16_t)(A[l] >> 16), bf, ftz), hin((uint16_t)(B[l] >> 16), bf, ftz));
                if (i->bop == BOP_AND) { r0 = r0 && cv; r1 = r1 && cv; }
                else if (i->bop == BOP_OR) { r0 = r0 || cv; r1 = r1 || cv; }
                else if (i->bop == BOP_XOR) { r0 = r0 != cv; r1 = r1 != cv; }
                p[l] = r0;
                if (q) q[l] = r1;
            }
        });
        return 0;
    }
    if (i->op == OP_SELP) {
        const uint64_t *A = SRC(x, i->o[1]), *B = SRC(x, i->o[2]);
        const uint64_t *P = xsrc(x->w, x->pool, i->o[3] & ~REF_NEGBIT);
        bool neg = (i->o[3] & REF_NEGBIT) != 0;
        uint64_t *d = DST(x, i->o[0]);
        uint64_t mk = k == 2 ? 0xffffffffu : 0xffffu;
        FOR_LANES(m, d[l] = (((P[l] & 1) ^ neg) ? A[l] : B[l]) & mk);
        return 0;
    }
    switch (i->op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_FMA: case OP_MAD: case OP_NEG: case OP_ABS:
    case OP_MIN: case OP_MAX: case OP_EX2: case OP_TANH: break;
    default:
        xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "not supported for half types");
        return -1;
    }
    const uint64_t *A = SRC(x, i->o[1]);
    const uint64_t *B = i->o[2] != REF_NONE ? SRC(x, i->o[2]) : A;
    const uint64_t *C = i->o[3] != REF_NONE ? SRC(x, i->o[3]) : A;
    uint64_t *d = DST(x, i->o[0]);
    FOR_LANES(m, {
        uint64_t r = 0;
        for (int e = 0; e < k; e++)
            r |= (uint64_t)one(i, (uint16_t)(A[l] >> (16 * e)), (uint16_t)(B[l] >> (16 * e)), (uint16_t)(C[l] >> (16 * e)), bf) << (16 * e);
        d[l] = r;
    });
    return 0;
}
