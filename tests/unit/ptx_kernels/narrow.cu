// Narrow float formats (tests/unit/test_ptx_narrow.c): the conversions of
// cuda_fp4.h / cuda_fp8.h that compile to single cvt instructions for an
// arch-specific target (compute_120a: cvt.rn.satfinite.e2m1x2.f32,
// cvt.rn.f16x2.e2m1x2, cvt.rn.bf16x2.ue8m0x2, the fp8 pairs). What ggml's
// MXFP4 kernels use, with the block-scaled fp4 mma.sync (mma_mxf4).
#include <cuda_fp4.h>
#include <cuda_fp8.h>
extern "C" {

#define NN 6
// A, B: floats; E: 16-bit inputs (a fp4 pair in the low byte, two e8m0 scales)
__global__ void narrow_ops(const float *A, const float *B, const unsigned short *E, unsigned *out)
{
    int t = threadIdx.x + blockIdx.x * blockDim.x;
    float a = A[t], b = B[t];
    unsigned short e = E[t];
    unsigned *o = out + t * NN;
    o[0] = __nv_cvt_float2_to_fp4x2(make_float2(a, b), __NV_E2M1, cudaRoundNearest);
    __half2_raw h2 = __nv_cvt_fp4x2_to_halfraw2((__nv_fp4x2_storage_t)e, __NV_E2M1);
    o[1] = (unsigned)h2.y << 16 | h2.x;
    o[2] = __nv_cvt_e8m0_to_bf16raw((__nv_fp8_storage_t)e).x;
    __nv_bfloat162_raw b2 = __nv_cvt_e8m0x2_to_bf162raw((__nv_fp8x2_storage_t)e);
    o[3] = (unsigned)b2.y << 16 | b2.x;
    o[4] = __nv_cvt_float2_to_fp8x2(make_float2(a, b), __NV_SATFINITE, __NV_E4M3);
    h2 = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)e, __NV_E4M3);
    o[5] = (unsigned)h2.y << 16 | h2.x;
}

// m16n8k64 e2m1 x e2m1 with block scales, both kinds. Per lane: A 4 regs, B 2, C 4 floats,
// scale-a, scale-b; out: 4 floats of kind::mxf4 (ue8m0), then 4 of kind::mxf4nvf4 (ue4m3).
__global__ void mma_mxf4(const unsigned *A, const unsigned *B, const float *C, const unsigned *S, float *out)
{
    int l = threadIdx.x;
    const unsigned *a = A + 4 * l, *b = B + 2 * l;
    float d0 = C[4 * l], d1 = C[4 * l + 1], d2 = C[4 * l + 2], d3 = C[4 * l + 3];
    asm volatile("mma.sync.aligned.kind::mxf4.block_scale.scale_vec::2X.m16n8k64.row.col.f32.e2m1.e2m1.f32.ue8m0 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3}, %10, {0, 0}, %11, {0, 0};"
                 : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(S[4 * l]), "r"(S[4 * l + 1]));
    out[8 * l] = d0; out[8 * l + 1] = d1; out[8 * l + 2] = d2; out[8 * l + 3] = d3;
    d0 = C[4 * l]; d1 = C[4 * l + 1]; d2 = C[4 * l + 2]; d3 = C[4 * l + 3];
    asm volatile("mma.sync.aligned.kind::mxf4nvf4.block_scale.scale_vec::4X.m16n8k64.row.col.f32.e2m1.e2m1.f32.ue4m3 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3}, %10, {0, 0}, %11, {0, 0};"
                 : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(S[4 * l + 2]), "r"(S[4 * l + 3]));
    out[8 * l + 4] = d0; out[8 * l + 5] = d1; out[8 * l + 6] = d2; out[8 * l + 7] = d3;
}
}
