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
metric_lookup(const char *name, size_t len)
{
	for (int i = 0; i < M__COUNT; i++)
		if (strlen(metric_defs[i].name) == len && memcmp(metric_defs[i].name, name, len) == 0)
			return i;
	return -1;
}
