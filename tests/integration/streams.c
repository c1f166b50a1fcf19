/*
 * streams.c — streams, events and host functions through rgpu.
 *
 * Covers: ordering within a stream (hundreds of queued memsets and copies,
 * every intermediate device->host snapshot checked against a model),
 * ordering across streams with events (cuEventRecord + cuStreamWaitEvent),
 * cuStreamQuery/cuEventQuery NOT_READY vs SUCCESS (a gate host function
 * keeps work pending deterministically), cuEventElapsedTime lower bound,
 * cuStreamAddCallback and cuLaunchHostFunc (client-side, in stream order,
 * done before the synchronising call returns, running without the main
 * thread calling CUDA), per-thread default streams (streams_ptds.c, built
 * with CUDA_API_PER_THREAD_DEFAULT_STREAM), several host threads with their
 * own streams at once, stream priorities/flags/GetCtx/GetId, destroying a
 * stream with pending work, synchronising an idle stream and querying an
 * event of a finished stream (answered by rgpu's client without a round
 * trip, and never while work is queued).
 */
#include "check.h"
#include "gate.h"
#include "rgpu_client.h"

#include <dlfcn.h>
#include <pthread.h>

int ptds_checks(CUcontext ctx); /* streams_ptds.c: returns its failure count */

static CUcontext ctx;

/* ---- ordering within one stream ---- */
#define ORD_DB 65536u
#define ORD_MAXN 4096u

static uint64_t rnd(uint64_t *st, uint64_t n) { return it_xs_next(st) % n; }

struct snap {
    size_t slot, n;
};

static void ordering_test(CUstream s, int pinned, uint64_t seed, int nops, const char *name)
{
    CUdeviceptr d[2];
    unsigned char *m[2];
    unsigned char *src, *dst, *expect;
    const size_t pool = (size_t)nops * ORD_MAXN;
    struct snap *snaps = calloc((size_t)nops, sizeof *snaps);
    int nsnap = 0;
    uint64_t st = seed * 7919 + 1;
    char what[160];

    for (int b = 0; b < 2; b++) {
        CHECK(cuMemAlloc(&d[b], ORD_DB));
        m[b] = it_xmalloc(ORD_DB);
        it_fill(m[b], ORD_DB, seed * 2 + (uint64_t)b);
        CHECK(cuMemcpyHtoD(d[b], m[b], ORD_DB));
    }
    if (pinned) {
        CHECK(cuMemAllocHost((void **)&src, pool));
        CHECK(cuMemAllocHost((void **)&dst, pool));
    } else {
        src = it_xmalloc(pool);
        dst = it_xmalloc(pool);
    }
    expect = it_xmalloc(pool);
    memset(dst, 0xCD, pool);

    for (int i = 0; i < nops; i++) {
        int op = (int)rnd(&st, 8), b = (int)rnd(&st, 2);
        size_t n = 1 + rnd(&st, ORD_MAXN);
        size_t off = rnd(&st, ORD_DB - n + 1);
        unsigned char *slot_src = src + (size_t)i * ORD_MAXN, *slot_dst = dst + (size_t)i * ORD_MAXN;
        uint32_t v = (uint32_t)it_xs_next(&st);
        switch (op) {
        case 0:
            CHECK(cuMemsetD8Async(d[b] + off, (unsigned char)v, n, s));
            memset(m[b] + off, (unsigned char)v, n);
            break;
        case 1: {
            size_t cnt = 1 + rnd(&st, ORD_MAXN / 2), o = 2 * rnd(&st, (ORD_DB - 2 * cnt) / 2 + 1);
            CHECK(cuMemsetD16Async(d[b] + o, (unsigned short)v, cnt, s));
            for (size_t k = 0; k < cnt; k++)
                memcpy(m[b] + o + 2 * k, &v, 2);
            break;
        }
        case 2: {
            size_t cnt = 1 + rnd(&st, ORD_MAXN / 4), o = 4 * rnd(&st, (ORD_DB - 4 * cnt) / 4 + 1);
            CHECK(cuMemsetD32Async(d[b] + o, v, cnt, s));
            for (size_t k = 0; k < cnt; k++)
                memcpy(m[b] + o + 4 * k, &v, 4);
            break;
        }
        case 3:
        case 6:
            it_fill(slot_src, n, seed * 100003 + (uint64_t)i);
            if (op == 3)
                CHECK(cuMemcpyHtoDAsync(d[b] + off, slot_src, n, s));
            else
                CHECK(cuMemcpyAsync(d[b] + off, (CUdeviceptr)(uintptr_t)slot_src, n, s));
            memcpy(m[b] + off, slot_src, n);
            break;
        case 4: {
            size_t o2 = rnd(&st, ORD_DB - n + 1);
            CHECK(cuMemcpyDtoDAsync(d[1 - b] + o2, d[b] + off, n, s));
            memcpy(m[1 - b] + o2, m[b] + off, n);
            break;
        }
        case 5:
        case 7:
            if (op == 5)
                CHECK(cuMemcpyDtoHAsync(slot_dst, d[b] + off, n, s));
            else
                CHECK(cuMemcpyAsync((CUdeviceptr)(uintptr_t)slot_dst, d[b] + off, n, s));
            memcpy(expect + (size_t)i * ORD_MAXN, m[b] + off, n);
            snaps[nsnap].slot = (size_t)i;
            snaps[nsnap].n = n;
            nsnap++;
            break;
        }
    }
    CHECK(cuStreamSynchronize(s));
    for (int k = 0; k < nsnap; k++) {
        size_t i = snaps[k].slot;
        snprintf(what, sizeof what, "%s: device->host snapshot of op %zu (%zu bytes)", name, i, snaps[k].n);
        EXPECT_MEMEQ(dst + i * ORD_MAXN, expect + i * ORD_MAXN, snaps[k].n, what);
        EXPECT_ALLBYTES(dst + i * ORD_MAXN + snaps[k].n, 0xCD, ORD_MAXN - snaps[k].n, what);
    }
    unsigned char *back = it_xmalloc(ORD_DB);
    for (int b = 0; b < 2; b++) {
        CHECK(cuMemcpyDtoH(back, d[b], ORD_DB));
        snprintf(what, sizeof what, "%s: final contents of buffer %d after %d ops", name, b, nops);
        EXPECT_MEMEQ(back, m[b], ORD_DB, what);
        CHECK(cuMemFree(d[b]));
        free(m[b]);
    }
    free(back);
    if (pinned) {
        CHECK(cuMemFreeHost(src));
        CHECK(cuMemFreeHost(dst));
    } else {
        free(src);
        free(dst);
    }
    free(expect);
    free(snaps);
}

/* pageable HtoDAsync: the source may be reused as soon as the call returns */
static void pageable_source_reuse(CUstream s)
{
    const size_t n = 100003;
    unsigned char *h = it_xmalloc(n), *want = it_xmalloc(n), *back = it_xmalloc(n);
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, n));
    it_fill(h, n, 77);
    memcpy(want, h, n);
    CHECK(cuMemcpyHtoDAsync(d, h, n, s));
    memset(h, 0, n); /* documented: pageable sources are staged before the call returns */
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(back, d, n));
    EXPECT_MEMEQ(back, want, n, "pageable HtoDAsync source overwritten after the call");
    CHECK(cuMemFree(d));
    free(h);
    free(want);
    free(back);
}

/* ---- across streams with events; NOT_READY vs SUCCESS ---- */
static void cross_stream_events(void)
{
    const size_t n = 300001;
    CUstream s1, s2;
    CUevent ev, fresh;
    CUdeviceptr a, b;
    unsigned char *h;
    struct gate g;
    gate_init(&g);
    CHECK(cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
    CHECK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
    CHECK(cuEventCreate(&fresh, 0));
    CHECK(cuMemAlloc(&a, n));
    CHECK(cuMemAlloc(&b, n));
    CHECK(cuMemAllocHost((void **)&h, n));
    CHECK(cuMemsetD8(a, 0, n));
    CHECK(cuMemsetD8(b, 0, n));
    memset(h, 0xCD, n);

    /* idle things are complete */
    EXPECT_RESULT(cuStreamQuery(s1), CUDA_SUCCESS);
    EXPECT_RESULT(cuEventQuery(fresh), CUDA_SUCCESS); /* never recorded */
    CHECK(cuStreamWaitEvent(s2, fresh, 0));           /* waiting on it is a no-op */
    CHECK(cuStreamSynchronize(s2));

    /* s1: [gate] memset a=0x11, record ev; s2: wait ev, copy a->b, b->h */
    CHECK(cuLaunchHostFunc(s1, gate_fn, &g));
    CHECK(cuMemsetD8Async(a, 0x11, n, s1));
    CHECK(cuEventRecord(ev, s1));
    CHECK(cuStreamWaitEvent(s2, ev, 0));
    CHECK(cuMemcpyDtoDAsync(b, a, n, s2));
    CHECK(cuMemcpyDtoHAsync(h, b, n, s2));

    EXPECT_TRUE(gate_wait_entered(&g, 10.0)); /* the host function runs (on the client) */
    EXPECT_RESULT(cuStreamQuery(s1), CUDA_ERROR_NOT_READY);
    EXPECT_RESULT(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
    EXPECT_RESULT(cuStreamQuery(s2), CUDA_ERROR_NOT_READY); /* held back by the event */
    it_sleep_ms(50);
    EXPECT_RESULT(cuStreamQuery(s2), CUDA_ERROR_NOT_READY);
    EXPECT_ALLBYTES(h, 0xCD, n, "host buffer before the gate opened");

    gate_open(&g);
    CHECK(cuStreamSynchronize(s2));
    EXPECT_TRUE(!g.timed_out);
    EXPECT_ALLBYTES(h, 0x11, n, "s2 saw s1's memset through the event");
    EXPECT_RESULT(cuEventQuery(ev), CUDA_SUCCESS);
    CHECK(cuEventSynchronize(ev));
    EXPECT_RESULT(cuStreamQuery(s1), CUDA_SUCCESS);
    EXPECT_RESULT(cuStreamQuery(s2), CUDA_SUCCESS);

    /* re-recording an event moves it: s2 must now wait for the new record */
    struct gate g2;
    gate_init(&g2);
    CHECK(cuLaunchHostFunc(s1, gate_fn, &g2));
    CHECK(cuMemsetD8Async(a, 0x22, n, s1));
    CHECK(cuEventRecord(ev, s1));
    CHECK(cuStreamWaitEvent(s2, ev, 0));
    CHECK(cuMemcpyDtoHAsync(h, a, n, s2));
    EXPECT_RESULT(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
    gate_open(&g2);
    CHECK(cuStreamSynchronize(s2));
    EXPECT_ALLBYTES(h, 0x22, n, "s2 saw the re-recorded event's work");

    /* cuCtxSynchronize waits for every stream */
    struct gate g3;
    gate_init(&g3);
    CHECK(cuLaunchHostFunc(s1, gate_fn, &g3));
    CHECK(cuMemsetD8Async(b, 0x33, n, s1));
    CHECK(cuMemcpyDtoHAsync(h, b, n, s1));
    gate_open(&g3);
    CHECK(cuCtxSynchronize());
    EXPECT_ALLBYTES(h, 0x33, n, "cuCtxSynchronize completed s1");

    CHECK(cuEventDestroy(ev));
    CHECK(cuEventDestroy(fresh));
    CHECK(cuStreamDestroy(s1));
    CHECK(cuStreamDestroy(s2));
    CHECK(cuMemFree(a));
    CHECK(cuMemFree(b));
    CHECK(cuMemFreeHost(h));
    gate_destroy(&g);
    gate_destroy(&g2);
    gate_destroy(&g3);
}

/* ---- event timing ---- */
static void CUDA_CB sleep_fn(void *p) { it_sleep_ms((unsigned)(uintptr_t)p); }

static void event_timing(void)
{
    CUstream s;
    CUevent e1, e2, nt, unrec;
    float ms = -1;
    CHECK(cuStreamCreate(&s, 0));
    CHECK(cuEventCreate(&e1, 0));
    CHECK(cuEventCreate(&e2, CU_EVENT_BLOCKING_SYNC));
    CHECK(cuEventCreate(&nt, CU_EVENT_DISABLE_TIMING));
    CHECK(cuEventCreate(&unrec, 0));

    CHECK(cuEventRecord(e1, s));
    CHECK(cuLaunchHostFunc(s, sleep_fn, (void *)(uintptr_t)150));
    CHECK(cuEventRecordWithFlags(e2, s, CU_EVENT_RECORD_DEFAULT));
    CHECK(cuEventSynchronize(e2));
    CHECK(cuEventElapsedTime(&ms, e1, e2));
    printf("streams: elapsed %.3f ms across a 150 ms host function\n", ms);
    EXPECT_TRUE(ms >= 149.5f);
    CHECK(cuEventElapsedTime(&ms, e2, e1));
    EXPECT_TRUE(ms <= -149.5f);
    CHECK(cuEventElapsedTime(&ms, e1, e1));
    EXPECT_TRUE(ms == 0.0f);

    /* documented: DISABLE_TIMING or never-recorded events give INVALID_HANDLE */
    CHECK(cuEventRecord(nt, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_RESULT(cuEventElapsedTime(&ms, e1, nt), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_RESULT(cuEventElapsedTime(&ms, e1, unrec), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_RESULT(cuEventElapsedTime(NULL, e1, e2), CUDA_ERROR_INVALID_VALUE);

    /* an event recorded behind pending work is NOT_READY for ElapsedTime too */
    struct gate g;
    gate_init(&g);
    CHECK(cuEventRecord(e1, s));
    CHECK(cuLaunchHostFunc(s, gate_fn, &g));
    CHECK(cuEventRecord(e2, s));
    EXPECT_RESULT(cuEventElapsedTime(&ms, e1, e2), CUDA_ERROR_NOT_READY);
    gate_open(&g);
    CHECK(cuEventSynchronize(e2));
    CHECK(cuEventElapsedTime(&ms, e1, e2));
    EXPECT_TRUE(ms >= 0.0f);
    gate_destroy(&g);

    /* events on the NULL stream */
    CHECK(cuEventRecord(e1, NULL));
    CHECK(cuLaunchHostFunc(NULL, sleep_fn, (void *)(uintptr_t)20));
    CHECK(cuEventRecord(e2, NULL));
    CHECK(cuEventSynchronize(e2));
    CHECK(cuEventElapsedTime(&ms, e1, e2));
    EXPECT_TRUE(ms >= 19.5f);

    CHECK(cuEventDestroy(e1));
    CHECK(cuEventDestroy(e2));
    CHECK(cuEventDestroy(nt));
    CHECK(cuEventDestroy(unrec));
    CHECK(cuStreamDestroy(s));
}

/* ---- host functions and callbacks ---- */
static atomic_int cb_seq;
static atomic_int counter;
static pthread_t main_thread;

struct cb_check {
    const unsigned char *buf;
    size_t n;
    unsigned char want;
    CUstream stream;
    int pos;          /* position in cb_seq order, -1: did not run */
    int data_ok;      /* buffer held the expected bytes when it ran */
    int status_ok;    /* callbacks: status == CUDA_SUCCESS and the right stream */
    int on_main;      /* ran on the main thread (it must not: it is asynchronous) */
};

static void check_buf(struct cb_check *c)
{
    c->data_ok = 1;
    for (size_t i = 0; i < c->n; i++)
        if (c->buf[i] != c->want) {
            c->data_ok = 0;
            break;
        }
    c->on_main = pthread_equal(pthread_self(), main_thread);
    c->pos = atomic_fetch_add(&cb_seq, 1);
}

static void CUDA_CB hostfn_check(void *p) { check_buf(p); }

static void CUDA_CB callback_check(CUstream hStream, CUresult status, void *p)
{
    struct cb_check *c = p;
    c->status_ok = status == CUDA_SUCCESS && hStream == c->stream;
    check_buf(c);
}

static void CUDA_CB inc_fn(void *p) { atomic_fetch_add((atomic_int *)p, 1); }

static void host_functions(void)
{
    const size_t n = 65537;
    CUstream s;
    CUdeviceptr d;
    unsigned char *pinned, *pageable = it_xmalloc(n);
    CHECK(cuStreamCreate(&s, 0));
    CHECK(cuMemAlloc(&d, n));
    CHECK(cuMemAllocHost((void **)&pinned, n));
    memset(pinned, 0, n);
    memset(pageable, 0, n);
    main_thread = pthread_self();
    atomic_store(&cb_seq, 0);

    struct cb_check A = {pinned, n, 0x5A, s, -1, 0, 0, 0};
    struct cb_check B = {pageable, n, 0x6B, s, -1, 0, 0, 0};
    struct cb_check C = {pageable, n, 0x6B, s, -1, 0, 0, 0};
    /* a host function sees the device->host copy queued before it */
    CHECK(cuMemsetD8Async(d, 0x5A, n, s));
    CHECK(cuMemcpyDtoHAsync(pinned, d, n, s));
    CHECK(cuLaunchHostFunc(s, hostfn_check, &A));
    CHECK(cuMemsetD8Async(d, 0x6B, n, s));
    CHECK(cuMemcpyDtoHAsync(pageable, d, n, s));
    CHECK(cuStreamAddCallback(s, callback_check, &B, 0));
    CHECK(cuLaunchHostFunc(s, hostfn_check, &C));
    CHECK(cuStreamSynchronize(s));
    /* all three ran before cuStreamSynchronize returned, in stream order */
    EXPECT_EQ(A.pos, 0);
    EXPECT_EQ(B.pos, 1);
    EXPECT_EQ(C.pos, 2);
    EXPECT_TRUE(A.data_ok); /* pinned DtoH landed before the host function */
    EXPECT_TRUE(B.data_ok); /* pageable DtoH landed before the callback */
    EXPECT_TRUE(C.data_ok);
    EXPECT_TRUE(B.status_ok);
    EXPECT_TRUE(!A.on_main && !B.on_main && !C.on_main);

    /* cuEventSynchronize and cuCtxSynchronize also wait for host functions */
    CUevent ev;
    CHECK(cuEventCreate(&ev, 0));
    atomic_store(&counter, 0);
    CHECK(cuLaunchHostFunc(s, sleep_fn, (void *)(uintptr_t)50));
    CHECK(cuLaunchHostFunc(s, inc_fn, &counter));
    CHECK(cuEventRecord(ev, s));
    CHECK(cuEventSynchronize(ev));
    EXPECT_EQ(atomic_load(&counter), 1);
    CHECK(cuLaunchHostFunc(NULL, sleep_fn, (void *)(uintptr_t)50));
    CHECK(cuLaunchHostFunc(NULL, inc_fn, &counter));
    CHECK(cuCtxSynchronize());
    EXPECT_EQ(atomic_load(&counter), 2);

    /* host functions run by themselves: the main thread only watches */
    const int many = 50;
    atomic_store(&counter, 0);
    for (int i = 0; i < many; i++)
        CHECK(cuLaunchHostFunc(s, inc_fn, &counter));
    double t0 = it_now();
    while (atomic_load(&counter) < many && it_now() - t0 < 10.0)
        it_sleep_ms(1);
    if (atomic_load(&counter) != many)
        it_fail(__FILE__, __LINE__, "host functions did not run without a synchronising call: %d of %d after 10 s",
                atomic_load(&counter), many);
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(atomic_load(&counter), many);
    EXPECT_RESULT(cuStreamAddCallback(s, callback_check, &B, 1), CUDA_ERROR_INVALID_VALUE); /* flags must be 0 */
    EXPECT_RESULT(cuLaunchHostFunc(s, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuStreamSynchronize(s));

    CHECK(cuEventDestroy(ev));
    CHECK(cuStreamDestroy(s));
    CHECK(cuMemFree(d));
    CHECK(cuMemFreeHost(pinned));
    free(pageable);
}

/* ---- special stream handles from the legacy translation unit ---- */
static void special_streams(void)
{
    const size_t n = 4099;
    CUdeviceptr d;
    unsigned char *h = it_xmalloc(n);
    CHECK(cuMemAlloc(&d, n));
    CHECK(cuMemsetD8Async(d, 0x41, n, CU_STREAM_PER_THREAD));
    CHECK(cuMemcpyDtoHAsync(h, d, n, CU_STREAM_PER_THREAD));
    CHECK(cuStreamSynchronize(CU_STREAM_PER_THREAD));
    EXPECT_ALLBYTES(h, 0x41, n, "CU_STREAM_PER_THREAD");
    CHECK(cuMemsetD8Async(d, 0x42, n, CU_STREAM_LEGACY));
    CHECK(cuMemcpyDtoHAsync(h, d, n, CU_STREAM_LEGACY));
    CHECK(cuStreamSynchronize(CU_STREAM_LEGACY));
    EXPECT_ALLBYTES(h, 0x42, n, "CU_STREAM_LEGACY");
    EXPECT_RESULT(cuStreamQuery(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
    EXPECT_RESULT(cuStreamQuery(NULL), CUDA_SUCCESS);
    CHECK(cuMemFree(d));
    free(h);
}

/* ---- stream attributes: set, read back, copied to another stream ---- */
static void stream_attributes(void)
{
    int least, greatest;
    CHECK(cuCtxGetStreamPriorityRange(&least, &greatest));
    CUstream s, t;
    CHECK(cuStreamCreateWithPriority(&s, CU_STREAM_NON_BLOCKING, least));
    CHECK(cuStreamCreate(&t, CU_STREAM_NON_BLOCKING));
    CUstreamAttrValue v;
    memset(&v, 0x5a, sizeof v);
    CHECK(cuStreamGetAttribute(s, CU_STREAM_ATTRIBUTE_PRIORITY, &v));
    EXPECT_EQ(v.priority, least);
    v.priority = greatest;
    CHECK(cuStreamSetAttribute(s, CU_STREAM_ATTRIBUTE_PRIORITY, &v));
    int p = 99;
    CHECK(cuStreamGetPriority(s, &p));
    EXPECT_EQ(p, greatest);

    v.syncPolicy = CU_SYNC_POLICY_SPIN;
    CHECK(cuStreamSetAttribute(s, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &v));
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, 4096));
    memset(&v, 0, sizeof v);
    v.accessPolicyWindow = (CUaccessPolicyWindow){.base_ptr = (void *)(uintptr_t)d, .num_bytes = 4096, .hitRatio = 0.5f,
                                                  .hitProp = CU_ACCESS_PROPERTY_PERSISTING,
                                                  .missProp = CU_ACCESS_PROPERTY_STREAMING};
    CHECK(cuStreamSetAttribute(s, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, &v));
    CUstreamAttrValue bad = v;
    bad.accessPolicyWindow.hitRatio = 1.5f;
    EXPECT_ERROR(cuStreamSetAttribute(s, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, &bad));
    EXPECT_ERROR(cuStreamSetAttribute(s, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, NULL));
    v.memSyncDomain = CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE;
    CHECK(cuStreamSetAttribute(s, CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN, &v));
    EXPECT_ERROR(cuStreamGetAttribute(s, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, &v)); /* not a stream's */

    /* the values come back, on s and on a stream they were copied to */
    CUstream both[] = {s, t};
    CHECK(cuStreamCopyAttributes(t, s));
    for (int i = 0; i < 2; i++) {
        memset(&v, 0x5a, sizeof v);
        CHECK(cuStreamGetAttribute(both[i], CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &v));
        EXPECT_EQ(v.syncPolicy, CU_SYNC_POLICY_SPIN);
        CHECK(cuStreamGetAttribute(both[i], CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, &v));
        EXPECT_TRUE(v.accessPolicyWindow.base_ptr == (void *)(uintptr_t)d && v.accessPolicyWindow.num_bytes == 4096 &&
                    v.accessPolicyWindow.hitRatio == 0.5f &&
                    v.accessPolicyWindow.hitProp == CU_ACCESS_PROPERTY_PERSISTING &&
                    v.accessPolicyWindow.missProp == CU_ACCESS_PROPERTY_STREAMING);
        CHECK(cuStreamGetAttribute(both[i], CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN, &v));
        EXPECT_EQ(v.memSyncDomain, CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE);
        CHECK(cuStreamGetAttribute(both[i], CU_STREAM_ATTRIBUTE_PRIORITY, &v));
        EXPECT_EQ(v.priority, greatest);
    }
    /* work on it still runs */
    unsigned char h[64];
    CHECK(cuMemsetD8Async(d, 0x3c, sizeof h, s));
    CHECK(cuMemcpyDtoHAsync(h, d, sizeof h, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_ALLBYTES(h, 0x3c, sizeof h, "memset on a stream with attributes");
    CHECK(cuMemFree(d));
    CHECK(cuStreamDestroy(s));
    CHECK(cuStreamDestroy(t));
}

/* ---- several host threads, each with its own stream ---- */
struct worker {
    int idx;
    int ok;
};

static void *worker_main(void *vp)
{
    struct worker *w = vp;
    CUstream s;
    char name[64];
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuStreamCreate(&s, w->idx % 2 ? CU_STREAM_NON_BLOCKING : CU_STREAM_DEFAULT));
    snprintf(name, sizeof name, "thread %d", w->idx);
    for (int round = 0; round < 3; round++)
        ordering_test(s, (w->idx + round) % 2, 1000 + (uint64_t)w->idx * 10 + (uint64_t)round, 150, name);
    CHECK(cuStreamDestroy(s));
    w->ok = 1;
    return NULL;
}

static void threads_with_streams(void)
{
    enum { NT = 4 };
    pthread_t th[NT];
    struct worker w[NT];
    for (int i = 0; i < NT; i++) {
        w[i].idx = i;
        w[i].ok = 0;
        ASSERT_TRUE(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        EXPECT_TRUE(w[i].ok);
    }

    /* independent streams do not wait for each other: s1 is held by a host
     * function that is only released after s2's work has completed */
    CUstream s1, s2;
    CUdeviceptr d;
    unsigned char h[1000];
    struct gate g;
    gate_init(&g);
    CHECK(cuStreamCreate(&s1, 0));
    CHECK(cuStreamCreate(&s2, 0));
    CHECK(cuMemAlloc(&d, sizeof h));
    CHECK(cuLaunchHostFunc(s1, gate_fn, &g));
    CHECK(cuMemsetD8Async(d, 0x77, sizeof h, s2));
    CHECK(cuMemcpyDtoHAsync(h, d, sizeof h, s2));
    double t0 = it_now();
    CHECK(cuStreamSynchronize(s2));
    double t1 = it_now();
    EXPECT_RESULT(cuStreamQuery(s1), CUDA_ERROR_NOT_READY);
    gate_open(&g);
    CHECK(cuStreamSynchronize(s1));
    if (g.timed_out || t1 - t0 > GATE_TIMEOUT_S - 1)
        it_fail(__FILE__, __LINE__, "stream s2 waited for the host function blocking s1 (%.1f s)", t1 - t0);
    EXPECT_ALLBYTES(h, 0x77, sizeof h, "s2 work while s1 is blocked");
    CHECK(cuMemFree(d));
    CHECK(cuStreamDestroy(s1));
    CHECK(cuStreamDestroy(s2));
    gate_destroy(&g);
}

/* ---- synchronising a stream with nothing queued ----
 * rgpu answers it without a round trip (client/streamidle.c) once the
 * stream's last synchronisation succeeded and nothing that names it was
 * sent since. Whatever the optimisation, a synchronisation after work was
 * queued, by this thread or another, waits for that work. */
typedef int (*client_info_fn)(struct rgpu_client_info *);
static uint32_t requests_sent(client_info_fn info)
{
    struct rgpu_client_info i;
    return info && info(&i) == 0 ? i.requests : 0;
}

struct gated_launch {
    CUstream s;
    struct gate *g;
    atomic_int *after; /* incremented by a host function behind the gate */
    atomic_int queued;
};
static void *launch_behind_gate(void *p)
{
    struct gated_launch *l = p;
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuLaunchHostFunc(l->s, gate_fn, l->g));
    CHECK(cuLaunchHostFunc(l->s, inc_fn, l->after));
    atomic_store(&l->queued, 1);
    return NULL;
}
static void *open_later(void *p)
{
    it_sleep_ms(200);
    gate_open(p);
    return NULL;
}

struct sync_job {
    CUstream s;
    CUresult r;
};
static void *sync_in_thread(void *p)
{
    struct sync_job *j = p;
    CHECK(cuCtxSetCurrent(ctx));
    j->r = cuStreamSynchronize(j->s);
    return NULL;
}

static void idle_stream_syncs(void)
{
    client_info_fn info = (client_info_fn)dlsym(RTLD_DEFAULT, "rgpu_client_info");
    CUstream s, other;
    CUdeviceptr d;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamCreate(&other, CU_STREAM_NON_BLOCKING));
    CHECK(cuMemAlloc(&d, 4096));

    /* idle: the second and later synchronisations cost nothing on the wire */
    CHECK(cuStreamSynchronize(s));
    uint32_t r0 = requests_sent(info);
    for (int i = 0; i < 100; i++) {
        CHECK(cuStreamSynchronize(s));
        CHECK(cuStreamQuery(s));
    }
    if (info)
        EXPECT_EQ(requests_sent(info), r0);

    /* a context synchronised with nothing queued since is idle too */
    CHECK(cuCtxSynchronize());
    r0 = requests_sent(info);
    for (int i = 0; i < 100; i++)
        CHECK(cuCtxSynchronize());
    if (info)
        EXPECT_EQ(requests_sent(info), r0);
    atomic_int ctx_after = 0;
    CHECK(cuLaunchHostFunc(other, sleep_fn, (void *)(uintptr_t)100));
    CHECK(cuLaunchHostFunc(other, inc_fn, &ctx_after));
    CHECK(cuCtxSynchronize());
    EXPECT_EQ(atomic_load(&ctx_after), 1);

    /* work on another stream leaves s idle; work naming s does not */
    CHECK(cuMemsetD8Async(d, 1, 4096, other));
    r0 = requests_sent(info);
    CHECK(cuStreamSynchronize(s));
    if (info)
        EXPECT_EQ(requests_sent(info), r0);
    atomic_int after = 0;
    CHECK(cuLaunchHostFunc(s, sleep_fn, (void *)(uintptr_t)100));
    CHECK(cuLaunchHostFunc(s, inc_fn, &after));
    r0 = requests_sent(info);
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(atomic_load(&after), 1);
    if (info)
        EXPECT_EQ(requests_sent(info), r0 + 1);

    /* a call naming no stream that waits for its reply (here an allocation)
     * has left nothing queued when it returns: s is still idle */
    CUdeviceptr d2;
    CHECK(cuMemAlloc(&d2, 4096));
    r0 = requests_sent(info);
    CHECK(cuStreamSynchronize(s));
    if (info)
        EXPECT_EQ(requests_sent(info), r0);
    CHECK(cuMemFree(d2));

    /* another thread queues work on s, held behind a gate: this thread's
     * synchronisation, after that, waits for it */
    CHECK(cuStreamSynchronize(s));
    CHECK(cuStreamSynchronize(s));
    struct gate g;
    gate_init(&g);
    struct gated_launch l = {.s = s, .g = &g, .after = &after};
    pthread_t t, opener;
    ASSERT_TRUE(pthread_create(&t, NULL, launch_behind_gate, &l) == 0);
    pthread_join(t, NULL);
    ASSERT_TRUE(atomic_load(&l.queued) == 1);
    EXPECT_RESULT(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    ASSERT_TRUE(pthread_create(&opener, NULL, open_later, &g) == 0);
    double t0 = it_now();
    CHECK(cuStreamSynchronize(s));
    double waited = it_now() - t0;
    pthread_join(opener, NULL);
    EXPECT_EQ(atomic_load(&after), 2);
    if (waited < 0.15)
        it_fail(__FILE__, __LINE__, "cuStreamSynchronize returned after %.3f s, before the gate opened", waited);
    EXPECT_TRUE(!g.timed_out);
    gate_destroy(&g);

    /* work queued while a synchronisation is on its way: that
     * synchronisation's success says nothing of it (rgpu only: it needs to
     * see the request leave) */
    if (info) {
        struct gate g1, g2;
        gate_init(&g1);
        gate_init(&g2);
        CHECK(cuLaunchHostFunc(s, gate_fn, &g1));
        uint32_t before = requests_sent(info);
        struct sync_job job = {.s = s};
        ASSERT_TRUE(pthread_create(&t, NULL, sync_in_thread, &job) == 0);
        while (requests_sent(info) == before) /* its request has left */
            it_sleep_ms(1);
        CHECK(cuLaunchHostFunc(s, gate_fn, &g2));
        CHECK(cuLaunchHostFunc(s, inc_fn, &after));
        gate_open(&g1);
        ASSERT_TRUE(pthread_create(&opener, NULL, open_later, &g2) == 0);
        pthread_join(t, NULL);
        EXPECT_EQ(job.r, CUDA_SUCCESS);
        CHECK(cuStreamSynchronize(s));
        pthread_join(opener, NULL);
        EXPECT_EQ(atomic_load(&after), 3);
        EXPECT_TRUE(!g1.timed_out && !g2.timed_out);
        gate_destroy(&g1);
        gate_destroy(&g2);
    }

    /* a destroyed stream is not idle: it is no stream */
    CUstream gone;
    CHECK(cuStreamCreate(&gone, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamSynchronize(gone));
    CHECK(cuStreamSynchronize(gone));
    CHECK(cuStreamDestroy(gone));
    if (info)
        EXPECT_RESULT(cuStreamSynchronize(gone), CUDA_ERROR_INVALID_HANDLE);

    CHECK(cuMemFree(d));
    CHECK(cuStreamDestroy(s));
    CHECK(cuStreamDestroy(other));
}

/* ---- synchronising after copies that cannot fail ----
 * A host-to-device copy whose bytes travel with it, into an allocation, on
 * a stream with nothing else unfinished: the client answers its
 * synchronisation and sends a fence that keeps everything sent later behind
 * the copy (client/streamidle.c). Whatever the optimisation, once the
 * synchronisation returns the source may be reused and every later
 * operation, on any stream, sees the bytes. */
static uint32_t round_trips(client_info_fn info)
{
    struct rgpu_client_info i;
    return info && info(&i) == 0 ? i.round_trips : 0;
}

static void copy_syncs_on(CUstream s, const char *what)
{
    client_info_fn info = (client_info_fn)dlsym(RTLD_DEFAULT, "rgpu_client_info");
    /* in pieces under rgpud's 1 MiB direct-copy size (which it copies while it
     * reads them): queued to the stream like small copies, so that a reader
     * on another stream that overtook them would see old bytes */
    const size_t n = 16u << 20, piece = 256u << 10;
    uint8_t *src = it_xmalloc(n), *back = it_xmalloc(n), *want = it_xmalloc(n);
    CUdeviceptr d;
    CUstream reader;
    CHECK(cuMemAlloc(&d, n));
    CHECK(cuStreamCreate(&reader, CU_STREAM_NON_BLOCKING));
    CHECK(cuCtxSynchronize());
    for (int round = 0; round < 4; round++) {
        it_fill(src, n, 100 + (uint64_t)round);
        memcpy(want, src, n);
        uint32_t t0 = round_trips(info);
        for (size_t off = 0; off < n; off += piece)
            CHECK(cuMemcpyHtoDAsync(d + off, src + off, piece, s));
        CHECK(cuStreamSynchronize(s));
        if (info && round_trips(info) != t0)
            it_fail(__FILE__, __LINE__, "%s: synchronising after a copy that cannot fail took %u round trip(s)", what,
                    round_trips(info) - t0);
        memset(src, 0xEE, n); /* the application's to reuse */
        CHECK(cuMemcpyDtoHAsync(back, d, n, reader));
        CHECK(cuStreamSynchronize(reader));
        if (memcmp(back, want, n) != 0)
            it_fail(__FILE__, __LINE__, "%s, round %d: another stream read the copy's destination before the copy", what,
                    round);
    }
    /* a copy past the end of the allocation can fail: its synchronisation asks, and reports it */
    CHECK(cuCtxSynchronize());
    uint32_t t0 = round_trips(info);
    CUresult r = cuMemcpyHtoDAsync(d + n - 4, src, 8, s);
    if (r == CUDA_SUCCESS)
        r = cuStreamSynchronize(s);
    if (r != CUDA_ERROR_INVALID_VALUE)
        it_fail(__FILE__, __LINE__, "%s: a copy past the end: %d, expected CUDA_ERROR_INVALID_VALUE", what, r);
    if (info && round_trips(info) == t0)
        it_fail(__FILE__, __LINE__, "%s: a copy that can fail was synchronised without asking", what);
    /* work the client cannot judge before the copy: the synchronisation asks */
    CHECK(cuMemsetD8Async(d, 7, n, s));
    CHECK(cuMemcpyHtoDAsync(d, src, 4096, s));
    t0 = round_trips(info);
    CHECK(cuStreamSynchronize(s));
    if (info && round_trips(info) == t0)
        it_fail(__FILE__, __LINE__, "%s: a synchronisation with a memset outstanding did not ask", what);
    CHECK(cuMemcpyDtoH(back, d, 8192));
    EXPECT_EQ(back[0], 0xEE);
    EXPECT_EQ(back[4096], 7);
    CHECK(cuMemFree(d));
    CHECK(cuStreamDestroy(reader));
    free(src);
    free(back);
    free(want);
}

/* The client forgets the allocations of a context that ended: a copy into
 * one can fail, so its synchronisation asks, and reports it. */
static void copy_into_ended_context(void)
{
    client_info_fn info = (client_info_fn)dlsym(RTLD_DEFAULT, "rgpu_client_info");
    CUcontext mine, other;
    CUdevice dev;
    CHECK(cuCtxGetCurrent(&mine));
    CHECK(cuCtxGetDevice(&dev));
    CHECK(cuCtxCreate(&other, NULL, 0, dev));
    CUdeviceptr gone;
    CHECK(cuMemAlloc(&gone, 4096));
    CHECK(cuCtxDestroy(other));
    CHECK(cuCtxSetCurrent(mine));
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuCtxSynchronize());
    unsigned char buf[64] = {0};
    uint32_t t0 = round_trips(info);
    CUresult r = cuMemcpyHtoDAsync(gone, buf, sizeof buf, s);
    if (r == CUDA_SUCCESS)
        r = cuStreamSynchronize(s);
    if (r == CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "a copy into the memory of a context that ended: CUDA_SUCCESS");
    if (info && round_trips(info) == t0)
        it_fail(__FILE__, __LINE__, "a copy into the memory of a context that ended was synchronised without asking");
    CHECK(cuStreamSynchronize(s)); /* the error was reported once */
    CHECK(cuStreamDestroy(s));
}

static void copy_only_syncs(void)
{
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    copy_syncs_on(s, "an application's stream");
    CHECK(cuStreamDestroy(s));
    copy_syncs_on(CU_STREAM_PER_THREAD, "the per-thread stream");
    copy_syncs_on(CU_STREAM_LEGACY, "the legacy stream");
    copy_into_ended_context();
}

/* ---- events of finished streams ----
 * An event whose stream is known finished since its last record is
 * complete: rgpu's client answers its query and synchronisation without a
 * round trip (client/streamidle.c). Behind work still held, it asks, and
 * the event is not ready. */
static void event_answers(void)
{
    client_info_fn info = (client_info_fn)dlsym(RTLD_DEFAULT, "rgpu_client_info");
    CUstream s;
    CUevent e, e2;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
    CHECK(cuEventCreate(&e2, 0));
    for (int round = 0; round < 3; round++) {
        struct gate g;
        gate_init(&g);
        CHECK(cuLaunchHostFunc(s, gate_fn, &g));
        CHECK(cuEventRecord(e, s));
        uint32_t t0 = round_trips(info);
        EXPECT_RESULT(cuEventQuery(e), CUDA_ERROR_NOT_READY);
        if (info && round_trips(info) == t0)
            it_fail(__FILE__, __LINE__, "round %d: an event behind held work answered without asking", round);
        gate_open(&g);
        CHECK(cuEventSynchronize(e));
        CHECK(cuStreamSynchronize(s)); /* now the stream is known finished */
        t0 = round_trips(info);
        CHECK(cuEventQuery(e));
        CHECK(cuEventSynchronize(e));
        if (info && round_trips(info) != t0)
            it_fail(__FILE__, __LINE__, "round %d: events of a finished stream took %u round trip(s)", round,
                    round_trips(info) - t0);
        gate_destroy(&g);
    }
    /* recorded again on the legacy stream, then everything synchronised */
    CHECK(cuEventRecord(e2, NULL));
    CHECK(cuCtxSynchronize());
    uint32_t t0 = round_trips(info);
    CHECK(cuEventQuery(e2));
    if (info && round_trips(info) != t0)
        it_fail(__FILE__, __LINE__, "an event of the synchronised context took a round trip");
    /* a record behind work the client cannot judge: asked, and correct */
    struct gate g;
    gate_init(&g);
    CHECK(cuLaunchHostFunc(NULL, gate_fn, &g));
    CHECK(cuEventRecord(e2, NULL));
    EXPECT_RESULT(cuEventQuery(e2), CUDA_ERROR_NOT_READY);
    gate_open(&g);
    CHECK(cuEventSynchronize(e2));
    CHECK(cuCtxSynchronize());
    gate_destroy(&g);

    /* a record during a capture is a graph node: e's last record is still
     * the one on the held stream */
    CUstream held, cs;
    CHECK(cuStreamCreate(&held, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamCreate(&cs, CU_STREAM_NON_BLOCKING));
    gate_init(&g);
    CHECK(cuLaunchHostFunc(held, gate_fn, &g));
    CHECK(cuEventRecord(e, held));
    CHECK(cuStreamBeginCapture(cs, CU_STREAM_CAPTURE_MODE_RELAXED));
    CHECK(cuEventRecord(e, cs));
    CUgraph captured;
    CHECK(cuStreamEndCapture(cs, &captured));
    CHECK(cuStreamSynchronize(cs));
    EXPECT_RESULT(cuEventQuery(e), CUDA_ERROR_NOT_READY);
    /* a graph launch records its event record nodes' events */
    CHECK(cuEventRecord(e2, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuEventQuery(e2));
    CUgraph gr;
    CUgraphNode node;
    CUgraphExec gx;
    CHECK(cuGraphCreate(&gr, 0));
    CHECK(cuGraphAddEventRecordNode(&node, gr, NULL, 0, e2));
    CHECK(cuGraphInstantiate(&gx, gr, 0));
    CHECK(cuGraphLaunch(gx, held));
    EXPECT_RESULT(cuEventQuery(e2), CUDA_ERROR_NOT_READY);
    gate_open(&g);
    CHECK(cuStreamSynchronize(held));
    CHECK(cuEventQuery(e));
    CHECK(cuEventQuery(e2));
    gate_destroy(&g);
    CHECK(cuGraphExecDestroy(gx));
    CHECK(cuGraphDestroy(gr));
    CHECK(cuGraphDestroy(captured));
    CHECK(cuStreamDestroy(cs));
    CHECK(cuStreamDestroy(held));
    CHECK(cuEventDestroy(e));
    CHECK(cuEventDestroy(e2));
    CHECK(cuStreamDestroy(s));
}

/* ---- stream properties ---- */
static void stream_properties(void)
{
    int least, greatest, p;
    unsigned int fl;
    CUcontext c;
    unsigned long long id1, id2, id1b, id0;
    CHECK(cuCtxGetStreamPriorityRange(&least, &greatest));
    EXPECT_GE(least, greatest);

    CUstream s1, s2, s3, s4;
    CHECK(cuStreamCreateWithPriority(&s1, CU_STREAM_NON_BLOCKING, greatest));
    CHECK(cuStreamGetPriority(s1, &p));
    EXPECT_EQ(p, greatest);
    CHECK(cuStreamGetFlags(s1, &fl));
    EXPECT_EQ(fl, CU_STREAM_NON_BLOCKING);
    CHECK(cuStreamCreateWithPriority(&s2, CU_STREAM_DEFAULT, least));
    CHECK(cuStreamGetPriority(s2, &p));
    EXPECT_EQ(p, least);
    CHECK(cuStreamGetFlags(s2, &fl));
    EXPECT_EQ(fl, CU_STREAM_DEFAULT);
    /* documented: out-of-range priorities are clamped */
    CHECK(cuStreamCreateWithPriority(&s3, 0, greatest - 100));
    CHECK(cuStreamGetPriority(s3, &p));
    EXPECT_EQ(p, greatest);
    CHECK(cuStreamCreateWithPriority(&s4, 0, least + 100));
    CHECK(cuStreamGetPriority(s4, &p));
    EXPECT_EQ(p, least);

    CHECK(cuStreamGetCtx(s1, &c));
    EXPECT_TRUE(c == ctx);
    CHECK(cuStreamGetCtx(NULL, &c));
    EXPECT_TRUE(c == ctx);
    CHECK(cuStreamGetId(s1, &id1));
    CHECK(cuStreamGetId(s2, &id2));
    CHECK(cuStreamGetId(s1, &id1b));
    CHECK(cuStreamGetId(NULL, &id0));
    EXPECT_EQ(id1, id1b);
    EXPECT_NE(id1, id2);
    EXPECT_NE(id0, id1);
    EXPECT_NE(id0, id2);

    /* a stream of another context reports that context */
    CUcontext other, popped;
    CUstream so;
    CHECK(cuCtxCreate(&other, NULL, 0, 0));
    CHECK(cuStreamCreate(&so, 0));
    CHECK(cuCtxPopCurrent(&popped));
    CHECK(cuStreamGetCtx(so, &c));
    EXPECT_TRUE(c == other);
    /* CUDA 12.5's forms: no green context; the device of the stream's context */
    CUgreenCtx green = (CUgreenCtx)&c;
    CHECK(cuStreamGetCtx_v2(so, &c, &green));
    EXPECT_TRUE(c == other && green == NULL);
    EXPECT_ERROR(cuStreamGetCtx_v2(so, &c, NULL));
    CUdevice sdev = -1;
    CHECK(cuStreamGetDevice(so, &sdev));
    EXPECT_EQ(sdev, 0);
    CHECK(cuCtxPushCurrent(other));
    CHECK(cuStreamDestroy(so));
    CHECK(cuCtxPopCurrent(&popped));
    CHECK(cuCtxDestroy(other));

    /* destroying a stream with pending work: the work still completes */
    struct gate g;
    gate_init(&g);
    CUdeviceptr d;
    unsigned char h[777];
    CHECK(cuMemAlloc(&d, sizeof h));
    CHECK(cuMemsetD8(d, 0, sizeof h));
    CHECK(cuLaunchHostFunc(s4, gate_fn, &g));
    CHECK(cuMemsetD8Async(d, 0x99, sizeof h, s4));
    CHECK(cuStreamDestroy(s4));
    gate_open(&g);
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(h, d, sizeof h));
    EXPECT_ALLBYTES(h, 0x99, sizeof h, "work of a stream destroyed while pending");
    CHECK(cuMemFree(d));
    gate_destroy(&g);

    CHECK(cuStreamDestroy(s1));
    CHECK(cuStreamDestroy(s2));
    CHECK(cuStreamDestroy(s3));
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(cuInit(0));
    CUdevice dev;
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));

    CUstream s;
    CHECK(cuStreamCreate(&s, 0));
    ordering_test(s, 0, 1, 400, "pageable, one stream");
    ordering_test(s, 1, 2, 400, "pinned, one stream");
    ordering_test(NULL, 0, 3, 200, "pageable, NULL stream");
    pageable_source_reuse(s);
    CHECK(cuStreamDestroy(s));

    cross_stream_events();
    event_timing();
    host_functions();
    special_streams();
    stream_attributes();
    threads_with_streams();
    idle_stream_syncs();
    copy_only_syncs();
    event_answers();
    stream_properties();

    int f = ptds_checks(ctx);
    if (f)
        it_fail(__FILE__, __LINE__, "%d per-thread default stream check(s) failed (see above)", f);

    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    TEST_DONE();
}
