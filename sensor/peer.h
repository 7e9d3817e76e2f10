/*
 * peer - the ledger of what each internal host exchanges with one
 * destination across flows: scope MSCOPE_PEER.
 *
 * The destination key is the registered domain of the flow's server name
 * (domain.h: www.dropbox.com and block.dropbox.com are one key, a bucket
 * under s3.amazonaws.com is its own tenant), or the responder's address
 * when the flow has no name. One entry per (host, key) sums every flow,
 * port and address of that key: volume in 30-minute buckets over 6 hours,
 * and the start times and sizes of its last PEER_RING answered
 * connections. Only flows an internal host initiated to an external address
 * count, and never DNS (dnsmon.c's concern: the resolver's lookups would
 * look like beacons).
 *
 * It drives three rule families (rules/README.md):
 *   beacon            regular connections (RITA-style interval and size
 *                     regularity), ATT&CK T1029 / T1071;
 *   chunked-transfer  many near-constant pieces adding up, T1030;
 *   cloud-upload      upload volume and ratio to one cloud tenant, judged
 *                     per key while the flow is still open, T1567.002.
 *
 * The packet hook costs one slot lookup in the flow and a few adds; a flow
 * caches its entry (struct flow peer_slot/peer_tag) from classification on.
 *
 * Memory: the table of env->cfg->max_peers entries and a pool of a quarter
 * as many detail blocks, both allocated once. An entry holds two
 * connections and two buckets inline and borrows a block when it needs
 * more (peer.c); an empty pool evicts a detailed entry, counted in the
 * stats (detectors.peer.details_evicted and evicted).
 */
#ifndef OUTFLOW_PEER_H
#define OUTFLOW_PEER_H

#include "detector.h"

#define PEER_RING	16		/* answered connections kept per entry */
#define PEER_FLOWS	4		/* of which with their 5-tuple, for the evidence */
#define PEER_BUCKET_S	1800		/* volume bucket: 30 min */
#define PEER_NBUCKETS	12		/* 6 h of buckets */
#define PEER_IDLE_S	(24u * 3600u)	/* an entry idle this long is dropped */

extern const struct detector_ops peer_ops;

/*
 * The module, its table of env->cfg->max_peers entries and its detail pool
 * allocated at once. NULL with a message in err if that fails. Freed by peer_ops.free.
 */
void *peer_new(const struct detector_env *env, char *err, size_t errlen);

/* Beacon statistics of an entry's connection ring (exposed for tests). */
struct peer_stats {
	unsigned n;			/* connections in the ring */
	double iv_median, iv_mad, iv_skew;	/* intervals between starts, seconds */
	double sz_median, sz_mad, sz_skew, sz_cv;	/* bytes sent per connection */
	double score;			/* 0..1, 0 with fewer than 4 connections */
};

/*
 * Bowley (quartile) skew of v[0..n) sorted ascending: (Q3 + Q1 - 2 Q2) /
 * (Q3 - Q1), 0 when Q3 == Q1. In -1..1.
 */
double peer_bowley(const double *v, size_t n);

/*
 * The RITA-style score of sorted connection starts (seconds) and sizes:
 * mean of the interval score ((1 - |skew|) + (1 - MAD/median) + fill) / 3
 * and the size score ((1 - |skew|) + (1 - MAD/median)) / 2, each term
 * clamped to 0..1; fill = n / PEER_RING.
 */
void peer_score(const double *starts, const double *sizes, size_t n, struct peer_stats *out);

#endif
