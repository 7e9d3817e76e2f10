/*
 * detect - runs the rules over the hosts that changed, on window ticks.
 *
 * A rule fires for a host (host metrics) or for one of its destinations
 * (dest metrics) when all its conditions hold. What fires becomes
 * "engaged": the same rule, host and destination stay quiet for the rule's
 * suppress time, then, if the condition still holds, produce one update
 * alert (state "update", same engagement) instead of a flood of new ones.
 * Engagements live in a bounded table; evictions are counted.
 *
 * Detectors never read the clock: "now" is the packet time the sensor
 * passes in, so a replay yields the alerts a live run would have.
 */
#ifndef OUTFLOW_DETECT_H
#define OUTFLOW_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "detector.h"
#include "dpi.h"
#include "host.h"
#include "rules.h"

struct detect_config {
	const char *sensor_name;
	size_t max_engaged;	/* engagement table capacity */
	uint64_t run_id;	/* distinguishes alert ids across runs */
	uint64_t seed;
};

struct detect_stats {
	uint64_t evaluations;	/* (host, rule) evaluations */
	uint64_t alerts_new, alerts_update, suppressed;
	uint64_t engaged_evicted;
	size_t engaged, max_engaged;
};

typedef void (*detect_emit_fn)(void *ctx, const struct alert *a);

struct detect;

struct detect *detect_new(const struct detect_config *cfg, struct dpi *dpi,
    detect_emit_fn emit, void *emit_ctx, char *err, size_t errlen);
void detect_free(struct detect *d);

/*
 * Registers a detector module for its scope (before the first
 * detect_set_rules: rules naming a scope no module computes are refused).
 * The module stays the caller's.
 */
void detect_register(struct detect *d, const struct detector_ops *ops, void *mod);

/*
 * Installs a rule set (not owned: the caller keeps it alive until the next
 * install). Checks the nDPI names its except clauses use; on unknown ones
 * returns -1 with one "file:line:col: ..." line per name in err and keeps
 * the previous set.
 * Engagements survive (they are keyed by rule name).
 */
int detect_set_rules(struct detect *d, const struct ruleset *rs, char *err, size_t errlen);

/*
 * Whether an enabled rule of the installed set is of scope sc: a module
 * whose scope none uses has nothing to compute, so the sensor leaves it
 * idle (no packet or classification hooks) until a reload brings one.
 */
int detect_scope_used(const struct detect *d, enum metric_scope sc);

/* Evaluates every rule over the hosts with traffic since since_us, at now_us. */
void detect_tick(struct detect *d, struct host_tables *ht, uint64_t since_us, uint64_t now_us);

void detect_get_stats(const struct detect *d, struct detect_stats *out);

/*
 * Adds to a the flows the host table remembers for (host, peer): its open
 * flow and the last one that ended. For modules whose evidence names
 * internal peers too (staging's sources).
 */
void detect_pair_flows(struct host_tables *ht, const struct dpi *dpi, const struct ip_addr *host,
    const struct ip_addr *peer, struct alert *a);

#endif
