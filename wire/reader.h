/*
 * reader.h — buffered reading of a stream of rgpu messages.
 *
 * A message is a 48-byte header, its arguments and its bulk; reading each
 * piece with its own read() costs two or three system calls per message,
 * while a peer that batches (the client coalesces its no-reply requests,
 * the server sends a reply right after the DATA it answers) delivers many
 * messages at once. The reader fills a buffer with whatever the socket has
 * and serves small pieces from it; a piece at least as large as the buffer
 * (copy payloads) is read straight into its destination after the buffered
 * bytes, so large bulk is never copied twice.
 *
 * One thread at a time may use a reader (the caller provides the exclusion).
 */
#ifndef RGPU_WIRE_READER_H
#define RGPU_WIRE_READER_H

#include <stddef.h>
#include <stdint.h>

struct rgpu_reader {
    int fd;
    uint8_t *buf;
    size_t cap, pos, end;
};

#define RGPU_READER_CAP (64u * 1024u)

/* 0, or -1 when the buffer cannot be allocated. */
int rgpu_reader_init(struct rgpu_reader *r, int fd, size_t cap);
void rgpu_reader_free(struct rgpu_reader *r);

/* Exactly n bytes into p: 0, or -1 on error or end of stream (errno 0 at a
 * clean EOF), like rgpu_read_full. */
int rgpu_reader_read(struct rgpu_reader *r, void *p, size_t n);

/* The next n bytes in place when all of them are already buffered (they are
 * consumed), else NULL and nothing is consumed. */
const void *rgpu_reader_take(struct rgpu_reader *r, size_t n);

/* Discard n bytes. */
int rgpu_reader_skip(struct rgpu_reader *r, uint64_t n);

/* Bytes received but not yet consumed. */
static inline size_t rgpu_reader_buffered(const struct rgpu_reader *r) { return r->end - r->pos; }

#endif
