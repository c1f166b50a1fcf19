/*
 * graph_edit.c — queries and edits of a graph's nodes after they are made:
 * a node's dependencies and dependents, removing nodes and edges, the
 * parameters of memset, copy and event nodes, and finding a node in a clone
 * (see graph.h). A graph a capture is still building takes every edit but
 * the removal of nodes (CUDA: "all operations other than destroy and node
 * removal are permitted" on cuStreamGetCaptureInfo's graph).
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

/* The node lists' rule (as cuGraphGetNodes'): with an array, at most *num
 * entries, the rest NULL, *num the number written; without, *num the count. */
static void put_list(struct gnode *const *v, size_t n, CUgraphNode *out, CUgraphEdgeData *edges, size_t *num)
{
    size_t k = 0;
    for (; k < n && (!out || k < *num); k++)
        if (out)
            out[k] = (CUgraphNode)v[k];
    for (size_t i = 0; out && i < *num; i++) {
        if (i >= k)
            out[i] = NULL;
        if (edges)
            memset(&edges[i], 0, sizeof edges[i]); /* only default edges are made */
    }
    *num = out ? k : n;
}

static CUresult edges_of(CUgraphNode hNode, CUgraphNode *out, CUgraphEdgeData *edges, size_t *num, bool dependents)
{
    CPUDEV_ENTER();
    if (!num || (edges && !out))
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    cpudev_lock();
    CUresult r = gnode_lookup_locked(hNode, &n);
    if (r == CUDA_SUCCESS && !dependents) {
        put_list(n->deps, (size_t)n->ndeps, out, edges, num);
    } else if (r == CUDA_SUCCESS) {
        struct gnode **v = malloc(((size_t)n->g->n + 1) * sizeof *v);
        size_t k = 0;
        for (int i = 0; v && i < n->g->n; i++) {
            struct gnode *m = n->g->nodes[i];
            for (int d = 0; d < m->ndeps; d++)
                if (m->deps[d] == n) {
                    v[k++] = m;
                    break;
                }
        }
        if (v)
            put_list(v, k, out, edges, num);
        else
            r = CUDA_ERROR_OUT_OF_MEMORY;
        free(v);
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphNodeGetDependencies_v2(CUgraphNode hNode, CUgraphNode *dependencies, CUgraphEdgeData *edgeData,
                                              size_t *numDependencies)
{
    return edges_of(hNode, dependencies, edgeData, numDependencies, false);
}

CUresult cpudev_cuGraphNodeGetDependentNodes_v2(CUgraphNode hNode, CUgraphNode *dependentNodes,
                                                CUgraphEdgeData *edgeData, size_t *numDependentNodes)
{
    return edges_of(hNode, dependentNodes, edgeData, numDependentNodes, true);
}

static bool drop_dep(struct gnode *n, const struct gnode *d)
{
    for (int i = 0; i < n->ndeps; i++)
        if (n->deps[i] == d) {
            memmove(&n->deps[i], &n->deps[i + 1], (size_t)(n->ndeps - i - 1) * sizeof *n->deps);
            n->ndeps--;
            return true;
        }
    return false;
}

CUresult cpudev_cuGraphDestroyNode(CUgraphNode hNode)
{
    CPUDEV_ENTER();
    struct gnode *n;
    cpudev_lock();
    CUresult r = gnode_lookup_locked(hNode, &n);
    if (r == CUDA_SUCCESS && n->g->capturing)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        struct graph *g = n->g;
        for (int i = 0; i < g->n; i++)
            drop_dep(g->nodes[i], n);
        memmove(&g->nodes[n->idx], &g->nodes[n->idx + 1], (size_t)(g->n - n->idx - 1) * sizeof *g->nodes);
        g->n--;
        for (int i = n->idx; i < g->n; i++)
            g->nodes[i]->idx = i;
        reg_del_locked(n);
        gparams_release_locked(&n->p);
        free(n->deps);
        free(n);
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphRemoveDependencies_v2(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
                                             const CUgraphEdgeData *edgeData, size_t numDependencies)
{
    CPUDEV_ENTER();
    struct graph *g;
    cpudev_lock();
    CUresult r = graph_edges_check_locked(hGraph, from, to, numDependencies, &g);
    /* every edge must exist with default data (the only kind made here),
     * before any goes: all or nothing */
    for (size_t i = 0; r == CUDA_SUCCESS && i < numDependencies; i++) {
        CUgraphEdgeData e = {0};
        struct gnode *a, *b;
        if (edgeData)
            memcpy(&e, &edgeData[i], sizeof e);
        memcpy(&a, &from[i], sizeof a);
        memcpy(&b, &to[i], sizeof b);
        bool found = false;
        for (int d = 0; d < b->ndeps && !found; d++)
            found = b->deps[d] == a;
        if (!found || e.from_port || e.to_port || e.type)
            r = CUDA_ERROR_INVALID_VALUE;
    }
    for (size_t i = 0; r == CUDA_SUCCESS && i < numDependencies; i++) {
        struct gnode *a, *b;
        memcpy(&a, &from[i], sizeof a);
        memcpy(&b, &to[i], sizeof b);
        drop_dep(b, a); /* a pair named twice is gone after the first */
    }
    cpudev_unlock();
    return r;
}

CUresult gnode_typed_locked(CUgraphNode hNode, CUgraphNodeType t, bool editing, struct gnode **out)
{
    CUresult r = gnode_lookup_locked(hNode, out);
    if (r == CUDA_SUCCESS && (*out)->p.type != t)
        r = CUDA_ERROR_INVALID_VALUE;
    return r;
}

CUresult cpudev_cuGraphMemsetNodeGetParams(CUgraphNode hNode, CUDA_MEMSET_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    cpudev_lock();
    CUresult r = gnode_typed_locked(hNode, CU_GRAPH_NODE_TYPE_MEMSET, false, &n);
    if (r == CUDA_SUCCESS)
        *nodeParams = n->p.u.set.desc;
    cpudev_unlock();
    return r;
}

CUresult graph_node_set_locked(CUgraphNode hNode, struct gparams *p, CUresult verdict)
{
    struct gnode *n;
    CUresult r = verdict;
    if (r == CUDA_SUCCESS)
        r = gnode_typed_locked(hNode, p->type, true, &n);
    if (r == CUDA_SUCCESS) {
        gparams_release_locked(&n->p);
        n->p = *p;
    } else {
        gparams_release_locked(p);
    }
    return r;
}

CUresult cpudev_cuGraphMemsetNodeSetParams(CUgraphNode hNode, const CUDA_MEMSET_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_MEMSET};
    cpudev_lock();
    CUresult v = gparams_memset(&p, nodeParams);
    p.type = CU_GRAPH_NODE_TYPE_MEMSET;
    CUresult r = graph_node_set_locked(hNode, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphMemcpyNodeGetParams(CUgraphNode hNode, CUDA_MEMCPY3D *nodeParams)
{
    CPUDEV_ENTER();
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    cpudev_lock();
    CUresult r = gnode_typed_locked(hNode, CU_GRAPH_NODE_TYPE_MEMCPY, false, &n);
    /* a captured copy from page-locked host memory has no address the client knows */
    if (r == CUDA_SUCCESS && (!mem_in_va((CUdeviceptr)(uintptr_t)n->p.u.copy.src) ||
                              !mem_in_va((CUdeviceptr)(uintptr_t)n->p.u.copy.dst)))
        r = CUDA_ERROR_NOT_SUPPORTED;
    if (r == CUDA_SUCCESS)
        *nodeParams = n->p.u.copy.desc;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphMemcpyNodeSetParams(CUgraphNode hNode, const CUDA_MEMCPY3D *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_MEMCPY};
    cpudev_lock();
    CUresult v = gparams_memcpy(&p, nodeParams);
    p.type = CU_GRAPH_NODE_TYPE_MEMCPY;
    CUresult r = graph_node_set_locked(hNode, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphHostNodeGetParams(CUgraphNode hNode, CUDA_HOST_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    cpudev_lock();
    CUresult r = gnode_typed_locked(hNode, CU_GRAPH_NODE_TYPE_HOST, false, &n);
    if (r == CUDA_SUCCESS)
        *nodeParams = (CUDA_HOST_NODE_PARAMS){n->p.u.host.fn, n->p.u.host.arg};
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphHostNodeSetParams(CUgraphNode hNode, const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p;
    CUresult v = gparams_host(&p, nodeParams);
    cpudev_lock();
    CUresult r = graph_node_set_locked(hNode, &p, v);
    cpudev_unlock();
    return r;
}

static CUresult get_event(CUgraphNode hNode, CUgraphNodeType t, CUevent *out)
{
    CPUDEV_ENTER();
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    cpudev_lock();
    CUresult r = gnode_typed_locked(hNode, t, false, &n);
    if (r == CUDA_SUCCESS)
        *out = (CUevent)n->p.u.ev;
    cpudev_unlock();
    return r;
}

static CUresult set_event(CUgraphNode hNode, CUgraphNodeType t, CUevent ev)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = t};
    cpudev_lock();
    CUresult v = reg_has_locked(ev, H_EVENT) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    if (v == CUDA_SUCCESS) {
        p.u.ev = (struct event *)ev;
        p.u.ev->refs++;
    }
    CUresult r = graph_node_set_locked(hNode, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphEventRecordNodeGetEvent(CUgraphNode hNode, CUevent *event_out)
{
    return get_event(hNode, CU_GRAPH_NODE_TYPE_EVENT_RECORD, event_out);
}

CUresult cpudev_cuGraphEventRecordNodeSetEvent(CUgraphNode hNode, CUevent event)
{
    return set_event(hNode, CU_GRAPH_NODE_TYPE_EVENT_RECORD, event);
}

CUresult cpudev_cuGraphEventWaitNodeGetEvent(CUgraphNode hNode, CUevent *event_out)
{
    return get_event(hNode, CU_GRAPH_NODE_TYPE_WAIT_EVENT, event_out);
}

CUresult cpudev_cuGraphEventWaitNodeSetEvent(CUgraphNode hNode, CUevent event)
{
    return set_event(hNode, CU_GRAPH_NODE_TYPE_WAIT_EVENT, event);
}

/* The node's own graph: changes to it are the node's (CUDA's rule too). */
CUresult cpudev_cuGraphChildGraphNodeGetGraph(CUgraphNode hNode, CUgraph *phGraph)
{
    CPUDEV_ENTER();
    if (!phGraph)
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    cpudev_lock();
    CUresult r = gnode_typed_locked(hNode, CU_GRAPH_NODE_TYPE_GRAPH, false, &n);
    if (r == CUDA_SUCCESS)
        *phGraph = (CUgraph)n->p.u.child;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphNodeFindInClone(CUgraphNode *phNode, CUgraphNode hOriginalNode, CUgraph hClonedGraph)
{
    CPUDEV_ENTER();
    if (!phNode)
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *o;
    struct graph *c;
    cpudev_lock();
    CUresult r = gnode_lookup_locked(hOriginalNode, &o);
    if (r == CUDA_SUCCESS)
        r = graph_lookup_locked(hClonedGraph, &c);
    /* ids are never reused: a node cloned from o is in a clone of o's graph */
    struct gnode *found = NULL;
    for (int i = 0; r == CUDA_SUCCESS && i < c->n && !found; i++)
        if (c->nodes[i]->origin == o->id)
            found = c->nodes[i];
    if (r == CUDA_SUCCESS && !found)
        r = CUDA_ERROR_INVALID_VALUE; /* not a clone of its graph, made after the clone, or removed from it */
    if (r == CUDA_SUCCESS)
        *phNode = (CUgraphNode)found;
    cpudev_unlock();
    return r;
}
