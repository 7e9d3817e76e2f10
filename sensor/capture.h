/*
 * capture - where packets come from: a pcap/pcapng file (or stdin) read as
 * fast as possible, or a live interface. Applies the BPF filter, refuses
 * link types the decoder does not understand (naming them), reports the
 * file position for progress and the kernel's drop counters for stats.
 * Timestamps are always microseconds, whatever the file's precision.
 * A regular file is read ahead on a thread of its own (readahead.h),
 * started by the first capture_next(), so that nothing of the file is
 * parsed before the caller has dropped its privileges; stdin and live
 * interfaces are read here, between packets.
 * A live socket may join a PACKET_FANOUT group (fanout.h) that steers each
 * internal host to one of several sensors.
 */
#ifndef OUTFLOW_CAPTURE_H
#define OUTFLOW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct netset;

struct capture_config {
	const char *file;	/* -r: path, "-" for stdin; NULL for live */
	const char *iface;	/* -i */
	const char *bpf;	/* -f, may be NULL */
	int snaplen;		/* live: bytes kept per packet (0 = 262144) */
	int buffer_mb;		/* live: kernel buffer, MiB (0 = libpcap default) */
	int promisc;		/* live: 1 = promiscuous */
	int timeout_ms;		/* live: read timeout so the loop can tick when idle */
	int fanout;		/* live: 1 = join PACKET_FANOUT group fanout_group (the
				 * CLI refuses it with a file; a file ignores it) */
	uint16_t fanout_group;
	const struct netset *fanout_home;	/* HOME_NET the steering program is built from */
	const char *fanout_name;	/* --sensor-name, unique within the group */
};

struct capture_stats {
	uint64_t kernel_recv, kernel_drop, iface_drop;	/* live only */
	uint64_t file_size, file_pos;			/* file only (0 for stdin) */
};

enum capture_rc {
	CAPTURE_PACKET = 1,	/* *out filled */
	CAPTURE_IDLE = 0,	/* live read timeout, no packet */
	CAPTURE_EOF = -1,	/* end of file */
	CAPTURE_ERROR = -2	/* read error (message in capture_error()) */
};

struct capture_pkt {
	uint64_t ts_us;
	uint32_t caplen, wirelen;
	const uint8_t *data;
};

struct capture;
struct pcap_pkthdr;

/*
 * A libpcap record as the sensor takes it, from a file, a wire or the
 * read-ahead thread alike: microseconds, and a wire length never below
 * the captured one.
 */
void capture_pkt_from(struct capture_pkt *out, const struct pcap_pkthdr *h, const uint8_t *data);

/*
 * Opens the source; NULL with a message in err (no such file, permission,
 * bad filter, link type, fanout join refused).
 */
struct capture *capture_open(const struct capture_config *cfg, char *err, size_t errlen);
void capture_close(struct capture *c);

/* Next packet. The data stays valid until the next call. */
enum capture_rc capture_next(struct capture *c, struct capture_pkt *out);

int capture_dlt(const struct capture *c);
const char *capture_dlt_name(const struct capture *c);
int capture_is_live(const struct capture *c);
const char *capture_error(const struct capture *c);
void capture_get_stats(struct capture *c, struct capture_stats *out);
/* Stops a blocking live read from another context (signal handler safe). */
void capture_breakloop(struct capture *c);

#endif
