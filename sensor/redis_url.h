/*
 * redis_url - the Redis sink's address: redis://[[user]:password@]host
 * [:port][/db] or unix:///path/to.sock[?db=N&user=U&password=P].
 *
 * A pure parser (no I/O): error messages mask the password, because they
 * end up in logs that more people read than the configuration.
 */
#ifndef OUTFLOW_REDIS_URL_H
#define OUTFLOW_REDIS_URL_H

#include <stddef.h>

struct redis_url {
	char host[256];		/* empty for a unix socket */
	int port;
	char path[256];		/* unix socket path, empty for TCP */
	char user[128];		/* ACL user, empty for none */
	char password[256];	/* empty for none */
	int db;
};

/*
 * Parses redis://[[user]:password@]host[:port][/db] (default port 6379,
 * db 0; IPv6 hosts in brackets) and unix:///path/to.sock[?db=N].
 * Returns 0, or -1 with a message in err.
 */
int redis_url_parse(const char *url, struct redis_url *u, char *err, size_t errlen);

#endif
