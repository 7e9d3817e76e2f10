/*
 * test_conn - long connections: tracked only once a minute old, their
 * duration, total and recent outbound bytes, a rule firing while the
 * connection is open (above its threshold, not at it), flow end and the
 * bounded table's evictions.
 */
#include <stdlib.h>

#include "t.h"
#include "alert.h"
#include "conn.h"
#include "detect.h"
#include "json.h"
#include "pktbuild.h"
#include "sensor.h"

struct ct {
	struct pb_net n;
	struct sensor_config cfg;
	struct dpi *dpi;
	struct conn_mod *m;
	struct ruleset *rs;
	struct detect *d;
	size_t alerts;
	char last_msg[512], last_cat[32];
	struct subject seen[32];
	size_t nseen;
};

static void
on_alert(void *ctx, const struct alert *a)
{
	struct ct *t = ctx;

	t->alerts++;
	snprintf(t->last_msg, sizeof t->last_msg, "%s", a->message);
	snprintf(t->last_cat, sizeof t->last_cat, "%s", category_name(a->rule->category));
}

static int
ct_init(struct ct *t, const char *rules, size_t max_conns)
{
	char err[256];
	struct rules_errors errs = { 0 };
	struct detect_config dc = { .sensor_name = "t", .max_engaged = 64, .run_id = 1, .seed = 3 };
	struct detector_env env = { .cfg = &t->cfg, .state_dirfd = -1, .seed = 5 };

	memset(t, 0, sizeof *t);
	sensor_config_defaults(&t->cfg);
	t->cfg.max_conns = max_conns;
	if (pb_net_init(&t->n, 256, 64, 256) != 0 || (t->dpi = dpi_new(err, sizeof err)) == NULL)
		return -1;
	env.dpi = t->dpi;
	env.hosts = t->n.hosts;
	if ((t->m = conn_new(&env, err, sizeof err)) == NULL)
		return -1;
	if (rules == NULL)
		return 0;
	if (rules_parse(rules, strlen(rules), "t.rules", NULL, 0, &t->rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
		rules_errors_free(&errs);
		return -1;
	}
	if ((t->d = detect_new(&dc, t->dpi, on_alert, t, err, sizeof err)) == NULL)
		return -1;
	detect_register(t->d, &conn_ops, t->m);
	if (detect_set_rules(t->d, t->rs, err, sizeof err) != 0) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	return 0;
}

static void
ct_free(struct ct *t)
{
	detect_free(t->d);
	ruleset_free(t->rs);
	if (t->m != NULL)
		conn_ops.free(t->m);
	dpi_free(t->dpi);
	pb_net_free(&t->n);
}

#define CT_INIT(t, rules, max) do { if (ct_init(t, rules, max) != 0) { \
	CHECK(!"ct_init"); ct_free(t); return; } } while (0)

/* The host 10.0.0.1 sends bytes from sport to 198.51.100.9:443 at ts (through conn's packet hook). */
static struct flow *
send_out(struct ct *t, uint16_t sport, uint32_t bytes, uint64_t ts)
{
	struct pkt p = pb_tcp("10.0.0.1", sport, "198.51.100.9", 443, PB_ACK | PB_PSH, bytes, ts);
	struct flow *f = pb_send(&t->n, &p);

	conn_ops.packet(t->m, f, FLOW_DIR_FWD, &p);
	return f;
}

static void
record(void *vctx, const struct subject *s)
{
	struct ct *t = vctx;

	if (t->nseen < sizeof t->seen / sizeof t->seen[0])
		t->seen[t->nseen++] = *s;
}

static size_t
visit_all(struct ct *t, uint64_t now)
{
	t->nseen = 0;
	conn_ops.each(t->m, 0, now, record, t);
	return t->nseen;
}

static double
value(struct ct *t, enum metric_id m, uint32_t window_s, uint64_t now)
{
	struct rule_cond c = { .metric = m, .window_s = window_s, .op = RULE_OP_GT };

	return conn_ops.value(t->m, &t->seen[0], &c, now);
}

static void
test_conn_tracked_only_once_a_minute_old(void)
{
	struct ct t;

	CT_INIT(&t, NULL, 64);
	send_out(&t, 40000, 100, PB_T0);
	send_out(&t, 40000, 100, PB_T0 + 59 * PB_SEC);
	CHECK_EQ_U(visit_all(&t, PB_T0 + 59 * PB_SEC), 0);
	send_out(&t, 40000, 100, PB_T0 + 60 * PB_SEC);
	CHECK_EQ_U(visit_all(&t, PB_T0 + 60 * PB_SEC), 1);
	CHECK_EQ_S(t.nseen ? (addr_fmt(&t.seen[0].peer, t.last_msg, sizeof t.last_msg), t.last_msg) : "",
	    "198.51.100.9");
	CHECK_EQ_U(t.seen[0].port, 443);
	ct_free(&t);
}

static void
test_conn_duration_total_and_recent_window_slide(void)
{
	struct ct t;
	uint64_t now = PB_T0 + 20 * PB_MIN;

	CT_INIT(&t, NULL, 64);
	for (uint64_t s = 0; s <= 20 * 60; s += 60)
		send_out(&t, 40000, 1000, PB_T0 + s * PB_SEC);	/* 21 packets, one a minute */
	CHECK_EQ_U(visit_all(&t, now), 1);
	CHECK_EQ_U((uint64_t)value(&t, M_CONN_DURATION, 0, now), 1200);
	CHECK_EQ_U((uint64_t)value(&t, M_CONN_OUT_BYTES, 0, now), 21000);
	/* Tracked from minute 1: the 5-minute window holds minutes 16..20. */
	CHECK_EQ_U((uint64_t)value(&t, M_CONN_OUT_BYTES_RECENT, 300, now), 5000);
	/* Ten quiet minutes later the recent bytes are gone, the total stays. */
	now += 10 * PB_MIN;
	CHECK_EQ_U((uint64_t)value(&t, M_CONN_OUT_BYTES_RECENT, 300, now), 0);
	CHECK_EQ_U((uint64_t)value(&t, M_CONN_OUT_BYTES_RECENT, 900, now), 5000);
	CHECK_EQ_U((uint64_t)value(&t, M_CONN_OUT_BYTES, 0, now), 21000);
	ct_free(&t);
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
	struct ct t;
	uint64_t last = 0;

	CT_INIT(&t, R_LONG, 64);
	/* 150 bytes every 30 s: 300 a minute, 3000 in any 10 whole minutes. */
	for (uint64_t s = 0; s <= 3630; s += 30)
		send_out(&t, 40000, 150, last = PB_T0 + s * PB_SEC);
	detect_tick(t.d, t.n.hosts, PB_T0, last);
	CHECK_EQ_U(t.alerts, 0);		/* open > 1 h, exactly 3000 B in 10 min */
	send_out(&t, 40000, 1, last + PB_SEC);
	detect_tick(t.d, t.n.hosts, last, last + PB_SEC);
	CHECK_EQ_U(t.alerts, 1);		/* 3001 B, and the connection is still open */
	CHECK_EQ_S(t.last_cat, "long-connection");
	CHECK_EQ_S(t.last_msg, "10.0.0.1 198.51.100.9:443 open for 1 h 00 min, 18.3 KB sent, "
	    "3.00 KB of it in the last 10 min");
	ct_free(&t);
}

static void
test_conn_not_fired_before_the_duration(void)
{
	struct ct t;
	uint64_t last = 0;

	CT_INIT(&t, R_LONG, 64);
	/* Plenty of bytes, but open exactly one hour: "> 1 h" does not hold. */
	for (uint64_t s = 0; s <= 3600; s += 30)
		send_out(&t, 40000, 5000, last = PB_T0 + s * PB_SEC);
	detect_tick(t.d, t.n.hosts, PB_T0, last);
	CHECK_EQ_U(t.alerts, 0);
	ct_free(&t);
}

static void
test_conn_flow_end_drops_it_and_full_table_evicts_counted(void)
{
	struct ct t;
	struct flow *f[17];
	char buf[512];
	struct json j;

	CT_INIT(&t, NULL, 16);
	for (int i = 0; i < 17; i++)
		f[i] = send_out(&t, (uint16_t)(41000 + i), 10, PB_T0);
	for (int i = 0; i < 17; i++)
		send_out(&t, (uint16_t)(41000 + i), 10, PB_T0 + 2 * PB_MIN + (uint64_t)i * PB_SEC);
	CHECK_EQ_U(visit_all(&t, PB_T0 + 3 * PB_MIN), 16);
	json_init(&j, buf, sizeof buf);
	json_obj_open(&j, NULL);
	conn_ops.stats(t.m, &j);
	json_obj_close(&j);
	CHECK(strstr(json_str(&j), "\"registered\":17") != NULL);
	CHECK(strstr(json_str(&j), "\"evicted\":1") != NULL);
	conn_ops.flow_end(t.m, f[16], FLOW_END_CLOSED, PB_T0 + 3 * PB_MIN);
	CHECK_EQ_U(visit_all(&t, PB_T0 + 3 * PB_MIN), 15);
	ct_free(&t);
}

T_MAIN("conn",
    T(test_conn_tracked_only_once_a_minute_old),
    T(test_conn_duration_total_and_recent_window_slide),
    T(test_conn_rule_fires_while_open_above_threshold_not_at_it),
    T(test_conn_not_fired_before_the_duration),
    T(test_conn_flow_end_drops_it_and_full_table_evicts_counted))
