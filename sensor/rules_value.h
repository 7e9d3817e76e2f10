/*
 * rules_value - reading the values of rule attributes, private to rules*.c.
 *
 * Owns: decimal numbers with units (sizes in B/KB/KiB..., durations in
 * s/min/h/d, plain counts and ratios), their formatting back to text for
 * messages and rule_summary(), and lists: "(a, b)" or "a, b" of CIDR
 * prefixes, names (words or "strings") and port numbers.
 *
 * Each parser reads from a cursor (rules_lex.h), reports what is wrong at
 * the offending token and returns -1; on success it returns 0 and leaves
 * the cursor after the value.
 */
#ifndef OUTFLOW_RULES_VALUE_H
#define OUTFLOW_RULES_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "rules_lex.h"

/* Sizes: a bare number is bytes; KB.. are powers of 1000, KiB.. of 1024. */
int rules_parse_size(struct rules_parser *P, struct rules_cur *c, double *out);

/* Durations: a number and s/sec, min, h/hour, d/day; whole seconds, at most 366 d. */
int rules_parse_duration(struct rules_parser *P, struct rules_cur *c, uint32_t *out);

/* A plain number (no unit) for counts, ratios, scores; what names it in messages. */
int rules_parse_plain(struct rules_parser *P, struct rules_cur *c, const char *what, int whole,
    double *out);

/* "90 min", "1 h", "7 d" (compact: "90min") into buf; returns buf. */
const char *rules_fmt_dur(uint32_t s, char *buf, size_t len, int compact);

/* The largest unit that shows v exactly with at most 3 decimals: "1.5 GiB"; returns buf. */
const char *rules_fmt_size(double v, char *buf, size_t len);

/* Reads one list element t into ctx; 0, or -1 (reported). */
typedef int (*rules_item_fn)(struct rules_parser *, const struct rules_tok *, void *);

/* "(a, b)" or "a, b": item() for each element. */
int rules_read_list(struct rules_parser *P, struct rules_cur *c, rules_item_fn item, void *ctx);

/*
 * A list of addresses / CIDR prefixes into a new *out (the caller owns it
 * and frees it with netset_free, also after an error).
 */
int rules_parse_cidrs(struct rules_parser *P, struct rules_cur *c, struct netset **out);

/* The text of a string token (escapes resolved) or a word; malloc'd, NULL when out of memory. */
char *rules_tok_text(const struct rules_tok *t);

/* ctx of rules_name_item: the term the names are added to. */
struct rules_name_list {
	struct rule_term *term;
	size_t maxlen;
	const char *what;
};

/* rules_item_fn: a word or "string" added to ctx's term (names and pos). */
int rules_name_item(struct rules_parser *P, const struct rules_tok *t, void *ctx);

/* rules_item_fn: a port 1..65535 added to ctx, a struct rule_term (ports). */
int rules_port_item(struct rules_parser *P, const struct rules_tok *t, void *ctx);

#endif
