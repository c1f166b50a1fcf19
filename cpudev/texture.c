/*
 * texture.c — texture and surface objects on the CPU device:
 * cuTexObjectCreate, cuSurfObjectCreate and friends, and what a kernel's
 * tex, suld and sust ask the PTX machine to look up (texture_resolve, ptx.h's
 * struct ptx_texture).
 *
 * A texture object keeps its descriptors as given and samples memory of
 * three kinds: a CUDA array (1D or 2D; array.c), linear memory (1D, integer
 * coordinates: tex1Dfetch) and pitched 2D memory. The handle a kernel gets
 * is the object's address. Resource views, mipmapped arrays, sRGB and
 * cubemaps are CUDA_ERROR_NOT_SUPPORTED; linear filtering of integers read
 * as integers is refused, as the hardware cannot blend them.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "ptx.h"

struct texobj {
    CUDA_RESOURCE_DESC res;
    CUDA_TEXTURE_DESC tex;
};

static enum ptx_tex_format format_of(CUarray_format f)
{
    switch (f) {
    case CU_AD_FORMAT_UNSIGNED_INT8: return PTX_TEX_U8;
    case CU_AD_FORMAT_SIGNED_INT8: return PTX_TEX_S8;
    case CU_AD_FORMAT_UNSIGNED_INT16: return PTX_TEX_U16;
    case CU_AD_FORMAT_SIGNED_INT16: return PTX_TEX_S16;
    case CU_AD_FORMAT_UNSIGNED_INT32: return PTX_TEX_U32;
    case CU_AD_FORMAT_SIGNED_INT32: return PTX_TEX_S32;
    case CU_AD_FORMAT_HALF: return PTX_TEX_F16;
    case CU_AD_FORMAT_FLOAT: return PTX_TEX_F32;
    default: return 0;
    }
}

/* What the PTX machine samples for o, resolved now (the array's memory may
 * have gone with its context); false if o cannot be sampled any more. */
static bool resolve_locked(const struct texobj *o, struct ptx_texture *t)
{
    memset(t, 0, sizeof *t);
    const CUDA_RESOURCE_DESC *r = &o->res;
    const CUDA_TEXTURE_DESC *d = &o->tex;
    CUarray_format fmt;
    switch (r->resType) {
    case CU_RESOURCE_TYPE_ARRAY: {
        const struct array *a = array_find_locked(r->res.array.hArray);
        if (!a)
            return false;
        t->base = (const uint8_t *)(uintptr_t)a->base;
        t->width = a->desc.Width;
        t->height = a->rows;
        t->depth = a->slices;
        t->pitch = a->pitch;
        t->slice = a->pitch * a->rows;
        t->layered = (a->desc.Flags & CUDA_ARRAY3D_LAYERED) != 0;
        t->dims = a->desc.Depth && !t->layered ? 3 : a->desc.Height ? 2 : 1;
        t->channels = a->desc.NumChannels;
        fmt = a->desc.Format;
        break;
    }
    case CU_RESOURCE_TYPE_LINEAR: {
        /* freed since it was made: nothing to sample (the launch fails) */
        if (!mem_range_ok(r->res.linear.devPtr, r->res.linear.sizeInBytes))
            return false;
        unsigned elem = rgpu_array_format_bytes(r->res.linear.format) * r->res.linear.numChannels;
        t->base = (const uint8_t *)(uintptr_t)r->res.linear.devPtr;
        t->width = r->res.linear.sizeInBytes / elem;
        t->height = t->depth = 1;
        t->pitch = t->slice = r->res.linear.sizeInBytes;
        t->dims = 1;
        t->linear = true;
        t->channels = r->res.linear.numChannels;
        fmt = r->res.linear.format;
        break;
    }
    default: /* CU_RESOURCE_TYPE_PITCH2D, checked at creation */
        if (!mem_range_ok(r->res.pitch2D.devPtr, r->res.pitch2D.pitchInBytes * (r->res.pitch2D.height - 1) +
                                                     r->res.pitch2D.width * rgpu_array_format_bytes(r->res.pitch2D.format) *
                                                         r->res.pitch2D.numChannels))
            return false;
        t->base = (const uint8_t *)(uintptr_t)r->res.pitch2D.devPtr;
        t->width = r->res.pitch2D.width;
        t->height = r->res.pitch2D.height;
        t->depth = 1;
        t->pitch = r->res.pitch2D.pitchInBytes;
        t->slice = t->pitch * t->height;
        t->dims = 2;
        t->channels = r->res.pitch2D.numChannels;
        fmt = r->res.pitch2D.format;
        break;
    }
    t->format = format_of(fmt);
    /* the driver API reads 8- and 16-bit integers as fractions unless told not to */
    bool small_int = t->format != PTX_TEX_F32 && t->format != PTX_TEX_F16 && t->format != PTX_TEX_U32 &&
                     t->format != PTX_TEX_S32;
    t->read_normalized = small_int && !(d->flags & CU_TRSF_READ_AS_INTEGER);
    t->normalized_coords = (d->flags & CU_TRSF_NORMALIZED_COORDINATES) != 0;
    t->linear_filter = d->filterMode == CU_TR_FILTER_MODE_LINEAR && !t->linear;
    for (int k = 0; k < 3; k++)
        t->address[k] = (enum ptx_tex_address)d->addressMode[k];
    memcpy(t->border, d->borderColor, sizeof t->border);
    return true;
}

/* A resource the CPU device can sample, checked as the driver does. */
static CUresult check_locked(const CUDA_RESOURCE_DESC *r, const CUDA_TEXTURE_DESC *d)
{
    if (r->flags)
        return CUDA_ERROR_INVALID_VALUE;
    CUarray_format fmt;
    unsigned channels;
    switch (r->resType) {
    case CU_RESOURCE_TYPE_ARRAY: {
        const struct array *a = array_find_locked(r->res.array.hArray);
        if (!a)
            return CUDA_ERROR_INVALID_HANDLE;
        fmt = a->desc.Format;
        channels = a->desc.NumChannels;
        break;
    }
    case CU_RESOURCE_TYPE_LINEAR: {
        fmt = r->res.linear.format;
        channels = r->res.linear.numChannels;
        uint64_t elem = (uint64_t)rgpu_array_format_bytes(fmt) * channels;
        if (!elem || !r->res.linear.sizeInBytes || r->res.linear.sizeInBytes % elem ||
            r->res.linear.devPtr % 512 || !mem_range_ok(r->res.linear.devPtr, r->res.linear.sizeInBytes))
            return CUDA_ERROR_INVALID_VALUE;
        break;
    }
    case CU_RESOURCE_TYPE_PITCH2D: {
        fmt = r->res.pitch2D.format;
        channels = r->res.pitch2D.numChannels;
        uint64_t elem = (uint64_t)rgpu_array_format_bytes(fmt) * channels, row, span;
        uint64_t w = r->res.pitch2D.width, h = r->res.pitch2D.height, pitch = r->res.pitch2D.pitchInBytes;
        if (!elem || !w || !h || __builtin_mul_overflow(w, elem, &row) || pitch < row || pitch % 32 ||
            r->res.pitch2D.devPtr % 512 || __builtin_mul_overflow(pitch, h - 1, &span) ||
            __builtin_add_overflow(span, row, &span) || !mem_range_ok(r->res.pitch2D.devPtr, span))
            return CUDA_ERROR_INVALID_VALUE;
        break;
    }
    case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY: return CUDA_ERROR_NOT_SUPPORTED;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    if (!format_of(fmt))
        return CUDA_ERROR_NOT_SUPPORTED;
    if (channels != 1 && channels != 2 && channels != 4)
        return CUDA_ERROR_INVALID_VALUE;
    if (d->flags & (CU_TRSF_SRGB | CU_TRSF_SEAMLESS_CUBEMAP))
        return CUDA_ERROR_NOT_SUPPORTED;
    for (int k = 0; k < 3; k++)
        if (d->addressMode[k] < CU_TR_ADDRESS_MODE_WRAP || d->addressMode[k] > CU_TR_ADDRESS_MODE_BORDER)
            return CUDA_ERROR_INVALID_VALUE;
    if (d->filterMode != CU_TR_FILTER_MODE_POINT && d->filterMode != CU_TR_FILTER_MODE_LINEAR)
        return CUDA_ERROR_INVALID_VALUE;
    bool raw_int = fmt != CU_AD_FORMAT_FLOAT && fmt != CU_AD_FORMAT_HALF &&
                   ((d->flags & CU_TRSF_READ_AS_INTEGER) || rgpu_array_format_bytes(fmt) == 4);
    if (raw_int && d->filterMode == CU_TR_FILTER_MODE_LINEAR && r->resType != CU_RESOURCE_TYPE_LINEAR)
        return CUDA_ERROR_INVALID_VALUE; /* integers cannot be blended */
    return CUDA_SUCCESS;
}

CUresult cpudev_cuTexObjectCreate(CUtexObject *pTexObject, const CUDA_RESOURCE_DESC *pResDesc,
                                  const CUDA_TEXTURE_DESC *pTexDesc, const CUDA_RESOURCE_VIEW_DESC *pResViewDesc)
{
    CPUDEV_ENTER();
    if (!pTexObject || !pResDesc || !pTexDesc)
        return CUDA_ERROR_INVALID_VALUE;
    if (pResViewDesc)
        return CUDA_ERROR_NOT_SUPPORTED; /* views reinterpret formats: not offered */
    struct texobj *o = calloc(1, sizeof *o);
    if (!o)
        return CUDA_ERROR_OUT_OF_MEMORY;
    o->res = *pResDesc;
    o->tex = *pTexDesc;
    cpudev_lock();
    struct ctx *c;
    CUresult r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS)
        r = check_locked(&o->res, &o->tex);
    if (r == CUDA_SUCCESS && !reg_add_locked(o, H_TEXOBJ))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS)
        *pTexObject = (CUtexObject)(uintptr_t)o;
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        free(o);
    return r;
}

static struct texobj *find_locked(uint64_t h, enum handle_kind kind)
{
    void *p = (void *)(uintptr_t)h;
    return h && reg_has_locked(p, kind) ? p : NULL;
}

static CUresult destroy(uint64_t h, enum handle_kind kind)
{
    cpudev_lock();
    struct texobj *o = find_locked(h, kind);
    if (o)
        reg_del_locked(o);
    cpudev_unlock();
    free(o);
    return o ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* Object h's descriptors, into whichever of res and tex is given. */
static CUresult descs(uint64_t h, enum handle_kind kind, CUDA_RESOURCE_DESC *res, CUDA_TEXTURE_DESC *tex)
{
    if (!res && !tex)
        return CUDA_ERROR_INVALID_VALUE;
    cpudev_lock();
    const struct texobj *o = find_locked(h, kind);
    if (o && res)
        *res = o->res;
    if (o && tex)
        *tex = o->tex;
    cpudev_unlock();
    return o ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cpudev_cuTexObjectDestroy(CUtexObject texObject)
{
    CPUDEV_ENTER();
    return destroy(texObject, H_TEXOBJ);
}

CUresult cpudev_cuTexObjectGetResourceDesc(CUDA_RESOURCE_DESC *pResDesc, CUtexObject texObject)
{
    CPUDEV_ENTER();
    return descs(texObject, H_TEXOBJ, pResDesc, NULL);
}

CUresult cpudev_cuTexObjectGetTextureDesc(CUDA_TEXTURE_DESC *pTexDesc, CUtexObject texObject)
{
    CPUDEV_ENTER();
    return descs(texObject, H_TEXOBJ, NULL, pTexDesc);
}

/* ---- surface objects: an array made for loads and stores, addressed by
 * byte (suld/sust); its object is a texture object's with no sampling ---- */

CUresult cpudev_cuSurfObjectCreate(CUsurfObject *pSurfObject, const CUDA_RESOURCE_DESC *pResDesc)
{
    CPUDEV_ENTER();
    if (!pSurfObject || !pResDesc)
        return CUDA_ERROR_INVALID_VALUE;
    struct texobj *o = calloc(1, sizeof *o);
    if (!o)
        return CUDA_ERROR_OUT_OF_MEMORY;
    o->res = *pResDesc;
    cpudev_lock();
    struct ctx *c;
    CUresult r = ctx_current_locked(&c);
    const struct array *a = NULL;
    if (r == CUDA_SUCCESS && (o->res.resType != CU_RESOURCE_TYPE_ARRAY || o->res.flags))
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS && !(a = array_find_locked(o->res.res.array.hArray)))
        r = CUDA_ERROR_INVALID_HANDLE;
    if (r == CUDA_SUCCESS && !(a->desc.Flags & CUDA_ARRAY3D_SURFACE_LDST))
        r = CUDA_ERROR_INVALID_VALUE; /* not made for surface loads and stores */
    if (r == CUDA_SUCCESS && !reg_add_locked(o, H_SURFOBJ))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS)
        *pSurfObject = (CUsurfObject)(uintptr_t)o;
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        free(o);
    return r;
}

CUresult cpudev_cuSurfObjectDestroy(CUsurfObject surfObject)
{
    CPUDEV_ENTER();
    return destroy(surfObject, H_SURFOBJ);
}

CUresult cpudev_cuSurfObjectGetResourceDesc(CUDA_RESOURCE_DESC *pResDesc, CUsurfObject surfObject)
{
    CPUDEV_ENTER();
    return descs(surfObject, H_SURFOBJ, pResDesc, NULL);
}

bool texture_resolve(void *ctx, uint64_t handle, struct ptx_texture *out)
{
    (void)ctx;
    cpudev_lock();
    const struct texobj *o = find_locked(handle, H_TEXOBJ);
    if (!o)
        o = find_locked(handle, H_SURFOBJ);
    bool ok = o && resolve_locked(o, out);
    cpudev_unlock();
    return ok;
}
