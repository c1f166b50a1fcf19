// asyncbar.cu — sm_90 asynchronous-copy idioms and C++ indirect calls through
// NVIDIA's runtime on rgpu: cuda::memcpy_async into shared memory completed
// by a cuda::barrier (cp.async.bulk + mbarrier tx-counts in compute_90 PTX),
// a two-stage cuda::pipeline, and virtual calls on objects built in the
// kernel (vtables are module variables holding function addresses).
#include "cudart_check.h"

#include <cooperative_groups.h>
#include <cuda/barrier>
#include <cuda/pipeline>
#include <vector>

namespace cg = cooperative_groups;
#pragma nv_diag_suppress static_var_with_dynamic_init

__global__ void tiles(const int *in, int *out, int n)
{
    __shared__ alignas(16) int buf[256];
    __shared__ cuda::barrier<cuda::thread_scope_block> bar;
    auto block = cg::this_thread_block();
    if (block.thread_rank() == 0) init(&bar, block.size());
    block.sync();
    for (int base = 0; base < n; base += 256) {
        cuda::memcpy_async(block, buf, in + (size_t)blockIdx.x * n + base, cuda::aligned_size_t<16>(sizeof(buf)), bar);
        bar.arrive_and_wait();
        out[(size_t)blockIdx.x * n + base + threadIdx.x] = buf[255 - threadIdx.x] + base;
        bar.arrive_and_wait();
    }
}

__global__ void staged(const int *in, int *out, int tiles_n)
{
    __shared__ alignas(16) int buf[2][256];
    __shared__ cuda::pipeline_shared_state<cuda::thread_scope_block, 2> st;
    auto block = cg::this_thread_block();
    auto pipe = cuda::make_pipeline(block, &st);
    for (int fetch = 0, use = 0; use < tiles_n; use++) {
        for (; fetch < tiles_n && fetch < use + 2; fetch++) {
            pipe.producer_acquire();
            cuda::memcpy_async(block, buf[fetch % 2], in + fetch * 256, cuda::aligned_size_t<16>(sizeof(buf[0])), pipe);
            pipe.producer_commit();
        }
        pipe.consumer_wait();
        out[use * 256 + threadIdx.x] = buf[use % 2][threadIdx.x] * 2;
        pipe.consumer_release();
    }
}

struct Op {
    __device__ virtual int apply(int v) const = 0;
};
struct Add : Op {
    int k;
    __device__ Add(int k) : k(k) {}
    __device__ int apply(int v) const override { return v + k; }
};
struct Mul : Op {
    int k;
    __device__ Mul(int k) : k(k) {}
    __device__ int apply(int v) const override { return v * k; }
};

__global__ void virt(const int *in, int *out)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    Add a(t);
    Mul m(3);
    const Op *op = (t & 1) ? (const Op *)&a : (const Op *)&m;
    out[t] = op->apply(in[t]);
}

int main()
{
    const int blocks = 3, n = 1024, total = blocks * n;
    std::vector<int> h(total), got(total), want(total);
    for (int i = 0; i < total; i++) h[i] = (int)((unsigned)i * 2654435761u % 20011u) - 10000;
    int *in, *out;
    CK_FATAL(cudaMalloc(&in, total * sizeof(int)));
    CK_FATAL(cudaMalloc(&out, total * sizeof(int)));
    CK(cudaMemcpy(in, h.data(), total * sizeof(int), cudaMemcpyHostToDevice));

    tiles<<<blocks, 256>>>(in, out, n);
    CK(cudaGetLastError());
    CK(cudaMemcpy(got.data(), out, total * sizeof(int), cudaMemcpyDeviceToHost));
    for (int i = 0; i < total; i++) {
        int b = i / n, base = i % n / 256 * 256, t = i % 256;
        want[i] = h[(size_t)b * n + base + 255 - t] + base;
    }
    EXPECT_ARRAY(got.data(), want.data(), (size_t)total);

    staged<<<1, 256>>>(in, out, total / 256);
    CK(cudaGetLastError());
    CK(cudaMemcpy(got.data(), out, total * sizeof(int), cudaMemcpyDeviceToHost));
    for (int i = 0; i < total; i++) want[i] = h[i] * 2;
    EXPECT_ARRAY(got.data(), want.data(), (size_t)total);

    virt<<<total / 128, 128>>>(in, out);
    CK(cudaGetLastError());
    CK(cudaMemcpy(got.data(), out, total * sizeof(int), cudaMemcpyDeviceToHost));
    for (int i = 0; i < total; i++) want[i] = (i & 1) ? h[i] + i : h[i] * 3;
    EXPECT_ARRAY(got.data(), want.data(), (size_t)total);

    CK(cudaFree(in));
    CK(cudaFree(out));
    return ct_done("cudart asyncbar");
}
