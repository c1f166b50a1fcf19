/*
 * it_kernels.cu — the kernels of the module/launch integration tests.
 *
 * Built at build time (tests/integration/modules.cmake) into PTX for
 * compute_75, PTX for compute_120, a fatbin holding both PTXs, and a fatbin
 * holding only an sm_90 cubin. extern "C" keeps the names plain. Every
 * kernel is small and deterministic; the host checks every result exactly
 * (float values are chosen so that fused and unfused arithmetic agree).
 *
 * Keep IT_KERNEL_NAMES in modules.c in step with the kernels here.
 */
#include "it_kernels.h"

/* ---- module-scope variables ---- */
__device__ int dev_init[IT_DEV_INIT_LEN] = {11, 22, 33, 44};
__device__ float dev_scale;                   /* set by the host */
__device__ unsigned int ping_count;           /* bumped by ping */
__constant__ int const_table[IT_CONST_TABLE_LEN]; /* set by the host */

extern "C" __global__ void vec_add(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}

extern "C" __global__ void saxpy(float a, const float *x, float *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = a * x[i] + y[i];
}

/* every kind of parameter, written back as received */
extern "C" __global__ void all_kinds(signed char c, short s, int i, long long ll, float f, double d, const int *p,
                                     struct it_tiny3 t3, struct it_odd o, char c2, struct it_al16 a16,
                                     struct it_arr arr, struct it_all_out *out)
{
    if (threadIdx.x != 0 || blockIdx.x != 0)
        return;
    out->c = c;
    out->c_ext = c;
    out->s = s;
    out->s_ext = s;
    out->i = i;
    out->ll = ll;
    out->f = f;
    out->d = d;
    out->p = (unsigned long long)p;
    out->p_val = *p;
    out->t3 = t3;
    out->o = o;
    out->c2 = c2;
    out->a16 = a16;
    out->arr = arr;
    out->out = (unsigned long long)out;
}

/* reads a __constant__ array and two __device__ variables */
extern "C" __global__ void use_globals(int *out, float *fout, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = const_table[i % IT_CONST_TABLE_LEN] + dev_init[i % IT_DEV_INIT_LEN];
        fout[i] = dev_scale * (float)i;
    }
}

/* writes a __device__ variable: dev_init[k] *= 2 */
extern "C" __global__ void double_init(void)
{
    if (threadIdx.x < IT_DEV_INIT_LEN)
        dev_init[threadIdx.x] *= 2;
}

/* no parameters at all; one atomic increment per thread */
extern "C" __global__ void ping(void) { atomicAdd(&ping_count, 1u); }

/* block sum through dynamic shared memory (blockDim.x a power of two) */
extern "C" __global__ void block_reduce(const int *in, int *out, int n)
{
    extern __shared__ int sh[];
    unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + threadIdx.x;
    sh[t] = i < (unsigned)n ? in[i] : 0;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s)
            sh[t] += sh[t + s];
        __syncthreads();
    }
    if (t == 0)
        out[blockIdx.x] = sh[0];
}

/* reverses each run of IT_SHARED_TILE ints through a static __shared__ tile
 * (launch with IT_SHARED_TILE threads per block) */
extern "C" __global__ void shared_reverse(int *data)
{
    __shared__ int tile[IT_SHARED_TILE];
    unsigned t = threadIdx.x, base = blockIdx.x * IT_SHARED_TILE;
    tile[t] = data[base + t];
    __syncthreads();
    data[base + t] = tile[IT_SHARED_TILE - 1 - t];
}

/* one store far outside any allocation */
extern "C" __global__ void write_oob(int *p, long long index)
{
    if (threadIdx.x == 0 && blockIdx.x == 0)
        p[index] = 42;
}

extern "C" __global__ void __launch_bounds__(IT_BOUNDS) bounded(int *out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = 3 * i + 1;
}

/* each thread records its coordinates and the launch shape (8 bits each) */
extern "C" __global__ void index_map(unsigned *out)
{
    unsigned bid = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned g = bid * (blockDim.x * blockDim.y * blockDim.z) + tid;
    out[4 * g + 0] = blockIdx.x | blockIdx.y << 8 | blockIdx.z << 16;
    out[4 * g + 1] = threadIdx.x | threadIdx.y << 8 | threadIdx.z << 16;
    out[4 * g + 2] = gridDim.x | gridDim.y << 8 | gridDim.z << 16;
    out[4 * g + 3] = blockDim.x | blockDim.y << 8 | blockDim.z << 16;
}
