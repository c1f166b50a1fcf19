// streams.cu — asynchronous work through the CUDA runtime on rgpu: created
// streams, events (ordering, cross-stream waits, elapsed time), page-locked
// host memory, cudaMemcpyAsync/cudaMemsetAsync, kernels on streams, host
// functions, pointer attributes and occupancy queries. Results are checked
// on the host.
#include "cudart_check.h"

#include <cstring>
#include <vector>

__global__ void scale_add(float *x, float s, float b, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = x[i] * s + b;
}

static void CUDART_CB host_fn(void *arg) { *(volatile int *)arg += 1; }

static void test_pipelines()
{
    const int nstreams = 4, n = 1 << 16;
    cudaStream_t st[nstreams];
    float *host, *dev[nstreams];
    CK_FATAL(cudaMallocHost(&host, nstreams * n * sizeof(float)));
    for (int s = 0; s < nstreams; s++) {
        CK_FATAL(cudaStreamCreate(&st[s]));
        CK_FATAL(cudaMalloc(&dev[s], n * sizeof(float)));
        for (int i = 0; i < n; i++)
            host[s * n + i] = (float)(i % 1000) + s;
    }
    // each stream: copy in, two dependent kernels, copy out, all asynchronous
    for (int s = 0; s < nstreams; s++) {
        CK(cudaMemcpyAsync(dev[s], host + s * n, n * sizeof(float), cudaMemcpyHostToDevice, st[s]));
        scale_add<<<(n + 255) / 256, 256, 0, st[s]>>>(dev[s], 2.0f, 1.0f, n);
        scale_add<<<(n + 255) / 256, 256, 0, st[s]>>>(dev[s], 0.5f, (float)s, n);
        CK(cudaGetLastError());
        CK(cudaMemcpyAsync(host + s * n, dev[s], n * sizeof(float), cudaMemcpyDeviceToHost, st[s]));
    }
    for (int s = 0; s < nstreams; s++)
        CK(cudaStreamSynchronize(st[s]));
    for (int s = 0; s < nstreams; s++) {
        std::vector<float> want(n);
        for (int i = 0; i < n; i++)
            want[i] = (((float)(i % 1000) + s) * 2.0f + 1.0f) * 0.5f + (float)s;
        EXPECT_ARRAY(host + s * n, want.data(), (size_t)n);
    }
    for (int s = 0; s < nstreams; s++) {
        CK(cudaStreamQuery(st[s]));
        CK(cudaFree(dev[s]));
        CK(cudaStreamDestroy(st[s]));
    }
    CK(cudaFreeHost(host));
}

static void test_events()
{
    const int n = 1 << 18;
    cudaStream_t a, b;
    cudaEvent_t start, stop, ready;
    CK_FATAL(cudaStreamCreateWithFlags(&a, cudaStreamNonBlocking));
    CK_FATAL(cudaStreamCreate(&b));
    CK_FATAL(cudaEventCreate(&start));
    CK_FATAL(cudaEventCreate(&stop));
    CK_FATAL(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    float *d, *h;
    CK_FATAL(cudaMalloc(&d, n * sizeof(float)));
    CK_FATAL(cudaHostAlloc(&h, n * sizeof(float), cudaHostAllocDefault));
    for (int i = 0; i < n; i++)
        h[i] = (float)(i & 255);

    // stream a produces, stream b consumes after waiting on a's event
    CK(cudaEventRecord(start, a));
    CK(cudaMemcpyAsync(d, h, n * sizeof(float), cudaMemcpyHostToDevice, a));
    scale_add<<<(n + 511) / 512, 512, 0, a>>>(d, 3.0f, 0.0f, n);
    CK(cudaEventRecord(ready, a));
    CK(cudaStreamWaitEvent(b, ready, 0));
    scale_add<<<(n + 511) / 512, 512, 0, b>>>(d, 1.0f, -1.0f, n);
    CK(cudaMemcpyAsync(h, d, n * sizeof(float), cudaMemcpyDeviceToHost, b));
    CK(cudaEventRecord(stop, b));
    CK(cudaEventSynchronize(stop));
    CK(cudaEventQuery(stop));
    float ms = -1.0f;
    CK(cudaEventElapsedTime(&ms, start, stop));
    EXPECT(ms >= 0.0f, "elapsed %f ms", ms);
    std::printf("two-stream pipeline: %.3f ms\n", ms);
    std::vector<float> want(n);
    for (int i = 0; i < n; i++)
        want[i] = (float)(i & 255) * 3.0f - 1.0f;
    EXPECT_ARRAY(h, want.data(), (size_t)n);
    // timing needs timing events
    CK_EQ(cudaEventElapsedTime(&ms, start, ready), cudaErrorInvalidResourceHandle);

    // a host function runs in stream order
    volatile int calls = 0;
    CK(cudaLaunchHostFunc(b, host_fn, (void *)&calls));
    CK(cudaStreamSynchronize(b));
    EXPECT(calls == 1, "host function ran %d times", calls);

    // memset on a stream, checked through the legacy default stream
    CK(cudaMemsetAsync(d, 0, n * sizeof(float), a));
    CK(cudaStreamSynchronize(a));
    CK(cudaMemcpy(h, d, 64 * sizeof(float), cudaMemcpyDeviceToHost));
    std::vector<float> zeros(64, 0.0f);
    EXPECT_ARRAY(h, zeros.data(), (size_t)64);

    CK(cudaEventDestroy(start));
    CK(cudaEventDestroy(stop));
    CK(cudaEventDestroy(ready));
    CK(cudaStreamDestroy(a));
    CK(cudaStreamDestroy(b));
    CK(cudaFree(d));
    CK(cudaFreeHost(h));
}

static void test_pointer_attributes()
{
    float *d, *h;
    CK_FATAL(cudaMalloc(&d, 4096));
    CK_FATAL(cudaMallocHost(&h, 4096));
    cudaPointerAttributes pa;
    std::memset(&pa, 0, sizeof pa);
    CK(cudaPointerGetAttributes(&pa, d + 10));
    EXPECT(pa.type == cudaMemoryTypeDevice, "device pointer type %d", (int)pa.type);
    EXPECT(pa.device == 0, "device pointer on device %d", pa.device);
    EXPECT(pa.devicePointer == (void *)(d + 10), "devicePointer %p, expected %p", pa.devicePointer, (void *)(d + 10));
    std::memset(&pa, 0, sizeof pa);
    CK(cudaPointerGetAttributes(&pa, h));
    EXPECT(pa.type == cudaMemoryTypeHost, "pinned pointer type %d", (int)pa.type);
    int local = 0;
    std::memset(&pa, 0, sizeof pa);
    CK(cudaPointerGetAttributes(&pa, &local));
    EXPECT(pa.type == cudaMemoryTypeUnregistered, "stack pointer type %d", (int)pa.type);
    // cudaMemcpyDefault infers both directions from the pointers
    for (int i = 0; i < 1024; i++)
        h[i] = (float)i;
    CK(cudaMemcpy(d, h, 4096, cudaMemcpyDefault));
    std::vector<float> back(1024, 0.0f);
    CK(cudaMemcpy(back.data(), d, 4096, cudaMemcpyDefault));
    EXPECT_ARRAY(back.data(), h, (size_t)1024);
    CK(cudaFree(d));
    CK(cudaFreeHost(h));
}

static void test_occupancy()
{
    int min_grid = 0, block = 0;
    CK(cudaOccupancyMaxPotentialBlockSize(&min_grid, &block, scale_add, 0, 0));
    EXPECT(block > 0 && block <= 1024 && block % 32 == 0, "suggested block %d", block);
    EXPECT(min_grid > 0, "suggested minimum grid %d", min_grid);
    int nb = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&nb, scale_add, block, 0));
    EXPECT(nb > 0, "%d active blocks", nb);
}

int main()
{
    test_pipelines();
    test_events();
    test_pointer_attributes();
    test_occupancy();
    CK(cudaDeviceSynchronize());
    return ct_done("cudart streams");
}
