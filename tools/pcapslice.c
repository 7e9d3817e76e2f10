/*
 * pcapslice - shrink a capture without changing what it measures.
 *
 * The sample captures in pcaps/ hold bulk transfers of tens of megabytes;
 * committing them whole is not possible.  This tool keeps the first K
 * packets that carry payload of every TCP/UDP flow whole, so a DPI engine
 * still sees the TLS ClientHello (SNI), the SMB negotiate, the SSH banners
 * and the DNS messages, and cuts the *captured* length of every later
 * packet to SNAP bytes.  The wire length (pcap_pkthdr.len) is never
 * changed, and SNAP must cover the headers, so per-host and per-flow
 * volumes computed from wire lengths or from the IP total length are
 * exactly those of the original capture.
 *
 *   usage: pcapslice [-k K] [-s SNAP] in.pcap out.pcap
 *
 * Packets that are not TCP/UDP over IPv4/IPv6 (ARP, ICMP, fragments after
 * the first) are copied whole.  A flow is the unordered pair of endpoints
 * plus the protocol; a TCP SYN without ACK starts it afresh, so a reused
 * port pair gets its handshake kept again.  Link type: Ethernet (DLT
 * EN10MB) with any number of 802.1Q/802.1ad tags; other link types are
 * copied unchanged.  Standalone on purpose: libpcap only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "pcapio.h"

#define SLICE_DEFAULT_K    12
#define SLICE_DEFAULT_SNAP 128
#define SLICE_MIN_SNAP     64  /* Ethernet + IPv4 + TCP without options */

#define ETHERTYPE_IPV4  0x0800
#define ETHERTYPE_IPV6  0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHERTYPE_8021AD 0x88a8
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

/*
 * Bounds-checked reader over the captured bytes of one packet.  Any read
 * past the end sets err and returns 0, so a truncated packet simply stops
 * being decoded (it is then copied whole).
 */
struct cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err;
};

static void cur_skip(struct cursor *c, size_t n)
{
	if (c->err || c->len - c->off < n) {
		c->err = 1;
		return;
	}
	c->off += n;
}

static uint8_t cur_u8(struct cursor *c)
{
	if (c->err || c->len - c->off < 1) {
		c->err = 1;
		return 0;
	}
	return c->p[c->off++];
}

static uint16_t cur_be16(struct cursor *c)
{
	uint16_t hi = cur_u8(c);

	return (uint16_t)(hi << 8 | cur_u8(c));
}

static void cur_copy(struct cursor *c, uint8_t *dst, size_t n)
{
	if (c->err || c->len - c->off < n) {
		c->err = 1;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, c->p + c->off, n);
	c->off += n;
}

/* One endpoint pair, normalised so that both directions give the same key. */
struct flow_key {
	uint8_t a[16], b[16]; /* addresses, IPv4 in the first 4 bytes */
	uint16_t pa, pb;      /* ports belonging to a and b */
	uint8_t proto;
	uint8_t ipver;
};

struct flow_slot {
	struct flow_key key;
	uint32_t payload_pkts; /* payload-carrying packets seen so far */
	uint8_t used;
};

struct flow_table {
	struct flow_slot *slots;
	size_t cap;  /* power of two */
	size_t used;
};

/* What the decoder found in one packet. */
struct pkt_info {
	int is_l4;          /* TCP or UDP with a complete header */
	struct flow_key key;
	size_t hdr_end;     /* captured offset where L4 payload starts */
	size_t payload_len; /* L4 payload length according to the IP header */
	int tcp_syn_only;
};

static uint64_t fnv1a(const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int flow_table_init(struct flow_table *t, size_t cap)
{
	t->slots = calloc(cap, sizeof(*t->slots));
	t->cap = cap;
	t->used = 0;
	return t->slots ? 0 : -1;
}

static struct flow_slot *flow_table_find(struct flow_table *t,
    const struct flow_key *k)
{
	size_t i = (size_t)fnv1a(k, sizeof(*k)) & (t->cap - 1);

	while (t->slots[i].used && memcmp(&t->slots[i].key, k, sizeof(*k)) != 0)
		i = (i + 1) & (t->cap - 1);
	return &t->slots[i];
}

/* Doubles the table; returns 0 or -1 when out of memory (table unchanged). */
static int flow_table_grow(struct flow_table *t)
{
	struct flow_table nt;
	size_t i;

	if (flow_table_init(&nt, t->cap * 2) < 0)
		return -1;
	for (i = 0; i < t->cap; i++) {
		if (t->slots[i].used)
			*flow_table_find(&nt, &t->slots[i].key) = t->slots[i];
	}
	nt.used = t->used;
	free(t->slots);
	*t = nt;
	return 0;
}

/* Returns the slot of k, inserting it if new; NULL when out of memory. */
static struct flow_slot *flow_table_get(struct flow_table *t,
    const struct flow_key *k)
{
	struct flow_slot *s;

	if ((t->used + 1) * 2 > t->cap && flow_table_grow(t) < 0)
		return NULL;
	s = flow_table_find(t, k);
	if (!s->used) {
		memset(s, 0, sizeof(*s));
		s->key = *k;
		s->used = 1;
		t->used++;
	}
	return s;
}

/* Orders the two endpoints so that A->B and B->A give one key. */
static void key_normalise(struct flow_key *k)
{
	int c = memcmp(k->a, k->b, sizeof(k->a));
	uint8_t tmp[16];
	uint16_t tp;

	if (c < 0 || (c == 0 && k->pa <= k->pb))
		return;
	memcpy(tmp, k->a, sizeof(tmp));
	memcpy(k->a, k->b, sizeof(tmp));
	memcpy(k->b, tmp, sizeof(tmp));
	tp = k->pa;
	k->pa = k->pb;
	k->pb = tp;
}

/*
 * TCP header (RFC 9293 3.1) / UDP header (RFC 768):
 *   0      2      4          8          12   13     20
 *   | sport | dport | seq     | ack      |off |flags ...   TCP
 *   | sport | dport | length  | checksum |                 UDP
 */
static void decode_l4(struct cursor *c, uint8_t proto, size_t l4_len,
    struct pkt_info *pi)
{
	size_t start = c->off, hlen;
	uint8_t off_byte, flags;

	pi->key.proto = proto;
	pi->key.pa = cur_be16(c);
	pi->key.pb = cur_be16(c);
	if (proto == IPPROTO_TCP_) {
		cur_skip(c, 8);
		off_byte = cur_u8(c);
		flags = cur_u8(c);
		hlen = (size_t)(off_byte >> 4) * 4;
		if (c->err || hlen < 20 || hlen > l4_len)
			return;
		cur_skip(c, hlen - 14);
		pi->tcp_syn_only = (flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
	} else {
		hlen = 8;
		cur_skip(c, 4);
		if (l4_len < hlen)
			return;
	}
	if (c->err)
		return;
	pi->hdr_end = start + hlen;
	pi->payload_len = l4_len - hlen;
	pi->is_l4 = 1;
}

/*
 * IPv4 header (RFC 791): version/IHL, TOS, total length, id,
 * flags/fragment offset, TTL, protocol, checksum, source, destination.
 */
static void decode_ipv4(struct cursor *c, struct pkt_info *pi)
{
	uint8_t vihl, proto;
	uint16_t total, frag;
	size_t ihl;

	vihl = cur_u8(c);
	cur_skip(c, 1);
	total = cur_be16(c);
	cur_skip(c, 2);
	frag = cur_be16(c);
	cur_skip(c, 1);
	proto = cur_u8(c);
	cur_skip(c, 2);
	cur_copy(c, pi->key.a, 4);
	cur_copy(c, pi->key.b, 4);
	ihl = (size_t)(vihl & 0x0f) * 4;
	if (c->err || (vihl >> 4) != 4 || ihl < 20 || total < ihl)
		return;
	if ((frag & 0x1fff) != 0 || (frag & 0x2000) != 0)
		return; /* a fragment: its L4 header is not all here */
	if (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_)
		return;
	cur_skip(c, ihl - 20);
	pi->key.ipver = 4;
	decode_l4(c, proto, (size_t)total - ihl, pi);
}

/*
 * IPv6 header (RFC 8200): version/class/label (4), payload length (2),
 * next header (1), hop limit (1), source (16), destination (16).
 * Extension headers are not walked: such packets are copied whole.
 */
static void decode_ipv6(struct cursor *c, struct pkt_info *pi)
{
	uint8_t v, nxt;
	uint16_t plen;

	v = cur_u8(c);
	cur_skip(c, 3);
	plen = cur_be16(c);
	nxt = cur_u8(c);
	cur_skip(c, 1);
	cur_copy(c, pi->key.a, 16);
	cur_copy(c, pi->key.b, 16);
	if (c->err || (v >> 4) != 6)
		return;
	if (nxt != IPPROTO_TCP_ && nxt != IPPROTO_UDP_)
		return;
	pi->key.ipver = 6;
	decode_l4(c, nxt, plen, pi);
}

/*
 * Ethernet II (IEEE 802.3): dst(6) src(6) type(2), optionally preceded
 * by 802.1Q / 802.1ad tags: TPID(2) TCI(2).
 */
static void decode_ether(const uint8_t *p, size_t caplen, struct pkt_info *pi)
{
	struct cursor c = { p, caplen, 0, 0 };
	uint16_t type;
	int tags = 0;

	memset(pi, 0, sizeof(*pi));
	cur_skip(&c, 12);
	type = cur_be16(&c);
	while ((type == ETHERTYPE_8021Q || type == ETHERTYPE_8021AD) && tags++ < 4) {
		cur_skip(&c, 2);
		type = cur_be16(&c);
	}
	if (c.err)
		return;
	if (type == ETHERTYPE_IPV4)
		decode_ipv4(&c, pi);
	else if (type == ETHERTYPE_IPV6)
		decode_ipv6(&c, pi);
	if (pi->is_l4)
		key_normalise(&pi->key);
}

struct slice_opts {
	unsigned long keep;  /* payload packets kept whole per flow */
	unsigned long snap;  /* captured bytes kept of later packets */
	const char *in_path;
	const char *out_path;
};

struct slice_stats {
	unsigned long pkts, cut;
	unsigned long long wire, cap_in, cap_out;
};

/* Decides the captured length to write for one packet. */
static bpf_u_int32 slice_caplen(struct flow_table *t, const struct slice_opts *o,
    const struct pcap_pkthdr *h, const u_char *bytes, int ether)
{
	struct pkt_info pi;
	struct flow_slot *s;
	size_t keep;

	if (!ether)
		return h->caplen;
	decode_ether(bytes, h->caplen, &pi);
	if (!pi.is_l4)
		return h->caplen;
	s = flow_table_get(t, &pi.key);
	if (s == NULL)
		return h->caplen; /* out of memory: never lose bytes that matter */
	if (pi.tcp_syn_only)
		s->payload_pkts = 0;
	if (pi.payload_len == 0 || s->payload_pkts++ < o->keep)
		return h->caplen;
	keep = o->snap > pi.hdr_end ? o->snap : pi.hdr_end; /* headers always kept */
	return keep < h->caplen ? (bpf_u_int32)keep : h->caplen;
}

static int slice(pcap_t *in, pcap_dumper_t *out, const struct slice_opts *o,
    struct slice_stats *st)
{
	struct flow_table t;
	struct pcap_pkthdr *h, nh;
	const u_char *bytes;
	int ether = pcap_datalink(in) == DLT_EN10MB;
	int rc;

	if (!ether)
		fprintf(stderr, "pcapslice: link type %s is not Ethernet: copying whole\n",
		    pcap_datalink_val_to_name(pcap_datalink(in)));
	if (flow_table_init(&t, 1024) < 0) {
		fprintf(stderr, "pcapslice: out of memory\n");
		return -1;
	}
	while ((rc = pcap_next_ex(in, &h, &bytes)) == 1) {
		nh = *h;
		nh.caplen = slice_caplen(&t, o, h, bytes, ether);
		st->pkts++;
		st->wire += h->len;
		st->cap_in += h->caplen;
		st->cap_out += nh.caplen;
		if (nh.caplen < h->caplen)
			st->cut++;
		pcap_dump((u_char *)out, &nh, bytes);
	}
	free(t.slots);
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "pcapslice: %s: %s\n", o->in_path, pcap_geterr(in));
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
	    "usage: pcapslice [-k K] [-s SNAP] in.pcap out.pcap\n"
	    "  -k K     keep the first K payload packets of every TCP/UDP flow whole\n"
	    "           (default %d)\n"
	    "  -s SNAP  cut later packets' captured length to SNAP bytes, never\n"
	    "           below the end of their L4 header (default %d, minimum %d);\n"
	    "           wire lengths are kept\n",
	    SLICE_DEFAULT_K, SLICE_DEFAULT_SNAP, SLICE_MIN_SNAP);
}

static int parse_ulong(const char *s, unsigned long *out)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct slice_opts *o)
{
	int ch;

	o->keep = SLICE_DEFAULT_K;
	o->snap = SLICE_DEFAULT_SNAP;
	while ((ch = getopt(argc, argv, "k:s:h")) != -1) {
		switch (ch) {
		case 'k':
			if (parse_ulong(optarg, &o->keep) < 0)
				return -1;
			break;
		case 's':
			if (parse_ulong(optarg, &o->snap) < 0 || o->snap < SLICE_MIN_SNAP ||
			    o->snap > 0x7fffffffUL)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (argc - optind != 2)
		return -1;
	o->in_path = argv[optind];
	o->out_path = argv[optind + 1];
	return 0;
}

int main(int argc, char **argv)
{
	struct slice_opts o;
	struct slice_stats st;
	struct pcapio io;
	int rc;

	if (parse_args(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	if (pcapio_open(&io, "pcapslice", o.in_path, o.out_path) != 0)
		return 1;
	memset(&st, 0, sizeof(st));
	rc = slice(io.in, io.out, &o, &st);
	if (pcapio_close(&io, "pcapslice", o.out_path) != 0)
		rc = -1;
	if (rc < 0)
		return 1;
	fprintf(stderr, "pcapslice: %lu packets (%lu cut), wire %llu bytes, "
	    "captured %llu -> %llu bytes\n", st.pkts, st.cut, st.wire, st.cap_in,
	    st.cap_out);
	return 0;
}
