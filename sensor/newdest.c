/*
 * newdest - first-seen destinations and uploads to them (see newdest.h).
 *
 * A destination is "new" for a host when neither its address nor the
 * registered domain of its server name had been contacted by that host
 * before the first contact (CDNs rotate addresses; names stay). The address
 * is checked at the flow's first packet, the name when nDPI names the flow;
 * a known name then clears the "new" mark. The destination hashes in the
 * memory use a fixed seed, so they mean the same thing after a restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "domain.h"
#include "dpi.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "names.h"
#include "newdest.h"
#include "rules.h"
#include "sensor.h"
#include "strcopy.h"
#include "table.h"

#define ND_MAGIC	"OFNEWDST"
#define ND_HDR		32u
#define ND_REC		16u		/* version 2 */
#define ND_REC_V1	40u
#define ND_SEED		0x6e65776465737431ull	/* fixed: hashes are persisted */
#define US		1000000ull

/* A (host, destination) pair: see seen_fp(). */
struct seen {
	struct tnode node;
	uint64_t fp;
	uint32_t first_s, last_s;	/* packet time, seconds */
};

struct recent_key {
	struct ip_addr host, peer;
};

struct recent {
	struct tnode node;
	struct recent_key key;
	uint64_t first_us, last_us, out_bytes;
	uint8_t host_new, net_new, named, l4proto;
	uint16_t port, master, app, category;
	uint32_t name, domain;		/* server name and its registered domain (names.h) */
};

struct newdest {
	struct table *seen, *recent;
	const struct dpi *dpi;
	struct names *names;		/* the sensor's, lent */
	int dns_id;			/* a DNS flow's name is the query, not the peer's */
	int dirfd;
	const char *dir;		/* for messages */
	uint64_t seed;
	uint64_t created_us;		/* when this memory started learning (packet time) */
	uint64_t now_us, last_save_us;
	uint64_t seen_evicted, recent_evicted, recent_expired;
	uint64_t loaded, saves, save_errors;
	char state_error[160];
};

/* ---- the first-seen memory ------------------------------------------------ */

static uint64_t
dh_addr(const struct ip_addr *a)
{
	uint8_t b[17] = { 'a' };

	memcpy(b + 1, a->b, 16);
	return hash_bytes(b, sizeof b, ND_SEED);
}

static uint64_t
dh_domain(const char *dom)
{
	char b[DOMAIN_MAX + 2];

	b[0] = 'd';
	return hash_bytes(b, 1 + str_copy(b + 1, sizeof b - 1, dom), ND_SEED);
}

/*
 * The fingerprint of (host, destination hash); a NULL host is the whole
 * network (all-zero address). Fixed seed: it is what the state file keeps.
 * A chain of bijective mixes over the three words: for one host, distinct
 * destinations never share a fingerprint.
 */
static uint64_t
seen_fp(const struct ip_addr *host, uint64_t dh)
{
	uint64_t w[2] = { 0, 0 };

	if (host != NULL)
		memcpy(w, host->b, 16);
	return hash_mix64(hash_mix64(hash_mix64(w[0] ^ ND_SEED) ^ w[1]) ^ dh);
}

/* The table's hash of a fingerprint: this run's seed, so crafted names cannot pile up. */
static uint32_t
seen_hash(const struct newdest *nd, uint64_t fp)
{
	return (uint32_t)hash_mix64(fp ^ nd->seed);
}

/*
 * Records a contact (packet time, seconds); returns whether the pair was
 * there before: "known?" and "remember it" in one probe (every new flow
 * asks both, for the host and for the network).
 */
static int
seen_touch(struct newdest *nd, uint64_t fp, uint32_t first_s, uint32_t last_s)
{
	struct seen *e;

	if ((e = table_lookup(nd->seen, &fp, seen_hash(nd, fp))) != NULL) {
		if (last_s > e->last_s)
			e->last_s = last_s;
		table_touch(nd->seen, e, -1);
		return 1;
	}
	if (table_full(nd->seen)) {
		table_del(nd->seen, table_head(nd->seen, 0));
		nd->seen_evicted++;
	}
	e = table_add(nd->seen, &fp, seen_hash(nd, fp), 0);
	e->first_s = first_s;
	e->last_s = last_s;
	return 0;
}

/* A contact now by host (NULL: the network) with destination dh; was it known? */
static int
seen_contact(struct newdest *nd, const struct ip_addr *host, uint64_t dh, uint64_t now_us)
{
	uint32_t s = (uint32_t)(now_us / US);

	return seen_touch(nd, seen_fp(host, dh), s, s);
}

/* ---- the recent new destinations ------------------------------------------ */

static struct recent *
recent_find(struct newdest *nd, const struct ip_addr *host, const struct ip_addr *peer)
{
	struct recent_key k = { *host, *peer };

	return table_lookup(nd->recent, &k, (uint32_t)hash_mix64(addr_hash(host, nd->seed) ^
	    addr_hash(peer, nd->seed + 1)));
}

static void
recent_del(struct newdest *nd, struct recent *r)
{
	names_drop(nd->names, r->name);
	names_drop(nd->names, r->domain);
	table_del(nd->recent, r);
}

static struct recent *
recent_add(struct newdest *nd, const struct ip_addr *host, const struct ip_addr *peer)
{
	struct recent_key k = { *host, *peer };

	if (table_full(nd->recent)) {
		recent_del(nd, table_head(nd->recent, 0));
		nd->recent_evicted++;
	}
	return table_add(nd->recent, &k, (uint32_t)hash_mix64(addr_hash(host, nd->seed) ^
	    addr_hash(peer, nd->seed + 1)), 0);
}

/* A flow's first packet from an internal host to an external address. */
static void
contact(struct newdest *nd, const struct ip_addr *host, struct flow *f, uint64_t now)
{
	uint16_t port;
	const struct ip_addr *peer = flow_responder(f, &port);
	uint64_t dh = dh_addr(peer);
	struct recent *r;

	if (nd->created_us == 0)
		nd->created_us = now;	/* the memory's first day */
	/* Asked before the contact is recorded: an entry is earlier history. */
	int host_knew = seen_contact(nd, host, dh, now);
	int net_knew = seen_contact(nd, NULL, dh, now);
	/* A destination found new a moment ago is "known" now, but its
	 * later flows still add to its upload: look in the recent ones first. */
	if ((r = recent_find(nd, host, peer)) == NULL && !host_knew) {
		r = recent_add(nd, host, peer);
		r->first_us = r->last_us = now;
		r->host_new = 1;
		r->net_new = !net_knew;
		r->port = port;
		r->l4proto = f->key.proto;
	}
	if (r != NULL)
		f->mod_flags |= FLOW_MF_NEWDEST;
	f->mod_flags |= FLOW_MF_NEWDEST_SEEN;
}

static void
newdest_packet(void *mod, struct flow *f, int dir, const struct pkt *p)
{
	struct newdest *nd = mod;
	const struct ip_addr *host;
	struct recent *r;

	if (!f->init_internal || f->resp_internal || dir != FLOW_DIR_FWD)
		return;
	nd->now_us = p->ts_us;
	host = flow_initiator(f, NULL);
	if (f->pkts[0] + f->pkts[1] == 1 && !(f->mod_flags & FLOW_MF_NEWDEST_SEEN))
		contact(nd, host, f, p->ts_us);
	if (p->payload_len == 0 || !(f->mod_flags & FLOW_MF_NEWDEST) ||
	    (r = recent_find(nd, host, flow_responder(f, NULL))) == NULL)
		return;
	r->out_bytes += p->payload_len;
	r->last_us = p->ts_us;
	table_touch(nd->recent, r, -1);
}

/* The flow is classified: its application, and a name the host (or the
 * network) knew makes the destination not new. */
static void
newdest_classified(void *mod, struct flow *f, uint64_t now)
{
	struct newdest *nd = mod;
	const struct ip_addr *host;
	char dom[DOMAIN_MAX];
	struct recent *r;
	uint64_t dh;

	if (!f->init_internal || f->resp_internal)
		return;
	host = flow_initiator(f, NULL);
	/* A flow nDPI names on its first packet (DNS) is classified before the
	 * packet hook sees it: record the contact first. */
	if (f->pkts[0] + f->pkts[1] == 1 && f->pkts[FLOW_DIR_FWD] == 1 &&
	    !(f->mod_flags & FLOW_MF_NEWDEST_SEEN))
		contact(nd, host, f, now);
	/* Only a flow to a recent new destination has a recent entry to name. */
	r = f->mod_flags & FLOW_MF_NEWDEST ? recent_find(nd, host, flow_responder(f, NULL)) : NULL;
	if (r != NULL) {
		r->master = f->app_master;
		r->app = f->app_proto;
		r->category = f->app_category;
	}
	if (f->name == NAME_NONE ||
	    (nd->dns_id > 0 && (f->app_master == nd->dns_id || f->app_proto == nd->dns_id)) ||
	    names_domain(nd->names, f->name, dom, sizeof dom) == NULL)
		return;
	dh = dh_domain(dom);
	int host_knew = seen_contact(nd, host, dh, now);
	int net_knew = seen_contact(nd, NULL, dh, now);
	if (r != NULL && !r->named) {
		r->named = 1;
		names_copy(nd->names, &r->name, f->name);
		r->domain = names_intern(nd->names, dom, NAMES_MAX);
		if (host_knew)
			r->host_new = 0;
		if (net_knew)
			r->net_new = 0;
	}
}

/* ---- the state file ------------------------------------------------------- */

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *s = p;

	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
state_bad(struct newdest *nd, const char *msg)
{
	snprintf(nd->state_error, sizeof nd->state_error, "%s/%s: %s", nd->dir, NEWDEST_STATE_FILE, msg);
	log_warnx("%s; ignored, first-seen memory starts empty", nd->state_error);
}

static void
put_u32(uint8_t *b, uint32_t v)
{
	memcpy(b, &v, 4);
}

static void
put_u64(uint8_t *b, uint64_t v)
{
	memcpy(b, &v, 8);
}

static uint64_t
get_u64(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, 8);
	return v;
}

static uint32_t
get_u32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, 4);
	return v;
}

/* Checks the whole file in buf before anything is taken from it. */
static void
state_parse(struct newdest *nd, const uint8_t *buf, size_t len)
{
	uint64_t count;

	if (len < ND_HDR + 8) {
		state_bad(nd, "truncated (shorter than its header)");
		return;
	}
	if (memcmp(buf, ND_MAGIC, 8) != 0) {
		state_bad(nd, "not a first-seen state file (bad magic)");
		return;
	}
	uint32_t version = get_u32(buf + 8), rec = get_u32(buf + 12);
	if (!(version == NEWDEST_STATE_VERSION && rec == ND_REC) && !(version == 1 && rec == ND_REC_V1)) {
		state_bad(nd, "foreign format (unknown version or record size, or another byte order)");
		return;
	}
	count = get_u64(buf + 16);
	if (count > (len - ND_HDR - 8) / rec || ND_HDR + count * rec + 8 != len) {
		state_bad(nd, "truncated or padded (size does not match its entry count)");
		return;
	}
	if (fnv(0xcbf29ce484222325ULL, buf, len - 8) != get_u64(buf + len - 8)) {
		state_bad(nd, "checksum mismatch (corrupt)");
		return;
	}
	nd->created_us = get_u64(buf + 24);
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *r = buf + ND_HDR + i * rec;
		if (version == 1) {
			struct ip_addr host;
			memcpy(host.b, r, 16);	/* all zero, the network, fingerprints as NULL does */
			seen_touch(nd, seen_fp(&host, get_u64(r + 16)), (uint32_t)(get_u64(r + 24) / US),
			    (uint32_t)(get_u64(r + 32) / US));
		} else
			seen_touch(nd, get_u64(r), get_u32(r + 8), get_u32(r + 12));
	}
	nd->loaded = count;
}

static void
state_load(struct newdest *nd)
{
	struct stat sb;
	uint8_t *buf;
	int fd = openat(nd->dirfd, NEWDEST_STATE_FILE, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno != ENOENT)
			state_bad(nd, strerror(errno));
		return;
	}
	/* 64 MiB holds 1.6 M entries, beyond any --max-newdest in use. */
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (off_t)64 << 20) {
		state_bad(nd, "not a regular file of at most 64 MiB");
		close(fd);
		return;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		state_bad(nd, "out of memory");
		close(fd);
		return;
	}
	size_t got = 0;
	ssize_t n;
	while (got < (size_t)sb.st_size && (n = read(fd, buf + got, (size_t)sb.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	state_parse(nd, buf, got);
	free(buf);
}

int
newdest_save_now(void *mod)
{
	struct newdest *nd = mod;
	uint8_t hdr[ND_HDR], rec[ND_REC];
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *tmp = NEWDEST_STATE_FILE ".tmp";
	FILE *fp;
	int fd, bad = 0;

	if (nd->dirfd < 0)
		return 0;
	if ((fd = openat(nd->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		log_warn("%s/%s", nd->dir, tmp);
		if (fd >= 0)
			close(fd);
		nd->save_errors++;
		return -1;
	}
	memcpy(hdr, ND_MAGIC, 8);
	put_u32(hdr + 8, NEWDEST_STATE_VERSION);
	put_u32(hdr + 12, ND_REC);
	put_u64(hdr + 16, table_count(nd->seen));
	put_u64(hdr + 24, nd->created_us);
	h = fnv(h, hdr, sizeof hdr);
	bad |= fwrite(hdr, sizeof hdr, 1, fp) != 1;
	/* Stalest first, so a load rebuilds the same LRU order. */
	for (struct seen *e = table_head(nd->seen, 0); e != NULL; e = table_next(nd->seen, e)) {
		put_u64(rec, e->fp);
		put_u32(rec + 8, e->first_s);
		put_u32(rec + 12, e->last_s);
		h = fnv(h, rec, sizeof rec);
		bad |= fwrite(rec, sizeof rec, 1, fp) != 1;
	}
	put_u64(rec, h);
	bad |= fwrite(rec, 8, 1, fp) != 1;
	bad |= fflush(fp) != 0 || fsync(fileno(fp)) != 0;
	bad |= fclose(fp) != 0;
	if (bad || renameat(nd->dirfd, tmp, nd->dirfd, NEWDEST_STATE_FILE) != 0) {
		log_warn("%s/%s: not saved", nd->dir, NEWDEST_STATE_FILE);
		unlinkat(nd->dirfd, tmp, 0);
		nd->save_errors++;
		return -1;
	}
	nd->saves++;
	return 0;
}

static void
newdest_save(void *mod)
{
	(void)newdest_save_now(mod);
}

const char *
newdest_state_error(const void *mod)
{
	return ((const struct newdest *)mod)->state_error;
}

/* ---- evaluation ----------------------------------------------------------- */

static void
newdest_tick(void *mod, uint64_t now)
{
	struct newdest *nd = mod;
	struct recent *r;

	while ((r = table_head(nd->recent, 0)) != NULL && r->last_us + NEWDEST_RECENT_S * US < now) {
		recent_del(nd, r);
		nd->recent_expired++;
	}
	if (nd->dirfd >= 0) {
		if (nd->last_save_us == 0)
			nd->last_save_us = now;
		else if (now >= nd->last_save_us + NEWDEST_SAVE_S * US) {
			nd->last_save_us = now;
			(void)newdest_save_now(nd);
		}
	}
}

static void
newdest_each(void *mod, uint64_t since_us, uint64_t now_us, detector_visit_fn visit, void *vctx)
{
	struct newdest *nd = mod;

	for (struct recent *r = table_tail(nd->recent, 0); r != NULL && r->last_us >= since_us;
	    r = table_prev(nd->recent, r)) {
		struct subject s;

		if (!r->host_new || r->first_us + NEWDEST_RECENT_S * US < now_us)
			continue;
		memset(&s, 0, sizeof s);
		s.host = r->key.host;
		s.peer = r->key.peer;
		s.has_peer = 1;
		s.name = r->name != NAME_NONE ? names_str(nd->names, r->name) : NULL;
		s.port = r->port;
		s.l4proto = r->l4proto;
		s.app_master = r->master;
		s.app_proto = r->app;
		s.app_category = r->category;
		s.obj = r;
		visit(vctx, &s);
	}
}

static double
newdest_value(void *mod, const struct subject *s, const struct rule_cond *c, uint64_t now_us)
{
	struct newdest *nd = mod;
	const struct recent *r = s->obj;

	switch (c->metric) {
	case M_NEWDEST_OUT_BYTES: return (double)r->out_bytes;
	case M_NEWDEST_NET_NEW: return r->net_new;
	case M_NEWDEST_HISTORY:
		return nd->created_us && now_us > nd->created_us ? (double)((now_us - nd->created_us) / US) : 0;
	default: return 0;
	}
}

static void
newdest_evidence(void *mod, const struct subject *s, const struct rule *rule, struct alert *a,
    uint64_t now)
{
	struct newdest *nd = mod;
	const struct recent *r = s->obj;
	char t[40];
	struct json j;

	(void)rule;
	a->bytes_out = r->out_bytes;
	a->window_start_us = r->first_us;
	a->window_s = now > r->first_us ? (uint32_t)((now - r->first_us + US - 1) / US) : 0;
	if (a->ndests > 0)
		a->dests[0].bytes_out = r->out_bytes;
	snprintf(a->detail, sizeof a->detail, "first contact %s, %s",
	    json_fmt_time(r->first_us, t, sizeof t),
	    r->net_new ? "new to the whole network" : "new to this host only");
	json_init(&j, a->extra, sizeof a->extra);
	json_obj_open(&j, NULL);
	json_str_kv(&j, "first_seen", json_fmt_time(r->first_us, t, sizeof t));
	json_str_kv(&j, "domain", names_str(nd->names, r->domain));
	json_bool_kv(&j, "new_to_network", r->net_new);
	json_str_kv(&j, "learning_since", json_fmt_time(nd->created_us, t, sizeof t));
	json_obj_close(&j);
	if (json_ok(&j))
		snprintf(a->extra_key, sizeof a->extra_key, "new_destination");
	else
		a->extra[0] = '\0';
}

static void
newdest_stats(void *mod, struct json *j)
{
	struct newdest *nd = mod;

	json_u64_kv(j, "seen", table_count(nd->seen));
	json_u64_kv(j, "max_seen", table_capacity(nd->seen));
	json_u64_kv(j, "seen_evicted", nd->seen_evicted);
	json_u64_kv(j, "recent", table_count(nd->recent));
	json_u64_kv(j, "recent_evicted", nd->recent_evicted);
	json_u64_kv(j, "recent_expired", nd->recent_expired);
	json_u64_kv(j, "loaded", nd->loaded);
	json_u64_kv(j, "saves", nd->saves);
	json_u64_kv(j, "save_errors", nd->save_errors);
	if (nd->state_error[0])
		json_str_kv(j, "state_error", nd->state_error);
}

static void
newdest_free(void *mod)
{
	struct newdest *nd = mod;

	if (nd == NULL)
		return;
	table_free(nd->seen);
	table_free(nd->recent);
	free(nd);
}

/* New destinations are a small part of what is remembered. */
static size_t
recent_cap(size_t max_newdest)
{
	return max_newdest / 16 > 64 ? max_newdest / 16 : 64;
}

/* A recent new destination holds its server name and registered domain. */
static size_t
newdest_name_refs(const struct sensor_config *cfg)
{
	return 2 * recent_cap(cfg->max_newdest);
}

void *
newdest_new(const struct detector_env *env, char *err, size_t errlen)
{
	struct newdest *nd = calloc(1, sizeof *nd);
	size_t cap = env->cfg->max_newdest;
	struct table_config sc = {
		.capacity = cap, .entry_size = sizeof(struct seen),
		.key_off = offsetof(struct seen, fp), .key_len = sizeof(uint64_t),
		.nlists = 1, .what = "newdest",
	};
	struct table_config rc = {
		.capacity = recent_cap(cap), .entry_size = sizeof(struct recent),
		.key_off = offsetof(struct recent, key), .key_len = sizeof(struct recent_key),
		.nlists = 1, .what = "newdest recent",
	};

	if (nd == NULL) {
		snprintf(err, errlen, "newdest: out of memory");
		return NULL;
	}
	nd->dpi = env->dpi;
	nd->names = env->names;
	nd->dns_id = env->dpi ? dpi_proto_lookup(env->dpi, "DNS") : -1;
	nd->seed = env->seed ^ 0x4e44;
	nd->dirfd = env->state_dirfd;
	nd->dir = env->cfg->state_dir ? env->cfg->state_dir : ".";
	if ((nd->seen = table_new(&sc, err, errlen)) == NULL ||
	    (nd->recent = table_new(&rc, err, errlen)) == NULL) {
		newdest_free(nd);
		return NULL;
	}
	if (nd->dirfd >= 0)
		state_load(nd);
	return nd;
}

const struct detector_ops newdest_ops = {
	.name = "newdest",
	.scope = MSCOPE_NEWDEST,
	.create = newdest_new,
	.name_refs = newdest_name_refs,
	.packet = newdest_packet,
	.flow_classified = newdest_classified,
	.tick = newdest_tick,
	.each = newdest_each,
	.value = newdest_value,
	.evidence = newdest_evidence,
	.stats = newdest_stats,
	.save = newdest_save,
	.free = newdest_free,
};
