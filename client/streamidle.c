/*
 * streamidle.c — cuStreamSynchronize and cuStreamQuery of a stream the
 * client knows to be idle, and cuCtxSynchronize of a context it knows to be
 * idle, answered without a round trip.
 *
 * llama.cpp synchronises its stream 19 times per generated token, 14 of them
 * with nothing queued since the last (ggml's scheduler synchronises each
 * backend between splits and around every input copy): over a socket each
 * was a round trip to rgpud. A stream is known idle from the success of its
 * synchronisation until a request that names it is sent. Everything sent
 * passes through conn.c's send path, which tells this file
 * (rgpu_streamidle_sent, under the send lock): a request naming streams
 * (calls.def's IN and DEL arguments of type CUstream, extracted by the
 * generated codec) makes those unknown again; one naming none could have
 * queued work anywhere (a legacy-stream copy, any hand-written row), so it
 * forgets them all. A synchronisation is recorded only if nothing at all
 * was sent between its request and its reply (work queued meanwhile may be
 * pending). The table is guarded by the send lock, so a request and a
 * record never cross.
 *
 * Kept only for streams the application created: NULL, CU_STREAM_LEGACY and
 * CU_STREAM_PER_THREAD mean different streams in different threads. Never
 * answered locally: while a capture is active (a synchronisation may be
 * illegal, and invalidate it), while mapped host memory exists (a
 * synchronisation makes its mirrors coherent, mapped.c), or once the
 * connection is gone. Any call that fails forgets every idle stream: the
 * failure may be the context's sticky error (a kernel fault), which every
 * later synchronisation must report, as the driver's do. What a local
 * answer cannot report is a failure of another stream's work that no reply
 * has shown yet: the next call that travels reports it, as a native
 * synchronisation made a moment before the failure would not have either.
 */
#include "streamidle.h"

#include <stdatomic.h>

#include "capture.h"
#include "conn.h"
#include "context.h"
#include "handles.h"
#include "mapped.h"

#define MAX_IDLE 16 /* streams remembered; more are asked the long way */

static CUstream idle[MAX_IDLE]; /* guarded by the send lock */
static int nidle;
static uint64_t epoch; /* requests sent (but synchronisations and queries) */
static CUcontext idle_ctx; /* its last cuCtxSynchronize succeeded at idle_ctx_epoch */
static uint64_t idle_ctx_epoch;

static bool special(CUstream s) { return s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD; }

static int find_locked(CUstream s)
{
    for (int i = 0; i < nidle; i++)
        if (idle[i] == s)
            return i;
    return -1;
}

void rgpu_streamidle_sent(enum rgpu_call_id id, const void *args)
{
    /* waiting for or looking at work queues none */
    if (id == RGPU_ID_cuStreamSynchronize || id == RGPU_ID_cuStreamQuery || id == RGPU_ID_cuCtxSynchronize)
        return;
    epoch++;
    if (!nidle)
        return;
    CUstream named[4];
    int n = rgpu_calls[id].streams(args, named, 4);
    if (n == 0 || n > 4) {
        nidle = 0;
        return;
    }
    for (int k = 0; k < n; k++) {
        int i = find_locked(named[k]);
        if (i >= 0)
            idle[i] = idle[--nidle];
    }
}

void rgpu_streamidle_failed(void)
{
    rgpu_send_lock();
    nidle = 0;
    epoch++; /* nor may a synchronisation in flight record its stream */
    rgpu_send_unlock();
}

static bool may_answer_any(void)
{
    return !rgpu_capture_active() && !atomic_load_explicit(&rgpu_mapped_count, memory_order_relaxed) &&
           rgpu_conn_alive();
}

static bool may_answer(CUstream s) { return !special(s) && may_answer_any(); }

/* s is known idle (and may be answered for) */
static bool known_idle(CUstream s, uint64_t *sent_before)
{
    rgpu_send_lock();
    bool known = find_locked(s) >= 0;
    *sent_before = epoch;
    rgpu_send_unlock();
    return known;
}

/* A query of a known idle stream is answered too; a successful query is not
 * recorded: it does not deliver the errors the server latched for the
 * stream's work, which the next synchronisation must. */
static CUresult usable(CUstream s)
{
    CUresult r = rgpu_check_init();
    return r != CUDA_SUCCESS ? r : rgpu_stream_check(s);
}

RGPU_API CUresult cuStreamQuery(CUstream s)
{
    CUresult r = usable(s);
    if (r != CUDA_SUCCESS)
        return r;
    struct rgpu_args_cuStreamQuery a = {.hStream = s};
    uint64_t unused;
    if (may_answer(s) && known_idle(s, &unused)) {
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
    bool answerable = may_answer(s);
    uint64_t sent_before = 0;
    if (answerable && known_idle(s, &sent_before)) {
        rgpu_trace_local(RGPU_ID_cuStreamSynchronize, &a, CUDA_SUCCESS);
        return CUDA_SUCCESS;
    }
    r = rgpu_remote(RGPU_ID_cuStreamSynchronize, &a);
    if (r == CUDA_SUCCESS && answerable) {
        rgpu_send_lock();
        if (epoch == sent_before && find_locked(s) < 0) {
            if (nidle == MAX_IDLE)
                idle[0] = idle[--nidle]; /* forget one */
            idle[nidle++] = s;
        }
        rgpu_send_unlock();
    }
    return r;
}

/* A context is idle from the success of its cuCtxSynchronize until anything
 * at all is sent (the epoch moves): stream synchronisations and queries
 * excepted, they queue nothing. */
RGPU_API CUresult cuCtxSynchronize(void)
{
    CUresult r = rgpu_check_init();
    if (r != CUDA_SUCCESS)
        return r;
    struct rgpu_args_cuCtxSynchronize a = {0};
    CUcontext ctx = rgpu_ctx_current();
    bool answerable = ctx && may_answer_any();
    uint64_t sent_before = 0;
    if (answerable) {
        rgpu_send_lock();
        bool known = idle_ctx == ctx && idle_ctx_epoch == epoch;
        sent_before = epoch;
        rgpu_send_unlock();
        if (known) {
            rgpu_trace_local(RGPU_ID_cuCtxSynchronize, &a, CUDA_SUCCESS);
            return CUDA_SUCCESS;
        }
    }
    r = rgpu_remote(RGPU_ID_cuCtxSynchronize, &a);
    if (r == CUDA_SUCCESS && answerable) {
        rgpu_send_lock();
        if (epoch == sent_before) {
            idle_ctx = ctx;
            idle_ctx_epoch = epoch;
        }
        rgpu_send_unlock();
    }
    return r;
}
