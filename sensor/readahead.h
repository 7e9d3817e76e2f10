/*
 * readahead - reads a capture file on a thread of its own, a few blocks
 * ahead of the analysis.
 *
 * Reading a file is libpcap's work between packets: read(2) and the page
 * cache's copy, record parsing, the BPF filter. On the mixed benchmark
 * capture that is a sixth of the sensor's time, all of it independent of
 * the analysis, so it runs on the second core instead: a thread copies
 * packets into a ring of blocks and the caller takes them out in order.
 * The caller sees exactly what pcap_next_ex() would have given it (the
 * same packets, order, timestamps and lengths, then the same end: end of
 * file, or an error with libpcap's message after the packets before it).
 *
 * Owns: the thread, the blocks (RA_BLOCKS x RA_BLOCK_BYTES, a block grown
 * only for a packet larger than that) and the pcap handle while running.
 * Only for regular files: a pipe's read can block for ever, and a thread
 * stuck in read(2) could not be stopped.
 */
#ifndef OUTFLOW_READAHEAD_H
#define OUTFLOW_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

#include <pcap/pcap.h>

#include "capture.h"

#define RA_BLOCKS	4
#define RA_BLOCK_BYTES	(128u << 10)

struct readahead;

/* Starts reading p (an offline handle, filter already set); NULL with a message if it cannot. */
struct readahead *readahead_start(pcap_t *p, char *err, size_t errlen);

/*
 * Stops the thread and frees everything; p is the caller's again (its
 * position is wherever the thread stopped). NULL is fine.
 */
void readahead_stop(struct readahead *ra);

/*
 * The next packet (CAPTURE_PACKET; the data stays valid until the next
 * call), or how the file ended: CAPTURE_EOF, or CAPTURE_ERROR with the
 * message in readahead_error(). The end repeats on later calls.
 */
enum capture_rc readahead_next(struct readahead *ra, struct capture_pkt *out);

const char *readahead_error(const struct readahead *ra);

/* File offset just past the block being handed out (progress, stats). */
uint64_t readahead_pos(const struct readahead *ra);

/*
 * How many times the thread found the ring full and waited: each wait
 * ends with one wake from the caller, a system call on the analysis thread.
 */
uint64_t readahead_waits(struct readahead *ra);

/* End of file at the next call (as pcap_breakloop): safe in a signal handler. */
void readahead_break(struct readahead *ra);

#endif
