// demo.cu — a small, ordinary CUDA program that rgpu runs on a GPU-less
// machine. Nothing in it knows about rgpu: it is built with plain nvcc
//
//     nvcc demo.cu -o demo -lcuda
//
// and at run time the loader picks rgpu's libcuda.so.1 (LD_LIBRARY_PATH, set
// by `rgpu run`), which forwards every call to rgpud.
//
// For now it uses only the driver API (kernels come later): it shows the
// device, moves data host -> device -> device -> host, then streams the same
// data through asynchronous copies timed with events, checks every byte and
// prints "demo: OK".
#include <cuda.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CK(call)                                                                       \
    do {                                                                               \
        CUresult r_ = (call);                                                          \
        if (r_ != CUDA_SUCCESS) {                                                      \
            const char *n_ = nullptr;                                                  \
            cuGetErrorName(r_, &n_);                                                   \
            std::fprintf(stderr, "demo: FAIL %s:%d: %s returned %s (%d)\n", __FILE__,  \
                         __LINE__, #call, n_ ? n_ : "?", (int)r_);                     \
            std::exit(1);                                                              \
        }                                                                              \
    } while (0)

static double seconds_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

static void fill(std::vector<uint32_t> &v, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (auto &w : v) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        w = x;
    }
}

static bool same(const std::vector<uint32_t> &a, const std::vector<uint32_t> &b, const char *what)
{
    for (size_t i = 0; i < a.size(); i++) {
        if (a[i] != b[i]) {
            std::fprintf(stderr, "demo: FAIL %s: word %zu is %#x, expected %#x\n", what, i, b[i], a[i]);
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    size_t mib = 64;
    if (argc > 1 && std::atoi(argv[1]) > 0)
        mib = (size_t)std::atoi(argv[1]);
    const size_t bytes = mib << 20, words = bytes / sizeof(uint32_t);

    // ---- the device ----
    CK(cuInit(0));
    int driver = 0, ndev = 0;
    CK(cuDriverGetVersion(&driver));
    CK(cuDeviceGetCount(&ndev));
    std::printf("demo: CUDA driver %d.%d, %d device(s)\n", driver / 1000, (driver % 1000) / 10, ndev);
    CUdevice dev;
    CK(cuDeviceGet(&dev, 0));
    char name[256];
    int major = 0, minor = 0, sms = 0, warp = 0;
    size_t total = 0;
    CK(cuDeviceGetName(name, sizeof name, dev));
    CK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
    CK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
    CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
    CK(cuDeviceGetAttribute(&warp, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev));
    CK(cuDeviceTotalMem(&total, dev));
    std::printf("demo: device 0: %s\n", name);
    std::printf("demo:   compute capability %d.%d, %d multiprocessors, warp size %d\n", major, minor, sms, warp);
    std::printf("demo:   %.1f GiB of device memory\n", (double)total / (1u << 30));

    CUcontext ctx;
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    size_t free_mem = 0;
    CK(cuMemGetInfo(&free_mem, &total));
    std::printf("demo:   %.1f GiB free\n", (double)free_mem / (1u << 30));

    // ---- host -> device -> device -> host ----
    std::vector<uint32_t> src(words), dst(words, 0);
    fill(src, 42);
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, bytes));
    CK(cuMemAlloc(&b, bytes));
    auto t0 = std::chrono::steady_clock::now();
    CK(cuMemcpyHtoD(a, src.data(), bytes));
    double t_htod = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    CK(cuMemcpyDtoD(b, a, bytes));
    CK(cuCtxSynchronize());
    double t_dtod = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    CK(cuMemcpyDtoH(dst.data(), b, bytes));
    double t_dtoh = seconds_since(t0);
    if (!same(src, dst, "HtoD -> DtoD -> DtoH round trip"))
        return 1;
    std::printf("demo: round trip of %zu MiB verified: HtoD %.1f ms (%.0f MiB/s), DtoD %.1f ms, DtoH %.1f ms "
                "(%.0f MiB/s)\n",
                mib, t_htod * 1e3, mib / t_htod, t_dtod * 1e3, t_dtoh * 1e3, mib / t_dtoh);

    // ---- asynchronous copies on a stream, timed with events ----
    const int chunks = 8;
    const size_t cbytes = bytes / chunks;
    void *pinned_in = nullptr, *pinned_out = nullptr;
    CK(cuMemAllocHost(&pinned_in, bytes));
    CK(cuMemAllocHost(&pinned_out, bytes));
    fill(src, 7);
    std::memcpy(pinned_in, src.data(), bytes);
    std::memset(pinned_out, 0, bytes);
    CUstream stream;
    CUevent start, mid, stop;
    CK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    CK(cuEventCreate(&start, CU_EVENT_DEFAULT));
    CK(cuEventCreate(&mid, CU_EVENT_DEFAULT));
    CK(cuEventCreate(&stop, CU_EVENT_DEFAULT));
    CK(cuEventRecord(start, stream));
    for (int i = 0; i < chunks; i++)
        CK(cuMemcpyHtoDAsync(a + i * cbytes, (char *)pinned_in + i * cbytes, cbytes, stream));
    CK(cuMemsetD32Async(b, 0, words, stream));
    CK(cuMemcpyDtoDAsync(b, a, bytes, stream));
    CK(cuEventRecord(mid, stream));
    for (int i = chunks - 1; i >= 0; i--)
        CK(cuMemcpyDtoHAsync((char *)pinned_out + i * cbytes, b + i * cbytes, cbytes, stream));
    CK(cuEventRecord(stop, stream));
    CUresult q = cuEventQuery(stop);
    std::printf("demo: %d async copies queued; the stream is %s\n", 2 * chunks + 2,
                q == CUDA_ERROR_NOT_READY ? "still busy" : "already done");
    CK(cuEventSynchronize(stop));
    float ms_up = 0, ms_down = 0, ms_all = 0;
    CK(cuEventElapsedTime(&ms_up, start, mid));
    CK(cuEventElapsedTime(&ms_down, mid, stop));
    CK(cuEventElapsedTime(&ms_all, start, stop));
    std::memcpy(dst.data(), pinned_out, bytes);
    if (!same(src, dst, "async stream copies"))
        return 1;
    std::printf("demo: async copies verified: up+device copy %.1f ms, down %.1f ms, total %.1f ms (event timing)\n",
                ms_up, ms_down, ms_all);

    CK(cuEventDestroy(start));
    CK(cuEventDestroy(mid));
    CK(cuEventDestroy(stop));
    CK(cuStreamDestroy(stream));
    CK(cuMemFreeHost(pinned_in));
    CK(cuMemFreeHost(pinned_out));
    CK(cuMemFree(a));
    CK(cuMemFree(b));
    CK(cuCtxSetCurrent(nullptr));
    CK(cuDevicePrimaryCtxRelease(dev));
    std::printf("demo: OK\n");
    return 0;
}
