/*
 * launch.c — running a grid: blocks are handed out to `host_threads` worker
 * threads through an atomic counter; each worker runs one block at a time,
 * all of its warps cooperatively on that one thread (round robin with a time
 * slice, so warps that spin on shared memory still let the others progress;
 * a barrier parks a warp until every expected thread has arrived).
 *
 * The slice is short (64 instructions): a GPU interleaves a block's warps
 * almost instruction by instruction, and kernels in the wild contain
 * shared-memory races that this hides. ggml's flash attention for K heads of
 * 192 and V heads of 128, for one, lets a warp start loading the next tile's
 * Q while its neighbours still read the last tile's results from the same
 * shared memory (different row strides, no barrier in between); with slices
 * of 2048 instructions and more that race decided the result, from 512 down
 * it did not. Switching warps this often cost nothing measurable.
 *
 * Cooperative launches (grid-wide sync) need every block of the grid to make
 * progress at once: a block spinning on the grid barrier must not keep the
 * blocks it waits for from running. There, each worker owns a fixed share of
 * the grid (block k on worker k % workers), all of its blocks resident at
 * once, and runs them round robin, one pass over a block's warps (a shorter
 * slice each) before the next block's turn. A warp that polls global memory
 * (ld .acquire/.relaxed/.volatile, as the grid barrier's spin loop does)
 * ends its turn right after the load, so a waiting block costs its worker a
 * few instructions per round and every block advances.
 *
 * Per-worker state (warps, register stacks, local and shared memory) is
 * allocated once per launch and reused for every block the worker runs (a
 * cooperative worker: one set per resident block), so the interpreter itself
 * never allocates (only a deep recursion may grow a register stack). The
 * first error of any block stops every worker; its CUresult is the launch's
 * result.
 */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SLICE 64                   /* instructions a warp runs before the next gets a turn (see below) */
#define COOP_SLICE 512             /* ... in a cooperative launch, where the next block waits too */
#define POLL_ROUND 16              /* instructions per block of a round in which blocks only wait */
#define IDLE_ROUNDS 64             /* such rounds in a row before the worker yields its core */
#define RECURSION_RESERVE 16384    /* extra per-thread stack when the call graph is recursive */

struct worker {
    struct launch_state *L;
    unsigned idx;
    struct block b;
    struct block *coop;            /* cooperative launch: blocks idx, idx + nworkers, ... */
    size_t ncoop;
    bool *coop_done;
    uint64_t *next_block;          /* shared counter */
    uint64_t nblocks;
    pthread_t th;
};

static uint64_t launch_counter;

/* a cooperative launch's memory check: its grid workspace, then the caller's */
static bool coop_valid(void *ctx, uint64_t addr, uint64_t n)
{
    const struct launch_state *L = ctx;
    if (addr >= L->ws_lo && addr <= L->ws_hi && n <= L->ws_hi - addr) return true;
    return L->l->memory.valid(L->l->memory.ctx, addr, n);
}

static int block_alloc(struct launch_state *L, unsigned worker, struct block *b)
{
    memset(b, 0, sizeof *b);
    b->L = L;
    b->worker = worker;
    b->nwarps = (int)((L->nthreads + WARP - 1) / WARP);
    b->warps = calloc((size_t)b->nwarps, sizeof *b->warps);
    b->shared_size = L->shared_size;
    b->shared = calloc(1, L->shared_size ? L->shared_size : 1);
    if (!b->warps || !b->shared) return -1;
    for (int k = 0; k < b->nwarps; k++) {
        struct warp *w = &b->warps[k];
        w->b = b;
        w->id = k;
        w->reg_cap = (uint32_t)(L->kf->reg_need + (L->kf->recursive ? 256 : 0) + 1);
        w->rstack = calloc((size_t)w->reg_cap * WARP, sizeof(uint64_t));
        w->cap_frames = 8;
        w->frames = calloc((size_t)w->cap_frames, sizeof *w->frames);
        w->local = calloc(WARP, L->local_size ? L->local_size : 1);
        if (!w->rstack || !w->frames || !w->local) return -1;
    }
    return 0;
}

static void block_free(struct block *b)
{
    if (b->warps)
        for (int k = 0; k < b->nwarps; k++) {
            free(b->warps[k].rstack);
            free(b->warps[k].frames);
            free(b->warps[k].local);
        }
    free(b->warps);
    free(b->shared);
}

static int worker_alloc(struct worker *wk)
{
    if (!wk->L->l->cooperative) return block_alloc(wk->L, wk->idx, &wk->b);
    unsigned nw = (unsigned)wk->L->nworkers;
    uint64_t n = (wk->nblocks - wk->idx + nw - 1) / nw;
    if (n > SIZE_MAX / sizeof *wk->coop || !(wk->coop = calloc((size_t)n, sizeof *wk->coop))) return -1;
    wk->ncoop = (size_t)n;
    if (!(wk->coop_done = calloc(wk->ncoop, sizeof *wk->coop_done))) return -1;
    for (size_t k = 0; k < wk->ncoop; k++)
        if (block_alloc(wk->L, wk->idx, &wk->coop[k]) < 0) return -1;
    return 0;
}

static void worker_free(struct worker *wk)
{
    block_free(&wk->b);
    if (wk->coop)
        for (size_t k = 0; k < wk->ncoop; k++) block_free(&wk->coop[k]);
    free(wk->coop);
    free(wk->coop_done);
}

static void block_init(const struct launch_state *L, struct block *b, uint64_t blk)
{
    const struct ptx_launch *l = L->l;
    b->ctaid[0] = (unsigned)(blk % l->grid[0]);
    b->ctaid[1] = (unsigned)(blk / l->grid[0] % l->grid[1]);
    b->ctaid[2] = (unsigned)(blk / ((uint64_t)l->grid[0] * l->grid[1]));
    b->live_threads = (int)L->nthreads;
    memset(b->bar, 0, sizeof b->bar);
    b->mbar_idle = 0;
    for (int k = 0; k < b->nwarps; k++) {
        struct warp *w = &b->warps[k];
        unsigned first = (unsigned)k * WARP;
        unsigned n = L->nthreads - first < WARP ? L->nthreads - first : WARP;
        w->valid = n == WARP ? FULL_MASK : (1u << n) - 1;
        w->exited = ~w->valid;
        w->cur = w->valid;
        w->pc = L->kf->first;
        w->merge_pc = INT32_MAX;
        w->bar_blocked = w->sync_blocked = 0;
        w->force_sync = w->force_next = w->rotate = false;
        w->done = false;
        w->nframes = 1;
        w->frames[0] = (struct frame){.func = (int)(L->kf - L->m->funcs), .call_pc = -1, .members = w->valid};
        w->regs = w->rstack;
        w->vnext = 0;
        memset(w->vlo, 0, sizeof w->vlo);
        memset(w->vhi, 0, sizeof w->vhi);
        for (int ln = 0; ln < WARP; ln++) {
            unsigned t = first + (unsigned)ln;
            w->tid[0][ln] = t % l->block[0];
            w->tid[1][ln] = t / l->block[0] % l->block[1];
            w->tid[2][ln] = t / (l->block[0] * l->block[1]);
            w->lane_red_dst[ln] = UINT32_MAX;
        }
    }
}

enum { B_MORE, B_DONE, B_STOP };

/* Counts n more warp-instructions against the launch's max_instructions;
 * false (and the launch failed) once it is spent. */
static bool within_limit(const struct launch_state *L, uint64_t n)
{
    struct launch_state *ls = (struct launch_state *)L;
    if (__atomic_add_fetch(&ls->executed, n, __ATOMIC_RELAXED) <= L->l->max_instructions) return true;
    xfail(L, CUDA_ERROR_LAUNCH_TIMEOUT, NULL, "ran more than %llu warp-instructions",
          (unsigned long long)L->l->max_instructions);
    return false;
}

/* One pass over the warps of a block, each for at most `slice` instructions
 * (*used: how many ran): B_MORE, B_DONE, or B_STOP (an error, or a deadlock,
 * now failed). */
static inline int block_pass(struct block *b, long slice, long *used)
{
    const struct launch_state *L = b->L;
    for (;;) {
        bool all_done = true, progress = false;
        for (int k = 0; k < b->nwarps; k++) {
            struct warp *w = &b->warps[k];
            if (w->done) continue;
            long budget = slice;
            int r = ptx_run_warp(b, w, &budget);
            if (r == W_ERROR || xfailed(L)) return B_STOP;
            *used += slice - budget;
            if (L->l->max_instructions && !within_limit(L, (uint64_t)(slice - budget))) return B_STOP;
            if (budget < slice) progress = true;
            if (r != W_DONE) all_done = false;
            else progress = true;
        }
        if (all_done) return B_DONE;
        if (progress) return B_MORE;
        /* stuck: let parked warp-synchronous groups run, else it is a deadlock
         * (only the block's own warps can release its barriers) */
        bool any = false;
        for (int k = 0; k < b->nwarps; k++)
            if (!b->warps[k].done && b->warps[k].sync_blocked) { b->warps[k].force_next = true; any = true; }
        if (any) continue;
        int id = 0;
        while (id < 15 && !b->bar[id].arrived) id++;
        xfail(L, CUDA_ERROR_LAUNCH_FAILED, NULL,
              "deadlock in block (%u,%u,%u): barrier %d has %d of %d threads", b->ctaid[0], b->ctaid[1],
              b->ctaid[2], id, b->bar[id].arrived, b->bar[id].expected ? b->bar[id].expected : b->live_threads);
        return B_STOP;
    }
}

static void block_run(struct block *b)
{
    long used = 0;
    while (block_pass(b, SLICE, &used) == B_MORE) {}
}

/* A cooperative worker: its blocks in turn, one pass each, until all are done. */
static void coop_run(struct worker *wk)
{
    unsigned nw = (unsigned)wk->L->nworkers;
    bool *done = wk->coop_done;
    for (size_t k = 0; k < wk->ncoop; k++) block_init(wk->L, &wk->coop[k], wk->idx + (uint64_t)k * nw);
    size_t left = wk->ncoop;
    unsigned idle_rounds = 0;
    while (left > 0 && !xfailed(wk->L)) {
        long used = 0;
        size_t live = left;
        for (size_t k = 0; k < wk->ncoop; k++) {
            if (done[k]) continue;
            int r = block_pass(&wk->coop[k], COOP_SLICE, &used);
            if (r == B_STOP) return;
            if (r == B_DONE) { done[k] = true; left--; }
        }
        /* round after round every block only polled (a poll load yields at
         * once): they wait for another worker's blocks, whose thread may not
         * be running if the host has more workers than cores; give it the
         * core (not at once: a yield on a loaded host can cost a time slice) */
        if (left == live && used <= POLL_ROUND * (long)live) {
            if (++idle_rounds == IDLE_ROUNDS) { sched_yield(); idle_rounds = 0; }
        } else {
            idle_rounds = 0;
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    if (wk->coop) { coop_run(wk); return NULL; }
    for (;;) {
        if (xfailed(wk->L)) break;
        uint64_t blk = __atomic_fetch_add(wk->next_block, 1, __ATOMIC_RELAXED);
        if (blk >= wk->nblocks) break;
        block_init(wk->L, &wk->b, blk);
        block_run(&wk->b);
    }
    return NULL;
}

CUresult ptx_launch_run(const struct ptx_launch *l)
{
    if (!l || !l->kernel || !l->memory.valid) return CUDA_ERROR_INVALID_VALUE;
    const struct ptx_module *m = l->kernel->m;
    const struct func *kf = &m->funcs[l->kernel->func];
    for (int k = 0; k < 3; k++)
        if (!l->grid[k] || !l->block[k]) return CUDA_ERROR_INVALID_VALUE;
    uint64_t nthreads = (uint64_t)l->block[0] * l->block[1] * l->block[2];
    if (nthreads > 1024) return CUDA_ERROR_INVALID_VALUE;
    if (kf->param_bytes && !l->params) return CUDA_ERROR_INVALID_VALUE;
    if (m->nglobals && !l->global_addrs) return CUDA_ERROR_INVALID_VALUE;
    struct launch_state L;
    memset(&L, 0, sizeof L);
    L.l = l;
    L.m = m;
    L.kf = kf;
    L.nthreads = (unsigned)nthreads;
    L.local_size = ((size_t)kf->stack_need + (kf->recursive ? RECURSION_RESERVE : 0) + 15) & ~(size_t)15;
    size_t align = m->dyn_shared_align ? m->dyn_shared_align : 16;
    L.dyn_off = (kf->shared_need + align - 1) / align * align;
    L.shared_size = L.dyn_off + l->dynamic_shared;
    if (L.shared_size > ((size_t)1 << 32)) return CUDA_ERROR_INVALID_VALUE;
    L.gridid = __atomic_add_fetch(&launch_counter, 1, __ATOMIC_RELAXED);
    L.errbuf = l->errbuf;
    L.errlen = l->errlen;
    if (L.errbuf && L.errlen) L.errbuf[0] = 0;
    uint64_t nblocks = (uint64_t)l->grid[0] * l->grid[1] * l->grid[2];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nw = l->host_threads > 0 ? l->host_threads : (int)(ncpu > 0 ? ncpu : 1);
    if ((uint64_t)nw > nblocks) nw = (int)nblocks;
    L.nworkers = nw;
    uint32_t *ws = NULL;
    if (l->cooperative) {
        /* cooperative_groups' grid_workspace: wsSize, then the barrier counter */
        if (!(ws = calloc(2, sizeof *ws))) return CUDA_ERROR_OUT_OF_MEMORY;
        ws[0] = 2 * sizeof *ws;
        L.ws_lo = (uint64_t)(uintptr_t)ws;
        L.ws_hi = L.ws_lo + 2 * sizeof *ws;
        L.mem = (struct ptx_memory){coop_valid, &L};
    } else {
        L.mem = l->memory;
    }
    struct worker *wk = calloc((size_t)nw, sizeof *wk);
    if (!wk) { free(ws); return CUDA_ERROR_OUT_OF_MEMORY; }
    uint64_t next_block = 0;
    int started = 0;
    CUresult rc = CUDA_SUCCESS;
    for (int k = 0; k < nw; k++) {
        wk[k].L = &L;
        wk[k].idx = (unsigned)k;
        wk[k].next_block = &next_block;
        wk[k].nblocks = nblocks;
        if (worker_alloc(&wk[k]) < 0) { rc = CUDA_ERROR_OUT_OF_MEMORY; nw = k + 1; goto out; }
    }
    for (int k = 1; k < nw; k++) {
        if (pthread_create(&wk[k].th, NULL, worker_main, &wk[k]) != 0) {
            /* the other workers take over a missing one's blocks, except in a
             * cooperative launch, whose blocks are placed once */
            if (l->cooperative) xfail(&L, CUDA_ERROR_OUT_OF_MEMORY, NULL, "cannot start a host thread");
            break;
        }
        started = k;
    }
    worker_main(&wk[0]);
    for (int k = 1; k <= started; k++) pthread_join(wk[k].th, NULL);
    rc = (CUresult)L.error;
out:
    for (int k = 0; k < nw; k++) worker_free(&wk[k]);
    free(wk);
    free(ws);
    return rc;
}
