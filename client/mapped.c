/*
 * mapped.c — mapped page-locked host memory over a wire.
 *
 * The device cannot reach this process's memory, so every mapped range gets
 * a mirror: a device allocation of the same size, which is what kernels
 * touch. The two are made coherent where CUDA's memory model lets a program
 * that does not race observe them:
 *  - host writes reach the mirror before the next request this process sends
 *    (so before any device work issued after them can start): a range whose
 *    bytes differ from the copy taken at the last exchange is uploaded, and
 *    waited for, first;
 *  - device writes reach host memory before a synchronising call returns
 *    (stream, event and context synchronisation, synchronous copies, and a
 *    stream or event query that reports completion): every range is
 *    downloaded then.
 * What a wire cannot give is access while a kernel runs: a kernel polling a
 * flag the host sets, or the host polling memory a running kernel writes,
 * sees the update only at the next call. NVIDIA's libraries use mapped
 * memory the synchronised way (cuDNN's per-handle status word).
 *
 * Exchanges run on a non-blocking stream of the range's own context, so they
 * never wait for unrelated work. Each costs a round trip, and a request
 * compares every mapped byte with its copy: mapped memory is meant for small
 * shared words, and RGPU_MAPPED_MAX bounds it.
 *
 * Unified addressing promises that memory from cuMemHostAlloc has the same
 * address on host and device: the host bytes are placed at the mirror's
 * device address when that address is free here (always on the CPU device,
 * whose addresses lie in a range processes do not use); otherwise (logged)
 * only cuMemHostGetDevicePointer's address works on the device.
 */
#define _GNU_SOURCE
#include "mapped.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "context.h"
#include "copy.h"

#define RGPU_MAPPED_MAX ((size_t)64 << 20) /* bytes of mapped memory per process */

struct mapped {
    char *host;
    CUdeviceptr dev;
    size_t size;
    char *shadow;    /* the bytes at the last exchange */
    CUcontext ctx;   /* owns dev and stream */
    CUstream stream; /* non-blocking: exchanges wait for nothing else */
    bool mirrored;   /* false once ctx is gone (the mirror went with it) */
    int host_kind;   /* HOST_REGISTERED, HOST_MMAP, HOST_HEAP */
};
enum { HOST_REGISTERED, HOST_MMAP, HOST_HEAP };

atomic_int rgpu_mapped_count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapped *tab;
static size_t ntab, captab, total;
static _Thread_local bool exchanging; /* this thread's own exchange requests pass straight through */

static size_t page_round(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return (n + pg - 1) / pg * pg;
}

/* Run f in the range's context (exchanges use its stream). */
static CUresult in_ctx(const struct mapped *m, CUresult (*f)(const struct mapped *))
{
    CUcontext cur = rgpu_ctx_current(), popped;
    if (cur == m->ctx)
        return f(m);
    CUresult r = cuCtxPushCurrent_v2(m->ctx);
    if (r)
        return r;
    r = f(m);
    cuCtxPopCurrent_v2(&popped);
    return r;
}

static CUresult upload(const struct mapped *m)
{
    memcpy(m->shadow, m->host, m->size);
    CUresult r = rgpu_htod(m->dev, m->shadow, m->size, m->stream);
    return r ? r : cuStreamSynchronize(m->stream);
}

static CUresult download(const struct mapped *m)
{
    CUresult r = rgpu_dtoh(m->shadow, m->dev, m->size, m->stream);
    if (!r)
        r = cuStreamSynchronize(m->stream);
    if (!r)
        memcpy(m->host, m->shadow, m->size);
    return r;
}

static void push_dirty(void)
{
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].mirrored && memcmp(tab[i].host, tab[i].shadow, tab[i].size) != 0)
            (void)in_ctx(&tab[i], upload); /* a failure is the device's; the call that follows reports it */
}

static void pull_all(void)
{
    push_dirty(); /* host writes since the last request are not lost */
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].mirrored)
            (void)in_ctx(&tab[i], download);
}

static bool synchronising(enum rgpu_call_id id, CUresult r)
{
    if (rgpu_calls[id].blocks)
        return true;
    return r == CUDA_SUCCESS && (id == RGPU_ID_cuStreamQuery || id == RGPU_ID_cuEventQuery);
}

CUresult rgpu_mapped_call(enum rgpu_call_id id, void *args, const struct rgpu_landing *land)
{
    if (exchanging)
        return rgpu_remote_direct(id, args, land);
    pthread_mutex_lock(&lock);
    exchanging = true;
    push_dirty();
    exchanging = false;
    pthread_mutex_unlock(&lock);
    CUresult r = rgpu_remote_direct(id, args, land);
    if (synchronising(id, r)) {
        pthread_mutex_lock(&lock);
        exchanging = true;
        pull_all();
        exchanging = false;
        pthread_mutex_unlock(&lock);
    }
    return r;
}

/* Register m (its mirror and stream exist); the caller holds no lock. */
static CUresult add(struct mapped *m)
{
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    if (total + m->size > RGPU_MAPPED_MAX) {
        rgpu_warn("mapped host memory is limited to %zu MiB per process (every request compares it)",
                  RGPU_MAPPED_MAX >> 20);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else if (ntab == captab) {
        size_t cap = captab ? 2 * captab : 8;
        struct mapped *t = realloc(tab, cap * sizeof *t);
        if (!t)
            r = CUDA_ERROR_OUT_OF_MEMORY;
        else
            tab = t, captab = cap;
    }
    if (!r) {
        tab[ntab++] = *m;
        total += m->size;
        atomic_fetch_add(&rgpu_mapped_count, 1);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

/* The mirror and the exchange stream in the current context. */
static CUresult make_mirror(struct mapped *m, size_t size)
{
    m->size = size;
    m->ctx = rgpu_ctx_current();
    if (!m->ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    if (!(m->shadow = calloc(1, size)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct rgpu_args_cuMemAlloc_v2 a = {.bytesize = size};
    CUresult r = rgpu_remote_direct(RGPU_ID_cuMemAlloc_v2, &a, NULL);
    if (r) {
        free(m->shadow);
        return r;
    }
    m->dev = a.dptr;
    if ((r = cuStreamCreate(&m->stream, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS) {
        struct rgpu_args_cuMemFree_v2 f = {.dptr = m->dev};
        (void)rgpu_remote_direct(RGPU_ID_cuMemFree_v2, &f, NULL);
        free(m->shadow);
        return r;
    }
    m->mirrored = true;
    return CUDA_SUCCESS;
}

static void unmake_mirror(struct mapped *m)
{
    if (m->mirrored) {
        CUcontext cur = rgpu_ctx_current(), popped;
        bool pushed = cur != m->ctx && cuCtxPushCurrent_v2(m->ctx) == CUDA_SUCCESS;
        exchanging = true; /* cuMemFree synchronises: no exchange for it */
        cuStreamDestroy_v2(m->stream);
        struct rgpu_args_cuMemFree_v2 f = {.dptr = m->dev};
        (void)rgpu_remote_direct(RGPU_ID_cuMemFree_v2, &f, NULL);
        exchanging = false;
        if (pushed)
            cuCtxPopCurrent_v2(&popped);
    }
    free(m->shadow);
    if (m->host_kind == HOST_MMAP)
        munmap(m->host, page_round(m->size));
    else if (m->host_kind == HOST_HEAP)
        free(m->host);
}

CUresult rgpu_mapped_alloc(void **pp, size_t size)
{
    struct mapped m = {.host_kind = HOST_MMAP};
    CUresult r = make_mirror(&m, size);
    if (r)
        return r;
    void *want = (void *)(uintptr_t)m.dev;
    void *p = mmap(want, page_round(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p != MAP_FAILED && p != want) { /* a kernel without MAP_FIXED_NOREPLACE treats it as a hint */
        munmap(p, page_round(size));
        p = MAP_FAILED;
    }
    if (p == MAP_FAILED) {
        rgpu_warn("mapped host memory: device address %#llx is taken in this process; host and device "
                  "addresses of mapped memory differ (use cuMemHostGetDevicePointer)",
                  (unsigned long long)m.dev);
        m.host_kind = HOST_HEAP;
        if (posix_memalign(&p, 4096, size))
            p = NULL;
        else
            memset(p, 0, size);
    }
    if (!p) {
        unmake_mirror(&m);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    m.host = p;
    if ((r = in_ctx(&m, upload)) != CUDA_SUCCESS || (r = add(&m)) != CUDA_SUCCESS) {
        unmake_mirror(&m);
        return r;
    }
    *pp = p;
    return CUDA_SUCCESS;
}

CUresult rgpu_mapped_register(void *p, size_t size)
{
    struct mapped m = {.host = p, .host_kind = HOST_REGISTERED};
    CUresult r = make_mirror(&m, size);
    if (r)
        return r;
    if ((r = in_ctx(&m, upload)) != CUDA_SUCCESS || (r = add(&m)) != CUDA_SUCCESS) {
        unmake_mirror(&m);
        return r;
    }
    return CUDA_SUCCESS;
}

bool rgpu_mapped_release(void *p)
{
    pthread_mutex_lock(&lock);
    struct mapped m;
    bool found = false;
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].host == p) {
            m = tab[i];
            tab[i] = tab[--ntab];
            total -= m.size;
            atomic_fetch_sub(&rgpu_mapped_count, 1);
            found = true;
            break;
        }
    pthread_mutex_unlock(&lock);
    if (found)
        unmake_mirror(&m);
    return found;
}

bool rgpu_mapped_device_ptr(const void *p, CUdeviceptr *d)
{
    bool found = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ntab && !found; i++)
        if (tab[i].mirrored && (const char *)p >= tab[i].host && (const char *)p < tab[i].host + tab[i].size) {
            *d = tab[i].dev + (CUdeviceptr)((const char *)p - tab[i].host);
            found = true;
        }
    pthread_mutex_unlock(&lock);
    return found;
}

void rgpu_mapped_drop_ctx(CUcontext ctx)
{
    if (!atomic_load(&rgpu_mapped_count))
        return;
    /* The mirrors went with the context; the host bytes stay usable as
     * ordinary memory until cuMemFreeHost / cuMemHostUnregister. */
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].ctx == ctx)
            tab[i].mirrored = false;
    pthread_mutex_unlock(&lock);
}
