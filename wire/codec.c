/*
 * codec.c — bounded encoders and decoders for rgpu message arguments
 * (see codec.h). Decoding never trusts a length: every read is checked
 * against what is left, and a short read poisons the rbuf.
 */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

void rgpu_wbuf_free_slow(struct rgpu_wbuf *w)
{
    free(w->data);
    rgpu_wbuf_init(w);
}

static bool wbuf_reserve(struct rgpu_wbuf *w, size_t n)
{
    if (w->failed)
        return false;
    if (w->len + n <= w->cap)
        return true;
    size_t cap = w->cap * 2;
    while (cap < w->len + n)
        cap *= 2;
    uint8_t *d = w->data == w->inline_data ? malloc(cap) : realloc(w->data, cap);
    if (!d) {
        w->failed = true;
        return false;
    }
    if (w->data == w->inline_data)
        memcpy(d, w->inline_data, w->len);
    w->data = d;
    w->cap = cap;
    return true;
}

void rgpu_wbuf_put_any(struct rgpu_wbuf *w, const void *p, size_t n)
{
    if (!wbuf_reserve(w, n))
        return;
    if (n)
        memcpy(w->data + w->len, p, n);
    w->len += n;
}

void rgpu_wbuf_bulk(struct rgpu_wbuf *w, const void *p, uint64_t n)
{
    if (n == 0)
        return;
    if (w->nbulk == RGPU_WBUF_MAX_IOV) {
        w->failed = true;
        return;
    }
    w->bulk[w->nbulk].iov_base = (void *)p;
    w->bulk[w->nbulk].iov_len = n;
    w->nbulk++;
    w->bulk_len += n;
}

void rgpu_rbuf_init(struct rgpu_rbuf *r, const void *data, size_t len, void *bulk, uint64_t bulk_len)
{
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->bulk = bulk;
    r->bulk_len = bulk_len;
    r->bulk_pos = 0;
    r->failed = false;
}

bool rgpu_rbuf_get_any(struct rgpu_rbuf *r, void *p, size_t n)
{
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        memset(p, 0, n);
        return false;
    }
    memcpy(p, r->data + r->pos, n);
    r->pos += n;
    return true;
}

void *rgpu_rbuf_take_bulk(struct rgpu_rbuf *r, uint64_t n)
{
    if (r->failed || n > r->bulk_len - r->bulk_pos) {
        r->failed = true;
        return NULL;
    }
    void *p = r->bulk ? r->bulk + r->bulk_pos : NULL;
    r->bulk_pos += n;
    return p;
}

bool rgpu_rbuf_done(const struct rgpu_rbuf *r)
{
    return !r->failed && r->pos == r->len && r->bulk_pos == r->bulk_len;
}
