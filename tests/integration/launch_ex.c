/*
 * launch_ex.c — cuLaunchKernelEx: attributes the CPU device honours run the
 * kernel (checked on the host), attributes it cannot honour fail at call
 * time, attributes rgpu cannot carry yet (event handles) are refused, and
 * nothing of that sticks to the context.
 */
#include "check.h"

#include <string.h>

static const char *ptx = ".version 7.0\n.target sm_75\n.address_size 64\n"
                         ".visible .entry k(.param .u64 p, .param .u32 v)\n{\n"
                         "  .reg .b64 %rd<4>;\n  .reg .b32 %r<4>;\n"
                         "  ld.param.u64 %rd1, [p];\n  ld.param.u32 %r1, [v];\n"
                         "  cvta.to.global.u64 %rd2, %rd1;\n  mov.u32 %r2, %tid.x;\n"
                         "  mov.u32 %r3, %ctaid.x;\n  mad.lo.s32 %r2, %r3, 64, %r2;\n"
                         "  mul.wide.u32 %rd3, %r2, 4;\n  add.s64 %rd2, %rd2, %rd3;\n"
                         "  add.s32 %r3, %r1, %r2;\n  st.global.u32 [%rd2], %r3;\n  ret;\n}\n";

static size_t CUDA_CB smem_per_block(int block) { return (size_t)block * 16; }

static void run_and_check(CUfunction f, CUdeviceptr d, CUlaunchAttribute *at, unsigned n, const char *what)
{
    unsigned v = 1000;
    void *args[] = {&d, &v};
    int h[128];
    CHECK(cuMemsetD8(d, 0, sizeof h));
    CUlaunchConfig cfg = {2, 1, 1, 64, 1, 1, 0, NULL, at, n};
    CHECK(cuLaunchKernelEx(&cfg, f, args, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(h, d, sizeof h));
    for (int i = 0; i < 128; i++)
        if (h[i] != 1000 + i) {
            it_fail(__FILE__, __LINE__, "%s: element %d is %d, expected %d", what, i, h[i], 1000 + i);
            return;
        }
}

int main(void)
{
    CUcontext c;
    CUmodule m;
    CUfunction f;
    CUdeviceptr d;
    CHECK(cuInit(0));
    CHECK(cuCtxCreate(&c, NULL, 0, 0));
    CHECK(cuModuleLoadData(&m, ptx));
    CHECK(cuModuleGetFunction(&f, m, "k"));
    CHECK(cuMemAlloc(&d, 128 * sizeof(int)));

    run_and_check(f, d, NULL, 0, "no attributes");

    CUlaunchAttribute at[4];
    memset(at, 0, sizeof at);
    at[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    at[0].value.clusterDim.x = 2;
    at[0].value.clusterDim.y = 1;
    at[0].value.clusterDim.z = 1;
    at[1].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    at[1].value.programmaticStreamSerializationAllowed = 1;
    at[2].id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
    at[2].value.priority = -1;
    at[3].id = CU_LAUNCH_ATTRIBUTE_IGNORE;
    run_and_check(f, d, at, 4, "cluster 2x1x1, programmatic serialisation, priority");

    /* a cooperative launch where the device can (driver.coop tests grid-wide
     * sync); where it cannot, it fails at call time */
    int coop = -1;
    CHECK(cuDeviceGetAttribute(&coop, CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, 0));
    memset(at, 0, sizeof at);
    at[0].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    at[0].value.cooperative = 1;
    unsigned v = 1;
    void *args[] = {&d, &v};
    CUlaunchConfig cfg = {2, 1, 1, 64, 1, 1, 0, NULL, at, 1};
    if (coop == 0)
        EXPECT_RESULT(cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_NOT_SUPPORTED);
    else
        run_and_check(f, d, at, 1, "cooperative");

    /* event-bearing attributes are not carried yet: refused, not dropped */
    at[0].id = CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT;
    EXPECT_RESULT(cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_NOT_SUPPORTED);
    /* bad configurations fail at call time */
    cfg.numAttrs = 0;
    cfg.blockDimX = 2048;
    EXPECT_RESULT(cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLaunchKernelEx(NULL, f, args, NULL), CUDA_ERROR_INVALID_VALUE);
    /* and none of it stuck to the context */
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
    run_and_check(f, d, NULL, 0, "after refused launches");

    /* the occupancy calculator's block size search, with and without a
     * per-block-size dynamic shared memory callback */
    int min_grid = -1, block = -1;
    CHECK(cuOccupancyMaxPotentialBlockSize(&min_grid, &block, f, NULL, 0, 0));
    EXPECT_TRUE(block > 0 && block <= 1024 && block % 32 == 0);
    EXPECT_TRUE(min_grid > 0);
    int nb = 0;
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, f, block, 0));
    EXPECT_TRUE(nb >= 1);
    CHECK(cuOccupancyMaxPotentialBlockSize(&min_grid, &block, f, smem_per_block, 0, 96));
    EXPECT_TRUE(block > 0 && block <= 96);
    EXPECT_RESULT(cuOccupancyMaxPotentialBlockSize(NULL, &block, f, NULL, 0, 0), CUDA_ERROR_INVALID_VALUE);

    /* cuLink with one PTX input gives an image that loads and runs (several
     * inputs: link.c) */
    CUlinkState ls;
    char log[64] = "x";
    CUjit_option lo[2] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
    void *lv[2] = {log, (void *)(uintptr_t)sizeof log};
    CHECK(cuLinkCreate(2, lo, lv, &ls));
    CHECK(cuLinkAddData(ls, CU_JIT_INPUT_PTX, (void *)ptx, strlen(ptx) + 1, "k.ptx", 0, NULL, NULL));
    void *image = NULL;
    size_t image_size = 0;
    CHECK(cuLinkComplete(ls, &image, &image_size));
    EXPECT_TRUE(image != NULL && image_size > 0);
    CUmodule lm;
    CUfunction lf;
    CHECK(cuModuleLoadData(&lm, image));
    CHECK(cuLinkDestroy(ls));
    CHECK(cuModuleGetFunction(&lf, lm, "k"));
    run_and_check(lf, d, NULL, 0, "a linked module");
    CHECK(cuModuleUnload(lm));

    CHECK(cuMemFree(d));
    CHECK(cuModuleUnload(m));
    CHECK(cuCtxDestroy(c));
    TEST_DONE();
}
