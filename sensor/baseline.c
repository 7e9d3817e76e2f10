/*
 * baseline - see baseline.h.
 *
 * State file (host byte order: it never leaves the sensor's machine):
 *
 *   +----------------+---------+----------+-------+----------+
 *   | "OFBASEL\0" 8  | version | des size | count | reserved |   24 bytes
 *   +----------------+---------+----------+-------+----------+
 *   | count records of BL_REC bytes (bl_pack)                |
 *   +--------------------------------------------------------+
 *   | FNV-1a 64 of everything above                           |   8 bytes
 *   +--------------------------------------------------------+
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "baseline.h"
#include "dpi.h"
#include "hash.h"
#include "host.h"
#include "json.h"
#include "log.h"
#include "rules.h"
#include "sensor.h"
#include "table.h"

#define BL_MAGIC	"OFBASEL"
#define BL_VERSION	1u
#define BL_HDR		24u
#define BL_REC		(16u + 4u * 4u + 4u * 8u + 2u * DPI_DES_SIZE)
#define BL_TMP		BASELINE_STATE_FILE ".tmp"
#define HOUR_US		3600000000ull

enum { BL_VOL, BL_RATIO, BL__N };

struct bl_entry {
	struct tnode node;
	struct ip_addr addr;		/* the key */
	uint32_t hour;			/* epoch hour the host was last active in, 0 = none */
	uint32_t alert_hour;		/* epoch hour of its last alerting interval */
	uint32_t learned;		/* hours learned */
	double fc[BL__N], band[BL__N];	/* forecast and band for the next hour */
	struct dpi_des des[BL__N];
};

struct baseline_mod {
	struct table *t;
	struct host_tables *hosts;
	int dirfd;
	uint64_t seed;
	uint64_t last_tick_us;
	uint32_t hour;			/* the epoch hour of the latest tick */
	uint64_t evicted, learned, skipped_alerting, loaded, saves, save_errors, load_errors;
};
TABLE_OWNER_FIRST(struct baseline_mod, t);

static uint32_t
bl_hash(const struct baseline_mod *m, const struct ip_addr *a)
{
	return (uint32_t)hash_bytes(a, sizeof *a, m->seed);
}

static struct bl_entry *
bl_get(struct baseline_mod *m, const struct ip_addr *a, int create)
{
	uint32_t h = bl_hash(m, a);
	struct bl_entry *e = table_lookup(m->t, a, h);

	if (e != NULL || !create)
		return e;
	if (table_full(m->t)) {
		table_del(m->t, table_head(m->t, 0));
		m->evicted++;
	}
	e = table_add(m->t, a, h, 0);
	for (int i = 0; i < BL__N; i++)
		dpi_des_init(&e->des[i], BASELINE_ALPHA, BASELINE_BETA, BASELINE_SIGNIFICANCE);
	return e;
}

/* ---- the hour's values, from the host table's hour buckets ---- */

struct bl_hour {
	uint64_t out, in;
	int valid;
};

static struct bl_hour
host_hour(struct baseline_mod *m, const struct ip_addr *a, uint32_t hour)
{
	struct bl_hour v = { 0, 0, 0 };
	const struct host *h = host_lookup(m->hosts, a);

	if (h == NULL || h->clk.cur_hour < hour || h->clk.cur_hour >= hour + HOST_HOURS)
		return v;
	v.out = host_hour_bucket(h, hour, HC_OUT);
	v.in = host_hour_bucket(h, hour, HC_IN);
	v.valid = (v.out | v.in) != 0;
	return v;
}

/* Upload ratio in thousandths: nDPI's smoothing takes integers. */
static uint64_t
ratio_milli(uint64_t out, uint64_t in)
{
	return (uint64_t)((double)out / (double)(in ? in : 1) * 1000.0);
}

/* The hour e->hour is over: learn it, unless it alerted or the host was silent. */
static void
bl_close_hour(struct baseline_mod *m, struct bl_entry *e)
{
	struct bl_hour v = host_hour(m, &e->addr, e->hour);

	if (!v.valid)
		return;
	if (e->alert_hour == e->hour) {
		m->skipped_alerting++;
		return;
	}
	dpi_des_learn(&e->des[BL_VOL], v.out, &e->fc[BL_VOL], &e->band[BL_VOL]);
	dpi_des_learn(&e->des[BL_RATIO], ratio_milli(v.out, v.in), &e->fc[BL_RATIO], &e->band[BL_RATIO]);
	e->fc[BL_RATIO] /= 1000.0;
	e->band[BL_RATIO] /= 1000.0;
	e->learned++;
	m->learned++;
}

/* ---- state file ---- */

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

#define PUT(p, v) (memcpy((p), &(v), sizeof(v)), (p) += sizeof(v))
#define GET(p, v) (memcpy(&(v), (p), sizeof(v)), (p) += sizeof(v))

static void
bl_pack(const struct bl_entry *e, uint8_t *p)
{
	uint32_t pad = 0;

	PUT(p, e->addr);
	PUT(p, e->hour);
	PUT(p, e->alert_hour);
	PUT(p, e->learned);
	PUT(p, pad);
	for (int i = 0; i < BL__N; i++) {
		PUT(p, e->fc[i]);
		PUT(p, e->band[i]);
	}
	for (int i = 0; i < BL__N; i++)
		PUT(p, e->des[i]);
}

static void
bl_unpack(struct bl_entry *e, const uint8_t *p)
{
	uint32_t pad;

	p += sizeof e->addr;		/* the key, already set */
	GET(p, e->hour);
	GET(p, e->alert_hour);
	GET(p, e->learned);
	GET(p, pad);
	(void)pad;
	for (int i = 0; i < BL__N; i++) {
		GET(p, e->fc[i]);
		GET(p, e->band[i]);
	}
	for (int i = 0; i < BL__N; i++)
		GET(p, e->des[i]);
}

int
baseline_save(struct baseline_mod *m)
{
	size_t n = table_count(m->t), len = BL_HDR + n * BL_REC + 8;
	uint8_t *buf, *p;
	uint32_t v = BL_VERSION, ds = DPI_DES_SIZE, cnt = (uint32_t)n, res = 0;
	int fd, ok;

	if (m->dirfd < 0)
		return 0;
	if ((buf = malloc(len)) == NULL) {
		m->save_errors++;
		log_warnx("baseline: cannot save: out of memory");
		return -1;
	}
	p = buf;
	memcpy(p, BL_MAGIC, 8);
	p += 8;
	PUT(p, v);
	PUT(p, ds);
	PUT(p, cnt);
	PUT(p, res);
	/* Stalest first, so a reload into a smaller table keeps the freshest. */
	for (struct bl_entry *e = table_head(m->t, 0); e != NULL; e = table_next(m->t, e), p += BL_REC)
		bl_pack(e, p);
	uint64_t sum = fnv1a(buf, (size_t)(p - buf));
	PUT(p, sum);
	fd = openat(m->dirfd, BL_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ok = fd >= 0 && write(fd, buf, len) == (ssize_t)len && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	/* rename() is atomic: a reader sees the old file or the new one, never half. */
	if (ok && renameat(m->dirfd, BL_TMP, m->dirfd, BASELINE_STATE_FILE) != 0)
		ok = 0;
	free(buf);
	if (!ok) {
		m->save_errors++;
		log_warn("baseline: cannot write %s in the state directory", BASELINE_STATE_FILE);
		unlinkat(m->dirfd, BL_TMP, 0);
		return -1;
	}
	m->saves++;
	return 0;
}

/* Reads the whole state file (at most what the table can hold); NULL if none. */
static uint8_t *
bl_read(int dirfd, size_t max, size_t *len)
{
	int fd = openat(dirfd, BASELINE_STATE_FILE, O_RDONLY | O_CLOEXEC);
	uint8_t *buf;
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (*len <= max && (n = read(fd, buf + *len, max + 1 - *len)) > 0)
		*len += (size_t)n;
	close(fd);
	return buf;
}

/* Loads the state file; a bad one is reported and ignored (fresh baselines). */
static void
bl_load(struct baseline_mod *m)
{
	size_t max = BL_HDR + table_capacity(m->t) * 4 * BL_REC + 8, len;
	uint8_t *buf = bl_read(m->dirfd, max, &len);
	const uint8_t *p;
	uint32_t v, ds, cnt, res;
	uint64_t sum;
	const char *why = NULL;

	if (buf == NULL)
		return;
	p = buf + 8;
	if (len < BL_HDR + 8 || memcmp(buf, BL_MAGIC, 8) != 0)
		why = "not a baseline state file";
	else if (GET(p, v), GET(p, ds), GET(p, cnt), GET(p, res), v != BL_VERSION || ds != DPI_DES_SIZE)
		why = "written by another version";
	else if (len != BL_HDR + (size_t)cnt * BL_REC + 8)
		why = "truncated or oversized";
	else if (memcpy(&sum, buf + len - 8, 8), sum != fnv1a(buf, len - 8))
		why = "corrupt (checksum mismatch)";
	if (why != NULL) {
		m->load_errors++;
		log_warnx("baseline: %s in the state directory is %s; ignored, baselines start afresh",
		    BASELINE_STATE_FILE, why);
		free(buf);
		return;
	}
	(void)res;
	for (uint32_t i = 0; i < cnt; i++) {
		const uint8_t *rec = buf + BL_HDR + (size_t)i * BL_REC;
		struct ip_addr a;
		memcpy(&a, rec, sizeof a);
		struct bl_entry *e = bl_get(m, &a, 1);
		bl_unpack(e, rec);
		m->loaded++;
	}
	free(buf);
}

/* ---- module ---- */

void *
baseline_new(const struct detector_env *env, char *err, size_t errlen)
{
	struct baseline_mod *m;
	struct table_config tc = {
		.capacity = env->cfg->max_baseline_hosts, .entry_size = sizeof(struct bl_entry),
		.key_off = offsetof(struct bl_entry, addr), .key_len = sizeof(struct ip_addr),
		.nlists = 1, .what = "baseline host",
	};

	if ((m = table_owner_new(sizeof *m, &tc, err, errlen)) == NULL)
		return NULL;
	m->hosts = env->hosts;
	m->dirfd = env->state_dirfd;
	m->seed = env->seed;
	if (m->dirfd >= 0)
		bl_load(m);
	return m;
}

/*
 * Every tick: the hosts active since the last one get an entry in this
 * hour. At an hour roll every entry whose hour is over learns it, and the
 * state is saved.
 */
static void
bl_tick(void *mod, uint64_t now_us)
{
	struct baseline_mod *m = mod;
	uint32_t now_h = (uint32_t)(now_us / HOUR_US);

	if (now_h != m->hour) {
		for (struct bl_entry *e = table_head(m->t, 0); e != NULL; e = table_next(m->t, e)) {
			if (e->hour != 0 && e->hour < now_h) {
				bl_close_hour(m, e);
				e->hour = 0;
			}
		}
		if (m->hour != 0)
			baseline_save(m);
		m->hour = now_h;
	}
	for (struct host *h = host_changed_first(m->hosts, m->last_tick_us); h != NULL;
	    h = host_changed_next(m->hosts, h, m->last_tick_us)) {
		struct bl_entry *e = bl_get(m, &h->addr, 1);
		if (e->hour != 0 && e->hour < now_h)	/* a roll within this tick's span */
			bl_close_hour(m, e);
		e->hour = now_h;
		table_touch(m->t, e, -1);
	}
	m->last_tick_us = now_us;
}

static void
bl_each(void *mod, uint64_t since_us, uint64_t now_us, detector_visit_fn visit, void *vctx)
{
	struct baseline_mod *m = mod;

	(void)now_us;
	for (struct host *h = host_changed_first(m->hosts, since_us); h != NULL;
	    h = host_changed_next(m->hosts, h, since_us)) {
		struct bl_entry *e = bl_get(m, &h->addr, 0);
		struct subject s;
		if (e == NULL)
			continue;
		memset(&s, 0, sizeof s);
		s.host = h->addr;
		s.obj = e;
		visit(vctx, &s);
	}
}

/* The running hour against the band: observed / (forecast + band); 0 before any forecast. */
static double
excess(const struct bl_entry *e, int k, double observed)
{
	double upper = e->fc[k] + e->band[k];

	if (e->learned == 0)
		return 0;
	return observed / (upper > 1e-9 ? upper : 1e-9);
}

static double
bl_value(void *mod, const struct subject *s, const struct rule_cond *c, uint64_t now_us)
{
	struct baseline_mod *m = mod;
	const struct bl_entry *e = s->obj;
	struct bl_hour v = host_hour(m, &e->addr, (uint32_t)(now_us / HOUR_US));
	double r = (double)v.out / (double)(v.in ? v.in : 1);

	switch (c->metric) {
	case M_BASELINE_OUT_BYTES:
		return (double)v.out;
	case M_BASELINE_OUT_EXCESS:
		return excess(e, BL_VOL, (double)v.out);
	case M_BASELINE_RATIO:
		return r;
	case M_BASELINE_RATIO_EXCESS:
		return excess(e, BL_RATIO, r);
	case M_BASELINE_HOURS:
		return e->learned;
	default:
		return 0;
	}
}

static void
bl_evidence(void *mod, const struct subject *s, const struct rule *r, struct alert *a, uint64_t now_us)
{
	struct baseline_mod *m = mod;
	const struct bl_entry *e = s->obj;
	uint32_t hour = (uint32_t)(now_us / HOUR_US);
	struct bl_hour v = host_hour(m, &e->addr, hour);
	char ob[32], ub[32], ts[40];
	struct json j;

	(void)r;
	a->bytes_out = v.out;
	a->bytes_in = v.in;
	a->window_s = 3600;
	a->window_start_us = (uint64_t)hour * HOUR_US;
	snprintf(a->detail, sizeof a->detail, "%s out (usually up to %s, forecast %s), upload ratio %.1f "
	    "(usually up to %.1f), %u hours learned", alert_fmt_bytes(v.out, ob, sizeof ob),
	    alert_fmt_bytes((uint64_t)fmax(0, e->fc[BL_VOL] + e->band[BL_VOL]), ub, sizeof ub),
	    alert_fmt_bytes((uint64_t)fmax(0, e->fc[BL_VOL]), ts, sizeof ts),
	    (double)v.out / (double)(v.in ? v.in : 1), fmax(0, e->fc[BL_RATIO] + e->band[BL_RATIO]), e->learned);
	json_init(&j, a->extra, sizeof a->extra);
	json_obj_open(&j, NULL);
	json_str_kv(&j, "hour_start", json_fmt_time((uint64_t)hour * HOUR_US, ts, sizeof ts));
	json_u64_kv(&j, "learned_hours", e->learned);
	json_u64_kv(&j, "out_bytes", v.out);
	json_dbl_kv(&j, "out_forecast", round(e->fc[BL_VOL]));
	json_dbl_kv(&j, "out_band", round(e->band[BL_VOL]));
	json_dbl_kv(&j, "ratio", (double)v.out / (double)(v.in ? v.in : 1));
	json_dbl_kv(&j, "ratio_forecast", e->fc[BL_RATIO]);
	json_dbl_kv(&j, "ratio_band", e->band[BL_RATIO]);
	json_obj_close(&j);
	if (json_ok(&j))
		snprintf(a->extra_key, sizeof a->extra_key, "baseline");
	else
		a->extra[0] = '\0';
}

/* An alerting hour is not learned: an exfiltration must not become the baseline. */
static void
bl_alerted(void *mod, const struct alert *a)
{
	struct baseline_mod *m = mod;
	struct bl_entry *e;

	if (a->rule->category != CAT_BASELINE_ANOMALY && a->rule->severity < SEV_MEDIUM)
		return;
	if ((e = bl_get(m, &a->src, 0)) != NULL)
		e->alert_hour = (uint32_t)(a->ts_us / HOUR_US);
}

static void
bl_stats(void *mod, struct json *j)
{
	struct baseline_mod *m = mod;

	json_u64_kv(j, "hosts", table_count(m->t));
	json_u64_kv(j, "max_hosts", table_capacity(m->t));
	json_u64_kv(j, "evicted", m->evicted);
	json_u64_kv(j, "hours_learned", m->learned);
	json_u64_kv(j, "hours_skipped_alerting", m->skipped_alerting);
	json_u64_kv(j, "state_loaded", m->loaded);
	json_u64_kv(j, "state_load_errors", m->load_errors);
	json_u64_kv(j, "state_saves", m->saves);
	json_u64_kv(j, "state_save_errors", m->save_errors);
}

static void
bl_save(void *mod)
{
	baseline_save(mod);
}

const struct detector_ops baseline_ops = {
	.name = "baseline",
	.scope = MSCOPE_BASELINE,
	.create = baseline_new,
	.tick = bl_tick,
	.each = bl_each,
	.value = bl_value,
	.evidence = bl_evidence,
	.alerted = bl_alerted,
	.stats = bl_stats,
	.save = bl_save,
	.free = table_owner_free,
};
