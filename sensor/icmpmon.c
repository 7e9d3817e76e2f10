/*
 * icmpmon - see icmpmon.h.
 */
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "entropy.h"
#include "hash.h"
#include "icmpmon.h"
#include "json.h"
#include "minring.h"
#include "rules.h"
#include "sensor.h"
#include "table.h"

#define EPOCH_US	(300ull * 1000000u)
#define SAMPLE_BYTES	16

/* Minute counters of a pair. */
enum { RC_OUT_B, RC_IN_B, RC_OUT_P, RC_ODD_P, RC_BIG_P, RC__N };

struct icmp_key {
	struct ip_addr host, peer;
};

struct icmp_epoch {
	uint64_t start_us;
	uint32_t n;
	float entropy_sum;
};

struct icmp_pair {
	struct tnode node;
	struct icmp_key key;
	uint64_t first_us, last_us;
	uint64_t out_bytes, in_bytes, out_pkts, in_pkts, odd_pkts;	/* lifetime */
	uint32_t max_payload;
	uint8_t l4proto;
	uint8_t sample_len;
	uint8_t sample[SAMPLE_BYTES];	/* first bytes of the last odd payload sent */
	uint32_t ring_head;
	uint32_t ring[MINRING_MINUTES * RC__N];
	struct icmp_epoch ep[2];
	/* The ICMP flow, for the alert (it may be gone by then). */
	struct flow_key fkey;
	uint8_t init_is_lo;
	uint64_t f_first_us, f_out, f_in;
};

struct icmpmon {
	struct table *pairs;
	uint64_t seed;
	struct icmpmon_stats st;
};
TABLE_OWNER_FIRST(struct icmpmon, pairs);

/* ---- payload patterns -------------------------------------------------------------- */

int
icmpmon_ping_pattern(const uint8_t *b, size_t n)
{
	static const char win[] = "abcdefghijklmnopqrstuvw";
	size_t i;

	/* Up to 16 bytes a ping has room for a timestamp only. */
	if (n <= 16)
		return 1;
	/* iputils / BSD: a timestamp, then each byte one more than the last (0x10, 0x11, ...). */
	for (i = 17; i < n && b[i] == (uint8_t)(b[i - 1] + 1); i++)
		;
	if (i == n)
		return 1;
	/* Windows: the 23-letter alphabet, over and over. */
	for (i = 0; i < n && b[i] == (uint8_t)win[i % 23]; i++)
		;
	if (i == n)
		return 1;
	/* ping -p: a fill of up to 16 bytes repeated after the timestamp (also zeroes). */
	for (size_t per = 1; per <= 16; per++) {
		for (i = 16 + per; i < n && b[i] == b[i - per]; i++)
			;
		if (i == n)
			return 1;
	}
	return 0;
}

/* ---- the table ----------------------------------------------------------------------- */

/* Eviction weight (table_victim): the pair's echo bytes. */
static uint64_t
pair_weight(const void *e)
{
	const struct icmp_pair *p = e;

	return p->out_bytes + p->in_bytes;
}

static struct icmp_pair *
pair_get(struct icmpmon *m, const struct ip_addr *host, const struct ip_addr *peer, uint64_t now)
{
	struct icmp_key k = { *host, *peer };
	uint32_t h = (uint32_t)hash_mix64(addr_hash(host, m->seed) ^ addr_hash(peer, m->seed + 5));
	struct icmp_pair *p = table_lookup(m->pairs, &k, h);

	if (p != NULL)
		return p;
	if (table_full(m->pairs)) {
		table_del(m->pairs, table_victim(m->pairs, 0, pair_weight));
		m->st.evicted++;
	}
	p = table_add(m->pairs, &k, h, 0);
	p->first_us = now;
	return p;
}

static struct icmp_epoch *
epoch_cur(struct icmp_pair *p, uint64_t now)
{
	uint64_t e = now / EPOCH_US;
	struct icmp_epoch *ep = &p->ep[e & 1];

	if (ep->start_us != e * EPOCH_US) {
		memset(ep, 0, sizeof *ep);
		ep->start_us = e * EPOCH_US;
	}
	return ep;
}

/* ---- the packet path ----------------------------------------------------------------- */

static int
is_echo(const struct pkt *pk)
{
	if (pk->l4_proto == IPPROTO_ICMP)
		return pk->icmp_type == 8 || pk->icmp_type == 0;
	if (pk->l4_proto == IPPROTO_ICMPV6)
		return pk->icmp_type == 128 || pk->icmp_type == 129;
	return 0;
}

static void
account_out(struct icmpmon *m, struct icmp_pair *p, const struct pkt *pk, uint32_t min)
{
	size_t n = pk->payload_caplen;
	int odd = !icmpmon_ping_pattern(pk->payload, n);

	minring_add(&p->ring_head, p->ring, RC__N, min, RC_OUT_B, pk->payload_len);
	minring_add(&p->ring_head, p->ring, RC__N, min, RC_OUT_P, 1);
	p->out_bytes += pk->payload_len;
	p->out_pkts++;
	if (pk->payload_len > ICMPMON_LARGE)
		minring_add(&p->ring_head, p->ring, RC__N, min, RC_BIG_P, 1);
	if (pk->payload_len > p->max_payload)
		p->max_payload = pk->payload_len;
	if (n > 0) {
		struct icmp_epoch *ep = epoch_cur(p, pk->ts_us);
		ep->n++;
		ep->entropy_sum += (float)entropy_bytes(pk->payload, n);
	}
	if (odd) {
		minring_add(&p->ring_head, p->ring, RC__N, min, RC_ODD_P, 1);
		p->odd_pkts++;
		m->st.odd_packets++;
		p->sample_len = (uint8_t)(n < SAMPLE_BYTES ? n : SAMPLE_BYTES);
		memcpy(p->sample, pk->payload, p->sample_len);
	}
}

static void
icmpmon_packet(void *mod, struct flow *f, int dir, const struct pkt *pk)
{
	struct icmpmon *m = mod;
	int src_internal, dst_internal;

	/* Every packet comes here: leave at once unless it is an echo. */
	if (!is_echo(pk))
		return;
	src_internal = dir == FLOW_DIR_FWD ? f->init_internal : f->resp_internal;
	dst_internal = dir == FLOW_DIR_FWD ? f->resp_internal : f->init_internal;
	/* Tunnels leave the network: a pair is (internal host, external peer). */
	if (src_internal == dst_internal)
		return;
	m->st.echo_packets++;
	const struct ip_addr *host = src_internal ? &pk->src : &pk->dst;
	const struct ip_addr *peer = src_internal ? &pk->dst : &pk->src;
	struct icmp_pair *p = pair_get(m, host, peer, pk->ts_us);
	uint32_t min = minring_minute(pk->ts_us);
	if (src_internal)
		account_out(m, p, pk, min);
	else {
		minring_add(&p->ring_head, p->ring, RC__N, min, RC_IN_B, pk->payload_len);
		p->in_bytes += pk->payload_len;
		p->in_pkts++;
	}
	p->l4proto = pk->l4_proto;
	p->fkey = f->key;
	p->init_is_lo = f->init_is_lo;
	p->f_first_us = f->first_us;
	p->f_out = f->payload_bytes[FLOW_DIR_FWD];
	p->f_in = f->payload_bytes[FLOW_DIR_REV];
	p->last_us = pk->ts_us;
	table_touch(m->pairs, p, -1);
}

/* ---- evaluation ---------------------------------------------------------------------- */

static void
icmpmon_each(void *mod, uint64_t since_us, uint64_t now_us, detector_visit_fn visit, void *vctx)
{
	struct icmpmon *m = mod;

	(void)now_us;
	for (struct icmp_pair *p = table_tail(m->pairs, 0); p != NULL && p->last_us >= since_us;) {
		struct icmp_pair *prev = table_prev(m->pairs, p);
		struct subject s;
		memset(&s, 0, sizeof s);
		s.host = p->key.host;
		s.peer = p->key.peer;
		s.has_peer = 1;
		s.l4proto = p->l4proto;
		s.obj = p;
		visit(vctx, &s);
		p = prev;
	}
}

static double
mean_entropy(const struct icmp_pair *p, uint64_t now)
{
	uint64_t e = now / EPOCH_US;
	double sum = 0;
	uint32_t n = 0;

	for (uint64_t k = 0; k < 2 && k <= e; k++) {
		const struct icmp_epoch *ep = &p->ep[(e - k) & 1];
		if (ep->start_us == (e - k) * EPOCH_US) {
			sum += ep->entropy_sum;
			n += ep->n;
		}
	}
	return n ? sum / n : 0;
}

static double
icmpmon_value(void *mod, const struct subject *s, const struct rule_cond *c, uint64_t now)
{
	const struct icmp_pair *p = s->obj;
	uint32_t min = minring_minute(now);
	int ctr;

	(void)mod;
	switch (c->metric) {
	case M_ICMP_OUT_BYTES: ctr = RC_OUT_B; break;
	case M_ICMP_IN_BYTES: ctr = RC_IN_B; break;
	case M_ICMP_OUT_PACKETS: ctr = RC_OUT_P; break;
	case M_ICMP_ODD_PACKETS: ctr = RC_ODD_P; break;
	case M_ICMP_LARGE_PACKETS: ctr = RC_BIG_P; break;
	case M_ICMP_ENTROPY: return mean_entropy(p, now);
	default: return 0;
	}
	return (double)minring_sum(p->ring_head, p->ring, RC__N, ctr, min, c->window_s);
}

static void
icmpmon_evidence(void *mod, const struct subject *s, const struct rule *r, struct alert *a, uint64_t now)
{
	const struct icmp_pair *p = s->obj;
	uint32_t min = minring_minute(now), w = a->window_s;
	uint64_t pkts = minring_sum(p->ring_head, p->ring, RC__N, RC_OUT_P, min, w);
	uint64_t odd = minring_sum(p->ring_head, p->ring, RC__N, RC_ODD_P, min, w);
	struct json j;
	struct flow f;
	char hex[2 * SAMPLE_BYTES + 1], b[32];

	(void)mod;
	(void)r;
	a->bytes_out = minring_sum(p->ring_head, p->ring, RC__N, RC_OUT_B, min, w);
	a->bytes_in = minring_sum(p->ring_head, p->ring, RC__N, RC_IN_B, min, w);
	if (a->ndests > 0) {
		a->dests[0].bytes_out = a->bytes_out;
		a->dests[0].bytes_in = a->bytes_in;
		a->dests[0].flows = 1;
		snprintf(a->dests[0].app, sizeof a->dests[0].app, "%s", p->l4proto == IPPROTO_ICMPV6 ? "ICMPV6" : "ICMP");
	}
	memset(&f, 0, sizeof f);
	f.key = p->fkey;
	f.init_is_lo = p->init_is_lo;
	f.first_us = p->f_first_us;
	f.last_us = p->last_us;
	f.payload_bytes[FLOW_DIR_FWD] = p->f_out;
	f.payload_bytes[FLOW_DIR_REV] = p->f_in;
	alert_add_flow(a, &f, p->l4proto == IPPROTO_ICMPV6 ? "ICMPV6" : "ICMP", NULL);
	for (int i = 0; i < p->sample_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", p->sample[i]);
	hex[2 * p->sample_len] = '\0';
	snprintf(a->detail, sizeof a->detail, "%s of echo payload in %" PRIu64 " packets, %" PRIu64 " not ping patterns",
	    alert_fmt_bytes(a->bytes_out, b, sizeof b), pkts, odd);

	json_init(&j, a->extra, sizeof a->extra);
	json_obj_open(&j, NULL);
	json_u64_kv(&j, "packets_out", pkts);
	json_u64_kv(&j, "odd_packets", odd);
	json_u64_kv(&j, "large_packets", minring_sum(p->ring_head, p->ring, RC__N, RC_BIG_P, min, w));
	json_u64_kv(&j, "max_payload", p->max_payload);
	json_dbl_kv(&j, "entropy", floor(100.0 * mean_entropy(p, now) + 0.5) / 100);
	json_u64_kv(&j, "total_out", p->out_bytes);
	json_u64_kv(&j, "total_in", p->in_bytes);
	json_u64_kv(&j, "packets_in_total", p->in_pkts);
	json_str_kv(&j, "sample_hex", hex);
	json_obj_close(&j);
	if (json_ok(&j))
		snprintf(a->extra_key, sizeof a->extra_key, "icmp");
	else
		a->extra[0] = '\0';
}

/* ---- life cycle ---------------------------------------------------------------------- */

void
icmpmon_get_stats(const struct icmpmon *m, struct icmpmon_stats *out)
{
	*out = m->st;
	out->pairs = table_count(m->pairs);
	out->capacity = table_capacity(m->pairs);
}

static void
icmpmon_stats_json(void *mod, struct json *j)
{
	struct icmpmon_stats st;

	icmpmon_get_stats(mod, &st);
	json_u64_kv(j, "pairs", st.pairs);
	json_u64_kv(j, "pairs_capacity", st.capacity);
	json_u64_kv(j, "pairs_evicted", st.evicted);
	json_u64_kv(j, "echo_packets", st.echo_packets);
	json_u64_kv(j, "odd_packets", st.odd_packets);
}

void *
icmpmon_new(const struct detector_env *env, char *err, size_t errlen)
{
	struct icmpmon *m;
	struct table_config tc = {
		.capacity = env->cfg->max_icmp_pairs, .entry_size = sizeof(struct icmp_pair),
		.key_off = offsetof(struct icmp_pair, key), .key_len = sizeof(struct icmp_key),
		.nlists = 1, .what = "icmp-pair",
	};

	if ((m = table_owner_new(sizeof *m, &tc, err, errlen)) == NULL)
		return NULL;
	m->seed = env->seed;
	return m;
}

const struct detector_ops icmpmon_ops = {
	.name = "icmp",
	.scope = MSCOPE_ICMP,
	.create = icmpmon_new,
	.packet = icmpmon_packet,
	.each = icmpmon_each,
	.value = icmpmon_value,
	.evidence = icmpmon_evidence,
	.stats = icmpmon_stats_json,
	.free = table_owner_free,
};
