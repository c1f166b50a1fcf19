// Warp matrix instructions and cp.async (tests/unit/test_ptx_mma.c).
// Compiled for compute_75 (ldmatrix, movmatrix, m16n8k8 f16, m8n8k16 s8),
// compute_80 (mma f16/bf16/tf32/s8/f64, cp.async) and compute_90 (stmatrix,
// fp8 mma). The mma kernels take every lane's fragment registers packed by
// the host (a[lane * NA + r] ...) and return D the same way, so the host
// decides the layout; mma_ldm_f16 instead builds its fragments with
// ldmatrix from row-major matrices, as real kernels do.
#include <cstdint>
#include <mma.h>
typedef unsigned u32;
typedef unsigned long long u64;

#define LD(n, arr, src) for (int r_ = 0; r_ < n; r_++) arr[r_] = src[l * n + r_]
#define ST(n, arr, dst) for (int r_ = 0; r_ < n; r_++) dst[l * n + r_] = arr[r_]

extern "C" {

/* ---- ldmatrix / movmatrix (sm_75) ----
 * in: 32 rows of 8 halves; lane l (matrix l/8, row l%8) addresses row perm(l). out: per lane 16 words. */
__global__ void ldm(const unsigned short *in, u32 *out)
{
    __shared__ __align__(16) unsigned short sm[32 * 8];
    int l = threadIdx.x;
    for (int k = 0; k < 8; k++) sm[l * 8 + k] = in[l * 8 + k];
    __syncwarp();
    const unsigned short *row = sm + ((l * 5 + 3) % 32) * 8;
    u32 sa = (u32)__cvta_generic_to_shared(row);
    u32 r[16];
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];" : "=r"(r[0]) : "r"(sa));
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];" : "=r"(r[1]), "=r"(r[2]) : "r"(sa));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[3]), "=r"(r[4]), "=r"(r[5]), "=r"(r[6]) : "r"(sa));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[7]), "=r"(r[8]), "=r"(r[9]), "=r"(r[10]) : "r"(sa));
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.b16 {%0, %1}, [%2];" : "=r"(r[11]), "=r"(r[12]) : "l"(row));
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared::cta.b16 {%0}, [%1];" : "=r"(r[13]) : "r"(sa));
    asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(r[14]) : "r"(r[3]));
    r[15] = 0;
    for (int k = 0; k < 16; k++) out[l * 16 + k] = r[k];
}

/* ldmatrix from an address outside shared memory: must fail cleanly */
__global__ void ldm_bad(u32 off, u32 *out)
{
    __shared__ __align__(16) unsigned short sm[64];
    u32 sa = (u32)__cvta_generic_to_shared(sm) + off;
    u32 r;
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];" : "=r"(r) : "r"(sa));
    out[threadIdx.x] = r;
}

__global__ void mma_m16n8k8_f32_f16(const u32 *a, const u32 *b, const u32 *c, u32 *d)
{
    int l = threadIdx.x;
    u32 A[2], B[1], C[4], D[4];
    LD(2, A, a); LD(1, B, b); LD(4, C, c);
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};"
                 : "=r"(D[0]), "=r"(D[1]), "=r"(D[2]), "=r"(D[3])
                 : "r"(A[0]), "r"(A[1]), "r"(B[0]), "r"(C[0]), "r"(C[1]), "r"(C[2]), "r"(C[3]));
    ST(4, D, d);
}
__global__ void mma_m16n8k8_f16_f16(const u32 *a, const u32 *b, const u32 *c, u32 *d)
{
    int l = threadIdx.x;
    u32 A[2], B[1], C[2], D[2];
    LD(2, A, a); LD(1, B, b); LD(2, C, c);
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f16.f16.f16.f16 {%0,%1}, {%2,%3}, {%4}, {%5,%6};"
                 : "=r"(D[0]), "=r"(D[1]) : "r"(A[0]), "r"(A[1]), "r"(B[0]), "r"(C[0]), "r"(C[1]));
    ST(2, D, d);
}
__global__ void mma_m8n8k16_s8(const u32 *a, const u32 *b, const u32 *c, u32 *d)
{
    int l = threadIdx.x;
    u32 A[1], B[1], C[2], D[2];
    LD(1, A, a); LD(1, B, b); LD(2, C, c);
    asm volatile("mma.sync.aligned.m8n8k16.row.col.s32.s8.s8.s32 {%0,%1}, {%2}, {%3}, {%4,%5};"
                 : "=r"(D[0]), "=r"(D[1]) : "r"(A[0]), "r"(B[0]), "r"(C[0]), "r"(C[1]));
    ST(2, D, d);
}

/* wmma m16n16k16 (the fragment layout is opaque: only load/mma/store consistency matters) */
__global__ void wmma_f16(const __half *a, const __half *b, const float *c, float *d, __half *dh)
{
    using namespace nvcuda;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
    wmma::fragment<wmma::accumulator, 16, 16, 16, __half> fh;
    wmma::load_matrix_sync(fa, a, 16);
    wmma::load_matrix_sync(fb, b, 16);
    wmma::load_matrix_sync(fc, c, 16, wmma::mem_row_major);
    wmma::mma_sync(fc, fa, fb, fc);
    wmma::store_matrix_sync(d, fc, 16, wmma::mem_row_major);
    wmma::fill_fragment(fh, __float2half(1.0f));
    wmma::mma_sync(fh, fa, fb, fh);
    wmma::store_matrix_sync(dh, fh, 24, wmma::mem_col_major); /* D^T with leading dimension 24 */
}
__global__ void wmma_s8(const signed char *a, const signed char *b, const int *c, int *d)
{
    using namespace nvcuda;
    __shared__ __align__(32) signed char sa[256];
    __shared__ __align__(32) int sd[256];
    for (int k = threadIdx.x; k < 256; k += 32) sa[k] = a[k];
    __syncwarp();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, signed char, wmma::col_major> fa; /* a holds A^T */
    wmma::fragment<wmma::matrix_b, 16, 16, 16, signed char, wmma::row_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, int> fc;
    wmma::load_matrix_sync(fa, sa, 16);
    wmma::load_matrix_sync(fb, b, 16);
    wmma::load_matrix_sync(fc, c, 16, wmma::mem_row_major);
    wmma::mma_sync(fc, fa, fb, fc, true);
    wmma::store_matrix_sync(sd, fc, 16, wmma::mem_row_major);
    __syncwarp();
    for (int k = threadIdx.x; k < 256; k += 32) d[k] = sd[k];
}

/* wmma m8n32k16 and m32n8k16 (ggml's lightning indexer uses m8n32k16): f16 with
 * f32 and f16 accumulators (D^T stored column-major with leading dimension
 * M + 8), and s8 with A and B row-major */
#define WMMA_SHAPE_F16(name, M, N)                                                                 \
    __global__ void name(const __half *a, const __half *b, const float *c, float *d, __half *dh)   \
    {                                                                                              \
        using namespace nvcuda;                                                                    \
        wmma::fragment<wmma::matrix_a, M, N, 16, __half, wmma::row_major> fa;                      \
        wmma::fragment<wmma::matrix_b, M, N, 16, __half, wmma::col_major> fb;                      \
        wmma::fragment<wmma::accumulator, M, N, 16, float> fc;                                     \
        wmma::fragment<wmma::accumulator, M, N, 16, __half> fh;                                    \
        wmma::load_matrix_sync(fa, a, 16);                                                         \
        wmma::load_matrix_sync(fb, b, 16);                                                         \
        wmma::load_matrix_sync(fc, c, N, wmma::mem_row_major);                                     \
        wmma::mma_sync(fc, fa, fb, fc);                                                            \
        wmma::store_matrix_sync(d, fc, N, wmma::mem_row_major);                                    \
        wmma::fill_fragment(fh, __float2half(1.0f));                                               \
        wmma::mma_sync(fh, fa, fb, fh);                                                            \
        wmma::store_matrix_sync(dh, fh, M + 8, wmma::mem_col_major);                               \
    }
#define WMMA_SHAPE_S8(name, M, N)                                                                  \
    __global__ void name(const signed char *a, const signed char *b, const int *c, int *d)         \
    {                                                                                              \
        using namespace nvcuda;                                                                    \
        wmma::fragment<wmma::matrix_a, M, N, 16, signed char, wmma::row_major> fa;                 \
        wmma::fragment<wmma::matrix_b, M, N, 16, signed char, wmma::row_major> fb;                 \
        wmma::fragment<wmma::accumulator, M, N, 16, int> fc;                                       \
        wmma::load_matrix_sync(fa, a, 16);                                                         \
        wmma::load_matrix_sync(fb, b, N);                                                          \
        wmma::load_matrix_sync(fc, c, N, wmma::mem_row_major);                                     \
        wmma::mma_sync(fc, fa, fb, fc);                                                            \
        wmma::store_matrix_sync(d, fc, N, wmma::mem_row_major);                                    \
    }
WMMA_SHAPE_F16(wmma_f16_8x32, 8, 32)
WMMA_SHAPE_F16(wmma_f16_32x8, 32, 8)
WMMA_SHAPE_S8(wmma_s8_8x32, 8, 32)
WMMA_SHAPE_S8(wmma_s8_32x8, 32, 8)

#if __CUDA_ARCH__ >= 800
#define MMA_4_2_4(name, spec)                                                                               \
    __global__ void name(const u32 *a, const u32 *b, const u32 *c, u32 *d)                                  \
    {                                                                                                       \
        int l = threadIdx.x;                                                                                \
        u32 A[4], B[2], C[4], D[4];                                                                         \
        LD(4, A, a); LD(2, B, b); LD(4, C, c);                                                              \
        asm volatile("mma.sync.aligned." spec " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};" \
                     : "=r"(D[0]), "=r"(D[1]), "=r"(D[2]), "=r"(D[3])                                       \
                     : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B[0]), "r"(B[1]), "r"(C[0]),         \
                       "r"(C[1]), "r"(C[2]), "r"(C[3]));                                                    \
        ST(4, D, d);                                                                                        \
    }
MMA_4_2_4(mma_m16n8k16_f32_f16, "m16n8k16.row.col.f32.f16.f16.f32")
MMA_4_2_4(mma_m16n8k16_f32_bf16, "m16n8k16.row.col.f32.bf16.bf16.f32")
MMA_4_2_4(mma_m16n8k8_tf32, "m16n8k8.row.col.f32.tf32.tf32.f32")
MMA_4_2_4(mma_m16n8k32_s8u8_sat, "m16n8k32.row.col.satfinite.s32.s8.u8.s32")
MMA_4_2_4(mma_m16n8k32_s8, "m16n8k32.row.col.s32.s8.s8.s32")
__global__ void mma_m16n8k16_u8s8(const u32 *a, const u32 *b, const u32 *c, u32 *d)
{
    int l = threadIdx.x;
    u32 A[2], B[1], C[4], D[4];
    LD(2, A, a); LD(1, B, b); LD(4, C, c);
    asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};"
                 : "=r"(D[0]), "=r"(D[1]), "=r"(D[2]), "=r"(D[3])
                 : "r"(A[0]), "r"(A[1]), "r"(B[0]), "r"(C[0]), "r"(C[1]), "r"(C[2]), "r"(C[3]));
    ST(4, D, d);
}
#if __CUDA_ARCH__ >= 900
MMA_4_2_4(mma_m16n8k32_e4m3_e5m2, "m16n8k32.row.col.f32.e4m3.e5m2.f32")
#endif

__global__ void mma_m16n8k16_f16_f16(const u32 *a, const u32 *b, const u32 *c, u32 *d)
{
    int l = threadIdx.x;
    u32 A[4], B[2], C[2], D[2];
    LD(4, A, a); LD(2, B, b); LD(2, C, c);
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f16.f16.f16.f16 {%0,%1}, {%2,%3,%4,%5}, {%6,%7}, {%8,%9};"
                 : "=r"(D[0]), "=r"(D[1])
                 : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B[0]), "r"(B[1]), "r"(C[0]), "r"(C[1]));
    ST(2, D, d);
}
__global__ void mma_m8n8k4_f64(const u64 *a, const u64 *b, const u64 *c, u64 *d)
{
    int l = threadIdx.x;
    double A = __longlong_as_double(a[l]), B = __longlong_as_double(b[l]);
    double C0 = __longlong_as_double(c[2 * l]), C1 = __longlong_as_double(c[2 * l + 1]), D0, D1;
    asm volatile("mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {%0,%1}, {%2}, {%3}, {%4,%5};"
                 : "=d"(D0), "=d"(D1) : "d"(A), "d"(B), "d"(C0), "d"(C1));
    d[2 * l] = __double_as_longlong(D0);
    d[2 * l + 1] = __double_as_longlong(D1);
}

/* D(16x8, f32, row-major) = A(16x16 f16, row-major) * B(16x8 f16, row-major [k][n]) + 0,
 * the fragments loaded with ldmatrix.x4 (A) and ldmatrix.x2.trans (B) from shared
 * memory filled by cp.async; D stored from the C/D fragment layout. */
__global__ void mma_ldm_f16(const unsigned short *a, const unsigned short *b, float *d)
{
    __shared__ __align__(16) unsigned short sa[16 * 16], sb[16 * 8];
    int l = threadIdx.x;
    /* 16 bytes per lane for A (512 bytes), 8 bytes per lane for B (256) */
    u32 da = (u32)__cvta_generic_to_shared(sa + l * 8), db = (u32)__cvta_generic_to_shared(sb + l * 4);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(da), "l"(a + l * 8));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(db), "l"(b + l * 4));
    asm volatile("cp.async.commit_group;");
    asm volatile("cp.async.wait_group 0;");
    __syncwarp();
    u32 A[4], B[2], D[4];
    u32 pa = (u32)__cvta_generic_to_shared(sa + (l % 16) * 16 + (l / 16) * 8);
    u32 pb = (u32)__cvta_generic_to_shared(sb + (l % 16) * 8);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(A[0]), "=r"(A[1]), "=r"(A[2]), "=r"(A[3]) : "r"(pa));
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];" : "=r"(B[0]), "=r"(B[1]) : "r"(pb));
    float f[4];
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%10,%10,%10,%10};"
                 : "=f"(f[0]), "=f"(f[1]), "=f"(f[2]), "=f"(f[3])
                 : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B[0]), "r"(B[1]), "f"(0.0f));
    (void)D;
    int g = l >> 2, t = l & 3;
    d[g * 8 + 2 * t] = f[0];
    d[g * 8 + 2 * t + 1] = f[1];
    d[(g + 8) * 8 + 2 * t] = f[2];
    d[(g + 8) * 8 + 2 * t + 1] = f[3];
}

/* cp.async with src-size (zero fill) and a predicate-guarded copy; out = 32 x 16 bytes */
__global__ void cpa(const unsigned char *src, unsigned char *out, int srcsize)
{
    __shared__ __align__(16) unsigned char sm[32 * 16];
    int l = threadIdx.x;
    for (int k = 0; k < 16; k++) sm[l * 16 + k] = 0xee;
    __syncwarp();
    u32 dst = (u32)__cvta_generic_to_shared(sm + l * 16);
    int ss = (l * srcsize) % 17; /* 0..16 bytes from the source, the rest zero */
    asm volatile("cp.async.cg.shared.global.L2::128B [%0], [%1], 16, %2;" ::"r"(dst), "l"(src + l * 16), "r"(ss));
    asm volatile("cp.async.commit_group;");
    asm volatile("cp.async.wait_all;");
    __syncwarp();
    for (int k = 0; k < 16; k++) out[l * 16 + k] = sm[l * 16 + k];
}
/* cp.async whose source is not device memory: must fail cleanly */
__global__ void cpa_bad(const unsigned char *src, unsigned char *out)
{
    __shared__ __align__(16) unsigned char sm[32 * 4];
    int l = threadIdx.x;
    u32 dst = (u32)__cvta_generic_to_shared(sm + l * 4);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(dst), "l"(src + l * 4));
    asm volatile("cp.async.wait_all;");
    out[l] = sm[l * 4];
}
#endif

#if __CUDA_ARCH__ >= 900
/* stmatrix: lane l holds words v[j] = in[l * 4 + j]; out: x4 then x4.trans then x1, 32 rows of 8 halves each */
__global__ void stm(const u32 *in, unsigned short *out)
{
    __shared__ __align__(16) unsigned short sm[3 * 32 * 8];
    int l = threadIdx.x;
    for (int k = 0; k < 24; k++) sm[l * 24 + k] = 0xdead;
    __syncwarp();
    u32 v0 = in[l * 4], v1 = in[l * 4 + 1], v2 = in[l * 4 + 2], v3 = in[l * 4 + 3];
    int prow = (l * 5 + 3) % 32; /* lane l (matrix l/8, row l%8) stores to row prow */
    u32 p0 = (u32)__cvta_generic_to_shared(sm + prow * 8);
    u32 p1 = (u32)__cvta_generic_to_shared(sm + 256 + prow * 8);
    u32 p2 = (u32)__cvta_generic_to_shared(sm + 512 + prow * 8);
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1,%2,%3,%4};" ::"r"(p0), "r"(v0), "r"(v1), "r"(v2),
                 "r"(v3));
    asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1,%2,%3,%4};" ::"r"(p1), "r"(v0), "r"(v1),
                 "r"(v2), "r"(v3));
    asm volatile("stmatrix.sync.aligned.m8n8.x1.shared.b16 [%0], {%1};" ::"r"(p2), "r"(v0));
    __syncwarp();
    for (int k = 0; k < 24; k++) out[l * 24 + k] = sm[l * 24 + k];
}
#endif
}
