/*
 * context.c — primary and created contexts, and the per-thread current
 * context stack (see context.h).
 */
#include "context.h"

#include <pthread.h>
#include <string.h>

#include "cls.h"
#include "conn.h"
#include "funcinfo.h"
#include "handles.h"
#include "mapped.h"
#include "memory.h"

#define MAX_CTX 256
#define STACK_DEPTH 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    CUcontext ctx;
    CUdevice dev;
    bool primary;
    /* cuCtxGetId's answer once asked (0: not yet): constant for the
     * context's life. cuBLAS asks it before every call. */
    unsigned long long id;
    unsigned id_gen; /* bumped when the id is dropped (a reset) */
} known[MAX_CTX];

static CUcontext primary_ctx[16];  /* per device, once retained */
static int primary_refs[16];

static _Thread_local CUcontext stack[STACK_DEPTH];
static _Thread_local int depth;

CUresult rgpu_check_init(void) { return rgpu_conn_ready() ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED; }

CUcontext rgpu_ctx_current(void) { return depth ? stack[depth - 1] : NULL; }

static int find(CUcontext ctx)
{
    for (int i = 0; i < MAX_CTX; i++)
        if (known[i].ctx == ctx)
            return i;
    return -1;
}

static void remember(CUcontext ctx, CUdevice dev, bool primary)
{
    pthread_mutex_lock(&lock);
    if (find(ctx) < 0) {
        int i = find(NULL);
        if (i >= 0)
            known[i].ctx = ctx, known[i].dev = dev, known[i].primary = primary;
        else
            rgpu_err("more than %d live contexts; context %p is not tracked", MAX_CTX, (void *)ctx);
    }
    pthread_mutex_unlock(&lock);
}

/* What the end of a context (destroyed, reset, last primary release) takes
 * with it on this side: its handles, mapped mirrors and device allocations,
 * and the answers kept about functions. */
static void ended(CUcontext ctx)
{
    if (ctx) {
        rgpu_handles_drop_ctx(ctx);
        rgpu_mapped_drop_ctx(ctx);
        rgpu_memory_drop_ctx(ctx);
    }
    rgpu_func_info_flush();
}

static void forget(CUcontext ctx)
{
    pthread_mutex_lock(&lock);
    int i = find(ctx);
    if (i >= 0) {
        unsigned gen = known[i].id_gen; /* a GetId in flight must not fill the slot's next context */
        memset(&known[i], 0, sizeof known[i]);
        known[i].id_gen = gen + 1;
    }
    pthread_mutex_unlock(&lock);
    /* Only this thread's stack can be fixed here; other threads holding it get
     * INVALID_CONTEXT from the server, as they would from the driver. */
    for (int k = 0; k < depth; k++)
        if (stack[k] == ctx)
            stack[k] = NULL;
}

bool rgpu_ctx_device(CUcontext ctx, CUdevice *dev)
{
    pthread_mutex_lock(&lock);
    int i = ctx ? find(ctx) : -1;
    if (i >= 0)
        *dev = known[i].dev;
    pthread_mutex_unlock(&lock);
    return i >= 0;
}

static bool valid_device(CUdevice dev) { return rgpu_conn_device(dev) != NULL; }

/* ---- current context ---- */
RGPU_API CUresult cuCtxGetCurrent(CUcontext *pctx)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    *pctx = rgpu_ctx_current();
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuCtxSetCurrent(CUcontext ctx)
{
    CUresult r = rgpu_check_init();
    CUdevice dev;
    if (r)
        return r;
    if (ctx && !rgpu_ctx_device(ctx, &dev))
        return CUDA_ERROR_INVALID_CONTEXT;
    if (depth == 0) {
        if (!ctx)
            return CUDA_SUCCESS;
        depth = 1;
    }
    stack[depth - 1] = ctx;
    if (!ctx)
        depth--;
    return CUDA_SUCCESS;
}

static CUresult push(CUcontext ctx)
{
    CUresult r = rgpu_check_init();
    CUdevice dev;
    if (r)
        return r;
    if (!ctx || !rgpu_ctx_device(ctx, &dev))
        return CUDA_ERROR_INVALID_CONTEXT;
    if (depth == STACK_DEPTH)
        return CUDA_ERROR_OUT_OF_MEMORY;
    stack[depth++] = ctx;
    return CUDA_SUCCESS;
}

static CUresult pop(CUcontext *pctx)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (depth == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    CUcontext c = stack[--depth];
    if (pctx)
        *pctx = c;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuCtxPushCurrent_v2(CUcontext ctx) { return push(ctx); }
RGPU_API CUresult cuCtxPushCurrent(CUcontext ctx) { return push(ctx); }
RGPU_API CUresult cuCtxPopCurrent_v2(CUcontext *pctx) { return pop(pctx); }
RGPU_API CUresult cuCtxPopCurrent(CUcontext *pctx) { return pop(pctx); }

static CUresult get_device(CUdevice *device, CUcontext ctx)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    if (!ctx && !(ctx = rgpu_ctx_current()))
        return CUDA_ERROR_INVALID_CONTEXT;
    return rgpu_ctx_device(ctx, device) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

RGPU_API CUresult cuCtxGetDevice(CUdevice *device) { return get_device(device, NULL); }
RGPU_API CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx) { return get_device(device, ctx); }

/* ---- creation and destruction ---- */
RGPU_API CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(dev))
        return CUDA_ERROR_INVALID_DEVICE;
    struct rgpu_args_cuCtxCreate_v2 a = {.flags = flags, .dev = dev};
    r = rgpu_remote(RGPU_ID_cuCtxCreate_v2, &a);
    if (r)
        return r;
    remember(a.pctx, dev, false);
    push(a.pctx); /* a new context becomes current, as with the driver */
    *pctx = a.pctx;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev) { return cuCtxCreate_v2(pctx, flags, dev); }

RGPU_API CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int n, unsigned int flags, CUdevice dev)
{
    if (n > 0 && params)
        return CUDA_ERROR_NOT_SUPPORTED; /* execution affinity (SM partitions) is not remoted */
    return cuCtxCreate_v2(pctx, flags, dev);
}

RGPU_API CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags, CUdevice dev)
{
    if (params && (params->execAffinityParams || params->numExecAffinityParams || params->cigParams))
        return CUDA_ERROR_NOT_SUPPORTED;
    return cuCtxCreate_v2(pctx, flags, dev);
}

RGPU_API CUresult cuCtxDestroy_v2(CUcontext ctx)
{
    CUresult r = rgpu_check_init();
    CUdevice dev;
    if (r)
        return r;
    if (!ctx || !rgpu_ctx_device(ctx, &dev))
        return CUDA_ERROR_INVALID_CONTEXT;
    pthread_mutex_lock(&lock);
    int i = find(ctx);
    bool primary = i >= 0 && known[i].primary;
    pthread_mutex_unlock(&lock);
    if (primary)
        return CUDA_ERROR_INVALID_CONTEXT; /* primary contexts are released, not destroyed */
    rgpu_cls_on_reset(ctx); /* while the context still works for the destructors */
    struct rgpu_args_cuCtxDestroy_v2 a = {.ctx = ctx};
    r = rgpu_remote(RGPU_ID_cuCtxDestroy_v2, &a);
    if (r == CUDA_SUCCESS) {
        forget(ctx);
        ended(ctx);
    }
    return r;
}

RGPU_API CUresult cuCtxDestroy(CUcontext ctx) { return cuCtxDestroy_v2(ctx); }

/* The id of ctx (NULL: the current context), asked once per context. */
RGPU_API CUresult cuCtxGetId(CUcontext ctx, unsigned long long *ctxId)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!ctxId)
        return CUDA_ERROR_INVALID_VALUE;
    if (!ctx)
        ctx = rgpu_ctx_current();
    pthread_mutex_lock(&lock);
    int i = ctx ? find(ctx) : -1;
    unsigned long long id = i >= 0 ? known[i].id : 0;
    unsigned gen = i >= 0 ? known[i].id_gen : 0;
    pthread_mutex_unlock(&lock);
    if (id) {
        *ctxId = id;
        return CUDA_SUCCESS;
    }
    struct rgpu_args_cuCtxGetId a = {.ctx = ctx};
    if ((r = rgpu_remote(RGPU_ID_cuCtxGetId, &a)) != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    if (i >= 0 && known[i].ctx == ctx && known[i].id_gen == gen)
        known[i].id = a.ctxId;
    pthread_mutex_unlock(&lock);
    *ctxId = a.ctxId;
    return CUDA_SUCCESS;
}

/* A primary context's id does not survive its end (last release, reset). */
static void drop_id(CUcontext ctx)
{
    pthread_mutex_lock(&lock);
    int i = ctx ? find(ctx) : -1;
    if (i >= 0) {
        known[i].id = 0;
        known[i].id_gen++;
    }
    pthread_mutex_unlock(&lock);
}

/* ---- primary contexts ---- */
RGPU_API CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(dev))
        return CUDA_ERROR_INVALID_DEVICE;
    struct rgpu_args_cuDevicePrimaryCtxRetain a = {.dev = dev};
    r = rgpu_remote(RGPU_ID_cuDevicePrimaryCtxRetain, &a);
    if (r)
        return r;
    remember(a.pctx, dev, true);
    pthread_mutex_lock(&lock);
    if (dev < 16) {
        primary_ctx[dev] = a.pctx;
        primary_refs[dev]++;
    }
    pthread_mutex_unlock(&lock);
    *pctx = a.pctx;
    return CUDA_SUCCESS;
}

static CUresult primary_release(CUdevice dev)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!valid_device(dev))
        return CUDA_ERROR_INVALID_DEVICE;
    if (dev < 16) {
        /* the last release ends the context: its local storage goes first */
        pthread_mutex_lock(&lock);
        CUcontext c = primary_refs[dev] == 1 ? primary_ctx[dev] : NULL;
        pthread_mutex_unlock(&lock);
        rgpu_cls_on_reset(c);
    }
    struct rgpu_args_cuDevicePrimaryCtxRelease_v2 a = {.dev = dev};
    r = rgpu_remote(RGPU_ID_cuDevicePrimaryCtxRelease_v2, &a);
    if (r == CUDA_SUCCESS && dev < 16) {
        /* the last release tears the primary context's streams and events down */
        pthread_mutex_lock(&lock);
        bool last = primary_refs[dev] > 0 && --primary_refs[dev] == 0;
        CUcontext c = primary_ctx[dev];
        pthread_mutex_unlock(&lock);
        if (last) {
            drop_id(c);
            ended(c);
        }
    }
    return r;
}

static CUresult primary_reset(CUdevice dev)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!valid_device(dev))
        return CUDA_ERROR_INVALID_DEVICE;
    if (dev < 16) {
        /* context-local storage destructors run before the teardown, while
         * the context still works for them (they may unload its modules) */
        pthread_mutex_lock(&lock);
        CUcontext c = primary_ctx[dev];
        pthread_mutex_unlock(&lock);
        rgpu_cls_on_reset(c);
    }
    struct rgpu_args_cuDevicePrimaryCtxReset_v2 a = {.dev = dev};
    r = rgpu_remote(RGPU_ID_cuDevicePrimaryCtxReset_v2, &a);
    if (r == CUDA_SUCCESS && dev < 16) {
        /* the retain count survives a reset; the resources do not */
        pthread_mutex_lock(&lock);
        CUcontext c = primary_ctx[dev];
        pthread_mutex_unlock(&lock);
        drop_id(c);
        ended(c);
    }
    return r;
}

RGPU_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) { return primary_release(dev); }
RGPU_API CUresult cuDevicePrimaryCtxRelease(CUdevice dev) { return primary_release(dev); }
RGPU_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) { return primary_reset(dev); }
RGPU_API CUresult cuDevicePrimaryCtxReset(CUdevice dev) { return primary_reset(dev); }
RGPU_API CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
    return cuDevicePrimaryCtxSetFlags_v2(dev, flags);
}

/* ---- synchronisation of a named context ---- */
RGPU_API CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
    CUresult r = rgpu_check_init();
    CUdevice dev;
    if (r)
        return r;
    if (!ctx || ctx == rgpu_ctx_current())
        return cuCtxSynchronize();
    if (!rgpu_ctx_device(ctx, &dev))
        return CUDA_ERROR_INVALID_CONTEXT;
    /* The server synchronises the request's current context: make ctx current
     * for this one call. */
    if ((r = push(ctx)) != CUDA_SUCCESS)
        return r;
    r = cuCtxSynchronize();
    pop(NULL);
    return r;
}
