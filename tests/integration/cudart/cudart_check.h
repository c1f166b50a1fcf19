// cudart_check.h — assertion helpers for the cudart integration tests.
//
// These programs are ordinary CUDA runtime programs, built by nvcc with
// NVIDIA's cudart (static or shared) and not linked against any driver:
// cudart finds rgpu's libcuda.so.1 with dlopen, as it would NVIDIA's. A
// failed check prints
//
//     FAIL basic.cu:42: cudaMalloc(&p, 16): cudaErrorMemoryAllocation (2), expected cudaSuccess
//
// and counts; the program exits 1 at the end if anything failed (CK_FATAL
// exits at once, for checks the rest depends on).
#ifndef RGPU_CUDART_CHECK_H
#define RGPU_CUDART_CHECK_H

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>

static int ct_failures;

static inline void ct_report(const char *file, int line, const char *what, cudaError_t got, cudaError_t want)
{
    std::fprintf(stderr, "FAIL %s:%d: %s: %s (%d), expected %s (%d)\n", file, line, what, cudaGetErrorName(got),
                 (int)got, cudaGetErrorName(want), (int)want);
    ct_failures++;
}

// call must return want
#define CK_EQ(call, want)                                                                                   \
    do {                                                                                                    \
        cudaError_t ct_r_ = (call);                                                                         \
        if (ct_r_ != (want))                                                                                \
            ct_report(__FILE__, __LINE__, #call, ct_r_, (want));                                            \
    } while (0)
#define CK(call) CK_EQ(call, cudaSuccess)
#define CK_FATAL(call)                                                                                      \
    do {                                                                                                    \
        cudaError_t ct_r_ = (call);                                                                         \
        if (ct_r_ != cudaSuccess) {                                                                         \
            ct_report(__FILE__, __LINE__, #call, ct_r_, cudaSuccess);                                       \
            std::exit(1);                                                                                   \
        }                                                                                                   \
    } while (0)

// a host-side condition
#define EXPECT(cond, ...)                                                                                   \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                            \
            std::fprintf(stderr, __VA_ARGS__);                                                              \
            std::fputc('\n', stderr);                                                                       \
            ct_failures++;                                                                                  \
        }                                                                                                   \
    } while (0)

// first index where got[i] != want[i] (n if none), and a report if any
template <typename T> static size_t ct_mismatch(const char *file, int line, const char *what, const T *got,
                                                const T *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(got[i] == want[i])) {
            std::fprintf(stderr, "FAIL %s:%d: %s: element %zu: got %.17g, expected %.17g\n", file, line, what, i,
                         (double)got[i], (double)want[i]);
            ct_failures++;
            return i;
        }
    }
    return n;
}
#define EXPECT_ARRAY(got, want, n) ct_mismatch(__FILE__, __LINE__, #got, (got), (want), (n))

// The shared runtime a shared build must load (the CUDA 12 builds of these
// programs say libcudart.so.12).
#ifndef CT_CUDART_SONAME
#define CT_CUDART_SONAME "libcudart.so.13"
#endif

// The driver this process runs on must be rgpu's (not a real libcuda found
// first), and the runtime the build asked for: CT_CUDART_SONAME loaded when
// CT_CUDART_SHARED is 1, absent when the runtime is linked in statically.
static void ct_check_libraries()
{
    void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    EXPECT(cuda && dlsym(cuda, "rgpu_client_marker"), "libcuda.so.1 in this process is not rgpu's");
    void *rt = dlopen(CT_CUDART_SONAME, RTLD_NOW | RTLD_NOLOAD);
#if CT_CUDART_SHARED
    EXPECT(rt != nullptr, "built with a shared runtime, but " CT_CUDART_SONAME " is not loaded");
#else
    EXPECT(rt == nullptr, "built with the static runtime, but " CT_CUDART_SONAME " is loaded");
#endif
}

static inline int ct_done(const char *prog)
{
    ct_check_libraries();
    if (ct_failures) {
        std::fprintf(stderr, "%s: %d check(s) failed\n", prog, ct_failures);
        return 1;
    }
    std::printf("%s: OK\n", prog);
    return 0;
}

#endif
