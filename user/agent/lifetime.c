// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Lifetime learning: the trial state machine and the search (lifetime.h). */
#include <string.h>
#include "lifetime.h"
#include "peer_schema.h"

#define LT_MAX_GAP_NS (3600ull * 1000000000ull) /* a proposal's T is at most an hour */
#define LT_RETRY_NS (10ull * 1000000000ull) /* after a refusal or no answer, at the soonest */
#define LT_REVALIDATE_NS (600ull * 1000000000ull) /* a learned path, tried again at the soonest */
/*
 * A SYN retransmitted this soon after a trial ended lost its first packet to
 * the trial: TCP retransmits a SYN after 1, 3 and 7 s.
 */
#define LT_HIT_WINDOW_NS (10ull * 1000000000ull)

__u64 lt_lower_ns(const struct lt_peer *p)
{
	return p->lo_ns[LT_SELF] < p->lo_ns[LT_PEER] ? p->lo_ns[LT_SELF] : p->lo_ns[LT_PEER];
}

__u64 lt_upper_ns(const struct lt_peer *p)
{
	return lt_min_nz(p->hi_ns[LT_SELF], p->hi_ns[LT_PEER]);
}

static bool search_done(const struct lt_opts *o, const struct lt_peer *p)
{
	__u64 lower = lt_lower_ns(p), upper = lt_upper_ns(p);
	__u64 base = lower > o->min_ns ? lower : o->min_ns;

	if (lower && lower >= o->max_ns)
		return true;
	/* upper at or below MIN: MIN is as good as it gets (and it is not good) */
	return upper && upper <= base * LT_STOP_RATIO;
}

__u64 lt_interval_ns(const struct lt_opts *o, const struct lt_peer *p, bool wg_held, __u32 *source)
{
	__u64 lower = lt_lower_ns(p), iv;

	*source = wg_held ? WP_IVS_WIREGUARD : WP_IVS_DEFAULT;
	if (!o->enabled)
		return o->fixed_ns;
	if (wg_held)
		return o->min_ns;
	if (!lower) {
		if (p->resets && p->passive_upper_ns)
			*source = WP_IVS_PASSIVE;
		return o->min_ns;
	}
	iv = (__u64)(lower * LT_MARGIN);
	*source = WP_IVS_TRIAL;
	if (iv < o->min_ns)
		iv = o->min_ns;
	if (iv > o->max_ns)
		iv = o->max_ns;
	return iv;
}

bool lt_holding(const struct lt_peer *p)
{
	return p->phase != LT_IDLE && p->phase != LT_PROPOSED;
}

bool lt_watching(const struct lt_peer *p, __u64 now)
{
	return lt_holding(p) || (p->ended_ns && now - p->ended_ns <= LT_HIT_WINDOW_NS);
}

/* Nothing tells the two directions apart for a trial at gap: they take turns. */
static bool dir_tie(const struct lt_peer *p, __u64 gap)
{
	return (p->lo_ns[LT_SELF] < gap) == (p->lo_ns[LT_PEER] < gap) &&
	       !p->hi_ns[LT_SELF] == !p->hi_ns[LT_PEER];
}

/* The direction a trial at gap tests: one that has not survived it, the one that failed first. */
static enum lt_dir pick_dir(const struct lt_peer *p, __u64 gap)
{
	bool self = p->lo_ns[LT_SELF] < gap, peer = p->lo_ns[LT_PEER] < gap;

	if (self != peer)
		return self ? LT_SELF : LT_PEER;
	if (!p->hi_ns[LT_SELF] != !p->hi_ns[LT_PEER])
		return p->hi_ns[LT_SELF] ? LT_SELF : LT_PEER;
	return p->alternate ? LT_PEER : LT_SELF;
}

bool lt_next_trial(const struct lt_opts *o, const struct lt_peer *p, __u64 *gap_ns,
		   enum lt_dir *tester)
{
	__u64 lower = lt_lower_ns(p), upper = lt_upper_ns(p);
	__u64 base = lower > o->min_ns ? lower : o->min_ns, gap;

	if (search_done(o, p)) {
		/* re-validation: the learned lower bound, from the side that can fail */
		gap = lower ? lower : o->min_ns;
		*gap_ns = gap;
		*tester = pick_dir(p, gap + 1);
		return true;
	}
	if (!upper) {
		gap = (__u64)(base * LT_GROWTH);
		/* WireGuard's passive keepalive (10 s) changes the path there: stop below it first */
		if (base < LT_WG_STEP_NS && gap > LT_WG_STEP_NS)
			gap = LT_WG_STEP_NS;
	} else {
		gap = base + (upper - base) / 2;
	}
	if (gap > o->max_ns)
		gap = o->max_ns;
	if (gap <= lower)
		return false;
	*gap_ns = gap;
	*tester = pick_dir(p, gap);
	return true;
}

static void finish(struct lt_peer *p, enum lt_result r, __u64 now)
{
	p->results[r]++;
	if (lt_holding(p)) /* a proposal refused or unanswered held nothing */
		p->ended_ns = now;
	/* no answer, a refusal, workload: not again at once (whatever --lifetime-trial-every) */
	p->backoff = r == LT_ABORTED || r == LT_REFUSED || r == LT_UNANSWERED;
	p->phase = LT_IDLE;
	p->deadline_ns = 0;
}

void lt_restore(const struct lt_opts *o, struct lt_peer *p, __u64 lower, __u64 upper, __u64 trials,
		__u64 now)
{
	p->lo_ns[LT_SELF] = p->lo_ns[LT_PEER] = lower;
	p->hi_ns[LT_SELF] = p->hi_ns[LT_PEER] = upper > lower ? upper : 0;
	p->trials = trials;
	p->last_trial_ns = now; /* tried again after --lifetime-trial-every, like any other */
	p->converged = search_done(o, p);
}

void lt_reset(struct lt_peer *p, __u64 gap_ns)
{
	p->lo_ns[LT_SELF] = p->lo_ns[LT_PEER] = 0;
	if (gap_ns) {
		p->hi_ns[LT_SELF] = lt_min_nz(p->hi_ns[LT_SELF], gap_ns);
		p->hi_ns[LT_PEER] = lt_min_nz(p->hi_ns[LT_PEER], gap_ns);
	}
	p->converged = false;
	p->resets++;
}

/* A trial's outcome for one direction. */
static void record(struct lt_peer *p, enum lt_dir d, bool survived, __u64 now)
{
	__u64 gap = p->gap_ns;

	if (survived) {
		if (gap > p->lo_ns[d])
			p->lo_ns[d] = gap;
		if (p->hi_ns[d] && p->hi_ns[d] <= gap)
			p->hi_ns[d] =
				0; /* the path got longer (the NAT changed): forget the failure */
		finish(p, LT_SURVIVED, now);
		return;
	}
	if (gap <= lt_lower_ns(p) || gap <= p->lo_ns[d])
		lt_reset(p, gap); /* it no longer survives what it did: start again */
	else
		p->hi_ns[d] = lt_min_nz(p->hi_ns[d], gap);
	finish(p, LT_FAILED, now);
	if (d == LT_SELF) {
		/* our side cannot reopen it: the other side probes once it misses the test */
		p->phase = LT_SETTLE;
		p->deadline_ns = p->t0_ns + gap + p->settle_ns;
	}
}

/*
 * How long past T the side that does not test waits for the test before it
 * probes itself: the test is sent at T (a timer, not a tick) and arrives one
 * way later, the two clocks of T started a one-way delay apart; 4 round trips
 * and a margin, at most the probe timeout. While it waits, a path that
 * expired stays closed from the outside: the shorter, the fewer workload
 * packets a failed trial can cost.
 */
static __u64 test_wait_ns(const struct lt_opts *o, const struct lt_peer *p)
{
	if (p->rtt_ns && 4 * p->rtt_ns + LT_RTT_GRACE_NS < o->timeout_ns + LT_GRACE_NS)
		return 4 * p->rtt_ns + LT_RTT_GRACE_NS;
	return o->timeout_ns + LT_GRACE_NS;
}

static void hold(const struct lt_opts *o, struct lt_peer *p, __u64 now)
{
	p->phase = LT_HOLD;
	p->t0_ns = now;
	/* when the other side, missing our test, has probed (its deadline plus a tick) */
	p->settle_ns = o->timeout_ns + LT_GRACE_NS + 2 * o->tick_ns;
	p->deadline_ns = now + p->gap_ns;
	if (p->tester == LT_PEER)
		p->deadline_ns += test_wait_ns(o, p);
}

int lt_tick(const struct lt_opts *o, struct lt_peer *p, __u64 now, __u64 workload, __u64 fpd,
	    __u64 last_gap_ns, bool coordinator, bool can_trial, __u32 id, struct lt_msg *out)
{
	bool moved = workload != p->workload_mark;
	int act = 0;
	__u64 gap;
	enum lt_dir tester;

	if (!p->workload_ns) { /* first look: counters from before us are no news */
		p->workload_ns = now;
		p->workload_mark = workload;
		p->fpd_mark = fpd;
		return 0;
	}
	if (moved) {
		p->workload_ns = now;
		p->workload_mark = workload;
	}
	if (p->ka_failed_ns && now >= p->ka_failed_ns + o->tick_ns) {
		/* nothing came back since the keep-alive went: the path did not stay open */
		if (p->rx_now == p->rx_at_fail && lt_lower_ns(p))
			lt_reset(p, 0);
		p->ka_failed_ns = 0;
	}
	p->rx_mark = p->rx_now;
	if (fpd != p->fpd_mark) {
		/* a first packet met the trial (its retransmission may come after the abort) */
		if (lt_watching(p, now))
			p->workload_hits += fpd - p->fpd_mark;
		else if (o->enabled && lt_lower_ns(p) && last_gap_ns &&
			 last_gap_ns <= lt_lower_ns(p))
			lt_reset(p, last_gap_ns); /* lost after a gap the path should survive */
		p->fpd_mark = fpd;
	}
	if (moved && lt_holding(p)) {
		if (p->phase == LT_SETTLE) { /* over already: workload reopened it */
			p->phase = LT_IDLE;
		} else {
			finish(p, LT_ABORTED, now);
			return LT_DO_ABORT;
		}
	}
	switch (p->phase) {
	case LT_PROPOSED:
		if (now >= p->deadline_ns)
			finish(p, LT_UNANSWERED, now);
		break;
	case LT_HOLD:
		if (now < p->deadline_ns)
			break;
		if (p->tester == LT_SELF) {
			p->phase = LT_TESTING;
			/* the probe's own timeout ends it; this only guards a lost callback */
			p->deadline_ns = now + o->timeout_ns + 2 * o->tick_ns + LT_GRACE_NS;
			act |= LT_DO_TEST;
		} else {
			record(p, LT_PEER, false,
			       now); /* no test arrived: the path did not survive */
			act |= LT_DO_REOPEN;
		}
		break;
	case LT_TESTING:
		if (now >= p->deadline_ns)
			record(p, LT_SELF, false, now);
		break;
	case LT_SETTLE:
		if (now >= p->deadline_ns) {
			p->phase = LT_IDLE;
			p->deadline_ns = 0;
		}
		break;
	case LT_IDLE:
		if (!o->enabled || !coordinator || !can_trial ||
		    now - p->workload_ns < o->trial_idle_ns)
			break;
		if (p->last_trial_ns) {
			__u64 every = o->trial_every_ns;

			if (p->converged && every < LT_REVALIDATE_NS)
				every = LT_REVALIDATE_NS;
			if (p->backoff && every < LT_RETRY_NS)
				every = LT_RETRY_NS;
			if (now - p->last_trial_ns < every)
				break;
		}
		if (!lt_next_trial(o, p, &gap, &tester))
			break;
		p->phase = LT_PROPOSED;
		p->id = id;
		p->gap_ns = gap;
		p->tester = tester;
		if (dir_tie(p, p->converged ? gap + 1 : gap))
			p->alternate = !p->alternate;
		p->deadline_ns = now + o->timeout_ns;
		p->last_trial_ns = now;
		p->trials++;
		*out = (struct lt_msg){ .type = LT_MSG_PROPOSE,
					.id = id,
					.gap_ms = (__u32)(gap / 1000000),
					.receiver_tests = tester == LT_PEER };
		act |= LT_DO_PROPOSE;
		break;
	}
	p->converged = search_done(o, p);
	return act;
}

__u64 lt_wake_ns(const struct lt_peer *p)
{
	return p->phase == LT_IDLE ? 0 : p->deadline_ns;
}

int lt_on_msg(const struct lt_opts *o, struct lt_peer *p, const struct lt_msg *msg, __u64 now,
	      bool can_trial, struct lt_msg *out)
{
	const struct lt_msg copy = *msg, *in = &copy; /* out may be msg */

	*out = (struct lt_msg){ .id = in->id, .gap_ms = in->gap_ms };
	switch (in->type) {
	case LT_MSG_PROPOSE:
		if (!o->enabled || !can_trial || p->phase != LT_IDLE || !in->gap_ms ||
		    (__u64)in->gap_ms * 1000000 > LT_MAX_GAP_NS ||
		    now - p->workload_ns < o->trial_idle_ns) {
			/* a proposal crossing ours: the coordinator's wins, ours is dropped */
			if (p->phase == LT_PROPOSED)
				finish(p, LT_REFUSED, now);
			out->type = LT_MSG_REFUSE;
			return 0;
		}
		p->id = in->id;
		p->gap_ns = (__u64)in->gap_ms * 1000000;
		p->tester = in->receiver_tests ? LT_SELF : LT_PEER;
		p->last_trial_ns = now;
		p->trials++;
		hold(o, p, now);
		out->type = LT_MSG_ACCEPT;
		out->receiver_tests = in->receiver_tests;
		return 0;
	case LT_MSG_ACCEPT:
		if (p->phase != LT_PROPOSED || in->id != p->id)
			return -1; /* late or unknown: ignored */
		hold(o, p, now);
		return 0;
	case LT_MSG_REFUSE:
		if (p->phase != LT_PROPOSED || in->id != p->id)
			return -1;
		finish(p, LT_REFUSED, now);
		return 0;
	case LT_MSG_ABORT:
		if (p->phase == LT_IDLE || in->id != p->id)
			return -1;
		finish(p, LT_ABORTED, now);
		return 0;
	}
	return -1;
}

void lt_on_peer_request(struct lt_peer *p, __u64 now)
{
	if (p->phase == LT_SETTLE) { /* the other side reopened the path */
		p->phase = LT_IDLE;
		p->deadline_ns = 0;
		return;
	}
	if (p->phase != LT_HOLD || p->tester != LT_PEER)
		return;
	/* the test, or an early keep-alive of a peer that is not holding (it restarted) */
	if (now >= p->t0_ns + p->gap_ns - p->gap_ns / 4)
		record(p, LT_PEER, true, now);
	else
		finish(p, LT_ABORTED, now);
}

void lt_on_probe_done(struct lt_peer *p, bool answered, __u64 now, bool *was_test)
{
	*was_test = p->phase == LT_TESTING;
	if (*was_test) {
		record(p, LT_SELF, answered, now);
	} else if (!answered && lt_lower_ns(p) && !p->ka_failed_ns) {
		p->ka_failed_ns = now; /* what was learned is in doubt: lt_tick judges */
		p->rx_at_fail = p->rx_mark;
	}
}

void lt_observe_rx(struct lt_peer *p, __u64 rx_packets)
{
	p->rx_now = rx_packets;
}

const char *lt_result_name(enum lt_result r)
{
	static const char *const names[LT_NR_RESULTS] = { "survived", "failed", "aborted",
							  "refused", "unanswered" };

	return r < LT_NR_RESULTS ? names[r] : "unknown";
}
