/*
 * test_json - the JSON writer: RFC 8259 escaping, UTF-8 validation
 * (invalid bytes become U+FFFD), commas in nested containers, numbers,
 * the EVE timestamp, and the overflow flag. Overflow tests write into an
 * exact-size heap buffer so ASan reports any byte written past cap.
 */
#include <math.h>
#include <stdlib.h>

#include "t.h"
#include "json.h"

/* The JSON of one string value: {"k":<value>}. */
static const char *
one(const char *v, size_t n)
{
	static char buf[1024];
	struct json j;

	json_init(&j, buf, sizeof buf);
	json_obj_open(&j, NULL);
	json_strn_kv(&j, "k", v, n);
	json_obj_close(&j);
	return json_ok(&j) ? json_str(&j) : "(overflow)";
}

#define ONE(lit) one(lit, sizeof(lit) - 1)

static void
test_json_escapes_quotes_backslash_and_control_chars(void)
{
	CHECK_EQ_S(ONE("a\"b\\c/d"), "{\"k\":\"a\\\"b\\\\c/d\"}");
	CHECK_EQ_S(ONE("\n\r\t\b\f"), "{\"k\":\"\\n\\r\\t\\b\\f\"}");
	CHECK_EQ_S(ONE("\x01\x1f\x7f"), "{\"k\":\"\\u0001\\u001f\x7f\"}");
	CHECK_EQ_S(ONE("nul\0in"), "{\"k\":\"nul\\u0000in\"}");
	CHECK_EQ_S(ONE(""), "{\"k\":\"\"}");
	/* Keys are escaped the same way. */
	char buf[64];
	struct json j;
	json_init(&j, buf, sizeof buf);
	json_obj_open(&j, NULL);
	json_u64_kv(&j, "a\"b", 1);
	json_obj_close(&j);
	CHECK_EQ_S(json_str(&j), "{\"a\\\"b\":1}");
}

static void
test_json_valid_multibyte_utf8_passes_unchanged(void)
{
	CHECK_EQ_S(ONE("caf\xc3\xa9"), "{\"k\":\"caf\xc3\xa9\"}");			/* U+00E9 */
	CHECK_EQ_S(ONE("\xe2\x82\xac"), "{\"k\":\"\xe2\x82\xac\"}");		/* U+20AC */
	CHECK_EQ_S(ONE("\xf0\x9f\x98\x80"), "{\"k\":\"\xf0\x9f\x98\x80\"}");	/* U+1F600 */
	CHECK_EQ_S(ONE("\xef\xbf\xbf"), "{\"k\":\"\xef\xbf\xbf\"}");		/* U+FFFF */
	CHECK_EQ_S(ONE("\xf4\x8f\xbf\xbf"), "{\"k\":\"\xf4\x8f\xbf\xbf\"}");	/* U+10FFFF */
	CHECK_EQ_S(ONE("\xc2\x80"), "{\"k\":\"\xc2\x80\"}");			/* U+0080 */
}

static void
test_json_invalid_utf8_becomes_replacement_char(void)
{
	/* Lone continuation, bad lead bytes, overlongs, surrogates, > U+10FFFF. */
	CHECK_EQ_S(ONE("a\x80z"), "{\"k\":\"a\\ufffdz\"}");
	CHECK_EQ_S(ONE("\xff\xfe"), "{\"k\":\"\\ufffd\\ufffd\"}");
	CHECK_EQ_S(ONE("\xc0\xaf"), "{\"k\":\"\\ufffd\\ufffd\"}");		/* overlong '/' */
	CHECK_EQ_S(ONE("\xe0\x80\xaf"), "{\"k\":\"\\ufffd\\ufffd\\ufffd\"}");	/* overlong, 3 bytes */
	CHECK_EQ_S(ONE("\xed\xa0\x80"), "{\"k\":\"\\ufffd\\ufffd\\ufffd\"}");	/* U+D800 */
	CHECK_EQ_S(ONE("\xf4\x90\x80\x80"), "{\"k\":\"\\ufffd\\ufffd\\ufffd\\ufffd\"}");
	CHECK_EQ_S(ONE("\xf5\x80"), "{\"k\":\"\\ufffd\\ufffd\"}");
	/* Truncated sequence at the end of the value, and before an ASCII byte. */
	CHECK_EQ_S(ONE("x\xe2\x82"), "{\"k\":\"x\\ufffd\\ufffd\"}");
	CHECK_EQ_S(ONE("\xc3z"), "{\"k\":\"\\ufffdz\"}");
	/* json_strn_kv stops at n: the byte after is never read. */
	CHECK_EQ_S(one("\xc3\xa9", 1), "{\"k\":\"\\ufffd\"}");
}

static void
test_json_nested_objects_and_arrays_get_commas_right(void)
{
	char buf[256];
	struct json j;

	json_init(&j, buf, sizeof buf);
	json_obj_open(&j, NULL);
	json_str_kv(&j, "a", "x");
	json_obj_open(&j, "o");
	json_obj_close(&j);
	json_arr_open(&j, "l");
	json_u64_kv(&j, NULL, 1);
	json_obj_open(&j, NULL);
	json_bool_kv(&j, "t", 1);
	json_bool_kv(&j, "f", 0);
	json_obj_close(&j);
	json_arr_open(&j, NULL);
	json_arr_close(&j);
	json_null_kv(&j, NULL);
	json_arr_close(&j);
	json_i64_kv(&j, "n", -42);
	json_str_kv(&j, "s", NULL);
	json_obj_close(&j);
	CHECK(json_ok(&j));
	CHECK_EQ_S(json_str(&j),
	    "{\"a\":\"x\",\"o\":{},\"l\":[1,{\"t\":true,\"f\":false},[],null],\"n\":-42,\"s\":\"\"}");
	CHECK_EQ_U(j.len, strlen(buf));
	/* Unbalanced: not ok. */
	json_init(&j, buf, sizeof buf);
	json_obj_open(&j, NULL);
	CHECK(!json_ok(&j));
	json_obj_close(&j);
	CHECK(json_ok(&j));
	json_obj_close(&j);
	CHECK(!json_ok(&j));
}

static void
test_json_depth_limit_sets_overflow(void)
{
	char buf[256];
	struct json j;

	json_init(&j, buf, sizeof buf);
	for (int i = 0; i < JSON_MAX_DEPTH + 4; i++)
		json_arr_open(&j, NULL);
	for (int i = 0; i < JSON_MAX_DEPTH + 4; i++)
		json_arr_close(&j);
	CHECK(!json_ok(&j));
}

static const char *
dbl(double v)
{
	static char buf[128];
	struct json j;

	json_init(&j, buf, sizeof buf);
	json_arr_open(&j, NULL);
	json_dbl_kv(&j, NULL, v);
	json_arr_close(&j);
	return json_str(&j);
}

static void
test_json_doubles_integral_exact_nan_null(void)
{
	CHECK_EQ_S(dbl(0), "[0]");
	CHECK_EQ_S(dbl(1073741824.0), "[1073741824]");
	CHECK_EQ_S(dbl(9007199254740991.0), "[9007199254740991]");	/* 2^53 - 1: exact */
	CHECK_EQ_S(dbl(-5), "[-5]");
	CHECK_EQ_S(dbl(2.5), "[2.5]");
	CHECK_EQ_S(dbl(1.0 / 3.0), "[0.333333]");
	CHECK_EQ_S(dbl(1e20), "[1e+20]");
	CHECK_EQ_S(dbl(NAN), "[null]");
	CHECK_EQ_S(dbl(INFINITY), "[null]");
	CHECK_EQ_S(dbl(-INFINITY), "[null]");
	char buf[64];
	struct json j;
	json_init(&j, buf, sizeof buf);
	json_obj_open(&j, NULL);
	json_u64_kv(&j, "u", UINT64_MAX);
	json_i64_kv(&j, "i", INT64_MIN);
	json_obj_close(&j);
	CHECK_EQ_S(json_str(&j), "{\"u\":18446744073709551615,\"i\":-9223372036854775808}");
}

static void
test_json_timestamp_format(void)
{
	char buf[48];

	CHECK_EQ_S(json_fmt_time(1772442000ull * 1000000 + 1, buf, sizeof buf),
	    "2026-03-02T09:00:00.000001+0000");
	CHECK_EQ_S(json_fmt_time(1772442000ull * 1000000 + 999999, buf, sizeof buf),
	    "2026-03-02T09:00:00.999999+0000");
	CHECK_EQ_S(json_fmt_time(0, buf, sizeof buf), "1970-01-01T00:00:00.000000+0000");
	CHECK_EQ_S(json_fmt_time(951782400ull * 1000000, buf, sizeof buf),
	    "2000-02-29T00:00:00.000000+0000");
}

/* Writes a fixed document into a heap buffer of exactly cap bytes. */
static int
write_doc(size_t cap, char *copy, size_t copylen)
{
	char *buf = malloc(cap ? cap : 1);
	struct json j;
	int ok;

	json_init(&j, buf, cap);
	json_obj_open(&j, NULL);
	json_str_kv(&j, "name", "caf\xc3\xa9 \"quoted\"\n\xff");
	json_arr_open(&j, "v");
	for (int i = 0; i < 5; i++)
		json_u64_kv(&j, NULL, (uint64_t)i * 1000003);
	json_arr_close(&j);
	json_dbl_kv(&j, "d", 0.125);
	json_obj_close(&j);
	ok = json_ok(&j);
	if (cap > 0) {
		CHECK(j.len < cap);
		CHECK_EQ_U(strlen(buf), j.len);	/* always NUL-terminated inside cap */
		snprintf(copy, copylen, "%s", buf);
	}
	free(buf);
	return ok;
}

static void
test_json_overflow_sets_flag_and_never_writes_past_cap(void)
{
	char full[256], part[256];
	const char *want = "{\"name\":\"caf\xc3\xa9 \\\"quoted\\\"\\n\\ufffd\",\"v\":[0,1000003,2000006,3000009,4000012],\"d\":0.125}";

	CHECK(write_doc(256, full, sizeof full));
	CHECK_EQ_S(full, want);
	size_t need = strlen(want) + 1;
	CHECK(write_doc(need, part, sizeof part));	/* exactly enough */
	CHECK_EQ_S(part, want);
	for (size_t cap = 0; cap < need; cap++) {
		CHECK(!write_doc(cap, part, sizeof part));
		/* What was written is a prefix of the full text. */
		if (cap > 0)
			CHECK(strncmp(part, want, strlen(part)) == 0);
	}
}

T_MAIN("json",
    T(test_json_escapes_quotes_backslash_and_control_chars),
    T(test_json_valid_multibyte_utf8_passes_unchanged),
    T(test_json_invalid_utf8_becomes_replacement_char),
    T(test_json_nested_objects_and_arrays_get_commas_right),
    T(test_json_depth_limit_sets_overflow),
    T(test_json_doubles_integral_exact_nan_null),
    T(test_json_timestamp_format),
    T(test_json_overflow_sets_flag_and_never_writes_past_cap))
