/*
 * kept.c — see kept.h. A handle has one answer per tag: a short list.
 */
#include "kept.h"

#include <stdlib.h>
#include <string.h>

struct kept {
    struct kept *next;
    uintptr_t tag;
    size_t size;
    unsigned char answer[];
};

static bool drop(const struct ptrset_entry *e, void *unused)
{
    (void)unused;
    for (struct kept *k = (struct kept *)e->owner, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    return true;
}

void kept_flush(struct kept_map *m)
{
    pthread_mutex_lock(&m->lock);
    m->gen++;
    if (m->set.tab)
        ptrset_filter(&m->set, drop, NULL);
    pthread_mutex_unlock(&m->lock);
}

uint64_t kept_gen(struct kept_map *m)
{
    pthread_mutex_lock(&m->lock);
    uint64_t g = m->gen;
    pthread_mutex_unlock(&m->lock);
    return g;
}

bool kept_find(struct kept_map *m, uintptr_t key, uintptr_t tag, void *out, size_t size)
{
    bool found = false;
    pthread_mutex_lock(&m->lock);
    struct ptrset_entry *e = m->set.tab ? ptrset_find(&m->set, key) : NULL;
    for (struct kept *k = e ? (struct kept *)e->owner : NULL; k && !found; k = k->next)
        if (k->tag == tag && k->size == size) {
            memcpy(out, k->answer, size);
            found = true;
        }
    pthread_mutex_unlock(&m->lock);
    return found;
}

void kept_put(struct kept_map *m, uintptr_t key, uintptr_t tag, const void *answer, size_t size, uint64_t gen)
{
    struct kept *k = malloc(sizeof *k + size);
    if (!k)
        return;
    k->tag = tag;
    k->size = size;
    memcpy(k->answer, answer, size);
    pthread_mutex_lock(&m->lock);
    struct ptrset_entry *e = NULL;
    if (m->gen == gen && (m->set.tab || ptrset_init(&m->set))) {
        e = ptrset_find(&m->set, key);
        if (!e && ptrset_put(&m->set, &(struct ptrset_entry){.key = key}))
            e = ptrset_find(&m->set, key);
    }
    if (e) {
        k->next = (struct kept *)e->owner;
        e->owner = (uintptr_t)k;
        k = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    free(k);
}
