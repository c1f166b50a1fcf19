/*
 * rgpu_client.h — rgpu-specific queries exported by the client libcuda.so.1
 * next to the CUDA driver API (used by the rgpu CLI and by tests).
 */
#ifndef RGPU_CLIENT_PUBLIC_H
#define RGPU_CLIENT_PUBLIC_H

#include <stdint.h>

struct rgpu_client_info {
    char server[256];     /* address from RGPU_SERVER (or the default) */
    char backend[16];     /* "nvidia" or "cpu" */
    uint32_t worker_pid;  /* the rgpud worker serving this process */
    int32_t driver_version;
    int32_t ndev;
    uint32_t requests;    /* requests sent so far (wraps): what a call cost on the wire */
    uint32_t round_trips; /* of them, those that waited for a reply (wraps) */
};

/* 0 and *info filled once cuInit succeeded; -1 otherwise. */
int rgpu_client_info(struct rgpu_client_info *info);

#endif
