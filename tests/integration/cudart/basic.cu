// basic.cu — the everyday CUDA runtime program, through rgpu: device
// properties, cudaMalloc/cudaMemcpy both ways, <<<>>> launches of a plain, a
// templated and a dynamic-shared-memory kernel, and cudaMemcpyTo/FromSymbol
// on __constant__ and __device__ variables (pointers among them initialised
// with addresses of others), a profiled region. Every result is checked on
// the host.
#include "cudart_check.h"

#include <cuda_profiler_api.h>

#include <cstdlib>
#include <cstring>
#include <vector>

__constant__ float c_scale[4];
__device__ int d_counter;
__device__ float d_table[256];
// initialised with addresses of other variables: the loader patches them in
__device__ int d_seven = 7;
__device__ int d_quad[4] = {1, 2, 3, 4};
__device__ int *d_to_seven = &d_seven;
__device__ int *d_into_quad[2] = {&d_quad[1], &d_quad[3]};

__global__ void vec_add(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}

// Reads the __constant__ array and writes the __device__ ones.
__global__ void use_symbols(float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = d_table[i % 256] * c_scale[i % 4];
        d_table[i % 256] += 0.0f; // the table stays as it was (read after write by the same thread)
    }
    if (i == 0)
        d_counter = d_counter * 2 + 1;
}

__global__ void follow_pointers(int *out)
{
    out[0] = *d_to_seven;
    out[1] = *d_into_quad[0];
    out[2] = *d_into_quad[1];
}

template <typename T> __global__ void axpy(T alpha, const T *x, T *y, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        y[i] = alpha * x[i] + y[i];
}

// Block-wise sums through dynamic shared memory (size given at launch).
__global__ void block_sum(const int *in, int *out, int n)
{
    extern __shared__ int s[];
    int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    s[t] = i < n ? in[i] : 0;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (t < k)
            s[t] += s[t + k];
        __syncthreads();
    }
    if (t == 0)
        out[blockIdx.x] = s[0];
}

static void test_properties()
{
    int n = -1, dev = -1;
    CK_FATAL(cudaGetDeviceCount(&n));
    EXPECT(n >= 1, "%d devices", n);
    CK(cudaGetDevice(&dev));
    EXPECT(dev == 0, "current device %d", dev);
    cudaDeviceProp p;
    std::memset(&p, 0, sizeof p);
    CK_FATAL(cudaGetDeviceProperties(&p, 0));
    std::printf("device 0: %s, cc %d.%d, %d SMs, warp %d, %zu MiB\n", p.name, p.major, p.minor,
                p.multiProcessorCount, p.warpSize, p.totalGlobalMem >> 20);
    EXPECT(p.name[0] != 0, "empty device name");
    // rgpud's CPU device reports 13.0 unless told otherwise; a GPU, its own
    const char *backend = std::getenv("RGPU_TEST_BACKEND");
    if (backend && !std::strcmp(backend, "cpu"))
        EXPECT(p.major == 13 && p.minor == 0, "compute capability %d.%d, expected 13.0", p.major, p.minor);
    else
        EXPECT(p.major >= 3, "compute capability %d.%d", p.major, p.minor);
    EXPECT(p.warpSize == 32, "warp size %d", p.warpSize);
    EXPECT(p.totalGlobalMem > 0, "no global memory");
    EXPECT(p.maxThreadsPerBlock == 1024, "maxThreadsPerBlock %d", p.maxThreadsPerBlock);
    EXPECT(p.multiProcessorCount > 0, "%d SMs", p.multiProcessorCount);
    // the same answers through the attribute interface
    int v = -1;
    CK(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, 0));
    EXPECT(v == p.major, "attribute major %d", v);
    CK(cudaDeviceGetAttribute(&v, cudaDevAttrWarpSize, 0));
    EXPECT(v == 32, "attribute warp size %d", v);
    CK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0));
    EXPECT(v == p.multiProcessorCount, "attribute SM count %d", v);
    int drv = 0, rt = 0;
    CK(cudaDriverGetVersion(&drv));
    CK(cudaRuntimeGetVersion(&rt));
    EXPECT(drv >= 13000, "driver version %d", drv);
    EXPECT(rt / 1000 == CUDART_VERSION / 1000, "runtime version %d, built against %d", rt, CUDART_VERSION);
}

static void test_vector_add()
{
    const int n = 100003; // not a multiple of the block size
    std::vector<float> a(n), b(n), c(n, -1.0f), want(n);
    for (int i = 0; i < n; i++) {
        a[i] = (float)i * 0.5f;
        b[i] = (float)(n - i);
        want[i] = a[i] + b[i];
    }
    float *da, *db, *dc;
    CK_FATAL(cudaMalloc(&da, n * sizeof(float)));
    CK_FATAL(cudaMalloc(&db, n * sizeof(float)));
    CK_FATAL(cudaMalloc(&dc, n * sizeof(float)));
    CK(cudaMemcpy(da, a.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(db, b.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    vec_add<<<(n + 255) / 256, 256>>>(da, db, dc, n);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(c.data(), dc, n * sizeof(float), cudaMemcpyDeviceToHost));
    EXPECT_ARRAY(c.data(), want.data(), (size_t)n);
    // device to device, then back
    std::vector<float> c2(n, 0.0f);
    CK(cudaMemcpy(da, dc, n * sizeof(float), cudaMemcpyDeviceToDevice));
    CK(cudaMemcpy(c2.data(), da, n * sizeof(float), cudaMemcpyDefault));
    EXPECT_ARRAY(c2.data(), want.data(), (size_t)n);
    // cudaMemset
    std::vector<unsigned char> bytes(4096, 0);
    CK(cudaMemset(db, 0xab, 4096));
    CK(cudaMemcpy(bytes.data(), db, 4096, cudaMemcpyDeviceToHost));
    std::vector<unsigned char> wantb(4096, 0xab);
    EXPECT_ARRAY(bytes.data(), wantb.data(), bytes.size());
    CK(cudaFree(da));
    CK(cudaFree(db));
    CK(cudaFree(dc));
}

static void test_symbols()
{
    const float scale[4] = {1.0f, -2.0f, 0.5f, 4.0f};
    std::vector<float> table(256);
    for (int i = 0; i < 256; i++)
        table[i] = (float)(i * 3 - 100);
    int counter = 20;
    CK(cudaMemcpyToSymbol(c_scale, scale, sizeof scale));
    CK(cudaMemcpyToSymbol(d_table, table.data(), 256 * sizeof(float)));
    CK(cudaMemcpyToSymbol(d_counter, &counter, sizeof counter));
    // an offset write into the middle of the table
    const float mid[2] = {1000.0f, 2000.0f};
    CK(cudaMemcpyToSymbol(d_table, mid, sizeof mid, 10 * sizeof(float)));
    table[10] = mid[0];
    table[11] = mid[1];

    // symbol addresses and sizes, twice (cudart asks the driver each time)
    void *addr1 = nullptr, *addr2 = nullptr;
    size_t size = 0;
    CK(cudaGetSymbolAddress(&addr1, d_table));
    CK(cudaGetSymbolAddress(&addr2, d_table));
    CK(cudaGetSymbolSize(&size, d_table));
    EXPECT(addr1 && addr1 == addr2, "d_table at %p then %p", addr1, addr2);
    EXPECT(size == 256 * sizeof(float), "d_table size %zu", size);

    const int n = 1000;
    float *dout;
    CK_FATAL(cudaMalloc(&dout, n * sizeof(float)));
    use_symbols<<<(n + 127) / 128, 128>>>(dout, n);
    CK(cudaGetLastError());
    std::vector<float> out(n), want(n);
    CK(cudaMemcpy(out.data(), dout, n * sizeof(float), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++)
        want[i] = table[i % 256] * scale[i % 4];
    EXPECT_ARRAY(out.data(), want.data(), (size_t)n);

    int counter_back = 0;
    CK(cudaMemcpyFromSymbol(&counter_back, d_counter, sizeof counter_back));
    EXPECT(counter_back == 41, "d_counter %d, expected 41", counter_back);
    float scale_back[4] = {0};
    CK(cudaMemcpyFromSymbol(scale_back, c_scale, sizeof scale_back));
    EXPECT_ARRAY(scale_back, scale, 4);
    float tail[4] = {0};
    CK(cudaMemcpyFromSymbol(tail, d_table, sizeof tail, 252 * sizeof(float)));
    EXPECT_ARRAY(tail, &table[252], 4);
    // through the symbol's address as ordinary device memory
    float via_addr[2] = {0};
    CK(cudaMemcpy(via_addr, (float *)addr1 + 10, sizeof via_addr, cudaMemcpyDeviceToHost));
    EXPECT_ARRAY(via_addr, mid, 2);
    CK(cudaFree(dout));

    // pointers held by variables from their initialisers
    int *dp = nullptr, got[3] = {0, 0, 0};
    CK_FATAL(cudaMalloc(&dp, sizeof got));
    follow_pointers<<<1, 1>>>(dp);
    CK(cudaMemcpy(got, dp, sizeof got, cudaMemcpyDeviceToHost));
    EXPECT(got[0] == 7 && got[1] == 2 && got[2] == 4, "through initialised pointers: %d %d %d, expected 7 2 4",
           got[0], got[1], got[2]);
    void *seven = nullptr, *to_seven = nullptr;
    CK(cudaGetSymbolAddress(&seven, d_seven));
    CK(cudaMemcpyFromSymbol(&to_seven, d_to_seven, sizeof to_seven));
    EXPECT(to_seven == seven, "d_to_seven holds %p, d_seven is at %p", to_seven, seven);
    CK(cudaFree(dp));
}

template <typename T> static void run_axpy(const char *what)
{
    const int n = 5000;
    std::vector<T> x(n), y(n), want(n);
    const T alpha = (T)3;
    for (int i = 0; i < n; i++) {
        x[i] = (T)(i % 97);
        y[i] = (T)(i % 13);
        want[i] = alpha * x[i] + y[i];
    }
    T *dx, *dy;
    CK_FATAL(cudaMalloc(&dx, n * sizeof(T)));
    CK_FATAL(cudaMalloc(&dy, n * sizeof(T)));
    CK(cudaMemcpy(dx, x.data(), n * sizeof(T), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dy, y.data(), n * sizeof(T), cudaMemcpyHostToDevice));
    axpy<T><<<8, 128>>>(alpha, dx, dy, n); // grid-stride: fewer threads than elements
    CK(cudaGetLastError());
    CK(cudaMemcpy(y.data(), dy, n * sizeof(T), cudaMemcpyDeviceToHost));
    if (EXPECT_ARRAY(y.data(), want.data(), (size_t)n) != (size_t)n)
        std::fprintf(stderr, "  (axpy<%s>)\n", what);
    CK(cudaFree(dx));
    CK(cudaFree(dy));
}

static void test_dynamic_shared()
{
    const int n = 10000, block = 256, blocks = (n + block - 1) / block;
    std::vector<int> in(n), out(blocks, -1), want(blocks, 0);
    for (int i = 0; i < n; i++) {
        in[i] = (i * 7) % 101 - 50;
        want[i / block] += in[i];
    }
    int *din, *dout;
    CK_FATAL(cudaMalloc(&din, n * sizeof(int)));
    CK_FATAL(cudaMalloc(&dout, blocks * sizeof(int)));
    CK(cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    block_sum<<<blocks, block, block * sizeof(int)>>>(din, dout, n);
    CK(cudaGetLastError());
    CK(cudaMemcpy(out.data(), dout, blocks * sizeof(int), cudaMemcpyDeviceToHost));
    EXPECT_ARRAY(out.data(), want.data(), (size_t)blocks);
    CK(cudaFree(din));
    CK(cudaFree(dout));
}

static void test_function_attributes()
{
    cudaFuncAttributes fa;
    std::memset(&fa, 0, sizeof fa);
    CK(cudaFuncGetAttributes(&fa, vec_add));
    EXPECT(fa.maxThreadsPerBlock > 0 && fa.maxThreadsPerBlock <= 1024, "maxThreadsPerBlock %d",
           fa.maxThreadsPerBlock);
    int blocks = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, vec_add, 256, 0));
    EXPECT(blocks > 0, "occupancy %d blocks", blocks);
}

int main()
{
    test_properties();
    test_vector_add();
    test_symbols();
    run_axpy<float>("float");
    run_axpy<double>("double");
    run_axpy<int>("int");
    test_dynamic_shared();
    test_function_attributes();
    // a profiled region: no profiler is attached, so nothing is collected
    CK(cudaProfilerStart());
    run_axpy<float>("float, profiled");
    CK(cudaProfilerStop());
    CK(cudaCtxResetPersistingL2Cache());
    CK(cudaDeviceSynchronize());
    return ct_done("cudart basic");
}
