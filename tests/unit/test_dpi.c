/*
 * dpi: nDPI's lifecycle on real flows from the sample captures. Detection
 * ends once, names the application and server, and frees nDPI's per-flow
 * state; a flow that ends undetected gives up cleanly.
 */
#include <netinet/in.h>

#include "capture.h"
#include "dpi.h"
#include "flow.h"
#include "names.h"
#include "t.h"

struct run {
	struct dpi *d;
	struct flow_table *ft;
	struct names *names;
	int ended_pending;
};

static void
on_end(void *ctx, struct flow *f, enum flow_end why)
{
	struct run *r = ctx;

	(void)why;
	if (f->dpi_state == DPI_PENDING)
		r->ended_pending++;
	dpi_flow_end(r->d, f);
	CHECK(f->dpi == NULL);
}

/* Replays a capture through decode, flows and dpi; returns the flow to addr:port. */
static struct flow *
replay(struct run *r, const char *path, const char *server, uint16_t port)
{
	char err[256];
	struct capture_config cc = { .file = path };
	struct capture *c = capture_open(&cc, err, sizeof err);
	struct capture_pkt cp;
	struct ip_addr want;
	struct flow *found = NULL;

	CHECK(c != NULL);
	if (c == NULL)
		return NULL;
	addr_parse(&want, server);
	while (capture_next(c, &cp) == CAPTURE_PACKET) {
		struct pkt p;
		int dir;
		if (decode_packet(capture_dlt(c), cp.data, cp.caplen, cp.wirelen, cp.ts_us, &p) != DECODE_OK)
			continue;
		struct flow *f = flow_table_get(r->ft, &p, &dir);
		flow_account(r->ft, f, &p, dir);
		dpi_packet(r->d, f, &p);
		uint16_t rp;
		if (addr_eq(flow_responder(f, &rp), &want) && rp == port)
			found = f;
	}
	capture_close(c);
	return found;
}

static void
setup(struct run *r)
{
	char err[256];
	struct flow_config fc = { .capacity = 4096, .timeout_s = { 300, 10, 120, 60 }, .seed = 1 };

	memset(r, 0, sizeof *r);
	r->names = fc.names = names_new(4096, 1, err, sizeof err);
	r->d = dpi_new(r->names, err, sizeof err);
	r->ft = flow_table_new(&fc, on_end, r, err, sizeof err);
	CHECK(r->names != NULL && r->d != NULL && r->ft != NULL);
}

static void
teardown(struct run *r)
{
	flow_table_free(r->ft);
	struct dpi_stats st;
	dpi_get_stats(r->d, &st);
	CHECK_EQ_U(st.active, 0);	/* every nDPI state was freed */
	dpi_free(r->d);
	struct names_stats ns;
	names_stats(r->names, &ns);
	CHECK_EQ_U(ns.names, 0);	/* and every flow's server name let go */
	names_free(r->names);
}

static void
test_tls_upload_is_named_by_sni_and_state_freed(void)
{
	struct run r;
	char name[64];

	setup(&r);
	struct flow *f = replay(&r, "pcaps/cloud-upload.pcap", "198.51.100.80", 443);
	CHECK(f != NULL);
	if (f != NULL) {
		CHECK(f->dpi_state == DPI_DONE);
		CHECK(f->dpi == NULL);
		CHECK_EQ_S(names_str(r.names, f->name), "block.dropbox.com");
		CHECK_EQ_S(dpi_app_name(r.d, f, name, sizeof name), "TLS.Dropbox");
		CHECK_EQ_S(dpi_category_name(r.d, f->app_category), "Cloud");
		/* Detection needs only the first packets of a 30 MB flow. */
		CHECK(f->dpi_packets <= 8);
	}
	teardown(&r);
}

static void
test_ssh_on_a_non_standard_port_carries_the_risk(void)
{
	struct run r;
	char name[64], risks[512];

	setup(&r);
	struct flow *f = replay(&r, "pcaps/scp-nonstd-port.pcap", "203.0.113.22", 2222);
	CHECK(f != NULL);
	if (f != NULL) {
		CHECK_EQ_S(dpi_app_name(r.d, f, name, sizeof name), "SSH");
		dpi_risk_names(f->app_risk, risks, sizeof risks);
		CHECK(strstr(risks, "Non Standard Port") != NULL);
	}
	teardown(&r);
}

static void
test_tcp_handshake_allocates_no_ndpi_state(void)
{
	char err[256];
	struct dpi *d = dpi_new(NULL, err, sizeof err);
	struct flow f;
	struct pkt p;
	uint8_t syn[40] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, IPPROTO_TCP };
	struct dpi_stats st;

	CHECK(d != NULL);
	memset(&f, 0, sizeof f);
	memset(&p, 0, sizeof p);
	f.key.proto = IPPROTO_TCP;
	p.l4_proto = IPPROTO_TCP;
	p.l3 = syn;
	p.l3_caplen = sizeof syn;
	p.ip_len = sizeof syn;
	for (int i = 0; i < 3; i++)	/* SYN, SYN-ACK, ACK: no payload */
		CHECK_EQ_U(dpi_packet(d, &f, &p), 0);
	CHECK(f.dpi == NULL);
	dpi_get_stats(d, &st);
	CHECK_EQ_U(st.flows_inspected, 0);
	CHECK_EQ_U(st.packets_inspected, 0);
	dpi_flow_end(d, &f);	/* a flow that never carried payload ends cleanly */
	CHECK(f.dpi_state == DPI_GAVE_UP);
	dpi_free(d);
}

static void
test_names_resolve_both_ways(void)
{
	char err[256];
	struct dpi *d = dpi_new(NULL, err, sizeof err);
	char eve[16];

	CHECK(d != NULL);
	int id = dpi_proto_lookup(d, "Dropbox");
	CHECK(id > 0);
	CHECK_EQ_S(dpi_proto_name(d, (uint16_t)id), "Dropbox");
	CHECK(dpi_proto_lookup(d, "NoSuchApp") == -1);
	CHECK(dpi_category_lookup(d, "Cloud") >= 0);
	int tls = dpi_proto_lookup(d, "TLS");
	CHECK_EQ_S(dpi_eve_proto(d, (uint16_t)tls, (uint16_t)id, eve, sizeof eve), "tls");
	dpi_free(d);
}

T_MAIN("dpi", T(test_tls_upload_is_named_by_sni_and_state_freed),
    T(test_ssh_on_a_non_standard_port_carries_the_risk),
    T(test_tcp_handshake_allocates_no_ndpi_state), T(test_names_resolve_both_ways))
