/*
 * parse.c — PTX text to a decoded module: module directives, variable and
 * function declarations, function bodies (scopes, register declarations,
 * labels, statements). Each instruction's opcode and operands are handed to
 * decode.c; labels and callees are resolved once the body / module is done.
 *
 * Errors longjmp to ptx_module_parse with "line N: reason" in the caller's
 * buffer; everything allocated so far hangs off the module, which is freed.
 * Debug information (.file, .loc, .section debug_*) is skipped.
 */
#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void perr(struct pctx *p, int line, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        int n = snprintf(p->err, p->errlen, "line %d: ", line);
        va_list ap;
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < p->errlen) vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    longjmp(p->fail, 1);
}

void *xrealloc(struct pctx *p, void *ptr, size_t n)
{
    void *q = realloc(ptr, n ? n : 1);
    if (!q) {
        p->fail_code = CUDA_ERROR_OUT_OF_MEMORY;
        perr(p, p->t.line, "out of memory");
    }
    return q;
}
#define GROW(p, arr, n, cap)                                                         \
    do {                                                                             \
        if ((n) >= (cap)) {                                                          \
            (cap) = (cap) ? (cap) * 2 : 16;                                          \
            (arr) = xrealloc((p), (arr), sizeof(*(arr)) * (size_t)(cap));            \
        }                                                                            \
    } while (0)

static char *xstrndup(struct pctx *p, const char *s, int n)
{
    char *r = xrealloc(p, NULL, (size_t)n + 1);
    memcpy(r, s, (size_t)n);
    r[n] = 0;
    return r;
}

/* The parser recurses into nested braces (initialisers, operand lists): a
 * client's text must not be able to nest them deep enough to overflow the
 * stack. PTX from compilers nests a few levels (an array of structs). */
#define MAX_NEST 64
static void nest_in(struct pctx *p)
{
    if (++p->nest > MAX_NEST) perr(p, p->t.line, "braces nested more than %d deep", MAX_NEST);
}

/* ---- symbols ---- */
static unsigned hash(const char *s, int n)
{
    unsigned h = 2166136261u;
    for (int i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h % SYM_BUCKETS;
}

static void sym_init(struct symtab *s)
{
    s->v = NULL;
    s->n = s->cap = 0;
    for (int i = 0; i < SYM_BUCKETS; i++) s->head[i] = -1;
}

static struct sym *sym_add(struct pctx *p, struct symtab *s, const char *name, int len, int kind)
{
    GROW(p, s->v, s->n, s->cap);
    struct sym *y = &s->v[s->n];
    memset(y, 0, sizeof *y);
    y->name = name;
    y->len = len;
    y->kind = kind;
    unsigned h = hash(name, len);
    y->next = s->head[h];
    s->head[h] = s->n++;
    return y;
}

static void sym_pop_to(struct symtab *s, int n)
{
    while (s->n > n) {
        struct sym *y = &s->v[--s->n];
        s->head[hash(y->name, y->len)] = y->next; /* newest is the head of its chain */
    }
}

static struct sym *sym_chain(struct symtab *s, const char *name, int len)
{
    for (int i = s->head[hash(name, len)]; i >= 0; i = s->v[i].next)
        if (s->v[i].len == len && memcmp(s->v[i].name, name, (size_t)len) == 0) return &s->v[i];
    return NULL;
}

/* Find a symbol; for "%r57" also the range "%r" covering 57 (slot in *slot_out). */
struct sym *sym_find(struct symtab *s, const char *name, int len, uint32_t *slot_out)
{
    struct sym *y = sym_chain(s, name, len);
    if (y) {
        if (slot_out) *slot_out = y->a;
        return y->kind == S_REGRANGE ? NULL : y;
    }
    int k = len;
    while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9') k--;
    if (k == len || k == 0 || len - k > 9) return NULL;
    if (name[k] == '0' && len - k > 1) return NULL;
    y = sym_chain(s, name, k);
    if (!y || y->kind != S_REGRANGE) return NULL;
    uint32_t idx = (uint32_t)lex_digits(name + k, len - k);
    if (idx >= y->n) return NULL;
    if (slot_out) *slot_out = y->a + idx;
    return y;
}

struct sym *sym_lookup(struct pctx *p, const char *name, int len, uint32_t *slot_out)
{
    struct sym *y = p->f ? sym_find(&p->fn, name, len, slot_out) : NULL;
    if (!y) y = sym_find(&p->mod, name, len, slot_out);
    return y;
}

int new_reg(struct pctx *p, int type)
{
    (void)type;
    return p->f->nregs++;
}

uint32_t pool_const(struct pctx *p, uint64_t v)
{
    if (p->m->npool * 2 >= p->khcap) {
        int ncap = p->khcap ? p->khcap * 2 : 256;
        int *nh = xrealloc(p, NULL, sizeof(int) * (size_t)ncap);
        for (int i = 0; i < ncap; i++) nh[i] = -1;
        for (int i = 0; i < p->m->npool; i++) {
            unsigned h = (unsigned)((p->kvals[i] * 0x9E3779B97F4A7C15ull) >> 32) & (unsigned)(ncap - 1);
            while (nh[h] >= 0) h = (h + 1) & (unsigned)(ncap - 1);
            nh[h] = i;
        }
        free(p->khash);
        p->khash = nh;
        p->khcap = ncap;
    }
    unsigned h = (unsigned)((v * 0x9E3779B97F4A7C15ull) >> 32) & (unsigned)(p->khcap - 1);
    while (p->khash[h] >= 0) {
        if (p->kvals[p->khash[h]] == v) return REF_K(p->khash[h]);
        h = (h + 1) & (unsigned)(p->khcap - 1);
    }
    GROW(p, p->kvals, p->m->npool, p->cappool);
    p->kvals[p->m->npool] = v;
    p->khash[h] = p->m->npool;
    return REF_K(p->m->npool++);
}

struct ins *emit(struct pctx *p)
{
    struct ptx_module *m = p->m;
    GROW(p, m->code, m->ncode, p->capcode);
    struct ins *i = &m->code[m->ncode++];
    memset(i, 0, sizeof *i);
    i->guard = -1;
    i->abase = REF_NONE;
    for (int k = 0; k < INS_MAXOPS; k++) i->o[k] = REF_NONE;
    i->line = (uint32_t)p->line;
    i->vec = 1;
    return i;
}

/* ---- tokens ---- */
static void next(struct pctx *p) { lex_next(&p->lx, &p->t); if (p->t.k == TK_BAD) perr(p, p->t.line, "unexpected character '%.*s'", p->t.len, p->t.s); }
static bool is_punct(struct pctx *p, char c) { return p->t.k == TK_PUNCT && p->t.c == c; }
static void expect(struct pctx *p, char c)
{
    if (!is_punct(p, c)) perr(p, p->t.line, "expected '%c' before '%.*s'", c, p->t.len, p->t.s);
    next(p);
}
static bool accept(struct pctx *p, char c)
{
    if (is_punct(p, c)) { next(p); return true; }
    return false;
}
static void expect_word(struct pctx *p, const char *what)
{
    if (p->t.k != TK_WORD) perr(p, p->t.line, "expected %s before '%.*s'", what, p->t.len, p->t.s);
}
static uint64_t expect_int(struct pctx *p)
{
    bool neg = accept(p, '-');
    if (p->t.k != TK_INT) perr(p, p->t.line, "expected an integer before '%.*s'", p->t.len, p->t.s);
    uint64_t v = p->t.u;
    next(p);
    return neg ? (uint64_t)-(int64_t)v : v;
}
/* skip to the end of a statement (';'), over balanced braces */
static void skip_statement(struct pctx *p)
{
    int depth = 0;
    while (p->t.k != TK_EOF) {
        if (is_punct(p, '{')) depth++;
        else if (is_punct(p, '}')) { if (--depth < 0) return; }
        else if (is_punct(p, ';') && depth == 0) { next(p); return; }
        next(p);
    }
}
static void skip_line(struct pctx *p)
{
    int line = p->t.line;
    while (p->t.k != TK_EOF && p->t.line == line) next(p);
}

/* ---- types ---- */
int parse_type_name(const char *s, int len)
{
    static const struct { const char *n; int t; } tt[] = {
        {"b8", T_B8}, {"b16", T_B16}, {"b32", T_B32}, {"b64", T_B64}, {"b128", T_B128},
        {"u8", T_U8}, {"u16", T_U16}, {"u32", T_U32}, {"u64", T_U64},
        {"s8", T_S8}, {"s16", T_S16}, {"s32", T_S32}, {"s64", T_S64},
        {"f16", T_F16}, {"f16x2", T_F16X2}, {"bf16", T_BF16}, {"bf16x2", T_BF16X2},
        {"f32", T_F32}, {"f64", T_F64}, {"pred", T_PRED}, {"tf32", T_TF32},
        {"e4m3x2", T_E4M3X2}, {"e5m2x2", T_E5M2X2},
        {"e2m1x2", T_E2M1X2}, {"ue8m0x2", T_UE8M0X2},
    };
    for (size_t i = 0; i < sizeof tt / sizeof tt[0]; i++)
        if ((int)strlen(tt[i].n) == len && memcmp(tt[i].n, s, (size_t)len) == 0) return tt[i].t;
    return T_NONE;
}
/* ".u32" as the current token -> type, or T_NONE */
static int tok_type(struct pctx *p)
{
    if (p->t.k != TK_WORD || p->t.s[0] != '.') return T_NONE;
    return parse_type_name(p->t.s + 1, p->t.len - 1);
}

/* ---- declarations ---- */
struct decl {
    int space;          /* SP_* or -1 */
    int t; int vec;
    uint32_t align;
    const char *name; int len;
    uint64_t dims[4]; int ndims; bool open_dim; /* name[] */
    bool is_range; uint32_t range;              /* %r<100> */
    uint64_t size;      /* total bytes */
    bool managed;       /* .attribute(.managed): a __managed__ variable */
};

/* After the state space: [.align N] [.v2|.v4] .type [.ptr ...] name[dims] | name<N> */
static void parse_decl_head(struct pctx *p, struct decl *d)
{
    d->align = 0;
    d->vec = 1;
    d->t = T_NONE;
    d->managed = false;
    /* In `.param .u64 .ptr .global .align 16 p` the space and alignment after
     * .ptr describe the data pointed to, not the parameter itself. */
    bool after_ptr = false;
    for (;;) {
        if (tok_is(&p->t, ".align")) {
            next(p);
            uint32_t a = (uint32_t)expect_int(p);
            if (!after_ptr)
                d->align = a;
            continue;
        }
        if (tok_is(&p->t, ".ptr")) { after_ptr = true; next(p); continue; }
        if (tok_is(&p->t, ".attribute")) {
            /* .unified(uuid, uuid) names memory shared with the host by HMM,
             * which no device of rgpu offers */
            next(p);
            expect(p, '(');
            if (!tok_is(&p->t, ".managed"))
                perr(p, p->t.line, "unsupported variable attribute '%.*s'", p->t.len, p->t.s);
            next(p);
            expect(p, ')');
            d->managed = true;
            continue;
        }
        if (tok_is(&p->t, ".v2")) { d->vec = 2; next(p); continue; }
        if (tok_is(&p->t, ".v4")) { d->vec = 4; next(p); continue; }
        if (tok_is(&p->t, ".v8")) { d->vec = 8; next(p); continue; }
        if (tok_is(&p->t, ".ptr") || tok_is(&p->t, ".global") || tok_is(&p->t, ".shared") ||
            tok_is(&p->t, ".const") || tok_is(&p->t, ".local")) { next(p); continue; }
        int t = tok_type(p);
        if (t != T_NONE) { d->t = t; next(p); continue; }
        break;
    }
    if (d->t == T_NONE) perr(p, p->t.line, "expected a type before '%.*s'", p->t.len, p->t.s);
}

static void parse_decl_name(struct pctx *p, struct decl *d)
{
    expect_word(p, "a name");
    d->name = p->t.s;
    d->len = p->t.len;
    next(p);
    d->ndims = 0;
    d->open_dim = false;
    d->is_range = false;
    if (is_punct(p, '<')) {
        next(p);
        d->is_range = true;
        d->range = (uint32_t)expect_int(p);
        expect(p, '>');
    }
    while (is_punct(p, '[')) {
        next(p);
        if (is_punct(p, ']')) { d->open_dim = true; next(p); continue; }
        if (d->ndims == 4) perr(p, p->t.line, "too many array dimensions");
        d->dims[d->ndims++] = expect_int(p);
        expect(p, ']');
    }
    uint64_t n = 1;
    for (int i = 0; i < d->ndims; i++) n *= d->dims[i];
    d->size = n * (uint64_t)ptx_type_size[d->t] * (uint64_t)d->vec;
    if (!d->align) d->align = ptx_type_size[d->t] * (uint32_t)d->vec;
    if (!d->align) d->align = 1;
    if (d->size > (1ull << 32)) perr(p, p->t.line, "variable '%.*s' too large", d->len, d->name);
}

static uint32_t align_up32(uint32_t v, uint32_t a) { return a > 1 ? (v + a - 1) / a * a : v; }

/* initializer of a module variable: scalar, {list} (nested), generic(sym), sym[+off] */
static void parse_init_item(struct pctx *p, struct gvar *g, const struct decl *d, size_t *pos)
{
    unsigned es = ptx_type_size[d->t];
    if (is_punct(p, '{')) {
        nest_in(p);
        next(p);
        if (!is_punct(p, '}'))
            for (;;) {
                parse_init_item(p, g, d, pos);
                if (!accept(p, ',')) break;
            }
        expect(p, '}');
        p->nest--;
        return;
    }
    if (*pos + es > g->size) perr(p, p->t.line, "too many initializers for '%s'", g->name);
    uint8_t *dst = g->init + *pos;
    bool neg = accept(p, '-');
    if (p->t.k == TK_WORD) {
        bool generic = tok_is(&p->t, "generic");
        if (generic) { next(p); expect(p, '('); }
        expect_word(p, "a symbol");
        struct sym *y = sym_find(&p->mod, p->t.s, p->t.len, NULL);
        if (y && y->kind == S_FUNC && !generic && !neg) {
            /* a function pointer (vtables, tables of functions): a constant */
            if (es != 8) perr(p, p->t.line, "initializer: a function address needs a 64-bit element");
            uint64_t fa = PTX_FUNC_ADDR(y->a);
            memcpy(dst, &fa, 8);
            next(p);
        } else {
            if (!y || y->kind != S_GLOBAL) perr(p, p->t.line, "initializer: '%.*s' is not a global variable", p->t.len, p->t.s);
            if (es != 8) perr(p, p->t.line, "initializer: a symbol address needs a 64-bit element");
            next(p);
            if (generic) expect(p, ')');
            int64_t add = 0;
            if (accept(p, '+')) add = (int64_t)expect_int(p);
            g->rel = xrealloc(p, g->rel, sizeof *g->rel * (size_t)(g->nrel + 1));
            g->rel[g->nrel++] = (struct grel){*pos, (int)y->a, add};
            memset(dst, 0, 8);
        }
    } else if (p->t.k == TK_INT || p->t.k == TK_F32 || p->t.k == TK_F64 || p->t.k == TK_FLOAT) {
        uint64_t bits = 0;
        if (d->t == T_F32) {
            float f = p->t.k == TK_F32 ? bits_f32(p->t.u) : p->t.k == TK_F64 ? (float)bits_f64(p->t.u)
                    : p->t.k == TK_FLOAT ? (float)p->t.d : (float)(int64_t)p->t.u;
            if (neg) f = -f;
            bits = f32_bits(f);
        } else if (d->t == T_F64) {
            double f = p->t.k == TK_F64 ? bits_f64(p->t.u) : p->t.k == TK_F32 ? (double)bits_f32(p->t.u)
                     : p->t.k == TK_FLOAT ? p->t.d : (double)(int64_t)p->t.u;
            if (neg) f = -f;
            bits = f64_bits(f);
        } else {
            bits = p->t.k == TK_FLOAT ? (uint64_t)(int64_t)p->t.d : p->t.u;
            if (neg) bits = (uint64_t)-(int64_t)bits;
        }
        memcpy(dst, &bits, es); /* little endian: the low bytes */
        next(p);
    } else {
        perr(p, p->t.line, "bad initializer '%.*s'", p->t.len, p->t.s);
    }
    *pos += es;
    if (*pos > g->init_len) g->init_len = *pos;
}

/* A .shared in a kernel's body (nvcc's function-scope __shared__ variables)
 * is named by that kernel only: it goes to the kernel's own area, placed
 * after the module-scope shared variables the kernel and its callees name
 * (relocate_entry_shared). Laying it out module-wide instead would give the
 * n-th kernel of a library every earlier kernel's shared memory as its
 * static size (cuBLAS modules hold hundreds of kernels). */
static void parse_entry_shared(struct pctx *p)
{
    struct decl d;
    parse_decl_head(p, &d);
    struct func *f = p->f;
    for (;;) {
        parse_decl_name(p, &d);
        if (d.open_dim) perr(p, p->t.line, "a .shared array in a function body needs a size");
        uint32_t al = d.align ? d.align : 1;
        uint32_t off = (f->entry_shared + al - 1) / al * al;
        struct sym *y = sym_add(p, &p->fn, d.name, d.len, S_SHARED_ENTRY);
        y->a = off;
        y->n = (uint32_t)d.size;
        f->entry_shared = off + (uint32_t)d.size;
        if (al > f->entry_shared_align) f->entry_shared_align = al;
        if (accept(p, '=')) perr(p, p->t.line, ".shared variables cannot be initialised");
        if (!accept(p, ',')) break;
    }
    expect(p, ';');
}

/* After compute_needs: a kernel's body .shared area starts at its
 * shared_need (aligned), and its addresses become plain shared offsets. */
static void relocate_entry_shared(struct ptx_module *m)
{
    for (int fi = 0; fi < m->nfuncs; fi++) {
        struct func *f = &m->funcs[fi];
        if (!f->defined || !f->entry_shared_align) continue;
        uint32_t al = f->entry_shared_align, base = (f->shared_need + al - 1) / al * al;
        for (int k = f->first; k < f->first + f->count; k++) {
            struct ins *i = &m->code[k];
            if (i->akind != AK_SHARED_ENTRY) continue;
            i->akind = AK_SHARED;
            i->imm += base;
        }
        f->shared_need = base + f->entry_shared;
    }
}

/* module-scope .global/.const/.shared (space already consumed) */
static void parse_module_var(struct pctx *p, int space, bool is_extern)
{
    struct decl d;
    parse_decl_head(p, &d);
    for (;;) {
        parse_decl_name(p, &d);
        if (space == SP_SHARED) {
            if (is_extern || d.open_dim) {
                struct sym *y = sym_add(p, &p->mod, d.name, d.len, S_DYNSHARED);
                y->a = 0;
                if (d.align > p->m->dyn_shared_align) p->m->dyn_shared_align = d.align;
            } else {
                size_t off = (p->m->shared_static + d.align - 1) / d.align * d.align;
                struct sym *y = sym_add(p, &p->mod, d.name, d.len, S_SHARED);
                y->a = (uint32_t)off;
                y->n = (uint32_t)d.size; /* sym_address charges it to the functions naming it */
                p->m->shared_static = off + d.size;
            }
        } else {
            struct ptx_module *m = p->m;
            GROW(p, m->globals, m->nglobals, p->capglobals);
            struct gvar *g = &m->globals[m->nglobals];
            memset(g, 0, sizeof *g);
            g->name = xstrndup(p, d.name, d.len);
            g->size = d.size;
            g->align = d.align;
            g->is_const = space == SP_CONST;
            g->is_extern = is_extern;
            g->is_managed = d.managed;
            if (d.managed && space != SP_GLOBAL) perr(p, p->t.line, ".attribute(.managed) outside .global");
            struct sym *y = sym_add(p, &p->mod, g->name, d.len, S_GLOBAL);
            y->a = (uint32_t)m->nglobals++;
            if (accept(p, '=')) {
                if (d.open_dim) {
                    /* size from the initializer: count items first (one level) */
                    perr(p, p->t.line, "initialized arrays need an explicit size");
                }
                g->init = xrealloc(p, NULL, g->size ? g->size : 1);
                memset(g->init, 0, g->size);
                size_t pos = 0;
                parse_init_item(p, g, &d, &pos);
            }
        }
        if (!accept(p, ',')) break;
    }
    expect(p, ';');
}

/* ---- functions ---- */
static void push_scope(struct pctx *p)
{
    if (p->depth == 64) perr(p, p->t.line, "blocks nested too deeply");
    p->scope_mark[p->depth] = p->fn.n;
    p->scope_frame[p->depth] = p->frame_top;
    p->depth++;
}
static void pop_scope(struct pctx *p)
{
    p->depth--;
    sym_pop_to(&p->fn, p->scope_mark[p->depth]);
    p->frame_top = p->scope_frame[p->depth];
}

static uint32_t frame_alloc(struct pctx *p, uint32_t size, uint32_t align)
{
    if (align < 1) align = 1;
    uint32_t off = align_up32(p->frame_top, align);
    p->frame_top = off + size;
    if (p->frame_top > p->f->frame_size) p->f->frame_size = p->frame_top;
    if (align > p->f->frame_align) p->f->frame_align = align;
    return off;
}

static void free_params(struct pparam *v, int n)
{
    for (int i = 0; i < n; i++) free(v[i].name);
    free(v);
}

static void free_pending_params(struct pctx *p)
{
    free_params(p->params, p->nparams);
    free_params(p->rets, p->nrets);
    p->params = p->rets = NULL;
    p->nparams = p->nrets = 0;
}

/* the parsed parameter lists become f's */
static void take_params(struct pctx *p, struct func *f)
{
    f->params = p->params; f->nparams = p->nparams;
    f->rets = p->rets; f->nrets = p->nrets;
    p->params = p->rets = NULL;
    p->nparams = p->nrets = 0;
}

/* ( .param .type name, ... ) for .entry (kernel buffer) or .func (frame) */
static void parse_params(struct pctx *p, struct pparam **out, int *nout, bool entry, bool rets)
{
    expect(p, '(');
    size_t off = 0;
    while (!is_punct(p, ')')) {
        if (!tok_is(&p->t, ".param") && !tok_is(&p->t, ".reg"))
            perr(p, p->t.line, "expected .param before '%.*s'", p->t.len, p->t.s);
        bool is_reg = tok_is(&p->t, ".reg");
        next(p);
        struct decl d;
        parse_decl_head(p, &d);
        parse_decl_name(p, &d);
        *out = xrealloc(p, *out, sizeof **out * (size_t)(*nout + 1));
        struct pparam *pp = &(*out)[(*nout)++];
        pp->name = NULL; /* counted already: an error frees the list */
        pp->name = xstrndup(p, d.name, d.len);
        pp->size = (uint32_t)d.size;
        pp->align = d.align;
        if (is_reg && !entry) {
            perr(p, p->t.line, ".reg parameters are not supported");
        }
        if (entry) {
            off = (off + d.align - 1) / d.align * d.align;
            pp->offset = (uint32_t)off;
            off += d.size;
            struct sym *y = sym_add(p, &p->fn, pp->name, d.len, S_KPARAM);
            y->a = pp->offset;
            y->n = pp->size;
        } else {
            pp->offset = frame_alloc(p, pp->size, d.align);
            struct sym *y = sym_add(p, &p->fn, pp->name, d.len, S_FRAME);
            y->a = pp->offset;
            y->n = pp->size;
        }
        (void)rets;
        if (!accept(p, ',')) break;
    }
    expect(p, ')');
    if (entry) p->f->param_bytes = off;
}

static void resolve_labels(struct pctx *p)
{
    for (int i = 0; i < p->nfix; i++) {
        struct labelfix *x = &p->fix[i];
        int target = -1;
        for (int j = 0; j < p->nlabels; j++)
            if (p->labels[j].len == x->len && memcmp(p->labels[j].name, x->name, (size_t)x->len) == 0) {
                target = p->labels[j].ins;
                break;
            }
        if (target < 0) perr(p, x->line, "undefined label '%.*s'", x->len, x->name);
        if (x->ins < 0) p->m->xops[-x->ins - 1] = (uint32_t)target;
        else p->m->code[x->ins].imm = target;
    }
    p->nfix = 0;
    p->nlabels = 0;
    p->nbtabs = 0;
}

static void add_label(struct pctx *p, const char *name, int len, int line)
{
    for (int j = 0; j < p->nlabels; j++)
        if (p->labels[j].len == len && memcmp(p->labels[j].name, name, (size_t)len) == 0)
            perr(p, line, "label '%.*s' defined twice", len, name);
    GROW(p, p->labels, p->nlabels, p->caplabels);
    p->labels[p->nlabels++] = (struct label){name, len, p->m->ncode};
}

static void parse_branchtargets(struct pctx *p, const char *name, int len, int line);
void parse_add_labelfix(struct pctx *p, int ins, const char *name, int len, int line);
void parse_add_labelfix(struct pctx *p, int ins, const char *name, int len, int line)
{
    GROW(p, p->fix, p->nfix, p->capfix);
    p->fix[p->nfix++] = (struct labelfix){ins, name, len, line};
}

/* one operand of an instruction (see struct ropnd) */
static void parse_operand(struct pctx *p, struct ropnd *o);

static void parse_operand_list(struct pctx *p, struct ropnd *o, char close)
{
    o->el = NULL;
    o->nel = 0;
    nest_in(p);
    while (!is_punct(p, close)) {
        o->el = xrealloc(p, o->el, sizeof *o->el * (size_t)(o->nel + 1));
        memset(&o->el[o->nel], 0, sizeof o->el[0]);
        parse_operand(p, &o->el[o->nel++]);
        if (!accept(p, ',')) break;
    }
    expect(p, close);
    p->nest--;
}

static void parse_operand(struct pctx *p, struct ropnd *o)
{
    memset(o, 0, sizeof *o);
    if (accept(p, '{')) { o->kind = RO_VEC; parse_operand_list(p, o, '}'); return; }
    if (accept(p, '(')) { o->kind = RO_LIST; parse_operand_list(p, o, ')'); return; }
    if (accept(p, '[')) {
        o->kind = RO_ADDR;
        if (p->t.k == TK_WORD) {
            o->name = p->t.s;
            o->len = p->t.len;
            next(p);
            for (;;) {
                if (accept(p, '+')) o->off += (int64_t)expect_int(p);
                else if (is_punct(p, '-')) o->off += (int64_t)expect_int(p);
                else break;
            }
        } else {
            o->off = (int64_t)expect_int(p);
        }
        if (o->len && accept(p, ',')) { /* [handle, {coordinates}] */
            o->el = xrealloc(p, NULL, sizeof *o->el);
            o->nel = 1;
            parse_operand(p, &o->el[0]);
        }
        expect(p, ']');
        return;
    }
    if (accept(p, '!')) o->neg = true;
    bool neg = false;
    if (accept(p, '-')) neg = true;
    switch (p->t.k) {
    case TK_WORD:
        if (p->t.len == 1 && p->t.s[0] == '_') { o->kind = RO_SINK; next(p); return; }
        o->kind = RO_NAME;
        o->name = p->t.s;
        o->len = p->t.len;
        next(p);
        if (accept(p, '|')) {
            if (p->t.k != TK_WORD) perr(p, p->t.line, "expected a register after '|'");
            o->name2 = p->t.s;
            o->len2 = p->t.len;
            next(p);
        }
        if (accept(p, '+')) o->off = (int64_t)expect_int(p);
        return;
    case TK_INT: o->kind = RO_INT; o->u = neg ? (uint64_t)-(int64_t)p->t.u : p->t.u; break;
    case TK_F32: o->kind = RO_F32; o->u = neg ? p->t.u ^ 0x80000000u : p->t.u; break;
    case TK_F64: o->kind = RO_F64; o->u = neg ? p->t.u ^ 0x8000000000000000ull : p->t.u; break;
    case TK_FLOAT: o->kind = RO_FLOAT; o->d = neg ? -p->t.d : p->t.d; break;
    default: perr(p, p->t.line, "bad operand '%.*s'", p->t.len, p->t.s);
    }
    next(p);
}

static void free_ops(struct ropnd *o, int n)
{
    for (int i = 0; i < n; i++) {
        if (o[i].el) { free_ops(o[i].el, o[i].nel); free(o[i].el); }
    }
}

static void parse_instruction(struct pctx *p)
{
    int line = p->t.line;
    int32_t guard = -1;
    if (accept(p, '@')) {
        bool neg = accept(p, '!');
        expect_word(p, "a predicate");
        uint32_t slot;
        struct sym *y = sym_lookup(p, p->t.s, p->t.len, &slot);
        if (!y || (y->kind != S_REG && y->kind != S_REGRANGE))
            perr(p, p->t.line, "'%.*s' is not a predicate register", p->t.len, p->t.s);
        guard = (int32_t)(slot << 1 | (neg ? 1u : 0u));
        next(p);
    }
    expect_word(p, "an instruction");
    const char *opc = p->t.s;
    int olen = p->t.len;
    next(p);
    struct ropnd *ops = p->ops;
    p->nops = 0;
    if (!is_punct(p, ';'))
        for (;;) {
            if (p->nops == 16) perr(p, line, "too many operands");
            parse_operand(p, &ops[p->nops++]);
            if (!accept(p, ',')) break;
        }
    if (!is_punct(p, ';'))
        perr(p, p->t.line, "expected ';' before '%.*s'", p->t.len, p->t.s);
    p->line = line;
    decode_ins(p, opc, olen, ops, p->nops, guard, line);
    free_ops(ops, p->nops);
    p->nops = 0;
    next(p);
}

static void parse_body(struct pctx *p)
{
    int base = p->depth;
    push_scope(p);
    for (;;) {
        struct tok *t = &p->t;
        if (t->k == TK_EOF) perr(p, t->line, "unexpected end of file in function body");
        if (is_punct(p, '{')) { next(p); push_scope(p); continue; }
        if (is_punct(p, '}')) {
            next(p);
            pop_scope(p);
            if (p->depth == base) return;
            continue;
        }
        if (t->k == TK_WORD && t->s[0] == '.') {
            int line = t->line;
            if (tok_is(t, ".reg")) {
                next(p);
                struct decl d;
                parse_decl_head(p, &d);
                if (d.vec != 1) perr(p, line, "vector registers are not supported");
                for (;;) {
                    parse_decl_name(p, &d);
                    if (d.ndims) perr(p, line, "register arrays are not supported");
                    if (d.is_range) {
                        struct sym *y = sym_add(p, &p->fn, d.name, d.len, S_REGRANGE);
                        y->a = (uint32_t)p->f->nregs;
                        y->n = d.range;
                        y->t = (uint8_t)d.t;
                        p->f->nregs += (int)d.range;
                    } else {
                        struct sym *y = sym_add(p, &p->fn, d.name, d.len, S_REG);
                        y->a = (uint32_t)new_reg(p, d.t);
                        y->t = (uint8_t)d.t;
                    }
                    if (!accept(p, ',')) break;
                }
                expect(p, ';');
            } else if (tok_is(t, ".local") || tok_is(t, ".param")) {
                bool local = tok_is(t, ".local");
                next(p);
                struct decl d;
                parse_decl_head(p, &d);
                for (;;) {
                    parse_decl_name(p, &d);
                    struct sym *y = sym_add(p, &p->fn, d.name, d.len, S_FRAME);
                    y->a = frame_alloc(p, (uint32_t)d.size, d.align);
                    y->n = (uint32_t)d.size;
                    if (local) p->f->local_bytes += (uint32_t)d.size;
                    if (accept(p, '=')) perr(p, line, "initialised .local variables are not supported");
                    if (!accept(p, ',')) break;
                }
                expect(p, ';');
            } else if (tok_is(t, ".shared") || tok_is(t, ".global") || tok_is(t, ".const")) {
                /* function-scope static variables are module variables with a scoped name */
                int space = tok_is(t, ".shared") ? SP_SHARED : tok_is(t, ".global") ? SP_GLOBAL : SP_CONST;
                next(p);
                bool ext = false;
                if (tok_is(&p->t, ".extern")) { ext = true; next(p); }
                if (space == SP_SHARED && !ext && p->f->is_entry) parse_entry_shared(p);
                else parse_module_var(p, space, ext);
            } else if (tok_is(t, ".loc") || tok_is(t, ".file")) {
                skip_line(p);
            } else if (tok_is(t, ".pragma") || tok_is(t, ".maxnreg") || tok_is(t, ".maxntid") ||
                       tok_is(t, ".reqntid") || tok_is(t, ".minnctapersm") || tok_is(t, ".callprototype") ||
                       tok_is(t, ".alias")) {
                skip_statement(p);
            } else {
                perr(p, line, "unexpected directive '%.*s' in a function body", t->len, t->s);
            }
            continue;
        }
        if (t->k == TK_WORD) {
            /* label? */
            struct lexer save = p->lx;
            struct tok tt = *t;
            next(p);
            if (is_punct(p, ':')) {
                next(p);
                /* prototypes and call-target lists only describe indirect calls, which check the
                 * callee they reach at run time (exec.c) */
                if (tok_is(&p->t, ".callprototype") || tok_is(&p->t, ".calltargets")) { skip_statement(p); continue; }
                if (tok_is(&p->t, ".branchtargets")) { parse_branchtargets(p, tt.s, tt.len, tt.line); continue; }
                add_label(p, tt.s, tt.len, tt.line);
                continue;
            }
            p->lx = save;
            p->t = tt;
        }
        parse_instruction(p);
    }
}

/* `name: .branchtargets L1, L2, ...;` -> module.xops [n, target...] (brx.idx) */
static void parse_branchtargets(struct pctx *p, const char *name, int len, int line)
{
    next(p);
    int n = 0;
    uint32_t at = xops_alloc(p, 1);
    for (;;) {
        expect_word(p, "a label");
        uint32_t e = xops_alloc(p, 1);
        parse_add_labelfix(p, -(int)e - 1, p->t.s, p->t.len, p->t.line);
        n++;
        next(p);
        if (!accept(p, ',')) break;
    }
    expect(p, ';');
    p->m->xops[at] = (uint32_t)n;
    for (int j = 0; j < p->nbtabs; j++)
        if (p->btabs[j].len == len && memcmp(p->btabs[j].name, name, (size_t)len) == 0)
            perr(p, line, "branch target list '%.*s' defined twice", len, name);
    GROW(p, p->btabs, p->nbtabs, p->capbtabs);
    p->btabs[p->nbtabs++] = (struct label){name, len, (int)at};
}

static int find_or_add_func(struct pctx *p, const char *name, int len)
{
    struct sym *y = sym_find(&p->mod, name, len, NULL);
    if (y) {
        if (y->kind != S_FUNC) perr(p, p->t.line, "'%.*s' redeclared as a function", len, name);
        return (int)y->a;
    }
    struct ptx_module *m = p->m;
    GROW(p, m->funcs, m->nfuncs, p->capfuncs);
    struct func *f = &m->funcs[m->nfuncs];
    memset(f, 0, sizeof *f);
    f->name = xstrndup(p, name, len);
    f->frame_align = 1;
    y = sym_add(p, &p->mod, f->name, len, S_FUNC);
    y->a = (uint32_t)m->nfuncs;
    return m->nfuncs++;
}

static void parse_function(struct pctx *p, bool entry, bool is_extern)
{
    next(p); /* .entry / .func */
    sym_pop_to(&p->fn, 0);
    p->depth = 0;
    p->frame_top = 0;
    /* a .func's return values come first: (.param .b32 func_retval0) */
    struct func tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.frame_align = 1;
    p->f = &tmp;
    if (!entry && is_punct(p, '(')) parse_params(p, &p->rets, &p->nrets, false, true);
    expect_word(p, "a function name");
    const char *name = p->t.s;
    int nlen = p->t.len;
    int line = p->t.line;
    next(p);
    if (is_punct(p, '(')) parse_params(p, &p->params, &p->nparams, entry, false);
    int fi = find_or_add_func(p, name, nlen);
    struct func *f = &p->m->funcs[fi];
    for (;;) {
        if (tok_is(&p->t, ".maxntid") || tok_is(&p->t, ".reqntid") || tok_is(&p->t, ".reqnctapercluster")) {
            unsigned *v = tok_is(&p->t, ".maxntid")   ? tmp.maxntid
                          : tok_is(&p->t, ".reqntid") ? tmp.reqntid
                                                      : tmp.reqnctapercluster;
            next(p);
            v[0] = v[1] = v[2] = 1;
            for (int k = 0; k < 3; k++) {
                v[k] = (unsigned)expect_int(p);
                if (!accept(p, ',')) break;
            }
        } else if (tok_is(&p->t, ".minnctapersm")) {
            next(p);
            tmp.minnctapersm = (unsigned)expect_int(p);
        } else if (tok_is(&p->t, ".explicitcluster")) {
            next(p);
            tmp.explicitcluster = true;
        } else if (tok_is(&p->t, ".maxnreg") || tok_is(&p->t, ".maxnctapersm") ||
                   tok_is(&p->t, ".maxclusterrank") || tok_is(&p->t, ".noreturn") ||
                   tok_is(&p->t, ".abi_preserve") || tok_is(&p->t, ".abi_preserve_control") ||
                   tok_is(&p->t, ".blocksareclusters")) {
            next(p);
            while (p->t.k == TK_INT || is_punct(p, ',')) next(p);
        } else if (tok_is(&p->t, ".pragma")) {
            next(p);
            while (!is_punct(p, ';') && p->t.k != TK_EOF) next(p);
            accept(p, ';');
        } else break;
    }
    f = &p->m->funcs[fi];
    if (is_punct(p, ';')) { /* declaration only */
        next(p);
        sym_pop_to(&p->fn, 0); /* the parameters' symbols name strings freed below */
        if (!f->defined) { /* the last declaration's parameters count */
            free_params(f->params, f->nparams);
            free_params(f->rets, f->nrets);
            take_params(p, f);
            f->is_entry = entry;
            f->is_extern = is_extern;
            f->frame_size = tmp.frame_size;
            f->frame_align = tmp.frame_align;
            f->param_bytes = tmp.param_bytes;
        } else {
            free_pending_params(p);
        }
        p->f = NULL;
        return;
    }
    if (f->defined) perr(p, line, "function '%.*s' defined twice", nlen, name);
    free_params(f->params, f->nparams);
    free_params(f->rets, f->nrets);
    take_params(p, f);
    f->is_entry = entry;
    f->defined = true;
    f->frame_size = tmp.frame_size;
    f->frame_align = tmp.frame_align;
    f->param_bytes = tmp.param_bytes;
    memcpy(f->maxntid, tmp.maxntid, sizeof f->maxntid);
    memcpy(f->reqntid, tmp.reqntid, sizeof f->reqntid);
    f->minnctapersm = tmp.minnctapersm;
    memcpy(f->reqnctapercluster, tmp.reqnctapercluster, sizeof f->reqnctapercluster);
    f->explicitcluster = tmp.explicitcluster;
    f->first = p->m->ncode;
    p->f = f;
    p->fi = fi;
    expect(p, '{');
    parse_body(p);
    /* falling off the end returns */
    struct ins *r = emit(p);
    r->op = OP_RET;
    f = &p->m->funcs[fi];
    f->count = p->m->ncode - f->first;
    resolve_labels(p);
    p->f = NULL;
    sym_pop_to(&p->fn, 0);
}

static void parse_module_body(struct pctx *p)
{
    next(p);
    bool have_version = false;
    while (p->t.k != TK_EOF) {
        struct tok *t = &p->t;
        int line = t->line;
        if (t->k != TK_WORD || t->s[0] != '.') perr(p, line, "unexpected '%.*s' at module scope", t->len, t->s);
        if (tok_is(t, ".version")) {
            next(p);
            if (p->t.k != TK_FLOAT && p->t.k != TK_INT) perr(p, line, "bad .version");
            int maj = 0, min = 0;
            if (lex_version(p->t.s, p->t.len, &maj, &min) < 1) perr(p, line, "bad .version");
            if (maj > 9 || maj < 1 || min > 9) {
                p->fail_code = CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
                perr(p, line, "PTX ISA version %d.%d is not supported (up to 9.x)", maj, min);
            }
            p->m->version = maj * 10 + min;
            have_version = true;
            next(p);
        } else if (tok_is(t, ".target")) {
            next(p);
            for (;;) {
                expect_word(p, "a target");
                if (p->t.len > 3 && memcmp(p->t.s, "sm_", 3) == 0) p->m->target = lex_digits(p->t.s + 3, p->t.len - 3);
                next(p);
                if (!accept(p, ',')) break;
            }
        } else if (tok_is(t, ".address_size")) {
            next(p);
            if (expect_int(p) != 64) perr(p, line, "only .address_size 64 is supported");
        } else if (tok_is(t, ".file") || tok_is(t, ".loc")) {
            skip_line(p);
        } else if (tok_is(t, ".section")) {
            next(p);
            while (!is_punct(p, '{') && p->t.k != TK_EOF) next(p);
            skip_statement(p);
            accept(p, '}');
        } else if (tok_is(t, ".pragma")) {
            skip_statement(p);
        } else {
            bool ext = false;
            for (;;) {
                if (tok_is(&p->t, ".visible") || tok_is(&p->t, ".weak") || tok_is(&p->t, ".common")) next(p);
                else if (tok_is(&p->t, ".extern")) { ext = true; next(p); }
                else break;
            }
            if (tok_is(&p->t, ".entry")) parse_function(p, true, ext);
            else if (tok_is(&p->t, ".func")) parse_function(p, false, ext);
            else if (tok_is(&p->t, ".global")) { next(p); parse_module_var(p, SP_GLOBAL, ext); }
            else if (tok_is(&p->t, ".const")) { next(p); parse_module_var(p, SP_CONST, ext); }
            else if (tok_is(&p->t, ".shared")) { next(p); parse_module_var(p, SP_SHARED, ext); }
            else if (tok_is(&p->t, ".alias")) skip_statement(p);
            else perr(p, p->t.line, "unexpected '%.*s' at module scope", p->t.len, p->t.s);
        }
        if (!have_version) perr(p, line, "the module must start with .version");
    }
    if (!have_version) perr(p, p->t.line, "empty module: no .version");
}

/* ---- after parsing: call graph stack needs ---- */
static void compute_needs(struct ptx_module *m, int fi, int *state)
{
    struct func *f = &m->funcs[fi];
    if (state[fi] == 2) return;
    if (state[fi] == 1) { f->recursive = true; return; }
    state[fi] = 1;
    uint32_t stack = 0, shared = f->shared_end;
    int regs = 0;
    for (int k = f->first; k < f->first + f->count; k++) {
        const struct ins *i = &m->code[k];
        if (i->op != OP_CALL) continue;
        int c0 = m->calls[i->asym].func, c1 = c0 + 1;
        /* an indirect call may reach any function of the module */
        if (c0 < 0) { c0 = 0; c1 = m->nfuncs; }
        for (int c = c0; c < c1; c++) {
            if (m->calls[i->asym].func < 0 && (m->funcs[c].is_entry || !m->funcs[c].defined)) continue;
            compute_needs(m, c, state);
            if (m->funcs[c].recursive || state[c] == 1) f->recursive = true;
            if (m->funcs[c].stack_need > stack) stack = m->funcs[c].stack_need;
            if (m->funcs[c].reg_need > regs) regs = m->funcs[c].reg_need;
            if (m->funcs[c].shared_need > shared) shared = m->funcs[c].shared_need;
        }
    }
    f->shared_need = shared;
    f->stack_need = align_up32(f->frame_size, 16) + stack;
    f->reg_need = f->nregs + regs;
    state[fi] = 2;
}

void ptx_module_free(struct ptx_module *m)
{
    if (!m) return;
    for (int i = 0; i < m->nfuncs; i++) {
        struct func *f = &m->funcs[i];
        free(f->name);
        for (int k = 0; k < f->nparams; k++) free(f->params[k].name);
        for (int k = 0; k < f->nrets; k++) free(f->rets[k].name);
        free(f->params);
        free(f->rets);
    }
    for (int i = 0; i < m->nglobals; i++) {
        free(m->globals[i].name);
        free(m->globals[i].init);
        free(m->globals[i].rel);
    }
    free(m->funcs);
    free(m->globals);
    free(m->code);
    free(m->calls);
    free(m->xops);
    free(m->pool);
    free(m->kernels);
    free(m->khandles);
    free(m);
}

CUresult ptx_module_parse(const char *text, size_t len, struct ptx_module **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = 0;
    struct ptx_module *m = calloc(1, sizeof *m);
    struct pctx *p = calloc(1, sizeof *p);
    if (!m || !p) { free(m); free(p); return CUDA_ERROR_OUT_OF_MEMORY; }
    /* text may carry trailing NULs; stop at the first */
    const char *nul = memchr(text, 0, len);
    if (nul) len = (size_t)(nul - text);
    p->m = m;
    p->err = err;
    p->errlen = errlen;
    p->fail_code = CUDA_ERROR_INVALID_PTX;
    sym_init(&p->mod);
    sym_init(&p->fn);
    lex_init(&p->lx, text, len);
    m->dyn_shared_align = 16;
    int *state = NULL;
    if (setjmp(p->fail)) {
        CUresult rc = (CUresult)p->fail_code;
        free_ops(p->ops, p->nops);
        free_pending_params(p);
        free(p->mod.v); free(p->fn.v); free(p->labels); free(p->fix); free(p->btabs); free(p->kvals); free(p->khash);
        free(state);
        free(p);
        ptx_module_free(m);
        return rc;
    }
    parse_module_body(p);
    /* resolve calls */
    for (int i = 0; i < m->ncalls; i++) {
        if (m->calls[i].func < 0 && m->calls[i].fptr == REF_NONE) perr(p, 0, "unresolved call");
    }
    for (int i = 0; i < m->nfuncs; i++) {
        struct func *f = &m->funcs[i];
        if (f->is_entry && f->defined) {
            m->kernels = xrealloc(p, m->kernels, sizeof(int) * (size_t)(m->nkernels + 1));
            m->kernels[m->nkernels++] = i;
        }
    }
    m->khandles = xrealloc(p, NULL, sizeof *m->khandles * (size_t)(m->nkernels + 1));
    for (int i = 0; i < m->nkernels; i++) m->khandles[i] = (struct ptx_kernel){m, m->kernels[i]};
    for (int k = 0; k < m->ncode; k++) {
        struct ins *i = &m->code[k];
        if (i->op == OP_CALL && m->calls[i->asym].func >= 0) {
            struct func *c = &m->funcs[m->calls[i->asym].func];
            if (!c->defined)
                perr(p, (int)i->line, "call to '%s', which is declared but not defined", c->name);
        }
    }
    state = calloc((size_t)m->nfuncs + 1, sizeof(int));
    if (!state) { p->fail_code = CUDA_ERROR_OUT_OF_MEMORY; perr(p, 0, "out of memory"); }
    for (int i = 0; i < m->nfuncs; i++)
        if (m->funcs[i].defined) compute_needs(m, i, state);
    relocate_entry_shared(m);
    free(state);
    state = NULL;
    /* materialise the constant pool: each value broadcast to 32 lanes */
    m->pool = malloc(sizeof(uint64_t) * WARP * (size_t)(m->npool ? m->npool : 1));
    if (!m->pool) { p->fail_code = CUDA_ERROR_OUT_OF_MEMORY; perr(p, 0, "out of memory"); }
    for (int i = 0; i < m->npool; i++)
        for (int l = 0; l < WARP; l++) m->pool[(size_t)i * WARP + l] = p->kvals[i];
    free(p->mod.v); free(p->fn.v); free(p->labels); free(p->fix); free(p->btabs); free(p->kvals); free(p->khash);
    free(p);
    *out = m;
    return CUDA_SUCCESS;
}
