/*
 * test_risk - per-host risk: alerts add their scores over the window, the
 * roll-up fires at its threshold and not just below, names its
 * contributors, counts each engagement once, never counts itself, and its
 * tables are bounded.
 */
#include "t.h"
#include "modharness.h"
#include "risk.h"

#define R_CONTRIB \
	"rule a {\n  category bulk-transfer\n  when host.out.bytes[1h] > 1 TB\n  severity high\n  message \"x\"\n}\n" \
	"rule b {\n  category staging\n  when host.out.bytes[1h] > 1 TB\n  severity high\n  message \"x\"\n}\n" \
	"rule c {\n  category new-destination\n  when host.out.bytes[1h] > 1 TB\n  severity low\n  message \"x\"\n}\n"

#define R_RISK(cond) R_CONTRIB \
	"rule hr {\n  category host-risk\n  when " cond "\n  severity high\n" \
	"  message \"{src_ip} {risk.score} {detail}\"\n}\n"

#define R_DEFAULT R_RISK("risk.score[1h] >= 100")
#define RULE_A 0
#define RULE_B 1
#define RULE_C 2

#define SETUP(h, rules, cap) MH_SETUP(h, rules, risk, \
	(h)->cfg.max_risk = (cap))

/* Another detector's alert as detect.c hands it to the alerted hook. */
static void
alert_from(struct mh *h, const char *host, int rule, uint8_t score, const char *eng, uint64_t ts)
{
	static unsigned seq;
	struct alert a;

	memset(&a, 0, sizeof a);
	a.rule = &h->rs->rules[rule];
	a.src = pb_ip(host);
	a.score = score;
	a.ts_us = ts;
	snprintf(a.id, sizeof a.id, "x-%u", ++seq);
	snprintf(a.engagement_id, sizeof a.engagement_id, "%s", eng ? eng : a.id);
	h->ops[0]->alerted(h->mod[0], &a);
}

static void
test_risk_fires_at_threshold_not_below(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 64);
	alert_from(&h, "10.0.0.5", RULE_A, 60, NULL, PB_T0);
	alert_from(&h, "10.0.0.5", RULE_B, 39, NULL, PB_T0 + PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);	/* 99 */
	alert_from(&h, "10.0.0.5", RULE_C, 1, NULL, PB_T0 + 11 * PB_SEC);
	mh_tick(&h, PB_T0 + 10 * PB_SEC, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	CHECK_EQ_S(h.rec[0].rule, "hr");
	CHECK_EQ_S(h.rec[0].src, "10.0.0.5");
	CHECK_EQ_S(h.rec[0].message, "10.0.0.5 100 a (60), b (39), c (1)");
	/* The contributors: ids, rules, categories, scores, times. */
	CHECK(strstr(h.rec[0].json, "\"risk\":{\"score\":100,\"alerts\":3,\"contributors\":[{\"alert_id\":\"x-") != NULL);
	CHECK(strstr(h.rec[0].json, "\"rule\":\"b\",\"category\":\"staging\",\"score\":39,"
	    "\"time\":\"2026-03-02T09:00:01.000000+0000\"}") != NULL);
	mh_free(&h);
}

/* An engagement's updates are one alert, not a stream of risk. */
static void
test_risk_counts_each_engagement_once(void)
{
	struct mh h;
	char st[512];

	SETUP(&h, R_DEFAULT, 64);
	for (int i = 0; i < 5; i++)
		alert_from(&h, "10.0.0.5", RULE_A, 60, "eng-1", PB_T0 + (uint64_t)i * PB_MIN);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_MIN);
	CHECK_EQ_U(h.nrec, 0);
	mh_stats(&h, 0, st, sizeof st);
	CHECK(strstr(st, "\"alerts_counted\":1,\"updates_ignored\":4,") != NULL);
	mh_free(&h);
}

/* The roll-up is never its own contributor. */
static void
test_risk_does_not_count_host_risk_alerts(void)
{
	struct mh h;
	char st[512];

	SETUP(&h, R_DEFAULT, 64);
	alert_from(&h, "10.0.0.5", RULE_A, 70, NULL, PB_T0);
	alert_from(&h, "10.0.0.5", RULE_B, 80, NULL, PB_T0);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);	/* it went through the alerted hook too */
	mh_stats(&h, 0, st, sizeof st);
	CHECK(strstr(st, "\"alerts_counted\":2,") != NULL);
	/* Engaged: later ticks do not repeat it. */
	mh_tick(&h, PB_T0 + 10 * PB_SEC, PB_T0 + 20 * PB_SEC);
	alert_from(&h, "10.0.0.5", RULE_C, 20, NULL, PB_T0 + 21 * PB_SEC);
	mh_tick(&h, PB_T0 + 20 * PB_SEC, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
}

static void
test_risk_window_drops_old_alerts(void)
{
	struct mh h;
	uint64_t now = PB_T0 + PB_HOUR + PB_MIN;

	SETUP(&h, R_DEFAULT, 64);
	alert_from(&h, "10.0.0.5", RULE_A, 60, NULL, PB_T0);	/* 61 min before now */
	alert_from(&h, "10.0.0.5", RULE_B, 50, NULL, now - PB_SEC);
	mh_tick(&h, now - PB_SEC, now);
	CHECK_EQ_U(h.nrec, 0);
	alert_from(&h, "10.0.0.5", RULE_C, 50, NULL, now);
	mh_tick(&h, now, now);
	CHECK_EQ_U(h.nrec, 1);
	CHECK(strstr(h.rec[0].json, "\"alerts\":2,") != NULL);	/* the old one is not listed */
	mh_free(&h);
}

static void
test_risk_categories_condition(void)
{
	struct mh h;

	SETUP(&h, R_RISK("risk.score[1h] >= 100 and risk.categories[1h] >= 2"), 64);
	alert_from(&h, "10.0.0.5", RULE_A, 70, NULL, PB_T0);
	alert_from(&h, "10.0.0.5", RULE_A, 70, NULL, PB_T0);
	mh_tick(&h, PB_T0, PB_T0 + PB_SEC);
	CHECK_EQ_U(h.nrec, 0);	/* 140, one category */
	alert_from(&h, "10.0.0.5", RULE_C, 1, NULL, PB_T0 + 2 * PB_SEC);
	mh_tick(&h, PB_T0 + PB_SEC, PB_T0 + 3 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
}

/* A full list folds its oldest contributors into a total that still counts. */
static void
test_risk_contributors_bounded_older_still_count(void)
{
	struct mh h;
	char st[512];

	SETUP(&h, R_RISK("risk.score[1h] >= 200"), 64);
	for (int i = 0; i < RISK_MAX_CONTRIB + 4; i++)
		alert_from(&h, "10.0.0.5", RULE_A, 10, NULL, PB_T0 + (uint64_t)i * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + PB_MIN);
	CHECK_EQ_U(h.nrec, 1);
	CHECK(strstr(h.rec[0].json, "\"risk\":{\"score\":200,\"alerts\":20,") != NULL);
	CHECK(strstr(h.rec[0].json, "\"older\":{\"alerts\":4,\"score\":40}") != NULL);
	mh_stats(&h, 0, st, sizeof st);
	CHECK(strstr(st, "\"contributors_folded\":4,") != NULL);
	mh_free(&h);
}

static void
test_risk_host_table_bounded_counts_evictions(void)
{
	struct mh h;
	char ip[32], st[512];

	SETUP(&h, R_DEFAULT, 16);
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof ip, "10.0.4.%d", i + 1);
		alert_from(&h, ip, RULE_A, 10, NULL, PB_T0 + (uint64_t)i);
	}
	mh_stats(&h, 0, st, sizeof st);
	CHECK(strstr(st, "\"hosts\":16,\"max_hosts\":16,") != NULL);
	CHECK(strstr(st, "\"evicted\":4") != NULL);
	mh_free(&h);
}

T_MAIN("risk",
    T(test_risk_fires_at_threshold_not_below),
    T(test_risk_counts_each_engagement_once),
    T(test_risk_does_not_count_host_risk_alerts),
    T(test_risk_window_drops_old_alerts),
    T(test_risk_categories_condition),
    T(test_risk_contributors_bounded_older_still_count),
    T(test_risk_host_table_bounded_counts_evictions))
