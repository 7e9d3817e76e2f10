/*
 * test_rules - the rules parser: every attribute and unit, variables and
 * --set overrides, each error message with its exact file:line:col, and a
 * torture test of random mutations (run under ASan/LSan: no crash, no leak).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"
#include "t.h"

static const char full_text[] =
	"# comment to end of line\n"
	"var HOME_NET   = 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7\n"
	"var BACKUP     = 10.1.0.0/24\n"
	"var BULK_1H    = 500 MB\n"
	"var CLOUD_OK   = \"*.corp-tenant.example\", \"backup.example.org\"\n"
	"\n"
	"rule bulk-upload-1h {\n"
	"    category  bulk-transfer\n"
	"    when      host.out.bytes[1h] > $BULK_1H and host.out.ratio[1h] >= 5\n"
	"    hosts     $HOME_NET                  # optional scope\n"
	"    except    dest in $BACKUP or server_name ~ \"*.corp-cloud.example\" or server_name ~ $CLOUD_OK\n"
	"              or app in (Dropbox, \"Google Drive\") or app_category in (CloudStorage) or dest_port in (22, 873)\n"
	"    severity  high\n"
	"    score     70\n"
	"    mitre     T1041 T1048.003\n"
	"    message   \"{src_ip} sent {host.out.bytes} to external hosts in {window}\"\n"
	"    suppress  2 h\n"
	"    enabled   yes                         # optional, default yes\n"
	"}\n";

/* Parses text as "t.rules"; returns the set (NULL on error) and fills *e. */
static struct ruleset *
parse(const char *text, struct rules_override *ov, size_t nov, struct rules_errors *e)
{
	struct ruleset *rs = NULL;
	int rc = rules_parse(text, strlen(text), "t.rules", ov, nov, &rs, e);

	CHECK((rc == 0) == (rs != NULL));
	return rs;
}

/* Parses a rule whose when clause is "when <when>"; returns cond[0].value or -1. */
static double
threshold(const char *when)
{
	char text[512];
	struct rules_errors e;
	struct ruleset *rs;
	double v = -1;

	snprintf(text, sizeof text, "rule r {\ncategory staging\nwhen %s\nseverity low\n"
	    "message \"m\"\n}\n", when);
	rs = parse(text, NULL, 0, &e);
	if (rs != NULL)
		v = rs->rules[0].cond[0].value;
	else
		fprintf(stderr, "  when %s: %s\n", when, e.n ? e.msgs[0] : "?");
	ruleset_free(rs);
	rules_errors_free(&e);
	return v;
}

/* Parses text, which must fail with exactly one error: want. */
static void
expect_error(const char *text, const char *want)
{
	struct rules_errors e;
	struct ruleset *rs = parse(text, NULL, 0, &e);

	CHECK(rs == NULL);
	CHECK_EQ_U(e.n, 1);
	CHECK_EQ_S(e.n ? e.msgs[0] : "(no error)", want);
	for (size_t i = 1; i < e.n; i++)
		fprintf(stderr, "  extra: %s\n", e.msgs[i]);
	ruleset_free(rs);
	rules_errors_free(&e);
}

static int
has_error(const struct rules_errors *e, const char *want)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->msgs[i], want) == 0)
			return 1;
	return 0;
}

#define RULE_OK "category staging\nwhen host.out.bytes[1h] > 1 MB\nseverity low\nmessage \"m\"\n"

static void
test_valid_rule_with_every_attribute(void)
{
	struct rules_errors e;
	struct ruleset *rs = parse(full_text, NULL, 0, &e);
	const struct rule *r;
	struct ip_addr a;

	CHECK_EQ_U(e.n, 0);
	if (rs == NULL)
		return;
	CHECK_EQ_U(rs->nrules, 1);
	CHECK_EQ_S(rs->source, "t.rules");
	r = &rs->rules[0];
	CHECK_EQ_S(r->name, "bulk-upload-1h");
	CHECK_EQ_U(r->line, 7);
	CHECK_EQ_U(r->category, CAT_BULK_TRANSFER);
	CHECK_EQ_U(r->severity, SEV_HIGH);
	CHECK_EQ_U(r->score, 70);
	CHECK_EQ_U(r->nmitre, 2);
	CHECK_EQ_S(r->mitre[0], "T1041");
	CHECK_EQ_S(r->mitre[1], "T1048.003");
	CHECK_EQ_S(r->message, "{src_ip} sent {host.out.bytes} to external hosts in {window}");
	CHECK_EQ_U(r->suppress_s, 7200);
	CHECK_EQ_U(r->disabled, 0);
	CHECK_EQ_U(r->ncond, 2);
	CHECK_EQ_U(r->cond[0].metric, M_HOST_OUT_BYTES);
	CHECK_EQ_U(r->cond[0].window_s, 3600);
	CHECK_EQ_U(r->cond[0].op, RULE_OP_GT);
	CHECK(r->cond[0].value == 500e6);
	CHECK_EQ_U(r->cond[1].metric, M_HOST_OUT_RATIO);
	CHECK_EQ_U(r->cond[1].op, RULE_OP_GE);
	CHECK(r->cond[1].value == 5);
	CHECK_EQ_U(netset_count(r->hosts), 4);
	CHECK_EQ_U(r->nexcept, 6);
	if (r->nexcept == 6) {
		CHECK_EQ_U(r->except[0].kind, RULE_TERM_DEST_IN);
		addr_parse(&a, "10.1.0.77");
		CHECK(netset_contains(r->except[0].net, &a));
		addr_parse(&a, "10.2.0.77");
		CHECK(!netset_contains(r->except[0].net, &a));
		CHECK_EQ_U(r->except[1].kind, RULE_TERM_SERVER_NAME);
		CHECK_EQ_U(r->except[1].nnames, 1);
		CHECK_EQ_S(r->except[1].names[0], "*.corp-cloud.example");
		CHECK_EQ_U(r->except[2].nnames, 2);
		CHECK_EQ_S(r->except[2].names[1], "backup.example.org");
		CHECK_EQ_U(r->except[3].kind, RULE_TERM_APP_IN);
		CHECK_EQ_U(r->except[3].nnames, 2);
		CHECK_EQ_S(r->except[3].names[1], "Google Drive");
		CHECK_EQ_U(r->except[4].kind, RULE_TERM_CATEGORY_IN);
		CHECK_EQ_S(r->except[4].names[0], "CloudStorage");
		CHECK_EQ_U(r->except[5].kind, RULE_TERM_PORT_IN);
		CHECK_EQ_U(r->except[5].nports, 2);
		CHECK_EQ_U(r->except[5].ports[1], 873);
	}
	CHECK(rs->home_net != NULL);
	CHECK_EQ_S(rs->home_net_text, "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7");
	addr_parse(&a, "fc00::1");
	CHECK(netset_contains(rs->home_net, &a));
	ruleset_free(rs);
	rules_errors_free(&e);
}

static void
test_defaults_score_from_severity_suppress_1h_enabled(void)
{
	static const char *const sev[] = { "low", "medium", "high", "critical" };
	static const unsigned score[] = { 25, 50, 75, 90 };

	for (int i = 0; i < 4; i++) {
		char text[256];
		struct rules_errors e;
		struct ruleset *rs;

		snprintf(text, sizeof text, "rule r {\ncategory beacon\nwhen host.out.flows[5 min] > 100\n"
		    "severity %s\nmessage \"m\"\n}\n", sev[i]);
		rs = parse(text, NULL, 0, &e);
		CHECK(rs != NULL);
		if (rs == NULL)
			continue;
		CHECK_EQ_U(rs->rules[0].score, score[i]);
		CHECK_EQ_U(rs->rules[0].suppress_s, 3600);
		CHECK_EQ_U(rs->rules[0].disabled, 0);
		CHECK(rs->rules[0].hosts == NULL);
		CHECK_EQ_U(rs->rules[0].nexcept, 0);
		CHECK(rs->home_net == NULL);
		ruleset_free(rs);
		rules_errors_free(&e);
	}
}

static void
test_parse_without_out_only_validates(void)
{
	struct rules_errors e;

	CHECK(rules_parse(full_text, sizeof full_text - 1, NULL, NULL, 0, NULL, &e) == 0);
	CHECK_EQ_U(e.n, 0);
	CHECK(rules_parse("x\n", 2, NULL, NULL, 0, NULL, NULL) == -1);
	CHECK(rules_parse("x\n", 2, NULL, NULL, 0, NULL, &e) == -1);
	CHECK_EQ_S(e.n ? e.msgs[0] : "", "<input>:1:1: expected 'rule', 'var' or 'workhours' at the start of a line, got 'x'");
	rules_errors_free(&e);
}

static void
test_enabled_no_disables_rule(void)
{
	struct rules_errors e;
	struct ruleset *rs = parse("rule r {\n" RULE_OK "enabled no\n}\n", NULL, 0, &e);

	CHECK(rs != NULL && rs->rules[0].disabled == 1);
	ruleset_free(rs);
	rules_errors_free(&e);
}

static void
test_size_units_decimal_and_binary(void)
{
	CHECK(threshold("host.out.bytes[1h] > 100") == 100);
	CHECK(threshold("host.out.bytes[1h] > 100 B") == 100);
	CHECK(threshold("host.out.bytes[1h] > 10 KB") == 10e3);
	CHECK(threshold("host.out.bytes[1h] > 10kB") == 10e3);
	CHECK(threshold("host.out.bytes[1h] > 500 MB") == 500e6);
	CHECK(threshold("host.out.bytes[1h] > 500MB") == 500e6);
	CHECK(threshold("host.out.bytes[1h] > 2 GB") == 2e9);
	CHECK(threshold("host.out.bytes[1h] > 3 TB") == 3e12);
	CHECK(threshold("host.out.bytes[1h] > 1 KiB") == 1024);
	CHECK(threshold("host.out.bytes[1h] > 2 MiB") == 2.0 * 1048576);
	CHECK(threshold("host.out.bytes[1h] > 1.5 GiB") == 1.5 * 1073741824.0);
	CHECK(threshold("host.out.bytes[1h] > 1TiB") == 1099511627776.0);
	CHECK(threshold("host.out.ratio[1h] > 0.25") == 0.25);
	CHECK(threshold("host.out.peers[1h] > 40") == 40);
}

static void
test_duration_units_in_windows_and_suppress(void)
{
	static const struct { const char *d; uint32_t s; } cases[] = {
		{ "30 s", 30 }, { "45 sec", 45 }, { "10 seconds", 10 }, { "10 min", 600 },
		{ "10min", 600 }, { "2 minutes", 120 }, { "1 h", 3600 }, { "1h", 3600 },
		{ "3 hours", 10800 }, { "1.5 h", 5400 }, { "7 d", 604800 }, { "1 day", 86400 },
	};
	static const struct { const char *w; uint32_t s; } windows[] = {
		{ "1 min", 60 }, { "10 min", 600 }, { "60 min", 3600 }, { "1h", 3600 },
		{ "2 h", 7200 }, { "24 h", 86400 }, { "1 d", 86400 }, { "120 s", 120 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[256];
		struct rules_errors e;
		struct ruleset *rs;

		snprintf(text, sizeof text, "rule r {\n" RULE_OK "suppress %s\n}\n", cases[i].d);
		rs = parse(text, NULL, 0, &e);
		CHECK(rs != NULL);
		if (rs != NULL)
			CHECK_EQ_U(rs->rules[0].suppress_s, cases[i].s);
		ruleset_free(rs);
		rules_errors_free(&e);
	}
	for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++) {
		char text[256];
		struct rules_errors e;
		struct ruleset *rs;

		snprintf(text, sizeof text, "rule r {\ncategory staging\nwhen dest.out.bytes[%s] > 1\n"
		    "severity low\nmessage \"m\"\n}\n", windows[i].w);
		rs = parse(text, NULL, 0, &e);
		CHECK(rs != NULL);
		if (rs != NULL)
			CHECK_EQ_U(rs->rules[0].cond[0].window_s, windows[i].s);
		ruleset_free(rs);
		rules_errors_free(&e);
	}
}

static void
test_variables_used_as_every_kind_of_value(void)
{
	static const char text[] =
		"var NETS = 192.0.2.0/24, 198.51.100.0/24\n"
		"var SIZE = 1.5 GiB\n"
		"var WIN = 10 min\n"
		"var NAMES = \"*.a.example\", b.example\n"
		"var APPS = (Dropbox, \"Google Drive\")\n"
		"var PORTS = 22, 873\n"
		"var MSG = \"{src_ip} moved {value}\"\n"
		"var SEV = critical\n"
		"var ALL = $NETS, 203.0.113.0/24\n"
		"rule r {\n"
		"category cloud-upload\n"
		"when host.out.bytes[$WIN] > $SIZE\n"
		"hosts $ALL\n"
		"except dest in $NETS or server_name ~ $NAMES or app in $APPS or dest_port in ($PORTS)\n"
		"severity $SEV\n"
		"message $MSG\n"
		"suppress $WIN\n"
		"}\n";
	struct rules_errors e;
	struct ruleset *rs = parse(text, NULL, 0, &e);
	const struct rule *r;

	CHECK_EQ_U(e.n, 0);
	if (rs == NULL)
		return;
	r = &rs->rules[0];
	CHECK_EQ_U(r->cond[0].window_s, 600);
	CHECK(r->cond[0].value == 1.5 * 1073741824.0);
	CHECK_EQ_U(netset_count(r->hosts), 3);
	CHECK_EQ_U(r->nexcept, 4);
	CHECK_EQ_U(r->except[1].nnames, 2);
	CHECK_EQ_S(r->except[1].names[1], "b.example");
	CHECK_EQ_U(r->except[2].nnames, 2);
	CHECK_EQ_U(r->except[3].nports, 2);
	CHECK_EQ_U(r->severity, SEV_CRITICAL);
	CHECK_EQ_S(r->message, "{src_ip} moved {value}");
	CHECK_EQ_U(r->suppress_s, 600);
	CHECK(rs->home_net == NULL);
	ruleset_free(rs);
	rules_errors_free(&e);
}

static const char ovr_text[] =
	"var HOME_NET = 10.0.0.0/8\n"
	"var BULK_1H = 500 MB\n"
	"rule r {\ncategory bulk-transfer\nwhen host.out.bytes[1h] > $BULK_1H\nhosts $HOME_NET\n"
	"severity high\nmessage \"m\"\n}\n";

static void
test_override_changes_threshold(void)
{
	struct rules_override ov[] = { { "BULK_1H", "2MB", 0 } };
	struct rules_errors e;
	struct ruleset *rs = parse(ovr_text, ov, 1, &e);

	CHECK_EQ_U(e.n, 0);
	CHECK_EQ_U(ov[0].used, 1);
	CHECK(rs != NULL && rs->rules[0].cond[0].value == 2e6);
	ruleset_free(rs);
	rules_errors_free(&e);
}

static void
test_override_home_net(void)
{
	struct rules_override ov[] = { { "HOME_NET", "192.0.2.0/24, 2001:db8::/32", 0 } };
	struct rules_errors e;
	struct ruleset *rs = parse(ovr_text, ov, 1, &e);
	struct ip_addr a;

	CHECK_EQ_U(e.n, 0);
	CHECK_EQ_U(ov[0].used, 1);
	if (rs == NULL)
		return;
	CHECK_EQ_S(rs->home_net_text, "192.0.2.0/24, 2001:db8::/32");
	addr_parse(&a, "192.0.2.9");
	CHECK(netset_contains(rs->home_net, &a));
	CHECK(netset_contains(rs->rules[0].hosts, &a));
	addr_parse(&a, "10.0.0.1");
	CHECK(!netset_contains(rs->home_net, &a));
	ruleset_free(rs);
	rules_errors_free(&e);
}

static void
test_override_of_unknown_var_is_error(void)
{
	struct rules_override ov[] = { { "BULK_1H", "2MB", 0 }, { "BULK_2H", "1 GB", 0 } };
	struct rules_errors e;
	struct ruleset *rs = parse(ovr_text, ov, 2, &e);

	CHECK(rs == NULL);
	CHECK_EQ_U(e.n, 1);
	CHECK_EQ_S(e.n ? e.msgs[0] : "", "<command line>: --set BULK_2H: no such variable in t.rules");
	CHECK_EQ_U(ov[0].used, 1);
	CHECK_EQ_U(ov[1].used, 0);
	rules_errors_free(&e);
}

static void
test_override_bad_value_names_the_option(void)
{
	struct rules_override bad_size[] = { { "BULK_1H", "2 XB", 0 } };
	struct rules_override bad_net[] = { { "HOME_NET", "192.0.2.0/33", 0 } };
	struct rules_override bad_lex[] = { { "BULK_1H", "\"open", 0 } };
	struct rules_override empty[] = { { "BULK_1H", "", 0 } };
	struct rules_errors e;

	CHECK(parse(ovr_text, bad_size, 1, &e) == NULL);
	CHECK_EQ_S(e.n ? e.msgs[0] : "", "t.rules:5:27: in $BULK_1H (set with --set): unknown size "
	    "unit 'XB'; expected B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)");
	rules_errors_free(&e);
	CHECK(parse(ovr_text, bad_net, 1, &e) == NULL);
	CHECK_EQ_S(e.n ? e.msgs[0] : "", "<command line>: --set HOME_NET: '192.0.2.0/33': prefix "
	    "length must be 0..32");
	rules_errors_free(&e);
	CHECK(parse(ovr_text, bad_lex, 1, &e) == NULL);
	CHECK_EQ_S(e.n ? e.msgs[0] : "", "<command line>: --set BULK_1H: unterminated string: "
	    "missing closing '\"' on this line (column 1 of the value)");
	rules_errors_free(&e);
	CHECK(parse(ovr_text, empty, 1, &e) == NULL);
	CHECK_EQ_S(e.n ? e.msgs[0] : "", "<command line>: --set BULK_1H: empty value");
	rules_errors_free(&e);
}

static void
test_var_error_at_use_site_names_the_variable(void)
{
	expect_error("var V = 10.0.0.0/8\nrule r {\ncategory staging\nwhen host.out.bytes[1h] > $V\n"
	    "severity low\nmessage \"m\"\n}\n",
	    "t.rules:4:27: in $V: expected a size like 500 MB, got '10.0.0.0/8'");
	expect_error("var V = 1 GB\nrule r {\n" RULE_OK "hosts $V\n}\n",
	    "t.rules:7:7: in $V: '1' is not an IPv4 or IPv6 address");
}

static void
test_continuation_lines(void)
{
	static const char text[] =
		"rule r {\n"
		"category staging\n"
		"when host.out.bytes[1h] > 1 MB and\n"
		"     host.out.peers[1h] > 5\n"
		"except dest in 192.0.2.0/24 or\n"
		"       # a comment between continued lines\n"
		"       dest_port in (22,\n"
		"                     873)\n"
		"   or app in (SSH)\n"
		"except server_name ~ \"a.example\"\n"
		"severity low\n"
		"message \"m\"\n"
		"}\n";
	struct rules_errors e;
	struct ruleset *rs = parse(text, NULL, 0, &e);

	CHECK_EQ_U(e.n, 0);
	CHECK(rs != NULL && rs->rules[0].ncond == 2 && rs->rules[0].nexcept == 4);
	ruleset_free(rs);
	rules_errors_free(&e);
}

static void
test_brace_on_next_line_and_crlf(void)
{
	struct rules_errors e;
	struct ruleset *rs = parse("rule a\r\n{\r\n" "category staging\r\nwhen host.out.bytes[1h] > 1 MB\r\n"
	    "severity low\r\nmessage \"m\"\r\n}\r\nrule b {\n" RULE_OK "}", NULL, 0, &e);

	CHECK_EQ_U(e.n, 0);
	CHECK(rs != NULL && rs->nrules == 2);
	ruleset_free(rs);
	rules_errors_free(&e);
}

/* Each case: input and the one exact message it must produce. */
static void
test_error_messages_with_positions(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "bogus\n", "t.rules:1:1: expected 'rule', 'var' or 'workhours' at the start of a line, got 'bogus'" },
		{ "\n  }\n", "t.rules:2:3: unexpected '}': no rule is open" },
		{ "var X = 1\nvar X = 2\n", "t.rules:2:5: variable $X is already defined at line 1" },
		{ "var lower = 1\n", "t.rules:1:5: expected a variable name (upper-case letters, digits "
		  "and _, like HOME_NET) after 'var', got 'lower'" },
		{ "var X 1\n", "t.rules:1:7: expected '=' after 'var X', got '1'" },
		{ "var X =\n", "t.rules:1:7: 'var X' has no value" },
		{ "var X = $Y\n", "t.rules:1:9: unknown variable $Y (define it with 'var' before using it)" },
		{ "var X = $\n", "t.rules:1:9: expected a variable name after '$'" },
		{ "rule r {\n" RULE_OK "hosts $NOPE\n}\n",
		  "t.rules:6:7: unknown variable $NOPE (define it with 'var' before using it)" },
		{ "rule r {\n" RULE_OK "colour red\n}\n", "t.rules:6:1: unknown attribute 'colour'; expected "
		  "one of: category, when, hosts, only, except, severity, score, mitre, message, suppress, enabled, offhours, or '}'" },
		{ "rule r {\n" RULE_OK "  sevrity low\n}\n",
		  "t.rules:6:3: unknown attribute 'sevrity'; did you mean 'severity'?" },
		{ "rule r {\n" RULE_OK "severity high\n}\n", "t.rules:6:1: duplicate 'severity' (already set at line 4)" },
		{ "rule r {\n" RULE_OK "}\nrule r {\n" RULE_OK "}\n",
		  "t.rules:7:6: duplicate rule name 'r' (first defined at line 1)" },
		{ "rule r {\ncategory staging\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:1:1: rule 'r' has no 'when' (required)" },
		{ "rule r {\n" RULE_OK, "t.rules:1:1: rule 'r' is not closed: missing '}'" },
		{ "rule r {\n" RULE_OK "rule s {\n" RULE_OK "}\n",
		  "t.rules:6:1: missing '}' to close rule 'r' (opened at line 1) before 'rule'" },
		{ "rule r! {\n" RULE_OK "}\n", "t.rules:1:7: unexpected character '!'" },
		{ "rule r {\n" RULE_OK "} x\n", "t.rules:6:3: unexpected 'x' after '}'" },
		{ "rule r { category staging\n" RULE_OK "}\n",
		  "t.rules:1:10: unexpected 'category' after '{' (put each attribute on its own line)" },
		{ "rule r {\ncategory bulk\nwhen host.out.bytes[1h] > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:2:10: unknown category 'bulk'; expected one of: bulk-transfer, staging, "
		  "cloud-upload, dns-tunnel, icmp-tunnel, beacon, long-connection, chunked-transfer, "
		  "unusual-protocol, new-destination, baseline-anomaly, host-risk" },
		{ "rule r {\ncategory stagin\nwhen host.out.bytes[1h] > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:2:10: unknown category 'stagin'; did you mean 'staging'?" },
		{ "rule r {\ncategory staging\nwhen host.out.byte[1h] > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:6: unknown metric 'host.out.byte'; did you mean 'host.out.bytes'?" },
		{ "rule r {\ncategory staging\nwhen bogus[1h] > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:6: expected a metric like host.out.bytes (see rules/README.md), got 'bogus'" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:21: host.out.bytes needs a window, e.g. host.out.bytes[1h]" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[90 min] > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:21: window 90 min: use whole minutes up to 60 min or whole hours up to 24 h" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[30 s] > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:21: window 30 s is out of range for host.out.bytes: 1 min..24 h" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[2 d] > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:21: window 2 d is out of range for host.out.bytes: 1 min..24 h" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[10 m] > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:24: 'm' is ambiguous: write min for minutes" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[10] > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:21: '10' needs a unit: s, min, h or d (e.g. 10 min)" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h) > 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:23: expected ']' after the window, got ')'" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] = 1\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:25: expected a comparison (>, >=, <, <=) after host.out.bytes, got '='" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > lots\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:27: expected a size like 500 MB, got 'lots'" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 5 XB\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:29: unknown size unit 'XB'; expected B, KB, MB, GB, TB (powers of 1000) or "
		  "KiB, MiB, GiB, TiB (powers of 1024)" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 5Mb\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:28: unknown size unit 'Mb': sizes are in bytes, write B, KB, MB... (a final "
		  "lower-case b would mean bits)" },
		{ "rule r {\ncategory staging\nwhen host.out.ratio[1h] > 5 MB\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:29: expected a ratio without a unit, got 'MB'" },
		{ "rule r {\ncategory staging\nwhen host.out.peers[1h] > 2.5\nseverity low\nmessage \"m\"\n}\n",
		  "t.rules:3:27: expected a count (a whole number), got '2.5'" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 1 or host.out.peers[1h] > 2\n"
		  "severity low\nmessage \"m\"\n}\n",
		  "t.rules:3:29: expected 'and' or the end of the line after a condition, got 'or'" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 1 and host.in.bytes[1h] > 1 and "
		  "host.out.peers[1h] > 1 and host.out.flows[1h] > 1 and dest.out.bytes[1h] > 1\n"
		  "severity low\nmessage \"m\"\n}\n",
		  "t.rules:3:113: too many conditions (at most 4 joined by 'and')" },
		{ "rule r {\n" RULE_OK "except dest in 10.1.2.3/8\n}\n",
		  "t.rules:6:16: '10.1.2.3/8' has host bits set beyond /8" },
		{ "rule r {\n" RULE_OK "except dest in 300.1.1.1\n}\n",
		  "t.rules:6:16: '300.1.1.1' is not an IPv4 or IPv6 address" },
		{ "rule r {\n" RULE_OK "except server_name in (\"a\")\n}\n",
		  "t.rules:6:20: expected '~' after server_name, got 'in'" },
		{ "rule r {\n" RULE_OK "except host in (a)\n}\n",
		  "t.rules:6:8: expected an except term (dest in, server_name ~, app in, app_category in, "
		  "dest_port in, risk in), got 'host'" },
		{ "rule r {\n" RULE_OK "except app in (a) and dest_port in (22)\n}\n",
		  "t.rules:6:19: expected 'or' or the end of the line after an except term, got 'and'" },
		{ "rule r {\n" RULE_OK "except app in ()\n}\n", "t.rules:6:16: empty list" },
		{ "rule r {\n" RULE_OK "except app in (a b)\n}\n",
		  "t.rules:6:18: expected ',' or ')' in list, got 'b'" },
		{ "rule r {\n" RULE_OK "except dest_port in (22, 70000)\n}\n",
		  "t.rules:6:26: port 70000 is out of range (1..65535)" },
		{ "rule r {\n" RULE_OK "except dest_port in (ssh)\n}\n",
		  "t.rules:6:22: expected a port number, got 'ssh'" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 1\nseverity hgh\nmessage \"m\"\n}\n",
		  "t.rules:4:10: unknown severity 'hgh'; expected low, medium, high or critical" },
		{ "rule r {\n" RULE_OK "score 101\n}\n", "t.rules:6:7: score 101 is out of range: expected 0..100" },
		{ "rule r {\n" RULE_OK "score 7.5\n}\n",
		  "t.rules:6:7: expected a score 0..100 (a whole number), got '7.5'" },
		{ "rule r {\n" RULE_OK "mitre T1041 X1048\n}\n",
		  "t.rules:6:13: expected a MITRE ATT&CK technique id like T1048 or T1048.003, got 'X1048'" },
		{ "rule r {\n" RULE_OK "mitre T1 T2 T3\n}\n",
		  "t.rules:6:7: expected a MITRE ATT&CK technique id like T1048 or T1048.003, got 'T1'" },
		{ "rule r {\n" RULE_OK "mitre T1001 T1002 T1003 T1004 T1005 T1006 T1007 T1008 T1009\n}\n",
		  "t.rules:6:55: too many MITRE ids (at most 8)" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 1\nseverity low\nmessage m\n}\n",
		  "t.rules:5:9: expected a message in double quotes, got 'm'" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 1\nseverity low\nmessage \"abc\n}\n",
		  "t.rules:5:9: unterminated string: missing closing '\"' on this line" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 1\nseverity low\nmessage \"a\\nb\"\n}\n",
		  "t.rules:5:11: unknown escape in string: only \\\" and \\\\ are allowed" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 1\nseverity low\nmessage \"hi {nope}\"\n}\n",
		  "t.rules:5:13: unknown placeholder {nope}; expected one of: src_ip, dest_ip, dest_port, "
		  "server_name, app, rule, category, severity, window, value, detail, or a metric of the when clause" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 1\nseverity low\n"
		  "message \"{host.out.peers}\"\n}\n",
		  "t.rules:5:10: placeholder {host.out.peers} names a metric that is not in this rule's "
		  "when clause (its window would be unknown)" },
		{ "rule r {\ncategory staging\nwhen host.out.bytes[1h] > 1\nseverity low\nmessage \"x {src_ip\"\n}\n",
		  "t.rules:5:12: unclosed '{' in message (placeholders look like {src_ip})" },
		{ "rule r {\n" RULE_OK "suppress 31 d\n}\n", "t.rules:6:10: suppress is too long (at most 30 d)" },
		{ "rule r {\n" RULE_OK "enabled maybe\n}\n", "t.rules:6:9: expected yes or no, got 'maybe'" },
		{ "rule r {\n" RULE_OK "severity\n}\n", "t.rules:6:1: duplicate 'severity' (already set at line 4)" },
		{ "rule r {\n" RULE_OK "hosts 10.0.0.0/8, x\n}\n",
		  "t.rules:6:19: 'x' is not an IPv4 or IPv6 address" },
		{ "rule r {\n" RULE_OK "hosts 10.0.0.0/8, \"x\"\n}\n",
		  "t.rules:6:19: expected an address or CIDR prefix like 10.0.0.0/8, got '\"x\"'" },
		{ "rule r {\n" RULE_OK "hosts (10.0.0.0/8) x\n}\n",
		  "t.rules:6:20: unexpected 'x' after the value of 'hosts'" },
		{ "rule r {\n" RULE_OK "hosts\n}\n",
		  "t.rules:6:6: expected an address or CIDR prefix like 10.0.0.0/8, got end of line" },
		{ "var X = 1 @\n", "t.rules:1:11: unexpected character '@'" },
		{ "var X = \"\x01\"\n", "t.rules:1:10: control character 0x01 in string" },
		{ "var X = 1 \xc3\xa9\n",
		  "t.rules:1:11: unexpected byte 0xc3 (rules are ASCII outside strings and comments)" },
		{ "var X = 12345678901234567 B\nrule r {\ncategory staging\nwhen host.out.bytes[1h] > $X\n"
		  "severity low\nmessage \"m\"\n}\n",
		  "t.rules:4:27: in $X: number '12345678901234567' has too many digits (at most 15)" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_error(cases[i].in, cases[i].want);
	CHECK(sizeof cases / sizeof cases[0] >= 25);
}

static void
test_nul_bytes_and_long_tokens(void)
{
	static const char nul[] = "var X = 1\0\n# a\0comment\n";
	char word[400];
	struct rules_errors e;
	struct ruleset *rs = NULL;

	CHECK(rules_parse(nul, sizeof nul - 1, "t.rules", NULL, 0, &rs, &e) == -1);
	CHECK_EQ_U(e.n, 2);
	CHECK_EQ_S(e.n > 0 ? e.msgs[0] : "", "t.rules:1:10: NUL byte in input");
	CHECK_EQ_S(e.n > 1 ? e.msgs[1] : "", "t.rules:2:4: NUL byte in comment");
	rules_errors_free(&e);
	memset(word, 'a', sizeof word);
	memcpy(word, "var X = ", 8);
	word[sizeof word - 1] = '\0';
	expect_error(word, "t.rules:1:9: word too long (391 characters; at most 255)");
}

/* Expansion fills the token buffer exactly, then an unknown $VAR follows. */
static void
test_expansion_limit_is_enforced(void)
{
	size_t cap = 200000, n = 0;
	char *text = malloc(cap);
	struct rules_errors e;

	if (text == NULL)
		return;
	/* 4 x 1021 + 12 = 4096 tokens; an unknown $VAR after them must not write past the buffer. */
	n += (size_t)snprintf(text + n, cap - n, "var A = 1");
	for (int i = 1; i < 1021; i++)
		n += (size_t)snprintf(text + n, cap - n, " 1");
	n += (size_t)snprintf(text + n, cap - n, "\nvar B = 1 1 1 1 1 1 1 1 1 1 1 1");
	n += (size_t)snprintf(text + n, cap - n, "\nrule r {\n" RULE_OK "mitre $A $A $A $A $B $NOPE\n}\n");
	CHECK(parse(text, NULL, 0, &e) == NULL);
	CHECK(has_error(&e, "t.rules:8:22: too many values (more than 4096 once variables are expanded)"));
	rules_errors_free(&e);
	n = (size_t)snprintf(text, cap, "var A = 1");
	for (int i = 1; i < 1021; i++)
		n += (size_t)snprintf(text + n, cap - n, " 1");
	n += (size_t)snprintf(text + n, cap - n, "\nrule r {\n" RULE_OK "mitre $A $A $A $A $A\n}\n");
	CHECK(parse(text, NULL, 0, &e) == NULL);
	CHECK_EQ_S(e.n ? e.msgs[0] : "", "t.rules:7:19: too many values (more than 4096 once variables "
	    "are expanded)");
	rules_errors_free(&e);
	free(text);
}

static void
test_input_too_large(void)
{
	size_t len = (4u << 20) + 1;
	char *big = malloc(len);
	struct rules_errors e;
	struct ruleset *rs = NULL;

	if (big == NULL)
		return;
	memset(big, '\n', len);
	CHECK(rules_parse(big, len, "t.rules", NULL, 0, &rs, &e) == -1);
	CHECK_EQ_S(e.n ? e.msgs[0] : "", "t.rules:1:1: input too large (4194305 bytes; at most 4194304)");
	rules_errors_free(&e);
	free(big);
}

static void
test_all_errors_collected_in_one_parse(void)
{
	static const char text[] =
		"var X = 1\n"
		"var X = 2\n"
		"rule a {\n"
		"  category bulk\n"
		"  when host.out.byte[1h] > 5\n"
		"  severity high\n"
		"  message \"m\"\n"
		"  colour red\n"
		"}\n"
		"rule b {\n"
		"  category staging\n"
		"  when host.out.bytes[1h] > 5 and host.out.ratio[1h] > 2 KB\n"
		"  severity hgh\n"
		"  message \"m\"\n"
		"}\n";
	struct rules_errors e;
	struct ruleset *rs = parse(text, NULL, 0, &e);

	CHECK(rs == NULL);
	CHECK_EQ_U(e.n, 6);
	CHECK(has_error(&e, "t.rules:2:5: variable $X is already defined at line 1"));
	CHECK(has_error(&e, "t.rules:4:12: unknown category 'bulk'; expected one of: bulk-transfer, "
	    "staging, cloud-upload, dns-tunnel, icmp-tunnel, beacon, long-connection, chunked-transfer, "
	    "unusual-protocol, new-destination, baseline-anomaly, host-risk"));
	CHECK(has_error(&e, "t.rules:5:8: unknown metric 'host.out.byte'; did you mean 'host.out.bytes'?"));
	CHECK(has_error(&e, "t.rules:8:3: unknown attribute 'colour'; expected one of: category, when, "
	    "hosts, only, except, severity, score, mitre, message, suppress, enabled, offhours, or '}'"));
	CHECK(has_error(&e, "t.rules:12:58: expected a ratio without a unit, got 'KB'"));
	CHECK(has_error(&e, "t.rules:13:12: unknown severity 'hgh'; expected low, medium, high or critical"));
	rules_errors_free(&e);
}

static void
test_error_count_is_bounded(void)
{
	char text[4000];
	struct rules_errors e;
	size_t n = 0;

	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "x%d\n", i % 10);
	CHECK(parse(text, NULL, 0, &e) == NULL);
	CHECK_EQ_U(e.n, 101);
	CHECK_EQ_S(e.n ? e.msgs[e.n - 1] : "", "too many errors; stopping");
	rules_errors_free(&e);
}

static void
test_load_reads_file_and_reports_missing(void)
{
	char path[] = "/tmp/test_rules_XXXXXX";
	int fd = mkstemp(path);
	struct rules_errors e;
	struct ruleset *rs = NULL;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, full_text, sizeof full_text - 1) == (ssize_t)(sizeof full_text - 1));
	close(fd);
	CHECK(rules_load(path, NULL, 0, &rs, &e) == 0);
	CHECK(rs != NULL && rs->nrules == 1);
	if (rs != NULL)
		CHECK_EQ_S(rs->source, path);
	ruleset_free(rs);
	rules_errors_free(&e);
	unlink(path);
	CHECK(rules_load("/nonexistent/x.rules", NULL, 0, &rs, &e) == -1);
	CHECK(rs == NULL);
	CHECK_EQ_U(e.n, 1);
	CHECK_EQ_S(e.n ? e.msgs[0] : "", "/nonexistent/x.rules: cannot read: No such file or directory");
	rules_errors_free(&e);
}

static void
test_glob_match(void)
{
	CHECK(rules_glob_match("*.example.com", "www.example.com"));
	CHECK(rules_glob_match("*.example.com", "a.b.EXAMPLE.com"));
	CHECK(!rules_glob_match("*.example.com", "example.com"));
	CHECK(rules_glob_match("*example.com", "example.com"));
	CHECK(rules_glob_match("backup.example.org", "BACKUP.Example.ORG"));
	CHECK(!rules_glob_match("backup.example.org", "backup.example.org.evil"));
	CHECK(rules_glob_match("s3-??.amazonaws.com", "s3-eu.amazonaws.com"));
	CHECK(!rules_glob_match("s3-??.amazonaws.com", "s3-e.amazonaws.com"));
	CHECK(rules_glob_match("*", ""));
	CHECK(rules_glob_match("", ""));
	CHECK(!rules_glob_match("", "a"));
	CHECK(!rules_glob_match("?", ""));
	CHECK(rules_glob_match("a*b*c", "aXXbYYc"));
	CHECK(!rules_glob_match("a*b*c", "aXXbYY"));
	CHECK(rules_glob_match("**a**", "bab"));
	CHECK(!rules_glob_match(NULL, "a"));
}

/* A pattern that makes naive recursive globbing exponential must stay fast. */
static void
test_glob_match_has_no_exponential_backtracking(void)
{
	char pat[64], s[4097];

	strcpy(pat, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
	memset(s, 'a', sizeof s - 1);
	s[sizeof s - 1] = '\0';
	CHECK(!rules_glob_match(pat, s));
}

static void
test_summary_text(void)
{
	static const char text[] =
		"rule r {\ncategory staging\nwhen dest.out.bytes[10 min] >= 1.5GiB and dest.out.ratio[1h] < 0.5\n"
		"hosts 10.0.0.0/8\nexcept dest_port in (22)\nseverity low\nmessage \"m\"\nsuppress 7 d\nenabled no\n}\n";
	struct rules_errors e;
	struct ruleset *rs = parse(full_text, NULL, 0, &e);
	char buf[512];

	if (rs != NULL) {
		rule_summary(&rs->rules[0], buf, sizeof buf);
		CHECK_EQ_S(buf, "bulk-upload-1h  bulk-transfer  high/70  when host.out.bytes[1h] > 500 MB "
		    "and host.out.ratio[1h] >= 5  hosts 4 prefixes  except 6 terms  suppress 2 h");
		rule_summary(&rs->rules[0], buf, 10);
		CHECK_EQ_S(buf, "bulk-uplo");
	}
	ruleset_free(rs);
	rules_errors_free(&e);
	rs = parse(text, NULL, 0, &e);
	if (rs != NULL) {
		rule_summary(&rs->rules[0], buf, sizeof buf);
		CHECK_EQ_S(buf, "r  staging  low/25  when dest.out.bytes[10min] >= 1.5 GiB and "
		    "dest.out.ratio[1h] < 0.5  hosts 1 prefix  except 1 term  suppress 7 d  (disabled)");
	}
	CHECK(rs != NULL);
	ruleset_free(rs);
	rules_errors_free(&e);
}

/* xorshift64*: a fixed seed, so a failure reproduces. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void
test_torture_random_mutations_never_crash_or_leak(void)
{
	static const char bytes[] = "{}[](),=~<>$\"\\#\n \t.:/*?-_0aZ\0\xff";
	size_t base = sizeof full_text - 1, cap = base + 64;
	char *buf = malloc(cap);
	struct rules_override ov[] = { { "BULK_1H", "2 MB", 0 }, { "HOME_NET", "192.0.2.0/24", 0 } };
	uint64_t seed = 0x5eed0f10u;
	unsigned ok = 0;

	if (buf == NULL)
		return;
	for (int it = 0; it < 5000; it++) {
		size_t len = base;
		struct rules_errors e;
		struct ruleset *rs = NULL;
		int nmut = 1 + (int)(rnd(&seed) % 8);

		memcpy(buf, full_text, base);
		for (int m = 0; m < nmut; m++) {
			size_t at = len ? (size_t)(rnd(&seed) % len) : 0;
			char c = rnd(&seed) % 2 ? bytes[rnd(&seed) % (sizeof bytes - 1)] : (char)rnd(&seed);
			switch (rnd(&seed) % 3) {
			case 0:	/* insert */
				if (len < cap) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = c;
					len++;
				}
				break;
			case 1:	/* delete */
				if (len > 0) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			default: /* replace */
				if (len > 0)
					buf[at] = c;
				break;
			}
		}
		/* An exact-size copy, so ASan sees any read past the end. */
		char *exact = malloc(len ? len : 1);
		if (exact == NULL)
			break;
		memcpy(exact, buf, len);
		int rc = rules_parse(exact, len, "t.rules", ov, it % 2 ? 2 : 0, &rs, &e);
		CHECK((rc == 0) == (rs != NULL));
		CHECK(rc == 0 ? e.n == 0 : e.n > 0);
		ok += rc == 0;
		if (rs != NULL) {
			char line[256];
			for (size_t i = 0; i < rs->nrules; i++)
				rule_summary(&rs->rules[i], line, sizeof line);
		}
		ruleset_free(rs);
		rules_errors_free(&e);
		free(exact);
	}
	CHECK(ok > 0);	/* some mutations (comments, spaces) leave the text valid */
	free(buf);
}

static void
test_workhours_parses_days_hours_zone_and_offhours(void)
{
	struct rules_errors e;
	struct ruleset *rs = parse("workhours Mon-Fri, Sun 08:00-18:30 Europe/Berlin\n"
	    "rule r {\n" RULE_OK "offhours 2.5\n}\n", NULL, 0, &e);

	CHECK(rs != NULL);
	if (rs != NULL) {
		CHECK_EQ_U(rs->workhours.set, 1);
		CHECK_EQ_U(rs->workhours.days, 0x3f);		/* Sun..Fri */
		CHECK_EQ_U(rs->workhours.start_min, 480);
		CHECK_EQ_U(rs->workhours.end_min, 1110);
		CHECK_EQ_S(rs->workhours.zone, "Europe/Berlin");
		CHECK_EQ_U(rs->workhours.zone_pos.col, 36);
		CHECK(rs->rules[0].offhours == 2.5);
	}
	ruleset_free(rs);
	rules_errors_free(&e);
}

static void
test_workhours_errors_point_at_the_token(void)
{
	expect_error("workhours Mon-Fryday 08:00-18:00 UTC\n",
	    "t.rules:1:11: expected days like Mon-Fri or Sat (Sun Mon Tue Wed Thu Fri Sat), got 'Mon-Fryday'");
	expect_error("workhours Mon-Fri 8:00-18:00 UTC\n",
	    "t.rules:1:19: expected working hours like 08:00-18:00 (24-hour clock, start and end differ), "
	    "got '8:00-18:00'");
	expect_error("workhours Mon-Fri 08:00-08:00 UTC\n",
	    "t.rules:1:19: expected working hours like 08:00-18:00 (24-hour clock, start and end differ), "
	    "got '08:00-08:00'");
	expect_error("workhours Mon-Fri 08:00-18:00\n",
	    "t.rules:1:30: expected a time zone like Europe/Berlin or UTC (IANA name), got end of line");
	expect_error("workhours Mon 08:00-18:00 UTC\nworkhours Tue 08:00-18:00 UTC\n",
	    "t.rules:2:1: duplicate 'workhours' (already set at line 1)");
	expect_error("rule r {\n" RULE_OK "offhours 2\n}\n",
	    "t.rules:6:10: rule r: 'offhours' needs a 'workhours' statement (e.g. workhours Mon-Fri "
	    "08:00-18:00 Europe/Berlin)");
	expect_error("workhours Mon 08:00-18:00 UTC\nrule r {\n" RULE_OK "offhours 0.5\n}\n",
	    "t.rules:7:10: offhours 0.5 is out of range: expected 1..100");
}

static void
test_workhours_contains_weekdays_and_night_shifts(void)
{
	struct rule_workhours day = { .set = 1, .days = 0x3e, .start_min = 480, .end_min = 1080 };
	struct rule_workhours night = { .set = 1, .days = 0x20, .start_min = 1320, .end_min = 360 };
	int64_t mon = 1772409600;	/* 2026-03-02 00:00, a Monday (local seconds) */

	CHECK(!rules_workhours_contains(&day, mon + 7 * 3600 + 3599));	/* 07:59:59 */
	CHECK(rules_workhours_contains(&day, mon + 8 * 3600));		/* 08:00 */
	CHECK(rules_workhours_contains(&day, mon + 17 * 3600 + 3599));	/* 17:59:59 */
	CHECK(!rules_workhours_contains(&day, mon + 18 * 3600));		/* 18:00: end is exclusive */
	CHECK(!rules_workhours_contains(&day, mon + 5 * 86400 + 10 * 3600));	/* Saturday */
	/* Friday 22:00 to Saturday 06:00. */
	CHECK(rules_workhours_contains(&night, mon + 4 * 86400 + 23 * 3600));
	CHECK(rules_workhours_contains(&night, mon + 5 * 86400 + 5 * 3600));
	CHECK(!rules_workhours_contains(&night, mon + 5 * 86400 + 23 * 3600));	/* Saturday night */
	CHECK(!rules_workhours_contains(&night, mon + 4 * 86400 + 5 * 3600));	/* Friday morning */
}

static void
test_one_name_with_and_without_window_is_two_metrics(void)
{
	struct rules_errors e;
	struct ruleset *rs = parse("rule r {\ncategory long-connection\nwhen conn.out.bytes > 20 MB and "
	    "conn.out.bytes[30min] > 1 MB\nseverity low\nmessage \"{conn.out.bytes}\"\n}\n", NULL, 0, &e);

	CHECK(rs != NULL);
	if (rs != NULL) {
		CHECK_EQ_U(rs->rules[0].cond[0].metric, M_CONN_OUT_BYTES);
		CHECK_EQ_U(rs->rules[0].cond[0].window_s, 0);
		CHECK_EQ_U(rs->rules[0].cond[1].metric, M_CONN_OUT_BYTES_RECENT);
		CHECK_EQ_U(rs->rules[0].cond[1].window_s, 1800);
	}
	ruleset_free(rs);
	rules_errors_free(&e);
	expect_error("rule r {\n" "category long-connection\nwhen conn.duration[1h] > 1 h\nseverity low\n"
	    "message \"m\"\n}\n", "t.rules:3:20: conn.duration takes no window");
	expect_error("rule r {\n" "category long-connection\nwhen conn.out.bytes[2h] > 1 MB\nseverity low\n"
	    "message \"m\"\n}\n", "t.rules:3:21: window 2 h is out of range for conn.out.bytes: 1 min..1 h");
}

T_MAIN("rules",
    T(test_valid_rule_with_every_attribute),
    T(test_defaults_score_from_severity_suppress_1h_enabled),
    T(test_enabled_no_disables_rule),
    T(test_parse_without_out_only_validates),
    T(test_size_units_decimal_and_binary),
    T(test_duration_units_in_windows_and_suppress),
    T(test_variables_used_as_every_kind_of_value),
    T(test_override_changes_threshold),
    T(test_override_home_net),
    T(test_override_of_unknown_var_is_error),
    T(test_override_bad_value_names_the_option),
    T(test_var_error_at_use_site_names_the_variable),
    T(test_continuation_lines),
    T(test_brace_on_next_line_and_crlf),
    T(test_error_messages_with_positions),
    T(test_nul_bytes_and_long_tokens),
    T(test_expansion_limit_is_enforced),
    T(test_input_too_large),
    T(test_all_errors_collected_in_one_parse),
    T(test_error_count_is_bounded),
    T(test_load_reads_file_and_reports_missing),
    T(test_glob_match),
    T(test_glob_match_has_no_exponential_backtracking),
    T(test_summary_text),
    T(test_torture_random_mutations_never_crash_or_leak),
    T(test_workhours_parses_days_hours_zone_and_offhours),
    T(test_workhours_errors_point_at_the_token),
    T(test_workhours_contains_weekdays_and_night_shifts),
    T(test_one_name_with_and_without_window_is_two_metrics))
