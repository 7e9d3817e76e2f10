/*
 * decode - see decode.h. One captured frame into a struct pkt.
 *
 * The shape follows tcpdump: one function per encapsulation, all with the
 * same signature, picked by link type (link_lookup()); each link function
 * leaves the cursor on the IP header and says which IP version the link
 * promised. decode_ip() then reads IPv4 or IPv6 (with its extension-header
 * chain) and decode_l4() the TCP/UDP/ICMP header. Every read goes through
 * cursor.h, so a short capture stops with DECODE_TRUNCATED, never a read
 * past caplen.
 *
 * Lengths: volumes are taken from the IP header (total length / payload
 * length), never from caplen, so a capture sliced at 96 bytes accounts the
 * same bytes as a full one, and Ethernet padding is never counted. The
 * header is checked against the bytes the frame had on the wire at L3
 * (wirelen minus the link header): a length beyond them is a lie.
 *
 * Tunnels are deliberately not entered: GRE, VXLAN, Geneve, IP-in-IP, 6in4,
 * Teredo, GTP all decode as their outer packet (l4_proto 47, 4, 41, or UDP
 * with the tunnel's port). The outer packet is what crossed our link and
 * what an exfiltration volume is made of; its endpoints are the hosts we
 * account. MPLS and PPPoE are link-layer framing, not tunnels, so they are
 * stepped over to reach the IP header.
 *
 * Truncation: all headers up to and including the fixed part of the L4
 * header (TCP 20 bytes, UDP 8, ICMP type/code/checksum 4) must be captured,
 * else DECODE_TRUNCATED. TCP options are the deliberate exception: a
 * snaplen that cuts them still decodes OK (ports, flags and lengths are all
 * in the first 20 bytes), only without a payload pointer.
 */
#include <netinet/in.h>
#include <pcap/dlt.h>

#include "cursor.h"
#include "decode.h"

#define DECODE_MAX_VLAN		8	/* stacked VLAN/VN tags we step over */
#define DECODE_MAX_MPLS		8	/* MPLS labels we pop */
#define DECODE_MAX_IPV6_EXT	16	/* IPv6 extension headers we walk */

/* EtherTypes (IEEE registry). */
#define DECODE_ETYPE_MIN	0x0600	/* below: an 802.3 length field (LLC follows) */
#define DECODE_ETYPE_IPV4	0x0800
#define DECODE_ETYPE_IPV6	0x86dd
#define DECODE_ETYPE_8021Q	0x8100	/* C-tag, IEEE 802.1Q */
#define DECODE_ETYPE_8021AD	0x88a8	/* S-tag, IEEE 802.1ad */
#define DECODE_ETYPE_QINQ_OLD	0x9100	/* pre-802.1ad vendor S-tag */
#define DECODE_ETYPE_VNTAG	0x8926	/* Cisco VN-Tag: 4 bytes of tag, then a type */
#define DECODE_ETYPE_PPPOE_SES	0x8864	/* RFC 2516 session stage */
#define DECODE_ETYPE_MPLS_UC	0x8847	/* RFC 3032 */
#define DECODE_ETYPE_MPLS_MC	0x8848

/* PPP protocol numbers (RFC 1332, RFC 5072). */
#define DECODE_PPP_IPV4		0x0021
#define DECODE_PPP_IPV6		0x0057

/* BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 is not. */
#define DECODE_BSD_AF_INET		2
#define DECODE_BSD_AF_INET6_BSD		24	/* NetBSD, OpenBSD, BSD/OS */
#define DECODE_BSD_AF_INET6_FREEBSD	28
#define DECODE_BSD_AF_INET6_DARWIN	30

/*
 * Raw-IP link types other than this platform's DLT_RAW: BSD/OS's DLT_RAW
 * (14), and LINKTYPE_RAW (101), which libpcap maps to DLT_RAW when reading
 * a file but which a caller could still hand us unmapped.
 */
#define DECODE_DLT_RAW_BSDOS	14
#define DECODE_LINKTYPE_RAW	101

/* What the link layer says is at L3. */
#define L3_ANY	0	/* raw IP: the version nibble decides */
#define L3_IPV4	4
#define L3_IPV6	6

typedef enum decode_result link_fn(struct cursor *, struct pkt *, int *);

static enum decode_result ether_type(struct cursor *, struct pkt *,
    uint16_t, int *);

/*
 * PPPoE session stage, RFC 2516 section 4, then the PPP protocol field:
 *
 *   0       4       8              16                             32
 *   +-------+-------+---------------+------------------------------+
 *   |  VER  | TYPE  |     CODE      |          SESSION_ID          |
 *   +-------+-------+---------------+------------------------------+
 *   |            LENGTH             |        PPP protocol          |
 *   +-------------------------------+------------------------------+
 *
 * The PPP protocol field may be compressed to one byte (PFC, RFC 1661
 * section 6.5), and real PPPoE clients do negotiate it. Protocol numbers
 * have an even first byte and an odd last one, so an odd first byte is a
 * whole compressed field.
 */
static enum decode_result
pppoe_session(struct cursor *c, int *l3)
{
	uint16_t proto;

	cur_skip(c, 6);
	proto = cur_get_u8(c);
	if ((proto & 1) == 0)
		proto = (uint16_t)(proto << 8 | cur_get_u8(c));
	if (c->err)
		return DECODE_TRUNCATED;
	switch (proto) {
	case DECODE_PPP_IPV4:
		*l3 = L3_IPV4;
		return DECODE_OK;
	case DECODE_PPP_IPV6:
		*l3 = L3_IPV6;
		return DECODE_OK;
	}
	return DECODE_NOT_IP;	/* LCP, IPCP, ...: control traffic */
}

/*
 * MPLS label stack entries, RFC 3032 section 2.1, popped until the
 * bottom-of-stack bit:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------+-----+-+---------------+
 *   |                 Label                 | TC  |S|      TTL      |
 *   +---------------------------------------+-----+-+---------------+
 *
 * MPLS does not say what it carries; like every LSR we guess from the
 * first nibble (RFC 4928). A 0 nibble is a pseudowire control word
 * (RFC 4385) in front of an Ethernet frame: a tunnel, so not ours.
 */
static enum decode_result
mpls(struct cursor *c, int *l3)
{
	uint8_t v;

	for (int n = 0;; n++) {
		if (n == DECODE_MAX_MPLS)
			return DECODE_TOO_MANY_LAYERS;
		if (cur_get_be32(c) & 0x100)
			break;
		if (c->err)
			return DECODE_TRUNCATED;
	}
	v = cur_peek_u8(c) >> 4;
	if (c->err)
		return DECODE_TRUNCATED;
	if (v == 4)
		*l3 = L3_IPV4;
	else if (v == 6)
		*l3 = L3_IPV6;
	else
		return DECODE_NOT_IP;
	return DECODE_OK;
}

/*
 * What follows an EtherType: any number (up to DECODE_MAX_VLAN) of tags,
 * then IPv4/IPv6, PPPoE or MPLS. Shared by Ethernet and the Linux cooked
 * headers (libpcap puts a stripped VLAN tag back in front of SLL payloads).
 *
 *   802.1Q / 802.1ad tag (IEEE 802.1Q-2018 9.6), after the TPID:
 *   +-----+-+-----------------------+-------------------------------+
 *   | PCP |D|        VLAN id        |     next EtherType / TPID     |
 *   +-----+-+-----------------------+-------------------------------+
 *     3    1          12                          16
 *
 * The last tag read is the innermost: that is the VLAN the host sits in.
 */
static enum decode_result
ether_type(struct cursor *c, struct pkt *p, uint16_t type, int *l3)
{
	int tags = 0;

	if (c->err)
		return DECODE_TRUNCATED;
	for (;;) {
		if (type == DECODE_ETYPE_8021Q || type == DECODE_ETYPE_8021AD ||
		    type == DECODE_ETYPE_QINQ_OLD)
			p->vlan = cur_get_be16(c) & 0x0fff;
		else if (type == DECODE_ETYPE_VNTAG)
			cur_skip(c, 4);
		else
			break;
		if (++tags > DECODE_MAX_VLAN)
			return DECODE_TOO_MANY_LAYERS;
		type = cur_get_be16(c);
		if (c->err)
			return DECODE_TRUNCATED;
	}
	switch (type) {
	case DECODE_ETYPE_IPV4:
		*l3 = L3_IPV4;
		return DECODE_OK;
	case DECODE_ETYPE_IPV6:
		*l3 = L3_IPV6;
		return DECODE_OK;
	case DECODE_ETYPE_PPPOE_SES:
		return pppoe_session(c, l3);
	case DECODE_ETYPE_MPLS_UC:
	case DECODE_ETYPE_MPLS_MC:
		return mpls(c, l3);
	}
	/* < 0x0600 is an 802.3 length with LLC/SNAP behind it; else ARP etc. */
	return DECODE_NOT_IP;
}

/*
 * Ethernet II, IEEE 802.3 clause 3 (the FCS is not captured):
 *
 *   +-------------+-------------+-----------+---------
 *   | destination |   source    | EtherType | payload
 *   +-------------+-------------+-----------+---------
 *         6             6             2
 */
static enum decode_result
link_ether(struct cursor *c, struct pkt *p, int *l3)
{
	cur_skip(c, 12);
	return ether_type(c, p, cur_get_be16(c), l3);
}

/*
 * Linux cooked capture v1, DLT_LINUX_SLL (libpcap's pcap-linktype(7)):
 *
 *   0        2        4        6                         14       16
 *   +--------+--------+--------+-------------------------+--------+
 *   |pkt type| ARPHRD |addr len| link-layer address (8)  |protocol|
 *   +--------+--------+--------+-------------------------+--------+
 *
 * protocol is an EtherType, or a small number (< 0x0600) for 802.2/802.3
 * frames, which ether_type() turns into DECODE_NOT_IP.
 */
static enum decode_result
link_sll(struct cursor *c, struct pkt *p, int *l3)
{
	cur_skip(c, 14);
	return ether_type(c, p, cur_get_be16(c), l3);
}

/*
 * Linux cooked capture v2, DLT_LINUX_SLL2:
 *
 *   0        2        4                 8        10   11   12          20
 *   +--------+--------+-----------------+--------+----+----+-----------+
 *   |protocol|reserved| interface index | ARPHRD |type|alen| address 8 |
 *   +--------+--------+-----------------+--------+----+----+-----------+
 */
static enum decode_result
link_sll2(struct cursor *c, struct pkt *p, int *l3)
{
	uint16_t proto = cur_get_be16(c);

	cur_skip(c, 18);
	return ether_type(c, p, proto, l3);
}

/*
 * BSD loopback, DLT_NULL and DLT_LOOP: a 4-byte address family, in the
 * capturing host's byte order for NULL and network order for LOOP.
 *
 *   +-------------------------------+--------
 *   |   address family (32 bits)    | IP packet
 *   +-------------------------------+--------
 *
 * Files travel between machines, so the byte order is not trusted for
 * either: the family is a small number, so whichever order gives one
 * (<= 0xffff) is the right one. AF_INET6 differs between BSDs.
 */
static enum decode_result
link_null(struct cursor *c, struct pkt *p, int *l3)
{
	uint32_t af = cur_get_be32(c);

	(void)p;
	if (c->err)
		return DECODE_TRUNCATED;
	if (af > 0xffff)
		af = __builtin_bswap32(af);
	switch (af) {
	case DECODE_BSD_AF_INET:
		*l3 = L3_IPV4;
		return DECODE_OK;
	case DECODE_BSD_AF_INET6_BSD:
	case DECODE_BSD_AF_INET6_FREEBSD:
	case DECODE_BSD_AF_INET6_DARWIN:
		*l3 = L3_IPV6;
		return DECODE_OK;
	}
	return DECODE_NOT_IP;
}

/* Raw IP (DLT_RAW and friends): no header; the version nibble decides. */
static enum decode_result
link_raw(struct cursor *c, struct pkt *p, int *l3)
{
	(void)c;
	(void)p;
	*l3 = L3_ANY;
	return DECODE_OK;
}

/* DLT_IPV4: raw IP that promises version 4. */
static enum decode_result
link_ipv4(struct cursor *c, struct pkt *p, int *l3)
{
	(void)c;
	(void)p;
	*l3 = L3_IPV4;
	return DECODE_OK;
}

/* DLT_IPV6: raw IP that promises version 6. */
static enum decode_result
link_ipv6(struct cursor *c, struct pkt *p, int *l3)
{
	(void)c;
	(void)p;
	*l3 = L3_IPV6;
	return DECODE_OK;
}

/* The dispatch table, keyed by link type: NULL if we do not decode it. */
static inline link_fn *
link_lookup(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
		return link_ether;
	case DLT_LINUX_SLL:
		return link_sll;
	case DLT_LINUX_SLL2:
		return link_sll2;
	case DLT_NULL:
	case DLT_LOOP:
		return link_null;
	case DLT_RAW:
#if DLT_RAW != DECODE_DLT_RAW_BSDOS
	case DECODE_DLT_RAW_BSDOS:
#endif
	case DECODE_LINKTYPE_RAW:
		return link_raw;
	case DLT_IPV4:
		return link_ipv4;
	case DLT_IPV6:
		return link_ipv6;
	}
	return NULL;
}

/*
 * IPv4, RFC 791 section 3.1:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-------+-------+---------------+-------------------------------+
 *   |Version|  IHL  |      TOS      |         Total Length          |
 *   +-------+-------+---------------+-----+-------------------------+
 *   |        Identification         |Flags|     Fragment Offset     |
 *   +---------------+---------------+-----+-------------------------+
 *   |      TTL      |   Protocol    |        Header Checksum        |
 *   +---------------+---------------+-------------------------------+
 *   |                        Source Address                         |
 *   +---------------------------------------------------------------+
 *   |                     Destination Address                       |
 *   +---------------------------------------------------------------+
 *   |                 Options (IHL > 5), 32-bit words               |
 *   +---------------------------------------------------------------+
 *
 * l3_wire is what the frame had on the wire from this header on. Sets
 * *hlen to the header length and *proto to the protocol field.
 */
static enum decode_result
decode_ipv4(struct cursor *c, struct pkt *p, uint32_t l3_wire,
    uint32_t *hlen, uint8_t *proto)
{
	const uint8_t *a;
	uint32_t ihl;
	uint16_t tot, id, off;

	ihl = (cur_get_u8(c) & 0x0f) * 4u;
	cur_skip(c, 1);			/* TOS */
	tot = cur_get_be16(c);
	id = cur_get_be16(c);
	off = cur_get_be16(c);
	cur_skip(c, 1);			/* TTL */
	*proto = cur_get_u8(c);
	cur_skip(c, 2);			/* checksum: not ours to verify */
	a = cur_take(c, 8);
	if (c->err)
		return DECODE_TRUNCATED;
	if (ihl < 20)
		return DECODE_BAD_HDR_LEN;

	/*
	 * Total length 0 is what Linux leaves in TSO/GSO super-frames and
	 * BIG TCP (> 64 KB) packets seen on the sending host; the frame is
	 * then the only length there is.
	 */
	p->ip_len = tot ? tot : l3_wire;
	if (p->ip_len < ihl || p->ip_len > l3_wire)
		return DECODE_BAD_TOTAL_LEN;
	cur_skip(c, ihl - 20);		/* options */
	if (c->err)
		return DECODE_TRUNCATED;

	addr_from_v4(&p->src, a);
	addr_from_v4(&p->dst, a + 4);
	p->frag_id = id;
	p->frag_offset = (uint16_t)((off & 0x1fff) * 8);
	if (p->frag_offset > 0)
		p->frag = PKT_FRAG_LATER;
	else if (off & 0x2000)		/* MF */
		p->frag = PKT_FRAG_FIRST;
	*hlen = ihl;
	return DECODE_OK;
}

/* The IPv6 extension headers we step over (RFC 8200 section 4, RFC 7045). */
static inline int
ipv6_is_ext(uint8_t nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:	/* 0 */
	case IPPROTO_ROUTING:	/* 43 */
	case IPPROTO_FRAGMENT:	/* 44 */
	case IPPROTO_AH:	/* 51, RFC 4302 */
	case IPPROTO_DSTOPTS:	/* 60 */
	case 135:		/* Mobility, RFC 6275 */
	case 139:		/* HIP, RFC 7401 */
	case 140:		/* Shim6, RFC 5533 */
		return 1;
	}
	return 0;
}

/*
 * The IPv6 extension-header chain. Every one of them starts the same way
 * (RFC 6564), with a length in 8-octet units not counting the first 8;
 * AH counts 4-octet units not counting the first 2 (RFC 4302 2.2):
 *
 *   +---------------+---------------+-------------------------------+
 *   |  Next Header  |  Hdr Ext Len  |    header-specific data ...   |
 *   +---------------+---------------+-------------------------------+
 *
 * The Fragment header (RFC 8200 4.5) is always 8 bytes:
 *
 *   +---------------+---------------+-------------------------+---+-+
 *   |  Next Header  |   Reserved    |     Fragment Offset     |Res|M|
 *   +---------------+---------------+-------------------------+---+-+
 *   |                        Identification                         |
 *   +---------------------------------------------------------------+
 *
 * Behind a non-first fragment is the middle of the payload, not a header:
 * the walk stops there. *nh is the first next header on entry and the
 * upper-layer protocol on return; *hlen grows by every header walked.
 */
static enum decode_result
ipv6_ext_chain(struct cursor *c, struct pkt *p, uint8_t *nh, uint32_t *hlen)
{
	uint32_t len;
	uint16_t fo;
	uint8_t next;

	for (int n = 0; ipv6_is_ext(*nh); n++) {
		if (n == DECODE_MAX_IPV6_EXT)
			return DECODE_TOO_MANY_LAYERS;
		next = cur_get_u8(c);
		len = cur_get_u8(c);
		if (c->err)
			return DECODE_TRUNCATED;
		if (*nh == IPPROTO_AH)
			len = (len + 2) * 4;
		else if (*nh == IPPROTO_FRAGMENT)
			len = 8;
		else
			len = (len + 1) * 8;
		if (*hlen + len > p->ip_len)
			return DECODE_BAD_HDR_LEN;
		if (*nh == IPPROTO_FRAGMENT) {
			fo = cur_get_be16(c);
			p->frag_id = cur_get_be32(c);
			p->frag_offset = fo & 0xfff8;
			if (p->frag_offset > 0)
				p->frag = PKT_FRAG_LATER;
			else if (fo & 1)
				p->frag = PKT_FRAG_FIRST;
		} else
			cur_skip(c, len - 2);
		if (c->err)
			return DECODE_TRUNCATED;
		*hlen += len;
		*nh = next;
		if (p->frag == PKT_FRAG_LATER)
			break;
	}
	return DECODE_OK;
}

/*
 * IPv6, RFC 8200 section 3:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-------+---------------+---------------------------------------+
 *   |Version| Traffic Class |              Flow Label               |
 *   +-------+---------------+-------+---------------+---------------+
 *   |        Payload Length         |  Next Header  |   Hop Limit   |
 *   +-------------------------------+---------------+---------------+
 *   |                 Source Address (128 bits)                     |
 *   +---------------------------------------------------------------+
 *   |              Destination Address (128 bits)                   |
 *   +---------------------------------------------------------------+
 */
static enum decode_result
decode_ipv6(struct cursor *c, struct pkt *p, uint32_t l3_wire,
    uint32_t *hlen, uint8_t *proto)
{
	const uint8_t *a;
	uint16_t plen;

	cur_skip(c, 4);			/* version, class, flow label */
	plen = cur_get_be16(c);
	*proto = cur_get_u8(c);
	cur_skip(c, 1);			/* hop limit */
	a = cur_take(c, 32);
	if (c->err)
		return DECODE_TRUNCATED;

	/*
	 * Payload length 0 with a hop-by-hop header is a jumbogram (RFC 2675:
	 * the real length is in a jumbo option), and beyond 64 KB a Linux BIG
	 * TCP packet, which may come without the option: for both the wire
	 * length is the length. Anything else with 0 is what it says (an
	 * empty payload), so a header behind it is an overrun, not a license
	 * to account a fabricated wire length.
	 */
	if (plen == 0 && (*proto == IPPROTO_HOPOPTS || l3_wire > 40u + 0xffff))
		p->ip_len = l3_wire;
	else
		p->ip_len = 40u + plen;
	if (p->ip_len > l3_wire)
		return DECODE_BAD_TOTAL_LEN;

	addr_from_v6(&p->src, a);
	addr_from_v6(&p->dst, a + 16);
	*hlen = 40;
	return ipv6_ext_chain(c, p, proto, hlen);
}

/* Points payload at the captured part of payload_len bytes at the cursor. */
static inline void
set_payload(struct cursor *c, struct pkt *p)
{
	size_t left = cur_left(c);

	if (c->err || left == 0 || p->payload_len == 0)
		return;
	p->payload = cur_ptr(c);
	p->payload_caplen = left < p->payload_len ? (uint32_t)left : p->payload_len;
}

/*
 * TCP, RFC 9293 section 3.1:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-------------------------------+-------------------------------+
 *   |          Source Port          |       Destination Port        |
 *   +-------------------------------+-------------------------------+
 *   |                        Sequence Number                        |
 *   +---------------------------------------------------------------+
 *   |                    Acknowledgment Number                      |
 *   +-------+-------+-+-+-+-+-+-+-+-+-------------------------------+
 *   | Offset| Rsrvd |C|E|U|A|P|R|S|F|            Window             |
 *   +-------+-------+-+-+-+-+-+-+-+-+-------------------------------+
 *   |           Checksum            |        Urgent Pointer         |
 *   +-------------------------------+-------------------------------+
 *   |                    Options (Offset > 5)                       |
 *   +---------------------------------------------------------------+
 */
static enum decode_result
l4_tcp(struct cursor *c, struct pkt *p)
{
	uint32_t thl;

	if (p->l4_len < 20)
		return DECODE_BAD_L4_LEN;
	p->sport = cur_get_be16(c);
	p->dport = cur_get_be16(c);
	cur_skip(c, 8);			/* sequence, acknowledgment */
	thl = (cur_get_u8(c) >> 4) * 4u;
	p->tcp_flags = cur_get_u8(c);
	cur_skip(c, 6);			/* window, checksum, urgent pointer */
	if (c->err)
		return DECODE_TRUNCATED;
	if (thl < 20)
		return DECODE_BAD_HDR_LEN;
	if (thl > p->l4_len)
		return DECODE_BAD_L4_LEN;
	p->payload_len = p->l4_len - thl;
	/* Options cut by the snaplen: still OK, just no payload pointer. */
	cur_skip(c, thl - 20);
	set_payload(c, p);
	return DECODE_OK;
}

/*
 * UDP, RFC 768:
 *
 *   +-------------------------------+-------------------------------+
 *   |          Source Port          |       Destination Port        |
 *   +-------------------------------+-------------------------------+
 *   |            Length             |           Checksum            |
 *   +-------------------------------+-------------------------------+
 *
 * In a first fragment the length covers the whole datagram, not what this
 * packet carries, so it is only checked for being a length at all.
 */
static enum decode_result
l4_udp(struct cursor *c, struct pkt *p)
{
	uint32_t ulen;

	if (p->l4_len < 8)
		return DECODE_BAD_L4_LEN;
	p->sport = cur_get_be16(c);
	p->dport = cur_get_be16(c);
	ulen = cur_get_be16(c);
	cur_skip(c, 2);
	if (c->err)
		return DECODE_TRUNCATED;
	if (ulen == 0 && p->l4_len > 0xffff)
		ulen = p->l4_len;	/* RFC 2675 section 4: jumbo UDP */
	if (ulen < 8)
		return DECODE_BAD_L4_LEN;
	if (p->frag == PKT_FRAG_FIRST)
		p->payload_len = p->l4_len - 8;
	else if (ulen > p->l4_len)
		return DECODE_BAD_L4_LEN;
	else
		p->payload_len = ulen - 8;
	set_payload(c, p);
	return DECODE_OK;
}

/*
 * ICMP (RFC 792) and ICMPv6 (RFC 4443) share their first four bytes; the
 * next four are the echo id/sequence (or unused/MTU/pointer), so the
 * payload starts at 8:
 *
 *   +---------------+---------------+-------------------------------+
 *   |     Type      |     Code      |           Checksum            |
 *   +---------------+---------------+-------------------------------+
 *   |   Identifier / unused / MTU   |    Sequence Number / unused   |
 *   +-------------------------------+-------------------------------+
 */
static enum decode_result
l4_icmp(struct cursor *c, struct pkt *p)
{
	if (p->l4_len < 4)
		return DECODE_BAD_L4_LEN;
	p->icmp_type = cur_get_u8(c);
	p->icmp_code = cur_get_u8(c);
	cur_skip(c, 2);
	if (c->err)
		return DECODE_TRUNCATED;
	if (p->l4_len <= 8)
		return DECODE_OK;
	p->payload_len = p->l4_len - 8;
	cur_skip(c, 4);
	set_payload(c, p);
	return DECODE_OK;
}

static enum decode_result
decode_l4(struct cursor *c, struct pkt *p)
{
	switch (p->l4_proto) {
	case IPPROTO_TCP:
		return l4_tcp(c, p);
	case IPPROTO_UDP:
		return l4_udp(c, p);
	case IPPROTO_ICMP:
		if (p->ip_version == 4)
			return l4_icmp(c, p);
		break;
	case IPPROTO_ICMPV6:
		if (p->ip_version == 6)
			return l4_icmp(c, p);
		break;
	}
	/* ESP, GRE, IP-in-IP, SCTP...: the whole L4 is payload to us. */
	p->payload_len = p->l4_len;
	set_payload(c, p);
	return DECODE_OK;
}

/*
 * From the IP header on. l3 is what the link promised (L3_ANY for raw IP),
 * l3_wire the frame's bytes on the wire from here.
 */
static enum decode_result
decode_ip(struct cursor *c, struct pkt *p, int l3, uint32_t l3_wire)
{
	const uint8_t *ip = cur_ptr(c);
	enum decode_result r;
	uint32_t hlen, cap;
	uint8_t v, proto;

	v = cur_peek_u8(c) >> 4;
	if (c->err)
		return DECODE_TRUNCATED;
	if (l3 != L3_ANY && v != l3)
		return DECODE_BAD_IP_VERSION;
	if (v == 4)
		r = decode_ipv4(c, p, l3_wire, &hlen, &proto);
	else if (v == 6)
		r = decode_ipv6(c, p, l3_wire, &hlen, &proto);
	else
		return DECODE_BAD_IP_VERSION;
	if (r != DECODE_OK)
		return r;

	p->ip_version = v;
	p->l4_proto = proto;
	p->l4_len = p->ip_len - hlen;
	p->l3 = ip;
	cap = (uint32_t)(c->end - ip);
	p->l3_caplen = cap < p->ip_len ? cap : p->ip_len;
	/* Nothing past the IP packet (Ethernet padding, trailers) is L4. */
	cur_clip(c, ip, p->ip_len);
	if (p->frag == PKT_FRAG_LATER)
		return DECODE_OK;
	return decode_l4(c, p);
}

enum decode_result
decode_packet(int dlt, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
    uint64_t ts_us, struct pkt *p)
{
	struct cursor c;
	link_fn *link;
	enum decode_result r;
	uint32_t wire, linklen;
	int l3 = L3_ANY;

	*p = (struct pkt){ .ts_us = ts_us, .caplen = caplen, .wirelen = wirelen };
	if ((link = link_lookup(dlt)) == NULL)
		return DECODE_UNSUPPORTED_LINK;
	cur_init(&c, data, caplen);
	if ((r = link(&c, p, &l3)) != DECODE_OK)
		return r;

	/*
	 * A record claiming fewer wire bytes than it captured is broken;
	 * what we hold is then the best lower bound of the wire length.
	 */
	wire = wirelen > caplen ? wirelen : caplen;
	linklen = caplen - (uint32_t)cur_left(&c);
	return decode_ip(&c, p, l3, wire - linklen);
}

int
decode_dlt_supported(int dlt)
{
	return link_lookup(dlt) != NULL;
}

const char *
decode_result_name(enum decode_result r)
{
	static const char *const names[DECODE__COUNT] = {
		[DECODE_OK] = "ok",
		[DECODE_NOT_IP] = "not_ip",
		[DECODE_TRUNCATED] = "truncated",
		[DECODE_BAD_IP_VERSION] = "bad_ip_version",
		[DECODE_BAD_HDR_LEN] = "bad_hdr_len",
		[DECODE_BAD_TOTAL_LEN] = "bad_total_len",
		[DECODE_BAD_L4_LEN] = "bad_l4_len",
		[DECODE_TOO_MANY_LAYERS] = "too_many_layers",
		[DECODE_UNSUPPORTED_LINK] = "unsupported_link",
	};

	if ((unsigned)r >= DECODE__COUNT)
		return "unknown";
	return names[r];
}
