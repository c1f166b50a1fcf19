/*
 * test_ptx_coop.c — cooperative launches on the PTX machine: grid-wide
 * sync (cooperative_groups this_grid().sync(), as nvcc compiles it) with
 * many more blocks than host threads, so blocks must take turns while others
 * wait at the grid barrier; blocks that arrive late; 3-D grids; the grid
 * workspace exists only in cooperative launches (is_valid(), and grid.sync()
 * traps without it instead of hanging), and is accessible exactly.
 * A scheduler that ran blocks to completion one after the other would never
 * finish these launches (the test then fails on its ctest timeout).
 * Kernels: ptx_kernels/coop.cu, compiled to compute_75 and compute_120 PTX.
 */
#include "ptx_kernels/harness.h"

static const char *const files[] = {"coop_75.ptx", "coop_120.ptx"};

static void run_exchange(struct ptx_module *m, unsigned gx, unsigned gy, unsigned gz, unsigned bx, int threads,
                         int rounds)
{
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "exchange");
    unsigned nb = gx * gy * gz;
    int *vals = h_dev(sizeof(int) * nb), *out = h_dev(sizeof(int) * nb * (size_t)rounds);
    struct h_params p;
    H_P(k, &p, 0, vals);
    H_P(k, &p, 1, out);
    H_P(k, &p, 2, rounds);
    struct ptx_launch l;
    memset(&l, 0, sizeof l);
    /* h_launch_ex has no z dimension: launch 3-D grids here */
    l.kernel = k;
    l.grid[0] = gx; l.grid[1] = gy; l.grid[2] = gz;
    l.block[0] = bx; l.block[1] = 1; l.block[2] = 1;
    l.params = p.buf;
    l.memory.valid = h_valid;
    l.host_threads = threads;
    l.cooperative = true;
    l.errbuf = h_err;
    l.errlen = sizeof h_err;
    CUresult rc = ptx_launch_run(&l);
    if (rc != CUDA_SUCCESS) fail_msg("exchange %ux%ux%u on %d threads: %d %s", gx, gy, gz, threads, rc, h_err);
    for (int r = 0; r < rounds; r++)
        for (unsigned b = 0; b < nb; b++) {
            int want = (int)(7u * nb * (nb - 1) / 2 + nb * (unsigned)r);
            if (out[(unsigned)r * nb + b] != want)
                fail_msg("%ux%ux%u, %d threads: round %d block %u saw %d, want %d", gx, gy, gz, threads, r, b,
                         out[(unsigned)r * nb + b], want);
        }
}

/* 64 blocks on 2 host threads, several syncs, twice; then other shapes. */
static void test_exchange(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        run_exchange(m, 64, 1, 1, 64, 2, 3);
        run_exchange(m, 64, 1, 1, 64, 2, 3);
        run_exchange(m, 40, 1, 1, 96, 1, 2);  /* every block on one thread, 3 warps each */
        run_exchange(m, 4, 3, 2, 32, 5, 2);   /* a 3-D grid; blocks not a multiple of threads */
        run_exchange(m, 3, 1, 1, 128, 8, 2);  /* more threads than blocks */
        ptx_module_free(m);
        h_dev_free_all();
    }
}

/* Block b works b * 2000 iterations before the sync: block 0 waits at the
 * barrier for a long time while the late ones still have to run. */
static void test_skewed(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct ptx_module *m = h_load(files[f]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "skewed");
        unsigned nb = 48;
        int work = 2000;
        unsigned *slot = h_dev(sizeof(unsigned) * nb), *out = h_dev(sizeof(unsigned) * nb);
        struct h_params p;
        H_P(k, &p, 0, slot);
        H_P(k, &p, 1, out);
        H_P(k, &p, 2, work);
        h_cooperative = true;
        CUresult rc = h_launch_ex(m, "skewed", nb, 1, 32, 1, 1, 0, &p, 2, NULL);
        h_cooperative = false;
        if (rc != CUDA_SUCCESS) fail_msg("skewed: %d %s", rc, h_err);
        for (unsigned b = 0; b < nb; b++) {
            unsigned nbk = (b + 1) % nb, v = nbk + 1;
            for (unsigned i = 0; i < nbk * (unsigned)work; i++) v = v * 1103515245u + 12345u;
            assert_int_equal(out[b], v);
        }
        ptx_module_free(m);
        h_dev_free_all();
    }
}

/* The workspace is there in cooperative launches only; without it the
 * library's grid.sync() traps, which fails the launch (no hang). */
static void test_workspace_only_when_cooperative(void **state)
{
    (void)state;
    struct ptx_module *m = h_load(files[1]);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "valid");
    int *out = h_dev(sizeof(int) * 4 * 32);
    struct h_params p;
    H_P(k, &p, 0, out);
    for (int coop = 0; coop < 2; coop++) {
        memset(out, 0x7f, sizeof(int) * 4 * 32);
        h_cooperative = coop;
        CUresult rc = h_launch_ex(m, "valid", 4, 1, 32, 1, 1, 0, &p, 2, NULL);
        h_cooperative = false;
        assert_int_equal(rc, CUDA_SUCCESS);
        for (int t = 0; t < 4 * 32; t++) assert_int_equal(out[t], coop);
    }
    k = ptx_module_find_kernel(m, "sync_anyway");
    H_P(k, &p, 0, out);
    assert_int_equal(h_launch_ex(m, "sync_anyway", 8, 1, 32, 1, 1, 0, &p, 2, NULL), CUDA_ERROR_LAUNCH_FAILED);
    assert_non_null(strstr(h_err, "trap"));
    ptx_module_free(m);
    h_dev_free_all();
}

/* The workspace is exactly {wsSize, barrier}: readable there, and not a
 * byte further (hand-written PTX forms its address from the env registers). */
static const char *probe_ptx =
    ".version 7.0\n.target sm_75\n.address_size 64\n"
    ".visible .entry probe(.param .u64 out, .param .u64 off)\n{\n"
    " .reg .b32 %r<4>; .reg .b64 %rd<8>;\n"
    " mov.u32 %r1, %envreg1; mov.u32 %r2, %envreg2;\n"
    " cvt.u64.u32 %rd1, %r1; shl.b64 %rd1, %rd1, 32; cvt.u64.u32 %rd2, %r2; or.b64 %rd3, %rd1, %rd2;\n"
    " ld.param.u64 %rd4, [off]; add.s64 %rd5, %rd3, %rd4; ld.global.u32 %r3, [%rd5];\n"
    " ld.param.u64 %rd6, [out]; st.global.u32 [%rd6], %r3;\n ret;\n}\n";

static void test_workspace_bounds(void **state)
{
    (void)state;
    struct ptx_module *m = NULL;
    char err[256];
    assert_int_equal(ptx_module_parse(probe_ptx, strlen(probe_ptx), &m, err, sizeof err), CUDA_SUCCESS);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "probe");
    unsigned *out = h_dev(sizeof(unsigned));
    struct h_params p;
    H_P(k, &p, 0, out);
    static const struct { uint64_t off; CUresult rc; unsigned val; } cases[] = {
        {0, CUDA_SUCCESS, 8}, {4, CUDA_SUCCESS, 0}, {8, CUDA_ERROR_ILLEGAL_ADDRESS, 0},
        {4096, CUDA_ERROR_ILLEGAL_ADDRESS, 0}, {(uint64_t)-4, CUDA_ERROR_ILLEGAL_ADDRESS, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        *out = 0xdeadbeef;
        H_P(k, &p, 1, cases[c].off);
        h_cooperative = true;
        CUresult rc = h_launch_ex(m, "probe", 1, 1, 1, 1, 1, 0, &p, 1, NULL);
        h_cooperative = false;
        if (rc != cases[c].rc) fail_msg("offset %lld: %d (%s), want %d", (long long)cases[c].off, rc, h_err, cases[c].rc);
        if (rc == CUDA_SUCCESS) assert_int_equal(*out, cases[c].val);
    }
    ptx_module_free(m);
    h_dev_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_skewed),
        cmocka_unit_test(test_workspace_only_when_cooperative),
        cmocka_unit_test(test_workspace_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
