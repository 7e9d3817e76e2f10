/*
 * addr - see addr.h. Text conversion is inet_pton/inet_ntop's; the hash is
 * a 64-bit mix (splitmix64 finaliser) over the two halves.
 */
#include <arpa/inet.h>

#include "addr.h"
#include "hash.h"

void
addr_from_v4(struct ip_addr *a, const uint8_t v4[4])
{
	memset(a->b, 0, 10);
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	memcpy(a->b + 12, v4, 4);
}

void
addr_from_v6(struct ip_addr *a, const uint8_t v6[16])
{
	memcpy(a->b, v6, 16);
}

int
addr_parse(struct ip_addr *a, const char *s)
{
	uint8_t buf[16];

	if (inet_pton(AF_INET, s, buf) == 1) {
		addr_from_v4(a, buf);
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		addr_from_v6(a, buf);
		return 0;
	}
	return -1;
}

char *
addr_fmt(const struct ip_addr *a, char *buf, size_t len)
{
	const char *r;

	if (addr_is_v4(a))
		r = inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
	else
		r = inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
	if (r == NULL && len > 0)
		buf[0] = '\0';
	return buf;
}

uint64_t
addr_hash(const struct ip_addr *a, uint64_t seed)
{
	uint64_t lo, hi;

	memcpy(&hi, a->b, 8);
	memcpy(&lo, a->b + 8, 8);
	return hash_mix64(hash_mix64(hi ^ seed) ^ lo);
}
