/*
 * array.c — CUDA arrays on the CPU device: cuArrayCreate, cuArray3DCreate,
 * cuArrayDestroy and their descriptors.
 *
 * An array is device memory of the context's (an internal allocation: no
 * device pointer of the client's names it, and it goes with the context),
 * its elements row after row, rows of Width elements without padding, Height
 * rows a slice, Depth slices. Copies reach it through array_rows (copy.c)
 * and textures and surfaces through array_find_locked. A layered array's
 * layers are its slices. Cubemap and sparse arrays, and formats other than
 * the 8/16/32-bit integers, half and float, are CUDA_ERROR_NOT_SUPPORTED.
 */
#include "calls.h"
#include "internal.h"

#include <stdlib.h>

static CUresult create(CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    if (!out || !d)
        return CUDA_ERROR_INVALID_VALUE;
    const unsigned known = CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_TEXTURE_GATHER | CUDA_ARRAY3D_LAYERED;
    if (d->Flags & ~known)
        return CUDA_ERROR_NOT_SUPPORTED; /* cubemap, sparse, deferred mapping, ... */
    bool layered = (d->Flags & CUDA_ARRAY3D_LAYERED) != 0;
    unsigned fb = rgpu_array_format_bytes(d->Format);
    if (!fb)
        return d->Format ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
    if (d->NumChannels != 1 && d->NumChannels != 2 && d->NumChannels != 4)
        return CUDA_ERROR_INVALID_VALUE;
    /* 1D: Height and Depth 0; 2D: Depth 0; a Depth needs a Height, unless it
     * counts the layers of a layered 1D array */
    if (!d->Width || (d->Depth && !d->Height && !layered) || (layered && !d->Depth))
        return CUDA_ERROR_INVALID_VALUE;
    size_t limit = d->Depth && !layered ? 16384 : d->Height ? 65536 : 32768; /* the device's limits (attrs.c) */
    if (d->Width > limit || d->Height > limit || (layered ? d->Depth > 2048 : d->Depth > limit))
        return CUDA_ERROR_INVALID_VALUE;
    struct array *a = calloc(1, sizeof *a);
    if (!a)
        return CUDA_ERROR_OUT_OF_MEMORY;
    a->desc = *d;
    a->elem = fb * d->NumChannels;
    a->pitch = d->Width * a->elem;
    a->rows = d->Height ? d->Height : 1;
    a->slices = d->Depth ? d->Depth : 1;
    cpudev_lock();
    CUresult r = ctx_current_locked(&a->ctx);
    if (r == CUDA_SUCCESS)
        r = mem_alloc_internal_locked(a->ctx, (uint64_t)a->pitch * a->rows * a->slices, &a->base);
    if (r == CUDA_SUCCESS && !reg_add_locked(a, H_ARRAY)) {
        mem_free_block(a->base);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (r == CUDA_SUCCESS) {
        a->ctx_id = a->ctx->id;
        *out = (CUarray)a;
    }
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        free(a);
    return r;
}

CUresult cpudev_cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray)
{
    CPUDEV_ENTER();
    if (!pAllocateArray)
        return CUDA_ERROR_INVALID_VALUE;
    const CUDA_ARRAY_DESCRIPTOR *d = pAllocateArray;
    CUDA_ARRAY3D_DESCRIPTOR d3 = {.Width = d->Width, .Height = d->Height, .Format = d->Format,
                                  .NumChannels = d->NumChannels};
    return create(pHandle, &d3);
}

CUresult cpudev_cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray)
{
    CPUDEV_ENTER();
    return create(pHandle, pAllocateArray);
}

/* Its context's activation still lives: else its memory went with it. */
static bool alive_locked(const struct array *a) { return reg_has_locked(a->ctx, H_CTX) && a->ctx->id == a->ctx_id; }

struct array *array_find_locked(CUarray h)
{
    struct array *a = (struct array *)h;
    return h && reg_has_locked(h, H_ARRAY) && alive_locked(a) ? a : NULL;
}

CUresult cpudev_cuArrayDestroy(CUarray hArray)
{
    CPUDEV_ENTER();
    struct waitset ws;
    ws_init(&ws);
    cpudev_lock();
    struct array *a = hArray && reg_has_locked(hArray, H_ARRAY) ? (struct array *)hArray : NULL;
    CUresult r = a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    /* like cuMemFree: work queued before may still read or write it */
    if (r == CUDA_SUCCESS && !ws_add_device_locked(&ws))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        ws_wait_locked(&ws);
        reg_del_locked(a);
        if (alive_locked(a))
            mem_free_block(a->base);
        free(a);
    }
    ws_release_locked(&ws);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuArray3DGetDescriptor_v2(CUDA_ARRAY3D_DESCRIPTOR *pArrayDescriptor, CUarray hArray)
{
    CPUDEV_ENTER();
    if (!pArrayDescriptor)
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    struct array *a = array_find_locked(hArray);
    if (a)
        *pArrayDescriptor = a->desc;
    cpudev_unlock();
    return a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cpudev_cuArrayGetDescriptor_v2(CUDA_ARRAY_DESCRIPTOR *pArrayDescriptor, CUarray hArray)
{
    CPUDEV_ENTER();
    CUDA_ARRAY3D_DESCRIPTOR d;
    if (!pArrayDescriptor)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cpudev_cuArray3DGetDescriptor_v2(&d, hArray);
    if (r == CUDA_SUCCESS && d.Depth)
        r = CUDA_ERROR_INVALID_VALUE; /* a 3D array: its descriptor is cuArray3DGetDescriptor's */
    if (r == CUDA_SUCCESS)
        *pArrayDescriptor = (CUDA_ARRAY_DESCRIPTOR){d.Width, d.Height, d.Format, d.NumChannels};
    return r;
}

CUresult array_rows(CUarray h, size_t x, size_t y, size_t z, size_t width, size_t height, char **out,
                    size_t *pitch)
{
    cpudev_lock();
    struct array *a = array_find_locked(h);
    CUresult r = a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    if (r == CUDA_SUCCESS &&
        (x > a->pitch || width > a->pitch - x || y > a->rows || height > a->rows - y || z >= a->slices))
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        *out = (char *)(uintptr_t)(a->base + (z * a->rows + y) * a->pitch + x);
        *pitch = a->pitch;
    }
    cpudev_unlock();
    return r;
}
