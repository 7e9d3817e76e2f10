/*
 * tzone - see tzone.h. The TZif layout (RFC 8536 section 3):
 *
 *   header  "TZif" version[1] reserved[15] isutcnt isstdcnt leapcnt timecnt
 *           typecnt charcnt (six big-endian uint32)
 *   v1 data block (32-bit times)               -- skipped for version >= 2
 *   header again, then the v2 data block:
 *     transition times  timecnt x int64
 *     type indices      timecnt x uint8
 *     local time types  typecnt x { int32 utoff, uint8 isdst, uint8 desigidx }
 *     designations      charcnt bytes
 *     leap seconds      leapcnt x 12 bytes
 *     std/wall, UT/local indicators  isstdcnt + isutcnt bytes
 *   footer  "\n" POSIX-TZ-string "\n"
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tzone.h"

#define TZ_MAX_FILE	(256u << 10)
#define TZ_MAX_TIMES	4096u

/* One end of daylight saving time: month m, week w (5 = last), weekday d, at secs local. */
struct tz_when {
	int m, w, d;
	int32_t secs;
};

struct tz_rule {
	int32_t std_off, dst_off;	/* seconds east of UTC */
	int has_dst;
	struct tz_when start, end;
};

struct tzone {
	size_t n;
	int64_t times[TZ_MAX_TIMES];
	int32_t off_at[TZ_MAX_TIMES];	/* offset from times[i] on */
	int32_t off0;			/* before the first transition */
	int has_rule;
	struct tz_rule rule;
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t
year_of(int64_t t)
{
	int64_t z = (t >= 0 ? t : t - 86399) / 86400 + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	return yoe + era * 400 + (mp >= 10);
}

static int
month_days(int64_t y, int m)
{
	static const int md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 ? 28 + leap : md[m - 1];
}

/* Local seconds since the epoch at which "Mm.w.d/secs" falls in year y. */
static int64_t
when_local(int64_t y, const struct tz_when *w)
{
	int64_t first = days_from_civil(y, w->m, 1);
	int wd1 = (int)((first % 7 + 7 + 4) % 7);	/* 1970-01-01 was a Thursday */
	int day = 1 + (w->d - wd1 + 7) % 7 + (w->w - 1) * 7;

	while (day > month_days(y, w->m))
		day -= 7;
	return (first + day - 1) * 86400 + w->secs;
}

static int32_t
rule_offset(const struct tz_rule *r, int64_t t)
{
	if (!r->has_dst)
		return r->std_off;
	int64_t y = year_of(t + r->std_off);
	int64_t start = when_local(y, &r->start) - r->std_off;
	int64_t end = when_local(y, &r->end) - r->dst_off;
	int dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	return dst ? r->dst_off : r->std_off;
}

int32_t
tzone_offset(const struct tzone *tz, int64_t t)
{
	if (tz->n == 0)
		return tz->has_rule ? rule_offset(&tz->rule, t) : tz->off0;
	if (t < tz->times[0])
		return tz->off0;
	if (t >= tz->times[tz->n - 1] && tz->has_rule)
		return rule_offset(&tz->rule, t);
	size_t lo = 0, hi = tz->n;	/* the last i with times[i] <= t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->off_at[lo];
}

/* ---- POSIX TZ strings (the footer) ---- */

static int
p_num(const char **s, int lo, int hi, int *out)
{
	int v = 0, n = 0;

	while (**s >= '0' && **s <= '9' && n < 4) {
		v = v * 10 + (*(*s)++ - '0');
		n++;
	}
	if (n == 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* [+-]hh[:mm[:ss]] in seconds (hours up to 167, as RFC 8536 allows for rule times). */
static int
p_hms(const char **s, int32_t *out)
{
	int sign = 1, h, m = 0, sec = 0;

	if (**s == '+' || **s == '-')
		sign = *(*s)++ == '-' ? -1 : 1;
	if (p_num(s, 0, 167, &h) != 0)
		return -1;
	if (**s == ':' && ((*s)++, p_num(s, 0, 59, &m) != 0))
		return -1;
	if (**s == ':' && ((*s)++, p_num(s, 0, 59, &sec) != 0))
		return -1;
	*out = sign * (h * 3600 + m * 60 + sec);
	return 0;
}

static int
p_name(const char **s)
{
	const char *b = *s;

	if (**s == '<') {
		while (**s != '\0' && **s != '>')
			(*s)++;
		if (*(*s)++ != '>')
			return -1;
		return 0;
	}
	while ((**s >= 'A' && **s <= 'Z') || (**s >= 'a' && **s <= 'z'))
		(*s)++;
	return *s - b >= 3 ? 0 : -1;
}

/* ",Mm.w.d[/time]": the only form tzdata emits for current rules. */
static int
p_when(const char **s, struct tz_when *w)
{
	if (*(*s)++ != ',' || *(*s)++ != 'M' || p_num(s, 1, 12, &w->m) != 0 || *(*s)++ != '.' ||
	    p_num(s, 1, 5, &w->w) != 0 || *(*s)++ != '.' || p_num(s, 0, 6, &w->d) != 0)
		return -1;
	w->secs = 7200;
	if (**s == '/') {
		(*s)++;
		return p_hms(s, &w->secs);
	}
	return 0;
}

static int
posix_tz(const char *s, struct tz_rule *r)
{
	int32_t off;

	memset(r, 0, sizeof *r);
	if (p_name(&s) != 0 || p_hms(&s, &off) != 0)
		return -1;
	r->std_off = -off;		/* POSIX counts west of Greenwich */
	if (*s == '\0')
		return 0;
	if (p_name(&s) != 0)
		return -1;
	r->dst_off = r->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (p_hms(&s, &off) != 0)
			return -1;
		r->dst_off = -off;
	}
	if (p_when(&s, &r->start) != 0 || p_when(&s, &r->end) != 0 || *s != '\0')
		return -1;
	r->has_dst = 1;
	return 0;
}

/* ---- TZif ---- */

struct tzif_hdr {
	uint32_t isut, isstd, leap, time, type, chars;
};

static int
tzif_hdr(const uint8_t *p, size_t len, struct tzif_hdr *h, int *version)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	*version = p[4] ? p[4] - '0' : 1;
	h->isut = be32(p + 20);
	h->isstd = be32(p + 24);
	h->leap = be32(p + 28);
	h->time = be32(p + 32);
	h->type = be32(p + 36);
	h->chars = be32(p + 40);
	if (h->type == 0 || h->type > 256 || h->time > TZ_MAX_TIMES || h->leap > 10000 ||
	    h->chars > 10000 || h->isut > h->type || h->isstd > h->type)
		return -1;
	return 0;
}

static size_t
tzif_block(const struct tzif_hdr *h, int tsize)
{
	return (size_t)h->time * (size_t)(tsize + 1) + (size_t)h->type * 6 + h->chars +
	    (size_t)h->leap * (size_t)(tsize + 4) + h->isstd + h->isut;
}

struct tzone *
tzone_parse(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct tzif_hdr h;
	int version, tsize = 4;
	const uint8_t *p = buf, *end = buf + len;
	struct tzone *tz;

	if (tzif_hdr(p, len, &h, &version) != 0)
		goto bad;
	if (version >= 2) {		/* skip the 32-bit block to the 64-bit one */
		size_t skip = 44 + tzif_block(&h, 4);
		if (skip > len || tzif_hdr(p + skip, len - skip, &h, &version) != 0)
			goto bad;
		p += skip;
		tsize = 8;
	}
	p += 44;
	if (tzif_block(&h, tsize) > (size_t)(end - p))
		goto bad;
	if ((tz = calloc(1, sizeof *tz)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	const uint8_t *idx = p + (size_t)h.time * (size_t)tsize, *types = idx + h.time;
	for (uint32_t i = 0; i < h.time; i++) {
		if (idx[i] >= h.type) {
			free(tz);
			goto bad;
		}
		tz->times[i] = tsize == 8 ? be64(p + (size_t)i * 8) : (int32_t)be32(p + (size_t)i * 4);
		tz->off_at[i] = (int32_t)be32(types + (size_t)idx[i] * 6);
	}
	tz->n = h.time;
	tz->off0 = (int32_t)be32(types);
	p += tzif_block(&h, tsize);
	/* Footer: "\n" TZ "\n"; absent or unusable means the last offset stands. */
	if (version >= 2 && p < end && *p == '\n') {
		const uint8_t *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
		char s[128];
		size_t n = nl ? (size_t)(nl - p - 1) : 0;
		if (nl != NULL && n > 0 && n < sizeof s) {
			memcpy(s, p + 1, n);
			s[n] = '\0';
			tz->has_rule = posix_tz(s, &tz->rule) == 0;
		}
	}
	return tz;
bad:
	snprintf(err, errlen, "not a valid TZif file");
	return NULL;
}

/* An IANA name: letters, digits, '_', '+', '-' in '/'-separated parts, no "." parts. */
static int
zone_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '/' || name[n - 1] == '/' || strstr(name, "//") != NULL)
		return 0;
	for (const char *c = name; *c; c++) {
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    *c == '_' || *c == '+' || *c == '-' || *c == '/'))
			return 0;
	}
	return 1;
}

struct tzone *
tzone_load(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[512];
	uint8_t *buf;
	ssize_t n;
	size_t len = 0;
	int fd;

	if (!zone_name_ok(name)) {
		snprintf(err, errlen, "'%.64s' is not a time zone name (like Europe/Berlin or UTC)", name);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/%s", dir ? dir : TZONE_DIR, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "unknown time zone '%s' (%s: %s)", name, path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(TZ_MAX_FILE)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (len < TZ_MAX_FILE && (n = read(fd, buf + len, TZ_MAX_FILE - len)) > 0)
		len += (size_t)n;
	close(fd);
	struct tzone *tz = tzone_parse(buf, len, err, errlen);
	free(buf);
	if (tz == NULL) {
		char why[128];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, errlen, "time zone '%s': %s: %s", name, path, why);
	}
	return tz;
}

void
tzone_free(struct tzone *tz)
{
	free(tz);
}
