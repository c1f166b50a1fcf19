/*
 * quota.c — see quota.h.
 *
 * A worker records what it charged, so that a free gives back exactly what
 * its allocation took: device pointers (owned by the context current at the
 * allocation, whose destruction frees them), VMM physical allocations (by
 * handle: size, live mappings, whether every handle reference is released)
 * and mappings (by address: which allocation, how long). The records are the
 * worker's own; only the count is shared.
 *
 * A free takes its record out before the backend frees (and puts it back if
 * the free fails): once the backend has freed, another client thread's
 * allocation may get the same address, and its record must not be the one
 * this free removes.
 */
#include "quota.h"

#include <pthread.h>
#include <string.h>

#include "log.h"
#include "ptrset.h"
#include "worker.h"

static struct {
    uint64_t limit;
    _Atomic uint64_t *shared;
    _Atomic uint64_t *mine;
    pthread_mutex_t lock;
    struct ptrset allocs; /* device pointer -> owner context, size */
    struct ptrset phys;   /* VMM handle -> size; tid: live mappings; flags: RELEASED */
    struct ptrset maps;   /* mapped address -> owner: VMM handle, size */
    struct ptrset arrays; /* CUDA array -> owner context, size */
    bool ready;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define RELEASED 1

/* The record a free took out, for quota_after or quota_failed of that call. */
static _Thread_local struct ptrset_entry taken;

void quota_configure(uint64_t limit, _Atomic uint64_t *shared)
{
    q.limit = limit;
    q.shared = shared;
}

void quota_worker(_Atomic uint64_t *mine)
{
    q.mine = mine;
    q.ready = q.limit && ptrset_init(&q.allocs) && ptrset_init(&q.phys) && ptrset_init(&q.maps) &&
              ptrset_init(&q.arrays);
    if (q.limit && !q.ready)
        rgpu_err("memory limit: out of memory for its records; every allocation will be refused");
}

/* The shared count goes up before this worker's part and down after it: a
 * worker killed between the two leaves rgpud with a count a little too high
 * (its part is subtracted when it is reaped), never one that wraps below 0. */
static bool charge(uint64_t n)
{
    uint64_t cur = atomic_load(q.shared);
    do {
        if (n > q.limit || cur > q.limit - n)
            return false;
    } while (!atomic_compare_exchange_weak(q.shared, &cur, cur + n));
    if (q.mine)
        atomic_fetch_add(q.mine, n);
    return true;
}

static void uncharge(uint64_t n)
{
    if (q.mine)
        atomic_fetch_sub(q.mine, n);
    atomic_fetch_sub(q.shared, n);
}

static CUresult take(uint64_t n)
{
    if (!q.ready)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (charge(n))
        return CUDA_SUCCESS;
    rgpu_info("memory limit: refused %llu bytes (this rgpud's clients hold %llu of %llu)", (unsigned long long)n,
              (unsigned long long)atomic_load(q.shared), (unsigned long long)q.limit);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

static uint64_t mul_or_max(uint64_t a, uint64_t b) { return b && a > UINT64_MAX / b ? UINT64_MAX : a * b; }

/* An array's elements, as its descriptor asks (a format of unknown size
 * counts a byte a channel: the backend decides whether it exists). */
static uint64_t array_bytes(size_t w, size_t h, size_t d, CUarray_format f, unsigned channels)
{
    unsigned fb = rgpu_array_format_bytes(f);
    uint64_t elem = (uint64_t)(fb ? fb : 1) * channels;
    return mul_or_max(mul_or_max(mul_or_max(w, h ? h : 1), d ? d : 1), elem);
}

static uint64_t array_create_bytes(enum rgpu_call_id id, void *args)
{
    if (id == RGPU_ID_cuArrayCreate_v2) {
        const CUDA_ARRAY_DESCRIPTOR *d = ((struct rgpu_args_cuArrayCreate_v2 *)args)->pAllocateArray;
        return d ? array_bytes(d->Width, d->Height, 0, d->Format, d->NumChannels) : 0;
    }
    const CUDA_ARRAY3D_DESCRIPTOR *d = ((struct rgpu_args_cuArray3DCreate_v2 *)args)->pAllocateArray;
    return d ? array_bytes(d->Width, d->Height, d->Depth, d->Format, d->NumChannels) : 0;
}

/* ---- records; q.lock held ---- */

/* An address or handle the backend hands out again was freed in a way this
 * worker did not see: what the old record charged is no longer held. */
static void put_locked(struct ptrset *s, const struct ptrset_entry *e)
{
    struct ptrset_entry *old = ptrset_find(s, e->key);
    if (old)
        uncharge(old->value);
    if (!ptrset_put(s, e)) {
        rgpu_warn("memory limit: no room to record an allocation; it will count until the client goes");
        if (old)
            charge(old->value); /* as it was: both stay charged */
    }
}

static void record_alloc(void *ctx, CUdeviceptr p, uint64_t size)
{
    pthread_mutex_lock(&q.lock);
    put_locked(&q.allocs, &(struct ptrset_entry){.key = (uintptr_t)p, .owner = (uintptr_t)ctx, .value = size});
    pthread_mutex_unlock(&q.lock);
}

static void take_out(struct ptrset *s, uintptr_t key)
{
    pthread_mutex_lock(&q.lock);
    struct ptrset_entry *e = ptrset_find(s, key);
    taken = e ? *e : (struct ptrset_entry){0};
    if (e)
        ptrset_del(s, key);
    pthread_mutex_unlock(&q.lock);
}

static void put_back(struct ptrset *s)
{
    if (!taken.key)
        return;
    pthread_mutex_lock(&q.lock);
    if (!ptrset_find(s, taken.key) && !ptrset_put(s, &taken))
        uncharge(taken.value); /* cannot be recorded again: counted no more */
    pthread_mutex_unlock(&q.lock);
    taken.key = 0;
}

/* A VMM allocation is gone once released and unmapped. */
static void phys_settle_locked(struct ptrset_entry *e)
{
    if ((e->flags & RELEASED) && e->tid == 0) {
        uncharge(e->value);
        ptrset_del(&q.phys, e->key);
    }
}

struct unmapping {
    uint64_t lo, hi;
};

static bool unmapped(const struct ptrset_entry *m, void *arg)
{
    const struct unmapping *u = arg;
    if (m->key < u->lo || m->key >= u->hi)
        return false;
    struct ptrset_entry *p = ptrset_find(&q.phys, m->owner);
    if (p && p->tid > 0) {
        p->tid--;
        phys_settle_locked(p);
    }
    return true;
}

static bool owned_by(const struct ptrset_entry *e, void *ctx)
{
    if (e->owner != (uintptr_t)ctx)
        return false;
    uncharge(e->value);
    return true;
}

/* ---- the hooks ---- */

CUresult quota_before(struct srv_call *c, enum rgpu_call_id id, void *args)
{
    if (!q.limit)
        return CUDA_SUCCESS;
    switch (id) {
    case RGPU_ID_cuMemAlloc_v2: return take(((struct rgpu_args_cuMemAlloc_v2 *)args)->bytesize);
    case RGPU_ID_cuMemAllocAsync: return take(((struct rgpu_args_cuMemAllocAsync *)args)->bytesize);
    case RGPU_ID_cuMemAllocFromPoolAsync: return take(((struct rgpu_args_cuMemAllocFromPoolAsync *)args)->bytesize);
    case RGPU_ID_cuMemCreate: return take(((struct rgpu_args_cuMemCreate *)args)->size);
    case RGPU_ID_cuMemAllocPitch_v2: {
        /* the pitch is the backend's choice: the rows' bytes now, the padding after */
        struct rgpu_args_cuMemAllocPitch_v2 *a = args;
        return take(mul_or_max(a->WidthInBytes, a->Height));
    }
    case RGPU_ID_cuArrayCreate_v2:
    case RGPU_ID_cuArray3DCreate_v2: return take(array_create_bytes(id, args));
    case RGPU_ID_cuMemFree_v2:
        if (q.ready)
            take_out(&q.allocs, (uintptr_t)((struct rgpu_args_cuMemFree_v2 *)args)->dptr);
        return CUDA_SUCCESS;
    case RGPU_ID_cuArrayDestroy:
        if (q.ready)
            take_out(&q.arrays, (uintptr_t)((struct rgpu_args_cuArrayDestroy *)args)->hArray);
        return CUDA_SUCCESS;
    case RGPU_ID_cuMemFreeAsync:
        if (q.ready)
            take_out(&q.allocs, (uintptr_t)((struct rgpu_args_cuMemFreeAsync *)args)->dptr);
        return CUDA_SUCCESS;
    default: return CUDA_SUCCESS;
    }
}

void quota_failed(struct srv_call *c, enum rgpu_call_id id, void *args)
{
    if (!q.ready)
        return;
    switch (id) {
    case RGPU_ID_cuMemAlloc_v2: uncharge(((struct rgpu_args_cuMemAlloc_v2 *)args)->bytesize); break;
    case RGPU_ID_cuMemAllocAsync: uncharge(((struct rgpu_args_cuMemAllocAsync *)args)->bytesize); break;
    case RGPU_ID_cuMemAllocFromPoolAsync: uncharge(((struct rgpu_args_cuMemAllocFromPoolAsync *)args)->bytesize); break;
    case RGPU_ID_cuMemCreate: uncharge(((struct rgpu_args_cuMemCreate *)args)->size); break;
    case RGPU_ID_cuMemAllocPitch_v2: {
        struct rgpu_args_cuMemAllocPitch_v2 *a = args;
        uncharge(mul_or_max(a->WidthInBytes, a->Height));
        break;
    }
    case RGPU_ID_cuArrayCreate_v2:
    case RGPU_ID_cuArray3DCreate_v2: uncharge(array_create_bytes(id, args)); break;
    case RGPU_ID_cuMemFree_v2:
    case RGPU_ID_cuMemFreeAsync: put_back(&q.allocs); break;
    case RGPU_ID_cuArrayDestroy: put_back(&q.arrays); break;
    default: break;
    }
}

CUresult quota_after(struct srv_call *c, enum rgpu_call_id id, void *args)
{
    if (!q.ready)
        return CUDA_SUCCESS;
    void *ctx = (void *)(uintptr_t)c->hdr.ctx;
    switch (id) {
    case RGPU_ID_cuMemAlloc_v2: {
        struct rgpu_args_cuMemAlloc_v2 *a = args;
        record_alloc(ctx, a->dptr, a->bytesize);
        break;
    }
    case RGPU_ID_cuMemAllocAsync: {
        struct rgpu_args_cuMemAllocAsync *a = args;
        record_alloc(ctx, a->dptr, a->bytesize);
        break;
    }
    case RGPU_ID_cuMemAllocFromPoolAsync: {
        struct rgpu_args_cuMemAllocFromPoolAsync *a = args;
        record_alloc(ctx, a->dptr, a->bytesize);
        break;
    }
    case RGPU_ID_cuMemAllocPitch_v2: {
        struct rgpu_args_cuMemAllocPitch_v2 *a = args;
        uint64_t rows = mul_or_max(a->WidthInBytes, a->Height), all = mul_or_max(a->pPitch, a->Height);
        if (all > rows && take(all - rows) != CUDA_SUCCESS) {
            uncharge(rows);
            c->w->be->cuMemFree_v2(a->dptr);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        record_alloc(ctx, a->dptr, all > rows ? all : rows);
        break;
    }
    case RGPU_ID_cuArrayCreate_v2:
    case RGPU_ID_cuArray3DCreate_v2: {
        CUarray h = id == RGPU_ID_cuArrayCreate_v2 ? ((struct rgpu_args_cuArrayCreate_v2 *)args)->pHandle
                                                   : ((struct rgpu_args_cuArray3DCreate_v2 *)args)->pHandle;
        pthread_mutex_lock(&q.lock);
        put_locked(&q.arrays, &(struct ptrset_entry){.key = (uintptr_t)h, .owner = (uintptr_t)ctx,
                                                     .value = array_create_bytes(id, args)});
        pthread_mutex_unlock(&q.lock);
        break;
    }
    case RGPU_ID_cuArrayDestroy:
    case RGPU_ID_cuMemFree_v2:
    case RGPU_ID_cuMemFreeAsync:
        /* stream-ordered: the memory goes when the stream gets there; the
         * tenant may count on it from the call on, as its next allocation
         * from the pool would */
        if (taken.key)
            uncharge(taken.value);
        taken.key = 0;
        break;
    case RGPU_ID_cuMemCreate: {
        struct rgpu_args_cuMemCreate *a = args;
        pthread_mutex_lock(&q.lock);
        put_locked(&q.phys, &(struct ptrset_entry){.key = (uintptr_t)a->handle, .value = a->size});
        pthread_mutex_unlock(&q.lock);
        break;
    }
    case RGPU_ID_cuMemRelease: {
        /* after dispatch.c dropped the reference: gone when it was the last */
        unsigned long long h = ((struct rgpu_args_cuMemRelease *)args)->handle;
        if (handles_mem_has(&c->w->handles, h))
            break;
        pthread_mutex_lock(&q.lock);
        struct ptrset_entry *e = ptrset_find(&q.phys, (uintptr_t)h);
        if (e) {
            e->flags |= RELEASED;
            phys_settle_locked(e);
        }
        pthread_mutex_unlock(&q.lock);
        break;
    }
    case RGPU_ID_cuMemMap: {
        struct rgpu_args_cuMemMap *a = args;
        pthread_mutex_lock(&q.lock);
        struct ptrset_entry *stale = ptrset_find(&q.maps, (uintptr_t)a->ptr); /* its unmap went unseen */
        if (stale && unmapped(stale, &(struct unmapping){a->ptr, a->ptr + 1}))
            ptrset_del(&q.maps, stale->key);
        struct ptrset_entry *p = ptrset_find(&q.phys, (uintptr_t)a->handle);
        if (p && ptrset_put(&q.maps, &(struct ptrset_entry){.key = (uintptr_t)a->ptr, .owner = (uintptr_t)a->handle,
                                                            .value = a->size}))
            p->tid++;
        pthread_mutex_unlock(&q.lock);
        break;
    }
    case RGPU_ID_cuMemUnmap: {
        struct rgpu_args_cuMemUnmap *a = args;
        struct unmapping u = {a->ptr, a->ptr + a->size < a->ptr ? UINT64_MAX : a->ptr + a->size};
        pthread_mutex_lock(&q.lock);
        ptrset_filter(&q.maps, unmapped, &u);
        pthread_mutex_unlock(&q.lock);
        break;
    }
    default: break;
    }
    return CUDA_SUCCESS;
}

void quota_forget_ctx(void *ctx)
{
    if (!q.ready)
        return;
    pthread_mutex_lock(&q.lock);
    ptrset_filter(&q.allocs, owned_by, ctx);
    ptrset_filter(&q.arrays, owned_by, ctx);
    pthread_mutex_unlock(&q.lock);
}

void quota_clamp_total(uint64_t *total)
{
    if (q.limit && *total > q.limit)
        *total = q.limit;
}

bool quota_clamp_info(uint64_t *free, uint64_t *total)
{
    if (!q.limit)
        return false;
    quota_clamp_total(total);
    uint64_t held = atomic_load(q.shared), left = held < q.limit ? q.limit - held : 0;
    if (*free > left)
        *free = left;
    if (*free > *total)
        *free = *total;
    return true;
}
