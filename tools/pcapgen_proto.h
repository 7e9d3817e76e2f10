/*
 * pcapgen_proto.h - the wire formats pcapgen writes, header-only so that
 * tools/pcapgen.c stays a single-file build (make build/tools/pcapgen).
 *
 * pcapgen.c decides what traffic to make (sessions, timing, addresses);
 * this file knows how bytes look on the wire:
 *   - a seeded splitmix64 stream (every byte pcapgen writes comes from it),
 *   - a bounds-checked writer with length-prefixed blocks and DER TLVs,
 *   - pcap 2.4 records into one big output buffer (no libpcap dumper: it
 *     would cost a call and a copy per packet),
 *   - Ethernet + IPv4 + TCP/UDP/ICMP with correct lengths and checksums,
 *   - TLS ClientHello/ServerHello/1.2 server flight with an X.509 leaf,
 *     DNS queries and answers.
 * Nothing here reads a clock or leaves a byte uninitialised, so the same
 * seed gives a byte-identical capture.
 */
#ifndef OUTFLOW_TOOLS_PCAPGEN_PROTO_H
#define OUTFLOW_TOOLS_PCAPGEN_PROTO_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define PG_OUTBUF       (4u << 20)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- randomness: splitmix64, the same mixer the sensor's tables use ---- */

struct rng {
	uint64_t s;
};

static inline uint64_t
rng_next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return hash_mix64(r->s);
}

/* Uniform in [0, n) without division: Lemire's multiply-shift. */
static inline uint32_t
rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline uint32_t
rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static inline void
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

static inline void
w_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static inline void w_u8(struct wbuf *w, unsigned v) { uint8_t b = (uint8_t)v; w_bytes(w, &b, 1); }
static inline void w_u16(struct wbuf *w, unsigned v) { w_u8(w, v >> 8); w_u8(w, v); }
static inline void w_u24(struct wbuf *w, unsigned v) { w_u8(w, v >> 16); w_u16(w, v & 0xffff); }
static inline void w_str(struct wbuf *w, const char *s) { w_bytes(w, s, strlen(s)); }

static inline void
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
static inline size_t
w_open(struct wbuf *w, unsigned size)
{
	size_t at = w->len;

	while (size--)
		w_u8(w, 0);
	return at;
}

static inline void
w_close(struct wbuf *w, size_t at, unsigned size)
{
	size_t n = w->len - at - size;

	if (w->err)
		return;
	for (unsigned i = 0; i < size; i++)
		w->p[at + i] = (uint8_t)(n >> (8 * (size - 1 - i)));
}

/* DER: wrap bytes [start, len) in a TLV with minimal-length encoding (X.690 8.1.3). */
static inline void
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

/* ---- output: pcap 2.4 records straight into a big buffer ---- */

struct out {
	FILE *f;
	uint8_t *buf;
	size_t used;
	uint64_t base_us;       /* epoch time of t = 0, microseconds */
	uint64_t packets, bytes;
	int err;
};

static inline void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
out_flush(struct out *o)
{
	if (o->used && fwrite(o->buf, 1, o->used, o->f) != o->used)
		o->err = 1;
	o->used = 0;
}

/* Room for one record of 'len' bytes at time t_us; returns where the frame goes. */
static inline uint8_t *
out_frame(struct out *o, uint64_t t_us, size_t len)
{
	uint8_t *p;

	if (PG_OUTBUF - o->used < 16 + len)
		out_flush(o);
	p = o->buf + o->used;
	put_le32(p, (uint32_t)((o->base_us + t_us) / 1000000));
	put_le32(p + 4, (uint32_t)((o->base_us + t_us) % 1000000));
	put_le32(p + 8, (uint32_t)len);
	put_le32(p + 12, (uint32_t)len);
	o->used += 16 + len;
	o->packets++;
	o->bytes += len;
	return p + 16;
}

/* Creates path; packet times are offsets from base_us (epoch microseconds). */
static inline int
out_open(struct out *o, const char *path, uint64_t base_us)
{
	uint8_t hdr[24];

	memset(o, 0, sizeof *o);
	o->base_us = base_us;
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

static inline int
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

static inline uint32_t
csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static inline uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void put_be16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v) { put_be16(p, v >> 16); put_be16(p + 2, v & 0xffff); }

/*
 * Ethernet + IPv4 (RFC 791, no options, DF set) for a frame of l4len bytes of
 * transport; returns the transport header's address and sum of the pseudo
 * header (RFC 793 3.1) for the caller's checksum.
 */
static inline uint8_t *
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
static inline void
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

static inline void
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
static inline void
emit_icmp_echo(struct out *o, uint64_t t, struct conn *c, int dir, unsigned id, unsigned seq)
{
	uint32_t pseudo;
	uint8_t *ih = emit_l3(o, t, c, dir, 64, &pseudo);

	ih[0] = dir ? 0 : 8;
	ih[1] = 0;
	put_be16(ih + 2, 0);
	put_be16(ih + 4, id);
	put_be16(ih + 6, seq);
	put_be32(ih + 8, (uint32_t)((o->base_us + t) / 1000000));
	put_be32(ih + 12, (uint32_t)((o->base_us + t) % 1000000));
	for (unsigned i = 16; i < 64; i++)
		ih[i] = (uint8_t)i;
	put_be16(ih + 2, csum_fold(csum_add(0, ih, 64)));
}

/* ---- application payloads ---- */

/* TLS ClientHello (RFC 8446 4.1.2) shaped like a current browser's. */
static inline void
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
static inline void
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

static inline void
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
static inline void
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
static inline void
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
static inline void
build_client_finish12(struct wbuf *w, struct rng *r)
{
	w_u8(w, 0x16); w_u16(w, 0x0303); w_u16(w, 37);
	w_u8(w, 0x10); w_u24(w, 33); w_u8(w, 32); w_rand(w, r, 32);
	w_u8(w, 0x14); w_u16(w, 0x0303); w_u16(w, 1); w_u8(w, 1);
	w_u8(w, 0x16); w_u16(w, 0x0303); w_u16(w, 40); w_rand(w, r, 40);
}

/* DNS (RFC 1035 4.1): one question; the answer echoes it and points back to it (c0 0c). */
static inline void
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
#endif
