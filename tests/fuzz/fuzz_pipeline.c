/*
 * libFuzzer target: the whole pipeline, from pcap file bytes to alerts.
 * The input is read as a capture file (libpcap parses the file format);
 * every packet goes through decode, flows, nDPI, hosts and the detectors
 * with the default rules at very low thresholds, so the alert path runs too.
 * One sensor lives across inputs, as on a tap: state must stay bounded and
 * consistent whatever came before.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <pcap/pcap.h>

#include "log.h"
#include "sensor.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sensor *sensor;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct sensor_config cfg;
	char err[512];

	(void)argc;
	(void)argv;
	log_init("fuzz_pipeline", -1);
	sensor_config_defaults(&cfg);
	cfg.rules_path = getenv("OUTFLOW_RULES") ? getenv("OUTFLOW_RULES") : "rules/default.rules";
	cfg.out_path = "/dev/null";
	cfg.max_flows = 512;
	cfg.max_hosts = 64;
	cfg.max_dests = 256;
	cfg.max_engaged = 64;
	cfg.tick_s = 1;
	static const char *sets[][2] = { { "ELEPHANT_10M", "1KB" }, { "BULK_1H", "1KB" },
	    { "BULK_24H", "2KB" }, { "RATIO_MIN_1H", "1KB" }, { "RATIO_1H", "0.5" } };
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
		cfg.sets[cfg.nsets].name = sets[i][0];
		cfg.sets[cfg.nsets].value = sets[i][1];
		cfg.nsets++;
	}
	sensor = sensor_new(&cfg, err, sizeof err);
	if (sensor == NULL) {
		fprintf(stderr, "fuzz_pipeline: %s\n", err);
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	FILE *f = fmemopen((void *)data, size, "rb");
	pcap_t *p;
	struct pcap_pkthdr *h;
	const u_char *pkt;

	if (f == NULL)
		return 0;
	p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (p == NULL) {
		fclose(f);
		return 0;
	}
	int dlt = pcap_datalink(p);
	while (pcap_next_ex(p, &h, &pkt) == 1) {
		struct capture_pkt cp;
		capture_pkt_from(&cp, h, pkt);
		sensor_process(sensor, dlt, &cp);
	}
	sensor_finish(sensor);
	pcap_close(p);	/* closes f */
	return 0;
}
