/*
 * module.c — modules, libraries, functions and kernels on the client.
 *
 * Loading ships the image's exact bytes (fatbin_span finds them, through a
 * fatbin wrapper if need be) named by their content hash. A large image is
 * first offered by hash alone: when another client already sent it, the
 * server's image cache has it and the bytes never cross the wire again.
 * Global variables returned to the client join the device-allocation table,
 * so unified-address copies to and from them work.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "context.h"
#include "fatbin.h"
#include "funcinfo.h"
#include "imagehash.h"
#include "link.h"
#include "memory.h"

#define OFFER_HASH_FIRST (64u << 10) /* smaller images go with their bytes at once */

static CUresult image_of(const void *image, const void **data, size_t *len)
{
    char err[160];
    if (!image)
        return CUDA_ERROR_INVALID_VALUE;
    if (fatbin_span(image, FATBIN_LEN_UNKNOWN, data, len, err, sizeof err) != 0) {
        rgpu_warn("not a module image rgpu can load: %s", err);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    return CUDA_SUCCESS;
}

/* The prelinked fatbins a version-2 wrapper (nvcc -rdc=true) names, or NULL:
 * { magic, version, fatbin, NULL-terminated array of fatbins }. */
static const void *const *wrapper_prelinked(const void *image)
{
    uint32_t version;
    const void *const *list;
    memcpy(&version, (const char *)image + 4, 4);
    if (fatbin_classify(image, FATBIN_LEN_UNKNOWN) != FATBIN_IMAGE_WRAPPER || version != 2)
        return NULL;
    memcpy(&list, (const char *)image + 16, sizeof list);
    return list && list[0] ? list : NULL;
}

struct relink {
    enum rgpu_call_id id;
    void *handle_out;
};

static CUresult load_linked(const void *image, void *arg);

/* Send a load request (module or library), by hash first when worthwhile. */
static CUresult load(enum rgpu_call_id id, const void *image, void *handle_out)
{
    CUresult r = rgpu_check_init();
    const void *data;
    size_t len;
    if (r)
        return r;
    if (!handle_out)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = image_of(image, &data, &len)) != CUDA_SUCCESS)
        return r;
    const void *const *prelinked;
    struct rgpu_image_ref ref;
    if (!rgpu_image_ref_of(data, len, &ref))
        return CUDA_ERROR_OUT_OF_MEMORY;
    /* rgpu_args_rgpu_module_load and _library_load share one layout */
    _Static_assert(sizeof(struct rgpu_args_rgpu_module_load) == sizeof(struct rgpu_args_rgpu_library_load),
                   "load argument layouts");
    struct rgpu_args_rgpu_module_load a = {.ref = ref};
    r = CUDA_ERROR_NOT_FOUND;
    if (len >= OFFER_HASH_FIRST)
        r = rgpu_remote(id, &a);
    if (r == CUDA_ERROR_NOT_FOUND) {
        a.image = data;
        a.image_len = len;
        r = rgpu_remote(id, &a);
    }
    if (r == CUDA_ERROR_NO_BINARY_FOR_GPU && (prelinked = wrapper_prelinked(image))) {
        /* nvcc -rdc=true: the driver links the translation units' code */
        struct relink rl = {id, handle_out};
        return rgpu_link_wrapper(prelinked, load_linked, &rl);
    }
    if (r == CUDA_SUCCESS)
        memcpy(handle_out, &a.module, sizeof(void *));
    return r;
}

static CUresult load_linked(const void *image, void *arg)
{
    struct relink *rl = arg;
    return load(rl->id, image, rl->handle_out);
}

RGPU_API CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    return load(RGPU_ID_rgpu_module_load, image, module);
}

RGPU_API CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    return load(RGPU_ID_rgpu_module_load, fatCubin, module);
}

/* JIT options only shape compilation (PTX is interpreted or compiled by the
 * server's driver); the ones that return something get empty logs. */
static void answer_jit_options(unsigned n, CUjit_option *opts, void **vals)
{
    for (unsigned i = 0; opts && vals && i < n; i++) {
        switch (opts[i]) {
        case CU_JIT_INFO_LOG_BUFFER:
        case CU_JIT_ERROR_LOG_BUFFER:
            if (vals[i])
                *(char *)vals[i] = 0;
            break;
        case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
        case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
            vals[i] = (void *)(uintptr_t)0;
            break;
        case CU_JIT_WALL_TIME:
            memset(&vals[i], 0, sizeof(float));
            break;
        default:
            break;
        }
    }
}

RGPU_API CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                     CUjit_option *options, void **optionValues)
{
    CUresult r = load(RGPU_ID_rgpu_module_load, image, module);
    if (r == CUDA_SUCCESS)
        answer_jit_options(numOptions, options, optionValues);
    return r;
}

static CUresult read_file(const char *path, void **out)
{
    if (!path)
        return CUDA_ERROR_INVALID_VALUE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return CUDA_ERROR_FILE_NOT_FOUND;
    }
    /* one extra NUL so PTX text files are terminated */
    char *buf = calloc(1, (size_t)st.st_size + 1);
    ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (got != st.st_size) {
        free(buf);
        return buf ? CUDA_ERROR_FILE_NOT_FOUND : CUDA_ERROR_OUT_OF_MEMORY;
    }
    *out = buf;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    void *buf;
    CUresult r = rgpu_check_init();
    if (r || (r = read_file(fname, &buf)) != CUDA_SUCCESS)
        return r;
    r = load(RGPU_ID_rgpu_module_load, buf, module);
    free(buf);
    return r;
}

RGPU_API CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
                                    void **jitOptionsValues, unsigned int numJitOptions,
                                    CUlibraryOption *libraryOptions, void **libraryOptionValues,
                                    unsigned int numLibraryOptions)
{
    /* Library options describe how the host keeps the code; the server keeps
     * its own copy, so none changes what rgpu does. */
    CUresult r = load(RGPU_ID_rgpu_library_load, code, library);
    if (r == CUDA_SUCCESS)
        answer_jit_options(numJitOptions, jitOptions, jitOptionsValues);
    return r;
}

RGPU_API CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName, CUjit_option *jitOptions,
                                        void **jitOptionsValues, unsigned int numJitOptions,
                                        CUlibraryOption *libraryOptions, void **libraryOptionValues,
                                        unsigned int numLibraryOptions)
{
    void *buf;
    CUresult r = rgpu_check_init();
    if (r || (r = read_file(fileName, &buf)) != CUDA_SUCCESS)
        return r;
    r = cuLibraryLoadData(library, buf, jitOptions, jitOptionsValues, numJitOptions, libraryOptions,
                          libraryOptionValues, numLibraryOptions);
    free(buf);
    return r;
}

/* rgpu loads lazily on the server's side; reporting it makes NVIDIA's
 * libraries register a few images instead of thousands. */
RGPU_API CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!mode)
        return CUDA_ERROR_INVALID_VALUE;
    *mode = CU_MODULE_LAZY_LOADING;
    return CUDA_SUCCESS;
}

/* ---- globals ---- */
/* A variable is device memory (unified copies, pointer queries) until its
 * module or library is unloaded or its context ends. */
static void record_global(CUdeviceptr p, size_t size, const void *owner)
{
    if (p && size && !rgpu_is_device_ptr((uintptr_t)p)) {
        struct range rg = {.base = (uintptr_t)p, .size = size, .ctx = rgpu_ctx_current(), .owner = owner};
        ranges_add(&rgpu_device_ranges, &rg);
    }
}

static CUresult get_global(enum rgpu_call_id id, CUdeviceptr *dptr, size_t *bytes, const void *owner,
                           const char *name)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!name)
        return CUDA_ERROR_INVALID_VALUE;
    _Static_assert(sizeof(struct rgpu_args_cuModuleGetGlobal_v2) == sizeof(struct rgpu_args_cuLibraryGetGlobal),
                   "global argument layouts");
    struct rgpu_args_cuModuleGetGlobal_v2 a = {.dptr_want = 1, .bytes_want = 1, .hmod = (CUmodule)owner, .name = name};
    r = rgpu_remote(id, &a);
    /* A __managed__ variable (cudart 12 asks for them here) is the host's
     * too; which ones are costs a question per variable. */
    int managed = 0;
    struct rgpu_args_cuPointerGetAttribute q = {.data = &managed, .attribute = CU_POINTER_ATTRIBUTE_IS_MANAGED,
                                                .ptr = a.dptr};
    if (r == CUDA_SUCCESS && a.bytes && rgpu_remote(RGPU_ID_cuPointerGetAttribute, &q) == CUDA_SUCCESS && managed)
        r = rgpu_memory_managed_variable(a.dptr, a.bytes, owner);
    else if (r == CUDA_SUCCESS)
        record_global(a.dptr, a.bytes, owner);
    if (r == CUDA_SUCCESS) {
        if (dptr)
            *dptr = a.dptr;
        if (bytes)
            *bytes = a.bytes;
    }
    return r;
}

RGPU_API CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name)
{
    return get_global(RGPU_ID_cuModuleGetGlobal_v2, dptr, bytes, hmod, name);
}

RGPU_API CUresult cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
    return get_global(RGPU_ID_cuLibraryGetGlobal, dptr, bytes, library, name);
}

/* A __managed__ variable: cudart registers each (__cudaRegisterManagedVar)
 * and points the host's accesses at this address, so the host must reach
 * it here (memory.c, mapped.c). */
RGPU_API CUresult cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if ((!dptr && !bytes) || !name)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_cuLibraryGetManaged a = {.dptr_want = 1, .bytes_want = 1, .library = library, .name = name};
    if ((r = rgpu_remote(RGPU_ID_cuLibraryGetManaged, &a)) == CUDA_SUCCESS &&
        (r = rgpu_memory_managed_variable(a.dptr, a.bytes, library)) == CUDA_SUCCESS) {
        if (dptr)
            *dptr = a.dptr;
        if (bytes)
            *bytes = a.bytes;
    }
    return r;
}

/* ---- names ---- */
static CUresult get_name(const char **name, CUfunction f)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!name || !f)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_func_info *fi;
    if ((r = rgpu_func_info(f, &fi)) != CUDA_SUCCESS)
        return r;
    *name = fi->name;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuFuncGetName(const char **name, CUfunction hfunc) { return get_name(name, hfunc); }
RGPU_API CUresult cuKernelGetName(const char **name, CUkernel hfunc) { return get_name(name, (CUfunction)hfunc); }
