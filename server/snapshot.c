/*
 * snapshot.c — see snapshot.h. An attribute the backend does not know is
 * recorded with its error code, so the client returns that same error.
 */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

CUresult snapshot_build(const struct rgpu_backend *be, struct rgpu_welcome *wel, struct rgpu_dev_info **devs)
{
    CUresult r = be->cuInit(0);
    int n = 0;
    if (r == CUDA_SUCCESS)
        r = be->cuDriverGetVersion(&wel->driver_version);
    if (r == CUDA_SUCCESS)
        r = be->cuDeviceGetCount(&n);
    if (r != CUDA_SUCCESS)
        return r;
    if (n < 0 || n > 16)
        return CUDA_ERROR_INVALID_DEVICE;
    strncpy(wel->backend, be->name, sizeof wel->backend - 1);
    struct rgpu_dev_info *d = calloc(n ? (size_t)n : 1, sizeof *d);
    if (!d)
        return CUDA_ERROR_OUT_OF_MEMORY;
    for (int i = 0; i < n && r == CUDA_SUCCESS; i++) {
        CUdevice dev;
        CUuuid uuid;
        size_t total;
        r = be->cuDeviceGet(&dev, i);
        if (r == CUDA_SUCCESS)
            r = be->cuDeviceGetName(d[i].name, sizeof d[i].name - 1, dev);
        if (r == CUDA_SUCCESS)
            r = be->cuDeviceGetPCIBusId(d[i].pci_bus_id, sizeof d[i].pci_bus_id - 1, dev);
        if (r == CUDA_SUCCESS)
            r = be->cuDeviceGetUuid_v2(&uuid, dev);
        if (r == CUDA_SUCCESS)
            r = be->cuDeviceTotalMem_v2(&total, dev);
        if (r != CUDA_SUCCESS)
            break;
        memcpy(d[i].uuid, uuid.bytes, 16);
        d[i].total_mem = total;
        for (int a = 1; a < RGPU_NATTR; a++) {
            int v = 0;
            d[i].attr_err[a] = a < CU_DEVICE_ATTRIBUTE_MAX ? be->cuDeviceGetAttribute(&v, (CUdevice_attribute)a, dev)
                                                           : CUDA_ERROR_INVALID_VALUE;
            d[i].attr[a] = v;
        }
        d[i].attr_err[0] = CUDA_ERROR_INVALID_VALUE;
    }
    if (r != CUDA_SUCCESS) {
        free(d);
        return r;
    }
    wel->ndev = n;
    *devs = d;
    return CUDA_SUCCESS;
}
