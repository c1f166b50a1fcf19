/*
 * graph_dot.c — cuGraphDebugDotPrint: the graph as a Graphviz file on the
 * client's side (the path is the caller's), written from the same queries a
 * program could make: nodes, their types and parameters, edges, and child
 * graphs as clusters. The layout is rgpu's own; NVIDIA's driver writes more
 * detail (and its own format) under the verbose flags.
 */
#include <stdio.h>
#include <stdlib.h>

#include "client.h"
#include "context.h"

static const char *type_name(CUgraphNodeType t)
{
    switch (t) {
    case CU_GRAPH_NODE_TYPE_KERNEL: return "kernel";
    case CU_GRAPH_NODE_TYPE_MEMCPY: return "memcpy";
    case CU_GRAPH_NODE_TYPE_MEMSET: return "memset";
    case CU_GRAPH_NODE_TYPE_HOST: return "host";
    case CU_GRAPH_NODE_TYPE_GRAPH: return "graph";
    case CU_GRAPH_NODE_TYPE_EMPTY: return "empty";
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return "event wait";
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return "event record";
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC: return "mem alloc";
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return "mem free";
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: return "batch mem op";
    case CU_GRAPH_NODE_TYPE_CONDITIONAL: return "conditional";
    default: return "node";
    }
}

/* What a node does, in a few words, after its type. */
static void describe(FILE *f, CUgraphNode n, CUgraphNodeType t)
{
    switch (t) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
        CUDA_KERNEL_NODE_PARAMS k;
        const char *name = NULL;
        if (cuGraphKernelNodeGetParams_v2(n, &k) == CUDA_SUCCESS) {
            if (cuFuncGetName(&name, k.func) != CUDA_SUCCESS)
                name = NULL;
            fprintf(f, "\\n%s\\n<<<(%u,%u,%u), (%u,%u,%u), %u>>>", name ? name : "?", k.gridDimX, k.gridDimY,
                    k.gridDimZ, k.blockDimX, k.blockDimY, k.blockDimZ, k.sharedMemBytes);
        }
        break;
    }
    case CU_GRAPH_NODE_TYPE_MEMSET: {
        CUDA_MEMSET_NODE_PARAMS m;
        if (cuGraphMemsetNodeGetParams(n, &m) == CUDA_SUCCESS)
            fprintf(f, "\\ndst 0x%llx value 0x%x\\n%zu x %zu x %u bytes", (unsigned long long)m.dst, m.value, m.width,
                    m.height, m.elementSize);
        break;
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY: {
        CUDA_MEMCPY3D c;
        if (cuGraphMemcpyNodeGetParams(n, &c) == CUDA_SUCCESS)
            fprintf(f, "\\n0x%llx -> 0x%llx\\n%zu x %zu bytes", (unsigned long long)c.srcDevice,
                    (unsigned long long)c.dstDevice, c.WidthInBytes, c.Height);
        break;
    }
    case CU_GRAPH_NODE_TYPE_HOST: {
        CUDA_HOST_NODE_PARAMS h;
        if (cuGraphHostNodeGetParams(n, &h) == CUDA_SUCCESS)
            fprintf(f, "\\nfn %p arg %p", (void *)(uintptr_t)h.fn, h.userData);
        break;
    }
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: {
        CUevent e;
        CUresult r = t == CU_GRAPH_NODE_TYPE_EVENT_RECORD ? cuGraphEventRecordNodeGetEvent(n, &e)
                                                          : cuGraphEventWaitNodeGetEvent(n, &e);
        if (r == CUDA_SUCCESS)
            fprintf(f, "\\nevent %p", (void *)e);
        break;
    }
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC: {
        CUDA_MEM_ALLOC_NODE_PARAMS a;
        if (cuGraphMemAllocNodeGetParams(n, &a) == CUDA_SUCCESS)
            fprintf(f, "\\n0x%llx\\n%zu bytes", (unsigned long long)a.dptr, a.bytesize);
        break;
    }
    case CU_GRAPH_NODE_TYPE_MEM_FREE: {
        CUdeviceptr d;
        if (cuGraphMemFreeNodeGetParams(n, &d) == CUDA_SUCCESS)
            fprintf(f, "\\n0x%llx", (unsigned long long)d);
        break;
    }
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: {
        CUDA_BATCH_MEM_OP_NODE_PARAMS b;
        if (cuGraphBatchMemOpNodeGetParams(n, &b) == CUDA_SUCCESS)
            fprintf(f, "\\n%u operations", b.count);
        break;
    }
    default: break;
    }
}

/* g's nodes (child graphs as clusters inside) and edges. */
static CUresult print_graph(FILE *f, CUgraph g, int depth)
{
    size_t n = 0, ne = 0;
    CUresult r = cuGraphGetNodes(g, NULL, &n);
    if (r == CUDA_SUCCESS)
        r = cuGraphGetEdges(g, NULL, NULL, &ne);
    if (r != CUDA_SUCCESS)
        return r;
    CUgraphNode *nodes = malloc((n + 1) * sizeof *nodes), *from = malloc((ne + 1) * sizeof *from),
                *to = malloc((ne + 1) * sizeof *to);
    if (!nodes || !from || !to)
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS && n)
        r = cuGraphGetNodes(g, nodes, &n);
    if (r == CUDA_SUCCESS && ne)
        r = cuGraphGetEdges(g, from, to, &ne);
    for (size_t i = 0; r == CUDA_SUCCESS && i < n; i++) {
        CUgraphNodeType t;
        if ((r = cuGraphNodeGetType(nodes[i], &t)) != CUDA_SUCCESS)
            break;
        fprintf(f, "%*s\"%p\" [shape=box label=\"%s", 2 * depth + 2, "", (void *)nodes[i], type_name(t));
        describe(f, nodes[i], t);
        fprintf(f, "\"];\n");
        CUgraph child;
        if (t == CU_GRAPH_NODE_TYPE_GRAPH && cuGraphChildGraphNodeGetGraph(nodes[i], &child) == CUDA_SUCCESS) {
            fprintf(f, "%*ssubgraph \"cluster_%p\" {\n%*slabel=\"graph %p\";\n", 2 * depth + 2, "",
                    (void *)nodes[i], 2 * depth + 4, "", (void *)child);
            r = print_graph(f, child, depth + 1);
            fprintf(f, "%*s}\n", 2 * depth + 2, "");
        }
    }
    for (size_t i = 0; r == CUDA_SUCCESS && i < ne; i++)
        fprintf(f, "%*s\"%p\" -> \"%p\";\n", 2 * depth + 2, "", (void *)from[i], (void *)to[i]);
    free(nodes);
    free(from);
    free(to);
    return r;
}

RGPU_API CUresult cuGraphDebugDotPrint(CUgraph hGraph, const char *path, unsigned int flags)
{
    (void)flags; /* every node is described alike: the verbosity flags change nothing here */
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!hGraph || !path)
        return CUDA_ERROR_INVALID_VALUE;
    size_t n;
    if ((r = cuGraphGetNodes(hGraph, NULL, &n)) != CUDA_SUCCESS)
        return r; /* a bad graph leaves no file */
    FILE *f = fopen(path, "w");
    if (!f)
        return CUDA_ERROR_OPERATING_SYSTEM;
    fprintf(f, "digraph \"%p\" {\n  compound=true;\n", (void *)hGraph);
    r = print_graph(f, hGraph, 0);
    fprintf(f, "}\n");
    if (fclose(f) != 0 && r == CUDA_SUCCESS)
        r = CUDA_ERROR_OPERATING_SYSTEM;
    return r;
}
