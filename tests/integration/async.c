/*
 * async.c — the client's coalesced send path and its reader role.
 *
 * No-reply requests (launches, small async copies, host functions) wait in
 * the client's send buffer until something flushes it. These checks fail if
 * a flush trigger is missing or the order of the one send path breaks:
 *   - cross-thread ordering: thread A launches a kernel writing y and does
 *     not synchronise; thread B, told by A right after the launch returned,
 *     copies y back synchronously and must see the kernel's result;
 *   - a host function reached without any synchronising call (the main
 *     thread only watches a flag): the batch must leave by itself;
 *   - thousands of launches and small async copies (many size-triggered
 *     flushes), the copies' sources overwritten right after each call: the
 *     device must see every launch once and each copy's bytes as they were
 *     at the call;
 *   - several threads making synchronous calls at once while host functions
 *     and device->host copies arrive (the reader role passes between them);
 *   - large device->host copies between kernels on one stream (the CPU
 *     device sends them straight from device memory when the stream
 *     reaches them): each copy sees the memory as the stream left it;
 *   - large host->device copies (the CPU device receives them straight into
 *     device memory once the stream reaches them, or stages them when it is
 *     busy): a kernel queued before the copy sees the old bytes, one queued
 *     after it the new ones, with the stream idle and held by a gate;
 *   - "exit" mode (a separate test): queue work, then exit() without
 *     synchronising; the process must exit normally, promptly.
 */
#include "check.h"
#include "gate.h"
#include "it_images.h"

#include <pthread.h>
#include <unistd.h>

static struct it_image fatbin;
static CUcontext ctx;
static CUmodule mod;
static CUfunction saxpy, ping;

#define N 1024

/* ---- cross-thread ordering ---- */
static _Atomic int launched = -1, checked = -1; /* last round A launched / B checked */
static CUdeviceptr dx, dy;

static void *launcher(void *arg)
{
    int rounds = *(int *)arg;
    CHECK(cuCtxSetCurrent(ctx));
    for (int r = 0; r < rounds; r++) {
        while (atomic_load(&checked) != r - 1)
            ;
        float a = (float)(r + 1);
        int n = N;
        void *args[] = {&a, &dx, &dy, &n};
        CHECK(cuLaunchKernel(saxpy, N / 64, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
        atomic_store(&launched, r); /* no synchronisation: B's call must order after it */
    }
    return NULL;
}

static void cross_thread_ordering(void)
{
    fprintf(stderr, "-- cross-thread ordering\n");
    static float x[N], y[N], model[N], got[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 7), model[i] = y[i] = (float)(i % 5);
    CHECK(cuMemAlloc(&dx, sizeof x));
    CHECK(cuMemAlloc(&dy, sizeof y));
    CHECK(cuMemcpyHtoD(dx, x, sizeof x));
    CHECK(cuMemcpyHtoD(dy, y, sizeof y));
    int rounds = 200;
    pthread_t t;
    if (pthread_create(&t, NULL, launcher, &rounds))
        IT_ABORT();
    for (int r = 0; r < rounds; r++) {
        while (atomic_load(&launched) != r)
            ;
        for (int i = 0; i < N; i++)
            model[i] = (float)(r + 1) * x[i] + model[i];
        CHECK(cuMemcpyDtoH(got, dy, sizeof got));
        for (int i = 0; i < N; i++)
            if (got[i] != model[i]) {
                it_fail(__FILE__, __LINE__, "round %d: y[%d] = %g, expected %g (a launch by another thread not seen)",
                        r, i, (double)got[i], (double)model[i]);
                break;
            }
        atomic_store(&checked, r);
    }
    pthread_join(t, NULL);
    CHECK(cuMemFree(dx));
    CHECK(cuMemFree(dy));
}

/* ---- a host function reached without synchronising ---- */
static _Atomic int hostfn_ran;
static void set_flag(void *p) { atomic_store((_Atomic int *)p, 1); }

/* wait (without any CUDA call) for *flag; false after a minute */
static int wait_flag(_Atomic int *flag)
{
    for (int i = 0; i < 600000 && !atomic_load(flag); i++) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(flag);
}

static void hostfn_without_sync(void)
{
    fprintf(stderr, "-- host function without a synchronising call\n");
    for (int round = 0; round < 20; round++) {
        atomic_store(&hostfn_ran, 0);
        for (int k = 0; k < round; k++)
            CHECK(cuLaunchKernel(ping, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
        CHECK(cuLaunchHostFunc(NULL, set_flag, (void *)&hostfn_ran));
        if (!wait_flag(&hostfn_ran)) {
            it_fail(__FILE__, __LINE__, "round %d: the host function did not run within a minute without a "
                                        "synchronising call (queued work never sent?)", round);
            return;
        }
    }
    CHECK(cuCtxSynchronize());
}

/* ---- many launches and small copies ---- */
static void many(void)
{
    fprintf(stderr, "-- many launches and small async copies\n");
    CUdeviceptr count, d;
    size_t sz;
    CHECK(cuModuleGetGlobal(&count, &sz, mod, "ping_count"));
    EXPECT_EQ(sz, (size_t)4);
    unsigned zero = 0, got = 0;
    CHECK(cuMemcpyHtoD(count, &zero, 4));
    enum { LAUNCHES = 5000, COPIES = 3000, W = 24 };
    CHECK(cuMemAlloc(&d, (size_t)COPIES * W));
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    unsigned char src[W];
    for (int i = 0, c = 0; i < LAUNCHES; i++) {
        CHECK(cuLaunchKernel(ping, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
        if (i % 5 == 0 && c < COPIES) {
            for (int k = 0; k < W; k++)
                src[k] = (unsigned char)(c * 31 + k);
            CHECK(cuMemcpyHtoDAsync(d + (size_t)c * W, src, W, s));
            memset(src, 0xEE, W); /* pageable source: its bytes were taken at the call */
            c++;
        }
    }
    for (int c = LAUNCHES / 5; c < COPIES; c++) {
        for (int k = 0; k < W; k++)
            src[k] = (unsigned char)(c * 31 + k);
        CHECK(cuMemcpyHtoDAsync(d + (size_t)c * W, src, W, s));
        memset(src, 0xEE, W);
    }
    CHECK(cuMemcpyDtoH(&got, count, 4));
    EXPECT_EQ(got, (unsigned)LAUNCHES);
    unsigned char *back = it_xmalloc((size_t)COPIES * W);
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(back, d, (size_t)COPIES * W));
    for (int c = 0; c < COPIES; c++)
        for (int k = 0; k < W; k++)
            if (back[(size_t)c * W + k] != (unsigned char)(c * 31 + k)) {
                it_fail(__FILE__, __LINE__, "copy %d byte %d: %u, expected %u", c, k, back[(size_t)c * W + k],
                        (unsigned char)(c * 31 + k));
                c = COPIES;
                break;
            }
    free(back);
    CHECK(cuStreamDestroy(s));
    CHECK(cuMemFree(d));
}

/* ---- synchronous calls from several threads while callbacks and data arrive ---- */
#define THREADS 4
static _Atomic int cb_count;
static void count_cb(void *p) { (void)p; atomic_fetch_add(&cb_count, 1); }

static void *caller(void *arg)
{
    int id = (int)(intptr_t)arg;
    CHECK(cuCtxSetCurrent(ctx));
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, 4096));
    unsigned char buf[4096], back[4096];
    for (int it = 0; it < 300; it++) {
        int ver = 0;
        CHECK(cuCtxGetApiVersion(ctx, (unsigned *)&ver));
        memset(buf, (id * 50 + it) & 0xff, sizeof buf);
        CHECK(cuMemcpyHtoDAsync(d, buf, sizeof buf, s));
        CHECK(cuLaunchHostFunc(s, count_cb, NULL));
        CHECK(cuMemcpyDtoHAsync(back, d, sizeof back, s));
        CHECK(cuStreamSynchronize(s));
        if (memcmp(back, buf, sizeof buf)) {
            it_fail(__FILE__, __LINE__, "thread %d iteration %d: device->host copy differs", id, it);
            break;
        }
    }
    CHECK(cuMemFree(d));
    CHECK(cuStreamDestroy(s));
    return NULL;
}

static void threads_calling(void)
{
    fprintf(stderr, "-- %d threads calling at once\n", THREADS);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, caller, (void *)(intptr_t)i))
            IT_ABORT();
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    EXPECT_EQ(atomic_load(&cb_count), THREADS * 300);
}

/* ---- large device->host copies in stream order ---- */
/* ---- a call that waits inside the driver for a host function ----
 * NVIDIA's driver runs host functions on one thread of its own, and some
 * calls wait for it (a stream destroyed while one runs is the suspect of a
 * hang seen on an H200); the CPU device behaves so under
 * RGPU_STAGED_COPIES=1 (cpudev.h), holding its lock meanwhile. The host
 * function ends by itself; only its CALLBACK_DONE must still be received
 * while other calls wait behind the destroy (server/relay.c). */
static void CUDA_CB slow_cb(void *p)
{
    it_sleep_ms(300);
    atomic_store((_Atomic int *)p, 1);
}

static void *destroy_stream(void *p)
{
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuStreamDestroy(*(CUstream *)p));
    return NULL;
}

static void call_waits_for_host_fn(void)
{
    fprintf(stderr, "-- a call waiting for a host function while others go on\n");
    CUstream s1, s2, s3;
    CHECK(cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamCreate(&s3, CU_STREAM_NON_BLOCKING));
    _Atomic int done = 0;
    CHECK(cuLaunchHostFunc(s1, slow_cb, (void *)&done));
    it_sleep_ms(50); /* the host function runs */
    pthread_t t;
    if (pthread_create(&t, NULL, destroy_stream, &s2))
        IT_ABORT();
    it_sleep_ms(50); /* the destroy waits for it */
    EXPECT_RESULT(cuStreamQuery(s3), CUDA_SUCCESS);
    CHECK(cuStreamSynchronize(s1));
    EXPECT_EQ(atomic_load(&done), 1);
    pthread_join(t, NULL);
    CHECK(cuStreamDestroy(s1));
    CHECK(cuStreamDestroy(s3));
}

static void dtoh_in_order(void)
{
    fprintf(stderr, "-- large device->host copies between kernels\n");
    enum { NB = 64 * 1024 }; /* 256 KiB of floats */
    float *x = it_xmalloc(NB * sizeof *x), *o1 = it_xmalloc(NB * sizeof *x), *o2 = it_xmalloc(NB * sizeof *x);
    for (int i = 0; i < NB; i++)
        x[i] = (float)(i % 13);
    CUdeviceptr dx2, dy2;
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuMemAlloc(&dx2, NB * sizeof *x));
    CHECK(cuMemAlloc(&dy2, NB * sizeof *x));
    CHECK(cuMemcpyHtoDAsync(dx2, x, NB * sizeof *x, s));
    for (int round = 0; round < 5; round++) {
        float one = 1.0f;
        unsigned bits;
        memcpy(&bits, &one, 4);
        CHECK(cuMemsetD32Async(dy2, bits, NB, s));
        float a = 2;
        int n = NB;
        void *args[] = {&a, &dx2, &dy2, &n};
        CHECK(cuLaunchKernel(saxpy, NB / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
        CHECK(cuMemcpyDtoHAsync(o1, dy2, NB * sizeof *x, s)); /* y = 2x + 1 */
        a = 3;
        CHECK(cuLaunchKernel(saxpy, NB / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
        CHECK(cuMemcpyDtoHAsync(o2, dy2 + 4, (NB - 1) * sizeof *x, s)); /* y = 5x + 1, from element 1 */
        CHECK(cuStreamSynchronize(s));
        for (int i = 0; i < NB; i++) {
            if (o1[i] != 2 * x[i] + 1 || (i + 1 < NB && o2[i] != 5 * x[i + 1] + 1)) {
                it_fail(__FILE__, __LINE__, "round %d element %d: %g / %g, expected %g / %g", round, i,
                        (double)o1[i], (double)o2[i], (double)(2 * x[i] + 1),
                        i + 1 < NB ? (double)(5 * x[i + 1] + 1) : 0.0);
                break;
            }
        }
    }
    /* a range past the allocation's end: an argument error, reported when
     * called (robust_wire checks the latch for what rgpud refuses later) */
    EXPECT_RESULT(cuMemcpyDtoHAsync(o1, dy2 + 4, NB * sizeof *x, s), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemFree(dx2));
    CHECK(cuMemFree(dy2));
    CHECK(cuStreamDestroy(s));
    free(x);
    free(o1);
    free(o2);
}

/* ---- large host->device copies in stream order ---- */
static void htod_in_order(void)
{
    fprintf(stderr, "-- large host->device copies between kernels\n");
    enum { NB = 1 << 19 }; /* 2 MiB of floats */
    const size_t bytes = NB * sizeof(float);
    float *v0 = it_xmalloc(bytes), *v1 = it_xmalloc(bytes), *src = it_xmalloc(bytes), *o = it_xmalloc(bytes);
    for (int i = 0; i < NB; i++)
        v0[i] = (float)(i % 11), v1[i] = (float)(i % 17 + 100);
    CUdeviceptr d, y2, y3;
    CUstream s;
    CHECK(cuStreamCreate(&s, 0));
    CHECK(cuMemAlloc(&d, bytes));
    CHECK(cuMemAlloc(&y2, bytes));
    CHECK(cuMemAlloc(&y3, bytes));
    for (int held = 0; held < 2; held++) {
        CHECK(cuMemcpyHtoD(d, v0, bytes));
        CHECK(cuMemsetD32(y2, 0, NB));
        CHECK(cuMemsetD32(y3, 0, NB));
        CHECK(cuCtxSynchronize());
        struct gate g;
        gate_init(&g);
        if (held) /* the stream is busy when the copy arrives */
            CHECK(cuLaunchHostFunc(s, gate_fn, &g));
        float a = 1;
        int n = NB;
        void *args2[] = {&a, &d, &y2, &n}, *args3[] = {&a, &d, &y3, &n};
        CHECK(cuLaunchKernel(saxpy, NB / 256, 1, 1, 256, 1, 1, 0, s, args2, NULL)); /* y2 = old d */
        if (!held)
            CHECK(cuStreamSynchronize(s)); /* idle when the copy arrives */
        memcpy(src, v1, bytes);
        CHECK(cuMemcpyHtoDAsync(d, src, bytes, s));
        memset(src, 0xEE, bytes); /* pageable: the bytes were taken at the call */
        CHECK(cuLaunchKernel(saxpy, NB / 256, 1, 1, 256, 1, 1, 0, s, args3, NULL)); /* y3 = new d */
        if (held)
            gate_open(&g);
        CHECK(cuStreamSynchronize(s));
        EXPECT_TRUE(!g.timed_out);
        gate_destroy(&g);
        CHECK(cuMemcpyDtoH(o, y2, bytes));
        EXPECT_MEMEQ(o, v0, bytes, held ? "kernel before the copy (stream held)" : "kernel before the copy (idle)");
        CHECK(cuMemcpyDtoH(o, y3, bytes));
        EXPECT_MEMEQ(o, v1, bytes, held ? "kernel after the copy (stream held)" : "kernel after the copy (idle)");
        CHECK(cuMemcpyDtoH(o, d, bytes));
        EXPECT_MEMEQ(o, v1, bytes, "the copy's destination");
    }
    /* past the allocation's end: refused when called (robust_wire sends it
     * without waiting, as only a client that cannot vouch for it would) */
    EXPECT_RESULT(cuMemcpyHtoDAsync(d + 4, v1, bytes, s), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemFree(d));
    CHECK(cuMemFree(y2));
    CHECK(cuMemFree(y3));
    CHECK(cuStreamDestroy(s));
    free(v0);
    free(v1);
    free(src);
    free(o);
}

/* ---- exit without synchronising ---- */
static void exit_mode(void)
{
    for (int i = 0; i < 100; i++)
        CHECK(cuLaunchKernel(ping, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
    CHECK(cuLaunchHostFunc(NULL, count_cb, NULL));
    fprintf(stderr, "async exit: queued 100 launches and a host function; exiting without synchronising\n");
    exit(it_failures ? 1 : 0);
}

int main(int argc, char **argv)
{
    it_image_load(&fatbin, it_kernel_dir(argc, argv), IT_FATBIN);
    CUdevice dev;
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuModuleLoadData(&mod, fatbin.data));
    CHECK(cuModuleGetFunction(&saxpy, mod, "saxpy"));
    CHECK(cuModuleGetFunction(&ping, mod, "ping"));
    if (argc > 2 && strcmp(argv[2], "exit") == 0)
        exit_mode();

    cross_thread_ordering();
    hostfn_without_sync();
    many();
    threads_calling();
    call_waits_for_host_fn();
    dtoh_in_order();
    htod_in_order();

    CHECK(cuModuleUnload(mod));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    it_image_free(&fatbin);
    TEST_DONE();
}
