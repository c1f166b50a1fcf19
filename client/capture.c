/*
 * capture.c — stream-capture queries.
 *
 * rgpu has no CUDA graphs: cuStreamBeginCapture* return
 * CUDA_ERROR_NOT_SUPPORTED, so no stream is ever capturing and the queries
 * answer CU_STREAM_CAPTURE_STATUS_NONE for every valid stream, on the client.
 * Libraries ask before they launch (cuBLAS calls cuStreamGetCaptureInfo_v2
 * before each GEMM and fails if the query fails).
 */
#include "context.h"
#include "handles.h"

static CUresult not_capturing(CUstream s, CUstreamCaptureStatus *status)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!status)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    /* the default streams belong to the current context */
    if ((s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) && !rgpu_ctx_current())
        return CUDA_ERROR_INVALID_CONTEXT;
    *status = CU_STREAM_CAPTURE_STATUS_NONE;
    return CUDA_SUCCESS;
}

/* The outputs that describe an active capture: none. */
static CUresult info(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id, CUgraph *graph,
                     const CUgraphNode **deps, const CUgraphEdgeData **edges, size_t *ndeps)
{
    CUresult r = not_capturing(s, status);
    if (r)
        return r;
    if (id)
        *id = 0;
    if (graph)
        *graph = NULL;
    if (deps)
        *deps = NULL;
    if (edges)
        *edges = NULL;
    if (ndeps)
        *ndeps = 0;
    return CUDA_SUCCESS;
}

#define PT(s) ((s) == NULL ? CU_STREAM_PER_THREAD : (s))

RGPU_API CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus *status)
{
    return not_capturing(s, status);
}

RGPU_API CUresult cuStreamIsCapturing_ptsz(CUstream s, CUstreamCaptureStatus *status)
{
    return not_capturing(PT(s), status);
}

RGPU_API CUresult cuStreamGetCaptureInfo(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id)
{
    return info(s, status, id, NULL, NULL, NULL, NULL);
}

RGPU_API CUresult cuStreamGetCaptureInfo_ptsz(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id)
{
    return info(PT(s), status, id, NULL, NULL, NULL, NULL);
}

RGPU_API CUresult cuStreamGetCaptureInfo_v2(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id,
                                            CUgraph *graph, const CUgraphNode **deps, size_t *ndeps)
{
    return info(s, status, id, graph, deps, NULL, ndeps);
}

RGPU_API CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id,
                                                 CUgraph *graph, const CUgraphNode **deps, size_t *ndeps)
{
    return info(PT(s), status, id, graph, deps, NULL, ndeps);
}

RGPU_API CUresult cuStreamGetCaptureInfo_v3(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id,
                                            CUgraph *graph, const CUgraphNode **deps,
                                            const CUgraphEdgeData **edges, size_t *ndeps)
{
    return info(s, status, id, graph, deps, edges, ndeps);
}

RGPU_API CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id,
                                                 CUgraph *graph, const CUgraphNode **deps,
                                                 const CUgraphEdgeData **edges, size_t *ndeps)
{
    return info(PT(s), status, id, graph, deps, edges, ndeps);
}
