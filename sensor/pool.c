/*
 * pool - see pool.h.
 *
 * The owner array doubles as the free list's links, so a block carries no
 * bookkeeping of its own and the free list is built only as blocks are
 * released: nothing is written at start, which is what keeps untouched
 * pages uncommitted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pool.h"

int
pool_init(struct pool *p, const struct pool_config *cfg, char *err, size_t errlen)
{
	uint32_t cap = cfg->capacity;
	size_t size = cfg->block_size;

	memset(p, 0, sizeof *p);
	if (cap == 0 || cap == POOL_NIL || size == 0 || size > SIZE_MAX / cap) {
		snprintf(err, errlen, "%s pool: %u blocks of %zu bytes out of range", cfg->what, cap, size);
		return -1;
	}
	/* malloc, not calloc: pages are committed only as blocks are used. */
	if ((p->blocks = malloc((size_t)cap * size)) == NULL ||
	    (p->link = malloc((size_t)cap * sizeof *p->link)) == NULL) {
		snprintf(err, errlen, "%s pool (%u): out of memory", cfg->what, cap);
		pool_fini(p);
		return -1;
	}
	p->size = size;
	p->cap = cap;
	p->free_head = POOL_NIL;
	/* Odd, as every module's sampler always started. */
	p->rng = cfg->seed | 1;
	return 0;
}

void
pool_fini(struct pool *p)
{
	free(p->blocks);
	free(p->link);
	p->blocks = NULL;
	p->link = NULL;
	p->cap = p->fresh = p->used = 0;
	p->free_head = POOL_NIL;
}

uint32_t
pool_alloc(struct pool *p, uint32_t owner)
{
	uint32_t i;

	if (p->free_head != POOL_NIL) {
		i = p->free_head;
		p->free_head = p->link[i];
	} else if (p->fresh < p->cap) {
		i = p->fresh++;
	} else {
		return POOL_NIL;
	}
	p->used++;
	p->link[i] = owner;
	memset(pool_at(p, i), 0, p->size);
	return i;
}

void
pool_release(struct pool *p, uint32_t i)
{
	OF_ASSERT(i < p->fresh && p->used > 0);
	p->link[i] = p->free_head;
	p->free_head = i;
	p->used--;
}

/*
 * Sampling, not a scan: the cost stays flat however large the pool. The
 * generator is Knuth's MMIX LCG; its high bits are the well mixed ones.
 */
uint32_t
pool_victim(struct pool *p, int (*before)(void *ctx, uint32_t a, uint32_t b), void *ctx)
{
	uint32_t victim = POOL_NIL;

	if (!pool_full(p))
		return POOL_NIL;
	for (int s = 0; s < POOL_VICTIM_SAMPLE; s++) {
		p->rng = p->rng * 6364136223846793005ULL + 1442695040888963407ULL;
		uint32_t o = p->link[(p->rng >> 33) % p->cap];
		if (s == 0 || before(ctx, o, victim))
			victim = o;
	}
	return victim;
}

uint32_t
pool_index(const struct pool *p, const void *block)
{
	size_t off = (size_t)((const unsigned char *)block - p->blocks);

	OF_ASSERT(off % p->size == 0 && off / p->size < p->fresh);
	return (uint32_t)(off / p->size);
}

uint32_t
pool_owner(const struct pool *p, uint32_t i)
{
	return p->link[i];
}

int
pool_full(const struct pool *p)
{
	return p->free_head == POOL_NIL && p->fresh == p->cap;
}

uint32_t
pool_used(const struct pool *p)
{
	return p->used;
}

uint32_t
pool_capacity(const struct pool *p)
{
	return p->cap;
}

size_t
pool_bytes(const struct pool *p)
{
	return (size_t)p->cap * (p->size + sizeof *p->link);
}
