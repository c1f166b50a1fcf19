/*
 * test_backend_nvidia.c — how rgpud's nvidia backend takes a driver
 * (server/backend_nvidia.c), with stand-ins for NVIDIA's libcuda.so.1
 * (fake_nvidia_driver.c): a driver for CUDA 12.4 serves, its older
 * cuEventElapsedTime standing in for cuEventElapsedTime_v2 and the CUDA 12.5
 * cuKernelGetLibrary answering CUDA_ERROR_NOT_SUPPORTED; a driver for
 * CUDA 12.2 is refused with a message that names what it lacks, its version
 * and the version needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"

static void driver_of_cuda_12_4_serves(void **state)
{
    (void)state;
    struct rgpu_backend be;
    char err[256] = "";
    setenv("RGPU_NVIDIA_LIB", FAKE_DRIVER_12_4, 1);
    assert_true(rgpu_backend_nvidia(&be, err, sizeof err));
    assert_string_equal(be.name, "nvidia");
    float ms = 0;
    assert_int_equal(be.cuEventElapsedTime_v2(&ms, NULL, NULL), CUDA_SUCCESS);
    assert_true(ms == 12.5f); /* the fake's cuEventElapsedTime ran */
    assert_int_equal(be.cuFuncGetParamInfo(NULL, 0, NULL, NULL), CUDA_ERROR_UNKNOWN);
    /* newer than the driver, with no older stand-in: served, but unsupported */
    CUlibrary lib = NULL;
    assert_int_equal(be.cuKernelGetLibrary(&lib, NULL), CUDA_ERROR_NOT_SUPPORTED);
}

static void driver_of_cuda_12_2_is_refused(void **state)
{
    (void)state;
    struct rgpu_backend be;
    char err[256] = "";
    setenv("RGPU_NVIDIA_LIB", FAKE_DRIVER_12_2, 1);
    assert_false(rgpu_backend_nvidia(&be, err, sizeof err));
    assert_non_null(strstr(err, "CUDA 12.2"));
    assert_non_null(strstr(err, "lacks cuFunc"));
    assert_non_null(strstr(err, "CUDA 12.4 or newer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(driver_of_cuda_12_4_serves),
        cmocka_unit_test(driver_of_cuda_12_2_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
