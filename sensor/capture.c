/*
 * capture - see capture.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>

#include <pcap/pcap.h>

#include "capture.h"
#include "decode.h"
#include "fanout.h"
#include "readahead.h"

struct capture {
	pcap_t *p;
	struct readahead *ra;	/* a regular file: read on a thread of its own */
	int ra_pending;		/* that thread starts with the first capture_next() */
	struct fanout *fanout;	/* live, --fanout: the group membership */
	int live;
	int timeout_ms;		/* live: longest wait in capture_next() */
	int dlt;
	uint64_t file_size;
	char err[PCAP_ERRBUF_SIZE + 64];
};

static int
capture_set_filter(struct capture *c, const char *bpf, char *err, size_t errlen)
{
	struct bpf_program prog;

	if (bpf == NULL || *bpf == '\0')
		return 0;
	if (pcap_compile(c->p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "bad filter '%s': %s", bpf, pcap_geterr(c->p));
		return -1;
	}
	if (pcap_setfilter(c->p, &prog) != 0) {
		snprintf(err, errlen, "cannot apply filter '%s': %s", bpf, pcap_geterr(c->p));
		pcap_freecode(&prog);
		return -1;
	}
	pcap_freecode(&prog);
	return 0;
}

static pcap_t *
capture_open_live(const struct capture_config *cfg, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(cfg->iface, ebuf);
	int rc;

	if (p == NULL) {
		snprintf(err, errlen, "%s: %s", cfg->iface, ebuf);
		return NULL;
	}
	pcap_set_snaplen(p, cfg->snaplen > 0 ? cfg->snaplen : 262144);
	pcap_set_promisc(p, cfg->promisc);
	pcap_set_timeout(p, cfg->timeout_ms > 0 ? cfg->timeout_ms : 100);
	if (cfg->buffer_mb > 0)
		pcap_set_buffer_size(p, cfg->buffer_mb * 1024 * 1024);
	/* Microseconds everywhere, so packet time means the same from files and wires. */
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO);
	rc = pcap_activate(p);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s%s%s", cfg->iface, pcap_statustostr(rc),
		    pcap_geterr(p)[0] ? ": " : "", pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	return p;
}

struct capture *
capture_open(const struct capture_config *cfg, char *err, size_t errlen)
{
	struct capture *c = calloc(1, sizeof *c);
	char ebuf[PCAP_ERRBUF_SIZE] = "";

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg->file != NULL) {
		c->p = pcap_open_offline_with_tstamp_precision(cfg->file, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
		if (c->p == NULL) {
			snprintf(err, errlen, "%s: %s", cfg->file, ebuf);
			free(c);
			return NULL;
		}
		struct stat st;
		FILE *f = pcap_file(c->p);
		if (f != NULL && strcmp(cfg->file, "-") != 0 && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
			c->file_size = (uint64_t)st.st_size;
	} else {
		c->p = capture_open_live(cfg, err, errlen);
		if (c->p == NULL) {
			free(c);
			return NULL;
		}
		c->live = 1;
		c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 100;
		/*
		 * Non-blocking, and capture_next() polls with its own timeout:
		 * libpcap's TPACKET_V3 reader polls with no timeout at all (it
		 * counts on the kernel retiring a block, which never happens on a
		 * quiet interface) and retries after EINTR, so a sensor with no
		 * traffic, such as a fanout worker whose hosts are quiet, would
		 * neither tick nor stop on SIGTERM.
		 */
		if (pcap_setnonblock(c->p, 1, ebuf) != 0) {
			snprintf(err, errlen, "%s: %s", cfg->iface, ebuf);
			capture_close(c);
			return NULL;
		}
		/* After activation: the socket must be bound to the interface to join. */
		if (cfg->fanout && (c->fanout = fanout_join(pcap_fileno(c->p), cfg->fanout_group,
		    cfg->fanout_home, cfg->fanout_name, err, errlen)) == NULL) {
			capture_close(c);
			return NULL;
		}
	}
	c->dlt = pcap_datalink(c->p);
	if (!decode_dlt_supported(c->dlt)) {
		const char *name = pcap_datalink_val_to_name(c->dlt);
		const char *desc = pcap_datalink_val_to_description(c->dlt);
		snprintf(err, errlen, "%s: unsupported link type %s (%d%s%s); outflow decodes Ethernet, "
		    "Linux cooked v1/v2, raw IPv4/IPv6 and BSD loopback",
		    cfg->file ? cfg->file : cfg->iface, name ? name : "unknown", c->dlt,
		    desc ? ", " : "", desc ? desc : "");
		capture_close(c);
		return NULL;
	}
	if (capture_set_filter(c, cfg->bpf, err, errlen) != 0) {
		capture_close(c);
		return NULL;
	}
	/*
	 * Not yet: main.c drops privileges between opening the capture and
	 * asking for its first packet, and libpcap's parsing of the file's
	 * records must not run before that, on any thread.
	 */
	c->ra_pending = c->file_size > 0;
	return c;
}

void
capture_close(struct capture *c)
{
	if (c == NULL)
		return;
	readahead_stop(c->ra);	/* before the handle it reads */
	if (c->p)
		pcap_close(c->p);
	fanout_free(c->fanout);
	free(c);
}

void
capture_pkt_from(struct capture_pkt *out, const struct pcap_pkthdr *h, const uint8_t *data)
{
	/* A timestamp with tv_usec out of range is the file's lie; carry it over. */
	out->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
	out->caplen = h->caplen;
	out->wirelen = h->len < h->caplen ? h->caplen : h->len;
	out->data = data;
}

enum capture_rc
capture_next(struct capture *c, struct capture_pkt *out)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	if (c->ra_pending) {
		char err[128];
		c->ra_pending = 0;
		/* Without the thread (no memory for it) the file is read here, as stdin is. */
		c->ra = readahead_start(c->p, err, sizeof err);
	}
	if (c->ra != NULL)
		return readahead_next(c->ra, out);
	rc = pcap_next_ex(c->p, &h, &data);

	if (rc == 0 && c->live) {
		struct pollfd pfd = { .fd = pcap_get_selectable_fd(c->p), .events = POLLIN };
		/* Timeout or a signal (EINTR): idle, so the loop looks at its flags and clock. */
		if (poll(&pfd, 1, c->timeout_ms) <= 0)
			return CAPTURE_IDLE;
		rc = pcap_next_ex(c->p, &h, &data);
	}

	switch (rc) {
	case 1:
		capture_pkt_from(out, h, data);
		return CAPTURE_PACKET;
	case 0:
		return CAPTURE_IDLE;
	case PCAP_ERROR_BREAK:
		return c->live ? CAPTURE_IDLE : CAPTURE_EOF;
	default:
		snprintf(c->err, sizeof c->err, "%s", pcap_geterr(c->p));
		return CAPTURE_ERROR;
	}
}

int
capture_dlt(const struct capture *c)
{
	return c->dlt;
}

const char *
capture_dlt_name(const struct capture *c)
{
	const char *n = pcap_datalink_val_to_name(c->dlt);
	return n ? n : "unknown";
}

int
capture_is_live(const struct capture *c)
{
	return c->live;
}

const char *
capture_error(const struct capture *c)
{
	return c->ra != NULL ? readahead_error(c->ra) : c->err;
}

void
capture_get_stats(struct capture *c, struct capture_stats *out)
{
	struct pcap_stat ps;

	memset(out, 0, sizeof *out);
	if (c->live) {
		if (pcap_stats(c->p, &ps) == 0) {
			out->kernel_recv = ps.ps_recv;
			out->kernel_drop = ps.ps_drop;
			out->iface_drop = ps.ps_ifdrop;
		}
		return;
	}
	out->file_size = c->file_size;
	if (c->ra != NULL) {
		out->file_pos = readahead_pos(c->ra);	/* the thread owns the FILE's position */
		return;
	}
	FILE *f = pcap_file(c->p);
	if (f != NULL && c->file_size > 0) {
		long pos = ftell(f);
		out->file_pos = pos > 0 ? (uint64_t)pos : 0;
	}
}

void
capture_breakloop(struct capture *c)
{
	if (c->ra != NULL)
		readahead_break(c->ra);
	else
		pcap_breakloop(c->p);
}
