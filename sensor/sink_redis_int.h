/*
 * sink_redis_int - the Redis sink's shared state, private to sink_redis.c
 * (public API, the queue, the spool glue) and sink_redis_writer.c (the
 * writer thread: connection, handshake, delivery, reconciliation).
 *
 * Owns: struct sink_redis and its queue node, which fields each thread may
 * touch and under which lock, the time and locking helpers both files use,
 * and the queue operations the writer calls. The two-thread design and the
 * spool's ordering rules are explained at the top of sink_redis.c.
 *
 * Locks: spool_mu (the spool's files) is taken before mu, never after.
 */
#ifndef OUTFLOW_SINK_REDIS_INT_H
#define OUTFLOW_SINK_REDIS_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "redis_url.h"
#include "sink_redis.h"
#include "spool.h"

#define SINK_REDIS_BATCH		256	/* messages per pipelined round trip */
#define SINK_REDIS_BACKOFF_MIN_MS	100
#define SINK_REDIS_BACKOFF_MAX_MS	5000

/* One queued message, in one allocation: the id and the JSON are in data[]. */
struct sink_msg {
	struct sink_msg *next;
	enum sink_redis_kind kind;
	const char *id;		/* into data[], "" when none */
	size_t id_len;
	const char *json;	/* into data[], after the id */
	size_t json_len;
	int from_spool;		/* replayed: spool_at is where it is on disk */
	struct spool_pos spool_at;
	char data[];
};

struct sink_redis {
	/* Set by sink_redis_open(), read-only afterwards. */
	struct redis_url url;
	char where[300];	/* "host:port" or "unix:/path", for log lines */
	char *alert_channel;
	char *alert_stream;
	char *stats_channel;
	char maxlen[24];	/* stream_maxlen as the XADD argument */
	size_t queue_cap;
	int connect_timeout_ms;
	pthread_t thread;

	/* Guarded by mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* work arrived, or stop requested */
	pthread_cond_t exited_cv;	/* the writer is gone */
	struct sink_msg *head, *tail;
	int stopping;
	int exited;
	int64_t deadline_ms;	/* when stopping: give up delivering at this time */
	int fd;			/* the writer's socket, -1 when none; see close */
	struct sink_redis_stats st;
	int spill;		/* alerts go to the spool: it has unread records */
	size_t spool_in_queue;	/* queued messages that came from the spool */
	uint64_t spool_refused;	/* alerts the spool's cap turned away */
	uint64_t spool_failed;	/* alerts a spool write error cost */
	int spool_errno;

	/* Guarded by spool_mu (taken before mu). */
	pthread_mutex_t spool_mu;
	struct spool *spool;	/* NULL when not configured */

	/* Writer thread only. */
	redisContext *ctx;
	int backoff_ms;
	int ever_connected;
	int in_outage;		/* since the last successful connection */
	int outage_logged;	/* "cannot connect" said once per outage */
	int64_t outage_start_ms;
	int64_t conf_logged_ms;	/* last auth/permission complaint */
	int64_t reply_logged_ms;	/* last error-reply complaint */
	int64_t drops_logged_ms;
	uint64_t drops_reported;
	size_t uncertain;	/* head messages whose fate a broken batch left unknown */
	int replay_check;	/* reconcile the first refill: a previous run's spool */
	int spill_logged;	/* "spilling to the spool" said, until it drains */
	int spool_full_logged;	/* "spool full" said, until it drains */
	uint64_t spool_refused_reported;
	uint64_t spool_failed_reported;
	int64_t spool_err_logged_ms;
	struct sink_msg *batch[SINK_REDIS_BATCH];
	char done[SINK_REDIS_BATCH];
};

/* ---- time and locking helpers ---------------------------------------- */

/* Monotonic: I/O timing must not jump with the wall clock. */
static inline int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline struct timeval
ms_to_tv(int64_t ms)
{
	struct timeval tv;

	if (ms < 1)
		ms = 1;		/* {0,0} would mean "no timeout" to hiredis */
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

/* An absolute CLOCK_MONOTONIC time for pthread_cond_timedwait. */
static inline struct timespec
ms_to_abs(int64_t at_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(at_ms / 1000);
	ts.tv_nsec = (long)(at_ms % 1000) * 1000000;
	return ts;
}

static inline void
lock(struct sink_redis *s)
{
	OF_ASSERT(pthread_mutex_lock(&s->mu) == 0);
}

static inline void
unlock(struct sink_redis *s)
{
	OF_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
}

static inline void
lock_spool(struct sink_redis *s)
{
	OF_ASSERT(pthread_mutex_lock(&s->spool_mu) == 0);
}

static inline void
unlock_spool(struct sink_redis *s)
{
	OF_ASSERT(pthread_mutex_unlock(&s->spool_mu) == 0);
}

/* Nothing left to deliver, in memory or on disk. Called with mu held. */
static inline int
all_delivered(const struct sink_redis *s)
{
	return s->head == NULL && !s->spill;
}

/* Mirrors the spool's figures into the stats; spool_mu and mu held. */
static inline void
spool_stats_locked(struct sink_redis *s)
{
	struct spool_stats ss;

	spool_get_stats(s->spool, &ss);
	s->st.spool_bytes = ss.bytes;
	s->st.spool_pending = ss.pending;
}

/* ---- the queue (sink_redis.c), for the writer thread ---------------------- */

/* Copies up to SINK_REDIS_BATCH head pointers (or max) into s->batch; returns how many. */
size_t sink_redis_queue_peek(struct sink_redis *s, size_t max);

/*
 * Blocks until there is work or a stop request; refills the queue from the
 * spool when it is empty. Returns the batch size (in s->batch), or 0 when
 * there is nothing to send now (stopping, or a refill left s->uncertain
 * messages that must be reconciled first).
 */
size_t sink_redis_queue_take(struct sink_redis *s);

/*
 * Removes the messages among s->batch[0..n) whose s->done flag is set,
 * counting them delivered, and acknowledges delivered spooled alerts to the
 * spool. Returns how many were removed.
 */
size_t sink_redis_queue_remove_done(struct sink_redis *s, size_t n);

/* ---- the writer thread (sink_redis_writer.c) ------------------------------ */

/* pthread start routine; arg is the struct sink_redis. Returns once stopping is done. */
void *sink_redis_writer_main(void *arg);

#endif
