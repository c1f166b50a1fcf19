/*
 * idle.h — whether a context has nothing left to run, so that rgpud's reader
 * can answer cuCtxSynchronize itself (worker.c, already_done) instead of
 * handing it to a waiter.
 *
 * The context's streams are the worker's handles, but a stream destroyed with
 * work pending is no handle any more while the context still waits for that
 * work (perhaps for a client host function whose end only the reader can
 * receive: answering on the reader then would hang). So destroying a busy
 * stream first records an event on it, kept until the event has completed.
 */
#ifndef RGPU_SERVER_IDLE_H
#define RGPU_SERVER_IDLE_H

#include <stdbool.h>

#include "cuda_api.h"

struct worker;

/* Before s (of ctx) is destroyed: remember its pending work, if any. */
void idle_note_destroy(struct worker *w, CUcontext ctx, CUstream s);
/* Everything ctx was given to run has run (the legacy stream, every stream
 * of ctx, the streams destroyed while busy); false when unsure. */
bool idle_ctx(struct worker *w, CUcontext ctx);
/* ctx is gone: forget its destroyed streams' events (it took them along). */
void idle_forget_ctx(CUcontext ctx);

#endif
