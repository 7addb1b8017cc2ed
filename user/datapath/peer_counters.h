/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-CPU `peer_counters` map and the fold that keeps the `peers` map's
 * agent-written fields current: packet and byte totals (the per-CPU sums),
 * last_tx_ns / last_rx_ns (the fold at which the counters were seen to move)
 * and the cold arm (cold_armed_ns, set when the counters have not moved for
 * the cold threshold; the datapath's first packet takes it). The agent folds
 * at each tick and scrape, the unit tests around each packet they run.
 */
#ifndef __WARMPATH_PEER_COUNTERS_H
#define __WARMPATH_PEER_COUNTERS_H

#include <stdbool.h>
#include <linux/types.h>
#include "warmpath.h"

/* The `peers` array mapped (the map is BPF_F_MMAPABLE): WP_MAX_PEERS entries, or NULL. */
struct peer_state *wp_peers_mmap(int peers_fd);
void wp_peers_munmap(struct peer_state *mem);

/* Sum the per-CPU counters of ids[0..n-1] into sums[0..n-1]. Returns 0 or -errno. */
int wp_peer_counters_read(int counters_fd, const __u32 *ids, int n, struct peer_counters *sums);
/* Zero one slot's counters on every CPU (a slot given to a new peer). */
int wp_peer_counters_zero(int counters_fd, __u32 id);
/* Copy the totals of sum into a peer_state (status: a read-only view). */
void wp_peer_counters_apply(struct peer_state *ps, const struct peer_counters *sum);

/*
 * Fold one peer's summed counters into its mapped entry at time now: totals,
 * stamps of the directions that moved, and the cold arm. Returns true when it
 * armed the peer: the caller then re-reads the counters and calls
 * wp_peer_fold_recheck(), so that a packet that slipped between the read and
 * the arm does not leave the arm for the next one.
 */
bool wp_peer_fold(struct peer_state *ps, const struct peer_counters *sum, __u64 now,
		  __u64 cold_threshold_ns);
void wp_peer_fold_recheck(struct peer_state *ps, const struct peer_counters *sum);

/*
 * The cold-start tax (issue 16, passive): idle gaps before cold starts, by
 * outcome, node-level. Upper bounds in seconds; [WP_GAP_NR_BOUNDS]: above.
 */
#define WP_GAP_NR_BOUNDS 8
extern const double wp_gap_bounds_s[WP_GAP_NR_BOUNDS];
enum { WP_GAP_CLEAN = 0, WP_GAP_DROPPED = 1 };

struct wp_cold_gaps {
	__u64 counts[2][WP_GAP_NR_BOUNDS + 1];
	__u64 count[2];
	double sum_s[2];
};

/*
 * Judge the peer's last cold start once it has an outcome: clean (answered,
 * no first packet lost), dropped (a first-packet drop, or a non-TCP cold start
 * unanswered for unanswered_ns). Updates the lifetime bounds and cold_judged.
 * Returns WP_GAP_CLEAN / WP_GAP_DROPPED with the gap in *gap_ns, or -1 (none
 * new, or still open).
 */
int wp_peer_judge_cold(struct peer_state *ps, __u64 now, __u64 unanswered_ns, __u64 *gap_ns);
void wp_cold_gaps_add(struct wp_cold_gaps *g, int outcome, __u64 gap_ns);

/*
 * Fold the slots ids[0..n-1] of mem (mapped peers) from counters_fd, with the
 * arm re-check. scratch: n entries (caller's). Returns how many were armed, or
 * -errno when the counters could not be read.
 */
int wp_peers_fold(struct peer_state *mem, int counters_fd, const __u32 *ids, int n,
		  struct peer_counters *scratch, __u64 now, __u64 cold_threshold_ns);
/* Judge the cold starts of ids[0..n-1] (wp_peer_judge_cold) into gaps. */
void wp_peers_judge(struct peer_state *mem, const __u32 *ids, int n, __u64 now, __u64 unanswered_ns,
		    struct wp_cold_gaps *gaps);

#endif /* __WARMPATH_PEER_COUNTERS_H */
