/*
 * test_domain - registered domains by the Public Suffix List, and the
 * cache in front of libpsl: it must give libpsl's answer, byte for byte,
 * whatever the name's case, trailing dots, length or slot collisions.
 */
#include <ctype.h>
#include <stdlib.h>

#include <libpsl.h>

#include "domain.h"
#include "t.h"

static void
test_domain_registered_by_the_public_suffix_list(void)
{
	char out[DOMAIN_MAX];

	CHECK_EQ_S(domain_registered("a.b.example.com", out, sizeof out), "example.com");
	CHECK_EQ_S(domain_registered("WWW.Example.CO.UK.", out, sizeof out), "example.co.uk");
	/* The PSL's private section: each bucket is its own tenant. */
	CHECK_EQ_S(domain_registered("x.mybucket.s3.amazonaws.com", out, sizeof out),
	    "mybucket.s3.amazonaws.com");
	CHECK_EQ_S(domain_registered("com", out, sizeof out), "com");
	CHECK_EQ_S(domain_registered("localhost", out, sizeof out), "localhost");
	CHECK(domain_registered("", out, sizeof out) == NULL);
	CHECK(domain_registered("...", out, sizeof out) == NULL);
	CHECK(domain_registered("example.com", out, 11) == NULL);	/* no room for the name */
	CHECK_EQ_U(domain_prefix_len("a.b.example.com.", "example.com"), 4);
}

/*
 * The oracle: libpsl itself on the lower-cased name without trailing dots,
 * the whole name when it finds no registered domain.
 */
static const char *
oracle(const char *name, char *out, size_t len)
{
	size_t n = strlen(name);

	while (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= len)
		return NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[n] = '\0';
	const char *reg = psl_registrable_domain(psl_builtin(), out);
	if (reg != NULL)
		memmove(out, reg, strlen(reg) + 1);
	return out;
}

/*
 * Names that repeat, collide, and come in floods of random subdomains,
 * under the Public Suffix List's hard cases: private suffixes
 * (s3.amazonaws.com, github.io), wildcards (*.ck, *.kawasaki.jp,
 * *.compute.amazonaws.com) and their exceptions (!www.ck,
 * !city.kawasaki.jp), a public suffix under a private name
 * (forgot.his.name), plus upper case, trailing and leading dots, empty
 * labels and names too long for the cache.
 */
static void
random_name(unsigned *seed, char *name, size_t cap)
{
	static const char *const tails[] = {
		"com", "co.uk", "net", "s3.amazonaws.com", "github.io", "de", "ck", "www.ck",
		"kawasaki.jp", "city.kawasaki.jp", "compute.amazonaws.com", "his.name",
		"forgot.his.name", "blogspot.com", "example", "",
	};
	static const char *const heads[] = { "www", "API", "cdn", "a-b", "x1", "Mail", "t", "" };
	size_t n = 0, labels = (size_t)rand_r(seed) % 4;
	int r = rand_r(seed) % 40;

	if (r == 0)
		n += (size_t)snprintf(name + n, cap - n, ".");
	for (size_t i = 0; i < labels; i++) {
		if (rand_r(seed) % 3 == 0)	/* a flood: a random label */
			n += (size_t)snprintf(name + n, cap - n, "r%x.", (unsigned)rand_r(seed));
		else
			n += (size_t)snprintf(name + n, cap - n, "%s.", heads[rand_r(seed) % 8]);
	}
	if (r >= 3 && r <= 8)	/* a suffix itself, public or not: forgot.his.name, www.ck */
		n += (size_t)snprintf(name + n, cap - n, "%s", tails[rand_r(seed) % 16]);
	else
		n += (size_t)snprintf(name + n, cap - n, "%s%u.%s", rand_r(seed) % 2 ? "d" : "D",
		    (unsigned)rand_r(seed) % 50, tails[rand_r(seed) % 16]);
	if (r == 1)
		snprintf(name + n, cap - n, ".");
	if (r == 2) {	/* longer than the cache keeps */
		for (size_t i = strlen(name); i < 90; i++)
			name[i] = 'q';
		name[90] = '\0';
		memcpy(name, "q.", 2);
	}
}

static void
test_domain_cache_answers_as_libpsl_does(void)
{
	struct domain_cache *c = domain_cache_new();
	unsigned seed = 7;
	char name[160], a[DOMAIN_MAX], b[DOMAIN_MAX], u[DOMAIN_MAX];
	int wrong = 0;

	CHECK(c != NULL);
	for (int i = 0; i < 300000; i++) {
		random_name(&seed, name, sizeof name);
		const char *x = oracle(name, a, sizeof a);
		const char *y = domain_registered_cached(c, name, b, sizeof b);
		const char *z = domain_registered(name, u, sizeof u);
		if ((x == NULL) != (y == NULL) || (x != NULL && strcmp(a, b) != 0) ||
		    (x == NULL) != (z == NULL) || (x != NULL && strcmp(a, u) != 0)) {
			if (wrong++ < 5)
				fprintf(stderr, "  %s: libpsl '%s', cache '%s', uncached '%s'\n", name,
				    x ? a : "(null)", y ? b : "(null)", z ? u : "(null)");
		}
	}
	CHECK_EQ_U(wrong, 0);
	uint64_t hits, misses;
	domain_cache_counts(c, &hits, &misses);
	/* Both paths taken, many times: the name's own slot and libpsl. */
	CHECK(hits > 10000);
	CHECK(misses > 10000);
	domain_cache_free(c);
}

static void
test_domain_cache_hit_keeps_case_dots_and_room_rules(void)
{
	struct domain_cache *c = domain_cache_new();
	char out[DOMAIN_MAX];
	uint64_t hits, misses;

	CHECK_EQ_S(domain_registered_cached(c, "Files.Example.COM.", out, sizeof out), "example.com");
	CHECK_EQ_S(domain_registered_cached(c, "Files.Example.COM.", out, sizeof out), "example.com");
	/* The same name in another case is another key, with the same answer. */
	CHECK_EQ_S(domain_registered_cached(c, "files.example.com", out, sizeof out), "example.com");
	domain_cache_counts(c, &hits, &misses);
	CHECK_EQ_U(hits, 1);
	CHECK_EQ_U(misses, 2);
	/* Too little room for the name is refused on a hit as on a miss. */
	CHECK(domain_registered_cached(c, "files.example.com", out, 17) == NULL);
	CHECK(domain_registered_cached(c, "", out, sizeof out) == NULL);
	CHECK(domain_registered_cached(c, "..", out, sizeof out) == NULL);
	/* No cache: plain libpsl. */
	CHECK_EQ_S(domain_registered_cached(NULL, "a.example.org", out, sizeof out), "example.org");
	domain_cache_counts(NULL, &hits, &misses);
	CHECK_EQ_U(hits + misses, 0);
	domain_cache_free(c);
	domain_cache_free(NULL);
}

T_MAIN("domain",
    T(test_domain_registered_by_the_public_suffix_list),
    T(test_domain_cache_answers_as_libpsl_does),
    T(test_domain_cache_hit_keeps_case_dots_and_room_rules))
