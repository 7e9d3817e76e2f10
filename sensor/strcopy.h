/*
 * strcopy - a bounded string copy for the packet path.
 *
 * snprintf(dst, cap, "%s", src) is the obvious way to copy a name into a
 * fixed field, but glibc's formatting machinery costs a few hundred
 * instructions a call; names are copied per new flow and per new DNS pair.
 * Header-only, no state.
 */
#ifndef OUTFLOW_STRCOPY_H
#define OUTFLOW_STRCOPY_H

#include <stddef.h>
#include <string.h>

/*
 * Copies src into dst (cap > 0 bytes), cut to cap - 1 bytes if longer and
 * always terminated: the bytes snprintf(dst, cap, "%s", src) writes.
 * Returns the number of bytes copied, not counting the terminator.
 */
static inline size_t
str_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

#endif
