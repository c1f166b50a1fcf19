/*
 * decode.c — one PTX instruction (opcode with modifiers, parsed operands) to
 * one or more fixed-size `struct ins` (internal.h).
 *
 * The opcode is split at '.'; the base name is looked up in ops.def and the
 * modifiers are classified once (types in order, state space, rounding,
 * vector width, flags). Modifiers that only tune caching or memory ordering
 * on a GPU (.nc, .L2::128B, .relaxed.gpu, .volatile, ...) are accepted and
 * dropped: on the CPU every access is coherent and in program order per
 * thread, and atomics are sequentially consistent. Anything else the decoder
 * does not understand is an error naming the modifier, never ignored.
 *
 * Operands become references (internal.h): a register slot, a pool constant
 * converted to the operand's type, or an address (base register, symbol kind,
 * displacement). A special register or symbol used where a value is expected
 * is first moved into a fresh scratch register by an extra instruction, so
 * the executor only ever reads registers and constants.
 */
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; int fam; } optab[] = {
#define PTX_OP(name, e, fam) {name, FAM_##fam},
#include "ops.def"
#undef PTX_OP
};

const char *ptx_op_name(int op)
{
    if (op >= 0 && op < OP__COUNT) return optab[op].name;
    switch (op) {
    case OP_MOV_SREG: return "mov(sreg)";
    case OP_MOV_ADDR: return "mov(addr)";
    case OP_MOV_PACK: return "mov(pack)";
    case OP_MOV_UNPACK: return "mov(unpack)";
    case OP_VPRINTF: return "vprintf";
    case OP_SETCOND: return "cudaGraphSetConditional";
    case OP_LD_POLL: return "ld";
    }
    return "?";
}

const uint8_t ptx_type_size[T__COUNT] = {
    [T_B8] = 1, [T_B16] = 2, [T_B32] = 4, [T_B64] = 8, [T_B128] = 16,
    [T_U8] = 1, [T_U16] = 2, [T_U32] = 4, [T_U64] = 8,
    [T_S8] = 1, [T_S16] = 2, [T_S32] = 4, [T_S64] = 8,
    [T_F16] = 2, [T_F16X2] = 4, [T_BF16] = 2, [T_BF16X2] = 4, [T_F32] = 4, [T_F64] = 8,
    [T_PRED] = 1, [T_TF32] = 4, [T_E4M3X2] = 2, [T_E5M2X2] = 2,
    [T_E2M1X2] = 1, [T_UE8M0X2] = 2,
};

void parse_add_labelfix(struct pctx *p, int ins, const char *name, int len, int line);

/* ---- modifiers ---- */
struct mods {
    int t[4], nt;
    int space;        /* -1: none */
    int rnd;
    uint16_t fl;
    int vec;
    bool to;          /* cvta.to */
    bool ordered;     /* .volatile, .relaxed or .acquire: a load other threads' stores may change */
    const char *w[16]; int wl[16]; int nw; /* op-specific words, not yet consumed */
    int line;
};

static bool weq(const char *s, int n, const char *lit) { return (int)strlen(lit) == n && memcmp(s, lit, (size_t)n) == 0; }

static void split_mods(struct pctx *p, const char *s, int n, struct mods *md, int line)
{
    memset(md, 0, sizeof *md);
    md->line = line;
    md->space = -1;
    md->vec = 1;
    int i = 0;
    while (i < n) {
        int j = i;
        while (j < n && s[j] != '.') j++;
        const char *w = s + i;
        int wl = j - i;
        i = j + 1;
        if (wl == 0) perr(p, md->line, "empty modifier in '%.*s'", n, s);
        int t = parse_type_name(w, wl);
        if (t != T_NONE) {
            if (md->nt == 4) perr(p, md->line, "too many types in '%.*s'", n, s);
            md->t[md->nt++] = t;
            continue;
        }
#define W(lit) weq(w, wl, lit)
        if (W("global")) md->space = SP_GLOBAL;
        else if (W("shared") || W("shared::cta")) md->space = SP_SHARED;
        else if (W("local")) md->space = SP_LOCAL;
        else if (W("param") || W("param::entry") || W("param::func")) md->space = SP_PARAM;
        else if (W("const")) md->space = SP_CONST;
        else if (W("rn")) md->rnd = RND_RN;
        else if (W("rz")) md->rnd = RND_RZ;
        else if (W("rm")) md->rnd = RND_RM;
        else if (W("rp")) md->rnd = RND_RP;
        else if (W("rna")) md->rnd = RND_RNA;
        else if (W("rni")) md->rnd = RND_RNI;
        else if (W("rzi")) md->rnd = RND_RZI;
        else if (W("rmi")) md->rnd = RND_RMI;
        else if (W("rpi")) md->rnd = RND_RPI;
        else if (W("rs")) md->rnd = RND_RS;
        else if (W("v2")) md->vec = 2;
        else if (W("v4")) md->vec = 4;
        else if (W("v8")) md->vec = 8;
        else if (W("ftz")) md->fl |= F_FTZ;
        else if (W("sat") || W("satfinite")) md->fl |= F_SAT;
        else if (W("approx")) md->fl |= F_APPROX;
        else if (W("full")) md->fl |= F_FULL;
        else if (W("wide")) md->fl |= F_WIDE;
        else if (W("uni")) md->fl |= F_UNI;
        else if (W("cc")) md->fl |= F_CC;
        else if (W("NaN")) md->fl |= F_NAN;
        else if (W("xorsign")) md->fl |= F_XORSIGN;
        else if (W("shiftamt")) md->fl |= F_SHIFTAMT;
        else if (W("clamp")) md->fl |= F_CLAMP;
        else if (W("wrap")) { }
        else if (W("sync")) md->fl |= F_SYNC;
        else if (W("relu")) md->fl |= F_RELU;
        else if (W("to")) md->to = true;
        else if (W("volatile") || W("relaxed") || W("acquire")) md->ordered = true;
        else if (W("aligned") || W("release") ||
                 W("acq_rel") || W("weak") || W("mmio") || W("sc") || W("cta") || W("gpu") ||
                 W("sys") || W("nc") || W("ca") || W("cg") || W("cs") || W("lu") || W("cv") ||
                 W("wb") || W("wt") || W("noftz") || W("gl") || W("unified") ||
                 (wl > 4 && (memcmp(w, "L1::", 4) == 0 || memcmp(w, "L2::", 4) == 0)) ||
                 (wl > 7 && memcmp(w, "level::", 7) == 0)) { }
        else {
            if (md->nw == 16) perr(p, md->line, "too many modifiers in '%.*s'", n, s);
            md->w[md->nw] = w;
            md->wl[md->nw++] = wl;
        }
#undef W
    }
}

/* take an op-specific word if present */
static bool take(struct mods *md, const char *lit)
{
    for (int i = 0; i < md->nw; i++)
        if (weq(md->w[i], md->wl[i], lit)) {
            md->w[i] = md->w[md->nw - 1];
            md->wl[i] = md->wl[md->nw - 1];
            md->nw--;
            return true;
        }
    return false;
}
static void no_leftovers(struct pctx *p, struct mods *md, const char *opc, int olen)
{
    if (md->nw) perr(p, md->line, "unsupported modifier '.%.*s' in '%.*s'", md->wl[0], md->w[0], olen, opc);
}
static int cmp_word(struct mods *md)
{
    static const char *names[] = {"eq", "ne", "lt", "le", "gt", "ge", "lo", "ls", "hi", "hs", "equ", "neu",
                                  "ltu", "leu", "gtu", "geu", "num", "nan"};
    for (int k = 0; k < 18; k++)
        if (take(md, names[k])) return k + 1;
    return 0;
}
static int aop_word(struct mods *md)
{
    static const char *names[] = {"add", "min", "max", "inc", "dec", "and", "or", "xor", "exch", "cas", "popc"};
    for (int k = 0; k < 11; k++)
        if (take(md, names[k])) return k + 1;
    return 0;
}

/* ---- operands ---- */
static const struct { const char *n; int sr; int comp; } sregs[] = {
    {"%tid.x", SR_TID, 0}, {"%tid.y", SR_TID, 1}, {"%tid.z", SR_TID, 2},
    {"%ntid.x", SR_NTID, 0}, {"%ntid.y", SR_NTID, 1}, {"%ntid.z", SR_NTID, 2},
    {"%ctaid.x", SR_CTAID, 0}, {"%ctaid.y", SR_CTAID, 1}, {"%ctaid.z", SR_CTAID, 2},
    {"%nctaid.x", SR_NCTAID, 0}, {"%nctaid.y", SR_NCTAID, 1}, {"%nctaid.z", SR_NCTAID, 2},
    {"%laneid", SR_LANEID, 0}, {"%warpid", SR_WARPID, 0}, {"%nwarpid", SR_NWARPID, 0},
    {"%smid", SR_SMID, 0}, {"%nsmid", SR_NSMID, 0}, {"%gridid", SR_GRIDID, 0},
    {"%clock", SR_CLOCK, 0}, {"%clock64", SR_CLOCK64, 0}, {"%clock_hi", SR_CLOCK_HI, 0},
    {"%globaltimer", SR_GLOBALTIMER, 0}, {"%globaltimer_lo", SR_GLOBALTIMER_LO, 0},
    {"%globaltimer_hi", SR_GLOBALTIMER_HI, 0},
    {"%lanemask_eq", SR_LANEMASK_EQ, 0}, {"%lanemask_lt", SR_LANEMASK_LT, 0},
    {"%lanemask_le", SR_LANEMASK_LE, 0}, {"%lanemask_gt", SR_LANEMASK_GT, 0},
    {"%lanemask_ge", SR_LANEMASK_GE, 0}, {"%dynamic_smem_size", SR_DYN_SMEM, 0},
    {"%total_smem_size", SR_TOTAL_SMEM, 0},
    {"%clusterid.x", SR_CLUSTERID, 0}, {"%clusterid.y", SR_CLUSTERID, 1}, {"%clusterid.z", SR_CLUSTERID, 2},
    {"%nclusterid.x", SR_NCLUSTERID, 0}, {"%nclusterid.y", SR_NCLUSTERID, 1}, {"%nclusterid.z", SR_NCLUSTERID, 2},
    {"%cluster_ctaid.x", SR_CLUSTER_CTAID, 0}, {"%cluster_ctaid.y", SR_CLUSTER_CTAID, 1},
    {"%cluster_ctaid.z", SR_CLUSTER_CTAID, 2},
    {"%cluster_nctaid.x", SR_CLUSTER_NCTAID, 0}, {"%cluster_nctaid.y", SR_CLUSTER_NCTAID, 1},
    {"%cluster_nctaid.z", SR_CLUSTER_NCTAID, 2},
    {"%cluster_ctarank", SR_CLUSTER_CTARANK, 0}, {"%cluster_nctarank", SR_CLUSTER_NCTARANK, 0},
    {"%is_explicit_cluster", SR_IS_EXPLICIT_CLUSTER, 0},
};

static int find_sreg(const char *s, int n, int *comp)
{
    for (size_t k = 0; k < sizeof sregs / sizeof sregs[0]; k++)
        if (weq(s, n, sregs[k].n)) { *comp = sregs[k].comp; return sregs[k].sr; }
    if (n > 7 && memcmp(s, "%envreg", 7) == 0) { *comp = lex_digits(s + 7, n - 7); return SR_ENVREG; }
    if (n == 4 && memcmp(s, "%pm", 3) == 0) { *comp = s[3] - '0'; return SR_PM; }
    if (n > 20 && memcmp(s, "%reserved_smem_offset", 21) == 0) { *comp = 0; return SR_RESERVED_SMEM; }
    return 0;
}

static struct ins ins_init(struct pctx *p, int op)
{
    struct ins i;
    memset(&i, 0, sizeof i);
    i.op = (uint16_t)op;
    i.guard = -1;
    i.abase = REF_NONE;
    for (int k = 0; k < INS_MAXOPS; k++) i.o[k] = REF_NONE;
    i.vec = 1;
    i.line = (uint32_t)p->line;
    return i;
}
static void put(struct pctx *p, const struct ins *i) { *emit(p) = *i; }

/* address of a symbol -> akind/asym/imm */
static void sym_address(struct pctx *p, struct sym *y, struct ins *i, const char *name, int len)
{
    switch (y->kind) {
    case S_GLOBAL: i->akind = AK_GLOBAL; i->asym = y->a; break;
    case S_SHARED:
        i->akind = AK_SHARED;
        i->imm += y->a;
        /* a kernel's static shared size is what it (and its callees) name */
        if (p->f && y->a + y->n > p->f->shared_end) p->f->shared_end = y->a + y->n;
        break;
    case S_SHARED_ENTRY: i->akind = AK_SHARED_ENTRY; i->imm += y->a; break;
    case S_DYNSHARED: i->akind = AK_DYNSHARED; break;
    case S_FRAME: i->akind = AK_FRAME; i->imm += y->a; break;
    case S_KPARAM: i->akind = AK_KPARAM; i->imm += y->a; break;
    default: perr(p, p->line, "'%.*s' has no address", len, name);
    }
}

static uint64_t imm_for_type(struct pctx *p, const struct ropnd *o, int t)
{
    switch (t) {
    case T_F32: case T_TF32:
        switch (o->kind) {
        case RO_F32: return o->u;
        case RO_F64: return f32_bits((float)bits_f64(o->u));
        case RO_FLOAT: return f32_bits((float)o->d);
        default: return f32_bits((float)(int64_t)o->u);
        }
    case T_F64:
        switch (o->kind) {
        case RO_F32: return f64_bits((double)bits_f32(o->u));
        case RO_F64: return o->u;
        case RO_FLOAT: return f64_bits(o->d);
        default: return f64_bits((double)(int64_t)o->u);
        }
    case T_F16: case T_BF16:
        switch (o->kind) {
        case RO_F32: return t == T_F16 ? f32_to_f16(bits_f32(o->u), RND_RN) : f32_to_bf16(bits_f32(o->u), RND_RN);
        case RO_F64: return t == T_F16 ? f64_to_f16(bits_f64(o->u), RND_RN, false) : f64_to_bf16(bits_f64(o->u), RND_RN);
        case RO_FLOAT: return t == T_F16 ? f64_to_f16(o->d, RND_RN, false) : f64_to_bf16(o->d, RND_RN);
        default: return o->u & 0xffff;
        }
    case T_PRED:
        if (o->kind != RO_INT) perr(p, p->line, "a predicate constant must be 0 or 1");
        return o->u != 0;
    default:
        switch (o->kind) {
        case RO_INT: return o->u;
        case RO_F32: return o->u; /* bits (e.g. mov.b32 %r, 0f3F800000) */
        case RO_F64: return o->u;
        case RO_FLOAT: return (uint64_t)(int64_t)o->d;
        }
    }
    return 0;
}

/* a source operand of type t */
static uint32_t src(struct pctx *p, const struct ropnd *o, int t)
{
    switch (o->kind) {
    case RO_NAME: {
        uint32_t slot;
        struct sym *y = sym_lookup(p, o->name, o->len, &slot);
        if (y && (y->kind == S_REG || y->kind == S_REGRANGE)) {
            if (o->off) perr(p, p->line, "register '%.*s' with an offset", o->len, o->name);
            return REF_REG(slot) | (o->neg ? REF_NEGBIT : 0);
        }
        if (o->neg) perr(p, p->line, "'!' applies to predicates only");
        int comp, sr = find_sreg(o->name, o->len, &comp);
        if (sr) {
            struct ins i = ins_init(p, OP_MOV_SREG);
            i.sub = (uint8_t)sr;
            i.rnd = (uint8_t)comp;
            i.t = (uint8_t)t;
            i.o[0] = REF_REG(new_reg(p, t));
            put(p, &i);
            return i.o[0];
        }
        if (!y) perr(p, p->line, "undefined identifier '%.*s'", o->len, o->name);
        struct ins i = ins_init(p, OP_MOV_ADDR);
        i.imm = o->off;
        sym_address(p, y, &i, o->name, o->len);
        i.t = (uint8_t)t;
        i.o[0] = REF_REG(new_reg(p, t));
        put(p, &i);
        return i.o[0];
    }
    case RO_INT: case RO_F32: case RO_F64: case RO_FLOAT:
        if (o->neg) perr(p, p->line, "'!' applies to predicates only");
        return pool_const(p, imm_for_type(p, o, t));
    case RO_SINK: perr(p, p->line, "'_' is not a source");
    default: perr(p, p->line, "expected a register or constant");
    }
}

static uint32_t dst_name(struct pctx *p, const char *name, int len)
{
    uint32_t slot;
    struct sym *y = sym_lookup(p, name, len, &slot);
    if (!y || (y->kind != S_REG && y->kind != S_REGRANGE))
        perr(p, p->line, "'%.*s' is not a register", len, name);
    return REF_REG(slot);
}
static uint32_t dst(struct pctx *p, const struct ropnd *o)
{
    if (o->kind == RO_SINK) return REF_REG(new_reg(p, T_B64));
    if (o->kind != RO_NAME) perr(p, p->line, "expected a destination register");
    return dst_name(p, o->name, o->len);
}

static void addr(struct pctx *p, const struct ropnd *o, struct ins *i)
{
    if (o->kind != RO_ADDR) perr(p, p->line, "expected an address [..]");
    i->imm = o->off;
    i->akind = AK_NONE;
    if (!o->len) return;
    uint32_t slot;
    struct sym *y = sym_lookup(p, o->name, o->len, &slot);
    if (y && (y->kind == S_REG || y->kind == S_REGRANGE)) {
        i->abase = REF_REG(slot);
        if (ptx_type_size[y->t] == 4) i->fl |= F_ADDR32;
        return;
    }
    if (!y) perr(p, p->line, "undefined identifier '%.*s'", o->len, o->name);
    sym_address(p, y, i, o->name, o->len);
}

static void want_ops(struct pctx *p, int n, int lo, int hi, const char *opc, int olen)
{
    if (n < lo || n > hi) perr(p, p->line, "'%.*s' takes %d operand%s, not %d", olen, opc, lo, lo == 1 ? "" : "s", n);
}

static int one_type(struct pctx *p, struct mods *md, const char *opc, int olen)
{
    if (md->nt != 1) perr(p, md->line, "'%.*s' needs exactly one type", olen, opc);
    return md->t[0];
}

static int family_of(int t)
{
    if (t == T_F32 || t == T_F64) return X_FLOAT;
    if (t == T_F16 || t == T_F16X2 || t == T_BF16 || t == T_BF16X2) return X_HALF;
    return X_INT;
}

/* ---- per-family decoders ---- */
static struct callsite *new_callsite(struct pctx *p)
{
    struct ptx_module *m = p->m;
    if (m->ncalls >= p->capcalls) {
        p->capcalls = p->capcalls ? p->capcalls * 2 : 16;
        m->calls = xrealloc(p, m->calls, sizeof *m->calls * (size_t)p->capcalls);
    }
    struct callsite *c = &m->calls[m->ncalls];
    memset(c, 0, sizeof *c);
    c->fptr = REF_NONE;
    return c;
}

/* An indirect call: the prototype is not needed, as the sizes of the
 * caller's argument and return variables are checked against the callee
 * the call reaches (exec.c); arguments must be .param variables then. */
static void dec_call_indirect(struct pctx *p, struct ins *i, uint32_t fptr, struct ropnd *rets, struct ropnd *args)
{
    int nret = rets ? rets->nel : 0, narg = args ? args->nel : 0;
    if (narg > 32 || nret > 4) perr(p, p->line, "call: too many arguments");
    struct callsite *c = new_callsite(p);
    c->func = -1;
    c->fptr = fptr;
    c->nret = nret;
    c->narg = narg;
    for (int a = 0; a < nret + narg; a++) {
        struct ropnd *o = a < nret ? &rets->el[a] : &args->el[a - nret];
        struct sym *s = o->kind == RO_NAME ? sym_lookup(p, o->name, o->len, NULL) : NULL;
        if (!s || s->kind != S_FRAME) perr(p, p->line, "indirect call: arguments must be .param variables");
        if (a < nret) { c->ret_off[a] = s->a; c->ret_size[a] = (uint16_t)s->n; }
        else { c->arg_off[a - nret] = s->a; c->arg_size[a - nret] = (uint16_t)s->n; c->arg_reg[a - nret] = REF_NONE; }
    }
    i->asym = (uint32_t)p->m->ncalls++;
}

static void dec_call(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n)
{
    take(md, "uni");
    int k = 0;
    struct ropnd *rets = NULL, *args = NULL;
    if (k < n && ops[k].kind == RO_LIST) rets = &ops[k++];
    if (k >= n || ops[k].kind != RO_NAME) perr(p, p->line, "call: expected a function name");
    struct ropnd *fn = &ops[k++];
    if (k < n && ops[k].kind == RO_LIST) args = &ops[k++];
    struct sym *y = sym_lookup(p, fn->name, fn->len, NULL);
    if (y && (y->kind == S_REG || y->kind == S_REGRANGE)) {
        /* call (r..), %fptr, (a..), prototype|targets: the callee is known at run time */
        if (k != n - 1 || ops[k].kind != RO_NAME) perr(p, p->line, "indirect call: expected a prototype or targets");
        dec_call_indirect(p, i, src(p, fn, T_U64), rets, args);
        return;
    }
    if (k < n) perr(p, p->line, "call: unexpected operand after the arguments");
    if (!y || y->kind != S_FUNC) perr(p, p->line, "call to undeclared function '%.*s'", fn->len, fn->name);
    struct func *f = &p->m->funcs[y->a];
    int nret = rets ? rets->nel : 0, narg = args ? args->nel : 0;
    if (weq(f->name, (int)strlen(f->name), "vprintf") && !f->defined) {
        /* device printf: formatted on the host (printf.c); o[] hold frame offsets */
        if (narg != 2 || nret > 1) perr(p, p->line, "vprintf takes (fmt, args)");
        i->op = OP_VPRINTF;
        for (int a = 0; a < 2 + nret; a++) {
            struct ropnd *o = a < 2 ? &args->el[a] : &rets->el[0];
            struct sym *s = o->kind == RO_NAME ? sym_lookup(p, o->name, o->len, NULL) : NULL;
            if (!s || s->kind != S_FRAME) perr(p, p->line, "vprintf: arguments must be .param variables");
            i->o[a < 2 ? 1 + a : 0] = s->a;
        }
        return;
    }
    if (weq(f->name, (int)strlen(f->name), "cudaGraphSetConditional") && !f->defined) {
        /* a conditional graph node's value, set from device code (the driver provides it) */
        if (narg != 2 || nret) perr(p, p->line, "cudaGraphSetConditional takes (handle, value)");
        i->op = OP_SETCOND;
        for (int a = 0; a < 2; a++) {
            struct ropnd *o = &args->el[a];
            struct sym *s = o->kind == RO_NAME ? sym_lookup(p, o->name, o->len, NULL) : NULL;
            if (!s || s->kind != S_FRAME) perr(p, p->line, "cudaGraphSetConditional: arguments must be .param variables");
            i->o[1 + a] = s->a;
        }
        return;
    }
    if (nret != f->nrets || narg != f->nparams)
        perr(p, p->line, "call to '%s' with %d return values and %d arguments; it has %d and %d", f->name, nret,
             narg, f->nrets, f->nparams);
    if (narg > 32 || nret > 4) perr(p, p->line, "call: too many arguments");
    struct ptx_module *m = p->m;
    struct callsite *c = new_callsite(p);
    c->func = (int)y->a;
    c->nret = nret;
    c->narg = narg;
    for (int a = 0; a < nret; a++) {
        struct ropnd *o = &rets->el[a];
        struct sym *s = o->kind == RO_NAME ? sym_lookup(p, o->name, o->len, NULL) : NULL;
        if (!s || s->kind != S_FRAME) perr(p, p->line, "call: return value must be a .param variable");
        c->ret_off[a] = s->a;
    }
    for (int a = 0; a < narg; a++) {
        struct ropnd *o = &args->el[a];
        c->arg_size[a] = (uint16_t)f->params[a].size;
        c->arg_reg[a] = REF_NONE;
        uint32_t slot;
        struct sym *s = o->kind == RO_NAME ? sym_lookup(p, o->name, o->len, &slot) : NULL;
        if (s && s->kind == S_FRAME) c->arg_off[a] = s->a;
        else c->arg_reg[a] = src(p, o, T_B64);
    }
    i->asym = (uint32_t)m->ncalls++;
}

static void dec_bar(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, bool barrier)
{
    take(md, "cta");
    if (take(md, "warp")) {
        if (!(md->fl & F_SYNC)) perr(p, p->line, "bar.warp needs .sync");
        i->sub = BAR_WARP;
        want_ops(p, n, 1, 1, "bar.warp.sync", 13);
        i->o[0] = src(p, &ops[0], T_B32);
        return;
    }
    int k = 0;
    if (md->fl & F_SYNC) i->sub = BAR_SYNC;
    else if (take(md, "arrive")) i->sub = BAR_ARRIVE;
    else if (take(md, "red")) {
        i->sub = BAR_RED;
        int a = aop_word(md);
        if (a != AOP_POPC && a != AOP_AND && a != AOP_OR) perr(p, p->line, "bar.red needs .popc, .and or .or");
        i->bop = (uint8_t)a;
        if (n < 3) perr(p, p->line, "bar.red: d, a{, b}, {!}c");
        i->o[3] = dst(p, &ops[k++]);
        i->o[2] = src(p, &ops[n - 1], T_PRED);
        n--;
    } else if (barrier) i->sub = BAR_SYNC; /* barrier{.cta} == barrier.sync */
    else perr(p, p->line, "bar needs .sync, .arrive or .red");
    if (n - k < 1 || n - k > 2) perr(p, p->line, "bar: barrier id{, thread count}");
    i->o[0] = src(p, &ops[k], T_U32);
    if (n - k == 2) i->o[1] = src(p, &ops[k + 1], T_U32);
    md->fl &= (uint16_t)~F_SYNC;
}

static void dec_ldst(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, bool st)
{
    i->t = (uint8_t)one_type(p, md, "ld/st", 5);
    if (i->t == T_B128 || i->t == T_PRED) perr(p, p->line, "ld/st of .b128 or .pred is not supported");
    i->vec = (uint8_t)md->vec;
    i->space = (uint8_t)(md->space < 0 ? SP_GENERIC : md->space);
    if (n < 2) perr(p, p->line, "ld/st: two operands");
    struct ropnd *a = st ? &ops[0] : &ops[1];
    struct ropnd *v = st ? &ops[1] : &ops[0];
    /* n == 3: a cache policy operand; ignored */
    if (n > 3) perr(p, p->line, "ld/st: too many operands");
    addr(p, a, i);
    int cnt = v->kind == RO_VEC ? v->nel : 1;
    if (cnt != md->vec) perr(p, p->line, "ld/st: vector operand of %d elements for .v%d", cnt, md->vec);
    for (int k = 0; k < cnt; k++) {
        const struct ropnd *e = v->kind == RO_VEC ? &v->el[k] : v;
        i->o[k] = st ? src(p, e, i->t) : dst(p, e);
    }
    if (i->akind == AK_KPARAM && i->space != SP_PARAM && i->space != SP_GENERIC)
        perr(p, p->line, "kernel parameter accessed through the wrong state space");
}

static void dec_mov(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n)
{
    i->t = (uint8_t)one_type(p, md, "mov", 3);
    want_ops(p, n, 2, 2, "mov", 3);
    int ts = ptx_type_size[i->t];
    if (ops[0].kind == RO_VEC) { /* unpack */
        int k = ops[0].nel;
        if (k < 2 || k > 4 || ts % k) perr(p, p->line, "mov: bad unpack");
        i->op = OP_MOV_UNPACK;
        i->vec = (uint8_t)k;
        i->t2 = (uint8_t)(ts / k);
        i->o[k] = src(p, &ops[1], i->t);
        for (int e = 0; e < k; e++) i->o[e] = dst(p, &ops[0].el[e]);
        return;
    }
    if (ops[1].kind == RO_VEC) { /* pack */
        int k = ops[1].nel;
        if (k < 2 || k > 4 || ts % k) perr(p, p->line, "mov: bad pack");
        i->op = OP_MOV_PACK;
        i->vec = (uint8_t)k;
        i->t2 = (uint8_t)(ts / k);
        int et = ts / k == 1 ? T_B8 : ts / k == 2 ? T_B16 : ts / k == 4 ? T_B32 : T_B64;
        for (int e = 0; e < k; e++) i->o[1 + e] = src(p, &ops[1].el[e], et);
        i->o[0] = dst(p, &ops[0]);
        return;
    }
    i->o[0] = dst(p, &ops[0]);
    if (ops[1].kind == RO_NAME) {
        uint32_t slot;
        struct sym *y = sym_lookup(p, ops[1].name, ops[1].len, &slot);
        if (!(y && (y->kind == S_REG || y->kind == S_REGRANGE))) {
            int comp, sr = find_sreg(ops[1].name, ops[1].len, &comp);
            if (sr) { i->op = OP_MOV_SREG; i->sub = (uint8_t)sr; i->rnd = (uint8_t)comp; return; }
            if (!y) perr(p, p->line, "undefined identifier '%.*s'", ops[1].len, ops[1].name);
            if (y->kind == S_FUNC) { /* a function's address: a constant of its window (internal.h) */
                if (ops[1].off) perr(p, p->line, "mov: offset from a function address");
                i->o[1] = pool_const(p, PTX_FUNC_ADDR(y->a));
                return;
            }
            i->op = OP_MOV_ADDR;
            i->imm = ops[1].off;
            sym_address(p, y, i, ops[1].name, ops[1].len);
            return;
        }
    }
    i->o[1] = src(p, &ops[1], i->t);
}

static void dec_atom(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, bool red)
{
    i->space = (uint8_t)(md->space < 0 ? SP_GENERIC : md->space);
    if (i->space != SP_GLOBAL && i->space != SP_SHARED && i->space != SP_GENERIC)
        perr(p, p->line, "atom/red: only .global, .shared and generic addresses");
    int a = aop_word(md);
    if (!a || a == AOP_POPC) perr(p, p->line, "atom/red: missing operation");
    i->sub = (uint8_t)a;
    i->t = (uint8_t)one_type(p, md, "atom", 4);
    if (md->vec != 1) perr(p, p->line, "vector atomics are not supported");
    int k = 0;
    if (!red) i->o[0] = dst(p, &ops[k++]);
    if (k >= n) perr(p, p->line, "atom/red: missing address");
    addr(p, &ops[k++], i);
    int need = a == AOP_CAS ? 2 : 1;
    if (n - k < need) perr(p, p->line, "atom/red: missing operand");
    i->o[1] = src(p, &ops[k++], i->t);
    if (a == AOP_CAS) i->o[2] = src(p, &ops[k++], i->t);
    /* a trailing operand is a cache policy: ignored */
}

static void dec_setp(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, bool set)
{
    i->sub = (uint8_t)cmp_word(md);
    if (!i->sub) perr(p, p->line, "setp/set: missing comparison");
    if (take(md, "and")) i->bop = BOP_AND;
    else if (take(md, "or")) i->bop = BOP_OR;
    else if (take(md, "xor")) i->bop = BOP_XOR;
    if (set) {
        if (md->nt != 2) perr(p, p->line, "set needs .dtype.stype");
        i->t2 = (uint8_t)md->t[0]; /* destination type */
        i->t = (uint8_t)md->t[1];
    } else {
        i->t = (uint8_t)one_type(p, md, "setp", 4);
    }
    want_ops(p, n, i->bop ? 4 : 3, i->bop ? 4 : 3, "setp", 4);
    if (ops[0].kind != RO_NAME && ops[0].kind != RO_SINK) perr(p, p->line, "setp: bad destination");
    i->o[0] = ops[0].kind == RO_SINK ? REF_REG(new_reg(p, T_PRED)) : dst_name(p, ops[0].name, ops[0].len);
    if (ops[0].len2) i->o[1] = dst_name(p, ops[0].name2, ops[0].len2);
    i->o[2] = src(p, &ops[1], i->t);
    i->o[3] = src(p, &ops[2], i->t);
    if (i->bop) i->o[4] = src(p, &ops[3], T_PRED);
    i->xf = (uint8_t)family_of(i->t);
}

static bool cvt_packed(int t)
{
    return t == T_F16X2 || t == T_BF16X2 || t == T_E4M3X2 || t == T_E5M2X2 || t == T_E2M1X2 ||
           t == T_UE8M0X2;
}

static void dec_arith(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, const char *opc, int olen)
{
    int op = i->op;
    switch (op) {
    case OP_SETP: dec_setp(p, i, md, ops, n, false); return;
    case OP_SET: dec_setp(p, i, md, ops, n, true); return;
    case OP_CVT: {
        if (md->nt != 2) perr(p, p->line, "cvt needs .dtype.atype");
        i->t = (uint8_t)md->t[0];
        i->t2 = (uint8_t)md->t[1];
        i->rnd = (uint8_t)md->rnd;
        i->xf = X_CVT;
        /* a packed result from two unpacked sources (cvt.rn.f16x2.f32 d, a, b);
         * from a packed source (cvt.rn.f16x2.e4m3x2 d, a) it takes one */
        bool pair = cvt_packed(i->t) && !cvt_packed(i->t2);
        want_ops(p, n, pair ? 3 : 2, pair ? 3 : 2, opc, olen);
        i->o[0] = dst(p, &ops[0]);
        i->o[1] = src(p, &ops[1], i->t2);
        if (pair) i->o[2] = src(p, &ops[2], i->t2);
        return;
    }
    case OP_TESTP: {
        static const char *cls[] = {"finite", "infinite", "number", "notanumber", "normal", "subnormal"};
        for (int k = 0; k < 6; k++)
            if (take(md, cls[k])) i->sub = (uint8_t)(k + 1);
        if (!i->sub) perr(p, p->line, "testp: missing class");
        i->t = (uint8_t)one_type(p, md, opc, olen);
        want_ops(p, n, 2, 2, opc, olen);
        i->o[0] = dst(p, &ops[0]);
        i->o[1] = src(p, &ops[1], i->t);
        i->xf = X_FLOAT;
        return;
    }
    case OP_SLCT: {
        if (md->nt != 2) perr(p, p->line, "slct needs .dtype.ctype");
        i->t = (uint8_t)md->t[0];
        i->t2 = (uint8_t)md->t[1];
        want_ops(p, n, 4, 4, opc, olen);
        i->o[0] = dst(p, &ops[0]);
        i->o[1] = src(p, &ops[1], i->t);
        i->o[2] = src(p, &ops[2], i->t);
        i->o[3] = src(p, &ops[3], i->t2);
        i->xf = X_INT;
        return;
    }
    default: break;
    }
    /* the rest: one type (dp4a/dp2a: two), d, sources */
    if (op == OP_DP4A || op == OP_DP2A) {
        if (md->nt != 2) perr(p, p->line, "dp4a/dp2a need .atype.btype");
        i->t = (uint8_t)md->t[0];
        i->t2 = (uint8_t)md->t[1];
        if (op == OP_DP2A) { if (take(md, "hi")) i->fl |= F_HI; else if (take(md, "lo")) i->fl |= F_LO; else perr(p, p->line, "dp2a needs .lo or .hi"); }
    } else if (op == OP_BFIND && md->nt == 1) {
        i->t = (uint8_t)md->t[0];
    } else {
        i->t = (uint8_t)one_type(p, md, opc, olen);
    }
    if (take(md, "hi")) i->fl |= F_HI;
    if (take(md, "lo")) i->fl |= F_LO;
    if (take(md, "abs")) i->fl |= F_ABS;
    if (op == OP_SHF) {
        if (take(md, "l")) i->sub = 1;
        else if (take(md, "r")) i->sub = 2;
        else perr(p, p->line, "shf needs .l or .r");
    }
    if (op == OP_PRMT) {
        static const char *modes[] = {"f4e", "b4e", "rc8", "ecl", "ecr", "rc16"};
        for (int k = 0; k < 6; k++)
            if (take(md, modes[k])) i->sub = (uint8_t)(k + 1);
    }
    if (op == OP_SZEXT) {
        if (take(md, "clamp")) i->fl |= F_CLAMP;
    }
    int nsrc;
    int stype[4] = {i->t, i->t, i->t, i->t};
    switch (op) {
    case OP_ABS: case OP_NEG: case OP_NOT: case OP_CNOT: case OP_RCP: case OP_SQRT: case OP_RSQRT:
    case OP_SIN: case OP_COS: case OP_LG2: case OP_EX2: case OP_TANH: case OP_POPC: case OP_CLZ:
    case OP_BREV: case OP_BFIND: nsrc = 1; break;
    case OP_MAD: case OP_FMA: case OP_MADC: case OP_MAD24: case OP_SAD: case OP_SELP: case OP_SHF:
    case OP_PRMT: case OP_DP4A: case OP_DP2A: case OP_FNS: case OP_BFE: nsrc = 3; break;
    case OP_BFI: case OP_LOP3: nsrc = 4; break;
    case OP_MIN: case OP_MAX: nsrc = n - 1 >= 3 ? 3 : 2; break; /* min.relu / three-input min (sm_100) */
    default: nsrc = 2; break;
    }
    if (op == OP_SHL || op == OP_SHR) stype[1] = T_U32;
    if (op == OP_BFE) stype[1] = stype[2] = T_U32;
    if (op == OP_BFI) stype[2] = stype[3] = T_U32;
    if (op == OP_SELP) stype[2] = T_PRED;
    if (op == OP_SHF) stype[2] = T_U32;
    if (op == OP_FNS) stype[0] = stype[1] = stype[2] = T_U32;
    if (op == OP_BMSK || op == OP_SZEXT) stype[0] = stype[1] = T_U32;
    if (op == OP_DP4A || op == OP_DP2A) { stype[0] = i->t; stype[1] = i->t2; stype[2] = T_U32; }
    if ((op == OP_MAD && (i->fl & F_WIDE))) stype[2] = T_S64;
    if (op == OP_LOP3) stype[3] = T_U32;
    want_ops(p, n, nsrc + 1, nsrc + 1, opc, olen);
    i->o[0] = dst(p, &ops[0]);
    for (int k = 0; k < nsrc; k++) i->o[1 + k] = src(p, &ops[1 + k], stype[k]);
    switch (op) {
    case OP_BFE: case OP_BFI: case OP_BMSK: case OP_PRMT: case OP_LOP3: case OP_SHF: case OP_POPC:
    case OP_CLZ: case OP_BREV: case OP_BFIND: case OP_FNS: case OP_DP4A: case OP_DP2A: case OP_SZEXT:
        i->xf = X_BITS;
        break;
    default:
        i->xf = (uint8_t)family_of(i->t);
    }
    if (op == OP_COPYSIGN && i->xf != X_FLOAT) perr(p, p->line, "copysign: .f32 or .f64");
}

static void dec_warp(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, const char *opc, int olen)
{
    bool sync = (md->fl & F_SYNC) != 0;
    if (sync) i->fl |= F_SYNC;
    switch (i->op) {
    case OP_ACTIVEMASK:
        want_ops(p, n, 1, 1, opc, olen);
        i->o[0] = dst(p, &ops[0]);
        return;
    case OP_SHFL: {
        if (take(md, "up")) i->sub = SHFL_UP;
        else if (take(md, "down")) i->sub = SHFL_DOWN;
        else if (take(md, "bfly")) i->sub = SHFL_BFLY;
        else if (take(md, "idx")) i->sub = SHFL_IDX;
        else perr(p, p->line, "shfl: missing mode");
        i->t = (uint8_t)one_type(p, md, opc, olen);
        want_ops(p, n, sync ? 5 : 4, sync ? 5 : 4, opc, olen);
        if (ops[0].kind != RO_NAME && ops[0].kind != RO_SINK) perr(p, p->line, "shfl: bad destination");
        i->o[0] = dst(p, &ops[0]);
        if (ops[0].len2) i->o[4] = dst_name(p, ops[0].name2, ops[0].len2);
        i->o[1] = src(p, &ops[1], T_B32);
        i->o[2] = src(p, &ops[2], T_B32);
        i->o[3] = src(p, &ops[3], T_B32);
        if (sync) i->o[5] = src(p, &ops[4], T_B32);
        return;
    }
    case OP_VOTE: {
        if (take(md, "all")) i->sub = VOTE_ALL;
        else if (take(md, "any")) i->sub = VOTE_ANY;
        else if (take(md, "uni")) i->sub = VOTE_UNI;
        else if (take(md, "ballot")) i->sub = VOTE_BALLOT;
        else if (md->fl & F_UNI) { i->sub = VOTE_UNI; md->fl &= (uint16_t)~F_UNI; }
        else perr(p, p->line, "vote: missing mode");
        i->t = (uint8_t)one_type(p, md, opc, olen);
        want_ops(p, n, sync ? 3 : 2, sync ? 3 : 2, opc, olen);
        i->o[0] = dst(p, &ops[0]);
        i->o[1] = src(p, &ops[1], T_PRED);
        if (sync) i->o[2] = src(p, &ops[2], T_B32);
        return;
    }
    case OP_MATCH: {
        if (take(md, "any")) i->sub = MATCH_ANY;
        else if (take(md, "all")) i->sub = MATCH_ALL;
        else perr(p, p->line, "match: missing mode");
        i->t = (uint8_t)one_type(p, md, opc, olen);
        want_ops(p, n, 3, 3, opc, olen);
        i->o[0] = dst(p, &ops[0]);
        if (ops[0].len2) i->o[3] = dst_name(p, ops[0].name2, ops[0].len2);
        i->o[1] = src(p, &ops[1], i->t);
        i->o[2] = src(p, &ops[2], T_B32);
        i->fl |= F_SYNC;
        return;
    }
    case OP_REDUX: {
        int a = aop_word(md);
        if (!a || a == AOP_INC || a == AOP_DEC || a == AOP_EXCH || a == AOP_CAS) perr(p, p->line, "redux: bad operation");
        i->bop = (uint8_t)a;
        if (take(md, "abs")) i->fl |= F_ABS;
        i->t = (uint8_t)one_type(p, md, opc, olen);
        want_ops(p, n, 3, 3, opc, olen);
        i->o[0] = dst(p, &ops[0]);
        i->o[1] = src(p, &ops[1], i->t);
        i->o[2] = src(p, &ops[2], T_B32);
        i->fl |= F_SYNC;
        return;
    }
    }
}

/* ---- tensor-core and async-copy instructions (executed by mma.c) ---- */

/* is `w` one of the '.'-separated words of opcode opc? */
static bool opc_has(const char *opc, int olen, const char *w)
{
    int i = 0;
    while (i < olen) {
        int j = i;
        while (j < olen && opc[j] != '.') j++;
        if (weq(opc + i, j - i, w)) return true;
        i = j + 1;
    }
    return false;
}

/* a register operand given as {r} or r: its refs into out[], count checked */
static void reg_list(struct pctx *p, const struct ropnd *o, uint32_t *out, int want, bool is_dst, int t)
{
    int cnt = o->kind == RO_VEC ? o->nel : 1;
    if (cnt != want) perr(p, p->line, "expected a vector of %d registers, not %d", want, cnt);
    for (int k = 0; k < cnt; k++) {
        const struct ropnd *e = o->kind == RO_VEC ? &o->el[k] : o;
        out[k] = is_dst ? dst(p, e) : src(p, e, t);
    }
}

uint32_t xops_alloc(struct pctx *p, int n)
{
    struct ptx_module *m = p->m;
    if (m->nxops + n > p->capxops) {
        while (m->nxops + n > p->capxops) p->capxops = p->capxops ? p->capxops * 2 : 64;
        m->xops = xrealloc(p, m->xops, sizeof *m->xops * (size_t)p->capxops);
    }
    uint32_t at = (uint32_t)m->nxops;
    m->nxops += n;
    return at;
}

/* registers per fragment of each mma operand for the supported forms; 0: not supported */
struct mma_form { int na, nb, nc; };
static bool mma_form(int shape, int dt, int at, int bt, int ct, bool sat, struct mma_form *f)
{
    bool f16 = at == T_F16 && bt == T_F16, bf16 = at == T_BF16 && bt == T_BF16;
    bool i8 = (at == T_S8 || at == T_U8) && (bt == T_S8 || bt == T_U8);
    bool f8 = (at == T_E4M3X2 || at == T_E5M2X2) && (bt == T_E4M3X2 || bt == T_E5M2X2);
    if (dt != ct) return false;
    if (sat && !i8) return false;
    int cregs = shape == MMA_M8N8K16 || shape == MMA_M8N8K4 ? 2 : 4;
    if (f16 || bf16) {
        if (dt != T_F32 && !(f16 && dt == T_F16)) return false;
        if (shape == MMA_M16N8K8) { f->na = 2; f->nb = 1; }
        else if (shape == MMA_M16N8K16) { f->na = 4; f->nb = 2; }
        else return false;
        f->nc = dt == T_F16 ? 2 : 4;
        return true;
    }
    if (at == T_TF32 && bt == T_TF32) {
        if (dt != T_F32) return false;
        if (shape == MMA_M16N8K8) { f->na = 4; f->nb = 2; }
        else return false; /* m16n8k4 .tf32: not implemented (stub) */
        f->nc = 4;
        return true;
    }
    if (i8) {
        if (dt != T_S32) return false;
        if (shape == MMA_M8N8K16) { f->na = 1; f->nb = 1; }
        else if (shape == MMA_M16N8K16) { f->na = 2; f->nb = 1; }
        else if (shape == MMA_M16N8K32) { f->na = 4; f->nb = 2; }
        else return false;
        f->nc = cregs;
        return true;
    }
    if (f8) {
        if (dt != T_F32 && dt != T_F16) return false;
        if (shape == MMA_M16N8K16) { f->na = 2; f->nb = 1; }
        else if (shape == MMA_M16N8K32) { f->na = 4; f->nb = 2; }
        else return false;
        f->nc = dt == T_F16 ? 2 : 4;
        return true;
    }
    if (at == T_F64 && bt == T_F64 && dt == T_F64 && shape == MMA_M8N8K4) {
        f->na = 1; f->nb = 1; f->nc = 2;
        return true;
    }
    return false;
}

/* Registers of an .s8/.u8 a or b fragment (PTX ISA): 4 bytes each, as many
 * as the matrix needs (16x16: 2; the 8x16 a of m8n32k16 and the 16x8 b of
 * m32n8k16: 1; the 32x16 a and 16x32 b of the other: 4). */
static int wmma_int_regs(int shape, bool is_a)
{
    if (shape == WMMA_M16N16K16) return 2;
    return (shape == WMMA_M8N32K16) == is_a ? 1 : 4;
}

/* wmma.load/store/mma for .m16n16k16, .m8n32k16 and .m32n8k16 with .f16 or
 * .s8/.u8 multiplicands. Registers per fragment (PTX ISA): a/b .f16: 8
 * (.f16x2) whatever the shape, a/b .s8/.u8: wmma_int_regs; c/d .f16: 4,
 * .f32: 8, .s32: 8. The shape is kept in t2. The operand registers go to
 * the operand table: xops[asym] = count (load/store) or a descriptor (mma),
 * then the registers. */
static bool dec_wmma(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, const char *opc,
                     int olen)
{
    if (!(md->fl & F_SYNC)) return false;
    int shape;
    if (take(md, "m16n16k16")) shape = WMMA_M16N16K16;
    else if (take(md, "m8n32k16")) shape = WMMA_M8N32K16;
    else if (take(md, "m32n8k16")) shape = WMMA_M32N8K16;
    else return false;
    i->t2 = (uint8_t)shape;
    int sub = 0;
    if (take(md, "load")) {
        if (take(md, "a")) sub = WMMA_LOAD_A;
        else if (take(md, "b")) sub = WMMA_LOAD_B;
        else if (take(md, "c")) sub = WMMA_LOAD_C;
    } else if (take(md, "store")) {
        if (take(md, "d")) sub = WMMA_STORE_D;
    } else if (take(md, "mma")) sub = WMMA_MMA;
    if (!sub) return false;
    i->sub = (uint8_t)sub;
    i->fl = 0;
    if (sub == WMMA_MMA) {
        /* .alayout.blayout: the fragments hold the logical matrices whatever
         * the memory layout they were loaded from, so both are accepted */
        int nrow = 0;
        while (take(md, "row")) nrow++;
        while (take(md, "col")) nrow++;
        if (nrow != 2) return false;
        bool sat = (md->fl & F_SAT) != 0;
        int dt, ct, at, bt;
        if (md->nt == 2 && (md->t[0] == T_F16 || md->t[0] == T_F32) && (md->t[1] == T_F16 || md->t[1] == T_F32) &&
            !sat) {
            dt = md->t[0]; ct = md->t[1]; at = bt = T_F16;
        } else if (md->nt == 4 && md->t[0] == T_S32 && md->t[3] == T_S32 && (md->t[1] == T_S8 || md->t[1] == T_U8) &&
                   (md->t[2] == T_S8 || md->t[2] == T_U8)) {
            dt = ct = T_S32; at = md->t[1]; bt = md->t[2];
        } else return false;
        if (md->nw) return false;
        md->nt = 0;
        int na = at == T_F16 ? 8 : wmma_int_regs(shape, true), nb = at == T_F16 ? 8 : wmma_int_regs(shape, false);
        int nd = dt == T_F16 ? 4 : 8, nc = ct == T_F16 ? 4 : 8;
        want_ops(p, n, 4, 4, opc, olen);
        int tot = 1 + nd + na + nb + nc;
        uint32_t at_ = xops_alloc(p, tot), ref[1 + 8 + 8 + 8 + 8];
        ref[0] = (uint32_t)(dt | ct << 8 | at << 16 | bt << 24);
        reg_list(p, &ops[0], ref + 1, nd, true, T_B32);
        reg_list(p, &ops[1], ref + 1 + nd, na, false, T_B32);
        reg_list(p, &ops[2], ref + 1 + nd + na, nb, false, T_B32);
        reg_list(p, &ops[3], ref + 1 + nd + na + nb, nc, false, T_B32);
        memcpy(p->m->xops + at_, ref, sizeof(uint32_t) * (size_t)tot);
        i->asym = at_;
        i->fl = sat ? F_SAT : 0;
        return true;
    }
    bool col = take(md, "col");
    if (!col && !take(md, "row")) return false;
    if (md->nt != 1 || md->nw) return false;
    int t = md->t[0];
    int cnt;
    if (sub == WMMA_LOAD_A || sub == WMMA_LOAD_B) {
        if (t == T_F16) cnt = 8;
        else if (t == T_S8 || t == T_U8) cnt = wmma_int_regs(shape, sub == WMMA_LOAD_A);
        else return false;
    } else {
        if (t == T_F16) cnt = 4;
        else if (t == T_F32 || t == T_S32) cnt = 8;
        else return false;
    }
    md->nt = 0;
    i->t = (uint8_t)t;
    i->bop = col;
    i->space = (uint8_t)(md->space < 0 ? SP_GENERIC : md->space);
    if (i->space != SP_GENERIC && i->space != SP_GLOBAL && i->space != SP_SHARED) return false;
    md->space = -1;
    want_ops(p, n, 2, 3, opc, olen);
    bool st = sub == WMMA_STORE_D;
    uint32_t at_ = xops_alloc(p, 1 + cnt), ref[1 + 8];
    ref[0] = (uint32_t)cnt;
    reg_list(p, &ops[st ? 1 : 0], ref + 1, cnt, !st, T_B32);
    memcpy(p->m->xops + at_, ref, sizeof(uint32_t) * (size_t)(1 + cnt));
    addr(p, &ops[st ? 0 : 1], i);
    i->asym = at_;
    i->o[0] = n == 3 ? src(p, &ops[2], T_U32) : REF_NONE; /* stride in elements (default: the matrix's) */
    return true;
}

/* mma.sync.aligned.kind::mxf4.block_scale.scale_vec::2X.m16n8k64.row.col.f32.e2m1.e2m1.f32.ue8m0 and
 * kind::mxf4nvf4 .scale_vec::4X ... .ue4m3 (also 2X .ue8m0): d{4}, a{4}, b{2}, c{4}, scale-a,
 * {byte-id-a, thread-id-a}, scale-b, {byte-id-b, thread-id-b}. Only the selectors {0, 0} are
 * implemented (what cuBLAS-free code such as ggml writes); others decode to the failing stub. */
static bool dec_mma_block_scale(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n,
                                const char *opc, int olen, int kind, bool bscale, int svec, int shape,
                                bool sync_row_col, const int *ty, int nt)
{
    if (!kind || !bscale || !sync_row_col || shape != MMA_M16N8K64 || nt != 5) return false;
    if (ty[0] != T_F32 || ty[1] != T_E2M1X2 || ty[2] != T_E2M1X2 || ty[3] != T_F32) return false;
    int sft = ty[4];
    if (svec == 0) svec = 1;
    if (!(sft == T_UE8M0X2 && svec == 2) && !(kind == 2 && sft == T_E4M3X2 && svec == 4)) return false;
    if (n != 8) return false;
    for (int k = 5; k < 8; k += 2) {
        if (ops[k].kind != RO_VEC || ops[k].nel != 2) return false;
        for (int e = 0; e < 2; e++)
            if (ops[k].el[e].kind != RO_INT || ops[k].el[e].u != 0) return false;
    }
    (void)opc; (void)olen;
    md->nw = 0; md->nt = 0; md->fl = 0; md->space = -1;
    int tot = 1 + 4 + 4 + 2 + 4 + 2 + 1;
    uint32_t at = xops_alloc(p, tot), ref[1 + 4 + 4 + 2 + 4 + 2 + 1];
    ref[0] = (uint32_t)(T_E2M1X2 | T_F32 << 8 | 4 << 16 | 2 << 20 | 4 << 24) | MMA_BLOCK_SCALE;
    reg_list(p, &ops[0], ref + 1, 4, true, T_B32);
    reg_list(p, &ops[1], ref + 5, 4, false, T_B32);
    reg_list(p, &ops[2], ref + 9, 2, false, T_B32);
    reg_list(p, &ops[3], ref + 11, 4, false, T_B32);
    ref[15] = src(p, &ops[4], T_B32);
    ref[16] = src(p, &ops[6], T_B32);
    ref[17] = (uint32_t)(sft | svec << 8);
    memcpy(p->m->xops + at, ref, sizeof(uint32_t) * (size_t)tot);
    i->sub = MMA_M16N8K64;
    i->t = T_F32;
    i->t2 = T_E2M1X2;
    i->asym = at;
    i->fl = 0;
    return true;
}

/* ---- mbarrier and cp.async.bulk (executed by async.c) ---- */

/* an address operand as one register (helper instructions compute it):
 * what the bulk forms need, having several addresses per instruction;
 * *b32: the register is 32 bits wide (its upper bits are not defined) */
static uint32_t addr_reg(struct pctx *p, const struct ropnd *o, bool *b32_out)
{
    struct ins a = ins_init(p, OP_MOV_ADDR);
    addr(p, o, &a);
    uint32_t base = a.abase;
    bool b32 = (a.fl & F_ADDR32) != 0;
    *b32_out = b32;
    if (base != REF_NONE && a.akind == AK_NONE && a.imm == 0) return base;
    uint32_t k;
    if (a.akind == AK_NONE) {
        if (base == REF_NONE) k = pool_const(p, (uint64_t)a.imm);
        else k = pool_const(p, b32 ? (uint32_t)a.imm : (uint64_t)a.imm);
    } else {
        a.abase = REF_NONE;
        a.fl = 0;
        a.t = T_U64;
        a.o[0] = REF_REG(new_reg(p, T_U64));
        put(p, &a);
        k = a.o[0];
    }
    if (base == REF_NONE) {
        if (a.akind != AK_NONE) return k;
        struct ins mv = ins_init(p, OP_MOV);
        mv.t = T_U64;
        mv.o[0] = REF_REG(new_reg(p, T_U64));
        mv.o[1] = k;
        put(p, &mv);
        return mv.o[0];
    }
    struct ins s = ins_init(p, OP_ADD);
    s.t = b32 ? T_U32 : T_U64; /* 32-bit addressing wraps at 32 bits, as ld/st do */
    s.xf = X_INT;
    s.o[0] = REF_REG(new_reg(p, s.t));
    s.o[1] = base;
    s.o[2] = k;
    put(p, &s);
    return s.o[0];
}

static int space_word(const char *w, int wl)
{
    if (weq(w, wl, "global")) return SP_GLOBAL;
    /* a cluster is one CTA here: its shared::cluster window is the CTA's own */
    if (weq(w, wl, "shared") || weq(w, wl, "shared::cta") || weq(w, wl, "shared::cluster")) return SP_SHARED;
    return -1;
}

/* mbarrier.* (PTX ISA 9.0 9.7.13.15) */
static void dec_mbar(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, const char *opc,
                     int olen)
{
    i->xf = X_ASYNC;
    i->space = (uint8_t)(md->space < 0 ? SP_GENERIC : md->space);
    if (take(md, "shared::cluster")) i->space = SP_SHARED;
    take(md, "cluster");
    take(md, "noComplete"); /* promises the arrive does not complete the phase: an ordinary arrive */
    if (md->nt != 1 || md->t[0] != T_B64) perr(p, p->line, "%.*s: expected .b64", olen, opc);
    md->nt = 0;
    md->ordered = false;
    bool has_state = false;
    int addr_op = 1;
    if (take(md, "init")) { i->sub = MB_INIT; want_ops(p, n, 2, 2, opc, olen); addr_op = 0; }
    else if (take(md, "inval")) { i->sub = MB_INVAL; want_ops(p, n, 1, 1, opc, olen); addr_op = 0; }
    else if (!opc_has(opc, olen, "arrive") && !opc_has(opc, olen, "arrive_drop") && take(md, "expect_tx")) {
        i->sub = MB_EXPECT_TX; want_ops(p, n, 2, 2, opc, olen); addr_op = 0;
    }
    else if (take(md, "complete_tx")) { i->sub = MB_COMPLETE_TX; want_ops(p, n, 2, 2, opc, olen); addr_op = 0; }
    else if (take(md, "pending_count")) {
        i->sub = MB_PENDING;
        want_ops(p, n, 2, 2, opc, olen);
        i->o[0] = dst(p, &ops[0]);
        i->o[1] = src(p, &ops[1], T_B64);
        return;
    }
    else if (take(md, "test_wait") || take(md, "try_wait")) {
        i->sub = opc_has(opc, olen, "try_wait") ? MB_TRY_WAIT : MB_TEST_WAIT;
        if (take(md, "parity")) i->bop |= MBF_PARITY;
        want_ops(p, n, 3, i->sub == MB_TRY_WAIT ? 4 : 3, opc, olen); /* a suspend-time hint is only a hint */
        i->o[0] = dst(p, &ops[0]);
        has_state = true;
    }
    else {
        /* arrive / arrive_drop, optionally .expect_tx; .expect_tx was taken above */
        take(md, "expect_tx");
        bool drop = take(md, "arrive_drop");
        if (!drop && !take(md, "arrive")) perr(p, p->line, "unsupported mbarrier operation '%.*s'", olen, opc);
        i->sub = MB_ARRIVE;
        if (drop) i->bop |= MBF_DROP;
        if (opc_has(opc, olen, "expect_tx")) i->bop |= MBF_EXPECT_TX;
        want_ops(p, n, (i->bop & MBF_EXPECT_TX) ? 3 : 2, 3, opc, olen);
        i->o[0] = dst(p, &ops[0]);
        if (n == 3) i->o[1] = src(p, &ops[2], T_U32);
    }
    addr(p, &ops[addr_op], i);
    if (i->sub == MB_INIT || i->sub == MB_EXPECT_TX || i->sub == MB_COMPLETE_TX)
        i->o[1] = src(p, &ops[1], T_U32);
    if (has_state) i->o[1] = src(p, &ops[2], (i->bop & MBF_PARITY) ? T_U32 : T_B64);
}

/* cp.async.bulk (non-tensor), cp.reduce.async.bulk, cp.async.mbarrier.arrive */
static bool dec_async_cp(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, const char *opc,
                         int olen)
{
    md->nw = 0; md->space = -1; md->nt = 0; md->vec = 1; md->fl = 0; md->ordered = false;
    i->xf = X_ASYNC;
    if (opc_has(opc, olen, "mbarrier") && !opc_has(opc, olen, "bulk")) {
        /* cp.async.mbarrier.arrive{.noinc}{.shared{::cta}}.b64 [a] */
        if (!opc_has(opc, olen, "arrive")) return false;
        want_ops(p, n, 1, 1, opc, olen);
        i->op = OP_MBARRIER;
        i->sub = MB_CP_ARRIVE;
        i->bop = opc_has(opc, olen, "noinc") ? MBF_NOINC : 0;
        i->space = opc_has(opc, olen, "shared") || opc_has(opc, olen, "shared::cta") ? SP_SHARED : SP_GENERIC;
        addr(p, &ops[0], i);
        return true;
    }
    if (opc_has(opc, olen, "commit_group")) { want_ops(p, n, 0, 0, opc, olen); i->sub = BULK_COMMIT; return true; }
    if (opc_has(opc, olen, "wait_group")) {
        want_ops(p, n, 1, 1, opc, olen);
        (void)src(p, &ops[0], T_U32);
        i->sub = BULK_WAIT;
        return true;
    }
    if (opc_has(opc, olen, "multicast::cluster") || opc_has(opc, olen, "cp_mask")) return false;
    bool reduce = opc_has(opc, olen, "reduce");
    bool prefetch = opc_has(opc, olen, "prefetch");
    bool hint = opc_has(opc, olen, "L2::cache_hint");
    int sp[2] = {-1, -1}, nsp = 0, t = T_NONE;
    bool mbar = false, group = false;
    for (int a = 0; a < olen;) {
        int b = a;
        while (b < olen && opc[b] != '.') b++;
        const char *w = opc + a;
        int wl = b - a, s = space_word(w, wl), ty;
        a = b + 1;
        if (s >= 0) { if (nsp == 2) return false; sp[nsp++] = s; }
        else if (weq(w, wl, "mbarrier::complete_tx::bytes")) mbar = true;
        else if (weq(w, wl, "bulk_group")) group = true;
        else if ((ty = parse_type_name(w, wl)) != T_NONE) t = ty;
    }
    if (prefetch) {
        /* cp.async.bulk.prefetch.L2.global [a], size: a hint, no effect */
        want_ops(p, n, 2, hint ? 3 : 2, opc, olen);
        i->sub = BULK_PREFETCH;
        return true;
    }
    if (nsp != 2 || mbar == group) return false;
    /* the three directions the ISA has: global -> shared (mbarrier),
     * shared -> shared::cluster (mbarrier), shared -> global (bulk group) */
    if (mbar && sp[1] == SP_GLOBAL && sp[0] != SP_SHARED) return false;
    if (group && (sp[0] != SP_GLOBAL || sp[1] != SP_SHARED)) return false;
    if (mbar && sp[0] != SP_SHARED) return false;
    i->sub = reduce ? BULK_REDUCE : BULK_COPY;
    i->space = (uint8_t)sp[0];
    i->t2 = (uint8_t)sp[1];
    if (reduce) {
        int aop = 0;
        if (opc_has(opc, olen, "add")) aop = AOP_ADD;
        else if (opc_has(opc, olen, "min")) aop = AOP_MIN;
        else if (opc_has(opc, olen, "max")) aop = AOP_MAX;
        else if (opc_has(opc, olen, "and")) aop = AOP_AND;
        else if (opc_has(opc, olen, "or")) aop = AOP_OR;
        else if (opc_has(opc, olen, "xor")) aop = AOP_XOR;
        else if (opc_has(opc, olen, "inc")) aop = AOP_INC;
        else if (opc_has(opc, olen, "dec")) aop = AOP_DEC;
        if (!aop || t == T_NONE || opc_has(opc, olen, "noftz")) return false;
        if (!(t == T_U32 || t == T_S32 || t == T_U64 || t == T_S64 || t == T_B32 || t == T_B64 ||
              (t == T_F32 && aop == AOP_ADD) || (t == T_F64 && aop == AOP_ADD)))
            return false;
        i->bop = (uint8_t)aop;
        i->t = (uint8_t)t;
    }
    int need = mbar ? 4 : 3;
    want_ops(p, n, need, need + (hint ? 1 : 0), opc, olen); /* a cache-policy operand is ignored */
    bool w32[3] = {false, false, false};
    i->o[0] = addr_reg(p, &ops[0], &w32[0]);
    i->o[1] = addr_reg(p, &ops[1], &w32[1]);
    i->o[2] = src(p, &ops[2], T_U32);
    if (mbar) i->o[3] = addr_reg(p, &ops[3], &w32[2]);
    i->vec = (uint8_t)(w32[0] | w32[1] << 1 | w32[2] << 2);
    return true;
}

/* Decode a tensor/async instruction into i; false: a form not supported
 * (the caller emits the failing stub). */
/* tex.geom.v4.dtype.ctype d, [t, {c}] with t a .u64 texture object in a
 * register (unified mode); false: a form not supported (layered, cube and
 * multisample geometries, mipmap levels and gradients, offsets, depth
 * compare, a predicate destination, .texref names). */
static bool dec_tex(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n)
{
    bool layered = false;
    int comp = -1; /* tld4's component */
    if (i->op == OP_TLD4)
        comp = take(md, "r") ? 0 : take(md, "g") ? 1 : take(md, "b") ? 2 : take(md, "a") ? 3 : -1;
    int dims = take(md, "1d") ? 1 : take(md, "2d") ? 2 : take(md, "3d") ? 3 : 0;
    if (!dims && i->op == OP_TEX) {
        dims = take(md, "a1d") ? 1 : take(md, "a2d") ? 2 : 0;
        layered = dims != 0;
    }
    if (i->op == OP_TLD4 && (comp < 0 || dims != 2))
        return false;
    if (!dims || take(md, "level") || take(md, "grad") || n != 2 || ops[0].kind != RO_VEC || ops[0].name2 ||
        ops[1].kind != RO_ADDR || ops[1].nel != 1 || ops[1].el[0].kind != RO_VEC || md->nt != 2 || md->vec != 4)
        return false;
    int dt = md->t[0], ct = md->t[1];
    if ((dt != T_F32 && dt != T_S32 && dt != T_U32) || (ct != T_F32 && ct != T_S32))
        return false;
    uint32_t slot;
    struct sym *y = sym_lookup(p, ops[1].name, ops[1].len, &slot);
    if (!y || (y->kind != S_REG && y->kind != S_REGRANGE) || ptx_type_size[y->t] != 8)
        return false;
    const struct ropnd *c = &ops[1].el[0];
    /* a 3D coordinate is padded to four, a layered 2D one (layer, x, y) too */
    int want = layered ? (dims == 2 ? 4 : 2) : dims == 3 ? 4 : dims;
    if (c->nel != want)
        perr(p, p->line, "tex: expected %d coordinates, not %d", want, c->nel);
    i->xf = X_TEX;
    i->sub = (uint8_t)dims;
    i->bop = layered;
    i->rnd = (uint8_t)(comp < 0 ? 0 : comp);
    i->t = (uint8_t)dt;
    i->t2 = (uint8_t)ct;
    i->vec = 4;
    reg_list(p, &ops[0], i->o, 4, true, dt);
    i->o[4] = REF_REG(slot);
    int k0 = 0;
    if (layered)
        i->o[5 + k0++] = src(p, &c->el[0], T_S32); /* the layer: an integer whatever the coordinates */
    for (int k = 0; k < dims; k++)
        i->o[5 + k0 + k] = src(p, &c->el[k0 + k], ct);
    md->nt = 0;
    md->vec = 0;
    return true;
}

/* suld.b.geom[.vN].bT.mode d, [s, {c}] and sust.b.geom[.vN].bT.mode [s, {c}], a
 * with s a .u64 surface object in a register; false: a form not supported
 * (.p formatted stores, layered geometries, .texref names). */
static bool dec_surf(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, bool st)
{
    int dims = take(md, "1d") ? 1 : take(md, "2d") ? 2 : take(md, "3d") ? 3 : 0;
    /* .clamp is read as a flag by split_mods (cvt's), .trap and .zero as words */
    int mode = take(md, "trap") ? 0 : (md->fl & F_CLAMP) ? 1 : take(md, "zero") ? 2 : -1;
    md->fl &= (uint16_t)~F_CLAMP;
    if (!take(md, "b") || !dims || mode < 0 || n != 2 || md->nt != 1)
        return false;
    int t = md->t[0], vec = md->vec;
    if ((t != T_B8 && t != T_B16 && t != T_B32 && t != T_B64) || (vec != 1 && vec != 2 && vec != 4))
        return false;
    const struct ropnd *a = &ops[st ? 0 : 1], *data = &ops[st ? 1 : 0];
    if (a->kind != RO_ADDR || a->nel != 1 || a->el[0].kind != RO_VEC)
        return false;
    uint32_t slot;
    struct sym *y = sym_lookup(p, a->name, a->len, &slot);
    if (!y || (y->kind != S_REG && y->kind != S_REGRANGE) || ptx_type_size[y->t] != 8)
        return false;
    const struct ropnd *c = &a->el[0];
    int want = dims == 3 ? 4 : dims; /* a 3D coordinate is padded to four */
    if (c->nel != want)
        perr(p, p->line, "%s.%dd: expected %d coordinates, not %d", st ? "sust" : "suld", dims, want, c->nel);
    i->xf = X_TEX;
    i->sub = (uint8_t)dims;
    i->t = (uint8_t)t;
    i->vec = (uint8_t)vec;
    i->bop = (uint8_t)mode;
    reg_list(p, data, i->o, vec, !st, t);
    i->o[4] = REF_REG(slot);
    for (int k = 0; k < dims; k++)
        i->o[5 + k] = src(p, &c->el[k], T_S32);
    md->nt = 0;
    md->vec = 1;
    return true;
}

static bool dec_tensor(struct pctx *p, struct ins *i, struct mods *md, struct ropnd *ops, int n, const char *opc,
                       int olen)
{
    int op = i->op;
    i->xf = X_TENSOR;
    if (op == OP_CP) {
        if (opc_has(opc, olen, "async") && (opc_has(opc, olen, "bulk") || opc_has(opc, olen, "mbarrier")) &&
            !opc_has(opc, olen, "tensor"))
            return dec_async_cp(p, i, md, ops, n, opc, olen);
        if (!opc_has(opc, olen, "async") || opc_has(opc, olen, "bulk") || opc_has(opc, olen, "mbarrier") ||
            opc_has(opc, olen, "tensor"))
            return false;
        md->nw = 0;
        md->space = -1;
        md->nt = 0;
        if (opc_has(opc, olen, "commit_group")) { want_ops(p, n, 0, 0, opc, olen); i->sub = 2; return true; }
        if (opc_has(opc, olen, "wait_all")) { want_ops(p, n, 0, 0, opc, olen); i->sub = 4; return true; }
        if (opc_has(opc, olen, "wait_group")) {
            want_ops(p, n, 1, 1, opc, olen);
            (void)src(p, &ops[0], T_U32);
            i->sub = 3;
            return true;
        }
        bool ca = opc_has(opc, olen, "ca"), cg = opc_has(opc, olen, "cg");
        if (ca == cg || !opc_has(opc, olen, "global") ||
            !(opc_has(opc, olen, "shared") || opc_has(opc, olen, "shared::cta")))
            return false;
        bool hint = opc_has(opc, olen, "L2::cache_hint");
        if (n < 3) perr(p, p->line, "cp.async: [dst], [src], cp-size{, src-size}");
        i->sub = 1;
        i->space = SP_SHARED;
        /* the source address: base register (o[0]) + offset (o[1]) */
        struct ins sa = ins_init(p, OP_MOV_ADDR);
        addr(p, &ops[1], &sa);
        if (sa.akind != AK_NONE) {
            if (sa.akind != AK_GLOBAL) perr(p, p->line, "cp.async: the source must be global memory");
            sa.t = T_U64;
            uint32_t base = sa.abase;
            bool b32 = (sa.fl & F_ADDR32) != 0;
            sa.abase = REF_NONE;
            sa.fl = 0;
            sa.o[0] = REF_REG(new_reg(p, T_U64));
            put(p, &sa);
            i->o[0] = sa.o[0];
            i->o[1] = base == REF_NONE ? pool_const(p, 0) : base;
            if (b32) i->bop = 2; /* o[1] is a 32-bit register */
        } else {
            i->o[0] = sa.abase;
            i->o[1] = pool_const(p, (uint64_t)sa.imm);
            if (sa.fl & F_ADDR32) i->bop = 1; /* o[0] is a 32-bit register */
        }
        addr(p, &ops[0], i);
        if (ops[2].kind != RO_INT) perr(p, p->line, "cp.async: cp-size must be a constant");
        uint64_t sz = ops[2].u;
        if (!(sz == 4 || sz == 8 || sz == 16) || (cg && sz != 16))
            perr(p, p->line, "cp.async: cp-size %llu invalid", (unsigned long long)sz);
        i->vec = (uint8_t)sz;
        int extra = n - 3 - (hint ? 1 : 0);
        if (extra < 0 || extra > 1) perr(p, p->line, "cp.async: bad operand count");
        if (extra == 1) {
            const struct ropnd *o = &ops[3];
            uint32_t slot;
            struct sym *y = o->kind == RO_NAME ? sym_lookup(p, o->name, o->len, &slot) : NULL;
            if (y && y->t == T_PRED) { i->o[3] = src(p, o, T_PRED); } /* ignore-src predicate */
            else i->o[2] = src(p, o, T_U32);                            /* src-size */
        }
        /* a cache-policy operand is ignored */
        return true;
    }
    if (op == OP_LDMATRIX || op == OP_STMATRIX || op == OP_MOVMATRIX) {
        if (!(md->fl & F_SYNC)) perr(p, p->line, "%.*s needs .sync", olen, opc);
        if (!take(md, "m8n8")) return false;
        if (md->nt != 1 || md->t[0] != T_B16) return false;
        md->nt = 0;
        int num = 1;
        if (take(md, "x1")) num = 1;
        else if (take(md, "x2")) num = 2;
        else if (take(md, "x4")) num = 4;
        else if (op != OP_MOVMATRIX) return false;
        bool trans = take(md, "trans");
        if (md->nw) return false;
        i->sub = (uint8_t)num;
        i->bop = trans;
        i->fl &= (uint16_t)~F_SYNC;
        if (op == OP_MOVMATRIX) {
            if (!trans) return false;
            want_ops(p, n, 2, 2, opc, olen);
            i->o[0] = dst(p, &ops[0]);
            i->o[1] = src(p, &ops[1], T_B32);
            return true;
        }
        i->space = (uint8_t)(md->space < 0 ? SP_GENERIC : md->space);
        if (i->space != SP_SHARED && i->space != SP_GENERIC) return false;
        md->space = -1;
        want_ops(p, n, 2, 2, opc, olen);
        if (op == OP_LDMATRIX) {
            reg_list(p, &ops[0], i->o, num, true, T_B32);
            addr(p, &ops[1], i);
        } else {
            reg_list(p, &ops[1], i->o, num, false, T_B32);
            addr(p, &ops[0], i);
        }
        return true;
    }
    if (op == OP_WMMA) return dec_wmma(p, i, md, ops, n, opc, olen);
    /* mma: parse the modifiers in order (the types' order matters) */
    int blen = 0;
    while (blen < olen && opc[blen] != '.') blen++;
    int shape = 0, nt = 0, ty[5] = {0};
    bool sat = false, sync = false, row = false, col = false, bscale = false;
    int kind = 0, svec = 0; /* 1: kind::mxf4, 2: kind::mxf4nvf4 */
    int k = blen + 1;
    while (k < olen) {
        int j = k;
        while (j < olen && opc[j] != '.') j++;
        const char *w = opc + k;
        int wl = j - k;
        k = j + 1;
        int t = parse_type_name(w, wl);
        if (weq(w, wl, "e4m3") || weq(w, wl, "ue4m3")) t = T_E4M3X2;
        else if (weq(w, wl, "e5m2")) t = T_E5M2X2;
        else if (weq(w, wl, "e2m1")) t = T_E2M1X2;
        else if (weq(w, wl, "ue8m0")) t = T_UE8M0X2;
        if (t != T_NONE) { if (nt == 5) return false; ty[nt++] = t; continue; }
        if (weq(w, wl, "sync")) sync = true;
        else if (weq(w, wl, "kind::mxf4")) kind = 1;
        else if (weq(w, wl, "kind::mxf4nvf4")) kind = 2;
        else if (weq(w, wl, "block_scale")) bscale = true;
        else if (weq(w, wl, "scale_vec::2X")) svec = 2;
        else if (weq(w, wl, "scale_vec::4X")) svec = 4;
        else if (weq(w, wl, "m16n8k64")) shape = MMA_M16N8K64;
        else if (weq(w, wl, "aligned")) { }
        else if (weq(w, wl, "satfinite")) sat = true;
        else if (weq(w, wl, "row") && !row && !col) row = true;
        else if (weq(w, wl, "col") && row) col = true;
        else if (weq(w, wl, "m16n8k8")) shape = MMA_M16N8K8;
        else if (weq(w, wl, "m16n8k16")) shape = MMA_M16N8K16;
        else if (weq(w, wl, "m8n8k16")) shape = MMA_M8N8K16;
        else if (weq(w, wl, "m16n8k32")) shape = MMA_M16N8K32;
        else if (weq(w, wl, "m8n8k4")) shape = MMA_M8N8K4;
        else return false;
    }
    if (kind || bscale || svec) return dec_mma_block_scale(p, i, md, ops, n, opc, olen, kind, bscale, svec, shape,
                                                           sync && row && col, ty, nt);
    if (!sync || !row || !col || !shape || nt != 4) return false;
    struct mma_form f;
    if (!mma_form(shape, ty[0], ty[1], ty[2], ty[3], sat, &f)) return false;
    md->nw = 0; md->nt = 0; md->fl = 0; md->space = -1;
    want_ops(p, n, 4, 4, opc, olen);
    int tot = 1 + f.nc + f.na + f.nb + f.nc;
    uint32_t at = xops_alloc(p, tot);
    uint32_t ref[1 + 4 + 4 + 2 + 4];
    int rt = ty[0] == T_F64 ? T_F64 : T_B32;
    ref[0] = (uint32_t)(ty[2] | ty[3] << 8 | f.na << 16 | f.nb << 20 | f.nc << 24);
    reg_list(p, &ops[0], ref + 1, f.nc, true, rt);
    reg_list(p, &ops[1], ref + 1 + f.nc, f.na, false, ty[1] == T_F64 ? T_F64 : T_B32);
    reg_list(p, &ops[2], ref + 1 + f.nc + f.na, f.nb, false, ty[2] == T_F64 ? T_F64 : T_B32);
    reg_list(p, &ops[3], ref + 1 + f.nc + f.na + f.nb, f.nc, false, rt);
    memcpy(p->m->xops + at, ref, sizeof(uint32_t) * (size_t)tot);
    i->sub = (uint8_t)shape;
    i->t = (uint8_t)ty[0];
    i->t2 = (uint8_t)ty[1];
    i->asym = at;
    i->fl = sat ? F_SAT : 0;
    return true;
}

void decode_ins(struct pctx *p, const char *opc, int olen, struct ropnd *ops, int n, int32_t guard, int line)
{
    int blen = 0;
    while (blen < olen && opc[blen] != '.') blen++;
    int op = -1;
    for (int k = 0; k < OP__COUNT; k++)
        if (weq(opc, blen, optab[k].name)) { op = k; break; }
    if (op < 0) perr(p, line, "unknown instruction '%.*s'", olen, opc);
    struct mods md;
    split_mods(p, opc + blen + (blen < olen), olen - blen - (blen < olen), &md, line);
    struct ins i = ins_init(p, op);
    i.line = (uint32_t)line;
    i.fl = md.fl;
    i.rnd = (uint8_t)md.rnd;
    switch (optab[op].fam) {
    case FAM_UNSUP:
        /* decoded as a stub: the module loads, the instruction fails the
         * launch (CUDA_ERROR_ILLEGAL_INSTRUCTION) only if it is reached */
        i.guard = guard;
        i.xf = X_NONE;
        put(p, &i);
        return;
    case FAM_CTRL:
        switch (op) {
        case OP_BRA:
            want_ops(p, n, 1, 1, opc, olen);
            if (ops[0].kind != RO_NAME) perr(p, line, "bra: expected a label");
            parse_add_labelfix(p, p->m->ncode, ops[0].name, ops[0].len, line);
            /* the fixup names the index the instruction will get: emit nothing before it */
            i.guard = guard;
            put(p, &i);
            return;
        case OP_CALL: dec_call(p, &i, &md, ops, n); break;
        case OP_BRX: {
            /* brx.idx[.uni] index, tlist: tlist a .branchtargets list declared before */
            if (!take(&md, "idx")) perr(p, line, "brx needs .idx");
            want_ops(p, n, 2, 2, opc, olen);
            if (ops[1].kind != RO_NAME) perr(p, line, "brx.idx: expected a .branchtargets label");
            int tb = -1;
            for (int j = 0; j < p->nbtabs; j++)
                if (p->btabs[j].len == ops[1].len && memcmp(p->btabs[j].name, ops[1].name, (size_t)ops[1].len) == 0) {
                    tb = p->btabs[j].ins;
                    break;
                }
            if (tb < 0) perr(p, line, "brx.idx: '%.*s' is not a .branchtargets list declared before", ops[1].len, ops[1].name);
            i.o[0] = src(p, &ops[0], T_U32);
            i.asym = (uint32_t)tb;
            n = 0;
            break;
        }
        case OP_BAR: dec_bar(p, &i, &md, ops, n, false); break;
        case OP_BARRIER: i.op = OP_BAR; dec_bar(p, &i, &md, ops, n, true); break;
        case OP_NANOSLEEP: if (n) (void)src(p, &ops[0], T_U32); md.nt = 0; break;
        case OP_GRIDDEP: take(&md, "launch_dependents"); take(&md, "wait"); break;
        case OP_MEMBAR: case OP_FENCE:
            take(&md, "proxy"); take(&md, "async"); take(&md, "alias"); take(&md, "cluster");
            md.space = -1; break;
        case OP_RET: case OP_EXIT: case OP_TRAP: case OP_BRKPT: case OP_PMEVENT: break;
        }
        md.fl &= (uint16_t)~(F_UNI | F_SYNC);
        if (op != OP_NANOSLEEP && op != OP_PMEVENT && op != OP_BAR && op != OP_BARRIER && op != OP_CALL &&
            n > 0)
            perr(p, line, "'%.*s' takes no operands", olen, opc);
        break;
    case FAM_MOVE: dec_mov(p, &i, &md, ops, n); break;
    case FAM_MEM:
        switch (op) {
        case OP_LD: case OP_LDU:
            i.op = OP_LD;
            dec_ldst(p, &i, &md, ops, n, false);
            if (md.ordered && (i.space == SP_GLOBAL || i.space == SP_GENERIC)) i.op = OP_LD_POLL;
            break;
        case OP_ST: dec_ldst(p, &i, &md, ops, n, true); break;
        case OP_PREFETCH: case OP_PREFETCHU: take(&md, "tensormap"); md.space = -1; break;
        case OP_CVTA: case OP_ISSPACEP:
            i.space = (uint8_t)(md.space < 0 ? SP_GENERIC : md.space);
            if (md.space < 0) perr(p, line, "%.*s: missing state space", olen, opc);
            i.sub = md.to;
            i.t = op == OP_ISSPACEP && md.nt == 0 ? T_U64 : (uint8_t)one_type(p, &md, opc, olen);
            want_ops(p, n, 2, 2, opc, olen);
            i.o[0] = dst(p, &ops[0]);
            i.o[1] = src(p, &ops[1], T_U64);
            break;
        }
        break;
    case FAM_ATOM: dec_atom(p, &i, &md, ops, n, op == OP_RED); break;
    case FAM_ARITH: dec_arith(p, &i, &md, ops, n, opc, olen); break;
    case FAM_WARP: dec_warp(p, &i, &md, ops, n, opc, olen); break;
    case FAM_ASYNC: dec_mbar(p, &i, &md, ops, n, opc, olen); break;
    case FAM_TEX:
        if (op == OP_TEX || op == OP_TLD4 ? !dec_tex(p, &i, &md, ops, n) : !dec_surf(p, &i, &md, ops, n, op == OP_SUST)) {
            /* a form not implemented: the failing stub, as FAM_UNSUP */
            i = ins_init(p, op);
            i.line = (uint32_t)line;
            i.guard = guard;
            i.xf = X_NONE;
            put(p, &i);
            return;
        }
        break;
    case FAM_TENSOR:
        if (!dec_tensor(p, &i, &md, ops, n, opc, olen)) {
            /* a form not implemented: the failing stub, as FAM_UNSUP */
            i = ins_init(p, op);
            i.line = (uint32_t)line;
            i.guard = guard;
            i.xf = X_NONE;
            put(p, &i);
            return;
        }
        break;
    }
    no_leftovers(p, &md, opc, olen);
    i.guard = guard;
    i.line = (uint32_t)line;
    put(p, &i);
}
