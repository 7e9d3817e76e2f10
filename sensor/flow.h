/*
 * flow - the bidirectional flow table.
 *
 * Owns every struct flow. A flow is keyed on (VLAN, protocol, the two
 * address/port ends) in a canonical order, so both directions find the same
 * entry; it remembers who initiated it. The table is sized once at start
 * (open addressing over a fixed slot array), so memory never grows with
 * traffic: when it is full, the least recently seen flow is evicted and
 * counted. Flows expire on packet time, per protocol, through LRU lists that
 * are kept in last-seen order, so expiry costs only what it removes.
 *
 * The table does not know about nDPI or hosts: it hands each expired or
 * evicted flow to a callback (the sensor closes DPI state and accounts it)
 * before reusing the slot.
 */
#ifndef OUTFLOW_FLOW_H
#define OUTFLOW_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "decode.h"
#include "table.h"

#define FLOW_NAME_MAX 64	/* server name kept per flow (SNI / Host / DNS query) */

/* struct flow's mod_flags: a module marks flows it follows, so its packet
 * hook skips every other flow without a table lookup. */
#define FLOW_MF_NEWDEST	0x01	/* newdest.c: its destination is new, its bytes are counted */
#define FLOW_MF_NEWDEST_SEEN 0x02	/* newdest.c: its first contact is recorded */

/* Direction of a packet relative to the flow's initiator. */
#define FLOW_DIR_FWD 0		/* initiator -> responder */
#define FLOW_DIR_REV 1		/* responder -> initiator */

/* Timeout classes: one LRU list each, so expiry scans only expired heads. */
enum flow_tclass {
	FLOW_TC_TCP_OPEN,	/* TCP, established or opening */
	FLOW_TC_TCP_CLOSED,	/* TCP after FIN both ways or RST: short linger */
	FLOW_TC_UDP,
	FLOW_TC_OTHER,		/* ICMP and other IP protocols */
	FLOW_TC__COUNT
};

enum flow_end {
	FLOW_END_IDLE,		/* idle timeout on packet time */
	FLOW_END_CLOSED,	/* FIN/RST seen and the linger passed */
	FLOW_END_EVICTED,	/* table full: oldest idle flow made room */
	FLOW_END_SHUTDOWN	/* sensor stopping: every flow is flushed */
};

struct flow_key {
	struct ip_addr lo, hi;	/* canonical order: (addr, port) lo < hi */
	uint16_t port_lo, port_hi;
	uint16_t vlan;
	uint8_t proto;
	uint8_t pad;
};

struct flow {
	struct tnode node;	/* table.c's; list = enum flow_tclass */
	struct flow_key key;
	uint8_t init_is_lo;	/* 1 if the initiator is key.lo */
	uint8_t tcp_flags[2];	/* OR of flags seen, per direction */
	uint8_t fin_seen;	/* bit 0: FIN fwd, bit 1: FIN rev */
	uint8_t dpi_state;	/* owned by dpi.c */
	uint8_t mod_flags;	/* detector modules' bits about this flow (FLOW_MF_*) */
	uint16_t dpi_packets;	/* packets handed to DPI so far */

	uint64_t first_us, last_us;
	uint64_t pkts[2];	/* per FLOW_DIR_* */
	uint64_t ip_bytes[2];	/* IP length (wire), per direction */
	uint64_t payload_bytes[2];	/* L4 payload, per direction */

	/* DPI result (filled by dpi.c once detection ends; 0 = unknown). */
	uint16_t app_master, app_proto, app_category;
	uint64_t app_risk;	/* nDPI risk bitmask */
	void *dpi;		/* nDPI per-flow state while detection runs; NULL after */
	uint32_t name;		/* server name (names.h reference, cut to FLOW_NAME_MAX - 1
				 * bytes; NAME_NONE if none): held by the flow, let go when
				 * it is removed */
	/* Set by the sensor when the flow is created (home-net membership of
	 * each end) and cache slots of its host/destination entries. */
	uint8_t init_internal, resp_internal;
	uint8_t counted;	/* host accounting has seen this flow start */
	uint8_t peer_tag;	/* peer.c: tag of the ledger entry at peer_slot */
	uint32_t host_slot[2];	/* [0] initiator's host entry, [1] responder's */
	uint32_t dest_slot[2];	/* the (host, peer) entry of each internal end */
	uint32_t peer_slot;	/* peer.c's ledger entry + 1 (0: none), high bit: bytes to credit */
};

struct names;

struct flow_config {
	struct names *names;	/* where flows' server names are kept (lent); NULL: none */
	size_t capacity;	/* max concurrent flows */
	uint32_t timeout_s[FLOW_TC__COUNT];
	uint64_t seed;		/* hash seed */
};

struct flow_stats {
	uint64_t created, expired_idle, closed, evicted;
	size_t active, capacity;
};

struct flow_table;

typedef void (*flow_end_fn)(void *ctx, struct flow *f, enum flow_end why);

/*
 * Allocates the whole table up front (capacity slots plus an index of twice
 * that rounded up to a power of two). Returns NULL with a message in err.
 * end_fn is called for every flow the table removes, before its slot is
 * reused; it must not touch the table.
 */
struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_fn end_fn,
    void *end_ctx, char *err, size_t errlen);

/* Calls end_fn(FLOW_END_SHUTDOWN) for every flow still open, then frees. */
void flow_table_free(struct flow_table *t);

/*
 * Finds or creates the flow of a decoded packet and sets *dir to the
 * packet's direction. A new flow's initiator is the packet's sender, except
 * that a TCP SYN+ACK or a reply from a well-known service port marks the
 * sender as the responder (a flow whose start we missed). When full, the
 * least recently seen flow is evicted first. Never returns NULL.
 */
struct flow *flow_table_get(struct flow_table *t, const struct pkt *p, int *dir);

/* Updates counters, TCP state and the LRU position for one packet. */
void flow_account(struct flow_table *t, struct flow *f, const struct pkt *p, int dir);

/* Ends every flow idle longer than its class's timeout at now_us. */
void flow_table_expire(struct flow_table *t, uint64_t now_us);

/* Visits every active flow (order unspecified); fn must not touch the table. */
void flow_table_foreach(struct flow_table *t, void (*fn)(void *ctx, struct flow *f), void *ctx);

void flow_table_stats(const struct flow_table *t, struct flow_stats *out);

/* The initiator's and responder's address/port of a flow. */
const struct ip_addr *flow_initiator(const struct flow *f, uint16_t *port);
const struct ip_addr *flow_responder(const struct flow *f, uint16_t *port);

#endif
