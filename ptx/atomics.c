/*
 * atomics.c — atom and red on global, shared and generic addresses: add
 * (integers, f32, f64, f16, bf16, f16x2, bf16x2), min, max, inc, dec, and,
 * or, xor, exch, cas.
 *
 * Blocks run in parallel on host threads and device memory is shared with
 * them, so every operation is a host atomic (__atomic builtins; a
 * compare-and-swap loop where the host has no single instruction). Lanes of
 * a warp apply their operations in lane order. Memory-order and scope
 * modifiers were accepted by the decoder; everything here is sequentially
 * consistent, which is stronger than any of them. atom.add.f32 flushes
 * subnormals like the GPU does.
 */
#include "internal.h"

#include <math.h>

bool x_resolve_rw(struct xctx *x, const struct ins *i, uint32_t m, unsigned n, uint8_t **ptr);

static inline float ftz32(float v) { return fpclassify(v) == FP_SUBNORMAL ? copysignf(0.0f, v) : v; }

static uint32_t half2_add(uint32_t old, uint32_t v, bool bf)
{
    uint32_t r = 0;
    for (int k = 0; k < 2; k++) {
        uint16_t a = (uint16_t)(old >> (16 * k)), b = (uint16_t)(v >> (16 * k));
        double s = bf ? (double)bf16_to_f32(a) + (double)bf16_to_f32(b) : (double)f16_to_f32(a) + (double)f16_to_f32(b);
        uint16_t h = bf ? f64_to_bf16(s, RND_RN) : f64_to_f16(s, RND_RN, false);
        r |= (uint32_t)h << (16 * k);
    }
    return r;
}

/* new value for `old` under the operation (non-CAS ops) */
static uint64_t apply(const struct ins *i, uint64_t old, uint64_t v, int bits)
{
    uint64_t mk = bits == 64 ? ~0ull : (1ull << bits) - 1;
    bool sg = t_signed(i->t);
    switch (i->sub) {
    case AOP_ADD:
        switch (i->t) {
        case T_F32: return f32_bits(ftz32(ftz32(bits_f32(old)) + ftz32(bits_f32(v))));
        case T_F64: return f64_bits(bits_f64(old) + bits_f64(v));
        case T_F16: return f64_to_f16((double)f16_to_f32((uint16_t)old) + (double)f16_to_f32((uint16_t)v), RND_RN, false);
        case T_BF16: return f64_to_bf16((double)bf16_to_f32((uint16_t)old) + (double)bf16_to_f32((uint16_t)v), RND_RN);
        case T_F16X2: return half2_add((uint32_t)old, (uint32_t)v, false);
        case T_BF16X2: return half2_add((uint32_t)old, (uint32_t)v, true);
        default: return (old + v) & mk;
        }
    case AOP_MIN:
        if (i->t == T_F32) return bits_f32(v) < bits_f32(old) ? v : old;
        if (i->t == T_F64) return bits_f64(v) < bits_f64(old) ? v : old;
        if (sg) return (bits == 64 ? (int64_t)v < (int64_t)old : (int32_t)v < (int32_t)old) ? v & mk : old;
        return (v & mk) < old ? v & mk : old;
    case AOP_MAX:
        if (i->t == T_F32) return bits_f32(v) > bits_f32(old) ? v : old;
        if (i->t == T_F64) return bits_f64(v) > bits_f64(old) ? v : old;
        if (sg) return (bits == 64 ? (int64_t)v > (int64_t)old : (int32_t)v > (int32_t)old) ? v & mk : old;
        return (v & mk) > old ? v & mk : old;
    case AOP_INC: return old >= (v & mk) ? 0 : old + 1;
    case AOP_DEC: return (old == 0 || old > (v & mk)) ? v & mk : old - 1;
    case AOP_AND: return old & v & mk;
    case AOP_OR: return (old | v) & mk;
    case AOP_XOR: return (old ^ v) & mk;
    case AOP_EXCH: return v & mk;
    }
    return old;
}

static uint64_t cas_loop(const struct ins *i, uint8_t *p, int n, uint64_t v)
{
    switch (n) {
    case 2: {
        uint16_t old = __atomic_load_n((uint16_t *)p, __ATOMIC_SEQ_CST), nw;
        do nw = (uint16_t)apply(i, old, v, 16);
        while (!__atomic_compare_exchange_n((uint16_t *)p, &old, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
        return old;
    }
    case 4: {
        uint32_t old = __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST), nw;
        do nw = (uint32_t)apply(i, old, v, 32);
        while (!__atomic_compare_exchange_n((uint32_t *)p, &old, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
        return old;
    }
    default: {
        uint64_t old = __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST), nw;
        do nw = apply(i, old, v, 64);
        while (!__atomic_compare_exchange_n((uint64_t *)p, &old, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
        return old;
    }
    }
}

int x_atom(struct xctx *x, const struct ins *i, uint32_t m)
{
    unsigned n = ptx_type_size[i->t];
    if (n != 2 && n != 4 && n != 8) {
        xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "atomic of this size is not supported");
        return -1;
    }
    uint8_t *ptr[WARP];
    if (!x_resolve_rw(x, i, m, n, ptr)) return -1;
    const uint64_t *B = SRC(x, i->o[1]);
    const uint64_t *C = i->o[2] != REF_NONE ? SRC(x, i->o[2]) : B;
    uint64_t *d = i->op == OP_ATOM ? DST(x, i->o[0]) : NULL;
    uint64_t res[WARP];
    bool is_int = !t_float(i->t);
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        uint8_t *p = ptr[l];
        uint64_t v = B[l], old;
        if (i->sub == AOP_CAS) {
            switch (n) {
            case 2: { uint16_t e = (uint16_t)v; __atomic_compare_exchange_n((uint16_t *)p, &e, (uint16_t)C[l], false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); old = e; break; }
            case 4: { uint32_t e = (uint32_t)v; __atomic_compare_exchange_n((uint32_t *)p, &e, (uint32_t)C[l], false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); old = e; break; }
            default: { uint64_t e = v; __atomic_compare_exchange_n((uint64_t *)p, &e, C[l], false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); old = e; break; }
            }
        } else if (is_int && n == 4 && (i->sub == AOP_ADD || i->sub == AOP_AND || i->sub == AOP_OR || i->sub == AOP_XOR || i->sub == AOP_EXCH)) {
            uint32_t *q = (uint32_t *)p, w = (uint32_t)v;
            switch (i->sub) {
            case AOP_ADD: old = __atomic_fetch_add(q, w, __ATOMIC_SEQ_CST); break;
            case AOP_AND: old = __atomic_fetch_and(q, w, __ATOMIC_SEQ_CST); break;
            case AOP_OR: old = __atomic_fetch_or(q, w, __ATOMIC_SEQ_CST); break;
            case AOP_XOR: old = __atomic_fetch_xor(q, w, __ATOMIC_SEQ_CST); break;
            default: old = __atomic_exchange_n(q, w, __ATOMIC_SEQ_CST); break;
            }
        } else if (is_int && n == 8 && (i->sub == AOP_ADD || i->sub == AOP_EXCH)) {
            uint64_t *q = (uint64_t *)p;
            old = i->sub == AOP_ADD ? __atomic_fetch_add(q, v, __ATOMIC_SEQ_CST) : __atomic_exchange_n(q, v, __ATOMIC_SEQ_CST);
        } else {
            old = cas_loop(i, p, (int)n, v);
        }
        if (t_signed(i->t) && n < 8) old = (uint64_t)(int64_t)(n == 4 ? (int32_t)old : (int16_t)old);
        res[l] = old;
    }
    if (d) FOR_LANES(m, d[l] = res[l]);
    return 0;
}
