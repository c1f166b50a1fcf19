/*
 * memops.c — stream memory operations: cuStreamWriteValue32/64,
 * cuStreamWaitValue32/64 and cuStreamBatchMemOp (the _v2 forms CUDA 11.7
 * made the API; the older names are the same calls, client/memops.c).
 *
 * One operation of the stream (OP_MEMOPS) carries the whole batch. Its
 * worker writes values (a release store, after what the stream did before,
 * as the driver's default memory barrier has it), waits for a value (an
 * acquire load, polled with a growing pause: 1 µs up to 1 ms) and puts
 * barriers in place, in order. The address may be device memory or
 * page-locked host memory the device reaches (registered or allocated with
 * DEVICEMAP), 4 or 8 bytes aligned as the operation's size; what else the
 * call names is refused when made. A wait that nothing ever satisfies holds
 * its stream, as on a GPU.
 *
 * Captured, or added to a graph, they are a batch memory-operation node,
 * whose launch is the same operation.
 *
 * Not offered: flushing remote writes (CU_STREAM_WAIT_VALUE_FLUSH,
 * CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES; CAN_FLUSH_REMOTE_WRITES is 0).
 */
#include "calls.h"
#include "graph.h"
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BATCH RGPU_MAX_BATCH_MEMOPS /* operations in one cuStreamBatchMemOp */

/* Device memory as the device reaches it: other streams' copies and kernels
 * race with these by design, as on a GPU (the PTX machine's accesses are
 * exempt from ThreadSanitizer the same way). */
#if defined(__SANITIZE_THREAD__)
#define DEVICE_ACCESS __attribute__((no_sanitize("thread")))
#else
#define DEVICE_ACCESS
#endif

static CUresult check_address(CUdeviceptr addr, unsigned size)
{
    if (addr % size)
        return CUDA_ERROR_INVALID_VALUE;
    return mem_range_ok(addr, size) || hostreg_mapped((const void *)(uintptr_t)addr, size) ? CUDA_SUCCESS
                                                                                            : CUDA_ERROR_INVALID_VALUE;
}

/* One operation of the batch API, checked, into m. */
static CUresult memop_of(const CUstreamBatchMemOpParams *p, struct memop *m)
{
    *m = (struct memop){0};
    switch (p->operation) {
    case CU_STREAM_MEM_OP_WAIT_VALUE_32:
    case CU_STREAM_MEM_OP_WAIT_VALUE_64: {
        unsigned cond = p->waitValue.flags;
        if (cond & CU_STREAM_WAIT_VALUE_FLUSH)
            return CUDA_ERROR_NOT_SUPPORTED; /* CAN_FLUSH_REMOTE_WRITES is 0 */
        if (cond > CU_STREAM_WAIT_VALUE_NOR)
            return CUDA_ERROR_INVALID_VALUE;
        m->kind = MEMOP_WAIT;
        m->cond = (uint8_t)cond;
        m->size = p->operation == CU_STREAM_MEM_OP_WAIT_VALUE_32 ? 4 : 8;
        m->addr = p->waitValue.address;
        m->value = m->size == 4 ? p->waitValue.value : p->waitValue.value64;
        return check_address(m->addr, m->size);
    }
    case CU_STREAM_MEM_OP_WRITE_VALUE_32:
    case CU_STREAM_MEM_OP_WRITE_VALUE_64:
        if (p->writeValue.flags != CU_STREAM_WRITE_VALUE_DEFAULT)
            return CUDA_ERROR_INVALID_VALUE; /* NO_MEMORY_BARRIER: not in the v2 API */
        m->kind = MEMOP_WRITE;
        m->size = p->operation == CU_STREAM_MEM_OP_WRITE_VALUE_32 ? 4 : 8;
        m->addr = p->writeValue.address;
        m->value = m->size == 4 ? p->writeValue.value : p->writeValue.value64;
        return check_address(m->addr, m->size);
    case CU_STREAM_MEM_OP_BARRIER:
        if (p->memoryBarrier.flags > CU_STREAM_MEMORY_BARRIER_TYPE_GPU)
            return CUDA_ERROR_INVALID_VALUE;
        m->kind = MEMOP_BARRIER;
        return CUDA_SUCCESS;
    case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES: return CUDA_ERROR_NOT_SUPPORTED;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
}

/* count operations, checked, into *out (malloc'd). */
static CUresult parse(const CUstreamBatchMemOpParams *ops, unsigned count, struct memop **out)
{
    if (!count || count > MAX_BATCH || !ops)
        return CUDA_ERROR_INVALID_VALUE;
    struct memop *m = calloc(count, sizeof *m);
    CUresult r = m ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
    for (unsigned i = 0; i < count && r == CUDA_SUCCESS; i++)
        r = memop_of(&ops[i], &m[i]);
    if (r != CUDA_SUCCESS)
        free(m);
    else
        *out = m;
    return r;
}

static CUresult submit(CUstream hStream, const CUstreamBatchMemOpParams *ops, unsigned count)
{
    CPUDEV_ENTER();
    struct op *op = op_new(OP_MEMOPS);
    if (!op)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult r = parse(ops, count, &op->u.memops.ops);
    op->u.memops.n = (int)count;
    struct stream *s;
    cpudev_lock();
    if (r == CUDA_SUCCESS)
        r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        r = stream_submit_locked(s, op, NULL, 0); /* captured: a node (capture_op_locked) */
    if (r != CUDA_SUCCESS)
        op_discard_locked(op);
    cpudev_unlock();
    return r;
}

DEVICE_ACCESS static bool satisfied(const struct memop *m)
{
    uint64_t v = m->size == 4 ? atomic_load_explicit((_Atomic uint32_t *)(uintptr_t)m->addr, memory_order_acquire)
                              : atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)m->addr, memory_order_acquire);
    switch (m->cond) {
    case CU_STREAM_WAIT_VALUE_GEQ: /* cyclic: wraparound ignored */
        return m->size == 4 ? (int32_t)((uint32_t)v - (uint32_t)m->value) >= 0 : (int64_t)(v - m->value) >= 0;
    case CU_STREAM_WAIT_VALUE_EQ: return v == m->value;
    case CU_STREAM_WAIT_VALUE_AND: return (v & m->value) != 0;
    default: /* NOR */
        return m->size == 4 ? (uint32_t)~(v | m->value) != 0 : ~(v | m->value) != 0;
    }
}

DEVICE_ACCESS void memops_run(const struct memop *ops, int n)
{
    for (int i = 0; i < n; i++) {
        const struct memop *m = &ops[i];
        if (m->kind == MEMOP_WRITE && m->size == 4)
            atomic_store_explicit((_Atomic uint32_t *)(uintptr_t)m->addr, (uint32_t)m->value, memory_order_release);
        else if (m->kind == MEMOP_WRITE)
            atomic_store_explicit((_Atomic uint64_t *)(uintptr_t)m->addr, m->value, memory_order_release);
        else if (m->kind == MEMOP_BARRIER)
            atomic_thread_fence(memory_order_seq_cst);
        else
            for (long ns = 1000; !satisfied(m); ns = ns < 1000000 ? 2 * ns : ns)
                nanosleep(&(struct timespec){0, ns}, NULL);
    }
}

CUresult cpudev_cuStreamWriteValue32_v2(CUstream stream, CUdeviceptr addr, cuuint32_t value, unsigned int flags)
{
    CUstreamBatchMemOpParams p = {.writeValue = {CU_STREAM_MEM_OP_WRITE_VALUE_32, addr, {.value = value}, flags, 0}};
    return submit(stream, &p, 1);
}

CUresult cpudev_cuStreamWriteValue64_v2(CUstream stream, CUdeviceptr addr, cuuint64_t value, unsigned int flags)
{
    CUstreamBatchMemOpParams p = {.writeValue = {CU_STREAM_MEM_OP_WRITE_VALUE_64, addr, {.value64 = value}, flags, 0}};
    return submit(stream, &p, 1);
}

CUresult cpudev_cuStreamWaitValue32_v2(CUstream stream, CUdeviceptr addr, cuuint32_t value, unsigned int flags)
{
    CUstreamBatchMemOpParams p = {.waitValue = {CU_STREAM_MEM_OP_WAIT_VALUE_32, addr, {.value = value}, flags, 0}};
    return submit(stream, &p, 1);
}

CUresult cpudev_cuStreamWaitValue64_v2(CUstream stream, CUdeviceptr addr, cuuint64_t value, unsigned int flags)
{
    CUstreamBatchMemOpParams p = {.waitValue = {CU_STREAM_MEM_OP_WAIT_VALUE_64, addr, {.value64 = value}, flags, 0}};
    return submit(stream, &p, 1);
}

CUresult cpudev_cuStreamBatchMemOp_v2(CUstream stream, unsigned int count, CUstreamBatchMemOpParams *paramArray,
                                      unsigned int flags)
{
    if (flags)
        return CUDA_ERROR_INVALID_VALUE; /* none defined */
    return submit(stream, paramArray, count);
}

/* ---- batch memory-operation nodes ---- */

/* An operation as the batch API describes it (what GetParams returns). */
static CUstreamBatchMemOpParams describe(const struct memop *m)
{
    CUstreamBatchMemOpParams p;
    memset(&p, 0, sizeof p);
    if (m->kind == MEMOP_BARRIER) {
        p.memoryBarrier.operation = CU_STREAM_MEM_OP_BARRIER;
    } else if (m->kind == MEMOP_WRITE) {
        p.writeValue.operation = m->size == 4 ? CU_STREAM_MEM_OP_WRITE_VALUE_32 : CU_STREAM_MEM_OP_WRITE_VALUE_64;
        p.writeValue.address = m->addr;
        p.writeValue.value64 = m->value;
    } else {
        p.waitValue.operation = m->size == 4 ? CU_STREAM_MEM_OP_WAIT_VALUE_32 : CU_STREAM_MEM_OP_WAIT_VALUE_64;
        p.waitValue.address = m->addr;
        p.waitValue.value64 = m->value;
        p.waitValue.flags = m->cond;
    }
    if (m->size == 4 && m->kind != MEMOP_BARRIER)
        p.writeValue.value64 = (uint32_t)m->value; /* the 32-bit value in the union's low half */
    return p;
}

static CUresult take(struct gparams *p, struct memop *ops, CUstreamBatchMemOpParams *given, unsigned n)
{
    *p = (struct gparams){.type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP};
    p->u.memops.ops = ops;
    p->u.memops.given = given;
    p->u.memops.n = n;
    return CUDA_SUCCESS;
}

CUresult gparams_memops(struct gparams *p, const CUDA_BATCH_MEM_OP_NODE_PARAMS *np)
{
    struct memop *ops;
    struct ctx *c;
    if (!np || np->flags)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = ctx_get_locked(np->ctx, &c);
    if (r == CUDA_SUCCESS)
        r = parse(np->paramArray, np->count, &ops);
    if (r != CUDA_SUCCESS)
        return r;
    CUstreamBatchMemOpParams *given = malloc(np->count * sizeof *given);
    if (!given) {
        free(ops);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    memcpy(given, np->paramArray, np->count * sizeof *given);
    take(p, ops, given, np->count);
    p->u.memops.ctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

CUresult gparams_memops_of(struct gparams *p, const struct memop *ops, int n)
{
    struct memop *o = malloc((size_t)n * sizeof *o);
    CUstreamBatchMemOpParams *given = malloc((size_t)n * sizeof *given);
    if (!o || !given) {
        free(o);
        free(given);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    memcpy(o, ops, (size_t)n * sizeof *o);
    for (int i = 0; i < n; i++)
        given[i] = describe(&ops[i]);
    return take(p, o, given, (unsigned)n);
}

CUresult cpudev_cuGraphAddBatchMemOpNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                         size_t numDependencies, const CUDA_BATCH_MEM_OP_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    cpudev_lock();
    CUresult v = gparams_memops(&p, nodeParams);
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphBatchMemOpNodeSetParams(CUgraphNode hNode, const CUDA_BATCH_MEM_OP_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP};
    cpudev_lock();
    CUresult v = gparams_memops(&p, nodeParams);
    p.type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP; /* what to look for, also on failure */
    CUresult r = graph_node_set_locked(hNode, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphExecBatchMemOpNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                   const CUDA_BATCH_MEM_OP_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP};
    cpudev_lock();
    CUresult v = gparams_memops(&p, nodeParams);
    p.type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP;
    CUresult r = exec_node_set_locked(hGraphExec, hNode, &p, v);
    cpudev_unlock();
    return r;
}

/* paramArray: the node's own copy, valid while the node lives unchanged. */
CUresult cpudev_cuGraphBatchMemOpNodeGetParams(CUgraphNode hNode, CUDA_BATCH_MEM_OP_NODE_PARAMS *nodeParams_out)
{
    CPUDEV_ENTER();
    struct gnode *n;
    if (!nodeParams_out)
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    CUresult r = gnode_typed_locked(hNode, CU_GRAPH_NODE_TYPE_BATCH_MEM_OP, false, &n);
    if (r == CUDA_SUCCESS)
        *nodeParams_out = (CUDA_BATCH_MEM_OP_NODE_PARAMS){n->p.u.memops.ctx, n->p.u.memops.n, n->p.u.memops.given,
                                                          n->p.u.memops.flags};
    cpudev_unlock();
    return r;
}
