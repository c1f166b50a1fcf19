/*
 * stats.h — the clock and the statistic every rgpu benchmark uses (`rgpu
 * bench`, tools/bench.c; cudabench.c): seconds from a monotonic clock, and
 * the median of repetitions (which sorts them in place).
 */
#ifndef RGPU_BENCH_STATS_H
#define RGPU_BENCH_STATS_H

#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 0 for no repetitions */
static inline double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
