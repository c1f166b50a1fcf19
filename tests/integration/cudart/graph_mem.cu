// graph_mem.cu — graph memory nodes through the CUDA runtime: cudaMallocAsync
// and cudaFreeAsync captured into a graph (an allocation node and a free
// node), launched again and again; an allocation the graph leaves to the
// program, freed outside it before the next launch (and a launch refused
// while it is not); nodes made with cudaGraphAddMemAllocNode and
// cudaGraphAddMemFreeNode and their parameters; the device's graph-memory
// figures; what CUDA does not allow such graphs (a clone, a second
// instance). Results are checked on the host; every expectation holds
// natively (tests/gpu/run).
#include "cudart_check.h"

#include <vector>

static const int N = 2048;

__global__ void fill(float *p, float v, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        p[i] = v + (float)i;
}

__global__ void sum_into(const float *p, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] += p[i];
}

static int count_type(cudaGraph_t g, cudaGraphNodeType want)
{
    size_t n = 0;
    CK(cudaGraphGetNodes(g, nullptr, &n));
    std::vector<cudaGraphNode_t> nodes(n);
    CK(cudaGraphGetNodes(g, nodes.data(), &n));
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        cudaGraphNodeType t;
        CK(cudaGraphNodeGetType(nodes[i], &t));
        k += t == want;
    }
    return k;
}

static void check_out(const float *d_out, float per_launch, int launches, const char *what)
{
    std::vector<float> h(N);
    CK(cudaMemcpy(h.data(), d_out, N * sizeof(float), cudaMemcpyDeviceToHost));
    int bad = -1;
    for (int i = 0; i < N && bad < 0; i++)
        if (h[i] != (float)launches * (per_launch + (float)i))
            bad = i;
    EXPECT(bad < 0, "%s: out[%d] = %g, expected %g", what, bad, bad >= 0 ? h[bad] : 0.0f,
           bad >= 0 ? (float)launches * (per_launch + (float)bad) : 0.0f);
}

// allocation and free captured: a scratch buffer that lives during each launch
static void captured_scratch(cudaStream_t st, float *d_out)
{
    CK(cudaMemsetAsync(d_out, 0, N * sizeof(float), st));
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
    float *scratch = nullptr;
    CK(cudaMallocAsync((void **)&scratch, N * sizeof(float), st));
    fill<<<(N + 255) / 256, 256, 0, st>>>(scratch, 3.0f, N);
    sum_into<<<(N + 255) / 256, 256, 0, st>>>(scratch, d_out, N);
    CK(cudaFreeAsync(scratch, st));
    cudaGraph_t g = nullptr;
    CK(cudaStreamEndCapture(st, &g));
    EXPECT(count_type(g, cudaGraphNodeTypeMemAlloc) == 1 && count_type(g, cudaGraphNodeTypeMemFree) == 1,
           "the capture made %d allocation and %d free nodes", count_type(g, cudaGraphNodeTypeMemAlloc),
           count_type(g, cudaGraphNodeTypeMemFree));
    cudaGraphExec_t x = nullptr;
    CK(cudaGraphInstantiate(&x, g, 0));
    for (int i = 0; i < 3; i++)
        CK(cudaGraphLaunch(x, st));
    CK(cudaStreamSynchronize(st));
    check_out(d_out, 3.0f, 3, "captured scratch, 3 launches");

    // CUDA lets no clone and no second instance hold the graph's allocations
    cudaGraph_t clone = nullptr;
    EXPECT(cudaGraphClone(&clone, g) != cudaSuccess, "a graph with memory nodes was cloned");
    cudaGraphExec_t x2 = nullptr;
    EXPECT(cudaGraphInstantiate(&x2, g, 0) != cudaSuccess, "a second instance of a graph with memory nodes");
    (void)cudaGetLastError();
    CK(cudaGraphExecDestroy(x));
    CK(cudaGraphInstantiate(&x2, g, 0)); // the first one is gone
    CK(cudaGraphExecDestroy(x2));
    CK(cudaGraphDestroy(g));
}

// an allocation the graph hands to the program, which frees it outside
static void allocation_left_to_the_program(cudaStream_t st, float *d_out)
{
    CK(cudaMemsetAsync(d_out, 0, N * sizeof(float), st));
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
    float *p = nullptr;
    CK(cudaMallocAsync((void **)&p, N * sizeof(float), st));
    fill<<<(N + 255) / 256, 256, 0, st>>>(p, 5.0f, N);
    cudaGraph_t g = nullptr;
    CK(cudaStreamEndCapture(st, &g));
    cudaGraphExec_t x = nullptr;
    CK(cudaGraphInstantiate(&x, g, 0));
    CK(cudaGraphLaunch(x, st));
    sum_into<<<(N + 255) / 256, 256, 0, st>>>(p, d_out, N); // the program uses it after the launch
    EXPECT(cudaGraphLaunch(x, st) != cudaSuccess, "relaunched while its allocation was not freed");
    (void)cudaGetLastError();
    CK(cudaFreeAsync(p, st));
    CK(cudaGraphLaunch(x, st)); // freed: it may run again, at the same address
    sum_into<<<(N + 255) / 256, 256, 0, st>>>(p, d_out, N);
    CK(cudaStreamSynchronize(st));
    CK(cudaFree(p)); // cudaFree frees a graph allocation too
    check_out(d_out, 5.0f, 2, "an allocation left to the program");
    CK(cudaGraphExecDestroy(x));

    // with auto-free, each launch frees the previous launch's allocation
    CK(cudaGraphInstantiateWithFlags(&x, g, cudaGraphInstantiateFlagAutoFreeOnLaunch));
    CK(cudaGraphLaunch(x, st));
    CK(cudaGraphLaunch(x, st));
    CK(cudaStreamSynchronize(st));
    CK(cudaFree(p));
    CK(cudaGraphExecDestroy(x));
    CK(cudaGraphDestroy(g));
}

// nodes made by hand, and their parameters
static void explicit_nodes(cudaStream_t st, float *d_out)
{
    int dev = 0;
    CK(cudaGetDevice(&dev));
    cudaGraph_t g = nullptr;
    CK(cudaGraphCreate(&g, 0));
    cudaMemAllocNodeParams ap = {};
    ap.poolProps.allocType = cudaMemAllocationTypePinned;
    ap.poolProps.location.type = cudaMemLocationTypeDevice;
    ap.poolProps.location.id = dev;
    cudaMemAccessDesc acc = {};
    acc.location = ap.poolProps.location;
    acc.flags = cudaMemAccessFlagsProtReadWrite;
    ap.accessDescs = &acc;
    ap.accessDescCount = 1;
    ap.bytesize = N * sizeof(float);
    cudaGraphNode_t alloc = nullptr, k1 = nullptr, k2 = nullptr, fr = nullptr;
    CK_FATAL(cudaGraphAddMemAllocNode(&alloc, g, nullptr, 0, &ap));
    EXPECT(ap.dptr != nullptr, "no address from cudaGraphAddMemAllocNode");
    float *p = (float *)ap.dptr;
    float v = 7.0f;
    int n = N;
    void *fill_args[] = {&p, &v, &n};
    cudaKernelNodeParams kp = {};
    kp.func = (void *)fill;
    kp.gridDim = dim3((N + 255) / 256);
    kp.blockDim = dim3(256);
    kp.kernelParams = fill_args;
    CK(cudaGraphAddKernelNode(&k1, g, &alloc, 1, &kp));
    void *sum_args[] = {&p, &d_out, &n};
    kp.func = (void *)sum_into;
    kp.kernelParams = sum_args;
    CK(cudaGraphAddKernelNode(&k2, g, &k1, 1, &kp));
    CK(cudaGraphAddMemFreeNode(&fr, g, &k2, 1, p));

    cudaMemAllocNodeParams back = {};
    CK(cudaGraphMemAllocNodeGetParams(alloc, &back));
    EXPECT(back.dptr == ap.dptr && back.bytesize == ap.bytesize && back.accessDescCount == 1 && back.accessDescs &&
               back.accessDescs[0].flags == cudaMemAccessFlagsProtReadWrite &&
               back.poolProps.location.id == dev,
           "allocation node parameters: %p %zu bytes, %zu descriptors", back.dptr, back.bytesize,
           back.accessDescCount);
    void *freed = nullptr;
    CK(cudaGraphMemFreeNodeGetParams(fr, &freed));
    EXPECT(freed == ap.dptr, "the free node frees %p, not %p", freed, ap.dptr);
    EXPECT(cudaGraphAddMemFreeNode(&fr, g, &k2, 1, d_out) != cudaSuccess,
           "a free node of memory no graph allocated");
    (void)cudaGetLastError();

    CK(cudaMemsetAsync(d_out, 0, N * sizeof(float), st));
    cudaGraphExec_t x = nullptr;
    CK(cudaGraphInstantiate(&x, g, 0));
    CK(cudaGraphLaunch(x, st));
    CK(cudaGraphLaunch(x, st));
    CK(cudaStreamSynchronize(st));
    check_out(d_out, 7.0f, 2, "explicit memory nodes, 2 launches");

    unsigned long long used = 0, high = 0, zero = 0; // the attributes are 64-bit
    CK(cudaDeviceGetGraphMemAttribute(dev, cudaGraphMemAttrReservedMemCurrent, &used));
    CK(cudaDeviceGetGraphMemAttribute(dev, cudaGraphMemAttrUsedMemHigh, &high));
    EXPECT(used >= N * sizeof(float) && high >= N * sizeof(float), "graph memory reserved %llu, used high %llu",
           (unsigned long long)used, (unsigned long long)high);
    CK(cudaDeviceSetGraphMemAttribute(dev, cudaGraphMemAttrUsedMemHigh, &zero));
    CK(cudaGraphExecDestroy(x));
    CK(cudaGraphDestroy(g));
    CK(cudaDeviceGraphMemTrim(dev));
}

int main()
{
    CK_FATAL(cudaSetDevice(0));
    cudaStream_t st;
    CK_FATAL(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    float *d_out = nullptr;
    CK_FATAL(cudaMalloc(&d_out, N * sizeof(float)));
    captured_scratch(st, d_out);
    allocation_left_to_the_program(st, d_out);
    explicit_nodes(st, d_out);
    CK(cudaFree(d_out));
    CK(cudaStreamDestroy(st));
    CK(cudaDeviceSynchronize());
    CK(cudaGetLastError());
    return ct_done("cudart graph_mem");
}
