/*
 * hash - the integer mixer every open-addressing table in the sensor uses.
 * splitmix64's finaliser: cheap, and good enough that linear probing on
 * attacker-chosen addresses does not cluster (tables also get a per-run seed).
 */
#ifndef OUTFLOW_HASH_H
#define OUTFLOW_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* FNV-1a over bytes, then mixed; for names (server names, domains). */
static inline uint64_t
hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *s = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return hash_mix64(h);
}

#endif
