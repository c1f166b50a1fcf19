/*
 * coop.c — cuLaunchCooperativeKernel (and cuLaunchKernelEx with
 * CU_LAUNCH_ATTRIBUTE_COOPERATIVE) through rgpud: the device says it can, a
 * grid as large as the occupancy allows (far more blocks than the CPU
 * device's host threads) synchronises grid-wide several times, a stream and
 * the per-thread stream work, one block too many fails at call time with
 * COOPERATIVE_LAUNCH_TOO_LARGE and leaves nothing behind, and the size
 * check follows the block size and shared memory asked.
 * Kernel: kernels/it_coop.cu (compute_75 PTX).
 */
#include "it_images.h"

#include <string.h>

/* the per-thread-stream entry point, which cuda.h declares only under
 * CUDA_API_PER_THREAD_DEFAULT_STREAM (in place of the plain one) */
CUresult CUDAAPI cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                                unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                                unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                                void **kernelParams);

static CUfunction f;
static CUdeviceptr vals, out;

static void check_exchange(unsigned nb, int rounds, const char *what)
{
    int *h = it_xmalloc(sizeof(int) * nb * (size_t)rounds);
    CHECK(cuMemcpyDtoH(h, out, sizeof(int) * nb * (size_t)rounds));
    for (int r = 0; r < rounds; r++)
        for (unsigned b = 0; b < nb; b++) {
            int want = (int)(7u * nb * (nb - 1) / 2 + nb * (unsigned)r);
            if (h[(unsigned)r * nb + b] != want) {
                it_fail(__FILE__, __LINE__, "%s: round %d block %u saw %d, want %d", what, r, b,
                        h[(unsigned)r * nb + b], want);
                free(h);
                return;
            }
        }
    free(h);
}

int main(int argc, char **argv)
{
    const char *dir = it_kernel_dir(argc, argv);
    CUcontext c;
    CUmodule m;
    CHECK(cuInit(0));
    CHECK(cuCtxCreate(&c, NULL, 0, 0));
    int coop = -1, sms = 0;
    CHECK(cuDeviceGetAttribute(&coop, CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, 0));
    EXPECT_EQ(coop, 1);
    CHECK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
    struct it_image img;
    it_image_load(&img, dir, "it_coop.compute_75.ptx");
    CHECK(cuModuleLoadData(&m, img.data));
    it_image_free(&img);
    CHECK(cuModuleGetFunction(&f, m, "exchange"));

    const unsigned block = 64;
    int per_sm = 0;
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, (int)block, 0));
    ASSERT_TRUE(per_sm > 0 && sms > 0);
    unsigned nb = (unsigned)per_sm * (unsigned)sms; /* the largest cooperative grid */
    fprintf(stderr, "-- %u blocks (%d per SM, %d SMs)\n", nb, per_sm, sms);
    int rounds = 3;
    CHECK(cuMemAlloc(&vals, sizeof(int) * nb));
    CHECK(cuMemAlloc(&out, sizeof(int) * nb * (size_t)rounds));
    void *args[] = {&vals, &out, &rounds};

    /* the whole grid, twice */
    for (int k = 0; k < 2; k++) {
        CHECK(cuMemsetD8(out, 0, sizeof(int) * nb * (size_t)rounds));
        CHECK(cuLaunchCooperativeKernel(f, nb, 1, 1, block, 1, 1, 0, NULL, args));
        CHECK(cuCtxSynchronize());
        check_exchange(nb, rounds, "cuLaunchCooperativeKernel, null stream");
    }
    /* a 2-D grid on a stream, and the per-thread default stream */
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuMemsetD8Async(out, 0, sizeof(int) * nb * (size_t)rounds, s));
    CHECK(cuLaunchCooperativeKernel(f, nb / 2, 2, 1, block, 1, 1, 0, s, args));
    CHECK(cuStreamSynchronize(s));
    check_exchange(nb / 2 * 2, rounds, "cuLaunchCooperativeKernel, 2-D grid on a stream");
    CHECK(cuMemsetD8(out, 0, sizeof(int) * nb * (size_t)rounds));
    CHECK(cuLaunchCooperativeKernel_ptsz(f, nb, 1, 1, block, 1, 1, 0, NULL, args));
    CHECK(cuStreamSynchronize(CU_STREAM_PER_THREAD));
    check_exchange(nb, rounds, "cuLaunchCooperativeKernel_ptsz");
    /* cuLaunchKernelEx with the attribute is the same launch */
    CUlaunchAttribute at;
    memset(&at, 0, sizeof at);
    at.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    at.value.cooperative = 1;
    CUlaunchConfig cfg = {nb, 1, 1, block, 1, 1, 0, s, &at, 1};
    CHECK(cuMemsetD8(out, 0, sizeof(int) * nb * (size_t)rounds));
    CHECK(cuLaunchKernelEx(&cfg, f, args, NULL));
    CHECK(cuStreamSynchronize(s));
    check_exchange(nb, rounds, "cuLaunchKernelEx, cooperative attribute");

    /* one block too many: refused when called, nothing latched */
    EXPECT_RESULT(cuLaunchCooperativeKernel(f, nb + 1, 1, 1, block, 1, 1, 0, NULL, args),
                  CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    EXPECT_RESULT(cuLaunchCooperativeKernel(f, nb, 2, 1, block, 1, 1, 0, NULL, args),
                  CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    cfg.gridDimX = nb + 1;
    EXPECT_RESULT(cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    /* ... but the same grid is fine as an ordinary launch (it just must not sync) */
    at.value.cooperative = 0;
    EXPECT_RESULT(cuLaunchKernelEx(&cfg, f, (void *[]){&vals, &out, &(int){0}}, NULL), CUDA_SUCCESS);
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);

    /* the limit follows the configuration: bigger blocks fit fewer times */
    int per_sm_big = 0;
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm_big, f, 1024, 0));
    EXPECT_LT(per_sm_big, per_sm);
    unsigned nb_big = (unsigned)per_sm_big * (unsigned)sms;
    EXPECT_RESULT(cuLaunchCooperativeKernel(f, nb_big + 1, 1, 1, 1024, 1, 1, 0, NULL, args),
                  CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    if (nb_big >= 2) {
        CHECK(cuMemsetD8(out, 0, sizeof(int) * nb * (size_t)rounds));
        CHECK(cuLaunchCooperativeKernel(f, nb_big, 1, 1, 1024, 1, 1, 0, NULL, args));
        CHECK(cuCtxSynchronize());
        check_exchange(nb_big, rounds, "1024-thread blocks");
    }
    /* bad input as for any launch */
    EXPECT_RESULT(cuLaunchCooperativeKernel(f, 0, 1, 1, block, 1, 1, 0, NULL, args), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLaunchCooperativeKernel(NULL, 1, 1, 1, block, 1, 1, 0, NULL, args), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);

    CHECK(cuStreamDestroy(s));
    CHECK(cuMemFree(vals));
    CHECK(cuMemFree(out));
    CHECK(cuModuleUnload(m));
    CHECK(cuCtxDestroy(c));
    TEST_DONE();
}
