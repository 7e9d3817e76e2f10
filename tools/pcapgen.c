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
 *
 * Addresses: internal 10.20.0.0/16, external 198.18.0.0/15 (RFC 2544's
 * benchmark range, so nDPI's IP-based guesses never fire and what it reports
 * comes from the payload). The file is written directly (pcap 2.4, little
 * endian, LINKTYPE_ETHERNET) through one large buffer: libpcap's dumper
 * would add a call and a copy per packet for nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

#define PG_MSS          1460u           /* 1514-byte frames: 14 + 20 + 20 + 1460 */
#define PG_PREFIX_MAX   6144u           /* largest built message head (TLS 1.2 server flight) */
#define PG_MAX_MSG      16
#define PG_HOSTS        2000u
#define PG_SERVERS      30000u
#define PG_EPOCH        1710000000u     /* 2024-03-09, inside the certificates' validity */
#define PG_OUTBUF       (4u << 20)

/* ---- randomness: splitmix64, the same mixer the sensor's tables use ---- */

struct rng {
	uint64_t s;
};

static uint64_t
rng_next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return hash_mix64(r->s);
}

/* Uniform in [0, n) without division: Lemire's multiply-shift. */
static uint32_t
rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static uint32_t
rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static void
rng_fill(struct rng *r, uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t v = rng_next(r);
		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		uint64_t v = rng_next(r);
		memcpy(p, &v, n);
	}
}

/* ---- a bounds-checked writer: overflow sets a sticky flag, never writes past cap ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void
w_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void w_u8(struct wbuf *w, unsigned v) { uint8_t b = (uint8_t)v; w_bytes(w, &b, 1); }
static void w_u16(struct wbuf *w, unsigned v) { w_u8(w, v >> 8); w_u8(w, v); }
static void w_u24(struct wbuf *w, unsigned v) { w_u8(w, v >> 16); w_u16(w, v & 0xffff); }
static void w_str(struct wbuf *w, const char *s) { w_bytes(w, s, strlen(s)); }

static void
w_rand(struct wbuf *w, struct rng *r, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return;
	}
	rng_fill(r, w->p + w->len, n);
	w->len += n;
}

/* Length-prefixed blocks (TLS vectors): reserve 'size' bytes, patch at the end. */
static size_t
w_open(struct wbuf *w, unsigned size)
{
	size_t at = w->len;

	while (size--)
		w_u8(w, 0);
	return at;
}

static void
w_close(struct wbuf *w, size_t at, unsigned size)
{
	size_t n = w->len - at - size;

	if (w->err)
		return;
	for (unsigned i = 0; i < size; i++)
		w->p[at + i] = (uint8_t)(n >> (8 * (size - 1 - i)));
}

/* DER: wrap bytes [start, len) in a TLV with minimal-length encoding (X.690 8.1.3). */
static void
der_wrap(struct wbuf *w, size_t start, uint8_t tag)
{
	size_t n = w->len - start, hl = n < 128 ? 2 : n < 256 ? 3 : 4;

	if (w->err || hl > w->cap - w->len) {
		w->err = 1;
		return;
	}
	memmove(w->p + start + hl, w->p + start, n);
	w->p[start] = tag;
	if (hl == 2) {
		w->p[start + 1] = (uint8_t)n;
	} else if (hl == 3) {
		w->p[start + 1] = 0x81;
		w->p[start + 2] = (uint8_t)n;
	} else {
		w->p[start + 1] = 0x82;
		w->p[start + 2] = (uint8_t)(n >> 8);
		w->p[start + 3] = (uint8_t)n;
	}
	w->len += hl;
}

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
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

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

/* ---- output: pcap 2.4 records straight into a big buffer ---- */

struct out {
	FILE *f;
	uint8_t *buf;
	size_t used;
	uint64_t packets, bytes;
	int err;
};

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
out_flush(struct out *o)
{
	if (o->used && fwrite(o->buf, 1, o->used, o->f) != o->used)
		o->err = 1;
	o->used = 0;
}

/* Room for one record of 'len' bytes at time t_us; returns where the frame goes. */
static uint8_t *
out_frame(struct out *o, uint64_t t_us, size_t len)
{
	uint8_t *p;

	if (PG_OUTBUF - o->used < 16 + len)
		out_flush(o);
	p = o->buf + o->used;
	put_le32(p, (uint32_t)(PG_EPOCH + t_us / 1000000));
	put_le32(p + 4, (uint32_t)(t_us % 1000000));
	put_le32(p + 8, (uint32_t)len);
	put_le32(p + 12, (uint32_t)len);
	o->used += 16 + len;
	o->packets++;
	o->bytes += len;
	return p + 16;
}

static int
out_open(struct out *o, const char *path)
{
	uint8_t hdr[24];

	memset(o, 0, sizeof *o);
	if ((o->f = fopen(path, "wb")) == NULL || (o->buf = malloc(PG_OUTBUF)) == NULL)
		return -1;
	put_le32(hdr, 0xa1b2c3d4u);             /* microsecond timestamps */
	put_le32(hdr + 4, 2 | (4u << 16));      /* version 2.4 */
	put_le32(hdr + 8, 0);
	put_le32(hdr + 12, 0);
	put_le32(hdr + 16, 65535);              /* snaplen */
	put_le32(hdr + 20, 1);                  /* LINKTYPE_ETHERNET */
	memcpy(o->buf, hdr, sizeof hdr);
	o->used = sizeof hdr;
	return 0;
}

static int
out_close(struct out *o)
{
	out_flush(o);
	if (fclose(o->f) != 0)
		o->err = 1;
	free(o->buf);
	return o->err ? -1 : 0;
}

/* ---- L2-L4: one connection, two ends; index 0 is the client ---- */

struct conn {
	uint32_t ip[2];
	uint16_t port[2];
	uint8_t mac[2][6];
	uint8_t ttl[2];
	uint8_t proto;
	uint16_t ipid[2];
	uint32_t seq[2];
};

static const uint8_t pg_gw_mac[6] = { 0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x01 };

static uint32_t
csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put_be16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { put_be16(p, v >> 16); put_be16(p + 2, v & 0xffff); }

/*
 * Ethernet + IPv4 (RFC 791, no options, DF set) for a frame of l4len bytes of
 * transport; returns the transport header's address and sum of the pseudo
 * header (RFC 793 3.1) for the caller's checksum.
 */
static uint8_t *
emit_l3(struct out *o, uint64_t t, struct conn *c, int dir, size_t l4len, uint32_t *pseudo)
{
	uint8_t *f = out_frame(o, t, 34 + l4len), *ip = f + 14;

	memcpy(f, c->mac[!dir], 6);
	memcpy(f + 6, c->mac[dir], 6);
	put_be16(f + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = 0;
	put_be16(ip + 2, (unsigned)(20 + l4len));
	put_be16(ip + 4, c->ipid[dir]++);
	put_be16(ip + 6, c->proto == 6 ? 0x4000 : 0);
	ip[8] = c->ttl[dir];
	ip[9] = c->proto;
	put_be16(ip + 10, 0);
	put_be32(ip + 12, c->ip[dir]);
	put_be32(ip + 16, c->ip[!dir]);
	put_be16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	*pseudo = csum_add(0, ip + 12, 8) + c->proto + (uint32_t)l4len;
	return ip + 20;
}

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_PSH 0x08
#define TH_ACK 0x10

/* One TCP segment; sequence numbers advance as the data and SYN/FIN consume them. */
static void
emit_tcp(struct out *o, uint64_t t, struct conn *c, int dir, unsigned flags,
    const uint8_t *data, size_t len)
{
	/* SYN options: MSS 1460, NOP NOP SACK-permitted, NOP window scale 7. */
	static const uint8_t synopt[12] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7 };
	size_t hl = (flags & TH_SYN) ? 32 : 20;
	uint32_t pseudo;
	uint8_t *th = emit_l3(o, t, c, dir, hl + len, &pseudo);

	put_be16(th, c->port[dir]);
	put_be16(th + 2, c->port[!dir]);
	put_be32(th + 4, c->seq[dir]);
	put_be32(th + 8, (flags & TH_ACK) ? c->seq[!dir] : 0);
	th[12] = (uint8_t)((hl / 4) << 4);
	th[13] = (uint8_t)flags;
	put_be16(th + 14, dir ? 65160 : 64240);
	put_be32(th + 16, 0);
	if (hl > 20)
		memcpy(th + 20, synopt, sizeof synopt);
	if (len)
		memcpy(th + hl, data, len);
	put_be16(th + 16, csum_fold(csum_add(pseudo, th, hl + len)));
	c->seq[dir] += (uint32_t)len + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
}

static void
emit_udp(struct out *o, uint64_t t, struct conn *c, int dir, const uint8_t *data, size_t len)
{
	uint32_t pseudo;
	uint8_t *uh = emit_l3(o, t, c, dir, 8 + len, &pseudo);
	uint16_t sum;

	put_be16(uh, c->port[dir]);
	put_be16(uh + 2, c->port[!dir]);
	put_be16(uh + 4, (unsigned)(8 + len));
	put_be16(uh + 6, 0);
	memcpy(uh + 8, data, len);
	sum = csum_fold(csum_add(pseudo, uh, 8 + len));
	put_be16(uh + 6, sum ? sum : 0xffff);   /* RFC 768: 0 means "no checksum" */
}

/* ICMP echo (RFC 792) with a Linux ping payload: 8-byte timestamp, then 0x10.. */
static void
emit_icmp_echo(struct out *o, uint64_t t, struct conn *c, int dir, unsigned id, unsigned seq)
{
	uint32_t pseudo;
	uint8_t *ih = emit_l3(o, t, c, dir, 64, &pseudo);

	ih[0] = dir ? 0 : 8;
	ih[1] = 0;
	put_be16(ih + 2, 0);
	put_be16(ih + 4, id);
	put_be16(ih + 6, seq);
	put_be32(ih + 8, (uint32_t)(PG_EPOCH + t / 1000000));
	put_be32(ih + 12, (uint32_t)(t % 1000000));
	for (unsigned i = 16; i < 64; i++)
		ih[i] = (uint8_t)i;
	put_be16(ih + 2, csum_fold(csum_add(0, ih, 64)));
}

/* ---- application payloads ---- */

/* TLS ClientHello (RFC 8446 4.1.2) shaped like a current browser's. */
static void
build_client_hello(struct wbuf *w, struct rng *r, const char *sni, int tls13)
{
	static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f,
	    0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035 };
	static const uint16_t sigalgs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805,
	    0x0501, 0x0806, 0x0601 };
	size_t rec, hs, v, ext, e, e2;
	unsigned i;

	w_u8(w, 0x16);
	w_u16(w, 0x0301);
	rec = w_open(w, 2);
	w_u8(w, 1);
	hs = w_open(w, 3);
	w_u16(w, 0x0303);
	w_rand(w, r, 32);
	w_u8(w, 32);
	w_rand(w, r, 32);
	v = w_open(w, 2);
	for (i = tls13 ? 0 : 3; i < NELEM(suites); i++)
		w_u16(w, suites[i]);
	w_close(w, v, 2);
	w_u8(w, 1);
	w_u8(w, 0);
	ext = w_open(w, 2);
	w_u16(w, 0x0000);               /* server_name (RFC 6066 3) */
	e = w_open(w, 2);
	e2 = w_open(w, 2);
	w_u8(w, 0);
	w_u16(w, (unsigned)strlen(sni));
	w_str(w, sni);
	w_close(w, e2, 2);
	w_close(w, e, 2);
	w_u16(w, 0x0017); w_u16(w, 0);  /* extended_master_secret */
	w_u16(w, 0xff01); w_u16(w, 1); w_u8(w, 0);      /* renegotiation_info */
	w_u16(w, 0x000a); w_u16(w, 8); w_u16(w, 6);     /* supported_groups */
	w_u16(w, 0x001d); w_u16(w, 0x0017); w_u16(w, 0x0018);
	w_u16(w, 0x000b); w_u16(w, 2); w_u8(w, 1); w_u8(w, 0);  /* ec_point_formats */
	w_u16(w, 0x0023); w_u16(w, 0);  /* session_ticket */
	w_u16(w, 0x0010); w_u16(w, 14); w_u16(w, 12);   /* ALPN h2, http/1.1 */
	w_u8(w, 2); w_str(w, "h2"); w_u8(w, 8); w_str(w, "http/1.1");
	w_u16(w, 0x0005); w_u16(w, 5); w_u8(w, 1); w_u16(w, 0); w_u16(w, 0);
	w_u16(w, 0x000d);               /* signature_algorithms */
	w_u16(w, 2 + 2 * NELEM(sigalgs));
	w_u16(w, 2 * NELEM(sigalgs));
	for (i = 0; i < NELEM(sigalgs); i++)
		w_u16(w, sigalgs[i]);
	w_u16(w, 0x0012); w_u16(w, 0);  /* signed_certificate_timestamp */
	if (tls13) {
		w_u16(w, 0x0033); w_u16(w, 38); w_u16(w, 36);   /* key_share x25519 */
		w_u16(w, 0x001d); w_u16(w, 32); w_rand(w, r, 32);
		w_u16(w, 0x002d); w_u16(w, 2); w_u8(w, 1); w_u8(w, 1);
		w_u16(w, 0x002b); w_u16(w, 5); w_u8(w, 4);      /* supported_versions */
		w_u16(w, 0x0304); w_u16(w, 0x0303);
		/* padding (RFC 7685) to a 512-byte handshake, as Chrome does */
		if (w->len - hs < 508 - 4) {
			size_t pad = 508 - 4 - (w->len - hs);
			w_u16(w, 0x0015);
			w_u16(w, (unsigned)pad);
			while (pad--)
				w_u8(w, 0);
		}
	}
	w_close(w, ext, 2);
	w_close(w, hs, 3);
	w_close(w, rec, 2);
}

/* TLS 1.3 ServerHello + ChangeCipherSpec (RFC 8446 D.4); no encrypted flight. */
static void
build_server_hello13(struct wbuf *w, struct rng *r)
{
	size_t rec = 0, hs, ext;

	w_u8(w, 0x16);
	w_u16(w, 0x0303);
	rec = w_open(w, 2);
	w_u8(w, 2);
	hs = w_open(w, 3);
	w_u16(w, 0x0303);
	w_rand(w, r, 32);
	w_u8(w, 32);
	w_rand(w, r, 32);
	w_u16(w, 0x1301);
	w_u8(w, 0);
	ext = w_open(w, 2);
	w_u16(w, 0x002b); w_u16(w, 2); w_u16(w, 0x0304);
	w_u16(w, 0x0033); w_u16(w, 36); w_u16(w, 0x001d); w_u16(w, 32); w_rand(w, r, 32);
	w_close(w, ext, 2);
	w_close(w, hs, 3);
	w_close(w, rec, 2);
	w_u8(w, 0x14); w_u16(w, 0x0303); w_u16(w, 1); w_u8(w, 1);
}

static void
der_name(struct wbuf *w, const char *country, const char *org, const char *cn)
{
	static const uint8_t oid_c[] = { 0x55, 0x04, 0x06 }, oid_o[] = { 0x55, 0x04, 0x0a },
	    oid_cn[] = { 0x55, 0x04, 0x03 };
	const uint8_t *oids[3] = { oid_c, oid_o, oid_cn };
	const char *vals[3] = { country, org, cn };
	size_t name = w->len;

	for (int i = 0; i < 3; i++) {
		size_t set = w->len, seq = w->len, at;
		at = w->len; w_bytes(w, oids[i], 3); der_wrap(w, at, 0x06);
		at = w->len; w_str(w, vals[i]); der_wrap(w, at, i == 0 ? 0x13 : 0x0c);
		der_wrap(w, seq, 0x30);
		der_wrap(w, set, 0x31);
	}
	der_wrap(w, name, 0x30);
}

/* An X.509 v3 leaf (RFC 5280 4.1) for 'host': real structure, random key and signature. */
static void
der_certificate(struct wbuf *w, struct rng *r, const char *host)
{
	static const uint8_t sha256rsa[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	    0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00 };
	static const uint8_t rsa[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
	    0x01, 0x01, 0x01, 0x05, 0x00 };
	static const char *const ca[][2] = { { "Let's Encrypt", "R3" },
	    { "Google Trust Services LLC", "GTS CA 1C3" }, { "DigiCert Inc", "DigiCert TLS RSA SHA256 2020 CA1" } };
	const char *dot = strchr(host, '.');
	unsigned which = (unsigned)(hash_bytes(host, strlen(host), 0) % 3);
	size_t cert = w->len, tbs = w->len, at, exts, san;

	w_bytes(w, (const uint8_t[]){ 0xa0, 0x03, 0x02, 0x01, 0x02 }, 5);       /* v3 */
	at = w->len; w_u8(w, 0x04); w_rand(w, r, 15); der_wrap(w, at, 0x02);
	at = w->len; w_bytes(w, sha256rsa, sizeof sha256rsa); der_wrap(w, at, 0x30);
	der_name(w, "US", ca[which][0], ca[which][1]);
	at = w->len;    /* nDPI finds validity by its exact 30 1e 17 0d shape */
	w_u8(w, 0x17); w_u8(w, 13); w_str(w, "240101000000Z");
	w_u8(w, 0x17); w_u8(w, 13); w_str(w, "241201000000Z");  /* < 398 days (CA/B BR) */
	der_wrap(w, at, 0x30);
	der_name(w, "US", "Outflow Benchmark", host);
	at = w->len;
	{
		size_t alg = w->len, bits;
		w_bytes(w, rsa, sizeof rsa); der_wrap(w, alg, 0x30);
		bits = w->len; w_u8(w, 0); w_rand(w, r, 270); der_wrap(w, bits, 0x03);
	}
	der_wrap(w, at, 0x30);
	exts = w->len;
	san = w->len;
	at = w->len; w_bytes(w, (const uint8_t[]){ 0x55, 0x1d, 0x11 }, 3); der_wrap(w, at, 0x06);
	{
		size_t oct = w->len, names = w->len, n;
		n = w->len; w_str(w, host); der_wrap(w, n, 0x82);
		if (dot != NULL && strchr(dot + 1, '.') != NULL) {
			n = w->len; w_u8(w, '*'); w_str(w, dot); der_wrap(w, n, 0x82);
		}
		der_wrap(w, names, 0x30);
		der_wrap(w, oct, 0x04);
	}
	der_wrap(w, san, 0x30);
	der_wrap(w, exts, 0x30);
	der_wrap(w, exts, 0xa3);
	der_wrap(w, tbs, 0x30);
	at = w->len; w_bytes(w, sha256rsa, sizeof sha256rsa); der_wrap(w, at, 0x30);
	at = w->len; w_u8(w, 0); w_rand(w, r, 256); der_wrap(w, at, 0x03);
	der_wrap(w, cert, 0x30);
}

/* TLS 1.2 server flight: ServerHello, Certificate, ServerKeyExchange, ServerHelloDone. */
static void
build_server_flight12(struct wbuf *w, struct rng *r, const char *host)
{
	size_t rec, hs, ext, certs, one;

	w_u8(w, 0x16); w_u16(w, 0x0303); rec = w_open(w, 2);
	w_u8(w, 2); hs = w_open(w, 3);
	w_u16(w, 0x0303); w_rand(w, r, 32); w_u8(w, 32); w_rand(w, r, 32);
	w_u16(w, 0xc02f); w_u8(w, 0);
	ext = w_open(w, 2);
	w_u16(w, 0xff01); w_u16(w, 1); w_u8(w, 0);
	w_u16(w, 0x000b); w_u16(w, 2); w_u8(w, 1); w_u8(w, 0);
	w_u16(w, 0x0017); w_u16(w, 0);
	w_close(w, ext, 2);
	w_close(w, hs, 3);
	w_close(w, rec, 2);

	w_u8(w, 0x16); w_u16(w, 0x0303); rec = w_open(w, 2);
	w_u8(w, 0x0b); hs = w_open(w, 3);
	certs = w_open(w, 3);
	one = w_open(w, 3); der_certificate(w, r, host); w_close(w, one, 3);
	one = w_open(w, 3);     /* the intermediate: nDPI reads only the leaf */
	{
		size_t ca = w->len;
		w_rand(w, r, 1000);
		der_wrap(w, ca, 0x30);
	}
	w_close(w, one, 3);
	w_close(w, certs, 3);
	w_close(w, hs, 3);
	w_close(w, rec, 2);

	w_u8(w, 0x16); w_u16(w, 0x0303); rec = w_open(w, 2);
	w_u8(w, 0x0c); hs = w_open(w, 3);
	w_u8(w, 3); w_u16(w, 0x001d); w_u8(w, 32); w_rand(w, r, 32);
	w_u16(w, 0x0401); w_u16(w, 256); w_rand(w, r, 256);
	w_close(w, hs, 3);
	w_u8(w, 0x0e); w_u24(w, 0);
	w_close(w, rec, 2);
}

/* TLS 1.2 ClientKeyExchange + ChangeCipherSpec + encrypted Finished. */
static void
build_client_finish12(struct wbuf *w, struct rng *r)
{
	w_u8(w, 0x16); w_u16(w, 0x0303); w_u16(w, 37);
	w_u8(w, 0x10); w_u24(w, 33); w_u8(w, 32); w_rand(w, r, 32);
	w_u8(w, 0x14); w_u16(w, 0x0303); w_u16(w, 1); w_u8(w, 1);
	w_u8(w, 0x16); w_u16(w, 0x0303); w_u16(w, 40); w_rand(w, r, 40);
}

/* DNS (RFC 1035 4.1): one question; the answer echoes it and points back to it (c0 0c). */
static void
build_dns(struct wbuf *w, unsigned id, const char *name, unsigned qtype, int answer,
    uint32_t addr, struct rng *r)
{
	const char *p = name;

	w_u16(w, id);
	w_u16(w, answer == 0 ? 0x0100 : answer < 0 ? 0x8183 : 0x8180);
	w_u16(w, 1);
	w_u16(w, answer > 0 ? 1 : 0);
	w_u16(w, 0);
	w_u16(w, 0);
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		w_u8(w, (unsigned)n);
		w_bytes(w, p, n);
		p += n + (dot ? 1 : 0);
	}
	w_u8(w, 0);
	w_u16(w, qtype);
	w_u16(w, 1);
	if (answer > 0) {
		w_u16(w, 0xc00c);
		w_u16(w, qtype);
		w_u16(w, 1);
		w_u16(w, 0);
		w_u16(w, rng_range(r, 30, 3600));
		if (qtype == 28) {
			w_u16(w, 16);
			w_u16(w, 0x2001); w_u16(w, 0x0db8);     /* RFC 3849 documentation prefix */
			w_rand(w, r, 12);
		} else {
			w_u16(w, 4);
			w_u16(w, addr >> 16);
			w_u16(w, addr & 0xffff);
		}
	}
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

static void
usage(void)
{
	fprintf(stderr, "usage: pcapgen mixed -o FILE [-p PACKETS] [-s SEED]\n"
	    "       pcapgen flows -o FILE [-n FLOWS] [-s SEED]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct gen g;
	const char *path = NULL, *mode;
	uint64_t packets = 1500000, flows = 1000000, seed = 1;
	int ch, rc;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "o:p:n:s:")) != -1) {
		switch (ch) {
		case 'o': path = optarg; break;
		case 'p': packets = strtoull(optarg, NULL, 10); break;
		case 'n': flows = strtoull(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (path == NULL || (strcmp(mode, "mixed") != 0 && strcmp(mode, "flows") != 0))
		usage();
	g.r.s = hash_mix64(seed);
	for (uint32_t h = 0; h < PG_HOSTS; h++)
		g.next_port[h] = (uint16_t)(32768 + rng_below(&g.r, 28000));
	if (out_open(&g.o, path) != 0) {
		fprintf(stderr, "pcapgen: %s: %s\n", path, strerror(errno));
		return 1;
	}
	rc = strcmp(mode, "mixed") == 0 ? gen_mixed(&g, packets) : gen_flows(&g, flows);
	if (out_close(&g.o) != 0 || rc != 0) {
		fprintf(stderr, "pcapgen: %s: write failed\n", path);
		return 1;
	}
	fprintf(stderr, "pcapgen: %s: %llu packets, %llu bytes on the wire, %llu flows\n", path,
	    (unsigned long long)g.o.packets, (unsigned long long)g.o.bytes,
	    (unsigned long long)g.flows);
	return 0;
}
