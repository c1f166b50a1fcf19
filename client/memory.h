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

static inline bool rgpu_is_device_ptr(uintptr_t p) { return ranges_find(&rgpu_device_ranges, p, NULL); }

/* A context ended (destroyed, reset, last primary release): its allocations went with it. */
void rgpu_memory_drop_ctx(CUcontext ctx);

#endif
