/*
 * netset - a set of CIDR prefixes (IPv4 and IPv6) with longest-prefix
 * membership tests: HOME_NET, and the address lists rules scope on.
 *
 * Backed by nDPI's patricia tree. IPv4 prefixes are stored in their
 * IPv4-mapped IPv6 form (::ffff:0:0/96 + len), matching struct ip_addr, so one
 * 128-bit tree answers for both families.
 */
#ifndef OUTFLOW_NETSET_H
#define OUTFLOW_NETSET_H

#include <stddef.h>

#include "addr.h"

struct netset;

/* Returns an empty set, or NULL on out-of-memory. Free with netset_free(). */
struct netset *netset_new(void);
void netset_free(struct netset *ns);

/*
 * Adds one "addr[/len]" prefix (no /len: a host). Returns 0, or -1 with a
 * message in err (bad address, length out of range, host bits set).
 */
int netset_add(struct netset *ns, const char *cidr, char *err, size_t errlen);

/*
 * Adds a comma-separated list of prefixes. On error returns -1 and sets
 * *bad_off to the byte offset of the offending item in list (for
 * file:line:col messages).
 */
int netset_add_list(struct netset *ns, const char *list, size_t *bad_off, char *err, size_t errlen);

/* 1 if a falls inside any prefix of the set. */
int netset_contains(const struct netset *ns, const struct ip_addr *a);

/* Number of prefixes added. */
size_t netset_count(const struct netset *ns);

/*
 * Calls fn once per prefix of the set, in address order: the network
 * address and the prefix length in its own family (0..32 for IPv4, whose
 * addresses are IPv4-mapped as everywhere in struct ip_addr).
 */
void netset_each(const struct netset *ns, void (*fn)(void *ctx, const struct ip_addr *net, int bits),
    void *ctx);

/* 1 if both sets hold the same prefixes (in whatever order they were added). */
int netset_equal(const struct netset *a, const struct netset *b);

/* The set as "p1,p2,..." text (what was added, cut at 1 KB: for logs), into buf. */
char *netset_fmt(const struct netset *ns, char *buf, size_t len);

#endif
