/*
 * heap.h — a first-fit allocator over one address range, with coalescing.
 *
 * The range is cut into blocks, free or used, that cover it exactly, kept in
 * an AVL tree ordered by address. Each node also knows the largest free block
 * in its subtree, so the lowest-addressed block that fits is found in
 * O(log n), and so is "which block contains address p". Two free blocks are
 * never adjacent: freeing merges with free neighbours.
 *
 * The heap only does arithmetic on addresses; it never touches the memory,
 * and it is not thread-safe (memory.c locks around it).
 */
#ifndef RGPU_CPUDEV_HEAP_H
#define RGPU_CPUDEV_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heap_block {
    uint64_t start, size;
    bool used;
    /* the allocation, for used blocks (the heap only stores these) */
    uint64_t req;      /* bytes asked for (<= size) */
    uint64_t owner;    /* owner tag, e.g. a context activation id */
    uint64_t id;       /* unique allocation id */
    void *owner_ptr;   /* reported back as is */
    bool internal;     /* made by the device for itself (module globals) */
    bool managed;      /* __managed__ variables: the host reaches them too (their client mirrors them) */
    struct mempool *pool; /* the memory pool it came from (mempool.c), or NULL */
    bool freeing;      /* cuMemFreeAsync queued: no longer the caller's to free */
    /* tree */
    struct heap_block *l, *r;
    uint64_t max_free; /* largest free block in this subtree */
    int height;
};

struct heap {
    struct heap_block *root;
    uint64_t base, size;
};

/* One free block covering [base, base + size); false if out of memory. */
bool heap_init(struct heap *h, uint64_t base, uint64_t size);
void heap_destroy(struct heap *h);
/* The lowest-addressed free block that fits size (> 0), split and marked
 * used; NULL if none fits or a node cannot be allocated. */
struct heap_block *heap_alloc(struct heap *h, uint64_t size);
/* The block containing addr, free or used; NULL outside the range. */
struct heap_block *heap_find(const struct heap *h, uint64_t addr);
/* Free the used block starting exactly at start; false if there is none.
 * *lo, *hi receive the merged free block it became part of. */
bool heap_free(struct heap *h, uint64_t start, uint64_t *lo, uint64_t *hi);
/* Start of the first used block at or above addr with the given owner tag;
 * false if none. */
bool heap_next_owned(const struct heap *h, uint64_t addr, uint64_t owner, uint64_t *start);
/* Check every invariant (tests); NULL if fine, else what is broken. */
const char *heap_check(const struct heap *h);

#endif
