/*
 * test_icmpmon - the ICMP tunnel detector: which payloads are ping
 * patterns, the rules firing at their thresholds and not just below,
 * direction (out/in, internal pairs left alone) and the bounded table.
 *
 * Packets go through the flow and host modules (pktbuild.h; home net
 * 10.0.0.0/8), then to the module's packet hook, as sensor.c does.
 */
#include <stdlib.h>

#include "t.h"
#include "detect.h"
#include "icmpmon.h"
#include "pktbuild.h"
#include "sensor.h"

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

#define MAX_REC 16

struct rec {
	size_t n;
	struct {
		char rule[RULE_NAME_MAX];
		char src[ADDR_STRLEN], dest[ADDR_STRLEN];
		char extra[ALERT_EXTRA_MAX];
		uint64_t bytes_out;
	} a[MAX_REC];
};

struct it {
	struct pb_net n;
	struct dpi *dpi;
	struct ruleset *rs;
	struct detect *d;
	void *mod;
	struct sensor_config cfg;
	struct rec rec;
};

static void
on_alert(void *ctx, const struct alert *a)
{
	struct rec *r = ctx;

	if (r->n >= MAX_REC)
		return;
	snprintf(r->a[r->n].rule, sizeof r->a[r->n].rule, "%s", a->rule->name);
	addr_fmt(&a->src, r->a[r->n].src, sizeof r->a[r->n].src);
	if (a->ndests > 0)
		addr_fmt(&a->dests[0].ip, r->a[r->n].dest, sizeof r->a[r->n].dest);
	snprintf(r->a[r->n].extra, sizeof r->a[r->n].extra, "%s", a->extra);
	r->a[r->n].bytes_out = a->bytes_out;
	r->n++;
}

static int
it_init(struct it *t, const char *rules, size_t pairs)
{
	struct rules_errors errs = { 0 };
	char err[256];
	struct detect_config dc = { .sensor_name = "t", .max_engaged = 64, .run_id = 1, .seed = 3 };
	struct detector_env env;

	memset(t, 0, sizeof *t);
	sensor_config_defaults(&t->cfg);
	t->cfg.max_icmp_pairs = pairs;
	if (pb_net_init(&t->n, 4096, 256, 1024) != 0)
		return -1;
	memset(&env, 0, sizeof env);
	env.cfg = &t->cfg;
	env.state_dirfd = -1;
	env.hosts = t->n.hosts;
	env.home = t->n.home;
	env.seed = 9;
	if (rules_parse(rules, strlen(rules), "t.rules", NULL, 0, &t->rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
		rules_errors_free(&errs);
		return -1;
	}
	if ((t->dpi = dpi_new(err, sizeof err)) == NULL ||
	    (t->mod = icmpmon_new(&env, err, sizeof err)) == NULL ||
	    (t->d = detect_new(&dc, t->dpi, on_alert, &t->rec, err, sizeof err)) == NULL)
		return fprintf(stderr, "  %s\n", err), -1;
	detect_register(t->d, &icmpmon_ops, t->mod);
	if (detect_set_rules(t->d, t->rs, err, sizeof err) != 0)
		return fprintf(stderr, "  %s\n", err), -1;
	return 0;
}

static void
it_free(struct it *t)
{
	detect_free(t->d);
	if (t->mod)
		icmpmon_ops.free(t->mod);
	dpi_free(t->dpi);
	ruleset_free(t->rs);
	pb_net_free(&t->n);
}

#define IT_INIT(t, rules, pairs) do { if (it_init(t, rules, pairs) != 0) { \
	CHECK(!"it_init"); it_free(t); return; } } while (0)

/* One ICMP packet of type 'type' with payload b[0..n). */
static void
icmp_send(struct it *t, const char *src, const char *dst, uint8_t type, const uint8_t *b, size_t n,
    uint64_t ts)
{
	struct pkt p = pb_udp(src, 0, dst, 0, (uint32_t)n, ts);
	int dir;

	p.l4_proto = IPPROTO_ICMP;
	p.icmp_type = type;
	p.payload = b;
	p.payload_caplen = (uint32_t)n;
	struct flow *f = flow_table_get(t->n.flows, &p, &dir);
	if (f->pkts[0] + f->pkts[1] == 0) {
		f->init_internal = (uint8_t)netset_contains(t->n.home, flow_initiator(f, NULL));
		f->resp_internal = (uint8_t)netset_contains(t->n.home, flow_responder(f, NULL));
	}
	flow_account(t->n.flows, f, &p, dir);
	if (f->init_internal || f->resp_internal) {
		host_account(t->n.hosts, f, dir, &p);
		icmpmon_ops.packet(t->mod, f, dir, &p);
	}
}

static struct icmpmon_stats
istats(struct it *t)
{
	struct icmpmon_stats st;

	icmpmon_get_stats(t->mod, &st);
	return st;
}

#define R_TUN \
	"rule t {\n category icmp-tunnel\n when icmp.out.bytes[10min] > 999 and icmp.odd.packets[10min] > 4\n" \
	" severity high\n message \"{src_ip} {dest_ip} {icmp.out.bytes}\"\n}\n"

/* n echo requests of random payload, sizes[i] bytes each. */
static void
send_odd(struct it *t, const size_t *sizes, int n)
{
	uint8_t b[1500];

	for (int i = 0; i < n; i++) {
		random_bytes(b, sizes[i], (uint64_t)i + 3);
		icmp_send(t, "10.0.0.42", "198.51.100.99", 8, b, sizes[i], PB_T0 + (uint64_t)i * PB_SEC);
	}
	detect_tick(t->d, t->n.hosts, PB_T0, PB_T0 + 30 * PB_SEC);
}

static void
test_icmpmon_tunnel_rule_fires_above_both_thresholds_only(void)
{
	struct it t;
	const size_t five_1000[] = { 200, 200, 200, 200, 200 };	/* 1000 B, 5 odd */
	const size_t five_999[] = { 200, 200, 200, 200, 199 };		/* 999 B */
	const size_t four_big[] = { 400, 400, 400, 400 };		/* 1600 B, 4 odd */

	IT_INIT(&t, R_TUN, 64);
	send_odd(&t, five_1000, 5);
	CHECK_EQ_U(t.rec.n, 1);
	if (t.rec.n == 1) {
		CHECK_EQ_S(t.rec.a[0].src, "10.0.0.42");
		CHECK_EQ_S(t.rec.a[0].dest, "198.51.100.99");
		CHECK_EQ_U(t.rec.a[0].bytes_out, 1000);
		CHECK(strstr(t.rec.a[0].extra, "\"odd_packets\":5") != NULL);
	}
	it_free(&t);

	IT_INIT(&t, R_TUN, 64);
	send_odd(&t, five_999, 5);
	CHECK_EQ_U(t.rec.n, 0);
	it_free(&t);

	IT_INIT(&t, R_TUN, 64);
	send_odd(&t, four_big, 4);
	CHECK_EQ_U(t.rec.n, 0);
	it_free(&t);
}

static void
test_icmpmon_big_patterned_pings_do_not_fire(void)
{
	struct it t;
	uint8_t b[1500];

	IT_INIT(&t, R_TUN, 64);
	linux_ping(b, 1400, 16);
	for (int i = 0; i < 50; i++)
		icmp_send(&t, "10.0.0.42", "198.51.100.99", 8, b, 1400, PB_T0 + (uint64_t)i * PB_SEC);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0 + 60 * PB_SEC);
	CHECK_EQ_U(t.rec.n, 0);
	CHECK_EQ_U(istats(&t).odd_packets, 0);
	it_free(&t);
}

#define R_ENC \
	"rule e {\n category icmp-tunnel\n when icmp.odd.packets[10min] > 9 and icmp.entropy > 6\n" \
	" severity medium\n message \"{src_ip}\"\n}\n"

static void
test_icmpmon_encoded_rule_fires_at_threshold_not_below(void)
{
	struct it t;
	size_t sz[10];

	for (int i = 0; i < 10; i++)
		sz[i] = 512;
	IT_INIT(&t, R_ENC, 64);
	send_odd(&t, sz, 10);
	CHECK_EQ_U(t.rec.n, 1);
	it_free(&t);
	IT_INIT(&t, R_ENC, 64);
	send_odd(&t, sz, 9);
	CHECK_EQ_U(t.rec.n, 0);
	it_free(&t);
}

static void
test_icmpmon_directions_and_internal_pairs(void)
{
	struct it t;
	uint8_t b[600];

	IT_INIT(&t, R_TUN, 64);
	random_bytes(b, 500, 5);
	/* An external host pinging us: "in" for the internal host, never "out". */
	for (int i = 0; i < 10; i++)
		icmp_send(&t, "198.51.100.7", "10.0.0.42", 8, b, 500, PB_T0 + (uint64_t)i * PB_SEC);
	/* Two internal hosts: not a pair (tunnels leave the network). */
	for (int i = 0; i < 10; i++)
		icmp_send(&t, "10.0.0.42", "10.0.0.43", 8, b, 500, PB_T0 + (uint64_t)i * PB_SEC);
	/* Destination unreachable carries a packet, not a tunnel. */
	icmp_send(&t, "10.0.0.42", "198.51.100.99", 3, b, 500, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(t.rec.n, 0);
	CHECK_EQ_U(istats(&t).pairs, 1);
	CHECK_EQ_U(istats(&t).echo_packets, 10);
	it_free(&t);
}

static void
test_icmpmon_pair_cap_evicts_lightest_stale_and_counts(void)
{
	struct it t;
	uint8_t b[1100];
	const size_t heavy[] = { 1000, 1000, 1000, 1000, 1000, 1000 };

	IT_INIT(&t, R_TUN, 16);
	random_bytes(b, 1000, 9);
	/* The tunnel first, then pings to 40 other peers push the table. */
	for (int i = 0; i < 6; i++)
		icmp_send(&t, "10.0.0.42", "198.51.100.99", 8, b, heavy[i], PB_T0 + (uint64_t)i * 1000);
	for (int i = 0; i < 40; i++) {
		char peer[32];
		uint8_t ping[56];
		linux_ping(ping, 56, 16);
		snprintf(peer, sizeof peer, "203.0.113.%d", i + 1);
		icmp_send(&t, "10.0.0.50", peer, 8, ping, 56, PB_T0 + PB_SEC + (uint64_t)i * 1000);
	}
	CHECK_EQ_U(istats(&t).pairs, 16);
	CHECK_EQ_U(istats(&t).capacity, 16);
	CHECK_EQ_U(istats(&t).evicted, 25);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0 + 2 * PB_SEC);
	CHECK_EQ_U(t.rec.n, 1);	/* the heavy pair survived the churn */
	it_free(&t);
}

T_MAIN("icmpmon",
    T(test_icmpmon_ping_patterns_are_usual),
    T(test_icmpmon_data_payloads_are_odd),
    T(test_icmpmon_tunnel_rule_fires_above_both_thresholds_only),
    T(test_icmpmon_big_patterned_pings_do_not_fire),
    T(test_icmpmon_encoded_rule_fires_at_threshold_not_below),
    T(test_icmpmon_directions_and_internal_pairs),
    T(test_icmpmon_pair_cap_evicts_lightest_stale_and_counts))
