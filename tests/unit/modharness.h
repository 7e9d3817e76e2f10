/*
 * modharness.h - the sensor's packet path and tick for detector-module
 * tests, so each test_<module>.c keeps only its own tests and helpers.
 *
 * It owns, for one test: the flow and host tables (pktbuild.h), nDPI, the
 * rule set parsed from text, detect, and the modules registered with it
 * (it frees them all in mh_free, saving state first as the sensor does at
 * exit). It drives the modules' packet / flow_classified / flow_end / tick
 * hooks in registration order, then detect_tick, and records every alert
 * emitted (rule, category, host, destination, score, message, bytes out,
 * the module's `extra` object, the whole JSON). It also reads a module's
 * stats object and the subjects and metric values it offers to the rules.
 *
 * Use: MH_SETUP(&h, rules, module, changes to h.cfg / h.env) at the start
 * of a test (or mh_init, the changes, mh_add for each module, mh_rules);
 * mh_free at its end. Static inline, like pktbuild.h.
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
#define MH_MAX_SEEN	32

struct mh_rec {
	char rule[RULE_NAME_MAX];
	enum alert_category category;
	char src[ADDR_STRLEN], dest[ADDR_STRLEN];
	uint8_t score;
	enum alert_state state;
	char id[64];
	char message[512];
	uint64_t bytes_out;
	char extra[ALERT_EXTRA_MAX];	/* the module's own object (a->extra) */
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
	char err[256];		/* the module constructors' error text */
	uint64_t last_tick;	/* mh_tick_to() ticks on from here */
	size_t nseen;
	struct subject seen[MH_MAX_SEEN];	/* mh_visit() */
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
	r->bytes_out = a->bytes_out;
	snprintf(r->extra, sizeof r->extra, "%s", a->extra);
	if (alert_to_json(a, r->json, sizeof r->json) == 0)
		r->json[0] = '\0';
}

/* Rules from text (NULL: none); caps from sensor_config_defaults() (change
 * h->cfg before creating modules). 0 on success. */
static inline int
mh_init(struct mh *h, const char *rules)
{
	struct rules_errors errs = { 0 };
	char err[256];
	struct detect_config dc = { .sensor_name = "t", .max_engaged = 256, .run_id = 0xab, .seed = 3 };

	memset(h, 0, sizeof *h);
	if (rules == NULL)
		rules = "";
	sensor_config_defaults(&h->cfg);
	if (pb_net_init(&h->n, 1024, 256, 1024) != 0)
		return -1;
	if (rules_parse(rules, strlen(rules), "t.rules", NULL, 0, &h->rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
		rules_errors_free(&errs);
		return -1;
	}
	if ((h->dpi = dpi_new(h->n.names, err, sizeof err)) == NULL ||
	    (h->d = detect_new(&dc, h->dpi, mh_on_alert, h, err, sizeof err)) == NULL) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	h->env.cfg = &h->cfg;
	h->env.state_dirfd = -1;
	h->env.hosts = h->n.hosts;
	h->env.dpi = h->dpi;
	h->env.home = h->n.home;
	h->env.names = h->n.names;
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

/* The one module of a test: registers mod (the constructor's result, NULL
 * with h->err filled if it failed) and installs the rules. 0 on success. */
static inline int
mh_start(struct mh *h, const struct detector_ops *ops, void *mod)
{
	if (mh_add(h, ops, mod) != 0) {
		fprintf(stderr, "  %s\n", h->err);
		return -1;
	}
	return mh_rules(h);
}

/* p, already accounted on f (pb_send), to every module's packet hook; only
 * flows with an internal end, as sensor.c does. */
static inline struct flow *
mh_deliver(struct mh *h, struct flow *f, const struct pkt *p)
{
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

/* One packet through accounting and every module's packet hook. */
static inline struct flow *
mh_pkt(struct mh *h, const struct pkt *p)
{
	return mh_deliver(h, pb_send(&h->n, p), p);
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
		pb_name(&h->n, f, server_name);
	host_flow_classified(h->n.hosts, f, now);
	for (int i = 0; i < h->nmods; i++)
		if (h->ops[i]->flow_classified != NULL)
			h->ops[i]->flow_classified(h->mod[i], f, now);
}

/* The end of f (closed, idle, evicted) to every module's flow_end hook. */
static inline void
mh_flow_end(struct mh *h, struct flow *f, int why, uint64_t now)
{
	for (int i = 0; i < h->nmods; i++)
		if (h->ops[i]->flow_end != NULL)
			h->ops[i]->flow_end(h->mod[i], f, why, now);
}

/* The sensor's tick: modules first, then the rules. */
static inline void
mh_tick(struct mh *h, uint64_t since, uint64_t now)
{
	for (int i = 0; i < h->nmods; i++)
		if (h->ops[i]->tick != NULL)
			h->ops[i]->tick(h->mod[i], now);
	detect_tick(h->d, h->n.hosts, since, now);
	h->last_tick = now;
}

/* The next tick, from the last one (h->last_tick) to now. */
static inline void
mh_tick_to(struct mh *h, uint64_t now)
{
	mh_tick(h, h->last_tick, now);
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

/* References held to one name (names.h): by flows, the host tables and the modules. */
static inline uint32_t
mh_name_refs(struct mh *h, const char *name)
{
	uint32_t r = names_intern(h->n.names, name, NAMES_MAX);
	uint32_t n = names_refs(h->n.names, r) - 1;

	names_drop(h->n.names, r);
	return n;
}

/* Distinct names held (names.h), by flows, the host tables and the modules. */
static inline size_t
mh_names(const struct mh *h)
{
	struct names_stats st;

	names_stats(h->n.names, &st);
	return st.names;
}

/* A counter from the first module's stats object ("name":N), or -1 if it is not there. */
static inline long long
mh_stat(struct mh *h, const char *name)
{
	char buf[1024], key[64];
	const char *at;

	snprintf(key, sizeof key, "\"%s\":", name);
	if ((at = strstr(mh_stats(h, 0, buf, sizeof buf), key)) == NULL)
		return -1;
	return strtoll(at + strlen(key), NULL, 10);
}

static inline void
mh_seen(void *ctx, const struct subject *s)
{
	struct mh *h = ctx;

	if (h->nseen < MH_MAX_SEEN)
		h->seen[h->nseen++] = *s;
}

/* The subjects module i offers the rules at now (every one, since 0), into
 * h->seen; how many. */
static inline size_t
mh_visit(struct mh *h, int i, uint64_t now)
{
	h->nseen = 0;
	h->ops[i]->each(h->mod[i], 0, now, mh_seen, h);
	return h->nseen;
}

/* Module i's value of a metric (over window_s, 0: none) for subject s. */
static inline double
mh_value(struct mh *h, int i, const struct subject *s, enum metric_id m, uint32_t window_s,
    uint64_t now)
{
	struct rule_cond c = { .metric = m, .window_s = window_s, .op = RULE_OP_GT };

	return h->ops[i]->value(h->mod[i], s, &c, now);
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

/* Stops the test (a failed check, everything freed) unless call returns 0. */
#define MH_TRY(h, call) do { if ((call) != 0) { CHECK(!#call); mh_free(h); return; } } while (0)
#define MH_INIT(h, rules) MH_TRY(h, mh_init(h, rules))

/*
 * The start of a test of the one module `name` (sensor/name.h: name_ops,
 * name_new): mh_init with the rules, then the changes to (h)->cfg and
 * (h)->env given as expressions (caps, state directory, seed), then the
 * module and its rules. Stops the test if any of it fails.
 */
#define MH_SETUP(h, rules, name, ...) do { \
	int mh_failed_ = mh_init(h, rules); \
	if (!mh_failed_) { \
		__VA_ARGS__; \
		mh_failed_ = mh_start(h, &name##_ops, name##_new(&(h)->env, (h)->err, sizeof (h)->err)); \
	} \
	if (mh_failed_) { CHECK(!"MH_SETUP " #name); mh_free(h); return; } \
} while (0)

#endif
