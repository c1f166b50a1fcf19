// Kernels of test_ptx_tex.c: each thread samples a texture object at
// coordinates of its own and writes what it read.
extern "C" __global__ void tex2d_f4(cudaTextureObject_t t, float4 *out, int n, float x0, float y0, float dx, float dy)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex2D<float4>(t, x0 + dx * i, y0 + dy * (i % 13));
}

extern "C" __global__ void tex3d_f(cudaTextureObject_t t, float *out, int n, float x0, float dx)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex3D<float>(t, x0 + dx * i, 0.25f + 0.37f * (i % 7), 0.6f + 0.53f * (i % 5));
}

extern "C" __global__ void tex1d_f(cudaTextureObject_t t, float *out, int n, float x0, float dx)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex1D<float>(t, x0 + dx * i);
}

extern "C" __global__ void fetch_i(cudaTextureObject_t t, int4 *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex1Dfetch<int4>(t, i - 2);
}

extern "C" __global__ void tex2d_u2(cudaTextureObject_t t, uint2 *out, int n, int w)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex2D<uint2>(t, (float)(i % w) + 0.5f, (float)(i / w) + 0.5f);
}

// Surfaces: every thread reads the word at byte 4 * (i - 2) of row 1 three
// ways (clamped, zero outside, trapping when trap is set) and writes i
// there (.trap stores) when it is inside.
extern "C" __global__ void surf_rw(cudaSurfaceObject_t s, int *out, int n, int w, int trap)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int bx = 4 * (i - 2);
    out[3 * i] = surf2Dread<int>(s, bx, 1, cudaBoundaryModeClamp);
    out[3 * i + 1] = surf2Dread<int>(s, bx, 1, cudaBoundaryModeZero);
    if (trap)
        out[3 * i + 2] = surf2Dread<int>(s, bx, 1, cudaBoundaryModeTrap);
    if (i - 2 >= 0 && i - 2 < w)
        surf2Dwrite(i, s, bx, 2);
}
