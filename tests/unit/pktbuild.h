/*
 * pktbuild.h - hand-filled struct pkt for the flow, host and detect tests.
 *
 * These modules only read the decoded fields (addresses, ports, protocol,
 * flags, lengths, time), so the tests fill a struct pkt directly instead of
 * building frames: each test then says exactly what the decoder would have
 * handed over. Everything is static inline so a test that uses only part
 * of it still compiles warning-free.
 */
#ifndef OUTFLOW_PKTBUILD_H
#define OUTFLOW_PKTBUILD_H

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "decode.h"
#include "flow.h"
#include "host.h"
#include "names.h"
#include "netset.h"

#define PB_FIN	0x01
#define PB_SYN	0x02
#define PB_RST	0x04
#define PB_PSH	0x08
#define PB_ACK	0x10

#define PB_SEC	1000000ull		/* one second in us */
#define PB_MIN	(60ull * PB_SEC)
#define PB_HOUR	(60ull * PB_MIN)
/* 2026-03-02T09:00:00Z: a minute- and hour-aligned epoch for every test. */
#define PB_T0	(1772442000ull * PB_SEC)

/* The address of text; aborts on a typo so a test never runs on zeroes. */
static inline struct ip_addr
pb_ip(const char *s)
{
	struct ip_addr a;

	if (addr_parse(&a, s) != 0)
		abort();
	return a;
}

/* A TCP packet src:sport -> dst:dport with flags and payload bytes. */
static inline struct pkt
pb_tcp(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t flags,
    uint32_t payload, uint64_t ts_us)
{
	struct pkt p;

	memset(&p, 0, sizeof p);
	p.ts_us = ts_us;
	p.src = pb_ip(src);
	p.dst = pb_ip(dst);
	p.ip_version = addr_is_v4(&p.src) ? 4 : 6;
	p.l4_proto = IPPROTO_TCP;
	p.sport = sport;
	p.dport = dport;
	p.tcp_flags = flags;
	p.payload_len = payload;
	p.l4_len = payload + 20;
	p.ip_len = p.l4_len + (p.ip_version == 4 ? 20 : 40);
	p.wirelen = p.ip_len + 14;
	p.caplen = p.wirelen < 96 ? p.wirelen : 96;	/* sliced, as captures often are */
	return p;
}

static inline struct pkt
pb_udp(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint32_t payload,
    uint64_t ts_us)
{
	struct pkt p = pb_tcp(src, sport, dst, dport, 0, payload, ts_us);

	p.l4_proto = IPPROTO_UDP;
	p.l4_len = payload + 8;
	p.ip_len = p.l4_len + (p.ip_version == 4 ? 20 : 40);
	p.wirelen = p.ip_len + 14;
	p.caplen = p.wirelen < 96 ? p.wirelen : 96;
	return p;
}

/*
 * The sensor's packet path without capture and DPI: flow table, home-net
 * membership of a new flow's ends, host accounting (as sensor.c does).
 */
struct pb_net {
	struct flow_table *flows;
	struct host_tables *hosts;
	struct netset *home;
	struct names *names;	/* the hosts' and the modules' (detector_env) */
};

static inline void
pb_flow_end(void *ctx, struct flow *f, enum flow_end why)
{
	(void)ctx;
	(void)f;
	(void)why;
}

/* Home net 10.0.0.0/8 and fd00::/8; 0 on success. */
static inline int
pb_net_init(struct pb_net *n, size_t max_flows, size_t max_hosts, size_t max_dests)
{
	char err[256];
	struct flow_config fc = {
		.capacity = max_flows,
		.timeout_s = { 300, 10, 60, 30 },
		.seed = 1,
	};
	struct host_config hc = { .max_hosts = max_hosts, .max_dests = max_dests, .seed = 2 };

	memset(n, 0, sizeof *n);
	/* Room for every reference the tests' tables can hold (they are small). */
	if ((hc.names = fc.names = n->names = names_new(1 << 16, 3, err, sizeof err)) == NULL)
		return -1;
	n->home = netset_new();
	if (n->home == NULL || netset_add_list(n->home, "10.0.0.0/8, fd00::/8", NULL, err, sizeof err) != 0)
		return -1;
	n->flows = flow_table_new(&fc, pb_flow_end, NULL, err, sizeof err);
	n->hosts = host_tables_new(&hc, err, sizeof err);
	return n->flows && n->hosts ? 0 : -1;
}

/* f's server name, as dpi.c sets it (cut to FLOW_NAME_MAX - 1 bytes). */
static inline void
pb_name(struct pb_net *n, struct flow *f, const char *name)
{
	names_set(n->names, &f->name, name, FLOW_NAME_MAX - 1);
}

static inline void
pb_net_free(struct pb_net *n)
{
	flow_table_free(n->flows);
	host_tables_free(n->hosts);
	names_free(n->names);
	netset_free(n->home);
}

/* One packet through flow and host accounting; returns its flow. */
static inline struct flow *
pb_send(struct pb_net *n, const struct pkt *p)
{
	int dir;
	struct flow *f = flow_table_get(n->flows, p, &dir);

	if (f->pkts[0] + f->pkts[1] == 0) {
		f->init_internal = (uint8_t)netset_contains(n->home, flow_initiator(f, NULL));
		f->resp_internal = (uint8_t)netset_contains(n->home, flow_responder(f, NULL));
	}
	flow_account(n->flows, f, p, dir);
	if (f->init_internal || f->resp_internal)
		host_account(n->hosts, f, dir, p);
	return f;
}

#endif
