/*
 * function.c — function attributes and the cuFunc* calls.
 *
 * Read-only attributes come from the kernel's PTX (kdesc): maximum threads
 * per block (.maxntid/.reqntid), static shared, local and constant memory,
 * registers, the PTX target as PTX_VERSION and the device's compute
 * capability as BINARY_VERSION (the code "JIT-compiled" for it). Settable
 * ones (dynamic shared memory limit, carveout, cluster dimensions and
 * policy) are validated as the driver does and kept per function, and per
 * kernel for library kernels; a function's own setting wins over its
 * kernel's (see cuKernelSetAttribute in cuda.h).
 */
#include "module.h"

#include <limits.h>

static int dev_attr(CUdevice_attribute a)
{
    int v = 0;
    cpudev_attribute(a, &v);
    return v;
}

static int clamp_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

/* MAX_DYNAMIC_SHARED_SIZE_BYTES by default: the per-block limit less the
 * static part (0 when static alone exceeds it). */
static int default_dynamic(const struct kdesc *kd)
{
    size_t lim = (size_t)dev_attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    return kd->info.static_shared > lim ? 0 : clamp_int(lim - kd->info.static_shared);
}

bool cache_config_valid(CUfunc_cache c)
{
    return c == CU_FUNC_CACHE_PREFER_NONE || c == CU_FUNC_CACHE_PREFER_SHARED || c == CU_FUNC_CACHE_PREFER_L1 ||
           c == CU_FUNC_CACHE_PREFER_EQUAL;
}

CUresult fattr_get(const struct kdesc *kd, const struct fattrs *own, const struct fattrs *base,
                   CUfunction_attribute a, int *out)
{
    if ((int)a < 0 || a >= CU_FUNC_ATTRIBUTE_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    unsigned bit = 1u << a;
    int set_value = 0;
    bool set = false;
    if (own && (own->set & bit)) {
        set = true;
        set_value = own->v[a];
    } else if (base && (base->set & bit)) {
        set = true;
        set_value = base->v[a];
    }
    int v;
    switch (a) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: v = kd->max_threads; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: v = clamp_int(kd->info.static_shared); break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: v = clamp_int(kd->const_bytes); break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: v = clamp_int(kd->info.local_per_thread); break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: v = kd->num_regs; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: v = kd->info.target_sm; break; /* the virtual architecture */
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: v = cpudev.cfg.cc_major * 10 + cpudev.cfg.cc_minor; break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: v = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: v = set ? set_value : default_dynamic(kd); break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: v = set ? set_value : -1; break; /* default */
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET: v = kd->info.explicitcluster; break;
    /* set on the function, else its compile-time __cluster_dims__ (.reqnctapercluster) */
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: {
        unsigned d = kd->info.reqnctapercluster[a - CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH];
        v = set ? set_value : kd->info.reqnctapercluster[0] ? (int)(d ? d : 1) : 0;
        break;
    }
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: v = set ? set_value : 0; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    *out = v;
    return CUDA_SUCCESS;
}

CUresult fattr_set(const struct kdesc *kd, struct fattrs *own, CUfunction_attribute a, int value)
{
    switch (a) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: {
        size_t optin = (size_t)dev_attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        if (value < 0 || kd->info.static_shared > optin || (size_t)value > optin - kd->info.static_shared)
            return CUDA_ERROR_INVALID_VALUE;
        break;
    }
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        if (value < -1 || value > 100) /* percent, or -1: the default */
            return CUDA_ERROR_INVALID_VALUE;
        break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
        if (value < 0) /* the combination is checked at launch */
            return CUDA_ERROR_INVALID_VALUE;
        break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
        if (value != 0 && value != 1)
            return CUDA_ERROR_INVALID_VALUE;
        break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        if (value < CU_CLUSTER_SCHEDULING_POLICY_DEFAULT || value > CU_CLUSTER_SCHEDULING_POLICY_LOAD_BALANCING)
            return CUDA_ERROR_INVALID_VALUE;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE; /* read-only or unknown */
    }
    own->v[a] = value;
    own->set |= 1u << a;
    return CUDA_SUCCESS;
}

CUresult param_info(const struct kdesc *kd, size_t index, size_t *offset, size_t *size)
{
    if (!offset || index >= (size_t)kd->info.nparams)
        return CUDA_ERROR_INVALID_VALUE;
    size_t o, s;
    ptx_kernel_param(kd->k, (int)index, &o, &s);
    *offset = o;
    if (size)
        *size = s;
    return CUDA_SUCCESS;
}

/* ---- driver calls ---- */

CUresult cpudev_cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
    CPUDEV_ENTER();
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    struct func *f;
    cpudev_lock();
    CUresult r = func_in_ctx_locked(hfunc, NULL, &f);
    if (r == CUDA_SUCCESS)
        r = fattr_get(f->kd, &f->a, func_base(f), attrib, pi);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
    CPUDEV_ENTER();
    struct func *f;
    cpudev_lock();
    CUresult r = func_in_ctx_locked(hfunc, NULL, &f);
    if (r == CUDA_SUCCESS)
        r = fattr_set(f->kd, &f->a, attrib, value);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config)
{
    CPUDEV_ENTER();
    struct func *f;
    cpudev_lock();
    CUresult r = func_in_ctx_locked(hfunc, NULL, &f);
    if (r == CUDA_SUCCESS && !cache_config_valid(config))
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        f->a.cache = config;
        f->a.cache_set = true;
    }
    cpudev_unlock();
    return r;
}

/* The bank size is fixed (context.c): a function's setting changes nothing. */
CUresult cpudev_cuFuncSetSharedMemConfig(CUfunction hfunc, CUsharedconfig config)
{
    CPUDEV_ENTER();
    struct func *f;
    cpudev_lock();
    CUresult r = func_in_ctx_locked(hfunc, NULL, &f);
    if (r == CUDA_SUCCESS && !bank_config_known(config))
        r = CUDA_ERROR_INVALID_VALUE;
    cpudev_unlock();
    return r;
}

/* Code is parsed and ready when its module loads: nothing is loaded lazily. */
CUresult cpudev_cuFuncIsLoaded(CUfunctionLoadingState *state, CUfunction function)
{
    CPUDEV_ENTER();
    if (!state)
        return CUDA_ERROR_INVALID_VALUE;
    struct func *f;
    cpudev_lock();
    CUresult r = func_in_ctx_locked(function, NULL, &f);
    if (r == CUDA_SUCCESS)
        *state = CU_FUNCTION_LOADING_STATE_LOADED;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuFuncLoad(CUfunction function)
{
    CPUDEV_ENTER();
    struct func *f;
    cpudev_lock();
    CUresult r = func_in_ctx_locked(function, NULL, &f);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuFuncGetModule(CUmodule *hmod, CUfunction hfunc)
{
    CPUDEV_ENTER();
    if (!hmod)
        return CUDA_ERROR_INVALID_VALUE;
    struct func *f;
    cpudev_lock();
    CUresult r = func_in_ctx_locked(hfunc, NULL, &f);
    if (r == CUDA_SUCCESS)
        *hmod = (CUmodule)f->mod;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuFuncGetName(const char **name, CUfunction hfunc)
{
    CPUDEV_ENTER();
    if (!name || !hfunc)
        return CUDA_ERROR_INVALID_VALUE;
    struct func *f;
    struct kernel *k;
    cpudev_lock();
    /* The name lives in the parsed code: valid while the module (or library) is. */
    CUresult r = func_lookup_locked(hfunc, &f, &k);
    if (r == CUDA_SUCCESS)
        *name = (f ? f->kd : k->kd)->info.name;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset, size_t *paramSize)
{
    CPUDEV_ENTER();
    struct func *f;
    struct kernel *k;
    cpudev_lock();
    CUresult r = func_lookup_locked(func, &f, &k);
    if (r == CUDA_SUCCESS)
        r = param_info(f ? f->kd : k->kd, paramIndex, paramOffset, paramSize);
    cpudev_unlock();
    return r;
}
