/*
 * internal.h — what the CPU device's files share: the device-wide state,
 * the context, stream, event and operation structures, and the helpers each
 * file exports to the others. Nothing here is visible to the server.
 *
 * Locking. One mutex, cpudev.mu, guards every context, stream, event and
 * operation field and the handle registry; one condition variable, cpudev.done,
 * is broadcast whenever an operation completes or a stream's worker exits,
 * and every wait for completion loops on it. The allocator has its own lock
 * (memory.c); the only permitted order is cpudev.mu, then the allocator's.
 * Functions named *_locked expect cpudev.mu to be held.
 *
 * Lifetimes. Streams and events are reference counted; the handle registry
 * (or the context, for a legacy stream) holds one reference, a stream's
 * worker thread one, and every dependency, event record or waiter that
 * points at an object one more. A context is freed by cuCtxDestroy once all
 * its streams have exited (the primary context never is). A
 * handle passed in is looked up in the registry before it is dereferenced,
 * so a forged or stale handle is rejected, never followed.
 *
 * Code (modules, libraries, functions, kernels, launches) has its own
 * internal header, module.h, on top of this one.
 */
#ifndef RGPU_CPUDEV_INTERNAL_H
#define RGPU_CPUDEV_INTERNAL_H

#include "cpudev.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPUDEV_VA_DEFAULT 0x200000000000ull
#define CPUDEV_DRIVER_VERSION 13000
#define CPUDEV_CTX_API_VERSION 3020   /* what the driver reports for every modern context */
#define CPUDEV_PRIO_LEAST 0
#define CPUDEV_PRIO_GREATEST (-5)
#define CPUDEV_MAX_PITCH 2147483647ull /* CU_DEVICE_ATTRIBUTE_MAX_PITCH */

/* ---- device-wide state (device.c) ---- */

struct cpudev_state {
    _Atomic bool ready;         /* cpudev_init() succeeded */
    _Atomic bool driver_inited; /* cuInit(0) was called */
    _Atomic bool exited;        /* cpudev_exit() was called */
    struct cpudev_config cfg;   /* resolved: no zero "defaults" left */
    CUuuid uuid;
    int host_numa_id;           /* -1 when the host has no NUMA nodes */
    pthread_mutex_t mu;
    pthread_cond_t done;
    struct ctx *primary;        /* the one primary context, never freed */
    struct ctx *ctxs;           /* every context not yet freed, primary first */
    uint64_t next_id;           /* ids of contexts, streams and events */
};
extern struct cpudev_state cpudev;

/* CUDA_SUCCESS once cpudev_init() and cuInit(0) have run. */
CUresult cpudev_check_ready(void);
#define CPUDEV_ENTER()                                                                             \
    do {                                                                                           \
        CUresult ready_ = cpudev_check_ready();                                                    \
        if (ready_ != CUDA_SUCCESS)                                                                \
            return ready_;                                                                         \
    } while (0)

void cpudev_lock(void);
void cpudev_unlock(void);
uint64_t cpudev_new_id_locked(void);
uint64_t cpudev_now_ns(void); /* CLOCK_MONOTONIC */

/* Device attribute value (attrs.c); false for an unknown attribute. */
bool cpudev_attribute(CUdevice_attribute attr, int *value);

/* ---- handle registry (registry.c), cpudev.mu held ---- */

/* H_FUNC and H_KERNEL are both accepted wherever the driver takes a
 * CUfunction (cudart launches a CUkernel as a CUfunction). */
enum handle_kind { H_CTX = 1, H_STREAM, H_EVENT, H_MODULE, H_FUNC, H_LIBRARY, H_KERNEL, H_GRAPH, H_GNODE, H_GEXEC, H_ARRAY,
                   H_TEXOBJ, H_SURFOBJ };
bool reg_add_locked(const void *h, enum handle_kind kind); /* false: out of memory */
void reg_del_locked(const void *h);
bool reg_has_locked(const void *h, enum handle_kind kind);

/* ---- contexts (context.c) ---- */

struct ctx {
    bool primary;
    bool active;            /* primary: retained and not reset; others: until destroyed */
    uint64_t serial;        /* identity of this struct, for thread bindings */
    uint64_t id;            /* cuCtxGetId; new on every activation */
    unsigned flags;         /* CU_CTX_* */
    int retain;             /* primary only: cuDevicePrimaryCtxRetain count */
    size_t limits[CU_LIMIT_MAX];
    CUfunc_cache cache;
    struct stream *legacy;  /* the legacy default stream while active */
    struct stream *streams; /* every stream whose worker still runs, legacy included */
    struct event *events;   /* every live event */
    struct module *modules; /* modules loaded in this activation (module.c) */
    /* The first launch failure of this activation (ILLEGAL_ADDRESS, ...):
     * sticky, as on hardware. Returned by every later launch, enqueue and
     * synchronisation in the context until it is destroyed or reset. */
    CUresult sticky;
    struct ctx *next;       /* cpudev.ctxs */
};

/* The sticky error of activation id of c, or CUDA_SUCCESS; c may have been
 * destroyed meanwhile (then CUDA_SUCCESS: nothing is left to report). */
CUresult ctx_sticky_locked(struct ctx *c, uint64_t id);

/* The calling thread's current context, usable (active). */
CUresult ctx_current_locked(struct ctx **out);
/* h, or the current context when h is NULL. */
CUresult ctx_get_locked(CUcontext h, struct ctx **out);
bool ctx_flags_valid(unsigned flags, CUresult *err);
/* A shared memory bank size CUDA names (the size itself is fixed). */
bool bank_config_known(CUsharedconfig c);
/* Create the primary context's structure (init). */
bool ctx_init_primary(void);

/* ---- streams and operations (stream.c) ---- */

enum op_kind {
    OP_COPY,    /* memmove(dst, src, n) */
    OP_COPY2D,  /* rows of width bytes, each with its own pitch */
    OP_SET,     /* fill n elements of es bytes with a pattern */
    OP_SET2D,   /* the same per row */
    OP_HOSTFN,  /* fn(arg) on the worker thread */
    OP_RECORD,  /* timestamp an event */
    OP_WAIT,    /* nothing: only its dependencies matter */
    OP_LAUNCH,  /* run a kernel (launch.c); skipped once the context is sticky */
    OP_GRAPH,   /* a launched executable graph: its steps in order (exec.c) */
    OP_FREE,    /* cuMemFreeAsync: free the allocation at p (mempool.c) */
    OP_MEMOPS,  /* stream memory operations: writes, waits for a value, barriers (memops.c) */
    OP_COND,    /* a graph's conditional node: a body chosen, or looped, by a value (graph steps only) */
};

/* One stream memory operation (memops.c). */
struct memop {
    enum { MEMOP_WRITE, MEMOP_WAIT, MEMOP_BARRIER } kind;
    uint8_t size;  /* 4 or 8 */
    uint8_t cond;  /* waits: CU_STREAM_WAIT_VALUE_GEQ, EQ, AND or NOR */
    CUdeviceptr addr;
    uint64_t value;
};
/* Run them in order on the stream's worker; cpudev.mu not held. */
void memops_run(const struct memop *ops, int n);

struct dep {
    struct stream *s; /* referenced */
    uint64_t seq;     /* satisfied when s->completed >= seq */
};

struct op {
    struct op *next;
    enum op_kind kind;
    uint64_t seq;     /* position in its stream, from 1 */
    int ndeps;
    struct dep *deps; /* malloc'd, ndeps entries */
    union {
        struct {
            char *dst;
            const char *src;
            size_t n;
        } copy;
        struct {
            char *dst;
            const char *src;
            size_t dpitch, spitch, width, height;
        } copy2d;
        struct {
            char *dst;
            size_t n;      /* elements per row */
            unsigned es;   /* element size: 1, 2 or 4 */
            uint32_t value;
            size_t pitch, height; /* height 1 for OP_SET */
        } set;
        struct {
            CUhostFn fn;
            void *arg;
        } host;
        struct {
            struct event *ev; /* referenced */
            uint64_t gen;
        } rec;
        struct launch *launch; /* malloc'd, freed with the op */
        CUdeviceptr free_at;   /* OP_FREE */
        struct {
            int n;
            struct memop *ops; /* malloc'd */
        } memops;
        struct {
            uint32_t *value;   /* the condition (graph_cond.c) */
            int type;          /* CU_GRAPH_COND_TYPE_IF, WHILE or SWITCH */
            int n;
            struct op **bodies; /* owned, n, each an OP_GRAPH */
        } cond;
        struct {
            int n;
            struct op **steps; /* owned; kinds OP_COPY2D, OP_SET2D, OP_HOSTFN, OP_LAUNCH, OP_RECORD */
        } graph;
    } u;
};

/* A stream's attributes (stream_attrs.c): hints the CPU device keeps and
 * reports but has no hardware for (an L2 to persist lines in, memory
 * synchronisation domains, ways to wait). Zero is each one's default. */
struct stream_attrs {
    CUaccessPolicyWindow window;
    CUsynchronizationPolicy sync;        /* 0: CU_SYNC_POLICY_AUTO */
    CUlaunchMemSyncDomain domain;
    CUlaunchMemSyncDomainMap map;
    bool map_set;                        /* else the default map, remote -> 1 */
};

struct stream {
    int refs;
    struct ctx *ctx;
    uint64_t ctx_id;        /* the activation of ctx it belongs to */
    uint64_t id;            /* cuStreamGetId */
    unsigned flags;         /* CU_STREAM_DEFAULT or CU_STREAM_NON_BLOCKING */
    int priority;
    struct stream_attrs attrs;
    bool legacy;            /* the context's legacy default stream */
    bool closing;           /* no more work: the worker exits once drained */
    bool exited;            /* the worker has left */
    uint64_t submitted;     /* seq of the last queued op */
    uint64_t completed;     /* seq of the last finished op (ops finish in order) */
    struct op *head, *tail; /* queued, head runs next */
    pthread_cond_t work;    /* signalled when an op is queued or closing is set */
    struct stream *next;    /* ctx->streams */
    /* Stream capture (capture.c): while cap is set, work submitted to the
     * stream becomes nodes of cap's graph, each depending on cdeps, instead
     * of running. */
    struct capture *cap;    /* referenced */
    struct gnode **cdeps;   /* the capture's current dependencies in this stream */
    int ncdeps, capcdeps;
    CUgraphEdgeData *cedges; /* capcdeps zeroed entries (GetCaptureInfo_v3) */
};

/* Resolve a stream argument: NULL and CU_STREAM_LEGACY mean the current
 * context's legacy stream; a registered handle itself. */
CUresult stream_resolve_locked(CUstream h, struct stream **out);
/* A new stream with a running worker, linked into c (one reference for the
 * caller). */
CUresult stream_create_locked(struct ctx *c, unsigned flags, int priority, bool legacy,
                              struct stream **out);
/* Drop the handle (registry entry, or the context's legacy slot) and its
 * reference; the worker finishes the queued work, then exits. */
void stream_destroy_locked(struct stream *s);
void stream_unref_locked(struct stream *s);
struct op *op_new(enum op_kind kind);
void op_discard_locked(struct op *op); /* an op never submitted */
/* Queue op on s after the implicit (legacy stream) dependencies and the
 * nextra ones in extra (may be NULL). On failure op is left to the caller.
 * On a capturing stream the op becomes a graph node instead (capture.c) and
 * is consumed. */
CUresult stream_submit_locked(struct stream *s, struct op *op, const struct dep *extra, int nextra);
/* Run the data part of an operation; cpudev.mu not held. */
CUresult op_run(struct op *op);
static inline bool dep_met(const struct dep *d) { return d->s->completed >= d->seq; }

/* Waiting. NOT_PERMITTED on a worker thread (a host function), where waiting
 * could deadlock. */
CUresult wait_permitted(void);

struct waitset {
    int n, cap;
    struct dep *d;
    struct dep inline_d[16];
};
void ws_init(struct waitset *ws);
bool ws_add_locked(struct waitset *ws, struct stream *s, uint64_t seq); /* false: out of memory */
bool ws_add_ctx_locked(struct waitset *ws, struct ctx *c);   /* its streams' submitted work */
bool ws_add_device_locked(struct waitset *ws);               /* every context's */
void ws_wait_locked(struct waitset *ws);                     /* then releases it */
void ws_release_locked(struct waitset *ws);

/* ---- events (event.c) ---- */

struct event {
    int refs;
    struct ctx *ctx;
    unsigned flags;         /* CU_EVENT_* */
    uint64_t gen;           /* bumped by every record */
    struct stream *s;       /* stream of the latest record (referenced), NULL if none */
    uint64_t seq;           /* that record's op */
    uint64_t t_ns;          /* its timestamp, once executed */
    struct event *prev, *next; /* ctx->events */
    /* Recorded in a capturing stream (capture.c): the event stands for
     * those capture dependencies, not for stream work. */
    struct capture *cap;    /* referenced, or NULL */
    struct gnode **cdeps;
    int ncdeps;
};
void event_fire_locked(struct event *e, uint64_t gen); /* the record op ran */
void event_unref_locked(struct event *e);
void event_unlink_locked(struct event *e);               /* from its context's list */

/* ---- stream capture (capture.c), graphs (graph.c, exec.c) ---- */

/* The op becomes a node of s's capture (s->cap set); consumed on success. */
CUresult capture_op_locked(struct stream *s, struct op *op);
/* cuEventRecord / cuStreamWaitEvent on a stream that captures, or with an
 * event recorded in a capture: *handled is false when the ordinary path
 * applies. */
CUresult capture_record_locked(struct event *e, struct stream *s, bool *handled);
CUresult capture_wait_locked(struct stream *s, struct event *e, bool *handled);
/* An event record or wait node (CU_EVENT_RECORD_EXTERNAL,
 * CU_EVENT_WAIT_EXTERNAL) in s's capture. */
CUresult capture_event_node_locked(struct stream *s, struct event *e, CUgraphNodeType type);
/* A synchronising call on s (or, s NULL, on the streams of c; only the
 * blocking ones when blocking_only): CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
 * and the captures invalidated, when a stream involved captures. */
CUresult capture_sync_check_locked(struct stream *s, struct ctx *c, bool blocking_only);
bool capture_ended_locked(const struct capture *cap);
void capture_invalidate_locked(struct capture *cap);
/* An event leaves its capture (destroyed, or recorded outside capture). */
void capture_event_forget_locked(struct event *e);
/* A stream is destroyed: it leaves its capture. */
void capture_stream_forget_locked(struct stream *s);

/* ---- modules and launches (module.c, launch.c; details in module.h) ---- */

/* Forget the modules of c's activation that is being torn down (its queued
 * work has completed; mem_free_owned frees their globals). */
void modules_teardown_locked(struct ctx *c);
/* Run a launch operation's kernel; cpudev.mu not held. */
CUresult launch_run(struct launch *l);

/* ---- CUDA arrays (array.c) ---- */
struct array {
    CUDA_ARRAY3D_DESCRIPTOR desc;
    unsigned elem;          /* bytes per element: channels x format */
    size_t pitch;           /* bytes per row: Width x elem */
    size_t rows, slices;    /* Height and Depth, at least 1 */
    CUdeviceptr base;       /* internal memory of ctx's activation ctx_id */
    struct ctx *ctx;
    uint64_t ctx_id;
};
/* A live array (its context's activation too), or NULL. */
struct array *array_find_locked(CUarray h);
/* The rows [y, y + height) x bytes [x, x + width) of h's slice z, which
 * must lie inside it: where they start and their pitch. Takes cpudev.mu. */
CUresult array_rows(CUarray h, size_t x, size_t y, size_t z, size_t width, size_t height, char **out,
                    size_t *pitch);

/* ---- texture objects (texture.c) ---- */
struct ptx_texture;
/* What texture or surface object `handle` reads (ptx_launch.texture); takes cpudev.mu. */
bool texture_resolve(void *ctx, uint64_t handle, struct ptx_texture *out);

/* ---- memory (memory.c) ---- */
struct mempool;

bool mem_init(uint64_t base, uint64_t size, char *err, size_t errlen);
/* Allocate bytes (> 0) for the current activation of c: a block rounded up
 * to 256 bytes; queries report bytes. OUT_OF_MEMORY past the budget. */
CUresult mem_alloc_locked(struct ctx *c, uint64_t bytes, CUdeviceptr *out);
/* The same for the device's own use (module globals): never freed by
 * cuMemFree, only by mem_free_block or with the activation. */
CUresult mem_alloc_internal_locked(struct ctx *c, uint64_t bytes, CUdeviceptr *out);
/* The same for __managed__ variables (c NULL: a library's, owned by no
 * context), which pointer queries report as managed memory. */
CUresult mem_alloc_managed_locked(struct ctx *c, uint64_t bytes, CUdeviceptr *out);
/* The same from a memory pool (mempool.c): the pool is charged while the
 * allocation lives, however it ends (cuMemFree, cuMemFreeAsync, the
 * activation's end). */
CUresult mem_alloc_pool_locked(struct ctx *c, uint64_t bytes, struct mempool *pool, CUdeviceptr *out);
/* Free the internal allocation starting at p; false if there is none. */
bool mem_free_block(CUdeviceptr p);
/* cuMemFreeAsync: mark the caller's allocation starting at p as being freed
 * (false if there is none, or it is being freed already), and free it when
 * its stream gets there, or unmark it when the free could not be queued. */
bool mem_free_async_mark(CUdeviceptr p);
void mem_free_async_unmark(CUdeviceptr p);
void mem_free_marked(CUdeviceptr p);

/* ---- memory pools (mempool.c): charged and uncharged under the heap's
 * write lock ---- */
bool mempool_charge_wrlocked(struct mempool *p, uint64_t bytes); /* false: past the pool's maximum size */
void mempool_uncharge_wrlocked(struct mempool *p, uint64_t bytes);
/* Free every allocation of one activation of a context. */
void mem_free_owned(uint64_t ctx_id);
/* True if [p, p + n) lies inside one live allocation (n > 0), or inside
 * mapped page-locked host memory: what the device can reach. */
bool mem_range_ok(CUdeviceptr p, size_t n);
/* Held while a host function runs when host functions are serial
 * (cfg.serial_host_funcs): NVIDIA's host-function thread, emulated. */
extern pthread_mutex_t host_fn_thread;
/* True if [p, p + n) is device memory or lies inside one page-locked
 * (registered) host range (hostreg.c): what a captured copy may name, as
 * with the driver. */
bool copy_range_ok(const void *p, size_t n);
/* The same, registered with DEVICEMAP: device memory too (mem_range_ok). */
bool hostreg_mapped(const void *p, size_t n);
/* True if p lies in the reserved device address range. */
bool mem_in_va(uint64_t p);
/* Return this process's usage to the shared budget; no allocation after. */
void mem_exit(void);
/* Count n bytes against the device's memory (false: over budget), or give
 * them back: cuMemCreate's physical allocations share cuMemAlloc's budget. */
bool mem_budget_take(uint64_t n);
void mem_budget_give(uint64_t n);
/* Write v into a pointer attribute's buffer of n bytes (4 or 8). */
void mem_put_attribute(void *data, size_t n, uint64_t v);

/* ---- virtual memory management (vmm.c) ----
 * A window of address space above the allocator's range, PROT_NONE until
 * physical allocations (memfd objects) are mapped into reservations. */
#define VMM_GRANULARITY (2ull << 20) /* minimum and recommended, as an H100 reports */
#if defined(__SANITIZE_THREAD__)
#define VMM_VA_BYTES (64ull << 30)   /* ThreadSanitizer's application range is small */
#else
#define VMM_VA_BYTES (1ull << 40)    /* room for 32 of ggml's 32 GiB reservations */
#endif
bool vmm_init(uint64_t base, uint64_t size, char *err, size_t errlen);
void vmm_window(uint64_t *base, uint64_t *size);
bool vmm_in_window(uint64_t p);
/* True if [p, p + n) is mapped and read-write accessible, possibly across
 * several contiguous mappings (n == 0: p itself must be). */
bool vmm_range_ok(uint64_t p, uint64_t n);
struct vmm_info {
    uint64_t base, size;   /* the mapping containing the address */
    uint64_t id;           /* the physical allocation's unique id */
    unsigned long long access; /* CU_MEM_ACCESS_FLAGS_PROT_* for the device */
    unsigned long long handle_types;
};
bool vmm_lookup(uint64_t p, struct vmm_info *out);
CUresult vmm_pointer_attribute(void *data, size_t n, CUpointer_attribute attribute, uint64_t ptr);

#endif
