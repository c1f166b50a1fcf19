/*
 * bufpool.h — reusable buffers for copy payloads (one pool per worker
 * process).
 *
 * Host->device payloads and device->host staging buffers are needed for one
 * copy each, then released by a stream thread. Large ones obtained fresh
 * every time would be new mmaps (above glibc's mmap threshold) that fault in
 * and zero their whole size per copy; the pool keeps released buffers of
 * 64 KiB and more, in power-of-two size classes, and hands them out again
 * already faulted in. Smaller sizes use malloc.
 *
 * Idle memory is bounded: at most RGPU_BUFPOOL_IDLE_MIB MiB (environment,
 * default 1024) stay mapped while unused; beyond that buffers are unmapped.
 * Thread-safe; a buffer is handed out again only after bufpool_put.
 */
#ifndef RGPU_SERVER_BUFPOOL_H
#define RGPU_SERVER_BUFPOOL_H

#include <stddef.h>

/* Page-lock pooled buffers with pin (0: pinned) and unpin (the NVIDIA
 * backend: the driver copies to pageable memory synchronously, blocking the
 * reader until the stream reaches the copy, and stages pageable sources
 * once more). Then every size is pooled, from 4 KiB, and pinned once when it
 * is mapped; a buffer whose pinning failed (no context was current) is
 * pinned again when it is next handed out, and so is every buffer after
 * bufpool_repin() (a context was destroyed: its registrations may be gone).
 * Pinned buffers are unpinned and unmapped only inside bufpool_get, on the
 * thread that asks for buffers (the driver forbids its calls in host
 * functions, where bufpool_put runs). Call before the first bufpool_get. */
void bufpool_set_pinning(int (*pin)(void *p, size_t n), void (*unpin)(void *p));
void bufpool_repin(void);

/* A buffer of at least len (> 0) bytes, or NULL when memory is short. */
void *bufpool_get(size_t len);
/* Release a buffer from bufpool_get (NULL is ignored). Any thread; its
 * signature suits cuLaunchHostFunc. */
void bufpool_put(void *buf);

#endif
