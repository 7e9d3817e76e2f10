/*
 * metric - see metric.h. Windows: host and destination counters are kept in
 * one-minute buckets for the last hour and one-hour buckets for the last
 * day (host.c), so a window is 1 min .. 60 min in whole minutes, or whole
 * hours up to 24 h.
 */
#include <stddef.h>
#include <string.h>

#include "metric.h"

#define MIN_W 60u
#define MAX_W (24u * 3600u)
#define DNS_W (10u * 60u)	/* minring.h keeps 10 minutes */
#define ICMP_W (10u * 60u)

static const struct metric_def metric_defs[M__COUNT] = {
	[M_HOST_OUT_BYTES] = { "host.out.bytes", MSCOPE_HOST, MUNIT_BYTES, MIN_W, MAX_W,
	    "payload bytes the host sent on flows it initiated to external addresses" },
	[M_HOST_IN_BYTES] = { "host.in.bytes", MSCOPE_HOST, MUNIT_BYTES, MIN_W, MAX_W,
	    "payload bytes the host received on flows it initiated to external addresses" },
	[M_HOST_OUT_RATIO] = { "host.out.ratio", MSCOPE_HOST, MUNIT_RATIO, MIN_W, MAX_W,
	    "host.out.bytes / host.in.bytes over the same window (in counted as at least 1)" },
	[M_HOST_OUT_PEERS] = { "host.out.peers", MSCOPE_HOST, MUNIT_COUNT, MIN_W, MAX_W,
	    "distinct external addresses the host sent payload to in the current clock hour (HyperLogLog estimate; the window is not used)" },
	[M_HOST_OUT_FLOWS] = { "host.out.flows", MSCOPE_HOST, MUNIT_COUNT, MIN_W, MAX_W,
	    "flows the host initiated to external addresses" },
	[M_HOST_SERVED_OUT_BYTES] = { "host.served.out.bytes", MSCOPE_HOST, MUNIT_BYTES, MIN_W, MAX_W,
	    "payload bytes the host sent on flows external hosts initiated (served)" },
	[M_HOST_SERVED_IN_BYTES] = { "host.served.in.bytes", MSCOPE_HOST, MUNIT_BYTES, MIN_W, MAX_W,
	    "payload bytes the host received on flows external hosts initiated" },
	[M_HOST_INT_IN_BYTES] = { "host.int.in.bytes", MSCOPE_HOST, MUNIT_BYTES, MIN_W, MAX_W,
	    "payload bytes the host received from internal peers" },
	[M_HOST_INT_OUT_BYTES] = { "host.int.out.bytes", MSCOPE_HOST, MUNIT_BYTES, MIN_W, MAX_W,
	    "payload bytes the host sent to internal peers" },
	[M_DEST_OUT_BYTES] = { "dest.out.bytes", MSCOPE_DEST, MUNIT_BYTES, MIN_W, MAX_W,
	    "payload bytes the host sent to one external address on flows it initiated" },
	[M_DEST_IN_BYTES] = { "dest.in.bytes", MSCOPE_DEST, MUNIT_BYTES, MIN_W, MAX_W,
	    "payload bytes the host received from that address on those flows" },
	[M_DEST_OUT_RATIO] = { "dest.out.ratio", MSCOPE_DEST, MUNIT_RATIO, MIN_W, MAX_W,
	    "dest.out.bytes / dest.in.bytes over the same window (in counted as at least 1)" },
	/* dnsmon.c: minute counters for the last 10 minutes; the shape metrics
	 * (no window) cover the current and the previous 5-minute epoch. */
	[M_DNS_QUERIES] = { "dns.queries", MSCOPE_DNS, MUNIT_COUNT, MIN_W, DNS_W,
	    "DNS queries the host sent for names under the registered domain" },
	[M_DNS_QNAME_BYTES] = { "dns.qname.bytes", MSCOPE_DNS, MUNIT_BYTES, MIN_W, DNS_W,
	    "bytes of those query names below the registered domain (what a tunnel can carry out)" },
	[M_DNS_ANSWER_BYTES] = { "dns.answer.bytes", MSCOPE_DNS, MUNIT_BYTES, MIN_W, DNS_W,
	    "DNS payload bytes of the responses the host received for them" },
	[M_DNS_SUBDOMAINS] = { "dns.subdomains", MSCOPE_DNS, MUNIT_COUNT, 0, 0,
	    "distinct names below the registered domain in the last 5-10 min (HyperLogLog, 64 registers)" },
	[M_DNS_LABEL_MAX] = { "dns.label.max", MSCOPE_DNS, MUNIT_COUNT, 0, 0,
	    "longest label below the registered domain in the last 5-10 min" },
	[M_DNS_LABEL_AVG] = { "dns.label.avg", MSCOPE_DNS, MUNIT_RATIO, 0, 0,
	    "mean length of the labels below the registered domain in the last 5-10 min" },
	[M_DNS_ENTROPY] = { "dns.entropy", MSCOPE_DNS, MUNIT_RATIO, 0, 0,
	    "mean Shannon entropy (bits per character) of the part below the registered domain, per query, last 5-10 min" },
	[M_DNS_QTYPE_SHARE] = { "dns.qtype.share", MSCOPE_DNS, MUNIT_RATIO, 0, 0,
	    "share of the queries of type TXT, NULL, CNAME or MX in the last 5-10 min (0..1)" },
	[M_DNS_RISKY_FLOWS] = { "dns.risky.flows", MSCOPE_DNS, MUNIT_COUNT, 0, 0,
	    "the host's DNS flows for the domain nDPI flagged with a risk, last 5-10 min" },
	/* icmpmon.c */
	[M_ICMP_OUT_BYTES] = { "icmp.out.bytes", MSCOPE_ICMP, MUNIT_BYTES, MIN_W, ICMP_W,
	    "ICMP/ICMPv6 echo payload bytes the host sent to one external peer" },
	[M_ICMP_IN_BYTES] = { "icmp.in.bytes", MSCOPE_ICMP, MUNIT_BYTES, MIN_W, ICMP_W,
	    "echo payload bytes the host received from that peer" },
	[M_ICMP_OUT_PACKETS] = { "icmp.out.packets", MSCOPE_ICMP, MUNIT_COUNT, MIN_W, ICMP_W,
	    "echo packets the host sent to that peer" },
	[M_ICMP_ODD_PACKETS] = { "icmp.odd.packets", MSCOPE_ICMP, MUNIT_COUNT, MIN_W, ICMP_W,
	    "echo packets the host sent whose payload is not a ping pattern (Linux/BSD counter, Windows alphabet, a repeated fill)" },
	[M_ICMP_LARGE_PACKETS] = { "icmp.large.packets", MSCOPE_ICMP, MUNIT_COUNT, MIN_W, ICMP_W,
	    "echo packets the host sent with more than 64 payload bytes (ping defaults: 32 or 56)" },
	[M_ICMP_ENTROPY] = { "icmp.entropy", MSCOPE_ICMP, MUNIT_RATIO, 0, 0,
	    "mean Shannon entropy (bits per byte) of the echo payloads the host sent, last 5-10 min" },
};

const struct metric_def *
metric_def(enum metric_id id)
{
	return (unsigned)id < M__COUNT ? &metric_defs[id] : NULL;
}

int
metric_lookup(const char *name, size_t len)
{
	for (int i = 0; i < M__COUNT; i++)
		if (strlen(metric_defs[i].name) == len && memcmp(metric_defs[i].name, name, len) == 0)
			return i;
	return -1;
}
