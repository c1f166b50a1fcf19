// Narrow float formats (tests/unit/test_ptx_narrow.c): the conversions of
// cuda_fp4.h / cuda_fp8.h that compile to single cvt instructions for an
// arch-specific target (compute_120a: cvt.rn.satfinite.e2m1x2.f32,
// cvt.rn.f16x2.e2m1x2, cvt.rn.bf16x2.ue8m0x2, the fp8 pairs). What ggml's
// MXFP4 kernels use.
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
}
