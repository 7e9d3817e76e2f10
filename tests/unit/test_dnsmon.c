/*
 * test_dnsmon - the DNS tunnel detector: message parsing (compression,
 * loops, bad labels, truncation), the rules firing at their thresholds and
 * not just below, attribution through a resolver, and the bounded tables
 * (per-host cap keeps the heaviest domain, global cap, a random-subdomain
 * flood of one domain costing one entry).
 *
 * Packets go through the flow and host modules, then to the module's
 * packet hook, and rules are evaluated by detect_tick() with the module
 * registered, as sensor.c does (modharness.h; home net 10.0.0.0/8).
 */
#include <stdlib.h>

#include "t.h"
#include "dnsmon.h"
#include "modharness.h"

/* ---- DNS messages --------------------------------------------------------- */

struct msgbuf {
	uint8_t b[600];
	size_t n;
};

static void
put16(struct msgbuf *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)(v >> 8);
	m->b[m->n++] = (uint8_t)v;
}

/* A query (or a response with ans_bytes of answer data) for name, qtype. */
static void
build_msg(struct msgbuf *m, const char *name, unsigned qtype, int response, size_t ans_bytes)
{
	const char *p = name;

	m->n = 0;
	put16(m, 0x1234);
	put16(m, response ? 0x8180 : 0x0100);
	put16(m, 1);
	put16(m, response ? 1 : 0);
	put16(m, 0);
	put16(m, 0);
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		m->b[m->n++] = (uint8_t)l;
		memcpy(m->b + m->n, p, l);
		m->n += l;
		p += l + (dot ? 1 : 0);
	}
	m->b[m->n++] = 0;
	put16(m, qtype);
	put16(m, 1);
	for (size_t i = 0; i < ans_bytes && m->n < sizeof m->b; i++)
		m->b[m->n++] = (uint8_t)i;
}

static void
test_dnsmon_parses_a_query_lowercased_with_labels(void)
{
	struct msgbuf m;
	struct dns_msg d;

	build_msg(&m, "WWW.Example.COM", 16, 0, 0);
	CHECK_EQ_U(dnsmon_parse(m.b, m.n, &d), DNS_PARSE_OK);
	CHECK_EQ_S((const char *)d.name, "www.example.com");
	CHECK_EQ_U(d.nlabels, 3);
	CHECK_EQ_U(d.lab_len[1], 7);
	CHECK_EQ_U(d.qtype, 16);
	CHECK(!d.is_response);
	CHECK(d.lab_ldh[0] && d.lab_ldh[2]);
}

static void
test_dnsmon_marks_binary_labels_not_ldh(void)
{
	struct msgbuf m;
	struct dns_msg d;

	build_msg(&m, "xx.t.tunnel.example", 10, 0, 0);
	m.b[13] = 0xe9;	/* first byte of "xx": a base128 character */
	CHECK_EQ_U(dnsmon_parse(m.b, m.n, &d), DNS_PARSE_OK);
	CHECK(!d.lab_ldh[0]);
	CHECK(d.lab_ldh[1]);
}

static void
test_dnsmon_follows_a_backward_compression_pointer(void)
{
	struct dns_msg d;
	/* "x" then a pointer back to offset 10 (arcount 0 = a zero byte: the root). */
	uint8_t back[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	    1, 'x', 0xc0, 10, 0, 16, 0, 1 };
	/* A pointer forward, to a name after it: refused (only backwards). */
	uint8_t fwd[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	    0xc0, 14, 3, 'c', 'o', 'm', 0, 0, 1, 0, 1 };

	CHECK_EQ_U(dnsmon_parse(back, sizeof back, &d), DNS_PARSE_OK);
	CHECK_EQ_S((const char *)d.name, "x");
	CHECK_EQ_U(d.qtype, 16);	/* read after the pointer, not after the target */
	CHECK_EQ_U(dnsmon_parse(fwd, sizeof fwd, &d), DNS_PARSE_BAD_NAME);
}

static void
test_dnsmon_rejects_compression_loops(void)
{
	struct dns_msg d;
	/* Pointer to itself. */
	uint8_t self[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	/* Label then a pointer back to the label: a -> a -> a ... */
	uint8_t loop[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1 };

	CHECK_EQ_U(dnsmon_parse(self, sizeof self, &d), DNS_PARSE_BAD_NAME);
	CHECK_EQ_U(dnsmon_parse(loop, sizeof loop, &d), DNS_PARSE_BAD_NAME);
}

static void
test_dnsmon_rejects_bad_labels_and_truncation(void)
{
	struct msgbuf m;
	struct dns_msg d;
	uint8_t ext[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1 };
	uint8_t noq[] = { 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

	CHECK_EQ_U(dnsmon_parse(ext, sizeof ext, &d), DNS_PARSE_BAD_NAME);
	CHECK_EQ_U(dnsmon_parse(noq, sizeof noq, &d), DNS_PARSE_NO_QUESTION);
	build_msg(&m, "www.example.com", 1, 0, 0);
	for (size_t cut = 0; cut < m.n; cut++)
		CHECK(dnsmon_parse(m.b, cut, &d) != DNS_PARSE_OK);
	CHECK_EQ_U(dnsmon_parse(NULL, 0, &d), DNS_PARSE_SHORT);
	/* Five 63-byte labels: 320 bytes, over the 255 a name may have. */
	char longname[400] = "";
	for (int i = 0; i < 5; i++) {
		size_t l = strlen(longname);
		memset(longname + l, 'a' + i, 63);
		longname[l + 63] = '.';
		longname[l + 64] = '\0';
	}
	strcat(longname, "com");
	build_msg(&m, longname, 1, 0, 0);
	CHECK_EQ_U(dnsmon_parse(m.b, m.n, &d), DNS_PARSE_BAD_NAME);
}

static void
test_dnsmon_random_bytes_never_crash(void)
{
	uint8_t b[300];
	struct dns_msg d;
	uint64_t x = 88172645463325252ull;

	for (int it = 0; it < 20000; it++) {
		size_t n = (size_t)(x % sizeof b);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			b[i] = (uint8_t)(i < 12 ? (i == 5 ? 1 : x) : (x & 1 ? 0xc0 | (x >> 8 & 1) : x >> 16));
		}
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		(void)dnsmon_parse(b, n, &d);
		CHECK(d.name_len < sizeof d.name);
	}
}

/* ---- the module under rules ---------------------------------------------- */

#define SETUP(h, rules, pairs, per) MH_SETUP(h, rules, dnsmon, \
	(h)->cfg.max_dns_pairs = (pairs), (h)->cfg.max_dns_domains = (per), (h)->env.seed = 9)

/*
 * One DNS message src -> dst over UDP (or TCP with the length prefix); its
 * flow carries the nDPI risk bits `risk`, as dpi.c sets them once the flow
 * is classified.
 */
static void
dns_send_risk(struct mh *h, const char *src, const char *dst, int tcp, const struct msgbuf *m,
    uint64_t risk, uint64_t ts)
{
	int from_server = 0;
	struct pkt p;
	uint8_t tcpbuf[700];

	from_server = m->n > 3 && (m->b[2] & 0x80);
	p = pb_udp(src, from_server ? 53 : 40000, dst, from_server ? 40000 : 53, (uint32_t)m->n, ts);
	p.payload = m->b;
	p.payload_caplen = (uint32_t)m->n;
	if (tcp) {
		p.l4_proto = IPPROTO_TCP;
		p.tcp_flags = PB_ACK | PB_PSH;
		tcpbuf[0] = (uint8_t)(m->n >> 8);
		tcpbuf[1] = (uint8_t)m->n;
		memcpy(tcpbuf + 2, m->b, m->n);
		p.payload = tcpbuf;
		p.payload_caplen = p.payload_len = (uint32_t)m->n + 2;
	}
	struct flow *f = pb_send(&h->n, &p);
	f->app_risk = risk;
	mh_deliver(h, f, &p);
}

/* A question on a flow nDPI named flow_name (as it names a DNS flow by its first question). */
static void
dns_send_named(struct mh *h, const char *src, const char *dst, const struct msgbuf *m,
    const char *flow_name, uint64_t ts)
{
	struct pkt p = pb_udp(src, 40000, dst, 53, (uint32_t)m->n, ts);

	p.payload = m->b;
	p.payload_caplen = (uint32_t)m->n;
	struct flow *f = pb_send(&h->n, &p);
	pb_name(&h->n, f, flow_name);
	mh_deliver(h, f, &p);
}

static void
dns_send(struct mh *h, const char *src, const char *dst, int tcp, const struct msgbuf *m, uint64_t ts)
{
	dns_send_risk(h, src, dst, tcp, m, 0, ts);
}

/*
 * "<i in len digits, in labels of at most 49>.<domain>": len characters
 * and one dot per label below the domain (98 digits: 49.49. = 100 bytes).
 */
static void
name_i(char *name, size_t cap, unsigned i, size_t len, const char *domain)
{
	char digits[256];
	size_t o = 0;

	snprintf(digits, sizeof digits, "%0*u", (int)len, i);
	for (size_t k = 0; k < len; k += 49) {
		size_t l = len - k < 49 ? len - k : 49;
		memcpy(name + o, digits + k, l);
		o += l;
		name[o++] = '.';
	}
	snprintf(name + o, cap - o, "%s", domain);
}

static void
query_i(struct mh *h, const char *src, const char *dst, unsigned i, size_t len, const char *domain,
    unsigned qtype, uint64_t ts)
{
	char name[300];
	struct msgbuf m;

	name_i(name, sizeof name, i, len, domain);
	build_msg(&m, name, qtype, 0, 0);
	dns_send(h, src, dst, 0, &m, ts);
}

static struct dnsmon_stats
dstats(struct mh *h)
{
	struct dnsmon_stats st;

	dnsmon_get_stats(h->mod[0], &st);
	return st;
}

#define R_BYTES \
	"rule q {\n category dns-tunnel\n when dns.qname.bytes[10min] > 999 and dns.subdomains > 5\n" \
	" severity high\n message \"{src_ip} {dns.qname.bytes} {server_name}\"\n}\n"

/* n queries of 100 bytes below the domain (two 49-character labels and their dots). */
static void
send_bytes_case(struct mh *h, int n, size_t last_len)
{
	for (int i = 0; i < n; i++)
		query_i(h, "10.0.0.5", "198.51.100.53", (unsigned)i, i == n - 1 ? last_len : 98, "tunnel.example", 10,
		    PB_T0 + (uint64_t)i * PB_SEC);
	mh_tick(h, PB_T0, PB_T0 + (uint64_t)n * PB_SEC);
}

static void
test_dnsmon_volume_rule_fires_above_threshold_not_at_it(void)
{
	struct mh h;

	SETUP(&h, R_BYTES, 256, 16);
	send_bytes_case(&h, 10, 98);	/* 1000 bytes: > 999 */
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1) {
		CHECK_EQ_S(h.rec[0].src, "10.0.0.5");
		CHECK(strstr(h.rec[0].message, "tunnel.example") != NULL);
		CHECK(strstr(h.rec[0].extra, "\"domain\":\"tunnel.example\"") != NULL);
		CHECK(strstr(h.rec[0].extra, "\"NULL\":10") != NULL);
		CHECK(strstr(h.rec[0].extra, "\"samples\":[\"") != NULL);
	}
	mh_free(&h);

	SETUP(&h, R_BYTES, 256, 16);
	send_bytes_case(&h, 10, 97);	/* 9 x 100 + 99 = 999 bytes: not > 999 */
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

#define R_ENC(q) \
	"rule e {\n category dns-tunnel\n when dns.queries[10min] >= " q " and dns.label.avg > 20 and dns.entropy > 3\n" \
	" severity medium\n message \"{src_ip}\"\n}\n"

/* Queries with 32-character labels of random letters: high entropy. */
static void
send_encoded(struct mh *h, int n, const char *domain)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < n; i++) {
		char name[128];
		struct msgbuf m;
		for (int k = 0; k < 32; k++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			name[k] = "abcdefghijklmnopqrstuvwxyz234567"[x % 32];
		}
		snprintf(name + 32, sizeof name - 32, ".%s", domain);
		build_msg(&m, name, 16, 0, 0);
		dns_send(h, "10.0.0.7", "198.51.100.53", 0, &m, PB_T0 + (uint64_t)i * 100000);
	}
	mh_tick(h, PB_T0, PB_T0 + 60 * PB_SEC);
}

static void
test_dnsmon_encoded_rule_fires_at_threshold_not_below(void)
{
	struct mh h;

	SETUP(&h, R_ENC("20"), 256, 16);
	send_encoded(&h, 20, "c2.example");
	CHECK_EQ_U(h.nrec, 1);
	mh_free(&h);
	SETUP(&h, R_ENC("20"), 256, 16);
	send_encoded(&h, 19, "c2.example");
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
	/* Ordinary short names do not look encoded, however many. */
	SETUP(&h, R_ENC("20"), 256, 16);
	for (int i = 0; i < 50; i++)
		query_i(&h, "10.0.0.7", "198.51.100.53", (unsigned)i % 3, 3, "example.com", 1, PB_T0 + (uint64_t)i * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 60 * PB_SEC);
	CHECK_EQ_U(h.nrec, 0);
	mh_free(&h);
}

/*
 * Query i under t.tunnel.example through the internal resolver: client
 * 10.0.0.5 -> resolver 10.0.0.53 -> the internet with the same name, and
 * the answers back. The upstream flow carries the nDPI risk bits up_risk.
 */
static void
forwarded_query(struct mh *h, unsigned i, uint64_t up_risk, uint64_t ts)
{
	char name[200];
	struct msgbuf m;

	name_i(name, sizeof name, i, 96, "t.tunnel.example");
	build_msg(&m, name, 10, 0, 0);
	dns_send(h, "10.0.0.5", "10.0.0.53", 0, &m, ts);				/* client -> resolver */
	dns_send_risk(h, "10.0.0.53", "203.0.113.53", 0, &m, up_risk, ts + 1000);	/* resolver -> internet */
	build_msg(&m, name, 10, 1, 100);
	dns_send_risk(h, "203.0.113.53", "10.0.0.53", 0, &m, up_risk, ts + 2000);	/* answer to the resolver */
	dns_send(h, "10.0.0.53", "10.0.0.5", 0, &m, ts + 3000);			/* answer to the client */
}

/*
 * The resolver case (pcaps/README.md, dns-tunnel): the client asks the
 * internal resolver, which asks the internet with the same name. The
 * forwarded queries are the client's: the resolver gets no pair and no
 * alert, the client gets the alert.
 */
static void
test_dnsmon_resolver_forwarded_queries_are_the_clients(void)
{
	struct mh h;
	struct msgbuf m;

	SETUP(&h, R_BYTES, 256, 16);
	for (unsigned i = 0; i < 12; i++)
		forwarded_query(&h, i, 0, PB_T0 + (uint64_t)i * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	CHECK_EQ_S(h.rec[0].src, "10.0.0.5");
	CHECK(strstr(h.rec[0].extra, "\"server\":\"10.0.0.53\"") != NULL);
	CHECK_EQ_U(dstats(&h).forwarded, 12);
	CHECK_EQ_U(dstats(&h).pairs, 1);
	CHECK_EQ_U(dstats(&h).hosts, 1);
	mh_free(&h);

	/* Without the client leg (a tap that only sees the uplink) the resolver is all we know. */
	SETUP(&h, R_BYTES, 256, 16);
	for (int i = 0; i < 12; i++) {
		char name[200];
		name_i(name, sizeof name, (unsigned)i, 96, "t.tunnel.example");
		build_msg(&m, name, 10, 0, 0);
		dns_send(&h, "10.0.0.53", "203.0.113.53", 0, &m, PB_T0 + (uint64_t)i * PB_SEC);
	}
	mh_tick(&h, PB_T0, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	CHECK_EQ_S(h.rec[0].src, "10.0.0.53");
	mh_free(&h);
}

/*
 * nDPI flags the resolver's upstream flows (one per question), not the
 * client's single flow: those risks are the client's evidence.
 */
static void
test_dnsmon_risks_on_forwarded_flows_credit_the_client(void)
{
	struct mh h;

	SETUP(&h, R_BYTES, 256, 16);
	for (unsigned i = 0; i < 12; i++)	/* any risk bit: dpi_risk_names() names it */
		forwarded_query(&h, i, 1ull << 3, PB_T0 + (uint64_t)i * PB_SEC);
	mh_tick(&h, PB_T0, PB_T0 + 20 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	/* The test's upstream queries share one flow (same ports): counted once. */
	CHECK(strstr(h.rec[0].extra, "\"risky_flows\":1") != NULL);
	CHECK(strstr(h.rec[0].extra, "\"risks\":\"\"") == NULL);
	mh_free(&h);
}

static void
test_dnsmon_reads_tcp_with_length_prefix(void)
{
	struct mh h;
	struct msgbuf m;

	SETUP(&h, R_BYTES, 256, 16);
	build_msg(&m, "abc.tunnel.example", 16, 0, 0);
	dns_send(&h, "10.0.0.5", "198.51.100.53", 1, &m, PB_T0);
	CHECK_EQ_U(dstats(&h).tcp, 1);
	CHECK_EQ_U(dstats(&h).queries, 1);
	CHECK_EQ_U(dstats(&h).pairs, 1);
	mh_free(&h);
}

static void
test_dnsmon_malformed_counted_and_skipped(void)
{
	struct mh h;
	struct msgbuf m;

	SETUP(&h, R_BYTES, 256, 16);
	build_msg(&m, "abc.tunnel.example", 16, 0, 0);
	m.b[12] = 0xc0;	/* the question starts with a pointer to itself + 1 */
	m.b[13] = 12;
	dns_send(&h, "10.0.0.5", "198.51.100.53", 0, &m, PB_T0);
	m.n = 7;	/* cut inside the header */
	dns_send(&h, "10.0.0.5", "198.51.100.53", 0, &m, PB_T0 + 1);
	CHECK_EQ_U(dstats(&h).malformed, 2);
	CHECK_EQ_U(dstats(&h).pairs, 0);
	mh_free(&h);
}

static void
test_dnsmon_per_host_cap_keeps_the_heaviest_domain(void)
{
	struct mh h;

	SETUP(&h, R_BYTES, 256, 4);
	/* The heavy one first, then a stream of one-query domains. */
	for (int i = 0; i < 30; i++)
		query_i(&h, "10.0.0.5", "198.51.100.53", (unsigned)i, 40, "heavy.example", 10, PB_T0 + (uint64_t)i * 1000);
	for (int i = 0; i < 20; i++) {
		char dom[64];
		snprintf(dom, sizeof dom, "d%d.example", i);
		query_i(&h, "10.0.0.5", "198.51.100.53", 1, 3, dom, 1, PB_T0 + PB_SEC + (uint64_t)i * 1000);
	}
	struct dnsmon_stats st = dstats(&h);
	CHECK_EQ_U(st.pairs, 4);
	CHECK_EQ_U(st.host_cap_evicted, 17);
	mh_tick(&h, PB_T0, PB_T0 + 2 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);	/* 30 x 41 bytes under heavy.example: still there */
	mh_free(&h);
}

static void
test_dnsmon_pair_cap_evicts_and_counts(void)
{
	struct mh h;

	SETUP(&h, R_BYTES, 16, 4);
	for (int k = 0; k < 40; k++) {
		char src[32];
		snprintf(src, sizeof src, "10.0.1.%d", k + 1);
		char dom[32];
		snprintf(dom, sizeof dom, "d%d.example", k);
		query_i(&h, src, "198.51.100.53", 1, 5, dom, 1, PB_T0 + (uint64_t)k * 1000);
	}
	struct dnsmon_stats st = dstats(&h);
	CHECK_EQ_U(st.pairs, 16);
	CHECK_EQ_U(st.pairs_capacity, 16);
	CHECK_EQ_U(st.pairs_evicted, 24);
	CHECK(st.hosts <= 16);
	CHECK_EQ_U(mh_names(&h), 16);	/* the evicted pairs let their domains go */
	mh_free(&h);
}

/* The value of one metric (over 10 min) for the first subject the module visits. */
static double
probe(struct mh *h, enum metric_id metric, uint64_t now)
{
	return mh_visit(h, 0, now) ? mh_value(h, 0, &h->seen[0], metric, 600, now) : -1;
}

static void
test_dnsmon_random_subdomain_flood_is_one_entry_counted_by_sketch(void)
{
	struct mh h;
	uint64_t end = PB_T0 + 5000 * 10000ull;

	SETUP(&h, R_BYTES, 64, 4);
	for (unsigned i = 0; i < 5000; i++)
		query_i(&h, "10.0.0.9", "198.51.100.53", i * 2654435761u, 12, "victim.example", 1,
		    PB_T0 + (uint64_t)i * 10000);
	CHECK_EQ_U(dstats(&h).pairs, 1);
	double est = probe(&h, M_DNS_SUBDOMAINS, end);
	CHECK(est > 5000 * 0.6 && est < 5000 * 1.4);	/* 64 registers: ~13 % standard error */
	CHECK_EQ_U((uint64_t)probe(&h, M_DNS_QUERIES, end), 5000);
	CHECK_EQ_U((uint64_t)probe(&h, M_DNS_QNAME_BYTES, end), 5000 * 13);
	CHECK_EQ_U((uint64_t)probe(&h, M_DNS_LABEL_MAX, end), 12);
	mh_free(&h);

	/* One name asked over and over is one subdomain. */
	SETUP(&h, R_BYTES, 64, 4);
	for (unsigned i = 0; i < 100; i++)
		query_i(&h, "10.0.0.9", "198.51.100.53", 7, 12, "victim.example", 16, PB_T0 + (uint64_t)i * 10000);
	CHECK_EQ_U((uint64_t)probe(&h, M_DNS_SUBDOMAINS, PB_T0 + PB_SEC * 2), 1);
	CHECK(probe(&h, M_DNS_QTYPE_SHARE, PB_T0 + PB_SEC * 2) == 1.0);
	mh_free(&h);
}

/*
 * A pair keeps two minute rows inline; the third minute moves it into a
 * pool block, and nothing counted before is lost on the way (the windows
 * read the same before and after). Questions for the domain itself have no
 * name below it: no sample, no sketch, so only the minutes make it move.
 */
static void
test_dnsmon_pair_moves_to_a_detail_block_without_losing_counts(void)
{
	struct mh h;
	uint64_t min = 60 * PB_SEC;

	SETUP(&h, R_BYTES, 64, 4);
	CHECK_EQ_U(mh_stat(&h, "details_capacity"), 16);	/* a quarter of the pairs */
	query_i(&h, "10.0.0.5", "198.51.100.53", 0, 0, "tunnel.example", 1, PB_T0);
	query_i(&h, "10.0.0.5", "198.51.100.53", 0, 0, "tunnel.example", 1, PB_T0 + min);
	query_i(&h, "10.0.0.5", "198.51.100.53", 0, 0, "tunnel.example", 1, PB_T0 + min + PB_SEC);
	CHECK_EQ_U(mh_stat(&h, "details"), 0);
	CHECK_EQ_U((uint64_t)probe(&h, M_DNS_QUERIES, PB_T0 + min + PB_SEC), 3);
	query_i(&h, "10.0.0.5", "198.51.100.53", 0, 0, "tunnel.example", 1, PB_T0 + 2 * min);
	CHECK_EQ_U(mh_stat(&h, "details"), 1);
	CHECK_EQ_U((uint64_t)probe(&h, M_DNS_QUERIES, PB_T0 + 2 * min), 4);
	CHECK_EQ_U((uint64_t)mh_value(&h, 0, &h.seen[0], M_DNS_QUERIES, 120, PB_T0 + 2 * min), 3);
	/* Eleven minutes on, the first two have left the ring, inline or not. */
	CHECK_EQ_U((uint64_t)probe(&h, M_DNS_QUERIES, PB_T0 + 11 * min), 1);
	mh_free(&h);

	/* Inline, a minute that left the ring frees its row: no block needed. */
	SETUP(&h, R_BYTES, 64, 4);
	for (int i = 0; i < 4; i++)
		query_i(&h, "10.0.0.5", "198.51.100.53", 0, 0, "tunnel.example", 1, PB_T0 + (uint64_t)i * 10 * min);
	CHECK_EQ_U(mh_stat(&h, "details"), 0);
	CHECK_EQ_U((uint64_t)probe(&h, M_DNS_QUERIES, PB_T0 + 30 * min), 1);
	mh_free(&h);
}

#define R_QUERIES \
	"rule n {\n category dns-tunnel\n when dns.queries[10min] >= 1\n" \
	" severity low\n message \"{src_ip}\"\n}\n"

/*
 * The volume rule fires at its threshold for a pair that started light and
 * moved mid-life: 10 x 100 bytes, the first query's name, sample, sketch
 * register and flow kept inline until the second one moved them.
 */
static void
test_dnsmon_pair_detailed_mid_life_alerts_at_its_threshold(void)
{
	struct mh h;
	struct msgbuf m;

	SETUP(&h, R_BYTES, 64, 4);
	query_i(&h, "10.0.0.5", "198.51.100.53", 0, 98, "tunnel.example", 10, PB_T0);
	CHECK_EQ_U(mh_stat(&h, "details"), 0);
	CHECK_EQ_U((uint64_t)probe(&h, M_DNS_SUBDOMAINS, PB_T0 + PB_SEC), 1);
	for (int i = 1; i < 10; i++)
		query_i(&h, "10.0.0.5", "198.51.100.53", (unsigned)i, 98, "tunnel.example", 10,
		    PB_T0 + (uint64_t)i * PB_SEC);
	CHECK_EQ_U(mh_stat(&h, "details"), 1);
	mh_tick(&h, PB_T0, PB_T0 + 10 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1) {
		/* The first name is sample 0 and the flow is there once. */
		CHECK(strstr(h.rec[0].extra, "\"samples\":[\"000000") != NULL);
		CHECK(strstr(h.rec[0].extra, "\"subdomains\":10") != NULL);
		CHECK(strstr(h.rec[0].json, "\"src_port\":40000") != NULL);
	}
	mh_free(&h);

	/* The evidence of a light pair, and of one just moved: nothing of the first query lost. */
	SETUP(&h, R_QUERIES, 64, 4);
	build_msg(&m, "aaaa.t.example", 16, 0, 0);
	dns_send(&h, "10.0.0.5", "198.51.100.53", 0, &m, PB_T0);
	build_msg(&m, "zzzz.light.example", 16, 0, 0);
	dns_send(&h, "10.0.0.6", "198.51.100.53", 0, &m, PB_T0);
	build_msg(&m, "bbbb.t.example", 16, 0, 0);
	dns_send(&h, "10.0.0.5", "198.51.100.53", 0, &m, PB_T0 + PB_SEC);
	CHECK_EQ_U(mh_stat(&h, "details"), 1);
	mh_tick(&h, PB_T0, PB_T0 + 2 * PB_SEC);
	CHECK_EQ_U(h.nrec, 2);
	for (size_t i = 0; i < h.nrec; i++) {
		if (strcmp(h.rec[i].src, "10.0.0.6") == 0)
			CHECK(strstr(h.rec[i].extra, "\"samples\":[\"zzzz.light.example\"]") != NULL);
		else
			CHECK(strstr(h.rec[i].extra,
			    "\"samples\":[\"aaaa.t.example\",\"bbbb.t.example\"]") != NULL);
		CHECK(strstr(h.rec[i].json, "\"src_port\":40000") != NULL);
	}
	mh_free(&h);
}

/*
 * With the pool used up, a pair that needs a block takes one from the
 * lightest of a few sampled detailed pairs, which is evicted whole and
 * counted: memory stays at the cap and the heavy pair keeps alerting.
 */
static void
test_dnsmon_detail_pool_exhaustion_evicts_a_light_pair_and_counts(void)
{
	struct mh h;

	SETUP(&h, R_BYTES, 16, 4);	/* 16 pairs, 4 blocks */
	for (int i = 0; i < 30; i++)
		query_i(&h, "10.0.0.5", "198.51.100.53", (unsigned)i, 40, "heavy.example", 10,
		    PB_T0 + (uint64_t)i * 1000);
	for (int k = 0; k < 8; k++) {
		char src[32];
		snprintf(src, sizeof src, "10.0.2.%d", k + 1);
		for (unsigned i = 0; i < 2; i++)	/* the second name needs a block */
			query_i(&h, src, "198.51.100.53", i, 3, "light.example", 1,
			    PB_T0 + PB_SEC + (uint64_t)k * 1000 + i);
	}
	CHECK_EQ_U(mh_stat(&h, "details"), 4);
	CHECK_EQ_U(mh_stat(&h, "details_evicted"), 5);	/* 9 blocks wanted, 4 there */
	CHECK_EQ_U(dstats(&h).pairs_evicted, 5);
	CHECK_EQ_U(dstats(&h).pairs, 4);
	mh_tick(&h, PB_T0, PB_T0 + 2 * PB_SEC);
	CHECK_EQ_U(h.nrec, 1);
	if (h.nrec == 1)
		CHECK_EQ_S(h.rec[0].src, "10.0.0.5");
	mh_free(&h);
}

/*
 * The registered domain of a question comes from its flow's name when that
 * is the question (kept with the name), and from the question itself when
 * the flow carries another (a flow of several questions): never the flow's
 * answer for a different name.
 */
static void
test_dnsmon_question_domain_from_the_flow_name_only_when_it_is_the_question(void)
{
	struct mh h;
	struct msgbuf m;
	int seen[3] = { 0 };

	SETUP(&h, R_BYTES, 64, 8);
	build_msg(&m, "www.first.example", 1, 0, 0);
	dns_send_named(&h, "10.0.0.5", "198.51.100.53", &m, "www.first.example", PB_T0);
	build_msg(&m, "api.second.example", 1, 0, 0);	/* the same flow, named by the first */
	dns_send_named(&h, "10.0.0.5", "198.51.100.53", &m, "www.first.example", PB_T0 + PB_SEC);
	build_msg(&m, "WWW.Third.Example", 1, 0, 0);	/* not byte for byte the flow's name */
	dns_send_named(&h, "10.0.0.6", "198.51.100.53", &m, "www.third.example", PB_T0 + 2 * PB_SEC);
	CHECK_EQ_U(dstats(&h).pairs, 3);
	size_t n = mh_visit(&h, 0, PB_T0 + 3 * PB_SEC);
	for (size_t i = 0; i < n; i++) {
		const char *d = h.seen[i].name ? h.seen[i].name : "";
		seen[0] += strcmp(d, "first.example") == 0;
		seen[1] += strcmp(d, "second.example") == 0;
		seen[2] += strcmp(d, "third.example") == 0;
	}
	CHECK(n == 3 && seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	mh_free(&h);
}

T_MAIN("dnsmon",
    T(test_dnsmon_parses_a_query_lowercased_with_labels),
    T(test_dnsmon_marks_binary_labels_not_ldh),
    T(test_dnsmon_follows_a_backward_compression_pointer),
    T(test_dnsmon_rejects_compression_loops),
    T(test_dnsmon_rejects_bad_labels_and_truncation),
    T(test_dnsmon_random_bytes_never_crash),
    T(test_dnsmon_volume_rule_fires_above_threshold_not_at_it),
    T(test_dnsmon_encoded_rule_fires_at_threshold_not_below),
    T(test_dnsmon_resolver_forwarded_queries_are_the_clients),
    T(test_dnsmon_risks_on_forwarded_flows_credit_the_client),
    T(test_dnsmon_reads_tcp_with_length_prefix),
    T(test_dnsmon_malformed_counted_and_skipped),
    T(test_dnsmon_per_host_cap_keeps_the_heaviest_domain),
    T(test_dnsmon_pair_cap_evicts_and_counts),
    T(test_dnsmon_random_subdomain_flood_is_one_entry_counted_by_sketch),
    T(test_dnsmon_pair_moves_to_a_detail_block_without_losing_counts),
    T(test_dnsmon_pair_detailed_mid_life_alerts_at_its_threshold),
    T(test_dnsmon_detail_pool_exhaustion_evicts_a_light_pair_and_counts),
    T(test_dnsmon_question_domain_from_the_flow_name_only_when_it_is_the_question))
