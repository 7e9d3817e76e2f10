/*
 * fanout: the PACKET_FANOUT_CBPF steering program, run without a socket.
 *
 * A small classic-BPF interpreter below runs the generated program the way
 * the kernel's fanout demux does: on an skb whose protocol is known and
 * whose network header is reachable through SKF_NET_OFF. It also checks
 * what the kernel's checker would refuse (a jump out of the program, a
 * scratch slot out of range, no final return, an opcode it does not know),
 * and, like the kernel, a load out of the packet returns 0. libpcap's
 * bpf_filter() is no help here: it knows neither SKF_NET_OFF nor the
 * SKF_AD_PROTOCOL extension.
 */
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <stdlib.h>

#include "addr.h"
#include "fanout.h"
#include "netset.h"
#include "t.h"

/* What the program sees: skb->protocol and the bytes from the network header on. */
struct skb {
	uint16_t protocol;
	const uint8_t *net;
	size_t len;
};

#define VM_BAD 0xdeadbeefu	/* a program the kernel would refuse */

static int
vm_load(const struct skb *s, int32_t off, int size, uint32_t *out)
{
	if (off == SKF_AD_OFF + SKF_AD_PROTOCOL && size == 4) {
		*out = s->protocol;
		return 0;
	}
	if (off < SKF_NET_OFF || off >= SKF_NET_OFF + 0x80000)
		return -1;	/* only network-header loads are expected */
	off -= SKF_NET_OFF;
	if ((size_t)off + (size_t)size > s->len)
		return -1;
	uint32_t v = 0;
	for (int i = 0; i < size; i++)
		v = v << 8 | s->net[off + i];
	*out = v;
	return 0;
}

static uint32_t
vm_alu(uint16_t op, uint32_t a, uint32_t v, int *bad)
{
	switch (op) {
	case BPF_ADD: return a + v;
	case BPF_SUB: return a - v;
	case BPF_MUL: return a * v;
	case BPF_DIV: return v ? a / v : 0;
	case BPF_MOD: return v ? a % v : 0;
	case BPF_AND: return a & v;
	case BPF_OR: return a | v;
	case BPF_XOR: return a ^ v;
	case BPF_LSH: return v < 32 ? a << v : 0;
	case BPF_RSH: return v < 32 ? a >> v : 0;
	case BPF_NEG: return -a;
	default: *bad = 1; return 0;
	}
}

static int
vm_jump(uint16_t op, uint32_t a, uint32_t v, int *bad)
{
	switch (op) {
	case BPF_JEQ: return a == v;
	case BPF_JGT: return a > v;
	case BPF_JGE: return a >= v;
	case BPF_JSET: return (a & v) != 0;
	default: *bad = 1; return 0;
	}
}

static uint32_t
vm_run(const struct sock_filter *p, int n, const struct skb *s)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 }, v;
	int bad = 0;

	if (n <= 0 || n > BPF_MAXINSNS || BPF_CLASS(p[n - 1].code) != BPF_RET)
		return VM_BAD;
	for (int pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &p[pc];
		uint16_t c = i->code;

		switch (BPF_CLASS(c)) {
		case BPF_LD:
		case BPF_LDX: {
			int size = BPF_SIZE(c) == BPF_W ? 4 : BPF_SIZE(c) == BPF_H ? 2 : 1;
			uint32_t *r = BPF_CLASS(c) == BPF_LD ? &A : &X;
			if (BPF_MODE(c) == BPF_IMM) {
				*r = i->k;
			} else if (BPF_MODE(c) == BPF_MEM) {
				if (i->k >= BPF_MEMWORDS)
					return VM_BAD;
				*r = M[i->k];
			} else if (BPF_CLASS(c) == BPF_LD && (BPF_MODE(c) == BPF_ABS || BPF_MODE(c) == BPF_IND)) {
				int32_t off = (int32_t)(i->k + (BPF_MODE(c) == BPF_IND ? X : 0));
				if (vm_load(s, off, size, &v) != 0)
					return 0;	/* the kernel's answer to an out-of-range load */
				A = v;
			} else {
				return VM_BAD;
			}
			break;
		}
		case BPF_ST:
		case BPF_STX:
			if (i->k >= BPF_MEMWORDS)
				return VM_BAD;
			M[i->k] = BPF_CLASS(c) == BPF_ST ? A : X;
			break;
		case BPF_ALU:
			A = vm_alu(BPF_OP(c), A, BPF_SRC(c) == BPF_X ? X : i->k, &bad);
			break;
		case BPF_JMP:
			if (BPF_OP(c) == BPF_JA) {
				if (i->k >= (uint32_t)(n - pc - 1))
					return VM_BAD;
				pc += (int)i->k;
				break;
			}
			if (pc + 1 + i->jt >= n || pc + 1 + i->jf >= n)
				return VM_BAD;
			pc += vm_jump(BPF_OP(c), A, BPF_SRC(c) == BPF_X ? X : i->k, &bad) ? i->jt : i->jf;
			break;
		case BPF_RET:
			return BPF_RVAL(c) == BPF_A ? A : i->k;
		case BPF_MISC:
			if (BPF_MISCOP(c) == BPF_TAX)
				X = A;
			else
				A = X;
			break;
		default:
			return VM_BAD;
		}
		if (bad)
			return VM_BAD;
	}
	return VM_BAD;	/* fell off the end */
}

/* ---- packets ------------------------------------------------------------- */

struct frame {
	uint8_t b[128];
	size_t len;
	uint16_t protocol;
};

static uint32_t
v4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return ntohl(a.s_addr);
}

/* IPv4 (20-byte header, or ihl words) + 8 bytes of L4 header with the ports. */
static struct frame
ipv4(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct frame f = { .len = 28, .protocol = ETH_P_IP };
	uint32_t s = v4(src), d = v4(dst);

	f.b[0] = 0x45;
	f.b[9] = proto;
	for (int i = 0; i < 4; i++) {
		f.b[12 + i] = (uint8_t)(s >> (24 - 8 * i));
		f.b[16 + i] = (uint8_t)(d >> (24 - 8 * i));
	}
	f.b[20] = (uint8_t)(sport >> 8);
	f.b[21] = (uint8_t)sport;
	f.b[22] = (uint8_t)(dport >> 8);
	f.b[23] = (uint8_t)dport;
	return f;
}

/* The tag left in place: skb->protocol 802.1Q, the network header at the TCI. */
static struct frame
vlan(struct frame in, uint16_t tpid)
{
	struct frame f = { .len = in.len + 4, .protocol = tpid };

	f.b[0] = 0x00;
	f.b[1] = 0x64;	/* VLAN 100 */
	f.b[2] = (uint8_t)(in.protocol >> 8);
	f.b[3] = (uint8_t)in.protocol;
	memcpy(f.b + 4, in.b, in.len);
	return f;
}

static struct sock_filter prog[FANOUT_PROG_MAX];
static int nprog;

static void
build(const char *home)
{
	char err[256] = "";
	struct netset *ns = netset_new();

	CHECK(ns != NULL && netset_add_list(ns, home, NULL, err, sizeof err) == 0);
	nprog = fanout_build(ns, prog, FANOUT_PROG_MAX, err, sizeof err);
	if (nprog < 0)
		fprintf(stderr, "  fanout_build: %s\n", err);
	CHECK(nprog > 0);
	netset_free(ns);
}

static uint32_t
run(struct frame f)
{
	struct skb s = { f.protocol, f.b, f.len };
	return vm_run(prog, nprog, &s);
}

#define HOME "10.0.0.0/8,192.168.1.0/24,fd00::/8"

/* ---- tests --------------------------------------------------------------- */

static void
test_hash_is_murmur3_fmix32(void)
{
	CHECK_EQ_U(fanout_hash_v4(1), 0x514e28b7u);	/* the published fmix32(1) */
	CHECK_EQ_U(fanout_hash_v4(0x0a010203u), 0x7c45d348u);
}

static void
test_internal_source_steers_by_source(void)
{
	build(HOME);
	CHECK_EQ_U(run(ipv4("10.1.2.3", "8.8.8.8", IPPROTO_TCP, 40000, 443)), fanout_hash_v4(v4("10.1.2.3")));
	CHECK_EQ_U(run(ipv4("192.168.1.200", "1.1.1.1", IPPROTO_UDP, 5353, 53)),
	    fanout_hash_v4(v4("192.168.1.200")));
	CHECK_EQ_U(run(ipv4("10.255.255.255", "8.8.8.8", IPPROTO_ICMP, 0, 0)),
	    fanout_hash_v4(v4("10.255.255.255")));
}

static void
test_internal_destination_steers_by_destination(void)
{
	build(HOME);
	CHECK_EQ_U(run(ipv4("8.8.8.8", "10.1.2.3", IPPROTO_TCP, 443, 40000)), fanout_hash_v4(v4("10.1.2.3")));
	/* Just outside 192.168.1.0/24: the other end wins. */
	CHECK_EQ_U(run(ipv4("192.168.2.1", "10.9.9.9", IPPROTO_TCP, 1, 2)), fanout_hash_v4(v4("10.9.9.9")));
	CHECK_EQ_U(run(ipv4("11.0.0.1", "192.168.1.1", IPPROTO_TCP, 1, 2)), fanout_hash_v4(v4("192.168.1.1")));
}

static void
test_both_directions_of_an_external_conversation_meet(void)
{
	build(HOME);
	uint32_t out = run(ipv4("10.20.1.23", "203.0.113.66", IPPROTO_TCP, 51000, 443));
	uint32_t in = run(ipv4("203.0.113.66", "10.20.1.23", IPPROTO_TCP, 443, 51000));
	CHECK_EQ_U(out, in);
	CHECK_EQ_U(out, fanout_hash_v4(v4("10.20.1.23")));
}

static void
test_both_internal_steers_by_the_client_port_end_both_ways(void)
{
	build(HOME);
	uint32_t client = fanout_hash_v4(v4("10.2.2.2"));
	/* The file server has the lower address; the pulling client's ephemeral port decides. */
	CHECK_EQ_U(run(ipv4("10.2.2.2", "10.1.1.1", IPPROTO_TCP, 50000, 445)), client);
	CHECK_EQ_U(run(ipv4("10.1.1.1", "10.2.2.2", IPPROTO_TCP, 445, 50000)), client);
	CHECK_EQ_U(run(ipv4("10.1.1.1", "192.168.1.5", IPPROTO_UDP, 33000, 53)), fanout_hash_v4(v4("10.1.1.1")));
	CHECK_EQ_U(run(ipv4("192.168.1.5", "10.1.1.1", IPPROTO_UDP, 53, 33000)), fanout_hash_v4(v4("10.1.1.1")));
}

static void
test_both_internal_without_ports_steers_by_the_lower_address(void)
{
	build(HOME);
	uint32_t low = fanout_hash_v4(v4("10.1.1.1"));
	CHECK_EQ_U(run(ipv4("10.2.2.2", "10.1.1.1", IPPROTO_ICMP, 0, 0)), low);
	CHECK_EQ_U(run(ipv4("10.1.1.1", "10.2.2.2", IPPROTO_ICMP, 0, 0)), low);
	CHECK_EQ_U(run(ipv4("10.2.2.2", "10.1.1.1", IPPROTO_TCP, 7000, 7000)), low);	/* a tie */
	struct frame frag = ipv4("10.2.2.2", "10.1.1.1", IPPROTO_UDP, 50000, 53);
	frag.b[6] = 0x00;
	frag.b[7] = 0xb9;	/* offset 185 * 8: a later fragment, no ports in it */
	CHECK_EQ_U(run(frag), low);
}

static void
test_both_internal_honours_the_ip_header_length(void)
{
	build(HOME);
	/* 24-byte header (one option word): the ports are 4 bytes further. */
	struct frame f = ipv4("10.1.1.1", "10.2.2.2", IPPROTO_TCP, 0, 0);
	f.b[0] = 0x46;
	f.b[24] = 0xc3;	/* sport 50000 */
	f.b[25] = 0x50;
	f.b[26] = 0x01;	/* dport 445 */
	f.b[27] = 0xbd;
	f.len = 32;
	CHECK_EQ_U(run(f), fanout_hash_v4(v4("10.1.1.1")));
}

static void
test_neither_internal_steers_by_destination(void)
{
	build(HOME);
	CHECK_EQ_U(run(ipv4("8.8.8.8", "1.1.1.1", IPPROTO_TCP, 1, 2)), fanout_hash_v4(v4("1.1.1.1")));
}

static void
test_ipv6_and_arp_go_to_the_first_worker(void)
{
	build(HOME);
	struct frame f = { .len = 40, .protocol = ETH_P_IPV6 };
	f.b[0] = 0x60;
	f.b[8] = 0xfd;	/* an internal source: the rule is still worker 0 */
	CHECK_EQ_U(run(f), 0);
	f.protocol = ETH_P_ARP;
	f.len = 28;
	CHECK_EQ_U(run(f), 0);
}

static void
test_vlan_tag_left_in_place_is_looked_through(void)
{
	build(HOME);
	struct frame f = ipv4("10.1.2.3", "8.8.8.8", IPPROTO_TCP, 40000, 443);
	CHECK_EQ_U(run(vlan(f, ETH_P_8021Q)), fanout_hash_v4(v4("10.1.2.3")));
	CHECK_EQ_U(run(vlan(f, ETH_P_8021AD)), fanout_hash_v4(v4("10.1.2.3")));
	f = ipv4("10.1.1.1", "10.2.2.2", IPPROTO_TCP, 445, 50000);
	CHECK_EQ_U(run(vlan(f, ETH_P_8021Q)), fanout_hash_v4(v4("10.2.2.2")));
	struct frame six = { .len = 40, .protocol = ETH_P_IPV6 };
	CHECK_EQ_U(run(vlan(six, ETH_P_8021Q)), 0);
}

static void
test_truncated_packets_return_zero_without_reading_past_the_end(void)
{
	build(HOME);
	struct frame f = ipv4("10.1.2.3", "8.8.8.8", IPPROTO_TCP, 40000, 443);
	for (size_t len = 0; len < 20; len++) {
		f.len = len;
		CHECK_EQ_U(run(f), 0);	/* no destination address: nothing to steer by */
	}
	f = ipv4("10.1.1.1", "10.2.2.2", IPPROTO_TCP, 50000, 445);
	f.len = 22;	/* both internal, the destination port cut off */
	CHECK_EQ_U(run(f), 0);
	struct frame t = vlan(ipv4("10.1.2.3", "8.8.8.8", IPPROTO_TCP, 1, 2), ETH_P_8021Q);
	t.len = 3;	/* the inner type cut in half */
	CHECK_EQ_U(run(t), 0);
}

static void
test_home_net_without_ipv4_steers_by_destination(void)
{
	build("fd00::/8");
	CHECK_EQ_U(run(ipv4("10.1.2.3", "8.8.8.8", IPPROTO_TCP, 1, 2)), fanout_hash_v4(v4("8.8.8.8")));
	build("0.0.0.0/0");	/* everything internal: the client end */
	CHECK_EQ_U(run(ipv4("8.8.8.8", "1.1.1.1", IPPROTO_TCP, 443, 60000)), fanout_hash_v4(v4("1.1.1.1")));
}

static void
test_two_workers_get_a_fair_share_of_hosts(void)
{
	int n[2] = { 0, 0 };

	build(HOME);
	for (int i = 0; i < 1024; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 9, (i >> 4) & 31, (i & 15) + 1);
		n[run(ipv4(ip, "8.8.8.8", IPPROTO_TCP, 40000, 443)) % 2]++;
	}
	CHECK(n[0] > 400 && n[1] > 400);
}

static void
test_many_prefixes_still_resolve_and_too_many_are_refused(void)
{
	static char list[16384];
	char err[256] = "";
	size_t used = 0;
	struct netset *ns = netset_new();

	/* 60 /24s: long jumps over every check. */
	for (int i = 0; i < 60; i++)
		used += (size_t)snprintf(list + used, sizeof list - used, "%s172.16.%d.0/24", i ? "," : "", i);
	CHECK(netset_add_list(ns, list, NULL, err, sizeof err) == 0);
	nprog = fanout_build(ns, prog, FANOUT_PROG_MAX, err, sizeof err);
	CHECK(nprog > 240);
	CHECK_EQ_U(run(ipv4("8.8.8.8", "172.16.59.9", IPPROTO_TCP, 1, 2)), fanout_hash_v4(v4("172.16.59.9")));
	CHECK_EQ_U(run(ipv4("172.16.0.1", "172.16.59.9", IPPROTO_ICMP, 0, 0)), fanout_hash_v4(v4("172.16.0.1")));
	/* A program that does not fit is an error, not a cut-off program. */
	CHECK(fanout_build(ns, prog, 100, err, sizeof err) == -1 && strstr(err, "instructions") != NULL);
	/* 200 prefixes, more than netset's 1 KB log text shows: every one is steered. */
	for (int i = 60; i < 200; i++)
		used += (size_t)snprintf(list + used, sizeof list - used, ",172.17.%d.0/24", i);
	netset_free(ns);
	ns = netset_new();
	CHECK(netset_add_list(ns, list, NULL, err, sizeof err) == 0);
	nprog = fanout_build(ns, prog, FANOUT_PROG_MAX, err, sizeof err);
	CHECK(nprog > 800);
	CHECK_EQ_U(run(ipv4("8.8.8.8", "172.17.199.9", IPPROTO_TCP, 1, 2)), fanout_hash_v4(v4("172.17.199.9")));
	/* More than FANOUT_MAX_PREFIXES is refused, not silently shortened. */
	for (int i = 0; i <= FANOUT_MAX_PREFIXES; i++)
		used += (size_t)snprintf(list + used, sizeof list - used, ",10.%d.%d.0/24", i / 256, i % 256);
	CHECK(used < sizeof list - 1);
	netset_free(ns);
	ns = netset_new();
	CHECK(netset_add_list(ns, list, NULL, err, sizeof err) == 0);
	err[0] = '\0';
	CHECK(fanout_build(ns, prog, FANOUT_PROG_MAX, err, sizeof err) == -1 && strstr(err, "HOME_NET") != NULL);
	netset_free(ns);
}

T_MAIN("fanout",
	T(test_hash_is_murmur3_fmix32),
	T(test_internal_source_steers_by_source),
	T(test_internal_destination_steers_by_destination),
	T(test_both_directions_of_an_external_conversation_meet),
	T(test_both_internal_steers_by_the_client_port_end_both_ways),
	T(test_both_internal_without_ports_steers_by_the_lower_address),
	T(test_both_internal_honours_the_ip_header_length),
	T(test_neither_internal_steers_by_destination),
	T(test_ipv6_and_arp_go_to_the_first_worker),
	T(test_vlan_tag_left_in_place_is_looked_through),
	T(test_truncated_packets_return_zero_without_reading_past_the_end),
	T(test_home_net_without_ipv4_steers_by_destination),
	T(test_two_workers_get_a_fair_share_of_hosts),
	T(test_many_prefixes_still_resolve_and_too_many_are_refused))
