/*
 * conn - long-lived connections that keep sending data out (ATT&CK T1041
 * exfiltration over the C2 channel, T1029 scheduled transfer), reported
 * while the connection is still open, not only when it closes.
 *
 * Owns a bounded table of "old" open flows: a flow an internal host
 * initiated to an external address is registered from the packet path once
 * it has been open CONN_REGISTER_S (one comparison per packet before that),
 * and dropped at flow end. A registered flow keeps its outbound payload in
 * one-minute buckets for the last hour, so conn.out.bytes[w] is what it sent
 * recently; conn.out.bytes is its total since it started and conn.duration
 * the span between its first and latest packet. When the table is full the
 * connection quiet for longest is evicted and counted.
 *
 * Scope MSCOPE_CONN: one subject per registered connection, its peer the
 * external end, its key the ports. Evidence: the flow and its duration.
 */
#ifndef OUTFLOW_CONN_H
#define OUTFLOW_CONN_H

#include "detector.h"

/* A flow younger than this is not tracked: conn.duration thresholds below it are met from it on. */
#define CONN_REGISTER_S	60
#define CONN_MINUTES	60	/* one-minute buckets of recent outbound bytes */

struct conn_mod;

extern const struct detector_ops conn_ops;

/* The module, with room for cfg->max_conns connections; NULL with a message in err. */
void *conn_new(const struct detector_env *env, char *err, size_t errlen);

#endif
