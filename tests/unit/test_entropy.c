/*
 * test_entropy - Shannon entropy of a byte string, against the textbook
 * sweep over all 256 counters, bit for bit (rules compare it with
 * thresholds, so even the last bit of the double matters).
 */
#include <math.h>

#include "t.h"
#include "entropy.h"

static double
reference(const uint8_t *p, size_t n)
{
	uint32_t cnt[256] = { 0 };
	double h = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		cnt[p[i]]++;
	for (int b = 0; b < 256; b++)
		if (cnt[b] > 1)
			h += cnt[b] * log2((double)cnt[b]);
	return log2((double)n) - h / (double)n;
}

static int
same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static void
test_entropy_known_values(void)
{
	uint8_t all[256], two[64];

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		two[i] = (uint8_t)(i & 1 ? 'a' : 'b');
	CHECK(entropy_bytes(all, 0) == 0);
	CHECK(entropy_bytes((const uint8_t *)"aaaa", 4) == 0);
	CHECK(fabs(entropy_bytes(all, 256) - 8.0) < 1e-12);
	CHECK(fabs(entropy_bytes(two, 64) - 1.0) < 1e-12);
}

/* Random strings of every length up to 1500, over alphabets of 2 to 256
 * symbols (hostnames, base32/64 labels, binary payloads). */
static void
test_entropy_equals_the_full_sweep_bit_for_bit(void)
{
	static uint8_t buf[1500];
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	int bad = 0;

	for (size_t n = 0; n <= sizeof buf; n++) {
		unsigned alpha = 2 + (unsigned)(n * 7 % 255);
		for (size_t i = 0; i < n; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			buf[i] = (uint8_t)((rng >> 33) % alpha + (n & 1 ? 0 : 256 - alpha));
		}
		if (!same_bits(entropy_bytes(buf, n), reference(buf, n)))
			bad++;
	}
	CHECK_EQ_U(bad, 0);
}

/* Two calls on one stack: counters a previous call left are never read. */
static void
test_entropy_ignores_stale_counters(void)
{
	uint8_t a[300], b[3] = { 'x', 'x', 'y' };

	memset(a, 'x', sizeof a);
	CHECK(entropy_bytes(a, sizeof a) == 0);
	CHECK(same_bits(entropy_bytes(b, 3), reference(b, 3)));
}

T_MAIN("entropy",
    T(test_entropy_known_values),
    T(test_entropy_equals_the_full_sweep_bit_for_bit),
    T(test_entropy_ignores_stale_counters))
