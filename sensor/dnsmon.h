/*
 * dnsmon - DNS tunnel detection (MITRE T1048.003, T1071.004): who sends
 * data out in the names it looks up.
 *
 * Owns a bounded table of (internal host that sent the query, registered
 * domain) pairs, fed from the DNS queries and responses on UDP and TCP
 * port 53. Per pair it counts queries, the bytes of the query names below
 * the registered domain (what a tunnel carries), answer bytes (minute
 * counters, 10 minutes), and over the last 5-10 minutes the distinct
 * subdomains (HyperLogLog: a random-subdomain flood costs 64 bytes, never
 * a stored name), label lengths, character entropy, the share of
 * TXT/NULL/CNAME/MX queries and nDPI's risks on the DNS flows.
 *
 * Attribution: a resolver's forwarded query carries the name a client just
 * asked it, so a query from host R whose name an internal client asked R
 * for within DNSMON_FORWARD_S is the client's, not R's: it is counted as
 * forwarded and not charged to R (rules/README.md, "dns-tunnel").
 *
 * Memory: the pair table (--max-dns-pairs) and a per-host cap of domains
 * (--max-dns-domains, the lightest pushed out first) are allocated once;
 * evictions are counted in the stats (detectors.dns).
 */
#ifndef OUTFLOW_DNSMON_H
#define OUTFLOW_DNSMON_H

#include <stddef.h>
#include <stdint.h>

#include "detector.h"

#define DNSMON_MAX_LABELS 128	/* a 255-byte name has at most 127 labels */
#define DNSMON_FORWARD_S 10	/* how long a client's question explains a resolver's */

/* One DNS message's header and first question, parsed (RFC 1035 4.1). */
struct dns_msg {
	uint16_t id, flags, qdcount, ancount;
	int is_response;
	uint16_t qtype;
	uint8_t name[256];	/* the question name, lower-cased, labels joined by '.' */
	size_t name_len;
	size_t nlabels;
	uint8_t lab_off[DNSMON_MAX_LABELS], lab_len[DNSMON_MAX_LABELS];	/* into name[] */
	uint8_t lab_ldh[DNSMON_MAX_LABELS];	/* label is letters, digits, '-', '_' only */
};

enum dns_parse_rc {
	DNS_PARSE_OK = 0,
	DNS_PARSE_SHORT,	/* captured bytes end inside the header or question */
	DNS_PARSE_NO_QUESTION,	/* qdcount 0 */
	DNS_PARSE_BAD_NAME,	/* label > 63, name > 255, bad or looping pointer, reserved label type */
};

/*
 * Parses the header and the first question of the DNS message msg[0..len)
 * into *m. Compression pointers are followed at most 16 times and only
 * backwards, so a loop ends. Never reads outside msg[0..len).
 */
enum dns_parse_rc dnsmon_parse(const uint8_t *msg, size_t len, struct dns_msg *m);

struct dnsmon;

/* The module (detector.h); caps from env->cfg (max_dns_pairs, max_dns_domains). */
extern const struct detector_ops dnsmon_ops;
void *dnsmon_new(const struct detector_env *env, char *err, size_t errlen);

/* Counters, for the stats and the tests. */
struct dnsmon_stats {
	uint64_t queries, responses, malformed, ignored, forwarded, tcp;
	uint64_t pairs_evicted, host_cap_evicted;
	size_t pairs, pairs_capacity, hosts;
};
void dnsmon_get_stats(const struct dnsmon *m, struct dnsmon_stats *out);

#endif
