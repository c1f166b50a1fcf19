/*
 * session.h — opening a connection to rgpud, shared by the client libraries
 * (libcuda.so.1 and libnvidia-ml.so.1): the server address (RGPU_SERVER, else
 * RGPU_DEFAULT_SERVER), connect, HELLO/WELCOME and the device snapshot.
 *
 * rgpu_session_call() is a plain synchronous request/reply on the session's
 * socket, for a caller that serialises its calls and never expects anything
 * but replies (libnvidia-ml). libcuda has its own receiver thread instead
 * (DATA, CALLBACK and PRINT messages arrive between replies).
 */
#ifndef RGPU_WIRE_SESSION_H
#define RGPU_WIRE_SESSION_H

#include "calls.h"

struct rgpu_session {
    int fd;
    const char *server;            /* the address used */
    struct rgpu_welcome welcome;
    struct rgpu_dev_info *devs;    /* welcome.ndev entries, malloc'd */
};

/* The address clients connect to. */
const char *rgpu_server_address(void);

/* Connect and handshake. 0 on success; else the session is closed, err says
 * why and *result holds the CUresult to report (the server's, when it
 * refused to initialise its backend; CUDA_ERROR_SYSTEM_DRIVER_MISMATCH when
 * client and server are of different builds; else CUDA_ERROR_NO_DEVICE). */
int rgpu_session_open(struct rgpu_session *s, unsigned flags, int *result, char *err, size_t errlen);
/* flags: a CUDA driver's session (libcuda.so.1) honours CUDA_VISIBLE_DEVICES;
 * NVML's does not (NVIDIA's NVML lists every GPU whatever it says) */
#define RGPU_SESSION_CUDA 1u
void rgpu_session_close(struct rgpu_session *s);

/* Send call id with its argument struct and wait for the reply, decoding the
 * outputs into args on success. 0 with *result set (the reply's result, a
 * CUresult or an nvmlReturn_t by the call's kind); -1 when the connection
 * failed or the server broke the protocol (the session is then unusable). */
int rgpu_session_call(struct rgpu_session *s, enum rgpu_call_id id, void *args, int32_t *result);

#endif
