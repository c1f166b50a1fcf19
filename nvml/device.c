/*
 * device.c — device enumeration and identity, answered from the WELCOME
 * snapshot: the devices are libcuda's, in CUDA's order, so an index, name,
 * UUID or bus id means the same device to both libraries.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nvml_client.h"

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!deviceCount)
        return NVML_ERROR_INVALID_ARGUMENT;
    const struct rgpu_welcome *w = rgpu_nvml_welcome();
    *deviceCount = w ? (unsigned)w->ndev : 0;
    return NVML_SUCCESS;
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount) { return nvmlDeviceGetCount_v2(deviceCount); }


RGPU_NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!device)
        return NVML_ERROR_INVALID_ARGUMENT;
    return rgpu_nvml_handle(index, device);
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByIndex_v2(index, device);
}

static void format_uuid(const uint8_t *u, char *out, size_t len)
{
    snprintf(out, len, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
             u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* Find the device whose snapshot entry matches. */
static nvmlReturn_t find(bool (*match)(const struct rgpu_dev_info *, const void *), const void *key,
                         nvmlDevice_t *device)
{
    const struct rgpu_welcome *w = rgpu_nvml_welcome();
    for (unsigned i = 0; w && i < (unsigned)w->ndev; i++) {
        nvmlDevice_t d;
        if (rgpu_nvml_handle(i, &d) == NVML_SUCCESS && match(rgpu_nvml_dev(d), key)) {
            *device = d;
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

static bool uuid_is(const struct rgpu_dev_info *di, const void *key)
{
    char s[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    format_uuid(di->uuid, s, sizeof s);
    return strcasecmp(s, key) == 0;
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!uuid || !device)
        return NVML_ERROR_INVALID_ARGUMENT;
    return find(uuid_is, uuid, device);
}

/* domain:bus:device.function or bus:device.function, hexadecimal, in any
 * width (NVML writes an 8-digit domain, CUDA a 4-digit one) */
struct pci_addr {
    unsigned domain, bus, device, function;
};

static bool parse_bus_id(const char *s, struct pci_addr *a)
{
    int n = 0;
    *a = (struct pci_addr){0};
    if (sscanf(s, "%x:%x:%x.%x%n", &a->domain, &a->bus, &a->device, &a->function, &n) == 4 && !s[n])
        return true;
    *a = (struct pci_addr){0};
    n = 0;
    return sscanf(s, "%x:%x.%x%n", &a->bus, &a->device, &a->function, &n) == 3 && !s[n];
}

static bool bus_is(const struct rgpu_dev_info *di, const void *key)
{
    struct pci_addr a;
    const struct pci_addr *k = key;
    return parse_bus_id(di->pci_bus_id, &a) && a.domain == k->domain && a.bus == k->bus && a.device == k->device &&
           a.function == k->function;
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    struct pci_addr key;
    if (!pciBusId || !device || !parse_bus_id(pciBusId, &key))
        return NVML_ERROR_INVALID_ARGUMENT;
    return find(bus_is, &key, device);
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByPciBusId_v2(pciBusId, device);
}

/* The snapshot entry of a handle, or the error to return. */
static nvmlReturn_t lookup(nvmlDevice_t device, const struct rgpu_dev_info **di)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    *di = rgpu_nvml_dev(device);
    return *di ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

static nvmlReturn_t put_string(char *dst, unsigned int length, const char *s)
{
    if (!dst)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(s) + 1 > length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, s, strlen(s) + 1);
    return NVML_SUCCESS;
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    const struct rgpu_dev_info *di;
    nvmlReturn_t r = lookup(device, &di);
    return r != NVML_SUCCESS ? r : put_string(name, length, di->name);
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    const struct rgpu_dev_info *di;
    nvmlReturn_t r = lookup(device, &di);
    if (r != NVML_SUCCESS)
        return r;
    char s[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    format_uuid(di->uuid, s, sizeof s);
    return put_string(uuid, length, s);
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    const struct rgpu_dev_info *di;
    nvmlReturn_t r = lookup(device, &di);
    if (r != NVML_SUCCESS)
        return r;
    if (!index)
        return NVML_ERROR_INVALID_ARGUMENT;
    *index = device->index;
    return NVML_SUCCESS;
}

RGPU_NVML_API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
    const struct rgpu_dev_info *di;
    nvmlReturn_t r = lookup(device, &di);
    if (r != NVML_SUCCESS)
        return r;
    if (!major || !minor)
        return NVML_ERROR_INVALID_ARGUMENT;
    int a = CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, b = CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;
    if (di->attr_err[a] != CUDA_SUCCESS || di->attr_err[b] != CUDA_SUCCESS)
        return NVML_ERROR_UNKNOWN;
    *major = di->attr[a];
    *minor = di->attr[b];
    return NVML_SUCCESS;
}
