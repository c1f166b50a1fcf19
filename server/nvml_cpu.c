/*
 * nvml_cpu.c — NVML answers for the CPU device. Only what rgpud can measure
 * or knows for certain; everything else is NVML_ERROR_NOT_SUPPORTED (what
 * NVML itself returns for a sensor a board lacks), never a made-up number:
 *
 *   nvmlSystemGetDriverVersion     NOT_SUPPORTED: there is no NVIDIA driver
 *   nvmlSystemGetNVMLVersion       "13": the NVML API version rgpu implements
 *   nvmlDeviceGetPciInfo_v3        domain/bus/device and the bus id strings of
 *                                  the snapshot's PCI bus id; device and
 *                                  subsystem ids 0 (no PCI function exists)
 *   nvmlDeviceGetMemoryInfo(_v2)   total: the device's memory; used: what all
 *                                  tenants of this rgpud have allocated;
 *                                  free: total - used; reserved: 0
 *   nvmlDeviceGetComputeRunningProcesses*
 *                                  the workers of this rgpud holding a
 *                                  context: worker pid (in the server's pid
 *                                  namespace) and the memory it allocated
 *   serial, minor number, brand, utilization, temperature, power, clocks
 *                                  NOT_SUPPORTED
 */
#include <stdio.h>
#include <string.h>

#include "nvml_backend.h"
#include "stats.h"

static struct shared_stats *stats;
static const struct rgpu_dev_info *devs;

/* the CPU backend's handle of device i is i + 1 (never NULL) */
static const struct rgpu_dev_info *dev_of(nvmlDevice_t d) { return &devs[(uintptr_t)d - 1]; }

static nvmlReturn_t put_string(char *dst, unsigned int len, const char *s)
{
    if (strlen(s) + 1 > len)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, s, strlen(s) + 1);
    return NVML_SUCCESS;
}

static nvmlReturn_t driver_version(char *version, unsigned int length) { return NVML_ERROR_NOT_SUPPORTED; }

static nvmlReturn_t nvml_version(char *version, unsigned int length)
{
    return put_string(version, length, NVML_API_VERSION_STR);
}

static nvmlReturn_t pci_info(nvmlDevice_t d, nvmlPciInfo_t *pci)
{
    unsigned domain, bus, device;
    if (sscanf(dev_of(d)->pci_bus_id, "%x:%x:%x", &domain, &bus, &device) != 3)
        return NVML_ERROR_NOT_SUPPORTED;
    memset(pci, 0, sizeof *pci);
    pci->domain = domain;
    pci->bus = bus;
    pci->device = device;
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.0", domain & 0xffff, bus & 0xff,
             device & 0xff);
    snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.0", domain, bus & 0xff, device & 0xff);
    return NVML_SUCCESS;
}

static nvmlReturn_t memory_v2(nvmlDevice_t d, nvmlMemory_v2_t *m)
{
    uint64_t total = dev_of(d)->total_mem, used = atomic_load(&stats->used);
    if (used > total)
        used = total;
    *m = (nvmlMemory_v2_t){.version = nvmlMemory_v2, .total = total, .used = used, .free = total - used};
    return NVML_SUCCESS;
}

static nvmlReturn_t processes(nvmlDevice_t d, unsigned int capacity, unsigned int *count, nvmlProcessInfo_t *infos)
{
    unsigned n = 0;
    for (int i = 0; i < RGPU_MAX_WORKERS; i++) {
        int pid = atomic_load(&stats->slot[i].pid);
        if (pid <= 0 || atomic_load(&stats->slot[i].contexts) <= 0)
            continue;
        if (n < capacity)
            infos[n] = (nvmlProcessInfo_t){.pid = (unsigned)pid,
                                           .usedGpuMemory = atomic_load(&stats->slot[i].used),
                                           .gpuInstanceId = 0xFFFFFFFFu,
                                           .computeInstanceId = 0xFFFFFFFFu};
        n++;
    }
    *count = n;
    return NVML_SUCCESS;
}

static nvmlReturn_t init(struct rgpu_nvml_backend *nb, const struct rgpu_dev_info *d, int ndev)
{
    devs = d;
    nb->ndev = ndev;
    for (int i = 0; i < ndev; i++)
        nb->dev[i] = (nvmlDevice_t)(uintptr_t)(i + 1);
    return NVML_SUCCESS;
}

void rgpu_nvml_backend_cpu(struct rgpu_nvml_backend *nb, struct shared_stats *s)
{
    memset(nb, 0, sizeof *nb);
    stats = s;
    nb->name = "cpu";
    nb->init = init;
    nb->nvmlSystemGetDriverVersion = driver_version;
    nb->nvmlSystemGetNVMLVersion = nvml_version;
    nb->nvmlDeviceGetPciInfo_v3 = pci_info;
    nb->nvmlDeviceGetMemoryInfo_v2 = memory_v2;
    nb->rgpu_nvml_processes = processes;
    /* every other entry stays NULL: NVML_ERROR_NOT_SUPPORTED (nvml.c) */
}
