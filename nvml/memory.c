/*
 * memory.c — memory information and compute processes: one wire row each
 * (nvmlDeviceGetMemoryInfo_v2, rgpu_nvml_processes), from which the client
 * builds every ABI version NVML exports.
 */
#include <string.h>

#include "nvml_client.h"

static nvmlReturn_t memory(nvmlDevice_t device, nvmlMemory_v2_t *out)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    struct rgpu_args_nvmlDeviceGetMemoryInfo_v2 a = {.device = device};
    if (!rgpu_nvml_wire_dev(&a.device))
        return NVML_ERROR_INVALID_ARGUMENT;
    r = rgpu_nvml_remote(RGPU_ID_nvmlDeviceGetMemoryInfo_v2, &a);
    if (r == NVML_SUCCESS)
        *out = a.memory;
    return r;
}

/* v1 has no "reserved": its used includes what the driver reserves. */
RGPU_NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *m)
{
    if (!m)
        return rgpu_nvml_ready() != NVML_SUCCESS ? NVML_ERROR_UNINITIALIZED : NVML_ERROR_INVALID_ARGUMENT;
    nvmlMemory_v2_t v2;
    nvmlReturn_t r = memory(device, &v2);
    if (r == NVML_SUCCESS)
        *m = (nvmlMemory_t){.total = v2.total, .free = v2.free, .used = v2.used + v2.reserved};
    return r;
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *m)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!m)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (m->version != nvmlMemory_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    nvmlMemory_v2_t v2;
    r = memory(device, &v2);
    if (r == NVML_SUCCESS)
        *m = (nvmlMemory_v2_t){.version = nvmlMemory_v2, .total = v2.total, .reserved = v2.reserved,
                               .free = v2.free, .used = v2.used};
    return r;
}

/* NVML's contract: *infoCount in, the number of processes out; too small a
 * buffer gives NVML_ERROR_INSUFFICIENT_SIZE (infos may be NULL when
 * *infoCount is 0: a size query). */
static nvmlReturn_t processes(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!infoCount || (*infoCount && !infos))
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned cap = *infoCount, max = RGPU_NVML_MAX_OUTBUF / sizeof(nvmlProcessInfo_t);
    struct rgpu_args_rgpu_nvml_processes a = {.device = device, .capacity = cap < max ? cap : max, .infos = infos};
    if (!rgpu_nvml_wire_dev(&a.device))
        return NVML_ERROR_INVALID_ARGUMENT;
    r = rgpu_nvml_remote(RGPU_ID_rgpu_nvml_processes, &a);
    if (r != NVML_SUCCESS)
        return r;
    if (a.count > a.capacity) {
        *infoCount = a.count;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    *infoCount = a.count;
    return NVML_SUCCESS;
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                                   nvmlProcessInfo_t *infos)
{
    return processes(device, infoCount, infos);
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                                   nvmlProcessInfo_v2_t *infos)
{
    return processes(device, infoCount, infos);
}

/* v1 entries are shorter: read current ones into a buffer of our own and
 * narrow them (up to 64 processes through this old entry point). */
RGPU_NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                                nvmlProcessInfo_v1_t *infos)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!infoCount || (*infoCount && !infos))
        return NVML_ERROR_INVALID_ARGUMENT;
    enum { CHUNK = 64 };
    nvmlProcessInfo_t tmp[CHUNK];
    unsigned n = *infoCount < CHUNK ? *infoCount : CHUNK;
    r = processes(device, &n, n ? tmp : NULL);
    if (r == NVML_ERROR_INSUFFICIENT_SIZE && n <= *infoCount)
        return NVML_ERROR_INSUFFICIENT_SIZE; /* more than CHUNK fit the caller: not handled */
    if (r != NVML_SUCCESS) {
        if (r == NVML_ERROR_INSUFFICIENT_SIZE)
            *infoCount = n;
        return r;
    }
    for (unsigned i = 0; i < n; i++)
        infos[i] = (nvmlProcessInfo_v1_t){.pid = tmp[i].pid, .usedGpuMemory = tmp[i].usedGpuMemory};
    *infoCount = n;
    return NVML_SUCCESS;
}
