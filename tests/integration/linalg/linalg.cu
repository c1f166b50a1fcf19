// linalg.cu — NVIDIA's cuSPARSE 12 and cuSOLVER 12 (the toolkit's libraries,
// unmodified) on rgpu: linalg CASE, one of
//   spmv    cusparseSpMV, a tridiagonal CSR matrix times a vector
//   spmm    cusparseSpMM, the same matrix times a dense matrix
//   potrf   cusolverDnDpotrf, Cholesky of a symmetric positive definite matrix
//   getrs   cusolverDnDgetrf + cusolverDnDgetrs, an LU solve with pivoting
// Each checked on the host: products against a reference in double
// precision, factorisations by multiplying them back, the solve by its
// residual.
#include <cusolverDn.h>
#include <cusparse.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../cudart/cudart_check.h"

#define LIB(call)                                                                                           \
    do {                                                                                                    \
        int lib_s_ = (int)(call);                                                                           \
        if (lib_s_ != 0) {                                                                                  \
            std::fprintf(stderr, "FAIL %s:%d: %s: status %d\n", __FILE__, __LINE__, #call, lib_s_);         \
            std::exit(1);                                                                                   \
        }                                                                                                   \
    } while (0)

template <typename T> static T *upload(const std::vector<T> &h)
{
    T *d;
    CK_FATAL(cudaMalloc(&d, h.size() * sizeof(T) + 1));
    CK_FATAL(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}

template <typename T> static std::vector<T> download(const T *d, size_t n)
{
    std::vector<T> h(n);
    CK_FATAL(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

// A tridiagonal n x n CSR matrix: 4 on the diagonal, -1 beside it.
struct csr {
    int n, nnz;
    std::vector<int> rows, cols;
    std::vector<float> vals;
};
static csr tridiagonal(int n)
{
    csr m{n, 0, {}, {}, {}};
    for (int i = 0; i < n; i++) {
        m.rows.push_back(m.nnz);
        for (int j = i - 1; j <= i + 1; j++)
            if (j >= 0 && j < n) {
                m.cols.push_back(j);
                m.vals.push_back(j == i ? 4.0f : -1.0f);
                m.nnz++;
            }
    }
    m.rows.push_back(m.nnz);
    return m;
}

static void sparse(bool spmm)
{
    const int n = 1000, k = spmm ? 3 : 1;
    csr a = tridiagonal(n);
    std::vector<float> x((size_t)n * k), ref((size_t)n * k);
    for (int i = 0; i < n * k; i++)
        x[i] = (float)(i % 7) - 2.0f;
    for (int c = 0; c < k; c++)
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int p = a.rows[i]; p < a.rows[i + 1]; p++)
                s += (double)a.vals[p] * x[(size_t)c * n + a.cols[p]];
            ref[(size_t)c * n + i] = (float)s;
        }
    int *drows = upload(a.rows), *dcols = upload(a.cols);
    float *dvals = upload(a.vals), *dx = upload(x), *dy;
    CK_FATAL(cudaMalloc(&dy, x.size() * sizeof(float)));
    cusparseHandle_t h;
    LIB(cusparseCreate(&h));
    cusparseSpMatDescr_t A;
    LIB(cusparseCreateCsr(&A, n, n, a.nnz, drows, dcols, dvals, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                          CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
    float one = 1, zero = 0;
    size_t bytes = 0;
    void *buf;
    if (!spmm) {
        cusparseDnVecDescr_t X, Y;
        LIB(cusparseCreateDnVec(&X, n, dx, CUDA_R_32F));
        LIB(cusparseCreateDnVec(&Y, n, dy, CUDA_R_32F));
        LIB(cusparseSpMV_bufferSize(h, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A, X, &zero, Y, CUDA_R_32F,
                                    CUSPARSE_SPMV_ALG_DEFAULT, &bytes));
        CK_FATAL(cudaMalloc(&buf, bytes + 1));
        LIB(cusparseSpMV(h, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A, X, &zero, Y, CUDA_R_32F,
                         CUSPARSE_SPMV_ALG_DEFAULT, buf));
        LIB(cusparseDestroyDnVec(X));
        LIB(cusparseDestroyDnVec(Y));
    } else {
        cusparseDnMatDescr_t X, Y;
        LIB(cusparseCreateDnMat(&X, n, k, n, dx, CUDA_R_32F, CUSPARSE_ORDER_COL));
        LIB(cusparseCreateDnMat(&Y, n, k, n, dy, CUDA_R_32F, CUSPARSE_ORDER_COL));
        LIB(cusparseSpMM_bufferSize(h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A,
                                    X, &zero, Y, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
        CK_FATAL(cudaMalloc(&buf, bytes + 1));
        LIB(cusparseSpMM(h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A, X, &zero,
                         Y, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, buf));
        LIB(cusparseDestroyDnMat(X));
        LIB(cusparseDestroyDnMat(Y));
    }
    std::vector<float> y = download(dy, x.size());
    for (size_t i = 0; i < y.size(); i++)
        if (std::fabs(y[i] - ref[i]) > 1e-5f) {
            EXPECT(false, "element %zu: got %g, expected %g", i, y[i], ref[i]);
            break;
        }
    LIB(cusparseDestroySpMat(A));
    LIB(cusparseDestroy(h));
    for (void *p : {(void *)drows, (void *)dcols, (void *)dvals, (void *)dx, (void *)dy, buf})
        CK(cudaFree(p));
}

// A symmetric positive definite n x n matrix (column major).
static std::vector<double> spd(int n)
{
    std::vector<double> a((size_t)n * n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            a[i + (size_t)j * n] = i == j ? n + 1.0 : 1.0 / (1 + std::abs(i - j));
    return a;
}

static void potrf()
{
    const int n = 96;
    std::vector<double> a = spd(n);
    double *da = upload(a), *work;
    int *dinfo, lwork, info = -1;
    CK_FATAL(cudaMalloc(&dinfo, sizeof(int)));
    cusolverDnHandle_t h;
    LIB(cusolverDnCreate(&h));
    LIB(cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_LOWER, n, da, n, &lwork));
    CK_FATAL(cudaMalloc(&work, (size_t)lwork * sizeof(double) + 1));
    LIB(cusolverDnDpotrf(h, CUBLAS_FILL_MODE_LOWER, n, da, n, work, lwork, dinfo));
    CK(cudaMemcpy(&info, dinfo, sizeof info, cudaMemcpyDeviceToHost));
    EXPECT(info == 0, "potrf info %d", info);
    std::vector<double> l = download(da, a.size());
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            double s = 0;
            for (int k = 0; k <= j; k++)
                s += l[i + (size_t)k * n] * l[j + (size_t)k * n];
            worst = std::fmax(worst, std::fabs(s - a[i + (size_t)j * n]));
        }
    EXPECT(worst < 1e-10, "|L L^T - A| reaches %g", worst);
    LIB(cusolverDnDestroy(h));
    for (void *p : {(void *)da, (void *)work, (void *)dinfo})
        CK(cudaFree(p));
}

static void getrs()
{
    const int n = 80;
    std::vector<double> a((size_t)n * n), b(n);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            a[i + (size_t)j * n] = std::sin(1.0 + i * 0.37 + j * 1.91) + (i == (j * 7) % n ? 3.0 : 0.0);
        b[i] = std::cos(0.5 * i);
    }
    double *da = upload(a), *db = upload(b), *work;
    int *dpiv, *dinfo, lwork, info = -1;
    CK_FATAL(cudaMalloc(&dpiv, n * sizeof(int)));
    CK_FATAL(cudaMalloc(&dinfo, sizeof(int)));
    cusolverDnHandle_t h;
    LIB(cusolverDnCreate(&h));
    LIB(cusolverDnDgetrf_bufferSize(h, n, n, da, n, &lwork));
    CK_FATAL(cudaMalloc(&work, (size_t)lwork * sizeof(double) + 1));
    LIB(cusolverDnDgetrf(h, n, n, da, n, work, dpiv, dinfo));
    CK(cudaMemcpy(&info, dinfo, sizeof info, cudaMemcpyDeviceToHost));
    EXPECT(info == 0, "getrf info %d", info);
    LIB(cusolverDnDgetrs(h, CUBLAS_OP_N, n, 1, da, n, dpiv, db, n, dinfo));
    std::vector<double> x = download(db, n);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < n; j++)
            s += a[i + (size_t)j * n] * x[j];
        worst = std::fmax(worst, std::fabs(s - b[i]));
    }
    EXPECT(worst < 1e-9, "residual |A x - b| reaches %g", worst);
    LIB(cusolverDnDestroy(h));
    for (void *p : {(void *)da, (void *)db, (void *)work, (void *)dpiv, (void *)dinfo})
        CK(cudaFree(p));
}

int main(int argc, char **argv)
{
    const char *c = argc == 2 ? argv[1] : "";
    if (!std::strcmp(c, "spmv") || !std::strcmp(c, "spmm"))
        sparse(!std::strcmp(c, "spmm"));
    else if (!std::strcmp(c, "potrf"))
        potrf();
    else if (!std::strcmp(c, "getrs"))
        getrs();
    else {
        std::fprintf(stderr, "usage: %s spmv|spmm|potrf|getrs\n", argv[0]);
        return 2;
    }
    char what[64];
    std::snprintf(what, sizeof what, "linalg %s", c);
    return ct_done(what);
}
