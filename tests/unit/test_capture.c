/*
 * capture: files (pcap, pcapng, nanosecond), errors named clearly, BPF,
 * refusing link types the decoder does not know.
 */
#include <dirent.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "capture.h"
#include "t.h"

/* Writes a pcap of n copies of a 60-byte frame with link type dlt. */
static void
write_pcap(const char *path, int dlt, int n, int nano)
{
	pcap_t *p = pcap_open_dead_with_tstamp_precision(dlt, 65535,
	    nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
	pcap_dumper_t *d = pcap_dump_open(p, path);
	uint8_t frame[60] = { 0 };

	frame[12] = 0x08;	/* Ethernet type IPv4, the rest zero */
	for (int i = 0; i < n; i++) {
		struct pcap_pkthdr h = { .caplen = sizeof frame, .len = 1514 };
		h.ts.tv_sec = 1772442000 + i;
		h.ts.tv_usec = nano ? 123456789 : 123456;
		pcap_dump((u_char *)d, &h, frame);
	}
	pcap_dump_close(d);
	pcap_close(p);
}


static void
test_reads_every_packet_with_wire_length_and_microseconds(void)
{
	char err[256];
	struct capture_config cfg = { .file = t_path("a.pcap") };
	struct capture_pkt cp;
	struct capture *c;
	int n = 0;

	write_pcap(cfg.file, DLT_EN10MB, 5, 0);
	c = capture_open(&cfg, err, sizeof err);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	while (capture_next(c, &cp) == CAPTURE_PACKET) {
		CHECK_EQ_U(cp.caplen, 60);
		CHECK_EQ_U(cp.wirelen, 1514);
		CHECK_EQ_U(cp.ts_us, (1772442000ULL + (uint64_t)n) * 1000000u + 123456);
		n++;
	}
	CHECK_EQ_U(n, 5);
	CHECK(capture_next(c, &cp) == CAPTURE_EOF);
	capture_close(c);
}

static void
test_nanosecond_files_are_read_as_microseconds(void)
{
	char err[256];
	struct capture_config cfg = { .file = t_path("n.pcap") };
	struct capture_pkt cp;
	struct capture *c;

	write_pcap(cfg.file, DLT_EN10MB, 1, 1);
	c = capture_open(&cfg, err, sizeof err);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK(capture_next(c, &cp) == CAPTURE_PACKET);
	CHECK_EQ_U(cp.ts_us, 1772442000ULL * 1000000u + 123456);
	capture_close(c);
}

static void
test_unsupported_link_type_is_named(void)
{
	char err[256] = "";
	struct capture_config cfg = { .file = t_path("u.pcap") };

	write_pcap(cfg.file, DLT_PPP, 1, 0);
	CHECK(capture_open(&cfg, err, sizeof err) == NULL);
	CHECK(strstr(err, "unsupported link type PPP (9") != NULL);
}

static void
test_missing_file_and_bad_filter_are_clear_errors(void)
{
	char err[256] = "";
	struct capture_config cfg = { .file = t_path("nope.pcap") };

	CHECK(capture_open(&cfg, err, sizeof err) == NULL);
	CHECK(strstr(err, "nope.pcap") != NULL);
	cfg.file = t_path("a.pcap");
	write_pcap(cfg.file, DLT_EN10MB, 1, 0);
	cfg.bpf = "tcp port nonsense";
	CHECK(capture_open(&cfg, err, sizeof err) == NULL);
	CHECK(strstr(err, "bad filter 'tcp port nonsense'") != NULL);
}

static void
test_filter_applies(void)
{
	char err[256];
	struct capture_config cfg = { .file = t_path("a.pcap"), .bpf = "udp" };
	struct capture_pkt cp;
	struct capture *c;

	write_pcap(cfg.file, DLT_EN10MB, 3, 0);	/* IPv4 with protocol 0: not UDP */
	c = capture_open(&cfg, err, sizeof err);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK(capture_next(c, &cp) == CAPTURE_EOF);
	capture_close(c);
}

static void
test_truncated_file_is_a_read_error_after_the_good_packets(void)
{
	char err[256];
	struct capture_config cfg = { .file = t_path("t.pcap") };
	struct capture_pkt cp;
	struct capture *c;
	int n = 0;

	write_pcap(cfg.file, DLT_EN10MB, 3, 0);
	CHECK(truncate(cfg.file, 24 + 2 * (16 + 60) + 20) == 0);
	c = capture_open(&cfg, err, sizeof err);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	enum capture_rc rc;
	while ((rc = capture_next(c, &cp)) == CAPTURE_PACKET)
		n++;
	CHECK_EQ_U(n, 2);
	CHECK(rc == CAPTURE_ERROR);
	CHECK(strstr(capture_error(c), "truncated") != NULL);
	capture_close(c);
}

/* This process's threads, from /proc. */
static int
threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* main.c drops privileges between capture_open() and the first packet: no reading before it. */
static void
test_file_reader_thread_starts_with_the_first_packet(void)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char err[256];
	struct capture_config cfg = { .file = t_path("r.pcap") };
	struct capture_stats st;
	struct capture_pkt cp;
	struct capture *c;

	write_pcap(cfg.file, DLT_EN10MB, 30000, 0);	/* 2.4 MB: the thread then waits on a full ring */
	int before = threads();
	c = capture_open(&cfg, err, sizeof err);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	nanosleep(&pause, NULL);
	CHECK_EQ_U(threads(), before);
	capture_get_stats(c, &st);
	CHECK_EQ_U(st.file_pos, 24);	/* the file header, and not one record */
	CHECK(capture_next(c, &cp) == CAPTURE_PACKET);
	CHECK_EQ_U(threads(), before + 1);
	capture_close(c);
	CHECK_EQ_U(threads(), before);
}

int
main(void)
{
	static const struct t_case c[] = {
		T(test_reads_every_packet_with_wire_length_and_microseconds),
		T(test_nanosecond_files_are_read_as_microseconds),
		T(test_unsupported_link_type_is_named),
		T(test_missing_file_and_bad_filter_are_clear_errors),
		T(test_filter_applies),
		T(test_truncated_file_is_a_read_error_after_the_good_packets),
		T(test_file_reader_thread_starts_with_the_first_packet),
	};
	return t_run_in_tmpdir("capture", c, sizeof c / sizeof c[0]);
}
