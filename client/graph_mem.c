/*
 * graph_mem.c — graph nodes of memory on the client: allocation nodes and
 * batch memory-operation nodes, whose parameters the generated stubs cannot
 * carry (an array behind a pointer, on the way in and out).
 *
 * cuGraphMemAllocNodeGetParams and cuGraphBatchMemOpNodeGetParams return
 * pointers to memory the driver keeps for the node; here the arrays are
 * kept per node (graph_keep.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "asyncargs.h"
#include "graph_keep.h"
#include "conn.h"
#include "context.h"

struct kept_array {
    CUgraphNode node;
    int tag;     /* which node call's answer */
    size_t size; /* bytes of room */
    void *bytes;
    struct kept_array *next;
};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept_array *kept;

void *rgpu_graph_keep(CUgraphNode node, int tag, const void *src, size_t size)
{
    pthread_mutex_lock(&lock);
    struct kept_array *k = kept;
    while (k && (k->node != node || k->tag != tag))
        k = k->next;
    if (!k && (k = calloc(1, sizeof *k))) {
        k->node = node;
        k->tag = tag;
        k->next = kept;
        kept = k;
    }
    void *d = k && size > k->size ? realloc(k->bytes, size) : k ? k->bytes : NULL;
    if (k && d) {
        k->bytes = d;
        k->size = size > k->size ? size : k->size;
        memcpy(d, src, size);
    }
    pthread_mutex_unlock(&lock);
    return d;
}

RGPU_API CUresult cuGraphAddMemAllocNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                         size_t numDependencies, CUDA_MEM_ALLOC_NODE_PARAMS *nodeParams)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!phGraphNode || !nodeParams || (nodeParams->accessDescCount && !nodeParams->accessDescs) ||
        nodeParams->accessDescCount > RGPU_MAX_ACCESS_DESCS)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_rgpu_graph_mem_alloc a = {.hGraph = hGraph, .dependencies = dependencies,
                                               .numDependencies = numDependencies, .params = *nodeParams,
                                               .descs = nodeParams->accessDescs};
    a.params.accessDescs = NULL; /* they travel apart */
    r = rgpu_remote(RGPU_ID_rgpu_graph_mem_alloc, &a);
    if (r == CUDA_SUCCESS) {
        atomic_store(&rgpu_graph_memory_seen, true);
        *phGraphNode = a.phGraphNode;
        nodeParams->dptr = a.dptr;
    }
    return r;
}

RGPU_API CUresult cuGraphMemAllocNodeGetParams(CUgraphNode hNode, CUDA_MEM_ALLOC_NODE_PARAMS *params_out)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!params_out)
        return CUDA_ERROR_INVALID_VALUE;
    CUmemAccessDesc descs[RGPU_MAX_ACCESS_DESCS];
    struct rgpu_args_rgpu_graph_mem_alloc_params a = {.hNode = hNode, .descs = descs};
    if ((r = rgpu_remote(RGPU_ID_rgpu_graph_mem_alloc_params, &a)) != CUDA_SUCCESS)
        return r;
    size_t n = a.params.accessDescCount;
    if (n > RGPU_MAX_ACCESS_DESCS)
        return CUDA_ERROR_INVALID_VALUE; /* the server sends no more */
    const CUmemAccessDesc *d = n ? rgpu_graph_keep(hNode, CU_GRAPH_NODE_TYPE_MEM_ALLOC, descs, n * sizeof *descs) : NULL;
    if (n && !d)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *params_out = a.params;
    params_out->accessDescs = d;
    return CUDA_SUCCESS;
}

/* ---- batch memory-operation nodes ---- */

/* add (hNode and hExec NULL), or set a graph's or an executable graph's node */
static CUresult memops(CUgraphNode *out, CUgraph g, const CUgraphNode *deps, size_t ndeps, CUgraphNode hNode,
                       CUgraphExec hExec, const CUDA_BATCH_MEM_OP_NODE_PARAMS *p)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!p || (p->count && !p->paramArray) || p->count > RGPU_MAX_BATCH_MEMOPS)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_rgpu_graph_memops a = {.phGraphNode_want = out != NULL, .hGraph = g, .dependencies = deps,
                                            .numDependencies = ndeps, .hNode = hNode, .hExec = hExec,
                                            .ctx = (uint64_t)(uintptr_t)p->ctx, .flags = p->flags,
                                            .ops = p->paramArray, .count = p->count};
    if ((r = rgpu_remote(RGPU_ID_rgpu_graph_memops, &a)) == CUDA_SUCCESS && out)
        *out = a.phGraphNode;
    return r;
}

RGPU_API CUresult cuGraphAddBatchMemOpNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                           size_t numDependencies, const CUDA_BATCH_MEM_OP_NODE_PARAMS *nodeParams)
{
    if (!phGraphNode)
        return CUDA_ERROR_INVALID_VALUE;
    return memops(phGraphNode, hGraph, dependencies, numDependencies, NULL, NULL, nodeParams);
}

RGPU_API CUresult cuGraphBatchMemOpNodeSetParams(CUgraphNode hNode, const CUDA_BATCH_MEM_OP_NODE_PARAMS *nodeParams)
{
    return memops(NULL, NULL, NULL, 0, hNode, NULL, nodeParams);
}

RGPU_API CUresult cuGraphExecBatchMemOpNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                     const CUDA_BATCH_MEM_OP_NODE_PARAMS *nodeParams)
{
    return memops(NULL, NULL, NULL, 0, hNode, hGraphExec, nodeParams);
}

RGPU_API CUresult cuGraphBatchMemOpNodeGetParams(CUgraphNode hNode, CUDA_BATCH_MEM_OP_NODE_PARAMS *nodeParams_out)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!nodeParams_out)
        return CUDA_ERROR_INVALID_VALUE;
    CUstreamBatchMemOpParams *ops = malloc(RGPU_MAX_BATCH_MEMOPS * sizeof *ops);
    if (!ops)
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct rgpu_args_rgpu_graph_memops_params a = {.hNode = hNode, .ops = ops};
    if ((r = rgpu_remote(RGPU_ID_rgpu_graph_memops_params, &a)) == CUDA_SUCCESS && a.count > RGPU_MAX_BATCH_MEMOPS)
        r = CUDA_ERROR_INVALID_VALUE; /* the server sends no more */
    void *kept_ops = NULL;
    if (r == CUDA_SUCCESS && a.count &&
        !(kept_ops = rgpu_graph_keep(hNode, CU_GRAPH_NODE_TYPE_BATCH_MEM_OP, ops, a.count * sizeof *ops)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    free(ops);
    if (r == CUDA_SUCCESS)
        *nodeParams_out = (CUDA_BATCH_MEM_OP_NODE_PARAMS){(CUcontext)(uintptr_t)a.ctx, a.count, kept_ops, a.flags};
    return r;
}
