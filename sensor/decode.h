/*
 * decode - one captured frame into a small, flat struct pkt.
 *
 * Stateless and allocation-free: link layer (by libpcap DLT), VLAN tags,
 * IPv4/IPv6 (with the IPv6 extension-header chain), and the TCP/UDP/ICMP
 * header. Every read goes through a bounds-checked cursor (cursor.h), so a
 * truncated or lying packet stops decoding with a reason instead of reading
 * past the captured bytes.
 *
 * Volumes come from the headers (IP total length / payload length), not from
 * caplen: a capture sliced at 96 bytes gives the same byte counts as the full
 * one. Where a header says 0 (TSO/GRO "big TCP" captures), the wire length is
 * used instead.
 */
#ifndef OUTFLOW_DECODE_H
#define OUTFLOW_DECODE_H

#include <stdint.h>

#include "addr.h"

/* Why a frame was not (fully) decoded; counted per kind in the stats. */
enum decode_result {
	DECODE_OK = 0,
	DECODE_NOT_IP,		/* ARP, LLDP, ...: well-formed, just not ours */
	DECODE_TRUNCATED,	/* captured bytes end inside a header we need */
	DECODE_BAD_IP_VERSION,	/* version nibble is not 4/6, or not what the link said */
	DECODE_BAD_HDR_LEN,	/* IPv4 IHL < 5, TCP data offset < 5, ext header overrun */
	DECODE_BAD_TOTAL_LEN,	/* IP length smaller than its header or larger than the frame */
	DECODE_BAD_L4_LEN,	/* UDP length / TCP offset inconsistent with the IP length */
	DECODE_TOO_MANY_LAYERS,	/* more VLAN tags or extension headers than we walk */
	DECODE_UNSUPPORTED_LINK,/* DLT we do not decode (the capture refuses these up front) */
	DECODE__COUNT
};

#define PKT_FRAG_NONE	0
#define PKT_FRAG_FIRST	1	/* offset 0, more fragments follow: has the L4 header */
#define PKT_FRAG_LATER	2	/* offset > 0: no L4 header, ports unknown here */

struct pkt {
	uint64_t ts_us;		/* packet time, microseconds since the epoch */
	uint32_t caplen;	/* captured bytes of the frame */
	uint32_t wirelen;	/* bytes of the frame on the wire */

	uint16_t vlan;		/* innermost 802.1Q/802.1ad VLAN id, 0 if untagged */
	uint8_t ip_version;	/* 4 or 6 */
	uint8_t l4_proto;	/* IPPROTO_TCP/UDP/ICMP/ICMPV6/..., after ext headers */
	struct ip_addr src, dst;
	uint16_t sport, dport;	/* host order; 0 when not TCP/UDP or a later fragment */
	uint8_t tcp_flags;	/* TH_FIN|TH_SYN|TH_RST|TH_PUSH|TH_ACK|TH_URG (low 6 bits + ECE/CWR) */
	uint8_t icmp_type, icmp_code;

	uint8_t frag;		/* PKT_FRAG_* */
	uint32_t frag_id;	/* IPv4 identification or IPv6 fragment id */
	uint16_t frag_offset;	/* in bytes */

	uint32_t ip_len;	/* IP packet length from its header (wire bytes at L3) */
	uint32_t payload_len;	/* L4 payload bytes per the headers (0 for a later fragment: see l4 bytes) */
	uint32_t l4_len;	/* bytes after the IP header(s): payload of a later fragment */

	const uint8_t *l3;	/* first byte of the (outermost decoded) IP header */
	uint32_t l3_caplen;	/* captured bytes from l3 on, clipped to ip_len */
	const uint8_t *payload;	/* first captured byte of the L4 payload (may be NULL) */
	uint32_t payload_caplen;/* captured payload bytes, <= payload_len */
};

/*
 * Decodes one frame of link type dlt (a DLT_* value as pcap_datalink()
 * returns it). Fills *p and returns DECODE_OK, or another result saying why
 * it stopped; *p is then partly filled and must not be used. Never reads
 * outside data[0..caplen).
 */
enum decode_result decode_packet(int dlt, const uint8_t *data, uint32_t caplen,
    uint32_t wirelen, uint64_t ts_us, struct pkt *p);

/* 1 if decode_packet() understands this link type, else 0. */
int decode_dlt_supported(int dlt);

/* Short stable name of a result, for stats ("truncated", "bad_hdr_len", ...). */
const char *decode_result_name(enum decode_result r);

#endif
