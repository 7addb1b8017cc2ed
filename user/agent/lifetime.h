/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lifetime learning (--keepalive-interval auto): how long each path stays
 * open when idle, learned by trials, and the keep-alive interval that follows
 * from it. Pure state machines, no sockets: the agent feeds them the clock,
 * the peer's workload activity and the messages and probe outcomes of the
 * pair, and sends what they ask for (lifetime_run.c).
 *
 * A trial: the coordinator of the pair (the agent whose node name sorts
 * first) proposes a gap T and which side tests; once the other agent accepts,
 * both hold every keep-alive to each other for T, then the tester sends one
 * probe. Answered: the path survived T for a first packet from the tester's
 * side (lo[dir] = T). Unanswered: it did not (hi[dir] = T), and the other
 * side, which saw no test arrive, probes at once: from its side the path
 * opens again. A NAT is only tested by a packet from outside it, so the path
 * is known to survive T only when both directions did: the path's bounds are
 * lower = min(lo[self], lo[peer]), upper = min(hi[self], hi[peer]).
 *
 * The search: T grows by LT_GROWTH from max(lower, MIN) up to MAX, but never
 * over LT_WG_STEP while below it (WireGuard's passive keepalive goes 10 s
 * after an exchange and can reopen a NAT that expired before: a path that
 * dies at 6 s may look open at 12 s, so nothing past 9.5 s is tried before
 * 9.5 s has survived both ways); after a failure it bisects between lower and
 * upper, testing the direction that failed first (the one that can fail), and
 * stops once upper <= LT_STOP_RATIO x lower or lower >= MAX. A learned path
 * is tried again at its lower bound every --lifetime-trial-every (NATs
 * change). Contrary evidence (a failed keep-alive, a first-packet drop after
 * a gap the path should have survived) drops what was learned at once.
 *
 * Interval: LT_MARGIN x lower within MIN..MAX (source "trial"); shortened to
 * LT_MARGIN x the passive upper bound when a first packet was lost after a
 * shorter gap (source "passive"); MIN without evidence (source "default").
 */
#ifndef __WARMPATH_LIFETIME_H
#define __WARMPATH_LIFETIME_H

#include <stdbool.h>
#include <linux/types.h>
#include "warmpath.h"

#define LT_MARGIN 0.7
#define LT_GROWTH 2.0
#define LT_STOP_RATIO 1.25
#define LT_WG_STEP_NS 9500000000ull /* 9.5 s: below WireGuard's 10 s passive keepalive */
#define LT_GRACE_NS 500000000ull /* the non-tester's wait past T + timeout, RTT unknown */
#define LT_RTT_GRACE_NS 100000000ull /* ... past T + 4 RTT, RTT known */

enum lt_dir { LT_SELF = 0, LT_PEER = 1 }; /* who sends a trial's test */

enum lt_result {
	LT_SURVIVED = 0,
	LT_FAILED,
	LT_ABORTED, /* workload crossed the pair during the hold: nothing learned */
	LT_REFUSED, /* the peer declined (busy, not in auto mode) */
	LT_UNANSWERED, /* the proposal was not answered (peer down, older agent) */
	LT_NR_RESULTS
};

enum lt_phase {
	LT_IDLE = 0,
	LT_PROPOSED, /* coordinator: proposal sent, waiting for the answer */
	LT_HOLD, /* no keep-alives either way until the test */
	LT_TESTING, /* tester: the test probe is out */
	LT_SETTLE, /* tester: the test failed; holding until the other side's probe reopens */
};

/* What the agent must do for a peer after lt_tick / lt_on_* (bits). */
#define LT_DO_PROPOSE 0x1 /* send a proposal: lt_proposal() */
#define LT_DO_TEST 0x2 /* send the test probe (a keep-alive probe) now */
#define LT_DO_REOPEN 0x4 /* the test did not arrive: probe now, from our side */
#define LT_DO_ABORT 0x8 /* tell the peer the trial is off */

struct lt_opts {
	bool enabled; /* --keepalive-interval auto */
	__u64 min_ns, max_ns;
	__u64 fixed_ns; /* the interval when not enabled */
	__u64 trial_idle_ns; /* workload-idle time before a trial */
	__u64 trial_every_ns; /* at most one trial per pair per this */
	__u64 timeout_ns; /* --probe-timeout: a test or proposal unanswered this long failed */
	__u64 tick_ns;
};

/* The messages of the trial protocol (carried in the probe datagram, probe.h). */
enum lt_msg_type { LT_MSG_PROPOSE = 0, LT_MSG_ACCEPT, LT_MSG_REFUSE, LT_MSG_ABORT };
struct lt_msg {
	enum lt_msg_type type;
	__u32 id;
	__u32 gap_ms;
	bool receiver_tests; /* PROPOSE: the receiver of the proposal sends the test */
};

struct lt_peer {
	__u64 lo_ns[2], hi_ns[2]; /* by enum lt_dir: survived / failed gaps, 0: none */
	__u64 passive_upper_ns; /* shortest gap after which a first packet was lost */
	enum lt_phase phase;
	__u32 id; /* the trial's id */
	__u64 gap_ns; /* its T */
	enum lt_dir tester;
	__u64 t0_ns; /* the hold began */
	__u64 settle_ns; /* after a failed test: from T until the other side has reopened */
	__u64 rtt_ns; /* the pair's last probe round trip (0: unknown), set by the agent */
	__u64 deadline_ns; /* PROPOSED: give up; HOLD: test (tester) or reopen (other) */
	__u64 last_trial_ns; /* the last trial began (proposal or acceptance); 0: never */
	__u64 ended_ns; /* about when the last trial that held ended; 0: none yet */
	__u64 workload_ns; /* last workload packet seen either way; 0: none */
	__u64 workload_mark; /* workload packet count at the last look */
	__u64 fpd_mark; /* first-packet drops + unanswered cold starts at the last look */
	bool alternate; /* the next tie between directions goes to LT_PEER */
	bool converged;
	bool backoff; /* the last trial was refused, unanswered or aborted: wait LT_RETRY */
	__u64 trials; /* trials this side took part in (proposed or accepted) */
	__u64 results[LT_NR_RESULTS];
	__u64 workload_hits; /* first packets lost during a trial */
	__u64 resets; /* learned values dropped on contrary evidence */
	/* a keep-alive failed: judged at a later tick (did anything come back?) */
	__u64 ka_failed_ns;
	__u64 rx_now, rx_mark, rx_at_fail; /* packets from the peer (lt_observe_rx) */
};

/* The smaller of two bounds where 0 means none. */
static inline __u64 lt_min_nz(__u64 a, __u64 b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* The path's bounds: both directions survived lower; 0 when unknown. */
__u64 lt_lower_ns(const struct lt_peer *p);
__u64 lt_upper_ns(const struct lt_peer *p);
/*
 * The keep-alive interval of the peer, and why (WP_IVS_*). wg_held: WireGuard's
 * persistent keepalive holds the pair (no probes; the interval is what ours would be).
 */
__u64 lt_interval_ns(const struct lt_opts *o, const struct lt_peer *p, bool wg_held, __u32 *source);
/* True while the pair's keep-alives are held for a trial. */
bool lt_holding(const struct lt_peer *p);
/*
 * A trial holds the pair or ended less than the hit window ago: the SYNs that
 * go now are the ones a trial may have met (the datapath tracks them all).
 */
bool lt_watching(const struct lt_peer *p, __u64 now);
/* The next trial of a coordinator: its gap and tester; false when none is needed. */
bool lt_next_trial(const struct lt_opts *o, const struct lt_peer *p, __u64 *gap_ns,
		   enum lt_dir *tester);

/*
 * Once a tick per peer. workload: the peer's workload packets (both ways, not
 * probes) so far; fpd: its TCP SYNs retransmitted (first-packet drops and
 * warm-path retransmissions) so far; last_gap_ns: the idle gap before its last cold start; coordinator: this
 * side proposes; can_trial: UDP probes, idle mode, not held by WireGuard, no
 * probe in flight. Returns LT_DO_* bits; for LT_DO_PROPOSE, *out is the
 * message to send.
 */
int lt_tick(const struct lt_opts *o, struct lt_peer *p, __u64 now, __u64 workload, __u64 fpd,
	    __u64 last_gap_ns, bool coordinator, bool can_trial, __u32 id, struct lt_msg *out);
/*
 * Packets from the peer so far (workload and probes), before each lt_tick: a
 * keep-alive that failed while something still came back from the peer (an
 * ICMP port unreachable from a peer whose agent is down, workload) says the
 * path is open, not that it expired.
 */
void lt_observe_rx(struct lt_peer *p, __u64 rx_packets);
/* When the agent must look again (a test or reopen deadline); 0: nothing pending. */
__u64 lt_wake_ns(const struct lt_peer *p);
/* A trial message from the peer. Returns LT_DO_* bits; *out is the answer to send, if any. */
int lt_on_msg(const struct lt_opts *o, struct lt_peer *p, const struct lt_msg *in, __u64 now,
	      bool can_trial, struct lt_msg *out);
/* A probe request from the peer arrived (and was answered). */
void lt_on_peer_request(struct lt_peer *p, __u64 now);
/*
 * Our probe to the peer ended. test: it was the trial's test. A keep-alive
 * that failed outside a trial is contrary evidence, unless something came
 * back from the peer by the next tick (judged there).
 */
void lt_on_probe_done(struct lt_peer *p, bool answered, __u64 now, bool *was_test);
/*
 * What a previous agent learned (the pinned map keeps it across restarts):
 * both directions survived lower, failed at upper (0: none); trials so far.
 */
void lt_restore(const struct lt_opts *o, struct lt_peer *p, __u64 lower, __u64 upper, __u64 trials,
		__u64 now);
/* Drop what was learned (contrary evidence): upper becomes min(upper, gap) when gap > 0. */
void lt_reset(struct lt_peer *p, __u64 gap_ns);

const char *lt_result_name(enum lt_result r);

#endif /* __WARMPATH_LIFETIME_H */
