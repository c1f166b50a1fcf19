/*
 * memops.c — stream memory operations through rgpu: cuStreamWriteValue32/64,
 * cuStreamWaitValue32/64 and cuStreamBatchMemOp.
 *
 * Covers: values written in stream order and read back; a stream that waits
 * for a value another stream writes (held meanwhile: its later copy sees what
 * the writer did before the write); each wait condition, the cyclic
 * comparison of GEQ among them, and a wait that holds until its value comes;
 * a flag in mapped page-locked host memory that the host sets; batches of
 * writes, waits and barriers; the older (CUDA 8) names; bad arguments
 * refused by the call, with nothing latched; no round trip for operations on
 * memory the client knows; and batch memory-operation graph nodes, captured
 * or added, their parameters read back and set on graphs and executable
 * graphs.
 *
 * Every expectation holds on NVIDIA's driver too (tests/gpu/run runs this
 * natively), where an error's exact code is not asserted.
 */
#include "check.h"
#include "gate.h"

#include <unistd.h>

#include "it_client.h"

static CUdevice dev;
static CUcontext ctx;

static void done(const char *what) { printf("memops: %s: done\n", what); }

static uint32_t read32(CUdeviceptr p)
{
    uint32_t v = 0;
    CHECK(cuMemcpyDtoH(&v, p, 4));
    return v;
}

static uint64_t read64(CUdeviceptr p)
{
    uint64_t v = 0;
    CHECK(cuMemcpyDtoH(&v, p, 8));
    return v;
}

static void attributes(void)
{
    int wide = -1, nor = -1;
    CHECK(cuDeviceGetAttribute(&wide, CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS, dev));
    CHECK(cuDeviceGetAttribute(&nor, CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR, dev));
    EXPECT_EQ(wide, 1);
    EXPECT_EQ(nor, 1);
    done("attributes");
}

static void writes(CUdeviceptr flags, CUstream s)
{
    CHECK(cuStreamWriteValue32(s, flags, 7, 0));
    CHECK(cuStreamWriteValue64(s, flags + 8, 0x1122334455667788ull, 0));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(flags), 7);
    EXPECT_TRUE(read64(flags + 8) == 0x1122334455667788ull);
    /* in stream order: a memset before the write, a copy after it */
    CUdeviceptr out;
    CHECK(cuMemAlloc(&out, 4));
    CHECK(cuMemsetD32Async(flags, 1, 1, s));
    CHECK(cuStreamWriteValue32(s, flags, 2, 0));
    CHECK(cuMemcpyDtoDAsync(out, flags, 4, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(out), 2);
    CHECK(cuMemFree(out));
    done("writes in stream order");
}

/* a consumer stream waits for the producer's flag; what the producer did
 * before writing it is what the consumer's copy sees */
static void producer_consumer(CUdeviceptr flags)
{
    enum { N = 1 << 16 };
    CUstream prod, cons;
    CHECK(cuStreamCreate(&prod, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamCreate(&cons, CU_STREAM_NON_BLOCKING));
    CUdeviceptr src, dst;
    CHECK(cuMemAlloc(&src, N));
    CHECK(cuMemAlloc(&dst, N));
    CHECK(cuMemsetD8(src, 0, N));
    CHECK(cuMemsetD8(dst, 0, N));
    CHECK(cuMemsetD32(flags, 0, 1));

    struct gate g;
    gate_init(&g);
    CHECK(cuLaunchHostFunc(prod, gate_fn, &g)); /* the producer is held */
    CHECK(cuMemsetD8Async(src, 0x5a, N, prod));
    CHECK(cuStreamWriteValue32(prod, flags, 1, 0));
    CHECK(cuStreamWaitValue32(cons, flags, 1, CU_STREAM_WAIT_VALUE_EQ));
    CHECK(cuMemcpyDtoDAsync(dst, src, N, cons));
    EXPECT_TRUE(gate_wait_entered(&g, GATE_TIMEOUT_S));
    it_sleep_ms(50);
    EXPECT_RESULT(cuStreamQuery(cons), CUDA_ERROR_NOT_READY); /* still waiting for the flag */
    gate_open(&g);
    CHECK(cuStreamSynchronize(cons));
    unsigned char *h = it_xmalloc(N);
    CHECK(cuMemcpyDtoH(h, dst, N));
    int bad = -1;
    for (int i = 0; i < N && bad < 0; i++)
        if (h[i] != 0x5a)
            bad = i;
    EXPECT_EQ(bad, -1);
    EXPECT_TRUE(!g.timed_out);
    free(h);
    CHECK(cuStreamSynchronize(prod));
    gate_destroy(&g);
    CHECK(cuMemFree(src));
    CHECK(cuMemFree(dst));
    CHECK(cuStreamDestroy(prod));
    CHECK(cuStreamDestroy(cons));
    done("a stream waits for another's flag");
}

static void conditions(CUdeviceptr flags, CUstream s)
{
    CHECK(cuMemsetD32(flags, 5, 1));
    CHECK(cuMemsetD32(flags + 8, 0, 2));
    CHECK(cuStreamWriteValue64(s, flags + 8, 1ull << 40, 0));
    /* satisfied at once */
    CHECK(cuStreamWaitValue32(s, flags, 5, CU_STREAM_WAIT_VALUE_GEQ));
    CHECK(cuStreamWaitValue32(s, flags, 3, CU_STREAM_WAIT_VALUE_GEQ));
    CHECK(cuStreamWaitValue32(s, flags, 0xfffffff0u, CU_STREAM_WAIT_VALUE_GEQ)); /* cyclic: 5 - (-16) >= 0 */
    CHECK(cuStreamWaitValue32(s, flags, 5, CU_STREAM_WAIT_VALUE_EQ));
    CHECK(cuStreamWaitValue32(s, flags, 4, CU_STREAM_WAIT_VALUE_AND));
    CHECK(cuStreamWaitValue32(s, flags, 2, CU_STREAM_WAIT_VALUE_NOR)); /* ~(5 | 2) != 0 */
    CHECK(cuStreamWaitValue64(s, flags + 8, 1ull << 40, CU_STREAM_WAIT_VALUE_EQ));
    CHECK(cuStreamWaitValue64(s, flags + 8, 1ull << 39, CU_STREAM_WAIT_VALUE_GEQ));
    CHECK(cuStreamSynchronize(s));

    /* not satisfied until another stream writes the value */
    CUstream w;
    CHECK(cuStreamCreate(&w, CU_STREAM_NON_BLOCKING));
    CHECK(cuStreamWaitValue32(s, flags, 6, CU_STREAM_WAIT_VALUE_EQ));
    it_sleep_ms(50);
    EXPECT_RESULT(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    CHECK(cuStreamWaitValue64(s, flags + 8, 3ull << 40, CU_STREAM_WAIT_VALUE_AND));
    CHECK(cuStreamWriteValue32(w, flags, 6, 0));
    CHECK(cuStreamWriteValue64(w, flags + 8, 2ull << 40, 0));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuStreamSynchronize(w));
    CHECK(cuStreamDestroy(w));
    done("wait conditions");
}

/* the host sets a flag in mapped page-locked memory the stream waits on */
static void host_flag(CUstream s)
{
    uint32_t *h = NULL;
    CUdeviceptr d = 0, out;
    CHECK(cuMemHostAlloc((void **)&h, 4096, CU_MEMHOSTALLOC_DEVICEMAP));
    CHECK(cuMemHostGetDevicePointer(&d, h, 0));
    CHECK(cuMemAlloc(&out, 4));
    CHECK(cuMemsetD32(out, 0, 1));
    *(volatile uint32_t *)h = 0;
    CHECK(cuCtxSynchronize()); /* the device sees 0 */
    CHECK(cuStreamWaitValue32(s, d, 1, CU_STREAM_WAIT_VALUE_GEQ));
    CHECK(cuMemsetD32Async(out, 99, 1, s));
    it_sleep_ms(50);
    EXPECT_RESULT(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    *(volatile uint32_t *)h = 1;
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(out), 99);
    CHECK(cuMemFree(out));
    CHECK(cuMemFreeHost(h));
    done("a host flag in mapped memory");
}

static void batches(CUdeviceptr flags, CUstream s)
{
    CHECK(cuMemsetD32(flags, 0, 4));
    CUstreamBatchMemOpParams ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
    ops[0].writeValue.address = flags;
    ops[0].writeValue.value = 9;
    ops[1].memoryBarrier.operation = CU_STREAM_MEM_OP_BARRIER;
    ops[1].memoryBarrier.flags = CU_STREAM_MEMORY_BARRIER_TYPE_GPU;
    ops[2].waitValue.operation = CU_STREAM_MEM_OP_WAIT_VALUE_32;
    ops[2].waitValue.address = flags;
    ops[2].waitValue.value = 9;
    ops[2].waitValue.flags = CU_STREAM_WAIT_VALUE_GEQ;
    ops[3].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
    ops[3].writeValue.address = flags + 8;
    ops[3].writeValue.value64 = 0xabcdef0123456789ull;
    CHECK(cuStreamBatchMemOp(s, 4, ops, 0));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(flags), 9);
    EXPECT_TRUE(read64(flags + 8) == 0xabcdef0123456789ull);
    done("batches");
}

/* the CUDA 8 names, looked up as an older program's headers would bind them */
static void older_names(CUdeviceptr flags, CUstream s)
{
    typedef CUresult (*write32_fn)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
    void *f = NULL;
    CUdriverProcAddressQueryResult q;
    CHECK(cuGetProcAddress("cuStreamWriteValue32", &f, 8000, CU_GET_PROC_ADDRESS_DEFAULT, &q));
    ASSERT_TRUE(f != NULL);
    /* their writes may skip the barrier; a barrier too many is allowed */
    CHECK(((write32_fn)f)(s, flags, 41, CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(flags), 41);
    done("the older names");
}

static void errors(CUdeviceptr flags, CUstream s)
{
    uint32_t host_word = 0;
    EXPECT_ERROR(cuStreamWriteValue32(s, flags + 2, 1, 0));              /* misaligned */
    EXPECT_ERROR(cuStreamWaitValue64(s, flags + 4, 1, 0));               /* misaligned for 8 bytes */
    EXPECT_ERROR(cuStreamWriteValue32(s, (CUdeviceptr)(uintptr_t)&host_word, 1, 0)); /* not the device's */
    EXPECT_ERROR(cuStreamWaitValue32(s, flags, 1, 7));                   /* no such condition */
    EXPECT_ERROR(cuStreamWriteValue32(s, flags, 1, CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER)); /* not in v2 */
    CUstreamBatchMemOpParams op;
    memset(&op, 0, sizeof op);
    op.operation = (CUstreamBatchMemOpType)99;
    EXPECT_ERROR(cuStreamBatchMemOp(s, 1, &op, 0));
    /* nothing latched by any of them */
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
    done("bad arguments");
}

static void no_round_trips(CUdeviceptr flags, CUstream s)
{
    if (!round_trips_known())
        return;
    CHECK(cuStreamSynchronize(s));
    uint32_t before = round_trips();
    CHECK(cuStreamWriteValue32(s, flags, 3, 0));
    CHECK(cuStreamWaitValue32(s, flags, 3, CU_STREAM_WAIT_VALUE_EQ));
    CHECK(cuStreamWriteValue64(s, flags + 8, 4, 0));
    EXPECT_EQ(round_trips(), before);
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(flags), 3);
    done("no round trips on known memory");
}

/* captured: one node per call, launched as often as the graph is */
static void captured(CUdeviceptr flags)
{
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuMemsetD32(flags, 0, 4));
    CHECK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CHECK(cuStreamWriteValue32(s, flags, 11, 0));
    CHECK(cuStreamWaitValue32(s, flags, 11, CU_STREAM_WAIT_VALUE_EQ));
    CHECK(cuMemcpyDtoDAsync(flags + 4, flags, 4, s));
    CUgraph g = NULL;
    CHECK(cuStreamEndCapture(s, &g));
    CUgraphNode nodes[8];
    size_t n = 8;
    CHECK(cuGraphGetNodes(g, nodes, &n));
    int memop_nodes = 0;
    CUgraphNode first = NULL;
    for (size_t i = 0; i < n; i++) {
        CUgraphNodeType t;
        CHECK(cuGraphNodeGetType(nodes[i], &t));
        if (t == CU_GRAPH_NODE_TYPE_BATCH_MEM_OP && !memop_nodes++)
            first = nodes[i];
    }
    EXPECT_EQ(memop_nodes, 2);
    if (first) {
        CUDA_BATCH_MEM_OP_NODE_PARAMS p;
        memset(&p, 0, sizeof p);
        CHECK(cuGraphBatchMemOpNodeGetParams(first, &p));
        EXPECT_TRUE(p.count == 1 && p.paramArray != NULL);
        if (p.count == 1 && p.paramArray) {
            EXPECT_TRUE(p.paramArray[0].operation == CU_STREAM_MEM_OP_WRITE_VALUE_32 ||
                        p.paramArray[0].operation == CU_STREAM_MEM_OP_WAIT_VALUE_32);
            EXPECT_TRUE(p.paramArray[0].writeValue.address == flags && p.paramArray[0].writeValue.value == 11);
        }
    }
    CUgraphExec x;
    CHECK(cuGraphInstantiate(&x, g, 0));
    EXPECT_EQ(read32(flags), 0); /* nothing ran yet */
    CHECK(cuGraphLaunch(x, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(flags), 11);
    EXPECT_EQ(read32(flags + 4), 11);
    CHECK(cuGraphExecDestroy(x));
    CHECK(cuGraphDestroy(g));
    CHECK(cuStreamDestroy(s));
    done("captured");
}

/* added by hand, set on the graph and on its executable graph */
static void graph_nodes(CUdeviceptr flags)
{
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK(cuMemsetD32(flags, 0, 4));
    CUstreamBatchMemOpParams ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
    ops[0].writeValue.address = flags;
    ops[0].writeValue.value = 21;
    ops[1].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
    ops[1].writeValue.address = flags + 8;
    ops[1].writeValue.value64 = 22;
    CUDA_BATCH_MEM_OP_NODE_PARAMS p = {ctx, 2, ops, 0};
    CUgraph g;
    CUgraphNode node;
    CHECK(cuGraphCreate(&g, 0));
    CHECK(cuGraphAddBatchMemOpNode(&node, g, NULL, 0, &p));
    CUDA_BATCH_MEM_OP_NODE_PARAMS back;
    memset(&back, 0, sizeof back);
    CHECK(cuGraphBatchMemOpNodeGetParams(node, &back));
    EXPECT_TRUE(back.count == 2 && back.paramArray && back.paramArray[1].writeValue.value64 == 22);
    ops[0].writeValue.value = 31; /* the node keeps its own copy */
    CUgraphExec x;
    CHECK(cuGraphInstantiate(&x, g, 0));
    CHECK(cuGraphLaunch(x, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(flags), 21);
    EXPECT_TRUE(read64(flags + 8) == 22);
    /* the executable graph's node takes new operations; the graph keeps its own */
    p.count = 1;
    CHECK(cuGraphExecBatchMemOpNodeSetParams(x, node, &p));
    CHECK(cuGraphLaunch(x, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(flags), 31);
    CHECK(cuGraphBatchMemOpNodeGetParams(node, &back));
    EXPECT_TRUE(back.count == 2 && back.paramArray && back.paramArray[0].writeValue.value == 21);
    ops[0].writeValue.value = 41;
    CHECK(cuGraphBatchMemOpNodeSetParams(node, &p));
    CHECK(cuGraphBatchMemOpNodeGetParams(node, &back));
    EXPECT_TRUE(back.count == 1 && back.paramArray && back.paramArray[0].writeValue.value == 41);
    /* the same through CUDA 12.2's calls for any node type */
    CUgraphNodeParams any;
    memset(&any, 0, sizeof any);
    any.type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP;
    any.memOp.ctx = ctx;
    any.memOp.count = 1;
    any.memOp.paramArray = ops;
    ops[0].writeValue.value = 51;
    CHECK(cuGraphNodeSetParams(node, &any));
    CHECK(cuGraphBatchMemOpNodeGetParams(node, &back));
    EXPECT_TRUE(back.count == 1 && back.paramArray && back.paramArray[0].writeValue.value == 51);
    ops[0].writeValue.value = 61;
    CHECK(cuGraphExecNodeSetParams(x, node, &any));
    CHECK(cuGraphLaunch(x, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_EQ(read32(flags), 61);
    /* and the graph drawn: the node says what it is */
    char dot[] = "/tmp/rgpu-memops-XXXXXX";
    int fd = mkstemp(dot);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    CHECK(cuGraphDebugDotPrint(g, dot, CU_GRAPH_DEBUG_DOT_FLAGS_VERBOSE));
    FILE *df = fopen(dot, "r");
    ASSERT_TRUE(df != NULL);
    char line[512];
    int named = 0;
    while (fgets(line, sizeof line, df))
        named |= strstr(line, "mem") != NULL || strstr(line, "MEM") != NULL; /* ours says "batch mem op" */
    fclose(df);
    unlink(dot);
    EXPECT_TRUE(named);
    CHECK(cuGraphExecDestroy(x));
    CHECK(cuGraphDestroy(g));
    CHECK(cuStreamDestroy(s));
    done("graph nodes");
}

int main(void)
{
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    CUdeviceptr flags;
    CHECK(cuMemAlloc(&flags, 64));
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    attributes();
    writes(flags, s);
    producer_consumer(flags);
    conditions(flags, s);
    host_flag(s);
    batches(flags, s);
    older_names(flags, s);
    errors(flags, s);
    no_round_trips(flags, s);
    captured(flags);
    graph_nodes(flags);
    CHECK(cuStreamDestroy(s));
    CHECK(cuMemFree(flags));
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
    CHECK(cuDevicePrimaryCtxRelease(dev));
    TEST_DONE();
}
