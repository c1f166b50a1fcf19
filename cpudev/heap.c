/*
 * heap.c — see heap.h. An AVL tree of blocks keyed by start address; each
 * node's max_free summarises its subtree so first-fit can steer: go left if
 * something on the left fits (lower addresses), else take this block if it
 * fits, else go right.
 *
 * Tree routines are recursive and return the new subtree root; they recompute
 * height and max_free on the way back up ("pull"), so every path they touch
 * is consistent when they return. A block whose size or state changes without
 * moving in the order is fixed up with refresh(), which pulls along its path.
 */
#include "heap.h"

#include <stdlib.h>

static int ht(const struct heap_block *n) { return n ? n->height : 0; }
static uint64_t mf(const struct heap_block *n) { return n ? n->max_free : 0; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static void pull(struct heap_block *n)
{
    int hl = ht(n->l), hr = ht(n->r);
    n->height = 1 + (hl > hr ? hl : hr);
    n->max_free = max_u64(n->used ? 0 : n->size, max_u64(mf(n->l), mf(n->r)));
}

static struct heap_block *rot_right(struct heap_block *y)
{
    struct heap_block *x = y->l;
    y->l = x->r;
    x->r = y;
    pull(y);
    pull(x);
    return x;
}

static struct heap_block *rot_left(struct heap_block *x)
{
    struct heap_block *y = x->r;
    x->r = y->l;
    y->l = x;
    pull(x);
    pull(y);
    return y;
}

static struct heap_block *balance(struct heap_block *n)
{
    pull(n);
    int bf = ht(n->l) - ht(n->r);
    if (bf > 1) {
        if (ht(n->l->l) < ht(n->l->r))
            n->l = rot_left(n->l);
        return rot_right(n);
    }
    if (bf < -1) {
        if (ht(n->r->r) < ht(n->r->l))
            n->r = rot_right(n->r);
        return rot_left(n);
    }
    return n;
}

static struct heap_block *insert(struct heap_block *n, struct heap_block *x)
{
    if (!n) {
        x->l = x->r = NULL;
        pull(x);
        return x;
    }
    if (x->start < n->start)
        n->l = insert(n->l, x);
    else
        n->r = insert(n->r, x);
    return balance(n);
}

static struct heap_block *remove_min(struct heap_block *n, struct heap_block **min)
{
    if (!n->l) {
        *min = n;
        return n->r;
    }
    n->l = remove_min(n->l, min);
    return balance(n);
}

/* Unlink the node with this start (the caller frees it). */
static struct heap_block *remove_key(struct heap_block *n, uint64_t start)
{
    if (!n)
        return NULL;
    if (start < n->start) {
        n->l = remove_key(n->l, start);
    } else if (start > n->start) {
        n->r = remove_key(n->r, start);
    } else {
        struct heap_block *l = n->l, *r = n->r, *m;
        if (!r)
            return l;
        r = remove_min(r, &m);
        m->l = l;
        m->r = r;
        return balance(m);
    }
    return balance(n);
}

static void refresh(struct heap_block *n, uint64_t start)
{
    if (!n)
        return;
    if (start < n->start)
        refresh(n->l, start);
    else if (start > n->start)
        refresh(n->r, start);
    pull(n);
}

static struct heap_block *floor_block(struct heap_block *n, uint64_t addr)
{
    struct heap_block *best = NULL;
    while (n) {
        if (n->start <= addr) {
            best = n;
            n = n->r;
        } else {
            n = n->l;
        }
    }
    return best;
}

bool heap_init(struct heap *h, uint64_t base, uint64_t size)
{
    struct heap_block *b = calloc(1, sizeof *b);
    if (!b)
        return false;
    b->start = base;
    b->size = size;
    h->base = base;
    h->size = size;
    h->root = insert(NULL, b);
    return true;
}

static void destroy(struct heap_block *n)
{
    if (!n)
        return;
    destroy(n->l);
    destroy(n->r);
    free(n);
}

void heap_destroy(struct heap *h)
{
    destroy(h->root);
    h->root = NULL;
}

struct heap_block *heap_alloc(struct heap *h, uint64_t size)
{
    if (!size)
        return NULL;
    struct heap_block *b = h->root;
    while (b) {
        if (mf(b->l) >= size)
            b = b->l;
        else if (!b->used && b->size >= size)
            break;
        else if (mf(b->r) >= size)
            b = b->r;
        else
            return NULL;
    }
    if (!b)
        return NULL;
    if (b->size == size) {
        b->used = true;
        refresh(h->root, b->start);
        return b;
    }
    struct heap_block *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    /* The free block keeps its place in the order with a higher start; the
     * new used block goes in front of it. */
    u->start = b->start;
    u->size = size;
    u->used = true;
    b->start += size;
    b->size -= size;
    refresh(h->root, b->start);
    h->root = insert(h->root, u);
    return u;
}

struct heap_block *heap_find(const struct heap *h, uint64_t addr)
{
    if (addr < h->base || addr - h->base >= h->size)
        return NULL;
    struct heap_block *b = floor_block(h->root, addr);
    return b && addr - b->start < b->size ? b : NULL;
}

bool heap_free(struct heap *h, uint64_t start, uint64_t *lo, uint64_t *hi)
{
    struct heap_block *b = heap_find(h, start);
    if (!b || !b->used || b->start != start)
        return false;
    b->used = false;
    b->req = b->owner = b->id = 0;
    b->owner_ptr = NULL;
    b->internal = false;
    b->pool = NULL;
    b->freeing = false;
    uint64_t end = b->start + b->size;
    struct heap_block *next = end - h->base < h->size ? heap_find(h, end) : NULL;
    if (next && !next->used) {
        h->root = remove_key(h->root, next->start);
        b->size += next->size;
        free(next);
    }
    struct heap_block *prev = start > h->base ? heap_find(h, start - 1) : NULL;
    if (prev && !prev->used) {
        h->root = remove_key(h->root, b->start);
        prev->size += b->size;
        free(b);
        b = prev;
    }
    refresh(h->root, b->start);
    *lo = b->start;
    *hi = b->start + b->size;
    return true;
}

/* The first used block with this owner among blocks starting at >= addr. */
static const struct heap_block *next_owned(const struct heap_block *n, uint64_t addr, uint64_t owner)
{
    if (!n)
        return NULL;
    if (n->start >= addr) {
        const struct heap_block *x = next_owned(n->l, addr, owner);
        if (x)
            return x;
        if (n->used && n->owner == owner)
            return n;
    }
    return next_owned(n->r, addr, owner);
}

bool heap_next_owned(const struct heap *h, uint64_t addr, uint64_t owner, uint64_t *start)
{
    const struct heap_block *b = next_owned(h->root, addr, owner);
    if (b)
        *start = b->start;
    return b != NULL;
}

/* ---- invariants, for tests ---- */

struct check {
    const char *err;
    uint64_t next_start; /* where the next block in order must begin */
    bool prev_free;
};

static int check_node(const struct heap_block *n, struct check *c)
{
    if (!n)
        return 0;
    int hl = check_node(n->l, c);
    if (c->err)
        return 0;
    if (n->start != c->next_start)
        c->err = "blocks do not tile the range";
    else if (!n->size)
        c->err = "empty block";
    else if (!n->used && c->prev_free)
        c->err = "two adjacent free blocks";
    else if (n->used && (n->req > n->size))
        c->err = "allocation larger than its block";
    c->next_start = n->start + n->size;
    c->prev_free = !n->used;
    int hr = check_node(n->r, c);
    if (c->err)
        return 0;
    int height = 1 + (hl > hr ? hl : hr);
    uint64_t m = max_u64(n->used ? 0 : n->size, max_u64(mf(n->l), mf(n->r)));
    if (n->height != height)
        c->err = "stale height";
    else if (hl - hr > 1 || hr - hl > 1)
        c->err = "unbalanced";
    else if (n->max_free != m)
        c->err = "stale max_free";
    return height;
}

const char *heap_check(const struct heap *h)
{
    struct check c = {NULL, h->base, false};
    check_node(h->root, &c);
    if (!c.err && c.next_start != h->base + h->size)
        c.err = "blocks do not reach the end of the range";
    return c.err;
}
