/*
 * copy_batch.c — cuMemcpyBatchAsync (CUDA 12.8; the v2 form of CUDA 13 has
 * no failIdx): a batch of pointer-to-pointer copies, each the cuMemcpyAsync
 * it describes, issued in order on the stream. CUDA lets the copies of a
 * batch run in any order, so in order is one of them.
 *
 * A source whose access order is DURING_API_CALL must be read before the
 * call returns. Host memory that travels with its copy (pageable, or
 * page-locked memory over a socket) is read at the call anyway; page-locked
 * memory of the shm: pool is read when the stream gets there, so such a
 * source is copied out first and its copy sent instead. Hints (locations,
 * overlap with compute) change nothing here.
 *
 * cuMemcpy3DBatchAsync's operations are each the cuMemcpy3DAsync they
 * describe: pointers as UNIFIED memory (rows of rowLength elements, layers of
 * layerHeight rows, tightly packed where 0), arrays at an offset in
 * elements; an element is a byte between pointers, else the array's element
 * (asked of the server, once per array operand). A DURING_API_CALL source in
 * the pool is waited for before the call returns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "client.h"
#include "context.h"
#include "handles.h"
#include "memory.h"

/* A source the stream would read later than the call (the pool's). */
static bool read_late(CUdeviceptr src)
{
    struct range rg;
    return ranges_find(&rgpu_host_ranges, (uintptr_t)src, &rg) && rg.shared;
}

static CUresult check_attrs(const CUmemcpyAttributes *attrs, const size_t *idxs, size_t n, size_t count)
{
    if (!attrs || !idxs || !n || n > count || idxs[0] != 0)
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t k = 0; k < n; k++) {
        if ((k && idxs[k] <= idxs[k - 1]) || idxs[k] >= count)
            return CUDA_ERROR_INVALID_VALUE;
        if (attrs[k].srcAccessOrder < CU_MEMCPY_SRC_ACCESS_ORDER_STREAM ||
            attrs[k].srcAccessOrder > CU_MEMCPY_SRC_ACCESS_ORDER_ANY ||
            (attrs[k].flags & ~(unsigned)CU_MEMCPY_FLAG_PREFER_OVERLAP_WITH_COMPUTE))
            return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

static CUresult batch(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, CUmemcpyAttributes *attrs,
                      size_t *attrsIdxs, size_t numAttrs, size_t *failIdx, CUstream s)
{
    if (failIdx)
        *failIdx = SIZE_MAX; /* no copy in particular */
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!count || !dsts || !srcs || !sizes || s == NULL || s == CU_STREAM_LEGACY) /* not the legacy stream */
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = check_attrs(attrs, attrsIdxs, numAttrs, count)) != CUDA_SUCCESS)
        return r;
    size_t k = 0;
    for (size_t i = 0; i < count && r == CUDA_SUCCESS; i++) {
        while (k + 1 < numAttrs && attrsIdxs[k + 1] <= i)
            k++;
        void *copy = NULL;
        CUdeviceptr src = srcs[i];
        if (attrs[k].srcAccessOrder == CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL && sizes[i] && read_late(src)) {
            if (!(copy = malloc(sizes[i]))) {
                r = CUDA_ERROR_OUT_OF_MEMORY;
            } else {
                memcpy(copy, (const void *)(uintptr_t)src, sizes[i]);
                src = (CUdeviceptr)(uintptr_t)copy; /* pageable: read now */
            }
        }
        if (r == CUDA_SUCCESS)
            r = cuMemcpyAsync(dsts[i], src, sizes[i], s);
        free(copy);
        if (r != CUDA_SUCCESS && failIdx)
            *failIdx = i;
    }
    return r;
}

RGPU_API CUresult cuMemcpyBatchAsync_v2(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                                        CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, CUstream hStream)
{
    return batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, NULL, hStream);
}
RGPU_API CUresult cuMemcpyBatchAsync(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                                     CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, size_t *failIdx,
                                     CUstream hStream)
{
    return batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, hStream);
}
RGPU_API CUresult cuMemcpyBatchAsync_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                                          CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs,
                                          size_t *failIdx, CUstream hStream)
{
    return batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, RGPU_PT(hStream));
}
/* cuda.h declares the v2 name's per-thread form only as a macro */
CUresult cuMemcpyBatchAsync_v2_ptsz(CUdeviceptr *, CUdeviceptr *, size_t *, size_t, CUmemcpyAttributes *, size_t *,
                                    size_t, CUstream);
RGPU_API CUresult cuMemcpyBatchAsync_v2_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                                             CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs,
                                             CUstream hStream)
{
    return batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, NULL, RGPU_PT(hStream));
}

/* ---- 3D batches ---- */

static CUresult elem_bytes(const CUmemcpy3DOperand *o, unsigned *es)
{
    if (o->type == CU_MEMCPY_OPERAND_TYPE_POINTER)
        return CUDA_SUCCESS;
    if (o->type != CU_MEMCPY_OPERAND_TYPE_ARRAY)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_ARRAY3D_DESCRIPTOR d;
    CUresult r = cuArray3DGetDescriptor_v2(&d, o->op.array.array);
    if (r == CUDA_SUCCESS)
        *es = rgpu_array_format_bytes(d.Format) * d.NumChannels;
    return r == CUDA_SUCCESS && !*es ? CUDA_ERROR_INVALID_VALUE : r;
}

/* One side of a CUDA_MEMCPY3D from an operand. */
static CUresult side(const CUmemcpy3DOperand *o, unsigned es, const CUextent3D *e, CUmemorytype *type,
                     CUdeviceptr *dev, CUarray *array, size_t *x, size_t *y, size_t *z, size_t *pitch, size_t *height)
{
    if (o->type == CU_MEMCPY_OPERAND_TYPE_ARRAY) {
        *type = CU_MEMORYTYPE_ARRAY;
        *array = o->op.array.array;
        *x = o->op.array.offset.x * es;
        *y = o->op.array.offset.y;
        *z = o->op.array.offset.z;
        return CUDA_SUCCESS;
    }
    if ((o->op.ptr.rowLength && o->op.ptr.rowLength < e->width) ||
        (o->op.ptr.layerHeight && o->op.ptr.layerHeight < e->height))
        return CUDA_ERROR_INVALID_VALUE;
    *type = CU_MEMORYTYPE_UNIFIED;
    *dev = o->op.ptr.ptr;
    *pitch = (o->op.ptr.rowLength ? o->op.ptr.rowLength : e->width) * es;
    *height = o->op.ptr.layerHeight ? o->op.ptr.layerHeight : e->height;
    return CUDA_SUCCESS;
}

static CUresult op3d(const CUDA_MEMCPY3D_BATCH_OP *op, CUstream s)
{
    const CUextent3D *e = &op->extent;
    if (!e->width || !e->height || !e->depth || op->srcAccessOrder < CU_MEMCPY_SRC_ACCESS_ORDER_STREAM ||
        op->srcAccessOrder > CU_MEMCPY_SRC_ACCESS_ORDER_ANY ||
        (op->flags & ~(unsigned)CU_MEMCPY_FLAG_PREFER_OVERLAP_WITH_COMPUTE))
        return CUDA_ERROR_INVALID_VALUE;
    unsigned es = 1, ses = 1, des = 1;
    CUresult r = elem_bytes(&op->src, &ses);
    if (r == CUDA_SUCCESS)
        r = elem_bytes(&op->dst, &des);
    if (r != CUDA_SUCCESS)
        return r;
    bool sa = op->src.type == CU_MEMCPY_OPERAND_TYPE_ARRAY, da = op->dst.type == CU_MEMCPY_OPERAND_TYPE_ARRAY;
    if (sa && da && ses != des)
        return CUDA_ERROR_INVALID_VALUE; /* arrays of one element size */
    es = sa ? ses : da ? des : 1;
    CUDA_MEMCPY3D c;
    memset(&c, 0, sizeof c);
    if ((r = side(&op->src, es, e, &c.srcMemoryType, &c.srcDevice, &c.srcArray, &c.srcXInBytes, &c.srcY, &c.srcZ,
                  &c.srcPitch, &c.srcHeight)) != CUDA_SUCCESS ||
        (r = side(&op->dst, es, e, &c.dstMemoryType, &c.dstDevice, &c.dstArray, &c.dstXInBytes, &c.dstY, &c.dstZ,
                  &c.dstPitch, &c.dstHeight)) != CUDA_SUCCESS)
        return r;
    c.WidthInBytes = e->width * es;
    c.Height = e->height;
    c.Depth = e->depth;
    r = cuMemcpy3DAsync_v2(&c, s);
    if (r == CUDA_SUCCESS && op->srcAccessOrder == CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL && !sa &&
        read_late(op->src.op.ptr.ptr))
        r = cuStreamSynchronize(s); /* the pool's bytes are read when the stream gets there */
    return r;
}

static CUresult batch3d(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, size_t *failIdx, unsigned long long flags,
                        CUstream s)
{
    if (failIdx)
        *failIdx = SIZE_MAX;
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!numOps || !opList || flags || s == NULL || s == CU_STREAM_LEGACY)
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < numOps && r == CUDA_SUCCESS; i++)
        if ((r = op3d(&opList[i], s)) != CUDA_SUCCESS && failIdx)
            *failIdx = i;
    return r;
}

RGPU_API CUresult cuMemcpy3DBatchAsync_v2(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, unsigned long long flags,
                                          CUstream hStream)
{
    return batch3d(numOps, opList, NULL, flags, hStream);
}
RGPU_API CUresult cuMemcpy3DBatchAsync(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, size_t *failIdx,
                                       unsigned long long flags, CUstream hStream)
{
    return batch3d(numOps, opList, failIdx, flags, hStream);
}
RGPU_API CUresult cuMemcpy3DBatchAsync_ptsz(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, size_t *failIdx,
                                            unsigned long long flags, CUstream hStream)
{
    return batch3d(numOps, opList, failIdx, flags, RGPU_PT(hStream));
}
CUresult cuMemcpy3DBatchAsync_v2_ptsz(size_t, CUDA_MEMCPY3D_BATCH_OP *, unsigned long long, CUstream);
RGPU_API CUresult cuMemcpy3DBatchAsync_v2_ptsz(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList,
                                               unsigned long long flags, CUstream hStream)
{
    return batch3d(numOps, opList, NULL, flags, RGPU_PT(hStream));
}
