// graphs.cu — CUDA graphs through the CUDA runtime on rgpu, the way ggml-cuda
// uses them: capture a stream in relaxed mode (the kernels' first launches
// happen inside the capture, as in a program's first graph), instantiate,
// launch several times, capture again with other kernel arguments and
// cudaGraphExecUpdate the instance, capture another topology (the update
// fails, the instance is made again), then destroy everything. Results are
// checked on the host.
#include "cudart_check.h"

#include <vector>

static const int N = 4096;

__global__ void scale(const float *in, float *out, float s, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = in[i] * s;
}

__global__ void add_const(float *x, float c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] += c;
}

__global__ void add(const float *a, float *b, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        b[i] += a[i];
}

static float *d_in, *d_tmp, *d_out;
static std::vector<float> h_in(N), h_out(N);

// out = s * in + c, then out += in when twice (another topology)
static cudaGraph_t capture(cudaStream_t st, float s, float c, bool twice)
{
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    CK(cudaStreamIsCapturing(st, &status));
    EXPECT(status == cudaStreamCaptureStatusNone, "status %d before the capture", (int)status);
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeRelaxed));
    CK(cudaStreamIsCapturing(st, &status));
    EXPECT(status == cudaStreamCaptureStatusActive, "status %d in the capture", (int)status);
    const int b = 256, g = (N + b - 1) / b;
    scale<<<g, b, 0, st>>>(d_in, d_tmp, s, N);
    CK(cudaMemcpyAsync(d_out, d_tmp, N * sizeof(float), cudaMemcpyDeviceToDevice, st));
    add_const<<<g, b, 0, st>>>(d_out, c, N);
    if (twice)
        add<<<g, b, 0, st>>>(d_in, d_out, N);
    CK(cudaGetLastError());
    unsigned long long id = 0;
    CK(cudaStreamGetCaptureInfo(st, &status, &id));
    EXPECT(status == cudaStreamCaptureStatusActive && id != 0, "capture info %d %llu", (int)status, id);
    cudaGraph_t graph = nullptr;
    CK(cudaStreamEndCapture(st, &graph));
    EXPECT(graph != nullptr, "no graph");
    size_t nodes = 0;
    CK(cudaGraphGetNodes(graph, nullptr, &nodes));
    EXPECT(nodes == (twice ? 4u : 3u), "%zu nodes", nodes);
    return graph;
}

static void run_and_check(cudaGraphExec_t e, cudaStream_t st, float s, float c, bool twice, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < N; i++)
            h_in[i] = (float)((i * 7 + r * 13) % 101);
        CK(cudaMemcpyAsync(d_in, h_in.data(), N * sizeof(float), cudaMemcpyHostToDevice, st));
        CK(cudaGraphLaunch(e, st));
        CK(cudaMemcpyAsync(h_out.data(), d_out, N * sizeof(float), cudaMemcpyDeviceToHost, st));
        CK(cudaStreamSynchronize(st));
        std::vector<float> want(N);
        for (int i = 0; i < N; i++)
            want[i] = h_in[i] * s + c + (twice ? h_in[i] : 0.0f);
        EXPECT_ARRAY(h_out.data(), want.data(), (size_t)N);
    }
}

int main()
{
    cudaStream_t st;
    CK_FATAL(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    CK_FATAL(cudaMalloc(&d_in, N * sizeof(float)));
    CK_FATAL(cudaMalloc(&d_tmp, N * sizeof(float)));
    CK_FATAL(cudaMalloc(&d_out, N * sizeof(float)));
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusActive;
    CK(cudaStreamIsCapturing(0, &status));
    EXPECT(status == cudaStreamCaptureStatusNone, "legacy stream status %d", (int)status);

    cudaGraph_t g = capture(st, 2.0f, 1.0f, false);
    cudaGraphExec_t e = nullptr;
    CK_FATAL(cudaGraphInstantiate(&e, g, 0));
    run_and_check(e, st, 2.0f, 1.0f, false, 3);

    // the same topology with other arguments: updated in place
    cudaGraph_t g2 = capture(st, 3.0f, -5.0f, false);
    cudaGraphExecUpdateResultInfo info;
    CK(cudaGraphExecUpdate(e, g2, &info));
    EXPECT(info.result == cudaGraphExecUpdateSuccess, "update result %d", (int)info.result);
    run_and_check(e, st, 3.0f, -5.0f, false, 2);

    // another topology: the update fails, the instance is made again
    cudaGraph_t g3 = capture(st, 0.5f, 2.0f, true);
    EXPECT(cudaGraphExecUpdate(e, g3, &info) == cudaErrorGraphExecUpdateFailure, "update of another topology");
    EXPECT(info.result == cudaGraphExecUpdateErrorTopologyChanged, "update result %d", (int)info.result);
    (void)cudaGetLastError(); // as ggml does: the failure is not sticky
    CK(cudaGraphExecDestroy(e));
    CK_FATAL(cudaGraphInstantiate(&e, g3, 0));
    run_and_check(e, st, 0.5f, 2.0f, true, 2);

    CK(cudaGraphExecDestroy(e));
    CK(cudaGraphDestroy(g));
    CK(cudaGraphDestroy(g2));
    CK(cudaGraphDestroy(g3));
    CK(cudaFree(d_in));
    CK(cudaFree(d_tmp));
    CK(cudaFree(d_out));
    CK(cudaStreamDestroy(st));
    CK(cudaDeviceSynchronize());
    return ct_done("cudart graphs");
}
