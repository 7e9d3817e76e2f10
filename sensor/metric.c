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
#define PEER_W 1800u		/* peer.h PEER_BUCKET_S */
#define PEER_MAX_W (6u * 3600u)
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
	/* peer.c: 30-minute buckets over 6 h; a window is rounded out to whole buckets. */
	[M_PEER_OUT_BYTES] = { "peer.out.bytes", MSCOPE_PEER, MUNIT_BYTES, PEER_W, PEER_MAX_W,
	    "payload bytes the host sent to one destination domain (or address) across its flows, open ones included" },
	[M_PEER_IN_BYTES] = { "peer.in.bytes", MSCOPE_PEER, MUNIT_BYTES, PEER_W, PEER_MAX_W,
	    "payload bytes the host received from that destination on those flows" },
	[M_PEER_OUT_RATIO] = { "peer.out.ratio", MSCOPE_PEER, MUNIT_RATIO, PEER_W, PEER_MAX_W,
	    "peer.out.bytes / peer.in.bytes over the same window (in counted as at least 1)" },
	[M_BEACON_SCORE] = { "beacon.score", MSCOPE_PEER, MUNIT_RATIO, 0, 0,
	    "regularity of the last 16 answered connections to the destination, 0..1 (RITA-style: interval and size skew and MAD, ring fill)" },
	[M_BEACON_CONNECTIONS] = { "beacon.connections", MSCOPE_PEER, MUNIT_COUNT, PEER_W, PEER_MAX_W,
	    "answered connections (payload came back) the host opened to the destination" },
	[M_BEACON_INTERVAL] = { "beacon.interval", MSCOPE_PEER, MUNIT_DURATION, 0, 0,
	    "median interval between the starts of the last 16 answered connections" },
	[M_CHUNK_COUNT] = { "chunk.count", MSCOPE_PEER, MUNIT_COUNT, PEER_W, PEER_MAX_W,
	    "answered connections that carried payload out to the destination" },
	[M_CHUNK_SIZE_CV] = { "chunk.size.cv", MSCOPE_PEER, MUNIT_RATIO, 0, 0,
	    "coefficient of variation (stddev / mean) of the bytes sent per connection, last 16 answered connections" },
	[M_CONN_DURATION] = { "conn.duration", MSCOPE_CONN, MUNIT_DURATION, 0, 0,
	    "how long one open connection (initiated by the host to an external address) has been carrying traffic: its first to its latest packet" },
	[M_CONN_OUT_BYTES] = { "conn.out.bytes", MSCOPE_CONN, MUNIT_BYTES, 0, 0,
	    "payload bytes the host sent on that connection since it started" },
	[M_CONN_OUT_BYTES_RECENT] = { "conn.out.bytes", MSCOPE_CONN, MUNIT_BYTES, MIN_W, 3600u,
	    "payload bytes the host sent on that connection within the window (counted from when it was tracked, 1 min after its start)" },
	[M_BASELINE_OUT_BYTES] = { "baseline.out.bytes", MSCOPE_BASELINE, MUNIT_BYTES, 0, 0,
	    "payload bytes the host sent to external addresses in the current clock hour so far" },
	[M_BASELINE_OUT_EXCESS] = { "baseline.out.excess", MSCOPE_BASELINE, MUNIT_RATIO, 0, 0,
	    "baseline.out.bytes / the upper edge of the learned band for this hour (forecast + confidence band); 0 before anything is learned" },
	[M_BASELINE_RATIO] = { "baseline.ratio", MSCOPE_BASELINE, MUNIT_RATIO, 0, 0,
	    "the host's upload ratio (out / in, in counted as at least 1) in the current clock hour so far" },
	[M_BASELINE_RATIO_EXCESS] = { "baseline.ratio.excess", MSCOPE_BASELINE, MUNIT_RATIO, 0, 0,
	    "baseline.ratio / the upper edge of the learned band of the ratio; 0 before anything is learned" },
	[M_BASELINE_HOURS] = { "baseline.hours", MSCOPE_BASELINE, MUNIT_COUNT, 0, 0,
	    "hours learned for the host (active, non-alerting clock hours)" },
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
	/* staging.c */
	[M_STAGING_IN_BYTES] = { "staging.in.bytes", MSCOPE_STAGING, MUNIT_BYTES, 0, 0,
	    "payload bytes the host pulled from internal peers (flows it initiated) in its current episode" },
	[M_STAGING_IN_SOURCES] = { "staging.in.sources", MSCOPE_STAGING, MUNIT_COUNT, 0, 0,
	    "distinct internal peers the host pulled from in the episode" },
	[M_STAGING_OUT_BYTES] = { "staging.out.bytes", MSCOPE_STAGING, MUNIT_BYTES, 0, 0,
	    "payload bytes the host sent to external addresses after the episode's first pull" },
	[M_STAGING_OUT_SHARE] = { "staging.out.share", MSCOPE_STAGING, MUNIT_RATIO, 0, 0,
	    "staging.out.bytes / staging.in.bytes (the part of what was collected that left)" },
	[M_STAGING_DELAY] = { "staging.delay", MSCOPE_STAGING, MUNIT_DURATION, 0, 0,
	    "from the last pull to the first packet to the main external destination (0 if it overlaps)" },
	/* newdest.c */
	[M_NEWDEST_OUT_BYTES] = { "newdest.out.bytes", MSCOPE_NEWDEST, MUNIT_BYTES, 0, 0,
	    "payload bytes the host sent to a destination (address or registered domain) it had never contacted, since the first contact" },
	[M_NEWDEST_NET_NEW] = { "newdest.net.new", MSCOPE_NEWDEST, MUNIT_COUNT, 0, 0,
	    "1 if no internal host had contacted that destination before, else 0" },
	[M_NEWDEST_HISTORY] = { "newdest.history", MSCOPE_NEWDEST, MUNIT_DURATION, 0, 0,
	    "how long the first-seen memory has been learning (since its state was created)" },
	/* risk.c */
	[M_RISK_SCORE] = { "risk.score", MSCOPE_RISK, MUNIT_COUNT, MIN_W, MAX_W,
	    "sum of the scores of the host's alerts (one per engagement) within the window" },
	[M_RISK_ALERTS] = { "risk.alerts", MSCOPE_RISK, MUNIT_COUNT, MIN_W, MAX_W,
	    "the host's alerts (engagements) within the window" },
	[M_RISK_CATEGORIES] = { "risk.categories", MSCOPE_RISK, MUNIT_COUNT, MIN_W, MAX_W,
	    "distinct alert categories among them" },
};

const struct metric_def *
metric_def(enum metric_id id)
{
	return (unsigned)id < M__COUNT ? &metric_defs[id] : NULL;
}

int
metric_lookup_form(const char *name, size_t len, int windowed)
{
	int first = -1;

	for (int i = 0; i < M__COUNT; i++) {
		if (strlen(metric_defs[i].name) != len || memcmp(metric_defs[i].name, name, len) != 0)
			continue;
		if ((metric_defs[i].max_window_s > 0) == (windowed != 0))
			return i;
		if (first < 0)
			first = i;
	}
	return first;
}

int
metric_lookup(const char *name, size_t len)
{
	for (int i = 0; i < M__COUNT; i++)
		if (strlen(metric_defs[i].name) == len && memcmp(metric_defs[i].name, name, len) == 0)
			return i;
	return -1;
}
