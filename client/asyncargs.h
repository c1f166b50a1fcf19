/*
 * asyncargs.h — which asynchronous calls must still wait for their reply.
 */
#ifndef RGPU_CLIENT_ASYNCARGS_H
#define RGPU_CLIENT_ASYNCARGS_H

#include "client.h"

/* Whether the asynchronous call id with these arguments waits for its reply
 * (asyncargs.c says when and why). Calls of calls.def that wait anyway are
 * not asked. */
bool rgpu_async_waits(enum rgpu_call_id id, const void *args);

/* A graph allocation node may exist in this process (cuGraphAddMemAllocNode,
 * or cuMemAllocAsync while a capture was active): from then on graph
 * launches wait for their reply, since CUDA refuses at call time to launch a
 * graph whose earlier allocations were not freed. */
#include <stdatomic.h>
extern atomic_bool rgpu_graph_memory_seen;

#endif
