/*
 * conn.c — connection, handshake, request/reply matching, DATA landings and
 * host callbacks (see conn.h).
 */
#define _GNU_SOURCE
#include "conn.h"
#include "streamidle.h"
#include "asyncargs.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "mapped.h"
#include "net.h"
#include "session.h"
#include "shm.h"
#include "reader.h"
#include "rgpu_client.h"

struct pending {
    struct pending *next;
    uint32_t seq;
    atomic_bool done; /* also read without the lock by the reader role's holder */
    bool waiting; /* asleep on cond until its reply or the reader role is free */
    bool own_done; /* the waiter read its own reply: still queued, result in own_result */
    CUresult result, own_result;
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

/* Coalescing: no-reply requests up to COALESCE_MSG bytes (header included)
 * are framed into the send buffer instead of being sent one system call
 * each; the buffer goes out in front of the next message that is sent
 * directly (a request that waits for its reply, large bulk, CALLBACK_DONE),
 * when it reaches FLUSH_AT bytes, or FLUSH_DELAY_NS (twice that if a sender
 * held the lock just then) after a message went into the empty buffer, so
 * work is never left unsent while the application waits without calling
 * CUDA (a host function, a flag in memory). */
#define COALESCE_MSG (8u * 1024u)
#define FLUSH_AT (32u * 1024u)
#define SBUF_CAP (FLUSH_AT + COALESCE_MSG)
#define FLUSH_DELAY_NS 50000L
/* How long the receiver thread leaves the socket to a caller that holds the
 * reader role before it looks again (see receiver_main). */
#define PARK_NS 1000000L

static struct {
    pthread_once_t once;
    CUresult open_result;
    int fd;
    atomic_bool dead;
    pthread_mutex_t send_lock; /* the one ordered send path: sbuf and every write */
    uint8_t *sbuf;
    size_t slen;
    bool kicked; /* since the last request that waits for a reply, a no-reply one went out at once */
    /* The flusher waits on a lock of its own and takes send_lock only by
     * trylock, so a sender never waits for it. flush_wanted: a message went
     * into an empty buffer since the flusher last looked (set under
     * flush_mu, so that the flusher cannot miss it on its way to sleep). */
    pthread_mutex_t flush_mu;
    pthread_cond_t flush_cond;
    bool flush_wanted;
    pthread_mutex_t lock; /* pending, landings, callbacks, the reader role */
    /* A thread holds the reader role: only it reads the socket. Taken by a
     * compare-and-swap (a lone caller takes it without C.lock), given back
     * under C.lock (release_role), so a thread that saw it taken under the
     * lock and sleeps is always woken. */
    atomic_bool reading;
    bool rx_parked;
    pthread_cond_t rx_cond;
    int hostfn_outstanding; /* host functions sent whose CALLBACK has not arrived */
    struct rgpu_reader rd;  /* used by the reader role's holder only */
    uint8_t *rx_args;
    pid_t pid; /* the process that opened the connection */
    uint32_t next_seq;
    uint32_t round_trips; /* requests sent that wait for a reply (rgpu_client_info) */
    struct pending *pending;
    struct landing_entry *landings;
    struct cb_item *cb_head, **cb_tail;
    pthread_cond_t cb_cond;
    struct rgpu_welcome welcome;
    struct rgpu_dev_info *devs;
} C = {.once = PTHREAD_ONCE_INIT, .fd = -1, .send_lock = PTHREAD_MUTEX_INITIALIZER,
       .flush_mu = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER, .cb_cond = PTHREAD_COND_INITIALIZER,
       /* flush_cond and rx_cond: CLOCK_MONOTONIC, set up by open_once */};

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
void *rgpu_conn_hostpool(size_t *size) { return rgpu_shm_pool(C.fd, size); }
bool rgpu_conn_hostpool_shared_address(void) { return rgpu_shm_pool_shared_address(C.fd); }

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
    pthread_cond_broadcast(&C.rx_cond);
    pthread_mutex_unlock(&C.lock);
    pthread_mutex_lock(&C.flush_mu);
    pthread_cond_broadcast(&C.flush_cond);
    pthread_mutex_unlock(&C.flush_mu);
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
        if (rgpu_reader_read(&C.rd, dst[i].iov_base, k))
            return -1;
        len -= k;
    }
    return 0;
}

/* The calling thread's reply slot (see rgpu_remote_direct): a thread waits
 * for one reply at a time, so its slot and condition variable are set up
 * once, not per call. */
static _Thread_local struct pending self;
static _Thread_local bool self_ready, self_busy;

static int decode_reply(struct pending *p, const struct rgpu_hdr *h, uint8_t *args, CUresult *out)
{
    CUresult r = (CUresult)h->result;
    int rc = 0;
    if (r == CUDA_SUCCESS) {
        struct rgpu_rbuf rb;
        rgpu_rbuf_init(&rb, args, h->args_len, NULL, 0);
        if (!p->desc->dec_rep(&rb, p->args) || read_into(p->dst, p->ndst, h->bulk_len))
            r = CUDA_ERROR_DEVICE_UNAVAILABLE, rc = -1;
    } else if (h->bulk_len) {
        r = CUDA_ERROR_DEVICE_UNAVAILABLE, rc = -1;
    }
    *out = r;
    return rc;
}

static int on_reply(const struct rgpu_hdr *h, uint8_t *args)
{
    /* The reader's own reply (the common case: one call outstanding, its
     * caller reads): no lookup and no hand-off. The slot stays queued until
     * the caller gives the reader role back, in the same locked section;
     * only this thread looks at own_*. */
    if (self_busy && self.seq == h->seq && !self.own_done) {
        int rc = decode_reply(&self, h, args, &self.own_result);
        self.own_done = true;
        return rc;
    }
    pthread_mutex_lock(&C.lock);
    struct pending **pp = &C.pending, *p;
    while ((p = *pp) && p->seq != h->seq)
        pp = &p->next;
    if (p)
        *pp = p->next;
    pthread_mutex_unlock(&C.lock);
    if (!p)
        return -1;
    CUresult r;
    int rc = decode_reply(p, h, args, &r);
    pthread_mutex_lock(&C.lock);
    p->result = r;
    p->done = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&C.lock);
    return rc;
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
            rc = rgpu_reader_read(&C.rd, d->dst + row * d->pitch, d->width);
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
        if (rgpu_reader_read(&C.rd, buf, k))
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

/* Read and route one message; only the reader role's holder calls this.
 * 0, or -1 after the connection was declared lost. */
static int read_one(void)
{
    struct rgpu_hdr h;
    if (rgpu_reader_read(&C.rd, &h, sizeof h)) {
        conn_lost(errno ? strerror(errno) : "server closed the connection");
        return -1;
    }
    const char *bad = rgpu_hdr_invalid(&h);
    if (bad) {
        conn_lost(bad);
        return -1;
    }
    /* in place only when the bulk is buffered too: reading it could refill
     * the buffer under the arguments */
    size_t have = rgpu_reader_buffered(&C.rd);
    uint8_t *args = have >= h.args_len && have - h.args_len >= h.bulk_len
                        ? (uint8_t *)rgpu_reader_take(&C.rd, h.args_len)
                        : NULL;
    if (!args && rgpu_reader_read(&C.rd, args = C.rx_args, h.args_len)) {
        conn_lost("connection lost inside a frame");
        return -1;
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
                if (C.hostfn_outstanding > 0)
                    C.hostfn_outstanding--;
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
        return -1;
    }
    return 0;
}

/* Leader/follower: whichever thread holds the reader role reads the socket
 * and routes what arrives; a caller waiting for its reply takes the role
 * when it is free, so in the common case (one call outstanding) the thread
 * that sent a request reads its own reply, with no hand-off to another
 * thread. The role is given up only with nothing left in the read buffer
 * (the receiver thread watches the socket, not the buffer). Called and
 * returns with C.lock held. */
static void release_role(void)
{
    atomic_store(&C.reading, false);
    for (struct pending *p = C.pending; p; p = p->next)
        if (p->waiting && !p->done) {
            pthread_cond_signal(&p->cond); /* the next reader: a waiting caller */
            return;
        }
    /* Nobody waits for a reply: the receiver thread watches the socket
     * again. Wake it now only if something is expected without a request
     * to read it (host functions, device->host data); otherwise its park
     * times out on its own. */
    if (C.rx_parked && (C.hostfn_outstanding > 0 || C.landings))
        pthread_cond_signal(&C.rx_cond);
}

/* Remove p from the pending list if it is still there. C.lock held. */
static void unqueue(struct pending *p)
{
    struct pending **pp = &C.pending;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
}

static bool take_role(void)
{
    bool held = false;
    return atomic_compare_exchange_strong(&C.reading, &held, true);
}

/* With the reader role: read until p's reply is in, then give the role
 * back. Returns with C.lock held. */
static void read_for(struct pending *p)
{
    int rc = 0;
    /* not do-while: another reader may have delivered p just before the
     * role was free */
    while (rc == 0 && !p->own_done && !atomic_load(&p->done))
        rc = read_one();
    while (rc == 0 && rgpu_reader_buffered(&C.rd))
        rc = read_one();
    pthread_mutex_lock(&C.lock);
    if (p->own_done) {
        /* read by this thread (on_reply): leave the queue now, in the
         * section that gives the role back; a reply read in full is
         * delivered even if the connection died just after it */
        if (!p->done)
            unqueue(p);
        p->result = p->own_result;
        p->done = true;
    }
    release_role();
    if (rc && !p->done) {
        /* the connection died after p was queued but before conn_lost
         * ran for it (it releases only what it finds queued) */
        unqueue(p);
        p->result = CUDA_ERROR_DEVICE_UNAVAILABLE;
        p->done = true;
    }
}

/* Wait for p's reply, reading the socket while nobody else does. A lone
 * caller finds the role free and takes it without locking. */
static void await_reply(struct pending *p)
{
    if (!atomic_load(&p->done) && take_role())
        read_for(p);
    else
        pthread_mutex_lock(&C.lock);
    while (!p->done) {
        if (atomic_load(&C.reading)) {
            p->waiting = true;
            pthread_cond_wait(&p->cond, &C.lock);
            p->waiting = false;
            continue;
        }
        if (!take_role())
            continue; /* taken without the lock meanwhile: look again */
        pthread_mutex_unlock(&C.lock);
        read_for(p);
    }
    pthread_mutex_unlock(&C.lock);
}

/* Reads what arrives while no caller holds the reader role: host function
 * requests, device->host data, device printf text. It waits for the socket
 * to become readable without reading, so a caller can take the role at any
 * time; when it finds the role taken it parks (the holder routes everything
 * meanwhile) and looks again after PARK_NS or when woken. */
static void *receiver_main(void *unused)
{
    pthread_mutex_lock(&C.lock);
    while (!atomic_load(&C.dead)) {
        if (atomic_load(&C.reading)) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += PARK_NS;
            if (ts.tv_nsec >= 1000000000L)
                ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            C.rx_parked = true;
            pthread_cond_timedwait(&C.rx_cond, &C.lock, &ts);
            C.rx_parked = false;
            continue;
        }
        pthread_mutex_unlock(&C.lock);
        int n = rgpu_poll_in(C.fd, -1);
        pthread_mutex_lock(&C.lock);
        if (n < 0 && errno != EINTR) {
            pthread_mutex_unlock(&C.lock);
            conn_lost(strerror(errno));
            return NULL;
        }
        if (n <= 0 || !take_role())
            continue; /* a caller took the role while we waited: it reads */
        pthread_mutex_unlock(&C.lock);
        /* A caller may have taken the role, read what woke us and given the
         * role back before we looked: then do not block in read() holding
         * the role (the next caller would have to be handed its reply). */
        int rc = 0;
        if (rgpu_poll_in(C.fd, 0) <= 0) {
            pthread_mutex_lock(&C.lock);
            release_role();
            continue;
        }
        do
            rc = read_one();
        while (rc == 0 && rgpu_reader_buffered(&C.rd));
        pthread_mutex_lock(&C.lock);
        release_role();
        if (rc)
            break;
    }
    pthread_mutex_unlock(&C.lock);
    return NULL;
}

/* ---- sending ---- */
/* Write the coalesced batch, then h/wb (if h), in one writev; send_lock held.
 * 0, or -1 after the connection was declared lost. */
static int send_locked(struct rgpu_hdr *h, const struct rgpu_wbuf *wb)
{
    if (atomic_load(&C.dead))
        return -1;
    int rc;
    if (h) {
        rc = rgpu_send_msg_after(C.fd, C.sbuf, C.slen, h, wb);
    } else {
        struct iovec iov = {C.sbuf, C.slen};
        rc = C.slen ? rgpu_writev_full(C.fd, &iov, 1) : 0;
    }
    C.slen = 0;
    if (rc) { /* lock order: send_lock, then C.lock (conn_lost) */
        conn_lost(errno ? strerror(errno) : "connection closed");
        return -1;
    }
    return 0;
}

/* Frame a no-reply message into the send buffer if it is small; false when
 * it must be sent directly (a request that waits for its reply always).
 * send_lock held. Over shm, while rgpud's reader spins for bytes, a message written at once costs no system call and
 * wakes nobody: batching would save nothing there, and the batch's flusher,
 * waking every 50 us on the application's CPU, delayed one call in ten by
 * microseconds in loops of small copies and synchronisations. And the first
 * no-reply message after a request that waited for its reply goes at once:
 * rgpud (and the GPU) start on it while the application issues the rest,
 * and rgpud's wake-up, the longest part of a round trip across a VM's CPUs,
 * overlaps with that instead of following it: a copy or memset and its
 * synchronisation over a unix socket 60-74 -> 43-46 us, a null call's time
 * (docs/PERFORMANCE.md). One system call more per batch. */
static bool coalesce_locked(struct rgpu_hdr *h, const struct rgpu_wbuf *wb)
{
    size_t n = sizeof *h + wb->len + wb->bulk_len;
    struct rgpu_shm *shm;
    /* a request that waits goes at once (with the batch before it), whether
     * its row always waits or only this time (asyncargs.c): held back, it
     * would wait for the flusher too (a refused memset after a queued one
     * over unix: 136-144 us, a round trip is ~50) */
    if (!(h->flags & RGPU_F_NO_REPLY) || !C.sbuf || n > COALESCE_MSG || C.slen + n > SBUF_CAP ||
        ((shm = rgpu_shm_of(C.fd)) && rgpu_shm_peer_reading(shm)))
        return false;
    if (!C.slen && !C.kicked) {
        C.kicked = true;
        return false;
    }
    h->magic = RGPU_MAGIC;
    h->args_len = (uint32_t)wb->len;
    h->bulk_len = wb->bulk_len;
    uint8_t *d = C.sbuf + C.slen;
    memcpy(d, h, sizeof *h);
    d += sizeof *h;
    memcpy(d, wb->data, wb->len); /* the bytes of pageable sources are taken now, as CUDA promises */
    d += wb->len;
    for (int i = 0; i < wb->nbulk; i++) {
        memcpy(d, wb->bulk[i].iov_base, wb->bulk[i].iov_len);
        d += wb->bulk[i].iov_len;
    }
    bool was_empty = C.slen == 0;
    C.slen += n;
    if (C.slen >= FLUSH_AT)
        send_locked(NULL, NULL);
    else if (was_empty) {
        pthread_mutex_lock(&C.flush_mu);
        C.flush_wanted = true;
        pthread_cond_signal(&C.flush_cond); /* no system call unless the flusher sleeps */
        pthread_mutex_unlock(&C.flush_mu);
    }
    return true;
}

/* Sends a non-empty batch FLUSH_DELAY_NS after a message went into the
 * empty buffer: the bound on how long asynchronous work may wait in the
 * client. Woken by that message; goes on looking every FLUSH_DELAY_NS while
 * messages keep coming, and back to sleep after a delay that found nothing.
 * A sender holding send_lock is looked at again one delay later rather than
 * waited for: it is active, and its next direct message or FLUSH_AT sends
 * the batch anyway (waiting here made every launch in flight contend with
 * this thread). */
static void *flusher_main(void *unused)
{
    for (;;) {
        pthread_mutex_lock(&C.flush_mu);
        while (!C.flush_wanted && !atomic_load(&C.dead))
            pthread_cond_wait(&C.flush_cond, &C.flush_mu);
        C.flush_wanted = false;
        pthread_mutex_unlock(&C.flush_mu);
        for (;;) {
            struct timespec ts = {0, FLUSH_DELAY_NS};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
            if (atomic_load(&C.dead))
                return NULL;
            if (pthread_mutex_trylock(&C.send_lock) != 0)
                continue;
            bool found = C.slen != 0;
            if (found)
                send_locked(NULL, NULL);
            pthread_mutex_unlock(&C.send_lock);
            if (!found)
                break;
        }
    }
}

/* At exit, what the application queued without synchronising still reaches
 * the server. A thread that holds the send lock forever (killed inside a
 * call) must not hang the exit: give up after a second. */
static void flush_at_exit(void)
{
    if (getpid() != C.pid)
        return; /* a forked child must not send its parent's queued work again */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    if (pthread_mutex_timedlock(&C.send_lock, &ts) != 0)
        return;
    send_locked(NULL, NULL);
    pthread_mutex_unlock(&C.send_lock);
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
        send_locked(&h, &wb);
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
    if (rgpu_session_open(&s, RGPU_SESSION_CUDA, &result, err, sizeof err)) {
        rgpu_err("%s", err);
        C.open_result = (CUresult)result;
        return;
    }
    C.welcome = s.welcome;
    C.devs = s.devs;
    for (int i = 0; i < C.welcome.ndev; i++)
        rgpu_device_limit_features(&C.devs[i]);
    C.fd = s.fd;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&C.flush_cond, &ca);
    pthread_cond_init(&C.rx_cond, &ca);
    pthread_condattr_destroy(&ca);
    /* no send buffer: every message is sent at once, as before coalescing */
    C.sbuf = malloc(SBUF_CAP);
    C.rx_args = malloc(RGPU_MAX_ARGS_LEN);
    if (!C.rx_args || rgpu_reader_init(&C.rd, C.fd, RGPU_READER_CAP)) {
        rgpu_err("out of memory for the connection's buffers");
        return;
    }
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, receiver_main, NULL) || pthread_create(&t, &at, callback_main, NULL) ||
        (C.sbuf && pthread_create(&t, &at, flusher_main, NULL))) {
        rgpu_err("cannot start the client threads");
        pthread_attr_destroy(&at);
        return;
    }
    pthread_attr_destroy(&at);
    C.pid = getpid();
    atexit(flush_at_exit);
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
static int trace_enabled = -1; /* RGPU_TRACE, read at the first call */

static void trace_call(const struct rgpu_call_desc *d, void *args, CUresult r, int outs)
{
    if (trace_enabled < 0) {
        const char *t = getenv("RGPU_TRACE");
        trace_enabled = t && *t && strcmp(t, "0") != 0;
    }
    if (!trace_enabled)
        return;
    flockfile(stderr);
    fprintf(stderr, "rgpu[%d] %s(", (int)getpid(), d->name);
    d->trace(stderr, args, 0);
    if (outs == -2) {
        fprintf(stderr, ") -> %d (answered locally)\n", (int)r);
    } else if (outs < 0) {
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

/* inline: the common answer (no tracing) costs one load, not a call */
static inline void trace(const struct rgpu_call_desc *d, void *args, CUresult r, int outs)
{
    if (__builtin_expect(trace_enabled != 0, 0))
        trace_call(d, args, r, outs);
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
    /* an asynchronous call whose arguments the client cannot vouch for
     * waits, so that their errors come at call time (asyncargs.c) */
    const bool reply = d->reply || rgpu_async_waits(id, args);
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    d->enc_req(&wb, args);
    if (wb.failed) {
        rgpu_wbuf_free(&wb);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    struct rgpu_hdr h = {.type = RGPU_MSG_REQUEST, .call = (uint16_t)id, .flags = reply ? 0 : RGPU_F_NO_REPLY,
                         .tid = rgpu_thread_id(), .ctx = (uint64_t)(uintptr_t)rgpu_ctx_current()};
    struct landing_entry *le = NULL;
    if (land && !(le = malloc(sizeof *le))) {
        rgpu_wbuf_free(&wb);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    /* The thread's own slot; a nested call (none is known, but the mapped
     * memory hooks sit in this path) gets a fresh one on the stack. */
    struct pending stack_p, *pp = NULL;
    bool own = false;
    if (reply) {
        own = !self_busy;
        pp = own ? &self : &stack_p;
        if (!own || !self_ready) {
            pthread_cond_init(&pp->cond, NULL);
            self_ready |= own;
        }
        if (own)
            self_busy = true;
        pp->next = NULL;
        pp->done = false;
        pp->waiting = false;
        pp->own_done = false;
        pp->result = pp->own_result = CUDA_SUCCESS;
        pp->desc = d;
        pp->args = args;
        pp->ndst = d->rep_dests(args, pp->dst, RGPU_WBUF_MAX_IOV);
    }

    pthread_mutex_lock(&C.send_lock);
    h.seq = ++C.next_seq;
    C.round_trips += reply;
    rgpu_streamidle_sent(id, args);
    if (pp)
        pp->seq = h.seq;
    if (reply || le) {
        pthread_mutex_lock(&C.lock);
        if (atomic_load(&C.dead)) { /* conn_lost already released the waiters */
            pthread_mutex_unlock(&C.lock);
            pthread_mutex_unlock(&C.send_lock);
            rgpu_wbuf_free(&wb);
            free(le);
            if (pp && !own)
                pthread_cond_destroy(&pp->cond);
            self_busy &= !own;
            return CUDA_ERROR_DEVICE_UNAVAILABLE;
        }
        if (reply) {
            pp->next = C.pending;
            C.pending = pp;
        }
        if (le) {
            *le = (struct landing_entry){C.landings, h.seq, *land};
            C.landings = le;
        }
        pthread_mutex_unlock(&C.lock);
    }
    if (id == RGPU_ID_cuLaunchHostFunc) {
        pthread_mutex_lock(&C.lock);
        C.hostfn_outstanding++;
        pthread_mutex_unlock(&C.lock);
    }
    int rc = 0;
    if (reply)
        C.kicked = false;
    if (!coalesce_locked(&h, &wb))
        rc = send_locked(&h, &wb);
    pthread_mutex_unlock(&C.send_lock);
    rgpu_wbuf_free(&wb);

    if (!reply) {
        trace(d, args, CUDA_SUCCESS, -1);
        return rc ? CUDA_ERROR_DEVICE_UNAVAILABLE : CUDA_SUCCESS;
    }
    await_reply(pp);
    CUresult r = pp->result;
    if (r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_READY)
        rgpu_streamidle_failed();
    if (own)
        self_busy = false;
    else
        pthread_cond_destroy(&pp->cond);
    trace(d, args, r, 1);
    return r;
}

CUresult rgpu_remote(enum rgpu_call_id id, void *args) { return rgpu_remote_landing(id, args, NULL); }

void rgpu_send_lock(void) { pthread_mutex_lock(&C.send_lock); }
void rgpu_send_unlock(void) { pthread_mutex_unlock(&C.send_lock); }
bool rgpu_conn_alive(void) { return rgpu_conn_ready() && !atomic_load(&C.dead); }
void rgpu_trace_local(enum rgpu_call_id id, void *args, CUresult r)
{
    if (__builtin_expect(trace_enabled != 0, 0))
        trace_call(&rgpu_calls[id], args, r, -2);
}

RGPU_API int rgpu_client_info(struct rgpu_client_info *info)
{
    if (!rgpu_conn_ready() || !info)
        return -1;
    snprintf(info->server, sizeof info->server, "%s", rgpu_server_address());
    snprintf(info->backend, sizeof info->backend, "%s", C.welcome.backend);
    info->worker_pid = C.welcome.worker_pid;
    info->driver_version = C.welcome.driver_version;
    info->ndev = C.welcome.ndev;
    pthread_mutex_lock(&C.send_lock);
    info->requests = C.next_seq;
    info->round_trips = C.round_trips;
    pthread_mutex_unlock(&C.send_lock);
    return 0;
}
