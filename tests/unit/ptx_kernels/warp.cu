// Warp-level, atomic and printf instructions (tests/unit/test_ptx_warp.c).
#include <cstdio>
extern "C" {
__global__ void warp_ops(const int *in, int *out)
{
    int t = threadIdx.x;
    int v = in[t];
    int *o = out + t * 12;
    o[0] = __shfl_sync(0xffffffffu, v, 7);
    o[1] = __shfl_up_sync(0xffffffffu, v, 3);
    o[2] = __shfl_down_sync(0xffffffffu, v, 5);
    o[3] = __shfl_xor_sync(0xffffffffu, v, 9);
    o[4] = __shfl_sync(0xffffffffu, v, t + 2, 8);
    o[5] = __ballot_sync(0xffffffffu, v & 1);
    o[6] = __all_sync(0xffffffffu, v > -1000);
    o[7] = __any_sync(0xffffffffu, v == 12345);
    o[8] = __match_any_sync(0xffffffffu, v & 3);
    int s = v;
    for (int k = 16; k > 0; k >>= 1) s += __shfl_xor_sync(0xffffffffu, s, k);
    o[9] = s;
    unsigned m = __activemask();
    if (t & 1) o[10] = __ballot_sync(0x55555555u ^ 0xffffffffu, 1); else o[10] = m;
#if __CUDA_ARCH__ >= 800
    o[11] = __reduce_add_sync(0xffffffffu, v);
#else
    o[11] = s;
#endif
}
__global__ void atomics(int *ctr, unsigned *mx, float *fsum, double *dsum, unsigned long long *u64, int *cas, int *old)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    old[t] = atomicAdd(ctr, 1);
    atomicMax(mx, (unsigned)(t * 7919 % 1000));
    atomicAdd(fsum, 0.5f);
    atomicAdd(dsum, 0.25);
    atomicAdd(u64, 1ull << 33);
    atomicInc((unsigned *)ctr + 1, 99);
    atomicOr(ctr + 2, 1 << (t & 31));
    __shared__ int sh;
    if (threadIdx.x == 0) sh = 0;
    __syncthreads();
    atomicAdd(&sh, t);
    __syncthreads();
    if (threadIdx.x == 0) atomicAdd(ctr + 3, sh);
    while (atomicCAS(cas, 0, 1) != 0) { }
    cas[1] += 1; /* protected by the lock */
    __threadfence();
    atomicExch(cas, 0);
}
__global__ void hello(int x, double y, const char *s)
{
    if (threadIdx.x < 2) printf("t%d x=%d y=%.3f s=%s c=%c %5.1e %lld %x\n", threadIdx.x, x, y, s, 'A' + threadIdx.x, y * 1000, -5ll, 255);
}
}
