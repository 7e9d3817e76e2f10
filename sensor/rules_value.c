/*
 * rules_value - numbers with units and lists in rule values (see
 * rules_value.h; the units are documented in rules/README.md).
 *
 * Numbers are read digit by digit (no strtod: no locale, no exponents, no
 * hex), at most 15 significant digits so a value is exact in a double.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_value.h"

#define RULES_DURATION_MAX	(366u * 86400u)

/* ---- numbers and units ---- */

static const double pow10s[16] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };

/*
 * The decimal number at the start of t ("1.5" of "1.5GiB"): *v, and in
 * *numlen its length (the rest is a unit). No signs, exponents or hex.
 */
static int
read_number(struct rules_parser *P, const struct rules_tok *t, const char *what, double *v, size_t *numlen)
{
	char qb[64];
	uint64_t m = 0;
	size_t i, digits = 0, frac = 0;
	int dot = 0;

	if (t->type != RULES_TK_WORD || !isdigit((unsigned char)t->s[0])) {
		rules_perr(P, t, "expected %s, got %s", what, rules_tq(t, qb));
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
			rules_perr(P, t, "number %s has too many digits (at most 15)", rules_tq(t, qb));
			return -1;
		}
		m = m * 10 + (uint64_t)(c - '0');
		frac += (size_t)dot;
	}
	for (size_t j = i; j < t->len; j++) {
		if (!isalpha((unsigned char)t->s[j])) {
			rules_perr(P, t, "expected %s, got %s", what, rules_tq(t, qb));
			return -1;
		}
	}
	*v = (double)m / pow10s[frac];
	*numlen = i;
	return 0;
}

/* The unit after a number: its suffix ("500MB") or the next word ("500 MB"). */
static int
take_unit(struct rules_cur *c, const struct rules_tok *num, size_t numlen, struct rules_tok *unit)
{
	const struct rules_tok *n;

	if (numlen < num->len) {
		*unit = *num;
		unit->s += numlen;
		unit->len -= (unsigned)numlen;
		if (unit->ref_var < 0 && unit->line > 0)
			unit->col += (unsigned)numlen;
		return 1;
	}
	n = rules_cpeek(c);
	if (n->type == RULES_TK_WORD && isalpha((unsigned char)n->s[0]) && !rules_is_word(n, "and") &&
	    !rules_is_word(n, "or")) {
		*unit = *rules_cnext(c);
		return 1;
	}
	return 0;
}

static int
unit_is(const struct rules_tok *u, const char *name)
{
	return u->len == strlen(name) && strncasecmp(u->s, name, u->len) == 0;
}

/* Sizes: a bare number is bytes; KB.. are powers of 1000, KiB.. of 1024. */
int
rules_parse_size(struct rules_parser *P, struct rules_cur *c, double *out)
{
	static const struct { const char *u; double mult; } units[] = {
		{ "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
		{ "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
		{ "TiB", 1099511627776.0 } };
	const struct rules_tok *t = rules_cnext(c);
	struct rules_tok u;
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
		rules_perr(P, &u, "unknown size unit %s: sizes are in bytes, write B, KB, MB... (a final "
		    "lower-case b would mean bits)", rules_tq(&u, qb));
	else
		rules_perr(P, &u, "unknown size unit %s; expected B, KB, MB, GB, TB (powers of 1000) "
		    "or KiB, MiB, GiB, TiB (powers of 1024)", rules_tq(&u, qb));
	return -1;
}

/* Durations: a number and s/sec, min, h/hour, d/day. */
int
rules_parse_duration(struct rules_parser *P, struct rules_cur *c, uint32_t *out)
{
	static const struct { const char *u; double mult; } units[] = {
		{ "s", 1 }, { "sec", 1 }, { "secs", 1 }, { "second", 1 }, { "seconds", 1 },
		{ "min", 60 }, { "mins", 60 }, { "minute", 60 }, { "minutes", 60 },
		{ "h", 3600 }, { "hour", 3600 }, { "hours", 3600 },
		{ "d", 86400 }, { "day", 86400 }, { "days", 86400 } };
	const struct rules_tok *t = rules_cnext(c);
	struct rules_tok u;
	size_t nl;
	char qb[64];
	double v;

	if (read_number(P, t, "a duration like 10 min", &v, &nl) != 0)
		return -1;
	if (!take_unit(c, t, nl, &u)) {
		rules_perr(P, t, "%s needs a unit: s, min, h or d (e.g. 10 min)", rules_tq(t, qb));
		return -1;
	}
	if (unit_is(&u, "m")) {
		rules_perr(P, &u, "'m' is ambiguous: write min for minutes");
		return -1;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (!unit_is(&u, units[i].u))
			continue;
		v *= units[i].mult;
		if (v > RULES_DURATION_MAX) {
			rules_perr(P, t, "duration too long (at most 366 d)");
			return -1;
		}
		if (v != (double)(uint32_t)v) {
			rules_perr(P, t, "duration must be a whole number of seconds");
			return -1;
		}
		*out = (uint32_t)v;
		return 0;
	}
	rules_perr(P, &u, "unknown duration unit %s; expected s, min, h or d", rules_tq(&u, qb));
	return -1;
}

/* A plain number (no unit) for counts, ratios, scores. */
int
rules_parse_plain(struct rules_parser *P, struct rules_cur *c, const char *what, int whole, double *out)
{
	const struct rules_tok *t = rules_cnext(c);
	struct rules_tok u;
	size_t nl;
	char qb[64];

	if (read_number(P, t, what, out, &nl) != 0)
		return -1;
	if (take_unit(c, t, nl, &u)) {
		rules_perr(P, &u, "expected %s without a unit, got %s", what, rules_tq(&u, qb));
		return -1;
	}
	if (whole && *out != (double)(uint64_t)*out) {
		rules_perr(P, t, "expected %s (a whole number), got %s", what, rules_tq(t, qb));
		return -1;
	}
	return 0;
}

/* "90 min", "1 h", "7 d" (compact: "90min"). */
const char *
rules_fmt_dur(uint32_t s, char *buf, size_t len, int compact)
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
const char *
rules_fmt_size(double v, char *buf, size_t len)
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

/* "(a, b)" or "a, b": item() for each element. */
int
rules_read_list(struct rules_parser *P, struct rules_cur *c, rules_item_fn item, void *ctx)
{
	const struct rules_tok *t;
	char qb[64];
	int paren = rules_cpeek(c)->type == RULES_TK_LPAREN;

	if (paren)
		rules_cnext(c);
	if (paren && rules_cpeek(c)->type == RULES_TK_RPAREN) {
		rules_perr(P, rules_cpeek(c), "empty list");
		return -1;
	}
	for (;;) {
		if (item(P, rules_cnext(c), ctx) != 0)
			return -1;
		t = rules_cpeek(c);
		if (t->type == RULES_TK_COMMA) {
			rules_cnext(c);
			continue;
		}
		if (!paren)
			return 0;
		if (t->type == RULES_TK_RPAREN) {
			rules_cnext(c);
			return 0;
		}
		rules_perr(P, t, "expected ',' or ')' in list, got %s", rules_tq(t, qb));
		return -1;
	}
}

static int
cidr_item(struct rules_parser *P, const struct rules_tok *t, void *ctx)
{
	char item[128], err[200], qb[64];

	if (t->type != RULES_TK_WORD) {
		rules_perr(P, t, "expected an address or CIDR prefix like 10.0.0.0/8, got %s", rules_tq(t, qb));
		return -1;
	}
	if (rules_tcopy(t, item, sizeof item) != 0) {
		rules_perr(P, t, "%s is too long for an address or CIDR prefix", rules_tq(t, qb));
		return -1;
	}
	if (netset_add(ctx, item, err, sizeof err) != 0) {
		rules_perr(P, t, "%s", err);
		return -1;
	}
	return 0;
}

int
rules_parse_cidrs(struct rules_parser *P, struct rules_cur *c, struct netset **out)
{
	if ((*out = netset_new()) == NULL) {
		rules_oom(P, rules_cpeek(c));
		return -1;
	}
	return rules_read_list(P, c, cidr_item, *out);
}

/* The text of a string token (escapes resolved) or a word; malloc'd. */
char *
rules_tok_text(const struct rules_tok *t)
{
	const char *s = t->s;
	size_t n = t->len, o = 0;
	char *r;

	if (t->type == RULES_TK_STRING) {
		s++;
		n -= 2;
	}
	if ((r = malloc(n + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (t->type == RULES_TK_STRING && s[i] == '\\' && i + 1 < n)
			i++;
		r[o++] = s[i];
	}
	r[o] = '\0';
	return r;
}

int
rules_name_item(struct rules_parser *P, const struct rules_tok *t, void *ctx)
{
	struct rules_name_list *nl = ctx;
	struct rule_term *term = nl->term;
	char qb[64], **names;
	struct rule_pos *pos;
	char *s;

	if (t->type != RULES_TK_WORD && t->type != RULES_TK_STRING) {
		rules_perr(P, t, "expected %s (a word or a \"quoted string\"), got %s", nl->what, rules_tq(t, qb));
		return -1;
	}
	if ((s = rules_tok_text(t)) == NULL) {
		rules_oom(P, t);
		return -1;
	}
	if (s[0] == '\0' || strlen(s) > nl->maxlen) {
		rules_perr(P, t, "%s must be 1..%zu characters", nl->what, nl->maxlen);
		free(s);
		return -1;
	}
	names = realloc(term->names, (term->nnames + 1) * sizeof *names);
	if (names == NULL) {
		free(s);
		rules_oom(P, t);
		return -1;
	}
	term->names = names;
	pos = realloc(term->pos, (term->nnames + 1) * sizeof *pos);
	if (pos == NULL) {
		free(s);
		rules_oom(P, t);
		return -1;
	}
	term->pos = pos;
	/* A name that came from a $VAR is reported where the variable is used. */
	pos[term->nnames].line = t->ref_var >= 0 || t->line == 0 ? t->ref_line : t->line;
	pos[term->nnames].col = t->ref_var >= 0 || t->line == 0 ? t->ref_col : t->col;
	names[term->nnames++] = s;
	return 0;
}

int
rules_port_item(struct rules_parser *P, const struct rules_tok *t, void *ctx)
{
	struct rule_term *term = ctx;
	struct rules_cur one = { t, 0, 1, t };
	uint16_t *ports;
	double v;

	if (rules_parse_plain(P, &one, "a port number", 1, &v) != 0)
		return -1;
	if (v < 1 || v > 65535) {
		rules_perr(P, t, "port %g is out of range (1..65535)", v);
		return -1;
	}
	if ((ports = realloc(term->ports, (term->nports + 1) * sizeof *ports)) == NULL) {
		rules_oom(P, t);
		return -1;
	}
	term->ports = ports;
	ports[term->nports++] = (uint16_t)v;
	return 0;
}

