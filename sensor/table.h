/*
 * table - a fixed-capacity hash table with LRU lists, shared by the flow,
 * host and destination tables.
 *
 * All memory is reserved once (capacity entries of entry_size bytes, plus
 * an index of up to 2x capacity rounded to a power of two), so a table can
 * never grow past its configuration; the caller decides what to evict when
 * it is full (normally the head of an LRU list: the entry seen longest ago)
 * and counts it. Pages become resident as entries are first used, and the
 * index doubles from TABLE_INDEX_MIN words as the table fills (load at most
 * 1/2), so a large cap costs memory only as traffic fills it. Each entry
 * starts with a struct tnode; the key lives at key_off inside the entry and
 * is compared with memcmp, so keys must be padding-free or zeroed. Lookups
 * use linear probing; removal uses backward-shift deletion, so no tombstones
 * accumulate under churn.
 *
 * Entries are threaded on up to TABLE_MAX_LISTS LRU lists (e.g. one per
 * timeout class): table_touch() moves an entry to its list's tail, so each
 * list is in last-touched order and its head is the stalest entry.
 */
#ifndef OUTFLOW_TABLE_H
#define OUTFLOW_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define TABLE_MAX_LISTS 4
#define TABLE_INDEX_MIN 1024	/* index words a table starts with (or its full size, if less) */
#define TABLE_NIL UINT32_MAX

struct tnode {
	uint32_t hash;
	uint32_t prev, next;	/* LRU neighbours (slot numbers); free-list link when unused */
	uint8_t list;
	uint8_t used;
	uint16_t user;		/* spare bits for the owner */
};

struct table_config {
	size_t capacity;
	size_t entry_size;	/* >= sizeof(struct tnode), entry starts with it */
	size_t key_off, key_len;
	int nlists;		/* 1..TABLE_MAX_LISTS */
	const char *what;	/* "flow", "host": for error messages */
};

struct table;

/* Allocates everything; NULL with a message in err if it cannot. */
struct table *table_new(const struct table_config *cfg, char *err, size_t errlen);
void table_free(struct table *t);

/*
 * A detector module whose state is one table, held as the FIRST member of
 * its struct (struct x { struct table *t; ... }; assert it with
 * TABLE_OWNER_FIRST). table_owner_new() returns a zeroed struct of size
 * bytes with that table made, the caller's to free with table_owner_free()
 * (NULL is fine, so it serves as the module's free hook); NULL with a
 * message in err if either allocation fails.
 */
void *table_owner_new(size_t size, const struct table_config *cfg, char *err, size_t errlen);
void table_owner_free(void *owner);
#define TABLE_OWNER_FIRST(type, member) \
	_Static_assert(offsetof(type, member) == 0, #type ": its table must come first (table_owner_free)")

/* The entry with this key, or NULL. */
void *table_lookup(struct table *t, const void *key, uint32_t hash);

/*
 * Adds a zeroed entry with this key at the tail of list. The table must
 * not be full (check table_full(), evict first) and the key not present.
 */
void *table_add(struct table *t, const void *key, uint32_t hash, int list);

/* Removes an entry (its memory is reused by a later add). */
void table_del(struct table *t, void *entry);

/* Moves an entry to the tail of list (its own list if list < 0). */
void table_touch(struct table *t, void *entry, int list);

/* The stalest entry of a list, and the next one after e (NULL at the end). */
void *table_head(struct table *t, int list);
void *table_next(struct table *t, const void *entry);
/* The freshest entry of a list, and the one touched before e (NULL at the start). */
void *table_tail(struct table *t, int list);
void *table_prev(struct table *t, const void *entry);

int table_full(const struct table *t);
size_t table_count(const struct table *t);
size_t table_capacity(const struct table *t);
/*
 * Which entry to evict from a full table: of the n stalest entries of list,
 * the one weight() rates lowest (the stalest of equals). Plain LRU would let
 * a flood of one-packet entries push out, within a fraction of a second, a
 * heavy entry that has not been evaluated yet; weighing by volume makes the
 * flood evict itself, at the cost of looking at a few more entries.
 */
#define TABLE_VICTIM_SAMPLE 8
void *table_victim(struct table *t, int list, uint64_t (*weight)(const void *entry));

/* Slot number of an entry (stable while it lives) and back. */
uint32_t table_slot(const struct table *t, const void *entry);
void *table_at(struct table *t, uint32_t slot);
/* Bytes the table holds for its entries (all capacity) and its index (as grown so far). */
size_t table_bytes(const struct table *t);
/* Index words in use now: TABLE_INDEX_MIN (or the full size) doubling up to 2x capacity. */
size_t table_index_words(const struct table *t);

#endif
