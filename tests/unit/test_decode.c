/*
 * test_decode - the packet decoder against hand-built frames.
 *
 * Frames are assembled byte by byte (struct pb and its put helpers), so each
 * test shows exactly which header field it lies in. Lengths (IP total length,
 * IPv6 payload length, UDP length) are patched in by pb_finish() from what
 * was appended, unless a test overwrites them afterwards on purpose.
 * The fuzz-ish tests cut and flip valid frames and check that the decoder
 * never reads outside the captured bytes: run this under ASan/UBSan, with
 * each frame copied into an exact-size heap buffer so over-reads are seen.
 */
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <stdlib.h>

#include "t.h"
#include "decode.h"

/* A packet being built: bytes, plus where the length fields to patch are. */
struct pb {
	uint8_t b[2048];
	size_t n;
	size_t ip;		/* offset of the IP header */
	int ipv;		/* 4 or 6, 0 if none yet */
	size_t udp;		/* offset of the UDP header, 0 if none */
};

static void
put8(struct pb *b, unsigned v)
{
	b->b[b->n++] = (uint8_t)v;
}

static void
put16(struct pb *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}

static void
put32(struct pb *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b, v & 0xffff);
}

static void
putfill(struct pb *b, size_t n, unsigned v)
{
	for (; n > 0; n--)
		put8(b, v);
}

static void
set16(struct pb *b, size_t off, unsigned v)
{
	b->b[off] = (uint8_t)(v >> 8);
	b->b[off + 1] = (uint8_t)v;
}

static void
pb_init(struct pb *b)
{
	memset(b, 0, sizeof *b);
}

/* Ethernet II: two MACs, then ntags (tpid, vid) tags, then the type. */
static void
put_eth(struct pb *b, unsigned type, int ntags, const unsigned *tpid,
    const unsigned *vid)
{
	static const uint8_t mac[12] = { 0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10 };

	memcpy(b->b + b->n, mac, 12);
	b->n += 12;
	for (int i = 0; i < ntags; i++) {
		put16(b, tpid[i]);
		put16(b, vid[i]);
	}
	put16(b, type);
}

static void
put_ip4(struct pb *b, uint8_t proto, uint16_t fragfield, int optwords)
{
	b->ip = b->n;
	b->ipv = 4;
	put8(b, 0x45 + optwords);
	put8(b, 0);
	put16(b, 0);			/* total length: pb_finish() */
	put16(b, 0x1234);		/* id */
	put16(b, fragfield);
	put8(b, 64);
	put8(b, proto);
	put16(b, 0);
	put32(b, 0x0a000001);		/* 10.0.0.1 */
	put32(b, 0xc0a80102);		/* 192.168.1.2 */
	putfill(b, (size_t)optwords * 4, 1);	/* NOPs */
}

static void
put_ip6(struct pb *b, uint8_t nh)
{
	b->ip = b->n;
	b->ipv = 6;
	put32(b, 0x60000000);
	put16(b, 0);			/* payload length: pb_finish() */
	put8(b, nh);
	put8(b, 64);
	put32(b, 0x20010db8);		/* 2001:db8::1 */
	put32(b, 0);
	put32(b, 0);
	put32(b, 1);
	put32(b, 0x20010db8);		/* 2001:db8::2 */
	put32(b, 0);
	put32(b, 0);
	put32(b, 2);
}

/* A generic extension header of (len8 + 1) * 8 bytes. */
static void
put_ext(struct pb *b, uint8_t nh, unsigned len8)
{
	put8(b, nh);
	put8(b, len8);
	putfill(b, (len8 + 1) * 8 - 2, 0);
}

static void
put_frag6(struct pb *b, uint8_t nh, unsigned offset, int more, uint32_t id)
{
	put8(b, nh);
	put8(b, 0);
	put16(b, (offset & 0xfff8) | (more ? 1 : 0));
	put32(b, id);
}

static void
put_tcp(struct pb *b, unsigned sport, unsigned dport, unsigned flags, int optwords)
{
	put16(b, sport);
	put16(b, dport);
	put32(b, 1000);
	put32(b, 2000);
	put8(b, (unsigned)(5 + optwords) << 4);
	put8(b, flags);
	put16(b, 65535);
	put16(b, 0);
	put16(b, 0);
	putfill(b, (size_t)optwords * 4, 1);
}

static void
put_udp(struct pb *b, unsigned sport, unsigned dport)
{
	b->udp = b->n;
	put16(b, sport);
	put16(b, dport);
	put16(b, 0);			/* length: pb_finish() */
	put16(b, 0);
}

static void
put_icmp(struct pb *b, unsigned type, unsigned code)
{
	put8(b, type);
	put8(b, code);
	put16(b, 0);
	put16(b, 0x4242);		/* id */
	put16(b, 1);			/* seq */
}

/* Patches the IP and UDP length fields to cover everything appended. */
static void
pb_finish(struct pb *b)
{
	if (b->ipv == 4)
		set16(b, b->ip + 2, (unsigned)(b->n - b->ip));
	else if (b->ipv == 6)
		set16(b, b->ip + 4, (unsigned)(b->n - b->ip - 40));
	if (b->udp)
		set16(b, b->udp + 4, (unsigned)(b->n - b->udp));
}

/*
 * Decodes the first caplen bytes of b (wire length wirelen) from an
 * exact-size heap copy, so ASan catches any read past caplen.
 */
static enum decode_result
dec_cut(int dlt, const struct pb *b, uint32_t caplen, uint32_t wirelen,
    struct pkt *p)
{
	uint8_t *copy = caplen ? malloc(caplen) : NULL;
	enum decode_result r;

	if (caplen)
		memcpy(copy, b->b, caplen);
	r = decode_packet(dlt, copy, caplen, wirelen, 42, p);
	/* The pointers into the copy die with it; keep only their offsets. */
	if (p->l3)
		p->l3 = b->b + (p->l3 - copy);
	if (p->payload)
		p->payload = b->b + (p->payload - copy);
	free(copy);
	return r;
}

static enum decode_result
dec(int dlt, const struct pb *b, struct pkt *p)
{
	return dec_cut(dlt, b, (uint32_t)b->n, (uint32_t)b->n, p);
}

/* Ethernet + IPv4 + TCP with 10 payload bytes: the reference frame. */
static void
build_eth_tcp4(struct pb *b, int payload)
{
	pb_init(b);
	put_eth(b, 0x0800, 0, NULL, NULL);
	put_ip4(b, IPPROTO_TCP, 0, 0);
	put_tcp(b, 40000, 443, 0x18, 0);
	putfill(b, (size_t)payload, 0xaa);
	pb_finish(b);
}

static void
build_eth_udp6(struct pb *b, int payload)
{
	pb_init(b);
	put_eth(b, 0x86dd, 0, NULL, NULL);
	put_ip6(b, IPPROTO_UDP);
	put_udp(b, 5353, 53);
	putfill(b, (size_t)payload, 0xbb);
	pb_finish(b);
}

static int
is_v4(const struct ip_addr *a, uint32_t v)
{
	struct ip_addr x;
	uint8_t q[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
	    (uint8_t)v };

	addr_from_v4(&x, q);
	return addr_eq(a, &x);
}

static void
test_ether_ipv4_tcp_fills_every_field(void)
{
	struct pb b;
	struct pkt p;

	build_eth_tcp4(&b, 10);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.ts_us, 42);
	CHECK_EQ_U(p.caplen, 64);
	CHECK_EQ_U(p.wirelen, 64);
	CHECK_EQ_U(p.vlan, 0);
	CHECK_EQ_U(p.ip_version, 4);
	CHECK_EQ_U(p.l4_proto, IPPROTO_TCP);
	CHECK(is_v4(&p.src, 0x0a000001));
	CHECK(is_v4(&p.dst, 0xc0a80102));
	CHECK_EQ_U(p.sport, 40000);
	CHECK_EQ_U(p.dport, 443);
	CHECK_EQ_U(p.tcp_flags, 0x18);
	CHECK_EQ_U(p.frag, PKT_FRAG_NONE);
	CHECK_EQ_U(p.ip_len, 50);
	CHECK_EQ_U(p.l4_len, 30);
	CHECK_EQ_U(p.payload_len, 10);
	CHECK(p.l3 == b.b + 14);
	CHECK_EQ_U(p.l3_caplen, 50);
	CHECK(p.payload == b.b + 54);
	CHECK_EQ_U(p.payload_caplen, 10);
}

static void
test_ether_ipv4_udp_payload_from_udp_length(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x0800, 0, NULL, NULL);
	put_ip4(&b, IPPROTO_UDP, 0, 2);		/* with 8 bytes of options */
	put_udp(&b, 1234, 53);
	putfill(&b, 30, 0xcc);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.l4_proto, IPPROTO_UDP);
	CHECK_EQ_U(p.sport, 1234);
	CHECK_EQ_U(p.dport, 53);
	CHECK_EQ_U(p.ip_len, 28 + 8 + 30);
	CHECK_EQ_U(p.l4_len, 38);
	CHECK_EQ_U(p.payload_len, 30);
	CHECK(p.payload == b.b + 14 + 28 + 8);
	CHECK_EQ_U(p.payload_caplen, 30);

	/* A UDP length shorter than the IP payload: the datagram ends there. */
	set16(&b, b.udp + 4, 8 + 20);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.payload_len, 20);
	CHECK_EQ_U(p.payload_caplen, 20);
}

static void
test_ether_ipv4_icmp_type_code_and_echo_payload(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x0800, 0, NULL, NULL);
	put_ip4(&b, IPPROTO_ICMP, 0, 0);
	put_icmp(&b, 8, 0);
	putfill(&b, 56, 0x11);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.l4_proto, IPPROTO_ICMP);
	CHECK_EQ_U(p.icmp_type, 8);
	CHECK_EQ_U(p.icmp_code, 0);
	CHECK_EQ_U(p.sport, 0);
	CHECK_EQ_U(p.dport, 0);
	CHECK_EQ_U(p.ip_len, 84);
	CHECK_EQ_U(p.payload_len, 56);
	CHECK(p.payload == b.b + 14 + 20 + 8);
}

static void
test_icmp_shorter_than_echo_header_has_no_payload(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x0800, 0, NULL, NULL);
	put_ip4(&b, IPPROTO_ICMP, 0, 0);
	put8(&b, 3);
	put8(&b, 4);
	put16(&b, 0);
	put16(&b, 0);
	pb_finish(&b);		/* 6 bytes of ICMP */
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.icmp_type, 3);
	CHECK_EQ_U(p.icmp_code, 4);
	CHECK_EQ_U(p.l4_len, 6);
	CHECK_EQ_U(p.payload_len, 0);
	CHECK(p.payload == NULL);
	CHECK_EQ_U(p.payload_caplen, 0);
}

static void
test_ether_ipv6_icmpv6(void)
{
	struct pb b;
	struct pkt p;
	struct ip_addr a;

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_ICMPV6);
	put_icmp(&b, 128, 0);
	putfill(&b, 16, 0x22);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.ip_version, 6);
	CHECK_EQ_U(p.l4_proto, IPPROTO_ICMPV6);
	CHECK_EQ_U(p.icmp_type, 128);
	CHECK_EQ_U(p.ip_len, 40 + 24);
	CHECK_EQ_U(p.l4_len, 24);
	CHECK_EQ_U(p.payload_len, 16);
	CHECK(addr_parse(&a, "2001:db8::1") == 0 && addr_eq(&p.src, &a));
	CHECK(addr_parse(&a, "2001:db8::2") == 0 && addr_eq(&p.dst, &a));
}

static void
test_ether_ipv6_udp(void)
{
	struct pb b;
	struct pkt p;

	build_eth_udp6(&b, 100);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.l4_proto, IPPROTO_UDP);
	CHECK_EQ_U(p.sport, 5353);
	CHECK_EQ_U(p.dport, 53);
	CHECK_EQ_U(p.ip_len, 148);
	CHECK_EQ_U(p.payload_len, 100);
	CHECK_EQ_U(p.payload_caplen, 100);
}

static void
test_vlan_single_tag_records_vlan(void)
{
	static const unsigned tp[] = { 0x8100 }, vid[] = { 0xe000 | 123 };
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x0800, 1, tp, vid);
	put_ip4(&b, IPPROTO_TCP, 0, 0);
	put_tcp(&b, 1, 2, 0x02, 0);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.vlan, 123);	/* PCP bits are not part of the id */
	CHECK(p.l3 == b.b + 18);
	CHECK_EQ_U(p.tcp_flags, 0x02);
}

static void
test_vlan_qinq_records_inner_vlan(void)
{
	static const unsigned tp[] = { 0x88a8, 0x9100, 0x8100 };
	static const unsigned vid[] = { 100, 200, 300 };
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x86dd, 3, tp, vid);
	put_ip6(&b, IPPROTO_UDP);
	put_udp(&b, 1, 2);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.vlan, 300);
	CHECK(p.l3 == b.b + 26);
	CHECK_EQ_U(p.ip_len, 48);
}

static void
test_vlan_eight_tags_ok_nine_too_many(void)
{
	unsigned tp[9], vid[9];
	struct pb b;
	struct pkt p;

	for (int i = 0; i < 9; i++) {
		tp[i] = 0x8100;
		vid[i] = (unsigned)i + 1;
	}
	pb_init(&b);
	put_eth(&b, 0x0800, 8, tp, vid);
	put_ip4(&b, IPPROTO_UDP, 0, 0);
	put_udp(&b, 1, 2);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.vlan, 8);

	pb_init(&b);
	put_eth(&b, 0x0800, 9, tp, vid);
	put_ip4(&b, IPPROTO_UDP, 0, 0);
	put_udp(&b, 1, 2);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_TOO_MANY_LAYERS);
}

static void
test_ether_arp_and_llc_are_not_ip(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x0806, 0, NULL, NULL);
	putfill(&b, 28, 0);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_NOT_IP);

	/* 802.3: a length, then LLC DSAP/SSAP/control (here STP). */
	pb_init(&b);
	put_eth(&b, 38, 0, NULL, NULL);
	put8(&b, 0x42);
	put8(&b, 0x42);
	put8(&b, 0x03);
	putfill(&b, 35, 0);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_NOT_IP);

	/* A bare header with an unknown type and nothing behind it. */
	pb_init(&b);
	put_eth(&b, 0xfbb7, 0, NULL, NULL);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_NOT_IP);
}

static void
test_sll_cooked_v1_protocol_at_14(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put16(&b, 4);			/* outgoing */
	put16(&b, 1);			/* ARPHRD_ETHER */
	put16(&b, 6);
	putfill(&b, 8, 0x55);
	put16(&b, 0x0800);
	put_ip4(&b, IPPROTO_TCP, 0, 0);
	put_tcp(&b, 80, 50000, 0x10, 0);
	putfill(&b, 5, 0);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_LINUX_SLL, &b, &p), DECODE_OK);
	CHECK(p.l3 == b.b + 16);
	CHECK_EQ_U(p.sport, 80);
	CHECK_EQ_U(p.payload_len, 5);

	/* 802.2 LLC frames carry a small protocol number: not IP. */
	set16(&b, 14, 0x0004);
	CHECK_EQ_U(dec(DLT_LINUX_SLL, &b, &p), DECODE_NOT_IP);
	/* A VLAN tag libpcap put back behind the cooked header. */
	pb_init(&b);
	put16(&b, 0);
	put16(&b, 1);
	put16(&b, 6);
	putfill(&b, 8, 0x55);
	put16(&b, 0x8100);
	put16(&b, 42);
	put16(&b, 0x0800);
	put_ip4(&b, IPPROTO_UDP, 0, 0);
	put_udp(&b, 1, 2);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_LINUX_SLL, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.vlan, 42);
}

static void
test_sll2_cooked_v2_protocol_at_0(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put16(&b, 0x86dd);
	put16(&b, 0);
	put32(&b, 3);			/* ifindex */
	put16(&b, 1);
	put8(&b, 0);
	put8(&b, 6);
	putfill(&b, 8, 0x55);
	put_ip6(&b, IPPROTO_TCP);
	put_tcp(&b, 22, 60000, 0x11, 0);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_LINUX_SLL2, &b, &p), DECODE_OK);
	CHECK(p.l3 == b.b + 20);
	CHECK_EQ_U(p.ip_version, 6);
	CHECK_EQ_U(p.tcp_flags, 0x11);
	CHECK_EQ_U(p.payload_len, 0);

	set16(&b, 0, 0x0806);
	CHECK_EQ_U(dec(DLT_LINUX_SLL2, &b, &p), DECODE_NOT_IP);
}

/* A BSD loopback frame: 4-byte family (little or big endian), then IP. */
static void
build_loop(struct pb *b, uint32_t af, int little, int v6)
{
	pb_init(b);
	if (little) {
		put8(b, af);
		put8(b, af >> 8);
		put16(b, 0);
	} else
		put32(b, af);
	if (v6)
		put_ip6(b, IPPROTO_UDP);
	else
		put_ip4(b, IPPROTO_UDP, 0, 0);
	put_udp(b, 7, 9);
	pb_finish(b);
}

static void
test_null_and_loop_accept_every_family_in_both_orders(void)
{
	static const int dlts[] = { DLT_NULL, DLT_LOOP };
	static const uint32_t fams[] = { 2, 24, 28, 30 };
	struct pb b;
	struct pkt p;

	for (int d = 0; d < 2; d++)
		for (int f = 0; f < 4; f++)
			for (int le = 0; le < 2; le++) {
				build_loop(&b, fams[f], le, fams[f] != 2);
				CHECK_EQ_U(dec(dlts[d], &b, &p), DECODE_OK);
				CHECK_EQ_U(p.ip_version, fams[f] == 2 ? 4 : 6);
				CHECK(p.l3 == b.b + 4);
				CHECK_EQ_U(p.dport, 9);
			}
	build_loop(&b, 7, 1, 0);		/* AF_LOCAL?: not IP */
	CHECK_EQ_U(dec(DLT_NULL, &b, &p), DECODE_NOT_IP);
	/* The family promised IPv6, the packet is IPv4. */
	build_loop(&b, 30, 1, 0);
	CHECK_EQ_U(dec(DLT_NULL, &b, &p), DECODE_BAD_IP_VERSION);
}

/* The same UDP datagram as bare IPv4 and bare IPv6 packets (raw link types). */
static void
udp_pair(struct pb *b4, struct pb *b6)
{
	pb_init(b4);
	put_ip4(b4, IPPROTO_UDP, 0, 0);
	put_udp(b4, 1, 53);
	pb_finish(b4);
	pb_init(b6);
	put_ip6(b6, IPPROTO_UDP);
	put_udp(b6, 1, 53);
	pb_finish(b6);
}

static void
test_raw_links_take_version_from_nibble(void)
{
	static const int raw[] = { 12, 14, 101, DLT_RAW };
	struct pb b4, b6;
	struct pkt p;

	udp_pair(&b4, &b6);
	for (int i = 0; i < 4; i++) {
		CHECK(decode_dlt_supported(raw[i]));
		CHECK_EQ_U(dec(raw[i], &b4, &p), DECODE_OK);
		CHECK_EQ_U(p.ip_version, 4);
		CHECK(p.l3 == b4.b);
		CHECK_EQ_U(dec(raw[i], &b6, &p), DECODE_OK);
		CHECK_EQ_U(p.ip_version, 6);
	}
	CHECK_EQ_U(dec(DLT_IPV4, &b4, &p), DECODE_OK);
	CHECK_EQ_U(dec(DLT_IPV6, &b6, &p), DECODE_OK);
	CHECK_EQ_U(p.ip_len, 48);
}

static void
test_raw_v4_v6_links_reject_the_other_version(void)
{
	struct pb b4, b6;
	struct pkt p;

	udp_pair(&b4, &b6);
	CHECK_EQ_U(dec(DLT_IPV6, &b4, &p), DECODE_BAD_IP_VERSION);
	CHECK_EQ_U(dec(DLT_IPV4, &b6, &p), DECODE_BAD_IP_VERSION);
}

static void
test_unsupported_dlt_is_refused(void)
{
	static const int bad[] = { DLT_PPP, DLT_C_HDLC, 160, 231, 239, 242, -1, 100000 };
	struct pb b;
	struct pkt p;

	build_eth_tcp4(&b, 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(!decode_dlt_supported(bad[i]));
		CHECK_EQ_U(dec(bad[i], &b, &p), DECODE_UNSUPPORTED_LINK);
	}
	CHECK(decode_dlt_supported(DLT_EN10MB));
	CHECK(decode_dlt_supported(DLT_LINUX_SLL));
	CHECK(decode_dlt_supported(DLT_LINUX_SLL2));
	CHECK(decode_dlt_supported(DLT_NULL));
	CHECK(decode_dlt_supported(DLT_LOOP));
	CHECK(decode_dlt_supported(DLT_IPV4));
	CHECK(decode_dlt_supported(DLT_IPV6));
}

static void
test_ipv6_ext_chain_then_tcp(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_HOPOPTS);
	put_ext(&b, IPPROTO_DSTOPTS, 0);	/* 8 */
	put_ext(&b, IPPROTO_ROUTING, 1);	/* 16 */
	put_ext(&b, IPPROTO_TCP, 2);		/* 24 */
	put_tcp(&b, 1111, 2222, 0x12, 3);	/* 32 */
	putfill(&b, 7, 0);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.l4_proto, IPPROTO_TCP);
	CHECK_EQ_U(p.sport, 1111);
	CHECK_EQ_U(p.dport, 2222);
	CHECK_EQ_U(p.ip_len, 40 + 48 + 32 + 7);
	CHECK_EQ_U(p.l4_len, 32 + 7);
	CHECK_EQ_U(p.payload_len, 7);
	CHECK(p.payload == b.b + 14 + 40 + 48 + 32);
	CHECK_EQ_U(p.payload_caplen, 7);
}

static void
test_ipv6_ah_counts_four_octet_units(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_AH);
	put8(&b, IPPROTO_UDP);
	put8(&b, 4);				/* (4 + 2) * 4 = 24 bytes */
	putfill(&b, 22, 0);
	put_udp(&b, 500, 4500);
	putfill(&b, 3, 0);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.l4_proto, IPPROTO_UDP);
	CHECK_EQ_U(p.dport, 4500);
	CHECK_EQ_U(p.l4_len, 11);
	CHECK_EQ_U(p.payload_len, 3);
}

static void
test_ipv6_no_next_header_and_mobility(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, 135);
	put_ext(&b, IPPROTO_NONE, 1);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.l4_proto, IPPROTO_NONE);
	CHECK_EQ_U(p.l4_len, 0);
	CHECK_EQ_U(p.payload_len, 0);

	/* An empty packet padded to the Ethernet minimum: 40 bytes, not 46. */
	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_NONE);
	pb_finish(&b);
	putfill(&b, 6, 0);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.ip_len, 40);
}

static void
test_ipv6_too_many_ext_headers(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_DSTOPTS);
	for (int i = 0; i < 15; i++)
		put_ext(&b, IPPROTO_DSTOPTS, 0);
	put_ext(&b, IPPROTO_UDP, 0);		/* the 16th: still fine */
	put_udp(&b, 1, 2);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.l4_len, 8);

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_DSTOPTS);
	for (int i = 0; i < 16; i++)
		put_ext(&b, IPPROTO_DSTOPTS, 0);
	put_ext(&b, IPPROTO_UDP, 0);
	put_udp(&b, 1, 2);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_TOO_MANY_LAYERS);
}

static void
test_ipv6_ext_header_past_payload_length_is_bad_hdr_len(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_HOPOPTS);
	put_ext(&b, IPPROTO_UDP, 3);		/* 32 bytes */
	put_udp(&b, 1, 2);
	pb_finish(&b);
	set16(&b, b.ip + 4, 16);		/* but the payload is "16" */
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_HDR_LEN);
}

static void
test_ipv4_first_fragment_has_ports(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x0800, 0, NULL, NULL);
	put_ip4(&b, IPPROTO_UDP, 0x2000, 0);	/* MF, offset 0 */
	put_udp(&b, 53, 33000);
	putfill(&b, 64, 0);
	pb_finish(&b);
	set16(&b, b.udp + 4, 8 + 3000);		/* the whole datagram */
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.frag, PKT_FRAG_FIRST);
	CHECK_EQ_U(p.frag_id, 0x1234);
	CHECK_EQ_U(p.frag_offset, 0);
	CHECK_EQ_U(p.sport, 53);
	CHECK_EQ_U(p.dport, 33000);
	CHECK_EQ_U(p.l4_len, 72);
	CHECK_EQ_U(p.payload_len, 64);		/* what this packet carries */
}

static void
test_ipv4_later_fragment_has_no_l4(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x0800, 0, NULL, NULL);
	put_ip4(&b, IPPROTO_UDP, 185, 0);	/* offset 185 * 8, last */
	putfill(&b, 100, 0x77);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.frag, PKT_FRAG_LATER);
	CHECK_EQ_U(p.frag_offset, 1480);
	CHECK_EQ_U(p.frag_id, 0x1234);
	CHECK_EQ_U(p.l4_proto, IPPROTO_UDP);
	CHECK_EQ_U(p.sport, 0);
	CHECK_EQ_U(p.dport, 0);
	CHECK_EQ_U(p.ip_len, 120);
	CHECK_EQ_U(p.l4_len, 100);
	CHECK_EQ_U(p.payload_len, 0);
	CHECK(p.payload == NULL);

	/* A middle fragment (MF and an offset) is a later one too. */
	set16(&b, b.ip + 6, 0x2000 | 10);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.frag, PKT_FRAG_LATER);
	CHECK_EQ_U(p.frag_offset, 80);
}

static void
test_ipv6_fragments_first_and_later(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_HOPOPTS);
	put_ext(&b, IPPROTO_FRAGMENT, 0);
	put_frag6(&b, IPPROTO_UDP, 0, 1, 0xdeadbeef);
	put_udp(&b, 53, 9999);
	putfill(&b, 40, 0);
	pb_finish(&b);
	set16(&b, b.udp + 4, 5000);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.frag, PKT_FRAG_FIRST);
	CHECK_EQ_U(p.frag_id, 0xdeadbeef);
	CHECK_EQ_U(p.l4_proto, IPPROTO_UDP);
	CHECK_EQ_U(p.sport, 53);
	CHECK_EQ_U(p.l4_len, 48);
	CHECK_EQ_U(p.payload_len, 40);

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_FRAGMENT);
	put_frag6(&b, IPPROTO_UDP, 1232, 0, 0xdeadbeef);
	putfill(&b, 50, 0x99);			/* looks nothing like UDP */
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.frag, PKT_FRAG_LATER);
	CHECK_EQ_U(p.frag_offset, 1232);
	CHECK_EQ_U(p.frag_id, 0xdeadbeef);
	CHECK_EQ_U(p.l4_proto, IPPROTO_UDP);
	CHECK_EQ_U(p.sport, 0);
	CHECK_EQ_U(p.ip_len, 40 + 8 + 50);
	CHECK_EQ_U(p.l4_len, 50);
	CHECK_EQ_U(p.payload_len, 0);

	/* An atomic fragment (offset 0, no MF; RFC 6946) is not a fragment. */
	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_FRAGMENT);
	put_frag6(&b, IPPROTO_UDP, 0, 0, 7);
	put_udp(&b, 1, 2);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.frag, PKT_FRAG_NONE);
	CHECK_EQ_U(p.dport, 2);
}

static void
test_sliced_capture_keeps_header_lengths(void)
{
	struct pb b;
	struct pkt p;

	build_eth_tcp4(&b, 1460);		/* a 1514-byte frame */
	CHECK_EQ_U(b.n, 1514);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 96, 1514, &p), DECODE_OK);
	CHECK_EQ_U(p.caplen, 96);
	CHECK_EQ_U(p.wirelen, 1514);
	CHECK_EQ_U(p.ip_len, 1500);
	CHECK_EQ_U(p.l4_len, 1480);
	CHECK_EQ_U(p.payload_len, 1460);
	CHECK_EQ_U(p.l3_caplen, 82);
	CHECK(p.payload == b.b + 54);
	CHECK_EQ_U(p.payload_caplen, 42);

	/* Sliced right after the TCP header: OK, nothing of the payload. */
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 54, 1514, &p), DECODE_OK);
	CHECK_EQ_U(p.payload_len, 1460);
	CHECK(p.payload == NULL);
	CHECK_EQ_U(p.payload_caplen, 0);

	build_eth_udp6(&b, 1400);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 96, (uint32_t)b.n, &p), DECODE_OK);
	CHECK_EQ_U(p.ip_len, 1448);
	CHECK_EQ_U(p.payload_len, 1400);
	CHECK_EQ_U(p.payload_caplen, 96 - 62);
}

static void
test_tcp_options_cut_by_snaplen_still_ok(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x0800, 0, NULL, NULL);
	put_ip4(&b, IPPROTO_TCP, 0, 0);
	put_tcp(&b, 1, 2, 0x10, 3);		/* 12 bytes of options */
	putfill(&b, 100, 0);
	pb_finish(&b);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 60, (uint32_t)b.n, &p), DECODE_OK);
	CHECK_EQ_U(p.dport, 2);
	CHECK_EQ_U(p.payload_len, 100);
	CHECK(p.payload == NULL);
	CHECK_EQ_U(p.payload_caplen, 0);
	/* ...but the first 20 bytes are mandatory. */
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 53, (uint32_t)b.n, &p), DECODE_TRUNCATED);
}

static void
test_ethernet_padding_is_not_payload(void)
{
	struct pb b;
	struct pkt p;

	build_eth_tcp4(&b, 0);			/* 54 bytes */
	putfill(&b, 6, 0xee);			/* padded to 60 */
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.ip_len, 40);
	CHECK_EQ_U(p.l3_caplen, 40);
	CHECK_EQ_U(p.payload_len, 0);
	CHECK(p.payload == NULL);
}

/* Cuts at every header boundary minus one byte: each must say truncated. */
static void
test_truncated_at_each_layer(void)
{
	static const unsigned tp[] = { 0x8100, 0x8100 }, vid[] = { 1, 2 };
	struct pb b;
	struct pkt p;

	build_eth_tcp4(&b, 10);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 0, 64, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 13, 64, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 14, 64, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 33, 64, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 53, 64, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 54, 64, &p), DECODE_OK);

	pb_init(&b);
	put_eth(&b, 0x0800, 2, tp, vid);
	put_ip4(&b, IPPROTO_UDP, 0, 1);		/* 24-byte header */
	put_udp(&b, 1, 2);
	pb_finish(&b);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 17, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 21, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 22 + 23, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 22 + 24 + 7, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 22 + 24 + 8, (uint32_t)b.n, &p), DECODE_OK);

	pb_init(&b);
	put_eth(&b, 0x86dd, 0, NULL, NULL);
	put_ip6(&b, IPPROTO_HOPOPTS);
	put_ext(&b, IPPROTO_ICMPV6, 1);
	put_icmp(&b, 128, 0);
	pb_finish(&b);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 14 + 39, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 14 + 41, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 14 + 55, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 14 + 56 + 3, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	/* ICMP needs only type, code and checksum captured. */
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 14 + 56 + 4, (uint32_t)b.n, &p), DECODE_OK);
	CHECK_EQ_U(p.icmp_type, 128);
	CHECK_EQ_U(p.payload_len, 0);

	/* Link headers cut short. */
	build_loop(&b, 2, 1, 0);
	CHECK_EQ_U(dec_cut(DLT_NULL, &b, 3, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_NULL, &b, 4, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_LINUX_SLL, &b, 15, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_LINUX_SLL2, &b, 19, (uint32_t)b.n, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(dec_cut(DLT_RAW, &b, 0, 0, &p), DECODE_TRUNCATED);
}

static void
test_bad_ip_version(void)
{
	struct pb b;
	struct pkt p;

	build_eth_tcp4(&b, 0);
	b.b[14] = 0x65;			/* EtherType IPv4, version 6 */
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_IP_VERSION);
	b.b[14] = 0x55;
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_IP_VERSION);
	CHECK_EQ_U(dec_cut(DLT_RAW, &b, (uint32_t)b.n - 14, (uint32_t)b.n - 14, &p),
	    DECODE_BAD_IP_VERSION);	/* raw: the MACs' 0 nibble */
}

static void
test_ipv4_ihl_below_5_is_bad_hdr_len(void)
{
	struct pb b;
	struct pkt p;

	build_eth_tcp4(&b, 0);
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		b.b[14] = 0x40 | ihl;
		CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_HDR_LEN);
	}
}

static void
test_ipv4_total_length_too_large_or_small(void)
{
	struct pb b;
	struct pkt p;

	build_eth_tcp4(&b, 10);			/* total length 50 */
	set16(&b, 16, 51);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_TOTAL_LEN);
	set16(&b, 16, 19);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_TOTAL_LEN);
	b.b[14] = 0x46;				/* IHL 24 > total length 21 */
	set16(&b, 16, 21);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_TOTAL_LEN);
	/* Larger than the capture but not the wire: a sliced frame, fine. */
	set16(&b, 16, 50);
	b.b[14] = 0x45;
	CHECK_EQ_U(dec_cut(DLT_EN10MB, &b, 64, 65, &p), DECODE_OK);
	/* 20 bytes of IP and a total length saying so: l4 is too short. */
	set16(&b, 16, 20);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_L4_LEN);
}

static void
test_ipv6_payload_length_too_large(void)
{
	struct pb b;
	struct pkt p;

	build_eth_udp6(&b, 10);
	set16(&b, b.ip + 4, 19);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_TOTAL_LEN);
}

static void
test_udp_length_inconsistent_is_bad_l4_len(void)
{
	struct pb b;
	struct pkt p;

	build_eth_udp6(&b, 10);			/* UDP length 18 */
	set16(&b, b.udp + 4, 19);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_L4_LEN);
	set16(&b, b.udp + 4, 7);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_L4_LEN);
	set16(&b, b.udp + 4, 0);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_L4_LEN);
	set16(&b, b.udp + 4, 8);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.payload_len, 0);
	CHECK(p.payload == NULL);

	/* An IP packet too short to hold a UDP header at all. */
	pb_init(&b);
	put_eth(&b, 0x0800, 0, NULL, NULL);
	put_ip4(&b, IPPROTO_UDP, 0, 0);
	putfill(&b, 4, 0);
	pb_finish(&b);
	putfill(&b, 10, 0);			/* padding behind it */
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_L4_LEN);
}

static void
test_tcp_offset_below_5_or_past_l4(void)
{
	struct pb b;
	struct pkt p;

	build_eth_tcp4(&b, 10);
	b.b[14 + 20 + 12] = 0x40;
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_HDR_LEN);
	b.b[14 + 20 + 12] = 0x00;
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_HDR_LEN);
	b.b[14 + 20 + 12] = 0x80;		/* 32 bytes > l4_len 30 */
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_BAD_L4_LEN);
	b.b[14 + 20 + 12] = 0x70;		/* 28: 2 bytes of payload */
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.payload_len, 2);
}

static void
test_bigtcp_total_length_zero_uses_wire_length(void)
{
	static uint8_t big[14 + 20 + 20 + 80000];
	struct pkt p;
	size_t n = sizeof big;

	memset(big, 0, sizeof big);
	big[12] = 0x08;
	big[14] = 0x45;				/* total length stays 0 */
	big[14 + 9] = IPPROTO_TCP;
	big[14 + 20 + 12] = 0x50;
	CHECK_EQ_U(decode_packet(DLT_EN10MB, big, (uint32_t)n, (uint32_t)n, 0, &p),
	    DECODE_OK);
	CHECK_EQ_U(p.ip_len, 80040);
	CHECK_EQ_U(p.l4_len, 80020);
	CHECK_EQ_U(p.payload_len, 80000);
	CHECK_EQ_U(p.payload_caplen, 80000);
	/* Sliced: the wire length still gives it. */
	CHECK_EQ_U(decode_packet(DLT_EN10MB, big, 96, (uint32_t)n, 0, &p), DECODE_OK);
	CHECK_EQ_U(p.ip_len, 80040);
	CHECK_EQ_U(p.payload_caplen, 42);
	/* Total length 0 and 10 wire bytes behind the IP header: no TCP fits. */
	CHECK_EQ_U(decode_packet(DLT_EN10MB, big, 44, 44, 0, &p), DECODE_BAD_L4_LEN);
}

static void
test_ipv6_jumbo_zero_payload_length_uses_wire_length(void)
{
	static uint8_t big[14 + 40 + 8 + 8 + 70000];
	struct pkt p;
	size_t n = sizeof big;

	memset(big, 0, sizeof big);
	big[12] = 0x86;
	big[13] = 0xdd;
	big[14] = 0x60;				/* payload length stays 0 */
	big[14 + 6] = IPPROTO_HOPOPTS;
	big[54] = IPPROTO_UDP;			/* HBH with a jumbo option */
	big[56] = 0xc2;
	big[57] = 4;
	CHECK_EQ_U(decode_packet(DLT_EN10MB, big, (uint32_t)n, (uint32_t)n, 0, &p),
	    DECODE_OK);
	CHECK_EQ_U(p.ip_len, 40 + 8 + 8 + 70000);
	CHECK_EQ_U(p.l4_proto, IPPROTO_UDP);
	CHECK_EQ_U(p.payload_len, 70000);	/* UDP length 0: RFC 2675 */

	/* BIG TCP beyond 64 KB without the jumbo option: the wire decides. */
	big[14 + 6] = IPPROTO_TCP;
	big[14 + 40 + 12] = 0x50;
	CHECK_EQ_U(decode_packet(DLT_EN10MB, big, 200, (uint32_t)n, 0, &p),
	    DECODE_OK);
	CHECK_EQ_U(p.ip_len, 40 + 8 + 8 + 70000);
	CHECK_EQ_U(p.payload_len, 8 + 8 + 70000 - 20);

	/*
	 * Below 64 KB, 0 without a hop-by-hop header means empty: the
	 * fragment header behind it overruns (tcpdump's frag6_negative_len).
	 */
	big[14 + 6] = IPPROTO_FRAGMENT;
	CHECK_EQ_U(decode_packet(DLT_EN10MB, big, 200, 32896, 0, &p),
	    DECODE_BAD_HDR_LEN);
	big[14 + 6] = IPPROTO_TCP;
	CHECK_EQ_U(decode_packet(DLT_EN10MB, big, 200, 32896, 0, &p),
	    DECODE_BAD_L4_LEN);
}

static void
test_pppoe_session_reaches_ip_with_or_without_pfc(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x8864, 0, NULL, NULL);
	put8(&b, 0x11);
	put8(&b, 0);
	put16(&b, 0x0001);
	put16(&b, 0);				/* PPPoE length, unchecked */
	put16(&b, 0x0021);
	put_ip4(&b, IPPROTO_TCP, 0, 0);
	put_tcp(&b, 3, 80, 0x02, 0);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK(p.l3 == b.b + 22);
	CHECK_EQ_U(p.dport, 80);
	set16(&b, 20, 0xc021);			/* LCP */
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_NOT_IP);

	/* Protocol field compressed to one byte (PFC, RFC 1661 6.5). */
	pb_init(&b);
	put_eth(&b, 0x8864, 0, NULL, NULL);
	put8(&b, 0x11);
	put8(&b, 0);
	put16(&b, 0x002d);
	put16(&b, 0);
	put8(&b, 0x57);				/* IPv6 */
	put_ip6(&b, IPPROTO_TCP);
	put_tcp(&b, 3, 80, 0x02, 0);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK(p.l3 == b.b + 21);
	CHECK_EQ_U(p.ip_version, 6);
	CHECK_EQ_U(p.dport, 80);
}

static void
test_mpls_pops_to_bottom_of_stack(void)
{
	static const unsigned tp[] = { 0x8100 }, vid[] = { 5 };
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x8847, 1, tp, vid);
	put32(&b, 100 << 12 | 64);
	put32(&b, 200 << 12 | 0x100 | 64);	/* bottom of stack */
	put_ip6(&b, IPPROTO_UDP);
	put_udp(&b, 1, 2);
	pb_finish(&b);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.vlan, 5);
	CHECK_EQ_U(p.ip_version, 6);
	CHECK(p.l3 == b.b + 18 + 8);

	/* A pseudowire control word (first nibble 0): a tunnel, not ours. */
	pb_init(&b);
	put_eth(&b, 0x8847, 0, NULL, NULL);
	put32(&b, 0x100);
	put32(&b, 0);
	putfill(&b, 40, 0);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_NOT_IP);

	pb_init(&b);
	put_eth(&b, 0x8847, 0, NULL, NULL);
	for (int i = 0; i < 9; i++)
		put32(&b, 0);
	putfill(&b, 40, 0x45);
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_TOO_MANY_LAYERS);
}

static void
test_other_protocols_count_l4_as_payload(void)
{
	struct pb b;
	struct pkt p;

	pb_init(&b);
	put_eth(&b, 0x0800, 0, NULL, NULL);
	put_ip4(&b, IPPROTO_GRE, 0, 0);		/* a tunnel: not entered */
	put16(&b, 0);
	put16(&b, 0x0800);
	put_ip4(&b, IPPROTO_TCP, 0, 0);
	put_tcp(&b, 1, 2, 0, 0);
	b.ipv = 0;
	set16(&b, 16, (unsigned)(b.n - 14));
	CHECK_EQ_U(dec(DLT_EN10MB, &b, &p), DECODE_OK);
	CHECK_EQ_U(p.l4_proto, IPPROTO_GRE);
	CHECK(is_v4(&p.src, 0x0a000001));
	CHECK_EQ_U(p.sport, 0);
	CHECK_EQ_U(p.l4_len, 44);
	CHECK_EQ_U(p.payload_len, 44);
	CHECK(p.payload == b.b + 34);
	CHECK_EQ_U(p.payload_caplen, 44);
}

static void
test_result_names_are_stable(void)
{
	CHECK_EQ_S(decode_result_name(DECODE_OK), "ok");
	CHECK_EQ_S(decode_result_name(DECODE_NOT_IP), "not_ip");
	CHECK_EQ_S(decode_result_name(DECODE_TRUNCATED), "truncated");
	CHECK_EQ_S(decode_result_name(DECODE_BAD_IP_VERSION), "bad_ip_version");
	CHECK_EQ_S(decode_result_name(DECODE_BAD_HDR_LEN), "bad_hdr_len");
	CHECK_EQ_S(decode_result_name(DECODE_BAD_TOTAL_LEN), "bad_total_len");
	CHECK_EQ_S(decode_result_name(DECODE_BAD_L4_LEN), "bad_l4_len");
	CHECK_EQ_S(decode_result_name(DECODE_TOO_MANY_LAYERS), "too_many_layers");
	CHECK_EQ_S(decode_result_name(DECODE_UNSUPPORTED_LINK), "unsupported_link");
	CHECK_EQ_S(decode_result_name(DECODE__COUNT), "unknown");
}

/* What must hold for any OK result, whatever the input. */
static int
pkt_consistent(const struct pkt *p, const uint8_t *data, uint32_t caplen)
{
	if (p->l3 == NULL || p->l3 < data || p->l3 + p->l3_caplen > data + caplen)
		return 0;
	if (p->l3_caplen > p->ip_len || p->l4_len > p->ip_len)
		return 0;
	if (p->payload_len > p->l4_len || p->payload_caplen > p->payload_len)
		return 0;
	if (p->payload == NULL)
		return p->payload_caplen == 0;
	return p->payload_caplen > 0 && p->payload >= p->l3 &&
	    p->payload + p->payload_caplen <= p->l3 + p->l3_caplen;
}

/* Decodes an exact-size copy of buf[0..n) and checks the invariants. */
static void
fuzz_one(int dlt, const uint8_t *buf, uint32_t n, uint32_t wirelen)
{
	uint8_t *copy = n ? malloc(n) : NULL;
	struct pkt p;
	enum decode_result r;

	if (n)
		memcpy(copy, buf, n);
	r = decode_packet(dlt, copy, n, wirelen, 0, &p);
	CHECK((unsigned)r < DECODE__COUNT);
	if (r == DECODE_OK)
		CHECK(pkt_consistent(&p, copy, n));
	free(copy);
}

/* A handful of valid frames over several link types for the fuzz loops. */
static int
fuzz_corpus(int i, struct pb *b, int *dlt)
{
	static const unsigned tp[] = { 0x88a8, 0x8100 }, vid[] = { 7, 8 };

	pb_init(b);
	*dlt = DLT_EN10MB;
	switch (i) {
	case 0:
		build_eth_tcp4(b, 30);
		break;
	case 1:
		build_eth_udp6(b, 20);
		break;
	case 2:
		put_eth(b, 0x86dd, 2, tp, vid);
		put_ip6(b, IPPROTO_HOPOPTS);
		put_ext(b, IPPROTO_ROUTING, 1);
		put_ext(b, IPPROTO_FRAGMENT, 0);
		put_frag6(b, IPPROTO_TCP, 0, 1, 99);
		put_tcp(b, 1, 2, 0x10, 2);
		putfill(b, 9, 0);
		pb_finish(b);
		break;
	case 3:
		*dlt = DLT_LINUX_SLL2;
		put16(b, 0x0800);
		putfill(b, 18, 0);
		put_ip4(b, IPPROTO_ICMP, 0, 1);
		put_icmp(b, 0, 0);
		putfill(b, 12, 0);
		pb_finish(b);
		break;
	case 4:
		build_loop(b, 30, 1, 1);
		*dlt = DLT_NULL;
		break;
	default:
		return 0;
	}
	return 1;
}

static void
test_fuzz_every_truncation_never_crashes(void)
{
	struct pb b;
	int dlt;

	for (int i = 0; fuzz_corpus(i, &b, &dlt); i++)
		for (uint32_t n = 0; n <= b.n; n++) {
			fuzz_one(dlt, b.b, n, (uint32_t)b.n);
			fuzz_one(dlt, b.b, n, n);	/* claims to be whole */
		}
}

static uint64_t
prng(uint64_t *s)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void
test_fuzz_random_byte_flips_never_crash(void)
{
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
	    DLT_NULL, DLT_LOOP, DLT_RAW, DLT_IPV4, DLT_IPV6 };
	uint64_t seed = 0x0123456789abcdefULL;
	struct pb b, m;
	int dlt;

	for (int i = 0; fuzz_corpus(i, &b, &dlt); i++)
		for (int round = 0; round < 4000; round++) {
			m = b;
			int flips = 1 + (int)(prng(&seed) % 4);
			for (int f = 0; f < flips; f++) {
				uint64_t r = prng(&seed);
				m.b[r % m.n] = (uint8_t)(r >> 32);
			}
			uint32_t n = (uint32_t)(prng(&seed) % (m.n + 1));
			uint32_t wire = (uint32_t)(prng(&seed) % 3 == 0 ?
			    prng(&seed) % 100000 : m.n);
			int d = prng(&seed) % 8 == 0 ?
			    dlts[prng(&seed) % 8] : dlt;
			fuzz_one(d, m.b, n, wire);
		}
}

static void
test_empty_and_null_frame_are_truncated(void)
{
	struct pkt p;

	CHECK_EQ_U(decode_packet(DLT_EN10MB, NULL, 0, 0, 0, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(decode_packet(DLT_IPV6, NULL, 0, 1500, 0, &p), DECODE_TRUNCATED);
	CHECK_EQ_U(decode_packet(DLT_LINUX_SLL2, NULL, 0, 0, 0, &p), DECODE_TRUNCATED);
}

T_MAIN("decode",
    T(test_ether_ipv4_tcp_fills_every_field),
    T(test_ether_ipv4_udp_payload_from_udp_length),
    T(test_ether_ipv4_icmp_type_code_and_echo_payload),
    T(test_icmp_shorter_than_echo_header_has_no_payload),
    T(test_ether_ipv6_icmpv6),
    T(test_ether_ipv6_udp),
    T(test_vlan_single_tag_records_vlan),
    T(test_vlan_qinq_records_inner_vlan),
    T(test_vlan_eight_tags_ok_nine_too_many),
    T(test_ether_arp_and_llc_are_not_ip),
    T(test_sll_cooked_v1_protocol_at_14),
    T(test_sll2_cooked_v2_protocol_at_0),
    T(test_null_and_loop_accept_every_family_in_both_orders),
    T(test_raw_links_take_version_from_nibble),
    T(test_raw_v4_v6_links_reject_the_other_version),
    T(test_unsupported_dlt_is_refused),
    T(test_ipv6_ext_chain_then_tcp),
    T(test_ipv6_ah_counts_four_octet_units),
    T(test_ipv6_no_next_header_and_mobility),
    T(test_ipv6_too_many_ext_headers),
    T(test_ipv6_ext_header_past_payload_length_is_bad_hdr_len),
    T(test_ipv4_first_fragment_has_ports),
    T(test_ipv4_later_fragment_has_no_l4),
    T(test_ipv6_fragments_first_and_later),
    T(test_sliced_capture_keeps_header_lengths),
    T(test_tcp_options_cut_by_snaplen_still_ok),
    T(test_ethernet_padding_is_not_payload),
    T(test_truncated_at_each_layer),
    T(test_bad_ip_version),
    T(test_ipv4_ihl_below_5_is_bad_hdr_len),
    T(test_ipv4_total_length_too_large_or_small),
    T(test_ipv6_payload_length_too_large),
    T(test_udp_length_inconsistent_is_bad_l4_len),
    T(test_tcp_offset_below_5_or_past_l4),
    T(test_bigtcp_total_length_zero_uses_wire_length),
    T(test_ipv6_jumbo_zero_payload_length_uses_wire_length),
    T(test_pppoe_session_reaches_ip_with_or_without_pfc),
    T(test_mpls_pops_to_bottom_of_stack),
    T(test_other_protocols_count_l4_as_payload),
    T(test_result_names_are_stable),
    T(test_fuzz_every_truncation_never_crashes),
    T(test_fuzz_random_byte_flips_never_crash),
    T(test_empty_and_null_frame_are_truncated))
