/*
 * test_cpudev_module_launch.c — running kernels on the CPU device: vector
 * add with both parameter forms on the legacy and a created stream, mixed
 * parameter types, module globals, shared memory, library kernels launched
 * through their CUkernel, device printf, launch configuration errors at call
 * time, the cooperative grid limit, an out-of-bounds store that faults the context (sticky, without
 * crashing) until it is reset, and unloading that waits for queued launches.
 *
 * Kernels are nvcc PTX from cpudev_module.cmake. Every test runs on a fresh
 * activation of the primary context; a host-function "gate" keeps work
 * queued where a test needs it to be.
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
#define N 1000

static CUcontext primary;
static CUmodule mod; /* kernels.ptx in the primary context, per test */

/* ---- helpers ---- */

static void *load_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", RGPU_MOD_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static CUfunction fn(const char *name)
{
    CUfunction f = NULL;
    OK(cpudev_cuModuleGetFunction(&f, mod, name));
    return f;
}

static CUdeviceptr dalloc(size_t n)
{
    CUdeviceptr p;
    OK(cpudev_cuMemAlloc_v2(&p, n));
    return p;
}

static void to_device(CUdeviceptr dst, const void *src, size_t n)
{
    OK(cpudev_cuMemcpyHtoDAsync_v2(dst, src, n, NULL));
    OK(cpudev_cuStreamSynchronize(NULL));
}

static void from_device(void *dst, CUdeviceptr src, size_t n)
{
    OK(cpudev_cuMemcpyDtoHAsync_v2(dst, src, n, NULL));
    OK(cpudev_cuStreamSynchronize(NULL));
}

/* a, b on the device with a[i] = i, b[i] = 2i; c cleared. */
struct vectors {
    CUdeviceptr a, b, c;
};
static struct vectors make_vectors(void)
{
    static float a[N], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = (float)i;
        b[i] = 2.0f * (float)i;
    }
    struct vectors v = {dalloc(sizeof a), dalloc(sizeof b), dalloc(sizeof a)};
    to_device(v.a, a, sizeof a);
    to_device(v.b, b, sizeof b);
    OK(cpudev_cuMemsetD32Async(v.c, 0, N, NULL));
    OK(cpudev_cuStreamSynchronize(NULL)); /* non-blocking streams do not wait for it */
    return v;
}

static void check_sum(CUdeviceptr c, CUstream s)
{
    static float out[N];
    memset(out, 0, sizeof out);
    OK(cpudev_cuMemcpyDtoHAsync_v2(out, c, sizeof out, s));
    OK(cpudev_cuStreamSynchronize(s));
    for (int i = 0; i < N; i++)
        if (out[i] != 3.0f * (float)i)
            fail_msg("c[%d] = %g, want %g", i, out[i], 3.0 * i);
}

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

/* ---- fixtures ---- */

static int setup(void **state)
{
    (void)state;
    OK(cpudev_cuDevicePrimaryCtxRetain(&primary, 0));
    OK(cpudev_cuCtxSetCurrent(primary));
    void *img = load_file("kernels.ptx");
    OK(cpudev_cuModuleLoadData(&mod, img));
    free(img);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    OK(cpudev_cuCtxSetCurrent(primary));
    OK(cpudev_cuDevicePrimaryCtxRelease_v2(0)); /* unloads mod, frees memory */
    return 0;
}

/* ---- running ---- */

static void test_vadd_kernel_params_legacy_stream(void **state)
{
    (void)state;
    struct vectors v = make_vectors();
    int n = N;
    void *args[] = {&v.a, &v.b, &v.c, &n};
    OK(cpudev_cuLaunchKernel(fn("vadd"), (N + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    check_sum(v.c, NULL);
    /* CU_STREAM_LEGACY names the same stream. */
    OK(cpudev_cuMemsetD32Async(v.c, 0, N, NULL));
    OK(cpudev_cuLaunchKernel(fn("vadd"), 8, 1, 1, 125, 1, 1, 0, CU_STREAM_LEGACY, args, NULL));
    check_sum(v.c, CU_STREAM_LEGACY);
}

static void test_vadd_extra_created_stream(void **state)
{
    (void)state;
    struct vectors v = make_vectors();
    CUfunction f = fn("vadd");
    /* Pack the buffer from the parameter layout, as the rgpu server does. */
    unsigned char buf[64] = {0};
    size_t off, size, total = 0;
    const void *src[] = {&v.a, &v.b, &v.c, NULL};
    int n = N;
    src[3] = &n;
    for (size_t i = 0; i < 4; i++) {
        OK(cpudev_cuFuncGetParamInfo(f, i, &off, &size));
        memcpy(buf + off, src[i], size);
        total = off + size;
    }
    assert_int_equal(total, 28);
    CUstream s;
    OK(cpudev_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &total, CU_LAUNCH_PARAM_END};
    OK(cpudev_cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, s, NULL, extra));
    check_sum(v.c, s);
    /* A larger buffer is accepted, a smaller one is not. */
    size_t bigger = 32, smaller = 24;
    extra[3] = &bigger;
    OK(cpudev_cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, s, NULL, extra));
    extra[3] = &smaller;
    assert_int_equal(cpudev_cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, s, NULL, extra), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuStreamSynchronize(s));
    OK(cpudev_cuStreamDestroy_v2(s));
}

static void test_mixed_parameters(void **state)
{
    (void)state;
    CUdeviceptr out = dalloc(16);
    float f = 1.5f;
    char ch = 'A';
    double d = 2.25;
    int s12[3] = {1, 2, 3};
    void *args[] = {&f, &out, &ch, &d, s12};
    OK(cpudev_cuLaunchKernel(fn("mixed"), 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
    float r[4];
    from_device(r, out, sizeof r);
    assert_true(r[0] == 1.5f);
    assert_true(r[1] == 65.0f);
    assert_true(r[2] == 2.25f);
    assert_true(r[3] == 6.0f);
}

static void test_module_globals(void **state)
{
    (void)state;
    CUdeviceptr out = dalloc(64 * sizeof(float));
    int n = 64;
    void *args[] = {&out, &n};
    OK(cpudev_cuLaunchKernel(fn("use_globals"), 2, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
    float r[64];
    from_device(r, out, sizeof r);
    for (int i = 0; i < 64; i++)
        assert_true(r[i] == (float)(i % 4 + 1) * 2.5f + 7.0f);
    /* The kernel sees what is written at cuModuleGetGlobal's address. */
    CUdeviceptr counter;
    OK(cpudev_cuModuleGetGlobal_v2(&counter, NULL, mod, "counter"));
    int ten = 10;
    to_device(counter, &ten, sizeof ten);
    OK(cpudev_cuLaunchKernel(fn("use_globals"), 2, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
    from_device(r, out, sizeof r);
    for (int i = 0; i < 64; i++)
        assert_true(r[i] == (float)(i % 4 + 1) * 2.5f + 10.0f);
}

static void test_shared_memory(void **state)
{
    (void)state;
    CUdeviceptr out = dalloc(256 * sizeof(float));
    void *args[] = {&out};
    OK(cpudev_cuLaunchKernel(fn("reverse_shared"), 1, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    float r[256];
    from_device(r, out, sizeof r);
    for (int i = 0; i < 256; i++)
        assert_true(r[i] == (float)(255 - i));
}

static void test_library_kernel(void **state)
{
    (void)state;
    void *img = load_file("kernels.fatbin");
    CUlibrary l;
    CUkernel k;
    OK(cpudev_cuLibraryLoadData(&l, img, NULL, NULL, 0, NULL, NULL, 0));
    OK(cpudev_cuLibraryGetKernel(&k, l, "vadd"));
    struct vectors v = make_vectors();
    int n = N;
    void *args[] = {&v.a, &v.b, &v.c, &n};
    /* cudart launches the CUkernel itself as the CUfunction. */
    OK(cpudev_cuLaunchKernel((CUfunction)k, 4, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    check_sum(v.c, NULL);
    CUfunction f;
    OK(cpudev_cuKernelGetFunction(&f, k));
    OK(cpudev_cuMemsetD32Async(v.c, 0, N, NULL));
    OK(cpudev_cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    check_sum(v.c, NULL);
    OK(cpudev_cuLibraryUnload(l));
    assert_int_equal(cpudev_cuLaunchKernel((CUfunction)k, 4, 1, 1, 256, 1, 1, 0, NULL, args, NULL),
                     CUDA_ERROR_INVALID_HANDLE);
    free(img);
}

static void test_printf(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(1);
    assert_int_equal(dup2(fds[1], 1), 1);
    int v = 42;
    void *args[] = {&v};
    CUresult r = cpudev_cuLaunchKernel(fn("say"), 1, 1, 1, 2, 1, 1, 0, NULL, args, NULL);
    CUresult rs = cpudev_cuStreamSynchronize(NULL);
    dup2(saved, 1);
    close(saved);
    close(fds[1]);
    OK(r);
    OK(rs);
    char text[128] = {0};
    ssize_t got = read(fds[0], text, sizeof text - 1);
    close(fds[0]);
    assert_true(got > 0);
    assert_string_equal(text, "hello 42\nhello 42\n");
}

/* ---- errors ---- */

static void test_launch_errors(void **state)
{
    (void)state;
    struct vectors v = make_vectors();
    int n = N;
    void *args[] = {&v.a, &v.b, &v.c, &n};
    CUfunction f = fn("vadd");
#define LAUNCH(func, gx, gy, gz, bx, by, bz, sh, st, a, e)                                                             \
    cpudev_cuLaunchKernel((func), (gx), (gy), (gz), (bx), (by), (bz), (sh), (st), (a), (e))
    assert_int_equal(LAUNCH(f, 0, 1, 1, 32, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(LAUNCH(f, 1, 65536, 1, 32, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(LAUNCH(f, 1, 1, 65536, 32, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(LAUNCH(f, 1, 1, 1, 0, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(LAUNCH(f, 1, 1, 1, 1025, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(LAUNCH(f, 1, 1, 1, 1, 1, 65, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(LAUNCH(f, 1, 1, 1, 64, 32, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE); /* 2048 */
    assert_int_equal(LAUNCH(fn("bounded"), 1, 1, 1, 256, 1, 1, 0, NULL, args, NULL),
                     CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES); /* beyond .maxntid 128 */
    assert_int_equal(LAUNCH(f, 1, 1, 1, 32, 1, 1, 49153, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
    size_t sz = 28;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, args, CU_LAUNCH_PARAM_BUFFER_SIZE, &sz, CU_LAUNCH_PARAM_END};
    assert_int_equal(LAUNCH(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, extra), CUDA_ERROR_INVALID_VALUE); /* both */
    assert_int_equal(LAUNCH(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_VALUE);  /* none */
    void *bad_extra[] = {(void *)7, NULL, CU_LAUNCH_PARAM_END};
    assert_int_equal(LAUNCH(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, bad_extra), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(LAUNCH(NULL, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(LAUNCH((CUfunction)&n, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(LAUNCH(f, 1, 1, 1, 32, 1, 1, 0, (CUstream)&n, args, NULL), CUDA_ERROR_INVALID_HANDLE);
    /* The opt-in raises the dynamic shared memory limit. */
    OK(cpudev_cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 65536));
    OK(LAUNCH(f, 4, 1, 1, 256, 1, 1, 65536, NULL, args, NULL));
    /* A function of another context cannot run in this one. */
    CUcontext other;
    OK(cpudev_cuCtxCreate_v2(&other, 0, 0));
    assert_int_equal(LAUNCH(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_HANDLE);
    OK(cpudev_cuCtxDestroy_v2(other));
    OK(cpudev_cuCtxSetCurrent(primary));
    /* Nothing invalid ran; the valid launch did. */
    check_sum(v.c, NULL);
#undef LAUNCH
}

/* A cooperative grid must fit on the device at once: blocks per
 * multiprocessor (for its block size and shared memory) times their number. */
static void test_cooperative_limit(void **state)
{
    (void)state;
    struct vectors v = make_vectors();
    int n = N, sms = 0, per_sm = 0, per_sm_sh = 0;
    void *args[] = {&v.a, &v.b, &v.c, &n};
    CUfunction f = fn("vadd");
    OK(cpudev_cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, 256, 0));
    assert_true(sms > 0 && per_sm > 0);
    CUlaunchAttribute at;
    memset(&at, 0, sizeof at);
    at.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    at.value.cooperative = 1;
    CUlaunchConfig cfg = {(unsigned)(per_sm * sms + 1), 1, 1, 256, 1, 1, 0, NULL, &at, 1};
    assert_int_equal(cpudev_cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    cfg.gridDimX = (unsigned)per_sm;
    cfg.gridDimY = (unsigned)sms + 1;
    assert_int_equal(cpudev_cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    /* more shared memory per block: fewer blocks fit */
    OK(cpudev_cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 65536));
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm_sh, f, 256, 65536));
    assert_true(per_sm_sh < per_sm);
    cfg.gridDimX = (unsigned)(per_sm_sh * sms + 1);
    cfg.gridDimY = 1;
    cfg.sharedMemBytes = 65536;
    assert_int_equal(cpudev_cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    /* the same grid as an ordinary launch is fine */
    at.value.cooperative = 0;
    OK(cpudev_cuLaunchKernelEx(&cfg, f, args, NULL));
    /* the largest cooperative grid runs */
    at.value.cooperative = 1;
    cfg.gridDimX = (unsigned)(per_sm * sms);
    cfg.sharedMemBytes = 0;
    OK(cpudev_cuMemsetD32Async(v.c, 0, N, NULL));
    OK(cpudev_cuLaunchKernelEx(&cfg, f, args, NULL));
    if ((uint64_t)per_sm * (unsigned)sms * 256 >= N)
        check_sum(v.c, NULL);
}

static void test_illegal_address_is_sticky(void **state)
{
    (void)state;
    struct vectors v = make_vectors();
    CUstream s;
    OK(cpudev_cuStreamCreate(&s, 0));
    CUdeviceptr p = dalloc(64);
    long long off = 1ll << 28; /* 1 GiB past p: no allocation there */
    void *oob_args[] = {&p, &off};
    OK(cpudev_cuLaunchKernel(fn("oob"), 1, 1, 1, 32, 1, 1, 0, NULL, oob_args, NULL)); /* reported later */
    assert_int_equal(cpudev_cuStreamSynchronize(NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    /* Sticky: every launch, enqueue and synchronisation of the context. */
    int n = N;
    void *args[] = {&v.a, &v.b, &v.c, &n};
    assert_int_equal(cpudev_cuLaunchKernel(fn("vadd"), 4, 1, 1, 256, 1, 1, 0, NULL, args, NULL),
                     CUDA_ERROR_ILLEGAL_ADDRESS);
    assert_int_equal(cpudev_cuLaunchKernel(fn("vadd"), 4, 1, 1, 256, 1, 1, 0, s, args, NULL),
                     CUDA_ERROR_ILLEGAL_ADDRESS);
    assert_int_equal(cpudev_cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
    assert_int_equal(cpudev_cuStreamSynchronize(s), CUDA_ERROR_ILLEGAL_ADDRESS);
    assert_int_equal(cpudev_cuStreamQuery(s), CUDA_ERROR_ILLEGAL_ADDRESS);
    int x = 0;
    assert_int_equal(cpudev_cuMemcpyHtoDAsync_v2(p, &x, 4, s), CUDA_ERROR_ILLEGAL_ADDRESS);
    CUevent e;
    OK(cpudev_cuEventCreate(&e, 0));
    assert_int_equal(cpudev_cuEventRecord(e, s), CUDA_ERROR_ILLEGAL_ADDRESS);
    assert_int_equal(cpudev_cuEventSynchronize(e), CUDA_ERROR_ILLEGAL_ADDRESS);
    assert_int_equal(cpudev_cuMemFree_v2(p), CUDA_ERROR_ILLEGAL_ADDRESS);
    /* Another context is unaffected. */
    CUcontext other;
    OK(cpudev_cuCtxCreate_v2(&other, 0, 0));
    OK(cpudev_cuCtxSynchronize());
    OK(cpudev_cuCtxDestroy_v2(other));
    /* A reset gives a clean activation. */
    OK(cpudev_cuDevicePrimaryCtxReset_v2(0));
    CUcontext again;
    OK(cpudev_cuDevicePrimaryCtxRetain(&again, 0));
    OK(cpudev_cuCtxSetCurrent(again));
    void *img = load_file("kernels.ptx");
    OK(cpudev_cuModuleLoadData(&mod, img));
    free(img);
    v = make_vectors();
    void *args2[] = {&v.a, &v.b, &v.c, &n};
    OK(cpudev_cuLaunchKernel(fn("vadd"), 4, 1, 1, 256, 1, 1, 0, NULL, args2, NULL));
    check_sum(v.c, NULL);
    OK(cpudev_cuCtxSynchronize());
    OK(cpudev_cuDevicePrimaryCtxRelease_v2(0));
}

/* ---- unloading ---- */

struct unloader {
    CUmodule m;
    CUresult r;
    volatile int done;
};

static void *unload_thread(void *arg)
{
    struct unloader *u = arg;
    u->r = cpudev_cuModuleUnload(u->m);
    __atomic_store_n(&u->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_unload_waits_for_launches(void **state)
{
    (void)state;
    struct vectors v = make_vectors();
    struct gate g = GATE_INIT;
    OK(cpudev_cuLaunchHostFunc(NULL, gate_wait, &g));
    int n = N;
    void *args[] = {&v.a, &v.b, &v.c, &n};
    OK(cpudev_cuLaunchKernel(fn("vadd"), 4, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    struct unloader u = {mod, CUDA_ERROR_UNKNOWN, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, unload_thread, &u), 0);
    usleep(100 * 1000);
    assert_int_equal(__atomic_load_n(&u.done, __ATOMIC_SEQ_CST), 0); /* the launch is still queued */
    CUfunction f;
    assert_int_equal(cpudev_cuModuleGetFunction(&f, mod, "vadd"), CUDA_ERROR_INVALID_HANDLE);
    gate_open(&g);
    pthread_join(t, NULL);
    OK(u.r);
    check_sum(v.c, NULL); /* the queued launch ran with its module intact */
}

int main(void)
{
    struct cpudev_config cfg = {.mem_bytes = 2048ull << 20, .sm_count = 4};
    char err[256];
    if (!cpudev_init(&cfg, err, sizeof err)) {
        fprintf(stderr, "cpudev_init: %s\n", err);
        return 1;
    }
    if (cpudev_cuInit(0) != CUDA_SUCCESS)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vadd_kernel_params_legacy_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vadd_extra_created_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_globals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_library_kernel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_printf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_launch_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cooperative_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_illegal_address_is_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload_waits_for_launches, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
