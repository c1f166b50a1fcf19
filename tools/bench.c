/*
 * bench.c — `rgpu bench`: rgpu measured against the raw transport it runs on,
 * in one run.
 *
 * rgpu's performance claims are ratios against the transport underneath,
 * measured by this program in the same run on the same machine, never
 * absolute numbers and never timing assertions in tests. For each transport
 * (a unix socket, loopback TCP, shared memory, or the --server addresses
 * given) it measures
 *
 *   raw   a private server on the same kind of transport (for shm: the same
 *         rings, wire/shm.c, without rgpu above them) that speaks rgpu's
 *         framing (48-byte header, then the arguments, then bulk bytes, each
 *         read with its own read(); rgpu reads through a buffer): ping-pong
 *         with rgpu's header alone
 *         and with the exact message sizes of the null call (encoded by
 *         wire/'s own codecs), a stream of launch-sized one-way messages, and
 *         N bytes up (sink) or down (source) followed by a header-only ack;
 *   rgpu  rgpu's libcuda.so.1 (dlopened, as `rgpu status` does) against
 *         rgpud: a synchronous null call (cuCtxGetApiVersion, SYNC in
 *         calls.def), empty-kernel launches (client time per cuLaunchKernel,
 *         and launches + cuCtxSynchronize end to end), and synchronous HtoD
 *         and DtoH copies (copy + synchronise) from pageable (malloc) and
 *         pinned (cuMemAllocHost) memory;
 *
 * and, in process, the CPU device alone (cpudev linked in): what an empty
 * launch costs with no wire at all, which is what "bounded by the backend"
 * is compared with (a helper process per transport, its rounds alternating
 * with rgpu's), and a plain memcpy of each copy size (the scale shm is held
 * to); once more at the start, for scale.
 *
 * Statistics: latencies are medians of individually timed operations; each
 * bandwidth is the size divided by the median time of its repetitions.
 * Whatever is compared is measured in alternation: null calls and raw
 * ping-pongs in rounds, launch rounds with the backend's and the raw
 * stream's, and every transfer of a size in turn in each of 5 rounds (small
 * sizes warmed once per turn) — a VM's speed drifts by tens of percent
 * within seconds, and separate phases measured that drift.
 *
 * Placement: client and server sides are pinned to CPUs, identically for
 * rgpu and raw (--placement, see pick_placement), because on a VM a wake-up
 * across CPUs can cost more than everything else in a round trip.
 *
 * Processes (why): the client library connects once per process (it reads
 * RGPU_SERVER at cuInit), so every transport is measured in its own forked
 * child; the raw server is a grandchild, a separate process as rgpud's worker
 * is. The parent only orchestrates: it starts rgpud when no --server is
 * given, holds every child to a deadline (killing it past that), and always
 * stops what it started, also on errors and signals. Children die with
 * their parent (PR_SET_PDEATHSIG); every socket has send/receive timeouts.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stddef.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "cpudev.h"
#include "net.h"
#include "shm.h"
#include "stats.h"
#include "rgpu_client.h"

#define MAX_SIZES 16
#define MAX_SERVERS 8
#define MIN_SIZE (4ull << 10)
#define IO_TIMEOUT_S 60     /* any single socket read or write of the raw transport */
#define BIG_SIZE (64ull << 20) /* the bandwidth target applies from here */

/* The targets of the issue, checked (informationally) at the end. */
#define TARGET_NULL_RATIO 1.15
#define TARGET_ISSUE_US 1.0
#define TARGET_RATE_FRACTION 0.90
#define TARGET_BW_FRACTION 0.90
#define TARGET_SHM_MEMCPY_FRACTION 0.70

/* An empty kernel: what a launch costs when the kernel itself costs nothing. */
static const char empty_ptx[] = ".version 7.0\n.target sm_75\n.address_size 64\n"
                                ".visible .entry rgpu_bench_empty()\n{\n\tret;\n}\n";

struct cfg {
    bool quick;
    uint64_t max_size;
    int null_iters;      /* timed synchronous calls, and as many raw ping-pongs of each kind */
    int launch_batches;  /* client issue cost: batches of launch_batch launches */
    int launch_batch;
    int launch_n;        /* launches per end-to-end measurement */
    uint64_t bw_budget;  /* bytes moved per bandwidth point (bounds the repetitions) */
    int bw_max_reps;
    int child_deadline_s;
    /* CPU placement, the same for rgpu and raw (see pick_placement). */
    const char *placement;
    cpu_set_t client_cpus, server_cpus;
    bool pin;
};

enum { PAGEABLE, PINNED };

/* What a transport child sends back through its pipe. */
struct tresult {
    int ok;
    char err[256];
    char backend[16];
    uint32_t null_req, null_rep, launch_req; /* message sizes, header included */
    double raw_rtt48_us, raw_rtt_null_us, null_call_us;
    double raw_msg_us;                       /* launch-sized one-way messages, streamed */
    double launch_issue_us, launch_e2e_us;
    double alone_e2e_us; /* the CPU device alone, rounds alternating with rgpu's; 0: not measured */
    int launch_batch;
    int nsizes, nlat;
    uint64_t size[MAX_SIZES];
    int reps[MAX_SIZES];
    double raw_up[MAX_SIZES], raw_down[MAX_SIZES]; /* bytes per second */
    double htod[2][MAX_SIZES], dtoh[2][MAX_SIZES];
    double memcpy_bps[MAX_SIZES]; /* in process, in the same rounds */
    double pipe_bps[MAX_SIZES];   /* the same, pipelined across two CPUs (shm, >= BIG_SIZE); 0: not measured */
};

/* What the backend child (the CPU device in process) sends back. */
struct bresult {
    int ok;
    char err[256];
    double launch_us;           /* empty launch + its share of a synchronisation */
    double htod_bps, dtoh_bps;  /* BIG_SIZE copies + synchronise */
    double memcpy_bps;          /* plain memcpy of BIG_SIZE, for scale */
};

/* run_child reports its own failures in either struct the same way. */
_Static_assert(offsetof(struct tresult, ok) == 0 && offsetof(struct bresult, ok) == 0 &&
                   offsetof(struct tresult, err) == offsetof(struct bresult, err),
               "result structs share their first two fields");

/* ---- small helpers ---- */

static const char *fmt_size(uint64_t n, char *buf, size_t len)
{
    if (n >= (1ull << 30) && n % (1ull << 30) == 0)
        snprintf(buf, len, "%llu GiB", (unsigned long long)(n >> 30));
    else if (n >= (1ull << 20) && n % (1ull << 20) == 0)
        snprintf(buf, len, "%llu MiB", (unsigned long long)(n >> 20));
    else if (n >= (1ull << 10) && n % (1ull << 10) == 0)
        snprintf(buf, len, "%llu KiB", (unsigned long long)(n >> 10));
    else
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    return buf;
}

/* "4K", "64M", "1G", "1GiB" or plain bytes; 0 if malformed. */
static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return 0;
    uint64_t m = 1;
    switch (*end) {
    case 'k': case 'K': m = 1ull << 10; end++; break;
    case 'm': case 'M': m = 1ull << 20; end++; break;
    case 'g': case 'G': m = 1ull << 30; end++; break;
    }
    if (m > 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
        end += strlen(end);
    if (*end || v > UINT64_MAX / m)
        return 0;
    return v * m;
}

static uint64_t meminfo_kib(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    uint64_t v = 0;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtoull(line + kl + 1, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

static void cpu_model(char *out, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[512];
    snprintf(out, len, "unknown CPU");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c += 1 + (c[1] == ' ');
                c[strcspn(c, "\n")] = 0;
                snprintf(out, len, "%s", c);
            }
            break;
        }
    if (f)
        fclose(f);
}

/* Other work on the machine skews every number: say how much there was. */
static const char *loadavg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "re");
    double a = -1, b = -1, c = -1;
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
            a = b = c = -1;
        fclose(f);
    }
    snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
    return buf;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void sock_timeouts(int fd)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Where the client side and the server side run. On a machine where waking
 * a thread on another, idle CPU is expensive (a VM: the idle vCPU must be
 * woken by the hypervisor, tens of microseconds), round trips depend more
 * on where the scheduler happened to put each thread than on the code, and
 * rgpu (more threads) and raw would not be compared alike. So both sides
 * are pinned, identically for rgpu and raw:
 *   split  client on the first allowed CPU, server on the others (as when
 *          the server is another machine); the default with 2+ CPUs
 *   same   everything on the first allowed CPU (hand-offs are context
 *          switches, nothing runs in parallel)
 *   free   no pinning: whatever the scheduler does. */
static int pick_placement(struct cfg *c, const char *how)
{
    cpu_set_t all;
    CPU_ZERO(&all);
    CPU_ZERO(&c->client_cpus);
    CPU_ZERO(&c->server_cpus);
    if (sched_getaffinity(0, sizeof all, &all) || CPU_COUNT(&all) < 1)
        return -1;
    int first = -1;
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
        if (CPU_ISSET(i, &all))
            first = i;
    if (!how)
        how = CPU_COUNT(&all) >= 2 ? "split" : "free";
    c->placement = how;
    c->pin = strcmp(how, "free") != 0;
    if (strcmp(how, "free") == 0) {
        c->client_cpus = c->server_cpus = all;
    } else if (strcmp(how, "same") == 0) {
        CPU_SET(first, &c->client_cpus);
        CPU_SET(first, &c->server_cpus);
    } else if (strcmp(how, "split") == 0 && CPU_COUNT(&all) >= 2) {
        CPU_SET(first, &c->client_cpus);
        c->server_cpus = all;
        CPU_CLR(first, &c->server_cpus);
    } else {
        return -1;
    }
    return 0;
}

static void pin_to(const struct cfg *c, const cpu_set_t *set)
{
    if (c->pin)
        sched_setaffinity(0, sizeof *set, set); /* inherited by threads created later, and across exec */
}

static void cpus_str(const cpu_set_t *set, char *out, size_t len)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < CPU_SETSIZE && o + 8 < len; i++)
        if (CPU_ISSET(i, set))
            o += (size_t)snprintf(out + o, len - o, "%s%d", o ? "," : "", i);
}

/* ---- the raw transport: a server speaking rgpu's framing, nothing else ---- */

enum raw_op { RAW_PING = 1, RAW_STREAM, RAW_SINK, RAW_SOURCE, RAW_PREPARE, RAW_RELEASE };

static int raw_send(int fd, struct rgpu_hdr *h, const void *args, uint32_t alen, const void *bulk, uint64_t blen)
{
    struct iovec iov[3];
    int n = 0;
    h->magic = RGPU_MAGIC;
    h->args_len = alen;
    h->bulk_len = blen;
    iov[n++] = (struct iovec){h, sizeof *h};
    if (alen)
        iov[n++] = (struct iovec){(void *)args, alen};
    if (blen)
        iov[n++] = (struct iovec){(void *)bulk, (size_t)blen};
    return rgpu_writev_full(fd, iov, n);
}

/* The raw server: reads a header, then its arguments (two reads, as rgpud's
 * reader does), then answers. Its bulk buffer is allocated and touched ahead
 * of the timed transfers (RAW_PREPARE), so raw bandwidth is the transport's,
 * without allocation or page-fault costs. */
static _Noreturn void raw_server(int lfd, bool shm)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = rgpu_accept(lfd);
    close(lfd);
    char err[256];
    if (fd < 0 || (shm && rgpu_shm_server(fd, err, sizeof err)))
        _exit(1);
    sock_timeouts(fd);
    uint8_t *args = calloc(1, RGPU_MAX_ARGS_LEN), *buf = NULL;
    uint64_t cap = 0;
    if (!args)
        _exit(1);
    for (;;) {
        struct rgpu_hdr h, out = {.type = RGPU_MSG_REPLY};
        if (rgpu_read_full(fd, &h, sizeof h))
            _exit(errno ? 1 : 0); /* end of the measurement */
        if (h.magic != RGPU_MAGIC || h.args_len > RGPU_MAX_ARGS_LEN || h.reserved > RGPU_MAX_ARGS_LEN ||
            rgpu_read_full(fd, args, h.args_len))
            _exit(1);
        out.call = h.call;
        out.seq = h.seq;
        int rc = 0;
        switch (h.call) {
        case RAW_PING: rc = raw_send(fd, &out, args, h.reserved, NULL, 0); break;
        case RAW_STREAM:
            if (!(h.flags & RGPU_F_NO_REPLY))
                rc = raw_send(fd, &out, NULL, 0, NULL, 0);
            break;
        case RAW_PREPARE:
            free(buf);
            cap = 0;
            if ((buf = malloc(h.ctx ? h.ctx : 1))) {
                memset(buf, 0x5a, h.ctx);
                cap = h.ctx;
            }
            out.result = buf ? 0 : 1;
            rc = raw_send(fd, &out, NULL, 0, NULL, 0);
            break;
        case RAW_RELEASE:
            free(buf);
            buf = NULL;
            cap = 0;
            rc = raw_send(fd, &out, NULL, 0, NULL, 0);
            break;
        case RAW_SINK:
            if (h.bulk_len > cap)
                _exit(1);
            rc = rgpu_read_full(fd, buf, h.bulk_len) || raw_send(fd, &out, NULL, 0, NULL, 0);
            break;
        case RAW_SOURCE: /* the size asked for travels in ctx */
            if (h.ctx > cap)
                _exit(1);
            rc = raw_send(fd, &out, NULL, 0, buf, h.ctx);
            break;
        default: _exit(1);
        }
        if (rc)
            _exit(1);
    }
}

struct raw {
    int fd;
    pid_t pid;
    uint8_t *scratch; /* arguments sent and received */
};

static int raw_reply(struct raw *r, struct rgpu_hdr *h)
{
    if (rgpu_read_full(r->fd, h, sizeof *h))
        return -1;
    if (h->magic != RGPU_MAGIC || h->type != RGPU_MSG_REPLY || h->result != 0 || h->args_len > RGPU_MAX_ARGS_LEN) {
        errno = EPROTO;
        return -1;
    }
    return h->args_len ? rgpu_read_full(r->fd, r->scratch, h->args_len) : 0;
}

/* A control operation; its parameter (a buffer size) travels in the header's
 * ctx field, which the raw server has no other use for. */
static int raw_op(struct raw *r, enum raw_op op, uint64_t param)
{
    struct rgpu_hdr h = {.type = RGPU_MSG_REQUEST, .call = op, .ctx = param};
    return raw_send(r->fd, &h, NULL, 0, NULL, 0) || raw_reply(r, &h) ? -1 : 0;
}

static int raw_ping(struct raw *r, uint32_t req_args, uint32_t rep_args)
{
    struct rgpu_hdr h = {.type = RGPU_MSG_REQUEST, .call = RAW_PING, .reserved = rep_args};
    return raw_send(r->fd, &h, r->scratch, req_args, NULL, 0) || raw_reply(r, &h) ? -1 : 0;
}

/* n one-way messages of req_args argument bytes, the last one acknowledged. */
static int raw_stream(struct raw *r, int n, uint32_t req_args)
{
    for (int i = 0; i < n; i++) {
        struct rgpu_hdr h = {.type = RGPU_MSG_REQUEST, .call = RAW_STREAM,
                             .flags = i + 1 < n ? RGPU_F_NO_REPLY : 0};
        if (raw_send(r->fd, &h, r->scratch, req_args, NULL, 0))
            return -1;
    }
    struct rgpu_hdr h;
    return raw_reply(r, &h);
}

static int raw_sink(struct raw *r, const void *p, uint64_t n)
{
    struct rgpu_hdr h = {.type = RGPU_MSG_REQUEST, .call = RAW_SINK};
    return raw_send(r->fd, &h, NULL, 0, p, n) || raw_reply(r, &h) ? -1 : 0;
}

static int raw_source(struct raw *r, void *p, uint64_t n)
{
    struct rgpu_hdr h = {.type = RGPU_MSG_REQUEST, .call = RAW_SOURCE, .ctx = n};
    if (raw_send(r->fd, &h, NULL, 0, NULL, 0) || rgpu_read_full(r->fd, &h, sizeof h))
        return -1;
    if (h.magic != RGPU_MAGIC || h.type != RGPU_MSG_REPLY || h.args_len || h.bulk_len != n) {
        errno = EPROTO;
        return -1;
    }
    return rgpu_read_full(r->fd, p, n);
}

/* A raw server on the same kind of socket as `server`: a fresh unix socket
 * in tmpdir, or a loopback TCP port. */
static int raw_open(struct raw *r, const struct rgpu_addr *server, const char *tmpdir, const struct cfg *c, char *err,
                    size_t errlen)
{
    struct rgpu_addr a;
    char spec[160];
    if (server->is_unix)
        snprintf(spec, sizeof spec, "%s:%s/raw.%d.sock", server->is_shm ? "shm" : "unix", tmpdir, (int)getpid());
    else
        snprintf(spec, sizeof spec, "tcp:127.0.0.1:0");
    if (rgpu_addr_parse(spec, &a, err, errlen) < 0)
        return -1;
    int lfd = rgpu_listen(&a, err, errlen);
    if (lfd < 0)
        return -1;
    if (!a.is_unix) {
        struct sockaddr_in sin;
        socklen_t sl = sizeof sin;
        if (getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0) {
            snprintf(err, errlen, "getsockname: %s", strerror(errno));
            close(lfd);
            return -1;
        }
        snprintf(a.port, sizeof a.port, "%d", ntohs(sin.sin_port));
    }
    r->scratch = calloc(1, RGPU_MAX_ARGS_LEN);
    r->pid = r->scratch ? fork() : -1;
    if (r->pid == 0) {
        pin_to(c, &c->server_cpus);
        raw_server(lfd, a.is_shm);
    }
    close(lfd);
    if (r->pid < 0) {
        snprintf(err, errlen, "cannot start the raw server: %s", strerror(errno));
        return -1;
    }
    r->fd = rgpu_connect(&a, err, errlen);
    if (a.is_unix)
        unlink(a.path); /* connected (or failed): the name is no longer needed */
    if (r->fd < 0)
        return -1;
    sock_timeouts(r->fd);
    return 0;
}

static void raw_close(struct raw *r)
{
    rgpu_close(r->fd);
    r->fd = -1;
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
    free(r->scratch);
    r->scratch = NULL;
}

/* ---- rgpu through its libcuda.so.1 ---- */

#define DRV_FUNCS(X)                                                                                                   \
    X(cuInit) X(cuCtxCreate_v2) X(cuCtxDestroy_v2) X(cuCtxGetApiVersion) X(cuModuleLoadData) X(cuModuleGetFunction) \
    X(cuModuleUnload) X(cuLaunchKernel) X(cuCtxSynchronize) X(cuMemAlloc_v2) X(cuMemFree_v2) X(cuMemAllocHost_v2)    \
    X(cuMemFreeHost) X(cuMemcpyHtoD_v2) X(cuMemcpyDtoH_v2) X(cuGetErrorName) X(rgpu_client_info)

static struct {
#define X(n) __typeof__(&n) n;
    DRV_FUNCS(X)
#undef X
} D;

static int drv_fail(struct tresult *res, const char *what, CUresult r)
{
    const char *name = NULL;
    if (D.cuGetErrorName)
        D.cuGetErrorName(r, &name);
    snprintf(res->err, sizeof res->err, "%s failed: %s (%d)", what, name ? name : "?", (int)r);
    return -1;
}

#define CK(call)                                                                                                       \
    do {                                                                                                               \
        CUresult r_ = (call);                                                                                          \
        if (r_ != CUDA_SUCCESS)                                                                                        \
            return drv_fail(res, #call, r_);                                                                           \
    } while (0)

static int raw_fail(struct tresult *res, const char *what)
{
    snprintf(res->err, sizeof res->err, "raw transport: %s failed: %s", what, errno ? strerror(errno) : "closed");
    return -1;
}

/* Message sizes of the calls measured, from wire/'s own encoders, so the raw
 * ping-pong moves exactly the bytes rgpu moves. */
static void wire_sizes(struct tresult *res)
{
    struct rgpu_wbuf wb;
    struct rgpu_args_cuCtxGetApiVersion a = {.ctx = (CUcontext)(uintptr_t)1, .version = 1};
    rgpu_wbuf_init(&wb);
    rgpu_calls[RGPU_ID_cuCtxGetApiVersion].enc_req(&wb, &a);
    res->null_req = (uint32_t)(sizeof(struct rgpu_hdr) + wb.len + wb.bulk_len);
    rgpu_wbuf_free(&wb);
    rgpu_wbuf_init(&wb);
    rgpu_calls[RGPU_ID_cuCtxGetApiVersion].enc_rep(&wb, &a);
    res->null_rep = (uint32_t)(sizeof(struct rgpu_hdr) + wb.len + wb.bulk_len);
    rgpu_wbuf_free(&wb);
    struct rgpu_args_rgpu_launch l = {.f = (CUfunction)(uintptr_t)1, .cfg = {{1, 1, 1}, {1, 1, 1}, 0, 0}};
    rgpu_wbuf_init(&wb);
    rgpu_calls[RGPU_ID_rgpu_launch].enc_req(&wb, &l);
    res->launch_req = (uint32_t)(sizeof(struct rgpu_hdr) + wb.len + wb.bulk_len);
    rgpu_wbuf_free(&wb);
}

/* Synchronous null call against raw ping-pongs (48 B, and the call's own
 * sizes), interleaved in rounds. */
static int bench_latency(struct tresult *res, struct raw *raw, CUcontext ctx, const struct cfg *c)
{
    const int rounds = 10, per = c->null_iters / rounds;
    const uint32_t hdr = sizeof(struct rgpu_hdr);
    double *s48 = malloc(sizeof(double) * (size_t)(per * rounds)),
           *snull = malloc(sizeof(double) * (size_t)(per * rounds)),
           *scall = malloc(sizeof(double) * (size_t)(per * rounds));
    unsigned v;
    int rc = -1, k = 0;
    if (!s48 || !snull || !scall) {
        snprintf(res->err, sizeof res->err, "out of memory");
        goto out;
    }
    for (int i = 0; i < 200; i++) { /* warm-up: threads, caches, TCP windows */
        if (raw_ping(raw, 0, 0) || raw_ping(raw, res->null_req - hdr, res->null_rep - hdr)) {
            rc = raw_fail(res, "ping-pong");
            goto out;
        }
        CUresult r = D.cuCtxGetApiVersion(ctx, &v);
        if (r != CUDA_SUCCESS) {
            rc = drv_fail(res, "cuCtxGetApiVersion", r);
            goto out;
        }
    }
    for (int round = 0; round < rounds; round++) {
        int k0 = k;
        for (int i = 0; i < per; i++, k++) {
            double t0 = bench_now();
            if (raw_ping(raw, 0, 0)) {
                rc = raw_fail(res, "ping-pong");
                goto out;
            }
            s48[k] = bench_now() - t0;
        }
        k = k0;
        for (int i = 0; i < per; i++, k++) {
            double t0 = bench_now();
            if (raw_ping(raw, res->null_req - hdr, res->null_rep - hdr)) {
                rc = raw_fail(res, "ping-pong");
                goto out;
            }
            snull[k] = bench_now() - t0;
        }
        k = k0;
        for (int i = 0; i < per; i++, k++) {
            double t0 = bench_now();
            CUresult r = D.cuCtxGetApiVersion(ctx, &v);
            scall[k] = bench_now() - t0;
            if (r != CUDA_SUCCESS) {
                rc = drv_fail(res, "cuCtxGetApiVersion", r);
                goto out;
            }
        }
    }
    res->nlat = k;
    res->raw_rtt48_us = bench_median(s48, k) * 1e6;
    res->raw_rtt_null_us = bench_median(snull, k) * 1e6;
    res->null_call_us = bench_median(scall, k) * 1e6;
    rc = 0;
out:
    free(s48);
    free(snull);
    free(scall);
    return rc;
}

/* ---- the CPU device alone ---- */

#define BK(call)                                                                                                       \
    do {                                                                                                               \
        CUresult r_ = (call);                                                                                          \
        if (r_ != CUDA_SUCCESS) {                                                                                      \
            snprintf(b->err, sizeof b->err, "CPU device: %s failed (%d)", #call, (int)r_);                             \
            return -1;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* The CPU device in this process, on the server's CPUs, with the empty
 * kernel loaded and launched once per batch slot (warm). */
static int backend_setup(struct bresult *b, const struct cfg *c, CUfunction *f)
{
    struct cpudev_config dc = {.mem_bytes = 2 * BIG_SIZE};
    char err[256];
    CUcontext ctx;
    CUmodule m;
    pin_to(c, &c->server_cpus); /* it stands for the server */
    if (!cpudev_init(&dc, err, sizeof err)) {
        snprintf(b->err, sizeof b->err, "CPU device: %.200s", err);
        return -1;
    }
    BK(cpudev_cuInit(0));
    BK(cpudev_cuCtxCreate_v2(&ctx, 0, 0));
    BK(cpudev_cuModuleLoadData(&m, empty_ptx));
    BK(cpudev_cuModuleGetFunction(f, m, "rgpu_bench_empty"));
    for (int i = 0; i < c->launch_batch; i++)
        BK(cpudev_cuLaunchKernel(*f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
    BK(cpudev_cuCtxSynchronize());
    return 0;
}

/* Seconds per launch of launch_n empty launches and one synchronisation:
 * the same round rgpu's end-to-end figure times. */
static int backend_launch_round(struct bresult *b, CUfunction f, const struct cfg *c, double *out)
{
    double t0 = bench_now();
    for (int i = 0; i < c->launch_n; i++)
        BK(cpudev_cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
    BK(cpudev_cuCtxSynchronize());
    *out = (bench_now() - t0) / c->launch_n;
    return 0;
}

/* The CPU device alone, in process: what the backend costs without a wire
 * (printed once, for scale). */
static int measure_backend(struct bresult *b, const struct cfg *c)
{
    CUfunction f;
    CUdeviceptr dev;
    double t[5];
    if (backend_setup(b, c, &f))
        return -1;
    for (int rep = 0; rep < 3; rep++)
        if (backend_launch_round(b, f, c, &t[rep]))
            return -1;
    b->launch_us = bench_median(t, 3) * 1e6;

    uint64_t n = BIG_SIZE;
    uint8_t *host = malloc(n), *other = malloc(n);
    if (!host || !other) {
        snprintf(b->err, sizeof b->err, "out of memory");
        return -1;
    }
    memset(host, 0xa5, n);
    memset(other, 0x5a, n);
    BK(cpudev_cuMemAlloc_v2(&dev, n));
    for (int kind = 0; kind < 3; kind++) {
        for (int rep = 0; rep <= 5; rep++) {
            double t0 = bench_now();
            if (kind == 0) {
                memcpy(other, host, n);
            } else if (kind == 1) {
                BK(cpudev_cuMemcpyHtoDAsync_v2(dev, host, n, NULL));
                BK(cpudev_cuCtxSynchronize());
            } else {
                BK(cpudev_cuMemcpyDtoHAsync_v2(host, dev, n, NULL));
                BK(cpudev_cuCtxSynchronize());
            }
            if (rep)
                t[rep - 1] = bench_now() - t0;
        }
        double bps = (double)n / bench_median(t, 5);
        *(kind == 0 ? &b->memcpy_bps : kind == 1 ? &b->htod_bps : &b->dtoh_bps) = bps;
    }
    return 0;
}
#undef BK

/* Next to each transport, the CPU device alone runs in a helper process
 * (on the server's CPUs, forked before the client library starts threads)
 * that times one launch round per request, so that rgpu's rounds and the
 * backend's alternate: measured minutes apart, a VM's drift made the
 * comparison swing between 60% and 140%. */
struct alone {
    pid_t pid;
    int cmd, ans; /* our ends of the request and answer pipes */
};

static _Noreturn void alone_main(int cmd, int ans, const struct cfg *c)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct bresult b = {0};
    CUfunction f;
    bool ready = backend_setup(&b, c, &f) == 0;
    for (;;) {
        char op;
        double s = -1;
        if (read(cmd, &op, 1) != 1 || op == 'Q')
            _exit(0);
        if (ready && backend_launch_round(&b, f, c, &s))
            s = -1;
        if (write(ans, &s, sizeof s) != (ssize_t)sizeof s)
            _exit(1);
    }
}

static void alone_start(struct alone *a, const struct cfg *c)
{
    int req[2], rep[2];
    *a = (struct alone){.pid = -1, .cmd = -1, .ans = -1};
    if (pipe2(req, O_CLOEXEC))
        return;
    if (pipe2(rep, O_CLOEXEC)) {
        close(req[0]);
        close(req[1]);
        return;
    }
    a->pid = fork();
    if (a->pid == 0) {
        close(req[1]);
        close(rep[0]);
        alone_main(req[0], rep[1], c);
    }
    close(req[0]);
    close(rep[1]);
    a->cmd = req[1];
    a->ans = rep[0];
    if (a->pid < 0) {
        close(a->cmd);
        close(a->ans);
    }
}

/* One launch round of the CPU device alone, seconds per launch; -1 when the
 * helper is not there or failed. */
static double alone_round(struct alone *a)
{
    double s;
    if (a->pid <= 0 || write(a->cmd, "L", 1) != 1 || read(a->ans, &s, sizeof s) != (ssize_t)sizeof s)
        return -1;
    return s;
}

static void alone_stop(struct alone *a)
{
    if (a->pid <= 0)
        return;
    /* told, not left to see the end of the pipe: processes forked after it
     * (the raw server) hold copies of our end */
    if (write(a->cmd, "Q", 1) != 1)
        kill(a->pid, SIGKILL);
    close(a->cmd);
    close(a->ans);
    waitpid(a->pid, NULL, 0);
    a->pid = -1;
}

/* Empty-kernel launches: client time per call (batches small enough to fit
 * the socket buffers, so back-pressure from the server does not count, and
 * large enough, 512 x 104 B = 52 KiB, that the client's coalesced sends are
 * paid inside the batch: at least one 32 KiB flush each), and
 * launches + one synchronisation end to end; the raw transport carries the
 * same number of launch-sized one-way messages. */
#define LAUNCH_ROUNDS 5
static int bench_launch(struct tresult *res, struct raw *raw, struct alone *al, CUfunction f, const struct cfg *c)
{
    double issue[1024], e2e[LAUNCH_ROUNDS], wire[LAUNCH_ROUNDS], alone[LAUNCH_ROUNDS];
    int nalone = 0;
    int nb = c->launch_batches < 1024 ? c->launch_batches : 1024;
    for (int i = 0; i < c->launch_batch; i++) /* warm-up */
        CK(D.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
    CK(D.cuCtxSynchronize());
    for (int b = 0; b < nb; b++) {
        double t0 = bench_now();
        for (int i = 0; i < c->launch_batch; i++)
            CK(D.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
        issue[b] = (bench_now() - t0) / c->launch_batch;
        CK(D.cuCtxSynchronize());
    }
    for (int rep = 0; rep < LAUNCH_ROUNDS; rep++) {
        double t0 = bench_now();
        if (raw_stream(raw, c->launch_n, res->launch_req - (uint32_t)sizeof(struct rgpu_hdr)))
            return raw_fail(res, "message stream");
        wire[rep] = (bench_now() - t0) / c->launch_n;
        t0 = bench_now();
        for (int i = 0; i < c->launch_n; i++)
            CK(D.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
        CK(D.cuCtxSynchronize());
        e2e[rep] = (bench_now() - t0) / c->launch_n;
        double a = alone_round(al);
        if (a > 0)
            alone[nalone++] = a;
    }
    res->alone_e2e_us = nalone == LAUNCH_ROUNDS ? bench_median(alone, LAUNCH_ROUNDS) * 1e6 : 0;
    res->launch_batch = c->launch_batch;
    res->launch_issue_us = bench_median(issue, nb) * 1e6;
    res->launch_e2e_us = bench_median(e2e, LAUNCH_ROUNDS) * 1e6;
    res->raw_msg_us = bench_median(wire, LAUNCH_ROUNDS) * 1e6;
    return 0;
}

/* The transfers of a bandwidth point, in the order each round runs them;
 * the last two are in process: a memcpy of the same size (the scale shm is
 * held to), and for shm from 64 MiB the same memcpy pipelined through a
 * ring between the client's and the server's CPUs (what any transport
 * that copies once on each side can reach here). */
enum bw_kind { BW_RAW_UP, BW_HTOD_PG, BW_HTOD_PIN, BW_RAW_DOWN, BW_DTOH_PG, BW_DTOH_PIN, BW_MEMCPY, BW_PIPE, BW_KINDS };

/* The pipelined copy: this thread copies src into the ring a chunk at a
 * time, a thread on the server's CPUs copies the ring out into dst, both
 * spinning as the shm transport does. */
struct pipe_copy {
    const uint8_t *src;
    uint8_t *dst, *ring;
    size_t n, ring_size, chunk;
    _Atomic size_t head, tail; /* bytes consumed, bytes produced */
    const struct cfg *c;
};

static void *pipe_consumer(void *arg)
{
    struct pipe_copy *p = arg;
    pin_to(p->c, &p->c->server_cpus);
    for (size_t pos = 0; pos < p->n;) {
        size_t t;
        while ((t = atomic_load_explicit(&p->tail, memory_order_acquire)) == pos)
            __asm__ __volatile__("" ::: "memory");
        size_t k = t - pos, off = pos % p->ring_size;
        if (k > p->chunk)
            k = p->chunk;
        if (off + k > p->ring_size)
            k = p->ring_size - off;
        memcpy(p->dst + pos, p->ring + off, k);
        pos += k;
        atomic_store_explicit(&p->head, pos, memory_order_release);
    }
    return NULL;
}

static double pipe_once(const struct cfg *c, const void *src, void *dst, uint64_t n)
{
    static uint8_t *ring;
    struct pipe_copy p = {.src = src, .dst = dst, .n = n, .ring_size = rgpu_shm_ring_size(), .chunk = 256u << 10, .c = c};
    if (!ring && !(ring = aligned_alloc(4096, p.ring_size)))
        return -1;
    memset(ring, 0, p.ring_size); /* touched, as a live ring is */
    p.ring = ring;
    pthread_t th;
    double t0 = bench_now();
    if (pthread_create(&th, NULL, pipe_consumer, &p))
        return -1;
    for (size_t pos = 0; pos < n;) {
        while (pos - atomic_load_explicit(&p.head, memory_order_acquire) > p.ring_size - p.chunk)
            __asm__ __volatile__("" ::: "memory");
        size_t k = p.chunk, off = pos % p.ring_size;
        if (off + k > p.ring_size)
            k = p.ring_size - off;
        if (k > n - pos)
            k = n - pos;
        memcpy(p.ring + off, p.src + pos, k);
        pos += k;
        atomic_store_explicit(&p.tail, pos, memory_order_release);
    }
    pthread_join(th, NULL);
    return bench_now() - t0;
}

/* Did a call travel (a round trip) since *before? Updates *before. */
static bool travelled(struct rgpu_client_info *before)
{
    struct rgpu_client_info now;
    if (D.rgpu_client_info(&now) != 0)
        return true;
    bool moved = now.round_trips != before->round_trips;
    *before = now;
    return moved;
}

/* A host-to-device copy, until its bytes are in device memory. The client
 * answers the synchronisation of a copy that cannot fail itself (client/
 * streamidle.c: as NVIDIA's cuMemcpyHtoD from pageable memory, it returns
 * once the bytes are out of the application's buffer); then a null call,
 * which travels and runs after the copy, waits for them, as the raw
 * transfer waits for its acknowledgement (a 4-byte read of the destination
 * should the client ever answer that call itself). */
static CUresult htod_arrived(CUdeviceptr dev, const void *src, uint64_t n)
{
    struct rgpu_client_info seen;
    if (D.rgpu_client_info(&seen) != 0)
        return D.cuMemcpyHtoD_v2(dev, src, n);
    CUresult r = D.cuMemcpyHtoD_v2(dev, src, n);
    if (r != CUDA_SUCCESS || travelled(&seen))
        return r;
    unsigned version;
    if ((r = D.cuCtxGetApiVersion(NULL, &version)) != CUDA_SUCCESS || travelled(&seen))
        return r;
    uint32_t word;
    return D.cuMemcpyDtoH_v2(&word, dev, sizeof word);
}

/* Seconds of one transfer of n bytes (negative on failure, res->err set). */
static double bw_once(struct tresult *res, enum bw_kind kind, struct raw *raw, void *page, void *pin, CUdeviceptr dev,
                      uint64_t n, const struct cfg *c)
{
    if (kind == BW_PIPE) {
        double s = pipe_once(c, page, pin, n);
        if (s < 0)
            snprintf(res->err, sizeof res->err, "the pipelined memcpy could not start");
        return s;
    }
    double t0 = bench_now();
    CUresult r = CUDA_SUCCESS;
    switch (kind) {
    case BW_RAW_UP:
        if (raw_sink(raw, page, n))
            return raw_fail(res, "sink");
        break;
    case BW_RAW_DOWN:
        if (raw_source(raw, page, n))
            return raw_fail(res, "source");
        break;
    case BW_HTOD_PG: r = htod_arrived(dev, page, n); break;
    case BW_HTOD_PIN: r = htod_arrived(dev, pin, n); break;
    case BW_DTOH_PG: r = D.cuMemcpyDtoH_v2(page, dev, n); break;
    case BW_DTOH_PIN: r = D.cuMemcpyDtoH_v2(pin, dev, n); break;
    case BW_MEMCPY: memcpy(pin, page, n); break;
    default: break;
    }
    if (r != CUDA_SUCCESS)
        return drv_fail(res, kind == BW_HTOD_PG || kind == BW_HTOD_PIN ? "cuMemcpyHtoD" : "cuMemcpyDtoH", r);
    return bench_now() - t0;
}

/* One bandwidth point: BW_ROUNDS rounds, each running every transfer in
 * turn, raw and rgpu interleaved. A VM's bandwidth drifts by tens of
 * percent within seconds; measured in separate phases, raw and rgpu would
 * see different machines and their ratio would be mostly that drift. Within
 * a turn, transfers run back to back after an untimed one, so that small
 * sizes measure the transport warm, not the wake-up of a server that slept
 * through the other transfers' turns (large ones need no warm-up: a
 * wake-up is lost in their time). Medians per transfer. */
#define BW_ROUNDS 5
#define BW_WARM_BELOW (16u << 20)
#define BW_MAX_PER_ROUND 51 /* 255 repetitions of each transfer at most */
static int bw_point(struct tresult *res, struct raw *raw, void *page, void *pin, CUdeviceptr dev, int k, int per,
                    bool shm, const struct cfg *c)
{
    static double t[BW_KINDS][BW_ROUNDS * BW_MAX_PER_ROUND];
    uint64_t n = res->size[k];
    int reps = per * BW_ROUNDS;
    bool pipe = shm && n >= BIG_SIZE;
    for (int round = 0; round < BW_ROUNDS; round++)
        for (int kind = 0; kind < (pipe ? BW_KINDS : BW_PIPE); kind++)
            for (int i = n < BW_WARM_BELOW ? -1 : 0; i < per; i++) {
                double s = bw_once(res, (enum bw_kind)kind, raw, page, pin, dev, n, c);
                if (s < 0)
                    return -1;
                if (i >= 0)
                    t[kind][round * per + i] = s;
            }
    res->raw_up[k] = (double)n / bench_median(t[BW_RAW_UP], reps);
    res->raw_down[k] = (double)n / bench_median(t[BW_RAW_DOWN], reps);
    res->htod[PAGEABLE][k] = (double)n / bench_median(t[BW_HTOD_PG], reps);
    res->htod[PINNED][k] = (double)n / bench_median(t[BW_HTOD_PIN], reps);
    res->dtoh[PAGEABLE][k] = (double)n / bench_median(t[BW_DTOH_PG], reps);
    res->dtoh[PINNED][k] = (double)n / bench_median(t[BW_DTOH_PIN], reps);
    res->memcpy_bps[k] = (double)n / bench_median(t[BW_MEMCPY], reps);
    res->pipe_bps[k] = pipe ? (double)n / bench_median(t[BW_PIPE], reps) : 0;
    return 0;
}

/* Over shm a ring's page is first touched by a message crossing it, at the
 * price of a fault on each side (the first 4 MiB each way ran at a third of
 * the later speed): 8 MiB each way, untimed, through rgpu's rings and raw's,
 * before the first size. */
static int warm_rings(struct tresult *res, struct raw *raw, const struct cfg *c)
{
    const uint64_t n = 8u << 20;
    static const enum bw_kind kinds[] = {BW_RAW_UP, BW_HTOD_PG, BW_RAW_DOWN, BW_DTOH_PG};
    uint8_t *page = malloc(n);
    CUdeviceptr dev = 0;
    int rc = -1;
    if (page && D.cuMemAlloc_v2(&dev, n) == CUDA_SUCCESS && raw_op(raw, RAW_PREPARE, n) == 0) {
        memset(page, 0, n);
        rc = 0;
        for (size_t i = 0; rc == 0 && i < sizeof kinds / sizeof kinds[0]; i++)
            rc = bw_once(res, kinds[i], raw, page, NULL, dev, n, c) < 0 ? -1 : 0;
        if (raw_op(raw, RAW_RELEASE, 0))
            rc = -1;
    }
    if (rc && !res->err[0])
        snprintf(res->err, sizeof res->err, "warming the rings up with 8 MiB each way failed");
    if (dev)
        D.cuMemFree_v2(dev);
    free(page);
    return rc;
}

static int bench_bandwidth(struct tresult *res, struct raw *raw, const char *name, bool shm, const struct cfg *c)
{
    if (shm && warm_rings(res, raw, c))
        return -1;
    for (int k = 0; k < res->nsizes; k++) {
        uint64_t n = res->size[k];
        uint64_t reps = c->bw_budget / n;
        reps = reps < BW_ROUNDS ? BW_ROUNDS : reps > (uint64_t)c->bw_max_reps ? (uint64_t)c->bw_max_reps : reps;
        int per = (int)(reps + BW_ROUNDS - 1) / BW_ROUNDS; /* whole rounds */
        if (per > BW_MAX_PER_ROUND)
            per = BW_MAX_PER_ROUND;
        res->reps[k] = per * BW_ROUNDS;
        char sz[32];
        fprintf(stderr, "rgpu bench: %s: bandwidth at %s (%d repetitions)\n", name, fmt_size(n, sz, sizeof sz),
                res->reps[k]);
        /* Live at once, for the interleaving: the client's pageable and
         * pinned buffers, the raw server's buffer, the device allocation
         * and rgpud's staging, about 5 x n. */
        uint8_t *page = malloc(n);
        void *pin = NULL;
        CUdeviceptr dev = 0;
        CUresult r;
        int rc = -1;
        if (!page) {
            snprintf(res->err, sizeof res->err, "cannot allocate %s of host memory", sz);
            return -1;
        }
        memset(page, 0xa5, n); /* touched: page faults are not the transport's */
        if ((r = D.cuMemAllocHost_v2(&pin, n)) != CUDA_SUCCESS) {
            drv_fail(res, "cuMemAllocHost", r);
            goto out;
        }
        memset(pin, 0xa5, n);
        if ((r = D.cuMemAlloc_v2(&dev, n)) != CUDA_SUCCESS) {
            drv_fail(res, "cuMemAlloc", r);
            goto out;
        }
        if (raw_op(raw, RAW_PREPARE, n)) {
            raw_fail(res, "prepare");
            goto out;
        }
        rc = bw_point(res, raw, page, pin, dev, k, per, shm, c);
        if (rc == 0 && raw_op(raw, RAW_RELEASE, 0))
            rc = raw_fail(res, "release");
    out:
        if (dev)
            D.cuMemFree_v2(dev);
        if (pin)
            D.cuMemFreeHost(pin);
        free(page);
        if (rc)
            return -1;
    }
    return 0;
}

/* One transport, in a child process: everything rgpu and raw. */
static int measure_transport(struct tresult *res, const char *server, const char *libdir, const char *tmpdir,
                             const struct cfg *c)
{
    struct rgpu_addr addr;
    struct raw raw = {.fd = -1};
    char lib[PATH_MAX + 32];
    const char *name = server;
    if (rgpu_addr_parse(server, &addr, res->err, sizeof res->err) < 0)
        return -1;
    wire_sizes(res);
    pin_to(c, &c->client_cpus); /* before the client library starts its threads */
    struct alone al;
    alone_start(&al, c);
    if (raw_open(&raw, &addr, tmpdir, c, res->err, sizeof res->err)) {
        alone_stop(&al);
        raw_close(&raw);
        return -1;
    }
    setenv("RGPU_SERVER", server, 1);
    snprintf(lib, sizeof lib, "%s/libcuda.so.1", libdir);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(res->err, sizeof res->err, "%s", dlerror());
        alone_stop(&al);
        raw_close(&raw);
        return -1;
    }
#define X(n)                                                                                                           \
    if (!(D.n = (__typeof__(&n))dlsym(h, #n))) {                                                                       \
        snprintf(res->err, sizeof res->err, "%.200s does not export %s", lib, #n);                                         \
        alone_stop(&al);                                                                                               \
        raw_close(&raw);                                                                                               \
        return -1;                                                                                                     \
    }
    DRV_FUNCS(X)
#undef X
    CUcontext ctx = NULL;
    CUmodule mod = NULL;
    CUfunction f;
    int rc = -1;
    CUresult r = D.cuInit(0);
    if (r != CUDA_SUCCESS) {
        drv_fail(res, "cuInit (is rgpud running there?)", r);
        goto out;
    }
    struct rgpu_client_info info;
    if (D.rgpu_client_info(&info) == 0)
        snprintf(res->backend, sizeof res->backend, "%s", info.backend);
    if ((r = D.cuCtxCreate_v2(&ctx, 0, 0)) != CUDA_SUCCESS) {
        drv_fail(res, "cuCtxCreate", r);
        goto out;
    }
    if ((r = D.cuModuleLoadData(&mod, empty_ptx)) != CUDA_SUCCESS ||
        (r = D.cuModuleGetFunction(&f, mod, "rgpu_bench_empty")) != CUDA_SUCCESS) {
        drv_fail(res, "loading the empty kernel", r);
        goto out;
    }
    fprintf(stderr, "rgpu bench: %s: null calls\n", name);
    if (bench_latency(res, &raw, ctx, c))
        goto out;
    fprintf(stderr, "rgpu bench: %s: launches\n", name);
    int lrc = bench_launch(res, &raw, &al, f, c);
    alone_stop(&al); /* its CPU device's memory and threads, gone before the copies */
    if (lrc)
        goto out;
    if (bench_bandwidth(res, &raw, name, addr.is_shm, c))
        goto out;
    rc = 0;
out:
    alone_stop(&al);
    raw_close(&raw);
    if (mod)
        D.cuModuleUnload(mod);
    if (ctx)
        D.cuCtxDestroy_v2(ctx);
    return rc;
}


/* ---- the parent: children, deadlines, the server ---- */

static volatile sig_atomic_t g_server_pid, g_child_pid;
static char g_sock_path[128], g_shm_path[128], g_log_path[128], g_tmpdir[64];

static void stop_everything_now(void)
{
    if (g_child_pid > 0)
        kill((pid_t)g_child_pid, SIGKILL);
    if (g_server_pid > 0)
        kill((pid_t)g_server_pid, SIGTERM); /* it ends its own workers */
}

static void on_signal(int sig)
{
    /* async-signal-safe only: kill, unlink, rmdir, _exit */
    stop_everything_now();
    if (g_sock_path[0])
        unlink(g_sock_path);
    if (g_shm_path[0])
        unlink(g_shm_path);
    if (g_log_path[0])
        unlink(g_log_path);
    if (g_tmpdir[0])
        rmdir(g_tmpdir);
    _exit(128 + sig);
}

/* Run fn in a child (its own pipe for the result), hold it to a deadline. */
static int run_child(const char *what, int deadline_s, void *out, size_t outlen,
                     int (*fn)(void *out, const void *arg), const void *arg)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC)) {
        fprintf(stderr, "rgpu bench: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        memset(out, 0, outlen);
        *(int *)out = fn(out, arg) == 0; /* both result structs start with `int ok` */
        _exit(write_all(p[1], out, outlen) ? 1 : 0);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        fprintf(stderr, "rgpu bench: fork: %s\n", strerror(errno));
        return -1;
    }
    g_child_pid = pid;
    double deadline = bench_now() + deadline_s;
    size_t got = 0;
    while (got < outlen) {
        double left = deadline - bench_now();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        int n = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue; /* the deadline check above ends the wait */
        ssize_t k = read(p[0], (char *)out + got, outlen - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(p[0]);
    int st = 0;
    if (got < outlen) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        g_child_pid = 0;
        memset(out, 0, outlen);
        snprintf((char *)out + offsetof(struct tresult, err), 256, "%s %s", what,
                 bench_now() >= deadline ? "did not finish before its deadline (killed)"
                 : WIFSIGNALED(st) ? "died of a signal"
                                   : "ended without a result");
        return -1;
    }
    waitpid(pid, &st, 0);
    g_child_pid = 0;
    return 0;
}

struct transport_arg {
    const char *server, *libdir, *tmpdir;
    const struct cfg *c;
};

static int transport_child(void *out, const void *arg)
{
    const struct transport_arg *a = arg;
    struct tresult *res = out;
    uint64_t n = MIN_SIZE;
    for (res->nsizes = 0; res->nsizes < MAX_SIZES && n <= a->c->max_size; n *= 4)
        res->size[res->nsizes++] = n;
    return measure_transport(res, a->server, a->libdir, a->tmpdir, a->c);
}

static int backend_child(void *out, const void *arg) { return measure_backend(out, arg); }

static int free_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
        port = ntohs(sin.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool answers(const char *spec)
{
    struct rgpu_addr a;
    char err[256];
    if (rgpu_addr_parse(spec, &a, err, sizeof err) < 0)
        return false;
    int fd = rgpu_connect(&a, err, sizeof err);
    if (fd < 0)
        return false;
    rgpu_close(fd); /* the worker this started sees end of file and exits */
    return true;
}

static void stop_server(void)
{
    pid_t pid = (pid_t)g_server_pid;
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) { /* up to 5 s for an orderly stop */
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            g_server_pid = 0;
            kill(-pid, SIGKILL); /* stragglers of its process group, if any */
            return;
        }
        usleep(50000);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    g_server_pid = 0;
}

/* Start `rgpud --backend cpu` on a fresh unix socket, a free loopback port
 * and a shm: socket; fills the three addresses. A lost race for the port is
 * retried. */
static int start_server(const char *rgpud, const struct cfg *c, char addrs[3][160])
{
    snprintf(g_sock_path, sizeof g_sock_path, "%s/rgpud.sock", g_tmpdir);
    snprintf(g_shm_path, sizeof g_shm_path, "%s/rgpud-shm.sock", g_tmpdir);
    snprintf(g_log_path, sizeof g_log_path, "%s/rgpud.log", g_tmpdir);
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = free_tcp_port();
        if (port < 0)
            continue;
        snprintf(addrs[0], 160, "unix:%s", g_sock_path);
        snprintf(addrs[1], 160, "tcp:127.0.0.1:%d", port);
        snprintf(addrs[2], 160, "shm:%s", g_shm_path);
        fflush(stdout);
        fflush(stderr);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
            /* Its own session, so that its workers can be reached as a group;
             * SIGTERM when the bench dies however it dies (survives exec). */
            setsid();
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(1);
            int log = open(g_log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (log >= 0) {
                dup2(log, 1);
                dup2(log, 2);
            }
            if (nul >= 0)
                dup2(nul, 0);
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            pin_to(c, &c->server_cpus);
            execl(rgpud, "rgpud", "--listen", addrs[0], "--listen", addrs[1], "--listen", addrs[2], "--backend",
                  "cpu", (char *)NULL);
            _exit(127);
        }
        if (pid < 0) {
            fprintf(stderr, "rgpu bench: fork: %s\n", strerror(errno));
            return -1;
        }
        g_server_pid = pid;
        for (int i = 0; i < 200; i++) { /* up to 10 s */
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                g_server_pid = 0;
                break;
            }
            if (answers(addrs[0]) && answers(addrs[1]) && answers(addrs[2]))
                return 0;
            usleep(50000);
        }
        stop_server();
    }
    fprintf(stderr, "rgpu bench: could not start %s; its log (%s):\n", rgpud, g_log_path);
    FILE *f = fopen(g_log_path, "re");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        fputs(line, stderr);
    if (f)
        fclose(f);
    return -1;
}

/* ---- report ---- */

static const char *verdict(bool ok) { return ok ? "PASS" : "MISS"; }

static void print_machine(void)
{
    char model[256];
    struct utsname u;
    cpu_model(model, sizeof model);
    uname(&u);
    printf("machine: %s, %ld cores online, %.1f GiB memory, Linux %s, rgpu built with "
#ifdef __clang__
           "clang "
#else
           "gcc "
#endif
           __VERSION__ "\n",
           model, sysconf(_SC_NPROCESSORS_ONLN), (double)meminfo_kib("MemTotal") / (1 << 20), u.release);
}

/* The CPU device alone, per launch: measured alongside this transport's
 * rounds, or else the figure from the start of the run; 0 where the server's
 * backend is another (a GPU's launch rate is compared with native CUDA by
 * bench/cudabench.c in tests/gpu/run, not with the CPU device). */
static double alone_us(const struct tresult *r, const struct bresult *b)
{
    if (r->backend[0] && strcmp(r->backend, "cpu") != 0)
        return 0;
    return r->alone_e2e_us > 0 ? r->alone_e2e_us : b->ok ? b->launch_us : 0;
}

static void print_transport(const char *server, const struct tresult *r, const struct bresult *b)
{
    char sz[32];
    printf("\n== %s (backend %s) ==\n", server, r->backend[0] ? r->backend : "?");
    printf("latency (median of %d each)                      rgpu        raw     ratio\n", r->nlat);
    printf("  sync null call, cuCtxGetApiVersion (%u/%u B)  %7.2f us  %7.2f us  %5.2fx   (raw: ping-pong of the same sizes)\n",
           r->null_req, r->null_rep, r->null_call_us, r->raw_rtt_null_us, r->null_call_us / r->raw_rtt_null_us);
    printf("  raw ping-pong, 48 B header only                            %7.2f us\n", r->raw_rtt48_us);
    printf("launches (empty kernel, 1x1x1 grid of 1x1x1)\n");
    printf("  client time per cuLaunchKernel (batches of %4d)     %7.2f us\n", r->launch_batch, r->launch_issue_us);
    printf("  end to end (launches + cuCtxSynchronize)            %7.2f us/launch = %7.0f launches/s\n",
           r->launch_e2e_us, 1e6 / r->launch_e2e_us);
    double alone = alone_us(r, b);
    if (alone > 0)
        printf("  CPU device alone, in process                        %7.2f us/launch = %7.0f launches/s  (rgpu reaches %.0f%%)\n",
               alone, 1e6 / alone, 100 * alone / r->launch_e2e_us);
    printf("  raw: %u B one-way messages, streamed               %7.2f us/message = %6.0f messages/s\n",
           r->launch_req, r->raw_msg_us, 1e6 / r->raw_msg_us);
    printf("bandwidth, MiB/s (size / median time of a copy + synchronise; raw: N bytes one way + 48 B ack)\n");
    printf("  %-8s %5s | %8s %8s %5s %8s %5s | %8s %8s %5s %8s %5s\n", "size", "reps", "raw up", "HtoD pg", "ratio",
           "HtoD pin", "ratio", "raw down", "DtoH pg", "ratio", "DtoH pin", "ratio");
    const double mib = 1 << 20;
    for (int k = 0; k < r->nsizes; k++)
        printf("  %-8s %5d | %8.0f %8.0f %5.2f %8.0f %5.2f | %8.0f %8.0f %5.2f %8.0f %5.2f\n",
               fmt_size(r->size[k], sz, sizeof sz), r->reps[k], r->raw_up[k] / mib, r->htod[PAGEABLE][k] / mib,
               r->htod[PAGEABLE][k] / r->raw_up[k], r->htod[PINNED][k] / mib, r->htod[PINNED][k] / r->raw_up[k],
               r->raw_down[k] / mib, r->dtoh[PAGEABLE][k] / mib, r->dtoh[PAGEABLE][k] / r->raw_down[k],
               r->dtoh[PINNED][k] / mib, r->dtoh[PINNED][k] / r->raw_down[k]);
    printf("  in-process memcpy, same rounds, MiB/s:");
    for (int k = 0; k < r->nsizes; k++)
        if (r->size[k] >= BIG_SIZE)
            printf("  %s %.0f", fmt_size(r->size[k], sz, sizeof sz), r->memcpy_bps[k] / mib);
    printf("\n");
    if (r->nsizes && r->pipe_bps[r->nsizes - 1] > 0) {
        printf("  the same, pipelined through a ring across the two sides' CPUs:");
        for (int k = 0; k < r->nsizes; k++)
            if (r->pipe_bps[k] > 0)
                printf("  %s %.0f (%.2f)", fmt_size(r->size[k], sz, sizeof sz), r->pipe_bps[k] / mib,
                       r->pipe_bps[k] / r->memcpy_bps[k]);
        printf("\n");
    }
}

static void print_targets(const char *name, const struct tresult *r, const struct bresult *b)
{
    double nr = r->null_call_us / r->raw_rtt_null_us;
    printf("  %-5s sync null call <= %.2fx raw round trip            %6.2fx       %s\n", name, TARGET_NULL_RATIO, nr,
           verdict(nr <= TARGET_NULL_RATIO));
    printf("  %-5s async launch client time <= %.1f us              %6.2f us     %s\n", name, TARGET_ISSUE_US,
           r->launch_issue_us, verdict(r->launch_issue_us <= TARGET_ISSUE_US));
    if (alone_us(r, b) > 0) {
        double frac = alone_us(r, b) / r->launch_e2e_us;
        printf("  %-5s launch rate >= %.0f%% of the CPU device alone      %6.0f%%       %s\n", name,
               100 * TARGET_RATE_FRACTION, 100 * frac, verdict(frac >= TARGET_RATE_FRACTION));
    } else if (r->backend[0] && strcmp(r->backend, "cpu") != 0) {
        printf("  %-5s launch rate vs the CPU device alone              n/a (backend %s: against native CUDA, "
               "tests/gpu/run)\n",
               name, r->backend);
    } else {
        printf("  %-5s launch rate vs the CPU device alone              n/a (backend measurement failed)\n", name);
    }
    double worst = 1e9;
    const char *which = "";
    char sz[32] = "";
    static const char *names[4] = {"HtoD pageable", "HtoD pinned", "DtoH pageable", "DtoH pinned"};
    for (int k = 0; k < r->nsizes; k++) {
        if (r->size[k] < BIG_SIZE)
            continue;
        double q[4] = {r->htod[PAGEABLE][k] / r->raw_up[k], r->htod[PINNED][k] / r->raw_up[k],
                       r->dtoh[PAGEABLE][k] / r->raw_down[k], r->dtoh[PINNED][k] / r->raw_down[k]};
        for (int i = 0; i < 4; i++)
            if (q[i] < worst) {
                worst = q[i];
                which = names[i];
                fmt_size(r->size[k], sz, sizeof sz);
            }
    }
    if (worst < 1e9)
        printf("  %-5s HtoD/DtoH >= 64 MiB at >= %.0f%% of raw stream      %6.0f%%       %s  (worst: %s at %s)\n",
               name, 100 * TARGET_BW_FRACTION, 100 * worst, verdict(worst >= TARGET_BW_FRACTION), which, sz);
    else
        printf("  %-5s HtoD/DtoH >= 64 MiB at >= %.0f%% of raw stream      n/a (no size >= 64 MiB measured)\n", name,
               100 * TARGET_BW_FRACTION);
    /* shared memory is held to the machine's copy bandwidth, not only to
     * its own rings */
    if (strcmp(name, "shm") == 0 && worst < 1e9) {
        double m = 1e9;
        for (int k = 0; k < r->nsizes; k++) {
            if (r->size[k] < BIG_SIZE)
                continue;
            double v[4] = {r->htod[PAGEABLE][k], r->htod[PINNED][k], r->dtoh[PAGEABLE][k], r->dtoh[PINNED][k]};
            for (int i = 0; i < 4; i++)
                if (v[i] / r->memcpy_bps[k] < m)
                    m = v[i] / r->memcpy_bps[k];
        }
        double ceiling = 1e9;
        for (int k = 0; k < r->nsizes; k++)
            if (r->pipe_bps[k] > 0 && r->pipe_bps[k] / r->memcpy_bps[k] < ceiling)
                ceiling = r->pipe_bps[k] / r->memcpy_bps[k];
        printf("  %-5s HtoD/DtoH >= 64 MiB at >= %.0f%% of memcpy          %6.0f%%       %s", name,
               100 * TARGET_SHM_MEMCPY_FRACTION, 100 * m, verdict(m >= TARGET_SHM_MEMCPY_FRACTION));
        if (ceiling < 1e9)
            printf("  (a pipelined memcpy reaches %.0f%%)", 100 * ceiling);
        printf("\n");
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rgpu bench [--server ADDR]... [--quick] [--max-size SIZE] [--placement split|same|free]\n\n"
               "Measures rgpu against the raw transport (unix socket, TCP, shared memory) in one run and\n"
               "prints the ratios. Without --server it starts its own rgpud --backend cpu on a fresh unix\n"
               "socket, a free loopback TCP port and a shm: socket. --quick: fewer repetitions, sizes up to 64 MiB. --max-size: largest copy\n"
               "(default 1G; sizes go from 4K in steps of 4x). --placement: client on the first CPU and\n"
               "server on the others (split, the default), all on one CPU (same), or unpinned (free); raw\n"
               "and rgpu always run alike. The targets it checks are informational:\n"
               "it exits 0 when everything ran, whatever the numbers.\n");
}

int rgpu_bench(int argc, char **argv, const char *libdir)
{
    const char *servers[MAX_SERVERS];
    int nservers = 0;
    struct cfg c = {.max_size = 0};
    const char *placement = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            if (nservers == MAX_SERVERS) {
                fprintf(stderr, "rgpu bench: at most %d --server addresses\n", MAX_SERVERS);
                return 2;
            }
            servers[nservers++] = argv[++i];
        } else if (strcmp(argv[i], "--quick") == 0) {
            c.quick = true;
        } else if (strcmp(argv[i], "--max-size") == 0 && i + 1 < argc) {
            if ((c.max_size = parse_size(argv[++i])) < MIN_SIZE) {
                fprintf(stderr, "rgpu bench: bad size '%s' (at least 4K)\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--placement") == 0 && i + 1 < argc) {
            placement = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    for (int i = 0; i < nservers; i++) {
        struct rgpu_addr a;
        char err[256];
        if (rgpu_addr_parse(servers[i], &a, err, sizeof err) < 0) {
            fprintf(stderr, "rgpu bench: %s\n", err);
            return 2;
        }
    }
    if (pick_placement(&c, placement)) {
        fprintf(stderr, "rgpu bench: bad --placement '%s' (split needs 2 CPUs; split, same or free)\n",
                placement ? placement : "");
        return 2;
    }
    if (!c.max_size)
        c.max_size = c.quick ? BIG_SIZE : 1ull << 30;
    c.null_iters = c.quick ? 2000 : 20000;
    c.launch_batch = 512;
    c.launch_batches = c.quick ? 50 : 500;
    c.launch_n = c.quick ? 2000 : 20000;
    c.bw_budget = c.quick ? 32ull << 20 : 512ull << 20;
    c.bw_max_reps = c.quick ? 20 : 100;
    c.child_deadline_s = c.quick ? 300 : 1800;

    /* At most about 3 × the largest size is live at once (see
     * bench_bandwidth); stay clear of what the machine has. */
    uint64_t avail = meminfo_kib("MemAvailable") << 10;
    while (avail && c.max_size > MIN_SIZE && 3 * c.max_size + (512ull << 20) > avail) {
        c.max_size /= 4;
        fprintf(stderr, "rgpu bench: not enough free memory; largest size lowered to %llu bytes\n",
                (unsigned long long)c.max_size);
    }

    char rgpud[PATH_MAX + 16], exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) {
        fprintf(stderr, "rgpu bench: cannot locate the rgpu executable\n");
        return 1;
    }
    exe[k] = 0;
    snprintf(rgpud, sizeof rgpud, "%s/rgpud", dirname(exe));

    snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/rgpu-bench.XXXXXX");
    if (!mkdtemp(g_tmpdir)) {
        fprintf(stderr, "rgpu bench: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int status = 0;
    char own[3][160], lbuf[64];
    bool nservers_given = nservers > 0;
    if (nservers == 0) {
        if (access(rgpud, X_OK) != 0) {
            fprintf(stderr, "rgpu bench: %s not found (build the rgpud target, or pass --server)\n", rgpud);
            status = 1;
            goto out;
        }
        if (start_server(rgpud, &c, own)) {
            status = 1;
            goto out;
        }
        servers[0] = own[0];
        servers[1] = own[1];
        servers[2] = own[2];
        nservers = 3;
    }

    print_machine();
    char ccpus[256], scpus[256];
    cpus_str(&c.client_cpus, ccpus, sizeof ccpus);
    cpus_str(&c.server_cpus, scpus, sizeof scpus);
    printf("rgpu bench%s, largest copy %llu MiB; libcuda.so.1 from %s\n", c.quick ? " --quick" : "",
           (unsigned long long)(c.max_size >> 20), libdir);
    printf("placement %s: client on CPU %s, server on CPU %s%s; load average at start %s\n", c.placement, ccpus, scpus,
           nservers_given ? " (only the raw server: the --server rgpud runs where it runs)" : "", loadavg(lbuf, sizeof lbuf));
    fflush(stdout);

    struct bresult b;
    fprintf(stderr, "rgpu bench: the CPU device alone, in process\n");
    if (run_child("the backend measurement", c.child_deadline_s, &b, sizeof b, backend_child, &c) || !b.ok) {
        fprintf(stderr, "rgpu bench: %s\n", b.err);
        status = 1;
    } else {
        printf("CPU device alone, in process: empty launch %.2f us, HtoD 64 MiB %.0f MiB/s, DtoH 64 MiB %.0f MiB/s, "
               "memcpy 64 MiB %.0f MiB/s\n",
               b.launch_us, b.htod_bps / (1 << 20), b.dtoh_bps / (1 << 20), b.memcpy_bps / (1 << 20));
    }

    static struct tresult res[MAX_SERVERS];
    for (int i = 0; i < nservers; i++) {
        struct transport_arg ta = {servers[i], libdir, g_tmpdir, &c};
        if (run_child(servers[i], c.child_deadline_s, &res[i], sizeof res[i], transport_child, &ta) || !res[i].ok) {
            fprintf(stderr, "rgpu bench: %s: %s\n", servers[i], res[i].err);
            printf("\n== %s ==\n  FAILED: %s\n", servers[i], res[i].err);
            status = 1;
            continue;
        }
        struct rgpu_addr a;
        char err[256];
        rgpu_addr_parse(servers[i], &a, err, sizeof err);
        if (!a.is_unix && strcmp(a.host, "127.0.0.1") && strcmp(a.host, "localhost") && strcmp(a.host, "::1"))
            fprintf(stderr, "rgpu bench: note: the raw baseline for %s runs on loopback, not to that host\n",
                    servers[i]);
        print_transport(servers[i], &res[i], &b);
        fflush(stdout);
    }

    printf("\nload average at end %s\n", loadavg(lbuf, sizeof lbuf));
    printf("\ntargets (informational; ratios from this run)\n");
    fflush(stdout);
    for (int i = 0; i < nservers; i++) {
        if (!res[i].ok)
            continue;
        print_targets(strncmp(servers[i], "unix:", 5) == 0 ? "unix" : strncmp(servers[i], "shm:", 4) == 0 ? "shm" : "tcp",
                      &res[i], &b);
    }
out:
    stop_server();
    if (g_sock_path[0])
        unlink(g_sock_path);
    if (g_shm_path[0])
        unlink(g_shm_path);
    if (g_log_path[0])
        unlink(g_log_path);
    rmdir(g_tmpdir);
    g_tmpdir[0] = 0;
    return status;
}
