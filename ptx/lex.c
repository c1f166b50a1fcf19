/*
 * lex.c — split PTX text into tokens (see lex.h for what a token is).
 *
 * The lexer never allocates and never reads past `end`: every token points
 * into the caller's text. Anything it cannot classify becomes TK_BAD so the
 * parser reports it with its line number.
 */
#include "lex.h"

#include <limits.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void lex_init(struct lexer *lx, const char *text, size_t len)
{
    lx->p = text;
    lx->end = text + len;
    lx->line = 1;
}

int tok_is(const struct tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->k == TK_WORD && (size_t)t->len == n && memcmp(t->s, word, n) == 0;
}

static int word_start(int c) { return isalpha(c) || c == '_' || c == '$' || c == '%' || c == '.'; }
static int word_char(int c) { return isalnum(c) || c == '_' || c == '$' || c == '%' || c == '.'; }

static void skip_space(struct lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') { lx->line++; lx->p++; }
        else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') lx->p++;
        else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/') {
            while (lx->p < lx->end && *lx->p != '\n') lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
            lx->p += 2;
            while (lx->p < lx->end && !(*lx->p == '*' && lx->p + 1 < lx->end && lx->p[1] == '/')) {
                if (*lx->p == '\n') lx->line++;
                lx->p++;
            }
            lx->p = lx->p + 2 <= lx->end ? lx->p + 2 : lx->end;
        } else if (c == '\0') lx->p++; /* trailing NULs of a fatbin entry */
        else break;
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void lex_number(struct lexer *lx, struct tok *t)
{
    const char *p = lx->p, *e = lx->end;
    uint64_t v = 0;
    if (p + 1 < e && p[0] == '0' && (p[1] == 'f' || p[1] == 'F' || p[1] == 'd' || p[1] == 'D')) {
        int nd = (p[1] == 'f' || p[1] == 'F') ? 8 : 16;
        const char *q = p + 2;
        int i = 0;
        for (; i < nd && q < e && hexval(*q) >= 0; i++, q++) v = v << 4 | (uint64_t)hexval(*q);
        t->k = i == nd ? (nd == 8 ? TK_F32 : TK_F64) : TK_BAD;
        t->u = v;
        lx->p = q;
        return;
    }
    if (p + 1 < e && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        const char *q = p + 2;
        while (q < e && hexval(*q) >= 0) v = v << 4 | (uint64_t)hexval(*q++);
        t->k = q > p + 2 ? TK_INT : TK_BAD;
        t->u = v;
        if (q < e && (*q == 'U' || *q == 'u')) q++;
        lx->p = q;
        return;
    }
    if (p + 1 < e && p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        const char *q = p + 2;
        while (q < e && (*q == '0' || *q == '1')) v = v << 1 | (uint64_t)(*q++ - '0');
        t->k = TK_INT;
        t->u = v;
        if (q < e && (*q == 'U' || *q == 'u')) q++;
        lx->p = q;
        return;
    }
    const char *q = p;
    while (q < e && isdigit((unsigned char)*q)) q++;
    if (q < e && (*q == '.' || *q == 'e' || *q == 'E')) {
        char buf[64];
        const char *r = q;
        if (*r == '.') { r++; while (r < e && isdigit((unsigned char)*r)) r++; }
        if (r < e && (*r == 'e' || *r == 'E')) {
            r++;
            if (r < e && (*r == '+' || *r == '-')) r++;
            while (r < e && isdigit((unsigned char)*r)) r++;
        }
        size_t n = (size_t)(r - p);
        if (n >= sizeof buf) { t->k = TK_BAD; lx->p = r; return; }
        memcpy(buf, p, n);
        buf[n] = 0;
        t->k = TK_FLOAT;
        t->d = strtod(buf, NULL);
        lx->p = r;
        return;
    }
    if (p[0] == '0' && q > p + 1) { /* octal */
        for (const char *r = p + 1; r < q; r++) {
            if (*r > '7') { t->k = TK_BAD; lx->p = q; return; }
            v = v * 8 + (uint64_t)(*r - '0');
        }
    } else {
        for (const char *r = p; r < q; r++) v = v * 10 + (uint64_t)(*r - '0');
    }
    if (q < e && (*q == 'U' || *q == 'u')) q++;
    t->k = TK_INT;
    t->u = v;
    lx->p = q;
}

void lex_next(struct lexer *lx, struct tok *t)
{
    skip_space(lx);
    memset(t, 0, sizeof *t);
    t->line = lx->line;
    t->s = lx->p;
    if (lx->p >= lx->end) { t->k = TK_EOF; return; }
    unsigned char c = (unsigned char)*lx->p;
    if (word_start(c)) {
        const char *q = lx->p + 1;
        for (;;) {
            if (q < lx->end && word_char((unsigned char)*q)) q++;
            else if (q + 1 < lx->end && q[0] == ':' && q[1] == ':') q += 2;
            else break;
        }
        t->k = TK_WORD;
        t->len = (int)(q - lx->p);
        lx->p = q;
        return;
    }
    if (isdigit(c)) {
        lex_number(lx, t);
        t->len = (int)(lx->p - t->s);
        return;
    }
    if (c == '"') {
        const char *q = lx->p + 1;
        while (q < lx->end && *q != '"' && *q != '\n') { if (*q == '\\' && q + 1 < lx->end) q++; q++; }
        if (q >= lx->end || *q != '"') { t->k = TK_BAD; lx->p = q; return; }
        t->k = TK_STRING;
        t->s = lx->p + 1;
        t->len = (int)(q - lx->p - 1);
        lx->p = q + 1;
        return;
    }
    if (strchr(",;{}[]()+-<>@!=|:*/", c)) {
        t->k = TK_PUNCT;
        t->c = (char)c;
        t->len = 1;
        lx->p++;
        return;
    }
    t->k = TK_BAD;
    t->len = 1;
    lx->p++;
}

int lex_digits(const char *s, int len)
{
    int v = 0;
    for (int i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        v = v > (INT_MAX - 9) / 10 ? INT_MAX : v * 10 + (s[i] - '0');
    return v;
}

int lex_version(const char *s, int len, int *major, int *minor)
{
    int i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    if (i == 0) return 0;
    *major = lex_digits(s, i);
    if (i + 1 >= len || s[i] != '.' || s[i + 1] < '0' || s[i + 1] > '9') return 1;
    *minor = lex_digits(s + i + 1, len - i - 1);
    return 2;
}
