// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel WireGuard over generic netlink (user/wireguard/wg_netlink.c): the
 * dump parser against WG_CMD_GET_DEVICE dumps built byte by byte, as the
 * kernel's wg_get_device_dump() lays them out (this machine's kernel has no
 * WireGuard; the live path runs in the qemu guest).
 *
 *	test_wireguard_netlink  one message, a peer split across messages (and
 *				buffers), many peers, IPv6, malformed dumps,
 *				mutated dumps, the family reply, the live socket
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include "datapath_check.h"
#include "prom.h"
#include "test_progs.h"
#include "wg_netlink.h"
#include "wg_nlbuild.h"
#include "wireguard.h"

#define ASSERT_STR(got, want, name) \
	ASSERT_TRUE(!strcmp((got), (want)), fmt_name("%s_(got_%s)", (name), (got)))

static void endpoint4(struct nlbuf *n, const char *addr, __u16 port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &sin.sin_addr);
	attr(n, P_ENDPOINT, &sin, sizeof(sin));
}

static void device_head(struct nlbuf *n, bool full)
{
	__u8 priv[32];
	__u32 idx = 7, fwmark = 0x51;

	msg_begin(n, FAMILY);
	if (full) {
		memset(priv, 0xaa, sizeof(priv));
		attr(n, D_IFINDEX, &idx, 4);
		attr(n, D_PRIVATE_KEY, priv, 32);
		attr(n, D_PUBLIC_KEY, priv, 32);
		attr_u16(n, D_LISTEN_PORT, 51820);
		attr(n, D_FWMARK, &fwmark, 4);
	}
	attr(n, D_IFNAME, "wg0", 4);
}

/* Peer A: everything set, two allowed IPs. */
static void peer_a(struct nlbuf *n, int idx, bool allowed_too)
{
	struct {
		__s64 sec, nsec;
	} ts = { 1700000000, 5 };
	__u8 key[32], psk[32] = {};
	__u32 version = 1;

	key_of(key, 0);
	nest_begin(n, idx);
	attr(n, P_PUBLIC_KEY, key, 32);
	attr(n, P_PRESHARED_KEY, psk, 32);
	attr(n, P_HANDSHAKE, &ts, sizeof(ts));
	attr_u16(n, P_KEEPALIVE, 25);
	attr_u64(n, P_RX, 1000);
	attr_u64(n, P_TX, 2000);
	attr(n, P_VERSION, &version, 4);
	endpoint4(n, "198.51.100.7", 40000);
	if (allowed_too) {
		nest_begin(n, P_ALLOWEDIPS);
		allowed(n, 0, AF_INET, "10.244.1.0", 24);
		allowed(n, 1, AF_INET, "10.0.0.2", 32);
		nest_end(n);
	}
	nest_end(n);
}

static bool has_allowed(const struct wg_uapi_peer *p, const char *text)
{
	struct wp_prefix want;

	if (prefix_parse(text, &want))
		return false;
	for (int i = 0; i < p->nallowed_ips; i++)
		if (p->allowed_ips[i].len == want.len &&
		    !memcmp(p->allowed_ips[i].addr, want.addr, 16))
			return true;
	return false;
}

/* Feed @n in one buffer; returns what the last feed returned. */
static int parse(struct nlbuf *n, struct wg_device *dev, char *err, size_t errlen)
{
	struct wg_nl_dump d;
	int ret;

	wg_nl_dump_init(&d, dev, FAMILY);
	ret = wg_nl_dump_feed(&d, n->b, n->len, err, errlen);
	wg_nl_dump_finish(&d);
	return ret;
}

/* ---- cases ---- */

static void single_message(void)
{
	static struct nlbuf n;
	struct wg_device dev;
	char err[160] = "", ep[64];
	__u8 key[32];

	n.len = 0;
	device_head(&n, true);
	nest_begin(&n, D_PEERS);
	peer_a(&n, 0, true);
	key_of(key, 1);
	nest_begin(&n, 1);
	attr(&n, P_PUBLIC_KEY, key, 32); /* peer B: only a key */
	nest_end(&n);
	nest_end(&n);
	msg_end(&n);
	done(&n);
	if (!ASSERT_EQ(parse(&n, &dev, err, sizeof(err)), 1, err))
		goto out;
	ASSERT_STR(dev.ifname, "wg0", "ifname");
	ASSERT_TRUE(dev.kernel, "kernel");
	ASSERT_EQ(dev.listen_port, 51820, "listen_port");
	ASSERT_EQ(dev.fwmark, 0x51, "fwmark");
	ASSERT_FALSE(dev.truncated, "not_truncated");
	if (!ASSERT_EQ(dev.npeers, 2, "npeers"))
		goto out;
	key_of(key, 0);
	ASSERT_MEMEQ(dev.peers[0].public_key, key, 32, "a_key");
	ASSERT_TRUE(dev.peers[0].has_endpoint, "a_has_endpoint");
	wg_format_endpoint(dev.peers[0].endpoint_addr, dev.peers[0].endpoint_port, ep, sizeof(ep));
	ASSERT_STR(ep, "198.51.100.7:40000", "a_endpoint");
	ASSERT_EQ(dev.peers[0].last_handshake_sec, 1700000000, "a_hs_sec");
	ASSERT_EQ(dev.peers[0].last_handshake_nsec, 5, "a_hs_nsec");
	ASSERT_EQ(dev.peers[0].persistent_keepalive, 25, "a_keepalive");
	ASSERT_EQ(dev.peers[0].rx_bytes, 1000, "a_rx");
	ASSERT_EQ(dev.peers[0].tx_bytes, 2000, "a_tx");
	ASSERT_EQ(dev.peers[0].nallowed_ips, 2, "a_nallowed");
	ASSERT_TRUE(has_allowed(&dev.peers[0], "10.244.1.0/24"), "a_allowed_cidr");
	ASSERT_TRUE(has_allowed(&dev.peers[0], "10.0.0.2"), "a_allowed_host");
	key_of(key, 1);
	ASSERT_MEMEQ(dev.peers[1].public_key, key, 32, "b_key");
	ASSERT_FALSE(dev.peers[1].has_endpoint, "b_no_endpoint");
	ASSERT_EQ(dev.peers[1].nallowed_ips, 0, "b_no_allowed");
	ASSERT_EQ(dev.peers[1].last_handshake_sec, 0, "b_never");
out:
	wg_device_free(&dev);
}

/* Peer A's allowed IPs continue in a second message, received as a second buffer. */
static void split_peer(void)
{
	static struct nlbuf n1, n2;
	struct wg_nl_dump d;
	struct wg_device dev;
	char err[160] = "";
	__u8 key[32];

	n1.len = n2.len = 0;
	device_head(&n1, true);
	nest_begin(&n1, D_PEERS);
	peer_a(&n1, 0, true);
	nest_end(&n1);
	msg_end(&n1);
	/* the continuation: ifname, then the same key and more allowed IPs, then peer B */
	device_head(&n2, false);
	nest_begin(&n2, D_PEERS);
	key_of(key, 0);
	nest_begin(&n2, 0);
	attr(&n2, P_PUBLIC_KEY, key, 32);
	nest_begin(&n2, P_ALLOWEDIPS);
	allowed(&n2, 0, AF_INET, "10.244.2.0", 24);
	allowed(&n2, 1, AF_INET6, "fd00:10:244:2::", 64);
	nest_end(&n2);
	nest_end(&n2);
	key_of(key, 1);
	nest_begin(&n2, 1);
	attr(&n2, P_PUBLIC_KEY, key, 32);
	nest_end(&n2);
	nest_end(&n2);
	msg_end(&n2);
	done(&n2);

	wg_nl_dump_init(&d, &dev, FAMILY);
	ASSERT_EQ(wg_nl_dump_feed(&d, n1.b, n1.len, err, sizeof(err)), 0, "first_buffer_more");
	ASSERT_EQ(wg_nl_dump_feed(&d, n2.b, n2.len, err, sizeof(err)), 1, "second_buffer_done");
	wg_nl_dump_finish(&d);
	if (ASSERT_EQ(dev.npeers, 2, "merged_npeers")) {
		ASSERT_EQ(dev.peers[0].nallowed_ips, 4, "merged_allowed");
		ASSERT_TRUE(has_allowed(&dev.peers[0], "10.244.1.0/24"), "kept_first");
		ASSERT_TRUE(has_allowed(&dev.peers[0], "fd00:10:244:2::/64"), "got_second");
		ASSERT_EQ(dev.peers[0].rx_bytes, 1000, "attrs_of_first_kept");
		ASSERT_EQ(dev.peers[0].persistent_keepalive, 25, "keepalive_kept");
		ASSERT_EQ(dev.listen_port, 51820, "device_attrs_kept");
	}
	wg_device_free(&dev);
}

/* 1000 peers, 64 a message, each with an IPv4 /32 and an IPv6 /128. */
static void many_peers(void)
{
	static struct nlbuf n;
	struct wg_device dev;
	char err[160] = "", a4[32], a6[64];
	int i, ok = 1;

	n.len = 0;
	for (i = 0; i < 1000; i++) {
		__u8 key[32];

		if (i % 64 == 0) {
			device_head(&n, i == 0);
			nest_begin(&n, D_PEERS);
		}
		key_of(key, i + 10);
		nest_begin(&n, i % 64);
		attr(&n, P_PUBLIC_KEY, key, 32);
		attr_u64(&n, P_RX, i);
		nest_begin(&n, P_ALLOWEDIPS);
		snprintf(a4, sizeof(a4), "10.%d.%d.1", i / 256, i % 256);
		snprintf(a6, sizeof(a6), "fd00::%x", i);
		allowed(&n, 0, AF_INET, a4, 32);
		allowed(&n, 1, AF_INET6, a6, 128);
		nest_end(&n);
		nest_end(&n);
		if (i % 64 == 63 || i == 999) {
			nest_end(&n);
			msg_end(&n);
		}
	}
	done(&n);
	if (!ASSERT_EQ(parse(&n, &dev, err, sizeof(err)), 1, err))
		goto out;
	if (!ASSERT_EQ(dev.npeers, 1000, "npeers"))
		goto out;
	for (i = 0; i < 1000 && ok; i++) {
		__u8 key[32];

		key_of(key, i + 10);
		snprintf(a4, sizeof(a4), "10.%d.%d.1", i / 256, i % 256);
		ok &= !memcmp(dev.peers[i].public_key, key, 32) &&
		      dev.peers[i].rx_bytes == (__u64)i && dev.peers[i].nallowed_ips == 2 &&
		      has_allowed(&dev.peers[i], a4);
	}
	ASSERT_TRUE(ok, fmt_name("every_peer_exact_(first_bad_%d)", ok ? -1 : i - 1));
out:
	wg_device_free(&dev);
}

static void ipv6_endpoint(void)
{
	static struct nlbuf n;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(51821) };
	struct wg_device dev;
	char err[160] = "", ep[64];
	__u8 key[32];

	n.len = 0;
	inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr);
	device_head(&n, true);
	nest_begin(&n, D_PEERS);
	key_of(key, 3);
	nest_begin(&n, 0);
	attr(&n, P_PUBLIC_KEY, key, 32);
	attr(&n, P_ENDPOINT, &sin6, sizeof(sin6));
	nest_begin(&n, P_ALLOWEDIPS);
	allowed(&n, 0, AF_INET6, "fd00:10:244:3::", 64);
	nest_end(&n);
	nest_end(&n);
	nest_end(&n);
	msg_end(&n);
	done(&n);
	if (ASSERT_EQ(parse(&n, &dev, err, sizeof(err)), 1, err) &&
	    ASSERT_EQ(dev.npeers, 1, "npeers")) {
		wg_format_endpoint(dev.peers[0].endpoint_addr, dev.peers[0].endpoint_port, ep,
				   sizeof(ep));
		ASSERT_STR(ep, "[2001:db8::7]:51821", "endpoint6");
		ASSERT_TRUE(has_allowed(&dev.peers[0], "fd00:10:244:3::/64"), "allowed6");
	}
	wg_device_free(&dev);
}

/* Build a one-peer dump with @hook changing one thing; it must be refused. */
static void malformed_case(const char *name, void (*hook)(struct nlbuf *n), int want)
{
	static struct nlbuf n;
	struct wg_device dev;
	char err[160] = "";
	int ret;

	n.len = 0;
	device_head(&n, true);
	nest_begin(&n, D_PEERS);
	hook(&n);
	nest_end(&n);
	msg_end(&n);
	done(&n);
	ret = parse(&n, &dev, err, sizeof(err));
	ASSERT_EQ(ret, want, name);
	if (want == -EPROTO)
		ASSERT_TRUE(strstr(err, "malformed") != NULL, fmt_name("%s_says_why", name));
	wg_device_free(&dev);
}

static void h_key31(struct nlbuf *n)
{
	__u8 key[32] = {};

	nest_begin(n, 0);
	attr(n, P_PUBLIC_KEY, key, 31);
	nest_end(n);
}

static void h_nokey(struct nlbuf *n)
{
	nest_begin(n, 0);
	attr_u64(n, P_RX, 1);
	nest_end(n);
}

static void h_port4(struct nlbuf *n)
{
	__u8 key[32] = { 1 };
	__u32 ka = 25;

	nest_begin(n, 0);
	attr(n, P_PUBLIC_KEY, key, 32);
	attr(n, P_KEEPALIVE, &ka, 4);
	nest_end(n);
}

static void h_mask33(struct nlbuf *n)
{
	__u8 key[32] = { 1 };

	nest_begin(n, 0);
	attr(n, P_PUBLIC_KEY, key, 32);
	nest_begin(n, P_ALLOWEDIPS);
	allowed(n, 0, AF_INET, "10.0.0.0", 33);
	nest_end(n);
	nest_end(n);
}

static void h_addr5(struct nlbuf *n)
{
	__u8 key[32] = { 1 }, a[5] = { 10 }, mask = 8;
	__u16 fam = AF_INET;

	nest_begin(n, 0);
	attr(n, P_PUBLIC_KEY, key, 32);
	nest_begin(n, P_ALLOWEDIPS);
	nest_begin(n, 0);
	attr(n, A_FAMILY, &fam, 2);
	attr(n, A_IPADDR, a, 5);
	attr(n, A_MASK, &mask, 1);
	nest_end(n);
	nest_end(n);
	nest_end(n);
}

static void h_endpoint_family(struct nlbuf *n)
{
	__u8 key[32] = { 1 }, sa[16] = { 42 /* AF_ATMPVC */ };

	nest_begin(n, 0);
	attr(n, P_PUBLIC_KEY, key, 32);
	attr(n, P_ENDPOINT, sa, sizeof(sa));
	nest_end(n);
}

static void h_endpoint_short(struct nlbuf *n)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	__u8 key[32] = { 1 };

	nest_begin(n, 0);
	attr(n, P_PUBLIC_KEY, key, 32);
	attr(n, P_ENDPOINT, &sin6, sizeof(struct sockaddr_in)); /* an in6 cut to in4 size */
	nest_end(n);
}

static void h_nsec(struct nlbuf *n)
{
	__s64 ts[2] = { 1, 1000000000 };
	__u8 key[32] = { 1 };

	nest_begin(n, 0);
	attr(n, P_PUBLIC_KEY, key, 32);
	attr(n, P_HANDSHAKE, ts, sizeof(ts));
	nest_end(n);
}

/* an attribute claiming more than its container holds */
static void h_nla_overrun(struct nlbuf *n)
{
	struct nlattr a = { .nla_len = 200, .nla_type = P_RX };
	__u8 key[32] = { 1 };

	nest_begin(n, 0);
	attr(n, P_PUBLIC_KEY, key, 32);
	put(n, &a, sizeof(a));
	put(n, "12345678", 8);
	nest_end(n);
}

/* an attribute shorter than its own header */
static void h_nla_tiny(struct nlbuf *n)
{
	struct nlattr a = { .nla_len = 2, .nla_type = P_RX };
	__u8 key[32] = { 1 };

	nest_begin(n, 0);
	attr(n, P_PUBLIC_KEY, key, 32);
	put(n, &a, sizeof(a));
	nest_end(n);
}

static void malformed(void)
{
	static struct nlbuf n;
	struct wg_device dev;
	char err[160];
	struct nlmsgerr e = { .error = -ENODEV };
	struct nlmsghdr h = { .nlmsg_type = NLMSG_ERROR };

	malformed_case("key_31_bytes", h_key31, -EPROTO);
	malformed_case("peer_without_key", h_nokey, -EPROTO);
	malformed_case("keepalive_4_bytes", h_port4, -EPROTO);
	malformed_case("mask_33", h_mask33, -EPROTO);
	malformed_case("ipaddr_5_bytes", h_addr5, -EPROTO);
	malformed_case("endpoint_family", h_endpoint_family, -EPROTO);
	malformed_case("endpoint_short", h_endpoint_short, -EPROTO);
	malformed_case("nsec_1e9", h_nsec, -EPROTO);
	malformed_case("nla_overrun", h_nla_overrun, -EPROTO);
	malformed_case("nla_tiny", h_nla_tiny, -EPROTO);

	/* the message itself: cut short, longer than the buffer, another family */
	n.len = 0;
	device_head(&n, true);
	msg_end(&n);
	ASSERT_EQ(parse(&(struct nlbuf){ .len = 0 }, &dev, err, sizeof(err)), 0, "empty_more");
	wg_device_free(&dev);
	memcpy(&h, n.b, sizeof(h));
	h.nlmsg_len += 4;
	memcpy(n.b, &h, sizeof(h));
	ASSERT_EQ(parse(&n, &dev, err, sizeof(err)), -EPROTO, "msg_longer_than_buffer");
	wg_device_free(&dev);
	n.len = 10;
	ASSERT_EQ(parse(&n, &dev, err, sizeof(err)), -EPROTO, "header_cut");
	wg_device_free(&dev);
	n.len = 0;
	msg_begin(&n, FAMILY + 1);
	msg_end(&n);
	ASSERT_EQ(parse(&n, &dev, err, sizeof(err)), -EPROTO, "other_family");
	wg_device_free(&dev);

	/* the kernel's answer for a link that is no WireGuard */
	n.len = 0;
	h = (struct nlmsghdr){ .nlmsg_len = NLMSG_HDRLEN + sizeof(e), .nlmsg_type = NLMSG_ERROR };
	put(&n, &h, sizeof(h));
	put(&n, &e, sizeof(e));
	ASSERT_EQ(parse(&n, &dev, err, sizeof(err)), -ENODEV, "nlmsg_error_enodev");
	wg_device_free(&dev);
	/* an error code no errno is (INT_MIN: -code would overflow): malformed */
	e.error = -2147483647 - 1;
	memcpy(n.b + NLMSG_HDRLEN, &e, sizeof(e));
	ASSERT_EQ(parse(&n, &dev, err, sizeof(err)), -EPROTO, "nlmsg_error_int_min");
	wg_device_free(&dev);
}

/* A valid dump with random bytes changed: never a crash, only 1 / 0 / -errno. */
static void mutated(void)
{
	static struct nlbuf n, m;
	__u64 state = 0x9e3779b97f4a7c15ull;
	int bad = 0, runs = 20000;

	n.len = 0;
	device_head(&n, true);
	nest_begin(&n, D_PEERS);
	peer_a(&n, 0, true);
	nest_end(&n);
	msg_end(&n);
	done(&n);
	for (int r = 0; r < runs; r++) {
		struct wg_device dev;
		char err[160];
		int ret, flips;

		m.len = n.len;
		memcpy(m.b, n.b, n.len);
		state ^= state << 13, state ^= state >> 7, state ^= state << 17;
		flips = 1 + state % 4;
		for (int f = 0; f < flips; f++) {
			state ^= state << 13, state ^= state >> 7, state ^= state << 17;
			m.b[(state >> 8) % m.len] = (__u8)state;
		}
		if (r % 3 == 0) /* and cut somewhere */
			m.len = (state >> 20) % m.len;
		ret = parse(&m, &dev, err, sizeof(err));
		bad += ret > 1;
		wg_device_free(&dev);
	}
	ASSERT_EQ(bad, 0, "only_defined_results");
}

static void family_reply(void)
{
	static struct nlbuf n;
	struct nlmsgerr e = { .error = -ENOENT };
	struct nlmsghdr h;
	__u16 id = 0x1f;

	n.len = 0;
	msg_begin(&n, GENL_ID_CTRL);
	attr(&n, CTRL_ATTR_FAMILY_NAME, "wireguard", 10);
	attr(&n, CTRL_ATTR_FAMILY_ID, &id, 2);
	msg_end(&n);
	ASSERT_EQ(wg_nl_parse_family(n.b, n.len), 0x1f, "family_id");
	ASSERT_EQ(wg_nl_parse_family(n.b, 10), -EPROTO, "family_cut");
	n.len = 0;
	h = (struct nlmsghdr){ .nlmsg_len = NLMSG_HDRLEN + sizeof(e), .nlmsg_type = NLMSG_ERROR };
	put(&n, &h, sizeof(h));
	put(&n, &e, sizeof(e));
	ASSERT_EQ(wg_nl_parse_family(n.b, n.len), -ENOENT, "no_wireguard_module");
}

/* The live socket: "lo" is no WireGuard link, with or without the module loaded. */
static void live_socket(void)
{
	struct wg_device dev;
	char err[160] = "";
	int ret = wg_netlink_get("lo", &dev, err, sizeof(err));

	ASSERT_TRUE(ret == -ENOENT || ret == -EOPNOTSUPP || ret == -ENODEV,
		    fmt_name("lo_not_wireguard_(%d)", ret));
	ASSERT_EQ(dev.err, ret, "dev_err_set");
	ASSERT_EQ(dev.npeers, 0, "no_peers");
	ASSERT_STR(dev.ifname, "lo", "ifname_kept");
	wg_device_free(&dev);
}

/* A failed read counts in warmpath_wireguard_read_errors_total{source}. */
static void read_error_metric(void)
{
	struct wg_read_stats before, after;
	struct prom_buf b;
	char want[128];

	wg_read_stats(&before);
	wg_read_stats_add_error(WG_SOURCE_NETLINK);
	wg_read_stats(&after);
	ASSERT_EQ(after.read_errors[WG_SOURCE_NETLINK], before.read_errors[WG_SOURCE_NETLINK] + 1,
		  "counted");
	prom_buf_init(&b);
	ASSERT_OK(wg_emit_metrics_all(-1, NULL, NULL, 0, &b), "emit");
	snprintf(want, sizeof(want),
		 "warmpath_wireguard_read_errors_total{source=\"netlink\"} %llu\n",
		 (unsigned long long)after.read_errors[WG_SOURCE_NETLINK]);
	ASSERT_TRUE(b.data && strstr(b.data, want), "exposed");
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_wireguard_endpoint_changes_total "),
		    "endpoint_changes_exposed");
	prom_buf_free(&b);
}

void test_wireguard_netlink(void)
{
	if (test__start_subtest("single_message"))
		single_message();
	if (test__start_subtest("split_peer"))
		split_peer();
	if (test__start_subtest("many_peers"))
		many_peers();
	if (test__start_subtest("ipv6_endpoint"))
		ipv6_endpoint();
	if (test__start_subtest("malformed"))
		malformed();
	if (test__start_subtest("mutated"))
		mutated();
	if (test__start_subtest("family_reply"))
		family_reply();
	if (test__start_subtest("live_socket"))
		live_socket();
	if (test__start_subtest("read_error_metric"))
		read_error_metric();
}
