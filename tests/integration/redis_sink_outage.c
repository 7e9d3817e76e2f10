/*
 * redis_sink_outage - drives the Redis sink for tests/integration/
 * test_redis_sink.sh: pushes COUNT alerts (ids PREFIX-000000, ...), one
 * every INTERVAL_US, then closes with DRAIN_MS and prints the final stats.
 *
 *   redis_sink_outage URL COUNT INTERVAL_US QUEUE_CAP DRAIN_MS [PREFIX [OPTION...]]
 *
 * OPTIONs (key=value): spool=DIR (spool_dir), spool_max=BYTES
 * (spool_max_bytes), start=N (the first id is PREFIX-N, for a second run).
 * With a spool, the drain waits for the spool to empty as well.
 *
 * stdout, for the script to parse:
 *   pushed accepted=N refused=N          (after the last push)
 *   delivered=N dropped=N reconnects=N undelivered=N spooled=N replayed=N
 *       spool_pending=N spool_bytes=N    (one line; the spool's before close)
 *   rate: N alerts in N ms (N alerts/s)  (push of the first .. close returns)
 * The sink's own log lines go to stderr. Exit status 0 unless the sink
 * could not be opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sink_redis.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct sink_redis_config cfg = { 0 };
	struct sink_redis_stats st;
	struct sink_redis *s;
	const char *prefix;
	char err[512], id[64], json[512];
	long count, interval_us, start = 0, accepted = 0, refused = 0;
	int drain_ms, remaining_ms, len;
	size_t left;
	double t0, t1, deadline;

	if (argc < 6) {
		fprintf(stderr, "usage: %s URL COUNT INTERVAL_US QUEUE_CAP DRAIN_MS"
		    " [PREFIX [spool=DIR] [spool_max=BYTES] [start=N]]\n", argv[0]);
		return 2;
	}
	log_init("redis_sink_outage", 0);
	cfg.url = argv[1];
	count = strtol(argv[2], NULL, 10);
	interval_us = strtol(argv[3], NULL, 10);
	cfg.queue_cap = (size_t)strtoul(argv[4], NULL, 10);
	drain_ms = atoi(argv[5]);
	prefix = argc >= 7 ? argv[6] : "a";
	cfg.connect_timeout_ms = 1000;
	for (int i = 7; i < argc; i++) {
		if (strncmp(argv[i], "spool=", 6) == 0)
			cfg.spool_dir = argv[i] + 6;
		else if (strncmp(argv[i], "spool_max=", 10) == 0)
			cfg.spool_max_bytes = strtoull(argv[i] + 10, NULL, 10);
		else if (strncmp(argv[i], "start=", 6) == 0)
			start = strtol(argv[i] + 6, NULL, 10);
		else {
			fprintf(stderr, "unknown option '%s'\n", argv[i]);
			return 2;
		}
	}

	if ((s = sink_redis_open(&cfg, err, sizeof err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = now_s();
	for (long i = start; i < start + count; i++) {
		snprintf(id, sizeof id, "%s-%06ld", prefix, i);
		/* Spaces, quotes, backslashes and UTF-8: only argv with
		 * explicit lengths gets these through intact. */
		len = snprintf(json, sizeof json,
		    "{\"id\":\"%s\",\"seq\":%ld,\"type\":\"exfil \\\"dns\\\"\","
		    "\"note\":\"a b\\\\c d\\u00e9 \xc3\xa9\"}", id, i);
		if (sink_redis_push(s, SINK_REDIS_ALERT, id, json, (size_t)len) == 0)
			accepted++;
		else
			refused++;
		if (interval_us > 0)
			usleep((useconds_t)interval_us);
	}
	printf("pushed accepted=%ld refused=%ld\n", accepted, refused);
	fflush(stdout);
	/*
	 * close() returns only the undelivered count, so wait for the queue
	 * to empty here (bounded by the drain time) and read the stats then:
	 * a reconnect during the drain must show up in them.
	 */
	deadline = now_s() + drain_ms / 1000.0;
	for (;;) {
		sink_redis_get_stats(s, &st);
		if ((st.depth == 0 && st.spool_pending == 0) || now_s() >= deadline)
			break;
		usleep(10 * 1000);
	}
	remaining_ms = (int)((deadline - now_s()) * 1000);
	left = sink_redis_close(s, remaining_ms > 0 ? remaining_ms : 0);
	t1 = now_s();
	if (left == 0 && cfg.spool_dir == NULL)
		st.delivered = (uint64_t)accepted;	/* delivered during close */
	printf("delivered=%llu dropped=%llu reconnects=%llu undelivered=%zu spooled=%llu"
	    " replayed=%llu spool_pending=%llu spool_bytes=%llu\n",
	    (unsigned long long)st.delivered, (unsigned long long)st.dropped,
	    (unsigned long long)st.reconnects, left, (unsigned long long)st.spooled,
	    (unsigned long long)st.replayed, (unsigned long long)st.spool_pending,
	    (unsigned long long)st.spool_bytes);
	printf("rate: %ld alerts in %.0f ms (%.0f alerts/s)\n", count, (t1 - t0) * 1000,
	    (double)count / (t1 - t0));
	return 0;
}
