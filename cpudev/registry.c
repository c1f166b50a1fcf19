/*
 * registry.c — the set of live handles (contexts, streams, events).
 *
 * A handle is the address of its structure, so a handle passed in by the
 * server could be anything: it is looked up here, by value, before it is
 * dereferenced. Each entry records the kind, so a stream handle passed as an
 * event is rejected too. The table is common/ptrset, the one rgpu uses for
 * handle sets; every function runs under cpudev.mu.
 */
#include "internal.h"
#include "ptrset.h"

static struct ptrset reg; /* allocated on first insertion */

bool reg_add_locked(const void *h, enum handle_kind kind)
{
    if (!reg.tab && !ptrset_init(&reg))
        return false;
    struct ptrset_entry e = {.key = (uintptr_t)h, .type = (uint8_t)kind};
    return ptrset_put(&reg, &e);
}

void reg_del_locked(const void *h) { ptrset_del(&reg, (uintptr_t)h); }

bool reg_has_locked(const void *h, enum handle_kind kind)
{
    const struct ptrset_entry *e = ptrset_find(&reg, (uintptr_t)h);
    return e && e->type == kind;
}
