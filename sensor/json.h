/*
 * json - a small JSON writer for alerts and stats.
 *
 * Why not nDPI's serializer: in nDPI 4.2 it emits invalid JSON for lists of
 * objects ("[\"\": {,1]") and silently drops bytes outside printable ASCII,
 * and every alert must parse in any pipeline. This writer always produces
 * valid UTF-8 JSON: strings are escaped per RFC 8259, and bytes that are not
 * valid UTF-8 (a server name is attacker-chosen) become U+FFFD.
 *
 * The buffer is fixed-size and caller-owned; an overflow sets a sticky flag
 * (json_ok() == 0) instead of writing past the end.
 */
#ifndef OUTFLOW_JSON_H
#define OUTFLOW_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 16

struct json {
	char *buf;
	size_t cap, len;
	int overflow;
	int depth;
	uint8_t need_comma[JSON_MAX_DEPTH];
};

void json_init(struct json *j, char *buf, size_t cap);
int json_ok(const struct json *j);		/* 1 if nothing was cut */
const char *json_str(struct json *j);		/* NUL-terminated text */

/* key may be NULL inside arrays. */
void json_obj_open(struct json *j, const char *key);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j, const char *key);
void json_arr_close(struct json *j);
void json_str_kv(struct json *j, const char *key, const char *val);
void json_strn_kv(struct json *j, const char *key, const char *val, size_t n);
void json_u64_kv(struct json *j, const char *key, uint64_t v);
void json_i64_kv(struct json *j, const char *key, int64_t v);
void json_dbl_kv(struct json *j, const char *key, double v);	/* integral: exact; else %.6g; NaN/inf: null */
void json_bool_kv(struct json *j, const char *key, int v);
void json_null_kv(struct json *j, const char *key);
/* Writes raw, which must already be valid JSON (e.g. another json's text). */
void json_raw_kv(struct json *j, const char *key, const char *raw);

/* Packet time as EVE writes it: 2026-03-02T09:00:00.000001+0000 (UTC). */
char *json_fmt_time(uint64_t ts_us, char *buf, size_t len);

#endif
