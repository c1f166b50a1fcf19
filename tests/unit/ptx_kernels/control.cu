// Control flow, calls, barriers, shared/local memory (tests/unit/test_ptx_control.c).
extern "C" {

__device__ __noinline__ int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

struct pair { int a; float b; long long c; };
__device__ __noinline__ pair mkpair(int x, float y, long long z, const int *arr)
{
    pair p;
    p.a = x * 3 + arr[x & 3];
    p.b = y * 0.5f;
    p.c = z << 3;
    return p;
}

__global__ void diverge(int *out, int n)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n) return;
    int acc = 0;
    for (int i = 0; i < (t % 7) * 3; i++) {
        if (i % 3 == 1) continue;
        acc += i * (t & 1 ? 2 : -1);
        if (acc > 40 + t) break;
    }
    if (t % 5 == 0) {
        acc ^= 0x55;
    } else if (t % 5 == 1) {
        while (acc > 10) acc /= 3;
    } else {
        acc = -acc;
    }
    out[t] = acc;
}

__global__ void recurse(int *out, float *fo, long long *lo)
{
    int t = threadIdx.x;
    __shared__ int tab[4];
    if (t < 4) tab[t] = t * 100;
    __syncthreads();
    out[t] = fib(t % 12);
    pair p = mkpair(t, (float)t, t, tab);
    out[32 + t] = p.a;
    fo[t] = p.b;
    lo[t] = p.c;
}

__global__ void reduce(const float *in, float *out, int n)
{
    __shared__ float s[256];
    int t = threadIdx.x;
    int i = blockIdx.x * blockDim.x + t;
    s[t] = i < n ? in[i] : 0.0f;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (t < k) s[t] += s[t + k];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

__global__ void bar_counts(int *out)
{
    int t = threadIdx.x;
    int c = __syncthreads_count(t % 3 == 0);
    int a = __syncthreads_and(t < 1000);
    int o = __syncthreads_or(t == 17);
    int z = __syncthreads_or(0);
    out[t] = c * 1000 + a * 100 + o * 10 + z;
}

__global__ void early_exit(int *out, int n)
{
    __shared__ int s[128];
    int t = threadIdx.x;
    if (t >= n) return;
    s[t] = t * 2;
    __syncthreads();
    out[t] = s[(t + 1) % n];
}

__global__ void dyn_shared(int *out)
{
    extern __shared__ int d[];
    int t = threadIdx.x + threadIdx.y * blockDim.x;
    d[t] = t + blockIdx.x + 10 * blockIdx.y;
    __syncthreads();
    int nt = blockDim.x * blockDim.y;
    int b = blockIdx.x + gridDim.x * blockIdx.y;
    out[b * nt + t] = d[nt - 1 - t];
}

__global__ void local_array(const int *idx, int *out)
{
    int a[16];
    int t = threadIdx.x;
    for (int i = 0; i < 16; i++) a[i] = i * t;
    a[idx[t] & 15] += 1000;
    int s = 0;
    for (int i = 0; i < 16; i++) s += a[idx[(t + i) & 31] & 15];
    out[t] = s;
}

__global__ void warp_divergent_shfl(int *out)
{
    int t = threadIdx.x;
    int v = t * 10;
    if (t & 1) {
        v += 1;
    } else {
        v += 2;
    }
    int r = __shfl_sync(0xffffffffu, v, (t + 1) & 31);
    out[t] = r;
}

__global__ void uniform_branch_barrier(int *out)
{
    __shared__ int s[64];
    int t = threadIdx.x;
    s[t] = t;
    if (blockIdx.x & 1) {
        __syncthreads();
        int v = s[63 - t];
        __syncthreads();
        s[t] += v;
        __syncthreads();
    }
    out[blockIdx.x * 64 + t] = s[t];
}

// Static shared memory is per kernel: each kernel's function-scope
// __shared__ arrays are its own, so a kernel late in a module does not carry
// the earlier kernels' arrays (shared_c's size is its array plus helper's).
__global__ void shared_a(int *out)
{
    __shared__ int sa[1024];
    sa[threadIdx.x] = threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = sa[1023 - threadIdx.x];
}
__global__ void shared_b(int *out)
{
    __shared__ int sb[2048];
    sb[threadIdx.x] = 2 * threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = sb[2047 - threadIdx.x];
}
__device__ __noinline__ int shared_helper(int v)
{
    __shared__ int hs[64];
    hs[threadIdx.x] = v;
    __syncthreads();
    return hs[63 - threadIdx.x];
}
__global__ void shared_c(int *out)
{
    __shared__ int sc[64];
    int t = threadIdx.x;
    sc[t] = 3 * t;
    __syncthreads();
    int h = shared_helper(5 * t);
    out[t] = sc[63 - t] * 1000 + h;
}
// a conditional graph node's value, set from device code (the handle is its address on rgpu)
__global__ void setcond(cudaGraphConditionalHandle h, const int *v)
{
    if (threadIdx.x == 5)
        cudaGraphSetConditional(h, (unsigned)v[threadIdx.x]);
}
}
