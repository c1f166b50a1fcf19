/*
 * streams_ptds.c — the per-thread default stream, as a program built with
 * nvcc --default-stream per-thread sees it: with CUDA_API_PER_THREAD_DEFAULT_STREAM
 * defined before cuda.h, stream 0 means "this thread's default stream" and
 * the calls resolve to the _ptsz / _ptds entry points of libcuda.so.1.
 *
 * Part of the streams test (ptds_checks() is called from streams.c).
 */
#define CUDA_API_PER_THREAD_DEFAULT_STREAM 1
#include "check.h"
#include "gate.h"

#include <pthread.h>

int ptds_checks(CUcontext ctx);

struct ptds_arg {
    CUcontext ctx;
    int idx;
    struct gate *g;       /* independence test: A waits in a host function... */
    int role;             /* 0: plain worker, 1: A (blocked), 2: B (releases A) */
    double sync_seconds;  /* A: how long its cuStreamSynchronize(0) took */
};

/* copies and memsets on stream 0 (= this thread's default stream) */
static void ptds_work(int idx)
{
    const size_t n = 65537;
    CUdeviceptr d;
    unsigned char *h = it_xmalloc(n), *src = it_xmalloc(n);
    char what[96];
    CHECK(cuMemAlloc(&d, n));
    for (int round = 0; round < 40; round++) {
        unsigned char v = (unsigned char)(idx * 40 + round + 1);
        /* async forms on stream 0 (the _ptsz entry points) */
        CHECK(cuMemsetD8Async(d, v, n, 0));
        CHECK(cuMemcpyDtoHAsync(h, d, n, 0));
        CHECK(cuStreamSynchronize(0));
        snprintf(what, sizeof what, "ptds thread %d round %d memset+DtoHAsync", idx, round);
        EXPECT_ALLBYTES(h, v, n, what);
        /* synchronous forms (the _ptds entry points) */
        it_fill(src, n, (uint64_t)(idx * 1000 + round));
        CHECK(cuMemcpyHtoD(d, src, n));
        CHECK(cuMemsetD8(d + 1, (unsigned char)(v ^ 0xff), 1));
        src[1] = (unsigned char)(v ^ 0xff);
        memset(h, 0, n);
        CHECK(cuMemcpyDtoH(h, d, n));
        snprintf(what, sizeof what, "ptds thread %d round %d HtoD+memset+DtoH", idx, round);
        EXPECT_MEMEQ(h, src, n, what);
        CHECK(cuMemcpy((CUdeviceptr)(uintptr_t)h, d, n)); /* cuMemcpy_ptds */
        EXPECT_MEMEQ(h, src, n, what);
    }
    EXPECT_RESULT(cuStreamQuery(0), CUDA_SUCCESS);
    CHECK(cuMemFree(d));
    free(h);
    free(src);
}

static void *ptds_thread(void *vp)
{
    struct ptds_arg *a = vp;
    CHECK(cuCtxSetCurrent(a->ctx));
    if (a->role == 0) {
        ptds_work(a->idx);
    } else if (a->role == 1) {
        /* A: block our default stream on a host function, then wait on it */
        CHECK(cuLaunchHostFunc(0, gate_fn, a->g));
        double t0 = it_now();
        CHECK(cuStreamSynchronize(0));
        a->sync_seconds = it_now() - t0;
    } else {
        /* B: once A's stream is blocked, do work on our own default stream;
         * it must complete although A's default stream is stuck */
        if (!gate_wait_entered(a->g, 10.0))
            it_fail(__FILE__, __LINE__, "thread A's host function did not start within 10 s");
        const size_t n = 4097;
        CUdeviceptr d;
        unsigned char h[4097];
        CHECK(cuMemAlloc(&d, n));
        CHECK(cuMemsetD8Async(d, 0x3E, n, 0));
        CHECK(cuMemcpyDtoHAsync(h, d, n, 0));
        CHECK(cuStreamSynchronize(0));
        EXPECT_ALLBYTES(h, 0x3E, n, "ptds thread B while thread A's default stream is blocked");
        gate_open(a->g); /* only now release A */
        CHECK(cuMemFree(d)); /* after: freeing may synchronise the device */
    }
    return NULL;
}

int ptds_checks(CUcontext ctx)
{
    int before = it_failures;
    /* two threads working on their own default streams at once */
    pthread_t th[2];
    struct ptds_arg args[2];
    for (int i = 0; i < 2; i++) {
        args[i] = (struct ptds_arg){ctx, i, NULL, 0, 0};
        ASSERT_TRUE(pthread_create(&th[i], NULL, ptds_thread, &args[i]) == 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);

    /* per-thread default streams do not wait for each other */
    struct gate g;
    gate_init(&g);
    struct ptds_arg a = {ctx, 10, &g, 1, 0}, b = {ctx, 11, &g, 2, 0};
    ASSERT_TRUE(pthread_create(&th[0], NULL, ptds_thread, &a) == 0);
    ASSERT_TRUE(pthread_create(&th[1], NULL, ptds_thread, &b) == 0);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    if (g.timed_out)
        it_fail(__FILE__, __LINE__,
                "thread B's per-thread default stream waited for thread A's (host function timed out after %d s)",
                GATE_TIMEOUT_S);
    gate_destroy(&g);

    /* the main thread's default stream works too */
    ptds_work(99);
    return it_failures - before;
}
