/*
 * test_spool - the on-disk spool alone: order, persistence across a
 * restart, the size cap, damaged records (torn tail, bad checksum), the
 * directory's safety checks, and inserting ahead of unread records.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "t.h"

static char base[256];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* A fresh private directory per test, removed at the end of the test. */
static const char *
tmpdir(void)
{
	snprintf(base, sizeof base, "%s/outflow-spool-test.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	return base;
}

static void
tmpdir_remove(void)
{
	chmod(base, 0700);
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
path_in(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static struct spool *
open_ok(const char *dir, uint64_t max)
{
	char err[256] = "";
	struct spool *sp = spool_open(dir, max, err, sizeof err);

	if (sp == NULL)
		fprintf(stderr, "  spool_open(%s): %s\n", dir, err);
	return sp;
}

/* The refusal must name the problem. */
static int
open_fails_with(const char *dir, const char *want)
{
	char err[256] = "";
	struct spool *sp = spool_open(dir, 0, err, sizeof err);

	if (sp != NULL) {
		fprintf(stderr, "  spool_open(%s) accepted\n", dir);
		spool_close(sp);
		return 0;
	}
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "  got \"%s\", want \"%s\"\n", err, want);
		return 0;
	}
	return 1;
}

static int
append_n(struct spool *sp, int from, int to)
{
	char id[32], json[128];
	int n;

	for (int i = from; i < to; i++) {
		snprintf(id, sizeof id, "id-%06d", i);
		n = snprintf(json, sizeof json, "{\"id\":\"%s\",\"seq\":%d}", id, i);
		if (spool_append(sp, id, strlen(id), json, (size_t)n) != 0)
			return i - from;
	}
	return to - from;
}

/* Reads count records, which must be id-<from> .. in order. */
static int
read_expect(struct spool *sp, int from, int count, struct spool_pos *last_start)
{
	struct spool_rec r;
	char want[32], wjson[128];

	for (int i = from; i < from + count; i++) {
		snprintf(want, sizeof want, "id-%06d", i);
		snprintf(wjson, sizeof wjson, "{\"id\":\"%s\",\"seq\":%d}", want, i);
		if (spool_read(sp, &r) != 1) {
			fprintf(stderr, "  record %d missing\n", i);
			return 0;
		}
		if (strcmp(r.id, want) != 0 || strcmp(r.json, wjson) != 0 ||
		    r.id_len != strlen(want) || r.json_len != strlen(wjson)) {
			fprintf(stderr, "  record %d: got %s %s\n", i, r.id, r.json);
			return 0;
		}
		if (last_start != NULL)
			*last_start = r.start;
	}
	return 1;
}

/* The only segment file in dir (the first, when several). */
static int
first_segment(const char *dir, char *out, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char best[256] = "";

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "outflow-spool-", 14) == 0 &&
		    strstr(de->d_name, ".log") != NULL &&
		    (best[0] == '\0' || strcmp(de->d_name, best) < 0))
			snprintf(best, sizeof best, "%s", de->d_name);
	closedir(d);
	if (best[0] == '\0')
		return 0;
	path_in(out, len, dir, best);
	return 1;
}

static int
count_segments(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "outflow-spool-", 14) == 0 &&
		    strstr(de->d_name, ".log") != NULL;
	closedir(d);
	return n;
}

static void
test_spool_reads_back_in_order(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 0);
	struct spool_stats st;
	struct spool_rec r;

	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	CHECK_EQ_U(append_n(sp, 0, 100), 100);
	CHECK(read_expect(sp, 0, 60, NULL));
	CHECK_EQ_U(append_n(sp, 100, 150), 50);	/* appends while reading */
	CHECK(read_expect(sp, 60, 90, NULL));
	CHECK(spool_read(sp, &r) == 0);
	spool_get_stats(sp, &st);
	CHECK_EQ_U(st.appended, 150);
	CHECK_EQ_U(st.pending, 150);
	CHECK_EQ_U(st.skipped, 0);
	CHECK(st.bytes > 150 * 30);
	spool_close(sp);
	tmpdir_remove();
}

static void
test_spool_delivered_segments_are_deleted(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 64 * 1024);	/* 8 KiB segments */
	struct spool_stats st;
	struct spool_rec r;

	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	CHECK_EQ_U(append_n(sp, 0, 500), 500);
	CHECK(count_segments(dir) > 2);
	CHECK(read_expect(sp, 0, 500, NULL));
	CHECK(spool_read(sp, &r) == 0);
	CHECK(spool_ack(sp, spool_read_pos(sp), 500) == 0);
	spool_get_stats(sp, &st);
	CHECK_EQ_U(st.pending, 0);
	CHECK_EQ_U(st.bytes, 0);
	CHECK_EQ_U(count_segments(dir), 0);
	/* And it starts over cleanly. */
	CHECK_EQ_U(append_n(sp, 500, 510), 10);
	CHECK(read_expect(sp, 500, 10, NULL));
	spool_close(sp);
	tmpdir_remove();
}

static void
test_spool_restart_resumes_after_acknowledged(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 64 * 1024);
	struct spool_pos pos;
	struct spool_stats st;
	struct spool_rec r;

	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	CHECK_EQ_U(append_n(sp, 0, 300), 300);
	CHECK(read_expect(sp, 0, 121, &pos));
	/* 0..119 delivered; 120 was read but not delivered. */
	CHECK(spool_ack(sp, pos, 120) == 0);
	spool_close(sp);

	sp = open_ok(dir, 64 * 1024);
	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	spool_get_stats(sp, &st);
	CHECK_EQ_U(st.pending, 180);
	CHECK(read_expect(sp, 120, 180, NULL));
	CHECK(spool_read(sp, &r) == 0);
	/* New appends after a restart go behind the old records. */
	CHECK_EQ_U(append_n(sp, 300, 310), 10);
	CHECK(read_expect(sp, 300, 10, NULL));
	spool_close(sp);
	tmpdir_remove();
}

static void
test_spool_cap_refuses_and_counts(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 8192);
	struct spool_stats st;
	int n;

	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	n = append_n(sp, 0, 1000);
	CHECK(n > 50 && n < 1000);
	CHECK_EQ_U(append_n(sp, n, n + 1), 0);	/* the same size: still no room */
	spool_get_stats(sp, &st);
	CHECK(st.bytes <= 8192);
	CHECK_EQ_U(st.pending, (uint64_t)n);
	CHECK_EQ_U(st.refused, 2);
	spool_close(sp);
	tmpdir_remove();
}

static void
test_spool_refuses_oversized_record(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 0);
	char *big = calloc(1, SPOOL_RECORD_MAX);

	CHECK(sp != NULL && big != NULL);
	if (sp != NULL && big != NULL)
		CHECK(spool_append(sp, "x", 1, big, SPOOL_RECORD_MAX) == SPOOL_TOOBIG);
	free(big);
	spool_close(sp);
	tmpdir_remove();
}

static void
test_spool_torn_tail_is_cut_earlier_records_intact(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 0);
	struct spool_stats st;
	struct spool_rec r;
	struct stat fst;
	char seg[512];

	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	CHECK_EQ_U(append_n(sp, 0, 10), 10);
	spool_close(sp);
	/* A crash mid-append: the last record loses its last 5 bytes. */
	CHECK(first_segment(dir, seg, sizeof seg));
	CHECK(stat(seg, &fst) == 0);
	CHECK(truncate(seg, fst.st_size - 5) == 0);

	sp = open_ok(dir, 0);
	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	spool_get_stats(sp, &st);
	CHECK_EQ_U(st.pending, 9);
	CHECK_EQ_U(st.skipped, 1);
	CHECK(read_expect(sp, 0, 9, NULL));
	CHECK(spool_read(sp, &r) == 0);
	/* Appends after it are read normally. */
	CHECK_EQ_U(append_n(sp, 10, 12), 2);
	CHECK(read_expect(sp, 10, 2, NULL));
	spool_close(sp);
	tmpdir_remove();
}

static void
test_spool_bad_checksum_skips_one_record(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 0);
	struct spool_stats st;
	struct spool_rec r;
	char seg[512];
	int fd;

	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	CHECK_EQ_U(append_n(sp, 0, 3), 3);
	spool_close(sp);
	/* Flip a byte inside the second record's JSON (each record is
	 * 12 + 9 + 1 + 26 = 48 bytes, after the 24-byte segment header). */
	CHECK(first_segment(dir, seg, sizeof seg));
	fd = open(seg, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "X", 1, 24 + 48 + 30) == 1);
	close(fd);

	sp = open_ok(dir, 0);
	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	CHECK(read_expect(sp, 0, 1, NULL));
	CHECK(read_expect(sp, 2, 1, NULL));
	CHECK(spool_read(sp, &r) == 0);
	spool_get_stats(sp, &st);
	CHECK_EQ_U(st.skipped, 1);
	CHECK_EQ_U(st.pending, 2);
	spool_close(sp);
	tmpdir_remove();
}

struct insert_list {
	int next, end;
	char id[32], json[64];
};

/* spool_next_fn: id-<next> .. id-<end - 1>. */
static int
insert_next(void *arg, const char **id, size_t *id_len, const char **json, size_t *json_len)
{
	struct insert_list *l = arg;

	if (l->next >= l->end)
		return 0;
	snprintf(l->id, sizeof l->id, "id-%06d", l->next);
	snprintf(l->json, sizeof l->json, "{\"id\":\"%s\",\"seq\":%d}", l->id, l->next);
	l->next++;
	*id = l->id;
	*id_len = strlen(l->id);
	*json = l->json;
	*json_len = strlen(l->json);
	return 1;
}

static void
test_spool_insert_goes_before_unread_and_survives_restart(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 0);
	struct insert_list l = { 5, 8, "", "" };
	struct spool_pos pos;
	struct spool_rec r;

	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	/* 0..4 were read (in the sink's memory) when 5..7 were queued in
	 * memory and 8..9 spooled behind them; 0..2 were delivered. */
	CHECK_EQ_U(append_n(sp, 0, 5), 5);
	CHECK(read_expect(sp, 0, 4, &pos));
	CHECK(spool_ack(sp, pos, 3) == 0);		/* 3 is at pos: not delivered */
	CHECK(read_expect(sp, 4, 1, NULL));
	CHECK(spool_read(sp, &r) == 0);		/* caught up */
	CHECK_EQ_U(append_n(sp, 8, 10), 2);
	/* At close, 5..7 go back ahead of the unread 8..9. */
	CHECK_EQ_U(spool_insert_unread(sp, insert_next, &l), 3);
	spool_close(sp);

	sp = open_ok(dir, 0);
	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	CHECK(read_expect(sp, 3, 7, NULL));
	CHECK(spool_read(sp, &r) == 0);
	spool_close(sp);
	tmpdir_remove();
}

static void
test_spool_insert_with_nothing_unread_appends(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 0);
	struct insert_list l = { 0, 4, "", "" };
	struct spool_rec r;

	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	CHECK_EQ_U(spool_insert_unread(sp, insert_next, &l), 4);
	CHECK_EQ_U(append_n(sp, 4, 6), 2);
	CHECK(read_expect(sp, 0, 6, NULL));
	CHECK(spool_read(sp, &r) == 0);
	spool_close(sp);
	tmpdir_remove();
}

static void
test_spool_creates_missing_dir_0700_and_files_0600(void)
{
	const char *dir = tmpdir();
	char sub[512], seg[512];
	struct spool *sp;
	struct stat st;

	path_in(sub, sizeof sub, dir, "spool");
	umask(022);
	sp = open_ok(sub, 0);
	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	CHECK(lstat(sub, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ_U(st.st_mode & 07777, 0700);
	CHECK_EQ_U(append_n(sp, 0, 1), 1);
	CHECK(first_segment(sub, seg, sizeof seg));
	CHECK(stat(seg, &st) == 0);
	CHECK_EQ_U(st.st_mode & 07777, 0600);
	spool_close(sp);
	/* The parent must exist: nothing is created recursively. */
	path_in(sub, sizeof sub, dir, "no/such");
	CHECK(open_fails_with(sub, "cannot create spool directory"));
	tmpdir_remove();
}

static void
test_spool_refuses_world_writable_dir(void)
{
	const char *dir = tmpdir();

	CHECK(chmod(dir, 0777) == 0);
	CHECK(open_fails_with(dir, "world-writable"));
	CHECK(chmod(dir, 01777) == 0);		/* sticky, like /tmp: still no */
	CHECK(open_fails_with(dir, "world-writable"));
	CHECK(open_fails_with("/tmp", "world-writable"));
	tmpdir_remove();
}

static void
test_spool_refuses_symlink_and_non_directory(void)
{
	const char *dir = tmpdir();
	char real[512], link[512], file[512];
	int fd;

	path_in(real, sizeof real, dir, "real");
	path_in(link, sizeof link, dir, "link");
	path_in(file, sizeof file, dir, "file");
	CHECK(mkdir(real, 0700) == 0);
	CHECK(symlink(real, link) == 0);
	CHECK(open_fails_with(link, "is a symlink"));
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK(open_fails_with(file, "not a directory"));
	tmpdir_remove();
}

static void
test_spool_refuses_dir_or_file_owned_by_another_user(void)
{
	const char *dir = tmpdir();
	char sub[512], seg[512];
	struct spool *sp;

	if (geteuid() != 0) {
		fprintf(stderr, "  (not root: cannot give a directory away; skipped)\n");
		tmpdir_remove();
		return;
	}
	path_in(sub, sizeof sub, dir, "theirs");
	CHECK(mkdir(sub, 0700) == 0);
	CHECK(chown(sub, 65534, 65534) == 0);
	CHECK(open_fails_with(sub, "owned by uid 65534"));
	/* A planted segment in our own directory is refused too. */
	sp = open_ok(dir, 0);
	CHECK(sp != NULL);
	if (sp != NULL) {
		CHECK_EQ_U(append_n(sp, 0, 1), 1);
		spool_close(sp);
	}
	CHECK(first_segment(dir, seg, sizeof seg));
	CHECK(chown(seg, 65534, 65534) == 0);
	CHECK(open_fails_with(dir, "not a regular file owned by"));
	tmpdir_remove();
}

static void
test_spool_refuses_symlinked_segment(void)
{
	const char *dir = tmpdir();
	char seg[512];

	path_in(seg, sizeof seg, dir, "outflow-spool-0000000000100000.log");
	CHECK(symlink("/etc/passwd", seg) == 0);
	CHECK(open_fails_with(dir, "outflow-spool-0000000000100000.log"));
	tmpdir_remove();
}

static void
test_spool_one_process_per_directory(void)
{
	const char *dir = tmpdir();
	struct spool *sp = open_ok(dir, 0);

	CHECK(sp != NULL);
	CHECK(open_fails_with(dir, "in use by another process"));
	spool_close(sp);
	sp = open_ok(dir, 0);		/* released at close */
	CHECK(sp != NULL);
	spool_close(sp);
	tmpdir_remove();
}

T_MAIN("spool",
    T(test_spool_reads_back_in_order),
    T(test_spool_delivered_segments_are_deleted),
    T(test_spool_restart_resumes_after_acknowledged),
    T(test_spool_cap_refuses_and_counts),
    T(test_spool_refuses_oversized_record),
    T(test_spool_torn_tail_is_cut_earlier_records_intact),
    T(test_spool_bad_checksum_skips_one_record),
    T(test_spool_insert_goes_before_unread_and_survives_restart),
    T(test_spool_insert_with_nothing_unread_appends),
    T(test_spool_creates_missing_dir_0700_and_files_0600),
    T(test_spool_refuses_world_writable_dir),
    T(test_spool_refuses_symlink_and_non_directory),
    T(test_spool_refuses_dir_or_file_owned_by_another_user),
    T(test_spool_refuses_symlinked_segment),
    T(test_spool_one_process_per_directory))
