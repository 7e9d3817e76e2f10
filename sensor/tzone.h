/*
 * tzone - the UTC offset of an IANA time zone ("Europe/Berlin") at any
 * instant, read from its TZif file (RFC 8536) in the system zoneinfo.
 *
 * Why not localtime_r: it follows the process-wide TZ, and switching TZ
 * per rule set is global mutable state (and not thread-safe); the rules'
 * working hours need one named zone evaluated on packet time. The file's
 * transition table is used where it reaches; after its last transition
 * (a "slim" file stops early) the POSIX TZ rule of its footer
 * ("CET-1CEST,M3.5.0,M10.5.0/3") is evaluated, so daylight saving time is
 * right for any year.
 */
#ifndef OUTFLOW_TZONE_H
#define OUTFLOW_TZONE_H

#include <stddef.h>
#include <stdint.h>

#define TZONE_DIR "/usr/share/zoneinfo"

struct tzone;

/*
 * Loads zone name (an IANA name like "Europe/Berlin", or "UTC") from dir
 * (TZONE_DIR if NULL). Returns NULL with a message in err if the name is
 * not a zone name, the file is missing or it is not valid TZif.
 */
struct tzone *tzone_load(const char *dir, const char *name, char *err, size_t errlen);

/* Parses a TZif image (for tests and the fuzzer); NULL with a message. */
struct tzone *tzone_parse(const uint8_t *buf, size_t len, char *err, size_t errlen);

void tzone_free(struct tzone *tz);

/* Seconds east of UTC in effect at unix time t (e.g. 7200 for CEST). */
int32_t tzone_offset(const struct tzone *tz, int64_t t);

#endif
