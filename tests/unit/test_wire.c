/*
 * test_wire.c — the wire codec: bounded reads, argument round trips through
 * the generated codecs, rejection of inconsistent lengths, address parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calls.h"
#include "imagehash.h"
#include "net.h"
#include "proto.h"
#include "session.h"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void rbuf_is_bounded(void **state)
{
    uint8_t data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    struct rgpu_rbuf r;
    uint64_t v;
    rgpu_rbuf_init(&r, data, 10, NULL, 0);
    assert_true(rgpu_rbuf_get_u64(&r, &v));
    assert_int_equal(v, 0x0807060504030201ull);
    assert_false(rgpu_rbuf_get_u64(&r, &v)); /* only 2 bytes left */
    assert_int_equal(v, 0);
    assert_true(r.failed);
    uint8_t b;
    assert_false(rgpu_rbuf_get_u8(&r, &b)); /* poisoned */
    assert_false(rgpu_rbuf_done(&r));
}

static void bulk_take_is_bounded(void **state)
{
    uint8_t bulk[100];
    struct rgpu_rbuf r;
    rgpu_rbuf_init(&r, NULL, 0, bulk, sizeof bulk);
    assert_ptr_equal(rgpu_rbuf_take_bulk(&r, 60), bulk);
    assert_null(rgpu_rbuf_take_bulk(&r, 41));
    assert_true(r.failed);
    rgpu_rbuf_init(&r, NULL, 0, bulk, sizeof bulk);
    assert_null(rgpu_rbuf_take_bulk(&r, UINT64_MAX)); /* no wrap-around */
}

static void wbuf_grows_and_collects_bulk(void **state)
{
    struct rgpu_wbuf w;
    rgpu_wbuf_init(&w);
    for (int i = 0; i < 1000; i++)
        rgpu_wbuf_put_u64(&w, (uint64_t)i);
    assert_false(w.failed);
    assert_int_equal(w.len, 8000);
    assert_int_equal(((uint64_t *)w.data)[999], 999);
    char a[3], b[5];
    rgpu_wbuf_bulk(&w, a, 3);
    rgpu_wbuf_bulk(&w, b, 0); /* empty pieces are dropped */
    rgpu_wbuf_bulk(&w, b, 5);
    assert_int_equal(w.nbulk, 2);
    assert_int_equal(w.bulk_len, 8);
    rgpu_wbuf_free(&w);
}

/* Encode a request the way the client does and decode it the way the server does. */
static bool round_trip(enum rgpu_call_id id, void *in, void *out, struct rgpu_wbuf *w, uint8_t **bulk)
{
    rgpu_wbuf_init(w);
    rgpu_calls[id].enc_req(w, in);
    *bulk = malloc(w->bulk_len + 1);
    uint64_t off = 0;
    for (int i = 0; i < w->nbulk; i++) {
        memcpy(*bulk + off, w->bulk[i].iov_base, w->bulk[i].iov_len);
        off += w->bulk[i].iov_len;
    }
    struct rgpu_rbuf r;
    rgpu_rbuf_init(&r, w->data, w->len, *bulk, w->bulk_len);
    return rgpu_calls[id].dec_req(&r, out);
}

static void request_round_trip(void **state)
{
    char src[37];
    memset(src, 'x', sizeof src);
    struct rgpu_args_cuMemcpyHtoDAsync_v2 in = {.dstDevice = 0x200000001000ull, .srcHost = src, .ByteCount = 37,
                                                .hStream = (CUstream)0x1234}, out = {0};
    struct rgpu_wbuf w;
    uint8_t *bulk;
    assert_true(round_trip(RGPU_ID_cuMemcpyHtoDAsync_v2, &in, &out, &w, &bulk));
    assert_int_equal(out.dstDevice, in.dstDevice);
    assert_int_equal(out.ByteCount, 37);
    assert_ptr_equal(out.hStream, in.hStream);
    assert_memory_equal(out.srcHost, src, 37); /* points into the bulk payload */
    rgpu_wbuf_free(&w);
    free(bulk);
}

/* NULL-able arrays (graph node dependencies): a NULL or empty array arrives
 * as NULL; a present one as its bytes; a count whose size would overflow
 * sends nothing (the backend refuses the NULL array). */
static void optional_arrays(void **state)
{
    CUgraphNode deps[2] = {(CUgraphNode)0x11, (CUgraphNode)0x22};
    struct rgpu_args_cuGraphAddEmptyNode in = {.hGraph = (CUgraph)0x77, .dependencies = deps, .numDependencies = 2},
                                         out = {0};
    struct rgpu_wbuf w;
    uint8_t *bulk;
    assert_true(round_trip(RGPU_ID_cuGraphAddEmptyNode, &in, &out, &w, &bulk));
    assert_int_equal(out.dependencies_len, sizeof deps);
    assert_memory_equal(out.dependencies, deps, sizeof deps);
    rgpu_wbuf_free(&w);
    free(bulk);

    in.dependencies = NULL; /* NULL with a count: nothing travels */
    memset(&out, 0, sizeof out);
    assert_true(round_trip(RGPU_ID_cuGraphAddEmptyNode, &in, &out, &w, &bulk));
    assert_null(out.dependencies);
    assert_int_equal(out.numDependencies, 2);
    rgpu_wbuf_free(&w);
    free(bulk);

    in.dependencies = deps;
    in.numDependencies = 0; /* an empty array arrives as NULL */
    assert_true(round_trip(RGPU_ID_cuGraphAddEmptyNode, &in, &out, &w, &bulk));
    assert_null(out.dependencies);
    rgpu_wbuf_free(&w);
    free(bulk);

    in.numDependencies = (SIZE_MAX / sizeof(CUgraphNode)) + 2; /* n * 8 would wrap to 8 */
    assert_true(round_trip(RGPU_ID_cuGraphAddEmptyNode, &in, &out, &w, &bulk));
    assert_null(out.dependencies);
    assert_int_equal(out.dependencies_len, 0);
    rgpu_wbuf_free(&w);
    free(bulk);
}

static void length_mismatch_is_rejected(void **state)
{
    /* A client that claims 1 GiB but sends 37 bytes must not get through. */
    char src[37] = {0};
    struct rgpu_args_cuMemcpyHtoDAsync_v2 in = {.srcHost = src, .ByteCount = 37}, out;
    struct rgpu_wbuf w;
    rgpu_wbuf_init(&w);
    rgpu_calls[RGPU_ID_cuMemcpyHtoDAsync_v2].enc_req(&w, &in);
    /* forge ByteCount in the encoded arguments: dst(8) len(8) ByteCount(8) stream(8) */
    uint64_t forged = 1ull << 30;
    memcpy(w.data + 16, &forged, 8);
    struct rgpu_rbuf r;
    rgpu_rbuf_init(&r, w.data, w.len, (uint8_t *)src, 37);
    assert_false(rgpu_calls[RGPU_ID_cuMemcpyHtoDAsync_v2].dec_req(&r, &out));
    rgpu_wbuf_free(&w);
}

static void truncated_and_trailing_are_rejected(void **state)
{
    struct rgpu_args_cuStreamCreate in = {.Flags = 1}, out;
    struct rgpu_wbuf w;
    uint8_t *bulk;
    assert_true(round_trip(RGPU_ID_cuStreamCreate, &in, &out, &w, &bulk));
    assert_int_equal(out.Flags, 1);
    struct rgpu_rbuf r;
    rgpu_rbuf_init(&r, w.data, w.len - 1, NULL, 0);
    assert_false(rgpu_calls[RGPU_ID_cuStreamCreate].dec_req(&r, &out));
    uint8_t longer[64] = {0};
    memcpy(longer, w.data, w.len);
    rgpu_rbuf_init(&r, longer, w.len + 1, NULL, 0);
    assert_false(rgpu_calls[RGPU_ID_cuStreamCreate].dec_req(&r, &out));
    rgpu_wbuf_free(&w);
    free(bulk);
}

static void reply_round_trip(void **state)
{
    struct rgpu_args_cuMemGetAddressRange_v2 srv = {.pbase = 0x1000, .psize = 77, .pbase_want = 1, .psize_want = 0};
    struct rgpu_wbuf w;
    rgpu_wbuf_init(&w);
    rgpu_calls[RGPU_ID_cuMemGetAddressRange_v2].enc_rep(&w, &srv);
    assert_int_equal(w.len, 8); /* only the wanted output travels */
    struct rgpu_args_cuMemGetAddressRange_v2 cl = {.pbase_want = 1};
    struct rgpu_rbuf r;
    rgpu_rbuf_init(&r, w.data, w.len, NULL, 0);
    assert_true(rgpu_calls[RGPU_ID_cuMemGetAddressRange_v2].dec_rep(&r, &cl));
    assert_int_equal(cl.pbase, 0x1000);
    rgpu_wbuf_free(&w);
}

static void every_call_has_a_complete_descriptor(void **state)
{
    for (int i = 1; i < RGPU_NCALLS; i++) {
        const struct rgpu_call_desc *d = &rgpu_calls[i];
        assert_non_null(d->name);
        assert_non_null(d->enc_req);
        assert_non_null(d->dec_req);
        assert_non_null(d->trace);
        assert_non_null(d->streams);
        assert_true(d->args_size > 0);
        if (d->blocks)
            assert_true(d->reply);
    }
}

/* the streams a request names, as the client's idle-stream bookkeeping
 * reads them (client/streamidle.c) */
static void requests_name_their_streams(void **state)
{
    CUstream out[2] = {0};
    CUstream s1 = (CUstream)(uintptr_t)0x1000;
    struct rgpu_args_cuStreamWaitEvent we = {.hStream = s1, .hEvent = (CUevent)(uintptr_t)0x2000};
    assert_int_equal(rgpu_calls[RGPU_ID_cuStreamWaitEvent].streams(&we, out, 2), 1);
    assert_ptr_equal(out[0], s1);
    struct rgpu_args_rgpu_launch l = {.hStream = s1};
    out[0] = NULL;
    assert_int_equal(rgpu_calls[RGPU_ID_rgpu_launch].streams(&l, out, 2), 1);
    assert_ptr_equal(out[0], s1);
    struct rgpu_args_cuStreamDestroy_v2 del = {.hStream = s1}; /* a DEL argument names it too */
    assert_int_equal(rgpu_calls[RGPU_ID_cuStreamDestroy_v2].streams(&del, out, 2), 1);
    struct rgpu_args_cuStreamCreate cr = {.Flags = 0}; /* an OUT stream is not named */
    assert_int_equal(rgpu_calls[RGPU_ID_cuStreamCreate].streams(&cr, out, 2), 0);
    struct rgpu_args_cuMemAlloc_v2 ma = {.bytesize = 1};
    assert_int_equal(rgpu_calls[RGPU_ID_cuMemAlloc_v2].streams(&ma, out, 2), 0);
    /* more than fit: counted, not written past max */
    out[0] = out[1] = NULL;
    assert_int_equal(rgpu_calls[RGPU_ID_cuStreamWaitEvent].streams(&we, out, 0), 1);
    assert_null(out[0]);
}

/* ---- the handshake with a server of another build ---- */
struct fake_server {
    int listen_fd;
    uint32_t version, welcome_len;
    uint64_t fingerprint;
    int32_t result;
};

/* accepts one client, reads its HELLO, answers one WELCOME and hangs up */
static void *fake_server_main(void *p)
{
    struct fake_server *f = p;
    int fd = accept(f->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct rgpu_hdr h;
    uint8_t hello[RGPU_MAX_HANDSHAKE_LEN];
    if (rgpu_read_full(fd, &h, sizeof h) == 0 && h.args_len <= sizeof hello &&
        rgpu_read_full(fd, hello, h.args_len) == 0) {
        struct rgpu_welcome w = {.proto_version = f->version, .calls_fingerprint = f->fingerprint, .ndev = 0};
        struct rgpu_hdr out = {.magic = RGPU_MAGIC, .type = RGPU_MSG_WELCOME, .result = f->result,
                               .args_len = f->welcome_len};
        (void)!write(fd, &out, sizeof out);
        (void)!write(fd, &w, f->welcome_len);
    }
    close(fd);
    return NULL;
}

static void refused(struct fake_server *f, const char *says)
{
    char dir[] = "/tmp/rgpu_wire_XXXXXX", addr[200];
    assert_non_null(mkdtemp(dir));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s", dir);
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(f->listen_fd, 1), 0);
    snprintf(addr, sizeof addr, "unix:%s", sa.sun_path);
    setenv("RGPU_SERVER", addr, 1);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fake_server_main, f), 0);
    struct rgpu_session s;
    int result = 0;
    char err[300] = "";
    assert_int_equal(rgpu_session_open(&s, 0, &result, err, sizeof err), -1);
    pthread_join(t, NULL);
    assert_int_equal(result, CUDA_ERROR_SYSTEM_DRIVER_MISMATCH);
    if (!strstr(err, says))
        fail_msg("the client said \"%s\", not \"%s\"", err, says);
    close(f->listen_fd);
    unlink(sa.sun_path);
    rmdir(dir);
}

/* A client meeting a server of another protocol (another WELCOME size too)
 * or built from another call table says so, and cuInit fails with
 * CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, instead of misreading the server. */
static void another_build_is_named(void **state)
{
    struct fake_server older = {.version = 2, .welcome_len = sizeof(struct rgpu_welcome) - sizeof(uint64_t),
                                .result = CUDA_ERROR_NOT_SUPPORTED};
    refused(&older, "rgpud speaks protocol 2");
    struct fake_server other_table = {.version = RGPU_PROTO_VERSION, .welcome_len = sizeof(struct rgpu_welcome),
                                      .fingerprint = rgpu_calls_fingerprint() ^ 1,
                                      .result = CUDA_ERROR_SYSTEM_DRIVER_MISMATCH};
    refused(&other_table, "different call tables");
    assert_true(rgpu_calls_fingerprint() != 0);
}

static void addresses_parse(void **state)
{
    struct rgpu_addr a;
    char err[128];
    assert_int_equal(rgpu_addr_parse("unix:/tmp/x.sock", &a, err, sizeof err), 0);
    assert_true(a.is_unix);
    assert_string_equal(a.path, "/tmp/x.sock");
    assert_int_equal(rgpu_addr_parse("tcp:127.0.0.1:4567", &a, err, sizeof err), 0);
    assert_string_equal(a.host, "127.0.0.1");
    assert_string_equal(a.port, "4567");
    assert_int_equal(rgpu_addr_parse("tcp:[::1]:80", &a, err, sizeof err), 0);
    assert_string_equal(a.host, "::1");
    assert_int_equal(rgpu_addr_parse("tcp:host:99999", &a, err, sizeof err), -1);
    assert_int_equal(rgpu_addr_parse("tcp:nohost", &a, err, sizeof err), -1);
    assert_int_equal(rgpu_addr_parse("udp:x", &a, err, sizeof err), -1);
    assert_int_equal(rgpu_addr_parse("unix:", &a, err, sizeof err), -1);
}

static void header_limits(void **state)
{
    struct rgpu_hdr h = {.magic = RGPU_MAGIC, .type = RGPU_MSG_REQUEST};
    assert_null(rgpu_hdr_invalid(&h));
    h.args_len = RGPU_MAX_ARGS_LEN + 1;
    assert_non_null(rgpu_hdr_invalid(&h));
    h.args_len = 0;
    h.bulk_len = RGPU_MAX_BULK_LEN + 1;
    assert_non_null(rgpu_hdr_invalid(&h));
    h.bulk_len = 0;
    h.type = 99;
    assert_non_null(rgpu_hdr_invalid(&h));
    h.type = RGPU_MSG_REQUEST;
    h.magic = 0;
    assert_non_null(rgpu_hdr_invalid(&h));
}

/* Module images are named by SHA-256's first 128 bits, little-endian words
 * (FIPS 180-2's "abc" vector: ba7816bf 8f01cfea 414140de 5dae2223 ...). */
static void image_names(void **state)
{
    (void)state;
    struct rgpu_image_ref r, e;
    assert_true(rgpu_image_ref_of("abc", 3, &r));
    assert_int_equal(r.size, 3);
    assert_true(r.hash[0] == 0xeacf018fbf1678baull);
    assert_true(r.hash[1] == 0x2322ae5dde404141ull);
    assert_true(rgpu_image_ref_of("", 0, &e)); /* e3b0c442 98fc1c14 9afbf4c8 996fb924 ... */
    assert_true(e.hash[0] == 0x141cfc9842c4b0e3ull && e.hash[1] == 0x24b96f99c8f4fb9aull && e.size == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rbuf_is_bounded),
        cmocka_unit_test(bulk_take_is_bounded),
        cmocka_unit_test(wbuf_grows_and_collects_bulk),
        cmocka_unit_test(request_round_trip),
        cmocka_unit_test(length_mismatch_is_rejected),
        cmocka_unit_test(truncated_and_trailing_are_rejected),
        cmocka_unit_test(reply_round_trip),
        cmocka_unit_test(every_call_has_a_complete_descriptor),
        cmocka_unit_test(requests_name_their_streams),
        cmocka_unit_test(another_build_is_named),
        cmocka_unit_test(addresses_parse),
        cmocka_unit_test(optional_arrays),
        cmocka_unit_test(header_limits),
        cmocka_unit_test(image_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
