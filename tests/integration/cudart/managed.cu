// managed.cu — cudaMallocManaged on rgpu, used as a device without
// concurrent managed access allows (the host touches managed memory only
// when no kernel may be running): the introductory pattern (arrays written
// on the host, a kernel, cudaDeviceSynchronize, results read on the host),
// a kernel reading what the host wrote after the previous synchronisation,
// cudaMemcpy to and from managed memory, managed memory as a kernel's output
// read back over several rounds, cudaPointerGetAttributes, the attribute,
// and cudaFree; and __managed__ variables: their initial values on the host
// before any runtime call, host writes seen by kernels and kernel writes by
// the host, their addresses. Every expectation holds natively
// (tests/gpu/run).
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

__managed__ int m_counter = 5;
__managed__ float m_vec[64] = {1.0f, 2.0f, 3.0f};
__managed__ unsigned long long m_sum;

__global__ void bump(int times)
{
    atomicAdd(&m_counter, times);
    int i = threadIdx.x;
    m_vec[i] = m_vec[i] * 2.0f + (float)i;
    atomicAdd(&m_sum, (unsigned long long)i);
}

__global__ void read_through(const int *p, int *out) { *out = *p + m_counter; }

// __managed__ variables, first touched by the host before any runtime call
static void managed_variables()
{
    EXPECT(m_counter == 5 && m_vec[0] == 1.0f && m_vec[2] == 3.0f && m_vec[3] == 0.0f && m_sum == 0,
           "initial values %d %g %g %g %llu", m_counter, m_vec[0], m_vec[2], m_vec[3], m_sum);
    m_counter += 10;
    for (int i = 3; i < 64; i++)
        m_vec[i] = (float)i;
    bump<<<1, 64>>>(2);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    EXPECT(m_counter == 15 + 64 * 2, "m_counter %d after the kernel, expected %d", m_counter, 15 + 64 * 2);
    EXPECT(m_sum == 64 * 63 / 2, "m_sum %llu, expected %d", m_sum, 64 * 63 / 2);
    int wrong = -1;
    for (int i = 0; i < 64 && wrong < 0; i++) {
        float was = i < 3 ? (float)(i + 1) : (float)i;
        if (m_vec[i] != was * 2.0f + (float)i)
            wrong = i;
    }
    EXPECT(wrong < 0, "m_vec[%d] = %g after the kernel", wrong, wrong >= 0 ? m_vec[wrong] : 0.0f);

    // the variable's address is one on host and device
    void *addr = nullptr;
    CK(cudaGetSymbolAddress(&addr, m_counter));
    EXPECT(addr == (void *)&m_counter, "cudaGetSymbolAddress %p, the host's %p", addr, (void *)&m_counter);
    cudaPointerAttributes a;
    CK(cudaPointerGetAttributes(&a, &m_vec[5]));
    EXPECT(a.type == cudaMemoryTypeManaged && a.devicePointer == (void *)&m_vec[5],
           "a managed variable's attributes: type %d, device %p for %p", (int)a.type, a.devicePointer,
           (void *)&m_vec[5]);
    m_counter = 1000;
    int *out = nullptr;
    CK_FATAL(cudaMallocManaged(&out, sizeof *out));
    read_through<<<1, 1>>>(&m_counter, out);
    CK(cudaDeviceSynchronize());
    EXPECT(*out == 2000, "a kernel read %d through the variable's address, expected 2000", *out);
    int got = 0;
    CK(cudaMemcpyFromSymbol(&got, m_counter, sizeof got));
    EXPECT(got == 1000, "cudaMemcpyFromSymbol read %d, expected 1000", got);
    got = 77;
    CK(cudaMemcpyToSymbol(m_counter, &got, sizeof got));
    EXPECT(m_counter == 77, "after cudaMemcpyToSymbol the host reads %d, expected 77", m_counter);
    // small allocations next to one another (one page of the host each over a wire)
    int *small[3] = {nullptr, nullptr, nullptr};
    for (int i = 0; i < 3; i++) {
        CK_FATAL(cudaMallocManaged(&small[i], sizeof(int)));
        *small[i] = 10 * (i + 1);
    }
    read_through<<<1, 1>>>(small[1], small[2]);
    CK(cudaDeviceSynchronize());
    EXPECT(*small[0] == 10 && *small[1] == 20 && *small[2] == 20 + 77,
           "three small managed allocations hold %d %d %d, expected 10 20 97", *small[0], *small[1], *small[2]);
    for (int i = 0; i < 3; i++)
        CK(cudaFree(small[i]));
    CK(cudaFree(out));
    CK_EQ(cudaFree(&m_counter), cudaErrorInvalidValue);
    CK_EQ(cudaGetLastError(), cudaErrorInvalidValue);
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
    managed_variables();
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
