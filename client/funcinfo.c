/*
 * funcinfo.c — see funcinfo.h. Forgotten entries are parked, not freed: a
 * thread may still be reading one (a launch racing an unload), and names
 * handed out by cuFuncGetName must not dangle.
 */
#include "funcinfo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "ptrset.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ptrset cache;
static struct rgpu_func_info *parked; /* forgotten entries, still reachable */

/* Move e's entry to the parked list; lock held. */
static bool park(const struct ptrset_entry *e, void *arg)
{
    struct rgpu_func_info *fi = (struct rgpu_func_info *)e->owner;
    fi->parked = parked;
    parked = fi;
    return true;
}

static CUresult fetch(CUfunction f, struct rgpu_func_info *fi)
{
    char name[RGPU_MAX_STRING];
    struct rgpu_args_rgpu_func_name an = {.hfunc = f, .name = name};
    CUresult r = rgpu_remote(RGPU_ID_rgpu_func_name, &an);
    if (r != CUDA_SUCCESS)
        return r;
    name[sizeof name - 1] = 0;
    if (!(fi->name = strdup(name)))
        return CUDA_ERROR_OUT_OF_MEMORY;

    struct rgpu_args_cuFuncGetAttribute at = {.attrib = CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, .hfunc = f};
    if ((r = rgpu_remote(RGPU_ID_cuFuncGetAttribute, &at)) != CUDA_SUCCESS)
        return r;
    fi->max_threads = at.pi;
    at.attrib = CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
    if ((r = rgpu_remote(RGPU_ID_cuFuncGetAttribute, &at)) != CUDA_SUCCESS)
        return r;
    fi->max_dynamic_shared = at.pi;

    /* Parameters: ask by index until the function has no more. */
    size_t cap = 0;
    for (size_t i = 0;; i++) {
        struct rgpu_args_cuFuncGetParamInfo ap = {.func = f, .paramIndex = i, .paramOffset_want = 1, .paramSize_want = 1};
        r = rgpu_remote(RGPU_ID_cuFuncGetParamInfo, &ap);
        if (r == CUDA_ERROR_INVALID_VALUE)
            break;
        if (r != CUDA_SUCCESS)
            return r;
        if (i == cap) {
            cap = cap ? cap * 2 : 8;
            size_t *o = realloc(fi->param_offset, cap * sizeof *o), *s = o ? realloc(fi->param_size, cap * sizeof *s) : NULL;
            if (o)
                fi->param_offset = o;
            if (!o || !s)
                return CUDA_ERROR_OUT_OF_MEMORY;
            fi->param_size = s;
        }
        fi->param_offset[i] = ap.paramOffset;
        fi->param_size[i] = ap.paramSize;
        fi->nparams = (int)i + 1;
        if (ap.paramOffset + ap.paramSize > fi->param_bytes)
            fi->param_bytes = ap.paramOffset + ap.paramSize;
    }
    return CUDA_SUCCESS;
}

CUresult rgpu_func_info(CUfunction f, struct rgpu_func_info **out)
{
    pthread_mutex_lock(&lock);
    struct ptrset_entry *e = cache.tab ? ptrset_find(&cache, (uintptr_t)f) : NULL;
    struct rgpu_func_info *fi = e ? (struct rgpu_func_info *)e->owner : NULL;
    pthread_mutex_unlock(&lock);
    if (fi) {
        *out = fi;
        return CUDA_SUCCESS;
    }
    fi = calloc(1, sizeof *fi);
    if (!fi)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult r = fetch(f, fi);
    if (r != CUDA_SUCCESS) {
        free(fi->name);
        free(fi->param_offset);
        free(fi->param_size);
        free(fi);
        return r;
    }
    pthread_mutex_lock(&lock);
    struct ptrset_entry ne = {.key = (uintptr_t)f, .owner = (uintptr_t)fi};
    if (!cache.tab)
        ptrset_init(&cache);
    /* a racing thread may have stored one first: keep that one */
    struct ptrset_entry *old = ptrset_find(&cache, (uintptr_t)f);
    if (old) {
        struct rgpu_func_info *keep = (struct rgpu_func_info *)old->owner;
        pthread_mutex_unlock(&lock);
        free(fi->name);
        free(fi->param_offset);
        free(fi->param_size);
        free(fi);
        *out = keep;
        return CUDA_SUCCESS;
    }
    ptrset_put(&cache, &ne);
    pthread_mutex_unlock(&lock);
    *out = fi;
    return CUDA_SUCCESS;
}

void rgpu_func_info_forget(CUfunction f)
{
    rgpu_occupancy_invalidate();
    pthread_mutex_lock(&lock);
    struct ptrset_entry *e = cache.tab ? ptrset_find(&cache, (uintptr_t)f) : NULL;
    if (e) {
        park(e, NULL);
        ptrset_del(&cache, (uintptr_t)f);
    }
    pthread_mutex_unlock(&lock);
}

void rgpu_func_info_flush(void)
{
    rgpu_occupancy_invalidate();
    pthread_mutex_lock(&lock);
    if (cache.tab)
        ptrset_filter(&cache, park, NULL);
    pthread_mutex_unlock(&lock);
}
