/*
 * nvml_backend.h — what the server executes NVML calls on.
 *
 * Like struct rgpu_backend for driver calls: one entry per NVML row of
 * wire/calls.def, with that row's signature. The nvidia backend is NVIDIA's
 * libnvidia-ml.so.1 (dlopen, in the worker, at the first NVML request: a
 * connection that never asks costs nothing); the cpu backend answers from
 * what rgpud knows about its CPU device and its workers (nvml_cpu.c, which
 * documents each answer). Neither ever creates a CUDA context.
 *
 * Devices are the WELCOME snapshot's, in its (CUDA) order: an nvmlDevice_t
 * arrives as a snapshot index and dev[] gives the backend's own handle.
 */
#ifndef RGPU_SERVER_NVML_BACKEND_H
#define RGPU_SERVER_NVML_BACKEND_H

#include "calls.h"

struct shared_stats;

struct rgpu_nvml_backend {
    const char *name;
    /* Once, before the first call: find the backend's handle of every
     * snapshot device (NULL: that device is unknown to it). */
    nvmlReturn_t (*init)(struct rgpu_nvml_backend *nb, const struct rgpu_dev_info *devs, int ndev);
    nvmlDevice_t dev[16];
    int ndev;
    /* NULL entry: NVML_ERROR_NOT_SUPPORTED (no honest value; an old libnvidia-ml) */
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(NVML, kind))(nvmlReturn_t (*name)(RGPU_PARAMS(__VA_ARGS__));)
#include "calls.def"
#undef RGPU_CALL
};

void rgpu_nvml_backend_nvidia(struct rgpu_nvml_backend *nb);
void rgpu_nvml_backend_cpu(struct rgpu_nvml_backend *nb, struct shared_stats *stats);

#endif
