/*
 * completions.c — see completions.h. One queue per stream, each served by a
 * thread of its own while it has work (and a little longer, so that a burst
 * of copies does not start a thread each): a stream's items wait for their
 * events in order, and a stream that waits does not hold up another's. All
 * queues share one lock; the event waits happen outside it.
 *
 * Events are reused, not created and destroyed per copy: besides the cost,
 * creating one can wait inside NVIDIA's driver for a device-wide
 * synchronisation (another client thread's cuMemFree) that waits for a
 * client host function, whose end only the reader thread, the one creating
 * the event, can receive. (On an H200 four threads with host functions
 * between copies hung so; that this was the cause is inferred, not seen.)
 */
#include "completions.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "worker.h"

#define LINGER_NS 200000000L /* an idle queue's thread stays this long */

struct item {
    struct item *next;
    CUevent ev;
    CUcontext ctx;
    void (*fn)(void *arg, CUresult r);
    void *arg;
    bool delivery;
    uint64_t seq; /* in the order queued, over all queues */
    unsigned gen; /* pool_gen when its event was taken */
    int queriers; /* completions_flush threads looking at its event */
    bool ran;     /* run and unlinked */
};

struct queue {
    struct queue *next;
    CUstream s;
    struct item *head, **tail;
    bool has_thread;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER; /* an item was run */
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;   /* an item was added */
static pthread_cond_t unqueried = PTHREAD_COND_INITIALIZER; /* an item's queriers reached 0 */
static struct queue *queues;
static atomic_int deliveries; /* queued and not yet run: the flush's fast path */
static uint64_t last_seq;       /* under mu */
static const struct rgpu_backend *be;

/* Idle events, per context, under mu. A context's are forgotten when it
 * goes (it took them with it); an item's event comes back only if no context
 * went meanwhile (pool_gen). */
#define POOL_MAX 256
#define POOL_BATCH 8
static struct {
    CUcontext ctx;
    CUevent ev;
} pool[POOL_MAX];
static int npool;
static unsigned pool_gen;

static CUresult event_get(CUcontext ctx, CUevent *ev, unsigned *gen)
{
    pthread_mutex_lock(&mu);
    *gen = pool_gen;
    for (int i = npool - 1; i >= 0; i--)
        if (pool[i].ctx == ctx) {
            *ev = pool[i].ev;
            pool[i] = pool[--npool];
            pthread_mutex_unlock(&mu);
            return CUDA_SUCCESS;
        }
    pthread_mutex_unlock(&mu);
    /* a few at once: the pool's first fill costs this thread little */
    CUresult r = be->cuEventCreate(ev, CU_EVENT_DISABLE_TIMING);
    for (int i = 1; r == CUDA_SUCCESS && i < POOL_BATCH; i++) {
        CUevent more;
        if (be->cuEventCreate(&more, CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS)
            break;
        pthread_mutex_lock(&mu);
        bool kept = npool < POOL_MAX && pool_gen == *gen;
        if (kept) {
            pool[npool].ctx = ctx;
            pool[npool++].ev = more;
        }
        pthread_mutex_unlock(&mu);
        if (!kept) {
            be->cuEventDestroy_v2(more);
            break;
        }
    }
    return r;
}

static void event_put(CUcontext ctx, CUevent ev, unsigned gen, bool ok)
{
    pthread_mutex_lock(&mu);
    bool kept = ok && gen == pool_gen && npool < POOL_MAX;
    if (kept) {
        pool[npool].ctx = ctx;
        pool[npool++].ev = ev;
    }
    pthread_mutex_unlock(&mu);
    if (!kept && gen == pool_gen)
        be->cuEventDestroy_v2(ev);
}

void completions_forget_ctx(CUcontext ctx)
{
    pthread_mutex_lock(&mu);
    pool_gen++;
    for (int i = npool - 1; i >= 0; i--)
        if (pool[i].ctx == ctx)
            pool[i] = pool[--npool];
    pthread_mutex_unlock(&mu);
}

/* The legacy stream goes by two names; its items are one queue. */
static CUstream key_of(CUstream s) { return s == CU_STREAM_LEGACY ? NULL : s; }

static void unlink_queue(struct queue *q)
{
    for (struct queue **pp = &queues; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            return;
        }
}

static void *queue_main(void *p)
{
    struct queue *q = p;
    CUcontext cur = NULL;
    worker_thread_init(be);
    pthread_mutex_lock(&mu);
    for (;;) {
        if (!q->head) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += LINGER_NS;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (!q->head)
                if (pthread_cond_timedwait(&queued, &mu, &until) == ETIMEDOUT)
                    break;
            if (!q->head) {
                unlink_queue(q);
                pthread_mutex_unlock(&mu);
                free(q);
                return NULL;
            }
        }
        struct item *it = q->head;
        pthread_mutex_unlock(&mu);
        if (it->ctx != cur && be->cuCtxSetCurrent(it->ctx) == CUDA_SUCCESS)
            cur = it->ctx;
        CUresult r = be->cuEventSynchronize(it->ev);
        it->fn(it->arg, r);
        pthread_mutex_lock(&mu);
        q->head = it->next;
        if (!q->head)
            q->tail = &q->head;
        if (it->delivery)
            atomic_fetch_sub(&deliveries, 1);
        it->ran = true;
        pthread_cond_broadcast(&finished);
        /* its event goes back only once no flush is querying it */
        while (it->queriers)
            pthread_cond_wait(&unqueried, &mu);
        pthread_mutex_unlock(&mu);
        event_put(it->ctx, it->ev, it->gen, r == CUDA_SUCCESS);
        free(it);
        pthread_mutex_lock(&mu);
    }
}

CUresult completions_add(struct worker *w, CUstream s, void (*fn)(void *arg, CUresult r), void *arg, bool delivery)
{
    if (!be)
        be = w->be; /* before the first queue's thread starts */
    struct item *it = malloc(sizeof *it);
    if (!it)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *it = (struct item){.fn = fn, .arg = arg, .delivery = delivery};
    CUresult r = be->cuCtxGetCurrent(&it->ctx);
    if (r == CUDA_SUCCESS)
        r = event_get(it->ctx, &it->ev, &it->gen);
    if (r == CUDA_SUCCESS && (r = be->cuEventRecord(it->ev, s)) != CUDA_SUCCESS)
        be->cuEventDestroy_v2(it->ev);
    if (r != CUDA_SUCCESS) {
        free(it);
        return r;
    }
    pthread_mutex_lock(&mu);
    struct queue *q = queues;
    while (q && q->s != key_of(s))
        q = q->next;
    if (!q && (q = calloc(1, sizeof *q))) {
        q->s = key_of(s);
        q->tail = &q->head;
        q->next = queues;
        queues = q;
    }
    if (!q) {
        pthread_mutex_unlock(&mu);
        event_put(it->ctx, it->ev, it->gen, true);
        free(it);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    it->seq = ++last_seq;
    struct item **slot = q->tail;
    *slot = it;
    q->tail = &it->next;
    if (!q->has_thread) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        q->has_thread = pthread_create(&th, &at, queue_main, q) == 0;
        pthread_attr_destroy(&at);
        if (!q->has_thread) { /* taken back: nothing would run it */
            *slot = NULL;
            q->tail = slot;
            pthread_mutex_unlock(&mu);
            rgpu_err("cannot start a completion thread");
            event_put(it->ctx, it->ev, it->gen, true);
            free(it);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    if (delivery)
        atomic_fetch_add(&deliveries, 1);
    pthread_cond_broadcast(&queued);
    pthread_mutex_unlock(&mu);
    return CUDA_SUCCESS;
}

/* Every reply first waits for the deliveries whose work has finished and
 * that have not run yet. Their events are queried without the lock: a
 * driver call may wait (NVIDIA's, for its host-function thread), and a
 * host function waits for this lock (completions_wait) — holding it across
 * the query could close that circle. The items looked at are held
 * (queriers) so that their events are not reused meanwhile. */
static void drop_queried(struct item **v, size_t n, struct item *keep)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != keep && --v[i]->queriers == 0)
            pthread_cond_broadcast(&unqueried);
}

void completions_flush(struct worker *w)
{
    (void)w;
    while (atomic_load(&deliveries) != 0) {
        struct item *stackv[32], **v = stackv;
        size_t n = 0, cap = 32;
        pthread_mutex_lock(&mu);
        for (struct queue *q = queues; q; q = q->next)
            for (struct item *it = q->head; it; it = it->next)
                if (it->delivery) {
                    if (n == cap) {
                        struct item **nv = malloc(2 * cap * sizeof *nv);
                        if (!nv)
                            goto full; /* the ones gathered are looked at; a later reply sees the rest */
                        memcpy(nv, v, n * sizeof *nv);
                        if (v != stackv)
                            free(v);
                        v = nv;
                        cap *= 2;
                    }
                    it->queriers++;
                    v[n++] = it;
                }
    full:
        pthread_mutex_unlock(&mu);
        struct item *done = NULL;
        for (size_t i = 0; i < n && !done; i++)
            if (be->cuEventQuery(v[i]->ev) == CUDA_SUCCESS)
                done = v[i];
        pthread_mutex_lock(&mu);
        drop_queried(v, n, done);
        if (done) {
            while (!done->ran)
                pthread_cond_wait(&finished, &mu);
            if (--done->queriers == 0)
                pthread_cond_broadcast(&unqueried);
        }
        pthread_mutex_unlock(&mu);
        if (v != stackv)
            free(v);
        if (!done)
            return;
    }
}

uint64_t completions_mark(CUstream s)
{
    uint64_t mark = 0;
    pthread_mutex_lock(&mu);
    for (struct queue *q = queues; q; q = q->next)
        if (q->s == key_of(s) && q->head) /* the last delivery queued on s */
            for (struct item *it = q->head; it; it = it->next)
                if (it->delivery)
                    mark = it->seq;
    pthread_mutex_unlock(&mu);
    return mark;
}

/* An item of s at or before the mark still queued; lock held. Only s's:
 * another stream's may wait for anything, a host function behind this one
 * included. */
static bool before_mark(CUstream s, uint64_t mark)
{
    for (struct queue *q = queues; q; q = q->next)
        if (q->s == key_of(s) && q->head && q->head->seq <= mark)
            return true; /* a queue's items are in seq order */
    return false;
}

void completions_wait(CUstream s, uint64_t mark)
{
    if (!mark)
        return;
    pthread_mutex_lock(&mu);
    while (before_mark(s, mark))
        pthread_cond_wait(&finished, &mu);
    pthread_mutex_unlock(&mu);
}
