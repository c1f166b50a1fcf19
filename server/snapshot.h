/*
 * snapshot.h — everything a client may ask about devices, gathered from the
 * backend once per connection and sent with WELCOME, so that device queries
 * never cost a round trip.
 */
#ifndef RGPU_SERVER_SNAPSHOT_H
#define RGPU_SERVER_SNAPSHOT_H

#include "backend.h"
#include "proto.h"

/* Initialise the backend and describe its devices (*devs is malloc'd). */
CUresult snapshot_build(const struct rgpu_backend *be, struct rgpu_welcome *wel, struct rgpu_dev_info **devs);

#endif
