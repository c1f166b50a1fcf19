/*
 * relay.h — the reader stays free to receive CALLBACK_DONE while the driver
 * may be waiting for a client host function (relay.c says why): requests
 * then go, in order, to a relay thread that executes them.
 */
#ifndef RGPU_SERVER_RELAY_H
#define RGPU_SERVER_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct worker;

/* Once the worker knows its backend (never on the CPU device's own paths). */
void relay_init(struct worker *w);
/* Should the reader hand the next request over instead of executing it? */
bool relay_wanted(void);
/* Hand over a request: the arguments are copied, bulk (from malloc) is
 * taken. -1: out of memory (nothing taken). */
int relay_push(struct worker *w, const struct rgpu_hdr *h, const uint8_t *args, uint8_t *bulk);

/* What makes the driver possibly wait for a host function: a call running
 * on a waiter thread, a client host function queued and not acknowledged,
 * a graph with host nodes (from then on: its launches are not tracked). */
void relay_waiter_begin(void);
void relay_waiter_end(void);
void relay_host_call_begin(void);
void relay_host_call_end(void);
void relay_host_nodes(void);

#endif
