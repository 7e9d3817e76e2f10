/*
 * rules_lex - tokens, logical lines, diagnostics and $VAR expansion for the
 * rules parser (see rules_lex.h; the language is in rules/README.md).
 *
 * The lexer turns the buffer into tokens that point back into it, so every
 * message can name file:line:col. A logical line is joined with the next
 * when it ends with "or", "and" or "," or the next line starts with
 * "or"/"and". $NAME references are replaced by the variable's tokens before
 * a value is read, so a variable is re-read as whatever the place it is
 * used expects.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_lex.h"

#define RULES_MAX_ERRORS	100
#define RULES_WORD_MAX		255
#define RULES_STRING_MAX	4096

/* ---- errors ---- */

void
rules_add_err(struct rules_parser *P, const char *msg)
{
	char **m;

	if (P->stop)
		return;
	if (P->errs->n == RULES_MAX_ERRORS) {
		msg = "too many errors; stopping";
		P->stop = 1;
	}
	m = realloc(P->errs->msgs, (P->errs->n + 1) * sizeof *m);
	if (m == NULL) {
		P->stop = 1;
		return;
	}
	P->errs->msgs = m;
	if ((m[P->errs->n] = strdup(msg)) == NULL) {
		P->stop = 1;
		return;
	}
	P->errs->n++;
}

/*
 * Reports msg at t: "file:line:col: msg". A token expanded from $NAME points
 * at the reference and names the variable; one from --set names the option.
 */
void
rules_perr(struct rules_parser *P, const struct rules_tok *t, const char *fmt, ...)
{
	char msg[600], full[1024];
	va_list ap;

	if (t->type == RULES_TK_ERROR || P->stop)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (t->ref_var >= 0) {
		const struct rules_var *v = &P->vars[t->ref_var];
		snprintf(full, sizeof full, "%s:%u:%u: in $%s%s: %s", P->file, t->ref_line,
		    t->ref_col, v->name, v->ov >= 0 ? " (set with --set)" : "", msg);
	} else if (t->ov >= 0) {
		snprintf(full, sizeof full, "<command line>: --set %.64s: %s",
		    P->ov[t->ov].name ? P->ov[t->ov].name : "", msg);
	} else {
		snprintf(full, sizeof full, "%s:%u:%u: %s", P->file, t->line, t->col, msg);
	}
	rules_add_err(P, full);
}

void
rules_oom(struct rules_parser *P, const struct rules_tok *t)
{
	rules_perr(P, t, "out of memory");
	P->stop = 1;
}

/* t quoted for a message: 'text' (shortened, printable) or "end of line". */
const char *
rules_tq(const struct rules_tok *t, char buf[64])
{
	size_t n = 0;

	if (t->type == RULES_TK_EOF || t->type == RULES_TK_NL)
		return "end of line";
	buf[n++] = '\'';
	for (unsigned i = 0; i < t->len && n < 44; i++) {
		unsigned char c = (unsigned char)t->s[i];
		buf[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (t->len > 42) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

/* ---- lexer ---- */

static int
is_word_char(int c)
{
	return isalnum(c) || c == '_' || c == '.' || c == '-' || c == ':' || c == '/' ||
	    c == '*' || c == '?';
}

static void lex_err(struct rules_parser *, const struct rules_lexer *, const char *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
lex_err(struct rules_parser *P, const struct rules_lexer *lx, const char *at, const char *fmt, ...)
{
	struct rules_tok t = { .type = RULES_TK_WORD, .ov = lx->ov, .ref_var = -1 };
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t.line = lx->ov >= 0 ? 0 : lx->line;
	t.col = (unsigned)(at - lx->bol) + 1;
	if (lx->ov >= 0)
		rules_perr(P, &t, "%s (column %u of the value)", msg, t.col);
	else
		rules_perr(P, &t, "%s", msg);
}

/* A "..." string; only \" and \\ escape. Reports one problem per string. */
static enum rules_tk
lex_string(struct rules_parser *P, struct rules_lexer *lx, const char *p)
{
	const char *q = p + 1, *e = lx->end;
	int bad = 0;

	while (q < e && *q != '"' && *q != '\n') {
		unsigned char c = (unsigned char)*q;
		if (c == '\\' && q + 1 < e && (q[1] == '"' || q[1] == '\\')) {
			q += 2;
			continue;
		}
		if (!bad && c == '\\')
			lex_err(P, lx, q, "unknown escape in string: only \\\" and \\\\ are allowed");
		else if (!bad && c == '\0')
			lex_err(P, lx, q, "NUL byte in string");
		else if (!bad && ((c < 0x20 && c != '\t') || c == 0x7f))
			lex_err(P, lx, q, "control character 0x%02x in string", c);
		bad |= c == '\\' || c == '\0' || (c < 0x20 && c != '\t') || c == 0x7f;
		q++;
	}
	if (q >= e || *q != '"') {
		lex_err(P, lx, p, "unterminated string: missing closing '\"' on this line");
		lx->p = q;
		return RULES_TK_ERROR;
	}
	lx->p = ++q;
	if (q - p > RULES_STRING_MAX) {
		lex_err(P, lx, p, "string too long (%zu bytes; at most %d)", (size_t)(q - p),
		    RULES_STRING_MAX);
		return RULES_TK_ERROR;
	}
	return bad ? RULES_TK_ERROR : RULES_TK_STRING;
}

static enum rules_tk
lex_punct(struct rules_parser *P, struct rules_lexer *lx, const char *p)
{
	static const char one[] = "{}[](),=~";
	static const enum rules_tk onet[] = { RULES_TK_LBRACE, RULES_TK_RBRACE, RULES_TK_LBRACK, RULES_TK_RBRACK,
	    RULES_TK_LPAREN, RULES_TK_RPAREN, RULES_TK_COMMA, RULES_TK_EQ, RULES_TK_TILDE };
	unsigned char c = (unsigned char)*p;
	const char *o = c ? strchr(one, c) : NULL;

	lx->p = p + 1;
	if (o != NULL)
		return onet[o - one];
	if (c == '>' || c == '<') {
		int eq = p + 1 < lx->end && p[1] == '=';
		lx->p += eq;
		return c == '>' ? (eq ? RULES_TK_GE : RULES_TK_GT) : (eq ? RULES_TK_LE : RULES_TK_LT);
	}
	if (c == '\0')
		lex_err(P, lx, p, "NUL byte in input");
	else if (c >= 0x21 && c < 0x7f)
		lex_err(P, lx, p, "unexpected character '%c'", c);
	else
		lex_err(P, lx, p, "unexpected byte 0x%02x (rules are ASCII outside strings and comments)", c);
	while (c >= 0x80 && lx->p < lx->end && ((unsigned char)*lx->p & 0xc0) == 0x80)
		lx->p++;	/* one message per UTF-8 character */
	return RULES_TK_ERROR;
}

static void
lex_next(struct rules_parser *P, struct rules_lexer *lx, struct rules_tok *t)
{
	const char *p = lx->p, *e = lx->end, *q;

	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	if (p < e && *p == '#') {
		for (; p < e && *p != '\n'; p++)
			if (*p == '\0')
				lex_err(P, lx, p, "NUL byte in comment");
	}
	memset(t, 0, sizeof *t);
	t->ov = lx->ov;
	t->ref_var = -1;
	t->line = lx->ov >= 0 ? 0 : lx->line;
	t->col = (unsigned)(p - lx->bol) + 1;
	t->s = p;
	if (p == e) {
		t->type = RULES_TK_EOF;
		lx->p = p;
		return;
	}
	if (*p == '\n') {
		t->type = RULES_TK_NL;
		lx->p = lx->bol = p + 1;
		lx->line++;
		return;
	}
	if (*p == '"') {
		t->type = lex_string(P, lx, p);
	} else if (*p == '$') {
		for (q = p + 1; q < e && (isalnum((unsigned char)*q) || *q == '_'); q++)
			;
		lx->p = q;
		t->type = RULES_TK_VAR;
		if (q == p + 1) {
			lex_err(P, lx, p, "expected a variable name after '$'");
			t->type = RULES_TK_ERROR;
		} else if (q - p > RULE_NAME_MAX) {
			lex_err(P, lx, p, "variable name too long (at most %d characters)", RULE_NAME_MAX - 1);
			t->type = RULES_TK_ERROR;
		}
	} else if (is_word_char((unsigned char)*p)) {
		for (q = p; q < e && is_word_char((unsigned char)*q); q++)
			;
		lx->p = q;
		t->type = RULES_TK_WORD;
		if (q - p > RULES_WORD_MAX) {
			lex_err(P, lx, p, "word too long (%zu characters; at most %d)", (size_t)(q - p),
			    RULES_WORD_MAX);
			t->type = RULES_TK_ERROR;
		}
	} else {
		t->type = lex_punct(P, lx, p);
	}
	t->len = (unsigned)(lx->p - p);
}

/* 1 if the line after the newline at lx->p starts with "or" or "and". */
static int
next_line_continues(const struct rules_lexer *lx)
{
	const char *p = lx->p, *e = lx->end;
	size_t n;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	for (n = 0; p + n < e && is_word_char((unsigned char)p[n]) && n < 4; n++)
		;
	return (n == 2 && memcmp(p, "or", 2) == 0) || (n == 3 && memcmp(p, "and", 3) == 0);
}

/* Reads the next logical line into P->line; 0 at the end of the input. */
int
rules_read_line(struct rules_parser *P)
{
	struct rules_tok t;
	int toolong = 0;

	P->nline = 0;
	for (;;) {
		lex_next(P, &P->lx, &t);
		if (t.type == RULES_TK_EOF && P->nline == 0)
			return 0;
		if (t.type == RULES_TK_NL || t.type == RULES_TK_EOF) {
			const struct rules_tok *last = P->nline ? &P->line[P->nline - 1] : NULL;
			if (last == NULL || (t.type == RULES_TK_NL && (rules_is_word(last, "or") ||
			    rules_is_word(last, "and") || last->type == RULES_TK_COMMA || next_line_continues(&P->lx))))
				continue;
			if (toolong) {
				P->nline = 0;
				toolong = 0;
				if (t.type == RULES_TK_EOF)
					return 0;
				continue;
			}
			P->eol = t;
			return 1;
		}
		if (P->nline == RULES_LINE_TOKS) {
			if (!toolong)
				rules_perr(P, &t, "line too long (more than %d tokens)", RULES_LINE_TOKS);
			toolong = 1;
			continue;
		}
		P->line[P->nline++] = t;
	}
}

/* ---- small helpers ---- */

/* Copies a word into buf; 0, or -1 if it does not fit. */
int
rules_tcopy(const struct rules_tok *t, char *buf, size_t len)
{
	if (t->len >= len)
		return -1;
	memcpy(buf, t->s, t->len);
	buf[t->len] = '\0';
	return 0;
}

static unsigned
edit_distance(const char *a, size_t la, const char *b)
{
	unsigned row[65];
	size_t lb = strlen(b);

	if (la > 64 || lb > 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned prev = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cur = row[j], best = row[j] + 1;
			unsigned cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (prev + cost < best)
				best = prev + cost;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

/* The candidate closest to t (at most 2 edits away), or NULL. */
const char *
rules_suggest(const struct rules_tok *t, const char *const *cands, size_t n)
{
	const char *best = NULL;
	unsigned bd = 3;

	for (size_t i = 0; i < n; i++) {
		unsigned d = edit_distance(t->s, t->len, cands[i]);
		if (d < bd && d < t->len) {
			bd = d;
			best = cands[i];
		}
	}
	return best;
}

/* "a, b, c" into buf. */
const char *
rules_join_names(const char *const *names, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return buf;
}

/* ---- variables ---- */

int
rules_var_find(const struct rules_parser *P, const char *name, size_t len)
{
	for (size_t i = 0; i < P->nvars; i++)
		if (strlen(P->vars[i].name) == len && memcmp(P->vars[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/*
 * Copies in[] to out[], replacing each $NAME by the variable's tokens. At a
 * use site (at_use) the copies remember the reference for messages.
 */
int
rules_expand(struct rules_parser *P, const struct rules_tok *in, size_t n,
    struct rules_tok *out, size_t *nout, int at_use)
{
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		const struct rules_tok *t = &in[i], *src = t;
		size_t cnt = 1;
		int v = -1;

		if (t->type == RULES_TK_VAR && (v = rules_var_find(P, t->s + 1, t->len - 1)) >= 0) {
			src = P->vars[v].toks;
			cnt = P->vars[v].ntoks;
		}
		if (cnt > RULES_EXPAND_TOKS - *nout) {
			rules_perr(P, t, "too many values (more than %d once variables are expanded)",
			    RULES_EXPAND_TOKS);
			return -1;
		}
		if (t->type == RULES_TK_VAR && v < 0) {
			rules_perr(P, t, "unknown variable $%.*s (define it with 'var' before using it)",
			    (int)t->len - 1, t->s + 1);
			out[*nout] = *t;
			out[(*nout)++].type = RULES_TK_ERROR;
			continue;
		}
		for (size_t j = 0; j < cnt; j++) {
			out[*nout] = src[j];
			if (v >= 0 && at_use) {
				out[*nout].ref_var = v;
				out[*nout].ref_line = t->line;
				out[*nout].ref_col = t->col;
			}
			(*nout)++;
		}
	}
	return 0;
}

/* Tokens joined by single spaces (none before ',' ')' ']' or after '(' '['). */
char *
rules_join_tokens(const struct rules_tok *t, size_t n)
{
	size_t total = 1, o = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		total += t[i].len + 1;
	if (total > RULES_VAR_TEXT || (s = malloc(total)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && t[i].type != RULES_TK_COMMA && t[i].type != RULES_TK_RPAREN &&
		    t[i].type != RULES_TK_RBRACK && t[i - 1].type != RULES_TK_LPAREN && t[i - 1].type != RULES_TK_LBRACK)
			s[o++] = ' ';
		memcpy(s + o, t[i].s, t[i].len);
		o += t[i].len;
	}
	s[o] = '\0';
	return s;
}

/* Lexes --set value i into P->ovt. */
void
rules_lex_override(struct rules_parser *P, int i)
{
	const char *val = P->ov[i].value ? P->ov[i].value : "";
	size_t len = strnlen(val, RULES_VAR_TEXT + 1);
	struct rules_lexer lx = { val, val + len, val, 1, i };
	struct rules_tok t;

	P->novt = 0;
	if (len > RULES_VAR_TEXT) {
		lex_err(P, &lx, val, "value too long (at most %d bytes)", RULES_VAR_TEXT);
		return;
	}
	for (;;) {
		lex_next(P, &lx, &t);
		if (t.type == RULES_TK_EOF)
			return;
		if (t.type == RULES_TK_NL)
			rules_perr(P, &t, "newline in value");
		else if (P->novt == RULES_LINE_TOKS)
			rules_perr(P, &t, "value too long (more than %d tokens)", RULES_LINE_TOKS);
		else {
			P->ovt[P->novt++] = t;
			continue;
		}
		return;
	}
}
