/*
 * copy.h — copy helpers shared by the entry points and their _ptds/_ptsz
 * variants (which differ only in the stream they use).
 */
#ifndef RGPU_CLIENT_COPY_H
#define RGPU_CLIENT_COPY_H

#include "client.h"

CUresult rgpu_htod(CUdeviceptr dst, const void *src, size_t n, CUstream s);
CUresult rgpu_dtoh(void *dst, CUdeviceptr src, size_t n, CUstream s);
CUresult rgpu_copy_sync_htod(CUdeviceptr dst, const void *src, size_t n, CUstream s);
CUresult rgpu_copy_sync_dtoh(void *dst, CUdeviceptr src, size_t n, CUstream s);
CUresult rgpu_copy_sync_dtod(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s);
CUresult rgpu_memcpy_any(void *dst, const void *src, size_t n, CUstream s, bool sync);
CUresult rgpu_memcpy2d(const CUDA_MEMCPY2D *c, CUstream s, bool sync);
/* The same, with an array side at slice srcZ / dstZ of a 3D array. */
CUresult rgpu_memcpy2d_z(const CUDA_MEMCPY2D *c, uint32_t srcZ, uint32_t dstZ, CUstream s, bool sync);

#endif
