/*
 * dtoh_chunked.c — large device->host copies on a backend whose device
 * memory is not this process's (the NVIDIA driver, or the CPU device with
 * RGPU_STAGED_COPIES=1): the copy is queued in chunks into a page-locked
 * staging buffer, an event recorded after each, and a sender thread writes
 * the DATA message's bulk chunk by chunk as the events complete, so the
 * device copy of chunk n+1 runs while chunk n is on the wire. Sent after the
 * whole copy, the wire would wait for the DMA and the DMA for nobody.
 *
 * Ordering: the client must receive the bytes before the reply of any
 * synchronising call that covers the copy, which the server sends once the
 * stream has passed it. A gate queued after the last chunk as a delivery
 * (completions.h: replies wait for a finished one) waits until the sender
 * has written everything.
 *
 * No deadlock: the sender waits for its first event without the send lock
 * (earlier work on the stream may wait for a host function, i.e. for the
 * reader, which may need the lock to reply); once the first chunk is in,
 * everything before the copy has run and nothing can be queued between the
 * chunks (this reader queued them together), so under the lock it waits
 * only for its own chunks' DMA. If the thread cannot be started the gate
 * sends the message itself, as the unchunked path does.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "worker.h"

#define CHUNK_MIN (1u << 20)
#define MAX_CHUNKS 64u
#define CHUNKED_MIN (2u * CHUNK_MIN)

struct job {
    struct worker *w;
    CUcontext ctx;
    uint32_t seq;
    uint8_t *staging;
    uint64_t n, chunk;
    unsigned nchunks;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool sent;       /* the sender is done (or gave up) */
    bool decided;    /* threaded is final */
    bool threaded;   /* a sender thread runs */
    int refs;        /* the gate and the sender */
    CUevent ev[];
};

static void job_unref(struct job *j)
{
    pthread_mutex_lock(&j->mu);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    bufpool_put(j->staging);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cond);
    free(j);
}

/* The DATA message: header, then the chunks as their events complete. */
static void send_chunks(struct job *j, bool wait_events)
{
    struct worker *w = j->w;
    const struct rgpu_backend *be = w->be;
    CUresult r = wait_events ? be->cuEventSynchronize(j->ev[0]) : CUDA_SUCCESS;
    struct rgpu_hdr h = {.magic = RGPU_MAGIC, .type = RGPU_MSG_DATA, .seq = j->seq, .result = r};
    if (r != CUDA_SUCCESS) { /* the failure is latched by the stream; the client stops waiting */
        worker_send(w, &h, NULL);
        return;
    }
    h.bulk_len = j->n;
    if (atomic_load(&w->dead))
        return;
    pthread_mutex_lock(&w->send_lock);
    struct iovec iov = {&h, sizeof h};
    int rc = rgpu_writev_full(w->fd, &iov, 1);
    for (unsigned k = 0; rc == 0 && k < j->nchunks; k++) {
        uint64_t off = (uint64_t)k * j->chunk, len = j->n - off < j->chunk ? j->n - off : j->chunk;
        /* a failed wait cannot be reported inside a message already begun:
         * the stream latches the copy's failure; send what there is */
        if (wait_events && k > 0)
            be->cuEventSynchronize(j->ev[k]);
        iov = (struct iovec){j->staging + off, len};
        rc = rgpu_writev_full(w->fd, &iov, 1);
    }
    worker_send_unlock(w);
    if (rc != 0)
        atomic_store(&w->dead, true);
}

static void mark_sent(struct job *j)
{
    pthread_mutex_lock(&j->mu);
    j->sent = true;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->mu);
}

static void *sender_main(void *p)
{
    struct job *j = p;
    const struct rgpu_backend *be = j->w->be;
    worker_thread_init(be);
    be->cuCtxSetCurrent(j->ctx);
    send_chunks(j, true);
    mark_sent(j);
    for (unsigned k = 0; k < j->nchunks; k++)
        be->cuEventDestroy_v2(j->ev[k]);
    job_unref(j);
    return NULL;
}

/* After the last chunk, on the stream's completion thread. */
static void gate_fn(void *p, CUresult unused)
{
    struct job *j = p;
    pthread_mutex_lock(&j->mu);
    while (!j->decided)
        pthread_cond_wait(&j->cond, &j->mu);
    bool threaded = j->threaded;
    while (threaded && !j->sent)
        pthread_cond_wait(&j->cond, &j->mu);
    pthread_mutex_unlock(&j->mu);
    if (!threaded)
        send_chunks(j, false); /* the stream has run every chunk */
    job_unref(j);
}

CUresult dtoh_chunked(struct srv_call *c, CUdeviceptr src, uint64_t n, CUstream s)
{
    struct worker *w = c->w;
    const struct rgpu_backend *be = w->be;
    CUdeviceptr base;
    size_t size;
    if (w->device_is_host || n < CHUNKED_MIN || be->cuMemGetAddressRange_v2(&base, &size, src) != CUDA_SUCCESS ||
        src + n < src || src + n > base + size)
        return CUDA_ERROR_NOT_SUPPORTED; /* the unchunked path copies or reports it */
    uint64_t chunk = (n + MAX_CHUNKS - 1) / MAX_CHUNKS;
    chunk = chunk < CHUNK_MIN ? CHUNK_MIN : (chunk + 0xffff) & ~(uint64_t)0xffff;
    unsigned nchunks = (unsigned)((n + chunk - 1) / chunk);
    struct job *j = calloc(1, sizeof *j + nchunks * sizeof(CUevent));
    if (!j)
        return CUDA_ERROR_NOT_SUPPORTED;
    *j = (struct job){.w = w, .ctx = (CUcontext)(uintptr_t)c->hdr.ctx, .seq = c->hdr.seq, .n = n, .chunk = chunk,
                      .nchunks = nchunks, .refs = 1};
    unsigned made = 0;
    while (made < nchunks && be->cuEventCreate(&j->ev[made], CU_EVENT_DISABLE_TIMING) == CUDA_SUCCESS)
        made++;
    if (made < nchunks || !(j->staging = bufpool_get(n))) {
        while (made)
            be->cuEventDestroy_v2(j->ev[--made]);
        free(j);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cond, NULL);
    /* Every chunk inside one validated allocation: a failure after the
     * first would be the device's, latched by the stream. */
    CUresult r = CUDA_SUCCESS;
    for (unsigned k = 0; k < nchunks && r == CUDA_SUCCESS; k++) {
        uint64_t off = (uint64_t)k * chunk, len = n - off < chunk ? n - off : chunk;
        r = be->cuMemcpyDtoHAsync_v2(j->staging + off, src + off, len, s);
        if (r == CUDA_SUCCESS)
            r = be->cuEventRecord(j->ev[k], s);
        if (r != CUDA_SUCCESS && k > 0) {
            be->cuStreamSynchronize(s); /* what was queued reads nothing after this */
            break;
        }
    }
    j->refs = 2; /* this function's, then the sender's; the gate's */
    if (r == CUDA_SUCCESS && completions_add(w, s, gate_fn, j, true) == CUDA_SUCCESS) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        /* the gate may already be waiting: it learns under the lock who sends */
        pthread_mutex_lock(&j->mu);
        bool threaded = j->threaded = pthread_create(&th, &at, sender_main, j) == 0;
        j->decided = true;
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->mu);
        pthread_attr_destroy(&at);
        rgpu_debug("cuMemcpyDtoHAsync, %llu bytes: %u chunks of %llu, %s", (unsigned long long)n, nchunks,
                   (unsigned long long)chunk, threaded ? "each sent when it is copied" : "sent by the stream");
        if (!threaded) {
            for (unsigned k = 0; k < nchunks; k++)
                be->cuEventDestroy_v2(j->ev[k]);
            job_unref(j); /* the sender's reference, never taken */
        }
        return CUDA_SUCCESS; /* the sender (or the gate) drops the other */
    }
    j->refs = 1;
    if (r == CUDA_SUCCESS) { /* no gate: wait here, then send */
        r = be->cuStreamSynchronize(s);
        if (r == CUDA_SUCCESS)
            send_chunks(j, false);
    }
    for (unsigned k = 0; k < nchunks; k++)
        be->cuEventDestroy_v2(j->ev[k]);
    job_unref(j);
    return r; /* not CUDA_SUCCESS: the caller tells the client the data will not come */
}
