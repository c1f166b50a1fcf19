/*
 * copy_array.c — the copies that name a CUDA array by a byte offset
 * (cuMemcpyHtoA, AtoH, DtoA, AtoD, AtoA and the asynchronous and per-thread
 * forms): one row of a 2D copy each (copy.c), so they travel, wait and fail
 * as 2D copies with array sides do. The offset counts bytes into the
 * array's first row.
 */
#include "copy.h"
#include "handles.h"

/* One row of `n` bytes from src to dst, each side an array (at offset `off`),
 * device memory or host memory. */
static CUresult row(CUmemorytype st, CUarray sa, size_t soff, CUdeviceptr sd, const void *sh, CUmemorytype dt,
                    CUarray da, size_t doff, CUdeviceptr dd, void *dh, size_t n, CUstream s, bool sync)
{
    CUDA_MEMCPY2D c = {.srcXInBytes = st == CU_MEMORYTYPE_ARRAY ? soff : 0, .srcMemoryType = st, .srcHost = sh,
                       .srcDevice = sd, .srcArray = sa, .srcPitch = n,
                       .dstXInBytes = dt == CU_MEMORYTYPE_ARRAY ? doff : 0, .dstMemoryType = dt, .dstHost = dh,
                       .dstDevice = dd, .dstArray = da, .dstPitch = n, .WidthInBytes = n, .Height = 1};
    return rgpu_memcpy2d(&c, s, sync);
}

#define ARRAY CU_MEMORYTYPE_ARRAY
#define DEVICE CU_MEMORYTYPE_DEVICE
#define HOST CU_MEMORYTYPE_HOST

RGPU_API CUresult cuMemcpyHtoA_v2(CUarray dstArray, size_t dstOffset, const void *srcHost, size_t ByteCount)
{
    return row(HOST, NULL, 0, 0, srcHost, ARRAY, dstArray, dstOffset, 0, NULL, ByteCount, CU_STREAM_LEGACY, true);
}
RGPU_API CUresult cuMemcpyHtoAAsync_v2(CUarray dstArray, size_t dstOffset, const void *srcHost, size_t ByteCount,
                                       CUstream hStream)
{
    return row(HOST, NULL, 0, 0, srcHost, ARRAY, dstArray, dstOffset, 0, NULL, ByteCount, hStream, false);
}
RGPU_API CUresult cuMemcpyAtoH_v2(void *dstHost, CUarray srcArray, size_t srcOffset, size_t ByteCount)
{
    return row(ARRAY, srcArray, srcOffset, 0, NULL, HOST, NULL, 0, 0, dstHost, ByteCount, CU_STREAM_LEGACY, true);
}
RGPU_API CUresult cuMemcpyAtoHAsync_v2(void *dstHost, CUarray srcArray, size_t srcOffset, size_t ByteCount,
                                       CUstream hStream)
{
    return row(ARRAY, srcArray, srcOffset, 0, NULL, HOST, NULL, 0, 0, dstHost, ByteCount, hStream, false);
}
RGPU_API CUresult cuMemcpyDtoA_v2(CUarray dstArray, size_t dstOffset, CUdeviceptr srcDevice, size_t ByteCount)
{
    return row(DEVICE, NULL, 0, srcDevice, NULL, ARRAY, dstArray, dstOffset, 0, NULL, ByteCount, CU_STREAM_LEGACY,
               true);
}
RGPU_API CUresult cuMemcpyAtoD_v2(CUdeviceptr dstDevice, CUarray srcArray, size_t srcOffset, size_t ByteCount)
{
    return row(ARRAY, srcArray, srcOffset, 0, NULL, DEVICE, NULL, 0, dstDevice, NULL, ByteCount, CU_STREAM_LEGACY,
               true);
}
RGPU_API CUresult cuMemcpyAtoA_v2(CUarray dstArray, size_t dstOffset, CUarray srcArray, size_t srcOffset,
                                  size_t ByteCount)
{
    return row(ARRAY, srcArray, srcOffset, 0, NULL, ARRAY, dstArray, dstOffset, 0, NULL, ByteCount, CU_STREAM_LEGACY,
               true);
}

/* per-thread default stream forms */
RGPU_API CUresult cuMemcpyHtoA_v2_ptds(CUarray a, size_t o, const void *h, size_t n)
{
    return row(HOST, NULL, 0, 0, h, ARRAY, a, o, 0, NULL, n, CU_STREAM_PER_THREAD, true);
}
RGPU_API CUresult cuMemcpyAtoH_v2_ptds(void *h, CUarray a, size_t o, size_t n)
{
    return row(ARRAY, a, o, 0, NULL, HOST, NULL, 0, 0, h, n, CU_STREAM_PER_THREAD, true);
}
RGPU_API CUresult cuMemcpyDtoA_v2_ptds(CUarray a, size_t o, CUdeviceptr d, size_t n)
{
    return row(DEVICE, NULL, 0, d, NULL, ARRAY, a, o, 0, NULL, n, CU_STREAM_PER_THREAD, true);
}
RGPU_API CUresult cuMemcpyAtoD_v2_ptds(CUdeviceptr d, CUarray a, size_t o, size_t n)
{
    return row(ARRAY, a, o, 0, NULL, DEVICE, NULL, 0, d, NULL, n, CU_STREAM_PER_THREAD, true);
}
RGPU_API CUresult cuMemcpyAtoA_v2_ptds(CUarray da, size_t doff, CUarray sa, size_t soff, size_t n)
{
    return row(ARRAY, sa, soff, 0, NULL, ARRAY, da, doff, 0, NULL, n, CU_STREAM_PER_THREAD, true);
}
RGPU_API CUresult cuMemcpyHtoAAsync_v2_ptsz(CUarray a, size_t o, const void *h, size_t n, CUstream s)
{
    return row(HOST, NULL, 0, 0, h, ARRAY, a, o, 0, NULL, n, RGPU_PT(s), false);
}
RGPU_API CUresult cuMemcpyAtoHAsync_v2_ptsz(void *h, CUarray a, size_t o, size_t n, CUstream s)
{
    return row(ARRAY, a, o, 0, NULL, HOST, NULL, 0, 0, h, n, RGPU_PT(s), false);
}
