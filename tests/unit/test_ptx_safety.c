/*
 * test_ptx_safety.c — memory safety and error reporting of the PTX machine,
 * on hand-written PTX: an out-of-bounds global store ends the launch with
 * CUDA_ERROR_ILLEGAL_ADDRESS and leaves the bytes around the buffer
 * untouched; misaligned, shared and local violations; trap; generic
 * addressing round trips; module variables with relocated initialisers;
 * malformed PTX gives CUDA_ERROR_INVALID_PTX naming the line; the
 * instruction limit; what fuzz_ptx found.
 */
#include "ptx_kernels/harness.h"

static const char *hdr = ".version 8.0\n.target sm_75\n.address_size 64\n";

static struct ptx_module *parse(const char *body)
{
    static char text[8192];
    snprintf(text, sizeof text, "%s%s", hdr, body);
    struct ptx_module *m = NULL;
    char err[256];
    CUresult rc = ptx_module_parse(text, strlen(text), &m, err, sizeof err);
    if (rc) fail_msg("parse: %d %s", rc, err);
    return m;
}

static const char *store_kernel =
    ".visible .entry st(.param .u64 p, .param .u32 n)\n"
    "{\n"
    "  .reg .b32 %r<4>; .reg .b64 %rd<4>; .reg .pred %p1;\n"
    "  ld.param.u64 %rd1, [p];\n"
    "  ld.param.u32 %r1, [n];\n"
    "  mov.u32 %r2, %tid.x;\n"
    "  setp.ge.u32 %p1, %r2, %r1;\n"
    "  @%p1 bra DONE;\n"
    "  mul.wide.u32 %rd2, %r2, 4;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  st.global.u32 [%rd3], %r2;\n"
    "DONE:\n"
    "  ret;\n"
    "}\n";

static void test_oob_store(void **state)
{
    (void)state;
    struct ptx_module *m = parse(store_kernel);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "st");
    /* 64 guard bytes either side; only the middle 16 ints are device memory */
    uint8_t *raw = malloc(64 + 64 + 64);
    memset(raw, 0xAB, 192);
    int *buf = (int *)(raw + 64);
    h_dev_free_all();
    h_bufs[0].mem = NULL;
    h_bufs[0].lo = (uint64_t)(uintptr_t)buf;
    h_bufs[0].hi = (uint64_t)(uintptr_t)buf + 64;
    h_nbufs = 1;
    struct h_params p;
    H_P(k, &p, 0, buf);
    H_P(k, &p, 1, 16u);
    assert_int_equal(h_launch_ex(m, "st", 1, 1, 32, 1, 1, 0, &p, 1, NULL), CUDA_SUCCESS);
    for (int i = 0; i < 16; i++) assert_int_equal(buf[i], i);
    memset(raw, 0xAB, 192);
    H_P(k, &p, 1, 20u); /* lanes 16..19 write past the end */
    assert_int_equal(h_launch_ex(m, "st", 1, 1, 32, 1, 1, 0, &p, 1, NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    assert_non_null(strstr(h_err, "not device memory"));
    for (int i = 0; i < 192; i++) assert_int_equal(raw[i], 0xAB); /* nothing written, inside or out */
    free(raw);
    h_bufs[0].mem = NULL;
    h_dev_free_all();
    ptx_module_free(m);
}

static void test_misaligned_and_spaces(void **state)
{
    (void)state;
    struct ptx_module *m = parse(
        ".visible .entry mis(.param .u64 p, .param .u32 mode)\n"
        "{\n"
        "  .reg .b32 %r<4>; .reg .b64 %rd<6>; .reg .pred %p<4>;\n"
        "  .shared .align 4 .b8 sh[64];\n"
        "  .local .align 4 .b8 lo[16];\n"
        "  ld.param.u64 %rd1, [p];\n"
        "  ld.param.u32 %r1, [mode];\n"
        "  setp.eq.u32 %p1, %r1, 0;\n"
        "  @%p1 st.global.u32 [%rd1+2], %r1;\n"
        "  setp.eq.u32 %p2, %r1, 1;\n"
        "  @%p2 st.shared.u32 [sh+64], %r1;\n"
        "  setp.eq.u32 %p3, %r1, 2;\n"
        "  @%p3 st.local.u32 [lo+16], %r1;\n"
        "  setp.eq.u32 %p1, %r1, 3;\n"
        "  @%p1 trap;\n"
        "  setp.eq.u32 %p1, %r1, 4;\n"
        "  @!%p1 bra END;\n"
        /* generic round trips: shared and local through cvta, then a generic store/load */
        "  mov.u64 %rd2, sh;\n"
        "  cvta.shared.u64 %rd3, %rd2;\n"
        "  st.u32 [%rd3+4], 77;\n"
        "  ld.shared.u32 %r2, [sh+4];\n"
        "  mov.u64 %rd4, lo;\n"
        "  cvta.local.u64 %rd5, %rd4;\n"
        "  st.u32 [%rd5], %r2;\n"
        "  ld.local.u32 %r3, [lo];\n"
        "  isspacep.shared %p2, %rd3;\n"
        "  selp.u32 %r2, 1000, 0, %p2;\n"
        "  add.u32 %r3, %r3, %r2;\n"
        "  st.global.u32 [%rd1], %r3;\n"
        "END:\n"
        "  ret;\n"
        "}\n");
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "mis");
    int *buf = h_dev(64);
    struct h_params p;
    H_P(k, &p, 0, buf);
    static const CUresult want[] = {CUDA_ERROR_MISALIGNED_ADDRESS, CUDA_ERROR_ILLEGAL_ADDRESS, CUDA_ERROR_ILLEGAL_ADDRESS,
                                    CUDA_ERROR_LAUNCH_FAILED, CUDA_SUCCESS};
    for (unsigned mode = 0; mode < 5; mode++) {
        H_P(k, &p, 1, mode);
        assert_int_equal(h_launch_ex(m, "mis", 2, 1, 64, 1, 1, 0, &p, 2, NULL), want[mode]);
    }
    assert_int_equal(buf[0], 1077);
    h_dev_free_all();
    ptx_module_free(m);
}

static void test_globals(void **state)
{
    (void)state;
    struct ptx_module *m = parse(
        ".global .align 4 .u32 tab[4] = {10, 20, 30, 40};\n"
        ".global .align 8 .u64 ptr = generic(tab)+8;\n"
        ".const .align 4 .f32 scale = 0f40000000;\n"
        ".visible .entry g(.param .u64 out)\n"
        "{\n"
        "  .reg .b32 %r<4>; .reg .b64 %rd<4>; .reg .f32 %f<3>;\n"
        "  ld.param.u64 %rd1, [out];\n"
        "  ld.global.u64 %rd2, [ptr];\n"
        "  ld.u32 %r1, [%rd2];\n"
        "  ld.const.f32 %f1, [scale];\n"
        "  cvt.rn.f32.u32 %f2, %r1;\n"
        "  mul.f32 %f2, %f2, %f1;\n"
        "  st.global.f32 [%rd1], %f2;\n"
        "  ld.global.u32 %r2, [tab+4];\n"
        "  st.global.u32 [%rd1+4], %r2;\n"
        "  ret;\n"
        "}\n");
    assert_int_equal(ptx_module_global_count(m), 3);
    uint64_t addrs[3];
    for (int i = 0; i < 3; i++) {
        struct ptx_global_info gi;
        ptx_module_global(m, i, &gi);
        void *mem = h_dev(gi.size);
        memcpy(mem, gi.init, gi.init_len);
        addrs[i] = (uint64_t)(uintptr_t)mem;
    }
    for (int i = 0; i < 3; i++) ptx_module_global_relocate(m, i, addrs, (void *)(uintptr_t)addrs[i]);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "g");
    float *out = h_dev(8);
    struct h_params p;
    H_P(k, &p, 0, out);
    assert_int_equal(h_launch_ex(m, "g", 1, 1, 1, 1, 1, 0, &p, 1, addrs), CUDA_SUCCESS);
    assert_true(out[0] == 60.0f);
    assert_int_equal(((int *)out)[1], 20);
    h_dev_free_all();
    ptx_module_free(m);
}

static void expect_bad(const char *text, CUresult want, const char *msg)
{
    struct ptx_module *m = NULL;
    char err[256];
    CUresult rc = ptx_module_parse(text, strlen(text), &m, err, sizeof err);
    if (rc != want) fail_msg("want %d got %d (%s) for:\n%s", want, rc, err, text);
    assert_null(m);
    if (!strstr(err, msg)) fail_msg("error '%s' lacks '%s'", err, msg);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_bad(".version 8.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n  frobnicate.u32 %r1;\n}\n",
               CUDA_ERROR_INVALID_PTX, "line 6: unknown instruction");
    expect_bad(".version 8.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n .reg .b32 %r<2>;\n  add.u32 %r1, %r7, 1;\n}\n",
               CUDA_ERROR_INVALID_PTX, "line 7");
    expect_bad(".version 8.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n  bra NOWHERE;\n}\n",
               CUDA_ERROR_INVALID_PTX, "undefined label");
    expect_bad(".version 8.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n .reg .b32 %r<2>;\n  mov.u32 %r1, 1\n  ret;\n}\n",
               CUDA_ERROR_INVALID_PTX, "line 8: expected ';'");
    expect_bad(".version 10.0\n.target sm_75\n", CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "line 1");
    expect_bad(".version 8.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n .reg .b32 %r<2>;\n  add.wat.u32 %r1, %r1, 1;\n}\n",
               CUDA_ERROR_INVALID_PTX, "unsupported modifier '.wat'");
    expect_bad(".version 8.0\n.target sm_75\n.address_size 64\n.visible .entry k(\n", CUDA_ERROR_INVALID_PTX, "line");
    expect_bad("", CUDA_ERROR_INVALID_PTX, "");
    /* variable attributes: .managed on .global only; no .unified memory */
    expect_bad(".version 8.0\n.target sm_75\n.address_size 64\n.global .attribute(.unified(1, 2)) .u32 x;\n",
               CUDA_ERROR_INVALID_PTX, "unsupported variable attribute '.unified'");
    expect_bad(".version 8.0\n.target sm_75\n.address_size 64\n.const .attribute(.managed) .u32 x;\n",
               CUDA_ERROR_INVALID_PTX, ".attribute(.managed) outside .global");
}

/* A kernel that never ends is stopped by max_instructions (the fuzz
 * harness's watchdog); one that ends under the limit is not. */
static void test_instruction_limit(void **state)
{
    (void)state;
    struct ptx_module *m = parse(".visible .entry spin(.param .u32 n)\n"
                                 "{\n"
                                 "  .reg .b32 %r<3>; .reg .pred %p1;\n"
                                 "  ld.param.u32 %r1, [n];\n"
                                 "  mov.u32 %r2, 0;\n"
                                 "LOOP:\n"
                                 "  add.u32 %r2, %r2, 1;\n"
                                 "  setp.ne.u32 %p1, %r2, %r1;\n"
                                 "  @%p1 bra LOOP;\n"
                                 "  ret;\n"
                                 "}\n");
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "spin");
    h_dev_free_all();
    unsigned n = 1000; /* ~3000 warp-instructions per warp */
    char err[256];
    struct ptx_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = k;
    l.grid[0] = 2;
    l.grid[1] = l.grid[2] = 1;
    l.block[0] = 64;
    l.block[1] = l.block[2] = 1;
    l.params = &n;
    l.memory.valid = h_valid;
    l.host_threads = 2;
    l.errbuf = err;
    l.errlen = sizeof err;
    l.max_instructions = 100000;
    assert_int_equal(ptx_launch_run(&l), CUDA_SUCCESS);
    n = 0; /* counts up until it wraps: 2^32 turns */
    assert_int_equal(ptx_launch_run(&l), CUDA_ERROR_LAUNCH_TIMEOUT);
    assert_non_null(strstr(err, "100000 warp-instructions"));
    ptx_module_free(m);
}

/* A function declared again after its definition (legal PTX): the
 * declaration's parameters were freed while the parser's symbol table still
 * named them, and the next function read them (found by fuzz_ptx). */
static void test_declared_after_definition(void **state)
{
    (void)state;
    struct ptx_module *m = parse(".func f(.param .u32 a)\n{\n  ret;\n}\n"
                                 ".func f(.param .u32 b);\n"
                                 ".visible .entry g()\n{\n  call f, (0);\n  ret;\n}\n");
    assert_non_null(ptx_module_find_kernel(m, "g"));
    ptx_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oob_store),
        cmocka_unit_test(test_misaligned_and_spaces),
        cmocka_unit_test(test_globals),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_instruction_limit),
        cmocka_unit_test(test_declared_after_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
