/*
 * backend.h — what the server executes calls on.
 *
 * A backend is a table of driver functions with the exact signatures of the
 * CUDA driver API, one entry per driver row of wire/calls.def. The nvidia
 * backend fills it with dlsym() from the real libcuda.so.1; the cpu backend
 * with the CPU device's cpudev_<name> functions. The server never calls a
 * backend with a handle or length it has not validated.
 */
#ifndef RGPU_SERVER_BACKEND_H
#define RGPU_SERVER_BACKEND_H

#include "calls.h"

struct rgpu_backend {
    const char *name; /* "nvidia" or "cpu" */
    /* Every call taking a CUfunction takes a CUkernel too (the CPU device);
     * else the server hands such calls the kernel's function. */
    bool kernels_are_functions;
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(DRIVER, kind))(CUresult (*name)(RGPU_PARAMS(__VA_ARGS__));)
#include "calls.def"
#undef RGPU_CALL
    /* Not a driver call: add an archive member to a link (linked only when it
     * defines something the link references, as nvlink does with a library's
     * objects). NULL where the backend has no such notion: the real driver,
     * which links the prelinked objects of a fatbin wrapper itself, gets
     * members as ordinary inputs. */
    CUresult (*link_add_member)(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name);
    /* cuThreadExchangeStreamCaptureMode, for the server's own threads (see
     * worker_thread_init); NULL where the backend keeps no per-thread mode. */
    CUresult (*thread_exchange_capture_mode)(CUstreamCaptureMode *mode);
    /* cuTensorMapEncodeTiled (Hopper's TMA descriptors); NULL where the
     * device has no tensor memory accelerator (the CPU device). */
    CUresult (*tensor_map_encode_tiled)(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *addr,
                                        const cuuint64_t *dim, const cuuint64_t *strides, const cuuint32_t *box,
                                        const cuuint32_t *elem_strides, CUtensorMapInterleave interleave,
                                        CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
                                        CUtensorMapFloatOOBfill oob);
};

struct cpudev_config;

/* Fill *be from the real driver (RGPU_NVIDIA_LIB, else libcuda.so.1); false
 * with a reason in err when it cannot be loaded or lacks a call rgpud needs. */
bool rgpu_backend_nvidia(struct rgpu_backend *be, char *err, size_t errlen);
/* Whether the real driver can serve: it loads, has every call and reports a
 * device (RGPU_NVIDIA_SERVES); there is no driver library at all
 * (RGPU_NVIDIA_ABSENT); or there is one that cannot serve, why in err. */
enum rgpu_nvidia_probe { RGPU_NVIDIA_SERVES, RGPU_NVIDIA_UNUSABLE, RGPU_NVIDIA_ABSENT };
enum rgpu_nvidia_probe rgpu_backend_nvidia_probe(char *err, size_t errlen);
/* Fill *be with the CPU device configured by cfg. */
bool rgpu_backend_cpu(struct rgpu_backend *be, const struct cpudev_config *cfg, char *err, size_t errlen);

#endif
