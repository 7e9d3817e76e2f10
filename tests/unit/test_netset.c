/*
 * test_netset - CIDR sets: IPv4 and IPv6 prefixes in one tree (IPv4 stored
 * mapped into IPv6), host entries, longest-prefix membership, and the
 * messages and offsets for bad input.
 */
#include "t.h"
#include "netset.h"
#include "pktbuild.h"

static int
has(const struct netset *ns, const char *a)
{
	struct ip_addr ip = pb_ip(a);

	return netset_contains(ns, &ip);
}

static void
test_netset_v4_prefixes_match_inside_only(void)
{
	struct netset *ns = netset_new();
	char err[128];

	CHECK_EQ_U(netset_add(ns, "10.0.0.0/8", err, sizeof err), 0);
	CHECK_EQ_U(netset_add(ns, "192.168.1.0/24", err, sizeof err), 0);
	CHECK_EQ_U(netset_add(ns, "172.16.0.0/12", err, sizeof err), 0);
	CHECK(has(ns, "10.0.0.0"));
	CHECK(has(ns, "10.255.255.255"));
	CHECK(!has(ns, "11.0.0.0"));
	CHECK(!has(ns, "9.255.255.255"));
	CHECK(has(ns, "192.168.1.77"));
	CHECK(!has(ns, "192.168.2.1"));
	CHECK(has(ns, "172.31.255.255"));
	CHECK(!has(ns, "172.32.0.0"));
	CHECK_EQ_U(netset_count(ns), 3);
	char buf[256];
	CHECK_EQ_S(netset_fmt(ns, buf, sizeof buf), "10.0.0.0/8,192.168.1.0/24,172.16.0.0/12");
	netset_free(ns);
}

static void
test_netset_v6_prefixes_and_hosts(void)
{
	struct netset *ns = netset_new();
	char err[128];

	CHECK_EQ_U(netset_add(ns, "fc00::/7", err, sizeof err), 0);
	CHECK_EQ_U(netset_add(ns, "2001:db8::1", err, sizeof err), 0);	/* host */
	CHECK_EQ_U(netset_add(ns, "198.51.100.7", err, sizeof err), 0);	/* v4 host */
	CHECK(has(ns, "fd12:3456::1"));
	CHECK(has(ns, "fc00::"));
	CHECK(!has(ns, "fe00::"));
	CHECK(has(ns, "2001:db8::1"));
	CHECK(!has(ns, "2001:db8::2"));
	CHECK(has(ns, "198.51.100.7"));
	CHECK(!has(ns, "198.51.100.6"));
	CHECK(!has(ns, "198.51.100.8"));
	netset_free(ns);
}

static void
test_netset_longest_prefix_and_nested_prefixes(void)
{
	struct netset *ns = netset_new();
	char err[128];

	/* A host inside a prefix, and a wider prefix added after a narrower one. */
	CHECK_EQ_U(netset_add(ns, "10.1.2.0/24", err, sizeof err), 0);
	CHECK_EQ_U(netset_add(ns, "10.1.2.3", err, sizeof err), 0);
	CHECK_EQ_U(netset_add(ns, "10.0.0.0/8", err, sizeof err), 0);
	CHECK(has(ns, "10.1.2.3"));
	CHECK(has(ns, "10.1.2.4"));
	CHECK(has(ns, "10.200.0.1"));
	CHECK(!has(ns, "11.1.2.3"));
	/* 0.0.0.0/0 covers all of IPv4 but none of IPv6. */
	struct netset *all4 = netset_new();
	CHECK_EQ_U(netset_add(all4, "0.0.0.0/0", err, sizeof err), 0);
	CHECK(has(all4, "1.2.3.4"));
	CHECK(has(all4, "255.255.255.255"));
	CHECK(!has(all4, "2001:db8::1"));
	CHECK(!has(all4, "::1"));
	netset_free(all4);
	netset_free(ns);
}

static void
test_netset_v4_not_matched_by_unrelated_v6_prefix(void)
{
	struct netset *ns = netset_new();
	char err[128];

	/* 2001:db8::/32 and ::/8 do not contain ::ffff:0:0/96. */
	CHECK_EQ_U(netset_add(ns, "2001:db8::/32", err, sizeof err), 0);
	CHECK_EQ_U(netset_add(ns, "100::/8", err, sizeof err), 0);
	CHECK(!has(ns, "10.0.0.1"));
	CHECK(!has(ns, "1.0.0.1"));
	/* ::ffff:0:0/96 is the mapped range: it contains every IPv4 address. */
	struct netset *m = netset_new();
	CHECK_EQ_U(netset_add(m, "::ffff:0:0/96", err, sizeof err), -1);	/* parses as v4: /96 > 32 */
	CHECK_EQ_U(netset_add(m, "::/80", err, sizeof err), 0);
	CHECK(has(m, "10.0.0.1"));
	CHECK(has(m, "::1"));
	CHECK(!has(m, "2001:db8::1"));
	netset_free(m);
	/* ::/0 covers everything, both families. */
	struct netset *all = netset_new();
	CHECK_EQ_U(netset_add(all, "::/0", err, sizeof err), 0);
	CHECK(has(all, "10.0.0.1"));
	CHECK(has(all, "2001:db8::1"));
	netset_free(all);
	netset_free(ns);
}

static void
test_netset_rejects_bad_input_with_messages(void)
{
	struct netset *ns = netset_new();
	char err[128];

	err[0] = '\0';
	CHECK_EQ_U(netset_add(ns, "10.1.2.3/8", err, sizeof err), -1);
	CHECK(strstr(err, "host bits") != NULL && strstr(err, "/8") != NULL);
	CHECK_EQ_U(netset_add(ns, "2001:db8::1/32", err, sizeof err), -1);
	CHECK(strstr(err, "host bits") != NULL && strstr(err, "/32") != NULL);
	CHECK_EQ_U(netset_add(ns, "10.0.0.0/33", err, sizeof err), -1);
	CHECK(strstr(err, "0..32") != NULL);
	CHECK_EQ_U(netset_add(ns, "fc00::/129", err, sizeof err), -1);
	CHECK(strstr(err, "0..128") != NULL);
	CHECK_EQ_U(netset_add(ns, "10.0.0.0/-1", err, sizeof err), -1);
	CHECK_EQ_U(netset_add(ns, "10.0.0.0/", err, sizeof err), -1);
	CHECK_EQ_U(netset_add(ns, "10.0.0.0/8x", err, sizeof err), -1);
	CHECK_EQ_U(netset_add(ns, "garbage", err, sizeof err), -1);
	CHECK(strstr(err, "'garbage'") != NULL);
	CHECK_EQ_U(netset_add(ns, "10.0.0.256", err, sizeof err), -1);
	CHECK_EQ_U(netset_add(ns, "", err, sizeof err), -1);
	CHECK_EQ_U(netset_add(ns, "/8", err, sizeof err), -1);
	CHECK_EQ_U(netset_add(ns, "1111:2222:3333:4444:5555:6666:7777:8888:9999/8", err, sizeof err), -1);
	CHECK_EQ_U(netset_count(ns), 0);
	/* An empty set contains nothing, and a NULL set is empty. */
	CHECK(!has(ns, "10.0.0.1"));
	struct ip_addr a = pb_ip("10.0.0.1");
	CHECK(!netset_contains(NULL, &a));
	CHECK_EQ_U(netset_count(NULL), 0);
	netset_free(ns);
	netset_free(NULL);
}

static void
test_netset_add_list_reports_offset_of_bad_item(void)
{
	struct netset *ns = netset_new();
	char err[128];
	size_t off = 999;
	const char *good = " 10.0.0.0/8,\t192.168.0.0/16 ,fc00::/7,, ";

	CHECK_EQ_U(netset_add_list(ns, good, &off, err, sizeof err), 0);
	CHECK_EQ_U(off, 999);
	CHECK_EQ_U(netset_count(ns), 3);
	CHECK(has(ns, "192.168.3.4"));
	CHECK(has(ns, "fd00::1"));
	const char *bad = "10.0.0.0/8, 192.168.0.1/16, fc00::/7";
	CHECK_EQ_U(netset_add_list(ns, bad, &off, err, sizeof err), -1);
	CHECK_EQ_U(off, 12);
	CHECK(strstr(err, "host bits") != NULL);
	const char *bad2 = "10.0.0.0/8,nope";
	CHECK_EQ_U(netset_add_list(ns, bad2, &off, err, sizeof err), -1);
	CHECK_EQ_U(off, 11);
	/* An overlong item is refused before it is copied anywhere. */
	char longitem[300];
	memset(longitem, '1', sizeof longitem - 1);
	longitem[sizeof longitem - 1] = '\0';
	memcpy(longitem, "10.0.0.0/8,", 11);
	CHECK_EQ_U(netset_add_list(ns, longitem, &off, err, sizeof err), -1);
	CHECK_EQ_U(off, 11);
	CHECK_EQ_U(netset_add_list(ns, "", NULL, err, sizeof err), 0);
	netset_free(ns);
}

T_MAIN("netset",
    T(test_netset_v4_prefixes_match_inside_only),
    T(test_netset_v6_prefixes_and_hosts),
    T(test_netset_longest_prefix_and_nested_prefixes),
    T(test_netset_v4_not_matched_by_unrelated_v6_prefix),
    T(test_netset_rejects_bad_input_with_messages),
    T(test_netset_add_list_reports_offset_of_bad_item))
