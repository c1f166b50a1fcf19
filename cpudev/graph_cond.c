/*
 * graph_cond.c — conditional graph nodes (CUDA 12.4): IF (and IF/ELSE),
 * WHILE and SWITCH nodes, their handles, and the value device code sets with
 * cudaGraphSetConditional.
 *
 * A handle is the address of 32 bits of device memory (owned by no context,
 * held while the graph it was made for, a node or an executable graph names
 * it), so the PTX machine's cudaGraphSetConditional is a store there
 * (ptx/mem.c, x_setcond). A node owns its body graphs, made empty with the
 * node and filled through their handles (or a capture into them); an
 * executable graph instantiates each body inside (exec.c) and its launch
 * runs one operation that reads the value and runs the chosen body, or
 * loops (stream.c, run_cond). With CU_GRAPH_COND_ASSIGN_DEFAULT the value
 * is the default again at the start of each launch, else it keeps what was
 * last set.
 *
 * Bodies may hold what CUDA allows there: kernel, memset, copy, empty,
 * child graph and conditional nodes (checked at instantiation). Conditional
 * nodes are made with cuGraphAddNode only, as with the driver.
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

static struct condh *conds; /* every live handle; cpudev.mu */

void condh_ref_locked(struct condh *h) { h->refs++; }

void condh_unref_locked(struct condh *h)
{
    if (!h || --h->refs > 0)
        return;
    for (struct condh **pp = &conds; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    mem_free_block(h->slot);
    free(h);
}

static struct condh *find_locked(CUgraphConditionalHandle handle)
{
    for (struct condh *h = conds; h; h = h->next)
        if (h->slot == handle)
            return h;
    return NULL;
}

CUresult gparams_cond_copy_locked(struct gparams *dst, const struct gparams *src)
{
    unsigned n = src->u.cond.size;
    dst->u.cond.bodies = calloc(n + 1, sizeof *dst->u.cond.bodies);
    if (!dst->u.cond.bodies) {
        dst->type = CU_GRAPH_NODE_TYPE_EMPTY;
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    condh_ref_locked(src->u.cond.h);
    for (unsigned k = 0; k < n; k++) {
        CUresult r = graph_clone_locked(src->u.cond.bodies[k], &dst->u.cond.bodies[k]);
        if (r != CUDA_SUCCESS) {
            gparams_cond_release_locked(dst); /* what was cloned so far */
            dst->type = CU_GRAPH_NODE_TYPE_EMPTY;
            return r;
        }
        dst->u.cond.bodies[k]->embedded = true;
    }
    return CUDA_SUCCESS;
}

void gparams_cond_release_locked(struct gparams *p)
{
    for (unsigned k = 0; p->u.cond.bodies && k < p->u.cond.size; k++)
        if (p->u.cond.bodies[k])
            graph_free_locked(p->u.cond.bodies[k]);
    free(p->u.cond.bodies);
    condh_unref_locked(p->u.cond.h);
}

CUresult cpudev_cuGraphConditionalHandleCreate(CUgraphConditionalHandle *pHandle_out, CUgraph hGraph, CUcontext ctx,
                                               unsigned int defaultLaunchValue, unsigned int flags)
{
    CPUDEV_ENTER();
    if (!pHandle_out || (flags & ~(unsigned)CU_GRAPH_COND_ASSIGN_DEFAULT))
        return CUDA_ERROR_INVALID_VALUE;
    struct graph *g;
    struct ctx *c;
    struct condh *h = NULL, **grown = NULL;
    cpudev_lock();
    CUresult r = graph_lookup_locked(hGraph, &g);
    if (r == CUDA_SUCCESS)
        r = ctx_get_locked(ctx, &c);
    if (r == CUDA_SUCCESS && (!(h = calloc(1, sizeof *h)) ||
                              !(grown = realloc(g->conds, ((size_t)g->nconds + 1) * sizeof *g->conds))))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (grown)
        g->conds = grown;
    if (r == CUDA_SUCCESS)
        r = mem_alloc_internal_locked(NULL, sizeof(uint32_t), &h->slot);
    if (r == CUDA_SUCCESS) {
        h->refs = 1; /* the graph's */
        h->dflt = defaultLaunchValue;
        h->assign = flags & CU_GRAPH_COND_ASSIGN_DEFAULT;
        *(uint32_t *)(uintptr_t)h->slot = defaultLaunchValue;
        h->next = conds;
        conds = h;
        g->conds[g->nconds++] = h;
        *pHandle_out = (CUgraphConditionalHandle)h->slot;
    } else {
        free(h);
    }
    cpudev_unlock();
    return r;
}

/* Only conditional nodes come here: the client turns cuGraphAddNode of any
 * other type into that type's own call (client/graph_generic.c). */
CUresult cpudev_cuGraphAddNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                  const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                  CUgraphNodeParams *nodeParams)
{
    CPUDEV_ENTER();
    static const CUgraphEdgeData plain;
    if (!nodeParams)
        return CUDA_ERROR_INVALID_VALUE;
    if (nodeParams->type != CU_GRAPH_NODE_TYPE_CONDITIONAL)
        return CUDA_ERROR_NOT_SUPPORTED;
    for (size_t i = 0; dependencyData && i < numDependencies; i++)
        if (memcmp(&dependencyData[i], &plain, sizeof plain))
            return CUDA_ERROR_NOT_SUPPORTED;
    CUDA_CONDITIONAL_NODE_PARAMS *cp = &nodeParams->conditional;
    unsigned n = cp->size;
    bool ok = (cp->type == CU_GRAPH_COND_TYPE_IF && (n == 1 || n == 2)) || (cp->type == CU_GRAPH_COND_TYPE_WHILE && n == 1) ||
              (cp->type == CU_GRAPH_COND_TYPE_SWITCH && n >= 1);
    if (!ok || !cp->phGraph_out)
        return CUDA_ERROR_INVALID_VALUE;
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_CONDITIONAL};
    struct ctx *c;
    cpudev_lock();
    CUresult v = ctx_get_locked(cp->ctx, &c);
    if (v == CUDA_SUCCESS && !(p.u.cond.h = find_locked(cp->handle)))
        v = CUDA_ERROR_INVALID_VALUE;
    if (v == CUDA_SUCCESS) {
        condh_ref_locked(p.u.cond.h);
        p.u.cond.type = cp->type;
        p.u.cond.size = n;
        if (!(p.u.cond.bodies = calloc(n + 1, sizeof *p.u.cond.bodies)))
            v = CUDA_ERROR_OUT_OF_MEMORY;
        for (unsigned k = 0; v == CUDA_SUCCESS && k < n; k++)
            if (!(p.u.cond.bodies[k] = graph_new_locked()))
                v = CUDA_ERROR_OUT_OF_MEMORY;
            else
                p.u.cond.bodies[k]->embedded = true;
    }
    struct graph **bodies = v == CUDA_SUCCESS ? p.u.cond.bodies : NULL;
    if (v != CUDA_SUCCESS && p.u.cond.h) {
        gparams_release_locked(&p);
        p = (struct gparams){.type = CU_GRAPH_NODE_TYPE_EMPTY};
    }
    CUresult r = graph_add_node_locked(phGraphNode, hGraph, dependencies, numDependencies, &p, v);
    if (r == CUDA_SUCCESS)
        for (unsigned k = 0; k < n; k++)
            cp->phGraph_out[k] = (CUgraph)bodies[k];
    cpudev_unlock();
    return r;
}
