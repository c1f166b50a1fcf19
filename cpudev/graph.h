/*
 * graph.h — what the graph files of the CPU device share: graphs and their
 * nodes (graph.c), stream capture (capture.c) and executable graphs
 * (exec.c). Nothing here is visible to the server.
 *
 * A graph (CUgraph) holds its nodes in creation order; a node (CUgraphNode)
 * holds its parameters and its incoming edges (deps). Node parameters are
 * plain data: a kernel node keeps the CUfunction handle it was given and its
 * packed parameters, and is resolved again in the launching stream's context
 * at every launch, so an unloaded module fails that launch instead of being
 * used after it is freed. Device ranges are validated again at launch for
 * the same reason.
 *
 * An executable graph (CUgraphExec) is a copy of a graph's nodes, its edges
 * as indices, and a topological order; it does not refer to the graph it was
 * made from. A child graph node becomes an executable graph of its own,
 * inside. cuGraphLaunch turns it into one OP_GRAPH operation whose steps run
 * in that order on the stream's worker, a child's steps where its node is.
 *
 * Graphs, nodes and execs are registry handles (H_GRAPH, H_GNODE, H_GEXEC);
 * all fields are guarded by cpudev.mu.
 */
#ifndef RGPU_CPUDEV_GRAPH_H
#define RGPU_CPUDEV_GRAPH_H

#include "internal.h"

/* A node's parameters, shared by graph and exec nodes. */
struct gparams {
    CUgraphNodeType type;
    union {
        struct {
            CUfunction f;
            unsigned grid[3], block[3], shmem;
            size_t len;
            unsigned char *bytes; /* malloc'd */
            void **args;          /* pointers into bytes for GetParams, made on demand */
            struct kattrs *attrs; /* malloc'd once one is set (kernel_attrs.c), else NULL */
        } k;
        struct {
            char *dst;
            size_t n;     /* elements per row */
            unsigned es;  /* 1, 2 or 4 */
            uint32_t value;
            size_t pitch, height;
            CUDA_MEMSET_NODE_PARAMS desc; /* as given, for GetParams */
        } set;
        struct {
            char *dst;
            const char *src;
            size_t dpitch, spitch, width, height;
            CUDA_MEMCPY3D desc;           /* as given, for GetParams */
        } copy;
        struct {
            CUhostFn fn;
            void *arg;
        } host;
        struct event *ev; /* referenced: EVENT_RECORD, WAIT_EVENT */
        struct graph *child; /* GRAPH: the node's own copy (embedded) */
        struct gmem *malloc; /* MEM_ALLOC: referenced (graph_mem.c) */
        CUdeviceptr mfree;   /* MEM_FREE: a graph allocation's address */
        struct {
            struct condh *h;                 /* referenced */
            CUgraphConditionalNodeType type;
            unsigned size;                   /* bodies */
            struct graph **bodies;           /* malloc'd, size; each embedded, the node's */
        } cond;              /* CONDITIONAL (graph_cond.c) */
        struct {
            struct memop *ops;               /* malloc'd, n */
            CUstreamBatchMemOpParams *given; /* malloc'd, n: as given, for GetParams */
            unsigned n, flags;
            CUcontext ctx;
        } memops;            /* BATCH_MEM_OP (memops.c) */
    } u;
};

struct gnode {
    struct graph *g;
    uint64_t id;          /* unique for the worker's life: names it to executable graphs and clones */
    uint64_t origin;      /* the id of the node it was cloned from (0: none) */
    int idx;              /* position in g->nodes */
    struct gparams p;
    int ndeps, capdeps;
    struct gnode **deps;  /* incoming edges, in the order added */
};

/* A conditional node's value (graph_cond.c): 32 bits of device memory, whose
 * address is the CUgraphConditionalHandle, held by the graph it was made
 * for and by every node and executable graph that names it. */
struct condh {
    int refs;
    CUdeviceptr slot;
    unsigned dflt;
    bool assign;          /* CU_GRAPH_COND_ASSIGN_DEFAULT: dflt at the start of each launch */
    struct condh *next;
};

struct graph {
    bool embedded;        /* a child graph node's: the node owns it */
    struct condh **conds; /* the handles made for it (referenced) */
    int nconds;
    int n, cap;
    struct gnode **nodes; /* creation order */
    struct capture *capturing; /* the capture building it, while one does */
};

struct capture {
    int refs;             /* the streams in it, the events recorded in it */
    uint64_t id;
    CUstreamCaptureMode mode;
    bool ended;           /* cuStreamEndCapture was called */
    bool invalid;         /* CU_STREAM_CAPTURE_STATUS_INVALIDATED */
    bool external;        /* g is the caller's (cuStreamBeginCaptureToGraph), never the capture's to free */
    struct graph *g;
    struct stream *origin;
};

/* ---- graph.c ---- */
struct graph *graph_new_locked(void);     /* registered; NULL: out of memory */
void graph_free_locked(struct graph *g);  /* and its nodes, unregistered */
/* A copy of g, its nodes (child graphs copied too) and edges, registered;
 * every node's origin is the node it copies. */
CUresult graph_clone_locked(struct graph *g, struct graph **out);
/* A node with params p (ownership of p's buffers and references passes on
 * success) depending on deps[0..ndeps) of g. */
CUresult graph_add_locked(struct graph *g, const struct gparams *p, struct gnode *const *deps, size_t ndeps,
                          struct gnode **out);
void gparams_release_locked(struct gparams *p);
/* Fill a memset's or copy's descriptor from its resolved form (captured
 * nodes, made without one). */
void gparams_describe(struct gparams *p);
CUresult gparams_copy_locked(struct gparams *dst, const struct gparams *src);
CUresult graph_lookup_locked(CUgraph h, struct graph **out);   /* INVALID_VALUE: not a graph */
CUresult gnode_lookup_locked(CUgraphNode h, struct gnode **out); /* INVALID_VALUE: not a node */
/* The node h, of type t (INVALID_VALUE otherwise), of a graph no capture is
 * building if editing (graph_edit.c). */
CUresult gnode_typed_locked(CUgraphNode h, CUgraphNodeType t, bool editing, struct gnode **out);
/* An edge d -> n (once; false: out of memory). */
bool gnode_add_dep(struct gnode *n, struct gnode *d);
/* deps[0..n) must be nodes of g (n > 0 needs deps). */
CUresult graph_check_nodes_locked(struct graph *g, const CUgraphNode *deps, size_t n);
/* A node with params p (released on failure) after deps[0..ndeps) of
 * hGraph, unless verdict is an error already. */
CUresult graph_add_node_locked(CUgraphNode *out, CUgraph hGraph, const CUgraphNode *deps, size_t ndeps,
                               struct gparams *p, CUresult verdict);
/* New parameters p (released on failure) for graph node hNode, of p's type
 * (graph_edit.c), or for the node an executable graph made of it (exec.c). */
CUresult graph_node_set_locked(CUgraphNode hNode, struct gparams *p, CUresult verdict);
CUresult exec_node_set_locked(CUgraphExec hExec, CUgraphNode hNode, struct gparams *p, CUresult verdict);
/* Memset / copy parameters from a descriptor, device memory validated. */
CUresult gparams_memset(struct gparams *p, const CUDA_MEMSET_NODE_PARAMS *m);
CUresult gparams_memcpy(struct gparams *p, const CUDA_MEMCPY3D *c);
CUresult gparams_host(struct gparams *p, const CUDA_HOST_NODE_PARAMS *h);

/* ---- kernel_attrs.c ---- */
struct kattrs;
bool kattrs_copy(struct kattrs **dst, const struct kattrs *src); /* false: out of memory */
bool kattrs_cooperative(const struct kattrs *a);                /* the node launches cooperatively */
/* hGraph, editable (no capture builds it), with from[0..n) and to[0..n) its nodes. */
CUresult graph_edges_check_locked(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to, size_t n,
                                  struct graph **out);

/* ---- graph_cond.c: conditional nodes ---- */
void condh_ref_locked(struct condh *h);
void condh_unref_locked(struct condh *h);
/* A conditional node's parameters copied (bodies cloned) / released. */
CUresult gparams_cond_copy_locked(struct gparams *dst, const struct gparams *src);
void gparams_cond_release_locked(struct gparams *p);

/* ---- memops.c: batch memory-operation nodes ---- */
/* Their parameters: from a descriptor (checked as cuStreamBatchMemOp checks
 * its operations), or from a captured OP_MEMOPS. */
CUresult gparams_memops(struct gparams *p, const CUDA_BATCH_MEM_OP_NODE_PARAMS *np);
CUresult gparams_memops_of(struct gparams *p, const struct memop *ops, int n);

/* ---- graph_mem.c: graph allocations ---- */
struct gmem;
void gmem_ref_locked(struct gmem *m);
void gmem_unref_locked(struct gmem *m);  /* the memory goes with the last reference */
bool gmem_shared_locked(const struct gmem *m); /* more than its node refers to it */
bool gmem_live_locked(const struct gmem *m);   /* allocated by a launch, not freed since */
void gmem_launch_locked(struct gmem *m, bool alloc); /* a launch allocates it (or, AUTO_FREE, frees it first) */
/* Free the graph allocation at p (a free node launched, cuMemFreeAsync,
 * cuMemFree): NOT_FOUND if p is none, INVALID_VALUE if it is not live. */
CUresult gmem_free_locked(CUdeviceptr p);
/* A free node's parameters: NOT_FOUND unless dptr is a graph allocation. */
CUresult gparams_mem_free(struct gparams *p, CUdeviceptr dptr);
/* cuMemAllocAsync / cuMemFreeAsync on a capturing stream: an allocation or
 * free node of its capture. */
CUresult capture_mem_alloc_locked(struct stream *s, size_t bytesize, CUdeviceptr *dptr);
CUresult capture_mem_free_locked(struct stream *s, CUdeviceptr dptr);
/* Does g hold memory nodes (which CUDA lets no child graph or clone hold)? */
bool graph_has_mem_nodes(const struct graph *g);

/* ---- capture.c ---- */
void capture_unref_locked(struct capture *cap);
/* A node of parameters p (released on failure) in s's capture, after the
 * capture's current dependencies. */
CUresult capture_node_locked(struct stream *s, struct gparams *p);

#endif
