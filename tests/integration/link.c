/*
 * link.c — cuLink* with several inputs: relocatable device code compiled by
 * NVRTC (-rdc=true) and linked at run time by the server's backend.
 *
 * Covers: a kernel in one PTX module calling a __device__ function and
 * reading __device__ variables defined in another (both with printf, so both
 * define the internal `$str`), linked, loaded and launched, checked on the
 * host; cuModuleGetGlobal on a variable of the second module; the error and
 * info logs and their sizes; an unresolved reference and a duplicate
 * definition failing at cuLinkComplete with a log naming the symbol; a
 * fatbin input (its PTX) next to PTX inputs; a fatbin with only a cubin;
 * cuLinkAddFile of a .ptx file; a link of no input.
 *
 * Usage: link KERNEL_DIR
 */
#include "check.h"
#include "it_images.h"

#include <nvrtc.h>
#include <unistd.h>

static const char *src_kernel =
    "extern __device__ int bias;\n"
    "extern __device__ float table[4];\n"
    "__device__ int add_bias(int x);\n"
    "extern \"C\" __global__ void lk_kernel(int *out, int n)\n"
    "{\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i == 0) printf(\"lk_kernel: n=%d\\n\", n);\n"
    "    if (i < n) out[i] = add_bias(i) + (int)table[i & 3];\n"
    "}\n";

static const char *src_lib =
    "__device__ int bias = 7;\n"
    "__device__ float table[4] = {10, 20, 30, 40};\n"
    "__device__ int add_bias(int x)\n"
    "{\n"
    "    if (x == 1) printf(\"add_bias: bias=%d\\n\", bias);\n"
    "    return x * 3 + bias;\n"
    "}\n";

static char *compile(const char *src, const char *name)
{
    nvrtcProgram prog;
    if (nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL) != NVRTC_SUCCESS) {
        fprintf(stderr, "FAIL: nvrtcCreateProgram\n");
        exit(1);
    }
    const char *opts[] = {"--gpu-architecture=compute_75", "-rdc=true"};
    nvrtcResult cr = nvrtcCompileProgram(prog, 2, opts);
    size_t n = 0;
    if (cr != NVRTC_SUCCESS) {
        nvrtcGetProgramLogSize(prog, &n);
        char *log = it_xmalloc(n + 1);
        nvrtcGetProgramLog(prog, log);
        log[n] = 0;
        fprintf(stderr, "FAIL: nvrtcCompileProgram(%s): %s\n%s\n", name, nvrtcGetErrorString(cr), log);
        exit(1);
    }
    nvrtcGetPTXSize(prog, &n);
    char *ptx = it_xmalloc(n + 1);
    nvrtcGetPTX(prog, ptx);
    ptx[n] = 0;
    nvrtcDestroyProgram(&prog);
    return ptx;
}

static void run_linked(const void *image, const char *what)
{
    CUmodule m;
    CUfunction f;
    CHECK(cuModuleLoadData(&m, image));
    CHECK(cuModuleGetFunction(&f, m, "lk_kernel"));
    enum { N = 200 };
    int out[N], n = N;
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, sizeof out));
    CHECK(cuMemsetD8(d, 0, sizeof out));
    void *args[] = {&d, &n};
    CHECK(cuLaunchKernel(f, (N + 63) / 64, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(out, d, sizeof out));
    static const int table[4] = {10, 20, 30, 40};
    for (int i = 0; i < N; i++)
        if (out[i] != i * 3 + 7 + table[i & 3]) {
            it_fail(__FILE__, __LINE__, "%s: out[%d] = %d, expected %d", what, i, out[i], i * 3 + 7 + table[i & 3]);
            break;
        }
    /* a variable of the second module, through the linked one */
    CUdeviceptr g;
    size_t gsize = 0;
    int bias = 0;
    CHECK(cuModuleGetGlobal(&g, &gsize, m, "bias"));
    EXPECT_TRUE(gsize == sizeof(int));
    CHECK(cuMemcpyDtoH(&bias, g, sizeof bias));
    EXPECT_TRUE(bias == 7);
    CHECK(cuMemFree(d));
    CHECK(cuModuleUnload(m));
}

/* Link the inputs; returns the result of cuLinkComplete, the error log in elog. */
static CUresult link_ptx(const char *const *ptx, int n, char *elog, size_t ecap, void (*extra)(CUlinkState),
                         int run)
{
    CUlinkState ls;
    char ilog[1024];
    CUjit_option o[4] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_INFO_LOG_BUFFER,
                         CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
    void *v[4] = {elog, (void *)(uintptr_t)ecap, ilog, (void *)(uintptr_t)sizeof ilog};
    memset(elog, 'X', ecap);
    CHECK(cuLinkCreate(4, o, v, &ls));
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "input%d.ptx", i);
        CHECK(cuLinkAddData(ls, CU_JIT_INPUT_PTX, (void *)ptx[i], strlen(ptx[i]) + 1, name, 0, NULL, NULL));
    }
    if (extra)
        extra(ls);
    void *image = NULL;
    size_t size = 0;
    CUresult r = cuLinkComplete(ls, &image, &size);
    /* the logs are strings, their sizes written back */
    EXPECT_TRUE(memchr(elog, 0, ecap) != NULL);
    EXPECT_TRUE((size_t)(uintptr_t)v[1] <= ecap);
    if (r == CUDA_SUCCESS) {
        EXPECT_TRUE(image != NULL && size > 0);
        if (run)
            run_linked(image, "linked PTX");
    }
    CHECK(cuLinkDestroy(ls));
    return r;
}

static const char *kdir;
static char *lib_ptx;

static void add_fatbin(CUlinkState ls)
{
    struct it_image img;
    it_image_load(&img, kdir, "it_kernels.fatbin");
    CHECK(cuLinkAddData(ls, CU_JIT_INPUT_FATBINARY, img.data, img.len, "it_kernels.fatbin", 0, NULL, NULL));
    it_image_free(&img);
}

static void add_cubin_only(CUlinkState ls)
{
    struct it_image img;
    it_image_load(&img, kdir, "it_kernels.sm_90.fatbin");
    CHECK(cuLinkAddData(ls, CU_JIT_INPUT_FATBINARY, img.data, img.len, "sm_90.fatbin", 0, NULL, NULL));
    it_image_free(&img);
}

static char ptx_path[256];
static void add_file(CUlinkState ls)
{
    CHECK(cuLinkAddFile(ls, CU_JIT_INPUT_PTX, ptx_path, 0, NULL, NULL));
}

int main(int argc, char **argv)
{
    kdir = it_kernel_dir(argc, argv);
    char *kernel_ptx = compile(src_kernel, "lk_kernel.cu");
    lib_ptx = compile(src_lib, "lk_lib.cu");
    ASSERT_TRUE(strstr(kernel_ptx, ".extern .global") != NULL); /* really relocatable */

    CUdevice dev;
    CUcontext ctx;
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    const char *backend = getenv("RGPU_TEST_BACKEND");
    int cpu = backend && strcmp(backend, "cpu") == 0;

    char elog[1024];
    /* the two modules, in both orders */
    const char *both[] = {kernel_ptx, lib_ptx};
    CHECK(link_ptx(both, 2, elog, sizeof elog, NULL, 1));
    const char *rev[] = {lib_ptx, kernel_ptx};
    CHECK(link_ptx(rev, 2, elog, sizeof elog, NULL, 1));

    /* the kernel alone: add_bias, bias and table are undefined */
    const char *alone[] = {kernel_ptx};
    CUresult r = link_ptx(alone, 1, elog, sizeof elog, NULL, 0);
    EXPECT_TRUE(r != CUDA_SUCCESS);
    if (cpu)
        EXPECT_TRUE(r == CUDA_ERROR_INVALID_PTX); /* rgpu's choice; the driver's code is unverified */
    EXPECT_TRUE(strstr(elog, "add_bias") != NULL);
    if (cpu)
        EXPECT_TRUE(strstr(elog, "Undefined reference") != NULL && strstr(elog, "input0.ptx") != NULL);

    /* a definition given twice */
    const char *twice[] = {kernel_ptx, lib_ptx, lib_ptx};
    r = link_ptx(twice, 3, elog, sizeof elog, NULL, 0);
    EXPECT_TRUE(r != CUDA_SUCCESS);
    if (cpu)
        EXPECT_TRUE(strstr(elog, "Multiple definition") != NULL && strstr(elog, "bias") != NULL);

    /* a fatbin's PTX next to the two modules: its kernels are in the result */
    CHECK(link_ptx(both, 2, elog, sizeof elog, add_fatbin, 1));
    {
        CUlinkState ls;
        void *image;
        size_t size;
        CUmodule m;
        CUfunction f;
        CHECK(cuLinkCreate(0, NULL, NULL, &ls));
        add_fatbin(ls);
        CHECK(cuLinkAddData(ls, CU_JIT_INPUT_PTX, kernel_ptx, strlen(kernel_ptx) + 1, "k.ptx", 0, NULL, NULL));
        CHECK(cuLinkAddData(ls, CU_JIT_INPUT_PTX, lib_ptx, strlen(lib_ptx), "lib.ptx", 0, NULL, NULL)); /* no NUL */
        CHECK(cuLinkComplete(ls, &image, &size));
        CHECK(cuModuleLoadData(&m, image));
        CHECK(cuModuleGetFunction(&f, m, "saxpy"));
        CHECK(cuModuleGetFunction(&f, m, "lk_kernel"));
        CHECK(cuModuleUnload(m));
        CHECK(cuLinkDestroy(ls));
    }
    /* a fatbin with only an sm_90 cubin: nothing the CPU device runs */
    r = link_ptx(both, 2, elog, sizeof elog, add_cubin_only, 0);
    if (cpu)
        EXPECT_RESULT(r, CUDA_ERROR_NO_BINARY_FOR_GPU);

    /* cuLinkAddFile of a .ptx file */
    snprintf(ptx_path, sizeof ptx_path, "/tmp/rgpu-it-link-%d.ptx", (int)getpid());
    FILE *f = fopen(ptx_path, "w");
    ASSERT_TRUE(f != NULL);
    fputs(lib_ptx, f);
    fclose(f);
    CHECK(link_ptx(alone, 1, elog, sizeof elog, add_file, 1));
    unlink(ptx_path);
    EXPECT_RESULT(cuLinkAddFile(NULL, CU_JIT_INPUT_PTX, "/nonexistent.ptx", 0, NULL, NULL), CUDA_ERROR_FILE_NOT_FOUND);

    /* nothing to link; bad handles */
    CUlinkState ls;
    void *image;
    size_t size;
    CHECK(cuLinkCreate(0, NULL, NULL, &ls));
    EXPECT_RESULT(cuLinkComplete(ls, &image, &size), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLinkAddData(ls, CU_JIT_INPUT_PTX, NULL, 10, "x", 0, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuLinkDestroy(ls));
    EXPECT_RESULT(cuLinkDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);

    free(kernel_ptx);
    free(lib_ptx);
    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    TEST_DONE();
}
