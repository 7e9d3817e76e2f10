/*
 * test_detect - rules over host traffic: thresholds, engagement and
 * suppression, per-destination rules, except clauses, host scopes and the
 * bounded engagement table.
 *
 * Each test parses a small rule set from text, feeds traffic through the
 * flow and host modules (pktbuild.h; home net 10.0.0.0/8), calls
 * detect_tick() as the sensor's tick does, and records what is emitted.
 */
#include <stdlib.h>

#include "t.h"
#include "detect.h"
#include "pktbuild.h"

#define MAX_REC 32

struct rec {
	size_t n;
	struct {
		char rule[RULE_NAME_MAX];
		char src[ADDR_STRLEN], dest[ADDR_STRLEN];
		enum alert_state state;
		uint32_t updates;
		char id[64], eng[64];
		int dominant;
		size_t ndests;
		uint64_t bytes_out;
		uint64_t engaged_since;
		char message[512];
		char json[ALERT_JSON_MAX];
	} a[MAX_REC];
};

struct det {
	struct pb_net n;
	struct dpi *dpi;
	struct ruleset *rs;
	struct detect *d;
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
	r->a[r->n].state = a->state;
	r->a[r->n].updates = a->updates;
	snprintf(r->a[r->n].id, sizeof r->a[r->n].id, "%s", a->id);
	snprintf(r->a[r->n].eng, sizeof r->a[r->n].eng, "%s", a->engagement_id);
	r->a[r->n].dominant = a->dominant;
	r->a[r->n].ndests = a->ndests;
	r->a[r->n].bytes_out = a->bytes_out;
	r->a[r->n].engaged_since = a->engaged_since_us;
	snprintf(r->a[r->n].message, sizeof r->a[r->n].message, "%s", a->message);
	if (alert_to_json(a, r->a[r->n].json, sizeof r->a[r->n].json) == 0)
		r->a[r->n].json[0] = '\0';
	r->n++;
}

static int
det_init(struct det *t, const char *rules, size_t max_engaged)
{
	struct rules_errors errs = { 0 };
	char err[256];
	struct detect_config dc = {
		.sensor_name = "t", .max_engaged = max_engaged, .run_id = 0xab, .seed = 3,
	};

	memset(t, 0, sizeof *t);
	if (pb_net_init(&t->n, 256, 64, 256) != 0)
		return -1;
	if (rules_parse(rules, strlen(rules), "t.rules", NULL, 0, &t->rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
		rules_errors_free(&errs);
		return -1;
	}
	if ((t->dpi = dpi_new(t->n.names, err, sizeof err)) == NULL ||
	    (t->d = detect_new(&dc, t->dpi, on_alert, &t->rec, err, sizeof err)) == NULL ||
	    detect_set_rules(t->d, t->rs, err, sizeof err) != 0) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	return 0;
}

static void
det_free(struct det *t)
{
	detect_free(t->d);
	dpi_free(t->dpi);
	ruleset_free(t->rs);
	pb_net_free(&t->n);
}

#define DET_INIT(t, rules, max) do { if (det_init(t, rules, max) != 0) { \
	CHECK(!"det_init"); det_free(t); return; } } while (0)

/* src sends bytes to dst over UDP (src initiates). */
static void
send_to(struct det *t, const char *src, const char *dst, uint32_t bytes, uint64_t ts)
{
	struct pkt p = pb_udp(src, 40000, dst, 5000, bytes, ts);

	pb_send(&t->n, &p);
}

static struct detect_stats
stats(struct det *t)
{
	struct detect_stats st;

	detect_get_stats(t->d, &st);
	return st;
}

#define R_GT \
	"rule r1 {\n" \
	"  category bulk-transfer\n" \
	"  when host.out.bytes[10min] > 1000\n" \
	"  severity high\n" \
	"  message \"{src_ip} {host.out.bytes}\"\n" \
	"  suppress 10 min\n" \
	"}\n"

static void
test_detect_gt_fires_above_threshold_not_at_it(void)
{
	struct det t;

	DET_INIT(&t, R_GT, 64);
	send_to(&t, "10.0.0.1", "198.51.100.7", 1000, PB_T0);
	send_to(&t, "10.0.0.2", "198.51.100.7", 1001, PB_T0 + 1);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0 + 1);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_S(t.rec.a[0].src, "10.0.0.2");
	CHECK_EQ_S(t.rec.a[0].rule, "r1");
	CHECK_EQ_U(t.rec.a[0].state, ALERT_NEW);
	CHECK_EQ_U(t.rec.a[0].updates, 0);
	CHECK_EQ_S(t.rec.a[0].message, "10.0.0.2 1.00 KB");
	CHECK_EQ_S(t.rec.a[0].id, "t-00000000000000ab-1");
	CHECK_EQ_S(t.rec.a[0].eng, t.rec.a[0].id);
	CHECK_EQ_U(t.rec.a[0].bytes_out, 1001);
	/* One destination carries everything: it dominates. */
	CHECK(t.rec.a[0].dominant);
	CHECK_EQ_S(t.rec.a[0].dest, "198.51.100.7");
	CHECK(strstr(t.rec.a[0].json, "\"dest_ip\":\"198.51.100.7\"") != NULL);
	CHECK(strstr(t.rec.a[0].json, "\"metrics\":{\"host.out.bytes[10min]\":1001}") != NULL);
	struct detect_stats st = stats(&t);
	CHECK_EQ_U(st.evaluations, 2);
	CHECK_EQ_U(st.alerts_new, 1);
	CHECK_EQ_U(st.engaged, 1);
	det_free(&t);
}

static void
test_detect_ge_fires_at_threshold_exactly(void)
{
	struct det t;

	DET_INIT(&t,
	    "rule r2 {\n  category staging\n  when host.out.bytes[1 min] >= 1000\n  severity low\n"
	    "  message \"{value}\"\n}\n", 64);
	send_to(&t, "10.0.0.1", "198.51.100.7", 999, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 0);
	send_to(&t, "10.0.0.1", "198.51.100.7", 1, PB_T0 + 1);
	detect_tick(t.d, t.n.hosts, PB_T0 + 1, PB_T0 + 1);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_S(t.rec.a[0].message, "1.00 KB");
	det_free(&t);
}

static void
test_detect_suppresses_then_updates_after_suppress_time(void)
{
	struct det t;
	uint64_t now = PB_T0;

	DET_INIT(&t, R_GT, 64);
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, now);
	detect_tick(t.d, t.n.hosts, now, now);
	CHECK_EQ_U(t.rec.n, 1);
	/* Still true a minute later: quiet, counted as suppressed. */
	send_to(&t, "10.0.0.1", "198.51.100.7", 10, now + PB_MIN);
	detect_tick(t.d, t.n.hosts, now + PB_MIN, now + PB_MIN);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_U(stats(&t).suppressed, 1);
	/* Just before the suppress time: still quiet. */
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, now + 10 * PB_MIN - 1);
	detect_tick(t.d, t.n.hosts, now + 10 * PB_MIN - 1, now + 10 * PB_MIN - 1);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_U(stats(&t).suppressed, 2);
	/* At the suppress time, condition still true: one update, same engagement. */
	send_to(&t, "10.0.0.1", "198.51.100.7", 10, now + 10 * PB_MIN);
	detect_tick(t.d, t.n.hosts, now + 10 * PB_MIN, now + 10 * PB_MIN);
	CHECK_EQ_U(t.rec.n, 2);
	CHECK_EQ_U(t.rec.a[1].state, ALERT_UPDATE);
	CHECK_EQ_U(t.rec.a[1].updates, 1);
	CHECK_EQ_S(t.rec.a[1].eng, t.rec.a[0].id);
	CHECK(strcmp(t.rec.a[1].id, t.rec.a[0].id) != 0);
	CHECK_EQ_U(t.rec.a[1].engaged_since, now);
	CHECK(strstr(t.rec.a[1].json, "\"state\":\"update\",\"updates\":1,") != NULL);
	/* And quiet again right after. */
	send_to(&t, "10.0.0.1", "198.51.100.7", 10, now + 11 * PB_MIN);
	detect_tick(t.d, t.n.hosts, now + 11 * PB_MIN, now + 11 * PB_MIN);
	CHECK_EQ_U(t.rec.n, 2);
	struct detect_stats st = stats(&t);
	CHECK_EQ_U(st.alerts_new, 1);
	CHECK_EQ_U(st.alerts_update, 1);
	CHECK_EQ_U(st.suppressed, 3);
	det_free(&t);
}

static void
test_detect_new_engagement_after_condition_false_longer_than_suppress(void)
{
	struct det t;
	uint64_t now = PB_T0;

	/* A 1-min window, so the condition turns false as soon as traffic stops. */
	DET_INIT(&t,
	    "rule r3 {\n  category bulk-transfer\n  when host.out.bytes[1min] > 1000\n  severity high\n"
	    "  message \"{src_ip}\"\n  suppress 10 min\n}\n", 64);
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, now);
	detect_tick(t.d, t.n.hosts, now, now);
	CHECK_EQ_U(t.rec.n, 1);
	/* False at +2 min, true again at +5 min: within the suppress time of the
	 * last true tick, so the same engagement, still quiet. */
	send_to(&t, "10.0.0.1", "198.51.100.7", 1, now + 2 * PB_MIN);
	detect_tick(t.d, t.n.hosts, now + 2 * PB_MIN, now + 2 * PB_MIN);
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, now + 5 * PB_MIN);
	detect_tick(t.d, t.n.hosts, now + 5 * PB_MIN, now + 5 * PB_MIN);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_U(stats(&t).suppressed, 1);
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, now + 10 * PB_MIN);
	detect_tick(t.d, t.n.hosts, now + 10 * PB_MIN, now + 10 * PB_MIN);
	CHECK_EQ_U(t.rec.n, 2);
	CHECK_EQ_U(t.rec.a[1].state, ALERT_UPDATE);
	CHECK_EQ_S(t.rec.a[1].eng, t.rec.a[0].id);
	/* False from +11 min; true again at +30 min, 20 min after the last true
	 * tick (> suppress): a new engagement. */
	send_to(&t, "10.0.0.1", "198.51.100.7", 1, now + 11 * PB_MIN);
	detect_tick(t.d, t.n.hosts, now + 11 * PB_MIN, now + 11 * PB_MIN);
	CHECK_EQ_U(t.rec.n, 2);
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, now + 30 * PB_MIN);
	detect_tick(t.d, t.n.hosts, now + 30 * PB_MIN, now + 30 * PB_MIN);
	CHECK_EQ_U(t.rec.n, 3);
	CHECK_EQ_U(t.rec.a[2].state, ALERT_NEW);
	CHECK_EQ_U(t.rec.a[2].updates, 0);
	CHECK(strcmp(t.rec.a[2].eng, t.rec.a[0].eng) != 0);
	CHECK_EQ_S(t.rec.a[2].eng, t.rec.a[2].id);
	CHECK_EQ_U(t.rec.a[2].engaged_since, now + 30 * PB_MIN);
	struct detect_stats st = stats(&t);
	CHECK_EQ_U(st.alerts_new, 2);
	CHECK_EQ_U(st.alerts_update, 1);
	CHECK_EQ_U(st.engaged, 1);
	det_free(&t);
}

static void
test_detect_dest_rule_fires_per_destination_with_it_dominant(void)
{
	struct det t;

	DET_INIT(&t,
	    "rule d1 {\n  category bulk-transfer\n  when dest.out.bytes[10min] > 1000\n  severity high\n"
	    "  message \"{src_ip} -> {dest_ip}:{dest_port} {dest.out.bytes}\"\n}\n", 64);
	send_to(&t, "10.0.0.1", "198.51.100.1", 1500, PB_T0);
	send_to(&t, "10.0.0.1", "198.51.100.2", 500, PB_T0);
	send_to(&t, "10.0.0.1", "198.51.100.3", 1200, PB_T0);
	send_to(&t, "10.0.0.1", "10.0.0.9", 90000, PB_T0);	/* internal peer: never a dest alert */
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 2);
	int seen1 = 0, seen3 = 0;
	for (size_t i = 0; i < t.rec.n; i++) {
		CHECK(t.rec.a[i].dominant);
		CHECK_EQ_U(t.rec.a[i].state, ALERT_NEW);
		if (strcmp(t.rec.a[i].dest, "198.51.100.1") == 0) {
			seen1 = 1;
			CHECK_EQ_S(t.rec.a[i].message, "10.0.0.1 -> 198.51.100.1:5000 1.50 KB");
			CHECK_EQ_U(t.rec.a[i].bytes_out, 1500);
		}
		if (strcmp(t.rec.a[i].dest, "198.51.100.3") == 0) {
			seen3 = 1;
			CHECK_EQ_U(t.rec.a[i].bytes_out, 1200);
			/* The evidence lists the other external destinations too. */
			CHECK_EQ_U(t.rec.a[i].ndests, 3);
		}
	}
	CHECK(seen1 && seen3);
	/* Engagements are per destination: two, with different ids. */
	CHECK_EQ_U(stats(&t).engaged, 2);
	CHECK(strcmp(t.rec.a[0].eng, t.rec.a[1].eng) != 0);
	det_free(&t);
}

static void
test_detect_except_dest_in_removes_that_destinations_bytes(void)
{
	struct det t;

	/* Same condition twice; only r_ex excepts 198.51.100.0/24. */
	DET_INIT(&t,
	    "rule r_plain {\n  category bulk-transfer\n  when host.out.bytes[10min] > 1000\n  severity high\n"
	    "  message \"{host.out.bytes}\"\n}\n"
	    "rule r_ex {\n  category bulk-transfer\n  when host.out.bytes[10min] > 1000\n"
	    "  except dest in 198.51.100.0/24\n  severity high\n  message \"{host.out.bytes}\"\n}\n"
	    "rule d_ex {\n  category bulk-transfer\n  when dest.out.bytes[10min] > 700\n"
	    "  except dest in 198.51.100.0/24 or dest_port in (9999)\n  severity high\n  message \"{dest_ip}\"\n}\n",
	    64);
	send_to(&t, "10.0.0.1", "198.51.100.7", 800, PB_T0);
	send_to(&t, "10.0.0.1", "192.0.2.1", 500, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_S(t.rec.a[0].rule, "r_plain");
	CHECK_EQ_S(t.rec.a[0].message, "1.30 KB");
	/* More to the non-excepted destination: now r_ex sees 1001 and fires,
	 * and its evidence leaves the excepted destination out. */
	send_to(&t, "10.0.0.1", "192.0.2.1", 501, PB_T0 + 1);
	detect_tick(t.d, t.n.hosts, PB_T0 + 1, PB_T0 + 1);
	size_t ex = t.rec.n;
	for (size_t i = 1; i < t.rec.n; i++)
		if (strcmp(t.rec.a[i].rule, "r_ex") == 0)
			ex = i;
	CHECK(ex < t.rec.n);
	if (ex < t.rec.n) {
		CHECK_EQ_S(t.rec.a[ex].message, "1.00 KB");
		CHECK_EQ_U(t.rec.a[ex].bytes_out, 1001);
		CHECK_EQ_U(t.rec.a[ex].ndests, 1);
		CHECK_EQ_S(t.rec.a[ex].dest, "192.0.2.1");
		CHECK(strstr(t.rec.a[ex].json, "198.51.100.7") == NULL);
	}
	/* d_ex: 192.0.2.1 has 1001 > 700 and fires; 198.51.100.7 (800) is excepted. */
	int d_ex = 0;
	for (size_t i = 0; i < t.rec.n; i++) {
		if (strcmp(t.rec.a[i].rule, "d_ex") == 0) {
			d_ex++;
			CHECK_EQ_S(t.rec.a[i].message, "192.0.2.1");
		}
	}
	CHECK_EQ_U(d_ex, 1);
	/* A port exception: a big flow to port 9999 does not fire d_ex. */
	struct pkt p = pb_udp("10.0.0.2", 40000, "203.0.113.5", 9999, 5000, PB_T0 + 2);
	pb_send(&t.n, &p);
	size_t before = t.rec.n;
	detect_tick(t.d, t.n.hosts, PB_T0 + 2, PB_T0 + 2);
	for (size_t i = before; i < t.rec.n; i++)
		CHECK(strcmp(t.rec.a[i].rule, "d_ex") != 0);
	det_free(&t);
}

/*
 * Rules with the same allow-list are answered once per destination and
 * the answer shared; rules whose lists differ in one prefix, one glob, a
 * port or a term's order keep answers of their own.
 */
#define R_DEST_EX(name, ex) \
	"rule " name " {\n  category bulk-transfer\n  when dest.out.bytes[10min] > 700\n" \
	"  except " ex "\n  severity high\n  message \"{dest_ip}\"\n}\n"
static void
test_detect_shared_allow_lists_answer_alike_and_differing_ones_apart(void)
{
	struct det t;

	DET_INIT(&t,
	    R_DEST_EX("a", "dest in 198.51.100.0/24 or server_name ~ \"*.ok.example\"")
	    R_DEST_EX("b", "dest in 198.51.100.0/24 or server_name ~ \"*.ok.example\"")
	    R_DEST_EX("c", "dest in 198.51.100.0/25 or server_name ~ \"*.ok.example\"")
	    R_DEST_EX("d", "dest in 198.51.100.0/24 or server_name ~ \"*.ok2.example\"")
	    R_DEST_EX("e", "dest in 198.51.100.0/24 or dest_port in (6000)")
	    R_DEST_EX("h", "dest in 198.51.100.0/24 or dest_port in (5000)")
	    R_DEST_EX("f", "server_name ~ \"*.ok.example\" or dest in 198.51.100.0/24")
	    R_DEST_EX("g", "dest in 198.51.100.0/24 or server_name ~ \"*.ok.example\""),
	    64);
	/* 198.51.100.200: in the /24, not in the /25. Port 5000 (send_to). */
	send_to(&t, "10.0.0.1", "198.51.100.200", 800, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	char fired[16] = "";
	for (size_t i = 0; i < t.rec.n && strlen(fired) < sizeof fired - 1; i++)
		strncat(fired, t.rec.a[i].rule, 1);
	/* a, b, d, e, f, g, h except it (the /24); c does not (/25 only). */
	CHECK_EQ_S(fired, "c");
	/* Another destination, outside every list, on port 5000: only h excepts it. */
	send_to(&t, "10.0.0.2", "192.0.2.9", 800, PB_T0 + 1);
	detect_tick(t.d, t.n.hosts, PB_T0 + 1, PB_T0 + 1);
	fired[0] = '\0';
	for (size_t i = 1; i < t.rec.n && strlen(fired) < sizeof fired - 1; i++)
		strncat(fired, t.rec.a[i].rule, 1);
	CHECK_EQ_S(fired, "abcdefg");
	det_free(&t);
}

static void
test_detect_reload_recomputes_cached_exceptions(void)
{
	struct det t;
	struct ruleset *rs2 = NULL;
	struct rules_errors errs = { 0 };
	char err[256];
	static const char r2[] =
	    "rule d {\n  category bulk-transfer\n  when dest.out.bytes[10min] > 700\n"
	    "  except dest in 192.0.2.0/24\n  severity high\n  message \"{dest_ip}\"\n  suppress 1 s\n}\n";

	DET_INIT(&t, "rule d {\n  category bulk-transfer\n  when dest.out.bytes[10min] > 700\n"
	    "  except dest in 198.51.100.0/24\n  severity high\n  message \"{dest_ip}\"\n  suppress 1 s\n}\n", 64);
	send_to(&t, "10.0.0.1", "192.0.2.1", 800, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 1);		/* not excepted: fires, and the answer is cached */
	/* The same rule name now excepts that very destination. */
	CHECK(rules_parse(r2, strlen(r2), "t2.rules", NULL, 0, &rs2, &errs) == 0);
	CHECK(detect_set_rules(t.d, rs2, err, sizeof err) == 0);
	send_to(&t, "10.0.0.1", "192.0.2.1", 800, PB_T0 + 5 * PB_SEC);
	detect_tick(t.d, t.n.hosts, PB_T0 + 5 * PB_SEC, PB_T0 + 5 * PB_SEC);
	CHECK_EQ_U(t.rec.n, 1);		/* a stale cache would have fired an update */
	detect_free(t.d);
	t.d = NULL;
	ruleset_free(rs2);
	rules_errors_free(&errs);
	det_free(&t);
}

static void
test_detect_quiet_destination_still_evaluated_for_ratio_rules(void)
{
	struct det t;

	/* out/in over 10 min: the 'in' bytes age out first, so the ratio rises
	 * with no new traffic to that destination. */
	DET_INIT(&t, "rule q {\n  category bulk-transfer\n  when dest.out.ratio[10min] > 5\n"
	    "  severity low\n  message \"{dest_ip}\"\n}\n", 64);
	struct pkt in = pb_udp("192.0.2.1", 5000, "10.0.0.1", 40000, 900, PB_T0);
	struct pkt out = pb_udp("10.0.0.1", 40000, "192.0.2.1", 5000, 1000, PB_T0);
	pb_send(&t.n, &out);	/* 10.0.0.1 initiates */
	pb_send(&t.n, &in);
	out.ts_us = PB_T0 + 5 * 60 * PB_SEC;
	pb_send(&t.n, &out);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0 + 5 * 60 * PB_SEC);
	CHECK_EQ_U(t.rec.n, 0);		/* 2000 / 900 */
	/* Another destination keeps the host changed; 192.0.2.1 stays quiet. */
	uint64_t later = PB_T0 + 10 * 60 * PB_SEC;
	struct pkt o2 = pb_udp("10.0.0.1", 40001, "203.0.113.9", 5000, 10, later);
	struct pkt i2 = pb_udp("203.0.113.9", 5000, "10.0.0.1", 40001, 10, later);
	pb_send(&t.n, &o2);
	pb_send(&t.n, &i2);	/* ratio 1 there */
	detect_tick(t.d, t.n.hosts, later, later);
	CHECK_EQ_U(t.rec.n, 1);		/* the first minute aged out: 1000 / 1 */
	if (t.rec.n == 1)
		CHECK_EQ_S(t.rec.a[0].dest, "192.0.2.1");
	det_free(&t);
}

static void
test_detect_destination_named_at_flow_end_is_excepted(void)
{
	struct det t;

	DET_INIT(&t, "rule h {\n  category bulk-transfer\n  when host.out.bytes[10min] > 1000\n"
	    "  except server_name ~ \"*.ok.example\"\n  severity high\n  message \"{src_ip}\"\n}\n", 64);
	struct pkt p = pb_udp("10.0.0.1", 40000, "192.0.2.1", 5000, 800, PB_T0);
	struct flow *f = pb_send(&t.n, &p);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 0);
	/* The flow ends undetected; nDPI's final guess names it only now. */
	uint64_t later = PB_T0 + 20 * PB_SEC;
	pb_name(&t.n, f, "sync.ok.example");
	f->dpi_state = DPI_GAVE_UP;
	host_flow_classified(t.n.hosts, f, later);
	send_to(&t, "10.0.0.1", "203.0.113.1", 300, later);
	detect_tick(t.d, t.n.hosts, PB_T0 + PB_SEC, later);	/* the previous tick was at PB_T0 */
	CHECK_EQ_U(t.rec.n, 0);		/* 1100 sent, 800 of it excepted */
	det_free(&t);
}

static void
test_detect_hosts_scope_limits_rule_to_listed_hosts(void)
{
	struct det t;

	DET_INIT(&t,
	    "rule scoped {\n  category bulk-transfer\n  when host.out.bytes[10min] > 1000\n"
	    "  hosts 10.0.0.0/24, 10.9.9.9\n  severity high\n  message \"{src_ip}\"\n}\n", 64);
	send_to(&t, "10.0.1.5", "198.51.100.7", 5000, PB_T0);
	send_to(&t, "10.0.0.5", "198.51.100.7", 5000, PB_T0);
	send_to(&t, "10.9.9.9", "198.51.100.7", 5000, PB_T0);
	send_to(&t, "10.9.9.8", "198.51.100.7", 5000, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 2);
	int a = 0, b = 0;
	for (size_t i = 0; i < t.rec.n; i++) {
		a |= strcmp(t.rec.a[i].src, "10.0.0.5") == 0;
		b |= strcmp(t.rec.a[i].src, "10.9.9.9") == 0;
	}
	CHECK(a && b);
	CHECK_EQ_U(stats(&t).evaluations, 2);
	det_free(&t);
}

static void
test_detect_only_hosts_changed_since_are_evaluated(void)
{
	struct det t;

	DET_INIT(&t, R_GT, 64);
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, PB_T0);
	send_to(&t, "10.0.0.2", "198.51.100.7", 5000, PB_T0 + 10 * PB_SEC);
	detect_tick(t.d, t.n.hosts, PB_T0 + 5 * PB_SEC, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_S(t.rec.a[0].src, "10.0.0.2");
	CHECK_EQ_U(stats(&t).evaluations, 1);
	det_free(&t);
}

static void
test_detect_engagement_table_eviction_is_counted(void)
{
	struct det t;
	char a[32];

	DET_INIT(&t, R_GT, 2);
	for (int i = 1; i <= 3; i++) {
		snprintf(a, sizeof a, "10.0.0.%d", i);
		send_to(&t, a, "198.51.100.7", 5000, PB_T0 + (uint64_t)i);
		detect_tick(t.d, t.n.hosts, PB_T0 + (uint64_t)i, PB_T0 + (uint64_t)i);
	}
	CHECK_EQ_U(t.rec.n, 3);
	struct detect_stats st = stats(&t);
	CHECK_EQ_U(st.engaged, 2);
	CHECK_EQ_U(st.max_engaged, 2);
	CHECK_EQ_U(st.engaged_evicted, 1);
	/* The evicted engagement (10.0.0.1) fires as new again; .3 stays quiet. */
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, PB_T0 + 10);
	send_to(&t, "10.0.0.3", "198.51.100.7", 5000, PB_T0 + 10);
	detect_tick(t.d, t.n.hosts, PB_T0 + 10, PB_T0 + 10);
	CHECK_EQ_U(t.rec.n, 4);
	CHECK_EQ_S(t.rec.a[3].src, "10.0.0.1");
	CHECK_EQ_U(t.rec.a[3].state, ALERT_NEW);
	CHECK_EQ_U(stats(&t).engaged_evicted, 2);
	det_free(&t);
}

static void
test_detect_host_rule_not_dominant_when_bytes_spread(void)
{
	struct det t;

	DET_INIT(&t, R_GT, 64);
	send_to(&t, "10.0.0.1", "198.51.100.1", 400, PB_T0);
	send_to(&t, "10.0.0.1", "198.51.100.2", 400, PB_T0);
	send_to(&t, "10.0.0.1", "198.51.100.3", 400, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK(!t.rec.a[0].dominant);
	CHECK_EQ_U(t.rec.a[0].ndests, 3);
	/* No top-level destination (flows[] still name theirs). */
	CHECK(strstr(t.rec.a[0].json, "\"src_ip\":\"10.0.0.1\",\"community_id\"") != NULL);
	CHECK(strstr(t.rec.a[0].json, "\"app_proto\"") == NULL);
	det_free(&t);
}

static void
test_detect_set_rules_rejects_unknown_ndpi_names(void)
{
	struct det t;
	struct ruleset *bad = NULL;
	struct rules_errors errs = { 0 };
	const char *txt = "rule x {\n  category cloud-upload\n  when host.out.bytes[1h] > 1 GB\n"
	    "  except app in (NoSuchAppAnywhere)\n  severity low\n  message \"m\"\n}\n";
	char err[256] = "";

	DET_INIT(&t, R_GT, 64);
	CHECK_EQ_U(rules_parse(txt, strlen(txt), "bad.rules", NULL, 0, &bad, &errs), 0);
	if (bad != NULL) {
		CHECK_EQ_U(detect_set_rules(t.d, bad, err, sizeof err), -1);
		CHECK(strstr(err, "NoSuchAppAnywhere") != NULL);
		ruleset_free(bad);
	}
	rules_errors_free(&errs);
	/* The previous set is kept and still works. */
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 1);
	det_free(&t);
}

static void
test_detect_only_counts_just_the_matching_destinations(void)
{
	struct det t;

	DET_INIT(&t,
	    "rule o {\n  category cloud-upload\n  when host.out.bytes[10min] > 1000\n"
	    "  only dest in 198.51.100.0/24 or dest_port in (9999)\n  severity high\n"
	    "  message \"{host.out.bytes}\"\n}\n", 64);
	/* 900 B to a matching address, 5000 B elsewhere: 900 counts, quiet. */
	send_to(&t, "10.0.0.1", "198.51.100.7", 900, PB_T0);
	send_to(&t, "10.0.0.1", "203.0.113.9", 5000, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 0);
	/* 101 B more to another matching address: 1001 > 1000. */
	send_to(&t, "10.0.0.1", "198.51.100.8", 101, PB_T0 + 1);
	detect_tick(t.d, t.n.hosts, PB_T0 + 1, PB_T0 + 1);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_U(t.rec.a[0].bytes_out, 1001);
	CHECK_EQ_S(t.rec.a[0].message, "1.00 KB");
	/* The non-matching destination is not in the evidence either. */
	CHECK(strstr(t.rec.a[0].json, "203.0.113.9") == NULL);
	det_free(&t);
}

static void
test_detect_dest_alert_names_its_flow_with_community_id(void)
{
	struct det t;

	DET_INIT(&t,
	    "rule d {\n  category bulk-transfer\n  when dest.out.bytes[10min] > 1000\n  severity high\n"
	    "  message \"{dest_ip}\"\n}\n", 64);
	send_to(&t, "10.0.0.1", "198.51.100.7", 5000, PB_T0);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 1);
	/* The open flow: 5-tuple as its initiator sent it, bytes, a Community ID. */
	CHECK(strstr(t.rec.a[0].json, "\"flows\":[{\"src_ip\":\"10.0.0.1\",\"src_port\":40000,"
	    "\"dest_ip\":\"198.51.100.7\",\"dest_port\":5000,\"proto\":\"UDP\",") != NULL);
	CHECK(strstr(t.rec.a[0].json, "\"bytes_out\":5000,\"bytes_in\":0,\"app\":") != NULL);
	CHECK(strstr(t.rec.a[0].json, "\"community_id\":\"1:") != NULL);
	det_free(&t);
}

/* A flow to dst of bytes, then nDPI's verdict on it (master/app ids, risk bit or -1). */
static void
send_classified(struct det *t, const char *dst, uint32_t bytes, int master, int risk_bit)
{
	struct pkt p = pb_udp("10.0.0.1", 40000, dst, 5000, bytes, PB_T0);
	struct flow *f = pb_send(&t->n, &p);

	f->app_master = (uint16_t)master;
	f->app_risk = risk_bit >= 0 ? 1ULL << risk_bit : 0;
	f->dpi_state = DPI_DONE;
	host_flow_classified(t->n.hosts, f, PB_T0);
}

static void
test_detect_only_risk_in_counts_just_flagged_destinations(void)
{
	struct det t;
	int nonstd = dpi_risk_lookup("known_protocol_on_non-standard port");
	int binary = dpi_risk_lookup("Binary Application Transfer");

	CHECK(nonstd > 0 && binary > 0 && nonstd != binary);
	DET_INIT(&t, "rule u {\n  category unusual-protocol\n  when dest.out.bytes[10min] > 1000\n"
	    "  only risk in (\"Known Protocol on Non Standard Port\")\n  severity medium\n"
	    "  message \"{dest_ip}\"\n}\n", 64);
	send_classified(&t, "198.51.100.1", 1500, 0, nonstd);
	send_classified(&t, "198.51.100.2", 1500, 0, binary);
	send_classified(&t, "198.51.100.3", 1500, 0, -1);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_S(t.rec.a[0].dest, "198.51.100.1");
	det_free(&t);
}

static void
test_detect_app_unknown_matches_only_flows_ndpi_gave_up_on(void)
{
	struct det t;

	DET_INIT(&t, "rule u {\n  category unusual-protocol\n  when dest.out.bytes[10min] > 1000\n"
	    "  only app in (Unknown)\n  severity medium\n  message \"{dest_ip}\"\n}\n", 64);
	send_to(&t, "10.0.0.1", "198.51.100.1", 1500, PB_T0);		/* still being inspected */
	send_classified(&t, "198.51.100.2", 1500, 0, -1);		/* nDPI named nothing */
	send_classified(&t, "198.51.100.3", 1500, dpi_proto_lookup(t.dpi, "TLS"), -1);
	detect_tick(t.d, t.n.hosts, PB_T0, PB_T0);
	CHECK_EQ_U(t.rec.n, 1);
	CHECK_EQ_S(t.rec.a[0].dest, "198.51.100.2");
	det_free(&t);
}

static void
test_detect_set_rules_rejects_unknown_risk_name_at_its_position(void)
{
	struct det t;
	struct ruleset *bad = NULL;
	struct rules_errors errs = { 0 };
	const char *txt = "rule x {\n  category unusual-protocol\n  when dest.out.bytes[1h] > 1 GB\n"
	    "  only risk in (Unsafe_Protocol, \"No Such Risk\")\n  severity low\n  message \"m\"\n}\n";
	char err[256] = "";

	DET_INIT(&t, R_GT, 64);
	CHECK_EQ_U(rules_parse(txt, strlen(txt), "bad.rules", NULL, 0, &bad, &errs), 0);
	if (bad != NULL) {
		CHECK_EQ_U(detect_set_rules(t.d, bad, err, sizeof err), -1);
		CHECK(strstr(err, "bad.rules:4:34: rule x: nDPI knows no risk named 'No Such Risk'") != NULL);
		ruleset_free(bad);
	}
	rules_errors_free(&errs);
	det_free(&t);
}

#define R_OFF \
	"workhours Mon-Fri 08:00-18:00 Europe/Berlin\n" \
	"rule off {\n" \
	"  category bulk-transfer\n" \
	"  when host.out.bytes[10min] > 1000\n" \
	"  severity high\n" \
	"  score 60\n" \
	"  offhours 2\n" \
	"  message \"{src_ip}\"\n" \
	"}\n"

/* One host sends bytes at ts; returns the alerts (0 or 1) with off-hours weighting. */
static size_t
offhours_run(uint64_t ts, uint32_t bytes, char *json, size_t len)
{
	struct det t;
	size_t n;

	if (det_init(&t, R_OFF, 64) != 0) {
		det_free(&t);
		return 99;
	}
	send_to(&t, "10.0.0.1", "198.51.100.7", bytes, ts);
	detect_tick(t.d, t.n.hosts, ts, ts);
	n = t.rec.n;
	snprintf(json, len, "%s", n ? t.rec.a[0].json : "");
	det_free(&t);
	return n;
}

#define UTC(s) ((uint64_t)(s) * PB_SEC)

static void
test_detect_offhours_inside_hours_keeps_threshold(void)
{
	char js[ALERT_JSON_MAX];

	/* Monday 2026-03-02 09:00 UTC = 10:00 in Berlin (CET): working hours. */
	CHECK_EQ_U(offhours_run(PB_T0, 1000, js, sizeof js), 0);
	CHECK_EQ_U(offhours_run(PB_T0, 1001, js, sizeof js), 1);
	CHECK(strstr(js, "\"score\":60,") != NULL);
	CHECK(strstr(js, "offhours") == NULL);
}

static void
test_detect_offhours_outside_hours_halves_threshold_and_doubles_score(void)
{
	char js[ALERT_JSON_MAX];
	uint64_t evening = PB_T0 + 8 * PB_HOUR + 30 * PB_MIN;	/* 17:30 UTC = 18:30 CET */

	CHECK_EQ_U(offhours_run(evening, 500, js, sizeof js), 0);	/* 1000 / 2, not above */
	CHECK_EQ_U(offhours_run(evening, 501, js, sizeof js), 1);
	CHECK(strstr(js, "\"score\":100,\"offhours\":true,") != NULL);	/* 60 x 2, capped */
	/* Saturday 2026-03-07 10:00 CET: the weekend is off hours all day. */
	CHECK_EQ_U(offhours_run(PB_T0 + 5 * 24 * PB_HOUR, 501, js, sizeof js), 1);
}

static void
test_detect_offhours_follows_daylight_saving_time_in_the_zone(void)
{
	char js[ALERT_JSON_MAX];

	/* 16:30 UTC on Monday 2026-03-23 is 17:30 CET: still working hours. */
	CHECK_EQ_U(offhours_run(UTC(1774283400), 501, js, sizeof js), 0);
	/* 16:30 UTC on Monday 2026-03-30 is 18:30 CEST (DST began on the 29th): off hours. */
	CHECK_EQ_U(offhours_run(UTC(1774888200), 501, js, sizeof js), 1);
}

static void
test_detect_set_rules_rejects_unknown_zone_at_its_position(void)
{
	struct det t;
	struct ruleset *bad = NULL;
	struct rules_errors errs = { 0 };
	const char *txt = "workhours Mon-Fri 08:00-18:00 Europe/Atlantis\n" R_GT;
	char err[512] = "";

	DET_INIT(&t, R_GT, 64);
	CHECK_EQ_U(rules_parse(txt, strlen(txt), "bad.rules", NULL, 0, &bad, &errs), 0);
	if (bad != NULL) {
		CHECK_EQ_U(detect_set_rules(t.d, bad, err, sizeof err), -1);
		CHECK(strstr(err, "bad.rules:1:31: workhours: unknown time zone 'Europe/Atlantis'") != NULL);
		ruleset_free(bad);
	}
	rules_errors_free(&errs);
	det_free(&t);
}

T_MAIN("detect",
    T(test_detect_gt_fires_above_threshold_not_at_it),
    T(test_detect_ge_fires_at_threshold_exactly),
    T(test_detect_suppresses_then_updates_after_suppress_time),
    T(test_detect_new_engagement_after_condition_false_longer_than_suppress),
    T(test_detect_dest_rule_fires_per_destination_with_it_dominant),
    T(test_detect_except_dest_in_removes_that_destinations_bytes),
    T(test_detect_shared_allow_lists_answer_alike_and_differing_ones_apart),
    T(test_detect_reload_recomputes_cached_exceptions),
    T(test_detect_quiet_destination_still_evaluated_for_ratio_rules),
    T(test_detect_destination_named_at_flow_end_is_excepted),
    T(test_detect_hosts_scope_limits_rule_to_listed_hosts),
    T(test_detect_only_hosts_changed_since_are_evaluated),
    T(test_detect_engagement_table_eviction_is_counted),
    T(test_detect_host_rule_not_dominant_when_bytes_spread),
    T(test_detect_set_rules_rejects_unknown_ndpi_names),
    T(test_detect_only_counts_just_the_matching_destinations),
    T(test_detect_dest_alert_names_its_flow_with_community_id),
    T(test_detect_only_risk_in_counts_just_flagged_destinations),
    T(test_detect_app_unknown_matches_only_flows_ndpi_gave_up_on),
    T(test_detect_set_rules_rejects_unknown_risk_name_at_its_position),
    T(test_detect_offhours_inside_hours_keeps_threshold),
    T(test_detect_offhours_outside_hours_halves_threshold_and_doubles_score),
    T(test_detect_offhours_follows_daylight_saving_time_in_the_zone),
    T(test_detect_set_rules_rejects_unknown_zone_at_its_position))
