/*
 * test_evidence - the packet ring keeps exactly the newest packets in order
 * whatever their sizes (wrap-around, gaps, a ring filled by one size then
 * another), and the pcap written for an alert holds just the alerting
 * host's packets, readable by libpcap, within the disk cap.
 */
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "t.h"
#include "alert.h"
#include "evidence.h"

static char dir[64];

static struct evidence *
ev_new(size_t ring, uint64_t max_disk)
{
	struct evidence_config cfg = { .dir = dir, .ring_bytes = ring, .max_disk_bytes = max_disk };
	char err[256];
	struct evidence *e = evidence_new(&cfg, err, sizeof err);

	if (e == NULL)
		fprintf(stderr, "  %s\n", err);
	return e;
}

/* Frame i: its sequence number in the first 4 bytes, then filler. */
static void
frame(uint8_t *buf, uint32_t len, uint32_t i)
{
	memset(buf, (int)(i & 0xff), len);
	memcpy(buf, &i, sizeof i);
}

/* Reads back a pcap: number of packets, and whether sequence numbers increase by step. */
static int
read_back(const char *path, uint32_t *first, uint32_t *last, int *ordered, uint32_t step)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, eb);
	struct pcap_pkthdr *h;
	const u_char *d;
	int n = 0;
	uint32_t prev = 0;

	*ordered = 1;
	if (p == NULL)
		return -1;
	while (pcap_next_ex(p, &h, &d) == 1) {
		uint32_t seq;
		memcpy(&seq, d, sizeof seq);
		if (n == 0)
			*first = seq;
		else if (seq != prev + step)
			*ordered = 0;
		if (h->len != h->caplen + 1000)
			*ordered = 0;
		prev = seq;
		n++;
	}
	*last = prev;
	pcap_close(p);
	return n;
}

static void
test_evidence_ring_keeps_the_newest_packets_in_order(void)
{
	struct evidence *e = ev_new(1u << 20, 1u << 30);
	struct ip_addr h1, h2, peer;
	uint8_t buf[2000];
	struct alert a;
	uint32_t first = 0, last = 0, n = 20000;
	int ordered, got;

	if (e == NULL) {
		CHECK(!"evidence_new");
		return;
	}
	addr_parse(&h1, "10.0.0.1");
	addr_parse(&h2, "10.0.0.2");
	addr_parse(&peer, "198.51.100.7");
	srand(7);
	for (uint32_t i = 0; i < n; i++) {
		/* Sizes vary (small, MTU, odd) so records wrap at every offset. */
		uint32_t len = i < n / 2 ? 60 + (uint32_t)rand() % 1440 : 64 + (i % 7) * 3;
		frame(buf, len, i);
		evidence_packet(e, 1, 1000000u * i, buf, len, len + 1000, (i & 1) ? &h2 : &h1, &peer);
	}
	memset(&a, 0, sizeof a);
	snprintf(a.id, sizeof a.id, "t-1");
	a.src = h1;
	evidence_write(e, &a);
	CHECK(a.pcap[0] != '\0');
	got = read_back(a.pcap, &first, &last, &ordered, 2);
	/* Only h1's (even) packets, consecutive, ending with the newest one. */
	CHECK(got > 100);
	CHECK(ordered);
	CHECK_EQ_U(last, n - 2);
	CHECK_EQ_U(first % 2, 0);
	struct evidence_stats st;
	evidence_get_stats(e, &st);
	CHECK_EQ_U(st.packets, n);
	CHECK(st.overwritten > 0);
	/* Everything not overwritten is still there: the ring lost no packet it kept. */
	CHECK_EQ_U(st.packets - st.overwritten, (uint64_t)(n - 1 - first + 1));
	CHECK_EQ_U(st.files, 1);
	unlink(a.pcap);
	evidence_free(e);
}

static void
test_evidence_alert_about_one_destination_keeps_only_it(void)
{
	struct evidence *e = ev_new(1u << 20, 1u << 30);
	struct ip_addr h, p1, p2;
	uint8_t buf[100];
	struct alert a;
	uint32_t first = 0, last = 0;
	int ordered;

	if (e == NULL) {
		CHECK(!"evidence_new");
		return;
	}
	addr_parse(&h, "10.0.0.1");
	addr_parse(&p1, "198.51.100.7");
	addr_parse(&p2, "198.51.100.8");
	for (uint32_t i = 0; i < 100; i++) {
		frame(buf, sizeof buf, i);
		/* Replies count too: the host may be either end. */
		if (i % 3 == 0)
			evidence_packet(e, 1, i, buf, sizeof buf, sizeof buf + 1000, &p1, &h);
		else
			evidence_packet(e, 1, i, buf, sizeof buf, sizeof buf + 1000, &h, i % 3 == 1 ? &p1 : &p2);
	}
	memset(&a, 0, sizeof a);
	snprintf(a.id, sizeof a.id, "t-2");
	a.src = h;
	a.dominant = 1;
	a.ndests = 1;
	a.dests[0].ip = p2;
	evidence_write(e, &a);
	CHECK_EQ_U(read_back(a.pcap, &first, &last, &ordered, 3), 33);
	CHECK(ordered);
	CHECK_EQ_U(first, 2);
	CHECK_EQ_U(last, 98);
	unlink(a.pcap);
	/* No packet of the host at all: no file, no name in the alert. */
	addr_parse(&a.src, "10.9.9.9");
	snprintf(a.id, sizeof a.id, "t-3");
	evidence_write(e, &a);
	CHECK_EQ_S(a.pcap, "");
	evidence_free(e);
}

static void
test_evidence_disk_cap_skips_and_counts(void)
{
	struct evidence *e = ev_new(1u << 20, 5000);
	struct ip_addr h, p;
	uint8_t buf[1000];
	struct alert a;
	struct evidence_stats st;

	if (e == NULL) {
		CHECK(!"evidence_new");
		return;
	}
	addr_parse(&h, "10.0.0.1");
	addr_parse(&p, "198.51.100.7");
	for (uint32_t i = 0; i < 10; i++) {
		frame(buf, sizeof buf, i);
		evidence_packet(e, 1, i, buf, sizeof buf, sizeof buf, &h, &p);
	}
	memset(&a, 0, sizeof a);
	a.src = h;
	snprintf(a.id, sizeof a.id, "t-4");
	evidence_write(e, &a);		/* ~10 KB: written, now over the cap */
	CHECK(a.pcap[0] != '\0');
	unlink(a.pcap);
	snprintf(a.id, sizeof a.id, "t-5");
	evidence_write(e, &a);
	CHECK_EQ_S(a.pcap, "");
	evidence_get_stats(e, &st);
	CHECK_EQ_U(st.files, 1);
	CHECK_EQ_U(st.skipped_full, 1);
	evidence_free(e);
}

static void
test_evidence_bad_directory_is_an_error(void)
{
	struct evidence_config cfg = { .dir = "/nonexistent/outflow", .ring_bytes = 1u << 20,
	    .max_disk_bytes = 1 };
	char err[256] = "";

	CHECK(evidence_new(&cfg, err, sizeof err) == NULL);
	CHECK(strstr(err, "/nonexistent/outflow") != NULL);
}

static void
setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/outflow-ev-XXXXXX");
	if (mkdtemp(dir) == NULL)
		perror("mkdtemp");
}

static void
teardown(void)
{
	rmdir(dir);
}

static void test_setup(void) { setup(); }
static void test_teardown(void) { teardown(); CHECK(access(dir, F_OK) != 0); }

T_MAIN("evidence",
    T(test_setup),
    T(test_evidence_ring_keeps_the_newest_packets_in_order),
    T(test_evidence_alert_about_one_destination_keeps_only_it),
    T(test_evidence_disk_cap_skips_and_counts),
    T(test_evidence_bad_directory_is_an_error),
    T(test_teardown))
