/*
 * session.c — see session.h.
 */
#define _GNU_SOURCE
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "net.h"

const char *rgpu_server_address(void)
{
    const char *server = getenv("RGPU_SERVER");
    return server && *server ? server : RGPU_DEFAULT_SERVER;
}

/* A server that holds a token challenges us after the HELLO: answer with
 * RGPU_TOKEN_FILE's secret. Leaves in *h the header that follows. */
static int authenticate(struct rgpu_session *s, const struct rgpu_hello *hello, struct rgpu_hdr *h, char *err,
                        size_t errlen)
{
    struct rgpu_challenge c;
    if (h->args_len != sizeof c || h->bulk_len || rgpu_read_full(s->fd, &c, sizeof c)) {
        snprintf(err, errlen, "rgpud sent a malformed challenge");
        return -1;
    }
    const char *path = getenv("RGPU_TOKEN_FILE");
    if (!path || !*path) {
        snprintf(err, errlen, "rgpud at %s admits only clients holding its token: set RGPU_TOKEN_FILE", s->server);
        return -1;
    }
    struct rgpu_token t;
    struct rgpu_auth a;
    char why[256];
    if (rgpu_token_load(path, &t, why, sizeof why)) {
        snprintf(err, errlen, "RGPU_TOKEN_FILE: %s", why);
        return -1;
    }
    bool ok = rgpu_auth_answer(&t, &c, hello, &a);
    rgpu_token_clear(&t);
    struct rgpu_hdr out = {.type = RGPU_MSG_AUTH};
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    rgpu_wbuf_put(&wb, &a, sizeof a);
    if (!ok || rgpu_send_msg(s->fd, &out, &wb) || rgpu_read_full(s->fd, h, sizeof *h)) {
        snprintf(err, errlen, "the authentication with rgpud failed");
        return -1;
    }
    if (h->type == RGPU_MSG_WELCOME && h->result == CUDA_ERROR_NOT_PERMITTED) {
        snprintf(err, errlen, "rgpud at %s refused the token of RGPU_TOKEN_FILE (%s)", s->server, path);
        return -1;
    }
    return 0;
}

static int handshake(struct rgpu_session *s, unsigned flags, int *result, char *err, size_t errlen)
{
    const uint64_t fingerprint = rgpu_calls_fingerprint(); /* hashes the whole call table: once */
    struct rgpu_hello hello = {.proto_version = RGPU_PROTO_VERSION, .pid = (uint32_t)getpid(),
                               .calls_fingerprint = fingerprint};
    gethostname(hello.host, sizeof hello.host - 1);
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    if ((flags & RGPU_SESSION_CUDA) && visible) {
        if (strlen(visible) >= sizeof hello.visible_devices) {
            snprintf(err, errlen, "CUDA_VISIBLE_DEVICES is longer than %zu characters", sizeof hello.visible_devices - 1);
            return -1;
        }
        hello.caps |= RGPU_HELLO_VISIBLE;
        strcpy(hello.visible_devices, visible);
    }
    struct rgpu_hdr h = {.type = RGPU_MSG_HELLO};
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    rgpu_wbuf_put(&wb, &hello, sizeof hello);
    *result = CUDA_ERROR_NO_DEVICE;
    if (rgpu_send_msg(s->fd, &h, &wb)) {
        snprintf(err, errlen, "cannot send HELLO to rgpud");
        return -1;
    }
    union {
        struct rgpu_welcome welcome;
        uint8_t any[RGPU_MAX_HANDSHAKE_LEN]; /* a WELCOME of any version */
    } in = {0};
    if (rgpu_read_full(s->fd, &h, sizeof h)) {
        snprintf(err, errlen, "rgpud did not complete the handshake");
        return -1;
    }
    if (!rgpu_hdr_invalid(&h) && h.type == RGPU_MSG_CHALLENGE && authenticate(s, &hello, &h, err, errlen)) {
        *result = CUDA_ERROR_NOT_PERMITTED;
        return -1;
    }
    if (rgpu_hdr_invalid(&h) || h.type != RGPU_MSG_WELCOME || h.args_len < sizeof in.welcome.proto_version ||
        h.args_len > sizeof in || rgpu_read_full(s->fd, &in, h.args_len)) {
        snprintf(err, errlen, "rgpud did not complete the handshake");
        return -1;
    }
    if (in.welcome.proto_version != RGPU_PROTO_VERSION || h.args_len != sizeof s->welcome) {
        snprintf(err, errlen, "rgpud speaks protocol %u, this client %u: run the same rgpu version on both sides",
                 in.welcome.proto_version, RGPU_PROTO_VERSION);
        *result = CUDA_ERROR_SYSTEM_DRIVER_MISMATCH;
        return -1;
    }
    s->welcome = in.welcome;
    if (s->welcome.calls_fingerprint != fingerprint) {
        snprintf(err, errlen,
                 "rgpud and this client were built from different call tables (%016llx, here %016llx): run the "
                 "same rgpu version on both sides",
                 (unsigned long long)s->welcome.calls_fingerprint, (unsigned long long)fingerprint);
        *result = CUDA_ERROR_SYSTEM_DRIVER_MISMATCH;
        return -1;
    }
    if (h.result == CUDA_ERROR_NO_DEVICE && (hello.caps & RGPU_HELLO_VISIBLE)) {
        snprintf(err, errlen, "no device is visible (CUDA_VISIBLE_DEVICES=\"%s\")", hello.visible_devices);
        *result = h.result;
        return -1;
    }
    if (h.result != CUDA_SUCCESS) {
        snprintf(err, errlen, "rgpud could not initialise its backend (CUresult %d)", h.result);
        *result = h.result;
        return -1;
    }
    if (s->welcome.ndev < 0 || s->welcome.ndev > 16 ||
        h.bulk_len != (uint64_t)s->welcome.ndev * sizeof(struct rgpu_dev_info)) {
        snprintf(err, errlen, "rgpud sent a malformed device list");
        return -1;
    }
    s->devs = calloc(s->welcome.ndev ? (size_t)s->welcome.ndev : 1, sizeof *s->devs);
    if (!s->devs || rgpu_read_full(s->fd, s->devs, h.bulk_len)) {
        snprintf(err, errlen, "rgpud: the device list did not arrive");
        return -1;
    }
    for (int i = 0; i < s->welcome.ndev; i++) {
        s->devs[i].name[sizeof s->devs[i].name - 1] = 0;
        s->devs[i].pci_bus_id[sizeof s->devs[i].pci_bus_id - 1] = 0;
    }
    s->welcome.backend[sizeof s->welcome.backend - 1] = 0;
    *result = CUDA_SUCCESS;
    return 0;
}

int rgpu_session_open(struct rgpu_session *s, unsigned flags, int *result, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->server = rgpu_server_address();
    *result = CUDA_ERROR_NO_DEVICE;
    char why[256];
    struct rgpu_addr addr;
    if (rgpu_addr_parse(s->server, &addr, why, sizeof why) < 0) {
        snprintf(err, errlen, "RGPU_SERVER: %s", why);
        return -1;
    }
    s->fd = rgpu_connect(&addr, why, sizeof why);
    if (s->fd < 0) {
        snprintf(err, errlen, "cannot reach rgpud at %s (%s); is the server running? Set RGPU_SERVER to its address",
                 s->server, why);
        return -1;
    }
    if (handshake(s, flags, result, err, errlen)) {
        rgpu_session_close(s);
        return -1;
    }
    return 0;
}

void rgpu_session_close(struct rgpu_session *s)
{
    rgpu_close(s->fd);
    s->fd = -1;
    free(s->devs);
    s->devs = NULL;
}

int rgpu_session_call(struct rgpu_session *s, enum rgpu_call_id id, void *args, int32_t *result)
{
    const struct rgpu_call_desc *d = &rgpu_calls[id];
    if (s->fd < 0 || !d->remote || !d->reply)
        return -1;
    struct rgpu_wbuf wb;
    rgpu_wbuf_init(&wb);
    d->enc_req(&wb, args);
    static uint32_t seq;
    struct rgpu_hdr h = {.type = RGPU_MSG_REQUEST, .call = (uint16_t)id, .seq = ++seq};
    int rc = wb.failed ? -1 : rgpu_send_msg(s->fd, &h, &wb);
    rgpu_wbuf_free(&wb);
    if (rc)
        return -1;
    struct rgpu_hdr rep;
    if (rgpu_read_full(s->fd, &rep, sizeof rep) || rgpu_hdr_invalid(&rep) || rep.type != RGPU_MSG_REPLY ||
        rep.seq != h.seq || rep.call != h.call)
        return -1;
    uint8_t small[512], *abuf = rep.args_len <= sizeof small ? small : malloc(rep.args_len);
    if (!abuf || rgpu_read_full(s->fd, abuf, rep.args_len)) {
        if (abuf != small)
            free(abuf);
        return -1;
    }
    rc = 0;
    if (rep.result == 0) {
        struct rgpu_rbuf rb;
        rgpu_rbuf_init(&rb, abuf, rep.args_len, NULL, 0);
        if (!d->dec_rep(&rb, args))
            rc = -1;
        struct iovec iov[RGPU_WBUF_MAX_IOV];
        int n = rc ? 0 : d->rep_dests(args, iov, RGPU_WBUF_MAX_IOV);
        uint64_t left = rep.bulk_len;
        for (int i = 0; i < n && left && rc == 0; i++) {
            size_t k = iov[i].iov_len < left ? iov[i].iov_len : (size_t)left;
            rc = rgpu_read_full(s->fd, iov[i].iov_base, k);
            left -= k;
        }
        if (left) /* more bulk than the outputs hold */
            rc = -1;
    } else if (rep.bulk_len || rep.args_len) {
        rc = -1;
    }
    if (abuf != small)
        free(abuf);
    *result = rep.result;
    return rc;
}
