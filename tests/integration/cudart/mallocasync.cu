// mallocasync.cu — the runtime's stream-ordered allocator on rgpu:
// cudaMallocAsync / cudaFreeAsync on a created stream and on the legacy
// stream, the memory written by a kernel and copied back asynchronously
// (checked on the host), rounds of allocate/use/free with no synchronisation
// between them, the default pool's memory in use rising and falling
// (cudaMemPoolGetAttribute), cudaMemPoolTrimTo, a created pool
// (cudaMemPoolCreate, cudaMallocFromPoolAsync, the device's current pool for
// a while, cudaMemPoolDestroy), and a bad argument that is not sticky.
#include "cudart_check.h"

#include <cstdint>
#include <cstring>
#include <vector>

__global__ void fill_inc(unsigned *p, unsigned base, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        p[i] = base + (unsigned)i;
}

__global__ void add(unsigned *p, unsigned v, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        p[i] += v;
}

static uint64_t pool_used(cudaMemPool_t pool)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    CK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &v));
    return v;
}

static size_t first_wrong(const std::vector<unsigned> &h, unsigned base, unsigned plus)
{
    for (size_t i = 0; i < h.size(); i++)
        if (h[i] != base + (unsigned)i + plus)
            return i;
    return h.size();
}

#define EXPECT_FILLED(h, base, plus, what)                                                                 \
    do {                                                                                                   \
        size_t i_ = first_wrong((h), (base), (plus));                                                      \
        EXPECT(i_ == (h).size(), "%s: element %zu is %u, expected %u", (what), i_,                         \
               i_ < (h).size() ? (h)[i_] : 0u, (base) + (unsigned)i_ + (plus));                            \
    } while (0)

int main()
{
    const int n = 1 << 14;
    const size_t bytes = n * sizeof(unsigned);
    int dev = 0;
    CK_FATAL(cudaSetDevice(dev));
    int supported = 0;
    CK(cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, dev));
    EXPECT(supported == 1, "cudaDevAttrMemoryPoolsSupported is %d", supported);

    cudaMemPool_t def = nullptr, cur = nullptr;
    CK_FATAL(cudaDeviceGetDefaultMemPool(&def, dev));
    CK(cudaDeviceGetMemPool(&cur, dev));
    EXPECT(def != nullptr && cur == def, "current pool %p, default %p", (void *)cur, (void *)def);

    cudaStream_t s;
    CK_FATAL(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    std::vector<unsigned> h(n, 0);

    // allocate, write with a kernel, copy back, free: memory in use rises and falls
    uint64_t used0 = pool_used(def);
    unsigned *d = nullptr;
    CK_FATAL(cudaMallocAsync(&d, bytes, s));
    EXPECT(d != nullptr, "cudaMallocAsync gave a null pointer");
    fill_inc<<<(n + 255) / 256, 256, 0, s>>>(d, 1000, n);
    CK(cudaGetLastError());
    add<<<(n + 255) / 256, 256, 0, s>>>(d, 5, n);
    CK(cudaGetLastError());
    CK(cudaMemcpyAsync(h.data(), d, bytes, cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    EXPECT_FILLED(h, 1000u, 5u, "kernels on cudaMallocAsync memory");
    uint64_t used1 = pool_used(def);
    EXPECT(used1 >= used0 + bytes, "used %llu with %zu bytes allocated, %llu before", (unsigned long long)used1, bytes,
           (unsigned long long)used0);
    cudaPointerAttributes pa;
    std::memset(&pa, 0, sizeof pa);
    CK(cudaPointerGetAttributes(&pa, d + 10));
    EXPECT(pa.type == cudaMemoryTypeDevice, "pointer type %d", (int)pa.type);
    CK(cudaFreeAsync(d, s));
    CK(cudaStreamSynchronize(s));
    uint64_t used2 = pool_used(def);
    EXPECT(used2 == used0, "used %llu after the free, %llu before", (unsigned long long)used2,
           (unsigned long long)used0);

    // rounds of allocate / use / free, nothing synchronised in between
    const int rounds = 8;
    std::vector<std::vector<unsigned>> hr(rounds, std::vector<unsigned>(n, 0));
    for (int r = 0; r < rounds; r++) {
        unsigned *x = nullptr;
        CK(cudaMallocAsync(&x, bytes, s));
        fill_inc<<<(n + 255) / 256, 256, 0, s>>>(x, 100000u * (unsigned)r, n);
        CK(cudaMemcpyAsync(hr[r].data(), x, bytes, cudaMemcpyDefault, s));
        CK(cudaFreeAsync(x, s));
    }
    CK(cudaStreamSynchronize(s));
    for (int r = 0; r < rounds; r++)
        EXPECT_FILLED(hr[r], 100000u * (unsigned)r, 0u, "allocate/use/free round");
    EXPECT(pool_used(def) == used0, "used %llu after the rounds, %llu before", (unsigned long long)pool_used(def),
           (unsigned long long)used0);

    // the legacy default stream
    CK(cudaMallocAsync(&d, bytes, 0));
    fill_inc<<<(n + 255) / 256, 256>>>(d, 7, n);
    CK(cudaMemcpyAsync(h.data(), d, bytes, cudaMemcpyDeviceToHost, 0));
    CK(cudaFreeAsync(d, 0));
    CK(cudaStreamSynchronize(0));
    EXPECT_FILLED(h, 7u, 0u, "cudaMallocAsync on the legacy stream");

    // the pool keeps what was freed until trimmed
    CK(cudaMemPoolTrimTo(def, 0));
    EXPECT(pool_used(def) == used0, "used %llu after trimming", (unsigned long long)pool_used(def));

    // a created pool
    cudaMemPoolProps props;
    std::memset(&props, 0, sizeof props);
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = dev;
    cudaMemPool_t mine = nullptr;
    CK_FATAL(cudaMemPoolCreate(&mine, &props));
    EXPECT(mine != nullptr && mine != def, "created pool %p, default %p", (void *)mine, (void *)def);
    void *v = nullptr;
    CK_FATAL(cudaMallocFromPoolAsync(&v, bytes, mine, s));
    unsigned *p = (unsigned *)v;
    fill_inc<<<(n + 255) / 256, 256, 0, s>>>(p, 42, n);
    add<<<(n + 255) / 256, 256, 0, s>>>(p, 1, n);
    CK(cudaMemcpyAsync(h.data(), p, bytes, cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    EXPECT_FILLED(h, 42u, 1u, "memory from cudaMallocFromPoolAsync");
    EXPECT(pool_used(mine) >= bytes, "created pool uses %llu", (unsigned long long)pool_used(mine));
    EXPECT(pool_used(def) == used0, "default pool uses %llu, %llu before", (unsigned long long)pool_used(def),
           (unsigned long long)used0);
    CK(cudaFreeAsync(p, s));
    CK(cudaStreamSynchronize(s));
    EXPECT(pool_used(mine) == 0, "created pool uses %llu after the free", (unsigned long long)pool_used(mine));

    // as the device's current pool: cudaMallocAsync draws from it
    CK(cudaDeviceSetMemPool(dev, mine));
    CK(cudaDeviceGetMemPool(&cur, dev));
    EXPECT(cur == mine, "current pool %p, set %p", (void *)cur, (void *)mine);
    CK(cudaMallocAsync(&d, bytes, s));
    CK(cudaStreamSynchronize(s));
    EXPECT(pool_used(mine) >= bytes, "created (current) pool uses %llu", (unsigned long long)pool_used(mine));
    fill_inc<<<(n + 255) / 256, 256, 0, s>>>(d, 9, n);
    CK(cudaMemcpyAsync(h.data(), d, bytes, cudaMemcpyDeviceToHost, s));
    CK(cudaFreeAsync(d, s));
    CK(cudaStreamSynchronize(s));
    EXPECT_FILLED(h, 9u, 0u, "cudaMallocAsync from the current (created) pool");
    CK(cudaDeviceSetMemPool(dev, def));
    CK(cudaDeviceGetMemPool(&cur, dev));
    EXPECT(cur == def, "current pool %p after restoring the default %p", (void *)cur, (void *)def);
    CK(cudaMemPoolDestroy(mine));

    // a bad argument: reported by the call, not sticky
    CK_EQ(cudaMallocAsync((void **)nullptr, 16, s), cudaErrorInvalidValue);
    CK_EQ(cudaGetLastError(), cudaErrorInvalidValue);
    CK(cudaGetLastError());

    CK(cudaStreamDestroy(s));
    CK(cudaDeviceSynchronize());
    CK(cudaGetLastError());
    return ct_done("cudart mallocasync");
}
