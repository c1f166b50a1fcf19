// graph_cond.cu — conditional graph nodes through the CUDA runtime: a WHILE
// node whose body counts down and sets its condition from device code
// (cudaGraphSetConditional), an IF node taken or not by a kernel's verdict,
// an IF/ELSE node, a SWITCH node, a handle that goes back to its default at
// each launch (cudaGraphCondAssignDefault), a body filled by capturing a
// stream into it (cudaStreamBeginCaptureToGraph), and a loop added to the
// graph a capture is building. Results are checked on the host; every
// expectation holds natively (tests/gpu/run).
#include "cudart_check.h"

__global__ void count_down(cudaGraphConditionalHandle h, int *counter, int *steps)
{
    int left = --*counter;
    ++*steps;
    cudaGraphSetConditional(h, left > 0);
}

__global__ void decide(cudaGraphConditionalHandle h, const int *x, int threshold)
{
    cudaGraphSetConditional(h, *x > threshold ? 1 : 0);
}

__global__ void choose(cudaGraphConditionalHandle h, const int *x) { cudaGraphSetConditional(h, (unsigned)*x); }

__global__ void add(int *p, int v) { *p += v; }

static cudaGraphNode_t conditional_after(cudaGraph_t g, const cudaGraphNode_t *deps, size_t ndeps,
                                         cudaGraphConditionalHandle h, cudaGraphConditionalNodeType type,
                                         unsigned size, cudaGraph_t *bodies)
{
    cudaGraphNodeParams p = {};
    p.type = cudaGraphNodeTypeConditional;
    p.conditional.handle = h;
    p.conditional.type = type;
    p.conditional.size = size;
    cudaGraphNode_t n = nullptr;
#if CUDART_VERSION >= 13000
    CK_FATAL(cudaGraphAddNode(&n, g, deps, nullptr, ndeps, &p));
#else
    CK_FATAL(cudaGraphAddNode(&n, g, deps, ndeps, &p));
#endif
    for (unsigned k = 0; k < size; k++)
        bodies[k] = p.conditional.phGraph_out[k];
    return n;
}

static cudaGraphNode_t conditional(cudaGraph_t g, cudaGraphNode_t *dep, cudaGraphConditionalHandle h,
                                   cudaGraphConditionalNodeType type, unsigned size, cudaGraph_t *bodies)
{
    return conditional_after(g, dep, dep ? 1 : 0, h, type, size, bodies);
}

static void kernel_node(cudaGraph_t g, void *fn, void **args)
{
    cudaKernelNodeParams kp = {};
    kp.func = fn;
    kp.gridDim = dim3(1);
    kp.blockDim = dim3(1);
    kp.kernelParams = args;
    cudaGraphNode_t n;
    CK(cudaGraphAddKernelNode(&n, g, nullptr, 0, &kp));
}

static int read(const int *d)
{
    int h = 0;
    CK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
    return h;
}

static void set(int *d, int v) { CK(cudaMemcpy(d, &v, sizeof v, cudaMemcpyHostToDevice)); }

// while (counter > 0) { --counter; ++steps; }
static void while_loop(cudaStream_t st, int *d)
{
    cudaGraph_t g;
    CK_FATAL(cudaGraphCreate(&g, 0));
    cudaGraphConditionalHandle h;
    CK_FATAL(cudaGraphConditionalHandleCreate(&h, g, 1, cudaGraphCondAssignDefault));
    cudaGraph_t body;
    conditional(g, nullptr, h, cudaGraphCondTypeWhile, 1, &body);
    int *counter = d, *steps = d + 1;
    void *args[] = {&h, &counter, &steps};
    kernel_node(body, (void *)count_down, args);
    cudaGraphExec_t x;
    CK_FATAL(cudaGraphInstantiate(&x, g, 0));
    set(counter, 5);
    set(steps, 0);
    CK(cudaGraphLaunch(x, st));
    CK(cudaStreamSynchronize(st));
    EXPECT(read(counter) == 0 && read(steps) == 5, "while: counter %d, steps %d, expected 0 and 5", read(counter),
           read(steps));
    // the condition is 1 again at the next launch (assign default)
    set(counter, 3);
    CK(cudaGraphLaunch(x, st));
    CK(cudaStreamSynchronize(st));
    EXPECT(read(counter) == 0 && read(steps) == 8, "while again: counter %d, steps %d, expected 0 and 8",
           read(counter), read(steps));
    CK(cudaGraphExecDestroy(x));
    CK(cudaGraphDestroy(g));
}

// if (x > 10) y += 1 [else y += 100]
static void if_else(cudaStream_t st, int *d, bool with_else)
{
    int *x = d, *y = d + 1;
    cudaGraph_t g;
    CK_FATAL(cudaGraphCreate(&g, 0));
    cudaGraphConditionalHandle h;
    CK_FATAL(cudaGraphConditionalHandleCreate(&h, g, 0, 0));
    int threshold = 10;
    void *dargs[] = {&h, &x, &threshold};
    cudaKernelNodeParams kp = {};
    kp.func = (void *)decide;
    kp.gridDim = dim3(1);
    kp.blockDim = dim3(1);
    kp.kernelParams = dargs;
    cudaGraphNode_t dn;
    CK(cudaGraphAddKernelNode(&dn, g, nullptr, 0, &kp));
    cudaGraph_t bodies[2];
    conditional(g, &dn, h, cudaGraphCondTypeIf, with_else ? 2 : 1, bodies);
    int one = 1, hundred = 100;
    void *a1[] = {&y, &one}, *a2[] = {&y, &hundred};
    kernel_node(bodies[0], (void *)add, a1);
    if (with_else)
        kernel_node(bodies[1], (void *)add, a2);
    cudaGraphExec_t ex;
    CK_FATAL(cudaGraphInstantiate(&ex, g, 0));
    set(y, 0);
    set(x, 11);
    CK(cudaGraphLaunch(ex, st));
    CK(cudaStreamSynchronize(st));
    set(x, 3);
    CK(cudaGraphLaunch(ex, st));
    CK(cudaStreamSynchronize(st));
    int want = with_else ? 101 : 1;
    EXPECT(read(y) == want, "if%s: y %d, expected %d", with_else ? "/else" : "", read(y), want);
    CK(cudaGraphExecDestroy(ex));
    CK(cudaGraphDestroy(g));
}

// switch (x) { case 0: y += 1; case 1: y += 10; case 2: y += 100; } (no fall-through)
static void switch_node(cudaStream_t st, int *d)
{
    int *x = d, *y = d + 1;
    cudaGraph_t g;
    CK_FATAL(cudaGraphCreate(&g, 0));
    cudaGraphConditionalHandle h;
    CK_FATAL(cudaGraphConditionalHandleCreate(&h, g, 0, 0));
    void *cargs[] = {&h, &x};
    cudaKernelNodeParams kp = {};
    kp.func = (void *)choose;
    kp.gridDim = dim3(1);
    kp.blockDim = dim3(1);
    kp.kernelParams = cargs;
    cudaGraphNode_t cn;
    CK(cudaGraphAddKernelNode(&cn, g, nullptr, 0, &kp));
    cudaGraph_t bodies[3];
    conditional(g, &cn, h, cudaGraphCondTypeSwitch, 3, bodies);
    int v[3] = {1, 10, 100};
    void *args[3][2] = {{&y, &v[0]}, {&y, &v[1]}, {&y, &v[2]}};
    for (int k = 0; k < 3; k++)
        kernel_node(bodies[k], (void *)add, args[k]);
    cudaGraphExec_t ex;
    CK_FATAL(cudaGraphInstantiate(&ex, g, 0));
    set(y, 0);
    for (int sel : {2, 0, 7, 1, 2}) { // 7: no such body, nothing runs
        set(x, sel);
        CK(cudaGraphLaunch(ex, st));
        CK(cudaStreamSynchronize(st));
    }
    EXPECT(read(y) == 211, "switch: y %d, expected 211", read(y));
    CK(cudaGraphExecDestroy(ex));
    CK(cudaGraphDestroy(g));
}

// a body filled by capture
static void captured_body(cudaStream_t st, int *d)
{
    int *y = d + 1;
    cudaGraph_t g;
    CK_FATAL(cudaGraphCreate(&g, 0));
    cudaGraphConditionalHandle h;
    CK_FATAL(cudaGraphConditionalHandleCreate(&h, g, 1, cudaGraphCondAssignDefault));
    cudaGraph_t body;
    conditional(g, nullptr, h, cudaGraphCondTypeIf, 1, &body);
    CK(cudaStreamBeginCaptureToGraph(st, body, nullptr, nullptr, 0, cudaStreamCaptureModeThreadLocal));
    add<<<1, 1, 0, st>>>(y, 5);
    add<<<1, 1, 0, st>>>(y, 7);
    cudaGraph_t back = nullptr;
    CK(cudaStreamEndCapture(st, &back));
    EXPECT(back == body, "the capture gave back %p, not the body %p", (void *)back, (void *)body);
    cudaGraphExec_t ex;
    CK_FATAL(cudaGraphInstantiate(&ex, g, 0));
    set(y, 0);
    CK(cudaGraphLaunch(ex, st));
    CK(cudaStreamSynchronize(st));
    EXPECT(read(y) == 12, "captured body: y %d, expected 12", read(y));
    CK(cudaGraphExecDestroy(ex));
    CK(cudaGraphDestroy(g));
}

// a loop added to the graph a capture is building (what frameworks do for a
// loop inside a captured region): the conditional node after the captured
// work, the capture made to follow it, its body filled by a capture of its own
static void inside_capture(cudaStream_t st, int *d)
{
    int *counter = d, *steps = d + 1;
    set(counter, 4);
    set(steps, 0);
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    add<<<1, 1, 0, st>>>(steps, 100);
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    cudaGraph_t g = nullptr;
    const cudaGraphNode_t *deps = nullptr;
    size_t ndeps = 0;
#if CUDART_VERSION >= 13000
    CK(cudaStreamGetCaptureInfo(st, &status, nullptr, &g, &deps, nullptr, &ndeps));
#else
    CK(cudaStreamGetCaptureInfo(st, &status, nullptr, &g, &deps, &ndeps));
#endif
    EXPECT(status == cudaStreamCaptureStatusActive && g && ndeps == 1, "capture info: %d %p %zu", (int)status,
           (void *)g, ndeps);
    cudaGraphConditionalHandle h;
    CK_FATAL(cudaGraphConditionalHandleCreate(&h, g, 1, cudaGraphCondAssignDefault));
    cudaGraph_t body;
    cudaGraphNode_t loop = conditional_after(g, deps, ndeps, h, cudaGraphCondTypeWhile, 1, &body);
#if CUDART_VERSION >= 13000
    CK(cudaStreamUpdateCaptureDependencies(st, &loop, nullptr, 1, cudaStreamSetCaptureDependencies));
#else
    CK(cudaStreamUpdateCaptureDependencies(st, &loop, 1, cudaStreamSetCaptureDependencies));
#endif
    cudaStream_t inner;
    CK_FATAL(cudaStreamCreateWithFlags(&inner, cudaStreamNonBlocking));
    CK(cudaStreamBeginCaptureToGraph(inner, body, nullptr, nullptr, 0, cudaStreamCaptureModeThreadLocal));
    count_down<<<1, 1, 0, inner>>>(h, counter, steps);
    cudaGraph_t filled = nullptr;
    CK(cudaStreamEndCapture(inner, &filled));
    add<<<1, 1, 0, st>>>(steps, 1000);
    cudaGraph_t whole = nullptr;
    CK(cudaStreamEndCapture(st, &whole));
    EXPECT(whole == g && filled == body, "capture gave %p (building %p), body %p (%p)", (void *)whole, (void *)g,
           (void *)filled, (void *)body);
    cudaGraphExec_t ex;
    CK_FATAL(cudaGraphInstantiate(&ex, whole, 0));
    CK(cudaGraphLaunch(ex, st));
    CK(cudaStreamSynchronize(st));
    EXPECT(read(counter) == 0 && read(steps) == 1104, "loop in a capture: counter %d, steps %d, expected 0 and 1104",
           read(counter), read(steps));
    CK(cudaGraphExecDestroy(ex));
    CK(cudaGraphDestroy(whole));
    CK(cudaStreamDestroy(inner));
}

int main()
{
    CK_FATAL(cudaSetDevice(0));
    cudaStream_t st;
    CK_FATAL(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    int *d = nullptr;
    CK_FATAL(cudaMalloc(&d, 4 * sizeof(int)));
    while_loop(st, d);
    if_else(st, d, false);
    if_else(st, d, true);
    switch_node(st, d);
    captured_body(st, d);
    inside_capture(st, d);
    CK(cudaFree(d));
    CK(cudaStreamDestroy(st));
    CK(cudaDeviceSynchronize());
    CK(cudaGetLastError());
    return ct_done("cudart graph_cond");
}
