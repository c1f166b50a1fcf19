// coop.cu — cooperative_groups grid-wide sync through NVIDIA's runtime:
// the device reports cudaDevAttrCooperativeLaunch, cudaLaunchCooperativeKernel
// and cudaLaunchKernelEx with cudaLaunchAttributeCooperative run a grid as
// large as the occupancy allows (many more blocks than the CPU device has
// host threads) that synchronises grid-wide several times, and a grid one
// block too large fails when launched with cudaErrorCooperativeLaunchTooLarge,
// sticking to nothing (as ggml-cuda's soft_max relies on).
#include "cudart_check.h"

#include <cooperative_groups.h>
#include <vector>

namespace cg = cooperative_groups;

// Each round every block publishes a value, the grid syncs, every block sums
// what all blocks published, the grid syncs again before the next round.
__global__ void exchange(int *vals, int *out, int rounds)
{
    cg::grid_group g = cg::this_grid();
    unsigned nb = gridDim.x * gridDim.y * gridDim.z;
    unsigned me = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    for (int r = 0; r < rounds; r++) {
        if (threadIdx.x == 0)
            vals[me] = (int)(me * 7 + r);
        g.sync();
        int s = 0;
        for (unsigned b = threadIdx.x; b < nb; b += blockDim.x)
            s += vals[b];
        atomicAdd(&out[r * nb + me], s);
        g.sync();
    }
}

static void check(const int *d_out, unsigned nb, int rounds, const char *what)
{
    std::vector<int> h((size_t)nb * rounds), want((size_t)nb * rounds);
    CK(cudaMemcpy(h.data(), d_out, h.size() * sizeof(int), cudaMemcpyDeviceToHost));
    for (int r = 0; r < rounds; r++)
        for (unsigned b = 0; b < nb; b++)
            want[(size_t)r * nb + b] = (int)(7u * nb * (nb - 1) / 2 + nb * (unsigned)r);
    if (EXPECT_ARRAY(h.data(), want.data(), h.size()) != h.size())
        std::fprintf(stderr, "  (in %s)\n", what);
}

int main()
{
    int coop = -1, sms = 0, per_sm = 0;
    CK_FATAL(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, 0));
    EXPECT(coop == 1, "cudaDevAttrCooperativeLaunch is %d", coop);
    CK_FATAL(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    const int block = 128;
    CK_FATAL(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, exchange, block, 0));
    EXPECT(per_sm > 0 && sms > 0, "occupancy %d per SM, %d SMs", per_sm, sms);
    unsigned nb = (unsigned)(per_sm * sms);
    std::printf("cooperative grid: %u blocks of %d threads\n", nb, block);

    int rounds = 3, *vals, *out;
    CK_FATAL(cudaMalloc(&vals, nb * sizeof(int)));
    CK_FATAL(cudaMalloc(&out, (size_t)nb * rounds * sizeof(int)));
    void *args[] = {&vals, &out, &rounds};
    for (int k = 0; k < 2; k++) {
        CK(cudaMemset(out, 0, (size_t)nb * rounds * sizeof(int)));
        CK(cudaLaunchCooperativeKernel((void *)exchange, dim3(nb), dim3(block), args, 0, 0));
        CK(cudaDeviceSynchronize());
        check(out, nb, rounds, "cudaLaunchCooperativeKernel");
    }

    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    CK(cudaMemsetAsync(out, 0, (size_t)nb * rounds * sizeof(int), s));
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeCooperative;
    at[0].val.cooperative = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(nb / 2, 2);
    cfg.blockDim = dim3(block);
    cfg.stream = s;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    CK(cudaLaunchKernelEx(&cfg, exchange, vals, out, rounds));
    CK(cudaStreamSynchronize(s));
    check(out, nb / 2 * 2, rounds, "cudaLaunchKernelEx, cooperative attribute, 2-D grid");

    // one block too many: an error when launched, not later
    CK_EQ(cudaLaunchCooperativeKernel((void *)exchange, dim3(nb + 1), dim3(block), args, 0, 0),
          cudaErrorCooperativeLaunchTooLarge);
    cfg.gridDim = dim3(nb + 1);
    CK_EQ(cudaLaunchKernelEx(&cfg, exchange, vals, out, rounds), cudaErrorCooperativeLaunchTooLarge);
    cudaGetLastError();
    CK(cudaDeviceSynchronize());
    CK(cudaGetLastError());

    // and everything still works
    CK(cudaMemset(out, 0, (size_t)nb * rounds * sizeof(int)));
    CK(cudaLaunchCooperativeKernel((void *)exchange, dim3(nb), dim3(block), args, 0, s));
    CK(cudaStreamSynchronize(s));
    check(out, nb, rounds, "cudaLaunchCooperativeKernel after the refused launches");

    CK(cudaStreamDestroy(s));
    CK(cudaFree(vals));
    CK(cudaFree(out));
    return ct_done("cudart coop");
}
