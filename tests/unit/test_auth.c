/*
 * test_auth.c — rgpud's token (wire/auth.h): the secret read from its file,
 * and answers to challenges that hold only for that secret, that nonce and
 * that HELLO.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"

static char dir[64];

static const char *file_with(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
    return path;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rgpu-auth.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void token_file(void **state)
{
    (void)state;
    struct rgpu_token t;
    char err[256];
    assert_int_equal(rgpu_token_load(file_with("ok", "0123456789abcdef-secret\n\n"), &t, err, sizeof err), 0);
    assert_int_equal(t.len, strlen("0123456789abcdef-secret")); /* trailing white space is not the secret */
    assert_memory_equal(t.secret, "0123456789abcdef-secret", t.len);
    assert_int_equal(rgpu_token_load(file_with("short", "too short\n"), &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "16 to 256"));
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(rgpu_token_load(file_with("long", big), &t, err, sizeof err), -1);
    assert_int_equal(rgpu_token_load("/nonexistent/rgpu-token", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
}

static void answers(void **state)
{
    (void)state;
    struct rgpu_token t, other;
    char err[256];
    assert_int_equal(rgpu_token_load(file_with("t", "the right secret, 32 bytes long!"), &t, err, sizeof err), 0);
    assert_int_equal(rgpu_token_load(file_with("o", "the wrong secret, 32 bytes long!"), &other, err, sizeof err), 0);
    struct rgpu_challenge c, c2;
    assert_true(rgpu_auth_challenge(&c));
    assert_true(rgpu_auth_challenge(&c2));
    assert_memory_not_equal(c.nonce, c2.nonce, sizeof c.nonce); /* fresh each time */
    struct rgpu_hello hello = {.proto_version = RGPU_PROTO_VERSION, .pid = 42, .calls_fingerprint = 7};
    strcpy(hello.host, "vm1");
    struct rgpu_auth a;
    assert_true(rgpu_auth_answer(&t, &c, &hello, &a));
    assert_true(rgpu_auth_check(&t, &c, &hello, &a));
    /* another secret, another nonce (a replay), another HELLO, a changed bit */
    struct rgpu_auth b;
    assert_true(rgpu_auth_answer(&other, &c, &hello, &b));
    assert_false(rgpu_auth_check(&t, &c, &hello, &b));
    assert_false(rgpu_auth_check(&t, &c2, &hello, &a));
    struct rgpu_hello h2 = hello;
    h2.pid = 43;
    assert_false(rgpu_auth_check(&t, &c, &h2, &a));
    a.mac[31] ^= 1;
    assert_false(rgpu_auth_check(&t, &c, &hello, &a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_file),
        cmocka_unit_test(answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
