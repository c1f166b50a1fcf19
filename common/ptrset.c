/*
 * ptrset.c — see ptrset.h. Deleted slots are tombstones so that probe
 * sequences stay intact; a rebuild at growth drops them.
 */
#include "ptrset.h"

#include <stdlib.h>

#define EMPTY ((uintptr_t)0)
#define TOMB ((uintptr_t)1)

bool ptrset_init(struct ptrset *s)
{
    s->cap = 64;
    s->used = s->tombs = 0;
    s->tab = calloc(s->cap, sizeof *s->tab);
    return s->tab != NULL;
}

void ptrset_free(struct ptrset *s)
{
    free(s->tab);
    s->tab = NULL;
    s->cap = s->used = s->tombs = 0;
}

static size_t slot_of(uintptr_t k, size_t cap)
{
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 17) & (cap - 1);
}

struct ptrset_entry *ptrset_find(struct ptrset *s, uintptr_t key)
{
    if (key <= TOMB || !s->tab)
        return NULL;
    for (size_t i = slot_of(key, s->cap), n = 0; n < s->cap; i = (i + 1) & (s->cap - 1), n++) {
        if (s->tab[i].key == key)
            return &s->tab[i];
        if (s->tab[i].key == EMPTY)
            return NULL;
    }
    return NULL;
}

static void place(struct ptrset_entry *tab, size_t cap, const struct ptrset_entry *e)
{
    for (size_t i = slot_of(e->key, cap);; i = (i + 1) & (cap - 1))
        if (tab[i].key <= TOMB) {
            tab[i] = *e;
            return;
        }
}

bool ptrset_put(struct ptrset *s, const struct ptrset_entry *e)
{
    if (e->key <= TOMB || !s->tab)
        return false;
    struct ptrset_entry *old = ptrset_find(s, e->key);
    if (old) {
        *old = *e;
        return true;
    }
    if ((s->used + s->tombs + 1) * 2 > s->cap) {
        /* grow when live entries need it, else just sweep the tombstones */
        size_t cap = (s->used + 1) * 4 > s->cap ? s->cap * 2 : s->cap;
        struct ptrset_entry *tab = calloc(cap, sizeof *tab);
        if (!tab)
            return false;
        for (size_t i = 0; i < s->cap; i++)
            if (s->tab[i].key > TOMB)
                place(tab, cap, &s->tab[i]);
        free(s->tab);
        s->tab = tab;
        s->cap = cap;
        s->tombs = 0;
    }
    place(s->tab, s->cap, e);
    s->used++;
    return true;
}

bool ptrset_del(struct ptrset *s, uintptr_t key)
{
    struct ptrset_entry *e = ptrset_find(s, key);
    if (!e)
        return false;
    e->key = TOMB;
    s->used--;
    s->tombs++;
    return true;
}

void ptrset_filter(struct ptrset *s, bool (*fn)(const struct ptrset_entry *e, void *arg), void *arg)
{
    for (size_t i = 0; i < s->cap; i++)
        if (s->tab[i].key > TOMB && fn(&s->tab[i], arg)) {
            s->tab[i].key = TOMB;
            s->used--;
            s->tombs++;
        }
}
