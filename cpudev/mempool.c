/*
 * mempool.c — the stream-ordered allocator: cuMemAllocAsync, cuMemFreeAsync
 * and memory pools.
 *
 * An allocation is made when called (memory is usable by everything ordered
 * after the call, and by more: CUDA leaves earlier use undefined) and freed
 * when its stream reaches the cuMemFreeAsync (an OP_FREE operation), so work
 * queued before the free still finds it. Pools keep no freed memory for
 * reuse: the heap hands freed blocks out again at once, and a pool is
 * bookkeeping — what it has handed out, its high-water marks, its attributes
 * and its maximum size. So its reserved memory is always its used memory,
 * and trimming has nothing to give back.
 *
 * A pool lives while its handle or any of its allocations does: destroying
 * it with allocations outstanding returns at once, as in CUDA, and the last
 * free releases it.
 */
#include "graph.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct mempool {
    struct mempool *next; /* the live pools; cpudev lock */
    bool is_default;
    uint64_t max_size; /* 0: no limit but the device's memory */
    int reuse[3];      /* CU_MEMPOOL_ATTR_REUSE_*, in the enum's order; cpudev lock */
    uint64_t threshold;
    /* changed under the heap's write lock, read at any time */
    _Atomic uint64_t used, used_high, reserved_high;
    _Atomic long refs; /* its handle (unless destroyed) and each live allocation */
};

static struct mempool default_pool = {.is_default = true, .reuse = {1, 1, 1}, .refs = 1};
static struct mempool *pools = &default_pool; /* cpudev lock */
static struct mempool *current = &default_pool;

static void raise_high(_Atomic uint64_t *high, uint64_t v)
{
    uint64_t h = atomic_load(high);
    while (v > h && !atomic_compare_exchange_weak(high, &h, v))
        ;
}

bool mempool_charge_wrlocked(struct mempool *p, uint64_t bytes)
{
    uint64_t used = atomic_load(&p->used);
    if (p->max_size && (bytes > p->max_size || used > p->max_size - bytes))
        return false;
    used = atomic_fetch_add(&p->used, bytes) + bytes;
    atomic_fetch_add(&p->refs, 1);
    raise_high(&p->used_high, used);
    raise_high(&p->reserved_high, used);
    return true;
}

void mempool_uncharge_wrlocked(struct mempool *p, uint64_t bytes)
{
    atomic_fetch_sub(&p->used, bytes);
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        free(p); /* destroyed, and this was its last allocation */
}

static struct mempool *find_locked(CUmemoryPool h)
{
    for (struct mempool *p = pools; p; p = p->next)
        if ((CUmemoryPool)p == h)
            return p;
    return NULL;
}

/* Whether h is a live pool (for calls that need nothing more of it). */
static bool known(CUmemoryPool h)
{
    cpudev_lock();
    bool ok = find_locked(h) != NULL;
    cpudev_unlock();
    return ok;
}

/* from_pool false: from the device's current pool. */
static CUresult alloc_async(CUdeviceptr *dptr, size_t bytesize, bool from_pool, CUmemoryPool pool, CUstream hStream)
{
    CPUDEV_ENTER();
    if (!dptr || !bytesize)
        return CUDA_ERROR_INVALID_VALUE;
    struct ctx *c;
    struct stream *s;
    struct mempool *p = NULL;
    CUdeviceptr out = 0;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS && c->sticky)
        r = c->sticky; /* a faulted context allocates nothing */
    if (r == CUDA_SUCCESS)
        r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS && !(p = from_pool ? find_locked(pool) : current))
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS && s->cap)
        r = capture_mem_alloc_locked(s, bytesize, &out); /* a graph's allocation node */
    else if (r == CUDA_SUCCESS)
        r = mem_alloc_pool_locked(c, bytesize, p, &out);
    cpudev_unlock();
    if (r == CUDA_SUCCESS)
        *dptr = out;
    return r;
}

CUresult cpudev_cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(dptr, bytesize, false, NULL, hStream);
}

CUresult cpudev_cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream hStream)
{
    return alloc_async(dptr, bytesize, true, pool, hStream);
}

/* Any allocation the caller made may be freed so, cuMemAlloc's too. */
CUresult cpudev_cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    CPUDEV_ENTER();
    struct ctx *c;
    struct stream *s;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS)
        r = stream_resolve_locked(hStream, &s);
    /* a graph allocation: a free node when captured, else freed in program
     * order (what else a capture is asked to free it refuses, below) */
    CUresult g = CUDA_ERROR_NOT_FOUND;
    if (r == CUDA_SUCCESS)
        g = s->cap ? capture_mem_free_locked(s, dptr) : gmem_free_locked(dptr);
    if (r == CUDA_SUCCESS && g != CUDA_ERROR_NOT_FOUND && (!s->cap || g == CUDA_SUCCESS)) {
        cpudev_unlock();
        return g;
    }
    if (r == CUDA_SUCCESS && !mem_free_async_mark(dptr))
        r = CUDA_ERROR_INVALID_VALUE; /* not an allocation, or freed already */
    if (r == CUDA_SUCCESS) {
        struct op *op = op_new(OP_FREE);
        if (!op) {
            r = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            op->u.free_at = dptr;
            if ((r = stream_submit_locked(s, op, NULL, 0)) != CUDA_SUCCESS)
                op_discard_locked(op); /* a capturing stream refuses it */
        }
        if (r != CUDA_SUCCESS)
            mem_free_async_unmark(dptr);
    }
    cpudev_unlock();
    return r;
}

/* ---- pools ---- */

static CUresult device_pool(CUmemoryPool *out, CUdevice dev, bool dflt)
{
    CPUDEV_ENTER();
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    cpudev_lock();
    *out = (CUmemoryPool)(dflt ? &default_pool : current);
    cpudev_unlock();
    return CUDA_SUCCESS;
}

CUresult cpudev_cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
    return device_pool(pool_out, dev, true);
}

CUresult cpudev_cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev) { return device_pool(pool, dev, false); }

CUresult cpudev_cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
    CPUDEV_ENTER();
    if (dev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    cpudev_lock();
    struct mempool *p = find_locked(pool);
    if (p)
        current = p;
    cpudev_unlock();
    return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult check_location(const CUmemLocation *l)
{
    if (l->type == CU_MEM_LOCATION_TYPE_DEVICE)
        return l->id == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
    return CUDA_ERROR_INVALID_VALUE;
}

CUresult cpudev_cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)
{
    CPUDEV_ENTER();
    if (!pool || !poolProps)
        return CUDA_ERROR_INVALID_VALUE;
    CUmemPoolProps pr = *poolProps;
    if (pr.allocType != CU_MEM_ALLOCATION_TYPE_PINNED)
        return CUDA_ERROR_INVALID_VALUE;
    /* host-memory pools, shareable handles and decompression: not offered */
    if (pr.location.type == CU_MEM_LOCATION_TYPE_HOST || pr.location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA ||
        pr.location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT || pr.handleTypes != CU_MEM_HANDLE_TYPE_NONE ||
        pr.usage)
        return CUDA_ERROR_NOT_SUPPORTED;
    CUresult r = check_location(&pr.location);
    if (r != CUDA_SUCCESS)
        return r;
    struct mempool *p = calloc(1, sizeof *p);
    if (!p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    p->max_size = pr.maxSize;
    p->reuse[0] = p->reuse[1] = p->reuse[2] = 1;
    atomic_init(&p->refs, 1);
    cpudev_lock();
    p->next = pools;
    pools = p;
    cpudev_unlock();
    *pool = (CUmemoryPool)p;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuMemPoolDestroy(CUmemoryPool pool)
{
    CPUDEV_ENTER();
    cpudev_lock();
    struct mempool **at = &pools;
    while (*at && (CUmemoryPool)*at != pool)
        at = &(*at)->next;
    struct mempool *p = *at;
    if (!p || p->is_default) {
        cpudev_unlock();
        return CUDA_ERROR_INVALID_VALUE; /* a device's default pool stays */
    }
    *at = p->next;
    if (current == p)
        current = &default_pool;
    cpudev_unlock();
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        free(p); /* else its last allocation's free releases it */
    return CUDA_SUCCESS;
}

CUresult cpudev_cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
    CPUDEV_ENTER();
    (void)minBytesToKeep; /* nothing is kept beyond what is in use */
    return known(pool) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cpudev_cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    CPUDEV_ENTER();
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    struct mempool *p = find_locked(pool);
    CUresult r = p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    int i;
    uint64_t v;
    if (r == CUDA_SUCCESS) {
        switch (attr) {
        case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
            memcpy(&i, value, sizeof i);
            p->reuse[attr - CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES] = i != 0;
            break;
        case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: memcpy(&p->threshold, value, sizeof p->threshold); break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
        case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
            /* only a reset (to what is held now) */
            memcpy(&v, value, sizeof v);
            if (v)
                r = CUDA_ERROR_INVALID_VALUE;
            else
                atomic_store(attr == CU_MEMPOOL_ATTR_USED_MEM_HIGH ? &p->used_high : &p->reserved_high,
                             atomic_load(&p->used));
            break;
        default: r = CUDA_ERROR_INVALID_VALUE; /* unknown, or read-only */
        }
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    CPUDEV_ENTER();
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    struct mempool *p = find_locked(pool);
    CUresult r = p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    int i;
    uint64_t v = 0;
    if (r == CUDA_SUCCESS) {
        switch (attr) {
        case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
            i = p->reuse[attr - CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES];
            memcpy(value, &i, sizeof i);
            break;
        case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: v = p->threshold; break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
        case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: v = atomic_load(&p->used); break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH: v = atomic_load(&p->reserved_high); break;
        case CU_MEMPOOL_ATTR_USED_MEM_HIGH: v = atomic_load(&p->used_high); break;
        default: r = CUDA_ERROR_INVALID_VALUE;
        }
        if (r == CUDA_SUCCESS && rgpu_mempool_attr_size(attr) == sizeof v)
            memcpy(value, &v, sizeof v);
    }
    cpudev_unlock();
    return r;
}

/* One device, whose own access is read-write and stays so. */
CUresult cpudev_cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map, size_t count)
{
    CPUDEV_ENTER();
    if ((!map && count) || !known(pool))
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t k = 0; k < count; k++) {
        CUresult r = check_location(&map[k].location);
        if (r != CUDA_SUCCESS)
            return r;
        if (map[k].flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
            return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUresult cpudev_cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool memPool, CUmemLocation *location)
{
    CPUDEV_ENTER();
    if (!flags || !location || !known(memPool))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = check_location(location);
    if (r == CUDA_SUCCESS)
        *flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    return r;
}
