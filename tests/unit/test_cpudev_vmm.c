/*
 * test_cpudev_vmm.c — virtual memory management on the CPU device: the
 * granularity, a 32 GiB reservation, two physical chunks mapped back to
 * back with copies, memsets and a kernel across the boundary, one allocation
 * mapped twice (both views see the same bytes), unmapped memory refused
 * (copies INVALID_VALUE, kernels ILLEGAL_ADDRESS without crashing), release
 * before unmap, accounting in cuMemGetInfo and the shared counter, pointer
 * queries, and the error codes of invalid arguments.
 *
 * The device has 64 MiB; the primary context is current on the test thread.
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
#define MEM (64ull << 20)
#define GRAN (2ull << 20)
#define RESERVE (32ull << 30)

static _Atomic uint64_t shared_used;
static CUcontext primary;

/* p[i] += 1 for i < n (32-bit words) */
static const char inc_ptx[] = ".version 7.0\n.target sm_75\n.address_size 64\n\n"
                              ".visible .entry inc(.param .u64 p, .param .u32 n)\n{\n"
                              "\t.reg .pred %p<2>;\n\t.reg .b32 %r<7>;\n\t.reg .b64 %rd<5>;\n"
                              "\tld.param.u64 %rd1, [p];\n\tld.param.u32 %r1, [n];\n"
                              "\tmov.u32 %r2, %ctaid.x;\n\tmov.u32 %r3, %ntid.x;\n\tmov.u32 %r4, %tid.x;\n"
                              "\tmad.lo.s32 %r5, %r2, %r3, %r4;\n\tsetp.ge.u32 %p1, %r5, %r1;\n"
                              "\t@%p1 bra DONE;\n\tcvta.to.global.u64 %rd2, %rd1;\n"
                              "\tmul.wide.u32 %rd3, %r5, 4;\n\tadd.s64 %rd4, %rd2, %rd3;\n"
                              "\tld.global.u32 %r6, [%rd4];\n\tadd.s32 %r6, %r6, 1;\n"
                              "\tst.global.u32 [%rd4], %r6;\nDONE:\n\tret;\n}\n";

static CUmemAllocationProp prop(void)
{
    CUmemAllocationProp p;
    memset(&p, 0, sizeof p);
    p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.location.id = 0;
    return p;
}

static CUmemGenericAllocationHandle create(size_t size)
{
    CUmemAllocationProp p = prop();
    CUmemGenericAllocationHandle h = 0;
    OK(cpudev_cuMemCreate(&h, size, &p, 0));
    assert_true(h != 0);
    return h;
}

static void set_rw(CUdeviceptr va, size_t size)
{
    CUmemAccessDesc d = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    OK(cpudev_cuMemSetAccess(va, size, &d, 1));
}

static size_t free_mem(void)
{
    size_t f, t;
    OK(cpudev_cuMemGetInfo_v2(&f, &t));
    assert_int_equal(t, MEM);
    return f;
}

static void sync0(void) { OK(cpudev_cuStreamSynchronize(NULL)); }

static void granularity(void **state)
{
    CUmemAllocationProp p = prop();
    size_t g = 0;
    OK(cpudev_cuMemGetAllocationGranularity(&g, &p, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    assert_int_equal(g, GRAN);
    g = 0;
    OK(cpudev_cuMemGetAllocationGranularity(&g, &p, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
    assert_int_equal(g, GRAN);
    assert_int_equal(cpudev_cuMemGetAllocationGranularity(NULL, &p, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemGetAllocationGranularity(&g, NULL, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemGetAllocationGranularity(&g, &p, 7), CUDA_ERROR_INVALID_VALUE);
    p.location.id = 1;
    assert_int_equal(cpudev_cuMemGetAllocationGranularity(&g, &p, 0), CUDA_ERROR_INVALID_DEVICE);
    p = prop();
    p.type = CU_MEM_ALLOCATION_TYPE_INVALID;
    assert_int_equal(cpudev_cuMemGetAllocationGranularity(&g, &p, 0), CUDA_ERROR_INVALID_VALUE);
}

static void reservations(void **state)
{
    CUdeviceptr a = 0, b = 0;
    OK(cpudev_cuMemAddressReserve(&a, RESERVE, 0, 0, 0));
    assert_int_equal(a % GRAN, 0);
    OK(cpudev_cuMemAddressReserve(&b, RESERVE, 0, 0, 0));
    assert_true(b >= a + RESERVE || b + RESERVE <= a);
    /* a reservation costs no memory */
    assert_int_equal(free_mem(), MEM);
    /* every device address lies in the reported range */
    CUdeviceptr base;
    size_t size;
    cpudev_va_range(&base, &size);
    assert_true(a >= base && a + RESERVE <= base + size);
    /* nothing is mapped: not memory yet */
    assert_null(cpudev_host_ptr(a, 1));
    CUdeviceptr pb;
    assert_int_equal(cpudev_cuMemGetAddressRange_v2(&pb, NULL, a), CUDA_ERROR_NOT_FOUND);
    unsigned t;
    assert_int_equal(cpudev_cuPointerGetAttribute(&t, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, a), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD8Async(a, 1, 16, NULL), CUDA_ERROR_INVALID_VALUE);

    assert_int_equal(cpudev_cuMemAddressFree(a, RESERVE - GRAN), CUDA_ERROR_INVALID_VALUE); /* wrong size */
    assert_int_equal(cpudev_cuMemAddressFree(a + GRAN, RESERVE), CUDA_ERROR_INVALID_VALUE); /* not its start */
    OK(cpudev_cuMemAddressFree(a, RESERVE));
    assert_int_equal(cpudev_cuMemAddressFree(a, RESERVE), CUDA_ERROR_INVALID_VALUE); /* twice */
    OK(cpudev_cuMemAddressFree(b, RESERVE));

    /* alignment beyond the granularity is honoured */
    OK(cpudev_cuMemAddressReserve(&a, GRAN, 1ull << 30, 0, 0));
    assert_int_equal(a % (1ull << 30), 0);
    OK(cpudev_cuMemAddressFree(a, GRAN));

    assert_int_equal(cpudev_cuMemAddressReserve(NULL, GRAN, 0, 0, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemAddressReserve(&a, 0, 0, 0, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemAddressReserve(&a, 1000, 0, 0, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemAddressReserve(&a, GRAN, 3 << 20, 0, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemAddressReserve(&a, GRAN, 0, 0, 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemAddressReserve(&a, 1ull << 50, 0, 0, 0), CUDA_ERROR_OUT_OF_MEMORY);
}

/* What ggml's pool does: reserve, then map chunks back to back as it grows. */
static void contiguous_chunks(void **state)
{
    size_t before = free_mem();
    uint64_t shared_before = shared_used;
    CUdeviceptr va;
    OK(cpudev_cuMemAddressReserve(&va, RESERVE, 0, 0, 0));
    CUmemGenericAllocationHandle h1 = create(GRAN), h2 = create(2 * GRAN);
    assert_true(h1 != h2);
    assert_int_equal(free_mem(), before - 3 * GRAN);
    assert_int_equal(shared_used, shared_before + 3 * GRAN);
    OK(cpudev_cuMemMap(va, GRAN, 0, h1, 0));
    OK(cpudev_cuMemMap(va + GRAN, 2 * GRAN, 0, h2, 0));
    /* mapped but not accessible yet, as in CUDA */
    assert_int_equal(cpudev_cuMemsetD8Async(va, 1, 16, NULL), CUDA_ERROR_INVALID_VALUE);
    unsigned long long fl = 99;
    CUmemLocation loc = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
    OK(cpudev_cuMemGetAccess(&fl, &loc, va));
    assert_int_equal(fl, CU_MEM_ACCESS_FLAGS_PROT_NONE);
    set_rw(va, GRAN);
    set_rw(va + GRAN, 2 * GRAN);
    OK(cpudev_cuMemGetAccess(&fl, &loc, va + GRAN + 5));
    assert_int_equal(fl, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);

    /* memset and copies across the boundary */
    enum { N = 16384 };
    CUdeviceptr x = va + GRAN - N / 2;
    OK(cpudev_cuMemsetD32Async(x, 0xabcdef01u, N / 4, NULL));
    unsigned char *h = malloc(N), *back = malloc(N);
    OK(cpudev_cuMemcpyDtoHAsync_v2(back, x, N, NULL));
    sync0();
    for (int i = 0; i < N / 4; i++)
        assert_int_equal(((uint32_t *)back)[i], 0xabcdef01u);
    for (int i = 0; i < N; i++)
        h[i] = (unsigned char)(i * 7 + 3);
    OK(cpudev_cuMemcpyHtoDAsync_v2(x, h, N, NULL));
    OK(cpudev_cuMemcpyDtoDAsync_v2(va + 2 * GRAN + 100, x, N, NULL)); /* the far side, in chunk 2 */
    memset(back, 0, N);
    OK(cpudev_cuMemcpyDtoHAsync_v2(back, va + 2 * GRAN + 100, N, NULL));
    sync0();
    assert_memory_equal(back, h, N);
    /* the whole 6 MiB is one valid range; one byte more is not */
    assert_non_null(cpudev_host_ptr(va, 3 * GRAN));
    assert_null(cpudev_host_ptr(va, 3 * GRAN + 1));

    /* a kernel over the boundary */
    CUmodule m;
    CUfunction f;
    OK(cpudev_cuModuleLoadData(&m, inc_ptx));
    OK(cpudev_cuModuleGetFunction(&f, m, "inc"));
    CUdeviceptr k = va + GRAN - 1024 * 4;
    unsigned n = 2048;
    void *args[] = {&k, &n};
    OK(cpudev_cuLaunchKernel(f, 8, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    OK(cpudev_cuMemcpyDtoHAsync_v2(back, x, N, NULL));
    sync0();
    for (int i = 0; i < N / 4; i++) {
        uint32_t want;
        memcpy(&want, h + 4 * i, 4);
        uint64_t at = x + 4 * (uint64_t)i;
        if (at >= k && at < k + 4 * n)
            want += 1;
        assert_int_equal(((uint32_t *)back)[i], want);
    }

    /* pointer queries: the mapping is the range */
    CUdeviceptr base;
    size_t size;
    OK(cpudev_cuMemGetAddressRange_v2(&base, &size, va + GRAN + 12345));
    assert_int_equal(base, va + GRAN);
    assert_int_equal(size, 2 * GRAN);
    unsigned t = 0;
    OK(cpudev_cuPointerGetAttribute(&t, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, va + 8));
    assert_int_equal(t, CU_MEMORYTYPE_DEVICE);
    CUmemGenericAllocationHandle r = 0;
    OK(cpudev_cuMemRetainAllocationHandle(&r, (void *)(uintptr_t)(va + GRAN + 77)));
    assert_true(r == h2);
    OK(cpudev_cuMemRelease(r));
    CUmemAllocationProp got;
    OK(cpudev_cuMemGetAllocationPropertiesFromHandle(&got, h1));
    assert_int_equal(got.type, CU_MEM_ALLOCATION_TYPE_PINNED);
    assert_int_equal(got.location.type, CU_MEM_LOCATION_TYPE_DEVICE);

    /* release before unmap: the memory lives while mapped */
    OK(cpudev_cuMemRelease(h1));
    OK(cpudev_cuMemRelease(h2));
    assert_int_equal(cpudev_cuMemRelease(h1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemGetAllocationPropertiesFromHandle(&got, h1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(free_mem(), before - 3 * GRAN);
    OK(cpudev_cuMemcpyDtoHAsync_v2(back, x, 64, NULL));
    sync0();
    /* unmapping only a part of a mapping, or more than is mapped, is refused */
    assert_int_equal(cpudev_cuMemUnmap(va + GRAN, GRAN), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemUnmap(va, 4 * GRAN), CUDA_ERROR_INVALID_VALUE);
    /* a reservation with mappings cannot be freed */
    assert_int_equal(cpudev_cuMemAddressFree(va, RESERVE), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuMemUnmap(va + GRAN, 2 * GRAN));
    assert_int_equal(free_mem(), before - GRAN);
    /* the boundary is gone: copies over it and into the hole are refused */
    assert_int_equal(cpudev_cuMemcpyDtoHAsync_v2(back, x, N, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD8Async(va + GRAN, 0, 1, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_null(cpudev_host_ptr(va + GRAN, 1));
    assert_non_null(cpudev_host_ptr(va, GRAN));
    OK(cpudev_cuMemUnmap(va, GRAN));
    assert_int_equal(free_mem(), before);
    assert_int_equal(shared_used, shared_before);
    OK(cpudev_cuMemAddressFree(va, RESERVE));
    OK(cpudev_cuModuleUnload(m));
    free(h);
    free(back);
}

/* One physical allocation at two addresses: two views of the same bytes. */
static void double_mapping(void **state)
{
    size_t before = free_mem();
    CUdeviceptr va;
    OK(cpudev_cuMemAddressReserve(&va, 8 * GRAN, 0, 0, 0));
    CUmemGenericAllocationHandle h = create(2 * GRAN);
    OK(cpudev_cuMemMap(va, 2 * GRAN, 0, h, 0));
    OK(cpudev_cuMemMap(va + 4 * GRAN, 2 * GRAN, 0, h, 0));
    /* and its second half once more, through an offset */
    OK(cpudev_cuMemMap(va + 6 * GRAN, GRAN, GRAN, h, 0));
    set_rw(va, 2 * GRAN);
    set_rw(va + 4 * GRAN, 3 * GRAN);
    assert_int_equal(free_mem(), before - 2 * GRAN); /* counted once */
    uint32_t v = 0x5eed1234u, w = 0;
    OK(cpudev_cuMemcpyHtoDAsync_v2(va + GRAN + 40, &v, 4, NULL));
    OK(cpudev_cuMemcpyDtoHAsync_v2(&w, va + 4 * GRAN + GRAN + 40, 4, NULL));
    sync0();
    assert_int_equal(w, v);
    w = 0;
    OK(cpudev_cuMemcpyDtoHAsync_v2(&w, va + 6 * GRAN + 40, 4, NULL));
    sync0();
    assert_int_equal(w, v);
    OK(cpudev_cuMemsetD8Async(va + 4 * GRAN, 0x77, 1, NULL));
    sync0();
    assert_int_equal(*(unsigned char *)cpudev_host_ptr(va, 1), 0x77);
    OK(cpudev_cuMemRelease(h));
    OK(cpudev_cuMemUnmap(va, 2 * GRAN));
    assert_int_equal(free_mem(), before - 2 * GRAN); /* still mapped elsewhere */
    /* the bytes survive in the other view */
    w = 0;
    OK(cpudev_cuMemcpyDtoHAsync_v2(&w, va + 5 * GRAN + 40, 4, NULL));
    sync0();
    assert_int_equal(w, v);
    OK(cpudev_cuMemUnmap(va + 4 * GRAN, 3 * GRAN)); /* two mappings at once */
    assert_int_equal(free_mem(), before);
    OK(cpudev_cuMemAddressFree(va, 8 * GRAN));
}

static void invalid_arguments(void **state)
{
    CUmemAllocationProp p = prop();
    CUmemGenericAllocationHandle h = 0;
    assert_int_equal(cpudev_cuMemCreate(&h, GRAN + 4096, &p, 0), CUDA_ERROR_INVALID_VALUE); /* unaligned */
    assert_int_equal(cpudev_cuMemCreate(&h, 0, &p, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemCreate(NULL, GRAN, &p, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemCreate(&h, GRAN, NULL, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemCreate(&h, GRAN, &p, 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemCreate(&h, 2 * MEM, &p, 0), CUDA_ERROR_OUT_OF_MEMORY);
    p.location.id = 3;
    assert_int_equal(cpudev_cuMemCreate(&h, GRAN, &p, 0), CUDA_ERROR_INVALID_DEVICE);
    p = prop();
    p.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    assert_int_equal(cpudev_cuMemCreate(&h, GRAN, &p, 0), CUDA_ERROR_NOT_SUPPORTED);

    CUdeviceptr va, other;
    OK(cpudev_cuMemAddressReserve(&va, 4 * GRAN, 0, 0, 0));
    OK(cpudev_cuMemAddressReserve(&other, 4 * GRAN, 0, 0, 0));
    h = create(2 * GRAN);
    assert_int_equal(cpudev_cuMemMap(va, 2 * GRAN, 0, h + 1000, 0), CUDA_ERROR_INVALID_VALUE); /* unknown handle */
    assert_int_equal(cpudev_cuMemMap(va, 2 * GRAN, 4096, h, 0), CUDA_ERROR_INVALID_VALUE);     /* unaligned offset */
    assert_int_equal(cpudev_cuMemMap(va, GRAN + 4096, 0, h, 0), CUDA_ERROR_INVALID_VALUE);     /* unaligned size */
    assert_int_equal(cpudev_cuMemMap(va + 4096, GRAN, 0, h, 0), CUDA_ERROR_INVALID_VALUE);     /* unaligned address */
    assert_int_equal(cpudev_cuMemMap(va, 2 * GRAN, GRAN, h, 0), CUDA_ERROR_INVALID_VALUE);     /* past its end */
    assert_int_equal(cpudev_cuMemMap(va, 2 * GRAN, 0, h, 1), CUDA_ERROR_INVALID_VALUE);        /* flags */
    assert_int_equal(cpudev_cuMemMap(va + 3 * GRAN, 2 * GRAN, 0, h, 0), CUDA_ERROR_INVALID_VALUE); /* past the reservation */
    CUdeviceptr plain;
    OK(cpudev_cuMemAlloc_v2(&plain, GRAN));
    assert_int_equal(cpudev_cuMemMap(plain & ~(GRAN - 1), GRAN, 0, h, 0), CUDA_ERROR_INVALID_VALUE); /* not reserved */
    OK(cpudev_cuMemFree_v2(plain));
    OK(cpudev_cuMemMap(va + GRAN, 2 * GRAN, 0, h, 0));
    assert_int_equal(cpudev_cuMemMap(va, 2 * GRAN, 0, h, 0), CUDA_ERROR_INVALID_VALUE); /* over a mapping */
    assert_int_equal(cpudev_cuMemMap(va + 2 * GRAN, GRAN, 0, h, 0), CUDA_ERROR_INVALID_VALUE);

    CUmemAccessDesc d = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    assert_int_equal(cpudev_cuMemSetAccess(va, 2 * GRAN, &d, 1), CUDA_ERROR_INVALID_VALUE);      /* not all mapped */
    assert_int_equal(cpudev_cuMemSetAccess(va + GRAN, 2 * GRAN, NULL, 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemSetAccess(va + GRAN, 2 * GRAN, &d, 0), CUDA_ERROR_INVALID_VALUE);
    d.location.id = 1;
    assert_int_equal(cpudev_cuMemSetAccess(va + GRAN, 2 * GRAN, &d, 1), CUDA_ERROR_INVALID_DEVICE);
    d.location.id = 0;
    d.flags = CU_MEM_ACCESS_FLAGS_PROT_READ;
    assert_int_equal(cpudev_cuMemSetAccess(va + GRAN, 2 * GRAN, &d, 1), CUDA_ERROR_NOT_SUPPORTED);
    d.flags = (CUmemAccess_flags)5;
    assert_int_equal(cpudev_cuMemSetAccess(va + GRAN, 2 * GRAN, &d, 1), CUDA_ERROR_INVALID_VALUE);
    /* revoking access makes the memory unusable again */
    set_rw(va + GRAN, 2 * GRAN);
    OK(cpudev_cuMemsetD8Async(va + GRAN, 1, 8, NULL));
    d.flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
    OK(cpudev_cuMemSetAccess(va + GRAN, 2 * GRAN, &d, 1));
    assert_int_equal(cpudev_cuMemsetD8Async(va + GRAN, 1, 8, NULL), CUDA_ERROR_INVALID_VALUE);

    unsigned long long fl;
    CUmemLocation loc = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
    assert_int_equal(cpudev_cuMemGetAccess(&fl, &loc, va), CUDA_ERROR_INVALID_VALUE); /* not mapped */
    assert_int_equal(cpudev_cuMemGetAccess(NULL, &loc, va + GRAN), CUDA_ERROR_INVALID_VALUE);
    CUmemGenericAllocationHandle r;
    assert_int_equal(cpudev_cuMemRetainAllocationHandle(&r, (void *)(uintptr_t)va), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemRelease(0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemRelease(h + 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemUnmap(va, GRAN), CUDA_ERROR_INVALID_VALUE); /* nothing mapped there */
    OK(cpudev_cuMemUnmap(va + GRAN, 2 * GRAN));
    assert_int_equal(cpudev_cuMemUnmap(va + GRAN, 2 * GRAN), CUDA_ERROR_INVALID_VALUE); /* twice */
    OK(cpudev_cuMemRelease(h));
    OK(cpudev_cuMemAddressFree(va, 4 * GRAN));
    OK(cpudev_cuMemAddressFree(other, 4 * GRAN));
    assert_int_equal(free_mem(), MEM);
}

/* A kernel touching reserved but unmapped memory faults the context with
 * ILLEGAL_ADDRESS; the worker survives. */
static void kernel_on_unmapped_memory(void **state)
{
    CUdeviceptr va;
    OK(cpudev_cuMemAddressReserve(&va, 4 * GRAN, 0, 0, 0));
    CUmemGenericAllocationHandle h = create(GRAN);
    OK(cpudev_cuMemMap(va, GRAN, 0, h, 0));
    set_rw(va, GRAN);
    CUmodule m;
    CUfunction f;
    OK(cpudev_cuModuleLoadData(&m, inc_ptx));
    OK(cpudev_cuModuleGetFunction(&f, m, "inc"));
    CUdeviceptr k = va + GRAN - 256; /* 64 words mapped, the rest not */
    unsigned n = 1024;
    void *args[] = {&k, &n};
    OK(cpudev_cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    assert_int_equal(cpudev_cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
    /* the mapped words stay readable from the host side */
    assert_non_null(cpudev_host_ptr(k, 256));
    assert_null(cpudev_host_ptr(k, 260));
    OK(cpudev_cuDevicePrimaryCtxReset_v2(0));
    OK(cpudev_cuCtxSetCurrent(primary));
    OK(cpudev_cuMemUnmap(va, GRAN));
    OK(cpudev_cuMemRelease(h));
    OK(cpudev_cuMemAddressFree(va, 4 * GRAN));
}

/* The worker's death gives the physical memory back, mapped or not. */
static void exit_returns_budget(void **state)
{
    uint64_t before = shared_used;
    CUdeviceptr va;
    OK(cpudev_cuMemAddressReserve(&va, RESERVE, 0, 0, 0));
    CUmemGenericAllocationHandle a = create(GRAN), b = create(4 * GRAN);
    OK(cpudev_cuMemMap(va, GRAN, 0, a, 0));
    OK(cpudev_cuMemRelease(a));
    assert_int_equal(shared_used, before + 5 * GRAN);
    cpudev_exit();
    assert_int_equal(shared_used, before);
    assert_int_equal(cpudev_cuMemRelease(b), CUDA_ERROR_DEINITIALIZED);
    assert_int_equal(shared_used, before);
}

int main(void)
{
    struct cpudev_config c = {0};
    c.mem_bytes = MEM;
    c.shared_used = &shared_used;
    char err[256];
    if (!cpudev_init(&c, err, sizeof err)) {
        fprintf(stderr, "cpudev_init: %s\n", err);
        return 1;
    }
    if (cpudev_cuInit(0) || cpudev_cuDevicePrimaryCtxRetain(&primary, 0) || cpudev_cuCtxSetCurrent(primary))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(granularity),
        cmocka_unit_test(reservations),
        cmocka_unit_test(contiguous_chunks),
        cmocka_unit_test(double_mapping),
        cmocka_unit_test(invalid_arguments),
        cmocka_unit_test(kernel_on_unmapped_memory),
        cmocka_unit_test(exit_returns_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
