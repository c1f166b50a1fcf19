/*
 * occupancy.c — cuOccupancyMaxPotentialBlockSize(WithFlags), on the client:
 * its blockSizeToDynamicSMemSize callback is client code, so the search runs
 * here, asking the server for the occupancy of each candidate block size, as
 * the CUDA occupancy calculator does (largest occupancy wins; among equals the
 * larger block, found first when scanning downwards).
 *
 * Also the cooperative-launch limit, which CUDA checks when the launch is
 * called: the grid must fit on the device at once (blocks per multiprocessor
 * times their number).
 */
#include "conn.h"
#include "context.h"
#include "funcinfo.h"

#include <pthread.h>


static CUresult potential(int *minGridSize, int *blockSize, CUfunction func, CUoccupancyB2DSize b2d, size_t dyn,
                          int limit, unsigned flags)
{
    CUresult r = rgpu_check_init();
    CUdevice dev;
    if (r)
        return r;
    if (!minGridSize || !blockSize || !func)
        return CUDA_ERROR_INVALID_VALUE;
    if (!rgpu_ctx_device(rgpu_ctx_current(), &dev))
        return CUDA_ERROR_INVALID_CONTEXT;
    struct rgpu_func_info *fi;
    if ((r = rgpu_func_info(func, &fi)) != CUDA_SUCCESS)
        return r;
    int warp = rgpu_dev_attr(dev, CU_DEVICE_ATTRIBUTE_WARP_SIZE), sms = rgpu_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    int per_sm = rgpu_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
    int max_block = rgpu_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    if (fi->max_threads > 0 && fi->max_threads < max_block)
        max_block = fi->max_threads;
    if (limit > 0 && limit < max_block)
        max_block = limit;
    if (warp <= 0 || max_block <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    int best_occ = 0, best_block = 0, best_n = 0;
    for (int bs = (max_block + warp - 1) / warp * warp; bs > 0; bs -= warp) {
        int b = bs < max_block ? bs : max_block;
        size_t smem = b2d ? b2d(b) : dyn;
        struct rgpu_args_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags a = {
            .func = func, .blockSize = b, .dynamicSMemSize = smem, .flags = flags};
        r = rgpu_remote(RGPU_ID_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, &a);
        if (r != CUDA_SUCCESS)
            return r;
        if (a.numBlocks * b > best_occ) {
            best_occ = a.numBlocks * b;
            best_block = b;
            best_n = a.numBlocks;
        }
        if (per_sm > 0 && best_occ >= per_sm)
            break; /* full occupancy: no smaller block does better */
    }
    *blockSize = best_block;
    *minGridSize = best_n * sms;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
                                                   CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                   size_t dynamicSMemSize, int blockSizeLimit)
{
    return potential(minGridSize, blockSize, func, blockSizeToDynamicSMemSize, dynamicSMemSize, blockSizeLimit, 0);
}

RGPU_API CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int *minGridSize, int *blockSize, CUfunction func,
                                                            CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                            size_t dynamicSMemSize, int blockSizeLimit,
                                                            unsigned int flags)
{
    return potential(minGridSize, blockSize, func, blockSizeToDynamicSMemSize, dynamicSMemSize, blockSizeLimit,
                     flags);
}

/*
 * The launch itself travels without a reply, so the limit is checked here.
 * The server's occupancy for this (function, block size, dynamic shared
 * memory) is asked once and kept with the function's info (dropped with it
 * when cuFuncSetAttribute changes the function), so repeated cooperative
 * launches, as ggml makes them, cost no round trip. A cached answer that
 * would refuse is asked again first (a cache configuration changed since may
 * allow more); one that is stale the other way is caught by the backend's
 * own check, whose error then comes at the next synchronisation.
 */
static pthread_mutex_t coop_lock = PTHREAD_MUTEX_INITIALIZER;

static CUresult per_sm_remote(CUfunction f, struct rgpu_func_info *fi, int threads, unsigned shmem, int *per_sm)
{
    struct rgpu_args_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags a = {
        .func = f, .blockSize = threads, .dynamicSMemSize = shmem, .flags = CU_OCCUPANCY_DEFAULT};
    CUresult r = rgpu_remote(RGPU_ID_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, &a);
    if (r != CUDA_SUCCESS)
        return r;
    *per_sm = a.numBlocks;
    pthread_mutex_lock(&coop_lock);
    fi->coop_threads = threads;
    fi->coop_shmem = shmem;
    fi->coop_per_sm = a.numBlocks;
    pthread_mutex_unlock(&coop_lock);
    return CUDA_SUCCESS;
}

CUresult rgpu_coop_check(CUfunction f, struct rgpu_func_info *fi, uint64_t blocks, int threads, unsigned shmem)
{
    CUdevice dev;
    if (!rgpu_ctx_device(rgpu_ctx_current(), &dev))
        return CUDA_ERROR_INVALID_CONTEXT;
    uint64_t sms = (uint64_t)rgpu_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    int per_sm = -1;
    pthread_mutex_lock(&coop_lock);
    if (fi->coop_threads == threads && fi->coop_shmem == shmem)
        per_sm = fi->coop_per_sm;
    pthread_mutex_unlock(&coop_lock);
    CUresult r;
    if (per_sm >= 0 && blocks <= (uint64_t)per_sm * sms)
        return CUDA_SUCCESS;
    if ((r = per_sm_remote(f, fi, threads, shmem, &per_sm)) != CUDA_SUCCESS)
        return r;
    return blocks <= (uint64_t)per_sm * sms ? CUDA_SUCCESS : CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
}
