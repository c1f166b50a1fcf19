/*
 * graph_generic.c — CUDA 12.2's node calls of any type (cuGraphAddNode,
 * cuGraphNodeSetParams, cuGraphExecNodeSetParams): each type's parameters go
 * to that type's own call, which the server runs on the backend. A type rgpu
 * has no call for is CUDA_ERROR_NOT_SUPPORTED (logged once per type).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "conn.h"
#include "graph_keep.h"

static CUresult unsupported_type(CUgraphNodeType t)
{
    static atomic_uint warned; /* a bit per type below 32 */
    unsigned bit = (unsigned)t < 32 ? 1u << (unsigned)t : 0;
    if (!bit || !(atomic_fetch_or(&warned, bit) & bit))
        rgpu_warn("graph nodes of type %d are not supported by rgpu; returning CUDA_ERROR_NOT_SUPPORTED", (int)t);
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* What CUDA requires of every CUgraphNodeParams: reserved fields zero. */
static bool well_formed(const CUgraphNodeParams *p)
{
    return p && !p->reserved0[0] && !p->reserved0[1] && !p->reserved0[2] && !p->reserved2;
}

static CUDA_KERNEL_NODE_PARAMS kernel_params(const CUDA_KERNEL_NODE_PARAMS_v3 *k)
{
    return (CUDA_KERNEL_NODE_PARAMS){k->func, k->gridDimX, k->gridDimY, k->gridDimZ, k->blockDimX, k->blockDimY,
                                     k->blockDimZ, k->sharedMemBytes, k->kernelParams, k->extra, k->kern, k->ctx};
}

static CUDA_MEMSET_NODE_PARAMS memset_params(const CUDA_MEMSET_NODE_PARAMS_v2 *m)
{
    return (CUDA_MEMSET_NODE_PARAMS){m->dst, m->pitch, m->value, m->elementSize, m->width, m->height};
}

static CUresult add(CUgraphNode *out, CUgraph g, const CUgraphNode *deps, size_t n, CUgraphNodeParams *p)
{
    switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
        CUDA_KERNEL_NODE_PARAMS k = kernel_params(&p->kernel);
        return cuGraphAddKernelNode_v2(out, g, deps, n, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
        if (p->memcpy.flags || p->memcpy.reserved)
            return CUDA_ERROR_INVALID_VALUE;
        return cuGraphAddMemcpyNode(out, g, deps, n, &p->memcpy.copyParams, p->memcpy.copyCtx);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
        CUDA_MEMSET_NODE_PARAMS m = memset_params(&p->memset);
        return cuGraphAddMemsetNode(out, g, deps, n, &m, p->memset.ctx);
    }
    case CU_GRAPH_NODE_TYPE_HOST: {
        CUDA_HOST_NODE_PARAMS h = {p->host.fn, p->host.userData};
        return cuGraphAddHostNode(out, g, deps, n, &h);
    }
    case CU_GRAPH_NODE_TYPE_GRAPH:
        /* moving the graph into the node would leave the caller's handle the
         * node's: not offered */
        if (p->graph.ownership != CU_GRAPH_CHILD_GRAPH_OWNERSHIP_CLONE)
            return unsupported_type(p->type);
        return cuGraphAddChildGraphNode(out, g, deps, n, p->graph.graph);
    case CU_GRAPH_NODE_TYPE_EMPTY: return cuGraphAddEmptyNode(out, g, deps, n);
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return cuGraphAddEventRecordNode(out, g, deps, n, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return cuGraphAddEventWaitNode(out, g, deps, n, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC: {
        CUDA_MEM_ALLOC_NODE_PARAMS a = {p->alloc.poolProps, p->alloc.accessDescs, p->alloc.accessDescCount,
                                        p->alloc.bytesize, 0};
        CUresult r = cuGraphAddMemAllocNode(out, g, deps, n, &a);
        if (r == CUDA_SUCCESS)
            p->alloc.dptr = a.dptr; /* the one output of cuGraphAddNode's parameters */
        return r;
    }
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return cuGraphAddMemFreeNode(out, g, deps, n, p->free.dptr);
    case CU_GRAPH_NODE_TYPE_CONDITIONAL: {
        /* phGraph_out is an output: the bodies, in an array the driver keeps */
        CUDA_CONDITIONAL_NODE_PARAMS *cp = &p->conditional;
        if (!cp->size || cp->size > RGPU_MAX_COND_BODIES)
            return CUDA_ERROR_INVALID_VALUE;
        CUgraph *bodies = calloc(cp->size, sizeof *bodies);
        if (!bodies)
            return CUDA_ERROR_OUT_OF_MEMORY;
        struct rgpu_args_rgpu_graph_conditional a = {.hGraph = g, .dependencies = deps, .numDependencies = n,
                                                     .handle = cp->handle, .type = (uint32_t)cp->type,
                                                     .size = cp->size, .ctx = (uint64_t)(uintptr_t)cp->ctx,
                                                     .bodies = bodies};
        CUresult r = rgpu_remote(RGPU_ID_rgpu_graph_conditional, &a);
        CUgraph *kept = r == CUDA_SUCCESS ? rgpu_graph_keep(a.phGraphNode, CU_GRAPH_NODE_TYPE_CONDITIONAL, bodies,
                                                            cp->size * sizeof *bodies)
                                          : NULL;
        free(bodies);
        if (r == CUDA_SUCCESS && !kept)
            r = CUDA_ERROR_OUT_OF_MEMORY; /* the node stays: as a failed call of the driver's could leave it */
        if (r == CUDA_SUCCESS) {
            cp->phGraph_out = kept;
            *out = a.phGraphNode;
        }
        return r;
    }
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: {
        CUDA_BATCH_MEM_OP_NODE_PARAMS b = {p->memOp.ctx, p->memOp.count, p->memOp.paramArray,
                                           p->memOp.flags};
        return cuGraphAddBatchMemOpNode(out, g, deps, n, &b);
    }
    default: return unsupported_type(p->type);
    }
}

RGPU_API CUresult cuGraphAddNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                    const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                    CUgraphNodeParams *nodeParams)
{
    if (!phGraphNode || !well_formed(nodeParams) || (numDependencies && !dependencies))
        return CUDA_ERROR_INVALID_VALUE;
    static const CUgraphEdgeData plain;
    bool plain_edges = true;
    for (size_t i = 0; dependencyData && i < numDependencies; i++)
        plain_edges = plain_edges && !memcmp(&dependencyData[i], &plain, sizeof plain);
    if (plain_edges)
        return add(phGraphNode, hGraph, dependencies, numDependencies, nodeParams);
    /* edges with data: the node first, then its edges, or no node at all */
    CUgraphNode n;
    CUresult r = add(&n, hGraph, NULL, 0, nodeParams);
    if (r != CUDA_SUCCESS)
        return r;
    CUgraphNode *to = malloc(numDependencies * sizeof *to);
    if (!to) {
        cuGraphDestroyNode(n);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < numDependencies; i++)
        to[i] = n;
    r = cuGraphAddDependencies_v2(hGraph, dependencies, to, dependencyData, numDependencies);
    free(to);
    if (r != CUDA_SUCCESS) {
        cuGraphDestroyNode(n);
        return r;
    }
    *phGraphNode = n;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuGraphAddNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                 size_t numDependencies, CUgraphNodeParams *nodeParams)
{
    return cuGraphAddNode_v2(phGraphNode, hGraph, dependencies, NULL, numDependencies, nodeParams);
}

/* The node's type must be the parameters' (every type-specific call checks
 * that too; an empty node has no call of its own). */
static CUresult same_type(CUgraphNode hNode, CUgraphNodeType t)
{
    CUgraphNodeType have;
    CUresult r = cuGraphNodeGetType(hNode, &have);
    return r != CUDA_SUCCESS ? r : have == t ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

RGPU_API CUresult cuGraphNodeSetParams(CUgraphNode hNode, CUgraphNodeParams *nodeParams)
{
    if (!well_formed(nodeParams))
        return CUDA_ERROR_INVALID_VALUE;
    CUgraphNodeParams *p = nodeParams;
    switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
        CUDA_KERNEL_NODE_PARAMS k = kernel_params(&p->kernel);
        return cuGraphKernelNodeSetParams_v2(hNode, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
        if (p->memcpy.flags || p->memcpy.reserved)
            return CUDA_ERROR_INVALID_VALUE;
        return cuGraphMemcpyNodeSetParams(hNode, &p->memcpy.copyParams);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
        CUDA_MEMSET_NODE_PARAMS m = memset_params(&p->memset);
        return cuGraphMemsetNodeSetParams(hNode, &m);
    }
    case CU_GRAPH_NODE_TYPE_HOST: {
        CUDA_HOST_NODE_PARAMS h = {p->host.fn, p->host.userData};
        return cuGraphHostNodeSetParams(hNode, &h);
    }
    case CU_GRAPH_NODE_TYPE_EMPTY: return same_type(hNode, p->type);
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return cuGraphEventRecordNodeSetEvent(hNode, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return cuGraphEventWaitNodeSetEvent(hNode, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: {
        CUDA_BATCH_MEM_OP_NODE_PARAMS b = {p->memOp.ctx, p->memOp.count, p->memOp.paramArray, p->memOp.flags};
        return cuGraphBatchMemOpNodeSetParams(hNode, &b);
    }
    default: return unsupported_type(p->type);
    }
}

RGPU_API CUresult cuGraphExecNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode, CUgraphNodeParams *nodeParams)
{
    if (!well_formed(nodeParams))
        return CUDA_ERROR_INVALID_VALUE;
    CUgraphNodeParams *p = nodeParams;
    switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
        CUDA_KERNEL_NODE_PARAMS k = kernel_params(&p->kernel);
        return cuGraphExecKernelNodeSetParams_v2(hGraphExec, hNode, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
        if (p->memcpy.flags || p->memcpy.reserved)
            return CUDA_ERROR_INVALID_VALUE;
        return cuGraphExecMemcpyNodeSetParams(hGraphExec, hNode, &p->memcpy.copyParams, p->memcpy.copyCtx);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
        CUDA_MEMSET_NODE_PARAMS m = memset_params(&p->memset);
        return cuGraphExecMemsetNodeSetParams(hGraphExec, hNode, &m, p->memset.ctx);
    }
    case CU_GRAPH_NODE_TYPE_HOST: {
        CUDA_HOST_NODE_PARAMS h = {p->host.fn, p->host.userData};
        return cuGraphExecHostNodeSetParams(hGraphExec, hNode, &h);
    }
    case CU_GRAPH_NODE_TYPE_GRAPH: return cuGraphExecChildGraphNodeSetParams(hGraphExec, hNode, p->graph.graph);
    case CU_GRAPH_NODE_TYPE_EMPTY: return same_type(hNode, p->type);
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
        return cuGraphExecEventRecordNodeSetEvent(hGraphExec, hNode, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return cuGraphExecEventWaitNodeSetEvent(hGraphExec, hNode, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: {
        CUDA_BATCH_MEM_OP_NODE_PARAMS b = {p->memOp.ctx, p->memOp.count, p->memOp.paramArray, p->memOp.flags};
        return cuGraphExecBatchMemOpNodeSetParams(hGraphExec, hNode, &b);
    }
    default: return unsupported_type(p->type);
    }
}
