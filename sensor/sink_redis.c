/*
 * sink_redis - the Redis alert sink (see sink_redis.h for the contract):
 * the public interface, the queue, and the spool around it. The writer
 * thread that talks to Redis is in sink_redis_writer.c; the state both
 * share is in sink_redis_int.h.
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
 * tail like a broken batch (sink_redis_writer.c), so a crash between XADD
 * and that acknowledgement adds no duplicate. Stats messages are never
 * spooled (see sink_redis.h).
 *
 * Locks: spool_mu (the spool's files) is taken before mu, never after.
 */
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sink_redis.h"
#include "sink_redis_int.h"
#include "spool.h"

#define SINK_REDIS_REFILL		1024	/* spooled alerts moved to the queue at once */

/* ---- queue ------------------------------------------------------------ */

/* Copies up to SINK_REDIS_BATCH head pointers (or max) into s->batch. */
size_t
sink_redis_queue_peek(struct sink_redis *s, size_t max)
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

size_t
sink_redis_queue_remove_done(struct sink_redis *s, size_t n)
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
size_t
sink_redis_queue_take(struct sink_redis *s)
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
	return sink_redis_queue_peek(s, SINK_REDIS_BATCH);
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
	if ((rc = pthread_create(&s->thread, NULL, sink_redis_writer_main, s)) != 0) {
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

