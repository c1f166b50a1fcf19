/*
 * worker.h — one rgpud worker: serves one client connection in its own
 * process, owns every resource that client created, and exits when the
 * connection ends (process exit frees all of it, on either backend).
 *
 * Threads: the reader thread decodes requests in arrival order and executes
 * them inline, except calls that may block in the backend (BLOCK kinds),
 * which go to a pool of waiter threads so that the reader keeps serving the
 * client's other threads and host-callback acknowledgements. Replies, DATA
 * and CALLBACK messages are written under one send lock.
 */
#ifndef RGPU_SERVER_WORKER_H
#define RGPU_SERVER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "backend.h"
#include "bufpool.h"
#include "completions.h"
#include "idle.h"
#include "handles.h"
#include "nvml_backend.h"
#include "proto.h"

struct worker {
    int fd;
    const struct rgpu_backend *be;
    /* The CPU device, whose memory is this process's: copies may skip the
     * staging buffer (htod_direct.c, custom.c). False on the NVIDIA backend,
     * and on the CPU device with RGPU_STAGED_COPIES=1 (tests of the paths
     * the NVIDIA backend takes: pinned staging, chunked host->device). */
    bool device_is_host;
    pthread_mutex_t send_lock;
    pthread_mutex_t latch_lock;   /* first failure of a no-reply call, per context */
    struct { uint64_t ctx; int err; } latched[32];
    atomic_bool dead;             /* connection lost: stop waiting for the client */
    struct handles handles;
    pthread_mutex_t cb_lock;      /* host callbacks waiting for CALLBACK_DONE */
    pthread_cond_t cb_cond;
    uint64_t cb_next_id;
    uint64_t cb_done_upto;        /* callbacks are acknowledged in order per id set */
    struct cb_wait *cb_waits;
    struct rgpu_dev_info *devs;   /* the WELCOME snapshot */
    int ndev;
    struct rgpu_nvml_backend *nvml;
    bool nvml_tried;              /* nvml->init ran (at the first NVML request) */
    nvmlReturn_t nvml_init;
};

/* The request being executed: what handlers need besides their arguments. */
struct srv_call {
    struct worker *w;
    struct rgpu_hdr hdr;
    void *args;
    uint8_t *bulk;                /* received bulk payload; set to NULL to keep it */
    bool bulk_pooled;             /* bulk is from bufpool_get (else malloc) */
    void *outbufs[RGPU_WBUF_MAX_IOV]; /* OUTBUF storage, freed after the reply */
    int noutbufs;
};

struct rgpu_token;
/* Admit only clients that prove they hold t (auth.h); before worker_run. */
void worker_set_token(const struct rgpu_token *t);

/* Serve one connection; never returns. */
_Noreturn void worker_run(int fd, const struct rgpu_backend *be, struct rgpu_nvml_backend *nvml);

/* Send one server->client message (any thread). */
int worker_send(struct worker *w, struct rgpu_hdr *h, const struct rgpu_wbuf *wb);
/* The same, from a thread that must not wait for the send lock (a host
 * function: the lock's holder may be waiting in the driver, and the driver
 * for it): when the lock is busy the message is copied to an outbox that
 * its holder sends on release. Messages so sent may follow others sent
 * later by other threads. */
int worker_send_nowait(struct worker *w, struct rgpu_hdr *h, const struct rgpu_wbuf *wb);
/* Release send_lock, sending the outbox first (every holder releases so). */
void worker_send_unlock(struct worker *w);

/* Make ctx current on the calling server thread (cached per thread). */
CUresult worker_set_ctx(struct worker *w, CUcontext ctx);
/* Once per server thread that calls the backend (worker_set_ctx does it). */
void worker_thread_init(const struct rgpu_backend *be);
/* A context was created, destroyed, released or reset (see worker.c). */
void worker_ctx_changed(void);

/* Decode, execute (or hand to a waiter) and answer one request: the
 * reader's job, or the relay's while the reader only reads (relay.h). args
 * is not kept; bulk is taken (from bufpool_get when bulk_pooled, else
 * malloc). */
void worker_handle_request(struct worker *w, const struct rgpu_hdr *h, uint8_t *args, uint8_t *bulk,
                           bool bulk_pooled);

/* Execute one decoded request; returns its CUresult. */
CUresult dispatch_exec(struct srv_call *c);
void *dispatch_outbuf(struct srv_call *c, uint64_t len);

/* Hand-written handlers of X_ASYNC and W_ rows (custom.c, modules.c). */
CUresult custom_exec(struct srv_call *c);
/* rgpu_link and rgpu_link_image (link.c) */
CUresult link_run(struct srv_call *c);
CUresult link_image(struct srv_call *c);
CUresult modules_load(struct srv_call *c);
CUresult modules_library_load(struct srv_call *c);
CUresult modules_func_info(struct srv_call *c);
CUresult modules_func_attrs(struct srv_call *c);
CUresult modules_kernel_attrs(struct srv_call *c);
CUresult modules_occupancy_clusters(struct srv_call *c);
CUresult modules_tensor_map_tiled(struct srv_call *c);
CUresult modules_launch(struct srv_call *c);
CUresult modules_launch_ex(struct srv_call *c);
/* A launch's packed parameters as the backend takes them: extra, the
 * launch's `extra` argument (NULL when there are none), points into the
 * struct. CUDA_ERROR_INVALID_VALUE when len bytes miss some of f's
 * parameters. */
struct launch_params {
    size_t size;
    void *array[5];
    void **extra;
};
CUresult modules_launch_params(struct srv_call *c, CUfunction f, const void *params, uint64_t len,
                               struct launch_params *lp);
/* The shm: host-memory pool's rows (hostpool.c). */
CUresult hostpool_exec(struct srv_call *c);
/* Registrations may have gone with a context: renew them before the next
 * pool copy. */
void hostpool_repin(void);
/* graphs.c */
CUresult graphs_exec(struct srv_call *c);
/* cuStreamBeginCaptureToGraph began on s: g is the client's, not the capture's (graphs.c) */
void graphs_capture_to(CUstream s, CUgraph g);
/* rgpu_managed_read and rgpu_managed_write (managed.c) */
CUresult managed_exec(struct srv_call *c);
/* A client host function as a backend host function (custom.c): call
 * custom_host_trampoline(the result). A kept one serves a graph node and is
 * never freed before the worker exits; NULL: out of memory. */
void *custom_host_call(struct worker *w, CUhostFn fn, void *userData, bool keep);
void custom_host_trampoline(void *hc);
/* The client's function and argument behind a kept host call; false if hc
 * is not one. */
bool custom_host_call_client(const void *hc, uint64_t *fn, uint64_t *user_data);
/* The device side of a host copy: device memory, or an array this worker
 * handed out (else INVALID_HANDLE; any other kind: INVALID_VALUE). */
CUresult custom_array_side(struct srv_call *c, CUmemorytype t, CUarray a);
/* A 2D copy on the backend; an array side at slice srcZ / dstZ of a 3D array
 * makes it a one-slice 3D copy. */
CUresult custom_copy2d(struct srv_call *c, const CUDA_MEMCPY2D *cp, uint32_t srcZ, uint32_t dstZ, CUstream s);
/* Does stream s capture (the backend says so)? */
bool custom_capturing(const struct rgpu_backend *be, CUstream s);
/* A module or library was unloaded: free the image kept for it. */
void modules_forget_image(const void *handle);

/* Execute an NVML row (nvml.c); returns its nvmlReturn_t. */
nvmlReturn_t nvml_exec(struct srv_call *c);

/* A large cuMemcpyHtoDAsync on the CPU device, read from rd straight into
 * device memory when its stream reaches it (htod_direct.c). 0: does not
 * apply, nothing consumed; 1: handled, payload consumed, *result is the
 * asynchronous error to latch (or CUDA_SUCCESS); -1: connection lost. */
struct rgpu_reader;
int htod_direct(struct worker *w, const struct rgpu_hdr *h, const uint8_t *args, struct rgpu_reader *rd,
                CUresult *result);

/* A cuMemcpyHtoDAsync request of at least min_len bytes whose payload is not
 * read yet, decoded into *a and checked as the ordinary path would (context,
 * stream, not capturing, no reply wanted); false: leave it to that path. */
bool htod_peek(struct worker *w, const struct rgpu_hdr *h, const uint8_t *args, uint64_t min_len,
               struct rgpu_args_cuMemcpyHtoDAsync_v2 *a);
/* A large cuMemcpyHtoDAsync on a backend whose memory is not this
 * process's: received into pinned staging chunk by chunk, each chunk's copy
 * queued as it arrives (htod_chunked.c). Same contract as htod_direct. */
int htod_chunked(struct worker *w, const struct rgpu_hdr *h, const uint8_t *args, struct rgpu_reader *rd,
                 CUresult *result);

/* A large cuMemcpyDtoHAsync on a backend whose memory is not this
 * process's: copied in chunks into pinned staging, each chunk sent as its
 * copy completes (dtoh_chunked.c). CUDA_ERROR_NOT_SUPPORTED: does not apply,
 * nothing queued; another failure: the caller tells the client. */
CUresult dtoh_chunked(struct srv_call *c, CUdeviceptr src, uint64_t n, CUstream s);

/* Run fn(arg) on a pool thread (blocking backend calls). */
void waiters_submit(void (*fn)(void *), void *arg);



/* Stream argument validation shared by generated and custom handlers. */
CUresult dispatch_check_stream(struct srv_call *c, CUstream *s);
CUresult dispatch_check_func(struct srv_call *c, CUfunction *f);
CUresult dispatch_check_kernel(struct srv_call *c, CUkernel *k);
/* h is NULL or a handle of that type given to this client. */
CUresult dispatch_check_handle(struct srv_call *c, int type, const void *h);
/* Every non-NULL entry of nodes[0..n) is a graph node given to this client. */
CUresult dispatch_check_nodes(struct srv_call *c, const CUgraphNode *nodes, uint64_t n);
void dispatch_register(struct srv_call *c, int type, const void *h);
void custom_callback_done(struct worker *w, uint64_t id);
void custom_connection_lost(struct worker *w);
#endif
