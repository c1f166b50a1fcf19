/*
 * worker.c — the reader loop of one rgpud worker (see worker.h).
 *
 * HELLO is answered with WELCOME and the device snapshot; then every REQUEST
 * is decoded and executed. A frame that breaks the protocol (bad magic,
 * lengths over the limits, arguments that do not decode) closes this
 * connection with a logged reason; a well-formed request for something that
 * is not allowed (unknown call, forged handle) gets an error reply and the
 * connection goes on. When the connection ends the process exits, and with
 * it every allocation, stream and context of this client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "net.h"
#include "reader.h"
#include "relay.h"
#include "cpudev.h"
#include "devprint.h"
#include "quota.h"
#include "snapshot.h"
#include "visible.h"
#include "worker.h"

/* Each server thread remembers which context it made current, so most
 * requests skip the backend call. Context lifecycle calls can change a
 * thread's binding behind that memory (cuCtxCreate makes the new context
 * current) or free an address a new context then reuses: they bump the
 * generation, which invalidates every thread's memory. */
static _Thread_local CUcontext thread_ctx;
static _Thread_local unsigned thread_gen; /* 0: nothing remembered */
static atomic_uint ctx_generation = 1;

void worker_ctx_changed(void)
{
    atomic_fetch_add(&ctx_generation, 1);
    bufpool_repin(); /* a destroyed context may have taken registrations with it */
    hostpool_repin();
}

/* Staging buffers are page-locked on the backend whose memory is not ours. */
static const struct rgpu_backend *pin_be;
static int pin_staging(void *p, size_t n)
{
    CUresult r = pin_be->cuMemHostRegister_v2(p, n, CU_MEMHOSTREGISTER_PORTABLE);
    if (r == CUDA_SUCCESS || r == CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED)
        return 0;
    rgpu_debug("staging buffer of %zu bytes not page-locked (CUresult %d): copies through it are the driver's "
               "pageable ones until it is", n, (int)r);
    return -1;
}
static void unpin_staging(void *p) { pin_be->cuMemHostUnregister(p); }

/* The client checks each of its threads' capture mode itself (client/
 * capture.c); the server's threads act for all of them, so the driver must
 * not refuse them "unsafe" calls (cuMemAlloc, event waits) during a global
 * capture: they are relaxed. */
void worker_thread_init(const struct rgpu_backend *be)
{
    static _Thread_local bool done;
    if (done || !be->thread_exchange_capture_mode)
        return;
    CUstreamCaptureMode m = CU_STREAM_CAPTURE_MODE_RELAXED;
    done = be->thread_exchange_capture_mode(&m) == CUDA_SUCCESS;
}

CUresult worker_set_ctx(struct worker *w, CUcontext ctx)
{
    worker_thread_init(w->be);
    unsigned gen = atomic_load(&ctx_generation);
    if (thread_gen == gen && thread_ctx == ctx)
        return CUDA_SUCCESS;
    if (ctx && !handles_has(&w->handles, HT_CTX, ctx))
        return CUDA_ERROR_INVALID_CONTEXT;
    CUresult r = w->be->cuCtxSetCurrent(ctx);
    /* NVIDIA's cuCtxSetCurrent(NULL) pops the top of the thread's context
     * stack, and cuCtxCreate pushed every context this thread created: pop
     * until none is current, as the client's "no context" means. */
    CUcontext cur = NULL;
    for (int i = 0; !ctx && r == CUDA_SUCCESS && i < 64 && w->be->cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur; i++)
        r = w->be->cuCtxSetCurrent(NULL);
    if (r == CUDA_SUCCESS) {
        thread_ctx = ctx;
        thread_gen = gen;
    }
    return r;
}

/* Send with send_lock held, and release it. */
static int send_and_unlock(struct worker *w, struct rgpu_hdr *h, const struct rgpu_wbuf *wb)
{
    int rc = rgpu_send_msg(w->fd, h, wb);
    worker_send_unlock(w);
    if (rc != 0)
        atomic_store(&w->dead, true);
    return rc;
}

int worker_send(struct worker *w, struct rgpu_hdr *h, const struct rgpu_wbuf *wb)
{
    if (atomic_load(&w->dead))
        return -1;
    pthread_mutex_lock(&w->send_lock);
    return send_and_unlock(w, h, wb);
}

/* The outbox: messages of threads that must not wait for the send lock
 * (worker_send_nowait), sent by whoever releases it. */
struct outmsg {
    struct outmsg *next;
    size_t len;
    uint8_t bytes[];
};
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static struct outmsg *out_head, **out_tail = &out_head;
static atomic_int out_count;

void worker_send_unlock(struct worker *w)
{
    for (;;) {
        while (atomic_load(&out_count)) {
            pthread_mutex_lock(&out_lock);
            struct outmsg *m = out_head;
            out_head = NULL;
            out_tail = &out_head;
            pthread_mutex_unlock(&out_lock);
            for (struct outmsg *next; m; m = next) {
                next = m->next;
                struct iovec iov = {m->bytes, m->len};
                if (!atomic_load(&w->dead) && rgpu_writev_full(w->fd, &iov, 1) != 0)
                    atomic_store(&w->dead, true);
                atomic_fetch_sub(&out_count, 1);
                free(m);
            }
        }
        pthread_mutex_unlock(&w->send_lock);
        /* a message left after our last look is ours to send, unless the
         * lock's next holder takes it */
        if (!atomic_load(&out_count) || pthread_mutex_trylock(&w->send_lock) != 0)
            return;
    }
}

int worker_send_nowait(struct worker *w, struct rgpu_hdr *h, const struct rgpu_wbuf *wb)
{
    if (atomic_load(&w->dead))
        return -1;
    if (pthread_mutex_trylock(&w->send_lock) == 0)
        return send_and_unlock(w, h, wb);
    h->magic = RGPU_MAGIC;
    h->args_len = wb ? (uint32_t)wb->len : 0;
    h->bulk_len = wb ? wb->bulk_len : 0;
    size_t len = sizeof *h + h->args_len + h->bulk_len;
    struct outmsg *m = malloc(sizeof *m + len);
    if (!m) /* no memory to leave it: wait for the lock after all */
        return worker_send(w, h, wb);
    m->next = NULL;
    m->len = len;
    uint8_t *p = m->bytes;
    memcpy(p, h, sizeof *h);
    p += sizeof *h;
    if (h->args_len) {
        memcpy(p, wb->data, wb->len);
        p += wb->len;
    }
    for (int i = 0; wb && i < wb->nbulk; i++) {
        memcpy(p, wb->bulk[i].iov_base, wb->bulk[i].iov_len);
        p += wb->bulk[i].iov_len;
    }
    pthread_mutex_lock(&out_lock);
    *out_tail = m;
    out_tail = &m->next;
    atomic_fetch_add(&out_count, 1);
    pthread_mutex_unlock(&out_lock);
    if (pthread_mutex_trylock(&w->send_lock) == 0)
        worker_send_unlock(w);
    return 0;
}

/* CUDA reports a failure of asynchronous work at the next synchronising call
 * of the same context; a no-reply request's failure waits here until then. */
static void latch(struct worker *w, uint64_t ctx, CUresult r)
{
    pthread_mutex_lock(&w->latch_lock);
    int slot = -1;
    for (int i = 0; i < 32; i++) {
        if (w->latched[i].err && w->latched[i].ctx == ctx) {
            slot = -2; /* the first failure wins */
            break;
        }
        if (!w->latched[i].err && slot == -1)
            slot = i;
    }
    if (slot >= 0)
        w->latched[slot].ctx = ctx, w->latched[slot].err = (int)r;
    else if (slot == -1)
        rgpu_warn("more than 32 contexts with pending asynchronous errors; dropping CUresult %d", (int)r);
    pthread_mutex_unlock(&w->latch_lock);
}

static CUresult take_latched(struct worker *w, uint64_t ctx)
{
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&w->latch_lock);
    for (int i = 0; i < 32; i++)
        if (w->latched[i].err && w->latched[i].ctx == ctx) {
            r = (CUresult)w->latched[i].err;
            w->latched[i].err = 0;
        }
    pthread_mutex_unlock(&w->latch_lock);
    return r;
}

/* Module and library images are kept long-term (and freed with free()):
 * their bulk is malloc'd; every other payload comes from the buffer pool. */
static bool bulk_from_pool(const struct rgpu_hdr *h)
{
    return h->call != RGPU_ID_rgpu_module_load && h->call != RGPU_ID_rgpu_library_load;
}

static void free_bulk(void *bulk, bool pooled)
{
    if (pooled)
        bufpool_put(bulk);
    else
        free(bulk);
}

/* Frees what a call owns; c itself and its arguments only when they are on
 * the heap (a call handed to a waiter thread), not the reader's scratch. */
static void call_release(struct srv_call *c)
{
    for (int i = 0; i < c->noutbufs; i++)
        free(c->outbufs[i]);
    free_bulk(c->bulk, c->bulk_pooled);
}

static void call_free(struct srv_call *c)
{
    call_release(c);
    free(c->args);
    free(c);
}

static void trace_call(const struct srv_call *c, CUresult r)
{
    if (rgpu_log_level < RGPU_LOG_DEBUG)
        return;
    const struct rgpu_call_desc *d = &rgpu_calls[c->hdr.call];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    fprintf(f, "%s(", d->name);
    d->trace(f, c->args, 0);
    fprintf(f, ") -> %d", (int)r);
    if (r == CUDA_SUCCESS) {
        fprintf(f, " {");
        d->trace(f, c->args, 1);
        fprintf(f, "}");
    }
    fclose(f);
    rgpu_debug("%s", buf);
    free(buf);
}

/* The context a request ends (destroy, reset, last release), or 0. */
static uint64_t ends_context(const struct srv_call *c)
{
    switch ((enum rgpu_call_id)c->hdr.call) {
    case RGPU_ID_cuCtxDestroy_v2:
        return (uint64_t)(uintptr_t)((struct rgpu_args_cuCtxDestroy_v2 *)c->args)->ctx;
    case RGPU_ID_cuDevicePrimaryCtxReset_v2: {
        int dev = ((struct rgpu_args_cuDevicePrimaryCtxReset_v2 *)c->args)->dev;
        return dev >= 0 && dev < 16 ? (uint64_t)(uintptr_t)c->w->handles.primary[dev] : 0;
    }
    default:
        return 0;
    }
}

static bool capture_error(CUresult r)
{
    return r == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED || r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED ||
           r == CUDA_ERROR_STREAM_CAPTURE_MERGE || r == CUDA_ERROR_STREAM_CAPTURE_UNMATCHED ||
           r == CUDA_ERROR_STREAM_CAPTURE_UNJOINED || r == CUDA_ERROR_STREAM_CAPTURE_ISOLATION ||
           r == CUDA_ERROR_STREAM_CAPTURE_IMPLICIT || r == CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
}

/* Execute a decoded request and answer it. */
static void execute(struct srv_call *c)
{
    struct worker *w = c->w;
    const struct rgpu_call_desc *d = &rgpu_calls[c->hdr.call];
    CUresult r;
    /* NVML calls need no context (and must not create one): their result
     * is an nvmlReturn_t, in the same reply field. */
    if (d->nvml)
        r = (CUresult)nvml_exec(c);
    else if ((r = worker_set_ctx(w, (CUcontext)(uintptr_t)c->hdr.ctx)) == CUDA_SUCCESS)
        r = dispatch_exec(c);
    trace_call(c, r);
    bool reply = !(c->hdr.flags & RGPU_F_NO_REPLY);
    if (!reply) {
        /* A capture error invalidated its capture, and cuStreamEndCapture
         * reports that; it is not an error of the context's work. */
        if (r != CUDA_SUCCESS && !d->nvml && !capture_error(r))
            latch(w, c->hdr.ctx, r);
    } else {
        /* Synchronising calls deliver what earlier no-reply calls latched;
         * calls that end a context discard what it latched. */
        if (d->nvml)
            ; /* NVML knows nothing of contexts */
        else if (ends_context(c))
            take_latched(w, ends_context(c));
        else if (d->blocks && r == CUDA_SUCCESS)
            r = take_latched(w, c->hdr.ctx);
        if (!d->nvml) {
            completions_flush(w); /* bytes of finished copies before any reply that may show them finished */
            devprint_flush();     /* and the device printf text a synchronisation flushed */
        }
        struct rgpu_hdr h = {.type = RGPU_MSG_REPLY, .call = c->hdr.call, .seq = c->hdr.seq, .result = r};
        struct rgpu_wbuf wb;
        rgpu_wbuf_init(&wb);
        if (r == CUDA_SUCCESS)
            d->enc_rep(&wb, c->args);
        if (wb.failed) {
            h.result = d->nvml ? (int32_t)NVML_ERROR_MEMORY : CUDA_ERROR_OUT_OF_MEMORY;
            rgpu_wbuf_free(&wb);
        }
        worker_send(w, &h, &wb);
        rgpu_wbuf_free(&wb);
    }
}

/* Synchronous calls that do not synchronise (no latched error is theirs to
 * report) but that NVIDIA's driver may hold until its host-function thread is
 * free: destroying a stream, an event or a graph. On the reader thread they
 * could wait for a client host function whose end only the reader can
 * receive; they run on a waiter like the blocking calls. (Suspected, not
 * seen, in a hang on an H200: four threads with host functions, one of them
 * destroying its stream.) The CPU device's event destroy only drops a
 * reference, and a waiter's hand-off cost it five times its own time. */
static bool off_reader(const struct worker *w, enum rgpu_call_id id)
{
    switch (id) {
    case RGPU_ID_cuEventDestroy_v2:
        return !w->device_is_host; /* the CPU device's never waits (cpudev/event.c) */
    case RGPU_ID_cuStreamDestroy_v2:
    case RGPU_ID_cuGraphDestroy:
    case RGPU_ID_cuGraphExecDestroy:
        return true;
    default:
        return false;
    }
}

/* A synchronisation whose work is already done is answered
 * on the reader: handed to a waiter, it would pay two thread wake-ups for
 * nothing (an idle synchronisation over shm: 4.8 -> 0.95 µs here). Only what
 * the backend can say exactly is done: anything unclear goes to a waiter,
 * which is always right. */
static bool already_done(struct srv_call *c)
{
    struct worker *w = c->w;
    CUcontext ctx = (CUcontext)(uintptr_t)c->hdr.ctx;
    if (!ctx || worker_set_ctx(w, ctx) != CUDA_SUCCESS)
        return false;
    switch ((enum rgpu_call_id)c->hdr.call) {
    case RGPU_ID_cuStreamSynchronize: {
        CUstream s = ((struct rgpu_args_cuStreamSynchronize *)c->args)->hStream;
        if (dispatch_check_stream(c, &s) != CUDA_SUCCESS)
            return false;
        /* asked once: a yield and a second look made a 4-byte read +
         * synchronisation 30% slower on the CPU device (docs/PERFORMANCE.md) */
        return w->be->cuStreamQuery(s) == CUDA_SUCCESS;
    }
    case RGPU_ID_cuEventSynchronize: {
        CUevent e = ((struct rgpu_args_cuEventSynchronize *)c->args)->hEvent;
        return e && dispatch_check_handle(c, HT_EVENT, e) == CUDA_SUCCESS && w->be->cuEventQuery(e) == CUDA_SUCCESS;
    }
    case RGPU_ID_cuCtxSynchronize:
        return idle_ctx(w, ctx); /* destroyed busy streams included (idle.h) */
    default:
        return false;
    }
}

static void execute_job(void *p)
{
    execute(p);
    call_free(p);
}

static void waiter_job(void *p)
{
    execute_job(p);
    relay_waiter_end();
}

static void reply_error(struct worker *w, const struct rgpu_hdr *req, CUresult r)
{
    if (req->flags & RGPU_F_NO_REPLY) {
        latch(w, req->ctx, r);
        return;
    }
    struct rgpu_hdr h = {.type = RGPU_MSG_REPLY, .call = req->call, .seq = req->seq, .result = r};
    worker_send(w, &h, NULL);
}

static _Noreturn void finish(struct worker *w, const char *why)
{
    if (why)
        rgpu_warn("closing connection: %s", why);
    else
        rgpu_info("client disconnected");
    custom_connection_lost(w);
    /* _exit: stream threads may still be running; the kernel reclaims everything. */
    _exit(0);
}

/* A client of another protocol version or call table is told which the
 * server speaks (it reports the mismatch to its application), one without
 * the token that it may not come in (NOT_PERMITTED), and let go. */
static _Noreturn void refuse(struct worker *w, CUresult result, const char *why)
{
    struct rgpu_welcome wel = {.proto_version = RGPU_PROTO_VERSION, .calls_fingerprint = rgpu_calls_fingerprint()};
    struct rgpu_hdr out = {.type = RGPU_MSG_WELCOME, .result = result};
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    rgpu_wbuf_put(&wb, &wel, sizeof wel);
    worker_send(w, &out, &wb);
    rgpu_wbuf_free(&wb);
    finish(w, why);
}

/* rgpud's shared secret (--token-file); len 0: every client is admitted. */
static struct rgpu_token token;

void worker_set_token(const struct rgpu_token *t) { token = *t; }

/* With a token: challenge the client and admit it only with the answer its
 * HELLO and our nonce call for (auth.h). */
static void authenticate(struct worker *w, const struct rgpu_hello *hello)
{
    struct rgpu_challenge c;
    struct rgpu_auth a;
    if (!rgpu_auth_challenge(&c))
        finish(w, "no randomness for a challenge");
    struct rgpu_hdr h = {.type = RGPU_MSG_CHALLENGE};
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    rgpu_wbuf_put(&wb, &c, sizeof c);
    int rc = worker_send(w, &h, &wb);
    rgpu_wbuf_free(&wb);
    if (rc || rgpu_read_full(w->fd, &h, sizeof h))
        finish(w, NULL);
    if (rgpu_hdr_invalid(&h) || h.type != RGPU_MSG_AUTH || h.args_len != sizeof a || h.bulk_len)
        finish(w, "expected AUTH");
    if (rgpu_read_full(w->fd, &a, sizeof a))
        finish(w, NULL);
    if (!rgpu_auth_check(&token, &c, hello, &a))
        refuse(w, CUDA_ERROR_NOT_PERMITTED, "client without the token (authentication failed)");
}

static void handshake(struct worker *w)
{
    struct rgpu_hdr h;
    union {
        struct rgpu_hello hello;
        uint8_t any[RGPU_MAX_HANDSHAKE_LEN]; /* a HELLO of any version */
    } in = {0};
    struct rgpu_hello hello;
    if (rgpu_read_full(w->fd, &h, sizeof h))
        finish(w, NULL);
    if (rgpu_hdr_invalid(&h) || h.type != RGPU_MSG_HELLO || h.args_len < sizeof hello.proto_version ||
        h.args_len > sizeof in || h.bulk_len)
        finish(w, "expected HELLO");
    if (rgpu_read_full(w->fd, &in, h.args_len))
        finish(w, NULL);
    hello = in.hello;
    if (hello.proto_version != RGPU_PROTO_VERSION || h.args_len != sizeof hello) {
        char why[128];
        snprintf(why, sizeof why, "client speaks protocol %u, this server %u (run the same rgpu on both sides)",
                 hello.proto_version, RGPU_PROTO_VERSION);
        refuse(w, CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, why);
    }
    const uint64_t fingerprint = rgpu_calls_fingerprint(); /* hashes the whole call table: once */
    if (hello.calls_fingerprint != fingerprint) {
        char why[160];
        snprintf(why, sizeof why, "client built from another call table (%016llx, this server %016llx): run the "
                 "same rgpu on both sides", (unsigned long long)hello.calls_fingerprint,
                 (unsigned long long)fingerprint);
        refuse(w, CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, why);
    }
    if (token.len)
        authenticate(w, &hello); /* on the HELLO as sent */
    hello.host[sizeof hello.host - 1] = 0;
    hello.visible_devices[sizeof hello.visible_devices - 1] = 0;
    rgpu_info("client pid %u on %s, protocol %u", hello.pid, hello.host, hello.proto_version);

    /* CUDA_VISIBLE_DEVICES of the client: the NVIDIA driver reads it at
     * cuInit, which this worker (a fresh process per client) has not called
     * yet; for the CPU device the snapshot is filtered the same way. */
    bool visible = (hello.caps & RGPU_HELLO_VISIBLE) != 0;
    if (visible && strcmp(w->be->name, "nvidia") == 0)
        setenv("CUDA_VISIBLE_DEVICES", hello.visible_devices, 1);
    struct rgpu_welcome wel = {.proto_version = RGPU_PROTO_VERSION, .worker_pid = (uint32_t)getpid(),
                               .calls_fingerprint = fingerprint};
    struct rgpu_dev_info *devs = NULL;
    CUresult r = snapshot_build(w->be, &wel, &devs);
    if (r == CUDA_SUCCESS && visible && strcmp(w->be->name, "nvidia") != 0) {
        /* one CPU device: it is visible or not (no reordering to do) */
        int order[16];
        int n = visible_devices(hello.visible_devices, devs, wel.ndev, order, 16);
        if (n == 0) {
            wel.ndev = 0;
            r = CUDA_ERROR_NO_DEVICE; /* what cuInit says when no device is visible */
        }
    }
    /* cuDeviceTotalMem is the tenant's (quota.h); what the worker keeps
     * (NVML's view of the device) stays the backend's */
    uint64_t real_total[16];
    for (int i = 0; r == CUDA_SUCCESS && i < wel.ndev; i++) {
        real_total[i] = devs[i].total_mem;
        quota_clamp_total(&devs[i].total_mem);
    }
    struct rgpu_hdr out = {.type = RGPU_MSG_WELCOME, .result = r};
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    rgpu_wbuf_put(&wb, &wel, sizeof wel);
    if (r == CUDA_SUCCESS)
        rgpu_wbuf_bulk(&wb, devs, (uint64_t)wel.ndev * sizeof *devs);
    worker_send(w, &out, &wb);
    rgpu_wbuf_free(&wb);
    for (int i = 0; r == CUDA_SUCCESS && i < wel.ndev; i++)
        devs[i].total_mem = real_total[i];
    w->devs = devs; /* kept: NVML maps its devices by their UUIDs */
    w->ndev = r == CUDA_SUCCESS ? wel.ndev : 0;
    if (r != CUDA_SUCCESS)
        finish(w, visible && r == CUDA_ERROR_NO_DEVICE ? "no device visible (CUDA_VISIBLE_DEVICES)"
                                                       : "backend failed to initialise");
}

/* The reader's scratch for the arguments of calls it executes itself (most
 * of them): a request costs no allocation unless a waiter thread takes it. */
static void *scratch_args;
static size_t scratch_size;

static void scratch_init(struct worker *w)
{
    for (int i = 0; i < RGPU_NCALLS; i++)
        if (rgpu_calls[i].args_size > scratch_size)
            scratch_size = rgpu_calls[i].args_size;
    if (!(scratch_args = malloc(scratch_size)))
        finish(w, "out of memory");
}

void worker_handle_request(struct worker *w, const struct rgpu_hdr *h, uint8_t *args, uint8_t *bulk,
                           bool bulk_pooled)
{
    if (h->call == RGPU_ID_NONE || h->call >= RGPU_NCALLS || !rgpu_calls[h->call].remote) {
        rgpu_warn("unknown call id %u", h->call);
        free_bulk(bulk, bulk_pooled);
        reply_error(w, h, CUDA_ERROR_NOT_SUPPORTED);
        return;
    }
    /* A relayed payload was read into malloc'd memory (the reader must not
     * call the driver, which taking a new pool buffer may do): on the pool's
     * page-locked memory a host->device copy stays asynchronous, from
     * pageable memory NVIDIA's driver waits for the stream first. */
    if (bulk && !bulk_pooled && bulk_from_pool(h)) {
        uint8_t *p = bufpool_get(h->bulk_len);
        if (p) {
            memcpy(p, bulk, h->bulk_len);
            free(bulk);
            bulk = p;
            bulk_pooled = true;
        }
    }
    const struct rgpu_call_desc *d = &rgpu_calls[h->call];
    struct srv_call local, *c = &local;
    void *a = scratch_args;
    bool waiter = d->blocks || off_reader(w, (enum rgpu_call_id)h->call);
    if (waiter) { /* outlives this function: executed by a waiter thread */
        c = malloc(sizeof *c);
        a = malloc(d->args_size);
        if (!c || !a) {
            free(c);
            free(a);
            free_bulk(bulk, bulk_pooled);
            reply_error(w, h, CUDA_ERROR_OUT_OF_MEMORY);
            return;
        }
    }
    /* zeroed as calloc would: outputs a backend leaves alone read as 0 */
    memset(a, 0, d->args_size);
    /* field by field: outbufs[] is only read below noutbufs */
    c->w = w;
    c->hdr = *h;
    c->args = a;
    c->bulk = bulk;
    c->bulk_pooled = bulk_pooled;
    c->noutbufs = 0;
    struct rgpu_rbuf rb;
    rgpu_rbuf_init(&rb, args, h->args_len, bulk, h->bulk_len);
    if (!d->dec_req(&rb, a)) {
        if (waiter)
            call_free(c);
        else
            call_release(c);
        char why[96];
        snprintf(why, sizeof why, "malformed arguments for %s", d->name);
        finish(w, why);
    }
    if (waiter && !(d->blocks && already_done(c))) {
        relay_waiter_begin(); /* before it can start: the driver may wait inside it */
        waiters_submit(waiter_job, c);
    } else if (waiter) {
        execute_job(c);
    } else {
        execute(c);
        call_release(c);
    }
}

/* Device printf text, forwarded to the client's stdout (kernel threads). */
static void forward_print(void *ctx, const char *text, size_t len)
{
    struct worker *w = ctx;
    struct rgpu_hdr h = {.type = RGPU_MSG_PRINT};
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    rgpu_wbuf_bulk(&wb, text, len);
    worker_send(w, &h, &wb);
}

_Noreturn void worker_run(int fd, const struct rgpu_backend *be, struct rgpu_nvml_backend *nvml)
{
    static struct worker wk;
    struct worker *w = &wk;
    if (strcmp(be->name, "cpu") == 0)
        cpudev_set_print(forward_print, w);
    w->fd = fd;
    w->be = be;
    const char *staged = getenv("RGPU_STAGED_COPIES");
    w->device_is_host = strcmp(be->name, "cpu") == 0 && !(staged && strcmp(staged, "1") == 0);
    if (!w->device_is_host) {
        pin_be = be;
        bufpool_set_pinning(pin_staging, unpin_staging);
    }
    relay_init(w);
    w->nvml = nvml;
    pthread_mutex_init(&w->send_lock, NULL);
    pthread_mutex_init(&w->latch_lock, NULL);
    pthread_mutex_init(&w->cb_lock, NULL);
    pthread_cond_init(&w->cb_cond, NULL);
    handles_init(&w->handles);
    /* before the handshake's cuInit: the driver may print from then on */
    if (strcmp(be->name, "cpu") != 0 && !devprint_start(w))
        rgpu_warn("device printf: cannot redirect stdout; kernels' text stays in rgpud's output");

    handshake(w);
    scratch_init(w);
    /* Buffered: a batch of coalesced requests arrives in one read. */
    struct rgpu_reader rd;
    uint8_t *argbuf = malloc(RGPU_MAX_ARGS_LEN);
    if (!argbuf || rgpu_reader_init(&rd, fd, RGPU_READER_CAP))
        finish(w, "out of memory");
    for (;;) {
        struct rgpu_hdr h;
        if (rgpu_reader_read(&rd, &h, sizeof h))
            finish(w, errno ? strerror(errno) : NULL);
        const char *bad = rgpu_hdr_invalid(&h);
        if (!bad && h.type != RGPU_MSG_REQUEST && h.type != RGPU_MSG_CALLBACK_DONE)
            bad = "unexpected message type from client";
        if (bad)
            finish(w, bad);
        /* in place when the whole message is buffered (the bulk read could
         * refill the buffer under the arguments), else copied */
        size_t have = rgpu_reader_buffered(&rd);
        uint8_t *args = have >= h.args_len && have - h.args_len >= h.bulk_len
                            ? (uint8_t *)rgpu_reader_take(&rd, h.args_len)
                            : NULL;
        if (!args) {
            args = argbuf;
            if (rgpu_reader_read(&rd, args, h.args_len))
                finish(w, "connection lost inside a frame");
        }
        if (h.type == RGPU_MSG_CALLBACK_DONE) {
            struct rgpu_callback cb;
            if (h.args_len != sizeof cb || h.bulk_len)
                finish(w, "malformed CALLBACK_DONE");
            memcpy(&cb, args, sizeof cb);
            custom_callback_done(w, cb.id);
            continue;
        }
        /* Relayed requests are read whole first: the direct and chunked
         * paths execute while they read. */
        bool relay = relay_wanted();
        CUresult late;
        int direct = relay ? 0 : htod_direct(w, &h, args, &rd, &late);
        if (direct == 0 && !relay)
            direct = htod_chunked(w, &h, args, &rd, &late);
        if (direct < 0)
            finish(w, "connection lost inside a frame");
        if (direct > 0) {
            if (late != CUDA_SUCCESS)
                reply_error(w, &h, late);
            continue;
        }
        /* A relayed request's bulk comes from malloc: the pool may call the
         * driver (page-locking a new buffer), which the reader must not
         * while it relays. */
        bool pooled = !relay && bulk_from_pool(&h);
        uint8_t *bulk = NULL;
        if (h.bulk_len) {
            bulk = pooled ? bufpool_get(h.bulk_len) : malloc(h.bulk_len);
            if (!bulk) {
                if (rgpu_reader_skip(&rd, h.bulk_len))
                    finish(w, "connection lost inside a frame");
                reply_error(w, &h, CUDA_ERROR_OUT_OF_MEMORY);
                continue;
            }
            if (rgpu_reader_read(&rd, bulk, h.bulk_len)) {
                free_bulk(bulk, pooled);
                finish(w, "connection lost inside a frame");
            }
        }
        if (!relay) {
            worker_handle_request(w, &h, args, bulk, pooled);
        } else if (relay_push(w, &h, args, bulk) != 0) {
            free_bulk(bulk, pooled);
            reply_error(w, &h, CUDA_ERROR_OUT_OF_MEMORY);
        }
    }
}
