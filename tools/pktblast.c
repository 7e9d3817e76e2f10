/*
 * pktblast - replays a capture onto an interface at a fixed packet rate,
 * for the live benchmark (make bench-live).
 *
 *   pktblast -i IFACE -p PPS [-l LOOPS] FILE.pcap
 *
 * tcpreplay sends one packet per system call through the qdisc and tops
 * out near 0.35 Mpps on these machines; the benchmark needs 0.8 Mpps. This
 * sender loads the capture into memory once, then hands the kernel batches
 * of 64 frames per sendmmsg() on an AF_PACKET socket that bypasses the
 * qdisc, and paces the batches against CLOCK_MONOTONIC so the average rate
 * is PPS. Frames are sent as captured (a sliced capture is sent sliced).
 * Prints what it sent, the time it took and the rate it reached.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#define BATCH 64

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct frames {
	uint8_t *data;		/* every frame, back to back */
	size_t len, cap;
	uint32_t *off, *flen;	/* per frame */
	size_t n, ncap;
};

static int
load(const char *path, struct frames *fr)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, eb);
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc;

	if (p == NULL) {
		fprintf(stderr, "pktblast: %s\n", eb);
		return -1;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "pktblast: %s: only Ethernet captures can be sent\n", path);
		pcap_close(p);
		return -1;
	}
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		if (fr->n == fr->ncap) {
			fr->ncap = fr->ncap ? fr->ncap * 2 : 65536;
			fr->off = realloc(fr->off, fr->ncap * sizeof *fr->off);
			fr->flen = realloc(fr->flen, fr->ncap * sizeof *fr->flen);
		}
		while (fr->len + h->caplen > fr->cap) {
			fr->cap = fr->cap ? fr->cap * 2 : (64u << 20);
			fr->data = realloc(fr->data, fr->cap);
		}
		if (fr->off == NULL || fr->flen == NULL || fr->data == NULL) {
			fprintf(stderr, "pktblast: out of memory\n");
			pcap_close(p);
			return -1;
		}
		memcpy(fr->data + fr->len, d, h->caplen);
		fr->off[fr->n] = (uint32_t)fr->len;
		fr->flen[fr->n] = h->caplen;
		fr->len += h->caplen;
		fr->n++;
		if (fr->len > UINT32_MAX - 65536) {
			fprintf(stderr, "pktblast: %s: more than 4 GiB of frames\n", path);
			pcap_close(p);
			return -1;
		}
	}
	if (rc == -1)
		fprintf(stderr, "pktblast: %s: %s\n", path, pcap_geterr(p));
	pcap_close(p);
	return rc == -1 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	const char *iface = NULL;
	double pps = 0;
	long loops = 1;
	struct frames fr = { 0 };
	struct sockaddr_ll sll;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t sent = 0, failed = 0, t0, t1;
	int c, fd, one = 1;

	while ((c = getopt(argc, argv, "i:p:l:")) != -1) {
		switch (c) {
		case 'i': iface = optarg; break;
		case 'p': pps = atof(optarg); break;
		case 'l': loops = atol(optarg); break;
		default: goto usage;
		}
	}
	if (iface == NULL || pps <= 0 || loops < 1 || optind + 1 != argc)
		goto usage;
	if (load(argv[optind], &fr) != 0)
		return 1;
	if ((fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL))) < 0) {
		fprintf(stderr, "pktblast: socket: %s\n", strerror(errno));
		return 1;
	}
	/* Straight to the driver: a qdisc would add a lock and a queue per packet. */
	(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
	memset(&sll, 0, sizeof sll);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	if ((sll.sll_ifindex = (int)if_nametoindex(iface)) == 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) {
		fprintf(stderr, "pktblast: %s: %s\n", iface, strerror(errno));
		return 1;
	}
	memset(msgs, 0, sizeof msgs);
	t0 = mono_ns();
	for (long l = 0; l < loops; l++) {
		for (size_t i = 0; i < fr.n;) {
			unsigned n = 0;
			while (n < BATCH && i + n < fr.n) {
				iov[n].iov_base = fr.data + fr.off[i + n];
				iov[n].iov_len = fr.flen[i + n];
				msgs[n].msg_hdr.msg_iov = &iov[n];
				msgs[n].msg_hdr.msg_iovlen = 1;
				n++;
			}
			/* Pace: batch k may leave at t0 + k*BATCH/pps. */
			uint64_t due = t0 + (uint64_t)((double)sent * 1e9 / pps);
			while (mono_ns() < due)
				;
			unsigned done = 0;
			while (done < n) {
				int r = sendmmsg(fd, msgs + done, n - done, 0);
				if (r < 0) {
					if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
						continue;
					/* A frame the device refuses (too long): count it, go on. */
					failed++;
					done++;
					continue;
				}
				done += (unsigned)r;
			}
			sent += n;
			i += n;
		}
	}
	t1 = mono_ns();
	printf("pktblast: sent %" PRIu64 " packets (%" PRIu64 " refused) in %.3f s: %.0f pps\n",
	    sent - failed, failed, (double)(t1 - t0) / 1e9, (double)(sent - failed) * 1e9 / (double)(t1 - t0));
	close(fd);
	return failed ? 2 : 0;
usage:
	fprintf(stderr, "usage: pktblast -i IFACE -p PPS [-l LOOPS] FILE.pcap\n");
	return 2;
}
