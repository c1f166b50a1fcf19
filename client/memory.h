/*
 * memory.h — what the client knows about memory: device allocations it
 * obtained, and page-locked host memory it allocated or registered.
 */
#ifndef RGPU_CLIENT_MEMORY_H
#define RGPU_CLIENT_MEMORY_H

#include "client.h"
#include "ranges.h"

extern struct ranges rgpu_device_ranges;
extern struct ranges rgpu_host_ranges;
/* The mapped pieces of reserved ranges (cuMemMap until cuMemUnmap). */
extern struct ranges rgpu_vmm_mapped;

static inline bool rgpu_is_device_ptr(uintptr_t p) { return ranges_find(&rgpu_device_ranges, p, NULL); }

/* The device range (*r) that holds all of [p, p + n); false if none does. */
static inline bool rgpu_device_span(CUdeviceptr p, uint64_t n, struct range *r)
{
    return ranges_find(&rgpu_device_ranges, (uintptr_t)p, r) && n <= r->base + r->size - (uintptr_t)p;
}

/* Whether [p, p + n) lies inside one allocation this process made
 * (cuMemAlloc*, in a context that has not ended); not a reserved range or a
 * module variable. */
static inline bool rgpu_in_allocation(CUdeviceptr p, uint64_t n)
{
    struct range r;
    return rgpu_device_span(p, n, &r) && r.ctx && !r.owner;
}

/* Record device memory this process obtained: an allocation of context ctx
 * (stream_ordered: from the stream-ordered allocator), or (ctx NULL) a
 * reserved virtual address range. */
void rgpu_memory_record(CUdeviceptr p, size_t size, CUcontext ctx, bool stream_ordered);

/* A __managed__ variable [d, d + size) of a library or module (owner):
 * managed memory at one address on host and device, mirrored here
 * (mapped.c) until its owner is unloaded (rgpu_memory_drop_variables).
 * Asking again changes nothing. */
CUresult rgpu_memory_managed_variable(CUdeviceptr d, size_t size, const void *owner);
void rgpu_memory_drop_variables(const void *owner);

/* A context ended (destroyed, reset, last primary release): its allocations and module variables went with it. */
void rgpu_memory_drop_ctx(CUcontext ctx);

#endif
