/*
 * shm.c — shared-memory rings over a memfd (see shm.h).
 */
#define _GNU_SOURCE
#include "shm.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ThreadSanitizer sees a socket's write -> read as an ordering (it models
 * the fd), but not the rings': what one of our threads sent and another
 * then received in answer is ordered through the peer process, which it
 * cannot see. The same annotation as for a socket: sending releases the
 * connection, receiving acquires it. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_RELEASE(p) __tsan_release(p)
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define TSAN_RELEASE(p) ((void)(p))
#define TSAN_ACQUIRE(p) ((void)(p))
#endif

/* The client's request is a frame header no plain server accepts (type 0),
 * so a shm: client at a unix: server is turned away at once instead of both
 * waiting for the other; ctx says what it asks for. */
#define SHM_REQUEST 0x314d485355504752ull /* "RGPUSHM1" */
#define SHM_OFFER 0x324d485355504752ull   /* "RGPUSHM2": the server's answer, with the memfd */
#define DEFAULT_RING (4u << 20)
#define MIN_RING (64u << 10)
#define MAX_RING (1u << 30)
#define HDR_SIZE 4096u
/* The host-memory pool: address space only until pages are touched. */
#define DEFAULT_POOL_MIB 8192ull
#define MAX_POOL_MIB (1ull << 20)
/* A sleeping side looks at the socket this often: the bound on noticing a
 * dead peer (futexes are not woken by a process's death). */
#define LIVENESS_MS 20
/* Publish at most this much at a time, so the consumer copies out while
 * the producer copies in. */
#define CHUNK (256u << 10)

/* One ring's indices, in shared memory. Positions run freely modulo 2^32;
 * tail - head is the number of unread bytes. Each word has its own cache
 * line: the two sides write different ones. */
struct ring_ctl {
    _Alignas(64) _Atomic uint32_t head; /* consumer's position; the producer sleeps on it */
    _Alignas(64) _Atomic uint32_t tail; /* producer's position; the consumer sleeps on it */
    _Alignas(64) _Atomic uint32_t rd_sleep; /* the consumer waits on tail: wake it */
    _Alignas(64) _Atomic uint32_t wr_sleep; /* the producer waits on head: wake it */
};

/* The first page: ring 0 carries client->server, ring 1 server->client;
 * their data follow the page. */
struct shm_hdr {
    struct ring_ctl ring[2];
};
_Static_assert(sizeof(struct shm_hdr) <= HDR_SIZE, "ring control page");

struct offer {
    uint64_t magic;
    uint64_t ring_size;
    int64_t cpu;        /* the server's only CPU, or -1 (see spin_us) */
    uint64_t pool_size; /* bytes of the host-memory pool's memfd (0: none, one fd) */
    uint64_t pool_addr; /* where the server mapped it: the client maps it there too if it can */
};

struct ring {
    struct ring_ctl *c;
    uint8_t *data;
    uint32_t size;
    /* our own position, never read back from shared memory; atomic because
     * the client's receiver thread polls while the reader role's holder
     * reads */
    _Atomic uint32_t pos;
    /* Producer only: the consumer's position when we last looked. Looking
     * only when a write may not fit keeps the head's cache line with the
     * consumer, so neither side pays a cross-core transfer for it per
     * message (writers are serialised by their callers' send locks). */
    uint32_t head_seen;
};

struct rgpu_shm {
    int fd;
    void *base;
    size_t len;
    struct ring tx, rx;
    int spin_us;
    /* When we last had to wake the peer (CLOCK_MONOTONIC ns, 0: never); see
     * wait_word. Written by whichever of our threads kicked. */
    _Atomic int64_t woke_ns;
    void *pool; /* the host-memory pool (shm.h), or NULL */
    size_t pool_len;
    uint64_t pool_peer; /* the server's address of it (client side) */
};

/* ---- which fds have rings ---- */
#define MAX_ATTACHED 8
static struct rgpu_shm *_Atomic attached[MAX_ATTACHED];
static atomic_int nattached;

struct rgpu_shm *rgpu_shm_of(int fd)
{
    if (!atomic_load_explicit(&nattached, memory_order_acquire))
        return NULL;
    for (int i = 0; i < MAX_ATTACHED; i++) {
        struct rgpu_shm *s = atomic_load_explicit(&attached[i], memory_order_acquire);
        if (s && s->fd == fd)
            return s;
    }
    return NULL;
}

static int attach(struct rgpu_shm *s)
{
    rgpu_shm_detach(s->fd); /* rings of an fd number closed without rgpu_close */
    for (int i = 0; i < MAX_ATTACHED; i++) {
        struct rgpu_shm *none = NULL;
        if (atomic_compare_exchange_strong(&attached[i], &none, s)) {
            atomic_fetch_add(&nattached, 1);
            return 0;
        }
    }
    return -1;
}

static void shm_free(struct rgpu_shm *s)
{
    munmap(s->base, s->len);
    if (s->pool)
        munmap(s->pool, s->pool_len);
    free(s);
}

void rgpu_shm_detach(int fd)
{
    for (int i = 0; i < MAX_ATTACHED; i++) {
        struct rgpu_shm *s = atomic_load(&attached[i]);
        if (s && s->fd == fd && atomic_compare_exchange_strong(&attached[i], &s, NULL)) {
            atomic_fetch_sub(&nattached, 1);
            shm_free(s);
        }
    }
}

void *rgpu_shm_pool(int fd, size_t *size)
{
    struct rgpu_shm *s = rgpu_shm_of(fd);
    *size = s && s->pool ? s->pool_len : 0;
    return s ? s->pool : NULL;
}

bool rgpu_shm_pool_shared_address(int fd)
{
    struct rgpu_shm *s = rgpu_shm_of(fd);
    return s && s->pool && (uint64_t)(uintptr_t)s->pool == s->pool_peer;
}

size_t rgpu_shm_pool_size(void)
{
    const char *e = getenv("RGPU_SHM_POOL_MIB");
    char *end;
    unsigned long long mib = e && *e ? strtoull(e, &end, 10) : DEFAULT_POOL_MIB;
    if (e && *e && *end)
        mib = DEFAULT_POOL_MIB;
    if (mib > MAX_POOL_MIB)
        mib = MAX_POOL_MIB;
    return (size_t)mib << 20;
}

/* The pool is mapped where both sides may write and nothing is reserved:
 * pages exist once touched. The client asks for the server's address, so
 * that page-locked memory has one address in both processes (and so on the
 * device: unified addressing); elsewhere if that is taken. */
static void *map_pool(int memfd, size_t len, void *want)
{
    void *p = MAP_FAILED;
#if defined(__SANITIZE_THREAD__)
    want = NULL; /* its layout claims the server's range (pool_slot) */
#endif
    if (want) {
        p = mmap(want, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE, memfd, 0);
        if (p != MAP_FAILED && p != want) { /* a kernel without MAP_FIXED_NOREPLACE took it as a hint */
            munmap(p, len);
            p = MAP_FAILED;
        }
    }
    if (p == MAP_FAILED)
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, memfd, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Where the worker asks to map the pool: a random slot of [64 TiB, 80 TiB),
 * where neither a process's own mappings (near its executable and near the
 * top of the address space) nor the CPU device's range (32 TiB) lie, so the
 * client is likely to find the same address free (and two connections of
 * one client unlikely to want the same one). NULL (anywhere) under
 * ThreadSanitizer, whose layout claims such ranges. */
static void *pool_slot(size_t len)
{
#if defined(__SANITIZE_THREAD__)
    (void)len;
    return NULL;
#else
    const uint64_t lo = 64ull << 40, span = 16ull << 40;
    uint64_t step = ((uint64_t)len + (1ull << 30) - 1) & ~((1ull << 30) - 1); /* GiB-aligned slots */
    if (!step || step >= span)
        return NULL;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() * 0xbf58476d1ce4e5b9ull;
    return (void *)(uintptr_t)(lo + (r % (span / step)) * step);
#endif
}

size_t rgpu_shm_ring_size(void)
{
    const char *e = getenv("RGPU_SHM_RING");
    unsigned long v = e ? strtoul(e, NULL, 0) : 0;
    if (v < MIN_RING || v > MAX_RING || (v & (v - 1)))
        v = DEFAULT_RING;
    return v;
}

/* The one CPU this thread may run on, or -1. */
static int only_cpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) != 1)
        return -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            return i;
    return -1;
}

/* How long to spin before sleeping, in microseconds: a reply usually comes
 * within a few, far less than a futex sleep and wake-up across CPUs costs
 * (20-40 us on a VM). Not when both sides are confined to the same single
 * CPU (each side tells the other its CPU at the setup): there the spinner
 * would only delay the peer it waits for. */
static int spin_us(int peer_cpu)
{
    const char *e = getenv("RGPU_SHM_SPIN_US");
    int us = e ? atoi(e) : 20, me = only_cpu();
    if (me >= 0 && me == peer_cpu)
        us = 0;
    return us < 0 ? 0 : us;
}

static struct rgpu_shm *map_rings(int sock, int memfd, size_t ring, int is_server, int peer_cpu)
{
    size_t len = HDR_SIZE + 2 * ring;
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (base == MAP_FAILED)
        return NULL;
    struct rgpu_shm *s = calloc(1, sizeof *s);
    if (!s) {
        munmap(base, len);
        return NULL;
    }
    struct shm_hdr *h = base;
    uint8_t *data = (uint8_t *)base + HDR_SIZE;
    struct ring *c2s = is_server ? &s->rx : &s->tx, *s2c = is_server ? &s->tx : &s->rx;
    c2s->c = &h->ring[0];
    c2s->data = data;
    s2c->c = &h->ring[1];
    s2c->data = data + ring;
    c2s->size = s2c->size = (uint32_t)ring;
    s->fd = sock;
    s->base = base;
    s->len = len;
    s->spin_us = spin_us(peer_cpu);
    return s;
}

int rgpu_shm_client(int fd, char *err, size_t errlen)
{
    struct rgpu_hdr req = {.magic = RGPU_MAGIC, .type = 0, .ctx = SHM_REQUEST, .seq = (uint32_t)only_cpu()};
    if (send(fd, &req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req) {
        snprintf(err, errlen, "shm setup: %s", strerror(errno));
        return -1;
    }
    struct offer off;
    struct iovec iov = {&off, sizeof off};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
    ssize_t r;
    do
        r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL);
    while (r < 0 && errno == EINTR);
    int fds[2] = {-1, -1}, nfds = 0;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (r >= 0 && c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        (c->cmsg_len == CMSG_LEN(sizeof(int)) || c->cmsg_len == CMSG_LEN(2 * sizeof(int)))) {
        nfds = c->cmsg_len == CMSG_LEN(sizeof(int)) ? 1 : 2;
        memcpy(fds, CMSG_DATA(c), (size_t)nfds * sizeof(int));
    }
    int memfd = fds[0], poolfd = fds[1];
    const char *bad = NULL;
    struct stat st;
    if (r != (ssize_t)sizeof off || off.magic != SHM_OFFER || memfd < 0)
        bad = "the server offers no shared memory here (is it listening on shm:?)";
    else if (off.ring_size < MIN_RING || off.ring_size > MAX_RING || (off.ring_size & (off.ring_size - 1)) ||
             fstat(memfd, &st) || (uint64_t)st.st_size != HDR_SIZE + 2 * off.ring_size)
        bad = "shm setup: bad ring size from the server";
    else if ((off.pool_size != 0) != (poolfd >= 0) || off.pool_size > (MAX_POOL_MIB << 20) ||
             (poolfd >= 0 && (fstat(poolfd, &st) || (uint64_t)st.st_size != off.pool_size)))
        bad = "shm setup: bad host-memory pool from the server";
    struct rgpu_shm *s = NULL;
    if (!bad && !(s = map_rings(fd, memfd, (size_t)off.ring_size, 0, off.cpu >= 0 && off.cpu < INT_MAX ? (int)off.cpu : -1)))
        bad = "shm setup: cannot map the rings";
    if (!bad && poolfd >= 0) {
        /* Without the pool the connection works as before (page-locked
         * memory is then ordinary memory whose bytes travel). */
        if ((s->pool = map_pool(poolfd, (size_t)off.pool_size, (void *)(uintptr_t)off.pool_addr)))
            s->pool_len = (size_t)off.pool_size;
        s->pool_peer = off.pool_addr;
    }
    if (!bad && attach(s))
        bad = "shm setup: cannot map the rings";
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        if (s)
            shm_free(s);
        return -1;
    }
    return 0;
}

/* A sealed memfd of len bytes (sealed: the peer must not shrink it under
 * our mapping — the next access would be SIGBUS), or -1. */
static int sealed_memfd(const char *name, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd >= 0 && (ftruncate(fd, (off_t)len) || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int rgpu_shm_server(int fd, char *err, size_t errlen)
{
    struct rgpu_hdr req;
    ssize_t r;
    do
        r = recv(fd, &req, sizeof req, MSG_WAITALL);
    while (r < 0 && errno == EINTR);
    if (r != (ssize_t)sizeof req || req.magic != RGPU_MAGIC || req.type != 0 || req.ctx != SHM_REQUEST) {
        snprintf(err, errlen, "client did not ask for shared memory (a unix: client on a shm: socket?)");
        return -1;
    }
    size_t ring = rgpu_shm_ring_size();
    int memfd = sealed_memfd("rgpu-shm", HDR_SIZE + 2 * ring);
    if (memfd < 0) {
        snprintf(err, errlen, "shm setup: memfd: %s", strerror(errno));
        return -1;
    }
    struct rgpu_shm *s = map_rings(fd, memfd, ring, 1, (int)(int32_t)req.seq);
    if (!s) {
        snprintf(err, errlen, "shm setup: mmap: %s", strerror(errno));
        close(memfd);
        return -1;
    }
    /* The host-memory pool is optional: a connection without one only
     * moves page-locked memory's bytes through the rings. */
    size_t pool = rgpu_shm_pool_size();
    int fds[2] = {memfd, pool ? sealed_memfd("rgpu-hostpool", pool) : -1};
    if (fds[1] >= 0 && (s->pool = map_pool(fds[1], pool, pool_slot(pool))))
        s->pool_len = pool;
    if (!s->pool && fds[1] >= 0) {
        close(fds[1]);
        fds[1] = -1;
    }
    int nfds = fds[1] >= 0 ? 2 : 1;
    struct offer off = {SHM_OFFER, ring, only_cpu(), s->pool_len, (uint64_t)(uintptr_t)s->pool};
    struct iovec iov = {&off, sizeof off};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                       .msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    do
        r = sendmsg(fd, &m, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (r != (ssize_t)sizeof off || attach(s)) {
        snprintf(err, errlen, "shm setup: cannot hand over the rings: %s", strerror(errno));
        shm_free(s);
        return -1;
    }
    return 0;
}

/* ---- waiting ---- */
static int futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
    return (int)syscall(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

/* Anything on the socket ends the connection: the peer never writes to it
 * after the setup, so readable means closed (or shut down by us). */
static bool gone(const struct rgpu_shm *s)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A peer we had to wake answers no sooner than the wake-up reaches it,
 * which on a VM takes 40-100 us, longer than the normal spin: had we gone
 * to sleep meanwhile, the peer's answer would have to wake us in turn, and
 * the next request it, each paying that latency again (a round trip of
 * 100-250 us instead of 1). So for WAKE_GRACE spins after a wake-up we
 * keep spinning. */
#define WAKE_GRACE(spin_us) (10 * (int64_t)(spin_us) * 1000)

/* Wait until *word is no longer seen: 1 when it changed, 0 when timeout_ms
 * passed (-1: never), -1 when the connection is gone. */
static int wait_word(const struct rgpu_shm *s, _Atomic uint32_t *word, uint32_t seen, _Atomic uint32_t *sleeping,
                     int spin_us, int timeout_ms)
{
    struct timespec end;
    if (spin_us > 0) {
        int64_t t0 = now_ns(), until = t0 + (int64_t)spin_us * 1000;
        int64_t woke = atomic_load_explicit(&s->woke_ns, memory_order_relaxed);
        if (woke && woke + WAKE_GRACE(spin_us) > until)
            until = woke + WAKE_GRACE(spin_us);
        for (int i = 1;; i++) {
            if (atomic_load_explicit(word, memory_order_acquire) != seen)
                return 1;
            cpu_relax();
            if (i % 64 == 0 && now_ns() >= until)
                break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_ms / 1000;
    end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L)
        end.tv_sec++, end.tv_nsec -= 1000000000L;
    for (;;) {
        /* Dekker with the other side's kick(): we announce, then look; it
         * publishes, then looks at our announcement. */
        atomic_store(sleeping, 1);
        if (atomic_load(word) != seen)
            return 1;
        long ms = LIVENESS_MS;
        if (timeout_ms >= 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long left = (end.tv_sec - now.tv_sec) * 1000L + (end.tv_nsec - now.tv_nsec) / 1000000L;
            if (left <= 0)
                return 0;
            if (left < ms)
                ms = left;
        }
        struct timespec ts = {0, ms * 1000000L};
        futex(word, FUTEX_WAIT, seen, &ts);
        if (atomic_load_explicit(word, memory_order_acquire) != seen)
            return 1;
        if (gone(s))
            return -1;
    }
}

/* The peer broke the ring: end the connection on both sides, as a broken
 * socket would (our other threads and the peer see it closed). */
static int corrupt(const struct rgpu_shm *s)
{
    shutdown(s->fd, SHUT_RDWR);
    errno = EPROTO;
    return -1;
}

static void kick(struct rgpu_shm *s, _Atomic uint32_t *word, _Atomic uint32_t *sleeping)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(sleeping, memory_order_relaxed) && atomic_exchange(sleeping, 0)) {
        futex(word, FUTEX_WAKE, INT_MAX, NULL);
        atomic_store_explicit(&s->woke_ns, now_ns(), memory_order_relaxed);
    }
}

/* Unread bytes in r as the consumer sees them; UINT32_MAX when the peer's
 * index is impossible. */
static uint32_t readable(struct ring *r, uint32_t *tail)
{
    uint32_t t = atomic_load_explicit(&r->c->tail, memory_order_acquire);
    uint32_t n = t - atomic_load_explicit(&r->pos, memory_order_relaxed);
    *tail = t;
    return n > r->size ? UINT32_MAX : n;
}

ssize_t rgpu_shm_read(struct rgpu_shm *s, void *p, size_t n)
{
    struct ring *r = &s->rx;
    if (!n)
        return 0;
    for (;;) {
        uint32_t tail, avail = readable(r, &tail);
        if (avail == UINT32_MAX)
            return corrupt(s);
        if (avail) {
            TSAN_ACQUIRE(s);
            uint32_t pos = atomic_load_explicit(&r->pos, memory_order_relaxed);
            size_t k = n < avail ? n : avail;
            size_t off = pos & (r->size - 1), first = r->size - off < k ? r->size - off : k;
            memcpy(p, r->data + off, first);
            memcpy((uint8_t *)p + first, r->data, k - first);
            pos += (uint32_t)k;
            atomic_store_explicit(&r->pos, pos, memory_order_relaxed);
            atomic_store_explicit(&r->c->head, pos, memory_order_release);
            kick(s, &r->c->head, &r->c->wr_sleep);
            return (ssize_t)k;
        }
        int w = wait_word(s, &r->c->tail, tail, &r->c->rd_sleep, s->spin_us, -1);
        if (w < 0 && readable(r, &tail) == 0) {
            errno = 0;
            return 0;
        }
    }
}

int rgpu_shm_poll(struct rgpu_shm *s, int timeout_ms)
{
    struct ring *r = &s->rx;
    uint32_t tail;
    if (readable(r, &tail))
        return 1; /* bytes, or a corrupt index the read will report */
    if (timeout_ms == 0)
        return gone(s);
    return wait_word(s, &r->c->tail, tail, &r->c->rd_sleep, 0, timeout_ms) != 0;
}

bool rgpu_shm_peer_reading(const struct rgpu_shm *s)
{
    return !atomic_load_explicit(&s->tx.c->rd_sleep, memory_order_relaxed);
}

int rgpu_shm_writev(struct rgpu_shm *s, const struct iovec *iov, int iovcnt)
{
    struct ring *r = &s->tx;
    const uint8_t *src = iovcnt ? iov->iov_base : NULL;
    size_t left = iovcnt ? iov->iov_len : 0;
    for (;;) {
        while (!left && iovcnt > 1) {
            iov++, iovcnt--;
            src = iov->iov_base;
            left = iov->iov_len;
        }
        if (!left)
            return 0;
        uint32_t pos = atomic_load_explicit(&r->pos, memory_order_relaxed);
        uint32_t used = pos - r->head_seen;
        if (r->size - used < left) {
            uint32_t head = atomic_load_explicit(&r->c->head, memory_order_acquire);
            used = pos - head;
            if (used > r->size)
                return corrupt(s);
            r->head_seen = head;
            if (used == r->size) {
                if (wait_word(s, &r->c->head, head, &r->c->wr_sleep, s->spin_us, -1) < 0) {
                    errno = EPIPE;
                    return -1;
                }
                continue;
            }
        }
        /* copy what fits (up to CHUNK) from as many pieces as it takes, then
         * publish once: a small message wakes the consumer once */
        size_t room = r->size - used;
        if (room > CHUNK)
            room = CHUNK;
        while (room && left) {
            size_t k = left < room ? left : room;
            size_t off = pos & (r->size - 1), first = r->size - off < k ? r->size - off : k;
            memcpy(r->data + off, src, first);
            memcpy(r->data, src + first, k - first);
            pos += (uint32_t)k;
            src += k;
            left -= k;
            room -= k;
            while (!left && iovcnt > 1) {
                iov++, iovcnt--;
                src = iov->iov_base;
                left = iov->iov_len;
            }
        }
        atomic_store_explicit(&r->pos, pos, memory_order_relaxed);
        TSAN_RELEASE(s);
        atomic_store_explicit(&r->c->tail, pos, memory_order_release);
        kick(s, &r->c->tail, &r->c->rd_sleep);
    }
}
