// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The worst peers: which K peers --peer-metrics worst names. Each view (a
 * scrape) folds the counter increases since the previous view into a score
 * that halves every PEER_RANK_HALF_LIFE_S, so the score says "how bad lately"
 * whatever the scrape interval or the number of scrapers. The set changes
 * slowly on purpose (hysteresis): a peer does not flap in and out of the
 * exported series from one scrape to the next under a steady fault.
 */
#include <math.h>
#include <string.h>
#include "peer_table.h"

#define W_FPD 4.0 /* a first-packet drop: a connection lost its first packet */
#define W_FAILED 2.0 /* a keep-alive probe unanswered */
#define W_COLD 1.0 /* a cold start: the path had gone idle */

/* The increase of a counter since it was last seen (a smaller value: it was reset). */
static __u64 delta(__u64 now, __u64 seen)
{
	return now >= seen ? now - seen : now;
}

static void rank_update_one(struct peer_entry *e, __u64 now)
{
	struct peer_rank *r = &e->rank;
	const struct peer_state *s = &e->bpf;
	__u64 failed = delta(e->probes_failed, r->seen_failed);
	__u64 answered = delta(e->probes_answered, r->seen_answered);
	__u64 fpd = delta(s->first_packet_drops, r->seen_fpd);
	__u64 cold = delta(s->cold_starts, r->seen_cold);
	__u64 tx_probe = delta(s->tx_probe_packets, r->seen_tx_probe);
	__u64 bypassed = delta(e->probes_bypassed, r->seen_bypassed);
	bool first = !r->updated_ns;

	r->seen_failed = e->probes_failed;
	r->seen_answered = e->probes_answered;
	r->seen_fpd = s->first_packet_drops;
	r->seen_cold = s->cold_starts;
	r->seen_tx_probe = s->tx_probe_packets;
	r->seen_bypassed = e->probes_bypassed;
	if (first) {
		/* the history before the first view is not "lately" */
		r->updated_ns = now;
		return;
	}
	if (now > r->updated_ns)
		r->score *= exp2(-((now - r->updated_ns) / 1e9) / PEER_RANK_HALF_LIFE_S);
	r->updated_ns = now;
	r->score += W_FPD * fpd + W_FAILED * failed + W_COLD * cold;
	if (r->score < 1e-3)
		r->score = 0;
	if (fpd)
		r->fpd_seen_ns = now;
	/* the probes' outcome since the last view; nothing resolved: unchanged */
	if (answered)
		r->failing = false;
	else if (failed)
		r->failing = true;
	/* the prober's check: a probe the datapath never saw leave bypassed the tunnel */
	if (bypassed)
		r->bypassing = true;
	else if (tx_probe)
		r->bypassing = false;
}

void peer_rank_update(struct peer_table *t, __u64 now)
{
	for (int i = 0; i < t->n; i++)
		rank_update_one(&t->e[i], now);
}

static double score_of(const struct peer_table *t, int i)
{
	return t->e[i].rank.score;
}

/* Insert i into top[] (n entries, best first, at most k), keeping the k best. */
static int top_insert(const struct peer_table *t, int *top, int n, int k, int i)
{
	int pos = n < k ? n : k - 1;

	if (n == k && score_of(t, top[k - 1]) >= score_of(t, i))
		return n;
	while (pos > 0 && score_of(t, top[pos - 1]) < score_of(t, i)) {
		top[pos] = top[pos - 1];
		pos--;
	}
	top[pos] = i;
	return n < k ? n + 1 : n;
}

int peer_rank_select(struct peer_table *t, int k, __u64 now, int *out)
{
	int members[k > 0 ? k : 1], challengers[k > 0 ? k : 1];
	int nm = 0, nc = 0, n;
	__u64 hold = (__u64)(PEER_RANK_HOLD_S * 1e9);

	if (k <= 0)
		return 0;
	/* members that stay, and the k best of the others */
	for (int i = 0; i < t->n; i++) {
		struct peer_rank *r = &t->e[i].rank;

		if (r->worst_since_ns && r->score >= PEER_RANK_MIN && nm < k) {
			members[nm++] = i;
			continue;
		}
		r->worst_since_ns = 0;
		if (r->score >= PEER_RANK_MIN)
			nc = top_insert(t, challengers, nc, k, i);
	}
	/* free places go to the best challengers */
	for (int c = 0; c < nc && nm < k; c++) {
		t->e[challengers[c]].rank.worst_since_ns = now ? now : 1;
		members[nm++] = challengers[c];
		challengers[c] = -1;
	}
	/* a full set: a challenger far worse than the mildest settled member replaces it */
	for (int c = 0; c < nc; c++) {
		int weakest = -1;

		if (challengers[c] < 0)
			continue;
		for (int m = 0; m < nm; m++) {
			const struct peer_rank *r = &t->e[members[m]].rank;

			if (now - r->worst_since_ns < hold && r->worst_since_ns <= now)
				continue; /* too new to leave */
			if (weakest < 0 || r->score < t->e[members[weakest]].rank.score)
				weakest = m;
		}
		if (weakest < 0 ||
		    score_of(t, challengers[c]) <= PEER_RANK_SWAP * score_of(t, members[weakest]))
			break; /* challengers are best first: the rest cannot do better */
		t->e[members[weakest]].rank.worst_since_ns = 0;
		t->e[challengers[c]].rank.worst_since_ns = now ? now : 1;
		members[weakest] = challengers[c];
	}
	/* worst first (ties: table order) */
	n = 0;
	for (int m = 0; m < nm; m++)
		n = top_insert(t, out, n, k, members[m]);
	return n;
}
