/*
 * completions.h — server work that follows a stream without holding it.
 *
 * Staging buffers go back to their pool, and device->host bytes go to the
 * client, when the stream has passed the copy. A host function queued on the
 * stream would say when, but NVIDIA's driver runs every host function of a
 * process on one thread: while one of the client's own host functions waits
 * (for its application, or for work on another stream) every stream behind
 * one of ours would wait too, which CUDA never makes them do. So on a backend
 * whose memory is not ours (the NVIDIA driver, the CPU device with
 * RGPU_STAGED_COPIES=1) the server records an event instead, and a thread of
 * that stream's own waits for it and runs the work, in the stream's order.
 *
 * A reply may show the client that a copy has finished (a synchronisation, a
 * query): the bytes must be there first. completions_flush, before every
 * reply, waits for each delivery whose event has completed.
 */
#ifndef RGPU_SERVER_COMPLETIONS_H
#define RGPU_SERVER_COMPLETIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "cuda_api.h"

struct worker;

/* fn(arg, r) once the work queued on s so far has finished (r: how waiting
 * for it went). delivery: fn sends bytes the client must have before any
 * later reply. An error (nothing was queued, fn will not run) when the event
 * cannot be recorded. */
CUresult completions_add(struct worker *w, CUstream s, void (*fn)(void *arg, CUresult r), void *arg, bool delivery);
/* Before a reply: wait until every delivery whose work has finished is sent. */
void completions_flush(struct worker *w);
/* A host function queued on s now sees the bytes of the copies before it:
 * completions_mark(s) when it is queued, completions_wait(s, mark) when it
 * runs. The wait makes no CUDA call (a host function must not): it waits for
 * items whose work the stream has already done. */
uint64_t completions_mark(CUstream s);
/* ctx is gone, with its events: none of them is handed out again. */
void completions_forget_ctx(CUcontext ctx);
void completions_wait(CUstream s, uint64_t mark);

#endif
