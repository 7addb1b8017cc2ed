// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * WireGuard metrics and JSON (user/wireguard/wg_present.c) from map entries
 * and wireguard-go devices, naming through the prefixes trie, series caps,
 * promtool.
 *
 *	test_wireguard_metrics     exposition from map entries, naming, caps, promtool,
 *				   JSON
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
#include "test_progs.h"
#include "test_helpers.h"
#include "wireguard.h"

#include "wg_packets.h"
#include "wireguard.h"

/* ---- test_wireguard_metrics ---- */

static const char *const names_by_id[] = {
	[PEER_A] = "node-a",
	[PEER_B] = "node-b",
	[PEER_C] = "node-c",
};

static const char *fake_peer_name(void *ctx, __u32 id)
{
	int *calls = ctx;

	(*calls)++;
	if (id < sizeof(names_by_id) / sizeof(names_by_id[0]))
		return names_by_id[id];
	return id == PEER_LAST ? "node-last" : NULL;
}

static bool assert_line(const char *text, const char *line, const char *name)
{
	const char *p = text;
	size_t n = strlen(line);

	while (p && (p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return test__assert_report(true, __FILE__, __LINE__, name, "found");
		p += n;
	}
	return test__assert_report(false, __FILE__, __LINE__, name, "line \"%s\" not in:\n%s", line,
				   text ? text : "(null)");
}

static int count_prefix(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, prefix, strlen(prefix));
	return n;
}

static int put_entry(struct dp_fixture *f, const char *addr, __u16 port, __u32 ifindex,
		     const struct wg_endpoint_state *st)
{
	struct wg_endpoint_key k;

	wg_key(&k, addr, port);
	k.ifindex = ifindex;
	return bpf_map_update_elem(wg_fd(f), &k, st, BPF_ANY) ? -errno : 0;
}

/*
 * node-a at 192.0.2.1:51820: 3 initiations (1 unanswered, 2 completed, RTTs
 * 2 ms and 300 ms), one received and completed, cookies; the same endpoint on
 * a second underlay ifindex (merged into one series); a NATed endpoint of
 * node-a that the datapath could not name; a stray address with a stale
 * pending initiation; a scanner with only malformed datagrams.
 */
static bool put_scenario(struct dp_fixture *f, __u64 now)
{
	struct wg_endpoint_state a = {}, a2 = {}, nat = {}, stray = {}, scan = {};

	a.side[WP_DIR_TX].initiations = 3;
	a.side[WP_DIR_TX].completed = 2;
	a.side[WP_DIR_TX].unanswered = 1;
	a.side[WP_DIR_RX].initiations = 1;
	a.side[WP_DIR_RX].completed = 1;
	a.cookies_tx = 4;
	a.cookies_rx = 5;
	a.malformed = 1;
	a.peer_id = PEER_A + 1;
	a.last_handshake_ns = now - 2000000000ull;
	a.rtt.slots[4] = 1; /* 2 ms: <= 2.5 ms */
	a.rtt.slots[11] = 1; /* 300 ms: <= 500 ms */
	a.rtt.sum_ns = 302000000ull;
	a.rtt.count = 2;
	a2.side[WP_DIR_TX].initiations = 1;
	a2.side[WP_DIR_TX].completed = 1;
	a2.peer_id = PEER_A + 1;
	a2.rtt.slots[0] = 1;
	a2.rtt.sum_ns = 50000;
	a2.rtt.count = 1;
	nat.side[WP_DIR_RX].initiations = 2;
	nat.side[WP_DIR_RX].completed = 2;
	stray.side[WP_DIR_TX].initiations = 1;
	stray.side[WP_DIR_TX].pending_ns = now - 10000000000ull; /* 10 s: overdue */
	stray.side[WP_DIR_TX].pending_index = 9;
	scan.malformed = 7;
	return ASSERT_OK(put_entry(f, NODE_A4, WG_PORT, DP_TEST_IFINDEX, &a), "put_a") &&
	       ASSERT_OK(put_entry(f, NODE_A4, WG_PORT, DP_TEST_IFINDEX + 1, &a2), "put_a2") &&
	       ASSERT_OK(put_entry(f, "192.0.2.77", 40000, DP_TEST_IFINDEX, &nat), "put_nat") &&
	       ASSERT_OK(put_entry(f, STRAY4, WG_PORT, DP_TEST_IFINDEX, &stray), "put_stray") &&
	       ASSERT_OK(put_entry(f, "198.51.100.99", 1234, DP_TEST_IFINDEX, &scan), "put_scan");
}

#define HS "warmpath_wireguard_handshakes_total"
#define A_LABELS "peer=\"node-a\",endpoint=\"192.0.2.1:51820\""

static void metrics_basic(struct dp_fixture *f)
{
	struct prom_buf b;
	int calls = 0;

	wg_clear(f);
	if (!put_scenario(f, dp_now_ns()))
		return;
	prom_buf_init(&b);
	if (!ASSERT_OK(wg_emit_metrics(wg_fd(f), fake_peer_name, &calls, &b), "emit"))
		goto out;
	if (env.verbose)
		printf("%s", b.data);
	ASSERT_GT(calls, 0, "callback_used");
	assert_line(b.data, HS "{" A_LABELS ",direction=\"initiated\",result=\"completed\"} 3",
		    "a.completed_merged");
	assert_line(b.data, HS "{" A_LABELS ",direction=\"initiated\",result=\"unanswered\"} 1",
		    "a.unanswered");
	assert_line(b.data, HS "{" A_LABELS ",direction=\"received\",result=\"completed\"} 1",
		    "a.received_completed");
	assert_line(b.data,
		    "warmpath_wireguard_handshake_initiations_total{" A_LABELS
		    ",direction=\"initiated\"} 4",
		    "a.initiations");
	assert_line(b.data, "warmpath_wireguard_cookies_total{" A_LABELS ",direction=\"tx\"} 4",
		    "a.cookies_tx");
	assert_line(b.data, "warmpath_wireguard_cookies_total{" A_LABELS ",direction=\"rx\"} 5",
		    "a.cookies_rx");
	assert_line(b.data,
		    "warmpath_wireguard_handshake_rtt_seconds_bucket{" A_LABELS ",le=\"0.0001\"} 1",
		    "a.rtt_first_bucket");
	assert_line(b.data,
		    "warmpath_wireguard_handshake_rtt_seconds_bucket{" A_LABELS ",le=\"0.0025\"} 2",
		    "a.rtt_2ms");
	assert_line(b.data,
		    "warmpath_wireguard_handshake_rtt_seconds_bucket{" A_LABELS ",le=\"0.5\"} 3",
		    "a.rtt_300ms");
	assert_line(b.data, "warmpath_wireguard_handshake_rtt_seconds_count{" A_LABELS "} 3",
		    "a.rtt_count");
	{
		const char *p = strstr(
			b.data, "warmpath_wireguard_handshake_rtt_seconds_sum{" A_LABELS "} ");
		double sum = p ? strtod(strchr(p, '}') + 2, NULL) : -1;

		ASSERT_TRUE(fabs(sum - 0.30205) < 1e-9, fmt_name("a.rtt_sum %g", sum));
	}
	/* without the trie the NATed endpoint has no name; the overdue initiation counts */
	assert_line(b.data,
		    HS "{peer=\"_unknown\",endpoint=\"192.0.2.77:40000\",direction=\"received\","
		       "result=\"completed\"} 2",
		    "nat.unknown");
	assert_line(b.data,
		    HS "{peer=\"_unknown\",endpoint=\"198.51.100.7:51820\",direction=\"initiated\","
		       "result=\"unanswered\"} 1",
		    "stray.overdue_unanswered");
	assert_line(b.data, "warmpath_wireguard_malformed_total 8", "malformed_total");
	ASSERT_EQ(count_prefix(b.data, HS "{"), 3 * 4, "three_rows_not_the_scanner");
	ASSERT_EQ(promtool_check(b.data, false), 0, "promtool");
out:
	prom_buf_free(&b);
}

/* With the trie and a wireguard-go device: the NATed endpoint is named through its allowed IPs. */
static void metrics_uapi(struct dp_fixture *f)
{
	char reply[2048], err[256], *b64 = NULL;
	struct wg_names nm = { .peer_name = fake_peer_name, .prefixes_fd = f->prefixes_fd };
	struct wg_device dev;
	struct prom_buf b;
	json_t *js = NULL, *o;
	size_t i;
	int calls = 0;
	time_t now = time(NULL);

	nm.ctx = &calls;
	wg_clear(f);
	if (!put_scenario(f, dp_now_ns()))
		return;
	snprintf(reply, sizeof(reply),
		 "private_key=" KEY_PRIV "\nlisten_port=51820\n"
		 "public_key=" KEY_A "\nendpoint=192.0.2.77:40000\n"
		 "last_handshake_time_sec=%lld\nlast_handshake_time_nsec=0\n"
		 "allowed_ip=10.244.7.9/32\n" /* node-c */
		 "public_key=" KEY_B "\nallowed_ip=172.16.0.0/12\nerrno=0\n\n",
		 (long long)now - 30);
	if (!ASSERT_OK(parse_str(reply, &dev, err, sizeof(err)), err))
		return;
	snprintf(dev.ifname, sizeof(dev.ifname), "wgtest0");
	prom_buf_init(&b);
	if (!ASSERT_OK(wg_emit_metrics_all(wg_fd(f), &nm, &dev, 1, &b), "emit"))
		goto out;
	if (env.verbose)
		printf("%s", b.data);
	assert_line(b.data, HS "{" A_LABELS ",direction=\"initiated\",result=\"completed\"} 3",
		    "a.by_trie");
	assert_line(b.data,
		    HS "{peer=\"node-c\",endpoint=\"192.0.2.77:40000\",direction=\"received\","
		       "result=\"completed\"} 2",
		    "nat.by_allowed_ips");
	assert_line(b.data, "warmpath_wireguard_uapi_up{interface=\"wgtest0\"} 1", "uapi_up");
	ASSERT_EQ(count_prefix(b.data, "warmpath_wireguard_peer_last_handshake_seconds{"), 2,
		  "two_peers");
	assert_line(b.data,
		    "warmpath_wireguard_peer_last_handshake_seconds{interface=\"wgtest0\","
		    "peer=\"_unknown\",public_key=\"xNAaOtBeGMSvk+i3610aWmoArBrkC9ZAx+/fSdTn824=\","
		    "endpoint=\"none\"} +Inf",
		    "never");
	{
		const char *p = strstr(b.data, "warmpath_wireguard_peer_last_handshake_seconds{"
					       "interface=\"wgtest0\",peer=\"node-c\"");
		double age = p ? strtod(strchr(p, '}') + 2, NULL) : -1;

		ASSERT_TRUE(p != NULL, "node-c_age_present");
		ASSERT_TRUE(age >= 29 && age < 40, fmt_name("node-c_age %g", age));
	}
	ASSERT_EQ(promtool_check(b.data, false), 0, "promtool");

	/* a device whose query failed */
	dev.err = -ETIMEDOUT;
	prom_buf_reset(&b);
	wg_emit_metrics_all(wg_fd(f), &nm, &dev, 1, &b);
	assert_line(b.data, "warmpath_wireguard_uapi_up{interface=\"wgtest0\"} 0", "uapi_down");
	dev.err = 0;

	js = wg_status_json(wg_fd(f), &nm, &dev, 1);
	if (!ASSERT_OK_PTR(js, "json"))
		goto out;
	if (env.verbose) {
		b64 = json_dumps(js, JSON_INDENT(2));
		printf("%s\n", b64);
	}
	ASSERT_EQ(json_integer_value(json_object_get(js, "malformed")), 8, "json.malformed");
	ASSERT_EQ(json_array_size(json_object_get(js, "endpoints")), 4, "json.endpoints_all");
	json_array_foreach(json_object_get(js, "endpoints"), i, o) {
		const char *ep = json_string_value(json_object_get(o, "endpoint"));

		if (!strcmp(ep, "192.0.2.1:51820")) {
			ASSERT_EQ(strcmp(json_string_value(json_object_get(o, "peer")), "node-a"),
				  0, "json.a.peer");
			ASSERT_EQ(json_integer_value(json_object_get(
					  json_object_get(o, "initiated"), "completed")),
				  3, "json.a.completed");
			ASSERT_TRUE(fabs(json_real_value(json_object_get(o, "rtt_mean_seconds")) -
					 0.30205 / 3) < 1e-9,
				    "json.a.rtt_mean");
			ASSERT_TRUE(json_is_null(json_object_get(o, "public_key")),
				    "json.a.no_key");
			ASSERT_TRUE(json_real_value(
					    json_object_get(o, "last_handshake_seconds_ago")) >= 2,
				    "json.a.last_handshake");
		} else if (!strcmp(ep, "192.0.2.77:40000")) {
			ASSERT_EQ(strcmp(json_string_value(json_object_get(o, "public_key")),
					 "qKniZCNrgQJ48s67tOBNS4SeoB1wdKxtiGEyDXvG100="),
				  0, "json.nat.public_key");
			ASSERT_TRUE(json_is_null(json_object_get(o, "rtt_mean_seconds")),
				    "json.nat.no_rtt");
		} else if (!strcmp(ep, "198.51.100.7:51820")) {
			ASSERT_FALSE(json_is_true(json_object_get(json_object_get(o, "initiated"),
								  "pending")),
				     "json.stray.overdue_not_pending");
		}
	}
	o = json_array_get(json_object_get(js, "devices"), 0);
	ASSERT_EQ(strcmp(json_string_value(json_object_get(o, "interface")), "wgtest0"), 0,
		  "json.device");
	ASSERT_EQ(json_array_size(json_object_get(o, "peers")), 2, "json.device.peers");
	if (env.verbose)
		wg_status_print(js, stdout);
out:
	free(b64);
	json_decref(js);
	wg_device_free(&dev);
	prom_buf_free(&b);
}

/* More endpoints than WG_MAX_ENDPOINT_SERIES: named ones kept, the rest in "_other". */
static void metrics_cap(struct dp_fixture *f)
{
	struct wg_endpoint_state st = {};
	struct prom_buf b;
	int calls = 0, n = WG_MAX_ENDPOINT_SERIES + 40;
	char addr[32];

	wg_clear(f);
	st.side[WP_DIR_TX].initiations = 1;
	st.side[WP_DIR_TX].completed = 1;
	for (int i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "100.64.%d.%d", i / 200, i % 200 + 1);
		if (!ASSERT_OK(put_entry(f, addr, WG_PORT, DP_TEST_IFINDEX, &st), "put"))
			return;
	}
	st.peer_id = PEER_B + 1;
	put_entry(f, POD_B4, WG_PORT, DP_TEST_IFINDEX, &st);
	prom_buf_init(&b);
	if (ASSERT_OK(wg_emit_metrics(wg_fd(f), fake_peer_name, &calls, &b), "emit")) {
		ASSERT_EQ(count_prefix(b.data, HS "{"), 4 * (WG_MAX_ENDPOINT_SERIES + 1),
			  "rows_capped");
		assert_line(b.data,
			    HS "{peer=\"node-b\",endpoint=\"10.244.1.5:51820\",direction="
			       "\"initiated\",result=\"completed\"} 1",
			    "named_kept");
		assert_line(b.data,
			    HS "{peer=\"_other\",endpoint=\"_other\",direction=\"initiated\","
			       "result=\"completed\"} 41",
			    "other_sum");
		ASSERT_EQ(promtool_check(b.data, false), 0, "promtool");
	}
	prom_buf_free(&b);
	wg_clear(f);
}

/* The BPF histogram bounds are the exported ones. */
static void metrics_bounds(void)
{
	static const __u64 ns[WP_HIST_BOUNDS] = WP_HIST_BOUNDS_NS;

	for (int i = 0; i < WP_HIST_BOUNDS; i++)
		ASSERT_TRUE(fabs(ns[i] / 1e9 - prom_hist_bounds[i]) < 1e-12,
			    fmt_name("bound%d", i));
}

void test_wireguard_metrics(void)
{
	struct dp_fixture f;

	if (test__start_subtest("bounds"))
		metrics_bounds();
	if (!setup_underlay(&f))
		return;
	if (test__start_subtest("basic"))
		metrics_basic(&f);
	if (test__start_subtest("uapi_and_trie"))
		metrics_uapi(&f);
	if (test__start_subtest("cap"))
		metrics_cap(&f);
	if (test__start_subtest("empty")) {
		struct prom_buf b;
		int calls = 0;

		wg_clear(&f);
		prom_buf_init(&b);
		ASSERT_OK(wg_emit_metrics(wg_fd(&f), fake_peer_name, &calls, &b), "emit");
		assert_line(b.data, "warmpath_wireguard_malformed_total 0", "zero");
		ASSERT_EQ(promtool_check(b.data, false), 0, "promtool");
		prom_buf_free(&b);
	}
	dp_fixture_close(&f);
}
