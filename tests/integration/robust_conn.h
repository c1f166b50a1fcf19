/*
 * robust_conn.h — a raw connection to rgpud for the tests that speak the wire
 * protocol by hand (robust_wire, robust_fuzz): connect to RGPU_SERVER (unix:,
 * tcp: or shm:), send and receive whole frames with timeouts, the handshake.
 */
#ifndef RGPU_IT_ROBUST_CONN_H
#define RGPU_IT_ROBUST_CONN_H

#include "calls.h" /* rgpu_calls_fingerprint */
#include "net.h"
#include "proto.h"
#include "robust_util.h"

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

/* A connection to RGPU_SERVER (wire/net.c's, as the client makes it); exits
 * the test when there is none to make. */
static inline int rc_connect(void)
{
    const char *addr = getenv("RGPU_SERVER");
    if (!addr) {
        fprintf(stderr, "FAIL: RGPU_SERVER is not set\n");
        exit(1);
    }
    struct rgpu_addr a;
    char err[256];
    int fd = rgpu_addr_parse(addr, &a, err, sizeof err) == 0 ? rgpu_connect(&a, err, sizeof err) : -1;
    if (fd < 0) {
        fprintf(stderr, "FAIL: cannot connect to %s: %s\n", addr, err);
        exit(1);
    }
    return fd;
}

/* all n bytes, or -1 (errno EPIPE or ECONNRESET once the server closed) */
static inline int rc_send_all(int fd, const void *p, size_t n)
{
    struct iovec iov = {(void *)p, n};
    return rgpu_writev_full(fd, &iov, 1);
}

/* read exactly n bytes within timeout_s; 1 ok, 0 EOF/reset, -1 timeout */
static inline int rc_recv_all(int fd, void *p, size_t n, double timeout_s)
{
    char *c = p;
    double t0 = ru_now();
    while (n) {
        double left = timeout_s - (ru_now() - t0);
        if (left <= 0)
            return -1;
        /* through wire/net.c, which reads a shm: connection's ring */
        int pr = rgpu_poll_in(fd, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return -1;
        ssize_t r = rgpu_read_some(fd, c, n);
        if (r <= 0)
            return 0;
        c += r;
        n -= (size_t)r;
    }
    return 1;
}

static inline struct rgpu_hdr rc_hdr(uint16_t type, uint16_t call, uint32_t seq, uint64_t ctx, uint32_t args_len,
                                     uint64_t bulk_len)
{
    struct rgpu_hdr h;
    memset(&h, 0, sizeof h);
    h.magic = RGPU_MAGIC;
    h.type = type;
    h.call = call;
    h.seq = seq;
    h.tid = (uint32_t)getpid();
    h.ctx = ctx;
    h.args_len = args_len;
    h.bulk_len = bulk_len;
    return h;
}

/* HELLO + WELCOME. NULL on success (*welcome filled), else what went wrong. */
static inline const char *rc_handshake(int fd, const char *who, struct rgpu_welcome *welcome)
{
    static char why[256];
    struct rgpu_hello hello;
    memset(&hello, 0, sizeof hello);
    hello.proto_version = RGPU_PROTO_VERSION;
    hello.pid = (uint32_t)getpid();
    hello.calls_fingerprint = rgpu_calls_fingerprint();
    snprintf(hello.host, sizeof hello.host, "%s", who);
    struct rgpu_hdr h = rc_hdr(RGPU_MSG_HELLO, 0, 0, 0, sizeof hello, 0);
    if (rc_send_all(fd, &h, sizeof h) != 0 || rc_send_all(fd, &hello, sizeof hello) != 0)
        return "sending HELLO failed";
    if (rc_recv_all(fd, &h, sizeof h, 10) != 1)
        return "no WELCOME header after HELLO";
    if (h.magic != RGPU_MAGIC || h.type != RGPU_MSG_WELCOME) {
        snprintf(why, sizeof why, "reply to HELLO: magic %#x type %u, expected WELCOME (%d)", h.magic, h.type,
                 RGPU_MSG_WELCOME);
        return why;
    }
    if (h.args_len < sizeof(struct rgpu_welcome) || h.args_len > RGPU_MAX_ARGS_LEN || h.bulk_len > (1u << 20)) {
        snprintf(why, sizeof why, "WELCOME lengths args_len=%u bulk_len=%llu", h.args_len,
                 (unsigned long long)h.bulk_len);
        return why;
    }
    size_t total = h.args_len + (size_t)h.bulk_len;
    unsigned char *buf = malloc(total);
    if (!buf || rc_recv_all(fd, buf, total, 10) != 1) {
        free(buf);
        return "WELCOME body truncated";
    }
    struct rgpu_welcome w;
    memcpy(&w, buf, sizeof w);
    free(buf);
    if (welcome)
        *welcome = w;
    if (w.proto_version != RGPU_PROTO_VERSION) {
        snprintf(why, sizeof why, "WELCOME proto_version %u, expected %u", w.proto_version, RGPU_PROTO_VERSION);
        return why;
    }
    if (w.ndev < 1) {
        snprintf(why, sizeof why, "WELCOME ndev %d", w.ndev);
        return why;
    }
    /* the device list follows the welcome struct (as arguments or as bulk) */
    if (total != sizeof w + (size_t)w.ndev * sizeof(struct rgpu_dev_info)) {
        snprintf(why, sizeof why, "WELCOME args_len %u + bulk_len %llu, expected %zu in all for %d device(s)",
                 h.args_len, (unsigned long long)h.bulk_len,
                 sizeof w + (size_t)w.ndev * sizeof(struct rgpu_dev_info), w.ndev);
        return why;
    }
    return NULL;
}

#endif
