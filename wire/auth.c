/*
 * auth.c — see auth.h.
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int rgpu_token_load(const char *path, struct rgpu_token *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read the token file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        rgpu_warn("the token file %s can be read by others (chmod 600 it)", path);
    uint8_t buf[RGPU_TOKEN_MAX + 2];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    if (n < RGPU_TOKEN_MIN || n > RGPU_TOKEN_MAX) {
        snprintf(err, errlen, "the token file %s must hold %d to %d bytes of secret", path, RGPU_TOKEN_MIN,
                 RGPU_TOKEN_MAX);
        return -1;
    }
    memcpy(t->secret, buf, (size_t)n);
    t->len = (size_t)n;
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

void rgpu_token_clear(struct rgpu_token *t)
{
    OPENSSL_cleanse(t, sizeof *t);
}

bool rgpu_auth_challenge(struct rgpu_challenge *c)
{
    return RAND_bytes(c->nonce, sizeof c->nonce) == 1;
}

/* HMAC-SHA256(secret, label || nonce || hello): the label keeps this MAC from
 * meaning anything elsewhere, the HELLO binds the answer to what the client
 * said of itself. */
static bool mac(const struct rgpu_token *t, const struct rgpu_challenge *c, const struct rgpu_hello *hello,
                uint8_t out[32])
{
    static const char label[] = "rgpu-auth-1";
    uint8_t msg[sizeof label + sizeof c->nonce + sizeof *hello];
    memcpy(msg, label, sizeof label);
    memcpy(msg + sizeof label, c->nonce, sizeof c->nonce);
    memcpy(msg + sizeof label + sizeof c->nonce, hello, sizeof *hello);
    unsigned len = 0;
    return HMAC(EVP_sha256(), t->secret, (int)t->len, msg, sizeof msg, out, &len) && len == 32;
}

bool rgpu_auth_answer(const struct rgpu_token *t, const struct rgpu_challenge *c, const struct rgpu_hello *hello,
                      struct rgpu_auth *out)
{
    return mac(t, c, hello, out->mac);
}

bool rgpu_auth_check(const struct rgpu_token *t, const struct rgpu_challenge *c, const struct rgpu_hello *hello,
                     const struct rgpu_auth *a)
{
    uint8_t want[32];
    return mac(t, c, hello, want) && CRYPTO_memcmp(want, a->mac, sizeof want) == 0;
}
