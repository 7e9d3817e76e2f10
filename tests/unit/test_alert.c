/*
 * test_alert - the alert contract: alert_to_json() writes every field
 * dashboards parse (checked as exact text), the message template expands
 * every placeholder, and byte counts and durations are shown in the units
 * a reader expects, including at the unit boundaries.
 */
#include <netinet/in.h>
#include <stdlib.h>

#include "t.h"
#include "alert.h"
#include "pktbuild.h"

static const char rules_text[] =
    "rule exfil-1 {\n"
    "    category  bulk-transfer\n"
    "    when      dest.out.bytes[10min] > 1 MB and dest.out.ratio[10 min] >= 2.5\n"
    "    severity  high\n"
    "    score     70\n"
    "    mitre     T1041 T1048.003\n"
    "    message   \"{src_ip}>{dest_ip}:{dest_port} sni={server_name} app={app} {rule}/{category}/{severity} in {window}: {value}, {dest.out.bytes}, {dest.out.ratio}\"\n"
    "    suppress  1 h\n"
    "}\n"
    "rule day {\n"
    "    category  staging\n"
    "    when      host.out.bytes[24h] > 5 GB and host.out.flows[2 h] >= 10\n"
    "    severity  low\n"
    "    message   \"{src_ip} {host.out.bytes} {host.out.flows} {dest_ip} {server_name}\"\n"
    "}\n";

static struct ruleset *
parse(void)
{
	struct ruleset *rs = NULL;
	struct rules_errors errs = { 0 };

	if (rules_parse(rules_text, sizeof rules_text - 1, "test.rules", NULL, 0, &rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
		rules_errors_free(&errs);
		return NULL;
	}
	return rs;
}

static void
mk_alert(struct alert *a, const struct rule *r)
{
	memset(a, 0, sizeof *a);
	a->ts_us = PB_T0 + 9 * PB_MIN + 30 * PB_SEC + 1;
	snprintf(a->id, sizeof a->id, "s1-00000000000000ab-7");
	snprintf(a->engagement_id, sizeof a->engagement_id, "s1-00000000000000ab-3");
	a->sensor = "s1";
	a->rule = r;
	a->score = r->score;
	a->state = ALERT_UPDATE;
	a->updates = 2;
	a->engaged_since_us = PB_T0;
	a->src = pb_ip("10.0.0.5");
	a->dominant = 1;
	a->window_start_us = PB_T0;
	a->window_s = 600;
	a->bytes_out = 3000000;
	a->bytes_in = 1000;
	a->values[0] = 3000000;
	a->values[1] = 3000;
	a->ndests = 2;
	a->dests[0].ip = pb_ip("198.51.100.7");
	a->dests[0].port = 443;
	a->dests[0].l4proto = IPPROTO_TCP;
	snprintf(a->dests[0].app, sizeof a->dests[0].app, "TLS.Dropbox");
	snprintf(a->dests[0].app_proto, sizeof a->dests[0].app_proto, "tls");
	snprintf(a->dests[0].server_name, sizeof a->dests[0].server_name, "up.\"evil\".example");
	a->dests[0].bytes_out = 2900000;
	a->dests[0].bytes_in = 900;
	a->dests[0].flows = 3;
	a->dests[1].ip = pb_ip("2001:db8::9");
	a->dests[1].port = 0;
	a->dests[1].l4proto = 47;	/* GRE: no EVE name, written as a number */
	snprintf(a->dests[1].app, sizeof a->dests[1].app, "Unknown");
	a->dests[1].bytes_out = 100000;
	a->dests[1].bytes_in = 100;
	a->dests[1].flows = 1;
}

static void
test_alert_json_has_every_contract_field(void)
{
	struct ruleset *rs = parse();
	struct alert a;
	char *buf = malloc(ALERT_JSON_MAX);

	CHECK(rs != NULL);
	if (rs == NULL)
		return;
	mk_alert(&a, &rs->rules[0]);
	alert_render_message(&a);
	size_t n = alert_to_json(&a, buf, ALERT_JSON_MAX);
	CHECK(n > 0);
	CHECK_EQ_U(n, strlen(buf));
	CHECK_EQ_S(buf,
	    "{\"timestamp\":\"2026-03-02T09:09:30.000001+0000\",\"event_type\":\"alert\",\"sensor\":\"s1\","
	    "\"alert_id\":\"s1-00000000000000ab-7\",\"src_ip\":\"10.0.0.5\","
	    "\"dest_ip\":\"198.51.100.7\",\"dest_port\":443,\"proto\":\"TCP\",\"app_proto\":\"tls\","
	    "\"server_name\":\"up.\\\"evil\\\".example\","
	    "\"alert\":{\"category\":\"bulk-transfer\",\"rule\":\"exfil-1\",\"severity\":\"high\",\"score\":70,"
	    "\"mitre\":[\"T1041\",\"T1048.003\"],"
	    "\"message\":\"10.0.0.5>198.51.100.7:443 sni=up.\\\"evil\\\".example app=TLS.Dropbox "
	    "exfil-1/bulk-transfer/high in 10 min: 3.00 MB, 3.00 MB, 3000\","
	    "\"state\":\"update\",\"updates\":2,\"engaged_since\":\"2026-03-02T09:00:00.000000+0000\","
	    "\"engagement_id\":\"s1-00000000000000ab-3\"},"
	    "\"window\":{\"start\":\"2026-03-02T09:00:00.000000+0000\",\"end\":\"2026-03-02T09:09:30.000001+0000\",\"seconds\":600},"
	    "\"evidence\":{\"bytes_out\":3000000,\"bytes_in\":1000,\"destinations\":["
	    "{\"ip\":\"198.51.100.7\",\"port\":443,\"proto\":\"TCP\",\"app\":\"TLS.Dropbox\","
	    "\"server_name\":\"up.\\\"evil\\\".example\",\"bytes_out\":2900000,\"bytes_in\":900,\"flows\":3},"
	    "{\"ip\":\"2001:db8::9\",\"port\":0,\"proto\":47,\"app\":\"Unknown\",\"bytes_out\":100000,\"bytes_in\":100,\"flows\":1}],"
	    "\"metrics\":{\"dest.out.bytes[10min]\":3000000,\"dest.out.ratio[10min]\":3000},\"host_apps\":[],\"flows\":[]}}");
	/* Not dominant: no top-level destination fields; state new. */
	a.dominant = 0;
	a.state = ALERT_NEW;
	a.updates = 0;
	n = alert_to_json(&a, buf, ALERT_JSON_MAX);
	CHECK(n > 0);
	CHECK(strstr(buf, "\"src_ip\":\"10.0.0.5\",\"alert\":{") != NULL);
	CHECK(strstr(buf, "\"dest_ip\"") == NULL && strstr(buf, "\"app_proto\"") == NULL);
	CHECK(strstr(buf, "\"state\":\"new\",\"updates\":0,") != NULL);
	/* Too small a buffer: 0, never a cut line. */
	CHECK_EQ_U(alert_to_json(&a, buf, 100), 0);
	free(buf);
	ruleset_free(rs);
}

static void
test_alert_json_metrics_keys_name_windows_as_rules_do(void)
{
	struct ruleset *rs = parse();
	struct alert a;
	char buf[ALERT_JSON_MAX];

	if (rs == NULL) {
		CHECK(rs != NULL);
		return;
	}
	mk_alert(&a, &rs->rules[1]);
	a.ndests = 0;
	a.values[0] = 6e9;
	a.values[1] = 12;
	CHECK(alert_to_json(&a, buf, sizeof buf) > 0);
	CHECK(strstr(buf, "\"metrics\":{\"host.out.bytes[24h]\":6000000000,\"host.out.flows[2h]\":12}") != NULL);
	CHECK(strstr(buf, "\"mitre\":[]") != NULL);
	CHECK(strstr(buf, "\"destinations\":[]") != NULL);
	CHECK(strstr(buf, "\"severity\":\"low\",\"score\":25") != NULL);	/* score from severity */
	ruleset_free(rs);
}

static void
test_alert_message_renders_every_placeholder(void)
{
	struct ruleset *rs = parse();
	struct alert a;

	if (rs == NULL) {
		CHECK(rs != NULL);
		return;
	}
	mk_alert(&a, &rs->rules[0]);
	alert_render_message(&a);
	CHECK_EQ_S(a.message, "10.0.0.5>198.51.100.7:443 sni=up.\"evil\".example app=TLS.Dropbox "
	    "exfil-1/bulk-transfer/high in 10 min: 3.00 MB, 3.00 MB, 3000");
	/* No server name: the address stands in. */
	a.dests[0].server_name[0] = '\0';
	alert_render_message(&a);
	CHECK(strstr(a.message, "sni=198.51.100.7 ") != NULL);
	/* No destination at all: "?" and port 0. */
	a.ndests = 0;
	alert_render_message(&a);
	CHECK(strncmp(a.message, "10.0.0.5>?:0 sni=? app=? ", 25) == 0);
	/* Rule 2: counts as integers; no destination. */
	mk_alert(&a, &rs->rules[1]);
	a.values[0] = 6.5e9;
	a.values[1] = 12;
	a.ndests = 0;
	alert_render_message(&a);
	CHECK_EQ_S(a.message, "10.0.0.5 6.50 GB 12 ? ?");
	/* Hand-built templates the parser would refuse are still rendered safely:
	 * an unknown name and an unclosed brace stay as text. */
	static char odd[] = "{nope} {src_ip} {host.in.bytes} {";
	struct rule r = rs->rules[1];
	r.message = odd;
	a.rule = &r;
	alert_render_message(&a);
	CHECK_EQ_S(a.message, "{nope} 10.0.0.5 {host.in.bytes} {");
	ruleset_free(rs);
}

static void
test_alert_message_is_cut_at_buffer_end(void)
{
	static char tmpl[2048];
	struct rule r;
	struct alert a;

	memset(&r, 0, sizeof r);
	snprintf(r.name, sizeof r.name, "long");
	r.ncond = 1;
	r.cond[0].metric = M_HOST_OUT_BYTES;
	r.cond[0].window_s = 600;
	tmpl[0] = '\0';
	for (int i = 0; i < 100; i++)
		strcat(tmpl, "{src_ip}");
	r.message = tmpl;
	mk_alert(&a, &r);
	a.src = pb_ip("2001:db8:1234:5678:9abc:def0:1234:5678");
	alert_render_message(&a);
	CHECK_EQ_U(strlen(a.message), sizeof a.message - 1);
	CHECK(strncmp(a.message, "2001:db8:1234:5678:9abc:def0:1234:56782001:", 43) == 0);
}

static void
test_alert_fmt_bytes_boundaries(void)
{
	char b[32];

	CHECK_EQ_S(alert_fmt_bytes(0, b, sizeof b), "0 B");
	CHECK_EQ_S(alert_fmt_bytes(999, b, sizeof b), "999 B");
	CHECK_EQ_S(alert_fmt_bytes(1000, b, sizeof b), "1.00 KB");
	CHECK_EQ_S(alert_fmt_bytes(1500, b, sizeof b), "1.50 KB");
	CHECK_EQ_S(alert_fmt_bytes(9990, b, sizeof b), "9.99 KB");
	CHECK_EQ_S(alert_fmt_bytes(10000, b, sizeof b), "10.0 KB");
	CHECK_EQ_S(alert_fmt_bytes(99900, b, sizeof b), "99.9 KB");
	CHECK_EQ_S(alert_fmt_bytes(100000, b, sizeof b), "100 KB");
	CHECK_EQ_S(alert_fmt_bytes(999000, b, sizeof b), "999 KB");
	CHECK_EQ_S(alert_fmt_bytes(1000000, b, sizeof b), "1.00 MB");
	CHECK_EQ_S(alert_fmt_bytes(1073741824, b, sizeof b), "1.07 GB");
	CHECK_EQ_S(alert_fmt_bytes(500000000, b, sizeof b), "500 MB");
	CHECK_EQ_S(alert_fmt_bytes(1000000000000ull, b, sizeof b), "1.00 TB");
	CHECK_EQ_S(alert_fmt_bytes(1000000000000000ull, b, sizeof b), "1.00 PB");
	CHECK_EQ_S(alert_fmt_bytes(UINT64_MAX, b, sizeof b), "18447 PB");	/* largest unit */
	/* Values that round up to the next step never show four digits or 1000. */
	CHECK_EQ_S(alert_fmt_bytes(9999, b, sizeof b), "10.0 KB");
	CHECK_EQ_S(alert_fmt_bytes(99999, b, sizeof b), "100 KB");
	CHECK_EQ_S(alert_fmt_bytes(999999, b, sizeof b), "1.00 MB");
	CHECK_EQ_S(alert_fmt_bytes(999999999, b, sizeof b), "1.00 GB");
	/* Small buffers are cut, not overrun. */
	char s[4];
	CHECK_EQ_S(alert_fmt_bytes(1073741824, s, sizeof s), "1.0");
}

static void
test_alert_fmt_duration_boundaries(void)
{
	char b[32];

	CHECK_EQ_S(alert_fmt_duration(0, b, sizeof b), "0 s");
	CHECK_EQ_S(alert_fmt_duration(59, b, sizeof b), "59 s");
	CHECK_EQ_S(alert_fmt_duration(60, b, sizeof b), "1 min");
	CHECK_EQ_S(alert_fmt_duration(90, b, sizeof b), "90 s");
	CHECK_EQ_S(alert_fmt_duration(600, b, sizeof b), "10 min");
	CHECK_EQ_S(alert_fmt_duration(3540, b, sizeof b), "59 min");
	CHECK_EQ_S(alert_fmt_duration(3600, b, sizeof b), "1 h");
	CHECK_EQ_S(alert_fmt_duration(5400, b, sizeof b), "90 min");
	CHECK_EQ_S(alert_fmt_duration(7200, b, sizeof b), "2 h");
	CHECK_EQ_S(alert_fmt_duration(86400, b, sizeof b), "24 h");
	CHECK_EQ_S(alert_fmt_duration(90000, b, sizeof b), "25 h");
	CHECK_EQ_S(alert_fmt_duration(172800, b, sizeof b), "2 d");
	CHECK_EQ_S(alert_fmt_duration(30 * 86400, b, sizeof b), "30 d");
}

/* The Community ID spec's own example (corelight/community-id-spec, baseline). */
static void
test_alert_community_id_matches_the_spec_example(void)
{
	struct alert a;
	struct alert_flow af;

	memset(&a, 0, sizeof a);
	memset(&af, 0, sizeof af);
	CHECK_EQ_U(addr_parse(&af.src, "128.232.110.120"), 0);
	CHECK_EQ_U(addr_parse(&af.dst, "66.35.250.204"), 0);
	af.sport = 34855;
	af.dport = 80;
	af.l4proto = 6;
	alert_add_flow_rec(&a, &af);
	CHECK_EQ_U(a.nflows, 1);
	CHECK_EQ_S(a.flows[0].community_id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
	/* Either direction hashes the same. */
	af.src = a.flows[0].dst;
	af.dst = a.flows[0].src;
	af.sport = 80;
	af.dport = 34855;
	alert_add_flow_rec(&a, &af);
	CHECK_EQ_S(a.flows[1].community_id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
	/* Bounded: the ninth flow is dropped, not written past the array. */
	for (int i = 0; i < 10; i++)
		alert_add_flow_rec(&a, &af);
	CHECK_EQ_U(a.nflows, ALERT_MAX_FLOWS);
}

/*
 * The largest alert the sensor can build must fit ALERT_JSON_MAX, or it
 * would be dropped (counted, but lost): every list full, every name at its
 * limit and made of bytes that are not UTF-8 (each becomes a 3-byte
 * U+FFFD), a message of control characters (6 bytes each as \u00XX), the
 * module object at its limit, every number at its widest.
 */
static void
test_alert_worst_case_fits_the_json_buffer(void)
{
	struct ruleset *rs = parse();
	static struct alert a;
	static char buf[ALERT_JSON_MAX];
	struct rule r;

	CHECK(rs != NULL);
	if (rs == NULL)
		return;
	r = rs->rules[0];
	mk_alert(&a, &r);
	r.ncond = RULE_MAX_CONDS;
	for (size_t i = 0; i < RULE_MAX_CONDS; i++) {
		r.cond[i] = rs->rules[0].cond[0];
		a.values[i] = 1.2345678901234567e300;
	}
	r.nmitre = RULE_MAX_MITRE;
	for (size_t i = 0; i < RULE_MAX_MITRE; i++)
		snprintf(r.mitre[i], sizeof r.mitre[i], "T1048.003");
	memset(r.name, 'r', sizeof r.name - 1);
	r.name[sizeof r.name - 1] = '\0';
	a.ndests = ALERT_MAX_DESTS;
	for (size_t i = 0; i < ALERT_MAX_DESTS; i++) {
		struct alert_dest *d = &a.dests[i];
		d->ip = pb_ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
		d->port = 65535;
		d->l4proto = 200;
		memset(d->app, 0xff, sizeof d->app - 1);
		memset(d->app_proto, 0xff, sizeof d->app_proto - 1);
		memset(d->server_name, 0xff, sizeof d->server_name - 1);
		d->bytes_out = d->bytes_in = d->flows = UINT64_MAX;
	}
	a.napps = ALERT_MAX_APPS;
	for (size_t i = 0; i < ALERT_MAX_APPS; i++) {
		memset(a.apps[i].app, 0xff, sizeof a.apps[i].app - 1);
		a.apps[i].bytes_out = a.apps[i].bytes_in = UINT64_MAX;
	}
	a.nflows = ALERT_MAX_FLOWS;
	for (size_t i = 0; i < ALERT_MAX_FLOWS; i++) {
		struct alert_flow *f = &a.flows[i];
		f->src = f->dst = pb_ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
		f->sport = f->dport = 65535;
		f->l4proto = 200;
		f->first_us = f->last_us = UINT64_MAX / 2;
		f->bytes_out = f->bytes_in = UINT64_MAX;
		memset(f->app, 0xff, sizeof f->app - 1);
		memset(f->server_name, 0xff, sizeof f->server_name - 1);
		memset(f->community_id, 'c', sizeof f->community_id - 1);
	}
	memset(a.message, 0x01, sizeof a.message - 1);
	memset(a.pcap, 0xff, sizeof a.pcap - 1);
	snprintf(a.extra_key, sizeof a.extra_key, "dns");
	memset(a.extra, 'x', sizeof a.extra - 1);	/* raw: its length is what counts */
	a.extra[0] = '"';
	a.extra[sizeof a.extra - 2] = '"';
	size_t n = alert_to_json(&a, buf, sizeof buf);
	CHECK(n > 0);
	fprintf(stderr, "  # worst-case alert: %zu of %d bytes\n", n, ALERT_JSON_MAX);
	ruleset_free(rs);
}

T_MAIN("alert",
    T(test_alert_json_has_every_contract_field),
    T(test_alert_json_metrics_keys_name_windows_as_rules_do),
    T(test_alert_message_renders_every_placeholder),
    T(test_alert_message_is_cut_at_buffer_end),
    T(test_alert_fmt_bytes_boundaries),
    T(test_alert_fmt_duration_boundaries),
    T(test_alert_community_id_matches_the_spec_example),
    T(test_alert_worst_case_fits_the_json_buffer))
