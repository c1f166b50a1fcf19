/*
 * occupancy.c — occupancy, answered on the client as far as it can be.
 *
 * The server's answer for a (function, block size, dynamic shared memory,
 * flags) does not change until the function's attributes or cache
 * configuration do, so it is kept in a small table: ggml asks
 * cudaOccupancyMaxActiveBlocksPerMultiprocessor before its launches, which
 * would otherwise cost a round trip each. Every call that can change an
 * answer (cuFuncSetAttribute, cuKernelSetAttribute, the cache-configuration
 * setters, unloading code, destroying or resetting a context: they all
 * forget function info, funcinfo.c) starts a new generation, which makes
 * every kept answer stale.
 *
 * cuOccupancyMaxPotentialBlockSize(WithFlags) runs here too: its
 * blockSizeToDynamicSMemSize callback is client code, so the search asks the
 * occupancy of each candidate block size, as the CUDA occupancy calculator
 * does (largest occupancy wins; among equals the larger block, found first
 * when scanning downwards).
 *
 * Also the cooperative-launch limit, which CUDA checks when the launch is
 * called: the grid must fit on the device at once (blocks per multiprocessor
 * times their number).
 */
#include "conn.h"
#include "context.h"
#include "funcinfo.h"

#include <pthread.h>
#include <stdatomic.h>

struct occ_entry {
    CUfunction f;
    int block;
    size_t smem;
    unsigned flags;
    unsigned gen; /* 0: empty */
    int blocks_per_sm;
};

#define OCC_SLOTS 1024 /* direct-mapped: a collision only costs a round trip */
static struct occ_entry occ[OCC_SLOTS];
static pthread_mutex_t occ_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint occ_gen = 1;

void rgpu_occupancy_invalidate(void) { atomic_fetch_add(&occ_gen, 1); }

static size_t slot(CUfunction f, int block, size_t smem, unsigned flags)
{
    uint64_t h = (uint64_t)(uintptr_t)f * 0x9E3779B97F4A7C15ull ^ (uint64_t)block * 0xC2B2AE3D27D4EB4Full ^
                 (uint64_t)smem * 0x165667B19E3779F9ull ^ flags;
    return (size_t)(h >> 40) % OCC_SLOTS;
}

/* The server's blocks per multiprocessor, from the table unless fresh is
 * set or it holds no current answer. */
static CUresult blocks_per_sm(CUfunction f, int block, size_t smem, unsigned flags, bool fresh, int *out)
{
    size_t i = slot(f, block, smem, flags);
    unsigned gen = atomic_load(&occ_gen);
    if (!fresh) {
        pthread_mutex_lock(&occ_lock);
        const struct occ_entry *e = &occ[i];
        bool hit = e->gen == gen && e->f == f && e->block == block && e->smem == smem && e->flags == flags;
        if (hit)
            *out = e->blocks_per_sm;
        pthread_mutex_unlock(&occ_lock);
        if (hit)
            return CUDA_SUCCESS;
    }
    struct rgpu_args_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags a = {
        .func = f, .blockSize = block, .dynamicSMemSize = smem, .flags = flags};
    CUresult r = rgpu_remote(RGPU_ID_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, &a);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&occ_lock);
    occ[i] = (struct occ_entry){f, block, smem, flags, gen, a.numBlocks};
    pthread_mutex_unlock(&occ_lock);
    *out = a.numBlocks;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func, int blockSize,
                                                                       size_t dynamicSMemSize, unsigned int flags)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!numBlocks)
        return CUDA_ERROR_INVALID_VALUE;
    /* an unknown or stale function is the server's to refuse; only answers
     * it gave are kept */
    return blocks_per_sm(func, blockSize, dynamicSMemSize, flags, false, numBlocks);
}

RGPU_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize,
                                                              size_t dynamicSMemSize)
{
    return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(numBlocks, func, blockSize, dynamicSMemSize,
                                                                CU_OCCUPANCY_DEFAULT);
}


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
        int n;
        if ((r = blocks_per_sm(func, b, smem, flags, false, &n)) != CUDA_SUCCESS)
            return r;
        if (n * b > best_occ) {
            best_occ = n * b;
            best_block = b;
            best_n = n;
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
 * The launch itself travels without a reply, so the limit is checked here,
 * from the kept occupancy: repeated cooperative launches, as ggml makes them,
 * cost no round trip. A kept answer that would refuse is asked again first;
 * one that is stale the other way is caught by the backend's own check, whose
 * error then comes at the next synchronisation.
 */
CUresult rgpu_coop_check(CUfunction f, uint64_t blocks, int threads, unsigned shmem)
{
    CUdevice dev;
    if (!rgpu_ctx_device(rgpu_ctx_current(), &dev))
        return CUDA_ERROR_INVALID_CONTEXT;
    uint64_t sms = (uint64_t)rgpu_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    int per_sm;
    CUresult r = blocks_per_sm(f, threads, shmem, CU_OCCUPANCY_DEFAULT, false, &per_sm);
    if (r == CUDA_SUCCESS && blocks > (uint64_t)per_sm * sms)
        r = blocks_per_sm(f, threads, shmem, CU_OCCUPANCY_DEFAULT, true, &per_sm);
    if (r != CUDA_SUCCESS)
        return r;
    return blocks <= (uint64_t)per_sm * sms ? CUDA_SUCCESS : CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
}
