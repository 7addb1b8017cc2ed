// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the detection half of bpf/datapath.bpf.c through
 * BPF_PROG_TEST_RUN: TCP SYN tracking (the `flows` LRU, SYN retransmits,
 * first-packet drops, the passive SYN -> SYN-ACK RTT in `peer_hists`), cold
 * starts and their answer (cold_since_ns, cold_recovery), and the events of
 * the `events` ring buffer; plain IPv4 / IPv6 and inner TCP in IPIP and VXLAN,
 * where the flow is keyed by the inner addresses and credited to the peer of
 * the outer one.
 *
 * Every run is checked exactly (run_detect()): retval -1, packet unchanged,
 * the delta of every stat, the whole state of both peers (only the expected
 * counters move), both peers' histograms, the number of flows and the events
 * the run produced (zero or one, every field checked).
 *
 * The skeleton is opened here, not with dp_fixture_open(), to set the rodata
 * cold_threshold_ns to COLD_NS before load; maps are unpinned as there.
 *
 *	peer 1 node-a  192.0.2.1  2001:db8::1     outer (underlay) addresses
 *	peer 2 node-b  10.244.0.0/16 fd00:b::/48  inner POD_B* addresses: a flow
 *	                                          credited here was attributed by
 *	                                          the inner header (wrong)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf.h>
#include "detect_fixture.h"
#include "test_progs.h"

/* --- scenarios ---------------------------------------------------------------- */

/* Encapsulated: the flow is not keyed by the outer addresses. */
static void check_no_outer_flow(struct det *d, const struct conn *c, const char *label)
{
	struct flow_state fs;

	if (c->encap == FLOW_PLAIN)
		return;
	ASSERT_EQ(read_flow(d, c->outer == 4 ? LOCAL4 : LOCAL6, c->outer == 4 ? NODE_A4 : NODE_A6,
			    conn_lport(c), RPORT, &fs),
		  -ENOENT, fmt_name("%s.no_flow_by_outer_addresses", label));
}

/*
 * On a warm (never idle) path: SYN -> flow; the same SYN twice more -> two SYN
 * retransmits, never first-packet drops; the SYN-ACK -> one RTT sample; a
 * second SYN-ACK and the final ACK -> nothing.
 */
static void syn_lifecycle(struct det *d, const struct conn *c)
{
	struct flow_state fs, fs0;
	struct det_expect e;
	struct det_result r;
	struct pkt p;
	__u64 rtt;

	if (!det_reset(d))
		return;

	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0), 0, "build_syn"))
		return;
	e = expect_new_syn(c);
	run_pkt(d, &p, &e, &r, "syn");
	if (check_flow(d, c, SYN_SEQ, 1, 0, 0, &fs0, "syn")) {
		ASSERT_EQ(fs0.first_syn_ns, fs0.last_syn_ns, "syn.flow.first==last");
		ASSERT_GE(fs0.first_syn_ns, r.t0, "syn.flow.first_syn_ns>=start");
		ASSERT_LE(fs0.first_syn_ns, r.t1, "syn.flow.first_syn_ns<=end");
	}
	check_no_outer_flow(d, c, "syn");

	e = expect_det(c, WP_DIR_TX);
	e.syn = 1;
	expect_retransmit(&e);
	run_pkt(d, &p, &e, &r, "retransmit1");
	if (check_flow(d, c, SYN_SEQ, 2, 0, 0, &fs, "retransmit1")) {
		ASSERT_EQ(fs.first_syn_ns, fs0.first_syn_ns, "retransmit1.flow.first_syn_ns_kept");
		ASSERT_GE(fs.last_syn_ns, r.t0, "retransmit1.flow.last_syn_ns>=start");
		ASSERT_LE(fs.last_syn_ns, r.t1, "retransmit1.flow.last_syn_ns<=end");
		check_syn_event(&r.ev, c, 2, &fs, "retransmit1");
	}

	run_pkt(d, &p, &e, &r, "retransmit2");
	if (check_flow(d, c, SYN_SEQ, 3, 0, 0, &fs, "retransmit2"))
		check_syn_event(&r.ev, c, 3, &fs, "retransmit2");
	ASSERT_EQ(r.after.peer[0].syn_retransmits, 2, "retransmit2.syn_retransmits_total");
	ASSERT_EQ(r.after.peer[0].first_packet_drops, 0, "retransmit2.first_packet_drops_total");

	/* SYN-ACK: the tuple swapped, ack = seq + 1; RTT from the last SYN */
	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				 SYN_SEQ + 1),
		       0, "build_synack"))
		return;
	e = expect_synack(c);
	run_pkt(d, &p, &e, &r, "synack");
	check_flow(d, c, SYN_SEQ, 3, 0, 1, &fs, "synack");
	rtt = r.after.hist[0].syn_rtt.sum_ns - r.before.hist[0].syn_rtt.sum_ns;
	ASSERT_GE(rtt, r.t0 - fs.last_syn_ns, "synack.rtt>=since_last_syn");
	ASSERT_LE(rtt, r.t1 - fs.last_syn_ns, "synack.rtt<=since_last_syn");

	e = expect_det(c, WP_DIR_RX);
	run_pkt(d, &p, &e, &r, "synack_again");

	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_TX, TCP_FLAG_ACK, SYN_SEQ + 1, SYNACK_SEQ + 1), 0,
		       "build_ack"))
		return;
	e = expect_det(c, WP_DIR_TX);
	run_pkt(d, &p, &e, &r, "ack");
	ASSERT_EQ(r.after.peer[0].cold_starts, 0, "warm.cold_starts_total");
	ASSERT_EQ(r.after.peer[0].cold_since_ns, 0, "warm.cold_since_ns");
}

/*
 * A path idle for longer than the threshold: the SYN is a cold start and its
 * flow is cold; the SYN again is a first-packet drop (not a SYN retransmit);
 * the SYN-ACK answers (recovery and RTT sample). A new connection afterwards,
 * retransmitted, is a plain SYN retransmit again.
 */
static void cold_lifecycle(struct det *d, const struct conn *c)
{
	struct conn c2 = *c;
	struct flow_state fs, fs0;
	struct det_expect e;
	struct det_result r;
	__u64 since, last, v;
	struct pkt p;

	c2.lport = LPORT + 1;
	if (!det_reset(d))
		return;

	/* seen once: from now on an idle gap makes a cold start */
	if (!ASSERT_OK(build_other(&p, c, WP_DIR_TX, FLOW_UDP), "build_udp"))
		return;
	e = expect_det(c, WP_DIR_TX);
	run_pkt(d, &p, &e, &r, "first_packet_ever");
	last = r.after.peer[0].last_tx_ns;
	usleep(IDLE_NS / 1000);

	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0), 0, "build_syn"))
		return;
	e = expect_new_syn(c);
	expect_cold_start(&e);
	run_pkt(d, &p, &e, &r, "cold_syn");
	since = r.after.peer[0].cold_since_ns;
	check_event_tuple(&r.ev, conn_local(c), conn_remote(c), conn_lport(c), RPORT, IPPROTO_TCP,
			  "cold_syn");
	ASSERT_EQ(r.ev.syn_count, 0, "cold_syn.event.syn_count");
	/* the idle gap, coarse clock on both ends */
	ASSERT_GE(r.ev.value_ns, COLD_NS, "cold_syn.event.value_ns>=threshold");
	ASSERT_GE(r.ev.value_ns, IDLE_NS - COARSE_SLACK_NS, "cold_syn.event.value_ns>=idle");
	ASSERT_LE(r.ev.value_ns, r.t1 - last + COARSE_SLACK_NS, "cold_syn.event.value_ns<=gap");
	check_flow(d, c, SYN_SEQ, 1, 1, 0, &fs0, "cold_syn");
	check_no_outer_flow(d, c, "cold_syn");

	e = expect_det(c, WP_DIR_TX);
	e.syn = 1;
	expect_first_packet_drop(&e);
	run_pkt(d, &p, &e, &r, "cold_retransmit");
	if (check_flow(d, c, SYN_SEQ, 2, 1, 0, &fs, "cold_retransmit"))
		check_syn_event(&r.ev, c, 2, &fs, "cold_retransmit");
	ASSERT_EQ(r.after.peer[0].syn_retransmits, 0, "cold_retransmit.syn_retransmits_total");
	ASSERT_EQ(r.after.peer[0].cold_since_ns, since, "cold_retransmit.still_cold");

	/* the SYN-ACK answers: recovery from the cold packet, RTT from the last SYN */
	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				 SYN_SEQ + 1),
		       0, "build_synack"))
		return;
	e = expect_synack(c);
	expect_recovery(&e);
	run_pkt(d, &p, &e, &r, "answer");
	v = r.after.hist[0].cold_recovery.sum_ns - r.before.hist[0].cold_recovery.sum_ns;
	ASSERT_GE(v, r.t0 - since, "answer.recovery>=since_cold");
	ASSERT_LE(v, r.t1 - since, "answer.recovery<=since_cold");
	ASSERT_LT(v, COLD_NS, "answer.recovery_short");
	check_flow(d, c, SYN_SEQ, 2, 1, 1, &fs, "answer");

	/* warm again: a new connection's retransmit is no first-packet drop */
	if (!ASSERT_GE(build_tcp(&p, &c2, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ + 100, 0), 0,
		       "build_syn2"))
		return;
	e = expect_new_syn(c);
	run_pkt(d, &p, &e, &r, "warm_syn");
	check_flow(d, &c2, SYN_SEQ + 100, 1, 0, 0, &fs, "warm_syn");
	expect_retransmit(&e);
	run_pkt(d, &p, &e, &r, "warm_retransmit");
	if (check_flow(d, &c2, SYN_SEQ + 100, 2, 0, 0, &fs, "warm_retransmit"))
		check_syn_event(&r.ev, &c2, 2, &fs, "warm_retransmit");
	ASSERT_EQ(r.after.peer[0].cold_starts, 1, "total.cold_starts");
	ASSERT_EQ(r.after.peer[0].first_packet_drops, 1, "total.first_packet_drops");
	ASSERT_EQ(r.after.peer[0].syn_retransmits, 1, "total.syn_retransmits");
	ASSERT_EQ(r.after.hist[0].cold_recovery.count, 1, "total.cold_recovery.count");
	ASSERT_EQ(r.after.hist[0].syn_rtt.count, 1, "total.syn_rtt.count");
}

static const struct conn conns[] = {
	{ .encap = FLOW_PLAIN, .outer = 4, .name = "ipv4" },
	{ .encap = FLOW_PLAIN, .outer = 6, .name = "ipv6" },
	{ .encap = FLOW_IPIP, .outer = 4, .inner = 4, .name = "ipip_4in4" },
	{ .encap = FLOW_IPIP, .outer = 4, .inner = 6, .name = "ipip_6in4" },
	{ .encap = FLOW_IPIP, .outer = 6, .inner = 4, .name = "ipip_4in6" },
	{ .encap = FLOW_VXLAN, .outer = 4, .inner = 4, .name = "vxlan_4in4" },
	{ .encap = FLOW_VXLAN, .outer = 4, .inner = 6, .name = "vxlan_6in4" },
	{ .encap = FLOW_VXLAN, .outer = 6, .inner = 6, .name = "vxlan_6in6" },
};
#define NR_CONNS (sizeof(conns) / sizeof(conns[0]))

/* @lifecycle on every connection of conns[], one subtest each. */
static void each_conn(void (*lifecycle)(struct det *d, const struct conn *c))
{
	struct det d;

	if (!det_open(&d, COLD_NS))
		return;
	for (size_t i = 0; i < NR_CONNS; i++)
		if (test__start_subtest(conns[i].name))
			lifecycle(&d, &conns[i]);
	det_close(&d);
}

void test_detect_syn(void)
{
	each_conn(syn_lifecycle);
}

/*
 * A SYN crosses every watched device on its way out (the VXLAN device, then
 * the WireGuard device carrying it): the second sighting of one transmission
 * is not a retransmission. ifindex 1 (lo) stands for the first device, the
 * second is another interface of this namespace configured the same way.
 */
static void stacked_devices(struct det *d, const struct conn *c, __u32 second_ifindex)
{
	struct dp_run_result run;
	struct peer_state ps;
	__u64 retx = 0, fpd = 0;
	struct pkt p;
	const __u32 order[] = { DP_TEST_IFINDEX, second_ifindex, DP_TEST_IFINDEX, second_ifindex };

	if (!det_reset(d) ||
	    !ASSERT_OK(dp_set_iface(&d->f, second_ifindex, WP_IF_L2 | WP_IF_TUNNEL), "iface2") ||
	    !ASSERT_GE(build_tcp(&p, c, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0), 0, "build_syn"))
		return;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		dp_run(d->f.egress_fd, p.data, p.len, order[i], 1, &run);
		ASSERT_EQ(run.err, 0, "run");
		ASSERT_EQ(run.retval, -1, "retval");
	}
	for (int i = 0; i < NR_DET_PEERS; i++) {
		if (!ASSERT_OK(dp_read_peer(&d->f, det_peers[i], &ps), "read_peer"))
			return;
		retx += ps.syn_retransmits;
		fpd += ps.first_packet_drops;
	}
	/* two transmissions, each seen on two devices: one retransmission */
	ASSERT_EQ(retx, 1, "stacked.syn_retransmits");
	ASSERT_EQ(fpd, 0, "stacked.first_packet_drops");
	dp_del_iface(&d->f, second_ifindex);
}

void test_detect_stacked_devices(void)
{
	struct det d;

	if (!det_open(&d, COLD_NS))
		return;
	if (test__start_subtest("vxlan_over_wg"))
		stacked_devices(&d, &conns[0], 2);
	det_close(&d);
}

void test_detect_cold_syn(void)
{
	each_conn(cold_lifecycle);
}
