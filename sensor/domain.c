/*
 * domain - see domain.h.
 */
#include <ctype.h>
#include <string.h>

#include <libpsl.h>

#include "domain.h"

const char *
domain_registered(const char *name, char *out, size_t len)
{
	char low[DOMAIN_MAX];
	size_t n = strlen(name);
	const char *reg;

	while (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof low || n >= len)
		return NULL;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	reg = psl_builtin() ? psl_registrable_domain(psl_builtin(), low) : NULL;
	if (reg == NULL)
		reg = low;
	memmove(out, reg, strlen(reg) + 1);
	return out;
}

size_t
domain_prefix_len(const char *name, const char *registered)
{
	size_t n = strlen(name), r = strlen(registered);

	while (n > 0 && name[n - 1] == '.')
		n--;
	return n > r ? n - r : 0;
}
