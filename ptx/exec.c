/*
 * exec.c — the warp interpreter: scheduling of lanes within a warp
 * (divergence and reconvergence), control flow, calls, CTA barriers, special
 * registers and moves. Arithmetic, memory, warp and atomic instructions are
 * handed to their family files with the mask of lanes that execute them.
 *
 * Reconvergence: "lowest PC first". Every lane has a PC within the current
 * call frame; the warp runs the group of runnable lanes with the lowest PC
 * (cur, pc), and any waiting lane with the same PC joins it. Structured code
 * laid out in order (what NVVM emits: if/else bodies and loop exits after the
 * branch) therefore reconverges at the first common instruction after a
 * divergent branch, loops run until the last lane leaves, early returns just
 * drop lanes. The fast path costs one compare per instruction
 * (pc == merge_pc, the lowest PC of a waiting lane); only divergent branches
 * and group changes rescan the 32 lanes.
 * Warp-synchronous instructions (shfl.sync, vote.sync, bar.warp.sync, ...)
 * wait for every lane of their member mask: a group that arrives early parks
 * at the instruction (sync_blocked) until the others reach the same PC, which
 * also covers code where the lowest-PC order would not reconverge by itself
 * (cold blocks placed after a return). If nothing else can run, a parked
 * group proceeds with the lanes present (as the GPU's behaviour is then
 * undefined anyway).
 * Calls push a frame whose members are the calling lanes; the other lanes of
 * the caller wait until the callee returns for all of them (frames are thus
 * per group, and lanes of one frame always run the same function).
 * Barriers count arriving threads (sm_70+ semantics: bar.sync in divergent
 * code is fine as long as every expected thread arrives); blocked lanes are
 * parked and the block scheduler (launch.c) runs the other warps.
 */
#include "internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void xfail(const struct launch_state *L, int cuerr, const struct ins *i, const char *fmt, ...)
{
    struct launch_state *ls = (struct launch_state *)L;
    int expected = 0;
    if (!__atomic_compare_exchange_n(&ls->error, &expected, cuerr, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return;
    if (ls->errbuf && ls->errlen) {
        int n = 0;
        if (i) n = snprintf(ls->errbuf, ls->errlen, "line %u (%s): ", i->line, ptx_op_name(i->op));
        if (n < 0 || (size_t)n >= ls->errlen) return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ls->errbuf + n, ls->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
}
bool xfailed(const struct launch_state *L) { return __atomic_load_n(&L->error, __ATOMIC_RELAXED) != 0; }

/* ---- scheduling ---- */
static inline struct frame *top(struct warp *w) { return &w->frames[w->nframes - 1]; }

static void set_regs(struct warp *w) { w->regs = w->rstack + (size_t)top(w)->reg_base * WARP; }

/* park the running group at its pc so the next pick() sees every lane */
static void desched(struct warp *w)
{
    for (uint32_t m = w->cur; m; m &= m - 1) w->lane_pc[__builtin_ctz(m)] = w->pc;
    w->cur = 0;
}

static void pop_frame(struct block *b, struct warp *w)
{
    const struct launch_state *L = b->L;
    const struct ptx_module *mod = L->m;
    struct frame *f = top(w), *c = f - 1;
    uint32_t back = f->members & ~w->exited;
    const struct callsite *cs = &mod->calls[mod->code[f->call_pc].asym];
    const struct func *fn = &mod->funcs[f->func];
    for (int k = 0; k < cs->nret; k++) {
        uint32_t sz = fn->rets[k].size;
        for (uint32_t m = back; m; m &= m - 1) {
            int l = __builtin_ctz(m);
            uint8_t *lm = w->local + (size_t)l * L->local_size;
            memcpy(lm + c->local_base + cs->ret_off[k], lm + f->local_base + fn->rets[k].offset, sz);
        }
    }
    for (uint32_t m = back; m; m &= m - 1) w->lane_pc[__builtin_ctz(m)] = f->call_pc + 1;
    w->nframes--;
    set_regs(w);
}

/* choose the next group to run; W_RUN, or why the warp cannot run */
static int pick(struct block *b, struct warp *w)
{
    for (;;) {
        struct frame *f = top(w);
        uint32_t live = f->members & ~w->exited & ~f->returned;
        if (!live) {
            if (w->nframes == 1) { w->done = true; return W_DONE; }
            pop_frame(b, w);
            continue;
        }
        uint32_t cand = live & ~w->bar_blocked & ~w->sync_blocked;
        bool force = false;
        if (!cand) {
            if ((live & w->bar_blocked) && !(w->force_next && (live & w->sync_blocked))) return W_BLOCKED;
            w->force_next = false;
            cand = live & w->sync_blocked;
            force = true;
        }
        int32_t best = INT32_MAX;
        for (uint32_t m = cand; m; m &= m - 1) {
            int l = __builtin_ctz(m);
            if (w->lane_pc[l] < best) best = w->lane_pc[l];
        }
        if (w->rotate) {
            /* the lowest group ran a whole time slice without meeting the
             * others (a spin loop waiting for them, e.g. on a lock they
             * hold): give the highest group a turn (independent thread
             * scheduling); the next forward branch returns to lowest-first */
            w->rotate = false;
            best = INT32_MIN;
            for (uint32_t m = cand; m; m &= m - 1) {
                int l = __builtin_ctz(m);
                if (w->lane_pc[l] > best) best = w->lane_pc[l];
            }
        }
        uint32_t grp = 0, rest = live & ~w->bar_blocked;
        int32_t next = INT32_MAX;
        for (uint32_t m = rest; m; m &= m - 1) {
            int l = __builtin_ctz(m);
            if (w->lane_pc[l] == best) grp |= 1u << l;
            else if (w->lane_pc[l] < next) next = w->lane_pc[l];
        }
        w->sync_blocked &= ~grp;
        w->force_sync = force;
        w->cur = grp;
        w->pc = best;
        w->merge_pc = next;
        return W_RUN;
    }
}

/* the running group reached merge_pc: take in the lanes waiting there */
static void merge(struct warp *w)
{
    struct frame *f = top(w);
    uint32_t rest = f->members & ~w->exited & ~f->returned & ~w->bar_blocked & ~w->cur;
    int32_t next = INT32_MAX;
    for (uint32_t m = rest; m; m &= m - 1) {
        int l = __builtin_ctz(m);
        if (w->lane_pc[l] == w->pc) { w->cur |= 1u << l; w->sync_blocked &= ~(1u << l); }
        else if (w->lane_pc[l] < next) next = w->lane_pc[l];
    }
    w->merge_pc = next;
}

/* lanes `go` of the running group continue at `target`, the others at pc+1 */
static void branch(struct warp *w, uint32_t go, int32_t target)
{
    if (go == w->cur) {
        if (target <= w->pc && w->merge_pc != INT32_MAX && ++w->spins >= 256) {
            /* a loop that keeps running while other lanes wait: maybe it
             * waits for them (spin lock); let the others have a turn */
            w->spins = 0;
            w->pc = target;
            desched(w);
            w->rotate = true;
            return;
        }
        w->pc = target;
        if (target > w->merge_pc) desched(w);
        return;
    }
    if (!go) { w->pc++; return; }
    for (uint32_t m = go; m; m &= m - 1) w->lane_pc[__builtin_ctz(m)] = target;
    for (uint32_t m = w->cur & ~go; m; m &= m - 1) w->lane_pc[__builtin_ctz(m)] = w->pc + 1;
    w->cur = 0;
}

/* lanes `gone` leave the running group; the rest continue at pc+1 */
static void drop(struct warp *w, uint32_t gone)
{
    w->cur &= ~gone;
    w->pc++;
}

/* ---- barriers ---- */
static void bar_release(struct block *b, int id)
{
    struct barrier_state *bs = &b->bar[id];
    uint64_t v = bs->red_op == AOP_AND ? bs->red_and : bs->red_op == AOP_OR ? bs->red_or : bs->red_popc;
    for (int k = 0; k < b->nwarps; k++) {
        struct warp *w = &b->warps[k];
        uint32_t rel = 0;
        for (uint32_t m = w->bar_blocked; m; m &= m - 1) {
            int l = __builtin_ctz(m);
            if (w->lane_bar[l] != id) continue;
            rel |= 1u << l;
            if (w->lane_red_dst[l] != UINT32_MAX) w->rstack[(size_t)w->lane_red_dst[l] * WARP + l] = v;
        }
        if (!rel) continue;
        w->bar_blocked &= ~rel;
        if (w->cur) desched(w);
    }
    memset(bs, 0, sizeof *bs);
}

static void bar_check(struct block *b, int id)
{
    struct barrier_state *bs = &b->bar[id];
    if (!bs->arrived) return;
    int expected = bs->expected ? bs->expected : b->live_threads;
    if (bs->arrived >= expected) bar_release(b, id);
}

void ptx_bar_check_all(struct block *b)
{
    for (int id = 0; id < 16; id++) bar_check(b, id);
}

static int do_bar(struct xctx *x, const struct ins *i, uint32_t m)
{
    struct warp *w = x->w;
    struct block *b = x->b;
    if (!m) { w->pc++; return 0; }
    int fl = __builtin_ctz(m);
    uint32_t id = (uint32_t)SRC(x, i->o[0])[fl];
    if (id >= 16) { xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "barrier id %u out of range", id); return -1; }
    struct barrier_state *bs = &b->bar[id];
    if (i->o[1] != REF_NONE) {
        uint32_t cnt = (uint32_t)SRC(x, i->o[1])[fl];
        if (cnt == 0 || cnt % WARP || cnt > x->L->nthreads + WARP - 1) {
            xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "barrier thread count %u invalid", cnt);
            return -1;
        }
        bs->expected = (int)cnt;
    }
    /* sm_70+: count threads; a partially populated last warp counts as a whole one for counted barriers */
    bs->arrived += __builtin_popcount(m);
    if (i->sub == BAR_RED) {
        const uint64_t *pv = xsrc(w, x->pool, i->o[2] & ~REF_NEGBIT);
        bool negp = (i->o[2] & REF_NEGBIT) != 0;
        if (!bs->red_seen) { bs->red_and = 1; bs->red_or = 0; bs->red_popc = 0; bs->red_seen = true; }
        bs->red_op = i->bop;
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int l = __builtin_ctz(mm);
            uint32_t v = (uint32_t)(pv[l] & 1) ^ negp;
            bs->red_and &= v;
            bs->red_or |= v;
            bs->red_popc += v;
        }
    }
    if (i->sub == BAR_ARRIVE) {
        w->pc++;
        bar_check(b, (int)id);
        return 0;
    }
    uint32_t slot = i->sub == BAR_RED ? top(w)->reg_base + REF_IDX(i->o[3]) : UINT32_MAX;
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        w->lane_bar[l] = (uint8_t)id;
        w->lane_red_dst[l] = slot;
        w->lane_pc[l] = w->pc + 1;
    }
    w->bar_blocked |= m;
    for (uint32_t mm = w->cur & ~m; mm; mm &= mm - 1) w->lane_pc[__builtin_ctz(mm)] = w->pc + 1;
    w->cur = 0;
    bar_check(b, (int)id);
    return 0;
}

/* ---- special registers ---- */
static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void mov_sreg(struct xctx *x, const struct ins *i, uint32_t m)
{
    struct warp *w = x->w;
    const struct ptx_launch *l = x->L->l;
    uint64_t *d = DST(x, i->o[0]);
    uint64_t v = 0;
    int c = i->rnd;
    switch (i->sub) {
    case SR_TID: FOR_LANES(m, d[l] = w->tid[c][l]); return;
    case SR_LANEID: FOR_LANES(m, d[l] = (uint64_t)l); return;
    case SR_LANEMASK_EQ: FOR_LANES(m, d[l] = 1ull << l); return;
    case SR_LANEMASK_LT: FOR_LANES(m, d[l] = (1ull << l) - 1); return;
    case SR_LANEMASK_LE: FOR_LANES(m, d[l] = (2ull << l) - 1); return;
    case SR_LANEMASK_GT: FOR_LANES(m, d[l] = (uint32_t)~((2ull << l) - 1)); return;
    case SR_LANEMASK_GE: FOR_LANES(m, d[l] = (uint32_t)~((1ull << l) - 1)); return;
    case SR_NTID: v = l->block[c]; break;
    case SR_CTAID: case SR_CLUSTERID: v = x->b->ctaid[c]; break;
    case SR_NCTAID: case SR_NCLUSTERID: v = l->grid[c]; break;
    case SR_CLUSTER_CTAID: case SR_CLUSTER_CTARANK: case SR_IS_EXPLICIT_CLUSTER: v = 0; break;
    case SR_CLUSTER_NCTAID: v = 1; break;
    case SR_CLUSTER_NCTARANK: v = 1; break;
    case SR_WARPID: v = (uint64_t)w->id; break;
    case SR_NWARPID: v = 64; break;
    case SR_SMID: v = x->b->worker; break;
    case SR_NSMID: v = (uint64_t)x->L->nworkers; break;
    case SR_GRIDID: v = x->L->gridid; break;
    case SR_CLOCK: v = (uint32_t)now_ns(CLOCK_MONOTONIC); break;
    case SR_CLOCK_HI: v = (uint32_t)(now_ns(CLOCK_MONOTONIC) >> 32); break;
    case SR_CLOCK64: v = now_ns(CLOCK_MONOTONIC); break;
    case SR_GLOBALTIMER: v = now_ns(CLOCK_REALTIME); break;
    case SR_GLOBALTIMER_LO: v = (uint32_t)now_ns(CLOCK_REALTIME); break;
    case SR_GLOBALTIMER_HI: v = now_ns(CLOCK_REALTIME) >> 32; break;
    case SR_DYN_SMEM: v = l->dynamic_shared; break;
    case SR_TOTAL_SMEM: v = x->L->shared_size; break;
    /* the driver's ABI (cooperative_groups/details/driver_abi.h): envreg1 and
     * envreg2 are the high and low halves of the grid workspace, 0 when the
     * launch is not cooperative (grid.is_valid() is then false) */
    case SR_ENVREG: v = c == 1 ? x->L->ws_lo >> 32 : c == 2 ? (uint32_t)x->L->ws_lo : 0; break;
    default: v = 0; break;
    }
    FOR_LANES(m, d[l] = v);
}

static int mov_addr(struct xctx *x, const struct ins *i, uint32_t m)
{
    uint64_t v = (uint64_t)i->imm;
    switch (i->akind) {
    case AK_GLOBAL:
        if (!x->L->l->global_addrs) { xfail(x->L, CUDA_ERROR_INVALID_VALUE, i, "module variable without an address"); return -1; }
        v += x->L->l->global_addrs[i->asym];
        break;
    case AK_DYNSHARED: v += x->L->dyn_off; break;
    case AK_FRAME: v += top(x->w)->local_base; break;
    case AK_KPARAM: v += PTX_PARAM_WIN; break;
    default: break;
    }
    uint64_t *d = DST(x, i->o[0]);
    FOR_LANES(m, d[l] = v);
    return 0;
}

/* ---- calls ---- */
/* the function an indirect call reaches through address a, checked against
 * the call site's arguments; -1 after xfail */
static int indirect_callee(struct xctx *x, const struct ins *i, const struct callsite *cs, uint64_t a)
{
    const struct ptx_module *mod = x->L->m;
    uint64_t k = (a - PTX_FUNC_WIN) / 16;
    if ((a & PTX_WIN_MASK) != PTX_FUNC_WIN || (a & 15) || k >= (uint64_t)mod->nfuncs || !mod->funcs[k].defined ||
        mod->funcs[k].is_entry) {
        xfail(x->L, CUDA_ERROR_ILLEGAL_ADDRESS, i, "indirect call to 0x%llx, not a function", (unsigned long long)a);
        return -1;
    }
    const struct func *f = &mod->funcs[k];
    bool ok = f->nparams == cs->narg && f->nrets == cs->nret;
    for (int j = 0; ok && j < cs->narg; j++) ok = f->params[j].size == cs->arg_size[j];
    for (int j = 0; ok && j < cs->nret; j++) ok = f->rets[j].size == cs->ret_size[j];
    if (!ok) {
        xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "indirect call to %s: its parameters do not match the call",
              f->name);
        return -1;
    }
    return (int)k;
}

/* brx.idx: lane l continues at target ix[l] of the list (divergent like bra) */
static int do_brx(struct xctx *x, const struct ins *i, uint32_t m)
{
    struct warp *w = x->w;
    if (!m) { w->pc++; return 0; }
    const uint32_t *tab = x->L->m->xops + i->asym;
    const uint64_t *ix = SRC(x, i->o[0]);
    int32_t t0 = -1;
    bool same = true;
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        uint32_t k = (uint32_t)ix[l];
        if (k >= tab[0]) {
            xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "lane %d: brx.idx index %u, the list has %u targets", l, k,
                  tab[0]);
            return -1;
        }
        int32_t t = (int32_t)tab[1 + k];
        if (t0 < 0) t0 = t;
        else if (t != t0) same = false;
    }
    if (same) { branch(w, m, t0); return 0; }
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        w->lane_pc[l] = (int32_t)tab[1 + (uint32_t)ix[l]];
    }
    for (uint32_t mm = w->cur & ~m; mm; mm &= mm - 1) w->lane_pc[__builtin_ctz(mm)] = w->pc + 1;
    w->cur = 0;
    return 0;
}

static int do_call(struct xctx *x, const struct ins *i, uint32_t m)
{
    struct warp *w = x->w;
    const struct launch_state *L = x->L;
    const struct ptx_module *mod = L->m;
    if (!m) { w->pc++; return 0; }
    const struct callsite *cs = &mod->calls[i->asym];
    int fi = cs->func;
    uint32_t again = 0;
    if (fi < 0) {
        /* indirect: the lowest lane's callee now, lanes calling another
         * function run the call again when it returns (lowest PC first) */
        const uint64_t *fp = SRC(x, cs->fptr);
        uint64_t a = fp[__builtin_ctz(m)];
        if ((fi = indirect_callee(x, i, cs, a)) < 0) return -1;
        uint32_t same = 0;
        FOR_LANES(m, same |= (uint32_t)(fp[l] == a) << l);
        again = m & ~same;
    }
    const struct func *callee = &mod->funcs[fi], *caller = &mod->funcs[top(w)->func];
    struct frame *f = top(w);
    uint32_t local_base = (f->local_base + caller->frame_size + 15) & ~15u;
    if ((size_t)local_base + callee->frame_size > L->local_size) {
        xfail(L, CUDA_ERROR_LAUNCH_FAILED, i, "call stack overflow (local memory) calling %s", callee->name);
        return -1;
    }
    uint32_t reg_base = f->reg_base + (uint32_t)caller->nregs;
    if (reg_base + (uint32_t)callee->nregs > w->reg_cap) {
        if (w->nframes > 4096) { xfail(L, CUDA_ERROR_LAUNCH_FAILED, i, "call stack overflow"); return -1; }
        uint32_t cap = (reg_base + (uint32_t)callee->nregs) * 2;
        uint64_t *nr = realloc(w->rstack, (size_t)cap * WARP * sizeof(uint64_t));
        if (!nr) { xfail(L, CUDA_ERROR_OUT_OF_MEMORY, i, "out of memory for registers"); return -1; }
        w->rstack = nr;
        w->reg_cap = cap;
        set_regs(w);
    }
    if (w->nframes == w->cap_frames) {
        int cap = w->cap_frames * 2;
        struct frame *nf = realloc(w->frames, sizeof *nf * (size_t)cap);
        if (!nf) { xfail(L, CUDA_ERROR_OUT_OF_MEMORY, i, "out of memory for frames"); return -1; }
        w->frames = nf;
        w->cap_frames = cap;
        f = top(w);
    }
    /* arguments into the callee's frame */
    uint32_t margs = m & ~again;
    for (int k = 0; k < cs->narg; k++) {
        uint32_t sz = cs->arg_size[k], to = local_base + callee->params[k].offset;
        if (cs->arg_reg[k] != REF_NONE) {
            const uint64_t *r = SRC(x, cs->arg_reg[k]);
            for (uint32_t mm = margs; mm; mm &= mm - 1) {
                int l = __builtin_ctz(mm);
                memcpy(w->local + (size_t)l * L->local_size + to, &r[l], sz > 8 ? 8 : sz);
            }
        } else {
            for (uint32_t mm = margs; mm; mm &= mm - 1) {
                int l = __builtin_ctz(mm);
                uint8_t *lm = w->local + (size_t)l * L->local_size;
                memmove(lm + to, lm + f->local_base + cs->arg_off[k], sz);
            }
        }
    }
    for (uint32_t mm = w->cur & ~m; mm; mm &= mm - 1) w->lane_pc[__builtin_ctz(mm)] = w->pc + 1;
    for (uint32_t mm = again; mm; mm &= mm - 1) w->lane_pc[__builtin_ctz(mm)] = w->pc;
    m &= ~again;
    struct frame *nf = &w->frames[w->nframes++];
    nf->func = fi;
    nf->call_pc = w->pc;
    nf->members = m;
    nf->returned = 0;
    nf->reg_base = reg_base;
    nf->local_base = local_base;
    set_regs(w);
    w->cur = m;
    w->pc = callee->first;
    w->merge_pc = INT32_MAX;
    return 0;
}

static void lanes_exit(struct block *b, struct warp *w, uint32_t m)
{
    w->exited |= m;
    w->bar_blocked &= ~m;
    w->sync_blocked &= ~m;
    b->live_threads -= __builtin_popcount(m);
    ptx_bar_check_all(b);
}

/* guard mask of predicate slot g (<<1 | negate) over lanes m */
static inline uint32_t guard_mask(const struct warp *w, int32_t g, uint32_t m)
{
    const uint64_t *p = w->regs + (size_t)(g >> 1) * WARP;
    uint32_t r = 0;
    for (int l = 0; l < WARP; l++) r |= (uint32_t)(p[l] & 1) << l;
    if (g & 1) r = ~r;
    return r & m;
}

static inline int warp_sync_wait(struct xctx *x, uint32_t member_ref)
{
    struct warp *w = x->w;
    uint32_t need = w->valid & ~w->exited;
    if (member_ref != REF_NONE) need &= (uint32_t)SRC(x, member_ref)[__builtin_ctz(w->cur)];
    if (!w->force_sync && (need & ~w->cur)) {
        uint32_t c = w->cur;
        desched(w);
        w->sync_blocked |= c;
        return 1;
    }
    w->force_sync = false;
    return 0;
}

static int run(struct block *b, struct warp *w, long *bp);
/* Run warp w for at most *budget_io instructions (decremented as they run). */
int ptx_run_warp(struct block *b, struct warp *w, long *budget_io)
{
    long budget = *budget_io;
    int r = run(b, w, &budget);
    *budget_io = budget;
    return r;
}

static int run(struct block *b, struct warp *w, long *bp)
{
#define budget (*bp)
    const struct launch_state *L = b->L;
    const struct ptx_module *mod = L->m;
    const struct ins *code = mod->code;
    struct xctx x = {w, b, L, mod->pool};
    for (;;) {
        if (!w->cur) {
            int r = pick(b, w);
            if (r != W_RUN) return r;
        }
        if (w->pc == w->merge_pc) merge(w);
        if (--budget < 0) {
            if (w->merge_pc != INT32_MAX) { desched(w); w->rotate = true; }
            return W_YIELD;
        }
        const struct ins *i = &code[w->pc];
        uint32_t m = w->cur;
        if (i->guard >= 0) m = guard_mask(w, i->guard, m);
        int rc = 0;
        switch (i->op) {
        case OP_BRA: branch(w, m, (int32_t)i->imm); continue;
        case OP_CALL: rc = do_call(&x, i, m); break;
        case OP_BRX: if (do_brx(&x, i, m) < 0) return W_ERROR; continue;
        case OP_RET:
            if (w->nframes == 1) { lanes_exit(b, w, m); drop(w, m); }
            else { top(w)->returned |= m; drop(w, m); }
            continue;
        case OP_EXIT: lanes_exit(b, w, m); drop(w, m); continue;
        case OP_TRAP:
            if (m) { xfail(L, CUDA_ERROR_LAUNCH_FAILED, i, "trap"); return W_ERROR; }
            w->pc++;
            continue;
        case OP_BAR:
            if (i->sub == BAR_WARP) {
                if (warp_sync_wait(&x, i->o[0])) continue;
                w->pc++;
                continue;
            }
            rc = do_bar(&x, i, m);
            if (rc < 0) return W_ERROR;
            continue;
        case OP_MEMBAR: case OP_FENCE:
            if (m) __atomic_thread_fence(__ATOMIC_SEQ_CST);
            w->pc++;
            continue;
        case OP_NANOSLEEP:
            w->pc++;
            if (m) return W_YIELD;
            continue;
        case OP_BRKPT: case OP_GRIDDEP: case OP_PMEVENT: case OP_PREFETCH: case OP_PREFETCHU:
            w->pc++;
            continue;
        case OP_MOV:
            if (m) {
                const uint64_t *a = SRC(&x, i->o[1]);
                uint64_t *d = DST(&x, i->o[0]);
                if (i->t == T_PRED && (i->o[1] & REF_NEGBIT)) FOR_LANES(m, d[l] = !(a[l] & 1));
                else FOR_LANES(m, d[l] = a[l]);
            }
            w->pc++;
            continue;
        case OP_MOV_SREG: if (m) mov_sreg(&x, i, m); w->pc++; continue;
        case OP_MOV_ADDR: if (m) rc = mov_addr(&x, i, m); break;
        case OP_MOV_PACK:
            if (m) {
                uint64_t *d = DST(&x, i->o[0]);
                int es = i->t2 * 8;
                uint64_t em = es == 64 ? ~0ull : (1ull << es) - 1;
                uint64_t acc[WARP] = {0};
                for (int e = 0; e < i->vec; e++) {
                    const uint64_t *a = SRC(&x, i->o[1 + e]);
                    FOR_LANES(m, acc[l] |= (a[l] & em) << (e * es));
                }
                FOR_LANES(m, d[l] = acc[l]);
            }
            break;
        case OP_MOV_UNPACK:
            if (m) {
                const uint64_t *a = SRC(&x, i->o[i->vec]);
                uint64_t tmp[WARP];
                FOR_LANES(m, tmp[l] = a[l]);
                int es = i->t2 * 8;
                uint64_t em = es == 64 ? ~0ull : (1ull << es) - 1;
                for (int e = 0; e < i->vec; e++) {
                    uint64_t *d = DST(&x, i->o[e]);
                    FOR_LANES(m, d[l] = (tmp[l] >> (e * es)) & em);
                }
            }
            break;
        case OP_LD: case OP_ST: if (m) rc = x_ldst(&x, i, m); break;
        case OP_LD_POLL:
            if (!m) break;
            if ((rc = x_ldst(&x, i, m)) < 0) break;
            /* in a cooperative launch a block polling global memory may wait
             * for another block: give the worker to the next one now rather
             * than spin out the time slice */
            if (L->l->cooperative) { w->pc++; return W_YIELD; }
            break;
        case OP_CVTA: case OP_ISSPACEP: if (m) rc = x_ldst(&x, i, m); break;
        case OP_ATOM: case OP_RED: if (m) rc = x_atom(&x, i, m); break;
        case OP_VPRINTF: if (m) rc = x_vprintf(&x, i, m); break;
        case OP_SETCOND: if (m) rc = x_setcond(&x, i, m); break;
        case OP_TEX: case OP_TLD4:
            if (i->xf == X_NONE) goto unsupported;
            if (m) rc = x_tex(&x, i, m);
            break;
        case OP_SULD: case OP_SUST:
            if (i->xf == X_NONE) goto unsupported;
            if (m) rc = x_surf(&x, i, m);
            break;
        case OP_SHFL: case OP_VOTE: case OP_MATCH: case OP_REDUX: case OP_ACTIVEMASK:
            if ((i->fl & F_SYNC) && warp_sync_wait(&x, i->op == OP_SHFL ? i->o[5] : i->op == OP_VOTE ? i->o[2] : i->o[2]))
                continue;
            if (m) rc = x_warp(&x, i, m);
            break;
        case OP_MMA: case OP_LDMATRIX: case OP_STMATRIX: case OP_MOVMATRIX: case OP_WMMA:
            if (i->xf == X_NONE) goto unsupported;
            /* .sync.aligned: the whole warp executes it together */
            if (warp_sync_wait(&x, REF_NONE)) continue;
            if (m) rc = x_tensor(&x, i, m);
            break;
        case OP_CP:
            if (i->xf == X_NONE) goto unsupported;
            if (i->xf == X_ASYNC) { if (m) rc = x_bulk(&x, i, m); break; }
            if (m) rc = x_cpasync(&x, i, m);
            break;
        case OP_MBARRIER:
            if (!m) break;
            if ((rc = x_mbar(&x, i, m)) <= 0) break;
            /* a wait found its phase incomplete: the thread polls again, and
             * the arrivals it waits for come from other warps or other lane
             * groups of this one: let them run first (lowest-PC-first would
             * pick this group again if it is the lowest one) */
            w->pc++;
            if (w->merge_pc != INT32_MAX) {
                w->rotate = w->pc < w->merge_pc;
                desched(w);
            }
            return W_YIELD;
        default:
            if (m || i->xf == X_NONE) {
                switch (i->xf) {
                case X_INT: rc = x_int(&x, i, m); break;
                case X_FLOAT: rc = x_float(&x, i, m); break;
                case X_HALF: rc = x_half(&x, i, m); break;
                case X_CVT: rc = x_cvt(&x, i, m); break;
                case X_BITS: rc = x_bits(&x, i, m); break;
                default:
                unsupported:
                    xfail(L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "instruction not supported yet");
                    return W_ERROR;
                }
            }
            break;
        }
        if (rc < 0) return W_ERROR;
        if (i->op == OP_CALL) continue; /* pc set by the call */
        w->pc++;
    }
}
#undef budget
