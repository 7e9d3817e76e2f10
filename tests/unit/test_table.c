/*
 * test_table - the fixed-capacity hash table: linear probing with
 * backward-shift deletion, and the LRU lists.
 *
 * The caller supplies the hash, so these tests choose it: equal low bits
 * force every key into one probe cluster, and home positions at the end of
 * the index force clusters to wrap around, which is where backward-shift
 * deletion is easiest to get wrong. A randomized test checks the table
 * against a plain array (membership, values and LRU order) over 100k
 * operations; another checks the index as it doubles under churn.
 */
#include <stdlib.h>

#include "t.h"
#include "table.h"

struct ent {
	struct tnode node;
	uint32_t key;
	uint32_t val;
};

static struct table *
mk(size_t cap, int nlists)
{
	char err[128];
	struct table_config c = {
		.capacity = cap, .entry_size = sizeof(struct ent),
		.key_off = offsetof(struct ent, key), .key_len = sizeof(uint32_t),
		.nlists = nlists, .what = "test",
	};
	struct table *t = table_new(&c, err, sizeof err);

	if (t == NULL)
		fprintf(stderr, "  table_new: %s\n", err);
	return t;
}

static struct ent *
add(struct table *t, uint32_t key, uint32_t hash, int list)
{
	struct ent *e = table_add(t, &key, hash, list);

	e->val = key * 7 + 1;
	return e;
}

static struct ent *
find(struct table *t, uint32_t key, uint32_t hash)
{
	return table_lookup(t, &key, hash);
}

/* Every key's hash has the same low 16 bits: one long probe cluster. */
static uint32_t
h_collide(uint32_t key)
{
	return (key << 16) | 0x1234;
}

/* Homes in the last positions of a 256-entry index: the cluster wraps to 0. */
static uint32_t
h_wrap(uint32_t key)
{
	return (key << 8) | (uint32_t)(250 + key % 6);
}

static void
test_table_rejects_bad_config(void)
{
	char err[128] = "";
	struct table_config c = {
		.capacity = 0, .entry_size = sizeof(struct ent),
		.key_off = offsetof(struct ent, key), .key_len = 4, .nlists = 1, .what = "thing",
	};

	CHECK(table_new(&c, err, sizeof err) == NULL);
	CHECK(strstr(err, "thing table") != NULL);
	c.capacity = 4;
	c.nlists = TABLE_MAX_LISTS + 1;
	CHECK(table_new(&c, err, sizeof err) == NULL);
	c.nlists = 1;
	c.key_off = sizeof(struct ent);	/* key outside the entry */
	CHECK(table_new(&c, err, sizeof err) == NULL);
	c.key_off = offsetof(struct ent, key);
	c.entry_size = 4;		/* smaller than struct tnode */
	CHECK(table_new(&c, err, sizeof err) == NULL);
}

static void
test_table_add_lookup_del_with_colliding_hashes(void)
{
	struct table *t = mk(100, 1);
	enum { N = 100 };

	for (uint32_t k = 0; k < N; k++)
		add(t, k, h_collide(k), 0);
	CHECK(table_full(t));
	CHECK_EQ_U(table_count(t), N);
	for (uint32_t k = 0; k < N; k++) {
		struct ent *e = find(t, k, h_collide(k));
		CHECK(e != NULL && e->key == k && e->val == k * 7 + 1);
	}
	CHECK(find(t, N + 5, h_collide(N + 5)) == NULL);
	/* Delete every third key from the middle of the cluster, then the rest of
	 * the odd ones: each remaining key must still be reachable. */
	for (uint32_t k = 1; k < N; k += 3)
		table_del(t, find(t, k, h_collide(k)));
	for (uint32_t k = 0; k < N; k++) {
		struct ent *e = find(t, k, h_collide(k));
		if (k % 3 == 1)
			CHECK(e == NULL);
		else
			CHECK(e != NULL && e->key == k);
	}
	for (uint32_t k = 0; k < N; k++) {
		struct ent *e = find(t, k, h_collide(k));
		if (e != NULL && k % 2 == 1)
			table_del(t, e);
	}
	size_t left = 0;
	for (uint32_t k = 0; k < N; k++) {
		struct ent *e = find(t, k, h_collide(k));
		int want = k % 3 != 1 && k % 2 == 0;
		CHECK((e != NULL) == want);
		left += want;
	}
	CHECK_EQ_U(table_count(t), left);
	CHECK(!table_full(t));
	table_free(t);
}

static void
test_table_backward_shift_across_index_wrap(void)
{
	struct table *t = mk(100, 1);	/* index of 256 */

	/* Churn: each round fills the wrapped cluster, deletes half, re-adds. */
	for (int round = 0; round < 50; round++) {
		for (uint32_t k = 0; k < 100; k++)
			if (find(t, k, h_wrap(k)) == NULL)
				add(t, k, h_wrap(k), 0);
		CHECK(table_full(t));
		for (uint32_t k = (uint32_t)round % 3; k < 100; k += 2)
			table_del(t, find(t, k, h_wrap(k)));
		for (uint32_t k = 0; k < 100; k++) {
			int gone = k >= (uint32_t)round % 3 && (k - (uint32_t)round % 3) % 2 == 0;
			struct ent *e = find(t, k, h_wrap(k));
			CHECK((e == NULL) == gone);
			if (e != NULL)
				CHECK_EQ_U(e->val, k * 7 + 1);
		}
	}
	table_free(t);
}

static void
test_table_lru_touch_moves_to_tail_head_is_stalest(void)
{
	struct table *t = mk(8, 2);
	struct ent *e[5];

	for (uint32_t k = 0; k < 5; k++)
		e[k] = add(t, k, k, 0);
	CHECK(table_head(t, 0) == e[0]);
	CHECK(table_tail(t, 0) == e[4]);
	table_touch(t, e[0], -1);	/* 1 2 3 4 0 */
	table_touch(t, e[2], -1);	/* 1 3 4 0 2 */
	uint32_t want[] = { 1, 3, 4, 0, 2 };
	size_t i = 0;
	for (struct ent *x = table_head(t, 0); x; x = table_next(t, x), i++)
		CHECK(i < 5 && x->key == want[i]);
	CHECK_EQ_U(i, 5);
	/* Backwards too. */
	i = 5;
	for (struct ent *x = table_tail(t, 0); x; x = table_prev(t, x))
		CHECK(i > 0 && x->key == want[--i]);
	CHECK_EQ_U(i, 0);
	/* Touching the tail is a no-op; moving to another list appends there. */
	table_touch(t, e[2], -1);
	CHECK(table_tail(t, 0) == e[2]);
	table_touch(t, e[4], 1);
	CHECK(table_head(t, 1) == e[4] && table_tail(t, 1) == e[4]);
	CHECK_EQ_U(e[4]->node.list, 1);
	table_touch(t, e[1], 1);
	CHECK(table_head(t, 1) == e[4] && table_tail(t, 1) == e[1]);
	CHECK(table_head(t, 0) == e[3]);
	/* Deleting the head and the tail keeps both ends right. */
	table_del(t, e[3]);
	table_del(t, e[2]);
	CHECK(table_head(t, 0) == e[0] && table_tail(t, 0) == e[0]);
	table_del(t, e[0]);
	CHECK(table_head(t, 0) == NULL && table_tail(t, 0) == NULL);
	CHECK_EQ_U(table_count(t), 2);
	table_free(t);
}

static void
test_table_full_reuses_freed_slots_and_never_exceeds_capacity(void)
{
	struct table *t = mk(16, 1);

	for (uint32_t k = 0; k < 16; k++) {
		CHECK(!table_full(t));
		struct ent *e = add(t, k, h_collide(k), 0);
		CHECK(table_slot(t, e) < 16);
		CHECK(table_at(t, table_slot(t, e)) == (void *)e);
	}
	CHECK(table_full(t));
	CHECK_EQ_U(table_capacity(t), 16);
	CHECK(table_bytes(t) >= 16 * sizeof(struct ent));
	/* Evict-then-add as the owners do, 1000 times. */
	for (uint32_t k = 16; k < 1016; k++) {
		CHECK(table_full(t));
		struct ent *old = table_head(t, 0);
		CHECK_EQ_U(old->key, k - 16);
		table_del(t, old);
		struct ent *e = add(t, k, h_collide(k), 0);
		CHECK(e->node.used && e->val == k * 7 + 1);
		CHECK_EQ_U(table_count(t), 16);
		CHECK(table_slot(t, e) < 16);
	}
	/* A new entry starts zeroed (apart from the node and key). */
	struct ent *e = table_head(t, 0);
	uint32_t k = e->key;
	table_del(t, e);
	e = table_add(t, &k, h_collide(k), 0);
	CHECK_EQ_U(e->val, 0);
	table_free(t);
}

/* ---- randomized model test ---------------------------------------------- */

#define M_KEYS	1024
#define M_CAP	200

struct model {
	int present[M_KEYS];
	uint32_t val[M_KEYS];
	int list[M_KEYS];
	uint32_t order[2][M_CAP];	/* keys of each list, stalest first */
	size_t n[2];
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* Few distinct homes, some near the index end: long, wrapping clusters. */
static uint32_t
h_model(uint32_t key)
{
	static const uint32_t homes[] = { 0, 1, 7, 200, 509, 510, 511 };

	return (key << 9) | homes[key % 7];
}

static void
model_unlink(struct model *m, uint32_t key)
{
	int l = m->list[key];

	for (size_t i = 0; i < m->n[l]; i++) {
		if (m->order[l][i] == key) {
			memmove(&m->order[l][i], &m->order[l][i + 1], (m->n[l] - i - 1) * sizeof(uint32_t));
			m->n[l]--;
			return;
		}
	}
}

static int
model_matches(struct table *t, const struct model *m)
{
	int ok = 1;

	for (int l = 0; l < 2; l++) {
		size_t i = 0;
		for (struct ent *e = table_head(t, l); e; e = table_next(t, e), i++)
			if (i >= m->n[l] || e->key != m->order[l][i])
				ok = 0;
		ok &= i == m->n[l];
	}
	for (uint32_t k = 0; k < M_KEYS; k++) {
		struct ent *e = find(t, k, h_model(k));
		if ((e != NULL) != m->present[k] || (e && e->val != m->val[k]))
			ok = 0;
	}
	return ok;
}

static void
test_table_matches_reference_model_over_100k_random_ops(void)
{
	struct table *t = mk(M_CAP, 2);	/* index of 512 */
	struct model *m = calloc(1, sizeof *m);
	size_t count = 0, mismatches = 0;

	for (int op = 0; op < 100000; op++) {
		uint32_t k = rnd(M_KEYS);
		struct ent *e = find(t, k, h_model(k));
		if ((e != NULL) != m->present[k]) {
			mismatches++;
			continue;
		}
		switch (rnd(4)) {
		case 0:
		case 1:	/* add, evicting the stalest of list 0 (or 1) when full */
			if (e != NULL)
				break;
			if (table_full(t)) {
				int l = m->n[0] ? 0 : 1;
				struct ent *old = table_head(t, l);
				if (old == NULL || old->key != m->order[l][0]) {
					mismatches++;
					break;
				}
				model_unlink(m, old->key);
				m->present[old->key] = 0;
				table_del(t, old);
				count--;
			}
			int l = (int)rnd(2);
			e = table_add(t, &k, h_model(k), l);
			e->val = m->val[k] = rnd(1u << 30);
			m->present[k] = 1;
			m->list[k] = l;
			m->order[l][m->n[l]++] = k;
			count++;
			break;
		case 2:	/* delete */
			if (e == NULL)
				break;
			table_del(t, e);
			model_unlink(m, k);
			m->present[k] = 0;
			count--;
			break;
		case 3:	/* touch, sometimes into the other list */
			if (e == NULL)
				break;
			int to = rnd(3) == 0 ? (int)rnd(2) : -1;
			model_unlink(m, k);
			if (to >= 0)
				m->list[k] = to;
			m->order[m->list[k]][m->n[m->list[k]]++] = k;
			table_touch(t, e, to);
			break;
		}
		if (table_count(t) != count || count > M_CAP)
			mismatches++;
		if (op % 997 == 0 && !model_matches(t, m))
			mismatches++;
	}
	CHECK(model_matches(t, m));
	CHECK_EQ_U(mismatches, 0);
	free(m);
	table_free(t);
}

static uint64_t
ent_weight(const void *e)
{
	return ((const struct ent *)e)->val;
}

static void
test_table_victim_is_the_lightest_of_the_8_stalest(void)
{
	struct table *t = mk(64, 1);
	/* Oldest first: the lightest overall (1) is the 9th stalest, out of reach. */
	static const uint32_t w[] = { 50, 40, 7, 30, 7, 60, 70, 80, 1, 90 };

	if (t == NULL)
		return;
	CHECK(table_victim(t, 0, ent_weight) == NULL);
	for (uint32_t k = 0; k < sizeof w / sizeof w[0]; k++) {
		struct ent *e = table_add(t, &k, k * 2654435761u, 0);
		e->val = w[k];
	}
	struct ent *v = table_victim(t, 0, ent_weight);
	CHECK(v != NULL);
	if (v != NULL) {
		CHECK_EQ_U(v->val, 7);
		CHECK_EQ_U(v->key, 2);	/* of two equals, the staler */
	}
	table_free(t);
}

/*
 * The index keeps the top bits of each hash beside the slot number, so a
 * probe skips a colliding entry without reading it. Whatever the capacity
 * (how many bits the slot needs, how many are left for the tag), entries
 * whose hashes differ only in those top bits, or not at all, must still be
 * told apart by their keys, and the last slot must stay reachable.
 */
static void
test_table_hash_tags_never_confuse_keys_at_any_capacity(void)
{
	static const size_t caps[] = { 1, 2, 3, 7, 8, 255, 256, 257, 4095, 4096 };

	for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
		struct table *t = mk(caps[c], 1);
		size_t bad = 0;
		CHECK(t != NULL);
		if (t == NULL)
			continue;
		for (uint32_t k = 0; k < caps[c]; k++) {
			/* same low bits (same home), top bits differing by key, or the same */
			uint32_t h = k % 2 ? 0x77u : (k << 24) | 0x77u;
			add(t, k, h, 0);
		}
		for (uint32_t k = 0; k < caps[c]; k++) {
			uint32_t h = k % 2 ? 0x77u : (k << 24) | 0x77u;
			struct ent *e = find(t, k, h);
			if (e == NULL || e->key != k || e->val != k * 7 + 1)
				bad++;
			if (find(t, k, h ^ 0x80000000u) != NULL)	/* another hash: not this key */
				bad++;
		}
		if (find(t, (uint32_t)caps[c], 0x77u) != NULL)
			bad++;
		/* Delete every other key, then everything left must still be found. */
		for (uint32_t k = 0; k < caps[c]; k += 2)
			table_del(t, find(t, k, (k << 24) | 0x77u));
		for (uint32_t k = 1; k < caps[c]; k += 2)
			if (find(t, k, 0x77u) == NULL)
				bad++;
		if (bad)
			fprintf(stderr, "  capacity %zu: %zu wrong answers\n", caps[c], bad);
		CHECK_EQ_U(bad, 0);
		table_free(t);
	}
}

/*
 * The index starts at TABLE_INDEX_MIN words and doubles whenever an add
 * would take the load past 1/2, up to 2x capacity. Growing moves every word
 * to its home under the new mask; it alternates between two regions, so the
 * third growth lands in the region the first one left, which must read as
 * empty again. Under random adds and deletes, with hashes whose homes crowd
 * the end of every index size (wrapping clusters before and after each
 * doubling), the table must keep answering exactly as a presence array
 * does, and the index must be as small as the load allows.
 */
#define G_CAP	4000	/* full index: 8192 words, three doublings from 1024 */
#define G_KEYS	16384

static uint32_t
h_grow(uint32_t key)
{
	/* homes 1017..1023, 2041..2047, 4089..4095 or 8185..8191 under every mask */
	static const uint32_t ends[] = { 0x3f9, 0x7fa, 0xffb, 0x1ffc, 0x3fd, 0x7fe, 0xfff, 0x1fff };

	return key % 3 ? (key << 13) | ends[key % 8] : key * 2654435761u;
}

static size_t
words_for(size_t count)
{
	size_t w = TABLE_INDEX_MIN;

	while (count * 2 > w)
		w *= 2;
	return w;
}

static void
test_table_index_grows_with_the_load_and_keeps_every_entry(void)
{
	struct table *t = mk(G_CAP, 1);
	uint8_t *present = calloc(G_KEYS, 1);
	size_t count = 0, wrong = 0, peak = 0, bad_size = 0;

	if (t == NULL || present == NULL)
		goto out;
	CHECK_EQ_U(table_index_words(t), TABLE_INDEX_MIN);
	for (int op = 0; op < 200000; op++) {
		uint32_t k = rnd(G_KEYS);
		struct ent *e = find(t, k, h_grow(k));
		if ((e != NULL) != present[k] || (e && e->val != k * 7 + 1)) {
			wrong++;
			continue;
		}
		/* Fill to capacity in the first half, then churn around 3/4 full. */
		int adding = op < 100000 ? rnd(4) != 0 : count < G_CAP * 3 / 4;
		if (adding && e == NULL && !table_full(t)) {
			add(t, k, h_grow(k), 0);
			present[k] = 1;
			count++;
		} else if (!adding && e != NULL) {
			table_del(t, e);
			present[k] = 0;
			count--;
		}
		if (count > peak)
			peak = count;
		/* Never shrinks: sized by the most entries it has held. */
		if (table_index_words(t) != words_for(peak))
			bad_size++;
		if (op % 4999 == 0)
			for (uint32_t j = 0; j < G_KEYS; j++)
				wrong += (find(t, j, h_grow(j)) != NULL) != present[j];
	}
	for (uint32_t j = 0; j < G_KEYS; j++) {
		struct ent *x = find(t, j, h_grow(j));
		wrong += (x != NULL) != present[j] || (x && x->val != j * 7 + 1);
	}
	CHECK_EQ_U(wrong, 0);
	CHECK_EQ_U(bad_size, 0);
	CHECK_EQ_U(table_count(t), count);
	CHECK_EQ_U(peak, G_CAP);
	CHECK_EQ_U(table_index_words(t), 8192);
	CHECK_EQ_U(table_bytes(t), G_CAP * sizeof(struct ent) + 8192 * sizeof(uint32_t));
out:
	free(present);
	table_free(t);
}

/* A table whose full index is no larger than TABLE_INDEX_MIN starts at full size. */
static void
test_table_small_index_is_full_size_from_the_start(void)
{
	struct table *t = mk(TABLE_INDEX_MIN / 2, 1);
	struct table *u = mk(TABLE_INDEX_MIN / 2 + 1, 1);

	CHECK(t != NULL && u != NULL);
	if (t != NULL && u != NULL) {
		CHECK_EQ_U(table_index_words(t), TABLE_INDEX_MIN);
		CHECK_EQ_U(table_index_words(u), TABLE_INDEX_MIN);
		for (uint32_t k = 0; k <= TABLE_INDEX_MIN / 2; k++)
			add(u, k, h_collide(k), 0);
		CHECK_EQ_U(table_index_words(u), 2 * TABLE_INDEX_MIN);
		for (uint32_t k = 0; k <= TABLE_INDEX_MIN / 2; k++)
			CHECK(find(u, k, h_collide(k)) != NULL);
	}
	table_free(t);
	table_free(u);
}

T_MAIN("table",
    T(test_table_rejects_bad_config),
    T(test_table_add_lookup_del_with_colliding_hashes),
    T(test_table_backward_shift_across_index_wrap),
    T(test_table_lru_touch_moves_to_tail_head_is_stalest),
    T(test_table_full_reuses_freed_slots_and_never_exceeds_capacity),
    T(test_table_matches_reference_model_over_100k_random_ops),
    T(test_table_victim_is_the_lightest_of_the_8_stalest),
    T(test_table_hash_tags_never_confuse_keys_at_any_capacity),
    T(test_table_index_grows_with_the_load_and_keeps_every_entry),
    T(test_table_small_index_is_full_size_from_the_start))
