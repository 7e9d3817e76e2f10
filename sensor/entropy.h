/*
 * entropy - Shannon entropy of a byte string, in bits per byte (0..8).
 *
 * Encoded or encrypted data (base32/64/128 labels of a DNS tunnel, the
 * payload of an ICMP tunnel) is close to the maximum its alphabet allows;
 * hostnames and ping patterns are far below it. Header-only, no state.
 */
#ifndef OUTFLOW_ENTROPY_H
#define OUTFLOW_ENTROPY_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Runs per DNS name and per ICMP payload, mostly a few dozen bytes: the
 * counters touched are marked in a 256-bit set and only those are summed
 * and cleared, in ascending byte order as a full sweep would (so the
 * floating-point sum, and the result, are bit for bit the same).
 */
static inline double
entropy_bytes(const uint8_t *p, size_t n)
{
	uint16_t cnt[256];	/* only the counters marked in seen are valid */
	uint64_t seen[4] = { 0, 0, 0, 0 };
	double h = 0;

	if (n == 0)
		return 0;
	if (n > UINT16_MAX)
		n = UINT16_MAX;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		uint64_t bit = 1ull << (b & 63);
		if (!(seen[b >> 6] & bit)) {
			seen[b >> 6] |= bit;
			cnt[b] = 0;
		}
		cnt[b]++;
	}
	/* H = log2 n - (1/n) sum c log2 c */
	for (int w = 0; w < 4; w++)
		for (uint64_t s = seen[w]; s != 0; s &= s - 1) {
			uint16_t c = cnt[w * 64 + __builtin_ctzll(s)];
			if (c > 1)
				h += c * log2((double)c);
		}
	return log2((double)n) - h / (double)n;
}

#endif
