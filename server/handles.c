/*
 * handles.c — the handles a worker gave out (see handles.h), kept in a
 * ptrset under one lock.
 */
#include "handles.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

void handles_init(struct handles *hs)
{
    memset(hs, 0, sizeof *hs);
    pthread_mutex_init(&hs->lock, NULL);
    if (!ptrset_init(&hs->set))
        abort(); /* a worker that cannot track handles cannot keep its promises */
}

bool handles_has(struct handles *hs, int type, const void *h)
{
    pthread_mutex_lock(&hs->lock);
    struct ptrset_entry *e = ptrset_find(&hs->set, (uintptr_t)h);
    bool ok = e && e->type == type;
    pthread_mutex_unlock(&hs->lock);
    return ok;
}

static void add(struct handles *hs, int type, const void *h, CUcontext owner, uint32_t tid, uint8_t flags)
{
    struct ptrset_entry e = {(uintptr_t)h, (uintptr_t)owner, tid, (uint8_t)type, flags};
    pthread_mutex_lock(&hs->lock);
    bool ok = ptrset_put(&hs->set, &e);
    pthread_mutex_unlock(&hs->lock);
    if (!ok)
        rgpu_err("out of memory tracking handle %p; the client cannot use it", h);
}

void handles_add(struct handles *hs, int type, const void *h, CUcontext owner) { add(hs, type, h, owner, 0, 0); }

void handles_add_per_thread(struct handles *hs, CUstream s, uint32_t tid, CUcontext owner)
{
    add(hs, HT_STREAM, s, owner, tid, 1);
    pthread_mutex_lock(&hs->lock);
    if (hs->npt == (int)(sizeof hs->pt / sizeof hs->pt[0])) {
        /* forget streams whose context has gone */
        int k = 0;
        for (int i = 0; i < hs->npt; i++)
            if (ptrset_find(&hs->set, (uintptr_t)hs->pt[i]))
                hs->pt[k++] = hs->pt[i];
        hs->npt = k;
    }
    if (hs->npt < (int)(sizeof hs->pt / sizeof hs->pt[0]))
        hs->pt[hs->npt++] = s;
    else
        rgpu_warn("more than %d per-thread default streams; the client thread gets a new one each call",
                  (int)(sizeof hs->pt / sizeof hs->pt[0]));
    pthread_mutex_unlock(&hs->lock);
}

void handles_del(struct handles *hs, const void *h)
{
    pthread_mutex_lock(&hs->lock);
    ptrset_del(&hs->set, (uintptr_t)h);
    pthread_mutex_unlock(&hs->lock);
}

struct drop_arg {
    uintptr_t ctx;
    bool with_ctx;
};

static bool owned_by(const struct ptrset_entry *e, void *p)
{
    const struct drop_arg *a = p;
    return (e->type != HT_CTX && e->owner == a->ctx) || (a->with_ctx && e->key == a->ctx);
}

void handles_drop_owned(struct handles *hs, CUcontext ctx, bool with_ctx)
{
    struct drop_arg a = {(uintptr_t)ctx, with_ctx};
    pthread_mutex_lock(&hs->lock);
    ptrset_filter(&hs->set, owned_by, &a);
    pthread_mutex_unlock(&hs->lock);
}

/* Per-thread streams are few (one per client thread and context) and found
 * once per request that names CU_STREAM_PER_THREAD: a small list suffices. */
CUstream handles_per_thread(struct handles *hs, uint32_t tid, CUcontext ctx)
{
    CUstream s = NULL;
    pthread_mutex_lock(&hs->lock);
    for (int i = 0; i < hs->npt && !s; i++) {
        struct ptrset_entry *e = ptrset_find(&hs->set, (uintptr_t)hs->pt[i]);
        if (e && e->flags && e->tid == tid && e->owner == (uintptr_t)ctx)
            s = hs->pt[i];
    }
    pthread_mutex_unlock(&hs->lock);
    return s;
}
