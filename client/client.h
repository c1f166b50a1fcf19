/*
 * client.h — shared declarations of the client driver (libcuda.so.1).
 */
#ifndef RGPU_CLIENT_H
#define RGPU_CLIENT_H

#include "calls.h"
#include "log.h"

/* Marks a driver entry point exported by libcuda.so.1 (everything else is hidden). */
#define RGPU_API __attribute__((visibility("default")))

#endif
