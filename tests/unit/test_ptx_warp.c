/*
 * test_ptx_warp.c — warp-level instructions (shfl up/down/bfly/idx with
 * width, vote, match, activemask, redux), atomics from many blocks running
 * on several host threads (counters, max, f32/f64/u64 add, inc, or, shared
 * atomics, a CAS spin lock) and device printf.
 * Kernels: ptx_kernels/warp.cu (compute_75; compute_90 for redux.sync), and
 * every test again from compute_120 PTX (what NVIDIA's current libraries ship).
 */
#include "ptx_kernels/harness.h"

static void test_warp(void **state)
{
    /* the PTX file: the test's prestate */
    struct ptx_module *m = h_load((const char *)*state);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "warp_ops");
    int *in = h_dev(32 * 4), *out = h_dev(32 * 12 * 4);
    for (int i = 0; i < 32; i++) in[i] = i * 37 % 101 - 20;
    in[13] = 12345;
    struct h_params p;
    H_P(k, &p, 0, in);
    H_P(k, &p, 1, out);
    h_launch(m, "warp_ops", 1, 32, &p);
    unsigned ballot = 0;
    int sum = 0;
    for (int i = 0; i < 32; i++) { if (in[i] & 1) ballot |= 1u << i; sum += in[i]; }
    for (int t = 0; t < 32; t++) {
        int *o = out + t * 12;
        assert_int_equal(o[0], in[7]);
        assert_int_equal(o[1], t >= 3 ? in[t - 3] : in[t]);
        assert_int_equal(o[2], t + 5 < 32 ? in[t + 5] : in[t]);
        assert_int_equal(o[3], in[t ^ 9]);
        assert_int_equal(o[4], in[(t & ~7) + ((t + 2) & 7)]);
        assert_int_equal((unsigned)o[5], ballot);
        assert_int_equal(o[6], 1);
        assert_int_equal(o[7], 1);
        unsigned mt = 0;
        for (int i = 0; i < 32; i++) if ((in[i] & 3) == (in[t] & 3)) mt |= 1u << i;
        assert_int_equal((unsigned)o[8], mt);
        assert_int_equal(o[9], sum);
        assert_int_equal((unsigned)o[10], (t & 1) ? 0xaaaaaaaau : 0xffffffffu);
        assert_int_equal(o[11], sum);
    }
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_atomics(void **state)
{
    /* the PTX file: the test's prestate */
    struct ptx_module *m = h_load((const char *)*state);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "atomics");
    int nb = 32, nt = 64, n = nb * nt;
    int *ctr = h_dev(16), *cas = h_dev(8), *old = h_dev((size_t)n * 4);
    unsigned *mx = h_dev(4);
    float *fs = h_dev(4);
    double *ds = h_dev(8);
    unsigned long long *u64 = h_dev(8);
    struct h_params p;
    H_P(k, &p, 0, ctr);
    H_P(k, &p, 1, mx);
    H_P(k, &p, 2, fs);
    H_P(k, &p, 3, ds);
    H_P(k, &p, 4, u64);
    H_P(k, &p, 5, cas);
    H_P(k, &p, 6, old);
    assert_int_equal(h_launch_ex(m, "atomics", (unsigned)nb, 1, (unsigned)nt, 1, 1, 0, &p, 4, NULL), CUDA_SUCCESS);
    assert_int_equal(ctr[0], n);
    unsigned char *seen = calloc((size_t)n, 1);
    for (int i = 0; i < n; i++) { assert_true(old[i] >= 0 && old[i] < n); assert_false(seen[old[i]]); seen[old[i]] = 1; }
    free(seen);
    unsigned want = 0;
    for (int t = 0; t < n; t++) if ((unsigned)(t * 7919 % 1000) > want) want = (unsigned)(t * 7919 % 1000);
    assert_int_equal(*mx, want);
    assert_true(*fs == 0.5f * (float)n);
    assert_true(*ds == 0.25 * n);
    assert_true(*u64 == (unsigned long long)n << 33);
    assert_int_equal(ctr[1], n % 100);
    assert_int_equal((unsigned)ctr[2], 0xffffffffu);
    long long tsum = (long long)n * (n - 1) / 2;
    assert_int_equal(ctr[3], (int)tsum);
    assert_int_equal(cas[0], 0);
    assert_int_equal(cas[1], n);
    ptx_module_free(m);
    h_dev_free_all();
}

static void test_printf(void **state)
{
    /* the PTX file: the test's prestate */
    struct ptx_module *m = h_load((const char *)*state);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "hello");
    char *s = h_dev(8);
    strcpy(s, "dev");
    struct h_params p;
    H_P(k, &p, 0, 42);
    H_P(k, &p, 1, 2.5);
    H_P(k, &p, 2, s);
    h_nprinted = 0;
    h_printed[0] = 0;
    h_launch(m, "hello", 1, 32, &p);
    assert_string_equal(h_printed, "t0 x=42 y=2.500 s=dev c=A 2.5e+03 -5 ff\nt1 x=42 y=2.500 s=dev c=B 2.5e+03 -5 ff\n");
    ptx_module_free(m);
    h_dev_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_warp, "warp_90.ptx"),
        cmocka_unit_test_prestate(test_atomics, "warp_75.ptx"),
        cmocka_unit_test_prestate(test_printf, "warp_75.ptx"),
        cmocka_unit_test_prestate(test_warp, "warp_120.ptx"),
        cmocka_unit_test_prestate(test_atomics, "warp_120.ptx"),
        cmocka_unit_test_prestate(test_printf, "warp_120.ptx"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
