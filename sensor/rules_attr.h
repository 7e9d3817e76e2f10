/*
 * rules_attr - the attributes of a rule, private to rules*.c.
 *
 * Owns the grammar of each attribute line inside "rule NAME { ... }":
 * category, when (metric[window] op value, joined by "and"), hosts, except
 * (terms joined by "or"), severity, score, mitre, message, suppress and
 * enabled. rules.c decides which attribute a line sets and what is
 * required; this module reads the value into the struct rule.
 */
#ifndef OUTFLOW_RULES_ATTR_H
#define OUTFLOW_RULES_ATTR_H

#include "rules_lex.h"

/* The keyword of each enum rules_attr. */
extern const char *const rules_attr_names[RULES_ATTR__COUNT];

/*
 * Reads the value of attribute a from c (the line after the keyword, with
 * variables expanded) into r. Returns 0, or -1 with the problem reported;
 * what it allocated is in r either way (freed with the ruleset). A value
 * followed by more tokens is the caller's to report.
 */
int rules_attr_parse(struct rules_parser *P, enum rules_attr a, struct rule *r,
    struct rules_cur *c);

#endif
