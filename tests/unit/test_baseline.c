/*
 * test_baseline - hourly baselines over synthetic hours: the rule fires at
 * the margin and not just below it, never while learning or below the
 * minimum volume; an alerting hour is not learned (no poisoning); the state
 * file round-trips and a corrupt one is ignored; the table is bounded.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <math.h>

#include "t.h"
#include "alert.h"
#include "baseline.h"
#include "detect.h"
#include "json.h"
#include "pktbuild.h"
#include "sensor.h"

#define HOST "10.0.0.1"

struct bt {
	struct pb_net n;
	struct sensor_config cfg;
	struct dpi *dpi;
	struct baseline_mod *m;
	struct ruleset *rs;
	struct detect *d;
	size_t alerts;
	char last_msg[512];
	struct subject seen[32];
	size_t nseen;
	uint64_t last_tick;
};

static void
on_alert(void *ctx, const struct alert *a)
{
	struct bt *t = ctx;

	t->alerts++;
	snprintf(t->last_msg, sizeof t->last_msg, "%s", a->message);
}

static int
bt_init(struct bt *t, const char *rules, size_t max_hosts, int dirfd)
{
	char err[256];
	struct rules_errors errs = { 0 };
	struct detect_config dc = { .sensor_name = "t", .max_engaged = 64, .run_id = 1, .seed = 3 };
	struct detector_env env = { .cfg = &t->cfg, .state_dirfd = dirfd, .seed = 5 };

	memset(t, 0, sizeof *t);
	sensor_config_defaults(&t->cfg);
	t->cfg.max_baseline_hosts = max_hosts;
	if (pb_net_init(&t->n, 256, 64, 256) != 0 || (t->dpi = dpi_new(err, sizeof err)) == NULL)
		return -1;
	env.dpi = t->dpi;
	env.hosts = t->n.hosts;
	if ((t->m = baseline_new(&env, err, sizeof err)) == NULL)
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
	detect_register(t->d, &baseline_ops, t->m);
	if (detect_set_rules(t->d, t->rs, err, sizeof err) != 0) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	return 0;
}

static void
bt_free(struct bt *t)
{
	detect_free(t->d);
	ruleset_free(t->rs);
	if (t->m != NULL)
		baseline_ops.free(t->m);
	dpi_free(t->dpi);
	pb_net_free(&t->n);
}

#define BT_INIT(t, rules, max, fd) do { if (bt_init(t, rules, max, fd) != 0) { \
	CHECK(!"bt_init"); bt_free(t); return; } } while (0)

/* The sensor's tick: modules first, then the rules (as sensor.c does). */
static void
tick(struct bt *t, uint64_t now)
{
	baseline_ops.tick(t->m, now);
	if (t->d != NULL)
		detect_tick(t->d, t->n.hosts, t->last_tick, now);
	t->last_tick = now;
}

/* Hour k: the host sends out bytes (and gets in back) a minute in; ticks follow. */
static void
hour_traffic(struct bt *t, const char *host, unsigned k, uint64_t out, uint64_t in)
{
	uint64_t at = PB_T0 + k * PB_HOUR + PB_MIN;

	while (out > 0) {
		uint32_t n = out > 60000 ? 60000 : (uint32_t)out;
		struct pkt p = pb_udp(host, 40000, "198.51.100.7", 5000, n, at);
		pb_send(&t->n, &p);
		out -= n;
	}
	if (in > 0) {
		struct pkt p = pb_udp("198.51.100.7", 5000, host, 40000, (uint32_t)in, at);
		pb_send(&t->n, &p);
	}
	tick(t, at + PB_SEC);
}

/* Learns hours 0..n-1 of out bytes each (in: a tenth), ticking into hour n. */
static void
learn(struct bt *t, unsigned n, uint64_t out)
{
	for (unsigned k = 0; k < n; k++)
		hour_traffic(t, HOST, k, out + (k % 2) * out / 10, out / 10);
}

static void
record(void *vctx, const struct subject *s)
{
	struct bt *t = vctx;

	if (t->nseen < sizeof t->seen / sizeof t->seen[0])
		t->seen[t->nseen++] = *s;
}

/* A baseline metric of the host at now (-1 if the host has no entry). */
static double
metric(struct bt *t, enum metric_id id, uint64_t now)
{
	struct rule_cond c = { .metric = id, .op = RULE_OP_GT };

	t->nseen = 0;
	baseline_ops.each(t->m, 0, now, record, t);
	return t->nseen ? baseline_ops.value(t->m, &t->seen[0], &c, now) : -1;
}

static void
stats_text(struct bt *t, char *buf, size_t len)
{
	struct json j;

	json_init(&j, buf, len);
	json_obj_open(&j, NULL);
	baseline_ops.stats(t->m, &j);
	json_obj_close(&j);
}

#define R_BASE(hours, min) \
	"rule b {\n" \
	"  category baseline-anomaly\n" \
	"  when baseline.hours >= " #hours " and baseline.out.bytes > " #min " and baseline.out.excess >= 2\n" \
	"  severity medium\n" \
	"  message \"{src_ip} {baseline.out.bytes}\"\n" \
	"}\n"

static void
test_baseline_fires_at_the_margin_not_just_below(void)
{
	struct bt t;
	uint64_t at = PB_T0 + 10 * PB_HOUR + PB_MIN;

	BT_INIT(&t, R_BASE(10, 1000), 64, -1);
	learn(&t, 10, 1000000);
	hour_traffic(&t, HOST, 10, 1000, 0);
	CHECK_EQ_U((uint64_t)metric(&t, M_BASELINE_HOURS, at), 10);
	double ex = metric(&t, M_BASELINE_OUT_EXCESS, at + PB_SEC);
	CHECK(ex > 0);
	double upper = 1000.0 / ex;
	CHECK(upper > 1000000 && upper < 1400000);	/* forecast ~1.05 MB + a band */
	uint64_t target = (uint64_t)ceil(2 * upper);
	struct pkt p = pb_udp(HOST, 40000, "198.51.100.7", 5000, (uint32_t)(target - 1 - 1000), at + 2 * PB_SEC);
	pb_send(&t.n, &p);
	tick(&t, at + 3 * PB_SEC);
	CHECK_EQ_U(t.alerts, 0);			/* one byte short of twice the band's top */
	p = pb_udp(HOST, 40000, "198.51.100.7", 5000, 1, at + 4 * PB_SEC);
	pb_send(&t.n, &p);
	tick(&t, at + 5 * PB_SEC);
	CHECK_EQ_U(t.alerts, 1);			/* at the margin, while the hour runs */
	bt_free(&t);
}

static void
test_baseline_quiet_while_learning(void)
{
	struct bt t;

	BT_INIT(&t, R_BASE(10, 1000), 64, -1);
	learn(&t, 9, 1000000);
	hour_traffic(&t, HOST, 9, 50000000, 0);		/* 50 x the usual, 9 hours learned */
	CHECK_EQ_U(t.alerts, 0);
	CHECK_EQ_U((uint64_t)metric(&t, M_BASELINE_HOURS, PB_T0 + 9 * PB_HOUR + 2 * PB_MIN), 9);
	CHECK(metric(&t, M_BASELINE_OUT_EXCESS, PB_T0 + 9 * PB_HOUR + 2 * PB_MIN) > 2);
	bt_free(&t);
}

static void
test_baseline_quiet_below_the_minimum_volume(void)
{
	struct bt t;

	BT_INIT(&t, R_BASE(10, 100000), 64, -1);
	learn(&t, 10, 1000);				/* an idle host: a kilobyte an hour */
	hour_traffic(&t, HOST, 10, 90000, 0);		/* 90 x its norm, but under 100 kB */
	CHECK(metric(&t, M_BASELINE_OUT_EXCESS, PB_T0 + 10 * PB_HOUR + 2 * PB_MIN) > 2);
	CHECK_EQ_U(t.alerts, 0);
	/* 10001 more in the same hour: above the minimum, so it fires. */
	struct pkt p = pb_udp(HOST, 40000, "198.51.100.7", 5000, 10001, PB_T0 + 10 * PB_HOUR + 3 * PB_MIN);
	pb_send(&t.n, &p);
	tick(&t, PB_T0 + 10 * PB_HOUR + 4 * PB_MIN);
	CHECK_EQ_U(t.alerts, 1);
	bt_free(&t);
}

static void
test_baseline_alerting_hours_are_not_learned(void)
{
	struct bt t;
	char st[512];

	BT_INIT(&t, R_BASE(10, 1000), 64, -1);
	learn(&t, 10, 1000000);
	hour_traffic(&t, HOST, 10, 100000000, 0);	/* the exfiltration hour */
	CHECK_EQ_U(t.alerts, 1);
	hour_traffic(&t, HOST, 11, 1000000, 0);	/* back to normal: hour 10 closes */
	uint64_t now = PB_T0 + 11 * PB_HOUR + 2 * PB_MIN;
	CHECK_EQ_U((uint64_t)metric(&t, M_BASELINE_HOURS, now), 10);
	/* The band still expects ~1 MB, not a blend with 100 MB. */
	CHECK(metric(&t, M_BASELINE_OUT_EXCESS, now) > 0.5);
	stats_text(&t, st, sizeof st);
	CHECK(strstr(st, "\"hours_skipped_alerting\":1") != NULL);
	/* Any medium alert of the host (another detector's) also keeps its hour out. */
	struct rule r = { .category = CAT_BULK_TRANSFER, .severity = SEV_MEDIUM };
	struct alert a = { .rule = &r, .ts_us = now, .src = pb_ip(HOST) };
	baseline_ops.alerted(t.m, &a);
	hour_traffic(&t, HOST, 12, 1000000, 0);
	CHECK_EQ_U((uint64_t)metric(&t, M_BASELINE_HOURS, PB_T0 + 12 * PB_HOUR + 2 * PB_MIN), 10);
	bt_free(&t);
}

/* A fresh state directory; its fd, or -1. */
static int
state_dir(char *path, size_t len)
{
	snprintf(path, len, "/tmp/outflow-test-baseline-XXXXXX");
	return mkdtemp(path) ? open(path, O_RDONLY | O_DIRECTORY) : -1;
}

static void
state_dir_free(int fd, const char *path)
{
	unlinkat(fd, BASELINE_STATE_FILE, 0);
	close(fd);
	rmdir(path);
}

static void
test_baseline_state_round_trip_and_corruption_ignored(void)
{
	char dir[64], st[512];
	int fd = state_dir(dir, sizeof dir);
	struct bt t, u;
	uint64_t now = PB_T0 + 6 * PB_HOUR + 2 * PB_MIN;
	double ex;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	BT_INIT(&t, NULL, 64, fd);
	learn(&t, 6, 1000000);
	hour_traffic(&t, HOST, 6, 3000000, 0);
	ex = metric(&t, M_BASELINE_OUT_EXCESS, now);
	CHECK_EQ_U(baseline_save(t.m), 0);
	bt_free(&t);

	/* A restart: same baselines (the host table is new, so replay the hour). */
	BT_INIT(&u, NULL, 64, fd);
	hour_traffic(&u, HOST, 6, 3000000, 0);
	CHECK_EQ_U((uint64_t)metric(&u, M_BASELINE_HOURS, now), 6);
	CHECK(fabs(metric(&u, M_BASELINE_OUT_EXCESS, now) - ex) < 1e-9);
	stats_text(&u, st, sizeof st);
	CHECK(strstr(st, "\"state_loaded\":1,") != NULL);
	bt_free(&u);

	/* One flipped byte: reported, ignored, baselines start afresh. */
	int f = openat(fd, BASELINE_STATE_FILE, O_RDWR);
	unsigned char b;
	CHECK(f >= 0 && pread(f, &b, 1, 40) == 1);
	b ^= 0x40;
	CHECK(f >= 0 && pwrite(f, &b, 1, 40) == 1);
	close(f);
	BT_INIT(&u, NULL, 64, fd);
	stats_text(&u, st, sizeof st);
	CHECK(strstr(st, "\"state_loaded\":0,\"state_load_errors\":1") != NULL);
	hour_traffic(&u, HOST, 6, 3000000, 0);
	CHECK_EQ_U((uint64_t)metric(&u, M_BASELINE_HOURS, now), 0);
	bt_free(&u);

	/* Truncated: the same. */
	f = openat(fd, BASELINE_STATE_FILE, O_RDWR);
	CHECK(f >= 0 && ftruncate(f, 30) == 0);
	close(f);
	BT_INIT(&u, NULL, 64, fd);
	stats_text(&u, st, sizeof st);
	CHECK(strstr(st, "\"state_load_errors\":1") != NULL);
	bt_free(&u);
	state_dir_free(fd, dir);
}

static void
test_baseline_table_is_bounded_and_evictions_counted(void)
{
	struct bt t;
	char st[512], ip[32];

	BT_INIT(&t, NULL, 16, -1);
	for (int i = 0; i < 17; i++) {
		snprintf(ip, sizeof ip, "10.0.1.%d", i + 1);
		hour_traffic(&t, ip, (unsigned)i, 1000, 0);
	}
	stats_text(&t, st, sizeof st);
	CHECK(strstr(st, "\"hosts\":16,\"max_hosts\":16,\"evicted\":1") != NULL);
	if (strstr(st, "\"evicted\":1") == NULL)
		fprintf(stderr, "  %s\n", st);
	bt_free(&t);
}

T_MAIN("baseline",
    T(test_baseline_fires_at_the_margin_not_just_below),
    T(test_baseline_quiet_while_learning),
    T(test_baseline_quiet_below_the_minimum_volume),
    T(test_baseline_alerting_hours_are_not_learned),
    T(test_baseline_state_round_trip_and_corruption_ignored),
    T(test_baseline_table_is_bounded_and_evictions_counted))
