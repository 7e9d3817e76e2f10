/*
 * names - interned names, reference counted, in two size classes.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "domain.h"
#include "hash.h"
#include "names.h"
#include "table.h"

#define LONG_BIT	0x80000000u	/* a reference's class: set for the long table */

/* The text is the key: zero-padded to its class's size, so memcmp compares names. */
struct name_entry {
	struct tnode node;
	uint32_t refs;
	uint8_t dom;		/* DOM_UNASKED, DOM_NONE, or where the registered domain starts + DOM_AT */
	char text[];
};

#define DOM_UNASKED	0
#define DOM_NONE	1
#define DOM_AT		2
/* Entries follow each other in the slots: a whole number of tnode alignments. */
#define ENTRY_SIZE(text) \
	((sizeof(struct name_entry) + (text) + _Alignof(struct tnode) - 1) / _Alignof(struct tnode) * _Alignof(struct tnode))

struct names {
	struct table *t[2];	/* [0] short, [1] long */
	uint64_t seed;
	uint64_t interned, refused;
};

static const size_t class_len[2] = { NAMES_SHORT, NAMES_MAX };

struct names *
names_new(size_t capacity, uint64_t seed, char *err, size_t errlen)
{
	struct names *n = calloc(1, sizeof *n);

	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->seed = seed;
	for (int c = 0; c < 2; c++) {
		struct table_config tc = {
			.capacity = capacity, .entry_size = ENTRY_SIZE(class_len[c]),
			.key_off = offsetof(struct name_entry, text), .key_len = class_len[c],
			.nlists = 1, .what = c ? "name (long)" : "name",
		};
		if ((n->t[c] = table_new(&tc, err, errlen)) == NULL) {
			names_free(n);
			return NULL;
		}
	}
	return n;
}

void
names_free(struct names *n)
{
	if (n == NULL)
		return;
	table_free(n->t[0]);
	table_free(n->t[1]);
	free(n);
}

static struct name_entry *
entry_of(const struct names *n, uint32_t ref)
{
	return table_at(n->t[(ref & LONG_BIT) != 0], (ref & ~LONG_BIT) - 1);
}

uint32_t
names_intern(struct names *n, const char *s, size_t len)
{
	char key[NAMES_MAX];
	struct name_entry *e;
	uint32_t hash;
	int c;

	len = strnlen(s, len < NAMES_MAX - 1 ? len : NAMES_MAX - 1);
	if (len == 0)
		return NAME_NONE;
	c = len >= NAMES_SHORT;
	memset(key, 0, class_len[c]);
	memcpy(key, s, len);
	hash = (uint32_t)hash_bytes(key, len, n->seed);
	e = table_lookup(n->t[c], key, hash);
	if (e == NULL) {
		if (table_full(n->t[c])) {
			n->refused++;
			return NAME_NONE;
		}
		e = table_add(n->t[c], key, hash, 0);
		n->interned++;
	}
	e->refs++;
	return (table_slot(n->t[c], e) + 1) | (c ? LONG_BIT : 0);
}

void
names_hold(struct names *n, uint32_t ref)
{
	if (ref != NAME_NONE)
		entry_of(n, ref)->refs++;
}

void
names_copy(struct names *n, uint32_t *dst, uint32_t src)
{
	if (*dst == src)
		return;
	names_hold(n, src);
	names_drop(n, *dst);
	*dst = src;
}

void
names_drop(struct names *n, uint32_t ref)
{
	struct name_entry *e;

	if (ref == NAME_NONE)
		return;
	e = entry_of(n, ref);
	if (--e->refs == 0)
		table_del(n->t[(ref & LONG_BIT) != 0], e);
}

void
names_set(struct names *n, uint32_t *ref, const char *s, size_t len)
{
	uint32_t old = *ref;

	/* Interned first: the same name keeps its slot rather than being freed and made again. */
	*ref = names_intern(n, s, len);
	names_drop(n, old);
}

const char *
names_domain(struct names *n, uint32_t ref, char *out, size_t len)
{
	struct name_entry *e;

	if (ref == NAME_NONE)
		return NULL;
	e = entry_of(n, ref);
	if (len < DOMAIN_MAX)	/* the answer is kept for a buffer that always fits */
		return domain_registered(e->text, out, len);
	if (e->dom == DOM_UNASKED) {
		long off = domain_registered_offset(e->text, DOMAIN_MAX);
		e->dom = (uint8_t)(off < 0 ? DOM_NONE : DOM_AT + off);
	}
	return e->dom == DOM_NONE ? NULL : domain_registered_at(e->text, e->dom - DOM_AT, out, len);
}

const char *
names_str(const struct names *n, uint32_t ref)
{
	return ref == NAME_NONE ? "" : entry_of(n, ref)->text;
}

uint32_t
names_refs(const struct names *n, uint32_t ref)
{
	return ref == NAME_NONE ? 0 : entry_of(n, ref)->refs;
}

void
names_stats(const struct names *n, struct names_stats *st)
{
	st->names = table_count(n->t[0]) + table_count(n->t[1]);
	st->capacity = table_capacity(n->t[0]);
	st->interned = n->interned;
	st->refused = n->refused;
	st->bytes = table_bytes(n->t[0]) + table_bytes(n->t[1]);
}
