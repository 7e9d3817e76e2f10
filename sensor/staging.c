/*
 * staging - collect-then-send episodes per internal host (see staging.h).
 *
 * The packet hook does the accounting: a payload packet from an internal
 * responder to the internal host that opened the flow is a pull; a payload
 * packet the host sends on a flow it opened to an external address is a
 * send, counted only while the host has an episode. Everything else returns
 * after a few comparisons. Evaluation visits the episodes touched since the
 * last tick (the table's LRU list is in last-activity order).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "detect.h"
#include "dpi.h"
#include "hash.h"
#include "json.h"
#include "names.h"
#include "rules.h"
#include "sensor.h"
#include "staging.h"
#include "strcopy.h"
#include "table.h"

/* A peer becomes a "source" once it delivered this much: name lookups,
 * directory listings and logins are not collection. */
#define STAGING_SRC_MIN	1000000u
#define STAGING_FILTER_BITS 4096u

struct stg_src {
	struct ip_addr ip;
	uint16_t master, app;
	uint64_t bytes;
};

struct stg_dst {
	struct ip_addr ip;
	uint16_t port;
	uint8_t l4proto;
	uint16_t master, app, category;
	uint32_t name;			/* server name (names.h reference) */
	uint64_t bytes, first_us;
};

struct episode {
	struct tnode node;
	struct ip_addr host;		/* the key */
	uint64_t start_us;		/* first pull */
	uint64_t in_last_us;		/* latest pull from a source (>= STAGING_SRC_MIN) */
	uint64_t pull_last_us;		/* latest pull of any size */
	uint64_t last_us;		/* latest pull or send */
	uint64_t pend_bytes, pend_first_us;	/* pulls after a gap, not yet a collection */
	uint64_t in_bytes, out_bytes;
	uint64_t in_other;		/* bytes of sources dropped from the list */
	uint32_t nsources;		/* peers that delivered STAGING_SRC_MIN */
	uint32_t nsrc, ndst;
	uint32_t ndst_more;		/* destinations beyond the list */
	struct stg_src src[STAGING_MAX_SRC];
	struct stg_dst dst[STAGING_MAX_DST];
};

struct staging {
	struct table *eps;
	struct host_tables *hosts;	/* the flows behind an alert's sources and destinations */
	const struct dpi *dpi;
	struct names *names;		/* the sensor's, lent */
	uint64_t seed;
	uint64_t started, evicted, expired;
	/*
	 * Hosts that have collected something, by a bit of their hash: every
	 * outbound packet of every host asks "is this host sending what it
	 * collected?", and a table lookup for each was 2 % of the sensor.
	 * A clear bit answers no at once; a set one (or a collision) looks.
	 * Rebuilt on each tick from the live episodes.
	 */
	uint64_t collecting[STAGING_FILTER_BITS / 64];
};

static uint32_t
filter_bit(const struct staging *st, const struct ip_addr *host)
{
	return (uint32_t)(addr_hash(host, st->seed ^ 0xf1) % STAGING_FILTER_BITS);
}

static void
filter_set(struct staging *st, const struct ip_addr *host)
{
	uint32_t b = filter_bit(st, host);

	st->collecting[b / 64] |= 1ULL << (b % 64);
}

static int
filter_maybe(const struct staging *st, const struct ip_addr *host)
{
	uint32_t b = filter_bit(st, host);

	return (st->collecting[b / 64] >> (b % 64)) & 1;
}
TABLE_OWNER_FIRST(struct staging, eps);

static struct episode *
ep_lookup(struct staging *st, const struct ip_addr *host)
{
	return table_lookup(st->eps, host, (uint32_t)addr_hash(host, st->seed));
}

static void
ep_drop_names(struct staging *st, struct episode *ep)
{
	for (uint32_t i = 0; i < ep->ndst; i++)
		names_drop(st->names, ep->dst[i].name);
}

static void
ep_del(struct staging *st, struct episode *ep)
{
	ep_drop_names(st, ep);
	table_del(st->eps, ep);
}

static struct episode *
ep_get(struct staging *st, const struct ip_addr *host)
{
	struct episode *ep = ep_lookup(st, host);

	if (ep != NULL)
		return ep;
	if (table_full(st->eps)) {
		ep_del(st, table_head(st->eps, 0));
		st->evicted++;
	}
	ep = table_add(st->eps, host, (uint32_t)addr_hash(host, st->seed), 0);
	ep->host = *host;
	return ep;
}

/* Starts the episode afresh (same host). */
static void
ep_reset(struct staging *st, struct episode *ep, uint64_t now)
{
	struct tnode node = ep->node;
	struct ip_addr host = ep->host;

	ep_drop_names(st, ep);
	memset(ep, 0, sizeof *ep);
	ep->node = node;
	ep->host = host;
	ep->start_us = now;
	ep->last_us = now;
}

static struct stg_src *
src_find(struct episode *ep, const struct ip_addr *ip)
{
	for (uint32_t i = 0; i < ep->nsrc; i++)
		if (addr_eq(&ep->src[i].ip, ip))
			return &ep->src[i];
	return NULL;
}

/* Credits n bytes from source ip; a full list drops its smallest source. */
static void
src_add(struct episode *ep, const struct ip_addr *ip, const struct flow *f, uint64_t n)
{
	struct stg_src *s = src_find(ep, ip);
	uint32_t i;

	if (s == NULL) {
		if (ep->nsrc < STAGING_MAX_SRC)
			s = &ep->src[ep->nsrc++];
		else {
			s = &ep->src[0];
			for (i = 1; i < ep->nsrc; i++)
				if (ep->src[i].bytes < s->bytes)
					s = &ep->src[i];
			ep->in_other += s->bytes;
		}
		memset(s, 0, sizeof *s);
		s->ip = *ip;
	}
	if (s->bytes < STAGING_SRC_MIN && s->bytes + n >= STAGING_SRC_MIN)
		ep->nsources++;
	s->bytes += n;
	if (f->app_master | f->app_proto) {
		s->master = f->app_master;
		s->app = f->app_proto;
	}
}

static void
dst_add(struct staging *st, struct episode *ep, const struct flow *f, uint64_t n, uint64_t now)
{
	uint16_t port;
	const struct ip_addr *ip = flow_responder(f, &port);
	struct stg_dst *d = NULL;

	for (uint32_t i = 0; i < ep->ndst; i++)
		if (addr_eq(&ep->dst[i].ip, ip)) {
			d = &ep->dst[i];
			break;
		}
	if (d == NULL) {
		if (ep->ndst == STAGING_MAX_DST) {
			ep->ndst_more++;	/* counted in out_bytes, not listed */
			return;
		}
		d = &ep->dst[ep->ndst++];
		memset(d, 0, sizeof *d);
		d->ip = *ip;
		d->first_us = now;
	}
	d->port = port;
	d->l4proto = f->key.proto;
	d->bytes += n;
	if (f->app_master | f->app_proto) {
		d->master = f->app_master;
		d->app = f->app_proto;
		d->category = f->app_category;
	}
	if (f->name != NAME_NONE)
		names_copy(st->names, &d->name, f->name);
}

/*
 * One pull of n bytes. Only pulls from sources that delivered
 * STAGING_SRC_MIN move the end of the collection: a name lookup just before
 * the upload is not collecting. After STAGING_GAP without such a pull, new
 * pulls are held apart; once they add up to STAGING_SRC_MIN within a gap,
 * a new episode starts with them (credited to the source that completed
 * them). Small pulls alone never end an episode, so the lookups between
 * collecting in the afternoon and sending at night keep it.
 */
static void
pull(struct staging *st, const struct ip_addr *host, const struct flow *f, uint64_t n, uint64_t now)
{
	struct episode *ep = ep_get(st, host);
	const struct ip_addr *from = flow_responder(f, NULL);
	uint64_t gap = (uint64_t)STAGING_GAP_S * 1000000u;

	ep->last_us = now;
	table_touch(st->eps, ep, -1);
	if (ep->start_us == 0 || (ep->nsources == 0 && now > ep->pull_last_us + gap)) {
		ep_reset(st, ep, now);	/* nothing worth keeping: lookups only */
		st->started++;
	} else if (ep->nsources > 0 && now > ep->in_last_us + gap) {
		if (ep->pend_bytes == 0 || now > ep->pend_first_us + gap) {
			ep->pend_bytes = 0;
			ep->pend_first_us = now;
		}
		ep->pend_bytes += n;
		if (ep->pend_bytes < STAGING_SRC_MIN)
			return;
		n = ep->pend_bytes;
		ep_reset(st, ep, ep->pend_first_us);
		st->started++;
	}
	ep->pull_last_us = now;
	ep->in_bytes += n;
	src_add(ep, from, f, n);
	if (ep->nsources > 0)
		filter_set(st, host);
	if (src_find(ep, from)->bytes >= STAGING_SRC_MIN)
		ep->in_last_us = now;
	ep->last_us = now;	/* the LRU order each() relies on */
}

static void
staging_packet(void *mod, struct flow *f, int dir, const struct pkt *p)
{
	struct staging *st = mod;
	const struct ip_addr *host;
	struct episode *ep;

	if (p->payload_len == 0 || !f->init_internal)
		return;
	host = flow_initiator(f, NULL);
	if (f->resp_internal) {
		/* The host pushing to a peer (a backup) is not collecting. */
		if (dir == FLOW_DIR_REV)
			pull(st, host, f, p->payload_len, p->ts_us);
		return;
	}
	/* Sends count once something was collected, for STAGING_TTL after it. */
	if (dir != FLOW_DIR_FWD || !filter_maybe(st, host) || (ep = ep_lookup(st, host)) == NULL ||
	    ep->nsources == 0 ||
	    p->ts_us > ep->in_last_us + (uint64_t)STAGING_TTL_S * 1000000u)
		return;
	ep->out_bytes += p->payload_len;
	ep->last_us = p->ts_us;
	dst_add(st, ep, f, p->payload_len, p->ts_us);
	table_touch(st->eps, ep, -1);
}

/* Episodes quiet for STAGING_TTL are over. */
static void
staging_tick(void *mod, uint64_t now)
{
	struct staging *st = mod;
	struct episode *ep;
	uint64_t ttl = (uint64_t)STAGING_TTL_S * 1000000u;

	while ((ep = table_head(st->eps, 0)) != NULL && ep->last_us + ttl < now) {
		ep_del(st, ep);
		st->expired++;
	}
	memset(st->collecting, 0, sizeof st->collecting);
	for (ep = table_head(st->eps, 0); ep != NULL; ep = table_next(st->eps, ep))
		if (ep->nsources > 0)
			filter_set(st, &ep->host);
}

static const struct stg_src *
top_src(const struct episode *ep)
{
	const struct stg_src *top = NULL;

	for (uint32_t i = 0; i < ep->nsrc; i++)
		if (top == NULL || ep->src[i].bytes > top->bytes)
			top = &ep->src[i];
	return top;
}

static const struct stg_dst *
top_dst(const struct episode *ep)
{
	const struct stg_dst *top = NULL;

	for (uint32_t i = 0; i < ep->ndst; i++)
		if (top == NULL || ep->dst[i].bytes > top->bytes)
			top = &ep->dst[i];
	return top;
}

static void
staging_each(void *mod, uint64_t since_us, uint64_t now_us, detector_visit_fn visit, void *vctx)
{
	struct staging *st = mod;

	(void)now_us;
	for (struct episode *ep = table_tail(st->eps, 0); ep != NULL && ep->last_us >= since_us;
	    ep = table_prev(st->eps, ep)) {
		const struct stg_src *s = top_src(ep);
		struct subject sj;

		if (ep->nsources == 0)
			continue;	/* lookups and listings only: nothing collected */
		memset(&sj, 0, sizeof sj);
		sj.host = ep->host;
		if (s != NULL) {
			sj.app_master = s->master;
			sj.app_proto = s->app;
		}
		sj.key = ep->start_us;	/* a new episode is a new engagement */
		sj.obj = ep;
		visit(vctx, &sj);
	}
}

/* From the end of collection to the start of the main transfer, in seconds. */
static uint64_t
ep_delay_s(const struct episode *ep, uint64_t now)
{
	const struct stg_dst *d = top_dst(ep);
	uint64_t t = d != NULL ? d->first_us : now;

	return t > ep->in_last_us ? (t - ep->in_last_us) / 1000000u : 0;
}

static double
staging_value(void *mod, const struct subject *s, const struct rule_cond *c, uint64_t now_us)
{
	const struct episode *ep = s->obj;

	(void)mod;
	switch (c->metric) {
	case M_STAGING_IN_BYTES: return (double)ep->in_bytes;
	case M_STAGING_IN_SOURCES: return ep->nsources;
	case M_STAGING_OUT_BYTES: return (double)ep->out_bytes;
	case M_STAGING_OUT_SHARE:
		return (double)ep->out_bytes / (double)(ep->in_bytes ? ep->in_bytes : 1);
	case M_STAGING_DELAY: return (double)ep_delay_s(ep, now_us);
	default: return 0;
	}
}

/* Indexes of the kept sources / destinations, most bytes first. */
static size_t
order_src(const struct episode *ep, uint32_t *idx)
{
	size_t n = 0;

	for (uint32_t i = 0; i < ep->nsrc; i++) {
		size_t pos = n++;
		while (pos > 0 && ep->src[idx[pos - 1]].bytes < ep->src[i].bytes) {
			idx[pos] = idx[pos - 1];
			pos--;
		}
		idx[pos] = i;
	}
	return n;
}

static size_t
order_dst(const struct episode *ep, uint32_t *idx)
{
	size_t n = 0;

	for (uint32_t i = 0; i < ep->ndst; i++) {
		size_t pos = n++;
		while (pos > 0 && ep->dst[idx[pos - 1]].bytes < ep->dst[i].bytes) {
			idx[pos] = idx[pos - 1];
			pos--;
		}
		idx[pos] = i;
	}
	return n;
}

static void
evidence_json(struct staging *st, const struct episode *ep, uint64_t now, struct alert *a)
{
	uint32_t si[STAGING_MAX_SRC], di[STAGING_MAX_DST];
	size_t ns = order_src(ep, si), nd = order_dst(ep, di);
	char ip[ADDR_STRLEN], app[48], t[40];
	struct json j;

	json_init(&j, a->extra, sizeof a->extra);
	json_obj_open(&j, NULL);
	json_obj_open(&j, "collected");
	json_u64_kv(&j, "bytes", ep->in_bytes);
	json_u64_kv(&j, "sources", ep->nsources);
	json_str_kv(&j, "first", json_fmt_time(ep->start_us, t, sizeof t));
	json_str_kv(&j, "last", json_fmt_time(ep->in_last_us, t, sizeof t));
	json_arr_open(&j, "from");
	for (size_t i = 0; i < ns; i++) {
		const struct stg_src *s = &ep->src[si[i]];
		if (s->bytes < STAGING_SRC_MIN)
			continue;	/* lookups and listings: in "bytes", not listed */
		json_obj_open(&j, NULL);
		json_str_kv(&j, "ip", addr_fmt(&s->ip, ip, sizeof ip));
		json_str_kv(&j, "app", dpi_ids_name(st->dpi, s->master, s->app, app, sizeof app));
		json_u64_kv(&j, "bytes", s->bytes);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_obj_close(&j);
	json_obj_open(&j, "sent");
	json_u64_kv(&j, "bytes", ep->out_bytes);
	json_arr_open(&j, "to");
	for (size_t i = 0; i < nd; i++) {
		const struct stg_dst *d = &ep->dst[di[i]];
		json_obj_open(&j, NULL);
		json_str_kv(&j, "ip", addr_fmt(&d->ip, ip, sizeof ip));
		json_u64_kv(&j, "port", d->port);
		json_str_kv(&j, "server_name", names_str(st->names, d->name));
		json_str_kv(&j, "app", dpi_ids_name(st->dpi, d->master, d->app, app, sizeof app));
		json_u64_kv(&j, "bytes", d->bytes);
		json_str_kv(&j, "first", json_fmt_time(d->first_us, t, sizeof t));
		json_obj_close(&j);
	}
	json_arr_close(&j);
	if (ep->ndst_more)
		json_u64_kv(&j, "more_destinations", ep->ndst_more);
	json_obj_close(&j);
	json_u64_kv(&j, "delay_s", ep_delay_s(ep, now));
	json_obj_close(&j);
	if (json_ok(&j))
		snprintf(a->extra_key, sizeof a->extra_key, "staging");
	else
		a->extra[0] = '\0';
}

static void
staging_evidence(void *mod, const struct subject *s, const struct rule *r, struct alert *a,
    uint64_t now)
{
	struct staging *st = mod;
	const struct episode *ep = s->obj;
	uint32_t di[STAGING_MAX_DST];
	size_t nd = order_dst(ep, di);
	char b1[32], b2[32];

	(void)r;
	a->bytes_in = ep->in_bytes;
	a->bytes_out = ep->out_bytes;
	a->window_start_us = ep->start_us;
	a->window_s = now > ep->start_us ? (uint32_t)((now - ep->start_us + 999999u) / 1000000u) : 0;
	for (size_t i = 0; i < nd && a->ndests < ALERT_MAX_DESTS; i++) {
		const struct stg_dst *d = &ep->dst[di[i]];
		struct alert_dest *ad = &a->dests[a->ndests++];
		ad->ip = d->ip;
		ad->port = d->port;
		ad->l4proto = d->l4proto;
		dpi_ids_name(st->dpi, d->master, d->app, ad->app, sizeof ad->app);
		dpi_eve_proto(st->dpi, d->master, d->app, ad->app_proto, sizeof ad->app_proto);
		str_copy(ad->server_name, sizeof ad->server_name, names_str(st->names, d->name));
		ad->bytes_out = d->bytes;
	}
	a->dominant = nd > 0 && ep->dst[di[0]].bytes * 2 > ep->out_bytes;
	/* Flows of where it was collected from; detect.c puts the destinations'
	 * (what was sent, the main flow) before them. */
	{
		uint32_t si[STAGING_MAX_SRC];
		size_t ns = order_src(ep, si);
		/* Only what counted as collected (a name lookup is not a source). */
		for (size_t i = 0; i < ns && ep->src[si[i]].bytes >= STAGING_SRC_MIN; i++)
			detect_pair_flows(st->hosts, st->dpi, &s->host, &ep->src[si[i]].ip, a);
	}
	snprintf(a->detail, sizeof a->detail, "pulled %s from %" PRIu32 " internal source%s, sent %s "
	    "to %" PRIu32 " external destination%s %" PRIu64 " s later",
	    alert_fmt_bytes(ep->in_bytes, b1, sizeof b1), ep->nsources, ep->nsources == 1 ? "" : "s",
	    alert_fmt_bytes(ep->out_bytes, b2, sizeof b2), ep->ndst + ep->ndst_more,
	    ep->ndst + ep->ndst_more == 1 ? "" : "s", ep_delay_s(ep, now));
	evidence_json(st, ep, now, a);
}

static void
staging_stats(void *mod, struct json *j)
{
	struct staging *st = mod;

	json_u64_kv(j, "episodes", table_count(st->eps));
	json_u64_kv(j, "max_episodes", table_capacity(st->eps));
	json_u64_kv(j, "started", st->started);
	json_u64_kv(j, "expired", st->expired);
	json_u64_kv(j, "evicted", st->evicted);
}

/* An episode holds the server names of the destinations it lists. */
static size_t
staging_name_refs(const struct sensor_config *cfg)
{
	return STAGING_MAX_DST * cfg->max_staging;
}

void *
staging_new(const struct detector_env *env, char *err, size_t errlen)
{
	struct staging *st;
	struct table_config tc = {
		.capacity = env->cfg->max_staging, .entry_size = sizeof(struct episode),
		.key_off = offsetof(struct episode, host), .key_len = sizeof(struct ip_addr),
		.nlists = 1, .what = "staging",
	};

	if ((st = table_owner_new(sizeof *st, &tc, err, errlen)) == NULL)
		return NULL;
	st->dpi = env->dpi;
	st->names = env->names;
	st->hosts = env->hosts;
	st->seed = env->seed ^ 0x57a6;
	return st;
}

const struct detector_ops staging_ops = {
	.name = "staging",
	.scope = MSCOPE_STAGING,
	.create = staging_new,
	.name_refs = staging_name_refs,
	.packet = staging_packet,
	.tick = staging_tick,
	.each = staging_each,
	.value = staging_value,
	.evidence = staging_evidence,
	.stats = staging_stats,
	.free = table_owner_free,
};
