/*
 * cuda_api.h — the one way rgpu includes cuda.h.
 *
 * __CUDA_API_VERSION_INTERNAL makes cuda.h declare every ABI variant under its
 * real symbol name (cuMemAlloc and cuMemAlloc_v2, cuMemcpy and cuMemcpy_ptds,
 * ...) instead of renaming calls with macros, so rgpu can define and forward
 * each exported symbol by name, type-checked against NVIDIA's prototypes.
 */
#ifndef RGPU_WIRE_CUDA_API_H
#define RGPU_WIRE_CUDA_API_H
#ifndef __CUDA_API_VERSION_INTERNAL
#define __CUDA_API_VERSION_INTERNAL 1
#endif
#include <cuda.h>
#include <cudaProfiler.h> /* cuProfilerStart/Stop, which cuda.h does not declare */
#endif
