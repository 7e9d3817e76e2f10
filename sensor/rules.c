/*
 * rules - see rules.h; the language is documented in rules/README.md.
 *
 * The parser works one logical line at a time (rules_lex.c joins them), and
 * each line is either "var", "rule NAME {", an attribute of the open rule
 * (read by rules_attr.c), or "}". This file owns that grammar, the
 * variables and their --set overrides, the ruleset's lifecycle and the entry
 * points; values (sizes, durations, lists) are read by rules_value.c.
 *
 * It is a fuzz target: no recursion, every loop walks a bounded buffer,
 * every collection has a cap, and on any error everything built so far is
 * freed by ruleset_free().
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"
#include "rules_attr.h"
#include "rules_lex.h"
#include "rules_value.h"

#define RULES_INPUT_MAX		(4u << 20)	/* bytes of rule text */
#define RULES_MAX_RULES		10000
#define RULES_MAX_VARS		500

/* ---- variables ---- */

static void
set_home_net(struct rules_parser *P, const struct rules_var *v)
{
	struct rules_cur c = { v->toks, 0, v->ntoks, &P->eol };
	char qb[64];

	if (rules_parse_cidrs(P, &c, &P->rs->home_net) != 0)
		return;
	if (!rules_cat_end(&c)) {
		rules_perr(P, rules_cpeek(&c), "unexpected %s in HOME_NET (expected a comma-separated CIDR list)",
		    rules_tq(rules_cpeek(&c), qb));
		return;
	}
	if ((P->rs->home_net_text = strdup(v->text)) == NULL)
		rules_oom(P, &v->toks[0]);
}

static int
valid_var_name(const struct rules_tok *t)
{
	if (t->type != RULES_TK_WORD || t->len >= RULE_NAME_MAX ||
	    !(isupper((unsigned char)t->s[0]) || t->s[0] == '_'))
		return 0;
	for (unsigned i = 0; i < t->len; i++)
		if (!isupper((unsigned char)t->s[i]) && !isdigit((unsigned char)t->s[i]) && t->s[i] != '_')
			return 0;
	return 1;
}

/* The last --set naming name (all of them are marked used), or -1. */
static int
override_find(struct rules_parser *P, const char *name)
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
parse_var(struct rules_parser *P)
{
	const struct rules_tok *name = P->nline > 1 ? &P->line[1] : &P->eol;
	const struct rules_tok *eq = P->nline > 2 ? &P->line[2] : &P->eol;
	struct rules_var v = { .ov = -1 }, *vars;
	size_t errs0 = P->errs->n;
	char qb[64];
	int o, prev;

	if (!valid_var_name(name)) {
		rules_perr(P, name, "expected a variable name (upper-case letters, digits and _, like "
		    "HOME_NET) after 'var', got %s", rules_tq(name, qb));
		return;
	}
	rules_tcopy(name, v.name, sizeof v.name);
	v.line = name->line;
	if ((prev = rules_var_find(P, name->s, name->len)) >= 0) {
		rules_perr(P, name, "variable $%s is already defined at line %u", v.name, P->vars[prev].line);
		return;
	}
	if (P->nvars == RULES_MAX_VARS) {
		rules_perr(P, name, "too many variables (at most %d)", RULES_MAX_VARS);
		return;
	}
	if (eq->type != RULES_TK_EQ)
		rules_perr(P, eq, "expected '=' after 'var %s', got %s", v.name, rules_tq(eq, qb));
	else if ((o = override_find(P, v.name)) >= 0) {
		v.ov = o;
		rules_lex_override(P, o);
		if (P->errs->n == errs0 && P->novt == 0)
			rules_perr(P, &(struct rules_tok){ .type = RULES_TK_WORD, .ov = o, .ref_var = -1 },
			    "empty value");
		rules_expand(P, P->ovt, P->novt, P->xline, &P->nx, 0);
	} else if (P->nline == 3)
		rules_perr(P, eq, "'var %s' has no value", v.name);
	else
		rules_expand(P, P->line + 3, P->nline - 3, P->xline, &P->nx, 0);
	if (P->errs->n != errs0 || P->nx == 0) {
		/* Keep the name, so uses of it do not add "unknown variable" noise. */
		P->xline[0] = *name;
		P->xline[0].type = RULES_TK_ERROR;
		P->nx = 1;
	} else if ((v.text = rules_join_tokens(P->xline, P->nx)) == NULL) {
		rules_perr(P, name, "value of $%s is too long (at most %d bytes)", v.name, RULES_VAR_TEXT);
		return;
	}
	v.ntoks = P->nx;
	vars = realloc(P->vars, (P->nvars + 1) * sizeof *vars);
	if (vars == NULL || (v.toks = malloc(v.ntoks * sizeof *v.toks)) == NULL) {
		if (vars != NULL)
			P->vars = vars;
		free(v.text);
		rules_oom(P, name);
		return;
	}
	P->vars = vars;
	memcpy(v.toks, P->xline, v.ntoks * sizeof *v.toks);
	vars[P->nvars++] = v;
	if (strcmp(v.name, "HOME_NET") == 0 && v.text != NULL)
		set_home_net(P, &vars[P->nvars - 1]);
}

/* ---- working hours ---- */

static const char *const day_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

static int
day_index(const char *s, size_t n)
{
	for (int d = 0; d < 7; d++)
		if (n == 3 && strncasecmp(s, day_names[d], 3) == 0)
			return d;
	return -1;
}

/* "Mon-Fri" or "Sat": the days into *mask (a range may wrap: Sun-Thu, Fri-Mon). */
static int
parse_days(struct rules_parser *P, const struct rules_tok *t, uint8_t *mask)
{
	const char *dash = t->type == RULES_TK_WORD ? memchr(t->s, '-', t->len) : NULL;
	int a, b;
	char qb[64];

	if (t->type != RULES_TK_WORD)
		a = b = -1;
	else if (dash == NULL)
		a = b = day_index(t->s, t->len);
	else {
		a = day_index(t->s, (size_t)(dash - t->s));
		b = day_index(dash + 1, t->len - (size_t)(dash - t->s) - 1);
	}
	if (a < 0 || b < 0) {
		rules_perr(P, t, "expected days like Mon-Fri or Sat (Sun Mon Tue Wed Thu Fri Sat), got %s",
		    rules_tq(t, qb));
		return -1;
	}
	for (int d = a;; d = (d + 1) % 7) {
		*mask |= (uint8_t)(1u << d);
		if (d == b)
			break;
	}
	return 0;
}

static int
hhmm(const char *s, size_t n, uint16_t *out)
{
	if (n != 5 || s[2] != ':')
		return -1;
	for (size_t i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*out = (uint16_t)(h * 60 + m);
	return 0;
}

/* "08:00-18:00" */
static int
parse_hours(struct rules_parser *P, const struct rules_tok *t, struct rule_workhours *wh)
{
	char qb[64];

	if (t->type != RULES_TK_WORD || t->len != 11 || t->s[5] != '-' ||
	    hhmm(t->s, 5, &wh->start_min) != 0 || hhmm(t->s + 6, 5, &wh->end_min) != 0 ||
	    wh->start_min == wh->end_min) {
		rules_perr(P, t, "expected working hours like 08:00-18:00 (24-hour clock, start and end "
		    "differ), got %s", rules_tq(t, qb));
		return -1;
	}
	return 0;
}

/* workhours DAYS[, DAYS...] HH:MM-HH:MM ZONE */
static void
parse_workhours(struct rules_parser *P)
{
	struct rule_workhours wh = { 0 };
	struct rules_cur c = { P->xline, 0, 0, &P->eol };
	const struct rules_tok *t;
	char qb[64];

	if (P->rs->workhours.set) {
		rules_perr(P, &P->line[0], "duplicate 'workhours' (already set at line %u)",
		    P->rs->workhours.line);
		return;
	}
	if (rules_expand(P, P->line + 1, P->nline - 1, P->xline, &c.n, 1) != 0)
		return;
	do {
		if (parse_days(P, rules_cnext(&c), &wh.days) != 0)
			return;
	} while (rules_cpeek(&c)->type == RULES_TK_COMMA && rules_cnext(&c));
	if (parse_hours(P, rules_cnext(&c), &wh) != 0)
		return;
	t = rules_cnext(&c);
	if (t->type != RULES_TK_WORD || t->len > RULES_ZONE_MAX) {
		rules_perr(P, t, "expected a time zone like Europe/Berlin or UTC (IANA name), got %s",
		    rules_tq(t, qb));
		return;
	}
	rules_tcopy(t, wh.zone, sizeof wh.zone);
	wh.zone_pos.line = t->ref_var >= 0 || t->line == 0 ? t->ref_line : t->line;
	wh.zone_pos.col = t->ref_var >= 0 || t->line == 0 ? t->ref_col : t->col;
	if (!rules_cat_end(&c)) {
		rules_perr(P, rules_cpeek(&c), "unexpected %s after the time zone", rules_tq(rules_cpeek(&c), qb));
		return;
	}
	wh.line = P->line[0].line;
	wh.set = 1;
	P->rs->workhours = wh;
}

int
rules_workhours_contains(const struct rule_workhours *wh, int64_t local_s)
{
	int64_t days = (local_s >= 0 ? local_s : local_s - 86399) / 86400;
	int wday = (int)((days % 7 + 7 + 4) % 7);	/* 1970-01-01 was a Thursday */
	int min = (int)((local_s - days * 86400) / 60);

	if (!wh->set)
		return 1;
	if (wh->start_min < wh->end_min)
		return (wh->days >> wday & 1) && min >= wh->start_min && min < wh->end_min;
	/* A night shift: from start on its day, until end the next morning. */
	return ((wh->days >> wday & 1) && min >= wh->start_min) ||
	    ((wh->days >> ((wday + 6) % 7) & 1) && min < wh->end_min);
}

/* ---- rules ---- */

static int
valid_rule_name(const struct rules_tok *t)
{
	if (t->type != RULES_TK_WORD || t->len >= RULE_NAME_MAX)
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
open_rule(struct rules_parser *P)
{
	const struct rules_tok *name = P->nline > 1 ? &P->line[1] : &P->eol;
	const struct rules_tok *br = P->nline > 2 ? &P->line[2] : &P->eol;
	struct rule *rules, *r;
	char qb[64];

	if (P->rs->nrules == RULES_MAX_RULES) {
		rules_perr(P, &P->line[0], "too many rules (at most %d)", RULES_MAX_RULES);
		P->stop = 1;
		return;
	}
	if ((rules = realloc(P->rs->rules, (P->rs->nrules + 1) * sizeof *rules)) == NULL) {
		rules_oom(P, &P->line[0]);
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
		P->b.head_bad |= P->line[i].type == RULES_TK_ERROR;
	r->suppress_s = 3600;
	P->in_rule = 1;
	if (!valid_rule_name(name)) {
		rules_perr(P, name, "expected a rule name (letters, digits, '_', '.', '-'; at most %d "
		    "characters), got %s", RULE_NAME_MAX - 1, rules_tq(name, qb));
		P->b.head_bad = 1;
		return;
	}
	rules_tcopy(name, r->name, sizeof r->name);
	for (size_t i = 0; i + 1 < P->rs->nrules; i++) {
		if (strcmp(rules[i].name, r->name) == 0) {
			rules_perr(P, name, "duplicate rule name '%s' (first defined at line %u)", r->name,
			    rules[i].line);
			break;
		}
	}
	if (br->type == RULES_TK_EOF || br->type == RULES_TK_NL)
		P->want_brace = 1;
	else if (br->type != RULES_TK_LBRACE)
		rules_perr(P, br, "expected '{' after the rule name, got %s", rules_tq(br, qb));
	else if (P->nline > 3)
		rules_perr(P, &P->line[3], "unexpected %s after '{' (put each attribute on its own line)",
		    rules_tq(&P->line[3], qb));
}

static const char *const placeholders[] = {
	"src_ip", "dest_ip", "dest_port", "server_name", "app", "rule", "category",
	"severity", "window", "value", "detail"
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
	/* By name: conn.out.bytes names both its windowed and its total form. */
	for (size_t i = 0; i < r->ncond; i++)
		if (strcmp(metric_def(r->cond[i].metric)->name, metric_def((enum metric_id)id)->name) == 0)
			return 1;
	return !when_ok;
}

/* {name} placeholders of the message: known names, metrics of the when clause. */
static void
check_placeholders(struct rules_parser *P, const struct rule *r, const struct rules_tok *t, int when_ok)
{
	char list[300];
	int metric;

	for (unsigned i = 1; i + 1 < t->len; i++) {
		struct rules_tok at = *t;
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
			rules_perr(P, &at, "unclosed '{' in message (placeholders look like {src_ip})");
			return;
		}
		if (!placeholder_ok(r, t->s + i + 1, j - i - 1, when_ok, &metric)) {
			if (metric)
				rules_perr(P, &at, "placeholder {%.*s} names a metric that is not in this rule's "
				    "when clause (its window would be unknown)", (int)(j - i - 1), t->s + i + 1);
			else
				rules_perr(P, &at, "unknown placeholder {%.*s}; expected one of: %s, or a metric of "
				    "the when clause", (int)(j - i - 1 > 40 ? 40 : j - i - 1), t->s + i + 1,
				    rules_join_names(placeholders, sizeof placeholders / sizeof placeholders[0],
				    list, sizeof list));
		}
		i = j;
	}
}

/* "}": required attributes, defaults, placeholders. */
static void
close_rule(struct rules_parser *P)
{
	static const int required[] = { RULES_ATTR_CATEGORY, RULES_ATTR_WHEN, RULES_ATTR_SEVERITY,
	    RULES_ATTR_MESSAGE };
	static const uint8_t sev_score[SEV__COUNT] = { 25, 50, 75, 90 };
	struct rule *r = &P->rs->rules[P->b.idx];
	struct rules_build *b = &P->b;

	P->in_rule = 0;
	P->want_brace = 0;
	for (size_t i = 0; i < sizeof required / sizeof required[0] && !b->head_bad; i++)
		if (!b->seen[required[i]])
			rules_perr(P, &b->head, "rule '%s' has no '%s' (required)", r->name,
			    rules_attr_names[required[i]]);
	if (!b->seen[RULES_ATTR_SCORE] && (unsigned)r->severity < SEV__COUNT)
		r->score = sev_score[r->severity];
	if (r->message != NULL)
		check_placeholders(P, r, &b->msg_tok, b->seen[RULES_ATTR_WHEN] && !b->when_bad);
}

static void
rule_attribute(struct rules_parser *P)
{
	const struct rules_tok *t = &P->line[0];
	struct rule *r = &P->rs->rules[P->b.idx];
	struct rules_cur c = { P->xline, 0, 0, &P->eol };
	const char *s;
	char qb[64];
	int a;

	for (a = 0; a < RULES_ATTR__COUNT && !rules_is_word(t, rules_attr_names[a]); a++)
		;
	if (a == RULES_ATTR__COUNT) {
		if (t->type == RULES_TK_WORD && (s = rules_suggest(t, rules_attr_names, RULES_ATTR__COUNT)) != NULL)
			rules_perr(P, t, "unknown attribute %s; did you mean '%s'?", rules_tq(t, qb), s);
		else
			rules_perr(P, t, "unknown attribute %s; expected one of: category, when, hosts, only, except, "
			    "severity, score, mitre, message, suppress, enabled, offhours, or '}'", rules_tq(t, qb));
		return;
	}
	if (a != RULES_ATTR_EXCEPT && a != RULES_ATTR_ONLY && P->b.seen[a]) {
		rules_perr(P, t, "duplicate '%s' (already set at line %u)", rules_attr_names[a], P->b.seen[a]);
		return;
	}
	P->b.seen[a] = t->line;
	if (rules_expand(P, P->line + 1, P->nline - 1, P->xline, &c.n, 1) != 0) {
		P->b.when_bad |= a == RULES_ATTR_WHEN;
		return;
	}
	if (rules_attr_parse(P, (enum rules_attr)a, r, &c) != 0) {
		P->b.when_bad |= a == RULES_ATTR_WHEN;
		if (a == RULES_ATTR_MESSAGE) {
			free(r->message);
			r->message = NULL;
		}
		return;
	}
	if (!rules_cat_end(&c))
		rules_perr(P, rules_cpeek(&c), "unexpected %s after the value of '%s'", rules_tq(rules_cpeek(&c), qb),
		    rules_attr_names[a]);
}

static void
dispatch(struct rules_parser *P)
{
	const struct rules_tok *t = &P->line[0];
	char qb[64];

	if (P->want_brace) {
		P->want_brace = 0;
		if (t->type == RULES_TK_LBRACE && P->nline == 1)
			return;
		rules_perr(P, t, "expected '{' to open rule '%s', got %s", P->rs->rules[P->b.idx].name,
		    rules_tq(t, qb));
	}
	if (rules_is_word(t, "var") || rules_is_word(t, "rule") || rules_is_word(t, "workhours")) {
		if (P->in_rule) {
			rules_perr(P, t, "missing '}' to close rule '%s' (opened at line %u) before '%.*s'",
			    P->rs->rules[P->b.idx].name, P->b.head.line, (int)t->len, t->s);
			P->in_rule = 0;
		}
		if (rules_is_word(t, "var"))
			parse_var(P);
		else if (rules_is_word(t, "workhours"))
			parse_workhours(P);
		else
			open_rule(P);
	} else if (!P->in_rule) {
		if (t->type == RULES_TK_RBRACE)
			rules_perr(P, t, "unexpected '}': no rule is open");
		else
			rules_perr(P, t, "expected 'rule', 'var' or 'workhours' at the start of a line, got %s",
			    rules_tq(t, qb));
	} else if (t->type == RULES_TK_RBRACE) {
		if (P->nline > 1)
			rules_perr(P, &P->line[1], "unexpected %s after '}'", rules_tq(&P->line[1], qb));
		close_rule(P);
	} else {
		rule_attribute(P);
	}
}

/* ---- entry points ---- */

static void
rule_terms_free(struct rule_term *terms, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		struct rule_term *t = &terms[j];
		netset_free(t->net);
		for (size_t k = 0; k < t->nnames; k++)
			free(t->names[k]);
		free(t->names);
		free(t->pos);
		free(t->ports);
	}
	free(terms);
}

void
ruleset_free(struct ruleset *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->nrules; i++) {
		struct rule *r = &rs->rules[i];
		free(r->message);
		netset_free(r->hosts);
		rule_terms_free(r->except, r->nexcept);
		rule_terms_free(r->only, r->nonly);
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
parse_all(struct rules_parser *P, const char *buf, size_t len)
{
	P->lx = (struct rules_lexer){ buf, buf + len, buf, 1, -1 };
	P->eol = (struct rules_tok){ .type = RULES_TK_EOF, .line = 1, .col = 1, .ov = -1, .ref_var = -1 };
	if (len > RULES_INPUT_MAX) {
		rules_perr(P, &P->eol, "input too large (%zu bytes; at most %u)", len, RULES_INPUT_MAX);
		return;
	}
	while (!P->stop && rules_read_line(P))
		dispatch(P);
	if (P->stop)
		return;
	if (P->in_rule)
		rules_perr(P, &P->b.head, "rule '%s' is not closed: missing '}'", P->rs->rules[P->b.idx].name);
	for (size_t i = 0; i < P->rs->nrules && !P->rs->workhours.set; i++) {
		const struct rule *r = &P->rs->rules[i];
		char msg[300];
		if (r->offhours == 0)
			continue;
		snprintf(msg, sizeof msg, "%s:%u:%u: rule %s: 'offhours' needs a 'workhours' statement "
		    "(e.g. workhours Mon-Fri 08:00-18:00 Europe/Berlin)", P->file, r->offhours_pos.line,
		    r->offhours_pos.col, r->name);
		rules_add_err(P, msg);
	}
	for (size_t i = 0; i < P->nov; i++) {
		char msg[300];
		if (P->ov[i].used)
			continue;
		snprintf(msg, sizeof msg, "<command line>: --set %.64s: no such variable in %.200s",
		    P->ov[i].name ? P->ov[i].name : "", P->file);
		rules_add_err(P, msg);
	}
}

int
rules_parse(const char *buf, size_t len, const char *file,
    struct rules_override *overrides, size_t noverrides,
    struct ruleset **out, struct rules_errors *errs)
{
	struct rules_errors scratch = { NULL, 0 };
	struct rules_parser *P;
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
		rules_add_err(P, "out of memory");
	else
		parse_all(P, buf, len);
	if (errs->n == 0 && !P->stop) {
		if (out != NULL) {
			*out = P->rs;
			P->rs = NULL;
		}
		rc = 0;
	} else if (errs->n == 0) {
		rules_add_err(P, "out of memory");
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
			PUT("[%s]", rules_fmt_dur(c->window_s, a, sizeof a, 1));
		if (d != NULL && d->unit == MUNIT_BYTES)
			rules_fmt_size(c->value, b, sizeof b);
		else if (d != NULL && d->unit == MUNIT_DURATION)
			rules_fmt_dur((uint32_t)c->value, b, sizeof b, 0);
		else
			snprintf(b, sizeof b, "%g", c->value);
		PUT(" %s %s", (unsigned)c->op < 4 ? ops[c->op] : "?", b);
	}
	if (r->hosts != NULL)
		PUT("  hosts %zu prefix%s", netset_count(r->hosts), netset_count(r->hosts) == 1 ? "" : "es");
	if (r->nonly)
		PUT("  only %zu term%s", r->nonly, r->nonly == 1 ? "" : "s");
	if (r->nexcept)
		PUT("  except %zu term%s", r->nexcept, r->nexcept == 1 ? "" : "s");
	PUT("  suppress %s", rules_fmt_dur(r->suppress_s, a, sizeof a, 0));
	if (r->offhours > 1)
		PUT("  offhours x%g", r->offhours);
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
	/* The common "*.example.com" form: one suffix comparison. */
	if (p[0] == '*' && strpbrk(p + 1, "*?") == NULL) {
		size_t lp = strlen(p + 1), ls = strlen(s);
		return ls >= lp && strcasecmp(s + ls - lp, p + 1) == 0;
	}
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

