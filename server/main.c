/*
 * main.c — rgpud: listen, fork one worker per connection, reap workers.
 *
 * The parent never initialises a backend (a CUDA driver does not survive
 * fork); it only probes the NVIDIA driver in a short-lived child to resolve
 * --backend auto. Workers share one page of memory with the parent: the CPU
 * device's memory accounting across tenants and the --memory-limit count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "backend.h"
#include "cpudev.h"
#include "imagecache.h"
#include "log.h"
#include "net.h"
#include "shm.h"
#include "nvml_backend.h"
#include "quota.h"
#include "stats.h"
#include "worker.h"

#define MAX_LISTEN 8
#define MAX_WORKERS RGPU_MAX_WORKERS

static struct shared_stats *stats;

static int slot_claim(void)
{
    for (int i = 0; i < MAX_WORKERS; i++) {
        int free_ = 0;
        if (atomic_compare_exchange_strong(&stats->slot[i].pid, &free_, -1))
            return i;
    }
    return -1;
}

static void slot_release(int i)
{
    atomic_fetch_sub(&stats->used, atomic_exchange(&stats->slot[i].used, 0));
    atomic_fetch_sub(&stats->charged, atomic_exchange(&stats->slot[i].charged, 0));
    atomic_store(&stats->slot[i].contexts, 0);
    atomic_store(&stats->slot[i].pid, 0);
}

static void reap(void)
{
    pid_t pid;
    int st;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        /* a worker ends by exiting, whatever its client sent: a signal is a
         * defect in rgpud (or an operator's kill) worth a line in the log */
        if (WIFSIGNALED(st))
            rgpu_warn("worker %d was killed by signal %d (%s)", (int)pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
        for (int i = 0; i < MAX_WORKERS; i++)
            if (atomic_load(&stats->slot[i].pid) == pid) {
                slot_release(i);
                break;
            }
    }
}

static volatile sig_atomic_t stopping;
static void on_stop(int sig) { stopping = 1; }
static void on_child(int sig) {}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rgpud [options]\n"
            "Serve CUDA driver calls from rgpu clients (libcuda.so.1).\n\n"
            "  --listen ADDR      unix:/path, shm:/path (same-host shared memory) or tcp:HOST:PORT;\n"
            "                     repeatable (default %s)\n"
            "  --backend KIND     nvidia, cpu or auto (default auto: nvidia if the NVIDIA\n"
            "                     driver loads and reports a device, else cpu)\n"
            "  --log-level LEVEL  error, warn, info or debug (default warn; env RGPU_LOG)\n"
            "  --cpu-mem SIZE     CPU device memory, e.g. 8G or 512M (default: half of RAM)\n"
            "  --cpu-name NAME    CPU device name\n"
            "  --cpu-cc X.Y       CPU device compute capability (default 13.0)\n"
            "  --cpu-sms N        CPU device multiprocessor count (default: host cores)\n"
            "  --image-cache SIZE module images kept for all clients (default 1G)\n"
            "  --memory-limit SIZE\n"
            "                     device memory all clients of this rgpud may hold together;\n"
            "                     they see it as the device's total (default: no limit)\n"
            "  --token-file PATH  admit only clients that prove they hold this file's secret\n"
            "                     (their RGPU_TOKEN_FILE: 16 to 256 bytes; authenticates, does\n"
            "                     not encrypt)\n"
            "  --help             this text\n\n"
            "Environment: RGPU_NVIDIA_LIB names the NVIDIA driver to load (default libcuda.so.1);\n"
            "RGPU_BUFPOOL_IDLE_MIB bounds each worker's idle copy buffers (default 1024);\n"
            "RGPU_SHM_RING sets the shm: ring size in bytes (a power of two); RGPU_STAGED_COPIES=1\n"
            "makes the CPU device copy through pinned staging in chunks as the nvidia backend does.\n",
            RGPU_DEFAULT_SERVER);
}

static uint64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    uint64_t m = 1;
    switch (*end) {
    case 'k': case 'K': m = 1ull << 10; end++; break;
    case 'm': case 'M': m = 1ull << 20; end++; break;
    case 'g': case 'G': m = 1ull << 30; end++; break;
    case 't': case 'T': m = 1ull << 40; end++; break;
    }
    if (*end == 'i' || *end == 'B')
        end++;
    if (*end || v <= 0)
        return 0;
    return (uint64_t)(v * (double)m);
}

/* Run the NVIDIA probe in a child so the parent stays CUDA-free. */
static enum rgpu_nvidia_probe probe_nvidia(char *err, size_t errlen)
{
    int p[2];
    if (pipe(p)) {
        snprintf(err, errlen, "no pipe to probe the NVIDIA driver: %s", strerror(errno));
        return RGPU_NVIDIA_UNUSABLE;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        char e[256] = "";
        enum rgpu_nvidia_probe got = rgpu_backend_nvidia_probe(e, sizeof e);
        ssize_t wr = write(p[1], e, strlen(e));
        (void)wr;
        _exit((int)got);
    }
    close(p[1]);
    ssize_t n = pid > 0 ? read(p[0], err, errlen - 1) : -1;
    err[n > 0 ? n : 0] = 0;
    close(p[0]);
    int st = 0;
    if (pid > 0)
        waitpid(pid, &st, 0);
    if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) <= RGPU_NVIDIA_ABSENT)
        return (enum rgpu_nvidia_probe)WEXITSTATUS(st);
    if (!err[0])
        snprintf(err, errlen, "probing the NVIDIA driver failed");
    return RGPU_NVIDIA_UNUSABLE;
}

static void ensure_parent_dir(const char *path)
{
    char dir[108];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        mkdir(dir, 0755);
    }
}

int main(int argc, char **argv)
{
    rgpu_log_init("rgpud");
    const char *listen_addrs[MAX_LISTEN];
    int nlisten = 0;
    const char *backend = "auto";
    struct cpudev_config cfg = {0};
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'}, {"backend", required_argument, 0, 'b'},
        {"log-level", required_argument, 0, 'v'}, {"cpu-mem", required_argument, 0, 'm'},
        {"cpu-name", required_argument, 0, 'n'}, {"cpu-cc", required_argument, 0, 'c'},
        {"cpu-sms", required_argument, 0, 's'}, {"image-cache", required_argument, 0, 'i'},
        {"token-file", required_argument, 0, 't'}, {"memory-limit", required_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    uint64_t image_cache = 1ull << 30, memory_limit = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'l':
            if (nlisten == MAX_LISTEN) {
                fprintf(stderr, "rgpud: at most %d --listen addresses\n", MAX_LISTEN);
                return 2;
            }
            listen_addrs[nlisten++] = optarg;
            break;
        case 'b': backend = optarg; break;
        case 'v':
            if (rgpu_log_parse_level(optarg) < 0) {
                fprintf(stderr, "rgpud: unknown log level '%s'\n", optarg);
                return 2;
            }
            rgpu_log_set_level(rgpu_log_parse_level(optarg));
            break;
        case 'm':
            if (!(cfg.mem_bytes = parse_size(optarg))) {
                fprintf(stderr, "rgpud: bad size '%s'\n", optarg);
                return 2;
            }
            break;
        case 'n': snprintf(cfg.name, sizeof cfg.name, "%s", optarg); break;
        case 'c':
            if (sscanf(optarg, "%d.%d", &cfg.cc_major, &cfg.cc_minor) != 2 || cfg.cc_major < 1) {
                fprintf(stderr, "rgpud: bad compute capability '%s'\n", optarg);
                return 2;
            }
            break;
        case 's': cfg.sm_count = atoi(optarg); break;
        case 'i':
            if (!(image_cache = parse_size(optarg))) {
                fprintf(stderr, "rgpud: bad size '%s'\n", optarg);
                return 2;
            }
            break;
        case 'q':
            if (!(memory_limit = parse_size(optarg))) {
                fprintf(stderr, "rgpud: bad size '%s'\n", optarg);
                return 2;
            }
            break;
        case 't': {
            struct rgpu_token t;
            char why[256];
            if (rgpu_token_load(optarg, &t, why, sizeof why)) {
                fprintf(stderr, "rgpud: %s\n", why);
                return 2;
            }
            worker_set_token(&t);
            rgpu_token_clear(&t);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (nlisten == 0)
        listen_addrs[nlisten++] = RGPU_DEFAULT_SERVER;

    char err[256] = "";
    bool use_nvidia;
    if (strcmp(backend, "nvidia") == 0) {
        if (probe_nvidia(err, sizeof err) != RGPU_NVIDIA_SERVES) {
            rgpu_err("%s", err);
            return 1;
        }
        use_nvidia = true;
    } else if (strcmp(backend, "cpu") == 0) {
        use_nvidia = false;
    } else if (strcmp(backend, "auto") == 0) {
        enum rgpu_nvidia_probe got = probe_nvidia(err, sizeof err);
        use_nvidia = got == RGPU_NVIDIA_SERVES;
        /* a GPU host whose driver cannot serve must not pass for a machine
         * without one: its clients would get the CPU device unawares */
        if (got == RGPU_NVIDIA_ABSENT)
            rgpu_info("using the CPU device: %s", err);
        else if (got == RGPU_NVIDIA_UNUSABLE)
            rgpu_warn("the NVIDIA driver is installed but cannot serve, using the CPU device instead: %s", err);
    } else {
        fprintf(stderr, "rgpud: unknown backend '%s' (nvidia, cpu or auto)\n", backend);
        return 2;
    }

    stats = mmap(NULL, sizeof *stats, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (stats == MAP_FAILED) {
        rgpu_err("mmap: %s", strerror(errno));
        return 1;
    }
    cfg.shared_used = &stats->used;
    quota_configure(memory_limit, &stats->charged);

    struct pollfd pfd[MAX_LISTEN];
    struct rgpu_addr addrs[MAX_LISTEN];
    for (int i = 0; i < nlisten; i++) {
        if (rgpu_addr_parse(listen_addrs[i], &addrs[i], err, sizeof err) < 0) {
            fprintf(stderr, "rgpud: %s\n", err);
            return 2;
        }
        if (addrs[i].is_unix)
            ensure_parent_dir(addrs[i].path);
        pfd[i].fd = rgpu_listen(&addrs[i], err, sizeof err);
        pfd[i].events = POLLIN;
        if (pfd[i].fd < 0) {
            rgpu_err("cannot listen: %s", err);
            return 1;
        }
        rgpu_log(RGPU_LOG_INFO, "listening on %s (backend %s)", listen_addrs[i], use_nvidia ? "nvidia" : "cpu");
    }
    if (memory_limit)
        rgpu_log(RGPU_LOG_INFO, "clients may hold %llu bytes of device memory together",
                 (unsigned long long)memory_limit);

    if (!imagecache_init(image_cache, err, sizeof err))
        rgpu_warn("%s; every client will send its module images", err);

    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_child;
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    while (!stopping) {
        reap();
        int n = poll(pfd, (nfds_t)nlisten, 1000);
        if (n < 0 && errno != EINTR) {
            rgpu_err("poll: %s", strerror(errno));
            break;
        }
        for (int i = 0; n > 0 && i < nlisten; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            int fd = rgpu_accept(pfd[i].fd);
            if (fd < 0)
                continue;
            int slot = slot_claim();
            if (slot < 0) {
                rgpu_err("more than %d workers; refusing a connection", MAX_WORKERS);
                close(fd);
                continue;
            }
            pid_t parent = getpid();
            pid_t pid = fork();
            if (pid == 0) {
                /* A worker does not outlive its server: killing rgpud ends every
                 * session and its clients see the connection close. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                    _exit(1);
                for (int j = 0; j < nlisten; j++)
                    close(pfd[j].fd);
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                signal(SIGCHLD, SIG_DFL);
                cfg.worker_used = &stats->slot[slot].used;
                cfg.worker_contexts = &stats->slot[slot].contexts;
                quota_worker(&stats->slot[slot].charged);
                const char *staged = getenv("RGPU_STAGED_COPIES");
                cfg.serial_host_funcs = staged && strcmp(staged, "1") == 0;
                static struct rgpu_backend be;
                static struct rgpu_nvml_backend nvml;
                bool ok = use_nvidia ? rgpu_backend_nvidia(&be, err, sizeof err)
                                     : rgpu_backend_cpu(&be, &cfg, err, sizeof err);
                if (!ok) {
                    rgpu_err("backend: %s", err);
                    _exit(1);
                }
                if (use_nvidia)
                    rgpu_nvml_backend_nvidia(&nvml);
                else
                    rgpu_nvml_backend_cpu(&nvml, stats);
                /* shm: the rings are set up here, in the worker, so a slow
                 * client never holds up the accept loop */
                if (addrs[i].is_shm && rgpu_shm_server(fd, err, sizeof err)) {
                    rgpu_err("%s", err);
                    _exit(1);
                }
                worker_run(fd, &be, &nvml);
            }
            if (pid < 0) {
                rgpu_err("fork: %s", strerror(errno));
                slot_release(slot);
            } else {
                atomic_store(&stats->slot[slot].pid, (int)pid);
                rgpu_info("worker %d serves a new connection", (int)pid);
            }
            close(fd);
        }
    }
    for (int i = 0; i < nlisten; i++) {
        close(pfd[i].fd);
        if (addrs[i].is_unix)
            unlink(addrs[i].path);
    }
    /* A stopping server ends its workers (and only them: rgpud may share its
     * process group with whoever started it). */
    for (int i = 0; i < MAX_WORKERS; i++) {
        int pid = atomic_load(&stats->slot[i].pid);
        if (pid > 0)
            kill(pid, SIGTERM);
    }
    while (wait(NULL) > 0)
        ;
    imagecache_cleanup();
    return 0;
}
