/*
 * arrays.c — CUDA arrays through rgpu: 1D, 2D and 3D arrays made and
 * described, 2D copies between them and host memory (padded host rows,
 * sub-rectangles), device memory and other arrays, synchronous and on a
 * stream; the copies that name an array by a byte offset (HtoA, AtoH, DtoA,
 * AtoD, AtoA and the asynchronous ones); 3D copies to, from and within the
 * slices of a 3D array; and what is refused: bad
 * descriptors, rows past an array's edge, destroyed arrays. Every byte is
 * checked against what the host wrote.
 *
 * Every expectation holds on NVIDIA's driver too (tests/gpu/run runs this
 * natively), except those marked rgpu's (round_trips_known).
 */
#include "check.h"
#include "it_client.h"

#define W 37
#define H 23
#define ELEM 16 /* float4 */

static unsigned char pattern(size_t i) { return (unsigned char)(i * 131u + 7u); }

static CUarray make2d(unsigned w, unsigned h, CUarray_format f, unsigned channels)
{
    CUDA_ARRAY_DESCRIPTOR d = {.Width = w, .Height = h, .Format = f, .NumChannels = channels};
    CUarray a;
    CHECK(cuArrayCreate(&a, &d));
    return a;
}

static void descriptors(void)
{
    CUarray a = make2d(W, H, CU_AD_FORMAT_FLOAT, 4);
    CUDA_ARRAY_DESCRIPTOR d;
    memset(&d, 0xff, sizeof d);
    CHECK(cuArrayGetDescriptor(&d, a));
    EXPECT_TRUE(d.Width == W && d.Height == H && d.Format == CU_AD_FORMAT_FLOAT && d.NumChannels == 4);
    CUDA_ARRAY3D_DESCRIPTOR d3;
    memset(&d3, 0xff, sizeof d3);
    CHECK(cuArray3DGetDescriptor(&d3, a));
    EXPECT_TRUE(d3.Width == W && d3.Height == H && d3.Depth == 0 && d3.NumChannels == 4);
    CHECK(cuArrayDestroy(a));

    CUDA_ARRAY3D_DESCRIPTOR v = {.Width = 8, .Height = 4, .Depth = 3, .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                 .NumChannels = 2};
    CHECK(cuArray3DCreate(&a, &v));
    memset(&d3, 0xff, sizeof d3);
    CHECK(cuArray3DGetDescriptor(&d3, a));
    EXPECT_TRUE(d3.Width == 8 && d3.Height == 4 && d3.Depth == 3 && d3.Format == CU_AD_FORMAT_UNSIGNED_INT8 &&
                d3.NumChannels == 2 && d3.Flags == 0);
    CHECK(cuArrayDestroy(a));

    /* refused: three channels, no width, a depth without a height */
    CUDA_ARRAY_DESCRIPTOR bad = {.Width = 4, .Height = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 3};
    EXPECT_ERROR(cuArrayCreate(&a, &bad));
    bad.NumChannels = 1;
    bad.Width = 0;
    EXPECT_ERROR(cuArrayCreate(&a, &bad));
    CUDA_ARRAY3D_DESCRIPTOR flat = {.Width = 4, .Height = 0, .Depth = 2, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1};
    EXPECT_ERROR(cuArray3DCreate(&a, &flat));
    EXPECT_ERROR(cuArrayCreate(&a, NULL));
    printf("arrays: descriptors: done\n");
}

/* host (padded rows) -> array -> host, whole and a sub-rectangle */
static void host_round_trip(CUstream s)
{
    const size_t row = W * ELEM, hpitch = row + 24;
    unsigned char *src = malloc(hpitch * H), *back = calloc(1, row * H);
    for (size_t i = 0; i < hpitch * H; i++)
        src[i] = pattern(i);
    CUarray a = make2d(W, H, CU_AD_FORMAT_FLOAT, 4);
    CUDA_MEMCPY2D up = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = src, .srcPitch = hpitch,
                        .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a, .WidthInBytes = row, .Height = H};
    CHECK(cuMemcpy2D(&up));
    CUDA_MEMCPY2D down = {.srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a, .dstMemoryType = CU_MEMORYTYPE_HOST,
                          .dstHost = back, .dstPitch = row, .WidthInBytes = row, .Height = H};
    CHECK(cuMemcpy2D(&down));
    for (size_t y = 0; y < H; y++)
        EXPECT_MEMEQ(back + y * row, src + y * hpitch, row, "array row read back");

    /* a 5 x 3-element rectangle at (4, 7), written on a stream, read back whole */
    unsigned char rect[5 * ELEM * 3];
    memset(rect, 0xab, sizeof rect);
    CUDA_MEMCPY2D part = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = rect, .srcPitch = 5 * ELEM,
                          .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a, .dstXInBytes = 4 * ELEM, .dstY = 7,
                          .WidthInBytes = 5 * ELEM, .Height = 3};
    CHECK(cuMemcpy2DAsync(&part, s));
    CHECK(cuMemcpy2DAsync(&down, s));
    CHECK(cuStreamSynchronize(s));
    int wrong = 0;
    for (size_t y = 0; y < H && !wrong; y++)
        for (size_t x = 0; x < row && !wrong; x++) {
            bool in = y >= 7 && y < 10 && x >= 4 * ELEM && x < 9 * ELEM;
            unsigned char want = in ? 0xab : src[y * hpitch + x];
            if (back[y * row + x] != want) {
                it_fail(__FILE__, __LINE__, "rectangle: byte (%zu, %zu) is %#x, expected %#x", x, y, back[y * row + x],
                        want);
                wrong = 1;
            }
        }
    /* rows past the edge: refused at call time, nothing written */
    part.dstXInBytes = (W - 2) * ELEM;
    EXPECT_RESULT(cuMemcpy2D(&part), CUDA_ERROR_INVALID_VALUE);
    part.dstXInBytes = 0;
    part.dstY = H - 1;
    EXPECT_RESULT(cuMemcpy2D(&part), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuArrayDestroy(a));
    if (round_trips_known()) /* natively undefined */
        EXPECT_RESULT(cuMemcpy2D(&down), CUDA_ERROR_INVALID_HANDLE);
    free(src);
    free(back);
    printf("arrays: host round trip, rectangle, edges: done\n");
}

/* device -> array -> array -> device */
static void device_round_trip(void)
{
    const size_t row = W * 4, n = row * H; /* one float a texel */
    CUarray a = make2d(W, H, CU_AD_FORMAT_FLOAT, 1), b = make2d(W, H, CU_AD_FORMAT_FLOAT, 1);
    CUdeviceptr d, e;
    CHECK(cuMemAlloc(&d, n));
    CHECK(cuMemAlloc(&e, n));
    unsigned char *h = malloc(n), *back = malloc(n);
    for (size_t i = 0; i < n; i++)
        h[i] = pattern(i + 3);
    CHECK(cuMemcpyHtoD(d, h, n));
    CHECK(cuMemsetD8(e, 0, n));
    CUDA_MEMCPY2D c = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = d, .srcPitch = row,
                       .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a, .WidthInBytes = row, .Height = H};
    CHECK(cuMemcpy2D(&c));
    c = (CUDA_MEMCPY2D){.srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a, .dstMemoryType = CU_MEMORYTYPE_ARRAY,
                        .dstArray = b, .WidthInBytes = row, .Height = H};
    CHECK(cuMemcpy2D(&c));
    c = (CUDA_MEMCPY2D){.srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = b, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                        .dstDevice = e, .dstPitch = row, .WidthInBytes = row, .Height = H};
    CHECK(cuMemcpy2D(&c));
    CHECK(cuMemcpyDtoH(back, e, n));
    EXPECT_MEMEQ(back, h, n, "device -> array -> array -> device");
    CHECK(cuArrayDestroy(a));
    CHECK(cuArrayDestroy(b));
    CHECK(cuMemFree(d));
    CHECK(cuMemFree(e));
    free(h);
    free(back);
    printf("arrays: device and array to array: done\n");
}

/* the copies by byte offset, on a 1D array of 1000 unsigned ints */
static void offset_copies(CUstream s)
{
    enum { N = 1000 };
    CUarray a = make2d(N, 0, CU_AD_FORMAT_UNSIGNED_INT32, 1), b = make2d(N, 0, CU_AD_FORMAT_UNSIGNED_INT32, 1);
    unsigned h[N], back[N];
    for (unsigned i = 0; i < N; i++)
        h[i] = i * 2654435761u;
    CHECK(cuMemcpyHtoA(a, 0, h, sizeof h));
    memset(back, 0, sizeof back);
    CHECK(cuMemcpyAtoH(back, a, 0, sizeof back));
    EXPECT_MEMEQ(back, h, sizeof h, "HtoA then AtoH");
    /* offsets: elements 100..299 to 500..699 of b, through device memory */
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, 200 * sizeof(unsigned)));
    CHECK(cuMemcpyAtoD(d, a, 100 * sizeof(unsigned), 200 * sizeof(unsigned)));
    CHECK(cuMemcpyHtoA(b, 0, h, sizeof h));
    CHECK(cuMemcpyDtoA(b, 500 * sizeof(unsigned), d, 200 * sizeof(unsigned)));
    CHECK(cuMemcpyAtoH(back, b, 0, sizeof back));
    for (unsigned i = 0; i < N; i++) {
        unsigned want = i >= 500 && i < 700 ? h[i - 400] : h[i];
        if (back[i] != want) {
            it_fail(__FILE__, __LINE__, "DtoA at an offset: element %u is %#x, expected %#x", i, back[i], want);
            break;
        }
    }
    /* array to array, and the asynchronous pair on a stream */
    CHECK(cuMemcpyAtoA(a, 0, b, 500 * sizeof(unsigned), 10 * sizeof(unsigned)));
    unsigned ten[10] = {0};
    CHECK(cuMemcpyAtoHAsync(ten, a, 0, sizeof ten, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_MEMEQ(ten, &h[100], sizeof ten, "AtoA");
    for (unsigned i = 0; i < 10; i++)
        ten[i] = ~i;
    CHECK(cuMemcpyHtoAAsync(a, (N - 10) * sizeof(unsigned), ten, sizeof ten, s));
    CHECK(cuMemcpyAtoHAsync(back, a, 0, sizeof back, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_MEMEQ(&back[N - 10], ten, sizeof ten, "HtoAAsync at the end");
    /* past the end */
    EXPECT_RESULT(cuMemcpyHtoA(a, (N - 5) * sizeof(unsigned), ten, sizeof ten), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemFree(d));
    CHECK(cuArrayDestroy(a));
    CHECK(cuArrayDestroy(b));
    printf("arrays: copies by byte offset: done\n");
}

/* a 3D array: slices written from host memory by 3D copies, read back
 * whole and in part, and copied through device memory */
static void three_d(CUstream s)
{
    enum { X = 8, Y = 4, Z = 3, E = 2 }; /* two bytes an element */
    const size_t row = X * E, n = row * Y * Z;
    CUDA_ARRAY3D_DESCRIPTOR d = {.Width = X, .Height = Y, .Depth = Z, .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                 .NumChannels = 2};
    CUarray a;
    CHECK(cuArray3DCreate(&a, &d));
    unsigned char h[8 * 2 * 4 * 3], back[8 * 2 * 4 * 3];
    for (size_t i = 0; i < n; i++)
        h[i] = pattern(i + 5);
    CUDA_MEMCPY3D up = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = h, .srcPitch = row, .srcHeight = Y,
                        .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a, .WidthInBytes = row, .Height = Y,
                        .Depth = Z};
    CHECK(cuMemcpy3D(&up));
    memset(back, 0, sizeof back);
    CUDA_MEMCPY3D down = {.srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a, .dstMemoryType = CU_MEMORYTYPE_HOST,
                          .dstHost = back, .dstPitch = row, .dstHeight = Y, .WidthInBytes = row, .Height = Y,
                          .Depth = Z};
    CHECK(cuMemcpy3DAsync(&down, s));
    CHECK(cuStreamSynchronize(s));
    EXPECT_MEMEQ(back, h, n, "3D array read back");
    /* the middle slice alone, rows 1..2, through device memory */
    CUdeviceptr dm;
    CHECK(cuMemAlloc(&dm, row * 2));
    CUDA_MEMCPY3D part = {.srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a, .srcY = 1, .srcZ = 1,
                          .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = dm, .dstPitch = row, .dstHeight = 2,
                          .WidthInBytes = row, .Height = 2, .Depth = 1};
    CHECK(cuMemcpy3D(&part));
    unsigned char mid[8 * 2 * 2];
    CHECK(cuMemcpyDtoH(mid, dm, sizeof mid));
    EXPECT_MEMEQ(mid, h + (1 * Y + 1) * row, sizeof mid, "slice 1, rows 1..2");
    /* a slice past the last: refused */
    part.srcZ = Z;
    EXPECT_ERROR(cuMemcpy3D(&part));
    CHECK(cuMemFree(dm));
    CHECK(cuArrayDestroy(a));
    printf("arrays: 3D array copies: done\n");
}

int main(void)
{
    CUdevice dev;
    CUcontext ctx;
    CUstream s;
    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    descriptors();
    host_round_trip(s);
    device_round_trip();
    offset_copies(s);
    three_d(s);
    CHECK(cuStreamDestroy(s));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    TEST_DONE();
}
