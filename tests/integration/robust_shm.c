/*
 * robust_shm.c — a hostile client of the shared-memory transport.
 *
 * usage: robust_shm CLIENT [ARGS...]   (through run_with_server.sh shm)
 *
 * Sets the rings up by hand (the layout of wire/shm.c, restated here: this
 * test links nothing of rgpu) and breaks them: a wrong setup request, an
 * attempt to shrink the memfd under the server's mapping, impossible ring
 * indices in either direction, garbage frames. Each time the server must
 * close that connection (its worker exits) and keep serving: CLIENT, a
 * normal CUDA program, must still succeed.
 */
#define _GNU_SOURCE
#include "calls.h"
#include "proto.h"
#include "robust_util.h"

#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

/* wire/shm.c's layout */
#define SHM_REQUEST 0x314d485355504752ull
#define SHM_OFFER 0x324d485355504752ull
#define HDR_SIZE 4096u
#define CTL(ring) ((size_t)(ring) * 256u)
#define HEAD 0u
#define TAIL 64u

static int failures;
static char **client_argv;
static pid_t server_pid;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

struct conn {
    int fd, memfd;
    uint8_t *base;
    size_t ring;
};

static int connect_server(void)
{
    const char *addr = getenv("RGPU_SERVER");
    if (!addr || strncmp(addr, "shm:", 4) != 0) {
        fprintf(stderr, "FAIL: RGPU_SERVER must be shm:/path\n");
        exit(1);
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", addr + 4);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "FAIL: cannot connect to %s: %s\n", addr, strerror(errno));
        exit(1);
    }
    return fd;
}

/* the rings of a fresh connection, or fd -1 */
static struct conn setup(void)
{
    struct conn c = {.fd = connect_server(), .memfd = -1};
    struct rgpu_hdr req = {.magic = RGPU_MAGIC, .type = 0, .ctx = SHM_REQUEST};
    uint64_t off[3]; /* magic, ring size, the server's CPU */
    send(c.fd, &req, sizeof req, MSG_NOSIGNAL);
    struct iovec iov = {off, sizeof off};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cm;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
    ssize_t r = recvmsg(c.fd, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC);
    struct cmsghdr *ch = CMSG_FIRSTHDR(&m);
    if (r != (ssize_t)sizeof off || off[0] != SHM_OFFER || !ch || ch->cmsg_type != SCM_RIGHTS) {
        FAIL("no shm offer from the server");
        close(c.fd);
        c.fd = -1;
        return c;
    }
    memcpy(&c.memfd, CMSG_DATA(ch), sizeof c.memfd);
    c.ring = (size_t)off[1];
    c.base = mmap(NULL, HDR_SIZE + 2 * c.ring, PROT_READ | PROT_WRITE, MAP_SHARED, c.memfd, 0);
    if (c.base == MAP_FAILED)
        FAIL("mmap of the offered memfd: %s", strerror(errno));
    return c;
}

static volatile uint32_t *word(struct conn *c, int ring, unsigned which)
{
    return (volatile uint32_t *)(c->base + CTL(ring) + which);
}

/* the server closes the connection within timeout_s */
static int closed_within(int fd, double timeout_s)
{
    double t0 = ru_now();
    while (ru_now() - t0 < timeout_s) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0) {
            char b[64];
            if (recv(fd, b, sizeof b, MSG_DONTWAIT) <= 0)
                return 1;
        }
    }
    return 0;
}

static void still_serves(const char *after)
{
    if (kill(server_pid, 0) != 0) {
        FAIL("after %s: rgpud is gone", after);
        exit(1);
    }
    if (ru_run(client_argv, 60, 1) != 0)
        FAIL("after %s: normal client %s failed", after, client_argv[0]);
}

static void expect_closed(struct conn *c, const char *name)
{
    if (!closed_within(c->fd, 5))
        FAIL("%s: the server kept the connection open", name);
    if (c->base && c->base != MAP_FAILED)
        munmap(c->base, HDR_SIZE + 2 * c->ring);
    if (c->memfd >= 0)
        close(c->memfd);
    close(c->fd);
    still_serves(name);
}

/* bytes into the client->server ring, published */
static void put(struct conn *c, const void *p, size_t n)
{
    uint32_t t = *word(c, 0, TAIL);
    for (size_t i = 0; i < n; i++)
        c->base[HDR_SIZE + ((t + i) & (c->ring - 1))] = ((const uint8_t *)p)[i];
    __atomic_store_n(word(c, 0, TAIL), t + (uint32_t)n, __ATOMIC_RELEASE);
}

/* put() once the server has made room (it reads the ring as it likes);
 * -1 when the connection closed or no room came within 5 s. */
static int put_when_room(struct conn *c, const void *p, size_t n)
{
    double t0 = ru_now();
    for (;;) {
        uint32_t t = *word(c, 0, TAIL), h = __atomic_load_n(word(c, 0, HEAD), __ATOMIC_ACQUIRE);
        if (c->ring - (t - h) >= n) {
            put(c, p, n);
            return 0;
        }
        struct pollfd pf = {c->fd, POLLIN, 0};
        if (poll(&pf, 1, 1) > 0 || ru_now() - t0 > 5)
            return -1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CLIENT [ARGS...]\n", argv[0]);
        return 2;
    }
    client_argv = argv + 1;
    server_pid = ru_server_pid();
    signal(SIGPIPE, SIG_IGN);
    still_serves("start");

    fprintf(stderr, "robust_shm: case: a plain-protocol HELLO instead of the shm request\n");
    {
        struct conn c = {.fd = connect_server(), .memfd = -1};
        struct rgpu_hdr h = {.magic = RGPU_MAGIC, .type = RGPU_MSG_HELLO};
        send(c.fd, &h, sizeof h, MSG_NOSIGNAL);
        expect_closed(&c, "plain HELLO");
    }

    fprintf(stderr, "robust_shm: case: shrink the memfd under the server\n");
    {
        struct conn c = setup();
        if (c.fd >= 0) {
            if (ftruncate(c.memfd, HDR_SIZE) == 0)
                FAIL("the offered memfd could be shrunk (not sealed)");
            if (!(fcntl(c.memfd, F_GET_SEALS) & F_SEAL_SHRINK))
                FAIL("the offered memfd has no F_SEAL_SHRINK");
            static const char junk[sizeof(struct rgpu_hdr)] = "not a header";
            put(&c, junk, sizeof junk);
            expect_closed(&c, "shrink attempt");
        }
    }

    fprintf(stderr, "robust_shm: case: client->server tail beyond the ring\n");
    {
        struct conn c = setup();
        if (c.fd >= 0) {
            __atomic_store_n(word(&c, 0, TAIL), (uint32_t)c.ring + 4096u, __ATOMIC_RELEASE);
            expect_closed(&c, "bad tail");
        }
    }

    /* The server looks at the client's head only when a reply may not fit
     * in what it last saw free (wire/shm.c), so the lie is found once the
     * replies have filled the ring: requests until then, flow-controlled. */
    fprintf(stderr, "robust_shm: case: server->client head beyond the server's tail\n");
    {
        struct conn c = setup();
        if (c.fd >= 0) {
            __atomic_store_n(word(&c, 1, HEAD), 0x80000000u, __ATOMIC_RELEASE);
            struct rgpu_hello hello = {.proto_version = RGPU_PROTO_VERSION};
            struct rgpu_hdr h = {.magic = RGPU_MAGIC, .type = RGPU_MSG_HELLO, .args_len = sizeof hello};
            uint8_t msg[sizeof h + sizeof hello];
            memcpy(msg, &h, sizeof h);
            memcpy(msg + sizeof h, &hello, sizeof hello);
            put(&c, msg, sizeof msg);
            /* a forged context: an error reply (a header) each */
            uint64_t forged = 0x5eed;
            struct rgpu_hdr q = {.magic = RGPU_MAGIC, .type = RGPU_MSG_REQUEST, .call = RGPU_ID_cuCtxGetApiVersion,
                                 .args_len = sizeof forged};
            uint8_t req[sizeof q + sizeof forged];
            size_t n = 2 * c.ring / sizeof q, i;
            for (i = 0; i < n; i++) {
                q.seq = (uint32_t)i + 1;
                memcpy(req, &q, sizeof q);
                memcpy(req + sizeof q, &forged, sizeof forged);
                if (put_when_room(&c, req, sizeof req))
                    break; /* closed, or no longer read */
            }
            fprintf(stderr, "robust_shm: %zu requests sent until the server stopped reading "
                            "(the replies to %zu fill its ring)\n",
                    i, c.ring / sizeof q);
            expect_closed(&c, "bad head");
        }
    }

    fprintf(stderr, "robust_shm: case: a header with an absurd bulk length in the ring\n");
    {
        struct conn c = setup();
        if (c.fd >= 0) {
            struct rgpu_hdr h = {.magic = RGPU_MAGIC, .type = RGPU_MSG_HELLO, .bulk_len = ~0ull};
            put(&c, &h, sizeof h);
            expect_closed(&c, "absurd bulk length");
        }
    }

    if (failures) {
        fprintf(stderr, "robust_shm: %d failure(s)\n", failures);
        return 1;
    }
    fprintf(stderr, "robust_shm: all checks passed\n");
    return 0;
}
