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
#include "baseline.h"
#include "modharness.h"

#define HOST "10.0.0.1"

#define SETUP(h, rules, max, fd) MH_SETUP(h, rules, baseline, \
	(h)->cfg.max_baseline_hosts = (max), (h)->env.state_dirfd = (fd), (h)->env.seed = 5)

/* Hour k: the host sends out bytes (and gets in back) a minute in; ticks follow. */
static void
hour_traffic(struct mh *h, const char *host, unsigned k, uint64_t out, uint64_t in)
{
	uint64_t at = PB_T0 + k * PB_HOUR + PB_MIN;

	while (out > 0) {
		uint32_t n = out > 60000 ? 60000 : (uint32_t)out;
		struct pkt p = pb_udp(host, 40000, "198.51.100.7", 5000, n, at);
		pb_send(&h->n, &p);
		out -= n;
	}
	if (in > 0) {
		struct pkt p = pb_udp("198.51.100.7", 5000, host, 40000, (uint32_t)in, at);
		pb_send(&h->n, &p);
	}
	mh_tick_to(h, at + PB_SEC);
}

/* Learns hours 0..n-1 of out bytes each (in: a tenth), ticking into hour n. */
static void
learn(struct mh *h, unsigned n, uint64_t out)
{
	for (unsigned k = 0; k < n; k++)
		hour_traffic(h, HOST, k, out + (k % 2) * out / 10, out / 10);
}

/* A baseline metric of the host at now (-1 if the host has no entry). */
static double
metric(struct mh *h, enum metric_id id, uint64_t now)
{
	return mh_visit(h, 0, now) ? mh_value(h, 0, &h->seen[0], id, 0, now) : -1;
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
	struct mh h;
	uint64_t at = PB_T0 + 10 * PB_HOUR + PB_MIN;

	SETUP(&h, R_BASE(10, 1000), 64, -1);
	learn(&h, 10, 1000000);
	hour_traffic(&h, HOST, 10, 1000, 0);
	CHECK_EQ_U((uint64_t)metric(&h, M_BASELINE_HOURS, at), 10);
	double ex = metric(&h, M_BASELINE_OUT_EXCESS, at + PB_SEC);
	CHECK(ex > 0);
	double upper = 1000.0 / ex;
	CHECK(upper > 1000000 && upper < 1400000);	/* forecast ~1.05 MB + a band */
	uint64_t target = (uint64_t)ceil(2 * upper);
	struct pkt p = pb_udp(HOST, 40000, "198.51.100.7", 5000, (uint32_t)(target - 1 - 1000), at + 2 * PB_SEC);
	pb_send(&h.n, &p);
	mh_tick_to(&h, at + 3 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);			/* one byte short of twice the band's top */
	p = pb_udp(HOST, 40000, "198.51.100.7", 5000, 1, at + 4 * PB_SEC);
	pb_send(&h.n, &p);
	mh_tick_to(&h, at + 5 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);			/* at the margin, while the hour runs */
	mh_free(&h);
}

static void
test_baseline_quiet_while_learning(void)
{
	struct mh h;

	SETUP(&h, R_BASE(10, 1000), 64, -1);
	learn(&h, 9, 1000000);
	hour_traffic(&h, HOST, 9, 50000000, 0);		/* 50 x the usual, 9 hours learned */
	CHECK_EQ_U(h.nrec, 0);
	CHECK_EQ_U((uint64_t)metric(&h, M_BASELINE_HOURS, PB_T0 + 9 * PB_HOUR + 2 * PB_MIN), 9);
	CHECK(metric(&h, M_BASELINE_OUT_EXCESS, PB_T0 + 9 * PB_HOUR + 2 * PB_MIN) > 2);
	mh_free(&h);
}

static void
test_baseline_quiet_below_the_minimum_volume(void)
{
	struct mh h;

	SETUP(&h, R_BASE(10, 100000), 64, -1);
	learn(&h, 10, 1000);				/* an idle host: a kilobyte an hour */
	hour_traffic(&h, HOST, 10, 90000, 0);		/* 90 x its norm, but under 100 kB */
	CHECK(metric(&h, M_BASELINE_OUT_EXCESS, PB_T0 + 10 * PB_HOUR + 2 * PB_MIN) > 2);
	CHECK_EQ_U(h.nrec, 0);
	/* 10001 more in the same hour: above the minimum, so it fires. */
	struct pkt p = pb_udp(HOST, 40000, "198.51.100.7", 5000, 10001, PB_T0 + 10 * PB_HOUR + 3 * PB_MIN);
	pb_send(&h.n, &p);
	mh_tick_to(&h, PB_T0 + 10 * PB_HOUR + 4 * PB_MIN);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
}

static void
test_baseline_alerting_hours_are_not_learned(void)
{
	struct mh h;
	char st[512];

	SETUP(&h, R_BASE(10, 1000), 64, -1);
	learn(&h, 10, 1000000);
	hour_traffic(&h, HOST, 10, 100000000, 0);	/* the exfiltration hour */
	CHECK_EQ_U(h.nrec, 1);
	hour_traffic(&h, HOST, 11, 1000000, 0);	/* back to normal: hour 10 closes */
	uint64_t now = PB_T0 + 11 * PB_HOUR + 2 * PB_MIN;
	CHECK_EQ_U((uint64_t)metric(&h, M_BASELINE_HOURS, now), 10);
	/* The band still expects ~1 MB, not a blend with 100 MB. */
	CHECK(metric(&h, M_BASELINE_OUT_EXCESS, now) > 0.5);
	mh_stats(&h, 0, st, sizeof st);
	CHECK(strstr(st, "\"hours_skipped_alerting\":1") != NULL);
	/* Any medium alert of the host (another detector's) also keeps its hour out. */
	struct rule r = { .category = CAT_BULK_TRANSFER, .severity = SEV_MEDIUM };
	struct alert a = { .rule = &r, .ts_us = now, .src = pb_ip(HOST) };
	h.ops[0]->alerted(h.mod[0], &a);
	hour_traffic(&h, HOST, 12, 1000000, 0);
	CHECK_EQ_U((uint64_t)metric(&h, M_BASELINE_HOURS, PB_T0 + 12 * PB_HOUR + 2 * PB_MIN), 10);
	mh_free(&h);
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
	struct mh h, u;
	uint64_t now = PB_T0 + 6 * PB_HOUR + 2 * PB_MIN;
	double ex;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	SETUP(&h, NULL, 64, fd);
	learn(&h, 6, 1000000);
	hour_traffic(&h, HOST, 6, 3000000, 0);
	ex = metric(&h, M_BASELINE_OUT_EXCESS, now);
	CHECK_EQ_U(baseline_save(h.mod[0]), 0);
	mh_free(&h);

	/* A restart: same baselines (the host table is new, so replay the hour). */
	SETUP(&u, NULL, 64, fd);
	hour_traffic(&u, HOST, 6, 3000000, 0);
	CHECK_EQ_U((uint64_t)metric(&u, M_BASELINE_HOURS, now), 6);
	CHECK(fabs(metric(&u, M_BASELINE_OUT_EXCESS, now) - ex) < 1e-9);
	mh_stats(&u, 0, st, sizeof st);
	CHECK(strstr(st, "\"state_loaded\":1,") != NULL);
	mh_free(&u);

	/* One flipped byte: reported, ignored, baselines start afresh. */
	int f = openat(fd, BASELINE_STATE_FILE, O_RDWR);
	unsigned char b;
	CHECK(f >= 0 && pread(f, &b, 1, 40) == 1);
	b ^= 0x40;
	CHECK(f >= 0 && pwrite(f, &b, 1, 40) == 1);
	close(f);
	SETUP(&u, NULL, 64, fd);
	mh_stats(&u, 0, st, sizeof st);
	CHECK(strstr(st, "\"state_loaded\":0,\"state_load_errors\":1") != NULL);
	hour_traffic(&u, HOST, 6, 3000000, 0);
	CHECK_EQ_U((uint64_t)metric(&u, M_BASELINE_HOURS, now), 0);
	mh_free(&u);

	/* Truncated: the same. */
	f = openat(fd, BASELINE_STATE_FILE, O_RDWR);
	CHECK(f >= 0 && ftruncate(f, 30) == 0);
	close(f);
	SETUP(&u, NULL, 64, fd);
	mh_stats(&u, 0, st, sizeof st);
	CHECK(strstr(st, "\"state_load_errors\":1") != NULL);
	mh_free(&u);
	state_dir_free(fd, dir);
}

static void
test_baseline_table_is_bounded_and_evictions_counted(void)
{
	struct mh h;
	char st[512], ip[32];

	SETUP(&h, NULL, 16, -1);
	for (int i = 0; i < 17; i++) {
		snprintf(ip, sizeof ip, "10.0.1.%d", i + 1);
		hour_traffic(&h, ip, (unsigned)i, 1000, 0);
	}
	mh_stats(&h, 0, st, sizeof st);
	CHECK(strstr(st, "\"hosts\":16,\"max_hosts\":16,\"evicted\":1") != NULL);
	if (strstr(st, "\"evicted\":1") == NULL)
		fprintf(stderr, "  %s\n", st);
	mh_free(&h);
}

T_MAIN("baseline",
    T(test_baseline_fires_at_the_margin_not_just_below),
    T(test_baseline_quiet_while_learning),
    T(test_baseline_quiet_below_the_minimum_volume),
    T(test_baseline_alerting_hours_are_not_learned),
    T(test_baseline_state_round_trip_and_corruption_ignored),
    T(test_baseline_table_is_bounded_and_evictions_counted))
