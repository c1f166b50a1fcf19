/*
 * test_cpudev_memory.c — CPU device memory: allocation, free, double free,
 * budget and shared accounting, address queries, pointer attributes, and the
 * copies and memsets (1D and 2D) including those that must be refused
 * without touching a byte.
 *
 * The device has 32 MiB and a shared usage counter standing for the other
 * workers of a server. Work goes to the legacy stream of the primary context,
 * current on the test thread. The last test closes the device.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpudev.h"

#define MEM (32ull << 20)

static _Atomic uint64_t shared_used;
static CUcontext primary;

static CUdeviceptr dalloc(size_t n)
{
    CUdeviceptr p = 0;
    assert_int_equal(cpudev_cuMemAlloc_v2(&p, n), CUDA_SUCCESS);
    assert_true(p != 0);
    return p;
}

static void dfree(CUdeviceptr p) { assert_int_equal(cpudev_cuMemFree_v2(p), CUDA_SUCCESS); }

static void sync0(void) { assert_int_equal(cpudev_cuStreamSynchronize(NULL), CUDA_SUCCESS); }

static void upload(CUdeviceptr d, const void *h, size_t n)
{
    assert_int_equal(cpudev_cuMemcpyHtoDAsync_v2(d, h, n, NULL), CUDA_SUCCESS);
    sync0();
}

static void download(void *h, CUdeviceptr d, size_t n)
{
    assert_int_equal(cpudev_cuMemcpyDtoHAsync_v2(h, d, n, NULL), CUDA_SUCCESS);
    sync0();
}

static void alloc_and_free(void **state)
{
    CUdeviceptr p = dalloc(1000), q = dalloc(1);
    assert_int_equal(p % 256, 0);
    assert_int_equal(q % 256, 0);
    assert_true(q >= p + 1000);

    CUdeviceptr base = 0;
    size_t size = 0;
    assert_int_equal(cpudev_cuMemGetAddressRange_v2(&base, &size, p + 999), CUDA_SUCCESS);
    assert_int_equal(base, p);
    assert_int_equal(size, 1000);
    assert_int_equal(cpudev_cuMemGetAddressRange_v2(NULL, &size, p), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuMemGetAddressRange_v2(&base, NULL, p), CUDA_SUCCESS);
    /* the padding after the 1000 bytes is not part of the allocation */
    assert_int_equal(cpudev_cuMemGetAddressRange_v2(&base, &size, p + 1000), CUDA_ERROR_NOT_FOUND);
    assert_int_equal(cpudev_cuMemGetAddressRange_v2(&base, &size, 0x1234), CUDA_ERROR_NOT_FOUND);

    CUdeviceptr z = 0;
    assert_int_equal(cpudev_cuMemAlloc_v2(&z, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemAlloc_v2(NULL, 16), CUDA_ERROR_INVALID_VALUE);

    assert_int_equal(cpudev_cuMemFree_v2(p + 8), CUDA_ERROR_INVALID_VALUE); /* not a start */
    assert_int_equal(cpudev_cuMemFree_v2(0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemFree_v2((CUdeviceptr)(uintptr_t)&z), CUDA_ERROR_INVALID_VALUE);
    dfree(p);
    assert_int_equal(cpudev_cuMemFree_v2(p), CUDA_ERROR_INVALID_VALUE); /* double free */
    assert_int_equal(cpudev_cuMemGetAddressRange_v2(&base, &size, p), CUDA_ERROR_NOT_FOUND);
    /* first fit reuses the hole */
    CUdeviceptr r = dalloc(512);
    assert_int_equal(r, p);
    dfree(r);
    dfree(q);
}

static void budget_and_shared_accounting(void **state)
{
    size_t free0, total;
    assert_int_equal(cpudev_cuMemGetInfo_v2(&free0, &total), CUDA_SUCCESS);
    assert_int_equal(total, MEM);
    uint64_t used0 = atomic_load(&shared_used);
    assert_int_equal(free0, MEM - used0);

    CUdeviceptr p = dalloc(1000);
    assert_int_equal(atomic_load(&shared_used), used0 + 1024); /* rounded to 256 */
    size_t free1;
    assert_int_equal(cpudev_cuMemGetInfo_v2(&free1, &total), CUDA_SUCCESS);
    assert_int_equal(free1, free0 - 1024);

    /* Another tenant takes most of the device: our allocations stop at the
     * shared limit, and the failure leaves the counter as it was. */
    atomic_fetch_add(&shared_used, MEM - (4u << 20));
    CUdeviceptr big = 0;
    assert_int_equal(cpudev_cuMemAlloc_v2(&big, 5u << 20), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(atomic_load(&shared_used), used0 + 1024 + MEM - (4u << 20));
    size_t free2;
    assert_int_equal(cpudev_cuMemGetInfo_v2(&free2, &total), CUDA_SUCCESS);
    assert_int_equal(free2, (4u << 20) - used0 - 1024);
    atomic_fetch_sub(&shared_used, MEM - (4u << 20));

    assert_int_equal(cpudev_cuMemAlloc_v2(&big, MEM + 1), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(cpudev_cuMemAlloc_v2(&big, SIZE_MAX), CUDA_ERROR_OUT_OF_MEMORY);
    size_t pitch;
    assert_int_equal(cpudev_cuMemAllocPitch_v2(&big, &pitch, 1 << 20, SIZE_MAX / 2, 4), CUDA_ERROR_OUT_OF_MEMORY);

    /* Filling the device exactly works; one more byte does not. */
    dfree(p);
    assert_int_equal(atomic_load(&shared_used), used0);
    CUdeviceptr all = dalloc(MEM - used0);
    assert_int_equal(cpudev_cuMemAlloc_v2(&big, 1), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(cpudev_cuMemGetInfo_v2(&free2, &total), CUDA_SUCCESS);
    assert_int_equal(free2, 0);
    dfree(all);
    assert_int_equal(atomic_load(&shared_used), used0);
    assert_int_equal(cpudev_cuMemGetInfo_v2(NULL, &total), CUDA_ERROR_INVALID_VALUE);
}

static void *no_context_thread(void *arg)
{
    CUresult *r = arg;
    CUdeviceptr p;
    size_t f, t;
    r[0] = cpudev_cuMemAlloc_v2(&p, 256);
    r[1] = cpudev_cuMemGetInfo_v2(&f, &t);
    r[2] = cpudev_cuMemsetD8Async(0, 0, 1, NULL); /* legacy stream of no context */
    return NULL;
}

static void needs_a_context(void **state)
{
    CUresult r[3];
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, no_context_thread, r), 0);
    pthread_join(t, NULL);
    assert_int_equal(r[0], CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(r[1], CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(r[2], CUDA_ERROR_INVALID_CONTEXT);
}

static void copies_round_trip(void **state)
{
    enum { N = 100000 };
    unsigned char *h = malloc(N), *back = malloc(N);
    for (int i = 0; i < N; i++)
        h[i] = (unsigned char)(i * 7 + 3);
    CUdeviceptr a = dalloc(N), b = dalloc(N);
    upload(a, h, N);
    assert_int_equal(cpudev_cuMemcpyDtoDAsync_v2(b, a, N, NULL), CUDA_SUCCESS);
    download(back, b, N);
    assert_memory_equal(h, back, N);
    /* overlapping device-to-device copy inside one allocation */
    assert_int_equal(cpudev_cuMemcpyDtoDAsync_v2(a + 1, a, N - 1, NULL), CUDA_SUCCESS);
    download(back, a, N);
    assert_int_equal(back[0], h[0]);
    assert_memory_equal(back + 1, h, N - 1);
    /* the device address is the host address of the bytes */
    assert_ptr_equal(cpudev_host_ptr(a, N), (void *)(uintptr_t)a);
    assert_memory_equal(cpudev_host_ptr(b, N), h, N);
    /* zero bytes: nothing to check or do, even with null pointers */
    assert_int_equal(cpudev_cuMemcpyHtoDAsync_v2(0, NULL, 0, NULL), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuMemcpyHtoDAsync_v2(a, NULL, 0, (CUstream)0x77), CUDA_ERROR_INVALID_HANDLE);
    dfree(a);
    dfree(b);
    free(h);
    free(back);
}

/* Two neighbouring allocations with known contents. */
static void neighbours(CUdeviceptr *a, CUdeviceptr *b, unsigned char *pa, unsigned char *pb)
{
    *a = dalloc(256);
    *b = dalloc(256);
    assert_int_equal(*b, *a + 256);
    memset(pa, 0xa1, 256);
    memset(pb, 0xb2, 256);
    upload(*a, pa, 256);
    upload(*b, pb, 256);
}

static void unchanged(CUdeviceptr a, CUdeviceptr b, const unsigned char *pa, const unsigned char *pb)
{
    unsigned char back[256];
    download(back, a, 256);
    assert_memory_equal(back, pa, 256);
    download(back, b, 256);
    assert_memory_equal(back, pb, 256);
}

static void out_of_bounds_touches_nothing(void **state)
{
    CUdeviceptr a, b, c = dalloc(100);
    unsigned char pa[256], pb[256], src[1024];
    memset(src, 0xee, sizeof src);
    neighbours(&a, &b, pa, pb);

    /* One byte too many runs into the neighbour: refused. */
    assert_int_equal(cpudev_cuMemcpyHtoDAsync_v2(a, src, 257, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemcpyHtoDAsync_v2(a + 200, src, 57, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemcpyHtoDAsync_v2(a - 1, src, 2, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemcpyDtoHAsync_v2(src, a + 1, 256, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemcpyDtoDAsync_v2(a, b + 1, 256, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemcpyDtoDAsync_v2(b + 1, a, 256, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD8Async(a, 0, 257, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD16Async(a + 2, 0, 128, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD32Async(a, 0, 65, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD32Async(a + 2, 0, 1, NULL), CUDA_ERROR_INVALID_VALUE); /* misaligned */
    assert_int_equal(cpudev_cuMemsetD16Async(a + 1, 0, 1, NULL), CUDA_ERROR_INVALID_VALUE);
    /* 2D: every row must lie in one allocation; the second row straddles a|b */
    assert_int_equal(cpudev_cuMemsetD2D8Async(a, 200, 0, 100, 2, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD2D8Async(b, 200, 0, 100, 2, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD2D8Async(a, 64, 0, 128, 2, NULL), CUDA_ERROR_INVALID_VALUE); /* pitch < width */
    /* the padding of a 100-byte allocation is not writable */
    assert_int_equal(cpudev_cuMemsetD8Async(c + 100, 0, 1, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD8Async(c, 0, 101, NULL), CUDA_ERROR_INVALID_VALUE);
    /* null host pointers */
    assert_int_equal(cpudev_cuMemcpyHtoDAsync_v2(a, NULL, 1, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemcpyDtoHAsync_v2(NULL, a, 1, NULL), CUDA_ERROR_INVALID_VALUE);
    /* a 2D copy whose last row leaves the allocation */
    CUDA_MEMCPY2D cp = {0};
    cp.srcMemoryType = CU_MEMORYTYPE_HOST;
    cp.srcHost = src;
    cp.srcPitch = 64;
    cp.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    cp.dstDevice = a;
    cp.dstPitch = 100;
    cp.WidthInBytes = 64;
    cp.Height = 3; /* rows at 0, 100, 200: the last ends at 264 */
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&cp, NULL), CUDA_ERROR_INVALID_VALUE);
    cp.Height = 2;
    cp.dstY = 2; /* the same rows, reached through dstY */
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&cp, NULL), CUDA_ERROR_INVALID_VALUE);
    unchanged(a, b, pa, pb);

    /* freed memory is no longer a target */
    dfree(c);
    assert_int_equal(cpudev_cuMemsetD8Async(c, 0, 1, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_null(cpudev_host_ptr(c, 1));
    assert_null(cpudev_host_ptr(a, 257));
    assert_non_null(cpudev_host_ptr(a + 255, 1));
    assert_non_null(cpudev_host_ptr(a + 255, 0));
    assert_null(cpudev_host_ptr(b + 256, 0));
    dfree(a);
    dfree(b);
}

static void memsets(void **state)
{
    CUdeviceptr d = dalloc(4096);
    unsigned char back[4096];
    assert_int_equal(cpudev_cuMemsetD8Async(d, 0x5a, 4096, NULL), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuMemsetD16Async(d + 2, 0xbeef, 3, NULL), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuMemsetD32Async(d + 16, 0x01020304, 2, NULL), CUDA_SUCCESS);
    download(back, d, 4096);
    uint16_t s;
    uint32_t w;
    assert_int_equal(back[0], 0x5a);
    assert_int_equal(back[1], 0x5a);
    for (int i = 0; i < 3; i++) {
        memcpy(&s, back + 2 + 2 * i, 2);
        assert_int_equal(s, 0xbeef);
    }
    assert_int_equal(back[8], 0x5a);
    for (int i = 0; i < 2; i++) {
        memcpy(&w, back + 16 + 4 * i, 4);
        assert_int_equal(w, 0x01020304);
    }
    assert_int_equal(back[24], 0x5a);
    assert_int_equal(back[4095], 0x5a);

    /* 2D: 3 rows of 5 elements, pitch 64; the gaps keep their bytes */
    assert_int_equal(cpudev_cuMemsetD2D32Async(d + 512, 64, 0xcafef00d, 5, 3, NULL), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuMemsetD2D16Async(d + 1024, 32, 0x1111, 4, 2, NULL), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuMemsetD2D8Async(d + 2048, 10, 0x77, 3, 4, NULL), CUDA_SUCCESS);
    download(back, d, 4096);
    for (int y = 0; y < 3; y++) {
        for (int x = 0; x < 5; x++) {
            memcpy(&w, back + 512 + y * 64 + x * 4, 4);
            assert_int_equal(w, 0xcafef00d);
        }
        assert_int_equal(back[512 + y * 64 + 20], 0x5a);
    }
    for (int y = 0; y < 2; y++) {
        for (int x = 0; x < 4; x++) {
            memcpy(&s, back + 1024 + y * 32 + x * 2, 2);
            assert_int_equal(s, 0x1111);
        }
        assert_int_equal(back[1024 + y * 32 + 8], 0x5a);
    }
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 10; x++)
            assert_int_equal(back[2048 + y * 10 + x], x < 3 ? 0x77 : 0x5a);
    dfree(d);
}

static void copies_2d(void **state)
{
    enum { W = 40, H = 5, HP = 48 };
    unsigned char host[HP * (H + 1)], back[HP * H];
    for (int i = 0; i < HP * (H + 1); i++)
        host[i] = (unsigned char)i;
    CUdeviceptr d, e;
    size_t pitch, pitch2;
    assert_int_equal(cpudev_cuMemAllocPitch_v2(&d, &pitch, W, H, 4), CUDA_SUCCESS);
    assert_int_equal(pitch % 512, 0);
    assert_true(pitch >= W);
    assert_int_equal(cpudev_cuMemAllocPitch_v2(&e, &pitch2, W + 600, H + 1, 16), CUDA_SUCCESS);
    assert_int_equal(pitch2, 1024);
    assert_int_equal(cpudev_cuMemAllocPitch_v2(&e, &pitch2, W, H, 3), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemAllocPitch_v2(&e, &pitch2, 0, H, 4), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemsetD8Async(d, 0, pitch * H, NULL), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuMemsetD8Async(e, 0, pitch2 * (H + 1), NULL), CUDA_SUCCESS);

    /* host (pitch 48, from column 2) -> device (pitch 512) */
    CUDA_MEMCPY2D c = {0};
    c.srcMemoryType = CU_MEMORYTYPE_HOST;
    c.srcHost = host;
    c.srcPitch = HP;
    c.srcXInBytes = 2;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = d;
    c.dstPitch = pitch;
    c.WidthInBytes = W - 4;
    c.Height = H;
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&c, NULL), CUDA_SUCCESS);
    /* device -> device (unified addresses), to row 1, column 8 of e */
    CUDA_MEMCPY2D c2 = {0};
    c2.srcMemoryType = CU_MEMORYTYPE_UNIFIED;
    c2.srcDevice = d;
    c2.srcPitch = pitch;
    c2.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
    c2.dstDevice = e;
    c2.dstPitch = pitch2;
    c2.dstXInBytes = 8;
    c2.dstY = 1;
    c2.WidthInBytes = W - 4;
    c2.Height = H;
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&c2, NULL), CUDA_SUCCESS);
    /* device -> host, packed (pitch = width), as the server's wire form */
    CUDA_MEMCPY2D c3 = {0};
    c3.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    c3.srcDevice = e;
    c3.srcPitch = pitch2;
    c3.srcXInBytes = 8;
    c3.srcY = 1;
    c3.dstMemoryType = CU_MEMORYTYPE_HOST;
    c3.dstHost = back;
    c3.dstPitch = W - 4;
    c3.WidthInBytes = W - 4;
    c3.Height = H;
    memset(back, 0xff, sizeof back);
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&c3, NULL), CUDA_SUCCESS);
    sync0();
    for (int y = 0; y < H; y++)
        assert_memory_equal(back + y * (W - 4), host + y * HP + 2, W - 4);
    assert_int_equal(back[(W - 4) * H], 0xff);
    /* the bytes around the copied block in e stayed zero */
    unsigned char row[1024];
    download(row, e + pitch2, pitch2);
    for (int x = 0; x < 8; x++)
        assert_int_equal(row[x], 0);
    assert_int_equal(row[8 + W - 4], 0);

    /* refused descriptors */
    CUDA_MEMCPY2D bad = c;
    bad.dstMemoryType = CU_MEMORYTYPE_ARRAY; /* with no array */
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&bad, NULL), CUDA_ERROR_INVALID_HANDLE);
    bad = c;
    bad.srcMemoryType = (CUmemorytype)9;
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&bad, NULL), CUDA_ERROR_INVALID_VALUE);
    bad = c;
    bad.srcPitch = W - 5; /* narrower than X + width */
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&bad, NULL), CUDA_ERROR_INVALID_VALUE);
    bad = c;
    bad.dstPitch = (size_t)1 << 32; /* above CU_DEVICE_ATTRIBUTE_MAX_PITCH */
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&bad, NULL), CUDA_ERROR_INVALID_VALUE);
    bad = c2;
    bad.Height = H + 1; /* e has H + 1 rows, written from row 1: the last is past it */
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&bad, NULL), CUDA_ERROR_INVALID_VALUE);
    bad = c;
    bad.Height = H + 1; /* d's next row is e's first: each row lies in an allocation */
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&bad, NULL), CUDA_SUCCESS);
    sync0();
    bad = c;
    bad.dstY = SIZE_MAX / 2; /* overflowing offset */
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&bad, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    bad = c;
    bad.Height = 0;
    assert_int_equal(cpudev_cuMemcpy2DAsync_v2(&bad, NULL), CUDA_SUCCESS);
    dfree(d);
    dfree(e);
}

static void pointer_attributes(void **state)
{
    CUdeviceptr p = dalloc(3000), q = dalloc(10);
    unsigned char buf[32];
    for (int a = CU_POINTER_ATTRIBUTE_CONTEXT; a <= CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE; a++) {
        size_t n = rgpu_pointer_attribute_size((CUpointer_attribute)a);
        memset(buf, 0xcc, sizeof buf);
        CUresult r = cpudev_cuPointerGetAttribute(buf, (CUpointer_attribute)a, p + 5);
        if (a == CU_POINTER_ATTRIBUTE_HOST_POINTER || n == 0)
            assert_int_equal(r, CUDA_ERROR_INVALID_VALUE);
        else if (a == CU_POINTER_ATTRIBUTE_P2P_TOKENS)
            assert_int_equal(r, CUDA_ERROR_NOT_SUPPORTED);
        else if (r != CUDA_SUCCESS)
            fail_msg("attribute %d: error %d", a, r);
        for (size_t i = n; i < sizeof buf; i++)
            assert_int_equal(buf[i], 0xcc); /* exactly the wire's size is written */
    }
    CUcontext ctx = NULL;
    unsigned int type = 0;
    CUdeviceptr dp = 0, start = 0;
    unsigned long long id1 = 0, id2 = 0;
    size_t size = 0;
    int mapped = 0, managed = 1, ordinal = -1;
    assert_int_equal(cpudev_cuPointerGetAttribute(&ctx, CU_POINTER_ATTRIBUTE_CONTEXT, p), CUDA_SUCCESS);
    assert_ptr_equal(ctx, primary);
    assert_int_equal(cpudev_cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p), CUDA_SUCCESS);
    assert_int_equal(type, CU_MEMORYTYPE_DEVICE);
    assert_int_equal(cpudev_cuPointerGetAttribute(&dp, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, p + 7), CUDA_SUCCESS);
    assert_int_equal(dp, p + 7);
    assert_int_equal(cpudev_cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, p + 7),
                     CUDA_SUCCESS);
    assert_int_equal(start, p);
    assert_int_equal(cpudev_cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, p + 7), CUDA_SUCCESS);
    assert_int_equal(size, 3000);
    assert_int_equal(cpudev_cuPointerGetAttribute(&id1, CU_POINTER_ATTRIBUTE_BUFFER_ID, p), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID, q), CUDA_SUCCESS);
    assert_true(id1 != id2);
    assert_int_equal(cpudev_cuPointerGetAttribute(&mapped, CU_POINTER_ATTRIBUTE_MAPPED, q), CUDA_SUCCESS);
    assert_int_equal(mapped, 1);
    assert_int_equal(cpudev_cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, q), CUDA_SUCCESS);
    assert_int_equal(managed, 0);
    assert_int_equal(cpudev_cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, q), CUDA_SUCCESS);
    assert_int_equal(ordinal, 0);

    /* outside every allocation, bad arguments */
    assert_int_equal(cpudev_cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p + 3000),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)buf),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuPointerGetAttribute(NULL, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuPointerGetAttribute(&type, (CUpointer_attribute)0, p), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuPointerGetAttribute(&type, (CUpointer_attribute)999, p), CUDA_ERROR_INVALID_VALUE);
    dfree(q);
    assert_int_equal(cpudev_cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID, q), CUDA_ERROR_INVALID_VALUE);
    /* ids are never reused */
    CUdeviceptr r = dalloc(10);
    unsigned long long id3 = 0;
    assert_int_equal(cpudev_cuPointerGetAttribute(&id3, CU_POINTER_ATTRIBUTE_BUFFER_ID, r), CUDA_SUCCESS);
    assert_true(id3 != id1 && id3 != id2);
    dfree(r);
    dfree(p);
}

static void freed_pages_go_back(void **state)
{
    /* A page shared with a live neighbour keeps the neighbour's bytes. */
    CUdeviceptr a = dalloc(256), b = dalloc(256);
    unsigned char pb[256], back[256];
    memset(pb, 0x3c, sizeof pb);
    upload(b, pb, sizeof pb);
    dfree(a);
    download(back, b, sizeof back);
    assert_memory_equal(back, pb, sizeof pb);
    dfree(b);

    /* Whole pages are released: the same range comes back zeroed. */
    size_t n = 1 << 20;
    CUdeviceptr c = dalloc(n);
    assert_int_equal(cpudev_cuMemsetD8Async(c, 0xab, n, NULL), CUDA_SUCCESS);
    sync0();
    dfree(c);
    CUdeviceptr d = dalloc(n);
    assert_int_equal(d, c);
    const unsigned char *h = cpudev_host_ptr(d, n);
    assert_non_null(h);
    for (size_t i = 4096; i < n - 4096; i += 4096)
        assert_int_equal(h[i], 0);
    dfree(d);
}

/* ---- cuMemFree waits for queued work ---- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;

static void CUDA_CB gate(void *arg)
{
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

struct free_job {
    CUdeviceptr p;
    _Atomic int done;
    CUresult r;
};

static void *free_thread(void *arg)
{
    struct free_job *j = arg;
    cpudev_cuCtxSetCurrent(primary);
    j->r = cpudev_cuMemFree_v2(j->p);
    atomic_store(&j->done, 1);
    return NULL;
}

static void free_waits_for_queued_work(void **state)
{
    CUstream s;
    assert_int_equal(cpudev_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
    CUdeviceptr d = dalloc(4096);
    unsigned char pattern[4096], back[4096];
    memset(pattern, 0x42, sizeof pattern);
    memset(back, 0, sizeof back);
    upload(d, pattern, sizeof pattern);
    gate_open = 0;
    assert_int_equal(cpudev_cuLaunchHostFunc(s, gate, NULL), CUDA_SUCCESS);
    assert_int_equal(cpudev_cuMemcpyDtoHAsync_v2(back, d, sizeof back, s), CUDA_SUCCESS);

    struct free_job j = {.p = d};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_thread, &j), 0);
    usleep(50 * 1000);
    assert_int_equal(atomic_load(&j.done), 0); /* the gated copy still needs the memory */
    open_gate();
    pthread_join(t, NULL);
    assert_int_equal(j.r, CUDA_SUCCESS);
    assert_memory_equal(back, pattern, sizeof back); /* the copy ran before the free */
    assert_int_equal(cpudev_cuStreamDestroy_v2(s), CUDA_SUCCESS);
}

/* ---- many threads at once (for the sanitizers) ---- */

static void *churn(void *arg)
{
    uintptr_t seed = (uintptr_t)arg;
    CUstream s;
    unsigned char h[2048], back[2048];
    cpudev_cuCtxSetCurrent(primary);
    if (cpudev_cuStreamCreate(&s, 0))
        return (void *)1;
    for (int i = 0; i < 100; i++) {
        size_t n = 1 + (seed * 131 + (size_t)i * 17) % sizeof h;
        CUdeviceptr d;
        if (cpudev_cuMemAlloc_v2(&d, n))
            return (void *)1;
        memset(h, (int)(seed + (uintptr_t)i), n);
        if (cpudev_cuMemcpyHtoDAsync_v2(d, h, n, s) || cpudev_cuMemcpyDtoHAsync_v2(back, d, n, s) ||
            cpudev_cuStreamSynchronize(s) || memcmp(h, back, n) || cpudev_cuMemFree_v2(d))
            return (void *)1;
    }
    return cpudev_cuStreamDestroy_v2(s) ? (void *)1 : NULL;
}

static void concurrent_use(void **state)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *res;
        pthread_join(t[i], &res);
        assert_null(res);
    }
}

/* Last: the worker's exit hook gives its usage back to the shared counter
 * (another tenant's share stays) and closes the device. */
static void exit_returns_budget(void **state)
{
    uint64_t other = 5 << 20;
    atomic_fetch_add(&shared_used, other);
    uint64_t before = atomic_load(&shared_used);
    CUdeviceptr a = dalloc(1 << 20), b = dalloc(1000);
    assert_int_equal(atomic_load(&shared_used), before + (1 << 20) + 1024);
    cpudev_exit();
    assert_int_equal(atomic_load(&shared_used), before);
    CUdeviceptr c;
    int n;
    assert_int_equal(cpudev_cuMemAlloc_v2(&c, 16), CUDA_ERROR_DEINITIALIZED);
    assert_int_equal(cpudev_cuMemFree_v2(a), CUDA_ERROR_DEINITIALIZED);
    assert_int_equal(cpudev_cuDeviceGetCount(&n), CUDA_ERROR_DEINITIALIZED);
    assert_int_equal(cpudev_cuInit(0), CUDA_ERROR_DEINITIALIZED);
    cpudev_exit(); /* once only */
    assert_int_equal(atomic_load(&shared_used), before);
    (void)b;
    atomic_fetch_sub(&shared_used, other);
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
    CUdeviceptr base;
    size_t size;
    cpudev_va_range(&base, &size);
    if (size < MEM || cpudev_cuInit(0) || cpudev_cuDevicePrimaryCtxRetain(&primary, 0) ||
        cpudev_cuCtxSetCurrent(primary))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alloc_and_free),
        cmocka_unit_test(budget_and_shared_accounting),
        cmocka_unit_test(needs_a_context),
        cmocka_unit_test(copies_round_trip),
        cmocka_unit_test(out_of_bounds_touches_nothing),
        cmocka_unit_test(memsets),
        cmocka_unit_test(copies_2d),
        cmocka_unit_test(pointer_attributes),
        cmocka_unit_test(freed_pages_go_back),
        cmocka_unit_test(free_waits_for_queued_work),
        cmocka_unit_test(concurrent_use),
        cmocka_unit_test(exit_returns_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
