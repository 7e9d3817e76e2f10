/*
 * staging - an internal host collects data from internal peers, then sends
 * it out (MITRE ATT&CK T1074 Data Staged, then T1041 / T1048).
 *
 * Owns one bounded table of episodes, one per internal host that pulled
 * payload from internal peers on flows it initiated (SMB/NFS reads, database
 * dumps, HTTP or SSH downloads from internal servers). Pushing to an internal
 * server (a backup) is not pulling, and serving is not pulling. An episode
 * keeps its sources (ip, nDPI application, bytes) and, after its first pull,
 * the external destinations the host sent to, so one alert can tell both
 * halves of the story: what was collected, from whom, and where it went how
 * much later. Pulls separated by more than STAGING_GAP start a new episode;
 * an episode is forgotten STAGING_TTL after its last activity.
 *
 * Metrics (scope MSCOPE_STAGING, no window): staging.in.bytes,
 * staging.in.sources, staging.out.bytes, staging.out.share, staging.delay.
 * Evidence: evidence.staging { collected {...}, sent {...}, delay_s }.
 */
#ifndef OUTFLOW_STAGING_H
#define OUTFLOW_STAGING_H

#include "detector.h"

#define STAGING_MAX_SRC	16		/* sources kept per episode (by bytes) */
#define STAGING_MAX_DST	8		/* external destinations kept per episode */
#define STAGING_GAP_S	(30u * 60u)	/* a pull after this quiet starts a new episode */
#define STAGING_TTL_S	(24u * 3600u)	/* an episode lives this long after its last activity */

extern const struct detector_ops staging_ops;

/*
 * The module, with room for cfg->max_staging episodes (the stalest is
 * evicted and counted when full). NULL with a message in err on failure.
 * Freed through staging_ops.free.
 */
void *staging_new(const struct detector_env *env, char *err, size_t errlen);

#endif
