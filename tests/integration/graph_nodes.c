/*
 * graph_nodes.c — a graph's nodes after they are made, through rgpu: a
 * node's dependencies and dependents (v1 and v2 forms, edge data), removing
 * edges (all or nothing) and nodes, memset and copy nodes' parameters read
 * back and changed, event record and wait nodes' events, an executable
 * graph's memset, copy, kernel and event nodes changed after instantiation
 * (its graph's nodes untouched, the documented limits refused), nodes
 * disabled and enabled again, the instantiation flags, a node found in a
 * clone, CUDA 12.2's calls for nodes of any type (cuGraphAddNode,
 * cuGraphNodeSetParams, cuGraphExecNodeSetParams), and child graph nodes (a
 * copy of the graph, changed through its own handle, replaced in an
 * executable graph, reached by cuGraphExecUpdate, recorded for a graph
 * launched on a capturing stream), and captures into a graph of the
 * caller's (cuStreamBeginCaptureToGraph: after given nodes, the same graph
 * back, left to the caller when the capture fails). Results are computed on
 * the host and compared after each launch.
 *
 * Every expectation holds on NVIDIA's driver too (tests/gpu/run runs this
 * natively). Usage: graph_nodes KERNEL_DIR (see it_images.h).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "it_client.h"
#include "it_images.h"

#define N 1024
#define BLOCK 128

static CUfunction f_saxpy;
static CUdeviceptr x, y, out, w;
static float hx[N];
static CUstream s;

static unsigned fbits(float f)
{
    unsigned u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* p must hold a * x + b everywhere (small integers: exact in float) */
static void expect_buf(CUdeviceptr p, float a, float b, const char *what)
{
    static float h[N];
    CHECK(cuMemcpyDtoH(h, p, sizeof h));
    for (int i = 0; i < N; i++)
        if (h[i] != a * hx[i] + b) {
            it_fail(__FILE__, __LINE__, "%s: element %d is %g, expected %g", what, i, h[i], a * hx[i] + b);
            return;
        }
}

static void fill(CUdeviceptr p, float v) { CHECK(cuMemsetD32(p, fbits(v), N)); }

static void run(CUgraphExec e)
{
    CHECK(cuGraphLaunch(e, s));
    CHECK(cuStreamSynchronize(s));
}

static bool has(const CUgraphNode *v, size_t n, CUgraphNode want)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == want)
            return true;
    return false;
}

static size_t deps_of(CUgraphNode n, CUgraphNode *v, size_t cap)
{
    size_t k = cap;
    CHECK(cuGraphNodeGetDependencies(n, v, NULL, &k));
    return k;
}

static size_t dependents_of(CUgraphNode n, CUgraphNode *v, size_t cap)
{
    size_t k = cap;
    CHECK(cuGraphNodeGetDependentNodes(n, v, NULL, &k));
    return k;
}

static size_t nodes_of(CUgraph g)
{
    size_t k = 0;
    CHECK(cuGraphGetNodes(g, NULL, &k));
    return k;
}

static CUDA_KERNEL_NODE_PARAMS saxpy_params(void **args)
{
    return (CUDA_KERNEL_NODE_PARAMS){.func = f_saxpy, .gridDimX = N / BLOCK, .gridDimY = 1, .gridDimZ = 1,
                                     .blockDimX = BLOCK, .blockDimY = 1, .blockDimZ = 1, .kernelParams = args};
}

/* The graph every case starts from:
 *   A: y = 1 (memset)   C: w = 0 (memset)
 *   B: y = 2x + y (saxpy, after A)
 *   D: empty (after B and C)
 *   E: out = y (copy, after D)              so out = 2x + 1 */
static CUgraph g;
static CUgraphNode A, B, C, D, E;
static float a_coef = 2.0f;
static int n_elems = N;
static void *sargs[] = {&a_coef, &x, &y, &n_elems};

static void build(void)
{
    CHECK(cuGraphCreate(&g, 0));
    CUDA_MEMSET_NODE_PARAMS m = {.dst = y, .value = fbits(1.0f), .elementSize = 4, .width = N, .height = 1};
    CHECK(cuGraphAddMemsetNode(&A, g, NULL, 0, &m, NULL));
    CUDA_KERNEL_NODE_PARAMS k = saxpy_params(sargs);
    CHECK(cuGraphAddKernelNode(&B, g, &A, 1, &k));
    m.dst = w;
    m.value = 0;
    CHECK(cuGraphAddMemsetNode(&C, g, NULL, 0, &m, NULL));
    CUgraphNode bc[] = {B, C};
    CHECK(cuGraphAddEmptyNode(&D, g, bc, 2));
    CUDA_MEMCPY3D cp = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = y, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                        .dstDevice = out, .WidthInBytes = N * sizeof(float), .Height = 1, .Depth = 1};
    CHECK(cuGraphAddMemcpyNode(&E, g, &D, 1, &cp, NULL));
}

static void queries(void)
{
    CUgraphNode v[4];
    memset(v, 0xff, sizeof v);
    EXPECT_EQ(deps_of(D, NULL, 0), 2);
    EXPECT_EQ(deps_of(D, v, 4), 2);
    EXPECT_TRUE(has(v, 2, B) && has(v, 2, C) && !v[2] && !v[3]);
    EXPECT_EQ(deps_of(D, v, 1), 1); /* as many as asked for */
    EXPECT_TRUE(v[0] == B || v[0] == C);
    EXPECT_EQ(deps_of(A, v, 4), 0);
    EXPECT_EQ(dependents_of(A, v, 4), 1);
    EXPECT_EQ(v[0], B);
    EXPECT_EQ(dependents_of(C, v, 4), 1);
    EXPECT_EQ(v[0], D);
    EXPECT_EQ(dependents_of(E, NULL, 0), 0);
    /* edge data: the default kind */
    CUgraphEdgeData ed[2];
    memset(ed, 0xff, sizeof ed);
    size_t k = 2;
    CHECK(cuGraphNodeGetDependencies(D, v, ed, &k));
    EXPECT_EQ(k, 2);
    EXPECT_ALLBYTES(ed, 0, sizeof ed, "edge data of D's dependencies");
    EXPECT_RESULT(cuGraphNodeGetDependencies(D, NULL, ed, &k), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuGraphNodeGetDependencies(D, v, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    /* the CUDA 12.0 entry points (no edge data), as a program built then finds them */
    CUresult (*deps_v1)(CUgraphNode, CUgraphNode *, size_t *) =
        (CUresult(*)(CUgraphNode, CUgraphNode *, size_t *))dlsym(RTLD_DEFAULT, "cuGraphNodeGetDependencies");
    CUresult (*dependents_v1)(CUgraphNode, CUgraphNode *, size_t *) =
        (CUresult(*)(CUgraphNode, CUgraphNode *, size_t *))dlsym(RTLD_DEFAULT, "cuGraphNodeGetDependentNodes");
    ASSERT_TRUE(deps_v1 && dependents_v1);
    k = 4;
    CHECK(deps_v1(E, v, &k));
    EXPECT_EQ(k, 1);
    EXPECT_EQ(v[0], D);
    k = 4;
    CHECK(dependents_v1(B, v, &k));
    EXPECT_EQ(k, 1);
    EXPECT_EQ(v[0], D);
    printf("graph_nodes: dependencies and dependents: done\n");
}

static void edits(void)
{
    CUgraphNode v[4];
    /* an edge that does not exist: refused; rgpu's CPU device removes
     * nothing then (all or nothing), which CUDA does not promise */
    CUgraphNode from[] = {C, A}, to[] = {D, D};
    EXPECT_RESULT(cuGraphRemoveDependencies(g, from, to, NULL, 2), CUDA_ERROR_INVALID_VALUE);
    if (deps_of(D, v, 4) == 1 && !round_trips_known())
        CHECK(cuGraphAddDependencies(g, &C, &D, NULL, 1));
    EXPECT_EQ(deps_of(D, v, 4), 2);
    CHECK(cuGraphRemoveDependencies(g, &C, &D, NULL, 1));
    EXPECT_EQ(deps_of(D, v, 4), 1);
    EXPECT_EQ(v[0], B);
    EXPECT_RESULT(cuGraphRemoveDependencies(g, &C, &D, NULL, 1), CUDA_ERROR_INVALID_VALUE); /* gone already */
    CHECK(cuGraphAddDependencies(g, &C, &D, NULL, 1));
    EXPECT_EQ(deps_of(D, v, 4), 2);
    /* a node goes with its edges, both ways */
    CUgraphNode F, G2;
    CHECK(cuGraphAddEmptyNode(&F, g, &E, 1));
    CHECK(cuGraphAddEmptyNode(&G2, g, &F, 1));
    EXPECT_EQ(nodes_of(g), 7);
    CHECK(cuGraphDestroyNode(F));
    EXPECT_EQ(nodes_of(g), 6);
    EXPECT_EQ(dependents_of(E, v, 4), 0);
    EXPECT_EQ(deps_of(G2, v, 4), 0);
    CHECK(cuGraphDestroyNode(G2));
    EXPECT_EQ(nodes_of(g), 5);
    printf("graph_nodes: edges and nodes removed: done\n");
}

static void node_params(void)
{
    CUDA_MEMSET_NODE_PARAMS m;
    memset(&m, 0xff, sizeof m);
    CHECK(cuGraphMemsetNodeGetParams(A, &m));
    EXPECT_EQ(m.dst, y);
    EXPECT_EQ(m.value, fbits(1.0f));
    EXPECT_EQ(m.elementSize, 4);
    EXPECT_EQ(m.width, N);
    EXPECT_EQ(m.height, 1);
    CUDA_MEMCPY3D c;
    memset(&c, 0xff, sizeof c);
    CHECK(cuGraphMemcpyNodeGetParams(E, &c));
    EXPECT_EQ(c.srcDevice, y);
    EXPECT_EQ(c.dstDevice, out);
    EXPECT_EQ(c.WidthInBytes, N * sizeof(float));
    EXPECT_EQ(c.Height, 1);
    EXPECT_EQ(c.Depth, 1);
    /* wrong kinds of node */
    EXPECT_ERROR(cuGraphMemsetNodeGetParams(B, &m));
    EXPECT_ERROR(cuGraphMemcpyNodeGetParams(A, &c));
    CUDA_MEMSET_NODE_PARAMS bad = m;
    bad.elementSize = 3;
    EXPECT_ERROR(cuGraphMemsetNodeSetParams(A, &bad));
    /* the graph runs with what was set last */
    m.value = fbits(5.0f);
    CHECK(cuGraphMemsetNodeSetParams(A, &m));
    CHECK(cuGraphMemsetNodeGetParams(A, &m));
    EXPECT_EQ(m.value, fbits(5.0f));
    c.dstDevice = w;
    CHECK(cuGraphMemcpyNodeSetParams(E, &c));
    /* C zeroes w, but D (so E) waits for it */
    CUgraphExec e;
    CHECK(cuGraphInstantiate(&e, g, 0));
    fill(out, -1.0f);
    run(e);
    expect_buf(w, 2.0f, 5.0f, "copy node pointed at w");
    expect_buf(out, 0.0f, -1.0f, "out, no longer copied to");
    CHECK(cuGraphExecDestroy(e));
    /* back as it was */
    m.value = fbits(1.0f);
    CHECK(cuGraphMemsetNodeSetParams(A, &m));
    c.dstDevice = out;
    CHECK(cuGraphMemcpyNodeSetParams(E, &c));
    printf("graph_nodes: memset and copy nodes' parameters: done\n");
}

static void exec_params(void)
{
    CUgraphExec e;
    cuuint64_t flags = 99;
    CHECK(cuGraphInstantiate(&e, g, 0));
    CHECK(cuGraphExecGetFlags(e, &flags));
    EXPECT_EQ(flags, 0);
    run(e);
    expect_buf(out, 2.0f, 1.0f, "graph as built");

    /* memset and copy of the executable graph; the graph's nodes keep theirs */
    CUDA_MEMSET_NODE_PARAMS m = {.dst = y, .value = fbits(3.0f), .elementSize = 4, .width = N, .height = 1};
    CHECK(cuGraphExecMemsetNodeSetParams(e, A, &m, NULL));
    CUDA_MEMCPY3D c = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = y, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                       .dstDevice = w, .WidthInBytes = N * sizeof(float), .Height = 1, .Depth = 1};
    fill(out, -1.0f);
    CHECK(cuGraphExecMemcpyNodeSetParams(e, E, &c, NULL));
    run(e);
    expect_buf(w, 2.0f, 3.0f, "exec: memset 3, copied to w");
    expect_buf(out, 0.0f, -1.0f, "exec: out not copied to");
    CUDA_MEMSET_NODE_PARAMS gm;
    CHECK(cuGraphMemsetNodeGetParams(A, &gm));
    EXPECT_EQ(gm.value, fbits(1.0f));
    /* the documented limits: a memset's height, a copy's dimensions, the node's kind */
    CUDA_MEMSET_NODE_PARAMS tall = m;
    tall.width = N / 2;
    tall.height = 2;
    tall.pitch = N / 2 * sizeof(float);
    EXPECT_RESULT(cuGraphExecMemsetNodeSetParams(e, A, &tall, NULL), CUDA_ERROR_INVALID_VALUE);
    CUDA_MEMCPY3D flat2d = c;
    flat2d.WidthInBytes = N / 2 * sizeof(float);
    flat2d.Height = 2;
    flat2d.srcPitch = flat2d.dstPitch = N / 2 * sizeof(float);
    EXPECT_RESULT(cuGraphExecMemcpyNodeSetParams(e, E, &flat2d, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_ERROR(cuGraphExecMemsetNodeSetParams(e, E, &m, NULL));
    run(e);
    expect_buf(w, 2.0f, 3.0f, "exec after refused changes");

    /* a disabled node runs as an empty one */
    unsigned on = 7;
    CHECK(cuGraphNodeGetEnabled(e, B, &on));
    EXPECT_EQ(on, 1);
    CHECK(cuGraphNodeSetEnabled(e, B, 0));
    CHECK(cuGraphNodeGetEnabled(e, B, &on));
    EXPECT_EQ(on, 0);
    run(e);
    expect_buf(w, 0.0f, 3.0f, "kernel node disabled");
    CHECK(cuGraphNodeSetEnabled(e, A, 0));
    fill(y, 9.0f);
    run(e);
    expect_buf(w, 0.0f, 9.0f, "memset node disabled too");
    CHECK(cuGraphNodeSetEnabled(e, A, 1));
    CHECK(cuGraphNodeSetEnabled(e, B, 1));
    run(e);
    expect_buf(w, 2.0f, 3.0f, "both enabled again");
    EXPECT_ERROR(cuGraphNodeSetEnabled(e, D, 0)); /* an empty node: not one of the kinds */
    EXPECT_ERROR(cuGraphNodeGetEnabled(e, D, &on));

    /* a node made after instantiation is not the executable graph's */
    CUgraphNode late;
    CHECK(cuGraphAddMemsetNode(&late, g, NULL, 0, &m, NULL));
    EXPECT_ERROR(cuGraphExecMemsetNodeSetParams(e, late, &m, NULL));
    EXPECT_ERROR(cuGraphNodeSetEnabled(e, late, 0));
    CHECK(cuGraphDestroyNode(late));
    CHECK(cuGraphExecDestroy(e));

    CHECK(cuGraphInstantiate(&e, g, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH));
    CHECK(cuGraphExecGetFlags(e, &flags));
    EXPECT_EQ(flags, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH);
    CHECK(cuGraphExecDestroy(e));
    printf("graph_nodes: executable graph's nodes changed, disabled, enabled: done\n");
}

/* An event was recorded iff it times against itself. */
static bool recorded(CUevent ev)
{
    float ms;
    CUresult r = cuEventElapsedTime(&ms, ev, ev);
    EXPECT_TRUE(r == CUDA_SUCCESS || r == CUDA_ERROR_INVALID_HANDLE);
    return r == CUDA_SUCCESS;
}

static void event_nodes(void)
{
    CUevent ev[3], got = NULL;
    for (int i = 0; i < 3; i++)
        CHECK(cuEventCreate(&ev[i], CU_EVENT_DEFAULT));
    CUgraphNode rec, wait;
    CHECK(cuGraphAddEventRecordNode(&rec, g, &E, 1, ev[0]));
    CHECK(cuGraphAddEventWaitNode(&wait, g, NULL, 0, ev[2]));
    CHECK(cuGraphEventRecordNodeGetEvent(rec, &got));
    EXPECT_EQ(got, ev[0]);
    CHECK(cuGraphEventRecordNodeSetEvent(rec, ev[1]));
    CHECK(cuGraphEventRecordNodeGetEvent(rec, &got));
    EXPECT_EQ(got, ev[1]);
    CHECK(cuGraphEventWaitNodeGetEvent(wait, &got));
    EXPECT_EQ(got, ev[2]);
    CHECK(cuGraphEventWaitNodeSetEvent(wait, ev[0]));
    CHECK(cuGraphEventWaitNodeGetEvent(wait, &got));
    EXPECT_EQ(got, ev[0]);
    EXPECT_ERROR(cuGraphEventRecordNodeGetEvent(wait, &got));
    EXPECT_ERROR(cuGraphEventWaitNodeSetEvent(rec, ev[0]));
    /* the event handed back is still usable: it stays its own context's,
     * also when another context asked for it and is gone since */
    CUcontext mine, other;
    CHECK(cuCtxGetCurrent(&mine));
    CHECK(cuCtxCreate(&other, NULL, 0, 0));
    CHECK(cuGraphEventWaitNodeGetEvent(wait, &got));
    CHECK(cuCtxDestroy(other));
    CHECK(cuCtxSetCurrent(mine));
    CHECK(cuEventRecord(got, s));
    CHECK(cuStreamSynchronize(s));

    CUgraphExec e;
    CHECK(cuGraphInstantiate(&e, g, 0));
    run(e);
    EXPECT_TRUE(recorded(ev[1]));
    EXPECT_TRUE(!recorded(ev[2]));
    CHECK(cuGraphExecEventRecordNodeSetEvent(e, rec, ev[2]));
    CHECK(cuGraphExecEventWaitNodeSetEvent(e, wait, ev[1]));
    run(e);
    EXPECT_TRUE(recorded(ev[2]));
    CHECK(cuGraphEventRecordNodeGetEvent(rec, &got)); /* the graph's node keeps its own */
    EXPECT_EQ(got, ev[1]);
    EXPECT_ERROR(cuGraphExecEventWaitNodeSetEvent(e, rec, ev[1]));
    CHECK(cuGraphExecDestroy(e));
    CHECK(cuGraphDestroyNode(rec));
    CHECK(cuGraphDestroyNode(wait));
    for (int i = 0; i < 3; i++)
        CHECK(cuEventDestroy(ev[i]));
    printf("graph_nodes: event record and wait nodes: done\n");
}

static void clones(void)
{
    CUgraph c;
    CUgraphNode cb, ca, v[2];
    CHECK(cuGraphClone(&c, g));
    CHECK(cuGraphNodeFindInClone(&cb, B, c));
    CHECK(cuGraphNodeFindInClone(&ca, A, c));
    EXPECT_TRUE(cb != B && ca != A && cb != ca);
    CUgraphNodeType t;
    CHECK(cuGraphNodeGetType(cb, &t));
    EXPECT_EQ(t, CU_GRAPH_NODE_TYPE_KERNEL);
    EXPECT_EQ(deps_of(cb, v, 2), 1);
    EXPECT_EQ(v[0], ca);
    /* not a clone of the node's graph; a node made after the clone */
    EXPECT_ERROR(cuGraphNodeFindInClone(&cb, B, g));
    CUgraphNode late;
    CHECK(cuGraphAddEmptyNode(&late, g, NULL, 0));
    EXPECT_ERROR(cuGraphNodeFindInClone(&cb, late, c));
    CHECK(cuGraphDestroyNode(late));
    /* the clone runs on its own: its memset changed, the original's not */
    CUDA_MEMSET_NODE_PARAMS m;
    CHECK(cuGraphMemsetNodeGetParams(ca, &m));
    m.value = fbits(7.0f);
    CHECK(cuGraphMemsetNodeSetParams(ca, &m));
    CUgraphExec e;
    CHECK(cuGraphInstantiate(&e, c, 0));
    run(e);
    expect_buf(out, 2.0f, 7.0f, "clone with its own memset");
    CHECK(cuGraphExecDestroy(e));
    CHECK(cuGraphMemsetNodeGetParams(A, &m));
    EXPECT_EQ(m.value, fbits(1.0f));
    CHECK(cuGraphDestroy(c));
    printf("graph_nodes: nodes found in a clone: done\n");
}

static void generic(void)
{
    CUgraph h;
    CHECK(cuGraphCreate(&h, 0));
    CUgraphNodeParams p;
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_MEMSET;
    p.memset = (CUDA_MEMSET_NODE_PARAMS_v2){.dst = y, .value = fbits(4.0f), .elementSize = 4, .width = N, .height = 1};
    CUgraphNode first, ms, k, cp;
    CUgraphNodeParams none;
    memset(&none, 0, sizeof none);
    none.type = CU_GRAPH_NODE_TYPE_EMPTY;
    CHECK(cuGraphAddNode(&first, h, NULL, NULL, 0, &none));
    CHECK(cuGraphAddNode(&ms, h, NULL, NULL, 0, &p));
    float a = 3.0f;
    void *args[] = {&a, &x, &y, &n_elems};
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_KERNEL;
    p.kernel = (CUDA_KERNEL_NODE_PARAMS_v3){.func = f_saxpy, .gridDimX = N / BLOCK, .gridDimY = 1, .gridDimZ = 1,
                                            .blockDimX = BLOCK, .blockDimY = 1, .blockDimZ = 1, .kernelParams = args};
    CUgraphEdgeData plain = {0};
    CHECK(cuGraphAddNode(&k, h, &ms, &plain, 1, &p));
    CUgraphNodeParams cpp;
    memset(&cpp, 0, sizeof cpp);
    cpp.type = CU_GRAPH_NODE_TYPE_MEMCPY;
    cpp.memcpy.copyParams = (CUDA_MEMCPY3D){.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = y,
                                            .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = out,
                                            .WidthInBytes = N * sizeof(float), .Height = 1, .Depth = 1};
    CHECK(cuGraphAddNode(&cp, h, &k, NULL, 1, &cpp));
    CUgraphNodeType t;
    CHECK(cuGraphNodeGetType(k, &t));
    EXPECT_EQ(t, CU_GRAPH_NODE_TYPE_KERNEL);
    /* reserved bytes must be zero; the type must be the node's */
    CUgraphNodeParams bad = p;
    bad.reserved0[1] = 1;
    CUgraphNode never;
    EXPECT_RESULT(cuGraphAddNode(&never, h, NULL, NULL, 0, &bad), CUDA_ERROR_INVALID_VALUE);
    EXPECT_ERROR(cuGraphNodeSetParams(ms, &p));
    CUgraphNodeParams empty;
    memset(&empty, 0, sizeof empty);
    empty.type = CU_GRAPH_NODE_TYPE_EMPTY;
    EXPECT_ERROR(cuGraphNodeSetParams(ms, &empty));

    CUgraphExec e;
    CHECK(cuGraphInstantiate(&e, h, 0));
    run(e);
    expect_buf(out, 3.0f, 4.0f, "graph of cuGraphAddNode");
    /* the executable graph's nodes are still found after a node before them left the graph */
    CHECK(cuGraphDestroyNode(first));
    /* the graph's memset through cuGraphNodeSetParams, the exec's kernel through cuGraphExecNodeSetParams */
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_MEMSET;
    p.memset = (CUDA_MEMSET_NODE_PARAMS_v2){.dst = y, .value = fbits(6.0f), .elementSize = 4, .width = N, .height = 1};
    CHECK(cuGraphNodeSetParams(ms, &p));
    CUDA_MEMSET_NODE_PARAMS m;
    CHECK(cuGraphMemsetNodeGetParams(ms, &m));
    EXPECT_EQ(m.value, fbits(6.0f));
    a = 5.0f;
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_KERNEL;
    p.kernel = (CUDA_KERNEL_NODE_PARAMS_v3){.func = f_saxpy, .gridDimX = N / BLOCK, .gridDimY = 1, .gridDimZ = 1,
                                            .blockDimX = BLOCK, .blockDimY = 1, .blockDimZ = 1, .kernelParams = args};
    CHECK(cuGraphExecNodeSetParams(e, k, &p));
    run(e);
    expect_buf(out, 5.0f, 4.0f, "exec kernel through cuGraphExecNodeSetParams"); /* exec keeps memset 4 */
    CHECK(cuGraphExecDestroy(e));
    CHECK(cuGraphInstantiate(&e, h, 0));
    run(e);
    expect_buf(out, 3.0f, 6.0f, "new instantiation: the graph's nodes");
    CHECK(cuGraphExecDestroy(e));
    CHECK(cuGraphDestroy(h));
    printf("graph_nodes: cuGraphAddNode, cuGraphNodeSetParams, cuGraphExecNodeSetParams: done\n");
}

/* ---- kernel nodes' launch attributes ---- */
static void kernel_attributes(void)
{
    CUkernelNodeAttrValue v;
    memset(&v, 0x5a, sizeof v);
    CHECK(cuGraphKernelNodeGetAttribute(B, CU_KERNEL_NODE_ATTRIBUTE_PRIORITY, &v));
    EXPECT_EQ(v.priority, 0); /* never set: the default */
    v.priority = -1;
    CHECK(cuGraphKernelNodeSetAttribute(B, CU_KERNEL_NODE_ATTRIBUTE_PRIORITY, &v));
    memset(&v, 0, sizeof v);
    v.accessPolicyWindow = (CUaccessPolicyWindow){.base_ptr = (void *)(uintptr_t)y, .num_bytes = 4096, .hitRatio = 0.25f,
                                                  .hitProp = CU_ACCESS_PROPERTY_PERSISTING,
                                                  .missProp = CU_ACCESS_PROPERTY_NORMAL};
    CHECK(cuGraphKernelNodeSetAttribute(B, CU_KERNEL_NODE_ATTRIBUTE_ACCESS_POLICY_WINDOW, &v));
    memset(&v, 0, sizeof v);
    v.clusterDim.x = 3; /* does not divide the grid of 8 blocks */
    v.clusterDim.y = v.clusterDim.z = 1;
    EXPECT_ERROR(cuGraphKernelNodeSetAttribute(B, CU_KERNEL_NODE_ATTRIBUTE_CLUSTER_DIMENSION, &v));
    EXPECT_ERROR(cuGraphKernelNodeGetAttribute(A, CU_KERNEL_NODE_ATTRIBUTE_PRIORITY, &v)); /* a memset node */
    memset(&v, 0, sizeof v);
    v.cooperative = 1;
    CHECK(cuGraphKernelNodeSetAttribute(B, CU_KERNEL_NODE_ATTRIBUTE_COOPERATIVE, &v));

    /* new parameters keep the attributes; another node takes them all */
    CUDA_KERNEL_NODE_PARAMS k = saxpy_params(sargs);
    CHECK(cuGraphKernelNodeSetParams(B, &k));
    CUgraphNode k2;
    CHECK(cuGraphAddKernelNode(&k2, g, NULL, 0, &k));
    CHECK(cuGraphKernelNodeCopyAttributes(k2, B));
    CUgraphNode both[] = {B, k2};
    for (int i = 0; i < 2; i++) {
        memset(&v, 0x5a, sizeof v);
        CHECK(cuGraphKernelNodeGetAttribute(both[i], CU_KERNEL_NODE_ATTRIBUTE_PRIORITY, &v));
        EXPECT_EQ(v.priority, -1);
        CHECK(cuGraphKernelNodeGetAttribute(both[i], CU_KERNEL_NODE_ATTRIBUTE_ACCESS_POLICY_WINDOW, &v));
        EXPECT_TRUE(v.accessPolicyWindow.num_bytes == 4096 && v.accessPolicyWindow.hitRatio == 0.25f &&
                    v.accessPolicyWindow.hitProp == CU_ACCESS_PROPERTY_PERSISTING);
        CHECK(cuGraphKernelNodeGetAttribute(both[i], CU_KERNEL_NODE_ATTRIBUTE_COOPERATIVE, &v));
        EXPECT_EQ(v.cooperative, 1);
    }
    CHECK(cuGraphDestroyNode(k2));
    /* a clone's node has them too */
    CUgraph c;
    CUgraphNode cb;
    CHECK(cuGraphClone(&c, g));
    CHECK(cuGraphNodeFindInClone(&cb, B, c));
    memset(&v, 0x5a, sizeof v);
    CHECK(cuGraphKernelNodeGetAttribute(cb, CU_KERNEL_NODE_ATTRIBUTE_PRIORITY, &v));
    EXPECT_EQ(v.priority, -1);
    CHECK(cuGraphDestroy(c));
    /* the graph still computes out = 2x + 1, its kernel launched cooperatively */
    CUgraphExec e;
    CHECK(cuGraphInstantiate(&e, g, 0));
    fill(out, -1.0f);
    run(e);
    expect_buf(out, 2.0f, 1.0f, "graph with a cooperative kernel node");
    CHECK(cuGraphExecDestroy(e));
    v.cooperative = 0;
    CHECK(cuGraphKernelNodeSetAttribute(B, CU_KERNEL_NODE_ATTRIBUTE_COOPERATIVE, &v));
    printf("graph_nodes: kernel node attributes: done\n");
}

/* ---- host nodes: their function and argument read back and changed ---- */
static _Atomic int calls_a, calls_b;
static void CUDA_CB host_a(void *arg) { calls_a += *(int *)arg; }
static void CUDA_CB host_b(void *arg) { calls_b += *(int *)arg; }

static void host_nodes(void)
{
    static int one = 1, ten = 10;
    CUgraph h;
    CUgraphNode hn;
    CHECK(cuGraphCreate(&h, 0));
    CUDA_HOST_NODE_PARAMS hp = {host_a, &one}, got = {NULL, NULL};
    CHECK(cuGraphAddHostNode(&hn, h, NULL, 0, &hp));
    CHECK(cuGraphHostNodeGetParams(hn, &got));
    EXPECT_TRUE(got.fn == host_a && got.userData == &one);
    hp = (CUDA_HOST_NODE_PARAMS){host_b, &ten};
    CHECK(cuGraphHostNodeSetParams(hn, &hp));
    CHECK(cuGraphHostNodeGetParams(hn, &got));
    EXPECT_TRUE(got.fn == host_b && got.userData == &ten);
    EXPECT_ERROR(cuGraphHostNodeGetParams(A, &got)); /* a memset node */

    CUgraphExec e;
    CHECK(cuGraphInstantiate(&e, h, 0));
    calls_a = calls_b = 0;
    run(e);
    EXPECT_TRUE(calls_a == 0 && calls_b == 10);
    hp = (CUDA_HOST_NODE_PARAMS){host_a, &ten};
    CHECK(cuGraphExecHostNodeSetParams(e, hn, &hp));
    run(e);
    EXPECT_TRUE(calls_a == 10 && calls_b == 10);
    CHECK(cuGraphHostNodeGetParams(hn, &got)); /* the graph's node keeps its own */
    EXPECT_TRUE(got.fn == host_b && got.userData == &ten);
    /* and through the calls for any node type */
    CUgraphNodeParams p;
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_HOST;
    p.host = (CUDA_HOST_NODE_PARAMS_v2){host_b, &one};
    CHECK(cuGraphExecNodeSetParams(e, hn, &p));
    run(e);
    EXPECT_TRUE(calls_a == 10 && calls_b == 11);
    p.host = (CUDA_HOST_NODE_PARAMS_v2){host_a, &one};
    CHECK(cuGraphNodeSetParams(hn, &p));
    CHECK(cuGraphHostNodeGetParams(hn, &got));
    EXPECT_TRUE(got.fn == host_a && got.userData == &one);
    CHECK(cuGraphExecDestroy(e));
    CHECK(cuGraphDestroy(h));
    printf("graph_nodes: host nodes' parameters: done\n");
}

/* A graph of memset(y = v) -> saxpy(y = 3x + y) -> copy(out = y): out = 3x + v. */
static CUgraph small_graph(float v)
{
    CUgraph cg;
    CUgraphNode ms, k, cp;
    static float three = 3.0f;
    static void *args[] = {&three, &x, &y, &n_elems};
    CHECK(cuGraphCreate(&cg, 0));
    CUDA_MEMSET_NODE_PARAMS m = {.dst = y, .value = fbits(v), .elementSize = 4, .width = N, .height = 1};
    CHECK(cuGraphAddMemsetNode(&ms, cg, NULL, 0, &m, NULL));
    CUDA_KERNEL_NODE_PARAMS kp = saxpy_params(args);
    CHECK(cuGraphAddKernelNode(&k, cg, &ms, 1, &kp));
    CUDA_MEMCPY3D c = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = y, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                       .dstDevice = out, .WidthInBytes = N * sizeof(float), .Height = 1, .Depth = 1};
    CHECK(cuGraphAddMemcpyNode(&cp, cg, &k, 1, &c, NULL));
    return cg;
}

/* The (only) memset node at the root of g gets value v. */
static void set_root_memset(CUgraph g, float v)
{
    CUgraphNode root;
    size_t n = 1;
    CHECK(cuGraphGetRootNodes(g, &root, &n));
    ASSERT_EQ(n, 1);
    CUDA_MEMSET_NODE_PARAMS m;
    CHECK(cuGraphMemsetNodeGetParams(root, &m));
    m.value = fbits(v);
    CHECK(cuGraphMemsetNodeSetParams(root, &m));
}

static void children(void)
{
    CUgraph cg = small_graph(2.0f), pg, emb = NULL;
    CUgraphNode zw, K, after;
    CHECK(cuGraphCreate(&pg, 0));
    CUDA_MEMSET_NODE_PARAMS m = {.dst = w, .value = 0, .elementSize = 4, .width = N, .height = 1};
    CHECK(cuGraphAddMemsetNode(&zw, pg, NULL, 0, &m, NULL));
    CHECK(cuGraphAddChildGraphNode(&K, pg, &zw, 1, cg));
    CHECK(cuGraphAddEmptyNode(&after, pg, &K, 1));
    CUgraphNodeType t;
    CHECK(cuGraphNodeGetType(K, &t));
    EXPECT_EQ(t, CU_GRAPH_NODE_TYPE_GRAPH);
    CHECK(cuGraphChildGraphNodeGetGraph(K, &emb));
    EXPECT_TRUE(emb != NULL && emb != cg);
    EXPECT_EQ(nodes_of(emb), 3);
    if (round_trips_known())
        EXPECT_ERROR(cuGraphDestroy(emb)); /* the node's (natively: undefined) */

    /* the graph as a Graphviz file: every node and edge, the child's inside */
    char dot[] = "/tmp/rgpu-graph-XXXXXX";
    int fd = mkstemp(dot);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    CHECK(cuGraphDebugDotPrint(pg, dot, CU_GRAPH_DEBUG_DOT_FLAGS_VERBOSE));
    FILE *df = fopen(dot, "r");
    ASSERT_TRUE(df != NULL);
    char line[512];
    int lines = 0, arrows = 0, saxpy_seen = 0;
    while (fgets(line, sizeof line, df)) {
        if (lines++ == 0)
            EXPECT_TRUE(strncmp(line, "digraph", 7) == 0);
        arrows += strstr(line, "\" -> \"") != NULL; /* an edge, not a copy's label */
        saxpy_seen |= strstr(line, "saxpy") != NULL;
    }
    fclose(df);
    unlink(dot);
    if (round_trips_known()) /* rgpu's layout: an edge a line; NVIDIA's driver writes its own */
        EXPECT_TRUE(arrows == 4 && saxpy_seen);
    EXPECT_RESULT(cuGraphDebugDotPrint(pg, NULL, 0), CUDA_ERROR_INVALID_VALUE);

    /* the node runs its copy: later changes to cg are not its, changes through emb are */
    set_root_memset(cg, 5.0f);
    CUgraphExec e;
    CHECK(cuGraphInstantiate(&e, pg, 0));
    run(e);
    expect_buf(out, 3.0f, 2.0f, "child graph node: its copy of the graph");
    CHECK(cuGraphExecDestroy(e));
    set_root_memset(emb, 4.0f);
    CHECK(cuGraphInstantiate(&e, pg, 0));
    run(e);
    expect_buf(out, 3.0f, 4.0f, "child graph node: changed through its graph");

    /* the executable graph's child: another graph of the same shape */
    CHECK(cuGraphExecChildGraphNodeSetParams(e, K, cg));
    run(e);
    expect_buf(out, 3.0f, 5.0f, "exec child graph set to cg");
    CUgraph other;
    CHECK(cuGraphCreate(&other, 0));
    CUgraphNode lone;
    CHECK(cuGraphAddEmptyNode(&lone, other, NULL, 0));
    EXPECT_ERROR(cuGraphExecChildGraphNodeSetParams(e, K, other)); /* another topology */
    EXPECT_ERROR(cuGraphExecChildGraphNodeSetParams(e, zw, cg));   /* not a child graph node */
    run(e);
    expect_buf(out, 3.0f, 5.0f, "exec child graph after refused changes");

    /* cuGraphExecUpdate reaches into child graphs */
    CUgraph pg2, emb2;
    CUgraphNode K2;
    CHECK(cuGraphClone(&pg2, pg));
    CHECK(cuGraphNodeFindInClone(&K2, K, pg2));
    CHECK(cuGraphChildGraphNodeGetGraph(K2, &emb2));
    set_root_memset(emb2, 6.0f);
    CUgraphExecUpdateResultInfo info;
    CHECK(cuGraphExecUpdate(e, pg2, &info));
    run(e);
    expect_buf(out, 3.0f, 6.0f, "exec updated from a clone with a changed child");
    CHECK(cuGraphAddEmptyNode(&lone, emb2, NULL, 0));
    EXPECT_RESULT(cuGraphExecUpdate(e, pg2, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
    EXPECT_NE(info.result, CU_GRAPH_EXEC_UPDATE_SUCCESS);
    run(e);
    expect_buf(out, 3.0f, 6.0f, "exec after a refused update");
    CHECK(cuGraphExecDestroy(e));
    CHECK(cuGraphDestroy(pg2));

    /* a graph launched on a capturing stream: a child graph node of the capture */
    CUgraphExec ce;
    CHECK(cuGraphInstantiate(&ce, cg, 0));
    CUgraph cap;
    CHECK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
    CHECK(cuMemsetD32Async(w, fbits(1.0f), N, s));
    CHECK(cuGraphLaunch(ce, s));
    CHECK(cuStreamEndCapture(s, &cap));
    EXPECT_EQ(nodes_of(cap), 2);
    CUgraphNode v[2];
    size_t nn = 2;
    CHECK(cuGraphGetNodes(cap, v, &nn));
    int children_found = 0;
    for (size_t i = 0; i < nn; i++) {
        CHECK(cuGraphNodeGetType(v[i], &t));
        children_found += t == CU_GRAPH_NODE_TYPE_GRAPH;
    }
    EXPECT_EQ(children_found, 1);
    fill(out, 0.0f);
    CHECK(cuGraphInstantiate(&e, cap, 0));
    run(e);
    expect_buf(out, 3.0f, 5.0f, "captured graph launch");
    expect_buf(w, 0.0f, 1.0f, "captured memset beside it");
    CHECK(cuGraphExecDestroy(e));
    CHECK(cuGraphDestroy(cap));
    CHECK(cuGraphExecDestroy(ce));

    /* cuGraphAddNode: a child graph, cloned (moving it into the node is not offered by rgpu) */
    CUgraphNodeParams p;
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_GRAPH;
    p.graph.graph = cg;
    CUgraphNode K3;
    CHECK(cuGraphAddNode(&K3, pg, &after, NULL, 1, &p));
    CHECK(cuGraphNodeGetType(K3, &t));
    EXPECT_EQ(t, CU_GRAPH_NODE_TYPE_GRAPH);
    if (round_trips_known()) {
        p.graph.ownership = CU_GRAPH_CHILD_GRAPH_OWNERSHIP_MOVE;
        EXPECT_RESULT(cuGraphAddNode(&K3, pg, NULL, NULL, 0, &p), CUDA_ERROR_NOT_SUPPORTED);
    }
    /* a child node removed takes its graph along, and so does the parent
     * graph its nodes' (rgpud forgets the handles: natively undefined) */
    CUgraph emb3;
    CHECK(cuGraphChildGraphNodeGetGraph(K3, &emb3));
    CHECK(cuGraphDestroyNode(K3));
    CHECK(cuGraphDestroy(pg));
    if (round_trips_known()) {
        EXPECT_RESULT(cuGraphGetNodes(emb3, NULL, &nn), CUDA_ERROR_INVALID_HANDLE);
        EXPECT_RESULT(cuGraphGetNodes(emb, NULL, &nn), CUDA_ERROR_INVALID_HANDLE);
    }
    CHECK(cuGraphDestroy(other));
    CHECK(cuGraphDestroy(cg));
    printf("graph_nodes: child graphs: done\n");
}

/* work captured into a graph that already has nodes, after one of them */
static void capture_to_graph(void)
{
    CUgraph h;
    CUgraphNode first;
    CHECK(cuGraphCreate(&h, 0));
    CUDA_MEMSET_NODE_PARAMS m = {.dst = y, .value = fbits(5.0f), .elementSize = 4, .width = N, .height = 1};
    CHECK(cuGraphAddMemsetNode(&first, h, NULL, 0, &m, NULL)); /* y = 5 */
    CHECK(cuStreamBeginCaptureToGraph(s, h, &first, NULL, 1, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
    CUgraph during = NULL;
    CHECK(cuStreamGetCaptureInfo(s, &st, NULL, &during, NULL, NULL, NULL));
    EXPECT_TRUE(st == CU_STREAM_CAPTURE_STATUS_ACTIVE && during == h);
    a_coef = 3.0f;
    CHECK(cuLaunchKernel(f_saxpy, N / BLOCK, 1, 1, BLOCK, 1, 1, 0, s, sargs, NULL)); /* y = 3x + 5 */
    a_coef = 2.0f;
    CHECK(cuMemcpyDtoDAsync(out, y, N * sizeof(float), s));
    CUgraph back = NULL;
    CHECK(cuStreamEndCapture(s, &back));
    EXPECT_TRUE(back == h);
    size_t n = 0;
    CHECK(cuGraphGetNodes(h, NULL, &n));
    EXPECT_EQ(n, 3);
    CUgraphNode deps[2];
    size_t nd = 2;
    CUgraphNode nodes[3];
    n = 3;
    CHECK(cuGraphGetNodes(h, nodes, &n));
    for (size_t i = 0; i < n; i++) { /* the kernel follows the memset that was there */
        CUgraphNodeType t;
        CHECK(cuGraphNodeGetType(nodes[i], &t));
        if (t == CU_GRAPH_NODE_TYPE_KERNEL) {
            nd = 2;
            CHECK(cuGraphNodeGetDependencies(nodes[i], deps, NULL, &nd));
            EXPECT_TRUE(nd == 1 && deps[0] == first);
        }
    }
    CUgraphExec e;
    fill(out, 0.0f);
    CHECK(cuGraphInstantiate(&e, h, 0));
    run(e);
    expect_buf(out, 3.0f, 5.0f, "captured into a graph after its memset");
    CHECK(cuGraphExecDestroy(e));

    /* a capture that fails leaves the caller's graph to the caller */
    CHECK(cuStreamBeginCaptureToGraph(s, h, NULL, NULL, 0, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CUstream other;
    CHECK(cuStreamCreate(&other, CU_STREAM_NON_BLOCKING));
    CUevent ev;
    CHECK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
    CHECK(cuEventRecord(ev, s));
    CHECK(cuStreamWaitEvent(other, ev, 0)); /* other joins the capture, and is never joined back */
    CHECK(cuMemsetD32Async(w, 0, N, other));
    back = NULL;
    EXPECT_ERROR(cuStreamEndCapture(s, &back));
    EXPECT_TRUE(back == NULL);
    n = 0;
    CHECK(cuGraphGetNodes(h, NULL, &n)); /* still a graph of ours */
    EXPECT_TRUE(n >= 3);
    CHECK(cuEventDestroy(ev));
    CHECK(cuStreamDestroy(other));
    CHECK(cuGraphDestroy(h));
    printf("graph_nodes: capture into a graph: done\n");
}

int main(int argc, char **argv)
{
    const char *dir = it_kernel_dir(argc, argv);
    CHECK(cuInit(0));
    CUdevice dev;
    CUcontext ctx;
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    struct it_image img;
    it_image_load(&img, dir, it_device_cc(dev) >= 120 ? IT_PTX120 : IT_PTX75);
    CUmodule mod;
    CHECK(cuModuleLoadData(&mod, img.data));
    CHECK(cuModuleGetFunction(&f_saxpy, mod, "saxpy"));
    CUdeviceptr *bufs[] = {&x, &y, &out, &w};
    for (int i = 0; i < 4; i++)
        CHECK(cuMemAlloc(bufs[i], N * sizeof(float)));
    for (int i = 0; i < N; i++)
        hx[i] = (float)(i % 61);
    CHECK(cuMemcpyHtoD(x, hx, sizeof hx));
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));

    build();
    queries();
    edits();
    node_params();
    exec_params();
    kernel_attributes();
    event_nodes();
    clones();
    generic();
    children();
    host_nodes();
    capture_to_graph();
    CHECK(cuGraphDestroy(g));

    CHECK(cuStreamDestroy(s));
    for (int i = 0; i < 4; i++)
        CHECK(cuMemFree(*bufs[i]));
    CHECK(cuModuleUnload(mod));
    it_image_free(&img);
    CHECK(cuDevicePrimaryCtxRelease(dev));
    TEST_DONE();
}
