/*
 * bench_ptx.c — throughput of the PTX machine (not a ctest): warp
 * instructions per second for a compute-bound kernel (a dependent fma chain
 * in a loop: 8 instructions per iteration) and a memory-bound one (saxpy:
 * 13 instructions per thread, 12 bytes moved per thread); and a cooperative
 * launch that does nothing but grid-wide syncs (the code nvcc emits for
 * cooperative_groups' grid.sync()) with 64 blocks of one warp; and the time
 * of a small launch (saxpy over 8192 floats, as many tiny kernels of
 * llama.cpp's token generation), to tell per-launch cost from interpretation.
 * Usage: bench_ptx [host_threads]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ptx.h"

static const char *text =
    ".version 8.0\n.target sm_75\n.address_size 64\n"
    ".visible .entry fmaloop(.param .u64 out, .param .u32 n)\n"
    "{\n .reg .f32 %f<6>; .reg .b32 %r<4>; .reg .b64 %rd<4>; .reg .pred %p1;\n"
    "  mov.u32 %r1, %tid.x; cvt.rn.f32.u32 %f1, %r1; mov.f32 %f2, 0f3F800000; mov.f32 %f3, 0f3F000000;\n"
    "  ld.param.u32 %r2, [n]; mov.u32 %r3, 0;\n"
    "L: fma.rn.f32 %f2, %f2, %f3, %f1; fma.rn.f32 %f3, %f3, %f2, %f1; fma.rn.f32 %f2, %f2, %f3, %f3;\n"
    "  fma.rn.f32 %f3, %f2, %f2, %f1; mul.f32 %f1, %f1, 0f3F7FFFFF; add.s32 %r3, %r3, 1;\n"
    "  setp.lt.u32 %p1, %r3, %r2; @%p1 bra L;\n"
    "  ld.param.u64 %rd1, [out]; mul.wide.u32 %rd2, %r1, 4; add.s64 %rd3, %rd1, %rd2; st.global.f32 [%rd3], %f2;\n"
    "  ret;\n}\n"
    ".visible .entry saxpy(.param .f32 a, .param .u64 x, .param .u64 y, .param .u32 n)\n"
    "{\n .reg .f32 %f<4>; .reg .b32 %r<6>; .reg .b64 %rd<8>; .reg .pred %p1;\n"
    "  mov.u32 %r1, %ctaid.x; mov.u32 %r2, %ntid.x; mov.u32 %r3, %tid.x; mad.lo.s32 %r4, %r1, %r2, %r3;\n"
    "  ld.param.u32 %r5, [n]; setp.ge.u32 %p1, %r4, %r5; @%p1 bra E;\n"
    "  ld.param.u64 %rd1, [x]; ld.param.u64 %rd2, [y]; ld.param.f32 %f1, [a]; mul.wide.u32 %rd3, %r4, 4;\n"
    "  add.s64 %rd4, %rd1, %rd3; add.s64 %rd5, %rd2, %rd3; ld.global.f32 %f2, [%rd4]; ld.global.f32 %f3, [%rd5];\n"
    "  fma.rn.f32 %f3, %f1, %f2, %f3; st.global.f32 [%rd5], %f3;\n"
    "E: ret;\n}\n"
    ".visible .entry gridsync(.param .u32 iters)\n"
    "{\n .reg .pred %p<3>; .reg .b32 %r<12>; .reg .b64 %rd<6>;\n"
    "  mov.u32 %r1, %envreg2; cvt.u64.u32 %rd1, %r1; mov.u32 %r2, %envreg1; cvt.u64.u32 %rd2, %r2;\n"
    "  shl.b64 %rd2, %rd2, 32; or.b64 %rd3, %rd2, %rd1; add.s64 %rd4, %rd3, 4;\n"
    "  mov.u32 %r3, %nctaid.x; mov.u32 %r4, %ctaid.x; setp.eq.s32 %p1, %r4, 0;\n"
    "  sub.s32 %r5, -2147483647, %r3; selp.b32 %r6, %r5, 1, %p1;\n"
    "  mov.u32 %r7, %tid.x; ld.param.u32 %r8, [iters]; mov.u32 %r9, 0;\n"
    "L: bar.sync 0; setp.ne.s32 %p2, %r7, 0; @%p2 bra W;\n"
    "  atom.add.release.gpu.u32 %r10, [%rd4], %r6;\n"
    "S: ld.acquire.gpu.u32 %r11, [%rd4]; xor.b32 %r11, %r11, %r10; setp.gt.s32 %p2, %r11, -1; @%p2 bra S;\n"
    "W: bar.sync 0; add.s32 %r9, %r9, 1; setp.lt.u32 %p2, %r9, %r8; @%p2 bra L;\n"
    "  ret;\n}\n";

static uint64_t lo, hi, lo2, hi2;
static bool valid(void *ctx, uint64_t a, uint64_t n)
{
    (void)ctx;
    return (a >= lo && a + n <= hi) || (a >= lo2 && a + n <= hi2);
}
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    struct ptx_module *m;
    char err[256];
    if (ptx_module_parse(text, strlen(text), &m, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    /* compute-bound */
    unsigned nb = 64, nt = 256, iters = 2000;
    float *out = calloc(nb * nt, 4);
    lo = (uint64_t)(uintptr_t)out; hi = lo + nb * nt * 4;
    uint8_t pb[64];
    memcpy(pb, &out, 8);
    memcpy(pb + 8, &iters, 4);
    struct ptx_launch l = {.kernel = ptx_module_find_kernel(m, "fmaloop"), .grid = {nb, 1, 1}, .block = {nt, 1, 1},
                           .params = pb, .memory = {valid, NULL}, .host_threads = threads};
    double t0 = now();
    CUresult rc = ptx_launch_run(&l);
    double t1 = now();
    double wi = (double)nb * nt / 32 * (iters * 8.0 + 14);
    printf("compute (fma loop): rc=%d %.3f s, %.1f M warp-instr/s (%.2f G lane-ops/s), %d host threads\n", rc, t1 - t0,
           wi / (t1 - t0) / 1e6, wi * 32 / (t1 - t0) / 1e9, threads);
    /* memory-bound */
    unsigned n = 1u << 24;
    float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
    for (unsigned i = 0; i < n; i++) { x[i] = (float)i; y[i] = 1.0f; }
    lo = (uint64_t)(uintptr_t)x; hi = lo + (uint64_t)n * 4;
    lo2 = (uint64_t)(uintptr_t)y; hi2 = lo2 + (uint64_t)n * 4;
    float a = 2.0f;
    memset(pb, 0, sizeof pb);
    memcpy(pb, &a, 4);
    memcpy(pb + 8, &x, 8);
    memcpy(pb + 16, &y, 8);
    memcpy(pb + 24, &n, 4);
    struct ptx_launch l2 = {.kernel = ptx_module_find_kernel(m, "saxpy"), .grid = {n / 256, 1, 1}, .block = {256, 1, 1},
                            .params = pb, .memory = {valid, NULL}, .host_threads = threads};
    t0 = now();
    rc = ptx_launch_run(&l2);
    t1 = now();
    wi = (double)n / 32 * 20;
    printf("memory (saxpy, %u floats): rc=%d %.3f s, %.1f M warp-instr/s, %.2f GB/s, y[5]=%g\n", n, rc, t1 - t0,
           wi / (t1 - t0) / 1e6, (double)n * 12 / (t1 - t0) / 1e9, (double)y[5]);
    /* launch overhead: a small saxpy (32 blocks of 256) many times, on the
     * default number of host threads (one per CPU) */
    unsigned small = 8192, reps = 2000;
    memcpy(pb + 24, &small, 4);
    struct ptx_launch l4 = {.kernel = ptx_module_find_kernel(m, "saxpy"), .grid = {small / 256, 1, 1},
                            .block = {256, 1, 1}, .params = pb, .memory = {valid, NULL}};
    t0 = now();
    for (unsigned k = 0; k < reps && rc == CUDA_SUCCESS; k++) rc = ptx_launch_run(&l4);
    t1 = now();
    printf("small launches (saxpy, 32 blocks of 256, default host threads): rc=%d %.1f us per launch\n", rc,
           (t1 - t0) / reps * 1e6);
    l4.host_threads = 1;
    t0 = now();
    for (unsigned k = 0; k < reps && rc == CUDA_SUCCESS; k++) rc = ptx_launch_run(&l4);
    t1 = now();
    printf("small launches (the same on 1 host thread): rc=%d %.1f us per launch\n", rc, (t1 - t0) / reps * 1e6);
    /* grid-wide sync */
    unsigned syncs = 200;
    memcpy(pb, &syncs, 4);
    struct ptx_launch l3 = {.kernel = ptx_module_find_kernel(m, "gridsync"), .grid = {64, 1, 1}, .block = {32, 1, 1},
                            .params = pb, .memory = {valid, NULL}, .host_threads = threads, .cooperative = true};
    t0 = now();
    rc = ptx_launch_run(&l3);
    t1 = now();
    printf("grid sync (64 blocks of 32 threads, cooperative): rc=%d %.3f s, %.1f us per grid.sync\n", rc, t1 - t0,
           (t1 - t0) / syncs * 1e6);
    free(out); free(x); free(y);
    ptx_module_free(m);
    return 0;
}
