/*
 * custom.c — server handlers for the calls whose arguments carry host memory
 * or client code (X_ASYNC and W_ASYNC rows of calls.def).
 *
 * Host memory never crosses as a pointer: host->device bytes arrive as the
 * request's bulk payload and stay alive until the stream has consumed them;
 * device->host bytes go to a staging buffer and are sent back as a DATA
 * message once the stream has passed the copy, before any reply that could
 * show the copy done: by a host function queued right after it on the CPU
 * device, by a completion (completions.h) where host functions would wait
 * for one another (the NVIDIA driver).
 * Client host functions run on the client: the server queues a trampoline
 * that sends CALLBACK and waits for CALLBACK_DONE.
 */
#define _GNU_SOURCE /* ppoll, POLLRDHUP */
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpudev.h"
#include "log.h"
#include "relay.h"
#include "worker.h"

/* Device->host copies of at least this size skip the staging copy on the CPU
 * device (see dtoh_direct). */
#define DIRECT_DTOH_MIN (64u * 1024u)

struct landing {
    struct worker *w;
    uint32_t seq;
    void *staging;
    uint64_t len;
};

static void land_done(void *p, CUresult r)
{
    struct landing *l = p;
    struct rgpu_hdr h = {.type = RGPU_MSG_DATA, .seq = l->seq, .result = r};
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    if (r == CUDA_SUCCESS)
        rgpu_wbuf_bulk(&wb, l->staging, l->len);
    worker_send(l->w, &h, &wb);
    bufpool_put(l->staging);
    free(l);
}

static void land_fn(void *p) { land_done(p, CUDA_SUCCESS); }

static void put_done(void *buf, CUresult r) { bufpool_put(buf); }
static void free_done(void *buf, CUresult r) { free(buf); }

/* Tell the client that a device->host copy it waits for will not come. */
static void land_failed(struct worker *w, uint32_t seq, CUresult r)
{
    struct rgpu_hdr h = {.type = RGPU_MSG_DATA, .seq = seq, .result = r};
    worker_send(w, &h, NULL);
}

/* Whether the copy just queued on s is done: the CPU device runs a small copy
 * on an idle stream before the call returns (cpudev/stream.c), so what would
 * follow it as a host function can run now, without waking the stream's
 * thread. Not asked of a GPU, where it is never done so soon. */
static bool done_already(struct srv_call *c, CUstream s)
{
    return c->w->device_is_host && c->w->be->cuStreamQuery(s) == CUDA_SUCCESS;
}

/* Queue delivery of staging (len bytes) on stream after the copy into it. */
static CUresult queue_landing(struct srv_call *c, CUstream s, void *staging, uint64_t len)
{
    struct landing *l = malloc(sizeof *l);
    if (!l) {
        /* The copy into staging is queued: let it finish before the caller
         * releases staging (the pool would hand it out again). */
        c->w->be->cuStreamSynchronize(s);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *l = (struct landing){c->w, c->hdr.seq, staging, len};
    if (done_already(c, s)) {
        land_fn(l);
        return CUDA_SUCCESS;
    }
    CUresult r = c->w->device_is_host ? c->w->be->cuLaunchHostFunc(s, land_fn, l)
                                      : completions_add(c->w, s, land_done, l, true);
    if (r != CUDA_SUCCESS) {
        /* The copy is queued but nothing will deliver it: wait, then send. */
        c->w->be->cuStreamSynchronize(s);
        land_fn(l);
        r = CUDA_SUCCESS;
    }
    return r;
}

/* Release the request's bulk (from the pool, or malloc when relayed) once
 * the stream has consumed it. */
static CUresult keep_until_done(struct srv_call *c, CUstream s, void *buf, bool pooled)
{
    if (!buf)
        return CUDA_SUCCESS;
    void (*release)(void *) = pooled ? bufpool_put : free;
    if (done_already(c, s)) {
        release(buf);
        return CUDA_SUCCESS;
    }
    CUresult r = c->w->device_is_host ? c->w->be->cuLaunchHostFunc(s, release, buf)
                                      : completions_add(c->w, s, pooled ? put_done : free_done, buf, false);
    if (r != CUDA_SUCCESS) {
        c->w->be->cuStreamSynchronize(s);
        release(buf);
    }
    return CUDA_SUCCESS;
}

/* A stream argument goes through the same checks as in generated code. */
static CUresult check_stream_arg(struct srv_call *c, CUstream *s);

bool custom_capturing(const struct rgpu_backend *be, CUstream s)
{
    CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
    return be->cuStreamGetCaptureInfo_v3(s, &st, NULL, NULL, NULL, NULL, NULL) == CUDA_SUCCESS &&
           st != CU_STREAM_CAPTURE_STATUS_NONE;
}

/* A copy that carries host memory cannot be captured: the bytes are the
 * request's (or a staging buffer's), gone before a graph could replay them.
 * Asked of the backend rather than left to it: a staging buffer is
 * page-locked memory, which a driver would capture. Querying the stream
 * invalidates the capture, as the application's own pageable copy would. */
static CUresult host_copy_capturable(struct srv_call *c, CUstream s)
{
    if (custom_capturing(c->w->be, s)) {
        c->w->be->cuStreamQuery(s);
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    return CUDA_SUCCESS;
}

static CUresult htod(struct srv_call *c)
{
    struct rgpu_args_cuMemcpyHtoDAsync_v2 *a = c->args;
    CUresult r = check_stream_arg(c, &a->hStream);
    if (r == CUDA_SUCCESS)
        r = host_copy_capturable(c, a->hStream);
    if (r != CUDA_SUCCESS)
        return r;
    r = c->w->be->cuMemcpyHtoDAsync_v2(a->dstDevice, a->srcHost, a->ByteCount, a->hStream);
    if (r == CUDA_SUCCESS && a->ByteCount) {
        void *bulk = c->bulk; /* srcHost points into it */
        c->bulk = NULL;
        keep_until_done(c, a->hStream, bulk, c->bulk_pooled);
    }
    return r;
}

/* The CPU device's memory is this process's memory: when the stream reaches
 * the copy, a host function sends the DATA message straight from the device
 * bytes, saving a full pass over the data (device -> staging) on the
 * server. The stream waits while they are sent, exactly as it waited for
 * the staging copy, so later work on it cannot change them first; memory
 * freed while the copy is queued stays mapped (cpudev/copy.c), as for any
 * queued copy. */
static void direct_fn(void *p)
{
    struct landing *l = p;
    struct rgpu_hdr h = {.type = RGPU_MSG_DATA, .seq = l->seq, .result = CUDA_SUCCESS};
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    rgpu_wbuf_bulk(&wb, l->staging, l->len);
    worker_send(l->w, &h, &wb);
    free(l);
}

/* CUDA_SUCCESS when the direct path took the copy; CUDA_ERROR_NOT_SUPPORTED
 * when it does not apply (the staging path then handles it, errors
 * included). */
static CUresult dtoh_direct(struct srv_call *c, CUdeviceptr src, uint64_t n, CUstream s)
{
    void *bytes;
    struct landing *l;
    if (!c->w->device_is_host || n < DIRECT_DTOH_MIN || !(bytes = cpudev_host_ptr(src, n)) ||
        !(l = malloc(sizeof *l)))
        return CUDA_ERROR_NOT_SUPPORTED;
    *l = (struct landing){c->w, c->hdr.seq, bytes, n};
    CUresult r = c->w->be->cuLaunchHostFunc(s, direct_fn, l);
    if (r != CUDA_SUCCESS)
        free(l);
    return r == CUDA_SUCCESS ? r : CUDA_ERROR_NOT_SUPPORTED;
}

static CUresult dtoh(struct srv_call *c)
{
    struct rgpu_args_cuMemcpyDtoHAsync_v2 *a = c->args;
    CUresult r = check_stream_arg(c, &a->hStream);
    if (r == CUDA_SUCCESS)
        r = host_copy_capturable(c, a->hStream);
    if (r == CUDA_SUCCESS && dtoh_direct(c, a->srcDevice, a->ByteCount, a->hStream) == CUDA_SUCCESS)
        return CUDA_SUCCESS;
    void *staging = NULL;
    if (r == CUDA_SUCCESS && a->ByteCount <= RGPU_MAX_BULK_LEN) {
        CUresult cr = dtoh_chunked(c, a->srcDevice, a->ByteCount, a->hStream);
        if (cr != CUDA_ERROR_NOT_SUPPORTED) {
            if (cr != CUDA_SUCCESS)
                land_failed(c->w, c->hdr.seq, cr);
            return cr;
        }
    }
    if (r == CUDA_SUCCESS && a->ByteCount > RGPU_MAX_BULK_LEN)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS && a->ByteCount && !(staging = bufpool_get(a->ByteCount)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS)
        r = c->w->be->cuMemcpyDtoHAsync_v2(staging, a->srcDevice, a->ByteCount, a->hStream);
    if (r == CUDA_SUCCESS)
        r = queue_landing(c, a->hStream, staging, a->ByteCount);
    if (r != CUDA_SUCCESS) {
        bufpool_put(staging);
        land_failed(c->w, c->hdr.seq, r);
    }
    return r;
}

/* A side of a copy the client may name: host (bytes that travel), device,
 * or an array (checked by known_array). */
static bool side_ok(CUmemorytype t)
{
    return t == CU_MEMORYTYPE_HOST || t == CU_MEMORYTYPE_DEVICE || t == CU_MEMORYTYPE_ARRAY;
}

/* An array side names an array this worker handed out. */
static bool known_array(struct srv_call *c, CUmemorytype t, CUarray a)
{
    return t != CU_MEMORYTYPE_ARRAY || (a && handles_has(&c->w->handles, HT_ARRAY, a));
}

CUresult custom_copy2d(struct srv_call *c, const CUDA_MEMCPY2D *cp, uint32_t srcZ, uint32_t dstZ, CUstream s)
{
    if (!srcZ && !dstZ)
        return c->w->be->cuMemcpy2DAsync_v2(cp, s);
    if ((srcZ && cp->srcMemoryType != CU_MEMORYTYPE_ARRAY) || (dstZ && cp->dstMemoryType != CU_MEMORYTYPE_ARRAY))
        return CUDA_ERROR_INVALID_VALUE; /* only an array has slices to name */
    CUDA_MEMCPY3D m = {
        .srcXInBytes = cp->srcXInBytes, .srcY = cp->srcY, .srcZ = srcZ, .srcMemoryType = cp->srcMemoryType,
        .srcHost = cp->srcHost, .srcDevice = cp->srcDevice, .srcArray = cp->srcArray, .srcPitch = cp->srcPitch,
        .srcHeight = cp->srcY + cp->Height,
        .dstXInBytes = cp->dstXInBytes, .dstY = cp->dstY, .dstZ = dstZ, .dstMemoryType = cp->dstMemoryType,
        .dstHost = cp->dstHost, .dstDevice = cp->dstDevice, .dstArray = cp->dstArray, .dstPitch = cp->dstPitch,
        .dstHeight = cp->dstY + cp->Height,
        .WidthInBytes = cp->WidthInBytes, .Height = cp->Height, .Depth = 1};
    return c->w->be->cuMemcpy3DAsync_v2(&m, s);
}

CUresult custom_array_side(struct srv_call *c, CUmemorytype t, CUarray a)
{
    if (t != CU_MEMORYTYPE_DEVICE && t != CU_MEMORYTYPE_ARRAY)
        return CUDA_ERROR_INVALID_VALUE;
    return known_array(c, t, a) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult memcpy2d(struct srv_call *c)
{
    struct rgpu_args_rgpu_memcpy2d *a = c->args;
    CUDA_MEMCPY2D cp = a->copy;
    void *staging = NULL;
    CUresult r = check_stream_arg(c, &a->hStream);
    bool to_host = cp.dstMemoryType == CU_MEMORYTYPE_HOST;
    if (r == CUDA_SUCCESS && (cp.srcMemoryType == CU_MEMORYTYPE_HOST || to_host))
        r = host_copy_capturable(c, a->hStream);
    if (r != CUDA_SUCCESS)
        goto out;
    /* The client resolves UNIFIED; host->host never travels. */
    if (!known_array(c, cp.srcMemoryType, cp.srcArray) || !known_array(c, cp.dstMemoryType, cp.dstArray)) {
        r = CUDA_ERROR_INVALID_HANDLE;
        goto out;
    }
    if (!side_ok(cp.srcMemoryType) || !side_ok(cp.dstMemoryType) || (cp.srcMemoryType == CU_MEMORYTYPE_HOST && to_host)) {
        r = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    if (cp.srcMemoryType == CU_MEMORYTYPE_HOST) {
        cp.srcHost = a->host;
        cp.srcPitch = cp.WidthInBytes;
        cp.srcXInBytes = cp.srcY = 0;
    }
    uint64_t dense = (uint64_t)cp.WidthInBytes * cp.Height;
    if (to_host) {
        if (cp.Height && dense / cp.Height != cp.WidthInBytes) {
            r = CUDA_ERROR_INVALID_VALUE;
            goto out;
        }
        if (dense && !(staging = bufpool_get(dense))) {
            r = CUDA_ERROR_OUT_OF_MEMORY;
            goto out;
        }
        cp.dstHost = staging;
        cp.dstPitch = cp.WidthInBytes;
        cp.dstXInBytes = cp.dstY = 0;
    }
    r = custom_copy2d(c, &cp, a->srcZ, a->dstZ, a->hStream);
    if (r == CUDA_SUCCESS && to_host) {
        r = queue_landing(c, a->hStream, staging, dense);
        if (r == CUDA_SUCCESS)
            staging = NULL; /* land_fn releases it */
    } else if (r == CUDA_SUCCESS && cp.srcMemoryType == CU_MEMORYTYPE_HOST) {
        void *bulk = c->bulk;
        c->bulk = NULL;
        keep_until_done(c, a->hStream, bulk, c->bulk_pooled);
    }
out:
    bufpool_put(staging);
    if (r != CUDA_SUCCESS && to_host)
        land_failed(c->w, c->hdr.seq, r);
    return r;
}

/* ---- host functions ---- */
struct cb_wait {
    struct cb_wait *next;
    uint64_t id;
    int done;
};

struct host_call {
    struct worker *w;
    uint64_t fn, user_data;
    bool keep;              /* a graph node's: called any number of times */
    CUstream stream;        /* not kept: its stream, and the last delivery */
    uint64_t mark;          /* queued there before it (completions_mark) */
    struct host_call *next; /* kept ones */
};

/* Kept host calls live until the worker exits: a graph (or an executable
 * graph made from it, which may outlive the graph) may call them again. */
static struct host_call *kept_calls;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

void *custom_host_call(struct worker *w, CUhostFn fn, void *userData, bool keep)
{
    struct host_call *hc = calloc(1, sizeof *hc);
    if (!hc)
        return NULL;
    *hc = (struct host_call){
        .w = w, .fn = (uint64_t)(uintptr_t)fn, .user_data = (uint64_t)(uintptr_t)userData, .keep = keep};
    if (keep) {
        pthread_mutex_lock(&kept_lock);
        hc->next = kept_calls;
        kept_calls = hc;
        pthread_mutex_unlock(&kept_lock);
        relay_host_nodes();
    } else {
        relay_host_call_begin(); /* until its trampoline has its CALLBACK_DONE */
    }
    return hc;
}

bool custom_host_call_client(const void *p, uint64_t *fn, uint64_t *user_data)
{
    bool found = false;
    pthread_mutex_lock(&kept_lock);
    for (const struct host_call *hc = kept_calls; hc && !found; hc = hc->next)
        if (hc == p) {
            *fn = hc->fn;
            *user_data = hc->user_data;
            found = true;
        }
    pthread_mutex_unlock(&kept_lock);
    return found;
}

static void host_call_free(struct host_call *hc)
{
    relay_host_call_end();
    free(hc);
}

void custom_host_trampoline(void *p)
{
    struct host_call *hc = p;
    struct worker *w = hc->w;
    struct cb_wait me = {.done = 0};
    pthread_mutex_lock(&w->cb_lock);
    me.id = ++w->cb_next_id;
    me.next = w->cb_waits;
    w->cb_waits = &me;
    pthread_mutex_unlock(&w->cb_lock);

    /* the function sees the bytes of the copies before it on its stream */
    completions_wait(hc->stream, hc->mark);
    struct rgpu_callback cb = {me.id, hc->fn, hc->user_data};
    struct rgpu_hdr h = {.type = RGPU_MSG_CALLBACK};
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    rgpu_wbuf_put(&wb, &cb, sizeof cb);
    /* not behind the send lock: its holder may wait in the driver for the
     * host-function thread, i.e. for this function */
    if (worker_send_nowait(w, &h, &wb) != 0)
        atomic_store(&w->dead, true);

    pthread_mutex_lock(&w->cb_lock);
    while (!me.done && !atomic_load(&w->dead))
        pthread_cond_wait(&w->cb_cond, &w->cb_lock);
    for (struct cb_wait **pp = &w->cb_waits; *pp; pp = &(*pp)->next)
        if (*pp == &me) {
            *pp = me.next;
            break;
        }
    pthread_mutex_unlock(&w->cb_lock);
    if (!hc->keep)
        host_call_free(hc);
}

/* CALLBACK_DONE from the client (reader thread). */
void custom_callback_done(struct worker *w, uint64_t id)
{
    pthread_mutex_lock(&w->cb_lock);
    for (struct cb_wait *cw = w->cb_waits; cw; cw = cw->next)
        if (cw->id == id)
            cw->done = 1;
    pthread_cond_broadcast(&w->cb_cond);
    pthread_mutex_unlock(&w->cb_lock);
}

/* Connection lost: release every trampoline so streams can drain. */
void custom_connection_lost(struct worker *w)
{
    pthread_mutex_lock(&w->cb_lock);
    atomic_store(&w->dead, true);
    pthread_cond_broadcast(&w->cb_cond);
    pthread_mutex_unlock(&w->cb_lock);
}

/* rgpu_stream_fence: wait here, on the thread that reads (or relays) the
 * client's requests in order, until the stream's work is done, so that no
 * later request runs before it. The client sends one only when that work is
 * host-to-device copies (no host function the reader would have to answer,
 * nothing that waits for a later request). Polled rather than synchronised:
 * a client that fences work that never ends (a kernel that loops; a host
 * function whose end only the waiting reader could read) must still be
 * seen leaving, or its worker would outlive it. */
static CUresult stream_fence(struct srv_call *c)
{
    struct rgpu_args_rgpu_stream_fence *a = c->args;
    CUresult r = dispatch_check_stream(c, &a->hStream);
    long wait_ns = 20 * 1000; /* doubling to 1 ms: a short copy is seen done soon, a long wait costs little */
    for (unsigned turn = 0; r == CUDA_SUCCESS; turn++) {
        if ((r = c->w->be->cuStreamQuery(a->hStream)) != CUDA_ERROR_NOT_READY)
            return r;
        r = CUDA_SUCCESS;
        if (turn < 64) { /* a few small copies: let the stream's thread have the CPU */
            sched_yield();
            continue;
        }
        struct pollfd p = {.fd = c->w->fd, .events = POLLRDHUP};
        struct timespec wait = {0, wait_ns};
        if (ppoll(&p, 1, &wait, NULL) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            r = CUDA_ERROR_DEVICE_UNAVAILABLE; /* the client is gone: the reader finishes the connection */
        if (wait_ns < 1000 * 1000)
            wait_ns *= 2;
    }
    return r;
}

static CUresult host_func(struct srv_call *c)
{
    struct rgpu_args_cuLaunchHostFunc *a = c->args;
    CUresult r = check_stream_arg(c, &a->hStream);
    if (r != CUDA_SUCCESS)
        return r;
    if (!a->fn)
        return CUDA_ERROR_INVALID_VALUE;
    /* captured, it becomes a host node that may run many times */
    bool keep = custom_capturing(c->w->be, a->hStream);
    struct host_call *hc = custom_host_call(c->w, a->fn, a->userData, keep);
    if (!hc)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (!keep) {
        hc->stream = a->hStream;
        hc->mark = completions_mark(a->hStream);
    }
    r = c->w->be->cuLaunchHostFunc(a->hStream, custom_host_trampoline, hc);
    if (r != CUDA_SUCCESS && !keep)
        host_call_free(hc);
    return r;
}

CUresult custom_exec(struct srv_call *c)
{
    switch ((enum rgpu_call_id)c->hdr.call) {
    case RGPU_ID_cuMemcpyHtoDAsync_v2: return htod(c);
    case RGPU_ID_cuMemcpyDtoHAsync_v2: return dtoh(c);
    case RGPU_ID_rgpu_memcpy2d: return memcpy2d(c);
    case RGPU_ID_rgpu_hostpool_register:
    case RGPU_ID_rgpu_hostpool_unregister:
    case RGPU_ID_rgpu_htod_pool:
    case RGPU_ID_rgpu_dtoh_pool:
    case RGPU_ID_rgpu_memcpy2d_pool: return hostpool_exec(c);
    case RGPU_ID_cuLaunchHostFunc: return host_func(c);
    case RGPU_ID_rgpu_stream_fence: return stream_fence(c);
    case RGPU_ID_rgpu_module_load: return modules_load(c);
    case RGPU_ID_rgpu_library_load: return modules_library_load(c);
    case RGPU_ID_rgpu_func_info: return modules_func_info(c);
    case RGPU_ID_rgpu_func_attrs: return modules_func_attrs(c);
    case RGPU_ID_rgpu_kernel_attrs: return modules_kernel_attrs(c);
    case RGPU_ID_rgpu_launch: return modules_launch(c);
    case RGPU_ID_rgpu_launch_ex: return modules_launch_ex(c);
    case RGPU_ID_rgpu_occupancy_clusters:
    case RGPU_ID_rgpu_occupancy_cluster_size: return modules_occupancy_clusters(c);
    case RGPU_ID_rgpu_tensor_map_tiled: return modules_tensor_map_tiled(c);
    case RGPU_ID_rgpu_link: return link_run(c);
    case RGPU_ID_rgpu_link_image: return link_image(c);
    case RGPU_ID_rgpu_managed_read:
    case RGPU_ID_rgpu_managed_write: return managed_exec(c);
    case RGPU_ID_rgpu_capture_info:
    case RGPU_ID_rgpu_end_capture:
    case RGPU_ID_rgpu_graph_add_host:
    case RGPU_ID_rgpu_graph_mem_alloc:
    case RGPU_ID_rgpu_graph_mem_alloc_params:
    case RGPU_ID_rgpu_graph_memops:
    case RGPU_ID_rgpu_graph_conditional:
    case RGPU_ID_rgpu_graph_memops_params:
    case RGPU_ID_rgpu_graph_host_get:
    case RGPU_ID_rgpu_graph_host_set:
    case RGPU_ID_rgpu_graph_kernel:
    case RGPU_ID_rgpu_graph_kernel_params:
    case RGPU_ID_rgpu_graph_nodes:
    case RGPU_ID_rgpu_graph_exec_update: return graphs_exec(c);
    default: return CUDA_ERROR_NOT_SUPPORTED;
    }
}

static CUresult check_stream_arg(struct srv_call *c, CUstream *s) { return dispatch_check_stream(c, s); }
