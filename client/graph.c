/*
 * graph.c — the graph calls whose arguments the generated stubs cannot
 * carry: kernel nodes (parameters packed as launches pack them), host nodes
 * (client addresses, called back like cuLaunchHostFunc), node and edge
 * lists (in/out counts), kernel node parameters handed out, executable-graph updates (result information with
 * an error), and the older or per-thread forms of the generated calls.
 *
 * Graph handles are the server's; the server validates every one.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "context.h"
#include "funcinfo.h"
#include "handles.h"


/* ---- kernel nodes ---- */

/* Add (node NULL, exec NULL), set on a node (exec NULL) or on an exec. */
static CUresult kernel_node(CUgraphNode *out, CUgraph g, const CUgraphNode *deps, size_t ndeps, CUgraphNode node,
                            CUgraphExec exec, const CUDA_KERNEL_NODE_PARAMS *p)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!p || (!node && !out))
        return CUDA_ERROR_INVALID_VALUE;
    /* a CUkernel stands for its function (the server accepts either) */
    CUfunction f = p->func ? p->func : (CUfunction)p->kern;
    if (!f)
        return CUDA_ERROR_INVALID_VALUE;
    const void *params;
    size_t len;
    void *owned;
    if ((r = rgpu_launch_pack(f, p->kernelParams, p->extra, &params, &len, &owned)) != CUDA_SUCCESS)
        return r;
    struct rgpu_args_rgpu_graph_kernel a = {
        .phGraphNode_want = out != NULL && !node, .hGraph = g, .dependencies = deps, .numDependencies = ndeps,
        .hNode = node, .hExec = exec, .f = f,
        .cfg = {{p->gridDimX, p->gridDimY, p->gridDimZ}, {p->blockDimX, p->blockDimY, p->blockDimZ}, p->sharedMemBytes, 0},
        .params = params, .params_len = len};
    r = rgpu_remote(RGPU_ID_rgpu_graph_kernel, &a);
    free(owned);
    if (r == CUDA_SUCCESS && out && !node)
        *out = a.phGraphNode;
    return r;
}

RGPU_API CUresult cuGraphAddKernelNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                          size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    return kernel_node(phGraphNode, hGraph, dependencies, numDependencies, NULL, NULL, nodeParams);
}

RGPU_API CUresult cuGraphKernelNodeSetParams_v2(CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    if (!hNode)
        return CUDA_ERROR_INVALID_VALUE;
    return kernel_node(NULL, NULL, NULL, 0, hNode, NULL, nodeParams);
}

RGPU_API CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                    const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    if (!hGraphExec || !hNode)
        return CUDA_ERROR_INVALID_VALUE;
    return kernel_node(NULL, NULL, NULL, 0, hNode, hGraphExec, nodeParams);
}

/* What cuGraphKernelNodeGetParams hands out: the node's packed parameters
 * and pointers into them, kept per node until it is asked again (the driver
 * keeps its own until the node's parameters change). */
struct kept_params {
    struct kept_params *next;
    CUgraphNode node;
    void **args;
    unsigned char bytes[];
};
static struct kept_params *kept;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

RGPU_API CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!hNode || !nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    struct kept_params *k = malloc(sizeof *k + RGPU_MAX_PARAM_BYTES);
    if (!k)
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct rgpu_args_rgpu_graph_kernel_params a = {.hNode = hNode, .params = k->bytes};
    struct rgpu_func_info *fi = NULL;
    r = rgpu_remote(RGPU_ID_rgpu_graph_kernel_params, &a);
    if (r == CUDA_SUCCESS)
        r = rgpu_func_info(a.f, &fi);
    if (r == CUDA_SUCCESS && !(k->args = calloc((size_t)fi->nparams + 1, sizeof *k->args)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    for (int i = 0; r == CUDA_SUCCESS && i < fi->nparams; i++) {
        if (fi->param_offset[i] + fi->param_size[i] > a.len) {
            free(k->args);
            r = CUDA_ERROR_INVALID_VALUE; /* the server's layout disagrees with the function's */
            break;
        }
        k->args[i] = k->bytes + fi->param_offset[i];
    }
    if (r != CUDA_SUCCESS) {
        free(k);
        return r;
    }
    k->node = hNode;
    pthread_mutex_lock(&kept_lock);
    for (struct kept_params **pp = &kept; *pp; pp = &(*pp)->next) {
        if ((*pp)->node == hNode) {
            struct kept_params *old = *pp;
            *pp = old->next;
            free(old->args);
            free(old);
            break;
        }
    }
    k->next = kept;
    kept = k;
    pthread_mutex_unlock(&kept_lock);
    const struct rgpu_launch_cfg *g = &a.cfg;
    *nodeParams = (CUDA_KERNEL_NODE_PARAMS){a.f, g->grid[0], g->grid[1], g->grid[2], g->block[0], g->block[1],
                                            g->block[2], g->shared_bytes, k->args, NULL, NULL, NULL};
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuGraphKernelNodeGetParams(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_KERNEL_NODE_PARAMS p;
    CUresult r = cuGraphKernelNodeGetParams_v2(hNode, &p);
    if (r == CUDA_SUCCESS)
        *nodeParams = (CUDA_KERNEL_NODE_PARAMS_v1){p.func, p.gridDimX, p.gridDimY, p.gridDimZ, p.blockDimX,
                                                   p.blockDimY, p.blockDimZ, p.sharedMemBytes, p.kernelParams,
                                                   p.extra};
    return r;
}

/* The CUDA 10 forms: the same structure without its last two fields. */
static CUDA_KERNEL_NODE_PARAMS from_v1(const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
    return (CUDA_KERNEL_NODE_PARAMS){p->func, p->gridDimX, p->gridDimY, p->gridDimZ, p->blockDimX, p->blockDimY,
                                     p->blockDimZ, p->sharedMemBytes, p->kernelParams, p->extra, NULL, NULL};
}

RGPU_API CUresult cuGraphAddKernelNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                       size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_KERNEL_NODE_PARAMS p = from_v1(nodeParams);
    return kernel_node(phGraphNode, hGraph, dependencies, numDependencies, NULL, NULL, &p);
}

RGPU_API CUresult cuGraphKernelNodeSetParams(CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_KERNEL_NODE_PARAMS p = from_v1(nodeParams);
    return cuGraphKernelNodeSetParams_v2(hNode, &p);
}

RGPU_API CUresult cuGraphExecKernelNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                 const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_KERNEL_NODE_PARAMS p = from_v1(nodeParams);
    return cuGraphExecKernelNodeSetParams_v2(hGraphExec, hNode, &p);
}

/* ---- host nodes ---- */

RGPU_API CUresult cuGraphAddHostNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                     size_t numDependencies, const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!phGraphNode || !nodeParams || !nodeParams->fn)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_rgpu_graph_add_host a = {.hGraph = hGraph, .dependencies = dependencies,
                                              .numDependencies = numDependencies, .fn = nodeParams->fn,
                                              .userData = nodeParams->userData};
    r = rgpu_remote(RGPU_ID_rgpu_graph_add_host, &a);
    if (r == CUDA_SUCCESS)
        *phGraphNode = a.phGraphNode;
    return r;
}

RGPU_API CUresult cuGraphHostNodeGetParams(CUgraphNode hNode, CUDA_HOST_NODE_PARAMS *nodeParams)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_rgpu_graph_host_get a = {.hNode = hNode};
    r = rgpu_remote(RGPU_ID_rgpu_graph_host_get, &a);
    if (r == CUDA_SUCCESS)
        *nodeParams = (CUDA_HOST_NODE_PARAMS){a.fn, (void *)(uintptr_t)a.userData};
    return r;
}

static CUresult host_set(CUgraphNode node, CUgraphExec exec, const CUDA_HOST_NODE_PARAMS *p)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!p || !p->fn)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_rgpu_graph_host_set a = {.hNode = node, .hExec = exec, .fn = p->fn, .userData = p->userData};
    return rgpu_remote(RGPU_ID_rgpu_graph_host_set, &a);
}

RGPU_API CUresult cuGraphHostNodeSetParams(CUgraphNode hNode, const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    return host_set(hNode, NULL, nodeParams);
}

RGPU_API CUresult cuGraphExecHostNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                               const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    return hGraphExec ? host_set(hNode, hGraphExec, nodeParams) : CUDA_ERROR_INVALID_VALUE;
}

/* ---- node and edge lists ---- */

/* what: 0 nodes, 1 roots, 2 edges (into a and b) of graph g; 3 dependencies,
 * 4 dependents of node n. */
static CUresult list(CUgraph g, CUgraphNode n, uint32_t what, CUgraphNode *a, CUgraphNode *b, CUgraphEdgeData *edges,
                     size_t *num)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!num || (what == 2 && ((!a) != (!b))) || (edges && !a))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t cap = a ? *num : 0;
    CUgraphNode *buf = NULL;
    if (cap && !(buf = malloc(cap * sizeof *buf * (what == 2 ? 2 : 1))))
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct rgpu_args_rgpu_graph_nodes args = {.hGraph = g, .hNode = n, .what = what, .cap = cap, .nodes = buf};
    r = rgpu_remote(RGPU_ID_rgpu_graph_nodes, &args);
    if (r == CUDA_SUCCESS) {
        if (cap) {
            memcpy(a, buf, cap * sizeof *a);
            if (what == 2)
                memcpy(b, buf + cap, cap * sizeof *b);
            if (edges)
                memset(edges, 0, cap * sizeof *edges); /* only default edges are made */
        }
        *num = (size_t)args.count;
    }
    free(buf);
    return r;
}

RGPU_API CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes)
{
    return list(hGraph, NULL, 0, nodes, NULL, NULL, numNodes);
}

RGPU_API CUresult cuGraphGetRootNodes(CUgraph hGraph, CUgraphNode *rootNodes, size_t *numRootNodes)
{
    return list(hGraph, NULL, 1, rootNodes, NULL, NULL, numRootNodes);
}

RGPU_API CUresult cuGraphGetEdges_v2(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *edgeData,
                                     size_t *numEdges)
{
    return list(hGraph, NULL, 2, from, to, edgeData, numEdges);
}

RGPU_API CUresult cuGraphGetEdges(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to, size_t *numEdges)
{
    return list(hGraph, NULL, 2, from, to, NULL, numEdges);
}

RGPU_API CUresult cuGraphNodeGetDependencies_v2(CUgraphNode hNode, CUgraphNode *dependencies, CUgraphEdgeData *edgeData,
                                                size_t *numDependencies)
{
    return hNode ? list(NULL, hNode, 3, dependencies, NULL, edgeData, numDependencies) : CUDA_ERROR_INVALID_VALUE;
}

RGPU_API CUresult cuGraphNodeGetDependencies(CUgraphNode hNode, CUgraphNode *dependencies, size_t *numDependencies)
{
    return cuGraphNodeGetDependencies_v2(hNode, dependencies, NULL, numDependencies);
}

RGPU_API CUresult cuGraphNodeGetDependentNodes_v2(CUgraphNode hNode, CUgraphNode *dependentNodes,
                                                  CUgraphEdgeData *edgeData, size_t *numDependentNodes)
{
    return hNode ? list(NULL, hNode, 4, dependentNodes, NULL, edgeData, numDependentNodes) : CUDA_ERROR_INVALID_VALUE;
}

RGPU_API CUresult cuGraphNodeGetDependentNodes(CUgraphNode hNode, CUgraphNode *dependentNodes, size_t *numDependentNodes)
{
    return cuGraphNodeGetDependentNodes_v2(hNode, dependentNodes, NULL, numDependentNodes);
}

RGPU_API CUresult cuGraphRemoveDependencies(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
                                            size_t numDependencies)
{
    return cuGraphRemoveDependencies_v2(hGraph, from, to, NULL, numDependencies);
}

RGPU_API CUresult cuGraphAddDependencies(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
                                         size_t numDependencies)
{
    return cuGraphAddDependencies_v2(hGraph, from, to, NULL, numDependencies);
}

/* ---- instantiation, launch, update ---- */

RGPU_API CUresult cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
                                               CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    if (!instantiateParams)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuGraphInstantiateWithFlags(phGraphExec, hGraph,
                                             instantiateParams->flags & ~(cuuint64_t)CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD);
    if (r == CUDA_SUCCESS && (instantiateParams->flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD))
        r = cuGraphUpload(*phGraphExec, instantiateParams->hUploadStream);
    instantiateParams->hErrNode_out = NULL;
    instantiateParams->result_out = r == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
    return r;
}

RGPU_API CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                    CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    if (instantiateParams && !instantiateParams->hUploadStream)
        instantiateParams->hUploadStream = CU_STREAM_PER_THREAD;
    return cuGraphInstantiateWithParams(phGraphExec, hGraph, instantiateParams);
}

/* The CUDA 10/11 forms, with an error node and a log nobody fills. */
RGPU_API CUresult cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,
                                        char *logBuffer, size_t bufferSize)
{
    CUresult r = cuGraphInstantiateWithFlags(phGraphExec, hGraph, 0);
    if (phErrorNode)
        *phErrorNode = NULL;
    if (logBuffer && bufferSize)
        logBuffer[0] = 0;
    return r;
}

RGPU_API CUresult cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,
                                     char *logBuffer, size_t bufferSize)
{
    return cuGraphInstantiate_v2(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
}

RGPU_API CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    return cuGraphLaunch(hGraphExec, RGPU_PT(hStream));
}

RGPU_API CUresult cuGraphUpload_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    return cuGraphUpload(hGraphExec, RGPU_PT(hStream));
}

RGPU_API CUresult cuGraphExecUpdate_v2(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphExecUpdateResultInfo *resultInfo)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!resultInfo)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_args_rgpu_graph_exec_update a = {.hGraphExec = hGraphExec, .hGraph = hGraph};
    r = rgpu_remote(RGPU_ID_rgpu_graph_exec_update, &a);
    if (r != CUDA_SUCCESS)
        return r;
    *resultInfo = a.resultInfo;
    return a.result;
}

RGPU_API CUresult cuGraphExecUpdate(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphNode *hErrorNode_out,
                                    CUgraphExecUpdateResult *updateResult_out)
{
    if (!hErrorNode_out || !updateResult_out)
        return CUDA_ERROR_INVALID_VALUE;
    CUgraphExecUpdateResultInfo info = {0};
    CUresult r = cuGraphExecUpdate_v2(hGraphExec, hGraph, &info);
    *hErrorNode_out = info.errorNode;
    *updateResult_out = info.result;
    return r;
}
