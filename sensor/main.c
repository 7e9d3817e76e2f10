/*
 * main - options, start-up order, signal flags. Everything else is
 * sensor.c's: this file only turns the command line into a
 * struct sensor_config and runs it.
 *
 * Start-up order matters: the rules are loaded and checked before the
 * capture opens, so a bad rule file never leaves a half-started sensor on a
 * tap.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect.h"
#include "dpi.h"
#include "log.h"
#include "rules.h"
#include "sensor.h"

#define OUTFLOW_VERSION "0.1.0"

enum {
	OPT_HOME_NET = 256, OPT_RULES, OPT_SET, OPT_CHECK_RULES, OPT_REDIS, OPT_SENSOR_NAME,
	OPT_STATS_INTERVAL, OPT_TICK, OPT_MAX_FLOWS, OPT_MAX_HOSTS, OPT_MAX_DESTS,
	OPT_MAX_ENGAGED, OPT_REDIS_CHANNEL, OPT_REDIS_STREAM, OPT_REDIS_STATS_CHANNEL,
	OPT_REDIS_MAXLEN, OPT_REDIS_QUEUE, OPT_REDIS_DRAIN, OPT_NO_PROMISC, OPT_PROGRESS,
	OPT_NO_PROGRESS, OPT_TIMEOUT, OPT_CHROOT, OPT_SPOOL_DIR, OPT_SPOOL_MAX,
	OPT_STATE_DIR, OPT_MAX_DEST_DETAILS, OPT_EVIDENCE_DIR, OPT_EVIDENCE_RING, OPT_EVIDENCE_MAX,
	OPT_MAX_PEERS, OPT_MAX_CONNS, OPT_MAX_BASELINE_HOSTS,
	OPT_MAX_DNS_PAIRS, OPT_MAX_DNS_DOMAINS, OPT_MAX_ICMP_PAIRS,
	OPT_MAX_STAGING, OPT_MAX_NEWDEST, OPT_MAX_RISK, OPT_FANOUT,
};

static const struct option long_opts[] = {
	{ "read", required_argument, NULL, 'r' },
	{ "interface", required_argument, NULL, 'i' },
	{ "filter", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "buffer", required_argument, NULL, 'B' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "home-net", required_argument, NULL, OPT_HOME_NET },
	{ "rules", required_argument, NULL, OPT_RULES },
	{ "set", required_argument, NULL, OPT_SET },
	{ "check-rules", required_argument, NULL, OPT_CHECK_RULES },
	{ "redis", required_argument, NULL, OPT_REDIS },
	{ "redis-channel", required_argument, NULL, OPT_REDIS_CHANNEL },
	{ "redis-stream", required_argument, NULL, OPT_REDIS_STREAM },
	{ "redis-stats-channel", required_argument, NULL, OPT_REDIS_STATS_CHANNEL },
	{ "redis-maxlen", required_argument, NULL, OPT_REDIS_MAXLEN },
	{ "redis-queue", required_argument, NULL, OPT_REDIS_QUEUE },
	{ "redis-drain", required_argument, NULL, OPT_REDIS_DRAIN },
	{ "sensor-name", required_argument, NULL, OPT_SENSOR_NAME },
	{ "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
	{ "tick", required_argument, NULL, OPT_TICK },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "max-hosts", required_argument, NULL, OPT_MAX_HOSTS },
	{ "max-dests", required_argument, NULL, OPT_MAX_DESTS },
	{ "max-dest-details", required_argument, NULL, OPT_MAX_DEST_DETAILS },
	{ "max-engaged", required_argument, NULL, OPT_MAX_ENGAGED },
	{ "max-peers", required_argument, NULL, OPT_MAX_PEERS },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-baseline-hosts", required_argument, NULL, OPT_MAX_BASELINE_HOSTS },
	{ "max-dns-pairs", required_argument, NULL, OPT_MAX_DNS_PAIRS },
	{ "max-dns-domains", required_argument, NULL, OPT_MAX_DNS_DOMAINS },
	{ "max-icmp-pairs", required_argument, NULL, OPT_MAX_ICMP_PAIRS },
	{ "max-staging", required_argument, NULL, OPT_MAX_STAGING },
	{ "max-newdest", required_argument, NULL, OPT_MAX_NEWDEST },
	{ "max-risk", required_argument, NULL, OPT_MAX_RISK },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "no-promisc", no_argument, NULL, OPT_NO_PROMISC },
	{ "fanout", required_argument, NULL, OPT_FANOUT },
	{ "user", required_argument, NULL, 'Z' },
	{ "chroot", required_argument, NULL, OPT_CHROOT },
	{ "spool-dir", required_argument, NULL, OPT_SPOOL_DIR },
	{ "spool-max", required_argument, NULL, OPT_SPOOL_MAX },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "evidence-dir", required_argument, NULL, OPT_EVIDENCE_DIR },
	{ "evidence-ring", required_argument, NULL, OPT_EVIDENCE_RING },
	{ "evidence-max", required_argument, NULL, OPT_EVIDENCE_MAX },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: outflow (-r FILE | -i IFACE) [options]\n"
"       outflow --check-rules PATH [--set NAME=VALUE ...]\n"
"\n"
"Input\n"
"  -r, --read FILE          replay a pcap/pcapng file as fast as possible (- = stdin)\n"
"  -i, --interface IFACE    capture live (promiscuous)\n"
"  -f, --filter BPF         capture filter\n"
"  -s, --snaplen N          live: bytes kept per packet (default 262144)\n"
"  -B, --buffer MiB         live: kernel capture buffer size\n"
"      --no-promisc         live: do not put the interface in promiscuous mode\n"
"      --fanout GROUP       live: share IFACE with the other outflow processes started\n"
"                           with the same GROUP (0-65535), each internal host (HOME_NET)\n"
"                           on exactly one of them; give each its own --sensor-name\n"
"Detection\n"
"      --rules PATH         rule file (default rules/default.rules)\n"
"      --set NAME=VALUE     override a rule variable (repeatable)\n"
"      --home-net CIDR,...  internal networks (same as --set HOME_NET=...)\n"
"      --check-rules PATH   validate a rule file, print a summary, exit\n"
"      --tick SECONDS       detector evaluation period in packet time (default 10)\n"
"      --state-dir DIR      keep what detectors learn (first-seen destinations,\n"
"                           baselines) in DIR across restarts (default: nothing kept)\n"
"Output\n"
"  -o, --output FILE        append alerts as JSON lines (- = stdout)\n"
"      --redis URL          redis://[user:password@]host:port/db or unix:///path\n"
"      --redis-channel NAME        PUBLISH channel (default outflow:alerts)\n"
"      --redis-stream NAME         XADD stream (default outflow:alerts:stream)\n"
"      --redis-stats-channel NAME  stats channel (default outflow:stats)\n"
"      --redis-maxlen N     stream MAXLEN ~ N (default 100000)\n"
"      --redis-queue N      alerts held while Redis is away (default 65536)\n"
"      --redis-drain MS     at exit, wait this long for delivery (default 10000)\n"
"      --spool-dir DIR      alerts beyond the queue spill to DIR while Redis is away,\n"
"                           and are delivered from it on reconnect or next start\n"
"      --spool-max MiB      spool size cap (default 256)\n"
"      --evidence-dir DIR   write each new alert's recent packets (its host, its\n"
"                           destination) to DIR/<alert_id>.pcap, named in the alert\n"
"      --evidence-ring MiB  recent packets kept for that (default 64)\n"
"      --evidence-max MiB   evidence written per run, at most (default 1024)\n"
"      --sensor-name NAME   the \"sensor\" field (default outflow)\n"
"      --stats-interval S   stats every S seconds (default 60, 0 = at exit only)\n"
"  -q, --quiet              no periodic stats or progress on stderr\n"
"Privileges\n"
"  -Z, --user USER          after opening the capture, run as USER (default when root\n"
"                           and capturing live: nobody; '-Z root' keeps root)\n"
"      --chroot DIR         and chroot to DIR first (rules reloads then read inside it)\n"
"      --progress / --no-progress   force the replay progress line on or off\n"
"Limits (memory is bounded by these, never by traffic)\n"
"      --max-flows N        concurrent flows (default 1048576)\n"
"      --max-hosts N        internal hosts tracked (default 16384)\n"
"      --max-dests N        (host, destination) pairs tracked (default 131072)\n"
"      --max-dest-details N of them with full minute/hour rings (default max-dests/16)\n"
"      --max-engaged N      engaged alerts remembered (default 65536)\n"
"      --max-peers N        (host, destination domain) ledger entries (default 32768)\n"
"      --max-conns N        long open connections tracked (default 16384)\n"
"      --max-baseline-hosts N  hosts with a learned hourly baseline (default 16384)\n"
"      --max-dns-pairs N    (host, DNS registered domain) pairs tracked (default 32768)\n"
"      --max-dns-domains N  domains tracked per host; the heaviest stay (default 64)\n"
"      --max-icmp-pairs N   (host, peer) ICMP echo pairs tracked (default 16384)\n"
"      --max-staging N      hosts with a collect-then-send episode (default 16384)\n"
"      --max-newdest N      first-seen destinations remembered (default 262144)\n"
"      --max-risk N         hosts with an accumulated alert risk (default 4096)\n"
"      --timeout CLASS=S    flow idle timeout: tcp, tcp-closed, udp, other\n"
"  -v, --verbose   -V, --version   -h, --help\n");
}

static void
on_stop(int sig)
{
	/* A second signal stops at once: the first one's graceful flush is stuck. */
	if (sensor_stop_requested)
		_exit(128 + sig);
	sensor_stop_requested = 1;
}

static void
on_hup(int sig)
{
	(void)sig;
	sensor_reload_requested = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static unsigned long long
num_arg(const char *opt, const char *s, unsigned long long min, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max || s[0] == '-')
		fatalx("%s: '%s' is not a number in %llu..%llu", opt, s, min, max);
	return v;
}

static void
add_set(struct sensor_config *cfg, const char *name, const char *value)
{
	if (cfg->nsets >= SENSOR_MAX_SETS)
		fatalx("too many --set options (at most %d)", SENSOR_MAX_SETS);
	cfg->sets[cfg->nsets].name = name;
	cfg->sets[cfg->nsets].value = value;
	cfg->nsets++;
}

static void
parse_timeout(struct sensor_config *cfg, char *arg)
{
	static const char *const names[] = { "tcp", "tcp-closed", "udp", "other" };
	char *eq = strchr(arg, '=');

	if (eq == NULL)
		fatalx("--timeout: expected CLASS=SECONDS, e.g. udp=120");
	*eq = '\0';
	for (int i = 0; i < 4; i++) {
		if (strcmp(arg, names[i]) == 0) {
			cfg->timeout_s[i] = (uint32_t)num_arg("--timeout", eq + 1, 1, 86400);
			return;
		}
	}
	fatalx("--timeout: unknown class '%s' (tcp, tcp-closed, udp, other)", arg);
}

/*
 * Drops root once the capture is open, before the first packet is parsed:
 * the decoder and nDPI then run without privileges (OpenBSD tcpdump's
 * order). Group list first, then gid, then uid, then a check that root
 * cannot be regained.
 */
static void
drop_privileges(const char *user, const char *chroot_dir)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (chroot_dir != NULL)
			fatalx("--chroot needs root");
		return;
	}
	if (user != NULL && strcmp(user, "root") == 0 && chroot_dir == NULL)
		return;
	if ((pw = getpwnam(user ? user : "nobody")) == NULL)
		fatalx("-Z: no such user '%s'", user ? user : "nobody");
	if (chroot_dir != NULL) {
		if (chroot(chroot_dir) != 0 || chdir("/") != 0)
			fatal("chroot %s", chroot_dir);
	}
	if (pw->pw_uid == 0)
		return;
	if (setgroups(1, &pw->pw_gid) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
		fatal("cannot drop privileges to %s", pw->pw_name);
	if (setuid(0) == 0)
		fatalx("dropped privileges to %s but could regain root", pw->pw_name);
	log_info("running as %s%s%s", pw->pw_name, chroot_dir ? " in " : "", chroot_dir ? chroot_dir : "");
}

static int
check_rules(const char *path, struct sensor_config *cfg)
{
	struct ruleset *rs = NULL;
	struct rules_errors errs = { 0 };
	char line[1024];

	if (rules_load(path, cfg->sets, cfg->nsets, &rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		fprintf(stderr, "%s: %zu error%s\n", path, errs.n, errs.n == 1 ? "" : "s");
		rules_errors_free(&errs);
		return 1;
	}
	/* nDPI names in except clauses are checked against nDPI itself. */
	char err[4096];
	struct dpi *dpi = dpi_new(NULL, err, sizeof err);
	struct detect_config dc = { .sensor_name = "check", .max_engaged = 16 };
	struct detect *det = dpi ? detect_new(&dc, dpi, NULL, NULL, err, sizeof err) : NULL;
	/* Modules register for their scope only: nothing is evaluated here. */
	if (det != NULL)
		sensor_register_scopes(det);
	int bad = det == NULL || detect_set_rules(det, rs, err, sizeof err) != 0;
	detect_free(det);
	dpi_free(dpi);
	if (bad) {
		fprintf(stderr, "%s\n%s: rules not valid\n", err, path);
		ruleset_free(rs);
		rules_errors_free(&errs);
		return 1;
	}
	for (size_t i = 0; i < rs->nrules; i++) {
		rule_summary(&rs->rules[i], line, sizeof line);
		printf("%s\n", line);
	}
	printf("rules OK: %zu rules in %s\n", rs->nrules, path);
	ruleset_free(rs);
	rules_errors_free(&errs);
	return 0;
}

/* rules/default.rules next to the binary's checkout, or relative to the cwd. */
static const char *
default_rules_path(const char *argv0)
{
	static char buf[PATH_MAX + 32];
	char self[PATH_MAX];
	ssize_t n;

	if (access("rules/default.rules", R_OK) == 0)
		return "rules/default.rules";
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(buf, sizeof buf, "%s/../rules/default.rules", self);
			if (access(buf, R_OK) == 0)
				return buf;
		}
	}
	(void)argv0;
	return "/etc/outflow/default.rules";
}

int
main(int argc, char **argv)
{
	struct sensor_config cfg;
	struct sensor *s;
	const char *check = NULL, *user = NULL, *chroot_dir = NULL;
	char err[1024];
	int c, verbose = 0, status;

	sensor_config_defaults(&cfg);
	while ((c = getopt_long(argc, argv, "r:i:f:o:s:B:qvhVZ:", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r': cfg.cap.file = optarg; break;
		case 'i': cfg.cap.iface = optarg; break;
		case 'f': cfg.cap.bpf = optarg; break;
		case 'o': cfg.out_path = optarg; break;
		case 's': cfg.cap.snaplen = (int)num_arg("-s", optarg, 64, 262144); break;
		case 'B': cfg.cap.buffer_mb = (int)num_arg("-B", optarg, 1, 4096); break;
		case 'q': cfg.quiet = 1; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("outflow %s\n", OUTFLOW_VERSION); return 0;
		case OPT_HOME_NET: add_set(&cfg, "HOME_NET", optarg); break;
		case OPT_RULES: cfg.rules_path = optarg; break;
		case OPT_SET: {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg)
				fatalx("--set: expected NAME=VALUE, got '%s'", optarg);
			*eq = '\0';
			add_set(&cfg, optarg, eq + 1);
			break;
		}
		case OPT_CHECK_RULES: check = optarg; break;
		case OPT_REDIS: cfg.redis_url = optarg; break;
		case OPT_REDIS_CHANNEL: cfg.redis_channel = optarg; break;
		case OPT_REDIS_STREAM: cfg.redis_stream = optarg; break;
		case OPT_REDIS_STATS_CHANNEL: cfg.redis_stats_channel = optarg; break;
		case OPT_REDIS_MAXLEN: cfg.redis_maxlen = num_arg("--redis-maxlen", optarg, 1, 1ULL << 40); break;
		case OPT_REDIS_QUEUE: cfg.redis_queue = num_arg("--redis-queue", optarg, 1, 1u << 24); break;
		case OPT_REDIS_DRAIN: cfg.redis_drain_ms = (int)num_arg("--redis-drain", optarg, 0, 3600000); break;
		case OPT_SENSOR_NAME: cfg.sensor_name = optarg; break;
		case OPT_STATS_INTERVAL: cfg.stats_interval_s = (int)num_arg("--stats-interval", optarg, 0, 86400); break;
		case OPT_TICK: cfg.tick_s = (uint32_t)num_arg("--tick", optarg, 1, 3600); break;
		case OPT_MAX_FLOWS: cfg.max_flows = num_arg("--max-flows", optarg, 16, 1u << 28); break;
		case OPT_MAX_HOSTS: cfg.max_hosts = num_arg("--max-hosts", optarg, 16, 1u << 24); break;
		case OPT_MAX_DESTS: cfg.max_dests = num_arg("--max-dests", optarg, 16, 1u << 26); break;
		case OPT_MAX_DEST_DETAILS:
			cfg.max_dest_details = num_arg("--max-dest-details", optarg, 1, 1u << 24);
			break;
		case OPT_MAX_PEERS: cfg.max_peers = num_arg("--max-peers", optarg, 16, 1u << 24); break;
		case OPT_MAX_ENGAGED: cfg.max_engaged = num_arg("--max-engaged", optarg, 16, 1u << 24); break;
		case OPT_MAX_CONNS: cfg.max_conns = num_arg("--max-conns", optarg, 16, 1u << 24); break;
		case OPT_MAX_BASELINE_HOSTS:
			cfg.max_baseline_hosts = num_arg("--max-baseline-hosts", optarg, 16, 1u << 22);
			break;
		case OPT_MAX_DNS_PAIRS: cfg.max_dns_pairs = num_arg("--max-dns-pairs", optarg, 16, 1u << 24); break;
		case OPT_MAX_DNS_DOMAINS: cfg.max_dns_domains = num_arg("--max-dns-domains", optarg, 1, 4096); break;
		case OPT_MAX_ICMP_PAIRS: cfg.max_icmp_pairs = num_arg("--max-icmp-pairs", optarg, 16, 1u << 24); break;
		case OPT_MAX_STAGING: cfg.max_staging = num_arg("--max-staging", optarg, 16, 1u << 24); break;
		case OPT_MAX_NEWDEST: cfg.max_newdest = num_arg("--max-newdest", optarg, 16, 1u << 26); break;
		case OPT_MAX_RISK: cfg.max_risk = num_arg("--max-risk", optarg, 16, 1u << 24); break;
		case OPT_TIMEOUT: parse_timeout(&cfg, optarg); break;
		case OPT_NO_PROMISC: cfg.cap.promisc = 0; break;
		case OPT_FANOUT:
			cfg.cap.fanout = 1;
			cfg.cap.fanout_group = (uint16_t)num_arg("--fanout", optarg, 0, 65535);
			break;
		case 'Z': user = optarg; break;
		case OPT_CHROOT: chroot_dir = optarg; break;
		case OPT_SPOOL_DIR: cfg.spool_dir = optarg; break;
		case OPT_STATE_DIR: cfg.state_dir = optarg; break;
		case OPT_EVIDENCE_DIR: cfg.evidence_dir = optarg; break;
		case OPT_EVIDENCE_RING: cfg.evidence_ring_mb = num_arg("--evidence-ring", optarg, 1, 65536); break;
		case OPT_EVIDENCE_MAX: cfg.evidence_max_mb = num_arg("--evidence-max", optarg, 1, 1u << 24); break;
		case OPT_SPOOL_MAX: cfg.spool_max_bytes = num_arg("--spool-max", optarg, 1, 1u << 20) << 20; break;
		case OPT_PROGRESS: cfg.progress = 1; break;
		case OPT_NO_PROGRESS: cfg.progress = 0; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "outflow: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("outflow", verbose);
	if (check != NULL)
		return check_rules(check, &cfg);
	if ((cfg.cap.file == NULL) == (cfg.cap.iface == NULL)) {
		fprintf(stderr, "outflow: give exactly one of -r FILE or -i IFACE\n");
		usage(stderr);
		return 2;
	}
	if (cfg.cap.fanout && cfg.cap.file != NULL) {
		fprintf(stderr, "outflow: --fanout needs a live interface (-i); a file (-r) is read whole "
		    "by one sensor\n");
		return 2;
	}
	if (cfg.rules_path == NULL)
		cfg.rules_path = default_rules_path(argv[0]);
	/* With no sink named, alerts go to stdout: a replay should show what it found. */
	if (cfg.out_path == NULL && cfg.redis_url == NULL)
		cfg.out_path = "-";

	if ((s = sensor_new(&cfg, err, sizeof err)) == NULL)
		fatalx("%s", err);
	install_signals();
	if (sensor_open_capture(s, err, sizeof err) != 0) {
		sensor_free(s);
		fatalx("%s", err);
	}
	/* Live capture as root drops to nobody unless told otherwise; a replay needs no privileges either. */
	if (user != NULL || chroot_dir != NULL || cfg.cap.iface != NULL)
		drop_privileges(user, chroot_dir);
	if (sensor_open_redis(s, err, sizeof err) != 0) {
		sensor_free(s);
		fatalx("%s", err);
	}
	status = sensor_run(s);
	sensor_free(s);
	return status;
}
