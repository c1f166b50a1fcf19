/*
 * nvrtc.c — run-time compilation with NVRTC (on the client, no GPU needed),
 * then loading and launching the PTX through rgpu.
 *
 * Covers: nvrtcCreateProgram/nvrtcCompileProgram with
 * --gpu-architecture=compute_75, nvrtcGetPTX, cuModuleLoadData and
 * cuModuleLoadDataEx on the result, an extern "C" kernel and a template
 * kernel looked up by its lowered (mangled) name (nvrtcGetLoweredName),
 * cuFuncGetName giving that mangled name, launches checked on the host.
 *
 * Usage: nvrtc [KERNEL_DIR] (unused; accepted like the other programs).
 */
#include "check.h"

#include <nvrtc.h>

#define NVRTC_CHECK(call)                                                                                          \
    do {                                                                                                           \
        nvrtcResult nr_ = (call);                                                                                  \
        if (nr_ != NVRTC_SUCCESS) {                                                                                \
            it_fail(__FILE__, __LINE__, "%s: %s", #call, nvrtcGetErrorString(nr_));                                \
            IT_ABORT();                                                                                            \
        }                                                                                                          \
    } while (0)

static const char *source =
    "extern \"C\" __global__ void rt_axpb(float *x, float a, float b, int n)\n"
    "{\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i < n)\n"
    "        x[i] = a * x[i] + b;\n"
    "}\n"
    "\n"
    "template <typename T> __global__ void rt_scale(T *x, T s, int n)\n"
    "{\n"
    "    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)\n"
    "        x[i] *= s;\n"
    "}\n";

int main(void)
{
    /* compile first: NVRTC needs no device */
    nvrtcProgram prog;
    NVRTC_CHECK(nvrtcCreateProgram(&prog, source, "rt_kernels.cu", 0, NULL, NULL));
    NVRTC_CHECK(nvrtcAddNameExpression(prog, "rt_scale<int>"));
    const char *opts[] = {"--gpu-architecture=compute_75"};
    nvrtcResult cr = nvrtcCompileProgram(prog, 1, opts);
    if (cr != NVRTC_SUCCESS) {
        size_t n = 0;
        nvrtcGetProgramLogSize(prog, &n);
        char *log = it_xmalloc(n + 1);
        nvrtcGetProgramLog(prog, log);
        log[n] = 0;
        fprintf(stderr, "FAIL: nvrtcCompileProgram: %s\n%s\n", nvrtcGetErrorString(cr), log);
        return 1;
    }
    size_t ptx_size = 0;
    NVRTC_CHECK(nvrtcGetPTXSize(prog, &ptx_size));
    char *ptx = it_xmalloc(ptx_size + 1);
    NVRTC_CHECK(nvrtcGetPTX(prog, ptx));
    ptx[ptx_size] = 0;
    ASSERT_TRUE(strstr(ptx, ".target sm_75") != NULL);
    const char *lowered_tmp = NULL;
    NVRTC_CHECK(nvrtcGetLoweredName(prog, "rt_scale<int>", &lowered_tmp));
    char lowered[256];
    snprintf(lowered, sizeof lowered, "%s", lowered_tmp);
    NVRTC_CHECK(nvrtcDestroyProgram(&prog));

    CUdevice dev;
    CUcontext ctx;
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));

    CUmodule m;
    CHECK(cuModuleLoadData(&m, ptx));

    /* extern "C" kernel */
    enum { N = 1000 };
    float x[N], out[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 50);
    float a = 3.0f, b = -0.5f;
    int n = N;
    CUdeviceptr dx;
    CHECK(cuMemAlloc(&dx, sizeof x));
    CHECK(cuMemcpyHtoD(dx, x, sizeof x));
    CUfunction f;
    CHECK(cuModuleGetFunction(&f, m, "rt_axpb"));
    void *args[] = {&dx, &a, &b, &n};
    CHECK(cuLaunchKernel(f, (N + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(out, dx, sizeof out));
    for (int i = 0; i < N; i++)
        if (out[i] != a * x[i] + b) {
            it_fail(__FILE__, __LINE__, "rt_axpb: x[%d] = %g, expected %g", i, (double)out[i], (double)(a * x[i] + b));
            break;
        }

    /* template kernel by its mangled name; a grid-stride loop over more
     * elements than threads */
    CUfunction g;
    CHECK(cuModuleGetFunction(&g, m, lowered));
    const char *name = NULL;
    CHECK(cuFuncGetName(&name, g));
    EXPECT_STREQ(name, lowered);
    EXPECT_RESULT(cuModuleGetFunction(&g, m, "rt_scale"), CUDA_ERROR_NOT_FOUND); /* the unmangled name */
    CHECK(cuModuleGetFunction(&g, m, lowered));
    int xi[N], oi[N], s = -3;
    for (int i = 0; i < N; i++)
        xi[i] = i - 400;
    CUdeviceptr dxi;
    CHECK(cuMemAlloc(&dxi, sizeof xi));
    CHECK(cuMemcpyHtoD(dxi, xi, sizeof xi));
    void *gargs[] = {&dxi, &s, &n};
    CHECK(cuLaunchKernel(g, 3, 1, 1, 64, 1, 1, 0, NULL, gargs, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(oi, dxi, sizeof oi));
    for (int i = 0; i < N; i++)
        if (oi[i] != xi[i] * s) {
            it_fail(__FILE__, __LINE__, "%s: x[%d] = %d, expected %d", lowered, i, oi[i], xi[i] * s);
            break;
        }
    CHECK(cuModuleUnload(m));

    /* the same PTX through cuModuleLoadDataEx with a log buffer */
    char info[128];
    memset(info, 'X', sizeof info);
    CUjit_option jo[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
    void *jv[] = {info, (void *)(uintptr_t)sizeof info};
    CHECK(cuModuleLoadDataEx(&m, ptx, 2, jo, jv));
    EXPECT_TRUE(memchr(info, 0, sizeof info) != NULL);
    CHECK(cuModuleGetFunction(&f, m, "rt_axpb"));
    CHECK(cuMemcpyHtoD(dx, x, sizeof x));
    CHECK(cuLaunchKernel(f, (N + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(out, dx, sizeof out));
    for (int i = 0; i < N; i++)
        if (out[i] != a * x[i] + b) {
            it_fail(__FILE__, __LINE__, "rt_axpb (LoadDataEx): x[%d] = %g, expected %g", i, (double)out[i],
                    (double)(a * x[i] + b));
            break;
        }
    CHECK(cuModuleUnload(m));

    CHECK(cuMemFree(dx));
    CHECK(cuMemFree(dxi));
    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    free(ptx);
    TEST_DONE();
}
