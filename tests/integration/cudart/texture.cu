// texture.cu — texture objects through cudart: a float4 2D CUDA array
// sampled with point and linear filtering, clamp and border addressing, at
// unnormalised and normalised coordinates; a uchar4 array read as
// normalised floats with wrap and mirror; a uint2 array read as integers;
// pitched 2D memory; tex1Dfetch on linear memory (zero outside); the
// descriptors read back; destroyed objects. Surface objects: a float4 2D
// array written and read by surf2Dwrite/surf2Dread (clamped and zero outside),
// the bytes of a 1D surface changed in place, an array without surface
// loads and stores refused.
//
// Every sample is computed on the host the way the texture unit does it
// (linear weights in 9-bit fixed point with 8 fraction bits): point samples
// must match exactly, filtered ones within float rounding.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cudart_check.h"

#define W 19
#define H 11

__global__ void sample2d(cudaTextureObject_t t, float4 *out, int n, float x0, float y0, float dx, float dy)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex2D<float4>(t, x0 + dx * i, y0 + dy * (i % 37));
}

__global__ void sample2d_uint2(cudaTextureObject_t t, uint2 *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex2D<uint2>(t, (float)(i % (W + 4)) - 2.0f, (float)(i / (W + 4)) - 1.5f);
}

__global__ void sample1d_fetch(cudaTextureObject_t t, int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex1Dfetch<int>(t, i - 3);
}

__global__ void sample2d_float(cudaTextureObject_t t, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex2D<float>(t, 0.3f + 0.61f * i, 0.7f + 0.23f * i);
}

__global__ void surf_write(cudaSurfaceObject_t s, int w, int h)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (x < w && y < h)
        surf2Dwrite(make_float4(x, y, x * y, -1.0f), s, x * (int)sizeof(float4), y);
}

__global__ void surf_read(cudaSurfaceObject_t s, float4 *clamped, float4 *zeroed, int w, int h)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (x < w + 4 && y < h) {
        // two texels past each edge: clamped to the edge, or zero
        int bx = (x - 2) * (int)sizeof(float4);
        clamped[y * (w + 4) + x] = surf2Dread<float4>(s, bx, y, cudaBoundaryModeClamp);
        zeroed[y * (w + 4) + x] = surf2Dread<float4>(s, bx, y, cudaBoundaryModeZero);
    }
}

__global__ void surf_bytes(cudaSurfaceObject_t s, int n)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    if (x < n)
        surf1Dwrite<unsigned char>((unsigned char)(surf1Dread<unsigned char>(s, x) * 3 + 1), s, x);
}

__global__ void sample3d(cudaTextureObject_t t, float *point, float *mid, int w, int h, int d)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < w * h * d) {
        int x = i % w, y = (i / w) % h, z = i / (w * h);
        point[i] = tex3D<float>(t, x + 0.5f, y + 0.5f, z + 0.5f);
        mid[i] = tex3D<float>(t, x + 1.0f, y + 1.0f, z + 1.0f); /* between 8 texels (clamped at the far edges) */
    }
}

__global__ void sample_layers(cudaTextureObject_t t2, cudaTextureObject_t t1, float *out2, float *out1, int w, int h,
                              int layers)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < w * h * (layers + 2)) {
        int x = i % w, y = (i / w) % h, l = i / (w * h) - 1; /* one layer past each end: clamped */
        out2[i] = tex2DLayered<float>(t2, x + 0.5f, y + 0.5f, l);
        out1[i] = tex1DLayered<float>(t1, x + 0.5f, l);
    }
}

__global__ void gather4(cudaTextureObject_t t, float4 *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = tex2Dgather<float4>(t, 0.3f + 0.77f * (i % 23) - 1.0f, 0.45f * (i / 23) - 0.5f, 2);
}

// ---- the host's texture unit ----
struct host_tex {
    int w, h, channels;
    std::vector<float> texels; // channels per texel, already converted (normalised reads divided)
    bool normalized, linear;
    cudaTextureAddressMode mode[2];
    float border[4];
};

static bool index_of(long i, int n, cudaTextureAddressMode m, bool normalized, long *out)
{
    if (!normalized && (m == cudaAddressModeWrap || m == cudaAddressModeMirror))
        m = cudaAddressModeClamp;
    if (m == cudaAddressModeWrap) {
        i %= n;
        if (i < 0)
            i += n;
    } else if (m == cudaAddressModeMirror) {
        long p = i % (2 * n);
        if (p < 0)
            p += 2 * n;
        i = p < n ? p : 2 * n - 1 - p;
    } else if (m == cudaAddressModeBorder) {
        if (i < 0 || i >= n)
            return false;
    } else {
        i = i < 0 ? 0 : i >= n ? n - 1 : i;
    }
    *out = i;
    return true;
}

static void host_sample(const host_tex &t, float x, float y, float out[4])
{
    if (t.normalized) {
        x *= t.w;
        y *= t.h;
    }
    float c[2] = {t.linear ? x - 0.5f : x, t.linear ? y - 0.5f : y};
    long base[2];
    float frac[2];
    for (int d = 0; d < 2; d++) {
        float f = std::floor(c[d]);
        base[d] = (long)f;
        frac[d] = t.linear ? std::round((c[d] - f) * 256.0f) / 256.0f : 0.0f;
    }
    for (int ch = 0; ch < 4; ch++)
        out[ch] = 0;
    int corners = t.linear ? 4 : 1;
    for (int k = 0; k < corners; k++) {
        int sx = k & 1, sy = (k >> 1) & 1;
        float wgt = t.linear ? (sx ? frac[0] : 1 - frac[0]) * (sy ? frac[1] : 1 - frac[1]) : 1.0f;
        long ix, iy;
        bool in = index_of(base[0] + sx, t.w, t.mode[0], t.normalized, &ix) &&
                  index_of(base[1] + sy, t.h, t.mode[1], t.normalized, &iy);
        for (int ch = 0; ch < 4; ch++) {
            float v = !in ? t.border[ch] : ch < t.channels ? t.texels[(iy * t.w + ix) * t.channels + ch] : ch == 3 ? 1.0f : 0.0f;
            out[ch] += wgt * v;
        }
    }
}

static bool near(float a, float b, bool exact) { return exact ? a == b : std::fabs(a - b) <= 2e-6f * (1 + std::fabs(b)); }

// ---- the cases ----
static cudaTextureDesc tex_desc(cudaTextureAddressMode m0, cudaTextureAddressMode m1, bool linear, bool normalized,
                                cudaTextureReadMode read)
{
    cudaTextureDesc d;
    std::memset(&d, 0, sizeof d);
    d.addressMode[0] = m0;
    d.addressMode[1] = m1;
    d.filterMode = linear ? cudaFilterModeLinear : cudaFilterModePoint;
    d.readMode = read;
    d.normalizedCoords = normalized;
    d.borderColor[0] = 0.25f;
    d.borderColor[1] = -1.0f;
    d.borderColor[2] = 8.0f;
    d.borderColor[3] = 0.5f;
    return d;
}

static void check_float4(cudaTextureObject_t t, const host_tex &h, float x0, float y0, float dx, float dy,
                         const char *what)
{
    const int n = 512;
    float4 *d;
    CK_FATAL(cudaMalloc(&d, n * sizeof(float4)));
    sample2d<<<(n + 127) / 128, 128>>>(t, d, n, x0, y0, dx, dy);
    CK(cudaGetLastError());
    std::vector<float4> got(n);
    CK(cudaMemcpy(got.data(), d, n * sizeof(float4), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++) {
        float want[4];
        host_sample(h, x0 + dx * i, y0 + dy * (i % 37), want);
        const float g[4] = {got[i].x, got[i].y, got[i].z, got[i].w};
        for (int ch = 0; ch < 4; ch++)
            if (!near(g[ch], want[ch], !h.linear)) {
                EXPECT(false, "%s: sample %d channel %d: got %.9g, expected %.9g", what, i, ch, g[ch], want[ch]);
                i = n;
                break;
            }
    }
    CK(cudaFree(d));
}

static void float4_array()
{
    cudaChannelFormatDesc cf = cudaCreateChannelDesc<float4>();
    cudaArray_t arr;
    CK_FATAL(cudaMallocArray(&arr, &cf, W, H));
    host_tex h{W, H, 4, std::vector<float>(W * H * 4), false, false, {cudaAddressModeClamp, cudaAddressModeClamp},
               {0.25f, -1.0f, 8.0f, 0.5f}};
    for (int i = 0; i < W * H * 4; i++)
        h.texels[i] = (float)((i * 37) % 101) / 8.0f - 3.0f;
    CK(cudaMemcpy2DToArray(arr, 0, 0, h.texels.data(), W * 16, W * 16, H, cudaMemcpyHostToDevice));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = arr;
    for (int variant = 0; variant < 4; variant++) {
        h.linear = variant & 1;
        h.mode[0] = h.mode[1] = variant & 2 ? cudaAddressModeBorder : cudaAddressModeClamp;
        cudaTextureDesc td = tex_desc(h.mode[0], h.mode[1], h.linear, false, cudaReadModeElementType);
        cudaTextureObject_t t;
        CK_FATAL(cudaCreateTextureObject(&t, &rd, &td, nullptr));
        char what[64];
        std::snprintf(what, sizeof what, "float4 array, %s, %s", h.linear ? "linear" : "point",
                      variant & 2 ? "border" : "clamp");
        check_float4(t, h, -2.3f, -1.7f, 0.047f, 0.41f, what);
        if (variant == 3) {
            cudaResourceDesc back;
            cudaTextureDesc tback;
            CK(cudaGetTextureObjectResourceDesc(&back, t));
            EXPECT(back.resType == cudaResourceTypeArray && back.res.array.array == arr, "resource read back");
            CK(cudaGetTextureObjectTextureDesc(&tback, t));
            EXPECT(tback.filterMode == cudaFilterModeLinear && tback.addressMode[0] == cudaAddressModeBorder &&
                       tback.borderColor[2] == 8.0f,
                   "texture description read back");
        }
        CK(cudaDestroyTextureObject(t));
    }
    // normalised coordinates, clamp
    h.normalized = true;
    h.linear = true;
    h.mode[0] = h.mode[1] = cudaAddressModeClamp;
    cudaTextureDesc td = tex_desc(h.mode[0], h.mode[1], true, true, cudaReadModeElementType);
    cudaTextureObject_t t;
    CK_FATAL(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    check_float4(t, h, -0.05f, 0.01f, 0.0023f, 0.027f, "float4 array, normalised, linear");
    CK(cudaDestroyTextureObject(t));
    CK(cudaFreeArray(arr));
}

static void uchar4_normalized()
{
    cudaChannelFormatDesc cf = cudaCreateChannelDesc<uchar4>();
    cudaArray_t arr;
    CK_FATAL(cudaMallocArray(&arr, &cf, W, H));
    std::vector<unsigned char> bytes(W * H * 4);
    host_tex h{W, H, 4, std::vector<float>(W * H * 4), true, true, {cudaAddressModeWrap, cudaAddressModeMirror},
               {0.25f, -1.0f, 8.0f, 0.5f}};
    for (int i = 0; i < W * H * 4; i++) {
        bytes[i] = (unsigned char)(i * 73 + 11);
        h.texels[i] = bytes[i] / 255.0f;
    }
    CK(cudaMemcpy2DToArray(arr, 0, 0, bytes.data(), W * 4, W * 4, H, cudaMemcpyHostToDevice));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = arr;
    cudaTextureDesc td = tex_desc(cudaAddressModeWrap, cudaAddressModeMirror, true, true, cudaReadModeNormalizedFloat);
    cudaTextureObject_t t;
    CK_FATAL(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    check_float4(t, h, -1.3f, -0.9f, 0.0131f, 0.11f, "uchar4 array, normalised float, wrap and mirror, linear");
    CK(cudaDestroyTextureObject(t));
    CK(cudaFreeArray(arr));
}

static void uint2_integers()
{
    cudaChannelFormatDesc cf = cudaCreateChannelDesc<uint2>();
    cudaArray_t arr;
    CK_FATAL(cudaMallocArray(&arr, &cf, W, H));
    std::vector<unsigned> v(W * H * 2);
    for (int i = 0; i < W * H * 2; i++)
        v[i] = 0x9e3779b9u * (unsigned)i;
    CK(cudaMemcpy2DToArray(arr, 0, 0, v.data(), W * 8, W * 8, H, cudaMemcpyHostToDevice));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = arr;
    cudaTextureDesc td = tex_desc(cudaAddressModeClamp, cudaAddressModeClamp, false, false, cudaReadModeElementType);
    cudaTextureObject_t t;
    CK_FATAL(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    const int n = (W + 4) * (H + 3);
    uint2 *d;
    CK_FATAL(cudaMalloc(&d, n * sizeof(uint2)));
    sample2d_uint2<<<(n + 127) / 128, 128>>>(t, d, n);
    std::vector<uint2> got(n);
    CK(cudaMemcpy(got.data(), d, n * sizeof(uint2), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++) {
        long x = std::lround(std::floor((float)(i % (W + 4)) - 2.0f)), y = std::lround(std::floor((float)(i / (W + 4)) - 1.5f));
        x = x < 0 ? 0 : x >= W ? W - 1 : x;
        y = y < 0 ? 0 : y >= H ? H - 1 : y;
        unsigned wx = v[(y * W + x) * 2], wy = v[(y * W + x) * 2 + 1];
        if (got[i].x != wx || got[i].y != wy) {
            EXPECT(false, "uint2 sample %d: got (%u, %u), expected (%u, %u)", i, got[i].x, got[i].y, wx, wy);
            break;
        }
    }
    CK(cudaDestroyTextureObject(t));
    CK(cudaFree(d));
    CK(cudaFreeArray(arr));
}

static void linear_fetch()
{
    const int n = 1000;
    std::vector<int> v(n);
    for (int i = 0; i < n; i++)
        v[i] = i * i - 7;
    int *mem, *out;
    CK_FATAL(cudaMalloc(&mem, n * sizeof(int)));
    CK_FATAL(cudaMalloc(&out, (n + 6) * sizeof(int)));
    CK(cudaMemcpy(mem, v.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeLinear;
    rd.res.linear.devPtr = mem;
    rd.res.linear.desc = cudaCreateChannelDesc<int>();
    const int m = n - 8; /* the texture covers less than the memory: what lies past it is not read */
    rd.res.linear.sizeInBytes = m * sizeof(int);
    cudaTextureDesc td = tex_desc(cudaAddressModeClamp, cudaAddressModeClamp, false, false, cudaReadModeElementType);
    cudaTextureObject_t t;
    CK_FATAL(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    sample1d_fetch<<<(n + 6 + 127) / 128, 128>>>(t, out, n + 6);
    std::vector<int> got(n + 6);
    CK(cudaMemcpy(got.data(), out, (n + 6) * sizeof(int), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n + 6; i++) {
        int at = i - 3, want = at >= 0 && at < m ? v[at] : 0; // zero outside
        if (got[i] != want) {
            EXPECT(false, "tex1Dfetch %d: got %d, expected %d", at, got[i], want);
            break;
        }
    }
    CK(cudaDestroyTextureObject(t));
    CK(cudaFree(mem));
    CK(cudaFree(out));
}

static void pitched()
{
    size_t pitch;
    float *mem;
    CK_FATAL(cudaMallocPitch(&mem, &pitch, W * sizeof(float), H));
    host_tex h{W, H, 1, std::vector<float>(W * H), false, true, {cudaAddressModeClamp, cudaAddressModeClamp},
               {0, 0, 0, 0}};
    for (int i = 0; i < W * H; i++)
        h.texels[i] = std::sin(0.37f * i);
    CK(cudaMemcpy2D(mem, pitch, h.texels.data(), W * sizeof(float), W * sizeof(float), H, cudaMemcpyHostToDevice));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypePitch2D;
    rd.res.pitch2D.devPtr = mem;
    rd.res.pitch2D.desc = cudaCreateChannelDesc<float>();
    rd.res.pitch2D.width = W;
    rd.res.pitch2D.height = H;
    rd.res.pitch2D.pitchInBytes = pitch;
    cudaTextureDesc td = tex_desc(cudaAddressModeClamp, cudaAddressModeClamp, true, false, cudaReadModeElementType);
    cudaTextureObject_t t;
    CK_FATAL(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    const int n = 40;
    float *d;
    CK_FATAL(cudaMalloc(&d, n * sizeof(float)));
    sample2d_float<<<1, 64>>>(t, d, n);
    std::vector<float> got(n);
    CK(cudaMemcpy(got.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++) {
        float want[4];
        host_sample(h, 0.3f + 0.61f * i, 0.7f + 0.23f * i, want);
        if (!near(got[i], want[0], false)) {
            EXPECT(false, "pitched sample %d: got %.9g, expected %.9g", i, got[i], want[0]);
            break;
        }
    }
    CK(cudaDestroyTextureObject(t));
    CK(cudaFree(d));
    CK(cudaFree(mem));
}

// a 3D array filled by cudaMemcpy3D, sampled at texel centres and between texels
static void volume()
{
    const int w = 5, h = 4, d = 3, n = w * h * d;
    std::vector<float> v(n);
    for (int i = 0; i < n; i++)
        v[i] = (float)((i * 13) % 17) - 4.0f;
    cudaChannelFormatDesc cf = cudaCreateChannelDesc<float>();
    cudaArray_t arr;
    CK_FATAL(cudaMalloc3DArray(&arr, &cf, make_cudaExtent(w, h, d)));
    cudaMemcpy3DParms p;
    std::memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr(v.data(), w * sizeof(float), w, h);
    p.dstArray = arr;
    p.extent = make_cudaExtent(w, h, d);
    p.kind = cudaMemcpyHostToDevice;
    CK(cudaMemcpy3D(&p));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = arr;
    cudaTextureDesc td = tex_desc(cudaAddressModeClamp, cudaAddressModeClamp, true, false, cudaReadModeElementType);
    td.addressMode[2] = cudaAddressModeClamp;
    cudaTextureObject_t t;
    CK_FATAL(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    float *pt, *mid;
    CK_FATAL(cudaMalloc(&pt, n * sizeof(float)));
    CK_FATAL(cudaMalloc(&mid, n * sizeof(float)));
    sample3d<<<1, 64>>>(t, pt, mid, w, h, d);
    std::vector<float> gp(n), gm(n);
    CK(cudaMemcpy(gp.data(), pt, n * sizeof(float), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(gm.data(), mid, n * sizeof(float), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++) {
        int x = i % w, y = (i / w) % h, z = i / (w * h);
        double avg = 0;
        for (int k = 0; k < 8; k++) {
            int xx = std::min(x + (k & 1), w - 1), yy = std::min(y + ((k >> 1) & 1), h - 1), zz = std::min(z + (k >> 2), d - 1);
            avg += v[(zz * h + yy) * w + xx] / 8.0;
        }
        if (gp[i] != v[i] || std::fabs(gm[i] - avg) > 1e-5) {
            EXPECT(false, "tex3D at (%d, %d, %d): centre %g (expected %g), between %g (expected %g)", x, y, z, gp[i], v[i],
                   gm[i], avg);
            break;
        }
    }
    // and back through a 3D copy to the host
    std::vector<float> back(n);
    std::memset(&p, 0, sizeof p);
    p.srcArray = arr;
    p.dstPtr = make_cudaPitchedPtr(back.data(), w * sizeof(float), w, h);
    p.extent = make_cudaExtent(w, h, d);
    p.kind = cudaMemcpyDeviceToHost;
    CK(cudaMemcpy3D(&p));
    EXPECT(std::memcmp(back.data(), v.data(), n * sizeof(float)) == 0, "3D array read back");
    CK(cudaDestroyTextureObject(t));
    CK(cudaFree(pt));
    CK(cudaFree(mid));
    CK(cudaFreeArray(arr));
}

// layered 2D and 1D textures, their layers filled by 3D copies
static void layers()
{
    const int w = 6, h = 3, L = 4, n = w * h * L;
    std::vector<float> v(n), v1(w * L);
    for (int i = 0; i < n; i++)
        v[i] = (float)(i * 7 % 29) + 0.5f;
    for (int i = 0; i < w * L; i++)
        v1[i] = -(float)i;
    cudaChannelFormatDesc cf = cudaCreateChannelDesc<float>();
    cudaArray_t a2, a1;
    CK_FATAL(cudaMalloc3DArray(&a2, &cf, make_cudaExtent(w, h, L), cudaArrayLayered));
    CK_FATAL(cudaMalloc3DArray(&a1, &cf, make_cudaExtent(w, 0, L), cudaArrayLayered));
    cudaMemcpy3DParms p;
    std::memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr(v.data(), w * sizeof(float), w, h);
    p.dstArray = a2;
    p.extent = make_cudaExtent(w, h, L);
    p.kind = cudaMemcpyHostToDevice;
    CK(cudaMemcpy3D(&p));
    p.srcPtr = make_cudaPitchedPtr(v1.data(), w * sizeof(float), w, 1);
    p.dstArray = a1;
    p.extent = make_cudaExtent(w, 1, L);
    CK(cudaMemcpy3D(&p));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    cudaTextureDesc td = tex_desc(cudaAddressModeClamp, cudaAddressModeClamp, false, false, cudaReadModeElementType);
    cudaTextureObject_t t2, t1;
    rd.res.array.array = a2;
    CK_FATAL(cudaCreateTextureObject(&t2, &rd, &td, nullptr));
    rd.res.array.array = a1;
    CK_FATAL(cudaCreateTextureObject(&t1, &rd, &td, nullptr));
    const int m = w * h * (L + 2);
    float *o2, *o1;
    CK_FATAL(cudaMalloc(&o2, m * sizeof(float)));
    CK_FATAL(cudaMalloc(&o1, m * sizeof(float)));
    sample_layers<<<(m + 127) / 128, 128>>>(t2, t1, o2, o1, w, h, L);
    std::vector<float> g2(m), g1(m);
    CK(cudaMemcpy(g2.data(), o2, m * sizeof(float), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(g1.data(), o1, m * sizeof(float), cudaMemcpyDeviceToHost));
    for (int i = 0; i < m; i++) {
        int x = i % w, y = (i / w) % h, l = i / (w * h) - 1, cl = l < 0 ? 0 : l >= L ? L - 1 : l;
        if (g2[i] != v[(cl * h + y) * w + x] || g1[i] != v1[cl * w + x]) {
            EXPECT(false, "layer %d (%d, %d): 2D %g (expected %g), 1D %g (expected %g)", l, x, y, g2[i],
                   v[(cl * h + y) * w + x], g1[i], v1[cl * w + x]);
            break;
        }
    }
    CK(cudaDestroyTextureObject(t2));
    CK(cudaDestroyTextureObject(t1));
    CK(cudaFree(o2));
    CK(cudaFree(o1));
    CK(cudaFreeArray(a2));
    CK(cudaFreeArray(a1));
}

// tex2Dgather: one channel of the 2x2 texels bilinear filtering would blend
static void gathered()
{
    cudaChannelFormatDesc cf = cudaCreateChannelDesc<float4>();
    cudaArray_t arr;
    CK_FATAL(cudaMallocArray(&arr, &cf, W, H, cudaArrayTextureGather));
    std::vector<float> v(W * H * 4);
    for (int i = 0; i < W * H * 4; i++)
        v[i] = (float)i;
    CK(cudaMemcpy2DToArray(arr, 0, 0, v.data(), W * 16, W * 16, H, cudaMemcpyHostToDevice));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = arr;
    cudaTextureDesc td = tex_desc(cudaAddressModeClamp, cudaAddressModeBorder, false, false, cudaReadModeElementType);
    cudaTextureObject_t t;
    CK_FATAL(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    const int n = 23 * 26;
    float4 *d;
    CK_FATAL(cudaMalloc(&d, n * sizeof(float4)));
    gather4<<<(n + 127) / 128, 128>>>(t, d, n);
    std::vector<float4> got(n);
    CK(cudaMemcpy(got.data(), d, n * sizeof(float4), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++) {
        float x = 0.3f + 0.77f * (i % 23) - 1.0f, y = 0.45f * (i / 23) - 0.5f;
        long x0 = (long)std::floor(x - 0.5f), y0 = (long)std::floor(y - 0.5f);
        const long dx[4] = {0, 1, 1, 0}, dy[4] = {1, 1, 0, 0}; // (i, j+1), (i+1, j+1), (i+1, j), (i, j)
        float want[4];
        for (int k = 0; k < 4; k++) {
            long xi = x0 + dx[k], yi = y0 + dy[k];
            xi = xi < 0 ? 0 : xi >= W ? W - 1 : xi; // clamp in x
            want[k] = yi < 0 || yi >= H ? 8.0f /* border channel 2 */ : v[(yi * W + xi) * 4 + 2];
        }
        const float g[4] = {got[i].x, got[i].y, got[i].z, got[i].w};
        if (std::memcmp(g, want, sizeof g) != 0) {
            EXPECT(false, "gather %d at (%g, %g): got (%g, %g, %g, %g), expected (%g, %g, %g, %g)", i, x, y, g[0], g[1],
                   g[2], g[3], want[0], want[1], want[2], want[3]);
            break;
        }
    }
    CK(cudaDestroyTextureObject(t));
    CK(cudaFree(d));
    CK(cudaFreeArray(arr));
}

static void surfaces()
{
    cudaChannelFormatDesc cf = cudaCreateChannelDesc<float4>();
    cudaArray_t arr, plain;
    CK_FATAL(cudaMallocArray(&arr, &cf, W, H, cudaArraySurfaceLoadStore));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = arr;
    cudaSurfaceObject_t s;
    CK_FATAL(cudaCreateSurfaceObject(&s, &rd));
    surf_write<<<dim3(1, H), 32>>>(s, W, H);
    std::vector<float4> back(W * H);
    CK(cudaMemcpy2DFromArray(back.data(), W * 16, arr, 0, 0, W * 16, H, cudaMemcpyDeviceToHost));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float4 v = back[y * W + x];
            if (v.x != x || v.y != y || v.z != x * y || v.w != -1.0f) {
                EXPECT(false, "surf2Dwrite (%d, %d): got (%g, %g, %g, %g)", x, y, v.x, v.y, v.z, v.w);
                x = W, y = H;
            }
        }
    const int n = (W + 4) * H;
    float4 *dc, *dz;
    CK_FATAL(cudaMalloc(&dc, n * sizeof(float4)));
    CK_FATAL(cudaMalloc(&dz, n * sizeof(float4)));
    surf_read<<<dim3(1, H), 32>>>(s, dc, dz, W, H);
    std::vector<float4> c(n), z(n);
    CK(cudaMemcpy(c.data(), dc, n * sizeof(float4), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(z.data(), dz, n * sizeof(float4), cudaMemcpyDeviceToHost));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W + 4; x++) {
            int sx = x - 2, cx = sx < 0 ? 0 : sx >= W ? W - 1 : sx;
            bool in = sx >= 0 && sx < W;
            float4 gc = c[y * (W + 4) + x], gz = z[y * (W + 4) + x];
            if (gc.x != cx || gc.y != y || (in ? gz.x != sx || gz.w != -1.0f : gz.x != 0 || gz.w != 0)) {
                EXPECT(false, "surf2Dread at %d, %d: clamped %g, zero %g", sx, y, gc.x, gz.x);
                x = W + 4, y = H;
            }
        }
    CK(cudaDestroySurfaceObject(s));
    CK(cudaFree(dc));
    CK(cudaFree(dz));

    // bytes of a 1D surface, read and written in place
    cudaChannelFormatDesc bf = cudaCreateChannelDesc<unsigned char>();
    cudaArray_t bytes;
    CK_FATAL(cudaMallocArray(&bytes, &bf, 300, 0, cudaArraySurfaceLoadStore));
    std::vector<unsigned char> hb(300), out(300);
    for (int i = 0; i < 300; i++)
        hb[i] = (unsigned char)(i * 7);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* the 1D copies programs still call */
    CK(cudaMemcpyToArray(bytes, 0, 0, hb.data(), 300, cudaMemcpyHostToDevice));
    rd.res.array.array = bytes;
    CK_FATAL(cudaCreateSurfaceObject(&s, &rd));
    surf_bytes<<<3, 128>>>(s, 300);
    CK(cudaMemcpyFromArray(out.data(), bytes, 0, 0, 300, cudaMemcpyDeviceToHost));
#pragma GCC diagnostic pop
    for (int i = 0; i < 300; i++)
        if (out[i] != (unsigned char)(hb[i] * 3 + 1)) {
            EXPECT(false, "surf1D byte %d: got %u, expected %u", i, out[i], (unsigned char)(hb[i] * 3 + 1));
            break;
        }
    CK(cudaDestroySurfaceObject(s));

    // an array not made for surface loads and stores
    CK_FATAL(cudaMallocArray(&plain, &cf, W, H));
    rd.res.array.array = plain;
    EXPECT(cudaCreateSurfaceObject(&s, &rd) != cudaSuccess, "a surface over an array without cudaArraySurfaceLoadStore");
    cudaGetLastError();
    CK(cudaFreeArray(plain));
    CK(cudaFreeArray(bytes));
    CK(cudaFreeArray(arr));
}

int main()
{
    float4_array();
    uchar4_normalized();
    uint2_integers();
    linear_fetch();
    pitched();
    volume();
    layers();
    gathered();
    surfaces();
    CK(cudaDeviceSynchronize());
    return ct_done("texture");
}
