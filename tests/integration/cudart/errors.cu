// errors.cu — the CUDA runtime's errors through rgpu are the ones a GPU
// gives: invalid launches at launch time (cudaGetLastError), out of memory
// from an impossible cudaMalloc, bad device numbers, bad copies (asynchronous
// ones included, at call time) and frees; none of them is sticky: the runtime keeps working. (Blocks and grids past
// the device's limits are in launch_config.cu.)
#include "cudart_check.h"

#include <vector>

__global__ void fill(int *p, int v, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        p[i] = v;
}

static void check_still_works(const char *after)
{
    const int n = 512;
    int *d;
    CK_FATAL(cudaMalloc(&d, n * sizeof(int)));
    fill<<<2, 256>>>(d, 42, n);
    CK(cudaGetLastError());
    std::vector<int> h(n, 0), want(n, 42);
    CK(cudaMemcpy(h.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost));
    if (EXPECT_ARRAY(h.data(), want.data(), (size_t)n) != (size_t)n)
        std::fprintf(stderr, "  (after %s)\n", after);
    CK(cudaFree(d));
}

int main()
{
    check_still_works("nothing");

    int *d;
    CK_FATAL(cudaMalloc(&d, 4096));

    // more dynamic shared memory than a block may have: the driver's
    // CUDA_ERROR_INVALID_VALUE, as on a GPU
    fill<<<1, 32, 1u << 30>>>(d, 1, 1024);
    CK_EQ(cudaGetLastError(), cudaErrorInvalidValue);
    CK(cudaGetLastError()); // cleared by the read
    // (empty or oversized blocks and grids: launch_config.cu)
    check_still_works("invalid launches");

    // out of memory: far more than the device reports
    size_t free_b = 0, total_b = 0;
    CK(cudaMemGetInfo(&free_b, &total_b));
    EXPECT(total_b > 0 && free_b <= total_b, "cudaMemGetInfo: free %zu of %zu", free_b, total_b);
    void *huge = nullptr;
    CK_EQ(cudaMalloc(&huge, (size_t)1 << 50), cudaErrorMemoryAllocation);
    EXPECT(huge == nullptr, "failed cudaMalloc returned %p", huge);
    // the runtime also records it as the last error, which reading clears
    CK_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
    CK(cudaGetLastError());
    CK_EQ(cudaMalloc(&huge, total_b + ((size_t)1 << 30)), cudaErrorMemoryAllocation);
    CK_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
    check_still_works("out of memory");

    // devices that do not exist
    int n = 0;
    CK(cudaGetDeviceCount(&n));
    CK_EQ(cudaSetDevice(n + 4), cudaErrorInvalidDevice);
    cudaDeviceProp p;
    CK_EQ(cudaGetDeviceProperties(&p, n + 4), cudaErrorInvalidDevice);
    CK_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
    CK(cudaGetLastError());

    // copies with bad arguments
    CK_EQ(cudaMemcpy(d, nullptr, 16, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    CK_EQ(cudaMemcpy(d, d, 16, (cudaMemcpyKind)42), cudaErrorInvalidMemcpyDirection);
    CK_EQ(cudaGetLastError(), cudaErrorInvalidMemcpyDirection);
    CK_EQ(cudaFree((void *)0x1234), cudaErrorInvalidValue);
    CK_EQ(cudaGetLastError(), cudaErrorInvalidValue);
    CK(cudaGetLastError());
    check_still_works("bad copies");

    // asynchronous ones past the allocation's end: argument errors, returned
    // by the call (and recorded as the last error), not by a later
    // synchronisation
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    std::vector<char> host(64);
    CK_EQ(cudaMemsetAsync((char *)d + 4090, 0, 16, s), cudaErrorInvalidValue);
    CK_EQ(cudaGetLastError(), cudaErrorInvalidValue);
    CK_EQ(cudaMemcpyAsync((char *)d + 4090, host.data(), 16, cudaMemcpyHostToDevice, s), cudaErrorInvalidValue);
    CK_EQ(cudaMemcpyAsync(host.data(), (char *)d + 4090, 16, cudaMemcpyDeviceToHost, s), cudaErrorInvalidValue);
    CK_EQ(cudaGetLastError(), cudaErrorInvalidValue);
    CK(cudaStreamSynchronize(s));
    CK(cudaGetLastError());
    CK(cudaMemsetAsync((char *)d + 4080, 0, 16, s));
    CK(cudaStreamSynchronize(s));
    CK(cudaStreamDestroy(s));
    check_still_works("bad asynchronous copies");

    // an error string from the runtime itself
    EXPECT(cudaGetErrorString(cudaErrorInvalidConfiguration)[0] != 0, "no error string");

    CK(cudaFree(d));
    CK(cudaDeviceSynchronize());
    return ct_done("cudart errors");
}
