/*
 * occupancy.c — the occupancy calculator: how many blocks of a function fit
 * on one multiprocessor, and how much dynamic shared memory a block may use.
 *
 * The formulas are those of CUDA's cuda_occupancy.h for Volta and later
 * (warp slots, 256-register granules per warp over four sub-partitions,
 * shared memory in 128-byte granules plus the per-block reservation, the
 * carveout rounded up to a supported shared-memory configuration), applied
 * to this device's per-SM limits as its attributes report them and to the
 * function's attributes. The CPU runs blocks differently, but software sizes
 * grids from these numbers, so they match what a GPU with these limits says.
 */
#include "module.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

struct limits {
    int threads_sm, threads_block, warp, blocks_sm, regs_sm, regs_block, gran_smem;
    size_t smem_sm, smem_block, smem_optin, smem_reserved;
};

static int dev_attr(CUdevice_attribute a)
{
    int v = 0;
    cpudev_attribute(a, &v);
    return v;
}

static void get_limits(struct limits *d)
{
    d->threads_sm = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
    d->threads_block = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    d->warp = dev_attr(CU_DEVICE_ATTRIBUTE_WARP_SIZE);
    d->blocks_sm = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR);
    d->regs_sm = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR);
    d->regs_block = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK);
    d->smem_sm = (size_t)dev_attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
    d->smem_block = (size_t)dev_attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    d->smem_optin = (size_t)dev_attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    d->smem_reserved = (size_t)dev_attr(CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK);
    d->gran_smem = cpudev.cfg.cc_major >= 8 ? 128 : 256;
    if (d->warp <= 0)
        d->warp = 32;
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* The shared-memory configuration a request rounds up to (the carveouts of
 * cuda_occupancy.h), never beyond the SM's shared memory. */
static size_t carveout_round(size_t size, size_t smem_sm)
{
    static const unsigned kib[] = {0, 8, 16, 32, 64, 100, 132, 164, 196, 228};
    for (size_t i = 0; i < sizeof kib / sizeof kib[0] && kib[i] * 1024u <= smem_sm; i++)
        if (size <= kib[i] * 1024u)
            return kib[i] * 1024u;
    return smem_sm;
}

static int fattr(const struct func *f, CUfunction_attribute a)
{
    int v = 0;
    fattr_get(f->kd, &f->a, func_base(f), a, &v);
    return v;
}

/* Shared memory per SM the user prefers: the carveout, else the cache
 * configuration (the function's, else its kernel's, else the context's). */
static size_t smem_preference(const struct func *f, const struct ctx *c, const struct limits *d)
{
    int pct = fattr(f, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT);
    if (pct < 0) {
        CUfunc_cache cache = CU_FUNC_CACHE_PREFER_NONE;
        if (f->a.cache_set)
            cache = f->a.cache;
        else if (f->kern && f->kern->a.cache_set)
            cache = f->kern->a.cache;
        if (cache == CU_FUNC_CACHE_PREFER_NONE && c)
            cache = c->cache;
        pct = cache == CU_FUNC_CACHE_PREFER_L1 ? 0 : cache == CU_FUNC_CACHE_PREFER_SHARED ? 100
              : cache == CU_FUNC_CACHE_PREFER_EQUAL                                       ? 50
                                                                                          : -1;
    }
    size_t want = pct < 0 ? d->smem_sm : (size_t)pct * d->smem_sm / 100;
    return carveout_round(want, d->smem_sm);
}

/* Per-block shared memory limit (cudaOccSMemPerBlock with the opt-in
 * configuration, as the runtime passes function attributes). */
static size_t smem_block_limit(const struct limits *d, size_t smem_per_cta)
{
    size_t lim = smem_per_cta > d->smem_block ? d->smem_optin : d->smem_block;
    return lim + (cpudev.cfg.cc_major >= 8 ? d->smem_reserved : 0);
}

static int min_i(int a, int b) { return a < b ? a : b; }

int occupancy_blocks(const struct func *f, const struct ctx *c, int block, size_t dyn)
{
    struct limits d;
    get_limits(&d);
    if (block <= 0)
        return 0;
    int warps = (block + d.warp - 1) / d.warp;

    /* warps */
    int max_threads = min_i(d.threads_block, f->kd->max_threads);
    int by_warps = block > max_threads ? 0 : d.threads_sm / d.warp / warps;

    /* registers */
    int regs = f->kd->num_regs, by_regs;
    int per_warp = (int)round_up((size_t)regs * (size_t)d.warp, 256);
    if ((long)per_warp * (long)round_up((size_t)warps, 4) > d.regs_block || (long)per_warp * warps > d.regs_block ||
        regs > 255)
        by_regs = 0;
    else if (per_warp > 0)
        by_regs = (d.regs_sm / 4 / per_warp) * 4 / warps;
    else
        by_regs = INT_MAX;

    /* shared memory */
    size_t reserved = cpudev.cfg.cc_major >= 8 ? d.smem_reserved : 0;
    size_t static_smem = f->kd->info.static_shared + reserved;
    size_t max_dyn = (size_t)fattr(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
    size_t per_cta = round_up(static_smem + dyn, (size_t)d.gran_smem);
    int by_smem;
    if (dyn > max_dyn || per_cta > smem_block_limit(&d, static_smem + max_dyn)) {
        by_smem = 0;
    } else {
        size_t pref = smem_preference(f, c, &d);
        size_t sm = pref >= per_cta ? pref : carveout_round(per_cta, d.smem_sm);
        by_smem = per_cta ? (int)(sm / per_cta) : INT_MAX;
    }

    return min_i(min_i(by_warps, by_regs), min_i(by_smem, d.blocks_sm));
}

/* ---- driver calls ---- */

/* f as a function of the current context (a kernel is materialised). */
static CUresult occ_func_locked(CUfunction func, struct func **f, struct ctx **c)
{
    CUresult r = ctx_current_locked(c);
    if (r == CUDA_SUCCESS)
        r = func_in_ctx_locked(func, NULL, f);
    return r;
}

CUresult cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func, int blockSize,
                                                                    size_t dynamicSMemSize, unsigned int flags)
{
    CPUDEV_ENTER();
    if (!numBlocks || blockSize <= 0 ||
        (flags != CU_OCCUPANCY_DEFAULT && flags != CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE))
        return CUDA_ERROR_INVALID_VALUE;
    struct func *f;
    struct ctx *c;
    cpudev_lock();
    CUresult r = occ_func_locked(func, &f, &c);
    if (r == CUDA_SUCCESS)
        *numBlocks = occupancy_blocks(f, c, blockSize, dynamicSMemSize);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize,
                                                            size_t dynamicSMemSize)
{
    return cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(numBlocks, func, blockSize, dynamicSMemSize,
                                                                       CU_OCCUPANCY_DEFAULT);
}

/*
 * cudaOccAvailableDynamicSMemPerBlock: shared memory per SM (the whole
 * per-block limit for one block, the preferred carveout for more) divided
 * among numBlocks, in granules, less the static part, capped by the
 * function's dynamic limit. INVALID_VALUE when numBlocks blocks of blockSize
 * cannot be resident at all.
 */
CUresult cpudev_cuOccupancyAvailableDynamicSMemPerBlock(size_t *dynamicSmemSize, CUfunction func, int numBlocks,
                                                        int blockSize)
{
    CPUDEV_ENTER();
    if (!dynamicSmemSize || numBlocks <= 0 || blockSize <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct func *f;
    struct ctx *c;
    cpudev_lock();
    CUresult r = occ_func_locked(func, &f, &c);
    if (r == CUDA_SUCCESS && occupancy_blocks(f, c, blockSize, 0) < numBlocks)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        struct limits d;
        get_limits(&d);
        size_t lim = smem_block_limit(&d, d.smem_sm);
        size_t sm = numBlocks == 1 ? lim : smem_preference(f, c, &d);
        if (!sm)
            sm = carveout_round(1, d.smem_sm);
        size_t avail = sm / (size_t)numBlocks / (size_t)d.gran_smem * (size_t)d.gran_smem;
        if (avail > lim)
            avail = lim;
        avail = avail > f->kd->info.static_shared ? avail - f->kd->info.static_shared : 0;
        size_t max_dyn = (size_t)fattr(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
        *dynamicSmemSize = avail < max_dyn ? avail : max_dyn;
    }
    cpudev_unlock();
    return r;
}

/*
 * cuOccupancyMaxActiveClusters: how many clusters of the configuration's size
 * can be resident at once. The cluster size comes from the configuration's
 * CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, else from the function's required
 * cluster dimensions; with neither there is no cluster to count
 * (INVALID_CLUSTER_SIZE, as the driver documents). The CPU device launches
 * clusters of at most 8 blocks (the portable maximum; see
 * cpudev_cuLaunchKernelEx), so larger ones are refused the same way. It has
 * no GPCs: every multiprocessor can hold blocks of any cluster, so the answer
 * is the blocks resident per multiprocessor times their number, in whole
 * clusters.
 */
/* What both cluster queries check first; *block the threads of a block. */
static CUresult cluster_query(const void *out, const CUlaunchConfig *config, uint64_t *block)
{
    if (!out || !config || (config->numAttrs && !config->attrs))
        return CUDA_ERROR_INVALID_VALUE;
    *block = (uint64_t)config->blockDimX * config->blockDimY * config->blockDimZ;
    if (!*block || *block > INT_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    return dev_attr(CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH) ? CUDA_SUCCESS
                                                        : CUDA_ERROR_NOT_SUPPORTED; /* before compute capability 9.0 */
}

CUresult cpudev_cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const CUlaunchConfig *config)
{
    CPUDEV_ENTER();
    uint64_t block;
    CUresult q = cluster_query(numClusters, config, &block);
    if (q != CUDA_SUCCESS)
        return q;
    unsigned cl[3] = {0, 0, 0};
    for (unsigned i = 0; i < config->numAttrs; i++) {
        const CUlaunchAttribute *a = &config->attrs[i];
        if (a->id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
            cl[0] = a->value.clusterDim.x;
            cl[1] = a->value.clusterDim.y;
            cl[2] = a->value.clusterDim.z;
        }
    }
    struct func *f;
    struct ctx *c;
    cpudev_lock();
    CUresult r = occ_func_locked(func, &f, &c);
    if (r == CUDA_SUCCESS) {
        unsigned req[3] = {(unsigned)fattr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH),
                           (unsigned)fattr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT),
                           (unsigned)fattr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH)};
        bool has_req = req[0] && req[1] && req[2];
        bool has_cfg = cl[0] || cl[1] || cl[2];
        if (has_cfg && has_req && (cl[0] != req[0] || cl[1] != req[1] || cl[2] != req[2]))
            r = CUDA_ERROR_INVALID_CLUSTER_SIZE; /* must match the required size */
        else if (!has_cfg && !has_req)
            r = CUDA_ERROR_INVALID_CLUSTER_SIZE;
        else if (!has_cfg)
            memcpy(cl, req, sizeof cl);
        uint64_t size = (uint64_t)cl[0] * cl[1] * cl[2];
        if (r == CUDA_SUCCESS && (!size || size > 8))
            r = CUDA_ERROR_INVALID_CLUSTER_SIZE;
        if (r == CUDA_SUCCESS) {
            uint64_t blocks = (uint64_t)occupancy_blocks(f, c, (int)block, config->sharedMemBytes) *
                              (uint64_t)dev_attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
            uint64_t n = blocks / size;
            *numClusters = n > INT_MAX ? INT_MAX : (int)n;
        }
    }
    cpudev_unlock();
    return r;
}

/*
 * cuOccupancyMaxPotentialClusterSize: the largest cluster of the
 * configuration's blocks that can be resident at once. A function's required
 * cluster size is the answer; else the CPU device's largest cluster (8
 * blocks, the portable maximum, which its launches keep to) unless fewer of
 * the configuration's blocks fit on the device at once. The configuration's
 * own cluster dimensions are ignored, as the driver documents.
 */
CUresult cpudev_cuOccupancyMaxPotentialClusterSize(int *clusterSize, CUfunction func, const CUlaunchConfig *config)
{
    CPUDEV_ENTER();
    uint64_t block;
    CUresult q = cluster_query(clusterSize, config, &block);
    if (q != CUDA_SUCCESS)
        return q;
    struct func *f;
    struct ctx *c;
    cpudev_lock();
    CUresult r = occ_func_locked(func, &f, &c);
    if (r == CUDA_SUCCESS) {
        uint64_t req = (uint64_t)fattr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH) *
                       (uint64_t)fattr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT) *
                       (uint64_t)fattr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH);
        uint64_t fit = (uint64_t)occupancy_blocks(f, c, (int)block, config->sharedMemBytes) *
                       (uint64_t)dev_attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        *clusterSize = req ? (int)req : (int)(fit < 8 ? fit : 8);
    }
    cpudev_unlock();
    return r;
}
