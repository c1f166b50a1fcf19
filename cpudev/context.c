/*
 * context.c — contexts: the primary context, created ones, the calling
 * thread's current context, and per-context state (flags, limits, cache
 * preference).
 *
 * A context is "active" between activation and teardown. Activation gives it
 * a new id (cuCtxGetId) and a legacy default stream; teardown closes its
 * streams and events, waits for the work already queued, and frees the
 * memory allocated during that activation, with the modules loaded into it.
 * A failed kernel launch makes the activation sticky (struct ctx): only a
 * new activation (destroy and create, or reset) clears it. The primary
 * context's structure lives for the whole process: retaining it from zero
 * activates it, and releasing it to zero or resetting it tears it down.
 * Created contexts are activated at cuCtxCreate and freed by cuCtxDestroy.
 *
 * The current context is a thread-local binding. It records the context's
 * serial number as well as its address, so a binding to a destroyed context
 * is recognised (CONTEXT_IS_DESTROYED) even if a new context later reuses the
 * address.
 */
#include "internal.h"

#include <stdlib.h>

static _Thread_local struct ctx *tls_ctx;
static _Thread_local uint64_t tls_serial;

/* ---- lookup ---- */

CUresult ctx_current_locked(struct ctx **out)
{
    struct ctx *c = tls_ctx;
    if (!c)
        return CUDA_ERROR_INVALID_CONTEXT;
    /* Dereference only what the registry vouches for. */
    if (!reg_has_locked(c, H_CTX) || c->serial != tls_serial || !c->active)
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    *out = c;
    return CUDA_SUCCESS;
}

CUresult ctx_get_locked(CUcontext h, struct ctx **out)
{
    if (!h)
        return ctx_current_locked(out);
    if (!reg_has_locked(h, H_CTX))
        return CUDA_ERROR_INVALID_CONTEXT;
    struct ctx *c = (struct ctx *)h;
    if (!c->active)
        return CUDA_ERROR_CONTEXT_IS_DESTROYED; /* a primary context not retained */
    *out = c;
    return CUDA_SUCCESS;
}

/* Flags valid for a context: known bits and at most one scheduling policy.
 * Coredumps cannot be produced by this device. */
bool ctx_flags_valid(unsigned flags, CUresult *err)
{
    unsigned sched = flags & CU_CTX_SCHED_MASK;
    if ((flags & ~(unsigned)CU_CTX_FLAGS_MASK) ||
        (sched != CU_CTX_SCHED_AUTO && sched != CU_CTX_SCHED_SPIN && sched != CU_CTX_SCHED_YIELD &&
         sched != CU_CTX_SCHED_BLOCKING_SYNC)) {
        *err = CUDA_ERROR_INVALID_VALUE;
        return false;
    }
    if (flags & (CU_CTX_COREDUMP_ENABLE | CU_CTX_USER_COREDUMP_ENABLE)) {
        *err = CUDA_ERROR_NOT_SUPPORTED;
        return false;
    }
    return true;
}

/* ---- limits ---- */

static bool sync_depth_supported(void) { return cpudev.cfg.cc_major < 9; }

static void default_limits(struct ctx *c)
{
    int optin = 0;
    cpudev_attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &optin);
    c->limits[CU_LIMIT_STACK_SIZE] = 1024;
    c->limits[CU_LIMIT_PRINTF_FIFO_SIZE] = 1 << 20;
    c->limits[CU_LIMIT_MALLOC_HEAP_SIZE] = 8 << 20;
    c->limits[CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH] = 2;
    c->limits[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048;
    c->limits[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 64;
    c->limits[CU_LIMIT_PERSISTING_L2_CACHE_SIZE] = 0;
    c->limits[CU_LIMIT_SHMEM_SIZE] = (size_t)optin; /* not a CIG context: all of it */
    c->limits[CU_LIMIT_CIG_ENABLED] = 0;
    c->limits[CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED] = 1;
    c->cache = CU_FUNC_CACHE_PREFER_NONE;
}

/* ---- activation and teardown ---- */

CUresult ctx_sticky_locked(struct ctx *c, uint64_t id)
{
    /* Dereference only what the registry vouches for; a new activation
     * (a reset primary context) starts clean. */
    if (!reg_has_locked(c, H_CTX) || c->id != id)
        return CUDA_SUCCESS;
    return c->sticky;
}

static CUresult activate_locked(struct ctx *c)
{
    c->id = cpudev_new_id_locked();
    c->sticky = CUDA_SUCCESS;
    default_limits(c);
    struct stream *s;
    CUresult r = stream_create_locked(c, CU_STREAM_DEFAULT, 0, true, &s);
    if (r != CUDA_SUCCESS)
        return r;
    c->legacy = s;
    c->active = true;
    if (cpudev.cfg.worker_contexts)
        atomic_fetch_add(cpudev.cfg.worker_contexts, 1);
    return CUDA_SUCCESS;
}

static bool has_streams_of(const struct ctx *c, uint64_t id)
{
    for (const struct stream *s = c->streams; s; s = s->next)
        if (s->ctx_id == id)
            return true;
    return false;
}

/* Deactivate c: no new work or handles from here on; queued work completes,
 * then the activation's memory is freed. Waits (releasing cpudev.mu). */
static void teardown_locked(struct ctx *c)
{
    uint64_t id = c->id;
    c->active = false;
    if (cpudev.cfg.worker_contexts)
        atomic_fetch_sub(cpudev.cfg.worker_contexts, 1);
    while (c->events) {
        struct event *e = c->events;
        reg_del_locked(e);
        event_unlink_locked(e);
        event_unref_locked(e);
    }
    /* The worker keeps its own reference, so s survives its handle. */
    for (struct stream *s = c->streams; s; s = s->next)
        if (s->ctx_id == id && !s->closing)
            stream_destroy_locked(s);
    c->legacy = NULL;
    while (has_streams_of(c, id))
        pthread_cond_wait(&cpudev.done, &cpudev.mu);
    modules_teardown_locked(c);
    mem_free_owned(id);
}

bool ctx_init_primary(void)
{
    struct ctx *c = calloc(1, sizeof *c);
    if (!c || !reg_add_locked(c, H_CTX)) {
        free(c);
        return false;
    }
    c->primary = true;
    c->serial = cpudev_new_id_locked();
    default_limits(c);
    cpudev.primary = c;
    cpudev.ctxs = c;
    return true;
}

/* ---- current context ---- */

CUresult cpudev_cuCtxSetCurrent(CUcontext ctx)
{
    CPUDEV_ENTER();
    if (!ctx) {
        tls_ctx = NULL;
        tls_serial = 0;
        return CUDA_SUCCESS;
    }
    cpudev_lock();
    CUresult r = CUDA_ERROR_INVALID_CONTEXT;
    if (reg_has_locked(ctx, H_CTX)) {
        /* An inactive primary context may be bound (cudart binds it before
         * retaining it); calls fail until it is retained. */
        tls_ctx = (struct ctx *)ctx;
        tls_serial = tls_ctx->serial;
        r = CUDA_SUCCESS;
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuCtxGetCurrent(CUcontext *pctx)
{
    CPUDEV_ENTER();
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    /* The binding as it is, even to a destroyed context (as the driver). */
    *pctx = (CUcontext)tls_ctx;
    return CUDA_SUCCESS;
}

/* ---- primary context ---- */

CUresult cpudev_cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice d)
{
    CPUDEV_ENTER();
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (d != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    cpudev_lock();
    struct ctx *c = cpudev.primary;
    CUresult r = c->active ? CUDA_SUCCESS : activate_locked(c);
    if (r == CUDA_SUCCESS) {
        c->retain++;
        *pctx = (CUcontext)c;
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuDevicePrimaryCtxRelease_v2(CUdevice d)
{
    CPUDEV_ENTER();
    if (d != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    cpudev_lock();
    struct ctx *c = cpudev.primary;
    CUresult r = CUDA_SUCCESS;
    if (c->retain == 0)
        r = CUDA_ERROR_INVALID_CONTEXT;
    else if (c->retain == 1 && c->active)
        r = wait_permitted(); /* the last release tears down, which waits */
    if (r == CUDA_SUCCESS && --c->retain == 0 && c->active)
        teardown_locked(c);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuDevicePrimaryCtxReset_v2(CUdevice d)
{
    CPUDEV_ENTER();
    if (d != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    CUresult r = wait_permitted();
    if (r != CUDA_SUCCESS)
        return r;
    cpudev_lock();
    /* The retain count is kept: modules that retained the context release
     * it later, as the driver allows. */
    if (cpudev.primary->active)
        teardown_locked(cpudev.primary);
    cpudev_unlock();
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDevicePrimaryCtxGetState(CUdevice d, unsigned int *flags, int *active)
{
    CPUDEV_ENTER();
    if (!flags || !active)
        return CUDA_ERROR_INVALID_VALUE;
    if (d != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    cpudev_lock();
    *flags = cpudev.primary->flags;
    *active = cpudev.primary->active;
    cpudev_unlock();
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDevicePrimaryCtxSetFlags_v2(CUdevice d, unsigned int flags)
{
    CPUDEV_ENTER();
    if (d != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    CUresult r;
    if (!ctx_flags_valid(flags, &r))
        return r;
    cpudev_lock();
    cpudev.primary->flags = flags;
    cpudev_unlock();
    return CUDA_SUCCESS;
}

/* ---- created contexts ---- */

CUresult cpudev_cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice d)
{
    CPUDEV_ENTER();
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (d != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    CUresult r;
    if (!ctx_flags_valid(flags, &r))
        return r;
    struct ctx *c = calloc(1, sizeof *c);
    if (!c)
        return CUDA_ERROR_OUT_OF_MEMORY;
    cpudev_lock();
    r = reg_add_locked(c, H_CTX) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        c->serial = cpudev_new_id_locked();
        c->flags = flags;
        r = activate_locked(c);
        if (r != CUDA_SUCCESS)
            reg_del_locked(c);
    }
    if (r == CUDA_SUCCESS) {
        c->next = cpudev.ctxs->next; /* after the primary context */
        cpudev.ctxs->next = c;
        /* The driver pushes the new context: it becomes current. */
        tls_ctx = c;
        tls_serial = c->serial;
        *pctx = (CUcontext)c;
    }
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        free(c);
    return r;
}

CUresult cpudev_cuCtxDestroy_v2(CUcontext ctx)
{
    CPUDEV_ENTER();
    CUresult r = wait_permitted();
    if (r != CUDA_SUCCESS)
        return r;
    cpudev_lock();
    struct ctx *c = (struct ctx *)ctx;
    if (!ctx || !reg_has_locked(ctx, H_CTX) || c->primary) {
        cpudev_unlock();
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    /* Unregistered first: from here every other use of the handle fails. */
    reg_del_locked(c);
    teardown_locked(c);
    for (struct ctx **pp = &cpudev.ctxs; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (tls_ctx == c) {
        tls_ctx = NULL; /* popped, as by the driver */
        tls_serial = 0;
    }
    cpudev_unlock();
    free(c);
    return CUDA_SUCCESS;
}

/* In a context, nothing to do: no profiler watches the CPU device, and it
 * sets no L2 lines aside (MAX_PERSISTING_L2_CACHE_SIZE 0). */
static CUresult in_a_context(void)
{
    struct ctx *c;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuProfilerStart(void)
{
    CPUDEV_ENTER();
    return in_a_context();
}

CUresult cpudev_cuProfilerStop(void)
{
    CPUDEV_ENTER();
    return in_a_context();
}

CUresult cpudev_cuCtxResetPersistingL2Cache(void)
{
    CPUDEV_ENTER();
    return in_a_context();
}

CUresult cpudev_cuCtxSynchronize(void)
{
    CPUDEV_ENTER();
    CUresult r = wait_permitted();
    if (r != CUDA_SUCCESS)
        return r;
    struct ctx *c;
    struct waitset ws;
    ws_init(&ws);
    cpudev_lock();
    r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS)
        r = capture_sync_check_locked(NULL, c, false);
    if (r == CUDA_SUCCESS && !ws_add_ctx_locked(&ws, c))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        uint64_t id = c->id; /* c may be destroyed while we wait */
        ws_wait_locked(&ws);
        r = ctx_sticky_locked(c, id);
    }
    ws_release_locked(&ws);
    cpudev_unlock();
    return r;
}

/* ---- per-context state ---- */

/* Run on the current context with cpudev.mu held. */
#define WITH_CURRENT(c, body)                                                                      \
    do {                                                                                           \
        struct ctx *c;                                                                             \
        cpudev_lock();                                                                             \
        CUresult r_ = ctx_current_locked(&c);                                                      \
        if (r_ == CUDA_SUCCESS) {                                                                  \
            body;                                                                                  \
        }                                                                                          \
        cpudev_unlock();                                                                           \
        return r_;                                                                                 \
    } while (0)

static bool limit_known(CUlimit limit)
{
    if ((int)limit < 0 || limit >= CU_LIMIT_MAX)
        return false;
    return limit != CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH || sync_depth_supported();
}

CUresult cpudev_cuCtxGetLimit(size_t *pvalue, CUlimit limit)
{
    CPUDEV_ENTER();
    if (!pvalue)
        return CUDA_ERROR_INVALID_VALUE;
    if (!limit_known(limit))
        return CUDA_ERROR_UNSUPPORTED_LIMIT;
    WITH_CURRENT(c, *pvalue = c->limits[limit]);
}

CUresult cpudev_cuCtxSetLimit(CUlimit limit, size_t value)
{
    CPUDEV_ENTER();
    if (!limit_known(limit))
        return CUDA_ERROR_UNSUPPORTED_LIMIT;
    switch (limit) {
    case CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH:
        if (value > 24) /* the deepest the device runtime nests */
            return CUDA_ERROR_INVALID_VALUE;
        break;
    case CU_LIMIT_MAX_L2_FETCH_GRANULARITY:
        if (value > 128) /* a hint: clamped, as the driver may */
            value = 128;
        break;
    case CU_LIMIT_PERSISTING_L2_CACHE_SIZE:
        value = 0; /* clamped to CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE */
        break;
    case CU_LIMIT_SHMEM_SIZE:
    case CU_LIMIT_CIG_ENABLED:
        return CUDA_ERROR_INVALID_VALUE; /* query only */
    case CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED:
        value = value != 0;
        break;
    default:
        break;
    }
    WITH_CURRENT(c, c->limits[limit] = value);
}

CUresult cpudev_cuCtxGetCacheConfig(CUfunc_cache *pconfig)
{
    CPUDEV_ENTER();
    if (!pconfig)
        return CUDA_ERROR_INVALID_VALUE;
    WITH_CURRENT(c, *pconfig = c->cache);
}

CUresult cpudev_cuCtxSetCacheConfig(CUfunc_cache config)
{
    CPUDEV_ENTER();
    if (config != CU_FUNC_CACHE_PREFER_NONE && config != CU_FUNC_CACHE_PREFER_SHARED &&
        config != CU_FUNC_CACHE_PREFER_L1 && config != CU_FUNC_CACHE_PREFER_EQUAL)
        return CUDA_ERROR_INVALID_VALUE;
    WITH_CURRENT(c, c->cache = config);
}

/* Banks are four bytes wide, fixed: a setting changes nothing, as on every
 * GPU since Maxwell (the driver accepts it there too). */
bool bank_config_known(CUsharedconfig c)
{
    return c == CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE || c == CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE ||
           c == CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE;
}

CUresult cpudev_cuCtxGetSharedMemConfig(CUsharedconfig *pConfig)
{
    CPUDEV_ENTER();
    if (!pConfig)
        return CUDA_ERROR_INVALID_VALUE;
    WITH_CURRENT(c, ((void)c, *pConfig = CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE));
}

CUresult cpudev_cuCtxSetSharedMemConfig(CUsharedconfig config)
{
    CPUDEV_ENTER();
    if (!bank_config_known(config))
        return CUDA_ERROR_INVALID_VALUE;
    WITH_CURRENT(c, (void)c);
}

CUresult cpudev_cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
    CPUDEV_ENTER();
    WITH_CURRENT(c, {
        (void)c;
        if (leastPriority)
            *leastPriority = CPUDEV_PRIO_LEAST;
        if (greatestPriority)
            *greatestPriority = CPUDEV_PRIO_GREATEST;
    });
}

CUresult cpudev_cuCtxGetFlags(unsigned int *flags)
{
    CPUDEV_ENTER();
    if (!flags)
        return CUDA_ERROR_INVALID_VALUE;
    WITH_CURRENT(c, *flags = c->flags);
}

CUresult cpudev_cuCtxSetFlags(unsigned int flags)
{
    CPUDEV_ENTER();
    CUresult r;
    if (!ctx_flags_valid(flags, &r))
        return r;
    WITH_CURRENT(c, c->flags = flags);
}

CUresult cpudev_cuCtxGetId(CUcontext ctx, unsigned long long *ctxId)
{
    CPUDEV_ENTER();
    if (!ctxId)
        return CUDA_ERROR_INVALID_VALUE;
    struct ctx *c;
    cpudev_lock();
    CUresult r = ctx_get_locked(ctx, &c);
    if (r == CUDA_SUCCESS)
        *ctxId = c->id;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
    CPUDEV_ENTER();
    if (!version)
        return CUDA_ERROR_INVALID_VALUE;
    struct ctx *c;
    cpudev_lock();
    CUresult r = ctx_get_locked(ctx, &c);
    if (r == CUDA_SUCCESS)
        *version = CPUDEV_CTX_API_VERSION;
    cpudev_unlock();
    return r;
}
