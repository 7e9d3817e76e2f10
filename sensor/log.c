/*
 * log - see log.h. The program name and verbosity are set once at start-up,
 * before any thread exists, and only read afterwards.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *log_prog = "outflow";
static int log_level;

void
log_init(const char *progname, int verbose)
{
	log_prog = progname;
	log_level = verbose;
}

int
log_verbose(void)
{
	return log_level;
}

static void
log_vemit(const char *tag, int with_errno, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (with_errno)
		fprintf(stderr, "%s: %s%s: %s\n", log_prog, tag, msg, strerror(saved));
	else
		fprintf(stderr, "%s: %s%s\n", log_prog, tag, msg);
	errno = saved;
}

#define LOG_BODY(tag, err) \
	va_list ap; va_start(ap, fmt); log_vemit(tag, err, fmt, ap); va_end(ap)

void log_warn(const char *fmt, ...)  { LOG_BODY("", 1); }
void log_warnx(const char *fmt, ...) { LOG_BODY("", 0); }

void
log_info(const char *fmt, ...)
{
	if (log_level < 0)
		return;
	LOG_BODY("", 0);
}

void
log_debug(const char *fmt, ...)
{
	if (log_level < 1)
		return;
	LOG_BODY("debug: ", 0);
}

void fatal(const char *fmt, ...)  { LOG_BODY("fatal: ", 1); exit(1); }
void fatalx(const char *fmt, ...) { LOG_BODY("fatal: ", 0); exit(1); }
