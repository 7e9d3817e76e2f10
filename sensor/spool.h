/*
 * spool - a bounded on-disk FIFO of alerts that survives a restart.
 *
 * The Redis sink spills alerts here when Redis is away longer than its
 * memory queue lasts, and replays them, in order, once Redis is back (also
 * after the sensor restarts). The spool is a directory of append-only
 * segment files, read front to back; a segment is deleted once everything
 * in it has been delivered. Each segment's header records how far it has
 * been delivered, so a restart resumes after the last acknowledged record.
 *
 * Not thread-safe: the caller serialises every call (sink_redis holds its
 * spool mutex). spool_append() never logs (it runs on the packet thread);
 * the other functions may log warnings about damaged records.
 *
 * Durability: records are written with pwrite(), not fsync'd one by one,
 * so they survive the sensor crashing or being killed (the kernel has
 * them); spool_close() fsyncs, so they also survive a clean shutdown
 * followed by a power loss. A record torn by a crash mid-write is detected
 * (magic, length, CRC-32) and skipped with a warning.
 */
#ifndef OUTFLOW_SPOOL_H
#define OUTFLOW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_DEFAULT_MAX_BYTES	(256ull << 20)	/* 256 MiB */
#define SPOOL_RECORD_MAX	(1u << 20)	/* id + NUL + JSON, bytes */

/* spool_append() results besides 0. */
#define SPOOL_FULL	(-1)	/* max_bytes reached: refused */
#define SPOOL_TOOBIG	(-2)	/* one record above SPOOL_RECORD_MAX */
#define SPOOL_EIO	(-3)	/* write failed (disk full, I/O error); errno kept */

/* A place in the spool: a segment's key and a byte offset in it. */
struct spool_pos {
	uint64_t seg;
	uint64_t off;
};

struct spool_rec {
	const char *id;		/* NUL-terminated; valid until the next spool call */
	size_t id_len;
	const char *json;	/* NUL-terminated too */
	size_t json_len;
	struct spool_pos start;	/* acknowledging this leaves the record pending */
};

struct spool_stats {
	uint64_t bytes;		/* segment files on disk now, headers included */
	uint64_t pending;	/* records on disk not yet acknowledged */
	uint64_t appended;	/* records written, in total (this process) */
	uint64_t skipped;	/* damaged records detected and skipped */
	uint64_t refused;	/* appends refused because of max_bytes */
	uint64_t failed;	/* appends that failed with an I/O error */
	int last_errno;		/* of the last failed append */
};

struct spool;

/*
 * Opens (or creates, mode 0700; its parent must exist) the spool directory
 * and takes an exclusive lock on it, so two sensors never share one. Refuses
 * a directory that is a symlink, is world-writable, or is owned by neither
 * the effective uid nor root; and files in it that are not regular files
 * owned by the effective uid. Scans the segments left by a previous run
 * (truncating a torn tail with a warning). max_bytes 0 means
 * SPOOL_DEFAULT_MAX_BYTES. Returns NULL with a message in err; the caller
 * owns the result and must spool_close() it.
 */
struct spool *spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen);

/*
 * Appends one record (id and json need not be NUL-terminated). Files are
 * created 0600 and opened with O_NOFOLLOW. Returns 0, SPOOL_FULL,
 * SPOOL_TOOBIG or SPOOL_EIO; never logs.
 */
int spool_append(struct spool *sp, const char *id, size_t id_len, const char *json,
    size_t json_len);

/*
 * Hands out the next unread record (1), or says there is none (0). Damaged
 * records are skipped with a warning and counted. When the reader has caught
 * up, the segment being appended to is closed, so later appends start a new
 * segment.
 */
int spool_read(struct spool *sp, struct spool_rec *rec);

/* Where the next spool_read() would start (past the end when caught up). */
struct spool_pos spool_read_pos(const struct spool *sp);

/*
 * Everything before pos is delivered: records read before it stop being
 * pending (ndelivered of them, which the caller counts), the segment's
 * header is updated, and segments wholly before pos are deleted. Returns 0,
 * or -1 if the header could not be written (logged; a restart may then
 * replay, and the caller's reconciliation catches that).
 */
int spool_ack(struct spool *sp, struct spool_pos pos, uint64_t ndelivered);

/*
 * Writes records ahead of the unread ones (behind those already read), for
 * alerts that were in memory, older than what is unread on disk, when the
 * sink closes. next() fills id/json and returns 1 per record, 0 at the end.
 * Stops at max_bytes. Returns the number written, or -1 when nothing could
 * be (err says why). Must be called only when the reader stands at a segment
 * boundary (nothing of the unread segment read yet); otherwise the records
 * are appended at the end instead, with a warning.
 */
typedef int (*spool_next_fn)(void *arg, const char **id, size_t *id_len, const char **json,
    size_t *json_len);
long spool_insert_unread(struct spool *sp, spool_next_fn next, void *arg);

void spool_get_stats(const struct spool *sp, struct spool_stats *out);
const char *spool_dirname(const struct spool *sp);

/* fsyncs, closes and frees; the files stay for the next spool_open(). */
void spool_close(struct spool *sp);

#endif
