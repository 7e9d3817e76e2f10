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

struct listed {
	char text[4096];
	size_t n;
};

static void
list_one(void *ctx, const struct ip_addr *net, int bits)
{
	struct listed *l = ctx;
	char a[ADDR_STRLEN];

	addr_fmt(net, a, sizeof a);
	l->n += (size_t)snprintf(l->text + l->n, sizeof l->text - l->n, "%s%s/%d", l->n ? "," : "", a, bits);
}

static struct netset *
set_of(const char *list)
{
	struct netset *ns = netset_new();
	char err[128];

	if (ns != NULL && netset_add_list(ns, list, NULL, err, sizeof err) != 0)
		fprintf(stderr, "  %s: %s\n", list, err);
	return ns;
}

/* Every prefix once, in address order, IPv4 lengths as IPv4 ones, whatever the text shows. */
static void
test_netset_each_walks_every_prefix_in_its_family(void)
{
	struct netset *ns = set_of("192.168.1.0/24, 10.0.0.0/8, 2001:db8::/32, 10.0.0.0/8, 198.51.100.7");
	struct listed l = { "", 0 };

	netset_each(ns, list_one, &l);
	CHECK_EQ_S(l.text, "10.0.0.0/8,192.168.1.0/24,198.51.100.7/32,2001:db8::/32");
	netset_free(ns);
	l.n = 0;
	l.text[0] = '\0';
	netset_each(NULL, list_one, &l);
	CHECK_EQ_U(l.n, 0);
}

/*
 * Same prefixes in any order are equal; one prefix more, less or other is
 * not, also past the 1 KB the log text keeps (two lists alike for their
 * first 1 KB once compared equal by that text).
 */
static void
test_netset_equal_compares_prefixes_not_text(void)
{
	static char la[8192], lb[8192];
	size_t na = 0, nb = 0;

	struct netset *a = set_of("10.0.0.0/8, 2001:db8::/32, 192.0.2.0/24");
	struct netset *b = set_of("192.0.2.0/24,10.0.0.0/8,2001:db8::/32,10.0.0.0/8");
	struct netset *c = set_of("10.0.0.0/8, 2001:db8::/32");
	struct netset *d = set_of("10.0.0.0/8, 2001:db8::/32, 192.0.2.0/25");
	CHECK(netset_equal(a, b));
	CHECK(netset_equal(b, a));
	CHECK(!netset_equal(a, c));
	CHECK(!netset_equal(c, a));
	CHECK(!netset_equal(a, d));
	CHECK(!netset_equal(a, NULL));
	CHECK(netset_equal(NULL, NULL));
	netset_free(a);
	netset_free(b);
	netset_free(c);
	netset_free(d);
	for (int i = 0; i < 150; i++) {
		na += (size_t)snprintf(la + na, sizeof la - na, "%s172.16.%d.0/24", i ? "," : "", i);
		nb += (size_t)snprintf(lb + nb, sizeof lb - nb, "%s172.16.%d.0/24", i ? "," : "", i == 149 ? 250 : i);
	}
	a = set_of(la);
	b = set_of(lb);
	char ta[2048], tb[2048];
	CHECK_EQ_S(netset_fmt(a, ta, sizeof ta), netset_fmt(b, tb, sizeof tb));	/* the text cannot tell */
	CHECK(!netset_equal(a, b));
	netset_free(a);
	netset_free(b);
}

T_MAIN("netset",
    T(test_netset_v4_prefixes_match_inside_only),
    T(test_netset_v6_prefixes_and_hosts),
    T(test_netset_longest_prefix_and_nested_prefixes),
    T(test_netset_v4_not_matched_by_unrelated_v6_prefix),
    T(test_netset_rejects_bad_input_with_messages),
    T(test_netset_add_list_reports_offset_of_bad_item),
    T(test_netset_each_walks_every_prefix_in_its_family),
    T(test_netset_equal_compares_prefixes_not_text))
