/*
 * dispatch.c — server-side execution of every generated row of calls.def.
 *
 * For each row: validate handle arguments against what this worker handed
 * out (a forged handle never reaches the backend), map the per-thread default
 * stream to the real stream of (client thread, context), allocate OUTBUF
 * storage, call the backend, then register created handles and forget
 * destroyed ones. X_ and W_ rows go to custom.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "quota.h"
#include "worker.h"

/* ---- handle checks, chosen by argument type ---- */
static CUresult check_ctx(struct srv_call *c, CUcontext *h)
{
    if (!*h || handles_has(&c->w->handles, HT_CTX, *h))
        return CUDA_SUCCESS;
    return CUDA_ERROR_INVALID_CONTEXT;
}

static CUresult check_stream(struct srv_call *c, CUstream *h)
{
    if (*h == NULL || *h == CU_STREAM_LEGACY)
        return CUDA_SUCCESS;
    if (*h == CU_STREAM_PER_THREAD) {
        struct worker *w = c->w;
        CUcontext ctx = (CUcontext)(uintptr_t)c->hdr.ctx;
        CUstream s = handles_per_thread(&w->handles, c->hdr.tid, ctx);
        if (!s) {
            CUresult r = w->be->cuStreamCreate(&s, CU_STREAM_DEFAULT);
            if (r != CUDA_SUCCESS)
                return r;
            handles_add_per_thread(&w->handles, s, c->hdr.tid, ctx);
        }
        *h = s;
        return CUDA_SUCCESS;
    }
    return handles_has(&c->w->handles, HT_STREAM, *h) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult check_event(struct srv_call *c, CUevent *h)
{
    if (!*h || handles_has(&c->w->handles, HT_EVENT, *h))
        return CUDA_SUCCESS;
    return CUDA_ERROR_INVALID_HANDLE;
}

static CUresult check_typed(struct srv_call *c, const void *h, int type)
{
    if (!h || handles_has(&c->w->handles, type, h))
        return CUDA_SUCCESS;
    return CUDA_ERROR_INVALID_HANDLE;
}
static CUresult check_module(struct srv_call *c, CUmodule *h) { return check_typed(c, *h, HT_MODULE); }
/* A kernel where a function is expected: the kernel's function in the
 * current context, for a backend whose cuFunc* calls refuse kernels (it is
 * registered, under the kernel, so that the client may be handed it back, by
 * cuGraphKernelNodeGetParams say). */
static CUresult check_func(struct srv_call *c, CUfunction *h)
{
    if (!*h)
        return CUDA_SUCCESS;
    int type = handles_type(&c->w->handles, *h);
    if (type == HT_FUNC)
        return CUDA_SUCCESS;
    if (type != HT_KERNEL)
        return CUDA_ERROR_INVALID_HANDLE;
    if (c->w->be->kernels_are_functions)
        return CUDA_SUCCESS;
    CUfunction f;
    CUresult r = c->w->be->cuKernelGetFunction(&f, (CUkernel)*h);
    if (r != CUDA_SUCCESS)
        return r;
    if (handles_type(&c->w->handles, f) != HT_FUNC)
        handles_add(&c->w->handles, HT_FUNC, f, (CUcontext)*h);
    *h = f;
    return CUDA_SUCCESS;
}
/* A function where a kernel is expected: only where the two are one. */
static CUresult check_kernel(struct srv_call *c, CUkernel *h)
{
    if (!*h)
        return CUDA_SUCCESS;
    int type = handles_type(&c->w->handles, *h);
    if (type == HT_KERNEL || (type == HT_FUNC && c->w->be->kernels_are_functions))
        return CUDA_SUCCESS;
    return CUDA_ERROR_INVALID_HANDLE;
}
static CUresult check_library(struct srv_call *c, CUlibrary *h) { return check_typed(c, *h, HT_LIBRARY); }
static CUresult check_graph(struct srv_call *c, CUgraph *h) { return check_typed(c, *h, HT_GRAPH); }
static CUresult check_gnode(struct srv_call *c, CUgraphNode *h) { return check_typed(c, *h, HT_GNODE); }
static CUresult check_gexec(struct srv_call *c, CUgraphExec *h) { return check_typed(c, *h, HT_GEXEC); }
static CUresult check_mempool(struct srv_call *c, CUmemoryPool *h) { return check_typed(c, *h, HT_MEMPOOL); }
static CUresult check_array(struct srv_call *c, CUarray *h)
{
    return *h && handles_has(&c->w->handles, HT_ARRAY, *h) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
static CUresult check_none(struct srv_call *c, const void *p) { return CUDA_SUCCESS; }

#define CHECK_ARG(x)                                                                               \
    _Generic((x), CUcontext: check_ctx, CUstream: check_stream, CUevent: check_event,               \
             CUmodule: check_module, CUfunction: check_func, CUkernel: check_kernel,                 \
             CUlibrary: check_library, CUgraph: check_graph, CUgraphNode: check_gnode,              \
             CUgraphExec: check_gexec, CUmemoryPool: check_mempool, CUarray: check_array,                   \
             default: check_none)(c, &(x))

/* ---- checks of buffers, chosen by pointer type ---- */
static CUresult check_nodes(struct srv_call *c, const CUgraphNode *nodes, uint64_t len)
{
    return dispatch_check_nodes(c, nodes, len / sizeof(CUgraphNode));
}
/* Only device memory: host addresses would be the client's, which the server
 * cannot replay later (a UNIFIED address may be one). */
static CUresult check_memcpy3d(struct srv_call *c, const CUDA_MEMCPY3D *p, uint64_t len)
{
    if (!p)
        return CUDA_SUCCESS;
    CUDA_MEMCPY3D m;
    memcpy(&m, p, sizeof m);
    bool dev = m.srcMemoryType == CU_MEMORYTYPE_DEVICE && m.dstMemoryType == CU_MEMORYTYPE_DEVICE;
    return dev ? CUDA_SUCCESS : CUDA_ERROR_NOT_SUPPORTED;
}
static CUresult check_buf_none(struct srv_call *c, const void *p, uint64_t len) { return CUDA_SUCCESS; }
#define CHECK_BUF(x, len)                                                                          \
    _Generic((x), const CUgraphNode *: check_nodes, CUgraphNode *: check_nodes,                    \
             const CUDA_MEMCPY3D *: check_memcpy3d, default: check_buf_none)(c, (x), (len))

/* ---- registration of created handles ---- */
static CUcontext cur_ctx(struct srv_call *c) { return (CUcontext)(uintptr_t)c->hdr.ctx; }
static void reg_ctx(struct srv_call *c, CUcontext *h) { handles_add(&c->w->handles, HT_CTX, *h, *h); }
static void reg_stream(struct srv_call *c, CUstream *h) { handles_add(&c->w->handles, HT_STREAM, *h, cur_ctx(c)); }
/* A node's event (cuGraphEventRecordNodeGetEvent) is one the client has:
 * it keeps the context that owns it. */
static void reg_event(struct srv_call *c, CUevent *h)
{
    if (!handles_has(&c->w->handles, HT_EVENT, *h))
        handles_add(&c->w->handles, HT_EVENT, *h, cur_ctx(c));
}
/* Functions and kernels are owned by the context here; after_call re-files
 * them under the module or library they came from. */
static void reg_module(struct srv_call *c, CUmodule *h) { handles_add(&c->w->handles, HT_MODULE, *h, cur_ctx(c)); }
static void reg_func(struct srv_call *c, CUfunction *h) { handles_add(&c->w->handles, HT_FUNC, *h, cur_ctx(c)); }
static void reg_kernel(struct srv_call *c, CUkernel *h) { handles_add(&c->w->handles, HT_KERNEL, *h, cur_ctx(c)); }
/* Libraries do not belong to a context (CUDA 12 context-independent loading). */
static void reg_library(struct srv_call *c, CUlibrary *h) { handles_add(&c->w->handles, HT_LIBRARY, *h, NULL); }
static void reg_graph(struct srv_call *c, CUgraph *h) { handles_add(&c->w->handles, HT_GRAPH, *h, NULL); }
static void reg_gexec(struct srv_call *c, CUgraphExec *h) { handles_add(&c->w->handles, HT_GEXEC, *h, cur_ctx(c)); }
static void reg_mempool(struct srv_call *c, CUmemoryPool *h) { handles_add(&c->w->handles, HT_MEMPOOL, *h, NULL); }
static void reg_array(struct srv_call *c, CUarray *h) { handles_add(&c->w->handles, HT_ARRAY, *h, cur_ctx(c)); }
/* Nodes are filed under their graph by after_call. */
static void reg_none(struct srv_call *c, const void *p) {}
#define REG_OUT(x)                                                                                 \
    _Generic((x), CUcontext: reg_ctx, CUstream: reg_stream, CUevent: reg_event, CUmodule: reg_module,  \
             CUfunction: reg_func, CUkernel: reg_kernel, CUlibrary: reg_library, CUgraph: reg_graph,   \
             CUgraphExec: reg_gexec, CUmemoryPool: reg_mempool, CUarray: reg_array, default: reg_none)(c, &(x))

/* ---- per-direction pieces ---- */
#define SRV_PRE_IN(T, x) if ((r = CHECK_ARG(a->x)) != CUDA_SUCCESS) return r;
#define SRV_PRE_DEL(T, x) if ((r = CHECK_ARG(a->x)) != CUDA_SUCCESS) return r;
#define SRV_PRE_OUT(T, x)
#define SRV_PRE_OPTOUT(T, x)
#define SRV_PRE_INBUF(T, x, len) if ((r = CHECK_BUF(a->x, a->x##_len)) != CUDA_SUCCESS) return r;
#define SRV_PRE_OUTBUF(T, x, len)                                                                  \
    a->x = dispatch_outbuf(c, a->x##_len);                                                         \
    if (a->x##_len && !a->x) return CUDA_ERROR_OUT_OF_MEMORY;
#define SRV_PRE_INSTR(T, x)
#define SRV_PRE_NONE(_)
#define SRV_PRE(t) RGPU_DIR(SRV_PRE_, t)

#define SRV_ARG_IN(T, x) a->x
#define SRV_ARG_DEL(T, x) a->x
#define SRV_ARG_OUT(T, x) &a->x
#define SRV_ARG_OPTOUT(T, x) (a->x##_want ? &a->x : NULL)
#define SRV_ARG_INBUF(T, x, len) a->x
#define SRV_ARG_OUTBUF(T, x, len) a->x
#define SRV_ARG_INSTR(T, x) a->x
#define SRV_ARG_NONE(_)
#define SRV_ARG(t) RGPU_DIR(SRV_ARG_, t)

#define SRV_POST_IN(T, x)
#define SRV_POST_DEL(T, x) handles_del_tree(&c->w->handles, (const void *)a->x);
#define SRV_POST_OUT(T, x) REG_OUT(a->x);
#define SRV_POST_OPTOUT(T, x)
#define SRV_POST_INBUF(T, x, len)
#define SRV_POST_OUTBUF(T, x, len)
#define SRV_POST_INSTR(T, x)
#define SRV_POST_NONE(_)
#define SRV_POST(t) RGPU_DIR(SRV_POST_, t)

static CUresult before_call(struct srv_call *c, enum rgpu_call_id id, void *args);
static CUresult after_call(struct srv_call *c, enum rgpu_call_id id, void *args);

#define GEN_EXEC(name, ...)                                                                        \
    static CUresult exec_##name(struct srv_call *c)                                                \
    {                                                                                              \
        struct rgpu_args_##name *a = c->args;                                                      \
        CUresult r;                                                                                \
        RGPU_EACH(SRV_PRE, __VA_ARGS__)                                                            \
        if ((r = before_call(c, RGPU_ID_##name, a)) != CUDA_SUCCESS)                               \
            return r;                                                                              \
        r = c->w->be->name(RGPU_EACH_C(SRV_ARG, __VA_ARGS__));                                     \
        if (r == CUDA_SUCCESS) {                                                                   \
            RGPU_EACH(SRV_POST, __VA_ARGS__)                                                       \
            r = after_call(c, RGPU_ID_##name, a);                                                  \
        } else {                                                                                   \
            quota_failed(c, RGPU_ID_##name, a);                                                    \
        }                                                                                          \
        return r;                                                                                  \
    }
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(SGEN, kind))(GEN_EXEC(name, __VA_ARGS__))
#include "calls.def"
#undef RGPU_CALL

static CUresult (*const exec_table[RGPU_NCALLS])(struct srv_call *) = {
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(SGEN, kind))([RGPU_ID_##name] = exec_##name,)
#include "calls.def"
#undef RGPU_CALL
};

/* Checks the argument types cannot select: a CUmemGenericAllocationHandle is
 * an unsigned long long like any other, so the rows that take one are named
 * here. A forged or released one never reaches the backend. */
static CUresult check_mem_handle(struct srv_call *c, unsigned long long h)
{
    return handles_mem_has(&c->w->handles, h) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult check_texobj(struct srv_call *c, CUtexObject t)
{
    return handles_has(&c->w->handles, HT_TEXOBJ, RGPU_TEXOBJ_KEY(t)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
static CUresult check_surfobj(struct srv_call *c, CUsurfObject s)
{
    return handles_has(&c->w->handles, HT_SURFOBJ, RGPU_SURFOBJ_KEY(s)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* The array a texture or surface reads is one this worker handed out
 * (NVIDIA's driver would take any pointer); rgpu makes no mipmapped arrays. */
static CUresult check_resource(struct srv_call *c, const CUDA_RESOURCE_DESC *rp)
{
    if (!rp)
        return CUDA_SUCCESS; /* the backend's to refuse */
    CUDA_RESOURCE_DESC r;
    memcpy(&r, rp, sizeof r); /* wire bytes: maybe unaligned */
    if (r.resType == CU_RESOURCE_TYPE_ARRAY)
        return check_array(c, &r.res.array.hArray);
    return r.resType == CU_RESOURCE_TYPE_MIPMAPPED_ARRAY ? CUDA_ERROR_NOT_SUPPORTED : CUDA_SUCCESS;
}

static CUresult check_call(struct srv_call *c, enum rgpu_call_id id, void *args)
{
    switch (id) {
    case RGPU_ID_cuStreamDestroy_v2: {
        CUstream s = ((struct rgpu_args_cuStreamDestroy_v2 *)args)->hStream;
        if (s && s != CU_STREAM_LEGACY && s != CU_STREAM_PER_THREAD)
            idle_note_destroy(c->w, handles_owner(&c->w->handles, s), s);
        return CUDA_SUCCESS;
    }
    case RGPU_ID_cuMemRelease: return check_mem_handle(c, ((struct rgpu_args_cuMemRelease *)args)->handle);
    case RGPU_ID_cuMemMap: return check_mem_handle(c, ((struct rgpu_args_cuMemMap *)args)->handle);
    case RGPU_ID_cuMemGetAllocationPropertiesFromHandle:
        return check_mem_handle(c, ((struct rgpu_args_cuMemGetAllocationPropertiesFromHandle *)args)->handle);
    case RGPU_ID_cuMemCreate:
    case RGPU_ID_cuMemGetAllocationGranularity: {
        /* the property's pointer is the client's: required zero off Windows */
        const CUmemAllocationProp *p = id == RGPU_ID_cuMemCreate
                                           ? ((struct rgpu_args_cuMemCreate *)args)->prop
                                           : ((struct rgpu_args_cuMemGetAllocationGranularity *)args)->prop;
        return p->win32HandleMetaData ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
    }
    case RGPU_ID_cuTexObjectCreate: return check_resource(c, ((struct rgpu_args_cuTexObjectCreate *)args)->pResDesc);
    case RGPU_ID_cuSurfObjectCreate: return check_resource(c, ((struct rgpu_args_cuSurfObjectCreate *)args)->pResDesc);
    case RGPU_ID_cuSurfObjectDestroy:
        return check_surfobj(c, ((struct rgpu_args_cuSurfObjectDestroy *)args)->surfObject);
    case RGPU_ID_cuSurfObjectGetResourceDesc:
        return check_surfobj(c, ((struct rgpu_args_cuSurfObjectGetResourceDesc *)args)->surfObject);
    case RGPU_ID_cuTexObjectDestroy:
        return check_texobj(c, ((struct rgpu_args_cuTexObjectDestroy *)args)->texObject);
    case RGPU_ID_cuTexObjectGetResourceDesc:
        return check_texobj(c, ((struct rgpu_args_cuTexObjectGetResourceDesc *)args)->texObject);
    case RGPU_ID_cuTexObjectGetTextureDesc:
        return check_texobj(c, ((struct rgpu_args_cuTexObjectGetTextureDesc *)args)->texObject);
    case RGPU_ID_cuGraphDestroy: {
        /* a child graph node's graph is the node's to destroy (with it) */
        const void *g = ((struct rgpu_args_cuGraphDestroy *)args)->hGraph;
        const void *owner = handles_owner(&c->w->handles, g);
        return owner && handles_type(&c->w->handles, owner) == HT_GNODE ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
    }
    case RGPU_ID_cuMemPoolCreate: {
        /* Not offered on any backend: pools shared with other processes (their
         * handles could not reach the client) and pools in host memory (the
         * server's, which the client cannot address). */
        CUmemPoolProps p;
        memcpy(&p, ((struct rgpu_args_cuMemPoolCreate *)args)->poolProps, sizeof p);
        if (p.win32SecurityAttributes)
            return CUDA_ERROR_INVALID_VALUE; /* the client's pointer: required NULL off Windows */
        if (p.handleTypes != CU_MEM_HANDLE_TYPE_NONE || p.location.type == CU_MEM_LOCATION_TYPE_HOST ||
            p.location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA ||
            p.location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT)
            return CUDA_ERROR_NOT_SUPPORTED;
        return CUDA_SUCCESS;
    }
    default: return CUDA_SUCCESS;
    }
}

/* The rgpud's memory limit (quota.h) is the last word: what the checks
 * refuse never takes a part of it. */
static CUresult before_call(struct srv_call *c, enum rgpu_call_id id, void *args)
{
    CUresult r = check_call(c, id, args);
    return r == CUDA_SUCCESS ? quota_before(c, id, args) : r;
}

/* Context lifetime events that invalidate handles the generated code cannot
 * see: a destroyed context takes its streams and events with it; so does a
 * primary context that is reset or released for the last time. */
static CUresult after_call(struct srv_call *c, enum rgpu_call_id id, void *args)
{
    struct handles *hs = &c->w->handles;
    switch (id) {
    case RGPU_ID_cuCtxCreate_v2:
    case RGPU_ID_cuCtxDestroy_v2:
    case RGPU_ID_cuDevicePrimaryCtxRetain:
    case RGPU_ID_cuDevicePrimaryCtxRelease_v2:
    case RGPU_ID_cuDevicePrimaryCtxReset_v2:
        worker_ctx_changed();
        break;
    default:
        break;
    }
    switch (id) {
    case RGPU_ID_cuMemCreate:
        handles_mem_ref(hs, ((struct rgpu_args_cuMemCreate *)args)->handle);
        break;
    case RGPU_ID_cuMemGetInfo_v2: {
        struct rgpu_args_cuMemGetInfo_v2 *a = args;
        uint64_t free = a->free, total = a->total;
        if (quota_clamp_info(&free, &total)) {
            a->free = (size_t)free;
            a->total = (size_t)total;
        }
        break;
    }
    case RGPU_ID_cuPointerGetAttribute: {
        /* the pool of an allocation (cudaMallocAsync's current pool, which
         * the client may never have asked for) is the client's to use */
        struct rgpu_args_cuPointerGetAttribute *a = args;
        CUmemoryPool pool;
        if (a->attribute == CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE && a->data_len == sizeof pool) {
            memcpy(&pool, a->data, sizeof pool);
            if (pool)
                handles_add(hs, HT_MEMPOOL, pool, NULL);
        }
        break;
    }
    case RGPU_ID_cuMemRetainAllocationHandle:
        handles_mem_ref(hs, ((struct rgpu_args_cuMemRetainAllocationHandle *)args)->handle);
        break;
    case RGPU_ID_cuStreamBeginCaptureToGraph: {
        struct rgpu_args_cuStreamBeginCaptureToGraph *a = args;
        graphs_capture_to(a->hStream, a->hGraph);
        break;
    }
    case RGPU_ID_cuMemRelease:
        handles_mem_unref(hs, ((struct rgpu_args_cuMemRelease *)args)->handle);
        break;
#define NODE_ADDED(name)                                                                           \
    case RGPU_ID_##name: {                                                                         \
        struct rgpu_args_##name *a = args;                                                         \
        handles_add(hs, HT_GNODE, a->phGraphNode, (CUcontext)a->hGraph);                           \
        break;                                                                                     \
    }
    NODE_ADDED(cuGraphAddEmptyNode)
    NODE_ADDED(cuGraphAddMemsetNode)
    NODE_ADDED(cuGraphAddMemcpyNode)
    NODE_ADDED(cuGraphAddEventRecordNode)
    NODE_ADDED(cuGraphAddEventWaitNode)
    NODE_ADDED(cuGraphAddChildGraphNode)
    NODE_ADDED(cuGraphAddMemFreeNode)
#undef NODE_ADDED
    case RGPU_ID_cuGraphChildGraphNodeGetGraph: {
        struct rgpu_args_cuGraphChildGraphNodeGetGraph *a = args;
        handles_add(hs, HT_GRAPH, a->phGraph, (CUcontext)a->hNode);
        break;
    }
    case RGPU_ID_cuTexObjectCreate:
        handles_add(hs, HT_TEXOBJ, RGPU_TEXOBJ_KEY(((struct rgpu_args_cuTexObjectCreate *)args)->pTexObject),
                    cur_ctx(c));
        break;
    case RGPU_ID_cuTexObjectDestroy:
        handles_del(hs, RGPU_TEXOBJ_KEY(((struct rgpu_args_cuTexObjectDestroy *)args)->texObject));
        break;
    case RGPU_ID_cuSurfObjectCreate:
        handles_add(hs, HT_SURFOBJ, RGPU_SURFOBJ_KEY(((struct rgpu_args_cuSurfObjectCreate *)args)->pSurfObject),
                    cur_ctx(c));
        break;
    case RGPU_ID_cuSurfObjectDestroy:
        handles_del(hs, RGPU_SURFOBJ_KEY(((struct rgpu_args_cuSurfObjectDestroy *)args)->surfObject));
        break;
    case RGPU_ID_cuGraphNodeFindInClone: {
        struct rgpu_args_cuGraphNodeFindInClone *a = args;
        handles_add(hs, HT_GNODE, a->phNode, (CUcontext)a->hClonedGraph);
        break;
    }
    case RGPU_ID_cuModuleGetFunction: {
        struct rgpu_args_cuModuleGetFunction *a = args;
        handles_add(hs, HT_FUNC, a->hfunc, (CUcontext)a->hmod);
        break;
    }
    case RGPU_ID_cuLibraryGetKernel: {
        struct rgpu_args_cuLibraryGetKernel *a = args;
        handles_add(hs, HT_KERNEL, a->pKernel, (CUcontext)a->library);
        break;
    }
    case RGPU_ID_cuLibraryGetModule: {
        struct rgpu_args_cuLibraryGetModule *a = args;
        handles_add(hs, HT_MODULE, a->pMod, (CUcontext)a->library);
        break;
    }
    case RGPU_ID_cuKernelGetFunction: {
        struct rgpu_args_cuKernelGetFunction *a = args;
        if ((void *)a->pFunc != (void *)a->kernel) /* the CPU device's kernel is its function */
            handles_add(hs, HT_FUNC, a->pFunc, (CUcontext)a->kernel);
        break;
    }
    case RGPU_ID_cuModuleEnumerateFunctions: {
        struct rgpu_args_cuModuleEnumerateFunctions *a = args;
        for (unsigned i = 0; i < a->numFunctions; i++)
            if (a->functions[i]) /* unused slots come back NULL */
                handles_add(hs, HT_FUNC, a->functions[i], (CUcontext)a->mod);
        break;
    }
    case RGPU_ID_cuLibraryEnumerateKernels: {
        struct rgpu_args_cuLibraryEnumerateKernels *a = args;
        for (unsigned i = 0; i < a->numKernels; i++)
            if (a->kernels[i])
                handles_add(hs, HT_KERNEL, a->kernels[i], (CUcontext)a->lib);
        break;
    }
    case RGPU_ID_cuModuleUnload:
        modules_forget_image(((struct rgpu_args_cuModuleUnload *)args)->hmod);
        break;
    case RGPU_ID_cuLibraryUnload:
        modules_forget_image(((struct rgpu_args_cuLibraryUnload *)args)->library);
        break;
    case RGPU_ID_cuCtxDestroy_v2:
        handles_drop_owned(hs, ((struct rgpu_args_cuCtxDestroy_v2 *)args)->ctx, true);
        completions_forget_ctx(((struct rgpu_args_cuCtxDestroy_v2 *)args)->ctx);
        idle_forget_ctx(((struct rgpu_args_cuCtxDestroy_v2 *)args)->ctx);
        quota_forget_ctx(((struct rgpu_args_cuCtxDestroy_v2 *)args)->ctx);
        break;
    case RGPU_ID_cuDevicePrimaryCtxRetain: {
        struct rgpu_args_cuDevicePrimaryCtxRetain *a = args;
        if (a->dev >= 0 && a->dev < 16) {
            hs->primary[a->dev] = a->pctx;
            hs->primary_refs[a->dev]++;
        }
        break;
    }
    case RGPU_ID_cuDevicePrimaryCtxRelease_v2: {
        struct rgpu_args_cuDevicePrimaryCtxRelease_v2 *a = args;
        if (a->dev >= 0 && a->dev < 16 && hs->primary[a->dev] && --hs->primary_refs[a->dev] <= 0) {
            hs->primary_refs[a->dev] = 0;
            handles_drop_owned(hs, hs->primary[a->dev], false);
            completions_forget_ctx(hs->primary[a->dev]);
            idle_forget_ctx(hs->primary[a->dev]);
            quota_forget_ctx(hs->primary[a->dev]);
        }
        break;
    }
    case RGPU_ID_cuDevicePrimaryCtxReset_v2: {
        struct rgpu_args_cuDevicePrimaryCtxReset_v2 *a = args;
        /* Reset tears the context's resources down but keeps its retain count. */
        if (a->dev >= 0 && a->dev < 16 && hs->primary[a->dev]) {
            handles_drop_owned(hs, hs->primary[a->dev], false);
            completions_forget_ctx(hs->primary[a->dev]);
            idle_forget_ctx(hs->primary[a->dev]);
            quota_forget_ctx(hs->primary[a->dev]);
        }
        break;
    }
    default:
        break;
    }
    return quota_after(c, id, args);
}

void *dispatch_outbuf(struct srv_call *c, uint64_t len)
{
    if (len == 0 || c->noutbufs == RGPU_WBUF_MAX_IOV)
        return NULL;
    void *p = calloc(1, len);
    if (p)
        c->outbufs[c->noutbufs++] = p;
    return p;
}

/* A device range whose end wraps around the address space: NVIDIA's driver
 * takes such a memset and faults on the device (the whole context is lost),
 * where every other bad range gets INVALID_VALUE. */
static bool wraps(CUdeviceptr p, size_t n, size_t elem)
{
    return (elem && n > SIZE_MAX / elem) || p + n * elem < p; /* elem: a 2D pitch may be 0 */
}
static bool wraps_2d(CUdeviceptr p, size_t pitch, size_t width, size_t height, size_t elem)
{
    return height && (wraps(p, height - 1, pitch) || wraps(p + (height - 1) * pitch, width, elem));
}

static bool extent_wraps(enum rgpu_call_id id, const void *args)
{
    switch (id) {
    case RGPU_ID_cuMemsetD8Async: {
        const struct rgpu_args_cuMemsetD8Async *a = args;
        return wraps(a->dstDevice, a->N, 1);
    }
    case RGPU_ID_cuMemsetD16Async: {
        const struct rgpu_args_cuMemsetD16Async *a = args;
        return wraps(a->dstDevice, a->N, 2);
    }
    case RGPU_ID_cuMemsetD32Async: {
        const struct rgpu_args_cuMemsetD32Async *a = args;
        return wraps(a->dstDevice, a->N, 4);
    }
    case RGPU_ID_cuMemsetD2D8Async: {
        const struct rgpu_args_cuMemsetD2D8Async *a = args;
        return wraps_2d(a->dstDevice, a->dstPitch, a->Width, a->Height, 1);
    }
    case RGPU_ID_cuMemsetD2D16Async: {
        const struct rgpu_args_cuMemsetD2D16Async *a = args;
        return wraps_2d(a->dstDevice, a->dstPitch, a->Width, a->Height, 2);
    }
    case RGPU_ID_cuMemsetD2D32Async: {
        const struct rgpu_args_cuMemsetD2D32Async *a = args;
        return wraps_2d(a->dstDevice, a->dstPitch, a->Width, a->Height, 4);
    }
    case RGPU_ID_cuMemcpyDtoDAsync_v2: {
        const struct rgpu_args_cuMemcpyDtoDAsync_v2 *a = args;
        return wraps(a->dstDevice, a->ByteCount, 1) || wraps(a->srcDevice, a->ByteCount, 1);
    }
    case RGPU_ID_cuMemcpyPeerAsync: {
        const struct rgpu_args_cuMemcpyPeerAsync *a = args;
        return wraps(a->dstDevice, a->ByteCount, 1) || wraps(a->srcDevice, a->ByteCount, 1);
    }
    default:
        return false;
    }
}

CUresult dispatch_exec(struct srv_call *c)
{
    enum rgpu_call_id id = c->hdr.call;
    if (extent_wraps(id, c->args))
        return CUDA_ERROR_INVALID_VALUE;
    if (exec_table[id])
        return exec_table[id](c);
    return custom_exec(c);
}

CUresult dispatch_check_stream(struct srv_call *c, CUstream *s) { return check_stream(c, s); }
CUresult dispatch_check_handle(struct srv_call *c, int type, const void *h) { return check_typed(c, h, type); }

CUresult dispatch_check_nodes(struct srv_call *c, const CUgraphNode *nodes, uint64_t n)
{
    for (uint64_t i = 0; nodes && i < n; i++) {
        CUgraphNode h;
        memcpy(&h, &nodes[i], sizeof h); /* wire bytes: maybe unaligned */
        /* a NULL entry is the backend's to refuse */
        if (h && !handles_has(&c->w->handles, HT_GNODE, h))
            return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}
CUresult dispatch_check_func(struct srv_call *c, CUfunction *f) { return check_func(c, f); }
CUresult dispatch_check_kernel(struct srv_call *c, CUkernel *k) { return check_kernel(c, k); }
void dispatch_register(struct srv_call *c, int type, const void *h)
{
    handles_add(&c->w->handles, type, h, type == HT_LIBRARY ? NULL : cur_ctx(c));
}
