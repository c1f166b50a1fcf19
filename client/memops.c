/*
 * memops.c — the names of the stream memory operations that the generated
 * stubs (the _v2 rows of calls.def) do not define: the per-thread-stream
 * forms, and the original CUDA 8 calls, which are the same operations but
 * for one flag: their writes may skip the memory barrier
 * (CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER), a licence the v2 calls do
 * without, so it is dropped (a barrier too many is always allowed). Their
 * batch form also names the FLUSH and barrier operations of v2.
 */
#include "client.h"
#include "handles.h"

#include <stdlib.h>
#include <string.h>

#include "calls.h"

/* cuda.h declares the v2 names' per-thread forms only as macros */
CUresult cuStreamWriteValue32_v2_ptsz(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
CUresult cuStreamWriteValue64_v2_ptsz(CUstream, CUdeviceptr, cuuint64_t, unsigned int);
CUresult cuStreamWaitValue32_v2_ptsz(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
CUresult cuStreamWaitValue64_v2_ptsz(CUstream, CUdeviceptr, cuuint64_t, unsigned int);
CUresult cuStreamBatchMemOp_v2_ptsz(CUstream, unsigned int, CUstreamBatchMemOpParams *, unsigned int);

static unsigned v1_write_flags(unsigned flags) { return flags & ~(unsigned)CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER; }

RGPU_API CUresult cuStreamWriteValue32_v2_ptsz(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned int f)
{
    return cuStreamWriteValue32_v2(RGPU_PT(s), a, v, f);
}
RGPU_API CUresult cuStreamWriteValue64_v2_ptsz(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned int f)
{
    return cuStreamWriteValue64_v2(RGPU_PT(s), a, v, f);
}
RGPU_API CUresult cuStreamWaitValue32_v2_ptsz(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned int f)
{
    return cuStreamWaitValue32_v2(RGPU_PT(s), a, v, f);
}
RGPU_API CUresult cuStreamWaitValue64_v2_ptsz(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned int f)
{
    return cuStreamWaitValue64_v2(RGPU_PT(s), a, v, f);
}
RGPU_API CUresult cuStreamBatchMemOp_v2_ptsz(CUstream s, unsigned int n, CUstreamBatchMemOpParams *p, unsigned int f)
{
    return cuStreamBatchMemOp_v2(RGPU_PT(s), n, p, f);
}

RGPU_API CUresult cuStreamWriteValue32(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned int f)
{
    return cuStreamWriteValue32_v2(s, a, v, v1_write_flags(f));
}
RGPU_API CUresult cuStreamWriteValue64(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned int f)
{
    return cuStreamWriteValue64_v2(s, a, v, v1_write_flags(f));
}
RGPU_API CUresult cuStreamWaitValue32(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned int f)
{
    return cuStreamWaitValue32_v2(s, a, v, f);
}
RGPU_API CUresult cuStreamWaitValue64(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned int f)
{
    return cuStreamWaitValue64_v2(s, a, v, f);
}
RGPU_API CUresult cuStreamBatchMemOp(CUstream s, unsigned int n, CUstreamBatchMemOpParams *p, unsigned int f)
{
    if (n > RGPU_MAX_BATCH_MEMOPS || (n && !p))
        return CUDA_ERROR_INVALID_VALUE;
    CUstreamBatchMemOpParams *q = n ? malloc(n * sizeof *q) : NULL;
    if (n && !q)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (n)
        memcpy(q, p, n * sizeof *q);
    for (unsigned i = 0; i < n; i++)
        if (q[i].operation == CU_STREAM_MEM_OP_WRITE_VALUE_32 || q[i].operation == CU_STREAM_MEM_OP_WRITE_VALUE_64)
            q[i].writeValue.flags = v1_write_flags(q[i].writeValue.flags);
    CUresult r = cuStreamBatchMemOp_v2(s, n, q, f);
    free(q);
    return r;
}

RGPU_API CUresult cuStreamWriteValue32_ptsz(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned int f)
{
    return cuStreamWriteValue32(RGPU_PT(s), a, v, f);
}
RGPU_API CUresult cuStreamWriteValue64_ptsz(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned int f)
{
    return cuStreamWriteValue64(RGPU_PT(s), a, v, f);
}
RGPU_API CUresult cuStreamWaitValue32_ptsz(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned int f)
{
    return cuStreamWaitValue32(RGPU_PT(s), a, v, f);
}
RGPU_API CUresult cuStreamWaitValue64_ptsz(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned int f)
{
    return cuStreamWaitValue64(RGPU_PT(s), a, v, f);
}
RGPU_API CUresult cuStreamBatchMemOp_ptsz(CUstream s, unsigned int n, CUstreamBatchMemOpParams *p, unsigned int f)
{
    return cuStreamBatchMemOp(RGPU_PT(s), n, p, f);
}
