/*
 * copy.c — copies and memsets: validated when called, run later by the
 * stream's worker in stream order.
 *
 * Every device byte an operation would touch must lie inside one live
 * allocation (for 2D operations: every row); otherwise the call returns
 * CUDA_ERROR_INVALID_VALUE and nothing is queued or touched. Host pointers
 * come from the server and are trusted; they must stay valid until the
 * operation has run (see cpudev.h). A copy or memset of zero bytes succeeds
 * without queueing anything, as in the driver.
 *
 * Device ranges are validated when the call is made. Freeing memory that
 * queued work still uses is the caller's race, as in CUDA; the bytes stay
 * mapped, so it cannot crash the process. The stream handle is resolved and
 * the operation queued under one hold of cpudev.mu, so the stream cannot be
 * destroyed in between.
 */
#include "internal.h"

/* Queue op on hStream; on any failure the op is discarded. */
static CUresult submit(CUstream hStream, struct op *op, CUresult verdict)
{
    struct stream *s;
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        r = verdict;
    if (r == CUDA_SUCCESS)
        r = op ? stream_submit_locked(s, op, NULL, 0) : CUDA_ERROR_OUT_OF_MEMORY;
    if (r != CUDA_SUCCESS && op)
        op_discard_locked(op);
    return r;
}

/* Only validates the stream handle (zero-sized operations). */
static CUresult check_stream(CUstream hStream)
{
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    cpudev_unlock();
    return r;
}

static CUresult copy1d(char *dst, const char *src, size_t n, CUstream hStream, CUresult verdict)
{
    struct op *op = op_new(OP_COPY);
    if (op) {
        op->u.copy.dst = dst;
        op->u.copy.src = src;
        op->u.copy.n = n;
    }
    cpudev_lock();
    CUresult r = submit(hStream, op, verdict);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                                     CUstream hStream)
{
    CPUDEV_ENTER();
    if (!ByteCount)
        return check_stream(hStream);
    CUresult v = srcHost && mem_range_ok(dstDevice, ByteCount) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    return copy1d((char *)(uintptr_t)dstDevice, srcHost, ByteCount, hStream, v);
}

CUresult cpudev_cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
    CPUDEV_ENTER();
    if (!ByteCount)
        return check_stream(hStream);
    CUresult v = dstHost && mem_range_ok(srcDevice, ByteCount) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    return copy1d(dstHost, (const char *)(uintptr_t)srcDevice, ByteCount, hStream, v);
}

CUresult cpudev_cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                     CUstream hStream)
{
    CPUDEV_ENTER();
    if (!ByteCount)
        return check_stream(hStream);
    CUresult v = mem_range_ok(dstDevice, ByteCount) && mem_range_ok(srcDevice, ByteCount)
                     ? CUDA_SUCCESS
                     : CUDA_ERROR_INVALID_VALUE;
    return copy1d((char *)(uintptr_t)dstDevice, (const char *)(uintptr_t)srcDevice, ByteCount, hStream, v);
}

/* One device, one address space: a copy between two of its contexts is a
 * device-to-device copy (both contexts must exist). */
CUresult cpudev_cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                  CUcontext srcContext, size_t ByteCount, CUstream hStream)
{
    CPUDEV_ENTER();
    struct ctx *dc, *sc;
    cpudev_lock();
    CUresult r = ctx_get_locked(dstContext, &dc);
    if (r == CUDA_SUCCESS)
        r = ctx_get_locked(srcContext, &sc);
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        return r;
    return cpudev_cuMemcpyDtoDAsync_v2(dstDevice, srcDevice, ByteCount, hStream);
}

/* ---- 2D ---- */

/* Rows [start + y * pitch, + width) for y < height, all inside allocations.
 * One allocation holding the whole span is the common case; otherwise each
 * row is checked on its own. */
static bool rows_ok(uint64_t start, size_t pitch, size_t width, size_t height)
{
    uint64_t span;
    if (__builtin_mul_overflow((uint64_t)pitch, (uint64_t)(height - 1), &span) ||
        __builtin_add_overflow(span, (uint64_t)width, &span) || start + span < start)
        return false;
    if (mem_range_ok(start, span))
        return true;
    for (size_t y = 0; y < height; y++)
        if (!mem_range_ok(start + y * pitch, width))
            return false;
    return true;
}

/* One side of a 2D copy resolved to an address; device memory validated. */
static CUresult side(CUmemorytype type, const void *host, CUdeviceptr device, CUarray array, size_t x, size_t y,
                     size_t z, size_t *pitch, size_t width, size_t height, char **out)
{
    if (type == CU_MEMORYTYPE_ARRAY)
        return array_rows(array, x, y, z, width, height, out, pitch);
    if (type == CU_MEMORYTYPE_UNIFIED) {
        /* A device address, or else a host address of this process. */
        type = mem_in_va(device) ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
        host = (const void *)(uintptr_t)device;
    }
    if (type != CU_MEMORYTYPE_HOST && type != CU_MEMORYTYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    if (height > 1 && (*pitch > CPUDEV_MAX_PITCH || *pitch < width || *pitch - width < x))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t base = type == CU_MEMORYTYPE_HOST ? (uint64_t)(uintptr_t)host : (uint64_t)device, off, start;
    if (!base || __builtin_mul_overflow((uint64_t)y, (uint64_t)*pitch, &off) ||
        __builtin_add_overflow(off, (uint64_t)x, &off) || __builtin_add_overflow(base, off, &start))
        return CUDA_ERROR_INVALID_VALUE;
    if (type == CU_MEMORYTYPE_DEVICE && !rows_ok(start, *pitch, width, height))
        return CUDA_ERROR_INVALID_VALUE;
    *out = (char *)(uintptr_t)start;
    return CUDA_SUCCESS;
}

/* A 2D copy; an array side at slice srcZ / dstZ. */
static CUresult copy2d(const CUDA_MEMCPY2D *pCopy, size_t srcZ, size_t dstZ, CUstream hStream)
{
    CUDA_MEMCPY2D c = *pCopy;
    if (!c.WidthInBytes || !c.Height)
        return check_stream(hStream);
    char *src, *dst;
    /* an array side's pitch is the array's own */
    CUresult v = side(c.srcMemoryType, c.srcHost, c.srcDevice, c.srcArray, c.srcXInBytes, c.srcY, srcZ, &c.srcPitch,
                      c.WidthInBytes, c.Height, &src);
    if (v == CUDA_SUCCESS)
        v = side(c.dstMemoryType, c.dstHost, c.dstDevice, c.dstArray, c.dstXInBytes, c.dstY, dstZ, &c.dstPitch,
                 c.WidthInBytes, c.Height, &dst);
    struct op *op = v == CUDA_SUCCESS ? op_new(OP_COPY2D) : NULL;
    if (op) {
        op->u.copy2d.dst = dst;
        op->u.copy2d.src = src;
        op->u.copy2d.dpitch = c.dstPitch;
        op->u.copy2d.spitch = c.srcPitch;
        op->u.copy2d.width = c.WidthInBytes;
        op->u.copy2d.height = c.Height;
    }
    cpudev_lock();
    CUresult r = submit(hStream, op, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    CPUDEV_ENTER();
    return pCopy ? copy2d(pCopy, 0, 0, hStream) : CUDA_ERROR_INVALID_VALUE;
}

/* Slice z of a 3D copy as a 2D copy: a pointer side moves by its slices, an
 * array side names the slice. */
static CUDA_MEMCPY2D slice_of(const CUDA_MEMCPY3D *p, size_t z, size_t *srcZ, size_t *dstZ)
{
    bool sa = p->srcMemoryType == CU_MEMORYTYPE_ARRAY, da = p->dstMemoryType == CU_MEMORYTYPE_ARRAY;
    size_t so = sa ? 0 : (p->srcZ + z) * p->srcHeight * p->srcPitch,
           dof = da ? 0 : (p->dstZ + z) * p->dstHeight * p->dstPitch;
    *srcZ = sa ? p->srcZ + z : 0;
    *dstZ = da ? p->dstZ + z : 0;
    return (CUDA_MEMCPY2D){
        .srcXInBytes = p->srcXInBytes, .srcY = p->srcY, .srcMemoryType = p->srcMemoryType,
        .srcHost = p->srcHost ? (const char *)p->srcHost + so : NULL, .srcDevice = p->srcDevice ? p->srcDevice + so : 0,
        .srcArray = p->srcArray, .srcPitch = p->srcPitch,
        .dstXInBytes = p->dstXInBytes, .dstY = p->dstY, .dstMemoryType = p->dstMemoryType,
        .dstHost = p->dstHost ? (char *)p->dstHost + dof : NULL, .dstDevice = p->dstDevice ? p->dstDevice + dof : 0,
        .dstArray = p->dstArray, .dstPitch = p->dstPitch, .WidthInBytes = p->WidthInBytes, .Height = p->Height};
}

/* Every slice is checked before any is queued: a bad one queues nothing. */
CUresult cpudev_cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *pCopy, CUstream hStream)
{
    CPUDEV_ENTER();
    if (!pCopy || pCopy->srcLOD || pCopy->dstLOD)
        return CUDA_ERROR_INVALID_VALUE;
    if (!pCopy->WidthInBytes || !pCopy->Height || !pCopy->Depth)
        return check_stream(hStream);
    for (size_t z = 0; z < pCopy->Depth; z++) {
        size_t sz, dz, sp, dp;
        CUDA_MEMCPY2D c = slice_of(pCopy, z, &sz, &dz);
        char *src, *dst;
        sp = c.srcPitch;
        dp = c.dstPitch;
        CUresult v = side(c.srcMemoryType, c.srcHost, c.srcDevice, c.srcArray, c.srcXInBytes, c.srcY, sz, &sp,
                          c.WidthInBytes, c.Height, &src);
        if (v == CUDA_SUCCESS)
            v = side(c.dstMemoryType, c.dstHost, c.dstDevice, c.dstArray, c.dstXInBytes, c.dstY, dz, &dp,
                     c.WidthInBytes, c.Height, &dst);
        if (v != CUDA_SUCCESS)
            return v;
    }
    CUresult r = CUDA_SUCCESS;
    for (size_t z = 0; r == CUDA_SUCCESS && z < pCopy->Depth; z++) {
        size_t sz, dz;
        CUDA_MEMCPY2D c = slice_of(pCopy, z, &sz, &dz);
        r = copy2d(&c, sz, dz, hStream);
    }
    return r;
}

/* ---- memsets ---- */

static CUresult memset2d(CUdeviceptr dst, size_t pitch, uint32_t value, unsigned es, size_t width, size_t height,
                         CUstream hStream)
{
    CPUDEV_ENTER();
    if (!width || !height)
        return check_stream(hStream);
    size_t row;
    CUresult v = CUDA_SUCCESS;
    if (dst % es || (height > 1 && pitch % es) || __builtin_mul_overflow(width, (size_t)es, &row) ||
        (height > 1 && pitch < row) || !rows_ok(dst, height > 1 ? pitch : row, row, height))
        v = CUDA_ERROR_INVALID_VALUE;
    struct op *op = v == CUDA_SUCCESS ? op_new(height > 1 ? OP_SET2D : OP_SET) : NULL;
    if (op) {
        op->u.set.dst = (char *)(uintptr_t)dst;
        op->u.set.n = width;
        op->u.set.es = es;
        op->u.set.value = value;
        op->u.set.pitch = height > 1 ? pitch : row;
        op->u.set.height = height;
    }
    cpudev_lock();
    CUresult r = submit(hStream, op, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
    return memset2d(dstDevice, 0, uc, 1, N, 1, hStream);
}

CUresult cpudev_cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream)
{
    return memset2d(dstDevice, 0, us, 2, N, 1, hStream);
}

CUresult cpudev_cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
    return memset2d(dstDevice, 0, ui, 4, N, 1, hStream);
}

CUresult cpudev_cuMemsetD2D8Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width,
                                  size_t Height, CUstream hStream)
{
    return memset2d(dstDevice, dstPitch, uc, 1, Width, Height, hStream);
}

CUresult cpudev_cuMemsetD2D16Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,
                                   size_t Height, CUstream hStream)
{
    return memset2d(dstDevice, dstPitch, us, 2, Width, Height, hStream);
}

CUresult cpudev_cuMemsetD2D32Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width,
                                   size_t Height, CUstream hStream)
{
    return memset2d(dstDevice, dstPitch, ui, 4, Width, Height, hStream);
}
