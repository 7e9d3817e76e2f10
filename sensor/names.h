/*
 * names - interned names (server names, registered domains), shared by the
 * tables that keep one per entry.
 *
 * A hundred thousand destinations, the peer ledger's entries, the DNS pairs
 * and the recent new destinations name a few tens of thousands of servers:
 * each entry keeps a 4-byte reference instead of up to 96 bytes of text.
 * References are counted, and a name's slot is free again when its last
 * holder lets go.
 *
 * Two size classes, each its own table: short names (most of them) and
 * long ones up to NAMES_MAX - 1 bytes, so the common name does not pay for
 * the longest. The capacity is the number of references the holders can
 * have at once (each holder field holds at most one), given to each class:
 * interning cannot run out of room. Should a caller break that promise,
 * names_intern() gives NAME_NONE and counts it (refused), rather than
 * dropping a name someone holds.
 *
 * Owned by the sensor context; lent to host.c and the detector modules.
 */
#ifndef OUTFLOW_NAMES_H
#define OUTFLOW_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define NAMES_MAX	96	/* longest name kept, with its NUL: longer ones are cut */
#define NAMES_SHORT	32	/* short class, with its NUL */
#define NAME_NONE	0u	/* the reference to "" (holds nothing) */

struct names;

struct names_stats {
	size_t names;		/* distinct names held now */
	size_t capacity;	/* references the holders may have (each class) */
	uint64_t interned;	/* names_intern() calls that made a new name */
	uint64_t refused;	/* class full: the holder got NAME_NONE */
	size_t bytes;		/* both tables, slots and index as grown */
};

/* NULL with a message in err if it cannot allocate. */
struct names *names_new(size_t capacity, uint64_t seed, char *err, size_t errlen);
void names_free(struct names *n);

/*
 * A new reference to the first len bytes of s (cut to NAMES_MAX - 1, and
 * at a NUL if there is one): NAME_NONE for the empty name.
 */
uint32_t names_intern(struct names *n, const char *s, size_t len);
/* One more reference to a name already held (NAME_NONE: nothing). */
void names_hold(struct names *n, uint32_t ref);
/* *dst becomes another reference to src (held); the old one is dropped. */
void names_copy(struct names *n, uint32_t *dst, uint32_t src);
/* Lets go of one reference (NAME_NONE: nothing). */
void names_drop(struct names *n, uint32_t ref);
/* *ref becomes a reference to s, as names_intern() takes it; the old one is dropped. */
void names_set(struct names *n, uint32_t *ref, const char *s, size_t len);
/* The text of a reference that is held: "" for NAME_NONE. */
const char *names_str(const struct names *n, uint32_t ref);
/*
 * domain_registered() of the name (domain.h), worked out once per name and
 * kept with it: NULL for NAME_NONE or a name without one.
 */
const char *names_domain(struct names *n, uint32_t ref, char *out, size_t len);
/* Its references now (0 for NAME_NONE): for the tests. */
uint32_t names_refs(const struct names *n, uint32_t ref);

void names_stats(const struct names *n, struct names_stats *st);

#endif
