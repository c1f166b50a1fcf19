/*
 * conn.c — connection, handshake, request/reply matching, DATA landings and
 * host callbacks (see conn.h).
 */
#define _GNU_SOURCE
#include "conn.h"
#include "capture.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "context.h"
#include "mapped.h"
#include "net.h"
#include "session.h"
#include "rgpu_client.h"

struct pending {
    struct pending *next;
    uint32_t seq;
    bool done;
    CUresult result;
    const struct rgpu_call_desc *desc;
    void *args;
    struct iovec dst[RGPU_WBUF_MAX_IOV];
    int ndst;
    pthread_cond_t cond;
};

struct landing_entry {
    struct landing_entry *next;
    uint32_t seq;
    struct rgpu_landing land;
};

struct cb_item {
    struct cb_item *next;
    struct rgpu_callback cb;
};

static struct {
    pthread_once_t once;
    CUresult open_result;
    int fd;
    atomic_bool dead;
    pthread_mutex_t send_lock;
    pthread_mutex_t lock; /* pending, landings, callbacks */
    uint32_t next_seq;
    struct pending *pending;
    struct landing_entry *landings;
    struct cb_item *cb_head, **cb_tail;
    pthread_cond_t cb_cond;
    struct rgpu_welcome welcome;
    struct rgpu_dev_info *devs;
} C = {.once = PTHREAD_ONCE_INIT, .fd = -1, .send_lock = PTHREAD_MUTEX_INITIALIZER,
       .lock = PTHREAD_MUTEX_INITIALIZER, .cb_cond = PTHREAD_COND_INITIALIZER};

static _Thread_local uint32_t thread_id;
static atomic_uint next_thread_id = 1;

uint32_t rgpu_thread_id(void)
{
    if (!thread_id)
        thread_id = atomic_fetch_add(&next_thread_id, 1);
    return thread_id;
}

bool rgpu_conn_ready(void) { return C.open_result == CUDA_SUCCESS && C.devs; }
const struct rgpu_welcome *rgpu_conn_welcome(void) { return &C.welcome; }

const struct rgpu_dev_info *rgpu_conn_device(int ordinal)
{
    if (!rgpu_conn_ready() || ordinal < 0 || ordinal >= C.welcome.ndev)
        return NULL;
    return &C.devs[ordinal];
}

/* ---- connection loss ---- */
static void conn_lost(const char *why)
{
    if (atomic_exchange(&C.dead, true))
        return;
    rgpu_err("lost the connection to rgpud: %s; CUDA calls now fail with CUDA_ERROR_DEVICE_UNAVAILABLE", why);
    shutdown(C.fd, SHUT_RDWR);
    pthread_mutex_lock(&C.lock);
    for (struct pending *p = C.pending; p; p = p->next) {
        p->done = true;
        p->result = CUDA_ERROR_DEVICE_UNAVAILABLE;
        pthread_cond_signal(&p->cond);
    }
    C.pending = NULL;
    while (C.landings) {
        struct landing_entry *l = C.landings;
        C.landings = l->next;
        free(l);
    }
    pthread_cond_broadcast(&C.cb_cond);
    pthread_mutex_unlock(&C.lock);
}

/* ---- receiving ---- */
static int read_into(const struct iovec *dst, int ndst, uint64_t len)
{
    uint64_t cap = 0;
    for (int i = 0; i < ndst; i++)
        cap += dst[i].iov_len;
    if (len > cap)
        return -1;
    for (int i = 0; i < ndst && len; i++) {
        size_t k = dst[i].iov_len < len ? dst[i].iov_len : (size_t)len;
        if (rgpu_read_full(C.fd, dst[i].iov_base, k))
            return -1;
        len -= k;
    }
    return 0;
}

static int on_reply(const struct rgpu_hdr *h, uint8_t *args)
{
    pthread_mutex_lock(&C.lock);
    struct pending **pp = &C.pending, *p;
    while ((p = *pp) && p->seq != h->seq)
        pp = &p->next;
    if (p)
        *pp = p->next;
    pthread_mutex_unlock(&C.lock);
    if (!p)
        return -1;
    CUresult r = (CUresult)h->result;
    if (r == CUDA_SUCCESS) {
        struct rgpu_rbuf rb;
        rgpu_rbuf_init(&rb, args, h->args_len, NULL, 0);
        if (!p->desc->dec_rep(&rb, p->args) || read_into(p->dst, p->ndst, h->bulk_len))
            r = CUDA_ERROR_DEVICE_UNAVAILABLE, h = NULL;
    } else if (h->bulk_len) {
        h = NULL;
        r = CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    pthread_mutex_lock(&C.lock);
    p->result = r;
    p->done = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&C.lock);
    return h ? 0 : -1;
}

static int on_data(const struct rgpu_hdr *h)
{
    pthread_mutex_lock(&C.lock);
    struct landing_entry **pp = &C.landings, *l;
    while ((l = *pp) && l->seq != h->seq)
        pp = &l->next;
    if (l)
        *pp = l->next;
    pthread_mutex_unlock(&C.lock);
    if (!l)
        return -1;
    int rc = 0;
    struct rgpu_landing *d = &l->land;
    if (h->result == CUDA_SUCCESS) {
        /* The failure itself is latched by the server and reported by the
         * next synchronising call; a successful copy must be complete. */
        if (h->bulk_len != (uint64_t)d->width * d->height)
            rc = -1;
        for (size_t row = 0; rc == 0 && row < d->height; row++)
            rc = rgpu_read_full(C.fd, d->dst + row * d->pitch, d->width);
    } else if (h->bulk_len) {
        rc = -1;
    }
    free(l);
    return rc;
}

/* Device printf: to this process's stdout, in the order the device printed. */
static int on_print(const struct rgpu_hdr *h)
{
    char buf[4096];
    uint64_t left = h->bulk_len;
    if (h->args_len)
        return -1;
    fflush(stdout); /* keep the program's own buffered output in front of it */
    while (left) {
        size_t k = left > sizeof buf ? sizeof buf : (size_t)left;
        if (rgpu_read_full(C.fd, buf, k))
            return -1;
        for (size_t off = 0; off < k;) {
            ssize_t w = write(1, buf + off, k - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break; /* stdout closed: drop the text, keep the connection */
            off += (size_t)w;
        }
        left -= k;
    }
    return 0;
}

static void *receiver_main(void *unused)
{
    uint8_t *args = malloc(RGPU_MAX_ARGS_LEN);
    for (;;) {
        struct rgpu_hdr h;
        if (!args) {
            conn_lost("out of memory");
            break;
        }
        if (rgpu_read_full(C.fd, &h, sizeof h)) {
            conn_lost(errno ? strerror(errno) : "server closed the connection");
            break;
        }
        const char *bad = rgpu_hdr_invalid(&h);
        if (bad) {
            conn_lost(bad);
            break;
        }
        if (rgpu_read_full(C.fd, args, h.args_len)) {
            conn_lost("connection lost inside a frame");
            break;
        }
        int rc = -1;
        switch (h.type) {
        case RGPU_MSG_REPLY: rc = on_reply(&h, args); break;
        case RGPU_MSG_DATA: rc = on_data(&h); break;
        case RGPU_MSG_PRINT: rc = on_print(&h); break;
        case RGPU_MSG_CALLBACK:
            if (h.args_len == sizeof(struct rgpu_callback) && !h.bulk_len) {
                struct cb_item *it = malloc(sizeof *it);
                if (it) {
                    memcpy(&it->cb, args, sizeof it->cb);
                    it->next = NULL;
                    pthread_mutex_lock(&C.lock);
                    *C.cb_tail = it;
                    C.cb_tail = &it->next;
                    pthread_cond_signal(&C.cb_cond);
                    pthread_mutex_unlock(&C.lock);
                    rc = 0;
                }
            }
            break;
        default: break;
        }
        if (rc) {
            conn_lost("protocol error from server");
            break;
        }
    }
    free(args);
    return NULL;
}

/* Host functions run here, one at a time in the order the server reached
 * them; the stream that queued one waits for CALLBACK_DONE. */
static void *callback_main(void *unused)
{
    for (;;) {
        pthread_mutex_lock(&C.lock);
        while (!C.cb_head && !atomic_load(&C.dead))
            pthread_cond_wait(&C.cb_cond, &C.lock);
        struct cb_item *it = C.cb_head;
        if (!it) {
            pthread_mutex_unlock(&C.lock);
            return NULL;
        }
        C.cb_head = it->next;
        if (!C.cb_head)
            C.cb_tail = &C.cb_head;
        pthread_mutex_unlock(&C.lock);
        CUhostFn fn = (CUhostFn)(uintptr_t)it->cb.fn;
        fn((void *)(uintptr_t)it->cb.user_data);
        struct rgpu_hdr h = {.type = RGPU_MSG_CALLBACK_DONE};
        struct rgpu_wbuf wb;
        rgpu_wbuf_init(&wb);
        rgpu_wbuf_put(&wb, &it->cb, sizeof it->cb);
        pthread_mutex_lock(&C.send_lock);
        if (!atomic_load(&C.dead) && rgpu_send_msg(C.fd, &h, &wb))
            conn_lost(strerror(errno));
        pthread_mutex_unlock(&C.send_lock);
        free(it);
    }
}

/* ---- opening ---- */
static void open_once(void)
{
    rgpu_log_init("rgpu-client");
    C.cb_tail = &C.cb_head;
    C.open_result = CUDA_ERROR_NO_DEVICE;
    struct rgpu_session s;
    char err[512];
    int result;
    if (rgpu_session_open(&s, &result, err, sizeof err)) {
        rgpu_err("%s", err);
        C.open_result = (CUresult)result;
        return;
    }
    C.welcome = s.welcome;
    C.devs = s.devs;
    for (int i = 0; i < C.welcome.ndev; i++)
        rgpu_device_limit_features(&C.devs[i]);
    C.fd = s.fd;
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, receiver_main, NULL) || pthread_create(&t, &at, callback_main, NULL)) {
        rgpu_err("cannot start the client threads");
        pthread_attr_destroy(&at);
        return;
    }
    pthread_attr_destroy(&at);
    rgpu_info("connected to %s: backend %s, %d device(s), driver %d", s.server, C.welcome.backend, C.welcome.ndev,
              C.welcome.driver_version);
    C.open_result = CUDA_SUCCESS;
}

CUresult rgpu_conn_open(void)
{
    pthread_once(&C.once, open_once);
    return C.open_result;
}

/* ---- calling ---- */
static void trace(const struct rgpu_call_desc *d, void *args, CUresult r, int outs)
{
    static int enabled = -1;
    if (enabled < 0) {
        const char *t = getenv("RGPU_TRACE");
        enabled = t && *t && strcmp(t, "0") != 0;
    }
    if (!enabled)
        return;
    flockfile(stderr);
    fprintf(stderr, "rgpu[%d] %s(", (int)getpid(), d->name);
    d->trace(stderr, args, 0);
    if (outs < 0) {
        fprintf(stderr, ") sent\n");
    } else {
        fprintf(stderr, ") -> %d", (int)r);
        if (r == CUDA_SUCCESS && outs) {
            fprintf(stderr, " {");
            d->trace(stderr, args, 1);
            fprintf(stderr, "}");
        }
        fprintf(stderr, "\n");
    }
    funlockfile(stderr);
}

CUresult rgpu_remote_landing(enum rgpu_call_id id, void *args, const struct rgpu_landing *land)
{
    if (atomic_load_explicit(&rgpu_mapped_count, memory_order_relaxed))
        return rgpu_mapped_call(id, args, land);
    return rgpu_remote_direct(id, args, land);
}

CUresult rgpu_remote_direct(enum rgpu_call_id id, void *args, const struct rgpu_landing *land)
{
    if (!rgpu_conn_ready())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (atomic_load(&C.dead))
        return CUDA_ERROR_DEVICE_UNAVAILABLE;
    const struct rgpu_call_desc *d = &rgpu_calls[id];
    /* While a capture may be active, a copy that carries host memory waits
     * for its reply: on a capturing stream it fails (the bytes cannot be
     * replayed), and CUDA says so at call time. Other asynchronous calls
     * stay asynchronous (ggml captures hundreds of launches per graph); a
     * capture error they meet invalidates the capture, which
     * cuStreamEndCapture reports. */
    const bool reply = d->reply || (rgpu_capture_active() && (id == RGPU_ID_cuMemcpyHtoDAsync_v2 ||
                                                              id == RGPU_ID_cuMemcpyDtoHAsync_v2 ||
                                                              id == RGPU_ID_rgpu_memcpy2d));
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    d->enc_req(&wb, args);
    if (wb.failed) {
        rgpu_wbuf_free(&wb);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    struct rgpu_hdr h = {.type = RGPU_MSG_REQUEST, .call = (uint16_t)id, .flags = reply ? 0 : RGPU_F_NO_REPLY,
                         .tid = rgpu_thread_id(), .ctx = (uint64_t)(uintptr_t)rgpu_ctx_current()};
    struct pending p = {.desc = d, .args = args};
    struct landing_entry *le = NULL;
    if (land && !(le = malloc(sizeof *le))) {
        rgpu_wbuf_free(&wb);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (reply) {
        pthread_cond_init(&p.cond, NULL);
        p.ndst = d->rep_dests(args, p.dst, RGPU_WBUF_MAX_IOV);
    }

    pthread_mutex_lock(&C.send_lock);
    h.seq = p.seq = ++C.next_seq;
    if (reply || le) {
        pthread_mutex_lock(&C.lock);
        if (atomic_load(&C.dead)) { /* conn_lost already released the waiters */
            pthread_mutex_unlock(&C.lock);
            pthread_mutex_unlock(&C.send_lock);
            rgpu_wbuf_free(&wb);
            free(le);
            if (reply)
                pthread_cond_destroy(&p.cond);
            return CUDA_ERROR_DEVICE_UNAVAILABLE;
        }
        if (reply) {
            p.next = C.pending;
            C.pending = &p;
        }
        if (le) {
            *le = (struct landing_entry){C.landings, h.seq, *land};
            C.landings = le;
        }
        pthread_mutex_unlock(&C.lock);
    }
    int rc = atomic_load(&C.dead) ? -1 : rgpu_send_msg(C.fd, &h, &wb);
    pthread_mutex_unlock(&C.send_lock);
    rgpu_wbuf_free(&wb);
    if (rc)
        conn_lost(errno ? strerror(errno) : "connection closed");

    if (!reply) {
        trace(d, args, CUDA_SUCCESS, -1);
        return rc ? CUDA_ERROR_DEVICE_UNAVAILABLE : CUDA_SUCCESS;
    }
    pthread_mutex_lock(&C.lock);
    while (!p.done)
        pthread_cond_wait(&p.cond, &C.lock);
    pthread_mutex_unlock(&C.lock);
    pthread_cond_destroy(&p.cond);
    trace(d, args, p.result, 1);
    return p.result;
}

CUresult rgpu_remote(enum rgpu_call_id id, void *args) { return rgpu_remote_landing(id, args, NULL); }

RGPU_API int rgpu_client_info(struct rgpu_client_info *info)
{
    if (!rgpu_conn_ready() || !info)
        return -1;
    snprintf(info->server, sizeof info->server, "%s", rgpu_server_address());
    snprintf(info->backend, sizeof info->backend, "%s", C.welcome.backend);
    info->worker_pid = C.welcome.worker_pid;
    info->driver_version = C.welcome.driver_version;
    info->ndev = C.welcome.ndev;
    return 0;
}
