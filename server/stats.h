/*
 * stats.h — the page rgpud shares with every worker (MAP_SHARED, made before
 * the first fork): CPU-device memory in use by all tenants, device memory
 * charged against --memory-limit (quota.h), and each worker's part of both
 * and its active contexts, so that a worker's memory is given back when it
 * dies (even by SIGKILL) and NVML can list the workers that hold a context
 * as the device's compute processes.
 */
#ifndef RGPU_SERVER_STATS_H
#define RGPU_SERVER_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#define RGPU_MAX_WORKERS 1024

struct shared_stats {
    _Atomic uint64_t used;
    _Atomic uint64_t charged;
    struct {
        _Atomic int pid; /* 0 free, -1 being forked */
        _Atomic uint64_t used;
        _Atomic uint64_t charged;
        _Atomic int contexts;
    } slot[RGPU_MAX_WORKERS];
};

#endif
