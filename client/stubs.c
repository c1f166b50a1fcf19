/*
 * stubs.c — client entry points generated from the rows of calls.def whose
 * kind is SYNC, BLOCK or ASYNC: check initialisation and output pointers,
 * pack the arguments, remote the call, unpack the outputs.
 */
#include "conn.h"
#include "context.h"
#include "handles.h"

/* Handle arguments are checked here, by type, before anything travels. */
static CUresult check_ctx(const CUcontext *c)
{
    CUdevice d;
    return !*c || rgpu_ctx_device(*c, &d) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}
static CUresult check_stream(const CUstream *s) { return rgpu_stream_check(*s); }
static CUresult check_event(const CUevent *e) { return rgpu_event_check(*e); }
static CUresult check_graph_exec(const CUgraphExec *x) { return rgpu_graph_exec_check(*x); }
static CUresult check_none(const void *p) { return CUDA_SUCCESS; }
#define CHECK_ARG(x)                                                                               \
    _Generic((x), CUstream: check_stream, CUevent: check_event, CUcontext: check_ctx,              \
             CUgraphExec: check_graph_exec, default: check_none)(&(x))

static void added_stream(CUstream *s) { rgpu_stream_added(*s); }
static void added_event(CUevent *e) { rgpu_event_added(*e); }
static void added_graph_exec(CUgraphExec *x) { rgpu_graph_exec_added(*x); }
static void added_none(const void *p) {}
#define ADDED(x)                                                                                   \
    _Generic((x), CUstream: added_stream, CUevent: added_event, CUgraphExec: added_graph_exec,     \
             default: added_none)(&(x))

#define FILL_IN(T, x) if ((r = CHECK_ARG(x)) != CUDA_SUCCESS) return r; a.x = x;
#define FILL_DEL(T, x) if ((r = CHECK_ARG(x)) != CUDA_SUCCESS) return r; a.x = x;
#define FILL_OUT(T, x) if (!x) return CUDA_ERROR_INVALID_VALUE;
#define FILL_OPTOUT(T, x) a.x##_want = x != NULL;
#define FILL_INBUF(T, x, len) a.x = x;
#define FILL_OUTBUF(T, x, len) a.x = x;
#define FILL_INSTR(T, x) a.x = x;
#define FILL_NONE(_)
#define FILL(t) RGPU_DIR(FILL_, t)

/* Buffers that travel: present, and not longer than a request may be. */
#define A(x) (a.x)
#define BUF_IN(T, x)
#define BUF_DEL(T, x)
#define BUF_OUT(T, x)
#define BUF_OPTOUT(T, x)
#define BUF_INBUF(T, x, len)                                                                       \
    if ((uint64_t)(len) > RGPU_MAX_BULK_LEN || (!a.x && (uint64_t)(len)))                          \
        return CUDA_ERROR_INVALID_VALUE;
#define BUF_OUTBUF(T, x, len)
#define BUF_INSTR(T, x)
#define BUF_NONE(_)
#define BUF(t) RGPU_DIR(BUF_, t)

/* A handle the call destroys is forgotten before the request leaves: once the
 * server has destroyed it, it may give the same value to another thread's
 * create, whose reply can be handled before this call returns. */
#define FORGET_IN(T, x)
#define FORGET_DEL(T, x) rgpu_handle_removed((const void *)x);
#define FORGET_OUT(T, x)
#define FORGET_OPTOUT(T, x)
#define FORGET_INBUF(T, x, len)
#define FORGET_OUTBUF(T, x, len)
#define FORGET_INSTR(T, x)
#define FORGET_NONE(_)
#define FORGET(t) RGPU_DIR(FORGET_, t)

#define STORE_IN(T, x)
#define STORE_DEL(T, x)
#define STORE_OUT(T, x) *x = a.x; ADDED(a.x);
#define STORE_OPTOUT(T, x) if (x) *x = a.x;
#define STORE_INBUF(T, x, len)
#define STORE_OUTBUF(T, x, len)
#define STORE_INSTR(T, x)
#define STORE_NONE(_)
#define STORE(t) RGPU_DIR(STORE_, t)

#define GEN_STUB(name, ...)                                                                        \
    RGPU_API CUresult name(RGPU_PARAMS(__VA_ARGS__))                                               \
    {                                                                                              \
        CUresult r = rgpu_check_init();                                                            \
        if (r)                                                                                     \
            return r;                                                                              \
        struct rgpu_args_##name a = {0};                                                           \
        RGPU_EACH(FILL, __VA_ARGS__)                                                               \
        RGPU_EACH(BUF, __VA_ARGS__)                                                                \
        RGPU_EACH(FORGET, __VA_ARGS__)                                                             \
        r = rgpu_remote(RGPU_ID_##name, &a);                                                       \
        if (r == CUDA_SUCCESS) {                                                                   \
            RGPU_EACH(STORE, __VA_ARGS__)                                                          \
        }                                                                                          \
        return r;                                                                                  \
    }
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(CSTUB, kind))(GEN_STUB(name, __VA_ARGS__))
#include "calls.def"
#undef RGPU_CALL
