/*
 * fanout - see fanout.h.
 *
 * The program, as generated (X holds the IPv4 header's offset from the
 * network header, 0 or 4; M[0] src, M[1] dst, M[2] source port):
 *
 *        ld proto ; IPv4 -> X=0 ; 802.1Q/802.1ad with IPv4 inside -> X=4 ; else ret #0
 *        (each HOME_NET check is ld; and; jeq; ja, so every conditional
 *        jump stays within its 8-bit reach whatever the prefix count)
 *        M[0] = ip[12:4] ; M[1] = ip[16:4]
 *        src in HOME_NET?  no -> USE_DST
 *        dst in HOME_NET?  no -> USE_SRC
 *        both internal: TCP/UDP/SCTP, first fragment -> the end with the
 *                       higher port (the client's ephemeral one, which
 *                       opened the flow); otherwise or a tie -> the lower address
 *   USE_DST: A = M[1]          USE_SRC: A = M[0]
 *   HASH:    A = fmix32(A) ; ret A
 *
 * Both-internal packets pick the same end in both directions, so an
 * internal flow stays whole on one worker: the initiator's, when ports
 * tell it. That is the worker where staging.c looks for its pulls (a pull
 * is data from an internal responder on a flow the host opened).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"
#include "fanout.h"
#include "log.h"
#include "netset.h"

struct fanout {
	int name_fd;	/* the claimed --sensor-name (abstract Unix socket) */
};

uint32_t
fanout_hash_v4(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* ---- a tiny assembler with forward labels --------------------------------- */

struct fo_prefix {
	uint32_t net, mask;	/* host byte order */
};

enum fo_label {
	L_NEXT = -1,	/* the following instruction */
	L_VLAN, L_V4_4, L_V4_0, L_V4, L_SRC_IN, L_BOTH_IN, L_PORTS, L_MIN, L_USE_DST,
	L_USE_SRC, L_HASH, L_COUNT
};

struct fo_asm {
	struct sock_filter *ins;
	size_t n, max;
	int overflow;
	int at[L_COUNT];		/* label -> instruction index */
	struct { int8_t jt, jf, ja; } fix[FANOUT_PROG_MAX];	/* per instruction: labels to resolve */
	struct fo_prefix pfx[FANOUT_MAX_PREFIXES];
};

static void
fo_emit(struct fo_asm *a, uint16_t code, uint32_t k, int jt, int jf, int ja)
{
	if (a->n >= a->max || a->n >= FANOUT_PROG_MAX) {
		a->overflow = 1;
		return;
	}
	a->fix[a->n].jt = (int8_t)jt;
	a->fix[a->n].jf = (int8_t)jf;
	a->fix[a->n].ja = (int8_t)ja;
	a->ins[a->n++] = (struct sock_filter){ code, 0, 0, k };
}

#define OP(a, code, k)			fo_emit(a, code, k, L_NEXT, L_NEXT, L_NEXT)
#define JMP(a, code, k, jt, jf)		fo_emit(a, BPF_JMP | (code), k, jt, jf, L_NEXT)
#define JA(a, lbl)			fo_emit(a, BPF_JMP | BPF_JA, 0, L_NEXT, L_NEXT, lbl)

static void
fo_label(struct fo_asm *a, enum fo_label l)
{
	a->at[l] = (int)a->n;
}

/* Resolves labels into offsets: forward only, conditional ones within 8 bits (the layout's job). */
static void
fo_resolve(struct fo_asm *a)
{
	for (size_t i = 0; i < a->n; i++) {
		size_t next = i + 1;
		if (a->fix[i].ja != L_NEXT) {
			OF_ASSERT(a->at[a->fix[i].ja] >= (int)next);
			a->ins[i].k = (uint32_t)(a->at[a->fix[i].ja] - (int)next);
		}
		if (a->fix[i].jt != L_NEXT) {
			OF_ASSERT(a->at[a->fix[i].jt] - (int)next >= 0 && a->at[a->fix[i].jt] - (int)next < 256);
			a->ins[i].jt = (uint8_t)(a->at[a->fix[i].jt] - (int)next);
		}
		if (a->fix[i].jf != L_NEXT) {
			OF_ASSERT(a->at[a->fix[i].jf] - (int)next >= 0 && a->at[a->fix[i].jf] - (int)next < 256);
			a->ins[i].jf = (uint8_t)(a->at[a->fix[i].jf] - (int)next);
		}
	}
}

/* ---- HOME_NET's IPv4 prefixes --------------------------------------------- */

struct fo_collect {
	struct fo_prefix *out;
	size_t n, max;
	int too_many;
};

static void
fo_collect_v4(void *ctx, const struct ip_addr *net, int bits)
{
	struct fo_collect *c = ctx;

	if (!addr_is_v4(net))
		return;
	if (c->n >= c->max) {
		c->too_many = 1;
		return;
	}
	c->out[c->n].mask = bits <= 0 ? 0 : 0xffffffffu << (32 - bits);
	c->out[c->n].net = ((uint32_t)net->b[12] << 24 | (uint32_t)net->b[13] << 16 |
	    (uint32_t)net->b[14] << 8 | net->b[15]) & c->out[c->n].mask;
	c->n++;
}

/* HOME_NET's IPv4 prefixes into out: their number, or -1 if more than max. */
static int
fo_prefixes(const struct netset *home, struct fo_prefix *out, size_t max, char *err, size_t errlen)
{
	struct fo_collect c = { out, 0, max, 0 };

	netset_each(home, fo_collect_v4, &c);
	if (c.too_many) {
		snprintf(err, errlen, "HOME_NET has more than %zu IPv4 prefixes, too many for --fanout", max);
		return -1;
	}
	return (int)c.n;
}

/* ---- the program ----------------------------------------------------------- */

#define NET(off)	((uint32_t)(SKF_NET_OFF + (off)))

/* A = M[slot] in HOME_NET ? jump to `in` : fall through. 4 instructions per prefix. */
static void
fo_emit_membership(struct fo_asm *a, uint32_t slot, const struct fo_prefix *p, int np, enum fo_label in)
{
	for (int i = 0; i < np; i++) {
		OP(a, BPF_LD | BPF_MEM, slot);
		OP(a, BPF_ALU | BPF_AND | BPF_K, p[i].mask);
		JMP(a, BPF_JEQ | BPF_K, p[i].net, L_NEXT, L_NEXT);
		if (!a->overflow)
			a->ins[a->n - 1].jf = 1;	/* outside: skip the ja */
		JA(a, in);
	}
}

/* Link layer: skb->protocol says IPv4, or one VLAN tag the kernel left in place. */
static void
fo_emit_head(struct fo_asm *a)
{
	OP(a, BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL));
	JMP(a, BPF_JEQ | BPF_K, ETH_P_IP, L_V4_0, L_NEXT);
	JMP(a, BPF_JEQ | BPF_K, ETH_P_8021Q, L_VLAN, L_NEXT);
	JMP(a, BPF_JEQ | BPF_K, ETH_P_8021AD, L_VLAN, L_NEXT);
	OP(a, BPF_RET | BPF_K, 0);	/* here, not at the end: conditional jumps reach 255 ahead */
	/* Not stripped, the network header starts at the tag: TCI, then the inner type. */
	fo_label(a, L_VLAN);
	OP(a, BPF_LD | BPF_H | BPF_ABS, NET(2));
	JMP(a, BPF_JEQ | BPF_K, ETH_P_IP, L_V4_4, L_NEXT);
	OP(a, BPF_RET | BPF_K, 0);
	fo_label(a, L_V4_4);
	OP(a, BPF_LDX | BPF_IMM, 4);
	JA(a, L_V4);
	fo_label(a, L_V4_0);
	OP(a, BPF_LDX | BPF_IMM, 0);
	fo_label(a, L_V4);
	OP(a, BPF_LD | BPF_W | BPF_IND, NET(12));
	OP(a, BPF_ST, 0);
	OP(a, BPF_LD | BPF_W | BPF_IND, NET(16));
	OP(a, BPF_ST, 1);
}

/* Both ends internal: the higher port's end, else the lower address (X = IPv4 offset). */
static void
fo_emit_both_internal(struct fo_asm *a)
{
	fo_label(a, L_BOTH_IN);
	OP(a, BPF_LD | BPF_B | BPF_IND, NET(9));
	JMP(a, BPF_JEQ | BPF_K, IPPROTO_TCP, L_PORTS, L_NEXT);
	JMP(a, BPF_JEQ | BPF_K, IPPROTO_UDP, L_PORTS, L_NEXT);
	JMP(a, BPF_JEQ | BPF_K, IPPROTO_SCTP, L_PORTS, L_MIN);
	fo_label(a, L_PORTS);
	OP(a, BPF_LD | BPF_H | BPF_IND, NET(6));
	JMP(a, BPF_JSET | BPF_K, 0x1fff, L_MIN, L_NEXT);	/* a later fragment has no ports */
	OP(a, BPF_LD | BPF_B | BPF_IND, NET(0));
	OP(a, BPF_ALU | BPF_AND | BPF_K, 0x0f);
	OP(a, BPF_ALU | BPF_LSH | BPF_K, 2);
	OP(a, BPF_ALU | BPF_ADD | BPF_X, 0);
	OP(a, BPF_MISC | BPF_TAX, 0);				/* X = transport header */
	OP(a, BPF_LD | BPF_H | BPF_IND, NET(0));
	OP(a, BPF_ST, 2);
	OP(a, BPF_LD | BPF_H | BPF_IND, NET(2));
	OP(a, BPF_MISC | BPF_TAX, 0);				/* X = dport */
	OP(a, BPF_LD | BPF_MEM, 2);				/* A = sport */
	JMP(a, BPF_JGT | BPF_X, 0, L_USE_SRC, L_NEXT);
	JMP(a, BPF_JEQ | BPF_X, 0, L_MIN, L_USE_DST);
	fo_label(a, L_MIN);
	OP(a, BPF_LD | BPF_MEM, 1);
	OP(a, BPF_MISC | BPF_TAX, 0);
	OP(a, BPF_LD | BPF_MEM, 0);
	JMP(a, BPF_JGT | BPF_X, 0, L_USE_DST, L_USE_SRC);
}

/* A = fmix32(A), each "h ^= h >> s" as tax; rsh; xor x. */
static void
fo_emit_hash(struct fo_asm *a)
{
	static const uint32_t mul[2] = { 0x85ebca6bu, 0xc2b2ae35u };
	static const uint32_t shift[3] = { 16, 13, 16 };

	fo_label(a, L_HASH);
	for (int i = 0; i < 3; i++) {
		OP(a, BPF_MISC | BPF_TAX, 0);
		OP(a, BPF_ALU | BPF_RSH | BPF_K, shift[i]);
		OP(a, BPF_ALU | BPF_XOR | BPF_X, 0);
		if (i < 2)
			OP(a, BPF_ALU | BPF_MUL | BPF_K, mul[i]);
	}
	OP(a, BPF_RET | BPF_A, 0);
}

int
fanout_build(const struct netset *home, struct sock_filter *out, size_t max, char *err, size_t errlen)
{
	struct fo_asm *a = calloc(1, sizeof *a);
	const struct fo_prefix *p;
	int np, n;

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p = a->pfx;
	if ((np = fo_prefixes(home, a->pfx, FANOUT_MAX_PREFIXES, err, errlen)) < 0) {
		free(a);
		return -1;
	}
	a->ins = out;
	a->max = max;
	fo_emit_head(a);
	fo_emit_membership(a, 0, p, np, L_SRC_IN);
	JA(a, L_USE_DST);
	fo_label(a, L_SRC_IN);
	fo_emit_membership(a, 1, p, np, L_BOTH_IN);
	JA(a, L_USE_SRC);
	fo_emit_both_internal(a);
	fo_label(a, L_USE_DST);
	OP(a, BPF_LD | BPF_MEM, 1);
	JA(a, L_HASH);
	fo_label(a, L_USE_SRC);
	OP(a, BPF_LD | BPF_MEM, 0);
	fo_emit_hash(a);
	if (a->overflow) {
		snprintf(err, errlen, "fanout program needs more than %zu instructions", max);
		free(a);
		return -1;
	}
	fo_resolve(a);
	n = (int)a->n;
	free(a);
	return n;
}

/* ---- joining the group ----------------------------------------------------- */

/*
 * Alert ids start with --sensor-name, so two workers of a group with one
 * name could emit the same id. An abstract Unix socket is a lock the
 * kernel drops when the process dies, scoped like the fanout group to the
 * network namespace.
 */
static int
fo_claim_name(uint16_t group, const char *name, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int n = snprintf(sun.sun_path + 1, sizeof sun.sun_path - 1, "outflow/fanout/%u/%s",
	    (unsigned)group, name);
	int fd;

	if (n < 0 || (size_t)n >= sizeof sun.sun_path - 1) {
		snprintf(err, errlen, "--sensor-name '%s' is too long for --fanout", name);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "fanout: socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) != 0) {
		if (errno == EADDRINUSE)
			snprintf(err, errlen, "fanout group %u already has a worker named '%s': alert ids "
			    "begin with the sensor name, give each worker its own --sensor-name",
			    (unsigned)group, name);
		else
			snprintf(err, errlen, "fanout: cannot claim the sensor name: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct fanout *
fanout_join(int fd, uint16_t group, const struct netset *home, const char *name, char *err, size_t errlen)
{
	struct sock_filter *prog = calloc(FANOUT_PROG_MAX, sizeof *prog);
	struct fanout *f = calloc(1, sizeof *f);
	/* The kernel reads an int: group id low, mode and flags high (0x8006 << 16 does not fit a signed one). */
	unsigned int arg = group | (unsigned int)(PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_DEFRAG) << 16;
	int n = -1;

	if (prog == NULL || f == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	f->name_fd = -1;
	if ((n = fanout_build(home, prog, FANOUT_PROG_MAX, err, errlen)) < 0)
		goto fail;
	if ((f->name_fd = fo_claim_name(group, name, err, errlen)) < 0)
		goto fail;
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) {
		snprintf(err, errlen, "cannot join fanout group %u: %s%s", (unsigned)group, strerror(errno),
		    errno == EINVAL ? " (the group exists on another interface or in another mode)" : "");
		goto fail;
	}
	/* The program is the group's: every worker installs the same one (same HOME_NET). */
	struct sock_fprog fprog = { .len = (unsigned short)n, .filter = prog };
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &fprog, sizeof fprog) != 0) {
		snprintf(err, errlen, "cannot install the fanout program (%d instructions): %s", n,
		    strerror(errno));
		goto fail;
	}
	log_info("fanout group %u: steering by internal host (%d-instruction cBPF program)",
	    (unsigned)group, n);
	free(prog);
	return f;
fail:
	fanout_free(f);
	free(prog);
	return NULL;
}

void
fanout_free(struct fanout *f)
{
	if (f == NULL)
		return;
	if (f->name_fd >= 0)
		close(f->name_fd);
	free(f);
}
