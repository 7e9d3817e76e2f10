/*
 * sink_redis - the Redis alert sink (see sink_redis.h for the contract).
 *
 * Two threads meet here. The packet thread calls sink_redis_push(), which
 * only copies the message onto a bounded FIFO under a mutex and signals a
 * condition variable; it never touches a socket, so a slow or absent Redis
 * can cost the sensor alerts (counted as dropped) but never packets. The
 * writer thread owns the hiredis context: it connects (AUTH, SELECT), takes
 * a batch from the head of the queue *without removing it*, pipelines the
 * commands, and removes a message only once Redis has acknowledged it. When
 * the connection breaks the messages simply stay queued and the writer
 * reconnects with exponential backoff.
 *
 * Exactly once in the stream: a batch cut off mid-flight is uncertain (some
 * XADDs may have been applied, their replies lost). Before resending it the
 * writer reads the tail of the stream and drops the alerts whose "id" is
 * already there. PUBLISH has no such check: pub/sub is best-effort by
 * design (a subscriber that is away misses messages anyway), so in that
 * rare case a subscriber may see an alert twice; the stream is the record.
 *
 * Queue nodes are added only at the tail (by push, or by the writer's
 * refill from the spool) and removed only by the writer, so the writer may
 * hold pointers to the first N nodes across the network round trip without
 * holding the lock.
 *
 * The spool (optional) extends the queue on disk, behind it. An alert that
 * finds the queue full is appended to the spool by push itself (a pwrite,
 * never the network) and sets "spill": while it is set every alert goes to
 * the spool, so nothing overtakes what is on disk. The writer moves spooled
 * alerts back into the queue only when the queue is empty, and clears spill
 * when it has read everything, in the same critical section (under both
 * locks) that an append would need. So the queue always holds, in order, the
 * spooled alerts it has taken, then alerts newer than anything on disk; or,
 * during a spill, alerts older than anything on disk. A spooled alert is
 * acknowledged to the spool (its segment header) only once Redis has it;
 * after a restart the first replayed batch is reconciled against the stream
 * tail like a broken batch, so a crash between XADD and that acknowledgement
 * adds no duplicate. Stats messages are never spooled (see sink_redis.h).
 *
 * Locks: spool_mu (the spool's files) is taken before mu, never after.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "sink_redis.h"
#include "spool.h"

#define SINK_REDIS_BATCH		256	/* messages per pipelined round trip */
#define SINK_REDIS_BACKOFF_MIN_MS	100
#define SINK_REDIS_BACKOFF_MAX_MS	5000
#define SINK_REDIS_CMD_TIMEOUT_MS	5000	/* a hung server must not hold the writer */
#define SINK_REDIS_LOG_EVERY_MS		30000	/* repeated errors: at most this often */
#define SINK_REDIS_TAIL_SLACK		32	/* extra stream entries read when reconciling */
#define SINK_REDIS_REFILL		1024	/* spooled alerts moved to the queue at once */

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
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval
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
static struct timespec
ms_to_abs(int64_t at_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(at_ms / 1000);
	ts.tv_nsec = (long)(at_ms % 1000) * 1000000;
	return ts;
}

static void
lock(struct sink_redis *s)
{
	OF_ASSERT(pthread_mutex_lock(&s->mu) == 0);
}

static void
unlock(struct sink_redis *s)
{
	OF_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
}

static void
lock_spool(struct sink_redis *s)
{
	OF_ASSERT(pthread_mutex_lock(&s->spool_mu) == 0);
}

static void
unlock_spool(struct sink_redis *s)
{
	OF_ASSERT(pthread_mutex_unlock(&s->spool_mu) == 0);
}

/* Nothing left to deliver, in memory or on disk. Called with mu held. */
static int
all_delivered(const struct sink_redis *s)
{
	return s->head == NULL && !s->spill;
}

/* Mirrors the spool's figures into the stats; spool_mu and mu held. */
static void
spool_stats_locked(struct sink_redis *s)
{
	struct spool_stats ss;

	spool_get_stats(s->spool, &ss);
	s->st.spool_bytes = ss.bytes;
	s->st.spool_pending = ss.pending;
}

/*
 * How long an operation may take: its normal limit, or less when closing.
 * Returns 0 once the drain deadline has passed.
 */
static int64_t
writer_budget_ms(struct sink_redis *s, int64_t limit)
{
	int64_t left;

	lock(s);
	if (s->stopping) {
		left = s->deadline_ms - now_ms();
		if (left < limit)
			limit = left > 0 ? left : 0;
	}
	unlock(s);
	return limit;
}

static int
writer_should_exit(struct sink_redis *s)
{
	int done;

	lock(s);
	done = s->stopping && (all_delivered(s) || now_ms() >= s->deadline_ms);
	unlock(s);
	return done;
}

/*
 * Sleeps ms, waking early only to stop (at the drain deadline, or at once
 * when nothing is left to deliver): a push must not cut a backoff short, or
 * a full queue would turn backoff into a busy retry loop.
 */
static void
writer_pause(struct sink_redis *s, int64_t ms)
{
	int64_t until = now_ms() + ms;

	lock(s);
	for (;;) {
		int64_t limit = until;
		struct timespec ts;

		if (s->stopping && all_delivered(s))
			break;
		if (s->stopping && s->deadline_ms < limit)
			limit = s->deadline_ms;
		if (now_ms() >= limit)
			break;
		ts = ms_to_abs(limit);
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	unlock(s);
}

static void
writer_backoff(struct sink_redis *s)
{
	writer_pause(s, s->backoff_ms);
	s->backoff_ms *= 2;
	if (s->backoff_ms > SINK_REDIS_BACKOFF_MAX_MS)
		s->backoff_ms = SINK_REDIS_BACKOFF_MAX_MS;
}

/* At most once per SINK_REDIS_LOG_EVERY_MS per kind of complaint. */
static int
writer_may_log(int64_t *last)
{
	int64_t t = now_ms();

	if (*last != 0 && t - *last < SINK_REDIS_LOG_EVERY_MS)
		return 0;
	*last = t;
	return 1;
}

static void
writer_count_error(struct sink_redis *s)
{
	lock(s);
	s->st.errors++;
	unlock(s);
}

/* ---- connection ------------------------------------------------------- */

/*
 * The socket is published so close() can shut it down when a hung server
 * holds the writer in a read past the drain deadline; it is unpublished
 * before the context (and so the descriptor) is freed, so close() never
 * touches a descriptor number that has been reused.
 */
static void
writer_set_ctx(struct sink_redis *s, redisContext *c)
{
	lock(s);
	s->fd = c != NULL ? c->fd : -1;
	s->st.connected = c != NULL && c == s->ctx;
	unlock(s);
}

static void
writer_free_ctx(struct sink_redis *s, redisContext *c)
{
	lock(s);
	s->fd = -1;
	s->st.connected = 0;
	unlock(s);
	redisFree(c);
}

static void
writer_outage_begins(struct sink_redis *s)
{
	if (!s->in_outage) {
		s->in_outage = 1;
		s->outage_start_ms = now_ms();
	}
}

static void
writer_disconnect(struct sink_redis *s, const char *why)
{
	writer_outage_begins(s);
	if (!s->outage_logged) {
		log_warnx("redis: connection to %s lost: %s; alerts are queued", s->where, why);
		s->outage_logged = 1;
	}
	writer_free_ctx(s, s->ctx);
	s->ctx = NULL;
	writer_count_error(s);
}

/*
 * One handshake command. Returns 0, -1 on an I/O error (treated like a
 * refused connection), -2 on an error reply (logged by the caller).
 */
static int
writer_handshake_cmd(redisContext *c, int argc, const char **argv, char *why, size_t whylen)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	int rc = 0;

	if (r == NULL) {
		snprintf(why, whylen, "%s", c->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "%s", r->str);
		rc = -2;
	}
	freeReplyObject(r);
	return rc;
}

/*
 * AUTH, SELECT, then PING, so a server that wants a password we lack says
 * NOAUTH now, by name, instead of failing every delivery later.
 */
static int
writer_handshake(struct sink_redis *s, redisContext *c)
{
	const struct redis_url *u = &s->url;
	const char *argv[3];
	char why[512], dbtext[16];
	int rc = 0;

	if (u->password[0] != '\0' || u->user[0] != '\0') {
		argv[0] = "AUTH";
		argv[1] = u->user[0] ? u->user : u->password;
		argv[2] = u->password;
		rc = writer_handshake_cmd(c, u->user[0] ? 3 : 2, argv, why, sizeof why);
		if (rc == -2 && writer_may_log(&s->conf_logged_ms))
			log_warnx("redis: authentication failed for user '%s' at %s: %s",
			    u->user[0] ? u->user : "default", s->where, why);
	}
	if (rc == 0 && u->db != 0) {
		snprintf(dbtext, sizeof dbtext, "%d", u->db);
		argv[0] = "SELECT";
		argv[1] = dbtext;
		rc = writer_handshake_cmd(c, 2, argv, why, sizeof why);
		if (rc == -2 && writer_may_log(&s->conf_logged_ms))
			log_warnx("redis: SELECT %d failed at %s: %s", u->db, s->where, why);
	}
	if (rc == 0) {
		argv[0] = "PING";
		rc = writer_handshake_cmd(c, 1, argv, why, sizeof why);
		if (rc == -2 && writer_may_log(&s->conf_logged_ms))
			log_warnx("redis: %s refuses us: %s%s", s->where, why,
			    strncmp(why, "NOAUTH", 6) == 0 ? " (add a password to the URL)" : "");
	}
	if (rc == -1) {
		writer_outage_begins(s);
		if (!s->outage_logged) {
			log_warnx("redis: handshake with %s failed: %s; retrying, alerts are queued",
			    s->where, why);
			s->outage_logged = 1;
		}
	}
	/* A configuration problem will not fix itself soon: retry slowly. */
	if (rc == -2)
		s->backoff_ms = SINK_REDIS_BACKOFF_MAX_MS;
	return rc;
}

static void
writer_connected(struct sink_redis *s)
{
	size_t depth;
	uint64_t spooled;

	lock(s);
	if (s->ever_connected)
		s->st.reconnects++;
	depth = s->st.depth;
	spooled = s->st.spool_pending;
	unlock(s);
	if (!s->ever_connected)
		log_info("redis: connected to %s", s->where);
	else
		log_info("redis: reconnected to %s after %.1f s, delivering %zu queued alerts%s",
		    s->where, (double)(now_ms() - s->outage_start_ms) / 1000.0, depth,
		    spooled > 0 ? " and those in the spool" : "");
	s->ever_connected = 1;
	s->in_outage = 0;
	s->outage_logged = 0;
	s->backoff_ms = SINK_REDIS_BACKOFF_MIN_MS;
}

static int
writer_connect(struct sink_redis *s)
{
	int64_t budget = writer_budget_ms(s, s->connect_timeout_ms);
	struct timeval tv;
	redisContext *c;

	if (budget <= 0)
		return -1;
	tv = ms_to_tv(budget);
	/* Name resolution (getaddrinfo) is not bounded by tv: use an address. */
	if (s->url.path[0] != '\0')
		c = redisConnectUnixWithTimeout(s->url.path, tv);
	else
		c = redisConnectWithTimeout(s->url.host, s->url.port, tv);
	if (c == NULL || c->err) {
		writer_outage_begins(s);
		if (!s->outage_logged) {
			log_warnx("redis: cannot connect to %s: %s; retrying, alerts are queued",
			    s->where, c ? c->errstr : "out of memory");
			s->outage_logged = 1;
		}
		redisFree(c);
		writer_count_error(s);
		return -1;
	}
	writer_set_ctx(s, c);
	redisSetTimeout(c, ms_to_tv(writer_budget_ms(s, SINK_REDIS_CMD_TIMEOUT_MS)));
	if (writer_handshake(s, c) != 0) {
		writer_free_ctx(s, c);
		writer_count_error(s);
		return -1;
	}
	s->ctx = c;
	writer_set_ctx(s, c);
	writer_connected(s);
	return 0;
}

/* ---- queue ------------------------------------------------------------ */

/* Copies up to SINK_REDIS_BATCH head pointers (or max) into s->batch. */
static size_t
queue_peek(struct sink_redis *s, size_t max)
{
	struct sink_msg *m;
	size_t n = 0;

	lock(s);
	for (m = s->head; m != NULL && n < max && n < SINK_REDIS_BATCH; m = m->next)
		s->batch[n++] = m;
	unlock(s);
	return n;
}

/*
 * Removes the first n queue nodes (which are s->batch[0..n)) whose done flag
 * is set, counting them delivered. Returns how many were removed, and in
 * *replayed how many of those came from the spool.
 */
static size_t
queue_remove_done(struct sink_redis *s, size_t n, size_t *replayed)
{
	struct sink_msg *prev = NULL, *m;
	size_t removed = 0, spooled = 0;

	lock(s);
	for (size_t i = 0; i < n; i++) {
		m = prev != NULL ? prev->next : s->head;
		OF_ASSERT(m == s->batch[i]);
		if (!s->done[i]) {
			prev = m;
			continue;
		}
		if (prev != NULL)
			prev->next = m->next;
		else
			s->head = m->next;
		if (s->tail == m)
			s->tail = prev;
		spooled += m->from_spool;
		free(m);
		removed++;
	}
	s->st.delivered += removed;
	s->st.replayed += spooled;
	s->st.depth -= removed;
	s->spool_in_queue -= spooled;
	unlock(s);
	*replayed = spooled;
	return removed;
}

/*
 * Tells the spool what Redis has: everything before the first spooled
 * alert still queued or, when none is, everything read from it so far.
 * ndone: spooled alerts delivered (or given up) since the last call.
 */
static void
spool_acknowledge(struct sink_redis *s, size_t ndone)
{
	const struct sink_msg *m;
	struct spool_pos pos;

	lock_spool(s);
	pos = spool_read_pos(s->spool);
	lock(s);
	if (s->spool_in_queue > 0) {
		for (m = s->head; m != NULL && !m->from_spool; m = m->next)
			;
		OF_ASSERT(m != NULL);
		pos = m->spool_at;
	}
	unlock(s);
	spool_ack(s->spool, pos, ndone);
	lock(s);
	spool_stats_locked(s);
	unlock(s);
	unlock_spool(s);
}

static size_t
writer_remove_done(struct sink_redis *s, size_t n)
{
	size_t replayed, removed = queue_remove_done(s, n, &replayed);

	if (replayed > 0)
		spool_acknowledge(s, replayed);
	return removed;
}

static struct sink_msg *
msg_new(enum sink_redis_kind kind, const char *id, size_t id_len, const char *json, size_t len)
{
	struct sink_msg *m = malloc(sizeof *m + id_len + 1 + len + 1);
	char *p;

	if (m == NULL)
		return NULL;
	p = m->data;
	memcpy(p, id_len ? id : "", id_len);
	p[id_len] = '\0';
	memcpy(p + id_len + 1, json, len);
	p[id_len + 1 + len] = '\0';
	m->next = NULL;
	m->kind = kind;
	m->id = p;
	m->id_len = id_len;
	m->json = p + id_len + 1;
	m->json_len = len;
	m->from_spool = 0;
	memset(&m->spool_at, 0, sizeof m->spool_at);
	return m;
}

/* Reads up to max spooled alerts into a list; *more is 0 once caught up. */
static size_t
refill_read(struct sink_redis *s, size_t max, struct sink_msg **first, struct sink_msg **last,
    int *more, size_t *lost)
{
	struct spool_rec rec;
	struct sink_msg *m;
	size_t n = 0;

	*first = *last = NULL;
	*more = 1;
	while (n < max && (*more = spool_read(s->spool, &rec)) == 1) {
		if ((m = msg_new(SINK_REDIS_ALERT, rec.id, rec.id_len, rec.json,
		    rec.json_len)) == NULL) {
			(*lost)++;
			continue;
		}
		m->from_spool = 1;
		m->spool_at = rec.start;
		if (*last != NULL)
			(*last)->next = m;
		else
			*first = m;
		*last = m;
		n++;
	}
	return n;
}

/*
 * Moves spooled alerts, oldest first, into the queue, which is empty of
 * alerts (only stats may have arrived since). Once the spool has nothing
 * unread, spill ends, under both locks, so a push that is spooling cannot
 * slip in between. After a restart the first refill is reconciled against
 * the stream like a broken batch: the previous run may have delivered it
 * without getting to acknowledge it.
 */
static void
writer_refill(struct sink_redis *s)
{
	struct sink_msg *first, *last;
	struct spool_pos pos;
	size_t n, room, lost = 0;
	int more;

	lock_spool(s);
	lock(s);
	room = s->queue_cap > s->st.depth ? s->queue_cap - s->st.depth : 1;
	unlock(s);
	n = refill_read(s, room < SINK_REDIS_REFILL ? room : SINK_REDIS_REFILL, &first, &last,
	    &more, &lost);
	pos = first != NULL ? first->spool_at : spool_read_pos(s->spool);
	lock(s);
	if (first != NULL) {
		if (s->tail != NULL)
			s->tail->next = first;
		else
			s->head = first;
		s->tail = last;
		s->st.depth += n;
		s->spool_in_queue += n;
	}
	if (more == 0)
		s->spill = 0;
	s->st.dropped += lost;
	if (s->replay_check && n > 0) {
		s->replay_check = 0;
		s->uncertain = s->st.depth < SINK_REDIS_BATCH ? s->st.depth : SINK_REDIS_BATCH;
	}
	unlock(s);
	/* Deletes what is drained; counts alerts lost to malloc as done with. */
	if (n == 0 || lost > 0)
		spool_ack(s->spool, pos, lost);
	lock(s);
	spool_stats_locked(s);
	unlock(s);
	unlock_spool(s);
}

/* Blocks until there is work or a stop request; returns the batch size. */
static size_t
writer_take(struct sink_redis *s)
{
	int refill;

	lock(s);
	while (all_delivered(s) && !s->stopping)
		pthread_cond_wait(&s->cv, &s->mu);
	refill = s->head == NULL && s->spill;
	unlock(s);
	if (refill) {
		writer_refill(s);
		if (s->uncertain > 0)
			return 0;	/* the loop reconciles first */
	}
	return queue_peek(s, SINK_REDIS_BATCH);
}

/* ---- delivery --------------------------------------------------------- */

static int
writer_append(struct sink_redis *s, const struct sink_msg *m)
{
	const char *argv[10];
	size_t len[10];

	if (m->kind == SINK_REDIS_STATS) {
		argv[0] = "PUBLISH"; len[0] = 7;
		argv[1] = s->stats_channel; len[1] = strlen(s->stats_channel);
		argv[2] = m->json; len[2] = m->json_len;
		return redisAppendCommandArgv(s->ctx, 3, argv, len);
	}
	argv[0] = "PUBLISH"; len[0] = 7;
	argv[1] = s->alert_channel; len[1] = strlen(s->alert_channel);
	argv[2] = m->json; len[2] = m->json_len;
	if (redisAppendCommandArgv(s->ctx, 3, argv, len) != REDIS_OK)
		return REDIS_ERR;
	argv[0] = "XADD"; len[0] = 4;
	argv[1] = s->alert_stream; len[1] = strlen(s->alert_stream);
	argv[2] = "MAXLEN"; len[2] = 6;
	argv[3] = "~"; len[3] = 1;
	argv[4] = s->maxlen; len[4] = strlen(s->maxlen);
	argv[5] = "*"; len[5] = 1;
	argv[6] = "id"; len[6] = 2;
	argv[7] = m->id; len[7] = m->id_len;
	argv[8] = "alert"; len[8] = 5;
	argv[9] = m->json; len[9] = m->json_len;
	return redisAppendCommandArgv(s->ctx, 10, argv, len);
}

/*
 * Reads the replies for batch[0..n). done[i] says message i is recorded:
 * for an alert that is its XADD (the stream is the record; a refused
 * PUBLISH is reported but not retried, or the stream would get the alert
 * twice), for stats its PUBLISH. Returns 0, or -1 when the connection
 * broke (messages from the first missing reply on are uncertain).
 */
static int
writer_read_replies(struct sink_redis *s, size_t n, int *rejected, char *why, size_t whylen)
{
	redisReply *r;
	void *rv;

	for (size_t i = 0; i < n; i++) {
		int replies = s->batch[i]->kind == SINK_REDIS_ALERT ? 2 : 1;

		for (int k = 0; k < replies; k++) {
			if (redisGetReply(s->ctx, &rv) != REDIS_OK) {
				snprintf(why, whylen, "%s", s->ctx->errstr);
				return -1;
			}
			r = rv;
			if (k == replies - 1)
				s->done[i] = r->type != REDIS_REPLY_ERROR;
			if (r->type == REDIS_REPLY_ERROR && !*rejected) {
				snprintf(why, whylen, "%s", r->str);
				*rejected = 1;
			}
			freeReplyObject(r);
		}
	}
	return 0;
}

static void
writer_deliver(struct sink_redis *s, size_t n)
{
	char why[512] = "";
	int rejected = 0, broken = 0;
	size_t removed;

	redisSetTimeout(s->ctx, ms_to_tv(writer_budget_ms(s, SINK_REDIS_CMD_TIMEOUT_MS)));
	memset(s->done, 0, n);
	for (size_t i = 0; i < n && !broken; i++)
		if (writer_append(s, s->batch[i]) != REDIS_OK) {
			snprintf(why, sizeof why, "%s", s->ctx->errstr);
			broken = 1;
		}
	/* Append only buffers (it fails for memory): nothing was sent. */
	if (broken) {
		writer_disconnect(s, why);
		return;
	}
	broken = writer_read_replies(s, n, &rejected, why, sizeof why) != 0;
	removed = writer_remove_done(s, n);
	if (broken) {
		s->uncertain = n - removed;
		writer_disconnect(s, why);
		return;
	}
	if (rejected) {
		writer_count_error(s);
		if (writer_may_log(&s->reply_logged_ms))
			log_warnx("redis: %s refused a command: %s; %zu of %zu messages kept to retry",
			    s->where, why, n - removed, n);
	}
	/*
	 * Redis answered but said no (OOM, WRONGTYPE, NOPERM): what it
	 * refused stays queued, in order, and is retried after a pause;
	 * what it accepted is gone, so a retry adds no duplicates.
	 */
	if (removed < n)
		writer_backoff(s);
	else
		s->backoff_ms = SINK_REDIS_BACKOFF_MIN_MS;
}

/*
 * Marks done[i] for the alerts among batch[0..n) whose id is in entry.
 * An alert pushed without an id cannot be recognised and is resent.
 */
static void
reconcile_mark(struct sink_redis *s, size_t n, const redisReply *entry)
{
	const redisReply *f;

	if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
	    entry->element[1]->type != REDIS_REPLY_ARRAY)
		return;
	f = entry->element[1];
	for (size_t k = 0; k + 1 < f->elements; k += 2) {
		const redisReply *key = f->element[k], *val = f->element[k + 1];

		if (key->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING ||
		    key->len != 2 || memcmp(key->str, "id", 2) != 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			const struct sink_msg *m = s->batch[i];

			if (m->kind == SINK_REDIS_ALERT && m->id_len > 0 &&
			    m->id_len == val->len && memcmp(m->id, val->str, m->id_len) == 0)
				s->done[i] = 1;
		}
	}
}

/*
 * After a broken batch: drop the queued alerts whose XADD was applied
 * before the connection died, found by their "id" in the stream's tail.
 * Only the uncertain messages are compared; older ones were confirmed.
 * Returns 0, or -1 when the connection broke again (still uncertain).
 */
static int
writer_reconcile(struct sink_redis *s)
{
	size_t n = queue_peek(s, s->uncertain), alerts = 0, removed;
	char count[24];
	const char *argv[6] = { "XREVRANGE", s->alert_stream, "+", "-", "COUNT", count };
	redisReply *r;

	for (size_t i = 0; i < n; i++)
		alerts += s->batch[i]->kind == SINK_REDIS_ALERT;
	if (alerts == 0) {
		s->uncertain = 0;
		return 0;
	}
	/* Slack: another sensor may be writing to the same stream. */
	snprintf(count, sizeof count, "%zu", alerts + SINK_REDIS_TAIL_SLACK);
	r = redisCommandArgv(s->ctx, 6, argv, NULL);
	if (r == NULL) {
		writer_disconnect(s, s->ctx->errstr);
		return -1;
	}
	memset(s->done, 0, n);
	if (r->type == REDIS_REPLY_ARRAY)
		for (size_t e = 0; e < r->elements; e++)
			reconcile_mark(s, n, r->element[e]);
	else if (r->type == REDIS_REPLY_ERROR)
		log_warnx("redis: cannot read %s to avoid duplicates (%s); resending %zu alerts",
		    s->alert_stream, r->str, alerts);
	freeReplyObject(r);
	removed = writer_remove_done(s, n);
	if (removed > 0)
		log_info("redis: %zu of %zu interrupted alerts had already arrived; not resending them",
		    removed, alerts);
	s->uncertain = 0;
	return 0;
}

/* Drops happen on the packet thread, which must not log; say it here. */
static void
writer_report_drops(struct sink_redis *s)
{
	uint64_t dropped;
	size_t cap;

	lock(s);
	dropped = s->st.dropped;
	cap = s->queue_cap;
	unlock(s);
	if (dropped > s->drops_reported && writer_may_log(&s->drops_logged_ms)) {
		if (s->spool == NULL)
			log_warnx("redis: queue full (%zu messages): %llu alerts dropped so far",
			    cap, (unsigned long long)dropped);
		else
			log_warnx("redis: %llu messages dropped so far (stats while the queue"
			    " is full, alerts beyond the spool's cap)", (unsigned long long)dropped);
		s->drops_reported = dropped;
	}
}

/*
 * The spool's news, said by the writer for the packet thread: spilling
 * began, the cap was hit (once per outage: until the spool drains), a
 * write failed (rate-limited).
 */
static void
writer_report_spool(struct sink_redis *s)
{
	uint64_t refused, failed;
	int spill, err;
	size_t cap;

	lock(s);
	spill = s->spill;
	refused = s->spool_refused;
	failed = s->spool_failed;
	err = s->spool_errno;
	cap = s->queue_cap;
	unlock(s);
	if (spill && !s->spill_logged) {
		log_warnx("redis: queue full (%zu messages): spilling alerts to the spool in %s",
		    cap, spool_dirname(s->spool));
		s->spill_logged = 1;
	}
	if (refused > s->spool_refused_reported) {
		if (!s->spool_full_logged)
			log_warnx("redis: spool in %s is full: dropping new alerts until Redis"
			    " takes the backlog (%llu so far)", spool_dirname(s->spool),
			    (unsigned long long)refused);
		s->spool_full_logged = 1;
		s->spool_refused_reported = refused;
	}
	if (failed > s->spool_failed_reported && writer_may_log(&s->spool_err_logged_ms)) {
		log_warnx("redis: cannot write to the spool in %s: %s; %llu alerts lost so far",
		    spool_dirname(s->spool), strerror(err), (unsigned long long)failed);
		s->spool_failed_reported = failed;
	}
	if (!spill && s->spill_logged) {
		log_info("redis: spool in %s drained", spool_dirname(s->spool));
		s->spill_logged = 0;
		s->spool_full_logged = 0;
	}
}

static void *
writer_main(void *arg)
{
	struct sink_redis *s = arg;
	sigset_t all;
	size_t n;

	/*
	 * Signals belong to the main thread (its flags); SIGPIPE from a
	 * write to a closed socket must become EPIPE, not kill the sensor.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	while (!writer_should_exit(s)) {
		writer_report_drops(s);
		if (s->spool != NULL)
			writer_report_spool(s);
		if (s->ctx == NULL) {
			if (writer_connect(s) != 0) {
				writer_backoff(s);
				continue;
			}
		}
		if (s->uncertain > 0 && writer_reconcile(s) != 0)
			continue;
		if ((n = writer_take(s)) > 0)
			writer_deliver(s, n);
	}
	if (s->ctx != NULL)
		writer_free_ctx(s, s->ctx);
	s->ctx = NULL;
	lock(s);
	s->exited = 1;
	pthread_cond_broadcast(&s->exited_cv);
	unlock(s);
	return NULL;
}

/* ---- the spool at open and close ---------------------------------------- */

static int
sink_open_spool(struct sink_redis *s, const struct sink_redis_config *cfg, char *err,
    size_t errlen)
{
	struct spool_stats ss;

	if (cfg->spool_dir == NULL || cfg->spool_dir[0] == '\0')
		return 0;
	if ((s->spool = spool_open(cfg->spool_dir, cfg->spool_max_bytes, err, errlen)) == NULL)
		return -1;
	spool_get_stats(s->spool, &ss);
	s->st.spool_bytes = ss.bytes;
	s->st.spool_pending = ss.pending;
	if (ss.pending > 0) {
		/* What a previous run left goes first: new alerts queue behind it. */
		s->spill = 1;
		s->spill_logged = 1;	/* said here, not as "queue full" */
		s->replay_check = 1;
		log_info("redis: %llu alerts from a previous run in the spool in %s;"
		    " delivering them first", (unsigned long long)ss.pending, cfg->spool_dir);
	}
	return 0;
}

/* spool_next_fn over the queued alerts that are not on disk yet. */
static int
persist_next(void *arg, const char **id, size_t *id_len, const char **json, size_t *json_len)
{
	struct sink_msg **cur = arg, *m = *cur;

	while (m != NULL && (m->kind != SINK_REDIS_ALERT || m->from_spool))
		m = m->next;
	if (m == NULL) {
		*cur = NULL;
		return 0;
	}
	*id = m->id;
	*id_len = m->id_len;
	*json = m->json;
	*json_len = m->json_len;
	*cur = m->next;
	return 1;
}

/*
 * After the writer has stopped: queued alerts that are not on disk go to
 * the spool, ahead of its unread records (they are older: see the top of
 * this file); replayed ones just stay unacknowledged there. Returns how many
 * messages are lost: stats, and alerts the spool could not take.
 */
static size_t
close_persist(struct sink_redis *s)
{
	struct sink_msg *m, *cur = s->head;
	struct spool_stats ss;
	size_t alerts = 0, others = 0;
	long kept = 0;

	for (m = s->head; m != NULL; m = m->next)
		if (!m->from_spool) {
			alerts += m->kind == SINK_REDIS_ALERT;
			others += m->kind != SINK_REDIS_ALERT;
		}
	if (alerts > 0 && (kept = spool_insert_unread(s->spool, persist_next, &cur)) < 0)
		kept = 0;
	s->st.spooled += (uint64_t)kept;
	spool_get_stats(s->spool, &ss);
	if ((size_t)kept < alerts)
		log_warnx("redis: the spool in %s could not take %zu queued alerts at close;"
		    " they are lost", spool_dirname(s->spool), alerts - (size_t)kept);
	if (ss.pending > 0)
		log_info("redis: %llu alerts kept in the spool in %s for the next start",
		    (unsigned long long)ss.pending, spool_dirname(s->spool));
	return others + alerts - (size_t)kept;
}

/* ---- public interface ------------------------------------------------- */
/* ---- public interface ------------------------------------------------- */

static void
sink_free(struct sink_redis *s)
{
	struct sink_msg *m, *next;

	for (m = s->head; m != NULL; m = next) {
		next = m->next;
		free(m);
	}
	spool_close(s->spool);
	free(s->alert_channel);
	free(s->alert_stream);
	free(s->stats_channel);
	free(s);
}

static char *
dup_or(const char *v, const char *dflt)
{
	return strdup(v != NULL && *v != '\0' ? v : dflt);
}

struct sink_redis *
sink_redis_open(const struct sink_redis_config *cfg, char *err, size_t errlen)
{
	struct sink_redis *s;
	pthread_condattr_t ca;
	int rc;

	s = calloc(1, sizeof *s);
	if (s == NULL) {
		snprintf(err, errlen, "redis: out of memory");
		return NULL;
	}
	if (redis_url_parse(cfg->url, &s->url, err, errlen) != 0) {
		free(s);
		return NULL;
	}
	if (s->url.path[0] != '\0')
		snprintf(s->where, sizeof s->where, "unix:%s", s->url.path);
	else
		snprintf(s->where, sizeof s->where, strchr(s->url.host, ':') ? "[%s]:%d" : "%s:%d",
		    s->url.host, s->url.port);
	s->alert_channel = dup_or(cfg->alert_channel, "outflow:alerts");
	s->alert_stream = dup_or(cfg->alert_stream, "outflow:alerts:stream");
	s->stats_channel = dup_or(cfg->stats_channel, "outflow:stats");
	snprintf(s->maxlen, sizeof s->maxlen, "%zu", cfg->stream_maxlen ? cfg->stream_maxlen : 100000);
	s->queue_cap = cfg->queue_cap ? cfg->queue_cap : 65536;
	s->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 2000;
	s->backoff_ms = SINK_REDIS_BACKOFF_MIN_MS;
	if (s->alert_channel == NULL || s->alert_stream == NULL || s->stats_channel == NULL) {
		snprintf(err, errlen, "redis: out of memory");
		sink_free(s);
		return NULL;
	}
	if (sink_open_spool(s, cfg, err, errlen) != 0) {
		sink_free(s);
		return NULL;
	}
	/* Timed waits use the monotonic clock, like every deadline here. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_cond_init(&s->exited_cv, &ca);
	pthread_condattr_destroy(&ca);
	s->fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->spool_mu, NULL);
	if ((rc = pthread_create(&s->thread, NULL, writer_main, s)) != 0) {
		snprintf(err, errlen, "redis: cannot start the writer thread: %s", strerror(rc));
		pthread_cond_destroy(&s->cv);
		pthread_cond_destroy(&s->exited_cv);
		pthread_mutex_destroy(&s->mu);
		pthread_mutex_destroy(&s->spool_mu);
		sink_free(s);
		return NULL;
	}
	return s;
}

/* The queue is full (or spilling): the alert goes behind the others, on disk. */
static int
push_spool(struct sink_redis *s, const char *id, size_t id_len, const char *json, size_t len)
{
	struct spool_stats ss;
	int rc;

	lock_spool(s);
	rc = spool_append(s->spool, id_len ? id : "", id_len, json, len);
	spool_get_stats(s->spool, &ss);
	lock(s);
	if (rc == 0) {
		s->spill = 1;
		s->st.spooled++;
		pthread_cond_signal(&s->cv);
	} else {
		s->st.dropped++;
		if (rc == SPOOL_EIO) {
			s->spool_failed++;
			s->spool_errno = ss.last_errno;
		} else
			s->spool_refused++;
	}
	s->st.spool_bytes = ss.bytes;
	s->st.spool_pending = ss.pending;
	unlock(s);
	unlock_spool(s);
	return rc == 0 ? 0 : -1;
}

int
sink_redis_push(struct sink_redis *s, enum sink_redis_kind kind, const char *id,
    const char *json, size_t len)
{
	size_t id_len = id != NULL ? strlen(id) : 0;
	/* Allocated before the lock so the writer never waits on malloc. */
	struct sink_msg *m = msg_new(kind, id, id_len, json, len);

	lock(s);
	/* Stats may pass spooled alerts: they are snapshots, not a record. */
	if (m != NULL && s->st.depth < s->queue_cap && (kind == SINK_REDIS_STATS || !s->spill)) {
		if (s->tail != NULL)
			s->tail->next = m;
		else
			s->head = m;
		s->tail = m;
		s->st.depth++;
		s->st.queued++;
		pthread_cond_signal(&s->cv);
		unlock(s);
		return 0;
	}
	if (kind == SINK_REDIS_STATS || s->spool == NULL) {
		s->st.dropped++;
		unlock(s);
		free(m);
		return -1;
	}
	unlock(s);
	free(m);
	return push_spool(s, id, id_len, json, len);
}

void
sink_redis_get_stats(struct sink_redis *s, struct sink_redis_stats *out)
{
	lock(s);
	*out = s->st;
	unlock(s);
}

size_t
sink_redis_close(struct sink_redis *s, int drain_ms)
{
	size_t left;
	uint64_t dropped;

	if (s == NULL)
		return 0;
	lock(s);
	s->stopping = 1;
	s->deadline_ms = now_ms() + (drain_ms > 0 ? drain_ms : 0);
	pthread_cond_broadcast(&s->cv);
	while (!s->exited && now_ms() < s->deadline_ms) {
		struct timespec ts = ms_to_abs(s->deadline_ms);

		pthread_cond_timedwait(&s->exited_cv, &s->mu, &ts);
	}
	/* Past the deadline and still blocked in a read: cut it short. */
	if (!s->exited && s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR);
	unlock(s);
	OF_ASSERT(pthread_join(s->thread, NULL) == 0);
	left = s->spool != NULL ? close_persist(s) : s->st.depth;
	dropped = s->st.dropped;
	if (left > 0 || dropped > 0)
		log_warnx("redis: closing with %zu messages undelivered, %llu dropped",
		    left, (unsigned long long)dropped);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->exited_cv);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->spool_mu);
	sink_free(s);
	return left;
}
