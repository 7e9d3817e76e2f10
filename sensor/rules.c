/*
 * rules - see rules.h; the language is documented in rules/README.md.
 *
 * The parser works one logical line at a time: a lexer turns the buffer
 * into tokens that point back into it (so every message can name
 * file:line:col), a line is joined with the next when it ends with "or",
 * "and" or "," or the next line starts with "or"/"and", and each line is
 * either "var", "rule NAME {", an attribute of the open rule, or "}".
 * $NAME references are replaced by the variable's tokens before a value is
 * read, so a variable is re-read as whatever the place it is used expects.
 *
 * It is a fuzz target: no recursion, every loop walks a bounded buffer,
 * every collection has a cap, and on any error everything built so far is
 * freed by ruleset_free().
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

#define RULES_INPUT_MAX		(4u << 20)	/* bytes of rule text */
#define RULES_MAX_RULES		10000
#define RULES_MAX_VARS		500
#define RULES_MAX_ERRORS	100
#define RULES_WORD_MAX		255
#define RULES_STRING_MAX	4096
#define RULES_LINE_TOKS		1024		/* tokens in one logical line as written */
#define RULES_EXPAND_TOKS	4096		/* ... after $VAR expansion */
#define RULES_VAR_TEXT		65536		/* bytes of one variable's value */
#define RULES_MAX_EXCEPT	256		/* except terms in one rule */
#define RULES_SUPPRESS_MAX	(30u * 86400u)
#define RULES_DURATION_MAX	(366u * 86400u)

enum tk {
	TK_EOF, TK_NL, TK_WORD, TK_STRING, TK_VAR, TK_LBRACE, TK_RBRACE, TK_LBRACK,
	TK_RBRACK, TK_LPAREN, TK_RPAREN, TK_COMMA, TK_EQ, TK_TILDE, TK_GT, TK_GE,
	TK_LT, TK_LE, TK_ERROR	/* already reported: later complaints about it are noise */
};

struct tok {
	enum tk type;
	const char *s;		/* text in the buffer or an override value (strings with quotes) */
	unsigned len;
	unsigned line, col;	/* line 0: inside an override value */
	int ov;			/* override the token came from, or -1 */
	int ref_var;		/* variable it was expanded from at a use site, or -1 */
	unsigned ref_line, ref_col;
};

struct lexer {
	const char *p, *end, *bol;
	unsigned line;
	int ov;
};

struct var {
	char name[RULE_NAME_MAX];
	char *text;		/* the value as written, tokens joined by spaces */
	struct tok *toks;
	size_t ntoks;
	int ov;			/* override that replaced the value, or -1 */
	unsigned line;
};

enum {
	A_CATEGORY, A_WHEN, A_HOSTS, A_EXCEPT, A_SEVERITY, A_SCORE, A_MITRE, A_MESSAGE,
	A_SUPPRESS, A_ENABLED, A__COUNT
};

static const char *const attr_names[A__COUNT] = {
	"category", "when", "hosts", "except", "severity", "score", "mitre", "message",
	"suppress", "enabled"
};

/* The rule being read. */
struct rule_build {
	size_t idx;			/* in rs->rules */
	struct tok head;		/* the "rule" keyword: where rule-level messages point */
	unsigned seen[A__COUNT];	/* line each attribute was set on, 0 if not yet */
	int when_bad;
	int head_bad;			/* its "rule" line had errors: skip "missing" noise */
	struct tok msg_tok;
};

struct parser {
	const char *file;
	struct rules_errors *errs;
	int stop;			/* too many errors, rules, or out of memory */
	struct rules_override *ov;
	size_t nov;
	struct var *vars;
	size_t nvars;
	struct ruleset *rs;
	struct lexer lx;
	int in_rule, want_brace;
	struct rule_build b;
	struct tok eol;			/* end of the current logical line */
	size_t nline, nx, novt;
	struct tok line[RULES_LINE_TOKS];
	struct tok xline[RULES_EXPAND_TOKS];
	struct tok ovt[RULES_LINE_TOKS];
};

struct cur {
	const struct tok *t;
	size_t i, n;
	const struct tok *eol;
};

/* ---- errors ---- */

static void
add_err(struct parser *P, const char *msg)
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

static void perr(struct parser *, const struct tok *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Reports msg at t: "file:line:col: msg". A token expanded from $NAME points
 * at the reference and names the variable; one from --set names the option.
 */
static void
perr(struct parser *P, const struct tok *t, const char *fmt, ...)
{
	char msg[600], full[1024];
	va_list ap;

	if (t->type == TK_ERROR || P->stop)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (t->ref_var >= 0) {
		const struct var *v = &P->vars[t->ref_var];
		snprintf(full, sizeof full, "%s:%u:%u: in $%s%s: %s", P->file, t->ref_line,
		    t->ref_col, v->name, v->ov >= 0 ? " (set with --set)" : "", msg);
	} else if (t->ov >= 0) {
		snprintf(full, sizeof full, "<command line>: --set %.64s: %s",
		    P->ov[t->ov].name ? P->ov[t->ov].name : "", msg);
	} else {
		snprintf(full, sizeof full, "%s:%u:%u: %s", P->file, t->line, t->col, msg);
	}
	add_err(P, full);
}

static void
oom(struct parser *P, const struct tok *t)
{
	perr(P, t, "out of memory");
	P->stop = 1;
}

/* t quoted for a message: 'text' (shortened, printable) or "end of line". */
static const char *
tq(const struct tok *t, char buf[64])
{
	size_t n = 0;

	if (t->type == TK_EOF || t->type == TK_NL)
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

static void lex_err(struct parser *, const struct lexer *, const char *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
lex_err(struct parser *P, const struct lexer *lx, const char *at, const char *fmt, ...)
{
	struct tok t = { .type = TK_WORD, .ov = lx->ov, .ref_var = -1 };
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t.line = lx->ov >= 0 ? 0 : lx->line;
	t.col = (unsigned)(at - lx->bol) + 1;
	if (lx->ov >= 0)
		perr(P, &t, "%s (column %u of the value)", msg, t.col);
	else
		perr(P, &t, "%s", msg);
}

/* A "..." string; only \" and \\ escape. Reports one problem per string. */
static enum tk
lex_string(struct parser *P, struct lexer *lx, const char *p)
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
		return TK_ERROR;
	}
	lx->p = ++q;
	if (q - p > RULES_STRING_MAX) {
		lex_err(P, lx, p, "string too long (%zu bytes; at most %d)", (size_t)(q - p),
		    RULES_STRING_MAX);
		return TK_ERROR;
	}
	return bad ? TK_ERROR : TK_STRING;
}

static enum tk
lex_punct(struct parser *P, struct lexer *lx, const char *p)
{
	static const char one[] = "{}[](),=~";
	static const enum tk onet[] = { TK_LBRACE, TK_RBRACE, TK_LBRACK, TK_RBRACK,
	    TK_LPAREN, TK_RPAREN, TK_COMMA, TK_EQ, TK_TILDE };
	unsigned char c = (unsigned char)*p;
	const char *o = c ? strchr(one, c) : NULL;

	lx->p = p + 1;
	if (o != NULL)
		return onet[o - one];
	if (c == '>' || c == '<') {
		int eq = p + 1 < lx->end && p[1] == '=';
		lx->p += eq;
		return c == '>' ? (eq ? TK_GE : TK_GT) : (eq ? TK_LE : TK_LT);
	}
	if (c == '\0')
		lex_err(P, lx, p, "NUL byte in input");
	else if (c >= 0x21 && c < 0x7f)
		lex_err(P, lx, p, "unexpected character '%c'", c);
	else
		lex_err(P, lx, p, "unexpected byte 0x%02x (rules are ASCII outside strings and comments)", c);
	while (c >= 0x80 && lx->p < lx->end && ((unsigned char)*lx->p & 0xc0) == 0x80)
		lx->p++;	/* one message per UTF-8 character */
	return TK_ERROR;
}

static void
lex_next(struct parser *P, struct lexer *lx, struct tok *t)
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
		t->type = TK_EOF;
		lx->p = p;
		return;
	}
	if (*p == '\n') {
		t->type = TK_NL;
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
		t->type = TK_VAR;
		if (q == p + 1) {
			lex_err(P, lx, p, "expected a variable name after '$'");
			t->type = TK_ERROR;
		} else if (q - p > RULE_NAME_MAX) {
			lex_err(P, lx, p, "variable name too long (at most %d characters)", RULE_NAME_MAX - 1);
			t->type = TK_ERROR;
		}
	} else if (is_word_char((unsigned char)*p)) {
		for (q = p; q < e && is_word_char((unsigned char)*q); q++)
			;
		lx->p = q;
		t->type = TK_WORD;
		if (q - p > RULES_WORD_MAX) {
			lex_err(P, lx, p, "word too long (%zu characters; at most %d)", (size_t)(q - p),
			    RULES_WORD_MAX);
			t->type = TK_ERROR;
		}
	} else {
		t->type = lex_punct(P, lx, p);
	}
	t->len = (unsigned)(lx->p - p);
}

static int
is_word(const struct tok *t, const char *w)
{
	return t->type == TK_WORD && t->len == strlen(w) && memcmp(t->s, w, t->len) == 0;
}

/* 1 if the line after the newline at lx->p starts with "or" or "and". */
static int
next_line_continues(const struct lexer *lx)
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
static int
read_line(struct parser *P)
{
	struct tok t;
	int toolong = 0;

	P->nline = 0;
	for (;;) {
		lex_next(P, &P->lx, &t);
		if (t.type == TK_EOF && P->nline == 0)
			return 0;
		if (t.type == TK_NL || t.type == TK_EOF) {
			const struct tok *last = P->nline ? &P->line[P->nline - 1] : NULL;
			if (last == NULL || (t.type == TK_NL && (is_word(last, "or") ||
			    is_word(last, "and") || last->type == TK_COMMA || next_line_continues(&P->lx))))
				continue;
			if (toolong) {
				P->nline = 0;
				toolong = 0;
				if (t.type == TK_EOF)
					return 0;
				continue;
			}
			P->eol = t;
			return 1;
		}
		if (P->nline == RULES_LINE_TOKS) {
			if (!toolong)
				perr(P, &t, "line too long (more than %d tokens)", RULES_LINE_TOKS);
			toolong = 1;
			continue;
		}
		P->line[P->nline++] = t;
	}
}

/* ---- cursor, small helpers ---- */

static const struct tok *
cpeek(const struct cur *c)
{
	return c->i < c->n ? &c->t[c->i] : c->eol;
}

static const struct tok *
cnext(struct cur *c)
{
	const struct tok *t = cpeek(c);

	if (c->i < c->n)
		c->i++;
	return t;
}

static int
cat_end(const struct cur *c)
{
	return c->i >= c->n;
}

/* Copies a word into buf; 0, or -1 if it does not fit. */
static int
tcopy(const struct tok *t, char *buf, size_t len)
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
static const char *
suggest(const struct tok *t, const char *const *cands, size_t n)
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
static const char *
join_names(const char *const *names, size_t n, char *buf, size_t len)
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

/* ---- numbers and units ---- */

static const double pow10s[16] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };

/*
 * The decimal number at the start of t ("1.5" of "1.5GiB"): *v, and in
 * *numlen its length (the rest is a unit). No signs, exponents or hex.
 */
static int
read_number(struct parser *P, const struct tok *t, const char *what, double *v, size_t *numlen)
{
	char qb[64];
	uint64_t m = 0;
	size_t i, digits = 0, frac = 0;
	int dot = 0;

	if (t->type != TK_WORD || !isdigit((unsigned char)t->s[0])) {
		perr(P, t, "expected %s, got %s", what, tq(t, qb));
		return -1;
	}
	for (i = 0; i < t->len; i++) {
		char c = t->s[i];
		if (c == '.' && !dot && i + 1 < t->len && isdigit((unsigned char)t->s[i + 1])) {
			dot = 1;
			continue;
		}
		if (!isdigit((unsigned char)c))
			break;
		if (++digits > 15) {
			perr(P, t, "number %s has too many digits (at most 15)", tq(t, qb));
			return -1;
		}
		m = m * 10 + (uint64_t)(c - '0');
		frac += (size_t)dot;
	}
	for (size_t j = i; j < t->len; j++) {
		if (!isalpha((unsigned char)t->s[j])) {
			perr(P, t, "expected %s, got %s", what, tq(t, qb));
			return -1;
		}
	}
	*v = (double)m / pow10s[frac];
	*numlen = i;
	return 0;
}

/* The unit after a number: its suffix ("500MB") or the next word ("500 MB"). */
static int
take_unit(struct cur *c, const struct tok *num, size_t numlen, struct tok *unit)
{
	const struct tok *n;

	if (numlen < num->len) {
		*unit = *num;
		unit->s += numlen;
		unit->len -= (unsigned)numlen;
		if (unit->ref_var < 0 && unit->line > 0)
			unit->col += (unsigned)numlen;
		return 1;
	}
	n = cpeek(c);
	if (n->type == TK_WORD && isalpha((unsigned char)n->s[0]) && !is_word(n, "and") &&
	    !is_word(n, "or")) {
		*unit = *cnext(c);
		return 1;
	}
	return 0;
}

static int
unit_is(const struct tok *u, const char *name)
{
	return u->len == strlen(name) && strncasecmp(u->s, name, u->len) == 0;
}

/* Sizes: a bare number is bytes; KB.. are powers of 1000, KiB.. of 1024. */
static int
parse_size(struct parser *P, struct cur *c, double *out)
{
	static const struct { const char *u; double mult; } units[] = {
		{ "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
		{ "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
		{ "TiB", 1099511627776.0 } };
	const struct tok *t = cnext(c);
	struct tok u;
	size_t nl;
	char qb[64];
	double v;

	if (read_number(P, t, "a size like 500 MB", &v, &nl) != 0)
		return -1;
	if (!take_unit(c, t, nl, &u)) {
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (unit_is(&u, units[i].u) && u.s[u.len - 1] == 'B') {
			*out = v * units[i].mult;
			return 0;
		}
	}
	if (u.s[u.len - 1] == 'b')
		perr(P, &u, "unknown size unit %s: sizes are in bytes, write B, KB, MB... (a final "
		    "lower-case b would mean bits)", tq(&u, qb));
	else
		perr(P, &u, "unknown size unit %s; expected B, KB, MB, GB, TB (powers of 1000) "
		    "or KiB, MiB, GiB, TiB (powers of 1024)", tq(&u, qb));
	return -1;
}

/* Durations: a number and s/sec, min, h/hour, d/day. */
static int
parse_duration(struct parser *P, struct cur *c, uint32_t *out)
{
	static const struct { const char *u; double mult; } units[] = {
		{ "s", 1 }, { "sec", 1 }, { "secs", 1 }, { "second", 1 }, { "seconds", 1 },
		{ "min", 60 }, { "mins", 60 }, { "minute", 60 }, { "minutes", 60 },
		{ "h", 3600 }, { "hour", 3600 }, { "hours", 3600 },
		{ "d", 86400 }, { "day", 86400 }, { "days", 86400 } };
	const struct tok *t = cnext(c);
	struct tok u;
	size_t nl;
	char qb[64];
	double v;

	if (read_number(P, t, "a duration like 10 min", &v, &nl) != 0)
		return -1;
	if (!take_unit(c, t, nl, &u)) {
		perr(P, t, "%s needs a unit: s, min, h or d (e.g. 10 min)", tq(t, qb));
		return -1;
	}
	if (unit_is(&u, "m")) {
		perr(P, &u, "'m' is ambiguous: write min for minutes");
		return -1;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (!unit_is(&u, units[i].u))
			continue;
		v *= units[i].mult;
		if (v > RULES_DURATION_MAX) {
			perr(P, t, "duration too long (at most 366 d)");
			return -1;
		}
		if (v != (double)(uint32_t)v) {
			perr(P, t, "duration must be a whole number of seconds");
			return -1;
		}
		*out = (uint32_t)v;
		return 0;
	}
	perr(P, &u, "unknown duration unit %s; expected s, min, h or d", tq(&u, qb));
	return -1;
}

/* A plain number (no unit) for counts, ratios, scores. */
static int
parse_plain(struct parser *P, struct cur *c, const char *what, int whole, double *out)
{
	const struct tok *t = cnext(c);
	struct tok u;
	size_t nl;
	char qb[64];

	if (read_number(P, t, what, out, &nl) != 0)
		return -1;
	if (take_unit(c, t, nl, &u)) {
		perr(P, &u, "expected %s without a unit, got %s", what, tq(&u, qb));
		return -1;
	}
	if (whole && *out != (double)(uint64_t)*out) {
		perr(P, t, "expected %s (a whole number), got %s", what, tq(t, qb));
		return -1;
	}
	return 0;
}

/* "90 min", "1 h", "7 d" (compact: "90min"). */
static const char *
fmt_dur(uint32_t s, char *buf, size_t len, int compact)
{
	const char *sp = compact ? "" : " ";

	if (s >= 2 * 86400 && s % 86400 == 0)
		snprintf(buf, len, "%u%sd", s / 86400, sp);
	else if (s > 0 && s % 3600 == 0)
		snprintf(buf, len, "%u%sh", s / 3600, sp);
	else if (s > 0 && s % 60 == 0)
		snprintf(buf, len, "%u%smin", s / 60, sp);
	else
		snprintf(buf, len, "%u%ss", s, sp);
	return buf;
}

/* The largest unit that shows v exactly with at most 3 decimals: "1.5 GiB". */
static const char *
fmt_size(double v, char *buf, size_t len)
{
	static const struct { const char *u; double m; } units[] = {
		{ "TB", 1e12 }, { "TiB", 1099511627776.0 }, { "GB", 1e9 }, { "GiB", 1073741824.0 },
		{ "MB", 1e6 }, { "MiB", 1048576.0 }, { "KB", 1e3 }, { "KiB", 1024.0 } };

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		double q = v / units[i].m * 1000;
		if (v >= units[i].m && q < 1e15 && q == (double)(uint64_t)q) {
			snprintf(buf, len, "%g %s", v / units[i].m, units[i].u);
			return buf;
		}
	}
	snprintf(buf, len, "%.15g B", v);
	return buf;
}

/* ---- lists ---- */

typedef int (*item_fn)(struct parser *, const struct tok *, void *);

/* "(a, b)" or "a, b": item() for each element. */
static int
read_list(struct parser *P, struct cur *c, item_fn item, void *ctx)
{
	const struct tok *t;
	char qb[64];
	int paren = cpeek(c)->type == TK_LPAREN;

	if (paren)
		cnext(c);
	if (paren && cpeek(c)->type == TK_RPAREN) {
		perr(P, cpeek(c), "empty list");
		return -1;
	}
	for (;;) {
		if (item(P, cnext(c), ctx) != 0)
			return -1;
		t = cpeek(c);
		if (t->type == TK_COMMA) {
			cnext(c);
			continue;
		}
		if (!paren)
			return 0;
		if (t->type == TK_RPAREN) {
			cnext(c);
			return 0;
		}
		perr(P, t, "expected ',' or ')' in list, got %s", tq(t, qb));
		return -1;
	}
}

static int
cidr_item(struct parser *P, const struct tok *t, void *ctx)
{
	char item[128], err[200], qb[64];

	if (t->type != TK_WORD) {
		perr(P, t, "expected an address or CIDR prefix like 10.0.0.0/8, got %s", tq(t, qb));
		return -1;
	}
	if (tcopy(t, item, sizeof item) != 0) {
		perr(P, t, "%s is too long for an address or CIDR prefix", tq(t, qb));
		return -1;
	}
	if (netset_add(ctx, item, err, sizeof err) != 0) {
		perr(P, t, "%s", err);
		return -1;
	}
	return 0;
}

static int
parse_cidrs(struct parser *P, struct cur *c, struct netset **out)
{
	if ((*out = netset_new()) == NULL) {
		oom(P, cpeek(c));
		return -1;
	}
	return read_list(P, c, cidr_item, *out);
}

/* The text of a string token (escapes resolved) or a word; malloc'd. */
static char *
tok_text(const struct tok *t)
{
	const char *s = t->s;
	size_t n = t->len, o = 0;
	char *r;

	if (t->type == TK_STRING) {
		s++;
		n -= 2;
	}
	if ((r = malloc(n + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (t->type == TK_STRING && s[i] == '\\' && i + 1 < n)
			i++;
		r[o++] = s[i];
	}
	r[o] = '\0';
	return r;
}

struct name_list {
	struct rule_term *term;
	size_t maxlen;
	const char *what;
};

static int
name_item(struct parser *P, const struct tok *t, void *ctx)
{
	struct name_list *nl = ctx;
	struct rule_term *term = nl->term;
	char qb[64], **names;
	struct rule_pos *pos;
	char *s;

	if (t->type != TK_WORD && t->type != TK_STRING) {
		perr(P, t, "expected %s (a word or a \"quoted string\"), got %s", nl->what, tq(t, qb));
		return -1;
	}
	if ((s = tok_text(t)) == NULL) {
		oom(P, t);
		return -1;
	}
	if (s[0] == '\0' || strlen(s) > nl->maxlen) {
		perr(P, t, "%s must be 1..%zu characters", nl->what, nl->maxlen);
		free(s);
		return -1;
	}
	names = realloc(term->names, (term->nnames + 1) * sizeof *names);
	if (names == NULL) {
		free(s);
		oom(P, t);
		return -1;
	}
	term->names = names;
	pos = realloc(term->pos, (term->nnames + 1) * sizeof *pos);
	if (pos == NULL) {
		free(s);
		oom(P, t);
		return -1;
	}
	term->pos = pos;
	/* A name that came from a $VAR is reported where the variable is used. */
	pos[term->nnames].line = t->ref_var >= 0 || t->line == 0 ? t->ref_line : t->line;
	pos[term->nnames].col = t->ref_var >= 0 || t->line == 0 ? t->ref_col : t->col;
	names[term->nnames++] = s;
	return 0;
}

static int
port_item(struct parser *P, const struct tok *t, void *ctx)
{
	struct rule_term *term = ctx;
	struct cur one = { t, 0, 1, t };
	uint16_t *ports;
	double v;

	if (parse_plain(P, &one, "a port number", 1, &v) != 0)
		return -1;
	if (v < 1 || v > 65535) {
		perr(P, t, "port %g is out of range (1..65535)", v);
		return -1;
	}
	if ((ports = realloc(term->ports, (term->nports + 1) * sizeof *ports)) == NULL) {
		oom(P, t);
		return -1;
	}
	term->ports = ports;
	ports[term->nports++] = (uint16_t)v;
	return 0;
}

/* ---- attributes ---- */

static int
attr_category(struct parser *P, struct rule *r, struct cur *c)
{
	const char *names[CAT__COUNT], *s;
	const struct tok *t = cnext(c);
	char w[64], qb[64], list[400];
	int id;

	for (int i = 0; i < CAT__COUNT; i++)
		names[i] = category_name((enum alert_category)i);
	if (t->type == TK_WORD && tcopy(t, w, sizeof w) == 0 && (id = category_lookup(w)) >= 0) {
		r->category = (enum alert_category)id;
		return 0;
	}
	if (t->type == TK_WORD && (s = suggest(t, names, CAT__COUNT)) != NULL)
		perr(P, t, "unknown category %s; did you mean '%s'?", tq(t, qb), s);
	else
		perr(P, t, "unknown category %s; expected one of: %s", tq(t, qb),
		    join_names(names, CAT__COUNT, list, sizeof list));
	return -1;
}

static int
attr_severity(struct parser *P, struct rule *r, struct cur *c)
{
	const struct tok *t = cnext(c);
	char w[16], qb[64];
	int id;

	if (t->type == TK_WORD && tcopy(t, w, sizeof w) == 0 && (id = severity_lookup(w)) >= 0) {
		r->severity = (enum alert_severity)id;
		return 0;
	}
	perr(P, t, "unknown severity %s; expected low, medium, high or critical", tq(t, qb));
	return -1;
}

static int
attr_score(struct parser *P, struct rule *r, struct cur *c)
{
	const struct tok *t = cpeek(c);
	double v;

	if (parse_plain(P, c, "a score 0..100", 1, &v) != 0)
		return -1;
	if (v > 100) {
		perr(P, t, "score %g is out of range: expected 0..100", v);
		return -1;
	}
	r->score = (uint8_t)v;
	return 0;
}

static int
check_window(struct parser *P, const struct tok *t, const struct metric_def *d, uint32_t w)
{
	char a[32], lo[32], hi[32];

	fmt_dur(w, a, sizeof a, 0);
	if (w < d->min_window_s || w > d->max_window_s) {
		perr(P, t, "window %s is out of range for %s: %s..%s", a, d->name,
		    fmt_dur(d->min_window_s, lo, sizeof lo, 0), fmt_dur(d->max_window_s, hi, sizeof hi, 0));
		return -1;
	}
	/* host.c keeps one-minute buckets for an hour and hourly ones beyond. */
	if ((w <= 3600 && w % 60 != 0) || (w > 3600 && w % 3600 != 0)) {
		perr(P, t, "window %s: use whole minutes up to 60 min or whole hours up to %s", a,
		    fmt_dur(d->max_window_s, hi, sizeof hi, 0));
		return -1;
	}
	return 0;
}

/* metric[window] op value */
static int
parse_cond(struct parser *P, struct cur *c, struct rule_cond *rc)
{
	const char *names[M__COUNT], *s;
	const struct tok *t = cnext(c), *wt;
	const struct metric_def *d;
	char qb[64];
	int id;

	for (int i = 0; i < M__COUNT; i++)
		names[i] = metric_def((enum metric_id)i)->name;
	if (t->type != TK_WORD || (id = metric_lookup(t->s, t->len)) < 0) {
		if (t->type == TK_WORD && (s = suggest(t, names, M__COUNT)) != NULL)
			perr(P, t, "unknown metric %s; did you mean '%s'?", tq(t, qb), s);
		else
			perr(P, t, "expected a metric like host.out.bytes (see rules/README.md), got %s",
			    tq(t, qb));
		return -1;
	}
	d = metric_def((enum metric_id)id);
	rc->metric = (enum metric_id)id;
	rc->window_s = 0;
	if (cpeek(c)->type == TK_LBRACK) {
		cnext(c);
		wt = cpeek(c);
		if (parse_duration(P, c, &rc->window_s) != 0)
			return -1;
		if (d->max_window_s == 0) {
			perr(P, wt, "%s takes no window", d->name);
			return -1;
		}
		if (check_window(P, wt, d, rc->window_s) != 0)
			return -1;
		if ((t = cnext(c))->type != TK_RBRACK) {
			perr(P, t, "expected ']' after the window, got %s", tq(t, qb));
			return -1;
		}
	} else if (d->max_window_s > 0) {
		perr(P, cpeek(c), "%s needs a window, e.g. %s[1h]", d->name, d->name);
		return -1;
	}
	t = cnext(c);
	switch (t->type) {
	case TK_GT: rc->op = RULE_OP_GT; break;
	case TK_GE: rc->op = RULE_OP_GE; break;
	case TK_LT: rc->op = RULE_OP_LT; break;
	case TK_LE: rc->op = RULE_OP_LE; break;
	default:
		perr(P, t, "expected a comparison (>, >=, <, <=) after %s, got %s", d->name, tq(t, qb));
		return -1;
	}
	if (d->unit == MUNIT_BYTES)
		return parse_size(P, c, &rc->value);
	return parse_plain(P, c, d->unit == MUNIT_COUNT ? "a count" : "a ratio",
	    d->unit == MUNIT_COUNT, &rc->value);
}

static int
attr_when(struct parser *P, struct rule *r, struct cur *c)
{
	const struct tok *t;
	char qb[64];

	r->ncond = 0;
	for (;;) {
		if (r->ncond == RULE_MAX_CONDS) {
			perr(P, cpeek(c), "too many conditions (at most %d joined by 'and')", RULE_MAX_CONDS);
			return -1;
		}
		if (parse_cond(P, c, &r->cond[r->ncond]) != 0)
			return -1;
		r->ncond++;
		t = cpeek(c);
		if (cat_end(c))
			return 0;
		if (!is_word(t, "and")) {
			perr(P, t, "expected 'and' or the end of the line after a condition, got %s", tq(t, qb));
			return -1;
		}
		cnext(c);
	}
}

static int
attr_hosts(struct parser *P, struct rule *r, struct cur *c)
{
	return parse_cidrs(P, c, &r->hosts);
}

static int
except_term(struct parser *P, struct rule *r, struct cur *c)
{
	static const char *const kinds[] = { "dest", "server_name", "app", "app_category", "dest_port" };
	const struct tok *t = cnext(c), *op;
	struct rule_term *terms, *term;
	struct name_list nl;
	char qb[64];
	size_t k;

	for (k = 0; k < 5 && !is_word(t, kinds[k]); k++)
		;
	if (k == 5) {
		perr(P, t, "expected an except term (dest in, server_name ~, app in, app_category in, "
		    "dest_port in), got %s", tq(t, qb));
		return -1;
	}
	op = cnext(c);
	if (k == 1 ? op->type != TK_TILDE : !is_word(op, "in")) {
		perr(P, op, "expected '%s' after %s, got %s", k == 1 ? "~" : "in", kinds[k], tq(op, qb));
		return -1;
	}
	if (r->nexcept == RULES_MAX_EXCEPT) {
		perr(P, t, "too many except terms (at most %d)", RULES_MAX_EXCEPT);
		return -1;
	}
	if ((terms = realloc(r->except, (r->nexcept + 1) * sizeof *terms)) == NULL) {
		oom(P, t);
		return -1;
	}
	r->except = terms;
	term = &terms[r->nexcept++];
	memset(term, 0, sizeof *term);
	nl.term = term;
	nl.maxlen = 63;
	switch (k) {
	case 0:
		term->kind = RULE_TERM_DEST_IN;
		return parse_cidrs(P, c, &term->net);
	case 1:
		term->kind = RULE_TERM_SERVER_NAME;
		nl.maxlen = 253;
		nl.what = "a server name pattern";
		return read_list(P, c, name_item, &nl);
	case 2:
	case 3:
		term->kind = k == 2 ? RULE_TERM_APP_IN : RULE_TERM_CATEGORY_IN;
		nl.what = k == 2 ? "an application name" : "an application category";
		return read_list(P, c, name_item, &nl);
	default:
		term->kind = RULE_TERM_PORT_IN;
		return read_list(P, c, port_item, term);
	}
}

static int
attr_except(struct parser *P, struct rule *r, struct cur *c)
{
	const struct tok *t;
	char qb[64];

	for (;;) {
		if (except_term(P, r, c) != 0)
			return -1;
		if (cat_end(c))
			return 0;
		t = cnext(c);
		if (!is_word(t, "or")) {
			perr(P, t, "expected 'or' or the end of the line after an except term, got %s", tq(t, qb));
			return -1;
		}
	}
}

static int
attr_mitre(struct parser *P, struct rule *r, struct cur *c)
{
	const struct tok *t;
	char qb[64];

	r->nmitre = 0;
	do {
		t = cnext(c);
		int ok = t->type == TK_WORD && (t->len == 5 || t->len == 9) && t->s[0] == 'T';
		for (unsigned i = 1; ok && i < t->len; i++)
			ok = i == 5 ? t->s[i] == '.' : isdigit((unsigned char)t->s[i]) != 0;
		if (!ok) {
			perr(P, t, "expected a MITRE ATT&CK technique id like T1048 or T1048.003, got %s",
			    tq(t, qb));
			return -1;
		}
		if (r->nmitre == RULE_MAX_MITRE) {
			perr(P, t, "too many MITRE ids (at most %d)", RULE_MAX_MITRE);
			return -1;
		}
		memcpy(r->mitre[r->nmitre], t->s, t->len);
		r->mitre[r->nmitre++][t->len] = '\0';
		if (cpeek(c)->type == TK_COMMA)
			cnext(c);
	} while (!cat_end(c));
	return 0;
}

static int
attr_message(struct parser *P, struct rule *r, struct cur *c)
{
	const struct tok *t = cnext(c);
	char qb[64];

	if (t->type != TK_STRING) {
		perr(P, t, "expected a message in double quotes, got %s", tq(t, qb));
		return -1;
	}
	if ((r->message = tok_text(t)) == NULL) {
		oom(P, t);
		return -1;
	}
	P->b.msg_tok = *t;
	return 0;
}

static int
attr_suppress(struct parser *P, struct rule *r, struct cur *c)
{
	const struct tok *t = cpeek(c);

	if (parse_duration(P, c, &r->suppress_s) != 0)
		return -1;
	if (r->suppress_s > RULES_SUPPRESS_MAX) {
		perr(P, t, "suppress is too long (at most 30 d)");
		return -1;
	}
	return 0;
}

static int
attr_enabled(struct parser *P, struct rule *r, struct cur *c)
{
	const struct tok *t = cnext(c);
	char qb[64];

	if (is_word(t, "yes") || is_word(t, "no")) {
		r->disabled = is_word(t, "no");
		return 0;
	}
	perr(P, t, "expected yes or no, got %s", tq(t, qb));
	return -1;
}

typedef int (*attr_fn)(struct parser *, struct rule *, struct cur *);
static const attr_fn attr_fns[A__COUNT] = {
	attr_category, attr_when, attr_hosts, attr_except, attr_severity, attr_score,
	attr_mitre, attr_message, attr_suppress, attr_enabled
};

/* ---- variables ---- */

static int
var_find(const struct parser *P, const char *name, size_t len)
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
static int
expand(struct parser *P, const struct tok *in, size_t n, struct tok *out, size_t *nout, int at_use)
{
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tok *t = &in[i], *src = t;
		size_t cnt = 1;
		int v = -1;

		if (t->type == TK_VAR && (v = var_find(P, t->s + 1, t->len - 1)) >= 0) {
			src = P->vars[v].toks;
			cnt = P->vars[v].ntoks;
		}
		if (cnt > RULES_EXPAND_TOKS - *nout) {
			perr(P, t, "too many values (more than %d once variables are expanded)",
			    RULES_EXPAND_TOKS);
			return -1;
		}
		if (t->type == TK_VAR && v < 0) {
			perr(P, t, "unknown variable $%.*s (define it with 'var' before using it)",
			    (int)t->len - 1, t->s + 1);
			out[*nout] = *t;
			out[(*nout)++].type = TK_ERROR;
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
static char *
join_tokens(const struct tok *t, size_t n)
{
	size_t total = 1, o = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		total += t[i].len + 1;
	if (total > RULES_VAR_TEXT || (s = malloc(total)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && t[i].type != TK_COMMA && t[i].type != TK_RPAREN && t[i].type != TK_RBRACK &&
		    t[i - 1].type != TK_LPAREN && t[i - 1].type != TK_LBRACK)
			s[o++] = ' ';
		memcpy(s + o, t[i].s, t[i].len);
		o += t[i].len;
	}
	s[o] = '\0';
	return s;
}

/* Lexes --set value i into P->ovt. */
static void
lex_override(struct parser *P, int i)
{
	const char *val = P->ov[i].value ? P->ov[i].value : "";
	size_t len = strnlen(val, RULES_VAR_TEXT + 1);
	struct lexer lx = { val, val + len, val, 1, i };
	struct tok t;

	P->novt = 0;
	if (len > RULES_VAR_TEXT) {
		lex_err(P, &lx, val, "value too long (at most %d bytes)", RULES_VAR_TEXT);
		return;
	}
	for (;;) {
		lex_next(P, &lx, &t);
		if (t.type == TK_EOF)
			return;
		if (t.type == TK_NL)
			perr(P, &t, "newline in value");
		else if (P->novt == RULES_LINE_TOKS)
			perr(P, &t, "value too long (more than %d tokens)", RULES_LINE_TOKS);
		else {
			P->ovt[P->novt++] = t;
			continue;
		}
		return;
	}
}

static void
set_home_net(struct parser *P, const struct var *v)
{
	struct cur c = { v->toks, 0, v->ntoks, &P->eol };
	char qb[64];

	if (parse_cidrs(P, &c, &P->rs->home_net) != 0)
		return;
	if (!cat_end(&c)) {
		perr(P, cpeek(&c), "unexpected %s in HOME_NET (expected a comma-separated CIDR list)",
		    tq(cpeek(&c), qb));
		return;
	}
	if ((P->rs->home_net_text = strdup(v->text)) == NULL)
		oom(P, &v->toks[0]);
}

static int
valid_var_name(const struct tok *t)
{
	if (t->type != TK_WORD || t->len >= RULE_NAME_MAX ||
	    !(isupper((unsigned char)t->s[0]) || t->s[0] == '_'))
		return 0;
	for (unsigned i = 0; i < t->len; i++)
		if (!isupper((unsigned char)t->s[i]) && !isdigit((unsigned char)t->s[i]) && t->s[i] != '_')
			return 0;
	return 1;
}

/* The last --set naming name (all of them are marked used), or -1. */
static int
override_find(struct parser *P, const char *name)
{
	int found = -1;

	for (size_t i = 0; i < P->nov; i++) {
		if (P->ov[i].name != NULL && strcmp(P->ov[i].name, name) == 0) {
			P->ov[i].used = 1;
			found = (int)i;
		}
	}
	return found;
}

/* var NAME = value */
static void
parse_var(struct parser *P)
{
	const struct tok *name = P->nline > 1 ? &P->line[1] : &P->eol;
	const struct tok *eq = P->nline > 2 ? &P->line[2] : &P->eol;
	struct var v = { .ov = -1 }, *vars;
	size_t errs0 = P->errs->n;
	char qb[64];
	int o, prev;

	if (!valid_var_name(name)) {
		perr(P, name, "expected a variable name (upper-case letters, digits and _, like "
		    "HOME_NET) after 'var', got %s", tq(name, qb));
		return;
	}
	tcopy(name, v.name, sizeof v.name);
	v.line = name->line;
	if ((prev = var_find(P, name->s, name->len)) >= 0) {
		perr(P, name, "variable $%s is already defined at line %u", v.name, P->vars[prev].line);
		return;
	}
	if (P->nvars == RULES_MAX_VARS) {
		perr(P, name, "too many variables (at most %d)", RULES_MAX_VARS);
		return;
	}
	if (eq->type != TK_EQ)
		perr(P, eq, "expected '=' after 'var %s', got %s", v.name, tq(eq, qb));
	else if ((o = override_find(P, v.name)) >= 0) {
		v.ov = o;
		lex_override(P, o);
		if (P->errs->n == errs0 && P->novt == 0)
			perr(P, &(struct tok){ .type = TK_WORD, .ov = o, .ref_var = -1 }, "empty value");
		expand(P, P->ovt, P->novt, P->xline, &P->nx, 0);
	} else if (P->nline == 3)
		perr(P, eq, "'var %s' has no value", v.name);
	else
		expand(P, P->line + 3, P->nline - 3, P->xline, &P->nx, 0);
	if (P->errs->n != errs0 || P->nx == 0) {
		/* Keep the name, so uses of it do not add "unknown variable" noise. */
		P->xline[0] = *name;
		P->xline[0].type = TK_ERROR;
		P->nx = 1;
	} else if ((v.text = join_tokens(P->xline, P->nx)) == NULL) {
		perr(P, name, "value of $%s is too long (at most %d bytes)", v.name, RULES_VAR_TEXT);
		return;
	}
	v.ntoks = P->nx;
	vars = realloc(P->vars, (P->nvars + 1) * sizeof *vars);
	if (vars == NULL || (v.toks = malloc(v.ntoks * sizeof *v.toks)) == NULL) {
		if (vars != NULL)
			P->vars = vars;
		free(v.text);
		oom(P, name);
		return;
	}
	P->vars = vars;
	memcpy(v.toks, P->xline, v.ntoks * sizeof *v.toks);
	vars[P->nvars++] = v;
	if (strcmp(v.name, "HOME_NET") == 0 && v.text != NULL)
		set_home_net(P, &vars[P->nvars - 1]);
}

/* ---- rules ---- */

static int
valid_rule_name(const struct tok *t)
{
	if (t->type != TK_WORD || t->len >= RULE_NAME_MAX)
		return 0;
	for (unsigned i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)t->s[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return 0;
	}
	return 1;
}

/* rule NAME {    ("{" may also stand alone on the next line) */
static void
open_rule(struct parser *P)
{
	const struct tok *name = P->nline > 1 ? &P->line[1] : &P->eol;
	const struct tok *br = P->nline > 2 ? &P->line[2] : &P->eol;
	struct rule *rules, *r;
	char qb[64];

	if (P->rs->nrules == RULES_MAX_RULES) {
		perr(P, &P->line[0], "too many rules (at most %d)", RULES_MAX_RULES);
		P->stop = 1;
		return;
	}
	if ((rules = realloc(P->rs->rules, (P->rs->nrules + 1) * sizeof *rules)) == NULL) {
		oom(P, &P->line[0]);
		return;
	}
	P->rs->rules = rules;
	r = &rules[P->rs->nrules];
	memset(r, 0, sizeof *r);
	memset(&P->b, 0, sizeof P->b);
	P->b.idx = P->rs->nrules++;
	P->b.head = P->line[0];
	r->line = P->line[0].line;
	for (size_t i = 0; i < P->nline; i++)
		P->b.head_bad |= P->line[i].type == TK_ERROR;
	r->suppress_s = 3600;
	P->in_rule = 1;
	if (!valid_rule_name(name)) {
		perr(P, name, "expected a rule name (letters, digits, '_', '.', '-'; at most %d "
		    "characters), got %s", RULE_NAME_MAX - 1, tq(name, qb));
		P->b.head_bad = 1;
		return;
	}
	tcopy(name, r->name, sizeof r->name);
	for (size_t i = 0; i + 1 < P->rs->nrules; i++) {
		if (strcmp(rules[i].name, r->name) == 0) {
			perr(P, name, "duplicate rule name '%s' (first defined at line %u)", r->name,
			    rules[i].line);
			break;
		}
	}
	if (br->type == TK_EOF || br->type == TK_NL)
		P->want_brace = 1;
	else if (br->type != TK_LBRACE)
		perr(P, br, "expected '{' after the rule name, got %s", tq(br, qb));
	else if (P->nline > 3)
		perr(P, &P->line[3], "unexpected %s after '{' (put each attribute on its own line)",
		    tq(&P->line[3], qb));
}

static const char *const placeholders[] = {
	"src_ip", "dest_ip", "dest_port", "server_name", "app", "rule", "category",
	"severity", "window", "value"
};

static int
placeholder_ok(const struct rule *r, const char *s, size_t n, int when_ok, int *metric)
{
	int id;

	*metric = 0;
	for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++)
		if (strlen(placeholders[i]) == n && memcmp(placeholders[i], s, n) == 0)
			return 1;
	if ((id = metric_lookup(s, n)) < 0)
		return 0;
	*metric = 1;
	for (size_t i = 0; i < r->ncond; i++)
		if (r->cond[i].metric == (enum metric_id)id)
			return 1;
	return !when_ok;
}

/* {name} placeholders of the message: known names, metrics of the when clause. */
static void
check_placeholders(struct parser *P, const struct rule *r, const struct tok *t, int when_ok)
{
	char list[300];
	int metric;

	for (unsigned i = 1; i + 1 < t->len; i++) {
		struct tok at = *t;
		unsigned j;

		if (t->s[i] == '\\') {
			i++;
			continue;
		}
		if (t->s[i] != '{')
			continue;
		if (at.ref_var < 0 && at.line > 0)
			at.col += i;
		for (j = i + 1; j + 1 < t->len && t->s[j] != '}' && t->s[j] != '{'; j++)
			;
		if (j + 1 >= t->len || t->s[j] != '}') {
			perr(P, &at, "unclosed '{' in message (placeholders look like {src_ip})");
			return;
		}
		if (!placeholder_ok(r, t->s + i + 1, j - i - 1, when_ok, &metric)) {
			if (metric)
				perr(P, &at, "placeholder {%.*s} names a metric that is not in this rule's "
				    "when clause (its window would be unknown)", (int)(j - i - 1), t->s + i + 1);
			else
				perr(P, &at, "unknown placeholder {%.*s}; expected one of: %s, or a metric of "
				    "the when clause", (int)(j - i - 1 > 40 ? 40 : j - i - 1), t->s + i + 1,
				    join_names(placeholders, sizeof placeholders / sizeof placeholders[0],
				    list, sizeof list));
		}
		i = j;
	}
}

/* "}": required attributes, defaults, placeholders. */
static void
close_rule(struct parser *P)
{
	static const int required[] = { A_CATEGORY, A_WHEN, A_SEVERITY, A_MESSAGE };
	static const uint8_t sev_score[SEV__COUNT] = { 25, 50, 75, 90 };
	struct rule *r = &P->rs->rules[P->b.idx];
	struct rule_build *b = &P->b;

	P->in_rule = 0;
	P->want_brace = 0;
	for (size_t i = 0; i < sizeof required / sizeof required[0] && !b->head_bad; i++)
		if (!b->seen[required[i]])
			perr(P, &b->head, "rule '%s' has no '%s' (required)", r->name,
			    attr_names[required[i]]);
	if (!b->seen[A_SCORE] && (unsigned)r->severity < SEV__COUNT)
		r->score = sev_score[r->severity];
	if (r->message != NULL)
		check_placeholders(P, r, &b->msg_tok, b->seen[A_WHEN] && !b->when_bad);
}

static void
rule_attribute(struct parser *P)
{
	const struct tok *t = &P->line[0];
	struct rule *r = &P->rs->rules[P->b.idx];
	struct cur c = { P->xline, 0, 0, &P->eol };
	const char *s;
	char qb[64];
	int a;

	for (a = 0; a < A__COUNT && !is_word(t, attr_names[a]); a++)
		;
	if (a == A__COUNT) {
		if (t->type == TK_WORD && (s = suggest(t, attr_names, A__COUNT)) != NULL)
			perr(P, t, "unknown attribute %s; did you mean '%s'?", tq(t, qb), s);
		else
			perr(P, t, "unknown attribute %s; expected one of: category, when, hosts, except, "
			    "severity, score, mitre, message, suppress, enabled, or '}'", tq(t, qb));
		return;
	}
	if (a != A_EXCEPT && P->b.seen[a]) {
		perr(P, t, "duplicate '%s' (already set at line %u)", attr_names[a], P->b.seen[a]);
		return;
	}
	P->b.seen[a] = t->line;
	if (expand(P, P->line + 1, P->nline - 1, P->xline, &c.n, 1) != 0) {
		P->b.when_bad |= a == A_WHEN;
		return;
	}
	if (attr_fns[a](P, r, &c) != 0) {
		P->b.when_bad |= a == A_WHEN;
		if (a == A_MESSAGE) {
			free(r->message);
			r->message = NULL;
		}
		return;
	}
	if (!cat_end(&c))
		perr(P, cpeek(&c), "unexpected %s after the value of '%s'", tq(cpeek(&c), qb),
		    attr_names[a]);
}

static void
dispatch(struct parser *P)
{
	const struct tok *t = &P->line[0];
	char qb[64];

	if (P->want_brace) {
		P->want_brace = 0;
		if (t->type == TK_LBRACE && P->nline == 1)
			return;
		perr(P, t, "expected '{' to open rule '%s', got %s", P->rs->rules[P->b.idx].name, tq(t, qb));
	}
	if (is_word(t, "var") || is_word(t, "rule")) {
		if (P->in_rule) {
			perr(P, t, "missing '}' to close rule '%s' (opened at line %u) before '%s'",
			    P->rs->rules[P->b.idx].name, P->b.head.line, is_word(t, "var") ? "var" : "rule");
			P->in_rule = 0;
		}
		if (is_word(t, "var"))
			parse_var(P);
		else
			open_rule(P);
	} else if (!P->in_rule) {
		if (t->type == TK_RBRACE)
			perr(P, t, "unexpected '}': no rule is open");
		else
			perr(P, t, "expected 'rule' or 'var' at the start of a line, got %s", tq(t, qb));
	} else if (t->type == TK_RBRACE) {
		if (P->nline > 1)
			perr(P, &P->line[1], "unexpected %s after '}'", tq(&P->line[1], qb));
		close_rule(P);
	} else {
		rule_attribute(P);
	}
}

/* ---- entry points ---- */

void
ruleset_free(struct ruleset *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->nrules; i++) {
		struct rule *r = &rs->rules[i];
		free(r->message);
		netset_free(r->hosts);
		for (size_t j = 0; j < r->nexcept; j++) {
			struct rule_term *t = &r->except[j];
			netset_free(t->net);
			for (size_t k = 0; k < t->nnames; k++)
				free(t->names[k]);
			free(t->names);
			free(t->pos);
			free(t->ports);
		}
		free(r->except);
	}
	free(rs->rules);
	netset_free(rs->home_net);
	free(rs->home_net_text);
	free(rs->source);
	free(rs);
}

void
rules_errors_free(struct rules_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

static void
parse_all(struct parser *P, const char *buf, size_t len)
{
	P->lx = (struct lexer){ buf, buf + len, buf, 1, -1 };
	P->eol = (struct tok){ .type = TK_EOF, .line = 1, .col = 1, .ov = -1, .ref_var = -1 };
	if (len > RULES_INPUT_MAX) {
		perr(P, &P->eol, "input too large (%zu bytes; at most %u)", len, RULES_INPUT_MAX);
		return;
	}
	while (!P->stop && read_line(P))
		dispatch(P);
	if (P->stop)
		return;
	if (P->in_rule)
		perr(P, &P->b.head, "rule '%s' is not closed: missing '}'", P->rs->rules[P->b.idx].name);
	for (size_t i = 0; i < P->nov; i++) {
		char msg[300];
		if (P->ov[i].used)
			continue;
		snprintf(msg, sizeof msg, "<command line>: --set %.64s: no such variable in %.200s",
		    P->ov[i].name ? P->ov[i].name : "", P->file);
		add_err(P, msg);
	}
}

int
rules_parse(const char *buf, size_t len, const char *file,
    struct rules_override *overrides, size_t noverrides,
    struct ruleset **out, struct rules_errors *errs)
{
	struct rules_errors scratch = { NULL, 0 };
	struct parser *P;
	int rc = -1;

	if (out != NULL)
		*out = NULL;
	if (errs == NULL)
		errs = &scratch;
	errs->msgs = NULL;
	errs->n = 0;
	if (buf == NULL)
		len = 0;
	if (overrides == NULL)
		noverrides = 0;
	for (size_t i = 0; i < noverrides; i++)
		overrides[i].used = 0;
	if ((P = calloc(1, sizeof *P)) == NULL)
		return -1;
	P->file = file ? file : "<input>";
	P->errs = errs;
	P->ov = overrides;
	P->nov = noverrides;
	P->rs = calloc(1, sizeof *P->rs);
	if (P->rs == NULL || (P->rs->source = strdup(P->file)) == NULL)
		add_err(P, "out of memory");
	else
		parse_all(P, buf, len);
	if (errs->n == 0 && !P->stop) {
		if (out != NULL) {
			*out = P->rs;
			P->rs = NULL;
		}
		rc = 0;
	} else if (errs->n == 0) {
		add_err(P, "out of memory");
	}
	ruleset_free(P->rs);
	for (size_t i = 0; i < P->nvars; i++) {
		free(P->vars[i].text);
		free(P->vars[i].toks);
	}
	free(P->vars);
	free(P);
	rules_errors_free(&scratch);
	return rc;
}

int
rules_load(const char *path, struct rules_override *overrides, size_t noverrides,
    struct ruleset **out, struct rules_errors *errs)
{
	char *buf = NULL, msg[512];
	size_t len = 0, cap = 0;
	FILE *f;
	int rc;

	if (out != NULL)
		*out = NULL;
	f = fopen(path, "rb");
	while (f != NULL && !ferror(f) && !feof(f) && len <= RULES_INPUT_MAX) {
		char *nb;
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(buf, cap)) == NULL) {
				errno = ENOMEM;
				break;
			}
			buf = nb;
		}
		len += fread(buf + len, 1, cap - len, f);
	}
	if (f == NULL || ferror(f) || (len <= RULES_INPUT_MAX && !feof(f))) {
		int e = errno;
		if (f != NULL)
			fclose(f);
		free(buf);
		snprintf(msg, sizeof msg, "%.400s: cannot read: %s", path, strerror(e));
		if (errs == NULL)
			return -1;
		errs->msgs = malloc(sizeof *errs->msgs);
		errs->n = 0;
		if (errs->msgs != NULL && (errs->msgs[0] = strdup(msg)) != NULL)
			errs->n = 1;
		return -1;
	}
	fclose(f);
	rc = rules_parse(buf ? buf : "", len, path, overrides, noverrides, out, errs);
	free(buf);
	return rc;
}

void
rule_summary(const struct rule *r, char *buf, size_t len)
{
	static const char *const ops[] = { ">", ">=", "<", "<=" };
	size_t used = 0;
	char a[48], b[48];

#define PUT(...) do { if (used < len) { int w_ = snprintf(buf + used, len - used, __VA_ARGS__); \
	used += w_ > 0 ? (size_t)w_ : 0; } } while (0)
	if (len == 0)
		return;
	buf[0] = '\0';
	PUT("%s  %s  %s/%u", r->name, category_name(r->category), severity_name(r->severity), r->score);
	for (size_t i = 0; i < r->ncond && i < RULE_MAX_CONDS; i++) {
		const struct rule_cond *c = &r->cond[i];
		const struct metric_def *d = metric_def(c->metric);
		PUT("%s%s", i ? " and " : "  when ", d ? d->name : "?");
		if (c->window_s)
			PUT("[%s]", fmt_dur(c->window_s, a, sizeof a, 1));
		if (d != NULL && d->unit == MUNIT_BYTES)
			fmt_size(c->value, b, sizeof b);
		else
			snprintf(b, sizeof b, "%g", c->value);
		PUT(" %s %s", (unsigned)c->op < 4 ? ops[c->op] : "?", b);
	}
	if (r->hosts != NULL)
		PUT("  hosts %zu prefix%s", netset_count(r->hosts), netset_count(r->hosts) == 1 ? "" : "es");
	if (r->nexcept)
		PUT("  except %zu term%s", r->nexcept, r->nexcept == 1 ? "" : "s");
	PUT("  suppress %s", fmt_dur(r->suppress_s, a, sizeof a, 0));
	if (r->disabled)
		PUT("  (disabled)");
#undef PUT
}

/*
 * Iterative glob: on a mismatch, retry from the last '*' one character
 * further. At most O(len(pattern) * len(s)); no exponential backtracking.
 */
int
rules_glob_match(const char *pattern, const char *s)
{
	const char *p = pattern, *star = NULL, *retry = NULL;

	if (pattern == NULL || s == NULL)
		return 0;
	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			retry = s;
		} else if (*p != '\0' && (*p == '?' ||
		    tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++retry;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}
