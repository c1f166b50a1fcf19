/*
 * device.c — device queries, answered from the snapshot the server sent with
 * WELCOME: no round trip, and the same answers every time.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "context.h"

static CUresult get_dev(CUdevice dev, const struct rgpu_dev_info **d)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    *d = rgpu_conn_device(dev);
    return *d ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

int rgpu_dev_attr(CUdevice dev, CUdevice_attribute a)
{
    const struct rgpu_dev_info *d = rgpu_conn_device(dev);
    return d && a > 0 && a < RGPU_NATTR && !d->attr_err[a] ? d->attr[a] : 0;
}

RGPU_API CUresult cuDeviceGetCount(int *count)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    *count = rgpu_conn_welcome()->ndev;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
    const struct rgpu_dev_info *d;
    if (!device)
        return rgpu_check_init() ? CUDA_ERROR_NOT_INITIALIZED : CUDA_ERROR_INVALID_VALUE;
    CUresult r = get_dev(ordinal, &d);
    if (r == CUDA_SUCCESS)
        *device = ordinal;
    return r;
}

RGPU_API CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    const struct rgpu_dev_info *d;
    CUresult r = get_dev(dev, &d);
    if (r)
        return r;
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    snprintf(name, (size_t)len, "%s", d->name);
    return CUDA_SUCCESS;
}

static CUresult get_uuid(CUuuid *uuid, CUdevice dev)
{
    const struct rgpu_dev_info *d;
    CUresult r = get_dev(dev, &d);
    if (r)
        return r;
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    memcpy(uuid->bytes, d->uuid, 16);
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev) { return get_uuid(uuid, dev); }
RGPU_API CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev) { return get_uuid(uuid, dev); }

RGPU_API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    const struct rgpu_dev_info *d;
    CUresult r = get_dev(dev, &d);
    if (r)
        return r;
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    *bytes = d->total_mem;
    return CUDA_SUCCESS;
}

/* The CUDA 3.0 ABI: a 32-bit count, saturated as the driver does. */
RGPU_API CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
    size_t b;
    if (!bytes)
        return rgpu_check_init() ? CUDA_ERROR_NOT_INITIALIZED : CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuDeviceTotalMem_v2(&b, dev);
    if (r == CUDA_SUCCESS)
        *bytes = b > 0xffffffffu ? 0xffffffffu : (unsigned int)b;
    return r;
}

RGPU_API CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    const struct rgpu_dev_info *d;
    CUresult r = get_dev(dev, &d);
    if (r)
        return r;
    if (!pi || attrib <= 0 || attrib >= RGPU_NATTR)
        return CUDA_ERROR_INVALID_VALUE;
    if (d->attr_err[attrib])
        return (CUresult)d->attr_err[attrib];
    *pi = d->attr[attrib];
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
    const struct rgpu_dev_info *d;
    CUresult r = get_dev(dev, &d);
    if (r)
        return r;
    if (!major || !minor)
        return CUDA_ERROR_INVALID_VALUE;
    *major = d->attr[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR];
    *minor = d->attr[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
    const struct rgpu_dev_info *d;
    CUresult r = get_dev(dev, &d);
    if (r)
        return r;
    if (!pciBusId || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    snprintf(pciBusId, (size_t)len, "%s", d->pci_bus_id);
    return CUDA_SUCCESS;
}

/* Accepts [domain:]bus:device[.function] in hex, as the driver does. */
static bool parse_bus_id(const char *s, unsigned *dom, unsigned *bus, unsigned *devn)
{
    unsigned fn;
    if (sscanf(s, "%x:%x:%x.%x", dom, bus, devn, &fn) == 4 || sscanf(s, "%x:%x:%x", dom, bus, devn) == 3)
        return true;
    *dom = 0;
    return sscanf(s, "%x:%x.%x", bus, devn, &fn) == 3 || sscanf(s, "%x:%x", bus, devn) == 2;
}

RGPU_API CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    unsigned dom, bus, devn, dom2, bus2, devn2;
    if (!dev || !pciBusId || !parse_bus_id(pciBusId, &dom, &bus, &devn))
        return CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; i < rgpu_conn_welcome()->ndev; i++) {
        const struct rgpu_dev_info *d = rgpu_conn_device(i);
        if (parse_bus_id(d->pci_bus_id, &dom2, &bus2, &devn2) && dom == dom2 && bus == bus2 && devn == devn2) {
            *dev = i;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_DEVICE;
}

/* LUIDs exist only on Windows; NVIDIA's Linux driver answers the same. */
RGPU_API CUresult cuDeviceGetLuid(char *luid, unsigned int *deviceNodeMask, CUdevice dev)
{
    const struct rgpu_dev_info *d;
    CUresult r = get_dev(dev, &d);
    if (r)
        return r;
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* Features that depend on the client and the wire, not on the backend: a
 * remote device cannot access this process's memory (mapped host memory is
 * mirrored, see mapped.c, but registered memory is not device-accessible at
 * its host address and pageable memory not at all; managed memory is the
 * client's, without concurrent access), and rgpu does not provide
 * inter-process sharing (of VMM allocations and pools neither: no shareable
 * handle types) yet. Reporting them as absent keeps NVIDIA's runtime and
 * libraries on paths rgpu implements, instead of failing later. Virtual
 * memory management and memory pools are remoted and pass through as the
 * backend reports them. */
void rgpu_device_limit_features(struct rgpu_dev_info *d)
{
    static const CUdevice_attribute absent[] = {
        CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS,
        CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS,
        CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM,
        CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES,
        CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST,
        CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS,
        CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WRITES_ORDERING,
        CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES,
        CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HOST_NUMA_MEMORY_POOLS_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HOST_NUMA_MULTINODE_IPC_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HOST_MEMORY_POOLS_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HOST_ALLOC_DMA_BUF_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_ONLY_PARTIAL_HOST_NATIVE_ATOMIC_SUPPORTED,
    };
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        if (d->attr_err[absent[i]] == CUDA_SUCCESS)
            d->attr[absent[i]] = 0;
    /* the client provides mapped host memory on any backend (mapped.c), and
     * managed memory on it, without concurrent access (memory.c) */
    d->attr[CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY] = 1;
    d->attr_err[CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY] = CUDA_SUCCESS;
    d->attr[CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY] = 1;
    d->attr_err[CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY] = CUDA_SUCCESS;
}
