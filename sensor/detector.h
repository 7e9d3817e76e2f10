/*
 * detector - the interface every detector module beyond plain volume
 * (dns tunnels, icmp tunnels, beacons, staging, ...) implements.
 *
 * A module owns its own bounded state, fed from the packet path through
 * the hooks below (after flow and host accounting, so a module may read the
 * flow's and the host's counters). On each tick, detect.c asks the module
 * for the "subjects" that may have changed (a (host, domain) pair, an open
 * connection, a staging episode, ...) and evaluates every rule of the
 * module's scope on each: the module supplies the values of its metrics
 * and the evidence; detect.c keeps engagement, suppression, the except and
 * only clauses, alert ids and emission, so all detectors behave alike.
 *
 * A rule's conditions are all of one module scope, optionally mixed with
 * host-scope conditions (host.out.bytes[1h] ...), which detect.c computes
 * from the host table for the subject's host.
 */
#ifndef OUTFLOW_DETECTOR_H
#define OUTFLOW_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "decode.h"
#include "flow.h"
#include "metric.h"

struct alert;
struct domain_cache;
struct names;
struct dpi;
struct host_tables;
struct json;
struct netset;
struct rule;
struct rule_cond;
struct sensor_config;

/*
 * What a module's constructor (ops->create) gets. A new module is one
 * entry in sensor.c's module_ops[].
 */
struct detector_env {
	const struct sensor_config *cfg;	/* caps and options (sensor.h) */
	int state_dirfd;			/* --state-dir opened (openat() into it), -1 if none:
						 * then nothing persists */
	struct host_tables *hosts;		/* read-only use: windows, destinations */
	struct dpi *dpi;			/* names of nDPI ids */
	const struct netset *home;		/* HOME_NET */
	struct domain_cache *domains;		/* domain_registered_cached()'s; NULL: none */
	struct names *names;			/* interned names, for entries that keep one */
	uint64_t seed;				/* hash seed of this run */
};

/*
 * What one rule evaluation is about. The module fills what it knows; the
 * except/only terms of rules test peer (dest in), name (server_name ~),
 * app_* (app in / app_category in) and port (dest_port in).
 */
struct subject {
	struct ip_addr host;		/* the internal host the alert names (src_ip) */
	struct ip_addr peer;		/* the destination address, if has_peer */
	int has_peer;
	const char *name;		/* server name / registered domain; NULL if none */
	uint16_t port;			/* destination port, 0 if none */
	uint8_t l4proto;
	uint16_t app_master, app_proto, app_category;
	uint64_t app_risk;		/* nDPI risk bits */
	uint64_t key;			/* distinguishes subjects of one host beyond peer/name
					 * (e.g. a connection's ports) for engagement */
	const void *obj;		/* the module's own entry */
};

/* detect.c's callback for each subject a module visits. */
typedef void (*detector_visit_fn)(void *vctx, const struct subject *s);

struct detector_ops {
	const char *name;		/* "dns": names its stats object */
	enum metric_scope scope;	/* the scope of the metrics it computes */
	/* Builds the module (its x_new()): NULL with a message in err. */
	void *(*create)(const struct detector_env *env, char *err, size_t errlen);
	/* How many names.h references it may hold at once with these caps
	 * (the sensor sizes the names table by the sum); NULL: none. */
	size_t (*name_refs)(const struct sensor_config *cfg);

	/* Packet path (each may be NULL). packet() sees every decoded packet of
	 * a flow with at least one internal end, after accounting. */
	void (*packet)(void *mod, struct flow *f, int dir, const struct pkt *p);
	/* The flow's application/server name just became known. */
	void (*flow_classified)(void *mod, struct flow *f, uint64_t now_us);
	/* The flow is going away (idle, closed, evicted or shutdown). */
	void (*flow_end)(void *mod, struct flow *f, int why, uint64_t now_us);
	/* Called on each tick before rules are evaluated (expiry, hour roll). */
	void (*tick)(void *mod, uint64_t now_us);

	/* Evaluation: visit every subject that may satisfy a rule now (at
	 * least those changed since since_us). */
	void (*each)(void *mod, uint64_t since_us, uint64_t now_us, detector_visit_fn visit, void *vctx);
	/* The value of one condition of this module's scope. */
	double (*value)(void *mod, const struct subject *s, const struct rule_cond *c, uint64_t now_us);
	/*
	 * Evidence for an alert about s (may be NULL): bytes_out/in, dests[],
	 * flows[], detail, and a module object in a->extra (see alert.h).
	 * detect.c has already set src, the subject's destination as dests[0]
	 * (if has_peer), the window and the values.
	 */
	void (*evidence)(void *mod, const struct subject *s, const struct rule *r, struct alert *a,
	    uint64_t now_us);
	/* Every alert any detector emitted (host risk, baselines not learning
	 * from alerting hours). May be NULL. */
	void (*alerted)(void *mod, const struct alert *a);

	/* Its counters (table sizes, evictions) as members of an open object. */
	void (*stats)(void *mod, struct json *j);
	/* Persists state (e.g. baselines, first-seen) at exit; may be NULL. */
	void (*save)(void *mod);
	void (*free)(void *mod);
};

#endif
