/*
 * capture.c — stream capture: work submitted to a capturing stream becomes
 * nodes of a graph instead of running.
 *
 * cuStreamBeginCapture makes a capture (struct capture) with a new graph
 * and puts the stream in it. Each stream in a capture has its current
 * dependencies (cdeps): a captured operation becomes a node depending on
 * them, and then is them. An event recorded in a capturing stream stands
 * for that stream's cdeps; a stream that waits on such an event joins the
 * capture (fork) or adds them to its own (join). cuStreamEndCapture on the
 * origin stream ends it: every other stream must have been joined back into
 * the origin (CUDA_ERROR_STREAM_CAPTURE_UNJOINED otherwise). With the
 * EXTERNAL flags, an event record or wait becomes a node of its own.
 *
 * What cannot be captured invalidates the capture, as in the driver: a copy
 * touching host memory that is not page-locked
 * (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: the server could not replay client
 * memory later), synchronising or querying a capturing stream, or querying or waiting on an event recorded in a capture
 * that goes on (UNSUPPORTED), the legacy stream while a blocking stream
 * captures (IMPLICIT), waiting on an event from outside the capture
 * (ISOLATION). Later work in an invalidated capture fails with
 * CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, and cuStreamEndCapture returns
 * that and no graph.
 *
 * Capture modes are recorded and reported; the rule on "unsafe" calls from
 * other threads is kept by the client, which knows its threads.
 */
#include "graph.h"
#include "module.h"

#include <limits.h>

#include <stdlib.h>
#include <string.h>

void capture_unref_locked(struct capture *cap)
{
    if (--cap->refs)
        return;
    /* still building its graph: the graph is nobody's (unless the caller's); free it */
    if (cap->g && cap->g->capturing == cap) {
        cap->g->capturing = NULL;
        if (!cap->external)
            graph_free_locked(cap->g);
    }
    free(cap);
}

static void invalidate(struct capture *cap) { cap->invalid = true; }
void capture_invalidate_locked(struct capture *cap) { invalidate(cap); }
bool capture_ended_locked(const struct capture *cap) { return cap->ended; }

static bool set_cdeps(struct stream *s, struct gnode *const *deps, int n)
{
    if (n > s->capcdeps) {
        struct gnode **d = realloc(s->cdeps, (size_t)n * sizeof *d);
        if (!d)
            return false;
        s->cdeps = d;
        CUgraphEdgeData *e = calloc((size_t)n, sizeof *e);
        if (!e)
            return false;
        free(s->cedges);
        s->cedges = e;
        s->capcdeps = n;
    }
    if (n)
        memmove(s->cdeps, deps, (size_t)n * sizeof *deps);
    s->ncdeps = n;
    return true;
}

/* s->cdeps plus deps[0..n) (each once). */
static bool add_cdeps(struct stream *s, struct gnode *const *deps, int n)
{
    struct gnode **u = malloc(((size_t)s->ncdeps + (size_t)n + 1) * sizeof *u);
    if (!u)
        return false;
    int k = s->ncdeps;
    if (k)
        memcpy(u, s->cdeps, (size_t)k * sizeof *u);
    for (int i = 0; i < n; i++) {
        bool dup = false;
        for (int j = 0; j < k && !dup; j++)
            dup = u[j] == deps[i];
        if (!dup)
            u[k++] = deps[i];
    }
    bool ok = set_cdeps(s, u, k);
    free(u);
    return ok;
}

static void leave(struct stream *s)
{
    struct capture *cap = s->cap;
    s->cap = NULL;
    s->ncdeps = 0;
    capture_unref_locked(cap);
}

static CUresult join(struct stream *s, struct capture *cap, struct gnode *const *deps, int n)
{
    if (!set_cdeps(s, deps, n))
        return CUDA_ERROR_OUT_OF_MEMORY;
    s->cap = cap;
    cap->refs++;
    return CUDA_SUCCESS;
}

void capture_stream_forget_locked(struct stream *s)
{
    if (s->cap) {
        if (s->cap->origin == s)
            invalidate(s->cap); /* its capture can no longer end */
        leave(s);
    }
}

void capture_event_forget_locked(struct event *e)
{
    if (e->cap) {
        capture_unref_locked(e->cap);
        e->cap = NULL;
    }
    free(e->cdeps);
    e->cdeps = NULL;
    e->ncdeps = 0;
}

/* Each side device memory or registered host memory: what a graph can copy
 * again whenever it runs. */
static bool capturable_copy(const char *dst, const char *src, size_t dpitch, size_t spitch, size_t width,
                            size_t height)
{
    return copy_range_ok(dst, dpitch * (height - 1) + width) && copy_range_ok(src, spitch * (height - 1) + width);
}

CUresult capture_op_locked(struct stream *s, struct op *op)
{
    struct capture *cap = s->cap;
    if (cap->invalid)
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    switch (op->kind) {
    case OP_COPY:
    case OP_COPY2D: {
        bool flat = op->kind == OP_COPY;
        const char *src = flat ? op->u.copy.src : op->u.copy2d.src;
        char *dst = flat ? op->u.copy.dst : op->u.copy2d.dst;
        size_t w = flat ? op->u.copy.n : op->u.copy2d.width, h = flat ? 1 : op->u.copy2d.height;
        size_t dp = flat ? w : op->u.copy2d.dpitch, sp = flat ? w : op->u.copy2d.spitch;
        if (!capturable_copy(dst, src, dp, sp, w, h)) {
            invalidate(cap);
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
        p.type = CU_GRAPH_NODE_TYPE_MEMCPY;
        p.u.copy.dst = dst;
        p.u.copy.src = src;
        p.u.copy.dpitch = dp;
        p.u.copy.spitch = sp;
        p.u.copy.width = w;
        p.u.copy.height = h;
        gparams_describe(&p);
        break;
    }
    case OP_SET:
    case OP_SET2D:
        p.type = CU_GRAPH_NODE_TYPE_MEMSET;
        p.u.set.dst = op->u.set.dst;
        p.u.set.n = op->u.set.n;
        p.u.set.es = op->u.set.es;
        p.u.set.value = op->u.set.value;
        p.u.set.pitch = op->u.set.pitch;
        p.u.set.height = op->u.set.height;
        gparams_describe(&p);
        break;
    case OP_HOSTFN:
        p.type = CU_GRAPH_NODE_TYPE_HOST;
        p.u.host.fn = op->u.host.fn;
        p.u.host.arg = op->u.host.arg;
        break;
    case OP_LAUNCH: {
        const void *params;
        p.type = CU_GRAPH_NODE_TYPE_KERNEL;
        launch_describe(op->u.launch, &p.u.k.f, p.u.k.grid, p.u.k.block, &p.u.k.shmem, &params, &p.u.k.len);
        if (!(p.u.k.bytes = malloc(p.u.k.len ? p.u.k.len : 1)))
            return CUDA_ERROR_OUT_OF_MEMORY;
        memcpy(p.u.k.bytes, params, p.u.k.len);
        break;
    }
    case OP_MEMOPS: {
        CUresult r = gparams_memops_of(&p, op->u.memops.ops, op->u.memops.n);
        if (r != CUDA_SUCCESS)
            return r;
        p.u.memops.ctx = (CUcontext)s->ctx;
        break;
    }
    default:
        /* records, waits and graph launches are handled before they get here */
        invalidate(cap);
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    struct gnode *n;
    CUresult r = graph_add_locked(cap->g, &p, s->cdeps, (size_t)s->ncdeps, &n);
    if (r != CUDA_SUCCESS) {
        gparams_release_locked(&p);
        return r;
    }
    if (!set_cdeps(s, &n, 1))
        return CUDA_ERROR_OUT_OF_MEMORY;
    op_discard_locked(op);
    return CUDA_SUCCESS;
}

CUresult capture_node_locked(struct stream *s, struct gparams *p)
{
    if (s->cap->invalid) {
        gparams_release_locked(p);
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    struct gnode *n;
    CUresult r = graph_add_locked(s->cap->g, p, s->cdeps, (size_t)s->ncdeps, &n);
    if (r != CUDA_SUCCESS) {
        gparams_release_locked(p);
        return r;
    }
    return set_cdeps(s, &n, 1) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult capture_event_node_locked(struct stream *s, struct event *e, CUgraphNodeType type)
{
    struct gparams p = {.type = type};
    p.u.ev = e;
    e->refs++;
    return capture_node_locked(s, &p);
}

CUresult capture_record_locked(struct event *e, struct stream *s, bool *handled)
{
    *handled = s->cap != NULL;
    if (!s->cap)
        return CUDA_SUCCESS;
    if (s->cap->invalid)
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    struct gnode **d = malloc(((size_t)s->ncdeps + 1) * sizeof *d);
    if (!d)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (s->ncdeps)
        memcpy(d, s->cdeps, (size_t)s->ncdeps * sizeof *d);
    capture_event_forget_locked(e);
    e->cap = s->cap;
    e->cap->refs++;
    e->cdeps = d;
    e->ncdeps = s->ncdeps;
    return CUDA_SUCCESS;
}

CUresult capture_wait_locked(struct stream *s, struct event *e, bool *handled)
{
    *handled = false;
    if (!e->cap) {
        if (!s->cap || !e->s)
            return CUDA_SUCCESS; /* ordinary, or a never-recorded event: no dependency */
        *handled = true;
        invalidate(s->cap); /* work outside the capture cannot be a node's dependency */
        return CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
    }
    *handled = true;
    struct capture *cap = e->cap;
    if (cap->ended)
        return CUDA_ERROR_STREAM_CAPTURE_ISOLATION; /* it stands for work that never runs */
    if (cap->invalid)
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (s->cap && s->cap != cap) {
        invalidate(s->cap);
        invalidate(cap);
        return CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
    }
    if (s->legacy || s->ctx != cap->origin->ctx) {
        invalidate(cap);
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    if (s->cap)
        return add_cdeps(s, e->cdeps, e->ncdeps) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
    return join(s, cap, e->cdeps, e->ncdeps); /* a fork: s joins the capture */
}

CUresult capture_sync_check_locked(struct stream *s, struct ctx *c, bool blocking_only)
{
    CUresult r = CUDA_SUCCESS;
    if (s) {
        if (s->cap) {
            invalidate(s->cap);
            r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
        return r;
    }
    for (struct stream *t = c->streams; t; t = t->next) {
        if (!t->cap || (blocking_only && (t->legacy || (t->flags & CU_STREAM_NON_BLOCKING))))
            continue;
        invalidate(t->cap);
        r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    return r;
}

/* ---- driver calls ---- */

/* A capture on hStream into g (NULL: a new graph of its own), after deps. */
static CUresult begin(CUstream hStream, struct graph *g, const CUgraphNode *deps, size_t ndeps,
                      CUstreamCaptureMode mode)
{
    if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
        mode != CU_STREAM_CAPTURE_MODE_RELAXED)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS && s->legacy)
        r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* the legacy stream cannot capture */
    if (r == CUDA_SUCCESS && s->cap)
        r = CUDA_ERROR_ILLEGAL_STATE;
    if (r == CUDA_SUCCESS && s->ctx->sticky)
        r = s->ctx->sticky;
    struct capture *cap = NULL;
    if (r == CUDA_SUCCESS && !(cap = calloc(1, sizeof *cap)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS && !(cap->g = g ? g : graph_new_locked()))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        cap->id = cpudev_new_id_locked();
        cap->mode = mode;
        cap->origin = s;
        cap->external = g != NULL;
        cap->g->capturing = cap;
        if ((r = join(s, cap, (struct gnode *const *)deps, (int)ndeps)) != CUDA_SUCCESS)
            cap->g->capturing = NULL;
    }
    if (r != CUDA_SUCCESS && cap) {
        if (cap->g && !g)
            graph_free_locked(cap->g);
        free(cap);
    }
    return r;
}

CUresult cpudev_cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
{
    CPUDEV_ENTER();
    cpudev_lock();
    CUresult r = begin(hStream, NULL, NULL, 0, mode);
    cpudev_unlock();
    return r;
}

/* Into the caller's graph, which stays the caller's: an invalidated capture
 * leaves it with the nodes added so far, and nothing frees it. Edges carry
 * no data on the CPU device (only the default type is offered). */
CUresult cpudev_cuStreamBeginCaptureToGraph(CUstream hStream, CUgraph hGraph, const CUgraphNode *dependencies,
                                            const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                            CUstreamCaptureMode mode)
{
    CPUDEV_ENTER();
    static const CUgraphEdgeData plain;
    for (size_t i = 0; dependencyData && i < numDependencies; i++)
        if (memcmp(&dependencyData[i], &plain, sizeof plain))
            return CUDA_ERROR_NOT_SUPPORTED;
    if (numDependencies > INT_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    struct graph *g;
    cpudev_lock();
    CUresult r = graph_lookup_locked(hGraph, &g);
    if (r == CUDA_SUCCESS && g->capturing)
        r = CUDA_ERROR_INVALID_VALUE; /* another capture builds it */
    if (r == CUDA_SUCCESS)
        r = graph_check_nodes_locked(g, dependencies, numDependencies);
    if (r == CUDA_SUCCESS)
        r = begin(hStream, g, dependencies, numDependencies, mode);
    cpudev_unlock();
    return r;
}

/* Mark the ancestors of n (n included) in seen[]. */
static void mark(struct gnode *n, bool *seen)
{
    if (seen[n->idx])
        return;
    seen[n->idx] = true;
    for (int i = 0; i < n->ndeps; i++)
        mark(n->deps[i], seen);
}

/* Every stream of the capture other than the origin has had its work
 * joined back into the origin: its dependencies are ancestors of the
 * origin's. */
static CUresult joined(struct capture *cap)
{
    bool *seen = calloc((size_t)cap->g->n + 1, sizeof *seen);
    if (!seen)
        return CUDA_ERROR_OUT_OF_MEMORY;
    for (int i = 0; i < cap->origin->ncdeps; i++)
        mark(cap->origin->cdeps[i], seen);
    CUresult r = CUDA_SUCCESS;
    for (struct stream *t = cap->origin->ctx->streams; t && r == CUDA_SUCCESS; t = t->next)
        for (int i = 0; t->cap == cap && t != cap->origin && i < t->ncdeps; i++)
            if (!seen[t->cdeps[i]->idx])
                r = CUDA_ERROR_STREAM_CAPTURE_UNJOINED;
    free(seen);
    return r;
}

CUresult cpudev_cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
{
    CPUDEV_ENTER();
    if (!phGraph)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS && !s->cap)
        r = CUDA_ERROR_ILLEGAL_STATE;
    if (r == CUDA_SUCCESS && s->cap->origin != s) {
        /* and the capture cannot be ended well any more: NVIDIA's driver
         * invalidates it (seen on an H200, driver 580) */
        s->cap->invalid = true;
        r = CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
    }
    if (r == CUDA_SUCCESS) {
        struct capture *cap = s->cap;
        r = cap->invalid ? CUDA_ERROR_STREAM_CAPTURE_INVALIDATED : joined(cap);
        struct graph *g = cap->g;
        bool external = cap->external;
        cap->ended = true;
        for (struct stream *t = s->ctx->streams; t; t = t->next)
            if (t->cap == cap && t != s)
                leave(t);
        g->capturing = NULL;
        cap->g = NULL;
        leave(s); /* may free cap: events recorded in it may still hold it */
        if (r == CUDA_SUCCESS) {
            *phGraph = (CUgraph)g;
        } else {
            if (!external)
                graph_free_locked(g);
            *phGraph = NULL;
        }
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamGetCaptureInfo_v3(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
                                          cuuint64_t *id_out, CUgraph *graph_out,
                                          const CUgraphNode **dependencies_out,
                                          const CUgraphEdgeData **edgeData_out, size_t *numDependencies_out)
{
    CPUDEV_ENTER();
    if (!captureStatus_out || (edgeData_out && !dependencies_out))
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS) {
        struct capture *cap = s->cap;
        bool active = cap && !cap->invalid;
        *captureStatus_out = !cap ? CU_STREAM_CAPTURE_STATUS_NONE
                                  : cap->invalid ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_ACTIVE;
        /* the other outputs describe an active capture only; the arrays stay
         * valid until the stream's capture dependencies change */
        if (id_out)
            *id_out = cap ? cap->id : 0;
        if (graph_out)
            *graph_out = active ? (CUgraph)cap->g : NULL;
        if (dependencies_out)
            *dependencies_out = active && s->ncdeps ? (const CUgraphNode *)s->cdeps : NULL;
        if (edgeData_out)
            *edgeData_out = active && s->ncdeps ? s->cedges : NULL;
        if (numDependencies_out)
            *numDependencies_out = active ? (size_t)s->ncdeps : 0;
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamUpdateCaptureDependencies_v2(CUstream hStream, CUgraphNode *dependencies,
                                                     const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                                     unsigned int flags)
{
    CPUDEV_ENTER();
    if (flags != CU_STREAM_ADD_CAPTURE_DEPENDENCIES && flags != CU_STREAM_SET_CAPTURE_DEPENDENCIES)
        return CUDA_ERROR_INVALID_VALUE;
    if (numDependencies > INT32_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS && !s->cap)
        r = CUDA_ERROR_ILLEGAL_STATE;
    if (r == CUDA_SUCCESS && s->cap->invalid)
        r = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (r == CUDA_SUCCESS)
        r = graph_check_nodes_locked(s->cap->g, dependencies, numDependencies);
    for (size_t i = 0; r == CUDA_SUCCESS && dependencyData && i < numDependencies; i++) {
        CUgraphEdgeData e;
        memcpy(&e, &dependencyData[i], sizeof e);
        if (e.from_port || e.to_port || e.type)
            r = CUDA_ERROR_NOT_SUPPORTED; /* programmatic edges are not emulated */
    }
    if (r == CUDA_SUCCESS) {
        struct gnode **d = malloc((numDependencies + 1) * sizeof *d);
        if (!d) {
            r = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            if (numDependencies)
                memcpy(d, dependencies, numDependencies * sizeof *d);
            bool ok = flags == CU_STREAM_SET_CAPTURE_DEPENDENCIES ? set_cdeps(s, d, 0) && add_cdeps(s, d, (int)numDependencies)
                                                                  : add_cdeps(s, d, (int)numDependencies);
            if (!ok)
                r = CUDA_ERROR_OUT_OF_MEMORY;
            free(d);
        }
    }
    cpudev_unlock();
    return r;
}
