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
 * attributes and those of its functions move together. A fetch that a
 * forgetting overtook is not kept (gen).
 */
#include "funcattrs.h"

#include <pthread.h>
#include <stdlib.h>

#include "conn.h"
#include "context.h"
#include "ptrset.h"

struct kept {
    struct kept *next;
    int dev; /* the kernel's device; -1: a function's own */
    struct rgpu_func_attrs attrs;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ptrset kept; /* handle -> its struct kept list (owner) */
static uint64_t gen;       /* forgettings so far */

static bool drop(const struct ptrset_entry *e, void *unused)
{
    (void)unused;
    for (struct kept *k = (struct kept *)e->owner, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    return true;
}

void rgpu_func_attrs_flush(void)
{
    pthread_mutex_lock(&lock);
    gen++;
    if (kept.tab)
        ptrset_filter(&kept, drop, NULL);
    pthread_mutex_unlock(&lock);
}

/* The kept answer for (h, dev, attrib) into *pi, or false if none is kept. */
static bool lookup(const void *h, int dev, int attrib, int *pi, CUresult *r)
{
    bool found = false;
    pthread_mutex_lock(&lock);
    struct ptrset_entry *e = kept.tab ? ptrset_find(&kept, (uintptr_t)h) : NULL;
    for (struct kept *k = e ? (struct kept *)e->owner : NULL; k && !found; k = k->next)
        if (k->dev == dev) {
            *r = (CUresult)k->attrs.result[attrib];
            if (*r == CUDA_SUCCESS)
                *pi = k->attrs.value[attrib];
            found = true;
        }
    pthread_mutex_unlock(&lock);
    return found;
}

static void keep(const void *h, int dev, const struct rgpu_func_attrs *attrs, uint64_t fetched_at)
{
    struct kept *k = malloc(sizeof *k);
    if (!k)
        return; /* asked again next time */
    *k = (struct kept){.dev = dev, .attrs = *attrs};
    pthread_mutex_lock(&lock);
    struct ptrset_entry *e = NULL;
    if (gen == fetched_at && (kept.tab || ptrset_init(&kept))) {
        e = ptrset_find(&kept, (uintptr_t)h);
        if (!e && ptrset_put(&kept, &(struct ptrset_entry){.key = (uintptr_t)h}))
            e = ptrset_find(&kept, (uintptr_t)h);
    }
    if (e) {
        k->next = (struct kept *)e->owner;
        e->owner = (uintptr_t)k;
        k = NULL;
    }
    pthread_mutex_unlock(&lock);
    free(k);
}

static uint64_t current_gen(void)
{
    pthread_mutex_lock(&lock);
    uint64_t g = gen;
    pthread_mutex_unlock(&lock);
    return g;
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
    uint64_t g = current_gen();
    struct rgpu_args_rgpu_func_attrs a = {.hfunc = hfunc};
    if ((r = rgpu_remote(RGPU_ID_rgpu_func_attrs, &a)) != CUDA_SUCCESS)
        return r;
    keep(hfunc, -1, &a.attrs, g);
    if ((r = (CUresult)a.attrs.result[attrib]) == CUDA_SUCCESS)
        *pi = a.attrs.value[attrib];
    return r;
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
    uint64_t g = current_gen();
    struct rgpu_args_rgpu_kernel_attrs a = {.kernel = kernel, .dev = dev};
    if ((r = rgpu_remote(RGPU_ID_rgpu_kernel_attrs, &a)) != CUDA_SUCCESS)
        return r;
    keep(kernel, dev, &a.attrs, g);
    if ((r = (CUresult)a.attrs.result[attrib]) == CUDA_SUCCESS)
        *pi = a.attrs.value[attrib];
    return r;
}
