/*
 * graph_keep.h — arrays the driver keeps for a graph node and hands out by
 * pointer (an allocation node's access descriptors, a batch memory-operation
 * node's operations, a conditional node's body graphs): the client keeps a
 * copy per node and answer kind, the latest one, for the life of the
 * process (a few bytes a node). Implemented in graph_mem.c.
 */
#ifndef RGPU_CLIENT_GRAPH_KEEP_H
#define RGPU_CLIENT_GRAPH_KEEP_H

#include "client.h"

/* A copy of size bytes from src kept for (node, tag) from now on (tag: the
 * node type whose answer it is); NULL when out of memory. */
void *rgpu_graph_keep(CUgraphNode node, int tag, const void *src, size_t size);

#endif
