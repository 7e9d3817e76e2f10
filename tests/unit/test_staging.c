/*
 * test_staging - collect-then-send episodes: the staging-then-transfer
 * rule fires at each of its thresholds and not just below, pushes and
 * small lookups are not collection, the fan-in rule, the delay, and the
 * bounded episode table.
 */
#include "t.h"
#include "modharness.h"
#include "staging.h"

#define R_STAGE(in, sources, share, delay) \
	"rule stt {\n  category staging\n" \
	"  when staging.in.bytes >= " in " and staging.in.sources >= " sources \
	" and staging.out.share >= " share " and staging.delay <= " delay "\n" \
	"  severity high\n  message \"{src_ip} {staging.in.bytes} {staging.in.sources} {detail}\"\n}\n"

#define R_DEFAULT R_STAGE("3 MB", "2", "0.5", "1 h")

#define HOST "10.0.0.5"
#define EXT "198.51.100.9"

#define SETUP(h, rules, cap) MH_SETUP(h, rules, staging, \
	(h)->cfg.max_staging = (cap))

/* HOST reads `a` bytes from 10.0.1.1 and `b` from 10.0.1.2 (SMB-like, it opens the flows). */
static void
collect(struct mh *h, uint64_t a, uint64_t b, uint64_t ts)
{
	mh_tcp_xfer(h, HOST, 40001, "10.0.1.1", 445, 0, a, ts);
	mh_tcp_xfer(h, HOST, 40002, "10.0.1.2", 445, 0, b, ts + PB_SEC);
}

static void
test_staging_fires_at_volume_threshold(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 64);
	collect(&h, 1500000, 1500000, PB_T0);
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 1500000, PB_T0 + 20 * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	CHECK_EQ_S(h.rec[0].rule, "stt");
	CHECK_EQ_S(h.rec[0].src, HOST);
	CHECK_EQ_S(h.rec[0].dest, EXT);
	CHECK_EQ_S(h.rec[0].message, "10.0.0.5 3.00 MB 2 pulled 3.00 MB from 2 internal sources, sent "
	    "1.50 MB to 1 external destination 19 s later");
	/* Both halves in one object: sources with bytes, destinations, delay. */
	CHECK(strstr(h.rec[0].json, "\"staging\":{\"collected\":{\"bytes\":3000000,\"sources\":2,") != NULL);
	CHECK(strstr(h.rec[0].json, "{\"ip\":\"10.0.1.1\",\"app\":\"Unknown\",\"bytes\":1500000}") != NULL);
	CHECK(strstr(h.rec[0].json, "\"sent\":{\"bytes\":1500000,\"to\":[{\"ip\":\"198.51.100.9\",\"port\":443,") != NULL);
	CHECK(strstr(h.rec[0].json, "\"delay_s\":19}") != NULL);
	CHECK(strstr(h.rec[0].json, "\"bytes_in\":3000000") != NULL);
	mh_free(&h);
}

static void
test_staging_quiet_just_below_volume(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 64);
	collect(&h, 1500000, 1499999, PB_T0);
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 3000000, PB_T0 + 20 * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

static void
test_staging_share_at_and_below_threshold(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 64);
	collect(&h, 2000000, 2000000, PB_T0);
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 1999999, PB_T0 + 20 * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);	/* 0.4999998 of it left */
	mh_tcp_xfer(&h, HOST, 40004, EXT, 443, 1, 1, PB_T0 + 40 * PB_SEC);
	mh_tick(&h, PB_T0 + 30 * PB_SEC, PB_T0 + 50 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);	/* exactly half */
	mh_free(&h);
}

static void
test_staging_needs_two_sources_of_a_megabyte(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 64);
	/* One big source and a 999,999-byte one: one source only. */
	collect(&h, 4000000, 999999, PB_T0);
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 5000000, PB_T0 + 20 * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	/* One more byte makes it a source. */
	mh_tcp_xfer(&h, HOST, 40005, "10.0.1.2", 445, 0, 1, PB_T0 + 31 * PB_SEC);
	mh_tick(&h, PB_T0 + 30 * PB_SEC, PB_T0 + 40 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
}

/* The nightly backup: the host PUSHES to internal servers, and the servers
 * receive; neither is collecting. */
static void
test_staging_push_to_internal_server_is_not_collection(void)
{
	struct mh h;
	char st[512];

	SETUP(&h, R_DEFAULT, 64);
	mh_tcp_xfer(&h, HOST, 40001, "10.0.1.1", 445, 1, 30000000, PB_T0);
	mh_tcp_xfer(&h, HOST, 40002, "10.0.1.2", 445, 1, 30000000, PB_T0);
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 30000000, PB_T0 + 20 * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	CHECK(strstr(mh_stats(&h, 0, st, sizeof st), "\"episodes\":0,") != NULL);
	mh_free(&h);
}

/* A name lookup right before the upload does not move the end of the
 * collection: the delay runs from the last real pull. */
static void
test_staging_delay_from_last_real_pull(void)
{
	struct mh h;

	SETUP(&h, R_STAGE("3 MB", "2", "0.5", "60 s"), 64);
	collect(&h, 1500000, 1500000, PB_T0);
	struct pkt q = pb_udp(HOST, 5353, "10.0.0.53", 53, 40, PB_T0 + 59 * PB_SEC);
	mh_pkt(&h, &q);
	q = pb_udp("10.0.0.53", 53, HOST, 5353, 200, PB_T0 + 60 * PB_SEC);
	mh_pkt(&h, &q);
	/* Last real pull at +1 s: the upload at +62 s is 61 s later. */
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 3000000, PB_T0 + 62 * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 70 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
	/* At 60 s it fires. */
	SETUP(&h, R_STAGE("3 MB", "2", "0.5", "60 s"), 64);
	collect(&h, 1500000, 1500000, PB_T0);
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 3000000, PB_T0 + 61 * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 70 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
}

/* Sends before anything was collected are not part of the story. */
static void
test_staging_ignores_sends_before_collection(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 64);
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 9000000, PB_T0);
	collect(&h, 1500000, 1500000, PB_T0 + 10 * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

#define R_FANIN \
	"rule fan {\n  category staging\n  when staging.in.sources >= 4 and staging.in.bytes >= 4 MB\n" \
	"  severity medium\n  message \"{staging.in.sources}\"\n}\n"

static void
test_staging_fan_in_fires_at_source_count_not_below(void)
{
	struct mh h;
	char ip[32];

	SETUP(&h, R_FANIN, 64);
	for (int i = 1; i <= 3; i++) {
		snprintf(ip, sizeof ip, "10.0.2.%d", i);
		mh_tcp_xfer(&h, HOST, (uint16_t)(41000 + i), ip, 2049, 0, 2000000, PB_T0);
	}
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);	/* 3 sources, 6 MB */
	mh_tcp_xfer(&h, HOST, 41004, "10.0.2.4", 2049, 0, 1000000, PB_T0 + 11 * PB_SEC);
	mh_tick(&h, PB_T0 + 10 * PB_SEC, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	CHECK_EQ_S(h.rec[0].message, "4");
	/* Staying true: engaged, not repeated. */
	mh_tcp_xfer(&h, HOST, 41005, "10.0.2.5", 2049, 0, 1000000, PB_T0 + 21 * PB_SEC);
	mh_tick(&h, PB_T0 + 20 * PB_SEC, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
}

/* The rule's only clause sees the main source's nDPI application. */
static void
test_staging_only_clause_matches_source_app(void)
{
	struct mh h;
	struct flow *f;

	SETUP(&h, "rule s {\n  category staging\n  when staging.in.bytes >= 2 MB\n"
	    "  only app in (SMBv23)\n  severity low\n  message \"x\"\n}\n", 64);
	f = mh_tcp_xfer(&h, HOST, 40001, "10.0.1.1", 8080, 0, 3000000, PB_T0);
	mh_classify(&h, f, "HTTP", NULL, PB_T0);
	mh_tcp_xfer(&h, HOST, 40001, "10.0.1.1", 8080, 0, 1, PB_T0 + PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
	SETUP(&h, "rule s {\n  category staging\n  when staging.in.bytes >= 2 MB\n"
	    "  only app in (SMBv23)\n  severity low\n  message \"x\"\n}\n", 64);
	f = mh_tcp_xfer(&h, HOST, 40001, "10.0.1.1", 445, 0, 3000000, PB_T0);
	mh_classify(&h, f, "SMBv23", NULL, PB_T0);
	mh_tcp_xfer(&h, HOST, 40001, "10.0.1.1", 445, 0, 1, PB_T0 + PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
}

/* After STAGING_GAP of quiet, a new collection is a new episode. */
static void
test_staging_new_collection_after_gap_starts_new_episode(void)
{
	struct mh h;
	char st[512];
	uint64_t later = PB_T0 + (STAGING_GAP_S + 60) * PB_SEC;

	SETUP(&h, R_DEFAULT, 64);
	collect(&h, 1500000, 1000000, PB_T0);
	collect(&h, 1000000, 0, later);	/* 10.0.1.1 again: a source of the new episode */
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 5000000, later + 10 * PB_SEC);
	mh_tick(&h, PB_T0, later + 20 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);	/* the new episode holds 1 MB from one source */
	CHECK(strstr(mh_stats(&h, 0, st, sizeof st), "\"started\":2,") != NULL);
	mh_free(&h);
}

/*
 * A destination's server name is listed in the alert, and held (a names.h
 * reference beside the flow's and the host table's) until its episode
 * starts afresh or expires.
 */
static void
test_staging_destination_names_listed_and_let_go(void)
{
	struct mh h;

	SETUP(&h, R_DEFAULT, 64);
	collect(&h, 1500000, 1500000, PB_T0);
	struct flow *f = mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 100, PB_T0 + 20 * PB_SEC);
	mh_classify(&h, f, "TLS", "drop.example.net", PB_T0 + 20 * PB_SEC);
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 1500000, PB_T0 + 20 * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1)
		CHECK(strstr(h.rec[0].json, "\"port\":443,\"server_name\":\"drop.example.net\"") != NULL);
	/* The flow's, the host table's destination's and the episode's. */
	CHECK_EQ_U(mh_name_refs(&h, "drop.example.net"), 3);
	/* A new collection after the gap: the old episode's list goes, and its names. */
	uint64_t later = PB_T0 + (STAGING_GAP_S + 60) * PB_SEC;
	collect(&h, 1500000, 1500000, later);
	CHECK_EQ_U(mh_name_refs(&h, "drop.example.net"), 2);
	/* Listed again, then the episode expires. */
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 1000, later + 10 * PB_SEC);
	CHECK_EQ_U(mh_name_refs(&h, "drop.example.net"), 3);
	mh_tick(&h, later, later + (STAGING_TTL_S + 60) * PB_SEC);
	CHECK_EQ_U(mh_stat(&h, "expired"), 1);
	CHECK_EQ_U(mh_name_refs(&h, "drop.example.net"), 2);
	mh_free(&h);
}

/* Collect in the afternoon, look names up now and then, send at night:
 * one episode, the delay runs from the collection. */
static void
test_staging_lookups_between_collect_and_send_keep_the_episode(void)
{
	struct mh h;
	uint64_t t = PB_T0;

	SETUP(&h, R_STAGE("3 MB", "2", "0.5", "12 h"), 64);
	collect(&h, 1500000, 1500000, t);
	for (int i = 1; i <= 18; i++) {
		struct pkt q = pb_udp("10.0.0.53", 53, HOST, 5353, 300, t + (uint64_t)i * 20 * PB_MIN);
		struct pkt r = pb_udp(HOST, 5353, "10.0.0.53", 53, 40, t + (uint64_t)i * 20 * PB_MIN);
		mh_pkt(&h, &r);
		mh_pkt(&h, &q);
	}
	mh_tcp_xfer(&h, HOST, 40003, EXT, 443, 1, 3000000, t + 6 * PB_HOUR + PB_SEC);
	mh_tick(&h, t, t + 6 * PB_HOUR + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	CHECK(strstr(h.rec[0].json, "\"staging.delay\":21600") != NULL);
	mh_free(&h);
}

static void
test_staging_table_is_bounded_and_counts_evictions(void)
{
	struct mh h;
	char ip[32], st[512];

	SETUP(&h, R_DEFAULT, 16);
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof ip, "10.0.3.%d", i + 1);
		struct pkt p = pb_tcp("10.0.1.1", 445, ip, 40000, PB_ACK, 100, PB_T0 + (uint64_t)i);
		struct pkt s = pb_tcp(ip, 40000, "10.0.1.1", 445, PB_SYN, 0, PB_T0 + (uint64_t)i);
		mh_pkt(&h, &s);
		mh_pkt(&h, &p);
	}
	mh_stats(&h, 0, st, sizeof st);
	CHECK(strstr(st, "\"episodes\":16,\"max_episodes\":16,") != NULL);
	CHECK(strstr(st, "\"evicted\":4") != NULL);
	mh_free(&h);
}

static void
test_staging_episode_expires_after_ttl(void)
{
	struct mh h;
	char st[512];

	SETUP(&h, R_DEFAULT, 16);
	collect(&h, 1500000, 1500000, PB_T0);
	mh_tick(&h, PB_T0, PB_T0 + STAGING_TTL_S * PB_SEC);
	CHECK(strstr(mh_stats(&h, 0, st, sizeof st), "\"episodes\":1,") != NULL);
	mh_tick(&h, PB_T0, PB_T0 + (STAGING_TTL_S + 2) * PB_SEC);
	CHECK(strstr(mh_stats(&h, 0, st, sizeof st), "\"episodes\":0,") != NULL);
	mh_free(&h);
}

T_MAIN("staging",
    T(test_staging_fires_at_volume_threshold),
    T(test_staging_quiet_just_below_volume),
    T(test_staging_share_at_and_below_threshold),
    T(test_staging_needs_two_sources_of_a_megabyte),
    T(test_staging_push_to_internal_server_is_not_collection),
    T(test_staging_delay_from_last_real_pull),
    T(test_staging_ignores_sends_before_collection),
    T(test_staging_fan_in_fires_at_source_count_not_below),
    T(test_staging_only_clause_matches_source_app),
    T(test_staging_new_collection_after_gap_starts_new_episode),
    T(test_staging_destination_names_listed_and_let_go),
    T(test_staging_lookups_between_collect_and_send_keep_the_episode),
    T(test_staging_table_is_bounded_and_counts_evictions),
    T(test_staging_episode_expires_after_ttl))
