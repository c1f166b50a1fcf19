/*
 * nvml_client.h — shared declarations of rgpu's NVML (libnvidia-ml.so.1).
 *
 * NVML here is a view of the devices of the rgpud that RGPU_SERVER names, in
 * the order libcuda.so.1 shows them. nvmlInit opens a connection of its own
 * (wire/session.c: the same address, framing and handshake as libcuda) that
 * never creates a CUDA context on the server, so a process that only watches
 * memory costs the GPU nothing. Static facts come from the WELCOME snapshot;
 * the rest is remoted (the NVML rows of wire/calls.def).
 */
#ifndef RGPU_NVML_CLIENT_H
#define RGPU_NVML_CLIENT_H

#include "log.h"
#include "session.h"

#define RGPU_NVML_API __attribute__((visibility("default")))

/* An nvmlDevice_t points at one of these; it travels as its index. */
struct nvmlDevice_st {
    unsigned int index;
};

/* NVML_SUCCESS when initialised (nvmlInit* more often than nvmlShutdown). */
nvmlReturn_t rgpu_nvml_ready(void);
/* The handle of device index (NVML_ERROR_INVALID_ARGUMENT past the last). */
nvmlReturn_t rgpu_nvml_handle(unsigned int index, nvmlDevice_t *device);
/* The snapshot of device d (a handle nvmlInit gave out), or NULL. */
const struct rgpu_dev_info *rgpu_nvml_dev(nvmlDevice_t d);
/* The WELCOME of the server, or NULL when not connected. */
const struct rgpu_welcome *rgpu_nvml_welcome(void);
/* Remote an NVML row (its nvmlDevice_t arguments already turned into
 * indices): NVML_ERROR_GPU_IS_LOST once the connection has failed. */
nvmlReturn_t rgpu_nvml_remote(enum rgpu_call_id id, void *args);
/* The wire form of a handle: its index; false if d is not one of ours. */
bool rgpu_nvml_wire_dev(nvmlDevice_t *d);

#endif
