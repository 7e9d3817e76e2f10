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

const char *
domain_registered(const char *name, char *out, size_t len)
{
	char low[DOMAIN_MAX];
	size_t n = strlen(name);
	const char *reg;

	while (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof low || n >= len)
		return NULL;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	reg = psl_builtin() ? psl_registrable_domain(psl_builtin(), low) : NULL;
	if (reg == NULL)
		reg = low;
	memmove(out, reg, strlen(reg) + 1);
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
	size_t n = strlen(name), bare = n;

	while (bare > 0 && name[bare - 1] == '.')
		bare--;
	if (c == NULL || n > DOMAIN_CACHE_NAME)
		return domain_registered(name, out, len);
	if (bare == 0 || bare >= len)	/* as domain_registered() would say */
		return NULL;
	struct dc_slot *s = &c->slot[hash_bytes(name, n, 0) & (DOMAIN_CACHE_SLOTS - 1)];
	if (s->len == n && memcmp(s->name, name, n) == 0) {
		size_t i, o = 0;
		for (i = s->reg_off; i < bare; i++)
			out[o++] = (char)tolower((unsigned char)name[i]);
		out[o] = '\0';
		c->hits++;
		return out;
	}
	c->misses++;
	if (domain_registered(name, out, len) == NULL)
		return NULL;
	s->len = (uint8_t)n;
	s->reg_off = (uint8_t)(bare - strlen(out));
	memcpy(s->name, name, n);
	return out;
}

void
domain_cache_counts(const struct domain_cache *c, uint64_t *hits, uint64_t *misses)
{
	*hits = c ? c->hits : 0;
	*misses = c ? c->misses : 0;
}
