// demo.cu — an ordinary CUDA C++ program, built by nvcc with its default
// static runtime. Nothing in it knows about rgpu: through `rgpu run` it finds
// rgpu's libcuda.so.1, and its kernels run wherever rgpud runs them (on the
// CPU device here). It checks every result on the host.
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            std::fprintf(stderr, "demo: %s failed: %s\n", #call, cudaGetErrorString(e_));          \
            std::exit(1);                                                                          \
        }                                                                                          \
    } while (0)

__global__ void saxpy(int n, float a, const float *x, float *y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = a * x[i] + y[i];
}

// one partial sum per block, with shared memory and barriers
__global__ void block_sum(const float *x, float *partial, int n)
{
    extern __shared__ float s[];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    s[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
    for (int step = blockDim.x / 2; step > 0; step /= 2) {
        if (threadIdx.x < step)
            s[threadIdx.x] += s[threadIdx.x + step];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        partial[blockIdx.x] = s[0];
}

int main()
{
    int ndev = 0;
    CK(cudaGetDeviceCount(&ndev));
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    std::printf("demo: %d device(s); device 0: %s, compute capability %d.%d, %d SMs, %.1f GiB\n", ndev, p.name,
                p.major, p.minor, p.multiProcessorCount, p.totalGlobalMem / double(1 << 30));

    const int n = 1 << 20, threads = 256, blocks = (n + threads - 1) / threads;
    std::vector<float> x(n), y(n);
    for (int i = 0; i < n; i++) {
        x[i] = float(i % 1000) * 0.5f;
        y[i] = float(i % 7);
    }
    float *dx, *dy, *dpart;
    CK(cudaMalloc(&dx, n * sizeof(float)));
    CK(cudaMalloc(&dy, n * sizeof(float)));
    CK(cudaMalloc(&dpart, blocks * sizeof(float)));

    cudaStream_t s;
    cudaEvent_t t0, t1;
    CK(cudaStreamCreate(&s));
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    CK(cudaEventRecord(t0, s));
    CK(cudaMemcpyAsync(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice, s));
    CK(cudaMemcpyAsync(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice, s));
    saxpy<<<blocks, threads, 0, s>>>(n, 2.0f, dx, dy);
    CK(cudaGetLastError());
    block_sum<<<blocks, threads, threads * sizeof(float), s>>>(dy, dpart, n);
    CK(cudaGetLastError());
    std::vector<float> out(n), part(blocks);
    CK(cudaMemcpyAsync(out.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost, s));
    CK(cudaMemcpyAsync(part.data(), dpart, blocks * sizeof(float), cudaMemcpyDeviceToHost, s));
    CK(cudaEventRecord(t1, s));
    CK(cudaStreamSynchronize(s));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, t0, t1));

    for (int i = 0; i < n; i++) {
        float want = 2.0f * x[i] + y[i];
        if (out[i] != want) {
            std::fprintf(stderr, "demo: saxpy element %d is %g, expected %g\n", i, out[i], want);
            return 1;
        }
    }
    for (int b = 0; b < blocks; b++) {
        double want = 0;
        for (int i = b * threads; i < (b + 1) * threads && i < n; i++)
            want += 2.0 * x[i] + y[i];
        if (std::abs(part[b] - want) > 1e-3 * std::abs(want) + 1e-3) {
            std::fprintf(stderr, "demo: block %d sums to %g, expected %g\n", b, part[b], want);
            return 1;
        }
    }
    std::printf("demo: saxpy and a shared-memory block reduction over %d floats (%d blocks of %d threads) "
                "verified, %.1f ms on the stream\n",
                n, blocks, threads, ms);
    CK(cudaFree(dx));
    CK(cudaFree(dy));
    CK(cudaFree(dpart));
    CK(cudaStreamDestroy(s));
    std::printf("demo: OK\n");
    return 0;
}
