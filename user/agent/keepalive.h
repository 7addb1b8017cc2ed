/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The keep-alive decision for one peer at one tick, kept pure so it can be
 * tested without sockets or BPF.
 *
 * idle mode: probe when the pair carried no packet either way for the
 * interval (any packet counts, so the peer's own probe exchange keeps us
 * quiet). When a keep-alive falls due but the pair was busy, that keep-alive
 * is suppressed (counted once per interval): in every mode, sent + suppressed
 * is about elapsed / interval. `slack_ns` (half a tick) lets a pair whose last
 * packet was our own previous probe count as idle at the tick the next one
 * falls due, instead of one tick later.
 * constant mode: probe every interval whatever the traffic (Wylis-like).
 * observe mode: never probe.
 *
 * In every mode a peer gets at most one probe per interval (next_due_ns),
 * even when the probes never show in the maps (a probe that leaves by an
 * unwatched device leaves the pair idle for ever).
 *
 * Tie-break (idle mode): both agents of an idle pair fall due at about the
 * same time after an exchange. `defer_ns` > 0 makes this side wait for
 * interval + defer_ns of idleness: the other side (defer_ns 0, the node
 * name that sorts lower) probes at the interval and its exchange keeps this
 * side quiet; when it stops (its agent died) this side takes over after the
 * margin. An idle pair costs about one exchange per interval, not two.
 */
#ifndef __WARMPATH_KEEPALIVE_H
#define __WARMPATH_KEEPALIVE_H

#include <stdbool.h>
#include <linux/types.h>
#include "config.h"

enum ka_action { KA_NONE = 0, KA_PROBE, KA_SUPPRESS };

struct ka_state {
	__u64 next_due_ns; /* when the next keep-alive falls due; 0: at once */
	bool inflight; /* a probe is waiting for its answer or timeout */
};

/* Decide, and advance st->next_due_ns when a keep-alive fell due. */
enum ka_action keepalive_decide(enum wp_mode mode, struct ka_state *st, __u64 now_ns,
				__u64 last_tx_ns, __u64 last_rx_ns, __u64 interval_ns,
				__u64 slack_ns, __u64 defer_ns);
/* The defer margin for a peer: 0 when our node name sorts first, else margin_ns. */
__u64 keepalive_defer_ns(const char *self, const char *peer, __u64 margin_ns);

#endif /* __WARMPATH_KEEPALIVE_H */
