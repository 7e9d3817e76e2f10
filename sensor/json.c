/*
 * json - see json.h.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"

void
json_init(struct json *j, char *buf, size_t cap)
{
	memset(j, 0, sizeof *j);
	j->buf = buf;
	j->cap = cap;
	if (cap > 0)
		buf[0] = '\0';
}

int
json_ok(const struct json *j)
{
	return !j->overflow && j->depth == 0;
}

const char *
json_str(struct json *j)
{
	return j->buf;
}

static void
put(struct json *j, const char *s, size_t n)
{
	if (j->overflow || j->len + n + 1 > j->cap) {
		j->overflow = 1;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void
putc_(struct json *j, char c)
{
	put(j, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629), or 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void
put_string(struct json *j, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	putc_(j, '"');
	while (i < n) {
		unsigned char c = p[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(j, esc, 2);
			i++;
		} else if (c < 0x20) {
			const char *short_esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" :
			    c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
			if (short_esc)
				put(j, short_esc, 2);
			else {
				snprintf(esc, sizeof esc, "\\u%04x", c);
				put(j, esc, 6);
			}
			i++;
		} else {
			size_t l = utf8_len(p + i, n - i);
			if (l == 0) {
				put(j, "\\ufffd", 6);
				i++;
			} else {
				put(j, (const char *)p + i, l);
				i += l;
			}
		}
	}
	putc_(j, '"');
}

static void
key(struct json *j, const char *k)
{
	if (j->need_comma[j->depth])
		putc_(j, ',');
	j->need_comma[j->depth] = 1;
	if (k != NULL) {
		put_string(j, k, strlen(k));
		putc_(j, ':');
	}
}

static void
open_(struct json *j, const char *k, char c)
{
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->overflow = 1;
		return;
	}
	key(j, k);
	putc_(j, c);
	j->depth++;
	j->need_comma[j->depth] = 0;
}

static void
close_(struct json *j, char c)
{
	if (j->depth == 0) {
		j->overflow = 1;
		return;
	}
	putc_(j, c);
	j->depth--;
}

void json_obj_open(struct json *j, const char *k) { open_(j, k, '{'); }
void json_obj_close(struct json *j) { close_(j, '}'); }
void json_arr_open(struct json *j, const char *k) { open_(j, k, '['); }
void json_arr_close(struct json *j) { close_(j, ']'); }

void
json_strn_kv(struct json *j, const char *k, const char *v, size_t n)
{
	key(j, k);
	put_string(j, v, n);
}

void
json_str_kv(struct json *j, const char *k, const char *v)
{
	json_strn_kv(j, k, v ? v : "", v ? strlen(v) : 0);
}

static void
put_num(struct json *j, const char *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));


static void
put_num(struct json *j, const char *k, const char *fmt, ...)
{
	char b[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	key(j, k);
	put(j, b, n > 0 ? (size_t)n : 0);
}

void json_u64_kv(struct json *j, const char *k, uint64_t v) { put_num(j, k, "%" PRIu64, v); }
void json_i64_kv(struct json *j, const char *k, int64_t v) { put_num(j, k, "%" PRId64, v); }

void
json_dbl_kv(struct json *j, const char *k, double v)
{
	if (!isfinite(v)) {
		json_null_kv(j, k);
		return;
	}
	/* Byte counts travel as doubles here; print whole numbers exactly. */
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		put_num(j, k, "%.0f", v);
	else
		put_num(j, k, "%.6g", v);
}

void
json_bool_kv(struct json *j, const char *k, int v)
{
	key(j, k);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void
json_null_kv(struct json *j, const char *k)
{
	key(j, k);
	put(j, "null", 4);
}

void
json_raw_kv(struct json *j, const char *k, const char *raw)
{
	key(j, k);
	put(j, raw, strlen(raw));
}

char *
json_fmt_time(uint64_t ts_us, char *buf, size_t len)
{
	time_t t = (time_t)(ts_us / 1000000u);
	struct tm tm;
	char d[32];

	gmtime_r(&t, &tm);
	strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06u+0000", d, (unsigned)(ts_us % 1000000u));
	return buf;
}
