/*
 * errors.c — cuGetErrorName and cuGetErrorString for every CUresult.
 *
 * The table is the RGPU_ERROR section of driver_tables.inc, generated from
 * cuda.h's enum cudaError_enum; the texts are the phrases NVIDIA's libraries
 * print ("invalid argument", not the enum's doc comment), because programs and
 * tests match on them. Pure lookups on constant data: they work before cuInit
 * and after the server is gone, which is exactly when callers need them.
 */
#include "client.h"

#include <stddef.h>

/* The generated value must still be the enum's: catches a table generated
 * from one toolkit and compiled against another. */
#define RGPU_ERROR(name, value, text) _Static_assert((name) == (value), #name " changed value");
#include "driver_tables.inc"
#undef RGPU_ERROR

RGPU_API CUresult cuGetErrorName(CUresult error, const char **pStr)
{
    if (pStr == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    /* A switch on the enum constants: the compiler checks every name exists
     * and builds its own jump table/binary search over the sparse values. */
    switch (error) {
#define RGPU_ERROR(name, value, text)                                                              \
    case name:                                                                                     \
        *pStr = #name;                                                                             \
        return CUDA_SUCCESS;
#include "driver_tables.inc"
#undef RGPU_ERROR
    }
    *pStr = NULL; /* not a CUresult: cuda.h documents NULL and INVALID_VALUE */
    return CUDA_ERROR_INVALID_VALUE;
}

RGPU_API CUresult cuGetErrorString(CUresult error, const char **pStr)
{
    if (pStr == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    switch (error) {
#define RGPU_ERROR(name, value, text)                                                              \
    case name:                                                                                     \
        *pStr = text;                                                                              \
        return CUDA_SUCCESS;
#include "driver_tables.inc"
#undef RGPU_ERROR
    }
    *pStr = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}
