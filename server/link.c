/*
 * link.c — the server side of cuLink* (rgpu_link, rgpu_link_image).
 *
 * A whole link happens in one request, on the backend: cuLinkCreate with the
 * client's numeric options and the server's own log buffers, cuLinkAddData
 * for every input, cuLinkComplete, cuLinkDestroy. With the nvidia backend the
 * real driver links (nvlink/ptxas: PTX, cubins, fatbins, archives); with the
 * CPU device cpudev/link.c links PTX. The image's size is only known here, so
 * the reply carries its hash and size, and the image waits in this worker
 * until rgpu_link_image fetches it (a few at most: a client that never
 * fetches cannot make the worker grow). It also enters the image cache, so
 * that loading it needs no bytes from the client.
 */
#include <stdlib.h>
#include <string.h>

#include "imagecache.h"
#include "imagehash.h"
#include "linkopts.h"
#include "log.h"
#include "worker.h"

#define MAX_LINK_OPTIONS 32
#define MAX_LINK_INPUTS 4096
#define MAX_LOG (1u << 20)
#define KEEP_IMAGES 4

static struct pending {
    struct rgpu_image_ref ref;
    void *bytes;
} pending[KEEP_IMAGES];
static unsigned pending_next;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

static void keep_image(const struct rgpu_image_ref *ref, void *bytes)
{
    pthread_mutex_lock(&pending_lock);
    struct pending *p = &pending[pending_next++ % KEEP_IMAGES];
    free(p->bytes);
    *p = (struct pending){*ref, bytes};
    pthread_mutex_unlock(&pending_lock);
}

/* Add the packed inputs. An archive member (RGPU_LINK_OPTIONAL) goes to the
 * backend's link_add_member where it has one; one the device has no code
 * for is left out (noted in the info log). */
static CUresult add_inputs(struct srv_call *c, CUlinkState st, const uint8_t *p, uint64_t len, uint32_t n,
                           char *info, size_t info_cap, bool *malformed)
{
    uint64_t off = 0;
    *malformed = true;
    if (n == 0 || n > MAX_LINK_INPUTS)
        return CUDA_ERROR_INVALID_VALUE;
    for (uint32_t i = 0; i < n; i++) {
        struct rgpu_link_input h;
        if (len - off < sizeof h)
            return CUDA_ERROR_INVALID_VALUE;
        memcpy(&h, p + off, sizeof h);
        off += sizeof h;
        if ((h.flags & ~RGPU_LINK_OPTIONAL) || h.name_len > RGPU_MAX_STRING || len - off < h.name_len || len - off - h.name_len < h.size || !h.size)
            return CUDA_ERROR_INVALID_VALUE;
        char name[RGPU_MAX_STRING + 1];
        memcpy(name, p + off, h.name_len);
        name[h.name_len] = 0;
        off += h.name_len;
        /* its own aligned buffer, NUL after it (PTX without its NUL) */
        char *data = malloc(h.size + 1);
        if (!data)
            return CUDA_ERROR_OUT_OF_MEMORY;
        memcpy(data, p + off, h.size);
        data[h.size] = 0;
        off += h.size;
        bool member = h.flags & RGPU_LINK_OPTIONAL;
        CUresult r = member && c->w->be->link_add_member
                         ? c->w->be->link_add_member(st, (CUjitInputType)h.type, data, h.size, name)
                         : c->w->be->cuLinkAddData_v2(st, (CUjitInputType)h.type, data, h.size, name, 0, NULL, NULL);
        free(data); /* the driver keeps no reference to inputs (cuda.h) */
        if (r == CUDA_ERROR_NO_BINARY_FOR_GPU && member) {
            size_t used = strlen(info);
            snprintf(info + used, info_cap - used, "info    : '%.200s' left out: no code for this device\n", name);
            continue;
        }
        if (r != CUDA_SUCCESS) {
            *malformed = false;
            return r;
        }
    }
    *malformed = off != len;
    return off == len ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult link_run(struct srv_call *c)
{
    struct rgpu_args_rgpu_link *a = c->args;
    if (a->nopts > MAX_LINK_OPTIONS || a->log_cap > MAX_LOG)
        return CUDA_ERROR_INVALID_VALUE;
    CUjit_option opts[MAX_LINK_OPTIONS + 4];
    void *vals[MAX_LINK_OPTIONS + 4];
    unsigned n = 0;
    for (uint32_t i = 0; i < a->nopts; i++) {
        struct rgpu_link_option o;
        memcpy(&o, (const uint8_t *)a->opts + i * sizeof o, sizeof o);
        if (!rgpu_link_scalar_option(o.option))
            return CUDA_ERROR_INVALID_VALUE;
        opts[n] = (CUjit_option)o.option;
        vals[n++] = (void *)(uintptr_t)o.value;
    }
    size_t cap = a->log_cap > 4096 ? a->log_cap : 4096; /* the server's log sees failures too */
    char *elog = calloc(1, cap), *ilog = calloc(1, cap);
    if (!elog || !ilog) {
        free(elog);
        free(ilog);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    opts[n] = CU_JIT_ERROR_LOG_BUFFER, vals[n++] = elog;
    opts[n] = CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, vals[n++] = (void *)(uintptr_t)cap;
    opts[n] = CU_JIT_INFO_LOG_BUFFER, vals[n++] = ilog;
    opts[n] = CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, vals[n++] = (void *)(uintptr_t)cap;
    /* the server's own notes (inputs left out) go after the backend's info */
    char notes[1024] = "";
    CUlinkState st = NULL;
    bool malformed = false;
    CUresult r = c->w->be->cuLinkCreate_v2(n, opts, vals, &st);
    if (r == CUDA_SUCCESS)
        r = add_inputs(c, st, a->inputs, a->inputs_len, a->ninputs, notes, sizeof notes, &malformed);
    void *image = NULL;
    size_t size = 0;
    if (r == CUDA_SUCCESS)
        r = c->w->be->cuLinkComplete(st, &image, &size);
    void *copy = NULL;
    if (r == CUDA_SUCCESS && (!image || !size))
        r = CUDA_ERROR_UNKNOWN;
    if (r == CUDA_SUCCESS && !(copy = malloc(size)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        memcpy(copy, image, size);
        if (rgpu_image_ref_of(copy, size, &a->image)) {
            imagecache_put(&a->image, copy, size);
            keep_image(&a->image, copy);
        } else {
            free(copy);
            r = CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    if (st)
        c->w->be->cuLinkDestroy(st);
    elog[cap - 1] = ilog[cap - 1] = 0;
    if (r != CUDA_SUCCESS)
        rgpu_info("link failed (%d): %s", (int)r, elog);
    if (malformed) {
        free(elog);
        free(ilog);
        return r; /* a request that breaks its own layout: no link result */
    }
    a->result = r;
    if (a->log_cap) {
        if (!(a->error_log = dispatch_outbuf(c, a->log_cap)) || !(a->info_log = dispatch_outbuf(c, a->log_cap))) {
            free(elog);
            free(ilog);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        snprintf(a->error_log, a->log_cap, "%s", elog);
        snprintf(a->info_log, a->log_cap, "%s%s", ilog, notes);
    }
    free(elog);
    free(ilog);
    return CUDA_SUCCESS;
}

CUresult link_image(struct srv_call *c)
{
    struct rgpu_args_rgpu_link_image *a = c->args;
    CUresult r = CUDA_ERROR_NOT_FOUND;
    pthread_mutex_lock(&pending_lock);
    for (unsigned i = 0; i < KEEP_IMAGES; i++) {
        struct pending *p = &pending[i];
        if (p->bytes && !memcmp(&p->ref, &a->ref, sizeof p->ref)) {
            if ((a->image = dispatch_outbuf(c, a->image_len))) {
                memcpy(a->image, p->bytes, a->image_len);
                free(p->bytes);
                p->bytes = NULL;
                r = CUDA_SUCCESS;
            } else {
                r = CUDA_ERROR_OUT_OF_MEMORY;
            }
            break;
        }
    }
    pthread_mutex_unlock(&pending_lock);
    return r;
}
