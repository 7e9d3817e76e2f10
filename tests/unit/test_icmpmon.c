/*
 * test_icmpmon - the ICMP tunnel detector: which payloads are ping
 * patterns, the rules firing at their thresholds and not just below,
 * direction (out/in, internal pairs left alone) and the bounded table.
 *
 * Packets go through the flow and host modules, then to the module's
 * packet hook, as sensor.c does (modharness.h; home net 10.0.0.0/8).
 */
#include <stdlib.h>

#include "t.h"
#include "icmpmon.h"
#include "modharness.h"

/* ---- payloads ------------------------------------------------------------- */

static void
linux_ping(uint8_t *b, size_t n, int ts_len)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(ts_len == 8 ? i + 8 : i);	/* pcapgen: 0x10 at 8; iputils: 0x10 at 16 */
	for (int i = 0; i < ts_len && (size_t)i < n; i++)
		b[i] = (uint8_t)(0x65 + i * 7);
}

static void
random_bytes(uint8_t *b, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		b[i] = (uint8_t)x;
	}
}

static void
test_icmpmon_ping_patterns_are_usual(void)
{
	uint8_t b[1500];
	const char *win = "abcdefghijklmnopqrstuvwabcdefghi";

	linux_ping(b, 56, 8);
	CHECK(icmpmon_ping_pattern(b, 56));
	linux_ping(b, 56, 16);
	CHECK(icmpmon_ping_pattern(b, 56));
	linux_ping(b, 1472, 16);	/* ping -s 1472: big but patterned */
	CHECK(icmpmon_ping_pattern(b, 1472));
	CHECK(icmpmon_ping_pattern((const uint8_t *)win, 32));
	memset(b, 0, 64);
	CHECK(icmpmon_ping_pattern(b, 64));	/* fping, zeroes */
	for (int i = 16; i < 100; i++)
		b[i] = "\xde\xad\xbe\xef"[i % 4];	/* ping -p deadbeef */
	CHECK(icmpmon_ping_pattern(b, 100));
	CHECK(icmpmon_ping_pattern(NULL, 0));
	random_bytes(b, 8, 1);
	CHECK(icmpmon_ping_pattern(b, 8));	/* a bare timestamp */
}

static void
test_icmpmon_data_payloads_are_odd(void)
{
	uint8_t b[1500];

	random_bytes(b, 1024, 7);
	CHECK(!icmpmon_ping_pattern(b, 1024));
	linux_ping(b, 56, 16);
	b[40] ^= 0x55;	/* one byte off the counter */
	CHECK(!icmpmon_ping_pattern(b, 56));
	memcpy(b, "\xd5\x20\x08\x80", 4);	/* a ptunnel-ng header, then text */
	memset(b + 4, 0, 24);
	memcpy(b + 28, "GET /customers.csv.gz HTTP/1.1\r\n", 32);
	CHECK(!icmpmon_ping_pattern(b, 60));
}

/* ---- the module under rules ---------------------------------------------- */

#define SETUP(h, rules, pairs) MH_SETUP(h, rules, icmpmon, \
	(h)->cfg.max_icmp_pairs = (pairs), (h)->env.seed = 9)

/* One ICMP packet of type 'type' with payload b[0..n). */
static void
icmp_send(struct mh *h, const char *src, const char *dst, uint8_t type, const uint8_t *b, size_t n,
    uint64_t ts)
{
	struct pkt p = pb_udp(src, 0, dst, 0, (uint32_t)n, ts);

	p.l4_proto = IPPROTO_ICMP;
	p.icmp_type = type;
	p.payload = b;
	p.payload_caplen = (uint32_t)n;
	mh_pkt(h, &p);
}

static struct icmpmon_stats
istats(struct mh *h)
{
	struct icmpmon_stats st;

	icmpmon_get_stats(h->mod[0], &st);
	return st;
}

#define R_TUN \
	"rule t {\n category icmp-tunnel\n when icmp.out.bytes[10min] > 999 and icmp.odd.packets[10min] > 4\n" \
	" severity high\n message \"{src_ip} {dest_ip} {icmp.out.bytes}\"\n}\n"

/* n echo requests of random payload, sizes[i] bytes each. */
static void
send_odd(struct mh *h, const size_t *sizes, int n)
{
	uint8_t b[1500];

	for (int i = 0; i < n; i++) {
		random_bytes(b, sizes[i], (uint64_t)i + 3);
		icmp_send(h, "10.0.0.42", "198.51.100.99", 8, b, sizes[i], PB_T0 + (uint64_t)i * PB_SEC);
	}
	mh_tick(h, PB_T0, PB_T0 + 30 * PB_SEC);
}

static void
test_icmpmon_tunnel_rule_fires_above_both_thresholds_only(void)
{
	struct mh h;
	const size_t five_1000[] = { 200, 200, 200, 200, 200 };	/* 1000 B, 5 odd */
	const size_t five_999[] = { 200, 200, 200, 200, 199 };		/* 999 B */
	const size_t four_big[] = { 400, 400, 400, 400 };		/* 1600 B, 4 odd */

	SETUP(&h, R_TUN, 64);
	send_odd(&h, five_1000, 5);
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1) {
		CHECK_EQ_S(h.rec[0].src, "10.0.0.42");
		CHECK_EQ_S(h.rec[0].dest, "198.51.100.99");
		CHECK_EQ_U(h.rec[0].bytes_out, 1000);
		CHECK(strstr(h.rec[0].extra, "\"odd_packets\":5") != NULL);
	}
	mh_free(&h);

	SETUP(&h, R_TUN, 64);
	send_odd(&h, five_999, 5);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);

	SETUP(&h, R_TUN, 64);
	send_odd(&h, four_big, 4);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

static void
test_icmpmon_big_patterned_pings_do_not_fire(void)
{
	struct mh h;
	uint8_t b[1500];

	SETUP(&h, R_TUN, 64);
	linux_ping(b, 1400, 16);
	for (int i = 0; i < 50; i++)
		icmp_send(&h, "10.0.0.42", "198.51.100.99", 8, b, 1400, PB_T0 + (uint64_t)i * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 60 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	CHECK_EQ_U(istats(&h).odd_packets, 0);
	mh_free(&h);
}

#define R_ENC \
	"rule e {\n category icmp-tunnel\n when icmp.odd.packets[10min] > 9 and icmp.entropy > 6\n" \
	" severity medium\n message \"{src_ip}\"\n}\n"

static void
test_icmpmon_encoded_rule_fires_at_threshold_not_below(void)
{
	struct mh h;
	size_t sz[10];

	for (int i = 0; i < 10; i++)
		sz[i] = 512;
	SETUP(&h, R_ENC, 64);
	send_odd(&h, sz, 10);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
	SETUP(&h, R_ENC, 64);
	send_odd(&h, sz, 9);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

static void
test_icmpmon_directions_and_internal_pairs(void)
{
	struct mh h;
	uint8_t b[600];

	SETUP(&h, R_TUN, 64);
	random_bytes(b, 500, 5);
	/* An external host pinging us: "in" for the internal host, never "out". */
	for (int i = 0; i < 10; i++)
		icmp_send(&h, "198.51.100.7", "10.0.0.42", 8, b, 500, PB_T0 + (uint64_t)i * PB_SEC);
	/* Two internal hosts: not a pair (tunnels leave the network). */
	for (int i = 0; i < 10; i++)
		icmp_send(&h, "10.0.0.42", "10.0.0.43", 8, b, 500, PB_T0 + (uint64_t)i * PB_SEC);
	/* Destination unreachable carries a packet, not a tunnel. */
	icmp_send(&h, "10.0.0.42", "198.51.100.99", 3, b, 500, PB_T0);
	mh_tick(&h, PB_T0, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	CHECK_EQ_U(istats(&h).pairs, 1);
	CHECK_EQ_U(istats(&h).echo_packets, 10);
	mh_free(&h);
}

static void
test_icmpmon_pair_cap_evicts_lightest_stale_and_counts(void)
{
	struct mh h;
	uint8_t b[1100];
	const size_t heavy[] = { 1000, 1000, 1000, 1000, 1000, 1000 };

	SETUP(&h, R_TUN, 16);
	random_bytes(b, 1000, 9);
	/* The tunnel first, then pings to 40 other peers push the table. */
	for (int i = 0; i < 6; i++)
		icmp_send(&h, "10.0.0.42", "198.51.100.99", 8, b, heavy[i], PB_T0 + (uint64_t)i * 1000);
	for (int i = 0; i < 40; i++) {
		char peer[32];
		uint8_t ping[56];
		linux_ping(ping, 56, 16);
		snprintf(peer, sizeof peer, "203.0.113.%d", i + 1);
		icmp_send(&h, "10.0.0.50", peer, 8, ping, 56, PB_T0 + PB_SEC + (uint64_t)i * 1000);
	}
	CHECK_EQ_U(istats(&h).pairs, 16);
	CHECK_EQ_U(istats(&h).capacity, 16);
	CHECK_EQ_U(istats(&h).evicted, 25);
	mh_tick(&h, PB_T0, PB_T0 + 2 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);	/* the heavy pair survived the churn */
	mh_free(&h);
}

T_MAIN("icmpmon",
    T(test_icmpmon_ping_patterns_are_usual),
    T(test_icmpmon_data_payloads_are_odd),
    T(test_icmpmon_tunnel_rule_fires_above_both_thresholds_only),
    T(test_icmpmon_big_patterned_pings_do_not_fire),
    T(test_icmpmon_encoded_rule_fires_at_threshold_not_below),
    T(test_icmpmon_directions_and_internal_pairs),
    T(test_icmpmon_pair_cap_evicts_lightest_stale_and_counts))
