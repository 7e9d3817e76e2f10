/*
 * sensor - the one context that holds the pipeline together:
 * capture -> decode -> flow (+ dpi) -> host -> detect -> alert sinks.
 *
 * Everything mutable lives in struct sensor; main.c only parses options,
 * installs signal flags and calls sensor_run(). Time is packet time: the
 * window ticks, flow expiry and alert timestamps all follow the packets'
 * own clocks, so a replay at full speed yields a live run's alerts.
 */
#ifndef OUTFLOW_SENSOR_H
#define OUTFLOW_SENSOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "decode.h"
#include "rules.h"

#define SENSOR_MAX_SETS 64

struct sensor_config {
	struct capture_config cap;
	const char *rules_path;
	struct rules_override sets[SENSOR_MAX_SETS];	/* --set NAME=VALUE, and --home-net */
	size_t nsets;
	const char *out_path;		/* -o: JSON lines; "-" = stdout; NULL = none */
	const char *redis_url;		/* --redis */
	const char *redis_channel, *redis_stream, *redis_stats_channel;
	size_t redis_maxlen, redis_queue;
	int redis_drain_ms;		/* bounded wait for delivery at exit */
	const char *spool_dir;		/* --spool-dir: alerts beyond the queue go to disk */
	const char *state_dir;		/* --state-dir: what detectors learn survives restarts */
	const char *evidence_dir;	/* --evidence-dir: pcap of each alert's packets; NULL = off */
	size_t evidence_ring_mb;	/* --evidence-ring: recent packets kept in memory */
	uint64_t evidence_max_mb;	/* --evidence-max: disk written per run, at most */
	uint64_t spool_max_bytes;	/* --spool-max */
	const char *sensor_name;
	int stats_interval_s;		/* wall seconds between stats lines; 0 = only at exit */
	uint32_t tick_s;		/* detector evaluation period (packet time) */
	size_t max_flows, max_hosts, max_dests, max_engaged;
	size_t max_dest_details;	/* destinations busy in more minutes/hours than fit inline */
	size_t max_peers;		/* peer.c's (host, destination domain) ledger */
	size_t max_conns;		/* conn.c: long connections tracked */
	size_t max_baseline_hosts;	/* baseline.c: hosts with a learned baseline */
	size_t max_dns_pairs, max_dns_domains;	/* dnsmon: (host, domain) pairs; domains per host */
	size_t max_icmp_pairs;			/* icmpmon: (host, peer) pairs */
	size_t max_staging;		/* staging.c: episodes (one per collecting host) */
	size_t max_newdest;		/* newdest.c: first-seen destinations remembered */
	size_t max_risk;		/* risk.c: hosts with an accumulated risk */
	uint32_t timeout_s[4];		/* flow idle timeouts: tcp, tcp-closed, udp, other */
	int quiet;			/* no periodic stats on stderr */
	int progress;			/* -1 auto (stderr is a terminal), 0 off, 1 on */
};

/* Signal flags: the only globals (set from handlers in main.c). */
extern volatile sig_atomic_t sensor_stop_requested;
extern volatile sig_atomic_t sensor_reload_requested;

struct sensor;

/* Fills *cfg with the defaults (documented in the README). */
void sensor_config_defaults(struct sensor_config *cfg);

/*
 * Builds everything up to (not including) the capture: loads and checks the
 * rules, tables, nDPI, sinks. Returns NULL with a message in err.
 */
struct sensor *sensor_new(const struct sensor_config *cfg, char *err, size_t errlen);

/* Opens the capture; NULL-safe error reporting like sensor_new. */
int sensor_open_capture(struct sensor *s, char *err, size_t errlen);

/*
 * Starts the Redis sink (and opens its spool) if one is configured. Called
 * after privileges are dropped, so the spool belongs to the user the sensor
 * runs as.
 */
int sensor_open_redis(struct sensor *s, char *err, size_t errlen);

/*
 * Runs until end of file or a stop request; evaluates the open windows,
 * flushes the sinks (bounded wait), prints the final stats. Returns the
 * process exit status.
 */
int sensor_run(struct sensor *s);

void sensor_free(struct sensor *s);

/*
 * Registers every detector module's scope in det, without building the
 * modules: what --check-rules needs to accept their metrics.
 */
struct detect;
void sensor_register_scopes(struct detect *det);

/* Processes one frame (exposed for the fuzz target and tests). */
void sensor_process(struct sensor *s, int dlt, const struct capture_pkt *cp);
/* Final evaluation at end of input (exposed for tests). */
void sensor_finish(struct sensor *s);

#endif
