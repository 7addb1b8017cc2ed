// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Detection edge cases through BPF_PROG_TEST_RUN (harness: detect_fixture.h):
 * unmatched SYN-ACKs and SYNs that must not be tracked, RST, truncated TCP
 * headers, and cold starts of non-TCP traffic.
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

/* SYN-ACKs that match no tracked SYN, and SYNs that must not be tracked. */
static void syn_mismatch_cases(struct det *d)
{
	static const struct conn c4 = { .encap = FLOW_PLAIN, .outer = 4 };
	struct conn other = c4;
	struct det_expect e;
	struct det_result r;
	struct flow_state fs;
	struct pkt p;

	other.lport = LPORT + 7;

	if (test__start_subtest("synack_without_syn")) {
		if (!det_reset(d))
			return;
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, SYN_SEQ + 1);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(d, &p, &e, &r, "synack_without_syn");
		ASSERT_EQ(r.after.nflows, 0, "no_flows");
	}

	if (test__start_subtest("synack_wrong_ack")) {
		static const __u32 bad_acks[] = { SYN_SEQ, SYN_SEQ + 2, SYN_SEQ - 1, 0,
						  SYNACK_SEQ + 1 };
		size_t i;

		if (!det_reset(d))
			return;
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_new_syn(&c4);
		run_pkt(d, &p, &e, &r, "syn");
		for (i = 0; i < sizeof(bad_acks) / sizeof(bad_acks[0]); i++) {
			build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				  bad_acks[i]);
			e = expect_det(&c4, WP_DIR_RX);
			run_pkt(d, &p, &e, &r, fmt_name("synack_ack_%#x", bad_acks[i]));
		}
		/* the right ack, but another port: another flow */
		build_tcp(&p, &other, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
			  SYN_SEQ + 1);
		run_pkt(d, &p, &e, &r, "synack_other_port");
		/* the right ack on a plain ACK (no SYN) */
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_ACK, SYNACK_SEQ, SYN_SEQ + 1);
		run_pkt(d, &p, &e, &r, "ack_without_syn_flag");
		check_flow(d, &c4, SYN_SEQ, 1, 0, 0, &fs, "unanswered");
		/* and then the right one */
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, SYN_SEQ + 1);
		e.synack = 1;
		e.syn_rtt = 1;
		run_pkt(d, &p, &e, &r, "synack_right");
		check_flow(d, &c4, SYN_SEQ, 1, 0, 1, &fs, "answered");
	}

	/* The passive side: a SYN at ingress, our SYN-ACK at egress. */
	if (test__start_subtest("passive_open_not_tracked")) {
		if (!det_reset(d))
			return;
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN, SYNACK_SEQ, 0);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(d, &p, &e, &r, "syn_ingress");
		run_pkt(d, &p, &e, &r, "syn_ingress_again");
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYN_SEQ, SYNACK_SEQ + 1);
		e = expect_det(&c4, WP_DIR_TX);
		run_pkt(d, &p, &e, &r, "synack_egress");
		run_pkt(d, &p, &e, &r, "synack_egress_again");
		ASSERT_EQ(r.after.nflows, 0, "no_flows");
	}

	/* The same 4-tuple with another sequence number: a new connection, no retransmit. */
	if (test__start_subtest("new_seq_same_tuple")) {
		if (!det_reset(d))
			return;
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_new_syn(&c4);
		run_pkt(d, &p, &e, &r, "syn");
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ + 0x10000, 0);
		e.flows = 0;
		run_pkt(d, &p, &e, &r, "syn_new_seq");
		check_flow(d, &c4, SYN_SEQ + 0x10000, 1, 0, 0, &fs, "syn_new_seq");
		/* the old connection's SYN-ACK matches nothing any more */
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, SYN_SEQ + 1);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(d, &p, &e, &r, "old_synack");
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
			  SYN_SEQ + 0x10001);
		e.synack = 1;
		e.syn_rtt = 1;
		run_pkt(d, &p, &e, &r, "new_synack");
		ASSERT_EQ(r.after.peer[0].syn_retransmits, 0, "syn_retransmits_total");
	}

	/* ECN negotiation: SYN with ECE|CWR, SYN-ACK with ECE, as Linux sends them. */
	if (test__start_subtest("ecn_flags")) {
		int off;

		if (!det_reset(d))
			return;
		off = build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		p.data[off + 13] |= 0xc0; /* CWR | ECE */
		e = expect_new_syn(&c4);
		run_pkt(d, &p, &e, &r, "syn_ece_cwr");
		expect_retransmit(&e);
		run_pkt(d, &p, &e, &r, "syn_ece_cwr_retransmit");
		off = build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				SYN_SEQ + 1);
		p.data[off + 13] |= 0x40; /* ECE */
		e = expect_synack(&c4);
		run_pkt(d, &p, &e, &r, "synack_ece");
	}

	/* Sequence numbers wrap: a SYN at 0xffffffff is answered with ack 0. */
	if (test__start_subtest("seq_wraps")) {
		if (!det_reset(d))
			return;
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, 0xffffffffu, 0);
		e = expect_new_syn(&c4);
		run_pkt(d, &p, &e, &r, "syn");
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, 0);
		e = expect_synack(&c4);
		run_pkt(d, &p, &e, &r, "synack_ack_0");
	}
}

void test_detect_syn_mismatch(void)
{
	with_det(syn_mismatch_cases);
}

/* RST with SYN (either way) is ignored by the SYN tracking. */
static void rst_cases(struct det *d)
{
	static const struct conn c4 = { .encap = FLOW_PLAIN, .outer = 4 };
	struct det_expect e;
	struct det_result r;
	struct flow_state fs;
	struct pkt p;

	if (test__start_subtest("syn_rst_egress")) {
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN | TCP_FLAG_RST, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		run_pkt(d, &p, &e, &r, "syn_rst");
		run_pkt(d, &p, &e, &r, "syn_rst_again");
		ASSERT_EQ(r.after.nflows, 0, "no_flows");
	}
	if (test__start_subtest("synack_rst_ingress")) {
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_new_syn(&c4);
		run_pkt(d, &p, &e, &r, "syn");
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST,
			  SYNACK_SEQ, SYN_SEQ + 1);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(d, &p, &e, &r, "synack_rst");
		check_flow(d, &c4, SYN_SEQ, 1, 0, 0, &fs, "not_answered");
		/* the SYN with RST set is no retransmission of the tracked SYN either */
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN | TCP_FLAG_RST, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		run_pkt(d, &p, &e, &r, "syn_rst_same_seq");
		check_flow(d, &c4, SYN_SEQ, 1, 0, 0, &fs, "not_retransmitted");
	}
}

void test_detect_rst(void)
{
	with_det(rst_cases);
}

/* A TCP header cut short, or announcing more than is there: malformed, no flow. */
static void truncated_cases(struct det *d)
{
	static const struct conn cs[] = {
		{ .encap = FLOW_PLAIN, .outer = 4, .name = "ipv4" },
		{ .encap = FLOW_PLAIN, .outer = 6, .name = "ipv6" },
		{ .encap = FLOW_IPIP, .outer = 4, .inner = 4, .name = "ipip_4in4" },
		{ .encap = FLOW_VXLAN, .outer = 4, .inner = 6, .name = "vxlan_6in4" },
	};
	struct det_expect e;
	struct det_result r;
	struct flow_state fs;
	struct pkt p;
	size_t i, cut;
	int off;

	for (i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		if (!test__start_subtest(cs[i].name))
			continue;
		if (!det_reset(d))
			return;
		off = build_tcp(&p, &cs[i], WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		if (!ASSERT_GE(off, 0, "build_syn"))
			continue;
		e = expect_det(&cs[i], WP_DIR_TX);
		e.peer = PEER_NONE;
		e.malformed = true;
		/* from one byte short of a header to no header at all, in the same direction twice */
		for (cut = 1; cut <= 20; cut++) {
			run_detect(d, p.data, p.len - cut, &e, &r, fmt_name("tx_cut%zu", cut));
			run_detect(d, p.data, p.len - cut, &e, &r,
				   fmt_name("tx_cut%zu_again", cut));
		}
		/* data offset 6 (24 bytes) on a 20-byte header at the end of the packet */
		p.data[off + 12] = 6 << 4;
		run_detect(d, p.data, p.len, &e, &r, "tx_doff_beyond_end");
		run_detect(d, p.data, p.len, &e, &r, "tx_doff_beyond_end_again");
		/* data offset 4: shorter than a TCP header */
		p.data[off + 12] = 4 << 4;
		run_detect(d, p.data, p.len, &e, &r, "tx_doff_too_small");
		ASSERT_EQ(r.after.nflows, 0, "no_flows");

		/* the same cut SYN-ACK after a real SYN: no answer, no RTT */
		build_tcp(&p, &cs[i], WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_det(&cs[i], WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		run_pkt(d, &p, &e, &r, "syn");
		off = build_tcp(&p, &cs[i], WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				SYN_SEQ + 1);
		e = expect_det(&cs[i], WP_DIR_RX);
		e.peer = PEER_NONE;
		e.malformed = true;
		for (cut = 1; cut <= 20; cut++)
			run_detect(d, p.data, p.len - cut, &e, &r, fmt_name("rx_cut%zu", cut));
		check_flow(d, &cs[i], SYN_SEQ, 1, 0, 0, &fs, "not_answered");
	}
}

void test_detect_truncated(void)
{
	with_det(truncated_cases);
}

/*
 * Cold starts of non-TCP traffic and their answers: TX-initiated answered by
 * RX, RX-initiated answered by TX, an unanswered one repeated after another
 * idle gap, a never-seen peer, a cold flow whose answer came from other
 * traffic.
 */
static void cold_cases(struct det *d)
{
	static const struct conn c4 = { .encap = FLOW_PLAIN, .outer = 4 };
	static const struct conn c6vx = { .encap = FLOW_VXLAN, .outer = 6, .inner = 4 };
	struct det_result r;
	struct flow_state fs;
	struct pkt p;
	__u64 since, v;
	int dir;

	/* dir: the side that breaks the silence; the other side answers */
	for (dir = WP_DIR_TX; dir <= WP_DIR_RX; dir++) {
		int other = !dir;
		const char *pfx = dir == WP_DIR_TX ? "tx" : "rx";

		if (!test__start_subtest(fmt_name("%s_initiated_udp", pfx)))
			continue;
		if (!det_reset(d))
			return;
		first_packet_then_idle(d, &p, &c4, dir, FLOW_UDP, &r);
		step_other(d, &p, &c4, dir, FLOW_UDP, expect_cold_start, &r, "cold");
		since = r.after.peer[0].cold_since_ns;
		if (dir == WP_DIR_TX)
			check_event_tuple(&r.ev, LOCAL4, NODE_A4, 40000, 53, IPPROTO_UDP, "cold");
		else
			check_event_tuple(&r.ev, NODE_A4, LOCAL4, 53, 40000, IPPROTO_UDP, "cold");
		ASSERT_GE(r.ev.value_ns, COLD_NS, "cold.event.value_ns>=threshold");
		ASSERT_EQ(r.ev.syn_count, 0, "cold.event.syn_count");
		/* more the same way: still cold, no new cold start */
		step_other(d, &p, &c4, dir, FLOW_UDP, NULL, &r, "same_direction");
		ASSERT_EQ(r.after.peer[0].cold_since_ns, since, "same_direction.still_cold");
		/* the answer */
		step_other(d, &p, &c4, other, FLOW_ICMP, expect_recovery, &r, "answer");
		v = r.after.hist[0].cold_recovery.sum_ns - r.before.hist[0].cold_recovery.sum_ns;
		ASSERT_GE(v, r.t0 - since, "answer.recovery>=since_cold");
		ASSERT_LE(v, r.t1 - since, "answer.recovery<=since_cold");
		/* and after the answer nothing more */
		step_other(d, &p, &c4, dir, FLOW_UDP, NULL, &r, "after_answer");
		step_other(d, &p, &c4, other, FLOW_ICMP, NULL, &r, "after_answer_other");
	}

	if (test__start_subtest("unanswered_then_cold_again")) {
		if (!det_reset(d))
			return;
		first_packet_then_idle(d, &p, &c6vx, WP_DIR_TX, FLOW_ICMP, &r);
		step_other(d, &p, &c6vx, WP_DIR_TX, FLOW_ICMP, expect_cold_start, &r, "cold1");
		check_event_tuple(&r.ev, LOCAL_POD4, POD_B4, 0, 0, IPPROTO_ICMP, "cold1");
		since = r.after.peer[0].cold_since_ns;
		usleep(IDLE_NS / 1000);
		step_other(d, &p, &c6vx, WP_DIR_TX, FLOW_ICMP, expect_cold_start, &r, "cold2");
		ASSERT_GT(r.after.peer[0].cold_since_ns, since, "cold2.restamped");
		ASSERT_EQ(r.after.peer[0].cold_starts, 2, "cold2.cold_starts_total");
		step_other(d, &p, &c6vx, WP_DIR_RX, FLOW_ICMP, expect_recovery, &r, "answer");
		ASSERT_EQ(r.after.hist[0].cold_recovery.count, 1, "one_recovery_sample");
	}

	/* Never seen (last_tx_ns == last_rx_ns == 0): no cold start, however long idle. */
	if (test__start_subtest("never_seen_peer")) {
		if (!det_reset(d))
			return;
		usleep(IDLE_NS / 1000);
		step_syn(d, &p, &c4, SYN_SEQ, NULL, &r, "first_syn_ever");
		check_flow(d, &c4, SYN_SEQ, 1, 0, 0, &fs, "first_syn_ever");
		step_syn(d, &p, &c4, SYN_SEQ, expect_retransmit, &r, "retransmit");
	}

	/*
	 * A flow opened while cold stays a cold flow: answered by other traffic
	 * (a UDP reply), its SYN retransmitted later is still a first-packet drop.
	 */
	if (test__start_subtest("cold_flow_answered_by_other_traffic")) {
		if (!det_reset(d))
			return;
		first_packet_then_idle(d, &p, &c4, WP_DIR_RX, FLOW_UDP, &r);
		step_syn(d, &p, &c4, SYN_SEQ, expect_cold_start, &r, "cold_syn");
		step_other(d, &p, &c4, WP_DIR_RX, FLOW_UDP, expect_recovery, &r, "udp_answer");
		step_syn(d, &p, &c4, SYN_SEQ, expect_first_packet_drop, &r, "retransmit");
		ASSERT_EQ(r.after.peer[0].syn_retransmits, 0, "syn_retransmits_total");
	}

	/* An RX cold start answered by our SYN: the flow opens warm. */
	if (test__start_subtest("rx_cold_answered_by_syn")) {
		if (!det_reset(d))
			return;
		first_packet_then_idle(d, &p, &c4, WP_DIR_RX, FLOW_UDP, &r);
		step_other(d, &p, &c4, WP_DIR_RX, FLOW_UDP, expect_cold_start, &r, "cold_rx");
		step_syn(d, &p, &c4, SYN_SEQ, expect_recovery, &r, "syn_answers");
		check_flow(d, &c4, SYN_SEQ, 1, 0, 0, &fs, "syn_answers");
		step_syn(d, &p, &c4, SYN_SEQ, expect_retransmit, &r, "retransmit");
	}
}

void test_detect_cold(void)
{
	with_det(cold_cases);
}
