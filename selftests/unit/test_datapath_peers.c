// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of bpf/datapath.bpf.c through BPF_PROG_TEST_RUN: which peer a
 * packet is credited to. Egress credits the destination, ingress the source;
 * the longest prefix wins; an address in no prefix lands in the unmatched
 * LRU; only interfaces configured as tunnels count. Every run goes through
 * check_run() (datapath_check.c), which asserts the exact deltas.
 */
#include <string.h>
#include <bpf/bpf.h>
#include "datapath_check.h"
#include "test_progs.h"

/* Egress credits the destination's peer, ingress the source's. */
static void credit_direction(struct dp_fixture *f)
{
	static const struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP };
	/* the same packets through the other program look at our own address */
	static const struct flow_case cases[] = {
		{ "egress_credits_daddr", &s, WP_DIR_TX, WP_DIR_TX, PEER_A,
		  .labels = { "egress" } },
		{ "ingress_credits_saddr", &s, WP_DIR_RX, WP_DIR_RX, PEER_A,
		  .labels = { "ingress" } },
		{ "egress_of_incoming_packet", &s, WP_DIR_RX, WP_DIR_TX, .unmatched = LOCAL4,
		  .labels = { "egress" } },
		{ "ingress_of_outgoing_packet", &s, WP_DIR_TX, WP_DIR_RX, .unmatched = LOCAL4,
		  .labels = { "ingress" } },
	};
	struct dp_expect e;
	struct pkt p;
	int i;

	run_flow_cases(f, cases, sizeof(cases) / sizeof(cases[0]));
	if (test__start_subtest("between_two_peers")) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv4(&p, NODE_A4, POD_B4);
		pkt_udp(&p, 1000, 2000);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_matched(WP_DIR_TX, PEER_B, ENCAP_NONE, false);
			check_pkt(f, &p, &e, "egress");
			e = expect_matched(WP_DIR_RX, PEER_A, ENCAP_NONE, false);
			check_pkt(f, &p, &e, "ingress");
		}
	}
	if (test__start_subtest("timestamps_monotonic")) {
		/* check_run asserts last_*_ns inside each run's window and increasing. */
		for (i = 0; i < 10; i++) {
			int dir = i % 3 ? WP_DIR_TX : WP_DIR_RX;

			if (!ASSERT_OK(build_flow(&p, &s, dir), "build"))
				break;
			e = expect_matched(dir, PEER_A, ENCAP_NONE, false);
			if (!check_pkt(f, &p, &e, fmt_name("run%d", i)))
				break;
		}
	}
}

void test_datapath_direction(void)
{
	with_datapath(credit_direction);
}

/* Longest-prefix match of the peer address: exact addresses, CIDRs, nesting. */
static void prefix_match(struct dp_fixture *f)
{
	static const struct {
		const char *name;
		const char *addr;
		int peer; /* PEER_NONE: unmatched */
	} cases[] = {
		{ "exact_ip4", NODE_A4, PEER_A },
		{ "exact_ip6", NODE_A6, PEER_A },
		{ "exact_ip4_neighbour", "192.0.2.2", PEER_NONE },
		{ "exact_ip6_neighbour", "2001:db8::2", PEER_NONE },
		{ "cidr_ip4", POD_B4, PEER_B },
		{ "cidr_ip4_first", "10.244.0.0", PEER_B },
		{ "cidr_ip4_last", "10.244.255.255", PEER_B },
		{ "cidr_ip4_below", "10.243.255.255", PEER_NONE },
		{ "cidr_ip4_above", "10.245.0.0", PEER_NONE },
		{ "cidr_ip6", POD_B6, PEER_B },
		{ "cidr_ip6_outside", "fd00:c::5", PEER_NONE },
		{ "longest_ip4", POD_C4, PEER_C },
		{ "longest_ip4_next_to_it", "10.244.8.1", PEER_B },
		{ "longest_ip6", POD_C6, PEER_C },
		{ "longest_ip6_next_to_it", "fd00:b:0:8::1", PEER_B },
		{ "last_peer_slot", NODE_LAST4, PEER_LAST },
	};
	struct dp_expect e;
	struct pkt p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool v4 = !strchr(cases[i].addr, ':');
		struct flow_spec s = { .outer = v4 ? 4 : 6,
				       .l4 = FLOW_TCP,
				       .remote = cases[i].addr };
		int dir;

		if (!test__start_subtest(cases[i].name))
			continue;
		for (dir = WP_DIR_TX; dir <= WP_DIR_RX; dir++) {
			if (!ASSERT_OK(build_flow(&p, &s, dir), "build"))
				break;
			if (cases[i].peer == PEER_NONE)
				e = expect_unmatched(dir, cases[i].addr, ENCAP_NONE);
			else
				e = expect_matched(dir, cases[i].peer, ENCAP_NONE, false);
			check_pkt(f, &p, &e, dir == WP_DIR_TX ? "tx" : "rx");
		}
	}

	if (test__start_subtest("prefix_added_and_removed_live")) {
		struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP, .remote = "100.64.3.3" };
		struct prefix_key key = { .prefixlen = 96 + 24 };

		if (ASSERT_OK(build_flow(&p, &s, WP_DIR_TX), "build") &&
		    ASSERT_OK(addr_to_key("100.64.3.0", key.addr), "key")) {
			e = expect_unmatched(WP_DIR_TX, "100.64.3.3", ENCAP_NONE);
			check_pkt(f, &p, &e, "before_add");
			if (ASSERT_OK(dp_add_prefix(f, "100.64.3.0/24", PEER_C), "add_prefix")) {
				e = expect_matched(WP_DIR_TX, PEER_C, ENCAP_NONE, false);
				check_pkt(f, &p, &e, "after_add");
			}
			if (ASSERT_OK(bpf_map_delete_elem(f->prefixes_fd, &key), "del_prefix")) {
				dp_prefixes_changed(f);
				e = expect_unmatched(WP_DIR_TX, "100.64.3.3", ENCAP_NONE);
				check_pkt(f, &p, &e, "after_delete");
			}
		}
	}
	if (test__start_subtest("peer_id_out_of_range_ignored")) {
		/* A prefix pointing past the peers array: seen, counted as bad_peer_id. */
		struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP, .remote = "198.18.0.1" };

		if (ASSERT_OK(dp_add_prefix(f, "198.18.0.0/15", WP_MAX_PEERS), "add_prefix") &&
		    ASSERT_OK(build_flow(&p, &s, WP_DIR_TX), "build")) {
			e = expect_nothing(WP_DIR_TX);
			e.stats[WP_STAT_PACKETS] = 1;
			e.stats[WP_STAT_BAD_PEER_ID] = 1;
			check_pkt(f, &p, &e, "bad_peer_id");
		}
	}
}

void test_datapath_prefix_match(void)
{
	with_datapath(prefix_match);
}

/* Addresses in no prefix land in the unmatched LRU, keyed by the peer address. */
static void unmatched(struct dp_fixture *f)
{
	static const struct flow_spec tx4 = {
		.outer = 4, .l4 = FLOW_TCP, .remote = STRAY4, .payload = 10
	};
	static const struct flow_spec rx6 = { .outer = 6, .l4 = FLOW_UDP, .remote = STRAY6 };
	/* the inner destination is node-b's pod; the outer one is unknown */
	static const struct flow_spec ipip = {
		.encap = FLOW_IPIP, .outer = 4, .inner = 4, .l4 = FLOW_TCP, .remote = STRAY4
	};
	static const struct flow_spec vxlan = {
		.encap = FLOW_VXLAN, .outer = 6, .inner = 4, .l4 = FLOW_UDP, .remote = STRAY6
	};
	static const struct flow_case unmatched_cases[] = {
		/* the entry exists after the first packet: the second adds to it */
		{ "tx_ip4", &tx4, WP_DIR_TX, WP_DIR_TX, .unmatched = STRAY4, .runs = 2,
		  .labels = { "first", "second" } },
		{ "rx_ip6", &rx6, WP_DIR_RX, WP_DIR_RX, .unmatched = STRAY6, .labels = { "rx" } },
		{ "ipip_outer_address_decides", &ipip, WP_DIR_TX, WP_DIR_TX, .unmatched = STRAY4,
		  .encap = WP_STAT_ENCAP_IPIP, .labels = { "ipip" } },
		{ "vxlan_outer_address_decides", &vxlan, WP_DIR_RX, WP_DIR_RX, .unmatched = STRAY6,
		  .encap = WP_STAT_ENCAP_VXLAN, .labels = { "vxlan" } },
	};
	struct dp_expect e;
	struct pkt p;
	int i;

	run_flow_cases(f, unmatched_cases, 2);
	if (test__start_subtest("both_directions_one_entry")) {
		struct flow_spec s = { .outer = 6, .l4 = FLOW_ICMP, .remote = "2001:db8:dead::8" };

		for (i = 0; i < 4; i++) {
			int dir = i % 2 ? WP_DIR_RX : WP_DIR_TX;

			if (!ASSERT_OK(build_flow(&p, &s, dir), "build"))
				break;
			e = expect_unmatched(dir, "2001:db8:dead::8", ENCAP_NONE);
			check_pkt(f, &p, &e, fmt_name("run%d", i));
		}
	}
	run_flow_cases(f, unmatched_cases + 2, 2);
}

void test_datapath_unmatched(void)
{
	with_datapath(unmatched);
}

/* Which interfaces count: only those configured with WP_IF_TUNNEL. */
static void iface_config(struct dp_fixture *f)
{
	struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP };
	struct dp_expect e;
	struct pkt p;

	if (!ASSERT_OK(build_flow(&p, &s, WP_DIR_TX), "build"))
		return;

	if (test__start_subtest("no_config")) {
		if (ASSERT_OK(dp_del_iface(f, DP_TEST_IFINDEX), "del_iface")) {
			e = expect_nothing(WP_DIR_TX);
			e.stats[WP_STAT_NO_IFACE] = 1;
			check_pkt(f, &p, &e, "tx");
			e.dir = WP_DIR_RX;
			check_pkt(f, &p, &e, "rx");
		}
	}
	if (test__start_subtest("other_ifindex_configured")) {
		if (ASSERT_OK(dp_set_iface(f, 4242, WP_IF_L2 | WP_IF_TUNNEL), "set_other")) {
			e = expect_nothing(WP_DIR_TX);
			e.stats[WP_STAT_NO_IFACE] = 1;
			check_pkt(f, &p, &e, "tx");
			dp_del_iface(f, 4242);
		}
	}
	if (test__start_subtest("l2_without_tunnel_flag")) {
		if (ASSERT_OK(dp_set_iface(f, DP_TEST_IFINDEX, WP_IF_L2), "set_iface")) {
			e = expect_nothing(WP_DIR_TX);
			check_pkt(f, &p, &e, "tx");
		}
	}
	if (test__start_subtest("underlay_only")) {
		if (ASSERT_OK(dp_set_iface(f, DP_TEST_IFINDEX, WP_IF_L2 | WP_IF_UNDERLAY),
			      "set_iface")) {
			e = expect_nothing(WP_DIR_TX);
			check_pkt(f, &p, &e, "tx");
		}
	}
	if (test__start_subtest("configured_again")) {
		if (ASSERT_OK(dp_set_iface(f, DP_TEST_IFINDEX, WP_IF_L2 | WP_IF_TUNNEL),
			      "set_iface")) {
			e = expect_matched(WP_DIR_TX, PEER_A, ENCAP_NONE, false);
			check_pkt(f, &p, &e, "tx");
		}
	}
}

void test_datapath_iface_config(void)
{
	with_datapath(iface_config);
}
