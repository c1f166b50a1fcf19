// managed.cu — cudaMallocManaged on rgpu, used as a device without
// concurrent managed access allows (the host touches managed memory only
// when no kernel may be running): the introductory pattern (arrays written
// on the host, a kernel, cudaDeviceSynchronize, results read on the host),
// a kernel reading what the host wrote after the previous synchronisation,
// cudaMemcpy to and from managed memory, managed memory as a kernel's output
// read back over several rounds, cudaPointerGetAttributes, the attribute,
// and cudaFree. Every expectation holds natively (tests/gpu/run).
#include "cudart_check.h"

#include <cstdint>
#include <vector>

__global__ void add(int n, const float *x, float *y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = x[i] + y[i];
}

__global__ void scale(int n, float *y, float f)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] *= f;
}

static int first_wrong(const float *y, int n, float want)
{
    for (int i = 0; i < n; i++)
        if (y[i] != want)
            return i;
    return n;
}

int main()
{
    const int n = 1 << 18;
    int dev = 0, managed = 0;
    CK_FATAL(cudaSetDevice(dev));
    CK(cudaDeviceGetAttribute(&managed, cudaDevAttrManagedMemory, dev));
    EXPECT(managed == 1, "cudaDevAttrManagedMemory is %d", managed);

    float *x = nullptr, *y = nullptr;
    CK_FATAL(cudaMallocManaged(&x, n * sizeof(float)));
    CK_FATAL(cudaMallocManaged(&y, n * sizeof(float)));
    for (int i = 0; i < n; i++) {
        x[i] = 1.0f;
        y[i] = 2.0f;
    }
    add<<<(n + 255) / 256, 256>>>(n, x, y);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    int bad = first_wrong(y, n, 3.0f);
    EXPECT(bad == n, "y[%d] = %g after x + y, expected 3", bad, bad < n ? y[bad] : 0.0f);

    // host writes after a synchronisation reach the next kernel
    for (int i = 0; i < n; i++)
        x[i] = (float)(i % 7);
    add<<<(n + 255) / 256, 256>>>(n, x, y);
    scale<<<(n + 255) / 256, 256>>>(n, y, 0.5f);
    CK(cudaDeviceSynchronize());
    int wrong = -1;
    for (int i = 0; i < n && wrong < 0; i++)
        if (y[i] != (3.0f + (float)(i % 7)) * 0.5f)
            wrong = i;
    EXPECT(wrong < 0, "y[%d] = %g after the second round", wrong, wrong >= 0 ? y[wrong] : 0.0f);

    // explicit copies to and from managed memory, and between it and device memory
    std::vector<float> h(n, 4.0f);
    CK(cudaMemcpy(y, h.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    bad = first_wrong(y, n, 4.0f);
    EXPECT(bad == n, "y[%d] = %g after cudaMemcpy into it", bad, bad < n ? y[bad] : 0.0f);
    float *d = nullptr;
    CK(cudaMalloc(&d, n * sizeof(float)));
    CK(cudaMemcpy(d, y, n * sizeof(float), cudaMemcpyDefault));
    scale<<<(n + 255) / 256, 256>>>(n, d, 2.0f);
    CK(cudaMemcpy(x, d, n * sizeof(float), cudaMemcpyDefault));
    bad = first_wrong(x, n, 8.0f);
    EXPECT(bad == n, "x[%d] = %g after a copy from device memory", bad, bad < n ? x[bad] : 0.0f);
    std::fill(h.begin(), h.end(), 0.0f);
    CK(cudaMemcpy(h.data(), x, n * sizeof(float), cudaMemcpyDeviceToHost));
    bad = first_wrong(h.data(), n, 8.0f);
    EXPECT(bad == n, "h[%d] = %g copied out of managed memory", bad, bad < n ? h[bad] : 0.0f);
    CK(cudaFree(d));

    // a kernel's output, read back round after round on a stream
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    for (int r = 0; r < 4; r++) {
        scale<<<(n + 255) / 256, 256, 0, s>>>(n, x, 0.5f);
        CK(cudaStreamSynchronize(s));
        float want = 8.0f / (float)(2 << r);
        bad = first_wrong(x, n, want);
        EXPECT(bad == n, "round %d: x[%d] = %g, expected %g", r, bad, bad < n ? x[bad] : 0.0f, want);
    }
    CK(cudaStreamDestroy(s));

    cudaPointerAttributes a;
    CK(cudaPointerGetAttributes(&a, y + 10));
    EXPECT(a.type == cudaMemoryTypeManaged, "pointer type %d, expected managed", (int)a.type);
    EXPECT(a.devicePointer == (void *)(y + 10) && a.hostPointer == (void *)(y + 10),
           "managed memory has one address: device %p, host %p, pointer %p", a.devicePointer, a.hostPointer,
           (void *)(y + 10));

    CK(cudaFree(x));
    CK(cudaFree(y));
    CK_EQ(cudaMallocManaged(&x, 16, 0x10), cudaErrorInvalidValue); // flags: neither global nor host
    CK_EQ(cudaGetLastError(), cudaErrorInvalidValue);
    CK(cudaDeviceSynchronize());
    CK(cudaGetLastError());
    return ct_done("cudart managed");
}
