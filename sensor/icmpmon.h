/*
 * icmpmon - ICMP tunnel detection (MITRE T1048, T1095): data carried in
 * the payload of ICMP/ICMPv6 echo requests and replies (ptunnel, icmpsh,
 * Hans, ...).
 *
 * Owns a bounded table of (internal host, external peer) pairs, fed from
 * echo request/reply packets (ICMP types 8/0, ICMPv6 128/129). Per pair:
 * echo payload bytes out and in, packets out, packets with more payload
 * than a ping sends by default, packets whose payload is not a ping
 * pattern (minute counters for the last 10 minutes), and the mean byte
 * entropy of the payloads sent (current and previous 5-minute epoch).
 *
 * A ping pattern is what ping programs put in the payload: Linux/BSD
 * iputils a timestamp and then an incrementing counter (0x10, 0x11, ...),
 * Windows the alphabet "abcdefghijklmnopqrstuvwabcdefghi", ping -p a short
 * repeated fill. Everything else (compressed or encrypted data, tunnel
 * headers) is "odd".
 *
 * Memory: --max-icmp-pairs entries allocated once; when full, the lightest
 * of the 8 stalest pairs goes, counted in the stats (detectors.icmp).
 */
#ifndef OUTFLOW_ICMPMON_H
#define OUTFLOW_ICMPMON_H

#include <stddef.h>
#include <stdint.h>

#include "detector.h"

#define ICMPMON_LARGE 64	/* payload bytes above a default ping (Linux 56, Windows 32) */

/* 1 if payload[0..n) looks like what a ping program sends. */
int icmpmon_ping_pattern(const uint8_t *payload, size_t n);

struct icmpmon;

extern const struct detector_ops icmpmon_ops;
void *icmpmon_new(const struct detector_env *env, char *err, size_t errlen);

struct icmpmon_stats {
	uint64_t echo_packets, odd_packets, evicted;
	size_t pairs, capacity;
};
void icmpmon_get_stats(const struct icmpmon *m, struct icmpmon_stats *out);

#endif
