/*
 * contexts.c — contexts through rgpu.
 *
 * Covers: the primary context (retain/release/reset/GetState/SetFlags, and
 * the legacy unversioned symbols), cuCtxCreate/Destroy/Push/Pop/GetCurrent/
 * SetCurrent/GetDevice/Synchronize/GetApiVersion/GetFlags/SetFlags/GetLimit/
 * SetLimit/GetCacheConfig/SetCacheConfig/GetStreamPriorityRange/GetId, stack
 * semantics, per-thread current context, destroyed handles.
 */
#include "check.h"
#include "rgpu_client.h"

#include <cudaProfiler.h>

#include <dlfcn.h>
#include <pthread.h>

typedef CUresult (*dev_fn)(CUdevice);
typedef CUresult (*dev_flags_fn)(CUdevice, unsigned int);

static CUdevice dev;

/* a small allocation + copy round trip in the current context */
static void roundtrip_works(const char *what)
{
    CUdeviceptr p = 0;
    unsigned char in[64], out[64];
    CHECK(cuMemAlloc(&p, sizeof in));
    it_fill(in, sizeof in, 7);
    memset(out, 0, sizeof out);
    CHECK(cuMemcpyHtoD(p, in, sizeof in));
    CHECK(cuMemcpyDtoH(out, p, sizeof out));
    EXPECT_MEMEQ(out, in, sizeof in, what);
    CHECK(cuMemFree(p));
}

static void primary_context(void)
{
    unsigned int flags = 99;
    int active = 99;
    CUcontext p1 = NULL, p2 = NULL;

    CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
    EXPECT_EQ(active, 0);
    EXPECT_EQ(flags, 0);

    /* flags may be set while inactive and are reported back */
    CHECK(cuDevicePrimaryCtxSetFlags(dev, CU_CTX_SCHED_BLOCKING_SYNC));
    CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
    EXPECT_EQ(flags & CU_CTX_SCHED_MASK, CU_CTX_SCHED_BLOCKING_SYNC);
    EXPECT_EQ(active, 0);
    EXPECT_RESULT(cuDevicePrimaryCtxSetFlags(dev, 0xffff0000u), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuDevicePrimaryCtxGetState(1, &flags, &active), CUDA_ERROR_INVALID_DEVICE);

    CHECK(cuDevicePrimaryCtxRetain(&p1, dev));
    ASSERT_TRUE(p1 != NULL);
    CHECK(cuDevicePrimaryCtxRetain(&p2, dev));
    EXPECT_TRUE(p1 == p2); /* one primary context per device */
    CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
    EXPECT_EQ(active, 1);
    EXPECT_EQ(flags & CU_CTX_SCHED_MASK, CU_CTX_SCHED_BLOCKING_SYNC);

    /* retaining does not make it current */
    CUcontext cur = (CUcontext)0x1;
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == NULL);
    CHECK(cuCtxSetCurrent(p1));
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == p1);
    CUdevice d = -1;
    CHECK(cuCtxGetDevice(&d));
    EXPECT_EQ(d, dev);
    unsigned int cflags = 0;
    CHECK(cuCtxGetFlags(&cflags));
    EXPECT_EQ(cflags & CU_CTX_SCHED_MASK, CU_CTX_SCHED_BLOCKING_SYNC);
    roundtrip_works("primary context round trip");
    CHECK(cuCtxSynchronize());

    /* two releases drop it to inactive */
    CHECK(cuDevicePrimaryCtxRelease(dev));
    CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
    EXPECT_EQ(active, 1);
    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
    EXPECT_EQ(active, 0);

    /* reset of a retained primary context: the context stays usable */
    CHECK(cuDevicePrimaryCtxRetain(&p1, dev));
    CHECK(cuCtxSetCurrent(p1));
    size_t free0 = 0, free1 = 0, free2 = 0, total = 0;
    CHECK(cuMemGetInfo(&free0, &total));
    CUdeviceptr leak = 0;
    CHECK(cuMemAlloc(&leak, 64u << 20)); /* reset frees it */
    CHECK(cuMemGetInfo(&free1, &total));
    EXPECT_LE(free1, free0 - (64u << 20));
    CHECK(cuDevicePrimaryCtxReset(dev));
    /* "Resetting the primary context does not release it": retain count 2 now */
    CHECK(cuDevicePrimaryCtxRetain(&p2, dev));
    CHECK(cuCtxSetCurrent(p2));
    CHECK(cuMemGetInfo(&free2, &total));
    EXPECT_GE(free2, free0); /* the allocation made before the reset is gone */
    roundtrip_works("primary context after reset");
    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
    EXPECT_EQ(active, 0);

    /* the legacy (pre-_v2) names exist as symbols and behave the same */
    dev_fn rel = (dev_fn)dlsym(RTLD_DEFAULT, "cuDevicePrimaryCtxRelease");
    dev_fn rst = (dev_fn)dlsym(RTLD_DEFAULT, "cuDevicePrimaryCtxReset");
    dev_flags_fn sfl = (dev_flags_fn)dlsym(RTLD_DEFAULT, "cuDevicePrimaryCtxSetFlags");
    EXPECT_TRUE(rel != NULL);
    EXPECT_TRUE(rst != NULL);
    EXPECT_TRUE(sfl != NULL);
    if (rel && rst && sfl) {
        CHECK(sfl(dev, CU_CTX_SCHED_SPIN));
        CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
        EXPECT_EQ(flags & CU_CTX_SCHED_MASK, CU_CTX_SCHED_SPIN);
        CHECK(cuDevicePrimaryCtxRetain(&p1, dev));
        CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
        EXPECT_EQ(active, 1);
        CHECK(rel(dev));
        CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
        EXPECT_EQ(active, 0);
        CHECK(rst(dev));
        CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
        EXPECT_EQ(active, 0);
    }
    /* documented: releasing a primary context that is not retained */
    EXPECT_RESULT(cuDevicePrimaryCtxRelease(dev), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_RESULT(cuDevicePrimaryCtxRetain(&p1, 1), CUDA_ERROR_INVALID_DEVICE);
}

static void created_contexts(void)
{
    CUcontext a = NULL, b = NULL, cur = NULL, popped = NULL;

    /* cuCtxCreate (cuCtxCreate_v4 in CUDA 13) pushes the new context */
    CHECK(cuCtxCreate(&a, NULL, 0, dev));
    ASSERT_TRUE(a != NULL);
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == a);
    CHECK(cuCtxCreate(&b, NULL, CU_CTX_SCHED_YIELD, dev));
    ASSERT_TRUE(b != NULL && b != a);
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == b);
    unsigned int fl = 0;
    CHECK(cuCtxGetFlags(&fl));
    EXPECT_EQ(fl & CU_CTX_SCHED_MASK, CU_CTX_SCHED_YIELD);

    /* stack: b on top of a */
    CHECK(cuCtxPopCurrent(&popped));
    EXPECT_TRUE(popped == b);
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == a);
    CHECK(cuCtxPopCurrent(&popped));
    EXPECT_TRUE(popped == a);
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == NULL);
    EXPECT_RESULT(cuCtxPopCurrent(&popped), CUDA_ERROR_INVALID_CONTEXT);
    /* no current context: context calls fail */
    CUdevice d;
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_RESULT(cuCtxGetDevice(&d), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_RESULT(cuProfilerStart(), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_RESULT(cuProfilerStop(), CUDA_ERROR_INVALID_CONTEXT);
    CUdeviceptr p;
    EXPECT_RESULT(cuMemAlloc(&p, 16), CUDA_ERROR_INVALID_CONTEXT);

    CHECK(cuCtxPushCurrent(a));
    CHECK(cuCtxPushCurrent(b));
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == b);
    /* SetCurrent replaces the top of the stack */
    CHECK(cuCtxSetCurrent(a));
    CHECK(cuCtxPopCurrent(&popped));
    EXPECT_TRUE(popped == a);
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == a); /* the bottom entry */
    CHECK(cuCtxPushCurrent(b));

    /* b current, a below */
    CHECK(cuCtxGetDevice(&d));
    EXPECT_EQ(d, dev);
    CHECK(cuCtxSynchronize());
    unsigned int ver = 0;
    CHECK(cuCtxGetApiVersion(b, &ver));
    EXPECT_GT(ver, 0);
    ver = 0;
    CHECK(cuCtxGetApiVersion(NULL, &ver)); /* NULL: the current context */
    EXPECT_GT(ver, 0);

    /* ids: stable per context, distinct between contexts */
    unsigned long long ida = 0, ida2 = 0, idb = 0, idcur = 0;
    CHECK(cuCtxGetId(a, &ida));
    CHECK(cuCtxGetId(a, &ida2));
    CHECK(cuCtxGetId(b, &idb));
    CHECK(cuCtxGetId(NULL, &idcur));
    EXPECT_EQ(ida, ida2);
    EXPECT_NE(ida, idb);
    EXPECT_EQ(idcur, idb);
    /* rgpu's client keeps them: asked again, no request (cuBLAS asks before every call) */
    typedef int (*info_fn)(struct rgpu_client_info *);
    info_fn info = (info_fn)dlsym(RTLD_DEFAULT, "rgpu_client_info");
    if (info) {
        struct rgpu_client_info i0, i1;
        ASSERT_TRUE(info(&i0) == 0);
        for (int k = 0; k < 10; k++) {
            CHECK(cuCtxGetId(a, &ida2));
            CHECK(cuCtxGetId(NULL, &idcur));
        }
        ASSERT_TRUE(info(&i1) == 0);
        EXPECT_EQ(i1.requests, i0.requests);
        EXPECT_EQ(ida2, ida);
        EXPECT_EQ(idcur, idb);
    }

    /* flags */
    CHECK(cuCtxSetFlags(CU_CTX_SCHED_BLOCKING_SYNC));
    CHECK(cuCtxGetFlags(&fl));
    EXPECT_EQ(fl & CU_CTX_SCHED_MASK, CU_CTX_SCHED_BLOCKING_SYNC);

    /* limits */
    size_t lim = 0;
    CHECK(cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 4096));
    CHECK(cuCtxGetLimit(&lim, CU_LIMIT_STACK_SIZE));
    EXPECT_GE(lim, 4096);
    CHECK(cuCtxSetLimit(CU_LIMIT_PRINTF_FIFO_SIZE, 2u << 20));
    CHECK(cuCtxGetLimit(&lim, CU_LIMIT_PRINTF_FIFO_SIZE));
    EXPECT_GE(lim, 2u << 20);
    CHECK(cuCtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, 16u << 20));
    CHECK(cuCtxGetLimit(&lim, CU_LIMIT_MALLOC_HEAP_SIZE));
    EXPECT_GE(lim, 16u << 20);
    EXPECT_ERROR(cuCtxGetLimit(&lim, (CUlimit)0x7777));
    EXPECT_ERROR(cuCtxSetLimit((CUlimit)0x7777, 1));
    CHECK(cuCtxPopCurrent(&popped));
    EXPECT_TRUE(popped == b);

    /* cache config */
    CUfunc_cache cc = (CUfunc_cache)-1;
    CHECK(cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED));
    CHECK(cuCtxGetCacheConfig(&cc));
    EXPECT_TRUE(cc == CU_FUNC_CACHE_PREFER_NONE || cc == CU_FUNC_CACHE_PREFER_SHARED ||
                cc == CU_FUNC_CACHE_PREFER_L1 || cc == CU_FUNC_CACHE_PREFER_EQUAL);
    EXPECT_ERROR(cuCtxSetCacheConfig((CUfunc_cache)0x55));

    /* shared memory banks: four bytes wide and fixed, as on every GPU since
     * Maxwell: a setting is accepted and changes nothing */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* what older programs call */
    CUsharedconfig sc = (CUsharedconfig)-1;
    CHECK(cuCtxSetSharedMemConfig(CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE));
    CHECK(cuCtxGetSharedMemConfig(&sc));
    EXPECT_EQ(sc, CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE);
    EXPECT_ERROR(cuCtxSetSharedMemConfig((CUsharedconfig)0x55));
    EXPECT_ERROR(cuCtxGetSharedMemConfig(NULL));
#pragma GCC diagnostic pop

    /* stream priorities: least >= greatest, either pointer may be NULL */
    int least = 99, greatest = 99, l2 = 98, g2 = 98;
    CHECK(cuCtxGetStreamPriorityRange(&least, &greatest));
    EXPECT_GE(least, greatest);
    CHECK(cuCtxGetStreamPriorityRange(&l2, NULL));
    EXPECT_EQ(l2, least);
    CHECK(cuCtxGetStreamPriorityRange(NULL, &g2));
    EXPECT_EQ(g2, greatest);
    CHECK(cuCtxGetStreamPriorityRange(NULL, NULL));

    /* allocations belong to their context; both work */
    roundtrip_works("context a");
    CHECK(cuCtxPushCurrent(b));
    roundtrip_works("context b");
    CHECK(cuCtxPopCurrent(&popped));

    /* destroy b (not current): its handle is dead afterwards */
    CHECK(cuCtxDestroy(b));
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == a);
    EXPECT_ERROR(cuCtxGetApiVersion(b, &ver));
    EXPECT_ERROR(cuCtxGetId(b, &idb));
    EXPECT_ERROR(cuCtxDestroy(b));
    /* making a dead context current fails either at once or at first use */
    CUresult r = cuCtxPushCurrent(b);
    if (r == CUDA_SUCCESS) {
        CUresult r2 = cuMemAlloc(&p, 16);
        if (r2 == CUDA_SUCCESS)
            it_fail(__FILE__, __LINE__, "cuMemAlloc in a destroyed context pushed as current: got CUDA_SUCCESS, expected an error");
        r2 = cuCtxSynchronize();
        if (r2 == CUDA_SUCCESS)
            it_fail(__FILE__, __LINE__, "cuCtxSynchronize in a destroyed context: got CUDA_SUCCESS, expected an error");
        CHECK(cuCtxPopCurrent(&popped));
    }
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == a);
    roundtrip_works("context a after destroying b");

    /* destroying the current context leaves no current context */
    CHECK(cuCtxDestroy(a));
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == NULL);
    EXPECT_ERROR(cuCtxGetApiVersion(a, &ver));
    EXPECT_RESULT(cuCtxCreate(&a, NULL, 0, 1), CUDA_ERROR_INVALID_DEVICE);
    EXPECT_RESULT(cuCtxCreate(NULL, NULL, 0, dev), CUDA_ERROR_INVALID_VALUE);
}

/* ---- per-thread current context ---- */
struct thr_arg {
    CUcontext ctx;
    int failures;
};

static void *thread_main(void *vp)
{
    struct thr_arg *t = vp;
    int before = it_failures;
    CUcontext cur = (CUcontext)0x1;
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == NULL); /* a new thread has no current context */
    CUdeviceptr p;
    EXPECT_RESULT(cuMemAlloc(&p, 16), CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cuCtxSetCurrent(t->ctx));
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == t->ctx);
    roundtrip_works("round trip in a second thread");
    /* pushing/popping here does not disturb the main thread */
    CUcontext popped;
    CHECK(cuCtxPopCurrent(&popped));
    EXPECT_TRUE(popped == t->ctx);
    t->failures = it_failures - before;
    return NULL;
}

static void per_thread(void)
{
    CUcontext c = NULL, cur = NULL;
    CHECK(cuCtxCreate(&c, NULL, 0, dev));
    struct thr_arg t = {c, 0};
    pthread_t th;
    ASSERT_TRUE(pthread_create(&th, NULL, thread_main, &t) == 0);
    pthread_join(th, NULL);
    /* main thread still has c current */
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur == c);
    roundtrip_works("main thread after the second thread");
    CHECK(cuCtxDestroy(c));
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    primary_context();
    created_contexts();
    per_thread();
    TEST_DONE();
}
