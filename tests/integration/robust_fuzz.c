/*
 * robust_fuzz.c — every call of wire/calls.def with hostile arguments.
 *
 * usage: robust_fuzz CLIENT [ARGS...]   (through run_with_server.sh; unix or tcp)
 * environment: RGPU_FUZZ_SEED (default 1), RGPU_FUZZ_REQUESTS (default 3000)
 *
 * robust_wire checks chosen cases by hand; this test covers the rest by
 * volume. Each connection first makes real objects the normal way (a context,
 * device memory, a stream, an event, a graph, a module and its function).
 * Then it sends requests of random calls, each built from that call's own
 * encoding of zeroed arguments (so every argument sits where the server
 * looks for it) with words overwritten by those handles, pointers into and
 * around the allocation, numbers that are edges of something, random bytes;
 * sometimes a payload, a wrong length, another context, no reply wanted.
 *
 * What the server must do with each (principle 4 of the project): answer,
 * or close that connection with a reason in its log. Never: a worker killed
 * by a signal (rgpud logs those), a sanitizer report (in a RGPU_SANITIZE
 * build), a worker that outlives its closed connection, a server that stops
 * serving others. A request may legitimately keep its own worker busy (a
 * grid of 2^31 blocks): a connection that stops answering is closed, and
 * then its worker must go. On a failure the connection's recent requests are
 * printed; RGPU_FUZZ_SEED reproduces the run.
 */
#include "calls.h"
#include "imagehash.h"
#include "robust_conn.h"

#include <inttypes.h>

static uint64_t rng_state;

static uint64_t rnd(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static unsigned below(unsigned n) { return (unsigned)(rnd() % n); }

/* ---- rgpud's log: what the server said since we last looked ---- */
static const char *log_path;
static long log_seen;

/* the lines written since the last call, with the ones that mean a defect counted */
static int log_defects(const char *during)
{
    FILE *f = log_path ? fopen(log_path, "r") : NULL;
    if (!f)
        return 0;
    fseek(f, log_seen, SEEK_SET);
    char line[1024];
    int bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "killed by signal") || strstr(line, "AddressSanitizer") ||
            strstr(line, "runtime error:") || strstr(line, "ThreadSanitizer")) {
            FAIL("rgpud during %s: %s", during, line);
            bad++;
        }
    }
    log_seen = ftell(f);
    fclose(f);
    return bad;
}

/* ---- a connection and what it owns ---- */
#define HISTORY 48
struct sent {
    uint16_t call;
    uint32_t flags, args_len;
    uint64_t bulk_len, ctx;
    uint8_t head[64];
};
struct conn {
    int fd;
    pid_t worker;
    uint32_t seq;
    uint64_t ctx, dptr, stream, event, graph, module, func;
    struct sent hist[HISTORY];
    unsigned nsent;
};
#define DEV_BYTES (1u << 20)

static const char kernel_ptx[] = ".version 7.0\n.target sm_75\n.address_size 64\n"
                                 ".visible .entry k(.param .u64 p, .param .u32 v)\n{\n"
                                 "\t.reg .u32 %r<2>;\n\t.reg .u64 %rd<2>;\n"
                                 "\tld.param.u64 %rd1, [p];\n\tld.param.u32 %r1, [v];\n"
                                 "\tst.global.u32 [%rd1], %r1;\n\tret;\n}\n";

static void remember(struct conn *c, const struct rgpu_hdr *h, const void *args)
{
    struct sent *s = &c->hist[c->nsent++ % HISTORY];
    s->call = h->call;
    s->flags = h->flags;
    s->args_len = h->args_len;
    s->bulk_len = h->bulk_len;
    s->ctx = h->ctx;
    memset(s->head, 0, sizeof s->head);
    memcpy(s->head, args, h->args_len < sizeof s->head ? h->args_len : sizeof s->head);
}

static void print_history(const struct conn *c)
{
    unsigned n = c->nsent < HISTORY ? c->nsent : HISTORY;
    fprintf(stderr, "robust_fuzz: the connection's last %u requests (oldest first):\n", n);
    for (unsigned i = c->nsent - n; i < c->nsent; i++) {
        const struct sent *s = &c->hist[i % HISTORY];
        fprintf(stderr, "  %-34s flags %u ctx %#" PRIx64 " args_len %u bulk_len %" PRIu64 " args",
                s->call < RGPU_NCALLS ? rgpu_calls[s->call].name : "?", s->flags, s->ctx, s->args_len,
                s->bulk_len);
        for (unsigned b = 0; b < s->args_len && b < sizeof s->head; b++)
            fprintf(stderr, "%s%02x", b % 8 ? "" : " ", s->head[b]);
        fputc('\n', stderr);
    }
}

static int send_frame(struct conn *c, struct rgpu_hdr *h, const void *args, const struct iovec *bulk, int nbulk)
{
    remember(c, h, args);
    if (rc_send_all(c->fd, h, sizeof *h) || (h->args_len && rc_send_all(c->fd, args, h->args_len)))
        return -1;
    for (int i = 0; i < nbulk; i++)
        if (bulk[i].iov_len && rc_send_all(c->fd, bulk[i].iov_base, bulk[i].iov_len))
            return -1;
    return 0;
}

/* Reads until the REPLY to seq, answering what the server asks on the way
 * (host functions) and dropping the rest. 1 with the reply's header and a
 * malloc'd body, 0 when the connection closed, -1 on timeout. */
static int await_reply(struct conn *c, uint32_t seq, struct rgpu_hdr *rep, uint8_t **body, double timeout_s)
{
    for (;;) {
        int r = rc_recv_all(c->fd, rep, sizeof *rep, timeout_s);
        if (r != 1)
            return r;
        if (rep->magic != RGPU_MAGIC || rep->args_len > RGPU_MAX_ARGS_LEN || rep->bulk_len > (256u << 20)) {
            FAIL("a message from the server with magic %#x args_len %u bulk_len %" PRIu64, rep->magic,
                 rep->args_len, rep->bulk_len);
            return 0;
        }
        size_t total = rep->args_len + (size_t)rep->bulk_len;
        uint8_t *b = malloc(total ? total : 1);
        if (!b || (r = rc_recv_all(c->fd, b, total, timeout_s)) != 1) {
            free(b);
            return b ? r : 0;
        }
        if (rep->type == RGPU_MSG_REPLY && rep->seq == seq) {
            *body = b;
            return 1;
        }
        if (rep->type == RGPU_MSG_CALLBACK && rep->args_len >= sizeof(struct rgpu_callback)) {
            struct rgpu_callback cb;
            memcpy(&cb, b, sizeof cb);
            struct rgpu_hdr h = rc_hdr(RGPU_MSG_CALLBACK_DONE, 0, 0, 0, sizeof cb, 0);
            if (rc_send_all(c->fd, &h, sizeof h) || rc_send_all(c->fd, &cb, sizeof cb)) {
                free(b);
                return 0;
            }
        }
        free(b);
    }
}

/* A well-formed call through the row's own codecs (setting up the objects). */
static int call(struct conn *c, enum rgpu_call_id id, void *args)
{
    const struct rgpu_call_desc *d = &rgpu_calls[id];
    struct rgpu_wbuf w;
    rgpu_wbuf_init(&w);
    d->enc_req(&w, args);
    struct rgpu_hdr h = rc_hdr(RGPU_MSG_REQUEST, (uint16_t)id, ++c->seq, c->ctx, (uint32_t)w.len, w.bulk_len);
    int r = send_frame(c, &h, w.data, w.bulk, w.nbulk);
    rgpu_wbuf_free(&w);
    struct rgpu_hdr rep;
    uint8_t *body = NULL;
    if (r || await_reply(c, h.seq, &rep, &body, 20) != 1) {
        FAIL("setting up: no reply to %s", d->name);
        return -1;
    }
    if (rep.result == CUDA_SUCCESS) {
        struct rgpu_rbuf rb;
        rgpu_rbuf_init(&rb, body, rep.args_len, body + rep.args_len, rep.bulk_len);
        if (!d->dec_rep(&rb, args))
            FAIL("setting up: the reply to %s does not decode", d->name);
    } else {
        FAIL("setting up: %s failed with %d", d->name, rep.result);
    }
    free(body);
    return rep.result;
}

static bool conn_open(struct conn *c)
{
    memset(c, 0, sizeof *c);
    c->fd = rc_connect();
    struct rgpu_welcome w;
    const char *bad = rc_handshake(c->fd, "robust_fuzz", &w);
    if (bad) {
        FAIL("%s", bad);
        return false;
    }
    c->worker = (pid_t)w.worker_pid;
    struct rgpu_args_cuDevicePrimaryCtxRetain pc = {.dev = 0};
    if (call(c, RGPU_ID_cuDevicePrimaryCtxRetain, &pc))
        return false;
    c->ctx = (uint64_t)(uintptr_t)pc.pctx;
    struct rgpu_args_cuMemAlloc_v2 ma = {.bytesize = DEV_BYTES};
    struct rgpu_args_cuStreamCreate sc = {.Flags = 0};
    struct rgpu_args_cuEventCreate ec = {.Flags = 0};
    struct rgpu_args_cuGraphCreate gc = {.flags = 0};
    struct rgpu_args_rgpu_module_load ml = {.image = kernel_ptx, .image_len = sizeof kernel_ptx};
    if (!rgpu_image_ref_of(kernel_ptx, sizeof kernel_ptx, &ml.ref)) {
        FAIL("naming the kernel's image");
        return false;
    }
    if (call(c, RGPU_ID_cuMemAlloc_v2, &ma) || call(c, RGPU_ID_cuStreamCreate, &sc) ||
        call(c, RGPU_ID_cuEventCreate, &ec) || call(c, RGPU_ID_cuGraphCreate, &gc) ||
        call(c, RGPU_ID_rgpu_module_load, &ml))
        return false;
    struct rgpu_args_cuModuleGetFunction gf = {.hmod = ml.module, .name = "k", .name_len = 2};
    if (call(c, RGPU_ID_cuModuleGetFunction, &gf))
        return false;
    c->dptr = ma.dptr;
    c->stream = (uint64_t)(uintptr_t)sc.phStream;
    c->event = (uint64_t)(uintptr_t)ec.phEvent;
    c->graph = (uint64_t)(uintptr_t)gc.phGraph;
    c->module = (uint64_t)(uintptr_t)ml.module;
    c->func = (uint64_t)(uintptr_t)gf.hfunc;
    return true;
}

/* After the connection closed (or we closed it): its worker goes, without a
 * signal, and the server logs nothing that means a defect. */
static void conn_closed(struct conn *c, const char *how)
{
    rgpu_close(c->fd);
    c->fd = -1;
    double t0 = ru_now();
    char st;
    while ((st = ru_proc_state(c->worker, NULL)) != 0 && st != 'Z' && ru_now() - t0 < 10)
        ru_sleep_ms(10);
    if (st != 0 && st != 'Z') {
        FAIL("worker %d still runs 10 s after its connection closed (%s)", (int)c->worker, how);
        print_history(c);
    }
    while (ru_proc_state(c->worker, NULL) != 0 && ru_now() - t0 < 12) /* reaped: rgpud has logged */
        ru_sleep_ms(10);
    if (log_defects(how))
        print_history(c);
}

/* ---- hostile requests ---- */
static uint64_t pick_value(const struct conn *c)
{
    static const uint64_t edges[] = {0,          1,          2,          3,          4,          7,
                                     8,          16,         31,         32,         64,         255,
                                     256,        1024,       1025,       4096,       65535,      65536,
                                     1u << 20,   0x7fffffff, 0x80000000, 0xffffffff, 1ull << 32, 1ull << 40,
                                     INT64_MAX,  UINT64_MAX, UINT64_MAX - 1};
    switch (below(8)) {
    case 0: {
        const uint64_t handles[] = {c->ctx, c->stream, c->event, c->graph, c->module, c->func};
        return handles[below(6)];
    }
    case 1: {
        const uint64_t around[] = {c->dptr, c->dptr + 4, c->dptr + DEV_BYTES - 4, c->dptr + DEV_BYTES,
                                   c->dptr + DEV_BYTES + 4096, c->dptr - 4};
        return around[below(6)];
    }
    case 2:
    case 3:
    case 4:
        return edges[below(sizeof edges / sizeof edges[0])];
    case 5:
        return below(64);
    default:
        return rnd();
    }
}

static void put_value(uint8_t *p, size_t len, size_t at, uint64_t v)
{
    size_t n = len - at < 8 ? len - at : 8;
    memcpy(p + at, &v, n);
}

/* One hostile request; false when the connection is gone (or given up). */
static bool fuzz_one(struct conn *c, unsigned *closed, unsigned *busy)
{
    uint16_t id = (uint16_t)(1 + below(RGPU_NCALLS - 1));
    const struct rgpu_call_desc *d = &rgpu_calls[id];
    /* the row's encoding of zeroed arguments: every argument where the server reads it */
    static uint8_t zero[1 << 16];
    struct rgpu_wbuf w;
    rgpu_wbuf_init(&w);
    d->enc_req(&w, memset(zero, 0, d->args_size));
    size_t len = w.len;
    uint64_t bulk_len = w.bulk_len; /* fixed-size inputs travel as payload even when zeroed */
    uint8_t args[4096 + 64];
    static uint8_t bulk[1 << 16];
    if (len > 4096)
        len = 4096;
    memcpy(args, w.data, len);
    rgpu_wbuf_free(&w);
    /* Most requests are gentle: one word changed, never one that made this
     * call malformed before (a length or a want-flag: learnt as the run
     * goes), so that connections live long enough for sequences of calls
     * to meet. The others change words at random (one in four: about half
     * of them), flip bits, cut or pad the arguments, send a payload of
     * another size. */
    static uint8_t avoid[RGPU_NCALLS][4096 / 4], bad_template[RGPU_NCALLS];
    int gentle_at = -1; /* the word a gentle request changed; len: none */
    if (below(4) && len && !bad_template[id]) {
        unsigned at = 4 * below((unsigned)(len + 3) / 4);
        gentle_at = (int)len;
        if (!avoid[id][at / 4]) {
            put_value(args, len, at, pick_value(c));
            gentle_at = (int)at;
        }
    } else {
        bool all = below(4) == 0;
        for (size_t at = 0; at < len; at += 4)
            if (all ? below(2) : below((unsigned)(len / 4) + 1) == 0)
                put_value(args, len, at, pick_value(c));
        if (below(4) == 0 && len)
            args[below((unsigned)len)] ^= (uint8_t)(1u << below(8));
        if (below(16) == 0) { /* the wrong length: the server must not read past what came */
            if (below(2) && len) {
                len = below((unsigned)len);
            } else {
                size_t grow = 1 + below(63);
                for (size_t i = len; i < len + grow; i++)
                    args[i] = (uint8_t)rnd();
                len += grow;
            }
        }
        /* a payload sized by one of the words (as length expressions are)
         * or at random; most rows take none, so mostly a malformed request */
        if (below(6) == 0) {
            uint64_t v = 0;
            if (len >= 8 && below(2))
                memcpy(&v, args + 4 * below((unsigned)(len - 8) / 4 + 1), 8);
            bulk_len = v && v <= sizeof bulk ? v : below(2) ? below(512) : below(sizeof bulk);
        }
    }
    if (bulk_len > sizeof bulk)
        bulk_len = sizeof bulk;
    for (uint64_t i = 0; i < bulk_len; i += 8)
        put_value(bulk, (size_t)bulk_len, (size_t)i, below(4) ? pick_value(c) : rnd());
    struct rgpu_hdr h = rc_hdr(RGPU_MSG_REQUEST, id, ++c->seq, c->ctx, (uint32_t)len, bulk_len);
    switch (below(16)) {
    case 0: h.ctx = 0; break;
    case 1: h.ctx = pick_value(c); break;
    case 2: h.tid = (uint32_t)rnd(); break;
    }
    if (below(8) == 0 && gentle_at < 0)
        h.flags = RGPU_F_NO_REPLY;
    struct iovec iov = {bulk, (size_t)bulk_len};
    if (send_frame(c, &h, args, &iov, 1) != 0) {
        (*closed)++;
        conn_closed(c, "a send that found the connection closed");
        return false;
    }
    if (h.flags & RGPU_F_NO_REPLY)
        return true;
    struct rgpu_hdr rep;
    uint8_t *body = NULL;
    int r = await_reply(c, h.seq, &rep, &body, 10);
    free(body);
    if (r == 1)
        return true;
    char how[128];
    snprintf(how, sizeof how, "%s %s", r == 0 ? "a connection closed after" : "no reply in 10 s to", d->name);
    if (r == 0 && gentle_at == (int)len) /* (a string argument is never empty, for one) */
        bad_template[id] = 1;
    else if (r == 0 && gentle_at >= 0)
        avoid[id][gentle_at / 4] = 1;
    if (r == 0)
        (*closed)++;
    else
        (*busy)++;
    conn_closed(c, how);
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CLIENT [ARGS...]  (through run_with_server.sh)\n", argv[0]);
        return 2;
    }
    pid_t server = ru_server_pid();
    log_path = getenv("RGPU_TEST_SERVER_LOG");
    const char *e = getenv("RGPU_FUZZ_SEED");
    uint64_t seed = e ? strtoull(e, NULL, 0) : 1;
    e = getenv("RGPU_FUZZ_REQUESTS");
    unsigned requests = e ? (unsigned)strtoul(e, NULL, 0) : 3000;
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    fprintf(stderr, "robust_fuzz: seed %" PRIu64 ", %u requests (RGPU_FUZZ_SEED, RGPU_FUZZ_REQUESTS)\n", seed,
            requests);
    log_defects("start-up");

    struct conn c = {.fd = -1};
    unsigned sent = 0, closed = 0, busy = 0, conns = 0, per_conn = 0;
    while (sent < requests && failures < 5) {
        if (c.fd < 0 || per_conn >= 400) { /* a fresh worker now and then: state does not pile up */
            if (c.fd >= 0)
                conn_closed(&c, "the end of a connection's turn");
            if (!conn_open(&c))
                break;
            conns++;
            per_conn = 0;
        }
        sent++;
        per_conn++;
        if (!fuzz_one(&c, &closed, &busy))
            c.fd = -1;
        if (kill(server, 0) != 0) {
            FAIL("rgpud (pid %d) is gone", (int)server);
            print_history(&c);
            return 1;
        }
    }
    if (c.fd >= 0)
        conn_closed(&c, "the last connection");
    fprintf(stderr, "robust_fuzz: %u requests on %u connections; %u closed by the server, %u given up on\n", sent,
            conns, closed, busy);
    int st = ru_run(argv + 1, 60, 1);
    if (st != 0)
        FAIL("afterwards a normal client (%s) exited with %d", argv[1], st);
    log_defects("the normal client");
    if (failures)
        fprintf(stderr, "robust_fuzz: %d failure(s)\n", failures);
    else
        fprintf(stderr, "robust_fuzz: OK\n");
    return failures ? 1 : 0;
}
