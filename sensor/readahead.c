/*
 * readahead - see readahead.h.
 *
 * A ring of RA_BLOCKS blocks. The reader thread fills blk[wr] with
 * records (header, then the captured bytes, padded to 8) and publishes it;
 * the caller holds blk[rd] while it hands that block's packets out, and
 * releases it when it asks past the last one. 'ready' counts the blocks
 * published and not yet released, the held one included, so the thread
 * never writes a block the caller can still read. One lock and one
 * condition variable, taken once per block (several hundred packets), not
 * per packet; the thread, usually ahead, sleeps on a full ring until half
 * of it is free, so the caller wakes it once per half ring.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readahead.h"

struct ra_rec {
	uint64_t ts_us;
	uint32_t caplen, wirelen;
};

struct ra_block {
	uint8_t *buf;
	size_t cap, used;
	uint64_t pos;		/* file offset after its last packet */
	int end;		/* 0, or how the file ended after its packets */
};

struct readahead {
	pcap_t *p;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* a block published or released, or stop */
	struct ra_block blk[RA_BLOCKS];
	unsigned ready;		/* under mu */
	uint64_t waits;		/* under mu: times the thread waited for a free block */
	int stop;		/* under mu: the caller is closing */
	atomic_int brk;		/* readahead_break(): end at the next packet */
	/* The caller's side only. */
	unsigned rd;
	size_t off;
	int holding;
	uint64_t pos;
	/* The thread's side only, until published. */
	unsigned wr;
	char err[PCAP_ERRBUF_SIZE + 64];
};

static size_t
rec_bytes(uint32_t caplen)
{
	return (sizeof(struct ra_rec) + caplen + 7) & ~(size_t)7;
}

static uint64_t
file_pos(pcap_t *p)
{
	FILE *f = pcap_file(p);
	long pos = f ? ftell(f) : -1;

	return pos > 0 ? (uint64_t)pos : 0;
}

/*
 * The thread: the next free block, NULL once the caller is closing. On a
 * full ring it waits until half of it is free: the caller then wakes it
 * once per RA_BLOCKS / 2 blocks instead of once per block, and a wake is a
 * system call on the analysis thread (a futex wake: one per block was 2-3 %
 * of the analysis thread's time on the development VM).
 */
static struct ra_block *
ra_take(struct readahead *ra)
{
	struct ra_block *b = NULL;

	pthread_mutex_lock(&ra->mu);
	if (ra->ready == RA_BLOCKS && !ra->stop) {
		ra->waits++;
		while (ra->ready > RA_BLOCKS / 2 && !ra->stop)
			pthread_cond_wait(&ra->cv, &ra->mu);
	}
	if (!ra->stop)
		b = &ra->blk[ra->wr];
	pthread_mutex_unlock(&ra->mu);
	if (b != NULL) {
		b->used = 0;
		b->end = 0;
	}
	return b;
}

static void
ra_publish(struct readahead *ra, struct ra_block *b)
{
	b->pos = file_pos(ra->p);
	pthread_mutex_lock(&ra->mu);
	ra->ready++;
	ra->wr = (ra->wr + 1) % RA_BLOCKS;
	pthread_cond_broadcast(&ra->cv);
	pthread_mutex_unlock(&ra->mu);
}

/* Room for need bytes in an empty block (a packet larger than a block). */
static int
ra_grow(struct ra_block *b, size_t need)
{
	uint8_t *n = realloc(b->buf, need);

	if (n == NULL)
		return -1;
	b->buf = n;
	b->cap = need;
	return 0;
}

static void *
ra_main(void *arg)
{
	struct readahead *ra = arg;
	struct ra_block *b = NULL;
	sigset_t all;

	/* Signals belong to the main thread: its handlers set its flags. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pcap_pkthdr *h;
		const u_char *data;
		int rc = atomic_load_explicit(&ra->brk, memory_order_relaxed) ? PCAP_ERROR_BREAK :
		    pcap_next_ex(ra->p, &h, &data);
		size_t need = rc == 1 ? rec_bytes(h->caplen) : 0;

		if (b != NULL && b->used > 0 && b->used + need > b->cap) {
			ra_publish(ra, b);
			b = NULL;
		}
		if (b == NULL && (b = ra_take(ra)) == NULL)
			return NULL;
		if (need > b->cap && ra_grow(b, need) != 0) {
			snprintf(ra->err, sizeof ra->err, "out of memory for a %u-byte packet", h->caplen);
			rc = PCAP_ERROR;
		}
		if (rc == 1) {
			struct capture_pkt cp;
			capture_pkt_from(&cp, h, data);
			struct ra_rec r = { .ts_us = cp.ts_us, .caplen = cp.caplen, .wirelen = cp.wirelen };
			memcpy(b->buf + b->used, &r, sizeof r);
			memcpy(b->buf + b->used + sizeof r, data, h->caplen);
			b->used += need;
			continue;
		}
		/* Files give 1 or an end; PCAP_ERROR_BREAK is the end of the file. */
		if (rc != PCAP_ERROR_BREAK && ra->err[0] == '\0')
			snprintf(ra->err, sizeof ra->err, "%s", pcap_geterr(ra->p));
		b->end = rc == PCAP_ERROR_BREAK ? CAPTURE_EOF : CAPTURE_ERROR;
		ra_publish(ra, b);
		return NULL;
	}
}

struct readahead *
readahead_start(pcap_t *p, char *err, size_t errlen)
{
	struct readahead *ra = calloc(1, sizeof *ra);
	int rc;

	if (ra == NULL)
		goto oom;
	ra->p = p;
	for (int i = 0; i < RA_BLOCKS; i++) {
		ra->blk[i].cap = RA_BLOCK_BYTES;
		if ((ra->blk[i].buf = malloc(RA_BLOCK_BYTES)) == NULL)
			goto oom;
	}
	pthread_mutex_init(&ra->mu, NULL);
	pthread_cond_init(&ra->cv, NULL);
	if ((rc = pthread_create(&ra->thread, NULL, ra_main, ra)) != 0) {
		snprintf(err, errlen, "cannot start the file reader thread: %s", strerror(rc));
		pthread_cond_destroy(&ra->cv);
		pthread_mutex_destroy(&ra->mu);
		goto fail;
	}
	return ra;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	if (ra != NULL)
		for (int i = 0; i < RA_BLOCKS; i++)
			free(ra->blk[i].buf);
	free(ra);
	return NULL;
}

void
readahead_stop(struct readahead *ra)
{
	if (ra == NULL)
		return;
	atomic_store(&ra->brk, 1);
	pthread_mutex_lock(&ra->mu);
	ra->stop = 1;
	pthread_cond_broadcast(&ra->cv);
	pthread_mutex_unlock(&ra->mu);
	pthread_join(ra->thread, NULL);
	pthread_cond_destroy(&ra->cv);
	pthread_mutex_destroy(&ra->mu);
	for (int i = 0; i < RA_BLOCKS; i++)
		free(ra->blk[i].buf);
	free(ra);
}

enum capture_rc
readahead_next(struct readahead *ra, struct capture_pkt *out)
{
	for (;;) {
		if (atomic_load_explicit(&ra->brk, memory_order_relaxed))
			return CAPTURE_EOF;
		if (ra->holding) {
			const struct ra_block *b = &ra->blk[ra->rd];
			if (ra->off < b->used) {
				struct ra_rec r;
				memcpy(&r, b->buf + ra->off, sizeof r);
				out->ts_us = r.ts_us;
				out->caplen = r.caplen;
				out->wirelen = r.wirelen;
				out->data = b->buf + ra->off + sizeof r;
				ra->off += rec_bytes(r.caplen);
				return CAPTURE_PACKET;
			}
			if (b->end != 0)
				return (enum capture_rc)b->end;
			pthread_mutex_lock(&ra->mu);
			/* The thread waits on a full ring for half of it (ra_take). */
			if (--ra->ready == RA_BLOCKS / 2)
				pthread_cond_broadcast(&ra->cv);
			pthread_mutex_unlock(&ra->mu);
			ra->rd = (ra->rd + 1) % RA_BLOCKS;
			ra->off = 0;
			ra->holding = 0;
		}
		pthread_mutex_lock(&ra->mu);
		while (ra->ready == 0)
			pthread_cond_wait(&ra->cv, &ra->mu);
		pthread_mutex_unlock(&ra->mu);
		ra->holding = 1;
		ra->pos = ra->blk[ra->rd].pos;
	}
}

const char *
readahead_error(const struct readahead *ra)
{
	return ra->err;
}

uint64_t
readahead_pos(const struct readahead *ra)
{
	return ra->pos;
}

uint64_t
readahead_waits(struct readahead *ra)
{
	uint64_t n;

	pthread_mutex_lock(&ra->mu);
	n = ra->waits;
	pthread_mutex_unlock(&ra->mu);
	return n;
}

void
readahead_break(struct readahead *ra)
{
	atomic_store(&ra->brk, 1);
}
