/*
 * vmm.c — CUDA virtual memory management through rgpud, as ggml's VMM pool
 * uses it (ggml-cuda.cu, ggml_cuda_pool_vmm): the attribute, the recommended
 * granularity, a 32 GiB reservation, chunks created, mapped right after one
 * another, released at once (the mapping keeps them) and made accessible;
 * then a kernel, copies (explicit and unified: cuMemcpy, cuMemcpyAsync) and
 * memsets across the chunk boundary, checked on the host; pointer queries on
 * mapped addresses; one allocation mapped twice; forged and released handles
 * refused by the server; a kernel on reserved but unmapped memory faulting
 * its context with ILLEGAL_ADDRESS; the pool's teardown (one cuMemUnmap
 * over every chunk, cuMemAddressFree) giving the memory back. Asynchronous
 * copies and memsets into mapped memory do not wait for a reply through
 * rgpu; into unmapped addresses they fail at call time.
 *
 * First, a child copy of this program ("leaker") maps VMM memory and exits
 * without unmapping or releasing anything: once its worker is gone, the
 * device's free memory must be whole again.
 */
#include "check.h"
#include "inc_ptx.h"
#include "it_client.h"

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESERVE (32ull << 30) /* ggml: CUDA_POOL_VMM_MAX_SIZE */


static CUdevice dev;

static CUmemAllocationProp device_prop(void)
{
    CUmemAllocationProp p;
    memset(&p, 0, sizeof p);
    p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.location.id = dev;
    return p;
}

static void set_rw(CUdeviceptr va, size_t size)
{
    CUmemAccessDesc d;
    memset(&d, 0, sizeof d);
    d.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    d.location.id = dev;
    d.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    CHECK(cuMemSetAccess(va, size, &d, 1));
}

/* What ggml's pool does to grow by size bytes at pool + used. */
static void grow(CUdeviceptr at, size_t size)
{
    CUmemAllocationProp p = device_prop();
    CUmemGenericAllocationHandle h;
    CHECK(cuMemCreate(&h, size, &p, 0));
    CHECK(cuMemMap(at, size, 0, h, 0));
    CHECK(cuMemRelease(h));
    set_rw(at, size);
}

static void setup(void)
{
    CUcontext ctx;
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
}

static size_t free_now(size_t *total)
{
    size_t f = 0, t = 0;
    CHECK(cuMemGetInfo(&f, &t));
    if (total)
        *total = t;
    return f;
}

static int mode_leaker(void)
{
    setup();
    size_t g, total;
    CUmemAllocationProp p = device_prop();
    CHECK(cuMemGetAllocationGranularity(&g, &p, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
    CUdeviceptr va;
    CHECK(cuMemAddressReserve(&va, RESERVE, 0, 0, 0));
    grow(va, 4 * g);
    CUmemGenericAllocationHandle h;
    CHECK(cuMemCreate(&h, 2 * g, &p, 0)); /* never mapped, never released */
    CHECK(cuMemsetD8(va, 0x11, 4 * g));
    size_t f = free_now(&total);
    printf("LEAKED %zu FREE %zu TOTAL %zu\n", 6 * g, f, total);
    fflush(stdout);
    _exit(it_failures ? 1 : 0); /* no cleanup at all */
}

/* Run the leaker; true once the device's memory is whole again. */
static void leak_returns(const char *self)
{
    /* what is free before the leaker: on a GPU, never the total */
    setup();
    size_t total, base = free_now(&total);
    int fds[2];
    ASSERT_TRUE(pipe(fds) == 0);
    pid_t c = fork();
    if (c == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(self, self, "leaker", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[256] = {0};
    FILE *f = fdopen(fds[0], "r");
    ASSERT_TRUE(f != NULL);
    int got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    int st = 0;
    waitpid(c, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    size_t leaked = 0, lfree = 0, ltotal = 0;
    EXPECT_TRUE(got && sscanf(line, "LEAKED %zu FREE %zu TOTAL %zu", &leaked, &lfree, &ltotal) == 3);
    /* the leaker's memory was counted while it lived */
    EXPECT_TRUE(leaked > 0 && lfree + leaked <= ltotal);

    size_t fr = free_now(NULL);
    /* its worker exits after the connection closes: wait for that (bounded) */
    for (int i = 0; i < 300 && fr < base; i++) {
        it_sleep_ms(100);
        fr = free_now(NULL);
    }
    EXPECT_TRUE(fr >= base);
    if (it_backend_is_cpu())
        EXPECT_EQ(fr, total);
}

static void check_words(CUdeviceptr x, const uint32_t *model, size_t nwords, const char *what)
{
    uint32_t *back = it_xmalloc(nwords * 4);
    memset(back, 0xA5, nwords * 4);
    CHECK(cuMemcpyDtoH(back, x, nwords * 4));
    EXPECT_MEMEQ(back, model, nwords * 4, what);
    free(back);
}

static void pool(void)
{
    int vmm = 0;
    CHECK(cuDeviceGetAttribute(&vmm, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev));
    ASSERT_EQ(vmm, 1);
    size_t g = 0, gmin = 0, total;
    CUmemAllocationProp p = device_prop();
    CHECK(cuMemGetAllocationGranularity(&g, &p, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
    CHECK(cuMemGetAllocationGranularity(&gmin, &p, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    ASSERT_TRUE(g > 0 && gmin > 0 && g % gmin == 0);
    size_t before = free_now(&total);

    CUdeviceptr pool_addr = 0;
    CHECK(cuMemAddressReserve(&pool_addr, RESERVE, 0, 0, 0));
    EXPECT_EQ(pool_addr % g, 0);
    EXPECT_EQ(free_now(NULL), before); /* address space only */
    size_t c1 = g, c2 = 2 * g, pool_size = 0;
    grow(pool_addr, c1);
    pool_size += c1;
    grow(pool_addr + pool_size, c2);
    pool_size += c2;
    EXPECT_EQ(free_now(NULL), before - pool_size);

    /* a buffer across the chunk boundary, filled by an unaligned unified copy */
    enum { NW = 8192 };
    CUdeviceptr x = pool_addr + c1 - NW * 2;
    uint32_t *model = it_xmalloc(NW * 4);
    it_fill(model, NW * 4, 42);
    CHECK(cuMemcpy(x, (CUdeviceptr)(uintptr_t)model, NW * 4));
    check_words(x, model, NW, "unified HtoD across the boundary");

    /* the kernel over the boundary */
    CUmodule m;
    CUfunction f;
    CHECK(cuModuleLoadData(&m, inc_ptx));
    CHECK(cuModuleGetFunction(&f, m, "inc"));
    unsigned n = NW;
    void *args[] = {&x, &n};
    CHECK(cuLaunchKernel(f, NW / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    CHECK(cuCtxSynchronize());
    for (int i = 0; i < NW; i++)
        model[i]++;
    check_words(x, model, NW, "kernel across the boundary");

    /* device to device and back with unified addressing, asynchronously */
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUdeviceptr y = pool_addr + pool_size - NW * 4;
    CHECK(cuMemcpyAsync(y, x, NW * 4, s));
    uint32_t *back = it_xmalloc(NW * 4);
    CHECK(cuMemcpyAsync((CUdeviceptr)(uintptr_t)back, y, NW * 4, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_MEMEQ(back, model, NW * 4, "unified DtoD + DtoH");
    CHECK(cuMemsetD32(x + 4, 0xfeedf00du, NW - 2));
    for (int i = 1; i < NW - 1; i++)
        model[i] = 0xfeedf00du;
    check_words(x, model, NW, "memset across the boundary");
    /* asynchronously, across the boundary: nothing waits for a reply */
    uint32_t trips = round_trips();
    CHECK(cuMemsetD32Async(x + 8, 0x5eed5eedu, NW - 4, s));
    CHECK(cuMemcpyDtoDAsync(y, x, NW * 4, s));
    CHECK(cuMemcpyDtoHAsync(back, y, NW * 4, s));
    EXPECT_EQ(round_trips(), trips);
    CHECK(cuStreamSynchronize(s));
    for (int i = 2; i < NW - 2; i++)
        model[i] = 0x5eed5eedu;
    EXPECT_MEMEQ(back, model, NW * 4, "async memset across the boundary");

    /* pointer queries on mapped addresses */
    unsigned mt = 0;
    CHECK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, x + 8));
    EXPECT_EQ(mt, CU_MEMORYTYPE_DEVICE);
    CUdeviceptr base = 0;
    size_t size = 0;
    CHECK(cuMemGetAddressRange(&base, &size, pool_addr + c1 + 5));
    EXPECT_EQ(base, pool_addr + c1);
    EXPECT_EQ(size, c2);
    unsigned long long acc = 0;
    CUmemLocation loc = {CU_MEM_LOCATION_TYPE_DEVICE, dev};
    CHECK(cuMemGetAccess(&acc, &loc, x));
    EXPECT_EQ(acc, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
    CUmemGenericAllocationHandle rh = 0;
    CHECK(cuMemRetainAllocationHandle(&rh, (void *)(uintptr_t)(pool_addr + 100)));
    CUmemAllocationProp got;
    CHECK(cuMemGetAllocationPropertiesFromHandle(&got, rh));
    EXPECT_EQ(got.type, CU_MEM_ALLOCATION_TYPE_PINNED);
    EXPECT_EQ(got.location.id, dev);
    CHECK(cuMemRelease(rh));
    /* released to zero: the server no longer knows it */
    EXPECT_RESULT(cuMemGetAllocationPropertiesFromHandle(&got, rh), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemRelease(rh), CUDA_ERROR_INVALID_VALUE);

    /* forged handles never reach the backend */
    EXPECT_RESULT(cuMemMap(pool_addr + pool_size, g, 0, 0x123456789ull, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemRelease(0x42), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemGetAllocationPropertiesFromHandle(&got, 7), CUDA_ERROR_INVALID_VALUE);
    /* nor do bad descriptors */
    EXPECT_RESULT(cuMemSetAccess(pool_addr, c1, NULL, 1), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemGetAllocationGranularity(&g, NULL, CU_MEM_ALLOC_GRANULARITY_MINIMUM), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemCreate(&rh, g, NULL, 0), CUDA_ERROR_INVALID_VALUE);

    /* one allocation, two views, past the pool's chunks */
    CUmemGenericAllocationHandle h2;
    CHECK(cuMemCreate(&h2, g, &p, 0));
    CUdeviceptr v1 = pool_addr + 8 * g, v2 = pool_addr + 12 * g;
    CHECK(cuMemMap(v1, g, 0, h2, 0));
    CHECK(cuMemMap(v2, g, 0, h2, 0));
    EXPECT_RESULT(cuMemMap(v2, g, 0, h2, 0), CUDA_ERROR_INVALID_VALUE); /* already mapped there */
    set_rw(v1, g);
    set_rw(v2, g);
    uint64_t word = 0x0123456789abcdefull, w2 = 0;
    CHECK(cuMemcpyHtoD(v1 + 4096, &word, 8));
    CHECK(cuMemcpyDtoH(&w2, v2 + 4096, 8));
    EXPECT_EQ(w2, word);
    EXPECT_EQ(free_now(NULL), before - pool_size - g);
    CHECK(cuMemUnmap(v1, g));
    CHECK(cuMemUnmap(v2, g));
    CHECK(cuMemRelease(h2));
    EXPECT_EQ(free_now(NULL), before - pool_size);
    /* unmapped: copies refused, unified ones included */
    EXPECT_RESULT(cuMemcpyHtoD(v1, &word, 8), CUDA_ERROR_INVALID_VALUE);
    EXPECT_ERROR(cuMemcpy(v2, (CUdeviceptr)(uintptr_t)&word, 8));
    EXPECT_RESULT(cuMemsetD8Async(v1, 0, 8, s), CUDA_ERROR_INVALID_VALUE); /* at call time */
    CHECK(cuStreamSynchronize(s));

    /* a kernel on reserved but unmapped memory faults its own context; on a
     * GPU a fault poisons the whole process (launch_fault.c checks that),
     * only the CPU device's contexts are isolated */
    if (it_backend_is_cpu()) {
        CUcontext c;
        CUmodule cm;
        CUfunction cf;
        CHECK(cuCtxCreate(&c, NULL, 0, dev));
        CHECK(cuModuleLoadData(&cm, inc_ptx));
        CHECK(cuModuleGetFunction(&cf, cm, "inc"));
        CUdeviceptr bad = pool_addr + pool_size - 256; /* 64 words mapped, then nothing */
        unsigned bn = 1024;
        void *bargs[] = {&bad, &bn};
        EXPECT_RESULT2(cuLaunchKernel(cf, 4, 1, 1, 256, 1, 1, 0, NULL, bargs, NULL), CUDA_SUCCESS,
                       CUDA_ERROR_ILLEGAL_ADDRESS);
        EXPECT_RESULT(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
        CHECK(cuCtxDestroy(c));
        CUcontext primary;
        CHECK(cuDevicePrimaryCtxRetain(&primary, dev));
        CHECK(cuCtxSetCurrent(primary));
        CHECK(cuDevicePrimaryCtxRelease(dev));
        /* the pool's memory is untouched by the fault */
        check_words(x, model, NW, "after another context's fault");
    }

    /* ggml's teardown: one unmap over all chunks, then the reservation */
    CHECK(cuStreamDestroy(s));
    CHECK(cuModuleUnload(m));
    CHECK(cuMemUnmap(pool_addr, pool_size));
    EXPECT_RESULT(cuMemsetD8Async(x, 0, 8, NULL), CUDA_ERROR_INVALID_VALUE); /* at call time */
    CHECK(cuCtxSynchronize());
    CHECK(cuMemAddressFree(pool_addr, RESERVE));
    EXPECT_EQ(free_now(NULL), before);
    /* the reservation is gone: its addresses are nobody's */
    EXPECT_RESULT(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, x), CUDA_ERROR_INVALID_VALUE);
    free(model);
    free(back);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "leaker") == 0)
        return mode_leaker();
    leak_returns("/proc/self/exe");
    pool();
    TEST_DONE();
}
