/*
 * tensormap.c — cuTensorMapEncodeTiled: Hopper's TMA descriptors, which
 * cuBLAS encodes on the host for its sm_90 kernels and passes to them as a
 * parameter. The descriptor names a device address, so the server's driver
 * encodes it (rgpu_tensor_map_tiled); the arrays are checked here, where they
 * are read.
 */
#include <stdint.h>

#include "client.h"
#include "conn.h"
#include "context.h"

RGPU_API CUresult cuTensorMapEncodeTiled(CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType,
                                         cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim,
                                         const cuuint64_t *globalStrides, const cuuint32_t *boxDim,
                                         const cuuint32_t *elementStrides, CUtensorMapInterleave interleave,
                                         CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion,
                                         CUtensorMapFloatOOBfill oobFill)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    /* CUDA's limits: rank 1 to 5, a stride for each dimension but the first */
    if (!tensorMap || tensorRank < 1 || tensorRank > 5 || !globalDim || !boxDim || !elementStrides ||
        (tensorRank > 1 && !globalStrides))
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_rgpu_tensor_map_tiled a = {
        .map = tensorMap,
        .dataType = tensorDataType,
        .rank = tensorRank,
        .globalAddress = (CUdeviceptr)(uintptr_t)globalAddress,
        .globalDim = globalDim,
        .globalStrides = tensorRank > 1 ? globalStrides : NULL,
        .boxDim = boxDim,
        .elementStrides = elementStrides,
        .interleave = interleave,
        .swizzle = swizzle,
        .l2Promotion = l2Promotion,
        .oobFill = oobFill,
    };
    return rgpu_remote(RGPU_ID_rgpu_tensor_map_tiled, &a);
}
