/*
 * handles.c — open-addressing set of the handles a worker gave out (see
 * handles.h). Deleted slots are tombstones (h == 1) so probing stays correct;
 * the table grows at half load and is rebuilt without tombstones.
 */
#include "handles.h"

#include <stdlib.h>
#include <string.h>

#define TOMB ((uintptr_t)1)

void handles_init(struct handles *hs)
{
    memset(hs, 0, sizeof *hs);
    pthread_mutex_init(&hs->lock, NULL);
    hs->cap = 256;
    hs->tab = calloc(hs->cap, sizeof *hs->tab);
}

static size_t slot_of(uintptr_t h, size_t cap)
{
    uint64_t x = (uint64_t)h * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 17) & (cap - 1);
}

static struct handle_entry *find(struct handles *hs, uintptr_t h)
{
    for (size_t i = slot_of(h, hs->cap), n = 0; n < hs->cap; i = (i + 1) & (hs->cap - 1), n++) {
        if (hs->tab[i].h == h)
            return &hs->tab[i];
        if (hs->tab[i].h == 0)
            return NULL;
    }
    return NULL;
}

static void insert(struct handles *hs, const struct handle_entry *e)
{
    for (size_t i = slot_of(e->h, hs->cap);; i = (i + 1) & (hs->cap - 1)) {
        if (hs->tab[i].h <= TOMB) {
            hs->tab[i] = *e;
            return;
        }
    }
}

static void grow(struct handles *hs)
{
    struct handle_entry *old = hs->tab;
    size_t oldcap = hs->cap;
    size_t cap = hs->used * 4 > oldcap ? oldcap * 2 : oldcap;
    struct handle_entry *tab = calloc(cap, sizeof *tab);
    if (!tab)
        abort(); /* a worker that cannot track handles cannot keep its promises */
    hs->tab = tab;
    hs->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].h > TOMB)
            insert(hs, &old[i]);
    free(old);
}

bool handles_has(struct handles *hs, int type, const void *h)
{
    pthread_mutex_lock(&hs->lock);
    struct handle_entry *e = h ? find(hs, (uintptr_t)h) : NULL;
    bool ok = e && e->type == type;
    pthread_mutex_unlock(&hs->lock);
    return ok;
}

static void add_locked(struct handles *hs, int type, uintptr_t h, CUcontext owner, uint32_t tid, int per_thread)
{
    if (h <= TOMB || find(hs, h))
        return;
    hs->used++;
    if (hs->used * 2 >= hs->cap)
        grow(hs);
    struct handle_entry e = {h, (uintptr_t)owner, tid, (uint8_t)type, (uint8_t)per_thread};
    insert(hs, &e);
}

void handles_add(struct handles *hs, int type, const void *h, CUcontext owner)
{
    pthread_mutex_lock(&hs->lock);
    add_locked(hs, type, (uintptr_t)h, owner, 0, 0);
    pthread_mutex_unlock(&hs->lock);
}

void handles_add_per_thread(struct handles *hs, CUstream s, uint32_t tid, CUcontext owner)
{
    pthread_mutex_lock(&hs->lock);
    add_locked(hs, HT_STREAM, (uintptr_t)s, owner, tid, 1);
    pthread_mutex_unlock(&hs->lock);
}

void handles_del(struct handles *hs, const void *h)
{
    pthread_mutex_lock(&hs->lock);
    struct handle_entry *e = h ? find(hs, (uintptr_t)h) : NULL;
    if (e) {
        e->h = TOMB;
        hs->used--;
    }
    pthread_mutex_unlock(&hs->lock);
}

void handles_drop_owned(struct handles *hs, CUcontext ctx, bool with_ctx)
{
    pthread_mutex_lock(&hs->lock);
    for (size_t i = 0; i < hs->cap; i++) {
        struct handle_entry *e = &hs->tab[i];
        if (e->h <= TOMB)
            continue;
        if ((e->type != HT_CTX && e->owner == (uintptr_t)ctx) || (with_ctx && e->h == (uintptr_t)ctx)) {
            e->h = TOMB;
            hs->used--;
        }
    }
    pthread_mutex_unlock(&hs->lock);
}

CUstream handles_per_thread(struct handles *hs, uint32_t tid, CUcontext ctx)
{
    CUstream s = NULL;
    pthread_mutex_lock(&hs->lock);
    for (size_t i = 0; i < hs->cap && !s; i++) {
        struct handle_entry *e = &hs->tab[i];
        if (e->h > TOMB && e->per_thread && e->tid == tid && e->owner == (uintptr_t)ctx)
            s = (CUstream)e->h;
    }
    pthread_mutex_unlock(&hs->lock);
    return s;
}
