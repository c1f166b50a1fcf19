/*
 * quota.h — rgpud --memory-limit: the device memory that all clients of one
 * rgpud may hold together, on every backend.
 *
 * Several tenants share one GPU, each through an rgpud of its own (its own
 * token, socket and limit). Without a limit the first tenant can take the
 * whole device and every tenant's ollama sizes its offload by the whole
 * device. With one, an allocation that would take a tenant past its limit
 * fails with CUDA_ERROR_OUT_OF_MEMORY before the backend sees it, and every
 * answer about the device's memory is the tenant's: cuDeviceTotalMem,
 * cuMemGetInfo and NVML's memory info report the limit as the total and what
 * is left of it (or less, when the device itself has less) as free.
 *
 * What counts: device allocations the tenant makes (cuMemAlloc, pitched,
 * stream-ordered and VMM physical allocations, CUDA arrays), at the size
 * asked (pitched: pitch × height; an array: its elements). A VMM allocation counts while it has a handle or a
 * mapping, as CUDA keeps it. Not counted: what the backend spends on its own
 * (context, module code and globals, a pool's cached memory on the NVIDIA
 * driver), host memory (page-locked, mapped, managed: all host memory here).
 *
 * The count is shared by the workers of one rgpud (stats.h): each worker
 * charges and releases it with atomics, and rgpud gives a dead worker's part
 * back when it reaps it, so a client killed mid-run frees its share.
 */
#ifndef RGPU_SERVER_QUOTA_H
#define RGPU_SERVER_QUOTA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "calls.h"

struct srv_call;

/* In rgpud, before the first fork: the limit (0: none) and the count all its
 * workers share. */
void quota_configure(uint64_t limit, _Atomic uint64_t *shared);
/* In a worker: its own part of the count, which rgpud subtracts when it dies. */
void quota_worker(_Atomic uint64_t *mine);

/* dispatch.c's hooks for the rows that allocate or free device memory (every
 * other id passes untouched): before the backend runs (an allocation takes
 * its part of the limit, or fails), after it succeeded (records what it
 * allocated; a pitched allocation may still fail here and is then freed
 * again), and after it failed (gives back what before took). Each runs on
 * the thread that executes the call. */
CUresult quota_before(struct srv_call *c, enum rgpu_call_id id, void *args);
CUresult quota_after(struct srv_call *c, enum rgpu_call_id id, void *args);
void quota_failed(struct srv_call *c, enum rgpu_call_id id, void *args);
/* A destroyed (or reset) context took its allocations with it. */
void quota_forget_ctx(void *ctx);

/* The tenant's view of a device: total no more than the limit, free no more
 * than what is left of it. No change without a limit (clamp_info: false). */
void quota_clamp_total(uint64_t *total);
bool quota_clamp_info(uint64_t *free, uint64_t *total);

#endif
