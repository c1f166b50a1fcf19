/*
 * hostreg.c — page-locked host ranges (cuMemHostRegister / Unregister).
 *
 * The CPU device reads and writes this process's memory directly, so
 * registration changes nothing about how a range is accessed; what it keeps
 * is the driver's bookkeeping, so that the server's staging pool (the one
 * user: server/bufpool.c pins its buffers on every backend when asked to take
 * the NVIDIA backend's copy paths) gets the driver's answers: an overlapping
 * registration is CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, unregistering
 * an address that does not start a registered range is
 * CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED; and a copy to or from registered
 * memory can be captured into a graph (capture.c), as with the driver — the
 * server registers the client's page-locked memory that lives in the shm:
 * host-memory pool (server/hostpool.c). Memory registered with DEVICEMAP is
 * the device's too, at its own address (unified addressing): kernels,
 * copies and memsets reach it (mem_range_ok).
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

struct hostreg {
    struct hostreg *next;
    uintptr_t start, end;
    bool mapped; /* CU_MEMHOSTREGISTER_DEVICEMAP: the device reaches it, at the same address */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct hostreg *ranges;

CUresult cpudev_cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags)
{
    uintptr_t s = (uintptr_t)p;
    if (!p || !bytesize || s + bytesize < s)
        return CUDA_ERROR_INVALID_VALUE;
    struct hostreg *r = malloc(sizeof *r);
    if (!r)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *r = (struct hostreg){.start = s, .end = s + bytesize, .mapped = (Flags & CU_MEMHOSTREGISTER_DEVICEMAP) != 0};
    pthread_mutex_lock(&lock);
    for (struct hostreg *q = ranges; q; q = q->next)
        if (q->start < r->end && r->start < q->end) {
            pthread_mutex_unlock(&lock);
            free(r);
            return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
        }
    r->next = ranges;
    ranges = r;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

CUresult cpudev_cuMemHostUnregister(void *p)
{
    pthread_mutex_lock(&lock);
    for (struct hostreg **pp = &ranges; *pp; pp = &(*pp)->next)
        if ((*pp)->start == (uintptr_t)p) {
            struct hostreg *r = *pp;
            *pp = r->next;
            pthread_mutex_unlock(&lock);
            free(r);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}

/* [p, p + n) inside one registered range (a mapped one if so asked). */
static bool holds(const void *p, size_t n, bool need_mapped)
{
    uintptr_t s = (uintptr_t)p;
    bool in = false;
    if (!n || s + n < s)
        return false;
    pthread_mutex_lock(&lock);
    for (struct hostreg *q = ranges; q && !in; q = q->next)
        in = (q->mapped || !need_mapped) && q->start <= s && s + n <= q->end;
    pthread_mutex_unlock(&lock);
    return in;
}

bool copy_range_ok(const void *p, size_t n)
{
    return mem_range_ok((CUdeviceptr)(uintptr_t)p, n) || holds(p, n, false);
}
bool hostreg_mapped(const void *p, size_t n) { return holds(p, n, true); }

CUresult cpudev_cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
    if (!pdptr || Flags != 0 || !hostreg_mapped(p, 1))
        return CUDA_ERROR_INVALID_VALUE;
    *pdptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}
