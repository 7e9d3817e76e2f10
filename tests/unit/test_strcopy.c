/*
 * test_strcopy - str_copy() writes exactly what snprintf(dst, cap, "%s", src)
 * writes, for every source length around every field size (newdest hashes
 * the copied bytes and persists the hashes: one byte of difference would
 * forget every destination a restart loads).
 */
#include <stdio.h>

#include "t.h"
#include "strcopy.h"

static void
test_strcopy_writes_what_snprintf_writes(void)
{
	char src[300], a[300], b[300];
	int bad = 0;

	for (size_t len = 0; len < 200; len++) {
		for (size_t i = 0; i < len; i++)
			src[i] = (char)('a' + (i * 7 + len) % 26);
		src[len] = '\0';
		for (size_t cap = 1; cap < 200; cap++) {
			memset(a, 'X', sizeof a);
			memset(b, 'X', sizeof b);
			int n = snprintf(a, cap, "%s", src);
			size_t m = str_copy(b, cap, src);
			if (memcmp(a, b, sizeof a) != 0 || m != ((size_t)n < cap ? (size_t)n : cap - 1))
				bad++;
		}
	}
	CHECK_EQ_U(bad, 0);
}

T_MAIN("strcopy",
    T(test_strcopy_writes_what_snprintf_writes))
