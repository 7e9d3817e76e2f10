/*
 * baseline - what each internal host usually sends per hour, learned, and
 * how far the running hour is from it (category baseline-anomaly, ATT&CK
 * T1048 / T1030: an exfiltration that is big only for this host).
 *
 * Owns a bounded table of hosts (LRU; evictions counted), each with two
 * nDPI double exponential smoothing models (dpi_des_*): the outbound volume
 * of a clock hour and its upload ratio (out / in). When an hour ends its
 * values (read from the host table's hour buckets, host.h) are learned and
 * give the forecast and confidence band for the next hour. Hours in which
 * the host was silent are not learned (a workstation's nights would pull
 * the forecast to zero), and neither is an hour in which the host raised a
 * baseline-anomaly or any medium-or-worse alert (the `alerted` hook): an
 * exfiltration must not become the norm. The running hour is compared with
 * the band as it happens, so an anomaly is reported while it lasts.
 *
 * Baselines survive restarts: with --state-dir they are written to
 * "baseline.state" there (versioned header, checksum, written to a temporary
 * file and renamed) at every hour roll and at exit, and read at start; a
 * corrupt or foreign file is reported and ignored.
 */
#ifndef OUTFLOW_BASELINE_H
#define OUTFLOW_BASELINE_H

#include "detector.h"

/*
 * Smoothing: an hour's level follows the last few active hours (alpha 0.3:
 * about 3 hours' memory), the trend moves slowly (beta 0.1), and the band is
 * nDPI's 95 % confidence band (significance 0.05).
 */
#define BASELINE_ALPHA		0.3
#define BASELINE_BETA		0.1
#define BASELINE_SIGNIFICANCE	0.05f
#define BASELINE_STATE_FILE	"baseline.state"

struct baseline_mod;

extern const struct detector_ops baseline_ops;

/*
 * The module, with room for cfg->max_baseline_hosts hosts, and the
 * baselines of env->state_dirfd's state file if there is one (a bad file
 * is reported with log_warnx and ignored). NULL with a message in err.
 */
void *baseline_new(const struct detector_env *env, char *err, size_t errlen);

/* Writes the state file now (also done by ops->save); 0, or -1 (reported). */
int baseline_save(struct baseline_mod *m);

#endif
