/*
 * registry.c — the set of live handles (contexts, streams, events).
 *
 * A handle is the address of its structure, so a handle passed in by the
 * server could be anything: it is looked up here, by value, before it is
 * dereferenced. Each entry records the kind, so a stream handle passed as an
 * event is rejected too.
 *
 * Open addressing with linear probing; deletion shifts later entries back
 * instead of leaving tombstones, so lookups stay short. The table doubles at
 * half full. Every function runs under cpudev.mu.
 */
#include "internal.h"

#include <stdlib.h>

struct slot {
    uintptr_t key; /* 0: empty (no structure lives at address 0) */
    enum handle_kind kind;
};

static struct {
    struct slot *slots;
    size_t cap;   /* power of two, or 0 before the first insertion */
    size_t count;
} reg;

static size_t slot_of(uintptr_t key, size_t cap)
{
    /* Fibonacci hashing: structure addresses share their low bits. */
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static bool grow(void)
{
    size_t cap = reg.cap ? reg.cap * 2 : 64;
    struct slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < reg.cap; i++) {
        if (!reg.slots[i].key)
            continue;
        size_t j = slot_of(reg.slots[i].key, cap);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = reg.slots[i];
    }
    free(reg.slots);
    reg.slots = slots;
    reg.cap = cap;
    return true;
}

static struct slot *find(uintptr_t key)
{
    if (!reg.cap || !key)
        return NULL;
    for (size_t i = slot_of(key, reg.cap);; i = (i + 1) & (reg.cap - 1)) {
        if (reg.slots[i].key == key)
            return &reg.slots[i];
        if (!reg.slots[i].key)
            return NULL;
    }
}

bool reg_add_locked(const void *h, enum handle_kind kind)
{
    uintptr_t key = (uintptr_t)h;
    if ((reg.count + 1) * 2 > reg.cap && !grow())
        return false;
    size_t i = slot_of(key, reg.cap);
    while (reg.slots[i].key && reg.slots[i].key != key)
        i = (i + 1) & (reg.cap - 1);
    if (!reg.slots[i].key)
        reg.count++;
    reg.slots[i].key = key;
    reg.slots[i].kind = kind;
    return true;
}

void reg_del_locked(const void *h)
{
    struct slot *s = find((uintptr_t)h);
    if (!s)
        return;
    size_t mask = reg.cap - 1, hole = (size_t)(s - reg.slots);
    reg.slots[hole].key = 0;
    reg.count--;
    /* Move back every later entry of the probe run that may no longer be
     * reachable across the hole. */
    for (size_t i = (hole + 1) & mask; reg.slots[i].key; i = (i + 1) & mask) {
        size_t home = slot_of(reg.slots[i].key, reg.cap);
        /* The entry at i stays unless its home lies cyclically in (hole, i]. */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays)
            continue;
        reg.slots[hole] = reg.slots[i];
        reg.slots[i].key = 0;
        hole = i;
    }
}

bool reg_has_locked(const void *h, enum handle_kind kind)
{
    const struct slot *s = find((uintptr_t)h);
    return s && s->kind == kind;
}
