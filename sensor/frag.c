/*
 * frag - see frag.h.
 */
#include <string.h>

#include "frag.h"
#include "hash.h"

#define FRAG_MAX_AGE_US (60u * 1000000u)

void
frag_init(struct frag_cache *fc, uint64_t seed)
{
	memset(fc, 0, sizeof *fc);
	fc->seed = seed;
}

static struct frag_entry *
frag_slot(struct frag_cache *fc, const struct pkt *p)
{
	uint64_t h = addr_hash(&p->src, fc->seed) ^ addr_hash(&p->dst, fc->seed + 1);

	h = hash_mix64(h ^ ((uint64_t)p->frag_id << 8 | p->l4_proto));
	return &fc->e[h % FRAG_SLOTS];
}

void
frag_track(struct frag_cache *fc, struct pkt *p)
{
	struct frag_entry *e;

	if (p->frag == PKT_FRAG_NONE)
		return;
	e = frag_slot(fc, p);
	if (p->frag == PKT_FRAG_FIRST) {
		e->src = p->src;
		e->dst = p->dst;
		e->id = p->frag_id;
		e->proto = p->l4_proto;
		e->sport = p->sport;
		e->dport = p->dport;
		e->ts_us = p->ts_us;
		e->used = 1;
		return;
	}
	if (e->used && e->id == p->frag_id && e->proto == p->l4_proto && addr_eq(&e->src, &p->src) &&
	    addr_eq(&e->dst, &p->dst) && p->ts_us <= e->ts_us + FRAG_MAX_AGE_US) {
		p->sport = e->sport;
		p->dport = e->dport;
		fc->matched++;
	} else {
		fc->unmatched++;
	}
}
