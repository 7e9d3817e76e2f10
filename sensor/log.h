/*
 * log - the sensor's diagnostics, in the OpenBSD daemons' style.
 *
 * log_warn() appends strerror(errno), log_warnx() does not; fatal()/fatalx()
 * are for start-up only (the packet path never exits). Everything goes to
 * stderr, one line per message, prefixed with the program name, so a
 * supervisor (systemd, a CI log) keeps it in order with the stats lines.
 */
#ifndef OUTFLOW_LOG_H
#define OUTFLOW_LOG_H

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

void log_init(const char *progname, int verbose);
int  log_verbose(void);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

/* A broken invariant: stop loudly with file and line (never on bad input). */
#define OF_ASSERT(c) \
	do { if (!(c)) fatalx("%s:%d: assertion failed: %s", __FILE__, __LINE__, #c); } while (0)

#endif
