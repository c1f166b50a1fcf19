/*
 * test_ptx_control.c — the PTX machine's control flow: divergent branches,
 * loops with break/continue, early return, recursion and calls with
 * parameters and struct returns, CTA barriers (incl. counting/and/or forms,
 * exited threads, barriers in block-uniform branches), shared, dynamic
 * shared and local memory, shfl in code that diverged just before, and
 * cudaGraphSetConditional.
 * Kernels: ptx_kernels/control.cu, compiled to compute_75, compute_90 and compute_120 PTX.
 */
#include "ptx_kernels/harness.h"

static const char *ptx_file = "control_75.ptx";

static int fib_ref(int n) { return n < 2 ? n : fib_ref(n - 1) + fib_ref(n - 2); }

static void test_diverge(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "diverge");
    int n = 1000;
    int *out = h_dev(sizeof(int) * 1024);
    struct h_params p;
    H_P(k, &p, 0, out);
    H_P(k, &p, 1, n);
    h_launch(m, "diverge", 8, 128, &p);
    for (int t = 0; t < 1024; t++) {
        if (t >= n) { assert_int_equal(out[t], 0); continue; }
        int acc = 0;
        for (int i = 0; i < (t % 7) * 3; i++) {
            if (i % 3 == 1) continue;
            acc += i * (t & 1 ? 2 : -1);
            if (acc > 40 + t) break;
        }
        if (t % 5 == 0) acc ^= 0x55;
        else if (t % 5 == 1) { while (acc > 10) acc /= 3; }
        else acc = -acc;
        assert_int_equal(out[t], acc);
    }
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_recurse(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "recurse");
    int *out = h_dev(sizeof(int) * 64);
    float *fo = h_dev(sizeof(float) * 32);
    long long *lo = h_dev(sizeof(long long) * 32);
    struct h_params p;
    H_P(k, &p, 0, out);
    H_P(k, &p, 1, fo);
    H_P(k, &p, 2, lo);
    h_launch(m, "recurse", 1, 32, &p);
    for (int t = 0; t < 32; t++) {
        assert_int_equal(out[t], fib_ref(t % 12));
        assert_int_equal(out[32 + t], t * 3 + (t & 3) * 100);
        assert_true(fo[t] == (float)t * 0.5f);
        assert_int_equal(lo[t], (long long)t << 3);
    }
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_reduce(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "reduce");
    int n = 5000, nb = (n + 255) / 256;
    float *in = h_dev(sizeof(float) * (size_t)n), *out = h_dev(sizeof(float) * (size_t)nb);
    for (int i = 0; i < n; i++) in[i] = (float)(i % 17);
    struct h_params p;
    H_P(k, &p, 0, in);
    H_P(k, &p, 1, out);
    H_P(k, &p, 2, n);
    for (int threads = 1; threads <= 4; threads *= 2) {
        memset(out, 0, sizeof(float) * (size_t)nb);
        assert_int_equal(h_launch_ex(m, "reduce", (unsigned)nb, 1, 256, 1, 1, 0, &p, threads, NULL), CUDA_SUCCESS);
        for (int b = 0; b < nb; b++) {
            float s = 0;
            for (int i = b * 256; i < b * 256 + 256 && i < n; i++) s += in[i];
            assert_true(out[b] == s);
        }
    }
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_bar_counts(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "bar_counts");
    int *out = h_dev(sizeof(int) * 200);
    struct h_params p;
    H_P(k, &p, 0, out);
    h_launch(m, "bar_counts", 1, 200, &p);
    int c = 0;
    for (int t = 0; t < 200; t++) c += t % 3 == 0;
    for (int t = 0; t < 200; t++) assert_int_equal(out[t], c * 1000 + 100 + 10 + 0);
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_early_exit(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "early_exit");
    int *out = h_dev(sizeof(int) * 128);
    struct h_params p;
    H_P(k, &p, 0, out);
    H_P(k, &p, 1, 77);
    h_launch(m, "early_exit", 1, 128, &p);
    for (int t = 0; t < 77; t++) assert_int_equal(out[t], ((t + 1) % 77) * 2);
    for (int t = 77; t < 128; t++) assert_int_equal(out[t], 0);
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_dyn_shared(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "dyn_shared");
    int nt = 16 * 6, nb = 3 * 2;
    int *out = h_dev(sizeof(int) * (size_t)(nt * nb));
    struct h_params p;
    H_P(k, &p, 0, out);
    assert_int_equal(h_launch_ex(m, "dyn_shared", 3, 2, 16, 6, 1, sizeof(int) * (size_t)nt, &p, 2, NULL), CUDA_SUCCESS);
    for (int by = 0; by < 2; by++)
        for (int bx = 0; bx < 3; bx++)
            for (int t = 0; t < nt; t++)
                assert_int_equal(out[(bx + 3 * by) * nt + t], (nt - 1 - t) + bx + 10 * by);
    /* too little dynamic shared memory: the store runs out of bounds */
    assert_int_equal(h_launch_ex(m, "dyn_shared", 1, 1, 16, 6, 1, 16, &p, 1, NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    ptx_module_free(m);
    h_dev_free_all();
}

/* function-scope __shared__ arrays belong to their kernel: the last kernel
 * of the module is not charged the earlier ones' arrays, and its own array
 * does not overlap the one of the function it calls */
static void test_static_shared_per_kernel(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    struct ptx_kernel_info info;
    ptx_kernel_get_info(ptx_module_find_kernel(m, "shared_b"), &info);
    assert_int_equal(info.static_shared, 2048 * 4);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "shared_c");
    ptx_kernel_get_info(k, &info);
    /* its array and shared_helper's; a .func's arrays keep their module-wide place (here after
     * recurse's 16 bytes), but no kernel's arrays come before them */
    assert_true(info.static_shared >= 2 * 64 * 4 && info.static_shared < 2 * 64 * 4 + 64);
    int *out = h_dev(64 * sizeof(int));
    struct h_params p;
    H_P(k, &p, 0, out);
    h_launch(m, "shared_c", 1, 64, &p);
    for (int t = 0; t < 64; t++) assert_int_equal(out[t], 3 * (63 - t) * 1000 + 5 * (63 - t));
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_local_array(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "local_array");
    int *idx = h_dev(sizeof(int) * 32), *out = h_dev(sizeof(int) * 32);
    for (int i = 0; i < 32; i++) idx[i] = (i * 7 + 3) % 23;
    struct h_params p;
    H_P(k, &p, 0, idx);
    H_P(k, &p, 1, out);
    h_launch(m, "local_array", 1, 32, &p);
    for (int t = 0; t < 32; t++) {
        int a[16];
        for (int i = 0; i < 16; i++) a[i] = i * t;
        a[idx[t] & 15] += 1000;
        int s = 0;
        for (int i = 0; i < 16; i++) s += a[idx[(t + i) & 31] & 15];
        assert_int_equal(out[t], s);
    }
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_shfl_after_divergence(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "warp_divergent_shfl");
    int *out = h_dev(sizeof(int) * 32);
    struct h_params p;
    H_P(k, &p, 0, out);
    h_launch(m, "warp_divergent_shfl", 1, 32, &p);
    for (int t = 0; t < 32; t++) {
        int s = (t + 1) & 31;
        assert_int_equal(out[t], s * 10 + ((s & 1) ? 1 : 2));
    }
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_uniform_branch_barrier(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "uniform_branch_barrier");
    int *out = h_dev(sizeof(int) * 64 * 4);
    struct h_params p;
    H_P(k, &p, 0, out);
    h_launch(m, "uniform_branch_barrier", 4, 64, &p);
    for (int b = 0; b < 4; b++)
        for (int t = 0; t < 64; t++) assert_int_equal(out[b * 64 + t], (b & 1) ? 63 : t);
    ptx_module_free(m);
    h_dev_free_all();
}

/* cudaGraphSetConditional: a store of the value at the handle, which must be
 * device memory */
static void test_setcond(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(ptx_file);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "setcond");
    uint32_t *cond = h_dev(sizeof *cond);
    int *v = h_dev(sizeof(int) * 64);
    for (int t = 0; t < 64; t++) v[t] = 100 + t;
    *cond = 1;
    struct h_params p;
    H_P(k, &p, 0, (uint64_t)(uintptr_t)cond);
    H_P(k, &p, 1, v);
    h_launch(m, "setcond", 1, 64, &p);
    assert_int_equal(*cond, 105);
    H_P(k, &p, 0, (uint64_t)0x1000); /* not device memory */
    assert_int_equal(h_launch_ex(m, "setcond", 1, 1, 64, 1, 1, 0, &p, 2, NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_other_arch(void **state)
{
    (void)state;
    static const char *const others[] = {"control_90.ptx", "control_120.ptx"};
    for (int i = 0; i < 2; i++) {
        ptx_file = others[i];
        test_diverge(state);
        test_recurse(state);
        test_bar_counts(state);
        test_reduce(state);
        test_early_exit(state);
    }
    ptx_file = "control_75.ptx";
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diverge),
        cmocka_unit_test(test_recurse),
        cmocka_unit_test(test_reduce),
        cmocka_unit_test(test_bar_counts),
        cmocka_unit_test(test_early_exit),
        cmocka_unit_test(test_dyn_shared),
        cmocka_unit_test(test_local_array),
        cmocka_unit_test(test_static_shared_per_kernel),
        cmocka_unit_test(test_shfl_after_divergence),
        cmocka_unit_test(test_uniform_branch_barrier),
        cmocka_unit_test(test_other_arch),
        cmocka_unit_test(test_setcond),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
