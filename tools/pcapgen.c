/*
 * pcapgen - deterministic synthetic captures for the benchmark (make bench).
 *
 * The benchmark needs traffic that nDPI has to work on for real (TLS
 * ClientHellos with SNI, certificates, DNS wire format, HTTP request lines),
 * in volumes no checked-in capture can have, and it must be reproducible:
 * the same arguments give a byte-identical file (one seeded splitmix64
 * stream, no clock, no addresses, no uninitialised bytes). Two shapes:
 *
 *   mixed  ~1.5 M packets of a campus tap: 2000 internal hosts, tens of
 *          thousands of external servers, >100 k interleaved flows (TLS 1.2
 *          and 1.3, DNS, HTTP, QUIC-like UDP/443, ICMP echo) and a few
 *          multi-megabyte TLS uploads to cloud-storage names.
 *   flows  N concurrent TLS flows, phase by phase (all SYNs, all SYN-ACKs,
 *          ..., all ServerHellos), so no flow ends before the last one
 *          starts: peak flow-table memory divided by N is the cost per flow.
 *   flood  N packets of table-filling noise spread evenly over [-t START,
 *          START + -d SECONDS): unanswered SYNs, DNS queries for random
 *          subdomains and random domains, stray TCP/UDP packets and pings,
 *          between fresh random addresses (internal ones anywhere in
 *          10.0.0.0/8) and ports, or from 64 scanning hosts to many peers
 *          and domains. The load test mixes it into a real capture (pcapmerge).
 *   long   one TCP connection open for -d SECONDS from -t START_EPOCH:
 *          10.20.1.60 -> 203.0.113.60:443, a -l BYTES segment of random
 *          bytes out every -i SECONDS, each acknowledged, then FIN both
 *          ways: the slow, steady channel of ATT&CK T1041/T1029 that the
 *          long-connection rule must report while it is still open.
 *
 * Addresses (mixed, flows): internal 10.20.0.0/16, external 198.18.0.0/15
 * (RFC 2544's benchmark range, so nDPI's IP-based guesses never fire and
 * what it reports comes from the payload). The wire formats and the output
 * (pcap 2.4 written directly through one large buffer) are in
 * pcapgen_proto.h; this file decides what traffic to make.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "pcapgen_proto.h"

#define PG_MSS          1460u           /* 1514-byte frames: 14 + 20 + 20 + 1460 */
#define PG_PREFIX_MAX   6144u           /* largest built message head (TLS 1.2 server flight) */
#define PG_MAX_MSG      16
#define PG_HOSTS        2000u
#define PG_SERVERS      30000u
#define PG_EPOCH        1710000000u     /* 2024-03-09, inside the certificates' validity */

/* ---- names: a few real ones nDPI knows, then generated ones ---- */

static const char *const pg_known[] = {
	"content.dropboxapi.com", "drive.google.com", "www.googleapis.com",
	"s3.amazonaws.com", "onedrive.live.com", "api.box.com", "mega.nz",
	"www.wetransfer.com", "www.google.com", "www.youtube.com",
	"www.facebook.com", "graph.facebook.com", "api.twitter.com",
	"www.netflix.com", "login.microsoftonline.com", "outlook.office365.com",
	"www.amazon.com", "github.com", "api.github.com", "slack.com", "zoom.us",
	"www.wikipedia.org", "www.linkedin.com", "web.whatsapp.com",
	"www.instagram.com", "www.apple.com", "www.icloud.com",
	"update.microsoft.com", "cdn.jsdelivr.net", "www.reddit.com",
	"www.spotify.com", "teams.microsoft.com", "www.tiktok.com",
};
#define PG_NKNOWN (sizeof pg_known / sizeof pg_known[0])
#define PG_NUPLOAD 8    /* the first entries of pg_known are storage services */

static const char *const pg_syl[] = {
	"ka", "lo", "mi", "ra", "ne", "to", "vi", "su", "de", "po", "zen", "tar",
	"bel", "mon", "qui", "fra", "gel", "hub", "nix", "sol", "ver", "dat",
	"cor", "lux", "nor", "pix", "ton", "web", "zap", "ori",
};
static const char *const pg_sub[] = {
	"www", "api", "cdn", "static", "img", "login", "app", "m", "assets",
	"media", "edge", "auth", "files", "video", "ws",
};
static const char *const pg_tld[] = {
	"com", "net", "org", "io", "de", "co.uk", "fr", "app", "cloud", "info",
};

/* Server i's name; a pure function of i so DNS answers, SNI and certificates agree. */
static void
name_of(uint32_t i, char *out, size_t cap)
{
	uint64_t h = hash_mix64(i + 0x5eedULL);
	char word[32];

	if (i < PG_NKNOWN) {
		snprintf(out, cap, "%s", pg_known[i]);
		return;
	}
	snprintf(word, sizeof word, "%s%s%s", pg_syl[h % NELEM(pg_syl)],
	    pg_syl[(h >> 8) % NELEM(pg_syl)],
	    (h >> 16) & 1 ? pg_syl[(h >> 20) % NELEM(pg_syl)] : "");
	snprintf(out, cap, "%s.%s%u.%s", pg_sub[(h >> 28) % NELEM(pg_sub)], word,
	    (unsigned)(i % 97), pg_tld[(h >> 36) % NELEM(pg_tld)]);
}

/* External addresses: 198.18.0.0/15, skipping .0 and .255 host bytes. */
static uint32_t
server_ip(uint32_t i)
{
	uint32_t k = i % (2u * 256 * 254);

	return 0xc6120000u + (k / 254) * 256 + k % 254 + 1;
}

static uint32_t
host_ip(uint32_t h)
{
	return 0x0a140000u + (h / 250) * 256 + h % 250 + 1;
}


/* ---- sessions: each one a small state machine that yields its next packet ---- */

enum sess_type { S_TCP, S_DNS, S_ICMP, S_QUIC };
enum tcp_state { T_SYN, T_SYNACK, T_ACK, T_DATA, T_PUREACK, T_FIN1, T_FIN2, T_FIN3, T_DONE };
enum msg_head { H_NONE, H_CHELLO12, H_CHELLO13, H_SFLIGHT12, H_SHELLO13, H_CFIN12,
	H_SFIN12, H_HTTP_GET, H_HTTP_POST, H_HTTP_RESP };
enum msg_body { B_NONE, B_TLS, B_RAW };

/* A message is a built head (handshake, HTTP headers) and a streamed body. */
struct msg {
	uint8_t dir, head, body;
	uint32_t delay_us;      /* quiet time before its first segment */
	uint32_t body_len;      /* bytes on the wire after the head */
};

struct sess {
	uint64_t t;             /* time of the next packet, microseconds from start */
	uint32_t id;            /* heap tie-break: equal times keep creation order */
	uint8_t type, state, nmsg, cur, unacked, ack_dir, mid_ack;
	uint16_t left, icmp_seq;
	uint32_t srv, rtt_us, gap_us;
	uint64_t off;           /* bytes of the current message already sent */
	struct conn c;
	struct msg msg[PG_MAX_MSG];
	struct rng r;           /* per session, so payload bytes do not depend on interleaving order */
	uint32_t head_len;
	uint8_t head[PG_PREFIX_MAX];
};

struct gen {
	struct out o;
	struct rng r;
	struct sess **heap;
	size_t nheap, capheap;
	uint32_t next_id;
	uint16_t next_port[PG_HOSTS];
	uint64_t flows;
	uint8_t seg[PG_MSS];
};

static int
sess_before(const struct sess *a, const struct sess *b)
{
	return a->t < b->t || (a->t == b->t && a->id < b->id);
}

static void
heap_down(struct gen *g, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < g->nheap && sess_before(g->heap[l], g->heap[m]))
			m = l;
		if (l + 1 < g->nheap && sess_before(g->heap[l + 1], g->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		struct sess *tmp = g->heap[i];
		g->heap[i] = g->heap[m];
		g->heap[m] = tmp;
		i = m;
	}
}

static int
heap_push(struct gen *g, struct sess *s)
{
	size_t i;

	if (g->nheap == g->capheap) {
		size_t cap = g->capheap ? 2 * g->capheap : 4096;
		struct sess **h = realloc(g->heap, cap * sizeof *h);
		if (h == NULL)
			return -1;
		g->heap = h;
		g->capheap = cap;
	}
	i = g->nheap++;
	g->heap[i] = s;
	while (i > 0 && sess_before(g->heap[i], g->heap[(i - 1) / 2])) {
		struct sess *tmp = g->heap[i];
		g->heap[i] = g->heap[(i - 1) / 2];
		g->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
	return 0;
}

/* Client end from host h with its next ephemeral port (RFC 6056-style sequential), server end at ip:port. */
static void
conn_init(struct gen *g, struct conn *c, uint32_t h, uint32_t ip, unsigned port, uint8_t proto)
{
	uint16_t *np = &g->next_port[h];

	memset(c, 0, sizeof *c);
	c->ip[0] = host_ip(h);
	c->ip[1] = ip;
	c->port[0] = *np;
	c->port[1] = (uint16_t)port;
	*np = (uint16_t)(*np + rng_range(&g->r, 1, 7));
	if (*np > 60999 || *np < 32768)
		*np = 32768;
	c->mac[0][0] = 0x02;
	c->mac[0][1] = 0x00;
	put_be32(c->mac[0] + 2, c->ip[0]);
	memcpy(c->mac[1], pg_gw_mac, 6);
	if ((ip >> 24) == 10) {         /* an internal resolver: its own MAC */
		c->mac[1][0] = 0x02;
		c->mac[1][1] = 0x00;
		put_be32(c->mac[1] + 2, ip);
	}
	c->ttl[0] = 64;
	c->ttl[1] = (ip >> 24) == 10 ? 64 : (uint8_t)rng_range(&g->r, 44, 120);
	c->proto = proto;
	c->ipid[0] = (uint16_t)rng_next(&g->r);
	c->ipid[1] = (uint16_t)rng_next(&g->r);
	c->seq[0] = (uint32_t)rng_next(&g->r);
	c->seq[1] = (uint32_t)rng_next(&g->r);
}

/* Popular servers are popular: the minimum of two uniforms skews toward index 0. */
static uint32_t
pick_server(struct rng *r)
{
	uint32_t a = rng_below(r, PG_SERVERS), b = rng_below(r, PG_SERVERS);

	if (rng_below(r, 4) == 0)
		return rng_below(r, PG_NKNOWN);
	return a < b ? a : b;
}

static void
add_msg(struct sess *s, int dir, int head, int body, uint32_t delay, uint32_t body_len)
{
	struct msg *m;

	if (s->nmsg >= PG_MAX_MSG)
		return;
	m = &s->msg[s->nmsg++];
	m->dir = (uint8_t)dir;
	m->head = (uint8_t)head;
	m->body = (uint8_t)body;
	m->delay_us = delay;
	/* a TLS record needs at least one byte after its 5-byte header */
	if (body == B_TLS && body_len % (16384 + 5) != 0 && body_len % (16384 + 5) < 6)
		body_len += 6;
	m->body_len = body_len;
}

/* Response sizes: mostly small, a long tail (log-uniform 64 B .. 4 KB, mean ~1 KB). */
static uint32_t
size_tail(struct rng *r)
{
	uint32_t e = rng_below(r, 6);

	return (64u << e) + rng_below(r, 64u << e);
}

static void
plan_tls(struct sess *s, struct rng *r, uint64_t upload)
{
	static const uint8_t npairs[10] = { 1, 1, 1, 1, 1, 1, 2, 2, 2, 3 };
	int tls13 = rng_below(r, 10) < 7, pairs = npairs[rng_below(r, 10)];
	uint32_t srv_delay = s->rtt_us + rng_range(r, 100, 5000);

	add_msg(s, 0, tls13 ? H_CHELLO13 : H_CHELLO12, B_NONE, rng_range(r, 50, 300), 0);
	if (tls13) {
		add_msg(s, 1, H_SHELLO13, B_TLS, srv_delay, rng_range(r, 1000, 2600));
		add_msg(s, 0, H_NONE, B_TLS, rng_range(r, 100, 800), 58);   /* CCS-less Finished */
	} else {
		add_msg(s, 1, H_SFLIGHT12, B_NONE, srv_delay, 0);
		add_msg(s, 0, H_CFIN12, B_NONE, rng_range(r, 300, 2000), 0);
		add_msg(s, 1, H_SFIN12, B_NONE, s->rtt_us + rng_range(r, 50, 500), 0);
	}
	if (upload) {
		add_msg(s, 0, H_NONE, B_TLS, rng_range(r, 1000, 50000), (uint32_t)upload);
		add_msg(s, 1, H_NONE, B_TLS, s->rtt_us + rng_range(r, 1000, 50000), rng_range(r, 80, 600));
		return;
	}
	for (int i = 0; i < pairs; i++) {
		add_msg(s, 0, H_NONE, B_TLS, i == 0 ? rng_range(r, 100, 3000) : rng_range(r, 1000, 3000000),
		    rng_range(r, 80, 1200));
		add_msg(s, 1, H_NONE, B_TLS, s->rtt_us + rng_range(r, 200, 40000), size_tail(r));
	}
}

static void
plan_http(struct sess *s, struct rng *r)
{
	int pairs = rng_below(r, 3) == 0 ? 2 : 1;

	for (int i = 0; i < pairs; i++) {
		uint32_t think = i == 0 ? rng_range(r, 50, 300) : rng_range(r, 5000, 2000000);
		if (rng_below(r, 8) == 0)
			add_msg(s, 0, H_HTTP_POST, B_RAW, think, size_tail(r));
		else
			add_msg(s, 0, H_HTTP_GET, B_NONE, think, 0);
		add_msg(s, 1, H_HTTP_RESP, B_RAW, s->rtt_us + rng_range(r, 300, 80000), size_tail(r));
	}
}

/* A new flow starting at time t; 'upload' > 0 makes it a bulk TLS upload of that many bytes. */
static struct sess *
sess_new(struct gen *g, uint64_t t, uint64_t upload)
{
	struct sess *s = calloc(1, sizeof *s);
	struct rng *r = &g->r;
	uint32_t kind = rng_below(r, 100), h = rng_below(r, PG_HOSTS);

	if (s == NULL)
		return NULL;
	s->t = t;
	s->id = g->next_id++;
	s->r.s = rng_next(r);
	s->rtt_us = rng_range(r, 2000, 150000);
	s->gap_us = rng_range(r, 15, 400);
	s->srv = pick_server(r);
	g->flows++;
	if (upload) {
		s->srv = rng_below(r, PG_NUPLOAD);
		s->gap_us = rng_range(r, 120, 400);
		h = 1000 + rng_below(r, 5);     /* a handful of hosts do the big uploads */
		kind = 0;
	}
	if (kind < 35) {                                /* TLS */
		conn_init(g, &s->c, h, server_ip(s->srv), 443, 6);
		s->type = S_TCP;
		plan_tls(s, &s->r, upload);
	} else if (kind < 43) {                         /* HTTP */
		conn_init(g, &s->c, h, server_ip(s->srv + PG_SERVERS), 80, 6);
		s->type = S_TCP;
		plan_http(s, &s->r);
	} else if (kind < 88) {                         /* DNS: internal resolvers mostly */
		uint32_t res = rng_below(r, 10) < 8 ? 0x0a14ff02u + rng_below(r, 2) : server_ip(0x10000);
		conn_init(g, &s->c, h, res, 53, 17);
		s->type = S_DNS;
		s->rtt_us = res >> 24 == 10 ? rng_range(r, 200, 30000) : rng_range(r, 5000, 60000);
	} else if (kind < 95) {                         /* QUIC-like UDP/443 */
		conn_init(g, &s->c, h, server_ip(s->srv), 443, 17);
		s->type = S_QUIC;
		s->left = (uint16_t)rng_range(r, 4, 12);
	} else {                                        /* ICMP echo */
		conn_init(g, &s->c, h, server_ip(rng_below(r, PG_SERVERS)), 0, 1);
		s->type = S_ICMP;
		s->left = (uint16_t)(2 * rng_range(r, 1, 4));
		s->icmp_seq = 1;
	}
	return s;
}

/* Build the head of the message about to start into s->head. */
static void
msg_build_head(struct sess *s, const struct msg *m)
{
	struct wbuf w = { s->head, 0, sizeof s->head, 0 };
	char host[128];
	static const char *const ua[] = {
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
		"curl/7.88.1", "Debian APT-HTTP/1.3 (2.6.1)",
	};

	name_of(s->srv, host, sizeof host);
	switch (m->head) {
	case H_CHELLO12: build_client_hello(&w, &s->r, host, 0); break;
	case H_CHELLO13: build_client_hello(&w, &s->r, host, 1); break;
	case H_SHELLO13: build_server_hello13(&w, &s->r); break;
	case H_SFLIGHT12: build_server_flight12(&w, &s->r, host); break;
	case H_CFIN12: build_client_finish12(&w, &s->r); break;
	case H_SFIN12:
		w_u8(&w, 0x14); w_u16(&w, 0x0303); w_u16(&w, 1); w_u8(&w, 1);
		w_u8(&w, 0x16); w_u16(&w, 0x0303); w_u16(&w, 40); w_rand(&w, &s->r, 40);
		break;
	case H_HTTP_GET:
	case H_HTTP_POST: {
		char line[512];
		int n;
		if (m->head == H_HTTP_GET)
			n = snprintf(line, sizeof line, "GET /%s/%s%u.%s HTTP/1.1\r\nHost: %s\r\n"
			    "User-Agent: %s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
			    "Connection: keep-alive\r\n\r\n", pg_syl[rng_below(&s->r, NELEM(pg_syl))],
			    pg_sub[rng_below(&s->r, NELEM(pg_sub))], rng_below(&s->r, 10000),
			    rng_below(&s->r, 2) ? "html" : "jpg", host, ua[rng_below(&s->r, NELEM(ua))]);
		else
			n = snprintf(line, sizeof line, "POST /api/v1/upload HTTP/1.1\r\nHost: %s\r\n"
			    "User-Agent: %s\r\nContent-Type: application/octet-stream\r\n"
			    "Content-Length: %u\r\n\r\n", host, ua[rng_below(&s->r, NELEM(ua))], m->body_len);
		if (n > 0)
			w_bytes(&w, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
		break;
	}
	case H_HTTP_RESP: {
		char line[256];
		int n = snprintf(line, sizeof line, "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
		    "Content-Type: %s\r\nContent-Length: %u\r\nConnection: keep-alive\r\n\r\n",
		    rng_below(&s->r, 2) ? "text/html; charset=utf-8" : "image/jpeg", m->body_len);
		if (n > 0)
			w_bytes(&w, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
		break;
	}
	default:
		break;
	}
	s->head_len = w.err ? 0 : (uint32_t)w.len;
}

/* Bytes [off, off+n) of the current message: the head, then the body stream. */
static void
msg_fill(struct sess *s, const struct msg *m, uint64_t off, uint8_t *dst, size_t n)
{
	const uint64_t rs = 16384 + 5;
	uint64_t body_off;
	size_t i = 0;

	for (; i < n && off + i < s->head_len; i++)
		dst[i] = s->head[off + i];
	if (i == n)
		return;
	rng_fill(&s->r, dst + i, n - i);
	if (m->body != B_TLS)
		return;
	/* Overwrite record headers (17 03 03 len) wherever one falls in this segment. */
	body_off = off + i - s->head_len;
	for (; i < n; i++, body_off++) {
		uint64_t within = body_off % rs, start = body_off - within;
		uint64_t rec_len = m->body_len - start - 5 < 16384 ? m->body_len - start - 5 : 16384;
		static const uint8_t hdr[3] = { 0x17, 0x03, 0x03 };
		if (within < 3)
			dst[i] = hdr[within];
		else if (within == 3)
			dst[i] = (uint8_t)(rec_len >> 8);
		else if (within == 4)
			dst[i] = (uint8_t)rec_len;
		else {  /* jump to the next record header */
			uint64_t skip = rs - within - 1;
			if (skip >= n - i)
				break;
			i += skip;
			body_off += skip;
		}
	}
}

static uint64_t
msg_total(const struct sess *s, const struct msg *m)
{
	return (uint64_t)s->head_len + m->body_len;
}

/* Emit the current message's next segment; pick what comes after it. */
static void
tcp_data(struct gen *g, struct sess *s)
{
	const struct msg *m = &s->msg[s->cur];
	uint64_t total, n;
	int last;

	if (s->off == 0)
		msg_build_head(s, m);
	total = msg_total(s, m);
	n = total - s->off < PG_MSS ? total - s->off : PG_MSS;
	msg_fill(s, m, s->off, g->seg, (size_t)n);
	last = s->off + n == total;
	emit_tcp(&g->o, s->t, &s->c, m->dir, TH_ACK | (last ? TH_PSH : 0), g->seg, (size_t)n);
	s->off += n;
	s->ack_dir = (uint8_t)!m->dir;
	if (!last) {
		/* Delayed ACK (RFC 1122 4.2.3.2): the receiver acknowledges every second full segment. */
		if (++s->unacked >= 2) {
			s->unacked = 0;
			s->state = T_PUREACK;
			s->mid_ack = 1;
			s->t += 5;
		} else {
			s->t += s->gap_us;
		}
		return;
	}
	s->unacked = 0;
	s->off = 0;
	s->cur++;
	if (s->cur < s->nmsg && s->msg[s->cur].dir != m->dir) {
		s->state = T_DATA;      /* the answer carries the acknowledgement */
		s->t += s->msg[s->cur].delay_us;
	} else {
		s->state = T_PUREACK;
		s->mid_ack = 0;
		s->t += s->rtt_us / 2 + 40;
	}
}

static void
step_tcp(struct gen *g, struct sess *s)
{
	struct out *o = &g->o;

	switch (s->state) {
	case T_SYN:
		emit_tcp(o, s->t, &s->c, 0, TH_SYN, NULL, 0);
		s->state = T_SYNACK;
		s->t += s->rtt_us;
		break;
	case T_SYNACK:
		emit_tcp(o, s->t, &s->c, 1, TH_SYN | TH_ACK, NULL, 0);
		s->state = T_ACK;
		s->t += rng_range(&s->r, 20, 200);
		break;
	case T_ACK:
		emit_tcp(o, s->t, &s->c, 0, TH_ACK, NULL, 0);
		s->state = s->nmsg ? T_DATA : T_FIN1;
		s->t += s->nmsg ? s->msg[0].delay_us : 1000;
		break;
	case T_DATA:
		tcp_data(g, s);
		break;
	case T_PUREACK:
		emit_tcp(o, s->t, &s->c, s->ack_dir, TH_ACK, NULL, 0);
		if (s->mid_ack) {
			s->state = T_DATA;
			s->t += s->gap_us;
		} else if (s->cur < s->nmsg) {
			s->state = T_DATA;
			s->t += s->msg[s->cur].delay_us;
		} else {
			s->state = T_FIN1;
			s->t += rng_range(&s->r, 1000, 500000);
		}
		break;
	case T_FIN1:
		emit_tcp(o, s->t, &s->c, 0, TH_FIN | TH_ACK, NULL, 0);
		s->state = T_FIN2;
		s->t += s->rtt_us;
		break;
	case T_FIN2:
		emit_tcp(o, s->t, &s->c, 1, TH_FIN | TH_ACK, NULL, 0);
		s->state = T_FIN3;
		s->t += rng_range(&s->r, 20, 200);
		break;
	default:
		emit_tcp(o, s->t, &s->c, 0, TH_ACK, NULL, 0);
		s->state = T_DONE;
		break;
	}
}

/* A DNS lookup: one query, one answer (or NXDOMAIN); a few hosts tunnel data in labels. */
static void
step_dns(struct gen *g, struct sess *s)
{
	char name[256];
	struct wbuf w = { g->seg, 0, sizeof g->seg, 0 };
	uint32_t h = s->c.ip[0] & 0xffff;
	int tunnel = h % 997 == 3;      /* about two hosts of 2000 */
	unsigned qtype = (s->c.port[0] & 3) == 0 ? 28 : 1;
	struct rng names = { hash_mix64(s->id) };

	/* the name is derived from the session id, so query and answer agree */
	if (tunnel) {
		static const char hex[] = "0123456789abcdef";
		size_t i;
		for (i = 0; i < 60; i++)
			name[i] = i == 30 ? '.' : hex[rng_next(&names) & 15];
		snprintf(name + i, sizeof name - i, ".t.%s", "exfil-bench.net");
	} else {
		name_of(s->srv, name, sizeof name);
	}
	if (s->state == 0) {
		build_dns(&w, s->c.port[0] ^ 0x5a5a, name, qtype, 0, 0, &s->r);
		emit_udp(&g->o, s->t, &s->c, 0, w.p, w.len);
		s->state = 1;
		s->t += s->rtt_us;
	} else {
		int nx = tunnel || rng_below(&s->r, 50) == 0;
		build_dns(&w, s->c.port[0] ^ 0x5a5a, name, qtype, nx ? -1 : 1, server_ip(s->srv), &s->r);
		emit_udp(&g->o, s->t, &s->c, 1, w.p, w.len);
		s->state = T_DONE;
	}
}

/*
 * QUIC-shaped UDP/443 (RFC 9000 17.2): a padded client Initial, server
 * Initial/Handshake long headers, then short-header packets both ways. The
 * protected payload is random: enough for the version and length checks.
 */
static void
step_quic(struct gen *g, struct sess *s)
{
	uint8_t *p = g->seg;
	int dir = s->state == 0 ? 0 : (s->state < 3 ? 1 : (int)rng_below(&s->r, 3) == 0 ? 0 : 1);
	size_t len;

	if (s->state < 3) {
		len = s->state == 0 ? 1250 : s->state == 1 ? 1200 : rng_range(&s->r, 300, 1200);
		rng_fill(&s->r, p, len);
		p[0] = (uint8_t)(s->state == 2 ? 0xe1 : 0xc1);  /* Initial / Handshake, 2-byte PN */
		put_be32(p + 1, 1);                             /* QUIC v1 */
		p[5] = 8;                                       /* DCID */
		memcpy(p + 6, &s->c.ip[0], 4);
		memcpy(p + 10, &s->c.port[0], 2);
		p[14] = 0;                                      /* no SCID */
		if ((p[0] & 0x30) == 0) {                       /* Initial: empty token */
			p[15] = 0;
			put_be16(p + 16, (unsigned)(0x4000 | (len - 18)));
		} else {
			put_be16(p + 15, (unsigned)(0x4000 | (len - 17)));
		}
	} else {
		len = dir && rng_below(&s->r, 2) ? rng_range(&s->r, 200, 1350) : rng_range(&s->r, 40, 120);
		rng_fill(&s->r, p, len);
		p[0] = (uint8_t)(0x40 | (p[0] & 0x3f));
	}
	emit_udp(&g->o, s->t, &s->c, dir, p, len);
	s->state = (uint8_t)(s->state < 3 ? s->state + 1 : 3);
	s->t += s->state < 3 ? s->rtt_us / 2 : rng_range(&s->r, 100, 30000);
	if (--s->left == 0)
		s->state = T_DONE;
}

static void
step_icmp(struct gen *g, struct sess *s)
{
	int dir = s->left % 2 == 1;

	emit_icmp_echo(&g->o, s->t, &s->c, dir, s->c.port[0], s->icmp_seq);
	if (dir) {
		s->icmp_seq++;
		s->t += 1000000 - s->rtt_us;    /* ping's one-second interval */
	} else {
		s->t += s->rtt_us;
	}
	if (--s->left == 0)
		s->state = T_DONE;
}

/*
 * The tap: flows arrive at ~550/s (uniform gaps, mean 1.8 ms) and
 * progress concurrently; the heap always yields the earliest next packet so
 * time never goes backwards. Arrivals stop at the packet target, then the
 * open flows finish (FIN), so the file holds slightly more than the target.
 */
static int
gen_mixed(struct gen *g, uint64_t target)
{
	uint64_t next_arrival = 0, uploads = target / 200000 ? target / 200000 : 1, up_done = 0;

	for (;;) {
		struct sess *s;

		if (g->o.packets < target && (g->nheap == 0 || next_arrival <= g->heap[0]->t)) {
			uint64_t up = 0;
			if (g->o.packets >= (up_done + 1) * target / (uploads + 1) && up_done < uploads) {
				up = (uint64_t)rng_range(&g->r, 6, 16) << 20;
				up_done++;
			}
			if ((s = sess_new(g, next_arrival, up)) == NULL || heap_push(g, s) != 0)
				return -1;
			next_arrival += rng_below(&g->r, 3600);
			continue;
		}
		if (g->nheap == 0)
			break;
		s = g->heap[0];
		switch (s->type) {
		case S_TCP: step_tcp(g, s); break;
		case S_DNS: step_dns(g, s); break;
		case S_QUIC: step_quic(g, s); break;
		default: step_icmp(g, s); break;
		}
		if (s->state == T_DONE) {
			g->heap[0] = g->heap[--g->nheap];
			free(s);
		}
		if (g->nheap)
			heap_down(g, 0);
	}
	return 0;
}

/*
 * N concurrent flows, one phase at a time over all of them: SYN, SYN-ACK,
 * ACK, ClientHello, ServerHello+CCS, ACK. Every flow's state is recomputed
 * from its index, so the generator holds nothing per flow. 1 us between
 * packets keeps the whole file within ~6 s per million flows: no reader's
 * idle timeout can expire a flow before the last one opens.
 */
static int
gen_flows(struct gen *g, uint64_t nflows)
{
	uint8_t buf[1024];
	uint64_t t = 0;

	for (int phase = 0; phase < 6; phase++) {
		for (uint64_t i = 0; i < nflows; i++, t++) {
			struct conn c;
			struct rng r = { hash_mix64(i ^ g->r.s) };
			struct wbuf w = { buf, 0, sizeof buf, 0 };
			uint32_t srv = (uint32_t)(hash_mix64(i) % PG_SERVERS);
			char host[128];

			memset(&c, 0, sizeof c);
			c.ip[0] = 0x0a800000u + (uint32_t)(i & 0xffff) + 1;
			c.ip[1] = server_ip(srv);
			c.port[0] = (uint16_t)(20000 + (i >> 16));
			c.port[1] = 443;
			c.mac[0][0] = 0x02;
			put_be32(c.mac[0] + 2, c.ip[0]);
			memcpy(c.mac[1], pg_gw_mac, 6);
			c.ttl[0] = 64;
			c.ttl[1] = 57;
			c.proto = 6;
			c.ipid[0] = c.ipid[1] = (uint16_t)phase;
			c.seq[0] = (uint32_t)rng_next(&r);
			c.seq[1] = (uint32_t)rng_next(&r);
			/* replay the sequence-number progress of the earlier phases */
			if (phase >= 1) c.seq[0]++;
			if (phase >= 2) c.seq[1]++;
			name_of(srv, host, sizeof host);
			build_client_hello(&w, &r, host, 1);
			if (phase >= 4)
				c.seq[0] += (uint32_t)w.len;
			switch (phase) {
			case 0: emit_tcp(&g->o, t, &c, 0, TH_SYN, NULL, 0); break;
			case 1: emit_tcp(&g->o, t, &c, 1, TH_SYN | TH_ACK, NULL, 0); break;
			case 2: emit_tcp(&g->o, t, &c, 0, TH_ACK, NULL, 0); break;
			case 3: emit_tcp(&g->o, t, &c, 0, TH_ACK | TH_PSH, buf, w.len); break;
			case 4:
				w.len = 0;
				build_server_hello13(&w, &r);
				emit_tcp(&g->o, t, &c, 1, TH_ACK | TH_PSH, buf, w.len);
				break;
			default:
				w.len = 0;      /* rebuilt only for its length: the ACK covers it */
				build_server_hello13(&w, &r);
				c.seq[1] += (uint32_t)w.len;
				emit_tcp(&g->o, t, &c, 0, TH_ACK, NULL, 0);
				break;
			}
			if (w.err)
				return -1;
		}
	}
	g->flows = nflows;
	return 0;
}

/*
 * ---- flood: stateless noise for the load test (tests/integration/test_flood.sh) ----
 *
 * Every event is one packet (two for an answered DNS query or ping) between
 * fresh random addresses and ports, so almost every packet opens a new flow
 * and a new internal host: what a SYN flood or a scan with spoofed sources
 * does to a sensor's tables. Half of the outbound SYNs, of the DNS queries
 * and of the pings come from a few scanning hosts instead, so some hosts
 * have thousands of peers, domains and echo peers, and the (host, peer),
 * (host, domain) and ICMP pair tables fill too. Internal addresses are anywhere in
 * 10.0.0.0/8 and every packet carries at most 512 payload bytes, so no host
 * comes near a volume threshold: the flood is noise, not exfiltration.
 */

#define FL_SCANNERS 64

/* DNS resolvers the flood's queries go to (public, so external). */
static const uint32_t fl_resolvers[] = { 0x08080808, 0x08080404, 0x01010101, 0x09090909 };

static uint32_t
flood_internal(struct rng *r)
{
	return 0x0a000000u | (uint32_t)(rng_next(r) & 0xffffff);
}

/* One of the scanning hosts: fixed addresses in 10.0.0.0/8, whatever the seed. */
static uint32_t
flood_scanner(struct rng *r)
{
	return 0x0a000000u | (uint32_t)(hash_mix64(0x5ca7u + rng_below(r, FL_SCANNERS)) & 0xffffff);
}

/* A unicast address outside every default HOME_NET range and special block. */
static uint32_t
flood_external(struct rng *r)
{
	for (;;) {
		uint32_t a = (uint32_t)rng_next(r), o1 = a >> 24;
		if (o1 == 0 || o1 == 10 || o1 == 127 || o1 >= 224 ||
		    (a & 0xffc00000u) == 0x64400000u ||         /* 100.64/10, RFC 6598 */
		    (a & 0xffff0000u) == 0xa9fe0000u ||         /* 169.254/16 */
		    (a & 0xfff00000u) == 0xac100000u ||         /* 172.16/12 */
		    (a & 0xffff0000u) == 0xc0a80000u ||         /* 192.168/16 */
		    (a & 0xffffff00u) == 0xc0000200u)           /* 192.0.2/24: sanctioned in the rules */
			continue;
		return a;
	}
}

/* End 0 (a, pa) opens the connection to end 1 (b, pb); internal ends get their own MAC. */
static void
flood_conn(struct conn *c, struct rng *r, uint32_t a, unsigned pa, uint32_t b, unsigned pb,
    uint8_t proto)
{
	uint32_t ip[2] = { a, b };

	memset(c, 0, sizeof *c);
	for (int i = 0; i < 2; i++) {
		c->ip[i] = ip[i];
		if ((ip[i] >> 24) == 10) {
			c->mac[i][0] = 0x02;
			put_be32(c->mac[i] + 2, ip[i]);
			c->ttl[i] = 64;
		} else {
			memcpy(c->mac[i], pg_gw_mac, 6);
			c->ttl[i] = (uint8_t)rng_range(r, 44, 120);
		}
		c->ipid[i] = (uint16_t)rng_next(r);
		c->seq[i] = (uint32_t)rng_next(r);
	}
	c->port[0] = (uint16_t)pa;
	c->port[1] = (uint16_t)pb;
	c->proto = proto;
}

/* Packet i of n at i * dur / n, without overflow: the file spans [0, dur) evenly. */
static uint64_t
flood_time(uint64_t i, uint64_t n, uint64_t dur_us)
{
	return i * (dur_us / n) + i * (dur_us % n) / n;
}

/* "<lo-hi random letters and digits>" at name, returns its length. */
static size_t
flood_label(struct rng *r, char *name, size_t cap, uint32_t lo, uint32_t hi)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	uint32_t n = rng_range(r, lo, hi), i;

	for (i = 0; i < n && i + 1 < cap; i++)
		name[i] = alnum[rng_below(r, sizeof alnum - 1)];
	name[i] = '\0';
	return i;
}

/* "<20-60 random letters and digits>.flood-<0..7>.example" */
static void
flood_name(struct rng *r, char *name, size_t cap)
{
	size_t i = flood_label(r, name, cap, 20, 60);

	snprintf(name + i, cap - i, ".flood-%u.example", rng_below(r, 8));
}

/*
 * What the scanning hosts look up: half random short subdomains of the
 * eight flood domains (a random-subdomain, "water torture" flood: one
 * (host, domain) pair each, however many names), half random registered
 * domains (more domains per host than dnsmon keeps: --max-dns-domains).
 * Labels of 6-12 characters: a flood, not an encoded tunnel.
 */
static void
flood_scanner_name(struct rng *r, char *name, size_t cap)
{
	size_t i = flood_label(r, name, cap, 6, 12);

	if (rng_below(r, 2))
		snprintf(name + i, cap - i, ".flood-%u.example", rng_below(r, 8));
	else
		snprintf(name + i, cap - i, ".%s", pg_tld[rng_below(r, NELEM(pg_tld))]);
}

/* One event: (a) SYN, (b) DNS query, (c) a data packet, (d) ICMP echo. */
static void
flood_event(struct gen *g, uint64_t target, uint64_t dur_us)
{
	struct rng *r = &g->r;
	struct out *o = &g->o;
	uint32_t kind = rng_below(r, 100), in = flood_internal(r), ex = flood_external(r);
	unsigned eph = rng_range(r, 1024, 65535), port = rng_range(r, 1, 65535);
	int room = target - o->packets >= 2;    /* an answer fits before the target */
	struct conn c;

	g->flows++;
	if (kind < 40) {                /* SYN flood (RFC 4987), out of and into the network */
		if (kind < 20)
			flood_conn(&c, r, kind < 10 ? flood_scanner(r) : in, eph, ex, port, 6);
		else
			flood_conn(&c, r, ex, eph, in, port, 6);
		emit_tcp(o, flood_time(o->packets, target, dur_us), &c, 0, TH_SYN, NULL, 0);
	} else if (kind < 65) {         /* random subdomains (RFC 1035), half answered NXDOMAIN */
		static const unsigned qtypes[] = { 1, 28, 16 };         /* A, AAAA, TXT */
		char name[96];
		struct wbuf w = { g->seg, 0, sizeof g->seg, 0 };
		unsigned id = (unsigned)rng_below(r, 65536), qt = qtypes[rng_below(r, 3)];

		/* Half from fresh hosts (long random names: the pair table churns),
		 * half from the scanning hosts (their per-host domain cap churns). */
		int scan = kind >= 53;
		flood_conn(&c, r, scan ? flood_scanner(r) : in, eph,
		    fl_resolvers[rng_below(r, NELEM(fl_resolvers))], 53, 17);
		if (scan)
			flood_scanner_name(r, name, sizeof name);
		else
			flood_name(r, name, sizeof name);
		build_dns(&w, id, name, qt, 0, 0, r);
		emit_udp(o, flood_time(o->packets, target, dur_us), &c, 0, w.p, w.len);
		if (room && rng_below(r, 2)) {
			w.len = 0;
			build_dns(&w, id, name, qt, -1, 0, r);
			emit_udp(o, flood_time(o->packets, target, dur_us), &c, 1, w.p, w.len);
		}
	} else if (kind < 90) {         /* one mid-connection TCP segment or UDP datagram */
		size_t len = rng_range(r, 1, 512);
		int out_dir = rng_below(r, 2);
		uint8_t proto = rng_below(r, 2) ? 6 : 17;

		flood_conn(&c, r, out_dir ? in : ex, eph, out_dir ? ex : in, port, proto);
		rng_fill(r, g->seg, len);
		if (proto == 6)
			emit_tcp(o, flood_time(o->packets, target, dur_us), &c, 0, TH_ACK | TH_PSH, g->seg, len);
		else
			emit_udp(o, flood_time(o->packets, target, dur_us), &c, 0, g->seg, len);
	} else {                        /* ping (RFC 792) a random peer, half answered */
		/* Half from the scanning hosts: one (host, peer) echo pair each, a sweep. */
		flood_conn(&c, r, kind >= 95 ? flood_scanner(r) : in, 0, ex, 0, 1);
		emit_icmp_echo(o, flood_time(o->packets, target, dur_us), &c, 0, eph, 1);
		if (room && rng_below(r, 2))
			emit_icmp_echo(o, flood_time(o->packets, target, dur_us), &c, 1, eph, 1);
	}
}

static int
gen_flood(struct gen *g, uint64_t target, uint64_t dur_us)
{
	while (g->o.packets < target && !g->o.err)
		flood_event(g, target, dur_us);
	return g->o.err ? -1 : 0;
}

/* One long, steady upload (see the header): handshake, data every interval, close. */
static int
gen_long(struct gen *g, uint64_t dur_us, uint64_t every_us, size_t len)
{
	struct out *o = &g->o;
	struct conn c;
	uint64_t t = 0;		/* times are relative to the file's start (out_open) */

	flood_conn(&c, &g->r, 0x0a14013cu, 49152, 0xcb00713cu, 443, 6);	/* 10.20.1.60, 203.0.113.60 */
	g->flows = 1;
	emit_tcp(o, t, &c, 0, TH_SYN, NULL, 0);
	emit_tcp(o, t + 20000, &c, 1, TH_SYN | TH_ACK, NULL, 0);
	emit_tcp(o, t + 40000, &c, 0, TH_ACK, NULL, 0);
	for (t = every_us; t < dur_us && !o->err; t += every_us) {
		rng_fill(&g->r, g->seg, len);
		emit_tcp(o, t, &c, 0, TH_ACK | TH_PSH, g->seg, len);
		emit_tcp(o, t + 20000, &c, 1, TH_ACK, NULL, 0);
	}
	emit_tcp(o, t, &c, 0, TH_FIN | TH_ACK, NULL, 0);
	emit_tcp(o, t + 20000, &c, 1, TH_FIN | TH_ACK, NULL, 0);
	emit_tcp(o, t + 40000, &c, 0, TH_ACK, NULL, 0);
	return o->err ? -1 : 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pcapgen mixed -o FILE [-p PACKETS] [-s SEED]\n"
	    "       pcapgen flows -o FILE [-n FLOWS] [-s SEED]\n"
	    "       pcapgen flood -o FILE [-p PACKETS] [-s SEED] [-t START_EPOCH] [-d SECONDS]\n"
	    "       pcapgen long -o FILE [-s SEED] [-t START_EPOCH] [-d SECONDS] [-i SECONDS] [-l BYTES]\n");
	exit(2);
}

/* Seconds (fractions allowed) as microseconds; -1 if s is not a number in [0, 2^32). */
static int
parse_seconds(const char *s, uint64_t *us)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0 && v < 4294967296.0))
		return -1;
	*us = (uint64_t)(v * 1e6 + 0.5);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct gen g;
	const char *path = NULL, *mode;
	uint64_t packets = 1500000, flows = 1000000, seed = 1;
	uint64_t start_us = (uint64_t)PG_EPOCH * 1000000, dur_us = 60000000, every_us = 4000000;
	size_t seglen = 1200;
	int ch, rc;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "o:p:n:s:t:d:i:l:")) != -1) {
		switch (ch) {
		case 'o': path = optarg; break;
		case 'p': packets = strtoull(optarg, NULL, 10); break;
		case 'n': flows = strtoull(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 't': if (parse_seconds(optarg, &start_us) != 0) usage(); break;
		case 'd': if (parse_seconds(optarg, &dur_us) != 0 || dur_us == 0) usage(); break;
		case 'i': if (parse_seconds(optarg, &every_us) != 0 || every_us < 100000) usage(); break;
		case 'l': seglen = strtoull(optarg, NULL, 10); if (seglen == 0 || seglen > PG_MSS) usage(); break;
		default: usage();
		}
	}
	if (path == NULL || (strcmp(mode, "mixed") != 0 && strcmp(mode, "flows") != 0 &&
	    strcmp(mode, "flood") != 0 && strcmp(mode, "long") != 0) ||
	    (strcmp(mode, "flood") == 0 && packets == 0))
		usage();
	g.r.s = hash_mix64(seed);
	for (uint32_t h = 0; h < PG_HOSTS; h++)
		g.next_port[h] = (uint16_t)(32768 + rng_below(&g.r, 28000));
	if (strcmp(mode, "flood") != 0 && strcmp(mode, "long") != 0)
		start_us = (uint64_t)PG_EPOCH * 1000000;        /* -t is the flood's and long's alone */
	if (out_open(&g.o, path, start_us) != 0) {
		fprintf(stderr, "pcapgen: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (strcmp(mode, "mixed") == 0)
		rc = gen_mixed(&g, packets);
	else if (strcmp(mode, "flows") == 0)
		rc = gen_flows(&g, flows);
	else if (strcmp(mode, "long") == 0)
		rc = gen_long(&g, dur_us, every_us, seglen);
	else
		rc = gen_flood(&g, packets, dur_us);
	if (out_close(&g.o) != 0 || rc != 0) {
		fprintf(stderr, "pcapgen: %s: write failed\n", path);
		return 1;
	}
	fprintf(stderr, "pcapgen: %s: %llu packets, %llu bytes on the wire, %llu flows\n", path,
	    (unsigned long long)g.o.packets, (unsigned long long)g.o.bytes,
	    (unsigned long long)g.flows);
	return 0;
}
