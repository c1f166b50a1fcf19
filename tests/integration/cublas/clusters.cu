// clusters.cu — cuOccupancyMaxActiveClusters, a driver entry point cuBLAS
// calls (through cudart's cudaOccupancyMaxActiveClusters here), on rgpu's CPU
// device: the count for a cluster size given by the launch configuration is
// the blocks resident per multiprocessor times their number, in whole
// clusters; no cluster size, or one past the portable maximum of 8, is
// refused; and a cluster launch of the same configuration runs. Also
// cuOccupancyMaxPotentialClusterSize: the portable maximum at most, a
// kernel's required cluster size (__cluster_dims__) when it has one, which
// its attributes report and its launches keep.
#include "../cudart/cudart_check.h"

__global__ void fill(int *out, int v)
{
    out[blockIdx.x * blockDim.x + threadIdx.x] = v + (int)blockIdx.x;
}

__global__ void __cluster_dims__(2, 1, 1) paired(int *out) { out[blockIdx.x] = (int)blockIdx.x; }

static cudaLaunchConfig_t config(dim3 grid, dim3 block, cudaLaunchAttribute *attr, unsigned cx)
{
    cudaLaunchConfig_t c = {};
    c.gridDim = grid;
    c.blockDim = block;
    c.dynamicSmemBytes = 0;
    c.stream = 0;
    if (cx) {
        attr->id = cudaLaunchAttributeClusterDimension;
        attr->val.clusterDim.x = cx;
        attr->val.clusterDim.y = 1;
        attr->val.clusterDim.z = 1;
        c.attrs = attr;
        c.numAttrs = 1;
    }
    return c;
}

int main()
{
    int sms = 0, per_sm = 0, cc = 0;
    CK_FATAL(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    CK_FATAL(cudaDeviceGetAttribute(&cc, cudaDevAttrComputeCapabilityMajor, 0));
    CK_FATAL(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fill, 128, 0));
    EXPECT(per_sm > 0 && sms > 0, "per_sm %d, sms %d", per_sm, sms);

    cudaLaunchAttribute attr;
    for (unsigned cx : {1u, 2u, 4u, 8u}) {
        cudaLaunchConfig_t c = config(dim3(16), dim3(128), &attr, cx);
        int n = -1;
        CK(cudaOccupancyMaxActiveClusters(&n, fill, &c));
        EXPECT(n == per_sm * sms / (int)cx, "cluster %u: %d clusters, expected %d", cx, n, per_sm * sms / (int)cx);
    }
    {
        cudaLaunchConfig_t c = config(dim3(16), dim3(128), &attr, 0); // no cluster size anywhere
        int n = -1;
        CK_EQ(cudaOccupancyMaxActiveClusters(&n, fill, &c), cudaErrorInvalidClusterSize);
        cudaGetLastError();
        c = config(dim3(16), dim3(128), &attr, 16); // past the CPU device's maximum
        CK_EQ(cudaOccupancyMaxActiveClusters(&n, fill, &c), cudaErrorInvalidClusterSize);
        cudaGetLastError();
        CK_EQ(cudaOccupancyMaxActiveClusters(nullptr, fill, &c), cudaErrorInvalidValue);
        cudaGetLastError();
    }

    {
        cudaLaunchConfig_t c = config(dim3(16), dim3(128), &attr, 4); // its cluster size is ignored
        int size = -1;
        CK(cudaOccupancyMaxPotentialClusterSize(&size, fill, &c));
        EXPECT(size >= 1 && size <= 8 && size <= per_sm * sms, "largest cluster %d", size);
        c = config(dim3(16), dim3(128), &attr, 0);
        CK(cudaOccupancyMaxPotentialClusterSize(&size, paired, &c));
        EXPECT(size == 2, "largest cluster of a kernel that requires 2: %d", size);
        cudaFuncAttributes fa;
        CK(cudaFuncGetAttributes(&fa, paired));
        EXPECT(fa.requiredClusterWidth == 2 && fa.requiredClusterHeight == 1 && fa.requiredClusterDepth == 1,
               "__cluster_dims__(2, 1, 1): required %d x %d x %d", fa.requiredClusterWidth, fa.requiredClusterHeight,
               fa.requiredClusterDepth);
        int *d = nullptr, h[4] = {0, 0, 0, 0};
        CK_FATAL(cudaMalloc(&d, sizeof h));
        paired<<<4, 1>>>(d); // clusters of 2, as compiled
        CK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
        EXPECT(h[0] == 0 && h[1] == 1 && h[2] == 2 && h[3] == 3, "paired: %d %d %d %d", h[0], h[1], h[2], h[3]);
        CK(cudaFree(d));
    }

    // the configuration it counted launches
    int *d = nullptr;
    CK_FATAL(cudaMalloc(&d, 16 * 128 * sizeof(int)));
    cudaLaunchConfig_t c = config(dim3(16), dim3(128), &attr, 2);
    CK(cudaLaunchKernelEx(&c, fill, d, 1000));
    CK(cudaDeviceSynchronize());
    int h[16 * 128];
    CK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
    for (int i = 0; i < 16 * 128; i++)
        if (h[i] != 1000 + i / 128) {
            EXPECT(h[i] == 1000 + i / 128, "element %d: %d", i, h[i]);
            break;
        }
    CK(cudaFree(d));
    return ct_done("clusters");
}
