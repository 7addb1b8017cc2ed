/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's peer table: one entry per configured peer (identity, keep-alive
 * schedule, probe counters and RTT histogram, the last read of its slot in the
 * pinned `peers` map), and the map slot -> entry index. The prober's sockets
 * and in-flight state live in the prober (probe/prober.h), indexed alike.
 */
#ifndef __WARMPATH_PEER_TABLE_H
#define __WARMPATH_PEER_TABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <linux/types.h>
#include "keepalive.h"
#include "lifetime.h"
#include "peers.h"
#include "probe.h"
#include "prom.h"
#include "peer_counters.h"
#include "warmpath.h"

/*
 * What the metrics remember of a peer between two views (peer_rank.c): the
 * decayed "how bad lately" score that ranks the worst peers, the counters it
 * was last computed from, and the peer's place in the worst set.
 */
struct peer_rank {
	double score; /* 4 per first-packet drop + 2 per failed probe + 1 per cold start, halved every PEER_RANK_HALF_LIFE_S */
	__u64 updated_ns; /* 0: never seen (the next view only records the counters) */
	__u64 seen_failed, seen_answered, seen_fpd, seen_cold, seen_tx_probe, seen_bypassed;
	__u64 fpd_seen_ns; /* when a first-packet drop was last seen; 0: never */
	__u64 worst_since_ns; /* in the worst set since; 0: not in it */
	bool failing; /* the probes seen last went unanswered */
	bool bypassing; /* its last probes crossed no watched device (probes_bypassed) */
};

struct peer_entry {
	char name[WP_PEER_NAME_LEN];
	char addr_str[64]; /* probe address as given */
	struct sockaddr_storage addr; /* probe target, port unset */
	__u32 map_id; /* slot in the peers map */
	struct ka_state ka;
	/* counters exported as metrics */
	__u64 probes_sent;
	__u64 probes_failed;
	__u64 probes_answered;
	__u64 suppressed;
	__u64 last_rtt_ns;
	struct prom_hist rtt;
	__u64 cold_reported_ns; /* cold_since_ns already counted as unanswered */
	__u64 cold_unanswered;
	struct peer_state bpf; /* last read of its map slot */
	/* the responder, per source: its own token bucket and replay window */
	double resp_tokens;
	__u64 resp_refill_ns;
	struct wp_replay replay;
	/* probes that crossed no watched device (the peer's probe counters did not move) */
	__u64 probes_bypassed;
	__u64 probe_tx_mark; /* bpf.tx_probe_packets when the probe went */
	bool probe_check; /* a probe went: compare at the next read of the map */
	bool bypass_logged;
	struct peer_rank rank; /* metrics only (peer_rank.c) */
	/* lifetime learning (lifetime.h): its state, and whether it may trial now */
	struct lt_peer lt;
	bool lt_ok;
	__u64 interval_ns; /* the keep-alive interval in use */
	__u32 interval_src; /* and where it comes from (WP_SRC_*) */
};

struct peer_table {
	struct peer_entry *e;
	int n;
	int *id_to_idx; /* map slot -> entry index, -1 when none */
	struct peer_state *bpf_buf; /* batch read buffer, WP_MAX_PEERS slots */
	int peers_fd; /* the `peers` map */
	int hists_fd; /* the `peer_hists` map */
	struct peer_hists *hists_buf; /* its batch read buffer (metrics), allocated at first use */
	__u32 *hists_keys;
	/* the fold of the per-CPU counters (peer_table_attach_counters; -1 / NULL: none) */
	int counters_fd;
	struct peer_state *peers_mem; /* `peers` mapped */
	__u64 cold_threshold_ns;
	__u32 *fold_ids;
	struct peer_counters *fold_buf;
	__u64 unanswered_ns; /* a non-TCP cold start unanswered this long lost its packet */
	struct wp_cold_gaps cold_gaps; /* node-level idle gaps of cold starts, by outcome */
};

int peer_table_init(struct peer_table *t, int peers_fd, int hists_fd);
void peer_table_free(struct peer_table *t);
/*
 * Fold the per-CPU `peer_counters` into the `peers` map at every
 * peer_table_read_states(): totals, last_tx_ns / last_rx_ns, the cold arm.
 * Returns 0 or -errno (the map cannot be mapped: nothing is folded).
 */
int peer_table_attach_counters(struct peer_table *t, int counters_fd, __u64 cold_threshold_ns,
			       __u64 unanswered_ns);
/*
 * Entries for `set`, carrying counters, histogram and keep-alive schedule over
 * from the old entry of the same name. old_of (set->n ints, caller's) receives
 * the old index of each new entry, -1 for a new peer. Returns 0 or -ENOMEM
 * (the table unchanged).
 */
int peer_table_rebuild(struct peer_table *t, const struct wp_peer_set *set, int *old_of);
/* The entry index of a map slot, or -1. */
int peer_table_index_of_id(const struct peer_table *t, __u32 map_id);
/*
 * Fold the per-CPU counters (when attached), then read every entry's map slot
 * into e[].bpf (one batch syscall when the kernel has it).
 */
void peer_table_read_states(struct peer_table *t);

/*
 * After a read of the map: true (and counted) when the last probe, now done,
 * crossed no watched device (the peer's tx_packets did not move since it went).
 */
bool peer_entry_check_bypass(struct peer_entry *e);
/* Counts a bypassed probe of e in its slot of the pinned peers map. */
void peer_table_count_bypass(struct peer_table *t, const struct peer_entry *e);

/* The /peers peer objects: name, id, address, the schema fields, then the agent's own. */
json_t *peer_entry_json(const struct peer_entry *e, __u64 now);
json_t *peer_table_json(const struct peer_table *t, __u64 now);

/*
 * The worst peers (peer_rank.c). peer_rank_update folds every entry's counter
 * increase since the last view into its decayed score and its state flags;
 * peer_rank_select picks at most k peers with a score of at least
 * PEER_RANK_MIN, with hysteresis: a member stays until its score falls below
 * PEER_RANK_MIN, or, after PEER_RANK_HOLD_S in the set, a peer scoring more
 * than PEER_RANK_SWAP times its score takes its place. Writes the entry
 * indices, worst first, to out[k]; returns how many.
 */
#define PEER_RANK_HALF_LIFE_S 300.0
#define PEER_RANK_MIN 0.5
#define PEER_RANK_SWAP 2.0
#define PEER_RANK_HOLD_S 60.0
#define PEER_RANK_FPD_WINDOW_S 300.0 /* "first-packet drops lately" */
void peer_rank_update(struct peer_table *t, __u64 now);
int peer_rank_select(struct peer_table *t, int k, __u64 now, int *out);

/*
 * Metrics of the peers. A snapshot is taken under the agent's lock (it reads
 * peer_hists and updates the ranking) and formatted without it. Always the
 * node-level aggregates over every peer (warmpath_node_*); then per mode:
 *   none   nothing per peer
 *   worst  the worst `worst_k` peers by name, few series each
 *   all    every per-peer family: the first `max_series` peers by order,
 *          the rest summed into peer="_other"
 */
struct peer_metrics_opts {
	enum wp_peer_metrics mode;
	int worst_k;
	int max_series;
	double idle_s; /* a peer idle this long counts as idle (--keepalive-interval) */
};
/*
 * Lifetime learning over every peer (lifetime_metrics.c): trials by result,
 * first packets lost during trials, learned values dropped, peers by interval
 * source, and the learned lower bounds as a histogram.
 */
struct lt_node {
	__u64 results[LT_NR_RESULTS];
	__u64 workload_hits, resets;
	__u64 sources[4]; /* WP_IVS_* */
	__u64 learned[WP_GAP_NR_BOUNDS + 1];
	__u64 nlearned;
	double learned_sum;
};
void lt_node_collect(const struct peer_table *t, struct lt_node *n);
void lt_node_emit(const struct lt_node *n, struct prom_buf *b);
/* A histogram on the cold-gap bounds (wp_gap_bounds_s); lkey NULL: no label. */
void wp_gap_hist_emit(struct prom_buf *b, const char *name, const char *lkey, const char *lval,
		      const __u64 counts[WP_GAP_NR_BOUNDS + 1], __u64 count, double sum);

struct peer_rows;
struct peer_rows *peer_rows_snapshot(struct peer_table *t, const struct peer_metrics_opts *o,
				     __u64 now);
void peer_rows_emit_metrics(const struct peer_rows *r, struct prom_buf *b);
void peer_rows_free(struct peer_rows *r);

#endif /* __WARMPATH_PEER_TABLE_H */
