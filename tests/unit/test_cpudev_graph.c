/*
 * test_cpudev_graph.c — CPU device graphs and stream capture, in process:
 * the order in which a launched graph runs its nodes (edges added in any
 * order, a cycle refused), memset / copy / host / event nodes, clones, node
 * and edge lists with short and long arrays, capture with fork and join,
 * cuStreamUpdateCaptureDependencies, the capture rules (isolation, the
 * legacy stream, synchronisation, host copies) and cuGraphExecUpdate's
 * result codes. Kernels are covered by the integration tests (driver.graphs,
 * cudart.graphs), which load real modules.
 *
 * Every test runs on a fresh activation of the primary context. Host
 * functions append to an order log; a graph's result is read after a stream
 * synchronisation.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpudev.h"

#define OK(call) assert_int_equal((call), CUDA_SUCCESS)

static CUcontext primary;

/* ---- helpers ---- */

static struct {
    pthread_mutex_t mu;
    int n;
    int v[64];
} lg = {PTHREAD_MUTEX_INITIALIZER, 0, {0}};

static void CUDA_CB log_fn(void *arg)
{
    pthread_mutex_lock(&lg.mu);
    if (lg.n < 64)
        lg.v[lg.n++] = (int)(intptr_t)arg;
    pthread_mutex_unlock(&lg.mu);
}

static int use_primary(void **state)
{
    (void)state;
    if (cpudev_cuDevicePrimaryCtxRetain(&primary, 0) || cpudev_cuCtxSetCurrent(primary))
        return -1;
    lg.n = 0;
    return 0;
}

static int release_primary(void **state)
{
    (void)state;
    cpudev_cuCtxSetCurrent(primary);
    return cpudev_cuDevicePrimaryCtxRelease_v2(0) == CUDA_SUCCESS ? 0 : -1;
}

static CUgraphNode host_node(CUgraph g, const CUgraphNode *deps, size_t n, int tag)
{
    CUgraphNode h;
    CUDA_HOST_NODE_PARAMS p = {log_fn, (void *)(intptr_t)tag};
    OK(cpudev_cuGraphAddHostNode(&h, g, deps, n, &p));
    return h;
}

static CUstream new_stream(void)
{
    CUstream s;
    OK(cpudev_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    return s;
}

static void launch_sync(CUgraphExec e, CUstream s)
{
    OK(cpudev_cuGraphLaunch(e, s));
    OK(cpudev_cuStreamSynchronize(s));
}

/* ---- explicit graphs ---- */

static void topological_order(void **state)
{
    (void)state;
    CUgraph g;
    OK(cpudev_cuGraphCreate(&g, 0));
    /* made in the order 1 2 3, but 3 must run first and 1 last */
    CUgraphNode n1 = host_node(g, NULL, 0, 1), n2 = host_node(g, NULL, 0, 2), n3 = host_node(g, NULL, 0, 3);
    CUgraphNode from[2] = {n3, n2}, to[2] = {n2, n1};
    OK(cpudev_cuGraphAddDependencies_v2(g, from, to, NULL, 2));
    CUgraphExec e;
    OK(cpudev_cuGraphInstantiateWithFlags(&e, g, 0));
    CUstream s = new_stream();
    launch_sync(e, s);
    launch_sync(e, s);
    assert_int_equal(lg.n, 6);
    int want[6] = {3, 2, 1, 3, 2, 1};
    assert_memory_equal(lg.v, want, sizeof want);
    /* a cycle cannot be instantiated */
    OK(cpudev_cuGraphAddDependencies_v2(g, &n1, &n3, NULL, 1));
    CUgraphExec bad;
    assert_int_equal(cpudev_cuGraphInstantiateWithFlags(&bad, g, 0), CUDA_ERROR_INVALID_VALUE);
    /* a node of another graph, an edge to itself */
    CUgraph g2;
    OK(cpudev_cuGraphCreate(&g2, 0));
    CUgraphNode other;
    assert_int_equal(cpudev_cuGraphAddEmptyNode(&other, g2, &n1, 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cpudev_cuGraphAddDependencies_v2(g, &n1, &n1, NULL, 1), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuGraphExecDestroy(e));
    OK(cpudev_cuGraphDestroy(g));
    OK(cpudev_cuGraphDestroy(g2));
    CUgraphNodeType t;
    assert_int_equal(cpudev_cuGraphNodeGetType(n1, &t), CUDA_ERROR_INVALID_VALUE); /* gone with g */
    assert_int_equal(cpudev_cuGraphLaunch(e, s), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuStreamDestroy_v2(s));
}

static void memory_nodes_and_lists(void **state)
{
    (void)state;
    CUdeviceptr a, b;
    OK(cpudev_cuMemAlloc_v2(&a, 4096));
    OK(cpudev_cuMemAlloc_v2(&b, 4096));
    CUgraph g;
    OK(cpudev_cuGraphCreate(&g, 0));
    CUgraphNode ms, cp, ms2;
    CUDA_MEMSET_NODE_PARAMS mp = {.dst = a, .value = 0x01020304, .elementSize = 4, .width = 1024, .height = 1};
    OK(cpudev_cuGraphAddMemsetNode(&ms, g, NULL, 0, &mp, NULL));
    CUDA_MEMCPY3D c = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = a, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                       .dstDevice = b, .WidthInBytes = 4096, .Height = 1, .Depth = 1};
    OK(cpudev_cuGraphAddMemcpyNode(&cp, g, &ms, 1, &c, NULL));
    /* a 2D memset of 16 rows of 8 bytes in b, pitch 256, after the copy */
    CUDA_MEMSET_NODE_PARAMS m2 = {.dst = b, .pitch = 256, .value = 0xAB, .elementSize = 1, .width = 8, .height = 16};
    OK(cpudev_cuGraphAddMemsetNode(&ms2, g, &cp, 1, &m2, NULL));
    /* bad parameters */
    CUgraphNode bad;
    mp.elementSize = 3;
    assert_int_equal(cpudev_cuGraphAddMemsetNode(&bad, g, NULL, 0, &mp, NULL), CUDA_ERROR_INVALID_VALUE);
    mp.elementSize = 4;
    mp.width = 2048; /* past the allocation */
    assert_int_equal(cpudev_cuGraphAddMemsetNode(&bad, g, NULL, 0, &mp, NULL), CUDA_ERROR_INVALID_VALUE);
    char host[16];
    CUDA_MEMCPY3D hc = c;
    hc.srcMemoryType = CU_MEMORYTYPE_HOST;
    hc.srcHost = host;
    hc.WidthInBytes = sizeof host;
    assert_int_equal(cpudev_cuGraphAddMemcpyNode(&bad, g, NULL, 0, &hc, NULL), CUDA_ERROR_NOT_SUPPORTED);

    /* lists: counts, short arrays, long arrays padded with NULL */
    size_t n = 0;
    OK(cpudev_cuGraphGetNodes(g, NULL, &n));
    assert_int_equal(n, 3);
    CUgraphNode nodes[5];
    n = 2;
    OK(cpudev_cuGraphGetNodes(g, nodes, &n));
    assert_int_equal(n, 2);
    assert_ptr_equal(nodes[0], ms);
    n = 5;
    OK(cpudev_cuGraphGetNodes(g, nodes, &n));
    assert_int_equal(n, 3);
    assert_ptr_equal(nodes[2], ms2);
    assert_null(nodes[3]);
    CUgraphNode from[3], to[3];
    n = 3;
    OK(cpudev_cuGraphGetEdges_v2(g, from, to, NULL, &n));
    assert_int_equal(n, 2);
    assert_ptr_equal(from[0], ms);
    assert_ptr_equal(to[0], cp);
    assert_ptr_equal(from[1], cp);
    assert_ptr_equal(to[1], ms2);
    assert_null(from[2]);
    n = 0;
    OK(cpudev_cuGraphGetRootNodes(g, NULL, &n));
    assert_int_equal(n, 1);

    /* a clone runs like the original */
    CUgraph cl;
    OK(cpudev_cuGraphClone(&cl, g));
    OK(cpudev_cuGraphDestroy(g));
    CUgraphExec e;
    OK(cpudev_cuGraphInstantiateWithFlags(&e, cl, 0));
    CUstream s = new_stream();
    launch_sync(e, s);
    unsigned char hb[4096];
    OK(cpudev_cuMemcpyDtoHAsync_v2(hb, b, sizeof hb, s));
    OK(cpudev_cuStreamSynchronize(s));
    for (int i = 0; i < 4096; i++) {
        int row = i / 256, col = i % 256;
        unsigned char want = row < 16 && col < 8 ? 0xAB : (unsigned char)(4 - i % 4);
        assert_int_equal(hb[i], want);
    }
    /* freed memory: the launch fails, nothing runs */
    OK(cpudev_cuMemFree_v2(b));
    assert_int_equal(cpudev_cuGraphLaunch(e, s), CUDA_ERROR_INVALID_VALUE);
    OK(cpudev_cuGraphExecDestroy(e));
    OK(cpudev_cuGraphDestroy(cl));
    OK(cpudev_cuMemFree_v2(a));
    OK(cpudev_cuStreamDestroy_v2(s));
}

static void event_nodes(void **state)
{
    (void)state;
    CUevent ev;
    OK(cpudev_cuEventCreate(&ev, 0));
    CUgraph g;
    OK(cpudev_cuGraphCreate(&g, 0));
    CUgraphNode h = host_node(g, NULL, 0, 7), rec;
    OK(cpudev_cuGraphAddEventRecordNode(&rec, g, &h, 1, ev));
    CUgraphNodeType t;
    OK(cpudev_cuGraphNodeGetType(rec, &t));
    assert_int_equal(t, CU_GRAPH_NODE_TYPE_EVENT_RECORD);
    CUgraphExec e;
    OK(cpudev_cuGraphInstantiateWithFlags(&e, g, 0));
    CUstream s = new_stream(), s2 = new_stream();
    OK(cpudev_cuGraphLaunch(e, s));
    /* another stream that waits on the event runs after the graph */
    OK(cpudev_cuStreamWaitEvent(s2, ev, 0));
    OK(cpudev_cuLaunchHostFunc(s2, log_fn, (void *)8));
    OK(cpudev_cuStreamSynchronize(s2));
    OK(cpudev_cuEventSynchronize(ev));
    assert_int_equal(lg.n, 2);
    assert_int_equal(lg.v[0], 7);
    assert_int_equal(lg.v[1], 8);
    OK(cpudev_cuGraphExecDestroy(e));
    OK(cpudev_cuGraphDestroy(g));
    OK(cpudev_cuEventDestroy_v2(ev)); /* after its node is gone */
    OK(cpudev_cuStreamDestroy_v2(s));
    OK(cpudev_cuStreamDestroy_v2(s2));
}

/* ---- capture ---- */

static CUstreamCaptureStatus status_of(CUstream s);

/* CU_EVENT_RECORD_EXTERNAL / CU_EVENT_WAIT_EXTERNAL in a capture make event
 * nodes */
static void capture_external_events(void **state)
{
    (void)state;
    CUstream s = new_stream(), other = new_stream();
    CUevent in, outev;
    OK(cpudev_cuEventCreate(&in, 0));
    OK(cpudev_cuEventCreate(&outev, 0));
    OK(cpudev_cuEventRecord(in, other));
    OK(cpudev_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_RELAXED));
    OK(cpudev_cuStreamWaitEvent(s, in, CU_EVENT_WAIT_EXTERNAL)); /* no isolation error: a node */
    OK(cpudev_cuLaunchHostFunc(s, log_fn, (void *)5));
    OK(cpudev_cuEventRecordWithFlags(outev, s, CU_EVENT_RECORD_EXTERNAL));
    assert_int_equal(status_of(s), CU_STREAM_CAPTURE_STATUS_ACTIVE);
    CUgraph g;
    OK(cpudev_cuStreamEndCapture(s, &g));
    CUgraphNode nodes[3];
    size_t n = 3;
    OK(cpudev_cuGraphGetNodes(g, nodes, &n));
    assert_int_equal(n, 3);
    CUgraphNodeType t[3];
    for (int i = 0; i < 3; i++)
        OK(cpudev_cuGraphNodeGetType(nodes[i], &t[i]));
    assert_int_equal(t[0], CU_GRAPH_NODE_TYPE_WAIT_EVENT);
    assert_int_equal(t[1], CU_GRAPH_NODE_TYPE_HOST);
    assert_int_equal(t[2], CU_GRAPH_NODE_TYPE_EVENT_RECORD);
    CUgraphExec e;
    OK(cpudev_cuGraphInstantiateWithFlags(&e, g, 0));
    OK(cpudev_cuGraphLaunch(e, s));
    OK(cpudev_cuStreamWaitEvent(other, outev, 0));
    OK(cpudev_cuLaunchHostFunc(other, log_fn, (void *)6));
    OK(cpudev_cuStreamSynchronize(other));
    assert_int_equal(lg.n, 2);
    assert_int_equal(lg.v[0], 5);
    assert_int_equal(lg.v[1], 6);
    OK(cpudev_cuGraphExecDestroy(e));
    OK(cpudev_cuGraphDestroy(g));
    OK(cpudev_cuEventDestroy_v2(in));
    OK(cpudev_cuEventDestroy_v2(outev));
    OK(cpudev_cuStreamDestroy_v2(s));
    OK(cpudev_cuStreamDestroy_v2(other));
}

static CUstreamCaptureStatus status_of(CUstream s)
{
    CUstreamCaptureStatus st = (CUstreamCaptureStatus)-1;
    OK(cpudev_cuStreamGetCaptureInfo_v3(s, &st, NULL, NULL, NULL, NULL, NULL));
    return st;
}

static void capture_fork_join(void **state)
{
    (void)state;
    CUstream s1 = new_stream(), s2 = new_stream();
    CUevent fork, join;
    OK(cpudev_cuEventCreate(&fork, 0));
    OK(cpudev_cuEventCreate(&join, 0));
    OK(cpudev_cuStreamBeginCapture_v2(s1, CU_STREAM_CAPTURE_MODE_RELAXED));
    assert_int_equal(cpudev_cuStreamBeginCapture_v2(s1, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_ERROR_ILLEGAL_STATE);
    OK(cpudev_cuLaunchHostFunc(s1, log_fn, (void *)1));
    OK(cpudev_cuEventRecord(fork, s1));
    OK(cpudev_cuStreamWaitEvent(s2, fork, 0));
    OK(cpudev_cuLaunchHostFunc(s2, log_fn, (void *)2));
    OK(cpudev_cuEventRecord(join, s2));
    OK(cpudev_cuLaunchHostFunc(s1, log_fn, (void *)3));
    OK(cpudev_cuStreamWaitEvent(s1, join, 0));
    /* the dependencies of s1 now: its own node and s2's */
    const CUgraphNode *deps;
    const CUgraphEdgeData *ed;
    size_t nd;
    CUstreamCaptureStatus st;
    CUgraph building;
    OK(cpudev_cuStreamGetCaptureInfo_v3(s1, &st, NULL, &building, &deps, &ed, &nd));
    assert_int_equal(st, CU_STREAM_CAPTURE_STATUS_ACTIVE);
    assert_int_equal(nd, 2);
    assert_int_equal(ed[0].type, 0);
    assert_int_equal(cpudev_cuGraphDestroy(building), CUDA_ERROR_INVALID_VALUE); /* the capture owns it */
    /* replace them by the first one only: the last node then depends on 3 alone */
    CUgraphNode keep = deps[0];
    OK(cpudev_cuStreamUpdateCaptureDependencies_v2(s1, &keep, NULL, 1, CU_STREAM_SET_CAPTURE_DEPENDENCIES));
    OK(cpudev_cuStreamGetCaptureInfo_v3(s1, &st, NULL, NULL, &deps, NULL, &nd));
    assert_int_equal(nd, 1);
    /* s2's node must be joined again before the end */
    OK(cpudev_cuStreamWaitEvent(s1, join, 0));
    OK(cpudev_cuLaunchHostFunc(s1, log_fn, (void *)4));
    CUgraph g;
    OK(cpudev_cuStreamEndCapture(s1, &g));
    assert_ptr_equal(g, building);
    assert_int_equal(status_of(s2), CU_STREAM_CAPTURE_STATUS_NONE);
    assert_int_equal(lg.n, 0); /* nothing ran */
    size_t n = 0;
    OK(cpudev_cuGraphGetNodes(g, NULL, &n));
    assert_int_equal(n, 4);
    n = 0;
    OK(cpudev_cuGraphGetEdges_v2(g, NULL, NULL, NULL, &n));
    assert_int_equal(n, 4); /* 1->2, 1->3, 3->4, 2->4 */
    CUgraphExec e;
    OK(cpudev_cuGraphInstantiateWithFlags(&e, g, 0));
    launch_sync(e, s2);
    assert_int_equal(lg.n, 4);
    assert_int_equal(lg.v[0], 1);
    assert_int_equal(lg.v[3], 4);
    /* the recorded event stood for capture work that never runs */
    assert_int_equal(cpudev_cuStreamWaitEvent(s2, join, 0), CUDA_ERROR_STREAM_CAPTURE_ISOLATION);
    OK(cpudev_cuGraphExecDestroy(e));
    OK(cpudev_cuGraphDestroy(g));
    OK(cpudev_cuEventDestroy_v2(fork));
    OK(cpudev_cuEventDestroy_v2(join));
    OK(cpudev_cuStreamDestroy_v2(s1));
    OK(cpudev_cuStreamDestroy_v2(s2));
}

static void capture_rules(void **state)
{
    (void)state;
    CUstream s = new_stream(), other = new_stream();
    CUstream blocking;
    OK(cpudev_cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
    CUgraph g = (CUgraph)1;
    CUdeviceptr d;
    OK(cpudev_cuMemAlloc_v2(&d, 256));
    char host[256];

    /* an event recorded outside the capture */
    CUevent outside;
    OK(cpudev_cuEventCreate(&outside, 0));
    OK(cpudev_cuEventRecord(outside, other));
    OK(cpudev_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    assert_int_equal(cpudev_cuStreamWaitEvent(s, outside, 0), CUDA_ERROR_STREAM_CAPTURE_ISOLATION);
    assert_int_equal(status_of(s), CU_STREAM_CAPTURE_STATUS_INVALIDATED);
    assert_int_equal(cpudev_cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    assert_null(g);

    /* querying an event recorded in the capture */
    OK(cpudev_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUevent inside;
    OK(cpudev_cuEventCreate(&inside, 0));
    OK(cpudev_cuEventRecord(inside, s));
    assert_int_equal(cpudev_cuEventQuery(inside), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    assert_int_equal(cpudev_cuEventSynchronize(inside), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    assert_int_equal(cpudev_cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    OK(cpudev_cuEventDestroy_v2(inside));

    /* host memory */
    OK(cpudev_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    OK(cpudev_cuMemcpyDtoDAsync_v2(d, d, 128, s));
    assert_int_equal(cpudev_cuMemcpyHtoDAsync_v2(d, host, sizeof host, s), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    assert_int_equal(cpudev_cuMemsetD8Async(d, 1, 4, s), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    assert_int_equal(cpudev_cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);

    /* the legacy stream while a blocking stream captures; context sync */
    OK(cpudev_cuStreamBeginCapture_v2(blocking, CU_STREAM_CAPTURE_MODE_GLOBAL));
    assert_int_equal(cpudev_cuMemsetD8Async(d, 1, 4, CU_STREAM_LEGACY), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
    assert_int_equal(cpudev_cuStreamEndCapture(blocking, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    OK(cpudev_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    OK(cpudev_cuMemsetD8Async(d, 1, 4, CU_STREAM_LEGACY)); /* s does not block */
    assert_int_equal(cpudev_cuStreamQuery(s), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    assert_int_equal(cpudev_cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    OK(cpudev_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    assert_int_equal(cpudev_cuCtxSynchronize(), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    assert_int_equal(cpudev_cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);

    /* a graph launch inside a capture: a child graph node */
    CUgraph eg;
    CUgraphExec e;
    OK(cpudev_cuGraphCreate(&eg, 0));
    OK(cpudev_cuGraphInstantiateWithFlags(&e, eg, 0));
    OK(cpudev_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    OK(cpudev_cuGraphLaunch(e, s));
    OK(cpudev_cuStreamEndCapture(s, &g));
    CUgraphNode child;
    size_t n = 1;
    OK(cpudev_cuGraphGetNodes(g, &child, &n));
    assert_int_equal(n, 1);
    CUgraphNodeType t;
    OK(cpudev_cuGraphNodeGetType(child, &t));
    assert_int_equal(t, CU_GRAPH_NODE_TYPE_GRAPH);
    OK(cpudev_cuGraphDestroy(g));
    launch_sync(e, s); /* an empty graph runs */

    /* a stream destroyed while it captures */
    CUstream gone = new_stream();
    OK(cpudev_cuStreamBeginCapture_v2(gone, CU_STREAM_CAPTURE_MODE_RELAXED));
    OK(cpudev_cuMemsetD8Async(d, 1, 4, gone));
    OK(cpudev_cuStreamDestroy_v2(gone));

    OK(cpudev_cuCtxSynchronize());
    OK(cpudev_cuGraphExecDestroy(e));
    OK(cpudev_cuGraphDestroy(eg));
    OK(cpudev_cuEventDestroy_v2(outside));
    OK(cpudev_cuMemFree_v2(d));
    OK(cpudev_cuStreamDestroy_v2(s));
    OK(cpudev_cuStreamDestroy_v2(other));
    OK(cpudev_cuStreamDestroy_v2(blocking));
}

/* ---- cuGraphExecUpdate ---- */

static CUgraph capture_memsets(CUstream s, CUdeviceptr d, unsigned char v, size_t n, int nodes)
{
    CUgraph g;
    OK(cpudev_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_RELAXED));
    for (int i = 0; i < nodes; i++)
        OK(cpudev_cuMemsetD8Async(d, v, n, s));
    OK(cpudev_cuStreamEndCapture(s, &g));
    return g;
}

static void exec_update(void **state)
{
    (void)state;
    CUstream s = new_stream();
    CUdeviceptr d;
    OK(cpudev_cuMemAlloc_v2(&d, 64));
    CUgraph g1 = capture_memsets(s, d, 1, 64, 1);
    CUgraphExec e;
    OK(cpudev_cuGraphInstantiateWithFlags(&e, g1, 0));
    CUgraphExecUpdateResultInfo info;

    CUgraph value = capture_memsets(s, d, 9, 64, 1);
    OK(cpudev_cuGraphExecUpdate_v2(e, value, &info));
    assert_int_equal(info.result, CU_GRAPH_EXEC_UPDATE_SUCCESS);
    launch_sync(e, s);
    unsigned char h[64];
    OK(cpudev_cuMemcpyDtoHAsync_v2(h, d, sizeof h, s));
    OK(cpudev_cuStreamSynchronize(s));
    assert_int_equal(h[0], 9);
    assert_int_equal(h[63], 9);

    CUgraph shape = capture_memsets(s, d, 9, 32, 1);
    assert_int_equal(cpudev_cuGraphExecUpdate_v2(e, shape, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
    assert_int_equal(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED);
    CUgraph topo = capture_memsets(s, d, 9, 64, 2);
    assert_int_equal(cpudev_cuGraphExecUpdate_v2(e, topo, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
    assert_int_equal(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED);
    CUgraph type;
    OK(cpudev_cuGraphCreate(&type, 0));
    CUgraphNode h1 = host_node(type, NULL, 0, 1);
    assert_int_equal(cpudev_cuGraphExecUpdate_v2(e, type, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
    assert_int_equal(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED);
    assert_ptr_equal(info.errorNode, h1);

    CUgraph gs[] = {g1, value, shape, topo, type};
    for (int i = 0; i < 5; i++)
        OK(cpudev_cuGraphDestroy(gs[i]));
    OK(cpudev_cuGraphExecDestroy(e));
    OK(cpudev_cuMemFree_v2(d));
    OK(cpudev_cuStreamDestroy_v2(s));
}

int main(void)
{
    struct cpudev_config c = {0};
    c.mem_bytes = 64ull << 20;
    char err[256];
    if (!cpudev_init(&c, err, sizeof err)) {
        fprintf(stderr, "cpudev_init: %s\n", err);
        return 1;
    }
    if (cpudev_cuInit(0))
        return 1;
#define T(f) cmocka_unit_test_setup_teardown(f, use_primary, release_primary)
    const struct CMUnitTest tests[] = {
        T(topological_order), T(memory_nodes_and_lists), T(event_nodes),
        T(capture_fork_join), T(capture_external_events), T(capture_rules), T(exec_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
