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

#include "backend.h"
#include "log.h"

bool rgpu_backend_nvidia(struct rgpu_backend *be, char *err, size_t errlen)
{
    const char *path = getenv("RGPU_NVIDIA_LIB");
    if (!path)
        path = "libcuda.so.1";
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
    int missing = 0;
#define RGPU_CALL(name, kind, ...)                                                                 \
    RGPU_IF(RGPU_K(DRIVER, kind))(                                                                 \
        if (!(*(void **)&be->name = dlsym(h, #name))) {                                            \
            snprintf(err, errlen, "the NVIDIA driver lacks %s (too old?)", #name);                 \
            missing++;                                                                             \
        })
#include "calls.def"
#undef RGPU_CALL
    if (missing) {
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
bool rgpu_backend_nvidia_probe(char *err, size_t errlen)
{
    struct rgpu_backend be;
    if (!rgpu_backend_nvidia(&be, err, errlen))
        return false;
    int n = 0;
    CUresult r = be.cuInit(0);
    if (r == CUDA_SUCCESS)
        r = be.cuDeviceGetCount(&n);
    if (r != CUDA_SUCCESS || n == 0) {
        snprintf(err, errlen, "the NVIDIA driver reports no usable device (CUresult %d)", (int)r);
        return false;
    }
    return true;
}
