/*
 * htod_chunked.c — large host->device copies on a backend whose device
 * memory is not this process's (the NVIDIA driver, or the CPU device with
 * RGPU_STAGED_COPIES=1): the payload is received into a page-locked staging
 * buffer (server/bufpool.c) one chunk at a time, and each chunk's device copy
 * is queued on the stream as soon as the chunk has arrived, so the DMA of
 * chunk n runs while chunk n+1 is still coming off the wire. Received whole
 * first, the copy would start only after the last byte.
 *
 * The chunks go to the stream in order and nothing else can be queued
 * between them (this reader is the only one that queues work for the
 * connection), so the stream sees one copy. The reader never waits for the
 * device, only for the payload the client has already sent. A copy CUDA
 * would reject as a whole (a destination range that does not fit one
 * allocation) is left to the ordinary path, so no chunk of it is written
 * first; so is everything else that path reports (bad stream, a capturing
 * stream) and a request that wants a reply.
 */
#include <string.h>

#include "log.h"
#include "reader.h"
#include "worker.h"

#define CHUNK (1u << 20)

static void put_done(void *buf, CUresult r) { bufpool_put(buf); }
#define CHUNKED_MIN (2u * CHUNK)

int htod_chunked(struct worker *w, const struct rgpu_hdr *h, const uint8_t *args, struct rgpu_reader *rd,
                 CUresult *result)
{
    *result = CUDA_SUCCESS;
    struct rgpu_args_cuMemcpyHtoDAsync_v2 a;
    CUdeviceptr base;
    size_t size;
    if (w->device_is_host || !htod_peek(w, h, args, CHUNKED_MIN, &a) ||
        w->be->cuMemGetAddressRange_v2(&base, &size, a.dstDevice) != CUDA_SUCCESS ||
        a.dstDevice + a.ByteCount < a.dstDevice || a.dstDevice + a.ByteCount > base + size)
        return 0;
    uint8_t *buf = bufpool_get(a.ByteCount);
    if (!buf)
        return 0; /* the ordinary path skips the payload and reports it */
    CUresult r = CUDA_SUCCESS;
    uint64_t queued = 0;
    for (uint64_t off = 0; off < a.ByteCount;) {
        uint64_t len = a.ByteCount - off < CHUNK ? a.ByteCount - off : CHUNK;
        if (rgpu_reader_read(rd, buf + off, len))
            return -1; /* the worker exits; queued chunks may still read buf */
        if (r == CUDA_SUCCESS) {
            r = w->be->cuMemcpyHtoDAsync_v2(a.dstDevice + off, buf + off, len, a.hStream);
            if (r == CUDA_SUCCESS)
                queued++;
        }
        off += len;
    }
    rgpu_debug("cuMemcpyHtoDAsync, %llu bytes: %llu chunks queued as they arrived", (unsigned long long)a.ByteCount,
               (unsigned long long)queued);
    /* the staging buffer lives until the stream has copied out of it */
    if (!queued || completions_add(w, a.hStream, put_done, buf, false) != CUDA_SUCCESS) {
        if (queued)
            w->be->cuStreamSynchronize(a.hStream);
        bufpool_put(buf);
    }
    *result = r;
    return 1;
}
