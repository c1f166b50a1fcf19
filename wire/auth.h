/*
 * auth.h — proof that a client holds rgpud's shared secret.
 *
 * An rgpud started with --token-file answers a HELLO with a CHALLENGE (a
 * fresh random nonce); the client answers with AUTH, an HMAC-SHA256 under the
 * secret of the nonce and its HELLO, and only then gets its WELCOME. The
 * secret never travels, and an answer is good for one connection only. This
 * authenticates; it does not encrypt (the requests and bytes that follow
 * travel in the clear: a host-only network, vsock or a tunnel).
 *
 * The secret is the content of a file (RGPU_TOKEN_FILE for clients), less
 * trailing white space: at least 16 bytes, at most 256.
 */
#ifndef RGPU_WIRE_AUTH_H
#define RGPU_WIRE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define RGPU_TOKEN_MIN 16
#define RGPU_TOKEN_MAX 256

struct rgpu_token {
    uint8_t secret[RGPU_TOKEN_MAX];
    size_t len;
};

/* Read the secret from path into *t; -1 with a reason in err. A file that
 * others may read is used, with a warning. */
int rgpu_token_load(const char *path, struct rgpu_token *t, char *err, size_t errlen);
/* Wipe the secret (a plain memset of memory about to die may be optimised
 * away). */
void rgpu_token_clear(struct rgpu_token *t);
/* A fresh challenge; false if no randomness could be had. */
bool rgpu_auth_challenge(struct rgpu_challenge *c);
/* The answer to c for the HELLO a client sent. */
bool rgpu_auth_answer(const struct rgpu_token *t, const struct rgpu_challenge *c, const struct rgpu_hello *hello,
                      struct rgpu_auth *out);
/* Whether a is the answer (compared in constant time). */
bool rgpu_auth_check(const struct rgpu_token *t, const struct rgpu_challenge *c, const struct rgpu_hello *hello,
                     const struct rgpu_auth *a);

#endif
