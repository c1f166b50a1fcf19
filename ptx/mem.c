/*
 * mem.c — address resolution and the data-movement instructions ld, st,
 * cvta and isspacep.
 *
 * Every access is checked before any byte moves: global (and .const, which
 * lives in device memory) against the launch's memory.valid callback, with a
 * small per-warp cache of ranges already proven valid (a warp's accesses are
 * usually one contiguous range, so one callback covers all 32 lanes); shared,
 * local and parameter accesses against their sizes; generic addresses are
 * first sorted into their window (internal.h). A bad or misaligned address
 * fails the launch (ILLEGAL_ADDRESS / MISALIGNED_ADDRESS) with nothing
 * written, not even by the lanes whose addresses were fine.
 */
#include "internal.h"

#include <stdio.h>

static inline uint32_t frame_local_base(const struct warp *w) { return w->frames[w->nframes - 1].local_base; }

void x_lane_addrs(struct xctx *x, const struct ins *i, uint32_t m, uint64_t *addr)
{
    uint64_t k = (uint64_t)i->imm;
    switch (i->akind) {
    case AK_GLOBAL: k += x->L->l->global_addrs[i->asym]; break;
    case AK_DYNSHARED: k += x->L->dyn_off; break;
    case AK_FRAME: k += frame_local_base(x->w); break;
    case AK_KPARAM: k += PTX_PARAM_WIN; break;
    default: break;
    }
    if (i->abase != REF_NONE) {
        const uint64_t *r = SRC(x, i->abase);
        /* 32-bit addressing: register + offset wraps at 32 bits (nvcc relies
         * on it), and only then is the window base added. */
        if (i->fl & F_ADDR32) {
            uint64_t base = k - (uint64_t)i->imm, imm = (uint64_t)i->imm;
            FOR_LANES(m, addr[l] = base + (uint32_t)(r[l] + imm));
        }
        else FOR_LANES(m, addr[l] = r[l] + k);
    } else {
        FOR_LANES(m, addr[l] = k);
    }
}

static bool cached(const struct warp *w, uint64_t lo, uint64_t hi)
{
    for (int k = 0; k < 4; k++)
        if (lo >= w->vlo[k] && hi <= w->vhi[k]) return true;
    return false;
}

static bool check_range(struct xctx *x, uint64_t lo, uint64_t hi)
{
    struct warp *w = x->w;
    if (hi <= lo) return false; /* wrapped: never valid (and an empty cache entry never matches) */
    if (cached(w, lo, hi)) return true;
    const struct ptx_memory *mem = &x->L->mem;
    if (!mem->valid(mem->ctx, lo, hi - lo)) return false;
    w->vlo[w->vnext & 3] = lo;
    w->vhi[w->vnext & 3] = hi;
    w->vnext++;
    return true;
}

bool x_check_global(struct xctx *x, const struct ins *i, uint32_t m, const uint64_t *addr, unsigned n)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        if (addr[l] < lo) lo = addr[l];
        if (addr[l] > hi) hi = addr[l];
    }
    if (hi + n < hi) goto bad_lane;
    if (check_range(x, lo, hi + n)) return true;
bad_lane:
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        if (addr[l] + n < addr[l] || !check_range(x, addr[l], addr[l] + n)) {
            xfail(x->L, CUDA_ERROR_ILLEGAL_ADDRESS, i, "lane %d: %u bytes at 0x%llx are not device memory", l, n,
                  (unsigned long long)addr[l]);
            return false;
        }
    }
    return true;
}

PTX_EMULATED_ACCESS int x_setcond(struct xctx *x, const struct ins *i, uint32_t m)
{
    struct warp *w = x->w;
    uint32_t base = w->frames[w->nframes - 1].local_base;
    uint64_t addr[32] = {0};
    uint32_t val[32] = {0};
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        const uint8_t *lm = w->local + (size_t)l * x->L->local_size + base;
        memcpy(&addr[l], lm + i->o[1], 8);
        memcpy(&val[l], lm + i->o[2], 4);
    }
    if (!x_check_global(x, i, m, addr, 4)) return -1;
    /* racing calls are undefined (CUDA's words): the last lane's value wins */
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        __atomic_store_n((uint32_t *)(uintptr_t)addr[l], val[l], __ATOMIC_RELAXED);
    }
    return 0;
}

/* Resolve every lane's address to a host pointer; false after xfail. */
static bool resolve_al(struct xctx *x, const struct ins *i, uint32_t m, const uint64_t *addr, unsigned n,
                       unsigned align, int space, bool write, uint8_t **ptr);
static bool resolve(struct xctx *x, const struct ins *i, uint32_t m, const uint64_t *addr, unsigned n, int space,
                    bool write, uint8_t **ptr)
{
    return resolve_al(x, i, m, addr, n, n, space, write, ptr);
}
bool x_resolve(struct xctx *x, const struct ins *i, uint32_t m, const uint64_t *addr, unsigned n, unsigned align,
               int space, bool write, uint8_t **ptr)
{
    return resolve_al(x, i, m, addr, n, align, space, write, ptr);
}
static bool resolve_al(struct xctx *x, const struct ins *i, uint32_t m, const uint64_t *addr, unsigned n,
                       unsigned align, int space, bool write, uint8_t **ptr)
{
    const struct launch_state *L = x->L;
    struct warp *w = x->w;
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        if (addr[l] & (align - 1)) {
            xfail(L, CUDA_ERROR_MISALIGNED_ADDRESS, i, "lane %d: address 0x%llx not aligned to %u", l,
                  (unsigned long long)addr[l], align);
            return false;
        }
    }
    if (space == SP_GLOBAL || space == SP_CONST) {
        if (!x_check_global(x, i, m, addr, n)) return false;
        FOR_LANES(m, ptr[l] = (uint8_t *)(uintptr_t)addr[l]);
        return true;
    }
    uint32_t gmask = 0;
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        uint64_t a = addr[l];
        int sp = space;
        if (sp == SP_GENERIC || sp == SP_PARAM) {
            uint64_t tag = a & PTX_WIN_MASK;
            if (tag == PTX_SHARED_WIN && sp == SP_GENERIC) { sp = SP_SHARED; a -= PTX_SHARED_WIN; }
            else if (tag == PTX_LOCAL_WIN && sp == SP_GENERIC) { sp = SP_LOCAL; a -= PTX_LOCAL_WIN; }
            else if (tag == PTX_PARAM_WIN) { sp = SP_PARAM; a -= PTX_PARAM_WIN; }
            else if (sp == SP_PARAM) sp = SP_LOCAL; /* a .func parameter: frame memory */
            else { gmask |= 1u << l; continue; }
        }
        switch (sp) {
        case SP_SHARED:
            if (a >= L->shared_size || n > L->shared_size - a) goto bad;
            ptr[l] = x->b->shared + a;
            break;
        case SP_LOCAL:
            if (a >= L->local_size || n > L->local_size - a) goto bad;
            ptr[l] = w->local + (size_t)l * L->local_size + a;
            break;
        case SP_PARAM: {
            size_t pb = L->kf->param_bytes;
            if (write || a >= pb || n > pb - a) goto bad;
            ptr[l] = (uint8_t *)(uintptr_t)L->l->params + a;
            break;
        }
        default: goto bad;
        }
        continue;
    bad:
        xfail(L, CUDA_ERROR_ILLEGAL_ADDRESS, i, "lane %d: %s of %u bytes at 0x%llx is out of bounds", l,
              write ? "store" : "load", n, (unsigned long long)addr[l]);
        return false;
    }
    if (gmask) {
        if (!x_check_global(x, i, gmask, addr, n)) return false;
        FOR_LANES(gmask, ptr[l] = (uint8_t *)(uintptr_t)addr[l]);
    }
    return true;
}

uint8_t *x_addr(struct xctx *x, const struct ins *i, int l, uint64_t a, int space, unsigned n)
{
    uint64_t addr[WARP];
    uint8_t *ptr[WARP];
    addr[l] = a;
    if (!resolve(x, i, 1u << l, addr, n, space, true, ptr)) return NULL;
    return ptr[l];
}

/* resolve the addresses of an atomic: every lane, writable */
bool x_resolve_rw(struct xctx *x, const struct ins *i, uint32_t m, unsigned n, uint8_t **ptr);
bool x_resolve_rw(struct xctx *x, const struct ins *i, uint32_t m, unsigned n, uint8_t **ptr)
{
    uint64_t addr[WARP];
    x_lane_addrs(x, i, m, addr);
    return resolve(x, i, m, addr, n, i->space, true, ptr);
}

static int do_cvta(struct xctx *x, const struct ins *i, uint32_t m)
{
    const uint64_t *a = SRC(x, i->o[1]);
    uint64_t *d = DST(x, i->o[0]);
    uint64_t win = i->space == SP_SHARED ? PTX_SHARED_WIN : i->space == SP_LOCAL ? PTX_LOCAL_WIN : 0;
    bool narrow = ptx_type_size[i->t] == 4;
    if (i->op == OP_ISSPACEP) {
        const struct launch_state *L = x->L;
        FOR_LANES(m, {
            uint64_t v = a[l], tag = v & PTX_WIN_MASK;
            bool r;
            switch (i->space) {
            case SP_SHARED: r = tag == PTX_SHARED_WIN && v - PTX_SHARED_WIN < L->shared_size; break;
            case SP_LOCAL: r = tag == PTX_LOCAL_WIN && v - PTX_LOCAL_WIN < L->local_size; break;
            case SP_PARAM: r = tag == PTX_PARAM_WIN; break;
            case SP_GLOBAL: r = tag != PTX_SHARED_WIN && tag != PTX_LOCAL_WIN && tag != PTX_PARAM_WIN; break;
            default: r = false; break;
            }
            d[l] = r;
        });
        return 0;
    }
    if (i->sub) { /* cvta.to: generic -> space */
        if (narrow) FOR_LANES(m, d[l] = (uint32_t)(a[l] - win));
        else FOR_LANES(m, d[l] = a[l] - win);
    } else {
        uint64_t mask = narrow ? 0xffffffffull : ~0ull;
        FOR_LANES(m, d[l] = ((mask & a[l]) + win) & (narrow ? 0xffffffffull : ~0ull));
    }
    return 0;
}

PTX_EMULATED_ACCESS int x_ldst(struct xctx *x, const struct ins *i, uint32_t m)
{
    if (i->op == OP_CVTA || i->op == OP_ISSPACEP) return do_cvta(x, i, m);
    const struct launch_state *L = x->L;
    unsigned es = ptx_type_size[i->t];
    unsigned n = es * i->vec;
    bool st = i->op == OP_ST;
    /* kernel parameter at a fixed offset: uniform, read once */
    if (!st && i->akind == AK_KPARAM && i->abase == REF_NONE) {
        uint64_t off = (uint64_t)i->imm;
        if (off >= L->kf->param_bytes || n > L->kf->param_bytes - off) {
            xfail(L, CUDA_ERROR_ILLEGAL_ADDRESS, i, "parameter read out of bounds");
            return -1;
        }
        const uint8_t *src = (const uint8_t *)L->l->params + off;
        for (unsigned e = 0; e < i->vec; e++) {
            uint64_t v = 0;
            memcpy(&v, src + e * es, es);
            if (t_signed(i->t) && es < 8) v = (uint64_t)((int64_t)(v << (64 - 8 * es)) >> (64 - 8 * es));
            uint64_t *d = DST(x, i->o[e]);
            FOR_LANES(m, d[l] = v);
        }
        return 0;
    }
    uint64_t addr[WARP];
    uint8_t *ptr[WARP];
    x_lane_addrs(x, i, m, addr);
    if (!resolve(x, i, m, addr, n, i->space, st, ptr)) return -1;
    for (unsigned e = 0; e < i->vec; e++) {
        unsigned off = e * es;
        if (st) {
            const uint64_t *s = SRC(x, i->o[e]);
            switch (es) {
            case 1: FOR_LANES(m, { uint8_t v = (uint8_t)s[l]; memcpy(ptr[l] + off, &v, 1); }); break;
            case 2: FOR_LANES(m, { uint16_t v = (uint16_t)s[l]; memcpy(ptr[l] + off, &v, 2); }); break;
            case 4: FOR_LANES(m, { uint32_t v = (uint32_t)s[l]; memcpy(ptr[l] + off, &v, 4); }); break;
            default: FOR_LANES(m, memcpy(ptr[l] + off, &s[l], 8)); break;
            }
        } else {
            uint64_t *d = DST(x, i->o[e]);
            bool sg = t_signed(i->t);
            switch (es) {
            case 1:
                if (sg) FOR_LANES(m, { int8_t v; memcpy(&v, ptr[l] + off, 1); d[l] = (uint64_t)(int64_t)v; });
                else FOR_LANES(m, { uint8_t v; memcpy(&v, ptr[l] + off, 1); d[l] = v; });
                break;
            case 2:
                if (sg) FOR_LANES(m, { int16_t v; memcpy(&v, ptr[l] + off, 2); d[l] = (uint64_t)(int64_t)v; });
                else FOR_LANES(m, { uint16_t v; memcpy(&v, ptr[l] + off, 2); d[l] = v; });
                break;
            case 4:
                if (sg) FOR_LANES(m, { int32_t v; memcpy(&v, ptr[l] + off, 4); d[l] = (uint64_t)(int64_t)v; });
                else FOR_LANES(m, { uint32_t v; memcpy(&v, ptr[l] + off, 4); d[l] = v; });
                break;
            default: FOR_LANES(m, memcpy(&d[l], ptr[l] + off, 8)); break;
            }
        }
    }
    return 0;
}
