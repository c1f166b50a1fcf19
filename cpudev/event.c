/*
 * event.c — events: markers recorded into streams, with timestamps.
 *
 * Recording queues an OP_RECORD on the stream and makes the event stand for
 * that operation: (stream, seq). The event is complete when the stream has
 * completed seq, and its timestamp (CLOCK_MONOTONIC) is taken by the worker
 * when the stream reaches the operation. An event never recorded stands for
 * no work and is complete. Recording again replaces what the event stands
 * for; an older record operation that runs later is recognised by its
 * generation number and changes nothing.
 *
 * A destroyed event leaves the registry at once; its structure stays while
 * a queued record operation refers to it.
 */
#include "internal.h"

#include <stdlib.h>

void event_unref_locked(struct event *e)
{
    if (--e->refs)
        return;
    capture_event_forget_locked(e);
    if (e->s)
        stream_unref_locked(e->s);
    free(e);
}

void event_unlink_locked(struct event *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        e->ctx->events = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

void event_fire_locked(struct event *e, uint64_t gen)
{
    if (e->gen == gen)
        e->t_ns = cpudev_now_ns();
}

static bool complete(const struct event *e) { return !e->s || e->s->completed >= e->seq; }

/* An event recorded in a capture still going stands for work that has not
 * been queued: querying or waiting on it is not allowed in a capture. */
static CUresult captured_check(struct event *e)
{
    if (!e->cap || capture_ended_locked(e->cap))
        return CUDA_SUCCESS;
    capture_invalidate_locked(e->cap);
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

static CUresult lookup_locked(CUevent h, struct event **out)
{
    if (!reg_has_locked(h, H_EVENT))
        return CUDA_ERROR_INVALID_HANDLE;
    *out = (struct event *)h;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    CPUDEV_ENTER();
    const unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
    if (!phEvent || (Flags & ~known))
        return CUDA_ERROR_INVALID_VALUE;
    if (Flags & CU_EVENT_INTERPROCESS) /* the driver requires timing off with it */
        return Flags & CU_EVENT_DISABLE_TIMING ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
    struct event *e = calloc(1, sizeof *e);
    if (!e)
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct ctx *c;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS && !reg_add_locked(e, H_EVENT))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        e->refs = 1;
        e->ctx = c;
        e->flags = Flags;
        e->next = c->events;
        if (c->events)
            c->events->prev = e;
        c->events = e;
        *phEvent = (CUevent)e;
    }
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        free(e);
    return r;
}

CUresult cpudev_cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    CPUDEV_ENTER();
    /* EXTERNAL: in a capture, an event record node; invalid outside one */
    if (flags != CU_EVENT_RECORD_DEFAULT && flags != CU_EVENT_RECORD_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    struct event *e;
    struct stream *s;
    cpudev_lock();
    CUresult r = lookup_locked(hEvent, &e);
    if (r == CUDA_SUCCESS)
        r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS && s->ctx != e->ctx)
        r = CUDA_ERROR_INVALID_HANDLE; /* must share a context, as in the driver */
    bool handled = false;
    if (r == CUDA_SUCCESS && flags == CU_EVENT_RECORD_EXTERNAL && !s->cap)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS && flags == CU_EVENT_RECORD_EXTERNAL) {
        r = capture_event_node_locked(s, e, CU_GRAPH_NODE_TYPE_EVENT_RECORD);
        handled = true;
    } else if (r == CUDA_SUCCESS) {
        r = capture_record_locked(e, s, &handled);
    }
    struct op *op = NULL;
    if (r == CUDA_SUCCESS && !handled && !(op = op_new(OP_RECORD)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS && !handled) {
        /* The event stands for this record before it is submitted: on an
         * idle stream the record runs (and stamps the event) before
         * stream_submit_locked returns. */
        struct event was = *e;
        op->u.rec.ev = e;
        op->u.rec.gen = ++e->gen;
        e->refs++;
        s->refs++;
        e->s = s;
        e->seq = s->submitted + 1; /* the seq the submission gives the op */
        e->t_ns = 0;
        r = stream_submit_locked(s, op, NULL, 0);
        if (r != CUDA_SUCCESS) {
            op_discard_locked(op); /* drops the event reference */
            stream_unref_locked(s);
            e->gen = was.gen;
            e->s = was.s;
            e->seq = was.seq;
            e->t_ns = was.t_ns;
        } else {
            if (was.s)
                stream_unref_locked(was.s);
            capture_event_forget_locked(e);
        }
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuEventRecord(CUevent hEvent, CUstream hStream)
{
    return cpudev_cuEventRecordWithFlags(hEvent, hStream, CU_EVENT_RECORD_DEFAULT);
}

CUresult cpudev_cuEventQuery(CUevent hEvent)
{
    CPUDEV_ENTER();
    struct event *e;
    cpudev_lock();
    CUresult r = lookup_locked(hEvent, &e);
    if (r == CUDA_SUCCESS && e->ctx->sticky)
        r = e->ctx->sticky; /* a failed launch in its context */
    if (r == CUDA_SUCCESS)
        r = captured_check(e);
    if (r == CUDA_SUCCESS && !complete(e))
        r = CUDA_ERROR_NOT_READY;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuEventSynchronize(CUevent hEvent)
{
    CPUDEV_ENTER();
    CUresult r = wait_permitted();
    if (r != CUDA_SUCCESS)
        return r;
    struct event *e;
    struct waitset ws;
    ws_init(&ws);
    cpudev_lock();
    r = lookup_locked(hEvent, &e);
    if (r == CUDA_SUCCESS)
        r = captured_check(e);
    /* Wait for the record current now, even if the event is recorded again
     * or destroyed meanwhile. */
    if (r == CUDA_SUCCESS && e->s && !ws_add_locked(&ws, e->s, e->seq))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        struct ctx *c = e->ctx; /* e and c may go while we wait */
        uint64_t id = c->id;
        ws_wait_locked(&ws);
        r = ctx_sticky_locked(c, id);
    }
    ws_release_locked(&ws);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    CPUDEV_ENTER();
    if (!pMilliseconds)
        return CUDA_ERROR_INVALID_VALUE;
    struct event *a, *b;
    cpudev_lock();
    CUresult r = lookup_locked(hStart, &a);
    if (r == CUDA_SUCCESS)
        r = lookup_locked(hEnd, &b);
    /* The driver's order: no timing or never recorded is a bad handle;
     * recorded but not reached yet is NOT_READY. */
    if (r == CUDA_SUCCESS && ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING))
        r = CUDA_ERROR_INVALID_HANDLE;
    if (r == CUDA_SUCCESS && (!a->s || !b->s))
        r = CUDA_ERROR_INVALID_HANDLE;
    if (r == CUDA_SUCCESS && (!complete(a) || !complete(b)))
        r = CUDA_ERROR_NOT_READY;
    if (r == CUDA_SUCCESS)
        *pMilliseconds = (float)((double)((int64_t)(b->t_ns - a->t_ns)) / 1e6);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuEventDestroy_v2(CUevent hEvent)
{
    CPUDEV_ENTER();
    struct event *e;
    cpudev_lock();
    CUresult r = lookup_locked(hEvent, &e);
    if (r == CUDA_SUCCESS) {
        reg_del_locked(e);
        capture_event_forget_locked(e);
        event_unlink_locked(e);
        event_unref_locked(e); /* a queued record keeps it until it runs */
    }
    cpudev_unlock();
    return r;
}
