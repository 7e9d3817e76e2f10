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
 */
#ifndef OUTFLOW_SINK_REDIS_H
#define OUTFLOW_SINK_REDIS_H

#include <stddef.h>
#include <stdint.h>

struct redis_url {
	char host[256];		/* empty for a unix socket */
	int port;
	char path[256];		/* unix socket path, empty for TCP */
	char user[128];		/* ACL user, empty for none */
	char password[256];	/* empty for none */
	int db;
};

/*
 * Parses redis://[[user]:password@]host[:port][/db] (default port 6379,
 * db 0; IPv6 hosts in brackets) and unix:///path/to.sock[?db=N].
 * Returns 0, or -1 with a message in err.
 */
int redis_url_parse(const char *url, struct redis_url *u, char *err, size_t errlen);

struct sink_redis_config {
	const char *url;
	const char *alert_channel;	/* default "outflow:alerts" */
	const char *alert_stream;	/* default "outflow:alerts:stream" */
	const char *stats_channel;	/* default "outflow:stats" */
	size_t stream_maxlen;		/* XADD MAXLEN ~ N; default 100000 */
	size_t queue_cap;		/* messages held while Redis is away; default 65536 */
	int connect_timeout_ms;		/* default 2000 */
};

struct sink_redis_stats {
	uint64_t queued;	/* accepted into the queue, in total */
	uint64_t delivered;	/* acknowledged by Redis */
	uint64_t dropped;	/* refused because the queue was full */
	uint64_t reconnects;	/* successful connections after the first */
	uint64_t errors;	/* failed connects and failed writes */
	size_t depth;		/* in the queue now */
	int connected;
};

enum sink_redis_kind { SINK_REDIS_ALERT, SINK_REDIS_STATS };

struct sink_redis;

/*
 * Parses the URL and starts the writer thread; Redis need not be up yet
 * (the writer keeps retrying and logs once per outage). Returns NULL with a
 * message in err only for a bad URL or out-of-memory. The caller owns the
 * result and must sink_redis_close() it.
 */
struct sink_redis *sink_redis_open(const struct sink_redis_config *cfg, char *err, size_t errlen);

/*
 * Queues one message (copied; json need not be NUL-terminated). id is the
 * alert's unique id (NULL for stats); it is written as the stream entry's
 * "id" field beside "alert" (the JSON), so a reader can de-duplicate and
 * the writer can tell, after a reconnect, what already arrived. Never
 * blocks on the network. Returns 0, or -1 when the queue is full (the
 * message is counted as dropped).
 */
int sink_redis_push(struct sink_redis *s, enum sink_redis_kind kind, const char *id,
    const char *json, size_t len);

void sink_redis_get_stats(struct sink_redis *s, struct sink_redis_stats *out);

/*
 * Waits at most drain_ms for the queue to empty, stops the writer, frees
 * everything. Returns the number of messages left undelivered (0 = all
 * arrived).
 */
size_t sink_redis_close(struct sink_redis *s, int drain_ms);

#endif
