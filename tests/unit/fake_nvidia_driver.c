/*
 * fake_nvidia_driver.c — a stand-in for NVIDIA's libcuda.so.1 for
 * test_backend_nvidia: every driver row of calls.def exported under its ABI
 * name, returning CUDA_ERROR_UNKNOWN, as a driver for CUDA 12.4 would have
 * them: cuEventElapsedTime_v2 (CUDA 12.8) is missing and only the older
 * cuEventElapsedTime is there, and cuKernelGetLibrary (CUDA 12.5) is missing
 * with nothing to stand in for it. Built with FAKE_CUDA_12_2 it also lacks what
 * CUDA 12.3 and 12.4 added, cuFuncGetParamInfo among them.
 */
#include "calls.h"

/* Rows this driver lacks: their definitions get other names. */
#define cuEventElapsedTime_v2 absent_cuEventElapsedTime_v2
#define cuKernelGetLibrary absent_cuKernelGetLibrary
#define cuDriverGetVersion replaced_cuDriverGetVersion
#ifdef FAKE_CUDA_12_2
#define cuFuncGetParamInfo absent_cuFuncGetParamInfo
#define cuFuncGetName absent_cuFuncGetName
#define FAKE_VERSION 12020
#else
#define FAKE_VERSION 12040
#endif

#define RGPU_CALL(name, kind, ...)                                                                 \
    RGPU_IF(RGPU_K(DRIVER, kind))(                                                                 \
        __attribute__((visibility("default"))) CUresult name(RGPU_PARAMS(__VA_ARGS__)) { return CUDA_ERROR_UNKNOWN; })
#include "calls.def"
#undef RGPU_CALL

__attribute__((visibility("default"))) CUresult fake_driver_version(int *v) __asm__("cuDriverGetVersion");
CUresult fake_driver_version(int *v)
{
    *v = FAKE_VERSION;
    return CUDA_SUCCESS;
}

/* Tells the test that it was this one that ran. */
__attribute__((visibility("default"))) CUresult fake_elapsed_v1(float *ms, CUevent a, CUevent b)
    __asm__("cuEventElapsedTime");
CUresult fake_elapsed_v1(float *ms, CUevent a, CUevent b)
{
    *ms = 12.5f;
    return CUDA_SUCCESS;
}
