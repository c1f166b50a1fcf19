/*
 * managed.c — rgpu_managed_read and rgpu_managed_write: the bytes of
 * managed memory the backend placed in this process (a library's
 * __managed__ variables), read and written as the host it is. The client
 * keeps a mirror of each such variable at its address (client/mapped.c) and
 * exchanges it through these rows at the points CUDA's memory model lets a
 * program tell.
 *
 * The memory is touched with memcpy in rgpud itself, so a request is served
 * only when the backend vouches that the whole range is one managed
 * allocation: anything else is CUDA_ERROR_INVALID_VALUE, and nothing is read
 * or written.
 */
#include <string.h>

#include "worker.h"

static CUresult check_managed(const struct rgpu_backend *be, CUdeviceptr p, uint64_t n)
{
    int managed = 0;
    CUdeviceptr start = 0;
    size_t size = 0;
    if (n == 0 || p + n < p)
        return CUDA_ERROR_INVALID_VALUE;
    if (be->cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, p) != CUDA_SUCCESS || !managed ||
        be->cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, p) != CUDA_SUCCESS ||
        be->cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, p) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;
    return p >= start && p + n <= start + size ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult managed_exec(struct srv_call *c)
{
    const struct rgpu_backend *be = c->w->be;
    if (c->hdr.call == RGPU_ID_rgpu_managed_read) {
        struct rgpu_args_rgpu_managed_read *a = c->args;
        CUresult r = check_managed(be, a->dptr, a->size);
        if (r != CUDA_SUCCESS)
            return r;
        if (!(a->bytes = dispatch_outbuf(c, a->size)))
            return CUDA_ERROR_OUT_OF_MEMORY;
        memcpy(a->bytes, (const void *)(uintptr_t)a->dptr, a->size);
        return CUDA_SUCCESS;
    }
    struct rgpu_args_rgpu_managed_write *a = c->args;
    CUresult r = check_managed(be, a->dptr, a->bytes_len);
    if (r == CUDA_SUCCESS)
        memcpy((void *)(uintptr_t)a->dptr, a->bytes, a->bytes_len);
    return r;
}
