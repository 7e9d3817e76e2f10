/*
 * domain - see domain.h.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>

#include "domain.h"
#include "hash.h"

/*
 * name lower-cased, without trailing dots, into low (room for DOMAIN_MAX);
 * its length, or 0 if it is empty or does not fit in len.
 */
static size_t
lower_bare(const char *name, char *low, size_t len)
{
	size_t n = strlen(name);

	while (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= DOMAIN_MAX || n >= len)
		return 0;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	return n;
}

/* Where the registered domain of low (lower_bare()'s) starts. */
static size_t
registered_offset(const char *low)
{
	const char *reg = psl_builtin() ? psl_registrable_domain(psl_builtin(), low) : NULL;

	return reg ? (size_t)(reg - low) : 0;
}

const char *
domain_registered(const char *name, char *out, size_t len)
{
	char low[DOMAIN_MAX];
	size_t n = lower_bare(name, low, len), off;

	if (n == 0)
		return NULL;
	off = registered_offset(low);
	memcpy(out, low + off, n - off + 1);
	return out;
}

long
domain_registered_offset(const char *name, size_t len)
{
	char low[DOMAIN_MAX];

	return lower_bare(name, low, len) == 0 ? -1 : (long)registered_offset(low);
}

const char *
domain_registered_at(const char *name, size_t off, char *out, size_t len)
{
	char low[DOMAIN_MAX];
	size_t n = lower_bare(name, low, len);

	if (n == 0 || off > n)
		return NULL;
	memcpy(out, low + off, n - off + 1);
	return out;
}

size_t
domain_prefix_len(const char *name, const char *registered)
{
	size_t n = strlen(name), r = strlen(registered);

	while (n > 0 && name[n - 1] == '.')
		n--;
	return n > r ? n - r : 0;
}

/*
 * One answer: the name as asked (exact bytes) and where its registered
 * domain starts. libpsl answers with a pointer into the lower-cased name
 * it was given, so the answer is always the lower-cased tail of the name
 * from that offset: 64 bytes a slot, a cache line.
 */
struct dc_slot {
	uint8_t len;		/* name length; 0 = empty slot */
	uint8_t reg_off;	/* where the registered domain starts */
	char name[DOMAIN_CACHE_NAME];
};

struct domain_cache {
	uint64_t hits, misses;
	struct dc_slot slot[DOMAIN_CACHE_SLOTS];
};

struct domain_cache *
domain_cache_new(void)
{
	return calloc(1, sizeof(struct domain_cache));
}

void
domain_cache_free(struct domain_cache *c)
{
	free(c);
}

const char *
domain_registered_cached(struct domain_cache *c, const char *name, char *out, size_t len)
{
	size_t n = strlen(name), bare, off;
	char low[DOMAIN_MAX];

	if (c == NULL || n > DOMAIN_CACHE_NAME)
		return domain_registered(name, out, len);
	if ((bare = lower_bare(name, low, len)) == 0)
		return NULL;
	struct dc_slot *s = &c->slot[hash_bytes(name, n, 0) & (DOMAIN_CACHE_SLOTS - 1)];
	if (s->len == n && memcmp(s->name, name, n) == 0) {
		off = s->reg_off;
		c->hits++;
	} else {
		off = registered_offset(low);
		s->len = (uint8_t)n;
		s->reg_off = (uint8_t)off;
		memcpy(s->name, name, n);
		c->misses++;
	}
	memcpy(out, low + off, bare - off + 1);
	return out;
}

void
domain_cache_counts(const struct domain_cache *c, uint64_t *hits, uint64_t *misses)
{
	*hits = c ? c->hits : 0;
	*misses = c ? c->misses : 0;
}
