/*
 * frag: later fragments take the ports of their first fragment, and only
 * of their own datagram.
 */
#include "frag.h"
#include "t.h"

static struct frag_cache fc;

static void
mk(struct pkt *p, const char *src, const char *dst, uint32_t id, int frag, uint16_t sp, uint16_t dp,
    uint64_t ts)
{
	memset(p, 0, sizeof *p);
	addr_parse(&p->src, src);
	addr_parse(&p->dst, dst);
	p->l4_proto = 17;
	p->frag = (uint8_t)frag;
	p->frag_id = id;
	p->sport = sp;
	p->dport = dp;
	p->ts_us = ts;
}

static void
test_later_fragment_gets_first_fragment_ports(void)
{
	struct pkt p;

	frag_init(&fc, 1);
	mk(&p, "10.0.0.1", "198.51.100.1", 77, PKT_FRAG_FIRST, 5353, 53, 1000);
	frag_track(&fc, &p);
	mk(&p, "10.0.0.1", "198.51.100.1", 77, PKT_FRAG_LATER, 0, 0, 2000);
	frag_track(&fc, &p);
	CHECK_EQ_U(p.sport, 5353);
	CHECK_EQ_U(p.dport, 53);
	CHECK_EQ_U(fc.matched, 1);
}

static void
test_fragment_of_another_datagram_stays_unmatched(void)
{
	struct pkt p;

	frag_init(&fc, 1);
	mk(&p, "10.0.0.1", "198.51.100.1", 77, PKT_FRAG_FIRST, 5353, 53, 1000);
	frag_track(&fc, &p);
	mk(&p, "10.0.0.1", "198.51.100.1", 78, PKT_FRAG_LATER, 0, 0, 2000);
	frag_track(&fc, &p);
	CHECK_EQ_U(p.sport, 0);
	mk(&p, "10.0.0.2", "198.51.100.1", 77, PKT_FRAG_LATER, 0, 0, 2000);
	frag_track(&fc, &p);
	CHECK_EQ_U(p.sport, 0);
	CHECK_EQ_U(fc.unmatched, 2);
}

static void
test_stale_first_fragment_is_not_used(void)
{
	struct pkt p;

	frag_init(&fc, 1);
	mk(&p, "10.0.0.1", "198.51.100.1", 5, PKT_FRAG_FIRST, 1000, 2000, 0);
	frag_track(&fc, &p);
	mk(&p, "10.0.0.1", "198.51.100.1", 5, PKT_FRAG_LATER, 0, 0, 61u * 1000000u);
	frag_track(&fc, &p);
	CHECK_EQ_U(p.sport, 0);
}

static void
test_unfragmented_packets_are_untouched(void)
{
	struct pkt p;

	frag_init(&fc, 1);
	mk(&p, "10.0.0.1", "198.51.100.1", 5, PKT_FRAG_NONE, 1, 2, 0);
	frag_track(&fc, &p);
	CHECK_EQ_U(p.sport, 1);
	CHECK_EQ_U(fc.matched + fc.unmatched, 0);
}

T_MAIN("frag", T(test_later_fragment_gets_first_fragment_ports),
    T(test_fragment_of_another_datagram_stays_unmatched), T(test_stale_first_fragment_is_not_used),
    T(test_unfragmented_packets_are_untouched))
