/*
 * reader.c — buffered reading of rgpu messages (see reader.h).
 */
#include "reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

int rgpu_reader_init(struct rgpu_reader *r, int fd, size_t cap)
{
    *r = (struct rgpu_reader){.fd = fd, .cap = cap};
    r->buf = malloc(cap);
    return r->buf ? 0 : -1;
}

void rgpu_reader_free(struct rgpu_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->pos = r->end = 0;
}

/* One read of whatever the connection has (at least one byte). */
static int refill(struct rgpu_reader *r)
{
    r->pos = r->end = 0;
    ssize_t k = rgpu_read_some(r->fd, r->buf, r->cap);
    if (k > 0) {
        r->end = (size_t)k;
        return 0;
    }
    if (k == 0)
        errno = 0;
    return -1;
}

int rgpu_reader_read(struct rgpu_reader *r, void *p, size_t n)
{
    uint8_t *d = p;
    while (n) {
        size_t have = r->end - r->pos, k = have < n ? have : n;
        memcpy(d, r->buf + r->pos, k);
        r->pos += k;
        d += k;
        n -= k;
        if (!n)
            break;
        /* the buffer is empty here: big pieces skip it */
        if (n >= r->cap)
            return rgpu_read_full(r->fd, d, n);
        if (refill(r))
            return -1;
    }
    return 0;
}

const void *rgpu_reader_take(struct rgpu_reader *r, size_t n)
{
    if (r->end - r->pos < n)
        return NULL;
    const void *p = r->buf + r->pos;
    r->pos += n;
    return p;
}

int rgpu_reader_skip(struct rgpu_reader *r, uint64_t n)
{
    size_t have = r->end - r->pos, k = have < n ? have : (size_t)n;
    r->pos += k;
    n -= k;
    return n ? rgpu_skip(r->fd, n) : 0;
}
