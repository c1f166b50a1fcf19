/*
 * memory.c — device allocation, address reservations and page-locked host
 * memory.
 *
 * Device memory is allocated by the server; the client records each range so
 * that unified-address copies are classified locally. Page-locked host memory
 * is client memory: the client allocates it (page aligned; over shm: from the
 * host-memory pool the worker maps too, hostpool.c), records it with its
 * flags, and answers cuMemHostGetFlags and pointer attributes for it without
 * a round trip. Pool memory the device reaches at its own address needs
 * nothing more; elsewhere mapped (DEVICEMAP) memory gets a device mirror kept
 * coherent at synchronising calls (mapped.c), and other page-locked memory
 * is not accessible to kernels.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "context.h"
#include "hostpool.h"
#include "mapped.h"
#include "memory.h"
#include "capture.h"

struct ranges rgpu_device_ranges = RANGES_INIT;
struct ranges rgpu_host_ranges = RANGES_INIT;
struct ranges rgpu_vmm_mapped = RANGES_INIT;
static atomic_ullong next_buffer_id = 1;

static void host_free(void *p, size_t size);

/* ---- device memory ---- */
void rgpu_memory_drop_ctx(CUcontext ctx)
{
    if (ctx)
        ranges_remove_ctx(&rgpu_device_ranges, ctx);
}

/* ctx: the allocation's context; NULL for a virtual address range */
void rgpu_memory_record(CUdeviceptr p, size_t size, CUcontext ctx, bool stream_ordered)
{
    struct range r = {.base = (uintptr_t)p, .size = size, .ctx = ctx, .stream_ordered = stream_ordered,
                      .id = atomic_fetch_add(&next_buffer_id, 1)};
    if (!ranges_add(&rgpu_device_ranges, &r))
        rgpu_warn("out of memory tracking allocation %#llx; unified copies to it will be misclassified",
                  (unsigned long long)p);
}

RGPU_API CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if ((r = rgpu_capture_unsafe_check()) != CUDA_SUCCESS)
        return r;
    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_cuMemAlloc_v2 a = {.bytesize = bytesize};
    r = rgpu_remote(RGPU_ID_cuMemAlloc_v2, &a);
    if (r == CUDA_SUCCESS) {
        rgpu_memory_record(a.dptr, bytesize, rgpu_ctx_current(), false);
        *dptr = a.dptr;
    }
    return r;
}

RGPU_API CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
                                     unsigned int ElementSizeBytes)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!dptr || !pPitch)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_cuMemAllocPitch_v2 a = {
        .WidthInBytes = WidthInBytes, .Height = Height, .ElementSizeBytes = ElementSizeBytes};
    r = rgpu_remote(RGPU_ID_cuMemAllocPitch_v2, &a);
    if (r == CUDA_SUCCESS) {
        rgpu_memory_record(a.dptr, a.pPitch * Height, rgpu_ctx_current(), false);
        *dptr = a.dptr;
        *pPitch = a.pPitch;
    }
    return r;
}

RGPU_API CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if ((r = rgpu_capture_unsafe_check()) != CUDA_SUCCESS)
        return r;
    if (dptr == 0)
        return CUDA_SUCCESS; /* like free(NULL) */
    struct range rg;
    if (ranges_find(&rgpu_host_ranges, (uintptr_t)dptr, &rg) && rg.managed) {
        if (rg.base != (uintptr_t)dptr || rg.owner)
            return CUDA_ERROR_INVALID_VALUE; /* inside an allocation, or a library's variable */
        /* as cudaFree: the device's work that may use it finishes first */
        if ((r = cuCtxSynchronize()) != CUDA_SUCCESS)
            return r;
        host_free((void *)(uintptr_t)dptr, rg.size);
        return CUDA_SUCCESS;
    }
    struct rgpu_args_cuMemFree_v2 a = {.dptr = dptr};
    r = rgpu_remote(RGPU_ID_cuMemFree_v2, &a);
    if (r == CUDA_SUCCESS)
        ranges_remove(&rgpu_device_ranges, (uintptr_t)dptr, NULL);
    return r;
}

/* ---- virtual memory management: a reservation is recorded whole, so an
 * address in it counts as device memory for unified copies and pointer
 * queries; the server answers for the parts that are not mapped. ---- */
RGPU_API CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                      unsigned long long flags)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!ptr || size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_cuMemAddressReserve a = {.size = size, .alignment = alignment, .addr = addr, .flags = flags};
    r = rgpu_remote(RGPU_ID_cuMemAddressReserve, &a);
    if (r == CUDA_SUCCESS) {
        rgpu_memory_record(a.ptr, size, NULL, false);
        *ptr = a.ptr;
    }
    return r;
}

RGPU_API CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    struct rgpu_args_cuMemAddressFree a = {.ptr = ptr, .size = size};
    r = rgpu_remote(RGPU_ID_cuMemAddressFree, &a);
    if (r == CUDA_SUCCESS) {
        ranges_remove(&rgpu_device_ranges, (uintptr_t)ptr, NULL);
        ranges_remove_overlapping(&rgpu_vmm_mapped, (uintptr_t)ptr, size);
    }
    return r;
}

/* A mapping is recorded once the server made it; it is forgotten before an
 * unmap leaves (as a destroyed handle is: once unmapped, another thread may
 * map the addresses again). Forgetting too much only costs round trips. */
RGPU_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                           unsigned long long flags)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    struct rgpu_args_cuMemMap a = {.ptr = ptr, .size = size, .offset = offset, .handle = handle, .flags = flags};
    r = rgpu_remote(RGPU_ID_cuMemMap, &a);
    struct range rg = {.base = (uintptr_t)ptr, .size = size};
    if (r == CUDA_SUCCESS && size && !ranges_overlaps(&rgpu_vmm_mapped, rg.base, size) &&
        !ranges_add(&rgpu_vmm_mapped, &rg))
        rgpu_warn("out of memory tracking a mapping at %#llx; copies to it will wait for their replies",
                  (unsigned long long)ptr);
    return r;
}

RGPU_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    ranges_remove_overlapping(&rgpu_vmm_mapped, (uintptr_t)ptr, size);
    struct rgpu_args_cuMemUnmap a = {.ptr = ptr, .size = size};
    return rgpu_remote(RGPU_ID_cuMemUnmap, &a);
}

static bool device_ptr_of(const void *p, const struct range *rg, CUdeviceptr *d);

/* ---- page-locked host memory ---- */
/* managed: for cuMemAllocManaged, mapped memory whose host and device
 * addresses must be one (the host bytes at the device's address). */
static CUresult host_alloc_kind(void **pp, size_t size, unsigned flags, bool managed)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!pp || size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED))
        return CUDA_ERROR_INVALID_VALUE;
    /* From the shm: pool when there is one: shared with the server, and
     * where it is also the device's at this address, mapped memory needs no
     * mirror. Otherwise DEVICEMAP gets a mirror (mapped.c). */
    bool shared = false;
    void *p = rgpu_hostpool_alloc(size, &shared);
    if (p && (flags & CU_MEMHOSTALLOC_DEVICEMAP) && !shared) {
        rgpu_hostpool_free(p, size);
        p = NULL;
    }
    if (!p && (flags & CU_MEMHOSTALLOC_DEVICEMAP)) {
        if ((r = rgpu_mapped_alloc(&p, size)) != CUDA_SUCCESS)
            return r;
    } else if (!p && posix_memalign(&p, 4096, size)) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    struct range rg = {.base = (uintptr_t)p, .size = size, .flags = flags, .shared = shared, .managed = managed,
                       .id = atomic_fetch_add(&next_buffer_id, 1)};
    CUdeviceptr d;
    bool one_address = !managed || (device_ptr_of(p, &rg, &d) && d == (uintptr_t)p);
    if (!one_address)
        rgpu_warn("managed memory: the device's address of %zu bytes is taken in this process", size);
    if (!one_address || !ranges_add(&rgpu_host_ranges, &rg)) {
        if (!rgpu_mapped_release(p) && !rgpu_hostpool_free(p, size))
            free(p);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *pp = p;
    return CUDA_SUCCESS;
}

static CUresult host_alloc(void **pp, size_t size, unsigned flags)
{
    return host_alloc_kind(pp, size, flags, false);
}
RGPU_API CUresult cuMemAllocHost_v2(void **pp, size_t bytesize) { return host_alloc(pp, bytesize, 0); }
RGPU_API CUresult cuMemAllocHost(void **pp, unsigned int bytesize) { return host_alloc(pp, bytesize, 0); }
RGPU_API CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags) { return host_alloc(pp, bytesize, Flags); }

/* Managed memory as a device without concurrent managed access has it (the
 * client reports CONCURRENT_MANAGED_ACCESS 0): one address on host and
 * device, made coherent where such a device's program may look — host writes
 * before the next request, device writes at synchronising calls. That is
 * mapped memory placed at its mirror's address (mapped.c), or over shm:
 * memory of the host-memory pool the device reaches at the same address. */
RGPU_API CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if ((r = rgpu_capture_unsafe_check()) != CUDA_SUCCESS)
        return r;
    if (!dptr || bytesize == 0 || (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST))
        return CUDA_ERROR_INVALID_VALUE;
    if (!rgpu_ctx_current())
        return CUDA_ERROR_INVALID_CONTEXT;
    void *p;
    if ((r = host_alloc_kind(&p, bytesize, CU_MEMHOSTALLOC_DEVICEMAP, true)) == CUDA_SUCCESS)
        *dptr = (CUdeviceptr)(uintptr_t)p;
    return r;
}

CUresult rgpu_memory_managed_variable(CUdeviceptr d, size_t size, const void *owner)
{
    struct range rg = {.base = (uintptr_t)d, .size = size, .flags = CU_MEMHOSTALLOC_DEVICEMAP, .managed = true,
                       .owner = owner, .id = atomic_fetch_add(&next_buffer_id, 1)};
    if (size == 0)
        return CUDA_SUCCESS; /* nothing for the host to reach */
    CUresult r = rgpu_mapped_adopt(d, size, owner);
    if (r == CUDA_SUCCESS && !ranges_find(&rgpu_host_ranges, rg.base, NULL) && !ranges_add(&rgpu_host_ranges, &rg))
        r = CUDA_ERROR_OUT_OF_MEMORY; /* the mirror stays until the library goes */
    return r;
}

void rgpu_memory_drop_variables(const void *owner)
{
    ranges_remove_owner(&rgpu_host_ranges, owner);
    rgpu_mapped_release_owner(owner);
}

static void host_free(void *p, size_t size)
{
    ranges_remove(&rgpu_host_ranges, (uintptr_t)p, NULL);
    /* mapped memory's release frees its host bytes itself */
    if (!rgpu_mapped_release(p) && !rgpu_hostpool_free(p, size))
        free(p);
}

RGPU_API CUresult cuMemFreeHost(void *p)
{
    CUresult r = rgpu_check_init();
    struct range rg;
    if (r)
        return r;
    if (!ranges_find(&rgpu_host_ranges, (uintptr_t)p, &rg) || rg.base != (uintptr_t)p || rg.registered ||
        rg.managed)
        return CUDA_ERROR_INVALID_VALUE;
    host_free(p, rg.size);
    return CUDA_SUCCESS;
}

static CUresult host_register(void *p, size_t bytesize, unsigned flags)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!p || bytesize == 0 ||
        (flags & ~(unsigned)(CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_IOMEMORY |
                             CU_MEMHOSTREGISTER_READ_ONLY)))
        return CUDA_ERROR_INVALID_VALUE;
    if (flags & CU_MEMHOSTREGISTER_IOMEMORY)
        return CUDA_ERROR_NOT_SUPPORTED; /* device access to I/O memory: a PCIe feature */
    if (ranges_overlaps(&rgpu_host_ranges, (uintptr_t)p, bytesize))
        return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    if ((flags & CU_MEMHOSTREGISTER_DEVICEMAP) && (r = rgpu_mapped_register(p, bytesize)) != CUDA_SUCCESS)
        return r;
    struct range rg = {.base = (uintptr_t)p, .size = bytesize, .flags = flags, .registered = true,
                       .id = atomic_fetch_add(&next_buffer_id, 1)};
    if (ranges_add(&rgpu_host_ranges, &rg))
        return CUDA_SUCCESS;
    rgpu_mapped_release(p);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

RGPU_API CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags) { return host_register(p, bytesize, Flags); }
RGPU_API CUresult cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags) { return host_register(p, bytesize, Flags); }

RGPU_API CUresult cuMemHostUnregister(void *p)
{
    CUresult r = rgpu_check_init();
    struct range rg;
    if (r)
        return r;
    if (!ranges_find(&rgpu_host_ranges, (uintptr_t)p, &rg) || rg.base != (uintptr_t)p || !rg.registered)
        return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
    ranges_remove(&rgpu_host_ranges, (uintptr_t)p, NULL);
    rgpu_mapped_release(p);
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
    CUresult r = rgpu_check_init();
    struct range rg;
    if (r)
        return r;
    if (!pFlags || !ranges_find(&rgpu_host_ranges, (uintptr_t)p, &rg))
        return CUDA_ERROR_INVALID_VALUE;
    *pFlags = rg.flags;
    return CUDA_SUCCESS;
}

/* The device's address of host address p: itself in mapped page-locked
 * memory the device shares (hostpool.c), the mirror's in other mapped
 * memory. Only DEVICEMAP memory has one to tell, as NVIDIA's driver answers
 * (though with unified addressing its kernels reach the rest too, and so do
 * the server's on shared memory). */
static bool device_ptr_of(const void *p, const struct range *rg, CUdeviceptr *d)
{
    if (rg && rg->shared && (rg->flags & CU_MEMHOSTALLOC_DEVICEMAP)) {
        *d = (CUdeviceptr)(uintptr_t)p;
        return true;
    }
    return rgpu_mapped_device_ptr(p, d);
}

/* ---- pointer attributes ---- */
static CUresult host_attribute(void *data, CUpointer_attribute attr, const struct range *rg, uintptr_t p)
{
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: *(CUcontext *)data = rgpu_ctx_current(); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: *(unsigned *)data = CU_MEMORYTYPE_HOST; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: *(void **)data = (void *)p; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
        /* only mapped memory has a device address */
        return device_ptr_of((void *)p, rg, (CUdeviceptr *)data) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: *(int *)data = 1; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: *(unsigned long long *)data = rg->id; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: *(int *)data = rg->managed; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *(int *)data = 0; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: *(void **)data = (void *)rg->base; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: *(size_t *)data = rg->size; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MAPPED: {
        CUdeviceptr d;
        *(int *)data = device_ptr_of((void *)p, rg, &d);
        return CUDA_SUCCESS;
    }
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: *(int *)data = 0; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: *(int *)data = 0; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: *(unsigned long long *)data = 0; return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
}

RGPU_API CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
    CUresult r = rgpu_check_init();
    struct range rg;
    if (r)
        return r;
    if (!data || rgpu_pointer_attribute_size(attribute) == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (ranges_find(&rgpu_host_ranges, (uintptr_t)ptr, &rg))
        return host_attribute(data, attribute, &rg, (uintptr_t)ptr);
    if (!rgpu_is_device_ptr((uintptr_t)ptr))
        return CUDA_ERROR_INVALID_VALUE; /* neither ours nor the device's */
    struct rgpu_args_cuPointerGetAttribute a = {.data = data, .attribute = attribute, .ptr = ptr};
    r = rgpu_remote(RGPU_ID_cuPointerGetAttribute, &a);
    /* The server's host addresses mean nothing here. */
    if (r == CUDA_SUCCESS && attribute == CU_POINTER_ATTRIBUTE_HOST_POINTER)
        r = CUDA_ERROR_INVALID_VALUE;
    return r;
}

/* Unlike cuPointerGetAttribute, an unknown pointer is not an error: its
 * attributes read as zero (memory type 0: unregistered host memory). */
RGPU_API CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes, void **data,
                                         CUdeviceptr ptr)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!attributes || !data)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < numAttributes; i++) {
        size_t n = rgpu_pointer_attribute_size(attributes[i]);
        if (!n || !data[i])
            return CUDA_ERROR_INVALID_VALUE;
        r = cuPointerGetAttribute(data[i], attributes[i], ptr);
        if (r == CUDA_ERROR_INVALID_VALUE || r == CUDA_ERROR_NOT_SUPPORTED) {
            memset(data[i], 0, n);
            if (attributes[i] == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL)
                *(int *)data[i] = -2; /* the driver's "no device" ordinal */
        } else if (r != CUDA_SUCCESS) {
            return r;
        }
    }
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!pdptr || !p || Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct range rg;
    bool known = ranges_find(&rgpu_host_ranges, (uintptr_t)p, &rg);
    return device_ptr_of(p, known ? &rg : NULL, pdptr) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
