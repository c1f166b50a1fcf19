/*
 * link.c — a PTX-level linker: several PTX modules in, one PTX module out
 * (see ptx_link in ptx.h).
 *
 * It works on the text, statement by statement at module scope, with the
 * PTX lexer (no second parser): each input is cut into top-level items
 * (directives, variables, function declarations and definitions), symbols
 * are resolved across inputs, and the items are written out again with a
 * few edits. The output is ordered so that every name is declared before it
 * is used, whatever the order of the inputs: first the function prototypes
 * (which name nothing but types), then the variables (whose initialisers may
 * name functions), then the rest. Resolved `.extern` variable declarations
 * are dropped (their definition is then already above); resolved `.extern`
 * function declarations stay as prototypes with the definition's linkage.
 * Internal (non-.visible) symbols are private to their input: one whose name
 * another input also uses (every NVRTC module with printf has `$str`) is
 * renamed in its input. `.file`, `.section` (DWARF) and `.loc` do not
 * survive: their file numbers would collide, and the CPU device ignores them.
 * Archive members (nvlink's semantics for libraries, here libcudadevrt's
 * object in an nvcc -rdc=true program) are chosen first, over the scanned
 * items of every input; the chosen inputs are then linked as above.
 * Not handled: several names in one variable statement (compilers write one
 * per statement), `.common` sizes (the first definition wins, as `.weak`).
 */
#include "ptx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lex.h"

enum link_kind { L_INTERNAL, L_VISIBLE, L_WEAK, L_COMMON, L_EXTERN };
enum item_what { W_FUNC, W_ENTRY, W_VAR, W_SHARED, W_OTHER };
enum item_class { C_DROP, C_PROTO, C_VAR, C_REST };

struct item {
    int input;
    size_t start, end;        /* text span in the input */
    size_t link_pos, link_len; /* span of the linkage words (0 length if none) */
    enum link_kind link;
    enum item_what what;
    enum item_class cls;
    bool def;                 /* a definition (function body, non-extern variable) */
    const char *name;         /* in the input's text; NULL for directives */
    int name_len;
    const char *new_link;     /* replacement for the linkage words, or NULL */
};

struct edit {
    size_t pos, len;
    char *text; /* NULL: delete */
};

struct lk {
    const struct ptx_link_input *in;
    int n;
    struct item *items;
    size_t nitems, capitems;
    struct edit **edits; /* per input */
    size_t *nedits, *capedits;
    char *log;
    size_t loglen, logpos;
    int errors;
    int ver_major, ver_minor, target_sm, target_input;
    const char *target_s; size_t target_len;
    bool oom;
};

static void logf_(struct lk *k, const char *fmt, ...)
{
    if (!k->log || k->logpos + 1 >= k->loglen)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(k->log + k->logpos, k->loglen - k->logpos, fmt, ap);
    va_end(ap);
    if (w > 0)
        k->logpos = k->logpos + (size_t)w < k->loglen ? k->logpos + (size_t)w : k->loglen - 1;
}

static void lk_error(struct lk *k, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    logf_(k, "error   : %s\n", buf);
    k->errors++;
}

static const char *in_name(const struct lk *k, int i)
{
    return k->in[i].name && k->in[i].name[0] ? k->in[i].name : "<input>";
}

static struct item *add_item(struct lk *k)
{
    if (k->nitems == k->capitems) {
        size_t cap = k->capitems ? k->capitems * 2 : 64;
        struct item *p = realloc(k->items, cap * sizeof *p);
        if (!p) {
            k->oom = true;
            return NULL;
        }
        k->items = p;
        k->capitems = cap;
    }
    struct item *it = &k->items[k->nitems++];
    memset(it, 0, sizeof *it);
    return it;
}

static void add_edit(struct lk *k, int input, size_t pos, size_t len, const char *text)
{
    if (k->nedits[input] == k->capedits[input]) {
        size_t cap = k->capedits[input] ? k->capedits[input] * 2 : 32;
        struct edit *p = realloc(k->edits[input], cap * sizeof *p);
        if (!p) {
            k->oom = true;
            return;
        }
        k->edits[input] = p;
        k->capedits[input] = cap;
    }
    char *t = text ? strdup(text) : NULL;
    if (text && !t) {
        k->oom = true;
        return;
    }
    k->edits[input][k->nedits[input]++] = (struct edit){pos, len, t};
}

static bool is_p(const struct tok *t, char c) { return t->k == TK_PUNCT && t->c == c; }

/* Skip a balanced group opened by the current token (one of ( { [). */
static bool skip_group(struct lexer *lx, struct tok *t)
{
    int depth = 0;
    do {
        if (t->k == TK_PUNCT && (t->c == '(' || t->c == '{' || t->c == '['))
            depth++;
        else if (t->k == TK_PUNCT && (t->c == ')' || t->c == '}' || t->c == ']'))
            depth--;
        else if (t->k == TK_EOF)
            return false;
        if (depth)
            lex_next(lx, t);
    } while (depth);
    return true;
}

/* Cut one input into items. */
static void scan_input(struct lk *k, int ii)
{
    const char *text = k->in[ii].text;
    size_t len = k->in[ii].len;
    struct lexer lx;
    struct tok t;
    lex_init(&lx, text, len);
    lex_next(&lx, &t);
    bool have_version = false;
    while (t.k != TK_EOF && !k->oom) {
        size_t start = (size_t)(t.s - text);
        int line = t.line;
        if (t.k != TK_WORD || t.s[0] != '.') {
            lk_error(k, "%s, line %d: unexpected '%.*s' at module scope", in_name(k, ii), line, t.len, t.s);
            return;
        }
        if (tok_is(&t, ".version")) {
            lex_next(&lx, &t);
            int maj = 0, min = 0;
            if ((t.k != TK_FLOAT && t.k != TK_INT) || lex_version(t.s, t.len, &maj, &min) < 1) {
                lk_error(k, "%s, line %d: bad .version", in_name(k, ii), line);
                return;
            }
            if ((long long)maj * 10 + min > (long long)k->ver_major * 10 + k->ver_minor)
                k->ver_major = maj, k->ver_minor = min;
            have_version = true;
            lex_next(&lx, &t);
            continue;
        }
        if (!have_version) {
            lk_error(k, "%s, line %d: a PTX module must start with .version", in_name(k, ii), line);
            return;
        }
        if (tok_is(&t, ".target")) {
            lex_next(&lx, &t);
            const char *ts = t.s;
            const char *te = t.s;
            int sm = 0;
            for (;;) {
                if (t.k != TK_WORD) {
                    lk_error(k, "%s, line %d: bad .target", in_name(k, ii), line);
                    return;
                }
                if (t.len > 3 && memcmp(t.s, "sm_", 3) == 0)
                    sm = lex_digits(t.s + 3, t.len - 3);
                te = t.s + t.len;
                lex_next(&lx, &t);
                if (!is_p(&t, ','))
                    break;
                lex_next(&lx, &t);
            }
            if (sm > k->target_sm || !k->target_s) {
                k->target_sm = sm;
                k->target_s = ts;
                k->target_len = (size_t)(te - ts);
            }
            continue;
        }
        if (tok_is(&t, ".address_size")) {
            lex_next(&lx, &t);
            if (t.k != TK_INT || t.u != 64) {
                lk_error(k, "%s, line %d: only .address_size 64 can be linked", in_name(k, ii), line);
                return;
            }
            lex_next(&lx, &t);
            continue;
        }
        if (tok_is(&t, ".file") || tok_is(&t, ".loc")) {
            while (t.k != TK_EOF && t.line == line)
                lex_next(&lx, &t);
            continue;
        }
        if (tok_is(&t, ".section")) {
            while (t.k != TK_EOF && !is_p(&t, '{'))
                lex_next(&lx, &t);
            if (!skip_group(&lx, &t)) {
                lk_error(k, "%s, line %d: unterminated .section", in_name(k, ii), line);
                return;
            }
            lex_next(&lx, &t);
            continue;
        }
        struct item *it = add_item(k);
        if (!it)
            return;
        it->input = ii;
        it->start = start;
        it->link_pos = start;
        it->link = L_INTERNAL;
        while (tok_is(&t, ".visible") || tok_is(&t, ".weak") || tok_is(&t, ".extern") || tok_is(&t, ".common")) {
            if (tok_is(&t, ".extern"))
                it->link = L_EXTERN;
            else if (it->link != L_EXTERN)
                it->link = tok_is(&t, ".visible") ? L_VISIBLE : tok_is(&t, ".weak") ? L_WEAK : L_COMMON;
            lex_next(&lx, &t);
        }
        it->link_len = (size_t)(t.s - text) - it->link_pos;
        bool func = tok_is(&t, ".func"), entry = tok_is(&t, ".entry");
        if (func || entry) {
            it->what = entry ? W_ENTRY : W_FUNC;
            lex_next(&lx, &t);
            if (func && is_p(&t, '(')) {
                if (!skip_group(&lx, &t))
                    goto truncated;
                lex_next(&lx, &t);
            }
            if (t.k != TK_WORD) {
                lk_error(k, "%s, line %d: expected a function name", in_name(k, ii), t.line);
                return;
            }
            it->name = t.s;
            it->name_len = t.len;
            lex_next(&lx, &t);
            while (!is_p(&t, ';') && !is_p(&t, '{')) {
                if (t.k == TK_EOF)
                    goto truncated;
                if (is_p(&t, '(') && !skip_group(&lx, &t))
                    goto truncated;
                lex_next(&lx, &t);
            }
            it->def = is_p(&t, '{');
            if (it->def && !skip_group(&lx, &t))
                goto truncated;
            it->cls = it->def ? C_REST : C_PROTO;
        } else if (tok_is(&t, ".global") || tok_is(&t, ".const") || tok_is(&t, ".shared") || tok_is(&t, ".tex") ||
                   tok_is(&t, ".texref") || tok_is(&t, ".samplerref") || tok_is(&t, ".surfref")) {
            it->what = tok_is(&t, ".shared") ? W_SHARED : W_VAR;
            bool after_eq = false;
            lex_next(&lx, &t);
            while (!is_p(&t, ';')) {
                if (t.k == TK_EOF)
                    goto truncated;
                if (is_p(&t, '(') || is_p(&t, '{') || is_p(&t, '[')) {
                    if (!skip_group(&lx, &t))
                        goto truncated;
                } else if (is_p(&t, '=')) {
                    after_eq = true;
                } else if (t.k == TK_WORD && t.s[0] != '.' && !after_eq && !it->name) {
                    it->name = t.s;
                    it->name_len = t.len;
                }
                lex_next(&lx, &t);
            }
            if (!it->name) {
                lk_error(k, "%s, line %d: a variable without a name", in_name(k, ii), line);
                return;
            }
            it->def = it->link != L_EXTERN;
            it->cls = C_VAR;
        } else {
            /* .pragma, .alias and whatever else: kept in place */
            it->what = W_OTHER;
            it->cls = C_REST;
            while (!is_p(&t, ';')) {
                if (t.k == TK_EOF)
                    goto truncated;
                lex_next(&lx, &t);
            }
        }
        it->end = (size_t)(t.s + t.len - text);
        lex_next(&lx, &t);
        continue;
    truncated:
        lk_error(k, "%s, line %d: statement not terminated", in_name(k, ii), line);
        return;
    }
    if (!have_version)
        lk_error(k, "%s: not a PTX module (no .version)", in_name(k, ii));
}

static bool same_name(const struct item *a, const struct item *b)
{
    return a->name && b->name && a->name_len == b->name_len && memcmp(a->name, b->name, (size_t)a->name_len) == 0;
}

/* Functions the device itself provides to PTX (decode.c turns calls of them
 * into operations): an .extern declaration of one needs no definition. */
static bool device_function(const struct item *it)
{
    static const char *const builtin[] = {"vprintf", "cudaGraphSetConditional"};
    for (size_t k = 0; it->what == W_FUNC && k < sizeof builtin / sizeof builtin[0]; k++)
        if ((size_t)it->name_len == strlen(builtin[k]) && memcmp(it->name, builtin[k], (size_t)it->name_len) == 0)
            return true;
    return false;
}

static bool external(const struct item *it)
{
    return it->what == W_ENTRY || it->link == L_VISIBLE || it->link == L_WEAK || it->link == L_COMMON;
}

static const char *link_word(enum link_kind l)
{
    return l == L_WEAK ? ".weak " : l == L_COMMON ? ".common " : ".visible ";
}

/* The winning definition of each externally visible name, checking for
 * multiple strong definitions; the losers are dropped. */
static void resolve_definitions(struct lk *k)
{
    for (size_t i = 0; i < k->nitems; i++) {
        struct item *a = &k->items[i];
        if (!a->def || !external(a) || a->cls == C_DROP)
            continue;
        for (size_t j = i + 1; j < k->nitems; j++) {
            struct item *b = &k->items[j];
            if (!b->def || !external(b) || b->cls == C_DROP || !same_name(a, b))
                continue;
            bool a_strong = a->link == L_VISIBLE || a->what == W_ENTRY;
            bool b_strong = b->link == L_VISIBLE || b->what == W_ENTRY;
            if (a_strong && b_strong) {
                lk_error(k, "Multiple definition of '%.*s' in '%s', first defined in '%s'", b->name_len, b->name,
                         in_name(k, b->input), in_name(k, a->input));
                b->cls = C_DROP;
            } else if (b_strong) {
                a->cls = C_DROP; /* a weak definition yields to a strong one */
                break;
            } else {
                b->cls = C_DROP; /* the first weak definition wins */
            }
        }
    }
}

static const struct item *definition_of(const struct lk *k, const struct item *ref)
{
    for (size_t i = 0; i < k->nitems; i++) {
        const struct item *d = &k->items[i];
        if (d->def && external(d) && d->cls != C_DROP && same_name(d, ref))
            return d;
    }
    return NULL;
}

static void resolve_references(struct lk *k)
{
    for (size_t i = 0; i < k->nitems; i++) {
        struct item *it = &k->items[i];
        if (!it->name || it->def || it->cls == C_DROP)
            continue;
        if (it->what == W_SHARED) {
            /* dynamic shared memory: one declaration per name is enough */
            for (size_t j = 0; j < i; j++)
                if (k->items[j].what == W_SHARED && !k->items[j].def && k->items[j].cls != C_DROP &&
                    same_name(&k->items[j], it)) {
                    it->cls = C_DROP;
                    break;
                }
            continue;
        }
        if (it->link != L_EXTERN && !external(it))
            continue; /* an internal prototype: its definition is in the same input */
        const struct item *d = definition_of(k, it);
        if (d) {
            if (it->what == W_VAR)
                it->cls = C_DROP;
            else
                it->new_link = link_word(d->link == L_INTERNAL ? L_VISIBLE : d->link);
            continue;
        }
        if (it->link != L_EXTERN)
            continue; /* a .visible prototype whose definition is this input's own */
        if (device_function(it)) {
            for (size_t j = 0; j < i; j++)
                if (k->items[j].cls != C_DROP && !k->items[j].def && same_name(&k->items[j], it)) {
                    it->cls = C_DROP;
                    break;
                }
            continue;
        }
        lk_error(k, "Undefined reference to '%.*s' in '%s'", it->name_len, it->name, in_name(k, it->input));
    }
}

/* Whether input ii defines a name that an included input references with
 * `.extern` and no included input defines. Kernels are not looked at: no
 * other module can call one. */
static bool member_needed(const struct lk *k, const bool *inc, int ii)
{
    for (size_t i = 0; i < k->nitems; i++) {
        const struct item *d = &k->items[i];
        if (d->input != ii || !d->def || d->what == W_ENTRY || !external(d))
            continue;
        bool wanted = false, defined = false;
        for (size_t j = 0; j < k->nitems && !defined; j++) {
            const struct item *r = &k->items[j];
            if (!inc[r->input] || !same_name(r, d))
                continue;
            if (r->def && external(r))
                defined = true;
            else if (r->link == L_EXTERN)
                wanted = true;
        }
        if (wanted && !defined)
            return true;
    }
    return false;
}

/* inc[i]: input i is linked. Members are pulled in until a fixed point, as a
 * member may reference another. */
static void choose_members(const struct lk *k, bool *inc)
{
    for (int i = 0; i < k->n; i++)
        inc[i] = !k->in[i].member;
    for (bool more = true; more;) {
        more = false;
        for (int i = 0; i < k->n; i++)
            if (!inc[i] && member_needed(k, inc, i))
                inc[i] = more = true;
    }
}

/* Internal names used at module scope by another input: renamed in theirs. */
static void rename_internals(struct lk *k)
{
    for (size_t i = 0; i < k->nitems && !k->oom; i++) {
        struct item *it = &k->items[i];
        if (!it->name || !it->def || external(it) || it->what == W_OTHER)
            continue;
        bool clash = false;
        for (size_t j = 0; j < k->nitems && !clash; j++)
            clash = k->items[j].input != it->input && same_name(&k->items[j], it);
        if (!clash)
            continue;
        char *nn = malloc((size_t)it->name_len + 24);
        if (!nn) {
            k->oom = true;
            return;
        }
        snprintf(nn, (size_t)it->name_len + 24, "%.*s$link%d", it->name_len, it->name, it->input);
        /* every word of the input equal to the name */
        struct lexer lx;
        struct tok t;
        const char *text = k->in[it->input].text;
        lex_init(&lx, text, k->in[it->input].len);
        for (lex_next(&lx, &t); t.k != TK_EOF; lex_next(&lx, &t))
            if (t.k == TK_WORD && t.len == it->name_len && memcmp(t.s, it->name, (size_t)t.len) == 0)
                add_edit(k, it->input, (size_t)(t.s - text), (size_t)t.len, nn);
        free(nn);
    }
}

/* `.loc` lines inside function bodies (their file numbers are gone). */
static void drop_locs(struct lk *k, int ii)
{
    const char *text = k->in[ii].text;
    size_t len = k->in[ii].len;
    struct lexer lx;
    struct tok t;
    lex_init(&lx, text, len);
    for (lex_next(&lx, &t); t.k != TK_EOF && !k->oom; lex_next(&lx, &t)) {
        if (!tok_is(&t, ".loc"))
            continue;
        size_t pos = (size_t)(t.s - text), end = pos;
        while (end < len && text[end] != '\n')
            end++;
        add_edit(k, ii, pos, end - pos, NULL);
        lx.p = text + end;
    }
}

static int cmp_edit(const void *a, const void *b)
{
    const struct edit *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

struct obuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct obuf *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->oom = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = 0;
}

static void emit_item(struct lk *k, struct obuf *o, const struct item *it)
{
    const char *text = k->in[it->input].text;
    size_t pos = it->start;
    if (it->new_link) {
        put(o, it->new_link, strlen(it->new_link));
        pos = it->link_pos + it->link_len;
    }
    const struct edit *e = k->edits[it->input];
    size_t ne = k->nedits[it->input];
    for (size_t i = 0; i < ne; i++) {
        if (e[i].pos < pos || e[i].pos >= it->end)
            continue;
        put(o, text + pos, e[i].pos - pos);
        if (e[i].text)
            put(o, e[i].text, strlen(e[i].text));
        pos = e[i].pos + e[i].len;
        if (pos > it->end) /* an edit that runs past its item (malformed input) ends it */
            pos = it->end;
    }
    put(o, text + pos, it->end - pos);
    put(o, "\n", 1);
}

/* Link the inputs choose_members keeps, as plain inputs; the members left
 * out are noted after that link's own lines. */
static CUresult link_chosen(struct lk *k, char **out, size_t *out_len)
{
    bool *inc = calloc((size_t)k->n, sizeof *inc);
    struct ptx_link_input *sub = calloc((size_t)k->n, sizeof *sub);
    if (!inc || !sub) {
        free(inc);
        free(sub);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    choose_members(k, inc);
    int m = 0;
    for (int i = 0; i < k->n; i++)
        if (inc[i]) {
            sub[m] = k->in[i];
            sub[m++].member = false;
        }
    CUresult r;
    if (m) {
        r = ptx_link(sub, m, out, out_len, k->log, k->loglen);
        k->logpos = k->log ? strlen(k->log) : 0;
    } else {
        logf_(k, "error   : nothing to link: no input but archive members, which nothing references\n");
        r = CUDA_ERROR_INVALID_VALUE;
    }
    for (int i = 0; i < k->n; i++)
        if (!inc[i])
            logf_(k, "info    : archive member '%s' left out: it defines nothing the link references\n",
                  in_name(k, i));
    free(inc);
    free(sub);
    return r;
}

CUresult ptx_link(const struct ptx_link_input *in, int n, char **out, size_t *out_len, char *log, size_t loglen)
{
    if (log && loglen)
        log[0] = 0;
    *out = NULL;
    *out_len = 0;
    if (n <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct lk k = {.in = in, .n = n, .log = log, .loglen = log ? loglen : 0};
    k.edits = calloc((size_t)n, sizeof *k.edits);
    k.nedits = calloc((size_t)n, sizeof *k.nedits);
    k.capedits = calloc((size_t)n, sizeof *k.capedits);
    CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
    struct obuf o = {0};
    if (!k.edits || !k.nedits || !k.capedits)
        goto done;
    for (int i = 0; i < n && !k.errors; i++)
        scan_input(&k, i);
    int members = 0;
    for (int i = 0; i < n; i++)
        members += in[i].member;
    if (members && !k.errors && !k.oom) {
        r = link_chosen(&k, out, out_len);
        goto done;
    }
    if (!k.errors && !k.oom) {
        resolve_definitions(&k);
        resolve_references(&k);
    }
    if (!k.errors && !k.oom) {
        rename_internals(&k);
        for (int i = 0; i < n; i++)
            drop_locs(&k, i);
    }
    if (k.oom)
        goto done;
    if (k.errors) {
        r = CUDA_ERROR_INVALID_PTX;
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (k.nedits[i])
            qsort(k.edits[i], k.nedits[i], sizeof *k.edits[i], cmp_edit);
    char head[96];
    snprintf(head, sizeof head, ".version %d.%d\n.target ", k.ver_major, k.ver_minor);
    put(&o, head, strlen(head));
    if (k.target_s)
        put(&o, k.target_s, k.target_len);
    else
        put(&o, "sm_52", 5); /* PTX's default target when none is named */
    put(&o, "\n.address_size 64\n\n", 19);
    static const enum item_class order[] = {C_PROTO, C_VAR, C_REST};
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < k.nitems; i++)
            if (k.items[i].cls == order[c])
                emit_item(&k, &o, &k.items[i]);
    if (o.oom)
        goto done;
    logf_(&k, "info    : linked %d PTX module%s\n", n, n == 1 ? "" : "s");
    *out = o.p;
    *out_len = o.len;
    o.p = NULL;
    r = CUDA_SUCCESS;
done:
    if (r == CUDA_ERROR_OUT_OF_MEMORY)
        logf_(&k, "error   : out of memory\n");
    free(o.p);
    for (int i = 0; k.edits && i < n; i++) {
        for (size_t j = 0; j < k.nedits[i]; j++)
            free(k.edits[i][j].text);
        free(k.edits[i]);
    }
    free(k.edits);
    free(k.nedits);
    free(k.capedits);
    free(k.items);
    return r;
}
