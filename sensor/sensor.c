/*
 * sensor - see sensor.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "baseline.h"
#include "conn.h"
#include "detect.h"
#include "dnsmon.h"
#include "domain.h"
#include "dpi.h"
#include "evidence.h"
#include "flow.h"
#include "frag.h"
#include "host.h"
#include "icmpmon.h"
#include "json.h"
#include "log.h"
#include "names.h"
#include "netset.h"
#include "peer.h"
#include "newdest.h"
#include "risk.h"
#include "sensor.h"
#include "sink_redis.h"
#include "staging.h"

volatile sig_atomic_t sensor_stop_requested;
volatile sig_atomic_t sensor_reload_requested;

#define DEFAULT_HOME_NET "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

struct counters {
	uint64_t packets, wire_bytes, ip_packets, ip_bytes;
	uint64_t decode[DECODE__COUNT];
	uint64_t external_only;		/* neither end internal: transit, not ours */
	uint64_t ts_backwards;		/* packets older than the newest seen */
	uint64_t alerts, alerts_written, alerts_json_errors;
	uint64_t reloads, reload_errors;
	uint64_t capture_errors;
};

struct sensor {
	struct sensor_config cfg;
	struct capture *cap;
	struct dpi *dpi;
	struct flow_table *flows;
	struct host_tables *hosts;
	struct detect *det;
	struct ruleset *rules;
	struct netset *home;		/* HOME_NET, fixed at start (owned) */
	FILE *out;
	int out_owned;
	struct sink_redis *redis;
	struct domain_cache *domains;	/* registered domains, lent to the modules */
	struct names *names;		/* interned server names and domains, lent to hosts and modules */
	struct module {				/* detector modules (detector.h) */
		const struct detector_ops *ops;
		void *mod;
		int idle;		/* no rule has used its scope yet: no hooks */
	} mods[MSCOPE__COUNT];
	int nmods;
	int state_dirfd;			/* --state-dir, -1 if none */
	struct evidence *ev;			/* --evidence-dir, NULL if off */
	struct counters c;
	struct frag_cache frags;
	uint64_t now_us;		/* newest packet time */
	uint64_t last_tick_us, next_tick_us;
	uint64_t start_wall_ns;
	uint64_t next_stats_ns, next_progress_ns;
	int progress_shown;
};

static uint64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
sensor_config_defaults(struct sensor_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->cap.promisc = 1;
	cfg->cap.timeout_ms = 100;
	cfg->redis_channel = "outflow:alerts";
	cfg->redis_stream = "outflow:alerts:stream";
	cfg->redis_stats_channel = "outflow:stats";
	cfg->redis_maxlen = 100000;
	cfg->redis_queue = 65536;
	cfg->redis_drain_ms = 10000;
	cfg->sensor_name = "outflow";
	cfg->stats_interval_s = 60;
	cfg->tick_s = 10;
	cfg->max_flows = 1u << 20;
	cfg->max_hosts = 16384;
	cfg->max_dests = 131072;
	cfg->max_dest_details = 0;	/* host.c: max_dests / 16 */
	cfg->max_engaged = 65536;
	cfg->max_peers = 32768;
	cfg->max_conns = 16384;
	cfg->max_baseline_hosts = 16384;
	cfg->max_dns_pairs = 32768;
	cfg->max_dns_domains = 64;
	cfg->max_icmp_pairs = 16384;
	cfg->max_staging = 16384;
	cfg->max_newdest = 262144;
	cfg->max_risk = 4096;
	cfg->timeout_s[FLOW_TC_TCP_OPEN] = 300;
	cfg->timeout_s[FLOW_TC_TCP_CLOSED] = 10;
	cfg->timeout_s[FLOW_TC_UDP] = 120;
	cfg->timeout_s[FLOW_TC_OTHER] = 60;
	cfg->progress = -1;
	cfg->evidence_ring_mb = 64;
	cfg->evidence_max_mb = 1024;
}

/* ---- alerts to sinks ------------------------------------------------------ */

static void
sensor_emit(void *ctx, const struct alert *in)
{
	struct sensor *s = ctx;
	char json[ALERT_JSON_MAX];
	const struct alert *a = in;
	struct alert with_pcap;
	size_t n;

	/* The evidence file is written first, so the alert can name it. */
	if (s->ev != NULL && in->state == ALERT_NEW) {
		with_pcap = *in;
		evidence_write(s->ev, &with_pcap);
		a = &with_pcap;
	}
	n = alert_to_json(a, json, sizeof json);

	s->c.alerts++;
	if (n == 0) {
		s->c.alerts_json_errors++;
		log_warnx("alert %s of rule %s did not fit in %d bytes; not sent", a->id,
		    a->rule->name, ALERT_JSON_MAX);
		return;
	}
	if (s->out != NULL) {
		fwrite(json, 1, n, s->out);
		fputc('\n', s->out);
		/* Alerts are rare and a pipeline may be reading live: never sit in a buffer. */
		fflush(s->out);
		s->c.alerts_written++;
	}
	if (s->redis != NULL)
		sink_redis_push(s->redis, SINK_REDIS_ALERT, a->id, json, n);
}

/* ---- flows ---------------------------------------------------------------- */

/* The flow's application and server name just became final. */
static void
sensor_flow_classified(struct sensor *s, struct flow *f, uint64_t now)
{
	host_flow_classified(s->hosts, f, now);
	for (int i = 0; i < s->nmods; i++)
		if (s->mods[i].ops->flow_classified != NULL && !s->mods[i].idle)
			s->mods[i].ops->flow_classified(s->mods[i].mod, f, now);
}

static void
sensor_flow_end(void *ctx, struct flow *f, enum flow_end why)
{
	struct sensor *s = ctx;

	if (f->dpi_state == DPI_PENDING) {
		dpi_flow_end(s->dpi, f);
		if (f->counted)
			sensor_flow_classified(s, f, s->now_us);
	}
	if (!f->counted)
		return;
	host_flow_ended(s->hosts, f);
	for (int i = 0; i < s->nmods; i++)
		if (s->mods[i].ops->flow_end != NULL && !s->mods[i].idle)
			s->mods[i].ops->flow_end(s->mods[i].mod, f, (int)why, s->now_us);
}

/* ---- rules ---------------------------------------------------------------- */

static struct ruleset *
sensor_load_rules(struct sensor *s, char *err, size_t errlen)
{
	struct ruleset *rs = NULL;
	struct rules_errors errs = { 0 };

	for (size_t i = 0; i < s->cfg.nsets; i++)
		s->cfg.sets[i].used = 0;
	if (rules_load(s->cfg.rules_path, s->cfg.sets, s->cfg.nsets, &rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_warnx("%s", errs.msgs[i]);
		snprintf(err, errlen, "%s: %zu error%s in the rules", s->cfg.rules_path, errs.n,
		    errs.n == 1 ? "" : "s");
		rules_errors_free(&errs);
		return NULL;
	}
	rules_errors_free(&errs);
	return rs;
}

static int
sensor_install_rules(struct sensor *s, struct ruleset *rs, char *err, size_t errlen)
{
	if (detect_set_rules(s->det, rs, err, errlen) != 0)
		return -1;
	if (s->rules != NULL)
		ruleset_free(s->rules);
	s->rules = rs;
	/*
	 * A module no rule asks anything of would cost a probe or two of its
	 * tables per flow for nothing: it sleeps until a rule set uses its
	 * scope, and follows traffic from then on. It never goes back to
	 * sleep: it may hold flows (conn.c) and must see them end.
	 */
	for (int i = 0; i < s->nmods; i++) {
		if (s->mods[i].idle && detect_scope_used(s->det, s->mods[i].ops->scope)) {
			s->mods[i].idle = 0;
			log_debug("detector %s: following traffic", s->mods[i].ops->name);
		}
	}
	return 0;
}

static void
sensor_reload(struct sensor *s)
{
	char err[512];
	struct ruleset *rs = sensor_load_rules(s, err, sizeof err);

	s->c.reloads++;
	/* Flows already know which of their ends is internal: a new HOME_NET
	 * needs a restart, and the reload says so rather than half-apply it. */
	if (rs != NULL && rs->home_net != NULL && !netset_equal(rs->home_net, s->home)) {
		char now[1024];
		log_warnx("%s: HOME_NET changed; a restart applies it (still watching %s)",
		    s->cfg.rules_path, netset_fmt(s->home, now, sizeof now));
	}
	if (rs == NULL || sensor_install_rules(s, rs, err, sizeof err) != 0) {
		if (rs != NULL)
			ruleset_free(rs);
		s->c.reload_errors++;
		log_warnx("reload failed, keeping the previous rules: %s", err);
		return;
	}
	log_info("rules reloaded from %s: %zu rules", s->cfg.rules_path, rs->nrules);
}

/* HOME_NET: --home-net (a --set of HOME_NET) wins, then the rules' var, then RFC 1918 + ULA. */
static int
sensor_setup_home(struct sensor *s, char *err, size_t errlen)
{
	if (s->rules->home_net != NULL) {
		/*
		 * Taken from the rule set, not borrowed: a reload frees the old
		 * set, while every flow, module and the capture's fanout program
		 * keep asking this one.
		 */
		s->home = s->rules->home_net;
		s->rules->home_net = NULL;
		log_info("home network: %s", s->rules->home_net_text ? s->rules->home_net_text : "?");
		return 0;
	}
	s->home = netset_new();
	if (s->home == NULL || netset_add_list(s->home, DEFAULT_HOME_NET, NULL, err, errlen) != 0)
		return -1;
	log_warnx("no HOME_NET given (--home-net or var HOME_NET); assuming the private ranges %s",
	    DEFAULT_HOME_NET);
	return 0;
}

/* ---- construction --------------------------------------------------------- */

/* Takes a new detector module (NULL: its constructor failed, err says why). */
static int
sensor_add_module(struct sensor *s, const struct detector_ops *ops, void *mod)
{
	if (mod == NULL)
		return -1;
	s->mods[s->nmods].ops = ops;
	s->mods[s->nmods].mod = mod;
	s->mods[s->nmods].idle = 1;	/* until a rule uses it: sensor_install_rules() */
	s->nmods++;
	detect_register(s->det, ops, mod);
	return 0;
}

/*
 * Every detector module, in the order its hooks run; risk last, so its
 * alerted hook sees every other module's alerts. --check-rules registers
 * their scopes from this list without building them.
 */
static const struct detector_ops *const module_ops[] = {
	&peer_ops, &conn_ops, &baseline_ops, &dnsmon_ops, &icmpmon_ops, &staging_ops, &newdest_ops,
	&risk_ops,
};

/*
 * Name references the holders can have at once at these caps: a flow's
 * and a destination's server name, and what each module keeps. The names table
 * gets that many slots per size class, so interning never runs out.
 */
static size_t
sensor_name_refs(const struct sensor_config *cfg)
{
	size_t n = cfg->max_flows + cfg->max_dests;

	for (size_t i = 0; i < sizeof module_ops / sizeof module_ops[0]; i++)
		if (module_ops[i]->name_refs != NULL)
			n += module_ops[i]->name_refs(cfg);
	return n;
}

/* Builds every module of module_ops[]: bounded state each, caps from the configuration. */
static int
sensor_add_modules(struct sensor *s, uint64_t seed, char *err, size_t errlen)
{
	struct detector_env env = {
		.cfg = &s->cfg, .state_dirfd = -1, .hosts = s->hosts, .dpi = s->dpi,
		.home = s->home, .domains = s->domains, .names = s->names, .seed = seed,
	};

	if (s->cfg.state_dir != NULL) {
		/* Opened now, before a chroot or privilege drop, and written at exit through this fd. */
		s->state_dirfd = open(s->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->state_dirfd < 0) {
			snprintf(err, errlen, "--state-dir %s: %s", s->cfg.state_dir, strerror(errno));
			return -1;
		}
	}
	env.state_dirfd = s->state_dirfd;
	for (size_t i = 0; i < sizeof module_ops / sizeof module_ops[0]; i++)
		if (sensor_add_module(s, module_ops[i], module_ops[i]->create(&env, err, errlen)) != 0)
			return -1;
	return 0;
}

void
sensor_register_scopes(struct detect *det)
{
	for (size_t i = 0; i < sizeof module_ops / sizeof module_ops[0]; i++)
		detect_register(det, module_ops[i], NULL);
}

struct sensor *
sensor_new(const struct sensor_config *cfg, char *err, size_t errlen)
{
	struct sensor *s = calloc(1, sizeof *s);
	struct ruleset *rs;
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	s->state_dirfd = -1;
	frag_init(&s->frags, seed);
	if ((rs = sensor_load_rules(s, err, errlen)) == NULL)
		goto fail;
	s->rules = rs;
	if (sensor_setup_home(s, err, errlen) != 0)
		goto fail;
	if ((s->names = names_new(sensor_name_refs(cfg), seed, err, errlen)) == NULL)
		goto fail;
	if ((s->dpi = dpi_new(s->names, err, errlen)) == NULL)
		goto fail;
	struct flow_config fc = { .names = s->names, .capacity = cfg->max_flows, .seed = seed };
	memcpy(fc.timeout_s, cfg->timeout_s, sizeof fc.timeout_s);
	if ((s->flows = flow_table_new(&fc, sensor_flow_end, s, err, errlen)) == NULL)
		goto fail;
	struct host_config hc = {
		.names = s->names, .max_hosts = cfg->max_hosts, .max_dests = cfg->max_dests,
		.max_dest_details = cfg->max_dest_details, .seed = seed,
	};
	if ((s->hosts = host_tables_new(&hc, err, errlen)) == NULL)
		goto fail;
	struct detect_config dc = {
		.sensor_name = cfg->sensor_name, .max_engaged = cfg->max_engaged,
		.run_id = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid(), .seed = seed,
	};
	if ((s->det = detect_new(&dc, s->dpi, sensor_emit, s, err, errlen)) == NULL)
		goto fail;
	if ((s->domains = domain_cache_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (sensor_add_modules(s, seed, err, errlen) != 0)
		goto fail;
	s->rules = NULL;	/* installed below, which takes it */
	if (sensor_install_rules(s, rs, err, errlen) != 0) {
		s->rules = rs;
		goto fail;
	}
	if (cfg->evidence_dir != NULL) {
		struct evidence_config ec = {
			.dir = cfg->evidence_dir, .ring_bytes = cfg->evidence_ring_mb << 20,
			.max_disk_bytes = cfg->evidence_max_mb << 20,
		};
		if ((s->ev = evidence_new(&ec, err, errlen)) == NULL)
			goto fail;
	}
	if (cfg->out_path != NULL) {
		if (strcmp(cfg->out_path, "-") == 0)
			s->out = stdout;
		else if ((s->out = fopen(cfg->out_path, "a")) == NULL) {
			snprintf(err, errlen, "%s: %s", cfg->out_path, strerror(errno));
			goto fail;
		} else
			s->out_owned = 1;
	}
	return s;
fail:
	sensor_free(s);
	return NULL;
}

int
sensor_open_redis(struct sensor *s, char *err, size_t errlen)
{
	const struct sensor_config *cfg = &s->cfg;
	struct sink_redis_config rc = {
		.url = cfg->redis_url, .alert_channel = cfg->redis_channel,
		.alert_stream = cfg->redis_stream, .stats_channel = cfg->redis_stats_channel,
		.stream_maxlen = cfg->redis_maxlen, .queue_cap = cfg->redis_queue,
		.connect_timeout_ms = 2000, .spool_dir = cfg->spool_dir,
		.spool_max_bytes = cfg->spool_max_bytes,
	};

	if (cfg->redis_url == NULL)
		return 0;
	s->redis = sink_redis_open(&rc, err, errlen);
	return s->redis ? 0 : -1;
}

int
sensor_open_capture(struct sensor *s, char *err, size_t errlen)
{
	/* --fanout steers by HOME_NET, known only once the rules are loaded. */
	s->cfg.cap.fanout_home = s->home;
	s->cfg.cap.fanout_name = s->cfg.sensor_name;
	s->cap = capture_open(&s->cfg.cap, err, errlen);
	return s->cap ? 0 : -1;
}

void
sensor_free(struct sensor *s)
{
	if (s == NULL)
		return;
	if (s->flows)
		flow_table_free(s->flows);	/* ends every flow through sensor_flow_end */
	for (int i = 0; i < s->nmods; i++) {
		if (s->mods[i].ops->save != NULL)
			s->mods[i].ops->save(s->mods[i].mod);
		s->mods[i].ops->free(s->mods[i].mod);
	}
	if (s->state_dirfd >= 0)
		close(s->state_dirfd);
	evidence_free(s->ev);
	capture_close(s->cap);
	detect_free(s->det);
	host_tables_free(s->hosts);
	names_free(s->names);
	domain_cache_free(s->domains);
	dpi_free(s->dpi);
	netset_free(s->home);
	if (s->rules)
		ruleset_free(s->rules);
	if (s->out_owned)
		fclose(s->out);
	free(s);
}

/* ---- the packet path ------------------------------------------------------ */

static void
sensor_tick(struct sensor *s, uint64_t now)
{
	flow_table_expire(s->flows, now);
	for (int i = 0; i < s->nmods; i++)
		if (s->mods[i].ops->tick != NULL && !s->mods[i].idle)
			s->mods[i].ops->tick(s->mods[i].mod, now);
	detect_tick(s->det, s->hosts, s->last_tick_us, now);
	s->last_tick_us = now;
}

void
sensor_process(struct sensor *s, int dlt, const struct capture_pkt *cp)
{
	struct pkt p;
	enum decode_result r;
	uint64_t ts = cp->ts_us;
	uint64_t tick_us = (uint64_t)s->cfg.tick_s * 1000000u;

	s->c.packets++;
	s->c.wire_bytes += cp->wirelen;
	if (ts < s->now_us) {
		s->c.ts_backwards++;
		ts = s->now_us;	/* time never runs backwards in the windows */
	}
	if (s->next_tick_us == 0) {
		s->next_tick_us = (ts / tick_us + 1) * tick_us;
		s->last_tick_us = ts;
	} else if (ts >= s->next_tick_us) {
		/* Evaluate the windows as they stood at the last packet before the tick. */
		sensor_tick(s, s->now_us);
		s->next_tick_us = (ts / tick_us + 1) * tick_us;
	}
	s->now_us = ts;

	r = decode_packet(dlt, cp->data, cp->caplen, cp->wirelen, ts, &p);
	s->c.decode[r]++;
	if (r != DECODE_OK)
		return;
	s->c.ip_packets++;
	s->c.ip_bytes += p.ip_len;
	frag_track(&s->frags, &p);

	int dir;
	struct flow *f = flow_table_get(s->flows, &p, &dir);
	if (f->pkts[0] + f->pkts[1] == 0) {
		f->init_internal = (uint8_t)netset_contains(s->home, flow_initiator(f, NULL));
		f->resp_internal = (uint8_t)netset_contains(s->home, flow_responder(f, NULL));
	}
	flow_account(s->flows, f, &p, dir);
	if (!f->init_internal && !f->resp_internal) {
		s->c.external_only++;
		return;
	}
	if (s->ev != NULL)
		evidence_packet(s->ev, dlt, ts, cp->data, cp->caplen, cp->wirelen, &p.src, &p.dst);
	/*
	 * Hosts first (which caches the flow's host and destination slots),
	 * then nDPI: a packet that completes detection is credited to its
	 * application by host_flow_classified(), with every byte before it.
	 */
	host_account(s->hosts, f, dir, &p);
	if (dpi_packet(s->dpi, f, &p))
		sensor_flow_classified(s, f, ts);
	for (int i = 0; i < s->nmods; i++)
		if (s->mods[i].ops->packet != NULL && !s->mods[i].idle)
			s->mods[i].ops->packet(s->mods[i].mod, f, dir, &p);
}

void
sensor_finish(struct sensor *s)
{
	if (s->now_us != 0)
		sensor_tick(s, s->now_us);
}

/* ---- stats ---------------------------------------------------------------- */

static size_t
sensor_stats_json(struct sensor *s, char *buf, size_t cap, int final)
{
	struct json j;
	struct flow_stats fs;
	struct host_stats hs;
	struct dpi_stats ds;
	struct detect_stats dt;
	struct capture_stats cs = { 0 };
	struct sink_redis_stats rs = { 0 };
	char t[48];
	double secs = (double)(wall_ns() - s->start_wall_ns) / 1e9;

	flow_table_stats(s->flows, &fs);
	host_get_stats(s->hosts, &hs);
	dpi_get_stats(s->dpi, &ds);
	detect_get_stats(s->det, &dt);
	if (s->cap)
		capture_get_stats(s->cap, &cs);
	if (s->redis)
		sink_redis_get_stats(s->redis, &rs);

	json_init(&j, buf, cap);
	json_obj_open(&j, NULL);
	json_str_kv(&j, "timestamp", json_fmt_time(s->now_us, t, sizeof t));
	json_str_kv(&j, "event_type", "stats");
	json_str_kv(&j, "sensor", s->cfg.sensor_name);
	json_bool_kv(&j, "final", final);
	json_dbl_kv(&j, "uptime_s", secs);
	json_obj_open(&j, "capture");
	json_u64_kv(&j, "packets", s->c.packets);
	json_u64_kv(&j, "bytes", s->c.wire_bytes);
	json_u64_kv(&j, "ip_packets", s->c.ip_packets);
	json_u64_kv(&j, "ip_bytes", s->c.ip_bytes);
	json_u64_kv(&j, "kernel_recv", cs.kernel_recv);
	json_u64_kv(&j, "kernel_drops", cs.kernel_drop);
	json_u64_kv(&j, "iface_drops", cs.iface_drop);
	json_u64_kv(&j, "ts_backwards", s->c.ts_backwards);
	json_u64_kv(&j, "external_only", s->c.external_only);
	json_u64_kv(&j, "read_errors", s->c.capture_errors);
	json_u64_kv(&j, "fragments_matched", s->frags.matched);
	json_u64_kv(&j, "fragments_unmatched", s->frags.unmatched);
	json_obj_close(&j);
	json_obj_open(&j, "decode");
	for (int i = 0; i < DECODE__COUNT; i++)
		json_u64_kv(&j, decode_result_name((enum decode_result)i), s->c.decode[i]);
	json_obj_close(&j);
	json_obj_open(&j, "flows");
	json_u64_kv(&j, "active", fs.active);
	json_u64_kv(&j, "capacity", fs.capacity);
	json_u64_kv(&j, "created", fs.created);
	json_u64_kv(&j, "expired", fs.expired_idle);
	json_u64_kv(&j, "closed", fs.closed);
	json_u64_kv(&j, "evicted", fs.evicted);
	json_u64_kv(&j, "dpi_active", ds.active);
	json_u64_kv(&j, "dpi_detected", ds.flows_detected);
	json_u64_kv(&j, "dpi_gave_up", ds.flows_gave_up);
	json_u64_kv(&j, "dpi_packets", ds.packets_inspected);
	json_obj_close(&j);
	json_obj_open(&j, "hosts");
	json_u64_kv(&j, "active", hs.hosts);
	json_u64_kv(&j, "capacity", hs.max_hosts);
	json_u64_kv(&j, "evicted", hs.hosts_evicted);
	json_u64_kv(&j, "destinations", hs.dests);
	json_u64_kv(&j, "destinations_capacity", hs.max_dests);
	json_u64_kv(&j, "destinations_evicted", hs.dests_evicted);
	json_u64_kv(&j, "destination_details", hs.dest_details);
	json_u64_kv(&j, "destination_details_capacity", hs.max_dest_details);
	json_u64_kv(&j, "destination_details_folded", hs.dest_details_folded);
	json_u64_kv(&j, "destination_details_evicted", hs.dest_details_evicted);
	json_u64_kv(&j, "hosts_widened", hs.hosts_widened);
	json_obj_close(&j);
	json_obj_open(&j, "alerts");
	json_u64_kv(&j, "total", s->c.alerts);
	json_u64_kv(&j, "new", dt.alerts_new);
	json_u64_kv(&j, "updates", dt.alerts_update);
	json_u64_kv(&j, "suppressed", dt.suppressed);
	json_u64_kv(&j, "engaged", dt.engaged);
	json_u64_kv(&j, "engaged_evicted", dt.engaged_evicted);
	json_u64_kv(&j, "json_errors", s->c.alerts_json_errors);
	json_obj_close(&j);
	if (s->redis) {
		json_obj_open(&j, "redis");
		json_bool_kv(&j, "connected", rs.connected);
		json_u64_kv(&j, "queued", rs.queued);
		json_u64_kv(&j, "delivered", rs.delivered);
		json_u64_kv(&j, "dropped", rs.dropped);
		json_u64_kv(&j, "queue_depth", rs.depth);
		json_u64_kv(&j, "reconnects", rs.reconnects);
		json_u64_kv(&j, "spooled", rs.spooled);
		json_u64_kv(&j, "spool_pending", rs.spool_pending);
		json_u64_kv(&j, "spool_bytes", rs.spool_bytes);
		json_u64_kv(&j, "replayed", rs.replayed);
		json_u64_kv(&j, "errors", rs.errors);
		json_obj_close(&j);
	}
	if (s->ev != NULL) {
		json_obj_open(&j, "evidence");
		evidence_stats_json(s->ev, &j);
		json_obj_close(&j);
	}
	struct names_stats ns;
	names_stats(s->names, &ns);
	json_obj_open(&j, "names");
	json_u64_kv(&j, "names", ns.names);
	json_u64_kv(&j, "capacity", ns.capacity);
	json_u64_kv(&j, "interned", ns.interned);
	json_u64_kv(&j, "refused", ns.refused);
	json_obj_close(&j);
	uint64_t dom_hits, dom_misses;
	domain_cache_counts(s->domains, &dom_hits, &dom_misses);
	json_obj_open(&j, "domain_cache");
	json_u64_kv(&j, "hits", dom_hits);
	json_u64_kv(&j, "misses", dom_misses);
	json_obj_close(&j);
	json_obj_open(&j, "detectors");
	for (int i = 0; i < s->nmods; i++) {
		if (s->mods[i].ops->stats == NULL)
			continue;
		json_obj_open(&j, s->mods[i].ops->name);
		json_bool_kv(&j, "idle", s->mods[i].idle);
		s->mods[i].ops->stats(s->mods[i].mod, &j);
		json_obj_close(&j);
	}
	json_obj_close(&j);
	json_obj_open(&j, "rules");
	json_u64_kv(&j, "loaded", s->rules ? s->rules->nrules : 0);
	json_u64_kv(&j, "reloads", s->c.reloads);
	json_u64_kv(&j, "reload_errors", s->c.reload_errors);
	json_obj_close(&j);
	json_obj_close(&j);
	return json_ok(&j) ? j.len : 0;
}

static void
sensor_report_stats(struct sensor *s, int final)
{
	char buf[16384];	/* every detector adds its counters */
	size_t n = sensor_stats_json(s, buf, sizeof buf, final);

	if (n == 0)
		return;
	if (final || !s->cfg.quiet)
		fprintf(stderr, "%s\n", buf);
	if (s->redis != NULL)
		sink_redis_push(s->redis, SINK_REDIS_STATS, NULL, buf, n);
}

static void
sensor_progress(struct sensor *s, uint64_t now_ns, int done)
{
	struct capture_stats cs;
	double secs = (double)(now_ns - s->start_wall_ns) / 1e9;
	char b[32];

	capture_get_stats(s->cap, &cs);
	fprintf(stderr, "\r\033[K%" PRIu64 " packets, %s, ", s->c.packets,
	    alert_fmt_bytes(s->c.wire_bytes, b, sizeof b));
	if (cs.file_size > 0)
		fprintf(stderr, "%.0f%%, ", done ? 100.0 : 100.0 * (double)cs.file_pos / (double)cs.file_size);
	fprintf(stderr, "%.0f pkt/s, %" PRIu64 " alerts", secs > 0 ? (double)s->c.packets / secs : 0.0,
	    s->c.alerts);
	if (done)
		fputc('\n', stderr);
	s->progress_shown = 1;
}

/* ---- the loop ------------------------------------------------------------- */

/* Waits until the Redis queue is empty or the deadline passes. */
static void
sensor_drain(struct sensor *s, uint64_t deadline_ns)
{
	struct sink_redis_stats rs;
	struct timespec ts = { 0, 10000000 };

	for (;;) {
		sink_redis_get_stats(s->redis, &rs);
		if ((rs.depth == 0 && rs.spool_pending == 0) || wall_ns() >= deadline_ns)
			return;
		nanosleep(&ts, NULL);
	}
}

/* Live and idle: let packet time advance with the wall clock so windows still close. */
static void
sensor_idle(struct sensor *s, uint64_t *idle_since_ns, uint64_t now_ns)
{
	uint64_t tick_us = (uint64_t)s->cfg.tick_s * 1000000u;

	if (s->now_us == 0)
		return;
	if (*idle_since_ns == 0) {
		*idle_since_ns = now_ns;
		return;
	}
	uint64_t virt = s->now_us + (now_ns - *idle_since_ns) / 1000u;
	if (virt >= s->next_tick_us) {
		sensor_tick(s, virt);
		s->now_us = virt;
		s->next_tick_us = (virt / tick_us + 1) * tick_us;
		*idle_since_ns = now_ns;
	}
}

int
sensor_run(struct sensor *s)
{
	struct capture_pkt cp;
	int dlt = capture_dlt(s->cap), status = 0;
	int progress = s->cfg.progress < 0 ? (!capture_is_live(s->cap) && isatty(STDERR_FILENO) && !s->cfg.quiet)
	    : s->cfg.progress;
	uint64_t idle_since = 0;

	s->start_wall_ns = wall_ns();
	s->next_stats_ns = s->start_wall_ns + (uint64_t)s->cfg.stats_interval_s * 1000000000u;
	s->next_progress_ns = s->start_wall_ns + 500000000u;
	log_info("reading %s (%s), %zu rules from %s", s->cfg.cap.file ? s->cfg.cap.file : s->cfg.cap.iface,
	    capture_dlt_name(s->cap), s->rules->nrules, s->cfg.rules_path);

	for (uint64_t n = 0; !sensor_stop_requested; n++) {
		enum capture_rc rc = capture_next(s->cap, &cp);
		if (rc == CAPTURE_PACKET) {
			sensor_process(s, dlt, &cp);
			idle_since = 0;
		} else if (rc == CAPTURE_EOF) {
			break;
		} else if (rc == CAPTURE_ERROR) {
			if (sensor_stop_requested)
				break;	/* the stop signal interrupted a read: not an input error */
			s->c.capture_errors++;
			log_warnx("%s: read error after %" PRIu64 " packets: %s; "
			    "delivering the alerts found so far", s->cfg.cap.file ? s->cfg.cap.file : s->cfg.cap.iface,
			    s->c.packets, capture_error(s->cap));
			status = 3;	/* input ended early; what was read is still evaluated */
			break;
		}
		if (sensor_reload_requested) {
			sensor_reload_requested = 0;
			sensor_reload(s);
		}
		/* Wall-clock chores, checked every 1024 packets or when idle. */
		if ((n & 1023) == 0 || rc != CAPTURE_PACKET) {
			uint64_t now = wall_ns();
			if (rc == CAPTURE_IDLE)
				sensor_idle(s, &idle_since, now);
			if (s->cfg.stats_interval_s > 0 && now >= s->next_stats_ns) {
				if (progress && s->progress_shown)
					fputc('\n', stderr);
				sensor_report_stats(s, 0);
				s->next_stats_ns = now + (uint64_t)s->cfg.stats_interval_s * 1000000000u;
			}
			if (progress && now >= s->next_progress_ns) {
				sensor_progress(s, now, 0);
				s->next_progress_ns = now + 500000000u;
			}
		}
	}
	if (progress)
		sensor_progress(s, wall_ns(), 1);
	sensor_finish(s);
	if (s->redis != NULL) {
		/*
		 * Deliver what is queued (bounded wait), then report the final
		 * figures, Redis's included, and give that report a moment to go out.
		 */
		uint64_t deadline = wall_ns() + (uint64_t)s->cfg.redis_drain_ms * 1000000u;
		sensor_drain(s, deadline);
		sensor_report_stats(s, 1);
		sensor_drain(s, wall_ns() + 1000000000u < deadline ? wall_ns() + 1000000000u : deadline);
		/* With a spool, what is not delivered stays on disk for the next start. */
		size_t left = sink_redis_close(s->redis, 100);
		s->redis = NULL;
		if (left > 0) {
			log_warnx("redis: %zu message%s (alerts or stats) could not be delivered before exit%s",
			    left, left == 1 ? "" : "s", s->cfg.spool_dir ? " and were not kept in the spool" : "");
			status = status ? status : 4;
		}
		return status;
	}
	sensor_report_stats(s, 1);
	return status;
}
