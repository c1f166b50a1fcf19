/*
 * mempool.c — the stream-ordered allocator on the client.
 *
 * An allocation from cuMemAllocAsync is recorded like cuMemAlloc's, so that
 * copies and memsets into it go without waiting (asyncargs.c) and unified
 * copies find it. cuMemFreeAsync of such an allocation goes without a
 * reply, like any asynchronous call the client can vouch for: the server
 * cannot refuse it (a faulted context's error is latched, as for other
 * queued work); of any other address (cuMemAlloc's memory included, which
 * CUDA does not promise to free so) it waits, so that the backend's verdict
 * comes from the call. The pools themselves are server handles (calls.def).
 */
#include "asyncargs.h"
#include "capture.h"
#include "conn.h"
#include "context.h"
#include "handles.h"
#include "memory.h"

static CUresult alloc_async(enum rgpu_call_id id, CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                            CUstream hStream)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUdeviceptr p;
    if (id == RGPU_ID_cuMemAllocAsync) {
        struct rgpu_args_cuMemAllocAsync a = {.bytesize = bytesize, .hStream = hStream};
        r = rgpu_remote(id, &a);
        p = a.dptr;
    } else {
        struct rgpu_args_cuMemAllocFromPoolAsync a = {.bytesize = bytesize, .pool = pool, .hStream = hStream};
        r = rgpu_remote(id, &a);
        p = a.dptr;
    }
    if (r == CUDA_SUCCESS) {
        /* while a capture may be running this can be a graph's allocation,
         * which is only reserved until the graph runs: not recorded (copies
         * into it wait for their replies) */
        if (!rgpu_capture_active())
            rgpu_memory_record(p, bytesize, rgpu_ctx_current(), true);
        else
            atomic_store(&rgpu_graph_memory_seen, true);
        *dptr = p;
    }
    return r;
}

RGPU_API CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(RGPU_ID_cuMemAllocAsync, dptr, bytesize, NULL, hStream);
}
RGPU_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(RGPU_ID_cuMemAllocAsync, dptr, bytesize, NULL, RGPU_PT(hStream));
}
RGPU_API CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream hStream)
{
    return alloc_async(RGPU_ID_cuMemAllocFromPoolAsync, dptr, bytesize, pool, hStream);
}
RGPU_API CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                               CUstream hStream)
{
    return alloc_async(RGPU_ID_cuMemAllocFromPoolAsync, dptr, bytesize, pool, RGPU_PT(hStream));
}

/* Whether the request waits is asyncargs.c's decision (a stream-ordered
 * allocation of ours, from its start); the record goes once the request has left, as for
 * cuMemFree: the address cannot be handed out again before then. */
RGPU_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if ((r = rgpu_stream_check(hStream)) != CUDA_SUCCESS)
        return r;
    struct rgpu_args_cuMemFreeAsync a = {.dptr = dptr, .hStream = hStream};
    r = rgpu_remote(RGPU_ID_cuMemFreeAsync, &a);
    if (r == CUDA_SUCCESS)
        ranges_remove(&rgpu_device_ranges, (uintptr_t)dptr, NULL);
    return r;
}
RGPU_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
    return cuMemFreeAsync(dptr, RGPU_PT(hStream));
}

RGPU_API CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!value || !rgpu_mempool_attr_size(attr))
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_cuMemPoolGetAttribute a = {.pool = pool, .attr = attr, .value = value};
    return rgpu_remote(RGPU_ID_cuMemPoolGetAttribute, &a);
}

/* CUDA 13's calls by location and allocation type: for a device's pinned
 * memory they are the cuDevice*MemPool calls (as CUDA documents); host and
 * managed pools are not offered. */
static CUresult device_of(const CUmemLocation *location, CUmemAllocationType type, CUdevice *dev)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!location)
        return CUDA_ERROR_INVALID_VALUE;
    if (type == CU_MEM_ALLOCATION_TYPE_MANAGED || location->type == CU_MEM_LOCATION_TYPE_HOST ||
        location->type == CU_MEM_LOCATION_TYPE_HOST_NUMA)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (type != CU_MEM_ALLOCATION_TYPE_PINNED || location->type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    *dev = location->id;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuMemGetDefaultMemPool(CUmemoryPool *pool_out, CUmemLocation *location, CUmemAllocationType type)
{
    CUdevice dev;
    CUresult r = device_of(location, type, &dev);
    return r ? r : cuDeviceGetDefaultMemPool(pool_out, dev);
}

RGPU_API CUresult cuMemGetMemPool(CUmemoryPool *pool, CUmemLocation *location, CUmemAllocationType type)
{
    CUdevice dev;
    CUresult r = device_of(location, type, &dev);
    return r ? r : cuDeviceGetMemPool(pool, dev);
}

RGPU_API CUresult cuMemSetMemPool(CUmemLocation *location, CUmemAllocationType type, CUmemoryPool pool)
{
    CUdevice dev;
    CUresult r = device_of(location, type, &dev);
    return r ? r : cuDeviceSetMemPool(dev, pool);
}
