/*
 * robust_util.h — process helpers for the robustness tests: the server's pid
 * (exported by run_with_server.sh), its worker processes, running another
 * program with a timeout. Linux only (reads /proc).
 */
#ifndef RGPU_IT_ROBUST_UTIL_H
#define RGPU_IT_ROBUST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the raw-protocol tests count their failures here (FAIL prints file and line) */
__attribute__((unused)) static int failures;
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

static inline double ru_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void ru_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* pid of rgpud, from RGPU_TEST_SERVER_PID (set by run_with_server.sh) */
static inline pid_t ru_server_pid(void)
{
    const char *e = getenv("RGPU_TEST_SERVER_PID");
    if (!e || atoi(e) <= 0) {
        fprintf(stderr, "FAIL: RGPU_TEST_SERVER_PID is not set; run this test through run_with_server.sh\n");
        exit(1);
    }
    return (pid_t)atoi(e);
}

/* state letter and parent of a process from /proc/<pid>/stat; 0 if it is gone */
static inline char ru_proc_state(pid_t pid, pid_t *ppid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *rp = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
    char st = 0;
    int pp = 0;
    if (!rp || sscanf(rp + 1, " %c %d", &st, &pp) != 2)
        return 0;
    if (ppid)
        *ppid = (pid_t)pp;
    return st;
}

/* direct children of pid (zombies included); returns how many were found */
static inline int ru_children(pid_t parent, pid_t *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end || v <= 0)
            continue;
        pid_t pp = 0;
        if (ru_proc_state((pid_t)v, &pp) && pp == parent && n < max)
            out[n++] = (pid_t)v;
    }
    closedir(d);
    return n;
}

static inline int ru_contains(const pid_t *set, int n, pid_t p)
{
    for (int i = 0; i < n; i++)
        if (set[i] == p)
            return 1;
    return 0;
}

/* wait until pid is gone entirely (reaped); 1 if so within seconds.
 * *zombie is set when it was last seen as an unreaped zombie. */
static inline int ru_wait_gone(pid_t pid, double seconds, int *zombie)
{
    double t0 = ru_now();
    *zombie = 0;
    for (;;) {
        char st = ru_proc_state(pid, NULL);
        if (!st)
            return 1;
        *zombie = st == 'Z';
        if (ru_now() - t0 > seconds)
            return 0;
        ru_sleep_ms(20);
    }
}

/* run argv with a timeout; returns its exit status, or -1 on timeout/signal */
static inline int ru_run(char *const argv[], double timeout_s, int quiet)
{
    pid_t c = fork();
    if (c < 0)
        return -1;
    if (c == 0) {
        if (quiet) {
            FILE *nul = freopen("/dev/null", "w", stdout);
            (void)nul;
        }
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    double t0 = ru_now();
    int status;
    for (;;) {
        pid_t r = waitpid(c, &status, WNOHANG);
        if (r == c)
            break;
        if (ru_now() - t0 > timeout_s) {
            fprintf(stderr, "%s: still running after %.0f s, killing it\n", argv[0], timeout_s);
            kill(c, SIGKILL);
            waitpid(c, &status, 0);
            return -1;
        }
        ru_sleep_ms(10);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    fprintf(stderr, "%s: killed by signal %d\n", argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

#endif
