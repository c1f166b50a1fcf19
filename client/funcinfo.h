/*
 * funcinfo.h — what the client caches about each function (or kernel):
 * name, parameter layout, launch limits. Fetched from the server once per
 * function; launches then validate and pack locally without a round trip.
 */
#ifndef RGPU_CLIENT_FUNCINFO_H
#define RGPU_CLIENT_FUNCINFO_H

#include "client.h"

struct rgpu_func_info {
    char *name;
    int nparams;
    size_t *param_offset, *param_size;
    size_t param_bytes;      /* end of the last parameter */
    int max_threads;         /* CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK */
    int max_dynamic_shared;  /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
    struct rgpu_func_info *parked; /* the next forgotten entry (funcinfo.c) */
};

/* The cached info of f, fetching it first if need be. The pointer stays valid
 * for the life of the process. */
CUresult rgpu_func_info(CUfunction f, struct rgpu_func_info **out);
/* Forget f (its attributes changed), or every function (modules unloaded,
 * contexts destroyed: addresses may be reused). */
void rgpu_func_info_forget(CUfunction f);
void rgpu_func_info_flush(void);

/* f's parameters packed in its layout (launch.c): from `extra` as given, or
 * gathered from kernelParams (then *owned is the buffer to free). Launches
 * and graph kernel nodes share it. */
CUresult rgpu_launch_pack(CUfunction f, void **kernelParams, void **extra, const void **buf, size_t *len,
                          void **owned);

/* A cooperative launch of f: CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE when
 * `blocks` exceed what the device holds at once (occupancy.c). */
CUresult rgpu_coop_check(CUfunction f, uint64_t blocks, int threads, unsigned shmem);
/* Kept occupancy answers are stale from now on (occupancy.c). */
void rgpu_occupancy_invalidate(void);

#endif
