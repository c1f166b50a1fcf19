/*
 * copy.c — copies and memsets.
 *
 * Only the asynchronous forms travel. Host->device bytes leave with the
 * request (so a pageable source may be reused as soon as the call returns,
 * as CUDA promises); device->host bytes come back as DATA and are written
 * into the destination by the receiver thread before any synchronisation
 * that covers the copy returns. Page-locked memory from the shm: pool
 * (hostpool.c) is the exception: its copies name pool offsets, and the
 * server reads and writes it in place when the stream gets there, as the
 * driver does with page-locked memory. A synchronous copy or memset is the
 * asynchronous one on the legacy default stream (or the per-thread stream for
 * the _ptds forms) followed by a synchronisation of that stream, which is
 * exactly the ordering CUDA defines and reports errors at call time.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "context.h"
#include "copy.h"
#include "handles.h"
#include "hostpool.h"
#include "memory.h"

CUresult rgpu_htod(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (n && !src)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    uint64_t off;
    if (n && rgpu_hostpool_offset(src, n, &off)) {
        struct rgpu_args_rgpu_htod_pool p = {.dstDevice = dst, .srcOffset = off, .ByteCount = n, .hStream = s};
        return rgpu_remote(RGPU_ID_rgpu_htod_pool, &p);
    }
    struct rgpu_args_cuMemcpyHtoDAsync_v2 a = {.dstDevice = dst, .srcHost = src, .ByteCount = n, .hStream = s};
    return rgpu_remote(RGPU_ID_cuMemcpyHtoDAsync_v2, &a);
}

CUresult rgpu_dtoh(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (n && !dst)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    uint64_t off;
    if (n && rgpu_hostpool_offset(dst, n, &off)) {
        struct rgpu_args_rgpu_dtoh_pool p = {.dstOffset = off, .srcDevice = src, .ByteCount = n, .hStream = s};
        return rgpu_remote(RGPU_ID_rgpu_dtoh_pool, &p);
    }
    struct rgpu_args_cuMemcpyDtoHAsync_v2 a = {.dstHost = dst, .srcDevice = src, .ByteCount = n, .hStream = s};
    struct rgpu_landing land = {.dst = dst, .pitch = n, .width = n, .height = 1};
    return rgpu_remote_landing(RGPU_ID_cuMemcpyDtoHAsync_v2, &a, &land);
}

/* Synchronise the stream a synchronous operation ran on; its error (or an
 * earlier latched one) is the operation's result. */
static CUresult finish(CUresult r, CUstream s) { return r == CUDA_SUCCESS ? cuStreamSynchronize(s) : r; }

/* ---- 1D copies ---- */
RGPU_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s) { return rgpu_htod(dst, src, n, s); }
RGPU_API CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s) { return rgpu_dtoh(dst, src, n, s); }

CUresult rgpu_copy_sync_htod(CUdeviceptr dst, const void *src, size_t n, CUstream s) { return finish(rgpu_htod(dst, src, n, s), s); }
CUresult rgpu_copy_sync_dtoh(void *dst, CUdeviceptr src, size_t n, CUstream s) { return finish(rgpu_dtoh(dst, src, n, s), s); }
CUresult rgpu_copy_sync_dtod(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    return finish(cuMemcpyDtoDAsync_v2(dst, src, n, s), s);
}

RGPU_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) { return rgpu_copy_sync_htod(dst, src, n, CU_STREAM_LEGACY); }
RGPU_API CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) { return rgpu_copy_sync_dtoh(dst, src, n, CU_STREAM_LEGACY); }
RGPU_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) { return rgpu_copy_sync_dtod(dst, src, n, CU_STREAM_LEGACY); }

/* Unified addressing: classify both sides by the client's allocation table. */
CUresult rgpu_memcpy_any(void *dst, const void *src, size_t n, CUstream s, bool sync)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    bool dd = rgpu_is_device_ptr((uintptr_t)dst), sd = rgpu_is_device_ptr((uintptr_t)src);
    if (dd && sd)
        r = cuMemcpyDtoDAsync_v2((CUdeviceptr)dst, (CUdeviceptr)src, n, s);
    else if (dd)
        r = rgpu_htod((CUdeviceptr)dst, src, n, s);
    else if (sd)
        r = rgpu_dtoh(dst, (CUdeviceptr)src, n, s);
    else {
        /* Host to host is ordered after the stream's earlier work. */
        if (n && (!dst || !src))
            return CUDA_ERROR_INVALID_VALUE;
        r = cuStreamSynchronize(s);
        if (r == CUDA_SUCCESS && n)
            memmove(dst, src, n);
        return r;
    }
    return sync ? finish(r, s) : r;
}

RGPU_API CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    return rgpu_memcpy_any((void *)dst, (const void *)src, n, CU_STREAM_LEGACY, true);
}
RGPU_API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    return rgpu_memcpy_any((void *)dst, (const void *)src, n, s, false);
}

/* ---- 2D copies ---- */
static CUresult resolve_type(CUmemorytype *t, CUdeviceptr dev, const void **host)
{
    if (*t == CU_MEMORYTYPE_UNIFIED) {
        if (rgpu_is_device_ptr((uintptr_t)dev)) {
            *t = CU_MEMORYTYPE_DEVICE;
        } else {
            *t = CU_MEMORYTYPE_HOST;
            *host = (const void *)dev;
        }
    }
    return *t == CU_MEMORYTYPE_HOST || *t == CU_MEMORYTYPE_DEVICE || *t == CU_MEMORYTYPE_ARRAY
               ? CUDA_SUCCESS
               : CUDA_ERROR_INVALID_VALUE;
}

CUresult rgpu_memcpy2d(const CUDA_MEMCPY2D *pc, CUstream s, bool sync) { return rgpu_memcpy2d_z(pc, 0, 0, s, sync); }

CUresult rgpu_memcpy2d_z(const CUDA_MEMCPY2D *pc, uint32_t srcZ, uint32_t dstZ, CUstream s, bool sync)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!pc)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    CUDA_MEMCPY2D c = *pc;
    const void *sh = c.srcHost;
    const void *dh = c.dstHost;
    if ((r = resolve_type(&c.srcMemoryType, c.srcDevice, &sh)) || (r = resolve_type(&c.dstMemoryType, c.dstDevice, &dh)))
        return r;
    c.srcHost = sh;
    c.dstHost = (void *)dh;
    size_t w = c.WidthInBytes, h = c.Height;
    if (w == 0 || h == 0)
        return CUDA_SUCCESS;
    /* an array's rows are its own: the backend checks them */
    bool src_array = c.srcMemoryType == CU_MEMORYTYPE_ARRAY, dst_array = c.dstMemoryType == CU_MEMORYTYPE_ARRAY;
    if (h > 1 && ((!src_array && c.srcPitch < w + c.srcXInBytes) || (!dst_array && c.dstPitch < w + c.dstXInBytes)))
        return CUDA_ERROR_INVALID_VALUE;
    bool src_host = c.srcMemoryType == CU_MEMORYTYPE_HOST, dst_host = c.dstMemoryType == CU_MEMORYTYPE_HOST;
    const char *sbase = src_host ? (const char *)c.srcHost + c.srcY * c.srcPitch + c.srcXInBytes : NULL;
    char *dbase = dst_host ? (char *)c.dstHost + c.dstY * c.dstPitch + c.dstXInBytes : NULL;
    if ((src_host && !c.srcHost) || (dst_host && !c.dstHost))
        return CUDA_ERROR_INVALID_VALUE;

    if (src_host && dst_host) {
        r = cuStreamSynchronize(s);
        for (size_t row = 0; r == CUDA_SUCCESS && row < h; row++)
            memmove(dbase + row * c.dstPitch, sbase + row * c.srcPitch, w);
        return r;
    }
    /* Page-locked memory of the shm: pool: the rows stay where they are, the
     * server copies them when the stream gets there (hostpool.c). The host
     * side goes as its first byte's offset, X and Y folded in. */
    size_t hpitch = src_host ? c.srcPitch : c.dstPitch, span = (h - 1) * (h > 1 ? hpitch : 0) + w;
    uint64_t off;
    if (rgpu_hostpool_offset(src_host ? sbase : dbase, span, &off)) {
        struct rgpu_args_rgpu_memcpy2d_pool p = {.copy = c, .srcZ = srcZ, .dstZ = dstZ, .hostOffset = off, .hStream = s};
        if (src_host)
            p.copy.srcXInBytes = p.copy.srcY = 0;
        else
            p.copy.dstXInBytes = p.copy.dstY = 0;
        r = rgpu_remote(RGPU_ID_rgpu_memcpy2d_pool, &p);
        return sync ? finish(r, s) : r;
    }
    struct rgpu_args_rgpu_memcpy2d a = {.copy = c, .srcZ = srcZ, .dstZ = dstZ, .hStream = s};
    void *packed = NULL;
    if (src_host) {
        /* Rows travel densely; a dense source goes as it is. */
        if (h == 1 || c.srcPitch == w) {
            a.host = sbase;
        } else {
            if (!(packed = malloc(w * h)))
                return CUDA_ERROR_OUT_OF_MEMORY;
            for (size_t row = 0; row < h; row++)
                memcpy((char *)packed + row * w, sbase + row * c.srcPitch, w);
            a.host = packed;
        }
    }
    if (dst_host) {
        struct rgpu_landing land = {.dst = dbase, .pitch = c.dstPitch, .width = w, .height = h};
        r = rgpu_remote_landing(RGPU_ID_rgpu_memcpy2d, &a, &land);
    } else {
        r = rgpu_remote(RGPU_ID_rgpu_memcpy2d, &a);
    }
    free(packed);
    return sync ? finish(r, s) : r;
}

RGPU_API CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy) { return rgpu_memcpy2d(pCopy, CU_STREAM_LEGACY, true); }
RGPU_API CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *pCopy) { return rgpu_memcpy2d(pCopy, CU_STREAM_LEGACY, true); }
RGPU_API CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream s) { return rgpu_memcpy2d(pCopy, s, false); }

/* ---- synchronous memsets ---- */
RGPU_API CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { return finish(cuMemsetD8Async(d, v, n, CU_STREAM_LEGACY), CU_STREAM_LEGACY); }
RGPU_API CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) { return finish(cuMemsetD16Async(d, v, n, CU_STREAM_LEGACY), CU_STREAM_LEGACY); }
RGPU_API CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n) { return finish(cuMemsetD32Async(d, v, n, CU_STREAM_LEGACY), CU_STREAM_LEGACY); }
RGPU_API CUresult cuMemsetD2D8_v2(CUdeviceptr d, size_t pitch, unsigned char v, size_t w, size_t h)
{
    return finish(cuMemsetD2D8Async(d, pitch, v, w, h, CU_STREAM_LEGACY), CU_STREAM_LEGACY);
}
RGPU_API CUresult cuMemsetD2D16_v2(CUdeviceptr d, size_t pitch, unsigned short v, size_t w, size_t h)
{
    return finish(cuMemsetD2D16Async(d, pitch, v, w, h, CU_STREAM_LEGACY), CU_STREAM_LEGACY);
}
RGPU_API CUresult cuMemsetD2D32_v2(CUdeviceptr d, size_t pitch, unsigned int v, size_t w, size_t h)
{
    return finish(cuMemsetD2D32Async(d, pitch, v, w, h, CU_STREAM_LEGACY), CU_STREAM_LEGACY);
}
