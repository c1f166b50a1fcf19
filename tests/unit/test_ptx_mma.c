/*
 * test_ptx_mma.c — warp matrix instructions and cp.async on the PTX machine:
 * ldmatrix (x1/x2/x4, .trans, shared and generic addresses), movmatrix,
 * stmatrix, mma.sync (f16/bf16 -> f32/f16, tf32, s8/u8 with and without
 * .satfinite, e4m3 x e5m2, f64), wmma m16n16k16, m8n32k16, m32n8k16 (.f16 -> .f32/.f16, .s8 ->
 * .s32 .satfinite; .row/.col, strides, global and shared) and cp.async
 * (src-size zero fill, bad source).
 * Kernels: ptx_kernels/mma.cu (compute_75, compute_80, compute_90, compute_120).
 *
 * The mma kernels take fragment registers packed here from the ISA's
 * fragment layouts and return D the same way; references are computed on the
 * host. Two kinds of inputs: small integers, for which every accumulation
 * order gives the exact product (checked against integer arithmetic, no
 * rounding model involved), and general values, checked bit for bit against
 * the rounding mma.c documents (exact products summed in double in k order,
 * plus c, rounded once to nearest even). mma_ldm_f16 builds its fragments
 * with cp.async + ldmatrix from row-major matrices, which cross-checks the
 * ldmatrix and mma layouts against each other.
 */
#include <math.h>

#include "ptx_kernels/harness.h"

uint16_t f64_to_f16(double v, int rnd, bool sat_finite); /* rgpu_ptx (fp.c) */
#define RN 1                                             /* RND_RN */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* ---- element types and their values ---- */
enum { F16 = 1, BF16, TF32, S8, U8, E4M3, E5M2, F32, S32, F64 };
static int bits_of(int t)
{
    switch (t) {
    case F16: case BF16: return 16;
    case S8: case U8: case E4M3: case E5M2: return 8;
    case F64: return 64;
    default: return 32;
    }
}
static double fp_val(uint64_t b, int ebits, int mbits)
{
    int bias = (1 << (ebits - 1)) - 1;
    int s = (int)(b >> (ebits + mbits)) & 1, e = (int)(b >> mbits) & ((1 << ebits) - 1);
    double m = (double)(b & ((1ull << mbits) - 1));
    double v = e ? ldexp(1.0 + m / (double)(1ull << mbits), e - bias) : ldexp(m / (double)(1ull << mbits), 1 - bias);
    return s ? -v : v;
}
static double val(int t, uint64_t b)
{
    float f;
    uint32_t u;
    switch (t) {
    case F16: return fp_val(b, 5, 10);
    case BF16: u = (uint32_t)b << 16; memcpy(&f, &u, 4); return f;
    case TF32: u = (uint32_t)b & 0xffffe000u; memcpy(&f, &u, 4); return f;
    case F32: u = (uint32_t)b; memcpy(&f, &u, 4); return f;
    case E4M3: return fp_val(b, 4, 3);
    case E5M2: return fp_val(b, 5, 2);
    case S8: return (int8_t)b;
    case U8: return (uint8_t)b;
    case S32: return (int32_t)b;
    default: { double d; memcpy(&d, &b, 8); return d; }
    }
}
/* bits of the small integer v (|v| <= 3 for multiplicands, any int for C) */
static uint64_t enc_int(int t, int v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    switch (t) {
    case F16: return f64_to_f16(v, RN, false);
    case BF16: return u >> 16;
    case TF32: case F32: return u;
    case S8: case U8: case S32: return (uint32_t)v;
    case E4M3: case E5M2: {
        for (uint32_t b = 0; b < 256; b++)
            if (val(t, b) == (double)v) return b;
        fail_msg("no fp8 encoding of %d", v);
    }
    default: { double d = v; uint64_t r; memcpy(&r, &d, 8); return r; }
    }
}
/* a random finite value of type t (general inputs) */
static uint64_t gen(int t)
{
    uint32_t r = rnd32();
    switch (t) {
    case F16: return (r & 0x83ff) | (uint32_t)(8 + r % 15) << 10;
    case BF16: return (r & 0x807f) | (uint32_t)(118 + r % 18) << 7;
    case TF32: case F32: return (rnd32() & 0x807fffffu) | (uint32_t)(118 + r % 18) << 23;
    case E4M3: { uint32_t b = r & 0xff; return (b & 0x7f) == 0x7f ? b ^ 1 : b; }
    case E5M2: { uint32_t b = r & 0xff; return (b & 0x7c) == 0x7c ? b & ~0x40u : b; }
    case S8: case U8: return r & 0xff;
    case S32: return rnd32();
    default: { double d = ldexp((double)(int32_t)rnd32(), -(int)(r % 40)); uint64_t u; memcpy(&u, &d, 8); return u; }
    }
}

/* ---- fragment layouts (PTX ISA, "Matrix fragments for mma.mMnNkK") ---- */
enum { K8 = 1, K16, K4, S8K16, K32, D8K4 }; /* m16n8k8 m16n8k16 m16n8k4 m8n8k16 m16n8k32 m8n8k4 */
static void a_rc(int sh, int at, int l, int i, int *r, int *c)
{
    int g = l >> 2, t = l & 3;
    switch (sh) {
    case K8:
        if (at == TF32) { *r = i == 0 || i == 2 ? g : g + 8; *c = i < 2 ? t : t + 4; }
        else { *r = i < 2 ? g : g + 8; *c = t * 2 + (i & 1); }
        break;
    case K16:
        if (bits_of(at) == 16) { *r = (i < 2 || (i >= 4 && i < 6)) ? g : g + 8; *c = t * 2 + (i & 1) + (i >= 4 ? 8 : 0); }
        else { *r = i < 4 ? g : g + 8; *c = t * 4 + (i & 3); }
        break;
    case S8K16: *r = g; *c = t * 4 + i; break;
    case K32: *r = (i < 4 || (i >= 8 && i < 12)) ? g : g + 8; *c = t * 4 + (i & 3) + (i >= 8 ? 16 : 0); break;
    default: *r = g; *c = t; break;
    }
}
static void b_rc(int sh, int bt, int l, int i, int *r, int *c)
{
    int g = l >> 2, t = l & 3;
    *c = g;
    switch (sh) {
    case K8: *r = bt == TF32 ? (i == 0 ? t : t + 4) : t * 2 + i; break;
    case K16: *r = bits_of(bt) == 16 ? t * 2 + (i & 1) + (i >= 2 ? 8 : 0) : t * 4 + i; break;
    case S8K16: *r = t * 4 + i; break;
    case K32: *r = t * 4 + (i & 3) + (i >= 4 ? 16 : 0); break;
    default: *r = t; break;
    }
}
static void c_rc(int sh, int l, int i, int *r, int *c)
{
    int g = l >> 2, t = l & 3;
    if (sh == S8K16 || sh == D8K4) { *r = g; *c = t * 2 + i; }
    else { *r = i < 2 ? g : g + 8; *c = t * 2 + (i & 1); }
}

struct form { const char *ptx, *kernel; int sh, at, bt, dt; int na, nb, nc; bool sat; };

static void pack(uint64_t *regs, int nregs, int t, int nel, int l, int e, uint64_t bits)
{
    int b = bits_of(t), per = b >= 32 ? 1 : 32 / b;
    (void)nel;
    regs[l * nregs + e / per] |= (bits & (b == 64 ? ~0ull : (1ull << b) - 1)) << ((e % per) * b);
}
static uint64_t unpack(const uint64_t *regs, int nregs, int t, int l, int e)
{
    int b = bits_of(t), per = b >= 32 ? 1 : 32 / b;
    uint64_t v = regs[l * nregs + e / per] >> ((e % per) * b);
    return b == 64 ? v : v & ((1ull << b) - 1);
}

/* run one mma form on A/B/C (element bits) and compare D with the reference */
static void run_form(const struct form *f, bool small)
{
    int M = f->sh == S8K16 || f->sh == D8K4 ? 8 : 16, N = 8;
    int K = f->sh == K8 ? 8 : f->sh == K16 || f->sh == S8K16 ? 16 : f->sh == K32 ? 32 : 4;
    bool integer = f->at == S8 || f->at == U8;
    uint64_t A[16][32], B[32][8], C[16][8];
    int iA[16][32], iB[32][8], iC[16][8];
    for (int r = 0; r < M; r++)
        for (int k = 0; k < K; k++) {
            iA[r][k] = (int)(rnd32() % 7) - 3;
            if (f->at == U8) iA[r][k] += 3;
            A[r][k] = small ? enc_int(f->at, iA[r][k]) : gen(f->at);
        }
    for (int k = 0; k < K; k++)
        for (int c = 0; c < N; c++) {
            iB[k][c] = (int)(rnd32() % 7) - 3;
            if (f->bt == U8) iB[k][c] += 3;
            B[k][c] = small ? enc_int(f->bt, iB[k][c]) : gen(f->bt);
        }
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++) {
            iC[r][c] = (int)(rnd32() % 101) - 50;
            C[r][c] = small ? enc_int(f->dt, iC[r][c]) : gen(f->dt);
            if (!small && f->sat && (r + c) % 3 == 0) C[r][c] = (r & 1) ? 0x7fffff00u : 0x80000100u;
        }
    bool wide = f->dt == F64;
    size_t rs = wide ? 8 : 4;
    uint64_t ra[32 * 4] = {0}, rb[32 * 2] = {0}, rc[32 * 4] = {0}, rd[32 * 4];
    int bA = bits_of(f->at), bB = bits_of(f->bt), bC = bits_of(f->dt);
    int nae = f->na * (bA >= 32 ? 1 : 32 / bA), nbe = f->nb * (bB >= 32 ? 1 : 32 / bB), nce = f->nc * (bC >= 32 ? 1 : 32 / bC);
    for (int l = 0; l < 32; l++) {
        int r, c;
        for (int e = 0; e < nae; e++) { a_rc(f->sh, f->at, l, e, &r, &c); pack(ra, f->na, f->at, nae, l, e, A[r][c]); }
        for (int e = 0; e < nbe; e++) { b_rc(f->sh, f->bt, l, e, &r, &c); pack(rb, f->nb, f->bt, nbe, l, e, B[r][c]); }
        for (int e = 0; e < nce; e++) { c_rc(f->sh, l, e, &r, &c); pack(rc, f->nc, f->dt, nce, l, e, C[r][c]); }
    }
    uint8_t *da = h_dev(32 * 4 * rs), *db = h_dev(32 * 2 * rs), *dc = h_dev(32 * 4 * rs), *dd = h_dev(32 * 4 * rs);
    for (int k = 0; k < 32 * 4; k++) {
        memcpy(da + k * rs, &ra[k], rs);
        memcpy(dc + k * rs, &rc[k], rs);
        if (k < 64) memcpy(db + k * rs, &rb[k], rs);
    }
    struct ptx_module *m = h_load(f->ptx);
    const struct ptx_kernel *kn = ptx_module_find_kernel(m, f->kernel);
    assert_non_null(kn);
    struct h_params p;
    H_P(kn, &p, 0, (void *)da);
    H_P(kn, &p, 1, (void *)db);
    H_P(kn, &p, 2, (void *)dc);
    H_P(kn, &p, 3, (void *)dd);
    h_launch(m, f->kernel, 1, 32, &p);
    for (int k = 0; k < 32 * 4; k++) { rd[k] = 0; memcpy(&rd[k], dd + k * rs, rs); }
    for (int l = 0; l < 32; l++)
        for (int e = 0; e < nce; e++) {
            int r, c;
            c_rc(f->sh, l, e, &r, &c);
            uint64_t got = unpack(rd, f->nc, f->dt, l, e), want;
            if (integer || small) {
                int64_t s = small ? iC[r][c] : (int64_t)(int32_t)C[r][c];
                for (int k = 0; k < K; k++)
                    s += small ? (int64_t)iA[r][k] * iB[k][c] : (int64_t)val(f->at, A[r][k]) * (int64_t)val(f->bt, B[k][c]);
                if (f->sat) s = s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s;
                want = integer ? (uint32_t)s : enc_int(f->dt, (int)s);
            } else if (f->dt == F64) {
                double s = val(F64, C[r][c]);
                for (int k = 0; k < K; k++) s = fma(val(F64, A[r][k]), val(F64, B[k][c]), s);
                memcpy(&want, &s, 8);
            } else {
                double s = 0;
                for (int k = 0; k < K; k++) s += val(f->at, A[r][k]) * val(f->bt, B[k][c]);
                s += val(f->dt, C[r][c]);
                if (f->dt == F16) want = f64_to_f16(s, RN, false);
                else { float fl = (float)s; uint32_t u; memcpy(&u, &fl, 4); want = u; }
            }
            if (got != want)
                fail_msg("%s (%s inputs): D[%d][%d] = 0x%llx, want 0x%llx", f->kernel, small ? "small" : "general", r, c,
                         (unsigned long long)got, (unsigned long long)want);
        }
    ptx_module_free(m);
    h_dev_free_all();
}

static const struct form forms[] = {
    {"mma_75.ptx", "mma_m16n8k8_f32_f16", K8, F16, F16, F32, 2, 1, 4, false},
    {"mma_75.ptx", "mma_m16n8k8_f16_f16", K8, F16, F16, F16, 2, 1, 2, false},
    {"mma_75.ptx", "mma_m8n8k16_s8", S8K16, S8, S8, S32, 1, 1, 2, false},
    {"mma_80.ptx", "mma_m16n8k16_f32_f16", K16, F16, F16, F32, 4, 2, 4, false},
    {"mma_80.ptx", "mma_m16n8k16_f32_bf16", K16, BF16, BF16, F32, 4, 2, 4, false},
    {"mma_80.ptx", "mma_m16n8k16_f16_f16", K16, F16, F16, F16, 4, 2, 2, false},
    {"mma_80.ptx", "mma_m16n8k8_tf32", K8, TF32, TF32, F32, 4, 2, 4, false},
    {"mma_80.ptx", "mma_m16n8k32_s8u8_sat", K32, S8, U8, S32, 4, 2, 4, true},
    {"mma_80.ptx", "mma_m16n8k32_s8", K32, S8, S8, S32, 4, 2, 4, false},
    {"mma_80.ptx", "mma_m16n8k16_u8s8", K16, U8, S8, S32, 2, 1, 4, false},
    {"mma_80.ptx", "mma_m8n8k4_f64", D8K4, F64, F64, F64, 1, 1, 2, false},
    {"mma_90.ptx", "mma_m16n8k32_e4m3_e5m2", K32, E4M3, E5M2, F32, 4, 2, 4, false},
    {"mma_90.ptx", "mma_m16n8k16_f32_f16", K16, F16, F16, F32, 4, 2, 4, false},
    /* compute_120 PTX (what NVIDIA's current libraries ship) of every family */
    {"mma_120.ptx", "mma_m16n8k8_f32_f16", K8, F16, F16, F32, 2, 1, 4, false},
    {"mma_120.ptx", "mma_m8n8k16_s8", S8K16, S8, S8, S32, 1, 1, 2, false},
    {"mma_120.ptx", "mma_m16n8k16_f32_bf16", K16, BF16, BF16, F32, 4, 2, 4, false},
    {"mma_120.ptx", "mma_m16n8k16_f16_f16", K16, F16, F16, F16, 4, 2, 2, false},
    {"mma_120.ptx", "mma_m16n8k8_tf32", K8, TF32, TF32, F32, 4, 2, 4, false},
    {"mma_120.ptx", "mma_m16n8k32_s8u8_sat", K32, S8, U8, S32, 4, 2, 4, true},
    {"mma_120.ptx", "mma_m8n8k4_f64", D8K4, F64, F64, F64, 1, 1, 2, false},
    {"mma_120.ptx", "mma_m16n8k32_e4m3_e5m2", K32, E4M3, E5M2, F32, 4, 2, 4, false},
};

static void test_mma(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++)
        for (int rep = 0; rep < 3; rep++) {
            run_form(&forms[k], true);
            run_form(&forms[k], false);
        }
}

/* ---- ldmatrix / movmatrix ---- */
static uint32_t frag(uint16_t M[8][8], int l, bool trans)
{
    int g = l >> 2, t = l & 3;
    return trans ? (uint32_t)M[2 * t][g] | (uint32_t)M[2 * t + 1][g] << 16
                 : (uint32_t)M[g][2 * t] | (uint32_t)M[g][2 * t + 1] << 16;
}

static void test_ldmatrix(void **state)
{
    /* the PTX file: the test's prestate */
    struct ptx_module *m = h_load((const char *)*state);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "ldm");
    uint16_t *in = h_dev(32 * 8 * 2);
    uint32_t *out = h_dev(32 * 16 * 4);
    for (int i = 0; i < 256; i++) in[i] = (uint16_t)rnd32();
    struct h_params p;
    H_P(k, &p, 0, in);
    H_P(k, &p, 1, out);
    h_launch(m, "ldm", 1, 32, &p);
    uint16_t M[4][8][8];
    for (int j = 0; j < 4; j++)
        for (int r = 0; r < 8; r++)
            for (int c = 0; c < 8; c++) M[j][r][c] = in[(((8 * j + r) * 5 + 3) % 32) * 8 + c];
    for (int l = 0; l < 32; l++) {
        uint32_t *o = out + l * 16;
        assert_int_equal(o[0], frag(M[0], l, false));
        assert_int_equal(o[1], frag(M[0], l, false));
        assert_int_equal(o[2], frag(M[1], l, false));
        for (int j = 0; j < 4; j++) assert_int_equal(o[3 + j], frag(M[j], l, false));
        for (int j = 0; j < 4; j++) assert_int_equal(o[7 + j], frag(M[j], l, true));
        assert_int_equal(o[11], frag(M[0], l, true));
        assert_int_equal(o[12], frag(M[1], l, true));
        assert_int_equal(o[13], frag(M[0], l, true));
        assert_int_equal(o[14], frag(M[0], l, true)); /* movmatrix of the x4's first fragment */
    }
    /* out of bounds and misaligned row addresses fail the launch, nothing stored */
    k = ptx_module_find_kernel(m, "ldm_bad");
    memset(out, 0x5a, 32 * 4);
    H_P(k, &p, 0, (uint32_t)(1u << 20));
    H_P(k, &p, 1, out);
    assert_int_equal(h_launch_ex(m, "ldm_bad", 1, 1, 32, 1, 1, 0, &p, 1, NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    H_P(k, &p, 0, (uint32_t)8);
    assert_int_equal(h_launch_ex(m, "ldm_bad", 1, 1, 32, 1, 1, 0, &p, 1, NULL), CUDA_ERROR_MISALIGNED_ADDRESS);
    assert_int_equal(out[0], 0x5a5a5a5a);
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_stmatrix(void **state)
{
    /* the PTX file: the test's prestate */
    struct ptx_module *m = h_load((const char *)*state);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "stm");
    uint32_t *in = h_dev(32 * 4 * 4);
    uint16_t *out = h_dev(3 * 256 * 2);
    for (int i = 0; i < 128; i++) in[i] = rnd32();
    struct h_params p;
    H_P(k, &p, 0, in);
    H_P(k, &p, 1, out);
    h_launch(m, "stm", 1, 32, &p);
    uint16_t F[4][8][8]; /* fragment matrices: lane l, register j holds F[j][l/4][2(l%4)..+1] */
    for (int l = 0; l < 32; l++)
        for (int j = 0; j < 4; j++) {
            F[j][l >> 2][2 * (l & 3)] = (uint16_t)in[l * 4 + j];
            F[j][l >> 2][2 * (l & 3) + 1] = (uint16_t)(in[l * 4 + j] >> 16);
        }
    uint16_t want[3][32][8];
    for (int r = 0; r < 32; r++)
        for (int c = 0; c < 8; c++) want[2][r][c] = 0xdead;
    for (int l = 0; l < 32; l++) {
        int j = l >> 3, r = l & 7, prow = (l * 5 + 3) % 32;
        for (int c = 0; c < 8; c++) {
            want[0][prow][c] = F[j][r][c];
            want[1][prow][c] = F[j][c][r];
            if (j == 0) want[2][prow][c] = F[0][r][c];
        }
    }
    assert_memory_equal(out, want, sizeof want);
    ptx_module_free(m);
    h_dev_free_all();
}

/* ---- ldmatrix + mma + cp.async together ---- */
static void test_mma_ldmatrix(void **state)
{
    /* the PTX file: the test's prestate */
    struct ptx_module *m = h_load((const char *)*state);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "mma_ldm_f16");
    for (int rep = 0; rep < 4; rep++) {
        uint16_t *a = h_dev(16 * 16 * 2), *b = h_dev(16 * 8 * 2);
        float *d = h_dev(16 * 8 * 4);
        bool small = rep < 2;
        int ia[16][16], ib[16][8];
        for (int i = 0; i < 256; i++) { ia[i / 16][i % 16] = (int)(rnd32() % 9) - 4; a[i] = small ? (uint16_t)enc_int(F16, ia[i / 16][i % 16]) : (uint16_t)gen(F16); }
        for (int i = 0; i < 128; i++) { ib[i / 8][i % 8] = (int)(rnd32() % 9) - 4; b[i] = small ? (uint16_t)enc_int(F16, ib[i / 8][i % 8]) : (uint16_t)gen(F16); }
        struct h_params p;
        H_P(k, &p, 0, a);
        H_P(k, &p, 1, b);
        H_P(k, &p, 2, d);
        h_launch(m, "mma_ldm_f16", 1, 32, &p);
        for (int r = 0; r < 16; r++)
            for (int c = 0; c < 8; c++) {
                double s = 0;
                long si = 0;
                for (int kk = 0; kk < 16; kk++) {
                    s += val(F16, a[r * 16 + kk]) * val(F16, b[kk * 8 + c]);
                    si += ia[r][kk] * ib[kk][c];
                }
                float want = small ? (float)si : (float)(s + 0.0);
                if (memcmp(&d[r * 8 + c], &want, 4) != 0)
                    fail_msg("mma_ldm_f16: D[%d][%d] = %a, want %a", r, c, (double)d[r * 8 + c], (double)want);
            }
        h_dev_free_all();
    }
    ptx_module_free(m);
}

/* ---- wmma m16n16k16 (opaque fragments: checked through load/mma/store) ---- */
static void test_wmma(void **state)
{
    /* the PTX file: the test's prestate */
    struct ptx_module *m = h_load((const char *)*state);
    for (int rep = 0; rep < 4; rep++) {
        bool small = rep < 2;
        uint16_t *a = h_dev(512), *b = h_dev(512), *dh = h_dev(24 * 16 * 2);
        float *c = h_dev(1024), *d = h_dev(1024);
        int ia[16][16], ib[16][16], ic[16][16];
        for (int r = 0; r < 16; r++)
            for (int k = 0; k < 16; k++) {
                ia[r][k] = (int)(rnd32() % 9) - 4;
                ib[r][k] = (int)(rnd32() % 9) - 4;
                ic[r][k] = (int)(rnd32() % 101) - 50;
                a[r * 16 + k] = small ? (uint16_t)enc_int(F16, ia[r][k]) : (uint16_t)gen(F16);
                b[k * 16 + r] = small ? (uint16_t)enc_int(F16, ib[r][k]) : (uint16_t)gen(F16); /* col-major B[r][k] */
                uint32_t cb = small ? (uint32_t)enc_int(F32, ic[r][k]) : (uint32_t)gen(F32);
                memcpy(&c[r * 16 + k], &cb, 4);
            }
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "wmma_f16");
        struct h_params p;
        H_P(k, &p, 0, a);
        H_P(k, &p, 1, b);
        H_P(k, &p, 2, c);
        H_P(k, &p, 3, d);
        H_P(k, &p, 4, dh);
        h_launch(m, "wmma_f16", 1, 32, &p);
        for (int r = 0; r < 16; r++)
            for (int n = 0; n < 16; n++) {
                double s = 0;
                long si = 0;
                for (int kk = 0; kk < 16; kk++) {
                    s += val(F16, a[r * 16 + kk]) * val(F16, b[n * 16 + kk]);
                    si += (long)ia[r][kk] * ib[kk][n];
                }
                float want = small ? (float)(si + ic[r][n]) : (float)(s + (double)c[r * 16 + n]);
                if (memcmp(&d[r * 16 + n], &want, 4) != 0)
                    fail_msg("wmma_f16: D[%d][%d] = %a, want %a", r, n, (double)d[r * 16 + n], (double)want);
                uint16_t wh = small ? (uint16_t)enc_int(F16, (int)si + 1) : f64_to_f16(s + 1.0, RN, false);
                assert_int_equal(dh[n * 24 + r], wh);
            }
        /* s8 with .satfinite: A given transposed (col-major), B row-major */
        int8_t *a8 = h_dev(256), *b8 = h_dev(256);
        int32_t *c8 = h_dev(1024), *d8 = h_dev(1024);
        for (int i = 0; i < 256; i++) {
            a8[i] = (int8_t)rnd32();
            b8[i] = (int8_t)rnd32();
            c8[i] = small ? (int32_t)rnd32() : (i % 3 ? 0x7fffff00 : (int32_t)0x80000100);
        }
        k = ptx_module_find_kernel(m, "wmma_s8");
        H_P(k, &p, 0, a8);
        H_P(k, &p, 1, b8);
        H_P(k, &p, 2, c8);
        H_P(k, &p, 3, d8);
        h_launch(m, "wmma_s8", 1, 32, &p);
        for (int r = 0; r < 16; r++)
            for (int n = 0; n < 16; n++) {
                int64_t s = c8[r * 16 + n];
                for (int kk = 0; kk < 16; kk++) s += (int64_t)a8[kk * 16 + r] * b8[kk * 16 + n];
                s = s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s;
                assert_int_equal(d8[r * 16 + n], (int32_t)s);
            }
        h_dev_free_all();
    }
    ptx_module_free(m);
}

/* ---- wmma m8n32k16 and m32n8k16 ---- */
static void wmma_shape(struct ptx_module *m, int M, int N)
{
    char name[32];
    uint16_t *a = h_dev(2 * 512), *b = h_dev(2 * 512), *dh = h_dev(2 * 512);
    float *c = h_dev(4 * 256), *d = h_dev(4 * 256);
    for (int i = 0; i < M * 16; i++) a[i] = (uint16_t)gen(F16);       /* A: M x 16, row-major */
    for (int i = 0; i < 16 * N; i++) b[i] = (uint16_t)gen(F16);       /* B: 16 x N, column-major */
    for (int i = 0; i < M * N; i++) { uint32_t cb = (uint32_t)gen(F32); memcpy(&c[i], &cb, 4); }
    snprintf(name, sizeof name, "wmma_f16_%dx%d", M, N);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, name);
    assert_non_null(k);
    struct h_params p;
    H_P(k, &p, 0, a);
    H_P(k, &p, 1, b);
    H_P(k, &p, 2, c);
    H_P(k, &p, 3, d);
    H_P(k, &p, 4, dh);
    h_launch(m, name, 1, 32, &p);
    for (int r = 0; r < M; r++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int kk = 0; kk < 16; kk++) s += val(F16, a[r * 16 + kk]) * val(F16, b[n * 16 + kk]);
            float want = (float)(s + (double)c[r * N + n]);
            if (memcmp(&d[r * N + n], &want, 4) != 0)
                fail_msg("%s: D[%d][%d] = %a, want %a", name, r, n, (double)d[r * N + n], (double)want);
            assert_int_equal(dh[n * (M + 8) + r], f64_to_f16(s + 1.0, RN, false));
        }
    int8_t *a8 = h_dev(512), *b8 = h_dev(512);
    int32_t *c8 = h_dev(4 * 256), *d8 = h_dev(4 * 256);
    for (int i = 0; i < 512; i++) {
        a8[i] = (int8_t)rnd32();
        b8[i] = (int8_t)rnd32();
    }
    for (int i = 0; i < 256; i++) c8[i] = (int32_t)(rnd32() % 20001) - 10000;
    snprintf(name, sizeof name, "wmma_s8_%dx%d", M, N);
    k = ptx_module_find_kernel(m, name);
    assert_non_null(k);
    H_P(k, &p, 0, a8);
    H_P(k, &p, 1, b8);
    H_P(k, &p, 2, c8);
    H_P(k, &p, 3, d8);
    h_launch(m, name, 1, 32, &p);
    for (int r = 0; r < M; r++)
        for (int n = 0; n < N; n++) {
            int64_t s = c8[r * N + n];
            for (int kk = 0; kk < 16; kk++) s += (int64_t)a8[r * 16 + kk] * b8[kk * N + n];
            assert_int_equal(d8[r * N + n], (int32_t)s);
        }
    h_dev_free_all();
}

static void test_wmma_shapes(void **state)
{
    struct ptx_module *m = h_load((const char *)*state);
    for (int rep = 0; rep < 3; rep++) {
        wmma_shape(m, 8, 32);
        wmma_shape(m, 32, 8);
    }
    ptx_module_free(m);
}

static void test_cp_async(void **state)
{
    /* the PTX file: the test's prestate */
    struct ptx_module *m = h_load((const char *)*state);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "cpa");
    uint8_t *src = h_dev(512), *out = h_dev(512);
    for (int i = 0; i < 512; i++) src[i] = (uint8_t)rnd32();
    for (int srcsize = 1; srcsize < 18; srcsize += 4) {
        struct h_params p;
        H_P(k, &p, 0, src);
        H_P(k, &p, 1, out);
        H_P(k, &p, 2, srcsize);
        h_launch(m, "cpa", 1, 32, &p);
        for (int l = 0; l < 32; l++) {
            int ss = (l * srcsize) % 17;
            for (int b = 0; b < 16; b++) assert_int_equal(out[l * 16 + b], b < ss ? src[l * 16 + b] : 0);
        }
    }
    /* a source that is not device memory fails the launch */
    k = ptx_module_find_kernel(m, "cpa_bad");
    uint8_t *notdev = malloc(256);
    struct h_params p;
    H_P(k, &p, 0, notdev);
    H_P(k, &p, 1, out);
    assert_int_equal(h_launch_ex(m, "cpa_bad", 1, 1, 32, 1, 1, 0, &p, 1, NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    free(notdev);
    ptx_module_free(m);
    h_dev_free_all();
}

/* forms not implemented load, and fail the launch cleanly only when reached */
static void test_unsupported(void **state)
{
    (void)state;
    static const char *forms[] = {
        "wmma.load.a.sync.aligned.row.m16n16k8.shared.tf32 {%r1, %r2, %r3, %r4}, [%r9];",
        "mma.sync.aligned.m16n8k16.row.col.f64.f64.f64.f64 {%fd1, %fd2, %fd3, %fd4}, {%fd5, %fd6, %fd7, %fd8, "
        "%fd9, %fd10, %fd11, %fd12}, {%fd13, %fd14, %fd15, %fd16}, {%fd1, %fd2, %fd3, %fd4};",
        "ldmatrix.sync.aligned.m16n16.x1.trans.shared.b8 {%r1, %r2}, [%r9];",
        /* multicast to the CTAs of a cluster (non-multicast bulk copies: test_ptx_async.c) */
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%r1], [%rd1], 16, "
        "[%r2], %r3;",
    };
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        char text[2048];
        snprintf(text, sizeof text,
                 ".version 8.7\n.target sm_90\n.address_size 64\n"
                 ".visible .entry k(.param .u32 go)\n{\n.reg .pred %%p<2>;\n.reg .b32 %%r<10>;\n"
                 ".reg .b64 %%rd<4>;\n.reg .f64 %%fd<20>;\nld.param.u32 %%r9, [go];\n"
                 "setp.eq.u32 %%p1, %%r9, 0;\n@%%p1 bra DONE;\n%s\nDONE:\nret;\n}\n", forms[f]);
        struct ptx_module *m = NULL;
        char err[256];
        assert_int_equal(ptx_module_parse(text, strlen(text), &m, err, sizeof err), CUDA_SUCCESS);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "k");
        struct h_params p;
        H_P(k, &p, 0, (uint32_t)0);
        assert_int_equal(h_launch_ex(m, "k", 1, 1, 32, 1, 1, 0, &p, 1, NULL), CUDA_SUCCESS);
        H_P(k, &p, 0, (uint32_t)1);
        assert_int_equal(h_launch_ex(m, "k", 1, 1, 32, 1, 1, 0, &p, 1, NULL), CUDA_ERROR_ILLEGAL_INSTRUCTION);
        ptx_module_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_ldmatrix, "mma_75.ptx"),
        cmocka_unit_test_prestate(test_ldmatrix, "mma_120.ptx"),
        cmocka_unit_test_prestate(test_stmatrix, "mma_90.ptx"),
        cmocka_unit_test_prestate(test_stmatrix, "mma_120.ptx"),
        cmocka_unit_test(test_mma),
        cmocka_unit_test_prestate(test_mma_ldmatrix, "mma_80.ptx"),
        cmocka_unit_test_prestate(test_mma_ldmatrix, "mma_120.ptx"),
        cmocka_unit_test_prestate(test_wmma, "mma_75.ptx"),
        cmocka_unit_test_prestate(test_wmma, "mma_120.ptx"),
        cmocka_unit_test_prestate(test_wmma_shapes, "mma_75.ptx"),
        cmocka_unit_test_prestate(test_wmma_shapes, "mma_120.ptx"),
        cmocka_unit_test_prestate(test_cp_async, "mma_80.ptx"),
        cmocka_unit_test_prestate(test_cp_async, "mma_120.ptx"),
        cmocka_unit_test(test_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
