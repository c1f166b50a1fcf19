/*
 * system.c — the CUDA driver version, from the WELCOME snapshot (the
 * server driver's, as libcuda reports it). The NVIDIA driver and NVML
 * version strings are remoted rows (stubs.c).
 */
#include "nvml_client.h"

RGPU_NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
    nvmlReturn_t r = rgpu_nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!cudaDriverVersion)
        return NVML_ERROR_INVALID_ARGUMENT;
    const struct rgpu_welcome *w = rgpu_nvml_welcome();
    if (!w)
        return NVML_ERROR_DRIVER_NOT_LOADED;
    *cudaDriverVersion = w->driver_version;
    return NVML_SUCCESS;
}

RGPU_NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    return nvmlSystemGetCudaDriverVersion(cudaDriverVersion);
}
