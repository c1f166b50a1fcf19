/*
 * handles.c — see handles.h. The special streams (NULL, CU_STREAM_LEGACY,
 * CU_STREAM_PER_THREAD) are always valid; no executable graph is NULL.
 */
#include "handles.h"
#include "capture.h"

#include <pthread.h>

#include "context.h"
#include "ptrset.h"

enum { H_STREAM = 1, H_EVENT = 2, H_GRAPH_EXEC = 3 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ptrset set;

/* A handle already known is one handed back (an event node's event): it
 * keeps the context that owns it. */
static void add(int type, const void *h)
{
    struct ptrset_entry e = {.key = (uintptr_t)h, .owner = (uintptr_t)rgpu_ctx_current(), .type = (uint8_t)type};
    pthread_mutex_lock(&lock);
    const struct ptrset_entry *old = set.tab ? ptrset_find(&set, e.key) : NULL;
    bool ok = (old && old->type == type) || ((set.tab || ptrset_init(&set)) && ptrset_put(&set, &e));
    pthread_mutex_unlock(&lock);
    if (!ok)
        rgpu_err("out of memory tracking handle %p", h);
}

static CUresult check(int type, const void *h)
{
    pthread_mutex_lock(&lock);
    struct ptrset_entry *e = ptrset_find(&set, (uintptr_t)h);
    bool ok = e && e->type == type;
    pthread_mutex_unlock(&lock);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult rgpu_stream_check(CUstream s)
{
    if (s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD)
        return CUDA_SUCCESS;
    return check(H_STREAM, s);
}

CUresult rgpu_event_check(CUevent e) { return check(H_EVENT, e); }
CUresult rgpu_graph_exec_check(CUgraphExec x) { return x ? check(H_GRAPH_EXEC, x) : CUDA_ERROR_INVALID_VALUE; }
void rgpu_stream_added(CUstream s) { add(H_STREAM, s); }
void rgpu_event_added(CUevent e) { add(H_EVENT, e); }
void rgpu_graph_exec_added(CUgraphExec x) { add(H_GRAPH_EXEC, x); }

void rgpu_handle_removed(const void *h)
{
    rgpu_capture_forget(h); /* a destroyed stream's capture is over */
    pthread_mutex_lock(&lock);
    ptrset_del(&set, (uintptr_t)h);
    pthread_mutex_unlock(&lock);
}

static bool owned(const struct ptrset_entry *e, void *ctx) { return e->owner == (uintptr_t)ctx; }

void rgpu_handles_drop_ctx(CUcontext ctx)
{
    pthread_mutex_lock(&lock);
    if (set.tab)
        ptrset_filter(&set, owned, ctx);
    pthread_mutex_unlock(&lock);
}
