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

static inline double
entropy_bytes(const uint8_t *p, size_t n)
{
	uint16_t cnt[256];	/* half the memset of 32-bit counters: this runs per packet */
	double h = 0;

	if (n == 0)
		return 0;
	if (n > UINT16_MAX)
		n = UINT16_MAX;
	memset(cnt, 0, sizeof cnt);
	for (size_t i = 0; i < n; i++)
		cnt[p[i]]++;
	/* H = log2 n - (1/n) sum c log2 c */
	for (int b = 0; b < 256; b++)
		if (cnt[b] > 1)
			h += cnt[b] * log2((double)cnt[b]);
	return log2((double)n) - h / (double)n;
}

#endif
