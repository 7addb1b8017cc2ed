// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Lifetime learning (user/agent/lifetime.c) without sockets: two agents' state
 * machines talk through a simulated WireGuard path with a NAT on one side
 * (a conntrack entry of timeout N that any packet through it refreshes; from
 * outside, only an unexpired entry lets a packet in) and WireGuard's passive
 * keepalive (10 s after a data packet received, unless one was sent since).
 * The path's true lifetime for a first packet from outside after an exchange
 * is N below 10 s and N + 10 s above. Checks the learned bounds against it,
 * the time it takes, the steady state's cost and safety, and the protocol's
 * corner cases.
 */
#include <arpa/inet.h>
#include <math.h>
#include <string.h>
#include "lifetime.h"
#include "peer_schema.h"
#include "probe.h"
#include "test_progs.h"

#define NS(s) ((__u64)((s)*1e9))
#define STEP 0.05
#define WG_KEEPALIVE 10.0

struct sim {
	double nat; /* conntrack timeout N */
	int inside; /* the side behind the NAT */
	double now, last_pass;
	bool ka_pending[2];
	double ka_at[2];
	struct lt_opts o;
	struct lt_peer lt[2]; /* [0] the coordinator */
	double last_exchange[2]; /* a probe exchange either side saw */
	int keepalives, keepalive_failures, dropped_outside;
	__u32 id;
};

/* One packet from side `from`: through the NAT or not; WireGuard's timers. */
static bool pkt(struct sim *s, int from, bool data)
{
	int to = !from;

	if (from != s->inside && s->now - s->last_pass >= s->nat) {
		s->dropped_outside++;
		return false;
	}
	s->last_pass = s->now;
	s->ka_pending[from] = false;
	if (data && !s->ka_pending[to]) {
		s->ka_pending[to] = true;
		s->ka_at[to] = s->now + WG_KEEPALIVE;
	}
	return true;
}

/* A probe from side x: request, then reply; the state machines see what arrives. */
static bool probe(struct sim *s, int x, bool keepalive)
{
	bool ok = pkt(s, x, true), test;

	if (ok) {
		lt_on_peer_request(&s->lt[!x], NS(s->now));
		ok = pkt(s, !x, true);
	}
	if (ok)
		s->last_exchange[0] = s->last_exchange[1] = s->now;
	lt_on_probe_done(&s->lt[x], ok, NS(s->now), &test);
	if (keepalive) {
		s->keepalives++;
		s->keepalive_failures += !ok;
	}
	return ok;
}

/* A trial message from side x, and the answer to a proposal. */
static void msg(struct sim *s, int x, const struct lt_msg *m)
{
	struct lt_msg out;

	if (!pkt(s, x, true))
		return;
	lt_on_msg(&s->o, &s->lt[!x], m, NS(s->now), true, &out);
	if (m->type == LT_MSG_PROPOSE && pkt(s, !x, true)) {
		lt_on_msg(&s->o, &s->lt[x], &out, NS(s->now), true, &out);
		s->last_exchange[0] = s->last_exchange[1] = s->now;
	}
}

static void side(struct sim *s, int x, bool tick)
{
	struct lt_peer *p = &s->lt[x];
	__u64 due = lt_wake_ns(p);
	struct lt_msg m;
	__u32 src;
	double iv;
	int act;

	if (!tick && (!due || NS(s->now) < due))
		return;
	act = lt_tick(&s->o, p, NS(s->now), 0, 0, 0, x == 0, true, ++s->id, &m);
	if (act & LT_DO_PROPOSE)
		msg(s, x, &m);
	if (act & (LT_DO_TEST | LT_DO_REOPEN))
		probe(s, x, false);
	iv = lt_interval_ns(&s->o, p, false, &src) / 1e9;
	/* keep-alives: the coordinator at its interval, the other side 3 s later */
	if (tick && !lt_holding(p) && s->now - s->last_exchange[x] >= iv + (x ? 3 : 0))
		probe(s, x, true);
}

static void run(struct sim *s, double until)
{
	for (; s->now < until; s->now += STEP) {
		bool tick = fmod(s->now + 1e-9, 1.0) < STEP - 1e-9;

		for (int x = 0; x < 2; x++)
			if (s->ka_pending[x] && s->now >= s->ka_at[x]) {
				s->ka_pending[x] = false;
				pkt(s, x, false);
			}
		side(s, 0, tick);
		side(s, 1, tick);
	}
}

static void sim_init(struct sim *s, double nat, int inside, double min, double max)
{
	memset(s, 0, sizeof(*s));
	s->nat = nat;
	s->inside = inside;
	s->o = (struct lt_opts){ .enabled = true,
				 .min_ns = NS(min),
				 .max_ns = NS(max),
				 .fixed_ns = NS(min),
				 .trial_idle_ns = 0,
				 .trial_every_ns = 0,
				 .timeout_ns = NS(1),
				 .tick_ns = NS(1) };
	s->now = 1;
}

static double converged_at(struct sim *s, double limit)
{
	while (s->now < limit) {
		run(s, s->now + 1);
		if (s->lt[0].converged && s->lt[1].converged)
			return s->now;
	}
	return -1;
}

void test_lifetime_learn(void)
{
	static const struct {
		const char *name;
		double nat, truth;
		int inside;
		double limit; /* learned within (s) */
	} cases[] = {
		{ "nat6_coordinator_inside", 6, 6, 0, 300 },
		{ "nat6_coordinator_outside", 6, 6, 1, 300 },
		{ "nat20_coordinator_inside", 20, 30, 0, 300 },
		{ "nat20_coordinator_outside", 20, 30, 1, 300 },
		/* longer trials: longer learning */
		{ "nat45_coordinator_outside", 45, 55, 1, 900 },
	};
	static struct sim s;
	char name[128];

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double t, lower0, lower1, upper, iv, kps;
		__u32 src;
		int ka0;

		if (!test__start_subtest(cases[c].name))
			continue;
		sim_init(&s, cases[c].nat, cases[c].inside, 4, 60);
		t = converged_at(&s, cases[c].limit + 1);
		lower0 = lt_lower_ns(&s.lt[0]) / 1e9;
		lower1 = lt_lower_ns(&s.lt[1]) / 1e9;
		upper = lt_upper_ns(&s.lt[0]) / 1e9;
		test__printf("N=%gs truth %gs: learned %.2f-%.2fs (other side %.2fs) in %.0fs, "
			     "%llu trials\n",
			     cases[c].nat, cases[c].truth, lower0, upper, lower1, t,
			     (unsigned long long)s.lt[0].trials);
		snprintf(name, sizeof(name), "converged within %g s", cases[c].limit);
		ASSERT_GT(t, 0, name);
		ASSERT_LE(lower0, cases[c].truth, "lower bound never above the truth");
		ASSERT_GE(lower0, 0.7 * cases[c].truth, "lower bound within 30% below the truth");
		ASSERT_EQ(lt_lower_ns(&s.lt[1]), lt_lower_ns(&s.lt[0]), "both sides learned alike");
		iv = lt_interval_ns(&s.o, &s.lt[0], false, &src) / 1e9;
		ASSERT_EQ(src, WP_IVS_TRIAL, "interval source trial");
		snprintf(name, sizeof(name), "interval %.2fs = 0.7 x lower within MIN-MAX", iv);
		ASSERT_TRUE(fabs(iv - fmax(4, 0.7 * lower0)) < 0.01, name);
		/* steady state: no keep-alive fails, cost vs the fixed MIN interval */
		ka0 = s.keepalives;
		s.keepalive_failures = 0;
		run(&s, s.now + 300);
		kps = (s.keepalives - ka0) / 5.0;
		test__printf("steady state: %.1f keep-alives a minute (fixed 4 s: 15)\n", kps);
		ASSERT_EQ(s.keepalive_failures, 0, "no keep-alive failed after learning");
		ASSERT_LE(kps, 60.0 / (0.7 * lower0) + 1.5, "about one exchange per interval");
	}
}

void test_lifetime_protocol(void)
{
	struct lt_opts o = { .enabled = true,
			     .min_ns = NS(4),
			     .max_ns = NS(60),
			     .trial_idle_ns = NS(300),
			     .trial_every_ns = NS(3600),
			     .timeout_ns = NS(1),
			     .tick_ns = NS(1) };
	struct lt_peer p = {}, q = {};
	struct lt_msg m = {}, out;
	__u64 gap;
	enum lt_dir d;
	int act;

	if (test__start_subtest("trial_waits_for_workload_idle")) {
		ASSERT_EQ(lt_tick(&o, &p, NS(10), 5, 0, 0, true, true, 1, &m), 0, "first look");
		ASSERT_EQ(lt_tick(&o, &p, NS(200), 5, 0, 0, true, true, 1, &m), 0, "idle 190 s");
		ASSERT_EQ(lt_tick(&o, &p, NS(250), 6, 0, 0, true, true, 1, &m), 0, "workload");
		ASSERT_EQ(lt_tick(&o, &p, NS(549), 6, 0, 0, true, true, 1, &m), 0, "idle 299 s");
		act = lt_tick(&o, &p, NS(551), 6, 0, 0, true, true, 7, &m);
		ASSERT_EQ(act, LT_DO_PROPOSE, "idle 301 s: proposes");
		ASSERT_EQ(m.gap_ms, 8000, "first gap 2 x MIN");
		ASSERT_EQ(m.id, 7, "id");
		ASSERT_EQ(lt_tick(&o, &p, NS(553), 6, 0, 0, true, true, 8, &m), 0, "unanswered");
		ASSERT_EQ(p.results[LT_UNANSWERED], 1, "counted unanswered");
		ASSERT_FALSE(lt_watching(&p, NS(554)), "a proposal held nothing: SYNs by sample");
		ASSERT_EQ(lt_tick(&o, &p, NS(600), 6, 0, 0, true, true, 9, &m), 0,
			  "at most one trial per --lifetime-trial-every");
	}
	if (test__start_subtest("only_the_coordinator_proposes")) {
		memset(&q, 0, sizeof(q));
		lt_tick(&o, &q, NS(1), 0, 0, 0, false, true, 1, &m);
		ASSERT_EQ(lt_tick(&o, &q, NS(5000), 0, 0, 0, false, true, 1, &m), 0,
			  "not coordinator");
		ASSERT_EQ(lt_tick(&o, &q, NS(5001), 0, 0, 0, true, false, 1, &m), 0,
			  "cannot trial (wireguard-held, probe in flight)");
	}
	if (test__start_subtest("refusals")) {
		struct lt_opts off = o;

		memset(&q, 0, sizeof(q));
		m = (struct lt_msg){ .type = LT_MSG_PROPOSE, .id = 3, .gap_ms = 8000 };
		off.enabled = false;
		lt_on_msg(&off, &q, &m, NS(1000), true, &out);
		ASSERT_EQ(out.type, LT_MSG_REFUSE, "not in auto mode: refused");
		lt_on_msg(&o, &q, &m, NS(1000), false, &out);
		ASSERT_EQ(out.type, LT_MSG_REFUSE, "cannot trial: refused");
		lt_tick(&o, &q, NS(900), 1, 0, 0, false, true, 1, &m);
		m = (struct lt_msg){ .type = LT_MSG_PROPOSE, .id = 3, .gap_ms = 8000 };
		lt_on_msg(&o, &q, &m, NS(1000), true, &out);
		ASSERT_EQ(out.type, LT_MSG_REFUSE, "workload 100 s ago: refused");
		lt_on_msg(&o, &q, &m, NS(1300), true, &out);
		ASSERT_EQ(out.type, LT_MSG_ACCEPT, "idle 400 s: accepted");
		ASSERT_TRUE(lt_holding(&q), "holding");
		lt_on_msg(&o, &q, &m, NS(1301), true, &out);
		ASSERT_EQ(out.type, LT_MSG_REFUSE, "a second proposal during a trial: refused");
	}
	if (test__start_subtest("workload_aborts_a_hold")) {
		memset(&q, 0, sizeof(q));
		lt_tick(&o, &q, NS(1), 10, 0, 0, false, true, 1, &m);
		m = (struct lt_msg){ .type = LT_MSG_PROPOSE, .id = 4, .gap_ms = 8000 };
		lt_on_msg(&o, &q, &m, NS(400), true, &out);
		ASSERT_TRUE(lt_holding(&q), "holding");
		ASSERT_TRUE(lt_watching(&q, NS(401)), "holding: every SYN watched");
		act = lt_tick(&o, &q, NS(402), 10, 1, 0, false, true, 1, &m);
		ASSERT_EQ(act, 0, "a first-packet drop during the hold");
		ASSERT_EQ(q.workload_hits, 1, "counted as a workload hit");
		act = lt_tick(&o, &q, NS(403), 11, 1, 0, false, true, 1, &m);
		ASSERT_EQ(act, LT_DO_ABORT, "workload: abort");
		ASSERT_FALSE(lt_holding(&q), "no longer holding");
		ASSERT_EQ(q.results[LT_ABORTED], 1, "counted aborted");
		ASSERT_EQ(lt_lower_ns(&q) + lt_upper_ns(&q), 0, "nothing learned");
		lt_tick(&o, &q, NS(404), 11, 2, NS(9), false, true, 1, &m);
		ASSERT_EQ(q.workload_hits, 2, "its retransmission 1 s after the abort: a hit too");
		lt_tick(&o, &q, NS(410), 11, 3, NS(9), false, true, 1, &m);
		ASSERT_EQ(q.workload_hits, 3, "the third, 7 s after: a hit");
		ASSERT_TRUE(lt_watching(&q, NS(413)), "10 s after the abort: still watched");
		ASSERT_FALSE(lt_watching(&q, NS(414)), "then back to the sample");
		lt_tick(&o, &q, NS(420), 11, 4, NS(9), false, true, 1, &m);
		ASSERT_EQ(q.workload_hits, 3, "a retransmission long after: not the trial's");
	}
	if (test__start_subtest("test_missing_means_failed_and_reopen")) {
		memset(&q, 0, sizeof(q));
		lt_tick(&o, &q, NS(1), 0, 0, 0, false, true, 1, &m);
		m = (struct lt_msg){ .type = LT_MSG_PROPOSE, .id = 5, .gap_ms = 8000 };
		lt_on_msg(&o, &q, &m, NS(400), true, &out);
		ASSERT_EQ(lt_wake_ns(&q), NS(400) + NS(8) + NS(1) + LT_GRACE_NS,
			  "wake: T+timeout+grace");
		act = lt_tick(&o, &q, lt_wake_ns(&q), 0, 0, 0, false, true, 1, &m);
		ASSERT_EQ(act, LT_DO_REOPEN, "no test arrived: reopen from our side");
		ASSERT_EQ(q.hi_ns[LT_PEER], NS(8), "failed from the peer's side at 8 s");
		ASSERT_EQ(q.results[LT_FAILED], 1, "counted failed");
	}
	if (test__start_subtest("early_request_is_not_the_test")) {
		memset(&q, 0, sizeof(q));
		lt_tick(&o, &q, NS(1), 0, 0, 0, false, true, 1, &m);
		m = (struct lt_msg){ .type = LT_MSG_PROPOSE, .id = 6, .gap_ms = 8000 };
		lt_on_msg(&o, &q, &m, NS(400), true, &out);
		lt_on_peer_request(&q, NS(401));
		ASSERT_EQ(q.results[LT_ABORTED], 1, "a keep-alive 1 s in: the peer is not holding");
		ASSERT_EQ(q.lo_ns[LT_PEER], 0, "nothing learned");
	}
	if (test__start_subtest("contrary_evidence_drops_what_was_learned")) {
		memset(&q, 0, sizeof(q));
		q.lo_ns[LT_SELF] = q.lo_ns[LT_PEER] = NS(20);
		lt_tick(&o, &q, NS(1), 0, 0, 0, false, true, 1, &m);
		lt_tick(&o, &q, NS(100), 0, 1, NS(15), false, true, 1, &m);
		ASSERT_EQ(lt_lower_ns(&q), 0, "a first packet lost after 15 s: lower dropped");
		ASSERT_EQ(lt_upper_ns(&q), NS(15), "upper 15 s");
		q.passive_upper_ns = NS(15);
		__u32 src;
		ASSERT_EQ(lt_interval_ns(&o, &q, false, &src), o.min_ns, "back at MIN");
		ASSERT_EQ(src, WP_IVS_PASSIVE, "source passive");
		q.lo_ns[LT_SELF] = q.lo_ns[LT_PEER] = NS(12);
		lt_observe_rx(&q, 50);
		lt_tick(&o, &q, NS(199), 0, 1, 0, false, true, 1, &m);
		lt_on_probe_done(&q, false, NS(200), &(bool){ false });
		lt_observe_rx(&q, 51);
		lt_tick(&o, &q, NS(201), 0, 1, 0, false, true, 1, &m);
		ASSERT_EQ(lt_lower_ns(&q), NS(12),
			  "a failed keep-alive, but a packet came back (agent down): kept");
		lt_on_probe_done(&q, false, NS(210), &(bool){ false });
		lt_tick(&o, &q, NS(210.5), 0, 1, 0, false, true, 1, &m);
		ASSERT_EQ(lt_lower_ns(&q), NS(12), "judged only a tick later");
		lt_tick(&o, &q, NS(211), 0, 1, 0, false, true, 1, &m);
		ASSERT_EQ(lt_lower_ns(&q), 0, "a failed keep-alive, nothing back: lower dropped");
	}
	if (test__start_subtest("search_steps")) {
		memset(&q, 0, sizeof(q));
		ASSERT_TRUE(lt_next_trial(&o, &q, &gap, &d), "nothing known: a trial");
		ASSERT_EQ(gap, NS(8), "2 x MIN");
		q.lo_ns[LT_SELF] = q.lo_ns[LT_PEER] = NS(8);
		lt_next_trial(&o, &q, &gap, &d);
		ASSERT_EQ(gap, LT_WG_STEP_NS, "not past 9.5 s before 9.5 s survived");
		q.lo_ns[LT_SELF] = q.lo_ns[LT_PEER] = LT_WG_STEP_NS;
		lt_next_trial(&o, &q, &gap, &d);
		ASSERT_EQ(gap, NS(19), "then x2");
		q.lo_ns[LT_PEER] = NS(19);
		lt_next_trial(&o, &q, &gap, &d);
		ASSERT_EQ(d, LT_SELF, "the direction that has not survived 19 s");
		q.lo_ns[LT_SELF] = NS(38);
		q.lo_ns[LT_PEER] = NS(19);
		q.hi_ns[LT_PEER] = NS(38);
		lt_next_trial(&o, &q, &gap, &d);
		ASSERT_EQ(gap, NS(28.5), "bisects 19-38");
		ASSERT_EQ(d, LT_PEER, "from the side that failed");
		q.lo_ns[LT_PEER] = NS(31);
		ASSERT_TRUE(lt_next_trial(&o, &q, &gap, &d), "converged: re-validation");
		ASSERT_EQ(gap, NS(31), "at the learned lower bound");
		ASSERT_EQ(d, LT_PEER, "from the side that can fail");
		q.lo_ns[LT_SELF] = q.lo_ns[LT_PEER] = NS(60);
		q.hi_ns[LT_PEER] = 0;
		lt_next_trial(&o, &q, &gap, &d);
		ASSERT_EQ(gap, NS(60), "at MAX: only re-validation");
	}
	if (test__start_subtest("wire_body")) {
		struct wp_trial_body b = { .kind = WP_TRIAL_ACCEPT, .gap_ms = htonl(9500) };

		ASSERT_TRUE(probe_trial_valid(&b), "valid");
		b.kind = 9;
		ASSERT_FALSE(probe_trial_valid(&b), "unknown kind");
		b.kind = WP_TRIAL_ABORT;
		b.zero[3] = 1;
		ASSERT_FALSE(probe_trial_valid(&b), "reserved bytes set");
		b.zero[3] = 0;
		b.gap_ms = 0;
		ASSERT_FALSE(probe_trial_valid(&b), "zero gap");
		b.gap_ms = htonl(3600 * 1000 + 1);
		ASSERT_FALSE(probe_trial_valid(&b), "gap over an hour");
		b.gap_ms = htonl(1000);
		b.flags = 0x80;
		ASSERT_FALSE(probe_trial_valid(&b), "unknown flag");
	}
}
