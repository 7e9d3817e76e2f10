/*
 * rules - detection rules: text in rules/NAME.rules -> struct ruleset.
 *
 * Every threshold the sensor applies lives in a rule, so a SOC changes
 * detection by editing data, not C. The parser reads from a buffer (so it
 * can be fuzzed), reports every error as "file:line:col: message", and
 * builds an immutable ruleset; a reload parses a new set and swaps it in
 * only if it is valid. Variables (var NAME = ...) can be overridden from
 * the command line (--set NAME=VALUE), and HOME_NET is one of them.
 *
 * The grammar and every metric are documented in rules/README.md.
 */
#ifndef OUTFLOW_RULES_H
#define OUTFLOW_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "category.h"
#include "metric.h"
#include "netset.h"

#define RULE_NAME_MAX	64
#define RULE_MAX_CONDS	4
#define RULE_MAX_MITRE	8
#define RULE_MITRE_LEN	16	/* "T1048.003" */

enum rule_op { RULE_OP_GT, RULE_OP_GE, RULE_OP_LT, RULE_OP_LE };

/* One "metric[window] op value" of a when clause; conditions are ANDed. */
struct rule_cond {
	enum metric_id metric;
	uint32_t window_s;	/* 0 for metrics without a window */
	enum rule_op op;
	double value;		/* in the metric's base unit (bytes, count, ratio) */
};

/* One term of an except clause; terms are ORed. */
enum rule_term_kind {
	RULE_TERM_DEST_IN,	/* dest in <CIDR list>: the destination address */
	RULE_TERM_SERVER_NAME,	/* server_name ~ "*.example.com" (glob: * and ?) */
	RULE_TERM_APP_IN,	/* app in (Dropbox, TLS): nDPI protocol names, master or app */
	RULE_TERM_CATEGORY_IN,	/* app_category in (CloudStorage): nDPI category names */
	RULE_TERM_PORT_IN,	/* dest_port in (443, 8443) */
	RULE_TERM_RISK_IN	/* risk in ("Known Protocol on Non Standard Port"): nDPI flow risks */
};

/* Where a name was written, for messages about it after parsing. */
struct rule_pos {
	unsigned line, col;
};

struct rule_term {
	enum rule_term_kind kind;
	struct netset *net;	/* RULE_TERM_DEST_IN (owned) */
	char **names;		/* globs / app / category / risk names (owned) */
	struct rule_pos *pos;	/* where each name stands (owned, parallel to names) */
	size_t nnames;
	uint16_t *ports;	/* RULE_TERM_PORT_IN (owned) */
	size_t nports;
};

struct rule {
	char name[RULE_NAME_MAX];
	enum alert_category category;
	enum alert_severity severity;
	uint8_t score;			/* 0..100 */
	char mitre[RULE_MAX_MITRE][RULE_MITRE_LEN];
	size_t nmitre;
	char *message;			/* template with {placeholders} (owned) */
	uint32_t suppress_s;		/* engaged alert stays quiet this long */
	struct rule_cond cond[RULE_MAX_CONDS];
	size_t ncond;
	struct netset *hosts;		/* hosts this rule watches; NULL = every internal host */
	struct rule_term *only;		/* if any: only destinations matching one count (owned) */
	size_t nonly;
	struct rule_term *except;	/* destinations that do not count (owned) */
	size_t nexcept;
	int disabled;			/* "enabled no" */
	double offhours;		/* "offhours F": outside the working hours, byte
					 * thresholds / F and score * F (capped at 100);
					 * 0 = not weighted */
	struct rule_pos offhours_pos;
	unsigned line;			/* where the rule starts, for messages */
};

/*
 * "workhours Mon-Fri 08:00-18:00 Europe/Berlin": when people work, in a
 * named zone (the zone is loaded when the rules are installed: detect.c).
 * An end before the start is a shift past midnight, belonging to the day it
 * starts on.
 */
#define RULES_ZONE_MAX 64
struct rule_workhours {
	int set;
	uint8_t days;			/* bit d: weekday d (0 = Sunday .. 6 = Saturday) */
	uint16_t start_min, end_min;	/* minutes after local midnight, end exclusive */
	char zone[RULES_ZONE_MAX + 1];	/* IANA name */
	struct rule_pos zone_pos;	/* where the zone is written */
	unsigned line;
};

/*
 * Is the local time (seconds since the epoch, shifted by the zone's
 * offset) inside the working hours?
 */
int rules_workhours_contains(const struct rule_workhours *wh, int64_t local_s);

struct ruleset {
	struct rule *rules;
	size_t nrules;
	struct netset *home_net;	/* from var HOME_NET; NULL if the file sets none */
	char *home_net_text;		/* its text, for the start-up log */
	char *source;			/* file name the set was read from */
	struct rule_workhours workhours;	/* .set = 0 if the file has none */
};

/* --set NAME=VALUE overrides, applied to "var" definitions while parsing. */
struct rules_override {
	const char *name;
	const char *value;
	int used;			/* set by the parser when a var took it */
};

/* Every diagnostic of one parse, each "file:line:col: message". */
struct rules_errors {
	char **msgs;
	size_t n;
};

/*
 * Parses buf[0..len) (need not be NUL-terminated). file names the source
 * in messages. overrides may be NULL. On success returns 0 and *out (caller
 * frees with ruleset_free); on any error returns -1, *out is NULL, and errs
 * holds every message found (caller frees with rules_errors_free). An
 * override that names no var is an error too (a typo must not silently
 * leave the default threshold in place).
 */
int rules_parse(const char *buf, size_t len, const char *file,
    struct rules_override *overrides, size_t noverrides,
    struct ruleset **out, struct rules_errors *errs);

/* Reads path and parses it; I/O errors are reported in errs like parse errors. */
int rules_load(const char *path, struct rules_override *overrides, size_t noverrides,
    struct ruleset **out, struct rules_errors *errs);

void ruleset_free(struct ruleset *rs);
void rules_errors_free(struct rules_errors *errs);

/* One line describing r ("bulk-upload-1h: bulk-transfer high 70 when host.out.bytes[1h] > 500 MB ..."). */
void rule_summary(const struct rule *r, char *buf, size_t len);

/* Glob match used for server_name terms: '*' any run (also empty), '?' one char; case-insensitive. */
int rules_glob_match(const char *pattern, const char *s);

#endif
