/*
 * exec_int.c — integer and logical instructions: add sub mul mad div rem abs
 * neg min max (with .lo/.hi/.wide, .sat, .cc carries), mul24 mad24 sad,
 * and or xor not cnot shl shr, setp/set on integers, selp, slct.
 *
 * Each operation is one switch case around a lane loop; the width (16/32/64)
 * and signedness come from the instruction type. Results are stored
 * zero-extended from the type's width. Division never traps on the host:
 * x/0 gives all ones (quotient) and x (remainder), INT_MIN/-1 wraps, as the
 * GPU does. Shifts by the width or more give 0 (or the sign for .s).
 */
#include "internal.h"

#include <limits.h>

static inline uint64_t predv(const uint64_t *p, uint32_t ref, int l) { return (p[l] & 1) ^ ((ref & REF_NEGBIT) ? 1 : 0); }
#define PSRC(x, r) xsrc((x)->w, (x)->pool, (r) & ~REF_NEGBIT)

static bool icmp(int cmp, bool sg, uint64_t a, uint64_t b, int bits)
{
    if (sg) {
        int64_t sa = (int64_t)(a << (64 - bits)) >> (64 - bits), sb = (int64_t)(b << (64 - bits)) >> (64 - bits);
        switch (cmp) {
        case CMP_EQ: return sa == sb;
        case CMP_NE: return sa != sb;
        case CMP_LT: return sa < sb;
        case CMP_LE: return sa <= sb;
        case CMP_GT: return sa > sb;
        case CMP_GE: return sa >= sb;
        }
    }
    uint64_t mk = bits == 64 ? ~0ull : (1ull << bits) - 1;
    a &= mk;
    b &= mk;
    switch (cmp) {
    case CMP_EQ: return a == b;
    case CMP_NE: return a != b;
    case CMP_LT: case CMP_LO: return a < b;
    case CMP_LE: case CMP_LS: return a <= b;
    case CMP_GT: case CMP_HI: return a > b;
    case CMP_GE: case CMP_HS: return a >= b;
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

static int x_setp_int(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint64_t *a = SRC(x, i->o[2]), *b = SRC(x, i->o[3]);
    const uint64_t *c = i->bop ? PSRC(x, i->o[4]) : NULL;
    int bits = t_bits(i->t);
    bool sg = t_signed(i->t);
    uint64_t *p = DST(x, i->o[0]);
    uint64_t *q = i->o[1] != REF_NONE ? DST(x, i->o[1]) : NULL;
    if (i->op == OP_SET) {
        uint64_t one = i->t2 == T_F32 ? 0x3f800000u : 0xffffffffu;
        FOR_LANES(m, {
            bool r = icmp(i->sub, sg, a[l], b[l], bits);
            bool cv = c ? predv(c, i->o[4], l) : false;
            p[l] = combine(i->bop, r, cv) ? one : 0;
        });
        return 0;
    }
    FOR_LANES(m, {
        bool r = icmp(i->sub, sg, a[l], b[l], bits);
        bool cv = c ? predv(c, i->o[4], l) : false;
        bool pv = combine(i->bop, r, cv), qv = combine(i->bop, !r, cv);
        p[l] = pv;
        if (q) q[l] = qv;
    });
    return 0;
}

/* one width: UT unsigned, ST signed, WU/WS the double-width types */
#define INT_OPS(NAME, UT, ST, WU, WS, BITS)                                                             \
    static int NAME(struct xctx *x, const struct ins *i, uint32_t m)                                    \
    {                                                                                                   \
        uint64_t *d = DST(x, i->o[0]);                                                                  \
        const uint64_t *a = SRC(x, i->o[1]);                                                            \
        const uint64_t *b = i->o[2] != REF_NONE ? SRC(x, i->o[2]) : a;                                  \
        const uint64_t *c = i->o[3] != REF_NONE ? SRC(x, i->o[3]) : a;                                  \
        bool sg = t_signed(i->t);                                                                       \
        uint32_t *cc = x->w->cc;                                                                        \
        switch (i->op) {                                                                                \
        case OP_ADD: case OP_ADDC:                                                                      \
            if (i->fl & F_SAT) {                                                                        \
                FOR_LANES(m, {                                                                          \
                    int64_t r = (int64_t)(ST)a[l] + (int64_t)(ST)b[l];                                  \
                    d[l] = (UT)(ST)(r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : r);         \
                });                                                                                     \
            } else if (i->op == OP_ADDC || (i->fl & F_CC)) {                                            \
                bool cin = i->op == OP_ADDC;                                                            \
                FOR_LANES(m, {                                                                          \
                    WU r = (WU)(UT)a[l] + (WU)(UT)b[l] + (cin ? cc[l] : 0);                             \
                    d[l] = (UT)r;                                                                       \
                    if (i->fl & F_CC) cc[l] = (uint32_t)(r >> BITS) & 1;                                \
                });                                                                                     \
            } else {                                                                                    \
                FOR_LANES(m, d[l] = (UT)((UT)a[l] + (UT)b[l]));                                         \
            }                                                                                           \
            return 0;                                                                                   \
        case OP_SUB: case OP_SUBC:                                                                      \
            if (i->fl & F_SAT) {                                                                        \
                FOR_LANES(m, {                                                                          \
                    int64_t r = (int64_t)(ST)a[l] - (int64_t)(ST)b[l];                                  \
                    d[l] = (UT)(ST)(r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : r);         \
                });                                                                                     \
            } else if (i->op == OP_SUBC || (i->fl & F_CC)) {                                            \
                bool cin = i->op == OP_SUBC;                                                            \
                FOR_LANES(m, {                                                                          \
                    WU r = (WU)(UT)a[l] - (WU)(UT)b[l] - (cin ? cc[l] : 0);                             \
                    d[l] = (UT)r;                                                                       \
                    if (i->fl & F_CC) cc[l] = (uint32_t)(r >> BITS) & 1; /* borrow */                   \
                });                                                                                     \
            } else {                                                                                    \
                FOR_LANES(m, d[l] = (UT)((UT)a[l] - (UT)b[l]));                                         \
            }                                                                                           \
            return 0;                                                                                   \
        case OP_MUL: case OP_MAD: case OP_MADC: {                                                       \
            bool mad = i->op != OP_MUL;                                                                 \
            if (i->fl & F_WIDE) {                                                                       \
                if (sg) FOR_LANES(m, {                                                                  \
                    WS r = (WS)(ST)a[l] * (WS)(ST)b[l];                                                 \
                    if (mad) r = (WS)((WU)r + (WU)c[l]);                                                \
                    d[l] = (uint64_t)(WU)r;                                                             \
                });                                                                                     \
                else FOR_LANES(m, {                                                                     \
                    WU r = (WU)(UT)a[l] * (WU)(UT)b[l];                                                 \
                    if (mad) r += (WU)c[l];                                                             \
                    d[l] = (uint64_t)r;                                                                 \
                });                                                                                     \
            } else if (i->fl & F_HI) {                                                                  \
                FOR_LANES(m, {                                                                          \
                    UT h = sg ? (UT)((WU)((WS)(ST)a[l] * (WS)(ST)b[l]) >> BITS)                         \
                              : (UT)(((WU)(UT)a[l] * (WU)(UT)b[l]) >> BITS);                            \
                    if (mad) {                                                                          \
                        if ((i->fl & F_SAT) && sg) {                                                    \
                            int64_t r = (int64_t)(ST)h + (int64_t)(ST)c[l];                             \
                            h = (UT)(ST)(r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : r);    \
                        } else {                                                                        \
                            WU r = (WU)h + (WU)(UT)c[l] + (i->op == OP_MADC ? cc[l] : 0);               \
                            h = (UT)r;                                                                  \
                            if (i->fl & F_CC) cc[l] = (uint32_t)(r >> BITS) & 1;                        \
                        }                                                                               \
                    }                                                                                   \
                    d[l] = h;                                                                           \
                });                                                                                     \
            } else {                                                                                    \
                FOR_LANES(m, {                                                                          \
                    UT r = (UT)((UT)a[l] * (UT)b[l]);                                                   \
                    if (mad) {                                                                          \
                        WU s = (WU)r + (WU)(UT)c[l] + (i->op == OP_MADC ? cc[l] : 0);                   \
                        r = (UT)s;                                                                      \
                        if (i->fl & F_CC) cc[l] = (uint32_t)(s >> BITS) & 1;                            \
                    }                                                                                   \
                    d[l] = r;                                                                           \
                });                                                                                     \
            }                                                                                           \
            return 0;                                                                                   \
        }                                                                                               \
        case OP_DIV:                                                                                    \
            if (sg) FOR_LANES(m, {                                                                      \
                ST p = (ST)a[l], q = (ST)b[l];                                                          \
                d[l] = (UT)(q == 0 ? (ST)-1 : (q == -1) ? (ST)(0 - (UT)p) : (ST)(p / q));              \
            });                                                                                         \
            else FOR_LANES(m, { UT p = (UT)a[l], q = (UT)b[l]; d[l] = (UT)(q == 0 ? (UT)~(UT)0 : p / q); }); \
            return 0;                                                                                   \
        case OP_REM:                                                                                    \
            if (sg) FOR_LANES(m, {                                                                      \
                ST p = (ST)a[l], q = (ST)b[l];                                                          \
                d[l] = (UT)(q == 0 ? p : q == -1 ? 0 : p % q);                                          \
            });                                                                                         \
            else FOR_LANES(m, { UT p = (UT)a[l], q = (UT)b[l]; d[l] = (UT)(q == 0 ? p : p % q); });      \
            return 0;                                                                                   \
        case OP_ABS: FOR_LANES(m, { ST p = (ST)a[l]; d[l] = (UT)(p < 0 ? (UT)0 - (UT)p : (UT)p); }); return 0; \
        case OP_NEG: FOR_LANES(m, d[l] = (UT)((UT)0 - (UT)a[l])); return 0;                            \
        case OP_MIN: case OP_MAX: {                                                                     \
            bool mx = i->op == OP_MAX, three = i->o[3] != REF_NONE;                                     \
            if (sg) FOR_LANES(m, {                                                                      \
                ST p = (ST)a[l], q = (ST)b[l];                                                          \
                ST r = mx ? (p > q ? p : q) : (p < q ? p : q);                                          \
                if (three) { ST s = (ST)c[l]; r = mx ? (r > s ? r : s) : (r < s ? r : s); }             \
                if ((i->fl & F_RELU) && r < 0) r = 0;                                                   \
                d[l] = (UT)r;                                                                           \
            });                                                                                         \
            else FOR_LANES(m, {                                                                         \
                UT p = (UT)a[l], q = (UT)b[l];                                                          \
                UT r = mx ? (p > q ? p : q) : (p < q ? p : q);                                          \
                if (three) { UT s = (UT)c[l]; r = mx ? (r > s ? r : s) : (r < s ? r : s); }             \
                d[l] = r;                                                                               \
            });                                                                                         \
            return 0;                                                                                   \
        }                                                                                               \
        case OP_AND: FOR_LANES(m, d[l] = (UT)(a[l] & b[l])); return 0;                                 \
        case OP_OR: FOR_LANES(m, d[l] = (UT)(a[l] | b[l])); return 0;                                  \
        case OP_XOR: FOR_LANES(m, d[l] = (UT)(a[l] ^ b[l])); return 0;                                 \
        case OP_NOT: FOR_LANES(m, d[l] = (UT)~a[l]); return 0;                                         \
        case OP_CNOT: FOR_LANES(m, d[l] = (UT)a[l] == 0); return 0;                                    \
        case OP_SHL: FOR_LANES(m, { uint32_t s = (uint32_t)b[l]; d[l] = s >= BITS ? 0 : (UT)((UT)a[l] << s); }); \
            return 0;                                                                                   \
        case OP_SHR:                                                                                    \
            if (sg) FOR_LANES(m, { uint32_t s = (uint32_t)b[l]; d[l] = (UT)(ST)((ST)a[l] >> (s >= BITS ? BITS - 1 : s)); }); \
            else FOR_LANES(m, { uint32_t s = (uint32_t)b[l]; d[l] = s >= BITS ? 0 : (UT)((UT)a[l] >> s); }); \
            return 0;                                                                                   \
        case OP_SELP: {                                                                                 \
            const uint64_t *pc = PSRC(x, i->o[3]);                                                      \
            FOR_LANES(m, d[l] = predv(pc, i->o[3], l) ? (UT)a[l] : (UT)b[l]);                           \
            return 0;                                                                                   \
        }                                                                                               \
        case OP_SAD:                                                                                    \
            if (sg) FOR_LANES(m, { ST p = (ST)a[l], q = (ST)b[l]; d[l] = (UT)((UT)(p > q ? (UT)p - (UT)q : (UT)q - (UT)p) + (UT)c[l]); }); \
            else FOR_LANES(m, { UT p = (UT)a[l], q = (UT)b[l]; d[l] = (UT)((UT)(p > q ? p - q : q - p) + (UT)c[l]); }); \
            return 0;                                                                                   \
        }                                                                                               \
        xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "integer operation not supported for this type"); \
        return -1;                                                                                      \
    }

INT_OPS(int16_ops, uint16_t, int16_t, uint32_t, int32_t, 16)
INT_OPS(int32_ops, uint32_t, int32_t, uint64_t, int64_t, 32)
INT_OPS(int64_ops, uint64_t, int64_t, unsigned __int128, __int128, 64)

static int pred_ops(struct xctx *x, const struct ins *i, uint32_t m)
{
    uint64_t *d = DST(x, i->o[0]);
    const uint64_t *a = PSRC(x, i->o[1]);
    const uint64_t *b = i->o[2] != REF_NONE ? PSRC(x, i->o[2]) : a;
    switch (i->op) {
    case OP_AND: FOR_LANES(m, d[l] = predv(a, i->o[1], l) & predv(b, i->o[2], l)); return 0;
    case OP_OR: FOR_LANES(m, d[l] = predv(a, i->o[1], l) | predv(b, i->o[2], l)); return 0;
    case OP_XOR: FOR_LANES(m, d[l] = predv(a, i->o[1], l) ^ predv(b, i->o[2], l)); return 0;
    case OP_NOT: FOR_LANES(m, d[l] = !predv(a, i->o[1], l)); return 0;
    case OP_CNOT: FOR_LANES(m, d[l] = !predv(a, i->o[1], l)); return 0;
    case OP_SELP: {
        const uint64_t *pc = PSRC(x, i->o[3]);
        FOR_LANES(m, d[l] = predv(pc, i->o[3], l) ? (a[l] & 1) : (b[l] & 1));
        return 0;
    }
    }
    xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "operation not supported on .pred");
    return -1;
}

static int x_24(struct xctx *x, const struct ins *i, uint32_t m)
{
    uint64_t *d = DST(x, i->o[0]);
    const uint64_t *a = SRC(x, i->o[1]), *b = SRC(x, i->o[2]);
    const uint64_t *c = i->op == OP_MAD24 ? SRC(x, i->o[3]) : NULL;
    bool sg = t_signed(i->t), hi = (i->fl & F_HI) != 0;
    FOR_LANES(m, {
        int64_t p;
        if (sg) p = (int64_t)((int32_t)((uint32_t)a[l] << 8) >> 8) * (int64_t)((int32_t)((uint32_t)b[l] << 8) >> 8);
        else p = (int64_t)((uint64_t)(a[l] & 0xffffff) * (uint64_t)(b[l] & 0xffffff));
        uint32_t r = hi ? (uint32_t)((uint64_t)p >> 16) : (uint32_t)p;
        if (c) {
            if ((i->fl & F_SAT) && sg) {
                int64_t s = (int64_t)(int32_t)r + (int64_t)(int32_t)c[l];
                r = (uint32_t)(int32_t)(s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s);
            } else {
                r += (uint32_t)c[l];
            }
        }
        d[l] = r;
    });
    return 0;
}

static int x_slct(struct xctx *x, const struct ins *i, uint32_t m)
{
    uint64_t *d = DST(x, i->o[0]);
    const uint64_t *a = SRC(x, i->o[1]), *b = SRC(x, i->o[2]), *c = SRC(x, i->o[3]);
    uint64_t mk = t_bits(i->t) == 64 ? ~0ull : (1ull << t_bits(i->t)) - 1;
    if (i->t2 == T_F32) {
        bool ftz = (i->fl & F_FTZ) != 0;
        FOR_LANES(m, {
            float f = bits_f32(c[l]);
            (void)ftz;
            d[l] = (f >= 0.0f ? a[l] : b[l]) & mk;
        });
    } else {
        FOR_LANES(m, d[l] = ((int32_t)c[l] >= 0 ? a[l] : b[l]) & mk);
    }
    return 0;
}

int x_int(struct xctx *x, const struct ins *i, uint32_t m)
{
    if (i->op == OP_SETP || i->op == OP_SET) return x_setp_int(x, i, m);
    if (i->op == OP_MUL24 || i->op == OP_MAD24) return x_24(x, i, m);
    if (i->op == OP_SLCT) return x_slct(x, i, m);
    switch (t_bits(i->t)) {
    case 8: if (i->t == T_PRED) return pred_ops(x, i, m); return int16_ops(x, i, m); /* b8 never reaches arithmetic */
    case 16: return int16_ops(x, i, m);
    case 32: return int32_ops(x, i, m);
    case 64: return int64_ops(x, i, m);
    }
    xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "bad integer type");
    return -1;
}
