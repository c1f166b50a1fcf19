/*
 * gate.h — a host function that blocks a stream until the test opens it.
 *
 * cuLaunchHostFunc(s, gate_fn, &g) makes everything queued after it on s
 * pending, deterministically, until gate_open(&g). The host function gives
 * up after GATE_TIMEOUT_S seconds (and records that) so that a broken
 * implementation fails the test instead of hanging it.
 */
#ifndef RGPU_IT_GATE_H
#define RGPU_IT_GATE_H

#include <cuda.h>

#include <errno.h>
#include <pthread.h>
#include <time.h>

#define GATE_TIMEOUT_S 20

struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;
    int open, entered, timed_out;
};

static inline void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->m, NULL);
    pthread_cond_init(&g->c, NULL);
    g->open = g->entered = g->timed_out = 0;
}

static inline void gate_destroy(struct gate *g)
{
    pthread_mutex_destroy(&g->m);
    pthread_cond_destroy(&g->c);
}

static inline struct timespec gate_deadline(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

/* the host function: runs on a driver thread, never calls CUDA */
static void CUDA_CB gate_fn(void *p)
{
    struct gate *g = p;
    struct timespec dl = gate_deadline(GATE_TIMEOUT_S);
    pthread_mutex_lock(&g->m);
    g->entered = 1;
    pthread_cond_broadcast(&g->c);
    while (!g->open) {
        if (pthread_cond_timedwait(&g->c, &g->m, &dl) == ETIMEDOUT) {
            g->timed_out = 1;
            break;
        }
    }
    pthread_mutex_unlock(&g->m);
}

static inline void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->m);
    g->open = 1;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
}

/* wait (bounded) until the host function has started; returns entered */
static inline int gate_wait_entered(struct gate *g, double seconds)
{
    struct timespec dl = gate_deadline(seconds);
    pthread_mutex_lock(&g->m);
    while (!g->entered)
        if (pthread_cond_timedwait(&g->c, &g->m, &dl) == ETIMEDOUT)
            break;
    int e = g->entered;
    pthread_mutex_unlock(&g->m);
    return e;
}

#endif
