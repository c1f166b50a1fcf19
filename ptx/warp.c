/*
 * warp.c — instructions that exchange data between the lanes of a warp:
 * shfl (.up .down .bfly .idx, with the clamp/segment-mask operand), vote
 * (.all .any .uni .ballot, also the pre-Volta forms without .sync), match
 * (.any .all), redux.sync and activemask.
 *
 * exec.c has already made the .sync forms wait until every lane of the
 * member mask is present, so here the participating lanes are simply the
 * executing ones (m). Sources are read into a private copy first because
 * destinations may alias sources of other lanes.
 */
#include "internal.h"

#include <math.h>

static int shfl(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint64_t *A = SRC(x, i->o[1]), *B = SRC(x, i->o[2]), *C = SRC(x, i->o[3]);
    uint32_t val[WARP];
    for (int l = 0; l < WARP; l++) val[l] = (uint32_t)A[l];
    uint64_t *d = DST(x, i->o[0]);
    uint64_t *p = i->o[4] != REF_NONE ? DST(x, i->o[4]) : NULL;
    FOR_LANES(m, {
        uint32_t bval = (uint32_t)B[l] & 0x1f, cval = (uint32_t)C[l];
        uint32_t segmask = (cval >> 8) & 0x1f, clampv = cval & 0x1f;
        uint32_t lane = (uint32_t)l;
        uint32_t minl = lane & segmask, maxl = minl | (clampv & ~segmask);
        int32_t j;
        bool ok;
        switch (i->sub) {
        case SHFL_UP: j = (int32_t)lane - (int32_t)bval; ok = j >= (int32_t)maxl; break;
        case SHFL_DOWN: j = (int32_t)(lane + bval); ok = j <= (int32_t)maxl; break;
        case SHFL_BFLY: j = (int32_t)(lane ^ bval); ok = j <= (int32_t)maxl; break;
        default: j = (int32_t)(minl | (bval & ~segmask)); ok = j <= (int32_t)maxl; break;
        }
        if (!ok) j = (int32_t)lane;
        d[l] = val[j & 31]; /* an inactive source lane yields its stale register, as "undefined" allows */
        if (p) p[l] = ok;
    });
    return 0;
}

static int vote(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint64_t *A = xsrc(x->w, x->pool, i->o[1] & ~REF_NEGBIT);
    uint32_t neg = (i->o[1] & REF_NEGBIT) ? 1u : 0u;
    uint32_t ballot = 0;
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        if (((uint32_t)A[l] & 1) ^ neg) ballot |= 1u << l;
    }
    uint64_t v;
    switch (i->sub) {
    case VOTE_ALL: v = ballot == m; break;
    case VOTE_ANY: v = ballot != 0; break;
    case VOTE_UNI: v = ballot == 0 || ballot == m; break;
    default: v = ballot; break;
    }
    uint64_t *d = DST(x, i->o[0]);
    FOR_LANES(m, d[l] = v);
    return 0;
}

static int match(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint64_t *A = SRC(x, i->o[1]);
    uint64_t mk = ptx_type_size[i->t] == 8 ? ~0ull : 0xffffffffull;
    uint64_t val[WARP];
    for (int l = 0; l < WARP; l++) val[l] = A[l] & mk;
    uint64_t *d = DST(x, i->o[0]);
    uint64_t *p = i->o[3] != REF_NONE ? DST(x, i->o[3]) : NULL;
    if (i->sub == MATCH_ALL) {
        bool same = true;
        uint64_t first = val[__builtin_ctz(m)];
        for (uint32_t mm = m; mm; mm &= mm - 1)
            if (val[__builtin_ctz(mm)] != first) same = false;
        FOR_LANES(m, { d[l] = same ? m : 0; if (p) p[l] = same; });
        return 0;
    }
    uint32_t res[WARP];
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        uint32_t r = 0;
        for (uint32_t nn = m; nn; nn &= nn - 1) {
            int k = __builtin_ctz(nn);
            if (val[k] == val[l]) r |= 1u << k;
        }
        res[l] = r;
    }
    FOR_LANES(m, d[l] = res[l]);
    return 0;
}

static int redux(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint64_t *A = SRC(x, i->o[1]);
    uint64_t *d = DST(x, i->o[0]);
    uint32_t r = 0;
    bool first = true;
    if (i->t == T_F32) {
        float f = 0;
        bool nan = false;
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            float v = bits_f32(A[__builtin_ctz(mm)]);
            if (i->fl & F_ABS) v = fabsf(v);
            if (isnan(v)) { nan = true; continue; }
            if (first) { f = v; first = false; }
            else if (i->bop == AOP_MIN) f = (v < f || (v == f && signbit(v))) ? v : f;
            else f = (v > f || (v == f && !signbit(v))) ? v : f;
        }
        uint64_t out = ((nan && (i->fl & F_NAN)) || first) ? 0x7fffffffu : f32_bits(f);
        FOR_LANES(m, d[l] = out);
        return 0;
    }
    bool sg = t_signed(i->t);
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        uint32_t v = (uint32_t)A[__builtin_ctz(mm)];
        if (first) { r = v; first = false; continue; }
        switch (i->bop) {
        case AOP_ADD: r += v; break;
        case AOP_MIN: r = sg ? ((int32_t)v < (int32_t)r ? v : r) : (v < r ? v : r); break;
        case AOP_MAX: r = sg ? ((int32_t)v > (int32_t)r ? v : r) : (v > r ? v : r); break;
        case AOP_AND: r &= v; break;
        case AOP_OR: r |= v; break;
        case AOP_XOR: r ^= v; break;
        }
    }
    FOR_LANES(m, d[l] = r);
    return 0;
}

int x_warp(struct xctx *x, const struct ins *i, uint32_t m)
{
    switch (i->op) {
    case OP_SHFL: return shfl(x, i, m);
    case OP_VOTE: return vote(x, i, m);
    case OP_MATCH: return match(x, i, m);
    case OP_REDUX: return redux(x, i, m);
    case OP_ACTIVEMASK: {
        uint64_t *d = DST(x, i->o[0]);
        uint32_t act = x->w->cur;
        FOR_LANES(m, d[l] = act);
        return 0;
    }
    }
    return 0;
}
