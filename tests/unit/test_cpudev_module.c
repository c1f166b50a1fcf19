/*
 * test_cpudev_module.c — CPU device modules and libraries without running
 * kernels: loading PTX, fatbins and cubins (and what is refused, with which
 * error), functions and their names, globals with their initial values,
 * parameter layout, function and kernel attributes, library lazy loading and
 * context independence, occupancy numbers, and what unloading, context
 * destruction and primary-context reset release.
 *
 * Images come from nvcc at build time (RGPU_MOD_DATA, see
 * cpudev_module.cmake); a few special cases are PTX written inline. Every
 * test runs on a fresh activation of the primary context.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpudev.h"

#define OK(call) assert_int_equal((call), CUDA_SUCCESS)
#define NKERNELS 7 /* in kernels.cu */

static CUcontext primary;

/* ---- helpers ---- */

/* A file of RGPU_MOD_DATA, NUL-terminated (PTX text is used as it is). */
static void *load_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", RGPU_MOD_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static CUmodule load_module(const char *file)
{
    void *img = load_file(file);
    CUmodule m = NULL;
    OK(cpudev_cuModuleLoadData(&m, img));
    free(img);
    return m;
}

static CUfunction get_function(CUmodule m, const char *name)
{
    CUfunction f = NULL;
    OK(cpudev_cuModuleGetFunction(&f, m, name));
    return f;
}

static int fattr(CUfunction f, CUfunction_attribute a)
{
    int v = -12345;
    OK(cpudev_cuFuncGetAttribute(&v, a, f));
    return v;
}

static void read_device(void *dst, CUdeviceptr src, size_t n)
{
    OK(cpudev_cuMemcpyDtoHAsync_v2(dst, src, n, NULL));
    OK(cpudev_cuStreamSynchronize(NULL));
}

static int dev_attr(CUdevice_attribute a)
{
    int v;
    OK(cpudev_cuDeviceGetAttribute(&v, a, 0));
    return v;
}

static size_t mem_free_now(void)
{
    size_t free_b, total;
    OK(cpudev_cuMemGetInfo_v2(&free_b, &total));
    return free_b;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
    (void)state;
    OK(cpudev_cuDevicePrimaryCtxRetain(&primary, 0));
    OK(cpudev_cuCtxSetCurrent(primary));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    OK(cpudev_cuCtxSetCurrent(primary));
    OK(cpudev_cuDevicePrimaryCtxRelease_v2(0));
    return 0;
}

/* ---- loading ---- */

static void test_load_ptx(void **state)
{
    (void)state;
    CUmodule m = load_module("kernels.ptx");
    unsigned n = 0;
    OK(cpudev_cuModuleGetFunctionCount(&n, m));
    assert_int_equal(n, NKERNELS);
    CUfunction all[NKERNELS + 2];
    memset(all, 0xab, sizeof all);
    OK(cpudev_cuModuleEnumerateFunctions(all, NKERNELS + 1, m));
    assert_null(all[NKERNELS]); /* the rest of the buffer is cleared */
    const char *names[] = {"vadd", "mixed", "use_globals", "bounded", "oob", "reverse_shared", "say"};
    for (int i = 0; i < NKERNELS; i++) {
        CUfunction f = get_function(m, names[i]);
        bool listed = false;
        for (int j = 0; j < NKERNELS; j++)
            listed |= all[j] == f;
        assert_true(listed);
        const char *name = NULL;
        OK(cpudev_cuFuncGetName(&name, f));
        assert_string_equal(name, names[i]);
        CUmodule owner = NULL;
        OK(cpudev_cuFuncGetModule(&owner, f));
        assert_ptr_equal(owner, m);
    }
    CUfunction f;
    assert_int_equal(cpudev_cuModuleGetFunction(&f, m, "missing"), CUDA_ERROR_NOT_FOUND);
    assert_int_equal(cpudev_cuModuleGetFunction(&f, m, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuModuleGetFunction(NULL, m, "vadd"), CUDA_ERROR_INVALID_VALUE);
    f = get_function(m, "vadd");
    assert_int_equal(fattr(f, CU_FUNC_ATTRIBUTE_PTX_VERSION), 75); /* the virtual architecture */
    assert_int_equal(fattr(f, CU_FUNC_ATTRIBUTE_BINARY_VERSION), 130); /* the device (13.0 by default) */

    OK(cpudev_cuModuleUnload(m));
    /* Every handle of the module is gone with it. */
    int v;
    assert_int_equal(cpudev_cuModuleUnload(m), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuModuleGetFunction(&f, m, "vadd"), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, all[0]), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuModuleGetFunctionCount(&n, m), CUDA_ERROR_INVALID_HANDLE);
}

static void test_load_fatbin_picks_newest_ptx(void **state)
{
    (void)state;
    CUmodule m = load_module("kernels.fatbin");
    assert_int_equal(fattr(get_function(m, "vadd"), CU_FUNC_ATTRIBUTE_PTX_VERSION), 120);
    OK(cpudev_cuModuleUnload(m));
}

static void test_no_binary_for_gpu(void **state)
{
    (void)state;
    CUmodule m;
    CUlibrary l;
    const char *files[] = {"sm90.fatbin", "sm90.cubin"};
    for (int i = 0; i < 2; i++) {
        void *img = load_file(files[i]);
        assert_int_equal(cpudev_cuModuleLoadData(&m, img), CUDA_ERROR_NO_BINARY_FOR_GPU);
        assert_int_equal(cpudev_cuLibraryLoadData(&l, img, NULL, NULL, 0, NULL, NULL, 0),
                         CUDA_ERROR_NO_BINARY_FOR_GPU);
        free(img);
    }
}

static const char ptx_invalid[] = ".version 8.0\n.target sm_75\n.address_size 64\n"
                                  ".visible .entry k()\n{\n\tfrobnicate.u32 %r1;\n\tret;\n}\n";
static const char ptx_extern[] = ".version 8.0\n.target sm_75\n.address_size 64\n"
                                 ".extern .global .align 4 .u32 elsewhere;\n"
                                 ".visible .entry k()\n{\n\tret;\n}\n";
static const char ptx_future[] = ".version 9.0\n.target sm_140\n.address_size 64\n"
                                 ".visible .entry k()\n{\n\tret;\n}\n";

static void test_bad_images(void **state)
{
    (void)state;
    CUmodule m;
    assert_int_equal(cpudev_cuModuleLoadData(&m, ptx_invalid), CUDA_ERROR_INVALID_PTX);
    assert_int_equal(cpudev_cuModuleLoadData(&m, ptx_extern), CUDA_ERROR_NOT_FOUND);
    assert_int_equal(cpudev_cuModuleLoadData(&m, ptx_future), CUDA_ERROR_INVALID_PTX);
    assert_int_equal(cpudev_cuModuleLoadData(&m, "not an image at all"), CUDA_ERROR_INVALID_IMAGE);
    assert_int_equal(cpudev_cuModuleLoadData(&m, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuModuleLoadData(NULL, ptx_extern), CUDA_ERROR_INVALID_VALUE);
    /* A module needs a current context; a library does not. */
    void *img = load_file("kernels.ptx");
    OK(cpudev_cuCtxSetCurrent(NULL));
    assert_int_equal(cpudev_cuModuleLoadData(&m, img), CUDA_ERROR_INVALID_CONTEXT);
    CUlibrary l;
    OK(cpudev_cuLibraryLoadData(&l, img, NULL, NULL, 0, NULL, NULL, 0));
    OK(cpudev_cuLibraryUnload(l));
    OK(cpudev_cuCtxSetCurrent(primary));
    free(img);
}

/* ---- globals, parameters, attributes ---- */

static void test_globals(void **state)
{
    (void)state;
    CUmodule m = load_module("kernels.ptx");
    CUdeviceptr p, p2;
    size_t n = 0;
    OK(cpudev_cuModuleGetGlobal_v2(&p, &n, m, "counter"));
    assert_int_equal(n, 4);
    OK(cpudev_cuModuleGetGlobal_v2(&p2, NULL, m, "counter"));
    assert_true(p == p2); /* stable */
    int counter = 0;
    read_device(&counter, p, 4);
    assert_int_equal(counter, 7);
    /* Device memory like any other: writable, and a valid pointer. */
    int ten = 10;
    OK(cpudev_cuMemcpyHtoDAsync_v2(p, &ten, 4, NULL));
    read_device(&counter, p, 4);
    assert_int_equal(counter, 10);
    CUdeviceptr base;
    OK(cpudev_cuMemGetAddressRange_v2(&base, NULL, p));
    /* The module owns that memory, not the caller. */
    assert_int_equal(cpudev_cuMemFree_v2(base), CUDA_ERROR_INVALID_VALUE);

    float table[4];
    OK(cpudev_cuModuleGetGlobal_v2(&p, &n, m, "table"));
    assert_int_equal(n, 16);
    read_device(table, p, 16);
    assert_true(table[0] == 1.0f && table[1] == 2.0f && table[2] == 3.0f && table[3] == 4.0f);
    float scale = 0;
    OK(cpudev_cuModuleGetGlobal_v2(&p, &n, m, "scale")); /* .const */
    assert_int_equal(n, 4);
    assert_int_equal(p % 4, 0);
    read_device(&scale, p, 4);
    assert_true(scale == 2.5f);
    n = 0;
    OK(cpudev_cuModuleGetGlobal_v2(NULL, &n, m, "table"));
    assert_int_equal(n, 16);

    assert_int_equal(cpudev_cuModuleGetGlobal_v2(&p, &n, m, "nope"), CUDA_ERROR_NOT_FOUND);
    assert_int_equal(cpudev_cuModuleGetGlobal_v2(NULL, NULL, m, "table"), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuModuleGetGlobal_v2(&p, &n, m, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuModuleGetGlobal_v2(&p, &n, (CUmodule)&n, "table"), CUDA_ERROR_INVALID_HANDLE);
    OK(cpudev_cuModuleUnload(m));
}

/* __managed__ variables: a block of managed memory apart from the other
 * globals; a library's exists from its load on, in no context. */
static const char managed_ptx[] =
    ".version 8.0\n.target sm_80\n.address_size 64\n"
    ".global .attribute(.managed) .align 4 .u32 hits = 5;\n"
    ".global .align 8 .u64 where = generic(hits);\n"
    ".global .attribute(.managed) .align 8 .u64 self = generic(self);\n"
    ".global .align 4 .u32 plain = 9;\n"
    ".visible .entry hit()\n{\n .reg .b64 %rd<2>; .reg .b32 %r<2>;\n"
    " ld.global.u64 %rd1, [where];\n atom.global.add.u32 %r1, [%rd1], 3;\n ret;\n}\n";

static void test_managed_variables(void **state)
{
    (void)state;
    OK(cpudev_cuCtxSetCurrent(NULL));
    CUlibrary l;
    OK(cpudev_cuLibraryLoadData(&l, managed_ptx, NULL, NULL, 0, NULL, NULL, 0));
    CUdeviceptr hits, self, again, plain;
    size_t size = 0;
    OK(cpudev_cuLibraryGetManaged(&hits, &size, l, "hits")); /* no context current */
    assert_int_equal(size, 4);
    OK(cpudev_cuLibraryGetManaged(&self, NULL, l, "self"));
    assert_int_equal(*(uint32_t *)(uintptr_t)hits, 5); /* the host's address too */
    assert_true(*(uint64_t *)(uintptr_t)self == self);
    assert_int_equal(cpudev_cuLibraryGetManaged(&again, &size, l, "plain"), CUDA_ERROR_NOT_FOUND);
    assert_int_equal(cpudev_cuLibraryGetManaged(&again, &size, l, "nope"), CUDA_ERROR_NOT_FOUND);
    assert_int_equal(cpudev_cuLibraryGetManaged(NULL, NULL, l, "hits"), CUDA_ERROR_INVALID_VALUE);
    int managed = -1;
    OK(cpudev_cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, hits));
    assert_int_equal(managed, 1);

    OK(cpudev_cuCtxSetCurrent(primary));
    OK(cpudev_cuLibraryGetGlobal(&again, NULL, l, "hits")); /* the same variable in a context */
    assert_true(again == hits);
    OK(cpudev_cuLibraryGetGlobal(&plain, NULL, l, "plain"));
    OK(cpudev_cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, plain));
    assert_int_equal(managed, 0);
    CUdeviceptr where;
    OK(cpudev_cuLibraryGetGlobal(&where, NULL, l, "where"));
    uint64_t points_at = 0;
    read_device(&points_at, where, 8);
    assert_true(points_at == hits); /* an ordinary global initialised with a managed one's address */
    CUkernel k;
    OK(cpudev_cuLibraryGetKernel(&k, l, "hit"));
    OK(cpudev_cuLaunchKernel((CUfunction)k, 2, 1, 1, 4, 1, 1, 0, NULL, NULL, NULL));
    OK(cpudev_cuStreamSynchronize(NULL));
    assert_int_equal(*(uint32_t *)(uintptr_t)hits, 5 + 8 * 3);
    OK(cpudev_cuLibraryUnload(l));

    /* in a module, its context's */
    CUmodule m;
    OK(cpudev_cuModuleLoadData(&m, managed_ptx));
    OK(cpudev_cuModuleGetGlobal_v2(&hits, NULL, m, "hits"));
    OK(cpudev_cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, hits));
    assert_int_equal(managed, 1);
    assert_int_equal(*(uint32_t *)(uintptr_t)hits, 5);
    OK(cpudev_cuModuleUnload(m));
}

static void test_param_info(void **state)
{
    (void)state;
    CUmodule m = load_module("kernels.ptx");
    CUfunction f = get_function(m, "mixed"); /* (float, float *, char, double, struct of 12 bytes) */
    const size_t want[5][2] = {{0, 4}, {8, 8}, {16, 1}, {24, 8}, {32, 12}};
    for (size_t i = 0; i < 5; i++) {
        size_t off = 99, size = 99;
        OK(cpudev_cuFuncGetParamInfo(f, i, &off, &size));
        assert_int_equal(off, want[i][0]);
        assert_int_equal(size, want[i][1]);
    }
    size_t off, size;
    OK(cpudev_cuFuncGetParamInfo(f, 4, &off, NULL)); /* the size is optional */
    assert_int_equal(off, 32);
    assert_int_equal(cpudev_cuFuncGetParamInfo(f, 5, &off, &size), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuFuncGetParamInfo(f, 0, NULL, &size), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuFuncGetParamInfo(get_function(m, "say"), 1, &off, &size), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuModuleUnload(m));
}

static void test_function_attributes(void **state)
{
    (void)state;
    CUmodule m = load_module("kernels.ptx");
    CUfunction vadd = get_function(m, "vadd"), bounded = get_function(m, "bounded"),
               shared = get_function(m, "reverse_shared"), say = get_function(m, "say");
    int v;
    for (int a = 0; a < CU_FUNC_ATTRIBUTE_MAX; a++)
        OK(cpudev_cuFuncGetAttribute(&v, (CUfunction_attribute)a, vadd));
    assert_int_equal(cpudev_cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX, vadd), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuFuncGetAttribute(NULL, CU_FUNC_ATTRIBUTE_NUM_REGS, vadd), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, (CUfunction)&v),
                     CUDA_ERROR_INVALID_HANDLE);

    assert_int_equal(fattr(vadd, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK), 1024);
    assert_int_equal(fattr(bounded, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK), 128); /* .maxntid */
    int regs = fattr(vadd, CU_FUNC_ATTRIBUTE_NUM_REGS);
    assert_true(regs >= 0 && regs <= 64); /* a 1024-thread block always fits */
    assert_int_equal(fattr(vadd, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES), 0);
    assert_int_equal(fattr(shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES), 4096);
    assert_true(fattr(say, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES) >= 8);
    assert_true(fattr(vadd, CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES) >= 4);
    assert_int_equal(fattr(vadd, CU_FUNC_ATTRIBUTE_CACHE_MODE_CA), 0);
    assert_int_equal(fattr(vadd, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT), -1);
    assert_int_equal(fattr(vadd, CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET), 0);

    /* Dynamic shared memory: 48 KiB less static by default, up to the opt-in
     * maximum less static when set. */
    int optin = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    assert_int_equal(fattr(shared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), 49152 - 4096);
    OK(cpudev_cuFuncSetAttribute(shared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, optin - 4096));
    assert_int_equal(fattr(shared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), optin - 4096);
    assert_int_equal(cpudev_cuFuncSetAttribute(shared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, optin - 4095),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuFuncSetAttribute(shared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, -1),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(fattr(vadd, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), 49152); /* per function */

    /* The settable ones, validated; the rest are read-only. */
    OK(cpudev_cuFuncSetAttribute(vadd, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, 50));
    assert_int_equal(fattr(vadd, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT), 50);
    assert_int_equal(cpudev_cuFuncSetAttribute(vadd, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, 101),
                     CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuFuncSetAttribute(vadd, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1));
    assert_int_equal(fattr(vadd, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED), 1);
    assert_int_equal(cpudev_cuFuncSetAttribute(vadd, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 2),
                     CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuFuncSetAttribute(vadd, CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE,
                                 CU_CLUSTER_SCHEDULING_POLICY_SPREAD));
    assert_int_equal(cpudev_cuFuncSetAttribute(vadd, CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE, 3),
                     CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuFuncSetAttribute(vadd, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH, 2));
    assert_int_equal(fattr(vadd, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH), 2);
    assert_int_equal(cpudev_cuFuncSetAttribute(vadd, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT, -1),
                     CUDA_ERROR_INVALID_VALUE);
    const CUfunction_attribute ro[] = {CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES,
                                       CU_FUNC_ATTRIBUTE_NUM_REGS, CU_FUNC_ATTRIBUTE_PTX_VERSION,
                                       CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET, CU_FUNC_ATTRIBUTE_MAX};
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++)
        assert_int_equal(cpudev_cuFuncSetAttribute(vadd, ro[i], 1), CUDA_ERROR_INVALID_VALUE);

    OK(cpudev_cuFuncSetCacheConfig(vadd, CU_FUNC_CACHE_PREFER_L1));
    assert_int_equal(cpudev_cuFuncSetCacheConfig(vadd, (CUfunc_cache)9), CUDA_ERROR_INVALID_VALUE);
    const char *name;
    assert_int_equal(cpudev_cuFuncGetName(&name, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuFuncGetName(NULL, vadd), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuModuleUnload(m));
}

/* ---- libraries and kernels ---- */

static void test_library(void **state)
{
    (void)state;
    void *img = load_file("kernels.fatbin");
    CUlibraryOption opt = CU_LIBRARY_BINARY_IS_PRESERVED;
    void *val = (void *)1;
    CUlibrary l;
    OK(cpudev_cuLibraryLoadData(&l, img, NULL, NULL, 0, &opt, &val, 1)); /* as cudart 13 does */

    unsigned n = 0;
    OK(cpudev_cuLibraryGetKernelCount(&n, l));
    assert_int_equal(n, NKERNELS);
    CUkernel ks[NKERNELS + 1];
    OK(cpudev_cuLibraryEnumerateKernels(ks, NKERNELS + 1, l));
    assert_null(ks[NKERNELS]);
    CUkernel k, k2;
    OK(cpudev_cuLibraryGetKernel(&k, l, "vadd"));
    OK(cpudev_cuLibraryGetKernel(&k2, l, "vadd"));
    assert_ptr_equal(k, k2);
    assert_int_equal(cpudev_cuLibraryGetKernel(&k2, l, "missing"), CUDA_ERROR_NOT_FOUND);

    /* Globals: materialised in the current context once, at one address. */
    CUdeviceptr g1, g2;
    size_t size;
    OK(cpudev_cuLibraryGetGlobal(&g1, &size, l, "counter"));
    OK(cpudev_cuLibraryGetGlobal(&g2, NULL, l, "counter"));
    assert_true(g1 == g2);
    assert_int_equal(size, 4);
    int counter = 0;
    read_device(&counter, g1, 4);
    assert_int_equal(counter, 7);
    assert_int_equal(cpudev_cuLibraryGetGlobal(&g2, &size, l, "nope"), CUDA_ERROR_NOT_FOUND);

    /* Its module in this context. */
    CUmodule lm, lm2;
    OK(cpudev_cuLibraryGetModule(&lm, l));
    OK(cpudev_cuLibraryGetModule(&lm2, l));
    assert_ptr_equal(lm, lm2);
    assert_int_equal(cpudev_cuModuleUnload(lm), CUDA_ERROR_NOT_PERMITTED);
    CUdeviceptr g3;
    OK(cpudev_cuModuleGetGlobal_v2(&g3, NULL, lm, "counter"));
    assert_true(g3 == g1);

    /* A kernel stands for its function; the function is the module's. */
    CUfunction f, fm;
    OK(cpudev_cuKernelGetFunction(&f, k));
    OK(cpudev_cuModuleGetFunction(&fm, lm, "vadd"));
    assert_ptr_equal(f, fm);
    assert_int_equal(fattr((CUfunction)k, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK), 1024);
    const char *name;
    OK(cpudev_cuFuncGetName(&name, (CUfunction)k));
    assert_string_equal(name, "vadd");
    CUmodule owner;
    OK(cpudev_cuFuncGetModule(&owner, (CUfunction)k));
    assert_ptr_equal(owner, lm);

    /* Kernel attributes apply to the function unless it sets its own. */
    int v;
    OK(cpudev_cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_PTX_VERSION, k, 0));
    assert_int_equal(v, 120);
    assert_int_equal(cpudev_cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, k, 1), CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cpudev_cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 10, k, 1),
                     CUDA_ERROR_INVALID_DEVICE);
    OK(cpudev_cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1000, k, 0));
    assert_int_equal(fattr(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), 1000);
    OK(cpudev_cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 2000));
    assert_int_equal(fattr(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), 2000);
    OK(cpudev_cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k, 0));
    assert_int_equal(v, 1000);
    assert_int_equal(cpudev_cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_NUM_REGS, 1, k, 0), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuKernelSetCacheConfig(k, CU_FUNC_CACHE_PREFER_SHARED, 0));
    assert_int_equal(cpudev_cuKernelSetCacheConfig(k, (CUfunc_cache)7, 0), CUDA_ERROR_INVALID_VALUE);
    CUkernel mixed;
    OK(cpudev_cuLibraryGetKernel(&mixed, l, "mixed"));
    size_t off;
    OK(cpudev_cuKernelGetParamInfo(mixed, 4, &off, &size));
    assert_int_equal(off, 32);
    assert_int_equal(size, 12);
    assert_int_equal(cpudev_cuKernelGetParamInfo(mixed, 5, &off, &size), CUDA_ERROR_INVALID_VALUE);

    /* Context independence: another context gets its own globals. */
    CUcontext other;
    OK(cpudev_cuCtxCreate_v2(&other, 0, 0));
    CUdeviceptr go;
    OK(cpudev_cuLibraryGetGlobal(&go, NULL, l, "counter"));
    assert_true(go != g1);
    CUfunction fo;
    OK(cpudev_cuKernelGetFunction(&fo, k));
    assert_ptr_not_equal(fo, f);
    OK(cpudev_cuCtxDestroy_v2(other));
    OK(cpudev_cuCtxSetCurrent(primary));
    OK(cpudev_cuLibraryGetGlobal(&g2, NULL, l, "counter"));
    assert_true(g2 == g1);

    OK(cpudev_cuLibraryUnload(l));
    assert_int_equal(cpudev_cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, k, 0), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, f), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuModuleGetFunctionCount(&n, lm), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuMemGetAddressRange_v2(NULL, NULL, g1), CUDA_ERROR_NOT_FOUND);
    assert_int_equal(cpudev_cuLibraryUnload(l), CUDA_ERROR_INVALID_HANDLE);
    free(img);
}

static void test_library_options(void **state)
{
    (void)state;
    void *img = load_file("kernels.ptx");
    CUlibrary l;
    CUlibraryOption lo = CU_LIBRARY_HOST_UNIVERSAL_FUNCTION_AND_DATA_TABLE;
    void *lv = NULL;
    assert_int_equal(cpudev_cuLibraryLoadData(&l, img, NULL, NULL, 0, &lo, &lv, 1), CUDA_ERROR_NOT_SUPPORTED);
    lo = (CUlibraryOption)77;
    assert_int_equal(cpudev_cuLibraryLoadData(&l, img, NULL, NULL, 0, &lo, &lv, 1), CUDA_ERROR_INVALID_VALUE);
    CUjit_option jo = CU_JIT_GLOBAL_SYMBOL_NAMES;
    void *jv = NULL;
    assert_int_equal(cpudev_cuLibraryLoadData(&l, img, &jo, &jv, 1, NULL, NULL, 0), CUDA_ERROR_NOT_SUPPORTED);
    assert_int_equal(cpudev_cuLibraryLoadData(&l, img, NULL, NULL, 1, NULL, NULL, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuLibraryLoadData(&l, NULL, NULL, NULL, 0, NULL, NULL, 0), CUDA_ERROR_INVALID_VALUE);

    /* Compiler hints are ignored; the logs are answered. */
    char errlog[256];
    CUjit_option jopts[] = {CU_JIT_OPTIMIZATION_LEVEL, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_WALL_TIME};
    void *jvals[] = {(void *)3, errlog, (void *)(uintptr_t)sizeof errlog, NULL};
    OK(cpudev_cuLibraryLoadData(&l, img, jopts, jvals, 4, NULL, NULL, 0));
    OK(cpudev_cuLibraryUnload(l));
    jvals[2] = (void *)(uintptr_t)sizeof errlog;
    assert_int_equal(cpudev_cuLibraryLoadData(&l, ptx_invalid, jopts, jvals, 4, NULL, NULL, 0),
                     CUDA_ERROR_INVALID_PTX);
    assert_true(strlen(errlog) > 0);
    assert_int_equal((uintptr_t)jvals[2], strlen(errlog) + 1);
    free(img);
}

/* ---- occupancy ---- */

static void test_occupancy(void **state)
{
    (void)state;
    CUmodule m = load_module("kernels.ptx");
    CUfunction vadd = get_function(m, "vadd"), shared = get_function(m, "reverse_shared"),
               bounded = get_function(m, "bounded");
    int per_sm = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
    int nb = -1;
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, vadd, 1024, 0));
    assert_int_equal(nb, per_sm / 1024); /* 1536 threads per SM: one block */
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, vadd, 256, 0));
    assert_true(nb >= 1 && nb <= per_sm / 256);
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&nb, vadd, 32, 0,
                                                                  CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE));
    assert_true(nb >= 1 && nb <= dev_attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR));
    /* Shared memory limits: 4 KiB static + 1 KiB reserved per block. */
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, shared, 64, 0));
    assert_int_equal(nb, 102400 / 5120 < per_sm / 64 ? 102400 / 5120 : per_sm / 64);
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, shared, 64, 40000));
    assert_int_equal(nb, 2);
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, shared, 64, 49152)); /* beyond its limit */
    assert_int_equal(nb, 0);
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, bounded, 256, 0)); /* beyond .maxntid */
    assert_int_equal(nb, 0);
    assert_int_equal(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, vadd, 0, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&nb, vadd, 32, 0, 2),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(NULL, vadd, 32, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, (CUfunction)&nb, 32, 0),
                     CUDA_ERROR_INVALID_HANDLE);

    size_t dyn = 0;
    OK(cpudev_cuOccupancyAvailableDynamicSMemPerBlock(&dyn, vadd, 1, 256));
    assert_int_equal(dyn, 49152); /* capped by the function's dynamic limit */
    OK(cpudev_cuOccupancyAvailableDynamicSMemPerBlock(&dyn, vadd, 4, 256));
    assert_int_equal(dyn, 102400 / 4);
    OK(cpudev_cuOccupancyAvailableDynamicSMemPerBlock(&dyn, shared, 4, 128));
    assert_int_equal(dyn, 102400 / 4 - 4096);
    assert_int_equal(cpudev_cuOccupancyAvailableDynamicSMemPerBlock(&dyn, vadd, 2, 1024), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuOccupancyAvailableDynamicSMemPerBlock(&dyn, vadd, 0, 32), CUDA_ERROR_INVALID_VALUE);

    /* Kernels too (in the current context). */
    void *img = load_file("kernels.ptx");
    CUlibrary l;
    CUkernel k;
    OK(cpudev_cuLibraryLoadData(&l, img, NULL, NULL, 0, NULL, NULL, 0));
    OK(cpudev_cuLibraryGetKernel(&k, l, "vadd"));
    OK(cpudev_cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, (CUfunction)k, 1024, 0));
    assert_int_equal(nb, 1);
    OK(cpudev_cuLibraryUnload(l));
    free(img);
    OK(cpudev_cuModuleUnload(m));
}

/* ---- what releases modules ---- */

static void test_unload_frees_globals(void **state)
{
    (void)state;
    size_t before = mem_free_now();
    CUmodule m = load_module("kernels.ptx");
    assert_true(mem_free_now() < before);
    CUdeviceptr p;
    OK(cpudev_cuModuleGetGlobal_v2(&p, NULL, m, "table"));
    OK(cpudev_cuModuleUnload(m));
    assert_int_equal(mem_free_now(), before);
    assert_int_equal(cpudev_cuMemGetAddressRange_v2(NULL, NULL, p), CUDA_ERROR_NOT_FOUND);
}

static void test_context_teardown_unloads(void **state)
{
    (void)state;
    size_t before = mem_free_now();
    CUcontext c;
    OK(cpudev_cuCtxCreate_v2(&c, 0, 0));
    CUmodule m = load_module("kernels.ptx");
    CUfunction f = get_function(m, "vadd");
    OK(cpudev_cuCtxDestroy_v2(c));
    OK(cpudev_cuCtxSetCurrent(primary));
    int v;
    assert_int_equal(cpudev_cuModuleGetFunction(&f, m, "vadd"), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cpudev_cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, f), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(mem_free_now(), before);

    /* Primary context reset: the same, and the context works again after. */
    m = load_module("kernels.ptx");
    OK(cpudev_cuDevicePrimaryCtxReset_v2(0));
    assert_int_equal(cpudev_cuModuleUnload(m), CUDA_ERROR_INVALID_HANDLE);
    CUcontext again;
    OK(cpudev_cuDevicePrimaryCtxRetain(&again, 0)); /* a new activation */
    assert_int_equal(mem_free_now(), before);
    m = load_module("kernels.ptx");
    OK(cpudev_cuModuleUnload(m));
    OK(cpudev_cuDevicePrimaryCtxRelease_v2(0));
}

int main(void)
{
    struct cpudev_config cfg = {.mem_bytes = 256u << 20, .sm_count = 4};
    char err[256];
    if (!cpudev_init(&cfg, err, sizeof err)) {
        fprintf(stderr, "cpudev_init: %s\n", err);
        return 1;
    }
    if (cpudev_cuInit(0) != CUDA_SUCCESS)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_ptx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_fatbin_picks_newest_ptx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_binary_for_gpu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_globals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_managed_variables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_function_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_library, setup, teardown),
        cmocka_unit_test_setup_teardown(test_library_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_occupancy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload_frees_globals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_teardown_unloads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
