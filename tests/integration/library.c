/*
 * library.c — libraries and kernels (CUlibrary / CUkernel) through rgpu, as
 * cudart uses them.
 *
 * Covers: cuLibraryLoadData with the fatbin (and JIT log options) and with
 * PTX text, cuLibraryLoadFromFile, a fatbin with only an sm_90 cubin
 * (CUDA_ERROR_NO_BINARY_FOR_GPU at load or at first use), garbage;
 * cuLibraryGetKernel (unknown name: NOT_FOUND) and launching the CUkernel
 * cast to a CUfunction with cuLaunchKernel (what cudart does), also with
 * `extra`; cuKernelGetFunction (same results, same module as
 * cuLibraryGetModule), cuLibraryGetModule + cuModuleGetFunction;
 * cuLibraryGetGlobal twice (same address and size; the address
 * cuModuleGetGlobal gives on the library's module; HtoD then a kernel reads
 * it); cuLibraryGetKernelCount/EnumerateKernels; cuKernelGetName,
 * cuKernelGetAttribute/SetAttribute (a raised dynamic shared limit holds
 * for a launch through the CUkernel handle), cuKernelGetParamInfo,
 * cuKernelSetCacheConfig; the same library used from a second context (its
 * own globals there); cuLibraryUnload, after which the handles give errors.
 *
 * Usage: library KERNEL_DIR (see it_images.h).
 */
#include "check.h"
#include "rgpu_client.h"
#include "it_images.h"
#include "kernels/it_kernels.h"

#include <dlfcn.h>

static CUdevice dev;
static int dev_cc;
static struct it_image ptx75, fatbin, fatbin90;

static const char *const kernel_names[] = {"vec_add",     "saxpy", "all_kinds",    "use_globals",
                                           "double_init", "ping",  "block_reduce", "shared_reverse",
                                           "write_oob",   "bounded", "index_map"};
#define NKERNELS ((int)(sizeof kernel_names / sizeof kernel_names[0]))

static CUkernel get_kernel(CUlibrary lib, const char *name)
{
    CUkernel k = NULL;
    CUresult r = cuLibraryGetKernel(&k, lib, name);
    if (r != CUDA_SUCCESS || !k) {
        it_fail(__FILE__, __LINE__, "cuLibraryGetKernel(\"%s\"): got %s (%d)", name, it_errname(r), (int)r);
        IT_ABORT();
    }
    return k;
}

static int kernel_attr(CUkernel k, CUfunction_attribute a)
{
    int v = -12345;
    CHECK(cuKernelGetAttribute(&v, a, k, dev));
    return v;
}

/* vec_add through f (a CUfunction, or a CUkernel cast to one) */
static void run_vec_add(CUfunction f, CUstream s, int n, int use_extra, const char *what)
{
    size_t bytes = (size_t)n * sizeof(float);
    float *a = it_xmalloc(bytes), *b = it_xmalloc(bytes), *c = it_xmalloc(bytes);
    CUdeviceptr da, db, dc;
    for (int i = 0; i < n; i++) {
        a[i] = (float)i * 0.75f;
        b[i] = (float)(n - i);
    }
    CHECK(cuMemAlloc(&da, bytes));
    CHECK(cuMemAlloc(&db, bytes));
    CHECK(cuMemAlloc(&dc, bytes));
    CHECK(cuMemcpyHtoD(da, a, bytes));
    CHECK(cuMemcpyHtoD(db, b, bytes));
    CHECK(cuMemsetD32(dc, 0, (size_t)n));
    unsigned grid = (unsigned)(n + 127) / 128;
    if (use_extra) {
        struct vec_add_params {
            CUdeviceptr a, b, c;
            int n;
        } P = {da, db, dc, n};
        size_t size = offsetof(struct vec_add_params, n) + sizeof(int);
        void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &P, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
        CHECK(cuLaunchKernel(f, grid, 1, 1, 128, 1, 1, 0, s, NULL, extra));
    } else {
        void *args[] = {&da, &db, &dc, &n};
        CHECK(cuLaunchKernel(f, grid, 1, 1, 128, 1, 1, 0, s, args, NULL));
    }
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(c, dc, bytes));
    for (int i = 0; i < n; i++)
        if (c[i] != a[i] + b[i]) {
            it_fail(__FILE__, __LINE__, "%s: vec_add c[%d] = %g, expected %g", what, i, (double)c[i],
                    (double)(a[i] + b[i]));
            break;
        }
    CHECK(cuMemFree(da));
    CHECK(cuMemFree(db));
    CHECK(cuMemFree(dc));
    free(a);
    free(b);
    free(c);
}

/* use_globals through the library's variables, in the current context;
 * dev_init holds init[] */
static void run_use_globals(CUlibrary lib, const int init[IT_DEV_INIT_LEN], int table_base, const char *what)
{
    CUdeviceptr g_table, g_scale;
    CHECK(cuLibraryGetGlobal(&g_table, NULL, lib, "const_table"));
    CHECK(cuLibraryGetGlobal(&g_scale, NULL, lib, "dev_scale"));
    int table[IT_CONST_TABLE_LEN];
    for (int i = 0; i < IT_CONST_TABLE_LEN; i++)
        table[i] = table_base + i;
    float scale = 4.0f;
    CHECK(cuMemcpyHtoD(g_table, table, sizeof table));
    CHECK(cuMemcpyHtoD(g_scale, &scale, sizeof scale));
    enum { N = 64 };
    int n = N, out[N];
    float fout[N];
    CUdeviceptr dout, dfout;
    CHECK(cuMemAlloc(&dout, sizeof out));
    CHECK(cuMemAlloc(&dfout, sizeof fout));
    void *args[] = {&dout, &dfout, &n};
    CHECK(cuLaunchKernel((CUfunction)get_kernel(lib, "use_globals"), 1, 1, 1, N, 1, 1, 0, NULL, args, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(out, dout, sizeof out));
    CHECK(cuMemcpyDtoH(fout, dfout, sizeof fout));
    for (int i = 0; i < N; i++)
        if (out[i] != table[i % IT_CONST_TABLE_LEN] + init[i % IT_DEV_INIT_LEN] || fout[i] != 4.0f * (float)i) {
            it_fail(__FILE__, __LINE__, "%s: use_globals [%d] = %d / %g, expected %d / %g", what, i, out[i],
                    (double)fout[i], table[i % IT_CONST_TABLE_LEN] + init[i % IT_DEV_INIT_LEN],
                    (double)(4.0f * (float)i));
            break;
        }
    CHECK(cuMemFree(dout));
    CHECK(cuMemFree(dfout));
}

static void check_kernels(CUlibrary lib)
{
    fprintf(stderr, "-- kernels: lookup, launch as CUfunction, cuKernelGetFunction, module\n");
    CUkernel k = NULL;
    EXPECT_RESULT(cuLibraryGetKernel(&k, lib, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
    EXPECT_RESULT(cuLibraryGetKernel(&k, lib, "dev_init"), CUDA_ERROR_NOT_FOUND);
    EXPECT_RESULT(cuLibraryGetKernel(&k, lib, NULL), CUDA_ERROR_INVALID_VALUE);

    CUkernel kva = get_kernel(lib, "vec_add");
    EXPECT_TRUE(get_kernel(lib, "vec_add") == kva);
    const char *name = NULL;
    CHECK(cuKernelGetName(&name, kva));
    EXPECT_STREQ(name, "vec_add");

    /* cudart launches the CUkernel itself as the CUfunction */
    run_vec_add((CUfunction)kva, NULL, 1000, 0, "CUkernel as CUfunction, kernelParams");
    run_vec_add((CUfunction)kva, NULL, 333, 1, "CUkernel as CUfunction, extra");
    name = NULL;
    CHECK(cuFuncGetName(&name, (CUfunction)kva));
    EXPECT_STREQ(name, "vec_add");
    int v = -1;
    CHECK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, (CUfunction)get_kernel(lib, "bounded")));
    EXPECT_EQ(v, IT_BOUNDS);

    CUfunction fva = NULL;
    CHECK(cuKernelGetFunction(&fva, kva));
    ASSERT_TRUE(fva != NULL);
    run_vec_add(fva, NULL, 777, 0, "cuKernelGetFunction");
    name = NULL;
    CHECK(cuFuncGetName(&name, fva));
    EXPECT_STREQ(name, "vec_add");
    CUfunction again = NULL;
    CHECK(cuKernelGetFunction(&again, kva));
    EXPECT_TRUE(again == fva);
    CUlibrary kl = NULL;
    CHECK(cuKernelGetLibrary(&kl, kva));
    EXPECT_TRUE(kl == lib);
    /* loaded on demand or not, it is loaded once asked to be */
    CUfunctionLoadingState st = (CUfunctionLoadingState)-1;
    CHECK(cuFuncLoad(fva));
    CHECK(cuFuncIsLoaded(&st, fva));
    EXPECT_EQ(st, CU_FUNCTION_LOADING_STATE_LOADED);
    EXPECT_ERROR(cuFuncIsLoaded(NULL, fva));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* what older programs call */
    CHECK(cuFuncSetSharedMemConfig(fva, CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE));
    EXPECT_ERROR(cuFuncSetSharedMemConfig(fva, (CUsharedconfig)0x55));
#pragma GCC diagnostic pop
    /* rgpu's client keeps the answer per kernel and context (the runtime asks
     * before every launch): asked again, no request */
    typedef int (*info_fn)(struct rgpu_client_info *);
    info_fn info = (info_fn)dlsym(RTLD_DEFAULT, "rgpu_client_info");
    if (info) {
        struct rgpu_client_info i0, i1;
        ASSERT_TRUE(info(&i0) == 0);
        for (int k = 0; k < 5; k++) {
            CHECK(cuKernelGetFunction(&again, kva));
            EXPECT_TRUE(again == fva);
        }
        ASSERT_TRUE(info(&i1) == 0);
        EXPECT_EQ(i1.requests, i0.requests);
    }

    CUmodule lm = NULL;
    CHECK(cuLibraryGetModule(&lm, lib));
    ASSERT_TRUE(lm != NULL);
    CUmodule owner = NULL;
    CHECK(cuFuncGetModule(&owner, fva));
    EXPECT_TRUE(owner == lm);
    CUfunction mf = NULL;
    CHECK(cuModuleGetFunction(&mf, lm, "vec_add"));
    run_vec_add(mf, NULL, 129, 0, "cuLibraryGetModule + cuModuleGetFunction");

    fprintf(stderr, "-- kernel count and enumeration\n");
    unsigned count = 0;
    CHECK(cuLibraryGetKernelCount(&count, lib));
    EXPECT_EQ(count, NKERNELS);
    if (count == NKERNELS) {
        CUkernel ks[NKERNELS];
        CHECK(cuLibraryEnumerateKernels(ks, count, lib));
        int seen[NKERNELS] = {0};
        for (unsigned i = 0; i < count; i++) {
            name = NULL;
            CUresult r = cuKernelGetName(&name, ks[i]);
            if (r != CUDA_SUCCESS) {
                it_fail(__FILE__, __LINE__, "cuKernelGetName(enumerated kernel %u): %s", i, it_errname(r));
                continue;
            }
            int j = 0;
            while (j < NKERNELS && strcmp(kernel_names[j], name) != 0)
                j++;
            if (j == NKERNELS) {
                it_fail(__FILE__, __LINE__, "enumerated an unknown kernel \"%s\"", name);
                continue;
            }
            EXPECT_EQ(seen[j], 0);
            seen[j]++;
            EXPECT_TRUE(ks[i] == get_kernel(lib, kernel_names[j]));
        }
    }
}

static void check_kernel_attributes(CUlibrary lib)
{
    fprintf(stderr, "-- kernel attributes and parameter info\n");
    CUkernel kbd = get_kernel(lib, "bounded"), kva = get_kernel(lib, "vec_add"), kbr = get_kernel(lib, "block_reduce");
    CUkernel krev = get_kernel(lib, "shared_reverse"), kall = get_kernel(lib, "all_kinds");
    int want_ptx = dev_cc >= 120 ? 120 : 75;
    EXPECT_EQ(kernel_attr(kbd, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK), IT_BOUNDS);
    EXPECT_EQ(kernel_attr(kva, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK),
              it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
    EXPECT_GE(kernel_attr(kva, CU_FUNC_ATTRIBUTE_NUM_REGS), 0);
    EXPECT_EQ(kernel_attr(kva, CU_FUNC_ATTRIBUTE_PTX_VERSION), want_ptx);
    EXPECT_EQ(kernel_attr(krev, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES), IT_SHARED_TILE * (int)sizeof(int));
    int v;
    EXPECT_RESULT(cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, kva, 99), CUDA_ERROR_INVALID_DEVICE);

    /* parameter layout */
    size_t all_off[IT_ALL_NPARAMS], all_size[IT_ALL_NPARAMS];
    it_all_param_layout(all_off, all_size);
    for (int i = 0; i < IT_ALL_NPARAMS; i++) {
        size_t off = 999, size = 999;
        CUresult r = cuKernelGetParamInfo(kall, (size_t)i, &off, &size);
        if (r != CUDA_SUCCESS) {
            it_fail(__FILE__, __LINE__, "cuKernelGetParamInfo(all_kinds, %d): got %s", i, it_errname(r));
            continue;
        }
        if (off != all_off[i] || size != all_size[i])
            it_fail(__FILE__, __LINE__, "all_kinds param %d: offset %zu size %zu, expected offset %zu size %zu", i,
                    off, size, all_off[i], all_size[i]);
    }
    size_t off, size;
    EXPECT_RESULT(cuKernelGetParamInfo(kall, IT_ALL_NPARAMS, &off, &size), CUDA_ERROR_INVALID_VALUE);

    /* a raised dynamic shared limit holds for launches of the CUkernel handle */
    int dev_shared = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    int optin = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    EXPECT_EQ(kernel_attr(kbr, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), dev_shared);
    enum { N = 512, BLOCK = 256 };
    int in[N], out[N / BLOCK], n = N;
    for (int i = 0; i < N; i++)
        in[i] = i - 100;
    CUdeviceptr din, dout;
    CHECK(cuMemAlloc(&din, sizeof in));
    CHECK(cuMemAlloc(&dout, sizeof out));
    CHECK(cuMemcpyHtoD(din, in, sizeof in));
    void *args[] = {&din, &dout, &n};
    unsigned big = (unsigned)dev_shared + 1024;
    EXPECT_RESULT(cuLaunchKernel((CUfunction)kbr, N / BLOCK, 1, 1, BLOCK, 1, 1, big, NULL, args, NULL),
                  CUDA_ERROR_INVALID_VALUE);
    if (optin >= (int)big) {
        /* read before it is set: a kept answer (rgpu's client keeps them) must not outlive the set */
        EXPECT_EQ(kernel_attr(kbr, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), dev_shared);
        v = -1;
        CHECK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (CUfunction)kbr));
        EXPECT_EQ(v, dev_shared);
        CHECK(cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)big, kbr, dev));
        EXPECT_EQ(kernel_attr(kbr, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), (int)big);
        v = -1;
        CHECK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (CUfunction)kbr));
        EXPECT_EQ(v, (int)big);
        CHECK(cuLaunchKernel((CUfunction)kbr, N / BLOCK, 1, 1, BLOCK, 1, 1, big, NULL, args, NULL));
        CHECK(cuCtxSynchronize());
        CHECK(cuMemcpyDtoH(out, dout, sizeof out));
        for (int b = 0; b < N / BLOCK; b++) {
            int want = 0;
            for (int i = 0; i < BLOCK; i++)
                want += in[b * BLOCK + i];
            EXPECT_EQ(out[b], want);
        }
        /* and through cuKernelGetFunction's handle */
        CUfunction fbr;
        CHECK(cuKernelGetFunction(&fbr, kbr));
        CHECK(cuLaunchKernel(fbr, N / BLOCK, 1, 1, BLOCK, 1, 1, big, NULL, args, NULL));
        CHECK(cuCtxSynchronize());
        EXPECT_RESULT(cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, optin + 1, kbr, dev),
                      CUDA_ERROR_INVALID_VALUE);
    }
    EXPECT_RESULT(cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_NUM_REGS, 4, kbr, dev), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuKernelSetCacheConfig(kva, CU_FUNC_CACHE_PREFER_L1, dev));
    CHECK(cuMemFree(din));
    CHECK(cuMemFree(dout));
}

static void check_globals(CUlibrary lib)
{
    fprintf(stderr, "-- library globals\n");
    CUdeviceptr g1 = 0, g2 = 0;
    size_t s1 = 0, s2 = 0;
    CHECK(cuLibraryGetGlobal(&g1, &s1, lib, "dev_init"));
    CHECK(cuLibraryGetGlobal(&g2, &s2, lib, "dev_init"));
    EXPECT_NE(g1, 0);
    EXPECT_EQ(g1, g2); /* cudaMemcpyToSymbol relies on this */
    EXPECT_EQ(s1, IT_DEV_INIT_LEN * sizeof(int));
    EXPECT_EQ(s2, s1);
    CUdeviceptr gt = 0;
    size_t st = 0;
    CHECK(cuLibraryGetGlobal(&gt, &st, lib, "const_table"));
    EXPECT_EQ(st, IT_CONST_TABLE_LEN * sizeof(int));
    EXPECT_NE(gt, g1);
    CUdeviceptr x;
    EXPECT_RESULT(cuLibraryGetGlobal(&x, &st, lib, "no_such_variable"), CUDA_ERROR_NOT_FOUND);

    /* the library's module has the same variable at the same address */
    CUmodule lm;
    CHECK(cuLibraryGetModule(&lm, lib));
    CUdeviceptr gm = 0;
    CHECK(cuModuleGetGlobal(&gm, NULL, lm, "dev_init"));
    EXPECT_EQ(gm, g1);

    int init[IT_DEV_INIT_LEN];
    CHECK(cuMemcpyDtoH(init, g1, sizeof init));
    EXPECT_EQ(init[0], 11);
    EXPECT_EQ(init[3], 44);
    run_use_globals(lib, init, 500, "library globals, first context");
    int mine[IT_DEV_INIT_LEN] = {100, 200, 300, 400};
    CHECK(cuMemcpy(g1, (CUdeviceptr)(uintptr_t)mine, sizeof mine)); /* unified addressing */
    run_use_globals(lib, mine, -50, "library globals after cuMemcpy");
}

/* the library is context-independent: a second context gets its own copy */
static void check_second_context(CUlibrary lib, CUcontext first)
{
    fprintf(stderr, "-- the library in a second context\n");
    CUdeviceptr g_first;
    CHECK(cuLibraryGetGlobal(&g_first, NULL, lib, "dev_init"));
    CUcontext c2;
    CHECK(cuCtxCreate(&c2, NULL, 0, dev));
    CUkernel kva = get_kernel(lib, "vec_add");
    run_vec_add((CUfunction)kva, NULL, 200, 0, "CUkernel in a second context");
    CUfunction f2;
    CHECK(cuKernelGetFunction(&f2, kva));
    run_vec_add(f2, NULL, 200, 0, "cuKernelGetFunction in a second context");
    CUdeviceptr g2;
    CHECK(cuLibraryGetGlobal(&g2, NULL, lib, "dev_init"));
    EXPECT_NE(g2, g_first);
    int init[IT_DEV_INIT_LEN];
    CHECK(cuMemcpyDtoH(init, g2, sizeof init));
    EXPECT_EQ(init[0], 11); /* the first context's copy was changed, not this one */
    EXPECT_EQ(init[3], 44);
    run_use_globals(lib, init, 7, "library globals, second context");
    CHECK(cuCtxDestroy(c2));
    CUcontext cur;
    CHECK(cuCtxGetCurrent(&cur));
    if (cur != first)
        CHECK(cuCtxSetCurrent(first));
    /* the first context's copy is intact */
    CHECK(cuMemcpyDtoH(init, g_first, sizeof init));
    EXPECT_EQ(init[0], 100);
    run_vec_add((CUfunction)kva, NULL, 50, 0, "CUkernel back in the first context");
}

static void check_loads(void)
{
    fprintf(stderr, "-- loading: PTX, file, JIT options, images that cannot load\n");
    CUlibrary lib;
    CHECK(cuLibraryLoadData(&lib, ptx75.data, NULL, NULL, 0, NULL, NULL, 0));
    run_vec_add((CUfunction)get_kernel(lib, "vec_add"), NULL, 100, 0, "library from PTX");
    CUkernel kva = get_kernel(lib, "vec_add");
    EXPECT_EQ(kernel_attr(kva, CU_FUNC_ATTRIBUTE_PTX_VERSION), 75);
    CHECK(cuLibraryUnload(lib));

    CHECK(cuLibraryLoadFromFile(&lib, fatbin.path, NULL, NULL, 0, NULL, NULL, 0));
    run_vec_add((CUfunction)get_kernel(lib, "vec_add"), NULL, 100, 0, "cuLibraryLoadFromFile");
    CHECK(cuLibraryUnload(lib));
    EXPECT_RESULT(cuLibraryLoadFromFile(&lib, "/nonexistent/rgpu.fatbin", NULL, NULL, 0, NULL, NULL, 0),
                  CUDA_ERROR_FILE_NOT_FOUND);

    char info[128], err[128];
    memset(info, 'X', sizeof info);
    memset(err, 'X', sizeof err);
    CUjit_option opts[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
                           CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {info, (void *)(uintptr_t)sizeof info, err, (void *)(uintptr_t)sizeof err};
    CHECK(cuLibraryLoadData(&lib, fatbin.data, opts, vals, 4, NULL, NULL, 0));
    EXPECT_TRUE(memchr(info, 0, sizeof info) != NULL);
    EXPECT_EQ(strnlen(err, sizeof err), 0);
    run_vec_add((CUfunction)get_kernel(lib, "vec_add"), NULL, 100, 0, "library loaded with JIT options");
    CHECK(cuLibraryUnload(lib));

    /* only an sm_90 cubin: fails at load, or (lazily) when a kernel is used */
    if (it_backend_is_cpu() || dev_cc != 90) {
        CUresult r = cuLibraryLoadData(&lib, fatbin90.data, NULL, NULL, 0, NULL, NULL, 0);
        if (r == CUDA_SUCCESS) {
            CUkernel k;
            CUfunction f;
            r = cuLibraryGetKernel(&k, lib, "vec_add");
            if (r == CUDA_SUCCESS)
                r = cuKernelGetFunction(&f, k);
            EXPECT_RESULT(r, CUDA_ERROR_NO_BINARY_FOR_GPU);
            CHECK(cuLibraryUnload(lib));
        } else {
            EXPECT_RESULT(r, CUDA_ERROR_NO_BINARY_FOR_GPU);
        }
    }
    EXPECT_RESULT2(cuLibraryLoadData(&lib, "not a library\n", NULL, NULL, 0, NULL, NULL, 0), CUDA_ERROR_INVALID_PTX,
                   CUDA_ERROR_INVALID_IMAGE);
    EXPECT_RESULT(cuLibraryLoadData(&lib, NULL, NULL, NULL, 0, NULL, NULL, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
}

static void check_unload(void)
{
    fprintf(stderr, "-- handles after cuLibraryUnload\n");
    CUlibrary lib;
    CHECK(cuLibraryLoadData(&lib, fatbin.data, NULL, NULL, 0, NULL, NULL, 0));
    CUkernel k = get_kernel(lib, "vec_add");
    run_vec_add((CUfunction)k, NULL, 64, 0, "before cuLibraryUnload");
    CHECK(cuLibraryUnload(lib));
    CUkernel k2;
    CUdeviceptr g;
    unsigned count;
    const char *name;
    int v;
    EXPECT_ERROR(cuLibraryGetKernel(&k2, lib, "vec_add"));
    EXPECT_ERROR(cuLibraryGetGlobal(&g, NULL, lib, "dev_init"));
    EXPECT_ERROR(cuLibraryGetKernelCount(&count, lib));
    EXPECT_ERROR(cuKernelGetName(&name, k));
    EXPECT_ERROR(cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, k, dev));
    CUdeviceptr d;
    int n = 1;
    CHECK(cuMemAlloc(&d, 64));
    void *args[] = {&d, &d, &d, &n};
    EXPECT_ERROR(cuLaunchKernel((CUfunction)k, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    EXPECT_ERROR(cuLibraryUnload(lib));
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
    CHECK(cuMemFree(d));
}

int main(int argc, char **argv)
{
    const char *dir = it_kernel_dir(argc, argv);
    it_image_load(&ptx75, dir, IT_PTX75);
    it_image_load(&fatbin, dir, IT_FATBIN);
    it_image_load(&fatbin90, dir, IT_FATBIN_SM90);

    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    dev_cc = it_device_cc(dev);
    CUcontext ctx;
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));

    CUlibrary lib;
    CHECK(cuLibraryLoadData(&lib, fatbin.data, NULL, NULL, 0, NULL, NULL, 0));
    check_kernels(lib);
    check_kernel_attributes(lib);
    check_globals(lib);
    check_second_context(lib, ctx);
    CHECK(cuLibraryUnload(lib));

    check_loads();
    check_unload();

    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    it_image_free(&ptx75);
    it_image_free(&fatbin);
    it_image_free(&fatbin90);
    TEST_DONE();
}
