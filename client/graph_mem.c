/*
 * graph_mem.c — graph memory nodes on the client: the calls whose
 * parameters the generated stubs cannot carry (the allocation's access
 * descriptors are an array behind a pointer, on the way in and out).
 *
 * cuGraphMemAllocNodeGetParams returns accessDescs pointing at memory the
 * driver keeps for the node; here the descriptors are kept per node, the
 * latest answer's, for the life of the process (a few bytes a node).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "asyncargs.h"
#include "conn.h"
#include "context.h"

struct kept_descs {
    CUgraphNode node;
    size_t n;
    CUmemAccessDesc *d;
    struct kept_descs *next;
};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept_descs *kept;

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
    pthread_mutex_lock(&lock);
    struct kept_descs *k = kept;
    while (k && k->node != hNode)
        k = k->next;
    if (!k && (k = calloc(1, sizeof *k))) {
        k->node = hNode;
        k->next = kept;
        kept = k;
    }
    CUmemAccessDesc *d = k && n > k->n ? realloc(k->d, n * sizeof *d) : k ? k->d : NULL;
    if (k && d) {
        k->d = d;
        k->n = n > k->n ? n : k->n;
        memcpy(d, descs, n * sizeof *d);
    }
    pthread_mutex_unlock(&lock);
    if (n && !d)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *params_out = a.params;
    params_out->accessDescs = n ? d : NULL;
    return CUDA_SUCCESS;
}
