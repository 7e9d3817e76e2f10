/*
 * risk - per-host accumulated alert scores (see risk.h).
 *
 * The sum over a window is computed at evaluation from the contributors'
 * times, so a rule can ask for any window up to RISK_TTL_S without buckets.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "category.h"
#include "hash.h"
#include "json.h"
#include "risk.h"
#include "rules.h"
#include "sensor.h"
#include "table.h"

#define US 1000000ull

struct contrib {
	char id[64];
	char rule[RULE_NAME_MAX];
	uint64_t eng;			/* hash of the engagement id: one count per engagement */
	uint64_t ts_us;
	uint8_t category, score;
	uint8_t has_flow;
	struct alert_flow flow;		/* the contributing alert's main flow (evidence) */
};

struct hrisk {
	struct tnode node;
	struct ip_addr host;		/* the key */
	uint64_t last_us;
	uint32_t n;			/* contributors kept, oldest first */
	struct contrib c[RISK_MAX_CONTRIB];
	/* Contributors folded out of the list: all of them count while the
	 * first lies within the window (so a window never overstates). */
	uint64_t older_score, older_first_us;
	uint32_t older_alerts, older_cats;
};

struct risk {
	struct table *hosts;
	uint64_t seed;
	uint64_t counted, repeats, evicted, expired, folded;
};
TABLE_OWNER_FIRST(struct risk, hosts);

static uint32_t
rhash(const struct risk *rk, const struct ip_addr *a)
{
	return (uint32_t)addr_hash(a, rk->seed);
}

static struct hrisk *
hrisk_get(struct risk *rk, const struct ip_addr *a)
{
	struct hrisk *h = table_lookup(rk->hosts, a, rhash(rk, a));

	if (h != NULL)
		return h;
	if (table_full(rk->hosts)) {
		table_del(rk->hosts, table_head(rk->hosts, 0));
		rk->evicted++;
	}
	h = table_add(rk->hosts, a, rhash(rk, a), 0);
	h->host = *a;
	return h;
}

/* The oldest contributor goes into the "older" total. */
static void
fold_oldest(struct risk *rk, struct hrisk *h)
{
	const struct contrib *o = &h->c[0];

	if (h->older_alerts == 0)
		h->older_first_us = o->ts_us;
	h->older_score += o->score;
	h->older_alerts++;
	h->older_cats |= 1u << o->category;
	memmove(&h->c[0], &h->c[1], (h->n - 1) * sizeof h->c[0]);
	h->n--;
	rk->folded++;
}

static void
risk_alerted(void *mod, const struct alert *a)
{
	struct risk *rk = mod;
	struct hrisk *h;
	struct contrib *c;
	uint64_t eng;

	if (a->rule->category == CAT_HOST_RISK)
		return;	/* its own roll-ups would feed themselves */
	eng = hash_bytes(a->engagement_id, strlen(a->engagement_id), 5);
	h = hrisk_get(rk, &a->src);
	for (uint32_t i = 0; i < h->n; i++)
		if (h->c[i].eng == eng) {
			rk->repeats++;	/* an update of an engagement already counted */
			return;
		}
	if (h->n == RISK_MAX_CONTRIB)
		fold_oldest(rk, h);
	c = &h->c[h->n++];
	memset(c, 0, sizeof *c);
	snprintf(c->id, sizeof c->id, "%s", a->id);
	snprintf(c->rule, sizeof c->rule, "%s", a->rule->name);
	c->eng = eng;
	c->ts_us = a->ts_us;
	c->category = (uint8_t)a->rule->category;
	c->score = a->score;
	if (a->nflows > 0) {
		c->flow = a->flows[0];
		c->has_flow = 1;
	}
	h->last_us = a->ts_us;
	table_touch(rk->hosts, h, -1);
	rk->counted++;
}

static void
risk_tick(void *mod, uint64_t now)
{
	struct risk *rk = mod;
	struct hrisk *h;

	while ((h = table_head(rk->hosts, 0)) != NULL && h->last_us + RISK_TTL_S * US < now) {
		table_del(rk->hosts, h);
		rk->expired++;
	}
}

static void
risk_each(void *mod, uint64_t since_us, uint64_t now_us, detector_visit_fn visit, void *vctx)
{
	struct risk *rk = mod;

	(void)now_us;
	for (struct hrisk *h = table_tail(rk->hosts, 0); h != NULL && h->last_us >= since_us;
	    h = table_prev(rk->hosts, h)) {
		struct subject s;

		memset(&s, 0, sizeof s);
		s.host = h->host;
		s.obj = h;
		visit(vctx, &s);
	}
}

struct sums {
	uint64_t score;
	uint32_t alerts, cats;	/* cats: a bit per category */
};

static struct sums
window_sums(const struct hrisk *h, uint32_t window_s, uint64_t now)
{
	uint64_t from = now > (uint64_t)window_s * US ? now - (uint64_t)window_s * US : 0;
	struct sums s = { 0, 0, 0 };

	if (h->older_alerts > 0 && h->older_first_us >= from) {
		s.score = h->older_score;
		s.alerts = h->older_alerts;
		s.cats = h->older_cats;
	}
	for (uint32_t i = 0; i < h->n; i++)
		if (h->c[i].ts_us >= from) {
			s.score += h->c[i].score;
			s.alerts++;
			s.cats |= 1u << h->c[i].category;
		}
	return s;
}

static double
risk_value(void *mod, const struct subject *s, const struct rule_cond *c, uint64_t now_us)
{
	struct sums w = window_sums(s->obj, c->window_s, now_us);

	(void)mod;
	switch (c->metric) {
	case M_RISK_SCORE: return (double)w.score;
	case M_RISK_ALERTS: return w.alerts;
	case M_RISK_CATEGORIES: return __builtin_popcount(w.cats);
	default: return 0;
	}
}

static void
risk_evidence(void *mod, const struct subject *s, const struct rule *r, struct alert *a,
    uint64_t now)
{
	const struct hrisk *h = s->obj;
	uint64_t from = now > (uint64_t)a->window_s * US ? now - (uint64_t)a->window_s * US : 0;
	struct sums w = window_sums(h, a->window_s, now);
	size_t used = 0;
	char t[40];
	struct json j;

	(void)mod;
	(void)r;
	json_init(&j, a->extra, sizeof a->extra);
	json_obj_open(&j, NULL);
	json_u64_kv(&j, "score", w.score);
	json_u64_kv(&j, "alerts", w.alerts);
	json_arr_open(&j, "contributors");
	for (uint32_t i = 0; i < h->n; i++) {
		const struct contrib *c = &h->c[i];
		if (c->ts_us < from)
			continue;
		json_obj_open(&j, NULL);
		json_str_kv(&j, "alert_id", c->id);
		json_str_kv(&j, "rule", c->rule);
		json_str_kv(&j, "category", category_name((enum alert_category)c->category));
		json_u64_kv(&j, "score", c->score);
		json_str_kv(&j, "time", json_fmt_time(c->ts_us, t, sizeof t));
		if (c->has_flow)
			json_str_kv(&j, "community_id", c->flow.community_id);
		json_obj_close(&j);
		/* The roll-up names the flows behind what it rolls up, once each. */
		int seen = !c->has_flow;
		for (size_t k = 0; k < a->nflows && !seen; k++)
			seen = strcmp(a->flows[k].community_id, c->flow.community_id) == 0;
		if (!seen)
			alert_add_flow_rec(a, &c->flow);
		if (used < sizeof a->detail)
			used += (size_t)snprintf(a->detail + used, sizeof a->detail - used, "%s%s (%u)",
			    used ? ", " : "", c->rule, c->score);
	}
	json_arr_close(&j);
	if (h->older_alerts > 0 && h->older_first_us >= from) {
		json_obj_open(&j, "older");
		json_u64_kv(&j, "alerts", h->older_alerts);
		json_u64_kv(&j, "score", h->older_score);
		json_obj_close(&j);
	}
	json_obj_close(&j);
	if (json_ok(&j))
		snprintf(a->extra_key, sizeof a->extra_key, "risk");
	else
		a->extra[0] = '\0';
}

static void
risk_stats(void *mod, struct json *j)
{
	struct risk *rk = mod;

	json_u64_kv(j, "hosts", table_count(rk->hosts));
	json_u64_kv(j, "max_hosts", table_capacity(rk->hosts));
	json_u64_kv(j, "alerts_counted", rk->counted);
	json_u64_kv(j, "updates_ignored", rk->repeats);
	json_u64_kv(j, "contributors_folded", rk->folded);
	json_u64_kv(j, "expired", rk->expired);
	json_u64_kv(j, "evicted", rk->evicted);
}

void *
risk_new(const struct detector_env *env, char *err, size_t errlen)
{
	struct risk *rk;
	struct table_config tc = {
		.capacity = env->cfg->max_risk, .entry_size = sizeof(struct hrisk),
		.key_off = offsetof(struct hrisk, host), .key_len = sizeof(struct ip_addr),
		.nlists = 1, .what = "risk",
	};

	if ((rk = table_owner_new(sizeof *rk, &tc, err, errlen)) == NULL)
		return NULL;
	rk->seed = env->seed ^ 0x7269;
	return rk;
}

const struct detector_ops risk_ops = {
	.name = "risk",
	.scope = MSCOPE_RISK,
	.create = risk_new,
	.tick = risk_tick,
	.each = risk_each,
	.value = risk_value,
	.evidence = risk_evidence,
	.alerted = risk_alerted,
	.stats = risk_stats,
	.free = table_owner_free,
};
