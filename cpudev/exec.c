/*
 * exec.c — executable graphs: instantiation (a copy of the graph's nodes in
 * a topological order, a child graph instantiated inside its node), launch
 * (one OP_GRAPH operation on the stream; on a capturing stream, a child
 * graph node of the capture) and update in place (cuGraphExecUpdate,
 * cuGraphExec*NodeSetParams, nodes disabled and enabled again).
 *
 * A launch builds its steps when it is called: kernels are resolved in the
 * stream's context and validated then, device ranges are checked again; an
 * error fails the launch and queues nothing. The steps run one after another
 * on the stream's worker in the topological order, which honours every edge.
 * Event record nodes take effect when the whole graph has run (later than
 * the driver may, never earlier); event wait nodes make the whole graph wait.
 */
#include "graph.h"
#include "module.h"

#include <stdlib.h>
#include <string.h>

struct xnode {
    struct gparams p;     /* a child graph node's: its type only */
    struct gexec *sub;    /* a child graph node's graph, instantiated */
    struct gexec **csub;  /* a conditional node's bodies, instantiated (p.u.cond.size; its p has no bodies) */
    uint64_t origin;      /* the id of the graph node it was made from */
    bool disabled;        /* runs as an empty node */
    int ndeps;
    int *deps;            /* indices of the nodes it depends on, sorted */
};

struct gexec {
    int n;
    struct xnode *nodes;  /* the graph's creation order */
    int *order;           /* a topological order of them */
    unsigned long long flags; /* as instantiated */
    struct condh **assign; /* conditions set to their default at each launch (referenced) */
    int nassign;
};

static void exec_free_locked(struct gexec *x)
{
    for (int i = 0; i < x->n; i++) {
        struct xnode *xn = &x->nodes[i];
        for (unsigned k = 0; xn->csub && k < xn->p.u.cond.size; k++)
            if (xn->csub[k])
                exec_free_locked(xn->csub[k]);
        free(xn->csub);
        gparams_release_locked(&xn->p);
        if (xn->sub)
            exec_free_locked(xn->sub);
        free(xn->deps);
    }
    for (int i = 0; i < x->nassign; i++)
        condh_unref_locked(x->assign[i]);
    free(x->assign);
    free(x->nodes);
    free(x->order);
    free(x);
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

/* The sorted dependency indices of n. */
static int *dep_indices(const struct gnode *n)
{
    int *d = malloc(((size_t)n->ndeps + 1) * sizeof *d);
    if (!d)
        return NULL;
    for (int i = 0; i < n->ndeps; i++)
        d[i] = n->deps[i]->idx;
    qsort(d, (size_t)n->ndeps, sizeof *d, cmp_int);
    return d;
}

/* Kahn's algorithm, lowest index first: creation order where edges allow. */
static CUresult topo_order(struct gexec *x)
{
    int *indeg = calloc((size_t)x->n + 1, sizeof *indeg);
    x->order = malloc(((size_t)x->n + 1) * sizeof *x->order);
    if (!indeg || !x->order) {
        free(indeg);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (int i = 0; i < x->n; i++)
        indeg[i] = x->nodes[i].ndeps;
    int k = 0;
    bool progress = true;
    while (k < x->n && progress) {
        progress = false;
        for (int i = 0; i < x->n; i++) {
            if (indeg[i] != 0)
                continue;
            indeg[i] = -1;
            x->order[k++] = i;
            progress = true;
            for (int j = 0; j < x->n; j++)
                for (int d = 0; d < x->nodes[j].ndeps; d++)
                    if (x->nodes[j].deps[d] == i)
                        indeg[j]--;
        }
    }
    free(indeg);
    return k == x->n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; /* a cycle */
}

static CUresult exec_build_locked(const struct graph *g, struct gexec **out);

/* What a conditional node's body may hold (CUDA's list); child graphs and
 * nested conditional nodes' bodies are checked as they are built. */
static bool body_node_ok(CUgraphNodeType t)
{
    return t == CU_GRAPH_NODE_TYPE_KERNEL || t == CU_GRAPH_NODE_TYPE_MEMSET || t == CU_GRAPH_NODE_TYPE_MEMCPY ||
           t == CU_GRAPH_NODE_TYPE_EMPTY || t == CU_GRAPH_NODE_TYPE_GRAPH || t == CU_GRAPH_NODE_TYPE_CONDITIONAL;
}

static bool graph_body_ok(const struct graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const struct gnode *n = g->nodes[i];
        if (!body_node_ok(n->p.type) || (n->p.type == CU_GRAPH_NODE_TYPE_GRAPH && !graph_body_ok(n->p.u.child)))
            return false;
    }
    return true;
}

/* A conditional node of an executable graph: its handle (referenced), and
 * its bodies built. */
static CUresult exec_cond_locked(struct xnode *xn, const struct gnode *n)
{
    unsigned size = n->p.u.cond.size;
    xn->p = (struct gparams){.type = CU_GRAPH_NODE_TYPE_CONDITIONAL};
    xn->p.u.cond.h = n->p.u.cond.h;
    condh_ref_locked(xn->p.u.cond.h);
    xn->p.u.cond.type = n->p.u.cond.type;
    xn->p.u.cond.size = size;
    if (!(xn->csub = calloc(size + 1, sizeof *xn->csub)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    for (unsigned k = 0; k < size; k++) {
        const struct graph *body = n->p.u.cond.bodies[k];
        if (!graph_body_ok(body))
            return CUDA_ERROR_NOT_SUPPORTED; /* a node type a body may not hold */
        CUresult r = exec_build_locked(body, &xn->csub[k]);
        if (r != CUDA_SUCCESS)
            return r;
    }
    return CUDA_SUCCESS;
}

/* An executable graph of g (unregistered); child graphs and conditional
 * nodes' bodies instantiated inside. */
static CUresult exec_build_locked(const struct graph *g, struct gexec **out)
{
    struct gexec *x = calloc(1, sizeof *x);
    CUresult r = x && (x->nodes = calloc((size_t)g->n + 1, sizeof *x->nodes)) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
    for (int i = 0; r == CUDA_SUCCESS && i < g->n; i++) {
        const struct gnode *n = g->nodes[i];
        struct xnode *xn = &x->nodes[i];
        if (n->p.type == CU_GRAPH_NODE_TYPE_GRAPH) {
            xn->p.type = CU_GRAPH_NODE_TYPE_GRAPH;
            r = exec_build_locked(n->p.u.child, &xn->sub);
        } else if (n->p.type == CU_GRAPH_NODE_TYPE_CONDITIONAL) {
            r = exec_cond_locked(xn, n);
            x->n = i + 1; /* owned now, what was built of it too */
        } else {
            r = gparams_copy_locked(&xn->p, &n->p);
        }
        if (r != CUDA_SUCCESS)
            break;
        x->n = i + 1; /* owned from here */
        xn->origin = n->id;
        xn->ndeps = n->ndeps;
        if (!(xn->deps = dep_indices(n)))
            r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (r == CUDA_SUCCESS)
        r = topo_order(x);
    if (r == CUDA_SUCCESS)
        *out = x;
    else if (x)
        exec_free_locked(x);
    return r;
}

/* The conditions x (and every graph inside it) names that go back to their
 * default at each launch of top, once each, referenced by top. */
static bool collect_assign_locked(struct gexec *top, const struct gexec *x)
{
    for (int i = 0; i < x->n; i++) {
        const struct xnode *xn = &x->nodes[i];
        if (xn->sub && !collect_assign_locked(top, xn->sub))
            return false;
        if (!xn->csub)
            continue;
        struct condh *h = xn->p.u.cond.h;
        bool have = !h->assign;
        for (int k = 0; k < top->nassign && !have; k++)
            have = top->assign[k] == h;
        if (!have) {
            struct condh **a = realloc(top->assign, ((size_t)top->nassign + 1) * sizeof *a);
            if (!a)
                return false;
            top->assign = a;
            top->assign[top->nassign++] = h;
            condh_ref_locked(h);
        }
        for (unsigned k = 0; k < xn->p.u.cond.size; k++)
            if (!collect_assign_locked(top, xn->csub[k]))
                return false;
    }
    return true;
}

CUresult cpudev_cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags)
{
    CPUDEV_ENTER();
    const unsigned long long known = CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD |
                                     CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY;
    if (!phGraphExec)
        return CUDA_ERROR_INVALID_VALUE;
    if (flags & CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH)
        return CUDA_ERROR_NOT_SUPPORTED; /* no device-side launches */
    if (flags & ~known)
        return CUDA_ERROR_INVALID_VALUE;
    struct gexec *x = NULL;
    cpudev_lock();
    struct graph *g = (struct graph *)hGraph;
    struct ctx *c;
    CUresult r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS && (!reg_has_locked(hGraph, H_GRAPH) || g->capturing))
        r = CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; r == CUDA_SUCCESS && i < g->n; i++)
        if (g->nodes[i]->p.type == CU_GRAPH_NODE_TYPE_MEM_ALLOC && gmem_shared_locked(g->nodes[i]->p.u.malloc))
            r = CUDA_ERROR_NOT_SUPPORTED; /* one executable graph at a time may hold its allocations */
    if (r == CUDA_SUCCESS)
        r = exec_build_locked(g, &x);
    if (r == CUDA_SUCCESS && !collect_assign_locked(x, x)) {
        exec_free_locked(x);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (r == CUDA_SUCCESS && !reg_add_locked(x, H_GEXEC)) {
        exec_free_locked(x);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (r == CUDA_SUCCESS) {
        x->flags = flags;
        *phGraphExec = (CUgraphExec)x;
    }
    cpudev_unlock();
    return r;
}

static CUresult lookup_exec_locked(CUgraphExec h, struct gexec **out)
{
    if (!reg_has_locked(h, H_GEXEC))
        return CUDA_ERROR_INVALID_VALUE;
    *out = (struct gexec *)h;
    return CUDA_SUCCESS;
}

#define ANY_TYPE (-1)

/* hExec's node made from graph node hNode, which must still be in its graph
 * and of type t (the exec node too; ANY_TYPE: both of one type): *idx its
 * index in x->nodes. */
static CUresult exec_node_locked(CUgraphExec hExec, CUgraphNode hNode, int t, struct gexec **x, int *idx)
{
    struct gnode *n;
    CUresult r = lookup_exec_locked(hExec, x);
    if (r == CUDA_SUCCESS)
        r = gnode_lookup_locked(hNode, &n);
    if (r != CUDA_SUCCESS)
        return r;
    /* creation order is kept, so the node is at its index unless nodes were
     * removed from the graph since */
    int i = n->idx < (*x)->n && (*x)->nodes[n->idx].origin == n->id ? n->idx : -1;
    for (int k = 0; i < 0 && k < (*x)->n; k++)
        if ((*x)->nodes[k].origin == n->id)
            i = k;
    if (i < 0 || (*x)->nodes[i].p.type != n->p.type || (t != ANY_TYPE && (int)n->p.type != t))
        return CUDA_ERROR_INVALID_VALUE;
    *idx = i;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuGraphExecDestroy(CUgraphExec hGraphExec)
{
    CPUDEV_ENTER();
    struct gexec *x;
    cpudev_lock();
    CUresult r = lookup_exec_locked(hGraphExec, &x);
    if (r == CUDA_SUCCESS) {
        reg_del_locked(x);
        exec_free_locked(x); /* queued launches own their steps */
    }
    cpudev_unlock();
    return r;
}

/* ---- launching ---- */

static bool range_ok(const char *p, size_t pitch, size_t width, size_t height)
{
    return mem_range_ok((CUdeviceptr)(uintptr_t)p, pitch * (height - 1) + width);
}


/* The step that runs node p in context c (NULL: nothing to run). */
static CUresult step_of(const struct gparams *p, struct ctx *c, struct op **out)
{
    struct op *op = NULL;
    *out = NULL;
    switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
        struct launch *l;
        CUresult r = launch_new_locked(p->u.k.f, c, p->u.k.grid, p->u.k.block, p->u.k.shmem, p->u.k.bytes, p->u.k.len, &l);
        if (r == CUDA_SUCCESS && kattrs_cooperative(p->u.k.attrs) && (r = launch_cooperative_locked(l, c)) != CUDA_SUCCESS)
            free(l);
        if (r != CUDA_SUCCESS)
            return r;
        if (!(op = op_new(OP_LAUNCH))) {
            free(l);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        op->u.launch = l;
        break;
    }
    case CU_GRAPH_NODE_TYPE_MEMSET:
        if (!range_ok(p->u.set.dst, p->u.set.pitch, p->u.set.n * p->u.set.es, p->u.set.height))
            return CUDA_ERROR_INVALID_VALUE; /* freed since */
        if (!(op = op_new(OP_SET2D)))
            return CUDA_ERROR_OUT_OF_MEMORY;
        op->u.set.dst = p->u.set.dst;
        op->u.set.n = p->u.set.n;
        op->u.set.es = p->u.set.es;
        op->u.set.value = p->u.set.value;
        op->u.set.pitch = p->u.set.pitch;
        op->u.set.height = p->u.set.height;
        break;
    case CU_GRAPH_NODE_TYPE_MEMCPY:
        /* a side may also be page-locked host memory (a captured copy) */
        if (!copy_range_ok(p->u.copy.dst, p->u.copy.dpitch * (p->u.copy.height - 1) + p->u.copy.width) ||
            !copy_range_ok(p->u.copy.src, p->u.copy.spitch * (p->u.copy.height - 1) + p->u.copy.width))
            return CUDA_ERROR_INVALID_VALUE;
        if (!(op = op_new(OP_COPY2D)))
            return CUDA_ERROR_OUT_OF_MEMORY;
        op->u.copy2d.dst = p->u.copy.dst;
        op->u.copy2d.src = p->u.copy.src;
        op->u.copy2d.dpitch = p->u.copy.dpitch;
        op->u.copy2d.spitch = p->u.copy.spitch;
        op->u.copy2d.width = p->u.copy.width;
        op->u.copy2d.height = p->u.copy.height;
        break;
    case CU_GRAPH_NODE_TYPE_HOST:
        if (!(op = op_new(OP_HOSTFN)))
            return CUDA_ERROR_OUT_OF_MEMORY;
        op->u.host.fn = p->u.host.fn;
        op->u.host.arg = p->u.host.arg;
        break;
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP:
        if (!(op = op_new(OP_MEMOPS)) || !(op->u.memops.ops = malloc(p->u.memops.n * sizeof *op->u.memops.ops))) {
            free(op);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        memcpy(op->u.memops.ops, p->u.memops.ops, p->u.memops.n * sizeof *op->u.memops.ops);
        op->u.memops.n = (int)p->u.memops.n;
        break;
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
        if (p->u.ev->ctx != c)
            return CUDA_ERROR_INVALID_VALUE;
        if (!(op = op_new(OP_RECORD)))
            return CUDA_ERROR_OUT_OF_MEMORY;
        op->u.rec.ev = p->u.ev;
        p->u.ev->refs++;
        break;
    default: /* empty and event wait nodes only order */
        break;
    }
    *out = op;
    return CUDA_SUCCESS;
}

/* How many steps x can make: one per node, a child graph's own. */
static size_t count_steps(const struct gexec *x)
{
    size_t n = 0;
    for (int i = 0; i < x->n; i++)
        n += x->nodes[i].sub ? count_steps(x->nodes[i].sub) : 1;
    return n;
}

/* x's steps into op, in x's order, a child graph's steps in its node's
 * place; the events its wait nodes wait for into waits. */
static CUresult add_steps_locked(const struct gexec *x, struct ctx *c, struct op *op, struct dep *waits, int *nwaits);

/* A conditional node's step: each body a graph of its own steps (bodies hold
 * no event waits: graph_body_ok). */
static CUresult cond_step_locked(const struct xnode *xn, struct ctx *c, struct op **out)
{
    unsigned size = xn->p.u.cond.size;
    struct op *op = op_new(OP_COND);
    CUresult r = op && (op->u.cond.bodies = calloc(size + 1, sizeof *op->u.cond.bodies)) ? CUDA_SUCCESS
                                                                                        : CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        op->u.cond.value = (uint32_t *)(uintptr_t)xn->p.u.cond.h->slot;
        op->u.cond.type = xn->p.u.cond.type;
        op->u.cond.n = (int)size;
    }
    for (unsigned k = 0; r == CUDA_SUCCESS && k < size; k++) {
        struct op *b = op_new(OP_GRAPH);
        size_t nsteps = count_steps(xn->csub[k]);
        int nwaits = 0;
        if (!b || !(b->u.graph.steps = calloc(nsteps + 1, sizeof *b->u.graph.steps))) {
            free(b);
            r = CUDA_ERROR_OUT_OF_MEMORY;
            break;
        }
        op->u.cond.bodies[k] = b;
        r = add_steps_locked(xn->csub[k], c, b, NULL, &nwaits);
    }
    if (r != CUDA_SUCCESS && op)
        op_discard_locked(op);
    else
        *out = op;
    return r;
}

static CUresult add_steps_locked(const struct gexec *x, struct ctx *c, struct op *op, struct dep *waits, int *nwaits)
{
    CUresult r = CUDA_SUCCESS;
    for (int i = 0; r == CUDA_SUCCESS && i < x->n; i++) {
        const struct xnode *xn = &x->nodes[x->order[i]];
        struct op *st;
        if (xn->disabled)
            continue;
        if (xn->sub) {
            r = add_steps_locked(xn->sub, c, op, waits, nwaits);
            continue;
        }
        if (xn->csub) {
            if ((r = cond_step_locked(xn, c, &st)) == CUDA_SUCCESS)
                op->u.graph.steps[op->u.graph.n++] = st;
            continue;
        }
        if (xn->p.type == CU_GRAPH_NODE_TYPE_WAIT_EVENT && xn->p.u.ev->s)
            waits[(*nwaits)++] = (struct dep){xn->p.u.ev->s, xn->p.u.ev->seq};
        r = step_of(&xn->p, c, &st);
        if (r == CUDA_SUCCESS && st)
            op->u.graph.steps[op->u.graph.n++] = st;
    }
    return r;
}

/* A graph of x's nodes, as the graph it was made from was at instantiation
 * (or its latest update): what a capture records for a launch of it. */
static CUresult graph_of_exec_locked(const struct gexec *x, struct graph **out)
{
    struct graph *g = graph_new_locked();
    CUresult r = g ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
    for (int i = 0; r == CUDA_SUCCESS && i < x->n; i++) {
        const struct xnode *xn = &x->nodes[i];
        struct gparams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
        struct gnode *n;
        if (xn->sub && (r = graph_of_exec_locked(xn->sub, &p.u.child)) == CUDA_SUCCESS) {
            p.type = CU_GRAPH_NODE_TYPE_GRAPH;
            p.u.child->embedded = true;
        } else if (xn->csub && !xn->disabled) {
            unsigned size = xn->p.u.cond.size;
            p = (struct gparams){.type = CU_GRAPH_NODE_TYPE_CONDITIONAL};
            p.u.cond.h = xn->p.u.cond.h;
            condh_ref_locked(p.u.cond.h);
            p.u.cond.type = xn->p.u.cond.type;
            p.u.cond.size = size;
            if (!(p.u.cond.bodies = calloc(size + 1, sizeof *p.u.cond.bodies)))
                r = CUDA_ERROR_OUT_OF_MEMORY;
            for (unsigned k = 0; r == CUDA_SUCCESS && k < size; k++)
                if ((r = graph_of_exec_locked(xn->csub[k], &p.u.cond.bodies[k])) == CUDA_SUCCESS)
                    p.u.cond.bodies[k]->embedded = true;
        } else if (!xn->sub && !xn->disabled) {
            r = gparams_copy_locked(&p, &xn->p);
        }
        if (r == CUDA_SUCCESS)
            r = graph_add_locked(g, &p, NULL, 0, &n);
        if (r != CUDA_SUCCESS)
            gparams_release_locked(&p);
    }
    for (int i = 0; r == CUDA_SUCCESS && i < x->n; i++)
        for (int d = 0; r == CUDA_SUCCESS && d < x->nodes[i].ndeps; d++)
            if (!gnode_add_dep(g->nodes[i], g->nodes[x->nodes[i].deps[d]]))
                r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS)
        *out = g;
    else if (g)
        graph_free_locked(g);
    return r;
}

/* May x be launched as its graph allocations stand: INVALID_VALUE if one
 * from an earlier launch is still live (unless x frees them on launch). */
static CUresult launch_mem_check_locked(const struct gexec *x)
{
    bool auto_free = x->flags & CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH;
    for (int i = 0; i < x->n; i++)
        if (x->nodes[i].p.type == CU_GRAPH_NODE_TYPE_MEM_ALLOC && !x->nodes[i].disabled && !auto_free &&
            gmem_live_locked(x->nodes[i].p.u.malloc))
            return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

/* What the launch of x does to its graph allocations, at the call, in its
 * order: each allocated, those it frees freed. */
static void launch_mem_apply_locked(const struct gexec *x)
{
    for (int i = 0; i < x->n; i++) {
        const struct xnode *xn = &x->nodes[x->order[i]];
        if (xn->disabled)
            continue;
        if (xn->p.type == CU_GRAPH_NODE_TYPE_MEM_ALLOC)
            gmem_launch_locked(xn->p.u.malloc, true);
        else if (xn->p.type == CU_GRAPH_NODE_TYPE_MEM_FREE)
            (void)gmem_free_locked(xn->p.u.mfree); /* freeing what is not live is the program's error */
    }
}

/* A launch on a capturing stream: a child graph node of the capture's graph. */
static CUresult capture_launch_locked(const struct gexec *x, struct stream *s)
{
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_GRAPH};
    CUresult r = graph_of_exec_locked(x, &p.u.child);
    if (r != CUDA_SUCCESS)
        return r;
    p.u.child->embedded = true;
    return capture_node_locked(s, &p);
}

CUresult cpudev_cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
    CPUDEV_ENTER();
    struct gexec *x;
    struct stream *s;
    struct op *op = NULL;
    struct dep *waits = NULL;
    int nwaits = 0;
    cpudev_lock();
    CUresult r = lookup_exec_locked(hGraphExec, &x);
    if (r == CUDA_SUCCESS)
        r = stream_resolve_locked(hStream, &s);
    if (r == CUDA_SUCCESS && s->ctx->sticky)
        r = s->ctx->sticky;
    if (r == CUDA_SUCCESS && s->cap) {
        r = capture_launch_locked(x, s);
        cpudev_unlock();
        return r;
    }
    size_t nsteps = r == CUDA_SUCCESS ? count_steps(x) + (size_t)x->nassign : 0;
    if (r == CUDA_SUCCESS && !(op = op_new(OP_GRAPH)))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS && (!(op->u.graph.steps = calloc(nsteps + 1, sizeof *op->u.graph.steps)) ||
                              !(waits = calloc(nsteps + 1, sizeof *waits))))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    /* conditions back to their defaults first (CU_GRAPH_COND_ASSIGN_DEFAULT) */
    for (int k = 0; r == CUDA_SUCCESS && k < x->nassign; k++) {
        struct op *st = op_new(OP_SET2D);
        if (!st) {
            r = CUDA_ERROR_OUT_OF_MEMORY;
            break;
        }
        st->u.set.dst = (char *)(uintptr_t)x->assign[k]->slot;
        st->u.set.n = 1;
        st->u.set.es = 4;
        st->u.set.value = x->assign[k]->dflt;
        st->u.set.pitch = 4;
        st->u.set.height = 1;
        op->u.graph.steps[op->u.graph.n++] = st;
    }
    if (r == CUDA_SUCCESS)
        r = add_steps_locked(x, s->ctx, op, waits, &nwaits);
    if (r == CUDA_SUCCESS)
        r = launch_mem_check_locked(x);
    if (r == CUDA_SUCCESS)
        r = stream_submit_locked(s, op, waits, nwaits);
    if (r == CUDA_SUCCESS)
        launch_mem_apply_locked(x);
    if (r == CUDA_SUCCESS) {
        /* each recorded event now stands for this launch */
        for (int i = 0; i < op->u.graph.n; i++) {
            struct op *st = op->u.graph.steps[i];
            if (st->kind != OP_RECORD)
                continue;
            struct event *e = st->u.rec.ev;
            st->u.rec.gen = ++e->gen;
            s->refs++;
            if (e->s)
                stream_unref_locked(e->s);
            e->s = s;
            e->seq = op->seq;
            e->t_ns = 0;
            capture_event_forget_locked(e);
        }
    } else if (op) {
        op_discard_locked(op);
    }
    cpudev_unlock();
    free(waits);
    return r;
}

CUresult cpudev_cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream)
{
    CPUDEV_ENTER();
    struct gexec *x;
    struct stream *s;
    cpudev_lock();
    /* nothing to prepare on the CPU device: only the arguments are checked */
    CUresult r = lookup_exec_locked(hGraphExec, &x);
    if (r == CUDA_SUCCESS)
        r = stream_resolve_locked(hStream, &s);
    cpudev_unlock();
    return r;
}

/* ---- updating ---- */

/* Can exec node a take graph node b's parameters? */
static CUgraphExecUpdateResult compatible(const struct gparams *a, const struct gparams *b)
{
    if (a->type != b->type)
        return CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED;
    switch (a->type) {
    case CU_GRAPH_NODE_TYPE_MEMSET:
        /* the driver allows a new value and address, not a new shape */
        if (a->u.set.es != b->u.set.es || a->u.set.n != b->u.set.n || a->u.set.height != b->u.set.height)
            return CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED;
        break;
    case CU_GRAPH_NODE_TYPE_MEMCPY:
        if (a->u.copy.width != b->u.copy.width || a->u.copy.height != b->u.copy.height)
            return CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED;
        break;
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
    case CU_GRAPH_NODE_TYPE_MEM_FREE:
    case CU_GRAPH_NODE_TYPE_CONDITIONAL: return CU_GRAPH_EXEC_UPDATE_ERROR_NOT_SUPPORTED;
    default:
        break;
    }
    return CU_GRAPH_EXEC_UPDATE_SUCCESS;
}

/* Whether x can take g's nodes' parameters: same topology, compatible nodes,
 * child graphs alike (a child's failure is reported on its node). */
static CUresult update_check_locked(const struct gexec *x, const struct graph *g, CUgraphExecUpdateResultInfo *info)
{
    *info = (CUgraphExecUpdateResultInfo){CU_GRAPH_EXEC_UPDATE_SUCCESS, NULL, NULL};
    if (g->n != x->n)
        info->result = CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
    for (int i = 0; info->result == CU_GRAPH_EXEC_UPDATE_SUCCESS && i < g->n; i++) {
        const struct gnode *n = g->nodes[i];
        const struct xnode *xn = &x->nodes[i];
        int *d = dep_indices(n);
        if (!d)
            return CUDA_ERROR_OUT_OF_MEMORY;
        if (n->ndeps != xn->ndeps || (n->ndeps && memcmp(d, xn->deps, (size_t)n->ndeps * sizeof *d)))
            info->result = CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
        else
            info->result = compatible(&xn->p, &n->p);
        free(d);
        if (info->result == CU_GRAPH_EXEC_UPDATE_SUCCESS && xn->sub) {
            CUgraphExecUpdateResultInfo inner;
            CUresult r = update_check_locked(xn->sub, n->p.u.child, &inner);
            if (r != CUDA_SUCCESS)
                return r;
            info->result = inner.result;
        }
        if (info->result != CU_GRAPH_EXEC_UPDATE_SUCCESS)
            info->errorNode = (CUgraphNode)n;
    }
    return CUDA_SUCCESS;
}

/* x takes g's nodes' parameters (update_check_locked said it can), all or
 * nothing: every node's new parameters (a child graph's new executable
 * graph) are made first, then they replace the old ones; x's nodes keep
 * their identities, states and order. (ggml updates its graph every token:
 * this copies parameters, it does not instantiate again.) */
static CUresult update_apply_locked(struct gexec *x, const struct graph *g)
{
    struct xnode *nn = calloc((size_t)x->n + 1, sizeof *nn);
    CUresult r = nn ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
    int k = 0;
    for (; r == CUDA_SUCCESS && k < x->n; k++) {
        const struct gnode *n = g->nodes[k];
        if (x->nodes[k].sub) {
            nn[k].p.type = CU_GRAPH_NODE_TYPE_GRAPH;
            r = exec_build_locked(n->p.u.child, &nn[k].sub);
        } else {
            r = gparams_copy_locked(&nn[k].p, &n->p);
        }
    }
    for (int i = 0; i < x->n && nn; i++) {
        /* on success the new ones go in and the old ones out; on failure the
         * new ones made so far go */
        struct xnode *gone = r == CUDA_SUCCESS ? &x->nodes[i] : &nn[i];
        if (r != CUDA_SUCCESS && i >= k)
            break;
        gparams_release_locked(&gone->p);
        if (gone->sub)
            exec_free_locked(gone->sub);
        if (r == CUDA_SUCCESS) {
            x->nodes[i].p = nn[i].p;
            x->nodes[i].sub = nn[i].sub;
        }
    }
    free(nn);
    return r;
}

CUresult cpudev_cuGraphExecUpdate_v2(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphExecUpdateResultInfo *resultInfo)
{
    CPUDEV_ENTER();
    if (!resultInfo)
        return CUDA_ERROR_INVALID_VALUE;
    struct gexec *x;
    struct graph *g = (struct graph *)hGraph;
    CUgraphExecUpdateResultInfo info;
    cpudev_lock();
    CUresult r = lookup_exec_locked(hGraphExec, &x);
    if (r == CUDA_SUCCESS && (!reg_has_locked(hGraph, H_GRAPH) || g->capturing))
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        r = update_check_locked(x, g, &info);
    if (r == CUDA_SUCCESS && info.result == CU_GRAPH_EXEC_UPDATE_SUCCESS)
        r = update_apply_locked(x, g);
    if (r == CUDA_SUCCESS) {
        *resultInfo = info;
        if (info.result != CU_GRAPH_EXEC_UPDATE_SUCCESS)
            r = CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
    }
    cpudev_unlock();
    return r;
}

/* The child graph node's graph in x becomes childGraph's, whose topology
 * must be the node's graph's. */
CUresult cpudev_cuGraphExecChildGraphNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode, CUgraph childGraph)
{
    CPUDEV_ENTER();
    struct gexec *x;
    struct graph *child;
    int idx;
    CUgraphExecUpdateResultInfo info;
    cpudev_lock();
    CUresult r = exec_node_locked(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_GRAPH, &x, &idx);
    if (r == CUDA_SUCCESS)
        r = graph_lookup_locked(childGraph, &child);
    if (r == CUDA_SUCCESS && child->capturing)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        r = update_check_locked(x->nodes[idx].sub, child, &info);
    if (r == CUDA_SUCCESS && info.result != CU_GRAPH_EXEC_UPDATE_SUCCESS)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        r = update_apply_locked(x->nodes[idx].sub, child);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphExecKernelNodeSetParams_v2(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                  const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gexec *x;
    cpudev_lock();
    int idx = 0;
    CUresult r = exec_node_locked(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_KERNEL, &x, &idx);
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        return r;
    /* Set the parameters on a scratch graph node, then move them over. */
    CUgraph tmp;
    CUgraphNode tn;
    if ((r = cpudev_cuGraphCreate(&tmp, 0)) != CUDA_SUCCESS)
        return r;
    r = cpudev_cuGraphAddKernelNode_v2(&tn, tmp, NULL, 0, nodeParams);
    cpudev_lock();
    if (r == CUDA_SUCCESS && exec_node_locked(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_KERNEL, &x, &idx) == CUDA_SUCCESS) {
        struct gparams *p = &((struct gnode *)tn)->p;
        p->u.k.attrs = x->nodes[idx].p.u.k.attrs; /* new parameters, the same attributes */
        x->nodes[idx].p.u.k.attrs = NULL;
        gparams_release_locked(&x->nodes[idx].p);
        x->nodes[idx].p = *p;
        memset(p, 0, sizeof *p);
        p->type = CU_GRAPH_NODE_TYPE_EMPTY;
    } else if (r == CUDA_SUCCESS) {
        r = CUDA_ERROR_INVALID_VALUE; /* destroyed meanwhile */
    }
    cpudev_unlock();
    cpudev_cuGraphDestroy(tmp);
    return r;
}

CUresult exec_node_set_locked(CUgraphExec hExec, CUgraphNode hNode, struct gparams *p, CUresult verdict)
{
    struct gexec *x;
    int idx;
    CUresult r = verdict;
    if (r == CUDA_SUCCESS)
        r = exec_node_locked(hExec, hNode, p->type, &x, &idx);
    if (r == CUDA_SUCCESS && p->type == CU_GRAPH_NODE_TYPE_MEMSET) {
        /* value and address may change; a 1D memset's width and element
         * size too, never its height; a 2D memset's shape never (the rules
         * the driver documents) */
        const struct gparams *o = &x->nodes[idx].p;
        if (o->u.set.height != p->u.set.height ||
            (o->u.set.height > 1 &&
             (o->u.set.n != p->u.set.n || o->u.set.es != p->u.set.es || o->u.set.pitch != p->u.set.pitch)))
            r = CUDA_ERROR_INVALID_VALUE;
    }
    if (r == CUDA_SUCCESS && p->type == CU_GRAPH_NODE_TYPE_MEMCPY) {
        const struct gparams *o = &x->nodes[idx].p; /* both copies one-dimensional */
        if (o->u.copy.height != 1 || p->u.copy.height != 1)
            r = CUDA_ERROR_INVALID_VALUE;
    }
    if (r == CUDA_SUCCESS) {
        gparams_release_locked(&x->nodes[idx].p);
        x->nodes[idx].p = *p;
    } else {
        gparams_release_locked(p);
    }
    return r;
}

CUresult cpudev_cuGraphExecMemsetNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                               const CUDA_MEMSET_NODE_PARAMS *memsetParams, CUcontext ctx)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_MEMSET};
    struct ctx *c;
    cpudev_lock();
    CUresult v = ctx_get_locked(ctx, &c);
    if (v == CUDA_SUCCESS)
        v = gparams_memset(&p, memsetParams);
    p.type = CU_GRAPH_NODE_TYPE_MEMSET;
    CUresult r = exec_node_set_locked(hGraphExec, hNode, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphExecMemcpyNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                               const CUDA_MEMCPY3D *copyParams, CUcontext ctx)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = CU_GRAPH_NODE_TYPE_MEMCPY};
    struct ctx *c;
    cpudev_lock();
    CUresult v = ctx_get_locked(ctx, &c);
    if (v == CUDA_SUCCESS)
        v = gparams_memcpy(&p, copyParams);
    p.type = CU_GRAPH_NODE_TYPE_MEMCPY;
    CUresult r = exec_node_set_locked(hGraphExec, hNode, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphExecHostNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                             const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    CPUDEV_ENTER();
    struct gparams p;
    CUresult v = gparams_host(&p, nodeParams);
    cpudev_lock();
    CUresult r = exec_node_set_locked(hGraphExec, hNode, &p, v);
    cpudev_unlock();
    return r;
}

static CUresult exec_set_event(CUgraphExec hExec, CUgraphNode hNode, CUgraphNodeType t, CUevent ev)
{
    CPUDEV_ENTER();
    struct gparams p = {.type = t};
    cpudev_lock();
    CUresult v = reg_has_locked(ev, H_EVENT) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    if (v == CUDA_SUCCESS) {
        p.u.ev = (struct event *)ev;
        p.u.ev->refs++;
    }
    CUresult r = exec_node_set_locked(hExec, hNode, &p, v);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphExecEventRecordNodeSetEvent(CUgraphExec hGraphExec, CUgraphNode hNode, CUevent event)
{
    return exec_set_event(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_EVENT_RECORD, event);
}

CUresult cpudev_cuGraphExecEventWaitNodeSetEvent(CUgraphExec hGraphExec, CUgraphNode hNode, CUevent event)
{
    return exec_set_event(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_WAIT_EVENT, event);
}

/* Only kernel, memset and copy nodes are disabled and enabled (as in CUDA). */
static CUresult enabled_node_locked(CUgraphExec hExec, CUgraphNode hNode, struct xnode **out)
{
    struct gexec *x;
    int idx;
    CUresult r = exec_node_locked(hExec, hNode, ANY_TYPE, &x, &idx);
    if (r != CUDA_SUCCESS)
        return r;
    CUgraphNodeType t = x->nodes[idx].p.type;
    if (t != CU_GRAPH_NODE_TYPE_KERNEL && t != CU_GRAPH_NODE_TYPE_MEMSET && t != CU_GRAPH_NODE_TYPE_MEMCPY)
        return CUDA_ERROR_INVALID_VALUE;
    *out = &x->nodes[idx];
    return CUDA_SUCCESS;
}

CUresult cpudev_cuGraphNodeSetEnabled(CUgraphExec hGraphExec, CUgraphNode hNode, unsigned int isEnabled)
{
    CPUDEV_ENTER();
    struct xnode *n;
    cpudev_lock();
    CUresult r = enabled_node_locked(hGraphExec, hNode, &n);
    if (r == CUDA_SUCCESS)
        n->disabled = !isEnabled;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphNodeGetEnabled(CUgraphExec hGraphExec, CUgraphNode hNode, unsigned int *isEnabled)
{
    CPUDEV_ENTER();
    if (!isEnabled)
        return CUDA_ERROR_INVALID_VALUE;
    struct xnode *n;
    cpudev_lock();
    CUresult r = enabled_node_locked(hGraphExec, hNode, &n);
    if (r == CUDA_SUCCESS)
        *isEnabled = !n->disabled;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuGraphExecGetFlags(CUgraphExec hGraphExec, cuuint64_t *flags)
{
    CPUDEV_ENTER();
    if (!flags)
        return CUDA_ERROR_INVALID_VALUE;
    struct gexec *x;
    cpudev_lock();
    CUresult r = lookup_exec_locked(hGraphExec, &x);
    if (r == CUDA_SUCCESS)
        *flags = x->flags;
    cpudev_unlock();
    return r;
}
