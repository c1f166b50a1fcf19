/*
 * handles.h — the handles a worker has handed to its client.
 *
 * The backend is never given a context, stream or event handle the client did
 * not receive from this worker: a forged pointer would crash the real driver.
 * Every handle records the context that owns it, so destroying a context
 * forgets all of its streams and events at once. The per-thread default
 * stream of each (client thread, context) is a real stream created on first
 * use.
 */
#ifndef RGPU_SERVER_HANDLES_H
#define RGPU_SERVER_HANDLES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cuda_api.h"
#include "ptrset.h"

/* CUkernel handles are HT_KERNEL. Where a CUfunction is expected a kernel
 * stands for its function in the current context: CUDA's launches take
 * either, but NVIDIA's other cuFunc* calls refuse a kernel, so on that
 * backend the server asks cuKernelGetFunction (dispatch.c, check_func). */
/* Graphs belong to no context (as in CUDA); their nodes are owned by their
 * graph and go with it, a child graph node's graph by its node; executable
 * graphs belong to the context current at instantiation; memory pools to
 * their device. Only contexts, modules (functions), libraries (kernels and
 * modules), kernels (their functions per context), graphs and graph nodes
 * own handles: forgetting any other kind forgets it alone. */
enum handle_type { HT_NONE = 0, HT_CTX, HT_STREAM, HT_EVENT, HT_MODULE, HT_FUNC, HT_KERNEL, HT_LIBRARY, HT_GRAPH, HT_GNODE, HT_GEXEC, HT_MEMPOOL, HT_ARRAY, HT_TEXOBJ, HT_SURFOBJ };
/* Texture and surface objects are numbers (small ones on NVIDIA's driver):
 * kept under tags of their own, so that none is a key the set cannot hold
 * (0, 1) and a texture and a surface of one number stay apart. */
#define RGPU_TEXOBJ_KEY(t) ((const void *)(uintptr_t)((uint64_t)(t) ^ 0x8000000000000000ull))
#define RGPU_SURFOBJ_KEY(s) ((const void *)(uintptr_t)((uint64_t)(s) ^ 0x4000000000000000ull))

struct handles {
    pthread_mutex_t lock;
    struct ptrset set;       /* handle -> type, owning context, per-thread flag and client thread */
    /* The HT_STREAM entries of set once more: a context's streams are asked
     * for on every cuCtxSynchronize (idle.c), and set also holds every
     * function of every module (thousands in a cuBLAS program). */
    struct ptrset streams;
    CUstream pt[256];        /* per-thread default streams, for handles_per_thread */
    int npt;
    /* CUmemGenericAllocationHandle values (numbers, not pointers: a set of
     * their own, so they never collide with pointer handles), each with its
     * count of unreleased references in `tid`. */
    struct ptrset mem;
    CUcontext primary[16];   /* primary context per device, once retained */
    int primary_refs[16];
};

void handles_init(struct handles *hs);
bool handles_has(struct handles *hs, int type, const void *h);
/* Up to max of ctx's streams (per-thread ones included) into out; how many
 * there are, which may exceed max. */
int handles_streams(struct handles *hs, CUcontext ctx, CUstream *out, int max);
/* The context that owns h, NULL if none (or h is unknown). */
CUcontext handles_owner(struct handles *hs, const void *h);
/* h's type, HT_NONE if this worker did not hand it out. */
int handles_type(struct handles *hs, const void *h);
void handles_add(struct handles *hs, int type, const void *h, CUcontext owner);
void handles_del(struct handles *hs, const void *h);
/* Forget h and everything it owns (a module and its functions). */
void handles_del_tree(struct handles *hs, const void *h);
/* Forget every handle owned by ctx, and what those own in turn (a module's
 * functions), and ctx itself when with_ctx. */
void handles_drop_owned(struct handles *hs, CUcontext ctx, bool with_ctx);
/* Virtual memory allocation handles: one more reference (created or
 * retained), whether h has one, and one fewer (released). */
void handles_mem_ref(struct handles *hs, unsigned long long h);
bool handles_mem_has(struct handles *hs, unsigned long long h);
void handles_mem_unref(struct handles *hs, unsigned long long h);
/* The per-thread default stream of (tid, ctx), or NULL if none yet. */
void handles_add_per_thread(struct handles *hs, CUstream s, uint32_t tid, CUcontext owner);
CUstream handles_per_thread(struct handles *hs, uint32_t tid, CUcontext ctx);
/* The bytes of parameters a function (or a kernel, where the backend launches
 * kernels) takes, once handles_set_param_bytes has recorded them; false when
 * not recorded yet or h is unknown. Kept in the entry's tid field, unused by
 * those kinds, as bytes + 1 (0: not recorded). */
bool handles_param_bytes(struct handles *hs, const void *h, uint32_t *bytes);
void handles_set_param_bytes(struct handles *hs, const void *h, uint32_t bytes);

#endif
