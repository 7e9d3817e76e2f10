/*
 * pcapio.h - what the capture-rewriting tools share: open an input capture
 * and an output file of the same link type and snap length, with one
 * message naming what failed. Header-only, so each tool still builds from
 * its own .c file.
 */
#ifndef OUTFLOW_TOOLS_PCAPIO_H
#define OUTFLOW_TOOLS_PCAPIO_H

#include <stdio.h>

#include <pcap/pcap.h>

struct pcapio {
	pcap_t *in, *dead;
	pcap_dumper_t *out;
};

/* Returns 0, or 1 after printing "prog: what: why" (nothing left open). */
static inline int
pcapio_open(struct pcapio *io, const char *prog, const char *in_path, const char *out_path)
{
	char errbuf[PCAP_ERRBUF_SIZE];

	io->in = pcap_open_offline(in_path, errbuf);
	io->dead = NULL;
	io->out = NULL;
	if (io->in == NULL) {
		fprintf(stderr, "%s: %s\n", prog, errbuf);
		return 1;
	}
	io->dead = pcap_open_dead(pcap_datalink(io->in), pcap_snapshot(io->in));
	io->out = io->dead ? pcap_dump_open(io->dead, out_path) : NULL;
	if (io->out == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, out_path,
		    io->dead ? pcap_geterr(io->dead) : "pcap_open_dead failed");
		pcap_close(io->in);
		if (io->dead)
			pcap_close(io->dead);
		return 1;
	}
	return 0;
}

/* Flushes and closes everything; returns -1 if the output could not be written. */
static inline int
pcapio_close(struct pcapio *io, const char *prog, const char *out_path)
{
	int rc = 0;

	if (pcap_dump_flush(io->out) != 0) {
		fprintf(stderr, "%s: %s: write failed\n", prog, out_path);
		rc = -1;
	}
	pcap_dump_close(io->out);
	pcap_close(io->dead);
	pcap_close(io->in);
	return rc;
}

#endif
