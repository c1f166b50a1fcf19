/*
 * modules.c — server handlers for module and library loading, function
 * names and kernel launches (W_ rows of calls.def).
 *
 * An image arrives either with its bytes (verified against its hash, then
 * cached for every worker) or as a bare hash that the image cache must
 * resolve (CUDA_ERROR_NOT_FOUND tells the client to send the bytes). Before a
 * backend sees an image, its extent is checked against what arrived: the
 * backends only get a pointer, and a forged size field must not make them
 * read past the buffer. The bytes stay alive as long as the module or
 * library, since a lazily loading driver may read them later.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fatbin.h"
#include "imagecache.h"
#include "imagehash.h"
#include "log.h"
#include "worker.h"

struct kept_image {
    struct kept_image *next;
    const void *handle;
    void *bytes;
};
static struct kept_image *kept;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

static void keep(const void *handle, void *bytes)
{
    struct kept_image *k = malloc(sizeof *k);
    if (!k) {
        /* better a small leak than a driver reading freed memory */
        rgpu_warn("out of memory remembering an image; it stays allocated");
        return;
    }
    *k = (struct kept_image){NULL, handle, bytes};
    pthread_mutex_lock(&kept_lock);
    k->next = kept;
    kept = k;
    pthread_mutex_unlock(&kept_lock);
}

void modules_forget_image(const void *handle)
{
    pthread_mutex_lock(&kept_lock);
    for (struct kept_image **pp = &kept; *pp; pp = &(*pp)->next)
        if ((*pp)->handle == handle) {
            struct kept_image *k = *pp;
            *pp = k->next;
            free(k->bytes);
            free(k);
            break;
        }
    pthread_mutex_unlock(&kept_lock);
}

/* The image's bytes (owned by the caller afterwards), or an error. */
static CUresult image_bytes(struct srv_call *c, const struct rgpu_image_ref *ref, const void *sent, uint64_t sent_len,
                            void **out)
{
    size_t len;
    void *buf;
    if (sent_len) {
        if (sent_len != ref->size)
            return CUDA_ERROR_INVALID_VALUE;
        struct rgpu_image_ref got;
        if (!rgpu_image_ref_of(sent, sent_len, &got))
            return CUDA_ERROR_OUT_OF_MEMORY;
        if (got.hash[0] != ref->hash[0] || got.hash[1] != ref->hash[1])
            return CUDA_ERROR_INVALID_VALUE;
        buf = c->bulk; /* sent points into it */
        c->bulk = NULL;
        len = sent_len;
        imagecache_put(ref, buf, len);
    } else if (!(buf = imagecache_get(ref, &len))) {
        return CUDA_ERROR_NOT_FOUND;
    }
    const void *span;
    size_t span_len;
    char err[160];
    if (fatbin_span(buf, len, &span, &span_len, err, sizeof err) != 0 || span != buf || span_len > len) {
        rgpu_warn("refusing a module image: %s", err);
        free(buf);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    *out = buf;
    return CUDA_SUCCESS;
}

/* Module and library loads differ only in the backend call and the kind of
 * handle they create; their wire arguments share one layout. */
_Static_assert(sizeof(struct rgpu_args_rgpu_module_load) == sizeof(struct rgpu_args_rgpu_library_load) &&
                   offsetof(struct rgpu_args_rgpu_module_load, module) ==
                       offsetof(struct rgpu_args_rgpu_library_load, library) &&
                   offsetof(struct rgpu_args_rgpu_module_load, image) ==
                       offsetof(struct rgpu_args_rgpu_library_load, image),
               "module and library load arguments share a layout");

static CUresult load_image(struct srv_call *c, bool library)
{
    struct rgpu_args_rgpu_module_load *a = c->args;
    void *img;
    CUresult r = image_bytes(c, &a->ref, a->image, a->image_len, &img);
    if (r != CUDA_SUCCESS)
        return r;
    void *handle = NULL;
    r = library ? c->w->be->cuLibraryLoadData((CUlibrary *)&handle, img, NULL, NULL, 0, NULL, NULL, 0)
                : c->w->be->cuModuleLoadData((CUmodule *)&handle, img);
    if (r != CUDA_SUCCESS) {
        free(img);
        return r;
    }
    a->module = handle;
    dispatch_register(c, library ? HT_LIBRARY : HT_MODULE, handle);
    keep(handle, img);
    return CUDA_SUCCESS;
}

CUresult modules_load(struct srv_call *c) { return load_image(c, false); }
CUresult modules_library_load(struct srv_call *c) { return load_image(c, true); }

/* f's parameters as the backend lays them out: their count, the end of the
 * last one, and the first cap of them into slots (when not NULL). */
static CUresult param_layout(const struct rgpu_backend *be, CUfunction f, struct rgpu_param_slot *slots, uint32_t cap,
                             uint32_t *count, size_t *end)
{
    *end = 0;
    /* a parameter takes a byte at least: no function has more than that */
    for (uint32_t n = 0;; n++) {
        size_t off = 0, size = 0;
        CUresult r = be->cuFuncGetParamInfo(f, n, &off, &size);
        if (r == CUDA_ERROR_INVALID_VALUE) {
            *count = n;
            return CUDA_SUCCESS;
        }
        if (r != CUDA_SUCCESS)
            return r;
        if (n == RGPU_MAX_PARAM_BYTES || off > RGPU_MAX_PARAM_BYTES || size > RGPU_MAX_PARAM_BYTES)
            return CUDA_ERROR_INVALID_VALUE;
        if (slots && n < cap)
            slots[n] = (struct rgpu_param_slot){off, size};
        if (off + size > *end)
            *end = off + size;
    }
}

/* A launch's parameter buffer must hold every parameter of f: the backend is
 * handed the buffer with its length, and nothing documents that NVIDIA's
 * driver checks that length against the kernel's before it copies the
 * kernel's full parameter size (the bytes past a short buffer would be this
 * worker's heap). The CPU device checks; this makes every backend refuse
 * alike. The layout is asked of the backend once per function. */
CUresult modules_launch_params(struct srv_call *c, CUfunction f, const void *params, uint64_t len,
                               struct launch_params *lp)
{
    uint32_t need;
    if (!handles_param_bytes(&c->w->handles, f, &need)) {
        uint32_t n;
        size_t end;
        CUresult r = param_layout(c->w->be, f, NULL, 0, &n, &end);
        if (r != CUDA_SUCCESS)
            return r;
        need = (uint32_t)end;
        handles_set_param_bytes(&c->w->handles, f, need);
    }
    if (len < need)
        return CUDA_ERROR_INVALID_VALUE;
    lp->size = len;
    lp->array[0] = CU_LAUNCH_PARAM_BUFFER_POINTER;
    lp->array[1] = (void *)params;
    lp->array[2] = CU_LAUNCH_PARAM_BUFFER_SIZE;
    lp->array[3] = &lp->size;
    lp->array[4] = CU_LAUNCH_PARAM_END;
    lp->extra = len ? lp->array : NULL;
    return CUDA_SUCCESS;
}

/* Everything the client keeps about a function, in one round trip: name,
 * launch limits and as many parameter slots as it asked for (the count of
 * all of them in any case, so that it can ask again for more). */
CUresult modules_func_info(struct srv_call *c)
{
    struct rgpu_args_rgpu_func_info *a = c->args;
    const struct rgpu_backend *be = c->w->be;
    if (a->params_cap > RGPU_MAX_PARAM_BYTES) /* before anything is allocated for them */
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = dispatch_check_func(c, &a->hfunc);
    if (r != CUDA_SUCCESS)
        return r;
    if (!a->hfunc)
        return CUDA_ERROR_INVALID_VALUE;
    const char *name = NULL;
    int threads = 0, shared = 0;
    if ((r = be->cuFuncGetName(&name, a->hfunc)) != CUDA_SUCCESS ||
        (r = be->cuFuncGetAttribute(&threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, a->hfunc)) != CUDA_SUCCESS ||
        (r = be->cuFuncGetAttribute(&shared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, a->hfunc)) !=
            CUDA_SUCCESS)
        return r;
    if (!name || strlen(name) >= RGPU_MAX_STRING)
        return CUDA_ERROR_INVALID_VALUE;
    if (!(a->name = dispatch_outbuf(c, a->name_len)) ||
        (a->params_len && !(a->params = dispatch_outbuf(c, a->params_len))))
        return CUDA_ERROR_OUT_OF_MEMORY;
    strcpy(a->name, name);
    uint32_t n;
    size_t end;
    if ((r = param_layout(be, a->hfunc, a->params, a->params_cap, &n, &end)) != CUDA_SUCCESS)
        return r;
    handles_set_param_bytes(&c->w->handles, a->hfunc, (uint32_t)end);
    a->summary = (struct rgpu_func_summary){.max_threads = threads, .max_dynamic_shared = shared, .nparams = n};
    return CUDA_SUCCESS;
}

/* Every attribute of a function, or of a kernel on a device, in one round
 * trip, each with the result of asking it alone (the client keeps them,
 * client/funcattrs.c). */
CUresult modules_func_attrs(struct srv_call *c)
{
    struct rgpu_args_rgpu_func_attrs *a = c->args;
    CUresult r = dispatch_check_func(c, &a->hfunc);
    if (r != CUDA_SUCCESS)
        return r;
    for (int i = 0; i < CU_FUNC_ATTRIBUTE_MAX; i++)
        a->attrs.result[i] = c->w->be->cuFuncGetAttribute(&a->attrs.value[i], (CUfunction_attribute)i, a->hfunc);
    return CUDA_SUCCESS;
}

CUresult modules_kernel_attrs(struct srv_call *c)
{
    struct rgpu_args_rgpu_kernel_attrs *a = c->args;
    CUresult r = dispatch_check_kernel(c, &a->kernel);
    if (r != CUDA_SUCCESS)
        return r;
    for (int i = 0; i < CU_FUNC_ATTRIBUTE_MAX; i++)
        a->attrs.result[i] =
            c->w->be->cuKernelGetAttribute(&a->attrs.value[i], (CUfunction_attribute)i, a->kernel, a->dev);
    return CUDA_SUCCESS;
}

CUresult modules_launch(struct srv_call *c)
{
    struct rgpu_args_rgpu_launch *a = c->args;
    CUresult r = dispatch_check_func(c, &a->f);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_stream(c, &a->hStream);
    if (r != CUDA_SUCCESS)
        return r;
    if (!a->f)
        return CUDA_ERROR_INVALID_HANDLE;
    struct launch_params lp;
    if ((r = modules_launch_params(c, a->f, a->params, a->params_len, &lp)) != CUDA_SUCCESS)
        return r;
    const struct rgpu_launch_cfg *g = &a->cfg;
    /* Both backends copy the parameters before cuLaunchKernel returns. */
    return c->w->be->cuLaunchKernel(a->f, g->grid[0], g->grid[1], g->grid[2], g->block[0], g->block[1], g->block[2],
                                    g->shared_bytes, a->hStream, NULL, lp.extra);
}

/* A CUlaunchConfig from its wire form: attributes arrive as bulk bytes (maybe
 * unaligned for the struct, so they are copied into attrs) and only those
 * whose values are plain data are accepted. */
static CUresult launch_config_of(const struct rgpu_launch_cfg *g, CUstream s, const void *bytes, uint64_t len,
                                 CUlaunchAttribute attrs[RGPU_MAX_LAUNCH_ATTRS], CUlaunchConfig *cfg)
{
    unsigned n = (unsigned)(len / sizeof(CUlaunchAttribute));
    if (len % sizeof(CUlaunchAttribute) || n > RGPU_MAX_LAUNCH_ATTRS)
        return CUDA_ERROR_INVALID_VALUE;
    if (len)
        memcpy(attrs, bytes, len);
    for (unsigned i = 0; i < n; i++)
        if (!rgpu_launch_attr_remotable(attrs[i].id))
            return CUDA_ERROR_NOT_SUPPORTED;
    *cfg = (CUlaunchConfig){g->grid[0], g->grid[1], g->grid[2], g->block[0], g->block[1], g->block[2],
                            g->shared_bytes, s, n ? attrs : NULL, n};
    return CUDA_SUCCESS;
}

/* The function, stream and configuration an extended launch or an occupancy
 * query names, checked, as a CUlaunchConfig (attrs: its storage); no_func is
 * the error for a NULL function. */
static CUresult config_for(struct srv_call *c, CUfunction *f, CUstream *s, const struct rgpu_launch_cfg *g,
                           const void *bytes, uint64_t len, CUresult no_func,
                           CUlaunchAttribute attrs[RGPU_MAX_LAUNCH_ATTRS], CUlaunchConfig *cfg)
{
    CUresult r = dispatch_check_func(c, f);
    if (r == CUDA_SUCCESS)
        r = dispatch_check_stream(c, s);
    if (r != CUDA_SUCCESS)
        return r;
    if (!*f)
        return no_func;
    return launch_config_of(g, *s, bytes, len, attrs, cfg);
}

CUresult modules_launch_ex(struct srv_call *c)
{
    struct rgpu_args_rgpu_launch_ex *a = c->args;
    CUlaunchAttribute attrs[RGPU_MAX_LAUNCH_ATTRS];
    CUlaunchConfig cfg;
    struct launch_params lp;
    CUresult r = config_for(c, &a->f, &a->hStream, &a->cfg, a->attrs, a->attrs_len, CUDA_ERROR_INVALID_VALUE, attrs,
                            &cfg);
    if (r == CUDA_SUCCESS)
        r = modules_launch_params(c, a->f, a->params, a->params_len, &lp);
    if (r != CUDA_SUCCESS)
        return r;
    return c->w->be->cuLaunchKernelEx(&cfg, a->f, NULL, lp.extra);
}

/* The descriptor is encoded into aligned storage here, then copied out; the
 * arrays arrive as wire bytes, maybe unaligned. */
CUresult modules_tensor_map_tiled(struct srv_call *c)
{
    struct rgpu_args_rgpu_tensor_map_tiled *a = c->args;
    if (!c->w->be->tensor_map_encode_tiled)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (a->rank < 1 || a->rank > 5 || !a->globalDim || !a->boxDim || !a->elementStrides ||
        (a->rank > 1 && !a->globalStrides))
        return CUDA_ERROR_INVALID_VALUE;
    cuuint64_t dim[5], strides[4] = {0};
    cuuint32_t box[5], elem[5];
    memcpy(dim, a->globalDim, a->rank * sizeof dim[0]);
    if (a->rank > 1)
        memcpy(strides, a->globalStrides, (a->rank - 1) * sizeof strides[0]);
    memcpy(box, a->boxDim, a->rank * sizeof box[0]);
    memcpy(elem, a->elementStrides, a->rank * sizeof elem[0]);
    CUtensorMap map;
    CUresult r = c->w->be->tensor_map_encode_tiled(&map, a->dataType, a->rank, (void *)(uintptr_t)a->globalAddress, dim,
                                                   strides, box, elem, a->interleave, a->swizzle, a->l2Promotion,
                                                   a->oobFill);
    if (r != CUDA_SUCCESS)
        return r;
    if (!(a->map = dispatch_outbuf(c, a->map_len)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    memcpy(a->map, &map, sizeof map);
    return CUDA_SUCCESS;
}

/* rgpu_occupancy_clusters and rgpu_occupancy_cluster_size: one layout */
CUresult modules_occupancy_clusters(struct srv_call *c)
{
    _Static_assert(sizeof(struct rgpu_args_rgpu_occupancy_clusters) ==
                       sizeof(struct rgpu_args_rgpu_occupancy_cluster_size),
                   "cluster occupancy argument layouts");
    struct rgpu_args_rgpu_occupancy_clusters *a = c->args;
    CUlaunchAttribute attrs[RGPU_MAX_LAUNCH_ATTRS];
    CUlaunchConfig cfg;
    CUresult r = config_for(c, &a->func, &a->hStream, &a->cfg, a->attrs, a->attrs_len, CUDA_ERROR_INVALID_HANDLE,
                            attrs, &cfg);
    if (r != CUDA_SUCCESS)
        return r;
    if (c->hdr.call == RGPU_ID_rgpu_occupancy_cluster_size)
        return c->w->be->cuOccupancyMaxPotentialClusterSize(&a->numClusters, a->func, &cfg);
    return c->w->be->cuOccupancyMaxActiveClusters(&a->numClusters, a->func, &cfg);
}
