/*
 * domain - the registered domain of a name, by the Public Suffix List.
 *
 * Detectors group by "who controls this name": every subdomain of
 * t.exfil-tunnel.net is exfil-tunnel.net's, and a bucket under
 * s3.amazonaws.com is its own tenant (the PSL's private section lists such
 * shared hosting suffixes). libpsl's built-in list is used (compiled into
 * the library, read-only), so there is no state to load or free.
 */
#ifndef OUTFLOW_DOMAIN_H
#define OUTFLOW_DOMAIN_H

#include <stddef.h>

#define DOMAIN_MAX 254	/* a DNS name in text, with its NUL */

/*
 * Writes the registered domain of name (lower-cased, without a trailing
 * dot) into out and returns out. A name that is itself a public suffix,
 * has no dot or is not a hostname is returned whole (lower-cased).
 * Returns NULL if name is empty or does not fit in len.
 */
const char *domain_registered(const char *name, char *out, size_t len);

/* Length of the part of name before its registered domain ("a.b." of
 * "a.b.example.com" is 4), given the domain domain_registered() returned. */
size_t domain_prefix_len(const char *name, const char *registered);

#endif
