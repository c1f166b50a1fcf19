/*
 * waiters.c — threads for backend calls that may block (synchronisation,
 * frees that wait for the device). The reader thread must never block on the
 * device: a stream may be waiting for a host-callback acknowledgement that
 * only the reader can receive. Threads are created on demand and kept idle
 * for reuse; there is no upper bound other than the client's own thread
 * count, since each blocking call is one client thread waiting.
 */
#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "worker.h"

struct job {
    struct job *next;
    void (*fn)(void *);
    void *arg;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct job *head, **tail = &head;
static int idle, queued; /* spawn when more jobs wait than threads idle */

static void *waiter_main(void *unused)
{
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!head) {
            idle++;
            pthread_cond_wait(&cond, &lock);
            idle--;
        }
        struct job *j = head;
        head = j->next;
        queued--;
        if (!head)
            tail = &head;
        pthread_mutex_unlock(&lock);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&lock);
    }
    return NULL;
}

void waiters_submit(void (*fn)(void *), void *arg)
{
    struct job *j = malloc(sizeof *j);
    if (!j) {
        fn(arg); /* degrade to running inline rather than losing the call */
        return;
    }
    *j = (struct job){NULL, fn, arg};
    pthread_mutex_lock(&lock);
    *tail = j;
    tail = &j->next;
    queued++;
    bool spawn = queued > idle;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    if (spawn) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, waiter_main, NULL) != 0)
            rgpu_err("cannot create a waiter thread; blocking calls will queue");
        pthread_attr_destroy(&at);
    }
}
