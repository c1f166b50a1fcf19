/*
 * stream.c — streams: one FIFO of operations and one worker thread each,
 * the dependencies between streams, and the calls that create, query and
 * wait on them.
 *
 * Every operation gets the next sequence number of its stream (submitted);
 * the worker runs them in order and publishes the last one finished
 * (completed). A dependency (stream, seq) is met once that stream's
 * completed >= seq. An operation starts when all its dependencies are met;
 * they are fixed when it is queued and point at earlier work, so they
 * cannot form a cycle.
 *
 * Legacy default stream (CU_STREAM_LEGACY, and NULL): an operation on it
 * depends on all work queued so far on the context's blocking streams (those
 * without CU_STREAM_NON_BLOCKING), and an operation on a blocking stream on
 * all work queued so far on the legacy stream.
 *
 * A destroyed stream's worker finishes its queue; the structure goes with
 * the last reference. Waits loop on cpudev.done, broadcast at completions.
 *
 * A kernel launch that fails makes its context sticky (struct ctx): the
 * context's later launches are skipped (other operations still run, so
 * waits end and host functions are called), and submitting work, querying
 * or synchronising a stream of the context returns the error.
 */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

pthread_mutex_t host_fn_thread = PTHREAD_MUTEX_INITIALIZER; /* internal.h */

/* The stream whose worker is the calling thread, if any. */
static _Thread_local struct stream *tls_worker;

CUresult wait_permitted(void) { return tls_worker ? CUDA_ERROR_NOT_PERMITTED : CUDA_SUCCESS; }

/* ---- operations ---- */

struct op *op_new(enum op_kind kind)
{
    struct op *op = calloc(1, sizeof *op);
    if (op)
        op->kind = kind;
    return op;
}

static void op_free_locked(struct op *op)
{
    for (int i = 0; i < op->ndeps; i++)
        stream_unref_locked(op->deps[i].s);
    free(op->deps);
    if (op->kind == OP_RECORD)
        event_unref_locked(op->u.rec.ev);
    if (op->kind == OP_LAUNCH)
        free(op->u.launch);
    if (op->kind == OP_MEMOPS)
        free(op->u.memops.ops);
    if (op->kind == OP_COND) {
        for (int i = 0; op->u.cond.bodies && i < op->u.cond.n; i++)
            if (op->u.cond.bodies[i])
                op_free_locked(op->u.cond.bodies[i]);
        free(op->u.cond.bodies);
    }
    if (op->kind == OP_GRAPH) {
        for (int i = 0; i < op->u.graph.n; i++)
            op_free_locked(op->u.graph.steps[i]);
        free(op->u.graph.steps);
    }
    free(op);
}

void op_discard_locked(struct op *op) { op_free_locked(op); }

static void fill(char *dst, size_t n, unsigned es, uint32_t v)
{
    if (es == 1) {
        memset(dst, (int)(v & 0xff), n);
    } else if (es == 2) {
        uint16_t x = (uint16_t)v;
        for (size_t i = 0; i < n; i++)
            memcpy(dst + 2 * i, &x, 2);
    } else {
        for (size_t i = 0; i < n; i++)
            memcpy(dst + 4 * i, &v, 4);
    }
}

static CUresult run_graph(struct op *op, struct ctx *c);

CUresult op_run(struct op *op)
{
    switch (op->kind) {
    case OP_COPY:
        memmove(op->u.copy.dst, op->u.copy.src, op->u.copy.n);
        break;
    case OP_COPY2D:
        for (size_t y = 0; y < op->u.copy2d.height; y++)
            memmove(op->u.copy2d.dst + y * op->u.copy2d.dpitch, op->u.copy2d.src + y * op->u.copy2d.spitch,
                    op->u.copy2d.width);
        break;
    case OP_SET:
    case OP_SET2D:
        for (size_t y = 0; y < op->u.set.height; y++)
            fill(op->u.set.dst + y * op->u.set.pitch, op->u.set.n, op->u.set.es, op->u.set.value);
        break;
    case OP_HOSTFN:
        if (cpudev.cfg.serial_host_funcs) {
            pthread_mutex_lock(&host_fn_thread);
            op->u.host.fn(op->u.host.arg);
            pthread_mutex_unlock(&host_fn_thread);
        } else {
            op->u.host.fn(op->u.host.arg);
        }
        break;
    case OP_LAUNCH:
        return launch_run(op->u.launch);
    case OP_FREE:
        mem_free_marked(op->u.free_at);
        break;
    case OP_MEMOPS:
        memops_run(op->u.memops.ops, op->u.memops.n);
        break;
    case OP_COND: /* runs in its graph (run_graph), which knows the context */
    case OP_RECORD:
    case OP_WAIT:
    case OP_GRAPH:
        break;
    }
    return CUDA_SUCCESS;
}

/* A graph's steps in order. Its kernels are skipped once one failed or the
 * context is sticky (read without the lock: a stale value only runs one
 * more kernel of a context that is failing anyway); its other steps run, as
 * other operations do in a sticky context. */
static CUresult run_graph(struct op *op, struct ctx *c);

/* A conditional node: IF runs its body when the value is not 0 (else its
 * second body, if it has one), WHILE runs its body as long as the value is
 * not 0 (looked at before each turn), SWITCH runs body number value, if there
 * is one. A failed kernel ends it. */
static CUresult run_cond(struct op *op, struct ctx *c)
{
    CUresult r = CUDA_SUCCESS;
    uint32_t v = __atomic_load_n(op->u.cond.value, __ATOMIC_ACQUIRE);
    switch (op->u.cond.type) {
    case CU_GRAPH_COND_TYPE_IF:
        if (v || op->u.cond.n > 1)
            r = run_graph(op->u.cond.bodies[v ? 0 : 1], c);
        break;
    case CU_GRAPH_COND_TYPE_WHILE:
        for (; v && r == CUDA_SUCCESS && !c->sticky; v = __atomic_load_n(op->u.cond.value, __ATOMIC_ACQUIRE))
            r = run_graph(op->u.cond.bodies[0], c);
        break;
    default: /* SWITCH */
        if (v < (uint32_t)op->u.cond.n)
            r = run_graph(op->u.cond.bodies[v], c);
        break;
    }
    return r;
}

static CUresult run_graph(struct op *op, struct ctx *c)
{
    CUresult first = CUDA_SUCCESS;
    for (int i = 0; i < op->u.graph.n; i++) {
        struct op *st = op->u.graph.steps[i];
        if ((st->kind == OP_LAUNCH || st->kind == OP_COND) && (first != CUDA_SUCCESS || c->sticky))
            continue;
        CUresult r = st->kind == OP_COND ? run_cond(st, c) : op_run(st);
        if (r != CUDA_SUCCESS && first == CUDA_SUCCESS)
            first = r;
    }
    return first;
}

static bool deps_met(const struct op *op)
{
    for (int i = 0; i < op->ndeps; i++)
        if (!dep_met(&op->deps[i]))
            return false;
    return true;
}

/* ---- workers ---- */

static void unlink_stream_locked(struct stream *s)
{
    for (struct stream **pp = &s->ctx->streams; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return;
        }
    }
}

static void *worker(void *arg)
{
    struct stream *s = arg;
    tls_worker = s;
    cpudev_lock();
    for (;;) {
        while (!s->head && !s->closing)
            pthread_cond_wait(&s->work, &cpudev.mu);
        struct op *op = s->head;
        if (!op)
            break; /* closing and drained */
        while (!deps_met(op))
            pthread_cond_wait(&cpudev.done, &cpudev.mu);
        if (op->kind == OP_RECORD) {
            event_fire_locked(op->u.rec.ev, op->u.rec.gen);
        } else if (op->kind != OP_WAIT) {
            /* The context's activation outlives the streams it owns. */
            bool skip = op->kind == OP_LAUNCH && s->ctx->sticky;
            cpudev_unlock();
            CUresult r = skip ? CUDA_SUCCESS : op->kind == OP_GRAPH ? run_graph(op, s->ctx) : op_run(op);
            cpudev_lock();
            if (r != CUDA_SUCCESS && !s->ctx->sticky)
                s->ctx->sticky = r;
            /* A graph's event records take effect when the graph is done. */
            for (int i = 0; op->kind == OP_GRAPH && i < op->u.graph.n; i++)
                if (op->u.graph.steps[i]->kind == OP_RECORD)
                    event_fire_locked(op->u.graph.steps[i]->u.rec.ev, op->u.graph.steps[i]->u.rec.gen);
        }
        s->head = op->next;
        if (!s->head)
            s->tail = NULL;
        s->completed = op->seq;
        op_free_locked(op);
        pthread_cond_broadcast(&cpudev.done);
    }
    s->exited = true;
    unlink_stream_locked(s);
    pthread_cond_broadcast(&cpudev.done);
    stream_unref_locked(s);
    cpudev_unlock();
    return NULL;
}

/* ---- stream objects ---- */

CUresult stream_create_locked(struct ctx *c, unsigned flags, int priority, bool legacy, struct stream **out)
{
    struct stream *s = calloc(1, sizeof *s);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (pthread_cond_init(&s->work, NULL)) {
        free(s);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    s->ctx = c;
    s->ctx_id = c->id;
    s->id = cpudev_new_id_locked();
    s->flags = flags;
    s->priority = priority;
    s->legacy = legacy;
    s->refs = 2; /* the caller's handle and the worker */
    /* Workers inherit a signal mask that keeps process signals off them. */
    pthread_t t;
    pthread_attr_t attr;
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&t, &attr, worker, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (e) {
        pthread_cond_destroy(&s->work);
        free(s);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    s->next = c->streams;
    c->streams = s;
    *out = s;
    return CUDA_SUCCESS;
}

void stream_unref_locked(struct stream *s)
{
    if (--s->refs)
        return;
    pthread_cond_destroy(&s->work);
    free(s->cdeps);
    free(s->cedges);
    free(s);
}

void stream_destroy_locked(struct stream *s)
{
    capture_stream_forget_locked(s);
    if (!s->legacy)
        reg_del_locked(s);
    s->closing = true;
    pthread_cond_signal(&s->work);
    stream_unref_locked(s);
}

CUresult stream_resolve_locked(CUstream h, struct stream **out)
{
    if (h == NULL || h == CU_STREAM_LEGACY) {
        struct ctx *c;
        CUresult r = ctx_current_locked(&c);
        if (r != CUDA_SUCCESS)
            return r;
        *out = c->legacy;
        return CUDA_SUCCESS;
    }
    /* CU_STREAM_PER_THREAD: the server maps it to a real stream. */
    if (h == CU_STREAM_PER_THREAD || !reg_has_locked(h, H_STREAM))
        return CUDA_ERROR_INVALID_HANDLE;
    *out = (struct stream *)h;
    return CUDA_SUCCESS;
}

static bool pending(const struct stream *s) { return s->completed < s->submitted; }

static bool blocking(const struct stream *s) { return !s->legacy && !(s->flags & CU_STREAM_NON_BLOCKING); }

/* Copies and fills up to this many bytes, event records and waits, run in the
 * submitting thread when their stream has nothing queued
 * (stream_submit_locked): under the device lock, so a few microseconds at
 * most. */
#define RUN_AT_ONCE_MAX (64u * 1024u)

static bool runs_at_once(const struct op *op)
{
    switch (op->kind) {
    case OP_COPY: return op->u.copy.n <= RUN_AT_ONCE_MAX;
    case OP_COPY2D:
        return op->u.copy2d.height <= RUN_AT_ONCE_MAX && op->u.copy2d.width <= RUN_AT_ONCE_MAX &&
               op->u.copy2d.width * op->u.copy2d.height <= RUN_AT_ONCE_MAX;
    case OP_SET:
    case OP_SET2D:
        return op->u.set.height <= RUN_AT_ONCE_MAX && op->u.set.n <= RUN_AT_ONCE_MAX &&
               op->u.set.n * op->u.set.es * op->u.set.height <= RUN_AT_ONCE_MAX;
    case OP_RECORD:
    case OP_WAIT: /* on an event already complete: nothing to wait for */
        return true;
    default: return false;
    }
}

CUresult stream_submit_locked(struct stream *s, struct op *op, const struct dep *extra, int nextra)
{
    struct ctx *c = s->ctx;
    if (c->sticky)
        return c->sticky;
    if (s->cap)
        return capture_op_locked(s, op);
    /* The legacy stream would wait for work that a capturing blocking
     * stream never queues: CUDA forbids it (an implicit dependency). */
    if (s->legacy) {
        CUresult r = capture_sync_check_locked(NULL, c, true);
        if (r != CUDA_SUCCESS)
            return r == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED ? CUDA_ERROR_STREAM_CAPTURE_IMPLICIT : r;
    }
    int n = 0;
    if (s->legacy) {
        for (struct stream *t = c->streams; t; t = t->next)
            n += blocking(t) && pending(t);
    } else if (blocking(s)) {
        n += c->legacy && pending(c->legacy);
    }
    for (int i = 0; i < nextra; i++)
        n += !dep_met(&extra[i]);
    if (n) {
        op->deps = calloc((size_t)n, sizeof *op->deps);
        if (!op->deps)
            return CUDA_ERROR_OUT_OF_MEMORY;
        if (s->legacy) {
            for (struct stream *t = c->streams; t; t = t->next)
                if (blocking(t) && pending(t))
                    op->deps[op->ndeps++] = (struct dep){t, t->submitted};
        } else if (blocking(s) && c->legacy && pending(c->legacy)) {
            op->deps[op->ndeps++] = (struct dep){c->legacy, c->legacy->submitted};
        }
        for (int i = 0; i < nextra; i++)
            if (!dep_met(&extra[i]))
                op->deps[op->ndeps++] = extra[i];
        for (int i = 0; i < op->ndeps; i++)
            op->deps[i].s->refs++;
    }
    op->seq = ++s->submitted;
    op->next = NULL;
    if (!n && !s->head && runs_at_once(op)) {
        /* nothing before it to wait for: done before the call returns, with
         * no hand-off to the worker (one costs microseconds, more than
         * the op itself, while the caller waits for it) */
        if (op->kind == OP_RECORD)
            event_fire_locked(op->u.rec.ev, op->u.rec.gen);
        else
            op_run(op);
        s->completed = op->seq;
        op_free_locked(op);
        pthread_cond_broadcast(&cpudev.done);
        return CUDA_SUCCESS;
    }
    if (s->tail)
        s->tail->next = op;
    else
        s->head = op;
    s->tail = op;
    pthread_cond_signal(&s->work);
    return CUDA_SUCCESS;
}

/* ---- waiting ---- */

void ws_init(struct waitset *ws)
{
    ws->n = 0;
    ws->cap = (int)(sizeof ws->inline_d / sizeof ws->inline_d[0]);
    ws->d = ws->inline_d;
}

bool ws_add_locked(struct waitset *ws, struct stream *s, uint64_t seq)
{
    if (s->completed >= seq)
        return true;
    if (ws->n == ws->cap) {
        int cap = ws->cap * 2;
        struct dep *d = malloc((size_t)cap * sizeof *d);
        if (!d)
            return false;
        memcpy(d, ws->d, (size_t)ws->n * sizeof *d);
        if (ws->d != ws->inline_d)
            free(ws->d);
        ws->d = d;
        ws->cap = cap;
    }
    s->refs++;
    ws->d[ws->n++] = (struct dep){s, seq};
    return true;
}

bool ws_add_ctx_locked(struct waitset *ws, struct ctx *c)
{
    for (struct stream *s = c->streams; s; s = s->next)
        if (!ws_add_locked(ws, s, s->submitted))
            return false;
    return true;
}

bool ws_add_device_locked(struct waitset *ws)
{
    for (struct ctx *c = cpudev.ctxs; c; c = c->next)
        if (!ws_add_ctx_locked(ws, c))
            return false;
    return true;
}

void ws_wait_locked(struct waitset *ws)
{
    for (int i = 0; i < ws->n; i++)
        while (!dep_met(&ws->d[i]))
            pthread_cond_wait(&cpudev.done, &cpudev.mu);
}

void ws_release_locked(struct waitset *ws)
{
    for (int i = 0; i < ws->n; i++)
        stream_unref_locked(ws->d[i].s);
    if (ws->d != ws->inline_d)
        free(ws->d);
    ws_init(ws);
}

/* ---- driver calls ---- */

CUresult cpudev_cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    CPUDEV_ENTER();
    if (!phStream || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING))
        return CUDA_ERROR_INVALID_VALUE;
    /* Out-of-range priorities are clamped, as documented. */
    if (priority < CPUDEV_PRIO_GREATEST)
        priority = CPUDEV_PRIO_GREATEST;
    if (priority > CPUDEV_PRIO_LEAST)
        priority = CPUDEV_PRIO_LEAST;
    struct ctx *c;
    struct stream *s;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS)
        r = stream_create_locked(c, flags, priority, false, &s);
    if (r == CUDA_SUCCESS && !reg_add_locked(s, H_STREAM)) {
        stream_destroy_locked(s); /* the worker exits at once */
        r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (r == CUDA_SUCCESS)
        *phStream = (CUstream)s;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    return cpudev_cuStreamCreateWithPriority(phStream, Flags, CPUDEV_PRIO_LEAST);
}

CUresult cpudev_cuStreamDestroy_v2(CUstream hStream)
{
    CPUDEV_ENTER();
    cpudev_lock();
    if (cpudev.cfg.serial_host_funcs) { /* NVIDIA's driver, as it behaves at worst (cpudev.h) */
        pthread_mutex_lock(&host_fn_thread);
        pthread_mutex_unlock(&host_fn_thread);
    }
    CUresult r = CUDA_ERROR_INVALID_HANDLE; /* the special streams cannot be destroyed */
    if (reg_has_locked(hStream, H_STREAM)) {
        stream_destroy_locked((struct stream *)hStream);
        r = CUDA_SUCCESS;
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamSynchronize(CUstream hStream)
{
    CPUDEV_ENTER();
    CUresult r = wait_permitted();
    if (r != CUDA_SUCCESS)
        return r;
    struct stream *s;
    struct waitset ws;
    ws_init(&ws);
    cpudev_lock();
    r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        r = capture_sync_check_locked(s, s->ctx, false);
    if (r == CUDA_SUCCESS && !ws_add_locked(&ws, s, s->submitted))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        struct ctx *c = s->ctx; /* may be destroyed while we wait */
        uint64_t id = s->ctx_id;
        ws_wait_locked(&ws);
        r = ctx_sticky_locked(c, id);
    }
    ws_release_locked(&ws);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamQuery(CUstream hStream)
{
    CPUDEV_ENTER();
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS && s->ctx->sticky)
        r = s->ctx->sticky;
    if (r == CUDA_SUCCESS)
        r = capture_sync_check_locked(s, s->ctx, false);
    if (r == CUDA_SUCCESS && pending(s))
        r = CUDA_ERROR_NOT_READY;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    CPUDEV_ENTER();
    /* EXTERNAL: in a capture, an event wait node; invalid outside one */
    if (Flags != CU_EVENT_WAIT_DEFAULT && Flags != CU_EVENT_WAIT_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS && !reg_has_locked(hEvent, H_EVENT))
        r = CUDA_ERROR_INVALID_HANDLE;
    bool handled = false;
    if (r == CUDA_SUCCESS && Flags == CU_EVENT_WAIT_EXTERNAL && !s->cap)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS && Flags == CU_EVENT_WAIT_EXTERNAL) {
        r = capture_event_node_locked(s, (struct event *)hEvent, CU_GRAPH_NODE_TYPE_WAIT_EVENT);
        handled = true;
    } else if (r == CUDA_SUCCESS) {
        r = capture_wait_locked(s, (struct event *)hEvent, &handled);
    }
    if (r == CUDA_SUCCESS && !handled) {
        /* The event's latest record now; never recorded: nothing to wait
         * for, but still an operation (it orders the legacy stream). */
        struct event *e = (struct event *)hEvent;
        struct dep d = {e->s, e->seq};
        struct op *op = op_new(OP_WAIT);
        r = op ? stream_submit_locked(s, op, &d, e->s ? 1 : 0) : CUDA_ERROR_OUT_OF_MEMORY;
        if (r != CUDA_SUCCESS && op)
            op_discard_locked(op);
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamGetFlags(CUstream hStream, unsigned int *flags)
{
    CPUDEV_ENTER();
    if (!flags)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        *flags = s->flags;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamGetPriority(CUstream hStream, int *priority)
{
    CPUDEV_ENTER();
    if (!priority)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        *priority = s->priority;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamGetCtx(CUstream hStream, CUcontext *pctx)
{
    CPUDEV_ENTER();
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        *pctx = (CUcontext)s->ctx;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamGetId(CUstream hStream, unsigned long long *streamId)
{
    CPUDEV_ENTER();
    if (!streamId)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        *streamId = s->id;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
    CPUDEV_ENTER();
    if (!fn)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS) {
        struct op *op = op_new(OP_HOSTFN);
        if (op) {
            op->u.host.fn = fn;
            op->u.host.arg = userData;
            r = stream_submit_locked(s, op, NULL, 0);
            if (r != CUDA_SUCCESS)
                op_discard_locked(op);
        } else {
            r = CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    cpudev_unlock();
    return r;
}
