/*
 * calls.c — argument codecs and trace printers for every row of calls.def.
 *
 * Request layout, argument by argument: IN/DEL as sizeof(T) raw bytes,
 * OPTOUT as one "wanted" byte, INBUF/OUTBUF as a u64 length (INBUF bytes go
 * in the bulk payload). Reply layout after success: OUT values, wanted OPTOUT
 * values, then OUTBUF bytes as bulk. The server re-evaluates every length
 * expression on the decoded arguments, so a client cannot make the backend
 * read or write past what travelled.
 */
#include "calls.h"
#include "proto.h"

#include <string.h>

_Static_assert(CU_DEVICE_ATTRIBUTE_MAX <= RGPU_NATTR, "RGPU_NATTR must cover every device attribute");
_Static_assert(CU_FUNC_ATTRIBUTE_MAX <= RGPU_MAX_FUNC_ATTRS, "RGPU_MAX_FUNC_ATTRS must cover every function attribute");

#define A(x) (a->x)

/* ---- request encode (client) ---- */
#define RGPU_ER_IN(T, x) rgpu_wbuf_put(w, &a->x, sizeof(T));
#define RGPU_ER_DEL(T, x) rgpu_wbuf_put(w, &a->x, sizeof(T));
#define RGPU_ER_OUT(T, x)
#define RGPU_ER_OPTOUT(T, x) rgpu_wbuf_put_u8(w, a->x##_want);
#define RGPU_ER_INBUF(T, x, len) a->x##_len = (uint64_t)(len); rgpu_wbuf_put_u64(w, a->x##_len); rgpu_wbuf_bulk(w, a->x, a->x##_len);
#define RGPU_ER_OUTBUF(T, x, len) a->x##_len = (uint64_t)(len); rgpu_wbuf_put_u64(w, a->x##_len);
#define RGPU_ER_INSTR(T, x) a->x##_len = a->x ? strlen(a->x) + 1 : 0; rgpu_wbuf_put_u64(w, a->x##_len); rgpu_wbuf_bulk(w, a->x, a->x##_len);
#define RGPU_ER_NONE(_)
#define RGPU_ER(t) RGPU_DIR(RGPU_ER_, t)

/* ---- request decode (server) ---- */
#define RGPU_DR_IN(T, x) rgpu_rbuf_get(r, &a->x, sizeof(T));
#define RGPU_DR_DEL(T, x) rgpu_rbuf_get(r, &a->x, sizeof(T));
#define RGPU_DR_OUT(T, x)
#define RGPU_DR_OPTOUT(T, x) rgpu_rbuf_get_u8(r, &a->x##_want); if (a->x##_want > 1) return false;
/* a zero-length buffer is NULL, as the client may have passed it */
#define RGPU_DR_INBUF(T, x, len) rgpu_rbuf_get_u64(r, &a->x##_len); a->x = (T)rgpu_rbuf_take_bulk(r, a->x##_len); if (!a->x##_len) a->x = NULL;
#define RGPU_DR_OUTBUF(T, x, len) rgpu_rbuf_get_u64(r, &a->x##_len); if (a->x##_len > RGPU_MAX_BULK_LEN) return false;
#define RGPU_DR_INSTR(T, x)                                                                        \
    rgpu_rbuf_get_u64(r, &a->x##_len);                                                             \
    if (a->x##_len > RGPU_MAX_STRING) return false;                                                \
    a->x = a->x##_len ? (T)rgpu_rbuf_take_bulk(r, a->x##_len) : NULL;                              \
    if (a->x##_len && (!a->x || a->x[a->x##_len - 1] != 0)) return false;
#define RGPU_DR_NONE(_)
#define RGPU_DR(t) RGPU_DIR(RGPU_DR_, t)
/* second pass, all arguments known: lengths must match their expressions */
#define RGPU_DL_IN(T, x)
#define RGPU_DL_DEL(T, x)
#define RGPU_DL_OUT(T, x)
#define RGPU_DL_OPTOUT(T, x)
#define RGPU_DL_INBUF(T, x, len) if (a->x##_len != (uint64_t)(len)) return false;
#define RGPU_DL_OUTBUF(T, x, len) if (a->x##_len != (uint64_t)(len)) return false;
#define RGPU_DL_INSTR(T, x)
#define RGPU_DL_NONE(_)
#define RGPU_DL(t) RGPU_DIR(RGPU_DL_, t)

/* ---- reply encode (server) ---- */
#define RGPU_EP_IN(T, x)
#define RGPU_EP_DEL(T, x)
#define RGPU_EP_OUT(T, x) rgpu_wbuf_put(w, &a->x, sizeof(T));
#define RGPU_EP_OPTOUT(T, x) if (a->x##_want) rgpu_wbuf_put(w, &a->x, sizeof(T));
#define RGPU_EP_INBUF(T, x, len)
#define RGPU_EP_OUTBUF(T, x, len) rgpu_wbuf_bulk(w, a->x, a->x##_len);
#define RGPU_EP_INSTR(T, x)
#define RGPU_EP_NONE(_)
#define RGPU_EP(t) RGPU_DIR(RGPU_EP_, t)

/* ---- reply decode (client) ---- */
#define RGPU_DP_IN(T, x)
#define RGPU_DP_DEL(T, x)
#define RGPU_DP_OUT(T, x) rgpu_rbuf_get(r, &a->x, sizeof(T));
#define RGPU_DP_OPTOUT(T, x) if (a->x##_want) rgpu_rbuf_get(r, &a->x, sizeof(T));
#define RGPU_DP_INBUF(T, x, len)
#define RGPU_DP_OUTBUF(T, x, len)
#define RGPU_DP_INSTR(T, x)
#define RGPU_DP_NONE(_)
#define RGPU_DP(t) RGPU_DIR(RGPU_DP_, t)

/* ---- reply bulk destinations (client) ---- */
#define RGPU_RD_IN(T, x)
#define RGPU_RD_DEL(T, x)
#define RGPU_RD_OUT(T, x)
#define RGPU_RD_OPTOUT(T, x)
#define RGPU_RD_INBUF(T, x, len)
#define RGPU_RD_OUTBUF(T, x, len) if (n < max && a->x##_len) { iov[n].iov_base = (void *)a->x; iov[n].iov_len = a->x##_len; n++; }
#define RGPU_RD_INSTR(T, x)
#define RGPU_RD_NONE(_)
#define RGPU_RD(t) RGPU_DIR(RGPU_RD_, t)

/* ---- trace ---- */
static void trace_val(FILE *f, const char *name, const void *p, size_t n, int *first)
{
    fprintf(f, "%s%s=", *first ? "" : ", ", name);
    *first = 0;
    if (n == 1 || n == 2 || n == 4 || n == 8) {
        uint64_t v = 0;
        memcpy(&v, p, n);
        fprintf(f, "%#llx", (unsigned long long)v);
    } else {
        fprintf(f, "{%zu bytes}", n);
    }
}
#define RGPU_T_IN(T, x) if (!outs) trace_val(f, #x, &a->x, sizeof(T), &first);
#define RGPU_T_DEL(T, x) if (!outs) trace_val(f, #x, &a->x, sizeof(T), &first);
#define RGPU_T_OUT(T, x) if (outs) trace_val(f, #x, &a->x, sizeof(T), &first);
#define RGPU_T_OPTOUT(T, x) if (outs && a->x##_want) trace_val(f, #x, &a->x, sizeof(T), &first);
#define RGPU_T_INBUF(T, x, len) if (!outs) { fprintf(f, "%s" #x "=[%llu bytes]", first ? "" : ", ", (unsigned long long)a->x##_len); first = 0; }
#define RGPU_T_OUTBUF(T, x, len) if (outs) { fprintf(f, "%s" #x "=[%llu bytes]", first ? "" : ", ", (unsigned long long)a->x##_len); first = 0; }
#define RGPU_T_INSTR(T, x) if (!outs) { fprintf(f, "%s" #x "=\"%.64s\"", first ? "" : ", ", a->x ? a->x : "(null)"); first = 0; }
#define RGPU_T_NONE(_)
#define RGPU_T(t) RGPU_DIR(RGPU_T_, t)

/* ---- the streams a request names ---- */
static void put_stream(CUstream *out, int *n, int max, const CUstream *s)
{
    if (*n < max)
        out[*n] = *s;
    ++*n;
}
static void put_none(CUstream *out, int *n, int max, const void *p) { (void)out, (void)n, (void)max, (void)p; }
#define RGPU_SN_ARG(v) _Generic((v), CUstream: put_stream, default: put_none)(out, &n, max, &(v));
#define RGPU_SN_IN(T, x) RGPU_SN_ARG(a->x)
#define RGPU_SN_DEL(T, x) RGPU_SN_ARG(a->x)
#define RGPU_SN_OUT(T, x)
#define RGPU_SN_OPTOUT(T, x)
#define RGPU_SN_INBUF(T, x, len)
#define RGPU_SN_OUTBUF(T, x, len)
#define RGPU_SN_INSTR(T, x)
#define RGPU_SN_NONE(_)
#define RGPU_SN(t) RGPU_DIR(RGPU_SN_, t)

#define RGPU_CALL(name, kind, ...)                                                         \
    static int streams_##name(const void *ap, CUstream *out, int max)                       \
    {                                                                                      \
        const struct rgpu_args_##name *a = ap;                                             \
        int n = 0;                                                                         \
        (void)a; (void)out; (void)max;                                                     \
        RGPU_EACH(RGPU_SN, __VA_ARGS__)                                                     \
        return n;                                                                          \
    }                                                                                      \
    static void enc_req_##name(struct rgpu_wbuf *w, void *ap)                               \
    {                                                                                      \
        struct rgpu_args_##name *a = ap;                                                   \
        (void)a; (void)w;                                                                  \
        RGPU_EACH(RGPU_ER, __VA_ARGS__)                                                     \
    }                                                                                      \
    static bool dec_req_##name(struct rgpu_rbuf *r, void *ap)                               \
    {                                                                                      \
        struct rgpu_args_##name *a = ap;                                                   \
        (void)a; (void)r;                                                                  \
        RGPU_EACH(RGPU_DR, __VA_ARGS__)                                                     \
        if (!rgpu_rbuf_done(r)) return false;                                              \
        RGPU_EACH(RGPU_DL, __VA_ARGS__)                                                     \
        return true;                                                                       \
    }                                                                                      \
    static void enc_rep_##name(struct rgpu_wbuf *w, const void *ap)                         \
    {                                                                                      \
        const struct rgpu_args_##name *a = ap;                                             \
        (void)a; (void)w;                                                                  \
        RGPU_EACH(RGPU_EP, __VA_ARGS__)                                                     \
    }                                                                                      \
    static bool dec_rep_##name(struct rgpu_rbuf *r, void *ap)                               \
    {                                                                                      \
        struct rgpu_args_##name *a = ap;                                                   \
        (void)a; (void)r;                                                                  \
        RGPU_EACH(RGPU_DP, __VA_ARGS__)                                                     \
        return !r->failed && r->pos == r->len;                                             \
    }                                                                                      \
    static int rep_dests_##name(const void *ap, struct iovec *iov, int max)                 \
    {                                                                                      \
        const struct rgpu_args_##name *a = ap;                                             \
        int n = 0;                                                                         \
        (void)a; (void)iov; (void)max;                                                     \
        RGPU_EACH(RGPU_RD, __VA_ARGS__)                                                     \
        return n;                                                                          \
    }                                                                                      \
    static void trace_##name(FILE *f, const void *ap, int outs)                             \
    {                                                                                      \
        const struct rgpu_args_##name *a = ap;                                             \
        int first = 1;                                                                     \
        (void)a; (void)f; (void)outs; (void)first;                                         \
        RGPU_EACH(RGPU_T, __VA_ARGS__)                                                      \
    }
#include "calls.def"
#undef RGPU_CALL

const struct rgpu_call_desc rgpu_calls[RGPU_NCALLS] = {
#define RGPU_CALL(name, kind, ...)                                                         \
    [RGPU_ID_##name] = {#name, RGPU_K(REMOTE, kind), RGPU_K(REPLY, kind), RGPU_K(BLOCKS, kind), RGPU_K(NVML, kind), \
                        sizeof(struct rgpu_args_##name), enc_req_##name, dec_req_##name,   \
                        enc_rep_##name, dec_rep_##name, rep_dests_##name, trace_##name, streams_##name},
#include "calls.def"
#undef RGPU_CALL
};

/* every row as the preprocessor sees it (comments gone, macros in the
 * arguments unexpanded) */
static const char rows_text[] =
#define RGPU_CALL(name, kind, ...) #name " " #kind " " #__VA_ARGS__ "\n"
#include "calls.def"
#undef RGPU_CALL
    ;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t rgpu_calls_fingerprint(void)
{
    uint64_t h = fnv1a(0xcbf29ce484222325ull, rows_text, sizeof rows_text);
    for (int i = 1; i < RGPU_NCALLS; i++) {
        uint64_t size = rgpu_calls[i].args_size;
        h = fnv1a(h, &size, sizeof size);
    }
    uint64_t sizes[] = {sizeof(struct rgpu_hdr), sizeof(struct rgpu_dev_info), RGPU_NCALLS};
    h = fnv1a(h, sizes, sizeof sizes);
    return h ? h : 1;
}

size_t rgpu_pointer_attribute_size(CUpointer_attribute attr)
{
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: return sizeof(CUcontext);
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: return sizeof(unsigned int);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: return sizeof(CUdeviceptr);
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: return sizeof(void *);
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS: return sizeof(CUDA_POINTER_ATTRIBUTE_P2P_TOKENS);
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return sizeof(void *);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return sizeof(size_t);
    case CU_POINTER_ATTRIBUTE_MAPPED: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: return sizeof(CUmemoryPool);
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: return sizeof(size_t);
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: return sizeof(void *);
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: return sizeof(unsigned long long);
    default: return 0;
    }
}

size_t rgpu_mempool_attr_size(CUmemPool_attribute attr)
{
    switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: return sizeof(int);
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH: return sizeof(cuuint64_t);
    default: return 0;
    }
}

unsigned rgpu_array_format_bytes(CUarray_format f)
{
    switch (f) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8: return 1;
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF: return 2;
    case CU_AD_FORMAT_UNSIGNED_INT32:
    case CU_AD_FORMAT_SIGNED_INT32:
    case CU_AD_FORMAT_FLOAT: return 4;
    default: return 0;
    }
}

uint64_t rgpu_mem_access_len(size_t count)
{
    return count <= RGPU_MAX_ACCESS_DESCS ? (uint64_t)count * sizeof(CUmemAccessDesc) : UINT64_MAX;
}

uint64_t rgpu_batch_memop_len(unsigned count)
{
    return count <= RGPU_MAX_BATCH_MEMOPS ? (uint64_t)count * sizeof(CUstreamBatchMemOpParams) : UINT64_MAX;
}

uint64_t rgpu_cond_bodies_len(uint32_t size)
{
    return size <= RGPU_MAX_COND_BODIES ? (uint64_t)size * sizeof(CUgraph) : UINT64_MAX;
}

/* Host bytes that travel with a 2D copy: the dense rows of its host side. */
uint64_t rgpu_memcpy2d_inbuf_len(const CUDA_MEMCPY2D *c)
{
    if (c->srcMemoryType != CU_MEMORYTYPE_HOST)
        return 0;
    return (uint64_t)c->WidthInBytes * c->Height;
}

/* Events in CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT / LAUNCH_COMPLETION_EVENT
 * are handles inside the value: those stay on the client (not supported yet);
 * graph-only attributes have no meaning for a stream launch. */
bool rgpu_launch_attr_remotable(CUlaunchAttributeID id)
{
    switch (id) {
    case CU_LAUNCH_ATTRIBUTE_IGNORE:
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        return true;
    default:
        return false;
    }
}
