/*
 * parse.h — state shared by the parser (parse.c: directives, declarations,
 * statements) and the instruction decoder (decode.c: opcode + operands ->
 * struct ins). Lives only while ptx_module_parse runs.
 *
 * Symbols. A function body has nested scopes ({ } blocks; nvcc reuses names
 * such as param0 in every call sequence), so function symbols sit in a hash
 * of chains, newest first; leaving a scope pops what it declared. A register
 * range "%r<100>" is one symbol: "%r57" is found as prefix "%r" + 57.
 * Module symbols (functions, globals, shared variables) have their own table.
 */
#ifndef RGPU_PTX_PARSE_H
#define RGPU_PTX_PARSE_H

#include <setjmp.h>

#include "internal.h"
#include "lex.h"

/* S_SHARED_ENTRY: a .shared declared in a kernel's body, at an offset in that kernel's own area */
enum sym_kind { S_REG, S_REGRANGE, S_FRAME, S_SHARED, S_DYNSHARED, S_GLOBAL, S_KPARAM, S_FUNC, S_SHARED_ENTRY };
struct sym {
    const char *name; int len;
    int kind;
    uint32_t a;        /* REG: slot; REGRANGE: first slot; FRAME/SHARED/KPARAM: offset; GLOBAL/FUNC: index */
    uint32_t n;        /* REGRANGE: count; sizes */
    uint8_t t;         /* register type */
    int next;          /* bucket chain */
};
#define SYM_BUCKETS 4096
struct symtab { struct sym *v; int n, cap; int head[SYM_BUCKETS]; };

enum ro_kind { RO_NAME = 1, RO_INT, RO_F32, RO_F64, RO_FLOAT, RO_ADDR, RO_VEC, RO_SINK, RO_LIST };
struct ropnd {
    int kind;
    bool neg;                  /* !%p */
    const char *name; int len; /* NAME; ADDR base (len 0: none) */
    const char *name2; int len2; /* second destination of d|p */
    int64_t off;               /* ADDR displacement, NAME+off */
    /* ADDR [name, {c..}] (tex): the coordinate vector in el[0] (nel 1) */
    uint64_t u; double d;      /* INT/F32/F64 bits, FLOAT */
    struct ropnd *el; int nel; /* VEC / LIST */
};

struct labelfix { int ins; const char *name; int len; int line; };
struct label { const char *name; int len; int ins; };

struct pctx {
    struct ptx_module *m;
    struct lexer lx;
    struct tok t;              /* current token */
    char *err; size_t errlen;
    jmp_buf fail;              /* parse errors longjmp here after writing err */
    int fail_code;
    struct symtab mod;         /* module scope */
    struct symtab fn;          /* current function */
    int scope_mark[64]; uint32_t scope_frame[64]; int depth;
    struct func *f; int fi;    /* current function */
    uint32_t frame_top;
    struct label *labels; int nlabels, caplabels;
    struct labelfix *fix; int nfix, capfix; /* fix.ins < 0: entry -ins - 1 of module.xops (brx tables) */
    struct label *btabs; int nbtabs, capbtabs; /* .branchtargets lists of the function: ins = xops index */
    int capcode, capfuncs, capglobals, capcalls, cappool, capxops;
    /* constant pool dedupe */
    uint64_t *kvals; int *khash; int khcap;
    int line;                  /* line of the statement being decoded */
    /* the operands of the instruction being parsed: here rather than on
     * parse_instruction's stack so that an error's longjmp can free their
     * element lists (a rejected module must not leak in a long-lived worker) */
    struct ropnd ops[16]; int nops;
    int nest;                  /* braces open in the construct being parsed (nest_in) */
    /* the parameter lists of the function being parsed, until they belong
     * to it (likewise freed on an error) */
    struct pparam *params, *rets; int nparams, nrets;
};

_Noreturn void perr(struct pctx *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct sym *sym_find(struct symtab *s, const char *name, int len, uint32_t *slot_out);
struct sym *sym_lookup(struct pctx *p, const char *name, int len, uint32_t *slot_out);
int new_reg(struct pctx *p, int type);
uint32_t pool_const(struct pctx *p, uint64_t v);
struct ins *emit(struct pctx *p);
void decode_ins(struct pctx *p, const char *opc, int olen, struct ropnd *ops, int nops, int32_t guard, int line);
void *xrealloc(struct pctx *p, void *ptr, size_t n);
uint32_t xops_alloc(struct pctx *p, int n); /* n entries of module.xops */
int parse_type_name(const char *s, int len);
#endif
