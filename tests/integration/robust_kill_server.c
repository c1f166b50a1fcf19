/*
 * robust_kill_server.c — the server dies (SIGKILL, rgpud and its workers)
 * while this client is blocked in a call; the call must return an error
 * within LIMIT_S of the kill, and later calls must fail promptly too.
 *
 * usage: robust_kill_server hostfn|htod|dtoh   (through run_with_server.sh
 * with RGPU_TEST_SERVER_MAY_DIE=1; needs RGPU_TEST_SERVER_PID)
 *   hostfn  blocked in cuStreamSynchronize behind a long host function
 *   htod    in the middle of sending a 1 GiB host->device copy
 *   dtoh    in the middle of receiving a 1 GiB device->host copy
 * Then a synchronous 1 GiB copy and a few small calls must fail fast too.
 * SIGPIPE reaching the program is reported as a failure.
 */
#include "check.h"
#include "gate.h"
#include "robust_util.h"

#include <sys/syscall.h>

/* "Promptly": far below any TCP or keepalive timeout (minutes), far above
 * what a loaded 2-core CI machine needs (2 s proved flaky under a parallel
 * test run). A bound against hanging, not a performance check. */
#define LIMIT_S 10.0

static pid_t srv;
static double t_kill;
static atomic_int killed;

/* SIGKILL rgpud and all its descendants (its workers) */
static void kill_server_tree(void)
{
    pid_t all[512];
    int n = 0;
    all[n++] = srv;
    for (int i = 0; i < n && n < 512; i++) {
        pid_t kids[256];
        int k = ru_children(all[i], kids, 256);
        for (int j = 0; j < k && n < 512; j++)
            all[n++] = kids[j];
    }
    t_kill = it_now();
    for (int i = 0; i < n; i++)
        kill(all[i], SIGKILL);
    atomic_store(&killed, 1);
    fprintf(stderr, "robust_kill_server: killed rgpud %d and %d descendant(s)\n", (int)srv, n - 1);
}

static void *killer(void *p)
{
    it_sleep_ms((unsigned)(uintptr_t)p);
    kill_server_tree();
    return NULL;
}

/* Is some thread of this process blocked in a write-family system call
 * (sending bulk data to the server)? -1 if /proc cannot tell. */
static int sending_now(void)
{
    /* over shared memory the client sends without system calls */
    const char *srv = getenv("RGPU_SERVER");
    if (srv && strncmp(srv, "shm:", 4) == 0)
        return -1;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int found = 0, readable = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], buf[64];
        snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(buf, sizeof buf, f)) {
            readable = 1;
            long nr = strtol(buf, NULL, 10);
            found = nr == SYS_write || nr == SYS_writev || nr == SYS_sendto || nr == SYS_sendmsg;
        }
        fclose(f);
    }
    closedir(d);
    return readable ? found : -1;
}

/* htod: kill once the client is seen in the middle of sending (fallback: after delay) */
static atomic_int loop_started;
static void *killer_mid_send(void *p)
{
    unsigned fallback_ms = (unsigned)(uintptr_t)p;
    while (!atomic_load(&loop_started))
        it_sleep_ms(1);
    double t0 = it_now();
    for (;;) {
        int sn = sending_now();
        if (sn == 1) {
            it_sleep_ms(20); /* well inside the transfer */
            fprintf(stderr, "robust_kill_server: the client is sending; killing the server\n");
            break;
        }
        if (sn < 0 || it_now() - t0 > 30) {
            it_sleep_ms(fallback_ms);
            fprintf(stderr, "robust_kill_server: cannot see the client sending; killing the server after %u ms\n",
                    fallback_ms);
            break;
        }
        it_sleep_ms(1);
    }
    kill_server_tree();
    return NULL;
}

/* a call made while/after the server is dead: an error, within LIMIT_S */
static void check_fails_fast(CUresult r, double t_ret, const char *what)
{
    double dt = t_ret - t_kill;
    printf("robust_kill_server: %s returned %s %.3f s after the kill\n", what, it_errname(r), dt);
    if (r == CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "%s returned CUDA_SUCCESS after the server was killed", what);
    if (dt > LIMIT_S)
        it_fail(__FILE__, __LINE__, "%s returned %.3f s after the server was killed (limit %.1f s)", what, dt,
                LIMIT_S);
}

static void later_calls_fail_fast(CUstream s)
{
    CUdeviceptr d;
    unsigned char b[16] = {0};
    double t0 = it_now();
    CUresult r = cuMemAlloc(&d, 4096);
    double t1 = it_now();
    if (r == CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "cuMemAlloc after the server died returned CUDA_SUCCESS");
    if (t1 - t0 > LIMIT_S)
        it_fail(__FILE__, __LINE__, "cuMemAlloc after the server died took %.3f s", t1 - t0);
    t0 = it_now();
    r = cuStreamQuery(s);
    t1 = it_now();
    if (r == CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "cuStreamQuery after the server died returned CUDA_SUCCESS");
    if (t1 - t0 > LIMIT_S)
        it_fail(__FILE__, __LINE__, "cuStreamQuery after the server died took %.3f s", t1 - t0);
    t0 = it_now();
    r = cuMemcpyHtoD((CUdeviceptr)0x1000, b, sizeof b);
    t1 = it_now();
    if (r == CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "cuMemcpyHtoD after the server died returned CUDA_SUCCESS");
    if (t1 - t0 > LIMIT_S)
        it_fail(__FILE__, __LINE__, "cuMemcpyHtoD after the server died took %.3f s", t1 - t0);
    t0 = it_now();
    r = cuCtxSynchronize();
    t1 = it_now();
    if (r == CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "cuCtxSynchronize after the server died returned CUDA_SUCCESS");
    if (t1 - t0 > LIMIT_S)
        it_fail(__FILE__, __LINE__, "cuCtxSynchronize after the server died took %.3f s", t1 - t0);
}

static int mode_hostfn(CUstream s)
{
    /* static: the host function still touches the gate after gate_open(),
     * possibly after this function has returned */
    static struct gate g;
    gate_init(&g);
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, 1 << 20));
    CHECK(cuLaunchHostFunc(s, gate_fn, &g));
    CHECK(cuMemsetD8Async(d, 1, 1 << 20, s));
    ASSERT_TRUE(gate_wait_entered(&g, 10));
    pthread_t th;
    ASSERT_TRUE(pthread_create(&th, NULL, killer, (void *)(uintptr_t)300) == 0);
    CUresult r = cuStreamSynchronize(s); /* blocked behind the host function */
    double t = it_now();
    pthread_join(th, NULL);
    check_fails_fast(r, t, "cuStreamSynchronize behind a host function");
    gate_open(&g); /* let the host function finish */
    later_calls_fail_fast(s);
    return 0;
}

/*
 * Big transfers: measure one 1 GiB transfer, then loop the same transfer and
 * kill the server half-way through one of them, so the client is caught in
 * the middle of sending (htod) or receiving (dtoh) the bulk data.
 */
static int mode_copy(CUstream s, int htod)
{
    const char *e = getenv("RGPU_TEST_BIG_MIB");
    size_t n = (e && atoi(e) > 0 ? (size_t)atoi(e) : 1024) << 20;
    const char *what = htod ? "cuMemcpyHtoDAsync (1 GiB) + cuStreamSynchronize"
                            : "cuMemcpyDtoHAsync (1 GiB) + cuStreamSynchronize";
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, n));
    unsigned char *h = it_xmalloc(n);
    it_fill(h, n, 11);
    CHECK(cuMemcpyHtoD(d, h, n)); /* first touch of the device memory */

    double t0 = it_now();
    if (htod)
        CHECK(cuMemcpyHtoDAsync(d, h, n, s));
    else
        CHECK(cuMemcpyDtoHAsync(h, d, n, s));
    CHECK(cuStreamSynchronize(s));
    double one = it_now() - t0;
    printf("robust_kill_server: one %zu MiB %s took %.3f s\n", n >> 20, htod ? "HtoD" : "DtoH", one);

    pthread_t th;
    unsigned delay_ms = (unsigned)(one * 1000 / 2);
    if (delay_ms < 20)
        delay_ms = 20;
    ASSERT_TRUE(pthread_create(&th, NULL, htod ? killer_mid_send : killer, (void *)(uintptr_t)delay_ms) == 0);
    CUresult r = CUDA_SUCCESS;
    double t = 0;
    atomic_store(&loop_started, 1);
    for (int i = 0; i < 1000 && r == CUDA_SUCCESS; i++) {
        r = htod ? cuMemcpyHtoDAsync(d, h, n, s) : cuMemcpyDtoHAsync(h, d, n, s);
        if (r == CUDA_SUCCESS)
            r = cuStreamSynchronize(s);
        t = it_now();
        if (r == CUDA_SUCCESS && atomic_load(&killed) && t - t_kill > LIMIT_S) {
            it_fail(__FILE__, __LINE__, "transfers still succeed %.3f s after the server was killed", t - t_kill);
            break;
        }
    }
    pthread_join(th, NULL);
    check_fails_fast(r, t, what);

    /* a synchronous big copy against the dead server */
    t0 = it_now();
    r = htod ? cuMemcpyHtoD(d, h, n) : cuMemcpyDtoH(h, d, n);
    t = it_now();
    if (r == CUDA_SUCCESS)
        it_fail(__FILE__, __LINE__, "a synchronous 1 GiB copy to a dead server returned CUDA_SUCCESS");
    if (t - t0 > LIMIT_S)
        it_fail(__FILE__, __LINE__, "a synchronous 1 GiB copy to a dead server took %.3f s", t - t0);
    later_calls_fail_fast(s);
    free(h);
    return 0;
}

/* A CUDA program does not expect SIGPIPE from its driver; with the default
 * action it would die silently. Report it as a failure instead. */
static void on_sigpipe(int sig)
{
    static const char msg[] = "FAIL robust_kill_server.c: SIGPIPE delivered to the application: the client "
                              "library wrote to the dead server's socket without MSG_NOSIGNAL\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    (void)sig;
    _exit(1);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2 || (strcmp(argv[1], "hostfn") != 0 && strcmp(argv[1], "htod") != 0 &&
                      strcmp(argv[1], "dtoh") != 0)) {
        fprintf(stderr, "usage: %s hostfn|htod|dtoh\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, on_sigpipe);
    srv = ru_server_pid();
    CUdevice dev;
    CUcontext ctx;
    CUstream s;
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    if (strcmp(argv[1], "hostfn") == 0)
        mode_hostfn(s);
    else
        mode_copy(s, strcmp(argv[1], "htod") == 0);
    /* exit without tidying up: the server is gone */
    TEST_DONE();
}
