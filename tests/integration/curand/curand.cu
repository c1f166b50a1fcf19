// curand.cu — NVIDIA's cuRAND (the toolkit's libcurand.so.10, unmodified) on
// rgpu: curand GENERATOR, one of xorwow, philox, mrg32k3a, mtgp32, mt19937,
// sobol32, scrambled_sobol64.
//
// The device generator's numbers (uniform, normal, log-normal, uniform double,
// Poisson) must be exactly the host generator's (curandCreateGeneratorHost):
// cuRAND computes that reference on the CPU without any driver, so it is an
// oracle independent of rgpu. Normal values go through the device's
// approximate logarithm and sine (lg2.approx, sin.approx: absolute error near
// 2^-21 on hardware too) where the host uses libm: they are compared within
// that; log-normal doubles within a few ulps; the rest bit for bit.
#include <curand.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../cudart/cudart_check.h"

#define N (1u << 18)

#define CR(call)                                                                                            \
    do {                                                                                                    \
        curandStatus_t cr_s_ = (call);                                                                      \
        if (cr_s_ != CURAND_STATUS_SUCCESS) {                                                               \
            std::fprintf(stderr, "FAIL %s:%d: %s: curandStatus %d\n", __FILE__, __LINE__, #call, (int)cr_s_); \
            std::exit(1);                                                                                   \
        }                                                                                                   \
    } while (0)

struct kind {
    const char *name;
    curandRngType_t type;
    bool quasi;
    bool u64; // generates 64-bit integers (sobol64): no 32-bit curandGenerate
};
static const kind kinds[] = {
    {"xorwow", CURAND_RNG_PSEUDO_XORWOW, false, false},
    {"philox", CURAND_RNG_PSEUDO_PHILOX4_32_10, false, false},
    {"mrg32k3a", CURAND_RNG_PSEUDO_MRG32K3A, false, false},
    {"mtgp32", CURAND_RNG_PSEUDO_MTGP32, false, false},
    {"mt19937", CURAND_RNG_PSEUDO_MT19937, false, false},
    {"sobol32", CURAND_RNG_QUASI_SOBOL32, true, false},
    {"scrambled_sobol64", CURAND_RNG_QUASI_SCRAMBLED_SOBOL64, true, true},
};

// A device generator and a host one of the same kind, set up alike.
static void make(const kind &k, curandGenerator_t *dev, curandGenerator_t *host)
{
    CR(curandCreateGenerator(dev, k.type));
    CR(curandCreateGeneratorHost(host, k.type));
    for (curandGenerator_t g : {*dev, *host}) {
        if (k.quasi)
            CR(curandSetQuasiRandomGeneratorDimensions(g, 4)); /* N is a multiple */
        else
            CR(curandSetPseudoRandomGeneratorSeed(g, 20261126ull));
    }
}

template <typename T> static void fetch(std::vector<T> &h, const T *d)
{
    CK_FATAL(cudaMemcpy(h.data(), d, h.size() * sizeof(T), cudaMemcpyDeviceToHost));
}

// |a - b| within tol, relative to b's magnitude (absolute below 1)
static bool close(double a, double b, double tol) { return std::fabs(a - b) <= tol * (1.0 + std::fabs(b)); }

int main(int argc, char **argv)
{
    const kind *k = nullptr;
    for (const kind &c : kinds)
        if (argc == 2 && std::strcmp(argv[1], c.name) == 0)
            k = &c;
    if (!k) {
        std::fprintf(stderr, "usage: %s xorwow|philox|mrg32k3a|mtgp32|mt19937|sobol32|scrambled_sobol64\n", argv[0]);
        return 2;
    }
    curandGenerator_t dev, host;
    make(*k, &dev, &host);
    void *d;
    CK_FATAL(cudaMalloc(&d, N * sizeof(double)));
    std::vector<float> hf(N), rf(N);
    std::vector<double> hd(N), rd(N);

    if (k->u64) {
        std::vector<unsigned long long> hu(N), ru(N);
        CR(curandGenerateLongLong(dev, (unsigned long long *)d, N));
        CR(curandGenerateLongLong(host, ru.data(), N));
        fetch(hu, (const unsigned long long *)d);
        EXPECT_ARRAY(hu.data(), ru.data(), N);
    } else {
        std::vector<unsigned> hu(N), ru(N);
        CR(curandGenerate(dev, (unsigned *)d, N));
        CR(curandGenerate(host, ru.data(), N));
        fetch(hu, (const unsigned *)d);
        EXPECT_ARRAY(hu.data(), ru.data(), N);
    }

    CR(curandGenerateUniform(dev, (float *)d, N));
    CR(curandGenerateUniform(host, rf.data(), N));
    fetch(hf, (const float *)d);
    EXPECT_ARRAY(hf.data(), rf.data(), N);

    CR(curandGenerateUniformDouble(dev, (double *)d, N));
    CR(curandGenerateUniformDouble(host, rd.data(), N));
    fetch(hd, (const double *)d);
    EXPECT_ARRAY(hd.data(), rd.data(), N);

    CR(curandGenerateNormal(dev, (float *)d, N, 1.5f, 2.0f));
    CR(curandGenerateNormal(host, rf.data(), N, 1.5f, 2.0f));
    fetch(hf, (const float *)d);
    for (unsigned i = 0; i < N; i++)
        if (!close(hf[i], rf[i], 1e-5)) {
            EXPECT(false, "normal %u: got %.9g, host %.9g", i, hf[i], rf[i]);
            break;
        }

    CR(curandGenerateLogNormalDouble(dev, (double *)d, N, 0.0, 0.5));
    CR(curandGenerateLogNormalDouble(host, rd.data(), N, 0.0, 0.5));
    fetch(hd, (const double *)d);
    for (unsigned i = 0; i < N; i++)
        if (!close(hd[i], rd[i], 8 * 2.3e-16)) {
            EXPECT(false, "log-normal %u: got %.17g, host %.17g", i, hd[i], rd[i]);
            break;
        }

    if (!k->u64) {
        std::vector<unsigned> hu(N), ru(N);
        CR(curandGeneratePoisson(dev, (unsigned *)d, N, 7.25));
        CR(curandGeneratePoisson(host, ru.data(), N, 7.25));
        fetch(hu, (const unsigned *)d);
        EXPECT_ARRAY(hu.data(), ru.data(), N);
    }

    CR(curandDestroyGenerator(dev));
    CR(curandDestroyGenerator(host));
    CK(cudaFree(d));
    char what[64];
    std::snprintf(what, sizeof what, "curand %s", k->name);
    return ct_done(what);
}
