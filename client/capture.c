/*
 * capture.c — stream capture on the client: beginning and ending captures,
 * the capture queries, the per-thread capture mode, and the rule on
 * "potentially unsafe" calls during a capture (see capture.h).
 *
 * The capture itself happens on the server (cuStreamBeginCapture and the
 * work enqueued after it are remoted as usual). The queries
 * (cuStreamIsCapturing, cuStreamGetCaptureInfo*) cost a round trip only
 * while a capture this process began may be active; cuBLAS asks before
 * every GEMM. The dependency arrays they return live in thread-local
 * storage until the calling thread's next query.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "conn.h"
#include "context.h"
#include "handles.h"

/* ---- the captures this process began ---- */

struct cap {
    struct cap *next;
    CUstream stream;
    CUstreamCaptureMode mode;
    pthread_t thread;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cap *caps;
static atomic_int ncaps;
static _Thread_local CUstreamCaptureMode thread_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

bool rgpu_capture_active(void) { return atomic_load_explicit(&ncaps, memory_order_relaxed) > 0; }

static void forget_locked(const void *stream)
{
    for (struct cap **pp = &caps; *pp; pp = &(*pp)->next) {
        if ((*pp)->stream == stream) {
            struct cap *c = *pp;
            *pp = c->next;
            free(c);
            atomic_fetch_sub(&ncaps, 1);
            return;
        }
    }
}

void rgpu_capture_forget(const void *stream)
{
    if (!rgpu_capture_active())
        return;
    pthread_mutex_lock(&lock);
    forget_locked(stream);
    pthread_mutex_unlock(&lock);
}

CUresult rgpu_capture_unsafe_check(void)
{
    if (!rgpu_capture_active() || thread_mode == CU_STREAM_CAPTURE_MODE_RELAXED)
        return CUDA_SUCCESS;
    bool forbidden = false;
    pthread_mutex_lock(&lock);
    for (struct cap *c = caps; c && !forbidden; c = c->next) {
        bool mine = pthread_equal(c->thread, pthread_self());
        forbidden = (mine && c->mode != CU_STREAM_CAPTURE_MODE_RELAXED) ||
                    (!mine && c->mode == CU_STREAM_CAPTURE_MODE_GLOBAL && thread_mode == CU_STREAM_CAPTURE_MODE_GLOBAL);
    }
    pthread_mutex_unlock(&lock);
    return forbidden ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

RGPU_API CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!mode || (*mode != CU_STREAM_CAPTURE_MODE_GLOBAL && *mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
                  *mode != CU_STREAM_CAPTURE_MODE_RELAXED))
        return CUDA_ERROR_INVALID_VALUE;
    CUstreamCaptureMode old = thread_mode;
    thread_mode = *mode;
    *mode = old;
    return CUDA_SUCCESS;
}


/* to: the cuStreamBeginCaptureToGraph arguments (s and mode its own), or NULL */
static CUresult begin_call(CUstream s, CUstreamCaptureMode mode, struct rgpu_args_cuStreamBeginCaptureToGraph *to)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    struct cap *c = malloc(sizeof *c);
    if (!c)
        return CUDA_ERROR_OUT_OF_MEMORY;
    /* counted before the call: the server may be capturing as soon as it
     * has it, and the work that follows must wait for its replies */
    pthread_mutex_lock(&lock);
    *c = (struct cap){caps, s, mode, pthread_self()};
    caps = c;
    atomic_fetch_add(&ncaps, 1);
    pthread_mutex_unlock(&lock);
    if (to) {
        r = rgpu_remote(RGPU_ID_cuStreamBeginCaptureToGraph, to);
    } else {
        struct rgpu_args_cuStreamBeginCapture_v2 a = {.hStream = s, .mode = mode};
        r = rgpu_remote(RGPU_ID_cuStreamBeginCapture_v2, &a);
    }
    if (r != CUDA_SUCCESS) {
        pthread_mutex_lock(&lock);
        for (struct cap **pp = &caps; *pp; pp = &(*pp)->next)
            if (*pp == c) {
                *pp = c->next;
                free(c);
                atomic_fetch_sub(&ncaps, 1);
                break;
            }
        pthread_mutex_unlock(&lock);
    }
    return r;
}

static CUresult begin(CUstream s, CUstreamCaptureMode mode) { return begin_call(s, mode, NULL); }

static CUresult begin_to_graph(CUstream s, CUgraph g, const CUgraphNode *deps, const CUgraphEdgeData *edges, size_t n,
                               CUstreamCaptureMode mode)
{
    struct rgpu_args_cuStreamBeginCaptureToGraph a = {.hStream = s, .hGraph = g, .dependencies = deps,
                                                      .dependencyData = edges, .numDependencies = n, .mode = mode};
    return begin_call(s, mode, &a);
}

RGPU_API CUresult cuStreamBeginCaptureToGraph(CUstream hStream, CUgraph hGraph, const CUgraphNode *dependencies,
                                              const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                              CUstreamCaptureMode mode)
{
    return begin_to_graph(hStream, hGraph, dependencies, dependencyData, numDependencies, mode);
}
RGPU_API CUresult cuStreamBeginCaptureToGraph_ptsz(CUstream hStream, CUgraph hGraph, const CUgraphNode *dependencies,
                                                   const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                                   CUstreamCaptureMode mode)
{
    return begin_to_graph(RGPU_PT(hStream), hGraph, dependencies, dependencyData, numDependencies, mode);
}

RGPU_API CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode) { return begin(hStream, mode); }
RGPU_API CUresult cuStreamBeginCapture_v2_ptsz(CUstream hStream, CUstreamCaptureMode mode)
{
    return begin(RGPU_PT(hStream), mode);
}
/* the CUDA 10.0 form: global mode */
RGPU_API CUresult cuStreamBeginCapture(CUstream hStream) { return begin(hStream, CU_STREAM_CAPTURE_MODE_GLOBAL); }
RGPU_API CUresult cuStreamBeginCapture_ptsz(CUstream hStream)
{
    return begin(RGPU_PT(hStream), CU_STREAM_CAPTURE_MODE_GLOBAL);
}

static CUresult end(CUstream s, CUgraph *phGraph)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!phGraph)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    struct rgpu_args_rgpu_end_capture a = {.hStream = s};
    r = rgpu_remote(RGPU_ID_rgpu_end_capture, &a);
    /* these end the capture; UNMATCHED (not its origin) and the argument
     * errors leave it going */
    if (r == CUDA_SUCCESS || r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED || r == CUDA_ERROR_STREAM_CAPTURE_UNJOINED ||
        r == CUDA_ERROR_ILLEGAL_STATE)
        rgpu_capture_forget(s);
    *phGraph = r == CUDA_SUCCESS ? a.phGraph : NULL;
    return r;
}

RGPU_API CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph) { return end(hStream, phGraph); }
RGPU_API CUresult cuStreamEndCapture_ptsz(CUstream hStream, CUgraph *phGraph) { return end(RGPU_PT(hStream), phGraph); }

/* ---- queries ---- */

/* Dependency arrays handed out by the queries: this thread's, until its next
 * query (the driver's stay valid until the stream's next capture change). */
static _Thread_local CUgraphNode *tl_deps;
static _Thread_local CUgraphEdgeData *tl_edges;
static _Thread_local size_t tl_cap;

static CUresult info(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id, CUgraph *graph,
                     const CUgraphNode **deps, const CUgraphEdgeData **edges, size_t *ndeps)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!status || (edges && !deps))
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = rgpu_stream_check(s)) != CUDA_SUCCESS)
        return r;
    /* the default streams belong to the current context */
    if ((s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) && !rgpu_ctx_current())
        return CUDA_ERROR_INVALID_CONTEXT;
    struct rgpu_capture_state st = {CU_STREAM_CAPTURE_STATUS_NONE, 0, 0, 0, 0};
    if (rgpu_capture_active()) {
        /* ask for what fits; again with room for all if there are more */
        uint32_t want = deps ? 16 : 0;
        for (;;) {
            if (want > tl_cap) {
                CUgraphNode *d = realloc(tl_deps, want * sizeof *d);
                if (d)
                    tl_deps = d;
                CUgraphEdgeData *e = d ? realloc(tl_edges, want * sizeof *e) : NULL;
                if (e)
                    tl_edges = e;
                if (!d || !e)
                    return CUDA_ERROR_OUT_OF_MEMORY;
                tl_cap = want;
            }
            struct rgpu_args_rgpu_capture_info a = {.hStream = s, .maxDeps = want, .deps = tl_deps};
            if ((r = rgpu_remote(RGPU_ID_rgpu_capture_info, &a)) != CUDA_SUCCESS)
                return r;
            st = a.state;
            if (!deps || st.ndeps <= want)
                break;
            if (st.ndeps > UINT32_MAX)
                return CUDA_ERROR_OUT_OF_MEMORY;
            want = (uint32_t)st.ndeps;
        }
    }
    *status = (CUstreamCaptureStatus)st.status;
    if (id)
        *id = st.id;
    if (graph)
        *graph = (CUgraph)(uintptr_t)st.graph;
    if (deps)
        *deps = st.ndeps ? tl_deps : NULL;
    if (edges) {
        /* only default edges are made: all zero */
        if (st.ndeps)
            memset(tl_edges, 0, st.ndeps * sizeof *tl_edges);
        *edges = st.ndeps ? tl_edges : NULL;
    }
    if (ndeps)
        *ndeps = st.ndeps;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus *status)
{
    return info(s, status, NULL, NULL, NULL, NULL, NULL);
}

RGPU_API CUresult cuStreamIsCapturing_ptsz(CUstream s, CUstreamCaptureStatus *status)
{
    return info(RGPU_PT(s), status, NULL, NULL, NULL, NULL, NULL);
}

RGPU_API CUresult cuStreamGetCaptureInfo(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id)
{
    return info(s, status, id, NULL, NULL, NULL, NULL);
}

RGPU_API CUresult cuStreamGetCaptureInfo_ptsz(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id)
{
    return info(RGPU_PT(s), status, id, NULL, NULL, NULL, NULL);
}

RGPU_API CUresult cuStreamGetCaptureInfo_v2(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id,
                                            CUgraph *graph, const CUgraphNode **deps, size_t *ndeps)
{
    return info(s, status, id, graph, deps, NULL, ndeps);
}

RGPU_API CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id,
                                                 CUgraph *graph, const CUgraphNode **deps, size_t *ndeps)
{
    return info(RGPU_PT(s), status, id, graph, deps, NULL, ndeps);
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
    return info(RGPU_PT(s), status, id, graph, deps, edges, ndeps);
}

/* ---- dependency updates: the older forms of the generated _v2 ---- */

RGPU_API CUresult cuStreamUpdateCaptureDependencies_v2_ptsz(CUstream s, CUgraphNode *deps,
                                                            const CUgraphEdgeData *edges, size_t n,
                                                            unsigned int flags)
{
    return cuStreamUpdateCaptureDependencies_v2(RGPU_PT(s), deps, edges, n, flags);
}

RGPU_API CUresult cuStreamUpdateCaptureDependencies(CUstream s, CUgraphNode *deps, size_t n, unsigned int flags)
{
    return cuStreamUpdateCaptureDependencies_v2(s, deps, NULL, n, flags);
}

RGPU_API CUresult cuStreamUpdateCaptureDependencies_ptsz(CUstream s, CUgraphNode *deps, size_t n, unsigned int flags)
{
    return cuStreamUpdateCaptureDependencies_v2(RGPU_PT(s), deps, NULL, n, flags);
}
