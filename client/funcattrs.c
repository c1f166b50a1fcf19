/*
 * funcattrs.c — cuFuncGetAttribute and cuKernelGetAttribute from attributes
 * kept per function (and kernel and device).
 *
 * The CUDA runtime asks all 16 attributes of every kernel the first time it
 * launches it (cuKernelGetAttribute 0..15, for its launch checks): through
 * rgpu, 16 round trips per kernel, thousands at the start of a ggml program.
 * The first question about a function now brings every attribute at once
 * (rgpu_func_attrs, rgpu_kernel_attrs), each with the result of asking it
 * alone, and the rest are answered here. Attributes change only when set
 * (cuFuncSetAttribute, cuKernelSetAttribute, a cache configuration) or when
 * the function goes (module or library unloaded, context destroyed): each
 * of those forgets everything kept (funcinfo.c, launch.c), since a kernel's
 * attributes and those of its functions move together (kept.h).
 */
#include "funcattrs.h"

#include "conn.h"
#include "context.h"
#include "kept.h"

/* handle -> attributes, tagged by the kernel's device (a function's own: -1) */
static struct kept_map kept = KEPT_MAP_INIT;

void rgpu_func_attrs_flush(void) { kept_flush(&kept); }

/* Attribute attrib of a set: its result, and its value into *pi if that is success. */
static CUresult answer(const struct rgpu_func_attrs *a, int attrib, int *pi)
{
    CUresult r = (CUresult)a->result[attrib];
    if (r == CUDA_SUCCESS)
        *pi = a->value[attrib];
    return r;
}

/* The kept answer for (h, dev, attrib) into *pi and *r, or false if none is kept. */
static bool lookup(const void *h, int dev, int attrib, int *pi, CUresult *r)
{
    struct rgpu_func_attrs a;
    if (!kept_find(&kept, (uintptr_t)h, (uintptr_t)(intptr_t)dev, &a, sizeof a))
        return false;
    *r = answer(&a, attrib, pi);
    return true;
}

static void keep(const void *h, int dev, const struct rgpu_func_attrs *attrs, uint64_t fetched_at)
{
    kept_put(&kept, (uintptr_t)h, (uintptr_t)(intptr_t)dev, attrs, sizeof *attrs, fetched_at);
}

RGPU_API CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
    CUresult r = rgpu_check_init();
    if (r != CUDA_SUCCESS)
        return r;
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    if (!hfunc || (int)attrib < 0 || attrib >= CU_FUNC_ATTRIBUTE_MAX) { /* the driver's answer, not kept */
        struct rgpu_args_cuFuncGetAttribute one = {.attrib = attrib, .hfunc = hfunc};
        if ((r = rgpu_remote(RGPU_ID_cuFuncGetAttribute, &one)) == CUDA_SUCCESS)
            *pi = one.pi;
        return r;
    }
    if (lookup(hfunc, -1, attrib, pi, &r)) {
        struct rgpu_args_cuFuncGetAttribute t = {.pi = r == CUDA_SUCCESS ? *pi : 0, .attrib = attrib, .hfunc = hfunc};
        rgpu_trace_local(RGPU_ID_cuFuncGetAttribute, &t, r);
        return r;
    }
    uint64_t g = kept_gen(&kept);
    struct rgpu_args_rgpu_func_attrs a = {.hfunc = hfunc};
    if ((r = rgpu_remote(RGPU_ID_rgpu_func_attrs, &a)) != CUDA_SUCCESS)
        return r;
    keep(hfunc, -1, &a.attrs, g);
    return answer(&a.attrs, attrib, pi);
}

RGPU_API CUresult cuKernelGetAttribute(int *pi, CUfunction_attribute attrib, CUkernel kernel, CUdevice dev)
{
    CUresult r = rgpu_check_init();
    if (r != CUDA_SUCCESS)
        return r;
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    if (!kernel || (int)attrib < 0 || attrib >= CU_FUNC_ATTRIBUTE_MAX || dev < 0) { /* the driver's answer */
        struct rgpu_args_cuKernelGetAttribute one = {.attrib = attrib, .kernel = kernel, .dev = dev};
        if ((r = rgpu_remote(RGPU_ID_cuKernelGetAttribute, &one)) == CUDA_SUCCESS)
            *pi = one.pi;
        return r;
    }
    if (lookup(kernel, dev, attrib, pi, &r)) {
        struct rgpu_args_cuKernelGetAttribute t = {
            .pi = r == CUDA_SUCCESS ? *pi : 0, .attrib = attrib, .kernel = kernel, .dev = dev};
        rgpu_trace_local(RGPU_ID_cuKernelGetAttribute, &t, r);
        return r;
    }
    uint64_t g = kept_gen(&kept);
    struct rgpu_args_rgpu_kernel_attrs a = {.kernel = kernel, .dev = dev};
    if ((r = rgpu_remote(RGPU_ID_rgpu_kernel_attrs, &a)) != CUDA_SUCCESS)
        return r;
    keep(kernel, dev, &a.attrs, g);
    return answer(&a.attrs, attrib, pi);
}
