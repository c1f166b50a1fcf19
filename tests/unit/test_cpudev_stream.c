/*
 * test_cpudev_stream.c — CPU device contexts, streams and events: the
 * primary context's life cycle, created contexts and what destroying them
 * frees, per-thread current contexts, per-context state, stream order, host
 * functions, cross-stream waits, legacy default stream semantics, event
 * timing and queries, and forged or stale handles.
 *
 * Every test runs on a fresh activation of the primary context (retained in
 * its setup, released to zero in its teardown, which frees everything).
 * Where a test needs work to stay pending it blocks a stream with a "gate"
 * host function, so NOT_READY answers are deterministic; the only timing
 * assertion is a lower bound on elapsed time.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpudev.h"

#define OK(call) assert_int_equal((call), CUDA_SUCCESS)

static CUcontext primary;

/* ---- helpers ---- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
};
#define GATE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static void CUDA_CB gate_wait(void *arg)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* An order log written by host functions. */
static struct {
    pthread_mutex_t mu;
    int n;
    int v[4096];
} order = {PTHREAD_MUTEX_INITIALIZER, 0, {0}};

static void CUDA_CB log_value(void *arg)
{
    pthread_mutex_lock(&order.mu);
    if (order.n < 4096)
        order.v[order.n++] = (int)(intptr_t)arg;
    pthread_mutex_unlock(&order.mu);
}

static void log_reset(void)
{
    pthread_mutex_lock(&order.mu);
    order.n = 0;
    pthread_mutex_unlock(&order.mu);
}

static int log_count(void)
{
    pthread_mutex_lock(&order.mu);
    int n = order.n;
    pthread_mutex_unlock(&order.mu);
    return n;
}

static void CUDA_CB sleep_50ms(void *arg) { usleep(50 * 1000); }
static void CUDA_CB sleep_2ms(void *arg) { usleep(2 * 1000); }

/* Poll until the stream has no pending work; false after ~10 s. Used where
 * a wrong implementation would block a synchronising call forever. */
static bool drains(CUstream s)
{
    for (int i = 0; i < 10000; i++) {
        CUresult r = cpudev_cuStreamQuery(s);
        if (r == CUDA_SUCCESS)
            return true;
        if (r != CUDA_ERROR_NOT_READY)
            return false;
        usleep(1000);
    }
    return false;
}

static int use_primary(void **state)
{
    if (cpudev_cuDevicePrimaryCtxRetain(&primary, 0) || cpudev_cuCtxSetCurrent(primary))
        return -1;
    log_reset();
    return 0;
}

static int release_primary(void **state)
{
    cpudev_cuCtxSetCurrent(primary);
    return cpudev_cuDevicePrimaryCtxRelease_v2(0) == CUDA_SUCCESS ? 0 : -1;
}

/* ---- contexts ---- */

static void primary_life_cycle(void **state)
{
    unsigned flags;
    int active;
    CUcontext p = NULL, p2 = NULL;
    OK(cpudev_cuDevicePrimaryCtxGetState(0, &flags, &active));
    assert_int_equal(active, 0);
    assert_int_equal(cpudev_cuDevicePrimaryCtxRelease_v2(0), CUDA_ERROR_INVALID_CONTEXT); /* not retained */
    assert_int_equal(cpudev_cuDevicePrimaryCtxRetain(&p, 1), CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cpudev_cuDevicePrimaryCtxRetain(NULL, 0), CUDA_ERROR_INVALID_VALUE);

    OK(cpudev_cuDevicePrimaryCtxRetain(&p, 0));
    OK(cpudev_cuDevicePrimaryCtxRetain(&p2, 0));
    assert_ptr_equal(p, p2);
    OK(cpudev_cuCtxSetCurrent(p));
    unsigned long long id1, id2;
    OK(cpudev_cuCtxGetId(NULL, &id1));
    OK(cpudev_cuDevicePrimaryCtxGetState(0, &flags, &active));
    assert_int_equal(active, 1);
    OK(cpudev_cuDevicePrimaryCtxRelease_v2(0));
    OK(cpudev_cuDevicePrimaryCtxGetState(0, &flags, &active));
    assert_int_equal(active, 1); /* one reference left */

    /* Flags can be set whether active or not. */
    OK(cpudev_cuDevicePrimaryCtxSetFlags_v2(0, CU_CTX_SCHED_BLOCKING_SYNC));
    OK(cpudev_cuDevicePrimaryCtxGetState(0, &flags, &active));
    assert_int_equal(flags, CU_CTX_SCHED_BLOCKING_SYNC);
    assert_int_equal(cpudev_cuDevicePrimaryCtxSetFlags_v2(0, CU_CTX_SCHED_SPIN | CU_CTX_SCHED_YIELD),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuDevicePrimaryCtxSetFlags_v2(0, 0x100), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuDevicePrimaryCtxSetFlags_v2(0, CU_CTX_COREDUMP_ENABLE), CUDA_ERROR_NOT_SUPPORTED);
    assert_int_equal(cpudev_cuDevicePrimaryCtxSetFlags_v2(1, 0), CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cpudev_cuDevicePrimaryCtxGetState(0, NULL, &active), CUDA_ERROR_INVALID_VALUE);

    /* The last release tears it down: memory goes, handles die, and the
     * thread's binding stays but cannot be used. */
    CUdeviceptr d;
    CUstream s;
    CUevent e;
    OK(cpudev_cuMemAlloc_v2(&d, 4096));
    OK(cpudev_cuStreamCreate(&s, 0));
    OK(cpudev_cuEventCreate(&e, 0));
    OK(cpudev_cuDevicePrimaryCtxRelease_v2(0));
    OK(cpudev_cuDevicePrimaryCtxGetState(0, &flags, &active));
    assert_int_equal(active, 0);
    assert_null(cpudev_host_ptr(d, 1));
    assert_int_equal(cpudev_cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuEventQuery(e), CUDA_ERROR_INVALID_HANDLE);
    CUcontext cur;
    OK(cpudev_cuCtxGetCurrent(&cur));
    assert_ptr_equal(cur, p);
    assert_int_equal(cpudev_cuMemAlloc_v2(&d, 16), CUDA_ERROR_CONTEXT_IS_DESTROYED);
    assert_int_equal(cpudev_cuCtxSynchronize(), CUDA_ERROR_CONTEXT_IS_DESTROYED);

    /* Retained again: a new activation with a new id, flags kept. */
    OK(cpudev_cuDevicePrimaryCtxRetain(&p2, 0));
    assert_ptr_equal(p2, p);
    OK(cpudev_cuCtxGetId(NULL, &id2));
    assert_true(id2 != id1);
    OK(cpudev_cuCtxGetFlags(&flags));
    assert_int_equal(flags, CU_CTX_SCHED_BLOCKING_SYNC);
    OK(cpudev_cuDevicePrimaryCtxSetFlags_v2(0, 0));

    /* Reset: everything goes after queued work completes; the count stays. */
    OK(cpudev_cuMemAlloc_v2(&d, 4096));
    OK(cpudev_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuLaunchHostFunc(s, sleep_50ms, NULL));
    OK(cpudev_cuLaunchHostFunc(s, log_value, (void *)7));
    OK(cpudev_cuDevicePrimaryCtxReset_v2(0));
    assert_int_equal(log_count(), 1); /* the queued work ran before the reset returned */
    OK(cpudev_cuDevicePrimaryCtxGetState(0, &flags, &active));
    assert_int_equal(active, 0);
    assert_null(cpudev_host_ptr(d, 1));
    assert_int_equal(cpudev_cuStreamDestroy_v2(s), CUDA_ERROR_INVALID_HANDLE);
    OK(cpudev_cuDevicePrimaryCtxReset_v2(0)); /* already inactive: nothing to do */
    OK(cpudev_cuDevicePrimaryCtxRelease_v2(0)); /* allowed after a reset */
    assert_int_equal(cpudev_cuDevicePrimaryCtxRelease_v2(0), CUDA_ERROR_INVALID_CONTEXT);
    OK(cpudev_cuCtxSetCurrent(NULL));
}

static void CUDA_CB set_flag(void *arg) { atomic_store((_Atomic int *)arg, 1); }

struct bound_thread {
    CUcontext ctx;
    pthread_barrier_t *bar;
    CUresult r;
};

static void *use_after_destroy(void *arg)
{
    struct bound_thread *t = arg;
    cpudev_cuCtxSetCurrent(t->ctx);
    pthread_barrier_wait(t->bar); /* bound */
    pthread_barrier_wait(t->bar); /* destroyed by the test thread */
    t->r = cpudev_cuCtxSynchronize();
    return NULL;
}

static void created_context_destroy_frees(void **state)
{
    size_t free0, free1, total;
    OK(cpudev_cuMemGetInfo_v2(&free0, &total));
    CUcontext c;
    assert_int_equal(cpudev_cuCtxCreate_v2(&c, 0, 1), CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cpudev_cuCtxCreate_v2(&c, 0x3, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuCtxCreate_v2(NULL, 0, 0), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuCtxCreate_v2(&c, CU_CTX_SCHED_YIELD, 0));
    CUcontext cur;
    OK(cpudev_cuCtxGetCurrent(&cur));
    assert_ptr_equal(cur, c); /* created contexts become current */
    assert_ptr_not_equal(c, primary);
    unsigned flags;
    OK(cpudev_cuCtxGetFlags(&flags));
    assert_int_equal(flags, CU_CTX_SCHED_YIELD);

    CUdeviceptr d;
    OK(cpudev_cuMemAlloc_v2(&d, 8 << 20));
    OK(cpudev_cuMemGetInfo_v2(&free1, &total));
    assert_int_equal(free1, free0 - (8 << 20));
    CUstream s;
    _Atomic int ran = 0;
    OK(cpudev_cuStreamCreate(&s, 0));
    OK(cpudev_cuLaunchHostFunc(s, sleep_50ms, NULL));
    OK(cpudev_cuLaunchHostFunc(s, set_flag, (void *)&ran));

    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct bound_thread t = {c, &bar, CUDA_SUCCESS};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, use_after_destroy, &t), 0);
    pthread_barrier_wait(&bar);

    OK(cpudev_cuCtxDestroy_v2(c));
    assert_int_equal(atomic_load(&ran), 1); /* queued work completed first */
    OK(cpudev_cuCtxGetCurrent(&cur));
    assert_null(cur); /* popped from this thread */
    pthread_barrier_wait(&bar);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(t.r, CUDA_ERROR_CONTEXT_IS_DESTROYED); /* still bound on the other thread */

    assert_null(cpudev_host_ptr(d, 1));
    assert_int_equal(cpudev_cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuCtxSetCurrent(c), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cpudev_cuCtxDestroy_v2(c), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cpudev_cuCtxDestroy_v2(primary), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cpudev_cuCtxDestroy_v2(NULL), CUDA_ERROR_INVALID_CONTEXT);
    OK(cpudev_cuCtxSetCurrent(primary));
    OK(cpudev_cuMemGetInfo_v2(&free1, &total));
    assert_int_equal(free1, free0);
}

static void *other_thread(void *arg)
{
    CUresult *r = arg;
    CUcontext cur = (CUcontext)1;
    CUstream s;
    r[0] = cpudev_cuCtxGetCurrent(&cur);
    r[1] = cur == NULL ? CUDA_SUCCESS : CUDA_ERROR_UNKNOWN;
    r[2] = cpudev_cuStreamCreate(&s, 0);
    r[3] = cpudev_cuCtxSetCurrent(primary);
    r[4] = cpudev_cuCtxGetCurrent(&cur);
    r[5] = cur == primary ? CUDA_SUCCESS : CUDA_ERROR_UNKNOWN;
    r[6] = cpudev_cuCtxSynchronize();
    return NULL;
}

static void current_is_per_thread(void **state)
{
    CUresult r[7];
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, r), 0);
    pthread_join(t, NULL);
    assert_int_equal(r[0], CUDA_SUCCESS);
    assert_int_equal(r[1], CUDA_SUCCESS);
    assert_int_equal(r[2], CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(r[3], CUDA_SUCCESS);
    assert_int_equal(r[4], CUDA_SUCCESS);
    assert_int_equal(r[5], CUDA_SUCCESS);
    assert_int_equal(r[6], CUDA_SUCCESS);
}

static void context_state(void **state)
{
    size_t v;
    OK(cpudev_cuCtxGetLimit(&v, CU_LIMIT_STACK_SIZE));
    assert_int_equal(v, 1024);
    OK(cpudev_cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 4096));
    OK(cpudev_cuCtxGetLimit(&v, CU_LIMIT_STACK_SIZE));
    assert_int_equal(v, 4096);
    OK(cpudev_cuCtxGetLimit(&v, CU_LIMIT_MALLOC_HEAP_SIZE));
    assert_int_equal(v, 8 << 20);
    OK(cpudev_cuCtxSetLimit(CU_LIMIT_MAX_L2_FETCH_GRANULARITY, 1000));
    OK(cpudev_cuCtxGetLimit(&v, CU_LIMIT_MAX_L2_FETCH_GRANULARITY));
    assert_int_equal(v, 128);
    OK(cpudev_cuCtxGetLimit(&v, CU_LIMIT_CIG_ENABLED));
    assert_int_equal(v, 0);
    assert_int_equal(cpudev_cuCtxSetLimit(CU_LIMIT_CIG_ENABLED, 1), CUDA_ERROR_INVALID_VALUE);
    /* compute capability 12.0 has no device-runtime sync depth */
    assert_int_equal(cpudev_cuCtxGetLimit(&v, CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH), CUDA_ERROR_UNSUPPORTED_LIMIT);
    assert_int_equal(cpudev_cuCtxGetLimit(&v, CU_LIMIT_MAX), CUDA_ERROR_UNSUPPORTED_LIMIT);
    assert_int_equal(cpudev_cuCtxGetLimit(&v, (CUlimit)-1), CUDA_ERROR_UNSUPPORTED_LIMIT);
    assert_int_equal(cpudev_cuCtxSetLimit((CUlimit)77, 1), CUDA_ERROR_UNSUPPORTED_LIMIT);
    assert_int_equal(cpudev_cuCtxGetLimit(NULL, CU_LIMIT_STACK_SIZE), CUDA_ERROR_INVALID_VALUE);

    CUfunc_cache cc;
    OK(cpudev_cuCtxGetCacheConfig(&cc));
    assert_int_equal(cc, CU_FUNC_CACHE_PREFER_NONE);
    OK(cpudev_cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_L1));
    OK(cpudev_cuCtxGetCacheConfig(&cc));
    assert_int_equal(cc, CU_FUNC_CACHE_PREFER_L1);
    assert_int_equal(cpudev_cuCtxSetCacheConfig((CUfunc_cache)9), CUDA_ERROR_INVALID_VALUE);

    int least = 99, greatest = 99;
    OK(cpudev_cuCtxGetStreamPriorityRange(&least, &greatest));
    assert_int_equal(least, 0);
    assert_int_equal(greatest, -5);
    OK(cpudev_cuCtxGetStreamPriorityRange(NULL, NULL));

    OK(cpudev_cuCtxSetFlags(CU_CTX_SYNC_MEMOPS));
    unsigned flags;
    OK(cpudev_cuCtxGetFlags(&flags));
    assert_int_equal(flags, CU_CTX_SYNC_MEMOPS);
    assert_int_equal(cpudev_cuCtxSetFlags(0x7), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuCtxSetFlags(0));

    unsigned version = 0;
    unsigned long long id1 = 0, id2 = 1;
    OK(cpudev_cuCtxGetApiVersion(NULL, &version));
    assert_int_equal(version, 3020);
    OK(cpudev_cuCtxGetApiVersion(primary, &version));
    OK(cpudev_cuCtxGetId(NULL, &id1));
    OK(cpudev_cuCtxGetId(primary, &id2));
    assert_int_equal(id1, id2);
    int on_stack;
    assert_int_equal(cpudev_cuCtxGetId((CUcontext)&on_stack, &id1), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cpudev_cuCtxGetApiVersion((CUcontext)0x1234, &version), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cpudev_cuCtxSetCurrent((CUcontext)&on_stack), CUDA_ERROR_INVALID_CONTEXT);
}

/* ---- streams ---- */

static void stream_properties(void **state)
{
    CUstream a, b, c;
    assert_int_equal(cpudev_cuStreamCreate(&a, 2), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuStreamCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuStreamCreateWithPriority(&b, 0, -100));
    OK(cpudev_cuStreamCreateWithPriority(&c, 0, 7));
    unsigned flags;
    int prio;
    CUcontext ctx;
    unsigned long long ia, ib, i0, il;
    OK(cpudev_cuStreamGetFlags(a, &flags));
    assert_int_equal(flags, CU_STREAM_NON_BLOCKING);
    OK(cpudev_cuStreamGetPriority(b, &prio));
    assert_int_equal(prio, -5); /* clamped */
    OK(cpudev_cuStreamGetPriority(c, &prio));
    assert_int_equal(prio, 0);
    OK(cpudev_cuStreamGetCtx(a, &ctx));
    assert_ptr_equal(ctx, primary);
    OK(cpudev_cuStreamGetCtx(NULL, &ctx));
    assert_ptr_equal(ctx, primary);
    OK(cpudev_cuStreamGetId(a, &ia));
    OK(cpudev_cuStreamGetId(b, &ib));
    OK(cpudev_cuStreamGetId(NULL, &i0));
    OK(cpudev_cuStreamGetId(CU_STREAM_LEGACY, &il));
    assert_true(ia != ib && ia != i0);
    assert_int_equal(i0, il);
    assert_int_equal(cpudev_cuStreamGetId(CU_STREAM_PER_THREAD, &il), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuStreamGetFlags(a, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuStreamDestroy_v2(NULL), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuStreamDestroy_v2(CU_STREAM_LEGACY), CUDA_ERROR_INVALID_HANDLE);
    OK(cpudev_cuStreamDestroy_v2(a));
    assert_int_equal(cpudev_cuStreamDestroy_v2(a), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuStreamSynchronize(a), CUDA_ERROR_INVALID_HANDLE);
    OK(cpudev_cuStreamDestroy_v2(b));
    OK(cpudev_cuStreamDestroy_v2(c));
}

/* Small copies and fills, event records and waits for complete events, on a
 * stream with nothing queued run before the call returns (rgpud then sends a copy's bytes at once:
 * server/custom.c, done_already); with anything before them, they still
 * wait for it: their
 * stream's earlier work, a blocking stream's work for the legacy stream, an
 * event they were told to wait for. */
static void small_work_at_once_only_with_nothing_before(void **state)
{
    CUdeviceptr d;
    unsigned char back[64];
    CUstream s, nb, reader;
    CUevent e;
    struct gate g = GATE_INIT;
    OK(cpudev_cuMemAlloc_v2(&d, sizeof back));
    OK(cpudev_cuStreamCreate(&s, CU_STREAM_DEFAULT));
    OK(cpudev_cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuStreamCreate(&reader, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
    static const int early[4] = {1, 0, 4, 0};
    OK(cpudev_cuMemsetD8Async(d, 0, sizeof back, reader));
    OK(cpudev_cuStreamSynchronize(reader));
    OK(cpudev_cuMemsetD8Async(d, 1, 16, s));
    assert_int_equal(cpudev_cuStreamQuery(s), CUDA_SUCCESS);
    CUevent t0, t1;
    float ms = -1;
    OK(cpudev_cuEventCreate(&t0, CU_EVENT_DEFAULT));
    OK(cpudev_cuEventCreate(&t1, CU_EVENT_DEFAULT));
    OK(cpudev_cuEventRecord(t0, s));
    assert_int_equal(cpudev_cuEventQuery(t0), CUDA_SUCCESS); /* a record runs at once too */
    usleep(2000);
    OK(cpudev_cuEventRecord(t1, s));
    OK(cpudev_cuEventElapsedTime_v2(&ms, t0, t1));
    assert_true(ms >= 1.9f); /* stamped when each record ran */
    OK(cpudev_cuStreamWaitEvent(nb, t1, 0)); /* complete: nothing to wait for */
    assert_int_equal(cpudev_cuStreamQuery(nb), CUDA_SUCCESS);
    OK(cpudev_cuEventDestroy_v2(t0));
    OK(cpudev_cuEventDestroy_v2(t1));

    OK(cpudev_cuLaunchHostFunc(s, gate_wait, &g));
    OK(cpudev_cuMemsetD8Async(d, 2, 16, s));         /* behind the gate */
    OK(cpudev_cuMemsetD8Async(d + 16, 3, 16, NULL)); /* legacy: waits for s */
    OK(cpudev_cuMemsetD8Async(d + 32, 4, 16, nb));   /* non-blocking: does not */
    assert_int_equal(cpudev_cuStreamQuery(nb), CUDA_SUCCESS);
    OK(cpudev_cuEventRecord(e, s));
    OK(cpudev_cuStreamWaitEvent(nb, e, 0));
    OK(cpudev_cuMemsetD8Async(d + 48, 5, 16, nb)); /* waits for the event */
    usleep(20 * 1000);
    OK(cpudev_cuMemcpyDtoHAsync_v2(back, d, sizeof back, reader));
    OK(cpudev_cuStreamSynchronize(reader));
    for (int i = 0; i < 64; i++)
        assert_int_equal(back[i], early[i / 16]);
    assert_int_equal(cpudev_cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    assert_int_equal(cpudev_cuStreamQuery(nb), CUDA_ERROR_NOT_READY);

    gate_open(&g);
    OK(cpudev_cuCtxSynchronize());
    OK(cpudev_cuMemcpyDtoHAsync_v2(back, d, sizeof back, reader));
    OK(cpudev_cuStreamSynchronize(reader));
    for (int i = 0; i < 64; i++)
        assert_int_equal(back[i], i / 16 + 2);
    OK(cpudev_cuEventDestroy_v2(e));
    OK(cpudev_cuStreamDestroy_v2(s));
    OK(cpudev_cuStreamDestroy_v2(nb));
    OK(cpudev_cuStreamDestroy_v2(reader));
    OK(cpudev_cuMemFree_v2(d));
}

static void stream_order(void **state)
{
    enum { N = 300 };
    CUstream s;
    OK(cpudev_cuStreamCreate(&s, 0));
    CUdeviceptr slot, out;
    OK(cpudev_cuMemAlloc_v2(&slot, sizeof(int)));
    OK(cpudev_cuMemAlloc_v2(&out, N * sizeof(int)));
    OK(cpudev_cuMemsetD32Async(out, 0xffffffff, N, s));
    static int values[N];
    /* Each value passes through the one slot: only stream order makes every
     * out[i] == i. Host functions interleave and log their order. */
    for (int i = 0; i < N; i++) {
        values[i] = i;
        OK(cpudev_cuMemcpyHtoDAsync_v2(slot, &values[i], sizeof(int), s));
        OK(cpudev_cuMemcpyDtoDAsync_v2(out + i * sizeof(int), slot, sizeof(int), s));
        OK(cpudev_cuLaunchHostFunc(s, log_value, (void *)(intptr_t)i));
        if (i % 50 == 0)
            OK(cpudev_cuMemsetD32Async(slot, 0xdead, 1, s));
    }
    int back[N];
    OK(cpudev_cuMemcpyDtoHAsync_v2(back, out, sizeof back, s));
    OK(cpudev_cuStreamSynchronize(s));
    for (int i = 0; i < N; i++)
        assert_int_equal(back[i], i);
    assert_int_equal(log_count(), N);
    for (int i = 0; i < N; i++)
        assert_int_equal(order.v[i], i);
    assert_int_equal(cpudev_cuLaunchHostFunc(s, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuStreamDestroy_v2(s));
}

static void query_not_ready_then_ready(void **state)
{
    struct gate g = GATE_INIT;
    CUstream s;
    CUevent e, never;
    OK(cpudev_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuEventCreate(&e, 0));
    OK(cpudev_cuEventCreate(&never, CU_EVENT_BLOCKING_SYNC));
    OK(cpudev_cuStreamQuery(s));
    OK(cpudev_cuEventQuery(never)); /* never recorded: complete */
    OK(cpudev_cuEventSynchronize(never));
    OK(cpudev_cuLaunchHostFunc(s, gate_wait, &g));
    OK(cpudev_cuEventRecord(e, s));
    assert_int_equal(cpudev_cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    assert_int_equal(cpudev_cuEventQuery(e), CUDA_ERROR_NOT_READY);
    gate_open(&g);
    OK(cpudev_cuEventSynchronize(e));
    OK(cpudev_cuEventQuery(e));
    OK(cpudev_cuStreamSynchronize(s));
    OK(cpudev_cuStreamQuery(s));
    OK(cpudev_cuEventDestroy_v2(e));
    OK(cpudev_cuEventDestroy_v2(never));
    OK(cpudev_cuStreamDestroy_v2(s));
}

static void host_funcs_and_destroy_with_pending_work(void **state)
{
    struct gate g = GATE_INIT;
    CUstream s;
    CUevent e;
    OK(cpudev_cuStreamCreate(&s, 0));
    OK(cpudev_cuEventCreate(&e, 0));
    OK(cpudev_cuLaunchHostFunc(s, gate_wait, &g));
    for (int i = 0; i < 5; i++)
        OK(cpudev_cuLaunchHostFunc(s, log_value, (void *)(intptr_t)i));
    OK(cpudev_cuEventRecord(e, s));
    /* Both return at once; the queued work still runs. */
    OK(cpudev_cuEventDestroy_v2(e));
    OK(cpudev_cuStreamDestroy_v2(s));
    assert_int_equal(log_count(), 0);
    gate_open(&g);
    OK(cpudev_cuCtxSynchronize()); /* includes streams destroyed with work left */
    assert_int_equal(log_count(), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(order.v[i], i);
}

static CUresult in_host_fn[6];

static void CUDA_CB blocking_calls(void *arg)
{
    CUstream s = arg;
    CUevent e = NULL;
    in_host_fn[0] = cpudev_cuStreamSynchronize(s);
    in_host_fn[1] = cpudev_cuCtxSynchronize();
    in_host_fn[2] = cpudev_cuEventSynchronize(e);
    in_host_fn[3] = cpudev_cuMemFree_v2(0);
    in_host_fn[4] = cpudev_cuDevicePrimaryCtxReset_v2(0);
    in_host_fn[5] = cpudev_cuCtxDestroy_v2(NULL);
}

static void host_funcs_may_not_block(void **state)
{
    CUstream s;
    OK(cpudev_cuStreamCreate(&s, 0));
    OK(cpudev_cuLaunchHostFunc(s, blocking_calls, s));
    OK(cpudev_cuStreamSynchronize(s));
    for (int i = 0; i < 6; i++)
        assert_int_equal(in_host_fn[i], CUDA_ERROR_NOT_PERMITTED);
    OK(cpudev_cuStreamDestroy_v2(s));
}

/* ---- cross-stream dependencies ---- */

static void wait_event_across_streams(void **state)
{
    struct gate g = GATE_INIT;
    CUstream a, b, c;
    CUevent e, never;
    OK(cpudev_cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuStreamCreate(&c, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
    OK(cpudev_cuEventCreate(&never, 0));

    OK(cpudev_cuLaunchHostFunc(a, gate_wait, &g));
    OK(cpudev_cuLaunchHostFunc(a, log_value, (void *)1));
    OK(cpudev_cuEventRecord(e, a));
    OK(cpudev_cuStreamWaitEvent(b, e, 0));
    OK(cpudev_cuLaunchHostFunc(b, log_value, (void *)2));
    /* Recording e again elsewhere does not change what b waits for. */
    OK(cpudev_cuEventRecord(e, c));
    OK(cpudev_cuEventSynchronize(e));
    /* A never-recorded event is no wait at all. */
    OK(cpudev_cuStreamWaitEvent(c, never, 0));
    OK(cpudev_cuLaunchHostFunc(c, log_value, (void *)3));
    assert_true(drains(c));
    assert_int_equal(cpudev_cuStreamQuery(b), CUDA_ERROR_NOT_READY);
    assert_int_equal(log_count(), 1);
    assert_int_equal(order.v[0], 3);

    gate_open(&g);
    OK(cpudev_cuStreamSynchronize(b));
    assert_int_equal(log_count(), 3);
    assert_int_equal(order.v[1], 1);
    assert_int_equal(order.v[2], 2);

    /* only for a capture (an event wait node) */
    assert_int_equal(cpudev_cuStreamWaitEvent(b, e, CU_EVENT_WAIT_EXTERNAL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuStreamWaitEvent(b, e, 4), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuEventDestroy_v2(e));
    OK(cpudev_cuEventDestroy_v2(never));
    OK(cpudev_cuStreamDestroy_v2(a));
    OK(cpudev_cuStreamDestroy_v2(b));
    OK(cpudev_cuStreamDestroy_v2(c));
}

static void pipeline_through_events(void **state)
{
    /* A producer stream fills chunks; a consumer stream copies each chunk
     * once the producer's event for it completes. */
    enum { CHUNKS = 64, CH = 1024 };
    CUstream prod, cons;
    CUevent ev[CHUNKS];
    CUdeviceptr src, dst;
    OK(cpudev_cuStreamCreate(&prod, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuStreamCreate(&cons, CU_STREAM_NON_BLOCKING));
    OK(cpudev_cuMemAlloc_v2(&src, CHUNKS * CH));
    OK(cpudev_cuMemAlloc_v2(&dst, CHUNKS * CH));
    for (int i = 0; i < CHUNKS; i++) {
        OK(cpudev_cuEventCreate(&ev[i], CU_EVENT_DISABLE_TIMING));
        OK(cpudev_cuLaunchHostFunc(prod, i % 8 == 0 ? sleep_2ms : log_value, (void *)(intptr_t)i));
        OK(cpudev_cuMemsetD8Async(src + i * CH, (unsigned char)(i + 1), CH, prod));
        OK(cpudev_cuEventRecord(ev[i], prod));
        OK(cpudev_cuStreamWaitEvent(cons, ev[i], 0));
        OK(cpudev_cuMemcpyDtoDAsync_v2(dst + i * CH, src + i * CH, CH, cons));
    }
    static unsigned char back[CHUNKS * CH];
    OK(cpudev_cuMemcpyDtoHAsync_v2(back, dst, sizeof back, cons));
    OK(cpudev_cuStreamSynchronize(cons));
    for (int i = 0; i < CHUNKS; i++)
        for (int j = 0; j < CH; j += 97)
            assert_int_equal(back[i * CH + j], (unsigned char)(i + 1));
    for (int i = 0; i < CHUNKS; i++)
        OK(cpudev_cuEventDestroy_v2(ev[i]));
    OK(cpudev_cuStreamDestroy_v2(prod));
    OK(cpudev_cuStreamDestroy_v2(cons));
}

static void legacy_stream_semantics(void **state)
{
    struct gate g1 = GATE_INIT, g2 = GATE_INIT, g3 = GATE_INIT;
    CUstream blk, nb;
    OK(cpudev_cuStreamCreate(&blk, CU_STREAM_DEFAULT));
    OK(cpudev_cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));

    /* 1. Work on the legacy stream waits for prior work on a blocking stream. */
    OK(cpudev_cuLaunchHostFunc(blk, gate_wait, &g1));
    OK(cpudev_cuLaunchHostFunc(blk, log_value, (void *)1));
    OK(cpudev_cuLaunchHostFunc(NULL, log_value, (void *)2));
    /* 2. ... but not for a non-blocking stream's. */
    OK(cpudev_cuLaunchHostFunc(nb, gate_wait, &g2));
    OK(cpudev_cuLaunchHostFunc(CU_STREAM_LEGACY, log_value, (void *)3));
    assert_int_equal(cpudev_cuStreamQuery(NULL), CUDA_ERROR_NOT_READY);
    assert_int_equal(log_count(), 0);
    gate_open(&g1);
    assert_true(drains(NULL)); /* while nb is still gated */
    assert_int_equal(cpudev_cuStreamQuery(nb), CUDA_ERROR_NOT_READY);
    assert_int_equal(log_count(), 3);
    assert_int_equal(order.v[0], 1);
    assert_int_equal(order.v[1], 2);
    assert_int_equal(order.v[2], 3);
    gate_open(&g2);
    OK(cpudev_cuStreamSynchronize(nb));

    /* 3. Work on a blocking stream waits for prior legacy work; a
     *    non-blocking stream's does not. */
    log_reset();
    OK(cpudev_cuLaunchHostFunc(NULL, gate_wait, &g3));
    OK(cpudev_cuLaunchHostFunc(blk, log_value, (void *)4));
    OK(cpudev_cuLaunchHostFunc(nb, log_value, (void *)5));
    assert_true(drains(nb));
    assert_int_equal(cpudev_cuStreamQuery(blk), CUDA_ERROR_NOT_READY);
    assert_int_equal(log_count(), 1);
    assert_int_equal(order.v[0], 5);
    gate_open(&g3);
    OK(cpudev_cuStreamSynchronize(blk));
    assert_int_equal(log_count(), 2);
    assert_int_equal(order.v[1], 4);
    OK(cpudev_cuStreamDestroy_v2(blk));
    OK(cpudev_cuStreamDestroy_v2(nb));
}

/* ---- events ---- */

static void event_timing(void **state)
{
    CUstream s;
    CUevent start, end, notime, fresh;
    float ms = -1;
    OK(cpudev_cuStreamCreate(&s, 0));
    OK(cpudev_cuEventCreate(&start, 0));
    OK(cpudev_cuEventCreate(&end, CU_EVENT_BLOCKING_SYNC));
    OK(cpudev_cuEventCreate(&notime, CU_EVENT_DISABLE_TIMING));
    OK(cpudev_cuEventCreate(&fresh, 0));
    OK(cpudev_cuEventRecord(start, s));
    OK(cpudev_cuLaunchHostFunc(s, sleep_50ms, NULL));
    OK(cpudev_cuEventRecordWithFlags(end, s, CU_EVENT_RECORD_DEFAULT));
    OK(cpudev_cuEventRecord(notime, s));
    OK(cpudev_cuEventSynchronize(end));
    OK(cpudev_cuEventElapsedTime_v2(&ms, start, end));
    assert_true(ms >= 50.0f);
    OK(cpudev_cuEventElapsedTime_v2(&ms, end, start));
    assert_true(ms <= -50.0f);

    OK(cpudev_cuStreamSynchronize(s));
    assert_int_equal(cpudev_cuEventElapsedTime_v2(&ms, start, notime), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuEventElapsedTime_v2(&ms, fresh, end), CUDA_ERROR_INVALID_HANDLE); /* never recorded */
    assert_int_equal(cpudev_cuEventElapsedTime_v2(NULL, start, end), CUDA_ERROR_INVALID_VALUE);

    /* Recorded but not reached yet: NOT_READY. */
    struct gate g = GATE_INIT;
    OK(cpudev_cuLaunchHostFunc(s, gate_wait, &g));
    OK(cpudev_cuEventRecord(fresh, s));
    assert_int_equal(cpudev_cuEventElapsedTime_v2(&ms, start, fresh), CUDA_ERROR_NOT_READY);
    gate_open(&g);
    OK(cpudev_cuEventSynchronize(fresh));
    OK(cpudev_cuEventElapsedTime_v2(&ms, start, fresh));
    assert_true(ms >= 50.0f);

    /* creation and record flags */
    CUevent x;
    assert_int_equal(cpudev_cuEventCreate(&x, CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING), CUDA_ERROR_NOT_SUPPORTED);
    assert_int_equal(cpudev_cuEventCreate(&x, CU_EVENT_INTERPROCESS), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuEventCreate(&x, 0x10), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuEventCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    /* only for a capture (an event record node) */
    assert_int_equal(cpudev_cuEventRecordWithFlags(start, s, CU_EVENT_RECORD_EXTERNAL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuEventRecordWithFlags(start, s, 2), CUDA_ERROR_INVALID_VALUE);

    /* legacy stream records */
    OK(cpudev_cuEventRecord(start, NULL));
    OK(cpudev_cuEventRecord(end, CU_STREAM_LEGACY));
    OK(cpudev_cuEventSynchronize(end));
    OK(cpudev_cuEventElapsedTime_v2(&ms, start, end));
    assert_true(ms >= 0.0f);

    OK(cpudev_cuEventDestroy_v2(start));
    OK(cpudev_cuEventDestroy_v2(end));
    OK(cpudev_cuEventDestroy_v2(notime));
    OK(cpudev_cuEventDestroy_v2(fresh));
    OK(cpudev_cuStreamDestroy_v2(s));
}

/* ---- handles that are not what they claim ---- */

static void forged_and_stale_handles(void **state)
{
    CUstream s, dead_s;
    CUevent e, dead_e;
    OK(cpudev_cuStreamCreate(&s, 0));
    OK(cpudev_cuEventCreate(&e, 0));
    OK(cpudev_cuStreamCreate(&dead_s, 0));
    OK(cpudev_cuEventCreate(&dead_e, 0));
    OK(cpudev_cuStreamDestroy_v2(dead_s));
    OK(cpudev_cuEventDestroy_v2(dead_e));
    long on_stack[64] = {0};
    void *on_heap = calloc(1, 4096);
    CUstream bad_streams[] = {(CUstream)0xdeadbeef, (CUstream)on_stack, (CUstream)on_heap, (CUstream)e, dead_s,
                              CU_STREAM_PER_THREAD, (CUstream)primary};
    CUevent bad_events[] = {(CUevent)0xdeadbeef, (CUevent)on_stack, (CUevent)on_heap, (CUevent)s, dead_e, NULL,
                            (CUevent)primary};
    char host[16];
    unsigned flags;
    int prio;
    CUcontext ctx;
    unsigned long long id;
    float ms;
    for (size_t i = 0; i < sizeof bad_streams / sizeof *bad_streams; i++) {
        CUstream b = bad_streams[i];
        assert_int_equal(cpudev_cuStreamQuery(b), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuStreamSynchronize(b), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuStreamDestroy_v2(b), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuStreamGetFlags(b, &flags), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuStreamGetPriority(b, &prio), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuStreamGetCtx(b, &ctx), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuStreamGetId(b, &id), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuStreamWaitEvent(b, e, 0), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuLaunchHostFunc(b, log_value, NULL), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuEventRecord(e, b), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuMemsetD8Async(0, 0, 0, b), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuMemcpyDtoHAsync_v2(host, 0, 0, b), CUDA_ERROR_INVALID_HANDLE);
    }
    for (size_t i = 0; i < sizeof bad_events / sizeof *bad_events; i++) {
        CUevent b = bad_events[i];
        assert_int_equal(cpudev_cuEventQuery(b), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuEventSynchronize(b), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuEventRecord(b, s), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuEventElapsedTime_v2(&ms, b, e), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuEventElapsedTime_v2(&ms, e, b), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuStreamWaitEvent(s, b, 0), CUDA_ERROR_INVALID_HANDLE);
        assert_int_equal(cpudev_cuEventDestroy_v2(b), CUDA_ERROR_INVALID_HANDLE);
    }
    assert_int_equal(cpudev_cuCtxDestroy_v2((CUcontext)on_stack), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cpudev_cuCtxDestroy_v2((CUcontext)s), CUDA_ERROR_INVALID_CONTEXT);

    /* An event and a stream of different contexts do not mix. */
    CUcontext other;
    CUstream os;
    OK(cpudev_cuCtxCreate_v2(&other, 0, 0));
    OK(cpudev_cuStreamCreate(&os, 0));
    assert_int_equal(cpudev_cuEventRecord(e, os), CUDA_ERROR_INVALID_HANDLE);
    OK(cpudev_cuStreamWaitEvent(os, e, 0)); /* waiting across contexts is allowed */
    OK(cpudev_cuCtxDestroy_v2(other));
    assert_int_equal(cpudev_cuStreamQuery(os), CUDA_ERROR_INVALID_HANDLE);
    OK(cpudev_cuCtxSetCurrent(primary));

    /* The registry kept nothing of the junk: the real handles still work. */
    OK(cpudev_cuEventRecord(e, s));
    OK(cpudev_cuStreamSynchronize(s));
    OK(cpudev_cuEventQuery(e));
    OK(cpudev_cuEventDestroy_v2(e));
    OK(cpudev_cuStreamDestroy_v2(s));
    free(on_heap);
}

/* Hundreds of live handles (the registry grows and deletes mid-run): every
 * handle stays valid exactly until it is destroyed. */
static void many_handles(void **state)
{
    enum { NE = 600, NS = 40 };
    static CUevent ev[NE];
    CUstream st[NS];
    for (int i = 0; i < NS; i++)
        OK(cpudev_cuStreamCreate(&st[i], i % 2 ? CU_STREAM_NON_BLOCKING : 0));
    for (int i = 0; i < NE; i++) {
        OK(cpudev_cuEventCreate(&ev[i], CU_EVENT_DISABLE_TIMING));
        OK(cpudev_cuEventRecord(ev[i], st[i % NS]));
    }
    for (int i = 0; i < NE; i += 3)
        OK(cpudev_cuEventDestroy_v2(ev[i]));
    for (int i = 0; i < NS; i += 4)
        OK(cpudev_cuStreamDestroy_v2(st[i]));
    OK(cpudev_cuCtxSynchronize());
    for (int i = 0; i < NE; i++)
        assert_int_equal(cpudev_cuEventQuery(ev[i]), i % 3 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
    for (int i = 0; i < NS; i++)
        assert_int_equal(cpudev_cuStreamQuery(st[i]), i % 4 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
    for (int i = 0; i < NE; i++)
        if (i % 3)
            OK(cpudev_cuEventDestroy_v2(ev[i]));
    for (int i = 0; i < NS; i++)
        if (i % 4)
            OK(cpudev_cuStreamDestroy_v2(st[i]));
}

/* Threads creating, using and destroying streams and events at once, and
 * waiting on each other's events. */
static CUevent shared_ev[4];
static pthread_barrier_t churn_bar;

static void *churn(void *arg)
{
    intptr_t me = (intptr_t)arg;
    long bad = 0;
    cpudev_cuCtxSetCurrent(primary);
    CUstream mine;
    bad += cpudev_cuStreamCreate(&mine, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS;
    bad += cpudev_cuEventCreate(&shared_ev[me], 0) != CUDA_SUCCESS;
    pthread_barrier_wait(&churn_bar);
    for (int i = 0; i < 200; i++) {
        CUstream s;
        CUevent e;
        bad += cpudev_cuStreamCreate(&s, i % 2 ? CU_STREAM_NON_BLOCKING : 0) != CUDA_SUCCESS;
        bad += cpudev_cuEventCreate(&e, 0) != CUDA_SUCCESS;
        bad += cpudev_cuLaunchHostFunc(s, log_value, (void *)me) != CUDA_SUCCESS;
        bad += cpudev_cuEventRecord(e, s) != CUDA_SUCCESS;
        bad += cpudev_cuStreamWaitEvent(mine, e, 0) != CUDA_SUCCESS;
        bad += cpudev_cuStreamWaitEvent(mine, shared_ev[(me + 1) % 4], 0) != CUDA_SUCCESS;
        bad += cpudev_cuEventRecord(shared_ev[me], mine) != CUDA_SUCCESS;
        bad += cpudev_cuEventDestroy_v2(e) != CUDA_SUCCESS;
        bad += cpudev_cuStreamDestroy_v2(s) != CUDA_SUCCESS;
        if (i % 50 == 0)
            bad += cpudev_cuStreamSynchronize(mine) != CUDA_SUCCESS;
    }
    bad += cpudev_cuStreamSynchronize(mine) != CUDA_SUCCESS;
    pthread_barrier_wait(&churn_bar);
    bad += cpudev_cuEventDestroy_v2(shared_ev[me]) != CUDA_SUCCESS;
    bad += cpudev_cuStreamDestroy_v2(mine) != CUDA_SUCCESS;
    return (void *)bad;
}

static void concurrent_handles(void **state)
{
    pthread_t t[4];
    pthread_barrier_init(&churn_bar, NULL, 4);
    for (intptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    pthread_barrier_destroy(&churn_bar);
    OK(cpudev_cuCtxSynchronize());
    assert_int_equal(log_count(), 4 * 200);
}

int main(void)
{
    struct cpudev_config c = {0};
    c.mem_bytes = 64ull << 20;
    char err[256];
    if (!cpudev_init(&c, err, sizeof err)) {
        fprintf(stderr, "cpudev_init: %s\n", err);
        return 1;
    }
    if (cpudev_cuInit(0))
        return 1;
#define T(f) cmocka_unit_test_setup_teardown(f, use_primary, release_primary)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(primary_life_cycle),
        T(created_context_destroy_frees),
        T(current_is_per_thread),
        T(context_state),
        T(stream_properties),
        T(small_work_at_once_only_with_nothing_before),
        T(stream_order),
        T(query_not_ready_then_ready),
        T(host_funcs_and_destroy_with_pending_work),
        T(host_funcs_may_not_block),
        T(wait_event_across_streams),
        T(pipeline_through_events),
        T(legacy_stream_semantics),
        T(event_timing),
        T(forged_and_stale_handles),
        T(many_handles),
        T(concurrent_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
