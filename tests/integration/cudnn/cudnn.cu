// cudnn.cu — NVIDIA's cuDNN 9 (the nvidia-cudnn-cu13 wheel), run unmodified
// through rgpu on the CPU device.
//
//     cudnn CASE
//
// CASE is one of: create (cudnnCreate, version, stream), activation
// (cudnnActivationForward: ReLU and sigmoid on an NCHW f32 tensor), conv
// (cudnnConvolutionForward: a 3x3 f32 convolution with padding and stride,
// the algorithm from cudnnGetConvolutionForwardAlgorithm_v7). Results are
// compared with a host reference in double precision.
#include "../cudart/cudart_check.h"

#include <cudnn.h>

#include <cmath>
#include <cstring>
#include <vector>

#define DN(call)                                                                                            \
    do {                                                                                                    \
        cudnnStatus_t dn_r_ = (call);                                                                       \
        if (dn_r_ != CUDNN_STATUS_SUCCESS) {                                                                \
            std::fprintf(stderr, "FAIL %s:%d: %s: %s (%d)\n", __FILE__, __LINE__, #call,                     \
                         cudnnGetErrorString(dn_r_), (int)dn_r_);                                          \
            ct_failures++;                                                                                  \
            return;                                                                                         \
        }                                                                                                   \
    } while (0)

static unsigned dn_seed = 777;
static float dn_rand() // multiples of 1/64 in [-2, 2): exact in f32 products and short sums
{
    dn_seed = dn_seed * 1103515245u + 12345u;
    return (float)((int)((dn_seed >> 16) & 0xff) - 128) / 64.0f;
}

static float *dn_upload(const std::vector<float> &v)
{
    float *d = nullptr;
    if (cudaMalloc(&d, v.size() * sizeof(float)) != cudaSuccess)
        return nullptr;
    if (cudaMemcpy(d, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess)
        return nullptr;
    return d;
}

static void dn_compare(const char *what, const std::vector<float> &got, const std::vector<double> &want, double tol)
{
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < want.size(); i++) {
        double d = std::fabs((double)got[i] - want[i]);
        if (!(d <= tol * (1.0 + std::fabs(want[i])))) {
            if (bad < 3)
                std::fprintf(stderr, "FAIL %s: element %zu = %.9g, expected %.9g\n", what, i, got[i], want[i]);
            bad++;
        }
        if (d > worst)
            worst = d;
    }
    if (bad) {
        std::fprintf(stderr, "FAIL %s: %d of %zu elements wrong\n", what, bad, want.size());
        ct_failures++;
    } else {
        std::printf("ok   %s (%zu elements, max abs error %.3g)\n", what, want.size(), worst);
    }
}

static void dn_activation(cudnnHandle_t h)
{
    const int n = 2, c = 3, hh = 5, w = 7, count = n * c * hh * w;
    std::vector<float> x(count);
    for (auto &v : x)
        v = dn_rand();
    float *dx = dn_upload(x), *dy = dn_upload(std::vector<float>(count, 42.0f));
    if (!dx || !dy) {
        std::fprintf(stderr, "FAIL: device allocation/upload\n");
        ct_failures++;
        return;
    }
    cudnnTensorDescriptor_t td;
    DN(cudnnCreateTensorDescriptor(&td));
    DN(cudnnSetTensor4dDescriptor(td, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, hh, w));
    cudnnActivationDescriptor_t ad;
    DN(cudnnCreateActivationDescriptor(&ad));
    const struct {
        cudnnActivationMode_t mode;
        const char *name;
        double tol;
    } modes[] = {{CUDNN_ACTIVATION_RELU, "relu", 0}, {CUDNN_ACTIVATION_SIGMOID, "sigmoid", 1e-6}};
    for (const auto &m : modes) {
        DN(cudnnSetActivationDescriptor(ad, m.mode, CUDNN_NOT_PROPAGATE_NAN, 0.0));
        // y = alpha * act(x) + beta * y, with y preset to 42
        const float alpha = 1.0f, beta = 0.5f;
        CK(cudaMemcpy(dy, std::vector<float>(count, 42.0f).data(), count * sizeof(float), cudaMemcpyHostToDevice));
        DN(cudnnActivationForward(h, ad, &alpha, td, dx, &beta, td, dy));
        CK(cudaDeviceSynchronize());
        std::vector<float> got(count);
        CK(cudaMemcpy(got.data(), dy, count * sizeof(float), cudaMemcpyDeviceToHost));
        std::vector<double> want(count);
        for (int i = 0; i < count; i++) {
            double a = m.mode == CUDNN_ACTIVATION_RELU ? (x[i] > 0 ? x[i] : 0.0) : 1.0 / (1.0 + std::exp(-(double)x[i]));
            want[i] = a + 0.5 * 42.0;
        }
        char what[64];
        std::snprintf(what, sizeof what, "cudnnActivationForward %s", m.name);
        dn_compare(what, got, want, m.tol);
    }
    cudnnDestroyActivationDescriptor(ad);
    cudnnDestroyTensorDescriptor(td);
    cudaFree(dx);
    cudaFree(dy);
}

static void dn_conv(cudnnHandle_t h)
{
    const int n = 2, c = 3, hh = 9, w = 8, k = 4, r = 3, s = 3, pad = 1, stride = 2;
    std::vector<float> x(n * c * hh * w), f(k * c * r * s);
    for (auto &v : x)
        v = dn_rand();
    for (auto &v : f)
        v = dn_rand();
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t fd;
    cudnnConvolutionDescriptor_t cd;
    DN(cudnnCreateTensorDescriptor(&xd));
    DN(cudnnCreateTensorDescriptor(&yd));
    DN(cudnnCreateFilterDescriptor(&fd));
    DN(cudnnCreateConvolutionDescriptor(&cd));
    DN(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, hh, w));
    DN(cudnnSetFilter4dDescriptor(fd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k, c, r, s));
    DN(cudnnSetConvolution2dDescriptor(cd, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                       CUDNN_DATA_FLOAT));
    int on, oc, oh, ow;
    DN(cudnnGetConvolution2dForwardOutputDim(cd, xd, fd, &on, &oc, &oh, &ow));
    const int eh = (hh + 2 * pad - r) / stride + 1, ew = (w + 2 * pad - s) / stride + 1;
    EXPECT(on == n && oc == k && oh == eh && ow == ew, "output dims %d %d %d %d, expected %d %d %d %d", on, oc, oh, ow,
           n, k, eh, ew);
    DN(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, k, eh, ew));

    cudnnConvolutionFwdAlgoPerf_t perf[8];
    int found = 0;
    DN(cudnnGetConvolutionForwardAlgorithm_v7(h, xd, fd, cd, yd, 8, &found, perf));
    EXPECT(found > 0, "no forward algorithm");
    float *dx = dn_upload(x), *df = dn_upload(f), *dy = dn_upload(std::vector<float>((size_t)n * k * eh * ew, 0.0f));
    if (!dx || !df || !dy || found <= 0) {
        ct_failures++;
        return;
    }
    // the reference
    std::vector<double> want((size_t)n * k * eh * ew, 0.0);
    for (int ni = 0; ni < n; ni++)
        for (int ki = 0; ki < k; ki++)
            for (int oy = 0; oy < eh; oy++)
                for (int ox = 0; ox < ew; ox++) {
                    double acc = 0;
                    for (int ci = 0; ci < c; ci++)
                        for (int ry = 0; ry < r; ry++)
                            for (int sx = 0; sx < s; sx++) {
                                int iy = oy * stride - pad + ry, ix = ox * stride - pad + sx;
                                if (iy < 0 || iy >= hh || ix < 0 || ix >= w)
                                    continue;
                                acc += (double)x[((ni * c + ci) * hh + iy) * w + ix] *
                                       (double)f[((ki * c + ci) * r + ry) * s + sx];
                            }
                    want[((ni * k + ki) * eh + oy) * ew + ox] = acc;
                }
    // every algorithm the heuristic offers that fits in 64 MiB of workspace
    int ran = 0;
    for (int i = 0; i < found; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > (64u << 20))
            continue;
        void *ws = nullptr;
        if (perf[i].memory)
            CK(cudaMalloc(&ws, perf[i].memory));
        CK(cudaMemset(dy, 0xff, want.size() * sizeof(float)));
        const float alpha = 1.0f, beta = 0.0f;
        cudnnStatus_t st = cudnnConvolutionForward(h, &alpha, xd, dx, fd, df, cd, perf[i].algo, ws, perf[i].memory,
                                                   &beta, yd, dy);
        char what[96];
        std::snprintf(what, sizeof what, "cudnnConvolutionForward algo %d (workspace %zu)", (int)perf[i].algo,
                      perf[i].memory);
        if (st != CUDNN_STATUS_SUCCESS) {
            std::fprintf(stderr, "FAIL %s: %s\n", what, cudnnGetErrorString(st));
            ct_failures++;
        } else {
            CK(cudaDeviceSynchronize());
            std::vector<float> got(want.size());
            CK(cudaMemcpy(got.data(), dy, got.size() * sizeof(float), cudaMemcpyDeviceToHost));
            // tf32 or Winograd/FFT algorithms round: a loose tolerance
            dn_compare(what, got, want, perf[i].mathType == CUDNN_TENSOR_OP_MATH ? 1e-2 : 1e-3);
            ran++;
        }
        cudaFree(ws);
    }
    EXPECT(ran > 0, "no convolution algorithm ran");
    cudnnDestroyConvolutionDescriptor(cd);
    cudnnDestroyFilterDescriptor(fd);
    cudnnDestroyTensorDescriptor(xd);
    cudnnDestroyTensorDescriptor(yd);
    cudaFree(dx);
    cudaFree(df);
    cudaFree(dy);
}

static void dn_run(const char *which)
{
    cudnnHandle_t h = nullptr;
    DN(cudnnCreate(&h));
    std::printf("cuDNN version %zu (cudart %zu)\n", cudnnGetVersion(), cudnnGetCudartVersion());
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    DN(cudnnSetStream(h, st));
    cudaStream_t got = nullptr;
    DN(cudnnGetStream(h, &got));
    EXPECT(got == st, "cudnnGetStream returned another stream");
    if (!std::strcmp(which, "create")) {
    } else if (!std::strcmp(which, "activation")) {
        dn_activation(h);
    } else if (!std::strcmp(which, "conv")) {
        dn_conv(h);
    } else {
        std::fprintf(stderr, "FAIL: unknown case %s\n", which);
        ct_failures++;
    }
    DN(cudnnDestroy(h));
    CK(cudaStreamDestroy(st));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s create|activation|conv\n", argv[0]);
        return 2;
    }
    dn_run(argv[1]);
    return ct_done("cudnn");
}
