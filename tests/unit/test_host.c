/*
 * test_host - per-host and per-destination counters over sliding windows.
 *
 * Packets go through the flow table and host_account() as the sensor sends
 * them (pktbuild.h's pb_send), with home net 10.0.0.0/8 and fd00::/8. Times
 * are offsets from PB_T0, which is hour-aligned, so "minute k" below is
 * PB_T0 + k * PB_MIN. A window of W covers the current partial bucket and
 * the W-1 before it.
 */
#include "t.h"
#include "host.h"
#include "pktbuild.h"

#define HOST "10.0.0.5"
#define EXT "198.51.100.7"

/* The internal host sends bytes to an external peer over UDP (it initiates). */
static struct flow *
up(struct pb_net *n, const char *dst, uint32_t bytes, uint64_t ts)
{
	struct pkt p = pb_udp(HOST, 40000, dst, 5000, bytes, ts);

	return pb_send(n, &p);
}

static struct host *
hostof(struct pb_net *n, const char *a)
{
	struct ip_addr ip = pb_ip(a);

	return host_lookup(n->hosts, &ip);
}

static uint64_t
out(struct pb_net *n, uint32_t window_s, uint64_t now)
{
	struct host *h = hostof(n, HOST);

	return h ? host_window(h, HC_OUT, window_s, now) : 0;
}

static void
test_host_one_minute_window_counts_only_the_current_minute(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	up(&n, EXT, 100, PB_T0);
	up(&n, EXT, 200, PB_T0 + PB_MIN - 1);	/* last microsecond of minute 0 */
	CHECK_EQ_U(out(&n, 60, PB_T0 + PB_MIN - 1), 300);
	up(&n, EXT, 400, PB_T0 + PB_MIN);	/* first microsecond of minute 1 */
	CHECK_EQ_U(out(&n, 60, PB_T0 + PB_MIN), 400);
	CHECK_EQ_U(out(&n, 120, PB_T0 + PB_MIN), 700);
	CHECK_EQ_U(out(&n, 3600, PB_T0 + PB_MIN), 700);
	/* An idle host: the minute it sent in has left the 1-min window. */
	CHECK_EQ_U(out(&n, 60, PB_T0 + 2 * PB_MIN), 0);
	CHECK_EQ_U(out(&n, 120, PB_T0 + 2 * PB_MIN), 400);
	struct host *h = hostof(&n, HOST);
	CHECK_EQ_U(h->total[HC_OUT], 700);
	CHECK_EQ_U(h->total[HC_OUT_FLOWS], 1);
	CHECK_EQ_U(h->out_ip_bytes, 700 + 3 * 28);
	CHECK_EQ_U(host_window_start(60, PB_T0 + PB_MIN + 5), PB_T0 + PB_MIN);
	pb_net_free(&n);
}

static void
test_host_window_excludes_buckets_older_than_window(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	/* 1 << k bytes in minute k, k = 0..10: each minute is identifiable. */
	for (uint32_t k = 0; k <= 10; k++)
		up(&n, EXT, 1u << k, PB_T0 + k * PB_MIN + 30 * PB_SEC);
	uint64_t now = PB_T0 + 10 * PB_MIN + 45 * PB_SEC;
	CHECK_EQ_U(out(&n, 600, now), 0x7fe);		/* minutes 1..10: the 11th back is out */
	CHECK_EQ_U(out(&n, 660, now), 0x7ff);
	CHECK_EQ_U(out(&n, 300, now), 0x7c0);		/* minutes 6..10 */
	CHECK_EQ_U(host_window_start(600, now), PB_T0 + PB_MIN);
	/* At the exact start of minute 11, minute 1 drops out too. */
	CHECK_EQ_U(out(&n, 600, PB_T0 + 11 * PB_MIN), 0x7fc);
	CHECK_EQ_U(out(&n, 600, PB_T0 + 11 * PB_MIN - 1), 0x7fe);
	pb_net_free(&n);
}

static void
test_host_long_windows_use_hour_buckets(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	up(&n, EXT, 1, PB_T0 + 10 * PB_MIN);			/* hour 0 */
	up(&n, EXT, 10, PB_T0 + PB_HOUR + 5 * PB_MIN);		/* hour 1 */
	up(&n, EXT, 100, PB_T0 + 2 * PB_HOUR + 30 * PB_MIN);	/* hour 2 */
	uint64_t now = PB_T0 + 2 * PB_HOUR + 30 * PB_MIN;
	CHECK_EQ_U(out(&n, 3600, now), 100);		/* minutes 1:31 .. 2:30 */
	CHECK_EQ_U(out(&n, 7200, now), 110);		/* hours 1 and 2 */
	CHECK_EQ_U(out(&n, 3 * 3600, now), 111);
	CHECK_EQ_U(out(&n, 86400, now), 111);
	CHECK_EQ_U(host_window_start(7200, now), PB_T0 + PB_HOUR);
	CHECK_EQ_U(host_window_start(86400, now), PB_T0 + 3 * PB_HOUR - 24 * PB_HOUR);
	/* 23 hours later hour 0 is the 24th back: still in; one more hour, out. */
	up(&n, EXT, 1000, PB_T0 + 23 * PB_HOUR);
	CHECK_EQ_U(out(&n, 86400, PB_T0 + 23 * PB_HOUR), 1111);
	up(&n, EXT, 10000, PB_T0 + 24 * PB_HOUR);
	CHECK_EQ_U(out(&n, 86400, PB_T0 + 24 * PB_HOUR), 11110);
	pb_net_free(&n);
}

static void
test_host_minute_ring_recycles_after_wrap(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	up(&n, EXT, 5, PB_T0);				/* minute 0 */
	up(&n, EXT, 7, PB_T0 + 59 * PB_MIN);		/* minute 59 */
	CHECK_EQ_U(out(&n, 3600, PB_T0 + 59 * PB_MIN), 12);
	up(&n, EXT, 11, PB_T0 + 60 * PB_MIN);		/* minute 60 reuses bucket 0 */
	CHECK_EQ_U(out(&n, 3600, PB_T0 + 60 * PB_MIN), 18);
	CHECK_EQ_U(out(&n, 60, PB_T0 + 60 * PB_MIN), 11);
	/* A gap of more than an hour: every minute bucket is stale. */
	up(&n, EXT, 13, PB_T0 + 150 * PB_MIN);
	CHECK_EQ_U(out(&n, 3600, PB_T0 + 150 * PB_MIN), 13);
	for (uint32_t w = 60; w <= 3600; w += 60)
		CHECK_EQ_U(out(&n, w, PB_T0 + 150 * PB_MIN), 13);
	/* ... while the hour buckets still hold hours 1 and 2. */
	CHECK_EQ_U(out(&n, 7200, PB_T0 + 150 * PB_MIN), 5 + 7 + 11 + 13 - 5 - 7);
	/* A gap of more than a day: the hour ring is zeroed too. */
	up(&n, EXT, 17, PB_T0 + 30 * PB_HOUR);
	CHECK_EQ_U(out(&n, 86400, PB_T0 + 30 * PB_HOUR), 17);
	/* A gap of exactly a ring (60 minutes, 24 hours): every bucket goes, and the total with them. */
	up(&n, EXT, 19, PB_T0 + 31 * PB_HOUR);
	CHECK_EQ_U(out(&n, 3600, PB_T0 + 31 * PB_HOUR), 19);
	CHECK_EQ_U(out(&n, 86400, PB_T0 + 31 * PB_HOUR), 17 + 19);
	up(&n, EXT, 23, PB_T0 + 55 * PB_HOUR);
	CHECK_EQ_U(out(&n, 3600, PB_T0 + 55 * PB_HOUR), 23);
	CHECK_EQ_U(out(&n, 86400, PB_T0 + 55 * PB_HOUR), 23);
	pb_net_free(&n);
}

static void
test_host_served_traffic_is_not_counted_as_out(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	/* The internet opens a connection to an internal web server. */
	struct pkt syn = pb_tcp("203.0.113.50", 51000, "10.0.0.80", 443, PB_SYN, 0, PB_T0);
	struct pkt req = pb_tcp("203.0.113.50", 51000, "10.0.0.80", 443, PB_ACK, 300, PB_T0 + 1);
	struct pkt rsp = pb_tcp("10.0.0.80", 443, "203.0.113.50", 51000, PB_ACK, 50000, PB_T0 + 2);
	pb_send(&n, &syn);
	pb_send(&n, &req);
	struct flow *f = pb_send(&n, &rsp);
	CHECK(!f->init_internal && f->resp_internal);
	struct host *h = hostof(&n, "10.0.0.80");
	CHECK(h != NULL);
	if (h == NULL)
		return;
	CHECK_EQ_U(host_window(h, HC_SRV_OUT, 600, PB_T0), 50000);
	CHECK_EQ_U(host_window(h, HC_SRV_IN, 600, PB_T0), 300);
	CHECK_EQ_U(host_window(h, HC_OUT, 600, PB_T0), 0);
	CHECK_EQ_U(host_window(h, HC_IN, 600, PB_T0), 0);
	CHECK_EQ_U(host_window(h, HC_OUT_FLOWS, 600, PB_T0), 0);
	CHECK(host_dest_first(n.hosts, h) == NULL);	/* no destination: it did not initiate */
	CHECK(hostof(&n, "203.0.113.50") == NULL);	/* external ends get no entry */
	CHECK_EQ_U(host_peers(h, PB_T0), 0);
	pb_net_free(&n);
}

static void
test_host_internal_to_internal_goes_to_int_counters(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	struct pkt a = pb_tcp("10.0.0.5", 50000, "10.0.0.9", 445, PB_SYN, 0, PB_T0);
	struct pkt b = pb_tcp("10.0.0.5", 50000, "10.0.0.9", 445, PB_ACK, 7000, PB_T0 + 1);
	struct pkt c = pb_tcp("10.0.0.9", 445, "10.0.0.5", 50000, PB_ACK, 900, PB_T0 + 2);
	pb_send(&n, &a);
	pb_send(&n, &b);
	pb_send(&n, &c);
	struct host *h5 = hostof(&n, "10.0.0.5"), *h9 = hostof(&n, "10.0.0.9");
	CHECK(h5 != NULL && h9 != NULL);
	if (h5 == NULL || h9 == NULL)
		return;
	CHECK_EQ_U(host_window(h5, HC_INT_OUT, 60, PB_T0), 7000);
	CHECK_EQ_U(host_window(h5, HC_INT_IN, 60, PB_T0), 900);
	CHECK_EQ_U(host_window(h9, HC_INT_OUT, 60, PB_T0), 900);
	CHECK_EQ_U(host_window(h9, HC_INT_IN, 60, PB_T0), 7000);
	for (int c2 = HC_OUT; c2 <= HC_SRV_IN; c2++) {
		CHECK_EQ_U(host_window(h5, (enum host_ctr)c2, 60, PB_T0), 0);
		CHECK_EQ_U(host_window(h9, (enum host_ctr)c2, 60, PB_T0), 0);
	}
	CHECK_EQ_U(h5->total[HC_OUT_FLOWS], 0);
	/* The initiator has a destination for its internal peer; the responder none. */
	struct dest *d = host_dest_first(n.hosts, h5);
	CHECK(d != NULL && d->peer_internal == 1 && host_dest_next(n.hosts, d) == NULL);
	if (d != NULL)
		CHECK_EQ_U(dest_window(n.hosts, d, DC_OUT, 60, PB_T0), 7000);
	CHECK(host_dest_first(n.hosts, h9) == NULL);
	CHECK_EQ_U(host_peers(h5, PB_T0), 0);	/* internal peers are not external peers */
	pb_net_free(&n);
}

static void
test_host_destination_per_peer_with_latest_flow_port_and_proto(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	struct pkt t1 = pb_tcp(HOST, 50000, EXT, 443, PB_SYN, 0, PB_T0);
	struct pkt t2 = pb_tcp(HOST, 50000, EXT, 443, PB_ACK, 1000, PB_T0 + 1);
	struct pkt t3 = pb_tcp(EXT, 443, HOST, 50000, PB_ACK, 4000, PB_T0 + 2);
	pb_send(&n, &t1);
	pb_send(&n, &t2);
	pb_send(&n, &t3);
	struct host *h = hostof(&n, HOST);
	struct dest *d = host_dest_first(n.hosts, h);
	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK_EQ_U(d->port, 443);
	CHECK_EQ_U(d->l4proto, IPPROTO_TCP);
	CHECK_EQ_U(d->flows, 1);
	/* A second flow to the same peer (DNS over UDP) updates port and proto. */
	struct pkt u = pb_udp(HOST, 40001, EXT, 53, 60, PB_T0 + PB_MIN);
	pb_send(&n, &u);
	CHECK(host_dest_first(n.hosts, h) == d && host_dest_next(n.hosts, d) == NULL);
	CHECK_EQ_U(d->flows, 2);
	CHECK_EQ_U(d->port, 53);
	CHECK_EQ_U(d->l4proto, IPPROTO_UDP);
	CHECK_EQ_U(dest_window(n.hosts, d, DC_OUT, 600, PB_T0 + PB_MIN), 1060);
	CHECK_EQ_U(dest_window(n.hosts, d, DC_IN, 600, PB_T0 + PB_MIN), 4000);
	CHECK_EQ_U(dest_window(n.hosts, d, DC_OUT, 60, PB_T0 + PB_MIN), 60);
	CHECK(addr_eq(&d->key.peer, &t1.dst) && addr_eq(&host_dest_host(n.hosts, d)->addr, &t1.src));
	/* Another peer: a second destination, first in the host's list. */
	up(&n, "192.0.2.200", 5, PB_T0 + PB_MIN);
	struct dest *d2 = host_dest_first(n.hosts, h);
	CHECK(d2 != d && host_dest_next(n.hosts, d2) == d);
	CHECK_EQ_U(h->total[HC_OUT_FLOWS], 3);
	CHECK_EQ_U(host_window(h, HC_OUT, 600, PB_T0 + PB_MIN), 1065);
	CHECK_EQ_U(host_window(h, HC_IN, 600, PB_T0 + PB_MIN), 4000);
	struct host_stats st;
	host_get_stats(n.hosts, &st);
	CHECK_EQ_U(st.hosts, 1);
	CHECK_EQ_U(st.dests, 2);
	pb_net_free(&n);
}

static void
test_host_changed_returns_only_hosts_touched_since(void)
{
	struct pb_net n;
	char a[32];

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	for (int i = 1; i <= 5; i++) {
		snprintf(a, sizeof a, "10.0.0.%d", i);
		struct pkt p = pb_udp(a, 40000, EXT, 5000, 10, PB_T0 + (uint64_t)i * PB_SEC);
		pb_send(&n, &p);
	}
	/* Host .2 is seen again last. */
	struct pkt p = pb_udp("10.0.0.2", 40000, EXT, 5000, 10, PB_T0 + 6 * PB_SEC);
	pb_send(&n, &p);
	const char *want[] = { "10.0.0.2", "10.0.0.5", "10.0.0.4" };
	size_t i = 0;
	for (struct host *h = host_changed_first(n.hosts, PB_T0 + 4 * PB_SEC); h;
	    h = host_changed_next(n.hosts, h, PB_T0 + 4 * PB_SEC), i++) {
		struct ip_addr w = pb_ip(i < 3 ? want[i] : "0.0.0.0");
		CHECK(i < 3 && addr_eq(&h->addr, &w));
	}
	CHECK_EQ_U(i, 3);
	CHECK(host_changed_first(n.hosts, PB_T0 + 7 * PB_SEC) == NULL);
	i = 0;
	for (struct host *h = host_changed_first(n.hosts, 0); h; h = host_changed_next(n.hosts, h, 0))
		i++;
	CHECK_EQ_U(i, 5);
	pb_net_free(&n);
}

static void
test_host_evicts_the_lightest_stale_host_with_its_destinations_when_full(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 2, 64), 0);
	struct pkt a1 = pb_udp("10.0.0.1", 40000, "192.0.2.1", 5000, 10, PB_T0);
	struct pkt a2 = pb_udp("10.0.0.1", 40000, "192.0.2.2", 5000, 10, PB_T0);
	struct pkt b = pb_udp("10.0.0.2", 40000, "192.0.2.1", 5000, 1000, PB_T0 + 1);
	struct pkt c = pb_udp("10.0.0.3", 40000, "192.0.2.1", 5000, 30, PB_T0 + 2);
	pb_send(&n, &a1);
	pb_send(&n, &a2);
	pb_send(&n, &b);
	struct host_stats st;
	host_get_stats(n.hosts, &st);
	CHECK_EQ_U(st.hosts, 2);
	CHECK_EQ_U(st.dests, 3);
	pb_send(&n, &c);	/* full: 10.0.0.1 is both the stalest and the lightest */
	host_get_stats(n.hosts, &st);
	CHECK_EQ_U(st.hosts, 2);
	CHECK_EQ_U(st.hosts_evicted, 1);
	CHECK_EQ_U(st.dests, 2);	/* 10.0.0.1's two destinations went with it */
	CHECK(hostof(&n, "10.0.0.1") == NULL);
	CHECK(hostof(&n, "10.0.0.2") != NULL && hostof(&n, "10.0.0.3") != NULL);
	/*
	 * The evicted host comes back. Now 10.0.0.2 is the stalest, but it
	 * moved 1000 bytes: the lighter 10.0.0.3 makes room instead.
	 */
	a1.ts_us = PB_T0 + 3;
	pb_send(&n, &a1);
	struct host *h1 = hostof(&n, "10.0.0.1");
	CHECK(h1 != NULL);
	if (h1 != NULL)
		CHECK_EQ_U(host_window(h1, HC_OUT, 60, PB_T0 + 3), 10);	/* a fresh entry */
	CHECK(hostof(&n, "10.0.0.2") != NULL);
	CHECK(hostof(&n, "10.0.0.3") == NULL);
	host_get_stats(n.hosts, &st);
	CHECK_EQ_U(st.hosts_evicted, 2);
	CHECK_EQ_U(st.max_hosts, 2);
	CHECK(st.bytes > 0);
	pb_net_free(&n);
}

static void
test_host_flood_of_new_sources_does_not_evict_a_heavy_uploader(void)
{
	struct pb_net n;
	char ip[32];

	CHECK_EQ_U(pb_net_init(&n, 4096, 64, 256), 0);
	struct pkt big = pb_udp("10.9.9.9", 40000, "192.0.2.9", 5000, 1400, PB_T0);
	for (int i = 0; i < 1000; i++)
		pb_send(&n, &big);
	/* 10,000 one-packet sources arrive after it, 156 times the table's size. */
	for (int i = 0; i < 10000; i++) {
		snprintf(ip, sizeof ip, "10.1.%d.%d", i / 250, i % 250 + 1);
		struct pkt p = pb_udp(ip, 40000, "192.0.2.1", 5000, 1, PB_T0 + 1 + (uint64_t)i);
		pb_send(&n, &p);
	}
	struct host *h = hostof(&n, "10.9.9.9");
	CHECK(h != NULL);
	if (h != NULL)
		CHECK_EQ_U(host_window(h, HC_OUT, 600, PB_T0 + 10001), 1400000);
	struct host_stats st;
	host_get_stats(n.hosts, &st);
	CHECK(st.hosts_evicted >= 10000 - 63);
	CHECK(st.hosts <= 64);
	pb_net_free(&n);
}

static void
test_host_evicts_stalest_destination_not_oldest_created(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 2), 0);
	up(&n, "192.0.2.1", 100, PB_T0);
	up(&n, "192.0.2.2", 100, PB_T0 + PB_SEC);
	up(&n, "192.0.2.1", 100, PB_T0 + 2 * PB_SEC);	/* .1 is the active one */
	up(&n, "192.0.2.3", 100, PB_T0 + 3 * PB_SEC);	/* table full: evict .2 */
	struct host *h = hostof(&n, HOST);
	struct host_stats st;
	host_get_stats(n.hosts, &st);
	CHECK_EQ_U(st.dests_evicted, 1);
	int have1 = 0, have2 = 0;
	struct ip_addr p1 = pb_ip("192.0.2.1"), p2 = pb_ip("192.0.2.2");
	for (struct dest *d = host_dest_first(n.hosts, h); d; d = host_dest_next(n.hosts, d)) {
		if (addr_eq(&d->key.peer, &p1)) {
			have1 = 1;
			CHECK_EQ_U(dest_window(n.hosts, d, DC_OUT, 600, PB_T0 + 3 * PB_SEC), 200);
		}
		have2 |= addr_eq(&d->key.peer, &p2);
	}
	CHECK(have1);
	CHECK(!have2);
	pb_net_free(&n);
}

static void
test_host_flow_classified_after_eviction_does_not_hide_changed_hosts(void)
{
	struct pb_net n;

	CHECK_EQ_U(pb_net_init(&n, 64, 2, 64), 0);
	struct pkt a = pb_udp("10.0.0.1", 40000, "192.0.2.1", 5000, 10, PB_T0);
	struct pkt b = pb_udp("10.0.0.2", 40000, "192.0.2.1", 5000, 10, PB_T0 + PB_SEC);
	struct pkt c = pb_udp("10.0.0.3", 40000, "192.0.2.1", 5000, 10, PB_T0 + 2 * PB_SEC);
	struct flow *fa = pb_send(&n, &a);
	pb_send(&n, &b);
	pb_send(&n, &c);	/* evicts 10.0.0.1 */
	CHECK(hostof(&n, "10.0.0.1") == NULL);
	/* 10.0.0.1's flow ends later and its application is credited, as the
	 * sensor's flow-end callback does: no host must come back from the dead
	 * (evicting a live one), and the changed-host walk must still see .2, .3. */
	fa->app_proto = 7;
	host_flow_classified(n.hosts, fa, fa->last_us);
	CHECK(hostof(&n, "10.0.0.2") != NULL);
	size_t i = 0;
	for (struct host *h = host_changed_first(n.hosts, PB_T0); h; h = host_changed_next(n.hosts, h, PB_T0))
		i++;
	CHECK_EQ_U(i, 2);
	struct host_stats st;
	host_get_stats(n.hosts, &st);
	CHECK_EQ_U(st.hosts_evicted, 1);
	/* On a flow's first packet (not yet counted) classification may create
	 * the entry: host_account follows at once. */
	struct pkt d = pb_udp("10.0.0.4", 40000, "192.0.2.9", 53, 10, PB_T0 + 3 * PB_SEC);
	int dir;
	struct flow *fd = flow_table_get(n.flows, &d, &dir);
	fd->init_internal = 1;
	flow_account(n.flows, fd, &d, dir);
	pb_name(&n, fd, "x.example");
	host_flow_classified(n.hosts, fd, fd->last_us);
	host_account(n.hosts, fd, dir, &d);
	struct host *h4 = hostof(&n, "10.0.0.4");
	CHECK(h4 != NULL);
	if (h4 != NULL) {
		struct dest *ds = host_dest_first(n.hosts, h4);
		CHECK(ds != NULL && strcmp(host_dest_name(n.hosts, ds), "x.example") == 0);
		CHECK(host_changed_first(n.hosts, PB_T0) == h4);
	}
	pb_net_free(&n);
}

/* Names held, for the tests that check references come and go with their holders. */
static size_t
names_held(const struct pb_net *n)
{
	struct names_stats st;

	names_stats(n->names, &st);
	return st.names;
}

/*
 * One flow of host to peer named name (classified at its first packet),
 * ended a minute later (idle): only the destination's reference stays.
 */
static void
named_flow(struct pb_net *n, const char *host, const char *peer, const char *name, uint64_t t)
{
	struct pkt p = pb_udp(host, 40000, peer, 443, 10, t);
	int dir;
	struct flow *f = flow_table_get(n->flows, &p, &dir);

	f->init_internal = 1;
	flow_account(n->flows, f, &p, dir);
	pb_name(n, f, name);
	host_flow_classified(n->hosts, f, f->last_us);
	host_account(n->hosts, f, dir, &p);
	flow_table_expire(n->flows, t + 61 * PB_SEC);
}

/*
 * A destination holds one reference to its server name: shared with the
 * other destinations of that name, moved when it is renamed, and let go
 * when it is evicted, alone or with its host.
 */
static void
test_host_destination_names_are_shared_and_let_go(void)
{
	struct pb_net n;
	struct ip_addr h1 = pb_ip("10.0.0.1"), peer = pb_ip("192.0.2.1");
	const struct dest *d;
	const uint64_t step = 100 * PB_SEC;	/* each flow has ended before the next */

	CHECK_EQ_U(pb_net_init(&n, 64, 2, 3), 0);
	named_flow(&n, "10.0.0.1", "192.0.2.1", "cdn.example", PB_T0);
	named_flow(&n, "10.0.0.2", "192.0.2.1", "cdn.example", PB_T0 + step);
	CHECK_EQ_U(names_held(&n), 1);
	d = host_dest_lookup(n.hosts, &h1, &peer);
	CHECK(d != NULL && names_refs(n.names, d->name) == 2);
	/* Renamed by a later flow: the new name is held, the old one by the other only. */
	named_flow(&n, "10.0.0.1", "192.0.2.1", "api.example", PB_T0 + 2 * step);
	CHECK_EQ_U(names_held(&n), 2);
	CHECK(d != NULL && strcmp(host_dest_name(n.hosts, d), "api.example") == 0);
	/* A third host evicts the lighter of the two (10.0.0.2) with its destination. */
	named_flow(&n, "10.0.0.3", "192.0.2.7", "other.example", PB_T0 + 3 * step);
	CHECK(hostof(&n, "10.0.0.2") == NULL);
	CHECK_EQ_U(names_held(&n), 2);
	/* A destination evicted alone (the full table's lightest, stalest) lets its name go. */
	named_flow(&n, "10.0.0.3", "192.0.2.8", "", PB_T0 + 4 * step);
	named_flow(&n, "10.0.0.3", "192.0.2.9", "", PB_T0 + 5 * step);
	CHECK_EQ_U(names_held(&n), 1);
	/* And a host evicted with its destinations (10.0.0.1, 20 bytes against 30) does. */
	named_flow(&n, "10.0.0.4", "192.0.2.9", "", PB_T0 + 6 * step);
	CHECK(hostof(&n, "10.0.0.1") == NULL);
	CHECK_EQ_U(names_held(&n), 0);
	pb_net_free(&n);
}

static void
test_host_peers_hyperloglog_is_roughly_right(void)
{
	struct pb_net n;
	char a[32];

	CHECK_EQ_U(pb_net_init(&n, 512, 16, 512), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(a, sizeof a, "198.51.%d.%d", i / 50, 1 + i % 50);
		up(&n, a, 10, PB_T0 + (uint64_t)i * PB_SEC);
		up(&n, a, 10, PB_T0 + (uint64_t)i * PB_SEC);	/* repeats do not count */
	}
	/* Packets without payload (a bare probe) are no evidence of sending. */
	up(&n, "203.0.113.1", 0, PB_T0 + 200 * PB_SEC);
	struct host *h = hostof(&n, HOST);
	uint32_t est = host_peers(h, PB_T0 + 200 * PB_SEC);
	CHECK(est >= 90 && est <= 110);
	if (est < 90 || est > 110)
		fprintf(stderr, "  estimate %u\n", est);
	/* Next hour: the count starts over. */
	CHECK_EQ_U(host_peers(h, PB_T0 + PB_HOUR), 0);
	up(&n, "198.51.100.1", 10, PB_T0 + PB_HOUR);
	CHECK_EQ_U(host_peers(h, PB_T0 + PB_HOUR), 1);
	CHECK(h->peers_prev >= 90 && h->peers_prev <= 110);
	pb_net_free(&n);
}

static void
test_host_ipv6_hosts_and_bounded_config(void)
{
	struct pb_net n;
	char err[128] = "";
	struct host_config bad = { .max_hosts = 0, .max_dests = 10 };

	CHECK(host_tables_new(&bad, err, sizeof err) == NULL);
	CHECK(err[0] != '\0');
	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	struct pkt p = pb_udp("fd00::5", 40000, "2001:db8::1", 5000, 1234, PB_T0);
	pb_send(&n, &p);
	struct host *h = hostof(&n, "fd00::5");
	CHECK(h != NULL);
	if (h != NULL)
		CHECK_EQ_U(host_window(h, HC_OUT, 60, PB_T0), 1234);
	pb_net_free(&n);
}

/* A host window summed bucket by bucket from its rings (host.c keeps ring totals). */
static uint64_t
ring_brute(const struct host *h, enum host_ctr c, uint32_t window_s, uint64_t now)
{
	uint32_t now_m = (uint32_t)(now / PB_MIN), now_h = now_m / 60;
	uint64_t sum = 0;

	if (window_s <= HOST_MINUTES * 60) {
		for (uint32_t k = 0; k < window_s / 60 && k <= now_m; k++)
			if (now_m - k <= h->clk.cur_min && now_m - k + HOST_MINUTES > h->clk.cur_min)
				sum += host_minute_bucket(h, now_m - k, c);
		return sum;
	}
	for (uint32_t k = 0; k < window_s / 3600 && k < HOST_HOURS && k <= now_h; k++)
		if (now_h - k <= h->clk.cur_hour && now_h - k + HOST_HOURS > h->clk.cur_hour)
			sum += host_hour_bucket(h, now_h - k, c);
	return sum;
}

/*
 * A host with a single external destination: the destination's sparse
 * slots (or full rings once busy) must give exactly the host's ring sums,
 * for every window, at every step of 30 hours of random traffic; and the
 * host's sums must be its buckets' (whole-ring windows read a kept total).
 */
static int
dest_matches_host(struct pb_net *n, const char *host, uint64_t now)
{
	static const uint32_t windows[] = { 60, 300, 600, 1800, 3600, 7200, 6 * 3600, 24 * 3600 };
	struct ip_addr ip = pb_ip(host);
	struct host *h = host_lookup(n->hosts, &ip);
	struct dest *d = h ? host_dest_first(n->hosts, h) : NULL;

	if (d == NULL)
		return -1;	/* evicted */
	for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++)
		if (host_window(h, HC_OUT, windows[i], now) != ring_brute(h, HC_OUT, windows[i], now) ||
		    host_window(h, HC_IN, windows[i], now) != ring_brute(h, HC_IN, windows[i], now))
			return 0;
	for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++)
		if (dest_window(n->hosts, d, DC_OUT, windows[i], now) != host_window(h, HC_OUT, windows[i], now) ||
		    dest_window(n->hosts, d, DC_IN, windows[i], now) != host_window(h, HC_IN, windows[i], now))
			return 0;
	return 1;
}

/* big_every: now and then (1 in big_every packets, 0 = never) 1.5 GB in one packet. */
static void
run_random_traffic(struct pb_net *n, size_t details, uint32_t big_every, struct host_stats *st)
{
	const char *hosts[2] = { "10.0.0.5", "10.0.0.6" };
	int alive[2] = { 1, 1 }, bad = 0;
	uint64_t rng = 12345, t = PB_T0;
	struct host_config hc = { .max_hosts = 16, .max_dests = 64, .max_dest_details = details, .seed = 2 };
	char err[128];

	host_tables_free(n->hosts);
	hc.names = n->names;
	n->hosts = host_tables_new(&hc, err, sizeof err);
	for (int step = 0; step < 4000 && n->hosts; step++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		/* Mostly seconds apart, sometimes minutes, now and then hours. */
		uint64_t r = rng >> 33;
		t += r % 10 == 0 ? (r % 7) * 3600 * 1000000ULL : r % 3 == 0 ? (r % 5) * PB_MIN : (r % 50) * 1000000ULL;
		int k = (int)(r & 1);
		uint32_t len = big_every && r % big_every == 0 ? 1500000000u : 1 + (uint32_t)(r % 1400);
		struct pkt p = pb_udp(hosts[k], 40000, EXT, 5000, len, t);
		pb_send(n, &p);
		if (r % 4 == 0) {	/* a reply */
			struct pkt q = pb_udp(EXT, 5000, hosts[k], 40000, 1 + (uint32_t)(r % 900), t);
			pb_send(n, &q);
		}
		for (int j = 0; j < 2; j++) {
			if (!alive[j])
				continue;
			int m = dest_matches_host(n, hosts[j], t);
			if (m < 0)
				alive[j] = 0;
			else if (m == 0)
				bad++;
		}
	}
	CHECK_EQ_U(bad, 0);
	host_get_stats(n->hosts, st);
	CHECK(st->dest_details <= details);
}

static void
test_host_sparse_destination_windows_equal_full_rings(void)
{
	struct pb_net n;
	struct host_stats st;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	/* The flow would be idle-expired across the hour gaps: give it a fresh table each run. */
	run_random_traffic(&n, 16, 0, &st);
	CHECK_EQ_U(st.dest_details_folded + st.dest_details_evicted, 0);
	CHECK_EQ_U(st.hosts_widened, 0);
	pb_net_free(&n);
}

static void
test_host_full_detail_pool_folds_or_evicts_and_stays_exact(void)
{
	struct pb_net n;
	struct host_stats st;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	/* One block for two busy destinations: they take it from each other. */
	run_random_traffic(&n, 1, 0, &st);
	CHECK(st.dest_details_folded + st.dest_details_evicted > 0);
	pb_net_free(&n);
}

/*
 * The same 30 hours with a 1.5 GB packet now and then: both hosts pass
 * 4 GiB in some bucket and move to 64-bit rings mid-run, and every window
 * must still equal its bucket sums and the destination's own count.
 */
static void
test_host_random_traffic_past_4_gib_widens_hosts_exactly(void)
{
	struct pb_net n;
	struct host_stats st;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	run_random_traffic(&n, 16, 29, &st);
	CHECK_EQ_U(st.hosts_widened, 2);
	pb_net_free(&n);
}

static struct dest *
dest_to(struct pb_net *n, const char *peer)
{
	struct ip_addr h = pb_ip(HOST), p = pb_ip(peer);

	return host_dest_lookup(n->hosts, &h, &p);
}

/* A test network whose host tables have this configuration: 0, or -1 (a failed check). */
static int
net_with(struct pb_net *n, const struct host_config *hc)
{
	char err[128];

	CHECK_EQ_U(pb_net_init(n, 64, 16, 64), 0);
	struct host_config with_names = *hc;

	host_tables_free(n->hosts);
	with_names.names = n->names;
	n->hosts = host_tables_new(&with_names, err, sizeof err);
	CHECK(n->hosts != NULL);
	return n->hosts != NULL ? 0 : -1;
}

static struct host_stats
stats_of(struct pb_net *n)
{
	struct host_stats st;

	host_get_stats(n->hosts, &st);
	return st;
}

/* Inline buckets are 32-bit: up to 4 GiB a destination stays inline, past it
 * the destination moves to the 64-bit rings and no byte is clipped. */
static void
test_host_inline_bucket_past_4_gib_moves_to_full_rings_exactly(void)
{
	struct pb_net n;
	uint64_t t = PB_T0;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	/* Exactly UINT32_MAX in one minute still fits. */
	up(&n, EXT, 2147483648u, t);
	up(&n, EXT, 2147483647u, t + 1);
	CHECK_EQ_U(stats_of(&n).dest_details, 0);
	CHECK_EQ_U(dest_window(n.hosts, dest_to(&n, EXT), DC_OUT, 60, t + 1), 4294967295ull);
	/* One more byte does not. */
	up(&n, EXT, 1, t + 2);
	CHECK_EQ_U(stats_of(&n).dest_details, 1);
	CHECK_EQ_U(dest_window(n.hosts, dest_to(&n, EXT), DC_OUT, 60, t + 2), 4294967296ull);
	CHECK_EQ_U(dest_window(n.hosts, dest_to(&n, EXT), DC_OUT, 3600, t + 2), 4294967296ull);

	/* Minutes that fit, an hour that does not: 3 x 2 GB in three minutes. */
	for (int k = 0; k < 3; k++)
		up(&n, "192.0.2.9", 2000000000u, t + (uint64_t)k * PB_MIN);
	struct dest *d = dest_to(&n, "192.0.2.9");
	uint64_t now = t + 2 * PB_MIN;
	CHECK_EQ_U(stats_of(&n).dest_details, 2);
	CHECK_EQ_U(dest_window(n.hosts, d, DC_OUT, 60, now), 2000000000ull);
	CHECK_EQ_U(dest_window(n.hosts, d, DC_OUT, 600, now), 6000000000ull);
	CHECK_EQ_U(dest_window(n.hosts, d, DC_OUT, 3600, now), 6000000000ull);
	/* The host's own rings (64-bit since the first minute passed 4 GiB) agree. */
	CHECK_EQ_U(host_window(hostof(&n, HOST), HC_OUT, 600, now), 4294967296ull + 6000000000ull);
	pb_net_free(&n);
}

/* A full detail pool folds its stalest destination back inline only if every
 * bucket fits in 32 bits; a bigger one is evicted, counted, never clipped. */
static void
test_host_detail_with_a_bucket_past_4_gib_is_evicted_not_folded(void)
{
	struct pb_net n;
	struct host_config hc = { .max_hosts = 16, .max_dests = 64, .max_dest_details = 1, .seed = 2 };
	struct host_stats st;
	uint64_t t = PB_T0;

	if (net_with(&n, &hc) != 0)
		return;
	up(&n, EXT, 3000000000u, t);
	up(&n, EXT, 3000000000u, t + 1);	/* 6 GB in a minute: the one block */
	CHECK_EQ_U(stats_of(&n).dest_details, 1);
	/* Another destination active in more minutes than it keeps inline. */
	for (int k = 0; k <= DEST_MSLOTS; k++)
		up(&n, "192.0.2.9", 100, t + 2 + (uint64_t)k * PB_MIN);
	host_get_stats(n.hosts, &st);
	CHECK_EQ_U(st.dest_details_folded, 0);
	CHECK_EQ_U(st.dest_details_evicted, 1);
	CHECK(dest_to(&n, EXT) == NULL);
	CHECK_EQ_U(dest_window(n.hosts, dest_to(&n, "192.0.2.9"), DC_OUT, 600, t + 2 + DEST_MSLOTS * PB_MIN),
	    100ull * (DEST_MSLOTS + 1));
	pb_net_free(&n);
}

/*
 * A host's buckets are 32-bit: exactly 4 GiB - 1 in a minute fits, one more
 * byte moves the host to 64-bit rings with every bucket it had. An hour can
 * pass 4 GiB while each of its minutes fits.
 */
static void
test_host_bucket_past_4_gib_moves_the_host_to_64_bit_rings(void)
{
	struct pb_net n;
	uint64_t t = PB_T0 + 10 * PB_MIN;

	CHECK_EQ_U(pb_net_init(&n, 64, 16, 64), 0);
	up(&n, EXT, 700, t - 20 * PB_MIN);	/* the hour before: carried over when the host widens */
	up(&n, EXT, 2147483648u, t);
	up(&n, EXT, 2147483647u, t + 1);
	CHECK_EQ_U(stats_of(&n).hosts_widened, 0);
	CHECK_EQ_U(out(&n, 60, t + 1), 4294967295ull);
	up(&n, EXT, 1, t + 2);
	CHECK_EQ_U(stats_of(&n).hosts_widened, 1);
	CHECK_EQ_U(out(&n, 60, t + 2), 4294967296ull);
	CHECK_EQ_U(out(&n, 1800, t + 2), 4294967296ull + 700);
	CHECK_EQ_U(out(&n, 3600, t + 2), 4294967296ull + 700);
	CHECK_EQ_U(out(&n, 24 * 3600, t + 2), 4294967296ull + 700);
	/* Widened for good: more traffic adds to the 64-bit rings. */
	up(&n, EXT, 5, t + PB_MIN);
	CHECK_EQ_U(stats_of(&n).hosts_widened, 1);
	CHECK_EQ_U(out(&n, 120, t + PB_MIN), 4294967301ull);
	/* Another host: 3 x 2 GB in three minutes, each minute fits, the hour does not. */
	for (int k = 0; k < 3; k++) {
		struct pkt p = pb_udp("10.0.0.9", 40000, EXT, 5000, 2000000000u, t + (uint64_t)k * PB_MIN);
		pb_send(&n, &p);
	}
	struct host *h = hostof(&n, "10.0.0.9");
	CHECK(h != NULL);
	if (h != NULL) {
		CHECK_EQ_U(host_window(h, HC_OUT, 60, t + 2 * PB_MIN), 2000000000ull);
		CHECK_EQ_U(host_window(h, HC_OUT, 600, t + 2 * PB_MIN), 6000000000ull);
		CHECK_EQ_U(host_window(h, HC_OUT, 3600, t + 2 * PB_MIN), 6000000000ull);
		CHECK_EQ_U(host_hour_bucket(h, (uint32_t)((t + 2 * PB_MIN) / PB_HOUR), HC_OUT), 6000000000ull);
	}
	CHECK_EQ_U(stats_of(&n).hosts_widened, 2);
	pb_net_free(&n);
}

/*
 * A widened host that is evicted leaves its 64-bit rings to whichever host
 * takes its slot: that host starts narrow and from zero, and if it widens
 * in turn, nothing of the old counts shows.
 */
static void
test_host_slot_of_an_evicted_wide_host_starts_clean(void)
{
	struct pb_net n;
	struct host_config hc = { .max_hosts = 16, .max_dests = 64, .max_dest_details = 8, .seed = 2 };
	char a[32];
	uint64_t t = PB_T0;

	if (net_with(&n, &hc) != 0)
		return;
	/* The lightest host, in minute 0 and hour 0, then 15 heavier ones: the table is full. */
	up(&n, EXT, 3000000000u, t);
	up(&n, EXT, 2000000000u, t + 1);
	CHECK_EQ_U(stats_of(&n).hosts_widened, 1);
	for (int i = 0; i < 15; i++) {
		snprintf(a, sizeof a, "10.0.1.%d", i);
		struct pkt p = pb_udp(a, 40000, EXT, 5000, 3000000000u, t + 2 + (uint64_t)i);
		pb_send(&n, &p);
		p = pb_udp(a, 40000, EXT, 5000, 3000000000u, t + 2 + (uint64_t)i);
		pb_send(&n, &p);
	}
	/* A new host evicts the first and takes its slot, in the same minute and hour. */
	struct pkt p = pb_udp("10.0.2.1", 40000, EXT, 5000, 100, t + 30);
	pb_send(&n, &p);
	CHECK(hostof(&n, HOST) == NULL);
	struct host *h = hostof(&n, "10.0.2.1");
	CHECK(h != NULL);
	if (h == NULL)
		goto out;
	CHECK(h->wide == NULL);
	CHECK_EQ_U(host_window(h, HC_OUT, 60, t + 30), 100);
	CHECK_EQ_U(host_window(h, HC_OUT, 24 * 3600, t + 30), 100);
	p = pb_udp("10.0.2.1", 40000, EXT, 5000, 4294967295u, t + 31);
	pb_send(&n, &p);
	CHECK(h->wide != NULL);
	CHECK_EQ_U(host_window(h, HC_OUT, 60, t + 31), 4294967395ull);
	CHECK_EQ_U(host_window(h, HC_OUT, 24 * 3600, t + 31), 4294967395ull);
	CHECK_EQ_U(host_minute_bucket(h, (uint32_t)(t / PB_MIN), HC_OUT), 4294967395ull);
out:
	pb_net_free(&n);
}

T_MAIN("host",
    T(test_host_one_minute_window_counts_only_the_current_minute),
    T(test_host_window_excludes_buckets_older_than_window),
    T(test_host_long_windows_use_hour_buckets),
    T(test_host_minute_ring_recycles_after_wrap),
    T(test_host_served_traffic_is_not_counted_as_out),
    T(test_host_internal_to_internal_goes_to_int_counters),
    T(test_host_destination_per_peer_with_latest_flow_port_and_proto),
    T(test_host_changed_returns_only_hosts_touched_since),
    T(test_host_evicts_the_lightest_stale_host_with_its_destinations_when_full),
    T(test_host_flood_of_new_sources_does_not_evict_a_heavy_uploader),
    T(test_host_evicts_stalest_destination_not_oldest_created),
    T(test_host_flow_classified_after_eviction_does_not_hide_changed_hosts),
    T(test_host_destination_names_are_shared_and_let_go),
    T(test_host_peers_hyperloglog_is_roughly_right),
    T(test_host_ipv6_hosts_and_bounded_config),
    T(test_host_sparse_destination_windows_equal_full_rings),
    T(test_host_full_detail_pool_folds_or_evicts_and_stays_exact),
    T(test_host_random_traffic_past_4_gib_widens_hosts_exactly),
    T(test_host_bucket_past_4_gib_moves_the_host_to_64_bit_rings),
    T(test_host_slot_of_an_evicted_wide_host_starts_clean),
    T(test_host_inline_bucket_past_4_gib_moves_to_full_rings_exactly),
    T(test_host_detail_with_a_bucket_past_4_gib_is_evicted_not_folded))
