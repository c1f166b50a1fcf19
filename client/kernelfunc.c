/*
 * kernelfunc.c — cuKernelGetFunction's answer, kept per kernel and context.
 *
 * The CUDA runtime asks for a kernel's function before launching it, for
 * every call of a cuBLAS GEMM among others: a round trip each. A kernel's
 * function in a context is the same until the context or the kernel's
 * library goes, which forgets everything kept here
 * (rgpu_func_info_flush); a fetch that such a forgetting overtook is not
 * kept (gen).
 */
#include "kernelfunc.h"

#include <pthread.h>
#include <stdlib.h>

#include "conn.h"
#include "context.h"
#include "ptrset.h"

struct kept {
    struct kept *next;
    CUcontext ctx;
    CUfunction f;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ptrset kept; /* kernel -> its struct kept list (owner) */
static uint64_t gen;

static bool drop(const struct ptrset_entry *e, void *unused)
{
    (void)unused;
    for (struct kept *k = (struct kept *)e->owner, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    return true;
}

void rgpu_kernel_functions_flush(void)
{
    pthread_mutex_lock(&lock);
    gen++;
    if (kept.tab)
        ptrset_filter(&kept, drop, NULL);
    pthread_mutex_unlock(&lock);
}

static CUfunction lookup(CUkernel kernel, CUcontext ctx, uint64_t *g)
{
    CUfunction f = NULL;
    pthread_mutex_lock(&lock);
    struct ptrset_entry *e = kept.tab ? ptrset_find(&kept, (uintptr_t)kernel) : NULL;
    for (struct kept *k = e ? (struct kept *)e->owner : NULL; k && !f; k = k->next)
        if (k->ctx == ctx)
            f = k->f;
    *g = gen;
    pthread_mutex_unlock(&lock);
    return f;
}

static void keep(CUkernel kernel, CUcontext ctx, CUfunction f, uint64_t fetched_at)
{
    struct kept *k = malloc(sizeof *k);
    if (!k)
        return; /* asked again next time */
    *k = (struct kept){.ctx = ctx, .f = f};
    pthread_mutex_lock(&lock);
    struct ptrset_entry *e = NULL;
    if (gen == fetched_at && (kept.tab || ptrset_init(&kept))) {
        e = ptrset_find(&kept, (uintptr_t)kernel);
        if (!e && ptrset_put(&kept, &(struct ptrset_entry){.key = (uintptr_t)kernel}))
            e = ptrset_find(&kept, (uintptr_t)kernel);
    }
    if (e) {
        k->next = (struct kept *)e->owner;
        e->owner = (uintptr_t)k;
        k = NULL;
    }
    pthread_mutex_unlock(&lock);
    free(k);
}

RGPU_API CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
    CUresult r = rgpu_check_init();
    if (r != CUDA_SUCCESS)
        return r;
    if (!pFunc)
        return CUDA_ERROR_INVALID_VALUE;
    CUcontext ctx = rgpu_ctx_current();
    uint64_t g = 0;
    CUfunction f = kernel && ctx ? lookup(kernel, ctx, &g) : NULL;
    struct rgpu_args_cuKernelGetFunction a = {.pFunc = f, .kernel = kernel};
    if (f) {
        rgpu_trace_local(RGPU_ID_cuKernelGetFunction, &a, CUDA_SUCCESS);
        *pFunc = f;
        return CUDA_SUCCESS;
    }
    if ((r = rgpu_remote(RGPU_ID_cuKernelGetFunction, &a)) != CUDA_SUCCESS)
        return r;
    if (kernel && ctx && a.pFunc)
        keep(kernel, ctx, a.pFunc, g);
    *pFunc = a.pFunc;
    return CUDA_SUCCESS;
}
