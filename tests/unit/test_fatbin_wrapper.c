/*
 * test_fatbin_wrapper.c — the __fatBinC_Wrapper_t exactly as cudart receives
 * it. This program links kernel.o, a host object nvcc built from the test
 * kernel (fatbin.cmake: compute_75 PTX + sm_90 SASS). Its static constructor
 * registers its module by calling __cudaRegisterFatBinary(&wrapper) before
 * main; the stubs below stand in for cudart and keep that pointer, and the
 * parser must then find the module's entries through it with no length given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fatbin.h"

/* ---- cudart stand-ins (C linkage, as host_runtime.h declares them) ------------------------ */

static void *registered_wrapper;
static void *registered_handle[1];
static char registered_kernel[64];

void **__cudaRegisterFatBinary(void *fat_cubin)
{
    registered_wrapper = fat_cubin;
    return registered_handle;
}

void __cudaRegisterFatBinaryEnd(void **handle) {}
void __cudaUnregisterFatBinary(void **handle) {}
char __cudaInitModule(void **handle) { return 0; }

void __cudaRegisterFunction(void **handle, const char *host_fun, char *device_fun,
                            const char *device_name, int thread_limit, void *tid, void *bid,
                            void *bdim, void *gdim, int *wsize)
{
    strncpy(registered_kernel, device_name, sizeof registered_kernel - 1);
}

/* Referenced by the kernel's host-side launch stub, which the test never calls. */
int __cudaPopCallConfiguration(void *grid, void *block, size_t *shmem, void *stream) { return 1; }
int __cudaGetKernel(void **kernel, const void *fun) { return 1; }
int __cudaLaunchKernel(void) { return 1; }

/* ---- tests ------------------------------------------------------------------------------ */

static void wrapper_registered_by_nvcc_object(void **state)
{
    assert_non_null(registered_wrapper);
    assert_string_equal(registered_kernel, "axpy");
    assert_int_equal(fatbin_classify(registered_wrapper, FATBIN_LEN_UNKNOWN), FATBIN_IMAGE_WRAPPER);
    const uint32_t *w = registered_wrapper;
    assert_int_equal(w[0], FATBIN_WRAPPER_MAGIC);
    assert_int_equal(w[1], 1); /* a whole-program (non -rdc) module */
}

static void wrapper_leads_to_entries(void **state)
{
    char err[256] = "";
    const void *data;
    size_t len, n;
    struct fatbin_entry *e;
    assert_int_equal(fatbin_span(registered_wrapper, FATBIN_LEN_UNKNOWN, &data, &len, err,
                                 sizeof err), 0);
    assert_int_equal(fatbin_classify(data, len), FATBIN_IMAGE_FATBIN);
    assert_true(len > 16);

    /* The bytes a client would ship parse the same with their length known. */
    assert_int_equal(fatbin_parse(data, len, &e, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    free(e);

    assert_int_equal(fatbin_parse(registered_wrapper, FATBIN_LEN_UNKNOWN, &e, &n, err, sizeof err),
                     0);
    assert_int_equal(n, 2);
    int ptx = e[0].kind == FATBIN_KIND_PTX ? 0 : 1;
    assert_int_equal(e[ptx].kind, FATBIN_KIND_PTX);
    assert_int_equal(e[ptx].arch, 75);
    assert_int_equal(e[1 - ptx].kind, FATBIN_KIND_ELF);
    assert_int_equal(e[1 - ptx].arch, 90);
    assert_ptr_equal(fatbin_pick_ptx(e, n, 120), &e[ptx]);
    assert_null(fatbin_pick_ptx(e, n, 70));

    void *text;
    size_t tlen;
    assert_int_equal(fatbin_extract(&e[ptx], &text, &tlen, err, sizeof err), 0);
    assert_non_null(strstr(text, ".entry axpy"));
    unsigned arch;
    assert_int_equal(fatbin_ptx_target(text, tlen, NULL, NULL, &arch, NULL), 0);
    assert_int_equal(arch, 75);
    free(text);
    free(e);

    /* Known length: the wrapper's pointer is not followed. */
    assert_int_equal(fatbin_parse(registered_wrapper, 24, &e, &n, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrapper_registered_by_nvcc_object),
        cmocka_unit_test(wrapper_leads_to_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
