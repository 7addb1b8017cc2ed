// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Lifetime learning in the agent: feeds each peer's state machine
 * (lifetime.h) from the map snapshot at every tick, sends the trial messages
 * and test probes it asks for, wakes the loop for the trials' deadlines, and
 * writes what was learned to the peer's slot of the pinned `peers` map, so
 * /peers and `warmpath status` show it (after the agent is gone too).
 */
#include <stdlib.h>
#include <string.h>
#include "agent_int.h"
#include "lifetime.h"
#include "log.h"
#include "peer_schema.h"
#include "wg_sync.h"

#define NS(s) ((__u64)((s)*1e9))

void lifetime_opts_init(struct lt_opts *o, const struct wp_config *cfg, __u64 tick_ns)
{
	*o = (struct lt_opts){
		.enabled = cfg->keepalive_auto,
		.min_ns = NS(cfg->keepalive_auto ? cfg->auto_min : cfg->keepalive_interval),
		.max_ns = NS(cfg->keepalive_auto ? cfg->auto_max : cfg->keepalive_interval),
		.fixed_ns = NS(cfg->keepalive_interval),
		.trial_idle_ns = NS(cfg->trial_idle),
		.trial_every_ns = NS(cfg->trial_every),
		.timeout_ns = (__u64)cfg->probe_timeout_ms * 1000000ull,
		.tick_ns = tick_ns,
	};
}

/*
 * What the peer's slot of the pinned map shows; e->bpf too, for /peers before
 * the next read. syn_watch follows a hold from the next step on (a tick at
 * most): the path stays open that long after the last keep-alive, whose
 * interval is below the lifetime learned so far.
 */
static void publish(struct peer_table *t, struct peer_entry *e, __u64 now)
{
	const struct lt_peer *lp = &e->lt;
	__u64 lower = lt_lower_ns(lp) ? lt_lower_ns(lp) : e->bpf.lifetime_lower_ns;
	__u64 upper = lt_min_nz(lt_upper_ns(lp), e->bpf.lifetime_upper_ns);
	struct peer_state *dst[2] = { &e->bpf, NULL };

	/* a lower bound above the upper one: evidence from before a change; the trials' wins */
	if (upper && lower >= upper)
		lower = lt_lower_ns(lp) < upper ? lt_lower_ns(lp) : 0;
	/* the agent's own fields: BPF never writes them */
	if (t->peers_mem && e->map_id < WP_MAX_PEERS)
		dst[1] = &t->peers_mem[e->map_id];
	for (int i = 0; i < 2 && dst[i]; i++) {
		dst[i]->learned_lower_ns = lower;
		dst[i]->learned_upper_ns = upper;
		dst[i]->keepalive_interval_ns = e->interval_ns;
		dst[i]->interval_source = e->interval_src;
		dst[i]->lifetime_trials = lp->trials;
		dst[i]->lifetime_converged = lp->converged;
		dst[i]->syn_watch = lt_watching(lp, now);
	}
}

__u64 lifetime_step(struct agent *a, int i, __u64 now, bool *holding)
{
	struct peer_entry *e = &a->peers.e[i];
	const struct peer_state *s = &e->bpf;
	bool wg_held = a->wg_held_any && wg_sync_keepalive_holds(e->name);
	/* the agent whose node name sorts first proposes (as it probes first: keepalive.h) */
	bool coordinator = strcmp(a->cfg->node_name, e->name) < 0;
	__u64 workload =
		(s->tx_packets - s->tx_probe_packets) + (s->rx_packets - s->rx_probe_packets);
	enum lt_phase was = e->lt.phase;
	__u64 resets = e->lt.resets;
	struct lt_msg msg = {};
	__u64 wake;
	int act;

	/* first look at the peer: what the previous agent learned, from the pinned map */
	if (!e->lt.workload_ns && a->lt.enabled && s->interval_source == WP_IVS_TRIAL &&
	    s->learned_lower_ns) {
		lt_restore(&a->lt, &e->lt, s->learned_lower_ns, s->learned_upper_ns,
			   s->lifetime_trials, now);
		log_info("lifetime %s: %.2fs learned before the restart, kept", e->name,
			 s->learned_lower_ns / 1e9);
	}
	e->lt_ok = a->lt.enabled && !wg_held;
	e->lt.passive_upper_ns = s->lifetime_upper_ns;
	lt_observe_rx(&e->lt, s->rx_packets);
	e->lt.rtt_ns = e->probes_answered ? e->last_rtt_ns : 0;
	act = lt_tick(&a->lt, &e->lt, now, workload, s->first_packet_drops + s->syn_retransmits,
		      s->cold_gap_ns & ~1ull, coordinator, e->lt_ok && !e->ka.inflight,
		      (__u32)rand(), &msg);
	if (e->lt.resets != resets)
		log_info(
			"lifetime %s: what was learned is dropped (a keep-alive failed with nothing "
			"back, or a first packet was lost after a gap it covered); interval back to "
			"%.1fs",
			e->name, a->lt.min_ns / 1e9);
	if (act & LT_DO_PROPOSE)
		prober_send_trial(&a->prober, i, &msg);
	if (act & LT_DO_ABORT) {
		msg = (struct lt_msg){ .type = LT_MSG_ABORT,
				       .id = e->lt.id,
				       .gap_ms = (__u32)(e->lt.gap_ns / 1000000) };
		prober_send_trial(&a->prober, i, &msg);
	}
	e->interval_ns = lt_interval_ns(&a->lt, &e->lt, wg_held, &e->interval_src);
	if ((act & (LT_DO_TEST | LT_DO_REOPEN)) && !e->ka.inflight) {
		prober_send(&a->prober, i, now); /* queued: the caller flushes */
		e->ka.next_due_ns = now + e->interval_ns;
	}
	if (was != e->lt.phase && e->lt.phase == LT_IDLE)
		log_debug("lifetime %s: bounds %.2f-%.2fs, interval %.2fs (%s)", e->name,
			  lt_lower_ns(&e->lt) / 1e9, lt_upper_ns(&e->lt) / 1e9,
			  e->interval_ns / 1e9, wp_interval_source_name(e->interval_src));
	publish(&a->peers, e, now);
	wake = lt_wake_ns(&e->lt);
	if (wake && (!a->lt_wake_ns || wake < a->lt_wake_ns))
		a->lt_wake_ns = wake;
	*holding = lt_holding(&e->lt);
	return e->interval_ns;
}

void lifetime_timers(struct agent *a, __u64 now)
{
	bool holding;

	a->lt_wake_ns = lt_min_nz(a->lt_wake_ns, a->prober.trial_wake_ns);
	a->prober.trial_wake_ns = 0;
	if (!a->lt_wake_ns || now < a->lt_wake_ns)
		return;
	a->lt_wake_ns = 0;
	a->wg_held_any = wg_sync_keepalive_any();
	for (int i = 0; i < a->peers.n; i++) {
		__u64 wake = lt_wake_ns(&a->peers.e[i].lt);

		if (!wake)
			continue;
		if (wake <= now)
			lifetime_step(a, i, now, &holding);
		else if (!a->lt_wake_ns || wake < a->lt_wake_ns)
			a->lt_wake_ns = wake;
	}
	prober_flush(&a->prober);
}
