/*
 * test_pool - the detail pool: blocks handed out fresh in order and freed
 * ones first, zeroed, with their owner; full only when both run out; the
 * victim drawn by the comparator from used blocks only, with the same
 * random sequence as the modules had before they shared the pool (their
 * golden outputs depend on it); untouched pages never committed; and a
 * randomized run against a plain reference model.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pool.h"
#include "t.h"

#define LCG_A 6364136223846793005ULL
#define LCG_C 1442695040888963407ULL

static int
mk(struct pool *p, size_t size, uint32_t cap, uint64_t seed)
{
	char err[128] = "";
	struct pool_config c = { .block_size = size, .capacity = cap, .seed = seed, .what = "test" };

	if (pool_init(p, &c, err, sizeof err) != 0) {
		fprintf(stderr, "  pool_init: %s\n", err);
		return -1;
	}
	return 0;
}

/* Allocates n blocks, owned by first, first + 1, ... */
static void
fill(struct pool *p, uint32_t n, uint32_t first)
{
	for (uint32_t i = 0; i < n; i++)
		pool_alloc(p, first + i);
}

/* Comparators: ctx is an array of ranks by owner, lower goes first. */
static int
rank_lower(void *ctx, uint32_t a, uint32_t b)
{
	const uint32_t *rank = ctx;

	return rank[a] < rank[b];
}

static int
never(void *ctx, uint32_t a, uint32_t b)
{
	(void)ctx, (void)a, (void)b;
	return 0;
}

static int
always(void *ctx, uint32_t a, uint32_t b)
{
	(void)ctx, (void)a, (void)b;
	return 1;
}

static void
test_pool_rejects_bad_config(void)
{
	struct pool p;
	char err[128] = "";
	struct pool_config c = { .block_size = 16, .capacity = 0, .what = "thing" };

	CHECK(pool_init(&p, &c, err, sizeof err) == -1);
	CHECK(strstr(err, "thing pool") != NULL);
	c.capacity = POOL_NIL;
	CHECK(pool_init(&p, &c, err, sizeof err) == -1);
	c.capacity = 4;
	c.block_size = 0;
	CHECK(pool_init(&p, &c, err, sizeof err) == -1);
	c.block_size = SIZE_MAX / 2;	/* cap * size overflows */
	CHECK(pool_init(&p, &c, err, sizeof err) == -1);
	pool_fini(&p);			/* harmless after a failed init */
}

static void
test_pool_hands_out_fresh_in_order_then_reuses_freed_first(void)
{
	struct pool p;

	if (mk(&p, 24, 6, 1) != 0)
		return;
	for (uint32_t i = 0; i < 3; i++)
		CHECK_EQ_U(pool_alloc(&p, 10 + i), i);
	pool_release(&p, 1);
	CHECK_EQ_U(pool_alloc(&p, 20), 1);	/* the freed one, not fresh 3 */
	pool_release(&p, 0);
	pool_release(&p, 2);
	CHECK_EQ_U(pool_alloc(&p, 21), 2);	/* last freed first */
	CHECK_EQ_U(pool_alloc(&p, 22), 0);
	CHECK_EQ_U(pool_alloc(&p, 23), 3);	/* free list empty: fresh again */
	CHECK_EQ_U(pool_used(&p), 4);
	for (uint32_t i = 0; i < 4; i++) {
		unsigned char *b = pool_at(&p, i);
		CHECK(b == (unsigned char *)pool_at(&p, 0) + i * 24);
		CHECK_EQ_U(pool_index(&p, b), i);
	}
	pool_fini(&p);
}

static int
all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static void
test_pool_blocks_are_zeroed_on_alloc(void)
{
	struct pool p;
	enum { SZ = 40, CAP = 5 };

	if (mk(&p, SZ, CAP, 1) != 0)
		return;
	/* Garbage where fresh blocks will come from, as malloc may leave it. */
	memset(p.blocks, 0xa5, (size_t)SZ * CAP);
	for (uint32_t i = 0; i < CAP; i++) {
		uint32_t b = pool_alloc(&p, i);
		CHECK(all_zero(pool_at(&p, b), SZ));
		memset(pool_at(&p, b), 0x5a, SZ);
	}
	pool_release(&p, 3);
	uint32_t b = pool_alloc(&p, 9);
	CHECK_EQ_U(b, 3);
	CHECK(all_zero(pool_at(&p, b), SZ));
	/* Its neighbours kept their contents. */
	CHECK(((unsigned char *)pool_at(&p, 2))[SZ - 1] == 0x5a);
	CHECK(((unsigned char *)pool_at(&p, 4))[0] == 0x5a);
	pool_fini(&p);
}

static void
test_pool_keeps_each_blocks_owner_outside_the_block(void)
{
	struct pool p;

	if (mk(&p, 8, 4, 1) != 0)
		return;
	fill(&p, 4, 1000);
	memset(pool_at(&p, 0), 0xff, 8 * 4);	/* the callers own every byte of a block */
	for (uint32_t i = 0; i < 4; i++)
		CHECK_EQ_U(pool_owner(&p, i), 1000 + i);
	pool_release(&p, 2);
	pool_alloc(&p, 77);
	CHECK_EQ_U(pool_owner(&p, 2), 77);
	CHECK_EQ_U(pool_owner(&p, 3), 1003);
	pool_fini(&p);
}

static void
test_pool_is_full_only_when_fresh_and_freed_blocks_run_out(void)
{
	enum { SZ = 16, CAP = 3 };
	struct pool p;

	if (mk(&p, SZ, CAP, 1) != 0)
		return;
	CHECK(!pool_full(&p));
	pool_alloc(&p, 0);
	pool_alloc(&p, 1);
	pool_release(&p, 0);
	CHECK(!pool_full(&p));
	pool_alloc(&p, 2);
	CHECK(!pool_full(&p));		/* one fresh left */
	pool_alloc(&p, 3);
	CHECK(pool_full(&p));
	CHECK_EQ_U(pool_alloc(&p, 4), POOL_NIL);
	CHECK_EQ_U(pool_used(&p), CAP);
	CHECK_EQ_U(pool_capacity(&p), CAP);
	CHECK_EQ_U(pool_bytes(&p), CAP * (SZ + sizeof(uint32_t)));
	pool_release(&p, 1);
	CHECK(!pool_full(&p));
	CHECK_EQ_U(pool_alloc(&p, 5), 1);
	CHECK(pool_full(&p));
	pool_fini(&p);
}

/* The first index the modules' sampler drew for a seed, and after n more draws. */
static uint32_t
ref_draw(uint64_t *rng, uint32_t cap)
{
	*rng = *rng * LCG_A + LCG_C;
	return (uint32_t)((*rng >> 33) % cap);
}

static void
test_pool_victim_draws_the_modules_lcg_sequence_for_a_seed(void)
{
	enum { CAP = 1000 };
	struct pool p, q;
	uint64_t rng = 42 | 1;

	if (mk(&p, 8, CAP, 42) != 0)
		return;
	if (mk(&q, 8, CAP, 42) != 0) {
		pool_fini(&p);
		return;
	}
	/* Not full: nothing drawn, so the sequence below starts at the seed. */
	CHECK_EQ_U(pool_victim(&p, never, NULL), POOL_NIL);
	fill(&p, CAP, 5000);
	fill(&q, CAP, 5000);
	for (int round = 0; round < 100; round++) {
		uint32_t d[POOL_VICTIM_SAMPLE];
		for (int s = 0; s < POOL_VICTIM_SAMPLE; s++)
			d[s] = ref_draw(&rng, CAP);
		/* never(): the first drawn stays; always(): the last one wins. */
		uint32_t v = round % 2 ? pool_victim(&p, never, NULL) : pool_victim(&p, always, NULL);
		CHECK_EQ_U(v, 5000 + (round % 2 ? d[0] : d[POOL_VICTIM_SAMPLE - 1]));
		CHECK_EQ_U(pool_victim(&q, round % 2 ? never : always, NULL), v);	/* same seed, same run */
	}
	pool_fini(&p);
	pool_fini(&q);
	/* Another seed, another sequence. */
	if (mk(&p, 8, CAP, 44) != 0)
		return;
	fill(&p, CAP, 0);
	rng = 42 | 1;
	int same = 0;
	for (int round = 0; round < 20; round++) {
		uint32_t d0 = ref_draw(&rng, CAP);
		for (int s = 1; s < POOL_VICTIM_SAMPLE; s++)
			ref_draw(&rng, CAP);
		same += pool_victim(&p, never, NULL) == d0;
	}
	CHECK(same < 20);
	pool_fini(&p);
}

static void
test_pool_victim_is_the_comparators_pick_among_the_drawn(void)
{
	enum { CAP = 64 };
	struct pool p;
	uint32_t rank[CAP * 2];
	uint64_t rng = 7 | 1;

	if (mk(&p, 8, CAP, 7) != 0)
		return;
	for (uint32_t o = 0; o < CAP * 2; o++)
		rank[o] = (o * 37) % 11;	/* many equals: the first drawn of them must win */
	fill(&p, CAP, 0);
	for (int round = 0; round < 500; round++) {
		uint32_t want = POOL_NIL;
		for (int s = 0; s < POOL_VICTIM_SAMPLE; s++) {
			uint32_t o = pool_owner(&p, ref_draw(&rng, CAP));
			if (want == POOL_NIL || rank[o] < rank[want])
				want = o;
		}
		uint32_t v = pool_victim(&p, rank_lower, rank);
		CHECK_EQ_U(v, want);
		/* As a module does: the victim's block goes to a new owner. */
		uint32_t b = POOL_NIL;
		for (uint32_t i = 0; i < CAP; i++)
			if (pool_owner(&p, i) == v)
				b = i;
		CHECK(b != POOL_NIL);
		if (b == POOL_NIL)
			break;
		pool_release(&p, b);
		CHECK_EQ_U(pool_alloc(&p, v < CAP ? v + CAP : v - CAP), b);
	}
	pool_fini(&p);
}

/* Resident pages of [addr, addr + len), whole pages only. */
static size_t
resident_pages(const void *addr, size_t len)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)addr + pg - 1) & ~(pg - 1);
	uintptr_t hi = ((uintptr_t)addr + len) & ~(pg - 1);
	size_t n = hi > lo ? (hi - lo) / pg : 0, res = 0;
	unsigned char *vec = malloc(n ? n : 1);

	if (vec == NULL || mincore((void *)lo, hi - lo, vec) != 0) {
		free(vec);
		return SIZE_MAX;
	}
	for (size_t i = 0; i < n; i++)
		res += vec[i] & 1;
	free(vec);
	return res;
}

/*
 * The point of the pool: a large capacity costs address space only. After
 * a few allocations, only the pages those blocks (and their owners) are on
 * are resident: no eager free list, no zeroing ahead of use.
 */
static void
test_pool_commits_only_the_pages_of_used_blocks(void)
{
	enum { SZ = 4000, CAP = 32768 };	/* 131 MB of blocks, 128 kB of owners */
	struct pool p;

	if (mk(&p, SZ, CAP, 1) != 0)
		return;
	fill(&p, 10, 0);
	/* 10 blocks span about 10 pages; allow the allocator a few of its own. */
	size_t blocks = resident_pages(p.blocks, (size_t)SZ * CAP);
	size_t owners = resident_pages(p.link, sizeof *p.link * CAP);
	CHECK(blocks <= 16);
	CHECK(owners <= 2);
	if (blocks > 16 || owners > 2)
		fprintf(stderr, "  resident pages: %zu of blocks, %zu of owners\n", blocks, owners);
	pool_fini(&p);
}

/* A tiny xorshift for the model test, independent of the pool's own RNG. */
static uint32_t
xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

static void
test_pool_matches_reference_model_over_100k_random_ops(void)
{
	enum { SZ = 12, CAP = 50, OPS = 100000 };
	struct pool p;
	/* Reference: which blocks are in use and by whom, the free stack, the fresh mark. */
	uint32_t owner[CAP], stack[CAP], nstack = 0, fresh = 0, used = 0, next_owner = 0;
	int inuse[CAP] = { 0 };
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	if (mk(&p, SZ, CAP, 3) != 0)
		return;
	for (int op = 0; op < OPS; op++) {
		uint32_t r = xs(&s);
		if (r % 100 < 55) {		/* alloc */
			uint32_t want = nstack ? stack[--nstack] : fresh < CAP ? fresh++ : POOL_NIL;
			uint32_t got = pool_alloc(&p, next_owner);
			CHECK_EQ_U(got, want);
			if (got != want)
				break;
			if (got == POOL_NIL) {
				CHECK(pool_full(&p) && used == CAP);
				continue;
			}
			CHECK(all_zero(pool_at(&p, got), SZ));
			memset(pool_at(&p, got), (int)(next_owner & 0xff), SZ);
			inuse[got] = 1;
			owner[got] = next_owner++;
			used++;
		} else if (r % 100 < 95) {	/* release a random used block */
			if (used == 0)
				continue;
			uint32_t i = xs(&s) % CAP;
			while (!inuse[i])
				i = (i + 1) % CAP;
			pool_release(&p, i);
			inuse[i] = 0;
			stack[nstack++] = i;
			used--;
		} else {			/* victim: only a used block's owner, or none if not full */
			uint32_t v = pool_victim(&p, never, NULL);
			if (used < CAP) {
				CHECK_EQ_U(v, POOL_NIL);
				continue;
			}
			int found = 0;
			for (uint32_t i = 0; i < CAP; i++)
				found |= inuse[i] && owner[i] == v;
			CHECK(found);
		}
		CHECK_EQ_U(pool_used(&p), used);
		CHECK_EQ_U(pool_full(&p), used == CAP);
		if (op % 997 == 0)		/* every live block kept its owner and bytes */
			for (uint32_t i = 0; i < CAP; i++)
				if (inuse[i]) {
					const unsigned char *b = pool_at(&p, i);
					CHECK_EQ_U(pool_owner(&p, i), owner[i]);
					CHECK(b[0] == (owner[i] & 0xff) && b[SZ - 1] == (owner[i] & 0xff));
				}
	}
	CHECK(next_owner > 1000);	/* the run really cycled the pool */
	pool_fini(&p);
}

T_MAIN("pool",
    T(test_pool_rejects_bad_config),
    T(test_pool_hands_out_fresh_in_order_then_reuses_freed_first),
    T(test_pool_blocks_are_zeroed_on_alloc),
    T(test_pool_keeps_each_blocks_owner_outside_the_block),
    T(test_pool_is_full_only_when_fresh_and_freed_blocks_run_out),
    T(test_pool_victim_draws_the_modules_lcg_sequence_for_a_seed),
    T(test_pool_victim_is_the_comparators_pick_among_the_drawn),
    T(test_pool_commits_only_the_pages_of_used_blocks),
    T(test_pool_matches_reference_model_over_100k_random_ops))
