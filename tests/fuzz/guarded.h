/*
 * guarded.h — an input placed so that its end is the end of readable memory.
 *
 * The parsers get exact lengths and must not read a byte past them (the
 * server's buffers are the client's bytes, with no NUL after them). A heap
 * copy does not show every overread: libc's string functions, which ASan
 * does not see into, run on until they find a NUL somewhere. Here the byte
 * after the input is on a page that cannot be read, so any overread is a
 * crash, in every build.
 */
#ifndef RGPU_FUZZ_GUARDED_H
#define RGPU_FUZZ_GUARDED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guarded {
    void *map;
    size_t map_len;
};

/* A copy of data[0, size) ending where an unreadable page begins; NULL if
 * memory runs out. */
static inline void *guarded_copy(struct guarded *g, const uint8_t *data, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (size + page - 1) / page * page;
    g->map_len = body + page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED)
        return NULL;
    uint8_t *end = (uint8_t *)g->map + body;
    if (mprotect(end, page, PROT_NONE) != 0) {
        munmap(g->map, g->map_len);
        return NULL;
    }
    memcpy(end - size, data, size);
    return end - size;
}

static inline void guarded_free(struct guarded *g)
{
    munmap(g->map, g->map_len);
}

#endif
