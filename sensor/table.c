/*
 * table - see table.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "table.h"

struct table {
	struct table_config cfg;
	uint8_t *slots;
	/*
	 * Each index word is tag | dist << slot_bits | (slot + 1), 0 = empty.
	 * The tag is the top bits of the entry's hash, so a probe passes over
	 * a colliding entry without reading it: entries are scattered over
	 * megabytes and each read is a cache miss, the largest single cost
	 * in every profile of the sensor. dist is how far the word sits past
	 * its home position (dist_max: that far or further), so deletion can
	 * shift the words after a hole without reading their entries either.
	 */
	uint32_t *index;
	/*
	 * The index starts small and doubles as the table fills, keeping the
	 * load at most 1/2, up to 2x capacity: a table sized for a million
	 * flows that holds forty thousand would otherwise keep 8 MB of index
	 * resident, touched all over by the hash. A growing table has two
	 * index regions of the full size, mapped at start (address space, not
	 * memory, until touched), and rehashes from one into the other, then
	 * hands the old one's pages back: growing can never fail at run time.
	 */
	uint32_t *spare;	/* the other region; NULL when the index cannot grow */
	size_t full;		/* index words at full size */
	size_t map_bytes;	/* each region's mapping; 0 = calloc'd */
	uint32_t slot_mask;	/* low slot_bits set */
	unsigned slot_bits;
	uint32_t dist_max;	/* the dist field's mask (0: no field, always read the entry) */
	uint32_t tag_mask;	/* the bits above slot and dist */
	size_t mask;		/* current index words - 1 */
	size_t count;
	uint32_t free_head;	/* slots freed by table_del, reused first */
	uint32_t fresh;		/* slots [fresh, capacity) never used yet */
	uint32_t head[TABLE_MAX_LISTS], tail[TABLE_MAX_LISTS];
};

static inline struct tnode *
node_at(const struct table *t, uint32_t slot)
{
	return (struct tnode *)(t->slots + (size_t)slot * t->cfg.entry_size);
}

uint32_t
table_slot(const struct table *t, const void *entry)
{
	return (uint32_t)(((const uint8_t *)entry - t->slots) / t->cfg.entry_size);
}

void *
table_at(struct table *t, uint32_t slot)
{
	return node_at(t, slot);
}

/* An index region: zero-filled pages, each made resident when first touched. */
static uint32_t *
region_new(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void
region_free(uint32_t *r, size_t bytes)
{
	if (r != NULL)
		munmap(r, bytes);
}

struct table *
table_new(const struct table_config *cfg, char *err, size_t errlen)
{
	struct table *t;
	size_t isz = 16;

	if (cfg->capacity == 0 || cfg->capacity >= UINT32_MAX / 4 ||
	    cfg->entry_size < sizeof(struct tnode) || cfg->nlists < 1 ||
	    cfg->nlists > TABLE_MAX_LISTS || cfg->key_off + cfg->key_len > cfg->entry_size) {
		snprintf(err, errlen, "%s table: capacity %zu out of range", cfg->what, cfg->capacity);
		return NULL;
	}
	while (isz < cfg->capacity * 2)
		isz <<= 1;
	t = calloc(1, sizeof *t);
	if (t == NULL)
		goto oom;
	t->cfg = *cfg;
	t->full = isz;
	t->slots = calloc(cfg->capacity, cfg->entry_size);
	if (t->slots == NULL)
		goto oom;
	if (isz <= TABLE_INDEX_MIN) {
		t->index = calloc(isz, sizeof *t->index);
		if (t->index == NULL)
			goto oom;
	} else {
		t->map_bytes = isz * sizeof *t->index;	/* > 4 KB and a power of two: whole pages */
		t->index = region_new(t->map_bytes);
		t->spare = region_new(t->map_bytes);
		if (t->index == NULL || t->spare == NULL)
			goto oom;
		isz = TABLE_INDEX_MIN;
	}
	t->mask = isz - 1;
	/*
	 * slot + 1 <= capacity < 2^30, so at least 2 tag bits remain; up to 3
	 * bits of distance go between, as long as 8 tag bits stay (a million
	 * flows: 21 slot bits, 3 of distance, 8 of tag). At a load of at most
	 * 1/2 nearly every word sits within 6 of its home.
	 */
	t->slot_bits = 1;
	while (((size_t)1 << t->slot_bits) <= cfg->capacity)
		t->slot_bits++;
	t->slot_mask = (uint32_t)(((uint64_t)1 << t->slot_bits) - 1);
	unsigned dist_bits = t->slot_bits + 3 + 8 <= 32 ? 3 : 0;
	t->dist_max = (1u << dist_bits) - 1;
	t->tag_mask = (uint32_t)~(((uint64_t)1 << (t->slot_bits + dist_bits)) - 1);
	/*
	 * Slots are handed out in order and never pre-touched: calloc'd pages
	 * the table has not used yet cost address space, not memory, so a large
	 * configured capacity is only paid for as traffic fills it.
	 */
	t->free_head = TABLE_NIL;
	t->fresh = 0;
	for (int l = 0; l < TABLE_MAX_LISTS; l++)
		t->head[l] = t->tail[l] = TABLE_NIL;
	return t;
oom:
	table_free(t);
	snprintf(err, errlen, "cannot allocate a %s table of %zu entries (%zu bytes each)",
	    cfg->what, cfg->capacity, cfg->entry_size);
	return NULL;
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	if (t->map_bytes) {
		region_free(t->index, t->map_bytes);
		region_free(t->spare, t->map_bytes);
	} else {
		free(t->index);
	}
	free(t);
}

void *
table_owner_new(size_t size, const struct table_config *cfg, char *err, size_t errlen)
{
	struct table **owner = calloc(1, size);

	if (owner == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->what);
		return NULL;
	}
	if ((*owner = table_new(cfg, err, errlen)) == NULL) {
		free(owner);
		return NULL;
	}
	return owner;
}

void
table_owner_free(void *owner)
{
	if (owner == NULL)
		return;
	table_free(*(struct table **)owner);
	free(owner);
}

static inline int
key_eq(const struct table *t, const struct tnode *n, const void *key)
{
	return memcmp((const uint8_t *)n + t->cfg.key_off, key, t->cfg.key_len) == 0;
}

static inline uint32_t
index_tag(const struct table *t, uint32_t hash)
{
	return hash & t->tag_mask;
}

static inline uint32_t
index_slot(const struct table *t, uint32_t e)
{
	return (e & t->slot_mask) - 1;
}

/* The word e, d positions past its home (saturated at dist_max). */
static inline uint32_t
with_dist(const struct table *t, uint32_t e, size_t d)
{
	uint32_t v = d < t->dist_max ? (uint32_t)d : t->dist_max;

	return (e & ~(t->dist_max << t->slot_bits)) | v << t->slot_bits;
}

/* How far the word e at pos sits past its home: from the word, or its entry's hash. */
static inline size_t
word_dist(const struct table *t, uint32_t e, size_t pos)
{
	uint32_t v = (e >> t->slot_bits) & t->dist_max;

	if (v < t->dist_max)
		return v;
	return (pos - (node_at(t, index_slot(t, e))->hash & t->mask)) & t->mask;
}

/* The index position holding key, or the empty position where it would go. */
static size_t
index_pos(const struct table *t, const void *key, uint32_t hash)
{
	size_t pos = hash & t->mask;
	uint32_t tag = index_tag(t, hash);

	for (;;) {
		uint32_t e = t->index[pos];
		if (e == 0)
			return pos;
		if ((e & t->tag_mask) == tag) {
			const struct tnode *n = node_at(t, index_slot(t, e));
			if (n->hash == hash && key_eq(t, n, key))
				return pos;
		}
		pos = (pos + 1) & t->mask;
	}
}

void *
table_lookup(struct table *t, const void *key, uint32_t hash)
{
	uint32_t e = t->index[index_pos(t, key, hash)];

	return e ? node_at(t, index_slot(t, e)) : NULL;
}

static void
list_unlink(struct table *t, struct tnode *n)
{
	if (n->prev != TABLE_NIL)
		node_at(t, n->prev)->next = n->next;
	else
		t->head[n->list] = n->next;
	if (n->next != TABLE_NIL)
		node_at(t, n->next)->prev = n->prev;
	else
		t->tail[n->list] = n->prev;
}

static void
list_append(struct table *t, struct tnode *n, uint32_t slot)
{
	n->next = TABLE_NIL;
	n->prev = t->tail[n->list];
	if (n->prev != TABLE_NIL)
		node_at(t, n->prev)->next = slot;
	else
		t->head[n->list] = slot;
	t->tail[n->list] = slot;
}

/*
 * Doubles the index: every word moves to its home under the new mask (or
 * the first free position after it). The tag bits do not depend on the
 * mask; the home (and so the distance) needs the entry's hash.
 */
static void
index_grow(struct table *t)
{
	size_t nmask = t->mask * 2 + 1;
	uint32_t *from = t->index, *to = t->spare;

	for (size_t i = 0; i <= t->mask; i++) {
		uint32_t e = from[i];
		if (e == 0)
			continue;
		size_t home = node_at(t, index_slot(t, e))->hash & nmask, pos = home;
		while (to[pos] != 0)
			pos = (pos + 1) & nmask;
		to[pos] = with_dist(t, e, (pos - home) & nmask);
	}
	/* Private anonymous pages read back as zeros after this: the region is
	 * ready to be grown into next time, and no longer counts as resident. */
	if (madvise(from, t->map_bytes, MADV_DONTNEED) != 0)
		memset(from, 0, (t->mask + 1) * sizeof *from);
	t->index = to;
	t->spare = from;
	t->mask = nmask;
}

void *
table_add(struct table *t, const void *key, uint32_t hash, int list)
{
	uint32_t slot;
	struct tnode *n;

	if ((t->count + 1) * 2 > t->mask + 1 && t->mask + 1 < t->full)
		index_grow(t);

	size_t pos = index_pos(t, key, hash);

	OF_ASSERT(!table_full(t) && t->index[pos] == 0 && list >= 0 && list < t->cfg.nlists);
	if (t->free_head != TABLE_NIL) {
		slot = t->free_head;
		t->free_head = node_at(t, slot)->next;
	} else {
		slot = t->fresh++;
	}
	n = node_at(t, slot);
	memset(n, 0, t->cfg.entry_size);
	memcpy((uint8_t *)n + t->cfg.key_off, key, t->cfg.key_len);
	n->hash = hash;
	n->used = 1;
	n->list = (uint8_t)list;
	list_append(t, n, slot);
	t->index[pos] = with_dist(t, index_tag(t, hash) | (slot + 1), (pos - (hash & t->mask)) & t->mask);
	t->count++;
	return n;
}

/* Backward-shift deletion (Knuth, TAOCP 6.4, algorithm R). */
static void
index_remove(struct table *t, size_t pos)
{
	size_t next = pos;

	t->index[pos] = 0;
	for (;;) {
		next = (next + 1) & t->mask;
		uint32_t e = t->index[next];
		if (e == 0)
			return;
		/* e may fill the hole unless its home lies cyclically in (pos, next]. */
		size_t d = word_dist(t, e, next), gap = (next - pos) & t->mask;
		if (d >= gap) {
			t->index[pos] = with_dist(t, e, d - gap);
			t->index[next] = 0;
			pos = next;
		}
	}
}

void
table_del(struct table *t, void *entry)
{
	struct tnode *n = entry;
	uint32_t slot = table_slot(t, entry);
	size_t pos = index_pos(t, (uint8_t *)n + t->cfg.key_off, n->hash);

	OF_ASSERT(n->used && index_slot(t, t->index[pos]) == slot &&
	    (t->index[pos] & t->tag_mask) == index_tag(t, n->hash));
	index_remove(t, pos);
	list_unlink(t, n);
	n->used = 0;
	n->next = t->free_head;
	t->free_head = slot;
	t->count--;
}

void
table_touch(struct table *t, void *entry, int list)
{
	struct tnode *n = entry;
	uint32_t slot = table_slot(t, entry);

	if (list < 0)
		list = n->list;
	if (list == n->list && t->tail[list] == slot)
		return;
	list_unlink(t, n);
	n->list = (uint8_t)list;
	list_append(t, n, slot);
}

void *
table_victim(struct table *t, int list, uint64_t (*weight)(const void *entry))
{
	void *e = table_head(t, list), *best = e;
	uint64_t best_w = e ? weight(e) : 0;

	for (int i = 1; i < TABLE_VICTIM_SAMPLE && e != NULL && (e = table_next(t, e)) != NULL; i++) {
		uint64_t w = weight(e);
		if (w < best_w) {
			best = e;
			best_w = w;
		}
	}
	return best;
}

void *
table_head(struct table *t, int list)
{
	return t->head[list] == TABLE_NIL ? NULL : node_at(t, t->head[list]);
}

void *
table_next(struct table *t, const void *entry)
{
	const struct tnode *n = entry;

	return n->next == TABLE_NIL ? NULL : node_at(t, n->next);
}

void *
table_tail(struct table *t, int list)
{
	return t->tail[list] == TABLE_NIL ? NULL : node_at(t, t->tail[list]);
}

void *
table_prev(struct table *t, const void *entry)
{
	const struct tnode *n = entry;

	return n->prev == TABLE_NIL ? NULL : node_at(t, n->prev);
}

int
table_full(const struct table *t)
{
	return t->free_head == TABLE_NIL && t->fresh >= t->cfg.capacity;
}

size_t
table_count(const struct table *t)
{
	return t->count;
}

size_t
table_capacity(const struct table *t)
{
	return t->cfg.capacity;
}

size_t
table_bytes(const struct table *t)
{
	return t->cfg.capacity * t->cfg.entry_size + (t->mask + 1) * sizeof *t->index;
}

size_t
table_index_words(const struct table *t)
{
	return t->mask + 1;
}
