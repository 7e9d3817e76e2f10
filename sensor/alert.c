/*
 * alert - see alert.h.
 */
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <ndpi_api.h>

#include "alert.h"
#include "flow.h"
#include "json.h"

char *
alert_fmt_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "KB", "MB", "GB", "TB", "PB" };
	double d = (double)v;
	int u = -1;

	if (v < 1000) {
		snprintf(buf, len, "%" PRIu64 " B", v);
		return buf;
	}
	/* Steps are chosen on the value as printed (three significant digits),
	 * so 999,999 B shows as "1.00 MB", not "1000 KB". */
	while (d >= 999.5 && u < 4) {
		d /= 1000.0;
		u++;
	}
	snprintf(buf, len, d < 9.995 ? "%.2f %s" : d < 99.95 ? "%.1f %s" : "%.0f %s", d, units[u]);
	return buf;
}

char *
alert_fmt_duration(uint32_t s, char *buf, size_t len)
{
	if (s % 86400 == 0 && s >= 86400 && s != 86400)
		snprintf(buf, len, "%u d", s / 86400);
	else if (s % 3600 == 0 && s >= 3600)
		snprintf(buf, len, "%u h", s / 3600);
	else if (s % 60 == 0 && s >= 60)
		snprintf(buf, len, "%u min", s / 60);
	else
		snprintf(buf, len, "%u s", s);
	return buf;
}

static const char *
proto_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP: return "TCP";
	case IPPROTO_UDP: return "UDP";
	case IPPROTO_ICMP: return "ICMP";
	case IPPROTO_ICMPV6: return "IPv6-ICMP";	/* as EVE names it */
	default: return NULL;
	}
}

/* "proto": EVE's name where it has one, else the IP protocol number. */
static void
proto_kv(struct json *j, uint8_t p)
{
	const char *pn = proto_name(p);

	if (pn)
		json_str_kv(j, "proto", pn);
	else
		json_u64_kv(j, "proto", p);
}

/*
 * Community ID v1 through nDPI's implementation (ndpi_community_id.c):
 * addresses and ports in host order. Our ICMP flows are keyed without
 * type/code (all ICMP between two hosts is one flow), so they are hashed as
 * the echo request they almost always are.
 */
static void
community_id(const struct alert_flow *af, char *out, size_t len)
{
	u_char buf[64];
	int icmp = af->l4proto == IPPROTO_ICMP || af->l4proto == IPPROTO_ICMPV6;
	uint8_t itype = af->l4proto == IPPROTO_ICMP ? 8 : 128;
	int rc;

	buf[0] = '\0';
	if (addr_is_v4(&af->src) && addr_is_v4(&af->dst)) {
		uint32_t s, d;
		memcpy(&s, af->src.b + 12, 4);
		memcpy(&d, af->dst.b + 12, 4);
		rc = ndpi_flowv4_flow_hash(af->l4proto, ntohl(s), ntohl(d), af->sport, af->dport,
		    icmp ? itype : 0, 0, buf, sizeof buf);
	} else {
		struct ndpi_in6_addr s, d;
		memcpy(&s, af->src.b, 16);
		memcpy(&d, af->dst.b, 16);
		rc = ndpi_flowv6_flow_hash(af->l4proto, &s, &d, af->sport, af->dport,
		    icmp ? itype : 0, 0, buf, sizeof buf);
	}
	/* "1:" + 28 base64 characters: always fits out (48). */
	snprintf(out, len, "%.*s", (int)(len ? len - 1 : 0), rc == 0 ? (const char *)buf : "");
}

void
alert_add_flow_rec(struct alert *a, const struct alert_flow *af)
{
	struct alert_flow *dst;

	if (a->nflows >= ALERT_MAX_FLOWS)
		return;
	dst = &a->flows[a->nflows++];
	*dst = *af;
	community_id(dst, dst->community_id, sizeof dst->community_id);
}

void
alert_add_flow(struct alert *a, const struct flow *f, const char *app, const char *server_name)
{
	struct alert_flow af;

	memset(&af, 0, sizeof af);
	af.src = *flow_initiator(f, &af.sport);
	af.dst = *flow_responder(f, &af.dport);
	af.l4proto = f->key.proto;
	af.first_us = f->first_us;
	af.last_us = f->last_us;
	af.bytes_out = f->payload_bytes[FLOW_DIR_FWD];
	af.bytes_in = f->payload_bytes[FLOW_DIR_REV];
	snprintf(af.app, sizeof af.app, "%s", app ? app : "");
	snprintf(af.server_name, sizeof af.server_name, "%s", server_name ? server_name : "");
	alert_add_flow_rec(a, &af);
}

/* The measured value of condition i, as a message shows it. */
static void
fmt_value(const struct alert *a, size_t i, char *buf, size_t len)
{
	const struct metric_def *md = metric_def(a->rule->cond[i].metric);
	double v = a->values[i];

	if (md->unit == MUNIT_BYTES)
		alert_fmt_bytes((uint64_t)v, buf, len);
	else if (md->unit == MUNIT_RATIO)
		snprintf(buf, len, v < 10 ? "%.1f" : "%.0f", v);
	else if (md->unit == MUNIT_DURATION)
		alert_fmt_duration((uint32_t)v, buf, len);
	else
		snprintf(buf, len, "%.0f", v);
}

/* Expands one {name}; returns 0 if the name is not known. */
static int
expand(const struct alert *a, const char *name, size_t n, char *out, size_t len)
{
	const struct alert_dest *d = a->ndests > 0 ? &a->dests[0] : NULL;
	char tmp[64];

#define IS(s) (n == strlen(s) && memcmp(name, s, n) == 0)
	if (IS("src_ip"))
		addr_fmt(&a->src, out, len);
	else if (IS("dest_ip"))
		d ? (void)addr_fmt(&d->ip, out, len) : (void)snprintf(out, len, "?");
	else if (IS("dest_port"))
		snprintf(out, len, "%u", d ? d->port : 0);
	else if (IS("server_name"))
		snprintf(out, len, "%s", d && d->server_name[0] ? d->server_name : (d ? addr_fmt(&d->ip, tmp, sizeof tmp) : "?"));
	else if (IS("app"))
		snprintf(out, len, "%s", d ? d->app : "?");
	else if (IS("rule"))
		snprintf(out, len, "%s", a->rule->name);
	else if (IS("category"))
		snprintf(out, len, "%s", category_name(a->rule->category));
	else if (IS("severity"))
		snprintf(out, len, "%s", severity_name(a->rule->severity));
	else if (IS("window"))
		alert_fmt_duration(a->window_s, out, len);
	else if (IS("value"))
		fmt_value(a, 0, out, len);
	else if (IS("detail"))
		snprintf(out, len, "%.*s", (int)(len ? len - 1 : 0), a->detail);
	else {
		for (size_t i = 0; i < a->rule->ncond; i++) {
			const char *mn = metric_def(a->rule->cond[i].metric)->name;
			if (IS(mn)) {
				fmt_value(a, i, out, len);
				return 1;
			}
		}
		return 0;
	}
#undef IS
	return 1;
}

void
alert_render_message(struct alert *a)
{
	const char *t = a->rule->message ? a->rule->message : "";
	size_t o = 0, cap = sizeof a->message;

	while (*t && o + 1 < cap) {
		const char *close;
		char val[128];
		if (*t == '{' && (close = strchr(t + 1, '}')) != NULL &&
		    expand(a, t + 1, (size_t)(close - t - 1), val, sizeof val)) {
			size_t vl = strlen(val);
			if (vl > cap - 1 - o)
				vl = cap - 1 - o;
			memcpy(a->message + o, val, vl);
			o += vl;
			t = close + 1;
			continue;
		}
		a->message[o++] = *t++;
	}
	a->message[o] = '\0';
}

static void
dest_json(struct json *j, const struct alert_dest *d)
{
	char ip[ADDR_STRLEN];

	json_obj_open(j, NULL);
	json_str_kv(j, "ip", addr_fmt(&d->ip, ip, sizeof ip));
	json_u64_kv(j, "port", d->port);
	proto_kv(j, d->l4proto);
	json_str_kv(j, "app", d->app);
	if (d->server_name[0])
		json_str_kv(j, "server_name", d->server_name);
	json_u64_kv(j, "bytes_out", d->bytes_out);
	json_u64_kv(j, "bytes_in", d->bytes_in);
	json_u64_kv(j, "flows", d->flows);
	json_obj_close(j);
}

static void
flow_json(struct json *j, const struct alert_flow *f)
{
	char ip[ADDR_STRLEN], t[48];

	json_obj_open(j, NULL);
	json_str_kv(j, "src_ip", addr_fmt(&f->src, ip, sizeof ip));
	json_u64_kv(j, "src_port", f->sport);
	json_str_kv(j, "dest_ip", addr_fmt(&f->dst, ip, sizeof ip));
	json_u64_kv(j, "dest_port", f->dport);
	proto_kv(j, f->l4proto);
	json_str_kv(j, "start", json_fmt_time(f->first_us, t, sizeof t));
	json_str_kv(j, "end", json_fmt_time(f->last_us, t, sizeof t));
	json_u64_kv(j, "bytes_out", f->bytes_out);
	json_u64_kv(j, "bytes_in", f->bytes_in);
	json_str_kv(j, "app", f->app);
	if (f->server_name[0])
		json_str_kv(j, "server_name", f->server_name);
	if (f->community_id[0])
		json_str_kv(j, "community_id", f->community_id);
	json_obj_close(j);
}

size_t
alert_to_json(const struct alert *a, char *buf, size_t cap)
{
	struct json j;
	char t[48], ip[ADDR_STRLEN];
	const struct rule *r = a->rule;

	json_init(&j, buf, cap);
	json_obj_open(&j, NULL);
	json_str_kv(&j, "timestamp", json_fmt_time(a->ts_us, t, sizeof t));
	json_str_kv(&j, "event_type", "alert");
	json_str_kv(&j, "sensor", a->sensor);
	json_str_kv(&j, "alert_id", a->id);
	json_str_kv(&j, "src_ip", addr_fmt(&a->src, ip, sizeof ip));
	if (a->dominant && a->ndests > 0) {
		const struct alert_dest *d = &a->dests[0];
		json_str_kv(&j, "dest_ip", addr_fmt(&d->ip, ip, sizeof ip));
		json_u64_kv(&j, "dest_port", d->port);
		proto_kv(&j, d->l4proto);
		json_str_kv(&j, "app_proto", d->app_proto);
		if (d->server_name[0])
			json_str_kv(&j, "server_name", d->server_name);
	}
	if (a->nflows > 0 && a->flows[0].community_id[0])
		json_str_kv(&j, "community_id", a->flows[0].community_id);

	json_obj_open(&j, "alert");
	json_str_kv(&j, "category", category_name(r->category));
	json_str_kv(&j, "rule", r->name);
	json_str_kv(&j, "severity", severity_name(r->severity));
	json_u64_kv(&j, "score", a->score);
	/* Only when it applies: alerts of unweighted rules keep their shape. */
	if (a->offhours)
		json_bool_kv(&j, "offhours", 1);
	json_arr_open(&j, "mitre");
	for (size_t i = 0; i < r->nmitre; i++)
		json_str_kv(&j, NULL, r->mitre[i]);
	json_arr_close(&j);
	json_str_kv(&j, "message", a->message);
	json_str_kv(&j, "state", a->state == ALERT_NEW ? "new" : "update");
	json_u64_kv(&j, "updates", a->updates);
	json_str_kv(&j, "engaged_since", json_fmt_time(a->engaged_since_us, t, sizeof t));
	json_str_kv(&j, "engagement_id", a->engagement_id);
	json_obj_close(&j);

	json_obj_open(&j, "window");
	json_str_kv(&j, "start", json_fmt_time(a->window_start_us, t, sizeof t));
	json_str_kv(&j, "end", json_fmt_time(a->ts_us, t, sizeof t));
	json_u64_kv(&j, "seconds", a->window_s);
	json_obj_close(&j);

	json_obj_open(&j, "evidence");
	json_u64_kv(&j, "bytes_out", a->bytes_out);
	json_u64_kv(&j, "bytes_in", a->bytes_in);
	json_arr_open(&j, "destinations");
	for (size_t i = 0; i < a->ndests; i++)
		dest_json(&j, &a->dests[i]);
	json_arr_close(&j);
	json_obj_open(&j, "metrics");
	for (size_t i = 0; i < r->ncond; i++) {
		char k[96];
		/* Written as a rule would: host.out.bytes[10min]. */
		alert_fmt_duration(r->cond[i].window_s, t, sizeof t);
		char *sp = strchr(t, ' ');
		if (sp != NULL)
			memmove(sp, sp + 1, strlen(sp));
		if (r->cond[i].window_s == 0)	/* a metric that takes no window */
			snprintf(k, sizeof k, "%s", metric_def(r->cond[i].metric)->name);
		else
			snprintf(k, sizeof k, "%s[%s]", metric_def(r->cond[i].metric)->name, t);
		json_dbl_kv(&j, k, a->values[i]);
	}
	json_obj_close(&j);
	json_arr_open(&j, "host_apps");
	for (size_t i = 0; i < a->napps; i++) {
		json_obj_open(&j, NULL);
		json_str_kv(&j, "app", a->apps[i].app);
		json_u64_kv(&j, "bytes_out", a->apps[i].bytes_out);
		json_u64_kv(&j, "bytes_in", a->apps[i].bytes_in);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_arr_open(&j, "flows");
	for (size_t i = 0; i < a->nflows; i++)
		flow_json(&j, &a->flows[i]);
	json_arr_close(&j);
	if (a->pcap[0])
		json_str_kv(&j, "pcap", a->pcap);
	if (a->extra_key[0] && a->extra[0])
		json_raw_kv(&j, a->extra_key, a->extra);
	json_obj_close(&j);

	json_obj_close(&j);
	return json_ok(&j) ? j.len : 0;
}
