/*
 * test_conn - long connections: tracked only once a minute old, their
 * duration, total and recent outbound bytes, a rule firing while the
 * connection is open (above its threshold, not at it), flow end and the
 * bounded table's evictions.
 */
#include <stdlib.h>

#include "t.h"
#include "conn.h"
#include "modharness.h"

#define SETUP(h, rules, max) MH_SETUP(h, rules, conn, \
	(h)->cfg.max_conns = (max), (h)->env.seed = 5)

/* The host 10.0.0.1 sends bytes from sport to 198.51.100.9:443 at ts (through conn's packet hook). */
static struct flow *
send_out(struct mh *h, uint16_t sport, uint32_t bytes, uint64_t ts)
{
	struct pkt p = pb_tcp("10.0.0.1", sport, "198.51.100.9", 443, PB_ACK | PB_PSH, bytes, ts);

	return mh_pkt(h, &p);
}

/* A metric of the first connection mh_visit() saw. */
static double
value(struct mh *h, enum metric_id m, uint32_t window_s, uint64_t now)
{
	return mh_value(h, 0, &h->seen[0], m, window_s, now);
}

static void
test_conn_tracked_only_once_a_minute_old(void)
{
	struct mh h;
	char peer[ADDR_STRLEN];

	SETUP(&h, NULL, 64);
	send_out(&h, 40000, 100, PB_T0);
	send_out(&h, 40000, 100, PB_T0 + 59 * PB_SEC);
	CHECK_EQ_U(mh_visit(&h, 0, PB_T0 + 59 * PB_SEC), 0);
	send_out(&h, 40000, 100, PB_T0 + 60 * PB_SEC);
	CHECK_EQ_U(mh_visit(&h, 0, PB_T0 + 60 * PB_SEC), 1);
	CHECK_EQ_S(h.nseen ? (addr_fmt(&h.seen[0].peer, peer, sizeof peer), peer) : "", "198.51.100.9");
	CHECK_EQ_U(h.seen[0].port, 443);
	mh_free(&h);
}

static void
test_conn_duration_total_and_recent_window_slide(void)
{
	struct mh h;
	uint64_t now = PB_T0 + 20 * PB_MIN;

	SETUP(&h, NULL, 64);
	for (uint64_t s = 0; s <= 20 * 60; s += 60)
		send_out(&h, 40000, 1000, PB_T0 + s * PB_SEC);	/* 21 packets, one a minute */
	CHECK_EQ_U(mh_visit(&h, 0, now), 1);
	CHECK_EQ_U((uint64_t)value(&h, M_CONN_DURATION, 0, now), 1200);
	CHECK_EQ_U((uint64_t)value(&h, M_CONN_OUT_BYTES, 0, now), 21000);
	/* Tracked from minute 1: the 5-minute window holds minutes 16..20. */
	CHECK_EQ_U((uint64_t)value(&h, M_CONN_OUT_BYTES_RECENT, 300, now), 5000);
	/* Ten quiet minutes later the recent bytes are gone, the total stays. */
	now += 10 * PB_MIN;
	CHECK_EQ_U((uint64_t)value(&h, M_CONN_OUT_BYTES_RECENT, 300, now), 0);
	CHECK_EQ_U((uint64_t)value(&h, M_CONN_OUT_BYTES_RECENT, 900, now), 5000);
	CHECK_EQ_U((uint64_t)value(&h, M_CONN_OUT_BYTES, 0, now), 21000);
	mh_free(&h);
}

#define R_LONG \
	"rule long {\n" \
	"  category long-connection\n" \
	"  when conn.duration > 1 h and conn.out.bytes[10min] > 3000\n" \
	"  severity medium\n" \
	"  message \"{src_ip} {dest_ip}:{dest_port} open for {detail}\"\n" \
	"}\n"

static void
test_conn_rule_fires_while_open_above_threshold_not_at_it(void)
{
	struct mh h;
	uint64_t last = 0;

	SETUP(&h, R_LONG, 64);
	/* 150 bytes every 30 s: 300 a minute, 3000 in any 10 whole minutes. */
	for (uint64_t s = 0; s <= 3630; s += 30)
		send_out(&h, 40000, 150, last = PB_T0 + s * PB_SEC);
	mh_tick(&h, PB_T0, last);
	CHECK_EQ_U(h.nrec, 0);		/* open > 1 h, exactly 3000 B in 10 min */
	send_out(&h, 40000, 1, last + PB_SEC);
	mh_tick(&h, last, last + PB_SEC);
	CHECK_EQ_U(h.nrec, 1);		/* 3001 B, and the connection is still open */
	CHECK_EQ_S(category_name(h.rec[0].category), "long-connection");
	CHECK_EQ_S(h.rec[0].message, "10.0.0.1 198.51.100.9:443 open for 1 h 00 min, 18.3 KB sent, "
	    "3.00 KB of it in the last 10 min");
	mh_free(&h);
}

static void
test_conn_not_fired_before_the_duration(void)
{
	struct mh h;
	uint64_t last = 0;

	SETUP(&h, R_LONG, 64);
	/* Plenty of bytes, but open exactly one hour: "> 1 h" does not hold. */
	for (uint64_t s = 0; s <= 3600; s += 30)
		send_out(&h, 40000, 5000, last = PB_T0 + s * PB_SEC);
	mh_tick(&h, PB_T0, last);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

static void
test_conn_flow_end_drops_it_and_full_table_evicts_counted(void)
{
	struct mh h;
	struct flow *f[17];
	char st[512];

	SETUP(&h, NULL, 16);
	for (int i = 0; i < 17; i++)
		f[i] = send_out(&h, (uint16_t)(41000 + i), 10, PB_T0);
	for (int i = 0; i < 17; i++)
		send_out(&h, (uint16_t)(41000 + i), 10, PB_T0 + 2 * PB_MIN + (uint64_t)i * PB_SEC);
	CHECK_EQ_U(mh_visit(&h, 0, PB_T0 + 3 * PB_MIN), 16);
	mh_stats(&h, 0, st, sizeof st);
	CHECK(strstr(st, "\"registered\":17") != NULL);
	CHECK(strstr(st, "\"evicted\":1") != NULL);
	mh_flow_end(&h, f[16], FLOW_END_CLOSED, PB_T0 + 3 * PB_MIN);
	CHECK_EQ_U(mh_visit(&h, 0, PB_T0 + 3 * PB_MIN), 15);
	mh_free(&h);
}

T_MAIN("conn",
    T(test_conn_tracked_only_once_a_minute_old),
    T(test_conn_duration_total_and_recent_window_slide),
    T(test_conn_rule_fires_while_open_above_threshold_not_at_it),
    T(test_conn_not_fired_before_the_duration),
    T(test_conn_flow_end_drops_it_and_full_table_evicts_counted))
