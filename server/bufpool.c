/*
 * bufpool.c — see bufpool.h.
 *
 * Every buffer carries a 16-byte header just before the address handed out:
 * small ones are malloc(16 + len); pooled ones are an mmap of one extra page
 * followed by the size class, so the address handed out is page-aligned and
 * the header sits at the end of the extra page.
 *
 * With pinning (bufpool_set_pinning) the smallest class is 4 KiB and every
 * buffer is pooled; a pooled buffer records the pinning generation it was
 * pinned in (0: not pinned). Unmapping a pinned buffer needs the driver, so
 * buffers to unmap go to a retired list that bufpool_get empties.
 */
#include "bufpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "log.h"

#define MIN_SHIFT 12             /* 4 KiB: smallest class when pinning */
#define POOL_SHIFT 16            /* 64 KiB: smallest pooled size otherwise */
#define NCLASSES (64 - MIN_SHIFT)
#define PAGE 4096u
#define MAGIC_SMALL 0x72627366u  /* "rbsf" */
#define MAGIC_BUSY 0x72627062u   /* pooled, handed out */
#define MAGIC_IDLE 0x72627069u   /* pooled, in a free list */

struct hdr {
    uint32_t magic;
    uint16_t cls;                /* class index (pooled only) */
    uint16_t pin_gen;            /* pinned in this generation; 0: not pinned */
    void *next;                  /* free-list link (idle and retired only) */
};
_Static_assert(sizeof(struct hdr) == 16, "header size");

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *idle_list[NCLASSES];
static size_t idle_bytes;
static size_t idle_max;          /* 0: not read yet */
static int (*pin_fn)(void *, size_t);
static void (*unpin_fn)(void *);
static _Atomic uint16_t pin_gen = 1;
static void *retired;            /* pinned buffers to unpin and unmap */

static struct hdr *hdr_of(void *buf) { return (struct hdr *)buf - 1; }
static size_t class_size(unsigned cls) { return (size_t)1 << (cls + MIN_SHIFT); }

static void unmap_now(void *buf, unsigned cls)
{
    if (hdr_of(buf)->pin_gen)
        unpin_fn(buf);
    munmap((char *)buf - PAGE, class_size(cls) + PAGE);
}

/* Any thread: a pinned buffer waits for bufpool_get (lock not held). */
static void unmap(void *buf, unsigned cls)
{
    if (!hdr_of(buf)->pin_gen) {
        unmap_now(buf, cls);
        return;
    }
    hdr_of(buf)->cls = (uint16_t)cls;
    pthread_mutex_lock(&lock);
    hdr_of(buf)->next = retired;
    retired = buf;
    pthread_mutex_unlock(&lock);
}

/* Unpin and unmap a list taken off `retired` (lock not held). */
static void unmap_list(void *b)
{
    while (b) {
        void *next = hdr_of(b)->next;
        unmap_now(b, hdr_of(b)->cls);
        b = next;
    }
}

static void unmap_retired(void)
{
    pthread_mutex_lock(&lock);
    void *b = retired;
    retired = NULL;
    pthread_mutex_unlock(&lock);
    unmap_list(b);
}

void bufpool_set_pinning(int (*pin)(void *p, size_t n), void (*unpin)(void *p))
{
    pin_fn = pin;
    unpin_fn = unpin;
}

void bufpool_repin(void)
{
    uint16_t g = atomic_load(&pin_gen);
    uint16_t next = (uint16_t)(g + 1) ? (uint16_t)(g + 1) : 1;
    atomic_compare_exchange_strong(&pin_gen, &g, next);
}

static size_t read_idle_max(void)
{
    const char *e = getenv("RGPU_BUFPOOL_IDLE_MIB");
    size_t mib = 1024;
    if (e && *e) {
        char *end;
        unsigned long long v = strtoull(e, &end, 10);
        if (!*end)
            mib = v > (SIZE_MAX >> 20) ? SIZE_MAX >> 20 : (size_t)v;
    }
    return mib ? mib << 20 : 1; /* 0 MiB: keep nothing (1 byte never fits) */
}

/* Pop one idle buffer of the largest class (lock held), or NULL. */
static void *evict_one(unsigned *cls)
{
    for (unsigned i = NCLASSES; i-- > 0;)
        if (idle_list[i]) {
            void *b = idle_list[i];
            idle_list[i] = hdr_of(b)->next;
            idle_bytes -= class_size(i);
            *cls = i;
            return b;
        }
    return NULL;
}

/* Unmap every idle buffer (memory is short). */
static void drain(void)
{
    for (;;) {
        unsigned cls;
        pthread_mutex_lock(&lock);
        void *b = evict_one(&cls);
        pthread_mutex_unlock(&lock);
        if (!b)
            return;
        unmap(b, cls);
    }
}

void *bufpool_get(size_t len)
{
    if (len < ((size_t)1 << (pin_fn ? MIN_SHIFT : POOL_SHIFT))) {
        if (pin_fn)
            len = 1; /* the smallest class */
        else {
            struct hdr *h = malloc(sizeof *h + len);
            if (!h)
                return NULL;
            *h = (struct hdr){.magic = MAGIC_SMALL};
            return h + 1;
        }
    }
    unsigned cls = pin_fn ? 0 : POOL_SHIFT - MIN_SHIFT;
    while (class_size(cls) < len) {
        if (++cls >= NCLASSES || class_size(cls) > SIZE_MAX - PAGE)
            return NULL;
    }
    pthread_mutex_lock(&lock);
    void *b = idle_list[cls];
    if (b) {
        idle_list[cls] = hdr_of(b)->next;
        idle_bytes -= class_size(cls);
    }
    void *gone = retired; /* with pinning every size comes here: this is where they go */
    retired = NULL;
    pthread_mutex_unlock(&lock);
    unmap_list(gone);
    if (!b) {
        for (int attempt = 0; attempt < 2 && !b; attempt++) {
            void *m = mmap(NULL, class_size(cls) + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m != MAP_FAILED)
                b = (char *)m + PAGE;
            else if (attempt == 0) {
                drain(); /* give idle memory back, then try once more */
                unmap_retired();
            }
        }
        if (!b)
            return NULL;
    }
    struct hdr *h = hdr_of(b);
    uint16_t gen = pin_fn ? atomic_load(&pin_gen) : 0;
    if (pin_fn && h->pin_gen != gen)
        h->pin_gen = pin_fn(b, class_size(cls)) == 0 ? gen : 0;
    h->magic = MAGIC_BUSY;
    h->cls = (uint16_t)cls;
    return b;
}

void bufpool_put(void *buf)
{
    if (!buf)
        return;
    struct hdr *h = hdr_of(buf);
    if (h->magic == MAGIC_SMALL) {
        h->magic = 0;
        free(h);
        return;
    }
    if (h->magic != MAGIC_BUSY) {
        rgpu_err("bufpool: releasing a buffer that is not handed out (%p)", buf);
        abort();
    }
    unsigned cls = h->cls;
    size_t size = class_size(cls);
    void *victims = NULL; /* unmapped after the lock is dropped */
    unsigned victim_cls[8];
    int nvictims = 0;
    pthread_mutex_lock(&lock);
    if (!idle_max)
        idle_max = read_idle_max();
    bool keep = size <= idle_max;
    /* Keep the buffer just released (the likeliest to be asked for again):
     * make room by dropping the largest idle ones. */
    while (keep && idle_bytes + size > idle_max) {
        unsigned vc;
        void *v = evict_one(&vc);
        if (!v || nvictims == 8) {
            if (v) { /* put it back; give up keeping this one */
                hdr_of(v)->next = idle_list[vc];
                idle_list[vc] = v;
                idle_bytes += class_size(vc);
            }
            keep = false;
            break;
        }
        hdr_of(v)->next = victims;
        victims = v;
        victim_cls[nvictims++] = vc;
    }
    if (keep) {
        h->magic = MAGIC_IDLE;
        h->next = idle_list[cls];
        idle_list[cls] = buf;
        idle_bytes += size;
    }
    pthread_mutex_unlock(&lock);
    if (!keep)
        unmap(buf, cls);
    /* victims were pushed in order, so the list runs from the last one back */
    for (int i = nvictims; i-- > 0;) {
        void *v = victims;
        victims = hdr_of(v)->next;
        unmap(v, victim_cls[i]);
    }
}
