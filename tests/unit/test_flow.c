/*
 * test_flow - the bidirectional flow table: canonical key and direction,
 * initiator detection, per-direction counters, TCP close, timeouts per
 * class on packet time, eviction when full, and shutdown.
 *
 * Packets are struct pkt filled by hand (pktbuild.h); the end callback
 * records every flow the table removes and why, so each test can say
 * exactly which flows ended, in which order, for which reason.
 */
#include "t.h"
#include "flow.h"
#include "pktbuild.h"

#define MAX_ENDS 64

struct ends {
	size_t n;
	enum flow_end why[MAX_ENDS];
	uint16_t port[MAX_ENDS];	/* initiator's port, to tell flows apart */
	uint64_t pkts[MAX_ENDS];
};

static void
on_end(void *ctx, struct flow *f, enum flow_end why)
{
	struct ends *e = ctx;

	if (e->n < MAX_ENDS) {
		flow_initiator(f, &e->port[e->n]);
		e->pkts[e->n] = f->pkts[0] + f->pkts[1];
		e->why[e->n++] = why;
	}
}

static struct flow_table *
mk(size_t cap, struct ends *e)
{
	char err[128];
	struct flow_config c = {
		.capacity = cap,
		.timeout_s = { [FLOW_TC_TCP_OPEN] = 300, [FLOW_TC_TCP_CLOSED] = 10,
		    [FLOW_TC_UDP] = 60, [FLOW_TC_OTHER] = 30 },
		.seed = 42,
	};

	memset(e, 0, sizeof *e);
	return flow_table_new(&c, on_end, e, err, sizeof err);
}

/* flow_table_get + flow_account, as the sensor does per packet. */
static struct flow *
feed(struct flow_table *t, const struct pkt *p, int *dir)
{
	int d;
	struct flow *f = flow_table_get(t, p, &d);

	flow_account(t, f, p, d);
	if (dir)
		*dir = d;
	return f;
}

static int
is_addr(const struct ip_addr *a, const char *s)
{
	struct ip_addr b = pb_ip(s);

	return addr_eq(a, &b);
}

static void
test_flow_both_directions_map_to_one_flow_initiator_from_syn(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	/* The client is the "hi" end of the canonical key (init_is_lo 0). */
	struct pkt syn = pb_tcp("203.0.113.9", 50000, "10.0.0.5", 443, PB_SYN, 0, PB_T0);
	int dir;

	struct pkt synack = pb_tcp("10.0.0.5", 443, "203.0.113.9", 50000, PB_SYN | PB_ACK, 0, PB_T0 + 1000);
	struct pkt ack = pb_tcp("203.0.113.9", 50000, "10.0.0.5", 443, PB_ACK, 0, PB_T0 + 2000);
	struct flow *f = feed(t, &syn, &dir);
	CHECK_EQ_U(dir, FLOW_DIR_FWD);
	CHECK(feed(t, &synack, &dir) == f);
	CHECK_EQ_U(dir, FLOW_DIR_REV);
	CHECK(feed(t, &ack, &dir) == f);
	CHECK_EQ_U(dir, FLOW_DIR_FWD);
	uint16_t ip, rp;
	CHECK(is_addr(flow_initiator(f, &ip), "203.0.113.9"));
	CHECK(is_addr(flow_responder(f, &rp), "10.0.0.5"));
	CHECK_EQ_U(ip, 50000);
	CHECK_EQ_U(rp, 443);
	CHECK_EQ_U(f->pkts[FLOW_DIR_FWD], 2);
	CHECK_EQ_U(f->pkts[FLOW_DIR_REV], 1);
	CHECK_EQ_U(f->first_us, PB_T0);
	CHECK_EQ_U(f->last_us, PB_T0 + 2000);
	CHECK_EQ_U(f->tcp_flags[FLOW_DIR_REV], PB_SYN | PB_ACK);
	struct flow_stats st;
	flow_table_stats(t, &st);
	CHECK_EQ_U(st.created, 1);
	CHECK_EQ_U(st.active, 1);
	CHECK_EQ_U(st.capacity, 16);
	flow_table_free(t);
	CHECK_EQ_U(e.n, 1);
	CHECK_EQ_U(e.why[0], FLOW_END_SHUTDOWN);
}

static void
test_flow_synack_first_marks_sender_as_responder(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	struct pkt synack = pb_tcp("10.0.0.5", 8080, "198.51.100.7", 40000, PB_SYN | PB_ACK, 0, PB_T0);
	int dir;
	uint16_t port;
	struct flow *f = feed(t, &synack, &dir);

	CHECK_EQ_U(dir, FLOW_DIR_REV);
	CHECK(is_addr(flow_initiator(f, &port), "198.51.100.7"));
	CHECK_EQ_U(port, 40000);
	CHECK(is_addr(flow_responder(f, &port), "10.0.0.5"));
	CHECK_EQ_U(port, 8080);
	/* A mid-stream packet from a service port (< 1024) to a client port, too. */
	struct pkt mid = pb_tcp("192.0.2.1", 22, "10.0.0.6", 51000, PB_ACK, 100, PB_T0);
	f = feed(t, &mid, &dir);
	CHECK_EQ_U(dir, FLOW_DIR_REV);
	CHECK(is_addr(flow_initiator(f, NULL), "10.0.0.6"));
	/* But a pure SYN always names its sender, whatever the ports. */
	struct pkt syn = pb_tcp("192.0.2.1", 22, "10.0.0.6", 51001, PB_SYN, 0, PB_T0);
	f = feed(t, &syn, &dir);
	CHECK_EQ_U(dir, FLOW_DIR_FWD);
	CHECK(is_addr(flow_initiator(f, NULL), "192.0.2.1"));
	flow_table_free(t);
}

static void
test_flow_udp_reply_from_port_53_first_initiator_is_client(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	struct pkt reply = pb_udp("8.8.8.8", 53, "10.0.0.5", 33333, 80, PB_T0);
	struct pkt query = pb_udp("10.0.0.5", 33333, "8.8.8.8", 53, 40, PB_T0 + 10);
	int dir;
	uint16_t port;
	struct flow *f = feed(t, &reply, &dir);

	CHECK_EQ_U(dir, FLOW_DIR_REV);
	CHECK(is_addr(flow_initiator(f, &port), "10.0.0.5"));
	CHECK_EQ_U(port, 33333);
	CHECK(feed(t, &query, &dir) == f);
	CHECK_EQ_U(dir, FLOW_DIR_FWD);
	CHECK_EQ_U(f->payload_bytes[FLOW_DIR_FWD], 40);
	CHECK_EQ_U(f->payload_bytes[FLOW_DIR_REV], 80);
	/* Both ports high (or both low): the first sender is the initiator. */
	struct pkt p2p = pb_udp("10.0.0.9", 40000, "192.0.2.4", 50000, 10, PB_T0);
	f = feed(t, &p2p, &dir);
	CHECK_EQ_U(dir, FLOW_DIR_FWD);
	CHECK(is_addr(flow_initiator(f, NULL), "10.0.0.9"));
	struct pkt ntp = pb_udp("192.0.2.4", 123, "10.0.0.9", 123, 48, PB_T0);
	f = feed(t, &ntp, &dir);
	CHECK(is_addr(flow_initiator(f, NULL), "192.0.2.4"));
	flow_table_free(t);
}

static void
test_flow_icmp_echo_reply_first_marks_sender_as_responder(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	struct pkt rep = pb_udp("192.0.2.1", 0, "10.0.0.5", 0, 56, PB_T0);
	int dir;

	rep.l4_proto = IPPROTO_ICMP;
	rep.icmp_type = 0;
	struct flow *f = feed(t, &rep, &dir);
	CHECK_EQ_U(dir, FLOW_DIR_REV);
	CHECK(is_addr(flow_initiator(f, NULL), "10.0.0.5"));
	CHECK_EQ_U(f->node.list, FLOW_TC_OTHER);
	struct pkt rep6 = pb_udp("2001:db8::1", 0, "fd00::5", 0, 56, PB_T0);
	rep6.l4_proto = IPPROTO_ICMPV6;
	rep6.icmp_type = 129;
	f = feed(t, &rep6, &dir);
	CHECK_EQ_U(dir, FLOW_DIR_REV);
	CHECK(is_addr(flow_initiator(f, NULL), "fd00::5"));
	flow_table_free(t);
}

static void
test_flow_counters_use_header_lengths_not_caplen(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	struct pkt up = pb_tcp("10.0.0.5", 50000, "192.0.2.80", 443, PB_ACK | PB_PSH, 1400, PB_T0);
	struct pkt down = pb_tcp("192.0.2.80", 443, "10.0.0.5", 50000, PB_ACK, 0, PB_T0 + 5);
	struct pkt syn = pb_tcp("10.0.0.5", 50000, "192.0.2.80", 443, PB_SYN, 0, PB_T0 - 5);

	feed(t, &syn, NULL);
	CHECK(up.caplen == 96);	/* sliced: caplen says nothing about volume */
	for (int i = 0; i < 10; i++)
		feed(t, &up, NULL);
	struct flow *f = feed(t, &down, NULL);
	CHECK_EQ_U(f->pkts[FLOW_DIR_FWD], 11);
	CHECK_EQ_U(f->pkts[FLOW_DIR_REV], 1);
	CHECK_EQ_U(f->payload_bytes[FLOW_DIR_FWD], 14000);
	CHECK_EQ_U(f->payload_bytes[FLOW_DIR_REV], 0);
	CHECK_EQ_U(f->ip_bytes[FLOW_DIR_FWD], 10 * 1440 + 40);
	CHECK_EQ_U(f->ip_bytes[FLOW_DIR_REV], 40);
	/* A later IP fragment has no L4 header: its bytes after IP count. */
	struct pkt frag = up;
	frag.frag = PKT_FRAG_LATER;
	frag.payload_len = 0;
	frag.l4_len = 1480;
	frag.ip_len = 1500;
	feed(t, &frag, NULL);
	CHECK_EQ_U(f->payload_bytes[FLOW_DIR_FWD], 14000 + 1480);
	CHECK_EQ_U(f->ip_bytes[FLOW_DIR_FWD], 10 * 1440 + 40 + 1500);
	flow_table_free(t);
}

static void
test_flow_fin_both_ways_moves_to_closed_class_and_expires_after_linger(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	uint64_t ts = PB_T0;
	struct pkt p = pb_tcp("10.0.0.5", 50000, "192.0.2.80", 443, PB_SYN, 0, ts);
	struct flow *f = feed(t, &p, NULL);

	p = pb_tcp("10.0.0.5", 50000, "192.0.2.80", 443, PB_FIN | PB_ACK, 0, ts);
	feed(t, &p, NULL);
	CHECK_EQ_U(f->node.list, FLOW_TC_TCP_OPEN);	/* one FIN: half-closed, still open */
	p = pb_tcp("192.0.2.80", 443, "10.0.0.5", 50000, PB_FIN | PB_ACK, 0, ts);
	feed(t, &p, NULL);
	CHECK_EQ_U(f->node.list, FLOW_TC_TCP_CLOSED);
	CHECK_EQ_U(f->fin_seen, 3);
	flow_table_expire(t, ts + 9 * PB_SEC);
	CHECK_EQ_U(e.n, 0);
	flow_table_expire(t, ts + 10 * PB_SEC);
	CHECK_EQ_U(e.n, 1);
	CHECK_EQ_U(e.why[0], FLOW_END_CLOSED);
	struct flow_stats st;
	flow_table_stats(t, &st);
	CHECK_EQ_U(st.closed, 1);
	CHECK_EQ_U(st.active, 0);
	flow_table_free(t);
	CHECK_EQ_U(e.n, 1);
}

static void
test_flow_rst_moves_to_closed_class(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	struct pkt p = pb_tcp("10.0.0.5", 50000, "192.0.2.80", 443, PB_SYN, 0, PB_T0);
	struct flow *f = feed(t, &p, NULL);
	struct pkt half = pb_tcp("10.0.0.5", 50001, "192.0.2.80", 443, PB_FIN | PB_ACK, 0, PB_T0);

	feed(t, &half, NULL);	/* only one FIN: stays in the open class */
	p = pb_tcp("192.0.2.80", 443, "10.0.0.5", 50000, PB_RST, 0, PB_T0 + PB_SEC);
	feed(t, &p, NULL);
	CHECK_EQ_U(f->node.list, FLOW_TC_TCP_CLOSED);
	flow_table_expire(t, PB_T0 + 11 * PB_SEC);
	CHECK_EQ_U(e.n, 1);
	CHECK_EQ_U(e.why[0], FLOW_END_CLOSED);
	CHECK_EQ_U(e.port[0], 50000);
	flow_table_expire(t, PB_T0 + 299 * PB_SEC);
	CHECK_EQ_U(e.n, 1);
	flow_table_expire(t, PB_T0 + 300 * PB_SEC);
	CHECK_EQ_U(e.n, 2);
	CHECK_EQ_U(e.why[1], FLOW_END_IDLE);
	CHECK_EQ_U(e.port[1], 50001);
	flow_table_free(t);
}

static void
test_flow_idle_expiry_per_class_on_packet_time(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	struct pkt tcp = pb_tcp("10.0.0.5", 1111, "192.0.2.80", 443, PB_SYN, 0, PB_T0);
	struct pkt udp = pb_udp("10.0.0.5", 2222, "192.0.2.53", 5353, 10, PB_T0);
	struct pkt icmp = pb_udp("10.0.0.5", 0, "192.0.2.1", 0, 56, PB_T0);

	icmp.l4_proto = IPPROTO_ICMP;
	icmp.icmp_type = 8;
	feed(t, &tcp, NULL);
	feed(t, &udp, NULL);
	feed(t, &icmp, NULL);
	flow_table_expire(t, PB_T0 + 29 * PB_SEC);
	CHECK_EQ_U(e.n, 0);
	flow_table_expire(t, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(e.n, 1);
	CHECK_EQ_U(e.port[0], 0);	/* ICMP */
	/* Traffic keeps a flow alive: the UDP flow seen again at +50 s. */
	udp.ts_us = PB_T0 + 50 * PB_SEC;
	feed(t, &udp, NULL);
	flow_table_expire(t, PB_T0 + 100 * PB_SEC);
	CHECK_EQ_U(e.n, 1);
	flow_table_expire(t, PB_T0 + 110 * PB_SEC);
	CHECK_EQ_U(e.n, 2);
	CHECK_EQ_U(e.port[1], 2222);
	CHECK_EQ_U(e.why[1], FLOW_END_IDLE);
	flow_table_expire(t, PB_T0 + 300 * PB_SEC);
	CHECK_EQ_U(e.n, 3);
	CHECK_EQ_U(e.port[2], 1111);
	/* Time comes from packets only: an older "now" changes nothing. */
	struct pkt late = pb_udp("10.0.0.5", 3333, "192.0.2.53", 53, 10, PB_T0);
	struct flow *f = feed(t, &late, NULL);
	CHECK_EQ_U(f->last_us, PB_T0 + 300 * PB_SEC);	/* clamped to the newest time */
	flow_table_expire(t, PB_T0);
	CHECK_EQ_U(e.n, 3);
	struct flow_stats st;
	flow_table_stats(t, &st);
	CHECK_EQ_U(st.expired_idle, 3);
	flow_table_free(t);
}

static void
test_flow_evicts_least_recently_seen_when_full(void)
{
	struct ends e;
	struct flow_table *t = mk(4, &e);
	struct pkt p[5];

	/* Flows in three classes, created 1 s apart. */
	p[0] = pb_tcp("10.0.0.5", 11000, "192.0.2.1", 443, PB_SYN, 0, PB_T0);
	p[1] = pb_udp("10.0.0.5", 11001, "192.0.2.1", 4000, 10, PB_T0 + 1 * PB_SEC);
	p[2] = pb_tcp("10.0.0.5", 11002, "192.0.2.1", 443, PB_SYN, 0, PB_T0 + 2 * PB_SEC);
	p[3] = pb_udp("10.0.0.5", 11003, "192.0.2.1", 4000, 10, PB_T0 + 3 * PB_SEC);
	p[4] = pb_tcp("10.0.0.5", 11004, "192.0.2.1", 443, PB_SYN, 0, PB_T0 + 5 * PB_SEC);
	for (int i = 0; i < 4; i++)
		feed(t, &p[i], NULL);
	/* Flow 11000 is seen again: now 11001 (UDP) is the least recently seen. */
	p[0].ts_us = PB_T0 + 4 * PB_SEC;
	p[0].tcp_flags = PB_ACK;
	feed(t, &p[0], NULL);
	CHECK_EQ_U(e.n, 0);
	feed(t, &p[4], NULL);
	CHECK_EQ_U(e.n, 1);
	CHECK_EQ_U(e.why[0], FLOW_END_EVICTED);
	CHECK_EQ_U(e.port[0], 11001);
	CHECK_EQ_U(e.pkts[0], 1);
	/* Next victim: 11002 (TCP), older than 11003 (UDP). */
	struct pkt p5 = pb_udp("10.0.0.5", 11005, "192.0.2.1", 4000, 10, PB_T0 + 6 * PB_SEC);
	feed(t, &p5, NULL);
	CHECK_EQ_U(e.n, 2);
	CHECK_EQ_U(e.port[1], 11002);
	struct flow_stats st;
	flow_table_stats(t, &st);
	CHECK_EQ_U(st.evicted, 2);
	CHECK_EQ_U(st.created, 6);
	CHECK_EQ_U(st.active, 4);
	flow_table_free(t);
	CHECK_EQ_U(e.n, 6);
	for (size_t i = 2; i < e.n; i++)
		CHECK_EQ_U(e.why[i], FLOW_END_SHUTDOWN);
}

static void
test_flow_new_syn_on_closed_tuple_starts_new_flow(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	struct pkt syn = pb_tcp("10.0.0.5", 50000, "192.0.2.80", 443, PB_SYN, 0, PB_T0);
	struct pkt data = pb_tcp("10.0.0.5", 50000, "192.0.2.80", 443, PB_ACK, 500, PB_T0);
	struct pkt rst = pb_tcp("192.0.2.80", 443, "10.0.0.5", 50000, PB_RST, 0, PB_T0);

	feed(t, &syn, NULL);
	feed(t, &data, NULL);
	feed(t, &rst, NULL);
	/* A non-SYN packet on the closed flow still belongs to it. */
	struct flow *f = feed(t, &data, NULL);
	CHECK_EQ_U(f->pkts[FLOW_DIR_FWD], 3);
	CHECK_EQ_U(e.n, 0);
	/* The client reuses the port: the old flow ends, a fresh one starts. */
	syn.ts_us = PB_T0 + PB_SEC;
	f = feed(t, &syn, NULL);
	CHECK_EQ_U(e.n, 1);
	CHECK_EQ_U(e.why[0], FLOW_END_CLOSED);
	CHECK_EQ_U(e.pkts[0], 4);
	CHECK_EQ_U(f->pkts[FLOW_DIR_FWD], 1);
	CHECK_EQ_U(f->payload_bytes[FLOW_DIR_FWD], 0);
	CHECK_EQ_U(f->node.list, FLOW_TC_TCP_OPEN);
	CHECK_EQ_U(f->first_us, PB_T0 + PB_SEC);
	/* A SYN on an open flow (retransmission) does not split it. */
	CHECK(feed(t, &syn, NULL) == f);
	CHECK_EQ_U(f->pkts[FLOW_DIR_FWD], 2);
	struct flow_stats st;
	flow_table_stats(t, &st);
	CHECK_EQ_U(st.created, 2);
	CHECK_EQ_U(st.active, 1);
	flow_table_free(t);
}

static void
test_flow_vlan_separates_flows(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	struct pkt a = pb_tcp("10.0.0.5", 50000, "192.0.2.80", 443, PB_SYN, 0, PB_T0);
	struct pkt b = a;
	int dir;

	b.vlan = 100;
	struct flow *fa = feed(t, &a, NULL), *fb = feed(t, &b, NULL);
	CHECK(fa != fb);
	CHECK_EQ_U(fb->key.vlan, 100);
	struct pkt rb = pb_tcp("192.0.2.80", 443, "10.0.0.5", 50000, PB_SYN | PB_ACK, 0, PB_T0);
	rb.vlan = 100;
	CHECK(feed(t, &rb, &dir) == fb);
	CHECK_EQ_U(dir, FLOW_DIR_REV);
	CHECK_EQ_U(fa->pkts[FLOW_DIR_REV], 0);
	/* Protocol separates too: UDP on the same ports is another flow. */
	struct pkt u = pb_udp("10.0.0.5", 50000, "192.0.2.80", 443, 10, PB_T0);
	CHECK(feed(t, &u, NULL) != fa);
	struct flow_stats st;
	flow_table_stats(t, &st);
	CHECK_EQ_U(st.active, 3);
	flow_table_free(t);
}

static void
test_flow_ipv6_and_same_address_ends(void)
{
	struct ends e;
	struct flow_table *t = mk(16, &e);
	struct pkt a = pb_tcp("2001:db8::2", 443, "fd00::1", 40000, PB_SYN | PB_ACK, 0, PB_T0);
	int dir;
	struct flow *f = feed(t, &a, &dir);

	CHECK_EQ_U(dir, FLOW_DIR_REV);
	CHECK(is_addr(flow_initiator(f, NULL), "fd00::1"));
	/* Loopback-style flow: both ends one address, ports order the key. */
	struct pkt l1 = pb_tcp("10.0.0.1", 6000, "10.0.0.1", 5000, PB_SYN, 0, PB_T0);
	struct pkt l2 = pb_tcp("10.0.0.1", 5000, "10.0.0.1", 6000, PB_SYN | PB_ACK, 0, PB_T0);
	f = feed(t, &l1, &dir);
	CHECK_EQ_U(dir, FLOW_DIR_FWD);
	CHECK(feed(t, &l2, &dir) == f);
	CHECK_EQ_U(dir, FLOW_DIR_REV);
	uint16_t port;
	flow_initiator(f, &port);
	CHECK_EQ_U(port, 6000);
	flow_table_free(t);
}

static void
count_flow(void *ctx, struct flow *f)
{
	(void)f;
	(*(size_t *)ctx)++;
}

static void
test_flow_shutdown_ends_every_flow_via_callback(void)
{
	struct ends e;
	struct flow_table *t = mk(64, &e);
	size_t seen = 0;

	for (uint16_t i = 0; i < 40; i++) {
		struct pkt p = i % 2 ? pb_tcp("10.0.0.5", (uint16_t)(2000 + i), "192.0.2.1", 443, PB_SYN, 0, PB_T0)
		    : pb_udp("10.0.0.5", (uint16_t)(2000 + i), "192.0.2.1", 4000, 1, PB_T0);
		feed(t, &p, NULL);
	}
	struct pkt rst = pb_tcp("10.0.0.5", 2001, "192.0.2.1", 443, PB_RST, 0, PB_T0);
	feed(t, &rst, NULL);	/* one in the closed class too */
	flow_table_foreach(t, count_flow, &seen);
	CHECK_EQ_U(seen, 40);
	flow_table_free(t);
	CHECK_EQ_U(e.n, 40);
	for (size_t i = 0; i < e.n; i++)
		CHECK_EQ_U(e.why[i], FLOW_END_SHUTDOWN);
	flow_table_free(NULL);
}

static void
test_flow_table_new_rejects_zero_capacity(void)
{
	char err[128] = "";
	struct flow_config c = { .capacity = 0 };

	CHECK(flow_table_new(&c, on_end, NULL, err, sizeof err) == NULL);
	CHECK(strstr(err, "flow") != NULL);
}

T_MAIN("flow",
    T(test_flow_both_directions_map_to_one_flow_initiator_from_syn),
    T(test_flow_synack_first_marks_sender_as_responder),
    T(test_flow_udp_reply_from_port_53_first_initiator_is_client),
    T(test_flow_icmp_echo_reply_first_marks_sender_as_responder),
    T(test_flow_counters_use_header_lengths_not_caplen),
    T(test_flow_fin_both_ways_moves_to_closed_class_and_expires_after_linger),
    T(test_flow_rst_moves_to_closed_class),
    T(test_flow_idle_expiry_per_class_on_packet_time),
    T(test_flow_evicts_least_recently_seen_when_full),
    T(test_flow_new_syn_on_closed_tuple_starts_new_flow),
    T(test_flow_vlan_separates_flows),
    T(test_flow_ipv6_and_same_address_ends),
    T(test_flow_shutdown_ends_every_flow_via_callback),
    T(test_flow_table_new_rejects_zero_capacity))
