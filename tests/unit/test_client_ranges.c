/*
 * test_client_ranges.c — client/ranges.c, the sorted range sets behind the
 * client's allocation table, its page-locked memory and its VMM mappings:
 * lookups at every edge of a range, coverage across ranges that touch (and
 * not across a gap), removal by base, by overlap, by context and by owner,
 * and ranges at the top of the address space (no wrap-around).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ranges.h"

static struct ranges fresh(void)
{
    struct ranges rs = RANGES_INIT;
    return rs;
}

static void add(struct ranges *rs, uintptr_t base, size_t size, const void *ctx, const void *owner)
{
    struct range r = {.base = base, .size = size, .ctx = ctx, .owner = owner};
    assert_true(ranges_add(rs, &r));
}

static void lookups_at_the_edges(void **state)
{
    (void)state;
    struct ranges rs = fresh();
    add(&rs, 0x3000, 0x1000, NULL, NULL);
    add(&rs, 0x1000, 0x1000, NULL, NULL); /* out of order: kept sorted */
    struct range r;
    assert_false(ranges_find(&rs, 0xfff, &r));
    assert_true(ranges_find(&rs, 0x1000, &r));
    assert_int_equal(r.base, 0x1000);
    assert_true(ranges_find(&rs, 0x1fff, &r));
    assert_false(ranges_find(&rs, 0x2000, &r));
    assert_true(ranges_find(&rs, 0x3000, &r));
    assert_int_equal(r.base, 0x3000);
    assert_false(ranges_find(&rs, 0x4000, NULL));
    assert_true(ranges_overlaps(&rs, 0x1800, 0x1000));
    assert_false(ranges_overlaps(&rs, 0x2000, 0x1000));
    free(rs.v);
}

static void cover_needs_touching_ranges(void **state)
{
    (void)state;
    struct ranges rs = fresh();
    add(&rs, 0x10000, 0x1000, NULL, NULL);
    add(&rs, 0x11000, 0x2000, NULL, NULL); /* touches the first */
    add(&rs, 0x14000, 0x1000, NULL, NULL); /* a gap before it */
    assert_true(ranges_cover(&rs, 0x10000, 0x1000));
    assert_true(ranges_cover(&rs, 0x10800, 0x2000)); /* across the boundary */
    assert_true(ranges_cover(&rs, 0x10000, 0x3000)); /* both, exactly */
    assert_false(ranges_cover(&rs, 0x10000, 0x3001));
    assert_false(ranges_cover(&rs, 0x12800, 0x2000)); /* into the gap */
    assert_false(ranges_cover(&rs, 0xffff, 2));       /* starts before */
    assert_false(ranges_cover(&rs, 0x13000, 1));      /* in the gap */
    assert_true(ranges_cover(&rs, 0x14fff, 1));
    assert_false(ranges_cover(&rs, 0x14fff, 2));
    assert_false(ranges_cover(&rs, 0x10000, SIZE_MAX)); /* wraps around */
    free(rs.v);
}

static void top_of_the_address_space(void **state)
{
    (void)state;
    struct ranges rs = fresh();
    uintptr_t top = UINTPTR_MAX - 0xfff;
    add(&rs, top, 0x1000, NULL, NULL);
    assert_true(ranges_cover(&rs, top, 0x1000));
    assert_false(ranges_cover(&rs, top, 0x1001));
    assert_true(ranges_find(&rs, UINTPTR_MAX, NULL));
    ranges_remove_overlapping(&rs, top + 0x800, SIZE_MAX); /* the end clamps */
    assert_int_equal(rs.n, 0);
    free(rs.v);
}

static void removal(void **state)
{
    (void)state;
    struct ranges rs = fresh();
    int ctx_a, ctx_b, module;
    add(&rs, 0x1000, 0x1000, &ctx_a, NULL);
    add(&rs, 0x2000, 0x1000, &ctx_b, NULL);
    add(&rs, 0x3000, 0x1000, &ctx_a, &module);
    add(&rs, 0x5000, 0x1000, NULL, NULL);
    add(&rs, 0x6000, 0x1000, NULL, NULL);
    add(&rs, 0x8000, 0x1000, NULL, NULL);

    struct range r;
    assert_false(ranges_remove(&rs, 0x1800, &r)); /* not a base */
    assert_true(ranges_remove(&rs, 0x2000, &r));
    assert_ptr_equal(r.ctx, &ctx_b);
    assert_false(ranges_find(&rs, 0x2000, NULL));

    ranges_remove_owner(&rs, &module);
    assert_false(ranges_find(&rs, 0x3000, NULL));
    assert_true(ranges_find(&rs, 0x1000, NULL)); /* same context, no owner */

    /* [0x5800, 0x6800) overlaps two; the one after stays */
    ranges_remove_overlapping(&rs, 0x5800, 0x1000);
    assert_false(ranges_find(&rs, 0x5000, NULL));
    assert_false(ranges_find(&rs, 0x6000, NULL));
    assert_true(ranges_find(&rs, 0x8000, NULL));
    ranges_remove_overlapping(&rs, 0x7000, 0x1000); /* touches 0x8000, overlaps nothing */
    assert_true(ranges_find(&rs, 0x8000, NULL));

    ranges_remove_ctx(&rs, &ctx_a);
    assert_false(ranges_find(&rs, 0x1000, NULL));
    assert_int_equal(rs.n, 1);
    free(rs.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookups_at_the_edges),
        cmocka_unit_test(cover_needs_touching_ranges),
        cmocka_unit_test(top_of_the_address_space),
        cmocka_unit_test(removal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
