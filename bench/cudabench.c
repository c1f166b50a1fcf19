/*
 * cudabench.c — the costs an application sees, measured through whatever
 * libcuda.so.1 the loader finds: NVIDIA's (native) or rgpu's (remoted). It
 * uses only the public driver API, so the same binary runs both ways; the
 * GPU suite (tests/gpu/run) runs it natively and through rgpud and prints the
 * ratios: rgpu against native CUDA on the same GPU, in the same run.
 * (`rgpu bench` compares rgpu with the raw transport under it instead.)
 *
 *   cudabench [--quick]
 *
 * Prints one line per figure, "name value unit", medians of repetitions:
 *   sync_idle_us       cuCtxSynchronize with nothing queued (rgpu's client
 *                      answers it itself after the first)
 *   sync_idle_after_call_us  the same, each after a zero-byte
 *                      cuMemsetD8Async on the legacy stream (not timed): work
 *                      rgpu's client cannot see finish, so through rgpu a
 *                      round trip to a device with nothing to do
 *   stream_sync_idle_us  cuStreamSynchronize of an idle stream
 *   event_cycle_us     cuEventCreate + cuEventDestroy
 *   event_record_sync_us  cuEventRecord on an idle stream + cuEventSynchronize
 *                      (a round trip through rgpu: the record is work its
 *                      client cannot see finish)
 *   sync_idle_after_call_1000fn_us, event_cycle_1000fn_us  the same again,
 *                      with a module
 *                      of 1000 kernels loaded and each looked up (as a cuBLAS
 *                      or ggml program has them): a cost that grew with the
 *                      handles a client holds would show here (last, so the
 *                      module does not weigh on the other figures)
 *   launch_issue_us    client time per empty-kernel cuLaunchKernel (batches)
 *   launch_e2e_us      per launch, N launches then cuCtxSynchronize
 *   dtoh4_sync_us      4-byte cuMemcpyDtoHAsync + cuStreamSynchronize (what
 *                      ggml does to read a result)
 *   dtoh4_pinned_sync_us  the same into page-locked memory (llama.cpp's
 *                      output buffer when it gets one)
 *   htod512_sync_us    512-byte cuMemcpyHtoDAsync from pageable memory on the
 *                      per-thread stream + its cuStreamSynchronize (what
 *                      ggml does for each input of a token; rgpu's client
 *                      answers the synchronisation, the copy cannot fail)
 *   async_refused_us   cuMemsetD8Async past its allocation's end, right
 *                      after a queued memset: an argument error, which CUDA
 *                      returns from the call (through rgpu a round trip: the
 *                      client sends it waiting for rgpud's verdict)
 *   htod_<size>_<pageable|pinned>_MBps, dtoh_...   synchronous copies, until
 *                      the call returns (a host-to-device one returns once
 *                      the bytes left the application's buffer: NVIDIA's
 *                      from pageable memory once they are staged, rgpu's
 *                      over sockets once they are sent)
 */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats.h"

static const char empty_ptx[] = ".version 7.0\n.target sm_75\n.address_size 64\n"
                                ".visible .entry cudabench_empty()\n{\n\tret;\n}\n";

#define CK(call)                                                                                                       \
    do {                                                                                                               \
        CUresult r_ = (call);                                                                                          \
        if (r_ != CUDA_SUCCESS) {                                                                                      \
            const char *n_ = NULL;                                                                                     \
            cuGetErrorName(r_, &n_);                                                                                   \
            fprintf(stderr, "cudabench: %s failed: %s (%d)\n", #call, n_ ? n_ : "?", (int)r_);                         \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

#define MAX_REPS 512

/* cuEventCreate + cuEventDestroy, the destroys finished before returning */
static void event_cycle(const char *name, int reps, double *t)
{
    for (int i = 0; i < reps; i++) {
        CUevent e;
        double t0 = bench_now();
        CK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
        CK(cuEventDestroy(e));
        t[i] = bench_now() - t0;
    }
    CK(cuCtxSynchronize());
    printf("%s %.2f us\n", name, bench_median(t, reps) * 1e6);
}

/* cuCtxSynchronize with nothing to wait for, each after a call that queues
 * nothing to do (but names a stream: a client cannot tell it is done) */
static void sync_idle_after_call(const char *name, int reps, double *t)
{
    CUdeviceptr d;
    CK(cuMemAlloc(&d, 4096));
    for (int i = 0; i < reps; i++) {
        CK(cuMemsetD8Async(d, 0, 0, CU_STREAM_LEGACY));
        double t0 = bench_now();
        CK(cuCtxSynchronize());
        t[i] = bench_now() - t0;
    }
    CK(cuMemFree(d));
    printf("%s %.2f us\n", name, bench_median(t, reps) * 1e6);
}

/* sync_idle_after_call and event_cycle with nf kernels loaded and looked up */
static void with_functions(int nf, int reps, double *t)
{
    size_t len = 128 + (size_t)nf * 64;
    char *ptx = malloc(len), *p = ptx;
    if (!ptx) {
        fprintf(stderr, "cudabench: out of memory\n");
        exit(1);
    }
    p += sprintf(p, ".version 7.0\n.target sm_75\n.address_size 64\n");
    for (int i = 0; i < nf; i++)
        p += sprintf(p, ".visible .entry cudabench_k%d()\n{\n\tret;\n}\n", i);
    CUmodule m;
    CUfunction f;
    CK(cuModuleLoadData(&m, ptx));
    for (int i = 0; i < nf; i++) {
        char name[32];
        snprintf(name, sizeof name, "cudabench_k%d", i);
        CK(cuModuleGetFunction(&f, m, name));
    }
    char name[64];
    snprintf(name, sizeof name, "sync_idle_after_call_%dfn_us", nf);
    sync_idle_after_call(name, reps, t);
    snprintf(name, sizeof name, "event_cycle_%dfn_us", nf);
    event_cycle(name, reps, t);
    CK(cuModuleUnload(m));
    free(ptx);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int reps = quick ? 50 : 400, batches = quick ? 10 : 40, batch = 1000, e2e_n = quick ? 2000 : 20000;
    CUdevice dev;
    CUcontext ctx;
    CUmodule m;
    CUfunction f;
    CUstream s;
    double t[MAX_REPS];
    CK(cuInit(0));
    CK(cuDeviceGet(&dev, 0));
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    CK(cuModuleLoadData(&m, empty_ptx));
    CK(cuModuleGetFunction(&f, m, "cudabench_empty"));
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    char name[256] = "";
    CK(cuDeviceGetName(name, sizeof name, dev));
    printf("device %s\n", name);

    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        CK(cuCtxSynchronize());
        t[i] = bench_now() - t0;
    }
    printf("sync_idle_us %.2f us\n", bench_median(t, reps) * 1e6);
    sync_idle_after_call("sync_idle_after_call_us", reps, t);
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        CK(cuStreamSynchronize(s));
        t[i] = bench_now() - t0;
    }
    printf("stream_sync_idle_us %.2f us\n", bench_median(t, reps) * 1e6);
    event_cycle("event_cycle_us", reps, t);
    CUevent ev;
    CK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        CK(cuEventRecord(ev, s));
        CK(cuEventSynchronize(ev));
        t[i] = bench_now() - t0;
    }
    CK(cuEventDestroy(ev));
    printf("event_record_sync_us %.2f us\n", bench_median(t, reps) * 1e6);

    for (int b = 0; b <= batches; b++) { /* the first batch warms up */
        double t0 = bench_now();
        for (int i = 0; i < batch; i++)
            CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, NULL, NULL));
        if (b)
            t[b - 1] = (bench_now() - t0) / batch;
        CK(cuStreamSynchronize(s));
    }
    printf("launch_issue_us %.3f us\n", bench_median(t, batches) * 1e6);
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_now();
        for (int i = 0; i < e2e_n; i++)
            CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, NULL, NULL));
        CK(cuStreamSynchronize(s));
        t[rep] = (bench_now() - t0) / e2e_n;
    }
    printf("launch_e2e_us %.3f us\n", bench_median(t, 5) * 1e6);

    CUdeviceptr d;
    size_t big = quick ? 64u << 20 : 256u << 20;
    CK(cuMemAlloc(&d, big));
    CK(cuMemsetD8(d, 0, big));
    /* Warm-up, not timed: 8 MiB each way. Through rgpu over shm it touches
     * every page of both rings once; until then a page first touched by a
     * message costs a fault on each side, and a thousand 4 KiB copies ran at a
     * third of their later speed. */
    unsigned char *warm = malloc(8u << 20);
    if (!warm)
        return 1;
    memset(warm, 0, 8u << 20);
    CK(cuMemcpyHtoD(d, warm, 8u << 20));
    CK(cuMemcpyDtoH(warm, d, 8u << 20));
    free(warm);
    unsigned word;
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        CK(cuMemcpyDtoHAsync(&word, d, sizeof word, s));
        CK(cuStreamSynchronize(s));
        t[i] = bench_now() - t0;
    }
    printf("dtoh4_sync_us %.2f us\n", bench_median(t, reps) * 1e6);
    unsigned char input[512];
    memset(input, 3, sizeof input);
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        input[0] = (unsigned char)i;
        CK(cuMemcpyHtoDAsync(d, input, sizeof input, CU_STREAM_PER_THREAD));
        CK(cuStreamSynchronize(CU_STREAM_PER_THREAD));
        t[i] = bench_now() - t0;
    }
    printf("htod512_sync_us %.2f us\n", bench_median(t, reps) * 1e6);
    /* an argument error of an asynchronous call, right after a queued one */
    CUresult refused = CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; i < reps && refused == CUDA_ERROR_INVALID_VALUE; i++) {
        CK(cuMemsetD8Async(d, 0, 64, s));
        double t0 = bench_now();
        refused = cuMemsetD8Async(d + big - 8, 0, 64, s);
        t[i] = bench_now() - t0;
    }
    if (refused == CUDA_ERROR_INVALID_VALUE) {
        CK(cuStreamSynchronize(s));
        printf("async_refused_us %.2f us\n", bench_median(t, reps) * 1e6);
    } else {
        printf("async_refused_us: not refused when called (CUresult %d; synchronisation: %d)\n", (int)refused,
               (int)cuStreamSynchronize(s));
    }

    unsigned char *pageable = malloc(big), *pinned;
    if (!pageable)
        return 1;
    memset(pageable, 1, big);
    CK(cuMemAllocHost((void **)&pinned, big));
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        CK(cuMemcpyDtoHAsync(pinned, d, sizeof word, s));
        CK(cuStreamSynchronize(s));
        t[i] = bench_now() - t0;
    }
    printf("dtoh4_pinned_sync_us %.2f us\n", bench_median(t, reps) * 1e6);
    memset(pinned, 2, big);
    size_t sizes[] = {4u << 10, 1u << 20, 64u << 20, 256u << 20};
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        if (n > big)
            break;
        int nrep = n >= (64u << 20) ? 5 : 30;
        for (int dir = 0; dir < 2; dir++)
            for (int pin = 0; pin < 2; pin++) {
                unsigned char *h = pin ? pinned : pageable;
                for (int i = 0; i <= nrep; i++) { /* the first is a warm-up */
                    double t0 = bench_now();
                    if (dir == 0)
                        CK(cuMemcpyHtoD(d, h, n));
                    else
                        CK(cuMemcpyDtoH(h, d, n));
                    if (i)
                        t[i - 1] = bench_now() - t0;
                }
                double mbps = (double)n / bench_median(t, nrep) / 1e6;
                char size[16];
                if (n >= (1u << 20))
                    snprintf(size, sizeof size, "%zuMiB", n >> 20);
                else
                    snprintf(size, sizeof size, "%zuKiB", n >> 10);
                printf("%s_%s_%s_MBps %.0f MB/s\n", dir ? "dtoh" : "htod", size, pin ? "pinned" : "pageable", mbps);
            }
    }
    CK(cuMemFreeHost(pinned));
    free(pageable);
    CK(cuMemFree(d));
    with_functions(1000, reps, t);
    CK(cuStreamDestroy(s));
    CK(cuModuleUnload(m));
    CK(cuDevicePrimaryCtxRelease(dev));
    return 0;
}
