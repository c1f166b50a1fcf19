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

static char **client_argv;
static pid_t server_pid;

struct conn {
    int fd, memfd, poolfd;
    uint8_t *base;
    size_t ring, pool;
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
    struct conn c = {.fd = connect_server(), .memfd = -1, .poolfd = -1};
    struct rgpu_hdr req = {.magic = RGPU_MAGIC, .type = 0, .ctx = SHM_REQUEST};
    uint64_t off[5]; /* magic, ring size, the server's CPU, host-memory pool size and address */
    send(c.fd, &req, sizeof req, MSG_NOSIGNAL);
    struct iovec iov = {off, sizeof off};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(2 * sizeof(int))];
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
    if (ch->cmsg_len == CMSG_LEN(2 * sizeof(int)))
        memcpy(&c.poolfd, CMSG_DATA(ch) + sizeof(int), sizeof c.poolfd);
    c.ring = (size_t)off[1];
    c.pool = (size_t)off[3];
    if ((c.pool != 0) != (c.poolfd >= 0))
        FAIL("pool size %zu offered with%s a memfd", c.pool, c.poolfd >= 0 ? "" : "out");
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
    if (c->poolfd >= 0)
        close(c->poolfd);
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


/* n bytes out of the server->client ring; -1 when none came within 5 s */
static int get(struct conn *c, void *p, size_t n)
{
    double t0 = ru_now();
    for (size_t got = 0; got < n;) {
        uint32_t h = *word(c, 1, HEAD), t = __atomic_load_n(word(c, 1, TAIL), __ATOMIC_ACQUIRE);
        if (t == h) {
            if (ru_now() - t0 > 5)
                return -1;
            continue;
        }
        for (; h != t && got < n; h++)
            ((uint8_t *)p)[got++] = c->base[HDR_SIZE + c->ring + (h & (c->ring - 1))];
        __atomic_store_n(word(c, 1, HEAD), h, __ATOMIC_RELEASE);
    }
    return 0;
}

/* one request (reply wanted) and its reply: the result, the reply's
 * arguments in out (up to cap bytes); -1000 when no reply came */
static int call(struct conn *c, uint16_t id, uint64_t ctx, const void *args, uint32_t n, void *out, size_t cap)
{
    static uint32_t seq;
    struct rgpu_hdr q = {.magic = RGPU_MAGIC, .type = RGPU_MSG_REQUEST, .call = id, .seq = ++seq, .ctx = ctx,
                         .args_len = n}, r;
    uint8_t msg[sizeof q + 512];
    if (n > 512)
        return -1000;
    memcpy(msg, &q, sizeof q);
    memcpy(msg + sizeof q, args, n);
    if (put_when_room(c, msg, sizeof q + n) || get(c, &r, sizeof r))
        return -1000;
    uint8_t skip[256];
    if (r.type != RGPU_MSG_REPLY || r.seq != q.seq || r.args_len > sizeof skip || r.bulk_len ||
        get(c, skip, r.args_len))
        return -1000;
    memcpy(out, skip, r.args_len < cap ? r.args_len : cap);
    return r.result;
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
            struct rgpu_hello hello = {.proto_version = RGPU_PROTO_VERSION, .calls_fingerprint = rgpu_calls_fingerprint()};
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


    /* The host-memory pool: every offset the client names is checked
     * against the pool and against what it registered; a bad one gets an
     * error reply and the connection goes on. */
    fprintf(stderr, "robust_shm: case: pool offsets outside the pool or not registered\n");
    {
        struct conn c = setup();
        uint8_t *pool = c.poolfd >= 0 ? mmap(NULL, c.pool, PROT_READ | PROT_WRITE, MAP_SHARED, c.poolfd, 0) : NULL;
        if (c.fd >= 0 && (!pool || pool == MAP_FAILED)) {
            FAIL("no host-memory pool offered (or not mappable)");
        } else if (c.fd >= 0) {
            struct rgpu_hello hello = {.proto_version = RGPU_PROTO_VERSION, .calls_fingerprint = rgpu_calls_fingerprint()};
            struct rgpu_hdr h = {.magic = RGPU_MAGIC, .type = RGPU_MSG_HELLO, .args_len = sizeof hello}, w;
            uint8_t msg[sizeof h + sizeof hello];
            memcpy(msg, &h, sizeof h);
            memcpy(msg + sizeof h, &hello, sizeof hello);
            put(&c, msg, sizeof msg);
            static uint8_t welcome[1 << 16];
            if (get(&c, &w, sizeof w) || w.type != RGPU_MSG_WELCOME || w.args_len + w.bulk_len > sizeof welcome ||
                get(&c, welcome, w.args_len + w.bulk_len)) {
                FAIL("no WELCOME over the rings");
            } else {
                int dev = 0;
                uint64_t ctx = 0, dptr = 0, bytes = 8192;
                int rc = call(&c, RGPU_ID_cuDevicePrimaryCtxRetain, 0, &dev, sizeof dev, &ctx, sizeof ctx);
                if (rc || !ctx)
                    FAIL("cuDevicePrimaryCtxRetain over the rings: %d", rc);
                rc = call(&c, RGPU_ID_cuMemAlloc_v2, ctx, &bytes, sizeof bytes, &dptr, sizeof dptr);
                if (rc || !dptr)
                    FAIL("cuMemAlloc over the rings: %d", rc);
                struct { uint64_t off, size; } reg[] = {
                    {c.pool, 4096},            /* past the end */
                    {c.pool - 4096, 8192},     /* running past it */
                    {UINT64_MAX - 4095, 8192}, /* wrapping */
                    {4097, 4096},              /* not page aligned */
                    {0, 0},                    /* empty */
                };
                for (size_t i = 0; i < sizeof reg / sizeof *reg; i++)
                    if ((rc = call(&c, RGPU_ID_rgpu_hostpool_register, ctx, &reg[i], sizeof reg[i], NULL, 0)) !=
                        CUDA_ERROR_INVALID_VALUE)
                        FAIL("register [%#llx, +%#llx): got %d, expected CUDA_ERROR_INVALID_VALUE",
                             (unsigned long long)reg[i].off, (unsigned long long)reg[i].size, rc);
                struct { uint64_t off, size; } ok[2] = {{0, 4096}, {8192, 4096}}, dup = {4096, 8192};
                for (int i = 0; i < 2; i++)
                    if ((rc = call(&c, RGPU_ID_rgpu_hostpool_register, ctx, &ok[i], sizeof ok[i], NULL, 0)))
                        FAIL("register [%#llx, +4096): got %d", (unsigned long long)ok[i].off, rc);
                if ((rc = call(&c, RGPU_ID_rgpu_hostpool_register, ctx, &dup, sizeof dup, NULL, 0)) !=
                    CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED)
                    FAIL("overlapping registration: got %d", rc);
                /* copies: outside every extent, across an extent's end, wrapping */
                struct { uint64_t dev, off, n, stream; } bad[] = {
                    {dptr, 4096, 16, 0}, {dptr, 0, 8192, 0}, {dptr, 4000, 200, 0}, {dptr, UINT64_MAX - 7, 16, 0},
                    {dptr, c.pool + 8192, 16, 0},
                };
                for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                    struct { uint64_t off, dev, n, stream; } d = {bad[i].off, bad[i].dev, bad[i].n, 0};
                    if ((rc = call(&c, RGPU_ID_rgpu_htod_pool, ctx, &bad[i], sizeof bad[i], NULL, 0)) !=
                        CUDA_ERROR_INVALID_VALUE)
                        FAIL("host->device from pool [%#llx, +%llu): got %d", (unsigned long long)bad[i].off,
                             (unsigned long long)bad[i].n, rc);
                    if ((rc = call(&c, RGPU_ID_rgpu_dtoh_pool, ctx, &d, sizeof d, NULL, 0)) != CUDA_ERROR_INVALID_VALUE)
                        FAIL("device->host into pool [%#llx, +%llu): got %d", (unsigned long long)d.off,
                             (unsigned long long)d.n, rc);
                }
                /* and the good ones do what they say, in the pool's own bytes */
                for (int i = 0; i < 4096; i++)
                    pool[i] = (uint8_t)(i * 7 + 1);
                memset(pool + 8192, 0, 4096);
                struct { uint64_t dev, off, n, stream; } up = {dptr, 0, 4096, 0};
                struct { uint64_t off, dev, n, stream; } down = {8192, dptr, 4096, 0};
                if ((rc = call(&c, RGPU_ID_rgpu_htod_pool, ctx, &up, sizeof up, NULL, 0)) ||
                    (rc = call(&c, RGPU_ID_rgpu_dtoh_pool, ctx, &down, sizeof down, NULL, 0)) ||
                    (rc = call(&c, RGPU_ID_cuCtxSynchronize, ctx, NULL, 0, NULL, 0)))
                    FAIL("copies through registered pool memory: %d", rc);
                else if (memcmp(pool, pool + 8192, 4096) != 0)
                    FAIL("the bytes copied through the pool differ");
                /* a 2D copy whose host rows run past the extent, or whose size wraps */
                struct {
                    CUDA_MEMCPY2D cp;
                    uint32_t src_z, dst_z;
                    uint64_t off, stream;
                } c2 = {.cp = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcPitch = 4096, .dstMemoryType =
                                   CU_MEMORYTYPE_DEVICE, .dstDevice = dptr, .dstPitch = 16, .WidthInBytes = 16,
                               .Height = 2}};
                if ((rc = call(&c, RGPU_ID_rgpu_memcpy2d_pool, ctx, &c2, sizeof c2, NULL, 0)) != CUDA_ERROR_INVALID_VALUE)
                    FAIL("2D copy with rows past the extent: got %d", rc);
                c2.cp.srcPitch = UINT64_MAX / 2;
                c2.cp.Height = 3;
                if ((rc = call(&c, RGPU_ID_rgpu_memcpy2d_pool, ctx, &c2, sizeof c2, NULL, 0)) != CUDA_ERROR_INVALID_VALUE)
                    FAIL("2D copy with a wrapping span: got %d", rc);
                c2.cp.srcPitch = 16;
                c2.cp.Height = 2;
                c2.cp.srcY = 1;
                if ((rc = call(&c, RGPU_ID_rgpu_memcpy2d_pool, ctx, &c2, sizeof c2, NULL, 0)))
                    FAIL("2D copy inside the extent: got %d", rc);
                uint64_t off = 8192 * 4;
                if ((rc = call(&c, RGPU_ID_rgpu_hostpool_unregister, ctx, &off, sizeof off, NULL, 0)) !=
                    CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED)
                    FAIL("unregistering what was never registered: got %d", rc);
                off = 0;
                if ((rc = call(&c, RGPU_ID_rgpu_hostpool_unregister, ctx, &off, sizeof off, NULL, 0)))
                    FAIL("unregistering: got %d", rc);
                if ((rc = call(&c, RGPU_ID_rgpu_htod_pool, ctx, &up, sizeof up, NULL, 0)) != CUDA_ERROR_INVALID_VALUE)
                    FAIL("copy from an unregistered extent: got %d", rc);
                if (ftruncate(c.poolfd, 4096) == 0)
                    FAIL("the pool's memfd could be shrunk (not sealed)");
            }
        }
        if (pool && pool != MAP_FAILED)
            munmap(pool, c.pool);
        if (c.fd >= 0) {
            /* the connection is still served: close it ourselves */
            if (c.base && c.base != MAP_FAILED)
                munmap(c.base, HDR_SIZE + 2 * c.ring);
            close(c.memfd);
            if (c.poolfd >= 0)
                close(c.poolfd);
            close(c.fd);
            still_serves("pool offsets");
        }
    }

    if (failures) {
        fprintf(stderr, "robust_shm: %d failure(s)\n", failures);
        return 1;
    }
    fprintf(stderr, "robust_shm: all checks passed\n");
    return 0;
}
