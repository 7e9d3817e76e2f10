/*
 * pcapread - the benchmark's floor: the bare libpcap read loop.
 *
 * Reads a capture with pcap_next_ex and touches each packet as little as a
 * real consumer must (its length and first byte, summed so the compiler
 * cannot drop the loads). Nothing that processes packets can be faster than
 * this on the same file and machine, so outflow's and ndpiReader's times are
 * read against it. Prints packets, bytes, seconds, packets/s on stdout.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

int
main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *p;
	struct timespec t0, t1;
	uint64_t packets = 0, bytes = 0, sink = 0;
	double secs;
	pcap_t *pc;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: pcapread FILE\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pc = pcap_open_offline(argv[1], err)) == NULL) {
		fprintf(stderr, "pcapread: %s\n", err);
		return 1;
	}
	while ((rc = pcap_next_ex(pc, &h, &p)) == 1) {
		packets++;
		bytes += h->len;
		sink += h->caplen + (h->caplen ? p[0] : 0);
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "pcapread: %s\n", pcap_geterr(pc));
		pcap_close(pc);
		return 1;
	}
	pcap_close(pc);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("packets %llu bytes %llu seconds %.6f pps %.0f check %llu\n",
	    (unsigned long long)packets, (unsigned long long)bytes, secs,
	    secs > 0 ? (double)packets / secs : 0.0, (unsigned long long)sink);
	return 0;
}
