/*
 * relay.c — see relay.h.
 *
 * Why: the reader executes most requests itself, and it is also the only
 * thread that receives CALLBACK_DONE, the end of a client host function.
 * NVIDIA's driver runs every host function of a process on one thread of
 * its own, and some of its calls wait for that thread — destroying a stream,
 * page-locking memory, or simply a lock another thread holds while it waits
 * in cuMemFree or a synchronisation. A reader inside such a call while a
 * host function waits for its CALLBACK_DONE would wait for itself. So while
 * that can happen — a client host function queued and not yet acknowledged,
 * a graph with host nodes, a blocking call running on a waiter thread — the
 * reader only reads: requests go, in arrival order, to one relay thread that
 * executes them as the reader would have, and CALLBACK_DONE is taken at once.
 * Otherwise (and always on the CPU device, whose calls never wait for a host
 * function) nothing changes: no hand-off on the fast path.
 *
 * The reader executes a request itself again only once the relay has run
 * everything handed to it, so requests still run in the order they came.
 */
#include "relay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker.h"

/* Past this many bytes queued (arguments and bulk), the reader waits for
 * the relay before it reads on: a bound on memory, not a limit on any one
 * request. */
#define QUEUE_MAX_BYTES ((size_t)256 << 20)

struct job {
    struct job *next;
    struct rgpu_hdr h;
    uint8_t *args;
    uint8_t *bulk;
    size_t bytes;
};

static bool enabled;
static atomic_int busy_waiters, open_host_calls;
static atomic_bool host_nodes;
static atomic_int unfinished; /* handed over and not yet executed */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER, drained = PTHREAD_COND_INITIALIZER;
static struct job *head, **tail = &head;
static size_t queued_bytes;
static bool running;

/* RGPU_RELAY=0 turns it off: to see the hang it prevents (tests/gpu/run
 * and the staged tests), not for use. */
void relay_init(struct worker *w)
{
    const char *e = getenv("RGPU_RELAY");
    enabled = !w->device_is_host && !(e && strcmp(e, "0") == 0);
}

void relay_waiter_begin(void) { atomic_fetch_add(&busy_waiters, 1); }
void relay_waiter_end(void) { atomic_fetch_sub(&busy_waiters, 1); }
void relay_host_call_begin(void) { atomic_fetch_add(&open_host_calls, 1); }
void relay_host_call_end(void) { atomic_fetch_sub(&open_host_calls, 1); }
void relay_host_nodes(void) { atomic_store(&host_nodes, true); }

bool relay_wanted(void)
{
    if (!enabled)
        return false;
    return atomic_load(&unfinished) > 0 || atomic_load(&busy_waiters) > 0 || atomic_load(&open_host_calls) > 0 ||
           atomic_load(&host_nodes);
}

static void *relay_main(void *p)
{
    struct worker *w = p;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!head)
            pthread_cond_wait(&work, &lock);
        struct job *j = head;
        head = j->next;
        if (!head)
            tail = &head;
        pthread_mutex_unlock(&lock);
        worker_handle_request(w, &j->h, j->args, j->bulk, false);
        free(j->args);
        pthread_mutex_lock(&lock);
        queued_bytes -= j->bytes;
        free(j);
        /* last: the reader may execute inline once this reads 0 */
        atomic_fetch_sub(&unfinished, 1);
        pthread_cond_broadcast(&drained);
    }
    return NULL;
}

int relay_push(struct worker *w, const struct rgpu_hdr *h, const uint8_t *args, uint8_t *bulk)
{
    struct job *j = malloc(sizeof *j);
    uint8_t *a = h->args_len ? malloc(h->args_len) : NULL;
    if (!j || (h->args_len && !a)) {
        free(j);
        free(a);
        return -1;
    }
    if (h->args_len)
        memcpy(a, args, h->args_len);
    *j = (struct job){.h = *h, .args = a, .bulk = bulk, .bytes = h->args_len + h->bulk_len};
    pthread_mutex_lock(&lock);
    if (!running) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        running = pthread_create(&t, &at, relay_main, w) == 0;
        if (running)
            rgpu_debug("relay: requests go through a relay thread while the driver may wait for a host function");
        pthread_attr_destroy(&at);
        if (!running) {
            pthread_mutex_unlock(&lock);
            rgpu_err("cannot start the relay thread");
            free(a);
            free(j);
            return -1;
        }
    }
    /* bounded memory: wait for room, but never for an empty queue */
    while (head && queued_bytes + j->bytes > QUEUE_MAX_BYTES)
        pthread_cond_wait(&drained, &lock);
    atomic_fetch_add(&unfinished, 1);
    queued_bytes += j->bytes;
    *tail = j;
    tail = &j->next;
    pthread_cond_signal(&work);
    pthread_mutex_unlock(&lock);
    return 0;
}
