/*
 * hostpool.c — the server's side of the shm: host-memory pool (wire/shm.h).
 *
 * The client allocates page-locked memory inside a memfd this worker maps
 * too, and registers each allocation here (rgpu_hostpool_register). The
 * worker page-locks it with its backend (on the NVIDIA driver: real pinned
 * memory the GPU reaches by DMA) and remembers it as an extent. A copy that
 * names a pool offset (rgpu_htod_pool, rgpu_dtoh_pool) is the backend's
 * asynchronous copy with the worker's address of those bytes: no payload
 * on the wire, no staging, and the bytes are read or written when the stream
 * reaches the copy, which is what CUDA does with page-locked memory (and
 * why such copies may be captured into graphs). Registered as mapped, the
 * memory is also the device's at the worker's address of it, which the
 * client shares when it could map the pool there: kernels, copies and
 * memsets reach the application's page-locked memory directly, as unified
 * addressing promises.
 *
 * Only registered extents are copied from or to: on the NVIDIA driver an
 * unregistered range would be pageable memory, whose device->host copy is
 * synchronous and would stall the reader. What the client does with its
 * side of the mapping (writing it while a copy runs, freeing it early) only
 * changes the bytes: the mapping stays until the worker exits.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shm.h"
#include "worker.h"

struct extent {
    uint64_t off, len;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct extent *ext; /* sorted by offset, disjoint */
static size_t next, capext;
/* A destroyed context may take its registrations with it (worker.c):
 * re-registered at the next copy when this moved. */
static atomic_uint gen = 1;
static unsigned pinned_gen = 1;

void hostpool_repin(void) { atomic_fetch_add(&gen, 1); }

static uint8_t *pool_of(struct worker *w, size_t *len) { return rgpu_shm_pool(w->fd, len); }

/* Index of the first extent ending after off (lock held). */
static size_t find(uint64_t off)
{
    size_t lo = 0, hi = next;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ext[mid].off + ext[mid].len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Page-locked, and mapped for the device where the backend can: with
 * unified addressing the device then reaches it at the same address, as it
 * reaches the driver's own page-locked allocations. *mapped says whether it
 * does (NULL: a renewal, whatever it was). */
static CUresult pin(struct worker *w, uint8_t *p, uint64_t len, int *mapped)
{
    const struct rgpu_backend *be = w->be;
    CUresult r = be->cuMemHostRegister_v2(p, len, CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP);
    bool devmap = r == CUDA_SUCCESS;
    if (r != CUDA_SUCCESS && r != CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED)
        r = be->cuMemHostRegister_v2(p, len, CU_MEMHOSTREGISTER_PORTABLE);
    if (r == CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED)
        r = CUDA_SUCCESS;
    if (mapped) {
        CUdeviceptr d = 0;
        *mapped = devmap && be->cuMemHostGetDevicePointer_v2(&d, p, 0) == CUDA_SUCCESS && d == (CUdeviceptr)(uintptr_t)p;
    }
    return r;
}

/* Is [off, off + len) free of extents? Its insertion index in *at (lock held). */
static bool vacant(uint64_t off, uint64_t len, size_t *at)
{
    *at = find(off);
    return *at == next || ext[*at].off >= off + len;
}

/* The driver is called outside the lock: the reader takes it for every pool
 * copy and must not wait while gigabytes are page-locked. (Only the renewal
 * after a context change, bytes(), pins under it: rare, and what was pinned
 * before.) */
static CUresult do_register(struct srv_call *c)
{
    struct rgpu_args_rgpu_hostpool_register *a = c->args;
    size_t plen, i;
    uint8_t *pool = pool_of(c->w, &plen);
    uint64_t pg = 4096;
    if (!pool)
        return CUDA_ERROR_NOT_SUPPORTED; /* not a shm: connection, or no pool offered */
    if (!a->size || a->offset % pg || a->size % pg || a->offset > plen || a->size > plen - a->offset)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    bool free_range = vacant(a->offset, a->size, &i);
    pthread_mutex_unlock(&lock);
    if (!free_range)
        return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    CUresult r = pin(c->w, pool + a->offset, a->size, &a->mapped);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&lock);
    if (!vacant(a->offset, a->size, &i)) {
        r = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED; /* the client raced itself */
    } else if (next == capext) {
        size_t cap = capext ? 2 * capext : 16;
        struct extent *t = realloc(ext, cap * sizeof *t);
        if (t)
            ext = t, capext = cap;
        else
            r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (!r) {
        memmove(&ext[i + 1], &ext[i], (next - i) * sizeof *ext);
        ext[i] = (struct extent){a->offset, a->size};
        next++;
    }
    pthread_mutex_unlock(&lock);
    if (r == CUDA_ERROR_OUT_OF_MEMORY)
        c->w->be->cuMemHostUnregister(pool + a->offset);
    return r;
}

static CUresult do_unregister(struct srv_call *c)
{
    struct rgpu_args_rgpu_hostpool_unregister *a = c->args;
    size_t plen;
    uint8_t *pool = pool_of(c->w, &plen);
    if (!pool)
        return CUDA_ERROR_NOT_SUPPORTED;
    pthread_mutex_lock(&lock);
    size_t i = find(a->offset);
    bool found = i < next && ext[i].off == a->offset;
    if (found) {
        memmove(&ext[i], &ext[i + 1], (next - i - 1) * sizeof *ext);
        next--;
    }
    pthread_mutex_unlock(&lock);
    if (!found)
        return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
    /* The extent is gone whatever the driver says: a registration that a
     * destroyed context took with it is no less gone. */
    c->w->be->cuMemHostUnregister(pool + a->offset);
    return CUDA_SUCCESS;
}

/* The worker's address of [off, off + n) when one registered extent holds
 * it, else NULL. */
static void *bytes(struct worker *w, uint64_t off, uint64_t n)
{
    size_t plen;
    uint8_t *pool = pool_of(w, &plen);
    if (!pool || !n)
        return NULL;
    void *p = NULL;
    pthread_mutex_lock(&lock);
    unsigned g = atomic_load(&gen);
    if (g != pinned_gen) {
        for (size_t i = 0; i < next; i++)
            if (pin(w, pool + ext[i].off, ext[i].len, NULL) != CUDA_SUCCESS)
                rgpu_warn("host-memory pool: re-registering %llu bytes failed; copies from them are pageable",
                          (unsigned long long)ext[i].len);
        pinned_gen = g;
    }
    size_t i = find(off);
    if (i < next && ext[i].off <= off && n <= ext[i].off + ext[i].len - off)
        p = pool + off;
    pthread_mutex_unlock(&lock);
    return p;
}

/* A 1D copy's stream checked and its pool bytes found: *p NULL with
 * CUDA_SUCCESS when there is nothing to copy. */
static CUresult copy_args(struct srv_call *c, CUstream *s, uint64_t off, uint64_t n, void **p)
{
    *p = NULL;
    CUresult r = dispatch_check_stream(c, s);
    if (r != CUDA_SUCCESS || !n)
        return r;
    return (*p = bytes(c->w, off, n)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult htod(struct srv_call *c)
{
    struct rgpu_args_rgpu_htod_pool *a = c->args;
    void *src;
    CUresult r = copy_args(c, &a->hStream, a->srcOffset, a->ByteCount, &src);
    return r || !src ? r : c->w->be->cuMemcpyHtoDAsync_v2(a->dstDevice, src, a->ByteCount, a->hStream);
}

static CUresult dtoh(struct srv_call *c)
{
    struct rgpu_args_rgpu_dtoh_pool *a = c->args;
    void *dst;
    CUresult r = copy_args(c, &a->hStream, a->dstOffset, a->ByteCount, &dst);
    return r || !dst ? r : c->w->be->cuMemcpyDtoHAsync_v2(dst, a->srcDevice, a->ByteCount, a->hStream);
}

/* A 2D copy whose host side is pool memory: every byte of its rows, from
 * the first (hostOffset + y * pitch + x) to the last, in one extent. */
static CUresult copy2d(struct srv_call *c)
{
    struct rgpu_args_rgpu_memcpy2d_pool *a = c->args;
    CUDA_MEMCPY2D cp = a->copy;
    CUresult r = dispatch_check_stream(c, &a->hStream);
    if (r != CUDA_SUCCESS || !cp.WidthInBytes || !cp.Height)
        return r;
    bool src_host = cp.srcMemoryType == CU_MEMORYTYPE_HOST, dst_host = cp.dstMemoryType == CU_MEMORYTYPE_HOST;
    CUmemorytype other = src_host ? cp.dstMemoryType : cp.srcMemoryType;
    if (src_host == dst_host)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = custom_array_side(c, other, src_host ? cp.dstArray : cp.srcArray)) != CUDA_SUCCESS)
        return r;
    uint64_t pitch = src_host ? cp.srcPitch : cp.dstPitch, x = src_host ? cp.srcXInBytes : cp.dstXInBytes,
             y = src_host ? cp.srcY : cp.dstY, first, span;
    if (cp.Height > 1 && pitch < cp.WidthInBytes)
        return CUDA_ERROR_INVALID_VALUE;
    if (__builtin_mul_overflow(y, pitch, &first) || __builtin_add_overflow(first, x, &first) ||
        __builtin_add_overflow(first, a->hostOffset, &first) ||
        __builtin_mul_overflow(pitch, (uint64_t)(cp.Height - 1), &span) ||
        __builtin_add_overflow(span, (uint64_t)cp.WidthInBytes, &span))
        return CUDA_ERROR_INVALID_VALUE;
    uint8_t *p = bytes(c->w, first, span);
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    uint8_t *base = p - (first - a->hostOffset); /* the descriptor's host pointer */
    if (src_host)
        cp.srcHost = base;
    else
        cp.dstHost = base;
    return custom_copy2d(c, &cp, a->srcZ, a->dstZ, a->hStream);
}

CUresult hostpool_exec(struct srv_call *c)
{
    switch ((enum rgpu_call_id)c->hdr.call) {
    case RGPU_ID_rgpu_hostpool_register: return do_register(c);
    case RGPU_ID_rgpu_hostpool_unregister: return do_unregister(c);
    case RGPU_ID_rgpu_htod_pool: return htod(c);
    case RGPU_ID_rgpu_dtoh_pool: return dtoh(c);
    case RGPU_ID_rgpu_memcpy2d_pool: return copy2d(c);
    default: return CUDA_ERROR_NOT_SUPPORTED;
    }
}
