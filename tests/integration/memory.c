/*
 * memory.c — device and host memory through rgpu, checked byte-exactly.
 *
 * Every operation is mirrored on a host "model" of the device buffer, and
 * after each one the whole device buffer is read back and compared with the
 * model, so a copy or memset that writes a byte too many (or too few) is
 * caught along with wrong data.
 *
 * Covers: cuMemAlloc/AllocPitch/Free/GetInfo/GetAddressRange;
 * cuMemAllocHost/HostAlloc/FreeHost/HostRegister/HostUnregister/HostGetFlags/
 * HostGetDevicePointer; HtoD/DtoH/DtoD and their Async forms, cuMemcpy and
 * cuMemcpyAsync with unified addressing (H->D, D->H, D->D, H->H), each from
 * pageable and pinned host memory, sizes 1, 3, 4095, 65537 at unaligned
 * offsets; cuMemcpy2D/2DAsync (H->D, D->D, D->H, H->H, UNIFIED); memsets
 * D8/D16/D32 (+Async, +2D, +2D Async); cuPointerGetAttribute(s); batches of
 * copies (cuMemcpyBatchAsync and cuMemcpy3DBatchAsync, CUDA 12.8's forms with
 * failIdx and CUDA 13's);
 * a 1 GiB HtoD + DtoH round trip (RGPU_TEST_BIG_MIB overrides the size).
 */
#include "check.h"

#include <sys/types.h>

#define BUF (512u * 1024u)

static CUcontext ctx;
static CUstream s;
static unsigned char *scratch; /* read-back buffer, BUF bytes */

static const size_t sizes[] = {1, 3, 4095, 65537};
/* (device offset, host offset) pairs: aligned and both unaligned ways */
static const size_t offpairs[][2] = {{0, 0}, {1, 3}, {3, 5}, {4096 + 7, 1}};
#define NSIZES (sizeof sizes / sizeof sizes[0])
#define NOFFS (sizeof offpairs / sizeof offpairs[0])

/* compare the whole device buffer with its model */
static void verify_dev(CUdeviceptr d, const unsigned char *model, size_t n, const char *what)
{
    memset(scratch, 0xA5, n);
    CHECK(cuMemcpyDtoH(scratch, d, n));
    EXPECT_MEMEQ(scratch, model, n, what);
}

/* ---- copy modes ---- */
enum mode { M_SYNC, M_ASYNC_STREAM, M_ASYNC_NULL, M_UNIFIED, M_UNIFIED_ASYNC, NMODES };
static const char *const mode_name[NMODES] = {"sync", "async(stream)", "async(NULL stream)", "cuMemcpy",
                                              "cuMemcpyAsync"};

static void finish(enum mode m)
{
    if (m == M_ASYNC_STREAM || m == M_UNIFIED_ASYNC)
        CHECK(cuStreamSynchronize(s));
    else if (m == M_ASYNC_NULL)
        CHECK(cuStreamSynchronize(NULL));
}

static void do_htod(enum mode m, CUdeviceptr d, const void *h, size_t n)
{
    switch (m) {
    case M_SYNC: CHECK(cuMemcpyHtoD(d, h, n)); break;
    case M_ASYNC_STREAM: CHECK(cuMemcpyHtoDAsync(d, h, n, s)); break;
    case M_ASYNC_NULL: CHECK(cuMemcpyHtoDAsync(d, h, n, NULL)); break;
    case M_UNIFIED: CHECK(cuMemcpy(d, (CUdeviceptr)(uintptr_t)h, n)); break;
    case M_UNIFIED_ASYNC: CHECK(cuMemcpyAsync(d, (CUdeviceptr)(uintptr_t)h, n, s)); break;
    default: break;
    }
    finish(m);
}

static void do_dtoh(enum mode m, void *h, CUdeviceptr d, size_t n)
{
    switch (m) {
    case M_SYNC: CHECK(cuMemcpyDtoH(h, d, n)); break;
    case M_ASYNC_STREAM: CHECK(cuMemcpyDtoHAsync(h, d, n, s)); break;
    case M_ASYNC_NULL: CHECK(cuMemcpyDtoHAsync(h, d, n, NULL)); break;
    case M_UNIFIED: CHECK(cuMemcpy((CUdeviceptr)(uintptr_t)h, d, n)); break;
    case M_UNIFIED_ASYNC: CHECK(cuMemcpyAsync((CUdeviceptr)(uintptr_t)h, d, n, s)); break;
    default: break;
    }
    finish(m);
}

static void do_dtod(enum mode m, CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    switch (m) {
    case M_SYNC: CHECK(cuMemcpyDtoD(dst, src, n)); break;
    case M_ASYNC_STREAM: CHECK(cuMemcpyDtoDAsync(dst, src, n, s)); break;
    case M_ASYNC_NULL: CHECK(cuMemcpyDtoDAsync(dst, src, n, NULL)); break;
    case M_UNIFIED: CHECK(cuMemcpy(dst, src, n)); break;
    case M_UNIFIED_ASYNC: CHECK(cuMemcpyAsync(dst, src, n, s)); break;
    default: break;
    }
    finish(m);
}

static void test_1d_copies(void)
{
    CUdeviceptr d1, d2;
    unsigned char *m1 = it_xmalloc(BUF), *m2 = it_xmalloc(BUF);
    unsigned char *pageable = it_xmalloc(BUF), *pageable2 = it_xmalloc(BUF);
    unsigned char *pinned = NULL, *pinned2 = NULL;
    char what[256];
    uint64_t seed = 100;

    CHECK(cuMemAlloc(&d1, BUF));
    CHECK(cuMemAlloc(&d2, BUF));
    CHECK(cuMemAllocHost((void **)&pinned, BUF));
    CHECK(cuMemAllocHost((void **)&pinned2, BUF));
    it_fill(m1, BUF, 1);
    it_fill(m2, BUF, 2);
    CHECK(cuMemcpyHtoD(d1, m1, BUF));
    CHECK(cuMemcpyHtoD(d2, m2, BUF));
    verify_dev(d1, m1, BUF, "initial d1");
    verify_dev(d2, m2, BUF, "initial d2");

    for (int hk = 0; hk < 2; hk++) {
        unsigned char *h = hk ? pinned : pageable, *h2 = hk ? pinned2 : pageable2;
        const char *hname = hk ? "pinned" : "pageable";
        for (int m = 0; m < NMODES; m++) {
            for (size_t si = 0; si < NSIZES; si++) {
                for (size_t oi = 0; oi < NOFFS; oi++) {
                    size_t n = sizes[si], doff = offpairs[oi][0], hoff = offpairs[oi][1];
                    int before = it_failures;

                    /* HtoD */
                    it_fill(h + hoff, n, ++seed);
                    memcpy(m1 + doff, h + hoff, n);
                    do_htod((enum mode)m, d1 + doff, h + hoff, n);
                    snprintf(what, sizeof what, "HtoD %s %s n=%zu dev+%zu host+%zu", mode_name[m], hname, n,
                             doff, hoff);
                    verify_dev(d1, m1, BUF, what);

                    /* DtoH: exactly n bytes land at h+hoff, neighbours keep 0xCD */
                    size_t span = hoff + n + 64;
                    memset(h, 0xCD, span);
                    do_dtoh((enum mode)m, h + hoff, d1 + doff + 1, n);
                    snprintf(what, sizeof what, "DtoH %s %s n=%zu dev+%zu host+%zu", mode_name[m], hname, n,
                             doff + 1, hoff);
                    EXPECT_ALLBYTES(h, 0xCD, hoff, what);
                    EXPECT_MEMEQ(h + hoff, m1 + doff + 1, n, what);
                    EXPECT_ALLBYTES(h + hoff + n, 0xCD, 64, what);

                    /* DtoD: d2+hoff <- d1+doff */
                    memcpy(m2 + hoff, m1 + doff, n);
                    do_dtod((enum mode)m, d2 + hoff, d1 + doff, n);
                    snprintf(what, sizeof what, "DtoD %s n=%zu src+%zu dst+%zu", mode_name[m], n, doff, hoff);
                    verify_dev(d2, m2, BUF, what);

                    /* HtoH through the unified cuMemcpy forms */
                    if (m == M_UNIFIED || m == M_UNIFIED_ASYNC) {
                        it_fill(h + doff, n, ++seed);
                        memset(h2, 0xCD, span);
                        if (m == M_UNIFIED)
                            CHECK(cuMemcpy((CUdeviceptr)(uintptr_t)(h2 + hoff), (CUdeviceptr)(uintptr_t)(h + doff), n));
                        else
                            CHECK(cuMemcpyAsync((CUdeviceptr)(uintptr_t)(h2 + hoff),
                                                (CUdeviceptr)(uintptr_t)(h + doff), n, s));
                        finish((enum mode)m);
                        snprintf(what, sizeof what, "HtoH %s %s n=%zu src+%zu dst+%zu", mode_name[m], hname, n,
                                 doff, hoff);
                        EXPECT_ALLBYTES(h2, 0xCD, hoff, what);
                        EXPECT_MEMEQ(h2 + hoff, h + doff, n, what);
                        EXPECT_ALLBYTES(h2 + hoff + n, 0xCD, 64, what);
                    }
                    if (it_failures > before + 8) {
                        fprintf(stderr, "memory: too many failures in 1D copies, stopping this part\n");
                        goto out;
                    }
                }
            }
        }
    }
    /* zero-byte copies are no-ops */
    CHECK(cuMemcpyHtoD(d1, pageable, 0));
    CHECK(cuMemcpyDtoH(pageable, d1, 0));
    CHECK(cuMemcpyDtoD(d2, d1, 0));
    CHECK(cuMemcpyHtoDAsync(d1, pageable, 0, s));
    CHECK(cuStreamSynchronize(s));
    verify_dev(d1, m1, BUF, "after zero-byte copies d1");
    verify_dev(d2, m2, BUF, "after zero-byte copies d2");
    /* a copy within one allocation (non-overlapping) */
    memcpy(m1 + 200000, m1 + 3, 70001);
    CHECK(cuMemcpyDtoD(d1 + 200000, d1 + 3, 70001));
    verify_dev(d1, m1, BUF, "DtoD within one allocation");
out:
    CHECK(cuMemFree(d1));
    CHECK(cuMemFree(d2));
    CHECK(cuMemFreeHost(pinned));
    CHECK(cuMemFreeHost(pinned2));
    free(m1);
    free(m2);
    free(pageable);
    free(pageable2);
}

/* ---- memsets ---- */
static void model_set(unsigned char *m, size_t esz, uint32_t v, size_t count)
{
    for (size_t i = 0; i < count; i++)
        memcpy(m + i * esz, &v, esz); /* little-endian element */
}

static void test_memsets(void)
{
    CUdeviceptr d;
    unsigned char *m = it_xmalloc(BUF);
    char what[200];
    CHECK(cuMemAlloc(&d, BUF));
    it_fill(m, BUF, 3);
    CHECK(cuMemcpyHtoD(d, m, BUF));

    static const size_t offs8[] = {0, 1, 3}, offs16[] = {0, 2, 6}, offs32[] = {0, 4, 12};
    uint32_t k = 0;
    for (int esz = 1; esz <= 4; esz *= 2) {
        const size_t *offs = esz == 1 ? offs8 : esz == 2 ? offs16 : offs32;
        for (int async = 0; async < 3; async++) {
            for (size_t si = 0; si < NSIZES; si++) {
                for (int oi = 0; oi < 3; oi++) {
                    size_t n = sizes[si], off = offs[oi];
                    k++;
                    uint32_t v = 0x9E3779B9u * k ^ 0x01020304u;
                    if (esz == 1) {
                        v &= 0xff;
                        if (async == 0) CHECK(cuMemsetD8(d + off, (unsigned char)v, n));
                        else if (async == 1) CHECK(cuMemsetD8Async(d + off, (unsigned char)v, n, s));
                        else CHECK(cuMemsetD8Async(d + off, (unsigned char)v, n, NULL));
                    } else if (esz == 2) {
                        v &= 0xffff;
                        if (async == 0) CHECK(cuMemsetD16(d + off, (unsigned short)v, n));
                        else if (async == 1) CHECK(cuMemsetD16Async(d + off, (unsigned short)v, n, s));
                        else CHECK(cuMemsetD16Async(d + off, (unsigned short)v, n, NULL));
                    } else {
                        if (async == 0) CHECK(cuMemsetD32(d + off, v, n));
                        else if (async == 1) CHECK(cuMemsetD32Async(d + off, v, n, s));
                        else CHECK(cuMemsetD32Async(d + off, v, n, NULL));
                    }
                    if (async == 1)
                        CHECK(cuStreamSynchronize(s));
                    else if (async == 2)
                        CHECK(cuCtxSynchronize());
                    model_set(m + off, esz, v, n);
                    snprintf(what, sizeof what, "cuMemsetD%d%s n=%zu off=%zu value=%#x", esz * 8,
                             async == 1 ? "Async(stream)" : async == 2 ? "Async(NULL)" : "", n, off, v);
                    verify_dev(d, m, BUF, what);
                }
            }
        }
    }
    CHECK(cuMemsetD8(d, 0x11, 0)); /* zero elements: no-op */
    verify_dev(d, m, BUF, "cuMemsetD8 N=0");

    /* 2D memsets on a pitched allocation and on a linear one with a chosen pitch */
    CUdeviceptr pd;
    size_t pitch = 0;
    const size_t width_b = 4000, height = 12;
    CHECK(cuMemAllocPitch(&pd, &pitch, width_b, height, 4));
    EXPECT_GE(pitch, width_b);
    size_t psz = pitch * height;
    ASSERT_TRUE(psz <= BUF);
    unsigned char *pm = it_xmalloc(psz);
    it_fill(pm, psz, 4);
    CHECK(cuMemcpyHtoD(pd, pm, psz));
    verify_dev(pd, pm, psz, "pitched allocation written whole");

    static const size_t widths[] = {1, 3, 201};
    static const size_t heights[] = {1, 5};
    for (int target = 0; target < 2; target++) {
        CUdeviceptr base = target ? d : pd;
        unsigned char *model = target ? m : pm;
        size_t total = target ? BUF : psz;
        for (int esz = 1; esz <= 4; esz *= 2) {
            /* linear target: an arbitrary pitch (odd for 8-bit elements) */
            size_t dp = target ? (esz == 1 ? 999 : 1000) : pitch;
            for (int async = 0; async < 2; async++) {
                for (int wi = 0; wi < 3; wi++) {
                    for (int hi = 0; hi < 2; hi++) {
                        size_t w = widths[wi], h = heights[hi];
                        size_t x0 = (size_t)(wi + hi) * esz, y0 = 2;
                        CUdeviceptr dst = base + y0 * dp + x0;
                        k++;
                        uint32_t v = 0x85EBCA6Bu * k ^ 0xA1B2C3D4u;
                        if (esz == 1) {
                            v &= 0xff;
                            if (async) CHECK(cuMemsetD2D8Async(dst, dp, (unsigned char)v, w, h, s));
                            else CHECK(cuMemsetD2D8(dst, dp, (unsigned char)v, w, h));
                        } else if (esz == 2) {
                            v &= 0xffff;
                            if (async) CHECK(cuMemsetD2D16Async(dst, dp, (unsigned short)v, w, h, s));
                            else CHECK(cuMemsetD2D16(dst, dp, (unsigned short)v, w, h));
                        } else {
                            if (async) CHECK(cuMemsetD2D32Async(dst, dp, v, w, h, s));
                            else CHECK(cuMemsetD2D32(dst, dp, v, w, h));
                        }
                        if (async)
                            CHECK(cuStreamSynchronize(s));
                        for (size_t y = 0; y < h; y++)
                            model_set(model + (y0 + y) * dp + x0, esz, v, w);
                        snprintf(what, sizeof what, "cuMemsetD2D%d%s %s pitch=%zu x=%zu y=%zu w=%zu h=%zu v=%#x",
                                 esz * 8, async ? "Async" : "", target ? "linear" : "pitched", dp, x0, y0, w, h,
                                 v);
                        verify_dev(base, model, total, what);
                    }
                }
            }
        }
    }
    CHECK(cuMemFree(pd));
    CHECK(cuMemFree(d));
    free(pm);
    free(m);
}

/* ---- 2D copies ---- */
static void model_2d(unsigned char *dst, size_t dpitch, size_t dx, size_t dy, const unsigned char *src,
                     size_t spitch, size_t sx, size_t sy, size_t w, size_t h)
{
    for (size_t y = 0; y < h; y++)
        memcpy(dst + (dy + y) * dpitch + dx, src + (sy + y) * spitch + sx, w);
}

static void copy2d(int async, const CUDA_MEMCPY2D *c)
{
    if (async) {
        CHECK(cuMemcpy2DAsync(c, s));
        CHECK(cuStreamSynchronize(s));
    } else {
        CHECK(cuMemcpy2D(c));
    }
}

static void test_2d_copies(void)
{
    const size_t W = 1024, H = 16;
    const size_t hsp = 301, hsrows = 20; /* host source: odd pitch */
    const size_t hdp = 257, hdrows = 20; /* host destination: odd pitch */
    CUdeviceptr dp, dq;
    size_t pp = 0, pq = 0;
    char what[200];
    CHECK(cuMemAllocPitch(&dp, &pp, W, H, 4));
    CHECK(cuMemAllocPitch(&dq, &pq, W, H, 4));
    EXPECT_GE(pp, W);
    EXPECT_GE(pq, W);
    unsigned char *mp = it_xmalloc(pp * H), *mq = it_xmalloc(pq * H);
    unsigned char *hs = it_xmalloc(hsp * hsrows), *hd = it_xmalloc(hdp * hdrows), *hdm = it_xmalloc(hdp * hdrows);

    for (int async = 0; async < 2; async++) {
        const char *an = async ? "cuMemcpy2DAsync" : "cuMemcpy2D";
        it_fill(mp, pp * H, 10 + async);
        it_fill(mq, pq * H, 20 + async);
        CHECK(cuMemcpyHtoD(dp, mp, pp * H));
        CHECK(cuMemcpyHtoD(dq, mq, pq * H));
        it_fill(hs, hsp * hsrows, 30 + async);

        /* a) host -> device */
        CUDA_MEMCPY2D c;
        memset(&c, 0, sizeof c);
        c.srcMemoryType = CU_MEMORYTYPE_HOST;
        c.srcHost = hs;
        c.srcPitch = hsp;
        c.srcXInBytes = 5;
        c.srcY = 1;
        c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
        c.dstDevice = dp;
        c.dstPitch = pp;
        c.dstXInBytes = 7;
        c.dstY = 2;
        c.WidthInBytes = 123;
        c.Height = 6;
        copy2d(async, &c);
        model_2d(mp, pp, 7, 2, hs, hsp, 5, 1, 123, 6);
        snprintf(what, sizeof what, "%s host->device", an);
        verify_dev(dp, mp, pp * H, what);

        /* b) device -> device */
        memset(&c, 0, sizeof c);
        c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
        c.srcDevice = dp;
        c.srcPitch = pp;
        c.srcXInBytes = 3;
        c.srcY = 1;
        c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
        c.dstDevice = dq;
        c.dstPitch = pq;
        c.dstXInBytes = 11;
        c.dstY = 4;
        c.WidthInBytes = 200;
        c.Height = 7;
        copy2d(async, &c);
        model_2d(mq, pq, 11, 4, mp, pp, 3, 1, 200, 7);
        snprintf(what, sizeof what, "%s device->device", an);
        verify_dev(dq, mq, pq * H, what);

        /* c) device -> host, neighbours of the rectangle untouched */
        memset(hd, 0xEE, hdp * hdrows);
        memset(hdm, 0xEE, hdp * hdrows);
        memset(&c, 0, sizeof c);
        c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
        c.srcDevice = dq;
        c.srcPitch = pq;
        c.srcXInBytes = 0;
        c.srcY = 3;
        c.dstMemoryType = CU_MEMORYTYPE_HOST;
        c.dstHost = hd;
        c.dstPitch = hdp;
        c.dstXInBytes = 3;
        c.dstY = 4;
        c.WidthInBytes = 250;
        c.Height = 9;
        copy2d(async, &c);
        model_2d(hdm, hdp, 3, 4, mq, pq, 0, 3, 250, 9);
        snprintf(what, sizeof what, "%s device->host", an);
        EXPECT_MEMEQ(hd, hdm, hdp * hdrows, what);

        /* d) host -> host */
        memset(hd, 0xEE, hdp * hdrows);
        memset(hdm, 0xEE, hdp * hdrows);
        memset(&c, 0, sizeof c);
        c.srcMemoryType = CU_MEMORYTYPE_HOST;
        c.srcHost = hs;
        c.srcPitch = hsp;
        c.srcXInBytes = 1;
        c.srcY = 2;
        c.dstMemoryType = CU_MEMORYTYPE_HOST;
        c.dstHost = hd;
        c.dstPitch = hdp;
        c.dstXInBytes = 2;
        c.dstY = 1;
        c.WidthInBytes = 201;
        c.Height = 11;
        copy2d(async, &c);
        model_2d(hdm, hdp, 2, 1, hs, hsp, 1, 2, 201, 11);
        snprintf(what, sizeof what, "%s host->host", an);
        EXPECT_MEMEQ(hd, hdm, hdp * hdrows, what);

        /* e) CU_MEMORYTYPE_UNIFIED on both sides: host source, device destination */
        memset(&c, 0, sizeof c);
        c.srcMemoryType = CU_MEMORYTYPE_UNIFIED;
        c.srcDevice = (CUdeviceptr)(uintptr_t)hs;
        c.srcPitch = hsp;
        c.srcXInBytes = 9;
        c.srcY = 0;
        c.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
        c.dstDevice = dp;
        c.dstPitch = pp;
        c.dstXInBytes = 1;
        c.dstY = 9;
        c.WidthInBytes = 77;
        c.Height = 5;
        copy2d(async, &c);
        model_2d(mp, pp, 1, 9, hs, hsp, 9, 0, 77, 5);
        snprintf(what, sizeof what, "%s unified(host)->unified(device)", an);
        verify_dev(dp, mp, pp * H, what);

        /* f) a single byte, and whole dense rows */
        memset(&c, 0, sizeof c);
        c.srcMemoryType = CU_MEMORYTYPE_HOST;
        c.srcHost = hs;
        c.srcPitch = hsp;
        c.srcXInBytes = 300;
        c.srcY = 19;
        c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
        c.dstDevice = dq;
        c.dstPitch = pq;
        c.dstXInBytes = W - 1;
        c.dstY = H - 1;
        c.WidthInBytes = 1;
        c.Height = 1;
        copy2d(async, &c);
        model_2d(mq, pq, W - 1, H - 1, hs, hsp, 300, 19, 1, 1);
        snprintf(what, sizeof what, "%s 1x1 host->device", an);
        verify_dev(dq, mq, pq * H, what);

        memset(&c, 0, sizeof c);
        c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
        c.srcDevice = dp;
        c.srcPitch = pp;
        c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
        c.dstDevice = dq;
        c.dstPitch = pq;
        c.WidthInBytes = pp < pq ? pp : pq;
        c.Height = H;
        copy2d(async, &c);
        model_2d(mq, pq, 0, 0, mp, pp, 0, 0, pp < pq ? pp : pq, H);
        snprintf(what, sizeof what, "%s whole rows device->device", an);
        verify_dev(dq, mq, pq * H, what);
    }
    CHECK(cuMemFree(dp));
    CHECK(cuMemFree(dq));
    free(mp);
    free(mq);
    free(hs);
    free(hd);
    free(hdm);
}

/* ---- allocation bookkeeping ---- */
/* ---- 3D and peer copies ---- */

/* dst[(dz+z)*dh*dp + (dy+y)*dp + dx + x] = src[(sz+z)*sh*sp + (sy+y)*sp + sx + x] */
static void model_3d(unsigned char *dst, size_t dp, size_t dh, size_t dx, size_t dy, size_t dz,
                     const unsigned char *src, size_t sp, size_t sh, size_t sx, size_t sy, size_t sz, size_t w,
                     size_t h, size_t d)
{
    for (size_t z = 0; z < d; z++)
        for (size_t y = 0; y < h; y++)
            memcpy(dst + (dz + z) * dh * dp + (dy + y) * dp + dx, src + (sz + z) * sh * sp + (sy + y) * sp + sx, w);
}

static void test_3d_and_peer_copies(void)
{
    /* host box 48 x 6 rows x 5 slices -> device box 64 x 7 x 4 -> host box 40 x 8 x 5 */
    const size_t W = 29, H = 4, D = 3;
    const size_t hsp = 48, hsh = 6, hsd = 5, dp = 64, dh = 7, dd = 4, hdp = 40, hdh = 8, hdd = 5;
    unsigned char *src = it_xmalloc(hsp * hsh * hsd), *back = it_xmalloc(hdp * hdh * hdd);
    unsigned char *mdev = it_xmalloc(dp * dh * dd), *mback = it_xmalloc(hdp * hdh * hdd);
    it_fill(src, hsp * hsh * hsd, 31);
    CUdeviceptr dbox;
    CHECK(cuMemAlloc(&dbox, dp * dh * dd));
    CHECK(cuMemsetD8(dbox, 0xAB, dp * dh * dd));
    memset(mdev, 0xAB, dp * dh * dd);
    for (int async = 0; async < 2; async++) {
        CUDA_MEMCPY3D up = {.srcXInBytes = 3, .srcY = 1, .srcZ = 1, .srcMemoryType = CU_MEMORYTYPE_HOST,
                            .srcHost = src, .srcPitch = hsp, .srcHeight = hsh,
                            .dstXInBytes = 5, .dstY = 2, .dstZ = 0, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                            .dstDevice = dbox, .dstPitch = dp, .dstHeight = dh,
                            .WidthInBytes = W, .Height = H, .Depth = D};
        model_3d(mdev, dp, dh, 5, 2, 0, src, hsp, hsh, 3, 1, 1, W, H, D);
        if (async) {
            CHECK(cuMemcpy3DAsync(&up, s));
            CHECK(cuStreamSynchronize(s));
        } else {
            CHECK(cuMemcpy3D(&up));
        }
        verify_dev(dbox, mdev, dp * dh * dd, async ? "cuMemcpy3DAsync host->device" : "cuMemcpy3D host->device");

        memset(back, 0x5C, hdp * hdh * hdd);
        memset(mback, 0x5C, hdp * hdh * hdd);
        CUDA_MEMCPY3D down = {.srcXInBytes = 5, .srcY = 2, .srcZ = 1, .srcMemoryType = CU_MEMORYTYPE_UNIFIED,
                              .srcDevice = dbox, .srcPitch = dp, .srcHeight = dh,
                              .dstXInBytes = 1, .dstY = 3, .dstZ = 2, .dstMemoryType = CU_MEMORYTYPE_UNIFIED,
                              .dstDevice = (CUdeviceptr)(uintptr_t)back, .dstPitch = hdp, .dstHeight = hdh,
                              .WidthInBytes = W, .Height = H, .Depth = D - 1};
        model_3d(mback, hdp, hdh, 1, 3, 2, mdev, dp, dh, 5, 2, 1, W, H, D - 1);
        if (async) {
            CHECK(cuMemcpy3DAsync(&down, s));
            CHECK(cuStreamSynchronize(s));
        } else {
            CHECK(cuMemcpy3D(&down));
        }
        EXPECT_MEMEQ(back, mback, hdp * hdh * hdd, "cuMemcpy3D device->host (unified addresses)");
    }
    /* an array side that names no array; a LOD without a mipmapped array
     * (array copies: arrays.c) */
    CUDA_MEMCPY3D bad = {.srcMemoryType = CU_MEMORYTYPE_ARRAY, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                         .dstDevice = dbox, .dstPitch = dp, .dstHeight = dh, .WidthInBytes = 1, .Height = 1,
                         .Depth = 1};
    EXPECT_ERROR(cuMemcpy3D(&bad));
    bad.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    bad.srcDevice = dbox;
    bad.srcLOD = 1;
    EXPECT_RESULT(cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);

    /* peer copies between two contexts of the device */
    CUdevice dev;
    CHECK(cuCtxGetDevice(&dev));
    CUcontext other;
    CUctxCreateParams cp = {0};
    CHECK(cuCtxCreate(&other, &cp, 0, dev));
    const size_t n = 70001;
    CUdeviceptr in_other;
    CHECK(cuMemAlloc(&in_other, n));
    CHECK(cuCtxPopCurrent(&other));
    CUdeviceptr here;
    CHECK(cuMemAlloc(&here, n));
    unsigned char *hbuf = it_xmalloc(n), *got = it_xmalloc(n);
    it_fill(hbuf, n, 57);
    CHECK(cuMemcpyHtoD(here, hbuf, n));
    CHECK(cuMemcpyPeer(in_other, other, here, ctx, n));
    memset(got, 0, n);
    CHECK(cuMemcpyDtoH(got, in_other, n));
    EXPECT_MEMEQ(got, hbuf, n, "cuMemcpyPeer into another context");
    CHECK(cuMemsetD8(here, 0, n));
    CHECK(cuMemcpyPeerAsync(here + 1, ctx, in_other, other, n - 1, s));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(got, here, n));
    EXPECT_EQ(got[0], 0);
    EXPECT_MEMEQ(got + 1, hbuf, n - 1, "cuMemcpyPeerAsync back");
    CUDA_MEMCPY3D_PEER pc = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = in_other, .srcContext = other,
                             .srcPitch = 100, .srcHeight = 10, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                             .dstDevice = here, .dstContext = ctx, .dstPitch = 100, .dstHeight = 10,
                             .WidthInBytes = 100, .Height = 10, .Depth = 7};
    CHECK(cuMemcpy3DPeer(&pc));
    CHECK(cuMemcpyDtoH(got, here, 7000));
    EXPECT_MEMEQ(got, hbuf, 7000, "cuMemcpy3DPeer");
    EXPECT_RESULT(cuMemcpyPeer(here, (CUcontext)(uintptr_t)0x1234, in_other, other, 16), CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cuMemFree(here));
    CHECK(cuCtxPushCurrent(other));
    CHECK(cuMemFree(in_other));
    CHECK(cuCtxPopCurrent(&other));
    CHECK(cuCtxDestroy(other));
    CHECK(cuMemFree(dbox));
    free(src);
    free(back);
    free(mdev);
    free(mback);
    free(hbuf);
    free(got);
}

static void test_alloc_info(void)
{
    size_t free0, total0, free1, total1, free2, total2;
    CHECK(cuMemGetInfo(&free0, &total0));
    EXPECT_GT(total0, 0);
    EXPECT_LE(free0, total0);
    printf("memory: cuMemGetInfo free %zu MiB of %zu MiB\n", free0 >> 20, total0 >> 20);

    const size_t big = 256u << 20;
    CUdeviceptr b;
    CHECK(cuMemAlloc(&b, big));
    CHECK(cuMemGetInfo(&free1, &total1));
    EXPECT_EQ(total1, total0);
    EXPECT_LE(free1, free0 - big);
    CHECK(cuMemFree(b));
    CHECK(cuMemGetInfo(&free2, &total2));
    EXPECT_GE(free2, free0);

    /* odd sizes, each fully usable, distinct, and found by cuMemGetAddressRange */
    CUdeviceptr p[NSIZES];
    for (size_t i = 0; i < NSIZES; i++) {
        CHECK(cuMemAlloc(&p[i], sizes[i]));
        EXPECT_NE(p[i], 0);
        for (size_t j = 0; j < i; j++)
            EXPECT_TRUE(p[i] + sizes[i] <= p[j] || p[j] + sizes[j] <= p[i]);
    }
    for (size_t i = 0; i < NSIZES; i++) {
        CUdeviceptr base = 0;
        size_t sz = 0;
        CHECK(cuMemGetAddressRange(&base, &sz, p[i]));
        EXPECT_EQ(base, p[i]);
        EXPECT_GE(sz, sizes[i]);
        base = 0;
        sz = 0;
        CHECK(cuMemGetAddressRange(&base, &sz, p[i] + sizes[i] - 1)); /* last byte */
        EXPECT_EQ(base, p[i]);
        CHECK(cuMemGetAddressRange(&base, NULL, p[i] + sizes[i] / 2));
        EXPECT_EQ(base, p[i]);
        CHECK(cuMemGetAddressRange(NULL, &sz, p[i]));
        EXPECT_GE(sz, sizes[i]);
        /* the whole allocation is writable and readable */
        unsigned char *in = it_xmalloc(sizes[i]), *out = it_xmalloc(sizes[i]);
        it_fill(in, sizes[i], 50 + i);
        CHECK(cuMemcpyHtoD(p[i], in, sizes[i]));
        CHECK(cuMemcpyDtoH(out, p[i], sizes[i]));
        EXPECT_MEMEQ(out, in, sizes[i], "odd-size allocation round trip");
        free(in);
        free(out);
    }
    for (size_t i = 0; i < NSIZES; i++)
        CHECK(cuMemFree(p[i]));
    /* a freed allocation is not found any more */
    CUdeviceptr base;
    EXPECT_RESULT2(cuMemGetAddressRange(&base, NULL, p[3]), CUDA_ERROR_NOT_FOUND, CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT2(cuMemGetAddressRange(&base, NULL, (CUdeviceptr)0x10), CUDA_ERROR_NOT_FOUND,
                   CUDA_ERROR_INVALID_VALUE);

    /* pitched: pitch >= width, pitch*height usable, address range covers it */
    CUdeviceptr pd;
    size_t pitch = 0;
    CHECK(cuMemAllocPitch(&pd, &pitch, 1001, 7, 8));
    EXPECT_GE(pitch, 1001);
    size_t sz = 0;
    CHECK(cuMemGetAddressRange(&base, &sz, pd + 3 * pitch));
    EXPECT_EQ(base, pd);
    EXPECT_GE(sz, pitch * 7);
    unsigned char *in = it_xmalloc(pitch * 7), *out = it_xmalloc(pitch * 7);
    it_fill(in, pitch * 7, 60);
    CHECK(cuMemcpyHtoD(pd, in, pitch * 7));
    CHECK(cuMemcpyDtoH(out, pd, pitch * 7));
    EXPECT_MEMEQ(out, in, pitch * 7, "pitched allocation round trip");
    CHECK(cuMemFree(pd));
    free(in);
    free(out);
    EXPECT_RESULT(cuMemAllocPitch(&pd, &pitch, 64, 4, 3), CUDA_ERROR_INVALID_VALUE); /* element size 4, 8 or 16 */
}

/* ---- mapped host memory: host writes reach the device before later device
 * work, device writes reach the host when a synchronising call returns ---- */
static void test_mapped_memory(void)
{
    const size_t n = 4096 + 13;
    unsigned char *hm = NULL, *want = it_xmalloc(n), *got = it_xmalloc(n);
    CHECK(cuMemHostAlloc((void **)&hm, n, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE));
    ASSERT_TRUE(hm != NULL);
    CUdeviceptr dm = 0;
    CHECK(cuMemHostGetDevicePointer(&dm, hm + 7, 0));
    dm -= 7;
    if (it_backend_is_cpu()) /* unified addressing: the same address on both sides */
        EXPECT_EQ(dm, (CUdeviceptr)(uintptr_t)hm);
    CUdeviceptr attr_dp = 0;
    int is_mapped = 0;
    CHECK(cuPointerGetAttribute(&attr_dp, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, (CUdeviceptr)(uintptr_t)(hm + 5)));
    EXPECT_EQ(attr_dp, dm + 5);
    CHECK(cuPointerGetAttribute(&is_mapped, CU_POINTER_ATTRIBUTE_MAPPED, (CUdeviceptr)(uintptr_t)hm));
    EXPECT_EQ(is_mapped, 1);

    /* host -> device: the device copies what the host wrote */
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, n));
    it_fill(hm, n, 91);
    memcpy(want, hm, n);
    CHECK(cuMemcpyDtoD(d, dm, n));
    CHECK(cuMemcpyDtoH(got, d, n));
    EXPECT_MEMEQ(got, want, n, "mapped memory step 1");

    /* device -> host: a memset of the mirror, seen after synchronisation */
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuMemsetD8Async(dm + 100, 0x5A, 50, s));
    CHECK(cuStreamSynchronize(s));
    memset(want + 100, 0x5A, 50);
    EXPECT_MEMEQ(hm, want, n, "mapped memory step 2");

    /* host writes made after that are not lost to the next download */
    hm[3] = 0xEE;
    want[3] = 0xEE;
    CHECK(cuMemsetD8Async(dm + 4000, 0x01, 2, s));
    CHECK(cuStreamSynchronize(s));
    want[4000] = want[4001] = 0x01;
    EXPECT_MEMEQ(hm, want, n, "mapped memory step 3");

    /* a device copy into mapped memory, then a query that reports completion */
    CHECK(cuMemsetD8(d, 0x77, 64));
    CUevent ev;
    CHECK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
    CHECK(cuMemcpyDtoDAsync(dm + 200, d, 64, s));
    CHECK(cuEventRecord(ev, s));
    CUresult q;
    while ((q = cuEventQuery(ev)) == CUDA_ERROR_NOT_READY)
        ;
    CHECK(q);
    memset(want + 200, 0x77, 64);
    EXPECT_MEMEQ(hm, want, n, "mapped memory step 4");
    CHECK(cuEventDestroy(ev));
    CHECK(cuMemFreeHost(hm));

    /* registered memory with DEVICEMAP: a mirror at another address */
    const size_t rn = 3 * 4096;
    unsigned char *reg = it_xmalloc(rn);
    memset(reg, 0x42, rn);
    CHECK(cuMemHostRegister(reg, rn, CU_MEMHOSTREGISTER_DEVICEMAP));
    CUdeviceptr dr = 0;
    CHECK(cuMemHostGetDevicePointer(&dr, reg, 0));
    CHECK(cuMemcpyDtoH(got, dr, 64));
    memset(want, 0x42, 64);
    EXPECT_MEMEQ(got, want, 64, "mapped memory step 5");
    CHECK(cuMemsetD32(dr + 4096, 0x01020304, 4));
    for (int i = 0; i < 4; i++) {
        uint32_t v;
        memcpy(&v, reg + 4096 + 4 * i, 4);
        EXPECT_EQ(v, 0x01020304u);
    }
    CHECK(cuMemHostUnregister(reg));
    EXPECT_RESULT(cuMemHostGetDevicePointer(&dr, reg, 0), CUDA_ERROR_INVALID_VALUE);

    CHECK(cuStreamDestroy(s));
    CHECK(cuMemFree(d));
    free(reg);
    free(want);
    free(got);
}

/* ---- pinned and registered host memory ---- */
static void test_host_memory(void)
{
    int can_map = -1;
    CHECK(cuDeviceGetAttribute(&can_map, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 0));
    EXPECT_EQ(can_map, 1); /* the client mirrors mapped memory on every backend */

    void *h = NULL;
    unsigned int flags = 0xdead;
    CHECK(cuMemAllocHost(&h, 65537));
    ASSERT_TRUE(h != NULL);
    memset(h, 0x3C, 65537); /* ordinary host memory to the program */
    CHECK(cuMemHostGetFlags(&flags, h));
    EXPECT_TRUE(!(flags & CU_MEMHOSTALLOC_WRITECOMBINED));
    CHECK(cuMemFreeHost(h));

    CHECK(cuMemHostAlloc(&h, 4095, CU_MEMHOSTALLOC_PORTABLE));
    CHECK(cuMemHostGetFlags(&flags, h));
    EXPECT_TRUE(flags & CU_MEMHOSTALLOC_PORTABLE);
    EXPECT_TRUE(!(flags & CU_MEMHOSTALLOC_WRITECOMBINED));
    void *h2 = NULL;
    CHECK(cuMemHostAlloc(&h2, 3, CU_MEMHOSTALLOC_WRITECOMBINED));
    CHECK(cuMemHostGetFlags(&flags, h2));
    EXPECT_TRUE(flags & CU_MEMHOSTALLOC_WRITECOMBINED);
    CHECK(cuMemFreeHost(h2));

    /* only mapped memory has a device address */
    CUdeviceptr mapped = 0;
    EXPECT_RESULT(cuMemHostGetDevicePointer(&mapped, h, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemFreeHost(h));

    /* pageable memory is not pinned */
    unsigned char *pg = it_xmalloc(8192);
    EXPECT_RESULT(cuMemHostGetFlags(&flags, pg), CUDA_ERROR_INVALID_VALUE);

    /* register / unregister a pageable range, and copy through it */
    const size_t rsz = 3 * 65536 + 17;
    unsigned char *r = it_xmalloc(rsz), *back = it_xmalloc(rsz);
    CHECK(cuMemHostRegister(r, rsz, 0));
    EXPECT_RESULT(cuMemHostRegister(r, rsz, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    unsigned int mt = 0;
    CHECK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)r));
    EXPECT_EQ(mt, CU_MEMORYTYPE_HOST);
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, rsz));
    it_fill(r, rsz, 70);
    CHECK(cuMemcpyHtoDAsync(d, r, rsz, s));
    CHECK(cuStreamSynchronize(s));
    memset(back, 0, rsz);
    CHECK(cuMemcpyDtoH(back, d, rsz));
    EXPECT_MEMEQ(back, r, rsz, "HtoDAsync from registered memory");
    memset(r, 0, rsz);
    CHECK(cuMemcpyDtoHAsync(r + 1, d + 2, rsz - 2, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_MEMEQ(r + 1, back + 2, rsz - 2, "DtoHAsync into registered memory");
    EXPECT_EQ(r[0], 0);
    EXPECT_EQ(r[rsz - 1], 0);
    CHECK(cuMemHostUnregister(r));
    EXPECT_RESULT(cuMemHostUnregister(r), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    EXPECT_RESULT(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)r),
                  CUDA_ERROR_INVALID_VALUE);
    /* the memory is still the program's after unregistering */
    r[0] = 1;
    r[rsz - 1] = 2;
    CHECK(cuMemFree(d));
    free(r);
    free(back);
    free(pg);
}

/* ---- pointer attributes ---- */
static void test_pointer_attributes(void)
{
    CUdeviceptr d1, d2;
    CHECK(cuMemAlloc(&d1, 65537));
    CHECK(cuMemAlloc(&d2, 4095));

    unsigned int mt = 0;
    CUdeviceptr dp = 0;
    CUcontext c = NULL;
    int ord = -1, managed = -1;
    unsigned long long id1 = 0, id2 = 0;
    void *start = NULL;
    size_t rsize = 0;
    CHECK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d1 + 100));
    EXPECT_EQ(mt, CU_MEMORYTYPE_DEVICE);
    CHECK(cuPointerGetAttribute(&dp, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, d1 + 100));
    EXPECT_EQ(dp, d1 + 100);
    CHECK(cuPointerGetAttribute(&c, CU_POINTER_ATTRIBUTE_CONTEXT, d1));
    EXPECT_TRUE(c == ctx);
    CHECK(cuPointerGetAttribute(&ord, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, d1));
    EXPECT_EQ(ord, 0);
    CHECK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d1));
    EXPECT_EQ(managed, 0);
    CHECK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, d1 + 65536));
    EXPECT_EQ((uintptr_t)start, d1);
    CHECK(cuPointerGetAttribute(&rsize, CU_POINTER_ATTRIBUTE_RANGE_SIZE, d1 + 5));
    EXPECT_GE(rsize, 65537);
    CHECK(cuPointerGetAttribute(&id1, CU_POINTER_ATTRIBUTE_BUFFER_ID, d1));
    CHECK(cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID, d2));
    EXPECT_NE(id1, id2);
    CHECK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d2 + 4094));
    EXPECT_EQ(mt, CU_MEMORYTYPE_DEVICE);

    /* several at once */
    CUpointer_attribute attrs[4] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_DEVICE_POINTER,
                                    CU_POINTER_ATTRIBUTE_CONTEXT, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
    unsigned int mt2 = 0;
    CUdeviceptr dp2 = 0;
    CUcontext c2 = NULL;
    int ord2 = -1;
    void *data[4] = {&mt2, &dp2, &c2, &ord2};
    CHECK(cuPointerGetAttributes(4, attrs, data, d2 + 1));
    EXPECT_EQ(mt2, CU_MEMORYTYPE_DEVICE);
    EXPECT_EQ(dp2, d2 + 1);
    EXPECT_TRUE(c2 == ctx);
    EXPECT_EQ(ord2, 0);

    /* pinned host memory */
    void *h = NULL;
    CHECK(cuMemAllocHost(&h, 8192));
    void *hp = NULL;
    CHECK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)h + 8));
    EXPECT_EQ(mt, CU_MEMORYTYPE_HOST);
    CHECK(cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, (CUdeviceptr)(uintptr_t)h + 8));
    EXPECT_TRUE(hp == (char *)h + 8);
    CHECK(cuPointerGetAttribute(&c, CU_POINTER_ATTRIBUTE_CONTEXT, (CUdeviceptr)(uintptr_t)h));
    EXPECT_TRUE(c == ctx);
    CHECK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, (CUdeviceptr)(uintptr_t)h));
    EXPECT_EQ(managed, 0);
    mt2 = 0;
    CHECK(cuPointerGetAttributes(1, attrs, data, (CUdeviceptr)(uintptr_t)h));
    EXPECT_EQ(mt2, CU_MEMORYTYPE_HOST);

    /* a device pointer has no host pointer; pageable memory is unknown */
    unsigned char *pg = it_xmalloc(64);
    EXPECT_RESULT(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)pg),
                  CUDA_ERROR_INVALID_VALUE);
    /* documented: cuPointerGetAttributes does not fail on an unknown pointer */
    mt2 = 0x77;
    CHECK(cuPointerGetAttributes(1, attrs, data, (CUdeviceptr)(uintptr_t)pg));
    EXPECT_EQ(mt2, 0);
    EXPECT_RESULT(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)0xdead0000ull),
                  CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuPointerGetAttribute(NULL, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d1), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemFree(d1));
    EXPECT_RESULT(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d1), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemFree(d2));
    CHECK(cuMemFreeHost(h));
    free(pg);
}

/* ---- 1 GiB round trip ---- */
static void test_big_roundtrip(void)
{
    size_t mib = 1024;
    const char *e = getenv("RGPU_TEST_BIG_MIB");
    if (e && atoi(e) > 0)
        mib = (size_t)atoi(e);
    const size_t n = mib << 20, words = n / 8;
    uint64_t *h = malloc(n);
    ASSERT_TRUE(h != NULL);
    uint64_t st = 0x0123456789ABCDEFull, sum = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < words; i++) {
        h[i] = it_xs_next(&st);
        sum = (sum ^ h[i]) * 0x100000001b3ull; /* FNV-1a over 64-bit words */
    }
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, n));
    double t0 = it_now();
    CHECK(cuMemcpyHtoD(d, h, n));
    double t1 = it_now();
    memset(h, 0, n);
    double t2 = it_now();
    CHECK(cuMemcpyDtoH(h, d, n));
    double t3 = it_now();
    printf("memory: %zu MiB HtoD %.2f s (%.0f MiB/s), DtoH %.2f s (%.0f MiB/s)\n", mib, t1 - t0,
           (double)mib / (t1 - t0), t3 - t2, (double)mib / (t3 - t2));
    uint64_t st2 = 0x0123456789ABCDEFull, sum2 = 0xcbf29ce484222325ull;
    size_t first_bad = (size_t)-1;
    for (size_t i = 0; i < words; i++) {
        uint64_t want = it_xs_next(&st2);
        if (h[i] != want && first_bad == (size_t)-1)
            first_bad = i;
        sum2 = (sum2 ^ h[i]) * 0x100000001b3ull;
    }
    if (sum2 != sum || first_bad != (size_t)-1)
        it_fail(__FILE__, __LINE__, "%zu MiB round trip: checksum %#llx, expected %#llx; first bad byte offset %zd",
                mib, (unsigned long long)sum2, (unsigned long long)sum,
                first_bad == (size_t)-1 ? (ssize_t)-1 : (ssize_t)(first_bad * 8));
    CHECK(cuMemFree(d));
    free(h);
}

/* cuTensorMapEncodeTiled: a TMA descriptor of a device buffer (cuBLAS's
 * sm_90 kernels take them). NVIDIA's driver encodes it; the CPU device has
 * no tensor memory accelerator and says so. Bad ranks never reach it. */
static void test_tensor_map(void)
{
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, 64 * 64 * 2));
    CUtensorMap map;
    memset(&map, 0, sizeof map);
    cuuint64_t dim[2] = {64, 64}, strides[1] = {64 * 2};
    cuuint32_t box[2] = {16, 16}, elem[2] = {1, 1};
    CUresult r = cuTensorMapEncodeTiled(&map, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, (void *)(uintptr_t)d, dim, strides,
                                        box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
                                        CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (it_backend_is_cpu()) {
        EXPECT_RESULT(r, CUDA_ERROR_NOT_SUPPORTED);
    } else {
        EXPECT_RESULT(r, CUDA_SUCCESS);
        static const CUtensorMap zero;
        EXPECT_TRUE(memcmp(&map, &zero, sizeof map) != 0);
    }
    EXPECT_RESULT(cuTensorMapEncodeTiled(&map, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 0, (void *)(uintptr_t)d, dim, strides,
                                         box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
                                         CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
                  CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuTensorMapEncodeTiled(&map, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, (void *)(uintptr_t)d, dim, NULL,
                                         box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
                                         CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
                  CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemFree(d));
}

typedef CUresult (*batch_v1_fn)(CUdeviceptr *, CUdeviceptr *, size_t *, size_t, CUmemcpyAttributes *, size_t *,
                                 size_t, size_t *, CUstream);
typedef CUresult (*batch_v2_fn)(CUdeviceptr *, CUdeviceptr *, size_t *, size_t, CUmemcpyAttributes *, size_t *,
                                 size_t, CUstream);

/* a batch of copies: host to device from pageable and page-locked memory (the
 * latter read during the call, so it may change right after), device to
 * device, device to host; then what CUDA refuses */
static void test_batch_copies(void)
{
    void *f1 = NULL, *f2 = NULL;
    CUdriverProcAddressQueryResult q;
    if (cuGetProcAddress("cuMemcpyBatchAsync", &f1, 12080, CU_GET_PROC_ADDRESS_DEFAULT, &q) != CUDA_SUCCESS ||
        cuGetProcAddress("cuMemcpyBatchAsync", &f2, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &q) != CUDA_SUCCESS || !f1 ||
        !f2) {
        printf("memory: batch copies: the driver has none (older than CUDA 12.8), skipped\n");
        return;
    }
    batch_v1_fn batch_v1 = (batch_v1_fn)f1;
    batch_v2_fn batch_v2 = (batch_v2_fn)f2;
    enum { N = 4096 };
    CUdeviceptr d[3];
    for (int i = 0; i < 3; i++)
        CHECK(cuMemAlloc(&d[i], N));
    unsigned char *pageable = it_xmalloc(N), *out = it_xmalloc(N), *pinned = NULL;
    CHECK(cuMemAllocHost((void **)&pinned, N));
    it_fill(pageable, N, 11);
    it_fill(pinned, N, 12);
    unsigned char *want_pinned = it_xmalloc(N);
    memcpy(want_pinned, pinned, N);
    CUdeviceptr dsts[] = {d[0], d[1], d[2], (CUdeviceptr)(uintptr_t)out};
    CUdeviceptr srcs[] = {(CUdeviceptr)(uintptr_t)pageable, (CUdeviceptr)(uintptr_t)pinned, d[0], d[2]};
    size_t szs[] = {N, N, N, N};
    CUmemcpyAttributes attrs[2];
    memset(attrs, 0, sizeof attrs);
    attrs[0].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
    attrs[1].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL;
    attrs[1].flags = CU_MEMCPY_FLAG_PREFER_OVERLAP_WITH_COMPUTE;
    size_t idxs[] = {0, 1};
    /* the DtoH copy reads d[2], which the DtoD copy of the same batch writes:
     * dependent copies in one batch are undefined, so that one goes alone */
    CHECK(batch_v2(dsts, srcs, szs, 3, attrs, idxs, 2, s));
    memset(pinned, 0xee, N); /* read during the call: the device has what was there before */
    size_t fail = 0;
    CHECK(batch_v1(dsts + 3, srcs + 3, szs + 3, 1, attrs, idxs, 1, &fail, s));
    EXPECT_TRUE(fail == SIZE_MAX);
    CHECK(cuStreamSynchronize(s));
    EXPECT_TRUE(memcmp(out, pageable, N) == 0);
    CHECK(cuMemcpyDtoH(out, d[1], N));
    EXPECT_TRUE(memcmp(out, want_pinned, N) == 0);

    /* what CUDA refuses: no attributes, a first index other than 0, no access
     * order, the legacy stream; a copy that fails names its index */
    idxs[0] = 1;
    EXPECT_RESULT(batch_v2(dsts, srcs, szs, 3, attrs, idxs, 1, s), CUDA_ERROR_INVALID_VALUE);
    idxs[0] = 0;
    EXPECT_RESULT(batch_v2(dsts, srcs, szs, 3, attrs, idxs, 0, s), CUDA_ERROR_INVALID_VALUE);
    attrs[0].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_INVALID;
    EXPECT_RESULT(batch_v2(dsts, srcs, szs, 3, attrs, idxs, 1, s), CUDA_ERROR_INVALID_VALUE);
    attrs[0].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
    EXPECT_RESULT(batch_v2(dsts, srcs, szs, 3, attrs, idxs, 1, CU_STREAM_LEGACY), CUDA_ERROR_INVALID_VALUE);
    size_t big[] = {N, N * 4, N}; /* the second leaves its allocation */
    CUdeviceptr ddst[] = {d[1], d[1], d[1]}, dsrc[] = {d[0], d[0], d[0]};
    fail = SIZE_MAX;
    EXPECT_ERROR(batch_v1(ddst, dsrc, big, 3, attrs, idxs, 1, &fail, s));
    EXPECT_TRUE(fail == 1);
    EXPECT_RESULT(cuStreamSynchronize(s), CUDA_SUCCESS); /* nothing latched */
    CHECK(cuMemFreeHost(pinned));
    free(pageable);
    free(out);
    free(want_pinned);
    for (int i = 0; i < 3; i++)
        CHECK(cuMemFree(d[i]));
    printf("memory: batch copies: done\n");
}

typedef CUresult (*batch3d_v1_fn)(size_t, CUDA_MEMCPY3D_BATCH_OP *, size_t *, unsigned long long, CUstream);
typedef CUresult (*batch3d_v2_fn)(size_t, CUDA_MEMCPY3D_BATCH_OP *, unsigned long long, CUstream);

static CUmemcpy3DOperand ptr_operand(const void *p, size_t row_len)
{
    CUmemcpy3DOperand o;
    memset(&o, 0, sizeof o);
    o.type = CU_MEMCPY_OPERAND_TYPE_POINTER;
    o.op.ptr.ptr = (CUdeviceptr)(uintptr_t)p;
    o.op.ptr.rowLength = row_len;
    return o;
}

static CUmemcpy3DOperand array_operand(CUarray a, size_t x, size_t y)
{
    CUmemcpy3DOperand o;
    memset(&o, 0, sizeof o);
    o.type = CU_MEMCPY_OPERAND_TYPE_ARRAY;
    o.op.array.array = a;
    o.op.array.offset.x = x;
    o.op.array.offset.y = y;
    return o;
}

/* 3D batches: a 4 x 3 box of floats from host memory into an array at (2, 1),
 * out again into pitched device memory (rows of 8 floats), and from there,
 * as bytes, to packed host memory */
static void test_batch_3d_copies(void)
{
    void *f1 = NULL, *f2 = NULL;
    CUdriverProcAddressQueryResult q;
    if (cuGetProcAddress("cuMemcpy3DBatchAsync", &f1, 12080, CU_GET_PROC_ADDRESS_DEFAULT, &q) != CUDA_SUCCESS ||
        cuGetProcAddress("cuMemcpy3DBatchAsync", &f2, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &q) != CUDA_SUCCESS || !f1 ||
        !f2) {
        printf("memory: 3D batch copies: the driver has none, skipped\n");
        return;
    }
    batch3d_v1_fn b1 = (batch3d_v1_fn)f1;
    batch3d_v2_fn b2 = (batch3d_v2_fn)f2;
    CUDA_ARRAY3D_DESCRIPTOR ad;
    memset(&ad, 0, sizeof ad);
    ad.Width = 16;
    ad.Height = 8;
    ad.Format = CU_AD_FORMAT_FLOAT;
    ad.NumChannels = 1;
    CUarray arr;
    CHECK(cuArray3DCreate(&arr, &ad));
    float box[12], back[12];
    for (int i = 0; i < 12; i++)
        box[i] = (float)(i * 3 + 1);
    CUdeviceptr pitched;
    CHECK(cuMemAlloc(&pitched, 8 * 3 * sizeof(float)));
    CHECK(cuMemsetD8(pitched, 0, 8 * 3 * sizeof(float)));
    CUDA_MEMCPY3D_BATCH_OP ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].src = ptr_operand(box, 0);
    ops[0].dst = array_operand(arr, 2, 1);
    ops[0].extent = (CUextent3D){4, 3, 1};
    ops[0].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL;
    CHECK(b2(1, ops, 0, s));
    /* the box is where it should be in the array (read the ordinary way) */
    float whole[8][16];
    CUDA_MEMCPY2D rd;
    memset(&rd, 0, sizeof rd);
    rd.srcMemoryType = CU_MEMORYTYPE_ARRAY;
    rd.srcArray = arr;
    rd.dstMemoryType = CU_MEMORYTYPE_HOST;
    rd.dstHost = whole;
    rd.dstPitch = sizeof whole[0];
    rd.WidthInBytes = sizeof whole[0];
    rd.Height = 8;
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpy2D(&rd));
    EXPECT_TRUE(whole[1][2] == box[0] && whole[1][5] == box[3] && whole[3][2] == box[8] && whole[3][5] == box[11]);
    ops[0].src = array_operand(arr, 2, 1);
    ops[0].dst = ptr_operand((void *)(uintptr_t)pitched, 8);
    ops[0].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
    size_t fail = 0;
    CHECK(b1(1, ops, &fail, 0, s));
    EXPECT_TRUE(fail == SIZE_MAX);
    ops[1].src = ptr_operand((void *)(uintptr_t)pitched, 8 * sizeof(float)); /* bytes, between pointers */
    ops[1].dst = ptr_operand(back, 0);
    ops[1].extent = (CUextent3D){4 * sizeof(float), 3, 1};
    ops[1].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
    CHECK(b2(1, ops + 1, 0, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_TRUE(memcmp(back, box, sizeof box) == 0);
    /* refused: an empty extent, flags, no access order; a failing op named */
    ops[0].extent = (CUextent3D){0, 3, 1};
    EXPECT_RESULT(b2(1, ops, 0, s), CUDA_ERROR_INVALID_VALUE);
    ops[0].extent = (CUextent3D){4, 3, 1};
    EXPECT_RESULT(b2(1, ops, 1, s), CUDA_ERROR_INVALID_VALUE);
    ops[1].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_INVALID;
    fail = SIZE_MAX;
    EXPECT_ERROR(b1(2, ops, &fail, 0, s));
    EXPECT_TRUE(fail == 1);
    EXPECT_RESULT(cuStreamSynchronize(s), CUDA_SUCCESS);
    CHECK(cuArrayDestroy(arr));
    CHECK(cuMemFree(pitched));
    printf("memory: 3D batch copies: done\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(cuInit(0));
    CUdevice dev;
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    scratch = it_xmalloc(BUF);

    int skip_big = argc > 1 && strcmp(argv[1], "--no-big") == 0;
    test_alloc_info();
    test_1d_copies();
    test_memsets();
    test_2d_copies();
    test_3d_and_peer_copies();
    test_host_memory();
    test_mapped_memory();
    test_pointer_attributes();
    test_tensor_map();
    test_batch_copies();
    test_batch_3d_copies();
    if (!skip_big)
        test_big_roundtrip();

    CHECK(cuStreamDestroy(s));
    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    free(scratch);
    TEST_DONE();
}
