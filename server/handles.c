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
    if (!ptrset_init(&hs->set) || !ptrset_init(&hs->streams) || !ptrset_init(&hs->mem))
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

struct streams_arg {
    CUcontext ctx;
    CUstream *out;
    int max, n;
};

static bool collect_stream(const struct ptrset_entry *e, void *p)
{
    struct streams_arg *a = p;
    if (e->type == HT_STREAM && e->owner == (uintptr_t)a->ctx) {
        if (a->n < a->max)
            a->out[a->n] = (CUstream)e->key;
        a->n++;
    }
    return false;
}

int handles_streams(struct handles *hs, CUcontext ctx, CUstream *out, int max)
{
    struct streams_arg a = {ctx, out, max, 0};
    pthread_mutex_lock(&hs->lock);
    ptrset_filter(&hs->streams, collect_stream, &a);
    pthread_mutex_unlock(&hs->lock);
    return a.n;
}

CUcontext handles_owner(struct handles *hs, const void *h)
{
    pthread_mutex_lock(&hs->lock);
    struct ptrset_entry *e = ptrset_find(&hs->set, (uintptr_t)h);
    CUcontext owner = e ? (CUcontext)e->owner : NULL;
    pthread_mutex_unlock(&hs->lock);
    return owner;
}

int handles_type(struct handles *hs, const void *h)
{
    pthread_mutex_lock(&hs->lock);
    struct ptrset_entry *e = ptrset_find(&hs->set, (uintptr_t)h);
    int type = e ? e->type : HT_NONE;
    pthread_mutex_unlock(&hs->lock);
    return type;
}

/* The kinds of handle that own others (handles.h): forgetting any other
 * kind forgets that one handle, without a walk over all of them (a cuBLAS
 * program holds thousands of functions, and destroys events often). */
static bool owns_handles(int type)
{
    return type == HT_CTX || type == HT_MODULE || type == HT_LIBRARY || type == HT_KERNEL || type == HT_GRAPH ||
           type == HT_GNODE; /* a child graph node owns its graph */
}

static void add(struct handles *hs, int type, const void *h, CUcontext owner, uint32_t tid, uint8_t flags)
{
    struct ptrset_entry e = {(uintptr_t)h, (uintptr_t)owner, tid, (uint8_t)type, flags};
    pthread_mutex_lock(&hs->lock);
    const struct ptrset_entry *o = owner && (const void *)owner != h ? ptrset_find(&hs->set, e.owner) : NULL;
    if (o && !owns_handles(o->type)) /* its handles would outlive it */
        rgpu_err("handle %p filed under %p, a kind of handle that owns none", h, (void *)owner);
    bool ok = ptrset_put(&hs->set, &e);
    if (ok && type == HT_STREAM && !ptrset_put(&hs->streams, &e)) {
        ptrset_del(&hs->set, e.key);
        ok = false;
    } else if (ok && type != HT_STREAM) {
        ptrset_del(&hs->streams, e.key); /* a stream's address reused for something else */
    }
    pthread_mutex_unlock(&hs->lock);
    if (!ok)
        rgpu_err("out of memory tracking handle %p; the client cannot use it", h);
}

void handles_add(struct handles *hs, int type, const void *h, CUcontext owner) { add(hs, type, h, owner, 0, 0); }

/* h's entry if it is a function or a kernel; hs->lock held. */
static struct ptrset_entry *launchable_locked(struct handles *hs, const void *h)
{
    struct ptrset_entry *e = ptrset_find(&hs->set, (uintptr_t)h);
    return e && (e->type == HT_FUNC || e->type == HT_KERNEL) ? e : NULL;
}

bool handles_param_bytes(struct handles *hs, const void *h, uint32_t *bytes)
{
    pthread_mutex_lock(&hs->lock);
    struct ptrset_entry *e = launchable_locked(hs, h);
    bool known = e && e->tid;
    if (known)
        *bytes = e->tid - 1;
    pthread_mutex_unlock(&hs->lock);
    return known;
}

void handles_set_param_bytes(struct handles *hs, const void *h, uint32_t bytes)
{
    pthread_mutex_lock(&hs->lock);
    struct ptrset_entry *e = launchable_locked(hs, h);
    if (e && bytes < UINT32_MAX)
        e->tid = bytes + 1;
    pthread_mutex_unlock(&hs->lock);
}

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
    ptrset_del(&hs->streams, (uintptr_t)h);
    pthread_mutex_unlock(&hs->lock);
}

/* Drop every entry owned by one of roots[0..n), then what those owned, and so
 * on: a context owns modules, a module owns functions. */
struct drop_arg {
    uintptr_t *keys;
    size_t n, cap;
    size_t from, to; /* owners looked at in this pass: keys[from..to) */
    bool oom;
    struct ptrset *streams; /* where a dropped stream goes too */
};

static bool owned_by_pass(const struct ptrset_entry *e, void *p)
{
    struct drop_arg *a = p;
    for (size_t i = a->from; i < a->to; i++) {
        if (e->owner != a->keys[i] || (e->type == HT_CTX && e->key == e->owner))
            continue;
        if (e->type == HT_STREAM)
            ptrset_del(a->streams, e->key);
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 64;
            uintptr_t *k = realloc(a->keys, cap * sizeof *k);
            if (!k) {
                a->oom = true;
                return true; /* still drop it; its children may stay behind */
            }
            a->keys = k;
            a->cap = cap;
        }
        a->keys[a->n++] = e->key;
        return true;
    }
    return false;
}

static void drop_tree_locked(struct handles *hs, uintptr_t root)
{
    struct drop_arg a = {.keys = malloc(64 * sizeof(uintptr_t)), .cap = 64, .streams = &hs->streams};
    if (!a.keys) {
        rgpu_err("out of memory while forgetting the handles of %#lx", (unsigned long)root);
        return;
    }
    a.keys[0] = root;
    a.n = 1;
    a.to = 1;
    while (a.from < a.to) {
        ptrset_filter(&hs->set, owned_by_pass, &a);
        a.from = a.to;
        a.to = a.n;
    }
    if (a.oom)
        rgpu_err("out of memory while forgetting handles; some stale handles stay known");
    free(a.keys);
}

void handles_drop_owned(struct handles *hs, CUcontext ctx, bool with_ctx)
{
    pthread_mutex_lock(&hs->lock);
    drop_tree_locked(hs, (uintptr_t)ctx);
    if (with_ctx)
        ptrset_del(&hs->set, (uintptr_t)ctx);
    pthread_mutex_unlock(&hs->lock);
}

void handles_del_tree(struct handles *hs, const void *h)
{
    pthread_mutex_lock(&hs->lock);
    const struct ptrset_entry *e = ptrset_find(&hs->set, (uintptr_t)h);
    if (e && owns_handles(e->type))
        drop_tree_locked(hs, (uintptr_t)h);
    ptrset_del(&hs->streams, (uintptr_t)h);
    ptrset_del(&hs->set, (uintptr_t)h);
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

/* ---- virtual memory allocation handles ---- */

void handles_mem_ref(struct handles *hs, unsigned long long h)
{
    if (h <= 1) {
        rgpu_err("allocation handle %llu cannot be tracked; the client cannot use it", h);
        return;
    }
    pthread_mutex_lock(&hs->lock);
    struct ptrset_entry *e = ptrset_find(&hs->mem, (uintptr_t)h);
    bool ok = true;
    if (e && e->tid < UINT32_MAX)
        e->tid++;
    else if (!e)
        ok = ptrset_put(&hs->mem, &(struct ptrset_entry){.key = (uintptr_t)h, .tid = 1});
    pthread_mutex_unlock(&hs->lock);
    if (!ok)
        rgpu_err("out of memory tracking allocation handle %#llx; the client cannot use it", h);
}

bool handles_mem_has(struct handles *hs, unsigned long long h)
{
    pthread_mutex_lock(&hs->lock);
    bool ok = h > 1 && ptrset_find(&hs->mem, (uintptr_t)h) != NULL;
    pthread_mutex_unlock(&hs->lock);
    return ok;
}

void handles_mem_unref(struct handles *hs, unsigned long long h)
{
    pthread_mutex_lock(&hs->lock);
    struct ptrset_entry *e = h > 1 ? ptrset_find(&hs->mem, (uintptr_t)h) : NULL;
    if (e && --e->tid == 0)
        ptrset_del(&hs->mem, (uintptr_t)h);
    pthread_mutex_unlock(&hs->lock);
}
