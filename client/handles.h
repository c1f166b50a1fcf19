/*
 * handles.h — streams, events and executable graphs this process holds, so
 * that a destroyed or forged handle fails at call time
 * (CUDA_ERROR_INVALID_HANDLE), as with the driver, even for calls that do not
 * wait for the server (graph launches, records, copies).
 */
#ifndef RGPU_CLIENT_HANDLES_H
#define RGPU_CLIENT_HANDLES_H

#include "client.h"

CUresult rgpu_stream_check(CUstream s);
CUresult rgpu_event_check(CUevent e);
CUresult rgpu_graph_exec_check(CUgraphExec x);
void rgpu_stream_added(CUstream s);
void rgpu_event_added(CUevent e);
void rgpu_graph_exec_added(CUgraphExec x);
void rgpu_handle_removed(const void *h);
/* Forget every handle created in ctx. */
void rgpu_handles_drop_ctx(CUcontext ctx);

/* The stream a _ptsz/_ptds variant means: its NULL stream is the calling
 * thread's per-thread default stream. */
#define RGPU_PT(s) ((s) == NULL ? CU_STREAM_PER_THREAD : (s))

#endif
