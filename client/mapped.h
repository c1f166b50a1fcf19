/*
 * mapped.h — mapped page-locked host memory (CU_MEMHOSTALLOC_DEVICEMAP,
 * CU_MEMHOSTREGISTER_DEVICEMAP): a device mirror per range, kept coherent at
 * the points where a race-free program can tell (see mapped.c).
 */
#ifndef RGPU_CLIENT_MAPPED_H
#define RGPU_CLIENT_MAPPED_H

#include <stdatomic.h>

#include "client.h"
#include "conn.h"

/* Page-locked host memory of size bytes with a device mirror. *pp is the
 * mirror's device address whenever that address is free in this process. */
CUresult rgpu_mapped_alloc(void **pp, size_t size);
/* Give [p, p + size) (registered memory) a device mirror. */
CUresult rgpu_mapped_register(void *p, size_t size);
/* Mirror the managed variable [d, d + size) of library owner, which the
 * server holds: host pages at d, its bytes there. Asking again for the same
 * variable changes nothing. */
CUresult rgpu_mapped_adopt(CUdeviceptr d, size_t size, const void *owner);
/* Exchange nothing for the library's variables (held) while it is being
 * unloaded, or again (the unloading failed). */
void rgpu_mapped_hold_owner(const void *owner, bool held);
/* The library is gone: drop its variables' mirrors and pages. */
void rgpu_mapped_release_owner(const void *owner);
/* Drop the mirror of the range starting at p; the host bytes of a range from
 * rgpu_mapped_alloc are freed too. false if p starts no mapped range. */
bool rgpu_mapped_release(void *p);
/* The device address of host address p inside a mapped range. */
bool rgpu_mapped_device_ptr(const void *p, CUdeviceptr *d);
/* The context is gone, and with it the mirrors it held. */
void rgpu_mapped_drop_ctx(CUcontext ctx);

/* conn.c: a request while mapped ranges exist (host writes go out before it,
 * device writes come back after a synchronising call). */
extern atomic_int rgpu_mapped_count;
CUresult rgpu_mapped_call(enum rgpu_call_id id, void *args, const struct rgpu_landing *land);

#endif
