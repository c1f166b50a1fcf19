// Grid-wide sync for tests/integration/coop.c (cuLaunchCooperativeKernel):
// kept out of it_kernels.cu, whose kernel set other tests enumerate.
#include <cooperative_groups.h>
namespace cg = cooperative_groups;

// Each round every block publishes a value, the grid syncs, every block sums
// what all blocks published, the grid syncs again before the next round.
extern "C" __global__ void exchange(int *vals, int *out, int rounds)
{
    cg::grid_group g = cg::this_grid();
    unsigned nb = gridDim.x * gridDim.y * gridDim.z;
    unsigned me = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    for (int r = 0; r < rounds; r++) {
        if (threadIdx.x == 0) vals[me] = (int)(me * 7 + r);
        g.sync();
        int s = 0;
        for (unsigned b = threadIdx.x; b < nb; b += blockDim.x) s += vals[b];
        atomicAdd(&out[r * nb + me], s);
        g.sync();
    }
}
