/*
 * domain - the registered domain of a name, by the Public Suffix List.
 *
 * Detectors group by "who controls this name": every subdomain of
 * t.exfil-tunnel.net is exfil-tunnel.net's, and a bucket under
 * s3.amazonaws.com is its own tenant (the PSL's private section lists such
 * shared hosting suffixes). libpsl's built-in list is used (compiled into
 * the library, read-only), so there is no list to load or free.
 *
 * libpsl is the costliest step of a new flow's bookkeeping, and the same
 * names come back flow after flow, so answers are kept: a flow's server
 * name keeps its own in names.c (names_domain(), worked out once per
 * name), and the names DNS queries ask about go through one small cache,
 * struct domain_cache, fixed size, owned by the sensor context and lent to
 * the modules through their detector_env.
 */
#ifndef OUTFLOW_DOMAIN_H
#define OUTFLOW_DOMAIN_H

#include <stddef.h>
#include <stdint.h>

#define DOMAIN_MAX 254	/* a DNS name in text, with its NUL */

/*
 * Writes the registered domain of name (lower-cased, without a trailing
 * dot) into out and returns out. A name that is itself a public suffix,
 * has no dot or is not a hostname is returned whole (lower-cased).
 * Returns NULL if name is empty or does not fit in len.
 */
const char *domain_registered(const char *name, char *out, size_t len);

/*
 * The same in two steps, for callers that keep the answer per name:
 * where name's registered domain starts (-1 where domain_registered()
 * gives NULL), then the answer from that offset.
 */
long domain_registered_offset(const char *name, size_t len);
const char *domain_registered_at(const char *name, size_t off, char *out, size_t len);

/*
 * domain_registered() through a cache: the same answer, from memory when
 * this name was asked about recently. Direct-mapped (a name displaces the
 * one in its slot), DOMAIN_CACHE_SLOTS slots of names up to
 * DOMAIN_CACHE_NAME bytes (longer ones go to libpsl every time: random
 * tunnel names would only displace the names that repeat). A NULL cache
 * means no caching.
 */
#define DOMAIN_CACHE_SLOTS 2048	/* 128 KB: question names other than their flow's (names.c keeps those) */
#define DOMAIN_CACHE_NAME 62
struct domain_cache;
struct domain_cache *domain_cache_new(void);
void domain_cache_free(struct domain_cache *c);
const char *domain_registered_cached(struct domain_cache *c, const char *name, char *out, size_t len);
/* Answers given from the cache and from libpsl, for the stats. */
void domain_cache_counts(const struct domain_cache *c, uint64_t *hits, uint64_t *misses);

/* Length of the part of name before its registered domain ("a.b." of
 * "a.b.example.com" is 4), given the domain domain_registered() returned. */
size_t domain_prefix_len(const char *name, const char *registered);

#endif
