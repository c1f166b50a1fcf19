/*
 * codec.h — argument encoding for rgpu messages.
 *
 * A wbuf collects the encoded arguments of one message in a small growable
 * byte array, and the bulk payload as a list of borrowed (pointer, length)
 * pieces that are written with writev, never copied. An rbuf reads a received
 * message; every read is checked against the bytes left, and a failed read
 * makes the whole decode fail (the caller then rejects the message).
 */
#ifndef RGPU_WIRE_CODEC_H
#define RGPU_WIRE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#define RGPU_WBUF_INLINE 512
#define RGPU_WBUF_MAX_IOV 8

struct rgpu_wbuf {
    uint8_t *data;              /* encoded arguments */
    size_t len, cap;
    uint8_t inline_data[RGPU_WBUF_INLINE];
    struct iovec bulk[RGPU_WBUF_MAX_IOV]; /* borrowed bulk pieces */
    int nbulk;
    uint64_t bulk_len;
    bool failed;                /* allocation failure or too many pieces */
};

struct rgpu_rbuf {
    const uint8_t *data;
    size_t len, pos;
    uint8_t *bulk;              /* received bulk payload (owned by the caller) */
    uint64_t bulk_len, bulk_pos;
    bool failed;
};

static inline void rgpu_wbuf_init(struct rgpu_wbuf *w)
{
    w->data = w->inline_data;
    w->len = 0;
    w->cap = sizeof w->inline_data;
    w->nbulk = 0;
    w->bulk_len = 0;
    w->failed = false;
}
/* Frees a grown buffer; the wbuf is empty (initialised) again. */
void rgpu_wbuf_free_slow(struct rgpu_wbuf *w);
static inline void rgpu_wbuf_free(struct rgpu_wbuf *w)
{
    if (__builtin_expect(w->data != w->inline_data, 0))
        rgpu_wbuf_free_slow(w);
    else
        rgpu_wbuf_init(w);
}
/* Any size, growing the buffer when needed. */
void rgpu_wbuf_put_any(struct rgpu_wbuf *w, const void *p, size_t n);
/* Inline only for sizes known at compile time: the generated codecs put
 * fixed-size values, which then compile to a store instead of a call into
 * memcpy (the per-call cost of a small synchronous call is mostly such
 * overheads). Variable sizes stay a call: inlined, gcc may expand them to
 * `rep movsb`, whose start-up cost made launches slower, not faster. */
static inline void rgpu_wbuf_put(struct rgpu_wbuf *w, const void *p, size_t n)
{
    if (__builtin_constant_p(n) && __builtin_expect(!w->failed && n <= w->cap - w->len, 1)) {
        memcpy(w->data + w->len, p, n);
        w->len += n;
        return;
    }
    rgpu_wbuf_put_any(w, p, n);
}
static inline void rgpu_wbuf_put_u64(struct rgpu_wbuf *w, uint64_t v) { rgpu_wbuf_put(w, &v, sizeof v); }
static inline void rgpu_wbuf_put_u8(struct rgpu_wbuf *w, uint8_t v) { rgpu_wbuf_put(w, &v, sizeof v); }
/* Append a borrowed bulk piece; p must stay valid until the message is sent. */
void rgpu_wbuf_bulk(struct rgpu_wbuf *w, const void *p, uint64_t n);

void rgpu_rbuf_init(struct rgpu_rbuf *r, const void *data, size_t len, void *bulk, uint64_t bulk_len);
/* Any size; a short read poisons r and zeroes p. */
bool rgpu_rbuf_get_any(struct rgpu_rbuf *r, void *p, size_t n);
/* Inline for compile-time sizes only, as rgpu_wbuf_put. */
static inline bool rgpu_rbuf_get(struct rgpu_rbuf *r, void *p, size_t n)
{
    if (__builtin_constant_p(n) && __builtin_expect(!r->failed && n <= r->len - r->pos, 1)) {
        memcpy(p, r->data + r->pos, n);
        r->pos += n;
        return true;
    }
    return rgpu_rbuf_get_any(r, p, n);
}
static inline bool rgpu_rbuf_get_u64(struct rgpu_rbuf *r, uint64_t *v) { return rgpu_rbuf_get(r, v, sizeof *v); }
static inline bool rgpu_rbuf_get_u8(struct rgpu_rbuf *r, uint8_t *v) { return rgpu_rbuf_get(r, v, sizeof *v); }
/* Take n bytes of the bulk payload in place; NULL (and failed) if short. */
void *rgpu_rbuf_take_bulk(struct rgpu_rbuf *r, uint64_t n);
/* True when everything was consumed and nothing failed. */
bool rgpu_rbuf_done(const struct rgpu_rbuf *r);

#endif
