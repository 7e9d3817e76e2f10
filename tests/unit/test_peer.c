/*
 * test_peer - the (host, destination domain) ledger and its three rule
 * families: beacon, chunked-transfer and cloud-upload, each at its
 * threshold and just below; failed connections ignored; one key across
 * ports and addresses, tenants apart; an open upload counted while open;
 * the bounded table's evictions counted.
 *
 * Connections are driven through the flow and host modules and the peer
 * hooks in the sensor's order (modharness.h, home net 10.0.0.0/8); the
 * server name and application are set on the flow as nDPI would.
 */
#include <stdlib.h>

#include "t.h"
#include "modharness.h"
#include "peer.h"

#define SETUP(h, rules, max) MH_SETUP(h, rules, peer, \
	(h)->cfg.max_peers = (max), (h)->env.seed = 9, (h)->last_tick = PB_T0)

struct conn {
	const char *src, *dst, *name, *app;	/* app: nDPI protocol name or NULL */
	uint16_t sport, dport;
	uint32_t out, in;		/* payload bytes each way */
};

/*
 * Opens a connection at ts: SYN, a first data packet (then nDPI's verdict),
 * the reply. Returns the flow, still open.
 */
static struct flow *
conn_open(struct mh *h, const struct conn *c, uint64_t ts)
{
	struct pkt p = pb_tcp(c->src, c->sport, c->dst, c->dport, PB_SYN, 0, ts);
	struct flow *f = mh_pkt(h, &p);

	p = pb_tcp(c->src, c->sport, c->dst, c->dport, PB_ACK | PB_PSH, c->out, ts + 1000);
	f = pb_send(&h->n, &p);
	if (c->app) {
		f->app_master = (uint16_t)dpi_proto_lookup(h->dpi, "TLS");
		f->app_proto = (uint16_t)dpi_proto_lookup(h->dpi, c->app);
		f->app_category = (uint16_t)dpi_category_lookup(h->dpi, "Cloud");
	}
	mh_classify(h, f, NULL, c->name, ts + 1000);
	mh_deliver(h, f, &p);
	if (c->in) {
		p = pb_tcp(c->dst, c->dport, c->src, c->sport, PB_ACK | PB_PSH, c->in, ts + 2000);
		mh_pkt(h, &p);
	}
	return f;
}

static void
conn_close(struct mh *h, struct flow *f, uint64_t ts)
{
	mh_flow_end(h, f, FLOW_END_CLOSED, ts);
}

/* n connections from 10.0.0.5 every iv seconds starting at start; returns the time after. */
static uint64_t
beacons(struct mh *h, struct conn c, unsigned n, uint64_t start, uint64_t iv_s)
{
	uint64_t ts = start;

	for (unsigned i = 0; i < n; i++, ts += iv_s * PB_SEC) {
		c.sport = (uint16_t)(40000 + i + (start / PB_SEC) % 1000 * 16);
		struct flow *f = conn_open(h, &c, ts);
		conn_close(h, f, ts + 5 * PB_SEC);
		mh_tick_to(h, ts + 5 * PB_SEC);
	}
	return ts;
}

#define R_BEACON(score) \
	"rule b {\n  category beacon\n" \
	"  when beacon.score >= " score " and beacon.connections[6h] >= 12\n" \
	"  severity medium\n  message \"{src_ip} {server_name} {detail}\"\n  suppress 6 h\n}\n"

static const struct conn C_BEACON = {
	"10.0.0.5", "198.51.100.77", "api.telemetry-cdn.net", NULL, 0, 443, 30000, 2000,
};

static void
test_peer_beacon_fires_at_twelfth_regular_connection_not_eleventh(void)
{
	struct mh h;

	SETUP(&h, R_BEACON("0.9"), 64);
	uint64_t ts = beacons(&h, C_BEACON, 11, PB_T0, 300);
	CHECK_EQ_U(h.nrec, 0);
	beacons(&h, C_BEACON, 1, ts, 300);
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1) {
		CHECK_EQ_S(h.rec[0].rule, "b");
		CHECK(strstr(h.rec[0].json, "\"src_ip\":\"10.0.0.5\"") != NULL);
		CHECK(strstr(h.rec[0].json, "\"dest_ip\":\"198.51.100.77\"") != NULL);
		CHECK(strstr(h.rec[0].json, "\"key\":\"telemetry-cdn.net\"") != NULL);
		CHECK(strstr(h.rec[0].json, "\"median\":300") != NULL);
		/* The flows behind it: the newest four that ended. */
		CHECK(strstr(h.rec[0].json, "\"community_id\":\"1:") != NULL);
	}
	mh_free(&h);
}

/* 12 identical connections every 300 s: ts (1 + 1 + 12/16) / 3, ds 1: 0.958333. */
static void
test_peer_beacon_score_threshold_just_above_is_quiet(void)
{
	struct mh h;

	SETUP(&h, R_BEACON("0.9584"), 64);
	beacons(&h, C_BEACON, 12, PB_T0, 300);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
	SETUP(&h, R_BEACON("0.9583"), 64);
	beacons(&h, C_BEACON, 12, PB_T0, 300);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
}

static void
test_peer_beacon_ignores_unanswered_connections(void)
{
	struct mh h;
	struct conn dead = C_BEACON;

	dead.in = 0;	/* no payload back: refused, dropped or RST without data */
	SETUP(&h, R_BEACON("0.5"), 64);
	uint64_t ts = beacons(&h, C_BEACON, 11, PB_T0, 300);
	ts = beacons(&h, dead, 3, ts, 300);
	CHECK_EQ_U(h.nrec, 0);
	beacons(&h, C_BEACON, 1, ts, 300);
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
}

static void
test_peer_irregular_connections_score_low(void)
{
	static const unsigned gaps[] = { 3, 40, 7, 300, 12, 90, 5, 600, 25, 2, 150, 60, 8, 1200, 33 };
	double starts[16], sizes[16];
	struct peer_stats st;

	starts[0] = 0;
	sizes[0] = 1000;
	for (size_t i = 1; i < 16; i++) {
		starts[i] = starts[i - 1] + gaps[i - 1];
		sizes[i] = 500 + (double)((i * 7919) % 13) * 400;
	}
	peer_score(starts, sizes, 16, &st);
	CHECK(st.score < 0.6);
	/* Perfect regularity scores 1. */
	for (size_t i = 0; i < 16; i++) {
		starts[i] = (double)i * 60;
		sizes[i] = 1000;
	}
	peer_score(starts, sizes, 16, &st);
	CHECK(st.score > 0.999);
	CHECK(st.iv_median == 60);
}

static void
test_peer_bowley_skew_of_quartiles(void)
{
	static const double sym[] = { 1, 2, 3, 4, 5 }, right[] = { 1, 1, 2, 5, 9 }, flat[] = { 4, 4, 4, 4 };

	CHECK(peer_bowley(sym, 5) == 0);
	CHECK(peer_bowley(right, 5) == 0.5);	/* Q1 1, Q2 2, Q3 5: (5 + 1 - 4) / 4 */
	CHECK(peer_bowley(flat, 4) == 0);
}

#define R_CHUNK \
	"rule c {\n  category chunked-transfer\n" \
	"  when chunk.count[6h] >= 20 and peer.out.bytes[6h] >= 600000 and chunk.size.cv <= 0.5\n" \
	"  severity medium\n  message \"{src_ip} {peer.out.bytes}\"\n}\n"

static void
test_peer_chunked_fires_at_twentieth_piece_not_nineteenth(void)
{
	struct mh h;
	struct conn c = C_BEACON;
	uint64_t ts = PB_T0;

	SETUP(&h, R_CHUNK, 64);
	for (unsigned i = 0; i < 20; i++, ts += 97 * PB_SEC) {
		c.sport = (uint16_t)(41000 + i);
		c.out = 30000 + (i % 3) * 1000;	/* 30 000 .. 32 000: 19 pieces sum to ~589 kB */
		c.dst = i % 2 ? "198.51.100.77" : "198.51.100.78";	/* two addresses and ports, one domain */
		c.dport = i % 2 ? 443 : 8443;
		c.name = i % 2 ? "api.telemetry-cdn.net" : "upload.telemetry-cdn.net";
		struct flow *f = conn_open(&h, &c, ts);
		conn_close(&h, f, ts + PB_SEC);
		mh_tick_to(&h, ts + PB_SEC);
		CHECK_EQ_U(h.nrec, i < 19 ? 0 : 1);
	}
	if (h.nrec == 1) {
		CHECK(strstr(h.rec[0].json, "\"chunk.count[6h]\":20") != NULL);
		CHECK(strstr(h.rec[0].json, "\"peer.out.bytes[6h]\":619000") != NULL);
		CHECK(strstr(h.rec[0].json, "\"server_names\":[\"upload.telemetry-cdn.net\",\"api.telemetry-cdn.net\"]") != NULL);
	}
	mh_free(&h);
}

#define R_CLOUD \
	"rule u {\n  category cloud-upload\n" \
	"  when peer.out.bytes[1h] > 3000000 and peer.out.ratio[1h] > 5\n" \
	"  only app in (Dropbox, AmazonAWS)\n" \
	"  except server_name ~ \"*.corp-tenant.example\", \"corp.s3.amazonaws.com\"\n" \
	"  severity high\n  message \"{src_ip} {peer.out.bytes} {server_name}\"\n}\n"

/* Streams bytes on an open flow in 1000-byte packets up to total. */
static void
stream(struct mh *h, const struct conn *c, uint32_t from, uint32_t total, uint64_t ts)
{
	for (uint32_t sent = from; sent < total; sent += 1000) {
		struct pkt p = pb_tcp(c->src, c->sport, c->dst, c->dport, PB_ACK, 1000, ts + sent);
		mh_pkt(h, &p);
	}
}

static void
test_peer_cloud_upload_alerts_while_flow_open(void)
{
	struct mh h;
	struct conn c = { "10.0.0.7", "198.51.100.80", "block.dropbox.com", "Dropbox", 50000, 443,
		1000, 100 };

	SETUP(&h, R_CLOUD, 64);
	struct flow *f = conn_open(&h, &c, PB_T0);
	stream(&h, &c, 1000, 3000000, PB_T0 + 3000);	/* exactly 3 000 000 out: not above */
	mh_tick_to(&h, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	stream(&h, &c, 3000000, 3001000, PB_T0 + 11 * PB_SEC);
	mh_tick_to(&h, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1) {
		CHECK(strstr(h.rec[0].json, "\"peer.out.bytes[1h]\":3001000") != NULL);
		/* The open flow is the evidence's flow. */
		CHECK(strstr(h.rec[0].json, "\"src_port\":50000") != NULL);
	}
	conn_close(&h, f, PB_T0 + 30 * PB_SEC);
	mh_free(&h);
}

static void
test_peer_cloud_upload_judged_per_tenant_and_sanctioned_excepted(void)
{
	struct mh h;
	struct conn a = { "10.0.0.7", "198.51.100.90", "corp.s3.amazonaws.com", "AmazonAWS", 50001, 443,
		1000, 100 };
	struct conn b = a;

	b.name = "other.s3.amazonaws.com";
	b.sport = 50002;
	SETUP(&h, R_CLOUD, 64);
	/* 2 MB to each of two tenants of one provider: neither is above 3 MB. */
	conn_open(&h, &a, PB_T0);
	stream(&h, &a, 1000, 2000000, PB_T0 + 3000);
	conn_open(&h, &b, PB_T0);
	stream(&h, &b, 1000, 2000000, PB_T0 + 3000);
	mh_tick_to(&h, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	/* 4 MB to the company's own tenant: excepted. */
	stream(&h, &a, 2000000, 4000000, PB_T0 + 11 * PB_SEC);
	mh_tick_to(&h, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	/* 4 MB to the other tenant: alert naming it. */
	stream(&h, &b, 2000000, 4000000, PB_T0 + 21 * PB_SEC);
	mh_tick_to(&h, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1)
		CHECK(strstr(h.rec[0].json, "\"key\":\"other.s3.amazonaws.com\"") != NULL);
	mh_free(&h);
}

static void
test_peer_ignores_inbound_and_internal_flows(void)
{
	struct mh h;
	struct conn in = { "198.51.100.80", "10.0.0.7", "www.example.com", "Dropbox", 50000, 443,
		1000, 100 };
	struct conn lan = { "10.0.0.7", "10.0.0.9", "files.example.com", "Dropbox", 50001, 443,
		1000, 100 };

	SETUP(&h, R_CLOUD, 64);
	conn_open(&h, &in, PB_T0);
	stream(&h, &in, 1000, 4000000, PB_T0 + 3000);
	conn_open(&h, &lan, PB_T0);
	stream(&h, &lan, 1000, 4000000, PB_T0 + 3000);
	mh_tick_to(&h, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

static void
test_peer_full_table_evicts_and_counts(void)
{
	struct mh h;
	char name[64], buf[1024];

	SETUP(&h, R_CHUNK, 16);
	for (unsigned i = 0; i < 20; i++) {
		struct conn c = C_BEACON;
		snprintf(name, sizeof name, "www.d%u.com", i);
		c.name = name;
		c.sport = (uint16_t)(42000 + i);
		conn_close(&h, conn_open(&h, &c, PB_T0 + i * PB_SEC), PB_T0 + i * PB_SEC + 1);
	}
	mh_stats(&h, 0, buf, sizeof buf);
	if (strstr(buf, "\"entries\":16,\"capacity\":16,\"created\":20,\"evicted\":4") == NULL) {
		fprintf(stderr, "  stats: %s\n", buf);
		CHECK(!"stats");
	}
	/* The 4 evicted entries let their names go (their flows still hold
	 * theirs); the 16 left hold theirs twice, as first and last name. */
	CHECK_EQ_U(mh_name_refs(&h, "www.d0.com"), 1);
	CHECK_EQ_U(mh_name_refs(&h, "www.d3.com"), 1);
	CHECK_EQ_U(mh_name_refs(&h, "www.d4.com"), 3);
	/* The one destination (all go to the same address) holds the newest. */
	CHECK_EQ_U(mh_name_refs(&h, "www.d19.com"), 4);
	mh_free(&h);
}

/* An open flow whose entry was evicted must not credit the entry that took its slot. */
static void
test_peer_flow_of_evicted_entry_credits_nobody(void)
{
	struct mh h;
	char name[64], buf[1024];
	struct conn a = { "10.0.0.5", "198.51.100.80", "block.dropbox.com", "Dropbox", 43000, 443,
		1000, 100 };

	SETUP(&h, R_CLOUD, 16);
	conn_open(&h, &a, PB_T0);
	for (unsigned i = 0; i < 16; i++) {
		struct conn c = a;
		snprintf(name, sizeof name, "www.d%u.com", i);
		c.name = name;
		c.dst = "198.51.100.81";
		c.sport = (uint16_t)(43100 + i);
		conn_close(&h, conn_open(&h, &c, PB_T0 + (i + 1) * PB_SEC), PB_T0 + (i + 1) * PB_SEC + 1);
	}
	stream(&h, &a, 1000, 4000000, PB_T0 + 20 * PB_SEC);
	mh_tick_to(&h, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_stats(&h, 0, buf, sizeof buf);
	CHECK(strstr(buf, "\"evicted\":1,") != NULL);
	CHECK(strstr(buf, "\"stale_flow_slots\":1,") != NULL);
	mh_free(&h);
}

/* Metric m (over 6 h) of the entry whose first server name is name; -1 if there is none. */
static double
value_of(struct mh *h, const char *name, enum metric_id m, uint64_t now)
{
	mh_visit(h, 0, now);
	for (size_t i = 0; i < h->nseen; i++)
		if (h->seen[i].name != NULL && strcmp(h->seen[i].name, name) == 0)
			return mh_value(h, 0, &h->seen[i], m, 6 * 3600, now);
	return -1;
}

/*
 * Two connections in two 30-minute buckets fit inline; the third moves the
 * entry into a pool block, and nothing counted before is lost on the way.
 */
static void
test_peer_entry_moves_to_a_detail_block_without_losing_counts(void)
{
	struct mh h;
	const char *name = C_BEACON.name;

	SETUP(&h, R_BEACON("0.9"), 64);
	CHECK_EQ_U(mh_stat(&h, "details_capacity"), 16);	/* a quarter of the entries */
	uint64_t ts = beacons(&h, C_BEACON, 2, PB_T0, 1800);
	CHECK_EQ_U(mh_stat(&h, "details"), 0);
	CHECK_EQ_U((uint64_t)value_of(&h, name, M_PEER_OUT_BYTES, ts), 60000);
	CHECK_EQ_U((uint64_t)value_of(&h, name, M_BEACON_CONNECTIONS, ts), 2);
	CHECK(value_of(&h, name, M_BEACON_INTERVAL, ts) == 1800);
	ts = beacons(&h, C_BEACON, 1, ts, 1800);
	CHECK_EQ_U(mh_stat(&h, "details"), 1);
	CHECK_EQ_U((uint64_t)value_of(&h, name, M_PEER_OUT_BYTES, ts), 90000);
	CHECK_EQ_U((uint64_t)value_of(&h, name, M_PEER_IN_BYTES, ts), 6000);
	CHECK_EQ_U((uint64_t)value_of(&h, name, M_BEACON_CONNECTIONS, ts), 3);
	CHECK(value_of(&h, name, M_BEACON_INTERVAL, ts) == 1800);
	/* Seven hours on, the first bucket has left the 6 h ring, inline or not. */
	CHECK_EQ_U((uint64_t)value_of(&h, name, M_BEACON_CONNECTIONS, PB_T0 + 7 * 3600 * PB_SEC), 1);
	mh_free(&h);

	/* Inline, a bucket that left the ring frees its slot: no block needed. */
	SETUP(&h, R_BEACON("0.9"), 64);
	beacons(&h, C_BEACON, 2, PB_T0, 7 * 3600);
	CHECK_EQ_U(mh_stat(&h, "details"), 0);
	CHECK_EQ_U((uint64_t)value_of(&h, name, M_BEACON_CONNECTIONS, PB_T0 + 8 * 3600 * PB_SEC), 1);
	mh_free(&h);
}

#define R_CONNS3 \
	"rule n {\n  category beacon\n  when beacon.connections[6h] >= 3\n" \
	"  severity low\n  message \"{src_ip}\"\n}\n"

/*
 * The beacon rule fires at its twelfth connection for an entry that moved
 * at its third, showing both its server names; a second name alone does
 * not move an entry (names are references, kept inline).
 */
static void
test_peer_entry_detailed_mid_life_alerts_with_its_names(void)
{
	struct mh h;
	struct conn c = C_BEACON;
	struct flow *f;

	SETUP(&h, R_BEACON("0.9"), 64);
	uint64_t ts = beacons(&h, C_BEACON, 11, PB_T0, 300);
	c.name = "eu.telemetry-cdn.net";
	beacons(&h, c, 1, ts, 300);
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1) {
		CHECK(strstr(h.rec[0].json, "\"connections\":12") != NULL);
		CHECK(strstr(h.rec[0].json, "\"median\":300") != NULL);
		CHECK(strstr(h.rec[0].json,
		    "\"server_names\":[\"api.telemetry-cdn.net\",\"eu.telemetry-cdn.net\"]") != NULL);
	}
	mh_free(&h);

	/* Moved by its third connection, its last name (the same as the first) goes along. */
	SETUP(&h, R_CONNS3, 64);
	beacons(&h, C_BEACON, 3, PB_T0, 60);
	CHECK_EQ_U(mh_stat(&h, "details"), 1);
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1) {
		int n = 0;
		for (const char *at = h.rec[0].json; (at = strstr(at, "\"server_name\":\"api.telemetry-cdn.net\"")) != NULL; at++)
			n++;
		CHECK_EQ_U(n, 5);	/* the alert, its destination and its three flows */
	}
	mh_free(&h);

	SETUP(&h, R_BEACON("0.9"), 64);
	f = conn_open(&h, &C_BEACON, PB_T0);
	conn_close(&h, f, PB_T0 + PB_SEC);
	c.sport = 41000;
	f = conn_open(&h, &c, PB_T0 + 2 * PB_SEC);
	CHECK_EQ_U(mh_stat(&h, "details"), 0);
	conn_close(&h, f, PB_T0 + 3 * PB_SEC);
	CHECK_EQ_U((uint64_t)value_of(&h, C_BEACON.name, M_BEACON_CONNECTIONS, PB_T0 + 4 * PB_SEC), 2);
	mh_free(&h);
}

/*
 * With the pool used up, an entry that needs a block takes one from the
 * stalest of a few sampled detailed entries, which is evicted whole and
 * counted; an entry that stays light still accounts its volume.
 */
static void
test_peer_detail_pool_exhaustion_evicts_and_counts(void)
{
	struct mh h;
	char name[64], last[64] = "";

	SETUP(&h, R_CHUNK, 16);	/* 16 entries, 4 blocks */
	for (unsigned i = 0; i < 6; i++) {
		struct conn c = C_BEACON;
		snprintf(name, sizeof name, "www.d%u.com", i);
		c.name = name;
		for (unsigned k = 0; k < 3; k++) {	/* the third connection needs a block */
			uint64_t ts = PB_T0 + (i * 10 + k) * PB_SEC;
			c.sport = (uint16_t)(42000 + i * 10 + k);
			conn_close(&h, conn_open(&h, &c, ts), ts + 1);
		}
		snprintf(last, sizeof last, "%s", name);
	}
	CHECK_EQ_U(mh_stat(&h, "details"), 4);
	CHECK_EQ_U(mh_stat(&h, "details_evicted"), 2);
	CHECK_EQ_U(mh_stat(&h, "evicted"), 2);
	CHECK_EQ_U(mh_stat(&h, "entries"), 4);
	CHECK_EQ_U((uint64_t)value_of(&h, last, M_CHUNK_COUNT, PB_T0 + 60 * PB_SEC), 3);
	/* The stalest of the sample went: the freshest block holder is still there. */
	CHECK_EQ_U((uint64_t)value_of(&h, "www.d4.com", M_CHUNK_COUNT, PB_T0 + 60 * PB_SEC), 3);

	struct conn l = C_BEACON;
	l.name = "www.light.com";
	l.sport = 43000;
	conn_close(&h, conn_open(&h, &l, PB_T0 + 70 * PB_SEC), PB_T0 + 71 * PB_SEC);
	CHECK_EQ_U(mh_stat(&h, "entries"), 5);
	CHECK_EQ_U(mh_stat(&h, "details"), 4);
	CHECK_EQ_U((uint64_t)value_of(&h, "www.light.com", M_PEER_OUT_BYTES, PB_T0 + 80 * PB_SEC), 30000);
	CHECK_EQ_U((uint64_t)value_of(&h, "www.light.com", M_CHUNK_COUNT, PB_T0 + 80 * PB_SEC), 1);
	mh_free(&h);
}

/*
 * Every rule of the module's scope is evaluated on each subject, in file
 * order, whatever rules of other scopes sit between them (detect.c walks a
 * per-scope list).
 */
static void
test_peer_every_rule_of_the_scope_is_evaluated(void)
{
	struct mh h;

	SETUP(&h, "rule a {\n  category beacon\n  when beacon.connections[6h] >= 1000\n"
	    "  severity low\n  message \"a\"\n}\n"
	    "rule h {\n  category bulk-transfer\n  when host.out.bytes[1h] > 1 TB\n"
	    "  severity low\n  message \"h\"\n}\n"
	    "rule b {\n  category beacon\n  when beacon.connections[6h] >= 3\n"
	    "  severity low\n  message \"b\"\n}\n"
	    "rule c {\n  category beacon\n  when beacon.connections[6h] >= 3\n"
	    "  severity low\n  message \"c\"\n}\n", 64);
	beacons(&h, C_BEACON, 3, PB_T0, 60);
	CHECK_EQ_U(h.nrec, 2);
	if (h.nrec == 2) {
		CHECK_EQ_S(h.rec[0].rule, "b");
		CHECK_EQ_S(h.rec[1].rule, "c");
	}
	mh_free(&h);
}

T_MAIN("peer",
    T(test_peer_every_rule_of_the_scope_is_evaluated),
    T(test_peer_beacon_fires_at_twelfth_regular_connection_not_eleventh),
    T(test_peer_beacon_score_threshold_just_above_is_quiet),
    T(test_peer_beacon_ignores_unanswered_connections),
    T(test_peer_irregular_connections_score_low),
    T(test_peer_bowley_skew_of_quartiles),
    T(test_peer_chunked_fires_at_twentieth_piece_not_nineteenth),
    T(test_peer_cloud_upload_alerts_while_flow_open),
    T(test_peer_cloud_upload_judged_per_tenant_and_sanctioned_excepted),
    T(test_peer_ignores_inbound_and_internal_flows),
    T(test_peer_full_table_evicts_and_counts),
    T(test_peer_flow_of_evicted_entry_credits_nobody),
    T(test_peer_entry_moves_to_a_detail_block_without_losing_counts),
    T(test_peer_entry_detailed_mid_life_alerts_with_its_names),
    T(test_peer_detail_pool_exhaustion_evicts_and_counts))
