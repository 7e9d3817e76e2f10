/*
 * test_tzone - UTC offsets from the system's TZif files: daylight saving
 * switches on the right instant (Europe/Berlin, America/New_York), the
 * southern hemisphere (Australia/Sydney), years past the file's table
 * (the footer's POSIX rule), UTC, and bad names or files refused.
 */
#include <stdlib.h>

#include "t.h"
#include "tzone.h"

static struct tzone *
load(const char *name)
{
	char err[256];
	struct tzone *tz = tzone_load(NULL, name, err, sizeof err);

	if (tz == NULL)
		fprintf(stderr, "  %s\n", err);
	return tz;
}

static void
test_tzone_berlin_switches_at_0100_utc_last_sunday_march_and_october(void)
{
	struct tzone *tz = load("Europe/Berlin");

	CHECK(tz != NULL);
	if (tz == NULL)
		return;
	/* 2026-03-29 01:00:00 UTC = 1774746000: CET until just before, CEST from it. */
	CHECK_EQ_U(tzone_offset(tz, 1774746000 - 1), 3600);
	CHECK_EQ_U(tzone_offset(tz, 1774746000), 7200);
	/* 2026-10-25 01:00:00 UTC = 1792890000: back to CET. */
	CHECK_EQ_U(tzone_offset(tz, 1792890000 - 1), 7200);
	CHECK_EQ_U(tzone_offset(tz, 1792890000), 3600);
	tzone_free(tz);
}

static void
test_tzone_footer_rule_beyond_the_table(void)
{
	struct tzone *tz = load("Europe/Berlin");

	if (tz == NULL) {
		CHECK(!"Europe/Berlin");
		return;
	}
	/* 2100-03-28 is the last Sunday of March 2100; 01:00 UTC = 4109878800. */
	CHECK_EQ_U(tzone_offset(tz, 4109878800 - 1), 3600);
	CHECK_EQ_U(tzone_offset(tz, 4109878800), 7200);
	/* 2100-07-01 00:00 UTC = 4118083200: summer. 2100-12-01 = 4131302400: winter. */
	CHECK_EQ_U(tzone_offset(tz, 4118083200), 7200);
	CHECK_EQ_U(tzone_offset(tz, 4131302400), 3600);
	tzone_free(tz);
}

static void
test_tzone_new_york_and_sydney(void)
{
	struct tzone *ny = load("America/New_York"), *syd = load("Australia/Sydney");

	CHECK(ny != NULL && syd != NULL);
	if (ny != NULL) {
		/* 2026-03-08 07:00 UTC (2:00 EST) = 1772953200: EDT from it. */
		CHECK_EQ_U((uint32_t)tzone_offset(ny, 1772953200 - 1), (uint32_t)-18000);
		CHECK_EQ_U((uint32_t)tzone_offset(ny, 1772953200), (uint32_t)-14400);
	}
	if (syd != NULL) {
		/* January is summer (AEDT +11), July winter (AEST +10). */
		CHECK_EQ_U(tzone_offset(syd, 1767700800), 39600);	/* 2026-01-06 12:00 UTC */
		CHECK_EQ_U(tzone_offset(syd, 1783339200), 36000);	/* 2026-07-06 12:00 UTC */
		CHECK_EQ_U(tzone_offset(syd, 4102444800 + 15 * 86400), 39600);	/* 2100-01-16 */
	}
	tzone_free(ny);
	tzone_free(syd);
}

static void
test_tzone_utc_and_bad_names(void)
{
	struct tzone *tz = load("UTC");
	char err[256];

	CHECK(tz != NULL);
	if (tz != NULL)
		CHECK_EQ_U(tzone_offset(tz, 1774746000), 0);
	tzone_free(tz);
	CHECK(tzone_load(NULL, "../etc/passwd", err, sizeof err) == NULL);
	CHECK(strstr(err, "not a time zone name") != NULL);
	CHECK(tzone_load(NULL, "Mars/Olympus_Mons", err, sizeof err) == NULL);
	CHECK(strstr(err, "unknown time zone 'Mars/Olympus_Mons'") != NULL);
	CHECK(tzone_parse((const uint8_t *)"TZif2garbage", 12, err, sizeof err) == NULL);
}

T_MAIN("tzone",
    T(test_tzone_berlin_switches_at_0100_utc_last_sunday_march_and_october),
    T(test_tzone_footer_rule_beyond_the_table),
    T(test_tzone_new_york_and_sydney),
    T(test_tzone_utc_and_bad_names))
