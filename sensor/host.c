/*
 * host - see host.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include "hash.h"
#include "host.h"
#include "log.h"
#include "names.h"
#include "pool.h"

/* Full rings of a destination busier than its inline slots. */
struct dest_detail {
	struct win_clock clk;
	uint64_t min[HOST_MINUTES][DC__COUNT];
	uint64_t hour[HOST_HOURS][DC__COUNT];
	uint64_t ring_sum[2][DC__COUNT];	/* as struct host's */
};

/*
 * 64-bit rings of a host that would pass 4 GiB in a 32-bit bucket. One per
 * host slot, reserved with the table and touched only when a host needs it:
 * every host can widen, so nothing is ever clipped, and a host that never
 * does costs none of it.
 */
struct host_wide {
	uint64_t min[HOST_MINUTES][HC__COUNT];
	uint64_t hour[HOST_HOURS][HC__COUNT];
};

struct host_tables {
	struct host_config cfg;
	struct table *hosts;
	struct table *dests;
	struct host_wide *wide;		/* [max_hosts], by host slot */
	struct pool details;		/* struct dest_detail, owned by a destination's slot */
	uint64_t hosts_evicted, dests_evicted, details_folded, details_evicted, hosts_widened;
};

/* d's full rings, NULL while its buckets are inline. */
static struct dest_detail *
detail_of(const struct host_tables *ht, const struct dest *d)
{
	return d->win.detail == 0 ? NULL : pool_at(&ht->details, d->win.detail - 1);
}

/* ---- windows ------------------------------------------------------------
 *
 * Bucket b of the minute ring holds epoch minute m where m % 60 == b, for
 * the 60 minutes up to clk.cur_min; older contents are zeroed as the clock
 * advances. Same for hours. sum[0..width) is the total of the minute ring
 * per counter and sum[width..2 width) the hour ring's: every bucket write
 * adds to it (ring_add) and every clear subtracts.
 */

/*
 * One set of rings as the window code sees it: a host's (32-bit buckets
 * inline, or 64-bit once widened) or a busy destination's (64-bit). Built
 * for each use from the owner (host_rings, detail_rings), never stored.
 */
struct rings {
	void *min, *hour;	/* [HOST_MINUTES][width], [HOST_HOURS][width] */
	uint64_t *sum;		/* [2][width] */
	uint32_t width;
	uint32_t narrow;	/* 32-bit buckets; the caller checked each add fits */
};

static inline uint64_t
bucket_get(const struct rings *r, const void *ring, size_t i)
{
	return r->narrow ? ((const uint32_t *)ring)[i] : ((const uint64_t *)ring)[i];
}

static inline void
bucket_add(const struct rings *r, void *ring, size_t i, uint64_t v)
{
	if (r->narrow)
		((uint32_t *)ring)[i] += (uint32_t)v;
	else
		((uint64_t *)ring)[i] += v;
}

/* Zeroes the buckets a ring of n skips when its clock moves from *cur to now. */
static void
ring_advance(const struct rings *r, void *ring, uint64_t *sum, uint32_t n, uint32_t *cur, uint32_t now)
{
	size_t bsize = r->narrow ? sizeof(uint32_t) : sizeof(uint64_t);
	uint32_t gap;

	if (now <= *cur)
		return;
	gap = now - *cur;
	if (gap >= n || *cur == 0) {
		/*
		 * Every bucket goes, so the total with them: one clear. A new
		 * host takes this path on its first packet, and a capped host
		 * table under churn (a million flows from more hosts than the
		 * cap) makes a new host nearly every packet: bucket by bucket,
		 * this was 17 % of that run.
		 */
		memset(ring, 0, (size_t)n * r->width * bsize);
		memset(sum, 0, r->width * sizeof *sum);
		*cur = now;
		return;
	}
	for (uint32_t i = 0; i < gap; i++) {
		size_t b = ((now - i) % n) * r->width;
		for (size_t c = 0; c < r->width; c++)
			sum[c] -= bucket_get(r, ring, b + c);
		memset((uint8_t *)ring + b * bsize, 0, r->width * bsize);
	}
	*cur = now;
}

static inline void
win_advance(struct win_clock *clk, const struct rings *r, uint64_t now_us)
{
	uint32_t m = (uint32_t)(now_us / 60000000u);

	if (m <= clk->cur_min)
		return;		/* most packets: the minute, so the hour too, is current */
	ring_advance(r, r->min, r->sum, HOST_MINUTES, &clk->cur_min, m);
	ring_advance(r, r->hour, r->sum + r->width, HOST_HOURS, &clk->cur_hour, m / 60);
}

/* Adds v to counter c of epoch minute m's buckets. */
static inline void
ring_add(const struct rings *r, size_t c, uint32_t m, uint64_t v)
{
	bucket_add(r, r->min, (m % HOST_MINUTES) * r->width + c, v);
	bucket_add(r, r->hour, (m / 60 % HOST_HOURS) * r->width + c, v);
	r->sum[c] += v;
	r->sum[r->width + c] += v;
}

/*
 * Sum of counter c over the buckets covering window_s up to now: whole
 * minutes up to an hour, whole hours beyond (rules_attr.c enforces that).
 */
static uint64_t
win_sum(const struct win_clock *clk, const struct rings *r, size_t c, uint32_t window_s, uint64_t now_us)
{
	uint32_t now_m = (uint32_t)(now_us / 60000000u);
	uint64_t sum = 0;

	if (window_s <= HOST_MINUTES * 60u) {
		uint32_t n = window_s / 60 ? window_s / 60 : 1;
		/* The window is the whole ring, as the clock stands: its total. */
		if (n == HOST_MINUTES && now_m == clk->cur_min && now_m >= HOST_MINUTES - 1)
			return r->sum[c];
		for (uint32_t k = 0; k < n && k <= now_m; k++) {
			uint32_t m = now_m - k;
			if (m > clk->cur_min || m + HOST_MINUTES <= clk->cur_min)
				continue;
			sum += bucket_get(r, r->min, (m % HOST_MINUTES) * r->width + c);
		}
	} else {
		uint32_t now_h = now_m / 60, n = window_s / 3600;
		if (n > HOST_HOURS)
			n = HOST_HOURS;
		if (n == HOST_HOURS && now_h == clk->cur_hour && now_h >= HOST_HOURS - 1)
			return r->sum[r->width + c];
		for (uint32_t k = 0; k < n && k <= now_h; k++) {
			uint32_t h = now_h - k;
			if (h > clk->cur_hour || h + HOST_HOURS <= clk->cur_hour)
				continue;
			sum += bucket_get(r, r->hour, (h % HOST_HOURS) * r->width + c);
		}
	}
	return sum;
}

/* The window code only writes through these when the owner was writable. */
static struct rings
host_rings(const struct host *h)
{
	if (h->wide != NULL)
		return (struct rings){ h->wide->min, h->wide->hour, (uint64_t *)&h->ring_sum[0][0], HC__COUNT, 0 };
	return (struct rings){ (void *)h->min, (void *)h->hour, (uint64_t *)&h->ring_sum[0][0], HC__COUNT, 1 };
}

static struct rings
detail_rings(const struct dest_detail *x)
{
	return (struct rings){ (void *)x->min, (void *)x->hour, (uint64_t *)&x->ring_sum[0][0], DC__COUNT, 0 };
}

uint64_t
host_window_start(uint32_t window_s, uint64_t now_us)
{
	uint64_t now_m = now_us / 60000000u;

	if (window_s <= HOST_MINUTES * 60u) {
		uint64_t n = window_s / 60 ? window_s / 60 : 1;
		return (now_m + 1 - n) * 60000000u;
	}
	return (now_m / 60 + 1 - window_s / 3600) * 3600000000u;
}

uint64_t
host_window(const struct host *h, enum host_ctr c, uint32_t window_s, uint64_t now_us)
{
	struct rings r = host_rings(h);

	return win_sum(&h->clk, &r, c, window_s, now_us);
}

uint64_t
host_minute_bucket(const struct host *h, uint32_t minute, enum host_ctr c)
{
	return h->wide ? h->wide->min[minute % HOST_MINUTES][c] : h->min[minute % HOST_MINUTES][c];
}

uint64_t
host_hour_bucket(const struct host *h, uint32_t hour, enum host_ctr c)
{
	return h->wide ? h->wide->hour[hour % HOST_HOURS][c] : h->hour[hour % HOST_HOURS][c];
}

/* Inline slots: unit k (epoch minute or hour + 1) is in a window of n units ending at now_k. */
static uint64_t
slots_sum(const uint32_t *keys, const uint32_t (*v)[DC__COUNT], int nslots, enum dest_ctr c,
    uint32_t now_k, uint32_t n)
{
	uint64_t sum = 0;

	for (int i = 0; i < nslots; i++) {
		uint32_t k = keys[i];
		if (k != 0 && k - 1 <= now_k && now_k - (k - 1) < n)
			sum += v[i][c];
	}
	return sum;
}

uint64_t
dest_window(const struct host_tables *ht, const struct dest *d, enum dest_ctr c, uint32_t window_s,
    uint64_t now_us)
{
	uint32_t now_m = (uint32_t)(now_us / 60000000u);
	struct dest_detail *x = detail_of(ht, d);

	if (x != NULL) {
		struct rings r = detail_rings(x);
		return win_sum(&x->clk, &r, c, window_s, now_us);
	}
	if (window_s <= HOST_MINUTES * 60u)
		return slots_sum(d->win.mkey, d->win.m, DEST_MSLOTS, c, now_m, window_s / 60 ? window_s / 60 : 1);
	return slots_sum(d->win.hkey, d->win.h, DEST_HSLOTS, c, now_m / 60,
	    window_s / 3600 > HOST_HOURS ? HOST_HOURS : window_s / 3600);
}

/* ---- tables -------------------------------------------------------------- */

struct host_tables *
host_tables_new(const struct host_config *cfg, char *err, size_t errlen)
{
	struct host_tables *ht = calloc(1, sizeof *ht);
	struct table_config hc = {
		.capacity = cfg->max_hosts, .entry_size = sizeof(struct host),
		.key_off = offsetof(struct host, addr), .key_len = sizeof(struct ip_addr),
		.nlists = 1, .what = "host",
	};
	struct table_config dc = {
		.capacity = cfg->max_dests, .entry_size = sizeof(struct dest),
		.key_off = offsetof(struct dest, key), .key_len = sizeof(struct dest_key),
		.nlists = 1, .what = "destination",
	};
	struct pool_config xc = {
		.block_size = sizeof(struct dest_detail), .seed = cfg->seed, .what = "destination detail",
	};

	if (ht == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg->names == NULL) {
		snprintf(err, errlen, "host tables: no names table");
		free(ht);
		return NULL;
	}
	ht->cfg = *cfg;
	if (ht->cfg.max_dest_details == 0)
		ht->cfg.max_dest_details = cfg->max_dests / 16 + 1;
	xc.capacity = ht->cfg.max_dest_details < POOL_NIL ? (uint32_t)ht->cfg.max_dest_details : POOL_NIL;
	if ((ht->wide = calloc(cfg->max_hosts, sizeof *ht->wide)) == NULL) {
		snprintf(err, errlen, "cannot reserve 64-bit rings for %zu hosts", cfg->max_hosts);
		host_tables_free(ht);
		return NULL;
	}
	if ((ht->hosts = table_new(&hc, err, errlen)) == NULL ||
	    (ht->dests = table_new(&dc, err, errlen)) == NULL ||
	    pool_init(&ht->details, &xc, err, errlen) != 0) {
		host_tables_free(ht);
		return NULL;
	}
	return ht;
}

void
host_tables_free(struct host_tables *ht)
{
	if (ht == NULL)
		return;
	table_free(ht->hosts);
	table_free(ht->dests);
	free(ht->wide);
	pool_fini(&ht->details);
	free(ht);
}

/* ---- destination buckets: inline slots, or full rings from the pool ------ */

static void
detail_release(struct host_tables *ht, struct dest *d)
{
	if (d->win.detail == 0)
		return;
	pool_release(&ht->details, d->win.detail - 1);
	d->win.detail = 0;
}

static void dest_unlink(struct host_tables *ht, struct dest *d);

/* Removes a destination from its host's list and the table. */
static void
dest_remove(struct host_tables *ht, struct dest *d)
{
	names_drop(ht->cfg.names, d->name);
	detail_release(ht, d);
	dest_unlink(ht, d);
	table_del(ht->dests, d);
}

/*
 * Moves a detailed destination's rings back into its inline slots if its
 * non-zero buckets fit, in number and each in 32 bits (nothing is lost);
 * returns 0, or -1 if they do not.
 */
static int
detail_fold(const struct host_tables *ht, struct dest *d)
{
	const struct dest_detail *x = detail_of(ht, d);
	struct dest_win w;
	int nm = 0, nh = 0;

	memset(&w, 0, sizeof w);
	for (uint32_t k = 0; k < HOST_MINUTES && k <= x->clk.cur_min; k++) {
		uint32_t m = x->clk.cur_min - k;
		const uint64_t *v = x->min[m % HOST_MINUTES];
		if ((v[DC_OUT] | v[DC_IN]) == 0)
			continue;
		if (nm == DEST_MSLOTS || v[DC_OUT] > UINT32_MAX || v[DC_IN] > UINT32_MAX)
			return -1;
		w.mkey[nm] = m + 1;
		w.m[nm][DC_OUT] = (uint32_t)v[DC_OUT];
		w.m[nm++][DC_IN] = (uint32_t)v[DC_IN];
	}
	for (uint32_t k = 0; k < HOST_HOURS && k <= x->clk.cur_hour; k++) {
		uint32_t h = x->clk.cur_hour - k;
		const uint64_t *v = x->hour[h % HOST_HOURS];
		if ((v[DC_OUT] | v[DC_IN]) == 0)
			continue;
		if (nh == DEST_HSLOTS || v[DC_OUT] > UINT32_MAX || v[DC_IN] > UINT32_MAX)
			return -1;
		w.hkey[nh] = h + 1;
		w.h[nh][DC_OUT] = (uint32_t)v[DC_OUT];
		w.h[nh++][DC_IN] = (uint32_t)v[DC_IN];
	}
	w.detail = d->win.detail;
	d->win = w;
	return 0;
}

/* pool_victim's policy: the destination seen longest ago gives its block up. */
static int
dest_staler(void *ctx, uint32_t a, uint32_t b)
{
	struct table *dests = ctx;

	return ((const struct dest *)table_at(dests, a))->last_us <
	    ((const struct dest *)table_at(dests, b))->last_us;
}

/*
 * A block for d: a free one, else the stalest of a few sampled detailed
 * destinations gives its up (folded inline if it fits, else evicted). d is
 * not detailed yet, so the sample never picks it and a block is always had.
 */
static struct dest_detail *
detail_get(struct host_tables *ht, struct dest *d)
{
	uint32_t owner = table_slot(ht->dests, d), i;

	if ((i = pool_alloc(&ht->details, owner)) == POOL_NIL) {
		struct dest *victim = table_at(ht->dests, pool_victim(&ht->details, dest_staler, ht->dests));
		if (detail_fold(ht, victim) == 0) {
			ht->details_folded++;
			detail_release(ht, victim);
		} else {
			ht->details_evicted++;
			ht->dests_evicted++;
			dest_remove(ht, victim);
		}
		i = pool_alloc(&ht->details, owner);
	}
	return pool_at(&ht->details, i);
}

/* Moves d's inline slots into full rings. */
static void
detail_attach(struct host_tables *ht, struct dest *d, uint64_t now_us)
{
	struct dest_detail *x = detail_get(ht, d);
	struct rings r = detail_rings(x);

	win_advance(&x->clk, &r, now_us);
	for (int i = 0; i < DEST_MSLOTS; i++)
		if (d->win.mkey[i] != 0 && x->clk.cur_min - (d->win.mkey[i] - 1) < HOST_MINUTES)
			for (int c = 0; c < DC__COUNT; c++) {
				x->min[(d->win.mkey[i] - 1) % HOST_MINUTES][c] += d->win.m[i][c];
				x->ring_sum[0][c] += d->win.m[i][c];
			}
	for (int i = 0; i < DEST_HSLOTS; i++)
		if (d->win.hkey[i] != 0 && x->clk.cur_hour - (d->win.hkey[i] - 1) < HOST_HOURS)
			for (int c = 0; c < DC__COUNT; c++) {
				x->hour[(d->win.hkey[i] - 1) % HOST_HOURS][c] += d->win.h[i][c];
				x->ring_sum[1][c] += d->win.h[i][c];
			}
	memset(&d->win, 0, sizeof d->win);
	d->win.detail = pool_index(&ht->details, x) + 1;
}

/* The slot for key among n (epoch unit + 1): its own, else a free or expired one; -1 if none. */
static int
slot_for(uint32_t *keys, int n, uint32_t key, uint32_t span)
{
	int free_i = -1;

	for (int i = 0; i < n; i++) {
		if (keys[i] == key)
			return i;
		if (free_i < 0 && (keys[i] == 0 || key - keys[i] >= span))
			free_i = i;
	}
	return free_i;
}

static void
dest_unlink(struct host_tables *ht, struct dest *d)
{
	struct host *h = table_at(ht->hosts, d->key.host_slot);
	uint32_t slot = table_slot(ht->dests, d);

	if (d->sib_prev != TABLE_NIL)
		((struct dest *)table_at(ht->dests, d->sib_prev))->sib_next = d->sib_next;
	else if (h->dest_head == slot)
		h->dest_head = d->sib_next;
	if (d->sib_next != TABLE_NIL)
		((struct dest *)table_at(ht->dests, d->sib_next))->sib_prev = d->sib_prev;
}

/* Puts d at the head of its host's list: the list stays most recent first. */
static void
dest_to_front(struct host_tables *ht, struct host *h, struct dest *d)
{
	uint32_t slot = table_slot(ht->dests, d);

	if (h->dest_head == slot)
		return;
	dest_unlink(ht, d);
	d->sib_prev = TABLE_NIL;
	d->sib_next = h->dest_head;
	if (h->dest_head != TABLE_NIL)
		((struct dest *)table_at(ht->dests, h->dest_head))->sib_prev = slot;
	h->dest_head = slot;
}

/*
 * A destination's name, application or port changed, or it is new: what
 * rule exceptions match it must be worked out again (detect.c). It was
 * necessarily active just now, so the tick after will look at it.
 */
static void
dest_changed(struct dest *d)
{
	d->excl_gen = 0;
}

static void
host_remove(struct host_tables *ht, struct host *h)
{
	/* Its destinations go with it: they are only reachable through it. */
	while (h->dest_head != TABLE_NIL) {
		dest_remove(ht, table_at(ht->dests, h->dest_head));
	}
	table_del(ht->hosts, h);
}

/* Eviction weights (table_victim): the bytes an entry carried since it was made. */
static uint64_t
host_weight(const void *e)
{
	const struct host *h = e;
	uint64_t w = 0;

	for (int c = 0; c < HC__COUNT; c++)
		w += h->total[c];
	return w;
}

static uint64_t
dest_weight(const void *e)
{
	const struct dest *d = e;

	return d->total[DC_OUT] + d->total[DC_IN];
}

static struct host *
host_get(struct host_tables *ht, const struct ip_addr *a, uint64_t now_us)
{
	uint32_t hash = (uint32_t)addr_hash(a, ht->cfg.seed);
	struct host *h = table_lookup(ht->hosts, a, hash);

	if (h == NULL) {
		if (table_full(ht->hosts)) {
			host_remove(ht, table_victim(ht->hosts, 0, host_weight));
			ht->hosts_evicted++;
		}
		h = table_add(ht->hosts, a, hash, 0);
		h->first_us = now_us;
		h->dest_head = TABLE_NIL;
	}
	return h;
}

static struct dest *
dest_get(struct host_tables *ht, struct host *h, const struct ip_addr *peer, uint64_t now_us,
    int create)
{
	struct dest_key k;
	uint32_t hash;
	struct dest *d;

	k.host_slot = table_slot(ht->hosts, h);
	k.peer = *peer;
	hash = (uint32_t)hash_mix64(addr_hash(&h->addr, ht->cfg.seed) ^ addr_hash(&k.peer, ht->cfg.seed + 7));
	d = table_lookup(ht->dests, &k, hash);
	if (d != NULL || !create)
		return d;
	if (table_full(ht->dests)) {
		dest_remove(ht, table_victim(ht->dests, 0, dest_weight));
		ht->dests_evicted++;
	}
	d = table_add(ht->dests, &k, hash, 0);
	d->first_us = now_us;
	d->sib_prev = TABLE_NIL;
	d->sib_next = h->dest_head;
	if (h->dest_head != TABLE_NIL)
		((struct dest *)table_at(ht->dests, h->dest_head))->sib_prev = table_slot(ht->dests, d);
	h->dest_head = table_slot(ht->dests, d);
	dest_changed(d);
	return d;
}

/*
 * The host entry of an internal address, through the flow's cached slot.
 * Without create, NULL if there is none (it was evicted).
 */
static struct host *
host_of_flow(struct host_tables *ht, struct flow *f, int end, const struct ip_addr *a,
    uint64_t now_us, int create)
{
	struct host *h;

	if (f->host_slot[end] != 0) {
		h = table_at(ht->hosts, f->host_slot[end] - 1);
		if (h->node.used && addr_eq(&h->addr, a))
			return h;
	}
	h = create ? host_get(ht, a, now_us) : host_lookup(ht, a);
	if (h == NULL)
		return NULL;
	f->host_slot[end] = table_slot(ht->hosts, h) + 1;
	return h;
}

static struct dest *
dest_of_flow(struct host_tables *ht, struct flow *f, int end, struct host *h,
    const struct ip_addr *peer, uint64_t now_us, int create)
{
	struct dest *d;

	if (f->dest_slot[end] != 0) {
		d = table_at(ht->dests, f->dest_slot[end] - 1);
		if (d->node.used && d->key.host_slot == table_slot(ht->hosts, h) && addr_eq(&d->key.peer, peer))
			return d;
	}
	d = dest_get(ht, h, peer, now_us, create);
	if (d == NULL)
		return NULL;
	f->dest_slot[end] = table_slot(ht->dests, d) + 1;
	return d;
}

static void
host_touch(struct host_tables *ht, struct host *h, uint64_t now_us)
{
	struct rings r = host_rings(h);

	win_advance(&h->clk, &r, now_us);
	h->last_us = now_us;
	table_touch(ht->hosts, h, -1);
}

/* Moves h's buckets to the 64-bit rings of its slot, for good (while it lives). */
static void
host_widen(struct host_tables *ht, struct host *h)
{
	struct host_wide *w = &ht->wide[table_slot(ht->hosts, h)];

	for (int i = 0; i < HOST_MINUTES; i++)
		for (int c = 0; c < HC__COUNT; c++)
			w->min[i][c] = h->min[i][c];
	for (int i = 0; i < HOST_HOURS; i++)
		for (int c = 0; c < HC__COUNT; c++)
			w->hour[i][c] = h->hour[i][c];
	h->wide = w;
	ht->hosts_widened++;
}

/* host_add's rare case: h is wide, or becomes so with v. */
static void
host_add_wide(struct host_tables *ht, struct host *h, enum host_ctr c, uint32_t m, uint64_t v)
{
	if (h->wide == NULL)
		host_widen(ht, h);
	struct rings r = host_rings(h);
	ring_add(&r, c, m, v);
}

static inline void
host_add(struct host_tables *ht, struct host *h, enum host_ctr c, uint64_t v, uint64_t now_us)
{
	uint32_t m = (uint32_t)(now_us / 60000000u);
	uint32_t *mb = &h->min[m % HOST_MINUTES][c], *hb = &h->hour[m / 60 % HOST_HOURS][c];

	h->total[c] += v;
	/* With the sensor's clock never going back, the hour bucket holds the
	 * minute's bytes too, so its check implies the minute's; the minute's
	 * stays so that no caller with an older time can ever wrap a bucket. */
	if (h->wide == NULL && (uint64_t)*mb + v <= UINT32_MAX && (uint64_t)*hb + v <= UINT32_MAX) {
		*mb += (uint32_t)v;
		*hb += (uint32_t)v;
		h->ring_sum[0][c] += v;
		h->ring_sum[1][c] += v;
	} else {
		host_add_wide(ht, h, c, m, v);
	}
}

static void
dest_add(struct host_tables *ht, struct dest *d, enum dest_ctr c, uint64_t v, uint64_t now_us)
{
	uint32_t m = (uint32_t)(now_us / 60000000u);
	struct dest_detail *x;

	d->total[c] += v;
	d->last_us = now_us;
	if (v == 0)
		return;		/* an empty segment needs no bucket */
	if (d->win.detail == 0) {
		int mi = slot_for(d->win.mkey, DEST_MSLOTS, m + 1, HOST_MINUTES);
		int hi = slot_for(d->win.hkey, DEST_HSLOTS, m / 60 + 1, HOST_HOURS);
		/* The buckets' sums if the slots take the packet (a reused slot starts at 0). */
		uint64_t mv = v + (mi >= 0 && d->win.mkey[mi] == m + 1 ? d->win.m[mi][c] : 0);
		uint64_t hv = v + (hi >= 0 && d->win.hkey[hi] == m / 60 + 1 ? d->win.h[hi][c] : 0);
		if (mi >= 0 && hi >= 0 && mv <= UINT32_MAX && hv <= UINT32_MAX) {
			if (d->win.mkey[mi] != m + 1) {
				d->win.mkey[mi] = m + 1;
				memset(d->win.m[mi], 0, sizeof d->win.m[mi]);
			}
			if (d->win.hkey[hi] != m / 60 + 1) {
				d->win.hkey[hi] = m / 60 + 1;
				memset(d->win.h[hi], 0, sizeof d->win.h[hi]);
			}
			d->win.m[mi][c] = (uint32_t)mv;
			d->win.h[hi][c] = (uint32_t)hv;
			return;
		}
		detail_attach(ht, d, now_us);
	}
	x = detail_of(ht, d);
	struct rings r = detail_rings(x);
	win_advance(&x->clk, &r, now_us);
	ring_add(&r, c, m, v);
}

static void
host_peer_seen(struct host *h, const struct ip_addr *peer, uint64_t now_us)
{
	uint32_t hour = (uint32_t)(now_us / 3600000000u);
	struct ndpi_hll hll = { .bits = 8, .size = sizeof h->peers_regs, .registers = h->peers_regs };

	if (hour != h->peers_hour) {
		h->peers_prev = hour == h->peers_hour + 1 ? (uint32_t)(ndpi_hll_count(&hll) + 0.5) : 0;
		memset(h->peers_regs, 0, sizeof h->peers_regs);
		h->peers_hour = hour;
	}
	ndpi_hll_add(&hll, (const char *)peer->b, sizeof peer->b);
}

uint32_t
host_peers(const struct host *h, uint64_t now_us)
{
	struct ndpi_hll hll = { .bits = 8, .size = sizeof h->peers_regs,
	    .registers = (uint8_t *)h->peers_regs };

	if (h->peers_hour != (uint32_t)(now_us / 3600000000u))
		return 0;
	return (uint32_t)(ndpi_hll_count(&hll) + 0.5);
}

/* Space-saving top-k of applications by bytes. */
static void
host_app_add(struct host *h, const struct flow *f, uint64_t out, uint64_t in)
{
	struct host_app *min = &h->apps[0];

	for (int i = 0; i < HOST_APPS; i++) {
		struct host_app *a = &h->apps[i];
		if (a->master == f->app_master && a->app == f->app_proto && (a->out | a->in)) {
			a->out += out;
			a->in += in;
			return;
		}
		if (a->out + a->in < min->out + min->in)
			min = a;
	}
	/* Replace the smallest, inheriting its count (the algorithm's bound). */
	min->master = f->app_master;
	min->app = f->app_proto;
	min->out += out;
	min->in += in;
}

void
host_account(struct host_tables *ht, struct flow *f, int dir, const struct pkt *p)
{
	uint64_t now = f->last_us;
	uint64_t bytes = p->frag == PKT_FRAG_LATER ? p->l4_len : p->payload_len;
	uint16_t rport;
	const struct ip_addr *ia = flow_initiator(f, NULL), *ra = flow_responder(f, &rport);
	int app_known = f->dpi_state != 0;

	if (f->init_internal) {
		struct host *h = host_of_flow(ht, f, 0, ia, now, 1);
		struct dest *d = dest_of_flow(ht, f, 0, h, ra, now, 1);
		int sent = dir == FLOW_DIR_FWD;

		host_touch(ht, h, now);
		/* Keep the destination LRU in last-seen order, so a full table
		 * evicts the stalest destination, not an active old one. */
		table_touch(ht->dests, d, -1);
		dest_to_front(ht, h, d);
		if (!f->counted) {
			d->flows++;
			d->live = f;
			d->live_first_us = f->first_us;
			if (d->port != rport)
				dest_changed(d);
			d->port = rport;
			d->l4proto = f->key.proto;
			if (!f->resp_internal)
				host_add(ht, h, HC_OUT_FLOWS, 1, now);
		}
		d->peer_internal = f->resp_internal;
		if (f->resp_internal)
			host_add(ht, h, sent ? HC_INT_OUT : HC_INT_IN, bytes, now);
		else {
			host_add(ht, h, sent ? HC_OUT : HC_IN, bytes, now);
			if (sent && bytes > 0)
				host_peer_seen(h, ra, now);
		}
		if (sent)
			h->out_ip_bytes += p->ip_len;
		else
			h->in_ip_bytes += p->ip_len;
		dest_add(ht, d, sent ? DC_OUT : DC_IN, bytes, now);
		if (app_known)
			host_app_add(h, f, sent ? bytes : 0, sent ? 0 : bytes);
	}
	if (f->resp_internal) {
		struct host *h = host_of_flow(ht, f, 1, ra, now, 1);
		int sent = dir == FLOW_DIR_REV;

		host_touch(ht, h, now);
		if (f->init_internal)
			host_add(ht, h, sent ? HC_INT_OUT : HC_INT_IN, bytes, now);
		else
			host_add(ht, h, sent ? HC_SRV_OUT : HC_SRV_IN, bytes, now);
		if (sent)
			h->out_ip_bytes += p->ip_len;
		else
			h->in_ip_bytes += p->ip_len;
		if (app_known)
			host_app_add(h, f, sent ? bytes : 0, sent ? 0 : bytes);
	}
	f->counted = 1;
}

void
host_flow_classified(struct host_tables *ht, struct flow *f, uint64_t now_us)
{
	uint64_t now = f->last_us;
	/*
	 * Entries are created only before the flow's first host_account(), which
	 * follows at once and touches them. Later (at flow end, on packet time
	 * long past) an evicted host must not come back: it would evict a live
	 * one and sit at the LRU tail with a stale time, which ends the
	 * host_changed_first() walk before any changed host.
	 */
	int create = !f->counted;

	for (int end = 0; end < 2; end++) {
		int internal = end == 0 ? f->init_internal : f->resp_internal;
		const struct ip_addr *a = end == 0 ? flow_initiator(f, NULL) : flow_responder(f, NULL);
		if (!internal)
			continue;
		struct host *h = host_of_flow(ht, f, end, a, now, create);
		if (h == NULL)
			continue;
		/* Bytes seen before the application was known, credited now. */
		uint64_t sent = f->payload_bytes[end == 0 ? FLOW_DIR_FWD : FLOW_DIR_REV];
		uint64_t rcvd = f->payload_bytes[end == 0 ? FLOW_DIR_REV : FLOW_DIR_FWD];
		host_app_add(h, f, sent, rcvd);
	}
	if (f->init_internal) {
		struct host *h = host_of_flow(ht, f, 0, flow_initiator(f, NULL), now, create);
		struct dest *d = h ? dest_of_flow(ht, f, 0, h, flow_responder(f, NULL), now, create) : NULL;
		if (d == NULL)
			return;
		d->app_master = f->app_master;
		d->app_proto = f->app_proto;
		d->app_category = f->app_category;
		d->app_risk = f->app_risk;
		d->app_done = 1;
		dest_changed(d);	/* what except clauses match may have changed */
		if (f->name != NAME_NONE)
			names_copy(ht->cfg.names, &d->name, f->name);
		/*
		 * Renamed now, even when the flow ends long after its last packet:
		 * the next tick's walk over recent destinations must see it.
		 */
		if (d->last_us < now_us)
			d->last_us = now_us;
		dest_to_front(ht, h, d);
	}
}

struct dest *
host_dest_lookup(struct host_tables *ht, const struct ip_addr *host, const struct ip_addr *peer)
{
	struct host *h = host_lookup(ht, host);

	return h ? dest_get(ht, h, peer, 0, 0) : NULL;
}

/* Is d the (initiator, responder) pair of f? A cached slot or pointer can outlive it. */
static int
dest_matches_flow(const struct host_tables *ht, const struct dest *d, const struct flow *f)
{
	return addr_eq(&host_dest_host(ht, d)->addr, flow_initiator(f, NULL)) &&
	    addr_eq(&d->key.peer, flow_responder(f, NULL));
}

void
host_flow_ended(struct host_tables *ht, const struct flow *f)
{
	struct dest *d;
	uint16_t sport, dport;

	if (!f->init_internal || !f->counted || f->dest_slot[0] == 0)
		return;
	d = table_at(ht->dests, f->dest_slot[0] - 1);
	if (!d->node.used || !dest_matches_flow(ht, d, f))
		return;
	flow_initiator(f, &sport);
	flow_responder(f, &dport);
	d->ended.first_us = f->first_us;
	d->ended.last_us = f->last_us;
	d->ended.out = f->payload_bytes[FLOW_DIR_FWD];
	d->ended.in = f->payload_bytes[FLOW_DIR_REV];
	d->ended.sport = sport;
	d->ended.dport = dport;
	d->ended.l4proto = f->key.proto;
	if (d->live == f)
		d->live = NULL;
}

const struct flow *
host_dest_live_flow(const struct host_tables *ht, const struct dest *d)
{
	const struct flow *f = d->live;

	/* Flow slots are reused: the pointer is good only for the flow it was set for. */
	if (f == NULL || !f->node.used || f->first_us != d->live_first_us ||
	    f->dest_slot[0] == 0 || !dest_matches_flow(ht, d, f))
		return NULL;
	return f;
}

const struct host *
host_dest_host(const struct host_tables *ht, const struct dest *d)
{
	return table_at(ht->hosts, d->key.host_slot);
}

struct names *
host_names(const struct host_tables *ht)
{
	return ht->cfg.names;
}

const char *
host_dest_name(const struct host_tables *ht, const struct dest *d)
{
	return names_str(ht->cfg.names, d->name);
}

struct host *
host_changed_first(struct host_tables *ht, uint64_t since_us)
{
	struct host *h = table_tail(ht->hosts, 0);

	return h != NULL && h->last_us >= since_us ? h : NULL;
}

struct host *
host_changed_next(struct host_tables *ht, const struct host *h, uint64_t since_us)
{
	struct host *p = table_prev(ht->hosts, h);

	return p != NULL && p->last_us >= since_us ? p : NULL;
}

struct dest *
host_dest_first(struct host_tables *ht, const struct host *h)
{
	return h->dest_head == TABLE_NIL ? NULL : table_at(ht->dests, h->dest_head);
}

struct dest *
host_dest_next(struct host_tables *ht, const struct dest *d)
{
	return d->sib_next == TABLE_NIL ? NULL : table_at(ht->dests, d->sib_next);
}

struct host *
host_lookup(struct host_tables *ht, const struct ip_addr *a)
{
	return table_lookup(ht->hosts, a, (uint32_t)addr_hash(a, ht->cfg.seed));
}

void
host_get_stats(const struct host_tables *ht, struct host_stats *out)
{
	out->hosts = table_count(ht->hosts);
	out->max_hosts = table_capacity(ht->hosts);
	out->dests = table_count(ht->dests);
	out->max_dests = table_capacity(ht->dests);
	out->hosts_evicted = ht->hosts_evicted;
	out->dests_evicted = ht->dests_evicted;
	out->dest_details = pool_used(&ht->details);
	out->max_dest_details = pool_capacity(&ht->details);
	out->dest_details_folded = ht->details_folded;
	out->dest_details_evicted = ht->details_evicted;
	out->hosts_widened = ht->hosts_widened;
	out->bytes = table_bytes(ht->hosts) + table_bytes(ht->dests) +
	    pool_bytes(&ht->details) + ht->cfg.max_hosts * sizeof *ht->wide;
}
