/*
 * risk - one roll-up alert per host whose alerts add up (as Stratosphere
 * Slips accumulates the threat levels of a profile's evidence per time
 * window), so a SOC sees one host instead of twenty rows.
 *
 * Owns one bounded table of hosts that alerted, each with a bounded list of
 * its most recent contributing alerts (id, rule, category, score, time).
 * Fed by the alerted hook: every alert counts once per engagement (its
 * updates do not add again), host-risk alerts never count. When a host's
 * list is full its oldest contributor is folded into an "older" total that
 * still counts while all of it lies within the window. A host is forgotten
 * RISK_TTL_S after its last alert.
 *
 * Metrics (scope MSCOPE_RISK, window 1 min .. 24 h): risk.score,
 * risk.alerts, risk.categories. Evidence: evidence.risk { contributors[] }.
 */
#ifndef OUTFLOW_RISK_H
#define OUTFLOW_RISK_H

#include "detector.h"

#define RISK_MAX_CONTRIB 16		/* contributors kept per host */
#define RISK_TTL_S	(24u * 3600u)	/* the longest window a rule can ask for */

extern const struct detector_ops risk_ops;

/*
 * The module, with room for cfg->max_risk hosts (the stalest is evicted and
 * counted when full). NULL with a message in err on failure. Freed through
 * risk_ops.free.
 */
void *risk_new(const struct detector_env *env, char *err, size_t errlen);

#endif
