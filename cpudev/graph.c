/*
 * graph.c — graphs and nodes built explicitly (cuGraphCreate, cuGraphAdd*Node,
 * cuGraphAddDependencies) and the queries on them; see graph.h.
 *
 * Supported node types: kernel, memset, device-to-device memcpy, host,
 * event record, event wait and empty. A memcpy node touching host memory is
 * CUDA_ERROR_NOT_SUPPORTED: the server cannot replay client memory later.
 *
 * Every node has an id no other one gets while the worker lives: executable
 * graphs name their nodes by the id of the node they were made from, clones
 * their originals, so neither mistakes a new node at a freed one's address
 * for the old one.
 */
#include "graph.h"
#include "module.h"

#include <stdlib.h>
#include <string.h>

/* ---- objects ---- */

static uint64_t next_id = 1;

struct graph *graph_new_locked(void)
{
    struct graph *g = calloc(1, sizeof *g);
    if (g && !reg_add_locked(g, H_GRAPH)) {
        free(g);
        g = NULL;
    }
    return g;
}

void gparams_release_locked(struct gparams *p)
{
    if (p->type == CU_GRAPH_NODE_TYPE_KERNEL) {
        free(p->u.k.bytes);
        free(p->u.k.args);
        free(p->u.k.attrs);
    }
    if ((p->type == CU_GRAPH_NODE_TYPE_EVENT_RECORD || p->type == CU_GRAPH_NODE_TYPE_WAIT_EVENT) && p->u.ev)
        event_unref_locked(p->u.ev);
    if (p->type == CU_GRAPH_NODE_TYPE_GRAPH && p->u.child)
        graph_free_locked(p->u.child);
    if (p->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC)
        gmem_unref_locked(p->u.malloc);
    if (p->type == CU_GRAPH_NODE_TYPE_CONDITIONAL)
        gparams_cond_release_locked(p);
    if (p->type == CU_GRAPH_NODE_TYPE_BATCH_MEM_OP) {
        free(p->u.memops.ops);
        free(p->u.memops.given);
    }
    memset(p, 0, sizeof *p);
}

CUresult gparams_copy_locked(struct gparams *dst, const struct gparams *src)
{
    *dst = *src;
    if (src->type == CU_GRAPH_NODE_TYPE_KERNEL) {
        dst->u.k.args = NULL;
        dst->u.k.attrs = NULL;
        dst->u.k.bytes = malloc(src->u.k.len ? src->u.k.len : 1);
        if (!dst->u.k.bytes || !kattrs_copy(&dst->u.k.attrs, src->u.k.attrs))
            return CUDA_ERROR_OUT_OF_MEMORY;
        memcpy(dst->u.k.bytes, src->u.k.bytes, src->u.k.len);
    }
    if ((src->type == CU_GRAPH_NODE_TYPE_EVENT_RECORD || src->type == CU_GRAPH_NODE_TYPE_WAIT_EVENT) && src->u.ev)
        src->u.ev->refs++;
    if (src->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC)
        gmem_ref_locked(src->u.malloc);
    if (src->type == CU_GRAPH_NODE_TYPE_CONDITIONAL)
        return gparams_cond_copy_locked(dst, src);
    if (src->type == CU_GRAPH_NODE_TYPE_BATCH_MEM_OP) {
        unsigned n = src->u.memops.n;
        dst->u.memops.ops = malloc(n * sizeof *dst->u.memops.ops);
        dst->u.memops.given = malloc(n * sizeof *dst->u.memops.given);
        if (!dst->u.memops.ops || !dst->u.memops.given) {
            free(dst->u.memops.ops);
            free(dst->u.memops.given);
            dst->type = CU_GRAPH_NODE_TYPE_EMPTY;
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        memcpy(dst->u.memops.ops, src->u.memops.ops, n * sizeof *dst->u.memops.ops);
        memcpy(dst->u.memops.given, src->u.memops.given, n * sizeof *dst->u.memops.given);
    }
    if (src->type == CU_GRAPH_NODE_TYPE_GRAPH) {
        dst->u.child = NULL;
        CUresult r = graph_clone_locked(src->u.child, &dst->u.child);
        if (r != CUDA_SUCCESS)
            return r;
        dst->u.child->embedded = true;
    }
    return CUDA_SUCCESS;
}

void graph_free_locked(struct graph *g)
{
    for (int i = 0; i < g->n; i++) {
        struct gnode *n = g->nodes[i];
        reg_del_locked(n);
        gparams_release_locked(&n->p);
        free(n->deps);
        free(n);
    }
    free(g->nodes);
    for (int i = 0; i < g->nconds; i++)
        condh_unref_locked(g->conds[i]);
    free(g->conds);
    reg_del_locked(g);
    free(g);
}

CUresult graph_check_nodes_locked(struct graph *g, const CUgraphNode *deps, size_t n)
{
    if (n && !deps)
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++) {
        CUgraphNode d;
        memcpy(&d, &deps[i], sizeof d); /* the array may be unaligned wire bytes */
        if (!reg_has_locked(d, H_GNODE) || ((struct gnode *)d)->g != g)
            return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

bool gnode_add_dep(struct gnode *n, struct gnode *d)
{
    for (int i = 0; i < n->ndeps; i++)
        if (n->deps[i] == d)
            return true; /* an edge exists once */
    if (n->ndeps == n->capdeps) {
        int cap = n->capdeps ? 2 * n->capdeps : 4;
        struct gnode **p = realloc(n->deps, (size_t)cap * sizeof *p);
        if (!p)
            return false;
        n->deps = p;
        n->capdeps = cap;
    }
    n->deps[n->ndeps++] = d;
    return true;
}

CUresult graph_add_locked(struct graph *g, const struct gparams *p, struct gnode *const *deps, size_t ndeps,
                          struct gnode **out)
{
    struct gnode *n = calloc(1, sizeof *n);
    if (!n)
        return CUDA_ERROR_OUT_OF_MEMORY;
    n->g = g;
    for (size_t i = 0; i < ndeps; i++) {
        struct gnode *d;
        memcpy(&d, &deps[i], sizeof d);
        if (!gnode_add_dep(n, d)) {
            free(n->deps);
            free(n);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        struct gnode **a = realloc(g->nodes, (size_t)cap * sizeof *a);
        if (!a) {
            free(n->deps);
            free(n);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        g->nodes = a;
        g->cap = cap;
    }
    if (!reg_add_locked(n, H_GNODE)) {
        free(n->deps);
        free(n);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    n->p = *p;
    n->id = next_id++;
    n->idx = g->n;
    g->nodes[g->n++] = n;
    *out = n;
    return CUDA_SUCCESS;
}

void gparams_describe(struct gparams *p)
{
    if (p->type == CU_GRAPH_NODE_TYPE_MEMSET)
        p->u.set.desc = (CUDA_MEMSET_NODE_PARAMS){.dst = (CUdeviceptr)(uintptr_t)p->u.set.dst, .pitch = p->u.set.pitch,
                                                  .value = p->u.set.value, .elementSize = p->u.set.es,
                                                  .width = p->u.set.n, .height = p->u.set.height};
    if (p->type == CU_GRAPH_NODE_TYPE_MEMCPY)
        p->u.copy.desc = (CUDA_MEMCPY3D){.srcMemoryType = CU_MEMORYTYPE_DEVICE,
                                         .srcDevice = (CUdeviceptr)(uintptr_t)p->u.copy.src,
                                         .srcPitch = p->u.copy.spitch,
                                         .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                                         .dstDevice = (CUdeviceptr)(uintptr_t)p->u.copy.dst,
                                         .dstPitch = p->u.copy.dpitch,
                                         .WidthInBytes = p->u.copy.width, .Height = p->u.copy.height, .Depth = 1};
}

/* ---- parameters from descriptors ---- */

CUresult gparams_memset(struct gparams *p, const CUDA_MEMSET_NODE_PARAMS *m)
{
    if (!m || (m->elementSize != 1 && m->elementSize != 2 && m->elementSize != 4) || !m->width || !m->height)
        return CUDA_ERROR_INVALID_VALUE;
    size_t row;
    uint64_t span;
    if (__builtin_mul_overflow(m->width, (size_t)m->elementSize, &row) || m->dst % m->elementSize)
        return CUDA_ERROR_INVALID_VALUE;
    size_t pitch = m->height > 1 ? m->pitch : row;
    if (pitch < row || __builtin_mul_overflow((uint64_t)pitch, (uint64_t)(m->height - 1), &span) ||
        __builtin_add_overflow(span, (uint64_t)row, &span) || !mem_range_ok(m->dst, span))
        return CUDA_ERROR_INVALID_VALUE;
    memset(p, 0, sizeof *p);
    p->type = CU_GRAPH_NODE_TYPE_MEMSET;
    p->u.set.dst = (char *)(uintptr_t)m->dst;
    p->u.set.n = m->width;
    p->u.set.es = m->elementSize;
    p->u.set.value = m->value;
    p->u.set.pitch = pitch;
    p->u.set.height = m->height;
    p->u.set.desc = *m;
    return CUDA_SUCCESS;
}

/* One side of a copy: device memory only (a UNIFIED address must be a device
 * address). */
static CUresult copy_side(CUmemorytype t, CUdeviceptr d, size_t x, size_t y, size_t pitch, size_t width,
                          size_t height, const char **out)
{
    if (t == CU_MEMORYTYPE_UNIFIED && mem_in_va(d))
        t = CU_MEMORYTYPE_DEVICE;
    if (t != CU_MEMORYTYPE_DEVICE)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (height > 1 && pitch < width)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t start, span;
    if (__builtin_mul_overflow((uint64_t)y, (uint64_t)pitch, &start) || __builtin_add_overflow(start, (uint64_t)x, &start) ||
        __builtin_add_overflow(start, (uint64_t)d, &start) ||
        __builtin_mul_overflow((uint64_t)pitch, (uint64_t)(height - 1), &span) ||
        __builtin_add_overflow(span, (uint64_t)width, &span) || !mem_range_ok(start, span))
        return CUDA_ERROR_INVALID_VALUE;
    *out = (const char *)(uintptr_t)start;
    return CUDA_SUCCESS;
}

CUresult gparams_memcpy(struct gparams *p, const CUDA_MEMCPY3D *c)
{
    if (!c || !c->WidthInBytes || !c->Height || c->Depth != 1 || c->srcZ || c->dstZ || c->srcLOD || c->dstLOD)
        return c && c->Depth > 1 ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
    const char *src, *dst;
    CUresult r = copy_side(c->srcMemoryType, c->srcDevice, c->srcXInBytes, c->srcY, c->srcPitch, c->WidthInBytes,
                           c->Height, &src);
    if (r == CUDA_SUCCESS)
        r = copy_side(c->dstMemoryType, c->dstDevice, c->dstXInBytes, c->dstY, c->dstPitch, c->WidthInBytes,
                      c->Height, &dst);
    if (r != CUDA_SUCCESS)
        return r;
    memset(p, 0, sizeof *p);
    p->type = CU_GRAPH_NODE_TYPE_MEMCPY;
    p->u.copy.dst = (char *)dst;
    p->u.copy.src = src;
    p->u.copy.dpitch = c->Height > 1 ? c->dstPitch : c->WidthInBytes;
    p->u.copy.spitch = c->Height > 1 ? c->srcPitch : c->WidthInBytes;
    p->u.copy.width = c->WidthInBytes;
    p->u.copy.height = c->Height;
    p->u.copy.desc = *c;
    return CUDA_SUCCESS;
}

/* Kernel parameters: the node's function in its own context (a CUkernel in
 * the current one), parameters packed. */
static CUresult gparams_kernel_locked(struct gparams *p, const CUDA_KERNEL_NODE_PARAMS *k)
{
    if (!k)
        return CUDA_ERROR_INVALID_VALUE;
    CUfunction f = k->func ? k->func : (CUfunction)k->kern;
    struct func *fn;
    struct kernel *kn;
    struct ctx *c;
    CUresult r = func_lookup_locked(f, &fn, &kn);
    if (r != CUDA_SUCCESS)
        return r;
    if (fn)
        c = fn->mod->ctx;
    else if ((r = ctx_get_locked(k->ctx, &c)) != CUDA_SUCCESS)
        return r;
    void *bytes;
    size_t len;
    if ((r = launch_pack_params_locked(f, c, k->kernelParams, k->extra, &bytes, &len)) != CUDA_SUCCESS)
        return r;
    /* the configuration is checked now, as the driver does */
    struct launch *l;
    const unsigned grid[3] = {k->gridDimX, k->gridDimY, k->gridDimZ}, block[3] = {k->blockDimX, k->blockDimY, k->blockDimZ};
    if ((r = launch_new_locked(f, c, grid, block, k->sharedMemBytes, bytes, len, &l)) != CUDA_SUCCESS) {
        free(bytes);
        return r;
    }
    free(l);
    memset(p, 0, sizeof *p);
    p->type = CU_GRAPH_NODE_TYPE_KERNEL;
    p->u.k.f = f;
    memcpy(p->u.k.grid, grid, sizeof grid);
    memcpy(p->u.k.block, block, sizeof block);
    p->u.k.shmem = k->sharedMemBytes;
    p->u.k.bytes = bytes;
    p->u.k.len = len;
    return CUDA_SUCCESS;
}

/* ---- adding nodes ---- */

CUresult graph_lookup_locked(CUgraph h, struct graph **out)
{
    if (!reg_has_locked(h, H_GRAPH))
        return CUDA_ERROR_INVALID_VALUE;
    *out = (struct graph *)h;
    return CUDA_SUCCESS;
}

/* Add a node of parameters p (released on failure) to hGraph. */
CUresult graph_add_node_locked(CUgraphNode *out, CUgraph hGraph, const CUgraphNode *deps, size_t ndeps,
                               struct gparams *p, CUresult verdict)
{
    struct graph *g;
    struct gnode *n;
    CUresult r = out ? verdict : CUDA_ERROR_INVALID_VALUE;
    /* a graph being captured into takes nodes too (cuStreamGetCaptureInfo's
     * graph; cuStreamUpdateCaptureDependencies makes the capture follow them) */
    if (r == CUDA_SUCCESS)
        r = graph_lookup_locked(hGraph, &g);
    if (r == CUDA_SUCCESS)
        r = graph_check_nodes_locked(g, deps, ndeps);
    if (r == CUDA_SUCCESS)
        r = graph_add_locked(g, p, (struct gnode *const *)deps, ndeps, &n);
    if (r == CUDA_SUCCESS)
        *out = (CUgraphNode)n;
    else
        gparams_release_locked(p);
    return r;
}

CUresult cpudev_cuGraphAddEmptyNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                    size_t numDependencies)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    cpudev_lock();
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p, CUDA_SUCCESS);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphAddMemsetNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                     size_t numDependencies, const CUDA_MEMSET_NODE_PARAMS *memsetParams,
                                     CUcontext ctx)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    cpudev_lock();
    struct ctx *c;
    CUresult v = ctx_get_locked(ctx, &c);
    if (v == CUDA_SUCCESS)
        v = gparams_memset(&p, memsetParams);
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphAddMemcpyNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                     size_t numDependencies, const CUDA_MEMCPY3D *copyParams, CUcontext ctx)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    cpudev_lock();
    struct ctx *c;
    CUresult v = ctx_get_locked(ctx, &c);
    if (v == CUDA_SUCCESS)
        v = gparams_memcpy(&p, copyParams);
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p, v);
    cpudev_unlock();
    return r;
}

CUresult gparams_host(struct gparams *p, const CUDA_HOST_NODE_PARAMS *h)
{
    *p = (struct gparams){.type = CU_GRAPH_NODE_TYPE_HOST};
    if (!h || !h->fn)
        return CUDA_ERROR_INVALID_VALUE;
    p->u.host.fn = h->fn;
    p->u.host.arg = h->userData;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuGraphAddHostNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                   size_t numDependencies, const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p;
    CUresult v = gparams_host(&p, nodeParams);
    cpudev_lock();
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p, v);
    cpudev_unlock();
    return r;
}

static CUresult add_event_node(CUgraphNode *out, CUgraph hGraph, const CUgraphNode *deps, size_t ndeps, CUevent ev,
                               CUgraphNodeType type)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    cpudev_lock();
    CUresult v = reg_has_locked(ev, H_EVENT) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    if (v == CUDA_SUCCESS) {
        p.type = type;
        p.u.ev = (struct event *)ev;
        p.u.ev->refs++;
    }
    CUresult r = graph_add_node_locked(out, hGraph, deps, ndeps, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphAddEventRecordNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                          size_t numDependencies, CUevent event)
{
    return add_event_node(phGraphNode, hGraph, dependencies, numDependencies, event, CU_GRAPH_NODE_TYPE_EVENT_RECORD);
}

CUresult cpudev_cuGraphAddEventWaitNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                        size_t numDependencies, CUevent event)
{
    return add_event_node(phGraphNode, hGraph, dependencies, numDependencies, event, CU_GRAPH_NODE_TYPE_WAIT_EVENT);
}

/* The node runs a copy of childGraph, made now (as CUDA's node does). */
CUresult cpudev_cuGraphAddChildGraphNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                         size_t numDependencies, CUgraph childGraph)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    struct graph *child;
    cpudev_lock();
    CUresult v = graph_lookup_locked(childGraph, &child);
    if (v == CUDA_SUCCESS && child->capturing)
        v = CUDA_ERROR_INVALID_VALUE;
    if (v == CUDA_SUCCESS && graph_has_mem_nodes(child))
        v = CUDA_ERROR_NOT_SUPPORTED;
    if (v == CUDA_SUCCESS && (v = graph_clone_locked(child, &p.u.child)) == CUDA_SUCCESS) {
        p.type = CU_GRAPH_NODE_TYPE_GRAPH;
        p.u.child->embedded = true;
    }
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphAddKernelNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                        size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
    cpudev_lock();
    CUresult v = gparams_kernel_locked(&p, nodeParams);
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p, v);
    cpudev_unlock();
    return r;
}

CUresult gnode_lookup_locked(CUgraphNode h, struct gnode **out)
{
    if (!reg_has_locked(h, H_GNODE))
        return CUDA_ERROR_INVALID_VALUE;
    *out = (struct gnode *)h;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuGraphKernelNodeGetParams_v2(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    struct func *fn;
    struct kernel *kn;
    cpudev_lock();
    CUresult r = gnode_lookup_locked(hNode, &n);
    if (r == CUDA_SUCCESS && n->p.type != CU_GRAPH_NODE_TYPE_KERNEL)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        r = func_lookup_locked(n->p.u.k.f, &fn, &kn); /* its module may be gone */
    const struct kdesc *kd = r == CUDA_SUCCESS ? (fn ? fn->kd : kn->kd) : NULL;
    if (r == CUDA_SUCCESS && !n->p.u.k.args) {
        /* the pointers stay valid until the node's parameters change */
        n->p.u.k.args = calloc((size_t)kd->info.nparams + 1, sizeof *n->p.u.k.args);
        if (!n->p.u.k.args)
            r = CUDA_ERROR_OUT_OF_MEMORY;
        for (int i = 0; r == CUDA_SUCCESS && i < kd->info.nparams; i++) {
            size_t off, size;
            ptx_kernel_param(kd->k, i, &off, &size);
            n->p.u.k.args[i] = n->p.u.k.bytes + off;
        }
    }
    if (r == CUDA_SUCCESS) {
        const struct gparams *p = &n->p;
        *nodeParams = (CUDA_KERNEL_NODE_PARAMS){p->u.k.f, p->u.k.grid[0], p->u.k.grid[1], p->u.k.grid[2],
                                                p->u.k.block[0], p->u.k.block[1], p->u.k.block[2], p->u.k.shmem,
                                                p->u.k.args, NULL, NULL, NULL};
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphKernelNodeSetParams_v2(CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gnode *n;
    struct gparams p;
    cpudev_lock();
    CUresult r = gnode_lookup_locked(hNode, &n);
    if (r == CUDA_SUCCESS && n->p.type != CU_GRAPH_NODE_TYPE_KERNEL)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        r = gparams_kernel_locked(&p, nodeParams);
    if (r == CUDA_SUCCESS) {
        p.u.k.attrs = n->p.u.k.attrs; /* new parameters, the same attributes */
        n->p.u.k.attrs = NULL;
        gparams_release_locked(&n->p);
        n->p = p;
    }
    cpudev_unlock();
    return r;
}

CUresult graph_edges_check_locked(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to, size_t n,
                                  struct graph **out)
{
    CUresult r = graph_lookup_locked(hGraph, out); /* a graph being captured into too */
    if (r == CUDA_SUCCESS)
        r = graph_check_nodes_locked(*out, from, n);
    if (r == CUDA_SUCCESS)
        r = graph_check_nodes_locked(*out, to, n);
    return r;
}

CUresult cpudev_cuGraphAddDependencies_v2(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
                                          const CUgraphEdgeData *edgeData, size_t numDependencies)
{
    CPUDEV_ENTER();
    struct graph *g;
    cpudev_lock();
    CUresult r = graph_edges_check_locked(hGraph, from, to, numDependencies, &g);
    /* only default edges: programmatic ports are not emulated */
    for (size_t i = 0; r == CUDA_SUCCESS && edgeData && i < numDependencies; i++) {
        CUgraphEdgeData e;
        memcpy(&e, &edgeData[i], sizeof e);
        if (e.from_port || e.to_port || e.type)
            r = CUDA_ERROR_NOT_SUPPORTED;
    }
    for (size_t i = 0; r == CUDA_SUCCESS && i < numDependencies; i++) {
        struct gnode *a, *b;
        memcpy(&a, &from[i], sizeof a);
        memcpy(&b, &to[i], sizeof b);
        if (a == b)
            r = CUDA_ERROR_INVALID_VALUE;
        else if (!gnode_add_dep(b, a))
            r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    cpudev_unlock();
    return r;
}

/* ---- graphs ---- */

CUresult cpudev_cuGraphCreate(CUgraph *phGraph, unsigned int flags)
{
    CPUDEV_ENTER();
    if (!phGraph || flags)
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    struct graph *g = graph_new_locked();
    if (g)
        *phGraph = (CUgraph)g;
    cpudev_unlock();
    return g ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cpudev_cuGraphDestroy(CUgraph hGraph)
{
    CPUDEV_ENTER();
    struct graph *g;
    cpudev_lock();
    CUresult r = graph_lookup_locked(hGraph, &g);
    if (r == CUDA_SUCCESS && (g->capturing || g->embedded))
        r = CUDA_ERROR_INVALID_VALUE; /* a capture still builds it, or a child graph node owns it */
    if (r == CUDA_SUCCESS)
        graph_free_locked(g);
    cpudev_unlock();
    return r;
}

CUresult graph_clone_locked(struct graph *g, struct graph **out)
{
    struct graph *c = graph_new_locked();
    CUresult r = c ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
    for (int i = 0; r == CUDA_SUCCESS && i < g->n; i++) {
        const struct gnode *o = g->nodes[i];
        struct gparams p;
        struct gnode *n;
        r = gparams_copy_locked(&p, &o->p);
        if (r == CUDA_SUCCESS)
            r = graph_add_locked(c, &p, NULL, 0, &n);
        if (r == CUDA_SUCCESS)
            n->origin = o->id;
        else
            gparams_release_locked(&p); /* a failed add leaves it ours */
    }
    /* edges after all nodes exist: AddDependencies may point backwards */
    for (int i = 0; r == CUDA_SUCCESS && i < g->n; i++)
        for (int d = 0; r == CUDA_SUCCESS && d < g->nodes[i]->ndeps; d++)
            if (!gnode_add_dep(c->nodes[i], c->nodes[g->nodes[i]->deps[d]->idx]))
                r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS)
        *out = c;
    else if (c)
        graph_free_locked(c);
    return r;
}

CUresult cpudev_cuGraphClone(CUgraph *phGraphClone, CUgraph originalGraph)
{
    CPUDEV_ENTER();
    if (!phGraphClone)
        return CUDA_ERROR_INVALID_VALUE;
    struct graph *g, *c;
    cpudev_lock();
    CUresult r = graph_lookup_locked(originalGraph, &g);
    if (r == CUDA_SUCCESS && g->capturing)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS && graph_has_mem_nodes(g))
        r = CUDA_ERROR_NOT_SUPPORTED;
    if (r == CUDA_SUCCESS)
        r = graph_clone_locked(g, &c);
    if (r == CUDA_SUCCESS)
        *phGraphClone = (CUgraph)c;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType *type)
{
    CPUDEV_ENTER();
    if (!type)
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    cpudev_lock();
    CUresult r = gnode_lookup_locked(hNode, &n);
    if (r == CUDA_SUCCESS)
        *type = n->p.type;
    cpudev_unlock();
    return r;
}

/* Nodes (roots only when roots) into nodes[0..*num) if nodes; *num = the count. */
static CUresult list_nodes(CUgraph hGraph, CUgraphNode *nodes, size_t *num, bool roots)
{
    CPUDEV_ENTER();
    if (!num)
        return CUDA_ERROR_INVALID_VALUE;
    struct graph *g;
    cpudev_lock();
    CUresult r = graph_lookup_locked(hGraph, &g);
    if (r == CUDA_SUCCESS) {
        /* As the driver: with an array, at most *num entries, the rest of
         * them NULL, and *num the number written; else *num the total. */
        size_t k = 0;
        for (int i = 0; i < g->n; i++) {
            if (roots && g->nodes[i]->ndeps)
                continue;
            if (nodes && k >= *num)
                break;
            if (nodes)
                nodes[k] = (CUgraphNode)g->nodes[i];
            k++;
        }
        for (size_t i = k; nodes && i < *num; i++)
            nodes[i] = NULL;
        *num = k;
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes)
{
    return list_nodes(hGraph, nodes, numNodes, false);
}

CUresult cpudev_cuGraphGetRootNodes(CUgraph hGraph, CUgraphNode *rootNodes, size_t *numRootNodes)
{
    return list_nodes(hGraph, rootNodes, numRootNodes, true);
}

CUresult cpudev_cuGraphGetEdges_v2(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *edgeData,
                                   size_t *numEdges)
{
    CPUDEV_ENTER();
    if (!numEdges || (!from) != (!to) || (edgeData && !from))
        return CUDA_ERROR_INVALID_VALUE;
    struct graph *g;
    cpudev_lock();
    CUresult r = graph_lookup_locked(hGraph, &g);
    if (r == CUDA_SUCCESS) {
        size_t k = 0;
        for (int i = 0; i < g->n; i++) {
            for (int d = 0; d < g->nodes[i]->ndeps; d++) {
                if (from && k >= *numEdges)
                    break;
                if (from) {
                    from[k] = (CUgraphNode)g->nodes[i]->deps[d];
                    to[k] = (CUgraphNode)g->nodes[i];
                    if (edgeData)
                        memset(&edgeData[k], 0, sizeof edgeData[k]);
                }
                k++;
            }
        }
        for (size_t i = k; from && i < *numEdges; i++) {
            from[i] = to[i] = NULL;
            if (edgeData)
                memset(&edgeData[i], 0, sizeof edgeData[i]);
        }
        *numEdges = k;
    }
    cpudev_unlock();
    return r;
}
