/*
 * ranges.h — a sorted, thread-safe set of address ranges.
 *
 * The client keeps two: device allocations (so cuMemcpy with unified
 * addressing can tell device from host pointers without a round trip) and
 * page-locked host memory it allocated or registered (answered locally).
 */
#ifndef RGPU_CLIENT_RANGES_H
#define RGPU_CLIENT_RANGES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct range {
    uintptr_t base;
    size_t size;
    unsigned flags;   /* host memory: CU_MEMHOSTALLOC_* or CU_MEMHOSTREGISTER_* */
    bool registered;  /* host memory: registered, not allocated by us */
    bool shared;      /* host memory: the device reaches it at this address (hostpool.c) */
    bool managed;     /* host memory: from cuMemAllocManaged (mapped memory at one address) */
    const void *ctx;  /* device memory: its context (NULL: a virtual address range); an allocation from
                         cuMemAlloc* unless owner is set */
    const void *owner; /* a module variable: its module or library, whose unloading takes it away */
    bool stream_ordered; /* device memory: from cuMemAllocAsync / cuMemAllocFromPoolAsync */
    uint64_t id;      /* unique buffer id */
};

struct ranges {
    pthread_rwlock_t lock;
    struct range *v;
    size_t n, cap;
};

#define RANGES_INIT {PTHREAD_RWLOCK_INITIALIZER, NULL, 0, 0}

bool ranges_add(struct ranges *rs, const struct range *r);
/* The range containing p (copied to *out); false if none. */
bool ranges_find(struct ranges *rs, uintptr_t p, struct range *out);
/* Remove the range starting exactly at base; false if none. */
bool ranges_remove(struct ranges *rs, uintptr_t base, struct range *out);
/* Remove every range of context ctx. */
void ranges_remove_ctx(struct ranges *rs, const void *ctx);
/* Remove every range that owner owns. */
void ranges_remove_owner(struct ranges *rs, const void *owner);
/* Does [p, p+n) overlap any range? */
bool ranges_overlaps(struct ranges *rs, uintptr_t p, size_t n);
/* Does [p, p+n) lie inside ranges that follow one another without a gap? */
bool ranges_cover(struct ranges *rs, uintptr_t p, size_t n);
/* Remove every range that overlaps [p, p+n). */
void ranges_remove_overlapping(struct ranges *rs, uintptr_t p, size_t n);

#endif
