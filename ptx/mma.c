/*
 * mma.c — warp-level matrix instructions (mma.sync, ldmatrix, stmatrix,
 * movmatrix) and cp.async.
 *
 * Fragments. The lane <-> matrix element maps are those of the PTX ISA's
 * "Matrix fragments for mma.mMnNkK" sections (groupID = lane >> 2,
 * threadID_in_group = lane % 4); a_rc/b_rc/c_rc below are those formulas
 * verbatim. Elements are packed low to high in a register (a0 in bits 0..15
 * of the first .f16x2 register, ...). exec.c has already waited until every
 * lane of the warp reached the instruction (.sync.aligned), so the whole
 * warp's registers are read here; results go to the executing lanes.
 *
 * wmma (m16n16k16, m8n32k16, m32n8k16; .f16 and .s8/.u8) uses a layout of its
 * own, see below.
 *
 * Numerics of mma (the ISA leaves the accumulation order and intermediate
 * precision of the floating-point forms unspecified). This machine computes:
 *   f16/bf16/tf32/e4m3/e5m2 inputs: every product a*b is formed exactly (in
 *     double; at most 11 x 11 significant bits), the K products are summed
 *     in double in increasing k, then c is added in double, and the sum is
 *     rounded once to the destination type, round-to-nearest-even (f32, or
 *     f16 for .f16 accumulators). A NaN result is the canonical NaN
 *     (0x7fffffff / 0x7fff). .tf32 operands use only the upper 19 bits of
 *     their register (the low 13 mantissa bits are ignored, as on the GPU).
 *   f64 (m8n8k4): d = fma(a[K-1], b[K-1], ... fma(a0, b0, c)) — IEEE fused
 *     steps in increasing k.
 *   block-scaled e2m1 (kind::mxf4, kind::mxf4nvf4, m16n8k64): each block of
 *     K/2 (ue8m0) or K/4 (ue4m3) products is summed exactly in double and
 *     multiplied by the row's and the column's scale of that block; the
 *     blocks are summed, c added, and the sum rounded once to f32.
 *   s8/u8: exact integer sum in 64 bits; .satfinite clamps to s32, without
 *     it the result wraps to 32 bits.
 * Whenever the exact result is representable (as with small integer-valued
 * inputs) this equals what any correct hardware computes.
 *
 * ldmatrix/stmatrix: lanes 8j..8j+7 give the addresses of the eight 16-byte
 * rows of matrix j (x1: lanes 0-7, x2: 0-15, x4: all); lane l's register j
 * holds row l/4, columns 2(l%4) and 2(l%4)+1 of matrix j (.trans: the
 * transposed matrix). Addresses are resolved like ld/st of 16 bytes
 * (16-byte aligned, bounds-checked; generic addresses are sorted into their
 * window).
 *
 * cp.async is performed synchronously when it issues: the destination is
 * complete before the next instruction, so commit_group, wait_group N and
 * wait_all have nothing to wait for. Both addresses are checked (shared
 * bounds, global memory.valid) before any byte moves; src-size < cp-size
 * copies src-size bytes and zero-fills the rest; the ignore-src predicate
 * reads nothing and zero-fills.
 */
#include "internal.h"

#include <math.h>

/* ---- mma ---- */
static void mma_dims(int shape, int *M, int *K)
{
    switch (shape) {
    case MMA_M16N8K8: *M = 16; *K = 8; break;
    case MMA_M16N8K16: *M = 16; *K = 16; break;
    case MMA_M8N8K16: *M = 8; *K = 16; break;
    case MMA_M16N8K32: *M = 16; *K = 32; break;
    case MMA_M16N8K64: *M = 16; *K = 64; break;
    default: *M = 8; *K = 4; break; /* m8n8k4 */
    }
}

static int ebits(int t)
{
    switch (t) {
    case T_F16: case T_BF16: return 16;
    case T_TF32: case T_F32: case T_S32: return 32;
    case T_F64: return 64;
    case T_E2M1X2: return 4;
    default: return 8; /* s8 u8 e4m3 e5m2 */
    }
}

/* element i of lane l's A fragment: row r, column c */
static void a_rc(int shape, int at, int l, int i, int *r, int *c)
{
    int g = l >> 2, t = l & 3;
    switch (shape) {
    case MMA_M16N8K8:
        if (at == T_TF32) { *r = g + 8 * (i & 1); *c = t + 4 * (i >> 1); }
        else { *r = g + 8 * (i >> 1); *c = 2 * t + (i & 1); }
        break;
    case MMA_M16N8K16:
        if (ebits(at) == 16) { *r = g + 8 * ((i >> 1) & 1); *c = 2 * t + (i & 1) + 8 * (i >> 2); }
        else { *r = g + 8 * (i >> 2); *c = 4 * t + (i & 3); }
        break;
    case MMA_M8N8K16: *r = g; *c = 4 * t + i; break;
    case MMA_M16N8K32: *r = g + 8 * ((i >> 2) & 1); *c = 4 * t + (i & 3) + 16 * (i >> 3); break;
    case MMA_M16N8K64: *r = g + 8 * ((i >> 3) & 1); *c = 8 * t + (i & 7) + 32 * (i >> 4); break;
    default: *r = g; *c = t; break; /* m8n8k4 f64 */
    }
}

/* element i of lane l's B fragment: row (k) r, column (n) c */
static void b_rc(int shape, int bt, int l, int i, int *r, int *c)
{
    int g = l >> 2, t = l & 3;
    *c = g;
    switch (shape) {
    case MMA_M16N8K8: *r = bt == T_TF32 ? t + 4 * i : 2 * t + i; break;
    case MMA_M16N8K16: *r = ebits(bt) == 16 ? 2 * t + (i & 1) + 8 * (i >> 1) : 4 * t + i; break;
    case MMA_M8N8K16: *r = 4 * t + i; break;
    case MMA_M16N8K32: *r = 4 * t + (i & 3) + 16 * (i >> 2); break;
    case MMA_M16N8K64: *r = 8 * t + (i & 7) + 32 * (i >> 3); break;
    default: *r = t; break;
    }
}

/* element i of lane l's C/D fragment */
static void c_rc(int shape, int l, int i, int *r, int *c)
{
    int g = l >> 2, t = l & 3;
    if (shape == MMA_M8N8K16 || shape == MMA_M8N8K4) { *r = g; *c = 2 * t + i; }
    else { *r = g + 8 * (i >> 1); *c = 2 * t + (i & 1); }
}

static double fval(int t, uint64_t b)
{
    switch (t) {
    case T_F16: return f16_to_f32((uint16_t)b);
    case T_BF16: return bf16_to_f32((uint16_t)b);
    case T_TF32: return bits_f32(b & 0xffffe000u);
    case T_E4M3X2: return e4m3_to_f32((uint8_t)b);
    case T_E5M2X2: return e5m2_to_f32((uint8_t)b);
    case T_E2M1X2: return e2m1_to_f32((uint8_t)b);
    case T_F32: return bits_f32(b);
    default: return bits_f64(b);
    }
}
static int64_t ival(int t, uint64_t b) { return t == T_S8 ? (int64_t)(int8_t)b : (int64_t)(uint8_t)b; }

/* element e of a fragment (registers already resolved; element width bits) for lane l */
static inline uint64_t frag_el(const uint64_t *const *regs, int bits, int l, int e)
{
    int per = bits >= 32 ? 1 : 32 / bits;
    uint64_t v = regs[e / per][l];
    if (bits == 64) return v;
    v >>= (e % per) * bits;
    return bits == 32 ? (uint32_t)v : v & ((1u << bits) - 1);
}

/* a block scale: ue8m0 2^(e-127) (0xff: NaN), or ue4m3 (an e4m3 without sign) */
static double mma_scale(int sft, uint8_t v)
{
    if (sft == T_UE8M0X2) return v == 0xff ? NAN : ldexp(1.0, (int)v - 127);
    return e4m3_to_f32(v & 0x7f);
}

static int do_mma(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint32_t *xo = x->L->m->xops + i->asym;
    uint32_t desc = xo[0];
    int bt = desc & 0xff, ct = (desc >> 8) & 0xff;
    int na = (desc >> 16) & 0xf, nb = (desc >> 20) & 0xf, nc = (desc >> 24) & 0xf;
    const uint32_t *dref = xo + 1, *aref = dref + nc, *bref = aref + na, *cref = bref + nb;
    int shape = i->sub, at = i->t2, dt = i->t;
    int M, K, N = 8;
    mma_dims(shape, &M, &K);
    int abits = ebits(at), bbits = ebits(bt), cbits = ebits(ct);
    int nae = na * (abits >= 32 ? 1 : 32 / abits), nbe = nb * (bbits >= 32 ? 1 : 32 / bbits);
    int nce = nc * (cbits >= 32 ? 1 : 32 / cbits);
    bool integer = at == T_S8 || at == T_U8;
    /* gather the whole matrices from the warp's registers (register arrays
     * resolved once: mma dominates the time of ggml's matmul and attention) */
    uint64_t A[16][64], B[64][8], C[16][8];
    const uint64_t *ap[16], *bp[16], *cp[8];
    for (int j = 0; j < na; j++) ap[j] = SRC(x, aref[j]);
    for (int j = 0; j < nb; j++) bp[j] = SRC(x, bref[j]);
    for (int j = 0; j < nc; j++) cp[j] = SRC(x, cref[j]);
    for (int l = 0; l < WARP; l++) {
        int r, c;
        for (int e = 0; e < nae; e++) { a_rc(shape, at, l, e, &r, &c); A[r][c] = frag_el(ap, abits, l, e); }
        for (int e = 0; e < nbe; e++) { b_rc(shape, bt, l, e, &r, &c); B[r][c] = frag_el(bp, bbits, l, e); }
        for (int e = 0; e < nce; e++) { c_rc(shape, l, e, &r, &c); C[r][c] = frag_el(cp, cbits, l, e); }
    }
    /* block scales: per row of A and column of B, one per K/nsc elements */
    double SA[16][4], SB[8][4];
    int nsc = 0;
    if (desc & MMA_BLOCK_SCALE) {
        uint32_t sw = xo[1 + nc + na + nb + nc + 2];
        int sft = sw & 0xff;
        nsc = (sw >> 8) & 0xf;
        const uint64_t *sa = SRC(x, xo[1 + nc + na + nb + nc]), *sb = SRC(x, xo[1 + nc + na + nb + nc + 1]);
        for (int j = 0; j < nsc; j++) {
            /* selectors {0, 0}: row r's scales come from lane 4(r % 8) + r / 8, column c's from
             * lane 4c; byte j scales the j-th block of K / nsc elements */
            for (int r = 0; r < M; r++) SA[r][j] = mma_scale(sft, (uint8_t)(sa[4 * (r % 8) + r / 8] >> (8 * j)));
            for (int c = 0; c < N; c++) SB[c][j] = mma_scale(sft, (uint8_t)(sb[4 * c] >> (8 * j)));
        }
    }
    /* floating sources converted once, not once per product (every product
     * of two narrow floats is exact in double, so the sums are unchanged) */
    double Af[16][64], Bf[64][8];
    if (!integer && at != T_F64) {
        for (int r = 0; r < M; r++)
            for (int k = 0; k < K; k++) Af[r][k] = fval(at, A[r][k]);
        for (int k = 0; k < K; k++)
            for (int c = 0; c < N; c++) Bf[k][c] = fval(bt, B[k][c]);
    }
    uint64_t D[16][8];
    if (integer) {
        for (int r = 0; r < M; r++)
            for (int c = 0; c < N; c++) {
                int64_t s = (int64_t)(int32_t)C[r][c];
                for (int k = 0; k < K; k++) s += ival(at, A[r][k]) * ival(bt, B[k][c]);
                if (i->fl & F_SAT) s = s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s;
                D[r][c] = (uint32_t)s;
            }
    } else if (at == T_F64) {
        for (int r = 0; r < M; r++)
            for (int c = 0; c < N; c++) {
                double s = bits_f64(C[r][c]);
                for (int k = 0; k < K; k++) s = fma(bits_f64(A[r][k]), bits_f64(B[k][c]), s);
                D[r][c] = f64_bits(s);
            }
    } else {
        for (int r = 0; r < M; r++) {
            /* per element the products in k order (block by block when
             * block-scaled); the columns innermost so they vectorise */
            double S[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            if (nsc) {
                for (int c = 0; c < N; c++)
                    for (int j = 0; j < nsc; j++) {
                        double blk = 0;
                        for (int k = j * K / nsc; k < (j + 1) * K / nsc; k++) blk += Af[r][k] * Bf[k][c];
                        S[c] += blk * SA[r][j] * SB[c][j];
                    }
            } else {
                for (int k = 0; k < K; k++) {
                    double a = Af[r][k];
                    for (int c = 0; c < 8; c++) S[c] += a * Bf[k][c];
                }
            }
            for (int c = 0; c < N; c++) {
                double v = S[c] + (ct == T_F16 ? (double)f16_to_f32((uint16_t)C[r][c]) : (double)bits_f32(C[r][c]));
                if (dt == T_F16) D[r][c] = isnan(v) ? 0x7fff : f64_to_f16(v, RND_RN, false);
                else D[r][c] = isnan(v) ? 0x7fffffffu : f32_bits((float)v);
            }
        }
    }
    /* scatter (after every source was read: D may alias A, B or C) */
    uint64_t out[4][WARP];
    int dbits = ebits(dt), per = dbits >= 32 ? 1 : 32 / dbits;
    for (int l = 0; l < WARP; l++) {
        for (int k = 0; k < nc; k++) out[k][l] = 0;
        for (int e = 0; e < nce; e++) {
            int r, c;
            c_rc(shape, l, e, &r, &c);
            out[e / per][l] |= D[r][c] << ((e % per) * dbits);
        }
    }
    for (int k = 0; k < nc; k++) {
        uint64_t *d = DST(x, dref[k]);
        FOR_LANES(m, d[l] = out[k][l]);
    }
    return 0;
}

/* ---- ldmatrix / stmatrix / movmatrix ---- */
static int do_ldst_matrix(struct xctx *x, const struct ins *i, uint32_t m)
{
    struct warp *w = x->w;
    int num = i->sub;
    bool trans = i->bop != 0, st = i->op == OP_STMATRIX;
    uint32_t alane = num == 4 ? FULL_MASK : (1u << (8 * num)) - 1;
    alane &= w->valid & ~w->exited; /* rows of lanes that do not exist are zero / not stored */
    uint64_t addr[WARP];
    uint8_t *ptr[WARP];
    x_lane_addrs(x, i, alane, addr);
    if (!x_resolve(x, i, alane, addr, 16, 16, i->space, st, ptr)) return -1;
    uint16_t mat[4][8][8];
    if (!st) {
        memset(mat, 0, sizeof mat);
        for (uint32_t mm = alane; mm; mm &= mm - 1) {
            int l = __builtin_ctz(mm);
            memcpy(mat[l >> 3][l & 7], ptr[l], 16);
        }
        for (int j = 0; j < num; j++) {
            uint64_t *d = DST(x, i->o[j]);
            FOR_LANES(m, {
                int g = l >> 2, t = l & 3;
                uint32_t lo = trans ? mat[j][2 * t][g] : mat[j][g][2 * t];
                uint32_t hi = trans ? mat[j][2 * t + 1][g] : mat[j][g][2 * t + 1];
                d[l] = lo | hi << 16;
            });
        }
        return 0;
    }
    for (int j = 0; j < num; j++) {
        const uint64_t *s = SRC(x, i->o[j]);
        for (int l = 0; l < WARP; l++) {
            int g = l >> 2, t = l & 3;
            uint16_t lo = (uint16_t)s[l], hi = (uint16_t)(s[l] >> 16);
            if (trans) { mat[j][2 * t][g] = lo; mat[j][2 * t + 1][g] = hi; }
            else { mat[j][g][2 * t] = lo; mat[j][g][2 * t + 1] = hi; }
        }
    }
    for (uint32_t mm = alane; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        memcpy(ptr[l], mat[l >> 3][l & 7], 16);
    }
    return 0;
}

static int do_movmatrix(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint64_t *a = SRC(x, i->o[1]);
    uint16_t mat[8][8];
    for (int l = 0; l < WARP; l++) {
        mat[l >> 2][2 * (l & 3)] = (uint16_t)a[l];
        mat[l >> 2][2 * (l & 3) + 1] = (uint16_t)(a[l] >> 16);
    }
    uint64_t *d = DST(x, i->o[0]);
    FOR_LANES(m, {
        int g = l >> 2, t = l & 3;
        d[l] = (uint32_t)mat[2 * t][g] | (uint32_t)mat[2 * t + 1][g] << 16;
    });
    return 0;
}

/* ---- wmma (m16n16k16, m8n32k16, m32n8k16) ----
 * The ISA leaves the distribution of matrix elements over a warp's wmma
 * fragments unspecified; this machine uses its own, consistent between
 * wmma.load, wmma.mma and wmma.store (and the same for .row and .col memory
 * layouts: a fragment always holds the logical matrix). A fragment has S
 * slots per lane (its registers times the elements each holds); slot e of
 * lane l holds element (l * S + e) mod R*C of the R x C matrix in row-major
 * order. Where the warp has more slots than the matrix has elements (.f16
 * a/b fragments are 8 registers for every shape) the matrix is repeated;
 * mma reads any copy. For m16n16k16 this is lane l % 16, element e of
 * row-major a/b, and l * 8 + e for c/d and 8-bit a/b.
 * Numerics as for mma above. */

/* rows and columns of the matrix a fragment of sub (A, B, or C/D) holds */
static void wmma_dims(int shape, int sub, int *rows, int *cols)
{
    int M = shape == WMMA_M8N32K16 ? 8 : shape == WMMA_M32N8K16 ? 32 : 16, N = 256 / M;
    if (sub == WMMA_LOAD_A) { *rows = M; *cols = 16; }
    else if (sub == WMMA_LOAD_B) { *rows = 16; *cols = N; }
    else { *rows = M; *cols = N; }
}

static int do_wmma(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint32_t *xo = x->L->m->xops + i->asym;
    int shape = i->t2;
    if (i->sub != WMMA_MMA) {
        int cnt = (int)xo[0], t = i->t, eb = ebits(t), es = eb / 8;
        int per = eb >= 32 ? 1 : 32 / eb, nel = cnt * per;
        bool st = i->sub == WMMA_STORE_D;
        int rows, cols;
        wmma_dims(shape, i->sub == WMMA_STORE_D ? WMMA_LOAD_C : i->sub, &rows, &cols);
        int total = rows * cols;
        uint64_t base[WARP], addr[WARP];
        uint8_t *ptr[16][WARP];
        x_lane_addrs(x, i, m, base);
        const uint64_t *sr = i->o[0] != REF_NONE ? SRC(x, i->o[0]) : NULL;
        uint64_t def_ld = (uint64_t)(i->bop ? rows : cols);
        for (int e = 0; e < nel; e++) {
            FOR_LANES(m, {
                int idx = (l * nel + e) % total, r = idx / cols, c = idx % cols;
                uint64_t ld = sr ? (uint32_t)sr[l] : def_ld;
                uint64_t off = i->bop ? (uint64_t)c * ld + (uint64_t)r : (uint64_t)r * ld + (uint64_t)c;
                addr[l] = base[l] + off * (uint64_t)es;
            });
            if (!x_resolve(x, i, m, addr, (unsigned)es, (unsigned)es, i->space, st, ptr[e])) return -1;
        }
        if (st) {
            for (int e = 0; e < nel; e++) {
                const uint64_t *s = SRC(x, xo[1 + e / per]);
                FOR_LANES(m, {
                    uint64_t v = s[l] >> ((e % per) * eb);
                    memcpy(ptr[e][l], &v, (size_t)es); /* little-endian host: the low bytes */
                });
            }
            return 0;
        }
        uint64_t out[8][WARP];
        memset(out, 0, sizeof out);
        for (int e = 0; e < nel; e++)
            FOR_LANES(m, {
                uint64_t v = 0;
                memcpy(&v, ptr[e][l], (size_t)es);
                out[e / per][l] |= v << ((e % per) * eb);
            });
        for (int k = 0; k < cnt; k++) {
            uint64_t *d = DST(x, xo[1 + k]);
            FOR_LANES(m, d[l] = out[k][l]);
        }
        return 0;
    }
    uint32_t desc = xo[0];
    int dt = desc & 0xff, ct = (desc >> 8) & 0xff, at = (desc >> 16) & 0xff, bt = desc >> 24;
    int ab = ebits(at), cb = ebits(ct), db = ebits(dt);
    int M, N, ar, ac, br, bc;
    wmma_dims(shape, WMMA_LOAD_C, &M, &N);
    wmma_dims(shape, WMMA_LOAD_A, &ar, &ac);
    wmma_dims(shape, WMMA_LOAD_B, &br, &bc);
    /* registers: as the decoder counted them (8 for .f16 a/b) */
    int na = at == T_F16 ? 8 : (ar * ac) / 128, nb = at == T_F16 ? 8 : (br * bc) / 128;
    int nd = dt == T_F16 ? 4 : 8;
    const uint32_t *dref = xo + 1, *aref = dref + nd, *bref = aref + na, *cref = bref + nb;
    int sa = na * (32 / ab), sb = nb * (32 / ab);
    uint64_t A[512], B[512], C[256], D[256];
    /* gather register by register (the matrix sizes are powers of two) */
    const uint64_t *ap[8], *bp[8], *cp[8];
    for (int j = 0; j < na; j++) ap[j] = SRC(x, aref[j]);
    for (int j = 0; j < nb; j++) bp[j] = SRC(x, bref[j]);
    int nc = cb == 16 ? 4 : 8;
    for (int j = 0; j < nc; j++) cp[j] = SRC(x, cref[j]);
    unsigned amask = (unsigned)(ar * ac - 1), bmask = (unsigned)(br * bc - 1);
    int aper = 32 / ab, cper = 32 / cb;
    uint64_t emask = ab == 16 ? 0xffff : 0xff, cmask = cb == 16 ? 0xffff : 0xffffffffu;
    for (int l = 0; l < WARP; l++) {
        for (int j = 0; j < na; j++)
            for (int h = 0; h < aper; h++) A[((unsigned)(l * sa + j * aper + h)) & amask] = ap[j][l] >> (h * ab) & emask;
        for (int j = 0; j < nb; j++)
            for (int h = 0; h < aper; h++) B[((unsigned)(l * sb + j * aper + h)) & bmask] = bp[j][l] >> (h * ab) & emask;
        for (int j = 0; j < nc; j++)
            for (int h = 0; h < cper; h++) C[l * 8 + j * cper + h] = cp[j][l] >> (h * cb) & cmask;
    }
    bool integer = at != T_F16;
    if (!integer) {
        /* operands decoded once; per element the same k order, columns
         * innermost (as in do_mma) */
        double Af[512], Bf[512], S[32];
        for (int k = 0; k < ar * ac; k++) Af[k] = f16_to_f32((uint16_t)A[k]);
        for (int k = 0; k < br * bc; k++) Bf[k] = f16_to_f32((uint16_t)B[k]);
        for (int r = 0; r < M; r++) {
            for (int c = 0; c < N; c++) S[c] = 0;
            for (int k = 0; k < 16; k++) {
                double a = Af[r * 16 + k];
                for (int c = 0; c < N; c++) S[c] += a * Bf[k * N + c];
            }
            for (int c = 0; c < N; c++) {
                double s = S[c] + (ct == T_F16 ? (double)f16_to_f32((uint16_t)C[r * N + c]) : (double)bits_f32(C[r * N + c]));
                if (dt == T_F16) D[r * N + c] = isnan(s) ? 0x7fff : f64_to_f16(s, RND_RN, false);
                else D[r * N + c] = isnan(s) ? 0x7fffffffu : f32_bits((float)s);
            }
        }
    } else {
        for (int r = 0; r < M; r++)
            for (int c = 0; c < N; c++) {
                int64_t s = (int64_t)(int32_t)C[r * N + c];
                for (int k = 0; k < 16; k++) s += ival(at, A[r * 16 + k]) * ival(bt, B[k * N + c]);
                if (i->fl & F_SAT) s = s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s;
                D[r * N + c] = (uint32_t)s;
            }
    }
    int per = db >= 32 ? 1 : 32 / db;
    uint64_t out[8][WARP];
    memset(out, 0, sizeof out);
    for (int l = 0; l < WARP; l++)
        for (int e = 0; e < 8; e++) out[e / per][l] |= D[l * 8 + e] << ((e % per) * db);
    for (int k = 0; k < nd; k++) {
        uint64_t *d = DST(x, dref[k]);
        FOR_LANES(m, d[l] = out[k][l]);
    }
    return 0;
}

int x_tensor(struct xctx *x, const struct ins *i, uint32_t m)
{
    switch (i->op) {
    case OP_MMA: return do_mma(x, i, m);
    case OP_LDMATRIX: case OP_STMATRIX: return do_ldst_matrix(x, i, m);
    case OP_MOVMATRIX: return do_movmatrix(x, i, m);
    case OP_WMMA: return do_wmma(x, i, m);
    }
    xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "instruction not supported yet");
    return -1;
}

/* ---- cp.async ---- */
int x_cpasync(struct xctx *x, const struct ins *i, uint32_t m)
{
    if (i->sub != 1) return 0; /* commit_group / wait_group / wait_all: every copy is already complete */
    unsigned n = i->vec;
    uint64_t daddr[WARP], saddr[WARP];
    uint8_t *dptr[WARP], *sptr[WARP];
    unsigned ss[WARP];
    x_lane_addrs(x, i, m, daddr);
    const uint64_t *base = i->o[0] != REF_NONE ? SRC(x, i->o[0]) : NULL;
    const uint64_t *off = SRC(x, i->o[1]);
    const uint64_t *srcsz = i->o[2] != REF_NONE ? SRC(x, i->o[2]) : NULL;
    const uint64_t *ign = i->o[3] != REF_NONE ? xsrc(x->w, x->pool, i->o[3] & ~REF_NEGBIT) : NULL;
    bool ignneg = (i->o[3] & REF_NEGBIT) != 0;
    uint32_t full = 0, part = 0;
    FOR_LANES(m, {
        uint64_t b = base ? base[l] : 0, o = off[l];
        if (i->bop == 1) b = (uint32_t)b;
        if (i->bop == 2) o = (uint32_t)o;
        saddr[l] = b + o;
        unsigned s = srcsz ? (unsigned)(uint32_t)srcsz[l] : n;
        if (s > n) s = n;
        if (ign && ((ign[l] & 1) ^ ignneg)) s = 0;
        ss[l] = s;
        if (s == n) full |= 1u << l;
        else if (s) part |= 1u << l;
    });
    if (!x_resolve(x, i, m, daddr, n, n, i->space, true, dptr)) return -1;
    if (full && !x_resolve(x, i, full, saddr, n, n, SP_GLOBAL, false, sptr)) return -1;
    for (uint32_t mm = part; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        if (!x_resolve(x, i, 1u << l, saddr, ss[l], n, SP_GLOBAL, false, sptr)) return -1;
    }
    FOR_LANES(m, {
        if (ss[l]) memmove(dptr[l], sptr[l], ss[l]);
        if (ss[l] < n) memset(dptr[l] + ss[l], 0, n - ss[l]);
    });
    return 0;
}
