// Kernels for test_ptx_async.c: mbarrier objects (cuda::barrier,
// cuda::pipeline, inline PTX for the exact state machine), cuda::memcpy_async
// and the non-tensor cp.async.bulk family. Built for compute_90 and
// compute_120 (mbarrier tx-counts and bulk copies need sm_90).
#include <cuda/barrier>
#include <cuda/pipeline>
#include <cooperative_groups.h>
namespace cg = cooperative_groups;
using block_barrier = cuda::barrier<cuda::thread_scope_block>;
#pragma nv_diag_suppress static_var_with_dynamic_init

// memcpy_async of a whole tile by the block, completion through the barrier
extern "C" __global__ void pipe_barrier(const int *in, int *out, int n)
{
    __shared__ alignas(16) int buf[256];
    __shared__ block_barrier bar;
    auto block = cg::this_thread_block();
    if (block.thread_rank() == 0) init(&bar, block.size());
    block.sync();
    const int *src = in + blockIdx.x * n;
    for (int base = 0; base < n; base += 256) {
        cuda::memcpy_async(block, buf, src + base, sizeof(int) * 256, bar);
        bar.arrive_and_wait();
        out[blockIdx.x * n + base + threadIdx.x] = buf[threadIdx.x] * 2 + 1;
        bar.arrive_and_wait();
    }
}

// same with a 16-byte aligned size: sm_90 turns it into cp.async.bulk + expect_tx
extern "C" __global__ void pipe_bulk(const int *in, int *out, int n)
{
    __shared__ alignas(16) int buf[256];
    __shared__ block_barrier bar;
    auto block = cg::this_thread_block();
    if (block.thread_rank() == 0) init(&bar, block.size());
    block.sync();
    const int *src = in + blockIdx.x * n;
    for (int base = 0; base < n; base += 256) {
        cuda::memcpy_async(block, buf, src + base, cuda::aligned_size_t<16>(sizeof(int) * 256), bar);
        bar.arrive_and_wait();
        out[blockIdx.x * n + base + threadIdx.x] = buf[threadIdx.x] * 3 - (int)threadIdx.x;
        bar.arrive_and_wait();
    }
}

// a two-stage cuda::pipeline: tile k+1 is in flight while tile k is used
extern "C" __global__ void pipe_stages(const int *in, int *out, int n)
{
    __shared__ alignas(16) int buf[2][256];
    __shared__ cuda::pipeline_shared_state<cuda::thread_scope_block, 2> st;
    auto block = cg::this_thread_block();
    auto pipe = cuda::make_pipeline(block, &st);
    int tiles = n / 256;
    for (int fetch = 0, use = 0; use < tiles; use++) {
        for (; fetch < tiles && fetch < use + 2; fetch++) {
            pipe.producer_acquire();
            cuda::memcpy_async(block, buf[fetch % 2], in + fetch * 256, cuda::aligned_size_t<16>(sizeof(int) * 256),
                               pipe);
            pipe.producer_commit();
        }
        pipe.consumer_wait();
        out[use * 256 + threadIdx.x] = buf[use % 2][(threadIdx.x * 7) % 256] + use;
        pipe.consumer_release();
    }
}

// bulk copy global -> shared by one thread (arrive.expect_tx path), a change
// in shared memory, bulk copy shared -> global with a bulk group
extern "C" __global__ void bulk_roundtrip(const int *in, int *out)
{
    __shared__ alignas(128) int buf[512];
    __shared__ block_barrier bar;
    if (threadIdx.x == 0) {
        init(&bar, blockDim.x);
        cuda::device::experimental::fence_proxy_async_shared_cta();
    }
    __syncthreads();
    block_barrier::arrival_token tok;
    if (threadIdx.x == 0) {
        cuda::memcpy_async(buf, in + blockIdx.x * 512, cuda::aligned_size_t<16>(sizeof(buf)), bar);
        tok = bar.arrive();
    } else {
        tok = bar.arrive();
    }
    bar.wait(std::move(tok));
    for (int k = threadIdx.x; k < 512; k += blockDim.x) buf[k] = buf[k] * 5 + k;
    cuda::device::experimental::fence_proxy_async_shared_cta();
    __syncthreads();
    if (threadIdx.x == 0) {
        cuda::device::experimental::cp_async_bulk_shared_to_global(out + blockIdx.x * 512, buf, sizeof(buf));
        cuda::device::experimental::cp_async_bulk_commit_group();
        cuda::device::experimental::cp_async_bulk_wait_group_read<0>();
    }
}

// the state machine, one thread, inline PTX; r[] gets each observation
__device__ static unsigned test_wait(unsigned long long *b, unsigned long long st)
{
    unsigned r;
    asm volatile("{ .reg .pred p; mbarrier.test_wait.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                 : "=r"(r) : "r"((unsigned)__cvta_generic_to_shared(b)), "l"(st) : "memory");
    return r;
}
__device__ static unsigned try_parity(unsigned long long *b, unsigned par)
{
    unsigned r;
    asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                 : "=r"(r) : "r"((unsigned)__cvta_generic_to_shared(b)), "r"(par) : "memory");
    return r;
}
__device__ static unsigned long long arrive(unsigned long long *b, unsigned cnt)
{
    unsigned long long st;
    asm volatile("mbarrier.arrive.release.cta.shared::cta.b64 %0, [%1], %2;"
                 : "=l"(st) : "r"((unsigned)__cvta_generic_to_shared(b)), "r"(cnt) : "memory");
    return st;
}
__device__ static unsigned pending(unsigned long long st)
{
    unsigned r;
    asm volatile("mbarrier.pending_count.b64 %0, %1;" : "=r"(r) : "l"(st));
    return r;
}
extern "C" __global__ void mbar_states(unsigned *r)
{
    __shared__ unsigned long long b;
    int k = 0;
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"((unsigned)__cvta_generic_to_shared(&b)), "r"(4));
    unsigned long long s1 = arrive(&b, 1);
    r[k++] = pending(s1);                    // 3
    r[k++] = test_wait(&b, s1);              // 0
    unsigned long long s2 = arrive(&b, 2);
    r[k++] = pending(s2);                    // 1
    r[k++] = try_parity(&b, 0);              // 0: phase 0 still open
    unsigned long long s3 = arrive(&b, 1);   // completes phase 0
    r[k++] = pending(s3);                    // 0
    r[k++] = test_wait(&b, s1);              // 1
    r[k++] = try_parity(&b, 0);              // 1
    r[k++] = try_parity(&b, 1);              // 0
    // phase 1: a transaction count keeps it open after every arrival
    asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;"
                 :: "r"((unsigned)__cvta_generic_to_shared(&b)), "r"(64));
    unsigned long long s4 = arrive(&b, 4);
    r[k++] = pending(s4);                    // 0
    r[k++] = test_wait(&b, s4);              // 0: 64 bytes outstanding
    asm volatile("mbarrier.complete_tx.relaxed.cta.shared::cta.b64 [%0], %1;"
                 :: "r"((unsigned)__cvta_generic_to_shared(&b)), "r"(48));
    r[k++] = test_wait(&b, s4);              // 0: 16 bytes outstanding
    asm volatile("mbarrier.complete_tx.relaxed.cta.shared::cta.b64 [%0], %1;"
                 :: "r"((unsigned)__cvta_generic_to_shared(&b)), "r"(16));
    r[k++] = test_wait(&b, s4);              // 1
    r[k++] = try_parity(&b, 1);              // 1
    // phase 2: arrive.expect_tx and arrive_drop (expected count 4 -> 2)
    unsigned long long s5;
    asm volatile("mbarrier.arrive.expect_tx.release.cta.shared::cta.b64 %0, [%1], %2;"
                 : "=l"(s5) : "r"((unsigned)__cvta_generic_to_shared(&b)), "r"(32) : "memory");
    r[k++] = pending(s5);                    // 3
    unsigned long long s6;
    asm volatile("mbarrier.arrive_drop.release.cta.shared::cta.b64 %0, [%1], %2;"
                 : "=l"(s6) : "r"((unsigned)__cvta_generic_to_shared(&b)), "r"(2) : "memory");
    r[k++] = pending(s6);                    // 1
    arrive(&b, 1);
    r[k++] = test_wait(&b, s6);              // 0: 32 bytes outstanding
    asm volatile("mbarrier.complete_tx.relaxed.cta.shared::cta.b64 [%0], %1;"
                 :: "r"((unsigned)__cvta_generic_to_shared(&b)), "r"(32));
    r[k++] = test_wait(&b, s6);              // 1
    unsigned long long s7 = arrive(&b, 1);   // phase 3 expects 2 arrivals now
    r[k++] = pending(s7);                    // 1
    unsigned long long s8 = arrive(&b, 1);
    r[k++] = pending(s8);                    // 0
    r[k++] = test_wait(&b, s7);              // 1
    r[k++] = try_parity(&b, 0);              // 0: phase 4 (parity 0) open
    asm volatile("mbarrier.inval.shared::cta.b64 [%0];" :: "r"((unsigned)__cvta_generic_to_shared(&b)));
    r[k] = 0xdeadbeefu;
}

// several warps and divergent lanes wait in try_wait loops: odd lanes arrive
// only after work, even lanes of the same warp wait for them; each round a
// thread reads a value another warp wrote before the barrier completed
extern "C" __global__ void mbar_rounds(int *out, int rounds)
{
    __shared__ int vals[256];
    __shared__ block_barrier bar;
    int t = threadIdx.x, nt = blockDim.x;
    if (t == 0) init(&bar, nt);
    __syncthreads();
    int acc = 0;
    for (int r = 0; r < rounds; r++) {
        int v = r * 1000 + t;
        if (t & 1) for (int k = 0; k < 50 + t; k++) v = (v * 3 + k) % 100003;
        vals[t] = v;
        bar.arrive_and_wait();
        acc = acc * 7 + vals[(t + 37) % nt];
        bar.arrive_and_wait();
    }
    out[t] = acc;
}

// an out-of-bounds bulk copy must fail the launch
extern "C" __global__ void bulk_oob(const int *in, int n)
{
    __shared__ alignas(16) int buf[64];
    __shared__ block_barrier bar;
    if (threadIdx.x == 0) init(&bar, 1);
    __syncthreads();
    if (threadIdx.x == 0) {
        cuda::memcpy_async(buf, in + n, cuda::aligned_size_t<16>(sizeof(buf)), bar);
        bar.arrive_and_wait();
    }
}

// a phase that never completes (two arrivals expected, one comes): the GPU
// hangs; the CPU device fails the launch
extern "C" __global__ void mbar_deadlock(int *out)
{
    __shared__ block_barrier bar;
    if (threadIdx.x == 0) init(&bar, blockDim.x + 1);
    __syncthreads();
    bar.arrive_and_wait();
    out[threadIdx.x] = 1;
}

// inline PTX: bulk copy into .shared::cta with arrive.expect_tx first, a
// parity wait, cp.reduce.async.bulk (add.u32, min.s32) and a bulk prefetch
extern "C" __global__ void bulk_reduce(const int *in, int *acc, int *mn, int n)
{
    __shared__ alignas(16) int buf[256];
    __shared__ alignas(8) unsigned long long b;
    unsigned sb = (unsigned)__cvta_generic_to_shared(&b), sbuf = (unsigned)__cvta_generic_to_shared(buf);
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(sb));
        asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" :: "l"(in), "r"(n * 4));
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" :: "r"(sb), "r"(n * 4) : "memory");
        asm volatile("cp.async.bulk.shared::cta.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                     :: "r"(sbuf), "l"(in), "r"(n * 4), "r"(sb) : "memory");
    }
    __syncthreads();
    unsigned ok = 0;
    while (!ok)
        asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0, 1000; selp.u32 %0, 1, 0, p; }"
                     : "=r"(ok) : "r"(sb) : "memory");
    for (int k = threadIdx.x; k < n; k += blockDim.x) buf[k] += k;
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    __syncthreads();
    if (threadIdx.x == 0) {
        asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.u32 [%0], [%1], %2;"
                     :: "l"(acc), "r"(sbuf), "r"(n * 4) : "memory");
        asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.min.s32 [%0], [%1], %2;"
                     :: "l"(mn), "r"(sbuf), "r"(n * 4) : "memory");
        asm volatile("cp.async.bulk.commit_group;" ::: "memory");
        asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
    }
}

// lanes of one warp wait for lanes of the same warp: every fourth thread
// arrives and waits at once, the others arrive only after some work
extern "C" __global__ void mbar_intra(int *out, int work)
{
    __shared__ int vals[128];
    __shared__ block_barrier bar;
    int t = threadIdx.x, nt = blockDim.x;
    if (t == 0) init(&bar, nt);
    __syncthreads();
    if (t % 4 == 0) {
        vals[t] = t * 5;
        bar.arrive_and_wait();
    } else {
        int v = t;
        for (int k = 0; k < work; k++) v = (v * 7 + k) % 1009;
        vals[t] = v;
        bar.arrive_and_wait();
    }
    out[t] = vals[(t + 1) % nt] + vals[(t + 2) % nt];
}

// shared::cta -> shared::cluster bulk copy (the CTA's own shared memory in a
// cluster of one), completion through an mbarrier every thread waits on
extern "C" __global__ void bulk_s2s(int *out)
{
    __shared__ alignas(16) int src[128];
    __shared__ alignas(16) int dst[128];
    __shared__ alignas(8) unsigned long long b;
    unsigned sb = (unsigned)__cvta_generic_to_shared(&b);
    int t = threadIdx.x;
    src[t] = t * t - 5 * t;
    dst[t] = -1;
    if (t == 0) asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"(sb), "r"(blockDim.x));
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    __syncthreads();
    if (t == 0) {
        asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;" :: "r"(sb), "r"(512) : "memory");
        asm volatile("cp.async.bulk.shared::cluster.shared::cta.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                     :: "r"((unsigned)__cvta_generic_to_shared(dst)), "r"((unsigned)__cvta_generic_to_shared(src)),
                        "r"(512), "r"(sb) : "memory");
    }
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" :: "r"(sb) : "memory");
    unsigned ok = 0;
    while (!ok)
        asm volatile("{ .reg .pred p; mbarrier.test_wait.parity.shared::cta.b64 p, [%1], 0; selp.u32 %0, 1, 0, p; }"
                     : "=r"(ok) : "r"(sb) : "memory");
    out[t] = dst[127 - t];
}
