/*
 * graphs.c — server handlers of the graph and capture rows that need more
 * than the generated code (W_SYNC rows of calls.def): the capture query,
 * host and kernel nodes, node lists and executable-graph updates.
 *
 * Node handles reach the client here too (capture dependencies, node lists,
 * the node an update failed on); each is registered under its graph before
 * the reply leaves, so the client may pass it back.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

/* Node lists and capture dependencies come back at most this long. */
#define MAX_NODES (1u << 20)

/* The graphs being captured that a capture query handed out, by stream: if
 * the capture fails the driver destroys the graph, and its handle (and its
 * nodes') must go too. */
struct building {
    struct building *next;
    CUstream s;
    CUgraph g;
    bool external; /* the client's graph (cuStreamBeginCaptureToGraph): it outlives the capture */
};
static struct building *buildings;
static pthread_mutex_t buildings_lock = PTHREAD_MUTEX_INITIALIZER;

/* Remember (g not NULL) or take back (g NULL: returns it, and in *external
 * whether it is the client's) s's graph. Once external, it stays so. */
static CUgraph building_ext(CUstream s, CUgraph g, bool external, bool *was_external)
{
    CUgraph old = NULL;
    bool old_ext = false;
    pthread_mutex_lock(&buildings_lock);
    for (struct building **pp = &buildings; *pp; pp = &(*pp)->next) {
        if ((*pp)->s == s) {
            struct building *b = *pp;
            old = b->g;
            old_ext = b->external;
            *pp = b->next;
            free(b);
            break;
        }
    }
    struct building *b = g ? malloc(sizeof *b) : NULL;
    if (b) {
        *b = (struct building){buildings, s, g, external || (old_ext && old == g)};
        buildings = b;
    }
    pthread_mutex_unlock(&buildings_lock);
    if (was_external)
        *was_external = old_ext;
    return old;
}

static CUgraph building(CUstream s, CUgraph g) { return building_ext(s, g, false, NULL); }

void graphs_capture_to(CUstream s, CUgraph g) { (void)building_ext(s, g, true, NULL); }

static void reg_nodes(struct srv_call *c, CUgraph g, const CUgraphNode *nodes, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (nodes[i])
            handles_add(&c->w->handles, HT_GNODE, nodes[i], (CUcontext)g);
}

static CUresult capture_info(struct srv_call *c)
{
    struct rgpu_args_rgpu_capture_info *a = c->args;
    CUresult r = dispatch_check_stream(c, &a->hStream);
    if (r != CUDA_SUCCESS)
        return r;
    if (a->maxDeps > MAX_NODES)
        return CUDA_ERROR_INVALID_VALUE;
    CUstreamCaptureStatus st;
    cuuint64_t id = 0;
    CUgraph g = NULL;
    const CUgraphNode *deps = NULL;
    size_t n = 0;
    r = c->w->be->cuStreamGetCaptureInfo_v3(a->hStream, &st, &id, &g, &deps, NULL, &n);
    if (r != CUDA_SUCCESS)
        return r;
    a->deps = dispatch_outbuf(c, a->deps_len);
    if (a->deps_len && !a->deps)
        return CUDA_ERROR_OUT_OF_MEMORY;
    uint64_t k = n < a->maxDeps ? n : a->maxDeps;
    if (k && deps)
        memcpy(a->deps, deps, k * sizeof *deps);
    a->state = (struct rgpu_capture_state){(uint32_t)st, 0, id, (uint64_t)(uintptr_t)g, n};
    if (g) {
        if (!handles_has(&c->w->handles, HT_GRAPH, g)) /* a graph of the client's keeps its owner */
            handles_add(&c->w->handles, HT_GRAPH, g, NULL);
        building(a->hStream, g);
    }
    reg_nodes(c, g, a->deps, k);
    return CUDA_SUCCESS;
}

static CUresult end_capture(struct srv_call *c)
{
    struct rgpu_args_rgpu_end_capture *a = c->args;
    CUresult r = dispatch_check_stream(c, &a->hStream);
    if (r != CUDA_SUCCESS)
        return r;
    r = c->w->be->cuStreamEndCapture(a->hStream, &a->phGraph);
    bool external = false;
    if (r == CUDA_SUCCESS) {
        building_ext(a->hStream, NULL, false, &external);
        if (!external && !handles_has(&c->w->handles, HT_GRAPH, a->phGraph))
            handles_add(&c->w->handles, HT_GRAPH, a->phGraph, NULL);
    } else if (r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED || r == CUDA_ERROR_STREAM_CAPTURE_UNJOINED) {
        CUgraph g = building_ext(a->hStream, NULL, false, &external);
        if (g && !external)
            handles_del_tree(&c->w->handles, g); /* the driver destroyed it; the client's own stays */
    }
    return r;
}

/* A graph and nodes of it to add a node after. */
static CUresult check_graph_deps(struct srv_call *c, CUgraph g, const CUgraphNode *deps, uint64_t deps_len)
{
    CUresult r = dispatch_check_handle(c, HT_GRAPH, g);
    return r == CUDA_SUCCESS ? dispatch_check_nodes(c, deps, deps_len / sizeof(CUgraphNode)) : r;
}

static CUresult add_host(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_add_host *a = c->args;
    CUresult r = check_graph_deps(c, a->hGraph, a->dependencies, a->dependencies_len);
    if (r != CUDA_SUCCESS)
        return r;
    if (!a->fn)
        return CUDA_ERROR_INVALID_VALUE;
    void *hc = custom_host_call(c->w, a->fn, a->userData, true);
    if (!hc)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUDA_HOST_NODE_PARAMS p = {custom_host_trampoline, hc};
    r = c->w->be->cuGraphAddHostNode(&a->phGraphNode, a->hGraph, a->dependencies, a->numDependencies, &p);
    if (r == CUDA_SUCCESS)
        handles_add(&c->w->handles, HT_GNODE, a->phGraphNode, (CUcontext)a->hGraph);
    return r;
}

/* A graph allocation node: its parameters rebuilt with the descriptors
 * that travelled apart. */
static CUresult mem_alloc(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_mem_alloc *a = c->args;
    CUresult r = check_graph_deps(c, a->hGraph, a->dependencies, a->dependencies_len);
    if (r != CUDA_SUCCESS)
        return r;
    CUDA_MEM_ALLOC_NODE_PARAMS p = a->params;
    p.accessDescs = a->descs;
    p.poolProps.win32SecurityAttributes = NULL; /* a client's pointer: nothing on Linux */
    r = c->w->be->cuGraphAddMemAllocNode(&a->phGraphNode, a->hGraph, a->dependencies, a->numDependencies, &p);
    if (r == CUDA_SUCCESS) {
        a->dptr = p.dptr;
        handles_add(&c->w->handles, HT_GNODE, a->phGraphNode, (CUcontext)a->hGraph);
    }
    return r;
}

static CUresult mem_alloc_params(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_mem_alloc_params *a = c->args;
    CUresult r = dispatch_check_handle(c, HT_GNODE, a->hNode);
    if (r == CUDA_SUCCESS && !a->hNode)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        r = c->w->be->cuGraphMemAllocNodeGetParams(a->hNode, &a->params);
    if (r != CUDA_SUCCESS)
        return r;
    size_t n = a->params.accessDescCount < RGPU_MAX_ACCESS_DESCS ? a->params.accessDescCount : RGPU_MAX_ACCESS_DESCS;
    if (!(a->descs = dispatch_outbuf(c, a->descs_len)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    memset(a->descs, 0, a->descs_len);
    if (n && a->params.accessDescs)
        memcpy(a->descs, a->params.accessDescs, n * sizeof *a->descs);
    a->params.accessDescCount = n;
    a->params.accessDescs = NULL; /* the server's pointer means nothing there */
    return CUDA_SUCCESS;
}

/* A conditional node, made by cuGraphAddNode: its bodies are the node's. */
static CUresult conditional(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_conditional *a = c->args;
    CUcontext ctx = (CUcontext)(uintptr_t)a->ctx;
    CUresult r = check_graph_deps(c, a->hGraph, a->dependencies, a->dependencies_len);
    if (r == CUDA_SUCCESS && ctx)
        r = dispatch_check_handle(c, HT_CTX, ctx);
    if (r != CUDA_SUCCESS)
        return r;
    if (!(a->bodies = dispatch_outbuf(c, a->bodies_len)))
        return a->size ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_VALUE;
    CUgraphNodeParams p;
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
    p.conditional.handle = a->handle;
    p.conditional.type = (CUgraphConditionalNodeType)a->type;
    p.conditional.size = a->size;
    p.conditional.phGraph_out = a->bodies;
    p.conditional.ctx = ctx;
    r = c->w->be->cuGraphAddNode_v2(&a->phGraphNode, a->hGraph, a->dependencies, NULL, a->numDependencies, &p);
    if (r != CUDA_SUCCESS)
        return r;
    handles_add(&c->w->handles, HT_GNODE, a->phGraphNode, (CUcontext)a->hGraph);
    for (uint32_t k = 0; k < a->size; k++)
        handles_add(&c->w->handles, HT_GRAPH, a->bodies[k], (CUcontext)a->phGraphNode);
    return CUDA_SUCCESS;
}

/* A batch memory-operation node added, or its operations set. */
static CUresult memops(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_memops *a = c->args;
    CUcontext ctx = (CUcontext)(uintptr_t)a->ctx;
    CUresult r = check_graph_deps(c, a->hGraph, a->dependencies, a->dependencies_len);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_handle(c, HT_GNODE, a->hNode);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_handle(c, HT_GEXEC, a->hExec);
    if (r == CUDA_SUCCESS && ctx)
        r = dispatch_check_handle(c, HT_CTX, ctx);
    if (r != CUDA_SUCCESS)
        return r;
    CUDA_BATCH_MEM_OP_NODE_PARAMS p = {ctx, a->count, (CUstreamBatchMemOpParams *)a->ops, a->flags};
    if (a->hExec)
        return a->hNode ? c->w->be->cuGraphExecBatchMemOpNodeSetParams(a->hExec, a->hNode, &p)
                        : CUDA_ERROR_INVALID_VALUE;
    if (a->hNode)
        return c->w->be->cuGraphBatchMemOpNodeSetParams(a->hNode, &p);
    if (!a->phGraphNode_want)
        return CUDA_ERROR_INVALID_VALUE;
    r = c->w->be->cuGraphAddBatchMemOpNode(&a->phGraphNode, a->hGraph, a->dependencies, a->numDependencies, &p);
    if (r == CUDA_SUCCESS)
        handles_add(&c->w->handles, HT_GNODE, a->phGraphNode, (CUcontext)a->hGraph);
    return r;
}

static CUresult memops_params(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_memops_params *a = c->args;
    CUresult r = dispatch_check_handle(c, HT_GNODE, a->hNode);
    if (r == CUDA_SUCCESS && !a->hNode)
        r = CUDA_ERROR_INVALID_VALUE;
    CUDA_BATCH_MEM_OP_NODE_PARAMS p;
    if (r == CUDA_SUCCESS)
        r = c->w->be->cuGraphBatchMemOpNodeGetParams(a->hNode, &p);
    if (r == CUDA_SUCCESS && (p.count > RGPU_MAX_BATCH_MEMOPS || (p.count && !p.paramArray)))
        r = CUDA_ERROR_NOT_SUPPORTED; /* more than a request can carry */
    if (r == CUDA_SUCCESS && !(a->ops = dispatch_outbuf(c, a->ops_len)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r != CUDA_SUCCESS)
        return r;
    memset(a->ops, 0, a->ops_len);
    if (p.count)
        memcpy(a->ops, p.paramArray, p.count * sizeof *p.paramArray);
    a->ctx = (uint64_t)(uintptr_t)p.ctx;
    a->flags = p.flags;
    a->count = p.count;
    return CUDA_SUCCESS;
}

/* A host node's parameters are the trampoline and a kept host call: the
 * client sees its own function and argument. */
static CUresult host_get(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_host_get *a = c->args;
    CUresult r = dispatch_check_handle(c, HT_GNODE, a->hNode);
    if (r != CUDA_SUCCESS)
        return r;
    if (!a->hNode)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_HOST_NODE_PARAMS p;
    if ((r = c->w->be->cuGraphHostNodeGetParams(a->hNode, &p)) != CUDA_SUCCESS)
        return r;
    uint64_t fn, user;
    if (p.fn != custom_host_trampoline || !custom_host_call_client(p.userData, &fn, &user))
        return CUDA_ERROR_NOT_SUPPORTED; /* not one a client made: nothing it could call */
    a->fn = (CUhostFn)(uintptr_t)fn;
    a->userData = user;
    return CUDA_SUCCESS;
}

static CUresult host_set(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_host_set *a = c->args;
    CUresult r = dispatch_check_handle(c, HT_GNODE, a->hNode);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_handle(c, HT_GEXEC, a->hExec);
    if (r != CUDA_SUCCESS)
        return r;
    if (!a->hNode || !a->fn)
        return CUDA_ERROR_INVALID_VALUE;
    void *hc = custom_host_call(c->w, a->fn, a->userData, true);
    if (!hc)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUDA_HOST_NODE_PARAMS p = {custom_host_trampoline, hc};
    return a->hExec ? c->w->be->cuGraphExecHostNodeSetParams(a->hExec, a->hNode, &p)
                    : c->w->be->cuGraphHostNodeSetParams(a->hNode, &p);
}

static CUresult kernel(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_kernel *a = c->args;
    CUresult r = dispatch_check_handle(c, HT_GRAPH, a->hGraph);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_handle(c, HT_GNODE, a->hNode);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_handle(c, HT_GEXEC, a->hExec);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_func(c, &a->f);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_nodes(c, a->dependencies, a->dependencies_len / sizeof(CUgraphNode));
    if (r != CUDA_SUCCESS)
        return r;
    if (!a->f)
        return CUDA_ERROR_INVALID_VALUE;
    struct launch_params lp;
    if ((r = modules_launch_params(c, a->f, a->params, a->params_len, &lp)) != CUDA_SUCCESS)
        return r;
    const struct rgpu_launch_cfg *g = &a->cfg;
    /* Both backends copy the parameters before the call returns. */
    CUDA_KERNEL_NODE_PARAMS p = {.func = a->f,
                                 .gridDimX = g->grid[0], .gridDimY = g->grid[1], .gridDimZ = g->grid[2],
                                 .blockDimX = g->block[0], .blockDimY = g->block[1], .blockDimZ = g->block[2],
                                 .sharedMemBytes = g->shared_bytes,
                                 .extra = lp.extra};
    if (a->hExec) {
        if (!a->hNode)
            return CUDA_ERROR_INVALID_VALUE;
        return c->w->be->cuGraphExecKernelNodeSetParams_v2(a->hExec, a->hNode, &p);
    }
    if (a->hNode)
        return c->w->be->cuGraphKernelNodeSetParams_v2(a->hNode, &p);
    if (!a->phGraphNode_want)
        return CUDA_ERROR_INVALID_VALUE;
    r = c->w->be->cuGraphAddKernelNode_v2(&a->phGraphNode, a->hGraph, a->dependencies, a->numDependencies, &p);
    if (r == CUDA_SUCCESS)
        handles_add(&c->w->handles, HT_GNODE, a->phGraphNode, (CUcontext)a->hGraph);
    return r;
}

/* A kernel node's parameters packed in its function's layout: the backend
 * hands out an array of pointers (or a packed buffer through `extra`). */
static CUresult kernel_params(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_kernel_params *a = c->args;
    CUresult r = dispatch_check_handle(c, HT_GNODE, a->hNode);
    if (r != CUDA_SUCCESS)
        return r;
    CUDA_KERNEL_NODE_PARAMS p;
    memset(&p, 0, sizeof p);
    if ((r = c->w->be->cuGraphKernelNodeGetParams_v2(a->hNode, &p)) != CUDA_SUCCESS)
        return r;
    if (!(a->params = dispatch_outbuf(c, a->params_len)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    a->f = p.func ? p.func : (CUfunction)p.kern;
    a->cfg = (struct rgpu_launch_cfg){{p.gridDimX, p.gridDimY, p.gridDimZ}, {p.blockDimX, p.blockDimY, p.blockDimZ},
                                      p.sharedMemBytes, 0};
    a->len = 0;
    if (p.extra) {
        const void *buf = NULL;
        size_t n = 0;
        for (int i = 0; i < 64 && p.extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
            if (p.extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
                buf = p.extra[i + 1];
            else if (p.extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && p.extra[i + 1])
                n = *(const size_t *)p.extra[i + 1];
        }
        if (n > a->params_len || (n && !buf))
            return CUDA_ERROR_NOT_SUPPORTED;
        memcpy(a->params, buf, n);
        a->len = n;
        return CUDA_SUCCESS;
    }
    /* each parameter where the function's layout puts it */
    for (size_t i = 0; p.kernelParams; i++) {
        size_t off, size;
        if (c->w->be->cuFuncGetParamInfo(a->f, i, &off, &size) != CUDA_SUCCESS)
            break; /* past the last one */
        if (off > a->params_len || size > a->params_len - off || !p.kernelParams[i])
            return CUDA_ERROR_NOT_SUPPORTED;
        memcpy((char *)a->params + off, p.kernelParams[i], size);
        if (off + size > a->len)
            a->len = off + size;
    }
    return CUDA_SUCCESS;
}

static CUresult nodes(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_nodes *a = c->args;
    CUresult r = dispatch_check_handle(c, HT_GRAPH, a->hGraph);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_handle(c, HT_GNODE, a->hNode);
    if (r != CUDA_SUCCESS)
        return r;
    bool of_node = a->what == 3 || a->what == 4;
    if ((of_node ? !a->hNode : !a->hGraph) || a->what > 4 || a->cap > MAX_NODES)
        return CUDA_ERROR_INVALID_VALUE;
    if (of_node) /* the nodes found are the node's graph's */
        a->hGraph = (CUgraph)handles_owner(&c->w->handles, a->hNode);
    a->nodes = dispatch_outbuf(c, a->nodes_len);
    if (a->nodes_len && !a->nodes)
        return CUDA_ERROR_OUT_OF_MEMORY;
    size_t n = a->cap;
    CUgraphNode *out = a->cap ? a->nodes : NULL;
    if (a->what == 0)
        r = c->w->be->cuGraphGetNodes(a->hGraph, out, &n);
    else if (a->what == 1)
        r = c->w->be->cuGraphGetRootNodes(a->hGraph, out, &n);
    else if (a->what == 2)
        r = c->w->be->cuGraphGetEdges_v2(a->hGraph, out, out ? out + a->cap : NULL, NULL, &n);
    else if (a->what == 3)
        r = c->w->be->cuGraphNodeGetDependencies_v2(a->hNode, out, NULL, &n);
    else
        r = c->w->be->cuGraphNodeGetDependentNodes_v2(a->hNode, out, NULL, &n);
    if (r != CUDA_SUCCESS)
        return r;
    a->count = n;
    reg_nodes(c, a->hGraph, a->nodes, a->cap * (a->what == 2 ? 2 : 1));
    return CUDA_SUCCESS;
}

static CUresult exec_update(struct srv_call *c)
{
    struct rgpu_args_rgpu_graph_exec_update *a = c->args;
    CUresult r = dispatch_check_handle(c, HT_GEXEC, a->hGraphExec);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_handle(c, HT_GRAPH, a->hGraph);
    if (r != CUDA_SUCCESS)
        return r;
    memset(&a->resultInfo, 0, sizeof a->resultInfo);
    a->result = c->w->be->cuGraphExecUpdate_v2(a->hGraphExec, a->hGraph, &a->resultInfo);
    if (a->result != CUDA_SUCCESS && a->result != CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE)
        return a->result; /* no result information */
    if (a->resultInfo.errorNode)
        handles_add(&c->w->handles, HT_GNODE, a->resultInfo.errorNode, (CUcontext)a->hGraph);
    /* errorFromNode belongs to the graph the exec was made from, which this
     * worker cannot name: the client gets it but cannot pass it back */
    return CUDA_SUCCESS;
}

CUresult graphs_exec(struct srv_call *c)
{
    switch ((enum rgpu_call_id)c->hdr.call) {
    case RGPU_ID_rgpu_capture_info: return capture_info(c);
    case RGPU_ID_rgpu_end_capture: return end_capture(c);
    case RGPU_ID_rgpu_graph_add_host: return add_host(c);
    case RGPU_ID_rgpu_graph_mem_alloc: return mem_alloc(c);
    case RGPU_ID_rgpu_graph_mem_alloc_params: return mem_alloc_params(c);
    case RGPU_ID_rgpu_graph_memops: return memops(c);
    case RGPU_ID_rgpu_graph_conditional: return conditional(c);
    case RGPU_ID_rgpu_graph_memops_params: return memops_params(c);
    case RGPU_ID_rgpu_graph_host_get: return host_get(c);
    case RGPU_ID_rgpu_graph_host_set: return host_set(c);
    case RGPU_ID_rgpu_graph_kernel: return kernel(c);
    case RGPU_ID_rgpu_graph_kernel_params: return kernel_params(c);
    case RGPU_ID_rgpu_graph_nodes: return nodes(c);
    case RGPU_ID_rgpu_graph_exec_update: return exec_update(c);
    default: return CUDA_ERROR_NOT_SUPPORTED;
    }
}
