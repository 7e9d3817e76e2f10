/*
 * redis_url - parses the Redis sink's URL (see redis_url.h).
 *
 * Kept apart from sink_redis.c so the parser (pure, no threads, no I/O)
 * can be read and tested on its own, and the sink stays about delivery.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "redis_url.h"

static int url_fail(char *err, size_t errlen, const char *url, const char *fmt, ...)
    LOG_PRINTF(4, 5);

/*
 * The URL is echoed in messages, so its password is masked first: error
 * text ends up in logs that more people read than the configuration.
 */
static void
url_redact(const char *url, char *out, size_t outlen)
{
	const char *auth = strstr(url, "://");
	const char *end, *at, *colon, *pw;
	size_t len;

	snprintf(out, outlen, "%s", url);
	if (auth != NULL && strncmp(url, "redis", 5) == 0) {
		auth += 3;
		end = auth + strcspn(auth, "/?#");
		at = NULL;
		for (const char *p = auth; p < end; p++)
			if (*p == '@')
				at = p;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon != NULL)
			snprintf(out, outlen, "%.*s***%s", (int)(colon + 1 - url), url, at);
	} else if ((pw = strstr(url, "password=")) != NULL) {
		len = (size_t)(pw + 9 - url);
		snprintf(out, outlen, "%.*s***%s", (int)len, url, pw + 9 + strcspn(pw + 9, "&"));
	}
}

static int
url_fail(char *err, size_t errlen, const char *url, const char *fmt, ...)
{
	char shown[600], why[256];
	va_list ap;

	url_redact(url, shown, sizeof shown);
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "redis URL '%.200s': %s", shown, why);
	return -1;
}

static int
url_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Copies src[0..n) into dst, decoding %XX (RFC 3986 section 2.1) when asked.
 * Returns 0, -1 when it does not fit, -2 for a malformed escape.
 */
static int
url_copy(char *dst, size_t dstlen, const char *src, size_t n, int decode)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = src[i];

		if (decode && c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -2;
			hi = url_hexval(src[i + 1]);
			lo = url_hexval(src[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -2;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= dstlen)
			return -1;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

/* Decimal digits only; -1 when not a number, -2 when above max. */
static int
url_number(const char *s, size_t n, long max, long *out)
{
	long v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -2;
	}
	*out = v;
	return 0;
}

static int
url_field(const char *url, char *err, size_t errlen, const char *what,
    char *dst, size_t dstlen, const char *src, size_t n)
{
	switch (url_copy(dst, dstlen, src, n, 1)) {
	case -1:
		return url_fail(err, errlen, url, "%s too long (max %zu)", what, dstlen - 1);
	case -2:
		return url_fail(err, errlen, url, "bad %%-escape in %s", what);
	}
	return 0;
}

static int
url_db(const char *url, char *err, size_t errlen, const char *s, size_t n, int *db)
{
	long v;

	switch (url_number(s, n, 65535, &v)) {
	case -1:
		return url_fail(err, errlen, url, "bad db '%.*s' (a number)", (int)n, s);
	case -2:
		return url_fail(err, errlen, url, "db out of range (0-65535)");
	}
	*db = (int)v;
	return 0;
}

/*
 *   redis://[[user]:password@]host[:port][/db]
 *           \___ userinfo ___/\__ authority up to '/' __/
 * The userinfo ends at the last '@' so a raw '@' in a password still works.
 */
static int
url_parse_tcp(const char *url, const char *p, struct redis_url *u, char *err, size_t errlen)
{
	const char *end = p + strcspn(p, "/?#");
	const char *at = NULL, *host, *host_end, *q;
	long port;

	for (const char *c = p; c < end; c++)
		if (*c == '@')
			at = c;
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (colon == NULL)
			return url_fail(err, errlen, url,
			    "credentials must be 'user:password@' or ':password@'");
		if (url_field(url, err, errlen, "user", u->user, sizeof u->user,
		    p, (size_t)(colon - p)) != 0 ||
		    url_field(url, err, errlen, "password", u->password, sizeof u->password,
		    colon + 1, (size_t)(at - colon - 1)) != 0)
			return -1;
		p = at + 1;
	}
	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (host_end == NULL)
			return url_fail(err, errlen, url, "unterminated '[' in IPv6 host");
		q = host_end + 1;
	} else {
		host = p;
		host_end = memchr(p, ':', (size_t)(end - p));
		if (host_end == NULL)
			host_end = end;
		else if (memchr(host_end + 1, ':', (size_t)(end - host_end - 1)) != NULL)
			return url_fail(err, errlen, url, "IPv6 host must be in brackets");
		q = host_end;
	}
	if (host_end == host)
		return url_fail(err, errlen, url, "missing host");
	if (url_copy(u->host, sizeof u->host, host, (size_t)(host_end - host), 0) != 0)
		return url_fail(err, errlen, url, "host too long (max %zu)", sizeof u->host - 1);
	if (q < end) {
		if (*q != ':')
			return url_fail(err, errlen, url, "unexpected '%c' after host", *q);
		q++;
		switch (url_number(q, (size_t)(end - q), 65535, &port)) {
		case -1:
			return url_fail(err, errlen, url, "bad port '%.*s'", (int)(end - q), q);
		case -2:
			return url_fail(err, errlen, url, "port out of range (1-65535)");
		}
		if (port == 0)
			return url_fail(err, errlen, url, "port out of range (1-65535)");
		u->port = (int)port;
	}
	if (*end == '/' && end[1] != '\0') {
		size_t n = strspn(end + 1, "0123456789");

		if (url_db(url, err, errlen, end + 1, n ? n : strcspn(end + 1, "?#"),
		    &u->db) != 0)
			return -1;
		end += 1 + n;
	} else if (*end == '/')
		end++;
	if (*end != '\0')
		return url_fail(err, errlen, url, "trailing junk '%.40s'", end);
	return 0;
}

/*
 *   unix:///path/to.sock[?db=N&user=U&password=P]   (or unix:/path...)
 */
static int
url_parse_unix(const char *url, const char *p, struct redis_url *u, char *err, size_t errlen)
{
	size_t n;

	if (strncmp(p, "//", 2) == 0)
		p += 2;
	if (*p != '/')
		return url_fail(err, errlen, url, "unix socket path must be absolute");
	n = strcspn(p, "?#");
	if (url_field(url, err, errlen, "socket path", u->path, sizeof u->path, p, n) != 0)
		return -1;
	p += n;
	if (*p == '#')
		return url_fail(err, errlen, url, "trailing junk '%.40s'", p);
	while (*p == '?' || *p == '&') {
		const char *key = p + 1, *val;
		size_t klen = strcspn(key, "=&#"), vlen;

		if (key[klen] != '=')
			return url_fail(err, errlen, url, "parameter '%.*s' needs a value",
			    (int)klen, key);
		val = key + klen + 1;
		vlen = strcspn(val, "&#");
		if (klen == 2 && strncmp(key, "db", 2) == 0) {
			if (url_db(url, err, errlen, val, vlen, &u->db) != 0)
				return -1;
		} else if (klen == 4 && strncmp(key, "user", 4) == 0) {
			if (url_field(url, err, errlen, "user", u->user, sizeof u->user,
			    val, vlen) != 0)
				return -1;
		} else if (klen == 8 && strncmp(key, "password", 8) == 0) {
			if (url_field(url, err, errlen, "password", u->password,
			    sizeof u->password, val, vlen) != 0)
				return -1;
		} else
			return url_fail(err, errlen, url, "unknown parameter '%.*s'",
			    (int)klen, key);
		p = val + vlen;
	}
	if (*p != '\0')
		return url_fail(err, errlen, url, "trailing junk '%.40s'", p);
	return 0;
}

int
redis_url_parse(const char *url, struct redis_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	u->port = 6379;
	if (url == NULL || *url == '\0')
		return url_fail(err, errlen, "", "empty URL");
	if (strncmp(url, "redis://", 8) == 0)
		return url_parse_tcp(url, url + 8, u, err, errlen);
	if (strncmp(url, "unix:", 5) == 0) {
		u->port = 0;
		return url_parse_unix(url, url + 5, u, err, errlen);
	}
	if (strncmp(url, "rediss://", 9) == 0)
		return url_fail(err, errlen, url, "TLS (rediss://) is not supported");
	return url_fail(err, errlen, url, "scheme must be redis:// or unix://");
}
