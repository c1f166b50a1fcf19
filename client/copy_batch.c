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
 * overlap with compute) change nothing here. cuMemcpy3DBatchAsync is not
 * offered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
