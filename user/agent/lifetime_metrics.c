// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Node-level metrics of lifetime learning (--keepalive-interval auto). */
#include <string.h>
#include "lifetime.h"
#include "peer_schema.h"
#include "peer_table.h"

void lt_node_collect(const struct peer_table *t, struct lt_node *n)
{
	memset(n, 0, sizeof(*n));
	n->enabled = true;
	for (int i = 0; i < t->n; i++) {
		const struct peer_entry *e = &t->e[i];
		double lower = lt_lower_ns(&e->lt) / 1e9;
		int b;

		for (int r = 0; r < LT_NR_RESULTS; r++)
			n->results[r] += e->lt.results[r];
		n->workload_hits += e->lt.workload_hits;
		n->resets += e->lt.resets;
		n->sources[e->interval_src < 4 ? e->interval_src : WP_IVS_DEFAULT]++;
		if (!lower)
			continue;
		for (b = 0; b < WP_GAP_NR_BOUNDS && lower > wp_gap_bounds_s[b]; b++)
			;
		n->learned[b]++;
		n->nlearned++;
		n->learned_sum += lower;
	}
}

void lt_node_emit(const struct lt_node *n, struct prom_buf *b)
{
	const char *trials = "warmpath_lifetime_trials_total",
		   *learned = "warmpath_lifetime_learned_seconds",
		   *peers = "warmpath_lifetime_peers";

	if (!n->enabled) /* a fixed interval: nothing to learn, no series */
		return;

	prom_family(b, trials, PROM_COUNTER,
		    "Lifetime trials (--keepalive-interval auto) by result: survived, failed, "
		    "aborted (workload crossed), refused or unanswered by the peer");
	for (int r = 0; r < LT_NR_RESULTS; r++) {
		const char *l[] = { "result", lt_result_name(r), NULL };

		prom_sample_u64(b, trials, l, n->results[r]);
	}
	prom_metric_u64(
		b, "warmpath_lifetime_trial_workload_hits_total", PROM_COUNTER,
		"Workload SYNs lost while a trial held a pair's keep-alives (or just after)",
		n->workload_hits);
	prom_metric_u64(
		b, "warmpath_lifetime_resets_total", PROM_COUNTER,
		"Learned lifetimes dropped on contrary evidence (a failed keep-alive, a first "
		"packet lost after a gap the path should have survived)",
		n->resets);
	prom_family(b, peers, PROM_GAUGE,
		    "Peers by where their keep-alive interval comes from: default, passive, trial, "
		    "wireguard");
	for (__u64 s = 0; s < 4; s++) {
		const char *l[] = { "source", wp_interval_source_name(s), NULL };

		prom_sample_u64(b, peers, l, n->sources[s]);
	}
	prom_family(b, learned, PROM_HISTOGRAM,
		    "Learned path lifetimes (lower bounds that survived trials both ways), one "
		    "observation per peer now: a snapshot, read it without rate()");
	wp_gap_hist_emit(b, learned, NULL, NULL, n->learned, n->nlearned, n->learned_sum);
}
