/*
 * exec_bits.c — bit manipulation: bfe bfi bmsk prmt (all modes) lop3 shf
 * popc clz brev bfind (.shiftamt) fns dp4a dp2a szext.
 *
 * The definitions follow the PTX ISA's pseudo-code: bfe/bfi take position
 * and length from the low 8 bits of their operands and fill with the sign
 * bit (bfe.s) past the end of the source; lop3 evaluates its 8-entry truth
 * table bitwise (index = a<<2 | b<<1 | c, the 0xF0/0xCC/0xAA convention);
 * shf treats {b:a} as one 64-bit value; prmt's selector modes use the byte
 * tables of the ISA; fns counts set bits up (offset > 0) or down from base.
 */
#include "internal.h"

static inline uint64_t bfe(uint64_t a, uint32_t pos, uint32_t len, int bits, bool sg)
{
    int msb = bits - 1;
    uint64_t sbit = 0;
    if (sg && len != 0) {
        uint32_t top = pos + len - 1;
        if (top > (uint32_t)msb) top = (uint32_t)msb;
        sbit = a >> top & 1;
    }
    uint64_t r = 0;
    for (uint32_t k = 0; k < (uint32_t)bits; k++) {
        uint64_t bit = (k < len && pos + k <= (uint32_t)msb) ? (a >> (pos + k) & 1) : sbit;
        r |= bit << k;
    }
    return r;
}

static inline uint64_t bfi(uint64_t f, uint64_t base, uint32_t pos, uint32_t len, int bits)
{
    uint64_t r = base;
    for (uint32_t k = 0; k < len && pos + k < (uint32_t)bits; k++) {
        uint64_t bit = f >> k & 1;
        r = (r & ~(1ull << (pos + k))) | bit << (pos + k);
    }
    return bits == 64 ? r : r & 0xffffffffull;
}

static uint32_t prmt(uint32_t a, uint32_t b, uint32_t c, int mode)
{
    uint64_t src = (uint64_t)b << 32 | a;
    uint8_t by[8];
    for (int k = 0; k < 8; k++) by[k] = (uint8_t)(src >> (8 * k));
    uint32_t r = 0;
    if (mode == PRMT_DEFAULT) {
        for (int k = 0; k < 4; k++) {
            uint32_t sel = c >> (4 * k) & 0xf;
            uint8_t v = by[sel & 7];
            if (sel & 8) v = (v & 0x80) ? 0xff : 0;
            r |= (uint32_t)v << (8 * k);
        }
        return r;
    }
    static const uint8_t tab[6][4][4] = { /* [mode][selector][d.b0..b3] */
        {{0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 6}},   /* f4e */
        {{0, 7, 6, 5}, {1, 0, 7, 6}, {2, 1, 0, 7}, {3, 2, 1, 0}},   /* b4e */
        {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}},   /* rc8 */
        {{0, 1, 2, 3}, {1, 1, 2, 3}, {2, 2, 2, 3}, {3, 3, 3, 3}},   /* ecl */
        {{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 1, 2, 2}, {0, 1, 2, 3}},   /* ecr */
        {{0, 1, 0, 1}, {2, 3, 2, 3}, {0, 1, 0, 1}, {2, 3, 2, 3}},   /* rc16 */
    };
    const uint8_t *t = tab[mode - 1][c & 3];
    for (int k = 0; k < 4; k++) r |= (uint32_t)by[t[k]] << (8 * k);
    return r;
}

static inline uint64_t lop3(uint64_t a, uint64_t b, uint64_t c, uint32_t lut)
{
    uint64_t r = 0;
    for (int k = 0; k < 8; k++)
        if (lut >> k & 1) r |= ((k & 4) ? a : ~a) & ((k & 2) ? b : ~b) & ((k & 1) ? c : ~c);
    return r;
}

static inline uint32_t fns(uint32_t mask, uint32_t base, int32_t off)
{
    if (base > 31) return 0xffffffffu;
    if (off == 0) return (mask >> base & 1) ? base : 0xffffffffu;
    int pos = (int)base, inc = off > 0 ? 1 : -1;
    uint32_t count = (uint32_t)(off > 0 ? off : -off) - 1;
    while (pos >= 0 && pos < 32) {
        if (mask >> pos & 1) {
            if (count == 0) return (uint32_t)pos;
            count--;
        }
        pos += inc;
    }
    return 0xffffffffu;
}

int x_bits(struct xctx *x, const struct ins *i, uint32_t m)
{
    uint64_t *d = DST(x, i->o[0]);
    const uint64_t *a = SRC(x, i->o[1]);
    const uint64_t *b = i->o[2] != REF_NONE ? SRC(x, i->o[2]) : a;
    const uint64_t *c = i->o[3] != REF_NONE ? SRC(x, i->o[3]) : a;
    const uint64_t *e = i->o[4] != REF_NONE ? SRC(x, i->o[4]) : a;
    int bits = t_bits(i->t);
    uint64_t mk = bits == 64 ? ~0ull : (1ull << bits) - 1;
    bool sg = t_signed(i->t);
    switch (i->op) {
    case OP_BFE: FOR_LANES(m, d[l] = bfe(a[l] & mk, (uint32_t)b[l] & 0xff, (uint32_t)c[l] & 0xff, bits, sg) & mk); return 0;
    case OP_BFI: FOR_LANES(m, d[l] = bfi(a[l], b[l] & mk, (uint32_t)c[l] & 0xff, (uint32_t)e[l] & 0xff, bits)); return 0;
    case OP_BMSK: {
        bool clamp = (i->fl & F_CLAMP) != 0;
        FOR_LANES(m, {
            uint32_t s = (uint32_t)a[l], w = (uint32_t)b[l];
            if (clamp) { if (s > 32) s = 32; if (w > 32) w = 32; }
            else { s &= 31; w &= 31; }
            uint64_t msk = w >= 32 ? 0xffffffffull : (1ull << w) - 1;
            d[l] = (uint32_t)(s >= 32 ? 0 : msk << s);
        });
        return 0;
    }
    case OP_PRMT: FOR_LANES(m, d[l] = prmt((uint32_t)a[l], (uint32_t)b[l], (uint32_t)c[l], i->sub)); return 0;
    case OP_LOP3: FOR_LANES(m, d[l] = lop3(a[l], b[l], c[l], (uint32_t)e[l] & 0xff) & mk); return 0;
    case OP_SHF: {
        bool clamp = (i->fl & F_CLAMP) != 0, left = i->sub == 1;
        FOR_LANES(m, {
            uint32_t n = (uint32_t)c[l];
            n = clamp ? (n > 32 ? 32 : n) : n & 31;
            uint64_t v = (uint64_t)(uint32_t)b[l] << 32 | (uint32_t)a[l];
            d[l] = left ? (uint32_t)((v << n) >> 32) : (uint32_t)(v >> n);
        });
        return 0;
    }
    case OP_POPC: FOR_LANES(m, d[l] = (uint32_t)__builtin_popcountll(a[l] & mk)); return 0;
    case OP_CLZ:
        FOR_LANES(m, { uint64_t v = a[l] & mk; d[l] = v ? (uint32_t)(__builtin_clzll(v) - (64 - bits)) : (uint32_t)bits; });
        return 0;
    case OP_BREV:
        FOR_LANES(m, {
            uint64_t v = a[l], r = 0;
            for (int k = 0; k < bits; k++) r |= (v >> k & 1) << (bits - 1 - k);
            d[l] = r;
        });
        return 0;
    case OP_BFIND: {
        bool sh = (i->fl & F_SHIFTAMT) != 0;
        FOR_LANES(m, {
            uint64_t v = a[l] & mk;
            if (sg && (v >> (bits - 1) & 1)) v = ~v & mk;
            uint32_t r;
            if (!v) r = 0xffffffffu;
            else {
                uint32_t pos = 63u - (uint32_t)__builtin_clzll(v);
                r = sh ? (uint32_t)(bits - 1) - pos : pos;
            }
            d[l] = r;
        });
        return 0;
    }
    case OP_FNS: FOR_LANES(m, d[l] = fns((uint32_t)a[l], (uint32_t)b[l], (int32_t)c[l])); return 0;
    case OP_DP4A: {
        bool sa = t_signed(i->t), sb = t_signed(i->t2);
        FOR_LANES(m, {
            uint32_t r = (uint32_t)c[l];
            for (int k = 0; k < 4; k++) {
                int32_t x1 = sa ? (int8_t)(a[l] >> (8 * k)) : (uint8_t)(a[l] >> (8 * k));
                int32_t y1 = sb ? (int8_t)(b[l] >> (8 * k)) : (uint8_t)(b[l] >> (8 * k));
                r += (uint32_t)(x1 * y1);
            }
            d[l] = r;
        });
        return 0;
    }
    case OP_DP2A: {
        bool sa = t_signed(i->t), sb = t_signed(i->t2);
        int base = (i->fl & F_HI) ? 2 : 0;
        FOR_LANES(m, {
            uint32_t r = (uint32_t)c[l];
            for (int k = 0; k < 2; k++) {
                int32_t x1 = sa ? (int16_t)(a[l] >> (16 * k)) : (uint16_t)(a[l] >> (16 * k));
                int32_t y1 = sb ? (int8_t)(b[l] >> (8 * (base + k))) : (uint8_t)(b[l] >> (8 * (base + k)));
                r += (uint32_t)(x1 * y1);
            }
            d[l] = r;
        });
        return 0;
    }
    case OP_SZEXT: {
        bool clamp = (i->fl & F_CLAMP) != 0;
        FOR_LANES(m, {
            uint32_t w = (uint32_t)b[l];
            w = clamp ? (w > 32 ? 32 : w) : w & 31;
            uint32_t v = (uint32_t)a[l];
            uint32_t r;
            if (w == 0) r = 0;
            else if (w >= 32) r = v;
            else if (sg) r = (uint32_t)((int32_t)(v << (32 - w)) >> (32 - w));
            else r = v & ((1u << w) - 1);
            d[l] = r;
        });
        return 0;
    }
    }
    xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "bit operation not supported");
    return -1;
}
