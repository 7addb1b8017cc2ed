// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * user/discovery/peers.c input limits: a peer claims no prefix broader than
 * /8 (IPv4) or /16 (IPv6), never all of IPv4 through an IPv6 prefix, and a
 * prefix length is plain decimal digits. prefix_parse() itself (WireGuard's
 * allowed IPs) still takes /0, with the same strict numbers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "peers.h"
#include "test_progs.h"

static int spec(const char *pfx, char *err, size_t errlen)
{
	char buf[128];
	struct wp_peer p;

	snprintf(buf, sizeof(buf), "b=10.0.0.2,%s", pfx);
	return peer_parse_spec(buf, &p, err, errlen);
}

void test_peer_prefix_limits(void)
{
	static const char *const rejected[] = {
		"0.0.0.0/0",	 "::/0",
		"10.0.0.0/7",	 "128.0.0.0/1",
		"fd00::/15",	 "::/1",
		"::/16", /* holds ::ffff:0:0/96, all of IPv4 */
		"::ffff:0:0/96", "::ffff:10.0.0.0/100",
		"10.0.0.0/ 8",	 "10.0.0.0/+8",
		"10.0.0.0/-8",	 "10.0.0.0/08",
		"10.0.0.0/8 ",	 "10.0.0.0/0x8",
		"10.0.0.0/",	 "10.0.0.0/1000",
		"10.0.0.0/33",	 "fd00::/129",
		"10.0.0.0/8/8",
	};
	static const char *const accepted[] = {
		"10.0.0.0/8",	 "192.168.2.0/24", "10.0.0.7/32",	  "fd00::/16",
		"2001:db8::/32", "fd00::1/128",	   "::ffff:10.0.0.0/104", "192.0.2.9",
	};
	struct wp_prefix pfx;
	char err[256], path[] = "/tmp/wp-peers-XXXXXX";
	struct wp_peer_set set = {};
	FILE *f;
	int fd;

	for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
		err[0] = '\0';
		if (!ASSERT_EQ(spec(rejected[i], err, sizeof(err)), -EINVAL, rejected[i]))
			continue;
		ASSERT_TRUE(strstr(err, rejected[i]) != NULL, "error names the prefix");
	}
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
		if (!ASSERT_OK(spec(accepted[i], err, sizeof(err)), accepted[i]))
			printf("  %s\n", err);
	spec("0.0.0.0/0", err, sizeof(err));
	ASSERT_TRUE(strstr(err, "IPv4 /8-32 or IPv6 /16-128") != NULL, "error says the limits");

	/* prefix_parse: /0 is a valid allowed IP for WireGuard, numbers still strict */
	ASSERT_OK(prefix_parse("0.0.0.0/0", &pfx), "parse 0.0.0.0/0");
	ASSERT_EQ(pfx.len, 96, "0.0.0.0/0 mapped");
	ASSERT_OK(prefix_parse("::/0", &pfx), "parse ::/0");
	ASSERT_EQ(pfx.len, 0, "::/0");
	ASSERT_EQ(prefix_parse("0.0.0.0/ 0", &pfx), -EINVAL, "parse '/ 0'");
	ASSERT_EQ(prefix_parse("0.0.0.0/+0", &pfx), -EINVAL, "parse '/+0'");
	ASSERT_EQ(prefix_parse("0.0.0.0/00", &pfx), -EINVAL, "parse '/00'");
	ASSERT_EQ(prefix_parse("10.0.0.0/024", &pfx), -EINVAL, "parse '/024'");

	/* the peers file: a /0 stops the load and names the line */
	fd = mkstemp(path);
	if (!ASSERT_GE(fd, 0, "mkstemp"))
		return;
	f = fdopen(fd, "w");
	fprintf(f, "node-b 10.0.0.2 192.168.2.0/24\nnode-c 10.0.0.3 0.0.0.0/0\n");
	fclose(f);
	ASSERT_EQ(peers_file_load(path, &set, err, sizeof(err)), -EINVAL, "file with /0");
	ASSERT_TRUE(strstr(err, ":2:") != NULL, "error names line 2");
	peer_set_free(&set);
	unlink(path);
}
