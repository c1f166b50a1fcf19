/*
 * memory.c — device memory: the reserved address range, allocations, their
 * validation, accounting and pointer queries.
 *
 * At init one range of cfg.mem_bytes is reserved at a fixed address
 * (MAP_NORESERVE: pages cost nothing until touched), so a device address is
 * the host address of its bytes in this process and kernels run by the CPU
 * can use device pointers as they are. Allocations are carved from it by
 * heap.c: blocks of 256-byte multiples, first fit, coalesced on free.
 *
 * Invariants:
 *  - An allocation is [start, start + req) inside a block of round_up(req,
 *    256) bytes; valid device memory is inside one allocation, not padding.
 *  - Freed pages go back to the host (MADV_DONTNEED) unless a live
 *    allocation shares them.
 *  - The rounded sizes of this process's allocations, and of every worker's
 *    when cfg.shared_used is set, never exceed cfg.mem_bytes.
 * The heap's read-write lock is taken after cpudev.mu when both are held.
 *
 * Above the allocator's range lies the virtual memory management window
 * (vmm.c): cuMemAddressReserve takes address space from there, so a device
 * address is in one of the two and every query asks the right one.
 */
#define _GNU_SOURCE
#include "graph.h"
#include "heap.h"
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALLOC_ALIGN 256u  /* every allocation starts at a multiple of this */
#define PITCH_ALIGN 512u  /* cuMemAllocPitch pitches (texture pitch alignment) */

static struct {
    pthread_rwlock_t lock;
    struct heap heap;
    uint64_t base, size;  /* the reserved range */
    uint64_t used;        /* this process's allocated bytes (rounded) */
    uint64_t next_id;     /* allocation ids (CU_POINTER_ATTRIBUTE_BUFFER_ID) */
    bool closed;          /* cpudev_exit(): usage returned, budget closed */
    size_t page;
} mem = {.lock = PTHREAD_RWLOCK_INITIALIZER};

bool mem_init(uint64_t base, uint64_t size, char *err, size_t errlen)
{
    mem.page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap((void *)(uintptr_t)base, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot reserve %llu bytes of device memory at 0x%llx: %s",
                 (unsigned long long)size, (unsigned long long)base, strerror(errno));
        return false;
    }
    if ((uintptr_t)p != base) {
        /* Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat it as a
         * hint: refuse another address rather than break "device address ==
         * host address" expectations of the client. */
        munmap(p, size);
        snprintf(err, errlen, "device memory range 0x%llx is taken", (unsigned long long)base);
        return false;
    }
    if (!heap_init(&mem.heap, base, size)) {
        munmap(p, size);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    uint64_t vbase = (base + size + VMM_GRANULARITY - 1) & ~(uint64_t)(VMM_GRANULARITY - 1);
    if (!vmm_init(vbase, VMM_VA_BYTES, err, errlen)) {
        heap_destroy(&mem.heap);
        munmap(p, size);
        return false;
    }
    mem.base = base;
    mem.size = size;
    mem.next_id = 1;
    return true;
}

bool mem_in_va(uint64_t p)
{
    return (mem.size && p >= mem.base && p - mem.base < mem.size) || vmm_in_window(p);
}

void cpudev_va_range(CUdeviceptr *base, size_t *size)
{
    uint64_t vbase, vsize;
    vmm_window(&vbase, &vsize);
    if (base)
        *base = (CUdeviceptr)mem.base;
    if (size)
        *size = mem.size ? (size_t)(vbase + vsize - mem.base) : 0;
}

/* ---- budget ---- */

static bool budget_take(uint64_t n)
{
    _Atomic uint64_t *shared = cpudev.cfg.shared_used;
    if (mem.closed)
        return false;
    uint64_t limit = cpudev.cfg.mem_bytes;
    if (shared) {
        uint64_t old = atomic_fetch_add(shared, n);
        if (old + n > limit || old + n < old) {
            atomic_fetch_sub(shared, n);
            return false;
        }
        if (cpudev.cfg.worker_used)
            atomic_fetch_add(cpudev.cfg.worker_used, n);
    } else if (mem.used + n > limit) {
        return false;
    }
    mem.used += n;
    return true;
}

static void budget_give(uint64_t n)
{
    if (mem.closed)
        return; /* all of it was given back at once */
    mem.used -= n;
    if (cpudev.cfg.worker_used)
        atomic_fetch_sub(cpudev.cfg.worker_used, n);
    if (cpudev.cfg.shared_used)
        atomic_fetch_sub(cpudev.cfg.shared_used, n);
}

bool mem_budget_take(uint64_t n)
{
    pthread_rwlock_wrlock(&mem.lock);
    bool ok = budget_take(n);
    pthread_rwlock_unlock(&mem.lock);
    return ok;
}

void mem_budget_give(uint64_t n)
{
    pthread_rwlock_wrlock(&mem.lock);
    budget_give(n);
    pthread_rwlock_unlock(&mem.lock);
}

/* ---- allocation and release; heap write-locked ---- */

/* c NULL: owned by no context activation (a library's managed variables) */
static CUresult alloc_locked(struct ctx *c, uint64_t bytes, bool internal, bool managed, struct mempool *pool,
                             CUdeviceptr *out)
{
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    if (bytes > mem.size)
        return CUDA_ERROR_OUT_OF_MEMORY;
    uint64_t size = (bytes + ALLOC_ALIGN - 1) & ~(uint64_t)(ALLOC_ALIGN - 1);
    CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
    pthread_rwlock_wrlock(&mem.lock);
    if (budget_take(size)) {
        struct heap_block *b = heap_alloc(&mem.heap, size);
        if (b && (!pool || mempool_charge_wrlocked(pool, bytes))) {
            b->req = bytes;
            b->owner = c ? c->id : 0;
            b->owner_ptr = c;
            b->id = mem.next_id++;
            b->internal = internal;
            b->managed = managed;
            b->pool = pool;
            *out = (CUdeviceptr)b->start;
            r = CUDA_SUCCESS;
        } else {
            uint64_t lo, hi;
            if (b)
                heap_free(&mem.heap, b->start, &lo, &hi);
            budget_give(size);
        }
    }
    pthread_rwlock_unlock(&mem.lock);
    return r;
}

CUresult mem_alloc_locked(struct ctx *c, uint64_t bytes, CUdeviceptr *out)
{
    return alloc_locked(c, bytes, false, false, NULL, out);
}

CUresult mem_alloc_pool_locked(struct ctx *c, uint64_t bytes, struct mempool *pool, CUdeviceptr *out)
{
    return alloc_locked(c, bytes, false, false, pool, out);
}

CUresult mem_alloc_internal_locked(struct ctx *c, uint64_t bytes, CUdeviceptr *out)
{
    return alloc_locked(c, bytes, true, false, NULL, out);
}

CUresult mem_alloc_managed_locked(struct ctx *c, uint64_t bytes, CUdeviceptr *out)
{
    return alloc_locked(c, bytes, true, true, NULL, out);
}

/* Free the allocation at p and hand its pages back to the host. */
static bool free_block_wrlocked(uint64_t p)
{
    struct heap_block *b = heap_find(&mem.heap, p);
    if (!b || !b->used || b->start != p)
        return false;
    uint64_t size = b->size, lo, hi;
    struct mempool *pool = b->pool;
    uint64_t req = b->req;
    if (!heap_free(&mem.heap, p, &lo, &hi))
        return false;
    if (pool)
        mempool_uncharge_wrlocked(pool, req);
    budget_give(size);
    /* Release the pages the allocation touched that now lie wholly inside
     * free memory; a page shared with a live neighbour keeps its bytes. */
    uint64_t pg = mem.page;
    uint64_t a = p & ~(pg - 1), z = (p + size + pg - 1) & ~(pg - 1);
    uint64_t flo = (lo + pg - 1) & ~(pg - 1), fhi = hi & ~(pg - 1);
    if (a < flo)
        a = flo;
    if (z > fhi)
        z = fhi;
    if (a < z)
        madvise((void *)(uintptr_t)a, z - a, MADV_DONTNEED);
    return true;
}

bool mem_free_block(CUdeviceptr p)
{
    pthread_rwlock_wrlock(&mem.lock);
    const struct heap_block *b = heap_find(&mem.heap, p);
    bool ok = b && b->used && b->internal && free_block_wrlocked(p);
    pthread_rwlock_unlock(&mem.lock);
    return ok;
}

void mem_exit(void)
{
    pthread_rwlock_wrlock(&mem.lock);
    if (cpudev.cfg.worker_used)
        atomic_fetch_sub(cpudev.cfg.worker_used, mem.used);
    if (cpudev.cfg.shared_used)
        atomic_fetch_sub(cpudev.cfg.shared_used, mem.used);
    mem.used = 0;
    mem.closed = true;
    pthread_rwlock_unlock(&mem.lock);
}

void mem_free_owned(uint64_t ctx_id)
{
    pthread_rwlock_wrlock(&mem.lock);
    uint64_t at = mem.base, start;
    while (heap_next_owned(&mem.heap, at, ctx_id, &start)) {
        free_block_wrlocked(start);
        at = start + 1;
    }
    pthread_rwlock_unlock(&mem.lock);
}

/* ---- lookups; heap read-locked ---- */

/* The allocation containing p, or NULL. */
static const struct heap_block *alloc_at(uint64_t p)
{
    const struct heap_block *b = heap_find(&mem.heap, p);
    return b && b->used && p - b->start < b->req ? b : NULL;
}

bool mem_range_ok(CUdeviceptr p, size_t n)
{
    if (vmm_in_window(p))
        return vmm_range_ok(p, n);
    pthread_rwlock_rdlock(&mem.lock);
    const struct heap_block *b = alloc_at(p);
    bool ok = b && n <= b->req - (p - b->start); /* n == 0: p itself inside */
    pthread_rwlock_unlock(&mem.lock);
    /* mapped page-locked host memory is the device's too (hostreg.c) */
    return ok || hostreg_mapped((const void *)(uintptr_t)p, n ? n : 1);
}

/* True if p is the start of a live allocation the caller made. */
static bool is_alloc_start(uint64_t p)
{
    pthread_rwlock_rdlock(&mem.lock);
    const struct heap_block *b = heap_find(&mem.heap, p);
    bool ok = b && b->used && b->start == p && !b->internal && !b->freeing;
    pthread_rwlock_unlock(&mem.lock);
    return ok;
}

bool mem_free_async_mark(CUdeviceptr p)
{
    pthread_rwlock_wrlock(&mem.lock);
    struct heap_block *b = heap_find(&mem.heap, p);
    bool ok = b && b->used && b->start == p && !b->internal && !b->freeing;
    if (ok)
        b->freeing = true;
    pthread_rwlock_unlock(&mem.lock);
    return ok;
}

void mem_free_async_unmark(CUdeviceptr p)
{
    pthread_rwlock_wrlock(&mem.lock);
    struct heap_block *b = heap_find(&mem.heap, p);
    if (b && b->used && b->start == p)
        b->freeing = false;
    pthread_rwlock_unlock(&mem.lock);
}

/* The activation's end may have freed it first (and the address may have
 * been handed out again: then it is not marked). */
void mem_free_marked(CUdeviceptr p)
{
    pthread_rwlock_wrlock(&mem.lock);
    struct heap_block *b = heap_find(&mem.heap, p);
    if (b && b->used && b->start == p && b->freeing)
        free_block_wrlocked(p);
    pthread_rwlock_unlock(&mem.lock);
}

void *cpudev_host_ptr(CUdeviceptr p, size_t n)
{
    if (!atomic_load(&cpudev.ready))
        return NULL;
    return mem_range_ok(p, n) ? (void *)(uintptr_t)p : NULL;
}

/* ---- driver calls ---- */

CUresult cpudev_cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    CPUDEV_ENTER();
    if (!dptr || !bytesize)
        return CUDA_ERROR_INVALID_VALUE;
    struct ctx *c;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS && c->sticky)
        r = c->sticky; /* a faulted context allocates nothing, as on hardware */
    if (r == CUDA_SUCCESS)
        r = mem_alloc_locked(c, bytesize, dptr);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
                                   unsigned int ElementSizeBytes)
{
    CPUDEV_ENTER();
    if (!dptr || !pPitch || !WidthInBytes || !Height)
        return CUDA_ERROR_INVALID_VALUE;
    if (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16)
        return CUDA_ERROR_INVALID_VALUE;
    if (WidthInBytes > CPUDEV_MAX_PITCH)
        return CUDA_ERROR_INVALID_VALUE;
    size_t pitch = (WidthInBytes + PITCH_ALIGN - 1) & ~(size_t)(PITCH_ALIGN - 1), bytes;
    if (pitch > CPUDEV_MAX_PITCH)
        return CUDA_ERROR_INVALID_VALUE;
    if (__builtin_mul_overflow(pitch, Height, &bytes))
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct ctx *c;
    CUdeviceptr p = 0;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS && c->sticky)
        r = c->sticky;
    if (r == CUDA_SUCCESS)
        r = mem_alloc_locked(c, bytes, &p);
    cpudev_unlock();
    if (r == CUDA_SUCCESS) {
        *dptr = p;
        *pPitch = pitch;
    }
    return r;
}

CUresult cpudev_cuMemFree_v2(CUdeviceptr dptr)
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
    CUresult g = r == CUDA_SUCCESS ? gmem_free_locked(dptr) : CUDA_ERROR_NOT_FOUND;
    if (g != CUDA_ERROR_NOT_FOUND) { /* a graph allocation: its graph keeps the memory */
        cpudev_unlock();
        return g;
    }
    if (r == CUDA_SUCCESS && !is_alloc_start(dptr))
        r = CUDA_ERROR_INVALID_VALUE; /* not an allocation, or freed already */
    /* Like cudaFree: work queued before the call may still use the memory. */
    if (r == CUDA_SUCCESS && !ws_add_device_locked(&ws))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        uint64_t id = c->id; /* c may be destroyed while we wait */
        ws_wait_locked(&ws);
        r = ctx_sticky_locked(c, id); /* a faulted context frees nothing, as on hardware */
    }
    if (r == CUDA_SUCCESS) {
        pthread_rwlock_wrlock(&mem.lock);
        const struct heap_block *b = heap_find(&mem.heap, dptr);
        if (!b || b->internal || !free_block_wrlocked(dptr))
            r = CUDA_ERROR_INVALID_VALUE; /* freed by another thread meanwhile */
        pthread_rwlock_unlock(&mem.lock);
    }
    ws_release_locked(&ws);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    CPUDEV_ENTER();
    if (!free_bytes || !total)
        return CUDA_ERROR_INVALID_VALUE;
    struct ctx *c;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t limit = cpudev.cfg.mem_bytes, used;
    if (cpudev.cfg.shared_used) {
        used = atomic_load(cpudev.cfg.shared_used);
    } else {
        pthread_rwlock_rdlock(&mem.lock);
        used = mem.used;
        pthread_rwlock_unlock(&mem.lock);
    }
    *free_bytes = (size_t)(used < limit ? limit - used : 0);
    *total = (size_t)limit;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    CPUDEV_ENTER();
    struct ctx *c;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        return r;
    if (vmm_in_window(dptr)) {
        struct vmm_info vi;
        if (!vmm_lookup(dptr, &vi))
            return CUDA_ERROR_NOT_FOUND;
        if (pbase)
            *pbase = (CUdeviceptr)vi.base;
        if (psize)
            *psize = (size_t)vi.size;
        return CUDA_SUCCESS;
    }
    pthread_rwlock_rdlock(&mem.lock);
    const struct heap_block *b = alloc_at(dptr);
    if (b) {
        if (pbase)
            *pbase = (CUdeviceptr)b->start;
        if (psize)
            *psize = (size_t)b->req;
    }
    pthread_rwlock_unlock(&mem.lock);
    return b ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

/*
 * The wire sizes every attribute (rgpu_pointer_attribute_size) and the server
 * hands us a buffer of exactly that size: write that many bytes, so the one
 * table decides, and refuse attributes it does not know.
 */
void mem_put_attribute(void *data, size_t n, uint64_t v)
{
    if (n == sizeof(uint32_t)) {
        uint32_t x = (uint32_t)v;
        memcpy(data, &x, n);
    } else {
        memset(data, 0, n);
        memcpy(data, &v, n < sizeof v ? n : sizeof v);
    }
}

CUresult cpudev_cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
    CPUDEV_ENTER();
    size_t n = rgpu_pointer_attribute_size(attribute);
    if (!data || !n)
        return CUDA_ERROR_INVALID_VALUE;
    if (attribute == CU_POINTER_ATTRIBUTE_P2P_TOKENS)
        return CUDA_ERROR_NOT_SUPPORTED; /* no nv-p2p kernel interface behind this device */
    if (attribute == CU_POINTER_ATTRIBUTE_DEVICE_POINTER) {
        struct ctx *c;
        cpudev_lock();
        CUresult r = ctx_current_locked(&c);
        cpudev_unlock();
        if (r != CUDA_SUCCESS)
            return r;
    }
    if (vmm_in_window(ptr))
        return vmm_pointer_attribute(data, n, attribute, ptr);
    pthread_rwlock_rdlock(&mem.lock);
    const struct heap_block *b = alloc_at(ptr);
    struct heap_block a = b ? *b : (struct heap_block){0};
    pthread_rwlock_unlock(&mem.lock);
    if (!b)
        return CUDA_ERROR_INVALID_VALUE; /* not device memory: the driver's answer too */
    uint64_t v;
    switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: v = (uintptr_t)a.owner_ptr; break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: v = CU_MEMORYTYPE_DEVICE; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: v = ptr; break;
    /* Device memory is not mapped into the client: no host address, as the
     * driver answers for cuMemAlloc memory. */
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        if (!a.managed)
            return CUDA_ERROR_INVALID_VALUE;
        v = ptr; /* managed: one address */
        break;
    /* Synchronous copies are built on the client from asynchronous ones and
     * a stream synchronisation, so they always synchronise. */
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: v = 1; break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: v = a.id; break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: v = a.managed; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: v = 0; break;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: v = 0; break; /* no IPC yet */
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: v = a.start; break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: v = a.req; break;
    case CU_POINTER_ATTRIBUTE_MAPPED: v = 1; break;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: v = CU_MEM_HANDLE_TYPE_NONE; break;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: v = 0; break;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: v = CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE; break;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: v = (uintptr_t)a.pool; break; /* NULL: not from a pool */
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: v = a.req; break;
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: v = a.start; break;
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: v = a.id; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    mem_put_attribute(data, n, v);
    return CUDA_SUCCESS;
}
