/*
 * mempool.c — CUDA's stream-ordered allocator through rgpud: the device's
 * default and current memory pools, cuMemAllocAsync / cuMemFreeAsync on
 * created streams (filled by an asynchronous memset, incremented by a kernel,
 * copied back asynchronously and checked on the host; the pointer's memory
 * type and pool as cuPointerGetAttribute tells them), stream order without
 * synchronising in between (allocation, use and free queued back to back, an
 * allocation freed on another stream after an event wait, memory freed on a
 * stream that is held up never handed to another stream's allocation while
 * the first can still touch it), the pool's
 * attributes (memory in use rising and falling, its high watermark and its
 * reset, release threshold, reuse policies, read-only ones refused),
 * cuMemPoolTrimTo, created pools (cuMemAllocFromPoolAsync, destroyed with an
 * allocation outstanding, made the device's current pool), pool access, bad
 * arguments, and, through rgpu only, what rgpu refuses (destroyed or forged
 * pool handles, pools with export handle types or not on the device),
 * allocation and free on a capturing stream (a graph's memory nodes), and
 * what costs no round trip (asynchronous
 * memsets and copies into stream-ordered memory, cuMemFreeAsync).
 *
 * Every expectation holds on NVIDIA's driver too (tests/gpu/run runs this
 * natively): memory figures are compared, never asserted to exact byte counts.
 */
#include "check.h"

#include <dlfcn.h>
#include <stdbool.h>

#include "inc_ptx.h"
#include "it_client.h"


static CUdevice dev;
static CUcontext ctx;
static CUmodule mod;
static CUfunction inc_fn;
static CUmemoryPool default_pool;


static void done(const char *what) { printf("mempool: %s: done\n", what); }

/* CUDA 13's pool calls by location, looked up rather than linked: natively
 * an older driver lacks them (then NULL, and their checks are skipped). */
typedef CUresult (*get_pool_fn)(CUmemoryPool *, CUmemLocation *, CUmemAllocationType);
typedef CUresult (*set_pool_fn)(CUmemLocation *, CUmemAllocationType, CUmemoryPool);
static void *proc(const char *name)
{
    void *f = NULL;
    CUdriverProcAddressQueryResult q;
    return cuGetProcAddress(name, &f, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &q) == CUDA_SUCCESS ? f : NULL;
}

static cuuint64_t pool_u64(CUmemoryPool pool, CUmemPool_attribute a)
{
    cuuint64_t v = 0xdeadbeefdeadbeefull;
    CHECK(cuMemPoolGetAttribute(pool, a, &v));
    return v;
}

static int pool_int(CUmemoryPool pool, CUmemPool_attribute a)
{
    int v = -12345;
    CHECK(cuMemPoolGetAttribute(pool, a, &v));
    return v;
}

static void launch_inc(CUdeviceptr p, unsigned n, CUstream s)
{
    void *args[] = {&p, &n};
    CHECK(cuLaunchKernel(inc_fn, (n + 255) / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
}

/* memset to v, increment, copy back on s (nothing synchronised); the host
 * buffer holds v + 1 in every word once s has finished */
static void use_async(CUdeviceptr d, uint32_t *host, unsigned nwords, uint32_t v, CUstream s)
{
    CHECK(cuMemsetD32Async(d, v, nwords, s));
    launch_inc(d, nwords, s);
    CHECK(cuMemcpyDtoHAsync(host, d, (size_t)nwords * 4, s));
}

static void setup(void)
{
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuModuleLoadData(&mod, inc_ptx));
    CHECK(cuModuleGetFunction(&inc_fn, mod, "inc"));
}

/* The attribute; the default pool is the current one at first. */
static void default_pools(void)
{
    int supported = -1;
    CHECK(cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, dev));
    ASSERT_EQ(supported, 1);
    CUmemoryPool cur = NULL;
    CHECK(cuDeviceGetDefaultMemPool(&default_pool, dev));
    ASSERT_TRUE(default_pool != NULL);
    CHECK(cuDeviceGetMemPool(&cur, dev));
    EXPECT_TRUE(cur == default_pool);
    /* asked again: the same pool */
    CUmemoryPool again = NULL;
    CHECK(cuDeviceGetDefaultMemPool(&again, dev));
    EXPECT_TRUE(again == default_pool);
    /* and by location (CUDA 13): a device's pinned memory */
    get_pool_fn get_default = (get_pool_fn)proc("cuMemGetDefaultMemPool");
    get_pool_fn get_current = (get_pool_fn)proc("cuMemGetMemPool");
    set_pool_fn set_current = (set_pool_fn)proc("cuMemSetMemPool");
    if (get_default && get_current && set_current) {
        CUmemLocation here = {CU_MEM_LOCATION_TYPE_DEVICE, dev};
        again = NULL;
        CHECK(get_default(&again, &here, CU_MEM_ALLOCATION_TYPE_PINNED));
        EXPECT_TRUE(again == default_pool);
        again = NULL;
        CHECK(get_current(&again, &here, CU_MEM_ALLOCATION_TYPE_PINNED));
        EXPECT_TRUE(again == default_pool);
        CHECK(set_current(&here, CU_MEM_ALLOCATION_TYPE_PINNED, default_pool));
        EXPECT_RESULT(get_default(&again, NULL, CU_MEM_ALLOCATION_TYPE_PINNED), CUDA_ERROR_INVALID_VALUE);
    } else {
        EXPECT_TRUE(!round_trips_known()); /* rgpu has them */
        printf("mempool: this driver has no pool calls by location (CUDA 13)\n");
    }
    done("default pool");
}

/* Allocate on a created stream, fill, increment, copy back, free. */
static void basic(void)
{
    enum { NW = 4096 };
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint32_t *host = it_xmalloc(NW * 4);
    memset(host, 0, NW * 4);

    CUdeviceptr d = 0;
    CHECK(cuMemAllocAsync(&d, NW * 4, s));
    EXPECT_NE(d, 0);
    use_async(d, host, NW, 0x1000, s);
    CHECK(cuStreamSynchronize(s));
    EXPECT_ALLWORDS(host, 0x1001, NW, "memset + kernel + copy back");

    /* it is device memory, which a unified copy reaches too */
    unsigned mt = 0;
    CHECK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d + 64));
    EXPECT_EQ(mt, CU_MEMORYTYPE_DEVICE);
    CUmemoryPool from = NULL;
    CHECK(cuPointerGetAttribute(&from, CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE, d + 64));
    EXPECT_TRUE(from == default_pool);
    uint32_t words[16];
    for (int i = 0; i < 16; i++)
        words[i] = 0xabc00000u + (uint32_t)i;
    CHECK(cuMemcpyHtoDAsync(d + 256, words, sizeof words, s));
    memset(host, 0, NW * 4);
    CHECK(cuMemcpyAsync((CUdeviceptr)(uintptr_t)host, d, NW * 4, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_MEMEQ(host + 64, words, sizeof words, "unified copy of stream-ordered memory");
    EXPECT_EQ(host[0], 0x1001);
    EXPECT_EQ(host[NW - 1], 0x1001);

    CHECK(cuMemFreeAsync(d, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuStreamDestroy(s));
    free(host);
    done("allocate, use, free on a created stream");
}

/* a host function that holds its stream up for a while */
static void CUDA_CB hold_stream(void *arg)
{
    (void)arg;
    it_sleep_ms(200);
}

/* Allocation, use and free queued back to back; a free on another stream. */
static void stream_order(void)
{
    enum { NW = 2048, ROUNDS = 16 };
    _Static_assert(ROUNDS >= 7, "the host buffer holds the later cases too");
    CUstream a, b;
    CHECK(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
    uint32_t *host = it_xmalloc((size_t)ROUNDS * NW * 4);
    memset(host, 0, (size_t)ROUNDS * NW * 4);
    cuuint64_t used0 = pool_u64(default_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT);

    /* each round reuses what the one before freed, in stream order */
    for (int r = 0; r < ROUNDS; r++) {
        CUdeviceptr d = 0;
        CHECK(cuMemAllocAsync(&d, NW * 4, a));
        use_async(d, host + (size_t)r * NW, NW, 100u * (uint32_t)r, a);
        CHECK(cuMemFreeAsync(d, a));
    }
    CHECK(cuStreamSynchronize(a));
    for (int r = 0; r < ROUNDS; r++) {
        char what[64];
        snprintf(what, sizeof what, "round %d of allocate/use/free unsynchronised", r);
        EXPECT_ALLWORDS(host + (size_t)r * NW, 100u * (uint32_t)r + 1, NW, what);
    }
    EXPECT_EQ(pool_u64(default_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), used0);

    /* two allocations live at once on one stream: distinct, both usable */
    CUdeviceptr x = 0, y = 0;
    CHECK(cuMemAllocAsync(&x, NW * 4, a));
    CHECK(cuMemAllocAsync(&y, NW * 4, a));
    EXPECT_TRUE(x + NW * 4 <= y || y + NW * 4 <= x);
    use_async(x, host, NW, 7, a);
    use_async(y, host + NW, NW, 70, a);
    CHECK(cuMemFreeAsync(x, a));
    CHECK(cuMemFreeAsync(y, a));
    CHECK(cuStreamSynchronize(a));
    EXPECT_ALLWORDS(host, 8, NW, "first of two live allocations");
    EXPECT_ALLWORDS(host + NW, 71, NW, "second of two live allocations");

    /* allocated and used on a, freed on b once b waits for a's event */
    CUevent ev;
    CHECK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
    CUdeviceptr d = 0;
    CHECK(cuMemAllocAsync(&d, NW * 4, a));
    use_async(d, host + 2 * NW, NW, 0x5150, a);
    CHECK(cuEventRecord(ev, a));
    CHECK(cuStreamWaitEvent(b, ev, 0));
    /* b uses it too, after the wait, then frees it */
    launch_inc(d, NW, b);
    CHECK(cuMemcpyDtoHAsync(host + 3 * NW, d, NW * 4, b));
    CHECK(cuMemFreeAsync(d, b));
    CHECK(cuStreamSynchronize(b));
    CHECK(cuStreamSynchronize(a));
    EXPECT_ALLWORDS(host + 2 * NW, 0x5151, NW, "used on stream a");
    EXPECT_ALLWORDS(host + 3 * NW, 0x5152, NW, "used on stream b after the event wait");
    EXPECT_EQ(pool_u64(default_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), used0);

    /* and the other way: the memory is allocated on b after a's work (which
     * b waits for) and freed on a after waiting for b */
    CUevent ev2;
    CHECK(cuEventCreate(&ev2, CU_EVENT_DISABLE_TIMING));
    CHECK(cuMemAllocAsync(&d, NW * 4, b));
    use_async(d, host + 4 * NW, NW, 0x600, b);
    CHECK(cuEventRecord(ev2, b));
    CHECK(cuStreamWaitEvent(a, ev2, 0));
    CHECK(cuMemFreeAsync(d, a));
    CHECK(cuStreamSynchronize(a));
    CHECK(cuStreamSynchronize(b));
    EXPECT_ALLWORDS(host + 4 * NW, 0x601, NW, "allocated on b, freed on a");
    EXPECT_EQ(pool_u64(default_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), used0);

    /* freed on a while a's work on it is still waiting (a host function
     * holds a up); an allocation on b meanwhile, with no dependency on a, must
     * not be handed that memory while a can still touch it */
    CHECK(cuMemAllocAsync(&d, NW * 4, a));
    CHECK(cuMemsetD32Async(d, 0x700, NW, a));
    CHECK(cuLaunchHostFunc(a, hold_stream, NULL));
    launch_inc(d, NW, a);
    CHECK(cuMemcpyDtoHAsync(host + 5 * NW, d, NW * 4, a));
    CHECK(cuMemFreeAsync(d, a));
    CUdeviceptr e = 0;
    CHECK(cuMemAllocAsync(&e, NW * 4, b));
    CHECK(cuMemsetD32Async(e, 0x900, NW, b));
    CHECK(cuMemcpyDtoHAsync(host + 6 * NW, e, NW * 4, b));
    CHECK(cuStreamSynchronize(b));
    EXPECT_ALLWORDS(host + 6 * NW, 0x900, NW, "allocated on b while a freed memory it still used");
    CHECK(cuMemFreeAsync(e, b));
    CHECK(cuStreamSynchronize(a));
    CHECK(cuStreamSynchronize(b));
    EXPECT_ALLWORDS(host + 5 * NW, 0x701, NW, "used on a around the host function, then freed");
    EXPECT_EQ(pool_u64(default_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), used0);

    CHECK(cuEventDestroy(ev));
    CHECK(cuEventDestroy(ev2));
    CHECK(cuStreamDestroy(a));
    CHECK(cuStreamDestroy(b));
    free(host);
    done("stream order");
}

/* The default pool's attributes. */
static void attributes(void)
{
    const size_t size = 1 << 20;
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUmemoryPool pool = default_pool;

    cuuint64_t used0 = pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT);
    CUdeviceptr d = 0;
    CHECK(cuMemAllocAsync(&d, size, s));
    CHECK(cuStreamSynchronize(s));
    cuuint64_t used1 = pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT);
    EXPECT_GE(used1, used0 + size);
    EXPECT_GE(pool_u64(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), used1);
    EXPECT_GE(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH), used1);
    EXPECT_GE(pool_u64(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH), used1);
    CHECK(cuMemFreeAsync(d, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), used0);
    /* the high watermark remembers the allocation */
    EXPECT_GE(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH), used0 + size);

    /* reset (only to zero): with nothing allocated, it is what is in use now */
    cuuint64_t zero = 0;
    CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &zero));
    EXPECT_EQ(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH), pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT));
    CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH, &zero));
    EXPECT_LE(pool_u64(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT),
              pool_u64(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH));
    /* and it rises again with the next allocation */
    CHECK(cuMemAllocAsync(&d, size, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_GE(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH), used0 + size);
    CHECK(cuMemFreeAsync(d, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), used0);

    /* the release threshold, as read back */
    cuuint64_t keep = pool_u64(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD);
    cuuint64_t max = UINT64_MAX, four_mib = 4u << 20;
    CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &max));
    EXPECT_TRUE(pool_u64(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD) == UINT64_MAX);
    CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &four_mib));
    EXPECT_EQ(pool_u64(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD), four_mib);

    /* the reuse policies: off, then on again (their default) */
    static const CUmemPool_attribute reuse[] = {CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES,
                                                CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC,
                                                CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES};
    for (size_t i = 0; i < sizeof reuse / sizeof reuse[0]; i++) {
        int off = 0, on = 1;
        int was = pool_int(pool, reuse[i]);
        EXPECT_TRUE(was == 0 || was == 1);
        CHECK(cuMemPoolSetAttribute(pool, reuse[i], &off));
        EXPECT_EQ(pool_int(pool, reuse[i]), 0);
        CHECK(cuMemPoolSetAttribute(pool, reuse[i], &on));
        EXPECT_EQ(pool_int(pool, reuse[i]), 1);
    }
    /* allocation still works with every reuse policy off */
    {
        int off = 0, on = 1;
        for (size_t i = 0; i < sizeof reuse / sizeof reuse[0]; i++)
            CHECK(cuMemPoolSetAttribute(pool, reuse[i], &off));
        enum { NW = 1024 };
        uint32_t host[NW];
        for (int r = 0; r < 3; r++) {
            CHECK(cuMemAllocAsync(&d, NW * 4, s));
            use_async(d, host, NW, 40u + (uint32_t)r, s);
            CHECK(cuMemFreeAsync(d, s));
            CHECK(cuStreamSynchronize(s));
            EXPECT_ALLWORDS(host, 41u + (uint32_t)r, NW, "reuse policies off");
        }
        for (size_t i = 0; i < sizeof reuse / sizeof reuse[0]; i++)
            CHECK(cuMemPoolSetAttribute(pool, reuse[i], &on));
    }

    /* read-only ones and non-zero watermarks are refused */
    cuuint64_t v = 12345;
    EXPECT_RESULT(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &v), CUDA_ERROR_INVALID_VALUE);
    EXPECT_ERROR(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &v));
    EXPECT_ERROR(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &v));
    /* and bad pointers */
    EXPECT_RESULT(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, NULL), CUDA_ERROR_INVALID_VALUE);

    /* trimming what the pool keeps */
    CHECK(cuMemPoolTrimTo(pool, 0));
    CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep));
    EXPECT_EQ(pool_u64(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD), keep);
    /* trimming leaves live allocations alone */
    enum { NW2 = 4096 };
    uint32_t *host = it_xmalloc(NW2 * 4);
    CHECK(cuMemAllocAsync(&d, NW2 * 4, s));
    CHECK(cuMemsetD32Async(d, 0x77, NW2, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemPoolTrimTo(pool, 0));
    launch_inc(d, NW2, s);
    CHECK(cuMemcpyDtoHAsync(host, d, NW2 * 4, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_ALLWORDS(host, 0x78, NW2, "allocation across cuMemPoolTrimTo(pool, 0)");
    EXPECT_GE(pool_u64(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), NW2 * 4);
    CHECK(cuMemFreeAsync(d, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemPoolTrimTo(pool, 0));
    EXPECT_EQ(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), used0);

    free(host);
    CHECK(cuStreamDestroy(s));
    done("pool attributes and trimming");
}

static CUmemPoolProps device_pool_props(void)
{
    CUmemPoolProps p;
    memset(&p, 0, sizeof p);
    p.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.handleTypes = CU_MEM_HANDLE_TYPE_NONE;
    p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.location.id = dev;
    return p;
}

/* Created pools: allocation from them, destruction with an allocation
 * outstanding, made the device's current pool. Returns a destroyed pool's
 * handle (for the error cases). */
static CUmemoryPool created_pools(void)
{
    enum { NW = 4096 };
    const size_t size = NW * 4;
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint32_t *host = it_xmalloc(size);
    CUmemPoolProps props = device_pool_props();
    cuuint64_t def_used0 = pool_u64(default_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT);

    /* from a created pool: used, counted by it (not by the default pool), freed */
    CUmemoryPool pool = NULL;
    CHECK(cuMemPoolCreate(&pool, &props));
    ASSERT_TRUE(pool != NULL);
    EXPECT_TRUE(pool != default_pool);
    EXPECT_EQ(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0);
    CUdeviceptr d = 0;
    CHECK(cuMemAllocFromPoolAsync(&d, size, pool, s));
    use_async(d, host, NW, 0xc0de, s);
    CHECK(cuStreamSynchronize(s));
    EXPECT_ALLWORDS(host, 0xc0df, NW, "allocation from a created pool");
    CUmemoryPool from = NULL;
    CHECK(cuPointerGetAttribute(&from, CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE, d));
    EXPECT_TRUE(from == pool);
    EXPECT_GE(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), size);
    EXPECT_EQ(pool_u64(default_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), def_used0);
    CHECK(cuMemFreeAsync(d, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0);
    /* the pool's access: its own device reads and writes */
    {
        CUmemLocation loc = {CU_MEM_LOCATION_TYPE_DEVICE, dev};
        CUmemAccess_flags fl = CU_MEM_ACCESS_FLAGS_PROT_NONE;
        CHECK(cuMemPoolGetAccess(&fl, pool, &loc));
        EXPECT_EQ(fl, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
    }

    /* the device's current pool: cuMemAllocAsync draws from it */
    CHECK(cuDeviceSetMemPool(dev, pool));
    CUmemoryPool cur = NULL;
    CHECK(cuDeviceGetMemPool(&cur, dev));
    EXPECT_TRUE(cur == pool);
    CUmemoryPool def = NULL;
    CHECK(cuDeviceGetDefaultMemPool(&def, dev));
    EXPECT_TRUE(def == default_pool); /* the default stays the default */
    CHECK(cuMemAllocAsync(&d, size, s));
    CHECK(cuStreamSynchronize(s));
    from = NULL;
    CHECK(cuPointerGetAttribute(&from, CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE, d));
    EXPECT_TRUE(from == pool);
    EXPECT_GE(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), size);
    EXPECT_EQ(pool_u64(default_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), def_used0);
    use_async(d, host, NW, 0xface, s);
    CHECK(cuMemFreeAsync(d, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_ALLWORDS(host, 0xfacf, NW, "allocation from the device's current (created) pool");
    EXPECT_EQ(pool_u64(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0);
    CHECK(cuDeviceSetMemPool(dev, default_pool));
    CHECK(cuDeviceGetMemPool(&cur, dev));
    EXPECT_TRUE(cur == default_pool);
    CHECK(cuMemPoolDestroy(pool));

    /* destroyed with an allocation outstanding: the allocation stays usable
     * until freed, and the free succeeds */
    CUmemoryPool p2 = NULL;
    CHECK(cuMemPoolCreate(&p2, &props));
    CUdeviceptr d2 = 0;
    CHECK(cuMemAllocFromPoolAsync(&d2, size, p2, s));
    CHECK(cuMemsetD32Async(d2, 0xbeef, NW, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemPoolDestroy(p2));
    launch_inc(d2, NW, s);
    CHECK(cuMemcpyDtoHAsync(host, d2, size, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_ALLWORDS(host, 0xbef0, NW, "allocation outliving its destroyed pool");
    CHECK(cuMemFreeAsync(d2, s));
    CHECK(cuStreamSynchronize(s));

    /* several created pools at once, each its own */
    CUmemoryPool q1 = NULL, q2 = NULL;
    CHECK(cuMemPoolCreate(&q1, &props));
    CHECK(cuMemPoolCreate(&q2, &props));
    EXPECT_TRUE(q1 != q2);
    CUdeviceptr e1 = 0, e2 = 0;
    CHECK(cuMemAllocFromPoolAsync(&e1, size, q1, s));
    CHECK(cuMemAllocFromPoolAsync(&e2, 2 * size, q2, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_GE(pool_u64(q1, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), size);
    EXPECT_GE(pool_u64(q2, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 2 * size);
    CHECK(cuMemFreeAsync(e1, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(pool_u64(q1, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0);
    EXPECT_GE(pool_u64(q2, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 2 * size);
    CHECK(cuMemFreeAsync(e2, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemPoolDestroy(q1));
    CHECK(cuMemPoolDestroy(q2));

    CHECK(cuStreamDestroy(s));
    free(host);
    done("created pools");
    return p2;
}

/* A pool's maximum size bounds what it hands out at once. */
static void max_size(void)
{
    const size_t mib = 1u << 20;
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUmemPoolProps props = device_pool_props();
    props.maxSize = 8 * mib;
    CUmemoryPool pool = NULL;
    CHECK(cuMemPoolCreate(&pool, &props));
    CUdeviceptr a = 0, b = 0, c = 0;
    CHECK(cuMemAllocFromPoolAsync(&a, 6 * mib, pool, s));
    EXPECT_RESULT(cuMemAllocFromPoolAsync(&b, 6 * mib, pool, s), CUDA_ERROR_OUT_OF_MEMORY);
    /* a pool without a limit still allocates meanwhile */
    CHECK(cuMemAllocAsync(&c, 6 * mib, s));
    CHECK(cuMemFreeAsync(a, s));
    CHECK(cuStreamSynchronize(s));
    /* the freed memory counts no more */
    CHECK(cuMemAllocFromPoolAsync(&b, 6 * mib, pool, s));
    CHECK(cuMemFreeAsync(b, s));
    CHECK(cuMemFreeAsync(c, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemPoolDestroy(pool));
    CHECK(cuStreamDestroy(s));
    done("a pool's maximum size");
}

/* The default pool's access for its own device. */
static void pool_access(void)
{
    CUmemLocation loc = {CU_MEM_LOCATION_TYPE_DEVICE, dev};
    CUmemAccess_flags fl = CU_MEM_ACCESS_FLAGS_PROT_NONE;
    CHECK(cuMemPoolGetAccess(&fl, default_pool, &loc));
    EXPECT_EQ(fl, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
    CUmemAccessDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.location = loc;
    desc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    CHECK(cuMemPoolSetAccess(default_pool, &desc, 1));
    fl = CU_MEM_ACCESS_FLAGS_PROT_NONE;
    CHECK(cuMemPoolGetAccess(&fl, default_pool, &loc));
    EXPECT_EQ(fl, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
    EXPECT_RESULT(cuMemPoolGetAccess(NULL, default_pool, &loc), CUDA_ERROR_INVALID_VALUE);
    done("pool access");
}

/* Bad arguments; destroyed and forged pools through rgpu. */
static void errors(CUmemoryPool destroyed)
{
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUdeviceptr d = 0;
    EXPECT_RESULT(cuMemAllocAsync(NULL, 4096, s), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemAllocAsync(&d, 0, s), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemAllocFromPoolAsync(NULL, 4096, default_pool, s), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemAllocFromPoolAsync(&d, 0, default_pool, s), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuDeviceGetDefaultMemPool(NULL, dev), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuDeviceGetMemPool(NULL, dev), CUDA_ERROR_INVALID_VALUE);
    CUmemoryPool p = NULL;
    EXPECT_RESULT2(cuDeviceGetDefaultMemPool(&p, 4242), CUDA_ERROR_INVALID_DEVICE, CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemPoolCreate(&p, NULL), CUDA_ERROR_INVALID_VALUE);
    CUmemPoolProps props = device_pool_props();
    EXPECT_RESULT(cuMemPoolCreate(NULL, &props), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuStreamSynchronize(s));

    /* freed twice (the first free has completed) */
    CHECK(cuMemAllocAsync(&d, 4096, s));
    CHECK(cuMemFreeAsync(d, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_ERROR(cuMemFreeAsync(d, s));
    CHECK(cuStreamSynchronize(s));

    /* a destroyed pool's handle (its last allocation freed, so really gone)
     * and a forged one: what NVIDIA's driver does with them is undefined */
    if (round_trips_known()) {
        d = 0;
        EXPECT_RESULT2(cuMemAllocFromPoolAsync(&d, 4096, destroyed, s), CUDA_ERROR_INVALID_HANDLE,
                       CUDA_ERROR_INVALID_VALUE);
        EXPECT_RESULT2(cuMemAllocFromPoolAsync(&d, 4096, (CUmemoryPool)(uintptr_t)0x1234, s),
                       CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_INVALID_VALUE);
        cuuint64_t v;
        EXPECT_RESULT2(cuMemPoolGetAttribute((CUmemoryPool)(uintptr_t)0x1234, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &v),
                       CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_INVALID_VALUE);
        EXPECT_RESULT2(cuMemPoolDestroy(destroyed), CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_INVALID_VALUE);
        EXPECT_RESULT2(cuDeviceSetMemPool(dev, (CUmemoryPool)(uintptr_t)0x1234), CUDA_ERROR_INVALID_HANDLE,
                       CUDA_ERROR_INVALID_VALUE);
        CUmemoryPool cur = NULL;
        CHECK(cuDeviceGetMemPool(&cur, dev));
        EXPECT_TRUE(cur == default_pool);
        /* a pointer no pool gave out */
        EXPECT_ERROR(cuMemFreeAsync((CUdeviceptr)0xdead0000ull, s));
        CHECK(cuStreamSynchronize(s));
    }
    /* the stream and the pool still work */
    enum { NW = 256 };
    uint32_t host[NW];
    CHECK(cuMemAllocAsync(&d, NW * 4, s));
    use_async(d, host, NW, 9, s);
    CHECK(cuMemFreeAsync(d, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_ALLWORDS(host, 10, NW, "after the error cases");
    CHECK(cuStreamDestroy(s));
    done("errors");
}

/* What rgpu leaves unsupported answers an error, never success. */
static void unsupported(void)
{
    if (!round_trips_known())
        return; /* NVIDIA's driver supports all of it */
    CUmemoryPool p = NULL;
    CUmemPoolProps props = device_pool_props();
    props.handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    EXPECT_ERROR(cuMemPoolCreate(&p, &props));
    props = device_pool_props();
    props.location.type = CU_MEM_LOCATION_TYPE_HOST;
    props.location.id = 0;
    EXPECT_ERROR(cuMemPoolCreate(&p, &props));
    /* CUDA 13's calls by location: host and managed pools, refused by
     * rgpu's client whatever the backend */
    get_pool_fn get_default = (get_pool_fn)proc("cuMemGetDefaultMemPool");
    get_pool_fn get_current = (get_pool_fn)proc("cuMemGetMemPool");
    ASSERT_TRUE(get_default && get_current);
    CUmemLocation host = {CU_MEM_LOCATION_TYPE_HOST, 0};
    EXPECT_RESULT(get_default(&p, &host, CU_MEM_ALLOCATION_TYPE_PINNED), CUDA_ERROR_NOT_SUPPORTED);
    CUmemLocation here = {CU_MEM_LOCATION_TYPE_DEVICE, dev};
    EXPECT_RESULT(get_current(&p, &here, CU_MEM_ALLOCATION_TYPE_MANAGED), CUDA_ERROR_NOT_SUPPORTED);

    done("unsupported: export handle types, host pools");
}

/* On a capturing stream an allocation and its free are a graph's memory
 * nodes (tests/integration/cudart/graph_mem.cu runs such graphs). */
static void captured(void)
{
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CUdeviceptr d = 0;
    CHECK(cuMemAllocAsync(&d, 4096, s));
    EXPECT_TRUE(d != 0);
    CHECK(cuMemFreeAsync(d, s));
    CUgraph g = NULL;
    CHECK(cuStreamEndCapture(s, &g));
    CUgraphNode nodes[4];
    size_t n = 4;
    CHECK(cuGraphGetNodes(g, nodes, &n));
    EXPECT_EQ(n, 2);
    CUgraphNodeType t0 = CU_GRAPH_NODE_TYPE_EMPTY, t1 = CU_GRAPH_NODE_TYPE_EMPTY;
    CHECK(cuGraphNodeGetType(nodes[0], &t0));
    CHECK(cuGraphNodeGetType(nodes[1], &t1));
    EXPECT_TRUE((t0 == CU_GRAPH_NODE_TYPE_MEM_ALLOC && t1 == CU_GRAPH_NODE_TYPE_MEM_FREE) ||
                (t1 == CU_GRAPH_NODE_TYPE_MEM_ALLOC && t0 == CU_GRAPH_NODE_TYPE_MEM_FREE));
    CUdeviceptr freed = 0;
    CHECK(cuGraphMemFreeNodeGetParams(t0 == CU_GRAPH_NODE_TYPE_MEM_FREE ? nodes[0] : nodes[1], &freed));
    EXPECT_TRUE(freed == d);
    CHECK(cuGraphDestroy(g));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuStreamDestroy(s));
    done("captured: allocation and free nodes");
}

/* Through rgpu: stream-ordered memory is known to the client. */
static void no_round_trips(void)
{
    if (!round_trips_known())
        return;
    enum { NW = 4096 };
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint32_t *host = it_xmalloc(NW * 4);
    CUdeviceptr d = 0;
    CHECK(cuMemAllocAsync(&d, NW * 4, s));
    launch_inc(d, NW, s); /* the function's first launch is behind us (vmm: funcinfo) */
    uint32_t before = round_trips();
    CHECK(cuMemsetD32Async(d, 0x31, NW, s));
    CHECK(cuMemsetD8Async(d + 8, 0x00, 4, s));
    launch_inc(d, NW, s);
    CHECK(cuMemcpyDtoHAsync(host, d, NW * 4, s));
    CHECK(cuMemcpyHtoDAsync(d + 16, host, 64, s));
    CHECK(cuMemcpyDtoDAsync(d + NW * 2, d, 1024, s));
    EXPECT_EQ(round_trips(), before);
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(host[0], 0x32);
    EXPECT_EQ(host[2], 1);
    EXPECT_EQ(host[NW - 1], 0x32);
    before = round_trips();
    CHECK(cuMemFreeAsync(d, s));
    EXPECT_EQ(round_trips(), before);
    CHECK(cuStreamSynchronize(s));
    CHECK(cuStreamDestroy(s));
    free(host);
    done("no round trips for stream-ordered memory");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    setup();
    default_pools();
    basic();
    stream_order();
    attributes();
    CUmemoryPool destroyed = created_pools();
    max_size();
    pool_access();
    errors(destroyed);
    unsupported();
    captured();
    no_round_trips();
    /* nothing latched along the way */
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
    CHECK(cuModuleUnload(mod));
    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    TEST_DONE();
}
