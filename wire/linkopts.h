/*
 * linkopts.h — which JIT options travel with a link (rgpu_link).
 *
 * Only options whose value is a number cross the wire; the log buffers are
 * the server's own and copied back, the wall time is measured by the client.
 * Both sides apply this one list: the server must never hand a client's
 * number to the driver as a pointer.
 */
#ifndef RGPU_WIRE_LINKOPTS_H
#define RGPU_WIRE_LINKOPTS_H

#include <stdbool.h>

#include "cuda_api.h"

static inline bool rgpu_link_scalar_option(unsigned o)
{
    switch (o) {
    case CU_JIT_MAX_REGISTERS:
    case CU_JIT_OPTIMIZATION_LEVEL:
    case CU_JIT_TARGET_FROM_CUCONTEXT:
    case CU_JIT_TARGET:
    case CU_JIT_FALLBACK_STRATEGY:
    case CU_JIT_GENERATE_DEBUG_INFO:
    case CU_JIT_LOG_VERBOSE:
    case CU_JIT_GENERATE_LINE_INFO:
    case CU_JIT_CACHE_MODE:
    case CU_JIT_POSITION_INDEPENDENT_CODE:
    case CU_JIT_MIN_CTA_PER_SM:
    case CU_JIT_MAX_THREADS_PER_BLOCK:
    case CU_JIT_OVERRIDE_DIRECTIVE_VALUES:
        return true;
    default:
        return false;
    }
}

#endif
