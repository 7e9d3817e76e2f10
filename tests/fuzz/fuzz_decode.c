/*
 * libFuzzer target: the packet decoder. The first byte picks the link
 * type, the rest is the frame; every result must come back without reading
 * outside the (exact-size) buffer, and an OK result must describe bytes
 * inside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/dlt.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, 12, 14, 101,
    DLT_IPV4, DLT_IPV6, DLT_NULL, DLT_LOOP };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt p;
	uint8_t *copy;

	if (size < 1)
		return 0;
	int dlt = dlts[data[0] % (sizeof dlts / sizeof dlts[0])];
	size--;
	copy = malloc(size ? size : 1);	/* exact size, so ASan sees any over-read */
	memcpy(copy, data + 1, size);
	if (decode_packet(dlt, copy, (uint32_t)size, (uint32_t)size + (data[0] >> 4) * 100u,
	    1, &p) == DECODE_OK) {
		if (p.l3 < copy || p.l3 + p.l3_caplen > copy + size)
			abort();
		if (p.payload_caplen && (p.payload < copy || p.payload + p.payload_caplen > copy + size))
			abort();
		if (p.payload_caplen > p.payload_len && p.frag != PKT_FRAG_LATER)
			abort();
	}
	free(copy);
	return 0;
}
