/*
 * async.c — mbarrier objects and the non-tensor cp.async.bulk family
 * (PTX ISA 9.0, 9.7.9.25 and 9.7.13.15).
 *
 * An mbarrier is 8 bytes of shared memory whose layout the ISA leaves
 * opaque; ours:
 *   bits  0..19  pending arrivals of the current phase
 *   bits 20..39  expected arrivals per phase
 *   bits 40..60  tx-count, 21-bit two's complement (the ISA's range is
 *                +-(2^20 - 1); it goes negative when a copy completes
 *                before its expect_tx, which is what nvcc's code does)
 *   bit  63      phase parity
 * The phase completes when pending arrivals and tx-count are both zero:
 * the parity flips, pending := expected, tx := 0. A state token (what
 * arrive returns) is the object's value just after the arrival, before a
 * completion resets it: its parity names the phase it arrived on, and
 * pending_count reads the arrivals still missing then.
 *
 * Blocks run on one host thread each and a cluster is one CTA, so an
 * mbarrier is only ever touched by its own block: no atomics are needed.
 * Lanes of one instruction act in lane order, each with its own result.
 *
 * Bulk copies complete at issue (as cp.async does): the data is in place
 * and the mbarrier's tx-count decremented before the next instruction, so
 * commit_group / wait_group have nothing left to wait for. Every address is
 * checked (x_resolve) before any byte moves.
 */
#include "internal.h"

#define MB_CNT_MAX 0xFFFFFu
#define MB_TX_MAX 0xFFFFF

static inline uint32_t mb_pend(uint64_t v) { return (uint32_t)v & MB_CNT_MAX; }
static inline uint32_t mb_exp(uint64_t v) { return (uint32_t)(v >> 20) & MB_CNT_MAX; }
static inline int32_t mb_tx(uint64_t v)
{
    int32_t t = (int32_t)((v >> 40) & 0x1FFFFF);
    return t & 0x100000 ? t - 0x200000 : t;
}
static inline unsigned mb_phase(uint64_t v) { return (unsigned)(v >> 63); }
static inline uint64_t mb_make(uint32_t pend, uint32_t exp, int32_t tx, unsigned phase)
{
    return (uint64_t)pend | (uint64_t)exp << 20 | ((uint64_t)(uint32_t)tx & 0x1FFFFF) << 40 | (uint64_t)phase << 63;
}
/* the phase is complete: start the next one */
static inline uint64_t mb_settle(uint64_t v)
{
    if (mb_pend(v) == 0 && mb_tx(v) == 0) return mb_make(mb_exp(v), mb_exp(v), 0, mb_phase(v) ^ 1);
    return v;
}

/* resolve the mbarrier operand of lanes m; it must be shared memory */
static bool mb_resolve(struct xctx *x, const struct ins *i, uint32_t m, uint8_t **ptr)
{
    uint64_t a[WARP];
    x_lane_addrs(x, i, m, a);
    if (!x_resolve(x, i, m, a, 8, 8, i->space, true, ptr)) return false;
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        if (ptr[l] < x->b->shared || ptr[l] >= x->b->shared + x->L->shared_size) {
            xfail(x->L, CUDA_ERROR_ILLEGAL_ADDRESS, i, "lane %d: mbarrier at 0x%llx is not in shared memory", l,
                  (unsigned long long)a[l]);
            return false;
        }
    }
    return true;
}

static inline uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
/* every change of an mbarrier goes through here: it is progress for the
 * deadlock check of the waits */
static inline void st64(struct xctx *x, uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
    x->b->mbar_idle = 0;
}

/* Failed waits in a row with no mbarrier of the block changing: only the
 * block's own threads can complete its phases, and a waiting warp yields
 * after each failure, so every other warp runs a whole time slice per
 * failure; this many means no thread will ever arrive (a deadlock the GPU
 * would hang on): fail the launch instead. */
#define MB_IDLE_LIMIT (1u << 22)

/* tx-count += d; false (after xfail) if it leaves the ISA's range */
static bool mb_tx_add(struct xctx *x, const struct ins *i, uint8_t *p, int64_t d)
{
    uint64_t v = ld64(p);
    int64_t t = (int64_t)mb_tx(v) + d;
    if (t > MB_TX_MAX || t < -MB_TX_MAX) {
        xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "mbarrier tx-count %lld out of range", (long long)t);
        return false;
    }
    st64(x, p, mb_settle(mb_make(mb_pend(v), mb_exp(v), (int32_t)t, mb_phase(v))));
    return true;
}

/* arrive with `cnt` (drop: also lower the expected count); returns the token */
static bool mb_arrive(struct xctx *x, const struct ins *i, uint8_t *p, uint32_t cnt, bool drop, uint64_t *token)
{
    uint64_t v = ld64(p);
    uint32_t pend = mb_pend(v), exp = mb_exp(v);
    if (cnt == 0 || cnt > pend || (drop && cnt > exp)) {
        xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i,
              "mbarrier arrive count %u exceeds the pending count %u (uninitialised or over-arrived)", cnt, pend);
        return false;
    }
    v = mb_make(pend - cnt, drop ? exp - cnt : exp, mb_tx(v), mb_phase(v));
    *token = v;
    st64(x, p, mb_settle(v));
    return true;
}

int x_mbar(struct xctx *x, const struct ins *i, uint32_t m)
{
    uint8_t *ptr[WARP];
    if (i->sub == MB_PENDING) {
        const uint64_t *s = SRC(x, i->o[1]);
        uint64_t *d = DST(x, i->o[0]);
        FOR_LANES(m, d[l] = mb_pend(s[l]));
        return 0;
    }
    if (!mb_resolve(x, i, m, ptr)) return -1;
    const uint64_t *a1 = i->o[1] != REF_NONE ? SRC(x, i->o[1]) : NULL;
    switch (i->sub) {
    case MB_INIT:
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int l = __builtin_ctz(mm);
            uint32_t c = (uint32_t)a1[l];
            if (c == 0 || c > MB_CNT_MAX) {
                xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "mbarrier.init count %u out of range", c);
                return -1;
            }
            st64(x, ptr[l], mb_make(c, c, 0, 0));
        }
        return 0;
    case MB_INVAL:
        FOR_LANES(m, st64(x, ptr[l], 0));
        return 0;
    case MB_EXPECT_TX: case MB_COMPLETE_TX:
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int l = __builtin_ctz(mm);
            int64_t d = (int64_t)(uint32_t)a1[l];
            if (!mb_tx_add(x, i, ptr[l], i->sub == MB_EXPECT_TX ? d : -d)) return -1;
        }
        return 0;
    case MB_CP_ARRIVE:
        /* every cp.async of the thread is complete already: the triggered
         * arrive happens now. Without .noinc the pending count was raised by
         * one first, so the net effect is none. */
        if (!(i->bop & MBF_NOINC)) return 0;
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int l = __builtin_ctz(mm);
            uint64_t tok;
            if (!mb_arrive(x, i, ptr[l], 1, false, &tok)) return -1;
        }
        return 0;
    case MB_ARRIVE: {
        uint64_t *d = i->o[0] != REF_NONE ? DST(x, i->o[0]) : NULL;
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int l = __builtin_ctz(mm);
            uint32_t cnt = 1;
            if (i->bop & MBF_EXPECT_TX) {
                /* arrive.expect_tx: expect-tx(txCount), then arrive-on with count 1 */
                if (!mb_tx_add(x, i, ptr[l], (int64_t)(uint32_t)a1[l])) return -1;
            } else if (a1) {
                cnt = (uint32_t)a1[l];
            }
            uint64_t tok;
            if (!mb_arrive(x, i, ptr[l], cnt, (i->bop & MBF_DROP) != 0, &tok)) return -1;
            if (d) d[l] = tok;
        }
        return 0;
    }
    case MB_TEST_WAIT: case MB_TRY_WAIT: {
        uint64_t *d = DST(x, i->o[0]);
        bool parity = (i->bop & MBF_PARITY) != 0;
        int rc = 0;
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int l = __builtin_ctz(mm);
            /* the phase named by the token (or parity) is complete once the
             * object's parity differs from it */
            unsigned want = parity ? (unsigned)(a1[l] & 1) : mb_phase(a1[l]);
            bool done = mb_phase(ld64(ptr[l])) != want;
            d[l] = done;
            if (!done) rc = 1;
        }
        if (rc && ++x->b->mbar_idle >= MB_IDLE_LIMIT) {
            xfail(x->L, CUDA_ERROR_LAUNCH_FAILED, i,
                  "deadlock in block (%u,%u,%u): an mbarrier phase waited for never completes", x->b->ctaid[0],
                  x->b->ctaid[1], x->b->ctaid[2]);
            return -1;
        }
        return rc;
    }
    }
    xfail(x->L, CUDA_ERROR_ILLEGAL_INSTRUCTION, i, "mbarrier operation not supported");
    return -1;
}

/* one element of cp.reduce.async.bulk: *d := op(*d, *s) */
static void reduce_elem(const struct ins *i, uint8_t *d, const uint8_t *s)
{
    int t = i->t;
    unsigned n = ptx_type_size[t];
    if (t == T_F32) {
        float a, b;
        memcpy(&a, d, 4); memcpy(&b, s, 4);
        a += b;
        memcpy(d, &a, 4);
        return;
    }
    if (t == T_F64) {
        double a, b;
        memcpy(&a, d, 8); memcpy(&b, s, 8);
        a += b;
        memcpy(d, &a, 8);
        return;
    }
    uint64_t a = 0, b = 0;
    memcpy(&a, d, n); memcpy(&b, s, n);
    uint64_t mask = n == 8 ? ~0ull : (1ull << (n * 8)) - 1;
    int64_t sa = n == 8 ? (int64_t)a : (int64_t)(int32_t)a, sb = n == 8 ? (int64_t)b : (int64_t)(int32_t)b;
    bool sg = t_signed(t);
    uint64_t r;
    switch (i->bop) {
    case AOP_ADD: r = a + b; break;
    case AOP_MIN: r = sg ? (uint64_t)(sa < sb ? sa : sb) : (a < b ? a : b); break;
    case AOP_MAX: r = sg ? (uint64_t)(sa > sb ? sa : sb) : (a > b ? a : b); break;
    case AOP_AND: r = a & b; break;
    case AOP_OR: r = a | b; break;
    case AOP_XOR: r = a ^ b; break;
    case AOP_INC: r = a >= b ? 0 : a + 1; break;
    case AOP_DEC: r = (a == 0 || a > b) ? b : a - 1; break;
    default: r = a; break;
    }
    r &= mask;
    memcpy(d, &r, n);
}

int x_bulk(struct xctx *x, const struct ins *i, uint32_t m)
{
    if (i->sub != BULK_COPY && i->sub != BULK_REDUCE) return 0; /* prefetch (a hint), commit, wait: done */
    const uint64_t *da = SRC(x, i->o[0]), *sa = SRC(x, i->o[1]), *sz = SRC(x, i->o[2]);
    /* lanes one at a time: sizes differ per lane, and a lane's mbarrier
     * update must see the previous lane's */
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        uint32_t bit = 1u << l, n = (uint32_t)sz[l];
        const unsigned align = 16;
        if (n % 16) {
            xfail(x->L, CUDA_ERROR_MISALIGNED_ADDRESS, i, "lane %d: bulk copy size %u is not a multiple of 16", l, n);
            return -1;
        }
        uint8_t *dp[WARP], *sp[WARP], *mp[WARP];
        uint64_t a[3][WARP];
        a[0][l] = i->vec & 1 ? (uint32_t)da[l] : da[l];
        a[1][l] = i->vec & 2 ? (uint32_t)sa[l] : sa[l];
        if (n) {
            if (!x_resolve(x, i, bit, a[0], n, align, i->space, true, dp)) return -1;
            if (!x_resolve(x, i, bit, a[1], n, align, i->t2, false, sp)) return -1;
        }
        if (i->o[3] != REF_NONE) {
            const uint64_t *ma = SRC(x, i->o[3]);
            a[2][l] = i->vec & 4 ? (uint32_t)ma[l] : ma[l];
            if (!x_resolve(x, i, bit, a[2], 8, 8, SP_SHARED, true, mp)) return -1;
        }
        if (n) {
            if (i->sub == BULK_COPY) {
                memmove(dp[l], sp[l], n);
            } else {
                unsigned es = ptx_type_size[i->t];
                for (uint32_t k = 0; k < n; k += es) reduce_elem(i, dp[l] + k, sp[l] + k);
            }
        }
        if (i->o[3] != REF_NONE && !mb_tx_add(x, i, mp[l], -(int64_t)n)) return -1;
    }
    return 0;
}
