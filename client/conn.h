/*
 * conn.h — the client's one connection to rgpud.
 *
 * All threads of the process share it, and everything they send goes through
 * one ordered path under the send lock: a no-reply request (launch, small
 * async copy, memset, event record, host function) is framed into a send
 * buffer, which is written in the same writev in front of the next message
 * sent directly (a request that waits for its reply, large bulk,
 * CALLBACK_DONE), when it holds 32 KiB, by a flusher thread at most ~50 us
 * after it became non-empty, and at exit. So work one thread queued before
 * another thread's synchronising call reaches the server first, and work is
 * never left unsent while the application waits without calling CUDA.
 *
 * Receiving: whichever thread holds the "reader role" reads the socket and
 * routes what arrives: REPLY to the waiting caller (by seq, its outputs and
 * bulk bytes written straight into the caller's memory), DATA to the host
 * buffer registered for an async device->host copy, CALLBACK to the callback
 * thread, PRINT to stdout. A caller waiting for its reply takes the role
 * when it is free, so one outstanding call reads its own reply without a
 * thread hand-off; a receiver thread takes it when no caller does. When the
 * connection dies every waiter is released with CUDA_ERROR_DEVICE_UNAVAILABLE
 * and every later call fails the same way at once.
 */
#ifndef RGPU_CLIENT_CONN_H
#define RGPU_CLIENT_CONN_H

#include "client.h"
#include "proto.h"

/* Where DATA bytes of an async device->host copy land: height rows of width
 * bytes, pitch apart. */
struct rgpu_landing {
    char *dst;
    size_t pitch, width, height;
};

/* Connect and handshake once (cuInit and cuDriverGetVersion share it). */
CUresult rgpu_conn_open(void);
bool rgpu_conn_ready(void);
const struct rgpu_welcome *rgpu_conn_welcome(void);
/* The shm: host-memory pool of the connection (its size in *size), or NULL. */
void *rgpu_conn_hostpool(size_t *size);
/* ... mapped at the server's address of it (one address in both processes). */
bool rgpu_conn_hostpool_shared_address(void);
const struct rgpu_dev_info *rgpu_conn_device(int ordinal);

/* Send call id with its argument struct; for calls with a reply, wait and
 * decode the outputs into args. land (may be NULL) registers where the
 * request's DATA bytes go. */
CUresult rgpu_remote(enum rgpu_call_id id, void *args);
CUresult rgpu_remote_landing(enum rgpu_call_id id, void *args, const struct rgpu_landing *land);
/* The same without the coherence exchanges of mapped host memory (mapped.c). */
CUresult rgpu_remote_direct(enum rgpu_call_id id, void *args, const struct rgpu_landing *land);

/* The send lock, for state that must change in the order requests are sent
 * (streamidle.c). */
void rgpu_send_lock(void);
void rgpu_send_unlock(void);
/* Connected, and the connection not lost. */
bool rgpu_conn_alive(void);
/* RGPU_TRACE's line for a call the client answered itself. */
void rgpu_trace_local(enum rgpu_call_id id, void *args, CUresult r);

/* Attribute a of device dev from the snapshot, 0 if unknown. */
int rgpu_dev_attr(CUdevice dev, CUdevice_attribute a);

/* Clear the device features this client cannot provide whatever the backend
 * can (device.c). */
void rgpu_device_limit_features(struct rgpu_dev_info *d);

/* This thread's id on the wire (per-thread default streams). */
uint32_t rgpu_thread_id(void);

#endif
