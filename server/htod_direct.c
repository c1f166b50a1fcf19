/*
 * htod_direct.c — large host->device copies on the CPU device, received
 * straight into device memory.
 *
 * Normally the reader reads a copy's payload into a staging buffer and the
 * stream copies it into device memory when it reaches the copy: two passes
 * over the data on the server. The CPU device's memory is this process's
 * memory, so the payload can be read from the socket into its destination
 * directly — but only once the stream has reached the copy, or earlier work
 * (and the implicit legacy-stream ordering) would see it too soon. The
 * stream's own ordering says when: a gate host function is queued where the
 * copy belongs and tells the reader when it runs; the stream then waits in
 * it while the reader reads the payload into place. If the gate is not
 * reached soon (the stream is busy), the reader does not wait for it: it
 * reads the payload into a staging buffer as before, and the gate copies it
 * when the stream gets there. Either way the reader never waits for anything
 * but the payload itself, which the client has already sent, so nothing the
 * stream might be waiting for (a host function's CALLBACK_DONE) is held up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpudev.h"
#include "log.h"
#include "reader.h"
#include "worker.h"

/* Below this the wake-up of the stream thread costs more than the pass. */
#define DIRECT_HTOD_MIN (1u << 20)

enum gate_state { G_QUEUED, G_REACHED, G_DIRECT, G_FILLED, G_DONE, G_FAILED };

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    enum gate_state state;
    bool reached;
    int refs;
    void *dst, *staging;
    uint64_t n;
};

static void gate_unref(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    bool last = --g->refs == 0;
    pthread_mutex_unlock(&g->mu);
    if (last) {
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cond);
        free(g);
    }
}

/* On the stream, where the copy belongs. */
static void gate_fn(void *p)
{
    struct gate *g = p;
    pthread_mutex_lock(&g->mu);
    g->reached = true;
    pthread_cond_broadcast(&g->cond);
    while (g->state != G_DONE && g->state != G_FILLED && g->state != G_FAILED)
        pthread_cond_wait(&g->cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
    if (g->state == G_FILLED) {
        memcpy(g->dst, g->staging, g->n);
        bufpool_put(g->staging);
    }
    gate_unref(g);
}

static void gate_set(struct gate *g, enum gate_state s)
{
    pthread_mutex_lock(&g->mu);
    g->state = s;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mu);
}

bool htod_peek(struct worker *w, const struct rgpu_hdr *h, const uint8_t *args, uint64_t min_len,
               struct rgpu_args_cuMemcpyHtoDAsync_v2 *a)
{
    /* a request that wants a reply (a capturing client) takes the ordinary
     * path, which answers it */
    if (h->call != RGPU_ID_cuMemcpyHtoDAsync_v2 || h->bulk_len < min_len || !(h->flags & RGPU_F_NO_REPLY))
        return false;
    /* decode without the payload (not read yet): only the destination,
     * size and stream matter here */
    struct rgpu_rbuf rb;
    memset(a, 0, sizeof *a);
    rgpu_rbuf_init(&rb, args, h->args_len, NULL, h->bulk_len);
    if (!rgpu_calls[h->call].dec_req(&rb, a) || a->ByteCount != h->bulk_len)
        return false; /* the normal path rejects it */
    struct srv_call c = {.w = w, .hdr = *h, .args = a};
    return worker_set_ctx(w, (CUcontext)(uintptr_t)h->ctx) == CUDA_SUCCESS &&
           dispatch_check_stream(&c, &a->hStream) == CUDA_SUCCESS && !custom_capturing(w->be, a->hStream);
}

int htod_direct(struct worker *w, const struct rgpu_hdr *h, const uint8_t *args, struct rgpu_reader *rd,
                CUresult *result)
{
    *result = CUDA_SUCCESS;
    struct rgpu_args_cuMemcpyHtoDAsync_v2 a;
    void *dst;
    if (!w->device_is_host || !htod_peek(w, h, args, DIRECT_HTOD_MIN, &a) ||
        !(dst = cpudev_host_ptr(a.dstDevice, a.ByteCount)))
        return 0;
    struct gate *g = calloc(1, sizeof *g);
    if (!g)
        return 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    g->state = G_QUEUED;
    g->refs = 2; /* the gate function and this reader */
    g->dst = dst;
    g->n = a.ByteCount;
    if (w->be->cuLaunchHostFunc(a.hStream, gate_fn, g) != CUDA_SUCCESS) {
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cond);
        free(g);
        return 0; /* the normal path reports why */
    }

    /* Wait for the stream about a tenth of what the staging pass would cost
     * (~32 us per MiB), at most 2 ms. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t wait_ns = a.ByteCount / 32;
    ts.tv_nsec += (long)(wait_ns < 2000000 ? wait_ns : 2000000);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&g->mu);
    while (!g->reached && pthread_cond_timedwait(&g->cond, &g->mu, &ts) != ETIMEDOUT)
        ;
    bool direct = g->reached;
    g->state = direct ? G_DIRECT : G_QUEUED;
    pthread_mutex_unlock(&g->mu);

    rgpu_debug("cuMemcpyHtoDAsync, %llu bytes: %s", (unsigned long long)a.ByteCount,
               direct ? "received into device memory" : "staged (the stream is busy)");
    int rc = 1;
    if (direct) {
        if (rgpu_reader_read(rd, dst, a.ByteCount))
            rc = -1;
        gate_set(g, G_DONE);
    } else if (!(g->staging = bufpool_get(a.ByteCount))) {
        if (rgpu_reader_skip(rd, a.ByteCount))
            rc = -1;
        *result = CUDA_ERROR_OUT_OF_MEMORY;
        gate_set(g, G_FAILED);
    } else if (rgpu_reader_read(rd, g->staging, a.ByteCount)) {
        bufpool_put(g->staging);
        gate_set(g, G_FAILED);
        rc = -1;
    } else {
        gate_set(g, G_FILLED);
    }
    gate_unref(g);
    return rc;
}
