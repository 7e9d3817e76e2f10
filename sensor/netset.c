/*
 * netset - see netset.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <ndpi_api.h>

#include "netset.h"

#define NETSET_TEXT_MAX 1024

struct netset {
	ndpi_patricia_tree_t *tree;
	size_t count;
	char text[NETSET_TEXT_MAX];	/* normalised list, for logs and --check-rules */
};

struct netset *
netset_new(void)
{
	struct netset *ns = calloc(1, sizeof *ns);

	if (ns == NULL)
		return NULL;
	ns->tree = ndpi_patricia_new(128);
	if (ns->tree == NULL) {
		free(ns);
		return NULL;
	}
	return ns;
}

void
netset_free(struct netset *ns)
{
	if (ns == NULL)
		return;
	ndpi_patricia_destroy(ns->tree, NULL);
	free(ns);
}

static void
netset_fill(ndpi_prefix_t *pfx, const struct ip_addr *a, int bits)
{
	struct in6_addr in6;

	memcpy(&in6, a->b, 16);
	ndpi_fill_prefix_v6(pfx, &in6, bits, 128);
}

int
netset_add(struct netset *ns, const char *cidr, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(cidr, '/');
	size_t hl = slash ? (size_t)(slash - cidr) : strlen(cidr);
	struct ip_addr a;
	ndpi_prefix_t pfx;
	long bits;
	int maxbits;

	if (hl == 0 || hl >= sizeof host) {
		snprintf(err, errlen, "'%s' is not an address or CIDR prefix", cidr);
		return -1;
	}
	memcpy(host, cidr, hl);
	host[hl] = '\0';
	if (addr_parse(&a, host) != 0) {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", host);
		return -1;
	}
	maxbits = addr_is_v4(&a) ? 32 : 128;
	bits = maxbits;
	if (slash != NULL) {
		char *end;
		bits = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || bits < 0 || bits > maxbits) {
			snprintf(err, errlen, "'%s': prefix length must be 0..%d", cidr, maxbits);
			return -1;
		}
	}
	if (addr_is_v4(&a))
		bits += 96;
	/* Host bits set ("10.1.2.3/8") is almost always a typo for a host. */
	for (int i = (int)bits; i < 128; i++) {
		if (a.b[i / 8] & (0x80 >> (i % 8))) {
			snprintf(err, errlen, "'%s' has host bits set beyond /%ld", cidr,
			    addr_is_v4(&a) ? bits - 96 : bits);
			return -1;
		}
	}
	netset_fill(&pfx, &a, (int)bits);
	if (ndpi_patricia_lookup(ns->tree, &pfx) == NULL) {
		snprintf(err, errlen, "out of memory adding '%s'", cidr);
		return -1;
	}
	ns->count++;
	size_t used = strlen(ns->text);
	snprintf(ns->text + used, sizeof ns->text - used, "%s%s", used ? "," : "", cidr);
	return 0;
}

int
netset_add_list(struct netset *ns, const char *list, size_t *bad_off, char *err, size_t errlen)
{
	const char *p = list;

	while (*p != '\0') {
		char item[128];
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, ", \t");
		if (n >= sizeof item) {
			if (bad_off)
				*bad_off = (size_t)(p - list);
			snprintf(err, errlen, "prefix too long");
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (netset_add(ns, item, err, errlen) != 0) {
			if (bad_off)
				*bad_off = (size_t)(p - list);
			return -1;
		}
		p += n;
	}
	return 0;
}

int
netset_contains(const struct netset *ns, const struct ip_addr *a)
{
	ndpi_prefix_t pfx;

	if (ns == NULL || ns->count == 0)
		return 0;
	netset_fill(&pfx, a, 128);
	return ndpi_patricia_search_best(ns->tree, &pfx) != NULL;
}

size_t
netset_count(const struct netset *ns)
{
	return ns ? ns->count : 0;
}

char *
netset_fmt(const struct netset *ns, char *buf, size_t len)
{
	snprintf(buf, len, "%s", ns ? ns->text : "");
	return buf;
}

struct walk {
	void (*fn)(void *ctx, const struct ip_addr *net, int bits);
	void *ctx;
};

static void
walk_node(ndpi_patricia_node_t *node, void *data, void *user)
{
	const struct walk *w = user;
	const ndpi_prefix_t *pfx = ndpi_patricia_get_node_prefix(node);
	struct ip_addr a;
	int bits = ndpi_patricia_get_node_bits(node);

	(void)data;
	memcpy(a.b, &pfx->add.sin6, sizeof a.b);
	/* IPv4 prefixes went in as ::ffff:a.b.c.d/(96 + len). */
	w->fn(w->ctx, &a, addr_is_v4(&a) && bits >= 96 ? bits - 96 : bits);
}

void
netset_each(const struct netset *ns, void (*fn)(void *ctx, const struct ip_addr *net, int bits),
    void *ctx)
{
	struct walk w = { fn, ctx };

	if (ns != NULL && ns->count > 0)
		ndpi_patricia_walk_tree_inorder(ns->tree, walk_node, &w);
}

struct equal_walk {
	const struct netset *other;
	size_t seen, missing;
};

static void
find_in_other(void *ctx, const struct ip_addr *net, int bits)
{
	struct equal_walk *e = ctx;
	ndpi_prefix_t pfx;

	e->seen++;
	netset_fill(&pfx, net, addr_is_v4(net) ? bits + 96 : bits);
	if (ndpi_patricia_search_exact(e->other->tree, &pfx) == NULL)
		e->missing++;
}

static void
count_one(void *ctx, const struct ip_addr *net, int bits)
{
	(void)net;
	(void)bits;
	(*(size_t *)ctx)++;
}

int
netset_equal(const struct netset *a, const struct netset *b)
{
	struct equal_walk e = { b, 0, 0 };
	size_t nb = 0;

	/* Distinct prefixes, not netset_count(): a prefix added twice is one. */
	netset_each(b, count_one, &nb);
	if (b != NULL)
		netset_each(a, find_in_other, &e);
	else if (netset_count(a) > 0)
		return 0;
	return e.missing == 0 && e.seen == nb;
}
