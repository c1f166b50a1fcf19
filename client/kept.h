/*
 * kept.h — answers the client keeps per handle and tag (a device, a
 * context), until everything is forgotten at once.
 *
 * For facts the server would give the same answer to until something
 * forgets them (funcattrs.c, kernelfunc.c): a fetch begins with
 * kept_gen(), and its answer is kept only if no forgetting came between.
 */
#ifndef RGPU_CLIENT_KEPT_H
#define RGPU_CLIENT_KEPT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptrset.h"

struct kept_map {
    pthread_mutex_t lock;
    struct ptrset set; /* handle -> its list of tagged answers (owner) */
    uint64_t gen;      /* forgettings so far */
};
#define KEPT_MAP_INIT {PTHREAD_MUTEX_INITIALIZER, {0}, 0}

/* The generation a fetch starts in. */
uint64_t kept_gen(struct kept_map *m);
/* The kept answer for (key, tag) into out (size bytes); false if none. */
bool kept_find(struct kept_map *m, uintptr_t key, uintptr_t tag, void *out, size_t size);
/* Keep an answer fetched in generation gen, unless something was forgotten
 * since (then it is asked again next time, as when memory runs short). */
void kept_put(struct kept_map *m, uintptr_t key, uintptr_t tag, const void *answer, size_t size, uint64_t gen);
/* Forget everything. */
void kept_flush(struct kept_map *m);

#endif
