/*
 * device.c — the CPU device itself: configuration, initialisation and the
 * device queries (count, name, memory, UUID, attributes, PCI id, peers).
 *
 * There is exactly one device, ordinal 0, per process. cpudev_init() resolves
 * the configuration's defaults once, reserves the device address range and
 * creates the primary context's structure; nothing is torn down afterwards.
 * The driver calls then answer CUDA_ERROR_NOT_INITIALIZED until cuInit(0).
 *
 * The UUID is a hash of the configuration and the host's identity
 * (/etc/machine-id, else the host name): the same device on the same host
 * keeps its UUID across runs, which tools that key on it (ollama's
 * CUDA_VISIBLE_DEVICES=GPU-<uuid>) rely on.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cpudev_state cpudev = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .host_numa_id = -1,
    .next_id = 1,
};

/* Serialises cpudev_init() callers; cpudev.ready publishes the result. */
static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;

CUresult cpudev_check_ready(void)
{
    if (atomic_load(&cpudev.exited))
        return CUDA_ERROR_DEINITIALIZED;
    if (!atomic_load(&cpudev.ready) || !atomic_load(&cpudev.driver_inited))
        return CUDA_ERROR_NOT_INITIALIZED;
    return CUDA_SUCCESS;
}

void cpudev_exit(void)
{
    if (!atomic_load(&cpudev.ready) || atomic_exchange(&cpudev.exited, true))
        return;
    mem_exit();
}

void cpudev_lock(void) { pthread_mutex_lock(&cpudev.mu); }
void cpudev_unlock(void) { pthread_mutex_unlock(&cpudev.mu); }
uint64_t cpudev_new_id_locked(void) { return cpudev.next_id++; }

uint64_t cpudev_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- initialisation ---- */

static bool resolve_config(const struct cpudev_config *in, struct cpudev_config *out, char *err, size_t errlen)
{
    *out = *in;
    if (!memchr(in->name, 0, sizeof in->name)) {
        snprintf(err, errlen, "device name is not terminated");
        return false;
    }
    if (!out->name[0])
        snprintf(out->name, sizeof out->name, "rgpu CPU device");
    long page = sysconf(_SC_PAGESIZE);
    if (!out->mem_bytes) {
        long pages = sysconf(_SC_PHYS_PAGES);
        if (pages <= 0 || page <= 0) {
            snprintf(err, errlen, "cannot read the host's memory size");
            return false;
        }
        out->mem_bytes = (uint64_t)pages * (uint64_t)page / 2;
    }
    out->mem_bytes &= ~(uint64_t)(page - 1);
    if (out->mem_bytes < (1u << 20)) {
        snprintf(err, errlen, "device memory must be at least 1 MiB");
        return false;
    }
    if (!out->cc_major && !out->cc_minor) {
        /* 13.0, not the 12.0 its attributes are modelled on: NVIDIA's
         * libraries choose their own kernels by capability, and for any 12.x
         * cuBLAS hands the driver sm_120 SASS (12.x runs 12.0 machine code);
         * only for a major it has no machine code for does it fall back to
         * the compute_120 PTX it ships, which the CPU device runs. Fatbins
         * handed over whole (cudart) run their compute_120 PTX either way. */
        out->cc_major = 13;
        out->cc_minor = 0;
    }
    if (out->cc_major < 1 || out->cc_major > 99 || out->cc_minor < 0 || out->cc_minor > 9) {
        snprintf(err, errlen, "invalid compute capability %d.%d", out->cc_major, out->cc_minor);
        return false;
    }
    if (out->sm_count < 0) {
        snprintf(err, errlen, "invalid multiprocessor count %d", out->sm_count);
        return false;
    }
    if (!out->sm_count) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        out->sm_count = n > 0 ? (int)n : 1;
    }
    if (!out->va_base) {
#if defined(__SANITIZE_THREAD__)
        /* ThreadSanitizer owns the default range for its shadow memory. */
        out->va_base = 0x005000000000ull;
#else
        out->va_base = CPUDEV_VA_DEFAULT;
#endif
    }
    if (out->va_base & (uint64_t)(page - 1)) {
        snprintf(err, errlen, "device address range 0x%llx is not page aligned",
                 (unsigned long long)out->va_base);
        return false;
    }
    return true;
}

/* FNV-1a, 64 bits. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void make_uuid(const struct cpudev_config *cfg, CUuuid *uuid)
{
    char host[256] = {0};
    FILE *f = fopen("/etc/machine-id", "r");
    if (!f || !fgets(host, sizeof host, f))
        gethostname(host, sizeof host - 1);
    if (f)
        fclose(f);
    uint64_t h[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    for (int i = 0; i < 2; i++) {
        h[i] = fnv(h[i], "rgpu cpudev", 11);
        h[i] = fnv(h[i], host, strlen(host));
        h[i] = fnv(h[i], cfg->name, strlen(cfg->name));
        h[i] = fnv(h[i], &cfg->mem_bytes, sizeof cfg->mem_bytes);
        h[i] = fnv(h[i], &cfg->cc_major, sizeof cfg->cc_major);
        h[i] = fnv(h[i], &cfg->cc_minor, sizeof cfg->cc_minor);
        h[i] = fnv(h[i], &cfg->sm_count, sizeof cfg->sm_count);
    }
    memcpy(uuid->bytes, h, sizeof uuid->bytes);
    /* An RFC 9562 "custom" (version 8) UUID, so it reads as a UUID. */
    uuid->bytes[6] = (char)((uuid->bytes[6] & 0x0f) | 0x80);
    uuid->bytes[8] = (char)((uuid->bytes[8] & 0x3f) | 0x80);
}

bool cpudev_init(const struct cpudev_config *cfg, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!cfg) {
        snprintf(err, errlen, "no configuration");
        return false;
    }
    pthread_mutex_lock(&init_mu);
    bool ok = false;
    struct cpudev_config c;
    if (atomic_load(&cpudev.ready))
        snprintf(err, errlen, "the CPU device is already initialised");
    else if (resolve_config(cfg, &c, err, errlen) && mem_init(c.va_base, c.mem_bytes, err, errlen))
        ok = true;
    if (ok) {
        cpudev.cfg = c;
        make_uuid(&c, &cpudev.uuid);
        cpudev.host_numa_id = access("/sys/devices/system/node/node0", F_OK) == 0 ? 0 : -1;
        cpudev_lock();
        ok = ctx_init_primary();
        cpudev_unlock();
        if (!ok)
            snprintf(err, errlen, "out of memory");
        /* The reserved range stays: a second init is refused anyway. */
    }
    if (ok)
        atomic_store(&cpudev.ready, true);
    pthread_mutex_unlock(&init_mu);
    return ok;
}

/* ---- driver calls ---- */

CUresult cpudev_cuInit(unsigned int Flags)
{
    if (atomic_load(&cpudev.exited))
        return CUDA_ERROR_DEINITIALIZED;
    if (!atomic_load(&cpudev.ready))
        return CUDA_ERROR_NOT_INITIALIZED;
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    atomic_store(&cpudev.driver_inited, true);
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDriverGetVersion(int *driverVersion)
{
    if (!driverVersion)
        return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = CPUDEV_DRIVER_VERSION;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDeviceGetCount(int *count)
{
    CPUDEV_ENTER();
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    *count = 1;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDeviceGet(CUdevice *device, int ordinal)
{
    CPUDEV_ENTER();
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

/* Execution affinity (an SM count per context) is MPS's: not offered. */
CUresult cpudev_cuDeviceGetExecAffinitySupport(int *pi, CUexecAffinityType type, CUdevice dev)
{
    CPUDEV_ENTER();
    if (!pi || type != CU_EXEC_AFFINITY_TYPE_SM_COUNT)
        return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *pi = 0;
    return CUDA_SUCCESS;
}

/* Copy s into the caller's len bytes, truncated and NUL-terminated; the whole
 * buffer is written because it travels back to the client as is. */
static void put_string(char *buf, int len, const char *s)
{
    memset(buf, 0, (size_t)len);
    size_t n = strlen(s);
    if (n > (size_t)len - 1)
        n = (size_t)len - 1;
    memcpy(buf, s, n);
}

CUresult cpudev_cuDeviceGetName(char *name, int len, CUdevice dev)
{
    CPUDEV_ENTER();
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    put_string(name, len, cpudev.cfg.name);
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    CPUDEV_ENTER();
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *bytes = (size_t)cpudev.cfg.mem_bytes;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    CPUDEV_ENTER();
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *uuid = cpudev.uuid;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    CPUDEV_ENTER();
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    int v;
    if (!cpudev_attribute(attrib, &v))
        return CUDA_ERROR_INVALID_VALUE;
    *pi = v;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
    CPUDEV_ENTER();
    if (!pciBusId || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    int domain, bus, device;
    cpudev_attribute(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, &domain);
    cpudev_attribute(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, &bus);
    cpudev_attribute(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, &device);
    char id[32];
    snprintf(id, sizeof id, "%04x:%02x:%02x.0", (unsigned)domain, (unsigned)bus, (unsigned)device);
    put_string(pciBusId, len, id);
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDeviceGetP2PAttribute(int *value, CUdevice_P2PAttribute attrib, CUdevice srcDevice,
                                        CUdevice dstDevice)
{
    CPUDEV_ENTER();
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    if (srcDevice != 0 || dstDevice != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    /* The only pair is a device with itself, which the driver refuses. */
    return CUDA_ERROR_INVALID_DEVICE;
}

CUresult cpudev_cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice d, CUdevice peerDev)
{
    CPUDEV_ENTER();
    if (!canAccessPeer)
        return CUDA_ERROR_INVALID_VALUE;
    if (d != 0 || peerDev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *canAccessPeer = 0; /* a device is not its own peer */
    return CUDA_SUCCESS;
}
