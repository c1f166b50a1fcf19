/*
 * cls.h — context-local storage: a (key -> value, destructor) store per
 * context, served to NVIDIA's runtime through the
 * CONTEXT_LOCAL_STORAGE_INTERFACE_V0301 export table (exports.c).
 *
 * cudart keeps its per-context state (its loaded libraries, among others) in
 * it: it puts one entry per context after retaining the primary context, gets
 * it on almost every runtime call, and deletes it at exit. When a context
 * ends (cuDevicePrimaryCtxReset, the last primary release, cuCtxDestroy), each
 * remaining entry's destructor runs, here on the client where the callback
 * lives, before the server tears the context down, so the destructor can
 * still use it (to unload the context's modules, say).
 */
#ifndef RGPU_CLIENT_CLS_H
#define RGPU_CLIENT_CLS_H

#include "client.h"

typedef void (*rgpu_cls_dtor)(CUcontext ctx, void *key, void *value);

/* ctx NULL means the calling thread's current context (INVALID_CONTEXT when
 * there is none). put replaces the value and destructor of an existing key
 * without running the old destructor; delete never runs it; get answers
 * CUDA_ERROR_NOT_FOUND for a key the context does not hold. */
CUresult rgpu_cls_put(CUcontext ctx, void *key, void *value, rgpu_cls_dtor dtor);
CUresult rgpu_cls_delete(CUcontext ctx, void *key);
CUresult rgpu_cls_get(void **value, CUcontext ctx, void *key);

/* The context is ending: remove its entries and run their destructors, on
 * the calling thread and outside every lock (a destructor may call the
 * driver, this store included). */
void rgpu_cls_on_reset(CUcontext ctx);

#endif
