/*
 * pcapstretch - rescale and shift the timestamps of a capture.
 *
 * Slow exfiltration patterns (a POST every few minutes for hours) are
 * recorded fast by pcaps/record.sh and then stretched in time with this
 * tool, and every sample capture is moved to a fixed, documented start
 * time with "-f 1 -s EPOCH".  Each packet's offset from the first packet is
 * multiplied by FACTOR; packet bytes and lengths are copied unchanged.
 *
 *   usage: pcapstretch -f FACTOR [-s START_EPOCH] in.pcap out.pcap
 *
 * Time is handled in signed microseconds so that a capture whose
 * timestamps go slightly backwards (it happens with multi-queue capture)
 * keeps its order of packets and its shape.  Standalone: libpcap only.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h> /* isfinite: a macro, no libm needed */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "pcapio.h"

#define USEC_PER_SEC 1000000LL

struct stretch_opts {
	double factor;      /* multiplier for offsets from the first packet */
	int have_start;     /* 1 if start_usec is set */
	int64_t start_usec; /* absolute time of the first packet */
	const char *in_path;
	const char *out_path;
};

static void usage(void)
{
	fprintf(stderr,
	    "usage: pcapstretch -f FACTOR [-s START_EPOCH] in.pcap out.pcap\n"
	    "  -f FACTOR       multiply each packet's offset from the first packet\n"
	    "                  by FACTOR (> 0; 1 keeps the spacing)\n"
	    "  -s START_EPOCH  put the first packet at this time (seconds since\n"
	    "                  1970-01-01 UTC, fractions allowed); default: keep it\n");
}

/* Parses a finite number; returns 0 on success, -1 if s is not one. */
static int parse_double(const char *s, double *out)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* Rounds to the nearest integer; local so the tool needs no libm. */
static int64_t round_i64(double x)
{
	return (int64_t)(x >= 0 ? x + 0.5 : x - 0.5);
}

static int parse_args(int argc, char **argv, struct stretch_opts *o)
{
	int ch;
	double start;

	memset(o, 0, sizeof(*o));
	o->factor = 1.0;
	while ((ch = getopt(argc, argv, "f:s:h")) != -1) {
		switch (ch) {
		case 'f':
			if (parse_double(optarg, &o->factor) < 0 || o->factor <= 0) {
				fprintf(stderr, "pcapstretch: bad factor '%s'\n", optarg);
				return -1;
			}
			break;
		case 's':
			if (parse_double(optarg, &start) < 0 || start < 0 || start > 4e9) {
				fprintf(stderr, "pcapstretch: bad start '%s'\n", optarg);
				return -1;
			}
			o->have_start = 1;
			o->start_usec = round_i64(start * (double)USEC_PER_SEC);
			break;
		default:
			return -1;
		}
	}
	if (argc - optind != 2)
		return -1;
	o->in_path = argv[optind];
	o->out_path = argv[optind + 1];
	return 0;
}

static int64_t tv_to_usec(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * USEC_PER_SEC + (int64_t)tv->tv_usec;
}

static void usec_to_tv(int64_t usec, struct timeval *tv)
{
	if (usec < 0)
		usec = 0; /* before 1970: clamp, pcap has no such times */
	tv->tv_sec = (time_t)(usec / USEC_PER_SEC);
	tv->tv_usec = (suseconds_t)(usec % USEC_PER_SEC);
}

/* Copies every packet of in to out with rescaled times; returns packets or -1. */
static long stretch(pcap_t *in, pcap_dumper_t *out, const struct stretch_opts *o)
{
	struct pcap_pkthdr *h;
	const u_char *bytes;
	struct pcap_pkthdr nh;
	int64_t first = 0, base = 0, off;
	long n = 0;
	int rc;

	while ((rc = pcap_next_ex(in, &h, &bytes)) == 1) {
		if (n == 0) {
			first = tv_to_usec(&h->ts);
			base = o->have_start ? o->start_usec : first;
		}
		off = tv_to_usec(&h->ts) - first;
		nh = *h;
		usec_to_tv(base + round_i64((double)off * o->factor), &nh.ts);
		pcap_dump((u_char *)out, &nh, bytes);
		n++;
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "pcapstretch: %s: %s\n", o->in_path, pcap_geterr(in));
		return -1;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct stretch_opts o;
	struct pcapio io;
	long n;

	if (parse_args(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	if (pcapio_open(&io, "pcapstretch", o.in_path, o.out_path) != 0)
		return 1;
	n = stretch(io.in, io.out, &o);
	if (pcapio_close(&io, "pcapstretch", o.out_path) != 0)
		n = -1;
	if (n < 0)
		return 1;
	fprintf(stderr, "pcapstretch: %ld packets, factor %g\n", n, o.factor);
	return 0;
}
