// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The datapath's line-rate rules: warm SYNs are tracked by sample (by their
 * sequence number, so a retransmission follows its first transmission), cold
 * ones always; a packet seen on a stacked device and again on the device below
 * counts once per peer and once per device; the per-CPU counters reach the
 * `peers` map only through the agent's fold.
 */
#include <errno.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "detect_fixture.h"
#include "peer_counters.h"
#include "test_progs.h"

#define SEQ_IN 0x4000u /* (seq >> 8) & 15 == 0: in the sample */
#define SEQ_OUT 0x4100u /* (seq >> 8) & 15 == 1: not */

static const struct conn plain4 = { .encap = FLOW_PLAIN, .outer = 4, .name = "ipv4" };

static void sampled_syns(void)
{
	struct dp_options o = { .cold_threshold_ns = COLD_NS, .syn_sampling = true };
	struct conn c2 = plain4;
	struct det_expect e;
	struct det_result r;
	struct flow_state fs;
	struct det d;
	struct pkt p;

	c2.lport = LPORT + 7;
	if (!det_open_opts(&d, &o))
		return;
	/* warm, not in the sample: nothing tracked, its retransmission neither */
	build_tcp(&p, &plain4, WP_DIR_TX, TCP_FLAG_SYN, SEQ_OUT, 0);
	e = expect_det(&plain4, WP_DIR_TX);
	run_pkt(&d, &p, &e, &r, "warm_out");
	run_pkt(&d, &p, &e, &r, "warm_out_again");
	ASSERT_EQ(read_conn_flow(&d, &plain4, &fs), -ENOENT, "warm_out.no_flow");
	/* its SYN-ACK finds nothing: no RTT sample */
	build_tcp(&p, &plain4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, SEQ_OUT + 1);
	e = expect_det(&plain4, WP_DIR_RX);
	run_pkt(&d, &p, &e, &r, "warm_out_synack");

	/* warm, in the sample: tracked, retransmit counted, SYN-ACK samples and removes */
	build_tcp(&p, &c2, WP_DIR_TX, TCP_FLAG_SYN, SEQ_IN, 0);
	e = expect_new_syn(&c2);
	run_pkt(&d, &p, &e, &r, "warm_in");
	expect_retransmit(&e);
	run_pkt(&d, &p, &e, &r, "warm_in_retransmit");
	build_tcp(&p, &c2, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, SEQ_IN + 1);
	e = expect_synack(&c2);
	run_pkt(&d, &p, &e, &r, "warm_in_synack");
	ASSERT_EQ(read_conn_flow(&d, &c2, &fs), -ENOENT, "warm_in.flow_removed");

	/* cold: tracked whatever its sequence number; the retransmit is a first-packet drop */
	usleep(IDLE_NS / 1000);
	build_tcp(&p, &plain4, WP_DIR_TX, TCP_FLAG_SYN, SEQ_OUT + 0x10000, 0);
	e = expect_new_syn(&plain4);
	expect_cold_start(&e);
	run_pkt(&d, &p, &e, &r, "cold_out");
	e = expect_det(&plain4, WP_DIR_TX);
	e.syn = 1;
	expect_first_packet_drop(&e);
	run_pkt(&d, &p, &e, &r, "cold_out_retransmit");
	det_close(&d);
}

/*
 * While a lifetime trial holds the pair, the agent sets syn_watch: every SYN
 * to the peer is tracked, so each first packet a trial met is counted.
 */
static void watched_syns(void)
{
	struct dp_options o = { .cold_threshold_ns = COLD_NS, .syn_sampling = true };
	struct conn c2 = plain4, c3 = plain4;
	struct det_expect e;
	struct det_result r;
	struct flow_state fs;
	struct det d;
	struct pkt p;

	c2.lport = LPORT + 8;
	c3.lport = LPORT + 9;
	if (!det_open_opts(&d, &o))
		return;
	d.f.peers_mem[PEER_A].syn_watch = 1;
	/* warm, not in the sample, but watched: tracked, its retransmission counted */
	build_tcp(&p, &c2, WP_DIR_TX, TCP_FLAG_SYN, SEQ_OUT, 0);
	e = expect_new_syn(&c2);
	run_pkt(&d, &p, &e, &r, "watched_out");
	expect_retransmit(&e);
	run_pkt(&d, &p, &e, &r, "watched_out_retransmit");
	ASSERT_OK(read_conn_flow(&d, &c2, &fs), "watched_out.flow");
	ASSERT_EQ(fs.syn_count, 2, "watched_out.syn_count");
	/* the trial over: back to the sample */
	d.f.peers_mem[PEER_A].syn_watch = 0;
	build_tcp(&p, &c3, WP_DIR_TX, TCP_FLAG_SYN, SEQ_OUT, 0);
	e = expect_det(&c3, WP_DIR_TX);
	run_pkt(&d, &p, &e, &r, "unwatched_out");
	run_pkt(&d, &p, &e, &r, "unwatched_out_again");
	ASSERT_EQ(read_conn_flow(&d, &c3, &fs), -ENOENT, "unwatched_out.no_flow");
	det_close(&d);
}

static __u64 iface_packets(struct det *d, __u32 slot, int dir)
{
	struct iface_counters pc[256];
	__u64 sum = 0;

	if (d->f.ncpus > 256 ||
	    bpf_map_lookup_elem(bpf_map__fd(d->f.skel->maps.iface_counters), &slot, pc))
		return ~0ull;
	for (int c = 0; c < d->f.ncpus; c++)
		sum += pc[c].packets[dir];
	return sum;
}

/*
 * IPIP / VXLAN over WireGuard: the tunnel device (ifindex 1, flagged stacked
 * by user space, slot 1) and the WireGuard device below it (ifindex 2, slot
 * 2) both see each packet, both find the same peer.
 */
static void counted_once(void)
{
	const __u32 order[] = { DP_TEST_IFINDEX, 2, DP_TEST_IFINDEX, 2, DP_TEST_IFINDEX, 2 };
	struct dp_run_result run;
	struct peer_state ps;
	__u64 tx0, i1, i2;
	struct det d;
	struct pkt p;

	if (!det_open(&d, COLD_NS))
		return;
	if (!ASSERT_OK(dp_set_iface(&d.f, DP_TEST_IFINDEX,
				    WP_IF_L2 | WP_IF_TUNNEL | WP_IF_STACKED |
					    (1u << WP_IF_SLOT_SHIFT)),
		       "stacked_iface") ||
	    !ASSERT_OK(dp_set_iface(&d.f, 2, WP_IF_L2 | WP_IF_TUNNEL | (2u << WP_IF_SLOT_SHIFT)),
		       "lower_iface") ||
	    !ASSERT_OK(build_other(&p, &plain4, WP_DIR_TX, FLOW_UDP), "build"))
		goto out;
	dp_fold(&d.f);
	if (!ASSERT_OK(dp_read_peer(&d.f, PEER_A, &ps), "read0"))
		goto out;
	tx0 = ps.tx_packets;
	i1 = iface_packets(&d, 1, WP_DIR_TX);
	i2 = iface_packets(&d, 2, WP_DIR_TX);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		dp_run(d.f.egress_fd, p.data, p.len, order[i], 1, &run);
		ASSERT_EQ(run.retval, -1, "retval");
	}
	/* before the fold the peers map has not moved: the datapath writes only per CPU */
	if (!ASSERT_OK(dp_read_peer(&d.f, PEER_A, &ps), "read1"))
		goto out;
	ASSERT_EQ(ps.tx_packets, tx0, "peers_unfolded");
	dp_fold(&d.f);
	if (!ASSERT_OK(dp_read_peer(&d.f, PEER_A, &ps), "read2"))
		goto out;
	ASSERT_EQ(ps.tx_packets - tx0, 3, "per_peer_once");
	ASSERT_EQ(iface_packets(&d, 1, WP_DIR_TX) - i1, 3, "stacked_iface_detail");
	ASSERT_EQ(iface_packets(&d, 2, WP_DIR_TX) - i2, 3, "lower_iface_detail");
	dp_del_iface(&d.f, 2);
out:
	det_close(&d);
}

/* The fold: a peer idle for the threshold is armed once, a moving one disarmed. */
static void fold_arm(void)
{
	struct peer_counters sum = { .packets = { 5, 3 } };
	struct peer_state ps = {};
	__u64 t = 1000000000ull;

	ASSERT_FALSE(wp_peer_fold(&ps, &sum, t, COLD_NS), "first.not_armed");
	ASSERT_EQ(ps.last_tx_ns, t, "first.last_tx");
	ASSERT_EQ(ps.last_rx_ns, t, "first.last_rx");
	ASSERT_EQ(ps.tx_packets, 5, "first.tx_packets");
	ASSERT_FALSE(wp_peer_fold(&ps, &sum, t + COLD_NS - 1, COLD_NS), "early.not_armed");
	ASSERT_TRUE(wp_peer_fold(&ps, &sum, t + COLD_NS, COLD_NS), "idle.armed");
	ASSERT_EQ(ps.cold_armed_ns, t, "armed_with_idle_since");
	ASSERT_FALSE(wp_peer_fold(&ps, &sum, t + 2 * COLD_NS, COLD_NS), "armed_once");
	/* a packet slipped in between the read and the arm: the re-check disarms */
	sum.packets[WP_DIR_RX]++;
	wp_peer_fold_recheck(&ps, &sum);
	ASSERT_EQ(ps.cold_armed_ns, 0, "recheck.disarmed");
	ASSERT_FALSE(wp_peer_fold(&ps, &sum, t + 3 * COLD_NS, COLD_NS), "moved.not_armed");
	ASSERT_EQ(ps.last_rx_ns, t + 3 * COLD_NS, "moved.last_rx");
	ASSERT_EQ(ps.last_tx_ns, t, "moved.last_tx_kept");
	/* never seen: no arm however long */
	ps = (struct peer_state){};
	sum = (struct peer_counters){};
	ASSERT_FALSE(wp_peer_fold(&ps, &sum, t + 100 * COLD_NS, COLD_NS), "never_seen");
}

/* Each cold start judged once: clean when answered, dropped on a lost first packet or no answer. */
static void cold_outcome(void)
{
	struct wp_cold_gaps g = {};
	struct peer_state ps = {};
	__u64 gap, s = 1000000000ull;

	ASSERT_EQ(wp_peer_judge_cold(&ps, 100 * s, s, &gap), -1, "none");
	/* a 40 s gap, answered (cold_since cleared), nothing lost: clean */
	ps.cold_starts = 1;
	ps.cold_gap_ns = 40 * s;
	ASSERT_EQ(wp_peer_judge_cold(&ps, 100 * s, s, &gap), WP_GAP_CLEAN, "answered.clean");
	ASSERT_EQ(gap, 40 * s, "answered.gap");
	ASSERT_EQ(ps.lifetime_lower_ns, 40 * s, "lower=40");
	ASSERT_EQ(ps.lifetime_upper_ns, 0, "upper_none");
	ASSERT_EQ(wp_peer_judge_cold(&ps, 101 * s, s, &gap), -1, "judged_once");
	wp_cold_gaps_add(&g, WP_GAP_CLEAN, gap);
	/* a 90 s gap whose SYN was lost: dropped, even before the answer */
	ps.cold_starts = 2;
	ps.cold_gap_ns = 90 * s | 1;
	ps.cold_since_ns = (99 * s) | WP_COLD_TCP;
	ASSERT_EQ(wp_peer_judge_cold(&ps, 100 * s, s, &gap), WP_GAP_DROPPED, "fpd.dropped");
	ASSERT_EQ(gap, 90 * s, "fpd.gap");
	ASSERT_EQ(ps.lifetime_upper_ns, 90 * s, "upper=90");
	wp_cold_gaps_add(&g, WP_GAP_DROPPED, gap);
	/* a 60 s UDP gap still waiting: open, then unanswered after the timeout: dropped */
	ps.cold_starts = 3;
	ps.cold_gap_ns = 60 * s;
	ps.cold_since_ns = 200 * s;
	ASSERT_EQ(wp_peer_judge_cold(&ps, 200 * s + s / 2, s, &gap), -1, "udp.open");
	ASSERT_EQ(wp_peer_judge_cold(&ps, 201 * s, s, &gap), WP_GAP_DROPPED, "udp.unanswered");
	ASSERT_EQ(ps.lifetime_upper_ns, 60 * s, "upper=60");
	/* a shorter clean gap leaves the lower bound; a TCP cold start waits for its evidence */
	ps.cold_starts = 4;
	ps.cold_gap_ns = 35 * s;
	ps.cold_since_ns = (300 * s) | WP_COLD_TCP;
	ASSERT_EQ(wp_peer_judge_cold(&ps, 400 * s, s, &gap), -1, "tcp.open");
	ps.cold_since_ns = 0;
	ASSERT_EQ(wp_peer_judge_cold(&ps, 401 * s, s, &gap), WP_GAP_CLEAN, "tcp.clean");
	ASSERT_EQ(ps.lifetime_lower_ns, 40 * s, "lower_kept");
	ASSERT_EQ(g.counts[WP_GAP_CLEAN][4], 1, "hist.clean_40s_bucket(<=60)");
	ASSERT_EQ(g.counts[WP_GAP_DROPPED][5], 1, "hist.dropped_90s_bucket(<=120)");
	ASSERT_EQ(g.count[WP_GAP_CLEAN] + g.count[WP_GAP_DROPPED], 2, "hist.count");
}

void test_detect_hotpath(void)
{
	if (test__start_subtest("cold_outcome"))
		cold_outcome();
	if (test__start_subtest("sampled_syns"))
		sampled_syns();
	if (test__start_subtest("watched_syns"))
		watched_syns();
	if (test__start_subtest("counted_once"))
		counted_once();
	if (test__start_subtest("fold_arm"))
		fold_arm();
}
