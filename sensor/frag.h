/*
 * frag - gives later IP fragments the ports of their first fragment.
 *
 * Only a datagram's first fragment carries the TCP/UDP header; without this
 * the rest of a fragmented datagram would land in a port-0 flow of its own.
 * We do not reassemble (volumes come from the headers anyway): a small
 * direct-mapped cache remembers (src, dst, protocol, id) -> ports from each
 * first fragment. Fixed size, overwritten on collision, so memory is
 * constant; a later fragment that finds nothing (first fragment lost,
 * overwritten, or arriving out of order) keeps ports 0 and is counted.
 */
#ifndef OUTFLOW_FRAG_H
#define OUTFLOW_FRAG_H

#include <stdint.h>

#include "decode.h"

#define FRAG_SLOTS 4096

struct frag_entry {
	struct ip_addr src, dst;
	uint32_t id;
	uint8_t proto, used;
	uint16_t sport, dport;
	uint64_t ts_us;
};

struct frag_cache {
	struct frag_entry e[FRAG_SLOTS];
	uint64_t seed;
	uint64_t matched, unmatched;
};

void frag_init(struct frag_cache *fc, uint64_t seed);

/*
 * For a first fragment: remembers its ports. For a later one: fills
 * p->sport/dport from its first fragment if that was seen within the last
 * 60 s (RFC 791's reassembly timeout order), else leaves them 0.
 */
void frag_track(struct frag_cache *fc, struct pkt *p);

#endif
