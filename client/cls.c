/*
 * cls.c — context-local storage (see cls.h).
 *
 * A flat array under one mutex: a process holds a handful of entries (one per
 * cudart copy and context; three copies in a cuBLAS program), so a linear
 * scan beats any index, and get, which cudart calls on nearly every runtime
 * call, stays a short locked loop with no round trip.
 */
#include "cls.h"

#include <pthread.h>
#include <stdlib.h>

#include "context.h"

struct cls_entry {
    CUcontext ctx;
    void *key;
    void *value;
    rgpu_cls_dtor dtor;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cls_entry *entries;
static size_t nentries, capacity;

static CUresult resolve(CUcontext *ctx)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!*ctx && !(*ctx = rgpu_ctx_current()))
        return CUDA_ERROR_INVALID_CONTEXT;
    return CUDA_SUCCESS;
}

/* Index of (ctx, key) or -1; lock held. */
static long find_locked(CUcontext ctx, const void *key)
{
    for (size_t i = 0; i < nentries; i++)
        if (entries[i].ctx == ctx && entries[i].key == key)
            return (long)i;
    return -1;
}

CUresult rgpu_cls_put(CUcontext ctx, void *key, void *value, rgpu_cls_dtor dtor)
{
    CUdevice dev;
    CUresult r = resolve(&ctx);
    if (r)
        return r;
    /* Only contexts this client was given: an entry on anything else could
     * never be reset and would never run its destructor. */
    if (!rgpu_ctx_device(ctx, &dev))
        return CUDA_ERROR_INVALID_CONTEXT;
    pthread_mutex_lock(&lock);
    long i = find_locked(ctx, key);
    if (i < 0) {
        if (nentries == capacity) {
            size_t cap = capacity ? 2 * capacity : 8;
            struct cls_entry *e = realloc(entries, cap * sizeof *e);
            if (!e) {
                pthread_mutex_unlock(&lock);
                return CUDA_ERROR_OUT_OF_MEMORY;
            }
            entries = e;
            capacity = cap;
        }
        i = (long)nentries++;
    }
    entries[i] = (struct cls_entry){.ctx = ctx, .key = key, .value = value, .dtor = dtor};
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

CUresult rgpu_cls_delete(CUcontext ctx, void *key)
{
    CUresult r = resolve(&ctx);
    if (r)
        return r;
    pthread_mutex_lock(&lock);
    long i = find_locked(ctx, key);
    if (i >= 0)
        entries[i] = entries[--nentries];
    pthread_mutex_unlock(&lock);
    return i >= 0 ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

CUresult rgpu_cls_get(void **value, CUcontext ctx, void *key)
{
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = resolve(&ctx);
    if (r)
        return r;
    pthread_mutex_lock(&lock);
    long i = find_locked(ctx, key);
    if (i >= 0)
        *value = entries[i].value;
    pthread_mutex_unlock(&lock);
    /* Any error means "absent" to cudart (it then creates its state and puts
     * it); NOT_FOUND says what happened. */
    return i >= 0 ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

void rgpu_cls_on_reset(CUcontext ctx)
{
    if (!ctx)
        return;
    /* Detach the context's entries first, then call out: a destructor may
     * call back into this store or the driver. Loop, because a destructor may
     * also put a new entry on the dying context. */
    for (int rounds = 0; rounds < 16; rounds++) {
        pthread_mutex_lock(&lock);
        size_t n = 0;
        for (size_t i = 0; i < nentries; i++)
            n += entries[i].ctx == ctx;
        struct cls_entry *dying = n ? malloc(n * sizeof *dying) : NULL;
        if (n && !dying) {
            pthread_mutex_unlock(&lock);
            rgpu_err("context-local storage: out of memory; destructors of context %p not run", (void *)ctx);
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < nentries;) {
            if (entries[i].ctx == ctx) {
                dying[k++] = entries[i];
                entries[i] = entries[--nentries];
            } else {
                i++;
            }
        }
        pthread_mutex_unlock(&lock);
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++) {
            rgpu_debug("context-local storage: destructor of key %p on context %p", dying[i].key, (void *)ctx);
            if (dying[i].dtor)
                dying[i].dtor(ctx, dying[i].key, dying[i].value);
        }
        free(dying);
    }
    rgpu_warn("context-local storage of context %p: destructors keep adding entries; giving up", (void *)ctx);
}
