/*
 * hostpool.c — page-locked host memory from the shm: host-memory pool.
 *
 * Over shm: the worker hands over a second memfd that both processes map
 * (wire/shm.h). cuMemAllocHost and cuMemHostAlloc (not DEVICEMAP, which has
 * its own mirrors: mapped.c) take page-granular extents of it, first fit,
 * and register each with the worker, which page-locks it with its driver.
 * A copy between such memory and the device then names an offset
 * (copy.c): the worker copies in place when the stream reaches it — one
 * copy instead of one per side plus the ring, and on a GPU a DMA from the
 * application's own buffer — with CUDA's semantics for page-locked memory:
 * the bytes are read and written at execution time, not at the call.
 *
 * The worker also maps each extent for the device where its backend can,
 * and the pool lies at the worker's address here when that was free: then
 * the device reaches page-locked memory at its own address, as unified
 * addressing promises (kernels, copies and memsets on it; memory.c answers
 * the device-pointer queries).
 *
 * Freed extents are punched out of the memfd (MADV_REMOVE), so the pool
 * holds memory only for live allocations, like the driver's.
 */
#define _GNU_SOURCE
#include "hostpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "conn.h"

#define PAGE ((size_t)4096)

struct extent {
    size_t off, len;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint8_t *_Atomic base; /* set once (after pool_size), read without the lock */
static size_t pool_size;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct extent *holes; /* free extents, sorted, never adjacent */
static size_t nholes, capholes;

static void init(void)
{
    const char *e = getenv("RGPU_SHM_POOL");
    size_t size = 0;
    uint8_t *p = (e && strcmp(e, "0") == 0) ? NULL : rgpu_conn_hostpool(&size);
    if (!p || size < PAGE || !(holes = malloc(16 * sizeof *holes)))
        return;
    holes[0] = (struct extent){0, size / PAGE * PAGE};
    nholes = 1;
    capholes = 16;
    pool_size = size / PAGE * PAGE;
    atomic_store_explicit(&base, p, memory_order_release);
    rgpu_debug("page-locked host memory from the shm: pool (%zu MiB of address space)", pool_size >> 20);
}

/* Put [off, off + len) back into the holes, merged with its neighbours
 * (lock held); false: no memory for a new hole (the extent is lost). */
static bool give_back(size_t off, size_t len)
{
    size_t i = 0;
    while (i < nholes && holes[i].off < off)
        i++;
    bool left = i > 0 && holes[i - 1].off + holes[i - 1].len == off;
    bool right = i < nholes && off + len == holes[i].off;
    if (left && right) {
        holes[i - 1].len += len + holes[i].len;
        memmove(&holes[i], &holes[i + 1], (nholes - i - 1) * sizeof *holes);
        nholes--;
    } else if (left) {
        holes[i - 1].len += len;
    } else if (right) {
        holes[i].off = off;
        holes[i].len += len;
    } else {
        if (nholes == capholes) {
            struct extent *t = realloc(holes, 2 * capholes * sizeof *t);
            if (!t)
                return false;
            holes = t;
            capholes *= 2;
        }
        memmove(&holes[i + 1], &holes[i], (nholes - i) * sizeof *holes);
        holes[i] = (struct extent){off, len};
        nholes++;
    }
    return true;
}

void *rgpu_hostpool_alloc(size_t size, bool *device_mapped)
{
    *device_mapped = false;
    pthread_once(&once, init);
    uint8_t *b = atomic_load_explicit(&base, memory_order_acquire);
    if (!b || size == 0 || size > pool_size)
        return NULL;
    size_t len = (size + PAGE - 1) / PAGE * PAGE, off = 0;
    bool found = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nholes && !found; i++)
        if (holes[i].len >= len) {
            off = holes[i].off;
            holes[i].off += len;
            holes[i].len -= len;
            if (!holes[i].len) {
                memmove(&holes[i], &holes[i + 1], (nholes - i - 1) * sizeof *holes);
                nholes--;
            }
            found = true;
        }
    pthread_mutex_unlock(&lock);
    if (!found)
        return NULL;
    struct rgpu_args_rgpu_hostpool_register a = {.offset = off, .size = len};
    CUresult r = rgpu_remote(RGPU_ID_rgpu_hostpool_register, &a);
    if (r != CUDA_SUCCESS) {
        rgpu_debug("the worker did not page-lock %zu bytes of the pool (CUresult %d): ordinary memory instead", len,
                   (int)r);
        pthread_mutex_lock(&lock);
        give_back(off, len);
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    *device_mapped = a.mapped && rgpu_conn_hostpool_shared_address();
    return b + off;
}

bool rgpu_hostpool_free(void *p, size_t size)
{
    uint64_t off;
    if (!rgpu_hostpool_offset(p, 1, &off))
        return false;
    size_t len = (size + PAGE - 1) / PAGE * PAGE;
    struct rgpu_args_rgpu_hostpool_unregister a = {.offset = off};
    CUresult r = rgpu_remote(RGPU_ID_rgpu_hostpool_unregister, &a);
    if (r != CUDA_SUCCESS) {
        /* Still page-locked there (or the connection is gone): not reused. */
        rgpu_warn("the worker kept %zu bytes of the host-memory pool (CUresult %d)", len, (int)r);
        return true;
    }
    madvise(p, len, MADV_REMOVE);
    pthread_mutex_lock(&lock);
    if (!give_back((size_t)off, len))
        rgpu_warn("out of memory: %zu bytes of the host-memory pool are not reused", len);
    pthread_mutex_unlock(&lock);
    return true;
}

bool rgpu_hostpool_offset(const void *p, size_t n, uint64_t *off)
{
    const uint8_t *q = p, *b = atomic_load_explicit(&base, memory_order_acquire);
    if (!b || q < b || q >= b + pool_size || n > (size_t)(b + pool_size - q))
        return false;
    *off = (uint64_t)(q - b);
    return true;
}
