/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent: the composition of the rooms it drives from one epoll loop. Each
 * part is owned by its own module and reached through its functions only:
 *   peers   peer_table.h  identity, keep-alive schedule, counters, map snapshot
 *   prober  prober.h      probe sockets, probes in flight, the responder
 *   events  events.h      ring buffer, event counters, log rate limit
 *   ticks   tick_stats.h  tick count and CPU time
 *   views   export.h      /metrics, /peers, /readyz from the parts above
 */
#ifndef __WARMPATH_AGENT_INT_H
#define __WARMPATH_AGENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <linux/types.h>
#include "config.h"
#include "drops.h"
#include "events.h"
#include "export.h"
#include "kube.h"
#include "loader.h"
#include "peer_table.h"
#include "peers.h"
#include "prober.h"
#include "tick_stats.h"

struct agent {
	struct wp_config *cfg;
	struct wp_loader ld;
	/* guards peers, prober, events, ticks and ready against the HTTP threads */
	pthread_mutex_t lock;
	struct wp_peer_set installed; /* the peer set behind `peers` */
	struct peer_table peers;
	struct prober prober;
	struct event_log events;
	struct tick_stats ticks;
	struct wp_export_sources views; /* the HTTP handlers' context */

	int epfd;
	__u64 tick_ns;
	__u64 next_tick_ns;
	__u64 last_reconcile_ns;
	int tick_next_peer; /* where a tick that ran out of probe budget stopped */
	bool ready;

	struct wp_http *http_metrics;
	struct wp_http *http_probe;
	/* discovery: --peer / --peers-file, and what --kubernetes found */
	struct wp_peer_set static_peers;
	struct wp_peer_set kube_peers;
	struct wp_kube *kube; /* NULL without --kubernetes */
	struct wp_drops *drops; /* kfree_skb tracer; NULL or down: no drop counting */
	/* lifetime learning (lifetime_run.c) */
	struct lt_opts lt;
	__u64 lt_wake_ns; /* the earliest trial deadline; 0: none */
	bool wg_held_any; /* some peer is held by a WireGuard persistent keepalive (per tick) */
};

/* lifetime_run.c: the lifetime options from the configuration. */
void lifetime_opts_init(struct lt_opts *o, const struct wp_config *cfg, __u64 tick_ns);
/*
 * The tick's lifetime step for peer i: trial messages and probes it asks for
 * (UDP probes queued: the caller flushes), the pinned fields, the wake-up.
 * Returns the peer's keep-alive interval; *holding: no keep-alive now.
 */
__u64 lifetime_step(struct agent *a, int i, __u64 now, bool *holding);
/* Between ticks: the peers whose trial deadline has come (a->lt_wake_ns). */
void lifetime_timers(struct agent *a, __u64 now);

#endif /* __WARMPATH_AGENT_INT_H */
