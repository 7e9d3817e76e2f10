/*
 * test_names - interned names: one slot per distinct name, whatever the
 * number of holders; the slot freed with its last reference and reused;
 * the empty name holds nothing; names cut at NAMES_MAX - 1 and at a NUL;
 * the two size classes on either side of NAMES_SHORT; a full class refuses
 * (counted) without touching the names held; a name's registered domain
 * worked out once and kept; and a randomized run against a plain
 * reference model.
 */
#include <stdlib.h>

#include "domain.h"
#include "names.h"
#include "t.h"

static struct names *
mk(size_t cap)
{
	char err[128] = "";
	struct names *n = names_new(cap, 7, err, sizeof err);

	if (n == NULL)
		fprintf(stderr, "  names_new: %s\n", err);
	return n;
}

static size_t
count(const struct names *n)
{
	struct names_stats st;

	names_stats(n, &st);
	return st.names;
}

static void
test_names_one_slot_per_name_freed_with_its_last_reference(void)
{
	struct names *n = mk(16);

	CHECK(n != NULL);
	if (n == NULL)
		return;
	uint32_t a = names_intern(n, "cdn.example.com", 64);
	uint32_t b = names_intern(n, "cdn.example.com", 64);
	uint32_t c = names_intern(n, "api.example.com", 64);
	CHECK(a != NAME_NONE && a == b && c != a);
	CHECK_EQ_S(names_str(n, a), "cdn.example.com");
	CHECK_EQ_S(names_str(n, c), "api.example.com");
	CHECK_EQ_U(names_refs(n, a), 2);
	CHECK_EQ_U(count(n), 2);
	names_hold(n, c);
	CHECK_EQ_U(names_refs(n, c), 2);
	names_drop(n, a);
	CHECK_EQ_U(count(n), 2);
	CHECK_EQ_S(names_str(n, b), "cdn.example.com");
	names_drop(n, b);
	CHECK_EQ_U(count(n), 1);
	/* A new name takes the freed slot, and the old reference does not read as it. */
	uint32_t d = names_intern(n, "new.example.org", 64);
	CHECK_EQ_U(d, a);
	CHECK_EQ_S(names_str(n, d), "new.example.org");
	names_drop(n, c);
	names_drop(n, c);
	names_drop(n, d);
	CHECK_EQ_U(count(n), 0);
	names_free(n);
}

static void
test_names_empty_name_holds_nothing(void)
{
	struct names *n = mk(4);
	uint32_t r = NAME_NONE;

	CHECK(n != NULL);
	if (n == NULL)
		return;
	CHECK_EQ_U(names_intern(n, "", 64), NAME_NONE);
	CHECK_EQ_U(names_intern(n, "abc", 0), NAME_NONE);
	CHECK_EQ_S(names_str(n, NAME_NONE), "");
	CHECK_EQ_U(names_refs(n, NAME_NONE), 0);
	names_hold(n, NAME_NONE);
	names_drop(n, NAME_NONE);
	CHECK_EQ_U(count(n), 0);
	/* names_set: to a name, to the same one (no churn), to another, to "". */
	names_set(n, &r, "a.example", NAMES_MAX);
	uint32_t first = r;
	names_set(n, &r, "a.example", NAMES_MAX);
	CHECK_EQ_U(r, first);
	CHECK_EQ_U(names_refs(n, r), 1);
	names_set(n, &r, "b.example", NAMES_MAX);
	CHECK_EQ_S(names_str(n, r), "b.example");
	CHECK_EQ_U(count(n), 1);
	names_set(n, &r, "", NAMES_MAX);
	CHECK_EQ_U(r, NAME_NONE);
	CHECK_EQ_U(count(n), 0);
	names_free(n);
}

static void
test_names_cut_at_the_length_and_at_a_nul(void)
{
	struct names *n = mk(8);
	char big[200];

	CHECK(n != NULL);
	if (n == NULL)
		return;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	uint32_t r = names_intern(n, big, sizeof big);
	CHECK_EQ_U(strlen(names_str(n, r)), NAMES_MAX - 1);
	/* The same first NAMES_MAX - 1 bytes are the same name. */
	big[150] = 'y';
	CHECK_EQ_U(names_intern(n, big, sizeof big), r);
	CHECK_EQ_U(names_refs(n, r), 2);
	/* len counts, and so does a NUL before it. */
	uint32_t p = names_intern(n, "example.com.extra", 11);
	CHECK_EQ_S(names_str(n, p), "example.com");
	CHECK_EQ_U(names_intern(n, "example.com\0zzz", 15), p);
	names_free(n);
}

static void
test_names_size_classes_meet_at_names_short(void)
{
	struct names *n = mk(2);
	char s[NAMES_SHORT + 1];

	CHECK(n != NULL);
	if (n == NULL)
		return;
	memset(s, 'a', sizeof s);
	s[NAMES_SHORT - 1] = '\0';		/* the longest short name */
	uint32_t a = names_intern(n, s, sizeof s);
	s[NAMES_SHORT - 1] = 'a';
	s[NAMES_SHORT] = '\0';			/* one byte more: long */
	uint32_t b = names_intern(n, s, sizeof s);
	CHECK(a != NAME_NONE && b != NAME_NONE && a != b);
	CHECK_EQ_U(strlen(names_str(n, a)), NAMES_SHORT - 1);
	CHECK_EQ_U(strlen(names_str(n, b)), NAMES_SHORT);
	/* Each class has the whole capacity: two short and two long names fit. */
	CHECK(names_intern(n, "b", 1) != NAME_NONE);
	CHECK(names_intern(n, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 64) != NAME_NONE);
	CHECK_EQ_U(count(n), 4);
	names_free(n);
}

static void
test_names_full_class_refuses_and_counts(void)
{
	struct names *n = mk(2);
	struct names_stats st;

	CHECK(n != NULL);
	if (n == NULL)
		return;
	uint32_t a = names_intern(n, "one.example", 64);
	uint32_t b = names_intern(n, "two.example", 64);
	CHECK_EQ_U(names_intern(n, "three.example", 64), NAME_NONE);
	/* A name already held still gets its reference. */
	CHECK_EQ_U(names_intern(n, "one.example", 64), a);
	names_stats(n, &st);
	CHECK_EQ_U(st.refused, 1);
	CHECK_EQ_U(st.interned, 2);
	CHECK_EQ_U(st.capacity, 2);
	CHECK(st.bytes > 0);
	CHECK_EQ_S(names_str(n, a), "one.example");
	CHECK_EQ_S(names_str(n, b), "two.example");
	names_drop(n, b);
	CHECK(names_intern(n, "three.example", 64) != NAME_NONE);
	names_free(n);
}

/* Holders take and drop names at random; every reference must read as the model says. */
static void
test_names_random_holders_against_a_model(void)
{
	enum { HOLDERS = 3000, NAMES = 400, STEPS = 200000 };
	struct names *n = mk(HOLDERS);
	static uint32_t ref[HOLDERS];
	static int which[HOLDERS];	/* -1: holds nothing */
	static int refs[NAMES];
	static char text[NAMES][96];
	uint64_t rng = 99;
	int bad = 0;

	CHECK(n != NULL);
	if (n == NULL)
		return;
	for (int i = 0; i < NAMES; i++)	/* both classes: 10 .. 76 bytes */
		snprintf(text[i], sizeof text[i], "%.*s%d.example", (i * 7) % 66,
		    "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh", i % 1000);
	for (int h = 0; h < HOLDERS; h++)
		which[h] = -1;
	for (int step = 0; step < STEPS && !bad; step++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		int h = (int)((rng >> 33) % HOLDERS), k = (int)((rng >> 13) % NAMES);
		if (which[h] >= 0)
			refs[which[h]]--;
		names_set(n, &ref[h], text[k], NAMES_MAX);
		which[h] = k;
		refs[k]++;
		int c = (int)((rng >> 45) % HOLDERS);
		if (which[c] >= 0 && (step & 1)) {	/* and someone lets go */
			names_drop(n, ref[c]);
			refs[which[c]]--;
			which[c] = -1;
			ref[c] = NAME_NONE;
		}
		if (step % 997 == 0) {
			size_t live = 0;
			for (int i = 0; i < NAMES; i++)
				live += refs[i] > 0;
			for (int x = 0; x < HOLDERS; x++)
				if (which[x] >= 0 && (strcmp(names_str(n, ref[x]), text[which[x]]) != 0 ||
				    names_refs(n, ref[x]) != (uint32_t)refs[which[x]]))
					bad = 1;
			if (count(n) != live)
				bad = 1;
		}
	}
	CHECK(!bad);
	for (int h = 0; h < HOLDERS; h++)
		names_drop(n, ref[h]);
	CHECK_EQ_U(count(n), 0);
	names_free(n);
}

/* names_domain() gives domain_registered()'s answer, worked out once per name. */
static void
test_names_domain_is_domain_registered_kept_per_name(void)
{
	static const char *const names[] = {
		"www.Example.COM", "a.b.c.example.co.uk", "bucket.s3.amazonaws.com", "localhost",
		"co.uk", "exfil-tunnel.net.", "x", "EXAMPLE.org..",
	};
	struct names *n = mk(16);
	char want[DOMAIN_MAX], got[DOMAIN_MAX], small[8];

	CHECK(n != NULL);
	if (n == NULL)
		return;
	CHECK(names_domain(n, NAME_NONE, got, sizeof got) == NULL);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		uint32_t r = names_intern(n, names[i], NAMES_MAX);
		const char *w = domain_registered(names[i], want, sizeof want);
		for (int again = 0; again < 2; again++) {	/* worked out, then kept */
			const char *g = names_domain(n, r, got, sizeof got);
			CHECK((w == NULL) == (g == NULL));
			if (w != NULL && g != NULL)
				CHECK_EQ_S(g, w);
		}
		/* A buffer too small for a kept answer: asked afresh, as domain_registered() does. */
		CHECK((names_domain(n, r, small, sizeof small) == NULL) ==
		    (domain_registered(names[i], want, sizeof small) == NULL));
		names_drop(n, r);
	}
	/* Every slot above was freed and reused: no answer carried over. */
	uint32_t a = names_intern(n, "files.example.net", NAMES_MAX);
	CHECK_EQ_S(names_domain(n, a, got, sizeof got), "example.net");
	names_drop(n, a);
	uint32_t b = names_intern(n, "upload.other.org", NAMES_MAX);
	CHECK_EQ_U(b, a);
	CHECK_EQ_S(names_domain(n, b, got, sizeof got), "other.org");
	names_free(n);
}

static void
test_names_bad_capacity_is_an_error(void)
{
	char err[128] = "";

	CHECK(names_new(0, 1, err, sizeof err) == NULL);
	CHECK(err[0] != '\0');
}

T_MAIN("names",
    T(test_names_one_slot_per_name_freed_with_its_last_reference),
    T(test_names_empty_name_holds_nothing),
    T(test_names_cut_at_the_length_and_at_a_nul),
    T(test_names_size_classes_meet_at_names_short),
    T(test_names_full_class_refuses_and_counts),
    T(test_names_random_holders_against_a_model),
    T(test_names_domain_is_domain_registered_kept_per_name),
    T(test_names_bad_capacity_is_an_error))
