/*
 * dpi - see dpi.h.
 */
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include "dpi.h"
#include "names.h"

/* Packet budgets before giving up, as ndpiReader's defaults (reader_util.c). */
#define DPI_TCP_BUDGET	80
#define DPI_UDP_BUDGET	24

struct dpi {
	struct ndpi_detection_module_struct *mod;
	struct names *names;
	struct dpi_stats st;
};

struct dpi *
dpi_new(struct names *names, char *err, size_t errlen)
{
	struct dpi *d = calloc(1, sizeof *d);
	NDPI_PROTOCOL_BITMASK all;

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->mod = ndpi_init_detection_module(ndpi_no_prefs);
	if (d->mod == NULL) {
		snprintf(err, errlen, "nDPI initialisation failed");
		free(d);
		return NULL;
	}
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(d->mod, &all);
	ndpi_finalize_initialization(d->mod);
	d->names = names;
	return d;
}

void
dpi_free(struct dpi *d)
{
	if (d == NULL)
		return;
	ndpi_exit_detection_module(d->mod);
	free(d);
}

static void
dpi_copy_result(struct dpi *d, struct flow *f, ndpi_protocol proto)
{
	struct ndpi_flow_struct *nf = f->dpi;

	f->app_master = proto.master_protocol;
	f->app_proto = proto.app_protocol;
	f->app_category = (uint16_t)proto.category;
	if (f->app_category == 0)
		f->app_category = (uint16_t)ndpi_get_proto_category(d->mod, proto);
	f->app_risk = nf->risk;
	if (nf->host_server_name[0] != '\0' && d->names != NULL)
		names_set(d->names, &f->name, nf->host_server_name, FLOW_NAME_MAX - 1);
}

static void
dpi_release(struct dpi *d, struct flow *f)
{
	ndpi_free_flow(f->dpi);
	f->dpi = NULL;
	d->st.active--;
}

static void
dpi_give_up(struct dpi *d, struct flow *f)
{
	uint8_t guessed = 0;
	ndpi_protocol proto = ndpi_detection_giveup(d->mod, f->dpi, 1, &guessed);

	dpi_copy_result(d, f, proto);
	f->dpi_state = DPI_GAVE_UP;
	d->st.flows_gave_up++;
	dpi_release(d, f);
}

int
dpi_packet(struct dpi *d, struct flow *f, const struct pkt *p)
{
	ndpi_protocol proto;
	uint16_t budget;

	if (f->dpi_state != DPI_PENDING)
		return 0;
	/* Only whole datagrams or first fragments carry what nDPI parses. */
	if (p->frag == PKT_FRAG_LATER || p->l3_caplen == 0)
		return 0;
	/*
	 * A TCP handshake carries nothing nDPI classifies on: start its state
	 * with the first packet that has payload. A SYN flood then costs no
	 * nDPI memory at all, and every flow three fewer calls into nDPI.
	 */
	if (f->dpi == NULL && f->key.proto == IPPROTO_TCP && p->payload_len == 0)
		return 0;
	if (f->dpi == NULL) {
		f->dpi = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
		if (f->dpi == NULL) {
			/* Out of memory: account the flow without an application. */
			f->dpi_state = DPI_GAVE_UP;
			return 1;
		}
		memset(f->dpi, 0, SIZEOF_FLOW_STRUCT);
		d->st.flows_inspected++;
		d->st.active++;
	}
	d->st.packets_inspected++;
	f->dpi_packets++;
	proto = ndpi_detection_process_packet(d->mod, f->dpi, p->l3,
	    p->l3_caplen > 0xffff ? 0xffff : (unsigned short)p->l3_caplen, p->ts_us / 1000);
	/*
	 * Done when the application is known and either nDPI has nothing left
	 * to dissect or it already has the server name: certificates and
	 * response details are not worth keeping ~4 KB of nDPI state per flow
	 * for (the server name, application and category are what we use).
	 */
	if (proto.app_protocol != NDPI_PROTOCOL_UNKNOWN &&
	    (((struct ndpi_flow_struct *)f->dpi)->host_server_name[0] != '\0' ||
	    !ndpi_extra_dissection_possible(d->mod, f->dpi))) {
		dpi_copy_result(d, f, proto);
		f->dpi_state = DPI_DONE;
		d->st.flows_detected++;
		dpi_release(d, f);
		return 1;
	}
	budget = f->key.proto == IPPROTO_UDP ? DPI_UDP_BUDGET : DPI_TCP_BUDGET;
	if (f->dpi_packets >= budget) {
		if (proto.app_protocol != NDPI_PROTOCOL_UNKNOWN) {
			dpi_copy_result(d, f, proto);
			f->dpi_state = DPI_DONE;
			d->st.flows_detected++;
			dpi_release(d, f);
		} else {
			dpi_give_up(d, f);
		}
		return 1;
	}
	return 0;
}

void
dpi_flow_end(struct dpi *d, struct flow *f)
{
	if (f->dpi_state != DPI_PENDING)
		return;
	if (f->dpi == NULL) {
		f->dpi_state = DPI_GAVE_UP;
		return;
	}
	dpi_give_up(d, f);
}

const char *
dpi_ids_name(const struct dpi *d, uint16_t master, uint16_t app, char *buf, size_t len)
{
	ndpi_protocol proto = { master, app, 0 };

	if (master == 0 && app == 0) {
		snprintf(buf, len, "Unknown");
		return buf;
	}
	return ndpi_protocol2name(d->mod, proto, buf, (u_int)len);
}

const char *
dpi_app_name(const struct dpi *d, const struct flow *f, char *buf, size_t len)
{
	return dpi_ids_name(d, f->app_master, f->app_proto, buf, len);
}

const char *
dpi_eve_proto(const struct dpi *d, uint16_t master, uint16_t app, char *buf, size_t len)
{
	uint16_t id = master ? master : app;
	size_t i = 0;

	if (len == 0)
		return buf;
	if (id != 0) {
		const char *n = ndpi_get_proto_name(d->mod, id);
		for (; n && n[i] && i + 1 < len; i++)
			buf[i] = (char)tolower((unsigned char)n[i]);
	}
	buf[i] = '\0';
	return buf;
}

const char *
dpi_proto_name(const struct dpi *d, uint16_t id)
{
	return ndpi_get_proto_name(d->mod, id);
}

const char *
dpi_category_name(const struct dpi *d, uint16_t cat)
{
	return ndpi_category_get_name(d->mod, (ndpi_protocol_category_t)cat);
}

int
dpi_proto_lookup(const struct dpi *d, const char *name)
{
	int id = ndpi_get_protocol_id(d->mod, (char *)name);
	return id < 0 ? -1 : id;
}

int
dpi_category_lookup(const struct dpi *d, const char *name)
{
	int id = ndpi_get_category_id(d->mod, (char *)name);
	return id < 0 ? -1 : id;
}

static int
risk_char(char c)
{
	return c == ' ' || c == '-' ? '_' : tolower((unsigned char)c);
}

int
dpi_risk_lookup(const char *name)
{
	for (int r = 1; r < NDPI_MAX_RISK && r < 64; r++) {
		const char *s = ndpi_risk2str((ndpi_risk_enum)r), *n = name;
		if (s == NULL)
			continue;
		while (*s != '\0' && *n != '\0' && risk_char(*s) == risk_char(*n))
			s++, n++;
		if (*s == '\0' && *n == '\0')
			return r;
	}
	return -1;
}

const char *
dpi_risk_names(uint64_t mask, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (int r = 1; r < NDPI_MAX_RISK && r < 64; r++) {
		if (!(mask & (1ULL << r)))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "",
		    ndpi_risk2str((ndpi_risk_enum)r));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

_Static_assert(sizeof(struct ndpi_des_struct) <= DPI_DES_SIZE, "DPI_DES_SIZE too small");

void
dpi_des_init(struct dpi_des *s, double alpha, double beta, float significance)
{
	memset(s, 0, sizeof *s);
	ndpi_des_init((struct ndpi_des_struct *)(void *)s->st, alpha, beta, significance);
}

int
dpi_des_learn(struct dpi_des *s, uint64_t value, double *next, double *band)
{
	struct ndpi_des_struct *des = (struct ndpi_des_struct *)(void *)s->st;
	double level;
	int rc = ndpi_des_add_value(des, value, &level, band);

	/* nDPI's "forecast" is the level after this value; the next one adds the trend. */
	*next = des->last_forecast + des->last_trend;
	return rc;
}

void
dpi_get_stats(const struct dpi *d, struct dpi_stats *out)
{
	*out = d->st;
}
