// launch_config.cu — a <<<>>> launch whose block or grid is past the device's
// limits fails at launch time with cudaErrorInvalidConfiguration, as on a
// GPU. CUDA 13's runtime does not check the configuration itself: it passes
// it to the driver and maps the driver's CUresult (seen with a probe driver:
// CUDA_ERROR_INVALID_VALUE becomes cudaErrorInvalidValue; only CUresult 9
// becomes cudaErrorInvalidConfiguration). Which code NVIDIA's driver gives
// cudart here is not verified yet (no GPU so far): rgpu's driver answers
// CUDA_ERROR_INVALID_VALUE, as the driver API documents, so cudart reports
// cudaErrorInvalidValue. Both are accepted; what matters here is that the
// error comes at launch time, not later, and sticks to nothing. The launch
// after each failure must work.
#include "cudart_check.h"

#include <vector>

// the launch failed at launch time with a configuration error
#define EXPECT_CONFIG_ERROR()                                                                      \
    do {                                                                                           \
        cudaError_t e_ = cudaGetLastError();                                                       \
        EXPECT(e_ == cudaErrorInvalidConfiguration || e_ == cudaErrorInvalidValue,                 \
               "bad launch configuration: expected a configuration error at launch time");         \
    } while (0)

__global__ void fill(int *p, int v, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        p[i] = v;
}

static void check_fill(int *d, int v)
{
    fill<<<4, 256>>>(d, v, 1024);
    CK(cudaGetLastError());
    std::vector<int> h(1024, 0), want(1024, v);
    CK(cudaMemcpy(h.data(), d, 1024 * sizeof(int), cudaMemcpyDeviceToHost));
    EXPECT_ARRAY(h.data(), want.data(), (size_t)1024);
}

int main()
{
    int *d;
    CK_FATAL(cudaMalloc(&d, 1024 * sizeof(int)));
    check_fill(d, 1);

    fill<<<0, 32>>>(d, 9, 1024); // an empty grid
    EXPECT_CONFIG_ERROR();
    check_fill(d, 6);

    fill<<<1, 2048>>>(d, 9, 1024); // more threads per block than any device has
    EXPECT_CONFIG_ERROR();
    CK(cudaGetLastError());
    check_fill(d, 2);

    fill<<<1, dim3(32, 32, 2)>>>(d, 9, 1024); // 2048 threads in three dimensions
    EXPECT_CONFIG_ERROR();
    check_fill(d, 3);

    fill<<<1, dim3(1, 1, 65)>>>(d, 9, 1024); // block z past 64
    EXPECT_CONFIG_ERROR();
    check_fill(d, 4);

    fill<<<dim3(1, 65536, 1), 1>>>(d, 9, 1024); // grid y past 65535
    EXPECT_CONFIG_ERROR();
    check_fill(d, 5);

    CK(cudaFree(d));
    return ct_done("cudart launch_config");
}
