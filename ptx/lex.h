/*
 * lex.h — tokens of PTX text for parse.c.
 *
 * A word is an identifier, directive, opcode with all its modifiers
 * ("ld.global.nc.v4.f32"), register ("%r12", "%tid.x") or label; "::" is
 * part of a word ("L2::128B", "shared::cta"). Numbers: decimal, hex (0x),
 * octal (leading 0), binary (0b), float bits 0fXXXXXXXX / 0dXXXXXXXXXXXXXXXX,
 * and decimal floats (1.5, 1e-3). Comments (// and block) are skipped;
 * lines are counted for error messages.
 */
#ifndef RGPU_PTX_LEX_H
#define RGPU_PTX_LEX_H
#include <stdint.h>
#include <stddef.h>

enum tok_kind { TK_EOF = 0, TK_WORD, TK_INT, TK_F32, TK_F64, TK_FLOAT, TK_STRING, TK_PUNCT, TK_BAD };
struct tok {
    enum tok_kind k;
    int line;
    const char *s; int len; /* the text (a string's content without quotes) */
    uint64_t u;             /* TK_INT value (two's complement), TK_F32/TK_F64 bits */
    double d;               /* TK_FLOAT value */
    char c;                 /* TK_PUNCT */
};
struct lexer { const char *p, *end; int line; };
void lex_init(struct lexer *lx, const char *text, size_t len);
void lex_next(struct lexer *lx, struct tok *t);
int tok_is(const struct tok *t, const char *word); /* a word equal to `word` */
/* Numbers inside token text, which is not NUL-terminated (the text is the
 * client's bytes, exactly as long as it says): never read past len. */
int lex_digits(const char *s, int len); /* leading decimal digits; 0 if none, saturates at INT_MAX */
int lex_version(const char *s, int len, int *major, int *minor); /* "M.m" or "M": how many read */
#endif
