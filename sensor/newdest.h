/*
 * newdest - uploads to destinations a host (and the network) never
 * contacted before (MITRE ATT&CK T1041, T1567: exfiltration goes to a
 * place the organisation has no history with).
 *
 * Owns two bounded tables:
 *  - the first-seen memory: (internal host, destination) and (the whole
 *    network, destination), where a destination is an external address or
 *    the registered domain of its server name (sensor/domain.h). An entry
 *    is the pair's 64-bit fingerprint and its first and last contact in
 *    seconds, 32 bytes with its table links (two different pairs share a
 *    fingerprint with odds of about 2^-29 in a full default table). Least
 *    recently used entries are evicted when full, and counted. It survives
 *    restarts: with --state-dir it is loaded from NEWDEST_STATE_FILE at
 *    start and written atomically (temporary file, fsync, rename) every
 *    NEWDEST_SAVE_S of packet time and at exit. A file that is truncated,
 *    corrupt (checksum) or foreign (magic, version, byte order) is reported
 *    and ignored: the memory starts empty.
 *  - the recent new destinations: (host, address) pairs whose address and
 *    name were both unknown to the host at first contact, with the bytes
 *    sent since; kept NEWDEST_RECENT_S after their last packet.
 *
 * Metrics (scope MSCOPE_NEWDEST, no window): newdest.out.bytes,
 * newdest.net.new, newdest.history (how long the memory has been learning;
 * a rule's learning period is a condition on it).
 *
 * State file (host byte order; the record size doubles as a byte-order check):
 *
 *   0        8        12       16               24               32
 *   +--------+--------+--------+----------------+----------------+
 *   | magic  |version | recsize| count          | created_us     |
 *   +--------+--------+--------+----------------+----------------+
 *   | count x { fingerprint u64, first_s u32, last_s u32 }       |
 *   |                                                  16 B each |
 *   +------------------------------------------------------------+
 *   | FNV-1a 64 of everything above                          u64 |
 *   +------------------------------------------------------------+
 *
 * Version 1 files (records of host[16], dest hash u64, first_us u64,
 * last_us u64: 40 B) are still read, their pairs fingerprinted on load.
 */
#ifndef OUTFLOW_NEWDEST_H
#define OUTFLOW_NEWDEST_H

#include "detector.h"

#define NEWDEST_STATE_FILE	"newdest.state"
#define NEWDEST_STATE_VERSION	2u
#define NEWDEST_SAVE_S		600u		/* periodic save, packet time */
#define NEWDEST_RECENT_S	(24u * 3600u)	/* a new destination stays "new" this long */

extern const struct detector_ops newdest_ops;

/*
 * The module, remembering up to cfg->max_newdest first-seen destinations
 * (loaded from env->state_dirfd if it is >= 0). NULL with a message in err
 * only when memory cannot be allocated: a bad state file is not an error.
 * Freed through newdest_ops.free (after newdest_ops.save).
 */
void *newdest_new(const struct detector_env *env, char *err, size_t errlen);

/* Why the state file was ignored at start ("" if it was loaded or absent). */
const char *newdest_state_error(const void *mod);

/* Writes the state file now (also what the save hook does); 0 on success. */
int newdest_save_now(void *mod);

#endif
