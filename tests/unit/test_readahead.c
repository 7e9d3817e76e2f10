/*
 * readahead: the thread hands out exactly what pcap_next_ex() gives (every
 * packet, in order, byte for byte, across many blocks and blocks grown for
 * big packets), then the same end; stops cleanly wherever the caller is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "readahead.h"
#include "t.h"


/* Packet i's captured length, as write_pcap makes it (sizes[] when given). */
static uint32_t
len_of(int i, const uint32_t *sizes)
{
	return sizes != NULL ? sizes[i] : 14 + (uint32_t)(i * 37 % 1500);
}

/* n Ethernet packets; packet i's bytes are (i + k) & 0xff. */
static void
write_pcap(const char *path, int n, const uint32_t *sizes)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 262144);
	pcap_dumper_t *d = pcap_dump_open(p, path);
	uint8_t *buf = malloc(262144);

	for (int i = 0; i < n; i++) {
		uint32_t len = len_of(i, sizes);
		struct pcap_pkthdr h = { .caplen = len, .len = len + 100 };
		h.ts.tv_sec = 1772442000 + i / 1000;
		h.ts.tv_usec = (i % 1000) * 1000 + 7;
		for (uint32_t k = 0; k < len; k++)
			buf[k] = (uint8_t)(i + (int)k);
		pcap_dump((u_char *)d, &h, buf);
	}
	free(buf);
	pcap_dump_close(d);
	pcap_close(p);
}

static pcap_t *
open_file(const char *path)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);

	CHECK(p != NULL);
	return p;
}

/* A file read through a readahead; ra is NULL (and a check failed) if it could not start. */
struct reader {
	pcap_t *p;
	struct readahead *ra;
};

static struct reader
reader_open(const char *path)
{
	char err[256] = "";
	struct reader r = { open_file(path), NULL };

	if (r.p != NULL)
		r.ra = readahead_start(r.p, err, sizeof err);
	CHECK(r.ra != NULL);
	return r;
}

static void
reader_close(struct reader *r)
{
	readahead_stop(r->ra);
	if (r->p != NULL)
		pcap_close(r->p);
}

/* Reads path through a readahead and directly, side by side: returns the packets compared. */
static int
compare_with_pcap(const char *path, int *mismatches)
{
	pcap_t *direct = open_file(path);
	struct reader r = reader_open(path);
	struct capture_pkt cp;
	struct pcap_pkthdr *h;
	const u_char *data;
	int n = 0, rc;

	*mismatches = 0;
	if (r.ra == NULL || direct == NULL)
		goto out;
	while ((rc = pcap_next_ex(direct, &h, &data)) == 1) {
		if (readahead_next(r.ra, &cp) != CAPTURE_PACKET) {
			(*mismatches)++;
			goto out;
		}
		if (cp.ts_us != (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec ||
		    cp.caplen != h->caplen || cp.wirelen != (h->len < h->caplen ? h->caplen : h->len) ||
		    memcmp(cp.data, data, h->caplen) != 0)
			(*mismatches)++;
		n++;
	}
	/* The same end: end of file, or the same error after the same packets. */
	if (rc == PCAP_ERROR_BREAK) {
		CHECK(readahead_next(r.ra, &cp) == CAPTURE_EOF);
	} else {
		CHECK(readahead_next(r.ra, &cp) == CAPTURE_ERROR);
		CHECK_EQ_S(readahead_error(r.ra), pcap_geterr(direct));
	}
out:
	reader_close(&r);
	if (direct)
		pcap_close(direct);
	return n;
}

static void
test_same_packets_as_pcap_across_many_blocks(void)
{
	int bad;

	/* About 23 MB: the ring of 4 x 128 KB goes round about 45 times. */
	write_pcap(t_path("many.pcap"), 30000, NULL);
	CHECK_EQ_U(compare_with_pcap(t_path("many.pcap"), &bad), 30000);
	CHECK_EQ_U(bad, 0);
}

static void
test_packets_larger_than_a_block_are_whole(void)
{
	static const uint32_t sizes[] = { 60, RA_BLOCK_BYTES, 60, 200000, RA_BLOCK_BYTES - 16, 262144, 60,
	    RA_BLOCK_BYTES - 17, 1514 };
	int n = (int)(sizeof sizes / sizeof sizes[0]), bad;

	write_pcap(t_path("big.pcap"), n, sizes);
	CHECK_EQ_U(compare_with_pcap(t_path("big.pcap"), &bad), n);
	CHECK_EQ_U(bad, 0);
}

/* Others' captures (pcapng, nanoseconds, bad timestamps, truncated files) when ../shared is there. */
static void
test_pcapng_and_the_sample_captures_read_the_same(void)
{
	static const char *const files[] = { "pcaps/breach.pcap", "pcaps/dns-tunnel.pcap",
	    "../shared/pcaps/zeek__pcapng-multi-interface.pcapng", "../shared/pcaps/tcpdump__tcp-handshake-nano.pcap",
	    "../shared/pcaps/zeek__http-post-large.pcap", "../shared/pcaps/tcpdump__timestamp_invalid_micro.pcap",
	    "../shared/pcaps/zeek__trunc-hdr.pcap", "../shared/pcaps/suricata-verify__ipv4-truncated.pcap" };
	int bad, read = 0;

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (access(files[i], R_OK) != 0)
			continue;	/* ../shared is optional */
		read++;
		compare_with_pcap(files[i], &bad);
		CHECK_EQ_U(bad, 0);
	}
	CHECK(read >= 2);	/* the project's own samples are always there */
}

static void
test_truncated_file_errs_after_its_whole_packets_and_stays_so(void)
{
	const char *path = t_path("trunc.pcap");
	struct capture_pkt cp;
	struct stat st;
	enum capture_rc rc;
	int n = 0;

	write_pcap(path, 5000, NULL);
	CHECK(stat(path, &st) == 0);
	CHECK(truncate(path, st.st_size - 10) == 0);	/* inside the last packet */
	struct reader r = reader_open(path);
	if (r.ra != NULL) {
		while ((rc = readahead_next(r.ra, &cp)) == CAPTURE_PACKET)
			n++;
		CHECK_EQ_U(n, 4999);
		CHECK(rc == CAPTURE_ERROR);
		CHECK(strstr(readahead_error(r.ra), "truncated") != NULL);
		CHECK(readahead_next(r.ra, &cp) == CAPTURE_ERROR);
	}
	reader_close(&r);
}

static void
test_position_grows_to_the_file_size_and_eof_repeats(void)
{
	const char *path = t_path("pos.pcap");
	struct capture_pkt cp;
	struct stat st;
	uint64_t last = 0;
	int backwards = 0;

	write_pcap(path, 5000, NULL);
	CHECK(stat(path, &st) == 0);
	struct reader r = reader_open(path);
	if (r.ra != NULL) {
		CHECK_EQ_U(readahead_pos(r.ra), 0);
		while (readahead_next(r.ra, &cp) == CAPTURE_PACKET) {
			backwards += readahead_pos(r.ra) < last;
			last = readahead_pos(r.ra);
		}
		CHECK_EQ_U(backwards, 0);
		CHECK_EQ_U(readahead_pos(r.ra), (uint64_t)st.st_size);
		CHECK(readahead_next(r.ra, &cp) == CAPTURE_EOF);
		CHECK(readahead_next(r.ra, &cp) == CAPTURE_EOF);
	}
	reader_close(&r);
}

static void
test_empty_file_is_eof(void)
{
	struct capture_pkt cp;

	write_pcap(t_path("empty.pcap"), 0, NULL);
	struct reader r = reader_open(t_path("empty.pcap"));
	if (r.ra != NULL)
		CHECK(readahead_next(r.ra, &cp) == CAPTURE_EOF);
	reader_close(&r);
}

static void
test_break_ends_at_the_next_call(void)
{
	struct capture_pkt cp;

	write_pcap(t_path("brk.pcap"), 30000, NULL);
	struct reader r = reader_open(t_path("brk.pcap"));
	if (r.ra != NULL) {
		for (int i = 0; i < 10; i++)
			CHECK(readahead_next(r.ra, &cp) == CAPTURE_PACKET);
		readahead_break(r.ra);
		CHECK(readahead_next(r.ra, &cp) == CAPTURE_EOF);
		CHECK(readahead_next(r.ra, &cp) == CAPTURE_EOF);
	}
	reader_close(&r);
}

/* The thread waits on a full ring (or is still reading): stop returns, and the handle is usable. */
static void
test_stop_returns_wherever_the_thread_is(void)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	struct capture_pkt cp;
	struct pcap_pkthdr *h;
	const u_char *data;

	write_pcap(t_path("stop.pcap"), 30000, NULL);
	for (int round = 0; round < 3; round++) {
		struct reader r = reader_open(t_path("stop.pcap"));
		if (r.ra != NULL && round > 0)
			CHECK(readahead_next(r.ra, &cp) == CAPTURE_PACKET);
		if (round == 2)
			nanosleep(&pause, NULL);	/* the ring is full by now */
		readahead_stop(r.ra);
		r.ra = NULL;
		if (r.p != NULL)
			CHECK(pcap_next_ex(r.p, &h, &data) == 1);
		reader_close(&r);
	}
}

/*
 * A caller slower than the file: the thread, always ahead, finds the ring
 * full and waits, and is woken once per half ring (RA_BLOCKS / 2 blocks),
 * not once per block. Each wake is a system call on the analysis thread.
 */
static void
test_a_full_ring_waits_for_half_of_it(void)
{
	/* 1514-byte packets: about 85 to a block, so 40 blocks' worth. */
	static uint32_t sizes[3400];
	const struct timespec pause = { 0, 100000 };
	struct capture_pkt cp;
	int n = 0;

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		sizes[i] = 1514;
	write_pcap(t_path("slow.pcap"), 3400, sizes);
	struct reader r = reader_open(t_path("slow.pcap"));
	if (r.ra == NULL)
		goto out;
	while (readahead_next(r.ra, &cp) == CAPTURE_PACKET) {
		if (++n % 4 == 0)
			nanosleep(&pause, NULL);
	}
	CHECK_EQ_U(n, 3400);
	uint64_t blocks = (3400u * (16u + 1520u)) / RA_BLOCK_BYTES;
	uint64_t waits = readahead_waits(r.ra);
	/* About blocks / 2 (18 here). The lower bound: the thread was ahead for
	 * most of the file, or the upper one would prove nothing. */
	uint64_t lo = blocks / 4, hi = blocks / (RA_BLOCKS / 2) + 2;
	if (waits < lo || waits > hi)
		fprintf(stderr, "# %llu waits for about %llu blocks\n", (unsigned long long)waits,
		    (unsigned long long)blocks);
	CHECK(waits >= lo);
	CHECK(waits <= hi);
out:
	reader_close(&r);
}

int
main(void)
{
	static const struct t_case c[] = {
		T(test_same_packets_as_pcap_across_many_blocks),
		T(test_packets_larger_than_a_block_are_whole),
		T(test_pcapng_and_the_sample_captures_read_the_same),
		T(test_truncated_file_errs_after_its_whole_packets_and_stays_so),
		T(test_position_grows_to_the_file_size_and_eof_repeats),
		T(test_empty_file_is_eof),
		T(test_break_ends_at_the_next_call),
		T(test_stop_returns_wherever_the_thread_is),
		T(test_a_full_ring_waits_for_half_of_it),
	};
	return t_run_in_tmpdir("readahead", c, sizeof c / sizeof c[0]);
}
