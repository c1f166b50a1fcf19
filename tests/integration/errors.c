/*
 * errors.c — error paths through rgpu: each bad call gets an error code, the
 * data around it is untouched, and the connection keeps working.
 *
 * Covers: copies and memsets whose device range leaves an allocation
 * (INVALID_VALUE, neighbouring bytes unchanged), wild device pointers,
 * double free, cuMemAlloc(0), out of memory (and recovery), invalid and
 * destroyed stream/event handles (forged values like (CUstream)0x1234),
 * errors of asynchronous calls reported at call time or at the next
 * synchronisation, and not sticky afterwards. Bad device ranges of
 * asynchronous copies and memsets are argument errors, which CUDA reports at
 * call time; through rgpu, the valid ones still do not wait for a reply.
 */
#include <dlfcn.h>
#include <stdbool.h>

#include "check.h"
#include "it_client.h"

static CUcontext ctx;

/* the connection still works: allocate, copy both ways, free, synchronise */
static void still_works(const char *after)
{
    CUdeviceptr p;
    unsigned char in[4097], out[4097];
    CUresult r = cuMemAlloc(&p, sizeof in);
    if (r != CUDA_SUCCESS) {
        it_fail(__FILE__, __LINE__, "after %s: cuMemAlloc got %s, expected CUDA_SUCCESS", after, it_errname(r));
        IT_ABORT();
    }
    it_fill(in, sizeof in, 0xfeed);
    memset(out, 0, sizeof out);
    r = cuMemcpyHtoD(p, in, sizeof in);
    if (r == CUDA_SUCCESS)
        r = cuMemcpyDtoH(out, p, sizeof out);
    if (r != CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "after %s: round-trip copy got %s, expected CUDA_SUCCESS", after, it_errname(r));
    else if (memcmp(in, out, sizeof in) != 0)
        it_fail(__FILE__, __LINE__, "after %s: round-trip data differs", after);
    r = cuMemFree(p);
    if (r != CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "after %s: cuMemFree got %s", after, it_errname(r));
    r = cuCtxSynchronize();
    if (r != CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "after %s: cuCtxSynchronize got %s (error is sticky?)", after, it_errname(r));
}

/*
 * An asynchronous call with a bad argument: the error comes at call time or
 * at the next synchronisation (sync_call); either way exactly one of them
 * fails, and a second synchronisation succeeds (the error is not sticky).
 */
#define EXPECT_ASYNC_ERROR(call, sync_call)                                                        \
    do {                                                                                           \
        CUresult r1_ = (call);                                                                     \
        CUresult r2_ = (sync_call);                                                                \
        if (r1_ == CUDA_SUCCESS && r2_ == CUDA_SUCCESS)                                            \
            it_fail(__FILE__, __LINE__, "%s: no error at call time nor from %s", #call, #sync_call); \
        CUresult r3_ = cuCtxSynchronize();                                                         \
        if (r3_ != CUDA_SUCCESS)                                                                   \
            it_fail(__FILE__, __LINE__, "cuCtxSynchronize after the reported error of %s: got %s", \
                    #call, it_errname(r3_));                                                       \
        still_works(#call);                                                                        \
    } while (0)

/* An asynchronous call with a bad argument fails at call time with
 * `expected`; the synchronisation after it succeeds (nothing was latched). */
#define EXPECT_AT_CALL(call, expected, sync_call)                                                  \
    do {                                                                                           \
        EXPECT_RESULT(call, expected);                                                             \
        CUresult r_ = (sync_call);                                                                 \
        if (r_ != CUDA_SUCCESS)                                                                    \
            it_fail(__FILE__, __LINE__, "%s after the rejected %s: got %s", #sync_call, #call,       \
                    it_errname(r_));                                                               \
    } while (0)


static void bad_ranges(void)
{
    const size_t n = 4096;
    CUdeviceptr a, b;
    CHECK(cuMemAlloc(&a, n));
    CHECK(cuMemAlloc(&b, n));
    unsigned char *pa = it_xmalloc(n), *pb = it_xmalloc(n), *h = it_xmalloc(2 * n), *back = it_xmalloc(n);
    it_fill(pa, n, 1);
    it_fill(pb, n, 2);
    it_fill(h, 2 * n, 3);
    CHECK(cuMemcpyHtoD(a, pa, n));
    CHECK(cuMemcpyHtoD(b, pb, n));

    /* each range starts inside a and runs past its end */
    EXPECT_RESULT(cuMemcpyHtoD(a + n - 100, h, 200), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemcpyHtoD(a, h, n + 1), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemcpyDtoH(h, a + 1, n), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemcpyDtoD(b, a + n - 1, 2), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemcpyDtoD(a + n - 1, b, 2), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemsetD8(a + n - 10, 0xEE, 11), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemsetD32(a + n - 8, 0xEEEEEEEEu, 3), CUDA_ERROR_INVALID_VALUE);
    /* 2D: the third row (a+4048 .. a+5048) straddles the end of a. (A row that
     * lies wholly in the next allocation would be legal: b may follow a directly.) */
    EXPECT_RESULT(cuMemsetD2D8(a + 2000, 1024, 0xEE, 1000, 3), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemsetD2D32(a + 2000, 1024, 0xEEEEEEEEu, 250, 3), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemcpy(a + 1, (CUdeviceptr)(uintptr_t)h, n), CUDA_ERROR_INVALID_VALUE);
    /* a pitch narrower than a row (0: rgpud once divided by it, undefined
     * behaviour that UBSan reported under robust.fuzz) */
    EXPECT_RESULT(cuMemsetD2D8(a, 0, 0xEE, 16, 2), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemsetD2D16(a, 0, 0xEEEE, 16, 2), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemsetD2D32(a, 8, 0xEEEEEEEEu, 16, 2), CUDA_ERROR_INVALID_VALUE);
    /* a huge length that wraps around the address space */
    EXPECT_RESULT(cuMemsetD8(a + 16, 0xEE, (size_t)-8), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemcpyDtoD(b, a + 16, (size_t)-8), CUDA_ERROR_INVALID_VALUE);
    /* wild device pointers */
    EXPECT_RESULT(cuMemcpyHtoD((CUdeviceptr)0xdead0000ull, h, 16), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemcpyDtoH(h, (CUdeviceptr)0x10, 16), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemsetD8((CUdeviceptr)0, 0, 16), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemsetD8((CUdeviceptr)0xffffffffffff0000ull, 0, 16), CUDA_ERROR_INVALID_VALUE);

    /* a 2D copy whose last row leaves the allocation */
    CUDA_MEMCPY2D c;
    memset(&c, 0, sizeof c);
    c.srcMemoryType = CU_MEMORYTYPE_HOST;
    c.srcHost = h;
    c.srcPitch = 512;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = a;
    c.dstPitch = 1024;
    c.dstXInBytes = 600;
    c.WidthInBytes = 512;
    c.Height = 4; /* the last row, a+3672 .. a+4184, straddles the end of a */
    EXPECT_RESULT(cuMemcpy2D(&c), CUDA_ERROR_INVALID_VALUE);
    /* and as the source of a device->host copy */
    memset(&c, 0, sizeof c);
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    c.srcDevice = a;
    c.srcPitch = 1024;
    c.srcXInBytes = 600;
    c.dstMemoryType = CU_MEMORYTYPE_HOST;
    c.dstHost = h;
    c.dstPitch = 512;
    c.WidthInBytes = 512;
    c.Height = 4;
    EXPECT_RESULT(cuMemcpy2D(&c), CUDA_ERROR_INVALID_VALUE);

    /* nothing was written, to a or to b */
    CHECK(cuMemcpyDtoH(back, a, n));
    EXPECT_MEMEQ(back, pa, n, "allocation a after rejected copies");
    CHECK(cuMemcpyDtoH(back, b, n));
    EXPECT_MEMEQ(back, pb, n, "neighbouring allocation b after rejected copies");
    it_fill(back, n, 3); /* the first n bytes of h's pattern */
    EXPECT_MEMEQ(h, back, n, "host buffer after rejected DtoH");

    /* the same through the async forms: argument errors, reported when
     * called */
    CUstream s;
    CHECK(cuStreamCreate(&s, 0));
    EXPECT_AT_CALL(cuMemcpyHtoDAsync(a + n - 1, h, 2, s), CUDA_ERROR_INVALID_VALUE, cuStreamSynchronize(s));
    EXPECT_AT_CALL(cuMemcpyHtoDAsync((CUdeviceptr)0xdead0000ull, h, 16, s), CUDA_ERROR_INVALID_VALUE,
                   cuStreamSynchronize(s));
    EXPECT_AT_CALL(cuMemcpyDtoHAsync(h, a + n - 1, 2, s), CUDA_ERROR_INVALID_VALUE, cuStreamSynchronize(s));
    EXPECT_AT_CALL(cuMemcpyDtoDAsync(b, a + 8, n, s), CUDA_ERROR_INVALID_VALUE, cuStreamSynchronize(s));
    EXPECT_AT_CALL(cuMemsetD8Async(a + n - 1, 1, 2, s), CUDA_ERROR_INVALID_VALUE, cuStreamSynchronize(s));
    EXPECT_AT_CALL(cuMemsetD16Async(a + n - 2, 1, 2, NULL), CUDA_ERROR_INVALID_VALUE, cuCtxSynchronize());
    EXPECT_AT_CALL(cuMemsetD32Async(a + 2, 1, 2, s), CUDA_ERROR_INVALID_VALUE, cuStreamSynchronize(s));
    EXPECT_AT_CALL(cuMemsetD2D8Async(a + 2000, 1024, 0xEE, 1000, 3, s), CUDA_ERROR_INVALID_VALUE,
                   cuStreamSynchronize(s));
    EXPECT_AT_CALL(cuMemcpyHtoDAsync(a + n - 1, h, 2, NULL), CUDA_ERROR_INVALID_VALUE, cuStreamSynchronize(NULL));
    /* c: still the device->host copy whose last row leaves a */
    EXPECT_AT_CALL(cuMemcpy2DAsync(&c, s), CUDA_ERROR_INVALID_VALUE, cuStreamSynchronize(s));

    /* Valid ones are asynchronous: through rgpu no round trip until the
     * synchronisation (none of these is answered locally) */
    uint32_t before = round_trips();
    CHECK(cuMemsetD8Async(a + n - 2, 7, 2, s));
    CHECK(cuMemsetD16Async(a + n - 4, 7, 2, s));
    CHECK(cuMemsetD32Async(b, 7, n / 4, s));
    CHECK(cuMemsetD2D32Async(b, 1024, 9, 256, 4, s));
    CHECK(cuMemcpyDtoDAsync(a, b, n, s));
    CHECK(cuMemcpyDtoHAsync(back, a + n - 8, 8, s));
    c.srcXInBytes = 512; /* the last row ends at the end of a */
    CHECK(cuMemcpy2DAsync(&c, s));
    CHECK(cuMemcpyHtoDAsync(a, pa, n, s));
    CHECK(cuMemcpyHtoDAsync(b, pb, n, s));
    EXPECT_EQ(round_trips(), before);
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(back, a, n));
    EXPECT_MEMEQ(back, pa, n, "allocation a after rejected async copies");
    CHECK(cuMemcpyDtoH(back, b, n));
    EXPECT_MEMEQ(back, pb, n, "allocation b after rejected async copies");
    CHECK(cuStreamDestroy(s));

    CHECK(cuMemFree(a));
    CHECK(cuMemFree(b));
    free(pa);
    free(pb);
    free(h);
    free(back);
}

static void frees_and_allocs(void)
{
    CUdeviceptr p, q;
    CHECK(cuMemAlloc(&p, 1000));
    CHECK(cuMemFree(p));
    EXPECT_ERROR(cuMemFree(p)); /* double free */
    still_works("double free");
    CHECK(cuMemAlloc(&p, 1000));
    EXPECT_ERROR(cuMemFree(p + 8)); /* not the start of an allocation */
    CHECK(cuMemFree(p));
    EXPECT_ERROR(cuMemFree((CUdeviceptr)0xdead0000ull));
    still_works("freeing a wild pointer");
    EXPECT_RESULT(cuMemAlloc(&q, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuMemAlloc(NULL, 16), CUDA_ERROR_INVALID_VALUE);

    void *h = NULL;
    CHECK(cuMemAllocHost(&h, 100));
    CHECK(cuMemFreeHost(h));
    EXPECT_ERROR(cuMemFreeHost(h)); /* double free of pinned memory */
    still_works("double cuMemFreeHost");
}

static void out_of_memory(void)
{
    size_t fr, total;
    CHECK(cuMemGetInfo(&fr, &total));
    CUdeviceptr p = 0;
    EXPECT_RESULT(cuMemAlloc(&p, total + (1ull << 30)), CUDA_ERROR_OUT_OF_MEMORY);
    EXPECT_RESULT(cuMemAlloc(&p, (size_t)1 << 62), CUDA_ERROR_OUT_OF_MEMORY);
    EXPECT_RESULT(cuMemAlloc(&p, (size_t)-1), CUDA_ERROR_OUT_OF_MEMORY);
    size_t pitch;
    EXPECT_RESULT(cuMemAllocPitch(&p, &pitch, 65536, (size_t)1 << 28, 4), CUDA_ERROR_OUT_OF_MEMORY); /* 16 TiB */
    size_t fr2, total2;
    CHECK(cuMemGetInfo(&fr2, &total2));
    EXPECT_EQ(total2, total);
    EXPECT_GE(fr2, fr); /* the failed allocations left nothing behind */
    still_works("out of memory");
    /* a sizeable allocation still succeeds */
    CHECK(cuMemAlloc(&p, 64u << 20));
    CHECK(cuMemsetD32(p, 0x01020304u, (64u << 20) / 4));
    unsigned int w = 0;
    CHECK(cuMemcpyDtoH(&w, p + (32u << 20), 4));
    EXPECT_EQ(w, 0x01020304u);
    CHECK(cuMemFree(p));
}

static void bad_handles(void)
{
    CUstream fs = (CUstream)(uintptr_t)0x1234;
    CUevent fe = (CUevent)(uintptr_t)0x5678;
    unsigned int fl;
    int prio;
    float ms;
    unsigned long long id;
    CUcontext c;
    CUdeviceptr d;
    unsigned char h[64];
    CHECK(cuMemAlloc(&d, sizeof h));

    /* synchronous calls with a forged stream */
    EXPECT_ERROR(cuStreamSynchronize(fs));
    still_works("cuStreamSynchronize(forged)");
    EXPECT_ERROR(cuStreamQuery(fs));
    EXPECT_ERROR(cuStreamGetFlags(fs, &fl));
    EXPECT_ERROR(cuStreamGetPriority(fs, &prio));
    EXPECT_ERROR(cuStreamGetCtx(fs, &c));
    EXPECT_ERROR(cuStreamGetId(fs, &id));
    EXPECT_ERROR(cuStreamDestroy(fs));
    still_works("stream queries on a forged handle");
    /* asynchronous calls on a forged stream */
    EXPECT_ASYNC_ERROR(cuMemcpyHtoDAsync(d, h, sizeof h, fs), cuCtxSynchronize());
    EXPECT_ASYNC_ERROR(cuMemcpyDtoHAsync(h, d, sizeof h, fs), cuCtxSynchronize());
    EXPECT_ASYNC_ERROR(cuMemsetD8Async(d, 0, sizeof h, fs), cuCtxSynchronize());
    EXPECT_ASYNC_ERROR(cuMemcpyDtoDAsync(d, d + 32, 16, fs), cuCtxSynchronize());

    /* forged events */
    EXPECT_ERROR(cuEventQuery(fe));
    EXPECT_ERROR(cuEventSynchronize(fe));
    EXPECT_ERROR(cuEventElapsedTime(&ms, fe, fe));
    EXPECT_ERROR(cuEventDestroy(fe));
    still_works("event calls on a forged handle");
    EXPECT_ASYNC_ERROR(cuEventRecord(fe, NULL), cuCtxSynchronize());
    EXPECT_ASYNC_ERROR(cuStreamWaitEvent(NULL, fe, 0), cuCtxSynchronize());
    CUstream s;
    CHECK(cuStreamCreate(&s, 0));
    EXPECT_ASYNC_ERROR(cuStreamWaitEvent(s, fe, 0), cuStreamSynchronize(s));
    EXPECT_ASYNC_ERROR(cuEventRecord(fe, s), cuStreamSynchronize(s));
    /* flags CUDA does not define: refused when called */
    CUevent ev;
    CHECK(cuEventCreate(&ev, 0));
    EXPECT_AT_CALL(cuStreamWaitEvent(s, ev, 0x10), CUDA_ERROR_INVALID_VALUE, cuStreamSynchronize(s));
    EXPECT_AT_CALL(cuEventRecordWithFlags(ev, s, 0x10), CUDA_ERROR_INVALID_VALUE, cuStreamSynchronize(s));
    CHECK(cuEventRecordWithFlags(ev, s, CU_EVENT_RECORD_DEFAULT));
    CHECK(cuStreamWaitEvent(s, ev, CU_EVENT_WAIT_DEFAULT));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuEventDestroy(ev));

    /* handles that were valid once */
    CUevent e;
    CHECK(cuEventCreate(&e, 0));
    CHECK(cuEventRecord(e, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuEventDestroy(e));
    EXPECT_ERROR(cuEventQuery(e));
    EXPECT_ERROR(cuEventSynchronize(e));
    EXPECT_ERROR(cuEventDestroy(e));
    CHECK(cuStreamDestroy(s));
    EXPECT_ERROR(cuStreamSynchronize(s));
    EXPECT_ERROR(cuStreamQuery(s));
    EXPECT_ERROR(cuStreamDestroy(s));
    EXPECT_ASYNC_ERROR(cuMemsetD8Async(d, 0, 8, s), cuCtxSynchronize());
    still_works("destroyed stream and event handles");

    /* executable graphs: none is NULL; a destroyed or forged one (through
     * rgpu only: what NVIDIA's driver does with a freed handle is undefined)
     * is refused when called */
    CUgraph gr;
    CUgraphExec gx;
    CHECK(cuGraphCreate(&gr, 0));
    CHECK(cuGraphInstantiate(&gx, gr, 0));
    CHECK(cuGraphLaunch(gx, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuGraphExecDestroy(gx));
    CHECK(cuGraphDestroy(gr));
    EXPECT_AT_CALL(cuGraphLaunch(NULL, NULL), CUDA_ERROR_INVALID_VALUE, cuCtxSynchronize());
    if (round_trips_known()) {
        EXPECT_AT_CALL(cuGraphLaunch(gx, NULL), CUDA_ERROR_INVALID_HANDLE, cuCtxSynchronize());
        EXPECT_AT_CALL(cuGraphUpload((CUgraphExec)(uintptr_t)0x4321, NULL), CUDA_ERROR_INVALID_HANDLE,
                       cuCtxSynchronize());
    }

    /* a context handle used as a stream, and a stream handle used as an event */
    CUstream s2;
    CHECK(cuStreamCreate(&s2, 0));
    EXPECT_ERROR(cuStreamSynchronize((CUstream)ctx));
    EXPECT_ERROR(cuEventQuery((CUevent)s2));
    CHECK(cuStreamDestroy(s2));

    /* NULL / invalid output and flag arguments */
    EXPECT_RESULT(cuStreamCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuEventCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CUstream s3;
    EXPECT_RESULT(cuStreamCreate(&s3, 0x80), CUDA_ERROR_INVALID_VALUE);
    CUevent e3;
    EXPECT_RESULT(cuEventCreate(&e3, 0x80), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemFree(d));
    still_works("bad handles");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(cuInit(0));
    CUdevice dev;
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));

    bad_ranges();
    frees_and_allocs();
    out_of_memory();
    bad_handles();
    still_works("all error tests");

    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    TEST_DONE();
}
