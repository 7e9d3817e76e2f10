/*
 * flow - see flow.h. Storage, lookup and LRU order are table.c's; this file
 * owns the flow key, direction, TCP state and the timeout policy. Since
 * packet time only moves forward here (late packets are clamped to the
 * newest time seen), each timeout class's list stays in last-seen order and
 * its head is the next flow to expire.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "hash.h"
#include "names.h"

#define FLOW_TCP_FIN	0x01
#define FLOW_TCP_SYN	0x02
#define FLOW_TCP_RST	0x04
#define FLOW_TCP_ACK	0x10

struct flow_table {
	struct flow_config cfg;
	struct table *tab;
	uint64_t now_us;
	flow_end_fn end_fn;
	void *end_ctx;
	struct flow_stats st;
};

static uint32_t
flow_key_hash(const struct flow_key *k, uint64_t seed)
{
	uint64_t h = addr_hash(&k->lo, seed);

	h = hash_mix64(h ^ addr_hash(&k->hi, seed + 1));
	h ^= (uint64_t)k->port_lo << 32 | (uint64_t)k->port_hi << 16 | (uint64_t)k->vlan << 4 | k->proto;
	return (uint32_t)hash_mix64(h);
}

/* Builds the canonical key; returns 1 if the packet's source is its "lo" end. */
static int
flow_key_make(const struct pkt *p, struct flow_key *k)
{
	int c = addr_cmp(&p->src, &p->dst);
	int src_is_lo = c < 0 || (c == 0 && p->sport <= p->dport);

	memset(k, 0, sizeof *k);
	k->lo = src_is_lo ? p->src : p->dst;
	k->hi = src_is_lo ? p->dst : p->src;
	k->port_lo = src_is_lo ? p->sport : p->dport;
	k->port_hi = src_is_lo ? p->dport : p->sport;
	k->vlan = p->vlan;
	k->proto = p->l4_proto;
	return src_is_lo;
}

struct flow_table *
flow_table_new(const struct flow_config *cfg, flow_end_fn end_fn, void *end_ctx,
    char *err, size_t errlen)
{
	struct flow_table *t = calloc(1, sizeof *t);
	struct table_config tc = {
		.capacity = cfg->capacity, .entry_size = sizeof(struct flow),
		.key_off = offsetof(struct flow, key), .key_len = sizeof(struct flow_key),
		.nlists = FLOW_TC__COUNT, .what = "flow",
	};

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->tab = table_new(&tc, err, errlen);
	if (t->tab == NULL) {
		free(t);
		return NULL;
	}
	t->cfg = *cfg;
	t->end_fn = end_fn;
	t->end_ctx = end_ctx;
	t->st.capacity = cfg->capacity;
	return t;
}

static void
flow_remove(struct flow_table *t, struct flow *f, enum flow_end why)
{
	t->end_fn(t->end_ctx, f, why);
	switch (why) {
	case FLOW_END_IDLE: t->st.expired_idle++; break;
	case FLOW_END_CLOSED: t->st.closed++; break;
	case FLOW_END_EVICTED: t->st.evicted++; break;
	case FLOW_END_SHUTDOWN: break;
	}
	if (t->cfg.names != NULL)
		names_drop(t->cfg.names, f->name);
	table_del(t->tab, f);
}

/* The flow seen longest ago across all classes: the eviction victim. */
static struct flow *
flow_oldest(struct flow_table *t)
{
	struct flow *best = NULL;

	for (int c = 0; c < FLOW_TC__COUNT; c++) {
		struct flow *h = table_head(t->tab, c);
		if (h != NULL && (best == NULL || h->last_us < best->last_us))
			best = h;
	}
	return best;
}

static enum flow_tclass
flow_class_of(uint8_t proto)
{
	return proto == IPPROTO_TCP ? FLOW_TC_TCP_OPEN : proto == IPPROTO_UDP ? FLOW_TC_UDP : FLOW_TC_OTHER;
}

/* Does the sender of this first-seen packet look like the flow's responder? */
static int
sender_is_responder(const struct pkt *p)
{
	switch (p->l4_proto) {
	case IPPROTO_TCP:
		if ((p->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == FLOW_TCP_SYN)
			return 0;
		if ((p->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == (FLOW_TCP_SYN | FLOW_TCP_ACK))
			return 1;
		return p->sport < 1024 && p->dport >= 1024;
	case IPPROTO_UDP:
		return p->sport < 1024 && p->dport >= 1024;
	case IPPROTO_ICMP:	/* echo, timestamp, address-mask replies (RFC 792, 950) */
		return p->icmp_type == 0 || p->icmp_type == 14 || p->icmp_type == 18;
	case IPPROTO_ICMPV6:	/* echo reply (RFC 4443) */
		return p->icmp_type == 129;
	default:
		return 0;
	}
}

static int
is_pure_syn(const struct pkt *p)
{
	return p->l4_proto == IPPROTO_TCP &&
	    (p->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == FLOW_TCP_SYN;
}

struct flow *
flow_table_get(struct flow_table *t, const struct pkt *p, int *dir)
{
	struct flow_key k;
	int src_is_lo = flow_key_make(p, &k);
	uint32_t h = flow_key_hash(&k, t->cfg.seed);
	struct flow *f = table_lookup(t->tab, &k, h);

	/* A new SYN on a closed connection's 5-tuple starts a new flow (port reuse). */
	if (f != NULL && f->node.list == FLOW_TC_TCP_CLOSED && is_pure_syn(p)) {
		flow_remove(t, f, FLOW_END_CLOSED);
		f = NULL;
	}
	if (f == NULL) {
		if (table_full(t->tab))
			flow_remove(t, flow_oldest(t), FLOW_END_EVICTED);
		f = table_add(t->tab, &k, h, flow_class_of(p->l4_proto));
		f->init_is_lo = sender_is_responder(p) ? !src_is_lo : src_is_lo;
		f->first_us = f->last_us = p->ts_us > t->now_us ? p->ts_us : t->now_us;
		t->st.created++;
	}
	*dir = (src_is_lo == f->init_is_lo) ? FLOW_DIR_FWD : FLOW_DIR_REV;
	return f;
}

void
flow_account(struct flow_table *t, struct flow *f, const struct pkt *p, int dir)
{
	int list = -1;

	if (p->ts_us > t->now_us)
		t->now_us = p->ts_us;
	f->pkts[dir]++;
	f->ip_bytes[dir] += p->ip_len;
	f->payload_bytes[dir] += p->frag == PKT_FRAG_LATER ? p->l4_len : p->payload_len;
	f->last_us = t->now_us;
	if (p->l4_proto == IPPROTO_TCP) {
		f->tcp_flags[dir] |= p->tcp_flags;
		if (p->tcp_flags & FLOW_TCP_FIN)
			f->fin_seen |= (uint8_t)(1u << dir);
		if ((p->tcp_flags & FLOW_TCP_RST) || f->fin_seen == 3)
			list = FLOW_TC_TCP_CLOSED;
	}
	table_touch(t->tab, f, list);
}

void
flow_table_expire(struct flow_table *t, uint64_t now_us)
{
	if (now_us > t->now_us)
		t->now_us = now_us;
	for (int c = 0; c < FLOW_TC__COUNT; c++) {
		uint64_t limit = (uint64_t)t->cfg.timeout_s[c] * 1000000u;
		struct flow *f;

		while ((f = table_head(t->tab, c)) != NULL && f->last_us + limit <= t->now_us)
			flow_remove(t, f, c == FLOW_TC_TCP_CLOSED ? FLOW_END_CLOSED : FLOW_END_IDLE);
	}
}

void
flow_table_foreach(struct flow_table *t, void (*fn)(void *ctx, struct flow *f), void *ctx)
{
	for (int c = 0; c < FLOW_TC__COUNT; c++)
		for (struct flow *f = table_head(t->tab, c); f != NULL; f = table_next(t->tab, f))
			fn(ctx, f);
}

void
flow_table_free(struct flow_table *t)
{
	struct flow *f;

	if (t == NULL)
		return;
	for (int c = 0; c < FLOW_TC__COUNT; c++)
		while ((f = table_head(t->tab, c)) != NULL)
			flow_remove(t, f, FLOW_END_SHUTDOWN);
	table_free(t->tab);
	free(t);
}

void
flow_table_stats(const struct flow_table *t, struct flow_stats *out)
{
	*out = t->st;
	out->active = table_count(t->tab);
	out->capacity = table_capacity(t->tab);
}

const struct ip_addr *
flow_initiator(const struct flow *f, uint16_t *port)
{
	if (port)
		*port = f->init_is_lo ? f->key.port_lo : f->key.port_hi;
	return f->init_is_lo ? &f->key.lo : &f->key.hi;
}

const struct ip_addr *
flow_responder(const struct flow *f, uint16_t *port)
{
	if (port)
		*port = f->init_is_lo ? f->key.port_hi : f->key.port_lo;
	return f->init_is_lo ? &f->key.hi : &f->key.lo;
}
