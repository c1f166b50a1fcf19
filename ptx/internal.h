/*
 * internal.h — the decoded form of a PTX module and the state of a running
 * launch, shared by the files of ptx/ (nothing here is API).
 *
 * Decoded form. parse.c/decode.c turn each PTX instruction into one fixed-size
 * `struct ins`: an opcode from ops.def, its types and modifiers as small
 * enums, and operands as resolved references (register slot, constant-pool
 * slot, or an address: base kind + symbol + displacement). Branch targets are
 * instruction indices, callees are function indices. Nothing at run time
 * looks at a string.
 *
 * Registers. Every register of a function, whatever its PTX type, is a slot
 * of 32 uint64_t (one per lane, structure of arrays, so lane loops vectorise).
 * Values are kept in the low bits; every reader masks or casts to the width of
 * the instruction's type, so the upper bits never matter. Immediates live in a
 * module-wide pool of the same shape (each value broadcast to 32 lanes), so an
 * operand is always "a pointer to 32 lanes".
 *
 * Address windows (generic addressing). Device memory is identity-mapped host
 * memory, i.e. user-space addresses below 2^57 on every Linux we run on. The
 * shared, local and kernel-parameter windows live in the top byte range, which
 * is kernel space on x86-64 and AArch64 and so never a device address:
 *   shared  0xFE00'0000'0000'0000 + offset in the block's shared memory
 *   local   0xFD00'0000'0000'0000 + offset in the thread's local memory
 *   param   0xFC00'0000'0000'0000 + offset in the kernel parameter buffer
 */
#ifndef RGPU_PTX_INTERNAL_H
#define RGPU_PTX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ptx.h"

#define PTX_SHARED_WIN 0xFE00000000000000ull
#define PTX_LOCAL_WIN 0xFD00000000000000ull
#define PTX_PARAM_WIN 0xFC00000000000000ull
#define PTX_WIN_MASK 0xFF00000000000000ull
/* a function's address (mov.u64 %rd, f; function pointers, vtables): this
 * window + 16 * its index in the module; only an indirect call accepts it */
#define PTX_FUNC_WIN 0xFB00000000000000ull
#define PTX_FUNC_ADDR(fi) (PTX_FUNC_WIN + 16ull * (uint64_t)(fi))

#define WARP 32
#define FULL_MASK 0xffffffffu

/* ---- opcodes (ops.def) ---- */
enum op_family { FAM_CTRL, FAM_MOVE, FAM_MEM, FAM_ATOM, FAM_ARITH, FAM_WARP, FAM_TENSOR, FAM_UNSUP, FAM_ASYNC, FAM_TEX };
enum ptx_op {
#define PTX_OP(name, e, fam) OP_##e,
#include "ops.def"
#undef PTX_OP
    OP__COUNT,
    /* internal ops the decoder emits (never written in PTX) */
    OP_MOV_SREG = OP__COUNT, /* d := special register (sreg in ins.sub, component in ins.rnd) */
    OP_MOV_ADDR,             /* d := address of a symbol (ins.akind/asym/imm) */
    OP_MOV_PACK,             /* d := {o[1]..o[vec]} packed, element size ins.t2 */
    OP_MOV_UNPACK,           /* {o[0]..o[vec-1]} := o[vec] split, element size ins.t2 */
    OP_VPRINTF,              /* call vprintf: o[0] ret param, o[1] fmt param, o[2] args param (frame offsets) */
    OP_SETCOND,              /* call cudaGraphSetConditional: o[1] handle param, o[2] value param (frame
                                offsets); the handle is the address of the condition's 32-bit value */
    OP_LD_POLL,              /* ld .volatile/.relaxed/.acquire from global or generic memory: what a
                                spin loop polls (a cooperative launch lets the next block run then) */
};
const char *ptx_op_name(int op);

/* ---- types ---- */
enum ptype {
    T_NONE = 0,
    T_B8, T_B16, T_B32, T_B64, T_B128,
    T_U8, T_U16, T_U32, T_U64,
    T_S8, T_S16, T_S32, T_S64,
    T_F16, T_F16X2, T_BF16, T_BF16X2, T_F32, T_F64,
    T_PRED, T_TF32, T_E4M3X2, T_E5M2X2,
    T_E2M1X2,  /* two fp4 e2m1 in a byte (cvt): the first source / upper half in bits 7:4 */
    T_UE8M0X2, /* two unsigned 8-bit exponents, 2^(e-127) (cvt, MX block scales) */
    T__COUNT
};
extern const uint8_t ptx_type_size[T__COUNT];
static inline bool t_signed(int t) { return t >= T_S8 && t <= T_S64; }
static inline bool t_float(int t) { return t >= T_F16 && t <= T_F64; }
static inline int t_bits(int t) { return ptx_type_size[t] * 8; }

/* rounding modifiers */
enum { RND_NONE = 0, RND_RN, RND_RZ, RND_RM, RND_RP, RND_RNA, RND_RNI, RND_RZI, RND_RMI, RND_RPI, RND_RS };
/* comparison operators (setp/set) */
enum { CMP_EQ = 1, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_LO, CMP_LS, CMP_HI, CMP_HS,
       CMP_EQU, CMP_NEU, CMP_LTU, CMP_LEU, CMP_GTU, CMP_GEU, CMP_NUM, CMP_NAN };
/* boolean combine (setp.bop), reduction and atomic operators */
enum { BOP_NONE = 0, BOP_AND, BOP_OR, BOP_XOR };
enum { AOP_ADD = 1, AOP_MIN, AOP_MAX, AOP_INC, AOP_DEC, AOP_AND, AOP_OR, AOP_XOR, AOP_EXCH, AOP_CAS,
       AOP_POPC };
/* state spaces */
enum { SP_GENERIC = 0, SP_GLOBAL, SP_SHARED, SP_LOCAL, SP_PARAM, SP_CONST };
/* address base kinds (ins.akind) */
enum {
    AK_NONE = 0, /* no symbol: address = register + imm (or imm alone) */
    AK_GLOBAL,   /* module .global/.const variable asym: its launch address + imm */
    AK_SHARED,   /* shared variable: static offset folded into imm (shared-space address) */
    AK_FRAME,    /* frame-allocated (.local, func .param): local address = frame base + imm */
    AK_KPARAM,   /* kernel parameter: offset imm in the parameter buffer */
    AK_DYNSHARED,/* .extern .shared: offset of the dynamic area + imm */
    AK_SHARED_ENTRY, /* while parsing only: a kernel-body .shared, offset in the kernel's own area;
                        becomes AK_SHARED once that area's place is known (parse.c) */
};
/* special registers */
enum { SR_TID = 1, SR_NTID, SR_CTAID, SR_NCTAID, SR_LANEID, SR_WARPID, SR_NWARPID, SR_SMID, SR_NSMID,
       SR_GRIDID, SR_CLOCK, SR_CLOCK64, SR_CLOCK_HI, SR_GLOBALTIMER, SR_GLOBALTIMER_LO,
       SR_GLOBALTIMER_HI, SR_LANEMASK_EQ, SR_LANEMASK_LT, SR_LANEMASK_LE, SR_LANEMASK_GT,
       SR_LANEMASK_GE, SR_DYN_SMEM, SR_TOTAL_SMEM, SR_CLUSTERID, SR_NCLUSTERID, SR_CLUSTER_CTAID,
       SR_CLUSTER_NCTAID, SR_CLUSTER_CTARANK, SR_CLUSTER_NCTARANK, SR_IS_EXPLICIT_CLUSTER,
       SR_ENVREG, SR_PM, SR_RESERVED_SMEM };

/* executor families (ins.xf): which exec_*.c runs an ARITH/WARP op */
enum { X_NONE = 0, X_INT, X_FLOAT, X_HALF, X_CVT, X_BITS, X_TENSOR, X_ASYNC, X_TEX };
/* mma (mma.c): ins.sub is the shape; types: ins.t = D, ins.t2 = A; B and C in
 * the operand table (below). fp8 operands use T_E4M3X2 / T_E5M2X2 to mean one
 * .e4m3 / .e5m2 element. */
enum { WMMA_LOAD_A = 1, WMMA_LOAD_B, WMMA_LOAD_C, WMMA_STORE_D, WMMA_MMA };
enum { WMMA_M16N16K16, WMMA_M8N32K16, WMMA_M32N8K16 }; /* wmma shapes (ins.t2) */
enum { MMA_M16N8K8 = 1, MMA_M16N8K16, MMA_M8N8K16, MMA_M16N8K32, MMA_M8N8K4, MMA_M16N8K64 };
/* block-scaled mma (kind::mxf4, kind::mxf4nvf4): bit 28 of the operand
 * descriptor; after the D A B C registers come the scale-a and scale-b
 * registers, then a word: scale type (T_UE8M0X2, or T_E4M3X2 for ue4m3) |
 * scales per row (2 or 4) << 8 */
#define MMA_BLOCK_SCALE (1u << 28)
/* sub-modes */
enum { BAR_SYNC = 1, BAR_ARRIVE, BAR_RED, BAR_WARP };
enum { SHFL_UP = 1, SHFL_DOWN, SHFL_BFLY, SHFL_IDX };
enum { VOTE_ALL = 1, VOTE_ANY, VOTE_UNI, VOTE_BALLOT };
enum { MATCH_ANY = 1, MATCH_ALL };
enum { TP_FINITE = 1, TP_INFINITE, TP_NUMBER, TP_NOTANUMBER, TP_NORMAL, TP_SUBNORMAL };
enum { PRMT_DEFAULT = 0, PRMT_F4E, PRMT_B4E, PRMT_RC8, PRMT_ECL, PRMT_ECR, PRMT_RC16 };

/* instruction flags (ins.fl) */
enum {
    F_FTZ = 1 << 0, F_SAT = 1 << 1, F_APPROX = 1 << 2, F_FULL = 1 << 3,
    F_HI = 1 << 4, F_LO = 1 << 5, F_WIDE = 1 << 6, F_UNI = 1 << 7,
    F_CC = 1 << 8, F_NAN = 1 << 9, F_XORSIGN = 1 << 10, F_ABS = 1 << 11,
    F_SHIFTAMT = 1 << 12, F_CLAMP = 1 << 13, F_SYNC = 1 << 14, F_RELU = 1 << 15,
};

/* operand reference: register slot (idx << 2), pool constant (idx << 2 | 1), none */
#define REF_NONE 0xffffffffu
#define REF_REG(i) ((uint32_t)(i) << 2)
#define REF_K(i) (((uint32_t)(i) << 2) | 1u)
#define REF_IS_K(r) (((r) & 3u) == 1u)
#define REF_IDX(r) ((r) >> 2)
#define REF_NEGBIT 2u /* predicate source written !p */

#define INS_MAXOPS 8
struct ins {
    uint16_t op;       /* enum ptx_op */
    uint8_t t, t2;     /* primary type, secondary (cvt source, mul.wide/setp compare type, ...) */
    uint8_t sub;       /* op-specific: cmp, shfl/vote/atom/bar mode, sreg, vector element count ... */
    uint8_t rnd;       /* rounding (RND_*), or sreg component */
    uint16_t fl;       /* F_* */
    uint8_t vec;       /* vector width of data operands (1, 2, 4, 8) */
    uint8_t space;     /* SP_* */
    uint8_t akind;     /* AK_* of the address operand */
    uint8_t bop;       /* BOP_* (setp/set combine), AOP_* (atom, redux, bar.red) */
    uint8_t xf;        /* executor family (X_*), chosen by the decoder */
    int32_t guard;     /* predicate slot << 1 | negated, or -1 */
    uint32_t o[INS_MAXOPS]; /* operands in PTX order (the address excluded) */
    uint32_t abase;    /* address base register, or REF_NONE */
    uint32_t asym;     /* AK_GLOBAL: global index; CALL: call-table index; BRA: target */
    int64_t imm;       /* address displacement, branch target, callee */
    uint32_t line;     /* source line, for errors */
};

/* a call site: its callee and where its arguments live in the caller frame */
struct callsite {
    int func;                 /* callee index in module.funcs; -1: indirect, through register fptr */
    uint32_t fptr;            /* indirect: the register holding the function's address, else REF_NONE */
    uint16_t ret_size[4];     /* indirect: sizes of the return variables (checked against the callee) */
    int nret, narg;
    uint32_t ret_off[4];      /* caller frame offsets of the return variables */
    uint32_t arg_off[32];     /* caller frame offsets of the argument variables, or */
    uint32_t arg_reg[32];     /* a register (REF) when the argument was a register, else REF_NONE */
    uint16_t arg_size[32];
};

struct pparam {               /* a parameter of an .entry or .func */
    char *name;
    uint32_t offset, size, align;
};

struct func {
    char *name;
    bool is_entry, defined, is_extern;
    int first, count;          /* instructions [first, first + count) of module.code */
    int nregs;                 /* register slots */
    uint32_t frame_size;       /* bytes of per-thread frame memory (params, retvals, .local, call params) */
    uint32_t frame_align;
    int nparams, nrets;
    struct pparam *params, *rets; /* func: offsets in the frame; entry: offsets in the param buffer */
    size_t param_bytes;        /* entry: size of the packed buffer */
    uint32_t local_bytes;      /* .local bytes declared (info) */
    unsigned maxntid[3], reqntid[3], minnctapersm;
    unsigned reqnctapercluster[3]; /* .reqnctapercluster (__cluster_dims__), 0 if absent */
    bool explicitcluster;      /* .explicitcluster: a launch must give the cluster size */
    /* computed after parsing */
    uint32_t shared_end;       /* end of the static .shared this function names itself */
    uint32_t shared_need;      /* ... and the functions it calls: its static shared size */
    uint32_t entry_shared, entry_shared_align; /* a kernel's body .shared: laid out after shared_need */
    uint32_t stack_need;       /* deepest frame-memory need of a call chain from here */
    int reg_need;              /* deepest register-slot need */
    bool recursive;            /* reaches itself (stack sized with a reserve) */
};

struct gvar {                  /* module-scope .global / .const */
    char *name;
    size_t size, align;
    uint8_t *init; size_t init_len;
    bool is_const, is_extern, is_managed;
    int nrel;                  /* relocations: pointers to other globals inside init */
    struct grel { size_t off; int target; int64_t addend; } *rel;
};

struct ptx_module {
    int version, target;       /* 90, 120 */
    struct ins *code; int ncode;
    struct func *funcs; int nfuncs;
    struct gvar *globals; int nglobals;
    struct callsite *calls; int ncalls;
    /* operand lists of instructions with more than INS_MAXOPS operands (mma):
     * the instruction's asym indexes its first entry */
    uint32_t *xops; int nxops;
    uint64_t *pool; int npool; /* constants, 32 lanes each */
    size_t shared_static;      /* bytes of static shared memory (all .shared of the module); a kernel
                                  uses the prefix up to its func.shared_need */
    size_t dyn_shared_align;
    int *kernels; int nkernels;/* indices of entries in funcs */
    struct ptx_kernel *khandles; /* one per kernel: what ptx_module_kernel hands out */
};
struct ptx_kernel { const struct ptx_module *m; int func; };

/* ---- running ---- */
struct frame {
    int func;
    int call_pc;               /* the call instruction (retval copy), -1 for the kernel frame */
    uint32_t members;          /* lanes that entered this frame */
    uint32_t returned;         /* lanes that executed ret here */
    uint32_t reg_base;         /* register slot of this frame's first register */
    uint32_t local_base;       /* local-memory offset of this frame */
};

struct block;
struct warp {
    struct block *b;
    int id;                    /* warp index in the block */
    uint32_t valid;            /* lanes that exist (partial last warp) */
    uint32_t exited;
    /* scheduling: the running group (cur, pc); other lanes of the top frame wait at lane_pc */
    uint32_t cur;
    int32_t pc;
    int32_t merge_pc;          /* lowest lane_pc of a waiting lane of the top frame, INT32_MAX if none */
    int32_t lane_pc[WARP];
    uint32_t bar_blocked;      /* lanes waiting at a CTA barrier */
    uint32_t sync_blocked;     /* lanes waiting for the rest of a .sync mask at lane_pc */
    bool force_sync;           /* run the next warp-synchronous op with whoever is there */
    uint32_t spins;            /* backward branches taken while other lanes waited */
    bool rotate;               /* next pick takes the highest group, not the lowest (fairness) */
    bool force_next;           /* the block is stuck: let parked sync groups run despite a barrier */
    bool done;
    uint8_t lane_bar[WARP];    /* barrier a blocked lane waits on */
    uint32_t lane_red_dst[WARP]; /* bar.red: absolute register slot to receive the result, or ~0 */
    uint32_t cc[WARP];         /* carry flags (add.cc ...) */
    /* frames */
    struct frame *frames; int nframes, cap_frames;
    uint64_t *rstack; uint32_t reg_cap; /* register stack, reg_cap slots of 32 lanes */
    uint64_t *regs;            /* the top frame's registers: slot i of lane l at regs[i*32+l] */
    uint8_t *local;            /* 32 lanes x local_size bytes */
    /* per-lane constants */
    uint32_t tid[3][WARP];
    /* last validated global range (cheap re-check of streaming accesses) */
    uint64_t vlo[4], vhi[4]; unsigned vnext;
};

struct barrier_state { int arrived; int expected; uint32_t red_and, red_or, red_popc; bool red_seen; uint8_t red_op; };

struct launch_state;
struct block {
    const struct launch_state *L;
    unsigned ctaid[3];
    uint8_t *shared; size_t shared_size;
    struct warp *warps; int nwarps;
    int live_threads;          /* threads not exited */
    struct barrier_state bar[16];
    unsigned worker;           /* host thread index (%smid) */
    uint32_t mbar_idle;        /* failed mbarrier waits since an mbarrier last changed (async.c) */
};

struct launch_state {
    const struct ptx_launch *l;
    const struct ptx_module *m;
    const struct func *kf;
    unsigned nthreads;         /* per block */
    size_t local_size;         /* per thread */
    size_t shared_size;        /* static + dynamic */
    size_t dyn_off;            /* offset of the dynamic shared area */
    uint64_t gridid;
    int nworkers;
    /* what global accesses are checked against: the caller's memory.valid,
     * or in a cooperative launch a wrapper that also accepts the grid
     * workspace (cooperative_groups' struct grid_workspace {u32 wsSize;
     * u32 barrier;}), engine-owned memory at [ws_lo, ws_hi), else empty */
    struct ptx_memory mem;
    uint64_t ws_lo, ws_hi;
    uint64_t executed;         /* warp-instructions run, counted only under max_instructions */
    /* first error wins */
    int error;                 /* CUresult, atomically set */
    char *errbuf; size_t errlen;
};

/* operand access */
static inline const uint64_t *xsrc(const struct warp *w, const uint64_t *pool, uint32_t r)
{
    return REF_IS_K(r) ? pool + (size_t)REF_IDX(r) * WARP : w->regs + (size_t)REF_IDX(r) * WARP;
}
static inline uint64_t *xdst(struct warp *w, uint32_t r) { return w->regs + (size_t)REF_IDX(r) * WARP; }

/* the executor's view passed to family handlers */
struct xctx {
    struct warp *w;
    struct block *b;
    const struct launch_state *L;
    const uint64_t *pool;
};
#define SRC(x, r) xsrc((x)->w, (x)->pool, (r))
#define DST(x, r) xdst((x)->w, (r))

/* Run `stmt` for every lane of mask m (variable `l`); the full-warp case is a
 * plain loop the compiler can vectorise. */
#define FOR_LANES(m, ...)                                                           \
    do {                                                                            \
        if ((m) == FULL_MASK) {                                                     \
            for (int l = 0; l < WARP; l++) { __VA_ARGS__; }                         \
        } else {                                                                    \
            for (uint32_t mm_ = (m); mm_; mm_ &= mm_ - 1) {                         \
                int l = __builtin_ctz(mm_);                                         \
                __VA_ARGS__;                                                        \
            }                                                                       \
        }                                                                           \
    } while (0)

/* F_LO on ld/st/atom/cvta: the address register is 32 bits wide (zero-extend it) */
#define F_ADDR32 F_LO

/* exec.c */
enum { W_RUN = 0, W_DONE, W_BLOCKED, W_YIELD, W_ERROR };
int ptx_run_warp(struct block *b, struct warp *w, long *budget);
void ptx_bar_check_all(struct block *b);
void xfail(const struct launch_state *L, int cuerr, const struct ins *i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool xfailed(const struct launch_state *L);
/* family handlers: return 0, or -1 after xfail */
int x_int(struct xctx *x, const struct ins *i, uint32_t m);
/* tex, tld4 (tex.c): o[0..3] destinations, o[4] the texture object, o[5..]
 * the coordinates (a layered geometry's layer first); sub the geometry's
 * dimensions, bop 1 for a layered one, t the result type, t2 the
 * coordinates', rnd tld4's component */
int x_tex(struct xctx *x, const struct ins *i, uint32_t m);
/* suld, sust (tex.c): o[0..vec-1] the data, o[4] the surface object, o[5..]
 * the coordinates (x in bytes); t the element type, bop the out-of-bounds
 * mode (0 trap, 1 clamp, 2 zero) */
int x_surf(struct xctx *x, const struct ins *i, uint32_t m);
int x_float(struct xctx *x, const struct ins *i, uint32_t m);
int x_cvt(struct xctx *x, const struct ins *i, uint32_t m);
int x_bits(struct xctx *x, const struct ins *i, uint32_t m);
int x_half(struct xctx *x, const struct ins *i, uint32_t m);
int x_warp(struct xctx *x, const struct ins *i, uint32_t m);
int x_atom(struct xctx *x, const struct ins *i, uint32_t m);
int x_vprintf(struct xctx *x, const struct ins *i, uint32_t m);
/* mma.c: mma, ldmatrix, stmatrix, movmatrix (warp-collective; exec.c has
 * waited for the whole warp) and cp.async */
int x_tensor(struct xctx *x, const struct ins *i, uint32_t m);
int x_cpasync(struct xctx *x, const struct ins *i, uint32_t m);
/* async.c: mbarrier objects and the non-tensor cp.async.bulk family.
 * mbarrier (ins.sub MB_*): ins.bop MBF_* flags; o[0] the result (state,
 * predicate, count) or REF_NONE, o[1] count / tx-count / state / parity; the
 * object's address is the instruction's address. cp.async.bulk (op CP, xf
 * X_ASYNC, ins.sub BULK_*): o[0] dst address, o[1] src address, o[2] size,
 * o[3] mbarrier address (registers, computed by helper instructions; ins.vec
 * bit k set: the k-th of dst, src, mbarrier is a 32-bit register), spaces
 * ins.space (dst) and ins.t2 (src); cp.reduce: ins.bop AOP_*, ins.t type. */
enum { MB_INIT = 1, MB_ARRIVE, MB_EXPECT_TX, MB_COMPLETE_TX, MB_TEST_WAIT, MB_TRY_WAIT, MB_PENDING, MB_INVAL,
       MB_CP_ARRIVE };
enum { MBF_PARITY = 1, MBF_EXPECT_TX = 2, MBF_DROP = 4, MBF_NOINC = 8 };
enum { BULK_COPY = 1, BULK_REDUCE, BULK_PREFETCH, BULK_COMMIT, BULK_WAIT };
/* 1: a wait found its phase incomplete in some lane (the caller lets other
 * warps and lane groups run, as for a barrier) */
int x_mbar(struct xctx *x, const struct ins *i, uint32_t m);
int x_bulk(struct xctx *x, const struct ins *i, uint32_t m);
/* Emulated threads race on device memory as a GPU's may (a flag polled with
 * plain loads while others update it atomically: the PTX memory model
 * orders it, C's does not); ThreadSanitizer is to find rgpu's races, not
 * the emulated program's, so the functions that carry out its loads and
 * stores are left out of its view. */
#if defined(__SANITIZE_THREAD__)
#define PTX_EMULATED_ACCESS __attribute__((no_sanitize("thread")))
#else
#define PTX_EMULATED_ACCESS
#endif
/* memory (mem.c): resolve lane addresses; NULL after xfail */
uint8_t *x_addr(struct xctx *x, const struct ins *i, int l, uint64_t a, int space, unsigned n);
PTX_EMULATED_ACCESS int x_ldst(struct xctx *x, const struct ins *i, uint32_t m);
void x_lane_addrs(struct xctx *x, const struct ins *i, uint32_t m, uint64_t *addr);
bool x_check_global(struct xctx *x, const struct ins *i, uint32_t m, const uint64_t *addr, unsigned n);
/* cudaGraphSetConditional(handle, value) for lanes m; < 0 after xfail */
PTX_EMULATED_ACCESS int x_setcond(struct xctx *x, const struct ins *i, uint32_t m);
/* resolve n bytes at addr[l] (aligned to `align`, a power of two) for lanes m
 * in `space` to host pointers, checked as ld/st are; false after xfail */
bool x_resolve(struct xctx *x, const struct ins *i, uint32_t m, const uint64_t *addr, unsigned n, unsigned align,
               int space, bool write, uint8_t **ptr);

/* float helpers (fp.c) */
float f16_to_f32(uint16_t h);
uint16_t f64_to_f16(double v, int rnd, bool sat_finite);
float bf16_to_f32(uint16_t h);
uint16_t f64_to_bf16(double v, int rnd);
uint16_t f32_to_f16(float v, int rnd);
uint16_t f32_to_bf16(float v, int rnd);
uint8_t f32_to_e4m3(float v, bool satfinite);
uint8_t f32_to_e5m2(float v, bool satfinite);
float e4m3_to_f32(uint8_t v);
float e5m2_to_f32(uint8_t v);
uint8_t f32_to_e2m1(float v);     /* .rn.satfinite */
float e2m1_to_f32(uint8_t v);     /* the low 4 bits */
uint32_t fp_round_fmt(double v, int ebits, int mbits, int rnd); /* sign|exponent|mantissa */
static inline float bits_f32(uint64_t b) { uint32_t u = (uint32_t)b; float f; memcpy(&f, &u, 4); return f; }
static inline uint64_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline double bits_f64(uint64_t b) { double f; memcpy(&f, &b, 8); return f; }
static inline uint64_t f64_bits(double f) { uint64_t u; memcpy(&u, &f, 8); return u; }

#endif
