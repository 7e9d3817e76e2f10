/*
 * sink_redis_writer - the Redis sink's writer thread (see sink_redis.c for
 * the design, sink_redis_int.h for the state it shares with the queue).
 *
 * It owns the hiredis context. It connects with a timeout (an address, not
 * a name: getaddrinfo is not bounded), authenticates (AUTH, SELECT, PING),
 * pipelines a batch of commands per round trip (PUBLISH + XADD for an
 * alert, PUBLISH for stats), and backs off exponentially while Redis is
 * down or refusing. Problems are logged once per outage or rate-limited:
 * the packet thread never logs, so drops and spool trouble are said here.
 *
 * Exactly once in the stream: a batch cut off mid-flight is uncertain (some
 * XADDs may have been applied, their replies lost). Before resending it the
 * writer reads the tail of the stream and drops the alerts whose "id" is
 * already there. PUBLISH has no such check: pub/sub is best-effort by
 * design (a subscriber that is away misses messages anyway), so in that
 * rare case a subscriber may see an alert twice; the stream is the record.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "sink_redis.h"
#include "sink_redis_int.h"
#include "spool.h"

#define SINK_REDIS_CMD_TIMEOUT_MS	5000	/* a hung server must not hold the writer */
#define SINK_REDIS_LOG_EVERY_MS		30000	/* repeated errors: at most this often */
#define SINK_REDIS_TAIL_SLACK		32	/* extra stream entries read when reconciling */

/* ---- timing ------------------------------------------------------------- */

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
	removed = sink_redis_queue_remove_done(s, n);
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

/* ---- reconciliation after a broken batch -------------------------------- */

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
	size_t n = sink_redis_queue_peek(s, s->uncertain), alerts = 0, removed;
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
	removed = sink_redis_queue_remove_done(s, n);
	if (removed > 0)
		log_info("redis: %zu of %zu interrupted alerts had already arrived; not resending them",
		    removed, alerts);
	s->uncertain = 0;
	return 0;
}

/* ---- reports and the loop ---------------------------------------------- */

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

void *
sink_redis_writer_main(void *arg)
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
		if ((n = sink_redis_queue_take(s)) > 0)
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
