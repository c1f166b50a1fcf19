// abi.cu (cudart12) — an everyday CUDA runtime program, linked against NVIDIA's
// CUDA 12 runtime (libcudart.so.12 from the nvidia-cuda-runtime-cu12 wheel)
// instead of the toolkit's 13, through rgpu: the CUDA 12 handshake
// (cuGetProcAddress versions, export tables, integrity check, driver
// version), device properties, cudaMalloc/cudaMemcpy, <<<>>> launches, a
// __constant__ written with cudaMemcpyToSymbol, streams and events.
// Every result is checked on the host. It must be compiled with the CUDA 12
// headers (the wheel's include/ ahead of the toolkit's), not nvcc 13's own.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static int failures;

#define CK(call)                                                                                            \
    do {                                                                                                    \
        cudaError_t r_ = (call);                                                                            \
        if (r_ != cudaSuccess) {                                                                            \
            std::fprintf(stderr, "FAIL %s:%d: %s: %s (%d)\n", __FILE__, __LINE__, #call,                    \
                         cudaGetErrorName(r_), (int)r_);                                                    \
            failures++;                                                                                     \
        }                                                                                                   \
    } while (0)
#define CK_FATAL(call)                                                                                      \
    do {                                                                                                    \
        int f_ = failures;                                                                                  \
        CK(call);                                                                                           \
        if (failures != f_)                                                                                 \
            std::exit(1);                                                                                   \
    } while (0)
#define EXPECT(cond, ...)                                                                                   \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                            \
            std::fprintf(stderr, __VA_ARGS__);                                                              \
            std::fputc('\n', stderr);                                                                       \
            failures++;                                                                                     \
        }                                                                                                   \
    } while (0)

__constant__ float c_coef[2];

__global__ void vec_add(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}

// y = c_coef[0] * x + c_coef[1]
__global__ void affine(const float *x, float *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = c_coef[0] * x[i] + c_coef[1];
}

int main()
{
    int rt = 0, drv = 0;
    CK(cudaRuntimeGetVersion(&rt));
    CK(cudaDriverGetVersion(&drv));
    std::printf("runtime %d, driver %d\n", rt, drv);
    EXPECT(rt / 1000 == 12, "runtime version %d, expected 12xxx (is libcudart.so.12 the one loaded?)", rt);
    // cudart 12 accepts any driver >= 12000 (13000 from rgpu's CPU device)
    EXPECT(drv >= 12000, "driver version %d < 12000", drv);

    int n = 0;
    CK_FATAL(cudaGetDeviceCount(&n));
    EXPECT(n >= 1, "%d devices", n);
    cudaDeviceProp p;
    std::memset(&p, 0, sizeof p);
    CK_FATAL(cudaGetDeviceProperties(&p, 0));
    std::printf("device 0: %s, cc %d.%d, %d SMs, %zu MiB\n", p.name, p.major, p.minor, p.multiProcessorCount,
                p.totalGlobalMem >> 20);
    EXPECT(p.name[0] != 0, "empty device name");
    EXPECT(p.warpSize == 32, "warp size %d", p.warpSize);
    EXPECT(p.maxThreadsPerBlock == 1024, "maxThreadsPerBlock %d", p.maxThreadsPerBlock);
    EXPECT(p.totalGlobalMem > 0, "no global memory");
    int v = -1;
    CK(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, 0));
    EXPECT(v == p.major, "attribute major %d vs %d", v, p.major);
    // cudaDeviceProp's layout differs between 12 and 13: built with the
    // toolkit 13 headers against libcudart.so.12, fields come out shifted
    // (multiProcessorCount among them), so compare with the attribute.
    CK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0));
    EXPECT(v == p.multiProcessorCount, "attribute SMs %d vs cudaDeviceProp %d (CUDA 13 headers?)", v,
           p.multiProcessorCount);
    CK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlock, 0));
    EXPECT((size_t)v == p.sharedMemPerBlock, "attribute shared memory %d vs cudaDeviceProp %zu", v,
           p.sharedMemPerBlock);

    const int N = 10000;
    size_t bytes = N * sizeof(float);
    std::vector<float> a(N), b(N), c(N);
    for (int i = 0; i < N; i++) {
        a[i] = (float)i;
        b[i] = 2.0f * i + 1;
    }
    float *da = nullptr, *db = nullptr, *dc = nullptr;
    CK_FATAL(cudaMalloc(&da, bytes));
    CK_FATAL(cudaMalloc(&db, bytes));
    CK_FATAL(cudaMalloc(&dc, bytes));
    CK(cudaMemcpy(da, a.data(), bytes, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(db, b.data(), bytes, cudaMemcpyHostToDevice));
    vec_add<<<(N + 255) / 256, 256>>>(da, db, dc, N);
    CK(cudaGetLastError());
    CK(cudaMemcpy(c.data(), dc, bytes, cudaMemcpyDeviceToHost));
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += c[i] != a[i] + b[i];
    EXPECT(bad == 0, "vec_add: %d of %d wrong (c[1] = %g)", bad, N, c[1]);

    // __constant__ through cudaMemcpyToSymbol / FromSymbol
    float coef[2] = {3.0f, -1.0f}, back[2] = {0, 0};
    CK(cudaMemcpyToSymbol(c_coef, coef, sizeof coef));
    CK(cudaMemcpyFromSymbol(back, c_coef, sizeof back));
    EXPECT(back[0] == 3.0f && back[1] == -1.0f, "c_coef read back %g %g", back[0], back[1]);

    // a stream, events, async copies
    cudaStream_t s;
    cudaEvent_t e0, e1;
    CK_FATAL(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    float *pinned = nullptr;
    CK_FATAL(cudaMallocHost(&pinned, bytes));
    CK(cudaEventRecord(e0, s));
    affine<<<(N + 127) / 128, 128, 0, s>>>(da, dc, N);
    CK(cudaGetLastError());
    CK(cudaMemcpyAsync(pinned, dc, bytes, cudaMemcpyDeviceToHost, s));
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    CK(cudaStreamSynchronize(s));
    EXPECT(cudaEventQuery(e1) == cudaSuccess, "event not complete after synchronize");
    float ms = -1;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    EXPECT(ms >= 0, "elapsed %g ms", ms);
    bad = 0;
    for (int i = 0; i < N; i++)
        bad += pinned[i] != 3.0f * a[i] - 1.0f;
    EXPECT(bad == 0, "affine: %d of %d wrong (y[2] = %g)", bad, N, pinned[2]);

    // memset and a device-to-device copy
    CK(cudaMemsetAsync(db, 0, bytes, s));
    CK(cudaMemcpyAsync(dc, db, bytes, cudaMemcpyDeviceToDevice, s));
    CK(cudaStreamSynchronize(s));
    CK(cudaMemcpy(c.data(), dc, bytes, cudaMemcpyDeviceToHost));
    bad = 0;
    for (int i = 0; i < N; i++)
        bad += c[i] != 0.0f;
    EXPECT(bad == 0, "memset/DtoD: %d nonzero", bad);

    CK(cudaFreeHost(pinned));
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    CK(cudaStreamDestroy(s));
    CK(cudaFree(da));
    CK(cudaFree(db));
    CK(cudaFree(dc));
    CK(cudaDeviceSynchronize());

    if (failures) {
        std::fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("cudart12 abi: all checks passed\n");
    return 0;
}
