/*
 * test_handles.c — server/handles.c: a context's streams are found (its own
 * and per-thread ones, nobody else's), and forgotten with every way a handle
 * goes: destroyed, its context destroyed (also through a module it owns),
 * its address reused for another kind of handle; and what each kind of
 * handle takes with it when it goes; what is remembered of a function's
 * parameters. A stale stream handed to
 * the NVIDIA driver's cuStreamQuery (idle.c asks for a context's streams on
 * every cuCtxSynchronize) would be a use after free in the driver.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "handles.h"

#define H(x) ((void *)(uintptr_t)(x))

static struct handles hs;

static int streams_of(uintptr_t ctx, CUstream *out, int max) { return handles_streams(&hs, (CUcontext)H(ctx), out, max); }

static bool has_stream(uintptr_t ctx, uintptr_t s)
{
    CUstream out[64];
    int n = streams_of(ctx, out, 64);
    for (int i = 0; i < n && i < 64; i++)
        if (out[i] == (CUstream)H(s))
            return true;
    return false;
}

static void test_streams_of_a_context(void **state)
{
    (void)state;
    handles_init(&hs);
    handles_add(&hs, HT_CTX, H(0x1000), (CUcontext)H(0x1000));
    handles_add(&hs, HT_CTX, H(0x2000), (CUcontext)H(0x2000));
    handles_add(&hs, HT_STREAM, H(0x1100), (CUcontext)H(0x1000));
    handles_add(&hs, HT_STREAM, H(0x1200), (CUcontext)H(0x1000));
    handles_add(&hs, HT_EVENT, H(0x1300), (CUcontext)H(0x1000));
    handles_add(&hs, HT_STREAM, H(0x2100), (CUcontext)H(0x2000));
    handles_add_per_thread(&hs, (CUstream)H(0x1400), 7, (CUcontext)H(0x1000));
    /* many functions of a module: not streams */
    handles_add(&hs, HT_MODULE, H(0x1500), (CUcontext)H(0x1000));
    for (uintptr_t f = 0; f < 3000; f++)
        handles_add(&hs, HT_FUNC, H(0x100000 + 16 * f), (CUcontext)H(0x1500));

    CUstream out[2];
    assert_int_equal(streams_of(0x1000, out, 2), 3); /* how many, though only 2 fit */
    assert_true(has_stream(0x1000, 0x1100));
    assert_true(has_stream(0x1000, 0x1200));
    assert_true(has_stream(0x1000, 0x1400));
    assert_false(has_stream(0x1000, 0x2100));
    assert_false(has_stream(0x1000, 0x1300));
    assert_int_equal(streams_of(0x2000, out, 2), 1);
    assert_ptr_equal(out[0], H(0x2100));
    assert_int_equal(streams_of(0x3000, out, 2), 0);
    assert_ptr_equal(handles_per_thread(&hs, 7, (CUcontext)H(0x1000)), H(0x1400));
}

static void test_streams_forgotten(void **state)
{
    (void)state;
    CUstream out[8];
    handles_del(&hs, H(0x1100));
    assert_false(has_stream(0x1000, 0x1100));
    assert_false(handles_has(&hs, HT_STREAM, H(0x1100)));
    assert_int_equal(streams_of(0x1000, out, 8), 2);

    /* destroyed the way rgpud forgets a destroyed handle (with what it owns) */
    handles_add(&hs, HT_STREAM, H(0x1600), (CUcontext)H(0x1000));
    handles_del_tree(&hs, H(0x1600));
    assert_false(has_stream(0x1000, 0x1600));
    assert_false(handles_has(&hs, HT_STREAM, H(0x1600)));

    /* an address reused: once a stream, now an event */
    handles_add(&hs, HT_EVENT, H(0x1200), (CUcontext)H(0x1000));
    assert_false(has_stream(0x1000, 0x1200));
    assert_true(handles_has(&hs, HT_EVENT, H(0x1200)));
    /* and a stream again, of another context */
    handles_add(&hs, HT_STREAM, H(0x1200), (CUcontext)H(0x2000));
    assert_false(has_stream(0x1000, 0x1200));
    assert_true(has_stream(0x2000, 0x1200));

    /* a module's teardown leaves the context's streams alone */
    handles_del_tree(&hs, H(0x1500));
    assert_false(handles_has(&hs, HT_FUNC, H(0x100000)));
    assert_true(has_stream(0x1000, 0x1400));

    /* a context destroyed takes its streams, per-thread ones included */
    handles_drop_owned(&hs, (CUcontext)H(0x1000), true);
    assert_int_equal(streams_of(0x1000, out, 8), 0);
    assert_false(handles_has(&hs, HT_CTX, H(0x1000)));
    assert_null(handles_per_thread(&hs, 7, (CUcontext)H(0x1000)));
    assert_int_equal(streams_of(0x2000, out, 8), 2);

    /* a context reset (primary context: the handle stays) takes them too */
    handles_drop_owned(&hs, (CUcontext)H(0x2000), false);
    assert_int_equal(streams_of(0x2000, out, 8), 0);
    assert_true(handles_has(&hs, HT_CTX, H(0x2000)));
}

/* what owns what: a library its kernels, a kernel its per-context
 * functions, a graph its nodes; forgetting a handle that owns nothing leaves
 * everything else */
static void test_ownership(void **state)
{
    (void)state;
    handles_add(&hs, HT_CTX, H(0x5000), (CUcontext)H(0x5000));
    handles_add(&hs, HT_LIBRARY, H(0x5100), NULL);
    handles_add(&hs, HT_KERNEL, H(0x5110), (CUcontext)H(0x5100));
    handles_add(&hs, HT_FUNC, H(0x5111), (CUcontext)H(0x5110));
    handles_add(&hs, HT_GRAPH, H(0x5200), NULL);
    handles_add(&hs, HT_GNODE, H(0x5210), (CUcontext)H(0x5200));
    handles_add(&hs, HT_EVENT, H(0x5300), (CUcontext)H(0x5000));
    handles_add(&hs, HT_FUNC, H(0x5400), (CUcontext)H(0x5000));

    handles_del_tree(&hs, H(0x5300)); /* an event */
    assert_false(handles_has(&hs, HT_EVENT, H(0x5300)));
    handles_del_tree(&hs, H(0x5400)); /* a function */
    assert_false(handles_has(&hs, HT_FUNC, H(0x5400)));
    handles_del_tree(&hs, H(0x5210)); /* a node */
    assert_false(handles_has(&hs, HT_GNODE, H(0x5210)));
    assert_true(handles_has(&hs, HT_GRAPH, H(0x5200)));
    assert_true(handles_has(&hs, HT_KERNEL, H(0x5110)));
    assert_true(handles_has(&hs, HT_FUNC, H(0x5111)));
    assert_true(handles_has(&hs, HT_CTX, H(0x5000)));

    handles_add(&hs, HT_GNODE, H(0x5220), (CUcontext)H(0x5200));
    handles_del_tree(&hs, H(0x5200));
    assert_false(handles_has(&hs, HT_GNODE, H(0x5220)));
    handles_del_tree(&hs, H(0x5100));
    assert_false(handles_has(&hs, HT_KERNEL, H(0x5110)));
    assert_false(handles_has(&hs, HT_FUNC, H(0x5111)));
    assert_true(handles_has(&hs, HT_CTX, H(0x5000)));
}

static void test_many_streams_come_and_go(void **state)
{
    (void)state;
    CUstream out[4];
    handles_add(&hs, HT_CTX, H(0x9000), (CUcontext)H(0x9000));
    for (uintptr_t i = 0; i < 100000; i++) {
        handles_add(&hs, HT_STREAM, H(0x10000000 + 64 * (i % 1000)), (CUcontext)H(0x9000));
        handles_del(&hs, H(0x10000000 + 64 * (i % 1000)));
    }
    handles_add(&hs, HT_STREAM, H(0x9100), (CUcontext)H(0x9000));
    assert_int_equal(streams_of(0x9000, out, 4), 1);
    assert_ptr_equal(out[0], H(0x9100));
}

/* What rgpud remembers of a function's parameters (modules_check_params):
 * only for functions and kernels, 0 bytes distinct from not yet known, and
 * forgotten when the handle is filed anew (a reused address). */
static void test_param_bytes(void **state)
{
    (void)state;
    uint32_t n = 77;
    handles_add(&hs, HT_CTX, H(0xa000), (CUcontext)H(0xa000));
    handles_add(&hs, HT_FUNC, H(0xa100), (CUcontext)H(0xa000));
    handles_add(&hs, HT_KERNEL, H(0xa200), NULL);
    handles_add(&hs, HT_STREAM, H(0xa300), (CUcontext)H(0xa000));
    assert_false(handles_param_bytes(&hs, H(0xa100), &n));
    handles_set_param_bytes(&hs, H(0xa100), 0);
    assert_true(handles_param_bytes(&hs, H(0xa100), &n));
    assert_int_equal(n, 0);
    handles_set_param_bytes(&hs, H(0xa200), 4096);
    assert_true(handles_param_bytes(&hs, H(0xa200), &n));
    assert_int_equal(n, 4096);
    handles_set_param_bytes(&hs, H(0xa300), 8); /* a stream's tid is its client thread's */
    assert_false(handles_param_bytes(&hs, H(0xa300), &n));
    assert_false(handles_param_bytes(&hs, H(0xa400), &n));
    handles_add(&hs, HT_FUNC, H(0xa100), (CUcontext)H(0xa000));
    assert_false(handles_param_bytes(&hs, H(0xa100), &n));
    handles_drop_owned(&hs, (CUcontext)H(0xa000), true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_of_a_context),
        cmocka_unit_test(test_streams_forgotten),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_many_streams_come_and_go),
        cmocka_unit_test(test_param_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
