/*
 * graph_mem.c — graph memory nodes: cuGraphAddMemAllocNode and
 * cuGraphAddMemFreeNode, what stream capture makes of cuMemAllocAsync and
 * cuMemFreeAsync, their parameters, and the device's graph-memory figures.
 *
 * A graph allocation (struct gmem) gets its address when its node is made,
 * and that address is the node's for the graph's life, as CUDA promises.
 * The CPU device backs it with device memory from then on, owned by no
 * context and held while a node or an executable graph refers to it (CUDA
 * maps physical memory at the allocation's node and unmaps it at its free;
 * here the bytes simply stay). What a program can tell is kept: a launch
 * allocates it (an executable graph whose allocation from an earlier
 * launch was not freed cannot be launched again, unless instantiated with
 * AUTO_FREE_ON_LAUNCH), and a free node, cuMemFreeAsync or cuMemFree frees
 * it, each in program order, at the call. The device's used and reserved
 * graph memory are the bytes all graph allocations hold.
 *
 * Not offered, as with the driver: such a graph as a child graph or a clone,
 * instantiated twice at once, or updated with cuGraphExecUpdate.
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

struct gmem {
    int refs;          /* nodes and executable-graph nodes naming it */
    CUdeviceptr dptr;
    size_t size;
    bool live;         /* allocated by a launch, not freed since */
    CUDA_MEM_ALLOC_NODE_PARAMS desc; /* as given, accessDescs pointing at acc */
    CUmemAccessDesc *acc;
    struct gmem *next;
};

static struct gmem *all; /* cpudev.mu */
static uint64_t held, held_high;

static CUresult check_location(const CUmemLocation *l)
{
    return l->type == CU_MEM_LOCATION_TYPE_DEVICE && l->id == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult gmem_new_locked(const CUDA_MEM_ALLOC_NODE_PARAMS *p, struct gmem **out)
{
    if (!p || !p->bytesize || (p->accessDescCount && !p->accessDescs))
        return CUDA_ERROR_INVALID_VALUE;
    if (p->poolProps.allocType != CU_MEM_ALLOCATION_TYPE_PINNED || p->poolProps.handleTypes != CU_MEM_HANDLE_TYPE_NONE ||
        check_location(&p->poolProps.location) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < p->accessDescCount; i++)
        if (check_location(&p->accessDescs[i].location) != CUDA_SUCCESS ||
            p->accessDescs[i].flags > CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
            return CUDA_ERROR_INVALID_VALUE;
    struct gmem *m = calloc(1, sizeof *m);
    if (!m || (p->accessDescCount && !(m->acc = calloc(p->accessDescCount, sizeof *m->acc)))) {
        free(m);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    CUresult r = mem_alloc_internal_locked(NULL, p->bytesize, &m->dptr);
    if (r != CUDA_SUCCESS) {
        free(m->acc);
        free(m);
        return r;
    }
    if (p->accessDescCount)
        memcpy(m->acc, p->accessDescs, p->accessDescCount * sizeof *m->acc);
    m->refs = 1;
    m->size = p->bytesize;
    m->desc = *p;
    m->desc.accessDescs = m->acc;
    m->desc.dptr = m->dptr;
    m->next = all;
    all = m;
    held += m->size;
    if (held > held_high)
        held_high = held;
    *out = m;
    return CUDA_SUCCESS;
}

void gmem_ref_locked(struct gmem *m) { m->refs++; }

void gmem_unref_locked(struct gmem *m)
{
    if (!m || --m->refs > 0)
        return;
    for (struct gmem **pp = &all; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    held -= m->size;
    mem_free_block(m->dptr);
    free(m->acc);
    free(m);
}

static struct gmem *find_locked(CUdeviceptr p)
{
    for (struct gmem *m = all; m; m = m->next)
        if (m->dptr == p)
            return m;
    return NULL;
}

bool gmem_shared_locked(const struct gmem *m) { return m->refs > 1; }

bool graph_has_mem_nodes(const struct graph *g)
{
    for (int i = 0; i < g->n; i++) {
        CUgraphNodeType t = g->nodes[i]->p.type;
        if (t == CU_GRAPH_NODE_TYPE_MEM_ALLOC || t == CU_GRAPH_NODE_TYPE_MEM_FREE ||
            (t == CU_GRAPH_NODE_TYPE_GRAPH && graph_has_mem_nodes(g->nodes[i]->p.u.child)))
            return true;
    }
    return false;
}

void gmem_launch_locked(struct gmem *m, bool alloc) { m->live = alloc; }

bool gmem_live_locked(const struct gmem *m) { return m->live; }

CUresult gmem_free_locked(CUdeviceptr p)
{
    struct gmem *m = find_locked(p);
    if (!m)
        return CUDA_ERROR_NOT_FOUND; /* not a graph allocation */
    if (!m->live)
        return CUDA_ERROR_INVALID_VALUE; /* freed already, or never allocated by a launch */
    m->live = false;
    return CUDA_SUCCESS;
}

CUresult gparams_mem_free(struct gparams *p, CUdeviceptr dptr)
{
    if (!find_locked(dptr))
        return CUDA_ERROR_NOT_FOUND; /* a free node frees graph allocations only */
    *p = (struct gparams){.type = CU_GRAPH_NODE_TYPE_MEM_FREE};
    p->u.mfree = dptr;
    return CUDA_SUCCESS;
}

CUresult capture_mem_alloc_locked(struct stream *s, size_t bytesize, CUdeviceptr *dptr)
{
    CUDA_MEM_ALLOC_NODE_PARAMS d = {
        .poolProps = {.allocType = CU_MEM_ALLOCATION_TYPE_PINNED, .location = {CU_MEM_LOCATION_TYPE_DEVICE, 0}},
        .bytesize = bytesize};
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_MEM_ALLOC};
    CUresult r = gmem_new_locked(&d, &p.u.malloc);
    if (r != CUDA_SUCCESS)
        return r;
    CUdeviceptr out = p.u.malloc->dptr;
    if ((r = capture_node_locked(s, &p)) == CUDA_SUCCESS)
        *dptr = out;
    return r;
}

CUresult capture_mem_free_locked(struct stream *s, CUdeviceptr dptr)
{
    struct gparams p;
    CUresult r = gparams_mem_free(&p, dptr);
    return r == CUDA_SUCCESS ? capture_node_locked(s, &p) : r;
}

/* ---- driver calls ---- */

CUresult cpudev_cuGraphAddMemAllocNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                       size_t numDependencies, CUDA_MEM_ALLOC_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    cpudev_lock();
    CUresult v = gmem_new_locked(nodeParams, &p.u.malloc);
    if (v == CUDA_SUCCESS)
        p.type = CU_GRAPH_NODE_TYPE_MEM_ALLOC; /* released (the memory too) if the node is not made */
    CUdeviceptr dptr = v == CUDA_SUCCESS ? p.u.malloc->dptr : 0;
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p, v);
    if (r == CUDA_SUCCESS)
        nodeParams->dptr = dptr;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphAddMemFreeNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                      size_t numDependencies, CUdeviceptr dptr)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    cpudev_lock();
    CUresult v = gparams_mem_free(&p, dptr);
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p,
                                       v == CUDA_ERROR_NOT_FOUND ? CUDA_ERROR_INVALID_VALUE : v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphMemAllocNodeGetParams(CUgraphNode hNode, CUDA_MEM_ALLOC_NODE_PARAMS *params_out)
{
    CPUDEV_ENTER();
    struct gnode *n;
    if (!params_out)
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    CUresult r = gnode_typed_locked(hNode, CU_GRAPH_NODE_TYPE_MEM_ALLOC, false, &n);
    if (r == CUDA_SUCCESS)
        *params_out = n->p.u.malloc->desc; /* accessDescs: the node's, valid while it lives */
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphMemFreeNodeGetParams(CUgraphNode hNode, CUdeviceptr *dptr_out)
{
    CPUDEV_ENTER();
    struct gnode *n;
    if (!dptr_out)
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    CUresult r = gnode_typed_locked(hNode, CU_GRAPH_NODE_TYPE_MEM_FREE, false, &n);
    if (r == CUDA_SUCCESS)
        *dptr_out = n->p.u.mfree;
    cpudev_unlock();
    return r;
}

/* Memory no graph holds would go back to the system; all of it is held. */
CUresult cpudev_cuDeviceGraphMemTrim(CUdevice device)
{
    CPUDEV_ENTER();
    return device == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

CUresult cpudev_cuDeviceGetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr, void *value)
{
    CPUDEV_ENTER();
    if (device != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    CUresult r = CUDA_SUCCESS;
    switch (attr) {
    case CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT:
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT: *(cuuint64_t *)value = held; break;
    case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH:
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH: *(cuuint64_t *)value = held_high; break;
    default: r = CUDA_ERROR_INVALID_VALUE;
    }
    cpudev_unlock();
    return r;
}

/* Only the high watermarks can be set, and only to 0 (reset to the current). */
CUresult cpudev_cuDeviceSetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr, void *value)
{
    CPUDEV_ENTER();
    if (device != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    if (!value || *(cuuint64_t *)value != 0 ||
        (attr != CU_GRAPH_MEM_ATTR_USED_MEM_HIGH && attr != CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH))
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    held_high = held;
    cpudev_unlock();
    return CUDA_SUCCESS;
}
