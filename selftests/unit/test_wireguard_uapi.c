// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The wireguard-go UAPI reply parser and client (user/wireguard/wg_uapi.c),
 * the client against fake servers (fake_uapi.c).
 *
 *	test_wireguard_uapi        canned, garbage, random and capped replies; the
 *				   client: chunks, timeout, early close, size cap
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "datapath_check.h"
#include "test_helpers.h"
#include "test_progs.h"
#include "wireguard.h"

#include "wg_packets.h"
#include "fake_uapi.h"
#include "wireguard.h"

/* ---- test_wireguard_uapi ---- */

/* What wireguard-go 0.0.20230223 answers, with a second peer and fwmark added. */
static const char canned_reply[] = "private_key=" KEY_PRIV "\n"
				   "listen_port=51999\n"
				   "fwmark=4660\n"
				   "public_key=" KEY_A "\n"
				   "preshared_key=" KEY_ZERO "\n"
				   "protocol_version=1\n"
				   "endpoint=[fd00::1]:51820\n"
				   "last_handshake_time_sec=1700000000\n"
				   "last_handshake_time_nsec=500000000\n"
				   "tx_bytes=1234\n"
				   "rx_bytes=5678\n"
				   "persistent_keepalive_interval=25\n"
				   "allowed_ip=10.9.0.2/32\n"
				   "allowed_ip=fd00::2/128\n"
				   "public_key=" KEY_B "\n"
				   "preshared_key=" KEY_ZERO "\n"
				   "protocol_version=1\n"
				   "endpoint=192.0.2.1:40000\n"
				   "last_handshake_time_sec=0\n"
				   "last_handshake_time_nsec=0\n"
				   "tx_bytes=0\n"
				   "rx_bytes=0\n"
				   "persistent_keepalive_interval=0\n"
				   "allowed_ip=10.244.1.0/24\n"
				   "errno=0\n"
				   "\n";

static void check_canned(const struct wg_device *d, const char *label)
{
	char b64[WG_KEY_B64_LEN + 1], ep[64], pfx[64];

	ASSERT_EQ(d->listen_port, 51999, fmt_name("%s.listen_port", label));
	ASSERT_EQ(d->fwmark, 4660, fmt_name("%s.fwmark", label));
	if (!ASSERT_EQ(d->npeers, 2, fmt_name("%s.npeers", label)))
		return;
	ASSERT_EQ(d->peers[0].public_key[0], 0xa8, fmt_name("%s.key0", label));
	ASSERT_EQ(d->peers[0].public_key[31], 0x4d, fmt_name("%s.key31", label));
	wg_key_to_base64(d->peers[0].public_key, b64);
	/* `echo KEY_A | xxd -r -p | base64` */
	ASSERT_EQ(strcmp(b64, "qKniZCNrgQJ48s67tOBNS4SeoB1wdKxtiGEyDXvG100="), 0,
		  fmt_name("%s.base64 %s", label, b64));
	ASSERT_TRUE(d->peers[0].has_endpoint, fmt_name("%s.has_endpoint", label));
	wg_format_endpoint(d->peers[0].endpoint_addr, d->peers[0].endpoint_port, ep, sizeof(ep));
	ASSERT_EQ(strcmp(ep, "[fd00::1]:51820"), 0, fmt_name("%s.endpoint6 %s", label, ep));
	ASSERT_EQ(d->peers[0].last_handshake_sec, 1700000000, fmt_name("%s.lhs", label));
	ASSERT_EQ(d->peers[0].last_handshake_nsec, 500000000, fmt_name("%s.lhns", label));
	ASSERT_EQ(d->peers[0].tx_bytes, 1234, fmt_name("%s.tx_bytes", label));
	ASSERT_EQ(d->peers[0].rx_bytes, 5678, fmt_name("%s.rx_bytes", label));
	ASSERT_EQ(d->peers[0].persistent_keepalive, 25, fmt_name("%s.keepalive", label));
	if (ASSERT_EQ(d->peers[0].nallowed_ips, 2, fmt_name("%s.nallowed", label))) {
		prefix_format(&d->peers[0].allowed_ips[0], pfx, sizeof(pfx));
		ASSERT_EQ(strcmp(pfx, "10.9.0.2/32"), 0, fmt_name("%s.allowed0 %s", label, pfx));
		prefix_format(&d->peers[0].allowed_ips[1], pfx, sizeof(pfx));
		ASSERT_EQ(strcmp(pfx, "fd00::2/128"), 0, fmt_name("%s.allowed1 %s", label, pfx));
	}
	wg_format_endpoint(d->peers[1].endpoint_addr, d->peers[1].endpoint_port, ep, sizeof(ep));
	ASSERT_EQ(strcmp(ep, "192.0.2.1:40000"), 0, fmt_name("%s.endpoint4 %s", label, ep));
	ASSERT_EQ(d->peers[1].last_handshake_sec, 0, fmt_name("%s.never", label));
	ASSERT_EQ(d->peers[1].nallowed_ips, 1, fmt_name("%s.nallowed1", label));
	ASSERT_FALSE(d->truncated, fmt_name("%s.truncated", label));
}

static void uapi_canned(void)
{
	struct wg_device d;
	char err[256];
	size_t len = strlen(canned_reply);

	if (ASSERT_OK(wg_uapi_parse(canned_reply, len, &d, err, sizeof(err)), "parse"))
		check_canned(&d, "canned");
	wg_device_free(&d);
	/* without the closing empty line */
	if (ASSERT_OK(wg_uapi_parse(canned_reply, len - 1, &d, err, sizeof(err)), "no_blank"))
		check_canned(&d, "no_blank");
	wg_device_free(&d);
	/* no peers; a key of a later protocol version is ignored */
	ASSERT_OK(parse_str("private_key=" KEY_PRIV "\nlisten_port=1\nfuture_key=x y\nerrno=0\n\n",
			    &d, err, sizeof(err)),
		  "no_peers");
	ASSERT_EQ(d.npeers, 0, "no_peers.npeers");
	wg_device_free(&d);
	/* a fresh device: nothing but errno */
	ASSERT_OK(parse_str("errno=0\n\n", &d, err, sizeof(err)), "empty_device");
	ASSERT_OK(parse_str("public_key=" KEY_A "\nendpoint=[fe80::1%eth0]:1\nerrno=0\n\n", &d, err,
			    sizeof(err)),
		  "zone_dropped");
	ASSERT_EQ(d.peers[0].endpoint_port, 1, "zone_dropped.port");
	wg_device_free(&d);
}

static void uapi_garbage(void)
{
	static const struct {
		const char *text;
		int want;
		const char *name;
	} bad[] = {
		{ "", -EPROTO, "empty" },
		{ "\n", -EPROTO, "blank_only" },
		{ "errno=0", -EPROTO, "no_newline" },
		{ "listen_port=1\n", -EPROTO, "no_errno" },
		{ "listen_port=1\n\n", -EPROTO, "no_errno_blank" },
		{ "hello\n\n", -EPROTO, "no_equals" },
		{ "=1\nerrno=0\n\n", -EPROTO, "empty_key" },
		{ "Listen_Port=1\nerrno=0\n\n", -EPROTO, "key_case" },
		{ "list\xffport=1\nerrno=0\n\n", -EPROTO, "key_binary" },
		{ "errno=0\n\nerrno=0\n\n", -EPROTO, "after_blank" },
		{ "errno=0\nlisten_port=1\n\n", -EPROTO, "after_errno" },
		{ "errno=x\n\n", -EPROTO, "errno_text" },
		{ "errno=\n\n", -EPROTO, "errno_empty" },
		{ "errno=5\n\n", -EIO, "errno_5" },
		{ "errno=-5\n\n", -EIO, "errno_minus_5" },
		{ "errno=99999\n\n", -EPROTO, "errno_huge" },
		{ "listen_port=65536\nerrno=0\n\n", -EPROTO, "port_range" },
		{ "listen_port=-1\nerrno=0\n\n", -EPROTO, "port_negative" },
		{ "listen_port=1 \nerrno=0\n\n", -EPROTO, "port_space" },
		{ "listen_port=\nerrno=0\n\n", -EPROTO, "port_empty" },
		{ "private_key=abc\nerrno=0\n\n", -EPROTO, "private_key_short" },
		{ "public_key=" KEY_A "0\nerrno=0\n\n", -EPROTO, "public_key_long" },
		{ "public_key=" KEY_ZERO "\nlisten_port=1\nerrno=0\n\n", -EPROTO,
		  "device_key_after_peer" },
		{ "endpoint=1.2.3.4:5\nerrno=0\n\n", -EPROTO, "peer_key_first" },
		{ "allowed_ip=1.2.3.4/32\nerrno=0\n\n", -EPROTO, "allowed_ip_first" },
		{ "public_key=" KEY_A "\nendpoint=1.2.3.4\nerrno=0\n\n", -EPROTO, "ep_no_port" },
		{ "public_key=" KEY_A "\nendpoint=1.2.3.4:70000\nerrno=0\n\n", -EPROTO,
		  "ep_port_range" },
		{ "public_key=" KEY_A "\nendpoint=[::1:5\nerrno=0\n\n", -EPROTO, "ep_bracket" },
		{ "public_key=" KEY_A "\nendpoint=[]:5\nerrno=0\n\n", -EPROTO, "ep_empty_v6" },
		{ "public_key=" KEY_A "\nendpoint=::1:5\nerrno=0\n\n", -EPROTO,
		  "ep_v6_no_brackets" },
		{ "public_key=" KEY_A "\nendpoint=host:5\nerrno=0\n\n", -EPROTO, "ep_name" },
		{ "public_key=" KEY_A "\nlast_handshake_time_nsec=1000000000\nerrno=0\n\n", -EPROTO,
		  "nsec_range" },
		{ "public_key=" KEY_A "\nrx_bytes=18446744073709551616\nerrno=0\n\n", -EPROTO,
		  "rx_overflow" },
		{ "public_key=" KEY_A "\nallowed_ip=10.0.0.0/33\nerrno=0\n\n", -EPROTO,
		  "allowed_ip_len" },
		{ "public_key=" KEY_A "\nallowed_ip=10.0.0.0/\nerrno=0\n\n", -EPROTO,
		  "allowed_ip_slash" },
		{ "public_key=" KEY_A "\npersistent_keepalive_interval=65536\nerrno=0\n\n", -EPROTO,
		  "keepalive_range" },
	};
	struct wg_device d;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse_str(bad[i].text, &d, err, sizeof(err));

		ASSERT_EQ(ret, bad[i].want, fmt_name("%s: %s", bad[i].name, err));
		ASSERT_TRUE(err[0] != '\0', fmt_name("%s.message", bad[i].name));
		ASSERT_TRUE(d.npeers == 0 && !d.peers,
			    fmt_name("%s.empty_after_error", bad[i].name));
		if (env.verbose)
			test__printf("%s: %s\n", bad[i].name, err);
	}
	/* a NUL byte inside a line (strlen would stop there: pass the length) */
	{
		static const char nul[] = "listen_port=1\0\nerrno=0\n\n";

		ASSERT_EQ(wg_uapi_parse(nul, sizeof(nul) - 1, &d, err, sizeof(err)), -EPROTO,
			  "nul_byte");
	}
	/* a line longer than WG_UAPI_MAX_LINE */
	{
		static char s[WG_UAPI_MAX_LINE + 128];
		size_t n = WG_UAPI_MAX_LINE + 64;

		memcpy(s, "future=", 7);
		memset(s + 7, 'x', n - 7);
		memcpy(s + n, "\nerrno=0\n\n", 11);
		ASSERT_EQ(parse_str(s, &d, err, sizeof(err)), -EPROTO, "long_line");
		/* and one just inside the limit is fine */
		memcpy(s + WG_UAPI_MAX_LINE, "\nerrno=0\n\n", 11);
		ASSERT_OK(parse_str(s, &d, err, sizeof(err)), "longest_line");
	}
}

/* The canned reply cut at every length, and with random bytes flipped: never a crash. */
static void uapi_random(void)
{
	size_t len = strlen(canned_reply), i;
	char buf[sizeof(canned_reply)], err[256];
	uint64_t rng = 0x77a9e5eedULL;
	int ok_count = 0, fail_count = 0;
	struct wg_device d;

	for (i = 0; i < len; i++) {
		int ret = wg_uapi_parse(canned_reply, i, &d, err, sizeof(err));

		/* every cut short of "errno=0\n" is refused; without the final "\n" it is fine */
		if (!ASSERT_EQ(ret, i == len - 1 ? 0 : -EPROTO, fmt_name("cut%zu", i)))
			break;
		wg_device_free(&d);
	}
	for (i = 0; i < 20000; i++) {
		int flips = 1 + test_prng(&rng) % 4, ret;

		memcpy(buf, canned_reply, len);
		for (int k = 0; k < flips; k++)
			buf[test_prng(&rng) % len] = test_prng(&rng) & 0xff;
		ret = wg_uapi_parse(buf, len, &d, err, sizeof(err));
		if (!ASSERT_TRUE(ret == 0 || (ret < 0 && err[0]), fmt_name("flip%zu", i)))
			break;
		if (ret)
			fail_count++;
		else
			ok_count++;
		if (!ASSERT_TRUE(ret == 0 || (!d.npeers && !d.peers), fmt_name("flip%zu.freed", i)))
			break;
		if (!ret && !ASSERT_LE(d.npeers, 2, fmt_name("flip%zu.npeers", i)))
			break;
		wg_device_free(&d);
	}
	if (env.verbose)
		test__printf("random: %d parsed, %d refused\n", ok_count, fail_count);
	ASSERT_GT(fail_count, 0, "some_refused");
}

/* More peers and allowed IPs than the caps: dropped, flagged, no error. */
static void uapi_caps(void)
{
	size_t cap = (WG_UAPI_MAX_PEERS + 2) * 110 + (WG_UAPI_MAX_ALLOWED_IPS + 5) * 32 + 128;
	size_t n = 0;
	char *s = malloc(cap), err[256];
	struct wg_device d;

	if (!ASSERT_OK_PTR(s, "malloc"))
		return;
	n += sprintf(s + n, "public_key=%s\n", KEY_A);
	for (int i = 0; i < WG_UAPI_MAX_ALLOWED_IPS + 5; i++)
		n += sprintf(s + n, "allowed_ip=10.%d.%d.0/24\n", i / 256, i % 256);
	for (int i = 1; i < WG_UAPI_MAX_PEERS + 2; i++)
		n += sprintf(s + n, "public_key=%064x\nallowed_ip=10.0.0.1/32\n", i);
	n += sprintf(s + n, "errno=0\n\n");
	if (ASSERT_LE(n, cap, "fits") &&
	    ASSERT_OK(wg_uapi_parse(s, n, &d, err, sizeof(err)), err)) {
		ASSERT_EQ(d.npeers, WG_UAPI_MAX_PEERS, "npeers_capped");
		ASSERT_EQ(d.peers[0].nallowed_ips, WG_UAPI_MAX_ALLOWED_IPS, "allowed_capped");
		ASSERT_TRUE(d.truncated, "truncated");
		ASSERT_EQ(d.peers[WG_UAPI_MAX_PEERS - 1].public_key[30] << 8 |
				  d.peers[WG_UAPI_MAX_PEERS - 1].public_key[31],
			  WG_UAPI_MAX_PEERS - 1, "last_kept_peer");
	}
	wg_device_free(&d);
	free(s);
}

static long long elapsed_ms(__u64 t0)
{
	return (dp_now_ns() - t0) / 1000000;
}

static void uapi_client(void)
{
	struct fake_uapi s;
	struct wg_device d;
	char err[256];
	__u64 t0;
	int ret;

	if (test__start_subtest("client_reply") &&
	    fake_uapi_start(&s, FAKE_REPLY, canned_reply, 0)) {
		ret = wg_uapi_query(s.path, 1000, &d, err, sizeof(err));
		if (ASSERT_OK(ret, err))
			check_canned(&d, "client");
		wg_device_free(&d);
		fake_uapi_stop(&s);
		ASSERT_EQ(strcmp(s.request, "get=1\n\n"), 0, "request");
	}
	/* 7-byte pieces: lines and the closing "\n\n" split across reads */
	if (test__start_subtest("client_chunks") &&
	    fake_uapi_start(&s, FAKE_REPLY, canned_reply, 7)) {
		ret = wg_uapi_query(s.path, 2000, &d, err, sizeof(err));
		if (ASSERT_OK(ret, err))
			check_canned(&d, "chunks");
		wg_device_free(&d);
		fake_uapi_stop(&s);
	}
	if (test__start_subtest("client_errno") &&
	    fake_uapi_start(&s, FAKE_REPLY, "errno=-5\n\nlisten_port=1\n", 0)) {
		ASSERT_EQ(wg_uapi_query(s.path, 1000, &d, err, sizeof(err)), -EIO, "errno");
		fake_uapi_stop(&s);
	}
	if (test__start_subtest("client_timeout") && fake_uapi_start(&s, FAKE_SILENT, NULL, 0)) {
		t0 = dp_now_ns();
		ret = wg_uapi_query(s.path, 200, &d, err, sizeof(err));
		ASSERT_EQ(ret, -ETIMEDOUT, err);
		ASSERT_GE(elapsed_ms(t0), 190, "waited_ms");
		ASSERT_LT(elapsed_ms(t0), 1000, "not_longer_ms");
		ASSERT_TRUE(d.npeers == 0 && !d.peers, "empty");
		fake_uapi_stop(&s);
	}
	/* a slow trickle does not extend the deadline: the timeout is for the whole reply */
	if (test__start_subtest("client_trickle") &&
	    fake_uapi_start(&s, FAKE_REPLY, canned_reply, 1)) {
		t0 = dp_now_ns();
		ret = wg_uapi_query(s.path, 50, &d, err, sizeof(err));
		ASSERT_EQ(ret, -ETIMEDOUT, err);
		ASSERT_GE(elapsed_ms(t0), 45, "waited_ms");
		ASSERT_LT(elapsed_ms(t0), 500, "bounded_ms");
		fake_uapi_stop(&s);
	}
	if (test__start_subtest("client_close_early") &&
	    fake_uapi_start(&s, FAKE_CLOSE_EARLY, canned_reply, 0)) {
		ASSERT_EQ(wg_uapi_query(s.path, 1000, &d, err, sizeof(err)), -EPROTO, err);
		fake_uapi_stop(&s);
	}
	if (test__start_subtest("client_flood") && fake_uapi_start(&s, FAKE_FLOOD, NULL, 0)) {
		ASSERT_EQ(wg_uapi_query(s.path, 5000, &d, err, sizeof(err)), -EMSGSIZE, err);
		fake_uapi_stop(&s);
	}
	if (test__start_subtest("client_no_socket")) {
		char dir[] = "/tmp/wp-wg-uapi.XXXXXX", path[64];
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd;

		if (ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp")) {
			snprintf(path, sizeof(path), "%s/none.sock", dir);
			ASSERT_EQ(wg_uapi_query(path, 200, &d, err, sizeof(err)), -ENOENT, err);
			/* a socket file nobody listens on: a wireguard-go that died */
			fd = socket(AF_UNIX, SOCK_STREAM, 0);
			strcpy(sun.sun_path, path);
			if (ASSERT_OK(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), "bind"))
				ASSERT_EQ(wg_uapi_query(path, 200, &d, err, sizeof(err)),
					  -ECONNREFUSED, err);
			close(fd);
			unlink(path);
			rmdir(dir);
		}
		ASSERT_EQ(wg_uapi_get("../etc", &d, err, sizeof(err)), -EINVAL, "bad_ifname");
		ASSERT_EQ(wg_uapi_get("", &d, err, sizeof(err)), -EINVAL, "empty_ifname");
		ASSERT_EQ(wg_uapi_get("0123456789abcdef", &d, err, sizeof(err)), -EINVAL,
			  "long_ifname");
		ASSERT_EQ(wg_uapi_get("wpt-no-such-wg", &d, err, sizeof(err)), -ENOENT,
			  "no_such_device");
		ASSERT_EQ(d.err, -ENOENT, "dev.err");
		ASSERT_EQ(strcmp(d.ifname, "wpt-no-such-wg"), 0, "dev.ifname");
	}
}

void test_wireguard_uapi(void)
{
	if (test__start_subtest("canned"))
		uapi_canned();
	if (test__start_subtest("garbage"))
		uapi_garbage();
	if (test__start_subtest("random"))
		uapi_random();
	if (test__start_subtest("caps"))
		uapi_caps();
	uapi_client();
}
