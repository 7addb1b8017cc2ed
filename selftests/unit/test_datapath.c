// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of bpf/datapath.bpf.c through BPF_PROG_TEST_RUN: how packets are
 * parsed and classified (every encapsulation x outer family x inner family x
 * transport, IPv4 options and fragments, IPv6 extension headers, VLAN tags,
 * probe or workload, non-IP, the loader's rodata) in both directions, and
 * exactly what that changes. Every run goes through check_run()
 * (datapath_check.c): retval -1, packet unchanged, exact deltas of stats,
 * peers and the unmatched LRU.
 *
 * test_run always builds an Ethernet skb, so ifindex 1 is configured as an L2
 * tunnel (WP_IF_L2 | WP_IF_TUNNEL); L3 devices are covered by the netns tests.
 * Peer attribution is in test_datapath_peers.c, truncated and random
 * packets in test_datapath_robust.c.
 */
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include "datapath_check.h"
#include "test_progs.h"

static const char *const l4_names[] = { "tcp", "udp", "icmp" };

/* TX through wp_tc_egress, then the reply through wp_tc_ingress; both credit peer. */
static void check_flow_both_ways(struct dp_fixture *f, const struct flow_spec *s, int peer,
				 bool probe)
{
	int encap = s->encap == FLOW_IPIP  ? WP_STAT_ENCAP_IPIP :
		    s->encap == FLOW_VXLAN ? WP_STAT_ENCAP_VXLAN :
					     ENCAP_NONE;
	struct dp_expect e;
	struct pkt p;

	if (!ASSERT_OK(build_flow(&p, s, WP_DIR_TX), "build_tx"))
		return;
	e = expect_matched(WP_DIR_TX, peer, encap, probe);
	check_pkt(f, &p, &e, "tx");

	if (!ASSERT_OK(build_flow(&p, s, WP_DIR_RX), "build_rx"))
		return;
	e = expect_matched(WP_DIR_RX, peer, encap, probe);
	check_pkt(f, &p, &e, "rx");
}

/* Every encapsulation x outer family x inner family x transport. */
void test_datapath_encap(void)
{
	static const __u16 vxlan_ports[] = { WP_VXLAN_PORT_IANA, WP_VXLAN_PORT_LINUX };
	struct dp_fixture f;
	int outer, inner, l4, vlan;
	size_t port;

	if (!setup_datapath(&f, NULL))
		return;

	for (outer = 4; outer <= 6; outer += 2) {
		for (l4 = FLOW_TCP; l4 <= FLOW_ICMP; l4++) {
			struct flow_spec s = {
				.encap = FLOW_PLAIN, .outer = outer, .l4 = l4, .payload = 32
			};

			if (test__start_subtest(fmt_name("plain_ip%d_%s", outer, l4_names[l4])))
				check_flow_both_ways(&f, &s, PEER_A, false);
		}
	}

	/* IPv4 in IPv4 / IPv6 in IPv4 (proto 4 / 41), and both inside IPv6. */
	for (outer = 4; outer <= 6; outer += 2) {
		for (inner = 4; inner <= 6; inner += 2) {
			for (l4 = FLOW_TCP; l4 <= FLOW_ICMP; l4++) {
				struct flow_spec s = { .encap = FLOW_IPIP,
						       .outer = outer,
						       .inner = inner,
						       .l4 = l4,
						       .payload = 32 };

				if (test__start_subtest(
					    fmt_name("ip%din%d_%s", inner, outer, l4_names[l4])))
					check_flow_both_ways(&f, &s, PEER_A, false);
			}
		}
	}

	for (port = 0; port < sizeof(vxlan_ports) / sizeof(vxlan_ports[0]); port++) {
		for (outer = 4; outer <= 6; outer += 2) {
			for (vlan = 0; vlan <= 1; vlan++) {
				for (inner = 4; inner <= 6; inner += 2) {
					for (l4 = FLOW_TCP; l4 <= FLOW_ICMP; l4++) {
						struct flow_spec s = {
							.encap = FLOW_VXLAN,
							.outer = outer,
							.inner = inner,
							.l4 = l4,
							.vxlan_port = vxlan_ports[port],
							.inner_vlan = vlan,
							.payload = 32,
						};

						if (test__start_subtest(
							    fmt_name("vxlan%u_o%d_%si%d_%s",
								     vxlan_ports[port], outer,
								     vlan ? "vlan_" : "", inner,
								     l4_names[l4])))
							check_flow_both_ways(&f, &s, PEER_A, false);
					}
				}
			}
		}
	}

	dp_fixture_close(&f);
}

/* Overwrite one byte of a built packet (for deliberately broken headers). */
static void poke(struct pkt *p, size_t off, __u8 val)
{
	if (off < p->len)
		p->data[off] = val;
}

/* IPv4 options, IPv4 fragments, IPv6 extension headers and fragments. */
void test_datapath_l3_options(void)
{
	struct dp_fixture f;
	struct dp_expect e;
	struct pkt p;

	if (!setup_datapath(&f, NULL))
		return;

	if (test__start_subtest("ipv4_options_max")) {
		struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP, .outer_opts = 40 };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("ipv4_options_ipip_both_headers")) {
		struct flow_spec s = { .encap = FLOW_IPIP,
				       .outer = 4,
				       .inner = 4,
				       .l4 = FLOW_UDP,
				       .outer_opts = 8,
				       .inner_opts = 12 };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("ipv4_options_vxlan_both_headers")) {
		struct flow_spec s = { .encap = FLOW_VXLAN,
				       .outer = 4,
				       .inner = 4,
				       .l4 = FLOW_TCP,
				       .outer_opts = 4,
				       .inner_opts = 40 };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("ipv4_options_probe")) {
		struct flow_spec s = { .outer = 4,
				       .l4 = FLOW_UDP,
				       .outer_opts = 20,
				       .remote_port = WP_DEFAULT_PROBE_PORT };

		check_flow_both_ways(&f, &s, PEER_A, true);
	}
	if (test__start_subtest("ipv4_ihl_below_5")) {
		struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP };

		if (ASSERT_OK(build_flow(&p, &s, WP_DIR_TX), "build")) {
			poke(&p, p.hdr_off[1], 0x44);
			e = expect_counted(WP_DIR_TX, WP_STAT_MALFORMED, ENCAP_NONE);
			check_pkt(&f, &p, &e, "ihl4");
		}
	}
	if (test__start_subtest("ipv4_ihl_beyond_packet")) {
		struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP };

		if (ASSERT_OK(build_flow(&p, &s, WP_DIR_TX), "build")) {
			poke(&p, p.hdr_off[1], 0x4f); /* 60 bytes: 20 more than the rest */
			e = expect_counted(WP_DIR_TX, WP_STAT_MALFORMED, ENCAP_NONE);
			check_pkt(&f, &p, &e, "ihl15");
		}
	}
	if (test__start_subtest("ipv4_first_fragment_probe")) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv4_opts(&p, LOCAL4, NODE_A4, 0, 0x2000 /* MF, offset 0 */);
		pkt_udp(&p, 40000, WP_DEFAULT_PROBE_PORT);
		pkt_payload(&p, 64);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_matched(WP_DIR_TX, PEER_A, ENCAP_NONE, true);
			check_pkt(&f, &p, &e, "first_frag");
		}
	}
	if (test__start_subtest("ipv4_later_fragment_no_transport")) {
		/* Offset 1480: what follows is payload even if it looks like UDP to 9050. */
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv4_opts(&p, LOCAL4, NODE_A4, 0, 185);
		pkt_udp(&p, 40000, WP_DEFAULT_PROBE_PORT);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_matched(WP_DIR_TX, PEER_A, ENCAP_NONE, false);
			check_pkt(&f, &p, &e, "later_frag");
		}
	}
	if (test__start_subtest("ipv4_later_fragment_of_ipip")) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv4_opts(&p, LOCAL4, NODE_A4, 0, 185);
		pkt_ipv4(&p, LOCAL_POD4, POD_B4); /* payload bytes, not a header */
		pkt_tcp(&p, 1, 2, 0);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_matched(WP_DIR_TX, PEER_A, ENCAP_NONE, false);
			check_pkt(&f, &p, &e, "later_frag_ipip");
		}
	}
	if (test__start_subtest("ipv6_hopopts_tcp")) {
		struct flow_spec s = { .outer = 6, .l4 = FLOW_TCP, .outer_v6_ext = 1 };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("ipv6_ext_chain_of_4_probe")) {
		/* WP_MAX_V6_EXT_HDRS: hop-by-hop, routing, destination options, fragment. */
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv6(&p, LOCAL6, NODE_A6);
		pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
		pkt_ipv6_ext(&p, IPPROTO_ROUTING, 24);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
		pkt_ipv6_frag(&p, 0, true);
		pkt_udp(&p, 40000, WP_DEFAULT_PROBE_PORT);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_matched(WP_DIR_TX, PEER_A, ENCAP_NONE, true);
			check_pkt(&f, &p, &e, "ext_chain");
		}
	}
	if (test__start_subtest("ipv6_later_fragment_no_transport")) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv6(&p, NODE_A6, LOCAL6);
		pkt_ipv6_frag(&p, 1448, false);
		pkt_udp(&p, WP_DEFAULT_PROBE_PORT, 40000);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_matched(WP_DIR_RX, PEER_A, ENCAP_NONE, false);
			check_pkt(&f, &p, &e, "later_frag");
		}
	}
	if (test__start_subtest("ipv6_ext_then_ip4in6")) {
		struct flow_spec s = { .encap = FLOW_IPIP,
				       .outer = 6,
				       .inner = 4,
				       .l4 = FLOW_TCP,
				       .outer_v6_ext = 2 };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("ipv6_ext_then_vxlan")) {
		struct flow_spec s = { .encap = FLOW_VXLAN,
				       .outer = 6,
				       .inner = 6,
				       .l4 = FLOW_UDP,
				       .outer_v6_ext = 1,
				       .inner_vlan = true };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}

	dp_fixture_close(&f);
}

/* VLAN tags on the outer Ethernet header (the L2 device's own frames). */
void test_datapath_outer_vlan(void)
{
	struct dp_fixture f;
	struct dp_expect e;
	struct pkt p;

	if (!setup_datapath(&f, NULL))
		return;

	if (test__start_subtest("vlan_plain_ip4_tcp")) {
		struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP, .outer_vlans = 1 };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("vlan_plain_ip6_udp")) {
		struct flow_spec s = { .outer = 6, .l4 = FLOW_UDP, .outer_vlans = 1 };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("qinq_plain_ip4_icmp")) {
		struct flow_spec s = { .outer = 4, .l4 = FLOW_ICMP, .outer_vlans = 2 };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("vlan_ip6in4_tcp")) {
		struct flow_spec s = {
			.encap = FLOW_IPIP, .outer = 4, .inner = 6, .l4 = FLOW_TCP, .outer_vlans = 1
		};

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("qinq_vxlan_o6_vlan_i4_udp")) {
		struct flow_spec s = { .encap = FLOW_VXLAN,
				       .outer = 6,
				       .inner = 4,
				       .l4 = FLOW_UDP,
				       .outer_vlans = 2,
				       .inner_vlan = true };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("three_tags_not_parsed")) {
		/* Beyond WP_MAX_VLAN_TAGS the ethertype is still a tag: not IP. */
		pkt_init(&p);
		pkt_eth(&p);
		pkt_vlan(&p, ETH_P_8021AD, 1);
		pkt_vlan(&p, ETH_P_8021Q, 2);
		pkt_vlan(&p, ETH_P_8021Q, 3);
		pkt_ipv4(&p, LOCAL4, NODE_A4);
		pkt_tcp(&p, 40000, 443, TCP_FLAG_ACK);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_counted(WP_DIR_TX, WP_STAT_NON_IP, ENCAP_NONE);
			check_pkt(&f, &p, &e, "three_tags");
		}
	}

	dp_fixture_close(&f);
}

/* UDP to or from the probe port is probe traffic, anything else workload. */
void test_datapath_probe(void)
{
	struct dp_fixture f;

	if (!setup_datapath(&f, NULL))
		return;

	/* The local prober sends from an ephemeral port to the remote agent's port... */
	if (test__start_subtest("plain_ip4_to_remote_agent")) {
		struct flow_spec s = { .outer = 4,
				       .l4 = FLOW_UDP,
				       .remote_port = WP_DEFAULT_PROBE_PORT };

		check_flow_both_ways(&f, &s, PEER_A, true);
	}
	/* ...and the local agent answers from its port to the remote prober. */
	if (test__start_subtest("plain_ip4_from_local_agent")) {
		struct flow_spec s = { .outer = 4,
				       .l4 = FLOW_UDP,
				       .local_port = WP_DEFAULT_PROBE_PORT,
				       .remote_port = 33333 };

		check_flow_both_ways(&f, &s, PEER_A, true);
	}
	if (test__start_subtest("plain_ip6_to_remote_agent")) {
		struct flow_spec s = { .outer = 6,
				       .l4 = FLOW_UDP,
				       .remote_port = WP_DEFAULT_PROBE_PORT,
				       .payload = 16 };

		check_flow_both_ways(&f, &s, PEER_A, true);
	}
	if (test__start_subtest("ip4in4_inner_probe")) {
		struct flow_spec s = { .encap = FLOW_IPIP,
				       .outer = 4,
				       .inner = 4,
				       .l4 = FLOW_UDP,
				       .remote_port = WP_DEFAULT_PROBE_PORT };

		check_flow_both_ways(&f, &s, PEER_A, true);
	}
	if (test__start_subtest("ip6in6_inner_probe")) {
		struct flow_spec s = { .encap = FLOW_IPIP,
				       .outer = 6,
				       .inner = 6,
				       .l4 = FLOW_UDP,
				       .local_port = WP_DEFAULT_PROBE_PORT };

		check_flow_both_ways(&f, &s, PEER_A, true);
	}
	if (test__start_subtest("vxlan_o4_i4_inner_probe")) {
		struct flow_spec s = { .encap = FLOW_VXLAN,
				       .outer = 4,
				       .inner = 4,
				       .l4 = FLOW_UDP,
				       .remote_port = WP_DEFAULT_PROBE_PORT };

		check_flow_both_ways(&f, &s, PEER_A, true);
	}
	if (test__start_subtest("vxlan8472_o6_vlan_i6_inner_probe")) {
		struct flow_spec s = { .encap = FLOW_VXLAN,
				       .outer = 6,
				       .inner = 6,
				       .l4 = FLOW_UDP,
				       .vxlan_port = WP_VXLAN_PORT_LINUX,
				       .inner_vlan = true,
				       .local_port = WP_DEFAULT_PROBE_PORT };

		check_flow_both_ways(&f, &s, PEER_A, true);
	}
	if (test__start_subtest("udp_other_port_is_workload")) {
		struct flow_spec s = { .outer = 4,
				       .l4 = FLOW_UDP,
				       .remote_port = WP_DEFAULT_PROBE_PORT + 1 };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("tcp_to_probe_port_is_workload")) {
		struct flow_spec s = { .outer = 4,
				       .l4 = FLOW_TCP,
				       .remote_port = WP_DEFAULT_PROBE_PORT };

		check_flow_both_ways(&f, &s, PEER_A, false);
	}
	if (test__start_subtest("mixed_counts")) {
		/* 3 workload and 2 probe packets: the totals add up across runs. */
		struct flow_spec work = { .outer = 4, .l4 = FLOW_TCP, .payload = 100 };
		struct flow_spec probe = { .outer = 4,
					   .l4 = FLOW_UDP,
					   .remote_port = WP_DEFAULT_PROBE_PORT,
					   .payload = 8 };
		struct peer_state before, after;
		struct dp_expect e;
		struct pkt pw, pp;
		int i;

		if (ASSERT_OK(build_flow(&pw, &work, WP_DIR_TX), "build_work") &&
		    ASSERT_OK(build_flow(&pp, &probe, WP_DIR_TX), "build_probe") &&
		    ASSERT_OK(dp_read_peer(&f, PEER_A, &before), "read_before")) {
			for (i = 0; i < 5; i++) {
				bool is_probe = i == 1 || i == 3;

				e = expect_matched(WP_DIR_TX, PEER_A, ENCAP_NONE, is_probe);
				check_pkt(&f, is_probe ? &pp : &pw, &e, fmt_name("run%d", i));
			}
			if (ASSERT_OK(dp_read_peer(&f, PEER_A, &after), "read_after")) {
				ASSERT_EQ(after.tx_packets - before.tx_packets, 5, "tx_packets");
				ASSERT_EQ(after.tx_probe_packets - before.tx_probe_packets, 2,
					  "tx_probe_packets");
				ASSERT_EQ(after.tx_bytes - before.tx_bytes, 3 * pw.len + 2 * pp.len,
					  "tx_bytes");
				ASSERT_EQ(after.tx_probe_bytes - before.tx_probe_bytes, 2 * pp.len,
					  "tx_probe_bytes");
			}
		}
	}

	dp_fixture_close(&f);
}

/* Frames that are not IP: counted, nothing else. */
void test_datapath_non_ip(void)
{
	struct dp_fixture f;
	struct dp_expect e;
	struct pkt p;

	if (!setup_datapath(&f, NULL))
		return;

	if (test__start_subtest("arp")) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_arp(&p);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_counted(WP_DIR_TX, WP_STAT_NON_IP, ENCAP_NONE);
			check_pkt(&f, &p, &e, "tx");
			e = expect_counted(WP_DIR_RX, WP_STAT_NON_IP, ENCAP_NONE);
			check_pkt(&f, &p, &e, "rx");
		}
	}
	if (test__start_subtest("vlan_arp")) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_vlan(&p, ETH_P_8021Q, 7);
		pkt_arp(&p);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_counted(WP_DIR_TX, WP_STAT_NON_IP, ENCAP_NONE);
			check_pkt(&f, &p, &e, "tx");
		}
	}
	if (test__start_subtest("lldp")) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_payload(&p, 46);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			p.data[12] = 0x88; /* ETH_P_LLDP */
			p.data[13] = 0xcc;
			e = expect_counted(WP_DIR_RX, WP_STAT_NON_IP, ENCAP_NONE);
			check_pkt(&f, &p, &e, "rx");
		}
	}
	if (test__start_subtest("ip_ethertype_without_ip_header")) {
		/* test_run refuses an IP ethertype without the IP header... */
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv4(&p, LOCAL4, NODE_A4);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_nothing(WP_DIR_TX);
			e.err = -EINVAL;
			check_run(&f, p.data, ETH_HLEN + 10, &e, "untagged_refused");
		}
		/* ...a VLAN tag gets it to the program. */
		pkt_init(&p);
		pkt_eth(&p);
		pkt_vlan(&p, ETH_P_8021Q, 5);
		pkt_ipv4(&p, LOCAL4, NODE_A4);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_counted(WP_DIR_TX, WP_STAT_MALFORMED, ENCAP_NONE);
			check_run(&f, p.data, ETH_HLEN + 4, &e, "tag_only");
			e = expect_counted(WP_DIR_TX, WP_STAT_MALFORMED, ENCAP_NONE);
			check_run(&f, p.data, ETH_HLEN + 4 + 19, &e, "ip_header_cut");
		}
	}
	if (test__start_subtest("ethertype_ip_version_6")) {
		struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP };

		if (ASSERT_OK(build_flow(&p, &s, WP_DIR_TX), "build")) {
			poke(&p, p.hdr_off[1], 0x65);
			e = expect_counted(WP_DIR_TX, WP_STAT_MALFORMED, ENCAP_NONE);
			check_pkt(&f, &p, &e, "v4_says_6");
		}
	}
	if (test__start_subtest("ethertype_ipv6_version_4")) {
		struct flow_spec s = { .outer = 6, .l4 = FLOW_TCP };

		if (ASSERT_OK(build_flow(&p, &s, WP_DIR_TX), "build")) {
			poke(&p, p.hdr_off[1], 0x45);
			e = expect_counted(WP_DIR_TX, WP_STAT_MALFORMED, ENCAP_NONE);
			check_pkt(&f, &p, &e, "v6_says_4");
		}
	}
	if (test__start_subtest("vxlan_inner_arp_credits_peer")) {
		/* The overlay's own ARP still keeps the pair warm. */
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv4(&p, LOCAL4, NODE_A4);
		pkt_udp(&p, 51111, WP_VXLAN_PORT_LINUX);
		pkt_vxlan(&p, 1);
		pkt_eth(&p);
		pkt_arp(&p);
		if (ASSERT_OK(pkt_finish(&p), "build")) {
			e = expect_matched(WP_DIR_TX, PEER_A, WP_STAT_ENCAP_VXLAN, false);
			check_pkt(&f, &p, &e, "tx");
		}
	}

	dp_fixture_close(&f);
}

/* The loader's rodata: probe port and VXLAN ports are configurable. */
void test_datapath_rodata(void)
{
	struct dp_fixture f;

	if (test__start_subtest("custom_probe_port")) {
		struct dp_options opts = { .probe_port = 9999 };
		struct flow_spec custom = { .outer = 4, .l4 = FLOW_UDP, .remote_port = 9999 };
		struct flow_spec dflt = { .outer = 4,
					  .l4 = FLOW_UDP,
					  .remote_port = WP_DEFAULT_PROBE_PORT };

		if (setup_datapath(&f, &opts)) {
			check_flow_both_ways(&f, &custom, PEER_A, true);
			check_flow_both_ways(&f, &dflt, PEER_A, false);
			dp_fixture_close(&f);
		}
	}
	if (test__start_subtest("custom_vxlan_ports")) {
		struct dp_options opts = { .vxlan_port_a = 4790, .vxlan_port_b = 4791 };
		struct flow_spec vx = { .encap = FLOW_VXLAN,
					.outer = 4,
					.inner = 4,
					.l4 = FLOW_TCP,
					.vxlan_port = 4791 };
		struct flow_spec old = { .outer = 4,
					 .l4 = FLOW_UDP,
					 .local_port = 51111,
					 .remote_port = WP_VXLAN_PORT_IANA };

		if (setup_datapath(&f, &opts)) {
			check_flow_both_ways(&f, &vx, PEER_A, false);
			/* 4789 is just UDP now. */
			check_flow_both_ways(&f, &old, PEER_A, false);
			dp_fixture_close(&f);
		}
	}
}
