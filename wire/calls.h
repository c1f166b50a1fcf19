/*
 * calls.h — call ids, argument structs and codecs, generated from calls.def.
 *
 * For each row there is an id RGPU_ID_<name>, a struct rgpu_args_<name>
 * holding every argument by value (OUT arguments hold the result), and a
 * descriptor with the four codec functions, a trace printer and the list of
 * streams a request names. Client and server both link this; neither
 * writes a codec by hand.
 */
#ifndef RGPU_WIRE_CALLS_H
#define RGPU_WIRE_CALLS_H

#include "cuda_api.h"
#include "nvml_api.h"
#include "codec.h"
#include "pp.h"
#include "proto.h"

#include <stdio.h>

/* ---- call kinds: properties looked up by token ---- */
#define RGPU_K_REMOTE_LOCAL 0
#define RGPU_K_REMOTE_SYNC 1
#define RGPU_K_REMOTE_BLOCK 1
#define RGPU_K_REMOTE_ASYNC 1
#define RGPU_K_REMOTE_C_SYNC 1
#define RGPU_K_REMOTE_C_BLOCK 1
#define RGPU_K_REMOTE_C_ASYNC 1
#define RGPU_K_REMOTE_X_ASYNC 1
#define RGPU_K_REMOTE_W_SYNC 1
#define RGPU_K_REMOTE_W_BLOCK 1
#define RGPU_K_REMOTE_W_ASYNC 1
#define RGPU_K_REMOTE_NVML 1
#define RGPU_K_REMOTE_C_NVML 1

#define RGPU_K_REPLY_LOCAL 0
#define RGPU_K_REPLY_SYNC 1
#define RGPU_K_REPLY_BLOCK 1
#define RGPU_K_REPLY_ASYNC 0
#define RGPU_K_REPLY_C_SYNC 1
#define RGPU_K_REPLY_C_BLOCK 1
#define RGPU_K_REPLY_C_ASYNC 0
#define RGPU_K_REPLY_X_ASYNC 0
#define RGPU_K_REPLY_W_SYNC 1
#define RGPU_K_REPLY_W_BLOCK 1
#define RGPU_K_REPLY_W_ASYNC 0
#define RGPU_K_REPLY_NVML 1
#define RGPU_K_REPLY_C_NVML 1

#define RGPU_K_BLOCKS_LOCAL 0
#define RGPU_K_BLOCKS_SYNC 0
#define RGPU_K_BLOCKS_BLOCK 1
#define RGPU_K_BLOCKS_ASYNC 0
#define RGPU_K_BLOCKS_C_SYNC 0
#define RGPU_K_BLOCKS_C_BLOCK 1
#define RGPU_K_BLOCKS_C_ASYNC 0
#define RGPU_K_BLOCKS_X_ASYNC 0
#define RGPU_K_BLOCKS_W_SYNC 0
#define RGPU_K_BLOCKS_W_BLOCK 1
#define RGPU_K_BLOCKS_W_ASYNC 0
#define RGPU_K_BLOCKS_NVML 0
#define RGPU_K_BLOCKS_C_NVML 0

/* client stub generated from the row? */
#define RGPU_K_CSTUB_LOCAL 0
#define RGPU_K_CSTUB_SYNC 1
#define RGPU_K_CSTUB_BLOCK 1
#define RGPU_K_CSTUB_ASYNC 1
#define RGPU_K_CSTUB_C_SYNC 0
#define RGPU_K_CSTUB_C_BLOCK 0
#define RGPU_K_CSTUB_C_ASYNC 0
#define RGPU_K_CSTUB_X_ASYNC 0
#define RGPU_K_CSTUB_W_SYNC 0
#define RGPU_K_CSTUB_W_BLOCK 0
#define RGPU_K_CSTUB_W_ASYNC 0
#define RGPU_K_CSTUB_NVML 0
#define RGPU_K_CSTUB_C_NVML 0

/* server dispatch generated from the row? (X_ and W_ rows have handlers in server/custom.c) */
#define RGPU_K_SGEN_LOCAL 0
#define RGPU_K_SGEN_SYNC 1
#define RGPU_K_SGEN_BLOCK 1
#define RGPU_K_SGEN_ASYNC 1
#define RGPU_K_SGEN_C_SYNC 1
#define RGPU_K_SGEN_C_BLOCK 1
#define RGPU_K_SGEN_C_ASYNC 1
#define RGPU_K_SGEN_X_ASYNC 0
#define RGPU_K_SGEN_W_SYNC 0
#define RGPU_K_SGEN_W_BLOCK 0
#define RGPU_K_SGEN_W_ASYNC 0
#define RGPU_K_SGEN_NVML 0
#define RGPU_K_SGEN_C_NVML 0

/* a driver function of this name exists (backend table entry)? */
#define RGPU_K_DRIVER_LOCAL 1
#define RGPU_K_DRIVER_SYNC 1
#define RGPU_K_DRIVER_BLOCK 1
#define RGPU_K_DRIVER_ASYNC 1
#define RGPU_K_DRIVER_C_SYNC 1
#define RGPU_K_DRIVER_C_BLOCK 1
#define RGPU_K_DRIVER_C_ASYNC 1
#define RGPU_K_DRIVER_X_ASYNC 1
#define RGPU_K_DRIVER_W_SYNC 0
#define RGPU_K_DRIVER_W_BLOCK 0
#define RGPU_K_DRIVER_W_ASYNC 0
#define RGPU_K_DRIVER_NVML 0
#define RGPU_K_DRIVER_C_NVML 0

/* an NVML call (libnvidia-ml.so.1): result nvmlReturn_t, executed by the
 * server's NVML backend (server/nvml.c) */
#define RGPU_K_NVML_LOCAL 0
#define RGPU_K_NVML_SYNC 0
#define RGPU_K_NVML_BLOCK 0
#define RGPU_K_NVML_ASYNC 0
#define RGPU_K_NVML_C_SYNC 0
#define RGPU_K_NVML_C_BLOCK 0
#define RGPU_K_NVML_C_ASYNC 0
#define RGPU_K_NVML_X_ASYNC 0
#define RGPU_K_NVML_W_SYNC 0
#define RGPU_K_NVML_W_BLOCK 0
#define RGPU_K_NVML_W_ASYNC 0
#define RGPU_K_NVML_NVML 1
#define RGPU_K_NVML_C_NVML 1

/* NVML client stub generated from the row (nvml/stubs.c)? */
#define RGPU_K_NSTUB_LOCAL 0
#define RGPU_K_NSTUB_SYNC 0
#define RGPU_K_NSTUB_BLOCK 0
#define RGPU_K_NSTUB_ASYNC 0
#define RGPU_K_NSTUB_C_SYNC 0
#define RGPU_K_NSTUB_C_BLOCK 0
#define RGPU_K_NSTUB_C_ASYNC 0
#define RGPU_K_NSTUB_X_ASYNC 0
#define RGPU_K_NSTUB_W_SYNC 0
#define RGPU_K_NSTUB_W_BLOCK 0
#define RGPU_K_NSTUB_W_ASYNC 0
#define RGPU_K_NSTUB_NVML 1
#define RGPU_K_NSTUB_C_NVML 0

#define RGPU_K(prop, kind) RGPU_CAT(RGPU_K_##prop##_, kind)
/* RGPU_IF(cond)(code): code when cond expands to 1 */
#define RGPU_IF(c) RGPU_CAT(RGPU_IF_, c)
#define RGPU_IF_0(...)
#define RGPU_IF_1(...) __VA_ARGS__

/* ---- parameter lists as the driver declares them ---- */
#define RGPU_P_IN(T, x) T x
#define RGPU_P_DEL(T, x) T x
#define RGPU_P_OUT(T, x) T *x
#define RGPU_P_OPTOUT(T, x) T *x
#define RGPU_P_INBUF(T, x, len) T x
#define RGPU_P_INSTR(T, x) T x
#define RGPU_P_OUTBUF(T, x, len) T x
#define RGPU_P_NONE(_) void
#define RGPU_PARAM(t) RGPU_DIR(RGPU_P_, t)
#define RGPU_PARAMS(...) RGPU_EACH_C(RGPU_PARAM, __VA_ARGS__)

/* ---- argument struct fields ---- */
#define RGPU_S_IN(T, x) T x;
#define RGPU_S_DEL(T, x) T x;
#define RGPU_S_OUT(T, x) T x;
#define RGPU_S_OPTOUT(T, x) T x; uint8_t x##_want;
#define RGPU_S_INBUF(T, x, len) T x; uint64_t x##_len;
#define RGPU_S_INSTR(T, x) T x; uint64_t x##_len;
#define RGPU_S_OUTBUF(T, x, len) T x; uint64_t x##_len;
#define RGPU_S_NONE(_)
#define RGPU_FIELD(t) RGPU_DIR(RGPU_S_, t)

enum rgpu_call_id {
    RGPU_ID_NONE = 0,
#define RGPU_CALL(name, kind, ...) RGPU_ID_##name,
#include "calls.def"
#undef RGPU_CALL
    RGPU_NCALLS
};

#define RGPU_CALL(name, kind, ...) struct rgpu_args_##name { uint8_t unused_; RGPU_EACH(RGPU_FIELD, __VA_ARGS__) };
#include "calls.def"
#undef RGPU_CALL

struct rgpu_call_desc {
    const char *name;
    unsigned remote : 1, reply : 1, blocks : 1, nvml : 1;
    size_t args_size;
    /* request: client encodes, server decodes (false: malformed) */
    void (*enc_req)(struct rgpu_wbuf *w, void *args);
    bool (*dec_req)(struct rgpu_rbuf *r, void *args);
    /* reply (after success): server encodes, client decodes */
    void (*enc_rep)(struct rgpu_wbuf *w, const void *args);
    bool (*dec_rep)(struct rgpu_rbuf *r, void *args);
    /* where the reply's bulk payload lands on the client (OUTBUF arguments) */
    int (*rep_dests)(const void *args, struct iovec *iov, int max);
    void (*trace)(FILE *f, const void *args, int with_outputs);
    /* the streams the request names (its IN and DEL arguments of type
     * CUstream): up to max into out; how many there are */
    int (*streams)(const void *args, CUstream *out, int max);
};

extern const struct rgpu_call_desc rgpu_calls[RGPU_NCALLS];

/* What two builds must share to understand each other's requests: every
 * row of calls.def as written and the size of its argument struct (which
 * follows the CUDA headers the build used). Never 0. */
uint64_t rgpu_calls_fingerprint(void);

/* Length helpers used by length expressions in calls.def. */
size_t rgpu_pointer_attribute_size(CUpointer_attribute attr);
/* Bytes of a memory pool attribute's value (int or cuuint64_t); 0: unknown. */
size_t rgpu_mempool_attr_size(CUmemPool_attribute attr);
/* Bytes per channel of a CUDA array format: the 8/16/32-bit integers, half
 * and float; 0 for the others (packed, compressed, video formats). */
unsigned rgpu_array_format_bytes(CUarray_format f);
/* Launch attributes that may travel (plain-data values), and at most how many. */
bool rgpu_launch_attr_remotable(CUlaunchAttributeID id);
#define RGPU_MAX_LAUNCH_ATTRS 16

/* Bytes of cuMemSetAccess's descriptors; more than RGPU_MAX_ACCESS_DESCS
 * (one per device and host location, in practice a few) cannot travel:
 * UINT64_MAX, which no request can carry. */
#define RGPU_MAX_ACCESS_DESCS 64
uint64_t rgpu_mem_access_len(size_t count);
/* cuStreamBatchMemOp's operations: at most RGPU_MAX_BATCH_MEMOPS (else UINT64_MAX, refused) */
#define RGPU_MAX_BATCH_MEMOPS 256
uint64_t rgpu_batch_memop_len(unsigned count);
/* a conditional node's bodies: at most RGPU_MAX_COND_BODIES (else UINT64_MAX, refused) */
#define RGPU_MAX_COND_BODIES 1024
uint64_t rgpu_cond_bodies_len(uint32_t size);

/* Most bytes of kernel parameters (CUDA 12.1's limit, 32764, rounded up). */
#define RGPU_MAX_PARAM_BYTES 32768

/* Longest string argument (INSTR), NUL included. */
#define RGPU_MAX_STRING 4096
/* Largest NVML output buffer that travels (strings, process lists). */
#define RGPU_NVML_MAX_OUTBUF 65536u
uint64_t rgpu_memcpy2d_inbuf_len(const CUDA_MEMCPY2D *c);

#endif
