/*
 * dnsmon - see dnsmon.h.
 *
 * Memory: most pairs are one question and its answer (a browser's lookup),
 * a few are busy. A pair keeps inline what a light pair needs, exactly:
 * two minute rows, the epochs' counters, up to LIGHT_HLL sketch registers
 * in sparse form, one name sample and one flow. The first time one of
 * these overflows, the pair borrows a block from the detail pool (the full
 * minute ring, both epochs' 64 registers, three samples, two flows) and
 * its inline state is moved there unchanged, so what the rules read does
 * not depend on when that happened. The pool holds a quarter of
 * --max-dns-pairs blocks; when it is empty the lightest of a few sampled
 * detailed pairs is evicted whole (counted in pairs_evicted and
 * details_evicted), as the pair table itself does when full.
 */
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "cursor.h"
#include "dnsmon.h"
#include "domain.h"
#include "dpi.h"
#include "entropy.h"
#include "hash.h"
#include "json.h"
#include "minring.h"
#include "names.h"
#include "netset.h"
#include "pool.h"
#include "rules.h"
#include "sensor.h"
#include "table.h"

#define DNS_PORT	53
#define EPOCH_US	(300ull * 1000000u)	/* shape metrics: this epoch and the last */
#define HLL_REGS	64			/* 1.04/sqrt(64): ~13 % error, exact-ish when small */
#define NSAMPLES	3
#define SAMPLE_MAX	48			/* raw bytes of a sample name kept */
#define NFLOWS		2
#define FWD_SLOTS	4096			/* recent client questions (direct-mapped) */
#define LIGHT_MINUTES	2			/* minute rows inline */
#define LIGHT_HLL	4			/* sketch registers inline (sparse) */
#define DETAIL_DIV	4			/* detail blocks: one per this many pairs */

/* Minute counters of a pair. */
enum { RC_QUERIES, RC_QNAME, RC_ANSWER, RC__N };

/* Query types a tunnel prefers: they carry the most data back. */
enum { QT_A, QT_AAAA, QT_TXT, QT_NULL, QT_CNAME, QT_MX, QT_OTHER, QT__N };
static const char *const qt_names[QT__N] = { "A", "AAAA", "TXT", "NULL", "CNAME", "MX", "other" };

struct dns_key {
	struct ip_addr host;
	uint64_t dom;		/* hash of the registered domain */
};

/* An epoch's counters; its sketch registers are in the detail or sparse inline. */
struct dns_epoch {
	uint32_t idx;		/* time / EPOCH_US */
	uint32_t queries, rare, named, labels, label_chars, risky;
	float entropy_sum;
	uint8_t label_max;	/* a label is at most 63 bytes */
};

/* What alert_add_flow() needs of a flow that may be gone by alert time. */
struct dns_flowref {
	struct flow_key key;
	uint8_t init_is_lo;
	uint64_t first_us, last_us, out, in;
};

/* The same inline, without the pair's own host (one end of every DNS flow it sees). */
#define LF_USED		1
#define LF_HOST_HI	2	/* the pair's host is key.hi, not key.lo */
#define LF_INIT_LO	4
struct dns_lflow {
	struct ip_addr other;
	uint16_t port_lo, port_hi, vlan;
	uint8_t proto, flags;
	uint64_t first_us, last_us, out, in;
};

/* One inline minute row (minring.h's row for minute min1 - 1). */
struct dns_mrow {
	uint32_t min1;		/* minute + 1; 0: free */
	uint32_t c[RC__N];
};

/* A busy pair's full state, from the pool. */
struct dns_detail {
	uint32_t ring[MINRING_MINUTES * RC__N];
	uint8_t hll[2][HLL_REGS];	/* per epoch slot, as ep[] */
	uint8_t sample_len[NSAMPLES];
	uint8_t sample[NSAMPLES][SAMPLE_MAX];	/* raw name bytes, escaped when an alert shows them */
	struct dns_flowref flows[NFLOWS];
};

/*
 * A (host, domain) pair. Fields marked "light" are only meaningful while
 * detail is TABLE_NIL; once detailed their contents live in the block.
 */
struct dns_pair {
	struct tnode node;
	struct dns_key key;
	uint32_t host_slot, hprev, hnext;	/* the host's list of pairs */
	uint32_t detail;			/* pool block, TABLE_NIL while light */
	uint64_t last_us;
	uint64_t weight;			/* lifetime qname bytes + queries: who stays */
	uint64_t risk;
	struct ip_addr server;
	uint32_t name;				/* the registered domain (names.h reference) */
	uint32_t ring_head;			/* minring.h's head, light or not */
	struct dns_epoch ep[2];
	uint32_t qtypes[QT__N];
	uint8_t nsample;
	uint8_t nhll;				/* light */
	uint8_t sample_len;			/* light: sample 0 */
	uint16_t hll[LIGHT_HLL];		/* light: epoch slot << 12 | register << 6 | rank */
	struct dns_mrow mrow[LIGHT_MINUTES];	/* light */
	uint8_t sample[SAMPLE_MAX];		/* light */
	struct dns_lflow flow;			/* light: flow 0 */
};

struct dns_host {
	struct tnode node;
	struct ip_addr addr;
	uint32_t head;		/* first pair slot, TABLE_NIL if none */
	uint32_t npairs;
};

struct fwd_slot {
	uint64_t qhash;
	struct ip_addr server, client;
	uint64_t t_us;
};

struct dnsmon {
	struct table *pairs, *hosts;
	const struct netset *home;
	struct dpi *dpi;
	size_t per_host;
	uint64_t seed;
	struct fwd_slot *fwd;
	struct domain_cache *domains;	/* the sensor's registered-domain cache, lent */
	struct names *names;		/* the sensor's, lent */
	struct pool details;		/* struct dns_detail, owned by a pair's slot */
	uint64_t details_evicted;
	struct dnsmon_stats st;
};

static const char *
pair_name(const struct dnsmon *m, const struct dns_pair *p)
{
	return names_str(m->names, p->name);
}

/* ---- parsing (RFC 1035 4.1) ------------------------------------------------ */

static int
ldh(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * A name: labels of <len><bytes>, ending at a zero byte or a compression
 * pointer (two top bits set, RFC 1035 4.1.4) to an earlier name.
 *
 *   +--+--+--+--+--+--+--+--+      +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   | 0  0|   length (0..63)|  or  | 1  1|        offset from the message start      |
 *   +--+--+--+--+--+--+--+--+      +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 */
static enum dns_parse_rc
parse_name(const uint8_t *msg, size_t len, struct cursor *c, struct dns_msg *m)
{
	struct cursor at = *c;	/* follows pointers; c itself stops after the first one */
	int jumps = 0;
	size_t wire = 0;

	m->name_len = 0;
	m->nlabels = 0;
	for (;;) {
		size_t here = (size_t)(cur_ptr(&at) - msg);
		uint8_t l = cur_get_u8(&at);
		if (at.err)
			return DNS_PARSE_SHORT;
		if ((l & 0xc0) == 0xc0) {
			size_t off = (size_t)(l & 0x3f) << 8 | cur_get_u8(&at);
			if (at.err)
				return DNS_PARSE_SHORT;
			if (jumps == 0)
				*c = at;
			/* Only backwards, and a bounded number of times: no loops. */
			if (off >= here || ++jumps > 16)
				return DNS_PARSE_BAD_NAME;
			cur_init(&at, msg, len);
			cur_skip(&at, off);
			continue;
		}
		if ((l & 0xc0) != 0)
			return DNS_PARSE_BAD_NAME;	/* 0x40/0x80: extended/reserved label types */
		if (l == 0)
			break;
		wire += 1u + l;
		if (wire + 1 > 255 || m->nlabels >= DNSMON_MAX_LABELS)
			return DNS_PARSE_BAD_NAME;
		const uint8_t *b = cur_take(&at, l);
		if (b == NULL)
			return DNS_PARSE_SHORT;
		if (m->nlabels > 0)
			m->name[m->name_len++] = '.';
		m->lab_off[m->nlabels] = (uint8_t)m->name_len;
		m->lab_len[m->nlabels] = l;
		m->lab_ldh[m->nlabels] = 1;
		for (size_t i = 0; i < l; i++) {
			uint8_t ch = b[i];
			if (ch >= 'A' && ch <= 'Z')
				ch = (uint8_t)(ch + 32);
			if (!ldh(ch))
				m->lab_ldh[m->nlabels] = 0;
			m->name[m->name_len++] = ch;
		}
		m->nlabels++;
	}
	m->name[m->name_len] = '\0';
	if (jumps == 0)
		*c = at;
	return DNS_PARSE_OK;
}

enum dns_parse_rc
dnsmon_parse(const uint8_t *msg, size_t len, struct dns_msg *m)
{
	struct cursor c;
	enum dns_parse_rc rc;

	memset(m, 0, offsetof(struct dns_msg, name));
	m->name[0] = '\0';
	m->name_len = m->nlabels = 0;
	cur_init(&c, msg, len);
	m->id = cur_get_be16(&c);
	m->flags = cur_get_be16(&c);
	m->qdcount = cur_get_be16(&c);
	m->ancount = cur_get_be16(&c);
	cur_skip(&c, 4);
	if (c.err)
		return DNS_PARSE_SHORT;
	m->is_response = (m->flags & 0x8000) != 0;
	if (m->qdcount == 0)
		return DNS_PARSE_NO_QUESTION;
	if ((rc = parse_name(msg, len, &c, m)) != DNS_PARSE_OK)
		return rc;
	m->qtype = cur_get_be16(&c);
	cur_skip(&c, 2);	/* class */
	return c.err ? DNS_PARSE_SHORT : DNS_PARSE_OK;
}

/* ---- the pair table ----------------------------------------------------------- */

static uint32_t
pair_hash(const struct dnsmon *m, const struct dns_key *k)
{
	return (uint32_t)hash_mix64(addr_hash(&k->host, m->seed) ^ k->dom);
}

static uint32_t
host_hash(const struct dnsmon *m, const struct ip_addr *a)
{
	return (uint32_t)addr_hash(a, m->seed + 11);
}

static void
host_unlink(struct dnsmon *m, struct dns_pair *p)
{
	struct dns_host *h = table_at(m->hosts, p->host_slot);

	if (p->hprev != TABLE_NIL)
		((struct dns_pair *)table_at(m->pairs, p->hprev))->hnext = p->hnext;
	else
		h->head = p->hnext;
	if (p->hnext != TABLE_NIL)
		((struct dns_pair *)table_at(m->pairs, p->hnext))->hprev = p->hprev;
	if (--h->npairs == 0)
		table_del(m->hosts, h);
}

static void
detail_release(struct dnsmon *m, struct dns_pair *p)
{
	if (p->detail == TABLE_NIL)
		return;
	pool_release(&m->details, p->detail);
	p->detail = TABLE_NIL;
}

static void
pair_del(struct dnsmon *m, struct dns_pair *p)
{
	detail_release(m, p);
	host_unlink(m, p);
	names_drop(m->names, p->name);
	table_del(m->pairs, p);
}

static struct dns_detail *
detail_of(const struct dnsmon *m, const struct dns_pair *p)
{
	return p->detail == TABLE_NIL ? NULL : pool_at(&m->details, p->detail);
}

/* Whether x goes before y when one must: the lighter, the stalest of equals. */
static int
pair_before(const struct dns_pair *x, const struct dns_pair *y)
{
	return x->weight < y->weight || (x->weight == y->weight && x->last_us < y->last_us);
}

/* The host's lightest pair: the one a new domain pushes out at the per-host cap. */
static struct dns_pair *
host_lightest(struct dnsmon *m, const struct dns_host *h)
{
	struct dns_pair *best = NULL;

	for (uint32_t s = h->head; s != TABLE_NIL;) {
		struct dns_pair *p = table_at(m->pairs, s);
		if (best == NULL || pair_before(p, best))
			best = p;
		s = p->hnext;
	}
	return best;
}

/*
 * Eviction weight (table_victim: the lightest of the 8 stalest goes), so a
 * flood of one-query names cannot push out a heavy tunnel that was quiet
 * for a moment.
 */
static uint64_t
pair_weight(const void *e)
{
	return ((const struct dns_pair *)e)->weight;
}

static struct dns_pair *
pair_get(struct dnsmon *m, const struct ip_addr *host, const char *dom)
{
	struct dns_key k;
	uint32_t hh, ph;
	struct dns_pair *p;
	struct dns_host *h;

	memset(&k, 0, sizeof k);
	k.host = *host;
	k.dom = hash_bytes(dom, strlen(dom), m->seed);
	ph = pair_hash(m, &k);
	if ((p = table_lookup(m->pairs, &k, ph)) != NULL)
		return p;
	hh = host_hash(m, host);
	h = table_lookup(m->hosts, host, hh);
	if (h != NULL && h->npairs >= m->per_host) {
		pair_del(m, host_lightest(m, h));
		m->st.host_cap_evicted++;
		h = table_lookup(m->hosts, host, hh);	/* it may have gone with its last pair */
	}
	if (table_full(m->pairs)) {
		pair_del(m, table_victim(m->pairs, 0, pair_weight));
		m->st.pairs_evicted++;
		h = table_lookup(m->hosts, host, hh);
	}
	if (h == NULL) {
		/* Never full: every host holds at least one pair and both tables have the same size. */
		h = table_add(m->hosts, host, hh, 0);
		h->head = TABLE_NIL;
	}
	p = table_add(m->pairs, &k, ph, 0);
	p->detail = TABLE_NIL;
	p->host_slot = table_slot(m->hosts, h);
	p->hprev = TABLE_NIL;
	p->hnext = h->head;
	if (h->head != TABLE_NIL)
		((struct dns_pair *)table_at(m->pairs, h->head))->hprev = table_slot(m->pairs, p);
	h->head = table_slot(m->pairs, p);
	h->npairs++;
	/* A domain longer than NAMES_MAX is kept cut (it is only shown). */
	p->name = names_intern(m->names, dom, NAMES_MAX);
	return p;
}

/* ---- light state, and the detail a pair borrows when it outgrows it ------------ */

/* pool_victim's policy: the lightest pair gives its block up, as pair_before() says. */
static int
pair_lighter(void *ctx, uint32_t a, uint32_t b)
{
	return pair_before(table_at(ctx, a), table_at(ctx, b));
}

/*
 * A block for p: a free one, else the lightest of a few sampled detailed
 * pairs is evicted with its block (the stalest of equals, as table_victim
 * weighs). p is not detailed yet, so the sample never picks it.
 */
static struct dns_detail *
detail_get(struct dnsmon *m, struct dns_pair *p)
{
	uint32_t owner = table_slot(m->pairs, p), i;

	if ((i = pool_alloc(&m->details, owner)) == POOL_NIL) {
		pair_del(m, table_at(m->pairs, pool_victim(&m->details, pair_lighter, m->pairs)));
		m->st.pairs_evicted++;
		m->details_evicted++;
		i = pool_alloc(&m->details, owner);
	}
	p->detail = i;
	return pool_at(&m->details, i);
}

/* The register and rank a name hash sets (HyperLogLog, Flajolet et al. 2007). */
static void
hll_reg_rank(uint64_t h, unsigned *reg, uint8_t *rank)
{
	uint64_t w = h >> 6;

	*reg = (unsigned)(h & (HLL_REGS - 1));
	*rank = (uint8_t)(w ? __builtin_ctzll(w) + 1 : 59);
}

static void
lflow_expand(const struct dns_pair *p, const struct dns_lflow *l, struct dns_flowref *r)
{
	memset(r, 0, sizeof *r);
	if (!(l->flags & LF_USED))
		return;
	r->key.lo = l->flags & LF_HOST_HI ? l->other : p->key.host;
	r->key.hi = l->flags & LF_HOST_HI ? p->key.host : l->other;
	r->key.port_lo = l->port_lo;
	r->key.port_hi = l->port_hi;
	r->key.vlan = l->vlan;
	r->key.proto = l->proto;
	r->init_is_lo = (l->flags & LF_INIT_LO) != 0;
	r->first_us = l->first_us;
	r->last_us = l->last_us;
	r->out = l->out;
	r->in = l->in;
}

/* Moves p's inline state into a block of its own; returns the block. */
static struct dns_detail *
detail_attach(struct dnsmon *m, struct dns_pair *p)
{
	struct dns_detail *x = detail_get(m, p);

	for (int i = 0; i < LIGHT_MINUTES; i++) {
		uint32_t mm = p->mrow[i].min1 - 1;
		if (p->mrow[i].min1 != 0 && p->ring_head - mm < MINRING_MINUTES)
			memcpy(&x->ring[(mm % MINRING_MINUTES) * RC__N], p->mrow[i].c, sizeof p->mrow[i].c);
	}
	for (int i = 0; i < p->nhll; i++) {
		uint16_t v = p->hll[i];
		x->hll[v >> 12][(v >> 6) & (HLL_REGS - 1)] = (uint8_t)(v & 63);
	}
	x->sample_len[0] = p->sample_len;
	memcpy(x->sample[0], p->sample, sizeof p->sample);
	lflow_expand(p, &p->flow, &x->flows[0]);
	p->nhll = 0;
	memset(p->mrow, 0, sizeof p->mrow);
	memset(&p->flow, 0, sizeof p->flow);
	p->sample_len = 0;
	return x;
}

static struct dns_detail *
detail_need(struct dnsmon *m, struct dns_pair *p)
{
	return p->detail != TABLE_NIL ? pool_at(&m->details, p->detail) : detail_attach(m, p);
}

/*
 * Adds v to counter i of the ring, as minring_add() does: the ring moves up
 * to minute mm first, and the value goes to its newest minute. Inline, a
 * row whose minute left the 10-minute ring is free again.
 */
static void
ring_add(struct dnsmon *m, struct dns_pair *p, uint32_t mm, int i, uint32_t v)
{
	struct dns_mrow *row = NULL;

	if (p->detail != TABLE_NIL) {
		minring_add(&p->ring_head, detail_of(m, p)->ring, RC__N, mm, i, v);
		return;
	}
	if (mm > p->ring_head) {
		for (int k = 0; k < LIGHT_MINUTES; k++)
			if (p->ring_head == 0 || mm - (p->mrow[k].min1 - 1) >= MINRING_MINUTES)
				memset(&p->mrow[k], 0, sizeof p->mrow[k]);
		p->ring_head = mm;
	}
	for (int k = 0; k < LIGHT_MINUTES && row == NULL; k++)
		if (p->mrow[k].min1 == p->ring_head + 1)
			row = &p->mrow[k];
	for (int k = 0; k < LIGHT_MINUTES && row == NULL; k++)
		if (p->mrow[k].min1 == 0) {
			row = &p->mrow[k];
			row->min1 = p->ring_head + 1;
		}
	if (row == NULL) {
		minring_add(&p->ring_head, detail_attach(m, p)->ring, RC__N, mm, i, v);
		return;
	}
	row->c[i] = row->c[i] > UINT32_MAX - v ? UINT32_MAX : row->c[i] + v;
}

/* Counter i over window_s ending at minute mm, as minring_sum() reads it. */
static uint64_t
ring_sum(const struct dnsmon *m, const struct dns_pair *p, int i, uint32_t mm, uint32_t window_s)
{
	uint32_t w = window_s / 60u;
	uint64_t sum = 0;

	if (p->detail != TABLE_NIL)
		return minring_sum(p->ring_head, detail_of(m, p)->ring, RC__N, i, mm, window_s);
	if (w == 0)
		w = 1;
	if (w > MINRING_MINUTES)
		w = MINRING_MINUTES;
	for (int k = 0; k < LIGHT_MINUTES; k++) {
		uint32_t r = p->mrow[k].min1 - 1;
		if (p->mrow[k].min1 != 0 && r <= mm && mm - r < w && r <= p->ring_head &&
		    p->ring_head - r < MINRING_MINUTES)
			sum += p->mrow[k].c[i];
	}
	return sum;
}

/* The epoch slot for now, reset (with its registers) if it held an older epoch. */
static struct dns_epoch *
epoch_cur(struct dnsmon *m, struct dns_pair *p, uint64_t now)
{
	uint32_t e = (uint32_t)(now / EPOCH_US);
	struct dns_epoch *ep = &p->ep[e & 1];

	if (ep->idx != e) {
		memset(ep, 0, sizeof *ep);
		ep->idx = e;
		if (p->detail != TABLE_NIL)
			memset(detail_of(m, p)->hll[e & 1], 0, HLL_REGS);
		else {
			int n = 0;
			for (int i = 0; i < p->nhll; i++)
				if ((p->hll[i] >> 12) != (e & 1))
					p->hll[n++] = p->hll[i];
			p->nhll = (uint8_t)n;
		}
	}
	return ep;
}

/* The previous epoch's slot if it is really the previous epoch, else NULL. */
static const struct dns_epoch *
epoch_prev(const struct dns_pair *p, uint64_t now)
{
	uint32_t e = (uint32_t)(now / EPOCH_US);
	const struct dns_epoch *ep = &p->ep[(e + 1) & 1];

	return e > 0 && ep->idx == e - 1 ? ep : NULL;
}

static const struct dns_epoch *
epoch_now(const struct dns_pair *p, uint64_t now)
{
	uint32_t e = (uint32_t)(now / EPOCH_US);
	const struct dns_epoch *ep = &p->ep[e & 1];

	return ep->idx == e ? ep : NULL;
}

/* Adds a name hash to the sketch of epoch slot s. */
static void
hll_add(struct dnsmon *m, struct dns_pair *p, unsigned s, uint64_t h)
{
	unsigned reg;
	uint8_t rank;

	hll_reg_rank(h, &reg, &rank);
	if (p->detail == TABLE_NIL) {
		uint16_t at = (uint16_t)(s << 12 | reg << 6);
		for (int i = 0; i < p->nhll; i++)
			if ((p->hll[i] & ~63u) == at) {
				if (rank > (p->hll[i] & 63))
					p->hll[i] = (uint16_t)(at | rank);
				return;
			}
		if (p->nhll < LIGHT_HLL) {
			p->hll[p->nhll++] = (uint16_t)(at | rank);
			return;
		}
	}
	uint8_t *r = &detail_need(m, p)->hll[s][reg];
	if (rank > *r)
		*r = rank;
}

/* Epoch slot s's registers, expanded from the inline sparse form if light. */
static const uint8_t *
hll_regs(const struct dnsmon *m, const struct dns_pair *p, unsigned s, uint8_t *buf)
{
	if (p->detail != TABLE_NIL)
		return detail_of(m, p)->hll[s];
	memset(buf, 0, HLL_REGS);
	for (int i = 0; i < p->nhll; i++)
		if ((unsigned)(p->hll[i] >> 12) == s)
			buf[(p->hll[i] >> 6) & (HLL_REGS - 1)] = (uint8_t)(p->hll[i] & 63);
	return buf;
}

/* HyperLogLog estimate (Flajolet et al. 2007) with linear counting when small. */
static double
hll_count(const uint8_t *reg)
{
	double sum = 0, m = HLL_REGS;
	int zeros = 0;

	for (int i = 0; i < HLL_REGS; i++) {
		sum += ldexp(1.0, -reg[i]);
		zeros += reg[i] == 0;
	}
	double e = 0.709 * m * m / sum;
	if (e <= 2.5 * m && zeros > 0)
		e = m * log(m / zeros);
	return floor(e + 0.5);
}

static int
qtype_class(uint16_t qt)
{
	switch (qt) {
	case 1: return QT_A;
	case 28: return QT_AAAA;
	case 16: return QT_TXT;
	case 10: return QT_NULL;
	case 5: return QT_CNAME;
	case 15: return QT_MX;
	default: return QT_OTHER;
	}
}

/* ---- the packet path ---------------------------------------------------------- */

/* Where the registered domain starts: the first label of the longest all-LDH suffix it fits. */
struct qname_split {
	char dom[DOMAIN_MAX];
	size_t first;		/* index of the registered domain's first label */
	size_t prefix_bytes;	/* bytes of the labels before it, with their dots */
};

static int
split_name(struct dnsmon *m, const struct flow *f, const struct dns_msg *d, struct qname_split *q)
{
	size_t k = d->nlabels, dots = 0;
	const char *suffix;

	/* Encoded labels (base128, binary) are not hostnames: libpsl only sees the LDH tail. */
	while (k > 0 && d->lab_ldh[k - 1])
		k--;
	if (k == d->nlabels)
		return -1;
	suffix = (const char *)d->name + d->lab_off[k];
	/*
	 * The flow's name is nDPI's reading of the same question most of the
	 * time, and a server's name is asked about flow after flow (and named
	 * by its TLS flows): its answer is kept with the name. Anything else
	 * (a tunnel's one-off name) goes through the cache.
	 */
	if (f->name != NAME_NONE && strcmp(names_str(m->names, f->name), suffix) == 0) {
		if (names_domain(m->names, f->name, q->dom, sizeof q->dom) == NULL)
			return -1;
	} else if (domain_registered_cached(m->domains, suffix, q->dom, sizeof q->dom) == NULL)
		return -1;
	for (const char *s = q->dom; *s; s++)
		dots += *s == '.';
	if (dots + 1 > d->nlabels - k)
		return -1;
	q->first = d->nlabels - (dots + 1);
	q->prefix_bytes = q->first > 0 ? d->lab_off[q->first] : 0;
	return 0;
}

/* Name bytes for the evidence, non-printable ones escaped as \DDD (RFC 4343). */
static void
sample_text(const uint8_t *name, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		uint8_t ch = name[i];
		if (ch > 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\%03u", ch);
	}
	out[o] = '\0';
}

/* The flow in the pair's inline slot, if it is that flow or the slot is free; else -1. */
static int
lflow_note(struct dns_pair *p, const struct flow *f)
{
	struct dns_lflow *l = &p->flow;
	int hi = addr_eq(&f->key.hi, &p->key.host);
	const struct ip_addr *other = hi ? &f->key.lo : &f->key.hi;

	if (!hi && !addr_eq(&f->key.lo, &p->key.host))
		return -1;
	if (l->flags & LF_USED) {
		if (!addr_eq(&l->other, other) || !(l->flags & LF_HOST_HI) != !hi || l->port_lo != f->key.port_lo ||
		    l->port_hi != f->key.port_hi || l->vlan != f->key.vlan || l->proto != f->key.proto ||
		    l->first_us != f->first_us)
			return -1;
	} else {
		l->other = *other;
		l->port_lo = f->key.port_lo;
		l->port_hi = f->key.port_hi;
		l->vlan = f->key.vlan;
		l->proto = f->key.proto;
		l->flags = (uint8_t)(LF_USED | (hi ? LF_HOST_HI : 0) | (f->init_is_lo ? LF_INIT_LO : 0));
		l->first_us = f->first_us;
	}
	l->last_us = f->last_us;
	l->out = f->payload_bytes[FLOW_DIR_FWD];
	l->in = f->payload_bytes[FLOW_DIR_REV];
	return 0;
}

static void
note_flow(struct dnsmon *m, struct dns_pair *p, const struct flow *f)
{
	struct dns_flowref *r = NULL, *flows;

	if (p->detail == TABLE_NIL && lflow_note(p, f) == 0)
		return;
	flows = detail_need(m, p)->flows;
	for (int i = 0; i < NFLOWS; i++)
		if (memcmp(&flows[i].key, &f->key, sizeof f->key) == 0 && flows[i].first_us == f->first_us)
			r = &flows[i];
	if (r == NULL) {
		memmove(&flows[1], &flows[0], sizeof flows[0] * (NFLOWS - 1));
		r = &flows[0];
		r->key = f->key;
		r->init_is_lo = f->init_is_lo;
		r->first_us = f->first_us;
	}
	r->last_us = f->last_us;
	r->out = f->payload_bytes[FLOW_DIR_FWD];
	r->in = f->payload_bytes[FLOW_DIR_REV];
}

/* Keeps the name as sample nsample % NSAMPLES; inline there is room for the first. */
static void
note_sample(struct dnsmon *m, struct dns_pair *p, const struct dns_msg *d)
{
	size_t sl = d->name_len < SAMPLE_MAX ? d->name_len : SAMPLE_MAX;
	int i = p->nsample % NSAMPLES;

	if (p->detail == TABLE_NIL && i == 0) {
		memcpy(p->sample, d->name, sl);
		p->sample_len = (uint8_t)sl;
	} else {
		struct dns_detail *x = detail_need(m, p);
		memcpy(x->sample[i], d->name, sl);
		x->sample_len[i] = (uint8_t)sl;
	}
	p->nsample = (uint8_t)((p->nsample + 1) % (2 * NSAMPLES));
}

static void
account_query(struct dnsmon *m, struct dns_pair *p, const struct dns_msg *d,
    const struct qname_split *q, const struct flow *f, int dir, const struct pkt *pk)
{
	uint64_t now = pk->ts_us;
	uint32_t min = minring_minute(now);
	struct dns_epoch *ep = epoch_cur(m, p, now);
	int qt = qtype_class(d->qtype);

	ring_add(m, p, min, RC_QUERIES, 1);
	ring_add(m, p, min, RC_QNAME, (uint32_t)q->prefix_bytes);
	p->weight += q->prefix_bytes + 1;
	p->qtypes[qt]++;
	ep->queries++;
	if (qt == QT_TXT || qt == QT_NULL || qt == QT_CNAME || qt == QT_MX)
		ep->rare++;
	if (q->first > 0) {
		size_t chars = q->prefix_bytes - q->first;	/* without the dots */
		uint8_t buf[256];
		size_t n = 0;
		for (size_t i = 0; i < q->first; i++) {
			memcpy(buf + n, d->name + d->lab_off[i], d->lab_len[i]);
			n += d->lab_len[i];
			if (d->lab_len[i] > ep->label_max)
				ep->label_max = d->lab_len[i];
		}
		ep->named++;
		ep->labels += (uint32_t)q->first;
		ep->label_chars += (uint32_t)chars;
		ep->entropy_sum += (float)entropy_bytes(buf, n);
		hll_add(m, p, ep->idx & 1, hash_bytes(d->name, q->prefix_bytes, 0x5eed));
		note_sample(m, p, d);
	}
	(void)dir;
	p->risk |= f->app_risk;
	p->server = pk->dst;
}

/* The internal client that asked host this question (hash qh) just now, or NULL. */
static const struct ip_addr *
forwarded(struct dnsmon *m, uint64_t qh, const struct ip_addr *host, uint64_t now)
{
	const struct fwd_slot *s = &m->fwd[qh & (FWD_SLOTS - 1)];

	if (s->qhash == qh && addr_eq(&s->server, host) &&
	    now - s->t_us <= (uint64_t)DNSMON_FORWARD_S * 1000000u)
		return &s->client;
	return NULL;
}

/*
 * nDPI's risks on a forwarded query's flow (the resolver's own flow, often
 * one per question) are evidence about the client that asked: credited to
 * the client's pair, counted once per flow at its first response.
 */
static void
credit_risk(struct dnsmon *m, const struct dns_msg *d, const struct ip_addr *client,
    const struct flow *f, int dir, uint64_t now)
{
	struct qname_split q;
	struct dns_key k;
	struct dns_pair *p;

	if (split_name(m, f, d, &q) != 0)
		return;
	memset(&k, 0, sizeof k);
	k.host = *client;
	k.dom = hash_bytes(q.dom, strlen(q.dom), m->seed);
	if ((p = table_lookup(m->pairs, &k, pair_hash(m, &k))) == NULL)
		return;
	p->risk |= f->app_risk;
	if (d->is_response && f->pkts[dir] == 1)
		epoch_cur(m, p, now)->risky++;
}

static void
dns_message(struct dnsmon *m, struct flow *f, int dir, const struct pkt *pk, const uint8_t *msg, size_t len)
{
	struct dns_msg d;
	struct qname_split q;
	int src_internal = dir == FLOW_DIR_FWD ? f->init_internal : f->resp_internal;
	int dst_internal = dir == FLOW_DIR_FWD ? f->resp_internal : f->init_internal;

	if (dnsmon_parse(msg, len, &d) != DNS_PARSE_OK) {
		m->st.malformed++;
		return;
	}
	/* The client: the sender of a query, the receiver of a response. */
	const struct ip_addr *client = d.is_response ? &pk->dst : &pk->src;
	const struct ip_addr *server = d.is_response ? &pk->src : &pk->dst;
	int client_internal = d.is_response ? dst_internal : src_internal;
	int server_internal = d.is_response ? src_internal : dst_internal;
	if (!client_internal || d.nlabels == 0) {
		m->st.ignored++;
		return;
	}
	/* Before the domain lookup: a resolver forwards as much as its clients ask. */
	uint64_t qh = hash_bytes(d.name, d.name_len, 0xf0f0);
	const struct ip_addr *asker = forwarded(m, qh, client, pk->ts_us);
	if (asker != NULL) {
		m->st.forwarded += !d.is_response;
		if (f->app_risk != 0)
			credit_risk(m, &d, asker, f, dir, pk->ts_us);
		return;
	}
	if (split_name(m, f, &d, &q) != 0) {
		m->st.ignored++;
		return;
	}
	if (!d.is_response && server_internal) {
		struct fwd_slot *s = &m->fwd[qh & (FWD_SLOTS - 1)];
		s->qhash = qh;
		s->server = *server;
		s->client = *client;
		s->t_us = pk->ts_us;
	}
	struct dns_pair *p = pair_get(m, client, q.dom);
	if (d.is_response) {
		m->st.responses++;
		ring_add(m, p, minring_minute(pk->ts_us), RC_ANSWER, (uint32_t)len);
		/* nDPI has seen the question and its answer by now: a risky flow
		 * counts once, at its first response. */
		if (f->app_risk != 0 && f->pkts[dir] == 1) {
			epoch_cur(m, p, pk->ts_us)->risky++;
			p->risk |= f->app_risk;
		}
	} else {
		m->st.queries++;
		account_query(m, p, &d, &q, f, dir, pk);
	}
	note_flow(m, p, f);
	p->last_us = pk->ts_us;
	table_touch(m->pairs, p, -1);
}

static void
dnsmon_packet(void *mod, struct flow *f, int dir, const struct pkt *pk)
{
	struct dnsmon *m = mod;
	const uint8_t *msg = pk->payload;
	size_t len = pk->payload_caplen;

	/* Every packet comes here: leave at once unless it is port 53. */
	if ((pk->sport != DNS_PORT && pk->dport != DNS_PORT) || msg == NULL || len == 0)
		return;
	if (pk->l4_proto == IPPROTO_TCP) {
		/* RFC 1035 4.2.2 / RFC 7766: a 2-byte length, then the message. We
		 * read a message that starts a segment; a continuation is skipped. */
		struct cursor c;
		cur_init(&c, msg, len);
		size_t mlen = cur_get_be16(&c);
		if (c.err || mlen < 12 || len < 14) {
			m->st.ignored++;
			return;
		}
		m->st.tcp++;
		msg += 2;
		len -= 2;
		if (len > mlen)
			len = mlen;
	} else if (pk->l4_proto != IPPROTO_UDP)
		return;
	dns_message(m, f, dir, pk, msg, len);
}

/* ---- evaluation ----------------------------------------------------------------- */

static void
dnsmon_each(void *mod, uint64_t since_us, uint64_t now_us, detector_visit_fn visit, void *vctx)
{
	struct dnsmon *m = mod;

	(void)now_us;
	for (struct dns_pair *p = table_tail(m->pairs, 0); p != NULL && p->last_us >= since_us;) {
		struct dns_pair *prev = table_prev(m->pairs, p);
		struct subject s;
		memset(&s, 0, sizeof s);
		s.host = p->key.host;
		s.name = pair_name(m, p);
		s.port = DNS_PORT;
		s.l4proto = IPPROTO_UDP;
		s.app_risk = p->risk;
		s.obj = p;
		visit(vctx, &s);
		p = prev;
	}
}

/*
 * Distinct names: the sketch's estimate, never more than the queries that
 * had a name below the domain (64 registers overshoot by ~10-20 % in the
 * hundreds, and an analyst reading "597 names in 499 queries" stops trusting
 * the rest).
 */
static double
distinct_names(const uint8_t *hll, uint32_t named)
{
	double e = hll_count(hll);

	return e < named ? e : named;
}

/* The shape metrics over this epoch and the last. */
struct dns_shape {
	uint32_t queries, rare, named, labels, label_chars, label_max, risky;
	double entropy_sum;
	uint8_t hll[HLL_REGS];
};

static void
shape(const struct dnsmon *m, const struct dns_pair *p, uint64_t now, struct dns_shape *sh)
{
	const struct dns_epoch *e[2] = { epoch_now(p, now), epoch_prev(p, now) };
	uint8_t buf[HLL_REGS];

	memset(sh, 0, sizeof *sh);
	for (int i = 0; i < 2; i++) {
		if (e[i] == NULL)
			continue;
		sh->queries += e[i]->queries;
		sh->rare += e[i]->rare;
		sh->named += e[i]->named;
		sh->labels += e[i]->labels;
		sh->label_chars += e[i]->label_chars;
		sh->risky += e[i]->risky;
		sh->entropy_sum += e[i]->entropy_sum;
		if (e[i]->label_max > sh->label_max)
			sh->label_max = e[i]->label_max;
		const uint8_t *hll = hll_regs(m, p, e[i]->idx & 1, buf);
		for (int r = 0; r < HLL_REGS; r++)
			if (hll[r] > sh->hll[r])
				sh->hll[r] = hll[r];
	}
}

static double
dnsmon_value(void *mod, const struct subject *s, const struct rule_cond *c, uint64_t now)
{
	const struct dnsmon *m = mod;
	const struct dns_pair *p = s->obj;
	uint32_t min = minring_minute(now);
	struct dns_shape sh;

	switch (c->metric) {
	case M_DNS_QUERIES:
		return (double)ring_sum(m, p, RC_QUERIES, min, c->window_s);
	case M_DNS_QNAME_BYTES:
		return (double)ring_sum(m, p, RC_QNAME, min, c->window_s);
	case M_DNS_ANSWER_BYTES:
		return (double)ring_sum(m, p, RC_ANSWER, min, c->window_s);
	default:
		break;
	}
	shape(m, p, now, &sh);
	switch (c->metric) {
	case M_DNS_SUBDOMAINS:
		return distinct_names(sh.hll, sh.named);
	case M_DNS_LABEL_MAX:
		return sh.label_max;
	case M_DNS_LABEL_AVG:
		return sh.labels ? (double)sh.label_chars / sh.labels : 0;
	case M_DNS_ENTROPY:
		return sh.named ? sh.entropy_sum / sh.named : 0;
	case M_DNS_QTYPE_SHARE:
		return sh.queries ? (double)sh.rare / sh.queries : 0;
	case M_DNS_RISKY_FLOWS:
		return sh.risky;
	default:
		return 0;
	}
}

static void
add_flows(const struct dnsmon *m, const struct dns_pair *p, struct alert *a)
{
	const struct dns_detail *x = detail_of(m, p);
	struct dns_flowref light;

	lflow_expand(p, &p->flow, &light);
	for (int i = 0; i < NFLOWS; i++) {
		const struct dns_flowref *r = x != NULL ? &x->flows[i] : i == 0 ? &light : NULL;
		struct flow f;
		if (r == NULL)
			break;
		if (r->first_us == 0)
			continue;
		memset(&f, 0, sizeof f);
		f.key = r->key;
		f.init_is_lo = r->init_is_lo;
		f.first_us = r->first_us;
		f.last_us = r->last_us;
		f.payload_bytes[FLOW_DIR_FWD] = r->out;
		f.payload_bytes[FLOW_DIR_REV] = r->in;
		alert_add_flow(a, &f, "DNS", pair_name(m, p));
	}
}

static void
dnsmon_evidence(void *mod, const struct subject *s, const struct rule *r, struct alert *a, uint64_t now)
{
	const struct dnsmon *m = mod;
	const struct dns_pair *p = s->obj;
	const struct dns_detail *x = detail_of(m, p);
	uint32_t min = minring_minute(now);
	struct dns_shape sh;
	struct json j;
	char risks[256], srv[ADDR_STRLEN], b[32];

	(void)r;
	shape(m, p, now, &sh);
	a->bytes_out = ring_sum(m, p, RC_QNAME, min, a->window_s);
	a->bytes_in = ring_sum(m, p, RC_ANSWER, min, a->window_s);
	/* The DNS server the queries went to, named by the domain they were for. */
	struct alert_dest *ad = &a->dests[0];
	memset(ad, 0, sizeof *ad);
	ad->ip = p->server;
	ad->port = DNS_PORT;
	ad->l4proto = IPPROTO_UDP;
	snprintf(ad->app, sizeof ad->app, "DNS");
	snprintf(ad->app_proto, sizeof ad->app_proto, "dns");
	snprintf(ad->server_name, sizeof ad->server_name, "%.*s", (int)sizeof ad->server_name - 1, pair_name(m, p));
	ad->bytes_out = a->bytes_out;
	ad->bytes_in = a->bytes_in;
	ad->flows = 0;
	a->ndests = 1;
	a->dominant = 1;
	add_flows(m, p, a);
	dpi_risk_names(p->risk, risks, sizeof risks);
	snprintf(a->detail, sizeof a->detail, "%s in query names under %s, %.0f distinct subdomains",
	    alert_fmt_bytes(a->bytes_out, b, sizeof b), pair_name(m, p), distinct_names(sh.hll, sh.named));

	json_init(&j, a->extra, sizeof a->extra);
	json_obj_open(&j, NULL);
	json_str_kv(&j, "domain", pair_name(m, p));
	json_str_kv(&j, "server", addr_fmt(&p->server, srv, sizeof srv));
	json_u64_kv(&j, "bytes_estimated", a->bytes_out + a->bytes_in);
	json_u64_kv(&j, "qname_bytes", a->bytes_out);
	json_u64_kv(&j, "answer_bytes", a->bytes_in);
	json_u64_kv(&j, "queries", ring_sum(m, p, RC_QUERIES, min, a->window_s));
	json_dbl_kv(&j, "subdomains", distinct_names(sh.hll, sh.named));
	json_u64_kv(&j, "label_max", sh.label_max);
	json_dbl_kv(&j, "label_avg", sh.labels ? floor(10.0 * sh.label_chars / sh.labels + 0.5) / 10 : 0);
	json_dbl_kv(&j, "entropy", sh.named ? floor(100.0 * sh.entropy_sum / sh.named + 0.5) / 100 : 0);
	json_arr_open(&j, "samples");
	for (int i = 0; i < NSAMPLES; i++) {
		char txt[4 * SAMPLE_MAX + 1];
		const uint8_t *sample = x != NULL ? x->sample[i] : i == 0 ? p->sample : NULL;
		size_t len = x != NULL ? x->sample_len[i] : i == 0 ? p->sample_len : 0;
		if (len == 0)
			continue;
		sample_text(sample, len, txt, sizeof txt);
		json_str_kv(&j, NULL, txt);
	}
	json_arr_close(&j);
	json_obj_open(&j, "qtypes");
	for (int i = 0; i < QT__N; i++)
		if (p->qtypes[i])
			json_u64_kv(&j, qt_names[i], p->qtypes[i]);
	json_obj_close(&j);
	json_str_kv(&j, "risks", risks);
	json_u64_kv(&j, "risky_flows", sh.risky);
	json_obj_close(&j);
	if (json_ok(&j))
		snprintf(a->extra_key, sizeof a->extra_key, "dns");
	else
		a->extra[0] = '\0';
}

/* ---- life cycle ----------------------------------------------------------------- */

static void
dnsmon_stats_json(void *mod, struct json *j)
{
	const struct dnsmon *m = mod;
	struct dnsmon_stats st;

	dnsmon_get_stats(mod, &st);
	json_u64_kv(j, "pairs", st.pairs);
	json_u64_kv(j, "pairs_capacity", st.pairs_capacity);
	json_u64_kv(j, "hosts", st.hosts);
	json_u64_kv(j, "pairs_evicted", st.pairs_evicted);
	json_u64_kv(j, "host_cap_evicted", st.host_cap_evicted);
	json_u64_kv(j, "details", pool_used(&m->details));
	json_u64_kv(j, "details_capacity", pool_capacity(&m->details));
	json_u64_kv(j, "details_evicted", m->details_evicted);
	json_u64_kv(j, "queries", st.queries);
	json_u64_kv(j, "forwarded", st.forwarded);
	json_u64_kv(j, "malformed", st.malformed);
}

void
dnsmon_get_stats(const struct dnsmon *m, struct dnsmon_stats *out)
{
	*out = m->st;
	out->pairs = table_count(m->pairs);
	out->pairs_capacity = table_capacity(m->pairs);
	out->hosts = table_count(m->hosts);
}

static void
dnsmon_free(void *mod)
{
	struct dnsmon *m = mod;

	if (m == NULL)
		return;
	table_free(m->pairs);
	table_free(m->hosts);
	pool_fini(&m->details);
	free(m->fwd);
	free(m);
}

/* A pair holds the name of its domain. */
static size_t
dnsmon_name_refs(const struct sensor_config *cfg)
{
	return cfg->max_dns_pairs;
}

void *
dnsmon_new(const struct detector_env *env, char *err, size_t errlen)
{
	struct dnsmon *m = calloc(1, sizeof *m);
	size_t cap = env->cfg->max_dns_pairs;
	struct table_config pc = {
		.capacity = cap, .entry_size = sizeof(struct dns_pair),
		.key_off = offsetof(struct dns_pair, key), .key_len = sizeof(struct dns_key),
		.nlists = 1, .what = "dns-pair",
	};
	struct table_config hc = {
		.capacity = cap, .entry_size = sizeof(struct dns_host),
		.key_off = offsetof(struct dns_host, addr), .key_len = sizeof(struct ip_addr),
		.nlists = 1, .what = "dns-host",
	};
	struct pool_config xc = {
		.block_size = sizeof(struct dns_detail), .capacity = (uint32_t)((cap + DETAIL_DIV - 1) / DETAIL_DIV),
		.seed = env->seed, .what = "dnsmon: detail",
	};

	if (m == NULL || (m->fwd = calloc(FWD_SLOTS, sizeof *m->fwd)) == NULL) {
		snprintf(err, errlen, "dnsmon: out of memory");
		dnsmon_free(m);
		return NULL;
	}
	m->home = env->home;
	m->dpi = env->dpi;
	m->domains = env->domains;
	m->names = env->names;
	m->seed = env->seed;
	m->per_host = env->cfg->max_dns_domains ? env->cfg->max_dns_domains : 1;
	if ((m->pairs = table_new(&pc, err, errlen)) == NULL || (m->hosts = table_new(&hc, err, errlen)) == NULL ||
	    pool_init(&m->details, &xc, err, errlen) != 0) {
		dnsmon_free(m);
		return NULL;
	}
	return m;
}

const struct detector_ops dnsmon_ops = {
	.name = "dns",
	.scope = MSCOPE_DNS,
	.create = dnsmon_new,
	.name_refs = dnsmon_name_refs,
	.packet = dnsmon_packet,
	.each = dnsmon_each,
	.value = dnsmon_value,
	.evidence = dnsmon_evidence,
	.stats = dnsmon_stats_json,
	.free = dnsmon_free,
};
