/*
 * context.h — contexts as the client sees them.
 *
 * The current-context stack is per thread and lives only here: the server
 * learns the caller's current context from every request header, so
 * push/pop/get/set cost no round trip. The client remembers each context's
 * device and whether it is a primary context, and refuses handles it never
 * received.
 */
#ifndef RGPU_CLIENT_CONTEXT_H
#define RGPU_CLIENT_CONTEXT_H

#include "client.h"

CUcontext rgpu_ctx_current(void);
/* Device of ctx; false if ctx is unknown. */
bool rgpu_ctx_device(CUcontext ctx, CUdevice *dev);

/* Common entry check: initialised (NOT_INITIALIZED otherwise). */
CUresult rgpu_check_init(void);

#endif
