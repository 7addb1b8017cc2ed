// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The datapath on packets it must survive: every packet truncated at every
 * length, random garbage, and valid packets with random bytes flipped. None
 * may crash, change the packet, or return anything but -1; truncated packets
 * count as malformed and leave the peers alone.
 */
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include "datapath_check.h"
#include "status.h"
#include "test_helpers.h"
#include "test_progs.h"

#define GARBAGE_SEED 0x5eed5eed5eedULL
#define GARBAGE_RUNS 1000

/*
 * Run every prefix of the packets, shorter than max_len, through both
 * programs: tx through egress, rx (the same layout, addresses swapped) through
 * ingress. Below dp_test_run_min_len() (ETH_HLEN, or the IP header for an IP
 * ethertype) the syscall itself refuses the packet (-EINVAL) and nothing may
 * change; from there on each is malformed, plus the encapsulation
 * stat once the header that announces it was whole (encap_at: the length from
 * which it is, 0 for none). The whole packets are credited to node-a.
 */
static void check_truncations(struct dp_fixture *f, const struct pkt *tx, const struct pkt *rx,
			      size_t max_len, int encap, size_t encap_at)
{
	struct dp_expect e;
	size_t len;
	int dir;

	for (dir = WP_DIR_TX; dir <= WP_DIR_RX; dir++) {
		const struct pkt *p = dir == WP_DIR_TX ? tx : rx;
		const char *dname = dir == WP_DIR_TX ? "tx" : "rx";

		for (len = 0; len < max_len; len++) {
			if (len < dp_test_run_min_len(p->data, len)) {
				e = expect_nothing(dir);
				e.err = -EINVAL;
			} else {
				e = expect_counted(dir, WP_STAT_MALFORMED,
						   encap_at && len >= encap_at ? encap :
										 ENCAP_NONE);
			}
			/* One failing length tells the story; stop there. */
			if (!check_run(f, p->data, len, &e, fmt_name("%s.len%zu", dname, len)))
				break;
		}
		/* And the whole packet is fine. */
		e = expect_matched(dir, PEER_A, encap, false);
		check_pkt(f, p, &e, fmt_name("%s.full", dname));
	}
}

/* Truncations of a flow_spec packet; encap_hdr: index of the header from which encap counts. */
static void check_flow_truncations(struct dp_fixture *f, const struct flow_spec *s, int encap,
				   int encap_hdr)
{
	struct pkt tx, rx;

	if (!ASSERT_OK(build_flow(&tx, s, WP_DIR_TX), "build_tx") ||
	    !ASSERT_OK(build_flow(&rx, s, WP_DIR_RX), "build_rx"))
		return;
	check_truncations(f, &tx, &rx, tx.len, encap,
			  encap_hdr >= 0 && encap_hdr < tx.nhdrs ? tx.hdr_off[encap_hdr] : 0);
}

static void build_v6_ext_icmp(struct pkt *p, const char *saddr, const char *daddr)
{
	pkt_init(p);
	pkt_eth(p);
	pkt_ipv6(p, saddr, daddr);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 16);
	pkt_icmp_echo(p);
}

void test_datapath_truncated(void)
{
	struct dp_fixture f;

	if (!setup_datapath(&f, NULL))
		return;

	/* eth | ip | udp | vxlan | eth | vlan | ip | tcp: VXLAN counted once udp is whole. */
	if (test__start_subtest("vxlan_o4_vlan_i4_tcp")) {
		struct flow_spec s = { .encap = FLOW_VXLAN,
				       .outer = 4,
				       .inner = 4,
				       .l4 = FLOW_TCP,
				       .inner_vlan = true };

		check_flow_truncations(&f, &s, WP_STAT_ENCAP_VXLAN, 3);
	}
	/* eth | vlan | ip6 | udp | vxlan | eth | ip | tcp: the tag lets test_run take a cut ip6. */
	if (test__start_subtest("vxlan_vlan_o6_i4_tcp")) {
		struct flow_spec s = { .encap = FLOW_VXLAN,
				       .outer = 6,
				       .inner = 4,
				       .l4 = FLOW_TCP,
				       .outer_vlans = 1 };

		check_flow_truncations(&f, &s, WP_STAT_ENCAP_VXLAN, 4);
	}
	/* eth | ip6 | dstopts | udp | vxlan | eth | ip6 | udp */
	if (test__start_subtest("vxlan_o6_ext_i6_udp")) {
		struct flow_spec s = { .encap = FLOW_VXLAN,
				       .outer = 6,
				       .inner = 6,
				       .l4 = FLOW_UDP,
				       .outer_v6_ext = 1 };

		check_flow_truncations(&f, &s, WP_STAT_ENCAP_VXLAN, 4);
	}
	/* eth | vlan | ip (options) | ip | tcp: IPIP counted once the outer ip is whole. */
	if (test__start_subtest("ipip_vlan_o4_opts_i4_tcp")) {
		struct flow_spec s = { .encap = FLOW_IPIP,
				       .outer = 4,
				       .inner = 4,
				       .l4 = FLOW_TCP,
				       .outer_vlans = 1,
				       .outer_opts = 8 };

		check_flow_truncations(&f, &s, WP_STAT_ENCAP_IPIP, 3);
	}
	/* eth | ip | ip6 | udp (6in4, protocol 41) */
	if (test__start_subtest("ipip_o4_i6_udp")) {
		struct flow_spec s = { .encap = FLOW_IPIP, .outer = 4, .inner = 6, .l4 = FLOW_UDP };

		check_flow_truncations(&f, &s, WP_STAT_ENCAP_IPIP, 2);
	}
	/* eth | ip | tcp */
	if (test__start_subtest("plain_o4_tcp")) {
		struct flow_spec s = { .outer = 4, .l4 = FLOW_TCP };

		check_flow_truncations(&f, &s, ENCAP_NONE, -1);
	}
	/*
	 * eth | ip6 | hop-by-hop (16 bytes) | icmpv6: cut inside the extension
	 * header. The datapath does not read ICMPv6, so only lengths short of
	 * it are truncated headers.
	 */
	if (test__start_subtest("ipv6_ext_hdr_icmpv6")) {
		struct pkt tx, rx;

		build_v6_ext_icmp(&tx, LOCAL6, NODE_A6);
		build_v6_ext_icmp(&rx, NODE_A6, LOCAL6);
		if (ASSERT_OK(pkt_finish(&tx), "build_tx") &&
		    ASSERT_OK(pkt_finish(&rx), "build_rx"))
			check_truncations(&f, &tx, &rx, tx.hdr_off[3], ENCAP_NONE, 0);
	}

	dp_fixture_close(&f);
}

/* Tally of how the datapath classified a batch, printed with -v. */
static void print_tally(const int tally[WP_STAT_MAX])
{
	int i;

	if (!env.verbose)
		return;
	test__printf("classified:");
	for (i = 0; i < WP_STAT_MAX; i++)
		if (tally[i])
			printf(" %s=%d", wp_stat_names[i], tally[i]);
	printf("\n");
}

void test_datapath_garbage(void)
{
	struct flow_spec vxlan = { .encap = FLOW_VXLAN,
				   .outer = 4,
				   .inner = 4,
				   .l4 = FLOW_UDP,
				   .inner_vlan = true,
				   .remote_port = WP_DEFAULT_PROBE_PORT };
	struct flow_spec ipip = {
		.encap = FLOW_IPIP, .outer = 6, .inner = 4, .l4 = FLOW_TCP, .outer_v6_ext = 1
	};
	__u8 buf[PKT_MAX_LEN];
	int tally[WP_STAT_MAX];
	struct dp_fixture f;
	struct dp_expect e;
	int i, outcome;
	uint64_t rng;
	struct pkt p;
	size_t len, j;

	if (!setup_datapath(&f, NULL))
		return;

	/* Random bytes: never IP that parses, so only the stats move. */
	if (test__start_subtest("random_bytes")) {
		rng = GARBAGE_SEED;
		memset(tally, 0, sizeof(tally));
		for (i = 0; i < GARBAGE_RUNS; i++) {
			len = ETH_HLEN + test_prng(&rng) % (sizeof(buf) - ETH_HLEN + 1);
			for (j = 0; j < len; j++)
				buf[j] = test_prng(&rng);
			if (!check_invariants(&f, buf, len, i % 2, true, &outcome,
					      fmt_name("run%d", i)))
				break;
			if (outcome >= 0)
				tally[outcome]++;
		}
		print_tally(tally);
	}

	/* Random bytes after an IP (or VLAN) ethertype: may parse; stay consistent. */
	if (test__start_subtest("random_after_ip_ethertype")) {
		static const __u16 types[] = { ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q };

		rng = GARBAGE_SEED + 1;
		memset(tally, 0, sizeof(tally));
		for (i = 0; i < GARBAGE_RUNS; i++) {
			__u16 type = types[test_prng(&rng) % 3];

			len = ETH_HLEN + test_prng(&rng) % 200;
			for (j = 0; j < len; j++)
				buf[j] = test_prng(&rng);
			buf[12] = type >> 8;
			buf[13] = type & 0xff;
			/* Half the time a plausible version nibble, to get deeper. */
			if (len > ETH_HLEN && i % 2)
				buf[ETH_HLEN] =
					(type == ETH_P_IPV6 ? 0x60 : 0x40) | (buf[ETH_HLEN] & 0x0f);
			if (!check_invariants(&f, buf, len, i % 2, false, &outcome,
					      fmt_name("run%d", i)))
				break;
			if (outcome >= 0)
				tally[outcome]++;
		}
		print_tally(tally);
	}

	/* Valid encapsulated packets with 1-4 header bytes overwritten. */
	if (test__start_subtest("mutated_headers")) {
		struct pkt base[2];

		rng = GARBAGE_SEED + 2;
		memset(tally, 0, sizeof(tally));
		if (ASSERT_OK(build_flow(&base[0], &vxlan, WP_DIR_TX), "build_vxlan") &&
		    ASSERT_OK(build_flow(&base[1], &ipip, WP_DIR_RX), "build_ipip")) {
			for (i = 0; i < GARBAGE_RUNS; i++) {
				const struct pkt *b = &base[i % 2];
				int flips = 1 + test_prng(&rng) % 4, k;

				memcpy(buf, b->data, b->len);
				for (k = 0; k < flips; k++)
					buf[test_prng(&rng) % b->len] = test_prng(&rng);
				/* Sometimes cut as well. */
				len = test_prng(&rng) % 4 ?
					      b->len :
					      ETH_HLEN + test_prng(&rng) % (b->len - ETH_HLEN);
				if (!check_invariants(&f, buf, len, i % 2 ? WP_DIR_RX : WP_DIR_TX,
						      false, &outcome, fmt_name("run%d", i)))
					break;
				if (outcome >= 0)
					tally[outcome]++;
			}
		}
		print_tally(tally);
	}

	/* After all that, a good packet is still counted exactly. */
	if (test__start_subtest("still_counts_after_garbage")) {
		if (ASSERT_OK(build_flow(&p, &vxlan, WP_DIR_TX), "build")) {
			e = expect_matched(WP_DIR_TX, PEER_A, WP_STAT_ENCAP_VXLAN, true);
			check_pkt(&f, &p, &e, "vxlan_probe");
		}
	}

	dp_fixture_close(&f);
}
