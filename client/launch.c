/*
 * launch.c — kernel launches and the calls that change what a launch may do.
 *
 * A launch is checked here against the device's and the function's limits,
 * so that an invalid configuration fails at call time as with the driver;
 * its parameters are packed in the function's layout and sent without
 * waiting for a reply. Errors that only the device can see (a bad address
 * inside the kernel) come back at the next synchronisation.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "context.h"
#include "funcattrs.h"
#include "funcinfo.h"
#include "handles.h"
#include "mapped.h"
#include "memory.h"


static CUresult check_config(const struct rgpu_func_info *fi, const unsigned g[3], const unsigned b[3],
                             unsigned shmem)
{
    CUdevice dev;
    CUcontext ctx = rgpu_ctx_current();
    if (!ctx || !rgpu_ctx_device(ctx, &dev))
        return CUDA_ERROR_INVALID_CONTEXT;
    static const CUdevice_attribute gmax[3] = {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
                                               CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z};
    static const CUdevice_attribute bmax[3] = {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
                                               CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z};
    for (int i = 0; i < 3; i++) {
        if (g[i] == 0 || b[i] == 0 || g[i] > (unsigned)rgpu_dev_attr(dev, gmax[i]) || b[i] > (unsigned)rgpu_dev_attr(dev, bmax[i]))
            return CUDA_ERROR_INVALID_VALUE;
    }
    uint64_t threads = (uint64_t)b[0] * b[1] * b[2];
    if (threads > (uint64_t)rgpu_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK))
        return CUDA_ERROR_INVALID_VALUE;
    if (fi->max_threads > 0 && threads > (uint64_t)fi->max_threads)
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    if (shmem > (unsigned)fi->max_dynamic_shared)
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

/* The packed parameter buffer: from `extra` as given, or gathered from
 * kernelParams in the function's layout (*owned to free). */
static CUresult pack_params(const struct rgpu_func_info *fi, void **kernelParams, void **extra, const void **buf,
                            size_t *len, void **owned)
{
    *owned = NULL;
    if (kernelParams && extra)
        return CUDA_ERROR_INVALID_VALUE;
    if (extra) {
        const void *p = NULL;
        size_t n = 0;
        bool have_p = false, have_n = false;
        for (int i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
            if (i > 64)
                return CUDA_ERROR_INVALID_VALUE;
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
                p = extra[i + 1];
                have_p = true;
            } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
                if (!extra[i + 1])
                    return CUDA_ERROR_INVALID_VALUE;
                n = *(size_t *)extra[i + 1];
                have_n = true;
            } else {
                return CUDA_ERROR_INVALID_VALUE;
            }
        }
        if (!have_p || !have_n || (n && !p) || n < fi->param_bytes)
            return CUDA_ERROR_INVALID_VALUE;
        *buf = p;
        *len = n;
        return CUDA_SUCCESS;
    }
    if (fi->nparams == 0) {
        *buf = NULL;
        *len = 0;
        return CUDA_SUCCESS;
    }
    if (!kernelParams)
        return CUDA_ERROR_INVALID_VALUE;
    char *b = calloc(1, fi->param_bytes);
    if (!b)
        return CUDA_ERROR_OUT_OF_MEMORY;
    for (int i = 0; i < fi->nparams; i++) {
        if (!kernelParams[i]) {
            free(b);
            return CUDA_ERROR_INVALID_VALUE;
        }
        memcpy(b + fi->param_offset[i], kernelParams[i], fi->param_size[i]);
    }
    *buf = b;
    *len = fi->param_bytes;
    *owned = b;
    return CUDA_SUCCESS;
}

CUresult rgpu_launch_pack(CUfunction f, void **kernelParams, void **extra, const void **buf, size_t *len,
                          void **owned)
{
    struct rgpu_func_info *fi;
    *owned = NULL;
    CUresult r = rgpu_func_info(f, &fi);
    return r != CUDA_SUCCESS ? r : pack_params(fi, kernelParams, extra, buf, len, owned);
}

static CUresult launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned shmem, CUstream s, void **kernelParams, void **extra, const CUlaunchAttribute *attrs,
                       unsigned nattrs)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    struct rgpu_func_info *fi;
    if ((r = rgpu_func_info(f, &fi)) != CUDA_SUCCESS)
        return r;
    const unsigned g[3] = {gx, gy, gz}, b[3] = {bx, by, bz};
    if ((r = check_config(fi, g, b, shmem)) != CUDA_SUCCESS)
        return r;
    bool cooperative = false;
    for (unsigned i = 0; i < nattrs; i++)
        if (attrs[i].id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE)
            cooperative = attrs[i].value.cooperative != 0; /* the last one given wins */
    if (cooperative && (r = rgpu_coop_check(f, (uint64_t)gx * gy * gz, (int)(bx * by * bz), shmem)) != CUDA_SUCCESS)
        return r;
    const void *params;
    size_t len;
    void *owned;
    if ((r = pack_params(fi, kernelParams, extra, &params, &len, &owned)) != CUDA_SUCCESS)
        return r;
    struct rgpu_launch_cfg cfg = {{gx, gy, gz}, {bx, by, bz}, shmem, 0};
    if (nattrs) {
        struct rgpu_args_rgpu_launch_ex a = {.f = f, .cfg = cfg, .hStream = s, .attrs = attrs,
                                             .attrs_len = nattrs * sizeof *attrs, .params = params, .params_len = len};
        r = rgpu_remote(RGPU_ID_rgpu_launch_ex, &a);
    } else {
        struct rgpu_args_rgpu_launch a = {.f = f, .cfg = cfg, .hStream = s, .params = params, .params_len = len};
        r = rgpu_remote(RGPU_ID_rgpu_launch, &a);
    }
    free(owned);
    return r;
}

RGPU_API CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                 unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                 unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra)
{
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                  kernelParams, extra, NULL, 0);
}

RGPU_API CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                      unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                      unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                      void **kernelParams, void **extra)
{
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes,
                  hStream ? hStream : CU_STREAM_PER_THREAD, kernelParams, extra, NULL, 0);
}

/* Attributes whose values hold handles (events) are not remoted yet: say so
 * rather than launch without them. */
static CUresult launch_ex(const CUlaunchConfig *c, CUfunction f, void **kernelParams, void **extra, bool per_thread)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!c || (c->numAttrs && !c->attrs) || c->numAttrs > RGPU_MAX_LAUNCH_ATTRS)
        return CUDA_ERROR_INVALID_VALUE;
    CUdevice dev;
    bool coop_ok = rgpu_ctx_device(rgpu_ctx_current(), &dev) && rgpu_dev_attr(dev, CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH);
    for (unsigned i = 0; i < c->numAttrs; i++) {
        if (!rgpu_launch_attr_remotable(c->attrs[i].id))
            return CUDA_ERROR_NOT_SUPPORTED;
        /* a device without cooperative launch refuses it at call time */
        if (c->attrs[i].id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE && c->attrs[i].value.cooperative && !coop_ok)
            return CUDA_ERROR_NOT_SUPPORTED;
    }
    CUstream s = per_thread && !c->hStream ? CU_STREAM_PER_THREAD : c->hStream;
    return launch(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
                  c->sharedMemBytes, s, kernelParams, extra, c->attrs, c->numAttrs);
}

RGPU_API CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
    return launch_ex(config, f, kernelParams, extra, false);
}

RGPU_API CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
    return launch_ex(config, f, kernelParams, extra, true);
}

/* cuLaunchCooperativeKernel is cuLaunchKernelEx with the cooperative
 * attribute, on the wire too (rgpu_launch_ex): the backend sees one call. */
static CUresult launch_coop(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                            unsigned shmem, CUstream s, void **kernelParams, bool per_thread)
{
    CUlaunchAttribute at;
    memset(&at, 0, sizeof at);
    at.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    at.value.cooperative = 1;
    CUlaunchConfig c = {gx, gy, gz, bx, by, bz, shmem, s, &at, 1};
    return launch_ex(&c, f, kernelParams, NULL, per_thread);
}

RGPU_API CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                            unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                            unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                            void **kernelParams)
{
    return launch_coop(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                       kernelParams, false);
}

RGPU_API CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                                 unsigned int gridDimZ, unsigned int blockDimX,
                                                 unsigned int blockDimY, unsigned int blockDimZ,
                                                 unsigned int sharedMemBytes, CUstream hStream, void **kernelParams)
{
    return launch_coop(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                       kernelParams, true);
}

/* The occupancy of a cluster launch: the configuration travels as
 * cuLaunchKernelEx's does; the server's device answers. */
static CUresult cluster_occupancy(enum rgpu_call_id id, int *numClusters, CUfunction func, const CUlaunchConfig *config)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!numClusters || !config || (config->numAttrs && !config->attrs) || config->numAttrs > RGPU_MAX_LAUNCH_ATTRS)
        return CUDA_ERROR_INVALID_VALUE;
    if (!func)
        return CUDA_ERROR_INVALID_HANDLE;
    for (unsigned i = 0; i < config->numAttrs; i++)
        if (!rgpu_launch_attr_remotable(config->attrs[i].id))
            return CUDA_ERROR_NOT_SUPPORTED;
    if ((r = rgpu_stream_check(config->hStream)) != CUDA_SUCCESS)
        return r;
    struct rgpu_launch_cfg cfg = {{config->gridDimX, config->gridDimY, config->gridDimZ},
                                  {config->blockDimX, config->blockDimY, config->blockDimZ},
                                  config->sharedMemBytes,
                                  0};
    struct rgpu_args_rgpu_occupancy_clusters a = {.func = func, .cfg = cfg, .hStream = config->hStream,
                                                  .attrs = config->attrs,
                                                  .attrs_len = config->numAttrs * sizeof *config->attrs};
    r = rgpu_remote(id, &a);
    if (r == CUDA_SUCCESS)
        *numClusters = a.numClusters;
    return r;
}

RGPU_API CUresult cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const CUlaunchConfig *config)
{
    return cluster_occupancy(RGPU_ID_rgpu_occupancy_clusters, numClusters, func, config);
}

RGPU_API CUresult cuOccupancyMaxPotentialClusterSize(int *clusterSize, CUfunction func, const CUlaunchConfig *config)
{
    return cluster_occupancy(RGPU_ID_rgpu_occupancy_cluster_size, clusterSize, func, config);
}

/* ---- calls that change launch limits or invalidate functions ---- */
RGPU_API CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    struct rgpu_args_cuFuncSetAttribute a = {.hfunc = hfunc, .attrib = attrib, .value = value};
    r = rgpu_remote(RGPU_ID_cuFuncSetAttribute, &a);
    if (r == CUDA_SUCCESS)
        rgpu_func_info_forget(hfunc);
    return r;
}

RGPU_API CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel kernel, CUdevice dev)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    struct rgpu_args_cuKernelSetAttribute a = {.attrib = attrib, .val = val, .kernel = kernel, .dev = dev};
    r = rgpu_remote(RGPU_ID_cuKernelSetAttribute, &a);
    if (r == CUDA_SUCCESS)
        rgpu_func_info_forget((CUfunction)kernel);
    return r;
}

RGPU_API CUresult cuModuleUnload(CUmodule hmod)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    struct rgpu_args_cuModuleUnload a = {.hmod = hmod};
    rgpu_mapped_hold_owner(hmod, true); /* its variables go with it: no exchange after */
    r = rgpu_remote(RGPU_ID_cuModuleUnload, &a);
    if (r != CUDA_SUCCESS)
        rgpu_mapped_hold_owner(hmod, false);
    if (r == CUDA_SUCCESS) {
        rgpu_func_info_flush();
        ranges_remove_owner(&rgpu_device_ranges, hmod);
        rgpu_memory_drop_variables(hmod);
    }
    return r;
}

RGPU_API CUresult cuLibraryUnload(CUlibrary library)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    struct rgpu_args_cuLibraryUnload a = {.library = library};
    rgpu_mapped_hold_owner(library, true); /* its variables go with it: no exchange after */
    r = rgpu_remote(RGPU_ID_cuLibraryUnload, &a);
    if (r != CUDA_SUCCESS)
        rgpu_mapped_hold_owner(library, false);
    if (r == CUDA_SUCCESS) {
        rgpu_func_info_flush();
        ranges_remove_owner(&rgpu_device_ranges, library);
        rgpu_memory_drop_variables(library);
    }
    return r;
}

/* A cache configuration moves the split between L1 and shared memory, and
 * with it the occupancy the client keeps (occupancy.c). */
static CUresult set_cache_config(enum rgpu_call_id id, void *args)
{
    CUresult r = rgpu_check_init();
    if (r == CUDA_SUCCESS && (r = rgpu_remote(id, args)) == CUDA_SUCCESS) {
        rgpu_occupancy_invalidate();
        rgpu_func_attrs_flush();
    }
    return r;
}

RGPU_API CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config)
{
    struct rgpu_args_cuFuncSetCacheConfig a = {.hfunc = hfunc, .config = config};
    return set_cache_config(RGPU_ID_cuFuncSetCacheConfig, &a);
}

RGPU_API CUresult cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config, CUdevice dev)
{
    struct rgpu_args_cuKernelSetCacheConfig a = {.kernel = kernel, .config = config, .dev = dev};
    return set_cache_config(RGPU_ID_cuKernelSetCacheConfig, &a);
}

RGPU_API CUresult cuCtxSetCacheConfig(CUfunc_cache config)
{
    struct rgpu_args_cuCtxSetCacheConfig a = {.config = config};
    return set_cache_config(RGPU_ID_cuCtxSetCacheConfig, &a);
}
