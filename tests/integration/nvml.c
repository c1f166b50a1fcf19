/*
 * nvml.c — rgpu's libnvidia-ml.so.1 through rgpud, checked against what
 * libcuda.so.1 reports for the same devices.
 *
 * A child process (libcuda only) creates a context and allocates 256 MiB
 * when told to; the parent uses NVML only until the identity checks, so
 * the running-process list shows whether an NVML connection holds a context
 * (it must not), and memory info must move by the child's allocation.
 */
/* every entry point by its own ABI name (nvmlDeviceGetComputeRunningProcesses
 * is the v1 one here, not a macro for _v3) */
#define NVML_NO_UNVERSIONED_FUNC_DEFS 1
#include <nvml.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rgpu_client.h"

#define MiB (1ull << 20)

/* nvmlDeviceGetTemperature is deprecated in NVML 13 but what callers use */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static const char *nv_name(nvmlReturn_t r) { return nvmlErrorString(r); }

#define NV_EXPECT(call, want)                                                                      \
    do {                                                                                           \
        nvmlReturn_t nv_r_ = (call), nv_w_ = (want);                                               \
        if (nv_r_ != nv_w_)                                                                        \
            it_fail(__FILE__, __LINE__, "%s: got %s (%d), expected %s (%d)", #call, nv_name(nv_r_), \
                    (int)nv_r_, nv_name(nv_w_), (int)nv_w_);                                       \
    } while (0)
#define NV_CHECK(call)                                                                             \
    do {                                                                                           \
        nvmlReturn_t nv_r_ = (call);                                                               \
        if (nv_r_ != NVML_SUCCESS) {                                                               \
            it_fail(__FILE__, __LINE__, "%s: got %s (%d)", #call, nv_name(nv_r_), (int)nv_r_);     \
            IT_ABORT();                                                                            \
        }                                                                                          \
    } while (0)

/* The child: wait for 'g', allocate, report the worker pid, wait for 'x'. */
static int child(int in, int out)
{
    char c;
    if (read(in, &c, 1) != 1 || c != 'g')
        return 2;
    CUcontext ctx;
    CUdeviceptr p;
    struct rgpu_client_info info;
    CHECK(cuInit(0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, 0));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuMemAlloc(&p, 256 * MiB));
    if (rgpu_client_info(&info))
        return 3;
    if (write(out, &info.worker_pid, sizeof info.worker_pid) != sizeof info.worker_pid)
        return 4;
    if (read(in, &c, 1) != 1 || c != 'x')
        return 5;
    CHECK(cuMemFree(p));
    return 0;
}

static void uninitialised(void)
{
    unsigned n;
    nvmlDevice_t d;
    nvmlMemory_t m;
    NV_EXPECT(nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNINITIALIZED);
    NV_EXPECT(nvmlDeviceGetHandleByIndex_v2(0, &d), NVML_ERROR_UNINITIALIZED);
    NV_EXPECT(nvmlDeviceGetMemoryInfo(NULL, &m), NVML_ERROR_UNINITIALIZED);
    NV_EXPECT(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
}

static void error_strings(void)
{
    EXPECT_TRUE(strcmp(nvmlErrorString(NVML_SUCCESS), "Success") == 0);
    EXPECT_TRUE(strcmp(nvmlErrorString(NVML_ERROR_UNINITIALIZED), "Uninitialized") == 0);
    EXPECT_TRUE(strcmp(nvmlErrorString(NVML_ERROR_NOT_SUPPORTED), "Not Supported") == 0);
    EXPECT_TRUE(strcmp(nvmlErrorString(NVML_ERROR_INVALID_ARGUMENT), "Invalid Argument") == 0);
    EXPECT_TRUE(strcmp(nvmlErrorString((nvmlReturn_t)12345), "Unknown Error") == 0);
}

/* Handles by index, UUID and bus id agree; returns device 0's handle. */
static nvmlDevice_t identity(unsigned n)
{
    nvmlDevice_t d0 = NULL;
    for (unsigned i = 0; i < n; i++) {
        nvmlDevice_t d, by_uuid, by_bus, by_legacy;
        char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE], uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
        nvmlPciInfo_t pci;
        unsigned idx = 99;
        NV_CHECK(nvmlDeviceGetHandleByIndex_v2(i, &d));
        if (i == 0)
            d0 = d;
        NV_CHECK(nvmlDeviceGetIndex(d, &idx));
        EXPECT_EQ(idx, i);
        NV_CHECK(nvmlDeviceGetName(d, name, sizeof name));
        NV_CHECK(nvmlDeviceGetUUID(d, uuid, sizeof uuid));
        EXPECT_TRUE(strncmp(uuid, "GPU-", 4) == 0 && strlen(uuid) == 40);
        NV_CHECK(nvmlDeviceGetPciInfo_v3(d, &pci));
        NV_CHECK(nvmlDeviceGetHandleByUUID(uuid, &by_uuid));
        NV_CHECK(nvmlDeviceGetHandleByPciBusId_v2(pci.busId, &by_bus));
        NV_CHECK(nvmlDeviceGetHandleByPciBusId_v2(pci.busIdLegacy, &by_legacy));
        EXPECT_TRUE(by_uuid == d && by_bus == d && by_legacy == d);
        NV_EXPECT(nvmlDeviceGetName(d, name, 1), NVML_ERROR_INSUFFICIENT_SIZE);
    }
    nvmlDevice_t d;
    NV_EXPECT(nvmlDeviceGetHandleByIndex_v2(n, &d), NVML_ERROR_INVALID_ARGUMENT);
    NV_EXPECT(nvmlDeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", &d), NVML_ERROR_NOT_FOUND);
    NV_EXPECT(nvmlDeviceGetHandleByPciBusId_v2("not a bus id", &d), NVML_ERROR_INVALID_ARGUMENT);
    char name[64];
    NV_EXPECT(nvmlDeviceGetName((nvmlDevice_t)&name, name, sizeof name), NVML_ERROR_INVALID_ARGUMENT);
    return d0;
}

/* Compute processes of device d: count, and the first pid/used. */
static unsigned procs(nvmlDevice_t d, unsigned *pid, unsigned long long *used)
{
    unsigned n = 0;
    nvmlReturn_t r = nvmlDeviceGetComputeRunningProcesses_v3(d, &n, NULL);
    if (r == NVML_SUCCESS)
        return 0;
    EXPECT_EQ(r, NVML_ERROR_INSUFFICIENT_SIZE);
    nvmlProcessInfo_t info[8];
    unsigned cap = 8;
    NV_CHECK(nvmlDeviceGetComputeRunningProcesses_v3(d, &cap, info));
    EXPECT_EQ(cap, n);
    nvmlProcessInfo_v1_t v1[8];
    unsigned cap1 = 8;
    NV_CHECK(nvmlDeviceGetComputeRunningProcesses(d, &cap1, v1));
    EXPECT_EQ(cap1, n);
    if (cap1 && cap) {
        EXPECT_EQ(v1[0].pid, info[0].pid);
        EXPECT_EQ(v1[0].usedGpuMemory, info[0].usedGpuMemory);
    }
    *pid = info[0].pid;
    *used = info[0].usedGpuMemory;
    return n;
}

/* NVML and libcuda describe the same devices. */
static void against_cuda(unsigned n)
{
    int cn = 0;
    CHECK(cuInit(0));
    CHECK(cuDeviceGetCount(&cn));
    EXPECT_EQ(cn, n);
    for (unsigned i = 0; i < n && (int)i < cn; i++) {
        nvmlDevice_t d, by_bus;
        char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE], cname[256], uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE], cuuid[64],
            cbus[32];
        CUuuid u;
        int major, minor, cmajor, cminor;
        nvmlPciInfo_t pci;
        NV_CHECK(nvmlDeviceGetHandleByIndex_v2(i, &d));
        NV_CHECK(nvmlDeviceGetName(d, name, sizeof name));
        CHECK(cuDeviceGetName(cname, sizeof cname, (CUdevice)i));
        EXPECT_TRUE(strcmp(name, cname) == 0);
        NV_CHECK(nvmlDeviceGetUUID(d, uuid, sizeof uuid));
        CHECK(cuDeviceGetUuid_v2(&u, (CUdevice)i));
        const unsigned char *b = (const unsigned char *)u.bytes;
        snprintf(cuuid, sizeof cuuid, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        EXPECT_TRUE(strcmp(uuid, cuuid) == 0);
        CHECK(cuDeviceGetPCIBusId(cbus, sizeof cbus, (CUdevice)i));
        NV_CHECK(nvmlDeviceGetHandleByPciBusId_v2(cbus, &by_bus));
        EXPECT_TRUE(by_bus == d);
        NV_CHECK(nvmlDeviceGetPciInfo_v3(d, &pci));
        unsigned dom, bus, dev;
        ASSERT_TRUE(sscanf(cbus, "%x:%x:%x", &dom, &bus, &dev) == 3);
        EXPECT_EQ(pci.domain, dom);
        EXPECT_EQ(pci.bus, bus);
        EXPECT_EQ(pci.device, dev);
        NV_CHECK(nvmlDeviceGetCudaComputeCapability(d, &major, &minor));
        CHECK(cuDeviceGetAttribute(&cmajor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, (CUdevice)i));
        CHECK(cuDeviceGetAttribute(&cminor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, (CUdevice)i));
        EXPECT_EQ(major, cmajor);
        EXPECT_EQ(minor, cminor);
        nvmlMemory_t m;
        size_t total;
        NV_CHECK(nvmlDeviceGetMemoryInfo(d, &m));
        CHECK(cuDeviceTotalMem(&total, (CUdevice)i));
        /* NVIDIA's NVML counts the whole framebuffer, CUDA what it can hand
         * out (an H200: 140.4 GiB against 139.8); the CPU device has one figure */
        if (it_backend_is_cpu())
            EXPECT_EQ(m.total, total);
        else
            EXPECT_TRUE(m.total >= total && m.total - total < total / 16);
    }
    int cuda_version = 0, v = 0;
    CHECK(cuDriverGetVersion(&cuda_version));
    NV_CHECK(nvmlSystemGetCudaDriverVersion(&v));
    EXPECT_EQ(v, cuda_version);
}

/* What each backend may answer: real values with NVIDIA's NVML, "not
 * supported" for what the CPU device cannot measure. */
static void sensors(nvmlDevice_t d)
{
    bool cpu = getenv("RGPU_TEST_BACKEND") && strcmp(getenv("RGPU_TEST_BACKEND"), "cpu") == 0;
    nvmlReturn_t want = cpu ? NVML_ERROR_NOT_SUPPORTED : NVML_SUCCESS;
    nvmlUtilization_t u;
    unsigned t, p, clk;
    char s[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    NV_EXPECT(nvmlDeviceGetUtilizationRates(d, &u), want);
    NV_EXPECT(nvmlDeviceGetTemperature(d, NVML_TEMPERATURE_GPU, &t), want);
    NV_EXPECT(nvmlDeviceGetPowerUsage(d, &p), want);
    NV_EXPECT(nvmlDeviceGetClockInfo(d, NVML_CLOCK_SM, &clk), want);
    NV_EXPECT(nvmlDeviceGetMaxClockInfo(d, NVML_CLOCK_SM, &clk), want);
    NV_EXPECT(nvmlSystemGetDriverVersion(s, sizeof s), want);
    NV_CHECK(nvmlSystemGetNVMLVersion(s, sizeof s));
    EXPECT_TRUE(strlen(s) > 0);
    NV_EXPECT(nvmlDeviceGetUtilizationRates(d, NULL), NVML_ERROR_INVALID_ARGUMENT);
    nvmlMemory_v2_t m2 = {.version = 1};
    NV_EXPECT(nvmlDeviceGetMemoryInfo_v2(d, &m2), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
}

int main(void)
{
    int to_child[2], from_child[2];
    ASSERT_TRUE(pipe(to_child) == 0 && pipe(from_child) == 0);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0)
        _exit(child(to_child[0], from_child[1]));

    uninitialised();
    error_strings();
    NV_CHECK(nvmlInit_v2());
    NV_CHECK(nvmlInit()); /* counted: one shutdown later still leaves it initialised */
    unsigned n = 0;
    NV_CHECK(nvmlDeviceGetCount_v2(&n));
    ASSERT_TRUE(n >= 1);
    nvmlDevice_t d = identity(n);

    /* NVML alone holds no context: no compute process yet */
    unsigned ppid = 0;
    unsigned long long used = 0;
    EXPECT_EQ(procs(d, &ppid, &used), 0);
    nvmlMemory_t m0, m1;
    NV_CHECK(nvmlDeviceGetMemoryInfo(d, &m0));
    EXPECT_EQ(m0.used + m0.free, m0.total);

    ASSERT_TRUE(write(to_child[1], "g", 1) == 1);
    uint32_t worker = 0;
    ASSERT_TRUE(read(from_child[0], &worker, sizeof worker) == sizeof worker);
    NV_CHECK(nvmlDeviceGetMemoryInfo(d, &m1));
    EXPECT_GE(m1.used, m0.used + 256 * MiB);
    EXPECT_TRUE(m1.free + 256 * MiB <= m0.free);
    EXPECT_EQ(m1.total, m0.total);
    nvmlMemory_v2_t m2 = {.version = nvmlMemory_v2};
    NV_CHECK(nvmlDeviceGetMemoryInfo_v2(d, &m2));
    EXPECT_GE(m2.used, 256 * MiB);
    EXPECT_EQ(m2.total, m1.total);

    /* exactly the child's worker, with its allocation */
    EXPECT_EQ(procs(d, &ppid, &used), 1);
    EXPECT_EQ(ppid, worker);
    EXPECT_GE(used, 256 * MiB);

    /* this process's libcuda connection has no context either */
    against_cuda(n);
    EXPECT_EQ(procs(d, &ppid, &used), 1);
    EXPECT_EQ(ppid, worker);
    sensors(d);

    ASSERT_TRUE(write(to_child[1], "x", 1) == 1);
    int st = 0;
    ASSERT_TRUE(waitpid(pid, &st, 0) == pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    NV_CHECK(nvmlShutdown());
    NV_CHECK(nvmlDeviceGetCount_v2(&n));
    NV_CHECK(nvmlShutdown());
    uninitialised();
    TEST_DONE();
}
