/*
 * ranges.c — see ranges.h. Lookups are binary searches under a read lock;
 * insertions keep the array sorted by base (ranges never overlap).
 */
#include "ranges.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Index of the last range with base <= p, or -1. */
static long floor_idx(const struct ranges *rs, uintptr_t p)
{
    long lo = 0, hi = (long)rs->n - 1, ans = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (rs->v[mid].base <= p) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

bool ranges_add(struct ranges *rs, const struct range *r)
{
    bool ok = true;
    pthread_rwlock_wrlock(&rs->lock);
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        struct range *v = realloc(rs->v, cap * sizeof *v);
        if (!v) {
            ok = false;
            goto out;
        }
        rs->v = v;
        rs->cap = cap;
    }
    long i = floor_idx(rs, r->base) + 1;
    memmove(&rs->v[i + 1], &rs->v[i], (rs->n - (size_t)i) * sizeof *rs->v);
    rs->v[i] = *r;
    rs->n++;
out:
    pthread_rwlock_unlock(&rs->lock);
    return ok;
}

bool ranges_find(struct ranges *rs, uintptr_t p, struct range *out)
{
    pthread_rwlock_rdlock(&rs->lock);
    long i = floor_idx(rs, p);
    bool hit = i >= 0 && p - rs->v[i].base < rs->v[i].size;
    if (hit && out)
        *out = rs->v[i];
    pthread_rwlock_unlock(&rs->lock);
    return hit;
}

bool ranges_remove(struct ranges *rs, uintptr_t base, struct range *out)
{
    pthread_rwlock_wrlock(&rs->lock);
    long i = floor_idx(rs, base);
    bool hit = i >= 0 && rs->v[i].base == base;
    if (hit) {
        if (out)
            *out = rs->v[i];
        memmove(&rs->v[i], &rs->v[i + 1], (rs->n - (size_t)i - 1) * sizeof *rs->v);
        rs->n--;
    }
    pthread_rwlock_unlock(&rs->lock);
    return hit;
}

/* Remove the ranges whose field at offset off (a pointer) is key. */
static void remove_keyed(struct ranges *rs, size_t off, const void *key)
{
    pthread_rwlock_wrlock(&rs->lock);
    size_t kept = 0;
    for (size_t i = 0; i < rs->n; i++) {
        const void *k;
        memcpy(&k, (const char *)&rs->v[i] + off, sizeof k);
        if (k != key)
            rs->v[kept++] = rs->v[i];
    }
    rs->n = kept;
    pthread_rwlock_unlock(&rs->lock);
}

void ranges_remove_ctx(struct ranges *rs, const void *ctx) { remove_keyed(rs, offsetof(struct range, ctx), ctx); }

void ranges_remove_owner(struct ranges *rs, const void *owner)
{
    remove_keyed(rs, offsetof(struct range, owner), owner);
}

/* Ranges are compared by their last bytes, so that one ending at the top of
 * the address space does not wrap around. */
static uintptr_t last_byte(const struct range *r) { return r->base + (r->size - 1); }

/* The last byte of [p, p + n), n > 0, or the top of the address space. */
static uintptr_t last_of(uintptr_t p, size_t n) { return n - 1 > UINTPTR_MAX - p ? UINTPTR_MAX : p + (n - 1); }

bool ranges_overlaps(struct ranges *rs, uintptr_t p, size_t n)
{
    if (!n)
        return false;
    uintptr_t last = last_of(p, n);
    pthread_rwlock_rdlock(&rs->lock);
    long i = floor_idx(rs, last);
    bool hit = i >= 0 && last_byte(&rs->v[i]) >= p;
    pthread_rwlock_unlock(&rs->lock);
    return hit;
}

bool ranges_cover(struct ranges *rs, uintptr_t p, size_t n)
{
    if (n && n - 1 > UINTPTR_MAX - p)
        return false;
    uintptr_t last = n ? p + (n - 1) : p;
    pthread_rwlock_rdlock(&rs->lock);
    long i = floor_idx(rs, p);
    bool ok = false;
    if (i >= 0 && p - rs->v[i].base < rs->v[i].size) {
        uintptr_t reach = last_byte(&rs->v[i]);
        while (reach < last && (size_t)++i < rs->n && rs->v[i].base == reach + 1)
            reach = last_byte(&rs->v[i]);
        ok = reach >= last;
    }
    pthread_rwlock_unlock(&rs->lock);
    return ok;
}

void ranges_remove_overlapping(struct ranges *rs, uintptr_t p, size_t n)
{
    if (!n)
        return;
    uintptr_t last = last_of(p, n);
    pthread_rwlock_wrlock(&rs->lock);
    size_t kept = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].base > last || last_byte(&rs->v[i]) < p)
            rs->v[kept++] = rs->v[i];
    rs->n = kept;
    pthread_rwlock_unlock(&rs->lock);
}
