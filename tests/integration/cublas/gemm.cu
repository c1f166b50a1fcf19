// gemm.cu — NVIDIA's cuBLAS 13 (libcublas.so.13 / libcublasLt.so.13), run
// unmodified through rgpu on the CPU device.
//
//     gemm CASE
//
// CASE is one of: create, sgemm, dgemm, gemmex_f16, gemmex_bf16,
// strided_batched, batched (GemmBatchedEx: arrays of device pointers),
// lt_matmul (cublasLtMatmul with a heuristic's algorithm). Each case runs cublasCreate, then its GEMMs on small
// matrices (64x48x32 and 33x17x9 with odd leading dimensions, transposes,
// alpha/beta not 1/0), and compares each result with a host reference
// computed in double precision, with a tolerance suited to the type.
//
// Built by nvcc against the toolkit's cublas and cudart (static or shared);
// neither links a driver: cudart dlopen()s rgpu's libcuda.so.1.
#include "../cudart/cudart_check.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstring>
#include <vector>

static const char *cb_status_name(cublasStatus_t s)
{
    return cublasGetStatusName(s);
}

#define CB(call)                                                                                            \
    do {                                                                                                    \
        cublasStatus_t cb_r_ = (call);                                                                      \
        if (cb_r_ != CUBLAS_STATUS_SUCCESS) {                                                               \
            std::fprintf(stderr, "FAIL %s:%d: %s: %s (%d)\n", __FILE__, __LINE__, #call,                     \
                         cb_status_name(cb_r_), (int)cb_r_);                                                \
            ct_failures++;                                                                                  \
            return;                                                                                         \
        }                                                                                                   \
    } while (0)

#define CKR(call)                                                                                           \
    do {                                                                                                    \
        cudaError_t ct_r_ = (call);                                                                         \
        if (ct_r_ != cudaSuccess) {                                                                         \
            ct_report(__FILE__, __LINE__, #call, ct_r_, cudaSuccess);                                       \
            return;                                                                                         \
        }                                                                                                   \
    } while (0)

// deterministic values in [-1, 1) exactly representable in bf16/f16
static unsigned cb_seed = 12345;
static double cb_rand()
{
    cb_seed = cb_seed * 1103515245u + 12345u;
    int v = (int)((cb_seed >> 16) & 0xff) - 128; // [-128, 127]
    return v / 128.0;
}

// element (r, c) of op(X), X column-major with leading dimension ld
static double cb_at(const std::vector<double> &x, int ld, bool trans, int r, int c)
{
    return trans ? x[(size_t)r * ld + c] : x[(size_t)c * ld + r];
}

// C = alpha op(A) op(B) + beta C, all double
static void cb_ref(bool ta, bool tb, int m, int n, int k, double alpha, const std::vector<double> &a, int lda,
                   const std::vector<double> &b, int ldb, double beta, std::vector<double> &c, int ldc)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += cb_at(a, lda, ta, i, p) * cb_at(b, ldb, tb, p, j);
            c[(size_t)j * ldc + i] = alpha * s + beta * c[(size_t)j * ldc + i];
        }
}

struct cb_shape {
    int m, n, k;
    cublasOperation_t ta, tb;
    int lda, ldb, ldc;
};

// 64x48x32 (no transposes, tight), 33x17x9 with odd leading dimensions and
// both transposes, and a mixed case
static const cb_shape cb_shapes[] = {
    {64, 48, 32, CUBLAS_OP_N, CUBLAS_OP_N, 64, 32, 64},
    {33, 17, 9, CUBLAS_OP_T, CUBLAS_OP_T, 11, 19, 35},
    {33, 17, 9, CUBLAS_OP_N, CUBLAS_OP_T, 37, 21, 41},
};

static void cb_dims(const cb_shape &s, int *ar, int *ac, int *br, int *bc)
{
    *ar = s.ta == CUBLAS_OP_N ? s.m : s.k; // rows stored of A
    *ac = s.ta == CUBLAS_OP_N ? s.k : s.m;
    *br = s.tb == CUBLAS_OP_N ? s.k : s.n;
    *bc = s.tb == CUBLAS_OP_N ? s.n : s.k;
}

// fill a column-major ld x cols host matrix (padding rows get values too)
static std::vector<double> cb_fill(int ld, int cols)
{
    std::vector<double> v((size_t)ld * cols);
    for (auto &x : v)
        x = cb_rand();
    return v;
}

// compare the m x n part of got (ld ldc) with want; tolerance rel*(|want|+scale)
static void cb_compare(const char *what, const std::vector<double> &got, const std::vector<double> &want, int m,
                       int n, int ldc, double tol)
{
    double worst = 0;
    int bad = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            size_t ix = (size_t)j * ldc + i;
            double d = std::fabs(got[ix] - want[ix]);
            if (!(d <= tol * (1.0 + std::fabs(want[ix])))) {
                if (bad < 3)
                    std::fprintf(stderr, "FAIL %s: C(%d,%d) = %.9g, expected %.9g\n", what, i, j, got[ix], want[ix]);
                bad++;
            }
            if (d > worst)
                worst = d;
        }
    // the padding rows of C must be untouched
    for (int j = 0; j < n; j++)
        for (int i = m; i < ldc; i++) {
            size_t ix = (size_t)j * ldc + i;
            if (got[ix] != want[ix]) {
                if (bad < 3)
                    std::fprintf(stderr, "FAIL %s: padding C(%d,%d) changed: %.9g, was %.9g\n", what, i, j, got[ix],
                                 want[ix]);
                bad++;
            }
        }
    if (bad) {
        std::fprintf(stderr, "FAIL %s: %d element(s) wrong (max abs error %.3g)\n", what, bad, worst);
        ct_failures++;
    } else {
        std::printf("ok   %s (max abs error %.3g)\n", what, worst);
    }
}

template <typename T> static std::vector<T> cb_conv(const std::vector<double> &v)
{
    std::vector<T> r(v.size());
    for (size_t i = 0; i < v.size(); i++)
        r[i] = (T)v[i];
    return r;
}

template <typename T> static T *cb_upload(const std::vector<T> &v)
{
    T *d = nullptr;
    if (cudaMalloc(&d, v.size() * sizeof(T)) != cudaSuccess)
        return nullptr;
    if (cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice) != cudaSuccess) {
        cudaFree(d);
        return nullptr;
    }
    return d;
}

template <typename T> static std::vector<double> cb_download(const T *d, size_t n)
{
    std::vector<T> h(n);
    std::vector<double> r(n, NAN);
    if (cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost) != cudaSuccess) {
        std::fprintf(stderr, "FAIL: cudaMemcpy device to host\n");
        ct_failures++;
        return r;
    }
    for (size_t i = 0; i < n; i++)
        r[i] = (double)h[i];
    return r;
}

static const char *cb_op(cublasOperation_t t)
{
    return t == CUBLAS_OP_N ? "N" : "T";
}

// sgemm / dgemm
template <typename T> static void cb_gemm_real(cublasHandle_t h)
{
    const bool dbl = sizeof(T) == 8;
    for (const cb_shape &s : cb_shapes) {
        int ar, ac, br, bc;
        cb_dims(s, &ar, &ac, &br, &bc);
        (void)ar;
        (void)br;
        std::vector<double> a = cb_fill(s.lda, ac), b = cb_fill(s.ldb, bc), c = cb_fill(s.ldc, s.n);
        const double alpha = 1.5, beta = -0.75;
        T *da = cb_upload(cb_conv<T>(a)), *db = cb_upload(cb_conv<T>(b)), *dc = cb_upload(cb_conv<T>(c));
        if (!da || !db || !dc) {
            std::fprintf(stderr, "FAIL: device allocation/upload\n");
            ct_failures++;
            return;
        }
        std::vector<double> want = c;
        cb_ref(s.ta == CUBLAS_OP_T, s.tb == CUBLAS_OP_T, s.m, s.n, s.k, alpha, a, s.lda, b, s.ldb, beta, want, s.ldc);
        char what[128];
        std::snprintf(what, sizeof what, "%s %dx%dx%d %s%s ld %d/%d/%d", dbl ? "cublasDgemm" : "cublasSgemm", s.m,
                      s.n, s.k, cb_op(s.ta), cb_op(s.tb), s.lda, s.ldb, s.ldc);
        if (dbl) {
            const double al = alpha, be = beta;
            CB(cublasDgemm(h, s.ta, s.tb, s.m, s.n, s.k, &al, (const double *)da, s.lda, (const double *)db, s.ldb,
                           &be, (double *)dc, s.ldc));
        } else {
            const float al = (float)alpha, be = (float)beta;
            CB(cublasSgemm(h, s.ta, s.tb, s.m, s.n, s.k, &al, (const float *)da, s.lda, (const float *)db, s.ldb,
                           &be, (float *)dc, s.ldc));
        }
        CKR(cudaDeviceSynchronize());
        std::vector<double> got = cb_download(dc, c.size());
        // inputs are exact in T; f32 accumulates k products of magnitude <= 1
        cb_compare(what, got, want, s.m, s.n, s.ldc, dbl ? 1e-12 : 1e-5);
        cudaFree(da);
        cudaFree(db);
        cudaFree(dc);
    }
}

// how a batch of GEMMs is handed over
enum cb_batching { CB_SINGLE, CB_STRIDED, CB_POINTERS };

// GemmEx / GemmStridedBatchedEx / GemmBatchedEx with 16-bit inputs (f16 or
// bf16), f32 output and f32 compute
template <typename T>
static void cb_gemm_ex(cublasHandle_t h, cudaDataType_t type, const char *tname, int batch, cb_batching how)
{
    for (const cb_shape &s : cb_shapes) {
        int ar, ac, br, bc;
        cb_dims(s, &ar, &ac, &br, &bc);
        (void)ar;
        (void)br;
        // batches live one after another, with a stride larger than a matrix:
        // odd for the strided call (cuBLAS sees the stride and picks a kernel
        // for it), 16-byte multiples for pointer arrays, whose pointers cuBLAS
        // cannot see and takes as aligned (on a GPU misaligned ones give wrong
        // products, not an error)
        auto stride = [how](long long matrix, int odd) {
            return how == CB_POINTERS ? (matrix + 8) / 8 * 8 : matrix + odd;
        };
        long long sa = stride((long long)s.lda * ac, 3), sb = stride((long long)s.ldb * bc, 5),
                  sc = stride((long long)s.ldc * s.n, 7);
        std::vector<double> a = cb_fill((int)sa, batch), b = cb_fill((int)sb, batch), c = cb_fill((int)sc, batch);
        const float alpha = 1.5f, beta = -0.75f;
        // the reference sees exactly the 16-bit inputs
        std::vector<T> ha = cb_conv<T>(a), hb = cb_conv<T>(b);
        for (size_t i = 0; i < a.size(); i++)
            a[i] = (double)(float)ha[i];
        for (size_t i = 0; i < b.size(); i++)
            b[i] = (double)(float)hb[i];
        T *da = cb_upload(ha), *db = cb_upload(hb);
        float *dc = cb_upload(cb_conv<float>(c));
        if (!da || !db || !dc) {
            std::fprintf(stderr, "FAIL: device allocation/upload\n");
            ct_failures++;
            return;
        }
        std::vector<double> want = c;
        for (int bi = 0; bi < batch; bi++) {
            std::vector<double> ab(a.begin() + bi * sa, a.begin() + (bi + 1) * sa);
            std::vector<double> bb(b.begin() + bi * sb, b.begin() + (bi + 1) * sb);
            std::vector<double> cb(want.begin() + bi * sc, want.begin() + (bi + 1) * sc);
            cb_ref(s.ta == CUBLAS_OP_T, s.tb == CUBLAS_OP_T, s.m, s.n, s.k, alpha, ab, s.lda, bb, s.ldb, beta, cb,
                   s.ldc);
            std::copy(cb.begin(), cb.end(), want.begin() + bi * sc);
        }
        char what[160];
        if (how == CB_POINTERS) {
            // the pointer arrays name the batches in reverse order of their
            // storage, so a library that ignored them and assumed a stride
            // would compute the wrong products
            std::vector<const void *> pa(batch), pb(batch);
            std::vector<void *> pc(batch);
            for (int bi = 0; bi < batch; bi++) {
                int at = batch - 1 - bi;
                pa[bi] = da + at * sa;
                pb[bi] = db + at * sb;
                pc[bi] = dc + at * sc;
            }
            const void **dpa = cb_upload(pa);
            const void **dpb = cb_upload(pb);
            void **dpc = cb_upload(pc);
            if (!dpa || !dpb || !dpc) {
                std::fprintf(stderr, "FAIL: pointer array upload\n");
                ct_failures++;
                return;
            }
            std::snprintf(what, sizeof what, "cublasGemmBatchedEx %s->f32 x%d %dx%dx%d %s%s ld %d/%d/%d", tname, batch,
                          s.m, s.n, s.k, cb_op(s.ta), cb_op(s.tb), s.lda, s.ldb, s.ldc);
            CB(cublasGemmBatchedEx(h, s.ta, s.tb, s.m, s.n, s.k, &alpha, dpa, type, s.lda, dpb, type, s.ldb, &beta,
                                   dpc, CUDA_R_32F, s.ldc, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
            CKR(cudaDeviceSynchronize());
            cudaFree(dpa);
            cudaFree(dpb);
            cudaFree(dpc);
        } else if (how == CB_SINGLE) {
            std::snprintf(what, sizeof what, "cublasGemmEx %s->f32 %dx%dx%d %s%s ld %d/%d/%d", tname, s.m, s.n, s.k,
                          cb_op(s.ta), cb_op(s.tb), s.lda, s.ldb, s.ldc);
            CB(cublasGemmEx(h, s.ta, s.tb, s.m, s.n, s.k, &alpha, da, type, s.lda, db, type, s.ldb, &beta, dc,
                            CUDA_R_32F, s.ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        } else {
            std::snprintf(what, sizeof what, "cublasGemmStridedBatchedEx %s->f32 x%d %dx%dx%d %s%s ld %d/%d/%d", tname,
                          batch, s.m, s.n, s.k, cb_op(s.ta), cb_op(s.tb), s.lda, s.ldb, s.ldc);
            CB(cublasGemmStridedBatchedEx(h, s.ta, s.tb, s.m, s.n, s.k, &alpha, da, type, s.lda, sa, db, type, s.ldb,
                                          sb, &beta, dc, CUDA_R_32F, s.ldc, sc, batch, CUBLAS_COMPUTE_32F,
                                          CUBLAS_GEMM_DEFAULT));
        }
        CKR(cudaDeviceSynchronize());
        std::vector<double> got = cb_download(dc, c.size());
        // exact 16-bit inputs, products exact in f32, f32 accumulation
        for (int bi = 0; bi < batch; bi++) {
            std::vector<double> g(got.begin() + bi * sc, got.begin() + (bi + 1) * sc);
            std::vector<double> w(want.begin() + bi * sc, want.begin() + (bi + 1) * sc);
            char wb[192];
            std::snprintf(wb, sizeof wb, "%s [batch %d]", what, bi);
            cb_compare(how == CB_SINGLE ? what : wb, g, w, s.m, s.n, s.ldc, 1e-5);
        }
        cudaFree(da);
        cudaFree(db);
        cudaFree(dc);
    }
}

// cublasLtMatmul, f32: D = alpha op(A) op(B) + beta C with C and D distinct
// (D's padding is checked untouched), the algorithm from the heuristic
static void cb_lt_matmul()
{
    cublasLtHandle_t lt = nullptr;
    CB(cublasLtCreate(&lt));
    std::printf("cuBLASLt version %zu\n", cublasLtGetVersion());
    for (const cb_shape &s : cb_shapes) {
        int ar, ac, br, bc;
        cb_dims(s, &ar, &ac, &br, &bc);
        std::vector<double> a = cb_fill(s.lda, ac), b = cb_fill(s.ldb, bc), c = cb_fill(s.ldc, s.n),
                            d0 = cb_fill(s.ldc, s.n);
        const float alpha = 0.5f, beta = 2.0f;
        float *da = cb_upload(cb_conv<float>(a)), *db = cb_upload(cb_conv<float>(b)), *dc = cb_upload(cb_conv<float>(c)),
              *dd = cb_upload(cb_conv<float>(d0));
        if (!da || !db || !dc || !dd) {
            std::fprintf(stderr, "FAIL: device allocation/upload\n");
            ct_failures++;
            return;
        }
        std::vector<double> want = c;
        cb_ref(s.ta == CUBLAS_OP_T, s.tb == CUBLAS_OP_T, s.m, s.n, s.k, alpha, a, s.lda, b, s.ldb, beta, want, s.ldc);
        for (int j = 0; j < s.n; j++) // D's padding rows keep their own values
            for (int i = s.m; i < s.ldc; i++)
                want[(size_t)j * s.ldc + i] = (double)(float)d0[(size_t)j * s.ldc + i];

        cublasLtMatmulDesc_t op = nullptr;
        cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
        cublasLtMatmulPreference_t pref = nullptr;
        CB(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
        CB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &s.ta, sizeof s.ta));
        CB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &s.tb, sizeof s.tb));
        CB(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, ar, ac, s.lda));
        CB(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, br, bc, s.ldb));
        CB(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, s.m, s.n, s.ldc));
        CB(cublasLtMatmulPreferenceCreate(&pref));
        size_t ws_size = 1 << 20;
        void *ws = nullptr;
        CKR(cudaMalloc(&ws, ws_size));
        CB(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_size,
                                                sizeof ws_size));
        cublasLtMatmulHeuristicResult_t heur = {};
        int found = 0;
        CB(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1, &heur, &found));
        if (found < 1) {
            std::fprintf(stderr, "FAIL: cublasLtMatmulAlgoGetHeuristic found no algorithm\n");
            ct_failures++;
            return;
        }
        CB(cublasLtMatmul(lt, op, &alpha, da, la, db, lb, &beta, dc, lc, dd, lc, &heur.algo, ws, ws_size, 0));
        CKR(cudaDeviceSynchronize());
        char what[128];
        std::snprintf(what, sizeof what, "cublasLtMatmul f32 %dx%dx%d %s%s ld %d/%d/%d", s.m, s.n, s.k, cb_op(s.ta),
                      cb_op(s.tb), s.lda, s.ldb, s.ldc);
        cb_compare(what, cb_download(dd, d0.size()), want, s.m, s.n, s.ldc, 1e-5);
        // C is an input only
        std::vector<double> c_after = cb_download(dc, c.size()), c_want(c.size());
        for (size_t i = 0; i < c.size(); i++)
            c_want[i] = (double)(float)c[i];
        if (c_after != c_want) {
            std::fprintf(stderr, "FAIL %s: C changed\n", what);
            ct_failures++;
        }
        cublasLtMatmulPreferenceDestroy(pref);
        cublasLtMatrixLayoutDestroy(la);
        cublasLtMatrixLayoutDestroy(lb);
        cublasLtMatrixLayoutDestroy(lc);
        cublasLtMatmulDescDestroy(op);
        cudaFree(ws);
        cudaFree(da);
        cudaFree(db);
        cudaFree(dc);
        cudaFree(dd);
    }
    CB(cublasLtDestroy(lt));
}

static void cb_run(const char *which)
{
    cublasHandle_t h = nullptr;
    CB(cublasCreate(&h));
    int ver = 0;
    CB(cublasGetVersion(h, &ver));
    std::printf("cuBLAS version %d\n", ver);
    if (!std::strcmp(which, "create")) {
        // nothing more
    } else if (!std::strcmp(which, "sgemm")) {
        cb_gemm_real<float>(h);
    } else if (!std::strcmp(which, "dgemm")) {
        cb_gemm_real<double>(h);
    } else if (!std::strcmp(which, "gemmex_f16")) {
        cb_gemm_ex<__half>(h, CUDA_R_16F, "f16", 1, CB_SINGLE);
    } else if (!std::strcmp(which, "gemmex_bf16")) {
        cb_gemm_ex<__nv_bfloat16>(h, CUDA_R_16BF, "bf16", 1, CB_SINGLE);
    } else if (!std::strcmp(which, "strided_batched")) {
        cb_gemm_ex<__half>(h, CUDA_R_16F, "f16", 3, CB_STRIDED);
        cb_gemm_ex<__nv_bfloat16>(h, CUDA_R_16BF, "bf16", 2, CB_STRIDED);
    } else if (!std::strcmp(which, "batched")) {
        cb_gemm_ex<__half>(h, CUDA_R_16F, "f16", 3, CB_POINTERS);
        cb_gemm_ex<__nv_bfloat16>(h, CUDA_R_16BF, "bf16", 2, CB_POINTERS);
    } else if (!std::strcmp(which, "lt_matmul")) {
        cb_lt_matmul();
    } else {
        std::fprintf(stderr, "FAIL: unknown case %s\n", which);
        ct_failures++;
    }
    CB(cublasDestroy(h));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s create|sgemm|dgemm|gemmex_f16|gemmex_bf16|strided_batched|batched|lt_matmul\n", argv[0]);
        return 2;
    }
    cb_run(argv[1]);
    return ct_done("cublas gemm");
}
