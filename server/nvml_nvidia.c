/*
 * nvml_nvidia.c — NVIDIA's libnvidia-ml.so.1 as the NVML backend: real
 * values for every remoted NVML call. Loaded in the worker at its first NVML
 * request (RGPU_NVIDIA_NVML_LIB names it; default libnvidia-ml.so.1); rgpu's
 * own libnvidia-ml (it exports rgpu_nvml_marker) is refused, as
 * backend_nvidia.c refuses rgpu's libcuda.
 *
 * Snapshot devices are found by UUID (NVML and CUDA number devices
 * differently, and the server's CUDA_VISIBLE_DEVICES hides some from CUDA
 * only), else by PCI bus id.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nvml_backend.h"

static struct {
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*by_uuid)(const char *uuid, nvmlDevice_t *device);
    nvmlReturn_t (*by_bus)(const char *busId, nvmlDevice_t *device);
    nvmlReturn_t (*mem_v2)(nvmlDevice_t, nvmlMemory_v2_t *);
    nvmlReturn_t (*mem_v1)(nvmlDevice_t, nvmlMemory_t *);
    nvmlReturn_t (*procs)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
} R;

/* The v2 structure is versioned: NVML checks the version field. Drivers
 * before it have only v1 (no reserved memory). */
static nvmlReturn_t memory_v2(nvmlDevice_t d, nvmlMemory_v2_t *m)
{
    if (R.mem_v2) {
        memset(m, 0, sizeof *m);
        m->version = nvmlMemory_v2;
        return R.mem_v2(d, m);
    }
    nvmlMemory_t v1;
    nvmlReturn_t r = R.mem_v1 ? R.mem_v1(d, &v1) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (r == NVML_SUCCESS)
        *m = (nvmlMemory_v2_t){.version = nvmlMemory_v2, .total = v1.total, .free = v1.free, .used = v1.used};
    return r;
}

static nvmlReturn_t processes(nvmlDevice_t d, unsigned int capacity, unsigned int *count, nvmlProcessInfo_t *infos)
{
    if (!R.procs)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    /* The list can grow between asking its size and reading it: retry. */
    for (unsigned want = capacity; want < 65536;) {
        nvmlProcessInfo_t *buf = want > capacity ? calloc(want, sizeof *buf) : infos;
        unsigned n = want;
        if (want > capacity && !buf)
            return NVML_ERROR_MEMORY;
        nvmlReturn_t r = R.procs(d, &n, want ? buf : NULL);
        if (r == NVML_SUCCESS) {
            if (buf != infos && capacity)
                memcpy(infos, buf, (size_t)capacity * sizeof *buf);
            *count = n;
        }
        if (buf != infos)
            free(buf);
        if (r != NVML_ERROR_INSUFFICIENT_SIZE)
            return r;
        want = n + 8;
    }
    return NVML_ERROR_INSUFFICIENT_SIZE;
}

static nvmlReturn_t init(struct rgpu_nvml_backend *nb, const struct rgpu_dev_info *devs, int ndev)
{
    const char *path = getenv("RGPU_NVIDIA_NVML_LIB");
    if (!path)
        path = "libnvidia-ml.so.1";
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        rgpu_err("cannot load NVIDIA's NVML (%s): %s", path, dlerror());
        return NVML_ERROR_LIBRARY_NOT_FOUND;
    }
    if (dlsym(h, "rgpu_nvml_marker")) {
        rgpu_err("%s is rgpu's NVML, not NVIDIA's (set RGPU_NVIDIA_NVML_LIB)", path);
        dlclose(h);
        return NVML_ERROR_LIBRARY_NOT_FOUND;
    }
    *(void **)&R.init = dlsym(h, "nvmlInit_v2");
    *(void **)&R.by_uuid = dlsym(h, "nvmlDeviceGetHandleByUUID");
    *(void **)&R.by_bus = dlsym(h, "nvmlDeviceGetHandleByPciBusId_v2");
    *(void **)&R.mem_v2 = dlsym(h, "nvmlDeviceGetMemoryInfo_v2");
    *(void **)&R.mem_v1 = dlsym(h, "nvmlDeviceGetMemoryInfo");
    *(void **)&R.procs = dlsym(h, "nvmlDeviceGetComputeRunningProcesses_v3");
    if (!R.init || !R.by_uuid)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    nvmlReturn_t r = R.init();
    if (r != NVML_SUCCESS)
        return r;
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(NSTUB, kind))(*(void **)&nb->name = dlsym(h, #name);)
#include "calls.def"
#undef RGPU_CALL
    nb->nvmlDeviceGetMemoryInfo_v2 = memory_v2;
    nb->rgpu_nvml_processes = processes;
    nb->ndev = ndev;
    for (int i = 0; i < ndev; i++) {
        const uint8_t *u = devs[i].uuid;
        char uuid[96];
        snprintf(uuid, sizeof uuid,
                 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
                 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
        if (R.by_uuid(uuid, &nb->dev[i]) != NVML_SUCCESS &&
            (!R.by_bus || R.by_bus(devs[i].pci_bus_id, &nb->dev[i]) != NVML_SUCCESS)) {
            rgpu_warn("NVML does not know CUDA device %d (%s, %s)", i, uuid, devs[i].pci_bus_id);
            nb->dev[i] = NULL;
        }
    }
    return NVML_SUCCESS;
}

void rgpu_nvml_backend_nvidia(struct rgpu_nvml_backend *nb)
{
    memset(nb, 0, sizeof *nb);
    nb->name = "nvidia";
    nb->init = init;
}
