/*
 * test_devprint.c — server/devprint.c: what the process writes to its fd 1
 * (NVIDIA's driver writes device printf there) reaches the client as PRINT
 * messages, and devprint_flush returns only once everything written before it
 * has been sent — also text larger than a pipe holds, which the driver must be
 * able to write without waiting for the flush.
 *
 * fd 1 becomes a pipe, so each case runs in a child process whose messages
 * go to the parent through a socketpair (worker_send is stubbed here to write
 * them there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "devprint.h"
#include "net.h"
#include "worker.h"

/* the one function of worker.c that devprint.c uses: the PRINT goes out on w->fd */
int worker_send(struct worker *w, struct rgpu_hdr *h, const struct rgpu_wbuf *wb)
{
    h->magic = RGPU_MAGIC;
    return rgpu_send_msg(w->fd, h, wb);
}

/* The child: write `total` bytes of text to fd 1 in lines, flush, then say
 * FLUSHED on the socket (after the flush: it must come after the text). */
static void child(int sock, size_t total)
{
    static struct worker w;
    w.fd = sock;
    if (!devprint_start(&w))
        _exit(2);
    size_t done = 0;
    char line[64];
    for (int i = 0; done < total; i++) {
        int n = snprintf(line, sizeof line, "line %06d of device printf text\n", i);
        if ((size_t)n > total - done)
            n = (int)(total - done);
        if (write(1, line, (size_t)n) != n)
            _exit(3);
        done += (size_t)n;
    }
    devprint_flush();
    struct rgpu_hdr h = {.type = RGPU_MSG_REPLY, .seq = 77};
    worker_send(&w, &h, NULL);
    _exit(0);
}

/* The parent: PRINT bulk until the marker; returns the text's length. */
static size_t receive(int sock, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        struct rgpu_hdr h;
        assert_int_equal(rgpu_read_full(sock, &h, sizeof h), 0);
        if (h.type == RGPU_MSG_REPLY) {
            assert_int_equal(h.seq, 77);
            return got;
        }
        assert_int_equal(h.type, RGPU_MSG_PRINT);
        assert_int_equal(h.args_len, 0);
        assert_true(got + h.bulk_len <= cap);
        assert_int_equal(rgpu_read_full(sock, buf + got, h.bulk_len), 0);
        got += h.bulk_len;
    }
}

static void run_case(size_t total)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[1]);
        child(sv[0], total);
    }
    close(sv[0]);
    char *buf = malloc(total + 1);
    assert_non_null(buf);
    size_t got = receive(sv[1], buf, total);
    assert_int_equal(got, total);
    assert_memory_equal(buf, "line 000000 of device printf text\n", total < 34 ? total : 34);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(sv[1]);
    free(buf);
}

static void short_text(void **state) { run_case(100); }
/* more than a pipe holds (64 KiB): the writer must not wait for the flush */
static void text_larger_than_a_pipe(void **state) { run_case(1u << 20); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(short_text),
        cmocka_unit_test(text_larger_than_a_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
