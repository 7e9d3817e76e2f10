/*
 * metric - the names a rule's "when" clause can measure, and how.
 *
 * This table is the single place that ties a rule's text
 * ("host.out.bytes[1h]") to what the sensor counts. The rules parser only
 * checks names, windows and units against it; the detectors compute the
 * values. Adding a detector metric = one enum value + one row in metric.c
 * + its computation (and a line in rules/README.md).
 */
#ifndef OUTFLOW_METRIC_H
#define OUTFLOW_METRIC_H

#include <stdint.h>

enum metric_id {
	/* Per internal host, over a sliding window. "out"/"in" are payload
	 * bytes on flows the host initiated to external addresses. */
	M_HOST_OUT_BYTES,
	M_HOST_IN_BYTES,
	M_HOST_OUT_RATIO,		/* out / max(in, 1) */
	M_HOST_OUT_PEERS,		/* distinct external destinations (HyperLogLog) */
	M_HOST_OUT_FLOWS,		/* outbound flows started */
	M_HOST_SERVED_OUT_BYTES,	/* sent on flows external hosts initiated */
	M_HOST_SERVED_IN_BYTES,
	M_HOST_INT_IN_BYTES,		/* received from internal peers */
	M_HOST_INT_OUT_BYTES,		/* sent to internal peers */
	/* Per (internal host, one external destination address). */
	M_DEST_OUT_BYTES,
	M_DEST_IN_BYTES,
	M_DEST_OUT_RATIO,
	/* peer.c: per (internal host, destination domain or address). */
	M_PEER_OUT_BYTES,
	M_PEER_IN_BYTES,
	M_PEER_OUT_RATIO,
	M_BEACON_SCORE,
	M_BEACON_CONNECTIONS,
	M_BEACON_INTERVAL,
	M_CHUNK_COUNT,
	M_CHUNK_SIZE_CV,
	/* conn.c: one open connection an internal host initiated to an
	 * external address, tracked once it is CONN_REGISTER_S old. */
	M_CONN_DURATION,		/* seconds between its first and latest packet */
	M_CONN_OUT_BYTES,		/* payload sent since it started (no window) */
	M_CONN_OUT_BYTES_RECENT,	/* "conn.out.bytes[w]": sent in the last w */
	/* baseline.c: a host's running clock hour against what it learned. */
	M_BASELINE_OUT_BYTES,		/* sent out this clock hour so far */
	M_BASELINE_OUT_EXCESS,		/* that / (forecast + band) */
	M_BASELINE_RATIO,		/* out / in this clock hour */
	M_BASELINE_RATIO_EXCESS,	/* that / (forecast + band) of the ratio */
	M_BASELINE_HOURS,		/* hours learned */
	/* dnsmon: per (internal host sending the queries, registered domain). */
	M_DNS_QUERIES,
	M_DNS_QNAME_BYTES,
	M_DNS_ANSWER_BYTES,
	M_DNS_SUBDOMAINS,
	M_DNS_LABEL_MAX,
	M_DNS_LABEL_AVG,
	M_DNS_ENTROPY,
	M_DNS_QTYPE_SHARE,
	M_DNS_RISKY_FLOWS,
	/* icmpmon: per (internal host, external peer), ICMP/ICMPv6 echo. */
	M_ICMP_OUT_BYTES,
	M_ICMP_IN_BYTES,
	M_ICMP_OUT_PACKETS,
	M_ICMP_ODD_PACKETS,
	M_ICMP_LARGE_PACKETS,
	M_ICMP_ENTROPY,
	/* staging.c: one host's collect-then-send episode (no window: the
	 * episode is the span). */
	M_STAGING_IN_BYTES,
	M_STAGING_IN_SOURCES,
	M_STAGING_OUT_BYTES,
	M_STAGING_OUT_SHARE,
	M_STAGING_DELAY,
	/* newdest.c: (host, external destination) first seen recently. */
	M_NEWDEST_OUT_BYTES,
	M_NEWDEST_NET_NEW,
	M_NEWDEST_HISTORY,
	/* risk.c: a host's accumulated alert scores. */
	M_RISK_SCORE,
	M_RISK_ALERTS,
	M_RISK_CATEGORIES,
	M__COUNT
};

enum metric_scope {
	MSCOPE_HOST,	/* evaluated once per host */
	MSCOPE_DEST,	/* evaluated per destination of a host */
	/* Detector modules (detector.h): one scope each, evaluated per subject
	 * the module visits. */
	MSCOPE_DNS,	/* (host, registered domain) of DNS queries: dnsmon.c */
	MSCOPE_ICMP,	/* (host, peer) ICMP echo traffic: icmpmon.c */
	MSCOPE_PEER,	/* (host, destination name or address) across flows: peer.c */
	MSCOPE_CONN,	/* one open connection: conn.c */
	MSCOPE_STAGING,	/* a host's collect-then-send episode: staging.c */
	MSCOPE_NEWDEST,	/* (host, destination) first seen recently: newdest.c */
	MSCOPE_BASELINE,/* a host's hourly volume against its learned band: baseline.c */
	MSCOPE_RISK,	/* a host's accumulated alert scores: risk.c */
	MSCOPE__COUNT
};

enum metric_unit {
	MUNIT_BYTES,	/* thresholds take B/KB/MB/GB/TB and KiB/MiB/GiB/TiB */
	MUNIT_COUNT,	/* a plain number */
	MUNIT_RATIO,	/* a plain number, may be fractional */
	MUNIT_DURATION	/* seconds; thresholds take s/min/h/d */
};

struct metric_def {
	const char *name;		/* "host.out.bytes" */
	enum metric_scope scope;
	enum metric_unit unit;
	uint32_t min_window_s;		/* smallest window it supports */
	uint32_t max_window_s;		/* largest */
	const char *doc;		/* one line for --check-rules and the README */
};

/* The definition of id (never NULL for a valid id). */
const struct metric_def *metric_def(enum metric_id id);

/* The id whose name is name[0..len), or -1. */
int metric_lookup(const char *name, size_t len);

/*
 * Like metric_lookup, for a name written with a window (windowed) or
 * without: one name may stand for two metrics ("conn.out.bytes" since the
 * start, "conn.out.bytes[10min]" recently). Falls back to the other form,
 * so the caller can say which one it needs.
 */
int metric_lookup_form(const char *name, size_t len, int windowed);

#endif
