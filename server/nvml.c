/*
 * nvml.c — server-side execution of the NVML rows of calls.def, generated
 * like dispatch.c: map the device index to the backend's handle, bound the
 * output buffers, call the NVML backend. The backend is set up at the first
 * NVML request of the connection.
 */
#include <stdlib.h>

#include "log.h"
#include "quota.h"
#include "worker.h"

static nvmlReturn_t map_dev(struct srv_call *c, nvmlDevice_t *d)
{
    struct rgpu_nvml_backend *nb = c->w->nvml;
    uintptr_t i = (uintptr_t)*d;
    if (i >= (uintptr_t)nb->ndev)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!nb->dev[i])
        return NVML_ERROR_NOT_FOUND;
    *d = nb->dev[i];
    return NVML_SUCCESS;
}
static nvmlReturn_t map_none(struct srv_call *c, const void *p) { return NVML_SUCCESS; }
#define MAP_ARG(x) _Generic((x), nvmlDevice_t: map_dev, default: map_none)(c, &(x))

#define NV_PRE_IN(T, x) if ((r = MAP_ARG(a->x)) != NVML_SUCCESS) return r;
#define NV_PRE_OUT(T, x)
#define NV_PRE_OUTBUF(T, x, len)                                                                   \
    if (a->x##_len > RGPU_NVML_MAX_OUTBUF) return NVML_ERROR_INVALID_ARGUMENT;                     \
    a->x = dispatch_outbuf(c, a->x##_len);                                                         \
    if (a->x##_len && !a->x) return NVML_ERROR_MEMORY;
#define NV_PRE(t) RGPU_DIR(NV_PRE_, t)
#define NV_ARG_IN(T, x) a->x
#define NV_ARG_OUT(T, x) &a->x
#define NV_ARG_OUTBUF(T, x, len) a->x
#define NV_ARG(t) RGPU_DIR(NV_ARG_, t)

#define GEN_EXEC(name, ...)                                                                        \
    static nvmlReturn_t exec_##name(struct srv_call *c)                                            \
    {                                                                                              \
        struct rgpu_args_##name *a = c->args;                                                      \
        nvmlReturn_t r;                                                                            \
        RGPU_EACH(NV_PRE, __VA_ARGS__)                                                             \
        if (!c->w->nvml->name)                                                                     \
            return NVML_ERROR_NOT_SUPPORTED;                                                       \
        return c->w->nvml->name(RGPU_EACH_C(NV_ARG, __VA_ARGS__));                                 \
    }
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(NVML, kind))(GEN_EXEC(name, __VA_ARGS__))
#include "calls.def"
#undef RGPU_CALL

static nvmlReturn_t (*const exec_table[RGPU_NCALLS])(struct srv_call *) = {
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(NVML, kind))([RGPU_ID_##name] = exec_##name,)
#include "calls.def"
#undef RGPU_CALL
};

/* Under rgpud --memory-limit the device's memory is the tenant's
 * (quota.h): its total the limit, its free what is left of it; used is the
 * rest, so that total = free + reserved + used still holds. */
static void tenant_memory(nvmlMemory_v2_t *m)
{
    uint64_t free = m->free, total = m->total;
    if (!quota_clamp_info(&free, &total))
        return;
    m->total = total;
    m->free = free;
    if (m->reserved > total - free)
        m->reserved = total - free;
    m->used = total - free - m->reserved;
}

nvmlReturn_t nvml_exec(struct srv_call *c)
{
    struct worker *w = c->w;
    if (!w->nvml_tried) {
        w->nvml_tried = true;
        w->nvml_init = w->nvml->init(w->nvml, w->devs, w->ndev);
        if (w->nvml_init != NVML_SUCCESS)
            rgpu_warn("NVML backend %s: initialisation failed (nvmlReturn_t %d)", w->nvml->name, (int)w->nvml_init);
    }
    if (w->nvml_init != NVML_SUCCESS)
        return w->nvml_init;
    enum rgpu_call_id id = c->hdr.call;
    nvmlReturn_t r = exec_table[id] ? exec_table[id](c) : NVML_ERROR_NOT_SUPPORTED;
    if (r == NVML_SUCCESS && id == RGPU_ID_nvmlDeviceGetMemoryInfo_v2)
        tenant_memory(&((struct rgpu_args_nvmlDeviceGetMemoryInfo_v2 *)c->args)->memory);
    return r;
}
