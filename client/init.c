/*
 * init.c — cuInit and cuDriverGetVersion.
 *
 * cudart asks for the driver version before cuInit, so both open the
 * connection (once). The version is the server driver's: with the NVIDIA
 * backend the real driver's, with the CPU device 13000. When no server can be
 * reached, cuDriverGetVersion reports the API version this client implements
 * and cuInit fails with CUDA_ERROR_NO_DEVICE after saying why on stderr.
 */
#include "conn.h"
#include "context.h"

/* Lets rgpud refuse to load this library as "the NVIDIA driver". */
RGPU_API const char rgpu_client_marker[] = "rgpu client driver";

RGPU_API CUresult cuInit(unsigned int Flags)
{
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    return rgpu_conn_open();
}

RGPU_API CUresult cuDriverGetVersion(int *driverVersion)
{
    if (!driverVersion)
        return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = rgpu_conn_open() == CUDA_SUCCESS ? rgpu_conn_welcome()->driver_version : CUDA_VERSION;
    return CUDA_SUCCESS;
}
