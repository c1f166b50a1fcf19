/*
 * net.h — sockets for rgpu (anet-style): address parsing, listen, connect,
 * and full reads/writes that retry EINTR and short transfers. Every fd is
 * CLOEXEC (forked workers must not inherit each other's sockets); TCP data
 * sockets get TCP_NODELAY and keepalive so a dead peer is noticed.
 *
 * Address syntax (RGPU_SERVER, rgpud --listen): unix:/path | shm:/path |
 * tcp:HOST:PORT (HOST may be a name, an IPv4 address or [IPv6]). shm: is a
 * unix socket whose byte stream then flows through shared-memory rings
 * (shm.h); the fd remains the connection's handle and the read/write/poll
 * helpers below use the rings attached to it, so callers need not know.
 */
#ifndef RGPU_WIRE_NET_H
#define RGPU_WIRE_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "codec.h"
#include "proto.h"

#define RGPU_DEFAULT_SERVER "unix:/run/rgpu/rgpud.sock"

struct rgpu_addr {
    int is_unix; /* also for shm: */
    int is_shm;
    char path[108];
    char host[256];
    char port[16];
};

int rgpu_addr_parse(const char *s, struct rgpu_addr *a, char *err, size_t errlen);
/* Return a listening fd, or -1 with err filled. Unix sockets replace a stale
 * socket file. */
int rgpu_listen(const struct rgpu_addr *a, char *err, size_t errlen);
int rgpu_connect(const struct rgpu_addr *a, char *err, size_t errlen);
int rgpu_accept(int lfd);
/* Close a connection (and unmap its rings). */
void rgpu_close(int fd);

/* Like read() (EINTR retried): at least one byte, 0 at end of stream. */
ssize_t rgpu_read_some(int fd, void *p, size_t n);
/* Like poll() for POLLIN on one fd: >0 readable or ended, 0 timed out. */
int rgpu_poll_in(int fd, int timeout_ms);

/* 0 on success, -1 on error or end of stream (errno 0 at a clean EOF). */
int rgpu_read_full(int fd, void *p, size_t n);
/* Sockets only: a closed peer gives EPIPE, never SIGPIPE. */
int rgpu_writev_full(int fd, struct iovec *iov, int iovcnt);
/* Discard n bytes from fd. */
int rgpu_skip(int fd, uint64_t n);

/* Send header + encoded arguments + bulk pieces of w in one writev. */
int rgpu_send_msg(int fd, struct rgpu_hdr *h, const struct rgpu_wbuf *w);
/* The same, after prelen bytes of already framed messages at pre (a batch of
 * coalesced requests), all in the one writev. */
int rgpu_send_msg_after(int fd, const void *pre, size_t prelen, struct rgpu_hdr *h, const struct rgpu_wbuf *w);

/* Check a received header against the protocol limits; NULL if it is fine,
 * else why not. */
const char *rgpu_hdr_invalid(const struct rgpu_hdr *h);

#endif
