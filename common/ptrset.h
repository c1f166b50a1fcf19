/*
 * ptrset.h — a set of handle values (pointers), each with a small record:
 * an open-addressing hash table with tombstones, growing at half load.
 * Not thread-safe: callers hold their own lock.
 *
 * Both sides of rgpu track the handles a client holds: the server so that a
 * forged handle never reaches a backend, the client so that a stale or
 * forged handle fails at call time even for asynchronous calls.
 */
#ifndef RGPU_COMMON_PTRSET_H
#define RGPU_COMMON_PTRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ptrset_entry {
    uintptr_t key;   /* 0: empty; 1: deleted */
    uintptr_t owner; /* e.g. the owning context */
    uint32_t tid;    /* e.g. the client thread of a per-thread stream */
    uint8_t type;
    uint8_t flags;
    uint64_t value;  /* e.g. an allocation's size */
};

struct ptrset {
    struct ptrset_entry *tab;
    size_t cap, used, tombs;
};

bool ptrset_init(struct ptrset *s);
void ptrset_free(struct ptrset *s);
/* The entry for key, or NULL. Keys 0 and 1 are never stored. */
struct ptrset_entry *ptrset_find(struct ptrset *s, uintptr_t key);
/* Insert (or overwrite) e; false on allocation failure. */
bool ptrset_put(struct ptrset *s, const struct ptrset_entry *e);
bool ptrset_del(struct ptrset *s, uintptr_t key);
/* Visit every entry; delete those for which fn returns true. */
void ptrset_filter(struct ptrset *s, bool (*fn)(const struct ptrset_entry *e, void *arg), void *arg);

#endif
