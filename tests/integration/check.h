/*
 * check.h — tiny assertion helpers for the rgpu integration tests.
 *
 * Every test is an ordinary CUDA driver-API program (it includes the
 * toolkit's <cuda.h> and links rgpu's libcuda.so.1). A failed check prints
 *
 *     FAIL file.c:123: cuMemAlloc(&p, 16): got CUDA_ERROR_OUT_OF_MEMORY (2), expected CUDA_SUCCESS (0)
 *
 * and exits with status 1 (EXPECT_* record the failure and keep going, the
 * program then exits 1 from TEST_DONE()). Nothing here talks to the server.
 */
#ifndef RGPU_IT_CHECK_H
#define RGPU_IT_CHECK_H

#include <cuda.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* atomic: tests with several threads record failures concurrently */
static _Atomic int it_failures;

static inline const char *it_errname(CUresult r)
{
    const char *s = NULL;
    if (cuGetErrorName(r, &s) != CUDA_SUCCESS || !s)
        return "(unknown CUresult)";
    return s;
}

static inline void it_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    it_failures++;
}

#define IT_ABORT()                                                                                 \
    do {                                                                                           \
        fprintf(stderr, "%s: aborting after a fatal check\n", __FILE__);                          \
        exit(1);                                                                                   \
    } while (0)

/* call must return CUDA_SUCCESS; fatal otherwise */
#define CHECK(call)                                                                                \
    do {                                                                                           \
        CUresult it_r_ = (call);                                                                   \
        if (it_r_ != CUDA_SUCCESS) {                                                               \
            it_fail(__FILE__, __LINE__, "%s: got %s (%d), expected CUDA_SUCCESS", #call,           \
                    it_errname(it_r_), (int)it_r_);                                                \
            IT_ABORT();                                                                            \
        }                                                                                          \
    } while (0)

/* call must return exactly want; records a failure and goes on otherwise */
#define EXPECT_RESULT(call, want)                                                                  \
    do {                                                                                           \
        CUresult it_r_ = (call), it_w_ = (want);                                                   \
        if (it_r_ != it_w_)                                                                        \
            it_fail(__FILE__, __LINE__, "%s: got %s (%d), expected %s (%d)", #call,                \
                    it_errname(it_r_), (int)it_r_, it_errname(it_w_), (int)it_w_);                 \
    } while (0)

/* call must fail (any error code); records a failure otherwise */
#define EXPECT_ERROR(call)                                                                         \
    do {                                                                                           \
        CUresult it_r_ = (call);                                                                   \
        if (it_r_ == CUDA_SUCCESS)                                                                 \
            it_fail(__FILE__, __LINE__, "%s: got CUDA_SUCCESS, expected an error", #call);         \
    } while (0)

/* call must return one of two codes */
#define EXPECT_RESULT2(call, w1, w2)                                                               \
    do {                                                                                           \
        CUresult it_r_ = (call), it_w1_ = (w1), it_w2_ = (w2);                                     \
        if (it_r_ != it_w1_ && it_r_ != it_w2_)                                                    \
            it_fail(__FILE__, __LINE__, "%s: got %s (%d), expected %s or %s", #call,               \
                    it_errname(it_r_), (int)it_r_, it_errname(it_w1_), it_errname(it_w2_));        \
    } while (0)

#define EXPECT_TRUE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            it_fail(__FILE__, __LINE__, "expected %s", #cond);                                     \
    } while (0)

/* fatal form of EXPECT_TRUE */
#define ASSERT_TRUE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            it_fail(__FILE__, __LINE__, "expected %s", #cond);                                     \
            IT_ABORT();                                                                            \
        }                                                                                          \
    } while (0)

/* integer comparisons, printed with values */
#define IT_CMP_(a, op, b, fatal)                                                                   \
    do {                                                                                           \
        long long it_a_ = (long long)(a), it_b_ = (long long)(b);                                  \
        if (!(it_a_ op it_b_)) {                                                                   \
            it_fail(__FILE__, __LINE__, "expected %s %s %s, got %lld (%#llx) vs %lld (%#llx)", #a, \
                    #op, #b, it_a_, (unsigned long long)it_a_, it_b_, (unsigned long long)it_b_);  \
            if (fatal)                                                                             \
                IT_ABORT();                                                                        \
        }                                                                                          \
    } while (0)
#define EXPECT_EQ(a, b) IT_CMP_(a, ==, b, 0)
#define EXPECT_NE(a, b) IT_CMP_(a, !=, b, 0)
#define EXPECT_GE(a, b) IT_CMP_(a, >=, b, 0)
#define EXPECT_GT(a, b) IT_CMP_(a, >, b, 0)
#define EXPECT_LE(a, b) IT_CMP_(a, <=, b, 0)
#define EXPECT_LT(a, b) IT_CMP_(a, <, b, 0)
#define ASSERT_EQ(a, b) IT_CMP_(a, ==, b, 1)

#define EXPECT_STREQ(a, b)                                                                         \
    do {                                                                                           \
        const char *it_sa_ = (a), *it_sb_ = (b);                                                   \
        if (!it_sa_ || !it_sb_ || strcmp(it_sa_, it_sb_) != 0)                                     \
            it_fail(__FILE__, __LINE__, "expected %s == %s, got \"%s\" vs \"%s\"", #a, #b,         \
                    it_sa_ ? it_sa_ : "(null)", it_sb_ ? it_sb_ : "(null)");                       \
    } while (0)

/* byte-exact comparison of n bytes; reports the first differing offset */
#define EXPECT_MEMEQ(got, want, n, what)                                                           \
    do {                                                                                           \
        const unsigned char *it_g_ = (const unsigned char *)(got);                                 \
        const unsigned char *it_w_ = (const unsigned char *)(want);                                \
        size_t it_n_ = (n);                                                                        \
        for (size_t it_i_ = 0; it_i_ < it_n_; it_i_++) {                                           \
            if (it_g_[it_i_] != it_w_[it_i_]) {                                                    \
                it_fail(__FILE__, __LINE__, "%s: byte %zu of %zu differs: got %#04x, expected %#04x", \
                        (what), it_i_, it_n_, it_g_[it_i_], it_w_[it_i_]);                         \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* every one of n bytes must equal v */
#define EXPECT_ALLBYTES(buf, v, n, what)                                                           \
    do {                                                                                           \
        const unsigned char *it_g_ = (const unsigned char *)(buf);                                 \
        size_t it_n_ = (n);                                                                        \
        unsigned char it_v_ = (unsigned char)(v);                                                  \
        for (size_t it_i_ = 0; it_i_ < it_n_; it_i_++) {                                           \
            if (it_g_[it_i_] != it_v_) {                                                           \
                it_fail(__FILE__, __LINE__, "%s: byte %zu of %zu is %#04x, expected %#04x", (what), \
                        it_i_, it_n_, it_g_[it_i_], it_v_);                                        \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* every one of n 32-bit words must equal v */
#define EXPECT_ALLWORDS(buf, v, n, what)                                                           \
    do {                                                                                           \
        const uint32_t *it_w_ = (const uint32_t *)(buf);                                           \
        size_t it_n_ = (n);                                                                        \
        uint32_t it_v_ = (uint32_t)(v);                                                            \
        for (size_t it_i_ = 0; it_i_ < it_n_; it_i_++) {                                           \
            if (it_w_[it_i_] != it_v_) {                                                           \
                it_fail(__FILE__, __LINE__, "%s: word %zu of %zu is %#x, expected %#x", (what),      \
                        it_i_, it_n_, it_w_[it_i_], it_v_);                                        \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* end of main: 0 when every check passed */
#define TEST_DONE()                                                                                \
    do {                                                                                           \
        if (it_failures) {                                                                         \
            fprintf(stderr, "%s: %d check(s) FAILED\n", __FILE__, (int)it_failures);                   \
            return 1;                                                                              \
        }                                                                                          \
        printf("%s: all checks passed\n", __FILE__);                                               \
        return 0;                                                                                  \
    } while (0)

/* ---- small utilities ---- */

static inline double it_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void it_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* deterministic pattern bytes: a xorshift64* stream seeded per buffer */
static inline uint64_t it_xs_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline void it_fill(void *buf, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
    if (!s)
        s = 1;
    unsigned char *p = buf;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = it_xs_next(&s);
        memcpy(p + i, &v, 8);
    }
    if (i < n) {
        uint64_t v = it_xs_next(&s);
        memcpy(p + i, &v, n - i);
    }
}

static inline void *it_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "FAIL: out of host memory allocating %zu bytes\n", n);
        exit(1);
    }
    return p;
}

/* RGPU_TEST_BACKEND is set by run_with_server.sh; backend-specific facts
 * (the CPU device's attributes) are checked only when it is "cpu". */
static inline int it_backend_is_cpu(void)
{
    const char *b = getenv("RGPU_TEST_BACKEND");
    return b && strcmp(b, "cpu") == 0;
}

#endif
