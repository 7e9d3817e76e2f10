/*
 * spool - the on-disk FIFO behind the Redis sink (see spool.h).
 *
 * The spool is a directory of segment files read in ascending key order.
 * Appends go to the last segment until it reaches seg_max; the reader
 * walks the segments front to back; acknowledgements move each segment's
 * "acked" offset (in its header) forward and delete segments that are
 * wholly delivered. Segment keys are spaced SPOOL_STRIDE apart so that, at
 * close, alerts that were older than what is unread on disk can be written
 * to a segment keyed just before the first unread one (see
 * spool_insert_unread): the order on disk stays the order of the alerts.
 *
 * Segment file "outflow-spool-<key, 16 hex digits>.log", little-endian:
 *
 *    0           8              16             20      24
 *   +-----------+--------------+--------------+-------+-- records...
 *   | "OFSPOOL1"| acked (u64)  | crc32(acked) | 0     |
 *   +-----------+--------------+--------------+-------+
 *
 * Record (the CRC-32 is IEEE 802.3's, as in zlib and gzip):
 *
 *    0           4              8              12
 *   +-----------+--------------+--------------+-----------------------+
 *   | "OFRL"    | length (u32) | crc32 (u32)  | id NUL json  (length) |
 *   +-----------+--------------+--------------+-----------------------+
 *
 * A crash mid-append leaves a torn last record: its header is implausible
 * or its length runs past the end of the file. Opening finds it and cuts
 * the file there, with a warning. A record whose CRC fails is skipped,
 * with a warning; a damaged length field loses the rest of its segment.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define SPOOL_SEG_MAGIC		"OFSPOOL1"
#define SPOOL_SEG_HDR		24
#define SPOOL_REC_MAGIC		0x4c52464fu	/* "OFRL" */
#define SPOOL_REC_HDR		12
#define SPOOL_STRIDE		(1ull << 20)	/* key gap: room for inserted segments */
#define SPOOL_PREFIX		"outflow-spool-"
#define SPOOL_LOCK		"outflow-spool.lock"
#define SPOOL_SEG_MIN		4096
#define SPOOL_SEG_MAX		(8u << 20)

struct spool_seg {
	uint64_t key;
	uint64_t size;		/* file size: the end of its last record */
	uint64_t ack;		/* first undelivered record */
};

struct spool {
	char *dir;
	int dirfd;
	int lockfd;
	uint64_t max_bytes;
	uint64_t seg_max;	/* a segment is closed beyond this size */
	uint64_t max_key;	/* largest key seen in the directory */
	struct spool_seg *segs;	/* ascending key */
	size_t nsegs, segs_cap;
	int app_fd;		/* on segs[nsegs - 1] while it takes appends, else -1 */
	size_t ri;		/* reader: segment index; nsegs when caught up */
	uint64_t roff;		/* reader: offset in segs[ri] */
	int rd_fd;		/* on segs[ri], or -1 */
	char *buf;		/* the record spool_read() handed out */
	size_t buf_cap;
	struct spool_stats st;
};

/* ---- CRC-32 and little-endian fields ---------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* Start with crc 0; chain calls to cover several buffers. */
static uint32_t
crc32_update(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (n-- > 0)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* ---- segment files ----------------------------------------------------- */

static void
seg_name(uint64_t key, const char *ext, char *out, size_t outlen)
{
	snprintf(out, outlen, SPOOL_PREFIX "%016" PRIx64 ".%s", key, ext);
}

/* The acked offset with its CRC: bytes 8..20 of the header. */
static void
seg_ack_field(uint64_t ack, unsigned char out[12])
{
	put_le64(out, ack);
	put_le32(out + 8, crc32_update(0, out, 8));
}

/* Creates an empty segment (header only) under name; returns the fd. */
static int
seg_create(struct spool *sp, const char *name)
{
	unsigned char hdr[SPOOL_SEG_HDR] = { 0 };
	int fd, e;

	fd = openat(sp->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	memcpy(hdr, SPOOL_SEG_MAGIC, 8);
	seg_ack_field(SPOOL_SEG_HDR, hdr + 8);
	/* The umask may only have removed bits; say exactly what we mean. */
	if (fchmod(fd, 0600) != 0 || pwrite(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) {
		e = errno ? errno : ENOSPC;
		close(fd);
		unlinkat(sp->dirfd, name, 0);
		errno = e;
		return -1;
	}
	return fd;
}

static int
rec_write(int fd, uint64_t off, const char *id, size_t id_len, const char *json, size_t json_len)
{
	unsigned char hdr[SPOOL_REC_HDR];
	size_t payload = id_len + 1 + json_len;
	uint32_t crc;
	struct iovec iov[4];
	ssize_t n;

	crc = crc32_update(0, id, id_len);
	crc = crc32_update(crc, "", 1);
	crc = crc32_update(crc, json, json_len);
	put_le32(hdr, SPOOL_REC_MAGIC);
	put_le32(hdr + 4, (uint32_t)payload);
	put_le32(hdr + 8, crc);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (void *)(uintptr_t)id;
	iov[1].iov_len = id_len;
	iov[2].iov_base = (void *)(uintptr_t)"";
	iov[2].iov_len = 1;
	iov[3].iov_base = (void *)(uintptr_t)json;
	iov[3].iov_len = json_len;
	n = pwritev(fd, iov, 4, (off_t)off);
	if (n == (ssize_t)(sizeof hdr + payload))
		return 0;
	if (n >= 0)
		errno = ENOSPC;
	return -1;
}

static int
segs_insert(struct spool *sp, size_t at, const struct spool_seg *g)
{
	if (sp->nsegs == sp->segs_cap) {
		size_t cap = sp->segs_cap ? sp->segs_cap * 2 : 16;
		struct spool_seg *n = realloc(sp->segs, cap * sizeof *n);

		if (n == NULL)
			return -1;
		sp->segs = n;
		sp->segs_cap = cap;
	}
	memmove(sp->segs + at + 1, sp->segs + at, (sp->nsegs - at) * sizeof *g);
	sp->segs[at] = *g;
	sp->nsegs++;
	return 0;
}

static void
reader_close(struct spool *sp)
{
	if (sp->rd_fd >= 0)
		close(sp->rd_fd);
	sp->rd_fd = -1;
}

/* Later appends start a new segment. */
static void
append_seal(struct spool *sp)
{
	if (sp->app_fd >= 0)
		close(sp->app_fd);
	sp->app_fd = -1;
}

static void
seg_delete(struct spool *sp, size_t i)
{
	char name[64];

	if (i == sp->ri)
		reader_close(sp);
	if (i == sp->nsegs - 1)
		append_seal(sp);
	seg_name(sp->segs[i].key, "log", name, sizeof name);
	if (unlinkat(sp->dirfd, name, 0) != 0 && errno != ENOENT)
		log_warn("spool: cannot delete %s/%s", sp->dir, name);
	sp->st.bytes -= sp->segs[i].size;
	memmove(sp->segs + i, sp->segs + i + 1, (sp->nsegs - i - 1) * sizeof *sp->segs);
	sp->nsegs--;
	if (i < sp->ri)
		sp->ri--;
	else if (i == sp->ri)
		sp->roff = sp->ri < sp->nsegs ? sp->segs[sp->ri].ack : 0;
}

static int
seg_write_ack(struct spool *sp, const struct spool_seg *g)
{
	unsigned char field[12];
	char name[64];
	int fd, rc = 0;

	seg_name(g->key, "log", name, sizeof name);
	seg_ack_field(g->ack, field);
	fd = openat(sp->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, field, sizeof field, 8) != (ssize_t)sizeof field) {
		log_warn("spool: cannot record progress in %s/%s", sp->dir, name);
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- opening: the directory, then what a previous run left -------------- */

static int
spool_fail(char *err, size_t errlen, const char *fmt, ...) LOG_PRINTF(3, 4);

static int
spool_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * The spool holds alert data and decides what is replayed into Redis, so
 * nobody else may be able to plant or swap files in it: a symlink could
 * point it anywhere, and in a world-writable directory (even a sticky
 * one, like /tmp) another user could pre-create our file names.
 */
static int
dir_check(const char *dir, const struct stat *st, char *err, size_t errlen)
{
	if (S_ISLNK(st->st_mode))
		return spool_fail(err, errlen, "spool directory %s is a symlink; refusing it", dir);
	if (!S_ISDIR(st->st_mode))
		return spool_fail(err, errlen, "spool directory %s is not a directory", dir);
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return spool_fail(err, errlen,
		    "spool directory %s is owned by uid %u, not by us (uid %u) or root; refusing it",
		    dir, (unsigned)st->st_uid, (unsigned)geteuid());
	if (st->st_mode & S_IWOTH)
		return spool_fail(err, errlen,
		    "spool directory %s is world-writable; refusing it (use a private directory, mode 0700)",
		    dir);
	return 0;
}

static int
dir_open(struct spool *sp, const char *dir, char *err, size_t errlen)
{
	struct stat st, fst;
	int created = 0;

	if (lstat(dir, &st) != 0) {
		if (errno != ENOENT)
			return spool_fail(err, errlen, "spool directory %s: %s", dir, strerror(errno));
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return spool_fail(err, errlen, "cannot create spool directory %s: %s", dir,
			    strerror(errno));
		created = 1;
		if (lstat(dir, &st) != 0)
			return spool_fail(err, errlen, "spool directory %s: %s", dir, strerror(errno));
	}
	if (dir_check(dir, &st, err, errlen) != 0)
		return -1;
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sp->dirfd < 0)
		return spool_fail(err, errlen, "spool directory %s: %s", dir, strerror(errno));
	/* The checked path and the opened one must be the same directory. */
	if (fstat(sp->dirfd, &fst) != 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
		return spool_fail(err, errlen, "spool directory %s changed while being opened", dir);
	if (created && fchmod(sp->dirfd, 0700) != 0)
		return spool_fail(err, errlen, "spool directory %s: chmod: %s", dir, strerror(errno));
	sp->lockfd = openat(sp->dirfd, SPOOL_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (sp->lockfd < 0)
		return spool_fail(err, errlen, "spool %s/%s: %s", dir, SPOOL_LOCK, strerror(errno));
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB) != 0)
		return spool_fail(err, errlen, "spool directory %s is in use by another process%s",
		    dir, errno == EWOULDBLOCK ? "" : " (cannot lock it)");
	return 0;
}

/* Parses "outflow-spool-<16 hex>.<ext>"; returns 1 and the key on a match. */
static int
name_key(const char *name, const char *ext, uint64_t *key)
{
	size_t plen = sizeof SPOOL_PREFIX - 1;
	uint64_t k = 0;

	if (strncmp(name, SPOOL_PREFIX, plen) != 0 || strlen(name) != plen + 17 + strlen(ext) ||
	    name[plen + 16] != '.' || strcmp(name + plen + 17, ext) != 0)
		return 0;
	for (size_t i = plen; i < plen + 16; i++) {
		int c = name[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return 0;
		k = k << 4 | (uint64_t)v;
	}
	*key = k;
	return 1;
}

/*
 * Counts the records from g->ack on and cuts a torn tail. Returns the
 * number of records; g->size is the end of the last good one.
 */
static uint64_t
seg_scan(struct spool *sp, int fd, const char *name, struct spool_seg *g)
{
	unsigned char h[SPOOL_REC_HDR];
	uint64_t off = g->ack, n = 0, len;

	while (off < g->size) {
		if (g->size - off < SPOOL_REC_HDR ||
		    pread(fd, h, sizeof h, (off_t)off) != (ssize_t)sizeof h)
			break;
		len = get_le32(h + 4);
		if (get_le32(h) != SPOOL_REC_MAGIC || len < 1 || len > SPOOL_RECORD_MAX ||
		    len > g->size - off - SPOOL_REC_HDR)
			break;
		n++;
		off += SPOOL_REC_HDR + len;
	}
	if (off < g->size) {
		log_warnx("spool: %s/%s: damaged or torn record at offset %" PRIu64
		    "; discarding its last %" PRIu64 " bytes", sp->dir, name, off, g->size - off);
		sp->st.skipped++;
		if (ftruncate(fd, (off_t)off) != 0)
			log_warn("spool: %s/%s: truncate", sp->dir, name);
		g->size = off;
	}
	return n;
}

/*
 * Loads one segment a previous run left. Returns 0 (added, or ignored
 * with a warning), or -1 with err set when the file is not safely ours.
 */
static int
seg_load(struct spool *sp, uint64_t key, char *err, size_t errlen)
{
	unsigned char hdr[SPOOL_SEG_HDR];
	struct spool_seg g = { .key = key };
	struct stat st;
	char name[64];
	uint64_t n;
	int fd;

	seg_name(key, "log", name, sizeof name);
	fd = openat(sp->dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return spool_fail(err, errlen, "spool %s/%s: %s", sp->dir, name, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		return spool_fail(err, errlen, "spool %s/%s is not a regular file owned by uid %u;"
		    " refusing it", sp->dir, name, (unsigned)geteuid());
	}
	g.size = (uint64_t)st.st_size;
	if (g.size < SPOOL_SEG_HDR || pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
	    memcmp(hdr, SPOOL_SEG_MAGIC, 8) != 0) {
		log_warnx("spool: %s/%s is not a spool segment; ignoring it", sp->dir, name);
		close(fd);
		return 0;
	}
	g.ack = get_le64(hdr + 8);
	if (get_le32(hdr + 16) != crc32_update(0, hdr + 8, 8) || g.ack < SPOOL_SEG_HDR ||
	    g.ack > g.size) {
		log_warnx("spool: %s/%s: progress marker damaged; replaying the whole segment"
		    " (duplicates possible)", sp->dir, name);
		g.ack = SPOOL_SEG_HDR;
	}
	n = seg_scan(sp, fd, name, &g);
	close(fd);
	if (n == 0 && g.ack >= g.size) {
		/* Delivered, but the run stopped before deleting it. */
		unlinkat(sp->dirfd, name, 0);
		return 0;
	}
	if (segs_insert(sp, sp->nsegs, &g) != 0)
		return spool_fail(err, errlen, "spool: out of memory");
	sp->st.pending += n;
	sp->st.bytes += g.size;
	return 0;
}

static int
key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Lists the segment keys in ascending order; drops unfinished inserts. */
static int
dir_keys(struct spool *sp, uint64_t **keys, size_t *n, char *err, size_t errlen)
{
	size_t cap = 0;
	struct dirent *de;
	uint64_t key, *k = NULL;
	int fd = dup(sp->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	*n = 0;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return spool_fail(err, errlen, "spool directory %s: %s", sp->dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		if (name_key(de->d_name, "tmp", &key)) {
			log_warnx("spool: %s/%s: removing an unfinished write", sp->dir, de->d_name);
			unlinkat(sp->dirfd, de->d_name, 0);
			continue;
		}
		if (!name_key(de->d_name, "log", &key))
			continue;
		if (*n == cap) {
			uint64_t *nk = realloc(k, (cap = cap ? cap * 2 : 64) * sizeof *k);

			if (nk == NULL) {
				free(k);
				closedir(d);
				return spool_fail(err, errlen, "spool: out of memory");
			}
			k = nk;
		}
		k[(*n)++] = key;
		if (key > sp->max_key)
			sp->max_key = key;
	}
	closedir(d);
	if (*n > 0)
		qsort(k, *n, sizeof *k, key_cmp);
	*keys = k;
	return 0;
}

struct spool *
spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
	struct spool *sp = calloc(1, sizeof *sp);
	uint64_t *keys = NULL;
	size_t nkeys = 0;

	if (sp == NULL || (sp->dir = strdup(dir)) == NULL) {
		free(sp);
		snprintf(err, errlen, "spool: out of memory");
		return NULL;
	}
	sp->dirfd = sp->lockfd = sp->app_fd = sp->rd_fd = -1;
	sp->max_bytes = max_bytes ? max_bytes : SPOOL_DEFAULT_MAX_BYTES;
	sp->seg_max = sp->max_bytes / 8;
	if (sp->seg_max < SPOOL_SEG_MIN)
		sp->seg_max = SPOOL_SEG_MIN;
	if (sp->seg_max > SPOOL_SEG_MAX)
		sp->seg_max = SPOOL_SEG_MAX;
	if (dir_open(sp, dir, err, errlen) != 0 ||
	    dir_keys(sp, &keys, &nkeys, err, errlen) != 0)
		goto fail;
	for (size_t i = 0; i < nkeys; i++)
		if (seg_load(sp, keys[i], err, errlen) != 0)
			goto fail;
	free(keys);
	sp->roff = sp->nsegs > 0 ? sp->segs[0].ack : 0;
	return sp;
fail:
	free(keys);
	spool_close(sp);
	return NULL;
}

/* ---- appending ---------------------------------------------------------- */

/* A new last segment, keyed past everything ever seen here. */
static int
append_new_segment(struct spool *sp)
{
	struct spool_seg g = { .size = SPOOL_SEG_HDR, .ack = SPOOL_SEG_HDR };
	char name[64];
	int fd;

	g.key = (sp->max_key / SPOOL_STRIDE + 1) * SPOOL_STRIDE;
	seg_name(g.key, "log", name, sizeof name);
	if ((fd = seg_create(sp, name)) < 0)
		return -1;
	if (segs_insert(sp, sp->nsegs, &g) != 0) {
		close(fd);
		unlinkat(sp->dirfd, name, 0);
		errno = ENOMEM;
		return -1;
	}
	sp->app_fd = fd;
	sp->max_key = g.key;
	sp->st.bytes += SPOOL_SEG_HDR;
	if (sp->ri == sp->nsegs - 1)	/* the reader was waiting at the end */
		sp->roff = g.ack;
	return 0;
}

int
spool_append(struct spool *sp, const char *id, size_t id_len, const char *json, size_t json_len)
{
	uint64_t payload = (uint64_t)id_len + 1 + json_len, need = SPOOL_REC_HDR + payload;
	struct spool_seg *last = sp->nsegs > 0 ? &sp->segs[sp->nsegs - 1] : NULL;
	int roll;

	if (payload > SPOOL_RECORD_MAX)
		return SPOOL_TOOBIG;
	roll = sp->app_fd < 0 ||
	    (last->size > SPOOL_SEG_HDR && last->size + need > sp->seg_max);
	if (sp->st.bytes + need + (roll ? SPOOL_SEG_HDR : 0) > sp->max_bytes) {
		sp->st.refused++;
		return SPOOL_FULL;
	}
	if (roll) {
		append_seal(sp);
		if (append_new_segment(sp) != 0)
			goto fail;
	}
	last = &sp->segs[sp->nsegs - 1];
	if (rec_write(sp->app_fd, last->size, id, id_len, json, json_len) != 0) {
		int e = errno;

		/* Never leave half a record where the next one would follow. */
		if (ftruncate(sp->app_fd, (off_t)last->size) != 0)
			append_seal(sp);
		errno = e;
		goto fail;
	}
	last->size += need;
	sp->st.bytes += need;
	sp->st.pending++;
	sp->st.appended++;
	return 0;
fail:
	sp->st.failed++;
	sp->st.last_errno = errno;
	return SPOOL_EIO;
}

/* ---- reading and acknowledging ------------------------------------------ */

static void
reader_next_segment(struct spool *sp)
{
	reader_close(sp);
	sp->ri++;
	sp->roff = sp->ri < sp->nsegs ? sp->segs[sp->ri].ack : 0;
}

static void
reader_skip(struct spool *sp, const char *name, uint64_t len, const char *why)
{
	log_warnx("spool: %s/%s: record at offset %" PRIu64 " %s; skipping it", sp->dir, name,
	    sp->roff, why);
	sp->st.skipped++;
	if (sp->st.pending > 0)
		sp->st.pending--;
	sp->roff += SPOOL_REC_HDR + len;
}

/* Reads the record at the reader: 1 when rec is filled, 0 when skipped. */
static int
reader_one(struct spool *sp, const struct spool_seg *g, struct spool_rec *rec)
{
	unsigned char h[SPOOL_REC_HDR];
	char name[64];
	const char *nul;
	uint32_t len;

	seg_name(g->key, "log", name, sizeof name);
	if (pread(sp->rd_fd, h, sizeof h, (off_t)sp->roff) != (ssize_t)sizeof h ||
	    get_le32(h) != SPOOL_REC_MAGIC || (len = get_le32(h + 4)) < 1 ||
	    len > SPOOL_RECORD_MAX || len > g->size - sp->roff - SPOOL_REC_HDR) {
		/* Only a change behind our back gets here: opening checked the headers. */
		log_warnx("spool: %s/%s: damaged record header at offset %" PRIu64
		    "; skipping the rest of the segment", sp->dir, name, sp->roff);
		sp->st.skipped++;
		sp->roff = g->size;
		return 0;
	}
	if (sp->buf_cap < (size_t)len + 1) {
		char *nb = realloc(sp->buf, (size_t)len + 1);

		if (nb == NULL) {
			reader_skip(sp, name, len, "does not fit in memory");
			return 0;
		}
		sp->buf = nb;
		sp->buf_cap = (size_t)len + 1;
	}
	if (pread(sp->rd_fd, sp->buf, len, (off_t)(sp->roff + SPOOL_REC_HDR)) != (ssize_t)len ||
	    crc32_update(0, sp->buf, len) != get_le32(h + 8) ||
	    (nul = memchr(sp->buf, '\0', len)) == NULL) {
		reader_skip(sp, name, len, "fails its checksum");
		return 0;
	}
	sp->buf[len] = '\0';
	rec->id = sp->buf;
	rec->id_len = (size_t)(nul - sp->buf);
	rec->json = nul + 1;
	rec->json_len = len - rec->id_len - 1;
	rec->start.seg = g->key;
	rec->start.off = sp->roff;
	sp->roff += SPOOL_REC_HDR + len;
	return 1;
}

int
spool_read(struct spool *sp, struct spool_rec *rec)
{
	char name[64];

	while (sp->ri < sp->nsegs) {
		const struct spool_seg *g = &sp->segs[sp->ri];

		if (sp->roff >= g->size) {
			/* Caught up with the appender: later appends go to a new
			 * segment, so unread data always starts at a segment. */
			if (sp->ri == sp->nsegs - 1)
				append_seal(sp);
			reader_next_segment(sp);
			continue;
		}
		if (sp->rd_fd < 0) {
			seg_name(g->key, "log", name, sizeof name);
			sp->rd_fd = openat(sp->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (sp->rd_fd < 0) {
				log_warn("spool: cannot read %s/%s; skipping it", sp->dir, name);
				sp->st.skipped++;
				reader_next_segment(sp);
				continue;
			}
		}
		if (reader_one(sp, g, rec))
			return 1;
	}
	return 0;
}

struct spool_pos
spool_read_pos(const struct spool *sp)
{
	struct spool_pos p = { UINT64_MAX, 0 };

	if (sp->ri < sp->nsegs) {
		p.seg = sp->segs[sp->ri].key;
		p.off = sp->roff;
	}
	return p;
}

int
spool_ack(struct spool *sp, struct spool_pos pos, uint64_t ndelivered)
{
	struct spool_seg *g;

	sp->st.pending -= ndelivered < sp->st.pending ? ndelivered : sp->st.pending;
	/* Only segments the reader has left are done with (and sealed). */
	while (sp->ri > 0 && sp->segs[0].key < pos.seg)
		seg_delete(sp, 0);
	if (sp->nsegs == 0 || sp->segs[0].key != pos.seg || pos.off <= sp->segs[0].ack)
		return 0;
	g = &sp->segs[0];
	g->ack = pos.off < g->size ? pos.off : g->size;
	if (sp->ri > 0 && g->ack >= g->size) {
		seg_delete(sp, 0);
		return 0;
	}
	return seg_write_ack(sp, g);
}

/* ---- inserting ahead of the unread records (at close) -------------------- */

static long
insert_by_append(struct spool *sp, spool_next_fn next, void *arg)
{
	const char *id, *json;
	size_t id_len, json_len;
	long n = 0;

	while (next(arg, &id, &id_len, &json, &json_len)) {
		if (spool_append(sp, id, id_len, json, json_len) != 0)
			break;
		n++;
	}
	return n;
}

/* Fills a new segment file from next(); returns the record count. */
static long
insert_fill(struct spool *sp, int fd, struct spool_seg *g, spool_next_fn next, void *arg)
{
	const char *id, *json;
	size_t id_len, json_len;
	long n = 0;

	while (next(arg, &id, &id_len, &json, &json_len)) {
		uint64_t need = SPOOL_REC_HDR + (uint64_t)id_len + 1 + json_len;

		if (need - SPOOL_REC_HDR > SPOOL_RECORD_MAX ||
		    sp->st.bytes + g->size + need > sp->max_bytes ||
		    rec_write(fd, g->size, id, id_len, json, json_len) != 0)
			break;
		g->size += need;
		n++;
	}
	return n;
}

long
spool_insert_unread(struct spool *sp, spool_next_fn next, void *arg)
{
	struct spool_seg g = { .size = SPOOL_SEG_HDR, .ack = SPOOL_SEG_HDR };
	char tmp[64], name[64];
	long n;
	int fd;

	if (sp->ri >= sp->nsegs)	/* nothing unread: the end is the place */
		return insert_by_append(sp, next, arg);
	g.key = sp->segs[sp->ri].key - 1;
	if (sp->roff != SPOOL_SEG_HDR || sp->segs[sp->ri].ack != SPOOL_SEG_HDR ||
	    (sp->ri > 0 && sp->segs[sp->ri - 1].key >= g.key)) {
		log_warnx("spool: %s: cannot insert before the unread records; appending"
		    " (these alerts will arrive out of order)", sp->dir);
		return insert_by_append(sp, next, arg);
	}
	/* Written under a temporary name, then renamed: all or nothing. */
	seg_name(g.key, "tmp", tmp, sizeof tmp);
	seg_name(g.key, "log", name, sizeof name);
	if (sp->st.bytes + SPOOL_SEG_HDR > sp->max_bytes || (fd = seg_create(sp, tmp)) < 0)
		return -1;
	n = insert_fill(sp, fd, &g, next, arg);
	if (n == 0 || fdatasync(fd) != 0 || renameat(sp->dirfd, tmp, sp->dirfd, name) != 0 ||
	    segs_insert(sp, sp->ri, &g) != 0) {
		if (n > 0)
			log_warn("spool: cannot write %s/%s", sp->dir, name);
		close(fd);
		unlinkat(sp->dirfd, tmp, 0);
		return n > 0 ? -1 : 0;
	}
	close(fd);
	reader_close(sp);
	sp->roff = SPOOL_SEG_HDR;
	sp->st.bytes += g.size;
	sp->st.pending += (uint64_t)n;
	sp->st.appended += (uint64_t)n;
	return n;
}

/* ---- the rest ------------------------------------------------------------ */

void
spool_get_stats(const struct spool *sp, struct spool_stats *out)
{
	*out = sp->st;
}

const char *
spool_dirname(const struct spool *sp)
{
	return sp->dir;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->app_fd >= 0 && fdatasync(sp->app_fd) != 0)
		log_warn("spool: %s: sync", sp->dir);
	append_seal(sp);
	reader_close(sp);
	if (sp->dirfd >= 0) {
		fsync(sp->dirfd);	/* the directory entries of new segments */
		close(sp->dirfd);
	}
	if (sp->lockfd >= 0)
		close(sp->lockfd);
	free(sp->segs);
	free(sp->buf);
	free(sp->dir);
	free(sp);
}
