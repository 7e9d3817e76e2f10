/*
 * modharness.h - the sensor's packet path and tick for detector-module
 * tests: flow and host accounting (pktbuild.h), the modules' packet /
 * flow_classified / tick hooks in registration order, detect_tick, and a
 * record of every alert emitted (rule, category, host, destination, score,
 * message, JSON). Static inline, like pktbuild.h.
 */
#ifndef OUTFLOW_MODHARNESS_H
#define OUTFLOW_MODHARNESS_H

#include <stdio.h>
#include <stdlib.h>

#include "detect.h"
#include "dpi.h"
#include "json.h"
#include "pktbuild.h"
#include "sensor.h"

#define MH_MAX_REC	48
#define MH_MAX_MODS	4

struct mh_rec {
	char rule[RULE_NAME_MAX];
	enum alert_category category;
	char src[ADDR_STRLEN], dest[ADDR_STRLEN];
	uint8_t score;
	enum alert_state state;
	char id[64];
	char message[512];
	char json[ALERT_JSON_MAX];
};

struct mh {
	struct pb_net n;
	struct dpi *dpi;
	struct ruleset *rs;
	struct detect *d;
	struct sensor_config cfg;
	struct detector_env env;
	const struct detector_ops *ops[MH_MAX_MODS];
	void *mod[MH_MAX_MODS];
	int nmods;
	size_t nrec;
	struct mh_rec rec[MH_MAX_REC];
};

static inline void
mh_on_alert(void *ctx, const struct alert *a)
{
	struct mh *h = ctx;
	struct mh_rec *r;

	if (h->nrec >= MH_MAX_REC)
		return;
	r = &h->rec[h->nrec++];
	snprintf(r->rule, sizeof r->rule, "%s", a->rule->name);
	r->category = a->rule->category;
	addr_fmt(&a->src, r->src, sizeof r->src);
	r->dest[0] = '\0';
	if (a->ndests > 0)
		addr_fmt(&a->dests[0].ip, r->dest, sizeof r->dest);
	r->score = a->score;
	r->state = a->state;
	snprintf(r->id, sizeof r->id, "%s", a->id);
	snprintf(r->message, sizeof r->message, "%s", a->message);
	if (alert_to_json(a, r->json, sizeof r->json) == 0)
		r->json[0] = '\0';
}

/* Rules from text; caps from sensor_config_defaults() (change h->cfg before
 * creating modules). 0 on success. */
static inline int
mh_init(struct mh *h, const char *rules)
{
	struct rules_errors errs = { 0 };
	char err[256];
	struct detect_config dc = { .sensor_name = "t", .max_engaged = 256, .run_id = 0xab, .seed = 3 };

	memset(h, 0, sizeof *h);
	sensor_config_defaults(&h->cfg);
	if (pb_net_init(&h->n, 1024, 256, 1024) != 0)
		return -1;
	if (rules_parse(rules, strlen(rules), "t.rules", NULL, 0, &h->rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
		rules_errors_free(&errs);
		return -1;
	}
	if ((h->dpi = dpi_new(err, sizeof err)) == NULL ||
	    (h->d = detect_new(&dc, h->dpi, mh_on_alert, h, err, sizeof err)) == NULL) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	h->env.cfg = &h->cfg;
	h->env.state_dirfd = -1;
	h->env.hosts = h->n.hosts;
	h->env.dpi = h->dpi;
	h->env.home = h->n.home;
	h->env.seed = 11;
	return 0;
}

/* Registers a module (NULL: its constructor failed) and, once all are in,
 * installs the rules (mh_rules). */
static inline int
mh_add(struct mh *h, const struct detector_ops *ops, void *mod)
{
	if (mod == NULL || h->nmods == MH_MAX_MODS)
		return -1;
	h->ops[h->nmods] = ops;
	h->mod[h->nmods++] = mod;
	detect_register(h->d, ops, mod);
	return 0;
}

static inline int
mh_rules(struct mh *h)
{
	char err[1024];

	if (detect_set_rules(h->d, h->rs, err, sizeof err) != 0) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	return 0;
}

/* One packet through accounting and every module's packet hook. */
static inline struct flow *
mh_pkt(struct mh *h, const struct pkt *p)
{
	struct flow *f = pb_send(&h->n, p);
	uint16_t port;
	const struct ip_addr *ini = flow_initiator(f, &port);
	int dir = addr_eq(ini, &p->src) && port == p->sport ? FLOW_DIR_FWD : FLOW_DIR_REV;

	if (!f->init_internal && !f->resp_internal)
		return f;
	for (int i = 0; i < h->nmods; i++)
		if (h->ops[i]->packet != NULL)
			h->ops[i]->packet(h->mod[i], f, dir, p);
	return f;
}

/* nDPI's verdict on f, as dpi.c would set it (app by name, may be NULL). */
static inline void
mh_classify(struct mh *h, struct flow *f, const char *app, const char *server_name, uint64_t now)
{
	if (app != NULL) {
		int id = dpi_proto_lookup(h->dpi, app);
		f->app_proto = (uint16_t)(id > 0 ? id : 0);
	}
	if (server_name != NULL)
		snprintf(f->server_name, sizeof f->server_name, "%s", server_name);
	host_flow_classified(h->n.hosts, f, now);
	for (int i = 0; i < h->nmods; i++)
		if (h->ops[i]->flow_classified != NULL)
			h->ops[i]->flow_classified(h->mod[i], f, now);
}

/* The sensor's tick: modules first, then the rules. */
static inline void
mh_tick(struct mh *h, uint64_t since, uint64_t now)
{
	for (int i = 0; i < h->nmods; i++)
		if (h->ops[i]->tick != NULL)
			h->ops[i]->tick(h->mod[i], now);
	detect_tick(h->d, h->n.hosts, since, now);
}

/* A TCP transfer: SYN from the initiator, then bytes in segments of at
 * most 1400 from `from` to the other end, all at ts. Returns the flow. */
static inline struct flow *
mh_tcp_xfer(struct mh *h, const char *ini, uint16_t sport, const char *resp, uint16_t dport,
    int from_ini, uint64_t bytes, uint64_t ts)
{
	struct pkt p = pb_tcp(ini, sport, resp, dport, PB_SYN, 0, ts);
	struct flow *f = mh_pkt(h, &p);

	while (bytes > 0) {
		uint32_t n = bytes > 1400 ? 1400 : (uint32_t)bytes;
		p = from_ini ? pb_tcp(ini, sport, resp, dport, PB_ACK, n, ts) :
		    pb_tcp(resp, dport, ini, sport, PB_ACK, n, ts);
		f = mh_pkt(h, &p);
		bytes -= n;
	}
	return f;
}

/* The module's stats object as text (for checks on counters). */
static inline const char *
mh_stats(struct mh *h, int i, char *buf, size_t cap)
{
	struct json j;

	json_init(&j, buf, cap);
	json_obj_open(&j, NULL);
	h->ops[i]->stats(h->mod[i], &j);
	json_obj_close(&j);
	return json_str(&j);
}

static inline void
mh_free(struct mh *h)
{
	for (int i = 0; i < h->nmods; i++) {
		if (h->ops[i]->save != NULL)
			h->ops[i]->save(h->mod[i]);
		h->ops[i]->free(h->mod[i]);
	}
	detect_free(h->d);
	dpi_free(h->dpi);
	ruleset_free(h->rs);
	pb_net_free(&h->n);
}

#define MH_INIT(h, rules) do { if (mh_init(h, rules) != 0) { CHECK(!"mh_init"); mh_free(h); return; } } while (0)

#endif
