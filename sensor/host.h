/*
 * host - what every internal host sent and received, over sliding windows.
 *
 * Owns two bounded tables: hosts (one entry per internal address) and
 * destinations (one entry per internal host and peer it talked to on flows
 * it initiated, internal or external). Both keep their counters in
 * one-minute buckets for the last 60 minutes and one-hour buckets for the
 * last 24 hours, so every window a rule names (1 min .. 24 h) is a sum of
 * buckets, with no per-packet allocation. A window of W covers the current,
 * partial bucket and the W-1 before it: it never overstates what was sent
 * within W.
 *
 * Destinations are many and mostly short-lived, so their buckets are
 * sparse: a few (minute, counters) and (hour, counters) slots inline, and
 * the full rings only for a destination active in more distinct minutes or
 * hours than that, from a bounded pool (--max-dest-details). Both forms
 * give the same sums. When the pool is full the stalest of a sample of
 * detailed destinations goes back inline if it fits, or is evicted
 * (counted).
 *
 * Direction: "out"/"in" count payload on flows the host initiated to an
 * external address; flows external hosts initiated are "served" and kept
 * apart, so a web server answering the internet is not an uploader; traffic
 * between internal hosts is "int". Volumes are payload bytes per the IP/L4
 * headers (wire, not captured, lengths).
 */
#ifndef OUTFLOW_HOST_H
#define OUTFLOW_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "flow.h"
#include "metric.h"
#include "table.h"

#define HOST_MINUTES	60
#define HOST_HOURS	24
#define HOST_APPS	8	/* applications tracked per host (space-saving) */

enum host_ctr {
	HC_OUT,		/* payload sent on flows it initiated to external addresses */
	HC_IN,		/* payload received on those flows */
	HC_SRV_OUT,	/* payload sent on flows external hosts initiated */
	HC_SRV_IN,
	HC_INT_OUT,	/* payload sent to internal peers */
	HC_INT_IN,	/* payload received from internal peers */
	HC_OUT_FLOWS,	/* flows started to external addresses */
	HC__COUNT
};

enum dest_ctr { DC_OUT, DC_IN, DC__COUNT };

#define DEST_MSLOTS 6	/* distinct active minutes a destination keeps inline */
#define DEST_HSLOTS 3	/* distinct active hours */

struct dest_detail;

/*
 * A destination's buckets: inline slots, or full rings when detail is set.
 * An inline bucket holds up to 4 GiB (a minute at 570 Mbit/s to one
 * address); a destination that would pass that moves to the full rings,
 * whose buckets are 64-bit, so no count is ever clipped.
 */
struct dest_win {
	uint32_t detail;		/* host.c's pool block + 1; 0 = inline */
	uint32_t mkey[DEST_MSLOTS];	/* epoch minute + 1; 0 = free */
	uint32_t hkey[DEST_HSLOTS];	/* epoch hour + 1; 0 = free */
	uint32_t m[DEST_MSLOTS][DC__COUNT];
	uint32_t h[DEST_HSLOTS][DC__COUNT];
};

/* Counters in minute and hour buckets, for ncounters counters. */
struct win_clock {
	uint32_t cur_min;	/* epoch minute of the newest minute bucket */
	uint32_t cur_hour;
};

struct host_app {
	uint16_t master, app;
	uint64_t out, in;	/* payload bytes, all directions of its flows */
};

struct host_wide;

/*
 * A host's buckets are 32-bit (4 GiB a minute or an hour per counter); one
 * that would pass that moves, whole, to 64-bit rings (wide), so no count
 * is ever clipped. Read buckets through host_minute_bucket/host_hour_bucket.
 */
struct host {
	/*
	 * What nearly every packet touches comes first, together: the node,
	 * the clock, the running totals and the list head are the first 280
	 * bytes, and eviction's weight (total) is within the first 112. The
	 * rings, application counts and peer registers follow.
	 */
	struct tnode node;
	struct ip_addr addr;		/* the key */
	uint64_t first_us, last_us;
	struct win_clock clk;
	uint64_t total[HC__COUNT];
	struct host_wide *wide;		/* NULL: the buckets below hold the counts */
	uint64_t ring_sum[2][HC__COUNT];	/* each ring's total ([0] minutes, [1] hours), kept
						 * as buckets fill and clear: a window as long as a
						 * ring (1 h, 24 h) is one read, not 60 or 24 */
	uint64_t out_ip_bytes, in_ip_bytes;	/* IP bytes (headers included), since first seen */
	uint32_t dest_head;		/* this host's destinations, most recently active
					 * first (slot list), TABLE_NIL if none */
	uint32_t excl_gen;		/* detect.c's cache: rules excepting any of this */
	uint64_t excl_ext, excl_int;	/* host's external / internal destinations */
	uint32_t peers_hour;		/* the hour the registers belong to */
	uint32_t peers_prev;		/* estimate for the previous hour */
	struct host_app apps[HOST_APPS];
	uint32_t min[HOST_MINUTES][HC__COUNT];
	uint32_t hour[HOST_HOURS][HC__COUNT];
	uint8_t peers_regs[256];	/* HyperLogLog registers (2^8) of external peers, this hour */
};

/*
 * The owner by its slot in the host table: a host's destinations go with it
 * (host.c removes them first), so the slot names one host for as long as the
 * destination lives, in 4 bytes rather than 16.
 */
struct dest_key {
	uint32_t host_slot;
	struct ip_addr peer;
};

/* A flow that ended, as alert evidence remembers it. */
struct dest_flow {
	uint64_t first_us, last_us;
	uint64_t out, in;		/* payload bytes, host -> peer and back */
	uint16_t sport, dport;
	uint8_t l4proto;
};

/* Laid out tightly (one spare byte): there is one per (host, peer), a hundred thousand on a busy site. */
struct dest {
	/* Every packet's: the node, the list links, the clock, the windows. */
	struct tnode node;
	struct dest_key key;
	uint32_t sib_prev, sib_next;	/* the owner's list of destinations */
	uint8_t peer_internal;
	uint8_t l4proto;		/* IP protocol of the latest flow */
	uint8_t app_done;		/* nDPI finished with the latest flow: app ids
					 * 0/0 then mean "could not classify" */
	uint64_t last_us;
	uint64_t total[DC__COUNT];
	struct dest_win win;
	/* A flow's first packet, its classification, the ticks, the alerts. */
	uint32_t name;			/* server name (names.h reference): read with host_dest_name() */
	uint32_t excl_gen;		/* detect.c's cache: which rules' except clauses */
	uint16_t port;			/* responder port of the latest flow */
	uint16_t app_master, app_proto, app_category;
	uint64_t app_risk;		/* nDPI risk bits of the latest classified flow */
	uint64_t first_us;
	uint64_t flows;
	uint64_t excl_mask;		/* match this destination (valid while excl_gen matches) */
	/* Evidence: the flow started last (valid while it is alive: check with
	 * host_dest_live_flow()) and the last flow that ended. */
	const struct flow *live;
	uint64_t live_first_us;
	struct dest_flow ended;
};

struct names;

struct host_config {
	struct names *names;		/* where destinations' server names are kept (lent) */
	size_t max_hosts;
	size_t max_dests;
	size_t max_dest_details;	/* destinations with full minute/hour rings */
	uint64_t seed;
};

struct host_stats {
	size_t hosts, max_hosts, dests, max_dests;
	uint64_t hosts_evicted, dests_evicted;
	size_t dest_details, max_dest_details;
	uint64_t dest_details_folded;	/* pool full: rings folded back inline */
	uint64_t dest_details_evicted;	/* pool full: destination evicted */
	uint64_t hosts_widened;		/* hosts moved to 64-bit rings (a bucket passed 4 GiB) */
	size_t bytes;	/* allocated by both tables, the detail pool and the hosts' 64-bit rings */
};

struct host_tables;

struct host_tables *host_tables_new(const struct host_config *cfg, char *err, size_t errlen);
void host_tables_free(struct host_tables *ht);

/*
 * Accounts one packet of flow f (dir per flow.h) to the internal end(s).
 * f->init_internal / resp_internal must be set. Hosts and destinations are
 * created as needed; when a table is full its stalest entry is evicted.
 */
void host_account(struct host_tables *ht, struct flow *f, int dir, const struct pkt *p);

/*
 * Called once when f's application becomes known: credits the bytes the
 * flow carried so far to that application and names the destination.
 * now_us is the sensor's packet time (later than the flow's last packet
 * when detection ends with the flow).
 */
void host_flow_classified(struct host_tables *ht, struct flow *f, uint64_t now_us);

/* Value of a host or destination counter over the last window_s at now_us. */
uint64_t host_window(const struct host *h, enum host_ctr c, uint32_t window_s, uint64_t now_us);
uint64_t dest_window(const struct host_tables *ht, const struct dest *d, enum dest_ctr c,
    uint32_t window_s, uint64_t now_us);
/* Start of the span a window covers (the oldest bucket's start), in us. */
uint64_t host_window_start(uint32_t window_s, uint64_t now_us);
/*
 * A host's bucket for an epoch minute or hour, as kept (its slot is
 * minute % HOST_MINUTES, hour % HOST_HOURS: the caller checks the unit is
 * still within the ring, against h->clk).
 */
uint64_t host_minute_bucket(const struct host *h, uint32_t minute, enum host_ctr c);
uint64_t host_hour_bucket(const struct host *h, uint32_t hour, enum host_ctr c);
/* Distinct external peers this hour (HyperLogLog estimate). */
uint32_t host_peers(const struct host *h, uint64_t now_us);

/*
 * The hosts that saw traffic at or after since_us, freshest first (NULL at
 * the end): the detectors run over these on each tick. The host table's LRU
 * order makes this cost only the hosts that changed.
 */
struct host *host_changed_first(struct host_tables *ht, uint64_t since_us);
struct host *host_changed_next(struct host_tables *ht, const struct host *h, uint64_t since_us);

/*
 * The destinations of h, most recently active first (first, then next;
 * NULL at the end): a walk may stop at the first one quiet since a time.
 */
struct dest *host_dest_first(struct host_tables *ht, const struct host *h);
struct dest *host_dest_next(struct host_tables *ht, const struct dest *d);

/* The (host, peer) destination entry, or NULL. */
struct dest *host_dest_lookup(struct host_tables *ht, const struct ip_addr *host, const struct ip_addr *peer);

/* The flow that just ended is remembered by its destination, as evidence. */
void host_flow_ended(struct host_tables *ht, const struct flow *f);
/* The destination's newest flow if it is still open, else NULL. */
const struct flow *host_dest_live_flow(const struct host_tables *ht, const struct dest *d);
/* The destination's owner, and its server name ("" if none yet). */
const struct host *host_dest_host(const struct host_tables *ht, const struct dest *d);
const char *host_dest_name(const struct host_tables *ht, const struct dest *d);
/* The names table the hosts' destinations (and the flows) keep names in. */
struct names *host_names(const struct host_tables *ht);

struct host *host_lookup(struct host_tables *ht, const struct ip_addr *a);
void host_get_stats(const struct host_tables *ht, struct host_stats *out);

#endif
