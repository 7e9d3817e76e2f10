/*
 * addr - one type for IPv4 and IPv6 addresses.
 *
 * Every table in the sensor keys on addresses, and most of them must hold
 * both families; a single 16-byte form (IPv4 as ::ffff:a.b.c.d, RFC 4291
 * section 2.5.5.2) lets them hash and compare with one memcmp.
 */
#ifndef OUTFLOW_ADDR_H
#define OUTFLOW_ADDR_H

#include <stdint.h>
#include <string.h>

struct ip_addr {
	uint8_t b[16];
};

#define ADDR_STRLEN 46	/* INET6_ADDRSTRLEN */

static inline int
addr_is_v4(const struct ip_addr *a)
{
	static const uint8_t pfx[12] = { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff };
	return memcmp(a->b, pfx, 12) == 0;
}

static inline int
addr_eq(const struct ip_addr *a, const struct ip_addr *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}

static inline int
addr_cmp(const struct ip_addr *a, const struct ip_addr *b)
{
	return memcmp(a->b, b->b, 16);
}

/* Fills *a from 4 network-order bytes. */
void addr_from_v4(struct ip_addr *a, const uint8_t v4[4]);
/* Fills *a from 16 network-order bytes. */
void addr_from_v6(struct ip_addr *a, const uint8_t v6[16]);
/* Parses dotted-quad or RFC 4291 text; returns 0, or -1 if it is neither. */
int addr_parse(struct ip_addr *a, const char *s);
/* Writes the canonical text form (dotted quad for IPv4) into buf; returns buf. */
char *addr_fmt(const struct ip_addr *a, char *buf, size_t len);
/* A well-mixed 64-bit hash of the address, seeded so tables differ per run. */
uint64_t addr_hash(const struct ip_addr *a, uint64_t seed);

#endif
