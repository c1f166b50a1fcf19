/*
 * streamidle.h — streams the client knows to be idle, whose synchronisation
 * it answers without a round trip (streamidle.c).
 */
#ifndef RGPU_CLIENT_STREAMIDLE_H
#define RGPU_CLIENT_STREAMIDLE_H

#include "client.h"
#include "calls.h"

/* A request is being sent (conn.c, under the send lock): whatever it names
 * may have work queued now. */
void rgpu_streamidle_sent(enum rgpu_call_id id, const void *args);

/* A call failed (conn.c): maybe the context's sticky error, which a
 * synchronisation of any stream must report from now on. */
void rgpu_streamidle_failed(void);

#endif
