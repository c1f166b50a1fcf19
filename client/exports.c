/*
 * exports.c — cuGetExportTable: the driver's private ("dark") API tables that
 * NVIDIA's runtime (cudart) and libraries require.
 *
 * cudart 13 asks for each table by UUID right after it finds the driver and
 * refuses to run without six of them; cuBLASLt needs one more. What each slot
 * must do is in shared/reference/cuda-driver-interface.md, section 3; this
 * file follows it table by table. Everything is answered on the client:
 *  - the tables are static, so their addresses are stable (the integrity
 *    hash covers two of them);
 *  - context-local storage keeps callbacks into this process (cls.c);
 *  - the integrity hash covers the calling thread's id (integrity.c).
 * Layout: slot i is the void * at byte 8*i; tables with a size header hold
 * their size in bytes in slot 0 (the CLS table has none and ends with NULL).
 *
 * Slots whose meaning nobody has observed are not guessed at: they log once
 * and return CUDA_ERROR_NOT_SUPPORTED (declared int f(void), ABI-safe for any
 * argument list on SysV x86-64 and AAPCS64, as in unsupported.c). The few
 * that answer success without doing anything are those the reference shows
 * the caller needs exactly that from; each says so.
 */
#define _GNU_SOURCE
#include "client.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cls.h"
#include "context.h"
#include "handles.h"
#include "integrity.h"

#define SIZE_HEADER(nslots) ((void *)(uintptr_t)((nslots) * sizeof(void *)))
#define FN(f) ((void *)&(f))

/* ---- slots nobody has seen called ---- */

__attribute__((noinline)) static int unknown_slot(const char *table, int slot, atomic_flag *warned)
{
    if (!atomic_flag_test_and_set_explicit(warned, memory_order_relaxed))
        rgpu_warn("export table %s: slot %d was called; its meaning is unknown, so rgpu returns "
                  "CUDA_ERROR_NOT_SUPPORTED",
                  table, slot);
    return CUDA_ERROR_NOT_SUPPORTED;
}

#define UNKNOWN(table, n)                                                                          \
    static int table##_##n(void)                                                                   \
    {                                                                                              \
        static atomic_flag warned = ATOMIC_FLAG_INIT;                                              \
        return unknown_slot(#table, n, &warned);                                                   \
    }

/* ---- CUDART_INTERFACE 6bd5fb6c-5bf4-e74a-8987-d93912fd9df9: 13 slots ---- */

/* Slots 1, 6 and 8 load a fatbin (through its wrapper, or its bare header) as
 * a module. cudart 13 uses cuLibraryLoadData instead and never calls them;
 * older runtimes did. cuModuleLoadData accepts both forms. */
static CUresult cudart_load_wrapper(CUmodule *out, const void *wrapper)
{
    return cuModuleLoadData(out, wrapper);
}

static CUresult cudart_load_wrapper_ext(CUmodule *out, const void *wrapper, void *a3, void *a4, unsigned a5)
{
    if (a3 || a4 || a5) /* unknown extras: refuse rather than ignore */
        return CUDA_ERROR_NOT_SUPPORTED;
    return cuModuleLoadData(out, wrapper);
}

static CUresult cudart_load_header_ext(const void *header, CUmodule *out, void *a3, void *a4, unsigned a5)
{
    if (a3 || a4 || a5)
        return CUDA_ERROR_NOT_SUPPORTED;
    return cuModuleLoadData(out, header);
}

/* Slot 2, called once per device at init: the device's primary context,
 * neither retained nor activated (cudart binds it, then retains it itself).
 * The handle must equal what cuDevicePrimaryCtxRetain returns. rgpu learns it
 * only from a retain, so the first call retains and releases at once; a
 * primary context's handle stays the same for the device's lifetime on both
 * backends, so it is kept. */
#define MAX_PRIMARY 64
static _Atomic(CUcontext) primary_handle[MAX_PRIMARY];

static CUresult cudart_primary_context(CUcontext *out, CUdevice dev)
{
    int n;
    CUresult r = cuDeviceGetCount(&n);
    if (r)
        return r;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    if (dev < 0 || dev >= n || dev >= MAX_PRIMARY)
        return CUDA_ERROR_INVALID_DEVICE;
    CUcontext c = atomic_load(&primary_handle[dev]);
    if (!c) {
        if ((r = cuDevicePrimaryCtxRetain(&c, dev)) != CUDA_SUCCESS)
            return r;
        if ((r = cuDevicePrimaryCtxRelease_v2(dev)) != CUDA_SUCCESS)
            return r;
        atomic_store(&primary_handle[dev], c);
    }
    *out = c;
    return CUDA_SUCCESS;
}

/* Slot 12: "loads the PTX compiler, libnvvm, tileir" in NVIDIA's driver. rgpu
 * compiles or interprets PTX on the server, which needs nothing loaded here:
 * the compilers are available, so success is the true answer. */
static CUresult cudart_load_compilers(void) { return CUDA_SUCCESS; }

UNKNOWN(CUDART_INTERFACE, 3)
UNKNOWN(CUDART_INTERFACE, 4)
UNKNOWN(CUDART_INTERFACE, 5)
UNKNOWN(CUDART_INTERFACE, 7)
UNKNOWN(CUDART_INTERFACE, 9)
UNKNOWN(CUDART_INTERFACE, 10)
UNKNOWN(CUDART_INTERFACE, 11)

static void *const cudart_interface[13] = {
    SIZE_HEADER(13),
    FN(cudart_load_wrapper),
    FN(cudart_primary_context),
    FN(CUDART_INTERFACE_3),
    FN(CUDART_INTERFACE_4),
    FN(CUDART_INTERFACE_5),
    FN(cudart_load_wrapper_ext),
    FN(CUDART_INTERFACE_7),
    FN(cudart_load_header_ext),
    FN(CUDART_INTERFACE_9),
    FN(CUDART_INTERFACE_10),
    FN(CUDART_INTERFACE_11),
    FN(cudart_load_compilers),
};

/* ---- TOOLS_RUNTIME_CALLBACK_HOOKS a094798c-2e74-2e74-93f2-0800200c0a66: 7 slots ---- */

/* Slots 2 and 6 hand out zeroed driver-owned buffers that profiling tools
 * fill (slot 2: one enable flag per runtime callback id, of which CUDA 13 has
 * 523). cudart only reads them, and refuses sizes below 523 and 14. The
 * buffers are larger than the sizes reported, whatever the element width the
 * reader assumes. No tool writes them under rgpu: they stay zero, meaning
 * "no callbacks". */
static uint64_t callback_enable[1024];
static uint64_t callback_buf2[64];

static void hooks_buf1(void **ptr, size_t *size)
{
    if (ptr)
        *ptr = callback_enable;
    if (size)
        *size = 1024;
}

static void hooks_buf2(void **ptr, size_t *size)
{
    if (ptr)
        *ptr = callback_buf2;
    if (size)
        *size = 14;
}

UNKNOWN(TOOLS_RUNTIME_CALLBACK_HOOKS, 1)
UNKNOWN(TOOLS_RUNTIME_CALLBACK_HOOKS, 3)
UNKNOWN(TOOLS_RUNTIME_CALLBACK_HOOKS, 4)
UNKNOWN(TOOLS_RUNTIME_CALLBACK_HOOKS, 5)

static void *const callback_hooks[7] = {
    SIZE_HEADER(7),
    FN(TOOLS_RUNTIME_CALLBACK_HOOKS_1),
    FN(hooks_buf1),
    FN(TOOLS_RUNTIME_CALLBACK_HOOKS_3),
    FN(TOOLS_RUNTIME_CALLBACK_HOOKS_4),
    FN(TOOLS_RUNTIME_CALLBACK_HOOKS_5),
    FN(hooks_buf2),
};

/* ---- TOOLS_TLS 42d85a81-23f6-cb47-8298-f6e78a3aecdc: 4 slots ---- */

/* Slot 2, used by cuBLASLt to key its per-context cache: the calling
 * thread's current context (inferred by the reference: cuBLASLt passes the
 * result straight to CTX_ID[4]). */
static CUresult tls_current_context(CUcontext *out)
{
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    *out = rgpu_ctx_current();
    return CUDA_SUCCESS;
}

UNKNOWN(TOOLS_TLS, 1)
UNKNOWN(TOOLS_TLS, 3)

static void *const tools_tls[4] = {
    SIZE_HEADER(4),
    FN(TOOLS_TLS_1),
    FN(tls_current_context),
    FN(TOOLS_TLS_3),
};

/* ---- CONTEXT_LOCAL_STORAGE_INTERFACE_V0301 c693336e-1121-df11-a8c3-68f355d89593 ---- */

static CUresult cls_put(CUcontext ctx, void *key, void *value, rgpu_cls_dtor dtor)
{
    return rgpu_cls_put(ctx, key, value, dtor);
}

static CUresult cls_delete(CUcontext ctx, void *key) { return rgpu_cls_delete(ctx, key); }

static CUresult cls_get(void **value, CUcontext ctx, void *key) { return rgpu_cls_get(value, ctx, key); }

/* No size header: slot 0 is already a function, and NULL ends the table. */
static void *const context_local_storage[4] = {
    FN(cls_put),
    FN(cls_delete),
    FN(cls_get),
    NULL,
};

/* ---- CONTEXT_CHECKS 263e8860-7cd2-6143-92f6-bbd5006dfa7e: 4 slots ---- */

/* Slot 2 asks whether ctx is a "wrapped" context (*r1 = 1, with the inner
 * one in *r2). rgpu has no such contexts: 0 is the true answer. */
static CUresult ctx_check_wrapped(CUcontext ctx, uint32_t *r1, const void **r2)
{
    if (r1)
        *r1 = 0;
    return CUDA_SUCCESS;
}

/* Slot 3, called once at init; cudart requires 0 here (reference 3.5). */
static uint32_t ctx_check_fn3(void) { return 0; }

UNKNOWN(CONTEXT_CHECKS, 1)

static void *const context_checks[4] = {
    SIZE_HEADER(4),
    FN(CONTEXT_CHECKS_1),
    FN(ctx_check_wrapped),
    FN(ctx_check_fn3),
};

/* ---- INTEGRITY_CHECK d4082055-bde6-704b-8d34-ba123c66e1f2: 3 slots ---- */

static CUresult integrity_check(uint32_t version, uint64_t unix_seconds, uint64_t result[2]);
UNKNOWN(INTEGRITY_CHECK, 2)

static void *const integrity_table[3] = {
    SIZE_HEADER(3),
    FN(integrity_check),
    FN(INTEGRITY_CHECK_2),
};

/* Slot 1. The hash covers what cudart itself saw from this driver (version,
 * device UUIDs and PCI location), this process and thread, and the table
 * addresses, so it is computed here on the calling thread from the same
 * answers the client gives; nothing of it can come from the server. */
static CUresult integrity_check(uint32_t version, uint64_t unix_seconds, uint64_t result[2])
{
    if (!result)
        return CUDA_ERROR_INVALID_VALUE;
    struct rgpu_integrity_input in = {
        .version = version,
        .pid = (uint32_t)getpid(),
        .thread = (uint32_t)(uintptr_t)pthread_self(),
        .cudart_table = cudart_interface,
        .integrity_table = integrity_table,
        .fn = integrity_table[1],
        .unix_seconds = unix_seconds,
    };
    if (version % 10 <= 1) { /* fixed answers: no inputs needed */
        rgpu_integrity_result(&in, NULL, 0, result);
        return CUDA_SUCCESS;
    }
    int drv, n;
    CUresult r = cuDriverGetVersion(&drv);
    if (r || (r = cuDeviceGetCount(&n)) != CUDA_SUCCESS)
        return r;
    in.driver_version = (uint32_t)drv;
    if (n < 0 || n > 256) /* a snapshot rgpu would never send */
        return CUDA_ERROR_INVALID_DEVICE;
    struct rgpu_integrity_device devs[n > 0 ? n : 1];
    memset(devs, 0, sizeof devs);
    for (int i = 0; i < n; i++) {
        CUuuid u;
        int dom, bus, dev;
        if ((r = cuDeviceGetUuid(&u, i)) != CUDA_SUCCESS ||
            (r = cuDeviceGetAttribute(&dom, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, i)) != CUDA_SUCCESS ||
            (r = cuDeviceGetAttribute(&bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, i)) != CUDA_SUCCESS ||
            (r = cuDeviceGetAttribute(&dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, i)) != CUDA_SUCCESS)
            return r;
        memcpy(devs[i].uuid, u.bytes, 16);
        devs[i].pci_domain = dom;
        devs[i].pci_bus = bus;
        devs[i].pci_device = dev;
    }
    rgpu_integrity_result(&in, devs, n, result);
    return CUDA_SUCCESS;
}

/* ---- 21318c60-9714-3248-8ca6-41ff7324c8f2 ("CTX_ID"), cuBLASLt: 64 slots ---- */

/* Slot 4: a context's unique id, which cuBLASLt keys a per-context cache on;
 * cuCtxGetId's answer (ctx NULL: the current context). */
static CUresult ctxid_get(CUcontext ctx, uint64_t *id)
{
    unsigned long long v;
    if (!id)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuCtxGetId(ctx, &v);
    if (r == CUDA_SUCCESS)
        *id = v;
    return r;
}

/* Slots 51 and 39: cuBLAS keys its per-stream workspace on a stream's
 * identity. Before each GEMM (after cuStreamGetCaptureInfo_v2 reports that
 * the stream is not capturing) libcublas does
 *     TOOLS_TLS[2](&ctx);
 *     CTX_ID[51](ctx, stream, &s, stream == CU_STREAM_PER_THREAD);
 *     CTX_ID[39](ctx, s, &id);
 * and fails the call unless both return 0 (seen in its disassembly; another
 * project's tests give the same reading: "stream from public handle" and
 * "stream identity"). rgpu's driver-side stream is the public handle, with
 * the NULL stream resolved to the legacy or per-thread default stream; its
 * identity is cuStreamGetId's answer, unique over the process lifetime. */
static CUresult ctxid_stream(CUcontext ctx, CUstream s, CUstream *out, int per_thread)
{
    (void)ctx;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = rgpu_stream_check(s);
    if (r)
        return r;
    *out = s ? s : per_thread ? CU_STREAM_PER_THREAD : CU_STREAM_LEGACY;
    return CUDA_SUCCESS;
}

static CUresult ctxid_stream_id(CUcontext ctx, CUstream s, uint64_t *id)
{
    unsigned long long v;
    if (!id)
        return CUDA_ERROR_INVALID_VALUE;
    /* a default stream is the one of ctx (NULL: the current context) */
    bool push = ctx && ctx != rgpu_ctx_current() && (!s || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD);
    CUresult r = push ? cuCtxPushCurrent_v2(ctx) : CUDA_SUCCESS;
    if (r)
        return r;
    r = cuStreamGetId(s, &v);
    if (push) {
        CUcontext popped;
        cuCtxPopCurrent_v2(&popped);
    }
    if (r == CUDA_SUCCESS)
        *id = v;
    return r;
}

/* The table must be at least 52 slots long; 64 worked in the reference. */
#define CTXID_UNKNOWN4(a, b, c, d) UNKNOWN(CTX_ID, a) UNKNOWN(CTX_ID, b) UNKNOWN(CTX_ID, c) UNKNOWN(CTX_ID, d)
UNKNOWN(CTX_ID, 1)
UNKNOWN(CTX_ID, 2)
UNKNOWN(CTX_ID, 3)
UNKNOWN(CTX_ID, 5)
UNKNOWN(CTX_ID, 6)
UNKNOWN(CTX_ID, 7)
CTXID_UNKNOWN4(8, 9, 10, 11)
CTXID_UNKNOWN4(12, 13, 14, 15)
CTXID_UNKNOWN4(16, 17, 18, 19)
CTXID_UNKNOWN4(20, 21, 22, 23)
CTXID_UNKNOWN4(24, 25, 26, 27)
CTXID_UNKNOWN4(28, 29, 30, 31)
CTXID_UNKNOWN4(32, 33, 34, 35)
UNKNOWN(CTX_ID, 36)
UNKNOWN(CTX_ID, 37)
UNKNOWN(CTX_ID, 38)
CTXID_UNKNOWN4(40, 41, 42, 43)
CTXID_UNKNOWN4(44, 45, 46, 47)
UNKNOWN(CTX_ID, 48)
UNKNOWN(CTX_ID, 49)
UNKNOWN(CTX_ID, 50)
CTXID_UNKNOWN4(52, 53, 54, 55)
CTXID_UNKNOWN4(56, 57, 58, 59)
CTXID_UNKNOWN4(60, 61, 62, 63)

#define CTXID4(a, b, c, d) FN(CTX_ID_##a), FN(CTX_ID_##b), FN(CTX_ID_##c), FN(CTX_ID_##d)
static void *const ctx_id_table[64] = {
    SIZE_HEADER(64),  FN(CTX_ID_1),         FN(CTX_ID_2),         FN(CTX_ID_3),
    FN(ctxid_get),    FN(CTX_ID_5),         FN(CTX_ID_6),         FN(CTX_ID_7),
    CTXID4(8, 9, 10, 11),   CTXID4(12, 13, 14, 15), CTXID4(16, 17, 18, 19), CTXID4(20, 21, 22, 23),
    CTXID4(24, 25, 26, 27), CTXID4(28, 29, 30, 31), CTXID4(32, 33, 34, 35), FN(CTX_ID_36), FN(CTX_ID_37), FN(CTX_ID_38), FN(ctxid_stream_id),
    CTXID4(40, 41, 42, 43), CTXID4(44, 45, 46, 47), FN(CTX_ID_48), FN(CTX_ID_49), FN(CTX_ID_50), FN(ctxid_stream), CTXID4(52, 53, 54, 55),
    CTXID4(56, 57, 58, 59), CTXID4(60, 61, 62, 63),
};

/* ---- f8cff951-2146-8b4e-b9e2-fb469e7c0dd9: the runtime's error-log sink ---- */

/* Slot 1: cudart's internal error printer hands its messages (e.g. "Invalid
 * device number 5 provided, ...") to the driver, which NVIDIA's keeps for
 * cuLogs*. rgpu writes them to its log at warn level, where the user sees
 * them next to rgpu's own warnings. */
static CUresult errlog_write(const char *component, int level, const char *fmt, va_list ap)
{
    char msg[1024];
    if (!fmt)
        return CUDA_ERROR_INVALID_VALUE;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    rgpu_warn("%s: %s", component ? component : "CUDA", msg);
    return CUDA_SUCCESS;
}

UNKNOWN(ERROR_LOG, 2)
UNKNOWN(ERROR_LOG, 3)

/* Only slot 1 is known; the size header is assumed (reference 3.7), the two
 * slots after it keep a reader that looks further on a defined answer. */
static void *const error_log[4] = {
    SIZE_HEADER(4),
    FN(errlog_write),
    FN(ERROR_LOG_2),
    FN(ERROR_LOG_3),
};

/* ---- 1734dc26-800d-4745-8726-c0f1e7dd8bca: asked for by cuBLASLt 13 ---- */

/* cuBLASLt asks for this table when it weighs sm_90 kernels for a half- or
 * bfloat16 GEMM on a Hopper card (on an H200, cublasGemmEx f16), and calls
 * slot 4 — (void **out, void **out2, ...) -> CUresult, its result checked —
 * without checking that the table was given: refused, the program crashed
 * in cublasLtHSSMatmulAlgoGetHeuristic on a NULL table. What the slots do is
 * not known, so every one says NOT_SUPPORTED (and warns); slot 0 is taken
 * for a size header, as in the tables around it. That this is handled was
 * read off the one call site in CUDA 13.0's libcublasLt.so.13 (not run on a
 * GPU): a lookup cached per key under a lock asks slot 4 for (bytes, count)
 * and on a non-zero result takes the same path as a key whose flags say
 * there is nothing to ask (an empty entry is cached); only after a success
 * does it read the bytes and call slot 13. */
UNKNOWN(LT_1734DC26, 1)
UNKNOWN(LT_1734DC26, 2)
UNKNOWN(LT_1734DC26, 3)
UNKNOWN(LT_1734DC26, 4)
UNKNOWN(LT_1734DC26, 5)
UNKNOWN(LT_1734DC26, 6)
UNKNOWN(LT_1734DC26, 7)
UNKNOWN(LT_1734DC26, 8)
UNKNOWN(LT_1734DC26, 9)
UNKNOWN(LT_1734DC26, 10)
UNKNOWN(LT_1734DC26, 11)
UNKNOWN(LT_1734DC26, 12)
UNKNOWN(LT_1734DC26, 13)
UNKNOWN(LT_1734DC26, 14)
UNKNOWN(LT_1734DC26, 15)

static void *const lt_1734dc26[16] = {
    SIZE_HEADER(16),       FN(LT_1734DC26_1),  FN(LT_1734DC26_2),  FN(LT_1734DC26_3),
    FN(LT_1734DC26_4),     FN(LT_1734DC26_5),  FN(LT_1734DC26_6),  FN(LT_1734DC26_7),
    FN(LT_1734DC26_8),     FN(LT_1734DC26_9),  FN(LT_1734DC26_10), FN(LT_1734DC26_11),
    FN(LT_1734DC26_12),    FN(LT_1734DC26_13), FN(LT_1734DC26_14), FN(LT_1734DC26_15),
};

/* ---- the directory ---- */

/* Besides the runtime's own, CUDA 13.0's libcublas.so.13 and
 * libcublasLt.so.13 ask for exactly TOOLS_TLS, CTX_ID, context-local
 * storage and (cuBLASLt) 1734dc26: read off every call site of the export
 * table getter their static runtime carries, GPU-only paths included. */

static const struct {
    const char *name;
    uint8_t uuid[16];
    void *const *table;
} export_tables[] = {
    {"error-log sink", {0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e, 0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9},
     error_log},
    {"CUDART_INTERFACE",
     {0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9},
     cudart_interface},
    {"TOOLS_RUNTIME_CALLBACK_HOOKS",
     {0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66},
     callback_hooks},
    {"TOOLS_TLS", {0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc},
     tools_tls},
    {"CONTEXT_LOCAL_STORAGE_INTERFACE_V0301",
     {0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93},
     context_local_storage},
    {"CONTEXT_CHECKS",
     {0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e},
     context_checks},
    {"INTEGRITY_CHECK",
     {0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2},
     integrity_table},
    {"CTX_ID", {0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8, 0xf2},
     ctx_id_table},
    {"1734dc26 (cuBLASLt, sm_90)",
     {0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45, 0x87, 0x26, 0xc0, 0xf1, 0xe7, 0xdd, 0x8b, 0xca},
     lt_1734dc26},
};

RGPU_API CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
    if (!ppExportTable)
        return CUDA_ERROR_INVALID_VALUE;
    *ppExportTable = NULL;
    if (!pExportTableId)
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < sizeof export_tables / sizeof export_tables[0]; i++) {
        if (memcmp(export_tables[i].uuid, pExportTableId->bytes, 16) == 0) {
            rgpu_debug("cuGetExportTable(%s) -> %p", export_tables[i].name, (const void *)export_tables[i].table);
            *ppExportTable = export_tables[i].table;
            return CUDA_SUCCESS;
        }
    }
    const unsigned char *b = (const unsigned char *)pExportTableId->bytes;
    rgpu_debug("cuGetExportTable: unknown table %02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
               b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return CUDA_ERROR_INVALID_VALUE;
}
