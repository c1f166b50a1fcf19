/*
 * devices.c — initialisation and device queries through rgpu.
 *
 * Covers: calls before cuInit (NOT_INITIALIZED), cuInit, cuDriverGetVersion,
 * cuDeviceGetCount/Get/GetName/GetUuid (+_v2 and the legacy symbol)/TotalMem,
 * a sweep of every device attribute, PCI bus id round trip, LUID, peer
 * queries with one device, invalid ordinals, cuGetErrorName/String.
 * Also used by the robustness tests as "a normal client still works".
 */
#include "check.h"

#include <ctype.h>
#include <dlfcn.h>

typedef CUresult (*uuid_fn)(CUuuid *, CUdevice);

static void before_init(void)
{
    int n = -1;
    CUdevice d;
    CUdeviceptr p;
    CUcontext c;
    size_t fr, tot;
    EXPECT_RESULT(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
    EXPECT_RESULT(cuDeviceGet(&d, 0), CUDA_ERROR_NOT_INITIALIZED);
    EXPECT_RESULT(cuMemAlloc(&p, 16), CUDA_ERROR_NOT_INITIALIZED);
    EXPECT_RESULT(cuCtxGetCurrent(&c), CUDA_ERROR_NOT_INITIALIZED);
    EXPECT_RESULT(cuDevicePrimaryCtxRetain(&c, 0), CUDA_ERROR_NOT_INITIALIZED);
    EXPECT_RESULT(cuMemGetInfo(&fr, &tot), CUDA_ERROR_NOT_INITIALIZED);
}

static void error_strings(void)
{
    const char *s = NULL;
    CHECK(cuGetErrorName(CUDA_SUCCESS, &s));
    EXPECT_STREQ(s, "CUDA_SUCCESS");
    CHECK(cuGetErrorName(CUDA_ERROR_INVALID_VALUE, &s));
    EXPECT_STREQ(s, "CUDA_ERROR_INVALID_VALUE");
    CHECK(cuGetErrorName(CUDA_ERROR_OUT_OF_MEMORY, &s));
    EXPECT_STREQ(s, "CUDA_ERROR_OUT_OF_MEMORY");
    CHECK(cuGetErrorName(CUDA_ERROR_NOT_INITIALIZED, &s));
    EXPECT_STREQ(s, "CUDA_ERROR_NOT_INITIALIZED");
    CHECK(cuGetErrorName(CUDA_ERROR_INVALID_DEVICE, &s));
    EXPECT_STREQ(s, "CUDA_ERROR_INVALID_DEVICE");
    CHECK(cuGetErrorName(CUDA_ERROR_NOT_READY, &s));
    EXPECT_STREQ(s, "CUDA_ERROR_NOT_READY");
    CHECK(cuGetErrorName(CUDA_ERROR_DEVICE_UNAVAILABLE, &s));
    EXPECT_STREQ(s, "CUDA_ERROR_DEVICE_UNAVAILABLE");
    s = NULL;
    CHECK(cuGetErrorString(CUDA_ERROR_INVALID_VALUE, &s));
    EXPECT_TRUE(s && strlen(s) > 0);
    s = NULL;
    CHECK(cuGetErrorString(CUDA_SUCCESS, &s));
    EXPECT_TRUE(s && strlen(s) > 0);
    /* an unknown code: INVALID_VALUE and a NULL string */
    s = "sentinel";
    EXPECT_RESULT(cuGetErrorName((CUresult)123456, &s), CUDA_ERROR_INVALID_VALUE);
    EXPECT_TRUE(s == NULL);
    s = "sentinel";
    EXPECT_RESULT(cuGetErrorString((CUresult)123456, &s), CUDA_ERROR_INVALID_VALUE);
    EXPECT_TRUE(s == NULL);
}

static void attribute_sweep(CUdevice dev)
{
    int v, ok = 0, err = 0;
    /* every attribute either answers or returns an error; none crashes */
    for (int a = 1; a < CU_DEVICE_ATTRIBUTE_MAX; a++) {
        v = 0x5a5a5a5a;
        CUresult r = cuDeviceGetAttribute(&v, (CUdevice_attribute)a, dev);
        if (r == CUDA_SUCCESS)
            ok++;
        else
            err++;
    }
    printf("devices: %d attributes answered, %d returned an error\n", ok, err);
    EXPECT_GT(ok, 60);

    /* out-of-range attributes and a NULL result pointer */
    EXPECT_RESULT(cuDeviceGetAttribute(&v, (CUdevice_attribute)0, dev), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, dev), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuDeviceGetAttribute(&v, (CUdevice_attribute)100000, dev), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuDeviceGetAttribute(&v, (CUdevice_attribute)-1, dev), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuDeviceGetAttribute(NULL, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 1), CUDA_ERROR_INVALID_DEVICE);
    EXPECT_RESULT(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, -1), CUDA_ERROR_INVALID_DEVICE);

    /* execution affinity (MPS's SM partitions): yes or no; the CPU device offers none */
    int aff = -1;
    CHECK(cuDeviceGetExecAffinitySupport(&aff, CU_EXEC_AFFINITY_TYPE_SM_COUNT, dev));
    EXPECT_TRUE(aff == 0 || aff == 1);
    const char *backend = getenv("RGPU_TEST_BACKEND");
    if (backend && strcmp(backend, "cpu") == 0)
        EXPECT_EQ(aff, 0);
    EXPECT_ERROR(cuDeviceGetExecAffinitySupport(&aff, (CUexecAffinityType)77, dev));
    EXPECT_ERROR(cuDeviceGetExecAffinitySupport(NULL, CU_EXEC_AFFINITY_TYPE_SM_COUNT, dev));

    /* facts every CUDA device has */
    CHECK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev));
    EXPECT_EQ(v, 32);
    int major, minor;
    CHECK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
    CHECK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
    EXPECT_GE(major, 1);
    EXPECT_LE(major, 99);
    EXPECT_GE(minor, 0);
    EXPECT_LE(minor, 9);
    printf("devices: compute capability %d.%d\n", major, minor);
    int tpb, bx, by, bz, gx, sm, smem, regs, clk, mclk, bus, l2, tpsm, pci_bus, pci_dev, pci_dom;
    CHECK(cuDeviceGetAttribute(&tpb, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, dev));
    EXPECT_GT(tpb, 0);
    CHECK(cuDeviceGetAttribute(&bx, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, dev));
    CHECK(cuDeviceGetAttribute(&by, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, dev));
    CHECK(cuDeviceGetAttribute(&bz, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, dev));
    EXPECT_GT(bx, 0);
    EXPECT_GT(by, 0);
    EXPECT_GT(bz, 0);
    EXPECT_LE(bx, tpb);
    CHECK(cuDeviceGetAttribute(&gx, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, dev));
    EXPECT_GT(gx, 0);
    CHECK(cuDeviceGetAttribute(&sm, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
    EXPECT_GT(sm, 0);
    CHECK(cuDeviceGetAttribute(&smem, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, dev));
    EXPECT_GT(smem, 0);
    CHECK(cuDeviceGetAttribute(&regs, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, dev));
    EXPECT_GT(regs, 0);
    CHECK(cuDeviceGetAttribute(&tpsm, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, dev));
    EXPECT_GE(tpsm, tpb);
    CHECK(cuDeviceGetAttribute(&clk, CU_DEVICE_ATTRIBUTE_CLOCK_RATE, dev));
    CHECK(cuDeviceGetAttribute(&mclk, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, dev));
    CHECK(cuDeviceGetAttribute(&bus, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, dev));
    CHECK(cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, dev));
    EXPECT_GE(clk, 0);
    EXPECT_GE(mclk, 0);
    EXPECT_GE(bus, 0);
    EXPECT_GE(l2, 0);
    CHECK(cuDeviceGetAttribute(&pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, dev));
    CHECK(cuDeviceGetAttribute(&pci_dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, dev));
    CHECK(cuDeviceGetAttribute(&pci_dom, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, dev));
    CHECK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, dev));
    EXPECT_EQ(v, 1);

    /* the PCI bus id string agrees with the PCI attributes */
    char bus_id[64];
    CHECK(cuDeviceGetPCIBusId(bus_id, sizeof bus_id, dev));
    unsigned dom_s, bus_s, dev_s, fn_s;
    EXPECT_EQ(sscanf(bus_id, "%x:%x:%x.%x", &dom_s, &bus_s, &dev_s, &fn_s), 4);
    EXPECT_EQ(dom_s, pci_dom);
    EXPECT_EQ(bus_s, pci_bus);
    EXPECT_EQ(dev_s, pci_dev);

    if (it_backend_is_cpu()) {
        /* the CPU device's documented facts */
        EXPECT_EQ(major, 13);
        EXPECT_EQ(minor, 0);
        CHECK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, dev));
        EXPECT_EQ(v, 1); /* the client mirrors mapped host memory */
    }
}

static void uuid_and_name(CUdevice dev)
{
    char name[256];
    memset(name, 0, sizeof name);
    CHECK(cuDeviceGetName(name, sizeof name, dev));
    size_t nl = strnlen(name, sizeof name);
    EXPECT_TRUE(nl > 0 && nl < sizeof name);
    for (size_t i = 0; i < nl; i++)
        EXPECT_TRUE(isprint((unsigned char)name[i]));
    printf("devices: device 0 is \"%s\"\n", name);

    /* a short buffer: nothing is written past len */
    char small[32];
    memset(small, 0x7f, sizeof small);
    CHECK(cuDeviceGetName(small, 5, dev));
    for (size_t i = 5; i < sizeof small; i++)
        EXPECT_EQ((unsigned char)small[i], 0x7f);
    EXPECT_TRUE(memcmp(small, name, 4) == 0);
    EXPECT_RESULT(cuDeviceGetName(NULL, 16, dev), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuDeviceGetName(name, sizeof name, 1), CUDA_ERROR_INVALID_DEVICE);

    CUuuid u1, u2, u3;
    memset(&u1, 0, sizeof u1);
    CHECK(cuDeviceGetUuid(&u1, dev)); /* cuDeviceGetUuid_v2 through cuda.h */
    int nonzero = 0;
    for (int i = 0; i < 16; i++)
        nonzero |= u1.bytes[i];
    EXPECT_TRUE(nonzero);
    CHECK(cuDeviceGetUuid_v2(&u2, dev));
    EXPECT_MEMEQ(u2.bytes, u1.bytes, 16, "cuDeviceGetUuid_v2 vs cuDeviceGetUuid");
    /* the legacy entry point exists as a symbol and agrees (no MIG here) */
    uuid_fn legacy = (uuid_fn)dlsym(RTLD_DEFAULT, "cuDeviceGetUuid");
    EXPECT_TRUE(legacy != NULL);
    if (legacy) {
        CHECK(legacy(&u3, dev));
        EXPECT_MEMEQ(u3.bytes, u1.bytes, 16, "legacy cuDeviceGetUuid vs _v2");
    }
    EXPECT_RESULT(cuDeviceGetUuid(&u1, 1), CUDA_ERROR_INVALID_DEVICE);
    EXPECT_RESULT(cuDeviceGetUuid(NULL, dev), CUDA_ERROR_INVALID_VALUE);

    size_t total = 0;
    CHECK(cuDeviceTotalMem(&total, dev));
    EXPECT_GT(total, (size_t)256 << 20);
    printf("devices: total memory %zu MiB\n", total >> 20);
    EXPECT_RESULT(cuDeviceTotalMem(&total, 1), CUDA_ERROR_INVALID_DEVICE);
    EXPECT_RESULT(cuDeviceTotalMem(NULL, dev), CUDA_ERROR_INVALID_VALUE);

    /* cuMemGetInfo's total agrees with cuDeviceTotalMem */
    CUcontext ctx;
    size_t fr = 0, tot = 0;
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuMemGetInfo(&fr, &tot));
    EXPECT_EQ(tot, total);
    EXPECT_LE(fr, tot);
    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
}

static void pci_and_peer(CUdevice dev)
{
    char bus_id[64], bus_id2[64];
    memset(bus_id, 0, sizeof bus_id);
    CHECK(cuDeviceGetPCIBusId(bus_id, sizeof bus_id, dev));
    printf("devices: PCI bus id %s\n", bus_id);
    EXPECT_TRUE(strlen(bus_id) >= 7);
    CUdevice back = -1;
    CHECK(cuDeviceGetByPCIBusId(&back, bus_id));
    EXPECT_EQ(back, dev);
    /* upper-case hex is accepted too */
    strcpy(bus_id2, bus_id);
    for (char *c = bus_id2; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    back = -1;
    CHECK(cuDeviceGetByPCIBusId(&back, bus_id2));
    EXPECT_EQ(back, dev);
    EXPECT_ERROR(cuDeviceGetByPCIBusId(&back, "ffff:ff:1f.7"));
    EXPECT_ERROR(cuDeviceGetByPCIBusId(&back, "not a bus id"));
    EXPECT_RESULT(cuDeviceGetPCIBusId(bus_id, sizeof bus_id, 1), CUDA_ERROR_INVALID_DEVICE);

    char luid[8];
    unsigned int mask = 0;
    EXPECT_RESULT2(cuDeviceGetLuid(luid, &mask, dev), CUDA_SUCCESS, CUDA_ERROR_NOT_SUPPORTED);

    int can = -1;
    CHECK(cuDeviceCanAccessPeer(&can, dev, dev));
    EXPECT_EQ(can, 0);
    EXPECT_RESULT(cuDeviceCanAccessPeer(&can, dev, 1), CUDA_ERROR_INVALID_DEVICE);
    EXPECT_RESULT(cuDeviceCanAccessPeer(&can, 1, dev), CUDA_ERROR_INVALID_DEVICE);
    int val = -1;
    /* documented: the same device on both ends is INVALID_DEVICE */
    EXPECT_RESULT(cuDeviceGetP2PAttribute(&val, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, dev, dev),
                  CUDA_ERROR_INVALID_DEVICE);
    EXPECT_RESULT(cuDeviceGetP2PAttribute(&val, CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK, dev, 1),
                  CUDA_ERROR_INVALID_DEVICE);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* must come first: nothing is initialised yet */
    before_init();

    CHECK(cuInit(0));
    CHECK(cuInit(0)); /* idempotent */

    error_strings();

    int ver = 0;
    CHECK(cuDriverGetVersion(&ver));
    printf("devices: driver version %d\n", ver);
    EXPECT_GE(ver, 13000);
    EXPECT_RESULT(cuDriverGetVersion(NULL), CUDA_ERROR_INVALID_VALUE);

    int n = 0;
    CHECK(cuDeviceGetCount(&n));
    ASSERT_TRUE(n >= 1);
    if (it_backend_is_cpu())
        EXPECT_EQ(n, 1);
    EXPECT_RESULT(cuDeviceGetCount(NULL), CUDA_ERROR_INVALID_VALUE);

    CUdevice dev = -1;
    CHECK(cuDeviceGet(&dev, 0));
    EXPECT_EQ(dev, 0);
    CUdevice bad;
    EXPECT_RESULT(cuDeviceGet(&bad, n), CUDA_ERROR_INVALID_DEVICE);
    EXPECT_RESULT(cuDeviceGet(&bad, -1), CUDA_ERROR_INVALID_DEVICE);
    EXPECT_RESULT(cuDeviceGet(&bad, 1 << 20), CUDA_ERROR_INVALID_DEVICE);
    EXPECT_RESULT(cuDeviceGet(NULL, 0), CUDA_ERROR_INVALID_VALUE);

    uuid_and_name(dev);
    attribute_sweep(dev);
    pci_and_peer(dev);

    TEST_DONE();
}
