/*
 * devprint.c — device printf on a backend that prints by itself: NVIDIA's
 * driver writes a kernel's printf text to the process's stdout (fd 1) when a
 * synchronising call flushes it. The worker is that process, so its fd 1
 * becomes a pipe, and a thread forwards what arrives as PRINT messages, as
 * the CPU device's text goes (worker.c, forward_print).
 *
 * Order: the text a synchronising call flushed must reach the client before
 * that call's reply (a program prints, synchronises, then reads its output).
 * The driver has written it into the pipe before the call returns;
 * devprint_flush, before every reply, waits until the pipe is empty and the
 * thread has sent what it read. The thread reads all the while, so a flush
 * larger than the pipe never blocks the driver.
 */
#define _GNU_SOURCE
#include "devprint.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

static int rd = -1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
static bool busy; /* the thread holds text it has not sent yet */
static bool gone; /* the thread has stopped: nobody to wait for */

static void *forward_main(void *p)
{
    struct worker *w = p;
    static char buf[65536];
    for (;;) {
        struct pollfd pfd = {.fd = rd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        pthread_mutex_lock(&mu);
        busy = true;
        pthread_mutex_unlock(&mu);
        ssize_t n;
        while ((n = read(rd, buf, sizeof buf)) > 0) {
            struct rgpu_hdr h = {.type = RGPU_MSG_PRINT};
            struct rgpu_wbuf wb;
            rgpu_wbuf_init(&wb);
            rgpu_wbuf_bulk(&wb, buf, (uint64_t)n);
            worker_send(w, &h, &wb);
        }
        pthread_mutex_lock(&mu);
        busy = false;
        pthread_cond_broadcast(&idle);
        pthread_mutex_unlock(&mu);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            pthread_mutex_lock(&mu);
            gone = true; /* no writer left, or a broken pipe: nothing more will come */
            pthread_cond_broadcast(&idle);
            pthread_mutex_unlock(&mu);
            return NULL;
        }
    }
}

bool devprint_start(struct worker *w)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        return false;
    /* the driver's text arrives on fd 1; the read end is never blocking, so
     * the thread stops reading when the pipe is empty */
    if (dup2(p[1], 1) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
        close(p[0]);
        close(p[1]);
        return false;
    }
    close(p[1]);
    rd = p[0];
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    bool ok = pthread_create(&th, &at, forward_main, w) == 0;
    pthread_attr_destroy(&at);
    if (!ok) {
        rgpu_warn("device printf: no forwarding thread; kernels' text is lost");
        gone = true;
    }
    return ok;
}

void devprint_flush(void)
{
    if (rd < 0)
        return;
    pthread_mutex_lock(&mu);
    for (;;) {
        int pending = 0;
        if (gone || (!busy && (ioctl(rd, FIONREAD, &pending) < 0 || pending == 0)))
            break;
        /* bounded: the thread may not have seen the text yet (it broadcasts
         * only after a round), so look again shortly */
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += 1000000;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&idle, &mu, &t);
    }
    pthread_mutex_unlock(&mu);
}
