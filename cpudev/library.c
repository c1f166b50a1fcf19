/*
 * library.c — libraries and kernels (CUDA 12 context-independent loading):
 * cuLibraryLoadData and the cuLibrary* and cuKernel* calls.
 *
 * A library parses its image once and belongs to no context. It is loaded
 * lazily, as the driver does in CU_MODULE_LAZY_LOADING mode: the first call
 * that needs it in a context (a launch of one of its kernels, cuKernelGetFunction,
 * cuLibraryGetModule, cuLibraryGetGlobal) materialises a module there, with
 * its own globals; later calls in that context activation reuse it, so
 * cuLibraryGetGlobal returns the same address every time. The module goes
 * with the context activation or with the library.
 *
 * A CUkernel is accepted wherever a CUfunction is (function.c, launch.c,
 * occupancy.c); attributes set on the kernel apply to its function in every
 * context unless set on that function itself (cuFuncSetAttribute wins).
 */
#include "module.h"

#include <stdlib.h>
#include <string.h>

/* ---- lookups ---- */

static CUresult library_lookup_locked(CUlibrary h, struct library **out)
{
    if (!h || !reg_has_locked(h, H_LIBRARY))
        return CUDA_ERROR_INVALID_HANDLE;
    *out = (struct library *)h;
    return CUDA_SUCCESS;
}

static CUresult kernel_lookup_locked(CUkernel h, struct kernel **out)
{
    if (!h || !reg_has_locked(h, H_KERNEL))
        return CUDA_ERROR_INVALID_HANDLE;
    *out = (struct kernel *)h;
    return CUDA_SUCCESS;
}

CUresult library_module_locked(struct library *lib, struct ctx *c, struct module **out)
{
    /* Modules leave the list when their activation is torn down, so a match
     * on the context and its current activation is live. */
    for (struct module *m = lib->mods; m; m = m->lib_next) {
        if (m->ctx == c && m->ctx_id == c->id) {
            *out = m;
            return CUDA_SUCCESS;
        }
    }
    return module_create_locked(c, lib->code, lib, out);
}

CUresult func_lookup_locked(CUfunction f, struct func **fn, struct kernel **kn)
{
    *fn = NULL;
    *kn = NULL;
    if (f && reg_has_locked(f, H_FUNC))
        *fn = (struct func *)f;
    else if (f && reg_has_locked(f, H_KERNEL))
        *kn = (struct kernel *)f;
    else
        return CUDA_ERROR_INVALID_HANDLE;
    return CUDA_SUCCESS;
}

CUresult func_in_ctx_locked(CUfunction f, struct ctx *c, struct func **out)
{
    struct func *fn;
    struct kernel *kn;
    CUresult r = func_lookup_locked(f, &fn, &kn);
    if (r != CUDA_SUCCESS)
        return r;
    if (fn) {
        /* A function lives in its module's context only. */
        if (c && (fn->mod->ctx != c || fn->mod->ctx_id != c->id))
            return CUDA_ERROR_INVALID_HANDLE;
        *out = fn;
        return CUDA_SUCCESS;
    }
    if (!c && (r = ctx_current_locked(&c)) != CUDA_SUCCESS)
        return r;
    struct module *m;
    r = library_module_locked(kn->lib, c, &m);
    if (r == CUDA_SUCCESS)
        *out = &m->funcs[kn - kn->lib->kernels];
    return r;
}

/* ---- load options ---- */

/*
 * JIT options are hints for a compiler this device does not have; they are
 * accepted and ignored, and the output ones answered (no time spent, empty
 * logs, the load error in the error log). Options that ask for something
 * this device cannot do are refused: relocating device symbols to host
 * addresses, and link-time optimisation of pre-12.0 LTO IR.
 */
static CUresult check_jit_options(const CUjit_option *opt, void **val, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        switch (opt[i]) {
        case CU_JIT_GLOBAL_SYMBOL_NAMES:
        case CU_JIT_GLOBAL_SYMBOL_ADDRESSES:
            return CUDA_ERROR_NOT_SUPPORTED;
        case CU_JIT_GLOBAL_SYMBOL_COUNT:
            if ((uintptr_t)val[i])
                return CUDA_ERROR_NOT_SUPPORTED;
            break;
        case CU_JIT_LTO:
            if ((uintptr_t)val[i])
                return CUDA_ERROR_NOT_SUPPORTED;
            break;
        default:
            if ((int)opt[i] < 0 || opt[i] >= CU_JIT_NUM_OPTIONS || (int)opt[i] == 15 /* retired */)
                return CUDA_ERROR_INVALID_VALUE;
            break;
        }
    }
    return CUDA_SUCCESS;
}

/* Write the JIT outputs: wall time 0, logs (info empty, error = msg). */
static void answer_jit_options(const CUjit_option *opt, void **val, unsigned n, const char *msg)
{
    char *info = NULL, *error = NULL;
    unsigned info_cap = 0, error_cap = 0;
    int info_size = -1, error_size = -1;
    for (unsigned i = 0; i < n; i++) {
        switch (opt[i]) {
        case CU_JIT_INFO_LOG_BUFFER: info = val[i]; break;
        case CU_JIT_ERROR_LOG_BUFFER: error = val[i]; break;
        case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES: info_cap = (unsigned)(uintptr_t)val[i]; info_size = (int)i; break;
        case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES: error_cap = (unsigned)(uintptr_t)val[i]; error_size = (int)i; break;
        case CU_JIT_WALL_TIME: {
            float ms = 0;
            memcpy(&val[i], &ms, sizeof ms);
            break;
        }
        default: break;
        }
    }
    size_t filled = 0;
    if (info && info_cap)
        info[0] = 0;
    if (error && error_cap) {
        filled = strlen(msg);
        if (filled >= error_cap)
            filled = error_cap - 1;
        memcpy(error, msg, filled);
        error[filled] = 0;
    }
    if (info_size >= 0)
        val[info_size] = (void *)(uintptr_t)0;
    if (error_size >= 0)
        val[error_size] = (void *)(uintptr_t)(error && error_cap ? filled + 1 : 0);
}

static CUresult check_library_options(const CUlibraryOption *opt, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (opt[i] == CU_LIBRARY_HOST_UNIVERSAL_FUNCTION_AND_DATA_TABLE)
            return CUDA_ERROR_NOT_SUPPORTED; /* no unified function pointers */
        if (opt[i] != CU_LIBRARY_BINARY_IS_PRESERVED)
            return CUDA_ERROR_INVALID_VALUE; /* a hint: the image is parsed at load anyway */
    }
    return CUDA_SUCCESS;
}

/* ---- libraries ---- */

static void library_release(struct library *lib)
{
    if (lib->managed)
        mem_free_block(lib->managed);
    code_free(lib->code);
    free(lib->kernels);
    free(lib->managed_addrs);
    free(lib);
}

CUresult cpudev_cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
                                  void **jitOptionsValues, unsigned int numJitOptions, CUlibraryOption *libraryOptions,
                                  void **libraryOptionValues, unsigned int numLibraryOptions)
{
    CPUDEV_ENTER();
    if (!library || !code || (numJitOptions && (!jitOptions || !jitOptionsValues)) ||
        (numLibraryOptions && (!libraryOptions || !libraryOptionValues)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = check_jit_options(jitOptions, jitOptionsValues, numJitOptions);
    if (r == CUDA_SUCCESS)
        r = check_library_options(libraryOptions, numLibraryOptions);
    if (r != CUDA_SUCCESS)
        return r;
    struct library *lib = calloc(1, sizeof *lib);
    if (!lib)
        return CUDA_ERROR_OUT_OF_MEMORY;
    char log[512];
    r = code_load(code, &lib->code, log, sizeof log);
    answer_jit_options(jitOptions, jitOptionsValues, numJitOptions, r == CUDA_SUCCESS ? "" : log);
    if (r != CUDA_SUCCESS) {
        free(lib);
        return r;
    }
    int nk = lib->code->nkernels, n = 0;
    lib->kernels = calloc((size_t)nk + 1, sizeof *lib->kernels);
    lib->managed_addrs = calloc((size_t)lib->code->nglobals + 1, sizeof *lib->managed_addrs);
    if (!lib->kernels || !lib->managed_addrs) {
        library_release(lib);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    cpudev_lock();
    /* Managed variables exist from the load on, in no context: cudart asks
     * for them (cuLibraryGetManaged) before any is current. An initialiser
     * naming another module variable than a managed one gets 0 there. */
    r = globals_alloc_locked(NULL, lib->code, true, &lib->managed, lib->managed_addrs);
    if (r != CUDA_SUCCESS) {
        cpudev_unlock();
        library_release(lib);
        return r;
    }
    globals_init(lib->code, true, lib->managed_addrs);
    bool ok = reg_add_locked(lib, H_LIBRARY);
    for (; ok && n < nk; n++) {
        lib->kernels[n].lib = lib;
        lib->kernels[n].kd = &lib->code->kd[n];
        ok = reg_add_locked(&lib->kernels[n], H_KERNEL);
    }
    if (!ok) {
        reg_del_locked(lib);
        for (int i = 0; i < n; i++)
            reg_del_locked(&lib->kernels[i]);
    } else {
        *library = (CUlibrary)lib;
    }
    cpudev_unlock();
    if (!ok) {
        library_release(lib);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return CUDA_SUCCESS;
}

CUresult cpudev_cuLibraryUnload(CUlibrary library)
{
    CPUDEV_ENTER();
    CUresult r = wait_permitted();
    if (r != CUDA_SUCCESS)
        return r;
    struct library *lib;
    struct waitset ws;
    ws_init(&ws);
    cpudev_lock();
    r = library_lookup_locked(library, &lib);
    for (struct module *m = r == CUDA_SUCCESS ? lib->mods : NULL; m; m = m->lib_next)
        if (!ws_add_ctx_locked(&ws, m->ctx))
            r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        /* Unnamed first (no new launch can reach it), then drained. */
        reg_del_locked(lib);
        for (int i = 0; i < lib->code->nkernels; i++)
            reg_del_locked(&lib->kernels[i]);
        struct module *mods = NULL;
        while (lib->mods) {
            struct module *m = lib->mods;
            module_detach_locked(m); /* unlinks it from lib->mods */
            m->lib_next = mods;
            mods = m;
        }
        ws_wait_locked(&ws);
        while (mods) {
            struct module *m = mods;
            mods = m->lib_next;
            module_free_locked(m);
        }
    }
    ws_release_locked(&ws);
    cpudev_unlock();
    if (r == CUDA_SUCCESS)
        library_release(lib);
    return r;
}

CUresult cpudev_cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name)
{
    CPUDEV_ENTER();
    if (!pKernel || !name)
        return CUDA_ERROR_INVALID_VALUE;
    struct library *lib;
    cpudev_lock();
    CUresult r = library_lookup_locked(library, &lib);
    if (r == CUDA_SUCCESS) {
        int i = code_find_kernel(lib->code, name);
        if (i < 0)
            r = CUDA_ERROR_NOT_FOUND;
        else
            *pKernel = (CUkernel)&lib->kernels[i];
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuLibraryGetModule(CUmodule *pMod, CUlibrary library)
{
    CPUDEV_ENTER();
    if (!pMod)
        return CUDA_ERROR_INVALID_VALUE;
    struct library *lib;
    struct ctx *c;
    struct module *m;
    cpudev_lock();
    CUresult r = library_lookup_locked(library, &lib);
    if (r == CUDA_SUCCESS)
        r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS)
        r = library_module_locked(lib, c, &m);
    if (r == CUDA_SUCCESS)
        *pMod = (CUmodule)m;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
    CPUDEV_ENTER();
    if ((!dptr && !bytes) || !name)
        return CUDA_ERROR_INVALID_VALUE;
    struct library *lib;
    struct ctx *c;
    struct module *m;
    size_t size = 0;
    int i = -1;
    cpudev_lock();
    CUresult r = library_lookup_locked(library, &lib);
    if (r == CUDA_SUCCESS && (i = code_find_global(lib->code, name, &size)) < 0)
        r = CUDA_ERROR_NOT_FOUND;
    if (r == CUDA_SUCCESS)
        r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS)
        r = library_module_locked(lib, c, &m);
    if (r == CUDA_SUCCESS) {
        if (dptr)
            *dptr = (CUdeviceptr)m->global_addrs[i];
        if (bytes)
            *bytes = size;
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
    CPUDEV_ENTER();
    if ((!dptr && !bytes) || !name)
        return CUDA_ERROR_INVALID_VALUE;
    struct library *lib;
    size_t size = 0;
    int i = -1;
    cpudev_lock();
    CUresult r = library_lookup_locked(library, &lib);
    if (r == CUDA_SUCCESS &&
        ((i = code_find_global(lib->code, name, &size)) < 0 || !lib->code->globals[i].is_managed))
        r = CUDA_ERROR_NOT_FOUND;
    if (r == CUDA_SUCCESS) {
        if (dptr)
            *dptr = (CUdeviceptr)lib->managed_addrs[i];
        if (bytes)
            *bytes = size;
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuLibraryGetKernelCount(unsigned int *count, CUlibrary lib)
{
    CPUDEV_ENTER();
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    struct library *l;
    cpudev_lock();
    CUresult r = library_lookup_locked(lib, &l);
    if (r == CUDA_SUCCESS)
        *count = (unsigned)l->code->nkernels;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuLibraryEnumerateKernels(CUkernel *kernels, unsigned int numKernels, CUlibrary lib)
{
    CPUDEV_ENTER();
    if (!kernels)
        return CUDA_ERROR_INVALID_VALUE;
    struct library *l;
    cpudev_lock();
    CUresult r = library_lookup_locked(lib, &l);
    if (r == CUDA_SUCCESS)
        for (unsigned i = 0; i < numKernels; i++)
            kernels[i] = i < (unsigned)l->code->nkernels ? (CUkernel)&l->kernels[i] : NULL;
    cpudev_unlock();
    return r;
}

/* ---- kernels ---- */

CUresult cpudev_cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
    CPUDEV_ENTER();
    if (!pFunc)
        return CUDA_ERROR_INVALID_VALUE;
    struct kernel *k;
    struct func *f;
    cpudev_lock();
    CUresult r = kernel_lookup_locked(kernel, &k);
    if (r == CUDA_SUCCESS)
        r = func_in_ctx_locked((CUfunction)k, NULL, &f);
    if (r == CUDA_SUCCESS)
        *pFunc = (CUfunction)f;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuKernelGetLibrary(CUlibrary *pLib, CUkernel kernel)
{
    CPUDEV_ENTER();
    if (!pLib)
        return CUDA_ERROR_INVALID_VALUE;
    struct kernel *k;
    cpudev_lock();
    CUresult r = kernel_lookup_locked(kernel, &k);
    if (r == CUDA_SUCCESS)
        *pLib = (CUlibrary)k->lib;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuKernelGetAttribute(int *pi, CUfunction_attribute attrib, CUkernel kernel, CUdevice dev)
{
    CPUDEV_ENTER();
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    struct kernel *k;
    cpudev_lock();
    CUresult r = kernel_lookup_locked(kernel, &k);
    if (r == CUDA_SUCCESS && dev != 0)
        r = CUDA_ERROR_INVALID_DEVICE;
    if (r == CUDA_SUCCESS)
        r = fattr_get(k->kd, &k->a, NULL, attrib, pi);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel kernel, CUdevice dev)
{
    CPUDEV_ENTER();
    struct kernel *k;
    cpudev_lock();
    CUresult r = kernel_lookup_locked(kernel, &k);
    if (r == CUDA_SUCCESS && dev != 0)
        r = CUDA_ERROR_INVALID_DEVICE;
    if (r == CUDA_SUCCESS)
        r = fattr_set(k->kd, &k->a, attrib, val);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config, CUdevice dev)
{
    CPUDEV_ENTER();
    struct kernel *k;
    cpudev_lock();
    CUresult r = kernel_lookup_locked(kernel, &k);
    if (r == CUDA_SUCCESS && dev != 0)
        r = CUDA_ERROR_INVALID_DEVICE;
    if (r == CUDA_SUCCESS && !cache_config_valid(config))
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        k->a.cache = config;
        k->a.cache_set = true;
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuKernelGetParamInfo(CUkernel kernel, size_t paramIndex, size_t *paramOffset, size_t *paramSize)
{
    CPUDEV_ENTER();
    struct kernel *k;
    cpudev_lock();
    CUresult r = kernel_lookup_locked(kernel, &k);
    if (r == CUDA_SUCCESS)
        r = param_info(k->kd, paramIndex, paramOffset, paramSize);
    cpudev_unlock();
    return r;
}
