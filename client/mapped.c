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
 *
 * A library's __managed__ variables are mirrored the other way round: the
 * device memory is the server's (a managed allocation there), and host
 * pages are placed at its address here (several variables may share a
 * page). Having no context of their own, their exchanges go through
 * rgpu_managed_read/write, which the server serves as the host it is.
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
    CUdeviceptr dev_alloc; /* the allocation dev lies in (make_mirror) */
    size_t size;
    char *shadow;    /* the bytes at the last exchange */
    CUcontext ctx;   /* owns dev and stream (NULL: HOST_ADOPTED) */
    CUstream stream; /* non-blocking: exchanges wait for nothing else */
    bool mirrored;   /* false once ctx is gone (the mirror went with it) */
    int host_kind;   /* HOST_REGISTERED, HOST_MMAP, HOST_HEAP, HOST_ADOPTED */
    const void *owner; /* HOST_ADOPTED: the library whose variable it is */
};
enum { HOST_REGISTERED, HOST_MMAP, HOST_HEAP, HOST_ADOPTED };

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
    if (cur == m->ctx || !m->ctx)
        return f(m);
    CUresult r = cuCtxPushCurrent_v2(m->ctx);
    if (r)
        return r;
    r = f(m);
    cuCtxPopCurrent_v2(&popped);
    return r;
}

#define ADOPTED_CHUNK ((size_t)1 << 20) /* bytes per exchange request */

static CUresult adopted_exchange(const struct mapped *m, bool up)
{
    CUresult r = CUDA_SUCCESS;
    for (size_t off = 0; off < m->size && !r; off += ADOPTED_CHUNK) {
        size_t n = m->size - off < ADOPTED_CHUNK ? m->size - off : ADOPTED_CHUNK;
        if (up) {
            struct rgpu_args_rgpu_managed_write a = {.dptr = m->dev + off, .bytes = m->shadow + off, .bytes_len = n};
            r = rgpu_remote_direct(RGPU_ID_rgpu_managed_write, &a, NULL);
        } else {
            struct rgpu_args_rgpu_managed_read a = {.dptr = m->dev + off, .size = n, .bytes = m->shadow + off};
            r = rgpu_remote_direct(RGPU_ID_rgpu_managed_read, &a, NULL);
        }
    }
    return r;
}

static CUresult upload(const struct mapped *m)
{
    memcpy(m->shadow, m->host, m->size);
    if (m->host_kind == HOST_ADOPTED)
        return adopted_exchange(m, true);
    CUresult r = rgpu_htod(m->dev, m->shadow, m->size, m->stream);
    return r ? r : cuStreamSynchronize(m->stream);
}

static CUresult download(const struct mapped *m)
{
    if (m->host_kind == HOST_ADOPTED) {
        CUresult r = adopted_exchange(m, false);
        if (!r)
            memcpy(m->host, m->shadow, m->size);
        return r;
    }
    CUresult r = rgpu_dtoh(m->shadow, m->dev, m->size, m->stream);
    if (!r)
        r = cuStreamSynchronize(m->stream);
    if (!r)
        memcpy(m->host, m->shadow, m->size);
    return r;
}

/* A failure is the device's, which the call that follows reports; but an
 * adopted variable the server no longer has went with a module this
 * process was never told of (a library's, from cuLibraryGetModule). */
static void exchange(struct mapped *m, CUresult (*f)(const struct mapped *))
{
    if (in_ctx(m, f) == CUDA_ERROR_INVALID_VALUE && m->host_kind == HOST_ADOPTED)
        m->mirrored = false;
}

static void push_dirty(void)
{
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].mirrored && memcmp(tab[i].host, tab[i].shadow, tab[i].size) != 0)
            exchange(&tab[i], upload);
}

static void pull_all(void)
{
    push_dirty(); /* host writes since the last request are not lost */
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].mirrored)
            exchange(&tab[i], download);
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

/* Take entry i out of the table (locked). */
static struct mapped take_locked(size_t i)
{
    struct mapped m = tab[i];
    tab[i] = tab[--ntab];
    total -= m.size;
    atomic_fetch_sub(&rgpu_mapped_count, 1);
    return m;
}

/* The mirror and the exchange stream in the current context. The mirror
 * starts a page into an allocation a page longer than the pages it needs,
 * so that the host pages placed at its address (rgpu_mapped_alloc) hold no
 * byte of another allocation: two small mirrors never want one page. */
static CUresult make_mirror(struct mapped *m, size_t size)
{
    m->size = size;
    m->ctx = rgpu_ctx_current();
    if (!m->ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    if (!(m->shadow = calloc(1, size)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    struct rgpu_args_cuMemAlloc_v2 a = {.bytesize = page_round(size) + pg};
    CUresult r = rgpu_remote_direct(RGPU_ID_cuMemAlloc_v2, &a, NULL);
    if (r) {
        free(m->shadow);
        return r;
    }
    m->dev_alloc = a.dptr;
    m->dev = (a.dptr + pg - 1) & ~(CUdeviceptr)(pg - 1);
    if ((r = cuStreamCreate(&m->stream, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS) {
        struct rgpu_args_cuMemFree_v2 f = {.dptr = m->dev_alloc};
        (void)rgpu_remote_direct(RGPU_ID_cuMemFree_v2, &f, NULL);
        free(m->shadow);
        return r;
    }
    m->mirrored = true;
    return CUDA_SUCCESS;
}

/* ---- the host pages under adopted mirrors, counted: variables share pages ---- */
struct page_ref {
    uintptr_t page;
    unsigned refs;
};
static struct page_ref *pages; /* under lock */
static size_t npages, cappages;

static struct page_ref *page_find(uintptr_t pg)
{
    for (size_t i = 0; i < npages; i++)
        if (pages[i].page == pg)
            return &pages[i];
    return NULL;
}

static void pages_put_locked(uintptr_t p, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    for (uintptr_t a = p & ~(uintptr_t)(pg - 1); a < p + n; a += pg) {
        struct page_ref *r = page_find(a);
        if (r && --r->refs == 0) {
            munmap((void *)a, pg);
            *r = pages[--npages];
        }
    }
}

static void pages_put(uintptr_t p, size_t n)
{
    pthread_mutex_lock(&lock);
    pages_put_locked(p, n);
    pthread_mutex_unlock(&lock);
}

/* Host pages under [p, p + n): those already under another adopted mirror
 * shared, the others mapped here at their address. false (nothing taken)
 * if one is this process's for something else, or out of memory. */
static bool pages_get(uintptr_t p, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = p & ~(uintptr_t)(pg - 1), a;
    bool ok = true;
    pthread_mutex_lock(&lock);
    for (a = first; ok && a < p + n; a += pg) {
        struct page_ref *r = page_find(a);
        if (r) {
            r->refs++;
            continue;
        }
        if (npages == cappages) {
            size_t cap = cappages ? 2 * cappages : 16;
            struct page_ref *t = realloc(pages, cap * sizeof *t);
            if (!t) {
                ok = false;
                break;
            }
            pages = t, cappages = cap;
        }
        void *q = mmap((void *)a, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (q != MAP_FAILED && q != (void *)a) /* a kernel without MAP_FIXED_NOREPLACE treats it as a hint */
            munmap(q, pg);
        if (q != (void *)a) {
            ok = false;
            break;
        }
        pages[npages++] = (struct page_ref){a, 1};
    }
    if (!ok && a > first)
        pages_put_locked(first, a - first); /* the pages before the one that failed */
    pthread_mutex_unlock(&lock);
    return ok;
}

static void unmake_mirror(struct mapped *m)
{
    if (m->mirrored && m->host_kind != HOST_ADOPTED) { /* an adopted mirror's memory is the library's */
        CUcontext cur = rgpu_ctx_current(), popped;
        bool pushed = cur != m->ctx && cuCtxPushCurrent_v2(m->ctx) == CUDA_SUCCESS;
        exchanging = true; /* cuMemFree synchronises: no exchange for it */
        cuStreamDestroy_v2(m->stream);
        struct rgpu_args_cuMemFree_v2 f = {.dptr = m->dev_alloc};
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
    else if (m->host_kind == HOST_ADOPTED)
        pages_put((uintptr_t)m->host, m->size);
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

CUresult rgpu_mapped_adopt(CUdeviceptr d, size_t size, const void *owner)
{
    pthread_mutex_lock(&lock);
    bool known = false, gone = false;
    struct mapped old;
    for (size_t i = 0; i < ntab && !known && !gone; i++)
        if (tab[i].host_kind == HOST_ADOPTED && tab[i].dev == d) {
            known = tab[i].mirrored && tab[i].size == size;
            if (!known) { /* its variable went unannounced: this is another one */
                old = take_locked(i);
                gone = true;
            }
        }
    pthread_mutex_unlock(&lock);
    if (gone)
        unmake_mirror(&old);
    if (known)
        return CUDA_SUCCESS; /* the same variable asked for again */
    struct mapped m = {.host = (char *)(uintptr_t)d, .dev = d, .size = size, .mirrored = true,
                       .host_kind = HOST_ADOPTED, .owner = owner};
    if (!(m.shadow = malloc(size)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (!pages_get((uintptr_t)d, size)) {
        rgpu_warn("managed variable at %#llx (%zu bytes): that address is taken in this process, so the host "
                  "cannot reach it", (unsigned long long)d, size);
        free(m.shadow);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    CUresult r = download(&m);
    if (r == CUDA_SUCCESS)
        r = add(&m);
    if (r != CUDA_SUCCESS)
        unmake_mirror(&m);
    return r;
}

void rgpu_mapped_hold_owner(const void *owner, bool held)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].host_kind == HOST_ADOPTED && tab[i].owner == owner)
            tab[i].mirrored = !held;
    pthread_mutex_unlock(&lock);
}

void rgpu_mapped_release_owner(const void *owner)
{
    for (;;) {
        struct mapped m;
        bool found = false;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < ntab && !found; i++)
            if (tab[i].host_kind == HOST_ADOPTED && tab[i].owner == owner) {
                m = take_locked(i);
                found = true;
            }
        pthread_mutex_unlock(&lock);
        if (!found)
            return;
        unmake_mirror(&m);
    }
}

bool rgpu_mapped_release(void *p)
{
    pthread_mutex_lock(&lock);
    struct mapped m;
    bool found = false;
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].host == p && tab[i].host_kind != HOST_ADOPTED) {
            m = take_locked(i);
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
