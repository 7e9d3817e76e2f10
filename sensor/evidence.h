/*
 * evidence - an optional ring of recent packets, written out as a pcap
 * file when an alert names a host (--evidence-dir, off by default).
 *
 * Owns one byte ring (--evidence-ring MiB) holding the newest packets that
 * have an internal end, each with its addresses; when an alert fires, the
 * ring's packets of the alerting host (with its destination, if the alert
 * has one) are written to DIR/<alert id>.pcap through libpcap's dump API,
 * and the alert names that file. Memory is the ring, fixed at start; disk
 * use is capped by --evidence-max (files beyond it are skipped and counted).
 * The directory is opened before privileges are dropped and written
 * through its descriptor.
 */
#ifndef OUTFLOW_EVIDENCE_H
#define OUTFLOW_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct alert;
struct json;

struct evidence_config {
	const char *dir;		/* where pcap files go */
	size_t ring_bytes;		/* packet ring size */
	uint64_t max_disk_bytes;	/* total written by this run, at most */
	uint32_t snaplen;		/* bytes kept per packet (0 = whole frame) */
};

struct evidence_stats {
	uint64_t packets, overwritten;	/* kept in the ring; pushed out by newer ones */
	uint64_t files, bytes_written, skipped_full, write_errors;
	size_t ring_bytes;
};

struct evidence;

struct evidence *evidence_new(const struct evidence_config *cfg, char *err, size_t errlen);
void evidence_free(struct evidence *e);

/* Keeps one frame (of link type dlt) between src and dst. */
void evidence_packet(struct evidence *e, int dlt, uint64_t ts_us, const uint8_t *data,
    uint32_t caplen, uint32_t wirelen, const struct ip_addr *src, const struct ip_addr *dst);

/*
 * Writes the ring's packets of a->src (and, when the alert is about one
 * destination, only those with it) to DIR/<a->id>.pcap and sets a->pcap to
 * that path. Leaves a->pcap empty if nothing matched or the cap is reached.
 */
void evidence_write(struct evidence *e, struct alert *a);

void evidence_get_stats(const struct evidence *e, struct evidence_stats *out);
/* The same counters as members of an open JSON object (the stats line). */
void evidence_stats_json(const struct evidence *e, struct json *j);

#endif
