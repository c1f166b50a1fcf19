/*
 * capture.h — what the client knows about stream captures (capture.c).
 *
 * A capture is begun by this process (cuStreamBeginCapture), so the client
 * keeps the list of captures it began and not yet ended. While it is empty
 * no stream can be capturing and the capture queries are answered here;
 * while it is not, they ask the server, and copies that carry host memory
 * wait for their reply (conn.c): they cannot be captured, and CUDA reports
 * that at call time.
 */
#ifndef RGPU_CLIENT_CAPTURE_H
#define RGPU_CLIENT_CAPTURE_H

#include "client.h"

#include <stdbool.h>

/* Some capture begun by this process may be active. */
bool rgpu_capture_active(void);
/* CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED when the calling thread may not make
 * a "potentially unsafe" call (cuMemAlloc, cuMemFree) because of a capture
 * in GLOBAL or THREAD_LOCAL mode; CUDA_SUCCESS otherwise. */
CUresult rgpu_capture_unsafe_check(void);
/* A stream was destroyed: a capture begun on it is over. */
void rgpu_capture_forget(const void *stream);

#endif
