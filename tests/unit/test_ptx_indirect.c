/*
 * test_ptx_indirect.c — indirect control flow on the PTX machine: calls
 * through function pointers (tables of functions in .global initialisers,
 * addresses taken with mov, pointers kept in device memory across launches,
 * a different callee per lane of a warp, a recursive callee), virtual calls
 * (vtables), and brx.idx over a .branchtargets list with divergent lanes
 * that reconverge (hand-written PTX: nvcc 13 compiles switches to compare
 * chains). Bad targets fail the launch: a call through a value that is not a
 * function, a brx.idx index past its list.
 * Kernels: ptx_kernels/indirect.cu (compute_75 and compute_120) and below.
 */
#include "ptx_kernels/harness.h"

static const char *const files[] = {"indirect_75.ptx", "indirect_120.ptx"};

static int fact(int a, int b) { return a <= 1 ? b : fact(a - 1, b * a); }

static void test_fn_table(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "fn_table");
        int n = 96;
        int *a = h_dev(sizeof(int) * (size_t)n), *sel = h_dev(sizeof(int) * (size_t)n), *out = h_dev(sizeof(int) * (size_t)n);
        for (int t = 0; t < n; t++) { a[t] = t % 9 + 1; sel[t] = (t * 7 + t / 5) % 4; }
        struct h_params p;
        H_P(k, &p, 0, (const int *)a);
        H_P(k, &p, 1, (const int *)sel);
        H_P(k, &p, 2, out);
        h_launch(m, "fn_table", 2, 48, &p);
        for (int t = 0; t < n; t++) {
            int w = sel[t] == 0 ? a[t] + t : sel[t] == 1 ? a[t] * t : sel[t] == 2 ? a[t] - t : fact(a[t], t);
            if (out[t] != w) fail_msg("%s: lane %d (sel %d) = %d, want %d", files[f], t, sel[t], out[t], w);
        }
        ptx_module_free(m);
        h_dev_free_all();
    }
}

static void test_fn_pointers(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "fn_select");
        long long *a = h_dev(sizeof(long long) * 40), *out = h_dev(sizeof(long long) * 40);
        void **slot = h_dev(sizeof(void *));
        for (int t = 0; t < 40; t++) a[t] = 1000003LL * t - 7;
        struct h_params p;
        H_P(k, &p, 0, (const long long *)a);
        H_P(k, &p, 1, out);
        h_launch(m, "fn_select", 1, 40, &p);
        for (int t = 0; t < 40; t++) {
            long long w = t % 3 == 0 ? 2 * a[t] : a[t] * a[t];
            if (out[t] != w) fail_msg("%s: fn_select lane %d = %lld, want %lld", files[f], t, out[t], w);
        }
        for (int which = 0; which < 2; which++) {
            k = ptx_module_find_kernel(m, "fn_store");
            H_P(k, &p, 0, slot);
            H_P(k, &p, 1, which);
            h_launch(m, "fn_store", 1, 1, &p);
            assert_true(*slot != NULL);
            k = ptx_module_find_kernel(m, "fn_call_slot");
            H_P(k, &p, 0, (void *const *)slot);
            H_P(k, &p, 1, (const long long *)a);
            H_P(k, &p, 2, out);
            h_launch(m, "fn_call_slot", 1, 40, &p);
            for (int t = 0; t < 40; t++) {
                long long w = which ? a[t] * a[t] : 2 * a[t];
                if (out[t] != w) fail_msg("%s: fn_call_slot(%d) lane %d = %lld, want %lld", files[f], which, t, out[t], w);
            }
        }
        /* a pointer that is not a function's address */
        *slot = (void *)(uintptr_t)0x1000;
        h_launch_ex(m, "fn_call_slot", 1, 1, 32, 1, 1, 0, &p, 1, NULL);
        CUresult rc = h_launch_ex(m, "fn_call_slot", 1, 1, 32, 1, 1, 0, &p, 1, NULL);
        if (rc != CUDA_ERROR_ILLEGAL_ADDRESS) fail_msg("%s: call through 0x1000 gave %d (%s)", files[f], rc, h_err);
        ptx_module_free(m);
        h_dev_free_all();
    }
}

static void test_virtual(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "virt");
        int n = 64;
        int *a = h_dev(sizeof(int) * (size_t)n), *out = h_dev(sizeof(int) * (size_t)n);
        for (int t = 0; t < n; t++) a[t] = (t * 13) % 17 + 2;
        struct h_params p;
        H_P(k, &p, 0, (const int *)a);
        H_P(k, &p, 1, out);
        h_launch(m, "virt", 1, (unsigned)n, &p);
        for (int t = 0; t < n; t++) {
            int w = t % 3 == 0 ? (a[t] * a[t] + t) * 10 + 4 : t % 3 == 1 ? (a[t] * (t + 1) / 2 - t) * 10 + 3 : t * 1000;
            if (out[t] != w) fail_msg("%s: virt lane %d = %d, want %d", files[f], t, out[t], w);
        }
        ptx_module_free(m);
        h_dev_free_all();
    }
}

/* out[t] = f(in[t]) through brx.idx over 5 targets (index in[t] % 5), run
 * twice in a loop; the lanes reconverge before the store (checked with
 * activemask: every lane must see the full warp) */
static const char brx_ptx[] =
    ".version 8.7\n.target sm_75\n.address_size 64\n"
    ".visible .entry sw(.param .u64 in, .param .u64 out, .param .u64 mask)\n{\n"
    ".reg .pred %p<4>;\n.reg .b32 %r<20>;\n.reg .b64 %rd<10>;\n"
    "ld.param.u64 %rd1, [in];\nld.param.u64 %rd2, [out];\nld.param.u64 %rd3, [mask];\n"
    "mov.u32 %r1, %tid.x;\nmul.wide.u32 %rd4, %r1, 4;\nadd.s64 %rd5, %rd1, %rd4;\nld.global.u32 %r2, [%rd5];\n"
    "mov.u32 %r10, 0;\nmov.u32 %r11, 0;\n"
    "LOOP:\nrem.u32 %r3, %r2, 5;\n"
    "ts: .branchtargets C0, C1, C2, C3, C4;\n"
    "brx.idx %r3, ts;\n"
    "C0:\nmul.lo.s32 %r4, %r2, 3;\nbra.uni JOIN;\n"
    "C1:\nxor.b32 %r4, %r2, 85;\nbra.uni JOIN;\n"
    "C2:\nadd.s32 %r4, %r2, 1000;\nbra.uni JOIN;\n"
    "C3:\nshr.u32 %r4, %r2, 2;\nbra.uni JOIN;\n"
    "C4:\nneg.s32 %r4, %r2;\n"
    "JOIN:\nactivemask.b32 %r12;\nadd.s32 %r10, %r10, %r4;\nadd.s32 %r2, %r2, 1;\nadd.s32 %r11, %r11, 1;\n"
    "setp.lt.u32 %p1, %r11, 2;\n@%p1 bra LOOP;\n"
    "add.s64 %rd6, %rd2, %rd4;\nst.global.u32 [%rd6], %r10;\n"
    "add.s64 %rd7, %rd3, %rd4;\nst.global.u32 [%rd7], %r12;\n"
    "ret;\n}\n";

static int32_t brx_ref(uint32_t v)
{
    switch (v % 5) {
    case 0: return (int32_t)(v * 3);
    case 1: return (int32_t)(v ^ 85);
    case 2: return (int32_t)(v + 1000);
    case 3: return (int32_t)(v >> 2);
    default: return -(int32_t)v;
    }
}

static void test_brx(void **state)
{
    (void)state;
    struct ptx_module *m = NULL;
    char err[256];
    if (ptx_module_parse(brx_ptx, strlen(brx_ptx), &m, err, sizeof err) != CUDA_SUCCESS) fail_msg("parse: %s", err);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "sw");
    int n = 64;
    uint32_t *in = h_dev(4u * (unsigned)n), *out = h_dev(4u * (unsigned)n), *mask = h_dev(4u * (unsigned)n);
    for (int t = 0; t < n; t++) in[t] = (uint32_t)(t < 32 ? t * 7 + 3 : 40); /* warp 1: one target for all */
    struct h_params p;
    H_P(k, &p, 0, (uint64_t)(uintptr_t)in);
    H_P(k, &p, 1, (uint64_t)(uintptr_t)out);
    H_P(k, &p, 2, (uint64_t)(uintptr_t)mask);
    h_launch(m, "sw", 1, (unsigned)n, &p);
    for (int t = 0; t < n; t++) {
        int32_t w = brx_ref(in[t]) + brx_ref(in[t] + 1);
        if ((int32_t)out[t] != w) fail_msg("brx lane %d = %d, want %d", t, (int32_t)out[t], w);
        if (mask[t] != 0xffffffffu) fail_msg("brx lane %d: activemask 0x%x after the join", t, mask[t]);
    }
    ptx_module_free(m);
    /* an index past the list fails the launch */
    static const char bad[] =
        ".version 8.7\n.target sm_75\n.address_size 64\n.visible .entry k(.param .u32 i)\n{\n.reg .b32 %r<4>;\n"
        "ld.param.u32 %r1, [i];\nts: .branchtargets A, B;\nbrx.idx %r1, ts;\nA:\nret;\nB:\nret;\n}\n";
    if (ptx_module_parse(bad, strlen(bad), &m, err, sizeof err) != CUDA_SUCCESS) fail_msg("parse: %s", err);
    k = ptx_module_find_kernel(m, "k");
    H_P(k, &p, 0, (uint32_t)1);
    assert_int_equal(h_launch_ex(m, "k", 1, 1, 32, 1, 1, 0, &p, 1, NULL), CUDA_SUCCESS);
    H_P(k, &p, 0, (uint32_t)2);
    assert_int_equal(h_launch_ex(m, "k", 1, 1, 32, 1, 1, 0, &p, 1, NULL), CUDA_ERROR_ILLEGAL_INSTRUCTION);
    ptx_module_free(m);
    h_dev_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fn_table),
        cmocka_unit_test(test_fn_pointers),
        cmocka_unit_test(test_virtual),
        cmocka_unit_test(test_brx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
