/*
 * launch.c — cuLaunchKernel: validated when called, run later by the
 * stream's worker in stream order (OP_LAUNCH), like copies.
 *
 * At call time, as the driver: the function (or kernel, materialised in the
 * stream's context), the grid and block dimensions against the device's and
 * the function's limits, dynamic shared memory against the function's
 * limit, cluster dimensions set on the function, and the parameters, which
 * are copied then (from kernelParams through the PTX parameter layout, or
 * from the CU_LAUNCH_PARAM_BUFFER_POINTER buffer of `extra`).
 *
 * A cooperative launch (cuLaunchKernelEx with CU_LAUNCH_ATTRIBUTE_COOPERATIVE)
 * is also checked against the occupancy (the whole grid resident at once).
 *
 * At run time the PTX engine runs the grid on cfg.sm_count host threads,
 * checking every device access against the allocation table; device printf
 * output goes to this process's stdout. A failed launch (illegal address,
 * trap, ...) makes its context sticky (see struct ctx): later launches in
 * it are skipped, and enqueues and synchronisations return the error.
 */
#include "module.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct launch {
    struct ptx_launch l;
    const char *name; /* the kernel's, for the failure log */
    CUfunction h;     /* the handle it was launched with (stream capture) */
    size_t params_len;
    unsigned char params[];
};

/* ---- running (stream worker, no lock) ---- */

static bool valid_range(void *ctx, uint64_t addr, uint64_t n)
{
    (void)ctx;
    return n <= SIZE_MAX && mem_range_ok((CUdeviceptr)addr, (size_t)n);
}

/* Where device printf goes: set by the server (to the client), else stdout. */
static void (*print_fn)(void *ctx, const char *text, size_t len);
static void *print_ctx;

void cpudev_set_print(void (*fn)(void *ctx, const char *text, size_t len), void *ctx)
{
    print_fn = fn;
    print_ctx = ctx;
}

static void print_stdout(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    while (len) {
        ssize_t w = write(1, text, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        text += w;
        len -= (size_t)w;
    }
}

CUresult launch_run(struct launch *l)
{
    CUresult r = ptx_launch_run(&l->l);
    if (r == CUDA_SUCCESS)
        return r;
    /* Every launch error is validated away at call time; one the engine
     * still finds is a failure of the launch. */
    if (r == CUDA_ERROR_INVALID_VALUE)
        r = CUDA_ERROR_LAUNCH_FAILED;
    rgpu_warn("cpudev: kernel %s grid (%u,%u,%u) block (%u,%u,%u) failed with error %d", l->name, l->l.grid[0],
              l->l.grid[1], l->l.grid[2], l->l.block[0], l->l.block[1], l->l.block[2], (int)r);
    return r;
}

/* ---- validation ---- */

static unsigned dev_attr(CUdevice_attribute a)
{
    int v = 0;
    cpudev_attribute(a, &v);
    return v > 0 ? (unsigned)v : 0;
}

static int fattr(const struct func *f, CUfunction_attribute a)
{
    int v = 0;
    fattr_get(f->kd, &f->a, func_base(f), a, &v);
    return v;
}

static CUresult check_config(const struct func *f, const unsigned grid[3], const unsigned block[3], unsigned shmem)
{
    static const CUdevice_attribute gmax[3] = {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
                                               CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z};
    static const CUdevice_attribute bmax[3] = {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
                                               CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z};
    uint64_t threads = 1;
    for (int i = 0; i < 3; i++) {
        if (!grid[i] || grid[i] > dev_attr(gmax[i]) || !block[i] || block[i] > dev_attr(bmax[i]))
            return CUDA_ERROR_INVALID_VALUE;
        threads *= block[i];
    }
    if (threads > dev_attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK))
        return CUDA_ERROR_INVALID_VALUE;
    /* .reqntid: exactly that many threads. */
    const unsigned *req = f->kd->info.reqntid;
    if (req[0] && threads != (uint64_t)req[0] * (req[1] ? req[1] : 1) * (req[2] ? req[2] : 1))
        return CUDA_ERROR_INVALID_VALUE;
    /* Within the device's limits but beyond the function's (.maxntid,
     * registers): "too many resources requested for launch". */
    if (threads > (uint64_t)f->kd->max_threads)
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    size_t optin = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    if (f->kd->info.static_shared > optin)
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    if (shmem > (unsigned)fattr(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES))
        return CUDA_ERROR_INVALID_VALUE;
    /* Cluster dimensions set on the function: all or none, dividing the grid,
     * within the portable (8) or non-portable (16) cluster size. */
    int cw = fattr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH), ch = fattr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT),
        cd = fattr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH);
    if (cw || ch || cd) {
        if (!dev_attr(CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH))
            return CUDA_ERROR_INVALID_CLUSTER_SIZE;
        int maxc = fattr(f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED) ? 16 : 8;
        if (!cw || !ch || !cd || grid[0] % (unsigned)cw || grid[1] % (unsigned)ch || grid[2] % (unsigned)cd ||
            (long)cw * ch * cd > maxc)
            return CUDA_ERROR_INVALID_CLUSTER_SIZE;
    }
    return CUDA_SUCCESS;
}

/* Copy the parameters into dst (kd->info.param_bytes, zeroed). */
static CUresult copy_params(const struct kdesc *kd, void **kernelParams, void **extra, unsigned char *dst)
{
    size_t need = kd->info.param_bytes;
    if (kernelParams && extra)
        return CUDA_ERROR_INVALID_VALUE;
    if (extra) {
        const void *buf = NULL;
        const size_t *psize = NULL;
        bool have_buf = false, have_size = false;
        for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
                buf = extra[i + 1];
                have_buf = true;
            } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
                psize = extra[i + 1];
                have_size = true;
            } else {
                return CUDA_ERROR_INVALID_VALUE;
            }
        }
        if (!need)
            return CUDA_SUCCESS;
        /* A buffer without its size has no effect: parameters missing. A
         * larger buffer is accepted (trailing padding); a smaller is not. */
        if (!have_buf || !have_size || !buf || !psize || *psize < need)
            return CUDA_ERROR_INVALID_VALUE;
        memcpy(dst, buf, need);
        return CUDA_SUCCESS;
    }
    if (!kd->info.nparams)
        return CUDA_SUCCESS;
    if (!kernelParams)
        return CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; i < kd->info.nparams; i++) {
        size_t off, size;
        ptx_kernel_param(kd->k, i, &off, &size);
        if (!kernelParams[i] || off > need || size > need - off)
            return CUDA_ERROR_INVALID_VALUE;
        memcpy(dst + off, kernelParams[i], size);
    }
    return CUDA_SUCCESS;
}

/* A launch of fn with zeroed parameters, configuration checked. */
static CUresult launch_alloc_locked(CUfunction h, struct func *fn, const unsigned grid[3], const unsigned block[3],
                                   unsigned shmem, struct launch **out)
{
    CUresult r = check_config(fn, grid, block, shmem);
    if (r != CUDA_SUCCESS)
        return r;
    struct launch *l = calloc(1, sizeof *l + fn->kd->info.param_bytes);
    if (!l)
        return CUDA_ERROR_OUT_OF_MEMORY;
    l->name = fn->kd->info.name;
    l->h = h;
    l->params_len = fn->kd->info.param_bytes;
    l->l.kernel = fn->kd->k;
    memcpy(l->l.grid, grid, sizeof l->l.grid);
    memcpy(l->l.block, block, sizeof l->l.block);
    l->l.dynamic_shared = shmem;
    l->l.params = l->params;
    /* The module outlives the launch: unloading waits for queued work. */
    l->l.global_addrs = fn->mod->global_addrs;
    l->l.memory.valid = valid_range;
    l->l.texture = texture_resolve;
    l->l.host_threads = cpudev.cfg.sm_count;
    l->l.print = print_fn ? print_fn : print_stdout;
    l->l.print_ctx = print_fn ? print_ctx : NULL;
    *out = l;
    return CUDA_SUCCESS;
}

CUresult launch_new_locked(CUfunction f, struct ctx *c, const unsigned grid[3], const unsigned block[3],
                           unsigned shmem, const void *params, size_t len, struct launch **out)
{
    struct func *fn;
    CUresult r = func_in_ctx_locked(f, c, &fn);
    if (r == CUDA_SUCCESS && len < fn->kd->info.param_bytes)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        r = launch_alloc_locked(f, fn, grid, block, shmem, out);
    if (r == CUDA_SUCCESS && (*out)->params_len)
        memcpy((*out)->params, params, (*out)->params_len);
    return r;
}

void launch_describe(const struct launch *l, CUfunction *f, unsigned grid[3], unsigned block[3], unsigned *shmem,
                     const void **params, size_t *len)
{
    *f = l->h;
    memcpy(grid, l->l.grid, sizeof l->l.grid);
    memcpy(block, l->l.block, sizeof l->l.block);
    *shmem = l->l.dynamic_shared;
    *params = l->params;
    *len = l->params_len;
}

CUresult launch_pack_params_locked(CUfunction f, struct ctx *c, void **kernelParams, void **extra, void **out,
                                   size_t *len)
{
    struct func *fn;
    CUresult r = func_in_ctx_locked(f, c, &fn);
    if (r != CUDA_SUCCESS)
        return r;
    *len = fn->kd->info.param_bytes;
    *out = calloc(1, *len ? *len : 1);
    if (!*out)
        return CUDA_ERROR_OUT_OF_MEMORY;
    r = copy_params(fn->kd, kernelParams, extra, *out);
    if (r != CUDA_SUCCESS) {
        free(*out);
        *out = NULL;
    }
    return r;
}

/* A cooperative grid must be resident at once, as on a GPU: at most the
 * occupancy calculator's blocks per multiprocessor times their number. */
static CUresult check_cooperative(const struct func *f, const struct ctx *c, const unsigned grid[3],
                                  const unsigned block[3], unsigned shmem)
{
    uint64_t blocks = (uint64_t)grid[0] * grid[1] * grid[2];
    int per_sm = occupancy_blocks(f, c, (int)(block[0] * block[1] * block[2]), shmem);
    if (per_sm <= 0 || blocks > (uint64_t)per_sm * dev_attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT))
        return CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
    return CUDA_SUCCESS;
}

CUresult launch_cooperative_locked(struct launch *l, struct ctx *c)
{
    struct func *fn;
    CUresult r = func_in_ctx_locked(l->h, c, &fn);
    if (r == CUDA_SUCCESS)
        r = check_cooperative(fn, c, l->l.grid, l->l.block, (unsigned)l->l.dynamic_shared);
    if (r == CUDA_SUCCESS)
        l->l.cooperative = true;
    return r;
}

/* ---- the driver calls ---- */

static CUresult launch(CUfunction f, const unsigned grid[3], const unsigned block[3], unsigned int sharedMemBytes,
                       CUstream hStream, void **kernelParams, void **extra, bool cooperative)
{
    struct stream *s;
    struct func *fn = NULL;
    struct launch *l = NULL;
    struct op *op = NULL;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        r = func_in_ctx_locked(f, s->ctx, &fn); /* a kernel: in the stream's context */
    if (r == CUDA_SUCCESS && s->ctx->sticky)
        r = s->ctx->sticky;
    if (r == CUDA_SUCCESS)
        r = launch_alloc_locked(f, fn, grid, block, sharedMemBytes, &l);
    if (r == CUDA_SUCCESS && cooperative)
        r = check_cooperative(fn, s->ctx, grid, block, sharedMemBytes);
    if (r == CUDA_SUCCESS && !(op = op_new(OP_LAUNCH)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS)
        r = copy_params(fn->kd, kernelParams, extra, l->params);
    if (r == CUDA_SUCCESS) {
        l->l.cooperative = cooperative;
        op->u.launch = l;
        l = NULL; /* the op owns it */
        r = stream_submit_locked(s, op, NULL, 0);
    }
    if (r != CUDA_SUCCESS && op)
        op_discard_locked(op); /* frees the launch it owns */
    cpudev_unlock();
    free(l);
    return r;
}

CUresult cpudev_cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                               unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                               unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra)
{
    CPUDEV_ENTER();
    const unsigned grid[3] = {gridDimX, gridDimY, gridDimZ}, block[3] = {blockDimX, blockDimY, blockDimZ};
    return launch(f, grid, block, sharedMemBytes, hStream, kernelParams, extra, false);
}

/* cuLaunchKernelEx: the attributes the CPU device can honour. A cluster
 * launch runs like the plain launch it is equivalent to unless the kernel
 * uses cluster instructions, which the PTX machine refuses (as an illegal
 * instruction) rather than emulates; hints (priority, carveout, access policy,
 * memory sync domains, programmatic serialisation — a permission, satisfied
 * by serial execution) need no action. A cooperative launch is bounded by
 * the occupancy (COOPERATIVE_LAUNCH_TOO_LARGE) and runs with every block
 * resident (ptx/launch.c), so grid-wide sync works. */
CUresult cpudev_cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
    CPUDEV_ENTER();
    if (!config || (config->numAttrs && !config->attrs))
        return CUDA_ERROR_INVALID_VALUE;
    bool cooperative = false;
    for (unsigned i = 0; i < config->numAttrs; i++) {
        const CUlaunchAttribute *a = &config->attrs[i];
        switch (a->id) {
        case CU_LAUNCH_ATTRIBUTE_IGNORE:
        case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
        case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
        case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
        case CU_LAUNCH_ATTRIBUTE_PRIORITY:
        case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
        case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
        case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
            break;
        case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
        case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION: {
            unsigned cx = a->value.clusterDim.x, cy = a->value.clusterDim.y, cz = a->value.clusterDim.z;
            if (!cx || !cy || !cz || config->gridDimX % cx || config->gridDimY % cy || config->gridDimZ % cz)
                return CUDA_ERROR_INVALID_CLUSTER_SIZE;
            if ((uint64_t)cx * cy * cz > 8)
                return CUDA_ERROR_INVALID_CLUSTER_SIZE; /* past the portable maximum */
            break;
        }
        case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
            cooperative = a->value.cooperative != 0; /* the last one given wins */
            break;
        default:
            return CUDA_ERROR_NOT_SUPPORTED;
        }
    }
    const unsigned grid[3] = {config->gridDimX, config->gridDimY, config->gridDimZ},
                   block[3] = {config->blockDimX, config->blockDimY, config->blockDimZ};
    return launch(f, grid, block, config->sharedMemBytes, config->hStream, kernelParams, extra, cooperative);
}
