/*
 * kernel_attrs.c — a kernel node's launch attributes
 * (cuGraphKernelNode{Get,Set,Copy}Attribute[s]) on the CPU device.
 *
 * They are kept with the node's parameters (struct gparams, allocated once
 * one is set), copied with them into clones and executable graphs, and kept
 * when the node's parameters change. COOPERATIVE changes how the node runs
 * (every block resident: grid-wide sync works; too large a grid fails the
 * launch); the others are hints the CPU device checks and reports, as its
 * launches take them (launch.c). Device-updatable kernel nodes (device-side
 * graph updates) are CUDA_ERROR_NOT_SUPPORTED.
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

#define NATTRS 17

struct kattrs {
    uint32_t set;                     /* bit id: set */
    CUlaunchAttributeValue v[NATTRS]; /* by attribute id */
};

static bool node_attr(CUkernelNodeAttrID id)
{
    switch (id) {
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: return true;
    default: return false;
    }
}

static bool prop_ok(CUaccessProperty p)
{
    return p == CU_ACCESS_PROPERTY_NORMAL || p == CU_ACCESS_PROPERTY_STREAMING || p == CU_ACCESS_PROPERTY_PERSISTING;
}

/* Is v a value the node can take (its grid known for cluster shapes)? */
static CUresult check_value(const struct gparams *p, CUkernelNodeAttrID id, const CUlaunchAttributeValue *v)
{
    switch (id) {
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW: {
        const CUaccessPolicyWindow *w = &v->accessPolicyWindow;
        return w->hitRatio >= 0.0f && w->hitRatio <= 1.0f && prop_ok(w->hitProp) && prop_ok(w->missProp)
                   ? CUDA_SUCCESS
                   : CUDA_ERROR_INVALID_VALUE;
    }
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION: {
        unsigned cx = v->clusterDim.x, cy = v->clusterDim.y, cz = v->clusterDim.z;
        if (!cx && !cy && !cz)
            return CUDA_SUCCESS; /* none */
        if (!cx || !cy || !cz || p->u.k.grid[0] % cx || p->u.k.grid[1] % cy || p->u.k.grid[2] % cz ||
            (uint64_t)cx * cy * cz > 8)
            return CUDA_ERROR_INVALID_CLUSTER_SIZE;
        return CUDA_SUCCESS;
    }
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
        return v->memSyncDomain == CU_LAUNCH_MEM_SYNC_DOMAIN_DEFAULT || v->memSyncDomain == CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE
                   ? CUDA_SUCCESS
                   : CUDA_ERROR_INVALID_VALUE;
    default: return CUDA_SUCCESS;
    }
}

bool kattrs_copy(struct kattrs **dst, const struct kattrs *src)
{
    *dst = NULL;
    if (!src)
        return true;
    if (!(*dst = malloc(sizeof **dst)))
        return false;
    **dst = *src;
    return true;
}

bool kattrs_cooperative(const struct kattrs *a)
{
    return a && (a->set & (1u << CU_LAUNCH_ATTRIBUTE_COOPERATIVE)) && a->v[CU_LAUNCH_ATTRIBUTE_COOPERATIVE].cooperative;
}

static CUresult kernel_node_locked(CUgraphNode h, struct gnode **out)
{
    CUresult r = gnode_lookup_locked(h, out);
    return r == CUDA_SUCCESS && (*out)->p.type != CU_GRAPH_NODE_TYPE_KERNEL ? CUDA_ERROR_INVALID_VALUE : r;
}

CUresult cpudev_cuGraphKernelNodeGetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr,
                                              CUkernelNodeAttrValue *value_out)
{
    CPUDEV_ENTER();
    if (!value_out)
        return CUDA_ERROR_INVALID_VALUE;
    if (attr == CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (!node_attr(attr))
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    cpudev_lock();
    CUresult r = kernel_node_locked(hNode, &n);
    if (r == CUDA_SUCCESS) {
        const struct kattrs *a = n->p.u.k.attrs;
        if (a && (a->set & (1u << attr)))
            *value_out = a->v[attr];
        else
            memset(value_out, 0, sizeof *value_out); /* the default of each */
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphKernelNodeSetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr,
                                              const CUkernelNodeAttrValue *value)
{
    CPUDEV_ENTER();
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    if (attr == CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE)
        return CUDA_ERROR_NOT_SUPPORTED; /* no device-side graph updates */
    if (!node_attr(attr))
        return CUDA_ERROR_INVALID_VALUE;
    struct gnode *n;
    cpudev_lock();
    CUresult r = kernel_node_locked(hNode, &n);
    if (r == CUDA_SUCCESS && n->g->capturing)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        r = check_value(&n->p, attr, value);
    if (r == CUDA_SUCCESS && !n->p.u.k.attrs && !(n->p.u.k.attrs = calloc(1, sizeof *n->p.u.k.attrs)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        n->p.u.k.attrs->v[attr] = *value;
        n->p.u.k.attrs->set |= 1u << attr;
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphKernelNodeCopyAttributes(CUgraphNode dst, CUgraphNode src)
{
    CPUDEV_ENTER();
    struct gnode *d, *s;
    struct kattrs *copy = NULL;
    cpudev_lock();
    CUresult r = kernel_node_locked(dst, &d);
    if (r == CUDA_SUCCESS)
        r = kernel_node_locked(src, &s);
    if (r == CUDA_SUCCESS && d->g->capturing)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS && !kattrs_copy(&copy, s->p.u.k.attrs))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        free(d->p.u.k.attrs);
        d->p.u.k.attrs = copy;
    }
    cpudev_unlock();
    return r;
}
