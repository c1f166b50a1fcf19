/*
 * test_shm.c — the shared-memory rings (wire/shm.c) end to end in one
 * process: both ends of a socketpair get rings as a shm: client and server
 * would, then byte streams far larger than the (smallest) ring go both ways
 * at once through the same helpers the wire uses (rgpu_writev_full,
 * rgpu_read_full, rgpu_poll_in), a closed peer reads as end of stream, and
 * a plain peer on either side is turned away without waiting; the host-
 * memory pool is the same memory on both ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "net.h"
#include "shm.h"

#define TOTAL (24u << 20) /* bytes each way: ~380 times round a 64 KiB ring */

struct pair {
    int c, s;
};

static void *serve_setup(void *p)
{
    struct pair *pr = p;
    char err[256];
    intptr_t rc = rgpu_shm_server(pr->s, err, sizeof err);
    return (void *)rc;
}

static void open_pair(struct pair *pr)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pr->c = sv[0];
    pr->s = sv[1];
    pthread_t t;
    void *rc;
    char err[256];
    assert_int_equal(pthread_create(&t, NULL, serve_setup, pr), 0);
    assert_int_equal(rgpu_shm_client(pr->c, err, sizeof err), 0);
    pthread_join(t, &rc);
    assert_int_equal((intptr_t)rc, 0);
    assert_non_null(rgpu_shm_of(pr->c));
    assert_non_null(rgpu_shm_of(pr->s));
}

static uint8_t pattern(uint64_t i, unsigned seed) { return (uint8_t)((i * 2654435761u) >> 13 ^ seed); }

struct stream {
    int fd;
    unsigned seed;
    int rc;
};

/* pieces of odd sizes, several per writev, so copies straddle the ring's end */
static void *writer(void *p)
{
    struct stream *st = p;
    uint8_t *buf = malloc(300000);
    uint64_t off = 0, rnd = st->seed;
    while (off < TOTAL && st->rc == 0) {
        struct iovec iov[3];
        size_t used = 0;
        int n = 0;
        for (; n < 3 && off < TOTAL; n++) {
            rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
            size_t k = 1 + (size_t)(rnd >> 33) % 99999;
            if (k > TOTAL - off)
                k = TOTAL - off;
            for (size_t i = 0; i < k; i++)
                buf[used + i] = pattern(off + i, st->seed);
            iov[n] = (struct iovec){buf + used, k};
            used += k;
            off += k;
        }
        st->rc = rgpu_writev_full(st->fd, iov, n);
    }
    free(buf);
    return NULL;
}

static int read_check(int fd, unsigned seed)
{
    uint8_t *buf = malloc(70001);
    uint64_t off = 0;
    int bad = 0;
    while (off < TOTAL && !bad) {
        size_t k = 1 + (size_t)(off * 7919 % 70000);
        if (k > TOTAL - off)
            k = TOTAL - off;
        if (rgpu_read_full(fd, buf, k))
            return -1;
        for (size_t i = 0; i < k; i++)
            bad |= buf[i] != pattern(off + i, seed);
        off += k;
    }
    free(buf);
    return bad;
}

static void both_ways(void **state)
{
    (void)state;
    struct pair pr;
    open_pair(&pr);
    assert_int_equal(rgpu_poll_in(pr.s, 0), 0); /* nothing sent yet, peer alive */
    struct stream up = {pr.c, 1, 0}, down = {pr.s, 2, 0};
    pthread_t tu, td;
    assert_int_equal(pthread_create(&tu, NULL, writer, &up), 0);
    assert_int_equal(pthread_create(&td, NULL, writer, &down), 0);
    assert_int_equal(read_check(pr.s, 1), 0);
    assert_int_equal(read_check(pr.c, 2), 0);
    pthread_join(tu, NULL);
    pthread_join(td, NULL);
    assert_int_equal(up.rc, 0);
    assert_int_equal(down.rc, 0);
    rgpu_close(pr.c);
    rgpu_close(pr.s);
}

/* what was written before the peer went is still read, then end of stream */
static void peer_gone(void **state)
{
    (void)state;
    struct pair pr;
    open_pair(&pr);
    char msg[] = "last words";
    struct iovec iov = {msg, sizeof msg};
    assert_int_equal(rgpu_writev_full(pr.c, &iov, 1), 0);
    rgpu_close(pr.c);
    assert_true(rgpu_poll_in(pr.s, -1) > 0);
    char got[sizeof msg];
    assert_int_equal(rgpu_read_full(pr.s, got, sizeof got), 0);
    assert_string_equal(got, msg);
    errno = EINVAL;
    assert_int_equal(rgpu_read_full(pr.s, got, 1), -1);
    assert_int_equal(errno, 0); /* a clean end, not an error */
    /* a writer blocked on a full ring notices too */
    static char big[1 << 20];
    struct iovec biov = {big, sizeof big};
    assert_int_equal(rgpu_writev_full(pr.s, &biov, 1), -1);
    assert_int_equal(errno, EPIPE);
    rgpu_close(pr.s);
}

/* A plain (unix:) server reads the setup request as a frame header, finds
 * it invalid and closes: the shm: client fails at once instead of waiting. */
static void *plain_server(void *p)
{
    int fd = *(int *)p;
    char hdr[48];
    ssize_t r = recv(fd, hdr, sizeof hdr, MSG_WAITALL);
    close(fd);
    return (void *)(intptr_t)r;
}

static void plain_peers(void **state)
{
    (void)state;
    int sv[2];
    char err[256];
    pthread_t t;
    void *r;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(pthread_create(&t, NULL, plain_server, &sv[1]), 0);
    assert_int_equal(rgpu_shm_client(sv[0], err, sizeof err), -1);
    pthread_join(t, &r);
    assert_int_equal((intptr_t)r, 48);
    assert_null(rgpu_shm_of(sv[0]));
    close(sv[0]);
    /* and a plain client's HELLO at a shm: server is refused */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    char hello[48] = "RGPU";
    assert_int_equal(send(sv[0], hello, sizeof hello, 0), 48);
    assert_int_equal(rgpu_shm_server(sv[1], err, sizeof err), -1);
    assert_null(rgpu_shm_of(sv[1]));
    close(sv[0]);
    close(sv[1]);
}

/* The host-memory pool: both ends map the same memory (one process here,
 * so at two addresses: the server's slot is taken when the client asks for
 * it), of the size asked; RGPU_SHM_POOL_MIB=0 offers none. */
static void pool(void **state)
{
    (void)state;
    setenv("RGPU_SHM_POOL_MIB", "64", 1);
    struct pair pr;
    open_pair(&pr);
    size_t cn = 0, sn = 0;
    uint8_t *cp = rgpu_shm_pool(pr.c, &cn), *sp = rgpu_shm_pool(pr.s, &sn);
    assert_non_null(cp);
    assert_non_null(sp);
    assert_int_equal(cn, 64u << 20);
    assert_int_equal(sn, 64u << 20);
    assert_ptr_not_equal(cp, sp);
    assert_false(rgpu_shm_pool_shared_address(pr.c));
    cp[12345] = 0x5a;
    sp[(64u << 20) - 1] = 0xa5;
    assert_int_equal(sp[12345], 0x5a);
    assert_int_equal(cp[(64u << 20) - 1], 0xa5);
    rgpu_close(pr.c);
    rgpu_close(pr.s);

    setenv("RGPU_SHM_POOL_MIB", "0", 1);
    open_pair(&pr);
    assert_null(rgpu_shm_pool(pr.c, &cn));
    assert_int_equal(cn, 0);
    assert_null(rgpu_shm_pool(pr.s, &sn));
    rgpu_close(pr.c);
    rgpu_close(pr.s);
    unsetenv("RGPU_SHM_POOL_MIB");
}

int main(void)
{
    setenv("RGPU_SHM_RING", "65536", 1); /* the smallest ring: many wrap-arounds */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_ways),
        cmocka_unit_test(peer_gone),
        cmocka_unit_test(plain_peers),
        cmocka_unit_test(pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
