/*
 * pcapmerge - merge captures into one, in timestamp order.
 *
 *   usage: pcapmerge -o OUT IN1 IN2 [IN...]      (OUT "-" is stdout)
 *
 * The load test (tests/integration/test_flood.sh) hides a real exfiltration
 * capture in generated noise: both have to reach the sensor as one stream,
 * interleaved the way a tap would have seen them. mergecap does this, but
 * it comes with wireshark-common, which a CI machine need not have.
 *
 * It is a k-way merge of already ordered inputs: each input contributes its
 * next packet, the earliest one is written, and equal times go to the input
 * named first, so the output is deterministic. An input whose own times go
 * backwards is not re-sorted (a sensor has to cope with that anyway). All
 * inputs must share one link type; the output gets the largest snap length.
 * Times are kept to the microsecond (pcap's classic resolution). Packets
 * are written as read, captured and wire lengths unchanged. Standalone:
 * libpcap only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

struct input {
	const char *path;
	pcap_t *p;
	struct pcap_pkthdr *h;	/* the next packet, or NULL once the input is done */
	const u_char *data;	/* valid until the next pcap_next_ex() on p */
	unsigned long packets;
};

static void
usage(void)
{
	fprintf(stderr, "usage: pcapmerge -o OUT IN1 IN2 [IN...]   (OUT - is stdout)\n");
	exit(2);
}

/* Reads the next packet of in; returns 0, or -1 after printing the read error. */
static int
input_advance(struct input *in)
{
	int rc = pcap_next_ex(in->p, &in->h, &in->data);

	if (rc == 1)
		return 0;
	in->h = NULL;
	if (rc == PCAP_ERROR_BREAK)	/* end of file */
		return 0;
	fprintf(stderr, "pcapmerge: %s: %s\n", in->path, pcap_geterr(in->p));
	return -1;
}

/* Opens every input and checks they share the first one's link type. */
static int
inputs_open(struct input *ins, int n, int *snaplen)
{
	char errbuf[PCAP_ERRBUF_SIZE];

	*snaplen = 0;
	for (int i = 0; i < n; i++) {
		if ((ins[i].p = pcap_open_offline(ins[i].path, errbuf)) == NULL) {
			fprintf(stderr, "pcapmerge: %s\n", errbuf);
			return -1;
		}
		if (pcap_datalink(ins[i].p) != pcap_datalink(ins[0].p)) {
			fprintf(stderr, "pcapmerge: %s is %s (%d) but %s is %s (%d): "
			    "captures of different link types cannot be merged\n",
			    ins[i].path, pcap_datalink_val_to_name(pcap_datalink(ins[i].p)),
			    pcap_datalink(ins[i].p), ins[0].path,
			    pcap_datalink_val_to_name(pcap_datalink(ins[0].p)), pcap_datalink(ins[0].p));
			return -1;
		}
		if (pcap_snapshot(ins[i].p) > *snaplen)
			*snaplen = pcap_snapshot(ins[i].p);
		if (input_advance(&ins[i]) != 0)
			return -1;
	}
	return 0;
}

static int
ts_before(const struct timeval *a, const struct timeval *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_usec < b->tv_usec);
}

/* The input holding the earliest next packet (the first named on a tie), or -1. */
static int
earliest(const struct input *ins, int n)
{
	int best = -1;

	for (int i = 0; i < n; i++)
		if (ins[i].h != NULL && (best < 0 || ts_before(&ins[i].h->ts, &ins[best].h->ts)))
			best = i;
	return best;
}

static int
merge(struct input *ins, int n, pcap_dumper_t *out)
{
	int i;

	while ((i = earliest(ins, n)) >= 0) {
		pcap_dump((u_char *)out, ins[i].h, ins[i].data);
		ins[i].packets++;
		if (input_advance(&ins[i]) != 0)
			return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *out_path = NULL;
	struct input *ins;
	pcap_t *dead = NULL;
	pcap_dumper_t *out = NULL;
	unsigned long total = 0;
	int ch, n, snaplen, rc = 1;

	while ((ch = getopt(argc, argv, "o:")) != -1) {
		if (ch != 'o')
			usage();
		out_path = optarg;
	}
	n = argc - optind;
	if (out_path == NULL || n < 2)
		usage();
	if ((ins = calloc((size_t)n, sizeof *ins)) == NULL) {
		fprintf(stderr, "pcapmerge: out of memory\n");
		return 1;
	}
	for (int i = 0; i < n; i++)
		ins[i].path = argv[optind + i];
	if (inputs_open(ins, n, &snaplen) != 0)
		goto done;
	if ((dead = pcap_open_dead(pcap_datalink(ins[0].p), snaplen)) == NULL ||
	    (out = pcap_dump_open(dead, out_path)) == NULL) {
		fprintf(stderr, "pcapmerge: %s: %s\n", out_path,
		    dead ? pcap_geterr(dead) : "pcap_open_dead failed");
		goto done;
	}
	rc = merge(ins, n, out) != 0;
	if (pcap_dump_flush(out) != 0) {
		fprintf(stderr, "pcapmerge: %s: write failed\n", out_path);
		rc = 1;
	}
	for (int i = 0; i < n; i++)
		total += ins[i].packets;
	if (rc == 0)
		fprintf(stderr, "pcapmerge: %lu packets from %d captures\n", total, n);
done:
	if (out)
		pcap_dump_close(out);
	if (dead)
		pcap_close(dead);
	for (int i = 0; i < n; i++)
		if (ins[i].p)
			pcap_close(ins[i].p);
	free(ins);
	return rc;
}
