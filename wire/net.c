/*
 * net.c — socket helpers (see net.h). Functions return 0/-1 or an fd and fill
 * a caller's error buffer; none of them logs.
 */
#define _GNU_SOURCE
#include "net.h"
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int rgpu_addr_parse(const char *s, struct rgpu_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    int shm = strncmp(s, "shm:", 4) == 0;
    if (shm || strncmp(s, "unix:", 5) == 0) {
        const char *p = s + (shm ? 4 : 5);
        if (!*p || strlen(p) >= sizeof a->path) {
            snprintf(err, errlen, "bad unix socket path in '%s'", s);
            return -1;
        }
        a->is_unix = 1;
        a->is_shm = shm;
        strcpy(a->path, p);
        return 0;
    }
    if (strncmp(s, "tcp:", 4) == 0) {
        const char *h = s + 4, *colon;
        if (*h == '[') {
            const char *end = strchr(h, ']');
            if (!end || end[1] != ':') {
                snprintf(err, errlen, "bad address '%s' (want tcp:[IPv6]:PORT)", s);
                return -1;
            }
            if ((size_t)(end - h - 1) >= sizeof a->host)
                goto toolong;
            memcpy(a->host, h + 1, (size_t)(end - h - 1));
            colon = end + 1;
        } else {
            colon = strrchr(h, ':');
            if (!colon || colon == h) {
                snprintf(err, errlen, "bad address '%s' (want tcp:HOST:PORT)", s);
                return -1;
            }
            if ((size_t)(colon - h) >= sizeof a->host)
                goto toolong;
            memcpy(a->host, h, (size_t)(colon - h));
        }
        const char *port = colon + 1;
        char *end;
        long pn = strtol(port, &end, 10);
        if (!*port || *end || pn < 0 || pn > 65535) {
            snprintf(err, errlen, "bad port in '%s'", s);
            return -1;
        }
        snprintf(a->port, sizeof a->port, "%ld", pn);
        return 0;
    }
    snprintf(err, errlen, "unknown address '%s' (want unix:/path, shm:/path or tcp:HOST:PORT)", s);
    return -1;
toolong:
    snprintf(err, errlen, "host name too long in '%s'", s);
    return -1;
}

static void tune_tcp(int fd)
{
    int one = 1, idle = 5, intvl = 2, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

static int unix_sockaddr(const struct rgpu_addr *a, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    strcpy(sun->sun_path, a->path);
    return 0;
}

int rgpu_listen(const struct rgpu_addr *a, char *err, size_t errlen)
{
    if (a->is_unix) {
        struct sockaddr_un sun;
        unix_sockaddr(a, &sun);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            goto fail;
        struct stat st;
        if (stat(a->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            /* Replace the file only if no server answers there. */
            int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            int live = probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0;
            if (probe >= 0)
                close(probe);
            if (live) {
                snprintf(err, errlen, "%s: another server is listening there", a->path);
                close(fd);
                return -1;
            }
            unlink(a->path);
        }
        if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(fd, 128) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            goto fail;
        }
        return fd;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int rc = getaddrinfo(a->host[0] ? a->host : NULL, a->port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "%s:%s: %s", a->host, a->port, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        close(fd);
        fd = -1;
    }
    int e = errno;
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "tcp:%s:%s: %s", a->host, a->port, strerror(e));
        return -1;
    }
    return fd;
fail:
    snprintf(err, errlen, "%s: %s", a->path, strerror(errno));
    return -1;
}

int rgpu_connect(const struct rgpu_addr *a, char *err, size_t errlen)
{
    if (a->is_unix) {
        struct sockaddr_un sun;
        unix_sockaddr(a, &sun);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
            snprintf(err, errlen, "unix:%s: %s", a->path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        if (a->is_shm && rgpu_shm_client(fd, err, errlen)) {
            close(fd);
            return -1;
        }
        return fd;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(a->host, a->port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "tcp:%s:%s: %s", a->host, a->port, gai_strerror(rc));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "tcp:%s:%s: %s", a->host, a->port, strerror(e));
        return -1;
    }
    tune_tcp(fd);
    return fd;
}

int rgpu_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family != AF_UNIX)
                tune_tcp(fd);
            return fd;
        }
        if (errno != EINTR)
            return -1;
    }
}

ssize_t rgpu_read_some(int fd, void *p, size_t n)
{
    struct rgpu_shm *s = rgpu_shm_of(fd);
    if (s)
        return rgpu_shm_read(s, p, n);
    for (;;) {
        ssize_t r = read(fd, p, n);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

int rgpu_poll_in(int fd, int timeout_ms)
{
    struct rgpu_shm *s = rgpu_shm_of(fd);
    if (s)
        return rgpu_shm_poll(s, timeout_ms);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms);
}

void rgpu_close(int fd)
{
    if (fd < 0)
        return;
    rgpu_shm_detach(fd);
    close(fd);
}

int rgpu_read_full(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = rgpu_read_some(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (r > 0) {
            c += r;
            n -= (size_t)r;
        } else if (r == 0) {
            errno = 0;
            return -1;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

int rgpu_skip(int fd, uint64_t n)
{
    char buf[65536];
    while (n) {
        size_t k = n > sizeof buf ? sizeof buf : (size_t)n;
        if (rgpu_read_full(fd, buf, k))
            return -1;
        n -= k;
    }
    return 0;
}

int rgpu_writev_full(int fd, struct iovec *iov, int iovcnt)
{
    struct rgpu_shm *shm = rgpu_shm_of(fd);
    if (shm)
        return rgpu_shm_writev(shm, iov, iovcnt);
    while (iovcnt > 0) {
        /* sendmsg, not writev: MSG_NOSIGNAL keeps a dead peer from killing
         * the application (the client lives inside someone else's process). */
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)(iovcnt > IOV_MAX ? IOV_MAX : iovcnt)};
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        size_t left = (size_t)w;
        while (iovcnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

int rgpu_send_msg(int fd, struct rgpu_hdr *h, const struct rgpu_wbuf *w) { return rgpu_send_msg_after(fd, NULL, 0, h, w); }

int rgpu_send_msg_after(int fd, const void *pre, size_t prelen, struct rgpu_hdr *h, const struct rgpu_wbuf *w)
{
    struct iovec iov[3 + RGPU_WBUF_MAX_IOV];
    int n = 0;
    if (prelen) {
        iov[n].iov_base = (void *)pre;
        iov[n++].iov_len = prelen;
    }
    h->magic = RGPU_MAGIC;
    h->args_len = w ? (uint32_t)w->len : 0;
    h->bulk_len = w ? w->bulk_len : 0;
    iov[n].iov_base = h;
    iov[n++].iov_len = sizeof *h;
    if (w && w->len) {
        iov[n].iov_base = w->data;
        iov[n++].iov_len = w->len;
    }
    for (int i = 0; w && i < w->nbulk; i++)
        iov[n++] = w->bulk[i];
    return rgpu_writev_full(fd, iov, n);
}

const char *rgpu_hdr_invalid(const struct rgpu_hdr *h)
{
    if (h->magic != RGPU_MAGIC)
        return "bad magic";
    if (h->type < RGPU_MSG_HELLO || h->type > RGPU_MSG_AUTH)
        return "unknown message type";
    if (h->args_len > RGPU_MAX_ARGS_LEN)
        return "argument block too long";
    if (h->bulk_len > RGPU_MAX_BULK_LEN)
        return "bulk payload too long";
    return NULL;
}
