/*
 * rules_lex - the lexical half of the rules parser, private to rules*.c.
 *
 * Owns: the tokens (which point back into the rule text or a --set value,
 * so every message can name file:line:col), the lexer and the joining of
 * physical lines into logical ones, the cursor the value and attribute
 * parsers read a line with, $NAME expansion and the lexing of --set
 * values, and the parse context (struct rules_parser) that every rules_*
 * function is handed, with the diagnostics that report at a token.
 *
 * The lexer is part of a fuzz target: no recursion, every loop walks a
 * bounded buffer, every collection has a cap (the RULES_* limits).
 */
#ifndef OUTFLOW_RULES_LEX_H
#define OUTFLOW_RULES_LEX_H

#include <stddef.h>
#include <string.h>

#include "rules.h"

#define RULES_LINE_TOKS		1024		/* tokens in one logical line as written */
#define RULES_EXPAND_TOKS	4096		/* ... after $VAR expansion */
#define RULES_VAR_TEXT		65536		/* bytes of one variable's value */

enum rules_tk {
	RULES_TK_EOF, RULES_TK_NL, RULES_TK_WORD, RULES_TK_STRING, RULES_TK_VAR,
	RULES_TK_LBRACE, RULES_TK_RBRACE, RULES_TK_LBRACK, RULES_TK_RBRACK,
	RULES_TK_LPAREN, RULES_TK_RPAREN, RULES_TK_COMMA, RULES_TK_EQ, RULES_TK_TILDE,
	RULES_TK_GT, RULES_TK_GE, RULES_TK_LT, RULES_TK_LE,
	RULES_TK_ERROR	/* already reported: later complaints about it are noise */
};

struct rules_tok {
	enum rules_tk type;
	const char *s;		/* text in the buffer or an override value (strings with quotes) */
	unsigned len;
	unsigned line, col;	/* line 0: inside an override value */
	int ov;			/* override the token came from, or -1 */
	int ref_var;		/* variable it was expanded from at a use site, or -1 */
	unsigned ref_line, ref_col;
};

struct rules_lexer {
	const char *p, *end, *bol;
	unsigned line;
	int ov;
};

/* A "var NAME = value": the value kept as tokens, re-read at each use. */
struct rules_var {
	char name[RULE_NAME_MAX];
	char *text;		/* the value as written, tokens joined by spaces */
	struct rules_tok *toks;
	size_t ntoks;
	int ov;			/* override that replaced the value, or -1 */
	unsigned line;
};

/* The attributes of a rule, in the order of rules_attr_names (rules_attr.h). */
enum rules_attr {
	RULES_ATTR_CATEGORY, RULES_ATTR_WHEN, RULES_ATTR_HOSTS, RULES_ATTR_EXCEPT,
	RULES_ATTR_SEVERITY, RULES_ATTR_SCORE, RULES_ATTR_MITRE, RULES_ATTR_MESSAGE,
	RULES_ATTR_SUPPRESS, RULES_ATTR_ENABLED, RULES_ATTR_ONLY, RULES_ATTR_OFFHOURS,
	RULES_ATTR__COUNT
};

/* The rule being read. */
struct rules_build {
	size_t idx;			/* in rs->rules */
	struct rules_tok head;		/* the "rule" keyword: where rule-level messages point */
	unsigned seen[RULES_ATTR__COUNT];	/* line each attribute was set on, 0 if not yet */
	int when_bad;
	int head_bad;			/* its "rule" line had errors: skip "missing" noise */
	struct rules_tok msg_tok;
};

/* One parse: created and freed by rules_parse() (rules.c). */
struct rules_parser {
	const char *file;
	struct rules_errors *errs;
	int stop;			/* too many errors, rules, or out of memory */
	struct rules_override *ov;
	size_t nov;
	struct rules_var *vars;
	size_t nvars;
	struct ruleset *rs;
	struct rules_lexer lx;
	int in_rule, want_brace;
	struct rules_build b;
	struct rules_tok eol;		/* end of the current logical line */
	size_t nline, nx, novt;
	struct rules_tok line[RULES_LINE_TOKS];
	struct rules_tok xline[RULES_EXPAND_TOKS];
	struct rules_tok ovt[RULES_LINE_TOKS];
};

/* Reads t[0..n); past the end it yields eol (an end-of-line token). */
struct rules_cur {
	const struct rules_tok *t;
	size_t i, n;
	const struct rules_tok *eol;
};

static inline const struct rules_tok *
rules_cpeek(const struct rules_cur *c)
{
	return c->i < c->n ? &c->t[c->i] : c->eol;
}

static inline const struct rules_tok *
rules_cnext(struct rules_cur *c)
{
	const struct rules_tok *t = rules_cpeek(c);

	if (c->i < c->n)
		c->i++;
	return t;
}

static inline int
rules_cat_end(const struct rules_cur *c)
{
	return c->i >= c->n;
}

static inline int
rules_is_word(const struct rules_tok *t, const char *w)
{
	return t->type == RULES_TK_WORD && t->len == strlen(w) && memcmp(t->s, w, t->len) == 0;
}

/* ---- diagnostics: each one ends up in P->errs; P->stop when it is full ---- */

/*
 * Adds msg as is (copied). The error past the cap is "too many errors;
 * stopping"; that, or running out of memory, sets P->stop.
 */
void rules_add_err(struct rules_parser *P, const char *msg);

/*
 * Reports "file:line:col: msg" at t. A token expanded from $NAME points at
 * the reference and names the variable; one from --set names the option.
 * Silent for a RULES_TK_ERROR token (already reported) and once P->stop.
 */
void rules_perr(struct rules_parser *P, const struct rules_tok *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports "out of memory" at t and stops the parse. */
void rules_oom(struct rules_parser *P, const struct rules_tok *t);

/* t quoted for a message: 'text' (shortened, printable) in buf, or "end of line". */
const char *rules_tq(const struct rules_tok *t, char buf[64]);

/* The candidate closest to t (at most 2 edits away, case-insensitive), or NULL. */
const char *rules_suggest(const struct rules_tok *t, const char *const *cands, size_t n);

/* "a, b, c" into buf (truncated to len); returns buf. */
const char *rules_join_names(const char *const *names, size_t n, char *buf, size_t len);

/* ---- lexer and variables ---- */

/*
 * Reads the next logical line into P->line[0..P->nline) and its end into
 * P->eol; 0 at the end of the input (P->lx).
 */
int rules_read_line(struct rules_parser *P);

/* Copies a word into buf; 0, or -1 if it does not fit. */
int rules_tcopy(const struct rules_tok *t, char *buf, size_t len);

/* Index of the variable called name[0..len) in P->vars, or -1. */
int rules_var_find(const struct rules_parser *P, const char *name, size_t len);

/*
 * Copies in[0..n) to out[] (room for RULES_EXPAND_TOKS), replacing each
 * $NAME by the variable's tokens; *nout is the count. At a use site
 * (at_use) the copies remember the reference for messages. Returns -1
 * (reported) when the result would not fit; an unknown variable is
 * reported and left as one RULES_TK_ERROR token.
 */
int rules_expand(struct rules_parser *P, const struct rules_tok *in, size_t n,
    struct rules_tok *out, size_t *nout, int at_use);

/*
 * Tokens joined by single spaces (none before ',' ')' ']' or after '(' '[');
 * malloc'd, or NULL when out of memory or longer than RULES_VAR_TEXT.
 */
char *rules_join_tokens(const struct rules_tok *t, size_t n);

/* Lexes the value of --set i into P->ovt[0..P->novt); problems are reported. */
void rules_lex_override(struct rules_parser *P, int i);

#endif
