/*
 * conn - see conn.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "conn.h"
#include "dpi.h"
#include "hash.h"
#include "json.h"
#include "names.h"
#include "rules.h"
#include "sensor.h"
#include "table.h"

#define US 1000000ull

struct conn {
	struct tnode node;
	uint64_t key;			/* the flow's address: unique while it is open */
	struct flow *f;			/* flow_end removes the entry before the flow goes */
	uint64_t registered_us;
	uint32_t cur_min;		/* epoch minute of the newest bucket */
	uint64_t min[CONN_MINUTES];	/* outbound payload per minute, ring by epoch minute */
};

struct conn_mod {
	struct table *t;
	const struct dpi *dpi;
	struct names *names;	/* the sensor's, lent */
	uint64_t seed;
	uint64_t registered, evicted;
};
TABLE_OWNER_FIRST(struct conn_mod, t);

static uint32_t
conn_hash(const struct conn_mod *m, uint64_t key)
{
	return (uint32_t)hash_mix64(key ^ m->seed);
}

void *
conn_new(const struct detector_env *env, char *err, size_t errlen)
{
	struct conn_mod *m;
	struct table_config tc = {
		.capacity = env->cfg->max_conns, .entry_size = sizeof(struct conn),
		.key_off = offsetof(struct conn, key), .key_len = sizeof(uint64_t),
		.nlists = 1, .what = "connection",
	};

	if ((m = table_owner_new(sizeof *m, &tc, err, errlen)) == NULL)
		return NULL;
	m->dpi = env->dpi;
	m->names = env->names;
	m->seed = env->seed;
	return m;
}

/* Moves the ring to epoch minute now_min, zeroing the minutes skipped. */
static void
conn_roll(struct conn *c, uint32_t now_min)
{
	if (now_min <= c->cur_min)
		return;
	uint32_t gap = now_min - c->cur_min;
	for (uint32_t i = 1; i <= gap && i <= CONN_MINUTES; i++)
		c->min[(c->cur_min + i) % CONN_MINUTES] = 0;
	c->cur_min = now_min;
}

/*
 * Only flows an internal host opened to the internet, and only once they
 * are old: everything else returns after two comparisons.
 */
static void
conn_packet(void *mod, struct flow *f, int dir, const struct pkt *p)
{
	struct conn_mod *m = mod;
	uint64_t key = (uint64_t)(uintptr_t)f;
	uint32_t h;
	struct conn *c;

	if (!f->init_internal || f->resp_internal || p->ts_us < f->first_us + CONN_REGISTER_S * US)
		return;
	h = conn_hash(m, key);
	if ((c = table_lookup(m->t, &key, h)) == NULL) {
		if (table_full(m->t)) {
			table_del(m->t, table_head(m->t, 0));
			m->evicted++;
		}
		c = table_add(m->t, &key, h, 0);
		c->f = f;
		c->registered_us = p->ts_us;
		c->cur_min = (uint32_t)(p->ts_us / (60 * US));
		m->registered++;
	} else {
		table_touch(m->t, c, -1);
	}
	if (dir != FLOW_DIR_FWD)
		return;
	conn_roll(c, (uint32_t)(p->ts_us / (60 * US)));
	c->min[c->cur_min % CONN_MINUTES] += p->frag == PKT_FRAG_LATER ? p->l4_len : p->payload_len;
}

static void
conn_flow_end(void *mod, struct flow *f, int why, uint64_t now_us)
{
	struct conn_mod *m = mod;
	uint64_t key = (uint64_t)(uintptr_t)f;
	struct conn *c;

	(void)why;
	(void)now_us;
	if ((c = table_lookup(m->t, &key, conn_hash(m, key))) != NULL)
		table_del(m->t, c);
}

/* Outbound payload over the last window_s (whole minutes, the current one partial). */
static uint64_t
conn_recent(const struct conn *c, uint32_t window_s, uint64_t now_us)
{
	uint32_t now_min = (uint32_t)(now_us / (60 * US));
	uint32_t w = window_s / 60 ? window_s / 60 : 1;
	uint64_t sum = 0;

	if (w > CONN_MINUTES)
		w = CONN_MINUTES;
	for (uint32_t i = 0; i < w; i++) {
		uint32_t mm = now_min - i;
		if (mm > c->cur_min)
			continue;		/* nothing recorded that minute */
		if (c->cur_min - mm >= CONN_MINUTES)
			break;
		sum += c->min[mm % CONN_MINUTES];
	}
	return sum;
}

static double
conn_duration_s(const struct conn *c)
{
	return (double)(c->f->last_us - c->f->first_us) / (double)US;
}

/* Every registered connection: its duration grows without new traffic. */
static void
conn_each(void *mod, uint64_t since_us, uint64_t now_us, detector_visit_fn visit, void *vctx)
{
	struct conn_mod *m = mod;

	(void)since_us;
	(void)now_us;
	for (struct conn *c = table_head(m->t, 0); c != NULL; c = table_next(m->t, c)) {
		const struct flow *f = c->f;
		uint16_t sport, dport;
		struct subject s;

		memset(&s, 0, sizeof s);
		s.host = *flow_initiator(f, &sport);
		s.peer = *flow_responder(f, &dport);
		s.has_peer = 1;
		s.port = dport;
		s.l4proto = f->key.proto;
		s.name = f->name != NAME_NONE ? names_str(m->names, f->name) : NULL;
		s.app_master = f->app_master;
		s.app_proto = f->app_proto;
		s.app_category = f->app_category;
		s.app_risk = f->app_risk;
		s.key = (uint64_t)sport << 24 | (uint64_t)dport << 8 | f->key.proto;
		s.obj = c;
		visit(vctx, &s);
	}
}

static double
conn_value(void *mod, const struct subject *s, const struct rule_cond *rc, uint64_t now_us)
{
	const struct conn *c = s->obj;

	(void)mod;
	switch (rc->metric) {
	case M_CONN_DURATION:
		return conn_duration_s(c);
	case M_CONN_OUT_BYTES:
		return (double)c->f->payload_bytes[FLOW_DIR_FWD];
	case M_CONN_OUT_BYTES_RECENT:
		return (double)conn_recent(c, rc->window_s, now_us);
	default:
		return 0;
	}
}

/* "2 h 05 min", "12 min", "45 s": how long a connection has been open. */
static char *
conn_fmt_age(uint64_t secs, char *buf, size_t len)
{
	if (secs >= 3600)
		snprintf(buf, len, "%llu h %02llu min", (unsigned long long)(secs / 3600),
		    (unsigned long long)(secs % 3600 / 60));
	else if (secs >= 60)
		snprintf(buf, len, "%llu min", (unsigned long long)(secs / 60));
	else
		snprintf(buf, len, "%llu s", (unsigned long long)secs);
	return buf;
}

/* The window of the rule's recent-bytes condition, 0 if it has none. */
static uint32_t
rule_recent_window(const struct rule *r)
{
	for (size_t i = 0; i < r->ncond; i++)
		if (r->cond[i].metric == M_CONN_OUT_BYTES_RECENT)
			return r->cond[i].window_s;
	return 0;
}

static void
conn_evidence(void *mod, const struct subject *s, const struct rule *r, struct alert *a,
    uint64_t now_us)
{
	struct conn_mod *m = mod;
	const struct conn *c = s->obj;
	const struct flow *f = c->f;
	uint64_t secs = (f->last_us - f->first_us) / US;
	uint32_t w = rule_recent_window(r);
	char app[48], age[32], out[32], rec[32], wb[32];
	struct json j;

	dpi_app_name(m->dpi, f, app, sizeof app);
	alert_add_flow(a, f, app, names_str(m->names, f->name));
	a->bytes_out = f->payload_bytes[FLOW_DIR_FWD];
	a->bytes_in = f->payload_bytes[FLOW_DIR_REV];
	if (a->ndests > 0) {
		a->dests[0].bytes_out = a->bytes_out;
		a->dests[0].bytes_in = a->bytes_in;
		a->dests[0].flows = 1;
	}
	conn_fmt_age(secs, age, sizeof age);
	alert_fmt_bytes(a->bytes_out, out, sizeof out);
	if (w > 0)
		snprintf(a->detail, sizeof a->detail, "%s, %s sent, %s of it in the last %s", age, out,
		    alert_fmt_bytes(conn_recent(c, w, now_us), rec, sizeof rec),
		    alert_fmt_duration(w, wb, sizeof wb));
	else
		snprintf(a->detail, sizeof a->detail, "%s, %s sent", age, out);
	json_init(&j, a->extra, sizeof a->extra);
	json_obj_open(&j, NULL);
	json_u64_kv(&j, "duration_s", secs);
	json_u64_kv(&j, "out_bytes", a->bytes_out);
	if (w > 0) {
		json_u64_kv(&j, "recent_window_s", w);
		json_u64_kv(&j, "recent_out_bytes", conn_recent(c, w, now_us));
	}
	json_u64_kv(&j, "packets_out", f->pkts[FLOW_DIR_FWD]);
	json_u64_kv(&j, "packets_in", f->pkts[FLOW_DIR_REV]);
	json_obj_close(&j);
	if (json_ok(&j))
		snprintf(a->extra_key, sizeof a->extra_key, "conn");
	else
		a->extra[0] = '\0';
}

static void
conn_stats(void *mod, struct json *j)
{
	struct conn_mod *m = mod;

	json_u64_kv(j, "conns", table_count(m->t));
	json_u64_kv(j, "max_conns", table_capacity(m->t));
	json_u64_kv(j, "registered", m->registered);
	json_u64_kv(j, "evicted", m->evicted);
}

const struct detector_ops conn_ops = {
	.name = "conn",
	.scope = MSCOPE_CONN,
	.create = conn_new,
	.packet = conn_packet,
	.flow_end = conn_flow_end,
	.each = conn_each,
	.value = conn_value,
	.evidence = conn_evidence,
	.stats = conn_stats,
	.free = table_owner_free,
};
