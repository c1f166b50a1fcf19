/*
 * vmm.c — CUDA virtual memory management (cuMemCreate, cuMemAddressReserve,
 * cuMemMap, cuMemSetAccess, ...) on the CPU device.
 *
 * The device address space has a second part above the cuMemAlloc range: a
 * window reserved PROT_NONE and MAP_NORESERVE at init, so even ggml's 32 GiB
 * reservations cost nothing until memory is mapped. Reservations are carved
 * from it by a heap of its own (heap.c, granularity-sized blocks).
 *
 * A physical allocation is a memfd of the requested size, counted against the
 * device's memory budget like cuMemAlloc. cuMemMap maps it MAP_SHARED at
 * the reserved address, still PROT_NONE (CUDA: a mapping starts with no
 * access); cuMemSetAccess makes it readable and writable; cuMemUnmap puts a
 * fresh PROT_NONE reservation back. Two mappings of one allocation are two
 * views of the same pages, as on hardware.
 *
 * Lifetimes as in CUDA: an allocation lives while it has an unreleased
 * handle reference (cuMemCreate, cuMemRetainAllocationHandle) or a mapping.
 *
 * Validation (copies, memsets, kernels through mem_range_ok) accepts a range
 * that runs across several contiguous, accessible mappings: ggml's pool grows
 * by mapping each new chunk right after the last. An access to reserved but
 * unmapped (or inaccessible) memory is refused there, so kernels fail with
 * ILLEGAL_ADDRESS instead of faulting the worker. Unmapping and revoking
 * access wait for the device's queued work first (CUDA documents both as
 * synchronous), so no queued copy or kernel can touch pages being taken away.
 * Work that another client thread enqueues while the unmap is under way is
 * an application race (as on hardware); here it can fault the worker, which
 * ends that one client's connection, no other.
 *
 * Only read-write access is offered: the engine's validation does not know
 * whether an access reads or writes, so a read-only mapping could not be
 * enforced (CU_MEM_ACCESS_FLAGS_PROT_READ is NOT_SUPPORTED).
 *
 * Lock order: cpudev.mu, then vmm.lock, then the allocator's (budget).
 */
#define _GNU_SOURCE
#include "heap.h"
#include "internal.h"
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HANDLE_TAG 0x766d6d0000000000ull /* "vmm": handle values are tag | serial */

struct phys {
    uint64_t handle;
    uint64_t id;       /* CU_POINTER_ATTRIBUTE_BUFFER_ID / MEMORY_BLOCK_ID */
    uint64_t size;
    int fd;
    int refs;          /* unreleased handle references */
    int maps;          /* live mappings */
    CUmemAllocationProp prop;
    struct phys *next;
};

struct mapping {
    uint64_t va, size, offset;
    struct phys *p;
    unsigned long long access; /* CU_MEM_ACCESS_FLAGS_PROT_NONE or _READWRITE */
};

static struct {
    pthread_rwlock_t lock;
    struct heap heap;  /* reservations: block owner = returned address, req = size asked */
    uint64_t base, size;
    struct phys *phys;
    struct mapping *maps; /* sorted by va, never overlapping */
    size_t nmaps, cap;
    uint64_t serial;
} vmm = {.lock = PTHREAD_RWLOCK_INITIALIZER};

bool vmm_init(uint64_t base, uint64_t size, char *err, size_t errlen)
{
    void *p = mmap((void *)(uintptr_t)base, size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || (uintptr_t)p != base) {
        if (p != MAP_FAILED)
            munmap(p, size);
        snprintf(err, errlen, "cannot reserve the %llu-byte virtual memory window at 0x%llx",
                 (unsigned long long)size, (unsigned long long)base);
        return false;
    }
    if (!heap_init(&vmm.heap, base, size)) {
        munmap(p, size);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    vmm.base = base;
    vmm.size = size;
    return true;
}

void vmm_window(uint64_t *base, uint64_t *size)
{
    *base = vmm.base;
    *size = vmm.size;
}

bool vmm_in_window(uint64_t p) { return vmm.size && p >= vmm.base && p - vmm.base < vmm.size; }

static bool aligned(uint64_t v) { return (v & (VMM_GRANULARITY - 1)) == 0; }

/* ---- lookups; vmm.lock held ---- */

/* Index of the last mapping with va <= p, or -1. */
static long floor_map(uint64_t p)
{
    long lo = 0, hi = (long)vmm.nmaps - 1, ans = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (vmm.maps[mid].va <= p) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

static long map_at(uint64_t p)
{
    long i = floor_map(p);
    return i >= 0 && p - vmm.maps[i].va < vmm.maps[i].size ? i : -1;
}

static struct phys *phys_by_handle(CUmemGenericAllocationHandle h)
{
    for (struct phys *p = vmm.phys; p; p = p->next)
        if (p->handle == h && p->refs > 0)
            return p;
    return NULL;
}

/* The mappings [*first, *last] covering exactly [va, va + size), with no
 * hole; false if the range cuts a mapping or has an unmapped part. */
static bool whole_mappings(uint64_t va, uint64_t size, long *first, long *last)
{
    long i = map_at(va);
    if (i < 0 || vmm.maps[i].va != va)
        return false;
    uint64_t end = va + size, at = va;
    long j = i;
    for (;;) {
        at = vmm.maps[j].va + vmm.maps[j].size;
        if (at == end)
            break;
        if (at > end || (size_t)j + 1 >= vmm.nmaps || vmm.maps[j + 1].va != at)
            return false;
        j++;
    }
    *first = i;
    *last = j;
    return true;
}

/* Free a physical allocation nobody references any more. */
static void phys_maybe_free(struct phys *p)
{
    if (p->refs > 0 || p->maps > 0)
        return;
    for (struct phys **pp = &vmm.phys; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    close(p->fd);
    mem_budget_give(p->size);
    free(p);
}

bool vmm_range_ok(uint64_t p, uint64_t n)
{
    if (!atomic_load(&cpudev.ready))
        return false;
    uint64_t end = p + n;
    if (end < p)
        return false;
    pthread_rwlock_rdlock(&vmm.lock);
    long i = map_at(p);
    bool ok = i >= 0;
    while (ok) {
        const struct mapping *m = &vmm.maps[i];
        if (m->access != CU_MEM_ACCESS_FLAGS_PROT_READWRITE) {
            ok = false;
            break;
        }
        uint64_t mend = m->va + m->size;
        if (end <= mend)
            break;
        /* continues into the next mapping only if that starts right here */
        ok = (size_t)i + 1 < vmm.nmaps && vmm.maps[i + 1].va == mend;
        i++;
    }
    pthread_rwlock_unlock(&vmm.lock);
    return ok;
}

bool vmm_lookup(uint64_t p, struct vmm_info *out)
{
    pthread_rwlock_rdlock(&vmm.lock);
    long i = map_at(p);
    if (i >= 0) {
        const struct mapping *m = &vmm.maps[i];
        *out = (struct vmm_info){m->va, m->size, m->p->id, m->access,
                                 (unsigned long long)m->p->prop.requestedHandleTypes};
    }
    pthread_rwlock_unlock(&vmm.lock);
    return i >= 0;
}

CUresult vmm_pointer_attribute(void *data, size_t n, CUpointer_attribute attribute, uint64_t ptr)
{
    struct vmm_info vi;
    if (!vmm_lookup(ptr, &vi))
        return CUDA_ERROR_INVALID_VALUE; /* reserved but not mapped: not memory yet */
    uint64_t v;
    switch (attribute) {
    /* Not bound to a context: the device's primary context stands for it. */
    case CU_POINTER_ATTRIBUTE_CONTEXT: v = (uintptr_t)cpudev.primary; break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: v = CU_MEMORYTYPE_DEVICE; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: v = ptr; break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: return CUDA_ERROR_INVALID_VALUE;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: v = 1; break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: v = vi.id; break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: v = 0; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: v = 0; break;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: v = 0; break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: v = vi.base; break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: v = vi.size; break;
    case CU_POINTER_ATTRIBUTE_MAPPED: v = 1; break;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: v = vi.handle_types; break;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: v = 0; break;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
        v = vi.access == CU_MEM_ACCESS_FLAGS_PROT_READWRITE ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE
                                                           : CU_POINTER_ATTRIBUTE_ACCESS_FLAG_NONE;
        break;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: v = 0; break;
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: v = vi.size; break;
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: v = vi.base; break;
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: v = vi.id; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    mem_put_attribute(data, n, v);
    return CUDA_SUCCESS;
}

/* ---- properties ---- */

/* Is prop something this device allocates? */
static CUresult check_prop(const CUmemAllocationProp *prop)
{
    if (prop->type == CU_MEM_ALLOCATION_TYPE_MANAGED)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (prop->type != CU_MEM_ALLOCATION_TYPE_PINNED)
        return CUDA_ERROR_INVALID_VALUE;
    if (prop->location.type == CU_MEM_LOCATION_TYPE_HOST || prop->location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA ||
        prop->location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT)
        return CUDA_ERROR_NOT_SUPPORTED; /* HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED is 0 */
    if (prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    if (prop->location.id != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    return CUDA_SUCCESS;
}

static CUresult check_location(const CUmemLocation *l)
{
    if (l->type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    return l->id == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

/* ---- driver calls ---- */

CUresult cpudev_cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                              CUmemAllocationGranularity_flags option)
{
    CPUDEV_ENTER();
    if (!granularity || !prop)
        return CUDA_ERROR_INVALID_VALUE;
    if (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM && option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = check_prop(prop);
    if (r == CUDA_SUCCESS)
        *granularity = VMM_GRANULARITY;
    return r;
}

CUresult cpudev_cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
                            unsigned long long flags)
{
    CPUDEV_ENTER();
    if (!handle || !prop || !size || flags || !aligned(size))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = check_prop(prop);
    if (r != CUDA_SUCCESS)
        return r;
    /* No export calls and no sparse tiles: refuse what would need them. */
    if (prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE || prop->allocFlags.usage)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (!mem_budget_take(size))
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct phys *p = calloc(1, sizeof *p);
    int fd = memfd_create("rgpu-vmm", MFD_CLOEXEC);
    if (!p || fd < 0 || ftruncate(fd, (off_t)size) != 0) {
        if (fd >= 0)
            close(fd);
        free(p);
        mem_budget_give(size);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    p->size = size;
    p->fd = fd;
    p->refs = 1;
    p->prop = *prop;
    /* Hints this device does not honour read back as not granted, as the
     * driver reports them; the Windows pointer means nothing here. */
    p->prop.win32HandleMetaData = NULL;
    p->prop.allocFlags.compressionType = CU_MEM_ALLOCATION_COMP_NONE;
    p->prop.allocFlags.gpuDirectRDMACapable = 0;
    pthread_rwlock_wrlock(&vmm.lock);
    uint64_t n = ++vmm.serial;
    p->handle = HANDLE_TAG | n;
    p->id = (1ull << 48) | n; /* apart from cuMemAlloc's buffer ids */
    p->next = vmm.phys;
    vmm.phys = p;
    pthread_rwlock_unlock(&vmm.lock);
    *handle = p->handle;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuMemRelease(CUmemGenericAllocationHandle handle)
{
    CPUDEV_ENTER();
    pthread_rwlock_wrlock(&vmm.lock);
    struct phys *p = phys_by_handle(handle);
    if (p) {
        p->refs--;
        phys_maybe_free(p); /* a mapped allocation lives on until unmapped */
    }
    pthread_rwlock_unlock(&vmm.lock);
    return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cpudev_cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
    CPUDEV_ENTER();
    if (!handle)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_wrlock(&vmm.lock);
    long i = map_at((uint64_t)(uintptr_t)addr);
    if (i >= 0) {
        vmm.maps[i].p->refs++;
        *handle = vmm.maps[i].p->handle;
    }
    pthread_rwlock_unlock(&vmm.lock);
    return i >= 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cpudev_cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop, CUmemGenericAllocationHandle handle)
{
    CPUDEV_ENTER();
    if (!prop)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_rdlock(&vmm.lock);
    struct phys *p = phys_by_handle(handle);
    if (p)
        *prop = p->prop;
    pthread_rwlock_unlock(&vmm.lock);
    return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cpudev_cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                    unsigned long long flags)
{
    CPUDEV_ENTER();
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (!ptr || !size || flags || (size & (page - 1)) || (addr & (page - 1)) || (alignment & (alignment - 1)))
        return CUDA_ERROR_INVALID_VALUE;
    /* addr is only a hint (CUDA): the first fit is taken regardless. */
    uint64_t align = alignment > VMM_GRANULARITY ? alignment : VMM_GRANULARITY;
    uint64_t rounded = ((uint64_t)size + VMM_GRANULARITY - 1) & ~(VMM_GRANULARITY - 1);
    uint64_t need = rounded + (align - VMM_GRANULARITY);
    if (rounded < size || need < rounded || need > vmm.size)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_rwlock_wrlock(&vmm.lock);
    struct heap_block *b = heap_alloc(&vmm.heap, need);
    if (b) {
        b->req = size;
        b->owner = (b->start + align - 1) & ~(align - 1);
        b->id = b->owner; /* kept for the client's view; freed by start */
        *ptr = (CUdeviceptr)b->owner;
    }
    pthread_rwlock_unlock(&vmm.lock);
    return b ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cpudev_cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    CPUDEV_ENTER();
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_wrlock(&vmm.lock);
    struct heap_block *b = vmm_in_window(ptr) ? heap_find(&vmm.heap, ptr) : NULL;
    if (b && b->used && b->owner == ptr && b->req == size) {
        /* Still mapped: refused, so no mapping is left outside a reservation. */
        long i = floor_map(b->start + b->size - 1);
        if (i < 0 || vmm.maps[i].va + vmm.maps[i].size <= b->start) {
            uint64_t lo, hi;
            heap_free(&vmm.heap, b->start, &lo, &hi);
            r = CUDA_SUCCESS;
        }
    }
    pthread_rwlock_unlock(&vmm.lock);
    return r;
}

CUresult cpudev_cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                         unsigned long long flags)
{
    CPUDEV_ENTER();
    if (!size || flags || !aligned(ptr) || !aligned(size) || !aligned(offset) || ptr + size < ptr)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_wrlock(&vmm.lock);
    struct phys *p = phys_by_handle(handle);
    const struct heap_block *b = vmm_in_window(ptr) ? heap_find(&vmm.heap, ptr) : NULL;
    long i = floor_map(ptr + size - 1);
    if (!p || offset > p->size || size > p->size - offset)
        goto out; /* unknown handle, or past the allocation's end */
    if (!b || !b->used || ptr < b->owner || ptr + size > b->owner + b->req)
        goto out; /* not inside one reservation */
    if (i >= 0 && vmm.maps[i].va + vmm.maps[i].size > ptr)
        goto out; /* over an existing mapping */
    if (vmm.nmaps == vmm.cap) {
        size_t cap = vmm.cap ? vmm.cap * 2 : 64;
        struct mapping *v = realloc(vmm.maps, cap * sizeof *v);
        if (!v) {
            r = CUDA_ERROR_OUT_OF_MEMORY;
            goto out;
        }
        vmm.maps = v;
        vmm.cap = cap;
    }
    void *m = mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_SHARED | MAP_FIXED, p->fd, (off_t)offset);
    if (m == MAP_FAILED) {
        /* MAP_FIXED failing leaves the range in an unknown state: put the
         * reservation back before reporting. */
        mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
             -1, 0);
        r = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    size_t at = (size_t)(i + 1);
    memmove(&vmm.maps[at + 1], &vmm.maps[at], (vmm.nmaps - at) * sizeof *vmm.maps);
    vmm.maps[at] = (struct mapping){ptr, size, offset, p, CU_MEM_ACCESS_FLAGS_PROT_NONE};
    vmm.nmaps++;
    p->maps++;
    r = CUDA_SUCCESS;
out:
    pthread_rwlock_unlock(&vmm.lock);
    return r;
}

/* Wait for every queued copy and kernel, before pages may disappear. */
static CUresult wait_device(void)
{
    CUresult r = wait_permitted();
    if (r != CUDA_SUCCESS)
        return r;
    struct waitset ws;
    ws_init(&ws);
    cpudev_lock();
    if (ws_add_device_locked(&ws))
        ws_wait_locked(&ws);
    else
        r = CUDA_ERROR_OUT_OF_MEMORY;
    ws_release_locked(&ws);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    CPUDEV_ENTER();
    if (!size || ptr + size < ptr)
        return CUDA_ERROR_INVALID_VALUE;
    long first, last;
    pthread_rwlock_rdlock(&vmm.lock);
    bool ok = whole_mappings(ptr, size, &first, &last);
    pthread_rwlock_unlock(&vmm.lock);
    if (!ok)
        return CUDA_ERROR_INVALID_VALUE; /* not the whole of what was mapped */
    CUresult r = wait_device();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_rwlock_wrlock(&vmm.lock);
    if (!whole_mappings(ptr, size, &first, &last)) {
        r = CUDA_ERROR_INVALID_VALUE; /* unmapped by another thread meanwhile */
    } else {
        long done = first;
        for (; done <= last; done++) {
            struct mapping *m = &vmm.maps[done];
            void *q = mmap((void *)(uintptr_t)m->va, m->size, PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
            if (q == MAP_FAILED) {
                r = CUDA_ERROR_OUT_OF_MEMORY;
                break;
            }
            m->p->maps--;
            phys_maybe_free(m->p);
        }
        memmove(&vmm.maps[first], &vmm.maps[done], (vmm.nmaps - (size_t)done) * sizeof *vmm.maps);
        vmm.nmaps -= (size_t)(done - first);
    }
    pthread_rwlock_unlock(&vmm.lock);
    return r;
}

CUresult cpudev_cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
    CPUDEV_ENTER();
    if (!desc || !count || !size || !aligned(ptr) || !aligned(size) || ptr + size < ptr)
        return CUDA_ERROR_INVALID_VALUE;
    unsigned long long want = CU_MEM_ACCESS_FLAGS_PROT_NONE;
    for (size_t k = 0; k < count; k++) {
        CUresult r = check_location(&desc[k].location);
        if (r != CUDA_SUCCESS)
            return r;
        if (desc[k].flags == CU_MEM_ACCESS_FLAGS_PROT_READ) {
            static atomic_flag warned = ATOMIC_FLAG_INIT;
            if (!atomic_flag_test_and_set(&warned))
                rgpu_warn("cpudev: read-only device mappings are not supported");
            return CUDA_ERROR_NOT_SUPPORTED;
        }
        if (desc[k].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE && desc[k].flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
            return CUDA_ERROR_INVALID_VALUE;
        want = desc[k].flags; /* one device: the last word on it counts */
    }
    long first, last;
    pthread_rwlock_rdlock(&vmm.lock);
    bool ok = whole_mappings(ptr, size, &first, &last);
    pthread_rwlock_unlock(&vmm.lock);
    if (!ok)
        return CUDA_ERROR_INVALID_VALUE; /* not a fully mapped range */
    CUresult r = CUDA_SUCCESS;
    if (want == CU_MEM_ACCESS_FLAGS_PROT_NONE && (r = wait_device()) != CUDA_SUCCESS)
        return r;
    int prot = want == CU_MEM_ACCESS_FLAGS_PROT_READWRITE ? PROT_READ | PROT_WRITE : PROT_NONE;
    pthread_rwlock_wrlock(&vmm.lock);
    if (!whole_mappings(ptr, size, &first, &last)) {
        r = CUDA_ERROR_INVALID_VALUE;
    } else {
        for (long k = first; k <= last && r == CUDA_SUCCESS; k++) {
            struct mapping *m = &vmm.maps[k];
            if (mprotect((void *)(uintptr_t)m->va, m->size, prot) != 0)
                r = CUDA_ERROR_OUT_OF_MEMORY;
            else
                m->access = want;
        }
    }
    pthread_rwlock_unlock(&vmm.lock);
    return r;
}

CUresult cpudev_cuMemGetAccess(unsigned long long *flags, const CUmemLocation *location, CUdeviceptr ptr)
{
    CPUDEV_ENTER();
    if (!flags || !location)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = check_location(location);
    if (r != CUDA_SUCCESS)
        return r;
    struct vmm_info vi;
    if (!vmm_lookup(ptr, &vi))
        return CUDA_ERROR_INVALID_VALUE;
    *flags = vi.access;
    return CUDA_SUCCESS;
}
