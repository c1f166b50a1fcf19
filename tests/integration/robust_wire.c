/*
 * robust_wire.c — malformed and hostile input on raw connections to rgpud.
 *
 * usage: robust_wire CLIENT [ARGS...]   (through run_with_server.sh)
 *
 * Speaks the wire protocol of wire/proto.h by hand: garbage, truncated
 * frames, bad magic, unknown message types, absurd lengths, requests before
 * HELLO, unknown call ids, malformed arguments, forged handles and contexts.
 * After each case CLIENT (a normal CUDA program, e.g. the devices test) must
 * still succeed, the server must still be running, and where framing is
 * broken the server must close that connection (proto.h: "A receiver that
 * sees a bad magic, an unknown type, or a length over its limits closes the
 * connection"). A well-formed request with a forged handle must get an error
 * REPLY, and the same connection must keep working.
 */
#include "calls.h" /* call ids, generated from wire/calls.def */
#include "imagehash.h"
#include "robust_conn.h"

static char **client_argv;
static pid_t server_pid;
static pid_t baseline[256];
static int nbaseline;

/* after a framing error the server must close: reads hit EOF (anything it
 * sent before closing is drained). 1 closed, 0 still open after timeout_s. */
static int expect_closed(int fd, double timeout_s)
{
    double t0 = ru_now();
    char buf[4096];
    while (ru_now() - t0 < timeout_s) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, 100);
        if (pr > 0) {
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0)
                return 1;
        }
    }
    return 0;
}

static void send_msg(int fd, struct rgpu_hdr h, const void *args, size_t n)
{
    if (rc_send_all(fd, &h, sizeof h) != 0 || (n && rc_send_all(fd, args, n) != 0))
        FAIL("send to the server failed: %s", strerror(errno));
}

/* A message the server may reject as soon as it has read the header: it can
 * close the connection before the rest arrives, so a broken pipe or a reset
 * here is an acceptable outcome, not a failure of the server. */
static void send_hostile(int fd, struct rgpu_hdr h, const void *args, size_t n)
{
    if ((rc_send_all(fd, &h, sizeof h) != 0 || (n && rc_send_all(fd, args, n) != 0)) && errno != EPIPE &&
        errno != ECONNRESET)
        FAIL("send to the server failed: %s", strerror(errno));
}

/* HELLO + WELCOME; returns the number of devices (or -1) */
static int handshake(int fd)
{
    struct rgpu_welcome w;
    const char *bad = rc_handshake(fd, "robust_wire", &w);
    if (bad) {
        FAIL("%s", bad);
        return -1;
    }
    return w.ndev;
}

/* read one REPLY (skipping nothing else: no async work is pending here).
 * Returns 1 with *hdr and up to cap bytes of arguments, 0 if the connection
 * closed, -1 on timeout. */
static int read_reply(int fd, struct rgpu_hdr *hdr, void *args, size_t cap, double timeout_s)
{
    int r = rc_recv_all(fd, hdr, sizeof *hdr, timeout_s);
    if (r != 1)
        return r;
    if (hdr->magic != RGPU_MAGIC) {
        FAIL("reply with bad magic %#x", hdr->magic);
        return 0;
    }
    size_t total = hdr->args_len + (size_t)hdr->bulk_len;
    if (hdr->args_len > RGPU_MAX_ARGS_LEN || hdr->bulk_len > (64u << 20)) {
        FAIL("reply with absurd lengths args_len=%u bulk_len=%llu", hdr->args_len,
             (unsigned long long)hdr->bulk_len);
        return 0;
    }
    unsigned char *buf = malloc(total ? total : 1);
    r = rc_recv_all(fd, buf, total, timeout_s);
    if (r == 1 && args)
        memcpy(args, buf, hdr->args_len < cap ? hdr->args_len : cap);
    free(buf);
    return r;
}

/* ---- checks between cases ---- */
static void server_still_serves(const char *after)
{
    if (kill(server_pid, 0) != 0) {
        FAIL("after %s: rgpud (pid %d) is gone", after, (int)server_pid);
        fprintf(stderr, "robust_wire: aborting, the server died\n");
        exit(1);
    }
    int st = ru_run(client_argv, 60, 1);
    if (st != 0)
        FAIL("after %s: normal client %s exited with %d, expected 0", after, client_argv[0], st);
}

/* every worker of a connection we closed goes away */
static void workers_gone(const char *after)
{
    pid_t now[256];
    double t0 = ru_now();
    int extra;
    do {
        int n = ru_children(server_pid, now, 256);
        extra = 0;
        for (int i = 0; i < n; i++)
            if (!ru_contains(baseline, nbaseline, now[i]))
                extra++;
        if (!extra)
            return;
        ru_sleep_ms(50);
    } while (ru_now() - t0 < 5);
    FAIL("after %s: %d worker process(es) still present 5 s after their connections closed", after, extra);
}

#define CASE(name) fprintf(stderr, "robust_wire: case: %s\n", name)

/* A handshake and the primary context on fd: the context, 0 on failure. */
static uint64_t with_context(int fd)
{
    struct rgpu_hdr rh;
    unsigned char out[64];
    int dev = 0;
    uint64_t ctx = 0;
    if (handshake(fd) < 1)
        return 0;
    send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuDevicePrimaryCtxRetain, 1, 0, sizeof dev, 0), &dev, sizeof dev);
    if (read_reply(fd, &rh, out, sizeof out, 10) != 1 || rh.result != CUDA_SUCCESS)
        return 0;
    memcpy(&ctx, out, sizeof ctx);
    return ctx;
}

/* A well-formed request of call id through its codec (its bulk, if any, is
 * bulk/n); no reply wanted when no_reply. 0 when sent. */
static int send_call(int fd, enum rgpu_call_id id, uint32_t seq, uint64_t ctx, void *args, bool no_reply,
                     const void *bulk, size_t n)
{
    struct rgpu_wbuf w;
    rgpu_wbuf_init(&w);
    rgpu_calls[id].enc_req(&w, args);
    struct rgpu_hdr h = rc_hdr(RGPU_MSG_REQUEST, (uint16_t)id, seq, ctx, (uint32_t)w.len, w.bulk_len);
    h.flags = no_reply ? RGPU_F_NO_REPLY : 0;
    int sent = rc_send_all(fd, &h, sizeof h) == 0 && rc_send_all(fd, w.data, w.len) == 0 &&
               (!w.bulk_len || rc_send_all(fd, bulk, n) == 0);
    rgpu_wbuf_free(&w);
    return sent ? 0 : -1;
}

/* A call on fd (its bulk pieces as its codec lists them) and its reply,
 * decoded into args: the result, or -1 when the exchange itself failed. */
static int call(int fd, enum rgpu_call_id id, uint32_t seq, uint64_t ctx, void *args)
{
    struct rgpu_wbuf w;
    rgpu_wbuf_init(&w);
    rgpu_calls[id].enc_req(&w, args);
    struct rgpu_hdr rh = rc_hdr(RGPU_MSG_REQUEST, (uint16_t)id, seq, ctx, (uint32_t)w.len, w.bulk_len);
    int sent = rc_send_all(fd, &rh, sizeof rh) == 0 && rc_send_all(fd, w.data, w.len) == 0;
    for (int i = 0; sent && i < w.nbulk; i++)
        sent = rc_send_all(fd, w.bulk[i].iov_base, w.bulk[i].iov_len) == 0;
    rgpu_wbuf_free(&w);
    unsigned char out[256];
    if (!sent || read_reply(fd, &rh, out, sizeof out, 10) != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq)
        return -1;
    struct rgpu_rbuf rb;
    rgpu_rbuf_init(&rb, out, rh.args_len, NULL, 0);
    if (rh.result == CUDA_SUCCESS && (!rgpu_calls[id].dec_rep(&rb, args) || !rgpu_rbuf_done(&rb)))
        return -1;
    return rh.result;
}

/* rgpu_module_load on a fresh connection (with the primary context): the
 * image named ref, its bytes sent along when img is not NULL. The result, or
 * -1 when the exchange itself failed. */
static int load_named(const struct rgpu_image_ref *ref, const void *img, size_t n)
{
    int fd = rc_connect(), result = -1;
    struct rgpu_hdr rh;
    unsigned char out[64];
    uint64_t ctx = with_context(fd);
    struct rgpu_args_rgpu_module_load a = {.ref = *ref, .image = img, .image_len = img ? n : 0};
    if (ctx && send_call(fd, RGPU_ID_rgpu_module_load, 2, ctx, &a, false, img, n) == 0 &&
        read_reply(fd, &rh, out, sizeof out, 10) == 1 && rh.type == RGPU_MSG_REPLY && rh.seq == 2)
        result = rh.result;
    rgpu_close(fd);
    return result;
}

static void close_case(int fd, const char *name)
{
    rgpu_close(fd);
    workers_gone(name);
    server_still_serves(name);
}

/* bytes that break framing: the server must close the connection */
static void framing_case(const char *name, const void *bytes, size_t n)
{
    CASE(name);
    int fd = rc_connect();
    rc_send_all(fd, bytes, n);
    if (!expect_closed(fd, 5))
        FAIL("%s: the server did not close the connection within 5 s", name);
    close_case(fd, name);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: %s CLIENT [ARGS...]\n", argv[0]);
        return 2;
    }
    client_argv = argv + 1;
    server_pid = ru_server_pid();
    signal(SIGPIPE, SIG_IGN);
    nbaseline = ru_children(server_pid, baseline, 256);

    server_still_serves("start");

    /* 1. connect and close without a byte */
    CASE("empty connection");
    close_case(rc_connect(), "empty connection");

    /* 2. garbage */
    {
        unsigned char g[4096];
        uint64_t s = 0x1234567;
        for (size_t i = 0; i < sizeof g; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            g[i] = (unsigned char)(s >> 56);
        }
        framing_case("4 KiB of garbage", g, sizeof g);
        memset(g, 0, sizeof g);
        framing_case("4 KiB of zeros", g, sizeof g);
    }

    /* 3. truncated frames: half a header, a header without its arguments */
    {
        CASE("truncated header");
        struct rgpu_hello hello;
        memset(&hello, 0, sizeof hello);
        hello.proto_version = RGPU_PROTO_VERSION;
        struct rgpu_hdr h = rc_hdr(RGPU_MSG_HELLO, 0, 0, 0, sizeof hello, 0);
        int fd = rc_connect();
        rc_send_all(fd, &h, 20);
        /* while it hangs half-sent, other clients are served */
        server_still_serves("a connection stalled mid-header");
        close_case(fd, "truncated header");

        CASE("header without its arguments");
        fd = rc_connect();
        rc_send_all(fd, &h, sizeof h);
        rc_send_all(fd, &hello, 10);
        server_still_serves("a connection stalled mid-arguments");
        close_case(fd, "header without its arguments");
    }

    /* 4. bad magic, unknown type, absurd lengths */
    {
        struct rgpu_hdr h = rc_hdr(RGPU_MSG_HELLO, 0, 0, 0, 0, 0);
        h.magic = 0x12345678;
        framing_case("bad magic", &h, sizeof h);
        h = rc_hdr(99, 0, 0, 0, 0, 0);
        framing_case("unknown message type 99", &h, sizeof h);
        h = rc_hdr(0, 0, 0, 0, 0, 0);
        framing_case("message type 0", &h, sizeof h);
        h = rc_hdr(RGPU_MSG_HELLO, 0, 0, 0, 0xFFFFFFFFu, 0);
        framing_case("HELLO with args_len 0xFFFFFFFF", &h, sizeof h);
        h = rc_hdr(RGPU_MSG_HELLO, 0, 0, 0, RGPU_MAX_ARGS_LEN + 1, 0);
        framing_case("HELLO with args_len over the limit", &h, sizeof h);
        h = rc_hdr(RGPU_MSG_HELLO, 0, 0, 0, sizeof(struct rgpu_hello), UINT64_MAX);
        framing_case("HELLO with bulk_len 2^64-1", &h, sizeof h);
        h = rc_hdr(RGPU_MSG_HELLO, 0, 0, 0, sizeof(struct rgpu_hello), RGPU_MAX_BULK_LEN + 1);
        framing_case("HELLO with bulk_len over the limit", &h, sizeof h);
    }

    /* 5. protocol order: a REQUEST before HELLO, a server-only message type */
    {
        CASE("REQUEST before HELLO");
        int fd = rc_connect();
        int dev = 0;
        send_hostile(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuDevicePrimaryCtxRetain, 1, 0, sizeof dev, 0), &dev,
                     sizeof dev);
        struct rgpu_hdr rh;
        uint64_t out[4];
        int r = read_reply(fd, &rh, out, sizeof out, 5);
        if (r == 1 && (rh.type != RGPU_MSG_REPLY || rh.result == CUDA_SUCCESS))
            FAIL("REQUEST before HELLO: got type %u result %d, expected an error REPLY or a closed connection",
                 rh.type, rh.result);
        if (r == -1)
            FAIL("REQUEST before HELLO: no answer and not closed within 5 s");
        close_case(fd, "REQUEST before HELLO");

        CASE("WELCOME sent by a client");
        fd = rc_connect();
        struct rgpu_welcome w;
        memset(&w, 0, sizeof w);
        send_hostile(fd, rc_hdr(RGPU_MSG_WELCOME, 0, 0, 0, sizeof w, 0), &w, sizeof w);
        expect_closed(fd, 2);
        close_case(fd, "WELCOME sent by a client");

        /* a client of another version (another HELLO size too) or built
         * from another call table: refused with a WELCOME that says which
         * version and table the server has, then let go */
        struct rgpu_hello hello;
        struct {
            const char *what;
            uint32_t version, len;
            uint64_t fingerprint;
        } peers[] = {
            {"HELLO of another protocol version", 0x7777, sizeof hello, rgpu_calls_fingerprint()},
            {"HELLO of an older protocol, shorter", 2, sizeof hello - sizeof hello.calls_fingerprint, 0},
            {"HELLO from another call table", RGPU_PROTO_VERSION, sizeof hello, rgpu_calls_fingerprint() ^ 1},
        };
        for (size_t k = 0; k < sizeof peers / sizeof peers[0]; k++) {
            CASE(peers[k].what);
            fd = rc_connect();
            memset(&hello, 0, sizeof hello);
            hello.proto_version = peers[k].version;
            hello.calls_fingerprint = peers[k].fingerprint;
            send_hostile(fd, rc_hdr(RGPU_MSG_HELLO, 0, 0, 0, peers[k].len, 0), &hello, peers[k].len);
            struct rgpu_welcome w;
            memset(&w, 0, sizeof w);
            r = read_reply(fd, &rh, &w, sizeof w, 5);
            if (r != 1 || rh.type != RGPU_MSG_WELCOME || rh.result != CUDA_ERROR_SYSTEM_DRIVER_MISMATCH)
                FAIL("%s: expected a WELCOME with CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (got %d, type %u, result %d)",
                     peers[k].what, r, r == 1 ? rh.type : 0, r == 1 ? rh.result : 0);
            else if (w.proto_version != RGPU_PROTO_VERSION || w.calls_fingerprint != rgpu_calls_fingerprint())
                FAIL("%s: the refusal names protocol %u and table %016llx, not the server's", peers[k].what,
                     w.proto_version, (unsigned long long)w.calls_fingerprint);
            expect_closed(fd, 5);
            close_case(fd, peers[k].what);
        }

        CASE("HELLO with short arguments");
        fd = rc_connect();
        send_hostile(fd, rc_hdr(RGPU_MSG_HELLO, 0, 0, 0, 3, 0), "abc", 3);
        r = read_reply(fd, &rh, NULL, 0, 5);
        if (r == 1 && rh.type == RGPU_MSG_WELCOME && rh.result == CUDA_SUCCESS)
            FAIL("HELLO with 3 bytes of arguments was welcomed");
        close_case(fd, "HELLO with short arguments");
    }

    /* 6. after a good HELLO: unknown call ids, malformed arguments, forged handles */
    {
        CASE("handshake and forged handles");
        int fd = rc_connect();
        if (handshake(fd) < 1) {
            rgpu_close(fd);
            fprintf(stderr, "robust_wire: handshake failed, skipping the request cases\n");
            goto done;
        }
        struct rgpu_hdr rh;
        unsigned char out[64];
        uint32_t seq = 100;

        /* retain the primary context to get a real context handle */
        int dev = 0;
        send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuDevicePrimaryCtxRetain, ++seq, 0, sizeof dev, 0), &dev,
                 sizeof dev);
        uint64_t ctx = 0;
        int r = read_reply(fd, &rh, out, sizeof out, 10);
        if (r != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result != CUDA_SUCCESS ||
            rh.args_len != sizeof(uint64_t)) {
            FAIL("cuDevicePrimaryCtxRetain over the wire: r=%d type %u seq %u (want %u) result %d args_len %u", r,
                 rh.type, rh.seq, seq, rh.result, rh.args_len);
            rgpu_close(fd);
            goto done;
        }
        memcpy(&ctx, out, sizeof ctx);
        if (!ctx)
            FAIL("cuDevicePrimaryCtxRetain returned a NULL context");

        /* a forged stream: an error REPLY, then the connection still works */
        uint64_t forged = 0x1234;
        send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuStreamSynchronize, ++seq, ctx, sizeof forged, 0), &forged,
                 sizeof forged);
        r = read_reply(fd, &rh, out, sizeof out, 10);
        if (r != 1)
            FAIL("cuStreamSynchronize(forged stream %#llx): %s", (unsigned long long)forged,
                 r == 0 ? "the connection was closed" : "no reply within 10 s");
        else if (rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result == CUDA_SUCCESS)
            FAIL("cuStreamSynchronize(forged stream): got type %u seq %u result %d, expected an error REPLY seq %u",
                 rh.type, rh.seq, rh.result, seq);
        else
            fprintf(stderr, "robust_wire: forged stream -> error %d\n", rh.result);

        forged = 0xdeadbeefcafe0000ull;
        send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuEventQuery, ++seq, ctx, sizeof forged, 0), &forged,
                 sizeof forged);
        r = read_reply(fd, &rh, out, sizeof out, 10);
        if (r != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result == CUDA_SUCCESS)
            FAIL("cuEventQuery(forged event): r=%d type %u seq %u result %d, expected an error REPLY", r, rh.type,
                 rh.seq, rh.result);

        /* a forged context in the header */
        size_t bytes = 4096;
        send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuMemAlloc_v2, ++seq, 0xfeedface0000ull, sizeof bytes, 0),
                 &bytes, sizeof bytes);
        r = read_reply(fd, &rh, out, sizeof out, 10);
        if (r != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result == CUDA_SUCCESS)
            FAIL("cuMemAlloc with a forged context: r=%d type %u seq %u result %d, expected an error REPLY", r,
                 rh.type, rh.seq, rh.result);

        /* the NULL stream of the real context synchronises fine */
        uint64_t null_stream = 0;
        send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuStreamSynchronize, ++seq, ctx, sizeof null_stream, 0),
                 &null_stream, sizeof null_stream);
        r = read_reply(fd, &rh, out, sizeof out, 10);
        if (r != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result != CUDA_SUCCESS)
            FAIL("cuStreamSynchronize(NULL) after the forged handles: r=%d type %u seq %u result %d, expected "
                 "CUDA_SUCCESS",
                 r, rh.type, rh.seq, rh.result);

        /* a real allocation on this connection works */
        send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuMemAlloc_v2, ++seq, ctx, sizeof bytes, 0), &bytes,
                 sizeof bytes);
        r = read_reply(fd, &rh, out, sizeof out, 10);
        if (r != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result != CUDA_SUCCESS)
            FAIL("cuMemAlloc over the wire: r=%d type %u seq %u result %d, expected CUDA_SUCCESS", r, rh.type,
                 rh.seq, rh.result);

        /* graphs: a forged node in a dependency array, a forged graph and a
         * forged executable graph get error replies */
        uint32_t gflags = 0;
        uint64_t graph = 0;
        send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuGraphCreate, ++seq, ctx, sizeof gflags, 0), &gflags,
                 sizeof gflags);
        r = read_reply(fd, &rh, out, sizeof out, 10);
        if (r != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result != CUDA_SUCCESS ||
            rh.args_len != sizeof graph)
            FAIL("cuGraphCreate over the wire: r=%d type %u seq %u result %d", r, rh.type, rh.seq, rh.result);
        else
            memcpy(&graph, out, sizeof graph);
        uint64_t forged_node = 0x5eed0000ull;
        for (int k = 0; k < 2; k++) {
            /* cuGraphAddEmptyNode: hGraph, the array's length, numDependencies; the array as bulk */
            uint64_t args[3] = {k ? 0xbad0000ull : graph, sizeof forged_node, 1};
            send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuGraphAddEmptyNode, ++seq, ctx, sizeof args,
                               sizeof forged_node), args, sizeof args);
            if (rc_send_all(fd, &forged_node, sizeof forged_node) != 0)
                FAIL("send to the server failed: %s", strerror(errno));
            r = read_reply(fd, &rh, out, sizeof out, 10);
            if (r != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result == CUDA_SUCCESS)
                FAIL("cuGraphAddEmptyNode(%s): r=%d type %u seq %u result %d, expected an error REPLY",
                     k ? "forged graph" : "forged dependency", r, rh.type, rh.seq, rh.result);
        }
        uint64_t launch_args[2] = {0xfeed0000ull, 0}; /* a forged exec on the NULL stream */
        send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuGraphLaunch, ++seq, ctx, sizeof launch_args, 0), launch_args,
                 sizeof launch_args);
        r = read_reply(fd, &rh, out, sizeof out, 10);
        if (r != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result == CUDA_SUCCESS)
            FAIL("cuGraphLaunch(forged exec): r=%d type %u seq %u result %d, expected an error REPLY", r, rh.type,
                 rh.seq, rh.result);

        /* what a launch needs to know of a function: of a forged one, and
         * with room asked for 2^32 - 1 parameter slots (64 GiB) */
        static const uint32_t caps[] = {4, 0xFFFFFFFFu};
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            /* hfunc, params_cap, then the two OUTBUF lengths (name, slots) */
            unsigned char fa[8 + 4 + 8 + 8];
            uint64_t fn = 0x5eed0000ull, name_len = RGPU_MAX_STRING,
                     slots_len = (uint64_t)caps[k] * sizeof(struct rgpu_param_slot);
            memcpy(fa, &fn, 8);
            memcpy(fa + 8, &caps[k], 4);
            memcpy(fa + 12, &name_len, 8);
            memcpy(fa + 20, &slots_len, 8);
            send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_rgpu_func_info, ++seq, ctx, sizeof fa, 0), fa, sizeof fa);
            r = read_reply(fd, &rh, out, sizeof out, 10);
            if (r != 1 || rh.type != RGPU_MSG_REPLY || rh.seq != seq || rh.result == CUDA_SUCCESS)
                FAIL("rgpu_func_info(forged function, %u slots): r=%d type %u seq %u result %d, expected an error "
                     "REPLY",
                     caps[k], r, rh.type, rh.seq, rh.result);
        }

        /* the host's access to managed memory (server/managed.c) reads and
         * writes rgpud's own memory: only inside a managed allocation */
        {
            struct rgpu_args_cuMemAlloc_v2 ma = {.bytesize = 4096};
            int mr = call(fd, RGPU_ID_cuMemAlloc_v2, ++seq, ctx, &ma);
            if (mr != CUDA_SUCCESS)
                FAIL("cuMemAlloc for the managed-memory cases: %d", mr);
            char scratch[64] = {0};
            /* device memory, a made-up address, one wrapping past the end of the address space */
            const CUdeviceptr where[] = {ma.dptr, 0x7ffff0001000ull, ~(CUdeviceptr)0 - 8};
            for (size_t k = 0; mr == CUDA_SUCCESS && k < sizeof where / sizeof where[0]; k++) {
                struct rgpu_args_rgpu_managed_read rd = {.dptr = where[k], .size = sizeof scratch, .bytes = scratch};
                struct rgpu_args_rgpu_managed_write wr = {.dptr = where[k], .bytes = scratch,
                                                          .bytes_len = sizeof scratch};
                int r1 = call(fd, RGPU_ID_rgpu_managed_read, ++seq, ctx, &rd);
                int r2 = call(fd, RGPU_ID_rgpu_managed_write, ++seq, ctx, &wr);
                if (r1 != CUDA_ERROR_INVALID_VALUE || r2 != CUDA_ERROR_INVALID_VALUE)
                    FAIL("managed read/write of %#llx, not managed memory: %d, %d, expected INVALID_VALUE",
                         (unsigned long long)where[k], r1, r2);
            }
        }

        /* malformed arguments of a known call: 3 bytes where 8 are due */
        send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuMemAlloc_v2, ++seq, ctx, 3, 0), "abc", 3);
        r = read_reply(fd, &rh, out, sizeof out, 10);
        if (r == 1 && (rh.type != RGPU_MSG_REPLY || rh.result == CUDA_SUCCESS))
            FAIL("cuMemAlloc with 3 bytes of arguments: type %u result %d, expected an error REPLY or a close",
                 rh.type, rh.result);
        if (r == -1)
            FAIL("cuMemAlloc with 3 bytes of arguments: no answer and not closed within 10 s");
        int open_after = r == 1;

        /* unknown call ids (framing intact: error REPLY or close, no crash) */
        static const uint16_t bad_ids[] = {RGPU_NCALLS, RGPU_NCALLS + 7, 0xFFFF, RGPU_ID_NONE, RGPU_ID_cuInit};
        for (size_t i = 0; open_after && i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
            send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, bad_ids[i], ++seq, ctx, 8, 0), &forged, 8);
            r = read_reply(fd, &rh, out, sizeof out, 10);
            if (r == 1 && (rh.type != RGPU_MSG_REPLY || rh.result == CUDA_SUCCESS))
                FAIL("call id %u: type %u result %d, expected an error REPLY or a close", bad_ids[i], rh.type,
                     rh.result);
            if (r == -1)
                FAIL("call id %u: no answer and not closed within 10 s", bad_ids[i]);
            open_after = r == 1;
        }
        close_case(fd, "forged handles and unknown call ids");
    }

    /* 7. hostile bulk lengths on a real call */
    {
        CASE("HtoD announcing 512 GiB of bulk, then hanging up");
        int fd = rc_connect();
        if (handshake(fd) >= 1) {
            int dev = 0;
            struct rgpu_hdr rh;
            unsigned char out[64];
            send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuDevicePrimaryCtxRetain, 1, 0, sizeof dev, 0), &dev,
                     sizeof dev);
            uint64_t ctx = 0;
            if (read_reply(fd, &rh, out, sizeof out, 10) == 1 && rh.result == CUDA_SUCCESS)
                memcpy(&ctx, out, sizeof ctx);
            /* args: dstDevice, len(srcHost), ByteCount, hStream */
            uint64_t args[4] = {0x10000, 1ull << 39, 1ull << 39, 0};
            send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuMemcpyHtoDAsync_v2, 2, ctx, sizeof args, 1ull << 39),
                     args, sizeof args);
            char junk[65536];
            memset(junk, 0x5a, sizeof junk);
            rc_send_all(fd, junk, sizeof junk);
        }
        close_case(fd, "HtoD announcing 512 GiB");

        CASE("HtoD whose length disagrees with its bulk");
        fd = rc_connect();
        if (handshake(fd) >= 1) {
            uint64_t args[4] = {0x10000, 100, 50, 0};
            send_msg(fd, rc_hdr(RGPU_MSG_REQUEST, RGPU_ID_cuMemcpyHtoDAsync_v2, 2, 0, sizeof args, 100), args,
                     sizeof args);
            char junk[100];
            memset(junk, 0x5a, sizeof junk);
            rc_send_all(fd, junk, sizeof junk);
            ru_sleep_ms(200);
        }
        close_case(fd, "HtoD whose length disagrees with its bulk");

        /* Clients share rgpud's image cache by name: bytes sent under another
         * image's name (same length, other content) are refused, and that name
         * still finds nothing, for this client or the next. */
        CASE("a module image under another image's name");
        static const char real[] = ".version 7.0\n.target sm_75\n.address_size 64\n"
                                   ".visible .entry good()\n{\n\tret;\n}\n";
        static const char evil[] = ".version 7.0\n.target sm_75\n.address_size 64\n"
                                   ".visible .entry evil()\n{\n\tret;\n}\n";
        _Static_assert(sizeof real == sizeof evil, "the same length: only the name check can tell them apart");
        struct rgpu_image_ref name;
        if (!rgpu_image_ref_of(real, sizeof real, &name))
            FAIL("naming an image");
        int got = load_named(&name, evil, sizeof evil);
        if (got != CUDA_ERROR_INVALID_VALUE)
            FAIL("an image sent under another's name: result %d, expected CUDA_ERROR_INVALID_VALUE", got);
        if ((got = load_named(&name, NULL, 0)) != CUDA_ERROR_NOT_FOUND)
            FAIL("the name of an image nobody sent: result %d, expected CUDA_ERROR_NOT_FOUND", got);
        if ((got = load_named(&name, real, sizeof real)) != CUDA_SUCCESS)
            FAIL("the image under its own name: result %d", got);
        if ((got = load_named(&name, NULL, 0)) != CUDA_SUCCESS)
            FAIL("by name, once sent: result %d", got);
        server_still_serves("images under other names");

        /* A launch's parameter buffer shorter than its kernel's parameters:
         * refused by rgpud itself (the CPU device checks too, NVIDIA's driver
         * is not known to), as a launch, an extended launch and a graph node;
         * a buffer that holds them all is launched. */
        CASE("launches whose parameter buffer misses parameters");
        fd = rc_connect();
        uint64_t pctx = with_context(fd);
        static const char ptx[] = ".version 7.0\n.target sm_75\n.address_size 64\n"
                                  ".visible .entry two(.param .u64 p, .param .u32 n)\n{\n\tret;\n}\n";
        struct rgpu_args_rgpu_module_load ml = {.image = ptx, .image_len = sizeof ptx};
        struct rgpu_args_cuModuleGetFunction gf = {.name = "two"};
        if (!pctx || !rgpu_image_ref_of(ptx, sizeof ptx, &ml.ref) ||
            call(fd, RGPU_ID_rgpu_module_load, 2, pctx, &ml) != CUDA_SUCCESS ||
            (gf.hmod = ml.module, call(fd, RGPU_ID_cuModuleGetFunction, 3, pctx, &gf)) != CUDA_SUCCESS) {
            FAIL("loading a kernel for the parameter cases");
        } else {
            unsigned char params[12] = {0};
            struct rgpu_launch_cfg cfg = {{1, 1, 1}, {1, 1, 1}, 0, 0};
            uint32_t seq = 3;
            for (int full = 0; full < 2; full++) {
                size_t len = full ? sizeof params : 8; /* 8: without n */
                int want = full ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
                struct rgpu_args_rgpu_launch la = {.f = gf.hfunc, .cfg = cfg, .params = params, .params_len = len};
                int got = call(fd, RGPU_ID_rgpu_launch, ++seq, pctx, &la);
                if (got != want)
                    FAIL("rgpu_launch with %zu of 12 parameter bytes: result %d, expected %d", len, got, want);
                struct rgpu_args_rgpu_launch_ex lx = {.f = gf.hfunc, .cfg = cfg, .params = params, .params_len = len};
                if ((got = call(fd, RGPU_ID_rgpu_launch_ex, ++seq, pctx, &lx)) != want)
                    FAIL("rgpu_launch_ex with %zu of 12 parameter bytes: result %d, expected %d", len, got, want);
                struct rgpu_args_cuGraphCreate gc = {0};
                if (call(fd, RGPU_ID_cuGraphCreate, ++seq, pctx, &gc) != CUDA_SUCCESS) {
                    FAIL("cuGraphCreate for the parameter case");
                    continue;
                }
                struct rgpu_args_rgpu_graph_kernel gk = {.hGraph = gc.phGraph, .f = gf.hfunc, .cfg = cfg,
                                                         .phGraphNode_want = 1, .params = params, .params_len = len};
                if ((got = call(fd, RGPU_ID_rgpu_graph_kernel, ++seq, pctx, &gk)) != want)
                    FAIL("a kernel node with %zu of 12 parameter bytes: result %d, expected %d", len, got, want);
            }
        }
        close_case(fd, "launches whose parameter buffer misses parameters");

        /* rgpu's client sends an asynchronous call without a reply only when
         * it can vouch for its arguments (client/asyncargs.c); what rgpud
         * refuses anyway is latched and reported by the next synchronising
         * call of the context, once. */
        CASE("an asynchronous request's error, latched for the next synchronisation");
        fd = rc_connect();
        uint64_t lctx = with_context(fd);
        enum { LATCH_BYTES = 2u << 20 }; /* large enough for rgpud's direct and chunked copy paths */
        struct rgpu_args_cuMemAlloc_v2 ma = {.bytesize = LATCH_BYTES};
        unsigned char *junk = calloc(1, LATCH_BYTES);
        if (!junk || !lctx || call(fd, RGPU_ID_cuMemAlloc_v2, 3, lctx, &ma) != CUDA_SUCCESS) {
            FAIL("no context or allocation for the latch case");
        } else {
            struct rgpu_args_cuMemsetD8Async ms = {.dstDevice = ma.dptr + LATCH_BYTES - 100, .uc = 1, .N = 200};
            struct rgpu_args_cuMemcpyHtoDAsync_v2 hd = {
                .dstDevice = ma.dptr + 4, .srcHost = junk, .ByteCount = LATCH_BYTES};
            struct rgpu_args_cuCtxSynchronize cs = {0};
            uint32_t seq = 3;
            for (int k = 0; k < 2; k++) {
                const char *what = k ? "a host->device copy" : "a memset";
                int sent = k ? send_call(fd, RGPU_ID_cuMemcpyHtoDAsync_v2, ++seq, lctx, &hd, true, junk, LATCH_BYTES)
                             : send_call(fd, RGPU_ID_cuMemsetD8Async, ++seq, lctx, &ms, true, NULL, 0);
                int first = sent ? -1 : call(fd, RGPU_ID_cuCtxSynchronize, ++seq, lctx, &cs);
                int second = first < 0 ? -1 : call(fd, RGPU_ID_cuCtxSynchronize, ++seq, lctx, &cs);
                if (first != CUDA_ERROR_INVALID_VALUE || second != CUDA_SUCCESS)
                    FAIL("%s past its allocation, without a reply: synchronisations returned %d then %d, "
                         "expected %d then 0",
                         what, first, second, CUDA_ERROR_INVALID_VALUE);
            }
        }
        free(junk);
        close_case(fd, "a latched asynchronous error");

        /* rgpud waits on the thread that reads a client's requests for a
         * fenced stream (rgpu_stream_fence): one whose work never ends (here
         * a host function whose end this client never sends) must not keep
         * that worker alive once the client has gone. */
        CASE("a fence on a stream that never finishes, then the client leaves");
        fd = rc_connect();
        uint64_t fctx = with_context(fd);
        if (!fctx) {
            FAIL("no context for the fence case");
        } else {
            struct rgpu_args_cuLaunchHostFunc hf = {.hStream = NULL, .fn = (CUhostFn)(uintptr_t)0x1000};
            struct rgpu_args_rgpu_stream_fence fence = {.hStream = NULL};
            if (send_call(fd, RGPU_ID_cuLaunchHostFunc, 3, fctx, &hf, true, NULL, 0) ||
                send_call(fd, RGPU_ID_rgpu_stream_fence, 4, fctx, &fence, true, NULL, 0))
                FAIL("sending the host function and the fence failed");
            ru_sleep_ms(300); /* the fence is waiting */
        }
        close_case(fd, "a fence on a stream that never finishes");
    }

done:
    server_still_serves("all cases");
    if (failures) {
        fprintf(stderr, "robust_wire: %d check(s) FAILED\n", failures);
        return 1;
    }
    printf("robust_wire: all checks passed\n");
    return 0;
}
