/*
 * streamidle.c — cuStreamSynchronize, cuStreamQuery, cuCtxSynchronize,
 * cuEventQuery and cuEventSynchronize answered without a round trip when
 * the client knows the work they would wait for is done, or could not fail
 * and is kept ahead of everything sent later.
 *
 * llama.cpp synchronises 19 times per generated token: 12 times a stream
 * with nothing unfinished (ggml's scheduler synchronises each backend
 * between splits and around every input copy), 6 times the per-thread
 * stream right after copying an input to it with cudaMemcpyAsync, once
 * after its kernels to read the logits. Over a socket each was a round
 * trip to rgpud; now only the last is.
 *
 * What the client tracks, per stream as rgpud resolves it (the per-thread
 * stream is the sending thread's in its current context, the legacy stream
 * its context's): whether work may be unfinished on it. Everything sent
 * passes through conn.c's send path, which tells this file
 * (rgpu_streamidle_sent, under the send lock): a request names streams
 * (calls.def's IN and DEL arguments of type CUstream, extracted by the
 * generated codec), which may have unfinished work from then on. A request
 * that names none and waits for its reply leaves nothing queued (allocation,
 * attributes, module loading, graph building: done when answered); one that
 * names none and does not wait could have queued work anywhere, and then
 * nothing is known. A synchronisation of a stream that succeeds with nothing
 * sent while it travelled makes its stream finished again; cuCtxSynchronize
 * all of the context's.
 *
 * Copies that cannot fail. A host-to-device copy whose bytes travel in the
 * request (pool copies are another call), into a device allocation the
 * client made (cuMemAlloc*, in a context that has not ended; not a virtual
 * range or a module variable, whose bytes may come and go), by a thread
 * with a current context, on a stream with nothing unfinished while the
 * legacy stream has nothing unfinished either (a blocking stream waits for
 * it), is pending rather than unfinished: nothing before it can fail it and
 * the application may reuse its buffer at once. A synchronisation of a stream
 * whose only outstanding work is such copies is answered here and sends
 * rgpu_stream_fence, which rgpud executes on the thread that reads the
 * requests: nothing sent after it runs before the copies have, as if the
 * synchronisation had waited. (A copy rgpud fails all the same — memory for
 * its staging exhausted — is latched and reported by the next call that
 * travels and synchronises.)
 *
 * Events. An event's query or synchronisation is its stream's: the client
 * remembers the stream each event was last recorded on (a few dozen events,
 * the oldest forgotten first; a forgotten one is asked), and an event whose
 * stream is known finished since is complete. Any failure forgets them all
 * (a record that failed left its event where it was before), and so does a
 * graph launch (its event record nodes); a record during a capture forgets
 * its event.
 *
 * Never answered locally: while a capture is active (a synchronisation may
 * be illegal, and invalidate it), while mapped host memory exists (a
 * synchronisation makes its mirrors coherent, mapped.c), or once the
 * connection is gone. A call that fails poisons every answer until a
 * synchronisation succeeds: the failure may be the context's sticky error (a
 * kernel fault), which every later synchronisation must report, as the
 * driver's do. What a local answer cannot report is a failure of another
 * stream's work that no reply has shown yet: the next call that travels
 * reports it, as a native synchronisation made a moment before the failure
 * would not have either.
 */
#include "streamidle.h"

#include <stdatomic.h>

#include "capture.h"
#include "conn.h"
#include "context.h"
#include "handles.h"
#include "mapped.h"
#include "memory.h"

/* A stream as rgpud resolves it (server/dispatch.c check_stream). */
struct skey {
    CUstream s;
    uint32_t tid;
    CUcontext ctx;
};

#define MAX_KEYS 16 /* streams tracked in each set; more: nothing is known */

struct keyset {
    struct skey k[MAX_KEYS];
    int n;
};

/* all guarded by the send lock */
static struct keyset unfinished; /* streams that may have work not yet done */
static struct keyset pending;    /* streams whose only outstanding work is copies that cannot fail */
static bool lost;                /* a request that could have queued work anywhere, or too many streams */
static bool poisoned;            /* a call failed, no synchronisation has succeeded since */
static uint64_t epoch;           /* requests sent (but synchronisations, queries and fences) */
static CUcontext first_ctx;      /* current at the first request sent */
static bool several_ctx;         /* a request was sent in another context since */

#define MAX_EVENTS 64
static struct {
    CUevent e;
    struct skey k; /* the stream of its last record */
} recorded[MAX_EVENTS];            /* guarded by the send lock too */
static unsigned next_record;       /* the slot a new event takes (round robin) */

static struct skey key_of(CUstream s)
{
    if (s == CU_STREAM_PER_THREAD)
        return (struct skey){s, rgpu_thread_id(), rgpu_ctx_current()};
    if (s == NULL || s == CU_STREAM_LEGACY)
        return (struct skey){CU_STREAM_LEGACY, 0, rgpu_ctx_current()};
    return (struct skey){s, 0, NULL};
}

static int find(const struct keyset *set, struct skey k)
{
    for (int i = 0; i < set->n; i++)
        if (set->k[i].s == k.s && set->k[i].tid == k.tid && set->k[i].ctx == k.ctx)
            return i;
    return -1;
}

/* false if the set is full */
static bool add(struct keyset *set, struct skey k)
{
    if (find(set, k) >= 0)
        return true;
    if (set->n == MAX_KEYS)
        return false;
    set->k[set->n++] = k;
    return true;
}

static bool drop(struct keyset *set, struct skey k)
{
    int i = find(set, k);
    if (i >= 0)
        set->k[i] = set->k[--set->n];
    return i >= 0;
}

/* the keys of context ctx (and, when it is the only context, every key) */
static void drop_context(struct keyset *set, CUcontext ctx)
{
    for (int i = 0; i < set->n;)
        if (!several_ctx || set->k[i].ctx == ctx)
            set->k[i] = set->k[--set->n];
        else
            i++;
}

/* A host-to-device copy that cannot fail: its bytes are in the request and
 * it lands inside a device allocation; nothing unfinished before it on its
 * stream or on the legacy stream. */
static bool safe_copy(enum rgpu_call_id id, const void *args, struct skey k)
{
    if (id != RGPU_ID_cuMemcpyHtoDAsync_v2 || lost || poisoned || !rgpu_ctx_current() || find(&unfinished, k) >= 0 ||
        find(&unfinished, key_of(CU_STREAM_LEGACY)) >= 0)
        return false;
    const struct rgpu_args_cuMemcpyHtoDAsync_v2 *a = args;
    return rgpu_in_allocation(a->dstDevice, a->ByteCount);
}

static int event_slot(CUevent e)
{
    for (int i = 0; e && i < MAX_EVENTS; i++)
        if (recorded[i].e == e)
            return i;
    return -1;
}

static void forget_event(CUevent e)
{
    int i = event_slot(e);
    if (i >= 0)
        recorded[i].e = NULL;
}

static void forget_events(void)
{
    for (int i = 0; i < MAX_EVENTS; i++)
        recorded[i].e = NULL;
}

/* A record during a capture is a graph node, not a record: where the event
 * stands is then unknown, as after a graph launch (its event record nodes). */
static void event_recorded(CUevent e, CUstream s)
{
    if (rgpu_capture_active()) {
        forget_event(e);
        return;
    }
    int i = event_slot(e);
    if (i < 0)
        i = (int)(next_record++ % MAX_EVENTS);
    recorded[i].e = e;
    recorded[i].k = key_of(s);
}

void rgpu_streamidle_sent(enum rgpu_call_id id, const void *args)
{
    if (id == RGPU_ID_cuEventRecord)
        event_recorded(((const struct rgpu_args_cuEventRecord *)args)->hEvent,
                       ((const struct rgpu_args_cuEventRecord *)args)->hStream);
    else if (id == RGPU_ID_cuEventRecordWithFlags)
        event_recorded(((const struct rgpu_args_cuEventRecordWithFlags *)args)->hEvent,
                       ((const struct rgpu_args_cuEventRecordWithFlags *)args)->hStream);
    else if (id == RGPU_ID_cuEventDestroy_v2)
        forget_event(((const struct rgpu_args_cuEventDestroy_v2 *)args)->hEvent);
    else if (id == RGPU_ID_cuGraphLaunch)
        forget_events();
    /* waiting for or looking at work queues none */
    if (id == RGPU_ID_cuStreamSynchronize || id == RGPU_ID_cuStreamQuery || id == RGPU_ID_cuCtxSynchronize ||
        id == RGPU_ID_rgpu_stream_fence)
        return;
    epoch++;
    CUcontext ctx = rgpu_ctx_current();
    if (!first_ctx)
        first_ctx = ctx;
    else if (ctx && ctx != first_ctx)
        several_ctx = true;
    /* destroying queues nothing; work still unfinished on the stream stays
     * known (a cuCtxSynchronize finds it done) */
    if (id == RGPU_ID_cuStreamDestroy_v2)
        return;
    CUstream named[4];
    int n = rgpu_calls[id].streams(args, named, 4);
    if (n == 1 && safe_copy(id, args, key_of(named[0])) && add(&pending, key_of(named[0])))
        return;
    /* names none and waits: done when answered; a destroyed event queues nothing */
    if (n == 0 && (rgpu_calls[id].reply || id == RGPU_ID_cuEventDestroy_v2))
        return;
    if (n == 0 || n > 4) {
        lost = true;
        return;
    }
    for (int k = 0; k < n; k++)
        if (!add(&unfinished, key_of(named[k])))
            lost = true;
}

void rgpu_streamidle_failed(void)
{
    rgpu_send_lock();
    poisoned = true;
    forget_events();
    epoch++; /* nor may a synchronisation in flight record its stream */
    rgpu_send_unlock();
}

static bool may_answer(void)
{
    return !rgpu_capture_active() && !atomic_load_explicit(&rgpu_mapped_count, memory_order_relaxed) &&
           rgpu_conn_alive();
}

enum answer { ASK, DONE, FENCE };

/* Whether k is known to have nothing unfinished (it may have pending
 * copies). Send lock held. */
static bool settled_locked(struct skey k) { return !lost && !poisoned && find(&unfinished, k) < 0; }

/* What a synchronisation (fence: may send one) or a query of s needs. */
static enum answer answer_for(CUstream s, bool fence, uint64_t *sent_before)
{
    struct skey k = key_of(s);
    rgpu_send_lock();
    enum answer a = ASK;
    if (settled_locked(k)) {
        if (find(&pending, k) < 0)
            a = DONE;
        else if (fence && drop(&pending, k))
            a = FENCE;
    }
    *sent_before = epoch;
    rgpu_send_unlock();
    return a;
}

/* Whether the work before e's last record is known finished. */
static bool event_done(CUevent e)
{
    rgpu_send_lock();
    int i = event_slot(e);
    bool done = i >= 0 && settled_locked(recorded[i].k) && find(&pending, recorded[i].k) < 0;
    rgpu_send_unlock();
    return done;
}

/* The synchronisation of s that travelled succeeded, and nothing was sent
 * while it did: s is finished. */
static void synchronised(CUstream s, uint64_t sent_before)
{
    rgpu_send_lock();
    if (epoch == sent_before) {
        struct skey k = key_of(s);
        drop(&unfinished, k);
        drop(&pending, k);
        poisoned = false;
    }
    rgpu_send_unlock();
}

static CUresult usable(CUstream s)
{
    CUresult r = rgpu_check_init();
    return r != CUDA_SUCCESS ? r : rgpu_stream_check(s);
}

/* A successful query is not recorded: it does not deliver the errors the
 * server latched for the stream's work, which the next synchronisation
 * must. */
RGPU_API CUresult cuStreamQuery(CUstream s)
{
    CUresult r = usable(s);
    if (r != CUDA_SUCCESS)
        return r;
    struct rgpu_args_cuStreamQuery a = {.hStream = s};
    uint64_t unused;
    if (may_answer() && answer_for(s, false, &unused) == DONE) {
        rgpu_trace_local(RGPU_ID_cuStreamQuery, &a, CUDA_SUCCESS);
        return CUDA_SUCCESS;
    }
    return rgpu_remote(RGPU_ID_cuStreamQuery, &a);
}

RGPU_API CUresult cuStreamSynchronize(CUstream s)
{
    CUresult r = usable(s);
    if (r != CUDA_SUCCESS)
        return r;
    struct rgpu_args_cuStreamSynchronize a = {.hStream = s};
    bool answerable = may_answer();
    uint64_t sent_before = 0;
    enum answer ans = answerable ? answer_for(s, true, &sent_before) : ASK;
    if (ans == FENCE) {
        /* sent after the lock: a request another thread sends before it is
         * concurrent with this synchronisation, which has not returned */
        struct rgpu_args_rgpu_stream_fence f = {.hStream = s};
        if (rgpu_remote(RGPU_ID_rgpu_stream_fence, &f) != CUDA_SUCCESS) {
            rgpu_streamidle_failed();
            ans = ASK;
        }
    }
    if (ans != ASK) {
        rgpu_trace_local(RGPU_ID_cuStreamSynchronize, &a, CUDA_SUCCESS);
        return CUDA_SUCCESS;
    }
    r = rgpu_remote(RGPU_ID_cuStreamSynchronize, &a);
    if (r == CUDA_SUCCESS && answerable)
        synchronised(s, sent_before);
    return r;
}

RGPU_API CUresult cuCtxSynchronize(void)
{
    CUresult r = rgpu_check_init();
    if (r != CUDA_SUCCESS)
        return r;
    struct rgpu_args_cuCtxSynchronize a = {0};
    CUcontext ctx = rgpu_ctx_current();
    bool answerable = ctx && may_answer();
    uint64_t sent_before = 0;
    if (answerable) {
        rgpu_send_lock();
        bool done = !lost && !poisoned && unfinished.n == 0 && pending.n == 0;
        sent_before = epoch;
        rgpu_send_unlock();
        if (done) {
            rgpu_trace_local(RGPU_ID_cuCtxSynchronize, &a, CUDA_SUCCESS);
            return CUDA_SUCCESS;
        }
    }
    r = rgpu_remote(RGPU_ID_cuCtxSynchronize, &a);
    if (r == CUDA_SUCCESS && answerable) {
        rgpu_send_lock();
        if (epoch == sent_before) {
            drop_context(&unfinished, ctx);
            drop_context(&pending, ctx);
            poisoned = false;
            lost &= several_ctx;
        }
        rgpu_send_unlock();
    }
    return r;
}

/* An event's query and synchronisation, answered when its stream is known
 * finished since its last record (see the top of this file). */
static CUresult event_call(enum rgpu_call_id id, CUevent e)
{
    CUresult r = rgpu_check_init();
    if (r == CUDA_SUCCESS)
        r = rgpu_event_check(e);
    if (r != CUDA_SUCCESS)
        return r;
    _Static_assert(sizeof(struct rgpu_args_cuEventQuery) == sizeof(struct rgpu_args_cuEventSynchronize),
                   "event query and synchronisation share a layout");
    struct rgpu_args_cuEventQuery a = {.hEvent = e};
    if (may_answer() && event_done(e)) {
        rgpu_trace_local(id, &a, CUDA_SUCCESS);
        return CUDA_SUCCESS;
    }
    return rgpu_remote(id, &a);
}

RGPU_API CUresult cuEventQuery(CUevent e) { return event_call(RGPU_ID_cuEventQuery, e); }
RGPU_API CUresult cuEventSynchronize(CUevent e) { return event_call(RGPU_ID_cuEventSynchronize, e); }
