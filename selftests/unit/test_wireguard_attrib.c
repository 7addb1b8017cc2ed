// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Attribution through WireGuard (user/wireguard/wg_attrib.c): which warmpath
 * peer a WireGuard peer belongs to (allowed IPs around its prefixes, else its
 * endpoint), allowed IPs as prefixes, peers held warm by a persistent
 * keepalive, the underlay from the route to the endpoints, and a NATed
 * peer's handshakes named through WireGuard instead of `_unknown`.
 *
 *	test_wireguard_attrib  match, ambiguous hub, NAT, prefixes from allowed IPs,
 *			       keepalive held, route and underlay, naming by trie
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "datapath_check.h"
#include "test_helpers.h"
#include "test_progs.h"
#include "wg_attrib.h"
#include "wireguard.h"

/* node-a 10.244.1.1 (+ its pod CIDR), node-b 10.244.2.1 only, node-c 192.168.1.3 only */
static void make_set(struct wp_peer_set *set)
{
	static const char *const specs[] = { "node-a=10.244.1.1,10.244.1.0/24", "node-b=10.244.2.1",
					     "node-c=192.168.1.3" };
	char err[128];

	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct wp_peer p;

		if (!peer_parse_spec(specs[i], &p, err, sizeof(err)))
			peer_set_add(set, &p, err, sizeof(err));
	}
}

/* A WireGuard peer: key byte @k, endpoint (or NULL), allowed IPs (NULL-terminated). */
static void make_wg_peer(struct wg_uapi_peer *p, __u8 k, const char *endpoint, __u16 port,
			 const char *const *allowed, __u32 keepalive)
{
	struct wp_prefix pfx;
	int n = 0;

	memset(p, 0, sizeof(*p));
	memset(p->public_key, k, WG_KEY_LEN);
	if (endpoint && !prefix_parse(endpoint, &pfx)) {
		p->has_endpoint = true;
		memcpy(p->endpoint_addr, pfx.addr, 16);
		p->endpoint_port = port;
	}
	while (allowed && allowed[n])
		n++;
	p->allowed_ips = calloc(n ? n : 1, sizeof(*p->allowed_ips));
	for (int i = 0; i < n; i++)
		prefix_parse(allowed[i], &p->allowed_ips[p->nallowed_ips++]);
	p->persistent_keepalive = keepalive;
}

static bool peer_has(const struct wp_peer *p, const char *text)
{
	struct wp_prefix want;

	if (prefix_parse(text, &want))
		return false;
	for (int i = 0; i < p->nprefixes; i++)
		if (p->prefixes[i].len == want.len && !memcmp(p->prefixes[i].addr, want.addr, 16))
			return true;
	return false;
}

/* The device of the cases below: a is plain, b is behind NAT, c is found by endpoint. */
static const char *const a_ips[] = { "10.244.1.0/24", NULL };
static const char *const b_ips[] = { "10.244.2.0/24", "fd00:2::/64", "0.0.0.0/0",
				     "10.0.0.0/7",    "::/0",	     NULL };
static const char *const c_ips[] = { "10.77.0.0/16", NULL };
static const char *const hub_ips[] = { "10.244.0.0/16", NULL };

static void make_dev(struct wg_device *dev)
{
	memset(dev, 0, sizeof(*dev));
	snprintf(dev->ifname, sizeof(dev->ifname), "wg0");
	dev->kernel = true;
	dev->peers = calloc(4, sizeof(*dev->peers));
	dev->npeers = 4;
	make_wg_peer(&dev->peers[0], 0xa, "192.168.1.1", 51820, a_ips, 0);
	make_wg_peer(&dev->peers[1], 0xb, "203.0.113.5", 4444, b_ips, 5); /* NATed */
	make_wg_peer(&dev->peers[2], 0xc, "192.168.1.3", 51820, c_ips, 25);
	make_wg_peer(&dev->peers[3], 0xd, "192.0.2.99", 51820, hub_ips, 0); /* a hub */
}

static void match_cases(void)
{
	struct wg_prefix_index ix;
	struct wp_peer_set set;
	struct wg_device dev;
	__u32 idx = 99;

	make_set(&set);
	make_dev(&dev);
	if (!ASSERT_OK(wg_prefix_index_from_set(&set, &ix), "index"))
		goto out;
	ASSERT_TRUE(wg_prefix_index_match(&ix, &dev.peers[0], &idx) && idx == 0, "a_by_allowed");
	ASSERT_TRUE(wg_prefix_index_match(&ix, &dev.peers[1], &idx) && idx == 1,
		    "natted_b_by_allowed");
	ASSERT_TRUE(wg_prefix_index_match(&ix, &dev.peers[2], &idx) && idx == 2, "c_by_endpoint");
	ASSERT_FALSE(wg_prefix_index_match(&ix, &dev.peers[3], &idx), "hub_is_ambiguous");
	wg_prefix_index_free(&ix);
out:
	wg_device_free(&dev);
	peer_set_free(&set);
}

static void prefixes_cases(void)
{
	struct wp_peer_set set;
	struct wg_device dev;
	int dropped = -1, added;

	make_set(&set);
	make_dev(&dev);
	added = wg_peers_add_allowed_ips(&set, &dev, 1, &dropped);
	ASSERT_EQ(added, 3, "added"); /* b: 10.244.2.0/24, fd00:2::/64; c: 10.77.0.0/16 */
	ASSERT_EQ(dropped, 0, "none_dropped");
	ASSERT_EQ(set.peers[0].nprefixes, 2, "a_unchanged_already_had_it");
	ASSERT_TRUE(peer_has(&set.peers[1], "10.244.2.0/24"), "b_pod_cidr");
	ASSERT_TRUE(peer_has(&set.peers[1], "fd00:2::/64"), "b_v6");
	ASSERT_FALSE(peer_has(&set.peers[1], "0.0.0.0/0"), "no_default_route");
	ASSERT_FALSE(peer_has(&set.peers[1], "10.0.0.0/7"), "no_v4_broader_than_8");
	ASSERT_FALSE(peer_has(&set.peers[1], "::/0"), "no_v6_default");
	ASSERT_TRUE(peer_has(&set.peers[2], "10.77.0.0/16"), "c_by_endpoint");
	ASSERT_FALSE(peer_has(&set.peers[0], "10.244.0.0/16") ||
			     peer_has(&set.peers[1], "10.244.0.0/16"),
		     "hub_prefix_nobody");
	/* again: everything is there already */
	ASSERT_EQ(wg_peers_add_allowed_ips(&set, &dev, 1, &dropped), 0, "idempotent");
	/* a peer with room for one more prefix: the rest is counted, not added */
	peer_set_free(&set);
	make_set(&set);
	for (int i = 1; i < WP_MAX_PEER_PREFIXES - 1; i++) {
		char text[32];

		snprintf(text, sizeof(text), "10.99.0.%d", i);
		prefix_parse(text, &set.peers[1].prefixes[set.peers[1].nprefixes++]);
	}
	added = wg_peers_add_allowed_ips(&set, &dev, 1, &dropped);
	ASSERT_EQ(set.peers[1].nprefixes, WP_MAX_PEER_PREFIXES, "b_full");
	ASSERT_TRUE(peer_has(&set.peers[1], "10.244.2.0/24"), "b_first_fits");
	ASSERT_EQ(dropped, 1, "b_second_dropped");
	ASSERT_EQ(added, 2, "added_b_one_c_one");
	wg_device_free(&dev);
	peer_set_free(&set);
}

/* A peer known by its WireGuard key (a node annotation): named though nothing else matches. */
static void key_cases(void)
{
	static const char *const k_ips[] = { "10.251.0.0/16", NULL };
	struct wp_peer_set set;
	struct wg_device dev;
	struct wp_peer p;
	char err[128];
	int dropped;

	make_set(&set);
	if (!ASSERT_OK(peer_parse_spec("node-k=10.250.0.1", &p, err, sizeof(err)), "spec"))
		goto out;
	p.has_wg_key = true;
	memset(p.wg_key, 0xe, sizeof(p.wg_key));
	peer_set_add(&set, &p, err, sizeof(err));
	memset(&dev, 0, sizeof(dev));
	dev.peers = calloc(1, sizeof(*dev.peers));
	dev.npeers = 1;
	make_wg_peer(&dev.peers[0], 0xe, "203.0.113.9", 51820, k_ips, 3);
	ASSERT_EQ(wg_peers_add_allowed_ips(&set, &dev, 1, &dropped), 1, "added_by_key");
	ASSERT_TRUE(peer_has(&set.peers[3], "10.251.0.0/16"), "node_k_got_it");
	/* without the key: nothing matches */
	set.peers[3].has_wg_key = false;
	set.peers[3].nprefixes = 1;
	ASSERT_EQ(wg_peers_add_allowed_ips(&set, &dev, 1, &dropped), 0, "no_key_no_match");
	wg_device_free(&dev);
out:
	peer_set_free(&set);
}

static void keepalive_cases(void)
{
	struct wp_peer_set set;
	struct wg_device dev;
	bool held[3];

	make_set(&set);
	make_dev(&dev);
	ASSERT_EQ(wg_keepalive_held(&set, &dev, 1, 10, held), 1, "one_held");
	ASSERT_FALSE(held[0], "a_no_keepalive");
	ASSERT_TRUE(held[1], "b_keepalive_5_le_10");
	ASSERT_FALSE(held[2], "c_keepalive_25_gt_10");
	ASSERT_EQ(wg_keepalive_held(&set, &dev, 1, 30, held), 2, "both_under_30");
	wg_device_free(&dev);
	peer_set_free(&set);
}

static void route_cases(void)
{
	struct wp_prefix lo4;
	struct wg_device dev;
	char ifname[WP_IFNAME_LEN] = "";

	prefix_parse("127.0.0.1", &lo4);
	ASSERT_OK(wg_route_oif(lo4.addr, ifname), "route_127");
	assert_text(ifname, "lo", "route_127_lo");
	memset(&dev, 0, sizeof(dev));
	dev.peers = calloc(2, sizeof(*dev.peers));
	dev.npeers = 2;
	make_wg_peer(&dev.peers[0], 1, "127.0.0.2", 51820, NULL, 0);
	make_wg_peer(&dev.peers[1], 2, NULL, 0, NULL, 0);
	ifname[0] = '\0';
	ASSERT_OK(wg_underlay_of(&dev, 1, ifname), "underlay");
	assert_text(ifname, "lo", "underlay_lo");
	dev.peers[0].has_endpoint = false;
	ASSERT_EQ(wg_underlay_of(&dev, 1, ifname), -ENOENT, "no_endpoint_no_underlay");
	wg_device_free(&dev);
}

/* ---- naming through the trie: a NATed peer's handshakes ---- */

static const char *const trie_names[] = { "node-a", "node-b", "node-c" };

static const char *trie_peer_name(void *ctx, __u32 id)
{
	return id < 3 ? trie_names[id] : NULL;
}

static int trie_put(int fd, const char *text, __u32 id)
{
	struct prefix_key k = {};
	struct prefix_val v = { .peer_id = id };
	struct wp_prefix p;

	if (prefix_parse(text, &p))
		return -EINVAL;
	k.prefixlen = p.len;
	memcpy(k.addr, p.addr, 16);
	return bpf_map_update_elem(fd, &k, &v, BPF_ANY);
}

static void trie_cases(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, lpm_opts, .map_flags = BPF_F_NO_PREALLOC);
	struct wg_endpoint_key ek = { .port = 4444, .ifindex = 1 };
	struct wg_endpoint_state es = {};
	struct wg_names nm = { .peer_name = trie_peer_name };
	struct wg_prefix_index ix;
	struct wg_device dev;
	struct wp_prefix nat;
	int pfx_fd, ep_fd = -1;
	json_t *js = NULL;
	char *text = NULL;
	__u32 id;

	pfx_fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "t_wg_pfx", sizeof(struct prefix_key),
				sizeof(struct prefix_val), 64, &lpm_opts);
	ep_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_wg_ep", sizeof(ek), sizeof(es), 8, NULL);
	if (!ASSERT_GE(pfx_fd, 0, "trie") || !ASSERT_GE(ep_fd, 0, "endpoints"))
		goto out;
	trie_put(pfx_fd, "10.244.1.1", 0);
	trie_put(pfx_fd, "10.244.1.0/24", 0);
	trie_put(pfx_fd, "10.244.2.1", 1);
	trie_put(pfx_fd, "192.168.1.3", 2);
	if (!ASSERT_OK(wg_prefix_index_from_trie(pfx_fd, &ix), "index_from_trie"))
		goto out;
	ASSERT_EQ(ix.n, 4, "index_entries");
	make_dev(&dev);
	ASSERT_TRUE(wg_prefix_index_match(&ix, &dev.peers[1], &id) && id == 1, "trie_natted_b");
	wg_prefix_index_free(&ix);

	/* handshakes from the NAT's address: named node-b through WireGuard's endpoint */
	prefix_parse("203.0.113.5", &nat);
	memcpy(ek.addr, nat.addr, 16);
	es.side[WP_DIR_TX].initiations = 3;
	es.side[WP_DIR_TX].completed = 2;
	bpf_map_update_elem(ep_fd, &ek, &es, BPF_ANY);
	nm.prefixes_fd = pfx_fd;
	js = wg_status_json(ep_fd, &nm, &dev, 1);
	text = js ? json_dumps(js, JSON_COMPACT) : NULL;
	if (ASSERT_OK_PTR(text, "status_json")) {
		assert_contains(text, "\"peer\":\"node-b\",\"endpoint\":\"203.0.113.5:4444\"",
				"natted_handshakes_named");
		assert_contains(text, "\"source\":\"netlink\"", "source_netlink");
		ASSERT_EQ(count_occurrences(text, "_unknown"), 0, "no_unknown");
	}
	/* the status table: the kernel device, B named, its keepalive */
	if (js) {
		char *table = NULL;
		size_t tlen = 0;
		FILE *f = open_memstream(&table, &tlen);

		if (ASSERT_OK_PTR(f, "memstream")) {
			wg_status_print(js, f);
			fclose(f);
			assert_contains(table, "kernel WireGuard wg0 (listen port 0, 4 peer(s))",
					"table_kernel_device");
			assert_contains(table, "KEEPALIVE", "table_keepalive_column");
			assert_contains(table, "203.0.113.5:4444", "table_natted_endpoint");
			ASSERT_TRUE(table && strstr(table, "node-b ") && strstr(table, "5s\n"),
				    "table_b_keepalive_5s");
		}
		free(table);
	}
	wg_device_free(&dev);
out:
	free(text);
	json_decref(js);
	if (pfx_fd >= 0)
		close(pfx_fd);
	if (ep_fd >= 0)
		close(ep_fd);
}

void test_wireguard_attrib(void)
{
	if (test__start_subtest("match"))
		match_cases();
	if (test__start_subtest("prefixes"))
		prefixes_cases();
	if (test__start_subtest("by_public_key"))
		key_cases();
	if (test__start_subtest("keepalive_held"))
		keepalive_cases();
	if (test__start_subtest("route_underlay"))
		route_cases();
	if (test__start_subtest("natted_named_by_trie"))
		trie_cases();
}
