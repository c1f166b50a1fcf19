// reset.cu — cudaDeviceReset and what follows it. The reset ends the primary
// context: cudart's context-local state is destroyed through the driver's
// context-local-storage destructors (which unload its modules), and the next
// runtime call initialises everything again: a new context, modules loaded
// again, __device__ variables back to their initial values. Run three times
// over.
#include "cudart_check.h"

#include <vector>

__device__ int d_value = 7; // initialised by the module image

__global__ void read_value(int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = i + d_value;
}

__global__ void bump_value() { d_value += 100; }

static void round_trip(int round)
{
    const int n = 3000;
    int *d;
    CK_FATAL(cudaMalloc(&d, n * sizeof(int)));
    int v = -1;
    CK(cudaMemcpyFromSymbol(&v, d_value, sizeof v));
    EXPECT(v == 7, "round %d: d_value %d at start, expected the image's 7", round, v);
    read_value<<<(n + 127) / 128, 128>>>(d, n);
    bump_value<<<1, 1>>>();
    CK(cudaGetLastError());
    std::vector<int> out(n), want(n);
    CK(cudaMemcpy(out.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++)
        want[i] = i + 7;
    EXPECT_ARRAY(out.data(), want.data(), (size_t)n);
    CK(cudaMemcpyFromSymbol(&v, d_value, sizeof v));
    EXPECT(v == 107, "round %d: d_value %d after bump_value, expected 107", round, v);
    // left allocated on purpose: the reset must reclaim it
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    CK(cudaMemsetAsync(d, 0, n * sizeof(int), s));
    CK(cudaStreamSynchronize(s));
}

int main()
{
    for (int round = 0; round < 3; round++) {
        round_trip(round);
        CK(cudaDeviceReset());
    }
    // after the last reset the runtime must still come back
    int n = 0;
    CK(cudaGetDeviceCount(&n));
    EXPECT(n >= 1, "%d devices after reset", n);
    round_trip(3);
    CK(cudaDeviceSynchronize());
    return ct_done("cudart reset");
}
