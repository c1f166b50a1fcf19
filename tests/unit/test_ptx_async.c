/*
 * test_ptx_async.c — mbarrier objects and cp.async.bulk on the PTX machine:
 * the exact phase / pending-count / tx-count state machine (inline PTX, one
 * thread), cuda::barrier + cuda::memcpy_async (cp.async + mbarrier arrive on
 * the generic path, cp.async.bulk + expect_tx for 16-byte aligned sizes),
 * a two-stage cuda::pipeline, bulk copies both ways with a bulk group,
 * cp.reduce.async.bulk (add.u32, min.s32), a bulk prefetch, a shared::cta ->
 * shared::cluster bulk copy,
 * warps and divergent lanes waiting in try_wait loops for others (a wait
 * that did not yield to them would never finish), and an out-of-bounds bulk
 * copy failing the launch, as a phase that never completes does (the GPU
 * would hang). Expectations are computed on the host.
 * Kernels: ptx_kernels/async.cu, compiled to compute_90 and compute_120 PTX.
 */
#include "ptx_kernels/harness.h"

static const char *const files[] = {"async_90.ptx", "async_120.ptx"};

static void test_states(void **state)
{
    (void)state;
    static const unsigned want[] = {3, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 3, 1, 0, 1, 1, 0, 1, 0, 0xdeadbeefu};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "mbar_states");
        unsigned *r = h_dev(sizeof(unsigned) * 32);
        memset(r, 0xff, sizeof(unsigned) * 32);
        struct h_params p;
        H_P(k, &p, 0, r);
        h_launch(m, "mbar_states", 1, 1, &p);
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            if (r[i] != want[i]) fail_msg("%s: observation %zu is %u, want %u", files[f], i, r[i], want[i]);
        ptx_module_free(m);
        h_dev_free_all();
    }
}

static void run_tiles(const char *file, const char *kernel, unsigned blocks, int n, int kind)
{
    struct ptx_module *m = h_load(file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, kernel);
    size_t tot = (size_t)blocks * (size_t)n;
    int *in = h_dev(sizeof(int) * tot), *out = h_dev(sizeof(int) * tot);
    for (size_t i = 0; i < tot; i++) in[i] = (int)(i * 2654435761u % 100000) - 50000;
    struct h_params p;
    H_P(k, &p, 0, (const int *)in);
    H_P(k, &p, 1, out);
    H_P(k, &p, 2, n);
    h_launch(m, kernel, blocks, 256, &p);
    for (size_t i = 0; i < tot; i++) {
        int t = (int)(i % 256), w;
        if (kind == 0) w = in[i] * 2 + 1;
        else if (kind == 1) w = in[i] * 3 - t;
        else w = in[i / 256 * 256 + (size_t)(t * 7 % 256)] + (int)(i / 256);
        if (out[i] != w) fail_msg("%s %s: out[%zu] = %d, want %d", file, kernel, i, out[i], w);
    }
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_memcpy_async(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        run_tiles(files[f], "pipe_barrier", 3, 1024, 0);
        run_tiles(files[f], "pipe_bulk", 3, 1024, 1);
        run_tiles(files[f], "pipe_stages", 1, 2048, 2);
    }
}

static void test_bulk_roundtrip(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "bulk_roundtrip");
        unsigned blocks = 4;
        int *in = h_dev(sizeof(int) * 512 * blocks), *out = h_dev(sizeof(int) * 512 * blocks);
        for (unsigned i = 0; i < 512 * blocks; i++) in[i] = (int)(i * 7919u % 1000) - 300;
        struct h_params p;
        H_P(k, &p, 0, (const int *)in);
        H_P(k, &p, 1, out);
        h_launch(m, "bulk_roundtrip", blocks, 96, &p);
        for (unsigned i = 0; i < 512 * blocks; i++)
            if (out[i] != in[i] * 5 + (int)(i % 512)) fail_msg("%s: out[%u] = %d, want %d", files[f], i, out[i], in[i] * 5 + (int)(i % 512));
        ptx_module_free(m);
        h_dev_free_all();
    }
}

static void test_rounds(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "mbar_rounds");
        int nt = 160, rounds = 6; /* 5 warps */
        int *out = h_dev(sizeof(int) * (size_t)nt);
        struct h_params p;
        H_P(k, &p, 0, out);
        H_P(k, &p, 1, rounds);
        h_launch(m, "mbar_rounds", 2, (unsigned)nt, &p);
        int vals[256];
        int acc[256] = {0};
        for (int r = 0; r < rounds; r++) {
            for (int t = 0; t < nt; t++) {
                int v = r * 1000 + t;
                if (t & 1) for (int q = 0; q < 50 + t; q++) v = (v * 3 + q) % 100003;
                vals[t] = v;
            }
            for (int t = 0; t < nt; t++) acc[t] = acc[t] * 7 + vals[(t + 37) % nt];
        }
        for (int t = 0; t < nt; t++)
            if (out[t] != acc[t]) fail_msg("%s: thread %d got %d, want %d", files[f], t, out[t], acc[t]);
        ptx_module_free(m);
        h_dev_free_all();
    }
}

static void test_intra_warp(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "mbar_intra");
        int nt = 96, work = 3000;
        int *out = h_dev(sizeof(int) * (size_t)nt);
        struct h_params p;
        H_P(k, &p, 0, out);
        H_P(k, &p, 1, work);
        h_launch(m, "mbar_intra", 3, (unsigned)nt, &p);
        int vals[128];
        for (int t = 0; t < nt; t++) {
            int v = t;
            if (t % 4 == 0) v = t * 5;
            else for (int q = 0; q < work; q++) v = (v * 7 + q) % 1009;
            vals[t] = v;
        }
        for (int t = 0; t < nt; t++) {
            int w = vals[(t + 1) % nt] + vals[(t + 2) % nt];
            if (out[t] != w) fail_msg("%s: thread %d got %d, want %d", files[f], t, out[t], w);
        }
        ptx_module_free(m);
        h_dev_free_all();
    }
}

static void test_bulk_oob(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "bulk_oob");
        int n = 64;
        int *in = h_dev(sizeof(int) * (size_t)n + 16); /* the copy reads 256 bytes from in + 64 */
        struct h_params p;
        H_P(k, &p, 0, (const int *)in);
        H_P(k, &p, 1, n);
        CUresult rc = h_launch_ex(m, "bulk_oob", 1, 1, 32, 1, 1, 0, &p, 1, NULL);
        if (rc != CUDA_ERROR_ILLEGAL_ADDRESS) fail_msg("%s: out-of-bounds bulk copy gave %d (%s)", files[f], rc, h_err);
        /* the same copy in bounds succeeds */
        H_P(k, &p, 1, 0);
        rc = h_launch_ex(m, "bulk_oob", 1, 1, 32, 1, 1, 0, &p, 1, NULL);
        if (rc != CUDA_SUCCESS) fail_msg("%s: in-bounds bulk copy failed: %d %s", files[f], rc, h_err);
        ptx_module_free(m);
        h_dev_free_all();
    }
}

static void test_bulk_reduce(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "bulk_reduce");
        int n = 256;
        int *in = h_dev(4u * (unsigned)n), *acc = h_dev(4u * (unsigned)n), *mn = h_dev(4u * (unsigned)n);
        int acc0[256], mn0[256];
        for (int i = 0; i < n; i++) {
            in[i] = (int)((unsigned)i * 2654435761u) >> 3;
            acc[i] = acc0[i] = (int)(0x7ffffff0u + (unsigned)i * 977u);
            mn[i] = mn0[i] = (i * 31337) % 50000 - 25000;
        }
        struct h_params p;
        H_P(k, &p, 0, (const int *)in);
        H_P(k, &p, 1, acc);
        H_P(k, &p, 2, mn);
        H_P(k, &p, 3, n);
        h_launch(m, "bulk_reduce", 1, 64, &p);
        for (int i = 0; i < n; i++) {
            int v = in[i] + i;
            int wa = (int)((unsigned)acc0[i] + (unsigned)v), wm = v < mn0[i] ? v : mn0[i];
            if (acc[i] != wa || mn[i] != wm)
                fail_msg("%s: element %d: add %d (want %d), min %d (want %d)", files[f], i, acc[i], wa, mn[i], wm);
        }
        ptx_module_free(m);
        h_dev_free_all();
    }
}

static void test_bulk_s2s(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "bulk_s2s");
        int *out = h_dev(sizeof(int) * 128);
        struct h_params p;
        H_P(k, &p, 0, out);
        h_launch(m, "bulk_s2s", 2, 128, &p);
        for (int t = 0; t < 128; t++) {
            int s = 127 - t, w = s * s - 5 * s;
            if (out[t] != w) fail_msg("%s: out[%d] = %d, want %d", files[f], t, out[t], w);
        }
        ptx_module_free(m);
        h_dev_free_all();
    }
}

static void test_deadlock(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(files[0]);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "mbar_deadlock");
    int *out = h_dev(sizeof(int) * 64);
    struct h_params p;
    H_P(k, &p, 0, out);
    CUresult rc = h_launch_ex(m, "mbar_deadlock", 1, 1, 64, 1, 1, 0, &p, 1, NULL);
    if (rc != CUDA_ERROR_LAUNCH_FAILED || !strstr(h_err, "deadlock")) fail_msg("deadlock gave %d (%s)", rc, h_err);
    for (int t = 0; t < 64; t++) assert_int_equal(out[t], 0);
    ptx_module_free(m);
    h_dev_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_memcpy_async),
        cmocka_unit_test(test_bulk_roundtrip),
        cmocka_unit_test(test_rounds),
        cmocka_unit_test(test_intra_warp),
        cmocka_unit_test(test_bulk_oob),
        cmocka_unit_test(test_bulk_reduce),
        cmocka_unit_test(test_bulk_s2s),
        cmocka_unit_test(test_deadlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
