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
#include "funcattrs.h"
#include "kernelfunc.h"
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

/* One round trip (two for a function of more parameters than the first
 * guess): name, limits and parameter layout. */
static CUresult fetch(CUfunction f, struct rgpu_func_info *fi)
{
    char name[RGPU_MAX_STRING];
    struct rgpu_param_slot guess[32], *slots = guess;
    struct rgpu_args_rgpu_func_info a = {.hfunc = f, .params_cap = 32, .name = name, .params = slots};
    CUresult r = rgpu_remote(RGPU_ID_rgpu_func_info, &a);
    if (r == CUDA_SUCCESS && a.summary.nparams > a.params_cap) {
        if (a.summary.nparams > RGPU_MAX_PARAM_BYTES ||
            !(slots = malloc(a.summary.nparams * sizeof *slots)))
            return CUDA_ERROR_OUT_OF_MEMORY;
        a.params_cap = a.summary.nparams;
        a.params = slots;
        r = rgpu_remote(RGPU_ID_rgpu_func_info, &a);
        if (r == CUDA_SUCCESS && a.summary.nparams != a.params_cap)
            r = CUDA_ERROR_INVALID_VALUE; /* the function cannot have changed */
    }
    if (r == CUDA_SUCCESS) {
        name[sizeof name - 1] = 0;
        uint32_t n = a.summary.nparams;
        fi->name = strdup(name);
        fi->param_offset = malloc((n ? n : 1) * sizeof *fi->param_offset);
        fi->param_size = malloc((n ? n : 1) * sizeof *fi->param_size);
        if (!fi->name || !fi->param_offset || !fi->param_size)
            r = CUDA_ERROR_OUT_OF_MEMORY;
        for (uint32_t i = 0; r == CUDA_SUCCESS && i < n; i++) {
            fi->param_offset[i] = slots[i].offset;
            fi->param_size[i] = slots[i].size;
            if (slots[i].offset + slots[i].size > fi->param_bytes)
                fi->param_bytes = slots[i].offset + slots[i].size;
        }
        fi->nparams = (int)n;
        fi->max_threads = a.summary.max_threads;
        fi->max_dynamic_shared = a.summary.max_dynamic_shared;
    }
    if (slots != guess)
        free(slots);
    return r;
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
    rgpu_func_attrs_flush();
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
    rgpu_func_attrs_flush();
    rgpu_kernel_functions_flush();
    pthread_mutex_lock(&lock);
    if (cache.tab)
        ptrset_filter(&cache, park, NULL);
    pthread_mutex_unlock(&lock);
}
