/*
 * shm.h — the shared-memory transport (RGPU_SERVER=shm:/path/to/unix.sock).
 *
 * The connection is still a unix socket, used to set up and to watch the
 * peer: the client sends a setup request (a frame header no plain server
 * accepts, so pointing shm: at a unix: server fails at once), the server's
 * worker creates a memfd
 * holding two single-producer/single-consumer byte rings (client->server,
 * server->client) and hands it over with SCM_RIGHTS. From then on the rgpu
 * byte stream (the unchanged framing: header, arguments, bulk) flows through
 * the rings and the socket carries nothing; a closed socket (the peer died,
 * or we shut it down) is how either side learns the connection is gone.
 *
 * The socket fd stays the connection's handle: net.c's read/write/poll
 * helpers (and so rgpu_reader, the client's send path, the worker) find the
 * rings attached to an fd and use them instead of the socket. A sleeping
 * side waits on a futex in the shared page (the other side wakes it only
 * when it says it sleeps), with a timeout after which it checks the socket.
 *
 * The worker also hands over a second memfd, the host-memory pool: address
 * space (RGPU_SHM_POOL_MIB, 8 GiB by default; 0: none) that both sides map
 * and nothing backs until it is touched. The client serves page-locked
 * allocations from it (client/hostpool.c), so that copies to and from them
 * travel as pool offsets and the server reads and writes the client's bytes
 * in place (server/hostpool.c). The server checks every offset it is given
 * against the pool; what the client writes there is data, never parsed.
 *
 * Nothing read from shared memory is trusted: the peer's index is checked
 * against the ring size at every read, our own index is kept privately, and
 * payload bytes are copied out before anyone parses them.
 */
#ifndef RGPU_WIRE_SHM_H
#define RGPU_WIRE_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct rgpu_shm;

/* Client: after connecting to a shm: address, ask for the rings and attach
 * them to fd. 0, or -1 with err filled. */
int rgpu_shm_client(int fd, char *err, size_t errlen);
/* Server: on an accepted connection of a shm: listener, answer the client's
 * request with a fresh memfd and attach it to fd. 0, or -1 with err filled. */
int rgpu_shm_server(int fd, char *err, size_t errlen);

/* The rings attached to fd, or NULL (a plain socket). */
struct rgpu_shm *rgpu_shm_of(int fd);
/* Forget fd's rings (before closing it). */
void rgpu_shm_detach(int fd);

/* Like read(): at least one byte, 0 at the end of the stream (the peer is
 * gone and its ring is empty), -1 with errno on error. */
ssize_t rgpu_shm_read(struct rgpu_shm *s, void *p, size_t n);
/* All of iov into the ring: 0, or -1 with errno EPIPE (the peer is gone). */
int rgpu_shm_writev(struct rgpu_shm *s, const struct iovec *iov, int iovcnt);
/* Wait until there is something to read or the connection ended (1), or
 * timeout_ms passed (0; -1 waits forever). */
int rgpu_shm_poll(struct rgpu_shm *s, int timeout_ms);
/* Whether the peer reads s's outgoing ring without having announced that it
 * sleeps (it spins for bytes, or is busy): what is written now wakes nobody.
 * Conservative: an announcement can outlive the sleep it was for. */
bool rgpu_shm_peer_reading(const struct rgpu_shm *s);

/* The host-memory pool attached to fd (its size in *size), or NULL. */
void *rgpu_shm_pool(int fd, size_t *size);
/* Client: the pool is mapped at the server's address of it (so an address
 * in it is the same in both processes). */
bool rgpu_shm_pool_shared_address(int fd);
/* The pool a server offers (RGPU_SHM_POOL_MIB), in bytes; 0: none. */
size_t rgpu_shm_pool_size(void);

/* Ring size per direction (bytes, a power of two). */
size_t rgpu_shm_ring_size(void);

#endif
