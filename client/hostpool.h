/*
 * hostpool.h — page-locked host memory served from the shm: transport's
 * host-memory pool (wire/shm.h), so that copies to and from it travel as
 * pool offsets instead of bytes (see hostpool.c).
 */
#ifndef RGPU_CLIENT_HOSTPOOL_H
#define RGPU_CLIENT_HOSTPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* size bytes of pool memory, registered with the worker; NULL when there is
 * no pool (not shm:, RGPU_SHM_POOL=0), it is full, or the worker refused
 * (the caller then allocates ordinary memory). *device_mapped: the device
 * reaches it at this same address (the worker mapped it for the device, and
 * the pool lies at the same address in both processes). */
void *rgpu_hostpool_alloc(size_t size, bool *device_mapped);
/* Give back an allocation of size bytes at p; false if p is not pool memory. */
bool rgpu_hostpool_free(void *p, size_t size);
/* The pool offset of [p, p + n) when it lies in the pool (n > 0). */
bool rgpu_hostpool_offset(const void *p, size_t n, uint64_t *off);

#endif
