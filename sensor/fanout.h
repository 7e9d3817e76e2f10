/*
 * fanout - several outflow processes sharing one interface, each internal
 * host on exactly one of them.
 *
 * Every window, destination set, staging episode and engagement in the
 * sensor is per internal host, so a worker must see all of a host's
 * packets or none of them. The kernel's own PACKET_FANOUT_HASH steers by
 * flow and would split one host's volume across workers. This module joins
 * a live capture socket to a PACKET_FANOUT group in PACKET_FANOUT_CBPF mode
 * with a classic-BPF program, generated from HOME_NET, that returns a hash
 * of the packet's *internal* address; the kernel takes it modulo the number
 * of sockets in the group.
 *
 * The steering rule (what the program computes):
 *   - IPv4, also inside one 802.1Q/802.1ad tag the kernel did not strip:
 *     if the source is inside a HOME_NET IPv4 prefix, the source, else the
 *     destination; returns fanout_hash_v4() of that address. A packet with
 *     neither end internal is steered by its destination, which is as good
 *     as any choice: the sensor ignores it.
 *   - Both ends internal: the same end in both directions, so the flow
 *     stays whole on one worker. For TCP/UDP/SCTP the end with the higher
 *     port (the client's ephemeral one: usually the initiator, whose worker
 *     is where staging.c counts its pulls); otherwise, or on a tie, the
 *     lower address. The other end's view of that flow is then on another
 *     worker (README, "Scaling beyond one core").
 *   - Everything else (IPv6, ARP, a truncated IPv4 header): returns 0, the
 *     group's first socket. For IPv6 this keeps the one property that
 *     matters, every host whole on one worker, at the cost of balance: a
 *     hash of both addresses would spread one IPv6 host over every worker
 *     and break its windows. (Out-of-range loads make a cBPF program return
 *     0, so truncated packets take the same path.)
 *
 * The program reads through the kernel's network-header offset
 * (SKF_NET_OFF) and skb->protocol (SKF_AD_PROTOCOL), not absolute offsets:
 * the fanout demux runs before af_packet pushes the link header back, so
 * on receive skb->data points at the IP header, on transmit at the
 * Ethernet header. Through the network header it is the same program for
 * both directions and every link type.
 *
 * The group is joined with PACKET_FANOUT_FLAG_DEFRAG, so the kernel
 * reassembles IPv4 fragments before steering and a datagram's fragments
 * reach one worker together.
 *
 * Alert ids are "<sensor-name>-<run>-<seq>": workers of one group must
 * have distinct --sensor-name values, and fanout_join() enforces it by
 * claiming the name in the group (an abstract Unix socket, which lives in
 * the same network namespace as the fanout group).
 */
#ifndef OUTFLOW_FANOUT_H
#define OUTFLOW_FANOUT_H

#include <stddef.h>
#include <stdint.h>

struct netset;
struct sock_filter;

/* At most this many HOME_NET IPv4 prefixes (4 instructions each). */
#define FANOUT_MAX_PREFIXES 512
/* Instructions fanout_build() may need, at most. */
#define FANOUT_PROG_MAX (32 + 4 * FANOUT_MAX_PREFIXES)

/* The hash the program returns for an IPv4 address (host byte order): murmur3's fmix32. */
uint32_t fanout_hash_v4(uint32_t addr);

/*
 * Writes the steering program for home's IPv4 prefixes into out (room for
 * max instructions). Returns the instruction count, or -1 with a message
 * in err (too many prefixes, out too small).
 */
int fanout_build(const struct netset *home, struct sock_filter *out, size_t max,
    char *err, size_t errlen);

struct fanout;

/*
 * Joins the bound AF_PACKET socket fd (pcap_fileno() after pcap_activate)
 * to fanout group `group` with the program built from home, after claiming
 * `name` in the group. Returns the membership (free with fanout_free(),
 * which releases the name; the group is left when fd closes), or NULL with
 * a message in err (name taken, group busy in another mode, no kernel
 * support).
 */
struct fanout *fanout_join(int fd, uint16_t group, const struct netset *home, const char *name,
    char *err, size_t errlen);
void fanout_free(struct fanout *f);

#endif
