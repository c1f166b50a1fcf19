/*
 * asyncargs.c — which asynchronous calls wait for their reply after all.
 *
 * CUDA reports an asynchronous copy's or memset's bad arguments — a device
 * range that leaves its allocation, a wild pointer, a 16- or 32-bit memset
 * that is not aligned — when the call is made; only failures of the work
 * itself come later. Sent without a reply, such a call returned success and
 * its error came back from the next synchronisation, as the error of a call
 * that did nothing wrong. The client cannot judge every case (memory it did
 * not see allocated: page-locked host memory the device reaches, addresses
 * read from device memory), but it can vouch for the usual one: every device
 * byte the call touches lies in one allocation it made (cuMemAlloc*, in a
 * context that has not ended), in one module variable it looked up
 * (cudaMemcpyToSymbolAsync; until its module or library is unloaded) or in
 * mapped pieces of a reserved range that follow one another (cuMemMap:
 * ggml's memory pool), and the alignment holds. Such a call goes without a
 * reply, as before; any other waits for it, so that the backend's verdict is
 * the call's result, at call time, and nothing is latched. So does a
 * cuMemFreeAsync of anything but the start of a cuMemAllocAsync allocation.
 * A range the client vouches for wrongly (freed by another thread meanwhile)
 * fails as before, at the next synchronisation. The same for the flags of stream
 * waits and event records: those CUDA defines go without a reply.
 *
 * Also here: while a stream capture may be active, a copy that carries host
 * memory waits for its reply, since on a capturing stream it fails (its
 * bytes cannot be replayed) and CUDA says so at call time. Other
 * asynchronous calls stay asynchronous during a capture (ggml captures
 * hundreds of launches per graph); a capture error they meet invalidates
 * the capture, which cuStreamEndCapture reports.
 *
 * And graph launches, once a graph allocation node may exist (asyncargs.h);
 * and stream memory operations, unless each names an aligned address in
 * memory the client knows, with flags the v2 API defines.
 */
#include "asyncargs.h"

#include "capture.h"
#include "memory.h"

atomic_bool rgpu_graph_memory_seen;

/* [p, p + n) inside one live allocation or module variable of ours, or
 * inside contiguous mapped pieces of a reservation. */
static bool known(CUdeviceptr p, uint64_t n)
{
    if (!n)
        return true;
    struct range r;
    if (rgpu_device_span(p, n, &r) && (r.ctx || r.owner)) /* a reservation: its mapped pieces, below */
        return true;
    return n <= SIZE_MAX && ranges_cover(&rgpu_vmm_mapped, (uintptr_t)p, (size_t)n);
}

/* A stream memory operation of the batch form, as the client can vouch for it. */
static bool known_memop(const CUstreamBatchMemOpParams *p)
{
    switch (p->operation) {
    case CU_STREAM_MEM_OP_WRITE_VALUE_32:
    case CU_STREAM_MEM_OP_WRITE_VALUE_64: {
        unsigned size = p->operation == CU_STREAM_MEM_OP_WRITE_VALUE_32 ? 4 : 8;
        return !p->writeValue.flags && p->writeValue.address % size == 0 && known(p->writeValue.address, size);
    }
    case CU_STREAM_MEM_OP_WAIT_VALUE_32:
    case CU_STREAM_MEM_OP_WAIT_VALUE_64: {
        unsigned size = p->operation == CU_STREAM_MEM_OP_WAIT_VALUE_32 ? 4 : 8;
        return p->waitValue.flags <= CU_STREAM_WAIT_VALUE_NOR && p->waitValue.address % size == 0 &&
               known(p->waitValue.address, size);
    }
    case CU_STREAM_MEM_OP_BARRIER: return p->memoryBarrier.flags <= CU_STREAM_MEMORY_BARRIER_TYPE_GPU;
    default: return false;
    }
}

static bool known_memops(const CUstreamBatchMemOpParams *p, unsigned n, unsigned flags)
{
    if (!n || n > RGPU_MAX_BATCH_MEMOPS || flags)
        return false;
    for (unsigned i = 0; i < n; i++)
        if (!known_memop(&p[i]))
            return false;
    return true;
}

/* height rows of width bytes, pitch apart, from p (p aligned to align) */
static bool known_rows(CUdeviceptr p, uint64_t pitch, uint64_t width, uint64_t height, unsigned align)
{
    uint64_t span;
    if (!width || !height)
        return true;
    if (p % align || (height > 1 && (pitch < width || pitch % align)) ||
        __builtin_mul_overflow(pitch, height - 1, &span) || __builtin_add_overflow(span, width, &span))
        return false;
    return known(p, span);
}

/* The device side of a 2D copy (the host side is the client's own memory,
 * or pool memory checked when the copy was built). */
static bool known_side(CUmemorytype type, CUdeviceptr base, size_t x, size_t y, size_t pitch, size_t width,
                       size_t height)
{
    uint64_t off;
    if (type == CU_MEMORYTYPE_HOST || !width || !height)
        return true;
    if (type != CU_MEMORYTYPE_DEVICE || __builtin_mul_overflow((uint64_t)y, (uint64_t)pitch, &off) ||
        __builtin_add_overflow(off, (uint64_t)x, &off) || __builtin_add_overflow((uint64_t)base, off, &off))
        return false;
    return known_rows((CUdeviceptr)off, pitch, width, height, 1);
}

static bool known_2d(const CUDA_MEMCPY2D *c)
{
    return known_side(c->srcMemoryType, c->srcDevice, c->srcXInBytes, c->srcY, c->srcPitch, c->WidthInBytes,
                      c->Height) &&
           known_side(c->dstMemoryType, c->dstDevice, c->dstXInBytes, c->dstY, c->dstPitch, c->WidthInBytes,
                      c->Height);
}

static bool vouched(enum rgpu_call_id id, const void *args)
{
    switch (id) {
    case RGPU_ID_cuMemcpyHtoDAsync_v2: {
        const struct rgpu_args_cuMemcpyHtoDAsync_v2 *a = args;
        return known(a->dstDevice, a->ByteCount);
    }
    case RGPU_ID_cuMemcpyDtoHAsync_v2: {
        const struct rgpu_args_cuMemcpyDtoHAsync_v2 *a = args;
        return known(a->srcDevice, a->ByteCount);
    }
    case RGPU_ID_cuMemcpyDtoDAsync_v2: {
        const struct rgpu_args_cuMemcpyDtoDAsync_v2 *a = args;
        return known(a->dstDevice, a->ByteCount) && known(a->srcDevice, a->ByteCount);
    }
    case RGPU_ID_cuMemcpyPeerAsync: {
        const struct rgpu_args_cuMemcpyPeerAsync *a = args;
        return known(a->dstDevice, a->ByteCount) && known(a->srcDevice, a->ByteCount);
    }
    case RGPU_ID_rgpu_htod_pool: {
        const struct rgpu_args_rgpu_htod_pool *a = args;
        return known(a->dstDevice, a->ByteCount);
    }
    case RGPU_ID_rgpu_dtoh_pool: {
        const struct rgpu_args_rgpu_dtoh_pool *a = args;
        return known(a->srcDevice, a->ByteCount);
    }
    case RGPU_ID_rgpu_memcpy2d: return known_2d(&((const struct rgpu_args_rgpu_memcpy2d *)args)->copy);
    case RGPU_ID_rgpu_memcpy2d_pool: return known_2d(&((const struct rgpu_args_rgpu_memcpy2d_pool *)args)->copy);
    case RGPU_ID_cuMemsetD8Async: {
        const struct rgpu_args_cuMemsetD8Async *a = args;
        return known_rows(a->dstDevice, 0, a->N, 1, 1);
    }
    case RGPU_ID_cuMemsetD16Async: {
        const struct rgpu_args_cuMemsetD16Async *a = args;
        return a->N <= SIZE_MAX / 2 && known_rows(a->dstDevice, 0, (uint64_t)a->N * 2, 1, 2);
    }
    case RGPU_ID_cuMemsetD32Async: {
        const struct rgpu_args_cuMemsetD32Async *a = args;
        return a->N <= SIZE_MAX / 4 && known_rows(a->dstDevice, 0, (uint64_t)a->N * 4, 1, 4);
    }
    case RGPU_ID_cuMemsetD2D8Async: {
        const struct rgpu_args_cuMemsetD2D8Async *a = args;
        return known_rows(a->dstDevice, a->dstPitch, a->Width, a->Height, 1);
    }
    case RGPU_ID_cuMemsetD2D16Async: {
        const struct rgpu_args_cuMemsetD2D16Async *a = args;
        return a->Width <= SIZE_MAX / 2 && known_rows(a->dstDevice, a->dstPitch, (uint64_t)a->Width * 2, a->Height, 2);
    }
    case RGPU_ID_cuMemsetD2D32Async: {
        const struct rgpu_args_cuMemsetD2D32Async *a = args;
        return a->Width <= SIZE_MAX / 4 && known_rows(a->dstDevice, a->dstPitch, (uint64_t)a->Width * 4, a->Height, 4);
    }
    /* the start of a stream-ordered allocation of ours (what CUDA says it
     * frees; of cuMemAlloc's memory the backend judges); on a capturing
     * stream it is a graph's free node, of a graph allocation or refused */
    case RGPU_ID_cuMemFreeAsync: {
        const struct rgpu_args_cuMemFreeAsync *a = args;
        struct range r;
        return !rgpu_capture_active() && rgpu_device_span(a->dptr, 1, &r) && r.base == a->dptr && r.stream_ordered;
    }
    /* flags CUDA defines; the backend judges any other when called */
    case RGPU_ID_cuStreamWaitEvent:
        return !(((const struct rgpu_args_cuStreamWaitEvent *)args)->Flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL);
    case RGPU_ID_cuEventRecordWithFlags:
        return !(((const struct rgpu_args_cuEventRecordWithFlags *)args)->flags & ~(unsigned)CU_EVENT_RECORD_EXTERNAL);
    case RGPU_ID_cuGraphLaunch: return !atomic_load(&rgpu_graph_memory_seen);
#define MEMOP(id, op, field, value_field)                                                          \
    case RGPU_ID_##id: {                                                                       \
        const struct rgpu_args_##id *a = args;                                                 \
        CUstreamBatchMemOpParams p = {.field = {op, a->addr, {.value_field = a->value}, a->flags, 0}}; \
        return known_memops(&p, 1, 0);                                                         \
    }
        MEMOP(cuStreamWriteValue32_v2, CU_STREAM_MEM_OP_WRITE_VALUE_32, writeValue, value)
        MEMOP(cuStreamWriteValue64_v2, CU_STREAM_MEM_OP_WRITE_VALUE_64, writeValue, value64)
        MEMOP(cuStreamWaitValue32_v2, CU_STREAM_MEM_OP_WAIT_VALUE_32, waitValue, value)
        MEMOP(cuStreamWaitValue64_v2, CU_STREAM_MEM_OP_WAIT_VALUE_64, waitValue, value64)
#undef MEMOP
    case RGPU_ID_cuStreamBatchMemOp_v2: {
        const struct rgpu_args_cuStreamBatchMemOp_v2 *a = args;
        return a->paramArray && known_memops(a->paramArray, a->count, a->flags);
    }
    default: return true; /* nothing the client could not judge */
    }
}

bool rgpu_async_waits(enum rgpu_call_id id, const void *args)
{
    if (rgpu_capture_active() && (id == RGPU_ID_cuMemcpyHtoDAsync_v2 || id == RGPU_ID_cuMemcpyDtoHAsync_v2 ||
                                  id == RGPU_ID_rgpu_memcpy2d))
        return true;
    return !vouched(id, args);
}
