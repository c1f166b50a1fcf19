/*
 * copy_3d_peer.c — 3D copies (cuMemcpy3D*, cuMemcpy3DPeer*), the synchronous
 * and per-thread forms of the peer copy (cuMemcpyPeerAsync is a row of
 * calls.def), and their _ptds/_ptsz variants.
 *
 * A 3D copy is Depth 2D copies, one per slice, queued in order on the same
 * stream: the stream runs them one after the other, so the result, the
 * ordering against other work and the errors are those of the 3D copy, and
 * host rows travel exactly as for cuMemcpy2D (copy.c). An array side names
 * its slice by number (rgpu_memcpy2d's srcZ/dstZ): the server makes that a
 * one-slice 3D copy.
 * A peer copy between contexts of one device is an ordinary copy; between
 * devices, rgpu's 2D path cannot name two contexts, so it is NOT_SUPPORTED.
 */
#include "context.h"
#include "copy.h"
#include "handles.h"

static CUresult copy3d(const CUDA_MEMCPY3D *p, CUstream s, bool sync)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!p || p->srcLOD || p->dstLOD || p->reserved0 || p->reserved1)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    if (p->WidthInBytes == 0 || p->Height == 0 || p->Depth == 0)
        return CUDA_SUCCESS;
    /* slices are srcHeight (dstHeight) rows apart; a slice must hold its rows
     * (an array's slices are its own) */
    bool sa = p->srcMemoryType == CU_MEMORYTYPE_ARRAY, da = p->dstMemoryType == CU_MEMORYTYPE_ARRAY;
    if (p->Depth > 1 && ((!sa && p->srcHeight < p->Height + p->srcY) || (!da && p->dstHeight < p->Height + p->dstY)))
        return CUDA_ERROR_INVALID_VALUE;
    if ((sa && p->srcZ + p->Depth - 1 > UINT32_MAX) || (da && p->dstZ + p->Depth - 1 > UINT32_MAX))
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t z = 0; z < p->Depth && r == CUDA_SUCCESS; z++) {
        size_t so = sa ? 0 : (p->srcZ + z) * p->srcHeight * p->srcPitch,
               dof = da ? 0 : (p->dstZ + z) * p->dstHeight * p->dstPitch;
        CUDA_MEMCPY2D c = {
            .srcXInBytes = p->srcXInBytes,
            .srcY = p->srcY,
            .srcMemoryType = p->srcMemoryType,
            .srcHost = p->srcHost ? (const char *)p->srcHost + so : NULL,
            .srcDevice = p->srcDevice ? p->srcDevice + so : 0,
            .srcArray = p->srcArray,
            .srcPitch = p->srcPitch,
            .dstXInBytes = p->dstXInBytes,
            .dstY = p->dstY,
            .dstMemoryType = p->dstMemoryType,
            .dstHost = p->dstHost ? (char *)p->dstHost + dof : NULL,
            .dstDevice = p->dstDevice ? p->dstDevice + dof : 0,
            .dstArray = p->dstArray,
            .dstPitch = p->dstPitch,
            .WidthInBytes = p->WidthInBytes,
            .Height = p->Height,
        };
        r = rgpu_memcpy2d_z(&c, sa ? (uint32_t)(p->srcZ + z) : 0, da ? (uint32_t)(p->dstZ + z) : 0, s, false);
    }
    return sync && r == CUDA_SUCCESS ? cuStreamSynchronize(s) : r;
}

static CUresult copy3d_peer(const CUDA_MEMCPY3D_PEER *p, CUstream s, bool sync)
{
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    CUdevice sd, dd;
    if (!rgpu_ctx_device(p->srcContext, &sd) || !rgpu_ctx_device(p->dstContext, &dd))
        return CUDA_ERROR_INVALID_CONTEXT;
    if (sd != dd)
        return CUDA_ERROR_NOT_SUPPORTED;
    CUDA_MEMCPY3D c = {
        .srcXInBytes = p->srcXInBytes, .srcY = p->srcY, .srcZ = p->srcZ, .srcLOD = p->srcLOD,
        .srcMemoryType = p->srcMemoryType, .srcHost = p->srcHost, .srcDevice = p->srcDevice,
        .srcArray = p->srcArray, .srcPitch = p->srcPitch, .srcHeight = p->srcHeight,
        .dstXInBytes = p->dstXInBytes, .dstY = p->dstY, .dstZ = p->dstZ, .dstLOD = p->dstLOD,
        .dstMemoryType = p->dstMemoryType, .dstHost = p->dstHost, .dstDevice = p->dstDevice,
        .dstArray = p->dstArray, .dstPitch = p->dstPitch, .dstHeight = p->dstHeight,
        .WidthInBytes = p->WidthInBytes, .Height = p->Height, .Depth = p->Depth,
    };
    return copy3d(&c, s, sync);
}


RGPU_API CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D *p) { return copy3d(p, CU_STREAM_LEGACY, true); }
RGPU_API CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *p, CUstream s) { return copy3d(p, s, false); }
RGPU_API CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D *p) { return copy3d(p, CU_STREAM_PER_THREAD, true); }
RGPU_API CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D *p, CUstream s) { return copy3d(p, RGPU_PT(s), false); }
RGPU_API CUresult cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER *p) { return copy3d_peer(p, CU_STREAM_LEGACY, true); }
RGPU_API CUresult cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER *p, CUstream s) { return copy3d_peer(p, s, false); }
RGPU_API CUresult cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER *p) { return copy3d_peer(p, CU_STREAM_PER_THREAD, true); }
RGPU_API CUresult cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER *p, CUstream s) { return copy3d_peer(p, RGPU_PT(s), false); }

/* The synchronous peer copy: the asynchronous one on the legacy (or the
 * per-thread) stream, then that stream's synchronisation, as copy.c builds
 * every synchronous copy. */
static CUresult peer_sync(CUdeviceptr d, CUcontext dc, CUdeviceptr s_, CUcontext sc, size_t n, CUstream s)
{
    CUresult r = cuMemcpyPeerAsync(d, dc, s_, sc, n, s);
    return r == CUDA_SUCCESS ? cuStreamSynchronize(s) : r;
}

RGPU_API CUresult cuMemcpyPeer(CUdeviceptr d, CUcontext dc, CUdeviceptr s, CUcontext sc, size_t n)
{
    return peer_sync(d, dc, s, sc, n, CU_STREAM_LEGACY);
}

RGPU_API CUresult cuMemcpyPeer_ptds(CUdeviceptr d, CUcontext dc, CUdeviceptr s, CUcontext sc, size_t n)
{
    return peer_sync(d, dc, s, sc, n, CU_STREAM_PER_THREAD);
}

RGPU_API CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr d, CUcontext dc, CUdeviceptr s, CUcontext sc, size_t n,
                                         CUstream st)
{
    return cuMemcpyPeerAsync(d, dc, s, sc, n, RGPU_PT(st));
}
