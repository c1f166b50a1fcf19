/*
 * devprint.h — device printf text that the backend writes to stdout itself
 * (NVIDIA's driver), forwarded to the client (see devprint.c).
 */
#ifndef RGPU_SERVER_DEVPRINT_H
#define RGPU_SERVER_DEVPRINT_H

#include <stdbool.h>

struct worker;

/* Make fd 1 a pipe whose text goes to w's client; false if it cannot. */
bool devprint_start(struct worker *w);
/* Before a reply: everything written to fd 1 so far has been sent. */
void devprint_flush(void);

#endif
