/*
 * test_cpudev_heap.c — the CPU device's address-range allocator (cpudev/heap.c)
 * on its own: first fit, splitting, coalescing, lookup, and every tree
 * invariant after each step of a long deterministic random run checked
 * against a simple model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heap.h"

#define BASE 0x100000ull
#define K 256ull

static void check(const struct heap *h)
{
    const char *err = heap_check(h);
    if (err)
        fail_msg("heap invariant broken: %s", err);
}

static void first_fit_and_coalescing(void **state)
{
    struct heap h;
    uint64_t lo, hi;
    assert_true(heap_init(&h, BASE, 16 * K));
    struct heap_block *a = heap_alloc(&h, 4 * K), *b = heap_alloc(&h, 4 * K), *c = heap_alloc(&h, 4 * K);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(a->start, BASE);
    assert_int_equal(b->start, BASE + 4 * K);
    assert_int_equal(c->start, BASE + 8 * K);
    check(&h);
    assert_null(heap_alloc(&h, 5 * K)); /* 4 K left */

    /* A hole in the middle: first fit takes it before the tail. */
    assert_true(heap_free(&h, BASE + 4 * K, &lo, &hi));
    assert_int_equal(lo, BASE + 4 * K);
    assert_int_equal(hi, BASE + 8 * K);
    struct heap_block *d = heap_alloc(&h, 2 * K);
    assert_int_equal(d->start, BASE + 4 * K);
    check(&h);

    /* Double free and frees of non-starts fail. */
    assert_false(heap_free(&h, BASE + 4 * K + K, &lo, &hi));
    assert_true(heap_free(&h, BASE + 4 * K, &lo, &hi));
    assert_false(heap_free(&h, BASE + 4 * K, &lo, &hi));
    assert_false(heap_free(&h, BASE + 64 * K, &lo, &hi));

    /* Freeing a, then c, merges everything back into one block. */
    assert_true(heap_free(&h, BASE, &lo, &hi));
    assert_int_equal(lo, BASE);
    assert_int_equal(hi, BASE + 8 * K);
    assert_true(heap_free(&h, BASE + 8 * K, &lo, &hi));
    assert_int_equal(lo, BASE);
    assert_int_equal(hi, BASE + 16 * K);
    check(&h);
    struct heap_block *all = heap_alloc(&h, 16 * K);
    assert_non_null(all);
    assert_int_equal(all->start, BASE);
    assert_null(heap_alloc(&h, K));
    heap_destroy(&h);
}

static void find_and_owned(void **state)
{
    struct heap h;
    uint64_t start, lo, hi;
    assert_true(heap_init(&h, BASE, 64 * K));
    assert_null(heap_find(&h, BASE - 1));
    assert_null(heap_find(&h, BASE + 64 * K));
    for (int i = 0; i < 8; i++) {
        struct heap_block *b = heap_alloc(&h, 2 * K);
        b->owner = (uint64_t)(i % 2 + 1);
    }
    struct heap_block *b = heap_find(&h, BASE + 5 * K + 7);
    assert_non_null(b);
    assert_int_equal(b->start, BASE + 4 * K);
    assert_true(b->used);
    assert_false(heap_find(&h, BASE + 40 * K)->used);

    /* Owner 2 holds blocks 1, 3, 5, 7. */
    int n = 0;
    for (uint64_t at = BASE; heap_next_owned(&h, at, 2, &start); at = start + 1) {
        assert_int_equal(start, BASE + (2 * (uint64_t)n + 1) * 2 * K);
        assert_true(heap_free(&h, start, &lo, &hi));
        n++;
    }
    assert_int_equal(n, 4);
    assert_false(heap_next_owned(&h, BASE, 2, &start));
    assert_true(heap_next_owned(&h, BASE, 1, &start));
    check(&h);
    heap_destroy(&h);
}

/* A deterministic random run against a byte-per-unit model of the range. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void random_against_model(void **state)
{
    enum { UNITS = 4096, LIVE = 512 };
    static unsigned char owner_of[UNITS]; /* 0 free, else slot + 1 */
    struct {
        uint64_t start, units;
    } live[LIVE] = {{0}};
    struct heap h;
    uint64_t lo, hi;
    memset(owner_of, 0, sizeof owner_of);
    assert_true(heap_init(&h, BASE, UNITS * K));
    for (int step = 0; step < 20000; step++) {
        int slot = (int)(next_rand() % LIVE);
        if (live[slot].units) {
            uint64_t first = (live[slot].start - BASE) / K;
            assert_true(heap_free(&h, live[slot].start, &lo, &hi));
            for (uint64_t u = first; u < first + live[slot].units; u++)
                owner_of[u] = 0;
            /* The merged block is free in the model, and bounded by used
             * units (or the range's ends). */
            for (uint64_t a = lo; a < hi; a += K)
                assert_int_equal(owner_of[(a - BASE) / K], 0);
            assert_true(lo == BASE || owner_of[(lo - BASE) / K - 1]);
            assert_true(hi == BASE + UNITS * K || owner_of[(hi - BASE) / K]);
            live[slot].units = 0;
        } else {
            uint64_t units = 1 + next_rand() % (next_rand() % 4 == 0 ? 256 : 8);
            /* The model's first fit. */
            uint64_t expect = UINT64_MAX, run = 0;
            for (uint64_t u = 0; u < UNITS; u++) {
                run = owner_of[u] ? 0 : run + 1;
                if (run == units) {
                    expect = u + 1 - units;
                    break;
                }
            }
            struct heap_block *b = heap_alloc(&h, units * K);
            if (expect == UINT64_MAX) {
                assert_null(b);
                continue;
            }
            assert_non_null(b);
            assert_int_equal(b->start, BASE + expect * K);
            for (uint64_t u = expect; u < expect + units; u++)
                owner_of[u] = (unsigned char)(slot % 255 + 1);
            live[slot].start = b->start;
            live[slot].units = units;
        }
        if (step % 64 == 0)
            check(&h);
        uint64_t probe = next_rand() % UNITS;
        const struct heap_block *f = heap_find(&h, BASE + probe * K + next_rand() % K);
        assert_non_null(f);
        assert_int_equal(f->used, owner_of[probe] != 0);
    }
    check(&h);
    heap_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_fit_and_coalescing),
        cmocka_unit_test(find_and_owned),
        cmocka_unit_test(random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
