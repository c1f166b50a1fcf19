/*
 * modules.c — modules, functions and kernel launches through rgpu.
 *
 * Covers: cuModuleLoadData with PTX text (compute_75 and compute_120) and
 * with a fatbin (both PTXs), cuModuleLoadFatBinary, cuModuleLoadDataEx with
 * JIT log options (valid, empty logs), cuModuleLoad from a path (and a
 * missing path), cuModuleGetLoadingMode (lazy), a fatbin holding only an
 * sm_90 cubin (CUDA_ERROR_NO_BINARY_FOR_GPU on the CPU device), garbage
 * images (an error, never a crash), the same image loaded twice (separate
 * globals); cuModuleGetFunction (unknown name: NOT_FOUND),
 * GetFunctionCount/EnumerateFunctions, cuFuncGetName/GetModule,
 * cuFuncGetParamInfo for every parameter kind (offsets and sizes as the ABI
 * lays them out, from offsetof on the host definitions),
 * cuFuncGetAttribute/SetAttribute (launch bounds, registers, static and
 * dynamic shared memory, PTX/binary version, carveout), cuFuncSetCacheConfig;
 * launches with kernelParams and with `extra`, on the legacy stream and a
 * created stream, in odd 1-D/2-D/3-D shapes, with dynamic and static shared
 * memory and __syncthreads, with atomics, a kernel with no parameters, every
 * parameter kind (char .. struct by value) written back and checked on the
 * host; __device__ and __constant__ variables (cuModuleGetGlobal sizes,
 * initialisers, HtoD then a kernel reads them, cuMemcpy/cuMemsetD32 with
 * unified addressing on a global's address, pointer attributes); launch
 * configuration errors at call time (too many threads, launch bounds, zero
 * or too large grid dims, too much dynamic shared memory, no context, both
 * kernelParams and extra) that leave the context healthy; a valid launch
 * returns without waiting (the stream is held by a gate host function);
 * parameters (kernelParams and `extra`) are captured at call time, with
 * 100 launches queued behind a gate; a large grid;
 * launches from several threads at once; occupancy; cuModuleUnload, after
 * which the old handles give errors.
 *
 * The sticky CUDA_ERROR_ILLEGAL_ADDRESS of a faulting kernel is tested by
 * launch_fault.c (its own program, so that everything here still runs).
 *
 * Usage: modules KERNEL_DIR (see it_images.h).
 */
#include "check.h"
#include "gate.h"
#include "it_images.h"
#include "kernels/it_kernels.h"
#include "rgpu_client.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>

static CUdevice dev;
static CUcontext ctx;
static int dev_cc;
static struct it_image ptx75, ptx120, fatbin, fatbin90;

/* every kernel of it_kernels.cu */
static const char *const kernel_names[] = {"vec_add",      "saxpy",          "all_kinds", "use_globals",
                                           "double_init",  "ping",           "block_reduce", "shared_reverse",
                                           "write_oob",    "bounded",        "index_map"};
#define NKERNELS ((int)(sizeof kernel_names / sizeof kernel_names[0]))

/* which image the current checks run on (printed before each group) */
static const char *form = "";
static void section(const char *what) { fprintf(stderr, "-- [%s] %s\n", form, what); }

static CUfunction get_fn(CUmodule m, const char *name)
{
    CUfunction f = NULL;
    CUresult r = cuModuleGetFunction(&f, m, name);
    if (r != CUDA_SUCCESS || !f) {
        it_fail(__FILE__, __LINE__, "[%s] cuModuleGetFunction(\"%s\"): got %s (%d)", form, name, it_errname(r), (int)r);
        IT_ABORT();
    }
    return f;
}

static int func_attr(CUfunction f, CUfunction_attribute a)
{
    int v = -12345;
    CHECK(cuFuncGetAttribute(&v, a, f));
    return v;
}

static unsigned blocks_for(unsigned n, unsigned b) { return (n + b - 1) / b; }

/* ====================================================================== */
/* vector add / saxpy                                                      */
/* ====================================================================== */

/* c = a + b over n floats on stream s (kernelParams); every element checked */
static void run_vec_add(CUfunction f, CUstream s, int n, const char *what)
{
    size_t bytes = (size_t)n * sizeof(float);
    float *a = it_xmalloc(bytes), *b = it_xmalloc(bytes), *c = it_xmalloc(bytes);
    CUdeviceptr da, db, dc;
    for (int i = 0; i < n; i++) {
        a[i] = (float)i * 0.5f;
        b[i] = 1000.0f - (float)i * 0.25f;
        c[i] = -1.0f;
    }
    CHECK(cuMemAlloc(&da, bytes));
    CHECK(cuMemAlloc(&db, bytes));
    CHECK(cuMemAlloc(&dc, bytes));
    CHECK(cuMemcpyHtoD(da, a, bytes));
    CHECK(cuMemcpyHtoD(db, b, bytes));
    CHECK(cuMemsetD32(dc, 0xFFFFFFFFu, (size_t)n));
    void *args[] = {&da, &db, &dc, &n};
    CHECK(cuLaunchKernel(f, blocks_for((unsigned)n, 128), 1, 1, 128, 1, 1, 0, s, args, NULL));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(c, dc, bytes));
    for (int i = 0; i < n; i++) {
        if (c[i] != a[i] + b[i]) {
            it_fail(__FILE__, __LINE__, "[%s] %s: vec_add c[%d] = %g, expected %g", form, what, i, (double)c[i],
                    (double)(a[i] + b[i]));
            break;
        }
    }
    CHECK(cuMemFree(da));
    CHECK(cuMemFree(db));
    CHECK(cuMemFree(dc));
    free(a);
    free(b);
    free(c);
}

/* y = alpha*x + y through `extra` (a buffer packed by cuFuncGetParamInfo) */
static void run_saxpy_extra(CUfunction f, CUstream s, int n)
{
    size_t bytes = (size_t)n * sizeof(float);
    float *x = it_xmalloc(bytes), *y = it_xmalloc(bytes), *out = it_xmalloc(bytes);
    float alpha = 2.5f;
    CUdeviceptr dx, dy;
    for (int i = 0; i < n; i++) {
        x[i] = (float)(i % 997);
        y[i] = (float)(3 * i % 101) - 50.0f;
    }
    CHECK(cuMemAlloc(&dx, bytes));
    CHECK(cuMemAlloc(&dy, bytes));
    CHECK(cuMemcpyHtoD(dx, x, bytes));
    CHECK(cuMemcpyHtoD(dy, y, bytes));

    const void *vals[4] = {&alpha, &dx, &dy, &n};
    size_t off[4], sz[4];
    unsigned char buf[64];
    memset(buf, 0xEE, sizeof buf);
    size_t end = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(cuFuncGetParamInfo(f, (size_t)i, &off[i], &sz[i]));
        ASSERT_TRUE(off[i] + sz[i] <= sizeof buf);
        memcpy(buf + off[i], vals[i], sz[i]);
        if (off[i] + sz[i] > end)
            end = off[i] + sz[i];
    }
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &end, CU_LAUNCH_PARAM_END};
    CHECK(cuLaunchKernel(f, blocks_for((unsigned)n, 96), 1, 1, 96, 1, 1, 0, s, NULL, extra));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(out, dy, bytes));
    for (int i = 0; i < n; i++) {
        float want = alpha * x[i] + y[i]; /* exact: small integers times 2.5 */
        if (out[i] != want) {
            it_fail(__FILE__, __LINE__, "[%s] saxpy (extra): y[%d] = %g, expected %g", form, i, (double)out[i],
                    (double)want);
            break;
        }
    }
    CHECK(cuMemFree(dx));
    CHECK(cuMemFree(dy));
    free(x);
    free(y);
    free(out);
}

/* HtoDAsync -> launch -> DtoHAsync on one created stream, ordered */
static void run_stream_pipeline(CUfunction saxpy, CUstream s)
{
    enum { N = 777 };
    float x[N], y[N], out[N];
    float alpha = -1.5f;
    int n = N;
    CUdeviceptr dx, dy;
    for (int i = 0; i < N; i++) {
        x[i] = (float)(2 * i);
        y[i] = (float)i;
        out[i] = 12345.0f;
    }
    CHECK(cuMemAlloc(&dx, sizeof x));
    CHECK(cuMemAlloc(&dy, sizeof y));
    CHECK(cuMemsetD32Async(dx, 0, N, s));
    CHECK(cuMemcpyHtoDAsync(dx, x, sizeof x, s));
    CHECK(cuMemcpyHtoDAsync(dy, y, sizeof y, s));
    void *args[] = {&alpha, &dx, &dy, &n};
    CHECK(cuLaunchKernel(saxpy, blocks_for(N, 64), 1, 1, 64, 1, 1, 0, s, args, NULL));
    /* a second launch on the same stream sees the first one's result */
    CHECK(cuLaunchKernel(saxpy, blocks_for(N, 64), 1, 1, 64, 1, 1, 0, s, args, NULL));
    CHECK(cuMemcpyDtoHAsync(out, dy, sizeof out, s));
    CHECK(cuStreamSynchronize(s));
    for (int i = 0; i < N; i++) {
        float want = y[i] + 2.0f * alpha * x[i]; /* y + a*x + a*x, all exact */
        if (out[i] != want) {
            it_fail(__FILE__, __LINE__, "[%s] stream pipeline: y[%d] = %g, expected %g", form, i, (double)out[i],
                    (double)want);
            break;
        }
    }
    CHECK(cuMemFree(dx));
    CHECK(cuMemFree(dy));
}

/* ====================================================================== */
/* every parameter kind                                                     */
/* ====================================================================== */

static void check_param_info(CUfunction all_kinds, CUfunction saxpy, CUfunction ping)
{
    section("cuFuncGetParamInfo");
    /* the host definitions themselves are what the test assumes */
    _Static_assert(sizeof(struct it_tiny3) == 3 && alignof(struct it_tiny3) == 1, "tiny3");
    _Static_assert(sizeof(struct it_odd) == 24 && alignof(struct it_odd) == 8, "odd");
    _Static_assert(sizeof(struct it_al16) == 16 && alignof(struct it_al16) == 16, "al16");
    _Static_assert(sizeof(struct it_arr) == 12 && alignof(struct it_arr) == 2, "arr");
    size_t all_off[IT_ALL_NPARAMS], all_size[IT_ALL_NPARAMS];
    it_all_param_layout(all_off, all_size);
    for (int i = 0; i < IT_ALL_NPARAMS; i++) {
        size_t off = 999, size = 999;
        CUresult r = cuFuncGetParamInfo(all_kinds, (size_t)i, &off, &size);
        if (r != CUDA_SUCCESS) {
            it_fail(__FILE__, __LINE__, "[%s] cuFuncGetParamInfo(all_kinds, %d): got %s", form, i, it_errname(r));
            continue;
        }
        if (off != all_off[i] || size != all_size[i])
            it_fail(__FILE__, __LINE__, "[%s] all_kinds param %d: offset %zu size %zu, expected offset %zu size %zu",
                    form, i, off, size, all_off[i], all_size[i]);
    }
    size_t off, size;
    EXPECT_RESULT(cuFuncGetParamInfo(all_kinds, IT_ALL_NPARAMS, &off, &size), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuFuncGetParamInfo(ping, 0, &off, &size), CUDA_ERROR_INVALID_VALUE);
    /* saxpy(float, float *, float *, int): [0:4] [8:8] [16:8] [24:4] */
    static const size_t so[4] = {0, 8, 16, 24}, ss[4] = {4, 8, 8, 4};
    for (int i = 0; i < 4; i++) {
        off = size = 999;
        CHECK(cuFuncGetParamInfo(saxpy, (size_t)i, &off, &size));
        EXPECT_EQ(off, so[i]);
        EXPECT_EQ(size, ss[i]);
    }
    /* the size may be left out (the offset may not) */
    off = 999;
    CHECK(cuFuncGetParamInfo(saxpy, 1, &off, NULL));
    EXPECT_EQ(off, 8);
}

static void fill_all_params(struct it_all_params *P, CUdeviceptr dp, CUdeviceptr dout, int salt)
{
    memset(P, 0, sizeof *P);
    P->c = (signed char)(-7 - salt);
    P->s = (short)(-12345 + salt);
    P->i = -123456789 + salt;
    P->ll = -0x0123456789ABCDEFLL + salt;
    P->f = 3.75f + (float)salt;
    P->d = -1234.5625 - salt;
    P->p = (const int *)(uintptr_t)dp;
    P->t3 = (struct it_tiny3){'x', 'y', (char)('z' - salt)};
    P->o.c = 'o';
    P->o.d = 2.5e10 + salt;
    P->o.i = -42 - salt;
    P->c2 = (char)('q' + salt);
    P->a16.a = 0x7EDCBA9876543210LL - salt;
    P->a16.b = 77 + salt;
    short v[5] = {1, -2, 3, -4, (short)(5 + salt)};
    memcpy(P->arr.v, v, sizeof v);
    P->arr.tag = 't';
    P->out = (void *)(uintptr_t)dout;
}

static void check_all_out(const struct it_all_out *o, const struct it_all_params *P, int pval, const char *how)
{
#define ALL_EQ(got, want)                                                                                          \
    do {                                                                                                           \
        if ((long long)(got) != (long long)(want))                                                                 \
            it_fail(__FILE__, __LINE__, "[%s] all_kinds (%s): %s = %lld, expected %lld", form, how, #got,           \
                    (long long)(got), (long long)(want));                                                          \
    } while (0)
    ALL_EQ(o->c, P->c);
    ALL_EQ(o->c_ext, (long long)P->c);
    ALL_EQ(o->s, P->s);
    ALL_EQ(o->s_ext, (long long)P->s);
    ALL_EQ(o->i, P->i);
    ALL_EQ(o->ll, P->ll);
    if (memcmp(&o->f, &P->f, sizeof o->f) != 0)
        it_fail(__FILE__, __LINE__, "[%s] all_kinds (%s): f = %g, expected %g", form, how, (double)o->f, (double)P->f);
    if (memcmp(&o->d, &P->d, sizeof o->d) != 0)
        it_fail(__FILE__, __LINE__, "[%s] all_kinds (%s): d = %.17g, expected %.17g", form, how, o->d, P->d);
    ALL_EQ(o->p, (uintptr_t)P->p);
    ALL_EQ(o->p_val, pval);
    ALL_EQ(o->t3.a, P->t3.a);
    ALL_EQ(o->t3.b, P->t3.b);
    ALL_EQ(o->t3.c, P->t3.c);
    ALL_EQ(o->o.c, P->o.c);
    if (o->o.d != P->o.d)
        it_fail(__FILE__, __LINE__, "[%s] all_kinds (%s): o.d = %.17g, expected %.17g", form, how, o->o.d, P->o.d);
    ALL_EQ(o->o.i, P->o.i);
    ALL_EQ(o->c2, P->c2);
    ALL_EQ(o->a16.a, P->a16.a);
    ALL_EQ(o->a16.b, P->a16.b);
    for (int k = 0; k < 5; k++)
        ALL_EQ(o->arr.v[k], P->arr.v[k]);
    ALL_EQ(o->arr.tag, P->arr.tag);
    ALL_EQ(o->out, (uintptr_t)P->out);
#undef ALL_EQ
}

static void run_all_kinds(CUfunction f, CUstream s)
{
    section("all_kinds: every parameter kind");
    CUdeviceptr dp, dout;
    int pval = 987654321;
    struct it_all_out out;
    CHECK(cuMemAlloc(&dp, sizeof pval));
    CHECK(cuMemAlloc(&dout, sizeof out));
    CHECK(cuMemcpyHtoD(dp, &pval, sizeof pval));

    /* kernelParams: one pointer per parameter, no sizes */
    struct it_all_params P;
    fill_all_params(&P, dp, dout, 0);
    void *args[IT_ALL_NPARAMS] = {&P.c, &P.s, &P.i,  &P.ll,  &P.f,   &P.d,  &P.p,
                                  &P.t3, &P.o, &P.c2, &P.a16, &P.arr, &P.out};
    CHECK(cuMemsetD8(dout, 0xA5, sizeof out));
    CHECK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, s, args, NULL));
    CHECK(cuStreamSynchronize(s));
    memset(&out, 0, sizeof out);
    CHECK(cuMemcpyDtoH(&out, dout, sizeof out));
    check_all_out(&out, &P, pval, "kernelParams");

    /* extra: the host struct is the packed parameter buffer; its size is
     * the end of the last parameter. Where the function's layout is not the
     * ABI's (reported by check_param_info), such a launch would fault and
     * leave the context unusable for everything after it: record and skip. */
    size_t want_off[IT_ALL_NPARAMS], want_size[IT_ALL_NPARAMS];
    it_all_param_layout(want_off, want_size);
    for (int i = 0; i < IT_ALL_NPARAMS; i++) {
        size_t o = 0;
        if (cuFuncGetParamInfo(f, (size_t)i, &o, NULL) != CUDA_SUCCESS || o != want_off[i]) {
            it_fail(__FILE__, __LINE__, "[%s] all_kinds through `extra` NOT RUN: parameter %d is at %zu, the ABI "
                    "puts it at %zu", form, i, o, want_off[i]);
            CHECK(cuMemFree(dp));
            CHECK(cuMemFree(dout));
            return;
        }
    }
    pval = -55555;
    CHECK(cuMemcpyHtoD(dp, &pval, sizeof pval));
    fill_all_params(&P, dp, dout, 3);
    size_t size = offsetof(struct it_all_params, out) + sizeof(void *);
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &P, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
    CHECK(cuMemsetD8(dout, 0x5A, sizeof out));
    CHECK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, NULL, extra));
    CHECK(cuStreamSynchronize(s));
    memset(&out, 0, sizeof out);
    CHECK(cuMemcpyDtoH(&out, dout, sizeof out));
    check_all_out(&out, &P, pval, "extra");

    /* both kernelParams and extra: invalid */
    EXPECT_RESULT(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, args, extra), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemFree(dp));
    CHECK(cuMemFree(dout));
}

/* ====================================================================== */
/* launch shapes, shared memory, atomics                                    */
/* ====================================================================== */

static void run_index_map(CUfunction f, CUstream s, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                          unsigned bz)
{
    size_t nthreads = (size_t)gx * gy * gz * bx * by * bz, bytes = nthreads * 4 * sizeof(unsigned);
    unsigned *h = it_xmalloc(bytes);
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, bytes));
    CHECK(cuMemsetD8(d, 0xFF, bytes));
    void *args[] = {&d};
    CHECK(cuLaunchKernel(f, gx, gy, gz, bx, by, bz, 0, s, args, NULL));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(h, d, bytes));
    unsigned gshape = gx | gy << 8 | gz << 16, bshape = bx | by << 8 | bz << 16;
    size_t g = 0;
    int bad = 0;
    for (unsigned z = 0; z < gz && !bad; z++)
        for (unsigned y = 0; y < gy && !bad; y++)
            for (unsigned x = 0; x < gx && !bad; x++)
                for (unsigned tz = 0; tz < bz && !bad; tz++)
                    for (unsigned ty = 0; ty < by && !bad; ty++)
                        for (unsigned tx = 0; tx < bx && !bad; tx++, g++) {
                            unsigned want[4] = {x | y << 8 | z << 16, tx | ty << 8 | tz << 16, gshape, bshape};
                            if (memcmp(&h[4 * g], want, sizeof want) != 0) {
                                it_fail(__FILE__, __LINE__,
                                        "[%s] index_map grid %ux%ux%u block %ux%ux%u: thread %zu (block %u,%u,%u "
                                        "thread %u,%u,%u) wrote %#x %#x %#x %#x, expected %#x %#x %#x %#x",
                                        form, gx, gy, gz, bx, by, bz, g, x, y, z, tx, ty, tz, h[4 * g], h[4 * g + 1],
                                        h[4 * g + 2], h[4 * g + 3], want[0], want[1], want[2], want[3]);
                                bad = 1;
                            }
                        }
    CHECK(cuMemFree(d));
    free(h);
}

/* block sums through dynamic shared memory */
static void run_block_reduce(CUfunction f, CUstream s, int n, unsigned block, unsigned shmem, const char *what)
{
    unsigned grid = blocks_for((unsigned)n, block);
    int *in = it_xmalloc((size_t)n * sizeof(int)), *out = it_xmalloc(grid * sizeof(int));
    for (int i = 0; i < n; i++)
        in[i] = (i * 7919) % 1000 - 300;
    CUdeviceptr din, dout;
    CHECK(cuMemAlloc(&din, (size_t)n * sizeof(int)));
    CHECK(cuMemAlloc(&dout, grid * sizeof(int)));
    CHECK(cuMemcpyHtoD(din, in, (size_t)n * sizeof(int)));
    CHECK(cuMemsetD32(dout, 0xDEADBEEF, grid));
    void *args[] = {&din, &dout, &n};
    CHECK(cuLaunchKernel(f, grid, 1, 1, block, 1, 1, shmem, s, args, NULL));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(out, dout, grid * sizeof(int)));
    for (unsigned b = 0; b < grid; b++) {
        int want = 0;
        for (unsigned k = 0; k < block && b * block + k < (unsigned)n; k++)
            want += in[b * block + k];
        if (out[b] != want) {
            it_fail(__FILE__, __LINE__, "[%s] block_reduce %s: block %u sum %d, expected %d", form, what, b, out[b],
                    want);
            break;
        }
    }
    CHECK(cuMemFree(din));
    CHECK(cuMemFree(dout));
    free(in);
    free(out);
}

static void run_shared_reverse(CUfunction f, CUstream s, unsigned shmem)
{
    enum { BLOCKS = 8, N = BLOCKS * IT_SHARED_TILE };
    int h[N], out[N];
    for (int i = 0; i < N; i++)
        h[i] = i * 3 - 100;
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, sizeof h));
    CHECK(cuMemcpyHtoD(d, h, sizeof h));
    void *args[] = {&d};
    CHECK(cuLaunchKernel(f, BLOCKS, 1, 1, IT_SHARED_TILE, 1, 1, shmem, s, args, NULL));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(out, d, sizeof out));
    for (int b = 0; b < BLOCKS; b++)
        for (int t = 0; t < IT_SHARED_TILE; t++) {
            int want = h[b * IT_SHARED_TILE + IT_SHARED_TILE - 1 - t];
            if (out[b * IT_SHARED_TILE + t] != want) {
                it_fail(__FILE__, __LINE__, "[%s] shared_reverse (dynamic %u): [%d] = %d, expected %d", form, shmem,
                        b * IT_SHARED_TILE + t, out[b * IT_SHARED_TILE + t], want);
                b = BLOCKS;
                break;
            }
        }
    CHECK(cuMemFree(d));
}

static void run_bounded(CUfunction f, CUstream s)
{
    enum { GRID = 5, N = GRID * IT_BOUNDS };
    int out[N];
    CUdeviceptr d;
    CHECK(cuMemAlloc(&d, sizeof out));
    void *args[] = {&d};
    CHECK(cuLaunchKernel(f, GRID, 1, 1, IT_BOUNDS, 1, 1, 0, s, args, NULL));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(out, d, sizeof out));
    for (int i = 0; i < N; i++)
        if (out[i] != 3 * i + 1) {
            it_fail(__FILE__, __LINE__, "[%s] bounded: out[%d] = %d, expected %d", form, i, out[i], 3 * i + 1);
            break;
        }
    CHECK(cuMemFree(d));
}

/* ====================================================================== */
/* __device__ and __constant__ variables                                   */
/* ====================================================================== */

static void run_globals(CUmodule m, CUstream s)
{
    section("module globals");
    CUdeviceptr g_init = 0, g_scale = 0, g_table = 0, g_ping = 0;
    size_t sz = 0;
    CHECK(cuModuleGetGlobal(&g_init, &sz, m, "dev_init"));
    EXPECT_EQ(sz, IT_DEV_INIT_LEN * sizeof(int));
    EXPECT_NE(g_init, 0);
    CHECK(cuModuleGetGlobal(&g_scale, &sz, m, "dev_scale"));
    EXPECT_EQ(sz, sizeof(float));
    CHECK(cuModuleGetGlobal(&g_table, &sz, m, "const_table"));
    EXPECT_EQ(sz, IT_CONST_TABLE_LEN * sizeof(int));
    CHECK(cuModuleGetGlobal(&g_ping, &sz, m, "ping_count"));
    EXPECT_EQ(sz, sizeof(unsigned));
    /* either output may be NULL; the same variable gives the same address */
    CUdeviceptr again = 0;
    CHECK(cuModuleGetGlobal(&again, NULL, m, "dev_init"));
    EXPECT_EQ(again, g_init);
    sz = 0;
    CHECK(cuModuleGetGlobal(NULL, &sz, m, "const_table"));
    EXPECT_EQ(sz, IT_CONST_TABLE_LEN * sizeof(int));
    EXPECT_RESULT(cuModuleGetGlobal(&again, &sz, m, "no_such_variable"), CUDA_ERROR_NOT_FOUND);
    /* a kernel, not a variable: NVIDIA's driver says INVALID_VALUE (seen on an H200, driver 580) */
    if (it_backend_is_cpu())
        EXPECT_RESULT(cuModuleGetGlobal(&again, &sz, m, "vec_add"), CUDA_ERROR_NOT_FOUND);
    else
        EXPECT_TRUE(cuModuleGetGlobal(&again, &sz, m, "vec_add") != CUDA_SUCCESS);
    /* distinct variables do not overlap */
    EXPECT_TRUE(g_init + 16 <= g_scale || g_scale + 4 <= g_init);
    EXPECT_TRUE(g_table != g_init && g_table != g_scale && g_table != g_ping);

    /* initialisers, and zero for the uninitialised */
    int init[IT_DEV_INIT_LEN] = {0};
    CHECK(cuMemcpyDtoH(init, g_init, sizeof init));
    EXPECT_EQ(init[0], 11);
    EXPECT_EQ(init[1], 22);
    EXPECT_EQ(init[2], 33);
    EXPECT_EQ(init[3], 44);
    unsigned ping0 = 99;
    CHECK(cuMemcpyDtoH(&ping0, g_ping, sizeof ping0));
    EXPECT_EQ(ping0, 0);

    /* the host sets __constant__ and __device__ values; a kernel reads them */
    int table[IT_CONST_TABLE_LEN];
    for (int i = 0; i < IT_CONST_TABLE_LEN; i++)
        table[i] = 1000 * (i + 1);
    float scale = 0.5f;
    CHECK(cuMemcpyHtoD(g_table, table, sizeof table));
    CHECK(cuMemcpyHtoD(g_scale, &scale, sizeof scale));
    /* asynchronously (cudaMemcpyToSymbolAsync): no reply waited for, the
     * client knows the variables' extents */
    struct rgpu_client_info t0, t1;
    ASSERT_TRUE(rgpu_client_info(&t0) == 0);
    CHECK(cuMemcpyHtoDAsync(g_table, table, sizeof table, s));
    CHECK(cuMemsetD32Async(g_scale, 0, 1, s));
    CHECK(cuMemcpyHtoDAsync(g_scale, &scale, sizeof scale, s));
    ASSERT_TRUE(rgpu_client_info(&t1) == 0);
    EXPECT_EQ(t1.round_trips, t0.round_trips);
    enum { N = 100 };
    int n = N, out[N];
    float fout[N];
    CUdeviceptr dout, dfout;
    CHECK(cuMemAlloc(&dout, sizeof out));
    CHECK(cuMemAlloc(&dfout, sizeof fout));
    CUfunction use = get_fn(m, "use_globals");
    void *args[] = {&dout, &dfout, &n};
    CHECK(cuLaunchKernel(use, 2, 1, 1, 64, 1, 1, 0, s, args, NULL));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(out, dout, sizeof out));
    CHECK(cuMemcpyDtoH(fout, dfout, sizeof fout));
    static const int init_vals[IT_DEV_INIT_LEN] = {11, 22, 33, 44};
    for (int i = 0; i < N; i++) {
        int want = table[i % IT_CONST_TABLE_LEN] + init_vals[i % IT_DEV_INIT_LEN];
        if (out[i] != want || fout[i] != 0.5f * (float)i) {
            it_fail(__FILE__, __LINE__, "[%s] use_globals: [%d] = %d / %g, expected %d / %g", form, i, out[i],
                    (double)fout[i], want, (double)(0.5f * (float)i));
            break;
        }
    }

    /* a kernel writes a __device__ variable; read it with unified-address
     * cuMemcpy (host pointer as destination) */
    CUfunction dbl = get_fn(m, "double_init");
    CHECK(cuLaunchKernel(dbl, 1, 1, 1, 32, 1, 1, 0, s, NULL, NULL));
    CHECK(cuStreamSynchronize(s));
    memset(init, 0, sizeof init);
    CHECK(cuMemcpy((CUdeviceptr)(uintptr_t)init, g_init, sizeof init));
    EXPECT_EQ(init[0], 22);
    EXPECT_EQ(init[1], 44);
    EXPECT_EQ(init[2], 66);
    EXPECT_EQ(init[3], 88);

    /* unified-address cuMemcpy into the global and cuMemsetD32 on a global:
     * the kernel sees both */
    int newinit[IT_DEV_INIT_LEN] = {-1, -2, -3, -4};
    CHECK(cuMemcpy(g_init, (CUdeviceptr)(uintptr_t)newinit, sizeof newinit));
    CHECK(cuMemsetD32(g_table, 7, IT_CONST_TABLE_LEN));
    CHECK(cuLaunchKernel(use, 2, 1, 1, 64, 1, 1, 0, s, args, NULL));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(out, dout, sizeof out));
    for (int i = 0; i < N; i++)
        if (out[i] != 7 + newinit[i % IT_DEV_INIT_LEN]) {
            it_fail(__FILE__, __LINE__, "[%s] use_globals after cuMemcpy/cuMemsetD32: [%d] = %d, expected %d", form,
                    i, out[i], 7 + newinit[i % IT_DEV_INIT_LEN]);
            break;
        }

    /* a global is device memory to pointer queries */
    CUmemorytype mt = 0;
    CHECK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, g_init));
    EXPECT_EQ(mt, CU_MEMORYTYPE_DEVICE);

    /* atomics on a __device__ variable from a kernel without parameters */
    CUfunction ping = get_fn(m, "ping");
    CHECK(cuLaunchKernel(ping, 5, 1, 1, 64, 1, 1, 0, s, NULL, NULL));
    CHECK(cuLaunchKernel(ping, 1, 1, 1, 7, 1, 1, 0, s, NULL, NULL));
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemcpyDtoH(&ping0, g_ping, sizeof ping0));
    EXPECT_EQ(ping0, 5 * 64 + 7);

    CHECK(cuMemFree(dout));
    CHECK(cuMemFree(dfout));
}

/* ====================================================================== */
/* functions: lookup, names, attributes                                     */
/* ====================================================================== */

static void check_functions(CUmodule m, int want_ptx_version)
{
    section("functions: lookup, enumeration, names");
    CUfunction f = NULL;
    EXPECT_RESULT(cuModuleGetFunction(&f, m, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
    EXPECT_RESULT(cuModuleGetFunction(&f, m, "dev_init"), CUDA_ERROR_NOT_FOUND); /* a variable */
    EXPECT_RESULT(cuModuleGetFunction(&f, m, "vec_ad"), CUDA_ERROR_NOT_FOUND);   /* a prefix */
    EXPECT_RESULT(cuModuleGetFunction(&f, m, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuModuleGetFunction(NULL, m, "vec_add"), CUDA_ERROR_INVALID_VALUE);

    CUfunction byname[NKERNELS];
    for (int i = 0; i < NKERNELS; i++) {
        byname[i] = get_fn(m, kernel_names[i]);
        const char *name = NULL;
        CHECK(cuFuncGetName(&name, byname[i]));
        EXPECT_STREQ(name, kernel_names[i]);
        CUmodule owner = NULL;
        CHECK(cuFuncGetModule(&owner, byname[i]));
        EXPECT_TRUE(owner == m);
    }
    /* the same name twice gives the same function */
    EXPECT_TRUE(get_fn(m, "saxpy") == byname[1]);

    unsigned count = 0;
    CHECK(cuModuleGetFunctionCount(&count, m));
    EXPECT_EQ(count, NKERNELS);
    CUfunction fns[NKERNELS + 4];
    memset(fns, 0, sizeof fns);
    if (count == NKERNELS) {
        CHECK(cuModuleEnumerateFunctions(fns, count, m));
        int seen[NKERNELS] = {0};
        for (unsigned i = 0; i < count; i++) {
            const char *name = NULL;
            CUresult r = cuFuncGetName(&name, fns[i]);
            if (r != CUDA_SUCCESS) {
                it_fail(__FILE__, __LINE__, "[%s] cuFuncGetName(enumerated function %u): %s", form, i, it_errname(r));
                continue;
            }
            int k = 0;
            while (k < NKERNELS && strcmp(kernel_names[k], name) != 0)
                k++;
            if (k == NKERNELS) {
                it_fail(__FILE__, __LINE__, "[%s] enumerated an unknown function \"%s\"", form, name);
                continue;
            }
            EXPECT_EQ(seen[k], 0);
            seen[k]++;
            /* an enumerated function launches like a looked-up one: same handle */
            EXPECT_TRUE(fns[i] == byname[k]);
        }
    }

    section("function attributes");
    CUfunction vec_add = byname[0], bounded = byname[9], shared_reverse = byname[7], block_reduce = byname[6];
    int dev_max_threads = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    EXPECT_EQ(func_attr(bounded, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK), IT_BOUNDS);
    EXPECT_EQ(func_attr(vec_add, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK), dev_max_threads);
    for (int i = 0; i < NKERNELS; i++) {
        EXPECT_GE(func_attr(byname[i], CU_FUNC_ATTRIBUTE_NUM_REGS), 0);
        EXPECT_GE(func_attr(byname[i], CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES), 0);
        EXPECT_GE(func_attr(byname[i], CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES), 0);
        EXPECT_EQ(func_attr(byname[i], CU_FUNC_ATTRIBUTE_PTX_VERSION), want_ptx_version);
        EXPECT_EQ(func_attr(byname[i], CU_FUNC_ATTRIBUTE_BINARY_VERSION), dev_cc);
    }
    EXPECT_EQ(func_attr(shared_reverse, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES), IT_SHARED_TILE * (int)sizeof(int));
    EXPECT_EQ(func_attr(vec_add, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES), 0);
    /* dynamic shared memory is not static */
    EXPECT_EQ(func_attr(block_reduce, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES), 0);
    int dev_shared = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    EXPECT_EQ(func_attr(vec_add, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), dev_shared);
    int rev_dyn = func_attr(shared_reverse, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
    EXPECT_GT(rev_dyn, 0);
    EXPECT_LE(rev_dyn, dev_shared - IT_SHARED_TILE * (int)sizeof(int));
    int v = -1;
    EXPECT_RESULT(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX, vec_add), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuFuncGetAttribute(NULL, CU_FUNC_ATTRIBUTE_NUM_REGS, vec_add), CUDA_ERROR_INVALID_VALUE);

    /* asked before, every attribute is answered by the client
     * (client/funcattrs.c) until one is set (below: the carveout reads back
     * as set) */
    struct rgpu_client_info i0, i1;
    ASSERT_TRUE(rgpu_client_info(&i0) == 0);
    for (int at = 0; at < CU_FUNC_ATTRIBUTE_MAX; at++)
        (void)cuFuncGetAttribute(&v, (CUfunction_attribute)at, vec_add);
    ASSERT_TRUE(rgpu_client_info(&i1) == 0);
    EXPECT_EQ(i1.requests, i0.requests);

    /* read-only attributes cannot be set */
    EXPECT_RESULT(cuFuncSetAttribute(vec_add, CU_FUNC_ATTRIBUTE_NUM_REGS, 8), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuFuncSetAttribute(vec_add, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 64), CUDA_ERROR_INVALID_VALUE);
    /* carveout: a percentage, read back as set */
    CHECK(cuFuncSetAttribute(vec_add, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, 50));
    EXPECT_EQ(func_attr(vec_add, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT), 50);
    EXPECT_RESULT(cuFuncSetAttribute(vec_add, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, 101),
                  CUDA_ERROR_INVALID_VALUE);
    CHECK(cuFuncSetCacheConfig(vec_add, CU_FUNC_CACHE_PREFER_SHARED));
    CHECK(cuFuncSetCacheConfig(vec_add, CU_FUNC_CACHE_PREFER_NONE));
}

/* dynamic shared memory limits: at call time, and raised by the attribute */
static void check_dynamic_shared(CUmodule m, CUstream s)
{
    section("dynamic shared memory limits");
    CUfunction br = get_fn(m, "block_reduce"), rev = get_fn(m, "shared_reverse");
    int dev_shared = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    int optin = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    int n = 1000;
    CUdeviceptr din, dout;
    CHECK(cuMemAlloc(&din, (size_t)n * sizeof(int)));
    CHECK(cuMemAlloc(&dout, 64 * sizeof(int)));
    CHECK(cuMemsetD32(din, 1, (size_t)n));
    void *args[] = {&din, &dout, &n};

    /* shared_reverse: exactly its limit works, one byte more fails */
    int rev_dyn = func_attr(rev, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
    run_shared_reverse(rev, s, (unsigned)rev_dyn);
    void *rargs[] = {&dout};
    EXPECT_RESULT(cuLaunchKernel(rev, 1, 1, 1, IT_SHARED_TILE, 1, 1, (unsigned)rev_dyn + 1, s, rargs, NULL),
                  CUDA_ERROR_INVALID_VALUE);

    /* block_reduce: above the default needs the attribute */
    int dflt = func_attr(br, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
    EXPECT_EQ(dflt, dev_shared);
    EXPECT_RESULT(cuLaunchKernel(br, 4, 1, 1, 256, 1, 1, (unsigned)dflt + 4, s, args, NULL), CUDA_ERROR_INVALID_VALUE);
    if (optin > dev_shared) {
        int want = optin >= 65536 ? 65536 : optin;
        CHECK(cuFuncSetAttribute(br, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, want));
        EXPECT_EQ(func_attr(br, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), want);
        run_block_reduce(br, s, n, 256, (unsigned)want, "with the raised dynamic shared limit");
        EXPECT_RESULT(cuLaunchKernel(br, 4, 1, 1, 256, 1, 1, (unsigned)want + 4, s, args, NULL),
                      CUDA_ERROR_INVALID_VALUE);
        EXPECT_RESULT(cuFuncSetAttribute(br, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, optin + 1),
                      CUDA_ERROR_INVALID_VALUE);
        EXPECT_EQ(func_attr(br, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), want);
        /* back to the default: launching above it fails again */
        CHECK(cuFuncSetAttribute(br, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, dflt));
        EXPECT_RESULT(cuLaunchKernel(br, 4, 1, 1, 256, 1, 1, (unsigned)dflt + 4, s, args, NULL),
                      CUDA_ERROR_INVALID_VALUE);
    }
    CHECK(cuStreamSynchronize(s));
    CHECK(cuMemFree(din));
    CHECK(cuMemFree(dout));
}

/* ====================================================================== */
/* launch configuration errors                                              */
/* ====================================================================== */

static void check_config_errors(CUmodule m, CUstream s)
{
    section("launch configuration errors at call time");
    CUfunction va = get_fn(m, "vec_add"), bd = get_fn(m, "bounded");
    CUdeviceptr d;
    int n = 1;
    CHECK(cuMemAlloc(&d, 4096 * sizeof(int)));
    void *vargs[] = {&d, &d, &d, &n};
    void *bargs[] = {&d};
    int maxgy = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y);
    int maxbz = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z);

    EXPECT_RESULT(cuLaunchKernel(va, 1, 1, 1, 2048, 1, 1, 0, s, vargs, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLaunchKernel(va, 1, 1, 1, 1024, 2, 1, 0, s, vargs, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLaunchKernel(va, 1, 1, 1, 1, 1, (unsigned)maxbz + 1, 0, s, vargs, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLaunchKernel(va, 0, 1, 1, 32, 1, 1, 0, s, vargs, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLaunchKernel(va, 1, 0, 1, 32, 1, 1, 0, s, vargs, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLaunchKernel(va, 1, 1, 0, 32, 1, 1, 0, s, vargs, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLaunchKernel(va, 1, 1, 1, 0, 1, 1, 0, s, vargs, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuLaunchKernel(va, 1, (unsigned)maxgy + 1, 1, 32, 1, 1, 0, s, vargs, NULL),
                  CUDA_ERROR_INVALID_VALUE);
    /* more threads than the kernel's __launch_bounds__ */
    EXPECT_ERROR(cuLaunchKernel(bd, 1, 1, 1, 1024, 1, 1, 0, s, bargs, NULL));
    EXPECT_ERROR(cuLaunchKernel(bd, 1, 1, 1, IT_BOUNDS + 1, 1, 1, 0, s, bargs, NULL));
    EXPECT_ERROR(cuLaunchKernel(bd, 1, 1, 1, 64, 2, 2, 0, s, bargs, NULL)); /* 256 threads in 3-D */
    /* no function */
    EXPECT_RESULT2(cuLaunchKernel(NULL, 1, 1, 1, 1, 1, 1, 0, s, vargs, NULL), CUDA_ERROR_INVALID_HANDLE,
                   CUDA_ERROR_INVALID_VALUE);
    /* no current context */
    CUcontext popped = NULL;
    CHECK(cuCtxPopCurrent(&popped));
    EXPECT_RESULT(cuLaunchKernel(va, 1, 1, 1, 32, 1, 1, 0, NULL, vargs, NULL), CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cuCtxPushCurrent(popped));

    /* none of these is sticky: the context still works */
    EXPECT_RESULT(cuStreamSynchronize(s), CUDA_SUCCESS);
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
    run_bounded(bd, s);
    CHECK(cuMemFree(d));
}

/* a valid launch is queued without waiting: a gate holds the stream (a
 * non-blocking one, so that the legacy stream can look at the results
 * meanwhile) */
static void check_launch_does_not_wait(CUmodule m)
{
    section("a launch returns without waiting");
    CUfunction va = get_fn(m, "vec_add");
    enum { N = 256 };
    float a[N], c[N];
    int n = N;
    for (int i = 0; i < N; i++)
        a[i] = (float)i;
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUdeviceptr da, dc;
    CHECK(cuMemAlloc(&da, sizeof a));
    CHECK(cuMemAlloc(&dc, sizeof c));
    CHECK(cuMemcpyHtoD(da, a, sizeof a));
    CHECK(cuMemsetD32(dc, 0, N));
    struct gate g;
    gate_init(&g);
    CHECK(cuLaunchHostFunc(s, gate_fn, &g));
    void *args[] = {&da, &da, &dc, &n};
    double t0 = it_now();
    CUresult r1 = cuLaunchKernel(va, 2, 1, 1, 128, 1, 1, 0, s, args, NULL);
    CUresult r2 = cuLaunchKernel(va, 1, 1, 1, 256, 1, 1, 0, s, args, NULL);
    double dt = it_now() - t0;
    EXPECT_RESULT(r1, CUDA_SUCCESS);
    EXPECT_RESULT(r2, CUDA_SUCCESS);
    EXPECT_LT(dt * 1000, 5000); /* the gate holds the stream for up to 20 s */
    EXPECT_TRUE(gate_wait_entered(&g, 10.0));
    EXPECT_RESULT(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    /* the kernels have not run (the legacy stream does not wait for s) */
    CHECK(cuMemcpyDtoH(c, dc, sizeof c));
    EXPECT_ALLBYTES(c, 0, sizeof c, "vec_add output while the gate is closed");
    gate_open(&g);
    CHECK(cuStreamSynchronize(s));
    EXPECT_TRUE(!g.timed_out);
    CHECK(cuMemcpyDtoH(c, dc, sizeof c));
    for (int i = 0; i < N; i++)
        if (c[i] != 2.0f * a[i]) {
            it_fail(__FILE__, __LINE__, "[%s] gated vec_add: c[%d] = %g, expected %g", form, i, (double)c[i],
                    (double)(2.0f * a[i]));
            break;
        }
    gate_destroy(&g);
    CHECK(cuStreamDestroy(s));
    CHECK(cuMemFree(da));
    CHECK(cuMemFree(dc));
}

/* The parameters are taken when cuLaunchKernel is called: the caller may
 * overwrite its argument variables (and its `extra` buffer) right after,
 * even while the launches are still queued behind a gate. Many launches
 * queued at once also run in order. */
static void check_params_captured_at_launch(CUmodule m)
{
    section("parameters are captured at call time; many queued launches");
    CUfunction sx = get_fn(m, "saxpy");
    enum { N = 200, LAUNCHES = 100 };
    float x[N], y[N], out[N];
    int n = N;
    for (int i = 0; i < N; i++) {
        x[i] = (float)(i % 7);
        y[i] = (float)(i - 100);
    }
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUdeviceptr dx, dy;
    CHECK(cuMemAlloc(&dx, sizeof x));
    CHECK(cuMemAlloc(&dy, sizeof y));
    CHECK(cuMemcpyHtoD(dx, x, sizeof x));
    CHECK(cuMemcpyHtoD(dy, y, sizeof y));
    size_t off[4];
    for (int i = 0; i < 4; i++)
        CHECK(cuFuncGetParamInfo(sx, (size_t)i, &off[i], NULL));
    struct gate g;
    gate_init(&g);
    CHECK(cuLaunchHostFunc(s, gate_fn, &g));
    for (int k = 1; k <= LAUNCHES; k++) {
        float alpha = (float)k;
        CUdeviceptr px = dx, py = dy;
        int pn = n;
        if (k % 2) {
            void *args[] = {&alpha, &px, &py, &pn};
            CHECK(cuLaunchKernel(sx, blocks_for(N, 64), 1, 1, 64, 1, 1, 0, s, args, NULL));
        } else {
            unsigned char buf[32];
            memcpy(buf + off[0], &alpha, sizeof alpha);
            memcpy(buf + off[1], &px, sizeof px);
            memcpy(buf + off[2], &py, sizeof py);
            memcpy(buf + off[3], &pn, sizeof pn);
            size_t size = off[3] + sizeof pn;
            void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                             CU_LAUNCH_PARAM_END};
            CHECK(cuLaunchKernel(sx, blocks_for(N, 64), 1, 1, 64, 1, 1, 0, s, NULL, extra));
            memset(buf, 0xFF, sizeof buf); /* garbage where the parameters were */
        }
        /* garbage in the argument variables */
        alpha = -1e30f;
        px = py = 8;
        pn = -1;
    }
    EXPECT_RESULT(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    gate_open(&g);
    CHECK(cuStreamSynchronize(s));
    EXPECT_TRUE(!g.timed_out);
    CHECK(cuMemcpyDtoH(out, dy, sizeof out));
    const float sum = (float)(LAUNCHES * (LAUNCHES + 1) / 2);
    for (int i = 0; i < N; i++)
        if (out[i] != y[i] + sum * x[i]) { /* all exact: integers below 2^24 */
            it_fail(__FILE__, __LINE__, "[%s] %d queued saxpy launches: y[%d] = %g, expected %g", form, LAUNCHES, i,
                    (double)out[i], (double)(y[i] + sum * x[i]));
            break;
        }
    gate_destroy(&g);
    CHECK(cuStreamDestroy(s));
    CHECK(cuMemFree(dx));
    CHECK(cuMemFree(dy));
}

/* ====================================================================== */
/* occupancy                                                                */
/* ====================================================================== */

static void check_occupancy(CUmodule m)
{
    section("occupancy");
    CUfunction va = get_fn(m, "vec_add"), br = get_fn(m, "block_reduce"), bd = get_fn(m, "bounded");
    int per_sm_threads = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
    int per_sm_blocks = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR);
    int per_sm_shared = it_dev_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
    int b128 = -1, b1024 = -1, bf = -1;
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&b128, va, 128, 0));
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&b1024, va, 1024, 0));
    EXPECT_GE(b128, 1);
    EXPECT_GE(b1024, 1);
    EXPECT_LE(b1024, b128);
    EXPECT_LE(b128 * 128, per_sm_threads);
    EXPECT_LE(b1024 * 1024, per_sm_threads);
    EXPECT_LE(b128, per_sm_blocks);
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&bf, va, 128, 0, CU_OCCUPANCY_DEFAULT));
    EXPECT_EQ(bf, b128);

    /* a question asked before is answered by the client, until something
     * that may change the answer happens */
    struct rgpu_client_info i0, i1;
    int again = -1;
    ASSERT_TRUE(rgpu_client_info(&i0) == 0);
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&again, va, 128, 0));
    ASSERT_TRUE(rgpu_client_info(&i1) == 0);
    EXPECT_EQ(again, b128);
    EXPECT_EQ(i1.requests, i0.requests);
    CHECK(cuFuncSetCacheConfig(va, CU_FUNC_CACHE_PREFER_SHARED));
    ASSERT_TRUE(rgpu_client_info(&i0) == 0);
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&again, va, 128, 0));
    ASSERT_TRUE(rgpu_client_info(&i1) == 0);
    EXPECT_EQ(i1.requests, i0.requests + 1);
    EXPECT_GE(again, 1);

    int bb = -1;
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&bb, bd, IT_BOUNDS, 0));
    EXPECT_GE(bb, 1);

    /* dynamic shared memory limits the count */
    int s0 = -1, s48 = -1;
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&s0, br, 128, 0));
    CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&s48, br, 128, 48 * 1024));
    EXPECT_GE(s48, 1);
    EXPECT_LE(s48, s0);
    EXPECT_LE(s48 * 48 * 1024, per_sm_shared);

    size_t avail1 = 0, avail2 = 0;
    CHECK(cuOccupancyAvailableDynamicSMemPerBlock(&avail1, va, 1, 128));
    CHECK(cuOccupancyAvailableDynamicSMemPerBlock(&avail2, va, 2, 128));
    EXPECT_GT(avail1, 0);
    EXPECT_LE(avail1, (size_t)per_sm_shared);
    EXPECT_LE(avail2, avail1);
}

/* ====================================================================== */
/* several host threads launching at once                                   */
/* ====================================================================== */

#define NTHREADS 4
#define THREAD_LAUNCHES 10

struct thr {
    CUmodule m;
    int id;
};

static void *thread_main(void *p)
{
    struct thr *t = p;
    CHECK(cuCtxSetCurrent(ctx));
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    /* the first use of the function races with the other threads' */
    CUfunction f = get_fn(t->m, "saxpy");
    enum { N = 300 };
    float x[N], y[N], out[N];
    int n = N;
    CUdeviceptr dx, dy;
    CHECK(cuMemAlloc(&dx, sizeof x));
    CHECK(cuMemAlloc(&dy, sizeof y));
    for (int k = 0; k < THREAD_LAUNCHES; k++) {
        float alpha = (float)(t->id * 10 + k);
        for (int i = 0; i < N; i++) {
            x[i] = (float)(i + k);
            y[i] = (float)(t->id - i);
        }
        CHECK(cuMemcpyHtoDAsync(dx, x, sizeof x, s));
        CHECK(cuMemcpyHtoDAsync(dy, y, sizeof y, s));
        void *args[] = {&alpha, &dx, &dy, &n};
        CHECK(cuLaunchKernel(f, blocks_for(N, 128), 1, 1, 128, 1, 1, 0, s, args, NULL));
        CHECK(cuMemcpyDtoHAsync(out, dy, sizeof out, s));
        CHECK(cuStreamSynchronize(s));
        for (int i = 0; i < N; i++)
            if (out[i] != alpha * x[i] + y[i]) {
                it_fail(__FILE__, __LINE__, "thread %d launch %d: y[%d] = %g, expected %g", t->id, k, i,
                        (double)out[i], (double)(alpha * x[i] + y[i]));
                break;
            }
    }
    CHECK(cuMemFree(dx));
    CHECK(cuMemFree(dy));
    CHECK(cuStreamDestroy(s));
    return NULL;
}

/* A kernel of more parameters than rgpu's client asks the layout of at
 * first (32): launched, it must see every one in place. */
static void check_many_params(void)
{
    section("a kernel of 40 parameters");
    enum { NP = 40 };
    char ptx[8192], *p = ptx;
    p += sprintf(p, ".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry many(.param .u64 out");
    for (int i = 0; i < NP; i++)
        p += sprintf(p, ", .param .u32 p%d", i);
    p += sprintf(p, ")\n{\n\t.reg .u32 %%r<3>;\n\t.reg .u64 %%rd<2>;\n\tld.param.u32 %%r1, [p0];\n");
    for (int i = 1; i < NP; i++) /* weighted, so that a misplaced parameter shows */
        p += sprintf(p, "\tld.param.u32 %%r2, [p%d];\n\tmad.lo.u32 %%r1, %%r2, %d, %%r1;\n", i, i + 1);
    sprintf(p, "\tld.param.u64 %%rd1, [out];\n\tcvta.to.global.u64 %%rd1, %%rd1;\n"
               "\tst.global.u32 [%%rd1], %%r1;\n\tret;\n}\n");
    CUmodule m;
    CUfunction f;
    CUdeviceptr out;
    CHECK(cuModuleLoadData(&m, ptx));
    CHECK(cuModuleGetFunction(&f, m, "many"));
    CHECK(cuMemAlloc(&out, sizeof(unsigned)));
    unsigned v[NP], want = 0;
    void *args[NP + 1] = {&out};
    for (int i = 0; i < NP; i++) {
        v[i] = 1000u + 7u * (unsigned)i;
        want += v[i] * (unsigned)(i + 1);
        args[i + 1] = &v[i];
    }
    CHECK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    unsigned got = 0;
    CHECK(cuMemcpyDtoH(&got, out, sizeof got));
    EXPECT_EQ(got, want);
    size_t off = 0, size = 0;
    CHECK(cuFuncGetParamInfo(f, NP, &off, &size));
    EXPECT_EQ(off, 8 + 4 * (NP - 1));
    EXPECT_EQ(size, 4);
    CHECK(cuMemFree(out));
    CHECK(cuModuleUnload(m));
}

static void check_threads(void)
{
    form = "threads";
    section("launches from several host threads");
    CUmodule m;
    CHECK(cuModuleLoadData(&m, fatbin.data));
    pthread_t th[NTHREADS];
    struct thr t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        t[i] = (struct thr){m, i};
        ASSERT_TRUE(pthread_create(&th[i], NULL, thread_main, &t[i]) == 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    CHECK(cuModuleUnload(m));
}

/* ====================================================================== */
/* loading                                                                  */
/* ====================================================================== */

/* a module of it_kernels runs vec_add right; unloads it */
static void module_works(CUmodule m, const char *what)
{
    run_vec_add(get_fn(m, "vec_add"), NULL, 300, what);
    CHECK(cuModuleUnload(m));
}

static void check_jit_options(const struct it_image *img, const char *what)
{
    char info[256], err[256];
    memset(info, 'X', sizeof info);
    memset(err, 'X', sizeof err);
    CUjit_option opts[] = {CU_JIT_INFO_LOG_BUFFER,  CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
                           CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_WALL_TIME, CU_JIT_OPTIMIZATION_LEVEL,
                           CU_JIT_TARGET_FROM_CUCONTEXT};
    void *vals[] = {info, (void *)(uintptr_t)sizeof info, err, (void *)(uintptr_t)sizeof err, NULL,
                    (void *)(uintptr_t)3, NULL};
    float wall = -1.0f;
    memcpy(&vals[4], &wall, sizeof wall);
    CUmodule m = NULL;
    CUresult r = cuModuleLoadDataEx(&m, img->data, (unsigned)(sizeof opts / sizeof opts[0]), opts, vals);
    if (r != CUDA_SUCCESS) {
        it_fail(__FILE__, __LINE__, "cuModuleLoadDataEx(%s, JIT log options): got %s (%d); error log: %.*s", what,
                it_errname(r), (int)r, (int)sizeof err, err);
        return;
    }
    /* the logs are NUL-terminated strings within their buffers; no error */
    EXPECT_TRUE(memchr(info, 0, sizeof info) != NULL);
    EXPECT_TRUE(memchr(err, 0, sizeof err) != NULL);
    EXPECT_EQ(strnlen(err, sizeof err), 0);
    EXPECT_LE((size_t)(uintptr_t)vals[1], sizeof info);
    EXPECT_LE((size_t)(uintptr_t)vals[3], sizeof err);
    memcpy(&wall, &vals[4], sizeof wall);
    EXPECT_TRUE(wall >= 0.0f);
    module_works(m, what);

    /* no options at all */
    CHECK(cuModuleLoadDataEx(&m, img->data, 0, NULL, NULL));
    module_works(m, what);
}

static void check_loading(void)
{
    form = "loading";
    section("cuModuleGetLoadingMode, cuModuleLoadData/Ex/FatBinary, cuModuleLoad");
    CUmoduleLoadingMode mode = (CUmoduleLoadingMode)0;
    CHECK(cuModuleGetLoadingMode(&mode));
    EXPECT_EQ(mode, CU_MODULE_LAZY_LOADING);
    EXPECT_RESULT(cuModuleGetLoadingMode(NULL), CUDA_ERROR_INVALID_VALUE);

    CUmodule m = NULL;
    CHECK(cuModuleLoadData(&m, ptx75.data));
    module_works(m, "cuModuleLoadData(PTX compute_75)");
    if (dev_cc >= 120) {
        CHECK(cuModuleLoadData(&m, ptx120.data));
        module_works(m, "cuModuleLoadData(PTX compute_120)");
    }
    CHECK(cuModuleLoadData(&m, fatbin.data));
    module_works(m, "cuModuleLoadData(fatbin)");
    CHECK(cuModuleLoadFatBinary(&m, fatbin.data));
    module_works(m, "cuModuleLoadFatBinary(fatbin)");

    check_jit_options(&ptx75, "PTX compute_75");
    check_jit_options(&fatbin, "fatbin");

    CHECK(cuModuleLoad(&m, ptx75.path));
    module_works(m, "cuModuleLoad(PTX file)");
    CHECK(cuModuleLoad(&m, fatbin.path));
    module_works(m, "cuModuleLoad(fatbin file)");
    EXPECT_RESULT(cuModuleLoad(&m, "/nonexistent/rgpu/it_kernels.ptx"), CUDA_ERROR_FILE_NOT_FOUND);

    section("images that cannot load");
    EXPECT_RESULT(cuModuleLoadData(&m, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_RESULT(cuModuleLoadData(NULL, ptx75.data), CUDA_ERROR_INVALID_VALUE);

    /* only an sm_90 cubin: nothing the CPU device can run */
    CUresult r = cuModuleLoadData(&m, fatbin90.data);
    if (it_backend_is_cpu() || dev_cc != 90) {
        EXPECT_RESULT(r, CUDA_ERROR_NO_BINARY_FOR_GPU);
    } else {
        EXPECT_RESULT(r, CUDA_SUCCESS);
    }
    if (r == CUDA_SUCCESS)
        CHECK(cuModuleUnload(m));
    r = cuModuleLoadFatBinary(&m, fatbin90.data);
    if (it_backend_is_cpu() || dev_cc != 90)
        EXPECT_RESULT(r, CUDA_ERROR_NO_BINARY_FOR_GPU);
    if (r == CUDA_SUCCESS)
        CHECK(cuModuleUnload(m));

    /* text that is not PTX */
    EXPECT_RESULT2(cuModuleLoadData(&m, "hello, this is not a module at all\n"), CUDA_ERROR_INVALID_PTX,
                   CUDA_ERROR_INVALID_IMAGE);
    /* PTX with a bad instruction */
    static const char bad_ptx[] = ".version 8.0\n.target sm_75\n.address_size 64\n\n"
                                  ".visible .entry broken(.param .u64 p)\n{\n"
                                  "\t.reg .b32 %r<2>;\n\tfrobnicate.u32 %r1, 7;\n\tret;\n}\n";
    EXPECT_RESULT(cuModuleLoadData(&m, bad_ptx), CUDA_ERROR_INVALID_PTX);
    /* PTX using an undeclared register */
    static const char undeclared_ptx[] = ".version 8.0\n.target sm_75\n.address_size 64\n\n"
                                         ".visible .entry broken2()\n{\n\tmov.u32 %r9, 1;\n\tret;\n}\n";
    EXPECT_RESULT(cuModuleLoadData(&m, undeclared_ptx), CUDA_ERROR_INVALID_PTX);
    /* the first half of valid PTX (cut inside a kernel) */
    {
        /* cut just after the first '{' past the middle: inside a body */
        const char *brace = strchr((const char *)ptx75.data + ptx75.len / 2, '{');
        ASSERT_TRUE(brace != NULL);
        size_t cut = (size_t)(brace - (const char *)ptx75.data) + 1;
        char *half = it_xmalloc(cut + 1);
        memcpy(half, ptx75.data, cut);
        half[cut] = 0;
        EXPECT_RESULT(cuModuleLoadData(&m, half), CUDA_ERROR_INVALID_PTX);
        free(half);
    }
    /* random bytes (NUL-terminated, not starting with a known magic) */
    {
        unsigned char junk[4096];
        it_fill(junk, sizeof junk, 1234);
        junk[0] = 'J';
        junk[sizeof junk - 1] = 0;
        EXPECT_RESULT2(cuModuleLoadData(&m, junk), CUDA_ERROR_INVALID_PTX, CUDA_ERROR_INVALID_IMAGE);
    }
    /* a fatbin header whose body is garbage (its size stays inside the buffer) */
    {
        unsigned char fake[256];
        memset(fake, 0xFF, sizeof fake);
        uint32_t magic = 0xBA55ED50u;
        uint16_t version = 1, hsize = 16;
        uint64_t fsize = 64;
        memcpy(fake, &magic, 4);
        memcpy(fake + 4, &version, 2);
        memcpy(fake + 6, &hsize, 2);
        memcpy(fake + 8, &fsize, 8);
        EXPECT_ERROR(cuModuleLoadData(&m, fake));
        /* an empty fatbin: header only */
        fsize = 0;
        memcpy(fake + 8, &fsize, 8);
        EXPECT_ERROR(cuModuleLoadData(&m, fake));
    }
    /* the valid fatbin with its PTX payload damaged */
    {
        unsigned char *dmg = it_xmalloc(fatbin.len + 1);
        memcpy(dmg, fatbin.data, fatbin.len + 1);
        for (size_t i = 64; i < fatbin.len; i += 7)
            dmg[i] ^= 0x5A;
        r = cuModuleLoadData(&m, dmg);
        if (r == CUDA_SUCCESS) /* a driver may not notice until a function is used; it must not crash */
            CHECK(cuModuleUnload(m));
        free(dmg);
    }
    /* an ELF header with nothing behind it */
    {
        unsigned char elf[512];
        memset(elf, 0, sizeof elf);
        memcpy(elf, "\177ELF\2\1\1", 7);
        EXPECT_ERROR(cuModuleLoadData(&m, elf));
    }
    /* after all of that, loading still works */
    CHECK(cuModuleLoadData(&m, fatbin.data));
    module_works(m, "cuModuleLoadData(fatbin) after the failed loads");
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
}

/* the same image loaded twice: two modules, each with its own variables */
static void check_two_loads(void)
{
    form = "two loads";
    section("the same image loaded twice");
    CUmodule m1, m2;
    CHECK(cuModuleLoadData(&m1, fatbin.data));
    CHECK(cuModuleLoadData(&m2, fatbin.data));
    EXPECT_TRUE(m1 != m2);
    CUfunction f1 = get_fn(m1, "double_init"), f2 = get_fn(m2, "double_init");
    EXPECT_TRUE(f1 != f2);
    CUdeviceptr g1, g2;
    CHECK(cuModuleGetGlobal(&g1, NULL, m1, "dev_init"));
    CHECK(cuModuleGetGlobal(&g2, NULL, m2, "dev_init"));
    EXPECT_NE(g1, g2);
    int set[IT_DEV_INIT_LEN] = {1, 2, 3, 4}, got[IT_DEV_INIT_LEN];
    CHECK(cuMemcpyHtoD(g1, set, sizeof set));
    CHECK(cuLaunchKernel(f2, 1, 1, 1, IT_DEV_INIT_LEN, 1, 1, 0, NULL, NULL, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(got, g1, sizeof got));
    EXPECT_MEMEQ(got, set, sizeof set, "module 1's dev_init (module 2's kernel ran)");
    CHECK(cuMemcpyDtoH(got, g2, sizeof got));
    EXPECT_EQ(got[0], 22);
    EXPECT_EQ(got[3], 88);
    /* unloading one leaves the other working */
    CHECK(cuModuleUnload(m1));
    run_vec_add(get_fn(m2, "vec_add"), NULL, 100, "second module after the first was unloaded");
    CHECK(cuModuleUnload(m2));
}

/* after cuModuleUnload, the module's handles give errors, not crashes */
static void check_unload(void)
{
    form = "unload";
    section("handles after cuModuleUnload");
    CUmodule m;
    CHECK(cuModuleLoadData(&m, fatbin.data));
    CUfunction f = get_fn(m, "vec_add");
    run_vec_add(f, NULL, 100, "before unload");
    CUdeviceptr g;
    CHECK(cuModuleGetGlobal(&g, NULL, m, "dev_init"));
    CHECK(cuMemsetD32Async(g, 7, 1, NULL));
    CHECK(cuModuleUnload(m));
    /* the variable went with its module: refused when called */
    EXPECT_RESULT(cuMemsetD32Async(g, 7, 1, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuCtxSynchronize());

    int v;
    const char *name;
    CUfunction f2;
    CUmodule owner;
    size_t off, size;
    CUdeviceptr d;
    int n = 1;
    CHECK(cuMemAlloc(&d, 64));
    void *args[] = {&d, &d, &d, &n};
    EXPECT_ERROR(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
    EXPECT_ERROR(cuFuncGetName(&name, f));
    EXPECT_ERROR(cuFuncGetModule(&owner, f));
    EXPECT_ERROR(cuFuncGetParamInfo(f, 0, &off, &size));
    EXPECT_ERROR(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
    EXPECT_ERROR(cuModuleGetFunction(&f2, m, "vec_add"));
    EXPECT_ERROR(cuModuleGetGlobal(&g, NULL, m, "dev_init"));
    EXPECT_ERROR(cuModuleUnload(m));
    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
    CHECK(cuMemFree(d));
}

/* ====================================================================== */

/* everything that runs on one loaded module */
static void module_suite(CUmodule m, int ptx_version, CUstream s)
{
    check_functions(m, ptx_version);
    check_param_info(get_fn(m, "all_kinds"), get_fn(m, "saxpy"), get_fn(m, "ping"));

    section("vec_add / saxpy on the legacy stream and a created stream");
    CUfunction va = get_fn(m, "vec_add"), sx = get_fn(m, "saxpy");
    run_vec_add(va, NULL, 1000, "legacy stream");
    run_vec_add(va, s, 4099, "created stream");
    run_vec_add(va, CU_STREAM_LEGACY, 1, "CU_STREAM_LEGACY, n = 1");
    run_saxpy_extra(sx, NULL, 1000);
    run_saxpy_extra(sx, s, 513);
    run_stream_pipeline(sx, s);

    run_all_kinds(get_fn(m, "all_kinds"), NULL);
    run_all_kinds(get_fn(m, "all_kinds"), s);

    section("odd launch shapes");
    CUfunction im = get_fn(m, "index_map");
    run_index_map(im, s, 7, 3, 1, 33, 2, 1);
    run_index_map(im, NULL, 2, 3, 4, 5, 3, 7);
    run_index_map(im, s, 1, 1, 1, 1, 1, 1);
    run_index_map(im, s, 300, 1, 1, 1, 1, 1);
    run_index_map(im, NULL, 1, 1, 1, 1024, 1, 1);
    run_index_map(im, s, 1, 2, 1, 1, 1, 64);

    section("shared memory and __syncthreads");
    CUfunction br = get_fn(m, "block_reduce");
    run_block_reduce(br, s, 10000, 256, 256 * sizeof(int), "256 threads");
    run_block_reduce(br, NULL, 5000, 1024, 1024 * sizeof(int), "1024 threads");
    run_block_reduce(br, s, 100, 32, 8192, "32 threads, spare dynamic shared memory");
    run_shared_reverse(get_fn(m, "shared_reverse"), s, 0);
    run_bounded(get_fn(m, "bounded"), s);

    run_globals(m, s);
    check_dynamic_shared(m, s);
    check_config_errors(m, s);
}

int main(int argc, char **argv)
{
    const char *dir = it_kernel_dir(argc, argv);
    it_image_load(&ptx75, dir, IT_PTX75);
    it_image_load(&ptx120, dir, IT_PTX120);
    it_image_load(&fatbin, dir, IT_FATBIN);
    it_image_load(&fatbin90, dir, IT_FATBIN_SM90);

    CHECK(cuInit(0));
    CHECK(cuDeviceGet(&dev, 0));
    dev_cc = it_device_cc(dev);
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    CUstream s;
    CHECK(cuStreamCreate(&s, CU_STREAM_DEFAULT));

    check_loading();

    /* the fatbin holds compute_75 and compute_120 PTX: the driver takes the
     * newest the device can run. The whole suite runs on each form; the
     * compute_75 PTX (the oldest, simplest code) goes first, then the tests
     * that need one module of any form, then the newer forms (a kernel that
     * faults there leaves the context unusable for what follows). */
    struct {
        const char *label;
        const struct it_image *img;
        int ptx_version;
    } forms[] = {
        {"PTX compute_75", &ptx75, 75},
        {"PTX compute_120", &ptx120, 120},
        {"fatbin", &fatbin, dev_cc >= 120 ? 120 : 75},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (forms[i].ptx_version > dev_cc)
            continue;
        form = forms[i].label;
        CUmodule m;
        CHECK(cuModuleLoadData(&m, forms[i].img->data));
        module_suite(m, forms[i].ptx_version, s);
        CHECK(cuModuleUnload(m));

        if (i == 0) {
            form = "fatbin";
            CHECK(cuModuleLoadData(&m, fatbin.data));
            check_launch_does_not_wait(m);
            check_params_captured_at_launch(m);
            run_vec_add(get_fn(m, "vec_add"), NULL, (1 << 18) + 3, "a large grid (2049 blocks)");
            check_occupancy(m);
            CHECK(cuModuleUnload(m));
            check_many_params();
            check_threads();
            check_two_loads();
            check_unload();
        }
    }

    EXPECT_RESULT(cuCtxSynchronize(), CUDA_SUCCESS);
    CHECK(cuStreamDestroy(s));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    it_image_free(&ptx75);
    it_image_free(&ptx120);
    it_image_free(&fatbin);
    it_image_free(&fatbin90);
    TEST_DONE();
}
