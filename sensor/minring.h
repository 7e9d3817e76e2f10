/*
 * minring - a few counters kept per minute for the last MINRING_MINUTES
 * minutes, for detector modules whose windows are short (dnsmon, icmpmon).
 *
 * The counters of one entry are a flat array c[MINRING_MINUTES][nctr];
 * head is the minute (packet time / 60 s) of the newest row. A window of W
 * minutes covers the current, partial minute and the W-1 before it, as the
 * host windows do (host.c), so a threshold it crosses was crossed within W.
 * Header-only: it runs on every packet a module keeps.
 */
#ifndef OUTFLOW_MINRING_H
#define OUTFLOW_MINRING_H

#include <stdint.h>
#include <string.h>

#define MINRING_MINUTES 10

static inline uint32_t
minring_minute(uint64_t now_us)
{
	return (uint32_t)(now_us / 60000000u);
}

/* Moves the ring to minute m (zeroing the minutes it skips); never backwards. */
static inline void
minring_advance(uint32_t *head, uint32_t *c, int nctr, uint32_t m)
{
	if (m <= *head)
		return;
	uint32_t gap = m - *head;
	if (gap >= MINRING_MINUTES || *head == 0)
		memset(c, 0, sizeof(uint32_t) * (size_t)nctr * MINRING_MINUTES);
	else
		for (uint32_t k = 1; k <= gap; k++)
			memset(&c[(size_t)((*head + k) % MINRING_MINUTES) * (size_t)nctr], 0,
			    sizeof(uint32_t) * (size_t)nctr);
	*head = m;
}

/* Adds v to counter i of minute m (the ring advanced to m first). */
static inline void
minring_add(uint32_t *head, uint32_t *c, int nctr, uint32_t m, int i, uint32_t v)
{
	minring_advance(head, c, nctr, m);
	uint32_t *slot = &c[(size_t)(*head % MINRING_MINUTES) * (size_t)nctr + (size_t)i];
	*slot = *slot > UINT32_MAX - v ? UINT32_MAX : *slot + v;
}

/* Counter i summed over the window_s seconds (whole minutes) ending at minute m. */
static inline uint64_t
minring_sum(uint32_t head, const uint32_t *c, int nctr, int i, uint32_t m, uint32_t window_s)
{
	uint32_t w = window_s / 60u;
	uint64_t sum = 0;

	if (w == 0)
		w = 1;
	if (w > MINRING_MINUTES)
		w = MINRING_MINUTES;
	for (uint32_t k = 0; k < w; k++) {
		uint32_t mm = m - k;
		if (k > m || mm > head || head - mm >= MINRING_MINUTES)
			continue;
		sum += c[(size_t)(mm % MINRING_MINUTES) * (size_t)nctr + (size_t)i];
	}
	return sum;
}

#endif
