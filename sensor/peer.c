/*
 * peer - see peer.h. The ledger is one fixed table (table.h) on one LRU
 * list in last-changed order, so "changed since the last tick" is a walk
 * from the tail and expiry a walk from the head. Everything per entry is
 * fixed-size: a full table evicts its stalest entry and counts it.
 *
 * Memory: most entries see one or two connections. An entry keeps inline
 * what those need, exactly: PEER_LIGHT connections (ring and flows), two
 * volume buckets, and its last server name only as "the same as the
 * first". The first time one overflows it borrows a block from the detail
 * pool (max-peers / 4: the full ring, flows, buckets and last name) and
 * its inline state moves there unchanged, so the rules read the same
 * either way. An empty pool evicts the stalest of a few sampled detailed
 * entries (counted in evicted and details_evicted), as the table does.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "domain.h"
#include "dpi.h"
#include "hash.h"
#include "json.h"
#include "names.h"
#include "peer.h"
#include "pool.h"
#include "rules.h"
#include "sensor.h"

#define US		1000000ull
#define BUCKET_US	((uint64_t)PEER_BUCKET_S * US)
#define SLOT_PENDING	0x80000000u	/* peer_slot: the flow's bytes so far are not credited yet */
#define KEY_ADDR_BIT	(1ull << 63)	/* key.dest: keyed by address, not by a name */
#define PEER_LIGHT	2		/* connections kept inline */
#define LIGHT_BUCKETS	2		/* volume buckets kept inline */
#define DETAIL_DIV	4		/* detail blocks: one per this many entries */

/*
 * A fixed-size key: the domain is kept as a 64-bit seeded hash, so two
 * domains of one host share an entry only on a 64-bit collision (the
 * seed differs per run). The evidence re-derives the name from sni_first.
 */
struct peer_key {
	struct ip_addr host;
	uint64_t dest;		/* hash of the registered domain, or of the address (top bit set) */
};

/* One answered connection, for the regularity scores. */
struct peer_conn {
	uint64_t start_us;
	uint32_t out, in;	/* payload bytes, saturated at 4 GB */
};

/* One connection with its 5-tuple, for the evidence. */
struct peer_flow {
	struct ip_addr peer;
	uint64_t start_us;
	uint32_t dur_ms;
	uint32_t out, in;
	uint16_t sport, dport;
	uint8_t l4proto;
};

/* One inline volume bucket (index bucket1 - 1, as out[]/in[]/conns[] hold them). */
struct peer_lbucket {
	uint32_t bucket1;	/* 0: free */
	uint32_t out, in;
	uint16_t conns;
};

/* A busy entry's full state, from the pool. */
struct peer_detail {
	uint32_t out[PEER_NBUCKETS], in[PEER_NBUCKETS];	/* saturate at 4 GB per 30 min */
	uint16_t conns[PEER_NBUCKETS];
	struct peer_conn ring[PEER_RING];
	struct peer_flow flows[PEER_FLOWS];
};

/* Fields marked "light" mean something only while detail is TABLE_NIL. */
struct peer_entry {
	struct tnode node;	/* node.user: the tag flows check their cached slot against */
	struct peer_key key;
	uint32_t sni_first, sni_last;	/* server names (names.h references) */
	struct ip_addr first_peer;	/* the subject's address: stable, so engagement is */
	uint16_t first_port;
	uint8_t l4proto;
	uint8_t nring, ring_next, flow_next;
	uint8_t live_open;
	uint16_t app_master, app_proto, app_category;
	uint32_t detail;	/* pool block, TABLE_NIL while light */
	uint32_t total_conns;
	uint32_t bucket_top;	/* index (time / PEER_BUCKET_S) of the newest bucket */
	uint64_t first_us, last_us;
	uint64_t total_out, total_in;
	struct peer_flow live;	/* the latest flow still open (dur_ms 0 when none) */
	struct peer_lbucket lb[LIGHT_BUCKETS];	/* light */
	struct peer_conn lring[PEER_LIGHT];	/* light */
	struct peer_flow lflows[PEER_LIGHT];	/* light */
};

struct peer {
	struct table *t;
	struct dpi *dpi;
	struct names *names;		/* the sensor's, lent */
	uint64_t seed;
	int dns_id;		/* nDPI's DNS protocol id: not ours to judge */
	uint16_t serial;
	uint64_t evicted, expired, created, stale_slots;
	struct pool details;		/* struct peer_detail, owned by an entry's slot */
	uint64_t details_evicted;
};
TABLE_OWNER_FIRST(struct peer, t);

static struct peer_detail *
detail_of(const struct peer *m, const struct peer_entry *e)
{
	return e->detail == TABLE_NIL ? NULL : pool_at(&m->details, e->detail);
}

/* ---- regularity ------------------------------------------------------------ */

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Linear-interpolated quantile q of v[0..n) sorted, n >= 1. */
static double
quantile(const double *v, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;
	double frac = pos - (double)i;

	return i + 1 < n ? v[i] + (v[i + 1] - v[i]) * frac : v[n - 1];
}

double
peer_bowley(const double *v, size_t n)
{
	if (n < 3)
		return 0;
	double q1 = quantile(v, n, 0.25), q2 = quantile(v, n, 0.5), q3 = quantile(v, n, 0.75);
	return q3 > q1 ? (q3 + q1 - 2 * q2) / (q3 - q1) : 0;
}

/* Median and median absolute deviation of v[0..n) sorted; n <= PEER_RING. */
static void
median_mad(const double *v, size_t n, double *median, double *mad)
{
	double dev[PEER_RING];

	*median = quantile(v, n, 0.5);
	for (size_t i = 0; i < n; i++)
		dev[i] = fabs(v[i] - *median);
	qsort(dev, n, sizeof dev[0], cmp_dbl);
	*mad = quantile(dev, n, 0.5);
}

static double
clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

void
peer_score(const double *starts, const double *sizes, size_t n, struct peer_stats *st)
{
	double iv[PEER_RING], sz[PEER_RING], sum = 0, sq = 0;

	memset(st, 0, sizeof *st);
	st->n = (unsigned)n;
	if (n == 0 || n > PEER_RING)
		return;
	for (size_t i = 0; i < n; i++) {
		sz[i] = sizes[i];
		sum += sizes[i];
		sq += sizes[i] * sizes[i];
	}
	double mean = sum / (double)n, var = sq / (double)n - mean * mean;
	st->sz_cv = mean > 0 ? sqrt(var > 0 ? var : 0) / mean : 0;
	qsort(sz, n, sizeof sz[0], cmp_dbl);
	median_mad(sz, n, &st->sz_median, &st->sz_mad);
	st->sz_skew = peer_bowley(sz, n);
	if (n < 2)
		return;
	for (size_t i = 1; i < n; i++)
		iv[i - 1] = starts[i] - starts[i - 1];
	qsort(iv, n - 1, sizeof iv[0], cmp_dbl);
	median_mad(iv, n - 1, &st->iv_median, &st->iv_mad);
	st->iv_skew = peer_bowley(iv, n - 1);
	/* Four connections (three intervals) are the fewest a quartile means anything on. */
	if (n < 4 || st->iv_median <= 0)
		return;
	double ts = (clamp01(1 - fabs(st->iv_skew)) + clamp01(1 - st->iv_mad / st->iv_median) +
	    (double)n / PEER_RING) / 3;
	double ds = (clamp01(1 - fabs(st->sz_skew)) +
	    (st->sz_median > 0 ? clamp01(1 - st->sz_mad / st->sz_median) : 0)) / 2;
	st->score = (ts + ds) / 2;
}

/* The entry's ring in start order, as seconds and bytes sent. */
static void
entry_stats(const struct peer *m, const struct peer_entry *e, struct peer_stats *st)
{
	struct peer_conn c[PEER_RING];
	double starts[PEER_RING], sizes[PEER_RING];
	size_t n = e->nring;

	memcpy(c, e->detail != TABLE_NIL ? detail_of(m, e)->ring : e->lring, n * sizeof c[0]);
	/* Insertion sort by start: flows end (and enter the ring) out of order. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && c[j].start_us < c[j - 1].start_us; j--) {
			struct peer_conn tmp = c[j];
			c[j] = c[j - 1];
			c[j - 1] = tmp;
		}
	for (size_t i = 0; i < n; i++) {
		starts[i] = (double)(c[i].start_us - c[0].start_us) / 1e6;
		sizes[i] = c[i].out;
	}
	peer_score(starts, sizes, n, st);
}

/* ---- the detail pool -------------------------------------------------------- */

static void
entry_del(struct peer *m, struct peer_entry *e)
{
	if (e->detail != TABLE_NIL)
		pool_release(&m->details, e->detail);
	names_drop(m->names, e->sni_first);
	names_drop(m->names, e->sni_last);
	table_del(m->t, e);
}

/* pool_victim's policy: the entry changed longest ago gives its block up. */
static int
entry_staler(void *ctx, uint32_t a, uint32_t b)
{
	return ((const struct peer_entry *)table_at(ctx, a))->last_us <
	    ((const struct peer_entry *)table_at(ctx, b))->last_us;
}

/*
 * A block for e: a free one, else the stalest of a few sampled detailed
 * entries is evicted with its block. e is not detailed yet, so the sample
 * never picks it.
 */
static struct peer_detail *
detail_get(struct peer *m, struct peer_entry *e)
{
	uint32_t owner = table_slot(m->t, e), i;

	if ((i = pool_alloc(&m->details, owner)) == POOL_NIL) {
		entry_del(m, table_at(m->t, pool_victim(&m->details, entry_staler, m->t)));
		m->evicted++;
		m->details_evicted++;
		i = pool_alloc(&m->details, owner);
	}
	e->detail = i;
	return pool_at(&m->details, i);
}

/* Moves e's inline connections, buckets and last name into a block of its own. */
static struct peer_detail *
detail_attach(struct peer *m, struct peer_entry *e)
{
	struct peer_detail *x = detail_get(m, e);

	for (int k = 0; k < LIGHT_BUCKETS; k++) {
		uint32_t i = e->lb[k].bucket1 - 1;
		if (e->lb[k].bucket1 == 0 || i > e->bucket_top || i + PEER_NBUCKETS <= e->bucket_top)
			continue;
		x->out[i % PEER_NBUCKETS] = e->lb[k].out;
		x->in[i % PEER_NBUCKETS] = e->lb[k].in;
		x->conns[i % PEER_NBUCKETS] = e->lb[k].conns;
	}
	memcpy(x->ring, e->lring, sizeof e->lring);
	memcpy(x->flows, e->lflows, sizeof e->lflows);
	memset(e->lb, 0, sizeof e->lb);
	memset(e->lring, 0, sizeof e->lring);
	memset(e->lflows, 0, sizeof e->lflows);
	return x;
}

/* The first and the last server name seen, "" if none. */
static const char *
sni_first(const struct peer *m, const struct peer_entry *e)
{
	return names_str(m->names, e->sni_first);
}

static const char *
sni_last(const struct peer *m, const struct peer_entry *e)
{
	return names_str(m->names, e->sni_last);
}

/* ---- buckets --------------------------------------------------------------- */

static uint32_t
sat_add32(uint32_t a, uint64_t b)
{
	return b >= UINT32_MAX - a ? UINT32_MAX : a + (uint32_t)b;
}

/* Moves the newest bucket up to now's, zeroing (inline: freeing) those it passes. */
static void
roll(struct peer *m, struct peer_entry *e, uint64_t now_us)
{
	uint32_t idx = (uint32_t)(now_us / BUCKET_US);
	struct peer_detail *x = detail_of(m, e);

	if (e->bucket_top == 0 || idx >= e->bucket_top + PEER_NBUCKETS) {
		if (x != NULL) {
			memset(x->out, 0, sizeof x->out);
			memset(x->in, 0, sizeof x->in);
			memset(x->conns, 0, sizeof x->conns);
		} else
			memset(e->lb, 0, sizeof e->lb);
		e->bucket_top = idx;
		return;
	}
	if (x == NULL) {
		if (idx <= e->bucket_top)
			return;
		e->bucket_top = idx;
		for (int k = 0; k < LIGHT_BUCKETS; k++)
			if (e->lb[k].bucket1 != 0 && e->lb[k].bucket1 - 1 + PEER_NBUCKETS <= idx)
				memset(&e->lb[k], 0, sizeof e->lb[k]);
		return;
	}
	while (e->bucket_top < idx) {
		uint32_t b = ++e->bucket_top % PEER_NBUCKETS;
		x->out[b] = x->in[b] = 0;
		x->conns[b] = 0;
	}
}

/* Adds to bucket i, one the ring keeps (rolled: i <= bucket_top < i + PEER_NBUCKETS). */
static void
bucket_add(struct peer *m, struct peer_entry *e, uint32_t i, uint64_t out, uint64_t in, int conn)
{
	struct peer_detail *x = detail_of(m, e);

	if (x == NULL) {
		struct peer_lbucket *b = NULL;
		if (out == 0 && in == 0 && !conn)
			return;
		for (int k = 0; k < LIGHT_BUCKETS && b == NULL; k++)
			if (e->lb[k].bucket1 == i + 1)
				b = &e->lb[k];
		for (int k = 0; k < LIGHT_BUCKETS && b == NULL; k++)
			if (e->lb[k].bucket1 == 0) {
				b = &e->lb[k];
				b->bucket1 = i + 1;
			}
		if (b != NULL) {
			b->out = sat_add32(b->out, out);
			b->in = sat_add32(b->in, in);
			if (conn && b->conns < UINT16_MAX)
				b->conns++;
			return;
		}
		x = detail_attach(m, e);
	}
	x->out[i % PEER_NBUCKETS] = sat_add32(x->out[i % PEER_NBUCKETS], out);
	x->in[i % PEER_NBUCKETS] = sat_add32(x->in[i % PEER_NBUCKETS], in);
	if (conn && x->conns[i % PEER_NBUCKETS] < UINT16_MAX)
		x->conns[i % PEER_NBUCKETS]++;
}

static void
credit(struct peer *m, struct peer_entry *e, uint64_t out, uint64_t in, uint64_t now_us)
{
	roll(m, e, now_us);
	bucket_add(m, e, e->bucket_top, out, in, 0);
	e->total_out += out;
	e->total_in += in;
}

enum { V_OUT, V_IN, V_CONNS };

static uint64_t
bucket_val(const struct peer *m, const struct peer_entry *e, int v, uint32_t i)
{
	const struct peer_detail *x = detail_of(m, e);

	if (x != NULL)
		return v == V_OUT ? x->out[i % PEER_NBUCKETS] : v == V_IN ? x->in[i % PEER_NBUCKETS] :
		    x->conns[i % PEER_NBUCKETS];
	for (int k = 0; k < LIGHT_BUCKETS; k++)
		if (e->lb[k].bucket1 == i + 1)
			return v == V_OUT ? e->lb[k].out : v == V_IN ? e->lb[k].in : e->lb[k].conns;
	return 0;
}

/* Sum of V_OUT, V_IN or V_CONNS over the buckets overlapping [now - w, now]. */
static uint64_t
window_sum(const struct peer *m, const struct peer_entry *e, int v, uint32_t w, uint64_t now_us)
{
	uint64_t from_us = now_us > (uint64_t)w * US ? now_us - (uint64_t)w * US : 0;
	uint32_t lo = (uint32_t)(from_us / BUCKET_US), hi = (uint32_t)(now_us / BUCKET_US);
	uint64_t sum = 0;

	if (e->bucket_top == 0)
		return 0;
	if (hi > e->bucket_top)
		hi = e->bucket_top;
	if (e->bucket_top >= PEER_NBUCKETS && lo <= e->bucket_top - PEER_NBUCKETS)
		lo = e->bucket_top - PEER_NBUCKETS + 1;
	for (uint32_t i = lo; i <= hi && i >= lo; i++)
		sum += bucket_val(m, e, v, i);
	return sum;
}

/* ---- the ledger ------------------------------------------------------------ */

static void
entry_touch(struct peer *m, struct peer_entry *e, uint64_t now_us)
{
	if (e->last_us < now_us)
		e->last_us = now_us;
	table_touch(m->t, e, 0);
}

/* The entry a flow cached, if it is still that flow's (slots are reused). */
static struct peer_entry *
entry_of_flow(struct peer *m, const struct flow *f)
{
	uint32_t slot = (f->peer_slot & ~SLOT_PENDING) - 1;
	struct peer_entry *e = table_at(m->t, slot);

	/*
	 * The 8-bit tag and the host catch a slot reused by another entry; a
	 * reuse by the same host with the same tag (1 in 256 evictions) would
	 * credit the rest of one flow to the wrong destination of that host.
	 */
	if (!e->node.used || (uint8_t)e->node.user != f->peer_tag ||
	    !addr_eq(&e->key.host, flow_initiator(f, NULL))) {
		m->stale_slots++;
		return NULL;
	}
	return e;
}

/* Whether this flow belongs in the ledger at all. */
static int
flow_wanted(const struct peer *m, const struct flow *f)
{
	uint16_t port;

	if (!f->init_internal || f->resp_internal)
		return 0;
	if (f->key.proto != 6 && f->key.proto != 17)
		return 0;
	flow_responder(f, &port);
	if (port == 53 || (m->dns_id > 0 && (f->app_master == m->dns_id || f->app_proto == m->dns_id)))
		return 0;
	return 1;
}

static void
entry_init(struct peer *m, struct peer_entry *e, const struct flow *f, uint64_t now_us)
{
	uint16_t port;

	e->node.user = ++m->serial;
	e->detail = TABLE_NIL;
	e->first_peer = *flow_responder(f, &port);
	e->first_port = port;
	e->l4proto = f->key.proto;
	e->first_us = f->first_us;
	e->last_us = now_us;
	names_copy(m->names, &e->sni_first, f->name);
	m->created++;
}

/* Finds or makes the flow's entry, caches it in the flow; NULL if not ours. */
static struct peer_entry *
attach(struct peer *m, struct flow *f, uint64_t now_us)
{
	struct peer_key k;
	char dom[DOMAIN_MAX];
	struct peer_entry *e;

	if (!flow_wanted(m, f))
		return NULL;
	memset(&k, 0, sizeof k);
	k.host = *flow_initiator(f, NULL);
	if (names_domain(m->names, f->name, dom, sizeof dom) != NULL)
		k.dest = hash_bytes(dom, strlen(dom), m->seed) & ~KEY_ADDR_BIT;
	else
		k.dest = hash_bytes(flow_responder(f, NULL), sizeof(struct ip_addr), m->seed) | KEY_ADDR_BIT;
	uint32_t h = (uint32_t)hash_mix64(k.dest ^ hash_bytes(&k.host, sizeof k.host, m->seed));
	if ((e = table_lookup(m->t, &k, h)) == NULL) {
		if (table_full(m->t)) {
			entry_del(m, table_head(m->t, 0));
			m->evicted++;
		}
		e = table_add(m->t, &k, h, 0);
		entry_init(m, e, f, now_us);
	}
	if (f->name != NAME_NONE)
		names_copy(m->names, &e->sni_last, f->name);
	/* Keep the most specific application seen: a later plain-TLS flow does not erase Dropbox. */
	if (f->app_proto != 0 || e->app_proto == 0) {
		e->app_master = f->app_master;
		e->app_proto = f->app_proto;
		e->app_category = f->app_category;
	}
	e->live.peer = *flow_responder(f, &e->live.dport);
	flow_initiator(f, &e->live.sport);
	e->live.start_us = f->first_us;
	e->live.l4proto = f->key.proto;
	e->live.out = e->live.in = 0;
	e->live_open = 1;
	f->peer_slot = (table_slot(m->t, e) + 1) | SLOT_PENDING;
	f->peer_tag = (uint8_t)e->node.user;
	entry_touch(m, e, now_us);
	return e;
}

static int
is_live(const struct peer_entry *e, const struct flow *f)
{
	uint16_t sport;

	flow_initiator(f, &sport);
	return e->live_open && e->live.start_us == f->first_us && e->live.sport == sport;
}

/* Credits what the flow carried before it was attached, once. */
static void
settle(struct peer *m, struct peer_entry *e, struct flow *f, uint64_t now_us)
{
	if (f->peer_slot & SLOT_PENDING) {
		credit(m, e, f->payload_bytes[FLOW_DIR_FWD], f->payload_bytes[FLOW_DIR_REV], now_us);
		f->peer_slot &= ~SLOT_PENDING;
	}
	if (is_live(e, f)) {
		e->live.dur_ms = (uint32_t)((f->last_us - f->first_us) / 1000u);
		e->live.out = sat_add32(0, f->payload_bytes[FLOW_DIR_FWD]);
		e->live.in = sat_add32(0, f->payload_bytes[FLOW_DIR_REV]);
	}
}

/* ---- hooks ------------------------------------------------------------------ */

static void
peer_packet(void *mod, struct flow *f, int dir, const struct pkt *p)
{
	struct peer *m = mod;
	struct peer_entry *e;

	if (f->peer_slot == 0 || (p->payload_len == 0 && !(f->peer_slot & SLOT_PENDING)))
		return;
	if ((e = entry_of_flow(m, f)) == NULL) {
		f->peer_slot = 0;
		return;
	}
	if (f->peer_slot & SLOT_PENDING)
		settle(m, e, f, p->ts_us);	/* includes this packet: flow accounting ran first */
	else {
		credit(m, e, dir == FLOW_DIR_FWD ? p->payload_len : 0, dir == FLOW_DIR_REV ? p->payload_len : 0,
		    p->ts_us);
		if (is_live(e, f)) {
			uint32_t *v = dir == FLOW_DIR_FWD ? &e->live.out : &e->live.in;
			*v = sat_add32(*v, p->payload_len);
			e->live.dur_ms = (uint32_t)((p->ts_us - e->live.start_us) / 1000u);
		}
	}
	entry_touch(m, e, p->ts_us);
}

static void
peer_flow_classified(void *mod, struct flow *f, uint64_t now_us)
{
	struct peer *m = mod;

	if (f->peer_slot != 0 && entry_of_flow(m, f) != NULL)
		return;		/* classified twice: the bytes are credited already */
	attach(m, f, now_us);
}

/* Adds an answered connection to the ring, the flow list and the counts. */
static void
record_conn(struct peer *m, struct peer_entry *e, const struct flow *f, uint64_t now_us)
{
	struct peer_detail *x = e->detail == TABLE_NIL && e->ring_next >= PEER_LIGHT ? detail_attach(m, e) :
	    detail_of(m, e);
	struct peer_conn *c = x != NULL ? &x->ring[e->ring_next] : &e->lring[e->ring_next];
	struct peer_flow *pf = x != NULL ? &x->flows[e->flow_next] : &e->lflows[e->flow_next];
	uint32_t idx = (uint32_t)(f->first_us / BUCKET_US);

	c->start_us = f->first_us;
	c->out = sat_add32(0, f->payload_bytes[FLOW_DIR_FWD]);
	c->in = sat_add32(0, f->payload_bytes[FLOW_DIR_REV]);
	e->ring_next = (uint8_t)((e->ring_next + 1) % PEER_RING);
	if (e->nring < PEER_RING)
		e->nring++;
	pf->peer = *flow_responder(f, &pf->dport);
	flow_initiator(f, &pf->sport);
	pf->start_us = f->first_us;
	pf->dur_ms = (uint32_t)((f->last_us - f->first_us) / 1000u);
	pf->out = c->out;
	pf->in = c->in;
	pf->l4proto = f->key.proto;
	e->flow_next = (uint8_t)((e->flow_next + 1) % PEER_FLOWS);
	e->total_conns++;
	/* Counted in the bucket the connection started in, if it is still kept. */
	roll(m, e, now_us);
	if (idx + PEER_NBUCKETS <= e->bucket_top)
		return;
	if (idx > e->bucket_top)
		idx = e->bucket_top;
	bucket_add(m, e, idx, 0, 0, 1);
}

static void
peer_flow_end(void *mod, struct flow *f, int why, uint64_t now_us)
{
	struct peer *m = mod;
	struct peer_entry *e = NULL;

	(void)why;
	if (f->peer_slot != 0)
		e = entry_of_flow(m, f);
	/* Never classified (no payload for nDPI): an unanswered attempt needs no entry. */
	if (e == NULL && f->payload_bytes[FLOW_DIR_REV] != 0)
		e = attach(m, f, now_us);
	if (e == NULL)
		return;
	settle(m, e, f, now_us);
	if (is_live(e, f))
		e->live_open = 0;
	f->peer_slot = 0;
	/* No payload back (no answer, refused, RST without data): not a connection that worked. */
	if (f->payload_bytes[FLOW_DIR_REV] != 0)
		record_conn(m, e, f, now_us);
	entry_touch(m, e, now_us);
}

static void
peer_tick(void *mod, uint64_t now_us)
{
	struct peer *m = mod;
	struct peer_entry *e;

	while ((e = table_head(m->t, 0)) != NULL && e->last_us + (uint64_t)PEER_IDLE_S * US < now_us) {
		entry_del(m, e);
		m->expired++;
	}
}

/* ---- evaluation ------------------------------------------------------------- */

static void
fill_subject(const struct peer *m, const struct peer_entry *e, struct subject *s)
{
	memset(s, 0, sizeof *s);
	s->host = e->key.host;
	s->peer = e->first_peer;
	s->has_peer = 1;
	s->name = e->sni_first != NAME_NONE ? sni_first(m, e) : NULL;
	s->port = e->first_port;
	s->l4proto = e->l4proto;
	s->app_master = e->app_master;
	s->app_proto = e->app_proto;
	s->app_category = e->app_category;
	s->key = e->key.dest;
	s->obj = e;
}

static void
peer_each(void *mod, uint64_t since_us, uint64_t now_us, detector_visit_fn visit, void *vctx)
{
	struct peer *m = mod;
	struct subject s;

	(void)now_us;
	for (struct peer_entry *e = table_tail(m->t, 0); e != NULL && e->last_us >= since_us;
	    e = table_prev(m->t, e)) {
		fill_subject(m, e, &s);
		visit(vctx, &s);
	}
}

static double
peer_value(void *mod, const struct subject *s, const struct rule_cond *c, uint64_t now_us)
{
	const struct peer *m = mod;
	const struct peer_entry *e = s->obj;
	struct peer_stats st;
	double out, in;

	switch (c->metric) {
	case M_PEER_OUT_BYTES:
		return (double)window_sum(m, e, V_OUT, c->window_s, now_us);
	case M_PEER_IN_BYTES:
		return (double)window_sum(m, e, V_IN, c->window_s, now_us);
	case M_PEER_OUT_RATIO:
		out = (double)window_sum(m, e, V_OUT, c->window_s, now_us);
		in = (double)window_sum(m, e, V_IN, c->window_s, now_us);
		return out / (in > 1 ? in : 1);
	case M_BEACON_CONNECTIONS:
	case M_CHUNK_COUNT:
		return (double)window_sum(m, e, V_CONNS, c->window_s, now_us);
	case M_BEACON_SCORE:
		entry_stats(m, e, &st);
		return st.score;
	case M_BEACON_INTERVAL:
		entry_stats(m, e, &st);
		return st.iv_median;
	case M_CHUNK_SIZE_CV:
		entry_stats(m, e, &st);
		/* Too few pieces say nothing about constancy: read as irregular. */
		return st.n >= 4 ? st.sz_cv : 1e9;
	default:
		return 0;
	}
}

/* The flow behind an alert, as alert_add_flow() takes it. */
static void
add_flow(struct alert *a, const struct peer_entry *e, const struct peer_flow *pf, const char *sni,
    const char *app)
{
	struct flow f;

	memset(&f, 0, sizeof f);
	f.key.lo = e->key.host;
	f.key.port_lo = pf->sport;
	f.key.hi = pf->peer;
	f.key.port_hi = pf->dport;
	f.key.proto = pf->l4proto;
	f.init_is_lo = 1;
	f.first_us = pf->start_us;
	f.last_us = pf->start_us + (uint64_t)pf->dur_ms * 1000u;
	f.payload_bytes[FLOW_DIR_FWD] = pf->out;
	f.payload_bytes[FLOW_DIR_REV] = pf->in;
	alert_add_flow(a, &f, app, sni);
}

static void
extra_json(const struct peer *m, struct alert *a, const struct peer_entry *e, const char *sni,
    const struct peer_stats *st)
{
	const char *first = sni_first(m, e);
	struct json j;
	char dom[DOMAIN_MAX], ip[ADDR_STRLEN], ts[40];
	int by_addr = (e->key.dest & KEY_ADDR_BIT) != 0;

	json_init(&j, a->extra, sizeof a->extra);
	json_obj_open(&j, NULL);
	if (by_addr || names_domain(m->names, e->sni_first, dom, sizeof dom) == NULL)
		json_str_kv(&j, "key", addr_fmt(&e->first_peer, ip, sizeof ip));
	else
		json_str_kv(&j, "key", dom);
	json_str_kv(&j, "key_type", by_addr ? "address" : "domain");
	json_arr_open(&j, "server_names");
	if (first[0])
		json_str_kv(&j, NULL, first);
	if (sni[0] && strcmp(sni, first) != 0)
		json_str_kv(&j, NULL, sni);
	json_arr_close(&j);
	json_str_kv(&j, "first_seen", json_fmt_time(e->first_us, ts, sizeof ts));
	json_u64_kv(&j, "connections", e->total_conns);
	json_u64_kv(&j, "bytes_out", e->total_out);
	json_u64_kv(&j, "bytes_in", e->total_in);
	json_u64_kv(&j, "ring", st->n);
	json_obj_open(&j, "interval");
	json_dbl_kv(&j, "median", round(st->iv_median * 1000) / 1000);
	json_dbl_kv(&j, "mad", round(st->iv_mad * 1000) / 1000);
	json_dbl_kv(&j, "skew", round(st->iv_skew * 1000) / 1000);
	json_obj_close(&j);
	json_obj_open(&j, "size");
	json_dbl_kv(&j, "median", st->sz_median);
	json_dbl_kv(&j, "mad", st->sz_mad);
	json_dbl_kv(&j, "skew", round(st->sz_skew * 1000) / 1000);
	json_dbl_kv(&j, "cv", round(st->sz_cv * 1000) / 1000);
	json_obj_close(&j);
	json_dbl_kv(&j, "score", round(st->score * 1000) / 1000);
	json_obj_close(&j);
	if (json_ok(&j))
		snprintf(a->extra_key, sizeof a->extra_key, "peer");
	else
		a->extra[0] = '\0';
}

static void
peer_evidence(void *mod, const struct subject *s, const struct rule *r, struct alert *a,
    uint64_t now_us)
{
	struct peer *m = mod;
	const struct peer_entry *e = s->obj;
	const struct peer_detail *x = detail_of(m, e);
	const struct peer_flow *flows = x != NULL ? x->flows : e->lflows;
	const char *sni = sni_last(m, e);
	struct peer_stats st;
	char app[48], b[32];
	uint32_t w = PEER_NBUCKETS * PEER_BUCKET_S;

	for (size_t i = 0; i < r->ncond; i++)
		if (metric_def(r->cond[i].metric)->scope == MSCOPE_PEER && r->cond[i].window_s) {
			w = r->cond[i].window_s;
			break;
		}
	a->bytes_out = window_sum(m, e, V_OUT, w, now_us);
	a->bytes_in = window_sum(m, e, V_IN, w, now_us);
	if (a->ndests > 0) {
		a->dests[0].bytes_out = a->bytes_out;
		a->dests[0].bytes_in = a->bytes_in;
		a->dests[0].flows = window_sum(m, e, V_CONNS, w, now_us);
	}
	dpi_ids_name(m->dpi, e->app_master, e->app_proto, app, sizeof app);
	/* The flow still open first (an upload in progress), then the newest that ended
	 * (inline, flow_next <= PEER_LIGHT: the same index reads lflows). */
	if (e->live_open)
		add_flow(a, e, &e->live, sni, app);
	for (unsigned i = 1; i <= PEER_FLOWS && i <= e->total_conns; i++)
		add_flow(a, e, &flows[(e->flow_next + PEER_FLOWS - i) % PEER_FLOWS], sni, app);
	entry_stats(m, e, &st);
	snprintf(a->detail, sizeof a->detail, "%u connections, median interval %.0f s, median size %s",
	    e->total_conns, st.iv_median, alert_fmt_bytes((uint64_t)st.sz_median, b, sizeof b));
	extra_json(m, a, e, sni, &st);
}

static void
peer_stats_json(void *mod, struct json *j)
{
	struct peer *m = mod;

	json_u64_kv(j, "entries", table_count(m->t));
	json_u64_kv(j, "capacity", table_capacity(m->t));
	json_u64_kv(j, "created", m->created);
	json_u64_kv(j, "evicted", m->evicted);
	json_u64_kv(j, "expired", m->expired);
	json_u64_kv(j, "stale_flow_slots", m->stale_slots);
	json_u64_kv(j, "details", pool_used(&m->details));
	json_u64_kv(j, "details_capacity", pool_capacity(&m->details));
	json_u64_kv(j, "details_evicted", m->details_evicted);
	json_u64_kv(j, "memory_bytes", table_bytes(m->t) + pool_bytes(&m->details));
}

static void
peer_free(void *mod)
{
	struct peer *m = mod;

	if (m != NULL)
		pool_fini(&m->details);
	table_owner_free(m);
}

/* An entry holds its first and its last server name. */
static size_t
peer_name_refs(const struct sensor_config *cfg)
{
	return 2 * cfg->max_peers;
}

void *
peer_new(const struct detector_env *env, char *err, size_t errlen)
{
	struct peer *m;
	struct table_config tc = {
		.capacity = env->cfg->max_peers, .entry_size = sizeof(struct peer_entry),
		.key_off = offsetof(struct peer_entry, key), .key_len = sizeof(struct peer_key),
		.nlists = 1, .what = "peer",
	};
	struct pool_config xc = {
		.block_size = sizeof(struct peer_detail),
		.capacity = (uint32_t)((tc.capacity + DETAIL_DIV - 1) / DETAIL_DIV), .what = "peer: detail",
	};

	if ((m = table_owner_new(sizeof *m, &tc, err, errlen)) == NULL)
		return NULL;
	m->seed = env->seed ^ 0x7065657200000000ull;
	xc.seed = m->seed;
	if (pool_init(&m->details, &xc, err, errlen) != 0) {
		peer_free(m);
		return NULL;
	}
	m->dpi = env->dpi;
	m->names = env->names;
	m->dns_id = env->dpi ? dpi_proto_lookup(env->dpi, "DNS") : -1;
	return m;
}

const struct detector_ops peer_ops = {
	.name = "peer",
	.scope = MSCOPE_PEER,
	.create = peer_new,
	.name_refs = peer_name_refs,
	.packet = peer_packet,
	.flow_classified = peer_flow_classified,
	.flow_end = peer_flow_end,
	.tick = peer_tick,
	.each = peer_each,
	.value = peer_value,
	.evidence = peer_evidence,
	.stats = peer_stats_json,
	.free = peer_free,
};
