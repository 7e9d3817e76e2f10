/*
 * rules_attr - parsers for the attributes of a rule (see rules_attr.h and
 * rules/README.md), one function per attribute, dispatched from a table in
 * the order of enum rules_attr.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rules_attr.h"
#include "rules_value.h"

#define RULES_MAX_EXCEPT	256		/* except terms in one rule */
#define RULES_SUPPRESS_MAX	(30u * 86400u)

const char *const rules_attr_names[RULES_ATTR__COUNT] = {
	"category", "when", "hosts", "except", "severity", "score", "mitre", "message",
	"suppress", "enabled", "only", "offhours"
};

static int
attr_category(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	const char *names[CAT__COUNT], *s;
	const struct rules_tok *t = rules_cnext(c);
	char w[64], qb[64], list[400];
	int id;

	for (int i = 0; i < CAT__COUNT; i++)
		names[i] = category_name((enum alert_category)i);
	if (t->type == RULES_TK_WORD && rules_tcopy(t, w, sizeof w) == 0 && (id = category_lookup(w)) >= 0) {
		r->category = (enum alert_category)id;
		return 0;
	}
	if (t->type == RULES_TK_WORD && (s = rules_suggest(t, names, CAT__COUNT)) != NULL)
		rules_perr(P, t, "unknown category %s; did you mean '%s'?", rules_tq(t, qb), s);
	else
		rules_perr(P, t, "unknown category %s; expected one of: %s", rules_tq(t, qb),
		    rules_join_names(names, CAT__COUNT, list, sizeof list));
	return -1;
}

static int
attr_severity(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	const struct rules_tok *t = rules_cnext(c);
	char w[16], qb[64];
	int id;

	if (t->type == RULES_TK_WORD && rules_tcopy(t, w, sizeof w) == 0 && (id = severity_lookup(w)) >= 0) {
		r->severity = (enum alert_severity)id;
		return 0;
	}
	rules_perr(P, t, "unknown severity %s; expected low, medium, high or critical", rules_tq(t, qb));
	return -1;
}

static int
attr_score(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	const struct rules_tok *t = rules_cpeek(c);
	double v;

	if (rules_parse_plain(P, c, "a score 0..100", 1, &v) != 0)
		return -1;
	if (v > 100) {
		rules_perr(P, t, "score %g is out of range: expected 0..100", v);
		return -1;
	}
	r->score = (uint8_t)v;
	return 0;
}

static int
check_window(struct rules_parser *P, const struct rules_tok *t, const struct metric_def *d, uint32_t w)
{
	char a[32], lo[32], hi[32];

	rules_fmt_dur(w, a, sizeof a, 0);
	if (w < d->min_window_s || w > d->max_window_s) {
		rules_perr(P, t, "window %s is out of range for %s: %s..%s", a, d->name,
		    rules_fmt_dur(d->min_window_s, lo, sizeof lo, 0), rules_fmt_dur(d->max_window_s, hi, sizeof hi, 0));
		return -1;
	}
	/* host.c keeps one-minute buckets for an hour and hourly ones beyond. */
	if ((w <= 3600 && w % 60 != 0) || (w > 3600 && w % 3600 != 0)) {
		rules_perr(P, t, "window %s: use whole minutes up to 60 min or whole hours up to %s", a,
		    rules_fmt_dur(d->max_window_s, hi, sizeof hi, 0));
		return -1;
	}
	return 0;
}

/* metric[window] op value */
static int
parse_cond(struct rules_parser *P, struct rules_cur *c, struct rule_cond *rc)
{
	const char *names[M__COUNT], *s;
	const struct rules_tok *t = rules_cnext(c), *wt;
	const struct metric_def *d;
	char qb[64];
	int id;

	for (int i = 0; i < M__COUNT; i++)
		names[i] = metric_def((enum metric_id)i)->name;
	if (t->type != RULES_TK_WORD || (id = metric_lookup(t->s, t->len)) < 0) {
		if (t->type == RULES_TK_WORD && (s = rules_suggest(t, names, M__COUNT)) != NULL)
			rules_perr(P, t, "unknown metric %s; did you mean '%s'?", rules_tq(t, qb), s);
		else
			rules_perr(P, t, "expected a metric like host.out.bytes (see rules/README.md), got %s",
			    rules_tq(t, qb));
		return -1;
	}
	id = metric_lookup_form(t->s, t->len, rules_cpeek(c)->type == RULES_TK_LBRACK);
	d = metric_def((enum metric_id)id);
	rc->metric = (enum metric_id)id;
	rc->window_s = 0;
	if (rules_cpeek(c)->type == RULES_TK_LBRACK) {
		rules_cnext(c);
		wt = rules_cpeek(c);
		if (rules_parse_duration(P, c, &rc->window_s) != 0)
			return -1;
		if (d->max_window_s == 0) {
			rules_perr(P, wt, "%s takes no window", d->name);
			return -1;
		}
		if (check_window(P, wt, d, rc->window_s) != 0)
			return -1;
		if ((t = rules_cnext(c))->type != RULES_TK_RBRACK) {
			rules_perr(P, t, "expected ']' after the window, got %s", rules_tq(t, qb));
			return -1;
		}
	} else if (d->max_window_s > 0) {
		rules_perr(P, rules_cpeek(c), "%s needs a window, e.g. %s[1h]", d->name, d->name);
		return -1;
	}
	t = rules_cnext(c);
	switch (t->type) {
	case RULES_TK_GT: rc->op = RULE_OP_GT; break;
	case RULES_TK_GE: rc->op = RULE_OP_GE; break;
	case RULES_TK_LT: rc->op = RULE_OP_LT; break;
	case RULES_TK_LE: rc->op = RULE_OP_LE; break;
	default:
		rules_perr(P, t, "expected a comparison (>, >=, <, <=) after %s, got %s", d->name, rules_tq(t, qb));
		return -1;
	}
	if (d->unit == MUNIT_BYTES)
		return rules_parse_size(P, c, &rc->value);
	if (d->unit == MUNIT_DURATION) {
		uint32_t secs;
		if (rules_parse_duration(P, c, &secs) != 0)
			return -1;
		rc->value = secs;
		return 0;
	}
	return rules_parse_plain(P, c, d->unit == MUNIT_COUNT ? "a count" : "a ratio",
	    d->unit == MUNIT_COUNT, &rc->value);
}

static int
attr_when(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	const struct rules_tok *t;
	char qb[64];

	r->ncond = 0;
	for (;;) {
		if (r->ncond == RULE_MAX_CONDS) {
			rules_perr(P, rules_cpeek(c), "too many conditions (at most %d joined by 'and')",
			    RULE_MAX_CONDS);
			return -1;
		}
		if (parse_cond(P, c, &r->cond[r->ncond]) != 0)
			return -1;
		r->ncond++;
		t = rules_cpeek(c);
		if (rules_cat_end(c))
			return 0;
		if (!rules_is_word(t, "and")) {
			rules_perr(P, t, "expected 'and' or the end of the line after a condition, got %s",
			    rules_tq(t, qb));
			return -1;
		}
		rules_cnext(c);
	}
}

static int
attr_hosts(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	return rules_parse_cidrs(P, c, &r->hosts);
}

/* One term of an except or only clause, appended to *terms / *nterms. */
static int
filter_term(struct rules_parser *P, struct rule_term **termsp, size_t *nterms, const char *clause,
    struct rules_cur *c)
{
	static const char *const kinds[] = { "dest", "server_name", "app", "app_category", "dest_port",
	    "risk" };
	const struct rules_tok *t = rules_cnext(c), *op;
	struct rule_term *terms, *term;
	struct rules_name_list nl;
	char qb[64];
	size_t k;

	for (k = 0; k < 6 && !rules_is_word(t, kinds[k]); k++)
		;
	if (k == 6) {
		rules_perr(P, t, "expected an %s term (dest in, server_name ~, app in, app_category in, "
		    "dest_port in, risk in), got %s", clause, rules_tq(t, qb));
		return -1;
	}
	op = rules_cnext(c);
	if (k == 1 ? op->type != RULES_TK_TILDE : !rules_is_word(op, "in")) {
		rules_perr(P, op, "expected '%s' after %s, got %s", k == 1 ? "~" : "in", kinds[k], rules_tq(op, qb));
		return -1;
	}
	if (*nterms == RULES_MAX_EXCEPT) {
		rules_perr(P, t, "too many %s terms (at most %d)", clause, RULES_MAX_EXCEPT);
		return -1;
	}
	if ((terms = realloc(*termsp, (*nterms + 1) * sizeof *terms)) == NULL) {
		rules_oom(P, t);
		return -1;
	}
	*termsp = terms;
	term = &terms[(*nterms)++];
	memset(term, 0, sizeof *term);
	nl.term = term;
	nl.maxlen = 63;
	switch (k) {
	case 0:
		term->kind = RULE_TERM_DEST_IN;
		return rules_parse_cidrs(P, c, &term->net);
	case 1:
		term->kind = RULE_TERM_SERVER_NAME;
		nl.maxlen = 253;
		nl.what = "a server name pattern";
		return rules_read_list(P, c, rules_name_item, &nl);
	case 2:
	case 3:
		term->kind = k == 2 ? RULE_TERM_APP_IN : RULE_TERM_CATEGORY_IN;
		nl.what = k == 2 ? "an application name" : "an application category";
		return rules_read_list(P, c, rules_name_item, &nl);
	case 5:
		/* nDPI risk names, checked against nDPI when the rules are installed. */
		term->kind = RULE_TERM_RISK_IN;
		nl.what = "an nDPI risk name";
		return rules_read_list(P, c, rules_name_item, &nl);
	default:
		term->kind = RULE_TERM_PORT_IN;
		return rules_read_list(P, c, rules_port_item, term);
	}
}

/* term or term or ...: an except or only clause. */
static int
filter_clause(struct rules_parser *P, struct rule_term **terms, size_t *nterms, const char *clause,
    struct rules_cur *c)
{
	const struct rules_tok *t;
	char qb[64];

	for (;;) {
		if (filter_term(P, terms, nterms, clause, c) != 0)
			return -1;
		if (rules_cat_end(c))
			return 0;
		t = rules_cnext(c);
		if (!rules_is_word(t, "or")) {
			rules_perr(P, t, "expected 'or' or the end of the line after an %s term, got %s",
			    clause, rules_tq(t, qb));
			return -1;
		}
	}
}

static int
attr_except(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	return filter_clause(P, &r->except, &r->nexcept, "except", c);
}

/* only: the rule counts just the destinations matching one of these terms. */
static int
attr_only(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	return filter_clause(P, &r->only, &r->nonly, "only", c);
}

static int
attr_mitre(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	const struct rules_tok *t;
	char qb[64];

	r->nmitre = 0;
	do {
		t = rules_cnext(c);
		int ok = t->type == RULES_TK_WORD && (t->len == 5 || t->len == 9) && t->s[0] == 'T';
		for (unsigned i = 1; ok && i < t->len; i++)
			ok = i == 5 ? t->s[i] == '.' : isdigit((unsigned char)t->s[i]) != 0;
		if (!ok) {
			rules_perr(P, t, "expected a MITRE ATT&CK technique id like T1048 or T1048.003, got %s",
			    rules_tq(t, qb));
			return -1;
		}
		if (r->nmitre == RULE_MAX_MITRE) {
			rules_perr(P, t, "too many MITRE ids (at most %d)", RULE_MAX_MITRE);
			return -1;
		}
		memcpy(r->mitre[r->nmitre], t->s, t->len);
		r->mitre[r->nmitre++][t->len] = '\0';
		if (rules_cpeek(c)->type == RULES_TK_COMMA)
			rules_cnext(c);
	} while (!rules_cat_end(c));
	return 0;
}

static int
attr_message(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	const struct rules_tok *t = rules_cnext(c);
	char qb[64];

	if (t->type != RULES_TK_STRING) {
		rules_perr(P, t, "expected a message in double quotes, got %s", rules_tq(t, qb));
		return -1;
	}
	if ((r->message = rules_tok_text(t)) == NULL) {
		rules_oom(P, t);
		return -1;
	}
	P->b.msg_tok = *t;
	return 0;
}

static int
attr_suppress(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	const struct rules_tok *t = rules_cpeek(c);

	if (rules_parse_duration(P, c, &r->suppress_s) != 0)
		return -1;
	if (r->suppress_s > RULES_SUPPRESS_MAX) {
		rules_perr(P, t, "suppress is too long (at most 30 d)");
		return -1;
	}
	return 0;
}

static int
attr_enabled(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	const struct rules_tok *t = rules_cnext(c);
	char qb[64];

	if (rules_is_word(t, "yes") || rules_is_word(t, "no")) {
		r->disabled = rules_is_word(t, "no");
		return 0;
	}
	rules_perr(P, t, "expected yes or no, got %s", rules_tq(t, qb));
	return -1;
}

/*
 * offhours F: outside the ruleset's working hours the rule is F times as
 * sensitive (ATT&CK T1029: transfers scheduled for when nobody watches).
 */
static int
attr_offhours(struct rules_parser *P, struct rule *r, struct rules_cur *c)
{
	const struct rules_tok *t = rules_cpeek(c);
	double v;

	if (rules_parse_plain(P, c, "a weight like 2", 0, &v) != 0)
		return -1;
	if (!(v >= 1 && v <= 100)) {
		rules_perr(P, t, "offhours %g is out of range: expected 1..100", v);
		return -1;
	}
	r->offhours = v;
	r->offhours_pos.line = t->ref_var >= 0 || t->line == 0 ? t->ref_line : t->line;
	r->offhours_pos.col = t->ref_var >= 0 || t->line == 0 ? t->ref_col : t->col;
	return 0;
}

typedef int (*attr_fn)(struct rules_parser *, struct rule *, struct rules_cur *);
static const attr_fn attr_fns[RULES_ATTR__COUNT] = {
	attr_category, attr_when, attr_hosts, attr_except, attr_severity, attr_score,
	attr_mitre, attr_message, attr_suppress, attr_enabled, attr_only, attr_offhours
};

int
rules_attr_parse(struct rules_parser *P, enum rules_attr a, struct rule *r, struct rules_cur *c)
{
	return attr_fns[a](P, r, c);
}
