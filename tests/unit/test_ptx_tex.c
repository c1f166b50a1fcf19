/*
 * test_ptx_tex.c — the tex instruction (ptx/tex.c): 1D, 2D and 3D textures
 * of floats, 8-bit integers read as fractions and 32-bit integers read as
 * integers; point and linear filtering; clamp, border, wrap and mirror
 * addressing; unnormalised and normalised coordinates; tex1Dfetch on linear
 * memory (zero outside); a handle that names nothing failing the launch;
 * suld/sust on a surface (clamp, zero, trap, stores).
 * Kernels: ptx_kernels/tex.cu (compute_75 and compute_120). The textures are
 * served by this file's resolver, as the CPU device's texture objects are.
 * References: the texture unit's arithmetic on the host (linear weights in
 * 9-bit fixed point, 8 fraction bits), computed in double and compared
 * within float rounding; point samples exactly.
 */
#include <math.h>

#include "ptx_kernels/harness.h"

#define NTEX 4
static struct ptx_texture texs[NTEX];
static bool resolve(void *ctx, uint64_t h, struct ptx_texture *out)
{
    (void)ctx;
    if (h < 1 || h > NTEX)
        return false;
    *out = texs[h - 1];
    return true;
}

/* the host's texture unit (float formats and 8-bit reads as fractions) */
static bool idx(long i, uint64_t n, enum ptx_tex_address m, bool norm, uint64_t *out)
{
    long N = (long)n;
    if (!norm && (m == PTX_TEX_WRAP || m == PTX_TEX_MIRROR))
        m = PTX_TEX_CLAMP;
    if (m == PTX_TEX_WRAP) {
        i %= N;
        if (i < 0) i += N;
    } else if (m == PTX_TEX_MIRROR) {
        long p = i % (2 * N);
        if (p < 0) p += 2 * N;
        i = p < N ? p : 2 * N - 1 - p;
    } else if (m == PTX_TEX_BORDER) {
        if (i < 0 || i >= N) return false;
    } else {
        i = i < 0 ? 0 : i >= N ? N - 1 : i;
    }
    *out = (uint64_t)i;
    return true;
}
static double texel(const struct ptx_texture *t, uint64_t x, uint64_t y, uint64_t z, unsigned ch)
{
    if (ch >= t->channels) return ch == 3 ? 1.0 : 0.0;
    const uint8_t *p = t->base + z * t->slice + y * t->pitch;
    if (t->format == PTX_TEX_U8) return p[x * t->channels + ch] / 255.0;
    float f;
    memcpy(&f, p + (x * t->channels + ch) * 4, 4);
    return f;
}
static void ref(const struct ptx_texture *t, const float *cin, double out[4])
{
    uint64_t n[3] = {t->width, t->height, t->depth};
    long base[3] = {0, 0, 0};
    double frac[3] = {0, 0, 0};
    for (unsigned d = 0; d < t->dims; d++) {
        float c = t->normalized_coords ? cin[d] * (float)n[d] : cin[d];
        float x = t->linear_filter ? c - 0.5f : c;
        float f = floorf(x);
        base[d] = (long)f;
        frac[d] = t->linear_filter ? roundf((x - f) * 256.0f) / 256.0 : 0.0;
    }
    for (int ch = 0; ch < 4; ch++) out[ch] = 0;
    unsigned corners = t->linear_filter ? 1u << t->dims : 1;
    for (unsigned k = 0; k < corners; k++) {
        uint64_t at[3] = {0, 0, 0};
        double w = 1;
        bool in = true;
        for (unsigned d = 0; d < t->dims; d++) {
            unsigned s = (k >> d) & 1;
            if (t->linear_filter) w *= s ? frac[d] : 1 - frac[d];
            in = in && idx(base[d] + s, n[d], t->address[d], t->normalized_coords, &at[d]);
        }
        for (unsigned ch = 0; ch < 4; ch++)
            out[ch] += w * (in ? texel(t, at[0], at[1], at[2], ch) : t->border[ch]);
    }
}
static void expect_near(float got, double want, bool exact, const char *what, int i, int ch)
{
    bool ok = exact ? got == (float)want : fabs(got - want) <= 3e-6 * (1 + fabs(want));
    if (!ok) fail_msg("%s: sample %d channel %d: got %.9g, expected %.9g", what, i, ch, got, want);
}

static float *floats(size_t n, unsigned seed)
{
    float *f = h_dev(n * 4);
    for (size_t i = 0; i < n; i++) f[i] = (float)((i * 37 + seed) % 101) / 8.0f - 3.0f;
    return f;
}

static void test_2d(void **state)
{
    (void)state;
    const char *files[] = {"tex_75.ptx", "tex_120.ptx"};
    h_texture = resolve;
    float *data = floats(19 * 11 * 4, 5);
    for (int fi = 0; fi < 2; fi++) {
        struct ptx_module *m = h_load(files[fi]);
        const struct ptx_kernel *k = ptx_module_find_kernel(m, "tex2d_f4");
        for (int v = 0; v < 8; v++) {
            /* point/linear x clamp/border x unnormalised/normalised */
            struct ptx_texture t = {.base = (const uint8_t *)data, .width = 19, .height = 11, .depth = 1,
                                    .pitch = 19 * 16, .slice = 19 * 16 * 11, .dims = 2, .format = PTX_TEX_F32,
                                    .channels = 4, .linear_filter = v & 1, .normalized_coords = (v & 4) != 0,
                                    .border = {0.25f, -1.0f, 8.0f, 0.5f}};
            t.address[0] = t.address[1] = v & 2 ? PTX_TEX_BORDER : PTX_TEX_CLAMP;
            texs[0] = t;
            const int n = 300;
            float *out = h_dev((size_t)n * 16);
            float x0 = v & 4 ? -0.05f : -2.3f, y0 = v & 4 ? -0.1f : -1.7f, dx = v & 4 ? 0.0041f : 0.083f,
                  dy = v & 4 ? 0.11f : 1.07f;
            struct h_params p;
            H_P(k, &p, 0, (uint64_t)1);
            H_P(k, &p, 1, (uint64_t)(uintptr_t)out);
            H_P(k, &p, 2, n);
            H_P(k, &p, 3, x0);
            H_P(k, &p, 4, y0);
            H_P(k, &p, 5, dx);
            H_P(k, &p, 6, dy);
            h_launch(m, "tex2d_f4", 3, 128, &p);
            for (int i = 0; i < n; i++) {
                float c[2] = {x0 + dx * i, y0 + dy * (i % 13)};
                double want[4];
                ref(&t, c, want);
                for (int ch = 0; ch < 4; ch++) expect_near(out[i * 4 + ch], want[ch], !t.linear_filter, files[fi], i, ch);
            }
        }
        ptx_module_free(m);
    }
    h_dev_free_all();
}

/* 3D trilinear, wrap and mirror on normalised coordinates; a 1D texture of
 * 8-bit integers read as fractions */
static void test_3d_and_1d(void **state)
{
    (void)state;
    h_texture = resolve;
    struct ptx_module *m = h_load("tex_120.ptx");
    float *vol = floats(7 * 5 * 3, 11);
    struct ptx_texture t3 = {.base = (const uint8_t *)vol, .width = 7, .height = 5, .depth = 3, .pitch = 28,
                             .slice = 140, .dims = 3, .format = PTX_TEX_F32, .channels = 1, .linear_filter = true,
                             .normalized_coords = true, .address = {PTX_TEX_WRAP, PTX_TEX_MIRROR, PTX_TEX_CLAMP}};
    texs[1] = t3;
    const int n = 200;
    float *out = h_dev((size_t)n * 4);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "tex3d_f");
    struct h_params p;
    H_P(k, &p, 0, (uint64_t)2);
    H_P(k, &p, 1, (uint64_t)(uintptr_t)out);
    H_P(k, &p, 2, n);
    H_P(k, &p, 3, -1.3f);
    H_P(k, &p, 4, 0.0171f);
    h_launch(m, "tex3d_f", 2, 128, &p);
    for (int i = 0; i < n; i++) {
        float c[3] = {-1.3f + 0.0171f * i, 0.25f + 0.37f * (i % 7), 0.6f + 0.53f * (i % 5)};
        double want[4];
        ref(&t3, c, want);
        expect_near(out[i], want[0], false, "tex3D", i, 0);
    }

    uint8_t *bytes = h_dev(64);
    for (int i = 0; i < 64; i++) bytes[i] = (uint8_t)(i * 73 + 11);
    struct ptx_texture t1 = {.base = bytes, .width = 64, .height = 1, .depth = 1, .pitch = 64, .slice = 64, .dims = 1,
                             .format = PTX_TEX_U8, .channels = 1, .linear_filter = true, .read_normalized = true,
                             .address = {PTX_TEX_BORDER}, .border = {0.75f}};
    texs[2] = t1;
    k = ptx_module_find_kernel(m, "tex1d_f");
    H_P(k, &p, 0, (uint64_t)3);
    H_P(k, &p, 1, (uint64_t)(uintptr_t)out);
    H_P(k, &p, 2, n);
    H_P(k, &p, 3, -3.1f);
    H_P(k, &p, 4, 0.371f);
    h_launch(m, "tex1d_f", 2, 128, &p);
    for (int i = 0; i < n; i++) {
        float c[1] = {-3.1f + 0.371f * i};
        double want[4];
        ref(&t1, c, want);
        expect_near(out[i], want[0], false, "tex1D of bytes as fractions", i, 0);
    }
    ptx_module_free(m);
    h_dev_free_all();
}

/* integers: tex1Dfetch on linear memory (zero outside), a 2D texture read
 * as integers; and a handle that names nothing */
static void test_integers(void **state)
{
    (void)state;
    h_texture = resolve;
    struct ptx_module *m = h_load("tex_75.ptx");
    int32_t *lin = h_dev(50 * 16);
    for (int i = 0; i < 200; i++) lin[i] = i * i - 500;
    texs[3] = (struct ptx_texture){.base = (const uint8_t *)lin, .width = 50, .height = 1, .depth = 1, .pitch = 800,
                                   .slice = 800, .dims = 1, .linear = true, .format = PTX_TEX_S32, .channels = 4};
    const int n = 56;
    int32_t *out = h_dev((size_t)n * 16);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "fetch_i");
    struct h_params p;
    H_P(k, &p, 0, (uint64_t)4);
    H_P(k, &p, 1, (uint64_t)(uintptr_t)out);
    H_P(k, &p, 2, n);
    h_launch(m, "fetch_i", 1, 64, &p);
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < 4; ch++) {
            int at = i - 2, want = at >= 0 && at < 50 ? lin[at * 4 + ch] : 0;
            assert_int_equal(out[i * 4 + ch], want);
        }

    uint32_t *words = h_dev(6 * 4 * 8);
    for (int i = 0; i < 48; i++) words[i] = 0x9e3779b9u * (uint32_t)i;
    texs[0] = (struct ptx_texture){.base = (const uint8_t *)words, .width = 6, .height = 4, .depth = 1, .pitch = 48,
                                   .slice = 192, .dims = 2, .format = PTX_TEX_U32, .channels = 2};
    uint32_t *o2 = h_dev(24 * 8);
    k = ptx_module_find_kernel(m, "tex2d_u2");
    H_P(k, &p, 0, (uint64_t)1);
    H_P(k, &p, 1, (uint64_t)(uintptr_t)o2);
    H_P(k, &p, 2, 24);
    H_P(k, &p, 3, 6);
    h_launch(m, "tex2d_u2", 1, 32, &p);
    for (int i = 0; i < 24; i++) {
        assert_int_equal(o2[i * 2], words[i * 2]);
        assert_int_equal(o2[i * 2 + 1], words[i * 2 + 1]);
    }

    H_P(k, &p, 0, (uint64_t)99); /* no such texture */
    CUresult rc = h_launch_ex(m, "tex2d_u2", 1, 1, 32, 1, 1, 0, &p, 2, NULL);
    assert_int_equal(rc, CUDA_ERROR_ILLEGAL_ADDRESS);
    h_texture = NULL; /* a launch given no textures at all */
    H_P(k, &p, 0, (uint64_t)1);
    rc = h_launch_ex(m, "tex2d_u2", 1, 1, 32, 1, 1, 0, &p, 2, NULL);
    assert_int_equal(rc, CUDA_ERROR_ILLEGAL_ADDRESS);
    ptx_module_free(m);
    h_dev_free_all();
}

/* suld/sust: clamped and zero reads past the edges, stores, a trapping
 * read outside failing the launch */
static void test_surfaces(void **state)
{
    (void)state;
    h_texture = resolve;
    struct ptx_module *m = h_load("tex_120.ptx");
    enum { SW = 10, SH = 3 };
    int32_t *s = h_dev(SW * SH * 4);
    for (int i = 0; i < SW * SH; i++) s[i] = 1000 + i;
    texs[0] = (struct ptx_texture){.base = (const uint8_t *)s, .width = SW, .height = SH, .depth = 1, .pitch = SW * 4,
                                   .slice = SW * SH * 4, .dims = 2, .format = PTX_TEX_S32, .channels = 1};
    const int n = SW + 4;
    int32_t *out = h_dev((size_t)n * 12);
    const struct ptx_kernel *k = ptx_module_find_kernel(m, "surf_rw");
    struct h_params p;
    H_P(k, &p, 0, (uint64_t)1);
    H_P(k, &p, 1, (uint64_t)(uintptr_t)out);
    H_P(k, &p, 2, n);
    H_P(k, &p, 3, SW);
    H_P(k, &p, 4, 0);
    h_launch(m, "surf_rw", 1, 32, &p);
    for (int i = 0; i < n; i++) {
        int x = i - 2, cx = x < 0 ? 0 : x >= SW ? SW - 1 : x;
        assert_int_equal(out[3 * i], 1000 + SW + cx);
        assert_int_equal(out[3 * i + 1], x >= 0 && x < SW ? 1000 + SW + x : 0);
    }
    for (int x = 0; x < SW; x++) assert_int_equal(s[2 * SW + x], x + 2); /* the stores */
    H_P(k, &p, 4, 1); /* now a read outside traps */
    CUresult rc = h_launch_ex(m, "surf_rw", 1, 1, 32, 1, 1, 0, &p, 2, NULL);
    assert_int_equal(rc, CUDA_ERROR_ILLEGAL_ADDRESS);
    ptx_module_free(m);
    h_dev_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_2d),
        cmocka_unit_test(test_3d_and_1d),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_surfaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
