/*
 * test_newdest - uploads to first-seen destinations: the threshold (fires
 * above it, not at it), the learning period, what counts as known (the
 * host's own history, the network's, the registered domain of the server
 * name), the bounded memory, and the state file: round trip, restart
 * without re-alerting, and truncated / corrupt / foreign files reported and
 * ignored.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "modharness.h"
#include "newdest.h"

#define R_ND(bytes, learn) \
	"rule nd {\n  category new-destination\n" \
	"  when newdest.out.bytes > " bytes " and newdest.net.new >= 1 and newdest.history >= " learn "\n" \
	"  severity low\n  message \"{src_ip} {newdest.out.bytes} {server_name}\"\n}\n"

#define R_DEFAULT R_ND("1 MB", "0 s")
#define HOST "10.0.0.5"
#define HOST2 "10.0.0.6"
#define EXT "198.51.100.9"

#define SETUP(h, rules, cap, fd, dir) MH_SETUP(h, rules, newdest, \
	(h)->cfg.max_newdest = (cap), (h)->cfg.state_dir = (dir), (h)->env.state_dirfd = (fd))

static void
test_newdest_fires_above_threshold_not_at_it(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 1024, -1, NULL);
	mh_tcp_xfer(&h, HOST, 40001, EXT, 443, 1, 1000000, PB_T0);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);	/* exactly 1 MB */
	mh_tcp_xfer(&h, HOST, 40002, EXT, 443, 1, 1, PB_T0 + 11 * PB_SEC);
	mh_tick(&h, PB_T0 + 10 * PB_SEC, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	CHECK_EQ_S(h.rec[0].src, HOST);
	CHECK_EQ_S(h.rec[0].dest, EXT);
	CHECK_EQ_S(h.rec[0].message, "10.0.0.5 1.00 MB 198.51.100.9");
	CHECK(strstr(h.rec[0].json, "\"new_destination\":{\"first_seen\":") != NULL);
	CHECK(strstr(h.rec[0].json, "\"new_to_network\":true") != NULL);
	mh_free(&h);
}

static void
test_newdest_quiet_while_learning(void)
{
	struct mh h;

	SETUP(&h, R_ND("1 MB", "1 h"), 1024, -1, NULL);
	/* The memory starts with the first contact at T0. */
	mh_tcp_xfer(&h, HOST, 40001, "198.51.100.1", 443, 1, 10, PB_T0);
	mh_tcp_xfer(&h, HOST, 40002, EXT, 443, 1, 5000000, PB_T0 + PB_HOUR - PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + PB_HOUR - PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_tcp_xfer(&h, HOST, 40003, "198.51.100.10", 443, 1, 5000000, PB_T0 + PB_HOUR);
	mh_tick(&h, PB_T0 + PB_HOUR - PB_SEC, PB_T0 + PB_HOUR);
	CHECK_EQ_U(h.nrec, 2);	/* both uploads are new, and learning is over */
	mh_free(&h);
}

/* Contacted a day ago (the "new" mark has expired): known, not new. */
static void
test_newdest_known_destination_is_not_new(void)
{
	struct mh h;
	uint64_t later = PB_T0 + (NEWDEST_RECENT_S + 120) * PB_SEC;

	SETUP(&h, R_DEFAULT, 1024, -1, NULL);
	mh_tcp_xfer(&h, HOST, 40001, EXT, 443, 1, 100, PB_T0);
	mh_tick(&h, PB_T0, later - PB_SEC);
	mh_tcp_xfer(&h, HOST, 40002, EXT, 443, 1, 5000000, later);
	mh_tick(&h, later - PB_SEC, later + PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

/* Another host went there before: new to this host, not to the network. */
static void
test_newdest_known_to_network_does_not_fire_net_new_rule(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 1024, -1, NULL);
	mh_tcp_xfer(&h, HOST2, 40001, EXT, 443, 1, 100, PB_T0);
	mh_tcp_xfer(&h, HOST, 40002, EXT, 443, 1, 5000000, PB_T0 + PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

/* A new address of a known registered domain (a CDN's next node) is not new. */
static void
test_newdest_known_domain_new_address_is_not_new(void)
{
	struct mh h;
	struct flow *f;
	uint64_t later = PB_T0 + 10 * PB_MIN;

	SETUP(&h, R_DEFAULT, 1024, -1, NULL);
	f = mh_tcp_xfer(&h, HOST, 40001, "198.51.100.1", 443, 1, 100, PB_T0);
	mh_classify(&h, f, "TLS", "www.example.com", PB_T0);
	f = mh_tcp_xfer(&h, HOST, 40002, "198.51.100.2", 443, 1, 100, later);
	mh_classify(&h, f, "TLS", "upload.example.com", later);
	mh_tcp_xfer(&h, HOST, 40002, "198.51.100.2", 443, 1, 5000000, later);
	/* A new domain on a new address is new. */
	f = mh_tcp_xfer(&h, HOST, 40003, "198.51.100.3", 443, 1, 100, later);
	mh_classify(&h, f, "TLS", "files.example.net", later);
	mh_tcp_xfer(&h, HOST, 40003, "198.51.100.3", 443, 1, 5000000, later);
	mh_tick(&h, PB_T0, later + PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	CHECK_EQ_S(h.rec[0].dest, "198.51.100.3");
	CHECK(strstr(h.rec[0].json, "\"server_name\":\"files.example.net\"") != NULL);
	CHECK(strstr(h.rec[0].json, "\"domain\":\"example.net\"") != NULL);
	/* Expired recent destinations let their names go: the three host destinations keep theirs. */
	CHECK_EQ_U(mh_names(&h), 5);
	mh_tick(&h, later + PB_SEC, later + 2 * NEWDEST_RECENT_S * PB_SEC);
	CHECK_EQ_U(mh_names(&h), 3);
	mh_free(&h);
}

/* Served and internal traffic are not uploads to a destination. */
static void
test_newdest_ignores_served_and_internal(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 1024, -1, NULL);
	mh_tcp_xfer(&h, EXT, 50000, HOST, 443, 0, 5000000, PB_T0);	/* served to EXT */
	mh_tcp_xfer(&h, HOST, 40001, "10.0.9.9", 445, 1, 5000000, PB_T0);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

static void
test_newdest_memory_bounded_and_counts_evictions(void)
{
	struct mh h;
	char ip[32], st[1024];

	SETUP(&h, R_DEFAULT, 16, -1, NULL);
	for (int i = 0; i < 10; i++) {
		snprintf(ip, sizeof ip, "198.51.100.%d", i + 1);
		mh_tcp_xfer(&h, HOST, (uint16_t)(40000 + i), ip, 443, 1, 10, PB_T0 + (uint64_t)i);
	}
	/* 10 addresses x (host, network) = 20 entries into 16. */
	mh_stats(&h, 0, st, sizeof st);
	CHECK(strstr(st, "\"seen\":16,\"max_seen\":16,\"seen_evicted\":4,") != NULL);
	mh_free(&h);
}

/* ---- the state file ------------------------------------------------------ */

struct tdir {
	char path[64];
	int fd;
};

static int
tdir_new(struct tdir *d)
{
	snprintf(d->path, sizeof d->path, "/tmp/test_newdest.XXXXXX");
	if (mkdtemp(d->path) == NULL)
		return -1;
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY);
	return d->fd < 0 ? -1 : 0;
}

static void
tdir_free(struct tdir *d)
{
	unlinkat(d->fd, NEWDEST_STATE_FILE, 0);
	unlinkat(d->fd, NEWDEST_STATE_FILE ".tmp", 0);
	close(d->fd);
	rmdir(d->path);
}

/* First run: uploads to EXT (alert), contacts two more. Saved at exit. */
static void
first_run(struct tdir *d, size_t *nrec)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 1024, d->fd, d->path);
	mh_tcp_xfer(&h, HOST, 40001, EXT, 443, 1, 2000000, PB_T0);
	mh_tcp_xfer(&h, HOST, 40002, "198.51.100.1", 443, 1, 10, PB_T0);
	mh_tcp_xfer(&h, HOST2, 40003, "198.51.100.2", 443, 1, 10, PB_T0);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	*nrec = h.nrec;
	mh_free(&h);	/* saves */
}

/* A restart on first_run()'s state: its 6 entries load and its traffic is known. */
static void
restart_knows_first_run(struct mh *h, struct tdir *d)
{
	char st[1024];

	SETUP(h, R_DEFAULT, 1024, d->fd, d->path);
	CHECK_EQ_S(newdest_state_error(h->mod[0]), "");
	mh_stats(h, 0, st, sizeof st);
	CHECK(strstr(st, "\"seen\":6,") != NULL);
	CHECK(strstr(st, "\"loaded\":6,") != NULL);
	mh_tcp_xfer(h, HOST, 40001, EXT, 443, 1, 2000000, PB_T0);
	mh_tcp_xfer(h, HOST2, 40004, "198.51.100.1", 443, 1, 2000000, PB_T0);	/* the network knew it */
	mh_tick(h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h->nrec, 0);
}

static void
test_newdest_state_round_trip_and_restart_does_not_realert(void)
{
	struct tdir d;
	struct mh h;
	struct stat sb;
	size_t n1;

	if (tdir_new(&d) != 0) {
		CHECK(!"tmpdir");
		return;
	}
	first_run(&d, &n1);
	CHECK_EQ_U(n1, 1);
	CHECK(fstatat(d.fd, NEWDEST_STATE_FILE, &sb, 0) == 0);
	/* 32-byte header, 3 addresses x (host, network) entries of 16, checksum. */
	CHECK_EQ_U(sb.st_size, 32 + 6 * 16 + 8);
	CHECK(fstatat(d.fd, NEWDEST_STATE_FILE ".tmp", &sb, 0) != 0);	/* renamed, not left */
	/* Second run over the same traffic: everything is known. */
	restart_knows_first_run(&h, &d);
	mh_free(&h);
	tdir_free(&d);
}

/*
 * What first_run() saved in the version 1 format (40-byte records of host,
 * destination hash, first and last contact in microseconds), as the
 * sensor wrote it before the memory kept fingerprints: it must still load.
 */
static const uint8_t v1_state[] = {
	0x4f, 0x46, 0x4e, 0x45, 0x57, 0x44, 0x53, 0x54, 0x01, 0x00, 0x00, 0x00,
	0x28, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x84, 0xcb, 0xcf, 0x06, 0x4c, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x0a, 0x00, 0x00, 0x05,
	0x15, 0x3e, 0xfc, 0x27, 0x0f, 0xf2, 0xbb, 0xd2, 0x00, 0x84, 0xcb, 0xcf,
	0x06, 0x4c, 0x06, 0x00, 0x00, 0x84, 0xcb, 0xcf, 0x06, 0x4c, 0x06, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x15, 0x3e, 0xfc, 0x27, 0x0f, 0xf2, 0xbb, 0xd2,
	0x00, 0x84, 0xcb, 0xcf, 0x06, 0x4c, 0x06, 0x00, 0x00, 0x84, 0xcb, 0xcf,
	0x06, 0x4c, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xff, 0xff, 0x0a, 0x00, 0x00, 0x05, 0x9c, 0x86, 0xef, 0x16,
	0x3a, 0x61, 0x88, 0xe5, 0x00, 0x84, 0xcb, 0xcf, 0x06, 0x4c, 0x06, 0x00,
	0x00, 0x84, 0xcb, 0xcf, 0x06, 0x4c, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x9c, 0x86, 0xef, 0x16, 0x3a, 0x61, 0x88, 0xe5, 0x00, 0x84, 0xcb, 0xcf,
	0x06, 0x4c, 0x06, 0x00, 0x00, 0x84, 0xcb, 0xcf, 0x06, 0x4c, 0x06, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
	0x0a, 0x00, 0x00, 0x06, 0xc0, 0x2a, 0xe1, 0x8a, 0x0d, 0xe8, 0x58, 0xd5,
	0x00, 0x84, 0xcb, 0xcf, 0x06, 0x4c, 0x06, 0x00, 0x00, 0x84, 0xcb, 0xcf,
	0x06, 0x4c, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x2a, 0xe1, 0x8a,
	0x0d, 0xe8, 0x58, 0xd5, 0x00, 0x84, 0xcb, 0xcf, 0x06, 0x4c, 0x06, 0x00,
	0x00, 0x84, 0xcb, 0xcf, 0x06, 0x4c, 0x06, 0x00, 0x16, 0x8e, 0x8a, 0x25,
	0xda, 0xe6, 0xbf, 0x13,
};

static void
test_newdest_version_1_state_still_loads(void)
{
	struct tdir d;
	struct mh h;
	struct stat sb;
	int fd;

	if (tdir_new(&d) != 0) {
		CHECK(!"tmpdir");
		return;
	}
	fd = openat(d.fd, NEWDEST_STATE_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, v1_state, sizeof v1_state) == (ssize_t)sizeof v1_state);
	close(fd);
	restart_knows_first_run(&h, &d);
	/* A destination the file does not hold is still new. */
	mh_tcp_xfer(&h, HOST, 40005, "198.51.100.77", 443, 1, 2000000, PB_T0 + 20 * PB_SEC);
	mh_tick(&h, PB_T0 + 10 * PB_SEC, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);	/* rewritten in the current format */
	CHECK(fstatat(d.fd, NEWDEST_STATE_FILE, &sb, 0) == 0);
	/* The 6 loaded, HOST2's first contact with 198.51.100.1, and the new one for host and network. */
	CHECK_EQ_U(sb.st_size, 32 + 9 * 16 + 8);
	tdir_free(&d);
}

/* The learning period counts from the state's creation, across restarts. */
static void
test_newdest_learning_start_survives_restart(void)
{
	struct tdir d;
	struct mh h;
	size_t n1;

	if (tdir_new(&d) != 0) {
		CHECK(!"tmpdir");
		return;
	}
	first_run(&d, &n1);
	SETUP(&h, R_ND("1 MB", "2 h"), 1024, d.fd, d.path);
	mh_tcp_xfer(&h, HOST, 40009, "198.51.100.50", 443, 1, 2000000, PB_T0 + 2 * PB_HOUR - PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 2 * PB_HOUR - PB_SEC);
	CHECK_EQ_U(h.nrec, 0);	/* 2 h - 1 s since T0 */
	mh_tcp_xfer(&h, HOST, 40010, "198.51.100.51", 443, 1, 2000000, PB_T0 + 2 * PB_HOUR);
	mh_tick(&h, PB_T0 + 2 * PB_HOUR - PB_SEC, PB_T0 + 2 * PB_HOUR);
	CHECK_EQ_U(h.nrec, 2);
	mh_free(&h);
	tdir_free(&d);
}

/* Rewrites the state file through fn, restarts, and checks the report. */
static void
damaged(void (*fn)(uint8_t *buf, size_t *len), const char *expect)
{
	struct tdir d;
	struct mh h;
	uint8_t buf[4096];
	size_t len, n1;
	int fd;

	if (tdir_new(&d) != 0) {
		CHECK(!"tmpdir");
		return;
	}
	first_run(&d, &n1);
	fd = openat(d.fd, NEWDEST_STATE_FILE, O_RDWR);
	len = (size_t)read(fd, buf, sizeof buf);
	fn(buf, &len);
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, buf, len, 0) == (ssize_t)len);
	close(fd);
	SETUP(&h, R_DEFAULT, 1024, d.fd, d.path);
	const char *e = newdest_state_error(h.mod[0]);
	if (strstr(e, expect) == NULL || strstr(e, NEWDEST_STATE_FILE) == NULL) {
		fprintf(stderr, "  state error \"%s\", expected \"%s\"\n", e, expect);
		CHECK(!"state error");
	}
	/* Ignored: the memory is empty, so the upload is new again. */
	mh_tcp_xfer(&h, HOST, 40001, EXT, 443, 1, 2000000, PB_T0);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);	/* and a good file is written again */
	SETUP(&h, R_DEFAULT, 1024, d.fd, d.path);
	CHECK_EQ_S(newdest_state_error(h.mod[0]), "");
	mh_free(&h);
	tdir_free(&d);
}

static void flip_entry_byte(uint8_t *b, size_t *len) { (void)len; b[32 + 17] ^= 0x40; }
static void cut_tail(uint8_t *b, size_t *len) { (void)b; *len -= 13; }
static void cut_to_header(uint8_t *b, size_t *len) { (void)b; *len = 20; }
static void foreign_magic(uint8_t *b, size_t *len) { (void)len; memcpy(b, "PK\3\4zip!", 8); }
static void other_version(uint8_t *b, size_t *len) { (void)len; b[8] = 9; }
static void other_byte_order(uint8_t *b, size_t *len)
{
	(void)len;
	uint8_t t = b[12];	/* the record size, byte-swapped */
	b[12] = b[15];
	b[15] = t;
}
static void huge_count(uint8_t *b, size_t *len) { (void)len; memset(b + 16, 0xff, 8); }

static void
test_newdest_corrupt_state_reported_and_ignored(void)
{
	damaged(flip_entry_byte, "checksum mismatch");
	damaged(cut_tail, "size does not match");
	damaged(cut_to_header, "shorter than its header");
	damaged(huge_count, "size does not match");
}

static void
test_newdest_foreign_state_reported_and_ignored(void)
{
	damaged(foreign_magic, "bad magic");
	damaged(other_version, "foreign format");
	damaged(other_byte_order, "foreign format");
}

/* Without --state-dir nothing is written; the periodic save runs on packet time. */
static void
test_newdest_periodic_save_on_packet_time(void)
{
	struct tdir d;
	struct mh h;
	struct stat sb;

	if (tdir_new(&d) != 0) {
		CHECK(!"tmpdir");
		return;
	}
	SETUP(&h, R_DEFAULT, 1024, d.fd, d.path);
	mh_tcp_xfer(&h, HOST, 40001, EXT, 443, 1, 10, PB_T0);
	mh_tick(&h, PB_T0, PB_T0);
	mh_tick(&h, PB_T0, PB_T0 + (NEWDEST_SAVE_S - 1) * PB_SEC);
	CHECK(fstatat(d.fd, NEWDEST_STATE_FILE, &sb, 0) != 0);
	mh_tick(&h, PB_T0, PB_T0 + NEWDEST_SAVE_S * PB_SEC);
	CHECK(fstatat(d.fd, NEWDEST_STATE_FILE, &sb, 0) == 0);
	mh_free(&h);
	tdir_free(&d);
}

T_MAIN("newdest",
    T(test_newdest_fires_above_threshold_not_at_it),
    T(test_newdest_quiet_while_learning),
    T(test_newdest_known_destination_is_not_new),
    T(test_newdest_known_to_network_does_not_fire_net_new_rule),
    T(test_newdest_known_domain_new_address_is_not_new),
    T(test_newdest_ignores_served_and_internal),
    T(test_newdest_memory_bounded_and_counts_evictions),
    T(test_newdest_state_round_trip_and_restart_does_not_realert),
    T(test_newdest_version_1_state_still_loads),
    T(test_newdest_learning_start_survives_restart),
    T(test_newdest_corrupt_state_reported_and_ignored),
    T(test_newdest_foreign_state_reported_and_ignored),
    T(test_newdest_periodic_save_on_packet_time))
