/*
 * test_sink_redis - the Redis sink without a Redis: the URL parser, and the
 * queue's promises (bounded, drops counted, close bounded by its deadline)
 * against a closed port, an address that never answers and a server that
 * accepts but never replies. Delivery itself is tested against a real
 * server in tests/integration/test_redis_sink.sh. With a spool: overflow
 * goes to disk, in order, and close keeps what memory held.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sink_redis.h"
#include "spool.h"
#include "t.h"

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A loopback socket bound to an ephemeral port; listening or not. */
static int
loopback_socket(int listening, int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
	    (listening && listen(fd, 8) != 0))
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static int
parse_ok(const char *url, struct redis_url *u)
{
	char err[256] = "";
	int rc = redis_url_parse(url, u, err, sizeof err);

	if (rc != 0)
		fprintf(stderr, "  unexpected error: %s\n", err);
	return rc == 0;
}

/* The URL must be refused with a message containing want. */
static int
parse_fails_with(const char *url, const char *want)
{
	struct redis_url u;
	char err[256] = "";

	if (redis_url_parse(url, &u, err, sizeof err) == 0) {
		fprintf(stderr, "  '%s' accepted\n", url);
		return 0;
	}
	if (strstr(err, want) == NULL || strncmp(err, "redis URL '", 11) != 0) {
		fprintf(stderr, "  '%s': got \"%s\", want \"%s\"\n", url, err, want);
		return 0;
	}
	return 1;
}

static void
test_url_defaults_port_6379_db_0(void)
{
	struct redis_url u;

	CHECK(parse_ok("redis://localhost", &u));
	CHECK_EQ_S(u.host, "localhost");
	CHECK_EQ_U(u.port, 6379);
	CHECK_EQ_U(u.db, 0);
	CHECK_EQ_S(u.user, "");
	CHECK_EQ_S(u.password, "");
	CHECK_EQ_S(u.path, "");
	CHECK(parse_ok("redis://127.0.0.1:6380/", &u));
	CHECK_EQ_S(u.host, "127.0.0.1");
	CHECK_EQ_U(u.port, 6380);
	CHECK_EQ_U(u.db, 0);
}

static void
test_url_user_password_port_db(void)
{
	struct redis_url u;

	CHECK(parse_ok("redis://alice:s3cret@10.0.0.1:7000/5", &u));
	CHECK_EQ_S(u.user, "alice");
	CHECK_EQ_S(u.password, "s3cret");
	CHECK_EQ_S(u.host, "10.0.0.1");
	CHECK_EQ_U(u.port, 7000);
	CHECK_EQ_U(u.db, 5);
}

static void
test_url_password_only_and_percent_decoding(void)
{
	struct redis_url u;

	CHECK(parse_ok("redis://:p%40ss%3Aw%2Fd@redis.example", &u));
	CHECK_EQ_S(u.user, "");
	CHECK_EQ_S(u.password, "p@ss:w/d");
	CHECK_EQ_S(u.host, "redis.example");
	/* A raw '@' in the password: the credentials end at the last '@'. */
	CHECK(parse_ok("redis://:a@b@h", &u));
	CHECK_EQ_S(u.password, "a@b");
	CHECK_EQ_S(u.host, "h");
}

static void
test_url_ipv6_host_in_brackets(void)
{
	struct redis_url u;

	CHECK(parse_ok("redis://[::1]:6390/2", &u));
	CHECK_EQ_S(u.host, "::1");
	CHECK_EQ_U(u.port, 6390);
	CHECK_EQ_U(u.db, 2);
	CHECK(parse_ok("redis://u:p@[2001:db8::7]", &u));
	CHECK_EQ_S(u.host, "2001:db8::7");
	CHECK_EQ_U(u.port, 6379);
	CHECK_EQ_S(u.user, "u");
}

static void
test_url_unix_socket_forms(void)
{
	struct redis_url u;

	CHECK(parse_ok("unix:///run/redis/redis.sock", &u));
	CHECK_EQ_S(u.path, "/run/redis/redis.sock");
	CHECK_EQ_S(u.host, "");
	CHECK_EQ_U(u.db, 0);
	CHECK(parse_ok("unix:/tmp/r.sock?db=3", &u));
	CHECK_EQ_S(u.path, "/tmp/r.sock");
	CHECK_EQ_U(u.db, 3);
	CHECK(parse_ok("unix:///tmp/r.sock?db=1&user=bob&password=x%26y", &u));
	CHECK_EQ_U(u.db, 1);
	CHECK_EQ_S(u.user, "bob");
	CHECK_EQ_S(u.password, "x&y");
}

static void
test_url_rejects_bad_scheme(void)
{
	CHECK(parse_fails_with("http://localhost", "scheme must be redis:// or unix://"));
	CHECK(parse_fails_with("localhost:6379", "scheme must be"));
	CHECK(parse_fails_with("rediss://localhost", "TLS"));
	CHECK(parse_fails_with("", "empty URL"));
}

static void
test_url_rejects_bad_port(void)
{
	CHECK(parse_fails_with("redis://h:0", "port out of range"));
	CHECK(parse_fails_with("redis://h:65536", "port out of range"));
	CHECK(parse_fails_with("redis://h:99999999999999999999", "port out of range"));
	CHECK(parse_fails_with("redis://h:http", "bad port 'http'"));
	CHECK(parse_fails_with("redis://h:", "bad port"));
	CHECK(parse_fails_with("redis://h:-1", "bad port"));
	CHECK(parse_fails_with("redis://[::1]x", "unexpected 'x' after host"));
}

static void
test_url_rejects_trailing_junk_and_bad_db(void)
{
	CHECK(parse_fails_with("redis://h/1x", "trailing junk 'x'"));
	CHECK(parse_fails_with("redis://h/1/2", "trailing junk '/2'"));
	CHECK(parse_fails_with("redis://h?db=1", "trailing junk '?db=1'"));
	CHECK(parse_fails_with("redis://h/x", "bad db 'x'"));
	CHECK(parse_fails_with("redis://h/70000", "db out of range"));
	CHECK(parse_fails_with("unix:///s?db=x", "bad db"));
	CHECK(parse_fails_with("unix:///s?foo=1", "unknown parameter 'foo'"));
	CHECK(parse_fails_with("unix:///s?db", "needs a value"));
	CHECK(parse_fails_with("unix:///s#x", "trailing junk"));
}

static void
test_url_rejects_malformed_host_and_credentials(void)
{
	CHECK(parse_fails_with("redis://", "missing host"));
	CHECK(parse_fails_with("redis://:pw@/1", "missing host"));
	CHECK(parse_fails_with("redis://::1:6379", "IPv6 host must be in brackets"));
	CHECK(parse_fails_with("redis://[::1", "unterminated '['"));
	CHECK(parse_fails_with("redis://alice@h", "credentials must be"));
	CHECK(parse_fails_with("redis://:%zz@h", "bad %-escape in password"));
	CHECK(parse_fails_with("redis://:ab%4@h", "bad %-escape in password"));
	CHECK(parse_fails_with("redis://:a%00b@h", "bad %-escape in password"));
	CHECK(parse_fails_with("unix://tmp/r.sock", "must be absolute"));
	CHECK(parse_fails_with("unix:", "must be absolute"));
}

static void
test_url_rejects_over_long_fields(void)
{
	char url[1024], big[400];

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(url, sizeof url, "redis://%.256s", big);
	CHECK(parse_fails_with(url, "host too long (max 255)"));
	snprintf(url, sizeof url, "redis://%.255s", big);
	{
		struct redis_url u;

		CHECK(parse_ok(url, &u));	/* exactly at the limit */
	}
	snprintf(url, sizeof url, "redis://%.128s:pw@h", big);
	CHECK(parse_fails_with(url, "user too long (max 127)"));
	snprintf(url, sizeof url, "redis://:%.256s@h", big);
	CHECK(parse_fails_with(url, "password too long (max 255)"));
	snprintf(url, sizeof url, "unix:///%.300s", big);
	CHECK(parse_fails_with(url, "socket path too long (max 255)"));
}

static void
test_url_error_does_not_show_password(void)
{
	struct redis_url u;
	char err[256];

	CHECK(redis_url_parse("redis://bob:hunter2@h:99999", &u, err, sizeof err) != 0);
	CHECK(strstr(err, "hunter2") == NULL);
	CHECK(strstr(err, "bob:***@h") != NULL);
	CHECK(redis_url_parse("unix:///s?password=hunter2&db=x", &u, err, sizeof err) != 0);
	CHECK(strstr(err, "hunter2") == NULL);
}

static void
test_open_rejects_bad_url(void)
{
	struct sink_redis_config cfg = { .url = "redis://h:0" };
	char err[256] = "";

	CHECK(sink_redis_open(&cfg, err, sizeof err) == NULL);
	CHECK(strstr(err, "port out of range") != NULL);
}

static void
test_full_queue_drops_and_close_returns_undelivered(void)
{
	struct sink_redis_config cfg = { .queue_cap = 16, .connect_timeout_ms = 500 };
	struct sink_redis_stats st;
	struct sink_redis *s;
	struct timespec t0;
	char url[64], err[256], id[16], json[64];
	int fd, port;
	size_t left;

	/* Bound but not listening: connects are refused, nothing listens. */
	fd = loopback_socket(0, &port);
	CHECK(fd >= 0);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	cfg.url = url;
	s = sink_redis_open(&cfg, err, sizeof err);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	for (int i = 0; i < 16; i++) {
		snprintf(id, sizeof id, "a%d", i);
		snprintf(json, sizeof json, "{\"id\":\"a%d\"}xxxx", i);
		/* The length excludes the junk: json need not end in NUL. */
		CHECK(sink_redis_push(s, SINK_REDIS_ALERT, id, json, strlen(json) - 4) == 0);
	}
	CHECK(sink_redis_push(s, SINK_REDIS_ALERT, "late", "{}", 2) == -1);
	CHECK(sink_redis_push(s, SINK_REDIS_STATS, NULL, "{}", 2) == -1);
	sink_redis_get_stats(s, &st);
	CHECK_EQ_U(st.queued, 16);
	CHECK_EQ_U(st.depth, 16);
	CHECK_EQ_U(st.dropped, 2);
	CHECK_EQ_U(st.delivered, 0);
	CHECK_EQ_U(st.connected, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	left = sink_redis_close(s, 200);
	CHECK_EQ_U(left, 16);
	CHECK(elapsed_ms(&t0) < 1000);
	close(fd);
}

static void
test_close_respects_deadline_while_connecting(void)
{
	/* TEST-NET-1 (RFC 5737): SYNs go nowhere, or fail at once. */
	struct sink_redis_config cfg = { .url = "redis://192.0.2.1:6379",
	    .connect_timeout_ms = 10000 };
	struct sink_redis *s;
	struct timespec t0;
	char err[256];

	s = sink_redis_open(&cfg, err, sizeof err);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK(sink_redis_push(s, SINK_REDIS_ALERT, "x", "{}", 2) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_U(sink_redis_close(s, 300), 1);
	CHECK(elapsed_ms(&t0) < 1500);
}

static void
test_close_respects_deadline_with_silent_server(void)
{
	/* Listening, never accepting: the kernel completes the handshake
	 * and the writer then waits for a reply that never comes. */
	struct sink_redis_config cfg = { .connect_timeout_ms = 10000 };
	struct sink_redis *s;
	struct timespec t0;
	char url[64], err[256];
	int fd, port;

	fd = loopback_socket(1, &port);
	CHECK(fd >= 0);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	cfg.url = url;
	s = sink_redis_open(&cfg, err, sizeof err);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK(sink_redis_push(s, SINK_REDIS_ALERT, "x", "{}", 2) == 0);
	usleep(200 * 1000);	/* let the writer get stuck in its handshake */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_U(sink_redis_close(s, 300), 1);
	CHECK(elapsed_ms(&t0) < 1500);
	close(fd);
}

static void
test_close_with_empty_queue_is_immediate(void)
{
	struct sink_redis_config cfg = { .url = "unix:///nonexistent/outflow-test.sock" };
	struct sink_redis *s;
	struct timespec t0;
	char err[256];

	s = sink_redis_open(&cfg, err, sizeof err);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_U(sink_redis_close(s, 5000), 0);
	CHECK(elapsed_ms(&t0) < 500);
}

static void
test_full_queue_spills_to_spool_and_close_keeps_all_in_order(void)
{
	struct sink_redis_config cfg = { .queue_cap = 16, .connect_timeout_ms = 200 };
	struct sink_redis_stats st;
	struct sink_redis *s;
	struct spool_rec r;
	struct spool *sp;
	char url[64], err[256], dir[128], lock[192], id[16], json[64];
	int fd, port, in_order = 1;

	snprintf(dir, sizeof dir, "/tmp/outflow-sink-spool.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	fd = loopback_socket(0, &port);
	CHECK(fd >= 0);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	cfg.url = url;
	cfg.spool_dir = dir;
	s = sink_redis_open(&cfg, err, sizeof err);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof id, "a%03d", i);
		snprintf(json, sizeof json, "{\"id\":\"a%03d\"}", i);
		CHECK(sink_redis_push(s, SINK_REDIS_ALERT, id, json, strlen(json)) == 0);
	}
	/* Stats are never spooled: with the queue full they are dropped. */
	CHECK(sink_redis_push(s, SINK_REDIS_STATS, NULL, "{}", 2) == -1);
	sink_redis_get_stats(s, &st);
	CHECK_EQ_U(st.queued, 16);
	CHECK_EQ_U(st.spooled, 84);
	CHECK_EQ_U(st.spool_pending, 84);
	CHECK(st.spool_bytes > 84 * 20);
	CHECK_EQ_U(st.dropped, 1);
	CHECK_EQ_U(st.depth, 16);
	/* Nothing lost: the 16 in memory go to the spool, ahead of the 84. */
	CHECK_EQ_U(sink_redis_close(s, 100), 0);
	close(fd);

	sp = spool_open(dir, 0, err, sizeof err);
	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof id, "a%03d", i);
		if (spool_read(sp, &r) != 1 || strcmp(r.id, id) != 0)
			in_order = 0;
	}
	CHECK(in_order);
	CHECK(spool_read(sp, &r) == 0);
	CHECK(spool_ack(sp, spool_read_pos(sp), 100) == 0);
	spool_close(sp);
	CHECK(rmdir(dir) != 0);		/* the lock file is still there */
	snprintf(lock, sizeof lock, "%s/outflow-spool.lock", dir);
	unlink(lock);
	CHECK(rmdir(dir) == 0);		/* and nothing else */
}

static void
test_open_refuses_unsafe_spool_dir(void)
{
	struct sink_redis_config cfg = { .url = "redis://127.0.0.1:1", .spool_dir = "/tmp" };
	char err[256] = "";

	CHECK(sink_redis_open(&cfg, err, sizeof err) == NULL);
	CHECK(strstr(err, "world-writable") != NULL);
}

T_MAIN("sink_redis",
    T(test_url_defaults_port_6379_db_0),
    T(test_url_user_password_port_db),
    T(test_url_password_only_and_percent_decoding),
    T(test_url_ipv6_host_in_brackets),
    T(test_url_unix_socket_forms),
    T(test_url_rejects_bad_scheme),
    T(test_url_rejects_bad_port),
    T(test_url_rejects_trailing_junk_and_bad_db),
    T(test_url_rejects_malformed_host_and_credentials),
    T(test_url_rejects_over_long_fields),
    T(test_url_error_does_not_show_password),
    T(test_open_rejects_bad_url),
    T(test_full_queue_drops_and_close_returns_undelivered),
    T(test_close_respects_deadline_while_connecting),
    T(test_close_respects_deadline_with_silent_server),
    T(test_close_with_empty_queue_is_immediate),
    T(test_full_queue_spills_to_spool_and_close_keeps_all_in_order),
    T(test_open_refuses_unsafe_spool_dir))
