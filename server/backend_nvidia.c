/*
 * backend_nvidia.c — the real NVIDIA driver as a backend: dlopen the driver
 * and look up every driver row of calls.def by its ABI name. Loaded in the
 * worker after fork (a CUDA driver does not survive fork).
 *
 * The worker must not load rgpu's own client libcuda.so.1 by accident (for
 * example when rgpud runs under `rgpu run`): the client exports
 * rgpu_client_marker, and such a library is refused.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"

/* Rows named after a symbol newer than CUDA 12.4 (the oldest driver rgpud
 * serves: every row below that version is needed, cuFuncGetParamInfo first
 * of all, for launches), each with the older symbol of the same signature
 * and meaning that stands in for it on an older driver. */
static const char *const older[][2] = {
    {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, /* _v2: CUDA 12.8 (R570) */
};

/* Rows named after a symbol newer than CUDA 12.4 that nothing older stands
 * in for: on an older driver such a call is CUDA_ERROR_NOT_SUPPORTED. */
static const char *const newer[] = {
    "cuKernelGetLibrary", /* CUDA 12.5 */
};

/* Every row returns a CUresult; the arguments are the caller's to clean up
 * (the SysV and AAPCS64 ABIs, as client/unsupported.c argues). */
static CUresult not_in_this_driver(void) { return CUDA_ERROR_NOT_SUPPORTED; }

static void *lookup(void *h, const char *name)
{
    void *f = dlsym(h, name);
    for (size_t i = 0; !f && i < sizeof older / sizeof older[0]; i++)
        if (!strcmp(name, older[i][0]) && (f = dlsym(h, older[i][1])))
            rgpu_info("the NVIDIA driver lacks %s: %s stands in for it", name, older[i][1]);
    for (size_t i = 0; !f && i < sizeof newer / sizeof newer[0]; i++)
        if (!strcmp(name, newer[i])) {
            rgpu_info("the NVIDIA driver lacks %s: the call is CUDA_ERROR_NOT_SUPPORTED", name);
            f = (void *)not_in_this_driver;
        }
    return f;
}

/* "CUDA 12.2" for the driver behind h, or "an unknown CUDA version". */
static void driver_cuda(void *h, char *out, size_t n)
{
    CUresult (*get)(int *) = (CUresult(*)(int *))dlsym(h, "cuDriverGetVersion");
    int v = 0;
    if (get && get(&v) == CUDA_SUCCESS && v > 0)
        snprintf(out, n, "CUDA %d.%d", v / 1000, v % 1000 / 10);
    else
        snprintf(out, n, "an unknown CUDA version");
}

static const char *driver_path(void)
{
    const char *path = getenv("RGPU_NVIDIA_LIB");
    return path ? path : "libcuda.so.1";
}

bool rgpu_backend_nvidia(struct rgpu_backend *be, char *err, size_t errlen)
{
    const char *path = driver_path();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "cannot load the NVIDIA driver (%s): %s", path, dlerror());
        return false;
    }
    if (dlsym(h, "rgpu_client_marker")) {
        snprintf(err, errlen, "%s is rgpu's client driver, not NVIDIA's (set RGPU_NVIDIA_LIB)", path);
        dlclose(h);
        return false;
    }
    be->name = "nvidia";
    be->kernels_are_functions = false;
    const char *missing = NULL;
#define RGPU_CALL(name, kind, ...)                                                                 \
    RGPU_IF(RGPU_K(DRIVER, kind))(                                                                 \
        if (!(*(void **)&be->name = lookup(h, #name)) && !missing) missing = #name;)
#include "calls.def"
#undef RGPU_CALL
    if (missing) {
        char have[64];
        driver_cuda(h, have, sizeof have);
        snprintf(err, errlen, "the NVIDIA driver (%s) lacks %s: rgpud needs a driver for CUDA 12.4 or newer (R550+)",
                 have, missing);
        dlclose(h);
        return false;
    }
    /* not a row of calls.def (remoted as rgpu_tensor_map_tiled); a driver
     * before CUDA 12 has none, and the call is NOT_SUPPORTED there */
    *(void **)&be->tensor_map_encode_tiled = dlsym(h, "cuTensorMapEncodeTiled");
    *(void **)&be->thread_exchange_capture_mode = dlsym(h, "cuThreadExchangeStreamCaptureMode");
    return true;
}

/* A short-lived child checks that the driver loads and has a device, so the
 * parent (which forks workers) never initialises CUDA itself. */
enum rgpu_nvidia_probe rgpu_backend_nvidia_probe(char *err, size_t errlen)
{
    struct rgpu_backend be;
    void *present = dlopen(driver_path(), RTLD_LAZY | RTLD_LOCAL);
    if (!present) {
        snprintf(err, errlen, "no NVIDIA driver (%s): %s", driver_path(), dlerror());
        return RGPU_NVIDIA_ABSENT;
    }
    bool ok = rgpu_backend_nvidia(&be, err, errlen);
    dlclose(present);
    if (!ok)
        return RGPU_NVIDIA_UNUSABLE;
    int n = 0;
    CUresult r = be.cuInit(0);
    if (r == CUDA_SUCCESS)
        r = be.cuDeviceGetCount(&n);
    if (r != CUDA_SUCCESS || n == 0) {
        snprintf(err, errlen, "the NVIDIA driver reports no usable device (CUresult %d)", (int)r);
        return RGPU_NVIDIA_UNUSABLE;
    }
    return RGPU_NVIDIA_SERVES;
}
