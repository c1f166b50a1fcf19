/*
 * test_bufpool.c — server/bufpool.c: buffers come back from the pool after
 * release, and with pinning (the NVIDIA backend's staging) every size is
 * pooled and pinned once, pinned again after a failed attempt or after
 * bufpool_repin(), and unpinned only inside bufpool_get (the driver forbids
 * its calls in the host functions where bufpool_put runs), before unmapping.
 * The pool is process-wide, so the tests run in one order: unpinned first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bufpool.h"

#define MAXP 64
static struct { void *p; size_t n; } pinned[MAXP];
static int npinned, pin_calls, unpin_calls, fail_next_pin;

static int pin(void *p, size_t n)
{
    pin_calls++;
    if (fail_next_pin) {
        fail_next_pin = 0;
        return -1;
    }
    for (int i = 0; i < npinned; i++)
        if (pinned[i].p == p)
            return 0; /* already registered: the driver's ALREADY_REGISTERED */
    assert_true(npinned < MAXP);
    pinned[npinned].p = p;
    pinned[npinned++].n = n;
    return 0;
}

static void unpin(void *p)
{
    unpin_calls++;
    for (int i = 0; i < npinned; i++)
        if (pinned[i].p == p) {
            pinned[i] = pinned[--npinned];
            return;
        }
    fail_msg("unpin of %p, which is not pinned", p);
}

static int is_pinned(void *p, size_t len)
{
    for (int i = 0; i < npinned; i++)
        if (pinned[i].p == p && pinned[i].n >= len)
            return 1;
    return 0;
}

static void test_unpinned_reuse(void **state)
{
    (void)state;
    void *a = bufpool_get(1u << 20);
    assert_non_null(a);
    memset(a, 1, 1u << 20);
    bufpool_put(a);
    void *b = bufpool_get(700u << 10); /* same 1 MiB class */
    assert_ptr_equal(a, b);
    void *small = bufpool_get(100); /* below 64 KiB: malloc, not pooled */
    assert_non_null(small);
    bufpool_put(small);
    bufpool_put(b);
    assert_int_equal(pin_calls, 0);
}

static void test_pinned(void **state)
{
    (void)state;
    bufpool_set_pinning(pin, unpin);
    /* the unpinned 1 MiB buffer from before is pinned when handed out */
    void *a = bufpool_get(1u << 20);
    assert_true(is_pinned(a, 1u << 20));
    int calls = pin_calls;
    bufpool_put(a);
    void *b = bufpool_get(1u << 20);
    assert_ptr_equal(a, b);
    assert_int_equal(pin_calls, calls); /* pinned once */

    /* small sizes are pooled (4 KiB class) and pinned too */
    void *s = bufpool_get(100);
    assert_true(is_pinned(s, 4096));
    assert_int_equal(((uintptr_t)s) % 4096, 0);
    bufpool_put(s);
    assert_ptr_equal(bufpool_get(4000), s);

    /* a failed pin leaves the buffer usable and is retried next time */
    fail_next_pin = 1;
    void *c = bufpool_get(3u << 20);
    assert_non_null(c);
    assert_false(is_pinned(c, 3u << 20));
    bufpool_put(c);
    void *c2 = bufpool_get(3u << 20);
    assert_ptr_equal(c, c2);
    assert_true(is_pinned(c2, 3u << 20));

    /* after bufpool_repin every buffer is registered again when handed out */
    calls = pin_calls;
    bufpool_repin();
    bufpool_put(b);
    void *b2 = bufpool_get(1u << 20);
    assert_ptr_equal(b2, b);
    assert_int_equal(pin_calls, calls + 1);

    /* releasing with the idle bound exceeded unmaps, but a pinned buffer is
     * unpinned only by the next bufpool_get (never inside bufpool_put) */
    void *huge = bufpool_get(2048u << 20); /* a class above the 1 GiB idle bound */
    assert_non_null(huge);
    assert_true(is_pinned(huge, 2048u << 20));
    int unpins = unpin_calls;
    bufpool_put(huge);
    assert_int_equal(unpin_calls, unpins);
    assert_true(is_pinned(huge, 2048u << 20));
    void *after = bufpool_get(4096);
    assert_int_equal(unpin_calls, unpins + 1);
    assert_false(is_pinned(huge, 1));
    bufpool_put(after);
    bufpool_put(b2);
    bufpool_put(c2);
    bufpool_put(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_unpinned_reuse), cmocka_unit_test(test_pinned)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
