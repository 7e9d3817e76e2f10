/*
 * test_peer - the (host, destination domain) ledger and its three rule
 * families: beacon, chunked-transfer and cloud-upload, each at its
 * threshold and just below; failed connections ignored; one key across
 * ports and addresses, tenants apart; an open upload counted while open;
 * the bounded table's evictions counted.
 *
 * Connections are driven through the flow and host modules (pktbuild.h,
 * home net 10.0.0.0/8) and the peer hooks in the sensor's order; the
 * server name and application are set on the flow as nDPI would.
 */
#include <stdlib.h>

#include "t.h"
#include "detect.h"
#include "json.h"
#include "peer.h"
#include "pktbuild.h"
#include "sensor.h"

#define MAX_REC 16

struct pt {
	struct pb_net n;
	struct dpi *dpi;
	struct ruleset *rs;
	struct detect *d;
	void *mod;
	struct sensor_config cfg;
	uint64_t last_tick;
	size_t nrec;
	char rule[MAX_REC][RULE_NAME_MAX];
	char json[MAX_REC][ALERT_JSON_MAX];
};

static void
on_alert(void *ctx, const struct alert *a)
{
	struct pt *t = ctx;

	if (t->nrec >= MAX_REC)
		return;
	snprintf(t->rule[t->nrec], sizeof t->rule[0], "%s", a->rule->name);
	if (alert_to_json(a, t->json[t->nrec], sizeof t->json[0]) == 0)
		t->json[t->nrec][0] = '\0';
	t->nrec++;
}

static int
pt_init(struct pt *t, const char *rules, size_t max_peers)
{
	struct rules_errors errs = { 0 };
	char err[256];
	struct detect_config dc = { .sensor_name = "t", .max_engaged = 64, .run_id = 1, .seed = 3 };

	memset(t, 0, sizeof *t);
	sensor_config_defaults(&t->cfg);
	t->cfg.max_peers = max_peers;
	if (pb_net_init(&t->n, 1024, 64, 256) != 0)
		return -1;
	if (rules_parse(rules, strlen(rules), "t.rules", NULL, 0, &t->rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
		rules_errors_free(&errs);
		return -1;
	}
	struct detector_env env = { .cfg = &t->cfg, .state_dirfd = -1, .seed = 9 };
	if ((t->dpi = dpi_new(err, sizeof err)) == NULL)
		return -1;
	env.dpi = t->dpi;
	env.hosts = t->n.hosts;
	env.home = t->n.home;
	if ((t->mod = peer_new(&env, err, sizeof err)) == NULL ||
	    (t->d = detect_new(&dc, t->dpi, on_alert, t, err, sizeof err)) == NULL)
		return -1;
	detect_register(t->d, &peer_ops, t->mod);
	if (detect_set_rules(t->d, t->rs, err, sizeof err) != 0) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	t->last_tick = PB_T0;
	return 0;
}

static void
pt_free(struct pt *t)
{
	detect_free(t->d);
	peer_ops.free(t->mod);
	dpi_free(t->dpi);
	ruleset_free(t->rs);
	pb_net_free(&t->n);
}

#define PT_INIT(t, rules, max) do { if (pt_init(t, rules, max) != 0) { \
	CHECK(!"pt_init"); pt_free(t); return; } } while (0)

/* One packet through flow/host accounting and the peer packet hook. */
static struct flow *
pt_pkt(struct pt *t, const struct pkt *p)
{
	struct flow *f = pb_send(&t->n, p);
	int dir = addr_eq(&p->src, flow_initiator(f, NULL)) ? FLOW_DIR_FWD : FLOW_DIR_REV;

	peer_ops.packet(t->mod, f, dir, p);
	return f;
}

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
conn_open(struct pt *t, const struct conn *c, uint64_t ts)
{
	struct pkt p = pb_tcp(c->src, c->sport, c->dst, c->dport, PB_SYN, 0, ts);
	struct flow *f = pt_pkt(t, &p);

	p = pb_tcp(c->src, c->sport, c->dst, c->dport, PB_ACK | PB_PSH, c->out, ts + 1000);
	f = pb_send(&t->n, &p);
	if (c->name)
		snprintf(f->server_name, sizeof f->server_name, "%s", c->name);
	if (c->app) {
		f->app_master = (uint16_t)dpi_proto_lookup(t->dpi, "TLS");
		f->app_proto = (uint16_t)dpi_proto_lookup(t->dpi, c->app);
		f->app_category = (uint16_t)dpi_category_lookup(t->dpi, "Cloud");
	}
	peer_ops.flow_classified(t->mod, f, ts + 1000);
	peer_ops.packet(t->mod, f, FLOW_DIR_FWD, &p);
	if (c->in) {
		p = pb_tcp(c->dst, c->dport, c->src, c->sport, PB_ACK | PB_PSH, c->in, ts + 2000);
		pt_pkt(t, &p);
	}
	return f;
}

static void
conn_close(struct pt *t, struct flow *f, uint64_t ts)
{
	peer_ops.flow_end(t->mod, f, FLOW_END_CLOSED, ts);
}

static void
pt_tick(struct pt *t, uint64_t now)
{
	detect_tick(t->d, t->n.hosts, t->last_tick, now);
	t->last_tick = now;
}

/* n connections from 10.0.0.5 every iv seconds starting at start; returns the time after. */
static uint64_t
beacons(struct pt *t, struct conn c, unsigned n, uint64_t start, uint64_t iv_s)
{
	uint64_t ts = start;

	for (unsigned i = 0; i < n; i++, ts += iv_s * PB_SEC) {
		c.sport = (uint16_t)(40000 + i + (start / PB_SEC) % 1000 * 16);
		struct flow *f = conn_open(t, &c, ts);
		conn_close(t, f, ts + 5 * PB_SEC);
		pt_tick(t, ts + 5 * PB_SEC);
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
	struct pt t;

	PT_INIT(&t, R_BEACON("0.9"), 64);
	uint64_t ts = beacons(&t, C_BEACON, 11, PB_T0, 300);
	CHECK_EQ_U(t.nrec, 0);
	beacons(&t, C_BEACON, 1, ts, 300);
	CHECK_EQ_U(t.nrec, 1);
	if (t.nrec == 1) {
		CHECK_EQ_S(t.rule[0], "b");
		CHECK(strstr(t.json[0], "\"src_ip\":\"10.0.0.5\"") != NULL);
		CHECK(strstr(t.json[0], "\"dest_ip\":\"198.51.100.77\"") != NULL);
		CHECK(strstr(t.json[0], "\"key\":\"telemetry-cdn.net\"") != NULL);
		CHECK(strstr(t.json[0], "\"median\":300") != NULL);
		/* The flows behind it: the newest four that ended. */
		CHECK(strstr(t.json[0], "\"community_id\":\"1:") != NULL);
	}
	pt_free(&t);
}

/* 12 identical connections every 300 s: ts (1 + 1 + 12/16) / 3, ds 1: 0.958333. */
static void
test_peer_beacon_score_threshold_just_above_is_quiet(void)
{
	struct pt t;

	PT_INIT(&t, R_BEACON("0.9584"), 64);
	beacons(&t, C_BEACON, 12, PB_T0, 300);
	CHECK_EQ_U(t.nrec, 0);
	pt_free(&t);
	PT_INIT(&t, R_BEACON("0.9583"), 64);
	beacons(&t, C_BEACON, 12, PB_T0, 300);
	CHECK_EQ_U(t.nrec, 1);
	pt_free(&t);
}

static void
test_peer_beacon_ignores_unanswered_connections(void)
{
	struct pt t;
	struct conn dead = C_BEACON;

	dead.in = 0;	/* no payload back: refused, dropped or RST without data */
	PT_INIT(&t, R_BEACON("0.5"), 64);
	uint64_t ts = beacons(&t, C_BEACON, 11, PB_T0, 300);
	ts = beacons(&t, dead, 3, ts, 300);
	CHECK_EQ_U(t.nrec, 0);
	beacons(&t, C_BEACON, 1, ts, 300);
	CHECK_EQ_U(t.nrec, 1);
	pt_free(&t);
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
	struct pt t;
	struct conn c = C_BEACON;
	uint64_t ts = PB_T0;

	PT_INIT(&t, R_CHUNK, 64);
	for (unsigned i = 0; i < 20; i++, ts += 97 * PB_SEC) {
		c.sport = (uint16_t)(41000 + i);
		c.out = 30000 + (i % 3) * 1000;	/* 30 000 .. 32 000: 19 pieces sum to ~589 kB */
		c.dst = i % 2 ? "198.51.100.77" : "198.51.100.78";	/* two addresses and ports, one domain */
		c.dport = i % 2 ? 443 : 8443;
		c.name = i % 2 ? "api.telemetry-cdn.net" : "upload.telemetry-cdn.net";
		struct flow *f = conn_open(&t, &c, ts);
		conn_close(&t, f, ts + PB_SEC);
		pt_tick(&t, ts + PB_SEC);
		CHECK_EQ_U(t.nrec, i < 19 ? 0 : 1);
	}
	if (t.nrec == 1) {
		CHECK(strstr(t.json[0], "\"chunk.count[6h]\":20") != NULL);
		CHECK(strstr(t.json[0], "\"peer.out.bytes[6h]\":619000") != NULL);
		CHECK(strstr(t.json[0], "\"server_names\":[\"upload.telemetry-cdn.net\",\"api.telemetry-cdn.net\"]") != NULL);
	}
	pt_free(&t);
}

#define R_CLOUD \
	"rule u {\n  category cloud-upload\n" \
	"  when peer.out.bytes[1h] > 3000000 and peer.out.ratio[1h] > 5\n" \
	"  only app in (Dropbox, AmazonAWS)\n" \
	"  except server_name ~ \"*.corp-tenant.example\", \"corp.s3.amazonaws.com\"\n" \
	"  severity high\n  message \"{src_ip} {peer.out.bytes} {server_name}\"\n}\n"

/* Streams bytes on an open flow in 1000-byte packets up to total. */
static void
stream(struct pt *t, const struct conn *c, uint32_t from, uint32_t total, uint64_t ts)
{
	for (uint32_t sent = from; sent < total; sent += 1000) {
		struct pkt p = pb_tcp(c->src, c->sport, c->dst, c->dport, PB_ACK, 1000, ts + sent);
		pt_pkt(t, &p);
	}
}

static void
test_peer_cloud_upload_alerts_while_flow_open(void)
{
	struct pt t;
	struct conn c = { "10.0.0.7", "198.51.100.80", "block.dropbox.com", "Dropbox", 50000, 443,
		1000, 100 };

	PT_INIT(&t, R_CLOUD, 64);
	struct flow *f = conn_open(&t, &c, PB_T0);
	stream(&t, &c, 1000, 3000000, PB_T0 + 3000);	/* exactly 3 000 000 out: not above */
	pt_tick(&t, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(t.nrec, 0);
	stream(&t, &c, 3000000, 3001000, PB_T0 + 11 * PB_SEC);
	pt_tick(&t, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(t.nrec, 1);
	if (t.nrec == 1) {
		CHECK(strstr(t.json[0], "\"peer.out.bytes[1h]\":3001000") != NULL);
		/* The open flow is the evidence's flow. */
		CHECK(strstr(t.json[0], "\"src_port\":50000") != NULL);
	}
	conn_close(&t, f, PB_T0 + 30 * PB_SEC);
	pt_free(&t);
}

static void
test_peer_cloud_upload_judged_per_tenant_and_sanctioned_excepted(void)
{
	struct pt t;
	struct conn a = { "10.0.0.7", "198.51.100.90", "corp.s3.amazonaws.com", "AmazonAWS", 50001, 443,
		1000, 100 };
	struct conn b = a;

	b.name = "other.s3.amazonaws.com";
	b.sport = 50002;
	PT_INIT(&t, R_CLOUD, 64);
	/* 2 MB to each of two tenants of one provider: neither is above 3 MB. */
	conn_open(&t, &a, PB_T0);
	stream(&t, &a, 1000, 2000000, PB_T0 + 3000);
	conn_open(&t, &b, PB_T0);
	stream(&t, &b, 1000, 2000000, PB_T0 + 3000);
	pt_tick(&t, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(t.nrec, 0);
	/* 4 MB to the company's own tenant: excepted. */
	stream(&t, &a, 2000000, 4000000, PB_T0 + 11 * PB_SEC);
	pt_tick(&t, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(t.nrec, 0);
	/* 4 MB to the other tenant: alert naming it. */
	stream(&t, &b, 2000000, 4000000, PB_T0 + 21 * PB_SEC);
	pt_tick(&t, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(t.nrec, 1);
	if (t.nrec == 1)
		CHECK(strstr(t.json[0], "\"key\":\"other.s3.amazonaws.com\"") != NULL);
	pt_free(&t);
}

static void
test_peer_ignores_inbound_and_internal_flows(void)
{
	struct pt t;
	struct conn in = { "198.51.100.80", "10.0.0.7", "www.example.com", "Dropbox", 50000, 443,
		1000, 100 };
	struct conn lan = { "10.0.0.7", "10.0.0.9", "files.example.com", "Dropbox", 50001, 443,
		1000, 100 };

	PT_INIT(&t, R_CLOUD, 64);
	conn_open(&t, &in, PB_T0);
	stream(&t, &in, 1000, 4000000, PB_T0 + 3000);
	conn_open(&t, &lan, PB_T0);
	stream(&t, &lan, 1000, 4000000, PB_T0 + 3000);
	pt_tick(&t, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(t.nrec, 0);
	pt_free(&t);
}

static void
test_peer_full_table_evicts_and_counts(void)
{
	struct pt t;
	char name[64], buf[1024];
	struct json j;

	PT_INIT(&t, R_CHUNK, 16);
	for (unsigned i = 0; i < 20; i++) {
		struct conn c = C_BEACON;
		snprintf(name, sizeof name, "www.d%u.com", i);
		c.name = name;
		c.sport = (uint16_t)(42000 + i);
		conn_close(&t, conn_open(&t, &c, PB_T0 + i * PB_SEC), PB_T0 + i * PB_SEC + 1);
	}
	json_init(&j, buf, sizeof buf);
	json_obj_open(&j, NULL);
	peer_ops.stats(t.mod, &j);
	json_obj_close(&j);
	if (strstr(json_str(&j), "\"entries\":16,\"capacity\":16,\"created\":20,\"evicted\":4") == NULL) {
		fprintf(stderr, "  stats: %s\n", json_str(&j));
		CHECK(!"stats");
	}
	pt_free(&t);
}

/* An open flow whose entry was evicted must not credit the entry that took its slot. */
static void
test_peer_flow_of_evicted_entry_credits_nobody(void)
{
	struct pt t;
	char name[64], buf[1024];
	struct json j;
	struct conn a = { "10.0.0.5", "198.51.100.80", "block.dropbox.com", "Dropbox", 43000, 443,
		1000, 100 };

	PT_INIT(&t, R_CLOUD, 16);
	conn_open(&t, &a, PB_T0);
	for (unsigned i = 0; i < 16; i++) {
		struct conn c = a;
		snprintf(name, sizeof name, "www.d%u.com", i);
		c.name = name;
		c.dst = "198.51.100.81";
		c.sport = (uint16_t)(43100 + i);
		conn_close(&t, conn_open(&t, &c, PB_T0 + (i + 1) * PB_SEC), PB_T0 + (i + 1) * PB_SEC + 1);
	}
	stream(&t, &a, 1000, 4000000, PB_T0 + 20 * PB_SEC);
	pt_tick(&t, PB_T0 + 30 * PB_SEC);
	CHECK_EQ_U(t.nrec, 0);
	json_init(&j, buf, sizeof buf);
	json_obj_open(&j, NULL);
	peer_ops.stats(t.mod, &j);
	json_obj_close(&j);
	CHECK(strstr(json_str(&j), "\"evicted\":1,") != NULL);
	CHECK(strstr(json_str(&j), "\"stale_flow_slots\":1,") != NULL);
	pt_free(&t);
}

T_MAIN("peer",
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
    T(test_peer_flow_of_evicted_entry_credits_nobody))
