/*
 * tex.c — the tex instruction: sampling a texture object (ptx.h, struct
 * ptx_texture) as the texture unit does.
 *
 * Coordinates are unnormalised (texel units) or, with normalized_coords,
 * fractions of the size. The address mode applies to each coordinate: clamp
 * to the edge texels, border (outside texels read as the border colour),
 * and for normalised coordinates wrap and mirror (unnormalised ones clamp
 * instead, as the hardware does). Point filtering reads the texel the
 * coordinate falls in; linear filtering blends the 2, 4 or 8 around
 * coordinate - 0.5 with weights in the hardware's 9-bit fixed point (8
 * fraction bits). A linear resource (tex1Dfetch) takes integer coordinates
 * and reads zero outside. Integer formats read as integers, or with
 * read_normalized as fractions of their range; absent channels read as 0
 * (alpha: 1).
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* channel ch of the texel at (x, y, z), inside the texture, as a float or
 * (raw integer formats) as an integer in *iv */
static float texel(const struct ptx_texture *t, uint64_t x, uint64_t y, uint64_t z, unsigned ch, uint32_t *iv)
{
    if (ch >= t->channels) {
        *iv = ch == 3 ? 1 : 0;
        return ch == 3 ? 1.0f : 0.0f;
    }
    static const unsigned size[] = {0, 1, 1, 2, 2, 4, 4, 2, 4};
    unsigned cs = size[t->format];
    const uint8_t *p = t->base + z * t->slice + y * t->pitch + (x * t->channels + ch) * cs;
    uint32_t raw = 0;
    memcpy(&raw, p, cs); /* little-endian, as the device */
    switch (t->format) {
    case PTX_TEX_U8: *iv = raw & 0xff; return t->read_normalized ? (float)*iv / 255.0f : (float)*iv;
    case PTX_TEX_S8: {
        int8_t v = (int8_t)raw;
        *iv = (uint32_t)(int32_t)v;
        return t->read_normalized ? fmaxf((float)v / 127.0f, -1.0f) : (float)v;
    }
    case PTX_TEX_U16: *iv = raw & 0xffff; return t->read_normalized ? (float)*iv / 65535.0f : (float)*iv;
    case PTX_TEX_S16: {
        int16_t v = (int16_t)raw;
        *iv = (uint32_t)(int32_t)v;
        return t->read_normalized ? fmaxf((float)v / 32767.0f, -1.0f) : (float)v;
    }
    case PTX_TEX_U32: *iv = raw; return (float)raw;
    case PTX_TEX_S32: *iv = raw; return (float)(int32_t)raw;
    case PTX_TEX_F16: {
        float f = f16_to_f32((uint16_t)raw);
        memcpy(iv, &f, 4);
        return f;
    }
    default: {
        float f;
        memcpy(&f, &raw, 4);
        *iv = raw;
        return f;
    }
    }
}

/* An integer texel index along a dimension of n texels, after the address
 * mode; false: outside, read as the border. */
static bool index_of(int64_t i, uint64_t n, enum ptx_tex_address mode, bool normalized, uint64_t *out)
{
    int64_t N = (int64_t)n;
    if (!normalized && (mode == PTX_TEX_WRAP || mode == PTX_TEX_MIRROR))
        mode = PTX_TEX_CLAMP;
    switch (mode) {
    case PTX_TEX_WRAP: i %= N; if (i < 0) i += N; break;
    case PTX_TEX_MIRROR: {
        int64_t p = i % (2 * N);
        if (p < 0) p += 2 * N;
        i = p < N ? p : 2 * N - 1 - p;
        break;
    }
    case PTX_TEX_BORDER: if (i < 0 || i >= N) return false; break;
    default: i = i < 0 ? 0 : i >= N ? N - 1 : i; break;
    }
    *out = (uint64_t)i;
    return true;
}

/* The sample at coordinates c[0..dims) (texel units, unnormalised): four
 * floats, or four integers in iv for integer results. */
static void sample(const struct ptx_texture *t, const float *c, float out[4], uint32_t iv[4])
{
    unsigned dims = t->dims;
    uint64_t n[3] = {t->width, t->height, t->depth};
    int64_t base[3] = {0, 0, 0};
    float frac[3] = {0, 0, 0};
    bool lin = t->linear_filter;
    for (unsigned d = 0; d < dims; d++) {
        float x = lin ? c[d] - 0.5f : c[d];
        float f = floorf(x);
        base[d] = isfinite(f) ? (int64_t)fmaxf(fminf(f, 9.0e15f), -9.0e15f) : 0;
        /* the weight in 1.8 fixed point */
        frac[d] = lin ? roundf((x - f) * 256.0f) / 256.0f : 0.0f;
    }
    for (unsigned ch = 0; ch < 4; ch++) {
        out[ch] = 0.0f;
        iv[ch] = 0;
    }
    unsigned corners = lin ? 1u << dims : 1;
    for (unsigned k = 0; k < corners; k++) {
        uint64_t at[3] = {0, 0, 0};
        float wgt = 1.0f;
        bool inside = true;
        for (unsigned d = 0; d < dims; d++) {
            unsigned step = (k >> d) & 1;
            wgt *= lin ? (step ? frac[d] : 1.0f - frac[d]) : 1.0f;
            inside = inside && index_of(base[d] + step, n[d], t->address[d], t->normalized_coords, &at[d]);
        }
        for (unsigned ch = 0; ch < 4; ch++) {
            uint32_t v = 0;
            float f = inside ? texel(t, at[0], at[1], at[2], ch, &v) : t->border[ch];
            if (!inside)
                memcpy(&v, &t->border[ch], 4);
            out[ch] += wgt * f;
            if (!lin)
                iv[ch] = v;
        }
    }
}

/* tld4: channel ch of the 2x2 texels linear filtering would blend around
 * c, in the order (i, j+1), (i+1, j+1), (i+1, j), (i, j); the border
 * colour's channel for a texel outside under border addressing. */
static void gather(const struct ptx_texture *t, const float *c, unsigned ch, float out[4], uint32_t iv[4])
{
    int64_t base[2];
    for (int d = 0; d < 2; d++) {
        float f = floorf(c[d] - 0.5f);
        base[d] = isfinite(f) ? (int64_t)fmaxf(fminf(f, 9.0e15f), -9.0e15f) : 0;
    }
    static const int di[4] = {0, 1, 1, 0}, dj[4] = {1, 1, 0, 0};
    for (int k = 0; k < 4; k++) {
        uint64_t x, y;
        bool in = index_of(base[0] + di[k], t->width, t->address[0], t->normalized_coords, &x) &&
                  index_of(base[1] + dj[k], t->height, t->address[1], t->normalized_coords, &y);
        if (in) {
            out[k] = texel(t, x, y, 0, ch, &iv[k]);
        } else {
            out[k] = t->border[ch];
            memcpy(&iv[k], &t->border[ch], 4);
        }
    }
}

int x_tex(struct xctx *x, const struct ins *i, uint32_t m)
{
    const struct ptx_launch *l = x->L->l;
    const uint64_t *h = SRC(x, i->o[4]);
    uint64_t *d[4] = {DST(x, i->o[0]), DST(x, i->o[1]), DST(x, i->o[2]), DST(x, i->o[3])};
    const uint64_t *cs[3] = {NULL, NULL, NULL}, *layer = i->bop ? SRC(x, i->o[5]) : NULL;
    for (int k = 0; k < i->sub; k++)
        cs[k] = SRC(x, i->o[5 + (i->bop ? 1 : 0) + k]);
    /* the warp usually reads one texture: look it up once per handle */
    struct ptx_texture t;
    uint64_t have = 0;
    bool known = false;
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int ln = __builtin_ctz(mm);
        if (!known || h[ln] != have) {
            have = h[ln];
            known = l->texture && have && l->texture(l->texture_ctx, have, &t);
            if (!known) {
                xfail(x->L, CUDA_ERROR_ILLEGAL_ADDRESS, i, "tex: %#llx is not a texture object",
                      (unsigned long long)have);
                return -1;
            }
            if ((t.dims != i->sub && !(t.linear && i->sub == 1)) || t.layered != (i->bop != 0)) {
                xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "tex.%s%ud on a%s %u-dimensional texture",
                      i->bop ? "a" : "", i->sub, t.layered ? " layered" : "", t.dims);
                return -1;
            }
        }
        struct ptx_texture lt; /* a layered texture's layer (clamped into range) */
        const struct ptx_texture *tp = &t;
        if (t.layered) {
            int64_t ly = (int32_t)(uint32_t)layer[ln];
            ly = ly < 0 ? 0 : (uint64_t)ly >= t.depth ? (int64_t)t.depth - 1 : ly;
            lt = t;
            lt.base += (uint64_t)ly * t.slice;
            lt.depth = 1;
            tp = &lt;
        }
        float c[3] = {0, 0, 0};
        uint64_t n[3] = {t.width, t.height, t.depth};
        bool int_coords = i->t2 == T_S32;
        for (int k = 0; k < i->sub; k++) {
            uint32_t bits = (uint32_t)cs[k][ln];
            if (int_coords) {
                c[k] = (float)(int32_t)bits;
            } else {
                memcpy(&c[k], &bits, 4);
                if (t.normalized_coords)
                    c[k] *= (float)n[k];
            }
        }
        float out[4];
        uint32_t iv[4];
        if (i->op == OP_TLD4) {
            gather(tp, c, i->rnd, out, iv);
        } else if (t.linear) {
            /* tex1Dfetch: the element at an integer index, zero outside */
            int64_t at = int_coords ? (int32_t)(uint32_t)cs[0][ln] : (int64_t)floorf(c[0]);
            for (unsigned ch = 0; ch < 4; ch++) {
                if (at >= 0 && (uint64_t)at < t.width) {
                    out[ch] = texel(&t, (uint64_t)at, 0, 0, ch, &iv[ch]);
                } else {
                    out[ch] = 0.0f;
                    iv[ch] = 0;
                }
            }
        } else {
            if (int_coords) /* integer coordinates address texels as they are */
                for (int k = 0; k < i->sub; k++)
                    c[k] += 0.5f * t.linear_filter;
            sample(tp, c, out, iv);
        }
        bool float_result = i->t == T_F32;
        for (int ch = 0; ch < 4; ch++) {
            uint32_t bits;
            if (float_result)
                memcpy(&bits, &out[ch], 4);
            else
                bits = iv[ch];
            d[ch][ln] = bits;
        }
    }
    return 0;
}

/* ---- surfaces: suld.b and sust.b ---- */

/* One lane's access of `size` bytes at (byte x, row y, slice z): where, or
 * NULL when out of bounds under .zero (under .clamp coordinates are moved
 * inside; under .trap the caller fails). */
static uint8_t *surf_at(const struct ptx_texture *t, const int64_t c[3], unsigned dims, unsigned size, int mode,
                        bool *oob)
{
    uint64_t row = t->width * t->channels * (uint64_t)((const unsigned[]){0, 1, 1, 2, 2, 4, 4, 2, 4}[t->format]);
    int64_t lim[3] = {(int64_t)row - (int64_t)size, (int64_t)t->height - 1, (int64_t)t->depth - 1};
    int64_t at[3] = {0, 0, 0};
    *oob = false;
    for (unsigned d = 0; d < dims; d++) {
        at[d] = c[d];
        if (at[d] < 0 || at[d] > lim[d]) {
            if (mode != 1) {
                *oob = true;
                return NULL;
            }
            at[d] = at[d] < 0 ? 0 : lim[d] < 0 ? 0 : lim[d];
        }
    }
    if (lim[0] < 0) { /* an access wider than a row */
        *oob = true;
        return NULL;
    }
    return (uint8_t *)t->base + (uint64_t)at[2] * t->slice + (uint64_t)at[1] * t->pitch + (uint64_t)at[0];
}

int x_surf(struct xctx *x, const struct ins *i, uint32_t m)
{
    const struct ptx_launch *l = x->L->l;
    const uint64_t *h = SRC(x, i->o[4]);
    const bool st = i->op == OP_SUST;
    const unsigned es = ptx_type_size[i->t], size = es * i->vec;
    struct ptx_texture t;
    uint64_t have = 0;
    bool known = false;
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int ln = __builtin_ctz(mm);
        if (!known || h[ln] != have) {
            have = h[ln];
            known = l->texture && have && l->texture(l->texture_ctx, have, &t);
            if (!known || t.linear || t.layered || t.dims != i->sub) {
                xfail(x->L, CUDA_ERROR_ILLEGAL_ADDRESS, i, "%s: %#llx is not a %u-dimensional surface object",
                      st ? "sust" : "suld", (unsigned long long)have, i->sub);
                return -1;
            }
        }
        int64_t c[3] = {0, 0, 0};
        for (int k = 0; k < i->sub; k++)
            c[k] = (int32_t)(uint32_t)SRC(x, i->o[5 + k])[ln];
        bool oob;
        uint8_t *p = surf_at(&t, c, i->sub, size, i->bop, &oob);
        if (oob && i->bop == 0) {
            xfail(x->L, CUDA_ERROR_ILLEGAL_ADDRESS, i, "%s: (%lld, %lld, %lld) is outside the surface",
                  st ? "sust" : "suld", (long long)c[0], (long long)c[1], (long long)c[2]);
            return -1;
        }
        for (int e = 0; e < i->vec; e++) {
            uint64_t v = 0;
            if (st) {
                v = SRC(x, i->o[e])[ln];
                if (p)
                    memcpy(p + e * es, &v, es); /* little-endian: the low bytes */
            } else {
                if (p)
                    memcpy(&v, p + e * es, es);
                DST(x, i->o[e])[ln] = v;
            }
        }
    }
    return 0;
}
