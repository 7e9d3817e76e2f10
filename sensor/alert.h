/*
 * alert - one alert as JSON: the contract dashboards parse.
 *
 * The field names follow Suricata's EVE JSON where they overlap
 * (timestamp, event_type, src_ip, dest_ip, dest_port, proto, app_proto,
 * alert.category/severity/...), so EVE pipelines read it unchanged. Every
 * sink receives the same bytes. Fields (see README "Alert JSON"):
 *
 *   timestamp, event_type "alert", sensor, alert_id, src_ip,
 *   [dest_ip, dest_port, proto, app_proto, server_name]  one destination dominates
 *   alert { category, rule, severity, score, [offhours: true], mitre[], message,
 *           state "new"|"update", updates, engaged_since, engagement_id }
 *   window { start, end, seconds }
 *   [community_id]  of the alert's main flow (Corelight Community ID v1)
 *   evidence { bytes_out, bytes_in, destinations[ {ip, port, proto, app,
 *              server_name, bytes_out, bytes_in, flows} ], metrics { name: value },
 *              host_apps[ {app, bytes_out, bytes_in} ],
 *              flows[ {src_ip, src_port, dest_ip, dest_port, proto, start, end,
 *                      bytes_out, bytes_in, app, server_name, community_id} ],
 *              [pcap], [<detector>: { its own evidence }] }
 */
#ifndef OUTFLOW_ALERT_H
#define OUTFLOW_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "rules.h"

#define ALERT_MAX_DESTS 8
#define ALERT_JSON_MAX	32768	/* the largest alert is ~27 KB: test_alert proves it fits */

enum alert_state { ALERT_NEW, ALERT_UPDATE };

struct alert_dest {
	struct ip_addr ip;
	uint16_t port;
	uint8_t l4proto;
	char app[48];		/* nDPI master.app name */
	char app_proto[24];	/* EVE-style lower-case master protocol ("tls") */
	char server_name[64];
	uint64_t bytes_out, bytes_in, flows;
};

struct alert_app {
	char app[48];
	uint64_t bytes_out, bytes_in;
};

#define ALERT_MAX_APPS 4
#define ALERT_MAX_FLOWS 8
#define ALERT_EXTRA_MAX 4096

/* One flow behind an alert, initiator first. */
struct alert_flow {
	struct ip_addr src, dst;
	uint16_t sport, dport;
	uint8_t l4proto;
	uint64_t first_us, last_us;
	uint64_t bytes_out, bytes_in;	/* payload, initiator -> responder and back */
	char app[48];
	char server_name[64];
	char community_id[48];		/* "1:..." */
};

struct alert {
	uint64_t ts_us;		/* packet time of the evaluation */
	char id[64];		/* unique per alert */
	char engagement_id[64];	/* the id of the alert that opened this engagement */
	const char *sensor;
	const struct rule *rule;
	uint8_t score;		/* 0..100: the rule's, or more when weighted (off hours) */
	int offhours;		/* outside the working hours, and the rule weighs that */
	enum alert_state state;
	uint32_t updates;
	uint64_t engaged_since_us;
	struct ip_addr src;
	int dominant;		/* dests[0] is the destination the alert is about */
	uint64_t window_start_us;
	uint32_t window_s;
	uint64_t bytes_out, bytes_in;
	double values[RULE_MAX_CONDS];	/* measured value of each when-condition */
	struct alert_dest dests[ALERT_MAX_DESTS];
	size_t ndests;
	struct alert_app apps[ALERT_MAX_APPS];	/* the host's top applications, since first seen */
	size_t napps;
	struct alert_flow flows[ALERT_MAX_FLOWS];	/* the flows behind it, main flow first */
	size_t nflows;
	char detail[256];	/* a detector's one-line summary: the {detail} placeholder */
	/* A detector's own evidence: extra holds one JSON object (the text,
	 * valid JSON, written with json.h) put under evidence.<extra_key>. */
	char extra_key[24];
	char extra[ALERT_EXTRA_MAX];
	char pcap[256];		/* evidence pcap file written for this alert, "" if none */
	char message[512];	/* rendered from the rule's template */
};

/* Adds flow f to a->flows (if there is room), with its Community ID. */
struct flow;
void alert_add_flow(struct alert *a, const struct flow *f, const char *app, const char *server_name);
/* Adds a flow described by *af (its community_id is computed here). */
void alert_add_flow_rec(struct alert *a, const struct alert_flow *af);

/* Renders the rule's message template with the alert's numbers into a->message. */
void alert_render_message(struct alert *a);

/*
 * Writes the alert's JSON (one line, no newline) into buf. Returns its
 * length, or 0 if it did not fit (never happens with ALERT_JSON_MAX and the
 * bounded fields above).
 */
size_t alert_to_json(const struct alert *a, char *buf, size_t cap);

/* "1.07 GB", "512 B": the unit a message shows a byte count in. */
char *alert_fmt_bytes(uint64_t v, char *buf, size_t len);
/* "10 min", "1 h", "24 h". */
char *alert_fmt_duration(uint32_t s, char *buf, size_t len);

#endif
