/*
 * dpi - application detection with nDPI; the only module that touches
 * nDPI's detection API.
 *
 * Follows ndpiReader's lifecycle: packets of a flow go to nDPI until it
 * names the application (and has nothing more to dissect) or a packet budget
 * is spent; then detection ends once, the result (application, category,
 * server name, risks) is copied into the flow, and nDPI's per-flow state is
 * freed, so a long flow costs only struct flow.
 */
#ifndef OUTFLOW_DPI_H
#define OUTFLOW_DPI_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"

enum dpi_state {
	DPI_PENDING = 0,	/* nDPI still inspecting (or not started) */
	DPI_DONE,		/* classified */
	DPI_GAVE_UP		/* budget spent; result is nDPI's guess */
};

struct dpi_stats {
	uint64_t flows_inspected, flows_detected, flows_gave_up, packets_inspected;
	uint64_t active;	/* flows holding nDPI state now */
};

struct dpi;
struct names;

/*
 * Loads nDPI with every protocol enabled. A flow's server name goes into
 * names (lent: the flow table lets it go); with NULL names, flows keep none
 * (rule checking). Returns NULL with a message in err.
 */
struct dpi *dpi_new(struct names *names, char *err, size_t errlen);
void dpi_free(struct dpi *d);

/*
 * Feeds one packet of flow f to nDPI if its detection is still pending.
 * Returns 1 when this packet ended detection (the flow's app fields are
 * now final), else 0.
 */
int dpi_packet(struct dpi *d, struct flow *f, const struct pkt *p);

/* Ends detection of a flow that is going away (gives up, frees nDPI state). */
void dpi_flow_end(struct dpi *d, struct flow *f);

/* "TLS.Dropbox", "DNS", "Unknown": master.app as ndpiReader prints it. */
const char *dpi_app_name(const struct dpi *d, const struct flow *f, char *buf, size_t len);
/* The same for a (master, app) pair kept elsewhere (a destination entry). */
const char *dpi_ids_name(const struct dpi *d, uint16_t master, uint16_t app, char *buf, size_t len);
/* EVE-style app_proto: the lower-case master protocol ("tls"), "" if unknown. */
const char *dpi_eve_proto(const struct dpi *d, uint16_t master, uint16_t app, char *buf, size_t len);
/* nDPI's name of one protocol id. */
const char *dpi_proto_name(const struct dpi *d, uint16_t id);
/* nDPI's name of a category ("CloudStorage", "Web", ...). */
const char *dpi_category_name(const struct dpi *d, uint16_t cat);
/* nDPI protocol id of a name (for rules: app in (Dropbox)); -1 if unknown. */
int dpi_proto_lookup(const struct dpi *d, const char *name);
/* nDPI category id of a name; -1 if unknown. */
int dpi_category_lookup(const struct dpi *d, const char *name);
/*
 * nDPI risk bit of a name ("Known Protocol on Non Standard Port"), compared
 * without case and with ' ', '_' and '-' alike (so rules may write
 * Known_Protocol_on_Non_Standard_Port); -1 if nDPI knows no such risk.
 */
int dpi_risk_lookup(const char *name);
/* Writes the names of the risks in mask, comma-separated, into buf. */
const char *dpi_risk_names(uint64_t mask, char *buf, size_t len);

void dpi_get_stats(const struct dpi *d, struct dpi_stats *out);

/*
 * nDPI's double exponential smoothing (ndpi_des_*), for baselines, kept as
 * an opaque, fixed-size, pointer-free state (so it can be stored in a table
 * entry and written to a state file as it is). alpha: level smoothing,
 * beta: trend smoothing, significance: of the confidence band (0.05: 95 %).
 */
#define DPI_DES_SIZE 128
struct dpi_des {
	_Alignas(8) unsigned char st[DPI_DES_SIZE];
};
void dpi_des_init(struct dpi_des *s, double alpha, double beta, float significance);
/*
 * Learns one value; *next is nDPI's forecast for the next value (level +
 * trend) and *band its confidence band (+/-). Returns 0 while nDPI is
 * still learning (the first value: no band yet), else 1.
 */
int dpi_des_learn(struct dpi_des *s, uint64_t value, double *next, double *band);

#endif
