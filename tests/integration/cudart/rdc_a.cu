// rdc_a.cu — separate compilation (nvcc -rdc=true, PTX only): a kernel here
// calls a __device__ function and reads a __device__ variable defined in
// rdc_b.cu, the host launches a kernel of rdc_b.cu and reaches its variable
// with cudaMemcpyToSymbol / cudaMemcpyFromSymbol. cudart hands the driver a
// fatbin wrapper whose prelinked objects (both translation units and
// libcudadevrt's cuda_device_runtime.o) the driver must link at load; the
// device runtime's object, which nothing here uses, must not be linked.
#include "cudart_check.h"

#include <vector>

extern __device__ int rdc_bias;
extern __device__ int rdc_scale(int x);
__global__ void rdc_fill(int *out, int n, int v);

__global__ void rdc_apply(int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = rdc_scale(i) + rdc_bias;
}

static void check(const std::vector<int> &got, int mul, int add, const char *what)
{
    int bad = 0, first = -1;
    for (int i = 0; i < (int)got.size(); i++)
        if (got[i] != mul * i + add && bad++ == 0)
            first = i;
    EXPECT(bad == 0, "%s: %d wrong, first out[%d] = %d, want %d", what, bad, first, first >= 0 ? got[first] : 0,
           mul * first + add);
}

int main()
{
    const int n = 1000;
    int *d = nullptr;
    CK_FATAL(cudaMalloc(&d, n * sizeof(int)));
    std::vector<int> h(n);

    rdc_apply<<<(n + 127) / 128, 128>>>(d, n);
    CK(cudaGetLastError());
    CK(cudaMemcpy(h.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost));
    check(h, 3, 7 + 7, "rdc_apply, initial bias");

    int bias = 20;
    CK(cudaMemcpyToSymbol(rdc_bias, &bias, sizeof bias));
    rdc_apply<<<(n + 127) / 128, 128>>>(d, n);
    CK(cudaGetLastError());
    CK(cudaMemcpy(h.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost));
    check(h, 3, 20 + 20, "rdc_apply, bias set by the host");

    rdc_fill<<<(n + 255) / 256, 256>>>(d, n, 5);
    CK(cudaGetLastError());
    CK(cudaMemcpy(h.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost));
    check(h, 5, -20, "rdc_fill (a kernel of the other unit)");

    int back = 0;
    CK(cudaMemcpyFromSymbol(&back, rdc_bias, sizeof back));
    EXPECT(back == 20, "rdc_bias read back = %d, want 20", back);

    CK(cudaFree(d));
    return ct_done("cudart rdc");
}
