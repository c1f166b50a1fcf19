/*
 * cpudev.h — the CPU device: a GPU emulated in the worker process.
 *
 * It implements the driver functions of wire/calls.def as cpudev_<name>, with
 * the driver's signatures and error codes. Device memory lives in host memory
 * at device addresses (a reserved address range, identity-mapped in the
 * worker); every allocation is tracked and every pointer validated. Streams
 * run in order on their own threads; events carry timestamps.
 *
 * One CPU device per worker process: cpudev_init() once, before any call,
 * in the process that will use it (after fork: worker threads and the
 * device's state do not survive into a child).
 */
#ifndef RGPU_CPUDEV_H
#define RGPU_CPUDEV_H

#include "calls.h"

#include <stdatomic.h>
#include <stdint.h>

struct cpudev_config {
    char name[128];          /* device name; "" = "rgpu CPU device" */
    uint64_t mem_bytes;      /* device memory; 0 = half the host's RAM */
    int cc_major, cc_minor;  /* compute capability; 0 = 13.0 */
    int sm_count;            /* multiprocessors; 0 = host cores */
    /* Bytes allocated by every worker of the server (shared memory, may be
     * NULL): allocations fail with OUT_OF_MEMORY past mem_bytes in total and
     * cuMemGetInfo reports what all tenants use. */
    _Atomic uint64_t *shared_used;
    /* This worker's part of *shared_used (shared memory, may be NULL): the
     * server subtracts it from the total when the worker dies, however it
     * dies. */
    _Atomic uint64_t *worker_used;
    /* This worker's active contexts (shared memory, may be NULL): the server
     * lists the workers that hold one as NVML's running processes. */
    _Atomic int *worker_contexts;
    /* Start of the device address range (page aligned; 0 = 0x200000000000).
     * Device addresses equal the host addresses of their bytes in this
     * process; init fails if the range cannot be had at exactly this address. */
    uint64_t va_base;
    /* Host functions of all streams run one at a time, as NVIDIA's driver
     * runs them (on one thread), and cuStreamDestroy waits for that thread
     * while it holds the device's lock, which every other call takes — the
     * shape of the hang seen on an H200 (a call waiting, inside the driver,
     * for a host function whose end only the server's reader can receive;
     * server/relay.c). The server asks for it with RGPU_STAGED_COPIES=1,
     * whose copy paths are the NVIDIA backend's. */
    bool serial_host_funcs;
};

/* Sets up the device; false (with a reason) if the configuration is invalid,
 * the device address range cannot be reserved, or it was set up already. */
bool cpudev_init(const struct cpudev_config *cfg, char *err, size_t errlen);

/*
 * The driver functions, cpudev_cuMemAlloc_v2 and so on. Contract for callers
 * (the server):
 *  - Every function is thread-safe. The current context is per calling
 *    thread (cpudev_cuCtxSetCurrent), as in the driver.
 *  - cpudev_cuInit(0) must be called once before the other calls (they
 *    return CUDA_ERROR_NOT_INITIALIZED until then), except
 *    cpudev_cuDriverGetVersion.
 *  - Copies and memsets are asynchronous: the call validates and enqueues,
 *    and the stream's worker thread moves the bytes later. Host buffers
 *    passed to them are used in place (never copied at enqueue) and must stay
 *    valid until the operation has completed; enqueue a cpudev_cuLaunchHostFunc
 *    on the same stream to learn when. Host pointers are trusted.
 *  - Host functions run on the stream's worker thread with no cpudev lock
 *    held; later work on that stream (and work that depends on it) waits
 *    until they return. Calls that would block (synchronisation, cuMemFree,
 *    context destruction) return CUDA_ERROR_NOT_PERMITTED when made from a
 *    worker thread, instead of deadlocking.
 *  - Blocking calls: the synchronise calls, cuMemFree_v2 (waits for all
 *    queued work, like cudaFree), cuCtxDestroy_v2, cuDevicePrimaryCtxReset_v2
 *    and the cuDevicePrimaryCtxRelease_v2 that drops the last reference (it
 *    tears the context down, waiting for its queued work).
 *  - CU_MEMORYTYPE_UNIFIED addresses outside the device range are used as
 *    host addresses of this process: translate client addresses first.
 *  - Stream priorities are recorded and reported, not enforced: every
 *    stream has its own worker thread.
 *  - Images (cuModuleLoadData, cuLibraryLoadData) are measured by their own
 *    headers (FATBIN_LEN_UNKNOWN) and a __fatBinC_Wrapper_t is followed:
 *    pass only bytes checked to be one fatbin, cubin or NUL-terminated PTX.
 *    Only PTX runs: a cubin, or a fatbin without PTX this device can run, is
 *    CUDA_ERROR_NO_BINARY_FOR_GPU. Libraries load lazily into each context.
 *    A CUkernel is accepted wherever a CUfunction is.
 *  - Kernel launches are asynchronous like copies; their parameters are
 *    copied at the call (kernelParams, or packed through `extra`). Device
 *    printf output is written to this process's stdout (fd 1). A launch that
 *    faults (ILLEGAL_ADDRESS, MISALIGNED_ADDRESS, LAUNCH_FAILED, ...) makes
 *    its context sticky, as on hardware: later launches and enqueues,
 *    stream, event and context synchronisation, stream and event queries and
 *    cuMemFree in that context return the error until the context is
 *    destroyed or the primary context reset.
 *  - cuModuleUnload and cuLibraryUnload wait for the work queued in the
 *    contexts the code is loaded in (blocking calls).
 */
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(DRIVER, kind))(CUresult cpudev_##name(RGPU_PARAMS(__VA_ARGS__));)
#include "calls.def"
#undef RGPU_CALL

/* cuLinkAddData_v2 for an archive member (nvlink's semantics for a
 * library's objects: linked only when it defines something the link
 * references). The server adds the members a client marks with it. */
CUresult cpudev_link_add_member(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name);

/* The bytes of device range [p, p + n) in this process, or NULL unless the
 * whole range lies inside one live allocation (n == 0: p itself must). The
 * pointer stays valid until that allocation is freed. */
void *cpudev_host_ptr(CUdeviceptr p, size_t n);

/* Before the worker process exits (also by _exit): give this process's
 * allocations back to *cfg.shared_used, which outlives it, and refuse every
 * later call with CUDA_ERROR_DEINITIALIZED. Work still queued may run on. */
void cpudev_exit(void);

/* Send device printf output (text of one printf call) to fn instead of the
 * worker's stdout; the server forwards it to the client. */
void cpudev_set_print(void (*fn)(void *ctx, const char *text, size_t len), void *ctx);

/* The reserved device address range: every device pointer lies in
 * [*base, *base + *size). Both 0 before cpudev_init(). */
void cpudev_va_range(CUdeviceptr *base, size_t *size);

#endif
