/*
 * pool - a fixed number of equal-size blocks that the entries of a table
 * borrow when they outgrow their inline state (host's destinations, the
 * DNS pairs, the peer ledger), so only the busy few pay for full state.
 *
 * The blocks are one malloc made at start and never grown. They are handed
 * out in index order the first time ("fresh") and freed ones are reused
 * first, so a page is committed only when a block on it is first used:
 * the configured capacity costs address space, not memory, until traffic
 * needs it. Each block records its owner (the slot of the table entry that
 * holds it) so that, when the pool is full, the caller can pick a victim
 * among a few random blocks by its own policy and take the block back.
 *
 * Fields are the pool's own; use the functions. The struct is public only
 * so that a module can embed it and pool_at() can be inlined.
 */
#ifndef OUTFLOW_POOL_H
#define OUTFLOW_POOL_H

#include <stddef.h>
#include <stdint.h>

#define POOL_NIL UINT32_MAX
#define POOL_VICTIM_SAMPLE 8	/* blocks pool_victim() looks at */

struct pool {
	unsigned char *blocks;	/* cap blocks of size bytes */
	uint32_t *link;		/* per block: its owner while used, the next free block while free */
	size_t size;
	uint32_t cap;
	uint32_t fresh;		/* blocks [fresh, cap) never used yet */
	uint32_t free_head;	/* freed blocks, POOL_NIL if none */
	uint32_t used;
	uint64_t rng;		/* victim sampling */
};

struct pool_config {
	size_t block_size;
	uint32_t capacity;	/* blocks, 1 .. POOL_NIL - 1 */
	uint64_t seed;		/* starts the victim sampling, so a run is reproducible */
	const char *what;	/* "peer: detail": for error messages */
};

/* Allocates the blocks; 0, or -1 with a message in err (nothing to free then). */
int pool_init(struct pool *p, const struct pool_config *cfg, char *err, size_t errlen);
/* Frees the blocks; safe on a zeroed or already finished pool. */
void pool_fini(struct pool *p);

/*
 * A zeroed block for owner: its index, or POOL_NIL if the pool is full
 * (pick a victim with pool_victim(), release its block, ask again).
 */
uint32_t pool_alloc(struct pool *p, uint32_t owner);
/* Returns block i (in use) to the pool; its contents are lost. */
void pool_release(struct pool *p, uint32_t i);

/*
 * Which owner should give its block up, for a full pool: the one before()
 * prefers among POOL_VICTIM_SAMPLE blocks drawn at random (with repeats).
 * before(ctx, a, b) is non-zero if owner a should go before owner b; on
 * equals the first drawn stays. POOL_NIL, drawing nothing, if the pool is
 * not full: every block drawn must be in use. The caller releases the
 * victim's block itself, with whatever else that owner had.
 */
uint32_t pool_victim(struct pool *p, int (*before)(void *ctx, uint32_t a, uint32_t b), void *ctx);

/* Block i, which must be in use. */
static inline void *
pool_at(const struct pool *p, uint32_t i)
{
	return p->blocks + (size_t)i * p->size;
}

/* The index of a block pool_at() returned. */
uint32_t pool_index(const struct pool *p, const void *block);
/* The owner of block i, which must be in use. */
uint32_t pool_owner(const struct pool *p, uint32_t i);

int pool_full(const struct pool *p);
uint32_t pool_used(const struct pool *p);
uint32_t pool_capacity(const struct pool *p);
/* Bytes allocated (blocks and owners), committed or not: for the stats. */
size_t pool_bytes(const struct pool *p);

#endif
