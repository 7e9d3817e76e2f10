/*
 * evidence - see evidence.h.
 *
 * The ring is a byte buffer of variable-size records (header + frame).
 * Writing wraps to the start when a record would not fit before the end
 * (the tail gap is marked), and the oldest records are dropped until the
 * new one fits, so the ring always holds the newest packets, oldest first
 * from 'head'.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "alert.h"
#include "evidence.h"
#include "json.h"

struct rec {
	uint32_t size;		/* whole record, header included, 8-aligned; 0 = wrap marker */
	uint32_t caplen, wirelen;
	int32_t dlt;
	uint64_t ts_us;
	struct ip_addr src, dst;
	/* caplen bytes of frame follow */
};

struct evidence {
	struct evidence_config cfg;
	int dirfd;
	uint8_t *ring;
	size_t cap;
	size_t head, tail;	/* oldest record; where the next is written */
	size_t used;		/* bytes of live records (and the wrap gap) */
	struct evidence_stats st;
};

struct evidence *
evidence_new(const struct evidence_config *cfg, char *err, size_t errlen)
{
	struct evidence *e = calloc(1, sizeof *e);

	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->cfg = *cfg;
	e->cap = cfg->ring_bytes & ~(size_t)7;
	if (e->cap < 65536 + sizeof(struct rec)) {
		snprintf(err, errlen, "--evidence-ring: at least 1 MiB");
		free(e);
		return NULL;
	}
	if ((e->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "--evidence-dir %s: %s", cfg->dir, strerror(errno));
		free(e);
		return NULL;
	}
	if ((e->ring = malloc(e->cap)) == NULL) {
		snprintf(err, errlen, "evidence ring of %zu bytes: out of memory", e->cap);
		close(e->dirfd);
		free(e);
		return NULL;
	}
	e->st.ring_bytes = e->cap;
	return e;
}

void
evidence_free(struct evidence *e)
{
	if (e == NULL)
		return;
	close(e->dirfd);
	free(e->ring);
	free(e);
}

static struct rec *
rec_at(const struct evidence *e, size_t off)
{
	return (struct rec *)(void *)(e->ring + off);
}

/* Drops the oldest record (or the wrap gap before it). */
static void
drop_oldest(struct evidence *e)
{
	struct rec *r = rec_at(e, e->head);

	if (r->size == 0) {		/* wrap marker: the gap runs to the end */
		e->used -= e->cap - e->head;
		e->head = 0;
		return;
	}
	e->used -= r->size;
	e->head += r->size;
	e->st.overwritten++;
	if (e->head == e->cap)
		e->head = 0;
}

void
evidence_packet(struct evidence *e, int dlt, uint64_t ts_us, const uint8_t *data,
    uint32_t caplen, uint32_t wirelen, const struct ip_addr *src, const struct ip_addr *dst)
{
	uint32_t keep = caplen;
	size_t need;
	struct rec *r;

	if (e->cfg.snaplen && keep > e->cfg.snaplen)
		keep = e->cfg.snaplen;
	if (keep > 65535)
		keep = 65535;
	need = (sizeof *r + keep + 7) & ~(size_t)7;
	/* Not enough room before the end: mark the gap and wrap. */
	if (e->tail + need > e->cap) {
		while (e->used > 0 && (e->head >= e->tail || e->head < need))
			drop_oldest(e);
		if (e->used > 0 || e->tail != e->head) {
			if (e->cap - e->tail >= sizeof(uint32_t))
				rec_at(e, e->tail)->size = 0;
			e->used += e->cap - e->tail;
		} else
			e->head = 0;
		e->tail = 0;
	}
	while (e->used > 0 && e->head >= e->tail && e->head < e->tail + need)
		drop_oldest(e);
	r = rec_at(e, e->tail);
	r->size = (uint32_t)need;
	r->caplen = keep;
	r->wirelen = wirelen;
	r->dlt = dlt;
	r->ts_us = ts_us;
	r->src = *src;
	r->dst = *dst;
	memcpy(r + 1, data, keep);
	e->tail += need;
	e->used += need;
	if (e->tail == e->cap)
		e->tail = 0;
	e->st.packets++;
}

static int
rec_matches(const struct rec *r, const struct ip_addr *host, const struct ip_addr *peer)
{
	int hs = addr_eq(&r->src, host), hd = addr_eq(&r->dst, host);

	if (!hs && !hd)
		return 0;
	return peer == NULL || addr_eq(hs ? &r->dst : &r->src, peer);
}

void
evidence_write(struct evidence *e, struct alert *a)
{
	const struct ip_addr *peer = a->dominant && a->ndests > 0 ? &a->dests[0].ip : NULL;
	char name[96];
	pcap_t *dead = NULL;
	pcap_dumper_t *dump = NULL;
	FILE *fp = NULL;
	size_t off = e->head, left = e->used;
	uint64_t written = 0;
	int fd, dlt = -1;

	a->pcap[0] = '\0';
	if (e->st.bytes_written >= e->cfg.max_disk_bytes) {
		e->st.skipped_full++;
		return;
	}
	snprintf(name, sizeof name, "%s.pcap", a->id);
	while (left > 0) {
		const struct rec *r = rec_at(e, off);
		size_t step = r->size ? r->size : e->cap - off;
		if (r->size != 0 && rec_matches(r, &a->src, peer) && (dlt < 0 || r->dlt == dlt)) {
			if (dump == NULL) {
				dlt = r->dlt;
				fd = openat(e->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
				if (fd < 0 || (fp = fdopen(fd, "wb")) == NULL) {
					if (fd >= 0)
						close(fd);
					e->st.write_errors++;
					return;
				}
				dead = pcap_open_dead_with_tstamp_precision(dlt, 65535, PCAP_TSTAMP_PRECISION_MICRO);
				if (dead == NULL || (dump = pcap_dump_fopen(dead, fp)) == NULL) {
					fclose(fp);
					if (dead)
						pcap_close(dead);
					e->st.write_errors++;
					return;
				}
			}
			struct pcap_pkthdr h;
			h.ts.tv_sec = (time_t)(r->ts_us / 1000000u);
			h.ts.tv_usec = (suseconds_t)(r->ts_us % 1000000u);
			h.caplen = r->caplen;
			h.len = r->wirelen;
			pcap_dump((u_char *)dump, &h, (const u_char *)(r + 1));
			written += 16 + r->caplen;
		}
		left -= step;
		off += step;
		if (off == e->cap)
			off = 0;
	}
	if (dump == NULL)
		return;
	if (pcap_dump_flush(dump) != 0)
		e->st.write_errors++;
	pcap_dump_close(dump);	/* closes fp */
	pcap_close(dead);
	e->st.files++;
	e->st.bytes_written += written + 24;
	snprintf(a->pcap, sizeof a->pcap, "%s/%s", e->cfg.dir, name);
}

void
evidence_get_stats(const struct evidence *e, struct evidence_stats *out)
{
	*out = e->st;
}

void
evidence_stats_json(const struct evidence *e, struct json *j)
{
	json_u64_kv(j, "ring_bytes", e->st.ring_bytes);
	json_u64_kv(j, "packets", e->st.packets);
	json_u64_kv(j, "overwritten", e->st.overwritten);
	json_u64_kv(j, "files", e->st.files);
	json_u64_kv(j, "bytes_written", e->st.bytes_written);
	json_u64_kv(j, "skipped_full", e->st.skipped_full);
	json_u64_kv(j, "write_errors", e->st.write_errors);
}
