/*
 * quota.c — rgpud --memory-limit (server/quota.h) through libcuda and NVML:
 * quota LIMIT_MiB, run against an rgpud started with --memory-limit LIMIT_MiB M.
 *
 * The device's memory is the tenant's: cuDeviceTotalMem, cuMemGetInfo and
 * nvmlDeviceGetMemoryInfo say the limit is the total and free falls by each
 * allocation. An allocation past the limit fails with OUT_OF_MEMORY, and
 * every kind gives its part back when freed: cuMemAlloc, pitched (the
 * backend's padding counted, and a pitched allocation refused when only the
 * padding is past the limit), stream-ordered (given back at cuMemFreeAsync;
 * a pool's own maxSize refusing takes nothing),
 * VMM (held while mapped after its handle is released), CUDA arrays, and memory of a
 * destroyed context; four threads allocating and freeing at once leave the
 * count where it was. A second client (a child process: another connection,
 * another worker) shares the limit, and its share comes back when it is
 * killed without freeing anything.
 */
#define NVML_NO_UNVERSIONED_FUNC_DEFS 1
#include <nvml.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MiB (1ull << 20)

static uint64_t limit;
static CUdevice dev;

static size_t free_now(void)
{
    size_t free = 0, total = 0;
    CHECK(cuMemGetInfo(&free, &total));
    EXPECT_EQ(total, limit);
    return free;
}

/* The child: wait for 'g', allocate `held` bytes, say so, wait to be killed. */
static int child(int in, int out, uint64_t held)
{
    char c;
    CUcontext ctx;
    CUdeviceptr p;
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a parent that aborts takes it along */
    if (read(in, &c, 1) != 1 || c != 'g')
        return 2;
    CHECK(cuInit(0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, 0));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuMemAlloc(&p, held));
    if (write(out, "h", 1) != 1)
        return 4;
    for (;;)
        pause();
}

static void totals(void)
{
    size_t total = 0;
    CHECK(cuDeviceTotalMem(&total, dev));
    EXPECT_EQ(total, limit);
    EXPECT_EQ(free_now(), limit);
}

static void plain(void)
{
    CUdeviceptr a, b, c;
    CHECK(cuMemAlloc(&a, limit - 24 * MiB));
    EXPECT_EQ(free_now(), 24 * MiB);
    EXPECT_RESULT(cuMemAlloc(&b, 30 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    EXPECT_EQ(free_now(), 24 * MiB); /* the refusal took nothing */
    CHECK(cuMemAlloc(&b, 24 * MiB)); /* exactly what is left */
    EXPECT_EQ(free_now(), 0);
    EXPECT_RESULT(cuMemAlloc(&c, 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(cuMemFree(a));
    EXPECT_EQ(free_now(), limit - 24 * MiB);
    CHECK(cuMemFree(b));
    EXPECT_EQ(free_now(), limit);
    /* a failed free gives nothing back */
    EXPECT_ERROR(cuMemFree(b));
    EXPECT_EQ(free_now(), limit);
    printf("quota: cuMemAlloc/cuMemFree: done\n");
}

static void pitched(void)
{
    CUdeviceptr p;
    size_t pitch = 0;
    CHECK(cuMemAllocPitch(&p, &pitch, 1000, 1000, 4));
    EXPECT_GE(pitch, 1000);
    EXPECT_EQ(free_now(), limit - pitch * 1000);
    CHECK(cuMemFree(p));
    EXPECT_EQ(free_now(), limit);
    if (pitch == 1000) {
        printf("quota: pitched: the device pads no rows: the padding case does not arise\n");
        return;
    }
    /* the rows fit, the padded rows do not */
    size_t height = limit / pitch + 1;
    ASSERT_TRUE(1000 * height <= limit);
    EXPECT_RESULT(cuMemAllocPitch(&p, &pitch, 1000, height, 4), CUDA_ERROR_OUT_OF_MEMORY);
    EXPECT_EQ(free_now(), limit);
    printf("quota: cuMemAllocPitch (pitch %zu): done\n", pitch);
}

static void stream_ordered(void)
{
    CUstream s;
    CUdeviceptr a, b;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuMemAllocAsync(&a, 40 * MiB, s));
    EXPECT_EQ(free_now(), limit - 40 * MiB);
    EXPECT_RESULT(cuMemAllocAsync(&b, limit - 39 * MiB, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(cuMemsetD8Async(a, 7, 40 * MiB, s));
    CHECK(cuMemFreeAsync(a, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(free_now(), limit);
    CHECK(cuMemAllocAsync(&b, limit - 39 * MiB, s));
    CHECK(cuMemFreeAsync(b, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(free_now(), limit);

    /* a pool's own limit refuses: the refusal takes nothing of rgpud's */
    CUmemPoolProps props = {.allocType = CU_MEM_ALLOCATION_TYPE_PINNED,
                            .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev},
                            .maxSize = 4 * MiB};
    CUmemoryPool pool;
    CHECK(cuMemPoolCreate(&pool, &props));
    EXPECT_RESULT(cuMemAllocFromPoolAsync(&b, 8 * MiB, pool, s), CUDA_ERROR_OUT_OF_MEMORY);
    EXPECT_EQ(free_now(), limit);
    CHECK(cuMemAllocFromPoolAsync(&b, 2 * MiB, pool, s));
    EXPECT_EQ(free_now(), limit - 2 * MiB);
    CHECK(cuMemFreeAsync(b, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemPoolDestroy(pool));
    EXPECT_EQ(free_now(), limit);

    /* a free that fails gives nothing back, and the memory can be freed after */
    CHECK(cuMemAlloc(&a, 8 * MiB));
    CHECK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
    CUresult r = cuMemFreeAsync(a, s);
    CUgraph g = NULL;
    (void)cuStreamEndCapture(s, &g);
    if (g)
        CHECK(cuGraphDestroy(g));
    if (r != CUDA_SUCCESS) {
        EXPECT_EQ(free_now(), limit - 8 * MiB);
        CHECK(cuMemFree(a));
        EXPECT_EQ(free_now(), limit);
    } else {
        printf("quota: this device frees into a captured graph: the failed free does not arise\n");
        CHECK(cuMemFree(a));
    }
    CHECK(cuStreamDestroy(s));
    printf("quota: cuMemAllocAsync/cuMemFreeAsync: done\n");
}

static void vmm(void)
{
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev}};
    size_t gran = 0;
    CHECK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    size_t size = (40 * MiB + gran - 1) / gran * gran;
    ASSERT_TRUE(2 * size > limit && size < limit);
    CUmemGenericAllocationHandle h, h2;
    CUdeviceptr va, p;
    CUmemAllocationProp elsewhere = prop;
    elsewhere.location.id = 99;
    EXPECT_ERROR(cuMemCreate(&h, size, &elsewhere, 0));
    EXPECT_EQ(free_now(), limit); /* a refused allocation takes nothing */
    CHECK(cuMemCreate(&h, size, &prop, 0));
    EXPECT_EQ(free_now(), limit - size);
    EXPECT_RESULT(cuMemCreate(&h2, size, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(cuMemAddressReserve(&va, 2 * size, 0, 0, 0));
    CHECK(cuMemMap(va, size, 0, h, 0));
    CHECK(cuMemMap(va + size, size, 0, h, 0)); /* two views of one allocation: counted once */
    CHECK(cuMemRelease(h));
    EXPECT_EQ(free_now(), limit - size); /* mapped: still held */
    EXPECT_RESULT(cuMemAlloc(&p, limit - size + 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(cuMemUnmap(va, size));
    EXPECT_EQ(free_now(), limit - size); /* one view left */
    CHECK(cuMemUnmap(va + size, size));
    EXPECT_EQ(free_now(), limit);
    CHECK(cuMemAddressFree(va, 2 * size));
    /* released while never mapped */
    CHECK(cuMemCreate(&h, size, &prop, 0));
    CHECK(cuMemRelease(h));
    EXPECT_EQ(free_now(), limit);
    printf("quota: cuMemCreate/cuMemMap/cuMemRelease/cuMemUnmap: done\n");
}

static void arrays(void)
{
    CUDA_ARRAY_DESCRIPTOR d = {.Width = 1024, .Height = 1024, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    CUarray a, b;
    CHECK(cuArrayCreate(&a, &d)); /* 16 MiB of elements */
    EXPECT_EQ(free_now(), limit - 16 * MiB);
    d.Height = (unsigned)(limit / (1024 * 16)); /* all of it: 16 MiB more than is left */
    EXPECT_RESULT(cuArrayCreate(&b, &d), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(cuArrayDestroy(a));
    EXPECT_EQ(free_now(), limit);
    printf("quota: CUDA arrays: done\n");
}

static void destroyed_context(CUcontext keep)
{
    CUcontext other;
    CUdeviceptr p;
    CHECK(cuCtxCreate(&other, NULL, 0, dev));
    CHECK(cuMemAlloc(&p, limit - 10 * MiB));
    EXPECT_EQ(free_now(), 10 * MiB);
    CHECK(cuCtxDestroy(other));
    CHECK(cuCtxSetCurrent(keep));
    EXPECT_EQ(free_now(), limit);
    printf("quota: a destroyed context's memory: done\n");
}

/* Frees run off rgpud's reader while allocations run on it; whatever their
 * interleaving, the count ends where it began. */
static CUcontext shared_ctx;
static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    CHECK(cuCtxSetCurrent(shared_ctx));
    for (int i = 0; i < 300; i++) {
        CUdeviceptr p;
        size_t n = (size_t)(1 + rand_r(&seed) % 4) * MiB + (size_t)(rand_r(&seed) % 4096);
        CUresult r = cuMemAlloc(&p, n);
        if (r == CUDA_SUCCESS)
            CHECK(cuMemFree(p));
        else
            EXPECT_EQ(r, CUDA_ERROR_OUT_OF_MEMORY);
    }
    return NULL;
}

static void threads(CUcontext ctx)
{
    pthread_t t[4];
    shared_ctx = ctx;
    for (uintptr_t i = 0; i < 4; i++)
        ASSERT_TRUE(pthread_create(&t[i], NULL, churn, (void *)(i + 1)) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    EXPECT_EQ(free_now(), limit);
    printf("quota: 4 threads allocating and freeing: done\n");
}

static void nvml_agrees(void)
{
    nvmlDevice_t d;
    nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
    nvmlMemory_t m1;
    CUdeviceptr p;
    if (nvmlInit_v2() != NVML_SUCCESS) {
        it_fail(__FILE__, __LINE__, "nvmlInit_v2 failed");
        return;
    }
    EXPECT_EQ(nvmlDeviceGetHandleByIndex_v2(0, &d), NVML_SUCCESS);
    uint64_t n = 16 * MiB + 1; /* counted as asked, whatever the device rounds it to */
    CHECK(cuMemAlloc(&p, n));
    EXPECT_EQ(nvmlDeviceGetMemoryInfo_v2(d, &m), NVML_SUCCESS);
    EXPECT_EQ(m.total, limit);
    EXPECT_EQ(m.free, limit - n);
    EXPECT_EQ(m.used + m.reserved, n);
    EXPECT_EQ(nvmlDeviceGetMemoryInfo(d, &m1), NVML_SUCCESS);
    EXPECT_EQ(m1.total, limit);
    EXPECT_EQ(m1.free, limit - n);
    EXPECT_EQ(m1.used, n);
    CHECK(cuMemFree(p));
    EXPECT_EQ(nvmlShutdown(), NVML_SUCCESS);
    printf("quota: NVML memory info: done\n");
}

static void shared_with_another_client(int to_child, int from_child, pid_t pid)
{
    char c;
    CUdeviceptr p;
    ASSERT_TRUE(write(to_child, "g", 1) == 1);
    ASSERT_TRUE(read(from_child, &c, 1) == 1 && c == 'h');
    EXPECT_EQ(free_now(), limit - 40 * MiB);
    EXPECT_RESULT(cuMemAlloc(&p, limit - 39 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* rgpud reaps the worker once it sees the connection close */
    double until = it_now() + 20;
    while (free_now() != limit && it_now() < until)
        it_sleep_ms(20);
    EXPECT_EQ(free_now(), limit);
    CHECK(cuMemAlloc(&p, limit - 39 * MiB));
    CHECK(cuMemFree(p));
    printf("quota: shared with a second client, given back when it is killed: done\n");
}

int main(int argc, char **argv)
{
    if (argc != 2 || atoi(argv[1]) < 64) {
        fprintf(stderr, "usage: %s LIMIT_MiB (at least 64; rgpud runs with --memory-limit LIMIT_MiB M)\n", argv[0]);
        return 2;
    }
    limit = (uint64_t)atoi(argv[1]) * MiB;
    /* the child forks before this process touches CUDA: its connection is its own */
    int down[2], up[2];
    ASSERT_TRUE(pipe(down) == 0 && pipe(up) == 0);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        _exit(child(down[0], up[1], 40 * MiB));
    }
    close(down[0]);
    close(up[1]);

    CUcontext ctx;
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    totals();
    plain();
    pitched();
    stream_ordered();
    vmm();
    arrays();
    destroyed_context(ctx);
    threads(ctx);
    nvml_agrees();
    shared_with_another_client(down[1], up[0], pid);
    CHECK(cuDevicePrimaryCtxRelease(dev));
    TEST_DONE();
}
