/*
 * stream_attrs.c — cuStreamGetAttribute, cuStreamSetAttribute and
 * cuStreamCopyAttributes on the CPU device.
 *
 * The priority is the stream's own (the same as cuStreamGetPriority). The
 * others are hints for hardware the CPU device does not have, which it
 * checks, keeps and reports back, as launches take them (launch.c): an access
 * policy window (no L2 to persist lines in), the synchronisation policy (a
 * synchronising call waits however it waits) and the memory synchronisation
 * domain and its map (fences here order all memory anyway).
 */
#include "internal.h"

static bool access_prop_ok(CUaccessProperty p)
{
    return p == CU_ACCESS_PROPERTY_NORMAL || p == CU_ACCESS_PROPERTY_STREAMING || p == CU_ACCESS_PROPERTY_PERSISTING;
}

static CUresult get_locked(const struct stream *s, CUstreamAttrID attr, CUstreamAttrValue *v)
{
    switch (attr) {
    case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW: v->accessPolicyWindow = s->attrs.window; break;
    case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY:
        v->syncPolicy = s->attrs.sync ? s->attrs.sync : CU_SYNC_POLICY_AUTO;
        break;
    case CU_STREAM_ATTRIBUTE_PRIORITY: v->priority = s->priority; break;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN: v->memSyncDomain = s->attrs.domain; break;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
        v->memSyncDomainMap = s->attrs.map_set ? s->attrs.map : (CUlaunchMemSyncDomainMap){.default_ = 0, .remote = 1};
        break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

static CUresult set_locked(struct stream *s, CUstreamAttrID attr, const CUstreamAttrValue *v)
{
    switch (attr) {
    case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW: {
        const CUaccessPolicyWindow *w = &v->accessPolicyWindow;
        if (!(w->hitRatio >= 0.0f && w->hitRatio <= 1.0f) || !access_prop_ok(w->hitProp) || !access_prop_ok(w->missProp))
            return CUDA_ERROR_INVALID_VALUE;
        s->attrs.window = *w;
        break;
    }
    case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY:
        if (v->syncPolicy < CU_SYNC_POLICY_AUTO || v->syncPolicy > CU_SYNC_POLICY_BLOCKING_SYNC)
            return CUDA_ERROR_INVALID_VALUE;
        s->attrs.sync = v->syncPolicy;
        break;
    case CU_STREAM_ATTRIBUTE_PRIORITY: {
        /* clamped into the range, as cuStreamCreateWithPriority does */
        int p = v->priority;
        s->priority = p > CPUDEV_PRIO_LEAST ? CPUDEV_PRIO_LEAST : p < CPUDEV_PRIO_GREATEST ? CPUDEV_PRIO_GREATEST : p;
        break;
    }
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN:
        if (v->memSyncDomain != CU_LAUNCH_MEM_SYNC_DOMAIN_DEFAULT && v->memSyncDomain != CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE)
            return CUDA_ERROR_INVALID_VALUE;
        s->attrs.domain = v->memSyncDomain;
        break;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
        s->attrs.map = v->memSyncDomainMap;
        s->attrs.map_set = true;
        break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUresult cpudev_cuStreamGetAttribute(CUstream hStream, CUstreamAttrID attr, CUstreamAttrValue *value_out)
{
    CPUDEV_ENTER();
    if (!value_out)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        r = get_locked(s, attr, value_out);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamSetAttribute(CUstream hStream, CUstreamAttrID attr, const CUstreamAttrValue *value)
{
    CPUDEV_ENTER();
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    struct stream *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS)
        r = set_locked(s, attr, value);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuStreamCopyAttributes(CUstream dst, CUstream src)
{
    CPUDEV_ENTER();
    struct stream *d, *s;
    cpudev_lock();
    CUresult r = stream_resolve_locked(dst, &d);
    if (r == CUDA_SUCCESS)
        r = stream_resolve_locked(src, &s);
    if (r == CUDA_SUCCESS && d->ctx != s->ctx)
        r = CUDA_ERROR_INVALID_CONTEXT; /* both streams must have the same context */
    if (r == CUDA_SUCCESS) {
        d->attrs = s->attrs;
        d->priority = s->priority;
    }
    cpudev_unlock();
    return r;
}
