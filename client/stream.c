/*
 * stream.c — host callbacks, and the per-thread-default-stream (_ptsz/_ptds)
 * and legacy ABI variants of the stream, event, copy and memset calls.
 *
 * A _ptsz/_ptds variant is its base call with the NULL stream read as
 * CU_STREAM_PER_THREAD; the server turns that into the calling thread's own
 * stream. Host functions run on the client's callback thread (conn.c).
 */
#include <stdlib.h>

#include "conn.h"
#include "context.h"
#include "copy.h"
#include "handles.h"


RGPU_API CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!fn)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = rgpu_stream_check(hStream)) != CUDA_SUCCESS)
        return r;
    struct rgpu_args_cuLaunchHostFunc a = {.hStream = hStream, .fn = fn, .userData = userData};
    return rgpu_remote(RGPU_ID_cuLaunchHostFunc, &a);
}

struct stream_cb {
    CUstreamCallback fn;
    CUstream stream;
    void *user_data;
};

static void run_stream_cb(void *p)
{
    struct stream_cb *cb = p;
    /* Errors of earlier work reach the application at its next
     * synchronisation; the callback itself is told the stream is healthy. */
    cb->fn(cb->stream, CUDA_SUCCESS, cb->user_data);
    free(cb);
}

RGPU_API CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData, unsigned int flags)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!callback || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream_cb *cb = malloc(sizeof *cb);
    if (!cb)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *cb = (struct stream_cb){callback, hStream, userData};
    r = cuLaunchHostFunc(hStream, run_stream_cb, cb);
    if (r != CUDA_SUCCESS)
        free(cb);
    return r;
}

/* ---- legacy ABI names with unchanged behaviour ---- */
RGPU_API CUresult cuStreamDestroy(CUstream s) { return cuStreamDestroy_v2(s); }
RGPU_API CUresult cuEventDestroy(CUevent e) { return cuEventDestroy_v2(e); }
RGPU_API CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) { return cuEventElapsedTime_v2(ms, a, b); }
RGPU_API CUresult cuMemGetInfo(unsigned int *free_, unsigned int *total)
{
    size_t f, t;
    if (!free_ || !total)
        return rgpu_check_init() ? CUDA_ERROR_NOT_INITIALIZED : CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuMemGetInfo_v2(&f, &t);
    if (r == CUDA_SUCCESS) {
        *free_ = f > 0xffffffffu ? 0xffffffffu : (unsigned)f;
        *total = t > 0xffffffffu ? 0xffffffffu : (unsigned)t;
    }
    return r;
}

/* No stream belongs to a green context here (cuGreenCtxCreate is not
 * offered): the stream's context, and no green context. */
RGPU_API CUresult cuStreamGetCtx_v2(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
    if (!pCtx || !pGreenCtx)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuStreamGetCtx(hStream, pCtx);
    if (r == CUDA_SUCCESS)
        *pGreenCtx = NULL;
    return r;
}

RGPU_API CUresult cuStreamGetDevice(CUstream hStream, CUdevice *device)
{
    CUcontext ctx;
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuStreamGetCtx(hStream, &ctx);
    return r == CUDA_SUCCESS ? cuCtxGetDevice_v2(device, ctx) : r;
}

/* ---- per-thread default stream variants ---- */
RGPU_API CUresult cuStreamSynchronize_ptsz(CUstream s) { return cuStreamSynchronize(RGPU_PT(s)); }
RGPU_API CUresult cuStreamQuery_ptsz(CUstream s) { return cuStreamQuery(RGPU_PT(s)); }
RGPU_API CUresult cuStreamWaitEvent_ptsz(CUstream s, CUevent e, unsigned f) { return cuStreamWaitEvent(RGPU_PT(s), e, f); }
RGPU_API CUresult cuStreamGetFlags_ptsz(CUstream s, unsigned *f) { return cuStreamGetFlags(RGPU_PT(s), f); }
RGPU_API CUresult cuStreamGetPriority_ptsz(CUstream s, int *p) { return cuStreamGetPriority(RGPU_PT(s), p); }
RGPU_API CUresult cuStreamGetCtx_ptsz(CUstream s, CUcontext *c) { return cuStreamGetCtx(RGPU_PT(s), c); }
RGPU_API CUresult cuStreamGetId_ptsz(CUstream s, unsigned long long *id) { return cuStreamGetId(RGPU_PT(s), id); }
RGPU_API CUresult cuStreamGetAttribute_ptsz(CUstream s, CUstreamAttrID a, CUstreamAttrValue *v)
{
    return cuStreamGetAttribute(RGPU_PT(s), a, v);
}
RGPU_API CUresult cuStreamSetAttribute_ptsz(CUstream s, CUstreamAttrID a, const CUstreamAttrValue *v)
{
    return cuStreamSetAttribute(RGPU_PT(s), a, v);
}
RGPU_API CUresult cuStreamCopyAttributes_ptsz(CUstream d, CUstream s) { return cuStreamCopyAttributes(RGPU_PT(d), RGPU_PT(s)); }
RGPU_API CUresult cuStreamGetCtx_v2_ptsz(CUstream s, CUcontext *c, CUgreenCtx *g) { return cuStreamGetCtx_v2(RGPU_PT(s), c, g); }
RGPU_API CUresult cuStreamGetDevice_ptsz(CUstream s, CUdevice *d) { return cuStreamGetDevice(RGPU_PT(s), d); }
RGPU_API CUresult cuStreamAddCallback_ptsz(CUstream s, CUstreamCallback cb, void *u, unsigned f)
{
    return cuStreamAddCallback(RGPU_PT(s), cb, u, f);
}
RGPU_API CUresult cuLaunchHostFunc_ptsz(CUstream s, CUhostFn fn, void *u) { return cuLaunchHostFunc(RGPU_PT(s), fn, u); }
RGPU_API CUresult cuEventRecord_ptsz(CUevent e, CUstream s) { return cuEventRecord(e, RGPU_PT(s)); }
RGPU_API CUresult cuEventRecordWithFlags_ptsz(CUevent e, CUstream s, unsigned f) { return cuEventRecordWithFlags(e, RGPU_PT(s), f); }

RGPU_API CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr d, const void *h, size_t n, CUstream s) { return rgpu_htod(d, h, n, RGPU_PT(s)); }
RGPU_API CUresult cuMemcpyDtoHAsync_v2_ptsz(void *h, CUdeviceptr d, size_t n, CUstream s) { return rgpu_dtoh(h, d, n, RGPU_PT(s)); }
RGPU_API CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr d, CUdeviceptr s2, size_t n, CUstream s)
{
    return cuMemcpyDtoDAsync_v2(d, s2, n, RGPU_PT(s));
}
RGPU_API CUresult cuMemcpyAsync_ptsz(CUdeviceptr d, CUdeviceptr s2, size_t n, CUstream s)
{
    return rgpu_memcpy_any((void *)d, (const void *)s2, n, RGPU_PT(s), false);
}
RGPU_API CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *c, CUstream s) { return rgpu_memcpy2d(c, RGPU_PT(s), false); }
RGPU_API CUresult cuMemsetD8Async_ptsz(CUdeviceptr d, unsigned char v, size_t n, CUstream s) { return cuMemsetD8Async(d, v, n, RGPU_PT(s)); }
RGPU_API CUresult cuMemsetD16Async_ptsz(CUdeviceptr d, unsigned short v, size_t n, CUstream s) { return cuMemsetD16Async(d, v, n, RGPU_PT(s)); }
RGPU_API CUresult cuMemsetD32Async_ptsz(CUdeviceptr d, unsigned int v, size_t n, CUstream s) { return cuMemsetD32Async(d, v, n, RGPU_PT(s)); }
RGPU_API CUresult cuMemsetD2D8Async_ptsz(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t h, CUstream s)
{
    return cuMemsetD2D8Async(d, p, v, w, h, RGPU_PT(s));
}
RGPU_API CUresult cuMemsetD2D16Async_ptsz(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t h, CUstream s)
{
    return cuMemsetD2D16Async(d, p, v, w, h, RGPU_PT(s));
}
RGPU_API CUresult cuMemsetD2D32Async_ptsz(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t h, CUstream s)
{
    return cuMemsetD2D32Async(d, p, v, w, h, RGPU_PT(s));
}

/* Synchronous _ptds forms: the per-thread stream, then wait for it. */
static CUresult pt_finish(CUresult r) { return r == CUDA_SUCCESS ? cuStreamSynchronize(CU_STREAM_PER_THREAD) : r; }
#define PTS CU_STREAM_PER_THREAD

RGPU_API CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr d, const void *h, size_t n) { return rgpu_copy_sync_htod(d, h, n, PTS); }
RGPU_API CUresult cuMemcpyDtoH_v2_ptds(void *h, CUdeviceptr d, size_t n) { return rgpu_copy_sync_dtoh(h, d, n, PTS); }
RGPU_API CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr d, CUdeviceptr s, size_t n) { return rgpu_copy_sync_dtod(d, s, n, PTS); }
RGPU_API CUresult cuMemcpy_ptds(CUdeviceptr d, CUdeviceptr s, size_t n) { return rgpu_memcpy_any((void *)d, (const void *)s, n, PTS, true); }
RGPU_API CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *c) { return rgpu_memcpy2d(c, PTS, true); }
RGPU_API CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *c) { return rgpu_memcpy2d(c, PTS, true); }
RGPU_API CUresult cuMemsetD8_v2_ptds(CUdeviceptr d, unsigned char v, size_t n) { return pt_finish(cuMemsetD8Async(d, v, n, PTS)); }
RGPU_API CUresult cuMemsetD16_v2_ptds(CUdeviceptr d, unsigned short v, size_t n) { return pt_finish(cuMemsetD16Async(d, v, n, PTS)); }
RGPU_API CUresult cuMemsetD32_v2_ptds(CUdeviceptr d, unsigned int v, size_t n) { return pt_finish(cuMemsetD32Async(d, v, n, PTS)); }
RGPU_API CUresult cuMemsetD2D8_v2_ptds(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t h)
{
    return pt_finish(cuMemsetD2D8Async(d, p, v, w, h, PTS));
}
RGPU_API CUresult cuMemsetD2D16_v2_ptds(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t h)
{
    return pt_finish(cuMemsetD2D16Async(d, p, v, w, h, PTS));
}
RGPU_API CUresult cuMemsetD2D32_v2_ptds(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t h)
{
    return pt_finish(cuMemsetD2D32Async(d, p, v, w, h, PTS));
}

/* rgpu creates no green contexts (cuGreenCtxCreate is NOT_SUPPORTED), so no
 * stream belongs to one: the driver's answer for such a stream is NULL.
 * cuDNN asks for every stream it is given (cudnnSetStream). */
RGPU_API CUresult cuStreamGetGreenCtx(CUstream hStream, CUgreenCtx *phCtx)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!phCtx)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = rgpu_stream_check(hStream)) != CUDA_SUCCESS)
        return r;
    *phCtx = NULL;
    return CUDA_SUCCESS;
}
