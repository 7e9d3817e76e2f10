/*
 * detect - see detect.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "hash.h"
#include "log.h"
#include "names.h"
#include "strcopy.h"
#include "table.h"
#include "tzone.h"

struct eng_key {
	uint64_t rule;		/* hash of the rule name: survives reloads */
	struct ip_addr host, peer;	/* peer all-zero for host-level rules */
	uint64_t sub;		/* a module subject's name and key, hashed; 0 otherwise */
};

struct engaged {
	struct tnode node;
	struct eng_key key;
	uint64_t first_us, last_fire_us, last_true_us;
	uint32_t updates;
	char id[64];
};

/* nDPI ids an app/category except/only term names, resolved once per install. */
struct resolved {
	int *ids;
	size_t n;
	uint8_t tid;		/* which of the rule set's distinct terms this is
				 * (equal terms of other rules share it), or TERM_NOID */
};

/*
 * One target's answers per distinct term, while its rules are checked: the
 * sanctioned networks and names are an except term of most rules, and
 * their globs and prefix lookups are the costliest part of a filter.
 */
#define TERM_MEMO 64
#define TERM_NOID 0xff
struct term_memo {
	uint8_t state[TERM_MEMO];	/* 0: not asked yet, 1: no match, 2: match */
};

/* Per rule: its terms' resolved ids, and the scope its conditions measure. */
struct rule_rt {
	struct resolved *except, *only;
	enum metric_scope scope;	/* MSCOPE_HOST, MSCOPE_DEST or a module's */
	size_t next_in_scope;		/* the next rule of that scope, nrules if none */
	size_t same_filters;		/* the first rule whose except/only clauses
					 * are these, term for term (itself if none) */
};

/* What an except/only term is tested against: a destination or a subject. */
struct term_target {
	const struct ip_addr *peer;	/* NULL: no address */
	const char *name;		/* NULL or "": no name */
	uint16_t app_master, app_proto, app_category, port;
	uint64_t risk;			/* nDPI risk bits */
	int app_done;			/* nDPI is done: ids 0/0 mean "Unknown" */
};

struct detect {
	struct detect_config cfg;
	struct dpi *dpi;
	detect_emit_fn emit;
	void *emit_ctx;
	const struct ruleset *rs;
	struct rule_rt *rt;	/* [rule] */
	uint64_t *rule_hash;	/* [rule] */
	uint8_t scope_used[MSCOPE__COUNT];	/* an enabled rule of the set has this scope */
	size_t scope_first[MSCOPE__COUNT];	/* its first rule (then rt[].next_in_scope), nrules if none */
	const struct detector_ops *ops[MSCOPE__COUNT];	/* registered modules, by scope */
	void *mod[MSCOPE__COUNT];
	struct host_tables *ht;	/* during a tick: destinations' names, host conditions of module rules */
	struct table *eng;
	uint32_t gen;		/* bumped per rule install: invalidates dest exclusion caches */
	struct tzone *tz;	/* the working hours' zone, NULL if the rules set none */
	int off_hours;		/* this tick's packet time is outside the working hours */
	uint64_t seq;
	struct detect_stats st;
};

struct detect *
detect_new(const struct detect_config *cfg, struct dpi *dpi, detect_emit_fn emit,
    void *emit_ctx, char *err, size_t errlen)
{
	struct detect *d = calloc(1, sizeof *d);
	struct table_config tc = {
		.capacity = cfg->max_engaged, .entry_size = sizeof(struct engaged),
		.key_off = offsetof(struct engaged, key), .key_len = sizeof(struct eng_key),
		.nlists = 1, .what = "engaged-alert",
	};

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->cfg = *cfg;
	d->dpi = dpi;
	d->emit = emit;
	d->emit_ctx = emit_ctx;
	if ((d->eng = table_new(&tc, err, errlen)) == NULL) {
		free(d);
		return NULL;
	}
	d->st.max_engaged = cfg->max_engaged;
	return d;
}

static void
resolved_free(struct resolved *res, size_t n)
{
	if (res == NULL)
		return;
	for (size_t t = 0; t < n; t++)
		free(res[t].ids);
	free(res);
}

static void
rt_free(struct rule_rt *rt, const struct ruleset *rs)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rs->nrules; i++) {
		resolved_free(rt[i].except, rs->rules[i].nexcept);
		resolved_free(rt[i].only, rs->rules[i].nonly);
	}
	free(rt);
}

void
detect_free(struct detect *d)
{
	if (d == NULL)
		return;
	if (d->rs)
		rt_free(d->rt, d->rs);
	free(d->rule_hash);
	tzone_free(d->tz);
	table_free(d->eng);
	free(d);
}

void
detect_register(struct detect *d, const struct detector_ops *ops, void *mod)
{
	d->ops[ops->scope] = ops;
	d->mod[ops->scope] = mod;
}

/*
 * Resolves the nDPI names of one except term. Every unknown name is added
 * to err (one "file:line:col: ..." line each); returns the number of them,
 * or -1 out of memory.
 */
static int
resolve_term(struct detect *d, const struct rule *r, const struct rule_term *t,
    struct resolved *out, const char *file, char *err, size_t errlen)
{
	int bad = 0;

	if (t->kind != RULE_TERM_APP_IN && t->kind != RULE_TERM_CATEGORY_IN &&
	    t->kind != RULE_TERM_RISK_IN)
		return 0;
	out->ids = calloc(t->nnames ? t->nnames : 1, sizeof *out->ids);
	if (out->ids == NULL)
		return -1;
	for (size_t i = 0; i < t->nnames; i++) {
		int id = t->kind == RULE_TERM_APP_IN ? dpi_proto_lookup(d->dpi, t->names[i])
		    : t->kind == RULE_TERM_RISK_IN ? dpi_risk_lookup(t->names[i])
		    : dpi_category_lookup(d->dpi, t->names[i]);
		if (id < 0) {
			size_t used = strlen(err);
			snprintf(err + used, errlen - used, "%s%s:%u:%u: rule %s: nDPI knows no %s named '%s'",
			    used ? "\n" : "", file, t->pos ? t->pos[i].line : r->line,
			    t->pos ? t->pos[i].col : 1, r->name,
			    t->kind == RULE_TERM_APP_IN ? "application" :
			    t->kind == RULE_TERM_RISK_IN ? "risk" : "category", t->names[i]);
			bad++;
			continue;
		}
		out->ids[out->n++] = id;
	}
	return bad;
}

/* Resolves every term of one clause into *out; returns unknown names, or -1. */
static int
resolve_terms(struct detect *d, const struct rule *r, const struct rule_term *terms, size_t n,
    struct resolved **out, const char *file, char *err, size_t errlen)
{
	int bad = 0;

	if ((*out = calloc(n ? n : 1, sizeof **out)) == NULL)
		return -1;
	for (size_t t = 0; t < n; t++) {
		int k = resolve_term(d, r, &terms[t], &(*out)[t], file, err, errlen);
		if (k < 0)
			return -1;
		bad += k;
	}
	return bad;
}

static void
add_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
add_err(char *err, size_t errlen, const char *fmt, ...)
{
	size_t used = strlen(err);
	va_list ap;

	if (used && used + 1 < errlen)
		err[used++] = '\n', err[used] = '\0';
	va_start(ap, fmt);
	vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

/*
 * The scope a rule's conditions measure: host conditions may go with
 * destination conditions or with one module's; two non-host scopes cannot
 * be joined (they are about different things). Returns -1 (with a
 * message) for such a rule or one whose module is not built in.
 */
static int
rule_scope(struct detect *d, const struct rule *r, const char *file, enum metric_scope *out,
    char *err, size_t errlen)
{
	enum metric_scope sc = MSCOPE_HOST;

	for (size_t i = 0; i < r->ncond; i++) {
		const struct metric_def *md = metric_def(r->cond[i].metric);
		if (md->scope == MSCOPE_HOST || md->scope == sc)
			continue;
		if (sc != MSCOPE_HOST) {
			add_err(err, errlen, "%s:%u:1: rule %s: %s cannot be joined with %s (they measure "
			    "different things)", file, r->line, r->name, md->name,
			    metric_def(r->cond[0].metric)->name);
			return -1;
		}
		sc = md->scope;
	}
	if (sc != MSCOPE_HOST && sc != MSCOPE_DEST && d->ops[sc] == NULL) {
		add_err(err, errlen, "%s:%u:1: rule %s: no detector computes its metrics in this build",
		    file, r->line, r->name);
		return -1;
	}
	*out = sc;
	return 0;
}

/* The zone of the rules' working hours (NULL and no error if they set none). */
static int
load_zone(const struct ruleset *rs, const char *file, struct tzone **out, char *err, size_t errlen)
{
	char why[512];

	*out = NULL;
	if (!rs->workhours.set)
		return 0;
	if ((*out = tzone_load(NULL, rs->workhours.zone, why, sizeof why)) != NULL)
		return 0;
	add_err(err, errlen, "%s:%u:%u: workhours: %s", file, rs->workhours.zone_pos.line,
	    rs->workhours.zone_pos.col, why);
	return -1;
}

/* The same term: the same answer for every target. */
static int
term_equal(const struct rule_term *a, const struct rule_term *b)
{
	if (a->kind != b->kind || a->nnames != b->nnames || a->nports != b->nports ||
	    (a->nports && memcmp(a->ports, b->ports, a->nports * sizeof a->ports[0]) != 0))
		return 0;
	for (size_t k = 0; k < a->nnames; k++)
		if (strcmp(a->names[k], b->names[k]) != 0)
			return 0;
	return (a->net == NULL) == (b->net == NULL) && (a->net == NULL || netset_equal(a->net, b->net));
}

/* Same terms, same order: the same answer for every target. */
static int
terms_equal(const struct rule_term *a, size_t na, const struct rule_term *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (!term_equal(&a[i], &b[i]))
			return 0;
	return 1;
}

/* Numbers the distinct terms of a rule list: ids[] remembers the first of each. */
static void
term_ids(const struct rule_term *terms, struct resolved *res, size_t n,
    const struct rule_term **ids, size_t *nids)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < *nids && !term_equal(ids[k], &terms[i]))
			k++;
		if (k == *nids && *nids < TERM_MEMO)
			ids[(*nids)++] = &terms[i];
		res[i].tid = k < *nids ? (uint8_t)k : TERM_NOID;
	}
}

int
detect_set_rules(struct detect *d, const struct ruleset *rs, char *err, size_t errlen)
{
	struct tzone *tz = NULL;
	struct rule_rt *rt = calloc(rs->nrules ? rs->nrules : 1, sizeof *rt);
	uint64_t *hashes = calloc(rs->nrules ? rs->nrules : 1, sizeof *hashes);
	const char *file = rs->source ? rs->source : "rules";

	int bad = 0;
	const struct rule_term *tids[TERM_MEMO];
	size_t ntids = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (rt == NULL || hashes == NULL)
		goto oom;
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		int n;
		hashes[i] = hash_bytes(r->name, strlen(r->name), 0);
		if ((n = resolve_terms(d, r, r->except, r->nexcept, &rt[i].except, file, err, errlen)) < 0)
			goto oom;
		bad += n;
		if ((n = resolve_terms(d, r, r->only, r->nonly, &rt[i].only, file, err, errlen)) < 0)
			goto oom;
		bad += n;
		if (rule_scope(d, r, file, &rt[i].scope, err, errlen) != 0)
			bad++;
		term_ids(r->except, rt[i].except, r->nexcept, tids, &ntids);
		term_ids(r->only, rt[i].only, r->nonly, tids, &ntids);
		rt[i].same_filters = i;
		for (size_t j = 0; j < i; j++) {
			const struct rule *o = &rs->rules[j];
			if (terms_equal(r->except, r->nexcept, o->except, o->nexcept) &&
			    terms_equal(r->only, r->nonly, o->only, o->nonly)) {
				rt[i].same_filters = j;
				break;
			}
		}
	}
	if (load_zone(rs, file, &tz, err, errlen) != 0)
		bad++;
	if (bad > 0)
		goto fail;
	if (d->rs)
		rt_free(d->rt, d->rs);
	tzone_free(d->tz);
	d->tz = tz;
	free(d->rule_hash);
	d->rs = rs;
	d->rt = rt;
	d->rule_hash = hashes;
	/* A module's subjects are many and its rules few: each walks its scope's rules only. */
	for (int sc = 0; sc < MSCOPE__COUNT; sc++)
		d->scope_first[sc] = rs->nrules;
	for (size_t i = rs->nrules; i-- > 0;) {
		rt[i].next_in_scope = d->scope_first[rt[i].scope];
		d->scope_first[rt[i].scope] = i;
	}
	memset(d->scope_used, 0, sizeof d->scope_used);
	for (size_t i = 0; i < rs->nrules; i++)
		if (!rs->rules[i].disabled)
			d->scope_used[rt[i].scope] = 1;
	if (++d->gen == 0)
		d->gen = 1;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	tzone_free(tz);
	rt_free(rt, rs);
	free(hashes);
	return -1;
}

static int
ids_has(const struct resolved *r, int id)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->ids[i] == id)
			return 1;
	return 0;
}

/* Does this term match the target? */
static int
term_match(const struct rule_term *t, const struct resolved *rv, const struct term_target *tt)
{
	switch (t->kind) {
	case RULE_TERM_DEST_IN:
		return tt->peer != NULL && netset_contains(t->net, tt->peer);
	case RULE_TERM_SERVER_NAME:
		if (tt->name == NULL || tt->name[0] == '\0')
			return 0;
		for (size_t k = 0; k < t->nnames; k++)
			if (rules_glob_match(t->names[k], tt->name))
				return 1;
		return 0;
	case RULE_TERM_APP_IN:
		if ((tt->app_master && ids_has(rv, tt->app_master)) ||
		    (tt->app_proto && ids_has(rv, tt->app_proto)))
			return 1;
		/* "Unknown" (id 0): nDPI is done and named nothing; a
		 * flow still being inspected is not unknown yet. */
		return tt->app_done && tt->app_master == 0 && tt->app_proto == 0 && ids_has(rv, 0);
	case RULE_TERM_RISK_IN:
		for (size_t k = 0; k < rv->n; k++)
			if ((tt->risk >> rv->ids[k]) & 1)
				return 1;
		return 0;
	case RULE_TERM_CATEGORY_IN:
		return ids_has(rv, tt->app_category);
	case RULE_TERM_PORT_IN:
		for (size_t k = 0; k < t->nports; k++)
			if (t->ports[k] == tt->port)
				return 1;
		return 0;
	}
	return 0;
}

/* Does one of these terms match the target? Each distinct term is asked
 * once per memo. */
static int
terms_match(const struct rule_term *terms, const struct resolved *res, size_t n,
    const struct term_target *tt, struct term_memo *memo)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t tid = res[i].tid, *st = tid != TERM_NOID ? &memo->state[tid] : NULL;
		int m;
		if (st != NULL && *st != 0)
			m = *st == 2;
		else {
			m = term_match(&terms[i], &res[i], tt);
			if (st != NULL)
				*st = m ? 2 : 1;
		}
		if (m)
			return 1;
	}
	return 0;
}

/* Does rule ri leave the target out: an except term matches, or it has
 * only terms and none matches? memo holds this target's answers so far. */
static int
target_excluded(const struct detect *d, size_t ri, const struct term_target *tt,
    struct term_memo *memo)
{
	const struct rule *r = &d->rs->rules[ri];

	if (r->nexcept && terms_match(r->except, d->rt[ri].except, r->nexcept, tt, memo))
		return 1;
	return r->nonly && !terms_match(r->only, d->rt[ri].only, r->nonly, tt, memo);
}

static int
rule_filters(const struct rule *r)
{
	return r->nexcept > 0 || r->nonly > 0;
}

static int
dest_excluded_eval(const struct detect *d, size_t ri, const struct dest *ds, struct term_memo *memo)
{
	struct term_target tt = {
		.peer = &ds->key.peer, .name = host_dest_name(d->ht, ds), .app_master = ds->app_master,
		.app_proto = ds->app_proto, .app_category = ds->app_category, .port = ds->port,
		.risk = ds->app_risk, .app_done = ds->app_done,
	};

	return target_excluded(d, ri, &tt, memo);
}

/*
 * dest_excluded_eval() with a per-destination cache: matching server-name
 * globs against every destination of every changed host on every tick
 * was the largest cost of the whole sensor (profile: 19 % in glob
 * matching alone). A destination's name, application and port rarely
 * change, so its answer for the first 64 rules is kept as a bitmask until
 * they do (host.c clears excl_gen) or the rules are reloaded (d->gen).
 * Most rules share one allow-list (the sanctioned networks and names):
 * those are evaluated once per destination, not once per rule, and a term
 * several different lists have in common once per destination too.
 */
static uint64_t
dest_excl_mask(const struct detect *d, struct dest *ds)
{
	if (ds->excl_gen != d->gen) {
		struct term_memo memo = { { 0 } };
		ds->excl_mask = 0;
		for (size_t i = 0; i < d->rs->nrules && i < 64; i++) {
			size_t same = d->rt[i].same_filters;
			if (same != i)	/* earlier, so already answered */
				ds->excl_mask |= ((ds->excl_mask >> same) & 1) << i;
			else if (rule_filters(&d->rs->rules[i]) && dest_excluded_eval(d, i, ds, &memo))
				ds->excl_mask |= 1ULL << i;
		}
		ds->excl_gen = d->gen;
	}
	return ds->excl_mask;
}

static int
dest_excluded(const struct detect *d, size_t ri, struct dest *ds)
{
	if (!rule_filters(&d->rs->rules[ri]))
		return 0;
	if (ri >= 64) {
		struct term_memo memo = { { 0 } };
		return dest_excluded_eval(d, ri, ds, &memo);
	}
	return (dest_excl_mask(d, ds) >> ri) & 1;
}

/* Which traffic a rule's first condition is about: selects evidence. */
enum family { FAM_EXTERNAL, FAM_INTERNAL, FAM_SERVED };

static enum family
metric_family(enum metric_id m)
{
	switch (m) {
	case M_HOST_INT_IN_BYTES:
	case M_HOST_INT_OUT_BYTES:
		return FAM_INTERNAL;
	case M_HOST_SERVED_OUT_BYTES:
	case M_HOST_SERVED_IN_BYTES:
		return FAM_SERVED;
	default:
		return FAM_EXTERNAL;
	}
}

/* Data pulled in from internal peers: its evidence ranks destinations by bytes in. */
static int
rule_counts_in(const struct rule *r)
{
	return r->cond[0].metric == M_HOST_INT_IN_BYTES;
}

/* Bytes of excluded destinations within a window, to take off host totals. */
struct excluded {
	uint64_t out, in;
};

static struct excluded
excluded_bytes(struct detect *d, struct host_tables *ht, size_t ri, const struct host *h,
    int internal, uint32_t window_s, uint64_t now)
{
	struct excluded x = { 0, 0 };

	if (!rule_filters(&d->rs->rules[ri]))
		return x;
	/* Most hosts have no excepted destination at all: skip the walk. */
	if (ri < 64 && !((internal ? h->excl_int : h->excl_ext) >> ri & 1))
		return x;
	for (struct dest *ds = host_dest_first(ht, h); ds; ds = host_dest_next(ht, ds)) {
		if (ds->peer_internal != internal || !dest_excluded(d, ri, ds))
			continue;
		x.out += dest_window(ht, ds, DC_OUT, window_s, now);
		x.in += dest_window(ht, ds, DC_IN, window_s, now);
	}
	return x;
}

static uint64_t
sub_floor(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static double
ratio(uint64_t out, uint64_t in)
{
	return (double)out / (double)(in ? in : 1);
}

/* The value of one condition for host h (and destination ds for dest metrics). */
static double
cond_value(struct detect *d, struct host_tables *ht, size_t ri, const struct host *h,
    const struct dest *ds, const struct rule_cond *c, uint64_t now)
{
	uint32_t w = c->window_s;
	struct excluded x;

	switch (c->metric) {
	case M_HOST_OUT_BYTES:
	case M_HOST_IN_BYTES:
	case M_HOST_OUT_RATIO:
		x = excluded_bytes(d, ht, ri, h, 0, w, now);
		if (c->metric == M_HOST_OUT_BYTES)
			return (double)sub_floor(host_window(h, HC_OUT, w, now), x.out);
		if (c->metric == M_HOST_IN_BYTES)
			return (double)sub_floor(host_window(h, HC_IN, w, now), x.in);
		return ratio(sub_floor(host_window(h, HC_OUT, w, now), x.out),
		    sub_floor(host_window(h, HC_IN, w, now), x.in));
	case M_HOST_INT_IN_BYTES:
	case M_HOST_INT_OUT_BYTES:
		x = excluded_bytes(d, ht, ri, h, 1, w, now);
		if (c->metric == M_HOST_INT_OUT_BYTES)
			return (double)sub_floor(host_window(h, HC_INT_OUT, w, now), x.out);
		return (double)sub_floor(host_window(h, HC_INT_IN, w, now), x.in);
	case M_HOST_OUT_PEERS:
		return host_peers(h, now);
	case M_HOST_OUT_FLOWS:
		return (double)host_window(h, HC_OUT_FLOWS, w, now);
	case M_HOST_SERVED_OUT_BYTES:
		return (double)host_window(h, HC_SRV_OUT, w, now);
	case M_HOST_SERVED_IN_BYTES:
		return (double)host_window(h, HC_SRV_IN, w, now);
	case M_DEST_OUT_BYTES:
		return ds ? (double)dest_window(ht, ds, DC_OUT, w, now) : 0;
	case M_DEST_IN_BYTES:
		return ds ? (double)dest_window(ht, ds, DC_IN, w, now) : 0;
	case M_DEST_OUT_RATIO:
		return ds ? ratio(dest_window(ht, ds, DC_OUT, w, now), dest_window(ht, ds, DC_IN, w, now)) : 0;
	default:	/* a module's metric: its value() computes it */
		break;
	}
	return 0;
}

/*
 * The rule's off-hours weight now (1: not weighted): outside the working
 * hours, a rule with "offhours F" has its byte thresholds divided by F.
 */
static double
rule_weight(const struct detect *d, const struct rule *r)
{
	return d->off_hours && r->offhours > 1 ? r->offhours : 1;
}

static int
cond_holds(const struct rule_cond *c, double v, double weight)
{
	double th = c->value;

	/* Only byte lower bounds are lowered: "more than X sent" becomes easier. */
	if (weight > 1 && metric_def(c->metric)->unit == MUNIT_BYTES &&
	    (c->op == RULE_OP_GT || c->op == RULE_OP_GE))
		th /= weight;
	switch (c->op) {
	case RULE_OP_GT: return v > th;
	case RULE_OP_GE: return v >= th;
	case RULE_OP_LT: return v < th;
	case RULE_OP_LE: return v <= th;
	}
	return 0;
}

static void
fill_dest(struct detect *d, struct alert_dest *ad, const struct dest *ds, uint32_t w, uint64_t now)
{
	memset(ad, 0, sizeof *ad);
	ad->ip = ds->key.peer;
	ad->port = ds->port;
	ad->l4proto = ds->l4proto;
	dpi_ids_name(d->dpi, ds->app_master, ds->app_proto, ad->app, sizeof ad->app);
	dpi_eve_proto(d->dpi, ds->app_master, ds->app_proto, ad->app_proto, sizeof ad->app_proto);
	str_copy(ad->server_name, sizeof ad->server_name, host_dest_name(d->ht, ds));
	ad->bytes_out = dest_window(d->ht, ds, DC_OUT, w, now);
	ad->bytes_in = dest_window(d->ht, ds, DC_IN, w, now);
	ad->flows = ds->flows;
}

/* Evidence: the host's top destinations of the rule's family in its window. */
static void
collect_dests(struct detect *d, struct host_tables *ht, size_t ri, const struct host *h,
    const struct dest *focus, struct alert *a, uint64_t now)
{
	enum family fam = metric_family(d->rs->rules[ri].cond[0].metric);
	int internal = fam == FAM_INTERNAL;
	/* For data pulled in from internal peers the interesting side is "in". */
	int by_in = rule_counts_in(&d->rs->rules[ri]);
	uint32_t w = a->window_s;

	a->ndests = 0;
	if (focus != NULL)
		fill_dest(d, &a->dests[a->ndests++], focus, w, now);
	if (fam == FAM_SERVED)
		return;
	for (struct dest *ds = host_dest_first(ht, h); ds; ds = host_dest_next(ht, ds)) {
		if (ds == focus || ds->peer_internal != internal || dest_excluded(d, ri, ds))
			continue;
		struct alert_dest cand;
		fill_dest(d, &cand, ds, w, now);
		uint64_t key = by_in ? cand.bytes_in : cand.bytes_out;
		if (key == 0)
			continue;
		/* Insertion into the sorted top list (the focus stays first). */
		size_t lo = focus ? 1 : 0, pos = a->ndests;
		while (pos > lo && key > (by_in ? a->dests[pos - 1].bytes_in : a->dests[pos - 1].bytes_out))
			pos--;
		if (pos >= ALERT_MAX_DESTS)
			continue;
		size_t n = a->ndests < ALERT_MAX_DESTS ? a->ndests : ALERT_MAX_DESTS - 1;
		memmove(&a->dests[pos + 1], &a->dests[pos], (n - pos) * sizeof a->dests[0]);
		a->dests[pos] = cand;
		if (a->ndests < ALERT_MAX_DESTS)
			a->ndests++;
	}
}

static void
fill_totals(struct detect *d, struct host_tables *ht, size_t ri, const struct host *h,
    const struct dest *focus, struct alert *a, uint64_t now)
{
	enum family fam = metric_family(d->rs->rules[ri].cond[0].metric);
	uint32_t w = a->window_s;
	struct excluded x;

	if (focus != NULL) {
		a->bytes_out = dest_window(ht, focus, DC_OUT, w, now);
		a->bytes_in = dest_window(ht, focus, DC_IN, w, now);
	} else if (fam == FAM_SERVED) {
		a->bytes_out = host_window(h, HC_SRV_OUT, w, now);
		a->bytes_in = host_window(h, HC_SRV_IN, w, now);
	} else {
		int internal = fam == FAM_INTERNAL;
		x = excluded_bytes(d, ht, ri, h, internal, w, now);
		a->bytes_out = sub_floor(host_window(h, internal ? HC_INT_OUT : HC_OUT, w, now), x.out);
		a->bytes_in = sub_floor(host_window(h, internal ? HC_INT_IN : HC_IN, w, now), x.in);
	}
}

/* Evidence: the destination's open flow and the last one that ended. */
static void
dest_flows(const struct host_tables *ht, const struct dpi *dpi, const struct dest *ds, struct alert *a)
{
	const struct flow *f = host_dest_live_flow(ht, ds);
	char app[48];

	if (f != NULL)
		alert_add_flow(a, f, dpi_app_name(dpi, f, app, sizeof app), names_str(host_names(ht), f->name));
	if (ds->ended.first_us != 0 && (f == NULL || ds->ended.first_us != f->first_us)) {
		struct alert_flow af;
		memset(&af, 0, sizeof af);
		af.src = host_dest_host(ht, ds)->addr;
		af.dst = ds->key.peer;
		af.sport = ds->ended.sport;
		af.dport = ds->ended.dport;
		af.l4proto = ds->ended.l4proto;
		af.first_us = ds->ended.first_us;
		af.last_us = ds->ended.last_us;
		af.bytes_out = ds->ended.out;
		af.bytes_in = ds->ended.in;
		dpi_ids_name(dpi, ds->app_master, ds->app_proto, af.app, sizeof af.app);
		str_copy(af.server_name, sizeof af.server_name, host_dest_name(ht, ds));
		alert_add_flow_rec(a, &af);
	}
}

void
detect_pair_flows(struct host_tables *ht, const struct dpi *dpi, const struct ip_addr *host,
    const struct ip_addr *peer, struct alert *a)
{
	const struct dest *ds = host_dest_lookup(ht, host, peer);

	if (ds != NULL)
		dest_flows(ht, dpi, ds, a);
}

/*
 * A module alert's flows: those of the destinations it lists first (the
 * alert's main flow is its first destination's), then the ones the module
 * added itself, without repeats.
 */
static void
subject_flows(struct detect *d, struct alert *a)
{
	struct alert_flow own[ALERT_MAX_FLOWS];
	size_t nown = a->nflows;

	memcpy(own, a->flows, nown * sizeof own[0]);
	a->nflows = 0;
	for (size_t i = 0; i < a->ndests && a->nflows < ALERT_MAX_FLOWS; i++)
		detect_pair_flows(d->ht, d->dpi, &a->src, &a->dests[i].ip, a);
	for (size_t i = 0; i < nown && a->nflows < ALERT_MAX_FLOWS; i++) {
		size_t k;
		for (k = 0; k < a->nflows; k++)
			if (strcmp(a->flows[k].community_id, own[i].community_id) == 0 &&
			    a->flows[k].first_us == own[i].first_us)
				break;
		if (k == a->nflows)
			a->flows[a->nflows++] = own[i];
	}
}

/* The flows behind the alert's destinations, in the order they are listed. */
static void
collect_flows(struct detect *d, struct host_tables *ht, const struct host *h,
    const struct dest *focus, struct alert *a)
{
	for (size_t i = 0; i < a->ndests && a->nflows < ALERT_MAX_FLOWS; i++) {
		const struct dest *ds = i == 0 && focus != NULL ? focus : NULL;
		for (struct dest *x = host_dest_first(ht, h); ds == NULL && x; x = host_dest_next(ht, x))
			if (addr_eq(&x->key.peer, &a->dests[i].ip))
				ds = x;
		if (ds != NULL)
			dest_flows(ht, d->dpi, ds, a);
	}
}

/* The host's top applications by bytes sent (space-saving counts, since first seen). */
static void
collect_apps(struct detect *d, const struct host *h, struct alert *a)
{
	const struct host_app *top[ALERT_MAX_APPS];
	size_t n = 0;

	for (int i = 0; i < HOST_APPS; i++) {
		const struct host_app *ap = &h->apps[i];
		if ((ap->out | ap->in) == 0)
			continue;
		size_t pos = n < ALERT_MAX_APPS ? n : ALERT_MAX_APPS;
		while (pos > 0 && ap->out > top[pos - 1]->out)
			pos--;
		if (pos >= ALERT_MAX_APPS)
			continue;
		size_t keep = n < ALERT_MAX_APPS ? n : ALERT_MAX_APPS - 1;
		memmove(&top[pos + 1], &top[pos], (keep - pos) * sizeof top[0]);
		top[pos] = ap;
		if (n < ALERT_MAX_APPS)
			n++;
	}
	for (size_t i = 0; i < n; i++) {
		dpi_ids_name(d->dpi, top[i]->master, top[i]->app, a->apps[i].app, sizeof a->apps[i].app);
		a->apps[i].bytes_out = top[i]->out;
		a->apps[i].bytes_in = top[i]->in;
	}
	a->napps = n;
}

/* Engagement bookkeeping; returns the entry to alert on, or NULL if suppressed. */
static struct engaged *
engage(struct detect *d, const struct rule *r, const struct eng_key *kp, uint64_t now,
    enum alert_state *state)
{
	struct eng_key k = *kp;
	uint64_t sup = (uint64_t)r->suppress_s * 1000000u;
	uint32_t hash;
	struct engaged *e;

	hash = (uint32_t)hash_mix64(k.rule ^ addr_hash(&k.host, d->cfg.seed) ^
	    addr_hash(&k.peer, d->cfg.seed + 3) ^ k.sub);
	e = table_lookup(d->eng, &k, hash);
	/* Quiet for longer than the suppress time: the old engagement is over. */
	if (e != NULL && now > e->last_true_us + sup) {
		table_del(d->eng, e);
		e = NULL;
	}
	if (e == NULL) {
		if (table_full(d->eng)) {
			table_del(d->eng, table_head(d->eng, 0));
			d->st.engaged_evicted++;
		}
		e = table_add(d->eng, &k, hash, 0);
		e->first_us = e->last_fire_us = e->last_true_us = now;
		*state = ALERT_NEW;
		return e;
	}
	e->last_true_us = now;
	table_touch(d->eng, e, -1);
	if (now >= e->last_fire_us + sup && sup > 0) {
		e->last_fire_us = now;
		e->updates++;
		*state = ALERT_UPDATE;
		return e;
	}
	d->st.suppressed++;
	return NULL;
}

/*
 * The common head of every alert: engagement (NULL if suppressed), ids,
 * rule, host, window, values. The alert is zeroed first.
 */
static struct engaged *
alert_begin(struct detect *d, size_t ri, const struct eng_key *k, const double *values,
    uint64_t now, struct alert *a)
{
	const struct rule *r = &d->rs->rules[ri];
	enum alert_state state;
	struct engaged *e = engage(d, r, k, now, &state);

	if (e == NULL)
		return NULL;
	memset(a, 0, sizeof *a);
	a->ts_us = now;
	a->sensor = d->cfg.sensor_name;
	a->rule = r;
	a->score = r->score;
	if (rule_weight(d, r) > 1) {	/* off hours (T1029): weighted score, capped */
		double w = r->score * rule_weight(d, r);
		a->score = (uint8_t)(w > 100 ? 100 : w);
		a->offhours = 1;
	}
	a->state = state;
	a->updates = e->updates;
	a->engaged_since_us = e->first_us;
	a->src = k->host;
	a->window_s = r->cond[0].window_s ? r->cond[0].window_s : 60;
	a->window_start_us = host_window_start(a->window_s, now);
	memcpy(a->values, values, sizeof a->values);
	snprintf(a->id, sizeof a->id, "%s-%016" PRIx64 "-%" PRIu64, d->cfg.sensor_name,
	    d->cfg.run_id, ++d->seq);
	if (state == ALERT_NEW)
		snprintf(e->id, sizeof e->id, "%s", a->id);
	snprintf(a->engagement_id, sizeof a->engagement_id, "%s", e->id);
	return e;
}

/* Renders, counts, hands the alert to the sinks and tells every module a rule uses. */
static void
alert_finish(struct detect *d, struct alert *a)
{
	alert_render_message(a);
	if (a->state == ALERT_NEW)
		d->st.alerts_new++;
	else
		d->st.alerts_update++;
	d->emit(d->emit_ctx, a);
	for (int sc = 0; sc < MSCOPE__COUNT; sc++)
		if (d->ops[sc] != NULL && d->ops[sc]->alerted != NULL &&
		    detect_scope_used(d, (enum metric_scope)sc))
			d->ops[sc]->alerted(d->mod[sc], a);
}

static void
fire(struct detect *d, struct host_tables *ht, size_t ri, const struct host *h,
    const struct dest *ds, const double *values, uint64_t now)
{
	const struct rule *r = &d->rs->rules[ri];
	struct eng_key k;
	struct alert a;

	memset(&k, 0, sizeof k);
	k.rule = d->rule_hash[ri];
	k.host = h->addr;
	if (ds)
		k.peer = ds->key.peer;
	if (alert_begin(d, ri, &k, values, now, &a) == NULL)
		return;
	fill_totals(d, ht, ri, h, ds, &a, now);
	collect_dests(d, ht, ri, h, ds, &a, now);
	collect_flows(d, ht, h, ds, &a);
	collect_apps(d, h, &a);
	/* One destination dominates: it is the one the alert is about, or carries most of the bytes. */
	if (ds != NULL)
		a.dominant = 1;
	else if (a.ndests > 0) {
		int in = rule_counts_in(r);
		uint64_t top = in ? a.dests[0].bytes_in : a.dests[0].bytes_out;
		uint64_t tot = in ? a.bytes_in : a.bytes_out;
		a.dominant = a.ndests == 1 || (tot > 0 && top * 2 > tot);
	}
	alert_finish(d, &a);
}

/*
 * Does rule r look only at destinations with traffic since the last tick?
 * Yes when one of its conditions is a destination's byte total compared
 * with > or >=: without new traffic such a sum only shrinks as the window
 * slides, so a quiet destination that did not fire at its last packet can
 * only fire later if another condition drifts (a ratio whose "in" side
 * leaves the window first), and an alert on a destination that has gone
 * quiet, about a state it reached by ageing, is not what a rule with a
 * volume threshold means. Walking every quiet destination of every changed
 * host on every tick cost 10 % of the whole sensor on a busy tap. Rules
 * without such a volume condition (a ratio alone, < / <=) still look at
 * every destination.
 */
static int
rule_needs_new_traffic(const struct rule *r)
{
	for (size_t i = 0; i < r->ncond; i++) {
		const struct metric_def *md = metric_def(r->cond[i].metric);
		if (md->scope == MSCOPE_DEST && md->unit == MUNIT_BYTES &&
		    (r->cond[i].op == RULE_OP_GT || r->cond[i].op == RULE_OP_GE))
			return 1;
	}
	return 0;
}

static void
eval_rule(struct detect *d, struct host_tables *ht, size_t ri, const struct host *h,
    uint64_t since, uint64_t now)
{
	const struct rule *r = &d->rs->rules[ri];
	double v[RULE_MAX_CONDS] = { 0 };

	d->st.evaluations++;
	if (d->rt[ri].scope == MSCOPE_HOST) {
		for (size_t i = 0; i < r->ncond; i++)
			if (!cond_holds(&r->cond[i], v[i] = cond_value(d, ht, ri, h, NULL, &r->cond[i], now),
			    rule_weight(d, r)))
				return;
		fire(d, ht, ri, h, NULL, v, now);
		return;
	}
	int skip_quiet = rule_needs_new_traffic(r);
	for (struct dest *ds = host_dest_first(ht, h); ds; ds = host_dest_next(ht, ds)) {
		size_t i;
		if (skip_quiet && ds->last_us < since)
			break;	/* the list is most recent first: the rest are quieter still */
		if (ds->peer_internal || dest_excluded(d, ri, ds))
			continue;
		for (i = 0; i < r->ncond; i++)
			if (!cond_holds(&r->cond[i], v[i] = cond_value(d, ht, ri, h, ds, &r->cond[i], now),
			    rule_weight(d, r)))
				break;
		if (i == r->ncond)
			fire(d, ht, ri, h, ds, v, now);
	}
}

/*
 * Which rules except at least one destination of h: lets excluded_bytes()
 * skip its walk for most (host, rule) pairs. Kept in the host and only
 * ever widened by the destinations active since the last tick (a new or
 * renamed destination is always one of them: the list is most recent
 * first, so that walk stops early); rebuilt from all of them after a
 * reload. A bit left over from an evicted destination only costs a walk.
 */
static void
host_excl_summary(struct detect *d, struct host_tables *ht, struct host *h, uint64_t since)
{
	int full = h->excl_gen != d->gen;

	if (full)
		h->excl_ext = h->excl_int = 0;
	for (struct dest *ds = host_dest_first(ht, h); ds; ds = host_dest_next(ht, ds)) {
		if (!full && ds->last_us < since)
			break;
		if (ds->peer_internal)
			h->excl_int |= dest_excl_mask(d, ds);
		else
			h->excl_ext |= dest_excl_mask(d, ds);
	}
	h->excl_gen = d->gen;
}

/* ---- module scopes -------------------------------------------------------- */

struct visit_ctx {
	struct detect *d;
	enum metric_scope scope;
	uint64_t now;
};

static void
fire_subject(struct detect *d, size_t ri, const struct subject *s, const struct host *h,
    const double *values, uint64_t now)
{
	const struct detector_ops *ops = d->ops[d->rt[ri].scope];
	void *mod = d->mod[d->rt[ri].scope];
	struct eng_key k;
	struct alert a;

	memset(&k, 0, sizeof k);
	k.rule = d->rule_hash[ri];
	k.host = s->host;
	if (s->has_peer)
		k.peer = s->peer;
	k.sub = s->key ^ (s->name ? hash_bytes(s->name, strlen(s->name), 7) : 0);
	if (alert_begin(d, ri, &k, values, now, &a) == NULL)
		return;
	if (s->has_peer) {
		struct alert_dest *ad = &a.dests[a.ndests++];
		ad->ip = s->peer;
		ad->port = s->port;
		ad->l4proto = s->l4proto;
		dpi_ids_name(d->dpi, s->app_master, s->app_proto, ad->app, sizeof ad->app);
		dpi_eve_proto(d->dpi, s->app_master, s->app_proto, ad->app_proto, sizeof ad->app_proto);
		snprintf(ad->server_name, sizeof ad->server_name, "%s", s->name ? s->name : "");
		a.dominant = 1;
	}
	if (h != NULL)
		collect_apps(d, h, &a);
	if (ops->evidence != NULL)
		ops->evidence(mod, s, &d->rs->rules[ri], &a, now);
	subject_flows(d, &a);
	alert_finish(d, &a);
}

/* Evaluates every rule of the module's scope on one subject. */
static void
visit_subject(void *vctx, const struct subject *s)
{
	struct visit_ctx *vc = vctx;
	struct detect *d = vc->d;
	const struct detector_ops *ops = d->ops[vc->scope];
	const struct host *h = NULL;
	int h_looked = 0;
	struct term_memo memo = { { 0 } };
	struct term_target tt = {
		.peer = s->has_peer ? &s->peer : NULL, .name = s->name, .app_master = s->app_master,
		.app_proto = s->app_proto, .app_category = s->app_category, .port = s->port,
		.risk = s->app_risk,
	};

	for (size_t ri = d->scope_first[vc->scope]; ri < d->rs->nrules; ri = d->rt[ri].next_in_scope) {
		const struct rule *r = &d->rs->rules[ri];
		double v[RULE_MAX_CONDS] = { 0 };
		size_t i;

		if (r->disabled || (r->hosts && !netset_contains(r->hosts, &s->host)))
			continue;
		d->st.evaluations++;
		for (i = 0; i < r->ncond; i++) {
			const struct rule_cond *c = &r->cond[i];
			if (metric_def(c->metric)->scope == vc->scope)
				v[i] = ops->value(d->mod[vc->scope], s, c, vc->now);
			else {
				if (!h_looked) {
					h = host_lookup(d->ht, &s->host);
					h_looked = 1;
				}
				v[i] = h ? cond_value(d, d->ht, ri, h, NULL, c, vc->now) : 0;
			}
			if (!cond_holds(c, v[i], rule_weight(d, r)))
				break;
		}
		/* Filters after the conditions: their globs cost more than the
		 * comparisons, and almost every subject fails a comparison. */
		if (i < r->ncond || (rule_filters(r) && target_excluded(d, ri, &tt, &memo)))
			continue;
		if (!h_looked) {
			h = host_lookup(d->ht, &s->host);
			h_looked = 1;
		}
		fire_subject(d, ri, s, h, v, vc->now);
	}
}

int
detect_scope_used(const struct detect *d, enum metric_scope sc)
{
	return d->scope_used[sc];
}

void
detect_tick(struct detect *d, struct host_tables *ht, uint64_t since_us, uint64_t now_us)
{
	const uint8_t *want = d->scope_used;

	if (d->rs == NULL)
		return;
	d->ht = ht;
	/* Working hours on packet time, in the rules' zone: once per tick. */
	d->off_hours = d->tz != NULL && !rules_workhours_contains(&d->rs->workhours,
	    (int64_t)(now_us / 1000000u) + tzone_offset(d->tz, (int64_t)(now_us / 1000000u)));
	if (want[MSCOPE_HOST] || want[MSCOPE_DEST]) {
		for (struct host *h = host_changed_first(ht, since_us); h;
		    h = host_changed_next(ht, h, since_us)) {
			host_excl_summary(d, ht, h, since_us);
			for (size_t ri = 0; ri < d->rs->nrules; ri++) {
				const struct rule *r = &d->rs->rules[ri];
				if (r->disabled || d->rt[ri].scope > MSCOPE_DEST ||
				    (r->hosts && !netset_contains(r->hosts, &h->addr)))
					continue;
				eval_rule(d, ht, ri, h, since_us, now_us);
			}
		}
	}
	for (int sc = MSCOPE_DEST + 1; sc < MSCOPE__COUNT; sc++) {
		struct visit_ctx vc = { d, (enum metric_scope)sc, now_us };
		if (want[sc] && d->ops[sc] != NULL && d->ops[sc]->each != NULL)
			d->ops[sc]->each(d->mod[sc], since_us, now_us, visit_subject, &vc);
	}
	d->ht = NULL;
}

void
detect_get_stats(const struct detect *d, struct detect_stats *out)
{
	*out = d->st;
	out->engaged = table_count(d->eng);
}
