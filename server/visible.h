/*
 * visible.h — CUDA_VISIBLE_DEVICES as the NVIDIA driver reads it, for
 * backends that are not the NVIDIA driver (which reads it itself).
 */
#ifndef RGPU_SERVER_VISIBLE_H
#define RGPU_SERVER_VISIBLE_H

#include "proto.h"

/* The devices spec makes visible, in its order: order[k] is the ordinal of
 * the k-th visible device among devs[0..ndev). Entries are comma-separated
 * ordinals or "GPU-" UUID prefixes (matching exactly one device); the list
 * ends at the first entry that is neither, names a device twice or matches
 * none — what comes after it is ignored, as the driver does. Returns how many
 * devices are visible (at most max). */
int visible_devices(const char *spec, const struct rgpu_dev_info *devs, int ndev, int *order, int max);

#endif
