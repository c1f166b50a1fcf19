// threads.cu — several host threads, each with its own streams, through one
// rgpu connection: each thread allocates, uploads from pinned memory,
// launches kernels on its own stream, records and waits on events across its
// two streams, downloads and checks; threads also use cudaStreamPerThread
// (each thread's own default stream) and the legacy default stream. All
// threads run at once, several rounds each, so their calls interleave on the
// wire; a wrong routing of replies, streams or data between threads shows as
// a wrong result.
#include "cudart_check.h"

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

__global__ void affine(int *x, int a, int b, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = x[i] * a + b;
}

static std::atomic<int> th_failures{0};

#define TCK(call)                                                                                          \
    do {                                                                                                   \
        cudaError_t r_ = (call);                                                                           \
        if (r_ != cudaSuccess) {                                                                           \
            std::fprintf(stderr, "FAIL thread %d %s:%d: %s: %s\n", id, __FILE__, __LINE__, #call,          \
                         cudaGetErrorName(r_));                                                            \
            th_failures++;                                                                                 \
            return;                                                                                        \
        }                                                                                                  \
    } while (0)

static void worker(int id, int rounds)
{
    const int n = 4096 + 97 * id;
    cudaStream_t s1, s2;
    TCK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
    TCK(cudaStreamCreate(&s2));
    cudaEvent_t ev;
    TCK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    int *h = nullptr, *d = nullptr, *d2 = nullptr;
    TCK(cudaMallocHost(&h, n * sizeof(int)));
    TCK(cudaMalloc(&d, n * sizeof(int)));
    TCK(cudaMalloc(&d2, n * sizeof(int)));
    for (int r = 0; r < rounds; r++) {
        const int a = 2 + id, b = r - id;
        for (int i = 0; i < n; i++)
            h[i] = i ^ (id << 8) ^ r;
        // s1: upload, two kernels; s2 waits for them through the event, copies, one kernel
        TCK(cudaMemcpyAsync(d, h, n * sizeof(int), cudaMemcpyHostToDevice, s1));
        affine<<<(n + 255) / 256, 256, 0, s1>>>(d, a, b, n);
        affine<<<(n + 127) / 128, 128, 0, s1>>>(d, 1, 1, n);
        TCK(cudaEventRecord(ev, s1));
        TCK(cudaStreamWaitEvent(s2, ev, 0));
        TCK(cudaMemcpyAsync(d2, d, n * sizeof(int), cudaMemcpyDeviceToDevice, s2));
        affine<<<(n + 511) / 512, 512, 0, s2>>>(d2, 3, 0, n);
        TCK(cudaMemcpyAsync(h, d2, n * sizeof(int), cudaMemcpyDeviceToHost, s2));
        TCK(cudaStreamSynchronize(s2));
        for (int i = 0; i < n; i++) {
            int want = (((i ^ (id << 8) ^ r) * a + b) + 1) * 3;
            if (h[i] != want) {
                std::fprintf(stderr, "FAIL thread %d round %d: element %d = %d, expected %d\n", id, r, i, h[i], want);
                th_failures++;
                return;
            }
        }
        // this thread's per-thread default stream, then the legacy stream
        affine<<<(n + 255) / 256, 256, 0, cudaStreamPerThread>>>(d, 1, 5, n);
        TCK(cudaMemcpyAsync(h, d, sizeof(int), cudaMemcpyDeviceToHost, cudaStreamPerThread));
        TCK(cudaStreamSynchronize(cudaStreamPerThread));
        int want0 = (((0 ^ (id << 8) ^ r) * a + b) + 1) + 5;
        if (h[0] != want0) {
            std::fprintf(stderr, "FAIL thread %d round %d: per-thread stream gave %d, expected %d\n", id, r, h[0],
                         want0);
            th_failures++;
            return;
        }
        affine<<<1, 32>>>(d, 0, id, 1);
        int first = -1;
        TCK(cudaMemcpy(&first, d, sizeof(int), cudaMemcpyDeviceToHost));
        if (first != id) {
            std::fprintf(stderr, "FAIL thread %d round %d: legacy stream gave %d\n", id, r, first);
            th_failures++;
            return;
        }
    }
    TCK(cudaFree(d));
    TCK(cudaFree(d2));
    TCK(cudaFreeHost(h));
    TCK(cudaEventDestroy(ev));
    TCK(cudaStreamDestroy(s1));
    TCK(cudaStreamDestroy(s2));
}

int main()
{
    CK_FATAL(cudaSetDevice(0));
    CK_FATAL(cudaFree(nullptr)); // the primary context, before the threads race for it
    const int nthreads = 6, rounds = 4;
    std::vector<std::thread> ts;
    for (int i = 0; i < nthreads; i++)
        ts.emplace_back(worker, i, rounds);
    for (auto &t : ts)
        t.join();
    ct_failures += th_failures.load();
    CK(cudaDeviceSynchronize());
    std::printf("%d threads x %d rounds\n", nthreads, rounds);
    return ct_done("cudart threads");
}
