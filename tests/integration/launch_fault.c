/*
 * launch_fault.c — a kernel that writes far outside any allocation.
 *
 * Covers: the launch itself succeeds (it is asynchronous); the fault comes
 * back as CUDA_ERROR_ILLEGAL_ADDRESS at the next synchronisation —
 * cuStreamSynchronize on a created stream, cuCtxSynchronize after a launch
 * on the legacy stream, cuEventSynchronize on an event recorded after the
 * kernel — and then sticks to that context (synchronisations, allocations,
 * copies and launches fail) until it is destroyed; a fresh context (and the
 * primary context) then works again, modules and launches included. On the
 * CPU device, a context created before the fault and never faulting keeps
 * working throughout.
 *
 * Its own program, so that modules.c runs whatever happens here.
 * Usage: launch_fault KERNEL_DIR (see it_images.h).
 */
#include "check.h"
#include "it_images.h"

static CUdevice dev;
static struct it_image fatbin;

/* far past the allocation: 1 TiB */
static const long long OOB_INDEX = (1LL << 40) / (long long)sizeof(int);

static CUfunction get_fn(CUmodule m, const char *name)
{
    CUfunction f = NULL;
    CHECK(cuModuleGetFunction(&f, m, name));
    return f;
}

/* vec_add over n floats in the current context on the legacy stream */
static void vec_add_works(CUmodule m, const char *what)
{
    enum { N = 500 };
    float a[N], c[N];
    int n = N;
    for (int i = 0; i < N; i++)
        a[i] = (float)i;
    CUdeviceptr da, dc;
    CHECK(cuMemAlloc(&da, sizeof a));
    CHECK(cuMemAlloc(&dc, sizeof c));
    CHECK(cuMemcpyHtoD(da, a, sizeof a));
    void *args[] = {&da, &da, &dc, &n};
    CHECK(cuLaunchKernel(get_fn(m, "vec_add"), 4, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(c, dc, sizeof c));
    for (int i = 0; i < N; i++)
        if (c[i] != 2.0f * a[i]) {
            it_fail(__FILE__, __LINE__, "%s: vec_add c[%d] = %g, expected %g", what, i, (double)c[i],
                    (double)(2.0f * a[i]));
            break;
        }
    CHECK(cuMemFree(da));
    CHECK(cuMemFree(dc));
}

/* after a fault: everything in the context reports it */
static void expect_sticky(CUstream s, CUdeviceptr p, CUfunction va, const char *what)
{
    fprintf(stderr, "-- sticky error after: %s\n", what);
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
    if (s)
        EXPECT_RESULT(cuStreamSynchronize(s), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_RESULT(cuStreamSynchronize(NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    CUdeviceptr q = 0;
    EXPECT_RESULT(cuMemAlloc(&q, 64), CUDA_ERROR_ILLEGAL_ADDRESS);
    int v = 5;
    EXPECT_RESULT(cuMemcpyHtoD(p, &v, sizeof v), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_RESULT(cuMemcpyDtoH(&v, p, sizeof v), CUDA_ERROR_ILLEGAL_ADDRESS);
    /* a launch fails at once or at the next synchronisation; either way it
     * does not make the context usable again */
    int n = 1;
    void *args[] = {&p, &p, &p, &n};
    EXPECT_RESULT2(cuLaunchKernel(va, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL), CUDA_SUCCESS,
                   CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
    /* the context itself is still current and can be asked about */
    CUcontext cur = NULL;
    CHECK(cuCtxGetCurrent(&cur));
    EXPECT_TRUE(cur != NULL);
}

/* launch write_oob in the current context; the launch call itself succeeds */
static void launch_oob(CUmodule m, CUstream s, CUdeviceptr p)
{
    long long idx = OOB_INDEX;
    void *args[] = {&p, &idx};
    EXPECT_RESULT(cuLaunchKernel(get_fn(m, "write_oob"), 1, 1, 1, 32, 1, 1, 0, s, args, NULL), CUDA_SUCCESS);
}

/* on the CPU device, a context that did not fault is not affected */
static void bystander_works(CUcontext bystander, CUmodule bm, const char *what)
{
    if (!it_backend_is_cpu())
        return;
    fprintf(stderr, "-- bystander context after: %s\n", what);
    CHECK(cuCtxPushCurrent(bystander));
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
    vec_add_works(bm, what);
    CUcontext popped;
    CHECK(cuCtxPopCurrent(&popped));
    EXPECT_TRUE(popped == bystander);
}

int main(int argc, char **argv)
{
    it_image_load(&fatbin, it_kernel_dir(argc, argv), IT_FATBIN);
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));

    /* a bystander context with a module of its own, created first */
    CUcontext bystander;
    CUmodule bm;
    CHECK(cuCtxCreate(&bystander, NULL, 0, dev));
    CHECK(cuModuleLoadData(&bm, fatbin.data));
    vec_add_works(bm, "bystander before any fault");
    CHECK(cuCtxPopCurrent(NULL));

    /* 1: a created stream; cuStreamSynchronize reports the fault */
    {
        fprintf(stderr, "-- fault 1: created stream, cuStreamSynchronize\n");
        CUcontext c;
        CUmodule m;
        CUstream s;
        CUdeviceptr p;
        CHECK(cuCtxCreate(&c, NULL, 0, dev));
        CHECK(cuModuleLoadData(&m, fatbin.data));
        vec_add_works(m, "context 1 before its fault");
        CUfunction va = get_fn(m, "vec_add");
        CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
        /* an idle stream, synchronised before the fault (rgpu's client
         * answers such synchronisations itself, client/streamidle.c): once
         * the fault is known, it reports it too */
        CUstream idle;
        CHECK(cuStreamCreate(&idle, CU_STREAM_NON_BLOCKING));
        CHECK(cuMemAlloc(&p, 256));
        CUfunction oob = get_fn(m, "write_oob");
        const char *oob_name = NULL;
        CHECK(cuFuncGetName(&oob_name, oob)); /* rgpu: what the launch needs to know, asked now */
        CHECK(cuStreamSynchronize(idle));
        CHECK(cuStreamSynchronize(idle));
        long long idx = OOB_INDEX;
        void *oob_args[] = {&p, &idx};
        EXPECT_RESULT(cuLaunchKernel(oob, 1, 1, 1, 32, 1, 1, 0, s, oob_args, NULL), CUDA_SUCCESS);
        EXPECT_RESULT(cuStreamSynchronize(s), CUDA_ERROR_ILLEGAL_ADDRESS);
        EXPECT_RESULT(cuStreamSynchronize(idle), CUDA_ERROR_ILLEGAL_ADDRESS);
        EXPECT_RESULT(cuStreamQuery(idle), CUDA_ERROR_ILLEGAL_ADDRESS);
        expect_sticky(s, p, va, "fault 1");
        bystander_works(bystander, bm, "fault 1");
        /* the faulted context is current again after the bystander's turn */
        EXPECT_RESULT(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
        EXPECT_RESULT(cuCtxDestroy(c), CUDA_SUCCESS);
    }

    /* On a GPU a fault poisons the whole process (NVIDIA's driver then
     * refuses new contexts too): the worker is that process, and the client
     * sees what a native program sees. The faults below are the CPU device's,
     * whose contexts are isolated. */
    if (!it_backend_is_cpu()) {
        CUcontext c;
        EXPECT_RESULT(cuCtxCreate(&c, NULL, 0, dev), CUDA_ERROR_ILLEGAL_ADDRESS);
        it_image_free(&fatbin);
        TEST_DONE();
    }

    /* 2: a fresh context works; the legacy stream and cuCtxSynchronize */
    {
        fprintf(stderr, "-- fault 2: fresh context, legacy stream, cuCtxSynchronize\n");
        CUcontext c;
        CUmodule m;
        CUdeviceptr p;
        CHECK(cuCtxCreate(&c, NULL, 0, dev));
        EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
        CHECK(cuModuleLoadData(&m, fatbin.data));
        vec_add_works(m, "fresh context after fault 1");
        CUfunction va = get_fn(m, "vec_add");
        CHECK(cuMemAlloc(&p, 256));
        launch_oob(m, NULL, p);
        EXPECT_RESULT(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
        expect_sticky(NULL, p, va, "fault 2");
        EXPECT_RESULT(cuCtxDestroy(c), CUDA_SUCCESS);
    }

    /* 3: an event recorded after the faulting kernel reports it */
    {
        fprintf(stderr, "-- fault 3: cuEventSynchronize\n");
        CUcontext c;
        CUmodule m;
        CUstream s;
        CUevent e;
        CUdeviceptr p;
        CHECK(cuCtxCreate(&c, NULL, 0, dev));
        CHECK(cuModuleLoadData(&m, fatbin.data));
        vec_add_works(m, "fresh context after fault 2");
        CUfunction va = get_fn(m, "vec_add");
        CHECK(cuStreamCreate(&s, 0));
        CHECK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
        CHECK(cuMemAlloc(&p, 256));
        launch_oob(m, s, p);
        CHECK(cuEventRecord(e, s));
        EXPECT_RESULT(cuEventSynchronize(e), CUDA_ERROR_ILLEGAL_ADDRESS);
        expect_sticky(s, p, va, "fault 3");
        EXPECT_RESULT(cuCtxDestroy(c), CUDA_SUCCESS);
    }

    bystander_works(bystander, bm, "fault 3");

    /* the primary context works after all of that */
    {
        fprintf(stderr, "-- primary context after the faults\n");
        CUcontext pc;
        CUmodule m;
        CHECK(cuDevicePrimaryCtxRetain(&pc, dev));
        CHECK(cuCtxSetCurrent(pc));
        EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
        CHECK(cuModuleLoadData(&m, fatbin.data));
        vec_add_works(m, "primary context after the faults");
        CHECK(cuModuleUnload(m));
        CHECK(cuCtxSetCurrent(NULL));
        CHECK(cuDevicePrimaryCtxRelease(dev));
    }

    CHECK(cuCtxDestroy(bystander));
    it_image_free(&fatbin);
    TEST_DONE();
}
