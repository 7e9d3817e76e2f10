/*
 * sink_redis - delivers alert and stats JSON to Redis without ever blocking
 * the packet path.
 *
 * The packet thread only copies the JSON into a bounded in-memory queue; a
 * writer thread owns the hiredis connection, pipelines what is queued
 * (PUBLISH on the alert channel + XADD to the capped alert stream; PUBLISH
 * of stats on the stats channel), and reconnects with exponential backoff
 * when Redis is down. Nothing is dropped while the queue has room; what
 * overflows is counted (and said) rather than silently lost.
 *
 * With a spool directory, alerts that do not fit in the queue go to disk
 * (spool.h) and are replayed, in order and exactly once, when Redis is
 * back, also after a restart: only the spool's size cap then drops alerts.
 * Stats messages are never spooled: they are snapshots, soon superseded, so
 * when the queue is full they are dropped (and counted) instead.
 */
#ifndef OUTFLOW_SINK_REDIS_H
#define OUTFLOW_SINK_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "redis_url.h"

struct sink_redis_config {
	const char *url;
	const char *alert_channel;	/* default "outflow:alerts" */
	const char *alert_stream;	/* default "outflow:alerts:stream" */
	const char *stats_channel;	/* default "outflow:stats" */
	size_t stream_maxlen;		/* XADD MAXLEN ~ N; default 100000 */
	size_t queue_cap;		/* messages held while Redis is away; default 65536 */
	int connect_timeout_ms;		/* default 2000 */
	/*
	 * Where alerts go when the queue is full; NULL for none (they are
	 * dropped). Created 0700 if missing (its parent must exist); refused
	 * if it is a symlink, world-writable, or owned by another user (root
	 * excepted), or is in use by another process.
	 */
	const char *spool_dir;
	uint64_t spool_max_bytes;	/* disk cap for the spool; 0 = 256 MiB */
};

struct sink_redis_stats {
	uint64_t queued;	/* accepted into the (memory) queue by push, in total */
	uint64_t delivered;	/* acknowledged by Redis (replayed ones included) */
	uint64_t dropped;	/* refused: queue full and no spool (or a stats
				 * message), spool cap reached, spool write error */
	uint64_t reconnects;	/* successful connections after the first */
	uint64_t errors;	/* failed connects and failed writes */
	size_t depth;		/* in the memory queue now (replayed ones included) */
	int connected;
	uint64_t spooled;	/* alerts written to the spool, in total */
	uint64_t spool_bytes;	/* spool files on disk now */
	uint64_t spool_pending;	/* alerts in the spool not yet delivered (includes
				 * those left by a previous run) */
	uint64_t replayed;	/* delivered from the spool (part of delivered) */
};

enum sink_redis_kind { SINK_REDIS_ALERT, SINK_REDIS_STATS };

struct sink_redis;

/*
 * Parses the URL, opens the spool (if any), and starts the writer thread;
 * Redis need not be up yet (the writer keeps retrying and logs once per
 * outage). Alerts a previous run left in the spool are delivered before
 * anything pushed now. Returns NULL with a message in err for a bad URL, a
 * spool directory that is unsafe or unusable, or out-of-memory. The caller
 * owns the result and must sink_redis_close() it.
 */
struct sink_redis *sink_redis_open(const struct sink_redis_config *cfg, char *err, size_t errlen);

/*
 * Queues one message (copied; json need not be NUL-terminated). id is the
 * alert's unique id (NULL for stats); it is written as the stream entry's
 * "id" field beside "alert" (the JSON), so a reader can de-duplicate and
 * the writer can tell, after a reconnect, what already arrived. Never
 * blocks on the network. Returns 0, or -1 when the message was refused
 * (counted as dropped). An alert that finds the queue full goes to the
 * spool, if there is one (a write of a few hundred bytes, on the packet
 * thread, only during an outage); from then on every alert goes to the
 * spool until the writer has caught up with it, so the order holds.
 */
int sink_redis_push(struct sink_redis *s, enum sink_redis_kind kind, const char *id,
    const char *json, size_t len);

void sink_redis_get_stats(struct sink_redis *s, struct sink_redis_stats *out);

/*
 * Waits at most drain_ms for the queue (and the spool) to empty, stops the
 * writer, frees everything. Alerts still in memory are written to the
 * spool, if there is one, ahead of the alerts already there, so the next
 * start delivers them in order. Returns the number of messages lost: neither
 * delivered nor kept in the spool (0 = nothing lost).
 */
size_t sink_redis_close(struct sink_redis *s, int drain_ms);

#endif
