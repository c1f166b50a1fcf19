/*
 * test_ptx_link.c — archive semantics in the PTX linker (ptx_link): an input
 * marked as an archive member is linked only when it defines something the
 * inputs already linked reference with .extern (repeatedly: a member pulled
 * in may need another), else left out with a note in the log; an input that
 * is not a member is always linked, so its undefined references fail the
 * link. The linked module is parsed and its kernel run, results checked on
 * the host. Hand-written PTX in the shape of nvcc -rdc=true output; the
 * unneeded member references a device-runtime call as libcudadevrt's does.
 */
#include "ptx_kernels/harness.h"

#define HEAD ".version 7.0\n.target sm_75\n.address_size 64\n"

/* the program: out[t] = twice(t) + bias */
static const char prog[] = HEAD
    ".extern .func (.param .b32 r) twice(.param .b32 x);\n"
    ".extern .global .align 4 .u32 bias;\n"
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .b32 %r<4>;\n  .reg .b64 %rd<3>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  cvta.to.global.u64 %rd1, %rd1;\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  {\n  .param .b32 p0;\n  st.param.b32 [p0], %r1;\n  .param .b32 r0;\n"
    "  call.uni (r0), twice, (p0);\n  ld.param.b32 %r2, [r0];\n  }\n"
    "  ld.global.u32 %r3, [bias];\n"
    "  add.s32 %r2, %r2, %r3;\n"
    "  mul.wide.u32 %rd2, %r1, 4;\n"
    "  add.s64 %rd2, %rd1, %rd2;\n"
    "  st.global.u32 [%rd2], %r2;\n"
    "  ret;\n"
    "}\n";

/* twice(x) = dbl(x): needs dbl from another member */
static const char m_twice[] = HEAD
    ".extern .func (.param .b32 r) dbl(.param .b32 x);\n"
    ".visible .func (.param .b32 r) twice(.param .b32 x)\n"
    "{\n  .reg .b32 %r<3>;\n  ld.param.b32 %r1, [x];\n"
    "  {\n  .param .b32 p0;\n  st.param.b32 [p0], %r1;\n  .param .b32 r0;\n"
    "  call.uni (r0), dbl, (p0);\n  ld.param.b32 %r2, [r0];\n  }\n"
    "  st.param.b32 [r], %r2;\n  ret;\n}\n";

/* dbl, which only twice's member needs */
static const char m_dbl[] = HEAD
    ".visible .func (.param .b32 r) dbl(.param .b32 x)\n"
    "{\n  .reg .b32 %r<3>;\n  ld.param.b32 %r1, [x];\n  add.s32 %r2, %r1, %r1;\n"
    "  st.param.b32 [r], %r2;\n  ret;\n}\n";

static const char m_bias[] = HEAD ".visible .global .align 4 .u32 bias = 5;\n";

/* another twice (x * 3): the first member that defines twice wins, this one
 * is not needed once it is there */
static const char m_twice_other[] = HEAD
    ".visible .func (.param .b32 r) twice(.param .b32 x)\n"
    "{\n  .reg .b32 %r<3>;\n  ld.param.b32 %r1, [x];\n  mul.lo.s32 %r2, %r1, 3;\n"
    "  st.param.b32 [r], %r2;\n  ret;\n}\n";

/* like libcudadevrt's object: its own kernel and functions, and a call of
 * something only the real device runtime provides */
static const char m_devrt[] = HEAD
    ".extern .func (.param .b32 r) cnpGetLimit(.param .b64 p, .param .b32 l);\n"
    ".visible .global .align 4 .u32 __CNPRT_VERSION_NUMBER__ = 6000;\n"
    ".entry devrt_kernel()\n{\n  ret;\n}\n"
    ".visible .func (.param .b32 r) cudaDeviceGetLimit(.param .b64 p, .param .b32 l)\n"
    "{\n  .reg .b32 %r<3>;\n  .reg .b64 %rd<2>;\n  ld.param.b64 %rd1, [p];\n  ld.param.b32 %r1, [l];\n"
    "  {\n  .param .b64 p0;\n  st.param.b64 [p0], %rd1;\n  .param .b32 p1;\n  st.param.b32 [p1], %r1;\n"
    "  .param .b32 r0;\n  call.uni (r0), cnpGetLimit, (p0, p1);\n  ld.param.b32 %r2, [r0];\n  }\n"
    "  st.param.b32 [r], %r2;\n  ret;\n}\n";

#define IN(text, name, member) {text, sizeof text - 1, name, member}

static char logbuf[4096];

/* link, parse, run k over 64 threads and check out[t] == mul * t + 5 */
static void link_and_run(const struct ptx_link_input *in, int n, int mul)
{
    char *out = NULL;
    size_t len = 0;
    CUresult r = ptx_link(in, n, &out, &len, logbuf, sizeof logbuf);
    if (r != CUDA_SUCCESS)
        fail_msg("ptx_link: %d\n%s", r, logbuf);
    struct ptx_module *m = NULL;
    char err[512];
    r = ptx_module_parse(out, len, &m, err, sizeof err);
    if (r != CUDA_SUCCESS)
        fail_msg("parse of the linked module: %d %s\n%s", r, err, out);
    int *o = h_dev(64 * sizeof(int));
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "k");
    assert_non_null(k);
    struct h_params p;
    H_P(k, &p, 0, o);
    h_launch(m, "k", 1, 64, &p);
    for (int t = 0; t < 64; t++)
        if (o[t] != mul * t + 5)
            fail_msg("out[%d] = %d, want %d", t, o[t], mul * t + 5);
    assert_null(ptx_module_find_kernel(m, "devrt_kernel")); /* the member's kernel went with it */
    ptx_module_free(m);
    h_dev_free_all();
    free(out);
}

static void test_unneeded_member_dropped(void **state)
{
    (void)state;
    /* dbl comes before twice, which needs it: only a second round finds it */
    struct ptx_link_input in[] = {IN(m_devrt, "devrt", true), IN(prog, "prog", false), IN(m_dbl, "dbl", true),
                                  IN(m_twice, "twice", true), IN(m_bias, "bias", true)};
    link_and_run(in, 5, 2);
    assert_non_null(strstr(logbuf, "archive member 'devrt' left out"));
    assert_null(strstr(logbuf, "'twice' left out"));
    assert_null(strstr(logbuf, "'dbl' left out"));
    assert_null(strstr(logbuf, "'bias' left out"));
}

static void test_first_member_wins(void **state)
{
    (void)state;
    /* twice_other is scanned first: it provides twice; m_twice then is not
     * needed, and neither is dbl (only m_twice wanted it) */
    struct ptx_link_input in[] = {IN(prog, "prog", false), IN(m_twice_other, "twice3", true),
                                  IN(m_twice, "twice", true), IN(m_dbl, "dbl", true), IN(m_devrt, "devrt", true),
                                  IN(m_bias, "bias", true)};
    link_and_run(in, 6, 3);
    assert_non_null(strstr(logbuf, "archive member 'twice' left out"));
    assert_non_null(strstr(logbuf, "archive member 'dbl' left out"));
    assert_null(strstr(logbuf, "'bias' left out"));
}

static void test_object_always_linked(void **state)
{
    (void)state;
    /* the same object not marked as a member: its reference must resolve */
    struct ptx_link_input in[] = {IN(prog, "prog", false), IN(m_twice, "twice", true), IN(m_dbl, "dbl", true),
                                  IN(m_bias, "bias", true), IN(m_devrt, "devrt", false)};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(ptx_link(in, 5, &out, &len, logbuf, sizeof logbuf), CUDA_ERROR_INVALID_PTX);
    assert_null(out);
    assert_non_null(strstr(logbuf, "Undefined reference to 'cnpGetLimit' in 'devrt'"));
}

static void test_missing_member_is_undefined(void **state)
{
    (void)state;
    /* twice's member needs dbl, which no input defines */
    struct ptx_link_input in[] = {IN(prog, "prog", false), IN(m_twice, "twice", true),
                                  IN(m_devrt, "devrt", true)};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(ptx_link(in, 3, &out, &len, logbuf, sizeof logbuf), CUDA_ERROR_INVALID_PTX);
    assert_non_null(strstr(logbuf, "Undefined reference to 'dbl' in 'twice'"));
    assert_non_null(strstr(logbuf, "Undefined reference to 'bias' in 'prog'"));
}

static void test_only_members(void **state)
{
    (void)state;
    struct ptx_link_input in[] = {IN(m_dbl, "dbl", true), IN(m_devrt, "devrt", true)};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(ptx_link(in, 2, &out, &len, logbuf, sizeof logbuf), CUDA_ERROR_INVALID_VALUE);
    assert_null(out);
    assert_non_null(strstr(logbuf, "nothing to link"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unneeded_member_dropped),
        cmocka_unit_test(test_first_member_wins),
        cmocka_unit_test(test_object_always_linked),
        cmocka_unit_test(test_missing_member_is_undefined),
        cmocka_unit_test(test_only_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
