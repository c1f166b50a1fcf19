/*
 * idle.c — see idle.h. Destroyed busy streams are few (a program that
 * destroys a stream before its work is done): a short list under a lock.
 */
#include "idle.h"

#include <pthread.h>
#include <stdlib.h>

#include "worker.h"

#define MAX_STREAMS 64 /* a context with more streams is asked the long way */

struct zombie {
    struct zombie *next;
    CUcontext ctx;
    CUevent ev; /* recorded on the stream just before it was destroyed */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct zombie *zombies;
static bool lost; /* a destroyed busy stream went unrecorded: never idle */

static void add(struct zombie *z)
{
    pthread_mutex_lock(&mu);
    z->next = zombies;
    zombies = z;
    pthread_mutex_unlock(&mu);
}

void idle_note_destroy(struct worker *w, CUcontext ctx, CUstream s)
{
    const struct rgpu_backend *be = w->be;
    struct zombie *z = calloc(1, sizeof *z);
    if (!z) {
        pthread_mutex_lock(&mu);
        lost = true;
        pthread_mutex_unlock(&mu);
        return;
    }
    z->ctx = ctx;
    /* an event recorded while capturing would be captured, not run: such a
     * context (like one whose event cannot be had) is never taken for idle
     * again (z->ev NULL), which is safe, only slower */
    if (!custom_capturing(be, s)) {
        if (be->cuStreamQuery(s) == CUDA_SUCCESS) {
            free(z);
            return;
        }
        if (be->cuEventCreate(&z->ev, CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS) {
            z->ev = NULL;
        } else if (be->cuEventRecord(z->ev, s) != CUDA_SUCCESS) {
            be->cuEventDestroy_v2(z->ev);
            z->ev = NULL;
        }
    }
    add(z);
}

/* ctx's destroyed streams have all finished (dropping those that have);
 * lock held. */
static bool zombies_done(const struct rgpu_backend *be, CUcontext ctx)
{
    bool done = true;
    for (struct zombie **pp = &zombies; *pp;) {
        struct zombie *z = *pp;
        if (z->ctx != ctx) {
            pp = &z->next;
        } else if (z->ev && be->cuEventQuery(z->ev) == CUDA_SUCCESS) {
            *pp = z->next;
            be->cuEventDestroy_v2(z->ev);
            free(z);
        } else {
            done = false;
            pp = &z->next;
        }
    }
    return done;
}

bool idle_ctx(struct worker *w, CUcontext ctx)
{
    const struct rgpu_backend *be = w->be;
    CUstream s[MAX_STREAMS];
    int n = handles_streams(&w->handles, ctx, s, MAX_STREAMS);
    if (n > MAX_STREAMS)
        return false;
    /* a query of a capturing stream would invalidate its capture (as a real
     * synchronisation does, which the waiter then performs and reports); a
     * stream the capture query fails on fails its own query below */
    for (int i = 0; i < n; i++)
        if (custom_capturing(be, s[i]))
            return false;
    pthread_mutex_lock(&mu);
    bool done = !lost && (!zombies || zombies_done(be, ctx));
    pthread_mutex_unlock(&mu);
    if (!done || be->cuStreamQuery(NULL) != CUDA_SUCCESS)
        return false;
    for (int i = 0; i < n; i++)
        if (be->cuStreamQuery(s[i]) != CUDA_SUCCESS)
            return false;
    return true;
}

void idle_forget_ctx(CUcontext ctx)
{
    pthread_mutex_lock(&mu);
    for (struct zombie **pp = &zombies; *pp;) {
        struct zombie *z = *pp;
        if (z->ctx == ctx) {
            *pp = z->next;
            free(z);
        } else {
            pp = &z->next;
        }
    }
    pthread_mutex_unlock(&mu);
}
