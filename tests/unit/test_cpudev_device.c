/*
 * test_cpudev_device.c — CPU device configuration, initialisation and device
 * queries: defaults versus configured values, every attribute answering,
 * errors for bad devices and attributes, the stable UUID, PCI id, peers.
 *
 * The device is configured as compute capability 8.9 with 7 multiprocessors
 * so that configured values are told apart from the 12.0 defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpudev.h"

#define MEM (64ull << 20)

static struct cpudev_config config(void)
{
    struct cpudev_config c = {0};
    snprintf(c.name, sizeof c.name, "test device");
    c.mem_bytes = MEM;
    c.cc_major = 8;
    c.cc_minor = 9;
    c.sm_count = 7;
    return c;
}

static int attr(CUdevice_attribute a)
{
    int v = -12345;
    assert_int_equal(cpudev_cuDeviceGetAttribute(&v, a, 0), CUDA_SUCCESS);
    return v;
}

static void init_rules(void **state)
{
    char err[256];
    struct cpudev_config c = config();
    assert_false(cpudev_init(&c, err, sizeof err)); /* already initialised */
    assert_non_null(strstr(err, "already"));
    int v;
    assert_int_equal(cpudev_cuDriverGetVersion(&v), CUDA_SUCCESS);
    assert_int_equal(v, 13000);
    assert_int_equal(cpudev_cuDriverGetVersion(NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuInit(1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuInit(0), CUDA_SUCCESS);
}

static void device_queries(void **state)
{
    int n = 0;
    CUdevice d = -1;
    assert_int_equal(cpudev_cuDeviceGetCount(&n), CUDA_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(cpudev_cuDeviceGet(&d, 0), CUDA_SUCCESS);
    assert_int_equal(d, 0);
    assert_int_equal(cpudev_cuDeviceGet(&d, 1), CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cpudev_cuDeviceGet(&d, -1), CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cpudev_cuDeviceGet(NULL, 0), CUDA_ERROR_INVALID_VALUE);

    char name[64];
    memset(name, 'x', sizeof name);
    assert_int_equal(cpudev_cuDeviceGetName(name, sizeof name, 0), CUDA_SUCCESS);
    assert_string_equal(name, "test device");
    for (size_t i = strlen(name); i < sizeof name; i++)
        assert_int_equal(name[i], 0); /* the whole buffer is written */
    assert_int_equal(cpudev_cuDeviceGetName(name, 5, 0), CUDA_SUCCESS);
    assert_string_equal(name, "test");
    assert_int_equal(cpudev_cuDeviceGetName(name, 0, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuDeviceGetName(name, sizeof name, 1), CUDA_ERROR_INVALID_DEVICE);

    size_t total = 0;
    assert_int_equal(cpudev_cuDeviceTotalMem_v2(&total, 0), CUDA_SUCCESS);
    assert_int_equal(total, MEM);
    assert_int_equal(cpudev_cuDeviceTotalMem_v2(&total, 3), CUDA_ERROR_INVALID_DEVICE);

    char bus[32];
    assert_int_equal(cpudev_cuDeviceGetPCIBusId(bus, sizeof bus, 0), CUDA_SUCCESS);
    char expect[32];
    snprintf(expect, sizeof expect, "%04x:%02x:%02x.0", attr(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID),
             attr(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID), attr(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID));
    assert_string_equal(bus, expect);
    assert_string_equal(bus, "0000:01:00.0");
    assert_int_equal(cpudev_cuDeviceGetPCIBusId(bus, 0, 0), CUDA_ERROR_INVALID_VALUE);

    int can = -1, val = -1;
    assert_int_equal(cpudev_cuDeviceCanAccessPeer(&can, 0, 0), CUDA_SUCCESS);
    assert_int_equal(can, 0);
    assert_int_equal(cpudev_cuDeviceCanAccessPeer(&can, 0, 1), CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cpudev_cuDeviceGetP2PAttribute(&val, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 0),
                     CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cpudev_cuDeviceGetP2PAttribute(NULL, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 0),
                     CUDA_ERROR_INVALID_VALUE);
}

static void every_attribute_answers(void **state)
{
    for (int a = 1; a < CU_DEVICE_ATTRIBUTE_MAX; a++) {
        int v = -12345;
        CUresult r = cpudev_cuDeviceGetAttribute(&v, (CUdevice_attribute)a, 0);
        if (r != CUDA_SUCCESS)
            fail_msg("attribute %d: error %d", a, r);
        if (v == -12345)
            fail_msg("attribute %d: not written", a);
        assert_int_equal(cpudev_cuDeviceGetAttribute(&v, (CUdevice_attribute)a, 1), CUDA_ERROR_INVALID_DEVICE);
    }
    int v;
    assert_int_equal(cpudev_cuDeviceGetAttribute(&v, (CUdevice_attribute)0, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuDeviceGetAttribute(&v, (CUdevice_attribute)-3, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuDeviceGetAttribute(&v, (CUdevice_attribute)100000, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuDeviceGetAttribute(NULL, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0), CUDA_ERROR_INVALID_VALUE);
}

static void attribute_values(void **state)
{
    /* from the configuration */
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR), 8);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR), 9);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT), 7);
    /* a real GPU's shape */
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_WARP_SIZE), 32);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK), 1024);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X), 1024);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z), 64);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X), 2147483647);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y), 65535);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK), 48 * 1024);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN), 101376);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR), 102400);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR), 1536);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR), 24); /* cuda_occupancy.h, cc 12 */
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK), 65536);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT), 2);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS), 1);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH), 1); /* grid-wide sync: ptx/launch.c */
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_MODE), CU_COMPUTEMODE_DEFAULT);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_INTEGRATED), 0);
    assert_true(attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE) > 0);
    assert_true(attr(CU_DEVICE_ATTRIBUTE_CLOCK_RATE) > 0);
    assert_true(attr(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH) > 0);
    /* the honest exceptions */
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY), 0);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING), 1);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY), 0);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS), 0);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS), 0);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED), 1); /* vmm.c */
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED), 1); /* mempool.c */
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED), 0);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED), 0);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED), 0);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED), 0);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED), 0);
    /* Hopper-and-later features follow the configured 8.9 */
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH), 0);
    assert_int_equal(attr(CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT), 1);
}

static void uuid_is_stable(void **state)
{
    CUuuid u, again;
    assert_int_equal(cpudev_cuDeviceGetUuid_v2(&u, 0), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuDeviceGetUuid_v2(&again, 0), CUDA_SUCCESS);
    assert_memory_equal(u.bytes, again.bytes, sizeof u.bytes);
    assert_int_equal(cpudev_cuDeviceGetUuid_v2(&u, 1), CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cpudev_cuDeviceGetUuid_v2(NULL, 0), CUDA_ERROR_INVALID_VALUE);
}

/* Computes a UUID in a fresh child process (before this process initialises
 * its own device) and sends it back. */
static CUuuid child_uuid(const char *name)
{
    int fd[2];
    CUuuid u;
    memset(&u, 0, sizeof u);
    if (pipe(fd))
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        struct cpudev_config c = config();
        snprintf(c.name, sizeof c.name, "%s", name);
        char err[256];
        if (!cpudev_init(&c, err, sizeof err) || cpudev_cuInit(0) || cpudev_cuDeviceGetUuid_v2(&u, 0))
            _exit(1);
        if (write(fd[1], &u, sizeof u) != (ssize_t)sizeof u)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    if (read(fd[0], &u, sizeof u) != (ssize_t)sizeof u)
        memset(&u, 0, sizeof u);
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    return u;
}

static CUuuid child_same, child_other;

static void uuid_across_processes(void **state)
{
    CUuuid u;
    assert_int_equal(cpudev_cuDeviceGetUuid_v2(&u, 0), CUDA_SUCCESS);
    assert_memory_equal(u.bytes, child_same.bytes, sizeof u.bytes);
    assert_memory_not_equal(u.bytes, child_other.bytes, sizeof u.bytes);
    /* an RFC 9562 version 8 UUID */
    assert_int_equal((unsigned char)u.bytes[6] >> 4, 8);
    assert_int_equal((unsigned char)u.bytes[8] >> 6, 2);
}

static void bad_configs(void)
{
    char err[256];
    struct cpudev_config c = config();
    c.cc_major = 0;
    c.cc_minor = 5;
    if (cpudev_init(&c, err, sizeof err) || !strstr(err, "compute capability"))
        abort();
    c = config();
    c.sm_count = -1;
    if (cpudev_init(&c, err, sizeof err))
        abort();
    c = config();
    c.va_base = 0x200000000123ull;
    if (cpudev_init(&c, err, sizeof err) || !strstr(err, "aligned"))
        abort();
    c = config();
    c.mem_bytes = 4096;
    if (cpudev_init(&c, err, sizeof err))
        abort();
    memset(c.name, 'a', sizeof c.name);
    if (cpudev_init(&c, err, sizeof err))
        abort();
    if (cpudev_init(NULL, err, sizeof err))
        abort();
}

int main(void)
{
    child_same = child_uuid("test device");
    child_other = child_uuid("another device");

    /* Before init: refused. Invalid configurations leave it uninitialised. */
    int n;
    if (cpudev_cuInit(0) != CUDA_ERROR_NOT_INITIALIZED || cpudev_cuDeviceGetCount(&n) != CUDA_ERROR_NOT_INITIALIZED)
        return 1;
    bad_configs();
    struct cpudev_config c = config();
    char err[256];
    if (!cpudev_init(&c, err, sizeof err)) {
        fprintf(stderr, "cpudev_init: %s\n", err);
        return 1;
    }
    /* Initialised, but cuInit(0) not called yet. */
    if (cpudev_cuDeviceGetCount(&n) != CUDA_ERROR_NOT_INITIALIZED)
        return 1;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_rules),
        cmocka_unit_test(device_queries),
        cmocka_unit_test(every_attribute_answers),
        cmocka_unit_test(attribute_values),
        cmocka_unit_test(uuid_is_stable),
        cmocka_unit_test(uuid_across_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
