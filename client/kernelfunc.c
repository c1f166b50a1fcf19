/*
 * kernelfunc.c — cuKernelGetFunction's answer, kept per kernel and context.
 *
 * The CUDA runtime asks for a kernel's function before launching it, for
 * every call of a cuBLAS GEMM among others: a round trip each. A kernel's
 * function in a context is the same until the context or the kernel's
 * library goes, which forgets everything kept here
 * (rgpu_func_info_flush; kept.h).
 */
#include "kernelfunc.h"

#include "conn.h"
#include "context.h"
#include "kept.h"

/* kernel -> its function, tagged by the context */
static struct kept_map kept = KEPT_MAP_INIT;

void rgpu_kernel_functions_flush(void) { kept_flush(&kept); }

static CUfunction lookup(CUkernel kernel, CUcontext ctx, uint64_t *g)
{
    CUfunction f = NULL;
    *g = kept_gen(&kept);
    return kept_find(&kept, (uintptr_t)kernel, (uintptr_t)ctx, &f, sizeof f) ? f : NULL;
}

static void keep(CUkernel kernel, CUcontext ctx, CUfunction f, uint64_t fetched_at)
{
    kept_put(&kept, (uintptr_t)kernel, (uintptr_t)ctx, &f, sizeof f, fetched_at);
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
