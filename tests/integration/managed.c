/*
 * managed.c — cuMemAllocManaged through rgpud, used as a device without
 * concurrent managed access allows (the host touches managed memory only
 * while no kernel may run): the attribute; memory written on the host, a
 * kernel, a synchronisation, the result read on the host; host writes after
 * a synchronisation reaching the next kernel; synchronous copies and memsets
 * naming managed memory as the device side; both attach flags; pointer
 * attributes (one address on host and device); bad arguments; cuMemFree, and
 * freeing twice. Over shm: the managed memory comes from the host-memory
 * pool; over unix and TCP: a mirror kept coherent by the client. Every
 * expectation holds natively (tests/gpu/run).
 */
#include "check.h"
#include "inc_ptx.h"
#include "it_client.h"

#define NW (1u << 16)

static CUfunction inc_fn;

static void launch_inc(CUdeviceptr p, unsigned n)
{
    void *args[] = {&p, &n};
    CHECK(cuLaunchKernel(inc_fn, (n + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
}

static void round_trip(unsigned flags, const char *what)
{
    CUdeviceptr p = 0;
    CHECK(cuMemAllocManaged(&p, NW * 4, flags));
    ASSERT_TRUE(p != 0);
    uint32_t *h = (uint32_t *)(uintptr_t)p; /* one address on host and device */
    for (unsigned i = 0; i < NW; i++)
        h[i] = i;
    launch_inc(p, NW);
    CHECK(cuCtxSynchronize());
    for (unsigned i = 0; i < NW; i++) {
        if (h[i] != i + 1) {
            it_fail(__FILE__, __LINE__, "%s: word %u is %u after the kernel, expected %u", what, i, h[i], i + 1);
            break;
        }
    }
    /* host writes after the synchronisation reach the next kernel */
    for (unsigned i = 0; i < NW; i++)
        h[i] = 41;
    launch_inc(p, NW);
    launch_inc(p, NW);
    CHECK(cuCtxSynchronize());
    EXPECT_ALLWORDS(h, 43, NW, what);
    CHECK(cuMemFree(p));
}

static void copies(void)
{
    CUdeviceptr p = 0, d = 0;
    CHECK(cuMemAllocManaged(&p, NW * 4, CU_MEM_ATTACH_GLOBAL));
    CHECK(cuMemAlloc(&d, NW * 4));
    uint32_t *h = (uint32_t *)(uintptr_t)p;
    uint32_t *buf = it_xmalloc(NW * 4);
    /* a memset of the device side, read on the host */
    CHECK(cuMemsetD32(p, 0x5a5a5a5a, NW));
    EXPECT_ALLWORDS(h, 0x5a5a5a5a, NW, "memset of managed memory");
    /* host writes, then a copy out of it by the device and back into it */
    for (unsigned i = 0; i < NW; i++)
        h[i] = 7;
    CHECK(cuMemcpyDtoD(d, p, NW * 4));
    launch_inc(d, NW);
    CHECK(cuMemcpyDtoD(p, d, NW * 4));
    EXPECT_ALLWORDS(h, 8, NW, "device-to-device copies through managed memory");
    /* host-to-device and device-to-host copies naming it as the device side */
    for (unsigned i = 0; i < NW; i++)
        buf[i] = 0x100 + i % 3;
    CHECK(cuMemcpyHtoD(p, buf, NW * 4));
    EXPECT_MEMEQ(h, buf, NW * 4, "managed memory after cuMemcpyHtoD into it");
    for (unsigned i = 0; i < NW; i++)
        h[i] = 0x77;
    memset(buf, 0, NW * 4);
    CHECK(cuMemcpyDtoH(buf, p, NW * 4));
    EXPECT_ALLWORDS(buf, 0x77, NW, "cuMemcpyDtoH of host-written managed memory");
    free(buf);
    CHECK(cuMemFree(d));
    CHECK(cuMemFree(p));
}

static void attributes(void)
{
    CUdeviceptr p = 0;
    CHECK(cuMemAllocManaged(&p, 4096, CU_MEM_ATTACH_GLOBAL));
    int managed = 0;
    CHECK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, p + 100));
    EXPECT_EQ(managed, 1);
    CUdeviceptr dp = 0;
    CHECK(cuPointerGetAttribute(&dp, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, p + 100));
    EXPECT_EQ(dp, p + 100);
    unsigned mt = 0;
    CHECK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p));
    EXPECT_TRUE(mt == CU_MEMORYTYPE_HOST || mt == CU_MEMORYTYPE_DEVICE); /* CUDA allows either */
    CUdeviceptr d = 0;
    CHECK(cuMemAlloc(&d, 4096));
    managed = -1;
    CHECK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d));
    EXPECT_EQ(managed, 0);
    CHECK(cuMemFree(d));
    CHECK(cuMemFree(p));
}

static void errors(void)
{
    CUdeviceptr p = 0;
    EXPECT_RESULT(cuMemAllocManaged(NULL, 4096, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemAllocManaged(&p, 0, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemAllocManaged(&p, 4096, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemAllocManaged(&p, 4096, CU_MEM_ATTACH_SINGLE), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemAllocManaged(&p, 4096, CU_MEM_ATTACH_GLOBAL));
    CHECK(cuMemFree(p));
    EXPECT_ERROR(cuMemFree(p));
    CHECK(cuCtxSynchronize());
}

int main(void)
{
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    int managed = 0, concurrent = -1;
    CHECK(cuDeviceGetAttribute(&managed, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, dev));
    EXPECT_EQ(managed, 1);
    CHECK(cuDeviceGetAttribute(&concurrent, CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, dev));
    if (round_trips_known())
        EXPECT_EQ(concurrent, 0); /* through rgpu: no access while kernels run, whatever the GPU */
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuModuleLoadData(&mod, inc_ptx));
    CHECK(cuModuleGetFunction(&inc_fn, mod, "inc"));
    round_trip(CU_MEM_ATTACH_GLOBAL, "attached globally");
    round_trip(CU_MEM_ATTACH_HOST, "attached to the host");
    copies();
    attributes();
    errors();
    CHECK(cuModuleUnload(mod));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    TEST_DONE();
}
