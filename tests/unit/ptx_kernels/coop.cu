// Grid-wide synchronisation with cooperative_groups (tests/unit/test_ptx_coop.c):
// what nvcc emits for this_grid().sync() (atom.add.release.gpu on the grid
// workspace that %envreg1/%envreg2 point to, then an ld.acquire.gpu spin loop
// between two bar.sync), run with many more blocks than host threads.
#include <cooperative_groups.h>
namespace cg = cooperative_groups;

extern "C" {

// Each round: every block publishes a value, the grid syncs, every block sums
// all the published values, the grid syncs again (before they are overwritten).
__global__ void exchange(int *vals, int *out, int rounds)
{
    cg::grid_group g = cg::this_grid();
    unsigned nb = gridDim.x * gridDim.y * gridDim.z;
    unsigned me = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    for (int r = 0; r < rounds; r++) {
        if (threadIdx.x == 0) vals[me] = (int)(me * 7 + r);
        g.sync();
        // every thread of the block reads a share: other warps than the master's run too
        int s = 0;
        for (unsigned b = threadIdx.x; b < nb; b += blockDim.x) s += vals[b];
        atomicAdd(&out[r * nb + me], s);
        g.sync();
    }
}

// Blocks arrive very late and in order: block b spins b * work iterations first,
// then reads what its successor wrote before the sync.
__global__ void skewed(unsigned *slot, unsigned *out, int work)
{
    cg::grid_group g = cg::this_grid();
    unsigned nb = gridDim.x;
    unsigned v = blockIdx.x + 1;
    for (int i = 0; i < (int)blockIdx.x * work; i++) v = v * 1103515245u + 12345u;
    if (threadIdx.x == 0) slot[blockIdx.x] = v;
    g.sync();
    if (threadIdx.x == 0) out[blockIdx.x] = slot[(blockIdx.x + 1) % nb];
}

// 1 where the launch provides a grid workspace (cooperative), else 0.
__global__ void valid(int *out)
{
    out[blockIdx.x * blockDim.x + threadIdx.x] = cg::this_grid().is_valid() ? 1 : 0;
}

// grid.sync() in a launch that is not cooperative: the library traps.
__global__ void sync_anyway(int *out)
{
    cg::this_grid().sync();
    out[blockIdx.x] = 1;
}

}
